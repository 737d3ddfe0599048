/*
 * message.c - header extraction. The header block is the bytes up to the
 * first empty line (CRLF or bare LF), capped; fields are unfolded (RFC 5322
 * 2.2.3) and encoded words decoded (RFC 2047: B and Q, UTF-8 and ASCII
 * kept as they are, ISO-8859-1 converted, other charsets kept as bytes and
 * so shown with their exact bytes in a _b64 field). A header that was
 * decoded also keeps its raw form in "<name>_raw".
 */
#include "message.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "text.h"

void message_headers_init(struct message_headers *m)
{
	m->len = 0;
	m->state = 1; /* the start counts as just after a line end */
	m->done = 0;
	m->full = 0;
}

void message_headers_feed(struct message_headers *m, const unsigned char *p, size_t n)
{
	size_t i;

	if (m->done || m->full)
		return;
	/* state: 0 in a line, 1 just after LF, 2 after LF then CR. */
	for (i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (c == '\n') {
			if (m->state != 0) {
				m->done = 1;
				i++;
				break;
			}
			m->state = 1;
		} else if (c == '\r' && m->state == 1) {
			m->state = 2;
		} else {
			m->state = 0;
		}
	}
	if (i > sizeof(m->block) - m->len) {
		/* Cut before its end (even if the end was in this piece): say so. */
		i = sizeof(m->block) - m->len;
		m->full = 1;
	}
	memcpy(m->block + m->len, p, i);
	m->len += i;
	if (m->len == sizeof(m->block) && !m->done)
		m->full = 1;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes one encoded word's text into out; -1 when it is malformed. */
static long decode_word(char enc, const char *t, size_t n, unsigned char *out)
{
	long o = 0;

	if (enc == 'B' || enc == 'b')
		return base64_decode(t, n, out);
	for (size_t i = 0; i < n; i++) {
		if (t[i] == '_') {
			out[o++] = ' ';
		} else if (t[i] == '=' && i + 2 < n + 0 && hexval(t[i + 1]) >= 0 && hexval(t[i + 2]) >= 0) {
			out[o++] = (unsigned char)(hexval(t[i + 1]) * 16 + hexval(t[i + 2]));
			i += 2;
		} else if (t[i] == '=') {
			return -1;
		} else {
			out[o++] = (unsigned char)t[i];
		}
	}
	return o;
}

static int is_latin1(const char *cs, size_t n)
{
	static const char *const names[] = { "iso-8859-1", "iso8859-1", "latin1", "windows-1252",
					     "cp1252", "us-ascii" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i]) == n && strncasecmp(cs, names[i], n) == 0)
			return 1;
	}
	return 0;
}

/* Appends b[0..n) to out, converting from ISO-8859-1 if asked; new length. */
static size_t put(char *out, size_t o, size_t cap, const unsigned char *b, size_t n, int latin1)
{
	for (size_t i = 0; i < n; i++) {
		if (latin1 && b[i] >= 0x80) {
			if (o + 2 > cap)
				break;
			out[o++] = (char)(0xc0 | b[i] >> 6);
			out[o++] = (char)(0x80 | (b[i] & 0x3f));
		} else {
			if (o + 1 > cap)
				break;
			out[o++] = (char)b[i];
		}
	}
	return o;
}

size_t message_decode_words(const char *s, size_t n, char *out, size_t cap)
{
	size_t i = 0, o = 0, pending_ws = 0, ws_start = 0;
	int last_was_word = 0;

	while (i < n && o < cap) {
		const char *q1, *q2, *end;

		if (s[i] == '=' && i + 1 < n && s[i + 1] == '?' &&
		    (q1 = memchr(s + i + 2, '?', n - i - 2)) != NULL && q1 + 2 < s + n &&
		    q1[2] == '?' && strchr("BbQq", q1[1]) != NULL &&
		    (end = memmem(q1 + 3, (size_t)(s + n - (q1 + 3)), "?=", 2)) != NULL) {
			unsigned char dec[HEADER_FIELD_MAX * 2];
			const char *cs = s + i + 2;
			size_t cslen = (size_t)(q1 - cs), tlen = (size_t)(end - (q1 + 3));
			long d = -1;

			q2 = memchr(cs, '*', cslen); /* RFC 2231 language suffix */
			if (q2 != NULL)
				cslen = (size_t)(q2 - cs);
			if (tlen <= sizeof(dec) * 3 / 4)
				d = decode_word(q1[1], q1 + 3, tlen, dec);
			if (d >= 0) {
				/* White space between two encoded words is dropped. */
				if (pending_ws > 0 && !last_was_word)
					o = put(out, o, cap, (const unsigned char *)s + ws_start, pending_ws, 0);
				pending_ws = 0;
				o = put(out, o, cap, dec, (size_t)d, is_latin1(cs, cslen));
				i = (size_t)(end - s) + 2;
				last_was_word = 1;
				continue;
			}
		}
		if (s[i] == ' ' || s[i] == '\t') {
			if (pending_ws == 0)
				ws_start = i;
			pending_ws++;
			i++;
			continue;
		}
		if (pending_ws > 0)
			o = put(out, o, cap, (const unsigned char *)s + ws_start, pending_ws, 0);
		pending_ws = 0;
		last_was_word = 0;
		o = put(out, o, cap, (const unsigned char *)s + i, 1, 0);
		i++;
	}
	if (pending_ws > 0)
		o = put(out, o, cap, (const unsigned char *)s + ws_start, pending_ws, 0);
	return o;
}

