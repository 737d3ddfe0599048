/* check_sha256.c - FIPS 180-4 vectors, any split, both block functions. */
#include <string.h>

#include "sha256.h"
#include "testlib.h"

void sha256_force_portable(int on);

static void hex_of(const void *p, size_t n, char out[65])
{
	struct sha256 s;
	unsigned char d[32];

	sha256_init(&s);
	sha256_update(&s, p, n);
	sha256_final(&s, d);
	sha256_hex(d, out);
}

START_TEST(vectors)
{
	char h[65];

	sha256_force_portable(_i);
	hex_of("", 0, h);
	ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	hex_of("abc", 3, h);
	ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, h);
	ck_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	sha256_force_portable(0);
}
END_TEST

START_TEST(splits_agree)
{
	static unsigned char buf[1000];
	char whole[65], parts[65];
	unsigned char d[32];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	hex_of(buf, sizeof(buf), whole);
	for (size_t cut = 0; cut < 200; cut++) {
		struct sha256 s;

		sha256_force_portable((int)(cut & 1));
		sha256_init(&s);
		sha256_update(&s, buf, cut);
		sha256_update(&s, buf + cut, 1);
		sha256_update(&s, buf + cut + 1, sizeof(buf) - cut - 1);
		sha256_final(&s, d);
		sha256_hex(d, parts);
		ck_assert_str_eq(whole, parts);
	}
	sha256_force_portable(0);
}
END_TEST

Suite *suite_sha256(void)
{
	Suite *s = suite_create("sha256");
	TCase *tc = tcase_create("sha256");

	tcase_add_loop_test(tc, vectors, 0, 2);
	tcase_add_test(tc, splits_agree);
	suite_add_tcase(s, tc);
	return s;
}
