/*
 * mime.h - attachments, found while a message streams past (RFC 2045,
 * 2046, 2183): for every MIME part with a file name, or of a type that is
 * not text, its file name, type, transfer encoding, decoded size and the
 * SHA-256 of its decoded bytes (what file-reputation services index).
 * Memory is fixed; nesting, parts and names are bounded.
 */
#ifndef SMTPOT_MIME_H
#define SMTPOT_MIME_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "limits.h"
#include "sha256.h"

struct mime_part {
	char type[128];
	char filename[256];
	char encoding[32];
	char boundary[MIME_BOUNDARY_MAX];
	int attachment; /* Content-Disposition: attachment */
};

struct mime_scan {
	/* Buffers first: len and flen say what they hold, so mime_init zeroes
	 * only what follows them (8 of the 10 KiB need no clearing). */
	char line[MIME_LINE_MAX];
	char field[1024]; /* the header field being unfolded */
	size_t len;
	int long_line;  /* the line in progress overflowed: not a boundary */
	int in_headers; /* reading a part's (or the message's) header block */
	size_t flen;
	char boundaries[MIME_DEPTH][MIME_BOUNDARY_MAX];
	size_t nboundaries;
	struct mime_part part;
	/* The attachment being hashed. */
	int collecting;
	int first_line;
	struct sha256 sha;
	uint64_t size;
	unsigned acc, bits; /* base64 decoder */
	json_object *list;
	uint64_t parts, attachments;
};

void mime_init(struct mime_scan *m);
void mime_feed(struct mime_scan *m, const unsigned char *p, size_t n);
/* Ends the scan (a last part without its closing boundary counts) and
 * returns the attachments array (new reference). */
json_object *mime_finish(struct mime_scan *m);
void mime_free(struct mime_scan *m);

#endif
