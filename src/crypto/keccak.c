/*
 * keccak.c — Keccak-256 (keccak.h): the Keccak-f[1600] permutation with the
 * original Keccak padding (0x01 ... 0x80, rate 136 bytes), as Ethereum uses it.
 * It is NOT SHA3-256 (whose domain padding is 0x06). OpenSSL 3.0 has no
 * KECCAK-256, so this is an in-house implementation; it never allocates.
 * spec: kms-protocol §6.1 (K256), c-dependencies §3.
 */
#include "crypto/keccak.h"

#include "util/secret.h"

#include <string.h>

#define KECCAK_RATE 136 /* (1600 - 2*256) / 8 */
#define KECCAK_ROUNDS 24

static const uint64_t round_consts[KECCAK_ROUNDS] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL};

/* Rotation offset of lane (x, y), indexed x + 5y (the rho step). */
static const unsigned rho_offsets[25] = {0,  1,	 62, 28, 27, 36, 44, 6,	 55, 20, 3,  10, 43,
					 25, 39, 41, 45, 15, 21, 8,  18, 2,  61, 56, 14};

static inline uint64_t rotl64(uint64_t v, unsigned n)
{
	return n ? (v << n) | (v >> (64 - n)) : v;
}

static void keccak_f1600(uint64_t a[25])
{
	uint64_t b[25], c[5], d[5];
	for (int round = 0; round < KECCAK_ROUNDS; round++) {
		/* theta */
		for (int x = 0; x < 5; x++)
			c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
		for (int x = 0; x < 5; x++)
			d[x] = c[(x + 4) % 5] ^ rotl64(c[(x + 1) % 5], 1);
		for (int i = 0; i < 25; i++)
			a[i] ^= d[i % 5];
		/* rho and pi: lane (x, y) moves to (y, 2x + 3y) */
		for (int x = 0; x < 5; x++)
			for (int y = 0; y < 5; y++)
				b[y + 5 * ((2 * x + 3 * y) % 5)] =
				    rotl64(a[x + 5 * y], rho_offsets[x + 5 * y]);
		/* chi */
		for (int y = 0; y < 25; y += 5)
			for (int x = 0; x < 5; x++)
				a[y + x] = b[y + x] ^ (~b[y + (x + 1) % 5] & b[y + (x + 2) % 5]);
		/* iota */
		a[0] ^= round_consts[round];
	}
	secret_wipe(b, sizeof b);
	secret_wipe(c, sizeof c);
	secret_wipe(d, sizeof d);
}

/* XOR one byte into the state at byte offset i (lanes are little-endian). */
static inline void xor_byte(uint64_t st[25], size_t i, uint8_t v)
{
	st[i / 8] ^= (uint64_t)v << (8 * (i % 8));
}

void keccak256_init(struct keccak_ctx *c)
{
	memset(c, 0, sizeof *c);
}

void keccak256_update(struct keccak_ctx *c, const void *data, size_t n)
{
	const uint8_t *p = data;
	while (n > 0) {
		/* Whole aligned lanes at a time when possible. */
		if (c->pos % 8 == 0 && n >= 8) {
			uint64_t lane = 0;
			for (int k = 7; k >= 0; k--)
				lane = (lane << 8) | p[k];
			c->st[c->pos / 8] ^= lane;
			c->pos += 8;
			p += 8;
			n -= 8;
		} else {
			xor_byte(c->st, c->pos, *p++);
			c->pos++;
			n--;
		}
		if (c->pos == KECCAK_RATE) {
			keccak_f1600(c->st);
			c->pos = 0;
		}
	}
}

void keccak256_final(struct keccak_ctx *c, uint8_t out[32])
{
	/* pad10*1 with the original Keccak domain bits: 0x01 first, 0x80 last
	 * (both in one byte, 0x81, when only one byte of the block is free). */
	xor_byte(c->st, c->pos, 0x01);
	xor_byte(c->st, KECCAK_RATE - 1, 0x80);
	keccak_f1600(c->st);
	for (size_t i = 0; i < 32; i++)
		out[i] = (uint8_t)(c->st[i / 8] >> (8 * (i % 8)));
	secret_wipe(c, sizeof *c);
}

void keccak256(const void *data, size_t n, uint8_t out[32])
{
	struct keccak_ctx c;
	keccak256_init(&c);
	keccak256_update(&c, data, n);
	keccak256_final(&c, out);
}
