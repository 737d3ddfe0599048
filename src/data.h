/*
 * data.h - the DATA phase as a byte-level state machine (RFC 5321 4.1.1.4,
 * 4.5.2). Only <CRLF>.<CRLF> ends a message; the dot of a line that starts
 * with one after CRLF is removed. Every other dot line (after or before a
 * bare LF or bare CR) is message text and is recorded as a smuggling
 * candidate with its form and offset. NUL, bare LF, bare CR and lines over
 * 998 bytes are counted. Bytes beyond the size cap are counted, not kept.
 * Input can be split anywhere: the machine carries its state across calls.
 */
#ifndef SMTPOT_DATA_H
#define SMTPOT_DATA_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "limits.h"

struct data_anomaly {
	uint64_t count, first; /* first: offset in the message of the first one */
};

struct data_smuggle {
	char form[8]; /* e.g. "\n.\r\n" */
	uint64_t offset; /* offset in the stored message of the dot */
};

struct data_parser {
	int state;
	int ended;          /* <CRLF>.<CRLF> was seen */
	uint64_t received;  /* message bytes after unstuffing, all of them */
	uint64_t stored;    /* of those, the ones within the cap */
	uint64_t max;
	uint64_t line_start;
	uint64_t longest;
	struct data_anomaly nul, bare_lf, bare_cr, long_line;
	struct data_smuggle smuggle[SMUGGLE_RECORD_MAX];
	uint64_t smuggle_count;
	uint64_t stuffed; /* dots removed */
	void (*out)(void *arg, const unsigned char *p, size_t n);
	void *arg;
};

/* after_bare_lf: the DATA command itself ended in a bare LF. */
void data_init(struct data_parser *d, uint64_t max, int after_bare_lf,
	       void (*out)(void *arg, const unsigned char *p, size_t n), void *arg);
/* Consumes bytes up to and including the end of data; returns how many. */
size_t data_feed(struct data_parser *d, const unsigned char *p, size_t n);
/* The client went away: bytes held back for a possible end are kept. */
void data_eof(struct data_parser *d);
/* Anomalies for the message event (new reference). */
json_object *data_anomalies_json(const struct data_parser *d);

/* Offset of the first NUL, CR or LF in p[0..n), or n. */
size_t data_scan(const unsigned char *p, size_t n);

#endif
