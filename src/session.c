/*
 * session.c - the SMTP state machine. Commands are looked up in one table
 * (verb, states where allowed, handler); the dispatcher answers 503 for a
 * verb in the wrong state, so handlers never check order again. Every
 * command gets exactly one event carrying its raw line and the reply sent.
 * The session always ends through session_end, which writes the single
 * disconnect event.
 */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "address.h"
#include "sandbox.h"
#include "auth.h"
#include "clock.h"
#include "data.h"
#include "message.h"
#include "mime.h"
#include "sha256.h"
#include "text.h"
#include "tls.h"

struct command {
	const char *verb;
	enum event_kind kind;
	unsigned states;
	const char *wrong_state; /* text of the 503 reply */
	void (*handler)(struct session *s, const char *arg, size_t n, json_object *d);
};

static void cmd_helo(struct session *s, const char *arg, size_t n, json_object *d);
static void cmd_ehlo(struct session *s, const char *arg, size_t n, json_object *d);
static void cmd_mail(struct session *s, const char *arg, size_t n, json_object *d);
static void cmd_rcpt(struct session *s, const char *arg, size_t n, json_object *d);
static void cmd_data(struct session *s, const char *arg, size_t n, json_object *d);
static void cmd_rset(struct session *s, const char *arg, size_t n, json_object *d);
static void cmd_noop(struct session *s, const char *arg, size_t n, json_object *d);
static void cmd_vrfy(struct session *s, const char *arg, size_t n, json_object *d);
static void cmd_expn(struct session *s, const char *arg, size_t n, json_object *d);
static void cmd_help(struct session *s, const char *arg, size_t n, json_object *d);
static void cmd_quit(struct session *s, const char *arg, size_t n, json_object *d);

static const struct command commands[] = {
	{ "AUTH", EV_AUTH, ST_GREETED, "Error: MAIL transaction in progress", auth_command },
	{ "DATA", EV_DATA, ST_RCPT, "Error: need RCPT command", cmd_data },
	{ "EHLO", EV_EHLO, ST_ANY, NULL, cmd_ehlo },
	{ "EXPN", EV_EXPN, ST_ANY, NULL, cmd_expn },
	{ "HELO", EV_HELO, ST_ANY, NULL, cmd_helo },
	{ "HELP", EV_HELP, ST_ANY, NULL, cmd_help },
	{ "MAIL", EV_MAIL_FROM, ST_GREETED, "Error: nested MAIL command", cmd_mail },
	{ "NOOP", EV_NOOP, ST_ANY, NULL, cmd_noop },
	{ "QUIT", EV_QUIT, ST_ANY, NULL, cmd_quit },
	{ "RCPT", EV_RCPT_TO, ST_MAIL | ST_RCPT, "Error: need MAIL command", cmd_rcpt },
	{ "RSET", EV_RSET, ST_ANY, NULL, cmd_rset },
	{ "STARTTLS", EV_STARTTLS, ST_CONNECTED | ST_GREETED, "Error: MAIL transaction in progress",
	  tls_starttls },
	{ "VRFY", EV_VRFY, ST_ANY, NULL, cmd_vrfy },
};

_Static_assert(sizeof(commands) / sizeof(commands[0]) < SESSION_VERBS, "verb counters");

int session_init(struct session *s, const struct config *cfg, struct conn *c,
		 struct event_ctx *ev)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->conn = c;
	s->ev = ev;
	s->state = ST_CONNECTED;
	s->spool.dirfd = -1;
	s->spool.fd = -1;
	s->started_ms = clock_mono_ms();
	c->idle_ms = (int64_t)cfg->idle_timeout * 1000;
	c->session_deadline = cfg->session_timeout > 0 ? s->started_ms + (int64_t)cfg->session_timeout * 1000 : 0;
	if (line_reader_init(&s->lr, c, cfg->max_line_length) < 0)
		return -1;
	reply_init(&s->rp, c);
	s->lr.flush = reply_flush_cb;
	s->lr.flush_arg = &s->rp;
	return 0;
}

void session_free(struct session *s)
{
	conn_close(s->conn);
	tls_cleanup();
	line_reader_free(&s->lr);
	spool_close_dir(&s->spool);
	free(s->headers);
	if (s->mime != NULL)
		mime_free(s->mime);
	free(s->mime);
	s->mime = NULL;
	json_object_put(s->helo);
	json_object_put(s->from);
	json_object_put(s->rcpts);
	s->headers = NULL;
	s->helo = s->from = s->rcpts = NULL;
}

