/*
 * auth.h - SMTP AUTH (RFC 4954) as a credential trap: PLAIN, LOGIN and
 * CRAM-MD5, answered by policy (fail, accept, accept after N failures).
 */
#ifndef SMTPOT_AUTH_H
#define SMTPOT_AUTH_H

#include <stddef.h>

#include <json-c/json.h>

struct session;

/* 1 when EHLO should list AUTH now (policy, TLS state, port profile). */
int auth_offered(const struct session *s);
/* The mechanisms for the EHLO line. */
#define AUTH_MECHANISMS "PLAIN LOGIN CRAM-MD5"
/* The AUTH command: runs the whole exchange, fills d, queues the final reply. */
void auth_command(struct session *s, const char *arg, size_t n, json_object *d);

#endif
