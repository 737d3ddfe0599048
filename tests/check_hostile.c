/*
 * check_hostile.c - hostile input, tested class by class over whole
 * in-process sessions: replies AND events, exactly, and the invariants of
 * every session (test_invariants).
 *
 *  1 splits        a session cut into two reads at every byte, and into 1-byte reads
 *  2 end of data   <CRLF>.<CRLF> cut across reads everywhere, also at the 64 KiB read edge
 *  3 smuggling     every non-standard dot line inside a session
 *  4 endless line  megabytes without a line end (also as an AUTH answer): bounded
 *                  memory, the length logged
 *  5 long DATA     megabyte lines in a message: long_line, stored intact up to the cap
 *  6 binary        a TLS ClientHello and other binary on the plaintext port
 *  7 order         every verb in every state
 *  8 dot-stuffing  at the start of the body and after long lines
 *  9 CR/LF inside  arguments with a bare CR never run a second command
 * 10 exploits      inputs of well-known MTA CVEs, answered like an MTA, logged intact
 *
 * And one signal case in-process: SIGTERM interrupting a reply being written.
 * Sessions are compared with their queue ids masked (they are random).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base64.h"
#include "clock.h"
#include "limits.h"
#include "line.h"
#include "session.h"
#include "sha256.h"
#include "testlib.h"

#define CH(s) { s, sizeof(s) - 1, 0 }


/* --- helpers ----------------------------------------------------------- */

/* A growing byte buffer for sessions that hold NULs and long runs. */
struct buf {
	char *p;
	size_t n, cap;
};

static void bput(struct buf *b, const void *p, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void bputs(struct buf *b, const char *s)
{
	bput(b, s, strlen(s));
}

static void bfill(struct buf *b, int c, size_t n)
{
	while (n > 0) {
		char block[4096];
		size_t k = n < sizeof(block) ? n : sizeof(block);

		memset(block, c, k);
		bput(b, block, k);
		n -= k;
	}
}

static void bfree(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}

/* s gets "EHLO x", the line, "QUIT", each ended by CRLF. */
static void ehlo_then_quit(struct buf *s, const struct buf *line)
{
	bputs(s, "EHLO x\r\n");
	bput(s, line->p, line->n);
	bputs(s, "\r\nQUIT\r\n");
}

/* One session over the bytes of b, arriving in one read, into test_r. */
static void session_of(const struct buf *b)
{
	struct chunk ch[] = { { b->p, b->n, 0 } };

	test_session(&test_cfg, ch, 1, &test_r);
}

/* Queue ids are random: "queued as XXXXXXXXXX" and "queue_id":"X..." become Q's. */
static void normalize(char *s)
{
	static const char *const marks[] = { "queued as ", "\"queue_id\":\"" };

	for (size_t m = 0; m < 2; m++) {
		for (char *p = s; (p = strstr(p, marks[m])) != NULL;) {
			p += strlen(marks[m]);
			for (int i = 0; i < 10 && isxdigit((unsigned char)p[i]); i++)
				p[i] = 'Q';
		}
	}
}

static void assert_same_run(const struct run *a, const struct run *b, const char *what, size_t at)
{
	char *x = strdup(a->replies), *y = strdup(b->replies);

	normalize(x);
	normalize(y);
	ck_assert_msg(strcmp(x, y) == 0, "%s %zu: replies differ:\n%.600s\n---\n%.600s", what, at, x, y);
	free(x);
	free(y);
	ck_assert_msg(a->nevents == b->nevents, "%s %zu: %zu events, not %zu", what, at, b->nevents,
		      a->nevents);
	for (size_t i = 0; i < a->nevents; i++) {
		x = strdup(a->lines[i]);
		y = strdup(b->lines[i]);
		normalize(x);
		normalize(y);
		ck_assert_msg(strcmp(x, y) == 0, "%s %zu: event %zu differs:\n%.600s\n---\n%.600s", what, at, i, x, y);
		free(x);
		free(y);
	}
}

/* Runs bytes cut at the given offsets (ascending, inside 1..n-1). */
static void run_cuts(const struct config *c, const char *p, size_t n, const size_t *cuts, size_t ncuts,
		     struct run *out)
{
	struct chunk *ch = calloc(ncuts + 1, sizeof(*ch));
	size_t prev = 0, k = 0;

	ck_assert_ptr_nonnull(ch);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;

		if (end > prev)
			ch[k++] = (struct chunk){ p + prev, end - prev, 0 };
		prev = end;
	}
	test_session(c, ch, k, out);
	free(ch);
}

/*
 * The session in p is run whole (into r), then cut in two at every offset
 * in [from, to): every run has the same replies and the same event lines.
 */
static void same_under_splits(const char *p, size_t n, size_t from, size_t to)
{
	test_run_free(&test_r);
	run_cuts(&test_cfg, p, n, NULL, 0, &test_r);
	test_invariants(&test_r);
	if (from < 1)
		from = 1;
	if (to > n)
		to = n;
	for (size_t cut = from; cut < to; cut++) {
		struct run s;

		run_cuts(&test_cfg, p, n, &cut, 1, &s);
		assert_same_run(&test_r, &s, "cut at", cut);
		test_run_free(&s);
	}
}

/* The exact bytes of data.<key>: from <key>_b64 when present, else the string. */
static size_t field_bytes(json_object *ev, const char *key, unsigned char *out, size_t cap)
{
	char path[128];
	json_object *o;
	size_t n;

	snprintf(path, sizeof(path), "data.%s_b64", key);
	o = test_get(ev, path);
	if (o != NULL) {
		const char *b = json_object_get_string(o);
		long d;

		ck_assert_uint_le(strlen(b) / 4 * 3 + 3, cap);
		d = base64_decode(b, strlen(b), out);
		ck_assert_int_ge(d, 0);
		return (size_t)d;
	}
	snprintf(path, sizeof(path), "data.%s", key);
	o = test_get(ev, path);
	ck_assert_msg(o != NULL && json_object_is_type(o, json_type_string), "no field %s in %s", path,
		      json_object_to_json_string(ev));
	n = (size_t)json_object_get_string_len(o);
	ck_assert_uint_le(n, cap);
	memcpy(out, json_object_get_string(o), n);
	return n;
}

/*
 * data.<key> holds want[0..n) exactly; when n is over the field cap, it
 * holds the first TEXT_FIELD_MAX bytes and says it was cut and how long
 * the text was (total, n when 0).
 */
static void assert_field_total(json_object *ev, const char *key, const void *want, size_t n, size_t total)
{
	static unsigned char got[TEXT_FIELD_MAX * 2];
	size_t keep = n < TEXT_FIELD_MAX ? n : TEXT_FIELD_MAX, len;
	char path[128];

	ck_assert_ptr_nonnull(ev);
	if (total == 0)
		total = n;
	len = field_bytes(ev, key, got, sizeof(got));
	ck_assert_msg(len == keep && memcmp(got, want, keep) == 0, "field %s: %zu bytes, want %zu", key, len,
		      keep);
	snprintf(path, sizeof(path), "data.%s_truncated", key);
	if (keep < total) {
		ck_assert(json_object_get_boolean(test_get(ev, path)));
		snprintf(path, sizeof(path), "data.%s_length", key);
		ck_assert_int_eq(test_int(ev, path), (long long)total);
	} else {
		ck_assert_ptr_null(test_get(ev, path));
	}
}

static void assert_field(json_object *ev, const char *key, const void *want, size_t n)
{
	assert_field_total(ev, key, want, n, 0);
}

static int has_flag(json_object *ev, const char *flag)
{
	json_object *f = test_get(ev, "data.flags");

	for (size_t i = 0; f != NULL && i < json_object_array_length(f); i++) {
		if (strcmp(json_object_get_string(json_object_array_get_idx(f, i)), flag) == 0)
			return 1;
	}
	return 0;
}

static void sha_hex(const void *p, size_t n, char hex[65])
{
	struct sha256 s;
	unsigned char d[32];

	sha256_init(&s);
	sha256_update(&s, p, n);
	sha256_final(&s, d);
	sha256_hex(d, hex);
}

/* The message event says the stored message is exactly want[0..n). */
static void assert_stored(json_object *m, const void *want, size_t n)
{
	char hex[65];

	ck_assert_ptr_nonnull(m);
	sha_hex(want, n, hex);
	ck_assert_int_eq(test_int(m, "data.size"), (long long)n);
	ck_assert_str_eq(test_str(m, "data.sha256"), hex);
}

static json_object *nth_event(const struct run *x, const char *name, size_t nth)
{
	for (size_t i = 0; i < x->nevents; i++) {
		if (strcmp(test_str(x->events[i], "event"), name) == 0 && nth-- == 0)
			return x->events[i];
	}
	return NULL;
}

/* --- a generated client and heap sampling (classes 4 and 5) -------------- */

/* total bytes made by repeating data[0..len); arrives after delay_ms. */
struct seg {
	const char *data;
	size_t len;
	unsigned long long total;
	int delay_ms;
};

struct gen {
	const struct seg *segs;
	size_t n, next;
	unsigned long long off;
	int remaining;
	struct run *r;
	size_t cap;
	size_t base, peak; /* heap in use before the session, highest seen while reading */
	int signal_at_write;  /* > 0: that write is interrupted by SIGTERM */
	int writes;
};

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static ssize_t g_read(struct conn *c, void *out, size_t n)
{
	struct gen *g = c->ctx;
	const struct seg *s;
	size_t done = 0, used = heap_in_use();

	if (used > g->peak)
		g->peak = used;
	if (g->next >= g->n)
		return 0;
	s = &g->segs[g->next];
	if (n > s->total - g->off)
		n = (size_t)(s->total - g->off);
	while (done < n) {
		size_t at = (size_t)((g->off + done) % s->len), k = s->len - at;

		if (k > n - done)
			k = n - done;
		memcpy((char *)out + done, s->data + at, k);
		done += k;
	}
	g->off += n;
	if (g->off == s->total) {
		g->next++;
		g->off = 0;
		g->remaining = -1;
	}
	return (ssize_t)n;
}

static ssize_t g_write(struct conn *c, const void *p, size_t n)
{
	struct gen *g = c->ctx;
	struct run *x = g->r;

	if (++g->writes == g->signal_at_write) {
		/* What a blocked write(2) returns when SIGTERM arrives. */
		conn_stop_signal = SIGTERM;
		errno = EINTR;
		return -1;
	}
	if (x->replies_len + n + 1 > g->cap) {
		g->cap = (x->replies_len + n + 1) * 2;
		x->replies = realloc(x->replies, g->cap);
	}
	memcpy(x->replies + x->replies_len, p, n);
	x->replies_len += n;
	x->replies[x->replies_len] = '\0';
	return (ssize_t)n;
}

static int g_pending(struct conn *c)
{
	(void)c;
	return 0;
}

static int g_wait(struct conn *c, short events, int timeout_ms)
{
	struct gen *g = c->ctx;

	if (events != 1 /* POLLIN */ || g->next >= g->n)
		return 1;
	if (g->remaining < 0)
		g->remaining = g->off > 0 ? 0 : g->segs[g->next].delay_ms;
	if (timeout_ms >= 0 && g->remaining > timeout_ms) {
		g->remaining -= timeout_ms;
		test_now_ms += timeout_ms;
		return 0;
	}
	test_now_ms += g->remaining;
	g->remaining = 0;
	return 1;
}

static const struct conn_ops gen_ops = {
	.read = g_read, .write = g_write, .pending = g_pending, .wait = g_wait,
};

static int64_t g_mono(void)
{
	return test_now_ms;
}

static time_t g_wall(void)
{
	return 1767608130 + test_now_ms / 1000;
}

