/*
 * check_resume.c - the session state smtpot hands to smtpot-tls at STARTTLS:
 * written and read back whole, and anything else refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resume.h"
#include "sink.h"
#include "testlib.h"

struct fixture {
	struct event_ctx ev;
	struct conn conn;
	struct config cfg;
	struct session s;
};

/* A session in the middle of its life, with a log file and a journal sink. */
static void fixture(struct fixture *f, int busy)
{
	memset(f, 0, sizeof(*f));
	test_config(&f->cfg);
	f->s.cfg = &f->cfg;
	f->s.ev = &f->ev;
	f->s.conn = &f->conn;
	snprintf(f->ev.session, sizeof(f->ev.session), "0123456789abcdef0123456789abcdef");
	if (!busy)
		return;
	event_add_sink(&f->ev, sink_file_fd(7, 0, "log file"));
	event_add_sink(&f->ev, sink_journal_fd(-1, 111));
	f->ev.sinks[0]->lost = 3;
	f->ev.sinks[1]->lost = UINT64_MAX;
	f->ev.sinks[1]->reported = 1;
	f->ev.seq = 41;
	f->ev.lost = 5;
	f->s.sandbox = "seccomp";
	f->s.started_ms = 123456789012;
	f->s.commands = 17;
	f->s.errors = 4;
	f->s.messages = 2;
	f->s.recipients = 9;
	f->s.unknown = 1;
	f->s.auth_tries = 6;
	f->s.auth_failures = 5;
	f->s.spool.count = 2;
	f->s.spool_failed = 1;
	f->conn.bytes_in = 1ULL << 40;
	f->conn.bytes_out = 77;
	for (int i = 0; i < SESSION_VERBS; i++)
		f->s.verb_count[i] = (uint64_t)i * 3;
}

static void fixture_free(struct fixture *f)
{
	for (int i = 0; i < f->ev.nsinks; i++) {
		free(f->ev.sinks[i]->ctx); /* the descriptors are not ours to close */
		free(f->ev.sinks[i]);
	}
	config_free(&f->cfg);
}

START_TEST(round_trip)
{
	struct fixture a, b;
	struct resume r;
	char text[RESUME_MAX];

	fixture(&a, 1);
	ck_assert_int_eq(resume_save(&a.s, text, sizeof(text)), 0);
	ck_assert_int_eq(resume_parse(text, &r), 0);
	ck_assert_int_eq(r.nsinks, 2);
	ck_assert_int_eq(r.sinks[0].journal, 0);
	ck_assert_int_eq(r.sinks[1].journal, 1);
	ck_assert_int_eq(r.sinks[0].fd, 7);
	ck_assert_int_eq(r.sinks[1].fd, -1);
	ck_assert_int_eq(r.sinks[1].open_errno, 111);

	fixture(&b, 0);
	ck_assert_int_eq(resume_sinks(&r, &b.ev), 0);
	ck_assert_int_eq(b.ev.nsinks, 2);
	ck_assert_str_eq(b.ev.sinks[0]->kind, "file");
	ck_assert_str_eq(b.ev.sinks[0]->name, "log file");
	ck_assert_str_eq(b.ev.sinks[1]->kind, "journal");
	ck_assert_int_eq(b.ev.sinks[0]->fd, 7);
	snprintf(b.ev.session, sizeof(b.ev.session), "ffffffffffffffffffffffffffffffff");
	resume_apply(&r, &b.s);
	ck_assert_str_eq(b.ev.session, a.ev.session);
	ck_assert_uint_eq(b.ev.seq, 41);
	ck_assert_uint_eq(b.ev.lost, 5);
	ck_assert_uint_eq(b.ev.sinks[0]->lost, 3);
	ck_assert_uint_eq(b.ev.sinks[1]->lost, UINT64_MAX);
	ck_assert_int_eq(b.ev.sinks[1]->reported, 1);
	ck_assert_int_eq(b.ev.sinks[1]->open_errno, 111);
	ck_assert_str_eq(b.s.sandbox, "seccomp");
	ck_assert_int_eq(b.s.started_ms, 123456789012);
	ck_assert_int_eq(b.conn.session_deadline, 123456789012 + (int64_t)b.cfg.session_timeout * 1000);
	ck_assert_uint_eq(b.s.commands, 17);
	ck_assert_uint_eq(b.s.errors, 4);
	ck_assert_uint_eq(b.s.messages, 2);
	ck_assert_uint_eq(b.s.recipients, 9);
	ck_assert_uint_eq(b.s.unknown, 1);
	ck_assert_uint_eq(b.s.auth_tries, 6);
	ck_assert_uint_eq(b.s.auth_failures, 5);
	ck_assert_uint_eq(b.s.spool.count, 2);
	ck_assert_int_eq(b.s.spool_failed, 1);
	ck_assert_uint_eq(b.conn.bytes_in, 1ULL << 40);
	ck_assert_uint_eq(b.conn.bytes_out, 77);
	ck_assert_mem_eq(b.s.verb_count, a.s.verb_count, sizeof(a.s.verb_count));
	fixture_free(&a);
	fixture_free(&b);
}
END_TEST

