/*
 * resume.h - what of a session survives the exec of the TLS module at
 * STARTTLS. RFC 3207 has the session forget HELO, AUTH and the transaction
 * then, so what is left is what the events and limits count on: the
 * session id and event sequence, the counters, the start time, the sinks'
 * descriptors and the sandbox's state. smtpot writes it to the environment
 * (SMTPOT_RESUME) as "key=value" words; smtpot-tls reads it back, strictly.
 */
#ifndef SMTPOT_RESUME_H
#define SMTPOT_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "session.h"

#define RESUME_ENV "SMTPOT_RESUME"
#define RESUME_MAX 1024

struct resume_sink {
	int journal; /* else a file (the log file, or standard error on fd 2) */
	int fd, open_errno, reported;
	uint64_t lost;
};

/* The session's plain counters: their names in the text, and where they live. */
#define RESUME_COUNTERS(X)                       \
	X(seq, s->ev->seq)                       \
	X(lost, s->ev->lost)                     \
	X(commands, s->commands)                 \
	X(errors, s->errors)                     \
	X(messages, s->messages)                 \
	X(recipients, s->recipients)             \
	X(unknown, s->unknown)                   \
	X(auth_tries, s->auth_tries)             \
	X(auth_failures, s->auth_failures)       \
	X(bytes_in, s->conn->bytes_in)           \
	X(bytes_out, s->conn->bytes_out)         \
	X(spool_count, s->spool.count)
#define RESUME_ONE(name, field) +1
#define RESUME_NCOUNTERS (0 RESUME_COUNTERS(RESUME_ONE))

struct resume {
	char session[40];
	char sandbox[16];
	int64_t started_ms;
	uint64_t counters[RESUME_NCOUNTERS]; /* in the order of RESUME_COUNTERS */
	int spool_failed;
	uint64_t verbs[SESSION_VERBS];
	int nsinks;
	struct resume_sink sinks[EVENT_SINKS_MAX];
};

/* Writes s's state as text; 0, or -1 if it does not fit. */
int resume_save(const struct session *s, char *out, size_t cap);
/* Clears close-on-exec on the sinks' descriptors; 0 or -1. */
int resume_keep_fds(const struct session *s);
/* Parses text written by resume_save; 0, or -1 on anything else. */
int resume_parse(const char *text, struct resume *r);
/* Makes the sinks r lists, in order: 0, or -1 without memory. */
int resume_sinks(const struct resume *r, struct event_ctx *ev);
/* Puts r's state into a session set up by session_init, its sinks made from r. */
void resume_apply(const struct resume *r, struct session *s);

#endif
