/*
 * tlsfp.h - what a TLS ClientHello says about the client: parsed from the
 * raw record bytes (as captured before the TLS library sees them), and
 * turned into JA3 (string and MD5) and JA4 fingerprints.
 */
#ifndef SMTPOT_TLSFP_H
#define SMTPOT_TLSFP_H

#include <stddef.h>
#include <stdint.h>

#include "limits.h"

struct client_hello {
	uint16_t legacy_version;
	uint16_t ciphers[TLSFP_LIST_MAX];
	size_t nciphers;
	uint16_t exts[TLSFP_LIST_MAX];
	size_t nexts;
	uint16_t groups[TLSFP_LIST_MAX];
	size_t ngroups;
	uint8_t point_formats[TLSFP_LIST_MAX];
	size_t npoint_formats;
	uint16_t sig_algs[TLSFP_LIST_MAX];
	size_t nsig_algs;
	uint16_t versions[TLSFP_LIST_MAX]; /* supported_versions */
	size_t nversions;
	char sni[256];
	int has_sni;
	unsigned char alpn[256]; /* first ALPN protocol */
	size_t alpn_len;
	int has_alpn;
};

/*
 * How many of the n bytes read from a client are the records that carry
 * its ClientHello (what follows, such as the client's Finished, is not);
 * all n when they are not TLS handshake records or the hello is unfinished.
 */
size_t tlsfp_hello_length(const unsigned char *p, size_t n);
/* Parses TLS records holding a ClientHello: 0, or -1 when they do not. */
int tlsfp_parse(const unsigned char *p, size_t n, struct client_hello *ch);
/* JA3 string (cap bytes of room) and its MD5 in hex. */
void tlsfp_ja3(const struct client_hello *ch, char *out, size_t cap, char md5[33]);
/* JA4 ("t13d1516h2_8daaf6152771_e5627efa2ab1"), 37 bytes of room. */
void tlsfp_ja4(const struct client_hello *ch, char out[40]);

#endif
