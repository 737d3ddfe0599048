/*
 * fuzz_session.c - a whole SMTP session driven in-process from a byte
 * stream: reads come in pieces (sizes and delays chosen by the input) on a
 * fake clock, the configuration limits are chosen by the input, the client
 * may end with EOF, a reset, a read error, a stall or a signal, and writes
 * may be partial, would-block or fail. Events go to a memory sink.
 *
 * Checked on every input (abort on failure): each event is one strict JSON
 * object in valid UTF-8 with no control byte (so no raw newline), the
 * envelope keys in contract order, seq 1, 2, 3, ...; the first event is
 * connect, exactly one disconnect and it is the last, with counters that
 * match; every message event's size and sha256 are those of the bytes the
 * DATA machine emitted (captured by wrapping data_init at link time,
 * -Wl,--wrap=data_init), and when the spool is on (in a temporary directory
 * made once) the stored file holds exactly those bytes and no temporary
 * file is left; every reply line is "NNN[ -]text" CRLF with no stray CR/LF.
 *
 * Input: 7 header bytes, payload, table entries of 2 bytes at the tail:
 * piece size (12 bits, 0: 64 KiB), delay class (4 bits). Header:
 * hdr[0] line length (bits 0-1), message size (2-4), client end (5-6),
 * spool (7); hdr[1] recipients (0-1), commands (2-4), errors (5-7);
 * hdr[2] idle (0-1), session time (2-3), writes (4-5), signal (6-7);
 * hdr[3] byte count before a write fails / read that gets the signal;
 * hdr[4] AUTH policy (0-1), auth-without-tls (2-3), port 587 (4), AUTH
 * tries (5-6); hdr[5] TLS: starttls without a certificate, starttls or
 * implicit with a certificate but no module (so it fails), or no;
 * hdr[6] table entries.
 */
#include "fuzz_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "conn.h"
#include "data.h"
#include "event.h"
#include "session.h"

enum { END_EOF, END_RESET, END_EIO, END_STALL };
enum { W_NORMAL, W_PARTIAL, W_FAIL, W_AGAIN };

/* --- the fake client ------------------------------------------------ */

struct client {
	const uint8_t *p;
	size_t n, delivered;
	struct fuzz_pieces pieces;
	int have_entry;
	size_t size;
	int64_t remaining; /* fake ms before the current piece arrives */
	int end;
	unsigned reads, signal_at; /* signal_at: 0 none */
	int wmode;
	size_t wfail_at;
	unsigned wcalls;
	int wfailed;
	char *out; /* what the server wrote */
	size_t out_len, out_cap;
};

static int64_t now_ms;

static int64_t fake_mono(void)
{
	return now_ms;
}

static time_t fake_wall(void)
{
	return 1767608130 + now_ms / 1000;
}

static const int64_t delays[16] = { 0, 0, 0, 0, 1, 10, 100, 200, 500, 1000, 2000, 3000, 4000,
				    6000, 20000, 400000 };

static void next_entry(struct client *cl)
{
	const uint8_t *e = fuzz_pieces_next(&cl->pieces);

	cl->size = e != NULL ? (size_t)(e[0] | (e[1] & 0x0f) << 8) : 0;
	if (cl->size == 0)
		cl->size = 65536;
	cl->remaining = e != NULL ? delays[e[1] >> 4] : 0;
	cl->have_entry = 1;
}

static ssize_t cl_read(struct conn *c, void *buf, size_t n)
{
	struct client *cl = c->ctx;
	size_t take;

	cl->reads++;
	if (cl->signal_at != 0 && cl->reads == cl->signal_at) {
		conn_stop_signal = SIGTERM;
		errno = EINTR;
		return -1;
	}
	if (cl->delivered == cl->n) {
		switch (cl->end) {
		case END_RESET:
			errno = ECONNRESET;
			return -1;
		case END_EIO:
			errno = EIO;
			return -1;
		default:
			return 0;
		}
	}
	if (!cl->have_entry)
		next_entry(cl);
	take = cl->n - cl->delivered;
	if (take > cl->size)
		take = cl->size;
	if (take > n)
		take = n;
	memcpy(buf, cl->p + cl->delivered, take);
	cl->delivered += take;
	cl->have_entry = 0;
	return (ssize_t)take;
}

