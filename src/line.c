/*
 * line.c - the bounded line reader. Memory is fixed at start-up: one input
 * buffer and one line buffer of the configured maximum. Nothing grows with
 * input; an endless line costs only time, which the conn deadlines bound.
 */
#include "line.h"

#include <stdlib.h>
#include <string.h>

#include "limits.h"

int line_reader_init(struct line_reader *lr, struct conn *c, size_t max)
{
	memset(lr, 0, sizeof(*lr));
	lr->conn = c;
	lr->max = max;
	lr->buf = malloc(INPUT_BUFFER_SIZE);
	lr->line = malloc(max + 1);
	if (lr->buf == NULL || lr->line == NULL) {
		line_reader_free(lr);
		return -1;
	}
	return 0;
}

void line_reader_free(struct line_reader *lr)
{
	free(lr->buf);
	free(lr->line);
	lr->buf = NULL;
	lr->line = NULL;
}

int line_fill(struct line_reader *lr)
{
	ssize_t r;

	if (lr->start < lr->end)
		return 1;
	lr->start = lr->end = 0;
	if (lr->flush != NULL && lr->flush(lr->flush_arg) < 0)
		return -1;
	r = conn_read(lr->conn, lr->buf, INPUT_BUFFER_SIZE);
	if (r <= 0)
		return (int)r;
	lr->end = (size_t)r;
	return 1;
}

void line_discard(struct line_reader *lr, const unsigned char **p, size_t *n)
{
	*p = lr->buf + lr->start;
	*n = lr->end - lr->start;
	lr->start = lr->end;
}

/* Appends bytes of the current line, keeping at most lr->max of them. */
static void line_take(struct line_reader *lr, const unsigned char *p, size_t n)
{
	size_t room = lr->max - lr->len;

	lr->total += n;
	if (n == 0)
		return;
	if (memchr(p, '\0', n) != NULL)
		lr->flags |= LINE_NUL;
	if (memchr(p, '\r', n) != NULL)
		lr->flags |= LINE_BARE_CR;
	if (n > room) {
		lr->flags |= LINE_TOO_LONG;
		n = room;
	}
	memcpy(lr->line + lr->len, p, n);
	lr->len += n;
}

int line_read(struct line_reader *lr)
{
	/* A CR ending one read may be the CR of a CRLF split across reads. */
	int cr_held = 0;

	lr->len = 0;
	lr->total = 0;
	lr->flags = 0;
	for (;;) {
		const unsigned char *p = lr->buf + lr->start;
		size_t avail = lr->end - lr->start;
		const unsigned char *lf = memchr(p, '\n', avail);
		size_t n = lf != NULL ? (size_t)(lf - p) : avail;
		int r;

		if (cr_held && n > 0) {
			line_take(lr, (const unsigned char *)"\r", 1);
			cr_held = 0;
		}
		if (n > 0 && p[n - 1] == '\r') {
			line_take(lr, p, n - 1);
			cr_held = 1;
		} else {
			line_take(lr, p, n);
		}
		if (lf != NULL) {
			lr->start += n + 1;
			if (!cr_held)
				lr->flags |= LINE_BARE_LF;
			lr->line[lr->len] = '\0';
			lr->partial = 0;
			return 1;
		}
		lr->start = lr->end;
		r = line_fill(lr);
		if (r <= 0) {
			if (cr_held)
				line_take(lr, (const unsigned char *)"\r", 1);
			lr->line[lr->len] = '\0';
			lr->partial = 1;
			return r;
		}
	}
}
