/*
 * fuzz_address.c - address_parse and address_size on arbitrary bytes. The
 * input is copied to a buffer of exactly its size, so any read past the end
 * is an ASan report. The result is compared with a reference parser
 * written here from the contract in address.c (accepted: missing brackets,
 * a space before the path, source routes, quoted local parts; refused: an
 * unterminated bracket or quote, an unquoted space, control byte or '<'
 * inside the brackets, text glued after '>', a parameter without a name),
 * and every SIZE value is checked against exact arithmetic.
 */
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

#include "address.h"

static int sp(char c)
{
	return c == ' ' || c == '\t';
}

struct ref_param {
	size_t name, name_len, value, value_len; /* offsets into the input */
	int has_value;
};

struct ref {
	size_t addr, addr_len, route, route_len;
	int has_route, bracketed, space_before, quoted, null_path;
	struct ref_param params[64];
	size_t ntokens;
	int nameless_late; /* a nameless parameter past PARAMS_MAX */
};

/* 0 or -1, like address_parse; offsets into s. */
static int ref_parse(const char *s, size_t n, struct ref *r)
{
	size_t i = 0;

	memset(r, 0, sizeof(*r));
	while (i < n && sp(s[i]))
		i++;
	r->space_before = i > 0;
	if (i < n && s[i] == '<') {
		size_t j = i + 1, close = n;
		int inq = 0;

		r->bracketed = 1;
		while (j < n) {
			unsigned char c = (unsigned char)s[j];

			if (inq) {
				if (c == '\\' && j + 1 < n)
					j += 2;
				else {
					if (c == '"')
						inq = 0;
					j++;
				}
				continue;
			}
			if (c == '>') {
				close = j;
				break;
			}
			if (c == '"') {
				inq = 1;
				r->quoted = 1;
			} else if (c <= 0x20 || c == 0x7f || c == '<') {
				return -1;
			}
			j++;
		}
		if (close == n)
			return -1;
		r->addr = i + 1;
		r->addr_len = close - (i + 1);
		if (r->addr_len > 0 && s[r->addr] == '@') {
			size_t k = r->addr;

			while (k < close && s[k] != ':')
				k++;
			if (k == close)
				return -1;
			r->has_route = 1;
			r->route = r->addr;
			r->route_len = k - r->addr;
			r->addr = k + 1;
			r->addr_len = close - (k + 1);
		}
		r->null_path = r->addr_len == 0 && !r->has_route;
		i = close + 1;
		if (i < n && !sp(s[i]))
			return -1;
	} else {
		size_t start = i;

		while (i < n && !sp(s[i]))
			i++;
		if (i == start)
			return -1;
		r->addr = start;
		r->addr_len = i - start;
	}
	for (;;) {
		size_t start, eq;

		while (i < n && sp(s[i]))
			i++;
		if (i == n)
			break;
		start = i;
		while (i < n && !sp(s[i]))
			i++;
		for (eq = start; eq < i && s[eq] != '='; eq++)
			;
		if (eq == start) {
			if (r->ntokens < PARAMS_MAX)
				return -1;
			r->nameless_late = 1;
		}
		if (r->ntokens < sizeof(r->params) / sizeof(r->params[0])) {
			struct ref_param *q = &r->params[r->ntokens];

			q->name = start;
			q->name_len = eq - start;
			q->has_value = eq < i;
			q->value = eq < i ? eq + 1 : 0;
			q->value_len = eq < i ? i - eq - 1 : 0;
		}
		r->ntokens++;
	}
	return 0;
}

/* Exact SIZE semantics: digits only, compared with limit on exact values. */
static enum size_check ref_size(const char *v, size_t n, unsigned long long limit,
				unsigned long long *value)
{
	unsigned long long x = 0;
	int over = 0;

	if (v == NULL || n == 0)
		return SIZE_SYNTAX;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return SIZE_SYNTAX;
		if (!over && (__builtin_mul_overflow(x, 10ULL, &x) ||
			      __builtin_add_overflow(x, (unsigned long long)(v[i] - '0'), &x)))
			over = 1;
	}
	if (over || x > limit)
		return SIZE_TOO_BIG;
	*value = x;
	return SIZE_OK;
}

static void check_size(const char *v, size_t n)
{
	/* The limits a configuration can give (max-message-size is 1 .. 2^40). */
	static const unsigned long long limits[] = { 0, 1, 9, 10, 1024, 10240000, MAX_MESSAGE_SIZE };

	for (size_t k = 0; k < sizeof(limits) / sizeof(limits[0]); k++) {
		unsigned long long got = 0xdeadbeef, want = 0xfeedface;
		enum size_check a = address_size(v, n, limits[k], &got);
		enum size_check b = ref_size(v, n, limits[k], &want);

		CHECK(a == b);
		if (a == SIZE_OK)
			CHECK(got == want);
	}
}

static int inside(const char *s, size_t n, const char *p, size_t len)
{
	return p >= s && p <= s + n && len <= (size_t)(s + n - p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size > 0 ? size : 1);
	struct smtp_path p;
	struct ref r;
	int got, want;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	got = address_parse(s, size, &p);
	want = ref_parse(s, size, &r);
	CHECK(got == want);
	if (got == 0) {
		CHECK(inside(s, size, p.addr, p.addr_len));
		CHECK(p.addr == s + r.addr);
		CHECK(p.addr_len == r.addr_len);
		CHECK((p.route != NULL) == r.has_route);
		if (p.route != NULL) {
			CHECK(p.route == s + r.route);
			CHECK(p.route_len == r.route_len);
			CHECK(p.route[0] == '@' && p.route[p.route_len] == ':');
		}
		CHECK(!!(p.flags & ADDR_NO_BRACKETS) == !r.bracketed);
		CHECK(!!(p.flags & ADDR_SPACE_BEFORE) == r.space_before);
		CHECK(!!(p.flags & ADDR_SOURCE_ROUTE) == r.has_route);
		CHECK(!!(p.flags & ADDR_QUOTED) == r.quoted);
		CHECK(p.null_path == r.null_path);
		if (p.null_path)
			CHECK(p.addr_len == 0);
		CHECK(p.nparams <= PARAMS_MAX);
		CHECK(p.nparams + p.params_dropped == r.ntokens);
		for (size_t i = 0; i < p.nparams; i++) {
			const struct smtp_param *q = &p.params[i];
			const struct ref_param *w = &r.params[i];

			CHECK(inside(s, size, q->name, q->name_len));
			CHECK(q->name == s + w->name && q->name_len == w->name_len);
			CHECK(q->name_len > 0);
			CHECK((q->value != NULL) == w->has_value);
			if (q->value != NULL) {
				CHECK(inside(s, size, q->value, q->value_len));
				CHECK(q->value == s + w->value && q->value_len == w->value_len);
				CHECK(q->value[-1] == '=');
				check_size(q->value, q->value_len);
			}
		}
	}
	check_size(s, size);
	free(s);
	return 0;
}
