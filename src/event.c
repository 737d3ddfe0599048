/*
 * event.c - the event table and the envelope. Key order is the contract:
 * timestamp, source_ip, honeypot_type, event, data, level, session, seq,
 * source_port, dest_ip, dest_port, sensor. json-c keeps insertion order.
 * A sink that fails does not stop the others from getting the event.
 */
#include "event.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#include "clock.h"

static const struct {
	const char *name;
	enum event_level level;
	const char *message_id;
} kinds[EV_COUNT] = {
	[EV_CONNECT] = { "connect", LEVEL_INFO, "a9c3c1dcfad64fa19fb10b06430db8fb" },
	[EV_HELO] = { "helo", LEVEL_INFO, "07b138271b304ae0b5d33e4d4861588f" },
	[EV_EHLO] = { "ehlo", LEVEL_INFO, "61c88c39a5e64f4a8c121a21240e42dc" },
	[EV_MAIL_FROM] = { "mail_from", LEVEL_WARN, "ee8a4091e0fb4fcfa83d1d9f6b7f2f92" },
	[EV_RCPT_TO] = { "rcpt_to", LEVEL_WARN, "e0472a5cb7e541eca55c162cae2be386" },
	[EV_DATA] = { "data", LEVEL_INFO, "4856e9cdca704fec909fdbbbfc0ef8fe" },
	[EV_MESSAGE] = { "message", LEVEL_WARN, "88f9dde33c384c6c8860f6f1026c71bc" },
	[EV_RSET] = { "rset", LEVEL_INFO, "dc7135fe74c94335b10c5e46be806867" },
	[EV_NOOP] = { "noop", LEVEL_INFO, "707fc06c61364200ba826fb19a8aa64c" },
	[EV_VRFY] = { "vrfy", LEVEL_WARN, "04cdbcc488274c1ab85204351aca8c6f" },
	[EV_EXPN] = { "expn", LEVEL_WARN, "7a856cd75ac24f10b9d63c3287ad30a8" },
	[EV_HELP] = { "help", LEVEL_INFO, "21024471653346ba927ac98a36a0ab86" },
	[EV_QUIT] = { "quit", LEVEL_INFO, "c0af0e0138784bcabc849e5e6ac4d538" },
	[EV_AUTH] = { "auth", LEVEL_WARN, "421395a375654b3c87a07895bd3765b3" },
	[EV_STARTTLS] = { "starttls", LEVEL_INFO, "8c7b2a43bea447af906f88b0c8c7dda6" },
	[EV_TLS] = { "tls", LEVEL_INFO, "3552835fbd4a48649e17c8c21b64602c" },
	[EV_UNKNOWN_COMMAND] = { "unknown_command", LEVEL_WARN, "e439f552525849d2a4cd384dd35f1afe" },
	[EV_LIMIT] = { "limit", LEVEL_WARN, "2b757562cb0d4eee9ac170ea1c45807b" },
	[EV_TIMEOUT] = { "timeout", LEVEL_WARN, "f2c41545664d4fe6ba9512c6a8f3dbc1" },
	[EV_DISCONNECT] = { "disconnect", LEVEL_INFO, "38aa4449eb5244f0b1d7b391ad6bb01e" },
	[EV_ERROR] = { "error", LEVEL_ERROR, "41f8cba277c146188d0dbd1a68153bff" },
};

const char *event_name(enum event_kind k)
{
	return kinds[k].name;
}

enum event_level event_level_of(enum event_kind k)
{
	return kinds[k].level;
}

const char *event_message_id(enum event_kind k)
{
	return kinds[k].message_id;
}

void event_add_sink(struct event_ctx *ev, struct sink *s)
{
	if (ev->nsinks < EVENT_SINKS_MAX)
		ev->sinks[ev->nsinks++] = s;
}

void event_timestamp(char out[21])
{
	static time_t last = -1;
	static char text[21];
	time_t t = clock_wall();
	struct utc u;

	/* Events come many to a second: format each second once. */
	if (t == last) {
		memcpy(out, text, sizeof(text));
		return;
	}
	clock_utc(t, &u);
	if (u.year > 9999 || u.year < 0)
		u = (struct utc){ .year = 1970, .month = 1, .day = 1 };
	snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)u.year, u.month, u.day,
		 u.hour, u.min, u.sec);
	last = t;
	memcpy(out, text, sizeof(text));
}

/* A port as JSON: a number, or null when unknown. */
static void port_text(char out[24], long port)
{
	if (port < 0)
		snprintf(out, 24, "null");
	else
		snprintf(out, 24, "%ld", port);
}

/*
 * The part of the envelope after "level", the same for every event of a
 * session but seq: built once. The sensor is operator text, so it goes
 * through the same JSON escaping as client text.
 */
