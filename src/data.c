/*
 * data.c - the DATA state machine. States say where we are relative to
 * line breaks and dots; the only bytes ever held back are the stuffed dot
 * and the CR after it, until the next byte tells whether they end the
 * message. Plain text is skipped 16 bytes at a time and passed on in runs.
 */
#include "data.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "text.h"

enum {
	S_TEXT,       /* inside a line */
	S_CR,         /* after a CR inside a line */
	S_BOL_CRLF,   /* at a line start after CRLF */
	S_BOL_LF,     /* after a bare LF */
	S_BOL_CR,     /* after a bare CR */
	S_DOT_CRLF,   /* CRLF "."; the dot is held (stuffed or the end) */
	S_DOT_LF,     /* LF "." */
	S_DOT_CR,     /* CR "." */
	S_DOTCR_CRLF, /* CRLF "." CR; dot and CR held */
	S_DOTCR_LF,   /* LF "." CR */
	S_DOTCR_CR,   /* CR "." CR */
};

void data_init(struct data_parser *d, uint64_t max, int after_bare_lf,
	       void (*out)(void *arg, const unsigned char *p, size_t n), void *arg)
{
	memset(d, 0, sizeof(*d));
	d->state = after_bare_lf ? S_BOL_LF : S_BOL_CRLF;
	d->max = max;
	d->out = out;
	d->arg = arg;
}

static void emit(struct data_parser *d, const unsigned char *p, size_t n)
{
	if (n == 0)
		return;
	if (d->stored < d->max) {
		size_t keep = d->max - d->stored < n ? (size_t)(d->max - d->stored) : n;

		d->out(d->arg, p, keep);
		d->stored += keep;
	}
	d->received += n;
}

static void note(struct data_anomaly *a, uint64_t offset)
{
	if (a->count++ == 0)
		a->first = offset;
}

static void smuggled(struct data_parser *d, const char *form, uint64_t offset)
{
	if (d->smuggle_count < SMUGGLE_RECORD_MAX) {
		struct data_smuggle *s = &d->smuggle[d->smuggle_count];

		strncpy(s->form, form, sizeof(s->form) - 1);
		s->offset = offset;
	}
	d->smuggle_count++;
}

/* A line ends at the LF about to be emitted at offset `at`. */
static void line_end(struct data_parser *d, uint64_t at, int crlf)
{
	uint64_t len = at - d->line_start - (crlf ? 1 : 0);

	if (len > BODY_LINE_MAX) {
		note(&d->long_line, d->line_start);
		if (len > d->longest)
			d->longest = len;
	}
	d->line_start = at + 1;
}

/*
 * Offset of the first NUL, CR or LF in p[0..n), or n. With SSE2 it looks
 * at 16 bytes per step: a 72-byte line takes five steps instead of three
 * memchr calls (one per byte value), which cost more than the scanning.
 */
size_t data_scan(const unsigned char *p, size_t n)
{
#if defined(__SSE2__)
	const __m128i lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r'), nul = _mm_setzero_si128();
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		int m = _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr)),
						       _mm_cmpeq_epi8(v, nul)));

		if (m != 0)
			return i + (size_t)__builtin_ctz((unsigned)m);
	}
	for (; i < n; i++) {
		if (p[i] == '\n' || p[i] == '\r' || p[i] == '\0')
			return i;
	}
	return n;
#else
	/* Elsewhere the C library's memchr is the fast scanner. */
	const unsigned char *stop = memchr(p, '\n', n), *x;

	if (stop == NULL)
		stop = p + n;
	if ((x = memchr(p, '\r', (size_t)(stop - p))) != NULL)
		stop = x;
	if ((x = memchr(p, '\0', (size_t)(stop - p))) != NULL)
		stop = x;
	return (size_t)(stop - p);
#endif
}