static ssize_t cl_write(struct conn *c, const void *buf, size_t n)
{
	struct client *cl = c->ctx;

	cl->wcalls++;
	switch (cl->wmode) {
	case W_PARTIAL:
		if (n > 3)
			n = 3;
		break;
	case W_FAIL:
		if (cl->out_len + n > cl->wfail_at) {
			cl->wfailed = 1;
			errno = EPIPE;
			return -1;
		}
		break;
	case W_AGAIN:
		if (cl->wcalls % 2 == 1) {
			errno = EAGAIN;
			return -1;
		}
		break;
	}
	if (cl->out_len + n > cl->out_cap) {
		cl->out_cap = (cl->out_len + n) * 2;
		cl->out = realloc(cl->out, cl->out_cap);
		CHECK(cl->out != NULL);
	}
	memcpy(cl->out + cl->out_len, buf, n);
	cl->out_len += n;
	return (ssize_t)n;
}

static int cl_pending(struct conn *c)
{
	(void)c;
	return 0;
}

static int cl_wait(struct conn *c, short events, int timeout_ms)
{
	struct client *cl = c->ctx;

	if (events != POLLIN)
		return 1;
	if (cl->delivered == cl->n) {
		if (cl->end != END_STALL || timeout_ms < 0)
			return 1;
		now_ms += timeout_ms;
		return 0;
	}
	if (!cl->have_entry)
		next_entry(cl);
	if (timeout_ms >= 0 && cl->remaining > timeout_ms) {
		cl->remaining -= timeout_ms;
		now_ms += timeout_ms;
		return 0;
	}
	now_ms += cl->remaining;
	cl->remaining = 0;
	return 1;
}

static const struct conn_ops cl_ops = {
	.read = cl_read, .write = cl_write, .pending = cl_pending, .wait = cl_wait,
};

/* --- what the DATA machine emitted --------------------------------- */

struct capture {
	void (*out)(void *arg, const unsigned char *p, size_t n);
	void *arg;
	struct fuzz_sha sha;
	unsigned char *bytes;
	size_t len, cap;
	unsigned inits;
};

static struct capture cap;

void __real_data_init(struct data_parser *d, uint64_t max, int after_bare_lf,
		      void (*out)(void *arg, const unsigned char *p, size_t n), void *arg);
void __wrap_data_init(struct data_parser *d, uint64_t max, int after_bare_lf,
		      void (*out)(void *arg, const unsigned char *p, size_t n), void *arg);

static void cap_out(void *arg, const unsigned char *p, size_t n)
{
	struct capture *c = arg;

	fuzz_sha_update(&c->sha, p, n);
	if (c->len + n > c->cap) {
		c->cap = (c->len + n) * 2;
		c->bytes = realloc(c->bytes, c->cap);
		CHECK(c->bytes != NULL);
	}
	memcpy(c->bytes + c->len, p, n);
	c->len += n;
	c->out(c->arg, p, n);
}

void __wrap_data_init(struct data_parser *d, uint64_t max, int after_bare_lf,
		      void (*out)(void *arg, const unsigned char *p, size_t n), void *arg)
{
	cap.out = out;
	cap.arg = arg;
	cap.len = 0;
	cap.inits++;
	fuzz_sha_init(&cap.sha);
	__real_data_init(d, max, after_bare_lf, cap_out, &cap);
}

/* --- the memory sink ------------------------------------------------ */

struct run {
	json_object **ev;
	size_t n, cap;
	unsigned messages;
	int spool_on;
};

static char spool_dir[64];
static int spool_fd = -1;

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;

	CHECK(o != NULL && json_object_is_type(o, json_type_object));
	CHECK(json_object_object_get_ex(o, key, &v));
	return v;
}