static int g_sink(struct sink *sk, const struct event_record *rec)
{
	struct run *x = sk->ctx;

	ck_assert_uint_lt(x->nevents, EVENTS_MAX);
	ck_assert_ptr_null(memchr(rec->json, '\n', rec->len));
	x->lines[x->nevents] = strndup(rec->json, rec->len);
	x->events[x->nevents] = json_tokener_parse(x->lines[x->nevents]);
	ck_assert_msg(x->events[x->nevents] != NULL, "event is not JSON: %.300s", x->lines[x->nevents]);
	x->nevents++;
	return 0;
}

static int signal_at_write;

/* Like test_session, over generated segments; returns the heap growth seen while reading. */
static size_t drive(const struct config *c, const struct seg *segs, size_t n, struct run *x)
{
	struct gen g = { .segs = segs, .n = n, .remaining = -1, .r = x, .signal_at_write = signal_at_write };
	struct sink mem = { .name = "memory", .write = g_sink, .ctx = x };
	static struct event_ctx ev;
	static struct session s;
	struct conn conn;

	memset(x, 0, sizeof(*x));
	memset(&ev, 0, sizeof(ev));
	clock_mono_ms = g_mono;
	clock_wall = g_wall;
	test_now_ms = 1000000;
	conn_stop_signal = 0;
	snprintf(ev.session, sizeof(ev.session), "5f0c0000000000000000000000000002");
	snprintf(ev.source_ip, sizeof(ev.source_ip), "192.0.2.50");
	snprintf(ev.dest_ip, sizeof(ev.dest_ip), "192.0.2.1");
	ev.source_port = 50312;
	ev.dest_port = 25;
	ev.sensor = c->sensor;
	event_add_sink(&ev, &mem);
	conn_init_fd(&conn, -1, -1);
	conn.ops = &gen_ops;
	conn.ctx = &g;
	x->replies = calloc(1, 1);
	g.cap = 1;
	g.base = g.peak = heap_in_use();
	ck_assert_int_eq(session_init(&s, c, &conn, &ev), 0);
	session_run(&s);
	session_free(&s);
	event_close_sinks(&ev);
	conn_stop_signal = 0; /* the next test's conn must not see it */
	signal_at_write = 0;
	return g.peak > g.base ? g.peak - g.base : 0;
}

static char spool_dir[64];

static void use_spool(void)
{
	snprintf(spool_dir, sizeof(spool_dir), "/tmp/smtpot-hostile-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(spool_dir));
	free(test_cfg.spool_dir);
	test_cfg.spool_dir = strdup(spool_dir);
}

static void drop_spool(void)
{
	DIR *d = opendir(spool_dir);
	struct dirent *e;
	char path[512];

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", spool_dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(spool_dir);
}

/* The spool file of message event m holds the segments' bytes, in order. */
static void assert_spool_file(json_object *m, const struct seg *segs, size_t n)
{
	char path[512], want[65536], got[65536];
	const char *name = test_str(m, "data.spool_file");
	FILE *f;
	size_t k;

	ck_assert_ptr_nonnull(name);
	snprintf(path, sizeof(path), "%s/%s", spool_dir, name);
	f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < n; i++) {
		unsigned long long off = 0;

		while (off < segs[i].total) {
			size_t want_n = segs[i].total - off < sizeof(want) ? (size_t)(segs[i].total - off) : sizeof(want);

			for (size_t j = 0; j < want_n; j++)
				want[j] = segs[i].data[(off + j) % segs[i].len];
			k = fread(got, 1, want_n, f);
			ck_assert_uint_eq(k, want_n);
			ck_assert_msg(memcmp(got, want, want_n) == 0, "spool file differs in segment %zu at %llu", i,
				      off);
			off += want_n;
		}
	}
	ck_assert_uint_eq(fread(got, 1, 1, f), 0); /* nothing more */
	fclose(f);
}

static void seg_sha(const struct seg *segs, size_t n, char hex[65])
{
	struct sha256 s;
	unsigned char d[32];

	sha256_init(&s);
	for (size_t i = 0; i < n; i++) {
		unsigned long long off = 0;

		while (off < segs[i].total) {
			size_t at = (size_t)(off % segs[i].len), k = segs[i].len - at;

			if (k > segs[i].total - off)
				k = (size_t)(segs[i].total - off);
			sha256_update(&s, segs[i].data + at, k);
			off += k;
		}
	}
	sha256_final(&s, d);
	sha256_hex(d, hex);
}

/* --- 1. a session split at every byte ------------------------------------ */

/* A session touching every reader: commands, AUTH answers, DATA, limits. */
static void rich_session(struct buf *b)
{
	bputs(b, "EHLO client.example.com\r\nNOOP\r\n");
	bput(b, "X\x80\xffY\r\n", 6);                     /* not UTF-8 */
	bput(b, "HELO a\0b\rc\n", 11);                    /* NUL, bare CR, bare LF */
	bputs(b, "EHLO caf\xc3\xa9.example\r\n");          /* a character to split */
	bputs(b, "AUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\n"); /* two answers after 334 */
	bputs(b, "AUTH PLAIN AHUAcA==\r\n");
	bputs(b, "MAIL FROM:<a@example.com> SIZE=100 BODY=8BITMIME\r\n"
		 "RCPT TO:<b@example.com>\r\nRCPT TO: <c@example.com>\r\nDATA\r\n");
	bputs(b, "Subject: split\r\nFrom: x@example.com\r\n\r\n..stuffed\r\n");
	bput(b, "nul \0 byte\r\n", 12);
	bputs(b, "bare\rcr\r\nbare lf\nsmuggle\n.\r\nMAIL FROM:<boss@example.org>\r\nx\r\n.\rnot end\r\n"
		 ".\r\nRSET\r\nVRFY root\r\nEXPN staff\r\nHELP\r\n"
		 "MAIL FROM:<>\r\nRCPT TO:<d@example.com>\r\nDATA\r\n.\r\nFOO\r\nQUIT\r\n");
}

static const char rich_codes[] = "220 250 250 500 250 250 334 334 535 535 250 250 250 354 250 250 252 502 214 "
				 "250 250 354 250 500 221";

START_TEST(split_every_byte)
{
	struct buf b = { 0 };
	json_object *m;

	rich_session(&b);
	same_under_splits(b.p, b.n, 1, b.n);
	test_expect(&test_r, rich_codes);
	/* The whole run is what it should be, not merely the same each time. */
	ck_assert_uint_eq(test_count(&test_r, "mail_from"), 2);
	ck_assert_uint_eq(test_count(&test_r, "message"), 2);
	ck_assert_str_eq(test_str(test_event(&test_r, "ehlo", 3), "data.name"), "caf\xc3\xa9.example");
	assert_field(test_event(&test_r, "helo", 0), "name", "a\0b\rc", 5);
	ck_assert(has_flag(test_event(&test_r, "helo", 0), "bare_lf"));
	ck_assert(has_flag(test_event(&test_r, "helo", 0), "bare_cr"));
	ck_assert(has_flag(test_event(&test_r, "helo", 0), "nul"));
	assert_field(test_event(&test_r, "unknown_command", 0), "line", "X\x80\xffY", 4);
	ck_assert_str_eq(test_str(test_event(&test_r, "auth", 0), "data.username"), "user");
	ck_assert_str_eq(test_str(test_event(&test_r, "auth", 0), "data.password"), "pass");
	m = test_event(&test_r, "message", 0);
	ck_assert(json_object_get_boolean(test_get(m, "data.complete")));
	/* "..stuffed", and the dot of "\r\n.\r" (it starts a CRLF line). */
	ck_assert_int_eq(test_int(m, "data.dots_unstuffed"), 2);
	ck_assert_int_eq(test_int(m, "data.anomalies.smuggling.count"), 2);
	ck_assert_int_eq(test_int(m, "data.anomalies.nul.count"), 1);
	ck_assert_int_eq(test_int(m, "data.anomalies.bare_cr.count"), 2);
	ck_assert_int_eq(test_int(m, "data.anomalies.bare_lf.count"), 2);
	ck_assert_str_eq(test_str(test_event(&test_r, "disconnect", 0), "data.reason"), "quit");
	bfree(&b);
}
END_TEST

