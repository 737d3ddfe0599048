/* check_mime.c - attachments: nesting, encodings, splits, long lines, bounds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "sha256.h"
#include "testlib.h"

static json_object *scan(const char *msg, size_t step)
{
	struct mime_scan *m = malloc(sizeof(*m));
	size_t n = strlen(msg);
	json_object *r;

	mime_init(m);
	for (size_t i = 0; i < n; i += step)
		mime_feed(m, (const unsigned char *)msg + i, n - i < step ? n - i : step);
	r = mime_finish(m);
	mime_free(m);
	free(m);
	return r;
}

static const char *sha_of(const char *s, size_t n)
{
	static char hex[65];
	struct sha256 h;
	unsigned char d[32];

	sha256_init(&h);
	sha256_update(&h, s, n);
	sha256_final(&h, d);
	sha256_hex(d, hex);
	return hex;
}

static const char nested[] =
	"Subject: x\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
	"preamble\r\n--outer\r\nContent-Type: multipart/alternative;\r\n boundary=inner\r\n\r\n"
	"--inner\r\nContent-Type: text/plain\r\n\r\nhello\r\n--inner\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n"
	"--inner--\r\n--outer\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\n"
	"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment;\r\n filename=\"in voice.pdf\"\r\n\r\n"
	"JVBERi0x\r\nLjQK\r\n--outer\r\nContent-Type: text/plain; charset=utf-8\r\n"
	"Content-Disposition: attachment; filename*=utf-8''notes.txt\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =\r\nau lait\r\nline two\r\n--outer--\r\nepilogue\r\n";

START_TEST(nested_parts_any_split)
{
	for (size_t step = 1; step < 64; step += 9) {
		json_object *a = scan(nested, step);

		ck_assert_uint_eq(json_object_array_length(a), 2);
		ck_assert_str_eq(test_str(a, "0.filename"), "in voice.pdf");
		ck_assert_str_eq(test_str(a, "0.content_type"), "application/pdf");
		ck_assert_int_eq(test_int(a, "0.size"), 9);
		ck_assert_str_eq(test_str(a, "0.sha256"), sha_of("%PDF-1.4\n", 9));
		ck_assert_str_eq(test_str(a, "1.filename"), "notes.txt");
		ck_assert_str_eq(test_str(a, "1.encoding"), "quoted-printable");
		ck_assert_str_eq(test_str(a, "1.sha256"), sha_of("caf\xc3\xa9 au lait\r\nline two", 23));
		json_object_put(a);
	}
}
END_TEST

START_TEST(one_line_base64_body)
{
	size_t raw = 30000, enc = (raw + 2) / 3 * 4;
	char *data = malloc(raw), *msg = malloc(enc + 512);
	size_t o;
	json_object *a;

	for (size_t i = 0; i < raw; i++)
		data[i] = (char)(i * 31 + 7);
	o = (size_t)snprintf(msg, 512, "Content-Type: application/octet-stream\r\n"
				       "Content-Transfer-Encoding: base64\r\n\r\n");
	{
		static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

		for (size_t i = 0; i < raw; i += 3) {
			unsigned v = (unsigned char)data[i] << 16 | (unsigned char)data[i + 1] << 8 |
				     (unsigned char)data[i + 2];

			msg[o++] = al[v >> 18];
			msg[o++] = al[(v >> 12) & 63];
			msg[o++] = al[(v >> 6) & 63];
			msg[o++] = al[v & 63];
		}
	}
	memcpy(msg + o, "\r\n", 3);
	a = scan(msg, 4096);
	ck_assert_int_eq(test_int(a, "0.size"), (long long)raw);
	ck_assert_str_eq(test_str(a, "0.sha256"), sha_of(data, raw));
	json_object_put(a);
	free(data);
	free(msg);
}
END_TEST

START_TEST(plain_message_has_none)
{
	json_object *a = scan("Subject: hi\r\n\r\n--not-a-boundary\r\nbody\r\n", 5);

	ck_assert_uint_eq(json_object_array_length(a), 0);
	json_object_put(a);
}
END_TEST

START_TEST(many_parts_bounded)
{
	size_t cap = 200 * 100 + 200, o;
	char *msg = malloc(cap);
	json_object *a;

	o = (size_t)snprintf(msg, cap, "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (int i = 0; i < 100; i++)
		o += (size_t)snprintf(msg + o, cap - o, "--b\r\nContent-Type: image/gif; name=x%d.gif\r\n\r\nGIF\r\n", i);
	snprintf(msg + o, cap - o, "--b--\r\n");
	a = scan(msg, 333);
	ck_assert_uint_eq(json_object_array_length(a), MIME_ATTACHMENTS_MAX);
	json_object_put(a);
	free(msg);
}
END_TEST

Suite *suite_mime(void)
{
	Suite *s = suite_create("mime");
	TCase *tc = tcase_create("mime");

	tcase_add_test(tc, nested_parts_any_split);
	tcase_add_test(tc, one_line_base64_body);
	tcase_add_test(tc, plain_message_has_none);
	tcase_add_test(tc, many_parts_bounded);
	suite_add_tcase(s, tc);
	return s;
}