static int64_t get_int(json_object *o, const char *key)
{
	json_object *v = get(o, key);

	CHECK(json_object_is_type(v, json_type_int));
	return json_object_get_int64(v);
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v = get(o, key);

	CHECK(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

static int get_bool(json_object *o, const char *key)
{
	json_object *v = get(o, key);

	CHECK(json_object_is_type(v, json_type_boolean));
	return json_object_get_boolean(v);
}

/* The stored file holds exactly the bytes the DATA machine emitted. */
static void check_spool_file(const char *name)
{
	int fd;
	unsigned char *b = malloc(cap.len + 1);
	size_t got = 0;
	ssize_t r;
	char hex[65];
	struct fuzz_sha sha;

	CHECK(b != NULL);
	CHECK(strchr(name, '/') == NULL);
	fd = openat(spool_fd, name, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	while ((r = read(fd, b + got, cap.len + 1 - got)) > 0)
		got += (size_t)r;
	close(fd);
	CHECK(got == cap.len);
	CHECK(got == 0 || memcmp(b, cap.bytes, got) == 0);
	fuzz_sha_init(&sha);
	fuzz_sha_update(&sha, b, got);
	fuzz_sha_hex(&sha, hex);
	CHECK(strncmp(name, hex, 64) == 0 && strcmp(name + 64, ".eml") == 0);
	free(b);
}

static void check_message(struct run *run, json_object *d)
{
	struct fuzz_sha sha = cap.sha;
	char hex[65];
	json_object *spool;
	int64_t size = get_int(d, "size"), received = get_int(d, "received_bytes");

	run->messages++;
	CHECK(run->messages == cap.inits);
	fuzz_sha_hex(&sha, hex);
	CHECK(size >= 0 && (uint64_t)size == cap.len);
	CHECK(strcmp(get_str(d, "sha256"), hex) == 0);
	CHECK(received >= size);
	CHECK(get_bool(d, "truncated") == (received > size));
	(void)get_bool(d, "complete");
	(void)get_str(d, "end");
	(void)get(d, "anomalies");
	(void)get(d, "headers");
	spool = get(d, "spool_file");
	if (spool != NULL) {
		CHECK(run->spool_on);
		CHECK(json_object_is_type(spool, json_type_string));
		check_spool_file(json_object_get_string(spool));
	}
}

static int mem_write(struct sink *sk, const struct event_record *rec)
{
	struct run *run = sk->ctx;
	json_object *o;

	/* event.h: json[len] is the newline that ends the line (not a NUL). */
	CHECK(rec->json != NULL && rec->json[rec->len] == '\n');
	o = fuzz_check_json_line(rec->json, rec->len);
	CHECK(strcmp(get_str(o, "event"), rec->name) == 0);
	CHECK((uint64_t)get_int(o, "seq") == rec->seq);
	if (strcmp(rec->name, "message") == 0)
		check_message(run, get(o, "data"));
	if (run->n == run->cap) {
		run->cap = run->cap ? run->cap * 2 : 64;
		run->ev = realloc(run->ev, run->cap * sizeof(*run->ev));
		CHECK(run->ev != NULL);
	}
	run->ev[run->n++] = o;
	return 0;
}

/* --- checks at the end of a session --------------------------------- */

static void check_timestamp(const char *ts)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";

	CHECK(strlen(ts) == 20);
	for (int i = 0; i < 20; i++)
		CHECK(shape[i] == 'd' ? ts[i] >= '0' && ts[i] <= '9' : ts[i] == shape[i]);
}

static void check_events(const struct run *run, const struct client *cl)
{
	static const char *const keys[] = { "timestamp", "source_ip", "honeypot_type", "event",
					    "data", "level", "session", "seq", "source_port",
					    "dest_ip", "dest_port", "sensor" };
	json_object *last, *counters;
	const char *reason;
	size_t disconnects = 0, k;

	CHECK(run->n >= 2);
	CHECK(strcmp(get_str(run->ev[0], "event"), "connect") == 0);
	for (size_t i = 0; i < run->n; i++) {
		const char *level = get_str(run->ev[i], "level");

		k = 0;
		json_object_object_foreach(run->ev[i], key, val) {
			(void)val;
			CHECK(k < sizeof(keys) / sizeof(keys[0]));
			CHECK(strcmp(key, keys[k]) == 0);
			k++;
		}
		CHECK(k == sizeof(keys) / sizeof(keys[0]));
		CHECK(get_int(run->ev[i], "seq") == (int64_t)i + 1);
		check_timestamp(get_str(run->ev[i], "timestamp"));
		CHECK(json_object_is_type(get(run->ev[i], "data"), json_type_object));
		CHECK(strcmp(level, "INFO") == 0 || strcmp(level, "WARN") == 0 ||
		      strcmp(level, "ERROR") == 0);
		disconnects += strcmp(get_str(run->ev[i], "event"), "disconnect") == 0;
	}
	CHECK(disconnects == 1);
	last = run->ev[run->n - 1];
	CHECK(strcmp(get_str(last, "event"), "disconnect") == 0);
	CHECK(run->messages == cap.inits);

	reason = get_str(get(last, "data"), "reason");
	CHECK(reason[0] != '\0');
	for (k = 0; reason[k] != '\0'; k++)
		CHECK((reason[k] >= 'a' && reason[k] <= 'z') || reason[k] == '_');
	counters = get(get(last, "data"), "counters");
	CHECK(get_int(counters, "events") == (int64_t)run->n);
	CHECK(get_int(counters, "bytes_in") == (int64_t)cl->delivered);
	CHECK(get_int(counters, "bytes_out") == (int64_t)cl->out_len);
	CHECK(get_int(counters, "messages") == (int64_t)run->messages);
	CHECK(get_int(counters, "events_lost") == 0);
}

/* Every reply line is "NNN" then ' ' or '-', text without CR/LF, CRLF. */
static void check_replies(const struct client *cl, int banner)
{
	size_t i = 0;

	if (cl->wfailed)
		return;
	if (banner)
		CHECK(cl->out_len >= 4 && memcmp(cl->out, "220 ", 4) == 0);
	while (i < cl->out_len) {
		const char *p = cl->out + i;
		const char *lf = memchr(p, '\n', cl->out_len - i);
		size_t len;

		CHECK(lf != NULL);
		len = (size_t)(lf - p) + 1;
		CHECK(len >= 6 && p[len - 2] == '\r');
		CHECK(p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' &&
		      p[2] <= '9');
		CHECK(p[3] == ' ' || p[3] == '-');
		CHECK(memchr(p, '\r', len - 2) == NULL);
		i += len;
	}
}

/* No temporary file is left; then the directory is emptied for the next run. */
static void spool_clean(void)
{
	DIR *d;
	struct dirent *e;
	int fd = dup(spool_fd);

	CHECK(fd >= 0);
	d = fdopendir(fd);
	CHECK(d != NULL);
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		CHECK(strncmp(e->d_name, ".tmp", 4) != 0);
		unlinkat(spool_fd, e->d_name, 0);
	}
	closedir(d);
}

static void spool_remove(void)
{
	if (spool_fd >= 0) {
		spool_clean();
		close(spool_fd);
		rmdir(spool_dir);
	}
}

static void setup_once(struct config *cfg)
{
	const char *tmp = getenv("TMPDIR");

	config_defaults(cfg);
	free(cfg->hostname);
	free(cfg->sensor);
	free(cfg->spool_dir);
	cfg->hostname = strdup("mx.example.com");
	cfg->sensor = strdup("fuzz");
	cfg->spool_dir = NULL;
	/* Strings the harness swaps per input; the defaults are freed once here. */
	free(cfg->auth);
	free(cfg->auth_without_tls);
	free(cfg->tls);
	free(cfg->tls_module);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	/* No TLS module is ever found: STARTTLS and implicit TLS fail cleanly. */
	cfg->tls_module = strdup("/nonexistent/smtpot-tls");
	snprintf(spool_dir, sizeof(spool_dir), "%s/smtpot-fuzz-XXXXXX",
		 tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	CHECK(mkdtemp(spool_dir) != NULL);
	spool_fd = open(spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(spool_fd >= 0);
	atexit(spool_remove);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t line_len[4] = { 512, 513, 1000, 2048 };
	static const uint64_t msg_size[8] = { 1, 2, 10, 100, 1000, 4096, 65536, 10240000 };
	static const uint64_t rcpts[4] = { 1, 2, 3, 100 };
	static const uint64_t cmds[8] = { 1, 2, 3, 5, 10, 50, 200, 1000 };
	static const uint64_t errs[8] = { 1, 2, 3, 5, 10, 20, 100, 1000 };
	static const uint64_t idle[4] = { 1, 5, 30, 300 };
	static const uint64_t whole[4] = { 2, 15, 60, 1800 };
	static const uint64_t auth_tries[4] = { 1, 2, 3, 10 };
	static char auth_fail[] = "fail", auth_accept[] = "accept", auth_after1[] = "accept-after=1",
		    auth_after3[] = "accept-after=3";
	static char *const auths[4] = { auth_fail, auth_accept, auth_after1, auth_after3 };
	static char w_auto[] = "auto", w_yes[] = "yes", w_no[] = "no";
	static char *const without_tls[4] = { w_auto, w_yes, w_no, w_auto };
	static char tls_starttls[] = "starttls", tls_implicit[] = "implicit", tls_no[] = "no";
	static char cert[] = "/dev/null";
	static struct config cfg;
	static int ready;
	static char empty[] = "";
	int tls_mode;
	struct fuzz_input in;
	struct client cl;
	struct run run;
	struct sink mem = { .name = "memory", .write = mem_write };
	struct event_ctx ev;
	struct session s;
	struct conn c;

	if (!ready) {
		setup_once(&cfg);
		ready = 1;
	}
	fuzz_split(data, size, 7, 2, &in);
	cfg.max_line_length = line_len[in.hdr[0] & 3];
	cfg.max_message_size = msg_size[(in.hdr[0] >> 2) & 7];
	cfg.spool_dir = in.hdr[0] & 0x80 ? spool_dir : empty;
	cfg.max_recipients = rcpts[in.hdr[1] & 3];
	cfg.max_commands = cmds[(in.hdr[1] >> 2) & 7];
	cfg.max_errors = errs[in.hdr[1] >> 5];
	cfg.idle_timeout = idle[in.hdr[2] & 3];
	cfg.session_timeout = whole[(in.hdr[2] >> 2) & 3];
	cfg.auth = auths[in.hdr[4] & 3];
	cfg.auth_without_tls = without_tls[(in.hdr[4] >> 2) & 3];
	cfg.max_auth_tries = auth_tries[(in.hdr[4] >> 5) & 3];
	tls_mode = in.hdr[5] & 3;
	cfg.tls = tls_mode == 2 ? tls_implicit : tls_mode == 3 ? tls_no : tls_starttls;
	cfg.tls_cert = cfg.tls_key = tls_mode == 0 ? NULL : cert;

	memset(&cl, 0, sizeof(cl));
	cl.p = in.payload;
	cl.n = in.npayload;
	cl.end = (in.hdr[0] >> 5) & 3;
	cl.wmode = (in.hdr[2] >> 4) & 3;
	cl.wfail_at = (size_t)in.hdr[3] * 8;
	cl.signal_at = in.hdr[2] >> 6 ? (unsigned)in.hdr[3] % 64 + 1 : 0;
	fuzz_pieces_init(&cl.pieces, &in, 0);

	memset(&run, 0, sizeof(run));
	run.spool_on = (in.hdr[0] & 0x80) != 0;
	mem.ctx = &run;
	cap.inits = 0;
	cap.len = 0;

	memset(&ev, 0, sizeof(ev));
	clock_mono_ms = fake_mono;
	clock_wall = fake_wall;
	now_ms = 1000000;
	conn_stop_signal = 0;
	snprintf(ev.session, sizeof(ev.session), "5f0c0000000000000000000000000001");
	snprintf(ev.source_ip, sizeof(ev.source_ip), "192.0.2.50");
	snprintf(ev.dest_ip, sizeof(ev.dest_ip), "192.0.2.1");
	ev.source_port = 50312;
	ev.dest_port = in.hdr[4] & 0x10 ? 587 : 25;
	ev.sensor = cfg.sensor;
	event_add_sink(&ev, &mem);
	conn_init_fd(&c, -1, -1);
	c.ops = &cl_ops;
	c.ctx = &cl;

	CHECK(session_init(&s, &cfg, &c, &ev) == 0);
	session_run(&s);
	session_free(&s);
	event_close_sinks(&ev);
	conn_stop_signal = 0;

	check_events(&run, &cl);
	check_replies(&cl, tls_mode != 2);
	if (run.spool_on)
		spool_clean();

	for (size_t i = 0; i < run.n; i++)
		json_object_put(run.ev[i]);
	free(run.ev);
	free(cl.out);
	return 0;
}
