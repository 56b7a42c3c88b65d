/*
 * kdf.h — key derivation bit-exact with upstream (kms-protocol §5).
 *
 * derive_key = HKDF-SHA256(salt "RATLS", ikm, info = concatenated contexts).
 * Every output here is secret; callers wipe it.
 */
#ifndef CRYPTO_KDF_H
#define CRYPTO_KDF_H

#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

/* One context byte string; contexts are concatenated without separators. */
struct kdf_ctx {
	const void *p;
	size_t len;
};

#define KDF_STR(s) ((struct kdf_ctx){(s), sizeof(s) - 1})

int kdf_derive_key(const uint8_t *ikm, size_t ikm_len, const struct kdf_ctx *ctx, size_t nctx,
		   uint8_t *out, size_t out_len, struct err *err);
/* §5.2: child P-256 scalar from a parent scalar; fails when d == 0 or d >= n. */
int kdf_derive_p256(const uint8_t parent[32], const struct kdf_ctx *ctx, size_t nctx,
		    uint8_t child[32], struct err *err);
/* §5.2 step 2 on already-derived bytes: child = okm when 0 < okm < n, else an error
 * (never reduced). Exposed so the rejection rule is testable; okm may alias child. */
int kdf_p256_scalar_from_okm(const uint8_t okm[32], uint8_t child[32], struct err *err);
/* §5.3: SHA-256 of the 138-byte PKCS#8 DER of the derived P-256 key. */
int kdf_derive_dh_secret(const uint8_t parent[32], const struct kdf_ctx *ctx, size_t nctx,
			 uint8_t out[32], struct err *err);
/* X25519 public key (RFC 7748, clamping applied in the multiplication) of raw secret bytes. */
int kdf_x25519_public(const uint8_t secret[32], uint8_t pub[32], struct err *err);

/* The app-level keys of §4.1/§4.3 from the root CA scalar. */
int kdf_app_disk_key(const uint8_t root_ca[32], const uint8_t *app_id, size_t app_id_len,
		     const uint8_t *instance_id, size_t instance_id_len, uint8_t out[32],
		     struct err *err);
int kdf_app_env_secret(const uint8_t root_ca[32], const uint8_t *app_id, size_t app_id_len,
		       uint8_t out[32], struct err *err);
/* §7.4: the App CA scalar (app_id || "app-ca"). */
int kdf_app_ca_key(const uint8_t root_ca[32], const uint8_t *app_id, size_t app_id_len,
		   uint8_t out[32], struct err *err);

#endif
