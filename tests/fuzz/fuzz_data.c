/*
 * fuzz_data.c - the DATA state machine fed the payload split at points the
 * input chooses. A reference written here from RFC 5321 4.5.2 and data.h
 * says what must come out: the message ends at the first <CRLF>.<CRLF>
 * (the DATA line's own line end counts as the CRLF before a dot on the
 * first line); a dot that follows a CRLF is removed, except a dot (or dot
 * and CR) left at end of input; every other dot line is a smuggling
 * candidate. The output bytes, the counters, the anomaly counts and first
 * offsets, the long-line record and the smuggling records must all match.
 *
 * Input: hdr[0] = max stored (bits 0-3), DATA ended in bare LF (bit 4),
 * repeat (bits 5-7) of hdr[1] payload bytes (0: up to the end) from
 * offset hdr[2]; hdr[3] = table entries; entry = piece size (0: all that
 * is left).
 */
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

#include "data.h"

struct out {
	unsigned char *p;
	size_t len, cap;
};

static void collect(void *arg, const unsigned char *p, size_t n)
{
	struct out *o = arg;

	CHECK(n > 0);
	if (o->len + n > o->cap) {
		o->cap = (o->len + n) * 2;
		o->p = realloc(o->p, o->cap);
		CHECK(o->p != NULL);
	}
	memcpy(o->p + o->len, p, n);
	o->len += n;
}

struct ref_anomaly {
	uint64_t count, first;
};

struct ref {
	int ended;
	size_t consumed; /* payload bytes the machine must take */
	unsigned char *out; /* the whole message, unstuffed, before the cap */
	size_t len;
	uint64_t stuffed;
	struct ref_anomaly nul, bare_lf, bare_cr, long_line;
	uint64_t longest;
	uint64_t smuggle_count;
	char smuggle_form[SMUGGLE_RECORD_MAX][8];
	uint64_t smuggle_off[SMUGGLE_RECORD_MAX];
};

static void ref_note(struct ref_anomaly *a, uint64_t at)
{
	if (a->count++ == 0)
		a->first = at;
}

/*
 * v[0..nv) is the DATA command's line end followed by the payload; the
 * message is v[pre..end).
 */
static void ref_run(const unsigned char *v, size_t nv, size_t pre, struct ref *r)
{
	size_t end = nv, i, line_start = 0;

	memset(r, 0, sizeof(*r));
	for (i = 0; i + 5 <= nv; i++) {
		if (memcmp(v + i, "\r\n.\r\n", 5) == 0) {
			r->ended = 1;
			end = i + 2;
			r->consumed = i + 5 - pre;
			break;
		}
	}
	if (!r->ended)
		r->consumed = nv - pre;
	r->out = malloc(nv + 1);
	CHECK(r->out != NULL);
	for (i = pre; i < end; i++) {
		unsigned char c = v[i];
		int after_crlf = i >= 2 && v[i - 1] == '\n' && v[i - 2] == '\r';
		/* At end of input a dot, or a dot and a CR, may still be the end. */
		int held = !r->ended && (i + 1 == nv || (i + 2 == nv && v[i + 1] == '\r'));

		if (c == '.' && (v[i - 1] == '\n' || v[i - 1] == '\r')) {
			char form[8];
			size_t f = 0;
			int after = 0;

			if (after_crlf)
				form[f++] = '\r', form[f++] = '\n';
			else
				form[f++] = (char)v[i - 1];
			form[f++] = '.';
			if (i + 1 < nv && v[i + 1] == '\n') {
				form[f++] = '\n';
				after = 1;
			} else if (i + 2 < nv && v[i + 1] == '\r') {
				form[f++] = '\r';
				if (v[i + 2] == '\n')
					form[f++] = '\n';
				after = 1;
			}
			form[f] = '\0';
			if (after) {
				CHECK(strcmp(form, "\r\n.\r\n") != 0);
				if (r->smuggle_count < SMUGGLE_RECORD_MAX) {
					memcpy(r->smuggle_form[r->smuggle_count], form, f + 1);
					r->smuggle_off[r->smuggle_count] = r->len;
				}
				r->smuggle_count++;
			}
		}
		if (c == '.' && after_crlf && !held) {
			r->stuffed++;
			continue;
		}
		if (c == '\0')
			ref_note(&r->nul, r->len);
		if (c == '\n' && v[i - 1] != '\r')
			ref_note(&r->bare_lf, r->len);
		if (c == '\r' && i + 1 < nv && v[i + 1] != '\n')
			ref_note(&r->bare_cr, r->len);
		if (c == '\n') {
			uint64_t len = r->len - line_start;

			if (len > 0 && r->out[r->len - 1] == '\r' && v[i - 1] == '\r')
				len--;
			if (len > BODY_LINE_MAX) {
				ref_note(&r->long_line, line_start);
				if (len > r->longest)
					r->longest = len;
			}
			line_start = r->len + 1;
		}
		r->out[r->len++] = c;
	}
	if (!r->ended && r->len - line_start > BODY_LINE_MAX) {
		ref_note(&r->long_line, line_start);
		if (r->len - line_start > r->longest)
			r->longest = r->len - line_start;
	}
}

