/*
 * event.c - the event table and the envelope. Key order is the contract:
 * timestamp, source_ip, honeypot_type, event, data, level, session, seq,
 * source_port, dest_ip, dest_port, sensor. json-c keeps insertion order.
 * A sink that fails does not stop the others from getting the event.
 */
#include "event.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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

static const char *const level_names[] = { "INFO", "WARN", "ERROR" };

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
	time_t t = clock_wall();
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		memcpy(out, "1970-01-01T00:00:00Z", 21);
}

static json_object *port_value(long port)
{
	return port < 0 ? NULL : json_object_new_int64(port);
}

int event_emit(struct event_ctx *ev, enum event_kind k, json_object *data)
{
	json_object *o = json_object_new_object();
	struct event_record r;
	char ts[21];
	int i, rc = 0;
	size_t len;

	event_timestamp(ts);
	ev->seq++;
	json_object_object_add(o, "timestamp", json_object_new_string(ts));
	json_object_object_add(o, "source_ip", json_object_new_string(ev->source_ip));
	json_object_object_add(o, "honeypot_type", json_object_new_string("smtp"));
	json_object_object_add(o, "event", json_object_new_string(kinds[k].name));
	json_object_object_add(o, "data", data != NULL ? data : json_object_new_object());
	json_object_object_add(o, "level", json_object_new_string(level_names[kinds[k].level]));
	json_object_object_add(o, "session", json_object_new_string(ev->session));
	json_object_object_add(o, "seq", json_object_new_int64((int64_t)ev->seq));
	json_object_object_add(o, "source_port", port_value(ev->source_port));
	json_object_object_add(o, "dest_ip", json_object_new_string(ev->dest_ip));
	json_object_object_add(o, "dest_port", port_value(ev->dest_port));
	json_object_object_add(o, "sensor", json_object_new_string(ev->sensor));

	r.json = json_object_to_json_string_length(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	r.len = len;
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
	json_object_put(o);
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
}
