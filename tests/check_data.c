/* check_data.c - the DATA machine: end of data, unstuffing, smuggling, caps. */
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "testlib.h"

static char out[1 << 16];
static size_t out_len;

static void collect(void *arg, const unsigned char *p, size_t n)
{
	(void)arg;
	ck_assert_uint_le(out_len + n, sizeof(out));
	memcpy(out + out_len, p, n);
	out_len += n;
}

/* Feeds s in pieces of `step` bytes; returns bytes consumed in all. */
static size_t feed(struct data_parser *d, const char *s, size_t n, size_t step)
{
	size_t used = 0;

	out_len = 0;
	while (used < n && !d->ended) {
		size_t k = n - used < step ? n - used : step;

		used += data_feed(d, (const unsigned char *)s + used, k);
	}
	return used;
}

START_TEST(end_split_everywhere)
{
	const char *msg = "Subject: x\r\n\r\n..dot\r\nbody\r\n.\r\nQUIT\r\n";
	size_t n = strlen(msg);

	for (size_t step = 1; step <= n; step++) {
		struct data_parser d;
		size_t used;

		data_init(&d, 1000, 0, collect, NULL);
		used = feed(&d, msg, n, step);
		ck_assert(d.ended);
		ck_assert_uint_eq(used, n - strlen("QUIT\r\n"));
		ck_assert_uint_eq(out_len, strlen("Subject: x\r\n\r\n.dot\r\nbody\r\n"));
		ck_assert_int_eq(memcmp(out, "Subject: x\r\n\r\n.dot\r\nbody\r\n", out_len), 0);
		ck_assert_uint_eq(d.stuffed, 1);
		ck_assert_uint_eq(d.smuggle_count, 0);
	}
}
END_TEST

START_TEST(stuffed_first_line)
{
	struct data_parser d;

	data_init(&d, 1000, 0, collect, NULL);
	feed(&d, "..a\r\n.\r\n", 8, 8);
	ck_assert(d.ended);
	ck_assert_uint_eq(out_len, 4);
	ck_assert_int_eq(memcmp(out, ".a\r\n", 4), 0);
}
END_TEST

START_TEST(empty_message)
{
	struct data_parser d;

	data_init(&d, 1000, 0, collect, NULL);
	feed(&d, ".\r\n", 3, 3);
	ck_assert(d.ended);
	ck_assert_uint_eq(out_len, 0);
}
END_TEST

static const struct {
	const char *input, *form, *stored;
	uint64_t offset;
} smuggles[] = {
	{ "a\n.\nb\r\n.\r\n", "\n.\n", "a\n.\nb\r\n", 2 },
	{ "a\n.\r\nb\r\n.\r\n", "\n.\r\n", "a\n.\r\nb\r\n", 2 },
	{ "a\r.\rb\r\n.\r\n", "\r.\r", "a\r.\rb\r\n", 2 },
	{ "a\r\n.\rb\r\n.\r\n", "\r\n.\r", "a\r\n\rb\r\n", 3 },
	{ "a\r\n.\nb\r\n.\r\n", "\r\n.\n", "a\r\n\nb\r\n", 3 },
	{ "a\r.\r\nb\r\n.\r\n", "\r.\r\n", "a\r.\r\nb\r\n", 2 },
	{ "a\r.\nb\r\n.\r\n", "\r.\n", "a\r.\nb\r\n", 2 },
};

START_TEST(smuggling_forms)
{
	const char *in = smuggles[_i].input;
	size_t n = strlen(in);

	for (size_t step = 1; step <= n; step++) {
		struct data_parser d;

		data_init(&d, 1000, 0, collect, NULL);
		ck_assert_uint_eq(feed(&d, in, n, step), n);
		ck_assert(d.ended);
		ck_assert_uint_eq(d.smuggle_count, 1);
		ck_assert_str_eq(d.smuggle[0].form, smuggles[_i].form);
		ck_assert_uint_eq(d.smuggle[0].offset, smuggles[_i].offset);
		ck_assert_uint_eq(out_len, strlen(smuggles[_i].stored));
		ck_assert_int_eq(memcmp(out, smuggles[_i].stored, out_len), 0);
	}
}
END_TEST