static void transaction_reset(struct session *s)
{
	json_object_put(s->from);
	json_object_put(s->rcpts);
	s->from = s->rcpts = NULL;
	s->nrcpt = 0;
	if (s->state & (ST_MAIL | ST_RCPT))
		s->state = ST_GREETED;
}

void session_reset(struct session *s)
{
	transaction_reset(s);
	json_object_put(s->helo);
	s->helo = NULL;
	s->ehlo = 0;
	s->authenticated = 0;
	s->state = ST_CONNECTED;
}

/* Emits an ERROR event about the honeypot's own fault. */
void session_error(struct session *s, const char *what, int err)
{
	json_object *d = json_object_new_object();

	text_add(d, "what", json_object_new_string(what));
	text_add(d, "errno", text_int(err));
	text_add(d, "error", json_object_new_string(strerror(err)));
	event_emit(s->ev, EV_ERROR, d);
}

void session_add_reply(struct session *s, json_object *d)
{
	text_add(d, "reply", json_object_new_string_len(s->rp.last, (int)s->rp.last_len));
	text_add(d, "code", text_int(s->rp.last_code));
}

void session_flag(json_object *d, const char *flag)
{
	json_object *flags;

	if (!json_object_object_get_ex(d, "flags", &flags)) {
		flags = json_object_new_array();
		text_add(d, "flags", flags);
	}
	json_object_array_add(flags, json_object_new_string(flag));
}

/* Event data for the current line: the raw line and its line-level flags. */
json_object *session_line_data(struct session *s)
{
	json_object *d = json_object_new_object();

	text_put_prefix(d, "line", s->lr.line, s->lr.len, s->lr.total);
	if (s->lr.flags & LINE_BARE_LF)
		session_flag(d, "bare_lf");
	if (s->lr.flags & LINE_BARE_CR)
		session_flag(d, "bare_cr");
	if (s->lr.flags & LINE_NUL)
		session_flag(d, "nul");
	return d;
}

void session_end(struct session *s, const char *reason)
{
	if (!s->done) {
		s->done = 1;
		s->end_reason = reason;
	}
}

void session_limit(struct session *s, const char *limit, uint64_t value, json_object *d)
{
	if (d == NULL)
		d = json_object_new_object();
	text_add(d, "limit", json_object_new_string(limit));
	text_add(d, "value", text_int((int64_t)value));
	session_add_reply(s, d);
	event_emit(s->ev, EV_LIMIT, d);
}

/* Counts an error reply; at the limit, says goodbye and ends the session. */
static void count_error(struct session *s)
{
	if (s->rp.last_code < 400)
		return;
	s->errors++;
	if (s->cfg->max_errors > 0 && s->errors >= s->cfg->max_errors && !s->done) {
		reply_fmt(&s->rp, 421, "4.7.0 %s Error: too many errors", s->cfg->hostname);
		session_limit(s, "errors", s->cfg->max_errors, NULL);
		session_end(s, "max_errors");
	}
}

/* Adds the reply to d, emits the command's event, counts an error reply. */
void session_command_done(struct session *s, enum event_kind kind, json_object *d)
{
	session_add_reply(s, d);
	event_emit(s->ev, kind, d);
	count_error(s);
}

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static size_t trim_len(const char *p, size_t n)
{
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return n;
}

/* --- HELO, EHLO ------------------------------------------------------- */

static int greet(struct session *s, const char *arg, size_t n, json_object *d, const char *verb)
{
	n = trim_len(arg, n);
	if (n == 0) {
		reply_fmt(&s->rp, 501, "5.5.4 Syntax: %s hostname", verb);
		return -1;
	}
	text_put(d, "name", arg, n);
	transaction_reset(s);
	json_object_put(s->helo);
	s->helo = text_new(arg, n);
	s->state = ST_GREETED;
	return 0;
}

static void cmd_helo(struct session *s, const char *arg, size_t n, json_object *d)
{
	if (greet(s, arg, n, d, "HELO") == 0) {
		s->ehlo = 0;
		reply_line(&s->rp, 250, 0, s->cfg->hostname);
	}
}