/* Long lines cut at every byte: a body line over 998 bytes, a command over the limit. */
START_TEST(split_every_byte_long_lines)
{
	struct buf b = { 0 };
	json_object *m, *l;

	test_cfg.max_line_length = 512;
	bputs(&b, "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
	bfill(&b, 'L', 1000);
	bputs(&b, "\r\n..\r\n.\r\nNOOP ");
	bfill(&b, 'T', 600);
	bputs(&b, "\r\nQUIT\r\n");
	same_under_splits(b.p, b.n, 1, b.n);
	test_expect(&test_r, "220 250 250 250 354 250 500 221");
	m = test_event(&test_r, "message", 0);
	ck_assert_int_eq(test_int(m, "data.size"), 1000 + 2 + 3);
	ck_assert_int_eq(test_int(m, "data.anomalies.long_line.longest"), 1000);
	ck_assert_int_eq(test_int(m, "data.dots_unstuffed"), 1);
	l = test_event(&test_r, "limit", 0);
	ck_assert_int_eq(test_int(l, "data.line_length"), 605);
	ck_assert(json_object_get_boolean(test_get(l, "data.line_truncated")));
	ck_assert_uint_eq(test_count(&test_r, "noop"), 0);
	bfree(&b);
}
END_TEST

START_TEST(one_byte_reads)
{
	struct buf b = { 0 };
	struct chunk *ch;
	struct run s;

	rich_session(&b);
	run_cuts(&test_cfg, b.p, b.n, NULL, 0, &test_r);
	ch = calloc(b.n, sizeof(*ch));
	for (size_t i = 0; i < b.n; i++)
		ch[i] = (struct chunk){ b.p + i, 1, 0 };
	test_session(&test_cfg, ch, b.n, &s);
	assert_same_run(&test_r, &s, "1-byte reads", 0);
	test_expect(&s, rich_codes);
	ck_assert_int_eq(test_int(test_event(&s, "disconnect", 0), "data.counters.bytes_in"), (long long)b.n);
	test_run_free(&s);
	free(ch);
	bfree(&b);
}
END_TEST

/* Every piece of up to four bytes in a read of its own: CRLFs, a UTF-8 character. */
START_TEST(three_reads_around_line_ends)
{
	static const char text[] = "HELO a\r\nMAIL FROM:<caf\xc3\xa9@x>\r\nNOOP\r\nQUIT\r\n";
	size_t n = sizeof(text) - 1;
	struct run s;

	run_cuts(&test_cfg, text, n, NULL, 0, &test_r);
	test_expect(&test_r, "220 250 250 250 221");
	for (size_t i = 1; i < n; i++) {
		for (size_t j = i + 1; j < n && j <= i + 4; j++) {
			size_t cuts[2] = { i, j };

			run_cuts(&test_cfg, text, n, cuts, 2, &s);
			assert_same_run(&test_r, &s, "cuts at", i * 1000 + j);
			test_run_free(&s);
		}
	}
}
END_TEST

/* --- 2. end of data across reads ----------------------------------------- */

static const char eod_session[] =
	"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
	"Subject: t\r\n\r\nbody\r\n..\r\n.\r\n"
	"MAIL FROM:<e@f>\r\nRCPT TO:<g@h>\r\nDATA\r\n.\r\nQUIT\r\n";

START_TEST(end_of_data_every_pair_of_cuts)
{
	const char *p = eod_session;
	size_t n = sizeof(eod_session) - 1, from, to;
	json_object *m;
	struct run s;

	run_cuts(&test_cfg, p, n, NULL, 0, &test_r);
	test_expect(&test_r, "220 250 250 250 354 250 250 250 354 250 221");
	m = test_event(&test_r, "message", 0);
	assert_stored(m, "Subject: t\r\n\r\nbody\r\n.\r\n", 23);
	ck_assert_int_eq(test_int(m, "data.dots_unstuffed"), 1);
	ck_assert_ptr_null(test_get(m, "data.anomalies.smuggling"));
	assert_stored(nth_event(&test_r, "message", 1), "", 0);
	ck_assert_uint_eq(test_count(&test_r, "mail_from"), 2);

	/* Every single cut anywhere, then every pair of cuts around both ends of data. */
	for (size_t cut = 1; cut < n; cut++) {
		run_cuts(&test_cfg, p, n, &cut, 1, &s);
		assert_same_run(&test_r, &s, "cut at", cut);
		test_run_free(&s);
	}
	for (int which = 0; which < 2; which++) {
		const char *at = which == 0 ? strstr(p, "body\r\n") : strstr(p, "DATA\r\n.\r\nQUIT") + 2;

		from = (size_t)(at - p);
		to = from + 16 < n ? from + 16 : n;
		for (size_t i = from; i < to; i++) {
			for (size_t j = i + 1; j < to; j++) {
				size_t cuts[2] = { i, j };

				run_cuts(&test_cfg, p, n, cuts, 2, &s);
				assert_same_run(&test_r, &s, "cuts at", i * 1000 + j);
				test_run_free(&s);
			}
		}
	}
}
END_TEST

/* Each byte of <CRLF>.<CRLF> in a read of its own. */
START_TEST(end_of_data_byte_by_byte)
{
	static const struct chunk ch[] = {
		CH("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nhello"), CH("\r"), CH("\n"), CH("."),
		CH("\r"), CH("\n"), CH("QUIT\r\n"),
	};

	test_session(&test_cfg, ch, 7, &test_r);
	test_expect(&test_r, "220 250 250 250 354 250 221");
	assert_stored(test_event(&test_r, "message", 0), "hello\r\n", 7);
	ck_assert(json_object_get_boolean(test_get(test_event(&test_r, "message", 0), "data.complete")));
}
END_TEST

/*
 * One client write bigger than a read: the end of data falls at every
 * position around the 64 KiB edge of the server's reads.
 */
START_TEST(end_of_data_at_read_edge)
{
	static const char head[] = "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n";
	static const char tail[] = "\r\n.\r\nNOOP\r\nQUIT\r\n";
	size_t hn = sizeof(head) - 1;

	for (size_t at = INPUT_BUFFER_SIZE - 8; at <= INPUT_BUFFER_SIZE + 2; at++) {
		struct buf b = { 0 };
		size_t body;
		json_object *m;

		bputs(&b, head);
		body = at - hn; /* tail starts at offset at */
		for (size_t i = 0; i < body; i++)
			bput(&b, i % 100 == 99 ? "\n" : "y", 1);
		bputs(&b, tail);
		session_of(&b);
		test_expect(&test_r, "220 250 250 250 354 250 250 221");
		m = test_event(&test_r, "message", 0);
		ck_assert(json_object_get_boolean(test_get(m, "data.complete")));
		ck_assert_int_eq(test_int(m, "data.size"), (long long)body + 2);
		ck_assert_int_eq(test_int(m, "data.received_bytes"), (long long)body + 2);
		ck_assert_uint_eq(test_count(&test_r, "noop"), 1);
		test_run_free(&test_r);
		bfree(&b);
	}
}
END_TEST

/* --- 3. smuggled ends of data -------------------------------------------- */

struct smuggle_form {
	const char *form;
	const char *stored;  /* what the form becomes in the stored message */
	size_t dot;          /* offset of the dot inside form */
	int unstuffed;       /* the dot starts a CRLF line: removed as stuffing */
};

static const struct smuggle_form forms[] = {
	{ "\n.\n", "\n.\n", 1, 0 },
	{ "\n.\r\n", "\n.\r\n", 1, 0 },
	{ "\r.\r", "\r.\r", 1, 0 },
	{ "\r\n.\r", "\r\n\r", 2, 1 },
	{ "\r\n.\n", "\r\n\n", 2, 1 },
	{ "\r.\n", "\r.\n", 1, 0 },
	{ "\r.\r\n", "\r.\r\n", 1, 0 },
	{ "\n.\r", "\n.\r", 1, 0 },
};

START_TEST(smuggling_forms_in_session)
{
	static const char head[] = "EHLO client.example.com\r\nMAIL FROM:<a@example.com>\r\n"
				   "RCPT TO:<b@example.com>\r\nDATA\r\n";
	static const char body[] = "Subject: s\r\n\r\nfirst";
	static const char after[] = "MAIL FROM:<boss@example.org>\r\nRCPT TO:<x@example.org>\r\nDATA\r\n"
				    "second\r\n";
	const struct smuggle_form *f = &forms[_i];
	struct buf b = { 0 }, want = { 0 };
	json_object *m;
	size_t start;

	bputs(&b, head);
	start = b.n;
	bputs(&b, body);
	bputs(&b, f->form);
	bputs(&b, after);
	bputs(&b, ".\r\nQUIT\r\n");
	bputs(&want, body);
	bputs(&want, f->stored);
	bputs(&want, after);

	/* Whole, and cut at every byte from the fake end to the real one. */
	same_under_splits(b.p, b.n, start + strlen(body) - 1, b.n);
	test_expect(&test_r, "220 250 250 250 354 250 221");
	ck_assert_uint_eq(test_count(&test_r, "message"), 1);
	ck_assert_uint_eq(test_count(&test_r, "mail_from"), 1);
	ck_assert_uint_eq(test_count(&test_r, "rcpt_to"), 1);
	ck_assert_uint_eq(test_count(&test_r, "data"), 1);
	ck_assert_str_eq(test_str(test_event(&test_r, "mail_from", 0), "data.from"), "a@example.com");
	m = test_event(&test_r, "message", 0);
	ck_assert(json_object_get_boolean(test_get(m, "data.complete")));
	ck_assert_str_eq(test_str(m, "data.end"), "crlf_dot_crlf");
	ck_assert_int_eq(test_int(m, "data.anomalies.smuggling.count"), 1);
	ck_assert_str_eq(test_str(m, "data.anomalies.smuggling.dot_lines.0.form"), f->form);
	ck_assert_int_eq(test_int(m, "data.anomalies.smuggling.dot_lines.0.offset"),
			 (long long)(strlen(body) + f->dot));
	ck_assert_int_eq(test_int(m, "data.dots_unstuffed"), f->unstuffed);
	/* The text after the fake end is message text, byte for byte. */
	assert_stored(m, want.p, want.n);
	ck_assert_str_eq(test_str(test_event(&test_r, "disconnect", 0), "data.reason"), "quit");
	bfree(&b);
	bfree(&want);
}
END_TEST

/* Every form at once, and a fake end first thing in the body. */
START_TEST(smuggling_all_forms_one_message)
{
	struct buf b = { 0 }, want = { 0 };
	json_object *m;
	size_t off = 0;

	bputs(&b, "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n.\nQUIT\r\n");
	bputs(&want, "\nQUIT\r\n");
	off = want.n;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		bputs(&b, "RSET");
		bputs(&b, forms[i].form);
		bputs(&want, "RSET");
		bputs(&want, forms[i].stored);
	}
	bputs(&b, "\r\n.\r\nQUIT\r\n");
	bputs(&want, "\r\n");
	run_cuts(&test_cfg, b.p, b.n, NULL, 0, &test_r);
	test_expect(&test_r, "220 250 250 250 354 250 221");
	ck_assert_uint_eq(test_count(&test_r, "rset"), 0);
	m = test_event(&test_r, "message", 0);
	assert_stored(m, want.p, want.n);
	ck_assert_int_eq(test_int(m, "data.anomalies.smuggling.count"), 1 + 8);
	ck_assert_str_eq(test_str(m, "data.anomalies.smuggling.dot_lines.0.form"), "\r\n.\n");
	ck_assert_int_eq(test_int(m, "data.anomalies.smuggling.dot_lines.0.offset"), 0);
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		char path[80];

		off += 4;
		snprintf(path, sizeof(path), "data.anomalies.smuggling.dot_lines.%zu.form", i + 1);
		ck_assert_str_eq(test_str(m, path), forms[i].form);
		snprintf(path, sizeof(path), "data.anomalies.smuggling.dot_lines.%zu.offset", i + 1);
		ck_assert_int_eq(test_int(m, path), (long long)(off + forms[i].dot));
		off += strlen(forms[i].stored);
	}
	bfree(&b);
	bfree(&want);
}
END_TEST

/* --- 4. an endless line -------------------------------------------------- */

#define ENDLESS (16ULL << 20)

START_TEST(endless_line_reader_keeps_max)
{
	static char block[INPUT_BUFFER_SIZE];
	enum { N = (int)(ENDLESS / INPUT_BUFFER_SIZE) };
	static struct chunk ch[N];
	struct line_reader lr;
	struct conn conn;

	memset(block, 'a', sizeof(block));
	for (int i = 0; i < N; i++)
		ch[i] = (struct chunk){ block, sizeof(block), 0 };
	test_conn(&conn, ch, N);
	ck_assert_int_eq(line_reader_init(&lr, &conn, 2048), 0);
	ck_assert_int_eq(line_read(&lr), 0);
	ck_assert_uint_eq(lr.len, 2048);
	ck_assert_uint_eq(lr.total, ENDLESS);
	ck_assert_uint_eq(lr.flags, LINE_TOO_LONG);
	line_reader_free(&lr);
}
END_TEST

START_TEST(endless_line_then_eof)
{
	/* CRs, NULs, bytes that are not UTF-8, but never an LF. */
	static const char noLF[8] = { '<', 'a', (char)0x80, '\r', ' ', '\0', 'z', '>' };
	const struct seg segs[] = {
		{ "EHLO x\r\n", 8, 8, 0 }, { "MAIL FROM:", 10, 10, 0 }, { noLF, 8, ENDLESS, 0 },
	};
	char prefix[TEXT_FIELD_MAX];
	size_t grew;
	json_object *d;

	grew = drive(&test_cfg, segs, 3, &test_r);
	test_expect(&test_r, "220 250");
	memcpy(prefix, "MAIL FROM:", 10);
	for (size_t i = 10; i < sizeof(prefix); i++)
		prefix[i] = noLF[(i - 10) % 8];
	d = test_event(&test_r, "disconnect", 0);
	ck_assert_str_eq(test_str(d, "data.reason"), "eof");
	assert_field_total(d, "unterminated_line", prefix, test_cfg.max_line_length, 10 + ENDLESS);
	ck_assert_int_eq(test_int(d, "data.counters.bytes_in"), (long long)(8 + 10 + ENDLESS));
	ck_assert_uint_eq(test_r.nevents, 3);
	ck_assert_msg(grew < 1024 * 1024, "heap grew by %zu bytes for a %llu-byte line", grew, ENDLESS);
}
END_TEST

START_TEST(endless_line_then_line_end)
{
	const struct seg segs[] = {
		{ "NOOP ", 5, 5, 0 }, { "abc", 3, ENDLESS, 0 }, { "\r\nQUIT\r\n", 8, 8, 0 },
	};
	char prefix[TEXT_FIELD_MAX];
	json_object *l;
	size_t grew;

	grew = drive(&test_cfg, segs, 3, &test_r);
	test_expect(&test_r, "220 500 221");
	ck_assert_ptr_nonnull(strstr(test_r.replies, "\r\n500 5.5.2 Error: line too long\r\n"));
	memcpy(prefix, "NOOP ", 5);
	for (size_t i = 5; i < sizeof(prefix); i++)
		prefix[i] = "abc"[(i - 5) % 3];
	l = test_event(&test_r, "limit", 0);
	ck_assert_str_eq(test_str(l, "data.limit"), "line_length");
	ck_assert_int_eq(test_int(l, "data.value"), 2048);
	assert_field_total(l, "line", prefix, test_cfg.max_line_length, 5 + ENDLESS);
	ck_assert_uint_eq(test_count(&test_r, "noop"), 0);
	ck_assert_msg(grew < 1024 * 1024, "heap grew by %zu bytes", grew);
}
END_TEST

