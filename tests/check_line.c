/* check_line.c - the line reader: splits, line ends, flags, caps. */
#include <string.h>

#include "line.h"
#include "testlib.h"

static struct line_reader lr;
static struct conn conn;

static void setup(const struct chunk *chunks, size_t n, size_t max)
{
	test_conn(&conn, chunks, n);
	ck_assert_int_eq(line_reader_init(&lr, &conn, max), 0);
}

START_TEST(crlf_split_everywhere)
{
	const char *text = "HELO client.example.com\r\nQUIT\r\n";
	size_t len = strlen(text);

	/* Split the two lines at every byte boundary. */
	for (size_t cut = 1; cut < len; cut++) {
		struct chunk ch[2] = { { text, cut, 0 }, { text + cut, len - cut, 0 } };

		setup(ch, 2, 512);
		ck_assert_int_eq(line_read(&lr), 1);
		ck_assert_str_eq((char *)lr.line, "HELO client.example.com");
		ck_assert_uint_eq(lr.flags, 0);
		ck_assert_int_eq(line_read(&lr), 1);
		ck_assert_str_eq((char *)lr.line, "QUIT");
		ck_assert_uint_eq(lr.flags, 0);
		ck_assert_int_eq(line_read(&lr), 0);
		line_reader_free(&lr);
	}
}
END_TEST

START_TEST(bare_lf_and_cr)
{
	struct chunk ch[] = { { "NOOP\nA\rB\r\nC\r", 0, 0 }, { "D\r\n", 0, 0 } };

	setup(ch, 2, 512);
	ck_assert_int_eq(line_read(&lr), 1);
	ck_assert_str_eq((char *)lr.line, "NOOP");
	ck_assert_uint_eq(lr.flags, LINE_BARE_LF);
	ck_assert_int_eq(line_read(&lr), 1);
	ck_assert_str_eq((char *)lr.line, "A\rB");
	ck_assert_uint_eq(lr.flags, LINE_BARE_CR);
	/* A CR at the end of one read followed by text in the next is bare. */
	ck_assert_int_eq(line_read(&lr), 1);
	ck_assert_str_eq((char *)lr.line, "C\rD");
	ck_assert_uint_eq(lr.flags, LINE_BARE_CR);
	line_reader_free(&lr);
}
END_TEST

START_TEST(nul_kept)
{
	struct chunk ch[] = { { "HELO a\0b\r\n", 10, 0 } };

	setup(ch, 1, 512);
	ck_assert_int_eq(line_read(&lr), 1);
	ck_assert_uint_eq(lr.len, 8);
	ck_assert_int_eq(memcmp(lr.line, "HELO a\0b", 8), 0);
	ck_assert_uint_eq(lr.flags, LINE_NUL);
	line_reader_free(&lr);
}
END_TEST

START_TEST(too_long_skips_to_lf)
{
	static char big[100010];
	struct chunk ch[] = { { big, 0, 0 }, { "QUIT\r\n", 0, 0 } };

	memcpy(big, "EHLO ", 5);
	memset(big + 5, 'a', 100000);
	memcpy(big + 100005, "\r\n", 3);
	setup(ch, 2, 512);
	ck_assert_int_eq(line_read(&lr), 1);
	ck_assert_uint_eq(lr.len, 512);
	ck_assert_uint_eq(lr.total, 100005);
	ck_assert_uint_eq(lr.flags, LINE_TOO_LONG);
	ck_assert_int_eq(line_read(&lr), 1);
	ck_assert_str_eq((char *)lr.line, "QUIT");
	line_reader_free(&lr);
}
END_TEST

START_TEST(partial_at_eof)
{
	struct chunk ch[] = { { "QUI", 0, 0 } };

	setup(ch, 1, 512);
	ck_assert_int_eq(line_read(&lr), 0);
	ck_assert_uint_eq(lr.total, 3);
	ck_assert_str_eq((char *)lr.line, "QUI");
	line_reader_free(&lr);
}
END_TEST

START_TEST(idle_timeout)
{
	struct chunk ch[] = { { "NO", 0, 0 }, { "OP\r\n", 0, 6000 } };

	setup(ch, 2, 512);
	conn.idle_ms = 5000;
	ck_assert_int_eq(line_read(&lr), -1);
	ck_assert_int_eq(conn.status, CONN_IDLE_TIMEOUT);
	line_reader_free(&lr);
}
END_TEST

Suite *suite_line(void)
{
	Suite *s = suite_create("line");
	TCase *tc = tcase_create("line");

	tcase_add_test(tc, crlf_split_everywhere);
	tcase_add_test(tc, bare_lf_and_cr);
	tcase_add_test(tc, nul_kept);
	tcase_add_test(tc, too_long_skips_to_lf);
	tcase_add_test(tc, partial_at_eof);
	tcase_add_test(tc, idle_timeout);
	suite_add_tcase(s, tc);
	return s;
}
