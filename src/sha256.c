/*
 * sha256.c - SHA-256 after FIPS 180-4. Whole 64-byte blocks are hashed
 * straight from the caller's buffer; only the tail is copied. On x86-64
 * processors with the SHA extensions the block function uses them (chosen
 * once at first use), which is several times faster than the plain C one.
 */
#include "sha256.h"

#include <string.h>

#include "base64.h"

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void blocks_c(uint32_t h[8], const unsigned char *p, size_t nblocks)
{
	while (nblocks-- > 0) {
		uint32_t w[64], a, b, c, d, e, f, g, hh;
		int i;

		for (i = 0; i < 16; i++)
			w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
			       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
		for (i = 16; i < 64; i++) {
			uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
			uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);

			w[i] = w[i - 16] + s0 + w[i - 7] + s1;
		}
		a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
		for (i = 0; i < 64; i++) {
			uint32_t t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
			uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));

			hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
		}
		h[0] += a, h[1] += b, h[2] += c, h[3] += d;
		h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
		p += 64;
	}
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <sys/platform/x86.h>
#define HAVE_X86_PLATFORM 1
#else
#include <cpuid.h>
#endif

/* The SHA-NI block function, after Intel's description of the extensions. */
__attribute__((target("sha,sse4.1"))) static void blocks_ni(uint32_t h[8], const unsigned char *p,
							     size_t nblocks)
{
	const __m128i shuf = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i state0, state1, tmp, msg, m0, m1, m2, m3, abef_save, cdgh_save;

	/* Load h as ABEF / CDGH, the layout sha256rnds2 wants. */
	tmp = _mm_loadu_si128((const __m128i *)&h[0]);    /* DCBA */
	state1 = _mm_loadu_si128((const __m128i *)&h[4]); /* HGFE */
	tmp = _mm_shuffle_epi32(tmp, 0xB1);               /* CDAB */
	state1 = _mm_shuffle_epi32(state1, 0x1B);         /* EFGH */
	state0 = _mm_alignr_epi8(tmp, state1, 8);         /* ABEF */
	state1 = _mm_blend_epi16(state1, tmp, 0xF0);      /* CDGH */

	while (nblocks-- > 0) {
		abef_save = state0;
		cdgh_save = state1;

#define ROUNDS4(mi, k)                                                                 \
	msg = _mm_add_epi32(mi, _mm_loadu_si128((const __m128i *)&K[k]));              \
	state1 = _mm_sha256rnds2_epu32(state1, state0, msg);                            \
	msg = _mm_shuffle_epi32(msg, 0x0E);                                             \
	state0 = _mm_sha256rnds2_epu32(state0, state1, msg)

		m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), shuf);
		m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), shuf);
		m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), shuf);
		m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), shuf);

		ROUNDS4(m0, 0);
		ROUNDS4(m1, 4);
		ROUNDS4(m2, 8);
		ROUNDS4(m3, 12);
		for (int k = 16; k < 64; k += 16) {
			/* Schedule: w[i] = s1(w[i-2]) + w[i-7] + s0(w[i-15]) + w[i-16]. */
			m0 = _mm_sha256msg1_epu32(m0, m1);
			m0 = _mm_add_epi32(m0, _mm_alignr_epi8(m3, m2, 4));
			m0 = _mm_sha256msg2_epu32(m0, m3);
			ROUNDS4(m0, k);
			m1 = _mm_sha256msg1_epu32(m1, m2);
			m1 = _mm_add_epi32(m1, _mm_alignr_epi8(m0, m3, 4));
			m1 = _mm_sha256msg2_epu32(m1, m0);
			ROUNDS4(m1, k + 4);
			m2 = _mm_sha256msg1_epu32(m2, m3);
			m2 = _mm_add_epi32(m2, _mm_alignr_epi8(m1, m0, 4));
			m2 = _mm_sha256msg2_epu32(m2, m1);
			ROUNDS4(m2, k + 8);
			m3 = _mm_sha256msg1_epu32(m3, m0);
			m3 = _mm_add_epi32(m3, _mm_alignr_epi8(m2, m1, 4));
			m3 = _mm_sha256msg2_epu32(m3, m2);
			ROUNDS4(m3, k + 12);
		}
