/*
 * address.c - lenient path parsing, strict about what it reports. Accepted
 * and flagged: missing brackets, a space after the colon, source routes.
 * Refused (-1): an unterminated bracket or quote, an unquoted space or
 * control byte inside the brackets, text glued after '>', a parameter
 * without a name.
 */
#include "address.h"

#include <string.h>

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Parses "<...>" at s[0] (a '<'); returns the index after '>' or -1. */
static long bracketed(const char *s, size_t n, struct smtp_path *p)
{
	size_t i = 1, start = 1;
	int quoted = 0;

	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (quoted) {
			if (c == '\\' && i + 1 < n)
				i++;
			else if (c == '"')
				quoted = 0;
			continue;
		}
		if (c == '"') {
			quoted = 1;
			p->flags |= ADDR_QUOTED;
		} else if (c == '>') {
			break;
		} else if (c <= ' ' || c == 0x7f || c == '<') {
			return -1;
		}
	}
	if (i >= n)
		return -1;
	p->addr = s + start;
	p->addr_len = i - start;
	if (p->addr_len > 0 && p->addr[0] == '@') {
		const char *colon = memchr(p->addr, ':', p->addr_len);

		if (colon == NULL)
			return -1;
		p->flags |= ADDR_SOURCE_ROUTE;
		p->route = p->addr;
		p->route_len = (size_t)(colon - p->addr);
		p->addr_len -= p->route_len + 1;
		p->addr = colon + 1;
	}
	p->null_path = p->addr_len == 0 && p->route == NULL;
	return (long)i + 1;
}

int address_parse(const char *s, size_t n, struct smtp_path *p)
{
	size_t i = 0;

	memset(p, 0, sizeof(*p));
	while (i < n && is_space(s[i]))
		i++;
	if (i > 0)
		p->flags |= ADDR_SPACE_BEFORE;
	if (i < n && s[i] == '<') {
		long end = bracketed(s + i, n - i, p);

		if (end < 0)
			return -1;
		i += (size_t)end;
		if (i < n && !is_space(s[i]))
			return -1;
	} else {
		size_t start = i;

		while (i < n && !is_space(s[i]))
			i++;
		if (i == start)
			return -1;
		p->flags |= ADDR_NO_BRACKETS;
		p->addr = s + start;
		p->addr_len = i - start;
	}
	while (i < n) {
		struct smtp_param *q;
		size_t start;

		while (i < n && is_space(s[i]))
			i++;
		if (i == n)
			break;
		start = i;
		while (i < n && !is_space(s[i]))
			i++;
		if (p->nparams == PARAMS_MAX) {
			p->params_dropped++;
			continue;
		}
		q = &p->params[p->nparams++];
		q->name = s + start;
		q->value = memchr(q->name, '=', i - start);
		if (q->value != NULL) {
			q->name_len = (size_t)(q->value - q->name);
			q->value++;
			q->value_len = (size_t)(s + i - q->value);
		} else {
			q->name_len = i - start;
		}
		if (q->name_len == 0)
			return -1;
	}
	return 0;
}

enum size_check address_size(const char *v, size_t n, unsigned long long limit,
			     unsigned long long *value)
{
	unsigned long long x = 0;
	int big = 0;

	if (v == NULL || n == 0)
		return SIZE_SYNTAX;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return SIZE_SYNTAX;
		if (x > limit || x > (~0ULL - 9) / 10)
			big = 1; /* stop growing: no overflow, the answer is known */
		else
			x = x * 10 + (unsigned)(v[i] - '0');
	}
	*value = x;
	return big || x > limit ? SIZE_TOO_BIG : SIZE_OK;
}
