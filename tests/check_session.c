/*
 * check_session.c - whole sessions in-process: exact reply bytes, exact
 * event lines, order errors, every limit, the spool.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha256.h"
#include "testlib.h"

#define CH(s) { s, sizeof(s) - 1, 0 }


START_TEST(exact_replies)
{
	static const struct chunk ch[] = {
		CH("EHLO client.example.com\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
		   "DATA\r\nSubject: hi\r\n\r\nhello\r\n.\r\nNOOP\r\nVRFY root\r\nEXPN staff\r\nHELP\r\nRSET\r\nQUIT\r\n"),
	};
	const char *q;
	char want[2048];

	test_session(&test_cfg, ch, 1, &test_r);
	q = strstr(test_r.replies, "queued as ");
	ck_assert_ptr_nonnull(q);
	snprintf(want, sizeof(want),
		 "220 mx.example.com ESMTP Postfix (Debian/GNU)\r\n"
		 "250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
		 "250-AUTH PLAIN LOGIN CRAM-MD5\r\n"
		 "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
		 "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
		 "250 2.0.0 Ok: queued as %.10s\r\n"
		 "250 2.0.0 Ok\r\n"
		 "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
		 "502 5.5.1 EXPN command is disabled\r\n"
		 "214 2.0.0 Commands: HELO EHLO AUTH MAIL RCPT DATA RSET NOOP VRFY QUIT\r\n"
		 "250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n",
		 q + 10);
	ck_assert_str_eq(test_r.replies, want);
	test_invariants(&test_r);
}
END_TEST

START_TEST(exact_event_line)
{
	static const struct chunk ch[] = { CH("MAIL FROM:<sender@example.com>\r\nHELO x\r\n"
					      "MAIL FROM:<sender@example.com>\r\n") };

	test_session(&test_cfg, ch, 1, &test_r);
	ck_assert_str_eq(test_r.lines[1],
			 "{\"timestamp\":\"2026-01-05T10:32:10Z\",\"source_ip\":\"192.0.2.50\","
			 "\"honeypot_type\":\"smtp\",\"event\":\"mail_from\",\"data\":{\"line\":"
			 "\"MAIL FROM:<sender@example.com>\",\"flags\":[\"bad_sequence\"],\"reply\":"
			 "\"503 5.5.1 Error: send HELO/EHLO first\",\"code\":503},\"level\":\"WARN\","
			 "\"session\":\"5f0c0000000000000000000000000001\",\"seq\":2,\"source_port\":50312,"
			 "\"dest_ip\":\"192.0.2.1\",\"dest_port\":25,\"sensor\":\"test\"}");
	ck_assert_str_eq(test_str(test_r.events[3], "data.from"), "sender@example.com");
	ck_assert_str_eq(test_str(test_r.events[3], "level"), "WARN");
	ck_assert_str_eq(test_str(test_r.events[2], "level"), "INFO");
}
END_TEST

START_TEST(order_errors)
{
	static const struct chunk ch[] = { CH("HELO x\r\nRCPT TO:<a@b>\r\nDATA\r\nMAIL FROM:<a@b>\r\n"
					      "MAIL FROM:<a@b>\r\nDATA\r\nFOO bar\r\nmail from:<c@d>\r\nQUIT\r\n") };

	test_session(&test_cfg, ch, 1, &test_r);
	test_expect(&test_r, "220 250 503 503 250 503 503 500 503 221");
	ck_assert_ptr_nonnull(strstr(test_r.replies, "503 5.5.1 Error: need MAIL command\r\n"));
	ck_assert_ptr_nonnull(strstr(test_r.replies, "503 5.5.1 Error: nested MAIL command\r\n"));
	ck_assert_ptr_nonnull(strstr(test_r.replies, "503 5.5.1 Error: need RCPT command\r\n"));
	ck_assert_ptr_nonnull(strstr(test_r.replies, "500 5.5.2 Error: command not recognized\r\n"));
	ck_assert_str_eq(test_str(test_event(&test_r, "unknown_command", 0), "data.verb"), "FOO");
	ck_assert_int_eq(test_int(test_event(&test_r, "disconnect", 0), "data.counters.errors"), 6);
}
END_TEST

START_TEST(syntax_errors)
{
	static const struct chunk ch[] = { CH("EHLO x\r\nMAIL TO:<a@b>\r\nMAIL FROM:<a b@c>\r\n"
					      "MAIL FROM:a@b\r\nRCPT FROM:<a@b>\r\nRCPT TO:<>\r\n"
					      "RCPT TO:<c@d> NOTIFY=NEVER\r\nRCPT TO: <c@d>\r\nDATA x\r\n"
					      "RSET x\r\nVRFY\r\nQUIT\r\n") };
	json_object *m;

	test_session(&test_cfg, ch, 1, &test_r);
	test_expect(&test_r, "220 250 501 501 250 501 501 555 250 501 501 501 221");
	m = test_event(&test_r, "mail_from", 4);
	ck_assert_str_eq(test_str(m, "data.flags.0"), "no_angle_brackets");
	m = test_event(&test_r, "rcpt_to", 8);
	ck_assert_str_eq(test_str(m, "data.flags.0"), "space_before_path");
}
END_TEST

START_TEST(recipient_limit)
{
	static const struct chunk ch[] = { CH("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<1@b>\r\nRCPT TO:<2@b>\r\n"
					      "RCPT TO:<3@b>\r\nQUIT\r\n") };

	test_cfg.max_recipients = 2;
	test_session(&test_cfg, ch, 1, &test_r);
	test_expect(&test_r, "220 250 250 250 250 452 221");
	ck_assert_str_eq(test_str(test_event(&test_r, "limit", 0), "data.limit"), "recipients");
}
END_TEST

START_TEST(error_limit)
{
	static const struct chunk ch[] = { CH("A\r\nB\r\nC\r\nD\r\nQUIT\r\n") };

	test_cfg.max_errors = 3;
	test_session(&test_cfg, ch, 1, &test_r);
	test_expect(&test_r, "220 500 500 500 421");
	ck_assert_str_eq(test_str(test_event(&test_r, "limit", 0), "data.limit"), "errors");
	ck_assert_str_eq(test_str(test_event(&test_r, "disconnect", 0), "data.reason"), "max_errors");
}
END_TEST

START_TEST(command_limit)
{
	static const struct chunk ch[] = { CH("NOOP\r\nNOOP\r\nNOOP\r\nQUIT\r\n") };

	test_cfg.max_commands = 2;
	test_session(&test_cfg, ch, 1, &test_r);
	test_expect(&test_r, "220 250 250 421");
	ck_assert_str_eq(test_str(test_event(&test_r, "limit", 0), "data.limit"), "commands");
	ck_assert_str_eq(test_str(test_event(&test_r, "disconnect", 0), "data.reason"), "max_commands");
}
END_TEST

START_TEST(idle_timeout_in_data)
{
	static const struct chunk ch[] = { CH("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nabc"),
					   { "def\r\n.\r\n", 0, 10000 } };
	json_object *t;

	test_cfg.idle_timeout = 5;
	test_session(&test_cfg, ch, 2, &test_r);
	test_expect(&test_r, "220 250 250 250 354 421");
	t = test_event(&test_r, "timeout", 0);
	ck_assert_str_eq(test_str(t, "data.timeout"), "idle");
	ck_assert_str_eq(test_str(t, "data.phase"), "data");
	ck_assert_str_eq(test_str(test_event(&test_r, "message", 0), "data.end"), "timeout");
}
END_TEST

START_TEST(spool_and_size_cap)
{
	static const struct chunk ch[] = { CH("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
					      "0123456789\r\n..abc\r\n.\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
					      "0123456789\r\n..abc\r\n.\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
					      "0123456789\r\n0123456789\r\n.\r\nQUIT\r\n") };
	char dir[] = "/tmp/smtpot-test-XXXXXX", path[256], buf[64], hex[65];
	unsigned char d[32];
	struct sha256 s;
	json_object *m, *m3;
	FILE *f;
	size_t n;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	free(test_cfg.spool_dir);
	test_cfg.spool_dir = strdup(dir);
	test_cfg.max_message_size = 20;
	test_session(&test_cfg, ch, 1, &test_r);
	test_expect(&test_r, "220 250 250 250 354 250 250 250 354 250 250 250 354 552 221");
	m = test_event(&test_r, "message", 0);
	ck_assert_int_eq(test_int(m, "data.size"), 18);
	ck_assert(!json_object_get_boolean(test_get(m, "data.duplicate")));
	ck_assert(json_object_get_boolean(test_get(test_event(&test_r, "message", 6), "data.duplicate")));
	snprintf(path, sizeof(path), "%s/%s", dir, test_str(m, "data.spool_file"));
	f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	ck_assert_uint_eq(n, 18);
	ck_assert_int_eq(memcmp(buf, "0123456789\r\n.abc\r\n", 18), 0);
	sha256_init(&s);
	sha256_update(&s, buf, n);
	sha256_final(&s, d);
	sha256_hex(d, hex);
	ck_assert_str_eq(hex, test_str(m, "data.sha256"));

	/* The third message is cut at 20 bytes, answered 552 after its end. */
	m3 = test_event(&test_r, "message", 12);
	ck_assert_ptr_nonnull(m3);
	ck_assert_int_eq(test_int(m3, "data.size"), 20);
	ck_assert_int_eq(test_int(m3, "data.received_bytes"), 24);
	ck_assert(json_object_get_boolean(test_get(m3, "data.truncated")));
	ck_assert_str_eq(test_str(test_event(&test_r, "limit", 0), "data.limit"), "message_size");
	ck_assert_int_eq(test_count_files(dir), 2);

	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, test_str(m3, "data.spool_file"));
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(spool_unusable_is_an_error_event)
{
	static const struct chunk ch[] = { CH("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n") };
	json_object *e, *m;

	free(test_cfg.spool_dir);
	test_cfg.spool_dir = strdup("/proc/no-such-dir/spool");
	test_session(&test_cfg, ch, 1, &test_r);
	test_expect(&test_r, "220 250 250 250 354 250 221");
	e = test_event(&test_r, "error", 0);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(test_str(e, "level"), "ERROR");
	m = test_event(&test_r, "message", 0);
	ck_assert(json_object_is_type(test_get(m, "data.spool_file"), json_type_null));
	ck_assert_ptr_nonnull(test_str(m, "data.sha256"));
}
END_TEST