#undef ROUNDS4
		state0 = _mm_add_epi32(state0, abef_save);
		state1 = _mm_add_epi32(state1, cdgh_save);
		p += 64;
	}

	/* Back from ABEF / CDGH to DCBA / HGFE. */
	tmp = _mm_shuffle_epi32(state0, 0x1B);       /* FEBA */
	state1 = _mm_shuffle_epi32(state1, 0xB1);    /* DCHG */
	state0 = _mm_blend_epi16(tmp, state1, 0xF0); /* DCBA */
	state1 = _mm_alignr_epi8(state1, tmp, 8);    /* HGFE */
	_mm_storeu_si128((__m128i *)&h[0], state0);
	_mm_storeu_si128((__m128i *)&h[4], state1);
}

static void blocks_pick(uint32_t h[8], const unsigned char *p, size_t nblocks);
static void (*blocks)(uint32_t h[8], const unsigned char *p, size_t nblocks) = blocks_pick;

static void blocks_pick(uint32_t h[8], const unsigned char *p, size_t nblocks)
{
	int sha, sse41;
#ifdef HAVE_X86_PLATFORM
	/*
	 * What the dynamic loader found at start-up: no CPUID here, which in a
	 * virtual machine traps to the hypervisor and costs more than hashing
	 * a small message.
	 */
	sha = CPU_FEATURE_ACTIVE(SHA);
	sse41 = CPU_FEATURE_ACTIVE(SSE4_1) && CPU_FEATURE_ACTIVE(SSSE3);
#else
	unsigned a, b, c, d;

	sha = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b >> 29) & 1;
	sse41 = __get_cpuid(1, &a, &b, &c, &d) && (c >> 19) & 1 && (c >> 9) & 1;
#endif
	blocks = sha && sse41 ? blocks_ni : blocks_c;
	blocks(h, p, nblocks);
}

/* Tests force the portable function to check both against each other. */
void sha256_force_portable(int on);
void sha256_force_portable(int on)
{
	blocks = on ? blocks_c : blocks_pick;
}
#else
#define blocks blocks_c
void sha256_force_portable(int on);
void sha256_force_portable(int on)
{
	(void)on;
}
#endif

void sha256_init(struct sha256 *s)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(s->h, iv, sizeof(iv));
	s->bytes = 0;
	s->fill = 0;
}

void sha256_update(struct sha256 *s, const void *data, size_t n)
{
	const unsigned char *p = data;

	s->bytes += n;
	if (s->fill > 0) {
		size_t take = 64 - s->fill < n ? 64 - s->fill : n;

		memcpy(s->block + s->fill, p, take);
		s->fill += take;
		p += take;
		n -= take;
		if (s->fill < 64)
			return;
		blocks(s->h, s->block, 1);
		s->fill = 0;
	}
	if (n >= 64) {
		blocks(s->h, p, n / 64);
		p += n / 64 * 64;
		n %= 64;
	}
	memcpy(s->block, p, n);
	s->fill = n;
}

void sha256_final(struct sha256 *s, unsigned char digest[32])
{
	uint64_t bits = s->bytes * 8;
	unsigned char pad[72];
	size_t padlen = (s->fill < 56 ? 56 : 120) - s->fill;
	int i;

	memset(pad, 0, sizeof(pad));
	pad[0] = 0x80;
	for (i = 0; i < 8; i++)
		pad[padlen + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
	sha256_update(s, pad, padlen + 8);
	for (i = 0; i < 8; i++) {
		digest[4 * i] = (unsigned char)(s->h[i] >> 24);
		digest[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
		digest[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
		digest[4 * i + 3] = (unsigned char)s->h[i];
	}
}

void sha256_hex(const unsigned char digest[32], char out[65])
{
	hex_encode(digest, 32, out);
}
