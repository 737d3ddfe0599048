/*
 * text.h - client bytes into event fields. Every string put into an event
 * is valid UTF-8 (json-c escapes the control characters); bytes that are
 * not valid UTF-8 are shown as U+FFFD and kept exactly in a "<key>_b64"
 * field beside; a field longer than its cap is cut at a character boundary
 * and says so with "<key>_truncated" and "<key>_length".
 */
#ifndef SMTPOT_TEXT_H
#define SMTPOT_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* Length of the longest valid UTF-8 prefix of p[0..n). */
size_t utf8_valid_prefix(const unsigned char *p, size_t n);

/* A json string holding p[0..n) made valid (invalid bytes as U+FFFD). */
json_object *text_new(const void *p, size_t n);

/* Adds key (and key_b64, key_truncated, key_length when needed). */
void text_put_cap(json_object *obj, const char *key, const void *p, size_t n, size_t cap);
/* Same for a prefix of n bytes kept from a text that was total bytes long. */
void text_put_prefix(json_object *obj, const char *key, const void *p, size_t n, size_t total);
void text_put(json_object *obj, const char *key, const void *p, size_t n);
void text_put_str(json_object *obj, const char *key, const char *s);

/*
 * json_object_object_add for a key that outlives obj, a string literal:
 * json-c neither copies nor frees it (an event adds a few dozen keys).
 */
static inline void text_add(json_object *obj, const char *key, json_object *val)
{
	json_object_object_add_ex(obj, key, val, JSON_C_OBJECT_ADD_CONSTANT_KEY);
}

/* A json integer that prints itself without snprintf(3), which json-c uses
 * for every integer (an event holds up to a few dozen). */
json_object *text_int(int64_t v);

/* v in decimal, NUL-terminated; returns the number of digits. */
size_t text_u64(char out[21], unsigned long long v);

#endif