START_TEST(eof_with_partial_line)
{
	static const struct chunk ch[] = { CH("HELO x\r\nQUI") };
	json_object *d;

	test_session(&test_cfg, ch, 1, &test_r);
	test_expect(&test_r, "220 250");
	d = test_event(&test_r, "disconnect", 0);
	ck_assert_str_eq(test_str(d, "data.reason"), "eof");
	ck_assert_str_eq(test_str(d, "data.unterminated_line"), "QUI");
	ck_assert_int_eq(test_int(d, "data.counters.verbs.HELO"), 1);
}
END_TEST

Suite *suite_session(void)
{
	Suite *s = suite_create("session");
	TCase *tc = tcase_create("session");

	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_add_test(tc, exact_replies);
	tcase_add_test(tc, exact_event_line);
	tcase_add_test(tc, order_errors);
	tcase_add_test(tc, syntax_errors);
	tcase_add_test(tc, recipient_limit);
	tcase_add_test(tc, error_limit);
	tcase_add_test(tc, command_limit);
	tcase_add_test(tc, idle_timeout_in_data);
	tcase_add_test(tc, spool_and_size_cap);
	tcase_add_test(tc, spool_unusable_is_an_error_event);
	tcase_add_test(tc, eof_with_partial_line);
	suite_add_tcase(s, tc);
	return s;
}