static void cmd_ehlo(struct session *s, const char *arg, size_t n, json_object *d)
{
	char size[40];

	if (greet(s, arg, n, d, "EHLO") < 0)
		return;
	s->ehlo = 1;
	snprintf(size, sizeof(size), "SIZE %llu", (unsigned long long)s->cfg->max_message_size);
	reply_line(&s->rp, 250, 1, s->cfg->hostname);
	reply_line(&s->rp, 250, 1, "PIPELINING");
	reply_line(&s->rp, 250, 1, size);
	reply_line(&s->rp, 250, 1, "VRFY");
	if (!s->tls_active && strcmp(s->cfg->tls, "starttls") == 0 && tls_usable(s))
		reply_line(&s->rp, 250, 1, "STARTTLS");
	if (auth_offered(s))
		reply_line(&s->rp, 250, 1, "AUTH " AUTH_MECHANISMS);
	reply_line(&s->rp, 250, 1, "ENHANCEDSTATUSCODES");
	reply_line(&s->rp, 250, 1, "8BITMIME");
	reply_line(&s->rp, 250, 0, "SMTPUTF8");
}

/* --- MAIL, RCPT -------------------------------------------------------- */

/* Logs a parsed path: address, route, flags, ordered parameters. */
static void path_data(json_object *d, const char *key, const struct smtp_path *p)
{
	json_object *params;

	text_put(d, key, p->addr, p->addr_len);
	if (p->route != NULL)
		text_put(d, "source_route", p->route, p->route_len);
	if (p->flags & ADDR_NO_BRACKETS)
		session_flag(d, "no_angle_brackets");
	if (p->flags & ADDR_SPACE_BEFORE)
		session_flag(d, "space_before_path");
	if (p->flags & ADDR_SOURCE_ROUTE)
		session_flag(d, "source_route");
	if (p->flags & ADDR_QUOTED)
		session_flag(d, "quoted_local_part");
	if (p->nparams == 0)
		return;
	params = json_object_new_array();
	for (size_t i = 0; i < p->nparams; i++) {
		json_object *o = json_object_new_object();

		text_put(o, "name", p->params[i].name, p->params[i].name_len);
		if (p->params[i].value != NULL)
			text_put(o, "value", p->params[i].value, p->params[i].value_len);
		else
			text_add(o, "value", NULL);
		json_object_array_add(params, o);
	}
	text_add(d, "params", params);
	if (p->params_dropped > 0)
		text_add(d, "params_dropped", text_int((int64_t)p->params_dropped));
}

static int param_is(const struct smtp_param *q, const char *name)
{
	return q->name_len == strlen(name) && strncasecmp(q->name, name, q->name_len) == 0;
}

static int value_is(const struct smtp_param *q, const char *v)
{
	return q->value != NULL && q->value_len == strlen(v) && strncasecmp(q->value, v, q->value_len) == 0;
}

/* Checks MAIL parameters; 0 when all are fine, else a reply was queued. */
static int mail_params(struct session *s, const struct smtp_path *p, json_object *d)
{
	/* Parameters past the ones kept cannot be checked: refuse rather than pass them. */
	if (p->params_dropped > 0) {
		reply_line(&s->rp, 555, 0, "5.5.4 Unsupported option");
		return -1;
	}
	for (size_t i = 0; i < p->nparams; i++) {
		const struct smtp_param *q = &p->params[i];

		if (param_is(q, "SIZE")) {
			unsigned long long v = 0;

			switch (address_size(q->value, q->value_len, s->cfg->max_message_size, &v)) {
			case SIZE_SYNTAX:
				reply_line(&s->rp, 501, 0, "5.5.4 Bad message size syntax");
				return -1;
			case SIZE_TOO_BIG:
				reply_line(&s->rp, 552, 0, "5.3.4 Message size exceeds fixed limit");
				return -1;
			case SIZE_OK:
				text_add(d, "size", text_int((int64_t)v));
				break;
			}
		} else if (param_is(q, "BODY")) {
			if (!value_is(q, "7BIT") && !value_is(q, "8BITMIME")) {
				reply_line(&s->rp, 501, 0, "5.5.4 Bad BODY keyword");
				return -1;
			}
		} else if (param_is(q, "AUTH") && auth_offered(s) && q->value != NULL) {
			continue; /* RFC 4954 5: the submitter's identity, logged with the rest */
		} else if (param_is(q, "SMTPUTF8")) {
			if (q->value != NULL) {
				reply_line(&s->rp, 501, 0, "5.5.4 Bad SMTPUTF8 parameter");
				return -1;
			}
		} else {
			reply_line(&s->rp, 555, 0, "5.5.4 Unsupported option");
			return -1;
		}
	}
	return 0;
}

