/*
 * fuzz_line.c - the bounded line reader over a conn whose reads return the
 * payload in pieces whose sizes come from the input, with EINTR/EAGAIN
 * injected, and an end that is EOF, a reset, a read error or a stall (idle
 * timeout on a fake clock). Every line is checked against a reference split
 * of the payload (content, kept prefix, true length, flags), and so are the
 * raw DATA accessors (line_fill/peek/consume/discard) mixed in between.
 *
 * Input: hdr[0] = max (bits 0-2), end (3-4), raw mode (5-6);
 * hdr[1] = the flush call that fails (0: none); hdr[2] = table entries.
 * Entry: bits 0-5 size (0: 64 KiB), 6-7: 1 EINTR first, 2 EAGAIN first,
 * 3 size * 64.
 */
#include "fuzz_util.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "conn.h"
#include "line.h"

enum { END_EOF, END_RESET, END_EIO, END_STALL };

struct src {
	const uint8_t *p;
	size_t n, delivered;
	struct fuzz_pieces pieces;
	int end;
	int have_entry, injected;
	size_t size;
	int inject;
	unsigned flushes, fail_flush_at;
	int flush_pending, flush_failed;
};

static int64_t now_ms;

static int64_t fake_mono(void)
{
	return now_ms;
}

static void next_entry(struct src *s)
{
	const uint8_t *e = fuzz_pieces_next(&s->pieces);
	unsigned v = e != NULL ? e[0] : 0;

	s->size = v & 63;
	s->inject = 0;
	if (s->size == 0)
		s->size = 65536;
	switch (v >> 6) {
	case 1:
		s->inject = EINTR;
		break;
	case 2:
		s->inject = EAGAIN;
		break;
	case 3:
		s->size *= 64;
		break;
	}
	s->have_entry = 1;
	s->injected = 0;
}