static void check_anomaly(const struct data_anomaly *a, const struct ref_anomaly *w)
{
	CHECK(a->count == w->count);
	if (w->count > 0)
		CHECK(a->first == w->first);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t maxes[16] = { 0, 1, 2, 3, 4, 5, 8, 16, 64, 998, 1000, 4096, 65536,
					    10240000, MAX_MESSAGE_SIZE, MAX_MESSAGE_SIZE };
	static const size_t repeats[8] = { 1, 1, 1, 1, 2, 7, 64, 600 };
	struct fuzz_input in;
	struct fuzz_pieces pieces;
	struct data_parser d;
	struct out o = { 0 };
	struct ref r;
	uint64_t max;
	int bare_lf;
	unsigned char *stream, *v;
	size_t n, pre, off = 0;

	fuzz_split(data, size, 4, 1, &in);
	max = maxes[in.hdr[0] & 15];
	bare_lf = (in.hdr[0] >> 4) & 1;
	stream = fuzz_repeat(in.payload, in.npayload, in.hdr[2], in.hdr[1], repeats[in.hdr[0] >> 5], 1 << 20, &n);
	fuzz_pieces_init(&pieces, &in, 0);

	data_init(&d, max, bare_lf, collect, &o);
	while (off < n && !d.ended) {
		const uint8_t *e = fuzz_pieces_next(&pieces);
		size_t piece = e != NULL && e[0] != 0 ? e[0] : n - off;
		size_t used;

		if (piece > n - off)
			piece = n - off;
		used = data_feed(&d, stream + off, piece);
		CHECK(used <= piece);
		if (used < piece)
			CHECK(d.ended);
		off += used;
		CHECK(d.stored <= d.max);
		CHECK(d.received >= d.stored);
		CHECK(o.len == d.stored);
	}
	if (!d.ended)
		data_eof(&d);

	/* The reference sees the DATA line's end, then the payload. */
	pre = bare_lf ? 1 : 2;
	v = malloc(n + pre);
	CHECK(v != NULL);
	memcpy(v, bare_lf ? "\n" : "\r\n", pre);
	memcpy(v + pre, stream, n);
	ref_run(v, n + pre, pre, &r);

	CHECK(d.ended == r.ended);
	CHECK(off == r.consumed);
	CHECK(d.received == r.len);
	CHECK(d.stored == (r.len < max ? r.len : max));
	CHECK(o.len == d.stored);
	CHECK(o.len == 0 || memcmp(o.p, r.out, o.len) == 0);
	CHECK(d.stuffed == r.stuffed);
	check_anomaly(&d.nul, &r.nul);
	check_anomaly(&d.bare_lf, &r.bare_lf);
	check_anomaly(&d.bare_cr, &r.bare_cr);
	check_anomaly(&d.long_line, &r.long_line);
	if (r.long_line.count > 0)
		CHECK(d.longest == r.longest);
	CHECK(d.smuggle_count == r.smuggle_count);
	for (uint64_t i = 0; i < r.smuggle_count && i < SMUGGLE_RECORD_MAX; i++) {
		CHECK(strcmp(d.smuggle[i].form, r.smuggle_form[i]) == 0);
		CHECK(d.smuggle[i].offset == r.smuggle_off[i]);
	}
	{
		json_object *j = data_anomalies_json(&d);
		size_t len;
		const char *text = json_object_to_json_string_length(j, JSON_C_TO_STRING_PLAIN, &len);
		json_object *back = fuzz_check_json_line(text, len);

		json_object_put(back);
		json_object_put(j);
	}
	free(r.out);
	free(v);
	free(o.p);
	free(stream);
	return 0;
}
