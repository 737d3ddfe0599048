/*
 * testlib.c - the in-process session driver. The client is a list of
 * chunks; each read returns at most one chunk (so splits are exact), and
 * waiting advances a fake monotonic clock, so timeouts are tested without
 * sleeping.
 */
#include "testlib.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "session.h"
#include "text.h"

long long test_now_ms;
struct config test_cfg;
struct run test_r;

void test_setup(void)
{
	test_config(&test_cfg);
}

void test_teardown(void)
{
	test_run_free(&test_r);
	config_free(&test_cfg);
}

void test_expect(const struct run *r, const char *codes)
{
	char got[8192];

	test_codes(r, got, sizeof(got));
	ck_assert_str_eq(got, codes);
	test_invariants(r);
}

int test_count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static int64_t fake_mono(void)
{
	return test_now_ms;
}

static time_t fake_wall(void)
{
	return 1767608130 + test_now_ms / 1000; /* 2026-01-05T10:15:30Z */
}

struct script {
	const struct chunk *chunks;
	size_t n, next, off;
	int remaining; /* fake ms before chunk `next` arrives; -1: not started */
	struct run *r;
	size_t cap;
};

static size_t chunk_len(const struct chunk *c)
{
	return c->len != 0 ? c->len : strlen(c->data);
}

static ssize_t s_read(struct conn *c, void *buf, size_t n)
{
	struct script *s = c->ctx;
	size_t left;

	if (s->next >= s->n)
		return 0;
	left = chunk_len(&s->chunks[s->next]) - s->off;
	if (n > left)
		n = left;
	memcpy(buf, s->chunks[s->next].data + s->off, n);
	s->off += n;
	if (s->off == chunk_len(&s->chunks[s->next])) {
		s->next++;
		s->off = 0;
		s->remaining = -1;
	}
	return (ssize_t)n;
}

static ssize_t s_write(struct conn *c, const void *buf, size_t n)
{
	struct script *s = c->ctx;
	struct run *r = s->r;

	if (r->replies_len + n + 1 > s->cap) {
		s->cap = (r->replies_len + n + 1) * 2;
		r->replies = realloc(r->replies, s->cap);
	}
	memcpy(r->replies + r->replies_len, buf, n);
	r->replies_len += n;
	r->replies[r->replies_len] = '\0';
	return (ssize_t)n;
}

static int s_pending(struct conn *c)
{
	(void)c;
	return 0;
}

static int s_wait(struct conn *c, short events, int timeout_ms)
{
	struct script *s = c->ctx;

	if (events != 1 /* POLLIN */ || s->next >= s->n)
		return 1;
	if (s->remaining < 0)
		s->remaining = s->off > 0 ? 0 : s->chunks[s->next].delay_ms;
	if (timeout_ms >= 0 && s->remaining > timeout_ms) {
		s->remaining -= timeout_ms;
		test_now_ms += timeout_ms;
		return 0;
	}
	test_now_ms += s->remaining;
	s->remaining = 0;
	return 1;
}

static const struct conn_ops script_ops = {
	.read = s_read, .write = s_write, .pending = s_pending, .wait = s_wait,
};

static struct script line_script;

void test_conn(struct conn *c, const struct chunk *chunks, size_t n)
{
	static struct run sink_run;

	memset(&line_script, 0, sizeof(line_script));
	line_script.chunks = chunks;
	line_script.n = n;
	line_script.remaining = -1;
	line_script.r = &sink_run;
	free(sink_run.replies);
	sink_run.replies = NULL;
	sink_run.replies_len = 0;
	clock_mono_ms = fake_mono;
	test_now_ms = 1000000;
	conn_init_fd(c, -1, -1);
	c->ops = &script_ops;
	c->ctx = &line_script;
}

/* The memory sink: keeps each line and its parse. */
static int mem_write(struct sink *sk, const struct event_record *rec)
{
	struct run *r = sk->ctx;

	ck_assert_uint_lt(r->nevents, EVENTS_MAX);
	ck_assert_ptr_null(memchr(rec->json, '\n', rec->len));
	r->lines[r->nevents] = strndup(rec->json, rec->len);
	r->events[r->nevents] = json_tokener_parse(r->lines[r->nevents]);
	ck_assert_msg(r->events[r->nevents] != NULL, "event is not JSON: %s", r->lines[r->nevents]);
	r->nevents++;
	return 0;
}

void test_config(struct config *c)
{
	config_defaults(c);
	free(c->hostname);
	free(c->sensor);
	free(c->spool_dir);
	c->hostname = strdup("mx.example.com");
	c->sensor = strdup("test");
	c->spool_dir = strdup("");
}

void test_session(const struct config *cfg, const struct chunk *chunks, size_t n, struct run *r)
{
	test_session_port(cfg, chunks, n, r, 25);
}

