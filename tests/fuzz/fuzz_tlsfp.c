/*
 * fuzz_tlsfp.c - the ClientHello parser and the JA3/JA4 builders on
 * arbitrary record bytes, as the TLS path feeds them from a client. The
 * bytes sit in a buffer of exactly their size and the JA3 text goes to a
 * buffer of exactly the chosen capacity, so any overrun is an ASan report.
 * Checked: list counts within TLSFP_LIST_MAX, SNI terminated, ALPN within
 * its buffer, JA3 terminated within its capacity and shaped
 * "ver,list,list,list,list" when it fits, its MD5 32 hex digits, JA4 shaped
 * as the recipe says (t VV d|i CC EE AA _ 12 hex _ 12 hex), and the event
 * fields built from them valid UTF-8 JSON.
 *
 * Input: byte 0 chooses the JA3 capacity; the rest are the records.
 */
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "tlsfp.h"

static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

static int is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void check_ja3(const char *s)
{
	size_t commas = 0;

	CHECK(s[0] >= '0' && s[0] <= '9');
	for (size_t i = 0; s[i] != '\0'; i++) {
		if (s[i] == ',') {
			commas++;
			CHECK(s[i + 1] != '-');
		} else if (s[i] == '-') {
			CHECK(s[i + 1] >= '0' && s[i + 1] <= '9');
			CHECK(s[i - 1] >= '0' && s[i - 1] <= '9');
		} else {
			CHECK(s[i] >= '0' && s[i] <= '9');
		}
	}
	CHECK(commas == 4);
}

static void check_ja4(const char *s)
{
	CHECK(strlen(s) == 36);
	CHECK(s[0] == 't');
	CHECK(is_alnum(s[1]) && is_alnum(s[2]));
	CHECK(s[3] == 'd' || s[3] == 'i');
	for (int i = 4; i < 8; i++)
		CHECK(s[i] >= '0' && s[i] <= '9');
	CHECK(is_alnum(s[8]) && is_alnum(s[9]));
	CHECK(s[10] == '_' && s[23] == '_');
	CHECK(is_hex(s + 11, 12) && is_hex(s + 24, 12));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[8] = { 1, 2, 5, 8, 16, 64, 512, 4096 };
	struct client_hello ch;
	unsigned char *p;
	size_t n, cap;
	char *ja3, md5[33], ja4[40];

	if (size == 0)
		return 0;
	cap = caps[data[0] & 7];
	n = size - 1;
	p = malloc(n > 0 ? n : 1);
	CHECK(p != NULL);
	memcpy(p, data + 1, n);
	if (tlsfp_parse(p, n, &ch) == 0) {
		json_object *d = json_object_new_object();
		size_t len;
		const char *text;
		json_object *back;

		CHECK(ch.nciphers <= TLSFP_LIST_MAX && ch.nexts <= TLSFP_LIST_MAX &&
		      ch.ngroups <= TLSFP_LIST_MAX && ch.npoint_formats <= TLSFP_LIST_MAX &&
		      ch.nsig_algs <= TLSFP_LIST_MAX && ch.nversions <= TLSFP_LIST_MAX);
		CHECK(memchr(ch.sni, '\0', sizeof(ch.sni)) != NULL);
		CHECK(ch.alpn_len <= sizeof(ch.alpn));

		ja3 = malloc(cap);
		CHECK(ja3 != NULL);
		memset(md5, 'x', sizeof(md5));
		tlsfp_ja3(&ch, ja3, cap, md5);
		CHECK(memchr(ja3, '\0', cap) != NULL);
		if (cap == 4096)
			check_ja3(ja3);
		CHECK(md5[32] == '\0' && is_hex(md5, 32));
		memset(ja4, 'x', sizeof(ja4));
		tlsfp_ja4(&ch, ja4);
		check_ja4(ja4);

		/* The fields the tls event gets from them (tls.c, fingerprint). */
		json_object_object_add(d, "ja3", json_object_new_string(ja3));
		json_object_object_add(d, "ja3_md5", json_object_new_string(md5));
		json_object_object_add(d, "ja4", json_object_new_string(ja4));
		if (ch.has_sni)
			text_put_str(d, "client_sni", ch.sni);
		if (ch.has_alpn)
			text_put(d, "client_alpn", ch.alpn, ch.alpn_len);
		text = json_object_to_json_string_length(
			d, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
		back = fuzz_check_json_line(text, len);
		json_object_put(back);
		json_object_put(d);
		free(ja3);
	}
	free(p);
	return 0;
}
