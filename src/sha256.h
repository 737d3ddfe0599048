/*
 * sha256.h - SHA-256 (FIPS 180-4), streaming. Messages are hashed as they
 * arrive so the spool file can be named by its digest without reading it
 * back; no crypto library is loaded for it.
 */
#ifndef SMTPOT_SHA256_H
#define SMTPOT_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint64_t bytes;
	unsigned char block[64];
	size_t fill;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *p, size_t n);
void sha256_final(struct sha256 *s, unsigned char digest[32]);
/* Lower-case hex of the digest into out (65 bytes). */
void sha256_hex(const unsigned char digest[32], char out[65]);

#endif