void test_session_port(const struct config *cfg, const struct chunk *chunks, size_t n, struct run *r,
		       long dest_port)
{
	struct script sc = { .chunks = chunks, .n = n, .remaining = -1, .r = r };
	struct sink mem = { .name = "memory", .write = mem_write, .ctx = r };
	struct event_ctx ev;
	struct session s;
	struct conn c;

	memset(r, 0, sizeof(*r));
	memset(&ev, 0, sizeof(ev));
	clock_mono_ms = fake_mono;
	clock_wall = fake_wall;
	test_now_ms = 1000000;
	conn_stop_signal = 0;
	snprintf(ev.session, sizeof(ev.session), "5f0c0000000000000000000000000001");
	snprintf(ev.source_ip, sizeof(ev.source_ip), "192.0.2.50");
	snprintf(ev.dest_ip, sizeof(ev.dest_ip), "192.0.2.1");
	ev.source_port = 50312;
	ev.dest_port = dest_port;
	ev.sensor = cfg->sensor;
	event_add_sink(&ev, &mem);
	conn_init_fd(&c, -1, -1);
	c.ops = &script_ops;
	c.ctx = &sc;
	r->replies = calloc(1, 1);
	ck_assert_int_eq(session_init(&s, cfg, &c, &ev), 0);
	session_run(&s);
	session_free(&s);
	event_close_sinks(&ev);
}

void test_run_free(struct run *r)
{
	for (size_t i = 0; i < r->nevents; i++) {
		free(r->lines[i]);
		json_object_put(r->events[i]);
	}
	free(r->replies);
	r->nevents = 0;
	r->replies = NULL;
}

void test_codes(const struct run *r, char *out, size_t cap)
{
	const char *p = r->replies;
	size_t o = 0;

	out[0] = '\0';
	while (*p != '\0') {
		const char *e = strstr(p, "\r\n");

		if (e == NULL)
			break;
		if (e - p >= 4 && p[3] == ' ' && o + 5 < cap) {
			memcpy(out + o, p, 3);
			o += 3;
			out[o++] = ' ';
			out[o] = '\0';
		}
		p = e + 2;
	}
	if (o > 0)
		out[o - 1] = '\0';
}

json_object *test_get(json_object *ev, const char *path)
{
	char buf[256], *save = NULL, *tok;
	json_object *o = ev;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok != NULL && o != NULL; tok = strtok_r(NULL, ".", &save)) {
		json_object *next = NULL;

		if (json_object_is_type(o, json_type_array))
			next = json_object_array_get_idx(o, (size_t)atoi(tok));
		else if (!json_object_object_get_ex(o, tok, &next))
			next = NULL;
		o = next;
	}
	return o;
}

const char *test_str(json_object *ev, const char *path)
{
	json_object *o = test_get(ev, path);

	return o != NULL && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}

long long test_int(json_object *ev, const char *path)
{
	json_object *o = test_get(ev, path);

	return o != NULL ? (long long)json_object_get_int64(o) : -1;
}

json_object *test_event(const struct run *r, const char *name, size_t from)
{
	for (size_t i = from; i < r->nevents; i++) {
		if (strcmp(test_str(r->events[i], "event"), name) == 0)
			return r->events[i];
	}
	return NULL;
}

size_t test_count(const struct run *r, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nevents; i++)
		n += strcmp(test_str(r->events[i], "event"), name) == 0;
	return n;
}

void test_invariants(const struct run *r)
{
	static const char *const keys[] = { "timestamp", "source_ip", "honeypot_type", "event", "data",
					    "level", "session", "seq", "source_port", "dest_ip",
					    "dest_port", "sensor" };

	ck_assert_uint_gt(r->nevents, 1);
	ck_assert_str_eq(test_str(r->events[0], "event"), "connect");
	ck_assert_str_eq(test_str(r->events[r->nevents - 1], "event"), "disconnect");
	ck_assert_uint_eq(test_count(r, "disconnect"), 1);
	for (size_t i = 0; i < r->nevents; i++) {
		size_t k = 0;
		const char *ts = test_str(r->events[i], "timestamp");

		ck_assert_uint_eq(utf8_valid_prefix((const unsigned char *)r->lines[i], strlen(r->lines[i])),
				  strlen(r->lines[i]));
		ck_assert_int_eq(test_int(r->events[i], "seq"), (long long)i + 1);
		ck_assert_ptr_nonnull(ts);
		ck_assert_uint_eq(strlen(ts), 20);
		json_object_object_foreach(r->events[i], key, val) {
			(void)val;
			ck_assert_uint_lt(k, sizeof(keys) / sizeof(keys[0]));
			ck_assert_str_eq(key, keys[k]);
			k++;
		}
		ck_assert_uint_eq(k, sizeof(keys) / sizeof(keys[0]));
	}
}