START_TEST(only_crlf_dot_crlf_ends)
{
	const char *in = "x\n.\n\n.\r\n\r.\r\r\n.\n";
	struct data_parser d;

	data_init(&d, 1000, 0, collect, NULL);
	ck_assert_uint_eq(feed(&d, in, strlen(in), 3), strlen(in));
	ck_assert(!d.ended);
	data_eof(&d);
	ck_assert_uint_eq(d.smuggle_count, 4);
}
END_TEST

START_TEST(anomalies_counted)
{
	static char in[3000];
	struct data_parser d;
	json_object *a;

	memset(in, 'x', sizeof(in));
	memcpy(in, "a\0b\nc\rd\r\n", 9);
	memcpy(in + sizeof(in) - 5, "\r\n.\r\n", 5);
	data_init(&d, 100000, 0, collect, NULL);
	feed(&d, in, sizeof(in), 100);
	ck_assert(d.ended);
	ck_assert_uint_eq(d.nul.count, 1);
	ck_assert_uint_eq(d.nul.first, 1);
	ck_assert_uint_eq(d.bare_lf.count, 1);
	ck_assert_uint_eq(d.bare_lf.first, 3);
	ck_assert_uint_eq(d.bare_cr.count, 1);
	ck_assert_uint_eq(d.bare_cr.first, 5);
	ck_assert_uint_eq(d.long_line.count, 1);
	ck_assert_uint_eq(d.longest, sizeof(in) - 9 - 5);
	a = data_anomalies_json(&d);
	ck_assert_int_eq(test_int(a, "long_line.count"), 1);
	ck_assert_int_eq(test_int(a, "nul.first_offset"), 1);
	json_object_put(a);
}
END_TEST

START_TEST(size_cap_counts_rest)
{
	struct data_parser d;

	data_init(&d, 10, 0, collect, NULL);
	feed(&d, "0123456789abcdef\r\n.\r\n", 21, 4);
	ck_assert(d.ended);
	ck_assert_uint_eq(d.stored, 10);
	ck_assert_uint_eq(d.received, 18);
	ck_assert_uint_eq(out_len, 10);
}
END_TEST

START_TEST(eof_keeps_held_bytes)
{
	struct data_parser d;

	data_init(&d, 100, 0, collect, NULL);
	feed(&d, "half\r\n.\r", 8, 8);
	ck_assert(!d.ended);
	data_eof(&d);
	ck_assert_uint_eq(out_len, 8);
	ck_assert_int_eq(memcmp(out, "half\r\n.\r", 8), 0);
}
END_TEST

/* data_scan finds the first NUL, CR or LF wherever it is: in the 16-byte
 * steps, in the tail, at either end, or nowhere. */
START_TEST(scan_finds_first_special)
{
	static const unsigned char specials[] = { '\n', '\r', '\0' };
	unsigned char buf[80];

	for (size_t n = 0; n <= sizeof(buf); n++) {
		memset(buf, 'a', sizeof(buf));
		ck_assert_uint_eq(data_scan(buf, n), n);
		for (size_t at = 0; at < n; at++) {
			for (size_t k = 0; k < sizeof(specials); k++) {
				memset(buf, 'a', sizeof(buf));
				buf[at] = specials[k];
				if (at + 3 < n)
					buf[at + 3] = specials[(k + 1) % 3]; /* a later one must not win */
				buf[n < sizeof(buf) ? n : sizeof(buf) - 1] = n < sizeof(buf) ? '\n' : buf[sizeof(buf) - 1];
				ck_assert_uint_eq(data_scan(buf, n), at);
			}
		}
	}
	/* High bytes are text too. */
	memset(buf, 0xff, sizeof(buf));
	ck_assert_uint_eq(data_scan(buf, sizeof(buf)), sizeof(buf));
}
END_TEST

Suite *suite_data(void)
{
	Suite *s = suite_create("data");
	TCase *tc = tcase_create("data");

	tcase_add_test(tc, scan_finds_first_special);
	tcase_add_test(tc, end_split_everywhere);
	tcase_add_test(tc, stuffed_first_line);
	tcase_add_test(tc, empty_message);
	tcase_add_loop_test(tc, smuggling_forms, 0, sizeof(smuggles) / sizeof(smuggles[0]));
	tcase_add_test(tc, only_crlf_dot_crlf_ends);
	tcase_add_test(tc, anomalies_counted);
	tcase_add_test(tc, size_cap_counts_rest);
	tcase_add_test(tc, eof_keeps_held_bytes);
	suite_add_tcase(s, tc);
	return s;
}
