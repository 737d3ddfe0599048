/*
 * fuzz_util.c - helpers of the harnesses: input layout, abort-on-failure,
 * and reference checks (UTF-8, JSON line, SHA-256) that share no code with
 * src/. A failed check prints what failed and aborts, which libFuzzer
 * reports as a crash with the input saved.
 */
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "\n*** fuzz invariant failed: %s:%d: %s\n", file, line, what);
	abort();
}

void fuzz_split(const uint8_t *data, size_t size, size_t nhdr, size_t esz,
		struct fuzz_input *in)
{
	size_t k, rest;

	memset(in, 0, sizeof(*in));
	if (nhdr > FUZZ_HDR_MAX)
		nhdr = FUZZ_HDR_MAX;
	memcpy(in->hdr, data, size < nhdr ? size : nhdr);
	if (size <= nhdr) {
		in->payload = data + size;
		in->esz = esz;
		return;
	}
	rest = size - nhdr;
	k = nhdr > 0 ? in->hdr[nhdr - 1] : 0;
	if (k > rest / esz)
		k = rest / esz;
	in->payload = data + nhdr;
	in->npayload = rest - k * esz;
	in->table = data + size - k * esz;
	in->ntable = k;
	in->esz = esz;
}

void fuzz_pieces_init(struct fuzz_pieces *p, const struct fuzz_input *in, size_t start)
{
	p->table = in->table;
	p->n = in->ntable;
	p->esz = in->esz;
	p->next = in->ntable > 0 ? start % in->ntable : 0;
}

const uint8_t *fuzz_pieces_next(struct fuzz_pieces *p)
{
	const uint8_t *e;

	if (p->n == 0)
		return NULL;
	e = p->table + p->next * p->esz;
	p->next = (p->next + 1) % p->n;
	return e;
}

uint8_t *fuzz_repeat(const uint8_t *p, size_t n, size_t start, size_t unit, size_t times,
		     size_t cap, size_t *out_len)
{
	size_t len = 0, rest;
	uint8_t *b;

	if (start > n)
		start = n;
	if (unit == 0 || unit > n - start)
		unit = n - start;
	rest = n - start - unit;
	if (times == 0)
		times = 1;
	if (unit > 0 && times > cap / unit)
		times = cap / unit > 0 ? cap / unit : 1;
	b = malloc(start + unit * times + rest + 1);
	if (b == NULL)
		abort();
	memcpy(b, p, start);
	len = start;
	for (size_t i = 0; i < times; i++) {
		memcpy(b + len, p + start, unit);
		len += unit;
	}
	memcpy(b + len, p + start + unit, rest);
	len += rest;
	*out_len = len;
	return b;
}

int fuzz_utf8_valid(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i];
		size_t need;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			need = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			need = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return 0;
		}
		if (n - i - 1 < need)
			return 0;
		for (size_t k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

void fuzz_check_json_strings(json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_string:
		CHECK(fuzz_utf8_valid((const unsigned char *)json_object_get_string(o),
				      (size_t)json_object_get_string_len(o)));
		break;
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			fuzz_check_json_strings(json_object_array_get_idx(o, i));
		break;
	case json_type_object: {
		json_object_object_foreach(o, key, val) {
			CHECK(fuzz_utf8_valid((const unsigned char *)key, strlen(key)));
			fuzz_check_json_strings(val);
		}
		break;
	}
	default:
		break;
	}
}

