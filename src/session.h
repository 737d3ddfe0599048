/*
 * session.h - one SMTP session: the state machine, the command table and
 * the handlers. The only place that knows the order of SMTP commands.
 */
#ifndef SMTPOT_SESSION_H
#define SMTPOT_SESSION_H

#include <stdint.h>

#include <json-c/json.h>

#include "config.h"
#include "conn.h"
#include "event.h"
#include "line.h"
#include "reply.h"
#include "spool.h"

/* States as bits, so the command table can list where a verb is allowed. */
enum {
	ST_CONNECTED = 1 << 0, /* before HELO/EHLO */
	ST_GREETED = 1 << 1,   /* no transaction */
	ST_MAIL = 1 << 2,      /* after MAIL */
	ST_RCPT = 1 << 3,      /* after at least one RCPT */
	ST_ANY = ST_CONNECTED | ST_GREETED | ST_MAIL | ST_RCPT,
};

#define SESSION_VERBS 16

struct message_headers;
struct mime_scan;

struct session {
	const struct config *cfg;
	struct conn *conn;
	struct event_ctx *ev;
	struct line_reader lr;
	struct reply rp;
	struct spool spool;
	int spool_ok;     /* the current message is being written */
	int spool_failed; /* the spool directory could not be opened */
	int data_bare_lf; /* the DATA line ended in a bare LF */
	struct message_headers *headers; /* allocated at the first DATA */
	struct mime_scan *mime;          /* likewise */
	unsigned state;
	int ehlo;
	int tls_active;    /* the connection is TLS now */
	int authenticated; /* AUTH succeeded */
	uint64_t auth_tries, auth_failures;
	int done;
	/*
	 * Called once the session is set up and announced (main: the seccomp
	 * filter; allow_exec when STARTTLS would execute the TLS module).
	 */
	int (*confine)(int allow_exec);
	const char *sandbox; /* "seccomp", "unavailable" or "off" */
	/* Run by the dispatcher after the command's event: DATA, STARTTLS. */
	void (*after)(struct session *s);
	const char *end_reason;
	int64_t started_ms;
	json_object *helo, *from, *rcpts; /* what the transaction holds */
	uint64_t nrcpt;
	uint64_t commands, errors, messages, recipients, unknown;
	uint64_t verb_count[SESSION_VERBS];
};

/*
 * For the command handlers outside session.c (auth.c, tls): the pieces
 * every command event is made of.
 */
json_object *session_line_data(struct session *s); /* "line" and line flags */
void session_flag(json_object *d, const char *flag);
void session_add_reply(struct session *s, json_object *d);
/* Adds the reply, emits the event, counts an error reply. */
void session_command_done(struct session *s, enum event_kind kind, json_object *d);
void session_limit(struct session *s, const char *limit, uint64_t value, json_object *d);
void session_timeout(struct session *s, const char *phase);
void session_end(struct session *s, const char *reason);
/* Forgets HELO, AUTH and the transaction (after STARTTLS). */
void session_reset(struct session *s);
void session_error(struct session *s, const char *what, int err);
/* After line_read/line_fill returned r <= 0 inside a handler: ends the session properly. */
void session_read_failed(struct session *s, int r, const char *phase);

/* Sets up a session over conn; 0 or -1 (out of memory). */
int session_init(struct session *s, const struct config *cfg, struct conn *c,
		 struct event_ctx *ev);
/* Runs it to the end; the disconnect event is always written. */
void session_run(struct session *s);
/* The same after the banner: for a session smtpot-tls took over at STARTTLS. */
void session_continue(struct session *s);
void session_free(struct session *s);

#endif
