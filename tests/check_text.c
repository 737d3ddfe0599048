/* check_text.c - UTF-8 validation, repair, caps, base64. */
#include <string.h>

#include "base64.h"
#include "limits.h"
#include "testlib.h"
#include "text.h"

START_TEST(utf8_prefix)
{
	ck_assert_uint_eq(utf8_valid_prefix((const unsigned char *)"abc", 3), 3);
	ck_assert_uint_eq(utf8_valid_prefix((const unsigned char *)"caf\xc3\xa9", 5), 5);
	ck_assert_uint_eq(utf8_valid_prefix((const unsigned char *)"X\x80X", 3), 1);
	ck_assert_uint_eq(utf8_valid_prefix((const unsigned char *)"\xc0\xaf", 2), 0);     /* overlong */
	ck_assert_uint_eq(utf8_valid_prefix((const unsigned char *)"\xed\xa0\x80", 3), 0); /* surrogate */
	ck_assert_uint_eq(utf8_valid_prefix((const unsigned char *)"\xf4\x90\x80\x80", 4), 0);
	ck_assert_uint_eq(utf8_valid_prefix((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
	ck_assert_uint_eq(utf8_valid_prefix((const unsigned char *)"a\xe2\x82", 3), 1); /* cut */
}
END_TEST

static const char *field(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

START_TEST(put_invalid_keeps_bytes)
{
	json_object *o = json_object_new_object();

	text_put(o, "line", "X\x80X", 3);
	ck_assert_str_eq(field(o, "line"), "X\xef\xbf\xbdX");
	ck_assert_str_eq(field(o, "line_b64"), "WIBY");
	ck_assert_ptr_null(field(o, "line_truncated"));
	json_object_put(o);
}
END_TEST

START_TEST(put_controls_escaped)
{
	json_object *o = json_object_new_object();
	const char *s;

	text_put(o, "a", "x\0y\r\n\x1b", 6);
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	ck_assert_str_eq(s, "{\"a\":\"x\\u0000y\\r\\n\\u001b\"}");
	json_object_put(o);
}
END_TEST

START_TEST(put_truncates_on_boundary)
{
	char big[TEXT_FIELD_MAX + 10];
	json_object *o = json_object_new_object();

	memset(big, 'a', sizeof(big));
	/* A two-byte character straddles the cap. */
	big[TEXT_FIELD_MAX - 1] = '\xc3';
	big[TEXT_FIELD_MAX] = '\xa9';
	text_put(o, "f", big, sizeof(big));
	ck_assert_uint_eq(strlen(field(o, "f")), TEXT_FIELD_MAX - 1);
	ck_assert_ptr_null(field(o, "f_b64"));
	ck_assert(json_object_get_boolean(json_object_object_get(o, "f_truncated")));
	ck_assert_int_eq(json_object_get_int64(json_object_object_get(o, "f_length")), sizeof(big));
	json_object_put(o);
}
END_TEST

START_TEST(prefix_reports_total)
{
	json_object *o = json_object_new_object();

	text_put_prefix(o, "line", "EHLO aaaa", 9, 100005);
	ck_assert_str_eq(field(o, "line"), "EHLO aaaa");
	ck_assert_int_eq(json_object_get_int64(json_object_object_get(o, "line_length")), 100005);
	json_object_put(o);
}
END_TEST

START_TEST(base64_both_ways)
{
	unsigned char out[16];
	char enc[16];

	base64_encode("ab", 2, enc);
	ck_assert_str_eq(enc, "YWI=");
	ck_assert_int_eq(base64_decode("YWI=", 4, out), 2);
	ck_assert_int_eq(memcmp(out, "ab", 2), 0);
	ck_assert_int_eq(base64_decode("r7KyqQ==", 8, out), 4);
	ck_assert_int_eq(out[0], 0xaf);
	ck_assert_int_eq(base64_decode("", 0, out), 0);
	ck_assert_int_eq(base64_decode("YW*=", 4, out), -1);
	ck_assert_int_eq(base64_decode("Y", 1, out), -1);
	ck_assert_int_eq(base64_decode("YQ=", 3, out), -1);
}
END_TEST

/* Integers print as json-c prints them, at both ends of the range. */
START_TEST(int_serialises)
{
	static const int64_t v[] = { 0, 7, -7, 1000000007, -1000000007, INT64_MAX, INT64_MIN };

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		json_object *mine = text_int(v[i]), *ref = json_object_new_int64(v[i]);

		ck_assert_str_eq(json_object_to_json_string(mine), json_object_to_json_string(ref));
		ck_assert(json_object_get_int64(mine) == v[i]);
		json_object_put(mine);
		json_object_put(ref);
	}
}
END_TEST

Suite *suite_text(void)
{
	Suite *s = suite_create("text");
	TCase *tc = tcase_create("text");

	tcase_add_test(tc, int_serialises);
	tcase_add_test(tc, utf8_prefix);
	tcase_add_test(tc, put_invalid_keeps_bytes);
	tcase_add_test(tc, put_controls_escaped);
	tcase_add_test(tc, put_truncates_on_boundary);
	tcase_add_test(tc, prefix_reports_total);
	tcase_add_test(tc, base64_both_ways);
	suite_add_tcase(s, tc);
	return s;
}
