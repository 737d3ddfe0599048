/*
 * address.h - the argument of MAIL FROM: and RCPT TO: (RFC 5321 4.1.2):
 * a path, bracketed or not, maybe with a source route or a quoted local
 * part, then ESMTP parameters as ordered name/value pairs. Everything
 * points into the caller's line; nothing is copied or allocated.
 */
#ifndef SMTPOT_ADDRESS_H
#define SMTPOT_ADDRESS_H

#include <stddef.h>

#include "limits.h"

enum {
	ADDR_NO_BRACKETS = 1 << 0,   /* MAIL FROM:a@b */
	ADDR_SPACE_BEFORE = 1 << 1,  /* MAIL FROM: <a@b> */
	ADDR_SOURCE_ROUTE = 1 << 2,  /* <@relay:a@b> */
	ADDR_QUOTED = 1 << 3,        /* <"a b"@c> */
};

struct smtp_param {
	const char *name, *value; /* value NULL when there is no '=' */
	size_t name_len, value_len;
};

struct smtp_path {
	const char *addr; /* mailbox, without brackets or route */
	size_t addr_len;
	const char *route;
	size_t route_len;
	unsigned flags;
	int null_path; /* <> */
	struct smtp_param params[PARAMS_MAX];
	size_t nparams;
	size_t params_dropped; /* parameters past PARAMS_MAX, not kept */
};

/* Parses s[0..n) (the text after "FROM:" or "TO:"): 0, or -1 on bad syntax. */
int address_parse(const char *s, size_t n, struct smtp_path *p);

enum size_check { SIZE_OK, SIZE_SYNTAX, SIZE_TOO_BIG };
/* Checks an ESMTP SIZE value against limit without overflow. */
enum size_check address_size(const char *v, size_t n, unsigned long long limit,
			     unsigned long long *value);

#endif