START_TEST(endless_line_then_stall)
{
	const struct seg segs[] = {
		{ "HELO x\r\n", 8, 8, 0 }, { "z", 1, ENDLESS, 0 }, { "\r\n", 2, 2, 60000 },
	};
	json_object *t;

	test_cfg.idle_timeout = 10;
	drive(&test_cfg, segs, 3, &test_r);
	test_expect(&test_r, "220 250 421");
	t = test_event(&test_r, "timeout", 0);
	ck_assert_str_eq(test_str(t, "data.timeout"), "idle");
	ck_assert_int_eq(test_int(t, "data.partial_line_length"), (long long)ENDLESS);
	ck_assert(json_object_get_boolean(test_get(t, "data.partial_line_truncated")));
	ck_assert_str_eq(test_str(test_event(&test_r, "disconnect", 0), "data.reason"), "timeout");
}
END_TEST

/* An endless answer inside an AUTH exchange: refused, its length told. */
START_TEST(endless_auth_answer)
{
	const struct seg segs[] = {
		{ "EHLO x\r\nAUTH LOGIN\r\n", 20, 20, 0 }, { "QUFB", 4, ENDLESS, 0 }, { "\r\nNOOP\r\nQUIT\r\n", 14, 14, 0 },
	};
	json_object *a;
	size_t grew;

	grew = drive(&test_cfg, segs, 3, &test_r);
	test_expect(&test_r, "220 250 334 500 250 221");
	ck_assert_ptr_nonnull(strstr(test_r.replies, "\r\n500 5.5.6 Authentication Exchange line is too long\r\n"));
	a = test_event(&test_r, "auth", 0);
	ck_assert_str_eq(test_str(a, "data.result"), "too_long");
	ck_assert_int_eq(test_int(a, "data.answer_length"), (long long)ENDLESS);
	ck_assert_ptr_null(test_get(a, "data.username"));
	ck_assert_uint_eq(strlen(test_str(a, "data.raw.0")), TEXT_FIELD_MAX);
	ck_assert_uint_eq(test_count(&test_r, "noop"), 1);
	ck_assert_msg(grew < 1024 * 1024, "heap grew by %zu bytes", grew);
}
END_TEST

/* The same answer, then the client leaves: the disconnect keeps its length. */
START_TEST(endless_auth_answer_then_eof)
{
	const struct seg segs[] = { { "EHLO x\r\nAUTH LOGIN\r\n", 20, 20, 0 }, { "QUFB", 4, ENDLESS, 0 } };
	json_object *d;

	drive(&test_cfg, segs, 2, &test_r);
	test_expect(&test_r, "220 250 334");
	ck_assert_str_eq(test_str(test_event(&test_r, "auth", 0), "data.result"), "incomplete");
	d = test_event(&test_r, "disconnect", 0);
	ck_assert_str_eq(test_str(d, "data.reason"), "eof");
	ck_assert_int_eq(test_int(d, "data.unterminated_line_length"), (long long)ENDLESS);
	ck_assert(json_object_get_boolean(test_get(d, "data.unterminated_line_truncated")));
}
END_TEST

/*
 * SIGTERM (systemctl stop) while a reply is being written to a client that
 * does not read: the session ends as a signal, like any other SIGTERM.
 */
START_TEST(sigterm_during_a_write)
{
	const struct seg segs[] = { { "EHLO x\r\nNOOP\r\nNOOP\r\n", 20, 20, 0 }, { "NOOP\r\n", 6, 6, 1000 } };
	json_object *d;

	signal_at_write = 2; /* the banner goes out, the replies to the burst do not */
	drive(&test_cfg, segs, 2, &test_r);
	test_invariants(&test_r);
	ck_assert_uint_eq(test_count(&test_r, "noop"), 2);
	d = test_event(&test_r, "disconnect", 0);
	ck_assert_msg(strcmp(test_str(d, "data.reason"), "signal") == 0, "SIGTERM during a write ended as %s",
		      test_str(d, "data.reason"));
	ck_assert_int_eq(test_int(d, "data.signal"), SIGTERM);
}
END_TEST

/* --- 5. megabyte lines in DATA ------------------------------------------- */

#define MEG_LINE (3ULL << 20)

START_TEST(megabyte_lines_stored_intact)
{
	const struct seg msg[] = {
		{ "Subject: big\r\n\r\n", 16, 16, 0 },
		{ "0123456789abcdef", 16, MEG_LINE, 0 },
		{ "\r\nmiddle\n", 9, 9, 0 },
		{ "Q", 1, MEG_LINE + 1, 0 },
		{ "\r\n", 2, 2, 0 },
	};
	const struct seg segs[] = {
		{ "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n", 46, 46, 0 },
		msg[0], msg[1], msg[2], msg[3], msg[4],
		{ ".\r\nQUIT\r\n", 9, 9, 0 },
	};
	char hex[65];
	json_object *m;
	size_t grew;

	use_spool();
	grew = drive(&test_cfg, segs, 7, &test_r);
	test_expect(&test_r, "220 250 250 250 354 250 221");
	m = test_event(&test_r, "message", 0);
	ck_assert(json_object_get_boolean(test_get(m, "data.complete")));
	ck_assert(!json_object_get_boolean(test_get(m, "data.truncated")));
	ck_assert_int_eq(test_int(m, "data.size"), (long long)(16 + MEG_LINE + 9 + MEG_LINE + 1 + 2));
	ck_assert_int_eq(test_int(m, "data.anomalies.long_line.count"), 2);
	ck_assert_int_eq(test_int(m, "data.anomalies.long_line.first_offset"), 16);
	ck_assert_int_eq(test_int(m, "data.anomalies.long_line.longest"), (long long)MEG_LINE + 1);
	ck_assert_int_eq(test_int(m, "data.anomalies.bare_lf.count"), 1);
	ck_assert_str_eq(test_str(m, "data.headers.subject"), "big");
	seg_sha(msg, 5, hex);
	ck_assert_str_eq(test_str(m, "data.sha256"), hex);
	assert_spool_file(m, msg, 5);
	ck_assert_msg(grew < 1024 * 1024, "heap grew by %zu bytes for a 6 MiB message", grew);
	drop_spool();
}
END_TEST

START_TEST(megabyte_line_cut_at_size_cap)
{
	const struct seg body = { "xyz", 3, MEG_LINE, 0 };
	const struct seg kept = { "xyz", 3, 1000000, 0 };
	const struct seg segs[] = {
		{ "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n", 46, 46, 0 },
		body,
		{ "\r\n..after\r\n.\r\nNOOP\r\nQUIT\r\n", 26, 26, 0 },
	};
	char hex[65];
	json_object *m, *l;

	use_spool();
	test_cfg.max_message_size = 1000000;
	drive(&test_cfg, segs, 3, &test_r);
	test_expect(&test_r, "220 250 250 250 354 552 250 221");
	ck_assert_ptr_nonnull(strstr(test_r.replies, "\r\n552 5.3.4 Message size exceeds fixed limit\r\n"));
	m = test_event(&test_r, "message", 0);
	ck_assert(json_object_get_boolean(test_get(m, "data.complete")));
	ck_assert(json_object_get_boolean(test_get(m, "data.truncated")));
	ck_assert_int_eq(test_int(m, "data.size"), 1000000);
	ck_assert_int_eq(test_int(m, "data.received_bytes"), (long long)MEG_LINE + 2 + 6 + 2);
	ck_assert_int_eq(test_int(m, "data.dots_unstuffed"), 1);
	ck_assert_int_eq(test_int(m, "data.anomalies.long_line.longest"), (long long)MEG_LINE);
	seg_sha(&kept, 1, hex);
	ck_assert_str_eq(test_str(m, "data.sha256"), hex);
	assert_spool_file(m, &kept, 1);
	l = test_event(&test_r, "limit", 0);
	ck_assert_str_eq(test_str(l, "data.limit"), "message_size");
	ck_assert_int_eq(test_int(l, "data.value"), 1000000);
	ck_assert_uint_eq(test_count(&test_r, "noop"), 1);
	drop_spool();
}
END_TEST

/* --- 6. TLS and other binary on the plaintext port ------------------------ */

static size_t load_hello(unsigned char *buf, size_t cap)
{
	FILE *f = fopen("tests/data/clienthello-openssl.bin", "rb");
	size_t n;

	ck_assert_msg(f != NULL, "cannot open tests/data/clienthello-openssl.bin (run from the repository root)");
	n = fread(buf, 1, cap, f);
	fclose(f);
	ck_assert_uint_gt(n, 100);
	return n;
}

/*
 * The client bytes rebuilt from the events of commands: each line's exact
 * bytes plus the line end its flags tell, then the unterminated rest.
 */
static size_t rebuild(const struct run *x, unsigned char *out, size_t cap)
{
	static unsigned char tmp[TEXT_FIELD_MAX * 2];
	size_t o = 0;

	for (size_t i = 1; i < x->nevents; i++) {
		json_object *e = x->events[i];
		const char *name = test_str(e, "event");
		size_t n;

		if (strcmp(name, "disconnect") == 0) {
			if (test_get(e, "data.unterminated_line") != NULL) {
				n = field_bytes(e, "unterminated_line", tmp, sizeof(tmp));
				ck_assert_uint_le(o + n, cap);
				memcpy(out + o, tmp, n);
				o += n;
			}
			continue;
		}
		if (test_get(e, "data.line") == NULL)
			continue;
		ck_assert_ptr_null(test_get(e, "data.line_truncated"));
		n = field_bytes(e, "line", tmp, sizeof(tmp));
		ck_assert_uint_le(o + n + 2, cap);
		memcpy(out + o, tmp, n);
		o += n;
		if (has_flag(e, "bare_lf")) {
			out[o++] = '\n';
		} else {
			out[o++] = '\r';
			out[o++] = '\n';
		}
	}
	return o;
}

START_TEST(client_hello_on_plaintext_port)
{
	static unsigned char hello[4096], back[8192];
	size_t n = load_hello(hello, sizeof(hello)), lfs = 0, k;
	struct chunk ch[] = { { (const char *)hello, n, 0 } };

	for (size_t i = 0; i < n; i++)
		lfs += hello[i] == '\n';
	ck_assert_uint_eq(lfs, 3);
	test_session(&test_cfg, ch, 1, &test_r);
	test_expect(&test_r, "220 500 500 500");
	ck_assert_uint_eq(test_count(&test_r, "unknown_command"), 3);
	ck_assert_uint_eq(test_r.nevents, 5);
	for (size_t i = 1; i <= 3; i++) {
		json_object *e = test_r.events[i];

		ck_assert_str_eq(test_str(e, "event"), "unknown_command");
		ck_assert_str_eq(test_str(e, "data.reply"), "500 5.5.2 Error: command not recognized");
		ck_assert_str_eq(test_str(e, "level"), "WARN");
	}
	/* The record header is not UTF-8: shown with U+FFFD, kept exactly in line_b64. */
	ck_assert_ptr_nonnull(test_get(test_r.events[1], "data.line_b64"));
	ck_assert_ptr_nonnull(memmem(test_str(test_r.events[1], "data.line"),
				     (size_t)json_object_get_string_len(test_get(test_r.events[1], "data.line")), "\xef\xbf\xbd", 3));
	/* Its verb (up to the first space or tab) is kept exactly too. */
	for (k = 0; k < n && hello[k] != ' ' && hello[k] != '\t' && hello[k] != '\n'; k++)
		;
	assert_field(test_r.events[1], "verb", hello, k);
	ck_assert_str_eq(test_str(test_event(&test_r, "disconnect", 0), "data.reason"), "eof");
	k = rebuild(&test_r, back, sizeof(back));
	ck_assert_uint_eq(k, n);
	ck_assert_int_eq(memcmp(back, hello, n), 0);
	ck_assert_int_eq(test_int(test_event(&test_r, "disconnect", 0), "data.counters.unknown_commands"), 3);
}
END_TEST

