/*
 * auth.c - the AUTH exchange. Every answer the client gives is kept twice:
 * as sent (base64, in "raw") and decoded (binary-safe through text_put).
 * A CRAM-MD5 challenge is fresh per attempt and shaped like a real one
 * (<random.time@host>), and is logged with the response so the digest can
 * be cracked offline. Nothing is ever checked against a password.
 */
#include "auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "base64.h"
#include "clock.h"
#include "limits.h"
#include "session.h"
#include "text.h"

int auth_offered(const struct session *s)
{
	const char *w = s->cfg->auth_without_tls;

	if (s->tls_active || strcmp(w, "yes") == 0)
		return 1;
	if (strcmp(w, "no") == 0)
		return 0;
	/* auto: submission (587) wants TLS first, as real servers do; port 25 does not. */
	return s->ev->dest_port != 587;
}

/* Result of reading one client answer. */
enum answer { ANSWER_OK, ANSWER_CANCEL, ANSWER_BAD, ANSWER_LONG, ANSWER_GONE };

/*
 * Sends "334 prompt" and reads the answer into the line buffer; the text
 * is appended to raw as sent.
 */
static enum answer ask(struct session *s, const char *prompt, json_object *raw)
{
	int r;

	reply_line(&s->rp, 334, 0, prompt);
	r = line_read(&s->lr);
	if (r <= 0) {
		session_read_failed(s, r, "auth");
		return ANSWER_GONE;
	}
	json_object_array_add(raw, text_new(s->lr.line, s->lr.len));
	if (s->lr.flags & LINE_TOO_LONG)
		return ANSWER_LONG;
	return s->lr.len == 1 && s->lr.line[0] == '*' ? ANSWER_CANCEL : ANSWER_OK;
}

/* Decodes base64 text (or "=" for empty) into out, room AUTH_FIELD_MAX * 2. */
static enum answer decode(const char *b64, size_t n, unsigned char *out, size_t *len)
{
	long d;

	if (n == 1 && b64[0] == '=') {
		*len = 0;
		return ANSWER_OK;
	}
	if (n > AUTH_FIELD_MAX * 2 / 3 * 4 || (d = base64_decode(b64, n, out)) < 0)
		return ANSWER_BAD;
	*len = (size_t)d;
	return ANSWER_OK;
}

/* Asks, then decodes; the initial response is used instead when given. */
static enum answer answer(struct session *s, const char *prompt, const char **initial, size_t *ilen,
			  json_object *raw, unsigned char *out, size_t *len)
{
	if (*initial != NULL) {
		const char *p = *initial;

		*initial = NULL;
		return decode(p, *ilen, out, len);
	}
	enum answer a = ask(s, prompt, raw);

	return a == ANSWER_OK ? decode((const char *)s->lr.line, s->lr.len, out, len) : a;
}

static void challenge(struct session *s, char *out, size_t cap)
{
	unsigned char r[4] = { 0 };
	unsigned long v;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		memset(r, 0x3c, sizeof(r));
	v = ((unsigned long)r[0] << 24 | (unsigned long)r[1] << 16 | (unsigned long)r[2] << 8 | r[3]) %
	    9000000000UL;
	snprintf(out, cap, "<%lu.%lld@%s>", v + 1000000000UL, (long long)clock_wall(), s->cfg->hostname);
}

/* The policy's verdict for this attempt. */
static int accepted(struct session *s)
{
	uint64_t after;

	switch (config_auth_policy(s->cfg, &after)) {
	case AUTH_ACCEPT:
		return 1;
	case AUTH_ACCEPT_AFTER:
		if (s->auth_failures >= after)
			return 1;
		s->auth_failures++;
		return 0;
	default:
		return 0;
	}
}

static void verdict(struct session *s, json_object *d)
{
	if (accepted(s)) {
		s->authenticated = 1;
		text_add(d, "result", json_object_new_string("success"));
		reply_line(&s->rp, 235, 0, "2.7.0 Authentication successful");
	} else {
		text_add(d, "result", json_object_new_string("failure"));
		reply_line(&s->rp, 535, 0, "5.7.8 Error: authentication failed: authentication failure");
	}
}

static void ended(struct session *s, json_object *d, enum answer a)
{
	if (a == ANSWER_CANCEL) {
		text_add(d, "result", json_object_new_string("cancelled"));
		reply_line(&s->rp, 501, 0, "5.7.0 Authentication aborted");
	} else if (a == ANSWER_BAD) {
		text_add(d, "result", json_object_new_string("malformed"));
		reply_line(&s->rp, 501, 0, "5.5.2 Cannot decode response");
	} else if (a == ANSWER_LONG) {
		/* RFC 4954 4: an answer longer than the server takes. */
		text_add(d, "result", json_object_new_string("too_long"));
		text_add(d, "answer_length", text_int((int64_t)s->lr.total));
		reply_line(&s->rp, 500, 0, "5.5.6 Authentication Exchange line is too long");
	} else {
		text_add(d, "result", json_object_new_string("incomplete"));
	}
}

