/*
 * reply.h - buffered SMTP replies. Replies pile up while pipelined commands
 * are answered and go out in one write before the next blocking read, which
 * is all that PIPELINING asks of a server.
 */
#ifndef SMTPOT_REPLY_H
#define SMTPOT_REPLY_H

#include <stddef.h>

#include "conn.h"
#include "limits.h"

struct reply {
	struct conn *conn;
	char buf[REPLY_BUFFER_SIZE];
	size_t len;
	/* The last reply queued, without CRLF, for the event of its command. */
	char last[512];
	size_t last_len;
	int last_code;
	int continuing; /* the last line queued ended in '-' */
	int failed; /* a write failed: nothing more is sent */
};

void reply_init(struct reply *r, struct conn *c);
/*
 * Queues one reply line "CODE TEXT" (or "CODE-TEXT" when more follows);
 * text must hold no CR or LF. last/last_code keep the whole reply,
 * continuation lines joined by CRLF.
 */
int reply_line(struct reply *r, int code, int more, const char *text);
/* Same with printf-style formatting. */
int reply_fmt(struct reply *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int reply_flush(struct reply *r);
/* Callback shape for line_reader.flush. */
int reply_flush_cb(void *arg);

#endif
