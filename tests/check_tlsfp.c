/*
 * check_tlsfp.c - JA3 and JA4 of recorded ClientHellos. The expected
 * values were computed apart from this code: JA3 by Wireshark's
 * tls.handshake.ja3 on the OpenSSL hello, both by tests/tlsfp_ref.py.
 */
#include <stdio.h>
#include <string.h>

#include "md5.h"
#include "testlib.h"
#include "tlsfp.h"

static size_t load(const char *path, unsigned char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	ck_assert_msg(f != NULL, "cannot open %s (run from the repository root)", path);
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

START_TEST(openssl_hello)
{
	unsigned char buf[4096];
	struct client_hello ch;
	char ja3[4096], md5[33], ja4[40];
	size_t n = load("tests/data/clienthello-openssl.bin", buf, sizeof(buf));

	ck_assert_int_eq(tlsfp_parse(buf, n, &ch), 0);
	tlsfp_ja3(&ch, ja3, sizeof(ja3), md5);
	ck_assert_str_eq(ja3, "771,4866-4867-4865-49196-49200-159-52393-52392-52394-49195-49199-158-49188-"
			      "49192-107-49187-49191-103-49162-49172-57-49161-49171-51-157-156-61-60-53-47-255,"
			      "0-11-10-35-22-23-13-43-45-51,29-23-30-25-24-256-257-258-259-260,0-1-2");
	ck_assert_str_eq(md5, "a3afc2c46ba4a7d7fbe1cfb7a3031c2f");
	tlsfp_ja4(&ch, ja4);
	ck_assert_str_eq(ja4, "t13d311000_e8f1e7e78f70_1f22a2ca17c4");
	ck_assert(ch.has_sni);
	ck_assert_str_eq(ch.sni, "mx.example.com");
}
END_TEST

START_TEST(grease_alpn_two_records)
{
	unsigned char buf[4096];
	struct client_hello ch;
	char ja3[4096], md5[33], ja4[40];
	size_t n = load("tests/data/clienthello-grease.bin", buf, sizeof(buf));

	ck_assert_int_eq(tlsfp_parse(buf, n, &ch), 0);
	tlsfp_ja3(&ch, ja3, sizeof(ja3), md5);
	ck_assert_str_eq(ja3, "771,4865-4866-49199-156,0-10-11-13-16-43-65281,29-23,0");
	ck_assert_str_eq(md5, "5835883fdaa11184d3ceee55d53ea6d4");
	tlsfp_ja4(&ch, ja4);
	ck_assert_str_eq(ja4, "t13d0407h2_a43e9e09ddf6_3fb681c9c60b");
	ck_assert_uint_eq(ch.alpn_len, 2);
}
END_TEST

START_TEST(hello_length_stops_at_the_hello)
{
	unsigned char buf[4096];
	size_t n = load("tests/data/clienthello-grease.bin", buf, sizeof(buf));
	static const unsigned char after[] = { 0x14, 0x03, 0x03, 0x00, 0x01, 0x01,
					       0x17, 0x03, 0x03, 0x00, 0x02, 0xaa, 0xbb };

	ck_assert_uint_eq(tlsfp_hello_length(buf, n), n);
	/* A ChangeCipherSpec and an encrypted record read after it are not kept. */
	memcpy(buf + n, after, sizeof(after));
	ck_assert_uint_eq(tlsfp_hello_length(buf, n + sizeof(after)), n);
	ck_assert_uint_eq(tlsfp_hello_length(buf, 3), 3);
	n = load("tests/data/clienthello-openssl.bin", buf, sizeof(buf));
	ck_assert_uint_eq(tlsfp_hello_length(buf, n), n);
}
END_TEST

START_TEST(truncated_anywhere)
{
	unsigned char buf[4096];
	struct client_hello ch;
	size_t n = load("tests/data/clienthello-grease.bin", buf, sizeof(buf));

	/* Every prefix is either refused or parsed; none reads past its end (ASan). */
	for (size_t k = 0; k < n; k++) {
		(void)tlsfp_parse(buf, k, &ch);
		ck_assert_uint_le(tlsfp_hello_length(buf, k), k);
	}
	ck_assert_int_eq(tlsfp_parse((const unsigned char *)"GET / HTTP/1.1\r\n", 16, &ch), -1);
}
END_TEST

START_TEST(md5_vectors)
{
	char h[33];

	md5_hex("", 0, h);
	ck_assert_str_eq(h, "d41d8cd98f00b204e9800998ecf8427e");
	md5_hex("message digest", 14, h);
	ck_assert_str_eq(h, "f96b697d7cb7938d525a2f31aaf161d0");
	md5_hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890", 80, h);
	ck_assert_str_eq(h, "57edf4a22be3c955ac49da2e2107b67a");
}
END_TEST

Suite *suite_tlsfp(void)
{
	Suite *s = suite_create("tlsfp");
	TCase *tc = tcase_create("tlsfp");

	tcase_add_test(tc, openssl_hello);
	tcase_add_test(tc, grease_alpn_two_records);
	tcase_add_test(tc, hello_length_stops_at_the_hello);
	tcase_add_test(tc, truncated_anywhere);
	tcase_add_test(tc, md5_vectors);
	suite_add_tcase(s, tc);
	return s;
}
