/*
 * resume.c - the session state handed from smtpot to smtpot-tls at
 * STARTTLS (see resume.h). The text is ours, but it arrives through the
 * environment, so it is parsed as strictly as client input: every key
 * once, decimal numbers only, nothing left over.
 */
#include "resume.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink.h"

#define NAME(name, field) #name,
static const char *const counter_names[] = { RESUME_COUNTERS(NAME) };
#undef NAME

int resume_save(const struct session *s, char *out, size_t cap)
{
	const uint64_t counters[] = {
#define VALUE(name, field) (uint64_t)(field),
		RESUME_COUNTERS(VALUE)
#undef VALUE
	};
	size_t o = 0;
	int n;

#define ADD(...)                                                                   \
	do {                                                                       \
		n = snprintf(out + o, cap - o, __VA_ARGS__);                       \
		if (n < 0 || (size_t)n >= cap - o)                                 \
			return -1;                                                 \
		o += (size_t)n;                                                    \
	} while (0)
	ADD("session=%s sandbox=%s started_ms=%" PRId64 " spool_failed=%d", s->ev->session,
	    s->sandbox != NULL ? s->sandbox : "off", s->started_ms, s->spool_failed);
	for (int i = 0; i < RESUME_NCOUNTERS; i++)
		ADD(" %s=%" PRIu64, counter_names[i], counters[i]);
	ADD(" verbs=");
	for (int i = 0; i < SESSION_VERBS; i++)
		ADD("%s%" PRIu64, i > 0 ? "," : "", s->verb_count[i]);
	for (int i = 0; i < s->ev->nsinks; i++) {
		const struct sink *k = s->ev->sinks[i];

		ADD(" sink=%s,%d,%d,%d,%" PRIu64, k->kind, k->fd, k->open_errno, k->reported, k->lost);
	}
#undef ADD
	return 0;
}

int resume_keep_fds(const struct session *s)
{
	for (int i = 0; i < s->ev->nsinks; i++) {
		int fd = s->ev->sinks[i]->fd, fl;

		if (fd < 0)
			continue;
		fl = fcntl(fd, F_GETFD);
		if (fl < 0 || fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC) < 0)
			return -1;
	}
	return 0;
}

