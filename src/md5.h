/*
 * md5.h - MD5 (RFC 1321), only because JA3 fingerprints are defined as the
 * MD5 of a string. Not used for anything that needs a secure hash.
 */
#ifndef SMTPOT_MD5_H
#define SMTPOT_MD5_H

#include <stddef.h>

/* Lower-case hex MD5 of p[0..n) into out (33 bytes). */
void md5_hex(const void *p, size_t n, char out[33]);

#endif