/* "FROM:" / "TO:" prefix check; returns the text after it or NULL. */
static const char *after_keyword(const char *arg, size_t n, const char *kw)
{
	size_t k = strlen(kw);

	return n >= k && strncasecmp(arg, kw, k) == 0 ? arg + k : NULL;
}

static void cmd_mail(struct session *s, const char *arg, size_t n, json_object *d)
{
	const char *p = after_keyword(arg, n, "FROM:");
	struct smtp_path path;

	if (p == NULL) {
		reply_line(&s->rp, 501, 0, "5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	if (address_parse(p, (size_t)(arg + n - p), &path) < 0) {
		text_put(d, "argument", p, (size_t)(arg + n - p));
		reply_line(&s->rp, 501, 0, "5.1.7 Bad sender address syntax");
		return;
	}
	path_data(d, "from", &path);
	if (mail_params(s, &path, d) < 0)
		return;
	s->from = text_new(path.addr, path.addr_len);
	s->rcpts = json_object_new_array();
	s->state = ST_MAIL;
	reply_line(&s->rp, 250, 0, "2.1.0 Ok");
}

static void cmd_rcpt(struct session *s, const char *arg, size_t n, json_object *d)
{
	const char *p = after_keyword(arg, n, "TO:");
	struct smtp_path path;

	if (p == NULL) {
		reply_line(&s->rp, 501, 0, "5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (address_parse(p, (size_t)(arg + n - p), &path) < 0 || path.null_path) {
		text_put(d, "argument", p, (size_t)(arg + n - p));
		reply_line(&s->rp, 501, 0, "5.1.3 Bad recipient address syntax");
		return;
	}
	path_data(d, "to", &path);
	if (path.nparams > 0) {
		reply_line(&s->rp, 555, 0, "5.5.4 Unsupported option");
		return;
	}
	if (s->nrcpt >= s->cfg->max_recipients) {
		reply_line(&s->rp, 452, 0, "4.5.3 Error: too many recipients");
		session_limit(s, "recipients", s->cfg->max_recipients, NULL);
		return;
	}
	json_object_array_add(s->rcpts, text_new(path.addr, path.addr_len));
	s->nrcpt++;
	s->recipients++;
	s->state = ST_RCPT;
	reply_line(&s->rp, 250, 0, "2.1.5 Ok");
}

/* --- DATA -------------------------------------------------------------- */

struct data_sink {
	struct session *s;
	struct sha256 sha;
};

static void data_out(void *arg, const unsigned char *p, size_t n)
{
	struct data_sink *ds = arg;

	sha256_update(&ds->sha, p, n);
	if (ds->s->spool_ok)
		spool_write(&ds->s->spool, p, n);
	message_headers_feed(ds->s->headers, p, n);
	mime_feed(ds->s->mime, p, n);
}

static void queue_id(char out[16])
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char r[5] = { 0 };

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		memset(r, 0x5a, sizeof(r));
	for (int i = 0; i < 5; i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[10] = '\0';
}

/* Opens the spool once per process, on the first message. */
static void spool_prepare(struct session *s)
{
	if (s->cfg->spool_dir == NULL || s->cfg->spool_dir[0] == '\0' || s->spool.dirfd >= 0 ||
	    s->spool_failed)
		return;
	if (spool_open_dir(&s->spool, s->cfg->spool_dir, s->ev->session) < 0) {
		s->spool_failed = 1;
		session_error(s, "spool directory", errno);
	}
}

/*
 * Why a read (r: what line_read/line_fill returned) gave up: "eof",
 * "timeout", "signal", "write_error" or "read_error". A signal or a
 * deadline that interrupted a write is that, not a write error. This is
 * also how a message that did not end with <CRLF>.<CRLF> is said to end.
 */
static const char *read_end(const struct session *s, int r)
{
	if (r == 0)
		return "eof";
	switch (s->conn->status) {
	case CONN_IDLE_TIMEOUT:
	case CONN_SESSION_TIMEOUT:
		return "timeout";
	case CONN_SIGNAL:
		return "signal";
	default:
		return s->rp.failed ? "write_error" : "read_error";
	}
}

static void message_event(struct session *s, struct data_parser *dp, struct data_sink *ds,
			  const char *qid, const char *end)
{
	json_object *d = json_object_new_object();
	unsigned char digest[32];
	char hex[65], name[80];
	int stored = -1;

	sha256_final(&ds->sha, digest);
	sha256_hex(digest, hex);
	if (s->spool_ok) {
		s->spool_ok = 0;
		stored = spool_commit(&s->spool, hex, name);
		if (stored < 0)
			session_error(s, s->spool.err_what != NULL ? s->spool.err_what : "spool",
				     s->spool.err);
	}
	text_add(d, "queue_id", json_object_new_string(qid));
	text_add(d, "helo", json_object_get(s->helo));
	text_add(d, "from", json_object_get(s->from));
	text_add(d, "to", json_object_get(s->rcpts));
	text_add(d, "size", text_int((int64_t)dp->stored));
	text_add(d, "received_bytes", text_int((int64_t)dp->received));
	text_add(d, "sha256", json_object_new_string(hex));
	text_add(d, "spool_file", stored >= 0 ? json_object_new_string(name) : NULL);
	text_add(d, "duplicate", json_object_new_boolean(stored == 1));
	text_add(d, "complete", json_object_new_boolean(dp->ended));
	text_add(d, "truncated", json_object_new_boolean(dp->received > dp->stored));
	text_add(d, "end", json_object_new_string(end));
	text_add(d, "dots_unstuffed", text_int((int64_t)dp->stuffed));
	text_add(d, "anomalies", data_anomalies_json(dp));
	text_add(d, "headers", message_headers_json(s->headers));
	text_add(d, "attachments", mime_finish(s->mime));
	text_add(d, "mime_parts", text_int((int64_t)s->mime->parts));
	if (s->mime->attachments > MIME_ATTACHMENTS_MAX)
		text_add(d, "attachments_count", text_int((int64_t)s->mime->attachments));
	if (dp->ended)
		session_add_reply(s, d);
	event_emit(s->ev, EV_MESSAGE, d);
	s->messages++;
}

static void data_phase(struct session *s);

static void cmd_data(struct session *s, const char *arg, size_t n, json_object *d)
{
	(void)d;
	if (trim_len(arg, n) > 0) {
		reply_line(&s->rp, 501, 0, "5.5.4 Syntax: DATA");
		return;
	}
	if ((s->headers == NULL && (s->headers = malloc(sizeof(*s->headers))) == NULL) ||
	    (s->mime == NULL && (s->mime = calloc(1, sizeof(*s->mime))) == NULL)) {
		reply_line(&s->rp, 451, 0, "4.3.0 Error: queue file write error");
		return;
	}
	reply_line(&s->rp, 354, 0, "End data with <CR><LF>.<CR><LF>");
	s->data_bare_lf = (s->lr.flags & LINE_BARE_LF) != 0;
	s->after = data_phase;
}

/* Reads the message that follows a 354, after the DATA event was written. */
static void data_phase(struct session *s)
{
	struct data_parser dp;
	struct data_sink ds;
	char qid[16];
	int r = 1;

	queue_id(qid);
	spool_prepare(s);
	if (s->spool.dirfd >= 0) {
		spool_begin(&s->spool);
		s->spool_ok = 1;
	}
	ds.s = s;
	sha256_init(&ds.sha);
	message_headers_init(s->headers);
	mime_init(s->mime);
	data_init(&dp, s->cfg->max_message_size, s->data_bare_lf, data_out, &ds);

	while (!dp.ended) {
		size_t used;

		if (conn_stopped(s->conn)) {
			r = -1;
			break;
		}
		if (line_buffered(&s->lr) == 0 && (r = line_fill(&s->lr)) <= 0)
			break;
		used = data_feed(&dp, line_peek(&s->lr), line_buffered(&s->lr));
		line_consume(&s->lr, used);
	}
	if (dp.ended) {
		if (dp.received > dp.stored)
			reply_line(&s->rp, 552, 0, "5.3.4 Message size exceeds fixed limit");
		else
			reply_fmt(&s->rp, 250, "2.0.0 Ok: queued as %s", qid);
		message_event(s, &dp, &ds, qid, "crlf_dot_crlf");
		if (dp.received > dp.stored)
			session_limit(s, "message_size", s->cfg->max_message_size, NULL);
		count_error(s);
		transaction_reset(s);
		return;
	}
	/* The client went away or stalled inside DATA: keep what came. */
	data_eof(&dp);
	message_event(s, &dp, &ds, qid, read_end(s, r));
	session_read_failed(s, r, "data");
}

/* --- the rest ---------------------------------------------------------- */

static void cmd_rset(struct session *s, const char *arg, size_t n, json_object *d)
{
	(void)d;
	if (trim_len(arg, n) > 0) {
		reply_line(&s->rp, 501, 0, "5.5.4 Syntax: RSET");
		return;
	}
	transaction_reset(s);
	reply_line(&s->rp, 250, 0, "2.0.0 Ok");
}

static void cmd_noop(struct session *s, const char *arg, size_t n, json_object *d)
{
	(void)arg, (void)n, (void)d;
	reply_line(&s->rp, 250, 0, "2.0.0 Ok");
}

static void cmd_vrfy(struct session *s, const char *arg, size_t n, json_object *d)
{
	n = trim_len(arg, n);
	if (n == 0) {
		reply_line(&s->rp, 501, 0, "5.5.4 Syntax: VRFY address");
		return;
	}
	text_put(d, "address", arg, n);
	reply_line(&s->rp, 252, 0, "2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
}

static void cmd_expn(struct session *s, const char *arg, size_t n, json_object *d)
{
	n = trim_len(arg, n);
	if (n > 0)
		text_put(d, "list", arg, n);
	reply_line(&s->rp, 502, 0, "5.5.1 EXPN command is disabled");
}

static void cmd_help(struct session *s, const char *arg, size_t n, json_object *d)
{
	(void)arg, (void)n, (void)d;
	reply_line(&s->rp, 214, 0, "2.0.0 Commands: HELO EHLO AUTH MAIL RCPT DATA RSET NOOP VRFY QUIT");
}

static void cmd_quit(struct session *s, const char *arg, size_t n, json_object *d)
{
	(void)arg, (void)n, (void)d;
	reply_line(&s->rp, 221, 0, "2.0.0 Bye");
	session_end(s, "quit");
}

/* --- dispatch ---------------------------------------------------------- */

static const struct command *lookup(const char *verb, size_t n)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strlen(commands[i].verb) == n && strncasecmp(commands[i].verb, verb, n) == 0)
			return &commands[i];
	}
	return NULL;
}

