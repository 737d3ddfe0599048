/*
 * message.h - what is learned from a message while it streams past: the
 * header block (kept up to HEADER_BLOCK_MAX bytes) and, at the end, the
 * headers that matter, unfolded, RFC 2047-decoded and bounded.
 */
#ifndef SMTPOT_MESSAGE_H
#define SMTPOT_MESSAGE_H

#include <stddef.h>

#include <json-c/json.h>

#include "limits.h"

struct message_headers {
	unsigned char block[HEADER_BLOCK_MAX];
	size_t len;
	int state; /* progress towards the empty line that ends the headers */
	int done;  /* the empty line was seen */
	int full;  /* the block filled before the empty line */
};

void message_headers_init(struct message_headers *m);
/* Feeds message bytes in order; cheap once the headers are over. */
void message_headers_feed(struct message_headers *m, const unsigned char *p, size_t n);
/* The headers object for the message event (new reference). */
json_object *message_headers_json(const struct message_headers *m);

/* RFC 2047 decoding of s[0..n) into out (room for cap bytes); the length written. */
size_t message_decode_words(const char *s, size_t n, char *out, size_t cap);

#endif
