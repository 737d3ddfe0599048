/* check_auth.c - AUTH PLAIN, LOGIN, CRAM-MD5, policies, offers, limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "testlib.h"

#define CH(s) { s, sizeof(s) - 1, 0 }


static void session(const char *text, const char *codes)
{
	struct chunk ch[] = { { text, 0, 0 } };

	test_session(&test_cfg, ch, 1, &test_r);
	test_expect(&test_r, codes);
}

START_TEST(plain_initial_and_continued)
{
	json_object *a;

	/* "\0user\0pass", then "admin\0user\0secret" after a 334. */
	session("EHLO x\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\nAUTH plain\r\nYWRtaW4AdXNlcgBzZWNyZXQ=\r\nQUIT\r\n",
		"220 250 535 334 535 221");
	a = test_event(&test_r, "auth", 0);
	ck_assert_str_eq(test_str(a, "data.mechanism"), "PLAIN");
	ck_assert_str_eq(test_str(a, "data.username"), "user");
	ck_assert_str_eq(test_str(a, "data.password"), "pass");
	ck_assert_str_eq(test_str(a, "data.authzid"), "");
	ck_assert_str_eq(test_str(a, "data.result"), "failure");
	ck_assert_str_eq(test_str(a, "data.reply"), "535 5.7.8 Error: authentication failed: authentication failure");
	a = test_event(&test_r, "auth", 3);
	ck_assert_str_eq(test_str(a, "data.authzid"), "admin");
	ck_assert_str_eq(test_str(a, "data.password"), "secret");
	ck_assert_str_eq(test_str(a, "data.raw.0"), "YWRtaW4AdXNlcgBzZWNyZXQ=");
	ck_assert(!json_object_get_boolean(test_get(a, "data.initial_response")));
}
END_TEST

START_TEST(login_binary_and_empty)
{
	json_object *a;

	session("EHLO x\r\nAUTH LOGIN\r\nr7KyqQ==\r\n=\r\nAUTH LOGIN dXNlcg==\r\ncGFzcw==\r\nQUIT\r\n",
		"220 250 334 334 535 334 535 221");
	ck_assert_ptr_nonnull(strstr(test_r.replies, "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n"));
	a = test_event(&test_r, "auth", 0);
	ck_assert_str_eq(test_str(a, "data.username_b64"), "r7KyqQ==");
	ck_assert_str_eq(test_str(a, "data.password"), "");
	a = test_event(&test_r, "auth", 3);
	ck_assert_str_eq(test_str(a, "data.username"), "user");
	ck_assert_str_eq(test_str(a, "data.password"), "pass");
	ck_assert(json_object_get_boolean(test_get(a, "data.initial_response")));
}
END_TEST

START_TEST(cram_md5_challenge_logged)
{
	json_object *a;
	const char *chal, *p;
	unsigned char dec[256];
	long n;

	session("EHLO x\r\nAUTH CRAM-MD5\r\ndXNlciBiOTEzYTYwMmM3ZWRhN2E0OTViNGU2ZTczMzRkMzg5MA==\r\nQUIT\r\n",
		"220 250 334 535 221");
	a = test_event(&test_r, "auth", 0);
	chal = test_str(a, "data.challenge");
	ck_assert_ptr_nonnull(chal);
	ck_assert_int_eq(chal[0], '<');
	ck_assert_ptr_nonnull(strstr(chal, "@mx.example.com>"));
	/* The 334 carried exactly that challenge, base64-encoded. */
	p = strstr(test_r.replies, "334 ") + 4;
	n = base64_decode(p, strcspn(p, "\r"), dec);
	ck_assert_int_eq(n, (long)strlen(chal));
	ck_assert_int_eq(memcmp(dec, chal, (size_t)n), 0);
	ck_assert_str_eq(test_str(a, "data.username"), "user");
	ck_assert_str_eq(test_str(a, "data.digest"), "b913a602c7eda7a495b4e6e7334d3890");
}
END_TEST

START_TEST(cancel_and_malformed)
{
	session("EHLO x\r\nAUTH PLAIN\r\n*\r\nAUTH LOGIN\r\n!!notb64\r\nAUTH PLAIN dXNlcg==\r\nAUTH KERBEROS\r\n"
		"AUTH\r\nAUTH CRAM-MD5 abc\r\nQUIT\r\n",
		"220 250 334 501 334 501 535 504 501 501 221");
	ck_assert_str_eq(test_str(test_event(&test_r, "auth", 0), "data.result"), "cancelled");
	ck_assert_str_eq(test_str(test_event(&test_r, "auth", 3), "data.result"), "malformed");
	ck_assert_str_eq(test_str(test_event(&test_r, "auth", 3), "data.raw.0"), "!!notb64");
	ck_assert_str_eq(test_str(test_event(&test_r, "auth", 4), "data.result"), "malformed");
	ck_assert_str_eq(test_str(test_event(&test_r, "auth", 5), "data.result"), "unknown_mechanism");
}
END_TEST

