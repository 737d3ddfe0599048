/*
 * testlib.h - drives whole sessions in-process for the check tests: a
 * scripted client (chunks, each arriving after a delay on a fake clock),
 * a memory sink that keeps every event line, and helpers to look at both.
 */
#ifndef SMTPOT_TESTLIB_H
#define SMTPOT_TESTLIB_H

#include <check.h>
#include <stddef.h>

#include <json-c/json.h>

#include "config.h"
#include "conn.h"
#include "event.h"

struct chunk {
	const char *data;
	size_t len;    /* 0: strlen(data) */
	int delay_ms;  /* fake time before it arrives */
};

#define CHUNKS_MAX 64
#define EVENTS_MAX 4096

struct run {
	char *replies; /* everything the server wrote */
	size_t replies_len;
	char *lines[EVENTS_MAX]; /* event lines as the sinks got them */
	json_object *events[EVENTS_MAX];
	size_t nevents;
	char spool[64]; /* spool directory used */
};

/* Settings every test starts from (host mx.example.com, sensor test). */
void test_config(struct config *c);
/* Runs one session over the chunks; the client closes after the last. */
void test_session(const struct config *c, const struct chunk *chunks, size_t n, struct run *r);
/* Same, as if the client had connected to dest_port. */
void test_session_port(const struct config *c, const struct chunk *chunks, size_t n, struct run *r,
		       long dest_port);
void test_run_free(struct run *r);

/* The reply codes in order, e.g. "220 250 221" (continuation lines skipped). */
void test_codes(const struct run *r, char *out, size_t cap);
/* The first event named name (after index from), or NULL. */
json_object *test_event(const struct run *r, const char *name, size_t from);
size_t test_count(const struct run *r, const char *name);
/* A string field by path "data.from" of an event; NULL if missing. */
const char *test_str(json_object *ev, const char *path);
long long test_int(json_object *ev, const char *path);
json_object *test_get(json_object *ev, const char *path);
/* Checks the invariants every session must keep (valid UTF-8 JSON, seq, one disconnect). */
void test_invariants(const struct run *r);

/* The fixture the session suites share: test_setup() fills test_cfg with
 * test_config(); test_teardown() frees test_r and test_cfg. */
extern struct config test_cfg;
extern struct run test_r;
void test_setup(void);
void test_teardown(void);
/* The reply codes of r are exactly codes (as test_codes gives them), and r
 * keeps test_invariants. */
void test_expect(const struct run *r, const char *codes);
/* How many entries dir holds besides . and .. */
int test_count_files(const char *dir);

/* A conn that reads the chunks (and discards what is written). */
void test_conn(struct conn *c, const struct chunk *chunks, size_t n);

/* Fake clock in ms, advanced by the scripted client. */
extern long long test_now_ms;

Suite *suite_text(void);
Suite *suite_line(void);
Suite *suite_address(void);
Suite *suite_data(void);
Suite *suite_message(void);
Suite *suite_sha256(void);
Suite *suite_config(void);
Suite *suite_session(void);
Suite *suite_cases(void);
Suite *suite_spool(void);
Suite *suite_auth(void);
Suite *suite_tlsfp(void);
Suite *suite_mime(void);
Suite *suite_sink(void);
Suite *suite_hostile(void);
Suite *suite_resume(void);

#endif
