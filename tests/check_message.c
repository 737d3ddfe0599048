/* check_message.c - header block, unfolding, RFC 2047 decoding, bounds. */
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "testlib.h"

static json_object *headers_of(const char *msg, size_t step)
{
	struct message_headers *m = malloc(sizeof(*m));
	json_object *o;
	size_t n = strlen(msg);

	message_headers_init(m);
	for (size_t i = 0; i < n; i += step)
		message_headers_feed(m, (const unsigned char *)msg + i, n - i < step ? n - i : step);
	o = message_headers_json(m);
	free(m);
	return o;
}

START_TEST(unfold_and_decode)
{
	const char *msg = "Received: from a\r\n\tby b; Mon, 1 Jan 2024\r\n"
			  "Received: from c\r\n"
			  "Subject: =?UTF-8?B?Q2Fmw6k=?= =?utf-8?q?_au_lait?= now\r\n"
			  "From: =?iso-8859-1?q?Ren=E9?= <r@example.com>\r\n"
			  "To: x@example.com,\r\n y@example.com\r\n"
			  "Message-ID: <1@example.com>\r\n"
			  "X-Mailer: PHPMailer 5.2\r\n"
			  "\r\n"
			  "Subject: not a header\r\n";

	for (size_t step = 1; step < 40; step += 7) {
		json_object *h = headers_of(msg, step);

		ck_assert_str_eq(test_str(h, "subject"), "Café au lait now");
		ck_assert_str_eq(test_str(h, "subject_raw"), "=?UTF-8?B?Q2Fmw6k=?= =?utf-8?q?_au_lait?= now");
		ck_assert_str_eq(test_str(h, "from"), "René <r@example.com>");
		ck_assert_str_eq(test_str(h, "to"), "x@example.com, y@example.com");
		ck_assert_ptr_null(test_get(h, "to_raw"));
		ck_assert_str_eq(test_str(h, "message_id"), "<1@example.com>");
		ck_assert_str_eq(test_str(h, "x_mailer"), "PHPMailer 5.2");
		ck_assert_str_eq(test_str(h, "received.0"), "from a\tby b; Mon, 1 Jan 2024");
		ck_assert_str_eq(test_str(h, "received.1"), "from c");
		ck_assert_int_eq(test_int(h, "count"), 7);
		json_object_put(h);
	}
}
END_TEST

START_TEST(bare_lf_headers_and_bad_words)
{
	json_object *h = headers_of("Subject: =?utf-8?B?!!!?= and =?x?Q?a=?=\nFrom: a\n\nbody", 5);

	ck_assert_str_eq(test_str(h, "subject"), "=?utf-8?B?!!!?= and =?x?Q?a=?=");
	ck_assert_str_eq(test_str(h, "from"), "a");
	json_object_put(h);
}
END_TEST

START_TEST(unknown_charset_kept_as_bytes)
{
	/* KOI8-R bytes: not UTF-8, so shown replaced and kept in _b64. */
	json_object *h = headers_of("Subject: =?koi8-r?B?8NLJ18XU?=\r\n\r\n", 64);

	ck_assert_ptr_nonnull(test_str(h, "subject_b64"));
	ck_assert_str_eq(test_str(h, "subject_b64"), "8NLJ18XU");
	json_object_put(h);
}
END_TEST

START_TEST(block_is_bounded)
{
	size_t n = HEADER_BLOCK_MAX * 2;
	char *msg = malloc(n + 1);
	json_object *h;

	memcpy(msg, "X-Big: ", 7);
	memset(msg + 7, 'a', n - 7);
	msg[n] = '\0';
	h = headers_of(msg, 4096);
	ck_assert(json_object_get_boolean(test_get(h, "truncated")));
	json_object_put(h);
	free(msg);
}
END_TEST

START_TEST(many_received_bounded)
{
	char msg[8192] = "";
	json_object *h;

	for (int i = 0; i < 40; i++)
		strcat(msg, "Received: from x\r\n");
	strcat(msg, "\r\n");
	h = headers_of(msg, 100);
	ck_assert_uint_eq(json_object_array_length(test_get(h, "received")), RECEIVED_MAX);
	ck_assert_int_eq(test_int(h, "received_count"), 40);
	json_object_put(h);
}
END_TEST

Suite *suite_message(void)
{
	Suite *s = suite_create("message");
	TCase *tc = tcase_create("message");

	tcase_add_test(tc, unfold_and_decode);
	tcase_add_test(tc, bare_lf_headers_and_bad_words);
	tcase_add_test(tc, unknown_charset_kept_as_bytes);
	tcase_add_test(tc, block_is_bounded);
	tcase_add_test(tc, many_received_bounded);
	suite_add_tcase(s, tc);
	return s;
}