/* A decimal number up to max; *p moves past it. */
static int number(const char **p, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *q = *p;

	if (*q < '0' || *q > '9')
		return -1;
	for (; *q >= '0' && *q <= '9'; q++) {
		uint64_t d = (uint64_t)(*q - '0');

		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*p = q;
	*out = v;
	return 0;
}

/* A number up to max that is all of the value up to end. */
static int whole(const char *v, const char *end, uint64_t max, uint64_t *out)
{
	return number(&v, max, out) < 0 || v != end ? -1 : 0;
}

/* A signed one: -1 (no descriptor) or 0..max. */
static int small(const char **p, int max, int *out)
{
	uint64_t v;

	if (**p == '-' && (*p)[1] == '1') {
		*p += 2;
		*out = -1;
		return 0;
	}
	if (number(p, (uint64_t)max, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

static int word(const char *p, size_t len, const char *key, const char **val)
{
	size_t k = strlen(key);

	if (len <= k || memcmp(p, key, k) != 0 || p[k] != '=')
		return 0;
	*val = p + k + 1;
	return 1;
}

/* A hex id of 32 digits, or a name of the sandbox. */
static int copy_token(const char *v, const char *end, const char *allowed, char *out, size_t cap)
{
	size_t n = (size_t)(end - v);

	if (n == 0 || n >= cap || strspn(v, allowed) < n)
		return -1;
	memcpy(out, v, n);
	out[n] = '\0';
	return 0;
}

/* Marks key number bit as seen: -1 if it was already. */
static int once(unsigned *seen, int bit)
{
	if (*seen & (1u << bit))
		return -1;
	*seen |= 1u << bit;
	return 0;
}

static int parse_word(const char *p, const char *end, struct resume *r, unsigned *seen)
{
	size_t len = (size_t)(end - p);
	const char *v;
	uint64_t x;

	if (word(p, len, "session", &v)) {
		if (once(seen, 0) < 0)
			return -1;
		return copy_token(v, end, "0123456789abcdef", r->session, sizeof(r->session)) < 0 ||
		       strlen(r->session) != 32 ? -1 : 0;
	}
	if (word(p, len, "sandbox", &v)) {
		if (once(seen, 1) < 0)
			return -1;
		if (copy_token(v, end, "abcdefghijklmnopqrstuvwxyz", r->sandbox, sizeof(r->sandbox)) < 0)
			return -1;
		return strcmp(r->sandbox, "seccomp") == 0 || strcmp(r->sandbox, "unavailable") == 0 ||
		       strcmp(r->sandbox, "off") == 0 ? 0 : -1;
	}
	if (word(p, len, "started_ms", &v)) {
		if (once(seen, 2) < 0)
			return -1;
		if (whole(v, end, INT64_MAX, &x) < 0)
			return -1;
		r->started_ms = (int64_t)x;
		return 0;
	}
	if (word(p, len, "spool_failed", &v)) {
		if (once(seen, 3) < 0)
			return -1;
		if (whole(v, end, 1, &x) < 0)
			return -1;
		r->spool_failed = (int)x;
		return 0;
	}
	if (word(p, len, "verbs", &v)) {
		if (once(seen, 4) < 0)
			return -1;
		for (int i = 0; i < SESSION_VERBS; i++) {
			if ((i > 0 && *v++ != ',') || number(&v, UINT64_MAX, &r->verbs[i]) < 0)
				return -1;
		}
		return v == end ? 0 : -1;
	}
	if (word(p, len, "sink", &v)) {
		struct resume_sink *k;

		if (r->nsinks >= EVENT_SINKS_MAX)
			return -1;
		k = &r->sinks[r->nsinks++];
		if (strncmp(v, "journal,", 8) == 0) {
			k->journal = 1;
			v += 8;
		} else if (strncmp(v, "file,", 5) == 0) {
			v += 5;
		} else {
			return -1;
		}
		if (small(&v, 1 << 20, &k->fd) < 0 || *v++ != ',' || number(&v, 4095, &x) < 0 ||
		    *v++ != ',')
			return -1;
		k->open_errno = (int)x;
		if (number(&v, 1, &x) < 0 || *v++ != ',')
			return -1;
		k->reported = (int)x;
		return whole(v, end, UINT64_MAX, &k->lost);
	}
	for (int i = 0; i < RESUME_NCOUNTERS; i++) {
		if (word(p, len, counter_names[i], &v)) {
			if (once(seen, 5 + i) < 0)
				return -1;
			return whole(v, end, UINT64_MAX, &r->counters[i]);
		}
	}
	return -1;
}

int resume_parse(const char *text, struct resume *r)
{
	const unsigned all = (1u << (5 + RESUME_NCOUNTERS)) - 1;
	unsigned seen = 0;
	const char *p = text;

	memset(r, 0, sizeof(*r));
	while (*p != '\0') {
		const char *end = strchr(p, ' ');

		if (end == NULL)
			end = p + strlen(p);
		/* Each key once; sinks repeat, in the order they were made. */
		if (parse_word(p, end, r, &seen) < 0)
			return -1;
		p = *end == ' ' ? end + 1 : end;
	}
	return seen == all ? 0 : -1;
}

int resume_sinks(const struct resume *r, struct event_ctx *ev)
{
	for (int i = 0; i < r->nsinks; i++) {
		const struct resume_sink *k = &r->sinks[i];
		struct sink *made = k->journal ? sink_journal_fd(k->fd, k->open_errno)
					       : sink_file_fd(k->fd, k->open_errno,
							      k->fd == 2 ? "standard error" : "log file");

		if (made == NULL)
			return -1;
		event_add_sink(ev, made);
	}
	return 0;
}

void resume_apply(const struct resume *r, struct session *s)
{
	int i = 0;

	memcpy(s->ev->session, r->session, sizeof(s->ev->session));
#define SET(name, field) field = r->counters[i++];
	RESUME_COUNTERS(SET)
#undef SET
	for (int k = 0; k < s->ev->nsinks && k < r->nsinks; k++) {
		s->ev->sinks[k]->lost = r->sinks[k].lost;
		s->ev->sinks[k]->reported = r->sinks[k].reported;
	}
	s->started_ms = r->started_ms;
	s->conn->session_deadline =
		s->cfg->session_timeout > 0 ? r->started_ms + (int64_t)s->cfg->session_timeout * 1000 : 0;
	s->spool_failed = r->spool_failed;
	memcpy(s->verb_count, r->verbs, sizeof(s->verb_count));
	s->sandbox = strcmp(r->sandbox, "seccomp") == 0 ? "seccomp"
		     : strcmp(r->sandbox, "unavailable") == 0 ? "unavailable" : "off";
}
