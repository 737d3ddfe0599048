/*
 * mime.c - a line-driven MIME scanner. A part's header block says what
 * it is; its body is decoded (base64 or quoted-printable) straight into a
 * SHA-256, never kept. Boundaries are recognised only at line starts and
 * only for boundaries declared by an enclosing Content-Type. Lines longer
 * than MIME_LINE_MAX are handled in pieces, so a one-line base64 body is
 * still hashed whole.
 */
#include "mime.h"

#include <ctype.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "text.h"

void mime_init(struct mime_scan *m)
{
	memset(&m->len, 0, sizeof(*m) - offsetof(struct mime_scan, len));
	m->in_headers = 1; /* the message's own header block comes first */
	m->list = json_object_new_array();
}

void mime_free(struct mime_scan *m)
{
	json_object_put(m->list);
	m->list = NULL;
}

/* Copies the value of parameter `name` (quoted or not) from a header value. */
static void param(const char *v, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = v;

	out[0] = '\0';
	while ((p = strchr(p, ';')) != NULL) {
		size_t k = 0;

		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, name, nl) != 0)
			continue;
		p += nl;
		if (*p == '*') /* RFC 2231 name*=charset''value: keep the value part */
			p++;
		if (*p != '=')
			continue;
		p++;
		if (*p == '"') {
			for (p++; *p != '\0' && *p != '"' && k + 1 < cap; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				out[k++] = *p;
			}
		} else {
			const char *q = strstr(p, "''");
			const char *semi = strchr(p, ';');

			if (q != NULL && (semi == NULL || q < semi))
				p = q + 2;
			while (*p != '\0' && *p != ';' && *p != ' ' && *p != '\t' && k + 1 < cap)
				out[k++] = *p++;
		}
		out[k] = '\0';
		return;
	}
}

/* One unfolded header field of a part. */
static void header(struct mime_scan *m)
{
	char *colon, *v;

	m->field[m->flen] = '\0';
	colon = strchr(m->field, ':');
	m->flen = 0;
	if (colon == NULL)
		return;
	*colon = '\0';
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	if (strcasecmp(m->field, "Content-Type") == 0) {
		size_t k = 0;

		while (v[k] != '\0' && v[k] != ';' && v[k] != ' ' && k + 1 < sizeof(m->part.type)) {
			m->part.type[k] = (char)tolower((unsigned char)v[k]);
			k++;
		}
		m->part.type[k] = '\0';
		param(v, "boundary", m->part.boundary, sizeof(m->part.boundary));
		if (m->part.filename[0] == '\0')
			param(v, "name", m->part.filename, sizeof(m->part.filename));
	} else if (strcasecmp(m->field, "Content-Disposition") == 0) {
		m->part.attachment = strncasecmp(v, "attachment", 10) == 0;
		param(v, "filename", m->part.filename, sizeof(m->part.filename));
	} else if (strcasecmp(m->field, "Content-Transfer-Encoding") == 0) {
		size_t k = 0;

		while (v[k] != '\0' && v[k] != ' ' && k + 1 < sizeof(m->part.encoding)) {
			m->part.encoding[k] = (char)tolower((unsigned char)v[k]);
			k++;
		}
		m->part.encoding[k] = '\0';
	}
}

static int is_b64(const struct mime_scan *m)
{
	return strcmp(m->part.encoding, "base64") == 0;
}

static int is_qp(const struct mime_scan *m)
{
	return strcmp(m->part.encoding, "quoted-printable") == 0;
}

static void out(struct mime_scan *m, const unsigned char *p, size_t n)
{
	sha256_update(&m->sha, p, n);
	m->size += n;
}

