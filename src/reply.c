/*
 * reply.c - the reply buffer. A reply never holds client bytes with CR or
 * LF (callers pass only their own text), so no client can add a reply line.
 * A failed write is remembered and ends the session at the next read.
 */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void reply_init(struct reply *r, struct conn *c)
{
	r->conn = c;
	r->len = 0;
	r->last_len = 0;
	r->last[0] = '\0';
	r->last_code = 0;
	r->continuing = 0;
	r->failed = 0;
}

int reply_flush(struct reply *r)
{
	if (r->len == 0)
		return r->failed ? -1 : 0;
	if (!r->failed && conn_write_all(r->conn, r->buf, r->len) < 0)
		r->failed = 1;
	r->len = 0;
	return r->failed ? -1 : 0;
}

int reply_flush_cb(void *arg)
{
	return reply_flush(arg);
}

int reply_line(struct reply *r, int code, int more, const char *text)
{
	char line[512];
	size_t len, keep, tlen = strlen(text);

	if (code < 100 || code > 999)
		return -1;
	/* "%03d%c%s\r\n", the text cut to fit the line. */
	line[0] = (char)('0' + code / 100);
	line[1] = (char)('0' + code / 10 % 10);
	line[2] = (char)('0' + code % 10);
	line[3] = more ? '-' : ' ';
	if (tlen > sizeof(line) - 6)
		tlen = sizeof(line) - 6;
	memcpy(line + 4, text, tlen);
	memcpy(line + 4 + tlen, "\r\n", 2);
	len = tlen + 6;
	if (r->len + len > sizeof(r->buf) && reply_flush(r) < 0)
		return -1;
	memcpy(r->buf + r->len, line, len);
	r->len += len;

	/* Keep the whole reply for the event, continuation lines joined by CRLF. */
	if (!r->continuing)
		r->last_len = 0;
	keep = more ? len : len - 2;
	if (r->last_len + keep < sizeof(r->last)) {
		memcpy(r->last + r->last_len, line, keep);
		r->last_len += keep;
	}
	r->last[r->last_len] = '\0';
	r->continuing = more;
	if (!more)
		r->last_code = code;
	return 0;
}

int reply_fmt(struct reply *r, int code, const char *fmt, ...)
{
	char text[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return reply_line(r, code, 0, text);
}
