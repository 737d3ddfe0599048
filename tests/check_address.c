/* check_address.c - MAIL/RCPT paths and parameters. */
#include <string.h>

#include "address.h"
#include "testlib.h"

static struct smtp_path p;

static int parse(const char *s)
{
	return address_parse(s, strlen(s), &p);
}

static int addr_is(const char *want)
{
	return p.addr_len == strlen(want) && memcmp(p.addr, want, p.addr_len) == 0;
}

START_TEST(forms)
{
	ck_assert_int_eq(parse("<a@example.com>"), 0);
	ck_assert(addr_is("a@example.com"));
	ck_assert_uint_eq(p.flags, 0);
	ck_assert_int_eq(parse("<>"), 0);
	ck_assert(p.null_path);
	ck_assert_int_eq(parse(" <a@example.com>"), 0);
	ck_assert_uint_eq(p.flags, ADDR_SPACE_BEFORE);
	ck_assert_int_eq(parse("a@example.com"), 0);
	ck_assert(addr_is("a@example.com"));
	ck_assert_uint_eq(p.flags, ADDR_NO_BRACKETS);
	ck_assert_int_eq(parse("<@relay.example,@b.example:a@example.com>"), 0);
	ck_assert(addr_is("a@example.com"));
	ck_assert_uint_eq(p.route_len, strlen("@relay.example,@b.example"));
	ck_assert_int_eq(parse("<\"john doe>\"@example.com>"), 0);
	ck_assert(addr_is("\"john doe>\"@example.com"));
	ck_assert_uint_eq(p.flags, ADDR_QUOTED);
}
END_TEST

START_TEST(bad)
{
	ck_assert_int_eq(parse("<a@example.com"), -1);
	ck_assert_int_eq(parse("<a b@example.com>"), -1);
	ck_assert_int_eq(parse("<a@example.com>x"), -1);
	ck_assert_int_eq(parse(""), -1);
	ck_assert_int_eq(parse("<@relay.example>"), -1);
	ck_assert_int_eq(parse("<a@b> =1"), -1);
	ck_assert_int_eq(parse("<\"unterminated@b>"), -1);
}
END_TEST

START_TEST(params_ordered)
{
	ck_assert_int_eq(parse("<a@b> SIZE=1024 BODY=8bitmime SMTPUTF8"), 0);
	ck_assert_uint_eq(p.nparams, 3);
	ck_assert_int_eq(memcmp(p.params[0].name, "SIZE", 4), 0);
	ck_assert_int_eq(memcmp(p.params[0].value, "1024", 4), 0);
	ck_assert_int_eq(memcmp(p.params[1].value, "8bitmime", 8), 0);
	ck_assert_ptr_null(p.params[2].value);
}
END_TEST

START_TEST(size_no_overflow)
{
	unsigned long long v;

	ck_assert_int_eq(address_size("1024", 4, 10240000, &v), SIZE_OK);
	ck_assert_uint_eq(v, 1024);
	ck_assert_int_eq(address_size("99999999999999999999", 20, 10240000, &v), SIZE_TOO_BIG);
	ck_assert_int_eq(address_size("18446744073709551617", 20, ~0ULL >> 24, &v), SIZE_TOO_BIG);
	ck_assert_int_eq(address_size("abc", 3, 10240000, &v), SIZE_SYNTAX);
	ck_assert_int_eq(address_size("", 0, 10240000, &v), SIZE_SYNTAX);
	ck_assert_int_eq(address_size("-1", 2, 10240000, &v), SIZE_SYNTAX);
}
END_TEST

Suite *suite_address(void)
{
	Suite *s = suite_create("address");
	TCase *tc = tcase_create("address");

	tcase_add_test(tc, forms);
	tcase_add_test(tc, bad);
	tcase_add_test(tc, params_ordered);
	tcase_add_test(tc, size_no_overflow);
	suite_add_tcase(s, tc);
	return s;
}