/* Prints the text around offset at (escaped) before a failure. */
static void show_around(const char *what, const char *s, size_t n, size_t at)
{
	size_t from = at > 80 ? at - 80 : 0, to = at + 20 < n ? at + 20 : n;

	fprintf(stderr, "\n*** %s at byte %zu of %zu: ...", what, at, n);
	for (size_t i = from; i < to; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fprintf(stderr, "...\n");
}

/* Offset of the first byte that breaks strict UTF-8, or n. */
static size_t utf8_bad_at(const unsigned char *p, size_t n)
{
	size_t lo = 0, hi = n;

	/* The validator is all-or-nothing; bisect on prefixes that end between sequences. */
	if (fuzz_utf8_valid(p, n))
		return n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		while (mid > lo && (p[mid] & 0xc0) == 0x80)
			mid--;
		if (mid == lo)
			break;
		if (fuzz_utf8_valid(p, mid))
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

json_object *fuzz_check_json_line(const char *s, size_t n)
{
	struct json_tokener *tok;
	json_object *o;

	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20) {
			show_around("control byte in an event line", s, n, i);
			CHECK((unsigned char)s[i] >= 0x20);
		}
	}
	if (!fuzz_utf8_valid((const unsigned char *)s, n)) {
		show_around("invalid UTF-8 in an event line", s, n,
			    utf8_bad_at((const unsigned char *)s, n));
		CHECK(fuzz_utf8_valid((const unsigned char *)s, n));
	}
	tok = json_tokener_new();
	CHECK(tok != NULL);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, s, (int)n);
	CHECK(o != NULL);
	CHECK(json_tokener_get_error(tok) == json_tokener_success);
	CHECK(json_tokener_get_parse_end(tok) == n);
	json_tokener_free(tok);
	CHECK(json_object_is_type(o, json_type_object));
	fuzz_check_json_strings(o);
	return o;
}

size_t fuzz_count(const unsigned char *p, size_t n, unsigned char c)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += p[i] == c;
	return k;
}

/* --- SHA-256 ---------------------------------------------------------- */

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, unsigned r)
{
	return x >> r | x << (32 - r);
}

static void sha_block(struct fuzz_sha *s, const unsigned char *b)
{
	uint32_t w[64], v[8], t1, t2;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
		       (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
	for (int i = 16; i < 64; i++)
		w[i] = (ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ w[i - 2] >> 10) + w[i - 7] +
		       (ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ w[i - 15] >> 3) + w[i - 16];
	memcpy(v, s->h, sizeof(v));
	for (int i = 0; i < 64; i++) {
		t1 = v[7] + (ror(v[4], 6) ^ ror(v[4], 11) ^ ror(v[4], 25)) +
		     ((v[4] & v[5]) ^ (~v[4] & v[6])) + K[i] + w[i];
		t2 = (ror(v[0], 2) ^ ror(v[0], 13) ^ ror(v[0], 22)) +
		     ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
		memmove(v + 1, v, 7 * sizeof(v[0]));
		v[4] += t1;
		v[0] = t1 + t2;
	}
	for (int i = 0; i < 8; i++)
		s->h[i] += v[i];
}

void fuzz_sha_init(struct fuzz_sha *s)
{
	static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

	memcpy(s->h, h0, sizeof(h0));
	s->len = 0;
	s->fill = 0;
}

void fuzz_sha_update(struct fuzz_sha *s, const void *p, size_t n)
{
	const unsigned char *b = p;

	s->len += n;
	while (n > 0) {
		size_t take = 64 - s->fill < n ? 64 - s->fill : n;

		memcpy(s->buf + s->fill, b, take);
		s->fill += take;
		b += take;
		n -= take;
		if (s->fill == 64) {
			sha_block(s, s->buf);
			s->fill = 0;
		}
	}
}

void fuzz_sha_hex(struct fuzz_sha *s, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	uint64_t bits = s->len * 8;
	unsigned char pad[72] = { 0x80 };
	size_t padlen = (s->fill < 56 ? 56 : 120) - s->fill;

	for (int i = 0; i < 8; i++)
		pad[padlen + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
	fuzz_sha_update(s, pad, padlen + 8);
	for (int i = 0; i < 32; i++) {
		unsigned char x = (unsigned char)(s->h[i / 4] >> (24 - 8 * (i % 4)));

		hex[2 * i] = digits[x >> 4];
		hex[2 * i + 1] = digits[x & 15];
	}
	hex[64] = '\0';
}
