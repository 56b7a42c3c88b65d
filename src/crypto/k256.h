/*
 * k256.h — secp256k1 keys and recoverable signatures (kms-protocol §6),
 * on libsecp256k1. Public keys are 33-byte compressed SEC1; signatures are
 * r||s||v (65 bytes) with RFC 6979 nonces, low-S, v in {0,1}.
 */
#ifndef CRYPTO_K256_H
#define CRYPTO_K256_H

#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define K256_PUB_LEN 33
#define K256_SIG_LEN 65
#define K256_PUB_UNCOMPRESSED_LEN 65

int k256_generate(uint8_t scalar[32], struct err *err);
int k256_scalar_valid(const uint8_t scalar[32]);
int k256_pubkey(const uint8_t scalar[32], uint8_t pub[K256_PUB_LEN], struct err *err);
/* 04||X||Y; an Ethereum address is the last 20 bytes of K256(X||Y). */
int k256_pubkey_uncompressed(const uint8_t scalar[32], uint8_t pub[K256_PUB_UNCOMPRESSED_LEN],
			     struct err *err);
/* Sign a 32-byte digest. */
int k256_sign_digest(const uint8_t scalar[32], const uint8_t digest[32], uint8_t sig[K256_SIG_LEN],
		     struct err *err);
/* RecSign(key, K256(msg)). */
int k256_sign_keccak(const uint8_t scalar[32], const void *msg, size_t len,
		     uint8_t sig[K256_SIG_LEN], struct err *err);
/* Recover the compressed signer key from a signature over a digest. */
int k256_recover(const uint8_t sig[K256_SIG_LEN], const uint8_t digest[32],
		 uint8_t pub[K256_PUB_LEN], struct err *err);

/* §6.2: app key = derive_key(root, app_id || "app-key", 32); must be a valid scalar. */
int k256_derive_app_key(const uint8_t root[32], const uint8_t *app_id, size_t app_id_len,
			uint8_t out[32], struct err *err);
/* §6.2: RecSign(root, K256("dstack-kms-issued:" || app_id || compressed_pub(app_key))). */
int k256_sign_app_key(const uint8_t root[32], const uint8_t *app_id, size_t app_id_len,
		      const uint8_t app_pub[K256_PUB_LEN], uint8_t sig[K256_SIG_LEN],
		      struct err *err);
/* §4.3 legacy: RecSign(root, K256("dstack-env-encrypt-pubkey:" || app_id || public_key)). */
int k256_sign_env_pubkey(const uint8_t root[32], const uint8_t *app_id, size_t app_id_len,
			 const uint8_t pubkey[32], uint8_t sig[K256_SIG_LEN], struct err *err);
/* §4.3 v1: same with u64_be(timestamp) between app_id and public_key. */
int k256_sign_env_pubkey_v1(const uint8_t root[32], const uint8_t *app_id, size_t app_id_len,
			    uint64_t timestamp, const uint8_t pubkey[32], uint8_t sig[K256_SIG_LEN],
			    struct err *err);

#endif