static const struct {
	const char *header, *key;
} wanted[] = {
	{ "subject", "subject" },       { "from", "from" },
	{ "to", "to" },                 { "cc", "cc" },
	{ "reply-to", "reply_to" },     { "date", "date" },
	{ "message-id", "message_id" }, { "x-mailer", "x_mailer" },
	{ "user-agent", "user_agent" }, { "return-path", "return_path" },
	{ "content-type", "content_type" },
};

/* Adds one field, decoded, with its raw form when decoding changed it. */
static void add_field(json_object *obj, const char *key, const char *raw, size_t n)
{
	char dec[HEADER_FIELD_MAX * 2];
	size_t d = message_decode_words(raw, n, dec, sizeof(dec));

	text_put_cap(obj, key, dec, d, HEADER_FIELD_MAX);
	if (d != n || memcmp(dec, raw, n) != 0) {
		char k[64];

		snprintf(k, sizeof(k), "%s_raw", key);
		text_put_cap(obj, k, raw, n, HEADER_FIELD_MAX);
	}
}

/*
 * Unfolds the field value that starts at v (up to end of block) into out:
 * line ends inside the field are removed, the white space kept. Returns the
 * length written; *next is the start of the next field.
 */
static size_t unfold(const unsigned char *v, const unsigned char *end, char *out, size_t cap,
		     const unsigned char **next)
{
	size_t o = 0;
	const unsigned char *p = v;

	while (p < end) {
		const unsigned char *lf = memchr(p, '\n', (size_t)(end - p));
		const unsigned char *le = lf != NULL ? lf : end;
		size_t n = (size_t)(le - p);

		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (o + n > cap)
			n = cap - o;
		memcpy(out + o, p, n);
		o += n;
		p = lf != NULL ? lf + 1 : end;
		if (p >= end || (*p != ' ' && *p != '\t'))
			break;
	}
	*next = p;
	return o;
}

json_object *message_headers_json(const struct message_headers *m)
{
	json_object *obj = json_object_new_object(), *received = json_object_new_array();
	const unsigned char *p = m->block, *end = m->block + m->len;
	unsigned seen = 0;
	size_t count = 0, nreceived = 0;

	while (p < end && *p != '\r' && *p != '\n') {
		const unsigned char *colon = memchr(p, ':', (size_t)(end - p));
		const unsigned char *lf = memchr(p, '\n', (size_t)(end - p));
		char value[HEADER_FIELD_MAX * 4];
		const unsigned char *next;
		size_t namelen, vlen;

		if (colon == NULL || (lf != NULL && colon > lf)) {
			/* Not a header line: skip it (and its folded lines). */
			(void)unfold(p, end, value, sizeof(value), &next);
			p = next;
			continue;
		}
		namelen = (size_t)(colon - p);
		while (namelen > 0 && (p[namelen - 1] == ' ' || p[namelen - 1] == '\t'))
			namelen--;
		count++;
		colon++;
		while (colon < end && (*colon == ' ' || *colon == '\t'))
			colon++;
		vlen = unfold(colon, end, value, sizeof(value), &next);
		while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
			vlen--;
		if (namelen == 8 && strncasecmp((const char *)p, "received", 8) == 0) {
			if (nreceived++ < RECEIVED_MAX)
				json_object_array_add(received, text_new(value, vlen < HEADER_FIELD_MAX ? vlen : HEADER_FIELD_MAX));
		} else {
			for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
				if (!(seen & 1u << i) && strlen(wanted[i].header) == namelen &&
				    strncasecmp((const char *)p, wanted[i].header, namelen) == 0) {
					seen |= 1u << i;
					add_field(obj, wanted[i].key, value, vlen);
					break;
				}
			}
		}
		p = next;
	}
	text_add(obj, "received", received);
	if (nreceived > RECEIVED_MAX)
		text_add(obj, "received_count", text_int((int64_t)nreceived));
	text_add(obj, "count", text_int((int64_t)count));
	if (m->full)
		text_add(obj, "truncated", json_object_new_boolean(1));
	return obj;
}