/* A scanner that keeps sending hellos: the error limit ends it, cleanly. */
START_TEST(client_hellos_until_error_limit)
{
	static unsigned char hello[4096], burst[40960], back[65536];
	size_t n = load_hello(hello, sizeof(hello)), lf20 = 0, seen = 0, k;
	struct chunk ch[1];
	char want[512] = "220";

	for (int i = 0; i < 10; i++)
		memcpy(burst + i * n, hello, n);
	ch[0] = (struct chunk){ (const char *)burst, 10 * n, 0 };
	test_session(&test_cfg, ch, 1, &test_r);
	for (int i = 0; i < 20; i++)
		strcat(want, " 500");
	strcat(want, " 421");
	test_expect(&test_r, want);
	ck_assert_ptr_nonnull(strstr(test_r.replies, "\r\n421 4.7.0 mx.example.com Error: too many errors\r\n"));
	ck_assert_uint_eq(test_count(&test_r, "unknown_command"), 20);
	ck_assert_str_eq(test_str(test_event(&test_r, "limit", 0), "data.limit"), "errors");
	ck_assert_str_eq(test_str(test_event(&test_r, "disconnect", 0), "data.reason"), "max_errors");
	ck_assert_uint_eq(test_r.nevents, 1 + 20 + 2);
	for (size_t i = 0; i < 10 * n && seen < 20; i++) {
		if (burst[i] == '\n' && ++seen == 20)
			lf20 = i + 1;
	}
	k = rebuild(&test_r, back, sizeof(back));
	ck_assert_uint_eq(k, lf20);
	ck_assert_int_eq(memcmp(back, burst, lf20), 0);
}
END_TEST

/* Every byte value, in lines of pseudo-random binary. */
START_TEST(random_binary)
{
	static unsigned char noise[60000], back[sizeof(noise) + 4096];
	unsigned long long x = 0x9e3779b97f4a7c15ULL;
	struct chunk ch[1];
	size_t lines = 0, errs, k;

	for (size_t i = 0; i < sizeof(noise); i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		noise[i] = (unsigned char)(x >> 24);
		/* An LF now and then, and every byte value at the start. */
		if (i < 256)
			noise[i] = (unsigned char)i;
		else if (noise[i] == '\n' && (x & 1))
			noise[i] = 0;
		if (i % 97 == 96)
			noise[i] = '\n';
	}
	for (size_t i = 0; i < sizeof(noise); i++)
		lines += noise[i] == '\n';
	test_cfg.max_errors = 0; /* no error limit: every line is answered */
	test_cfg.max_commands = 1000000;
	ch[0] = (struct chunk){ (const char *)noise, sizeof(noise), 0 };
	test_session(&test_cfg, ch, 1, &test_r);
	test_invariants(&test_r);
	errs = (size_t)test_int(test_event(&test_r, "disconnect", 0), "data.counters.errors");
	ck_assert_uint_eq(errs, lines);
	ck_assert_uint_eq(test_count(&test_r, "unknown_command") + test_count(&test_r, "limit"), lines);
	ck_assert_uint_eq(test_r.nevents, lines + 2);
	/* The binary never ran a command by accident, and every byte is in the events. */
	for (size_t i = 1; i + 1 < test_r.nevents; i++) {
		const char *name = test_str(test_r.events[i], "event");

		ck_assert_msg(strcmp(name, "unknown_command") == 0, "event %zu is %s", i, name);
		ck_assert_int_eq(test_int(test_r.events[i], "data.code"), 500);
	}
	k = rebuild(&test_r, back, sizeof(back));
	ck_assert_uint_eq(k, sizeof(noise));
	ck_assert_int_eq(memcmp(back, noise, sizeof(noise)), 0);
}
END_TEST

START_TEST(other_protocols)
{
	static const struct chunk ch[] = {
		CH("GET / HTTP/1.1\r\nHost: mx.example.com\r\n\r\n"),
		CH("SSH-2.0-OpenSSH_9.2p1\r\n"),
		{ "\x00\x00\x00\x2f\xff\x53\x4d\x42\x72\x00\r\n", 12, 0 }, /* SMB */
		CH("QUIT\r\n"),
	};

	test_session(&test_cfg, ch, 4, &test_r);
	test_expect(&test_r, "220 500 500 500 500 500 221");
	ck_assert_str_eq(test_str(test_event(&test_r, "unknown_command", 0), "data.verb"), "GET");
	ck_assert_str_eq(test_str(nth_event(&test_r, "unknown_command", 1), "data.verb"), "Host:");
	ck_assert_str_eq(test_str(nth_event(&test_r, "unknown_command", 2), "data.verb"), "");
	ck_assert_str_eq(test_str(nth_event(&test_r, "unknown_command", 3), "data.line"), "SSH-2.0-OpenSSH_9.2p1");
	assert_field(nth_event(&test_r, "unknown_command", 4), "line", "\x00\x00\x00\x2f\xff\x53\x4d\x42\x72\x00", 10);
	ck_assert(has_flag(nth_event(&test_r, "unknown_command", 4), "nul"));
}
END_TEST

/* --- 7. every verb in every state ----------------------------------------- */

enum { S_C, S_G, S_M, S_R, NSTATES };

static const char *const state_prefix[NSTATES] = {
	"",
	"EHLO x\r\n",
	"EHLO x\r\nMAIL FROM:<a@b>\r\n",
	"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n",
};
static const int prefix_commands[NSTATES] = { 0, 1, 2, 3 };

#define EHLO_REPLY "250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n" \
		   "250-AUTH PLAIN LOGIN CRAM-MD5\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SMTPUTF8"

struct verb_case {
	const char *send;  /* the command (and, for DATA, the message) */
	const char *event;
	unsigned allowed;  /* bits of the states (1 << S_x) */
	const char *wrong; /* the 503 text after HELO/EHLO */
	const char *reply; /* the reply when allowed */
	int next[NSTATES]; /* state after it when allowed; -1: the session ended */
};

#define SAME { S_C, S_G, S_M, S_R }
#define ALL 15u

static const struct verb_case verbs[] = {
	{ "AUTH PLAIN AHUAcA==\r\n", "auth", 1 << S_G, "Error: MAIL transaction in progress",
	  "535 5.7.8 Error: authentication failed: authentication failure", SAME },
	{ "DATA\r\nx\r\n.\r\n", "data", 1 << S_R, "Error: need RCPT command",
	  "354 End data with <CR><LF>.<CR><LF>", { 0, 0, 0, S_G } },
	{ "EHLO y\r\n", "ehlo", ALL, NULL, EHLO_REPLY, { S_G, S_G, S_G, S_G } },
	{ "EXPN staff\r\n", "expn", ALL, NULL, "502 5.5.1 EXPN command is disabled", SAME },
	{ "HELO y\r\n", "helo", ALL, NULL, "250 mx.example.com", { S_G, S_G, S_G, S_G } },
	{ "HELP\r\n", "help", ALL, NULL, "214 2.0.0 Commands: HELO EHLO AUTH MAIL RCPT DATA RSET NOOP VRFY QUIT",
	  SAME },
	{ "MAIL FROM:<m@x>\r\n", "mail_from", 1 << S_G, "Error: nested MAIL command", "250 2.1.0 Ok",
	  { 0, S_M, 0, 0 } },
	{ "NOOP\r\n", "noop", ALL, NULL, "250 2.0.0 Ok", SAME },
	{ "QUIT\r\n", "quit", ALL, NULL, "221 2.0.0 Bye", { -1, -1, -1, -1 } },
	{ "RCPT TO:<r@x>\r\n", "rcpt_to", 1 << S_M | 1 << S_R, "Error: need MAIL command", "250 2.1.5 Ok",
	  { 0, 0, S_R, S_R } },
	{ "RSET\r\n", "rset", ALL, NULL, "250 2.0.0 Ok", { S_C, S_G, S_G, S_G } },
	{ "STARTTLS\r\n", "starttls", 1 << S_C | 1 << S_G, "Error: MAIL transaction in progress",
	  "502 5.5.1 Error: command not implemented", SAME },
	{ "VRFY root\r\n", "vrfy", ALL, NULL,
	  "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery", SAME },
	/* Lower case is the same command. */
	{ "mail from:<m@x>\r\n", "mail_from", 1 << S_G, "Error: nested MAIL command", "250 2.1.0 Ok",
	  { 0, S_M, 0, 0 } },
	{ "rcpt to:<r@x>\r\n", "rcpt_to", 1 << S_M | 1 << S_R, "Error: need MAIL command", "250 2.1.5 Ok",
	  { 0, 0, S_R, S_R } },
	{ "dAtA\r\nx\r\n.\r\n", "data", 1 << S_R, "Error: need RCPT command",
	  "354 End data with <CR><LF>.<CR><LF>", { 0, 0, 0, S_G } },
};

/*
 * The state, read back from two probes: MAIL then DATA.
 *   C: 503 send HELO first, 503 send HELO first   G: 250, 503 need RCPT
 *   M: 503 nested, 503 need RCPT                  R: 503 nested, 354
 */
static int probed_state(const struct run *x, size_t from)
{
	json_object *m = test_event(x, "mail_from", from), *d = test_event(x, "data", from);
	const char *mr, *dr;

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(test_str(m, "data.line"), "MAIL FROM:<probe@x>");
	mr = test_str(m, "data.reply");
	dr = test_str(d, "data.reply");
	if (strcmp(mr, "503 5.5.1 Error: send HELO/EHLO first") == 0 &&
	    strcmp(dr, "503 5.5.1 Error: send HELO/EHLO first") == 0)
		return S_C;
	if (strcmp(mr, "250 2.1.0 Ok") == 0 && strcmp(dr, "503 5.5.1 Error: need RCPT command") == 0)
		return S_G;
	if (strcmp(mr, "503 5.5.1 Error: nested MAIL command") == 0 &&
	    strcmp(dr, "503 5.5.1 Error: need RCPT command") == 0)
		return S_M;
	if (strcmp(mr, "503 5.5.1 Error: nested MAIL command") == 0 &&
	    strcmp(dr, "354 End data with <CR><LF>.<CR><LF>") == 0)
		return S_R;
	ck_abort_msg("unknown state: MAIL probe %s, DATA probe %s", mr, dr);
	return -1;
}

START_TEST(every_verb_in_every_state)
{
	const struct verb_case *v = &verbs[_i / NSTATES];
	int st = _i % NSTATES, allowed = (v->allowed >> st) & 1;
	struct buf b = { 0 };
	struct chunk ch[1];
	json_object *e;
	size_t at = 1 + (size_t)prefix_commands[st];

	bputs(&b, state_prefix[st]);
	bputs(&b, v->send);
	bputs(&b, "MAIL FROM:<probe@x>\r\nDATA\r\n.\r\nQUIT\r\n");
	ch[0] = (struct chunk){ b.p, b.n, 0 };
	test_session(&test_cfg, ch, 1, &test_r);
	test_invariants(&test_r);
	e = test_r.events[at];
	ck_assert_str_eq(test_str(e, "event"), v->event);
	if (!allowed) {
		char want[128];

		snprintf(want, sizeof(want), "503 5.5.1 %s",
			 st == S_C ? "Error: send HELO/EHLO first" : v->wrong);
		ck_assert_str_eq(test_str(e, "data.reply"), want);
		ck_assert_int_eq(test_int(e, "data.code"), 503);
		ck_assert(has_flag(e, "bad_sequence"));
		/* A refused command changes nothing; a DATA refused reads no message. */
		ck_assert_int_eq(probed_state(&test_r, at + 1), st);
		ck_assert_uint_eq(test_count(&test_r, "message"), st == S_R && strcmp(v->event, "data") != 0 ? 1 : 0);
	} else {
		ck_assert_str_eq(test_str(e, "data.reply"), v->reply);
		ck_assert(!has_flag(e, "bad_sequence"));
		if (v->next[st] < 0) {
			ck_assert_str_eq(test_str(test_event(&test_r, "disconnect", 0), "data.reason"), "quit");
			ck_assert_uint_eq(test_r.nevents, at + 2);
		} else {
			ck_assert_int_eq(probed_state(&test_r, at + 1), v->next[st]);
		}
	}
	bfree(&b);
}
END_TEST

