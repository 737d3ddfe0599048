/*
 * text.c - UTF-8 validation (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF) and the field builders. Work is bounded by the
 * field cap, so a 100,000-byte argument costs no more than a short one.
 */
#include "text.h"

#include <json-c/printbuf.h>

#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "limits.h"

/* Length of the valid sequence at p (1-4), or 0 when it is invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

		return n >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

		return n >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
		       (p[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

size_t utf8_valid_prefix(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t k;

		/* Plain ASCII runs are the common case. */
		while (i < n && p[i] < 0x80)
			i++;
		if (i == n)
			break;
		k = utf8_seq(p + i, n - i);
		if (k == 0)
			break;
		i += k;
	}
	return i;
}

/* Writes the valid form of p[0..n) to out (3n bytes of room); its length. */
static size_t utf8_repair(const unsigned char *p, size_t n, char *out)
{
	size_t i = 0, o = 0;

	while (i < n) {
		size_t k = utf8_valid_prefix(p + i, n - i);

		memcpy(out + o, p + i, k);
		o += k;
		i += k;
		if (i < n) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	return o;
}

json_object *text_new(const void *p, size_t n)
{
	char out[TEXT_FIELD_MAX * 3];

	if (n > TEXT_FIELD_MAX)
		n = TEXT_FIELD_MAX;
	if (utf8_valid_prefix(p, n) == n)
		return json_object_new_string_len(p, (int)n);
	n = utf8_repair(p, n, out);
	return json_object_new_string_len(out, (int)n);
}

/* Where to cut n bytes to at most cap without splitting a valid character. */
static size_t cut_point(const unsigned char *p, size_t n, size_t cap)
{
	size_t c = cap, back = 0;

	if (n <= cap)
		return n;
	/* Step back over continuation bytes of a character the cap splits. */
	while (back < 3 && c > 0 && (p[c] & 0xc0) == 0x80) {
		c--;
		back++;
	}
	if (c > 0 && utf8_seq(p + c, n - c) > cap - c)
		return c;
	return cap;
}

static void put(json_object *obj, const char *key, const void *bytes, size_t n, size_t total,
		size_t cap)
{
	const unsigned char *p = bytes;
	char k[64];
	size_t keep;

	if (cap > TEXT_FIELD_MAX)
		cap = TEXT_FIELD_MAX;
	keep = cut_point(p, n, cap);
	json_object_object_add(obj, key, text_new(p, keep));
	if (utf8_valid_prefix(p, keep) != keep) {
		char b64[BASE64_LEN(TEXT_FIELD_MAX) + 1];

		base64_encode(p, keep, b64);
		snprintf(k, sizeof(k), "%s_b64", key);
		json_object_object_add(obj, k, json_object_new_string(b64));
	}
	if (keep < total) {
		snprintf(k, sizeof(k), "%s_truncated", key);
		json_object_object_add(obj, k, json_object_new_boolean(1));
		snprintf(k, sizeof(k), "%s_length", key);
		json_object_object_add(obj, k, text_int((int64_t)total));
	}
}

void text_put_cap(json_object *obj, const char *key, const void *p, size_t n, size_t cap)
{
	put(obj, key, p, n, n, cap);
}

void text_put_prefix(json_object *obj, const char *key, const void *p, size_t n, size_t total)
{
	put(obj, key, p, n, total < n ? n : total, TEXT_FIELD_MAX);
}

void text_put(json_object *obj, const char *key, const void *p, size_t n)
{
	text_put_cap(obj, key, p, n, TEXT_FIELD_MAX);
}

void text_put_str(json_object *obj, const char *key, const char *s)
{
	text_put(obj, key, s, strlen(s));
}

size_t text_u64(char out[21], unsigned long long v)
{
	char tmp[20];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
	return n;
}

static int int_to_json(json_object *jso, struct printbuf *pb, int level, int flags)
{
	char buf[22];
	int64_t v = json_object_get_int64(jso);
	size_t n = 0;

	(void)level;
	(void)flags;
	if (v < 0)
		buf[n++] = '-';
	n += text_u64(buf + n, v < 0 ? -(unsigned long long)v : (unsigned long long)v);
	return printbuf_memappend(pb, buf, (int)n);
}

json_object *text_int(int64_t v)
{
	json_object *o = json_object_new_int64(v);

	if (o != NULL)
		json_object_set_serializer(o, int_to_json, NULL, NULL);
	return o;
}