size_t data_feed(struct data_parser *d, const unsigned char *p, size_t n)
{
	size_t i = 0, run = 0; /* p[run..i) is text not yet emitted */
	uint64_t dot_at = 0;

#define FLUSH() (emit(d, p + run, i - run), run = i)
/* Offset in the message of byte p[i]. */
#define AT() (d->received + (i - run))
	while (i < n) {
		unsigned char c = p[i];

		switch (d->state) {
		case S_TEXT: {
			/* Skip to the first byte that needs a look (NUL, CR, LF). */
			i += data_scan(p + i, n - i);
			if (i == n)
				continue;
		}
			c = p[i];
			if (c == '\0') {
				note(&d->nul, AT());
			} else if (c == '\r') {
				d->state = S_CR;
			} else {
				note(&d->bare_lf, AT());
				line_end(d, AT(), 0);
				d->state = S_BOL_LF;
			}
			i++;
			break;
		case S_CR:
			if (c == '\n') {
				line_end(d, AT(), 1);
				d->state = S_BOL_CRLF;
				i++;
			} else {
				note(&d->bare_cr, AT() - 1);
				d->state = S_BOL_CR;
			}
			break;
		case S_BOL_CRLF:
			if (c == '.') {
				FLUSH();
				i++;
				run = i; /* the dot is held, not emitted */
				d->state = S_DOT_CRLF;
			} else {
				d->state = S_TEXT;
			}
			break;
		case S_BOL_LF:
		case S_BOL_CR:
			if (c == '.') {
				d->state = d->state == S_BOL_LF ? S_DOT_LF : S_DOT_CR;
				i++;
			} else {
				d->state = S_TEXT;
			}
			break;
		case S_DOT_CRLF:
			if (c == '\r') {
				i++;
				run = i; /* CR held too */
				d->state = S_DOTCR_CRLF;
			} else {
				if (c == '\n')
					smuggled(d, "\r\n.\n", AT());
				d->stuffed++;
				d->state = S_TEXT;
				if (c == '\n') {
					note(&d->bare_lf, AT());
					line_end(d, AT(), 0);
					d->state = S_BOL_LF;
					i++;
				}
			}
			break;
		case S_DOTCR_CRLF:
			if (c == '\n') {
				d->ended = 1;
				return i + 1;
			}
			/* CRLF "." CR, then something else: the dot was stuffing, the CR is text. */
			smuggled(d, "\r\n.\r", AT());
			d->stuffed++;
			dot_at = AT();
			emit(d, (const unsigned char *)"\r", 1);
			note(&d->bare_cr, dot_at);
			d->state = S_BOL_CR;
			break;
		case S_DOT_LF:
		case S_DOT_CR:
			dot_at = AT() - 1;
			if (c == '\r') {
				d->state = d->state == S_DOT_LF ? S_DOTCR_LF : S_DOTCR_CR;
				i++;
			} else if (c == '\n') {
				smuggled(d, d->state == S_DOT_LF ? "\n.\n" : "\r.\n", dot_at);
				note(&d->bare_lf, AT());
				line_end(d, AT(), 0);
				d->state = S_BOL_LF;
				i++;
			} else {
				d->state = S_TEXT;
			}
			break;
		case S_DOTCR_LF:
		case S_DOTCR_CR:
			dot_at = AT() - 2;
			if (c == '\n') {
				smuggled(d, d->state == S_DOTCR_LF ? "\n.\r\n" : "\r.\r\n", dot_at);
				line_end(d, AT(), 1);
				d->state = S_BOL_CRLF;
				i++;
			} else {
				smuggled(d, d->state == S_DOTCR_LF ? "\n.\r" : "\r.\r", dot_at);
				note(&d->bare_cr, AT() - 1);
				d->state = S_BOL_CR;
			}
			break;
		}
	}
	FLUSH();
#undef FLUSH
#undef AT
	return n;
}

void data_eof(struct data_parser *d)
{
	if (d->state == S_DOT_CRLF)
		emit(d, (const unsigned char *)".", 1);
	else if (d->state == S_DOTCR_CRLF)
		emit(d, (const unsigned char *)".\r", 2);
	if (d->received - d->line_start > BODY_LINE_MAX) {
		note(&d->long_line, d->line_start);
		if (d->received - d->line_start > d->longest)
			d->longest = d->received - d->line_start;
	}
}

static void put_anomaly(json_object *o, const char *key, const struct data_anomaly *a)
{
	json_object *x;

	if (a->count == 0)
		return;
	x = json_object_new_object();
	text_add(x, "count", text_int((int64_t)a->count));
	text_add(x, "first_offset", text_int((int64_t)a->first));
	text_add(o, key, x); /* key: a literal of the callers below */
}

json_object *data_anomalies_json(const struct data_parser *d)
{
	json_object *o = json_object_new_object();

	put_anomaly(o, "nul", &d->nul);
	put_anomaly(o, "bare_lf", &d->bare_lf);
	put_anomaly(o, "bare_cr", &d->bare_cr);
	put_anomaly(o, "long_line", &d->long_line);
	if (d->long_line.count > 0)
		text_add(json_object_object_get(o, "long_line"), "longest", text_int((int64_t)d->longest));
	if (d->smuggle_count > 0) {
		json_object *x = json_object_new_object(), *list = json_object_new_array();
		uint64_t k = d->smuggle_count < SMUGGLE_RECORD_MAX ? d->smuggle_count : SMUGGLE_RECORD_MAX;

		for (uint64_t i = 0; i < k; i++) {
			json_object *e = json_object_new_object();

			text_add(e, "form", json_object_new_string(d->smuggle[i].form));
			text_add(e, "offset", text_int((int64_t)d->smuggle[i].offset));
			json_object_array_add(list, e);
		}
		text_add(x, "count", text_int((int64_t)d->smuggle_count));
		text_add(x, "dot_lines", list);
		text_add(o, "smuggling", x);
	}
	return o;
}
