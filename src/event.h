/*
 * event.h - one JSON event per protocol step, the same text to every sink.
 * The envelope (seed keys first, then session, seq, ports, sensor) is added
 * here; callers build only the "data" object. Every event name, its level
 * and its journal MESSAGE_ID live in one table in event.c.
 */
#ifndef SMTPOT_EVENT_H
#define SMTPOT_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "limits.h"

enum event_level { LEVEL_INFO, LEVEL_WARN, LEVEL_ERROR };

enum event_kind {
	EV_CONNECT,
	EV_HELO,
	EV_EHLO,
	EV_MAIL_FROM,
	EV_RCPT_TO,
	EV_DATA,
	EV_MESSAGE,
	EV_RSET,
	EV_NOOP,
	EV_VRFY,
	EV_EXPN,
	EV_HELP,
	EV_QUIT,
	EV_AUTH,
	EV_STARTTLS,
	EV_TLS,
	EV_UNKNOWN_COMMAND,
	EV_LIMIT,
	EV_TIMEOUT,
	EV_DISCONNECT,
	EV_ERROR,
	EV_COUNT
};

/*
 * What a sink is given: the JSON text and the fields the journal indexes.
 * json[len] is a newline and the EVENT_HEADROOM bytes before json are
 * the sink's to overwrite, so neither sink has to copy the text.
 */
#define EVENT_HEADROOM 8 /* "MESSAGE=" */
struct event_record {
	char *json; /* one line; json[len] == '\n' */
	size_t len;
	const char *name;
	const char *message_id;
	enum event_level level;
	const char *session;
	const char *source_ip;
	uint64_t seq;
};

struct sink {
	const char *name;
	int (*write)(struct sink *s, const struct event_record *r);
	void (*close)(struct sink *s);
	void *ctx;
	const char *kind; /* "file" or "journal": how the TLS module makes it again */
	int fd;         /* its descriptor, kept across the exec at STARTTLS; -1: none */
	int open_errno; /* why it could not be opened, 0 if it was */
	int reported;  /* the first failure was reported on stderr */
	uint64_t lost; /* events this sink failed to take */
};


struct event_ctx {
	char session[40];
	char source_ip[64], dest_ip[64];
	long source_port, dest_port; /* -1: unknown */
	const char *sensor;
	uint64_t seq;
	struct sink *sinks[EVENT_SINKS_MAX];
	int nsinks;
	uint64_t lost; /* events lost by at least one sink */
	/* The envelope's constant parts, made at the first event. */
	char *tail;   /* after the level, up to the seq: the session id */
	char *tail_b; /* after the seq: ports, dest_ip, sensor, newline (inside tail's block) */
	char *buf;  /* the event being written */
	size_t cap;
};

const char *event_name(enum event_kind k);
enum event_level event_level_of(enum event_kind k);
const char *event_message_id(enum event_kind k);

void event_add_sink(struct event_ctx *ev, struct sink *s);
/* Emits one event; takes ownership of data (may be NULL). 0, or -1 if a sink lost it. */
int event_emit(struct event_ctx *ev, enum event_kind k, json_object *data);
/* Reports a sink failure once on stderr; counts the loss. */
void sink_failed(struct sink *s, const char *what, int err);
/* Closes the sinks and frees what the context holds. */
void event_close_sinks(struct event_ctx *ev);

/* Timestamp in the only form the contract allows: YYYY-MM-DDTHH:MM:SSZ. */
void event_timestamp(char out[21]);

#endif
