/*
 * check_cases.c - the hostile and odd clients every release must survive,
 * each driven through a whole in-process session with its exact splits,
 * asserting the replies in order and the events.
 */
#include <string.h>

#include "testlib.h"

#define CH(s) { s, sizeof(s) - 1, 0 }
#define SPLIT(s) { s, sizeof(s) - 1, 200 }


static void run(const struct chunk *ch, size_t n, const char *codes)
{
	test_session(&test_cfg, ch, n, &test_r);
	test_expect(&test_r, codes);
}

START_TEST(c1_smuggled_end_of_data)
{
	static const struct chunk ch[] = {
		CH("EHLO client.example.com\r\n"),
		CH("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"),
		CH("Subject: one\r\n\r\nfirst\n.\r\nMAIL FROM:<boss@example.org>\r\nRCPT TO:<b@example.com>\r\n"
		   "DATA\r\nSubject: two\r\n\r\nsecond\r\n.\r\n"),
		CH("QUIT\r\n"),
	};
	json_object *m;

	run(ch, 4, "220 250 250 250 354 250 221");
	ck_assert_uint_eq(test_count(&test_r, "message"), 1);
	ck_assert_uint_eq(test_count(&test_r, "mail_from"), 1);
	ck_assert_str_eq(test_str(test_event(&test_r, "mail_from", 0), "data.from"), "a@example.com");
	m = test_event(&test_r, "message", 0);
	ck_assert_int_eq(test_int(m, "data.anomalies.smuggling.count"), 1);
	ck_assert_str_eq(test_str(m, "data.anomalies.smuggling.dot_lines.0.form"), "\n.\r\n");
	ck_assert_int_eq(test_int(m, "data.anomalies.smuggling.dot_lines.0.offset"), 22);
	ck_assert(json_object_get_boolean(test_get(m, "data.complete")));
	ck_assert_str_eq(test_str(m, "data.end"), "crlf_dot_crlf");
}
END_TEST

START_TEST(c2_bare_lf_session)
{
	static const struct chunk ch[] = {
		CH("HELO client.example.com\n"), CH("MAIL FROM:<a@example.com>\n"),
		CH("RCPT TO:<b@example.com>\n"), CH("DATA\n"),
		CH("Subject: lf\n\nbody\n.\nQUIT\n"),
	};
	json_object *m;

	run(ch, 5, "220 250 250 250 354");
	ck_assert_str_eq(test_str(test_event(&test_r, "helo", 0), "data.flags.0"), "bare_lf");
	ck_assert_str_eq(test_str(test_event(&test_r, "data", 0), "data.flags.0"), "bare_lf");
	m = test_event(&test_r, "message", 0);
	ck_assert(!json_object_get_boolean(test_get(m, "data.complete")));
	ck_assert_int_eq(test_int(m, "data.size"), strlen("Subject: lf\n\nbody\n.\nQUIT\n"));
	ck_assert_str_eq(test_str(m, "data.end"), "eof");
	ck_assert_str_eq(test_str(test_event(&test_r, "disconnect", 0), "data.reason"), "eof_in_data");
	ck_assert_int_eq(test_int(m, "data.anomalies.bare_lf.count"), 5);
}
END_TEST