/* Inside an AUTH exchange, a command is an answer, never a command. */
START_TEST(commands_inside_auth_are_answers)
{
	static const struct chunk ch[] = {
		CH("EHLO x\r\nAUTH LOGIN\r\nQUIT\r\nMAIL FROM:<a@b>\r\nNOOP\r\nQUIT\r\n"),
	};
	json_object *a;

	test_session(&test_cfg, ch, 1, &test_r);
	test_expect(&test_r, "220 250 334 334 501 250 221");
	ck_assert_ptr_nonnull(strstr(test_r.replies, "\r\n501 5.5.2 Cannot decode response\r\n"));
	a = test_event(&test_r, "auth", 0);
	ck_assert_str_eq(test_str(a, "data.result"), "malformed");
	ck_assert_str_eq(test_str(a, "data.raw.0"), "QUIT");
	ck_assert_str_eq(test_str(a, "data.raw.1"), "MAIL FROM:<a@b>");
	ck_assert_uint_eq(test_count(&test_r, "mail_from"), 0);
	ck_assert_uint_eq(test_count(&test_r, "quit"), 1);
	ck_assert_uint_eq(test_r.nevents, 6);
}
END_TEST

/* --- 8. dot-stuffing ------------------------------------------------------ */

struct stuff_case {
	const char *body; /* as sent, before the final <CRLF>.<CRLF> (which it ends with CRLF) */
	const char *stored;
	int unstuffed;
};

static const struct stuff_case stuffing[] = {
	{ "", "", 0 },
	{ "..\r\n", ".\r\n", 1 },
	{ "...\r\n", "..\r\n", 1 },
	{ "..x\r\n", ".x\r\n", 1 },
	{ "..\r\n..\r\n", ".\r\n.\r\n", 2 },
	{ ".x\r\n", "x\r\n", 1 },            /* unstuffed per RFC 5321 4.5.2 even if not needed */
	{ "a\n..b\r\n", "a\n..b\r\n", 0 },  /* after a bare LF the dot is text */
	{ "a\r\n..b\r\n", "a\r\n.b\r\n", 1 },
};