static void dispatch(struct session *s)
{
	const char *line = (const char *)s->lr.line, *end = line + s->lr.len;
	const char *verb = skip_space(line, end), *v_end = verb, *arg;
	const struct command *cmd;
	json_object *d;

	s->commands++;
	if (s->cfg->max_commands > 0 && s->commands > s->cfg->max_commands) {
		reply_fmt(&s->rp, 421, "4.7.0 %s Error: too many commands", s->cfg->hostname);
		session_limit(s, "commands", s->cfg->max_commands, session_line_data(s));
		session_end(s, "max_commands");
		return;
	}
	if (s->lr.flags & LINE_TOO_LONG) {
		reply_line(&s->rp, 500, 0, "5.5.2 Error: line too long");
		session_limit(s, "line_length", s->cfg->max_line_length, session_line_data(s));
		count_error(s);
		return;
	}
	while (v_end < end && *v_end != ' ' && *v_end != '\t')
		v_end++;
	arg = skip_space(v_end, end);
	cmd = lookup(verb, (size_t)(v_end - verb));
	d = session_line_data(s);
	if (cmd == NULL) {
		s->unknown++;
		text_put(d, "verb", verb, (size_t)(v_end - verb));
		reply_line(&s->rp, 500, 0, "5.5.2 Error: command not recognized");
		session_command_done(s, EV_UNKNOWN_COMMAND, d);
		return;
	}
	s->verb_count[cmd - commands]++;
	if (!(cmd->states & s->state)) {
		reply_fmt(&s->rp, 503, "5.5.1 %s",
			  s->state == ST_CONNECTED ? "Error: send HELO/EHLO first" : cmd->wrong_state);
		session_flag(d, "bad_sequence");
		session_command_done(s, cmd->kind, d);
		return;
	}
	cmd->handler(s, arg, (size_t)(end - arg), d);
	session_command_done(s, cmd->kind, d);
	if (s->after != NULL) {
		void (*after)(struct session *) = s->after;

		s->after = NULL;
		after(s);
	}
}