START_TEST(c3_pipelining)
{
	static const struct chunk ch[] = {
		CH("EHLO client.example.com\r\n"),
		CH("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\nDATA\r\n"
		   "Subject: t\r\n\r\nhello\r\n.\r\nQUIT\r\n"),
	};
	json_object *m;

	run(ch, 2, "220 250 250 250 250 354 250 221");
	m = test_event(&test_r, "message", 0);
	ck_assert_uint_eq(json_object_array_length(test_get(m, "data.to")), 2);
	ck_assert_str_eq(test_str(m, "data.to.1"), "c@example.com");
	ck_assert_str_eq(test_str(m, "data.headers.subject"), "t");
	/* All replies to the burst went out together, after the banner and EHLO reply. */
	ck_assert_ptr_nonnull(strstr(test_r.replies, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 "));
}
END_TEST

START_TEST(c4_splits)
{
	static const struct chunk ch[] = {
		SPLIT("HELO client.exa"), SPLIT("mple.com\r"), SPLIT("\nMAIL FROM:<caf\xc3"),
		SPLIT("\xa9@example.com>\r\nQUIT\r\n"),
	};
	json_object *h;

	run(ch, 4, "220 250 250 221");
	h = test_event(&test_r, "helo", 0);
	ck_assert_str_eq(test_str(h, "data.name"), "client.example.com");
	ck_assert_ptr_null(test_get(h, "data.flags"));
	ck_assert_str_eq(test_str(test_event(&test_r, "mail_from", 0), "data.from"), "caf\xc3\xa9@example.com");
}
END_TEST

START_TEST(c5_not_utf8)
{
	static const struct chunk ch[] = {
		CH("X\x80X\r\n"), CH("EHLO client.example.com\xff\r\n"), CH("QUIT\r\n"),
	};
	json_object *u, *e;

	run(ch, 3, "220 500 250 221");
	u = test_event(&test_r, "unknown_command", 0);
	ck_assert_str_eq(test_str(u, "data.line"), "X\xef\xbf\xbdX");
	ck_assert_str_eq(test_str(u, "data.line_b64"), "WIBY");
	e = test_event(&test_r, "ehlo", 0);
	ck_assert_str_eq(test_str(e, "data.name_b64"), "Y2xpZW50LmV4YW1wbGUuY29t/w==");
}
END_TEST

START_TEST(c6_nul)
{
	static const struct chunk ch[] = {
		{ "HELO client.exa\0mple.com\r\n", 26, 0 },
		CH("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"),
		{ "Subject: nul\r\n\r\nbefore\0after\r\n.\r\n", 33, 0 },
		CH("QUIT\r\n"),
	};
	json_object *h, *m;
	const char *name;

	run(ch, 4, "220 250 250 250 354 250 221");
	h = test_event(&test_r, "helo", 0);
	name = json_object_get_string(test_get(h, "data.name"));
	ck_assert_int_eq(json_object_get_string_len(test_get(h, "data.name")), 19);
	ck_assert_int_eq(memcmp(name, "client.exa\0mple.com", 19), 0);
	ck_assert_str_eq(test_str(h, "data.flags.0"), "nul");
	m = test_event(&test_r, "message", 0);
	ck_assert_int_eq(test_int(m, "data.size"), 30);
	ck_assert_int_eq(test_int(m, "data.anomalies.nul.count"), 1);
	ck_assert_int_eq(test_int(m, "data.anomalies.nul.first_offset"), 22);
}
END_TEST

START_TEST(c7_huge_ehlo)
{
	static char big[100008];
	struct chunk ch[] = { { big, 0, 0 }, CH("QUIT\r\n") };
	json_object *l;

	memcpy(big, "EHLO ", 5);
	memset(big + 5, 'a', 100000);
	memcpy(big + 100005, "\r\n", 3);
	run(ch, 2, "220 500 221");
	l = test_event(&test_r, "limit", 0);
	ck_assert_str_eq(test_str(l, "data.limit"), "line_length");
	ck_assert_int_eq(test_int(l, "data.line_length"), 100005);
	ck_assert(json_object_get_boolean(test_get(l, "data.line_truncated")));
	ck_assert_uint_eq(strlen(test_str(l, "data.line")), test_cfg.max_line_length);
	ck_assert_uint_eq(test_count(&test_r, "ehlo"), 0);
}
END_TEST

START_TEST(c8_trickle)
{
	struct chunk ch[16] = { CH("HELO client.example.com\r\n") };
	json_object *t;

	for (int i = 1; i < 16; i++)
		ch[i] = (struct chunk){ "x", 1, 3000 };
	test_cfg.idle_timeout = 5;
	test_cfg.session_timeout = 15;
	run(ch, 16, "220 250 421");
	t = test_event(&test_r, "timeout", 0);
	ck_assert_str_eq(test_str(t, "data.timeout"), "session");
	/* Bytes arrive at 3 s, 6 s, ... up to the 15 s session limit. */
	ck_assert_uint_ge(strlen(test_str(t, "data.partial_line")), 4);
	ck_assert_uint_le(strlen(test_str(t, "data.partial_line")), 5);
	ck_assert_int_eq(test_now_ms - 1000000, 15000);
	ck_assert_str_eq(test_str(test_event(&test_r, "disconnect", 0), "data.reason"), "timeout");
	ck_assert_int_le(test_int(test_event(&test_r, "disconnect", 0), "data.duration_ms"), 15000);
}
END_TEST

START_TEST(c9_eof_in_data)
{
	static const struct chunk ch[] = {
		CH("EHLO client.example.com\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"),
		CH("Subject: partial\r\n\r\nhalf a messa"),
	};
	json_object *m;

	run(ch, 2, "220 250 250 250 354");
	m = test_event(&test_r, "message", 0);
	ck_assert(!json_object_get_boolean(test_get(m, "data.complete")));
	ck_assert_int_eq(test_int(m, "data.size"), strlen("Subject: partial\r\n\r\nhalf a messa"));
	ck_assert_str_eq(test_str(m, "data.headers.subject"), "partial");
	ck_assert_str_eq(test_str(test_event(&test_r, "disconnect", 0), "data.reason"), "eof_in_data");
}
END_TEST

START_TEST(c10_helo_without_name)
{
	static const struct chunk ch[] = {
		CH("HELO\r\n"), CH("EHLO \r\n"), CH("HELO client.example.com\r\n"), CH("QUIT\r\n"),
	};

	run(ch, 4, "220 501 501 250 221");
	ck_assert_int_eq(test_int(test_event(&test_r, "helo", 0), "data.code"), 501);
	ck_assert_str_eq(test_str(test_event(&test_r, "helo", 0), "data.reply"), "501 5.5.4 Syntax: HELO hostname");
	ck_assert_int_eq(test_int(test_event(&test_r, "ehlo", 0), "data.code"), 501);
	ck_assert_str_eq(test_str(test_event(&test_r, "ehlo", 0), "data.line"), "EHLO ");
}
END_TEST

START_TEST(c11_null_sender)
{
	static const struct chunk ch[] = {
		CH("EHLO client.example.com\r\n"), CH("MAIL FROM:<>\r\n"), CH("RCPT TO:<postmaster@example.com>\r\n"),
		CH("DATA\r\n"), CH("Subject: bounce\r\n\r\nbounce\r\n.\r\n"), CH("QUIT\r\n"),
	};

	run(ch, 6, "220 250 250 250 354 250 221");
	ck_assert_str_eq(test_str(test_event(&test_r, "mail_from", 0), "data.from"), "");
	ck_assert_str_eq(test_str(test_event(&test_r, "message", 0), "data.from"), "");
}
END_TEST

START_TEST(c12_mail_parameters)
{
	static const struct chunk ch[] = {
		CH("EHLO client.example.com\r\n"),
		CH("MAIL FROM:<a@example.com> SIZE=1024 BODY=8bitmime\r\n"),
		CH("RSET\r\n"),
		CH("MAIL FROM:<a@example.com> SIZE=99999999999999999999\r\n"),
		CH("MAIL FROM:<a@example.com> SIZE=abc\r\n"),
		CH("MAIL FROM:<a@example.com> X-UNKNOWN=1\r\n"),
		CH("QUIT\r\n"),
	};
	json_object *m;

	run(ch, 7, "220 250 250 250 552 501 555 221");
	m = test_event(&test_r, "mail_from", 0);
	ck_assert_str_eq(test_str(m, "data.params.0.name"), "SIZE");
	ck_assert_str_eq(test_str(m, "data.params.0.value"), "1024");
	ck_assert_str_eq(test_str(m, "data.params.1.name"), "BODY");
	ck_assert_str_eq(test_str(m, "data.params.1.value"), "8bitmime");
	m = test_event(&test_r, "mail_from", 4);
	ck_assert_str_eq(test_str(m, "data.params.0.value"), "99999999999999999999");
	ck_assert_int_eq(test_int(m, "data.code"), 552);
	m = test_event(&test_r, "mail_from", 5);
	ck_assert_int_eq(test_int(m, "data.code"), 501);
	m = test_event(&test_r, "mail_from", 6);
	ck_assert_str_eq(test_str(m, "data.params.0.name"), "X-UNKNOWN");
	ck_assert_int_eq(test_int(m, "data.code"), 555);
}
END_TEST

Suite *suite_cases(void)
{
	Suite *s = suite_create("cases");
	TCase *tc = tcase_create("cases");

	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_add_test(tc, c1_smuggled_end_of_data);
	tcase_add_test(tc, c2_bare_lf_session);
	tcase_add_test(tc, c3_pipelining);
	tcase_add_test(tc, c4_splits);
	tcase_add_test(tc, c5_not_utf8);
	tcase_add_test(tc, c6_nul);
	tcase_add_test(tc, c7_huge_ehlo);
	tcase_add_test(tc, c8_trickle);
	tcase_add_test(tc, c9_eof_in_data);
	tcase_add_test(tc, c10_helo_without_name);
	tcase_add_test(tc, c11_null_sender);
	tcase_add_test(tc, c12_mail_parameters);
	suite_add_tcase(s, tc);
	return s;
}