static int make_tail(struct event_ctx *ev)
{
	char sp[24], dp[24];
	json_object *sensor = text_new(ev->sensor, strlen(ev->sensor));
	const char *sj = json_object_to_json_string_ext(sensor, JSON_C_TO_STRING_PLAIN |
								JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n = strlen(sj) + strlen(ev->session) + strlen(ev->dest_ip) + 128;
	int w;

	port_text(sp, ev->source_port);
	port_text(dp, ev->dest_port);
	ev->tail = malloc(n);
	if (ev->tail != NULL) {
		/* Two parts: the seq of each event goes between them. */
		w = snprintf(ev->tail, n, "\",\"session\":\"%s\",\"seq\":%c,\"source_port\":%s,"
					  "\"dest_ip\":\"%s\",\"dest_port\":%s,\"sensor\":%s}\n",
			     ev->session, '\0', sp, ev->dest_ip, dp, sj);
		ev->tail_b = ev->tail + strlen(ev->tail) + 1;
		if (w < 0 || (size_t)w >= n) {
			free(ev->tail);
			ev->tail = NULL;
		}
	}
	json_object_put(sensor);
	return ev->tail != NULL ? 0 : -1;
}

/* Appends n bytes at *o, growing the buffer; -1 when memory ran out. */
static int put(struct event_ctx *ev, size_t *o, const char *p, size_t n)
{
	if (*o + n + 1 > ev->cap) {
		size_t cap = (*o + n + 1) * 2;
		char *nb = realloc(ev->buf, cap);

		if (nb == NULL)
			return -1;
		ev->buf = nb;
		ev->cap = cap;
	}
	memcpy(ev->buf + *o, p, n);
	*o += n;
	return 0;
}

/* A string literal, without its NUL. */
#define PUT_LIT(lit) put(ev, &o, lit, sizeof(lit) - 1)

int event_emit(struct event_ctx *ev, enum event_kind k, json_object *data)
{
	static const char *const level_names[] = { "INFO", "WARN", "ERROR" };
	struct event_record r;
	char ts[21], seq[21];
	const char *dj;
	size_t dlen, seqlen, o = EVENT_HEADROOM;
	int i, rc = 0;

	ev->seq++;
	if (data == NULL)
		data = json_object_new_object();
	if (ev->tail == NULL && make_tail(ev) < 0) {
		json_object_put(data);
		ev->lost++;
		return -1;
	}
	event_timestamp(ts);
	seqlen = text_u64(seq, ev->seq);
	dj = json_object_to_json_string_length(data, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
					       &dlen);
	if (PUT_LIT("{\"timestamp\":\"") < 0 || put(ev, &o, ts, 20) < 0 ||
	    PUT_LIT("\",\"source_ip\":\"") < 0 ||
	    put(ev, &o, ev->source_ip, strlen(ev->source_ip)) < 0 ||
	    PUT_LIT("\",\"honeypot_type\":\"smtp\",\"event\":\"") < 0 ||
	    put(ev, &o, kinds[k].name, strlen(kinds[k].name)) < 0 || PUT_LIT("\",\"data\":") < 0 ||
	    put(ev, &o, dj, dlen) < 0 || PUT_LIT(",\"level\":\"") < 0 ||
	    put(ev, &o, level_names[kinds[k].level], strlen(level_names[kinds[k].level])) < 0 ||
	    put(ev, &o, ev->tail, strlen(ev->tail)) < 0 || put(ev, &o, seq, seqlen) < 0 ||
	    put(ev, &o, ev->tail_b, strlen(ev->tail_b)) < 0) {
		json_object_put(data);
		ev->lost++;
		return -1;
	}
	json_object_put(data);

	r.json = ev->buf + EVENT_HEADROOM;
	r.len = o - EVENT_HEADROOM - 1; /* the tail ends with the newline */
	r.name = kinds[k].name;
	r.message_id = kinds[k].message_id;
	r.level = kinds[k].level;
	r.session = ev->session;
	r.source_ip = ev->source_ip;
	r.seq = ev->seq;
	for (i = 0; i < ev->nsinks; i++) {
		if (ev->sinks[i]->write(ev->sinks[i], &r) < 0)
			rc = -1;
	}
	if (rc < 0)
		ev->lost++;
	return rc;
}

void sink_failed(struct sink *s, const char *what, int err)
{
	s->lost++;
	if (s->reported)
		return;
	s->reported = 1;
	fprintf(stderr, "smtpot: %s sink: %s: %s; later failures are counted, not reported\n",
		s->name, what, strerror(err));
}

void event_close_sinks(struct event_ctx *ev)
{
	for (int i = 0; i < ev->nsinks; i++) {
		if (ev->sinks[i]->close != NULL)
			ev->sinks[i]->close(ev->sinks[i]);
	}
	ev->nsinks = 0;
	free(ev->tail);
	free(ev->buf);
	ev->tail = ev->buf = NULL;
	ev->cap = 0;
}