START_TEST(dot_stuffing_at_body_start)
{
	const struct stuff_case *c = &stuffing[_i];
	struct buf b = { 0 };
	json_object *m;
	size_t start;

	bputs(&b, "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
	start = b.n;
	bputs(&b, c->body);
	bputs(&b, ".\r\nNOOP\r\nQUIT\r\n");
	same_under_splits(b.p, b.n, start - 2, b.n);
	test_expect(&test_r, "220 250 250 250 354 250 250 221");
	m = test_event(&test_r, "message", 0);
	assert_stored(m, c->stored, strlen(c->stored));
	ck_assert_int_eq(test_int(m, "data.dots_unstuffed"), c->unstuffed);
	ck_assert_ptr_null(test_get(m, "data.anomalies.smuggling"));
	bfree(&b);
}
END_TEST

START_TEST(dot_stuffing_after_long_lines)
{
	static const size_t lens[] = { 998, 999, 5000, INPUT_BUFFER_SIZE - 60, INPUT_BUFFER_SIZE + 3, 300000 };
	size_t len = lens[_i];
	struct buf b = { 0 }, want = { 0 };
	json_object *m;
	size_t start;

	bputs(&b, "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
	start = b.n;
	bfill(&b, 'w', len);
	bputs(&b, "\r\n..after\r\n");
	bfill(&b, 'v', len);
	bputs(&b, "\r\n.\r\nNOOP\r\nQUIT\r\n");
	bfill(&want, 'w', len);
	bputs(&want, "\r\n.after\r\n");
	bfill(&want, 'v', len);
	bputs(&want, "\r\n");
	/* Cut around each stuffed or ending dot. */
	same_under_splits(b.p, b.n, start + len - 3, start + len + 8);
	same_under_splits(b.p, b.n, b.n - 20, b.n);
	test_expect(&test_r, "220 250 250 250 354 250 250 221");
	m = test_event(&test_r, "message", 0);
	assert_stored(m, want.p, want.n);
	ck_assert_int_eq(test_int(m, "data.dots_unstuffed"), 1);
	if (len > BODY_LINE_MAX) {
		ck_assert_int_eq(test_int(m, "data.anomalies.long_line.count"), 2);
		ck_assert_int_eq(test_int(m, "data.anomalies.long_line.longest"), (long long)len);
	} else {
		ck_assert_ptr_null(test_get(m, "data.anomalies.long_line"));
	}
	bfree(&b);
	bfree(&want);
}
END_TEST

/* --- 9. CR and LF inside arguments --------------------------------------- */

struct cr_case {
	const char *prefix; /* commands before */
	const char *line;   /* the line with the hidden CR, sent with CRLF */
	const char *event;
	const char *reply;
	const char *key, *value; /* a field that must hold the bytes exactly */
};

static const struct cr_case crs[] = {
	{ "EHLO x\r\n", "MAIL FROM:<a@b>\rRCPT TO:<c@d>", "mail_from", "501 5.1.7 Bad sender address syntax",
	  "argument", "<a@b>\rRCPT TO:<c@d>" },
	{ "", "HELO x\rQUIT", "helo", "250 mx.example.com", "name", "x\rQUIT" },
	{ "", "EHLO x\rBcc: victim@example.com", "ehlo", EHLO_REPLY, "name", "x\rBcc: victim@example.com" },
	{ "EHLO x\r\nMAIL FROM:<a@b>\r\n", "RCPT TO:<c@d>\rDATA", "rcpt_to", "501 5.1.3 Bad recipient address syntax",
	  "argument", "<c@d>\rDATA" },
	{ "EHLO x\r\n", "VRFY root\rQUIT", "vrfy",
	  "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery", "address", "root\rQUIT" },
	{ "EHLO x\r\n", "NOOP\rQUIT", "unknown_command", "500 5.5.2 Error: command not recognized", "verb",
	  "NOOP\rQUIT" },
	{ "EHLO x\r\n", "QUIT\r", "unknown_command", "500 5.5.2 Error: command not recognized", "verb", "QUIT\r" },
	{ "EHLO x\r\n", "RSET\rMAIL FROM:<a@b>", "unknown_command", "500 5.5.2 Error: command not recognized",
	  "verb", "RSET\rMAIL" },
	{ "EHLO x\r\n", "RSET \rMAIL FROM:<a@b>", "rset", "501 5.5.4 Syntax: RSET", "line",
	  "RSET \rMAIL FROM:<a@b>" },
	{ "EHLO x\r\n", "MAIL FROM:<a@b> BODY=8BITMIME\rRCPT", "mail_from", "501 5.5.4 Bad BODY keyword",
	  "line", "MAIL FROM:<a@b> BODY=8BITMIME\rRCPT" },
};

START_TEST(bare_cr_inside_arguments)
{
	const struct cr_case *c = &crs[_i];
	struct buf b = { 0 };
	json_object *e;
	size_t at;

	bputs(&b, c->prefix);
	bputs(&b, c->line);
	bputs(&b, "\r\nNOOP\r\nQUIT\r\n");
	same_under_splits(b.p, b.n, strlen(c->prefix), b.n);
	at = test_r.nevents - 4; /* ..., the line, noop, quit, disconnect */
	e = test_r.events[at];
	ck_assert_str_eq(test_str(e, "event"), c->event);
	ck_assert_str_eq(test_str(e, "data.reply"), c->reply);
	assert_field(e, "line", c->line, strlen(c->line));
	assert_field(e, c->key, c->value, strlen(c->value));
	ck_assert(has_flag(e, "bare_cr"));
	/* One event for the line, and the session goes on: NOOP, then QUIT. */
	ck_assert_str_eq(test_str(test_r.events[at + 1], "event"), "noop");
	ck_assert_str_eq(test_str(test_r.events[at + 2], "event"), "quit");
	ck_assert_uint_eq(test_count(&test_r, "quit"), 1);
	ck_assert_uint_eq(test_count(&test_r, "rcpt_to"), strcmp(c->event, "rcpt_to") == 0);
	ck_assert_uint_eq(test_count(&test_r, "data"), 0);
	ck_assert_uint_eq(test_r.nevents, 1 + (size_t)(c->prefix[0] != '\0') + (strstr(c->prefix, "MAIL") != NULL) + 4);
	ck_assert_int_eq(test_int(test_event(&test_r, "disconnect", 0), "data.counters.commands"),
			 (long long)(test_r.nevents - 2));
	bfree(&b);
}
END_TEST

START_TEST(bare_cr_in_auth_answer)
{
	static const struct chunk ch[] = { CH("EHLO x\r\nAUTH LOGIN\r\ndXNlcg==\rcGFzcw==\r\nNOOP\r\nQUIT\r\n") };
	json_object *a;

	test_session(&test_cfg, ch, 1, &test_r);
	test_expect(&test_r, "220 250 334 501 250 221");
	a = test_event(&test_r, "auth", 0);
	ck_assert_str_eq(test_str(a, "data.result"), "malformed");
	ck_assert_str_eq(test_str(a, "data.raw.0"), "dXNlcg==\rcGFzcw==");
	ck_assert_uint_eq(test_r.nevents, 6);
}
END_TEST

START_TEST(header_injection_in_data)
{
	static const char body[] = "Subject: x\rBcc: y@example.com\r\nX-Mailer: m\rQUIT\r\n\r\ntext\r\n";
	struct buf b = { 0 };
	json_object *m;

	bputs(&b, "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
	bputs(&b, body);
	bputs(&b, ".\r\nQUIT\r\n");
	same_under_splits(b.p, b.n, 40, b.n);
	test_expect(&test_r, "220 250 250 250 354 250 221");
	m = test_event(&test_r, "message", 0);
	assert_stored(m, body, sizeof(body) - 1);
	ck_assert_str_eq(test_str(m, "data.headers.subject"), "x\rBcc: y@example.com");
	ck_assert_str_eq(test_str(m, "data.headers.x_mailer"), "m\rQUIT");
	ck_assert_int_eq(test_int(m, "data.headers.count"), 2);
	ck_assert_int_eq(test_int(m, "data.anomalies.bare_cr.count"), 2);
	ck_assert_int_eq(test_int(m, "data.anomalies.bare_cr.first_offset"), 10);
	ck_assert_uint_eq(test_r.nevents, 8);
	bfree(&b);
}
END_TEST

/*
 * A bare LF is a line end by design (lenient, like the MTAs spammers
 * target): the second command runs, and the first is flagged bare_lf.
 */
START_TEST(bare_lf_inside_a_line_ends_it_flagged)
{
	static const struct chunk ch[] = { CH("HELO x\nNOOP\r\nQUIT\r\n") };

	test_session(&test_cfg, ch, 1, &test_r);
	test_expect(&test_r, "220 250 250 221");
	ck_assert_str_eq(test_str(test_event(&test_r, "helo", 0), "data.name"), "x");
	ck_assert(has_flag(test_event(&test_r, "helo", 0), "bare_lf"));
	ck_assert(!has_flag(test_event(&test_r, "noop", 0), "bare_lf"));
}
END_TEST

/* --- 10. inputs from MTA exploits ----------------------------------------- */

struct exploit {
	const char *name;
	const char *prefix;
	const char *line;
	size_t len;          /* 0: strlen(line) */
	const char *event;
	const char *reply;
	const char *key;     /* a field holding exact bytes, or NULL */
	const char *value;
	size_t vlen;         /* 0: strlen(value) */
	const char *flag;    /* a flag it must carry, or NULL */
};

#define EX(...) { __VA_ARGS__ }

static const struct exploit exploits[] = {
	/* OpenSMTPD CVE-2020-7247: a shell command in the sender. */
	EX("opensmtpd", "HELO x\r\n", "MAIL FROM:<;sleep 66;>", 0, "mail_from", "501 5.1.7 Bad sender address syntax",
	   "argument", "<;sleep 66;>", 0, NULL),
	EX("opensmtpd-nospace", "HELO x\r\n", "MAIL FROM:<;id;>", 0, "mail_from", "250 2.1.0 Ok", "from", ";id;", 0,
	   NULL),
	/* Exim CVE-2019-10149: an expansion in the recipient, escaped as the exploit sends it. */
	EX("exim-10149", "HELO x\r\nMAIL FROM:<>\r\n",
	   "RCPT TO:<${run{\\x2fbin\\x2fsh\\t-c\\t\\x22id\\x22}}@localhost>", 0, "rcpt_to", "250 2.1.5 Ok", "to",
	   "${run{\\x2fbin\\x2fsh\\t-c\\t\\x22id\\x22}}@localhost", 0, NULL),
	EX("exim-10149-raw-tab", "HELO x\r\nMAIL FROM:<>\r\n", "RCPT TO:<${run{/bin/sh\t-c\t\"id\"}}@localhost>", 0,
	   "rcpt_to", "501 5.1.3 Bad recipient address syntax", "argument", "<${run{/bin/sh\t-c\t\"id\"}}@localhost>",
	   0, NULL),
	/* Exim 21Nails: AUTH= xtext with backslashes. */
	EX("auth-backslashes", "EHLO x\r\n", "MAIL FROM:<a@b> AUTH=\\\\\\\\\\\\\\\\", 0, "mail_from",
	   "250 2.1.0 Ok", "params.0.value", "\\\\\\\\\\\\\\\\", 0, NULL),
	EX("auth-trailing-backslash", "EHLO x\r\n", "MAIL FROM:<> AUTH=a\\", 0, "mail_from", "250 2.1.0 Ok",
	   "params.0.value", "a\\", 0, NULL),
	EX("auth-empty-brackets", "EHLO x\r\n", "MAIL FROM:<a@b> SIZE=1 BODY=8BITMIME AUTH=<>", 0, "mail_from",
	   "250 2.1.0 Ok", "params.2.value", "<>", 0, NULL),
	/* Shell metacharacters. */
	EX("backticks", "EHLO x\r\n", "MAIL FROM:<`id`@x>", 0, "mail_from", "250 2.1.0 Ok", "from", "`id`@x", 0, NULL),
	EX("dollar-paren", "EHLO x\r\n", "MAIL FROM:<$(id)@x>", 0, "mail_from", "250 2.1.0 Ok", "from", "$(id)@x", 0,
	   NULL),
	EX("pipes", "EHLO x\r\n", "MAIL FROM:<a|b&c;d'e@x>", 0, "mail_from", "250 2.1.0 Ok", "from", "a|b&c;d'e@x", 0,
	   NULL),
	EX("quoted-shell", "EHLO x\r\n", "MAIL FROM:<\"a;b `id` $(x) \\\"q\\\"\"@x>", 0, "mail_from", "250 2.1.0 Ok",
	   "from", "\"a;b `id` $(x) \\\"q\\\"\"@x", 0, "quoted_local_part"),
	EX("glued-after-bracket", "EHLO x\r\n", "MAIL FROM:<a@b>;id", 0, "mail_from",
	   "501 5.1.7 Bad sender address syntax", "argument", "<a@b>;id", 0, NULL),
	EX("no-brackets-shell", "EHLO x\r\n", "MAIL FROM:a@b;`reboot`", 0, "mail_from", "250 2.1.0 Ok", "from",
	   "a@b;`reboot`", 0, "no_angle_brackets"),
	/* NUL in verbs and arguments. */
	EX("nul-in-verb", "EHLO x\r\n", "NO\0OP", 5, "unknown_command", "500 5.5.2 Error: command not recognized",
	   "verb", "NO\0OP", 5, "nul"),
	EX("nul-before-verb", "EHLO x\r\n", "\0QUIT", 5, "unknown_command", "500 5.5.2 Error: command not recognized",
	   "verb", "\0QUIT", 5, "nul"),
	EX("nul-after-verb", "EHLO x\r\n", "QUIT\0", 5, "unknown_command", "500 5.5.2 Error: command not recognized",
	   "verb", "QUIT\0", 5, "nul"),
	EX("nul-in-address", "EHLO x\r\n", "MAIL FROM:<a\0b@x>", 17, "mail_from",
	   "501 5.1.7 Bad sender address syntax", "argument", "<a\0b@x>", 7, "nul"),
	EX("nul-in-helo", "", "HELO a\0b", 8, "helo", "250 mx.example.com", "name", "a\0b", 3, "nul"),
	/* Case and spacing. */
	EX("lower-mail", "ehlo x\r\n", "mail from:<a@b>", 0, "mail_from", "250 2.1.0 Ok", "from", "a@b", 0, NULL),
	EX("mixed-rcpt", "ehlo x\r\nMaIl FrOm:<a@b>\r\n", "rCpT tO:<c@d>", 0, "rcpt_to", "250 2.1.5 Ok", "to", "c@d",
	   0, NULL),
	EX("space-before-path", "EHLO x\r\n", "MAIL FROM: <x>", 0, "mail_from", "250 2.1.0 Ok", "from", "x", 0,
	   "space_before_path"),
	EX("tab-before-path", "EHLO x\r\n", "MAIL FROM:\t<x@y>", 0, "mail_from", "250 2.1.0 Ok", "from", "x@y", 0,
	   "space_before_path"),
	EX("spaces-after-verb", "EHLO x\r\n", "MAIL   FROM:<x@y>", 0, "mail_from", "250 2.1.0 Ok", "from", "x@y", 0,
	   NULL),
	EX("space-before-colon", "EHLO x\r\n", "MAIL FROM :<x@y>", 0, "mail_from",
	   "501 5.5.4 Syntax: MAIL FROM:<address>", "line", "MAIL FROM :<x@y>", 0, NULL),
	EX("rcpt-space-before-path", "EHLO x\r\nMAIL FROM:<a@b>\r\n", "RCPT TO: <c@d>", 0, "rcpt_to", "250 2.1.5 Ok",
	   "to", "c@d", 0, "space_before_path"),
	EX("source-route", "EHLO x\r\n", "MAIL FROM:<@r1,@r2:x@y>", 0, "mail_from", "250 2.1.0 Ok", "source_route",
	   "@r1,@r2", 0, "source_route"),
	EX("nested-brackets", "EHLO x\r\n", "MAIL FROM:<<x@y>>", 0, "mail_from", "501 5.1.7 Bad sender address syntax",
	   "argument", "<<x@y>>", 0, NULL),
	EX("empty-sender-arg", "EHLO x\r\n", "MAIL FROM:", 0, "mail_from", "501 5.1.7 Bad sender address syntax",
	   "line", "MAIL FROM:", 0, NULL),
	EX("not-utf8-sender", "EHLO x\r\n", "MAIL FROM:<\xff\xfe@x>", 0, "mail_from", "250 2.1.0 Ok", "from",
	   "\xff\xfe@x", 0, NULL),
	EX("overlong-utf8-slash", "EHLO x\r\n", "MAIL FROM:<\xc0\xaf" "etc@x>", 0, "mail_from", "250 2.1.0 Ok",
	   "from", "\xc0\xaf" "etc@x", 0, NULL),
	EX("format-string", "EHLO x\r\n", "VRFY %s%n%x%p", 0, "vrfy",
	   "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery", "address", "%s%n%x%p", 0, NULL),
	EX("format-string-helo", "", "HELO %n%n%n%n", 0, "helo", "250 mx.example.com", "name", "%n%n%n%n", 0, NULL),
};

START_TEST(exploit_inputs)
{
	const struct exploit *x = &exploits[_i];
	size_t len = x->len != 0 ? x->len : strlen(x->line);
	size_t vlen = x->vlen != 0 ? x->vlen : strlen(x->value);
	struct buf b = { 0 };
	json_object *e;
	size_t at;

	bputs(&b, x->prefix);
	bput(&b, x->line, len);
	bputs(&b, "\r\nQUIT\r\n");
	same_under_splits(b.p, b.n, strlen(x->prefix), strlen(x->prefix) + len + 2);
	at = test_r.nevents - 3; /* the line, quit, disconnect */
	e = test_r.events[at];
	ck_assert_msg(strcmp(test_str(e, "event"), x->event) == 0, "%s: event %s", x->name, test_str(e, "event"));
	ck_assert_msg(strcmp(test_str(e, "data.reply"), x->reply) == 0, "%s: reply %s", x->name,
		      test_str(e, "data.reply"));
	assert_field(e, "line", x->line, len);
	if (x->key != NULL && strchr(x->key, '.') != NULL) {
		/* "params.0.value": a nested field, ASCII here. */
		char full[80];
		json_object *o;

		snprintf(full, sizeof(full), "data.%s", x->key);
		o = test_get(e, full);
		ck_assert_msg(o != NULL, "%s: no %s", x->name, full);
		ck_assert_uint_eq((size_t)json_object_get_string_len(o), vlen);
		ck_assert_int_eq(memcmp(json_object_get_string(o), x->value, vlen), 0);
	} else if (x->key != NULL) {
		assert_field(e, x->key, x->value, vlen);
	}
	if (x->flag != NULL)
		ck_assert_msg(has_flag(e, x->flag), "%s: no flag %s", x->name, x->flag);
	ck_assert_str_eq(test_str(test_r.events[at + 1], "event"), "quit");
	ck_assert_str_eq(test_str(test_event(&test_r, "disconnect", 0), "data.reason"), "quit");
	bfree(&b);
}
END_TEST

/* The whole OpenSMTPD CVE-2020-7247 proof of concept: one refused MAIL, body lines as commands. */
START_TEST(opensmtpd_poc_dialogue)
{
	struct buf b = { 0 };
	char want[256] = "220 250 501 503 503 500";

	bputs(&b, "HELO x\r\nMAIL FROM:<;sleep 66;>\r\nRCPT TO:<root>\r\nDATA\r\n\r\n");
	for (int i = 0; i < 10; i++) {
		char l[8];

		snprintf(l, sizeof(l), "#%d\r\n", i);
		bputs(&b, l);
		strcat(want, " 500");
	}
	bputs(&b, "Received: x\r\n.\r\nQUIT\r\n");
	strcat(want, " 500 500 221");
	same_under_splits(b.p, b.n, 1, b.n);
	test_expect(&test_r, want);
	ck_assert_uint_eq(test_count(&test_r, "message"), 0);
	ck_assert_uint_eq(test_count(&test_r, "unknown_command"), 13);
	ck_assert_str_eq(test_str(test_event(&test_r, "rcpt_to", 0), "data.reply"), "503 5.5.1 Error: need MAIL command");
	ck_assert_int_eq(test_int(test_event(&test_r, "disconnect", 0), "data.counters.errors"), 16);
	bfree(&b);
}
END_TEST

/* 21Nails-style: a thousand parameters. */
static void thousand_params(struct buf *b)
{
	bputs(b, "MAIL FROM:<a@b> SIZE=1 BODY=8BITMIME AUTH=<>");
	for (int i = 0; i < 1000; i++) {
		char p[32];

		snprintf(p, sizeof(p), " P%d=%s", i, i % 2 ? "\\" : "x\\y");
		bputs(b, p);
	}
}

START_TEST(thousand_params_over_line_limit)
{
	struct buf b = { 0 }, s = { 0 };
	json_object *l;

	thousand_params(&b);
	ehlo_then_quit(&s, &b);
	session_of(&s);
	test_expect(&test_r, "220 250 500 221");
	ck_assert_ptr_nonnull(strstr(test_r.replies, "\r\n500 5.5.2 Error: line too long\r\n"));
	l = test_event(&test_r, "limit", 0);
	ck_assert_str_eq(test_str(l, "data.limit"), "line_length");
	assert_field_total(l, "line", b.p, 2048, b.n);
	ck_assert_uint_eq(test_count(&test_r, "mail_from"), 0);
	bfree(&b);
	bfree(&s);
}
END_TEST

START_TEST(thousand_params_under_a_high_line_limit)
{
	struct buf b = { 0 }, s = { 0 };
	json_object *m;

	test_cfg.max_line_length = 65536;
	thousand_params(&b);
	ehlo_then_quit(&s, &b);
	session_of(&s);
	test_expect(&test_r, "220 250 555 221");
	m = test_event(&test_r, "mail_from", 0);
	ck_assert_str_eq(test_str(m, "data.reply"), "555 5.5.4 Unsupported option");
	assert_field_total(m, "line", b.p, b.n, b.n);
	ck_assert_uint_eq(json_object_array_length(test_get(m, "data.params")), PARAMS_MAX);
	ck_assert_int_eq(test_int(m, "data.params_dropped"), 1003 - PARAMS_MAX);
	ck_assert_str_eq(test_str(m, "data.params.2.name"), "AUTH");
	ck_assert_str_eq(test_str(m, "data.params.2.value"), "<>");
	ck_assert_str_eq(test_str(m, "data.params.3.name"), "P0");
	ck_assert_str_eq(test_str(m, "data.params.3.value"), "x\\y");
	ck_assert_str_eq(test_str(m, "data.params.4.value"), "\\");
	ck_assert_str_eq(test_str(m, "data.params.15.name"), "P12");
	bfree(&b);
	bfree(&s);
}
END_TEST

/*
 * A parameter past the PARAMS_MAX kept for the log is still a parameter:
 * an MTA refuses an unknown one wherever it stands (555), it does not
 * accept the command because the first sixteen were fine.
 */
START_TEST(unknown_param_after_sixteen_good_ones)
{
	static char line[512];
	struct chunk ch[1];
	json_object *m;
	size_t n;

	n = (size_t)snprintf(line, sizeof(line), "EHLO x\r\nMAIL FROM:<a@b>");
	for (int i = 0; i < PARAMS_MAX; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " BODY=7BIT");
	n += (size_t)snprintf(line + n, sizeof(line) - n, " X-EVIL=1\r\nQUIT\r\n");
	ch[0] = (struct chunk){ line, n, 0 };
	test_session(&test_cfg, ch, 1, &test_r);
	m = test_event(&test_r, "mail_from", 0);
	ck_assert_int_eq(test_int(m, "data.params_dropped"), 1);
	ck_assert_msg(strcmp(test_str(m, "data.reply"), "555 5.5.4 Unsupported option") == 0,
		      "MAIL with X-EVIL=1 as its 17th parameter was answered %s", test_str(m, "data.reply"));
	test_expect(&test_r, "220 250 555 221");
}
END_TEST

/* Quotes at the edges of the line buffer (--max-line-length=2048). */
START_TEST(quote_at_line_limit)
{
	size_t max = 2048;
	struct buf over = { 0 }, exact = { 0 }, s = { 0 };
	json_object *e;

	/* The closing quote is the last byte the line buffer keeps; "@x>" is beyond. */
	bputs(&over, "MAIL FROM:<\"");
	bfill(&over, 'q', max - 13);
	bputs(&over, "\"@x>");
	ck_assert_uint_eq((unsigned char)over.p[max - 1], '"');
	/* Exactly max bytes, the closing quote and '>' last. */
	bputs(&exact, "MAIL FROM:<\"");
	bfill(&exact, 'q', max - 14);
	bputs(&exact, "\">");
	ck_assert_uint_eq(exact.n, max);
	bputs(&s, "EHLO x\r\n");
	bput(&s, over.p, over.n);
	bputs(&s, "\r\n");
	bput(&s, exact.p, exact.n);
	bputs(&s, "\r\nQUIT\r\n");
	same_under_splits(s.p, s.n, 8 + max - 3, 8 + over.n + 3);
	same_under_splits(s.p, s.n, s.n - 12, s.n);
	test_expect(&test_r, "220 250 500 250 221");
	e = test_event(&test_r, "limit", 0);
	ck_assert_str_eq(test_str(e, "data.limit"), "line_length");
	assert_field_total(e, "line", over.p, max, over.n);
	e = test_event(&test_r, "mail_from", 0);
	ck_assert_str_eq(test_str(e, "data.reply"), "250 2.1.0 Ok");
	assert_field(e, "line", exact.p, exact.n);
	assert_field(e, "from", exact.p + 11, max - 12);
	ck_assert(has_flag(e, "quoted_local_part"));
	ck_assert_uint_eq(test_count(&test_r, "mail_from"), 1);
	bfree(&over);
	bfree(&exact);
	bfree(&s);
}
END_TEST

/* Lines of exactly max bytes whose last bytes are quote syntax. */
START_TEST(quote_edges_parsed)
{
	static const struct {
		const char *tail;
		const char *reply;
	} cases[] = {
		{ "z", "501 5.1.7 Bad sender address syntax" },        /* the quote never closes */
		{ "\"", "501 5.1.7 Bad sender address syntax" },       /* closed last, no '>' */
		{ "\\\">", "501 5.1.7 Bad sender address syntax" },  /* escaped quote, '>' inside */
		{ "\\", "501 5.1.7 Bad sender address syntax" },      /* a backslash last */
		{ "\">", "250 2.1.0 Ok" },                             /* closed, then '>' last */
		{ "\\\\\">", "250 2.1.0 Ok" },                     /* an escaped backslash, then closed */
	};
	size_t max = 2048;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf s = { 0 }, line = { 0 };
		json_object *e;

		bputs(&line, "MAIL FROM:<\"");
		bfill(&line, 'z', max - 12 - strlen(cases[i].tail));
		bputs(&line, cases[i].tail);
		ck_assert_uint_eq(line.n, max);
		ehlo_then_quit(&s, &line);
		same_under_splits(s.p, s.n, s.n - 12, s.n);
		e = test_event(&test_r, "mail_from", 0);
		ck_assert_msg(strcmp(test_str(e, "data.reply"), cases[i].reply) == 0, "tail %s: %s", cases[i].tail,
			      test_str(e, "data.reply"));
		assert_field(e, "line", line.p, line.n);
		if (cases[i].reply[0] == '5')
			assert_field(e, "argument", line.p + 10, max - 10);
		bfree(&s);
		bfree(&line);
	}
}
END_TEST

START_TEST(helo_4096_bytes)
{
	struct buf line = { 0 }, s = { 0 };
	json_object *e;

	bputs(&line, "HELO ");
	for (size_t i = 0; line.n < 4096; i++)
		bput(&line, &"abcdefghijklmnopqrstuvwxyz0123456789.-"[i % 38], 1);
	bput(&s, line.p, line.n);
	bputs(&s, "\r\nQUIT\r\n");
	session_of(&s);
	test_expect(&test_r, "220 500 221");
	e = test_event(&test_r, "limit", 0);
	ck_assert_str_eq(test_str(e, "data.limit"), "line_length");
	ck_assert_str_eq(test_str(e, "data.reply"), "500 5.5.2 Error: line too long");
	assert_field_total(e, "line", line.p, 2048, 4096);
	ck_assert_uint_eq(test_count(&test_r, "helo"), 0);
	test_run_free(&test_r);

	/* With room for it, the HELO is answered and its name kept as a capped prefix. */
	test_cfg.max_line_length = 8192;
	session_of(&s);
	test_expect(&test_r, "220 250 221");
	e = test_event(&test_r, "helo", 0);
	assert_field_total(e, "line", line.p, 4096, 4096);
	assert_field_total(e, "name", line.p + 5, 4091, 4091);
	bfree(&line);
	bfree(&s);
}
END_TEST

/* A test case of the suite, with the shared fixture, already in s; a
 * timeout_s of 0 keeps check's default timeout. */
static TCase *hostile_case(Suite *s, const char *name, int timeout_s)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	if (timeout_s > 0)
		tcase_set_timeout(tc, timeout_s);
	suite_add_tcase(s, tc);
	return tc;
}

Suite *suite_hostile(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc;

	tc = hostile_case(s, "splits", 300);
	tcase_add_test(tc, split_every_byte);
	tcase_add_test(tc, split_every_byte_long_lines);
	tcase_add_test(tc, one_byte_reads);
	tcase_add_test(tc, three_reads_around_line_ends);

	tc = hostile_case(s, "end_of_data", 300);
	tcase_add_test(tc, end_of_data_every_pair_of_cuts);
	tcase_add_test(tc, end_of_data_byte_by_byte);
	tcase_add_test(tc, end_of_data_at_read_edge);

	tc = hostile_case(s, "smuggling", 300);
	tcase_add_loop_test(tc, smuggling_forms_in_session, 0, (int)(sizeof(forms) / sizeof(forms[0])));
	tcase_add_test(tc, smuggling_all_forms_one_message);

	tc = hostile_case(s, "endless_line", 300);
	tcase_add_test(tc, endless_line_reader_keeps_max);
	tcase_add_test(tc, endless_line_then_eof);
	tcase_add_test(tc, endless_line_then_line_end);
	tcase_add_test(tc, endless_line_then_stall);
	tcase_add_test(tc, endless_auth_answer);
	tcase_add_test(tc, endless_auth_answer_then_eof);

	tc = hostile_case(s, "signal_in_write", 0);
	tcase_add_test(tc, sigterm_during_a_write);

	tc = hostile_case(s, "long_data_lines", 300);
	tcase_add_test(tc, megabyte_lines_stored_intact);
	tcase_add_test(tc, megabyte_line_cut_at_size_cap);

	tc = hostile_case(s, "binary", 300);
	tcase_add_test(tc, client_hello_on_plaintext_port);
	tcase_add_test(tc, client_hellos_until_error_limit);
	tcase_add_test(tc, random_binary);
	tcase_add_test(tc, other_protocols);

	tc = hostile_case(s, "order", 0);
	tcase_add_loop_test(tc, every_verb_in_every_state, 0, (int)(sizeof(verbs) / sizeof(verbs[0])) * NSTATES);
	tcase_add_test(tc, commands_inside_auth_are_answers);

	tc = hostile_case(s, "dot_stuffing", 300);
	tcase_add_loop_test(tc, dot_stuffing_at_body_start, 0, (int)(sizeof(stuffing) / sizeof(stuffing[0])));
	tcase_add_loop_test(tc, dot_stuffing_after_long_lines, 0, 6);

	tc = hostile_case(s, "cr_lf_in_arguments", 300);
	tcase_add_loop_test(tc, bare_cr_inside_arguments, 0, (int)(sizeof(crs) / sizeof(crs[0])));
	tcase_add_test(tc, bare_cr_in_auth_answer);
	tcase_add_test(tc, header_injection_in_data);
	tcase_add_test(tc, bare_lf_inside_a_line_ends_it_flagged);

	tc = hostile_case(s, "exploits", 300);
	tcase_add_loop_test(tc, exploit_inputs, 0, (int)(sizeof(exploits) / sizeof(exploits[0])));
	tcase_add_test(tc, opensmtpd_poc_dialogue);
	tcase_add_test(tc, thousand_params_over_line_limit);
	tcase_add_test(tc, thousand_params_under_a_high_line_limit);
	tcase_add_test(tc, unknown_param_after_sixteen_good_ones);
	tcase_add_test(tc, quote_at_line_limit);
	tcase_add_test(tc, quote_edges_parsed);
	tcase_add_test(tc, helo_4096_bytes);
	return s;
}
