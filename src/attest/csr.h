/*
 * csr.h — SignCert's certificate signing requests (kms-protocol §8):
 * CertSigningRequestV1 and V2 in SCALE, decoded canonically (every length
 * bounded by the bytes left, no trailing bytes, bools 0/1, Option tags 0/1,
 * shortest compact integers, UTF-8 strings), the V2 encoder kmsctl uses,
 * and signature verification (ECDSA P-256 / SHA-256, DER signature, over
 * the received bytes; then the confirm word).
 *
 * Decoded strings and byte fields point into the caller's buffer, which
 * must outlive the struct. Pure: no I/O, no allocation in the decoder.
 */
#ifndef ATTEST_CSR_H
#define ATTEST_CSR_H

#include "attest/attestation.h"
#include "crypto/p256.h"
#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define CSR_CONFIRM "please sign cert:"
#define CSR_MAX_SANS 64			  /* more subject alt names: refused */
#define CSR_MAX_BYTES (10u * 1024 * 1024) /* the V2 attestation's own cap */

struct csr_str {
	const char *p; /* NOT NUL-terminated */
	size_t len;
};

struct csr {
	int version; /* 1 or 2 */
	struct csr_str confirm;
	const uint8_t *pubkey; /* SubjectPublicKeyInfo DER */
	size_t pubkey_len;
	int has_org;
	struct csr_str org, subject;
	size_t n_san;
	struct csr_str san[CSR_MAX_SANS];
	int usage_server_auth, usage_client_auth, ext_quote;
	int ext_app_info;		   /* V2; false for V1 */
	int has_not_before, has_not_after; /* V2 */
	uint64_t not_before, not_after;
	/* V2: VersionedAttestation bytes (the rest of the input). */
	const uint8_t *attestation;
	size_t attestation_len;
	/* V1: raw TDX quote and JSON TdxEvent array. */
	const uint8_t *quote, *event_log;
	size_t quote_len, event_log_len;
};

/* Decodes a version-1 or version-2 CSR. */
int csr_decode(int version, const uint8_t *p, size_t n, struct csr *c, struct err *err);

/*
 * Checks sig (DER ECDSA) over data[0..n) — the received CSR bytes — with the
 * CSR's key, which must be an uncompressed P-256 point (returned in point),
 * then the confirm word ("Invalid confirm word").
 */
int csr_verify_signature(const struct csr *c, const uint8_t *data, size_t n, const uint8_t *sig,
			 size_t sig_len, uint8_t point[P256_POINT_LEN], struct err *err);

/* The CSR's attestation: V2 decoded, V1 converted (§8: a V0 attestation
 * built from the quote and event log). a must be initialised. */
int csr_attestation(const struct csr *c, struct attestation *a, struct err *err);

/* SCALE encoding of a V2 CSR (attestation appended as the last field). */
int csr_encode_v2(const struct csr *c, struct buf *out, struct err *err);

#endif