void session_timeout(struct session *s, const char *phase)
{
	json_object *d = json_object_new_object();
	int idle = s->conn->status == CONN_IDLE_TIMEOUT;

	reply_fmt(&s->rp, 421, "4.4.2 %s Error: timeout exceeded", s->cfg->hostname);
	text_add(d, "timeout", json_object_new_string(idle ? "idle" : "session"));
	text_add(d, "seconds", text_int(
		(int64_t)(idle ? s->cfg->idle_timeout : s->cfg->session_timeout)));
	text_add(d, "phase", json_object_new_string(phase));
	if (s->lr.total > 0 && strcmp(phase, "command") == 0)
		text_put_prefix(d, "partial_line", s->lr.line, s->lr.len, s->lr.total);
	session_add_reply(s, d);
	event_emit(s->ev, EV_TIMEOUT, d);
	session_end(s, "timeout");
}

static void disconnect_event(struct session *s)
{
	json_object *d = json_object_new_object(), *c = json_object_new_object();
	json_object *verbs = json_object_new_object();

	text_add(d, "reason", json_object_new_string(s->end_reason));
	text_add(d, "duration_ms", text_int(clock_mono_ms() - s->started_ms));
	text_add(c, "commands", text_int((int64_t)s->commands));
	text_add(c, "errors", text_int((int64_t)s->errors));
	text_add(c, "unknown_commands", text_int((int64_t)s->unknown));
	text_add(c, "messages", text_int((int64_t)s->messages));
	text_add(c, "recipients", text_int((int64_t)s->recipients));
	text_add(c, "bytes_in", text_int((int64_t)s->conn->bytes_in));
	text_add(c, "bytes_out", text_int((int64_t)s->conn->bytes_out));
	text_add(c, "events", text_int((int64_t)s->ev->seq + 1));
	text_add(c, "events_lost", text_int((int64_t)s->ev->lost));
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (s->verb_count[i] > 0)
			text_add(verbs, commands[i].verb, text_int((int64_t)s->verb_count[i]));
	}
	text_add(c, "verbs", verbs);
	text_add(d, "counters", c);
	text_add(d, "sandbox", json_object_new_string(s->sandbox != NULL ? s->sandbox : "off"));
	if (s->lr.partial && s->lr.total > 0 && s->lr.len <= s->lr.max &&
	    (strcmp(s->end_reason, "eof") == 0 || strcmp(s->end_reason, "signal") == 0))
		text_put_prefix(d, "unterminated_line", s->lr.line, s->lr.len, s->lr.total);
	if (strcmp(s->end_reason, "signal") == 0)
		text_add(d, "signal", text_int(conn_stop_signal));
	if (sandbox_violation != 0)
		text_add(d, "refused_syscall", text_int(sandbox_violation));
	event_emit(s->ev, EV_DISCONNECT, d);
}