static ssize_t src_read(struct conn *c, void *buf, size_t n)
{
	struct src *s = c->ctx;
	size_t take;

	if (!s->have_entry)
		next_entry(s);
	if (s->inject != 0 && !s->injected) {
		s->injected = 1;
		errno = s->inject;
		return -1;
	}
	/* The line reader flushes replies before every blocking read. */
	CHECK(s->flush_pending);
	s->flush_pending = 0;
	s->have_entry = 0;
	if (s->delivered == s->n) {
		switch (s->end) {
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
	take = s->n - s->delivered;
	if (take > s->size)
		take = s->size;
	if (take > n)
		take = n;
	memcpy(buf, s->p + s->delivered, take);
	s->delivered += take;
	return (ssize_t)take;
}

static ssize_t src_write(struct conn *c, const void *buf, size_t n)
{
	(void)c, (void)buf;
	return (ssize_t)n;
}

static int src_pending(struct conn *c)
{
	(void)c;
	return 0;
}

static int src_wait(struct conn *c, short events, int timeout_ms)
{
	struct src *s = c->ctx;

	if (events == POLLIN && s->delivered == s->n && s->end == END_STALL && timeout_ms >= 0) {
		now_ms += timeout_ms;
		return 0;
	}
	return 1;
}

static const struct conn_ops src_ops = {
	.read = src_read, .write = src_write, .pending = src_pending, .wait = src_wait,
};

static int src_flush(void *arg)
{
	struct src *s = arg;

	/* A flush is followed by exactly one read unless it fails. */
	CHECK(!s->flush_pending);
	s->flushes++;
	if (s->flushes == s->fail_flush_at) {
		s->flush_failed = 1;
		return -1;
	}
	s->flush_pending = 1;
	return 0;
}

/* lr holds the line made of raw[0..rawlen) with maybe a line end stripped. */
static void check_line(const struct line_reader *lr, const uint8_t *raw, size_t rawlen,
		       size_t max, int complete, int crlf)
{
	size_t keep = rawlen < max ? rawlen : max;
	unsigned want = 0;

	CHECK(lr->total == rawlen);
	CHECK(lr->len == keep);
	CHECK(lr->len <= lr->max);
	CHECK(memcmp(lr->line, raw, keep) == 0);
	CHECK(lr->line[lr->len] == '\0');
	if (complete && !crlf)
		want |= LINE_BARE_LF;
	if (memchr(raw, '\r', rawlen) != NULL)
		want |= LINE_BARE_CR;
	if (memchr(raw, '\0', rawlen) != NULL)
		want |= LINE_NUL;
	if (rawlen > max)
		want |= LINE_TOO_LONG;
	CHECK(lr->flags == want);
}

/* The reader stopped (r <= 0): check why against how the source ended. */
static void check_end(const struct src *s, const struct conn *c, int r)
{
	if (s->flush_failed) {
		CHECK(r == -1);
		return;
	}
	CHECK(s->delivered == s->n);
	switch (s->end) {
	case END_EOF:
	case END_RESET:
		CHECK(r == 0);
		CHECK(c->status == CONN_EOF);
		break;
	case END_EIO:
		CHECK(r == -1);
		CHECK(c->status == CONN_ERROR);
		break;
	case END_STALL:
		CHECK(r == -1);
		CHECK(c->status == CONN_IDLE_TIMEOUT);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxes[8] = { 1, 2, 3, 8, 16, 64, 512, 2048 };
	struct fuzz_input in;
	struct fuzz_pieces want_sizes;
	struct line_reader lr;
	struct conn c;
	struct src s;
	size_t max, pos = 0;
	int raw_mode;
	unsigned op = 0;

	fuzz_split(data, size, 3, 1, &in);
	max = maxes[in.hdr[0] & 7];
	raw_mode = (in.hdr[0] >> 5) & 3;

	memset(&s, 0, sizeof(s));
	s.p = in.payload;
	s.n = in.npayload;
	s.end = (in.hdr[0] >> 3) & 3;
	s.fail_flush_at = in.hdr[1];
	fuzz_pieces_init(&s.pieces, &in, 0);
	fuzz_pieces_init(&want_sizes, &in, 1);

	clock_mono_ms = fake_mono;
	now_ms = 1000000;
	conn_stop_signal = 0;
	conn_init_fd(&c, -1, -1);
	c.ops = &src_ops;
	c.ctx = &s;
	c.idle_ms = 5000;
	CHECK(line_reader_init(&lr, &c, max) == 0);
	lr.flush = src_flush;
	lr.flush_arg = &s;

	for (;;) {
		int r = line_read(&lr);
		const uint8_t *lf;

		CHECK(pos <= s.delivered);
		lf = memchr(s.p + pos, '\n', s.delivered - pos);
		if (r <= 0) {
			/* The partial line is everything delivered after the last line. */
			CHECK(lf == NULL);
			check_line(&lr, s.p + pos, s.delivered - pos, max, 0, 0);
			check_end(&s, &c, r);
			break;
		}
		CHECK(r == 1);
		CHECK(lf != NULL);
		{
			size_t rawlen = (size_t)(lf - (s.p + pos));
			int crlf = rawlen > 0 && lf[-1] == '\r';

			check_line(&lr, s.p + pos, rawlen - (crlf ? 1 : 0), max, 1, crlf);
			pos += rawlen + 1;
		}
		/* Pipelined bytes stay buffered, in order. */
		CHECK(line_buffered(&lr) == s.delivered - pos);
		CHECK(memcmp(line_peek(&lr), s.p + pos, line_buffered(&lr)) == 0);

		if (raw_mode == 0)
			continue;
		op++;
		if (raw_mode == 2 || (raw_mode == 3 && op % 3 == 0)) {
			const unsigned char *p;
			size_t n;

			line_discard(&lr, &p, &n);
			CHECK(n == s.delivered - pos);
			CHECK(memcmp(p, s.p + pos, n) == 0);
			pos = s.delivered;
			CHECK(line_buffered(&lr) == 0);
		} else {
			const uint8_t *e = fuzz_pieces_next(&want_sizes);
			size_t want = e != NULL && (e[0] & 63) != 0 ? (size_t)(e[0] & 63) : 7;
			size_t have;

			r = line_fill(&lr);
			if (r <= 0) {
				check_end(&s, &c, r);
				break;
			}
			have = line_buffered(&lr);
			CHECK(have > 0);
			CHECK(have == s.delivered - pos);
			if (want > have)
				want = have;
			CHECK(memcmp(line_peek(&lr), s.p + pos, want) == 0);
			line_consume(&lr, want);
			pos += want;
		}
	}
	line_reader_free(&lr);
	return 0;
}
