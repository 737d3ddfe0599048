/*
 * tlsfp.c - ClientHello parsing (RFC 8446 4.1.2, RFC 5246 7.4.1.2) over
 * possibly fragmented handshake records, and the JA3 and JA4 recipes:
 * GREASE values (RFC 8701) are left out of both; JA3 keeps the client's
 * order, JA4 sorts ciphers and extensions and leaves SNI and ALPN out of
 * its extension hash. Every length is checked against what is there.
 */
#include "tlsfp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "md5.h"
#include "sha256.h"

static int grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

struct rd {
	const unsigned char *p;
	size_t n;
};

static int u8(struct rd *r, unsigned *v)
{
	if (r->n < 1)
		return -1;
	*v = r->p[0];
	r->p++, r->n--;
	return 0;
}

static int u16(struct rd *r, unsigned *v)
{
	if (r->n < 2)
		return -1;
	*v = (unsigned)r->p[0] << 8 | r->p[1];
	r->p += 2, r->n -= 2;
	return 0;
}

/* A sub-reader of len bytes (len read as a `width`-byte prefix). */
static int sub(struct rd *r, int width, struct rd *out)
{
	unsigned len, lo;

	if (width == 1 ? u8(r, &len) : u16(r, &len))
		return -1;
	if (width == 3) {
		if (u8(r, &lo))
			return -1;
		len = len << 8 | lo;
	}
	if (r->n < len)
		return -1;
	out->p = r->p;
	out->n = len;
	r->p += len, r->n -= len;
	return 0;
}

static void list16(struct rd r, uint16_t *out, size_t *n)
{
	unsigned v;

	*n = 0;
	while (r.n >= 2 && u16(&r, &v) == 0) {
		if (*n < TLSFP_LIST_MAX)
			out[(*n)++] = (uint16_t)v;
	}
}

static void extension(struct client_hello *ch, unsigned type, struct rd e)
{
	struct rd l;
	unsigned v;

	switch (type) {
	case 0: /* server_name: list of (type, name) */
		ch->has_sni = 1;
		if (sub(&e, 2, &l) == 0 && u8(&l, &v) == 0 && v == 0 && sub(&l, 2, &e) == 0) {
			size_t k = e.n < sizeof(ch->sni) - 1 ? e.n : sizeof(ch->sni) - 1;

			memcpy(ch->sni, e.p, k);
			ch->sni[k] = '\0';
		}
		break;
	case 10: /* supported_groups */
		if (sub(&e, 2, &l) == 0)
			list16(l, ch->groups, &ch->ngroups);
		break;
	case 11: /* ec_point_formats */
		if (sub(&e, 1, &l) == 0) {
			ch->npoint_formats = 0;
			while (u8(&l, &v) == 0 && ch->npoint_formats < TLSFP_LIST_MAX)
				ch->point_formats[ch->npoint_formats++] = (uint8_t)v;
		}
		break;
	case 13: /* signature_algorithms */
		if (sub(&e, 2, &l) == 0)
			list16(l, ch->sig_algs, &ch->nsig_algs);
		break;
	case 16: /* ALPN: the first protocol name */
		ch->has_alpn = 1;
		if (sub(&e, 2, &l) == 0 && sub(&l, 1, &e) == 0) {
			ch->alpn_len = e.n < sizeof(ch->alpn) ? e.n : sizeof(ch->alpn);
			memcpy(ch->alpn, e.p, ch->alpn_len);
		}
		break;
	case 43: /* supported_versions */
		if (sub(&e, 1, &l) == 0)
			list16(l, ch->versions, &ch->nversions);
		break;
	default:
		break;
	}
}

size_t tlsfp_hello_length(const unsigned char *p, size_t n)
{
	size_t off = 0, have = 0, need = 0;

	/* Not TLS at all, or not one whole record yet: all of it is worth keeping. */
	if (n < 5 || p[0] != 22)
		return n;
	/* Handshake records, until they hold the whole first handshake message. */
	while (off + 5 <= n && p[off] == 22) {
		size_t len = (size_t)p[off + 3] << 8 | p[off + 4];
		const unsigned char *frag = p + off + 5;

		if (have < 4) {
			/* The message header may itself be split; read what this record adds. */
			for (size_t i = 0; i < len && have + i < 4 && off + 5 + i < n; i++) {
				if (have + i >= 1)
					need = need << 8 | frag[i];
			}
		}
		have += len;
		off += 5 + len;
		if (have >= 4 && have >= need + 4)
			break;
	}
	return off < n && have >= 4 && have >= need + 4 ? off : n;
}

int tlsfp_parse(const unsigned char *p, size_t n, struct client_hello *ch)
{
	unsigned char hs[16384 + 5];
	size_t hlen = 0;
	struct rd r = { p, n }, body, l;
	unsigned v, type;

	memset(ch, 0, sizeof(*ch));
	/* Join the handshake fragments of consecutive records. */
	while (r.n >= 5 && r.p[0] == 22) {
		struct rd frag;

		r.p += 3, r.n -= 3; /* type, record version */
		if (sub(&r, 2, &frag) < 0)
			break;
		if (hlen + frag.n > sizeof(hs))
			frag.n = sizeof(hs) - hlen;
		memcpy(hs + hlen, frag.p, frag.n);
		hlen += frag.n;
	}
	r.p = hs;
	r.n = hlen;
	if (u8(&r, &type) < 0 || type != 1 || sub(&r, 3, &body) < 0)
		return -1;
	if (u16(&body, &v) < 0 || body.n < 32)
		return -1;
	ch->legacy_version = (uint16_t)v;
	body.p += 32, body.n -= 32; /* random */
	if (sub(&body, 1, &l) < 0) /* session id */
		return -1;
	if (sub(&body, 2, &l) < 0)
		return -1;
	list16(l, ch->ciphers, &ch->nciphers);
	if (sub(&body, 1, &l) < 0) /* compression methods */
		return -1;
	if (body.n == 0)
		return 0; /* no extensions */
	if (sub(&body, 2, &l) < 0)
		return -1;
	while (l.n >= 4) {
		struct rd e;

		if (u16(&l, &type) < 0 || sub(&l, 2, &e) < 0)
			return -1;
		if (ch->nexts < TLSFP_LIST_MAX)
			ch->exts[ch->nexts++] = (uint16_t)type;
		extension(ch, type, e);
	}
	return 0;
}

