/*
 * p256.h — NIST P-256 keys in the exact encodings upstream uses.
 *
 * Private keys are 32-byte big-endian scalars; the PKCS#8 form is exactly the
 * 138-byte layout of kms-protocol §5.3 (ECPrivateKey v1 without parameters,
 * with the uncompressed public key), which is both what *.key files hold (as
 * PEM "PRIVATE KEY") and what derive_dh_secret hashes.
 * Scalars are secrets: callers wipe them (secret_wipe) after use.
 */
#ifndef CRYPTO_P256_H
#define CRYPTO_P256_H

#include "util/buf.h"
#include "util/err.h"

#include <openssl/evp.h>
#include <stdint.h>

#define P256_PKCS8_LEN 138
#define P256_SPKI_LEN 91
#define P256_POINT_LEN 65

/* A fresh random key (scalar in [1, n-1]). */
int p256_generate(uint8_t scalar[32], struct err *err);
/* 1 if 0 < s < n. */
int p256_scalar_valid(const uint8_t scalar[32]);
/* Uncompressed public point 04||X||Y for the scalar. */
int p256_public_point(const uint8_t scalar[32], uint8_t point[P256_POINT_LEN], struct err *err);
/* The exact 138-byte PKCS#8 DER of §5.3. */
int p256_pkcs8_der(const uint8_t scalar[32], uint8_t out[P256_PKCS8_LEN], struct err *err);
/* PEM "PRIVATE KEY" of that DER (64-column base64, LF, trailing newline), appended to out;
 * out is marked secret (wiped when released). */
int p256_pkcs8_pem(const uint8_t scalar[32], struct buf *out, struct err *err);
/* Parse a PEM private key (PKCS#8 of any valid layout, or SEC1 "EC PRIVATE KEY") to its scalar. */
int p256_scalar_from_pem(const char *pem, size_t len, uint8_t scalar[32], struct err *err);
/* 91-byte SubjectPublicKeyInfo DER of a public point; -1 if it is not an uncompressed
 * point on P-256. */
int p256_spki_der(const uint8_t point[P256_POINT_LEN], uint8_t out[P256_SPKI_LEN]);
/* An OpenSSL key object for signing (caller EVP_PKEY_free). */
EVP_PKEY *p256_evp_from_scalar(const uint8_t scalar[32], struct err *err);
/* Public point of an OpenSSL EC P-256 key; fails for other key types. */
int p256_point_from_evp(EVP_PKEY *pk, uint8_t point[P256_POINT_LEN], struct err *err);

#endif