static int hexv(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * Decodes a piece of the part's body. `bol`: the piece starts a line;
 * `eol`: it ends one (long lines come in several pieces).
 */
static void body(struct mime_scan *m, const unsigned char *p, size_t n, int bol, int eol)
{
	unsigned char buf[MIME_LINE_MAX];
	size_t o = 0;

	if (is_b64(m)) {
		for (size_t i = 0; i < n; i++) {
			int v = base64_value(p[i]);

			if (v < 0)
				continue; /* white space, padding, junk */
			m->acc = m->acc << 6 | (unsigned)v;
			m->bits += 6;
			if (m->bits >= 8) {
				m->bits -= 8;
				buf[o++] = (unsigned char)(m->acc >> m->bits);
			}
		}
		out(m, buf, o);
		return;
	}
	/* Text encodings: the line break before a line belongs to the content. */
	if (bol && !m->first_line)
		out(m, (const unsigned char *)"\r\n", 2);
	m->first_line = 0;
	if (is_qp(m)) {
		int soft = eol && n > 0 && p[n - 1] == '=';

		for (size_t i = 0; i < n - (soft ? 1 : 0); i++) {
			if (p[i] == '=' && i + 2 < n && hexv(p[i + 1]) >= 0 && hexv(p[i + 2]) >= 0) {
				buf[o++] = (unsigned char)(hexv(p[i + 1]) * 16 + hexv(p[i + 2]));
				i += 2;
			} else {
				buf[o++] = p[i];
			}
		}
		out(m, buf, o);
		if (soft)
			m->first_line = 1; /* a soft break: no line break follows */
		return;
	}
	out(m, p, n);
}

static void end_part(struct mime_scan *m)
{
	json_object *a;
	unsigned char d[32];
	char hex[65];

	if (!m->collecting)
		return;
	m->collecting = 0;
	m->attachments++;
	sha256_final(&m->sha, d);
	if (json_object_array_length(m->list) >= MIME_ATTACHMENTS_MAX)
		return;
	sha256_hex(d, hex);
	a = json_object_new_object();
	text_put_str(a, "filename", m->part.filename);
	text_put_str(a, "content_type", m->part.type[0] ? m->part.type : "text/plain");
	if (m->part.encoding[0] != '\0')
		text_put_str(a, "encoding", m->part.encoding);
	text_add(a, "size", text_int((int64_t)m->size));
	text_add(a, "sha256", json_object_new_string(hex));
	json_object_array_add(m->list, a);
}

/* The header block of a part ended: decide what its body is. */
static void start_body(struct mime_scan *m)
{
	if (m->flen > 0)
		header(m);
	m->in_headers = 0;
	if (m->part.boundary[0] != '\0' && strncmp(m->part.type, "multipart/", 10) == 0) {
		if (m->nboundaries < MIME_DEPTH)
			memcpy(m->boundaries[m->nboundaries++], m->part.boundary, MIME_BOUNDARY_MAX);
		return; /* a container: its parts follow */
	}
	m->parts++;
	if (m->part.filename[0] != '\0' || m->part.attachment ||
	    (m->part.type[0] != '\0' && strncmp(m->part.type, "text/", 5) != 0 &&
	     strncmp(m->part.type, "multipart/", 10) != 0 && strcmp(m->part.type, "message/rfc822") != 0)) {
		m->collecting = 1;
		m->first_line = 1;
		m->size = 0;
		m->acc = m->bits = 0;
		sha256_init(&m->sha);
	}
}

/* A delimiter line of an enclosing multipart: 1 open, 2 close, 0 none. */
static int delimiter(struct mime_scan *m, size_t *level)
{
	size_t n = m->len;

	while (n > 0 && (m->line[n - 1] == ' ' || m->line[n - 1] == '\t' || m->line[n - 1] == '\r'))
		n--;
	if (m->long_line || n < 3 || m->line[0] != '-' || m->line[1] != '-')
		return 0;
	for (size_t i = m->nboundaries; i-- > 0;) {
		size_t bl = strlen(m->boundaries[i]);

		if (n >= bl + 2 && memcmp(m->line + 2, m->boundaries[i], bl) == 0) {
			*level = i;
			if (n == bl + 2)
				return 1;
			if (n == bl + 4 && m->line[bl + 2] == '-' && m->line[bl + 3] == '-')
				return 2;
		}
	}
	return 0;
}

static void line_done(struct mime_scan *m)
{
	size_t level;
	int d = m->nboundaries > 0 ? delimiter(m, &level) : 0;

	if (d != 0) {
		end_part(m);
		m->nboundaries = d == 2 ? level : level + 1;
		memset(&m->part, 0, sizeof(m->part));
		m->in_headers = d == 1;
		m->flen = 0;
	} else if (m->in_headers) {
		size_t n = m->len;

		if (n > 0 && m->line[n - 1] == '\r')
			n--;
		if (n == 0) {
			start_body(m);
		} else {
			if ((m->line[0] != ' ' && m->line[0] != '\t') && m->flen > 0)
				header(m);
			if (m->flen + n >= sizeof(m->field))
				n = sizeof(m->field) - 1 - m->flen;
			memcpy(m->field + m->flen, m->line, n);
			m->flen += n;
		}
	} else if (m->collecting) {
		size_t n = m->len;

		if (n > 0 && m->line[n - 1] == '\r')
			n--;
		body(m, (const unsigned char *)m->line, n, !m->long_line, 1);
	}
	m->len = 0;
	m->long_line = 0;
}

void mime_feed(struct mime_scan *m, const unsigned char *p, size_t n)
{
	/*
	 * Past a header block that declared no multipart, and not hashing a
	 * body: nothing later can start a part, so the rest is not scanned.
	 */
	if (!m->in_headers && !m->collecting && m->nboundaries == 0)
		return;
	while (n > 0) {
		const unsigned char *lf = memchr(p, '\n', n);
		size_t take = lf != NULL ? (size_t)(lf - p) : n;

		if (take > sizeof(m->line) - m->len) {
			/* An overlong line: hash what is held and go on with the rest. */
			size_t room = sizeof(m->line) - m->len;

			memcpy(m->line + m->len, p, room);
			m->len += room;
			if (m->collecting && !m->in_headers)
				body(m, (const unsigned char *)m->line, m->len, !m->long_line, 0);
			m->len = 0;
			m->long_line = 1;
			p += room;
			n -= room;
			continue;
		}
		memcpy(m->line + m->len, p, take);
		m->len += take;
		p += take;
		n -= take;
		if (lf != NULL) {
			line_done(m);
			p++;
			n--;
		}
	}
}

json_object *mime_finish(struct mime_scan *m)
{
	json_object *r;

	if (m->len > 0)
		line_done(m);
	end_part(m);
	r = m->list;
	m->list = NULL;
	return r;
}