/* Appends the non-GREASE values joined by '-' (decimal). */
static size_t join_dec(char *out, size_t o, size_t cap, const uint16_t *v, size_t n)
{
	int first = 1;

	for (size_t i = 0; i < n && o < cap; i++) {
		int w;

		if (grease(v[i]))
			continue;
		w = snprintf(out + o, cap - o, "%s%u", first ? "" : "-", v[i]);
		if (w < 0 || (size_t)w >= cap - o)
			return cap;
		o += (size_t)w;
		first = 0;
	}
	return o;
}

void tlsfp_ja3(const struct client_hello *ch, char *out, size_t cap, char md5[33])
{
	uint16_t pf[TLSFP_LIST_MAX];
	size_t o;

	for (size_t i = 0; i < ch->npoint_formats; i++)
		pf[i] = ch->point_formats[i];
	o = (size_t)snprintf(out, cap, "%u,", ch->legacy_version);
	o = join_dec(out, o, cap, ch->ciphers, ch->nciphers);
	if (o + 1 < cap)
		out[o++] = ',';
	o = join_dec(out, o, cap, ch->exts, ch->nexts);
	if (o + 1 < cap)
		out[o++] = ',';
	o = join_dec(out, o, cap, ch->groups, ch->ngroups);
	if (o + 1 < cap)
		out[o++] = ',';
	o = join_dec(out, o, cap, pf, ch->npoint_formats);
	if (o >= cap)
		o = cap - 1;
	out[o] = '\0';
	md5_hex(out, o, md5);
}

static int cmp16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* Copies the values to keep (no GREASE, none of skip) into out; their number. */
static size_t keep(const uint16_t *v, size_t n, uint16_t *out, int skip_sni_alpn)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (grease(v[i]) || (skip_sni_alpn && (v[i] == 0 || v[i] == 16)))
			continue;
		out[k++] = v[i];
	}
	return k;
}

/* Hex list "002f,0035" of v into out; its length. */
static size_t hex_list(char *out, size_t o, const uint16_t *v, size_t n)
{
	static const char hexd[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			out[o++] = ',';
		for (int shift = 12; shift >= 0; shift -= 4)
			out[o++] = hexd[(v[i] >> shift) & 15];
	}
	return o;
}

/* First 12 hex digits of the SHA-256 of s, or twelve zeros for nothing. */
static void hash12(const char *s, size_t n, char out[13])
{
	struct sha256 h;
	unsigned char d[32];
	char hex[65];

	if (n == 0) {
		memcpy(out, "000000000000", 13);
		return;
	}
	sha256_init(&h);
	sha256_update(&h, s, n);
	sha256_final(&h, d);
	sha256_hex(d, hex);
	memcpy(out, hex, 12);
	out[12] = '\0';
}

static const char *version_code(const struct client_hello *ch)
{
	unsigned best = 0;

	for (size_t i = 0; i < ch->nversions; i++) {
		if (!grease(ch->versions[i]) && ch->versions[i] > best)
			best = ch->versions[i];
	}
	if (best == 0)
		best = ch->legacy_version;
	switch (best) {
	case 0x0304: return "13";
	case 0x0303: return "12";
	case 0x0302: return "11";
	case 0x0301: return "10";
	case 0x0300: return "s3";
	case 0x0002: return "s2";
	default: return "00";
	}
}

static int alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

void tlsfp_ja4(const struct client_hello *ch, char out[40])
{
	static const char hexd[] = "0123456789abcdef";
	uint16_t c[TLSFP_LIST_MAX], e[TLSFP_LIST_MAX];
	char buf[TLSFP_LIST_MAX * 5 * 2 + 8], hb[13], hc[13], alpn[3] = "00";
	size_t nc = keep(ch->ciphers, ch->nciphers, c, 0);
	size_t ne_all = keep(ch->exts, ch->nexts, e, 0);
	size_t ne = keep(ch->exts, ch->nexts, e, 1);
	size_t o;

	if (ch->has_alpn && ch->alpn_len > 0) {
		unsigned char f = ch->alpn[0], l = ch->alpn[ch->alpn_len - 1];

		if (alnum(f) && alnum(l)) {
			alpn[0] = (char)f;
			alpn[1] = (char)l;
		} else {
			alpn[0] = hexd[f >> 4];
			alpn[1] = hexd[l & 15];
		}
	}
	qsort(c, nc, sizeof(c[0]), cmp16);
	qsort(e, ne, sizeof(e[0]), cmp16);
	o = hex_list(buf, 0, c, nc);
	hash12(buf, o, hb);
	o = hex_list(buf, 0, e, ne);
	if (ch->nsig_algs > 0 && ne > 0) {
		buf[o++] = '_';
		o = hex_list(buf, o, ch->sig_algs, ch->nsig_algs);
	}
	hash12(buf, ne > 0 ? o : 0, hc);
	snprintf(out, 40, "t%s%c%02zu%02zu%s_%s_%s", version_code(ch), ch->has_sni ? 'd' : 'i',
		 nc > 99 ? (size_t)99 : nc, ne_all > 99 ? (size_t)99 : ne_all, alpn, hb, hc);
}
