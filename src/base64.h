/*
 * base64.h - RFC 4648 base64, used to keep client bytes recoverable in
 * events and to decode what clients send (RFC 2047 words, AUTH, MIME
 * parts), and lower-case hex for digests and ids.
 */
#ifndef SMTPOT_BASE64_H
#define SMTPOT_BASE64_H

#include <stddef.h>

#define BASE64_LEN(n) (((n) + 2) / 3 * 4)

/* Writes BASE64_LEN(n) characters and a NUL to out. */
void base64_encode(const void *in, size_t n, char *out);
/*
 * Decodes n characters (padding optional, no white space) into out, which
 * needs room for n / 4 * 3 + 3 bytes. Returns the decoded length, or -1 on
 * a character outside the alphabet or bad padding.
 */
long base64_decode(const char *in, size_t n, unsigned char *out);
/* The value (0-63) of one base64 character, -1 for any other byte. */
int base64_value(unsigned char c);

/* Writes 2 * n lower-case hex digits and a NUL to out. */
void hex_encode(const void *in, size_t n, char *out);

#endif
