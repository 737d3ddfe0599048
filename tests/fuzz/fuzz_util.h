/*
 * fuzz_util.h - what the libFuzzer harnesses share: the input layout
 * (header bytes, payload, a table of piece sizes at the tail), checks that
 * abort with a message, and reference code written apart from src/ (a
 * strict UTF-8 validator, SHA-256, a strict JSON line check) so that the
 * harnesses do not judge smtpot with smtpot's own code.
 */
#ifndef SMTPOT_FUZZ_UTIL_H
#define SMTPOT_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

_Noreturn void fuzz_fail(const char *file, int line, const char *what);
#define CHECK(cond)                                                     \
	do {                                                            \
		if (!(cond))                                            \
			fuzz_fail(__FILE__, __LINE__, #cond);           \
	} while (0)

#define FUZZ_HDR_MAX 8

/*
 * Layout of every harness input: nhdr header bytes (the last one counts
 * the table entries), then the payload, then the table of entries of esz
 * bytes each at the very end. Keeping the table at the tail leaves the
 * payload contiguous, so dictionary words and seeds stay meaningful.
 */
struct fuzz_input {
	uint8_t hdr[FUZZ_HDR_MAX]; /* missing bytes read as 0 */
	const uint8_t *payload;
	size_t npayload;
	const uint8_t *table;
	size_t ntable; /* entries */
	size_t esz;
};

void fuzz_split(const uint8_t *data, size_t size, size_t nhdr, size_t esz,
		struct fuzz_input *in);

/* Cycles through the table entries; NULL when the table is empty. */
struct fuzz_pieces {
	const uint8_t *table;
	size_t n, esz, next;
};
void fuzz_pieces_init(struct fuzz_pieces *p, const struct fuzz_input *in, size_t start);
const uint8_t *fuzz_pieces_next(struct fuzz_pieces *p);

/*
 * p[0..start), then p[start..start+unit) repeated times, then the rest of p
 * once (unit 0 or past the end: up to the end); at most about cap bytes;
 * caller frees. Lets a small input reach the 64 KiB, 8 KiB and 998-byte
 * limits and still begin and end as it likes.
 */
uint8_t *fuzz_repeat(const uint8_t *p, size_t n, size_t start, size_t unit, size_t times,
		     size_t cap, size_t *out_len);

/* Strict UTF-8 (RFC 3629: no overlong forms, no surrogates, <= U+10FFFF). */
int fuzz_utf8_valid(const unsigned char *p, size_t n);

/* Every string and key in o (recursively) is valid UTF-8. */
void fuzz_check_json_strings(json_object *o);

/*
 * One event line as a sink gets it: no byte below 0x20 (so no raw newline),
 * valid UTF-8, one JSON object parsed strictly with nothing after it.
 * Returns the parsed object (new reference).
 */
json_object *fuzz_check_json_line(const char *s, size_t n);

/* SHA-256 (FIPS 180-4), independent of src/sha256.c. */
struct fuzz_sha {
	uint32_t h[8];
	uint64_t len;
	unsigned char buf[64];
	size_t fill;
};
void fuzz_sha_init(struct fuzz_sha *s);
void fuzz_sha_update(struct fuzz_sha *s, const void *p, size_t n);
void fuzz_sha_hex(struct fuzz_sha *s, char hex[65]);

/* Counts occurrences of byte c in p[0..n). */
size_t fuzz_count(const unsigned char *p, size_t n, unsigned char c);

#endif
