/*
 * keccak.h — Keccak-256 as Ethereum uses it (original 0x01 padding, rate 136),
 * not NIST SHA3-256. OpenSSL 3.0 has no KECCAK-256, so this is in-house.
 */
#ifndef CRYPTO_KECCAK_H
#define CRYPTO_KECCAK_H

#include <stddef.h>
#include <stdint.h>

struct keccak_ctx {
	uint64_t st[25];
	size_t pos; /* bytes absorbed into the current block */
};

void keccak256_init(struct keccak_ctx *c);
void keccak256_update(struct keccak_ctx *c, const void *data, size_t n);
void keccak256_final(struct keccak_ctx *c, uint8_t out[32]); /* wipes the context */
void keccak256(const void *data, size_t n, uint8_t out[32]);

#endif
