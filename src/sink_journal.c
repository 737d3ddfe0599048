/*
 * sink_journal.c - events to the systemd journal through sd_journal_sendv.
 * libsystemd is loaded with dlopen only when this sink is enabled, as
 * systemd does for its optional libraries: a session that logs only to a
 * file never pays for mapping and relocating it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <systemd/sd-journal.h>

#include "sink.h"

/* The prototype from the header keeps the dlsym'd pointer type-checked. */
typedef __typeof__(sd_journal_sendv) *sendv_fn;

struct journal_ctx {
	sendv_fn sendv;
	void *lib;
};

static const int priorities[] = { 6, 4, 3 }; /* INFO, WARN, ERROR */
static const char *const levels[] = { "INFO", "WARN", "ERROR" };
static char ident[] = "SYSLOG_IDENTIFIER=smtpot";

static int journal_write(struct sink *s, const struct event_record *r)
{
	struct journal_ctx *j = s->ctx;
	char prio[16], mid[48], ev[64], sess[64], seq[40], ip[96], lvl[24];
	struct iovec iov[9];
	int rc;

	if (j->sendv == NULL) {
		sink_failed(s, "cannot load libsystemd.so.0", ENOENT);
		return -1;
	}
	/* The field name goes into the headroom before the text. */
	memcpy(r->json - EVENT_HEADROOM, "MESSAGE=", EVENT_HEADROOM);
	iov[0].iov_base = r->json - EVENT_HEADROOM;
	iov[0].iov_len = r->len + EVENT_HEADROOM;
#define FIELD(i, buf, ...)                                              \
	do {                                                            \
		int n_ = snprintf(buf, sizeof(buf), __VA_ARGS__);       \
		iov[i].iov_base = buf;                                  \
		iov[i].iov_len = n_ < (int)sizeof(buf) ? (size_t)n_ : sizeof(buf) - 1; \
	} while (0)
	FIELD(1, prio, "PRIORITY=%d", priorities[r->level]);
	FIELD(2, mid, "MESSAGE_ID=%s", r->message_id);
	FIELD(3, ev, "SMTPOT_EVENT=%s", r->name);
	FIELD(4, sess, "SMTPOT_SESSION=%s", r->session);
	FIELD(5, seq, "SMTPOT_SEQ=%llu", (unsigned long long)r->seq);
	FIELD(6, ip, "SMTPOT_SOURCE_IP=%s", r->source_ip);
	FIELD(7, lvl, "SMTPOT_LEVEL=%s", levels[r->level]);
#undef FIELD
	iov[8].iov_base = ident;
	iov[8].iov_len = sizeof(ident) - 1;
	rc = j->sendv(iov, 9);
	if (rc < 0) {
		sink_failed(s, "sd_journal_sendv", -rc);
		return -1;
	}
	return 0;
}

static void journal_close(struct sink *s)
{
	struct journal_ctx *j = s->ctx;

	/* The library stays mapped: unloading it at exit buys nothing. */
	free(j);
	free(s);
}

struct sink *sink_journal_open(void)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct journal_ctx *j = calloc(1, sizeof(*j));

	if (s == NULL || j == NULL) {
		free(s);
		free(j);
		return NULL;
	}
	j->lib = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
	if (j->lib != NULL)
		*(void **)&j->sendv = dlsym(j->lib, "sd_journal_sendv");
	s->name = "journal";
	s->write = journal_write;
	s->close = journal_close;
	s->ctx = j;
	return s;
}