static void mech_plain(struct session *s, json_object *d, json_object *raw, const char *ir, size_t irlen)
{
	unsigned char buf[AUTH_FIELD_MAX * 2];
	const unsigned char *z1, *z2;
	size_t len;
	enum answer a = answer(s, "", &ir, &irlen, raw, buf, &len);

	if (a != ANSWER_OK) {
		ended(s, d, a);
		return;
	}
	/* authzid NUL authcid NUL passwd */
	z1 = memchr(buf, '\0', len);
	z2 = z1 != NULL ? memchr(z1 + 1, '\0', len - (size_t)(z1 + 1 - buf)) : NULL;
	if (z2 == NULL) {
		text_put(d, "response", buf, len);
		text_add(d, "result", json_object_new_string("malformed"));
		reply_line(&s->rp, 535, 0, "5.7.8 Error: authentication failed: malformed response");
		return;
	}
	text_put(d, "authzid", buf, (size_t)(z1 - buf));
	text_put(d, "username", z1 + 1, (size_t)(z2 - z1 - 1));
	text_put(d, "password", z2 + 1, len - (size_t)(z2 + 1 - buf));
	verdict(s, d);
}

static void mech_login(struct session *s, json_object *d, json_object *raw, const char *ir, size_t irlen)
{
	unsigned char buf[AUTH_FIELD_MAX * 2];
	size_t len;
	enum answer a = answer(s, "VXNlcm5hbWU6", &ir, &irlen, raw, buf, &len); /* "Username:" */

	if (a != ANSWER_OK) {
		ended(s, d, a);
		return;
	}
	text_put(d, "username", buf, len);
	a = answer(s, "UGFzc3dvcmQ6", &ir, &irlen, raw, buf, &len); /* "Password:" */
	if (a != ANSWER_OK) {
		ended(s, d, a);
		return;
	}
	text_put(d, "password", buf, len);
	verdict(s, d);
}

static void mech_cram_md5(struct session *s, json_object *d, json_object *raw)
{
	char chal[HOSTNAME_MAX + 64], b64[BASE64_LEN(sizeof(chal)) + 1];
	unsigned char buf[AUTH_FIELD_MAX * 2];
	const unsigned char *sp;
	const char *none = NULL;
	size_t len, zero = 0;
	enum answer a;

	challenge(s, chal, sizeof(chal));
	base64_encode(chal, strlen(chal), b64);
	text_add(d, "challenge", json_object_new_string(chal));
	a = answer(s, b64, &none, &zero, raw, buf, &len);
	if (a != ANSWER_OK) {
		ended(s, d, a);
		return;
	}
	/* "username SP hex-digest"; the user name may itself hold spaces. */
	text_put(d, "response", buf, len);
	sp = len > 0 ? memrchr(buf, ' ', len) : NULL;
	if (sp != NULL) {
		text_put(d, "username", buf, (size_t)(sp - buf));
		text_put(d, "digest", sp + 1, len - (size_t)(sp + 1 - buf));
	}
	verdict(s, d);
}

void auth_command(struct session *s, const char *arg, size_t n, json_object *d)
{
	const char *end = arg + n, *mech = arg, *m_end = arg, *ir;
	json_object *raw;
	size_t mlen;

	if (!auth_offered(s)) {
		reply_line(&s->rp, 503, 0, "5.5.1 Error: authentication not enabled");
		return;
	}
	if (s->authenticated) {
		reply_line(&s->rp, 503, 0, "5.5.1 Error: already authenticated");
		return;
	}
	while (m_end < end && *m_end != ' ')
		m_end++;
	mlen = (size_t)(m_end - mech);
	ir = m_end;
	while (ir < end && *ir == ' ')
		ir++;
	while (end > ir && end[-1] == ' ')
		end--;
	if (mlen == 0) {
		reply_line(&s->rp, 501, 0, "5.5.4 Syntax: AUTH mechanism");
		return;
	}
	text_put(d, "mechanism", mech, mlen);
	if (++s->auth_tries > s->cfg->max_auth_tries) {
		reply_fmt(&s->rp, 421, "4.7.0 %s Error: too many AUTH attempts", s->cfg->hostname);
		session_limit(s, "auth_tries", s->cfg->max_auth_tries, NULL);
		session_end(s, "max_auth_tries");
		return;
	}
	text_add(d, "initial_response", json_object_new_boolean(ir < end));
	raw = json_object_new_array();
	text_add(d, "raw", raw);
	if (ir < end)
		json_object_array_add(raw, text_new(ir, (size_t)(end - ir)));
	if (mlen == 5 && strncasecmp(mech, "PLAIN", 5) == 0) {
		mech_plain(s, d, raw, ir < end ? ir : NULL, (size_t)(end - ir));
	} else if (mlen == 5 && strncasecmp(mech, "LOGIN", 5) == 0) {
		mech_login(s, d, raw, ir < end ? ir : NULL, (size_t)(end - ir));
	} else if (mlen == 8 && strncasecmp(mech, "CRAM-MD5", 8) == 0) {
		if (ir < end) {
			text_add(d, "result", json_object_new_string("malformed"));
			reply_line(&s->rp, 501, 0, "5.7.0 CRAM-MD5 takes no initial response");
			return;
		}
		mech_cram_md5(s, d, raw);
	} else {
		text_add(d, "result", json_object_new_string("unknown_mechanism"));
		reply_line(&s->rp, 504, 0, "5.5.4 Unrecognized authentication type");
	}
}
