/*
 * fuzz_message.c - what is learned from a message: message_headers_feed
 * and mime_feed over the payload (its head repeated to reach the 64 KiB
 * header cap and the 8 KiB MIME line cap) split at points the input
 * chooses, then message_headers_json and mime_finish, whose every string and
 * key must be valid UTF-8 and whose text must be one strict JSON line; then
 * message_decode_words on the payload into a buffer of exactly the chosen
 * capacity (an overflow is an ASan report). The stored header block must be
 * the stream's prefix up to and including the first empty line, and a
 * header block cut before its empty line must say "truncated". The MIME
 * scan must not depend on where reads split the message: the attachments
 * found with the chosen pieces are those found with the whole in one piece.
 *
 * Input: hdr[0] = decode capacity (bits 0-2), repeat (bits 3-5) of
 * hdr[1] payload bytes (0: up to the end) from offset hdr[2];
 * hdr[3] = table entries; entry = piece size (bits 0-6, 0: all that is
 * left; bit 7: times 512).
 */
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "mime.h"

/* Index of the LF that ends the header block (the empty line), or n. */
static size_t ref_header_end(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		if (i == 0 || p[i - 1] == '\n')
			return i;
		if (p[i - 1] == '\r' && (i == 1 || p[i - 2] == '\n'))
			return i;
	}
	return n;
}

static int is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return 0;
	for (int i = 0; i < 64; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

/* Attachments with the chosen pieces, and with the whole in one piece. */
static void check_mime(const unsigned char *stream, size_t n, const struct fuzz_input *in)
{
	struct mime_scan *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct fuzz_pieces pieces;
	json_object *ja, *jb;
	const char *ta, *tb;
	size_t off = 0, la, lb;

	CHECK(a != NULL && b != NULL);
	mime_init(a);
	mime_init(b);
	fuzz_pieces_init(&pieces, in, 0);
	while (off < n) {
		const uint8_t *e = fuzz_pieces_next(&pieces);
		size_t piece = e != NULL && (e[0] & 127) != 0 ? (size_t)(e[0] & 127) : n - off;

		if (e != NULL && (e[0] & 128))
			piece *= 512;
		if (piece > n - off)
			piece = n - off;
		mime_feed(a, stream + off, piece);
		off += piece;
	}
	mime_feed(b, stream, n);
	ja = mime_finish(a);
	jb = mime_finish(b);
	CHECK(ja != NULL && json_object_is_type(ja, json_type_array));
	CHECK(json_object_array_length(ja) <= MIME_ATTACHMENTS_MAX);
	CHECK(json_object_array_length(ja) <= a->attachments);
	for (size_t i = 0; i < json_object_array_length(ja); i++) {
		json_object *x = json_object_array_get_idx(ja, i), *v;

		CHECK(json_object_is_type(x, json_type_object));
		CHECK(json_object_object_get_ex(x, "filename", &v) && json_object_is_type(v, json_type_string));
		CHECK(json_object_object_get_ex(x, "content_type", &v) &&
		      json_object_is_type(v, json_type_string));
		CHECK(json_object_object_get_ex(x, "size", &v) && json_object_is_type(v, json_type_int) &&
		      json_object_get_int64(v) >= 0);
		CHECK(json_object_object_get_ex(x, "sha256", &v) && is_hex64(json_object_get_string(v)));
	}
	ta = json_object_to_json_string_length(ja, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
					       &la);
	tb = json_object_to_json_string_length(jb, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
					       &lb);
	/* As an event field: valid UTF-8, one line. */
	{
		json_object *wrap = json_object_new_object(), *back;
		const char *tw;
		size_t lw;

		json_object_object_add(wrap, "attachments", json_object_get(ja));
		tw = json_object_to_json_string_length(
			wrap, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &lw);
		back = fuzz_check_json_line(tw, lw);
		json_object_put(back);
		json_object_put(wrap);
	}
	CHECK(la == lb && memcmp(ta, tb, la) == 0);
	CHECK(a->parts == b->parts && a->attachments == b->attachments);
	json_object_put(ja);
	json_object_put(jb);
	mime_free(a);
	mime_free(b);
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[8] = { 0, 1, 2, 3, 16, 100, 1024, 4096 };
	static const size_t repeats[8] = { 1, 1, 1, 2, 16, 128, 1100, 4096 };
	struct fuzz_input in;
	struct fuzz_pieces pieces;
	struct message_headers *m = malloc(sizeof(*m));
	unsigned char *stream;
	size_t n, off = 0, t, cap;
	json_object *j, *back, *trunc;

	CHECK(m != NULL);
	fuzz_split(data, size, 4, 1, &in);
	cap = caps[in.hdr[0] & 7];
	stream = fuzz_repeat(in.payload, in.npayload, in.hdr[2], in.hdr[1], repeats[(in.hdr[0] >> 3) & 7], 1 << 18,
			     &n);
	fuzz_pieces_init(&pieces, &in, 0);

	message_headers_init(m);
	while (off < n) {
		const uint8_t *e = fuzz_pieces_next(&pieces);
		size_t piece = e != NULL && (e[0] & 127) != 0 ? (size_t)(e[0] & 127) : n - off;

		if (e != NULL && (e[0] & 128))
			piece *= 512;
		if (piece > n - off)
			piece = n - off;
		message_headers_feed(m, stream + off, piece);
		off += piece;
		CHECK(m->len <= HEADER_BLOCK_MAX);
	}

	/* The block is the stream's prefix through the empty line, capped. */
	t = ref_header_end(stream, n);
	CHECK(memcmp(m->block, stream, m->len) == 0);
	if (t < n && t < HEADER_BLOCK_MAX) {
		CHECK(m->done);
		CHECK(!m->full);
		CHECK(m->len == t + 1);
	} else if (t == n) {
		CHECK(!m->done);
		CHECK(m->len == (n < HEADER_BLOCK_MAX ? n : HEADER_BLOCK_MAX));
		if (n < HEADER_BLOCK_MAX)
			CHECK(!m->full);
		if (n > HEADER_BLOCK_MAX)
			CHECK(m->full);
	} else {
		CHECK(m->len == HEADER_BLOCK_MAX);
	}

	j = message_headers_json(m);
	CHECK(j != NULL);
	fuzz_check_json_strings(j);
	{
		size_t len;
		const char *text = json_object_to_json_string_length(
			j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

		back = fuzz_check_json_line(text, len);
		json_object_put(back);
	}
	/*
	 * Header bytes were lost when the empty line starts after the cap:
	 * the event must say so. (When only the empty line itself was cut,
	 * either answer is fine.)
	 */
	if (t < n) {
		size_t blank = t > 0 && stream[t - 1] == '\r' ? t - 1 : t;

		if (blank > HEADER_BLOCK_MAX) {
			CHECK(json_object_object_get_ex(j, "truncated", &trunc));
			CHECK(json_object_get_boolean(trunc));
		}
	}
	json_object_put(j);

	check_mime(stream, n, &in);

	{
		char *out = malloc(cap > 0 ? cap : 1);
		size_t got;

		CHECK(out != NULL);
		got = message_decode_words((const char *)in.payload, in.npayload, out, cap);
		CHECK(got <= cap);
		/* Without an encoded word, decoding is the identity (capped). */
		if (memmem(in.payload, in.npayload, "=?", 2) == NULL) {
			size_t want = in.npayload < cap ? in.npayload : cap;

			CHECK(got == want);
			CHECK(memcmp(out, in.payload, got) == 0);
		}
		free(out);
	}
	free(stream);
	free(m);
	return 0;
}
