/*
 * line.h - bounded line reader over a conn. A line ends at LF only; the CR
 * before it is dropped, a bare LF or a CR elsewhere is flagged. A line
 * longer than the limit keeps its first bytes and its true length, and the
 * rest is skipped up to the LF so the protocol stays in step. Bytes after
 * the line stay buffered for the next call (pipelining) or for raw readers
 * such as DATA.
 */
#ifndef SMTPOT_LINE_H
#define SMTPOT_LINE_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"

enum {
	LINE_BARE_LF = 1 << 0,  /* ended by LF without CR */
	LINE_BARE_CR = 1 << 1,  /* holds a CR not followed by LF */
	LINE_NUL = 1 << 2,      /* holds a NUL byte */
	LINE_TOO_LONG = 1 << 3, /* longer than the limit; text is a prefix */
};

struct line_reader {
	struct conn *conn;
	unsigned char *buf; /* INPUT_BUFFER_SIZE bytes read ahead */
	size_t start, end;
	unsigned char *line; /* max bytes of the current line */
	size_t max;
	size_t len;   /* bytes kept in line */
	size_t total; /* bytes of the line as sent, without its line end */
	unsigned flags;
	int partial; /* the last line_read stopped inside a line (EOF, signal, timeout) */
	/* Called before every blocking read, to send pending replies. */
	int (*flush)(void *arg);
	void *flush_arg;
};

int line_reader_init(struct line_reader *lr, struct conn *c, size_t max);
void line_reader_free(struct line_reader *lr);

/*
 * Reads one line: 1 when a whole line is in lr->line/len/total/flags;
 * 0 at end of input (a partial line, if any, is left in lr->line/len/total);
 * -1 on timeout, signal or error (lr->conn->status says which) or when the
 * flush callback failed.
 */
int line_read(struct line_reader *lr);

/* Raw access for DATA: buffered bytes, filling the buffer when empty. */
int line_fill(struct line_reader *lr);
static inline size_t line_buffered(const struct line_reader *lr)
{
	return lr->end - lr->start;
}
static inline const unsigned char *line_peek(const struct line_reader *lr)
{
	return lr->buf + lr->start;
}
static inline void line_consume(struct line_reader *lr, size_t n)
{
	lr->start += n;
}
/* Drops everything buffered (the bytes are returned through the arguments). */
void line_discard(struct line_reader *lr, const unsigned char **p, size_t *n);

#endif