void session_read_failed(struct session *s, int r, const char *phase)
{
	const char *why = read_end(s, r);

	if (strcmp(why, "eof") == 0 && strcmp(phase, "data") == 0) {
		session_end(s, "eof_in_data");
	} else if (strcmp(why, "timeout") == 0) {
		session_timeout(s, phase);
	} else if (strcmp(why, "signal") == 0 && sandbox_violation != 0) {
		char what[64];

		snprintf(what, sizeof(what), "sandbox refused system call %d", (int)sandbox_violation);
		session_error(s, what, EPERM);
		session_end(s, "sandbox");
	} else {
		session_end(s, why);
	}
}

void session_run(struct session *s)
{
	json_object *d = json_object_new_object();

	if (strcmp(s->cfg->tls, "implicit") == 0) {
		/* TLS from the first byte: the banner goes out after the handshake. */
		text_add(d, "tls", json_object_new_string("implicit"));
		event_emit(s->ev, EV_CONNECT, d);
		tls_implicit(s);
	} else {
		reply_fmt(&s->rp, 220, "%s %s", s->cfg->hostname, s->cfg->banner);
		session_add_reply(s, d);
		event_emit(s->ev, EV_CONNECT, d);
	}
	s->sandbox = s->confine == NULL ? "off" : s->confine(tls_stage(s)) == 0 ? "seccomp" : "unavailable";
	session_continue(s);
}

void session_continue(struct session *s)
{
	while (!s->done) {
		/* A signal or a refused system call ends even a pipelined burst. */
		int r = conn_stopped(s->conn) ? -1 : line_read(&s->lr);

		if (r > 0) {
			dispatch(s);
			continue;
		}
		session_read_failed(s, r, "command");
	}
	if (reply_flush(&s->rp) < 0 && strcmp(s->end_reason, "quit") == 0)
		s->end_reason = "write_error";
	disconnect_event(s);
}