START_TEST(accept_then_mail)
{
	free(test_cfg.auth);
	test_cfg.auth = strdup("accept");
	session("EHLO x\r\nAUTH PLAIN AHUAcA==\r\nAUTH PLAIN AHUAcA==\r\nMAIL FROM:<a@b> AUTH=<>\r\n"
		"RCPT TO:<c@d>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n",
		"220 250 235 503 250 250 354 250 221");
	ck_assert_str_eq(test_str(test_event(&test_r, "auth", 0), "data.result"), "success");
	ck_assert_uint_eq(test_count(&test_r, "message"), 1);
}
END_TEST

START_TEST(accept_after_two)
{
	free(test_cfg.auth);
	test_cfg.auth = strdup("accept-after=2");
	session("EHLO x\r\nAUTH PLAIN AHUAcA==\r\nAUTH PLAIN AHUAcQ==\r\nAUTH PLAIN AHUAcg==\r\nQUIT\r\n",
		"220 250 535 535 235 221");
	ck_assert_str_eq(test_str(test_event(&test_r, "auth", 4), "data.password"), "r");
}
END_TEST

START_TEST(order_and_offer)
{
	session("AUTH PLAIN AHUAcA==\r\nEHLO x\r\nMAIL FROM:<a@b>\r\nAUTH PLAIN AHUAcA==\r\nQUIT\r\n",
		"220 503 250 250 503 221");
	ck_assert_ptr_nonnull(strstr(test_r.replies, "503 5.5.1 Error: MAIL transaction in progress"));
}
END_TEST

START_TEST(submission_port_wants_tls)
{
	struct chunk ch[] = { CH("EHLO x\r\nAUTH PLAIN AHUAcA==\r\nQUIT\r\n") };

	/* With auth-without-tls=auto, port 587 offers AUTH only after STARTTLS. */
	test_session_port(&test_cfg, ch, 1, &test_r, 587);
	ck_assert_ptr_null(strstr(test_r.replies, "AUTH PLAIN"));
	ck_assert_ptr_nonnull(strstr(test_r.replies, "503 5.5.1 Error: authentication not enabled"));
	test_run_free(&test_r);
	free(test_cfg.auth_without_tls);
	test_cfg.auth_without_tls = strdup("yes");
	test_session_port(&test_cfg, ch, 1, &test_r, 587);
	ck_assert_ptr_nonnull(strstr(test_r.replies, "250-AUTH PLAIN LOGIN CRAM-MD5\r\n"));
}
END_TEST

START_TEST(tries_limited)
{
	test_cfg.max_auth_tries = 2;
	session("EHLO x\r\nAUTH PLAIN AHUAcA==\r\nAUTH PLAIN AHUAcA==\r\nAUTH PLAIN AHUAcA==\r\nQUIT\r\n",
		"220 250 535 535 421");
	ck_assert_str_eq(test_str(test_event(&test_r, "limit", 0), "data.limit"), "auth_tries");
	ck_assert_str_eq(test_str(test_event(&test_r, "disconnect", 0), "data.reason"), "max_auth_tries");
}
END_TEST

START_TEST(eof_inside_auth)
{
	session("EHLO x\r\nAUTH LOGIN\r\ndXNlcg==\r\n", "220 250 334 334");
	ck_assert_str_eq(test_str(test_event(&test_r, "auth", 0), "data.result"), "incomplete");
	ck_assert_str_eq(test_str(test_event(&test_r, "auth", 0), "data.username"), "user");
	ck_assert_str_eq(test_str(test_event(&test_r, "disconnect", 0), "data.reason"), "eof");
}
END_TEST

START_TEST(answer_too_long)
{
	static char text[2048];
	size_t o = (size_t)snprintf(text, sizeof(text), "EHLO x\r\nAUTH LOGIN\r\n");

	test_cfg.max_line_length = 512;
	memset(text + o, 'A', 600);
	snprintf(text + o + 600, sizeof(text) - o - 600, "\r\nQUIT\r\n");
	session(text, "220 250 334 500 221");
	ck_assert_ptr_nonnull(strstr(test_r.replies, "500 5.5.6 Authentication Exchange line is too long\r\n"));
	ck_assert_str_eq(test_str(test_event(&test_r, "auth", 0), "data.result"), "too_long");
	ck_assert_int_eq(test_int(test_event(&test_r, "auth", 0), "data.answer_length"), 600);
}
END_TEST

Suite *suite_auth(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");

	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_add_test(tc, plain_initial_and_continued);
	tcase_add_test(tc, login_binary_and_empty);
	tcase_add_test(tc, cram_md5_challenge_logged);
	tcase_add_test(tc, cancel_and_malformed);
	tcase_add_test(tc, accept_then_mail);
	tcase_add_test(tc, accept_after_two);
	tcase_add_test(tc, order_and_offer);
	tcase_add_test(tc, submission_port_wants_tls);
	tcase_add_test(tc, tries_limited);
	tcase_add_test(tc, eof_inside_auth);
	tcase_add_test(tc, answer_too_long);
	suite_add_tcase(s, tc);
	return s;
}
