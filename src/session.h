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

#define SESSION_VERBS 12

struct message_headers;

struct session {
	const struct config *cfg;
	struct conn *conn;
	struct event_ctx *ev;
	struct line_reader lr;
	struct reply rp;
	struct spool spool;
	int spool_ok;     /* the current message is being written */
	int spool_failed; /* the spool directory could not be opened */
	int in_data;      /* DATA was answered 354: the message follows */
	int data_bare_lf; /* ... and the DATA line ended in a bare LF */
	struct message_headers *headers; /* allocated at the first DATA */
	unsigned state;
	int ehlo;
	int done;
	const char *end_reason;
	int64_t started_ms;
	json_object *helo, *from, *rcpts; /* what the transaction holds */
	uint64_t nrcpt;
	uint64_t commands, errors, messages, recipients, unknown;
	uint64_t verb_count[SESSION_VERBS];
};

/* Sets up a session over conn; 0 or -1 (out of memory). */
int session_init(struct session *s, const struct config *cfg, struct conn *c,
		 struct event_ctx *ev);
/* Runs it to the end; the disconnect event is always written. */
void session_run(struct session *s);
void session_free(struct session *s);

#endif