START_TEST(does_not_fit)
{
	struct fixture a;
	char text[RESUME_MAX], scratch[RESUME_MAX];

	fixture(&a, 1);
	ck_assert_int_eq(resume_save(&a.s, scratch, 40), -1);
	ck_assert_int_eq(resume_save(&a.s, text, sizeof(text)), 0);
	ck_assert_int_eq(resume_save(&a.s, scratch, strlen(text)), -1);
	ck_assert_int_eq(resume_save(&a.s, scratch, strlen(text) + 1), 0);
	ck_assert_str_eq(scratch, text);
	fixture_free(&a);
}
END_TEST

/* Replaces the first `from` in text by `to`; 0 if from is not there. */
static int edit(char *text, size_t cap, const char *from, const char *to)
{
	char *p = strstr(text, from);
	size_t nf = strlen(from), nt = strlen(to), rest;

	if (p == NULL)
		return 0;
	rest = strlen(p + nf) + 1;
	ck_assert_uint_lt((size_t)(p - text) + nt + rest, cap);
	memmove(p + nt, p + nf, rest);
	memcpy(p, to, nt);
	return 1;
}

START_TEST(refuses_the_rest)
{
	/* Each: a piece of the good text and what it becomes. */
	static const char *const bad[][2] = {
		{ "seq=41", "seq=-41" },
		{ "seq=41", "seq=" },
		{ "seq=41", "seq=4x1" },
		{ "seq=41", "seq=18446744073709551616" },
		{ "seq=41", "seq=41 seq=41" },
		{ "seq=41", "seq=41 extra=1" },
		{ "seq=41", "" },
		{ "seq=41", "seq=41 " },
		{ "seq=41", " seq=41" },
		{ "seq=41", "SEQ=41" },
		{ "session=0123456789abcdef0123456789abcdef", "session=0123456789ABCDEF0123456789abcdef" },
		{ "session=0123456789abcdef0123456789abcdef", "session=0123456789abcdef" },
		{ "session=0123456789abcdef0123456789abcdef", "session=../../etc/passwd" },
		{ "sandbox=seccomp", "sandbox=none" },
		{ "sandbox=seccomp", "sandbox=" },
		{ "spool_failed=1", "spool_failed=2" },
		{ "started_ms=123456789012", "started_ms=9223372036854775808" },
		{ "verbs=0,3,", "verbs=0,3,,"},
		{ ",45 ", ",45,48 " },
		{ ",45 ", " " },
		{ "sink=file,7,0,0,3", "sink=file,7,0,0" },
		{ "sink=file,7,0,0,3", "sink=file,7,0,2,3" },
		{ "sink=file,7,0,0,3", "sink=file,-2,0,0,3" },
		{ "sink=file,7,0,0,3", "sink=pipe,7,0,0,3" },
		{ "sink=file,7,0,0,3", "sink=7,0,0,3" },
		{ "sink=file,7,0,0,3", "sink=file,7,0,0,3 sink=file,7,0,0,3 sink=file,7,0,0,3 "
				       "sink=file,7,0,0,3 sink=file,7,0,0,3" },
	};
	struct fixture a;
	struct resume r;
	char good[RESUME_MAX], text[RESUME_MAX * 2];

	fixture(&a, 1);
	ck_assert_int_eq(resume_save(&a.s, good, sizeof(good)), 0);
	ck_assert_int_eq(resume_parse(good, &r), 0);
	ck_assert_int_eq(resume_parse("", &r), -1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%s", good);
		ck_assert_msg(edit(text, sizeof(text), bad[i][0], bad[i][1]), "%s not in %s", bad[i][0], good);
		ck_assert_msg(resume_parse(text, &r) == -1, "accepted: %s", text);
	}
	fixture_free(&a);
}
END_TEST

Suite *suite_resume(void)
{
	Suite *s = suite_create("resume");
	TCase *tc = tcase_create("resume");

	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, does_not_fit);
	tcase_add_test(tc, refuses_the_rest);
	suite_add_tcase(s, tc);
	return s;
}
