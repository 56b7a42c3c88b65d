/*
 * cert.h — X.509 certificates in upstream's exact shape (kms-protocol §7).
 *
 * Generation follows §7.1: serial = first 20 bytes of SHA-256(uncompressed
 * subject point) with the top bit cleared; notBefore 1975-01-01 unless given;
 * notAfter now + 3650 days unless given; subject [O=...], CN=...; extensions
 * in the fixed order SAN, KeyUsage (non-minimal BIT STRING quirk), EKU,
 * [CA] SKI, [CA] BasicConstraints, then APP_ID, APP_INFO, CERT_USAGE,
 * ATTESTATION (double OCTET STRING wrapped); no AKI. Signed ECDSA-P256-SHA256.
 */
#ifndef CRYPTO_CERT_H
#define CRYPTO_CERT_H

#include "crypto/p256.h"
#include "util/buf.h"
#include "util/err.h"

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

/* Custom OIDs under 1.3.6.1.4.1.62397.1 (§7.2). */
#define OID_TDX_QUOTE "1.3.6.1.4.1.62397.1.1"
#define OID_EVENT_LOG "1.3.6.1.4.1.62397.1.2"
#define OID_APP_ID "1.3.6.1.4.1.62397.1.3"
#define OID_CERT_USAGE "1.3.6.1.4.1.62397.1.4"
#define OID_ATTESTATION "1.3.6.1.4.1.62397.1.8"
#define OID_APP_INFO "1.3.6.1.4.1.62397.1.9"

struct cert_bytes {
	const uint8_t *p;
	size_t len; /* p == NULL: absent */
};

struct cert_params {
	const char *org;     /* NULL: no O= RDN */
	const char *subject; /* CN */
	const char *const *san;
	size_t nsan;  /* IP literals become iPAddress, the rest dNSName */
	int is_ca;    /* adds SKI + BasicConstraints(cA, path_len) and CA KeyUsage */
	int path_len; /* only with is_ca */
	int eku_server, eku_client;
	struct cert_bytes app_id, app_info, attestation;
	const char *usage; /* CERT_USAGE string or NULL */
	int has_not_before, has_not_after;
	int64_t not_before, not_after; /* Unix seconds when has_* */
};

/* Issue a certificate for subject_point (65-byte uncompressed) signed by issuer_key.
 * issuer: the issuer certificate (its subject DN becomes our issuer DN), or NULL
 * for self-signed. now: the issuance time (Unix seconds). Returns a new X509. */
X509 *cert_issue(const struct cert_params *cp, const uint8_t subject_point[P256_POINT_LEN],
		 const uint8_t issuer_scalar[32], X509 *issuer, int64_t now, struct err *err);
/* PEM "CERTIFICATE" (64-column base64, LF, trailing newline), appended to out. */
int cert_to_pem(X509 *x, struct buf *out, struct err *err);
/* First certificate of a PEM text. */
X509 *cert_from_pem(const char *pem, size_t len, struct err *err);
/* DER of the certificate, appended to out. */
int cert_to_der(X509 *x, struct buf *out, struct err *err);

/* The raw content (inner OCTET STRING payload) of custom extension oid.
 * Returns 1 and fills out when present, 0 when absent, -1 on a malformed or
 * duplicated extension. */
int cert_get_custom_ext(X509 *x, const char *oid, struct buf *out, struct err *err);
/* 65-byte public point of a P-256 certificate. */
int cert_public_point(X509 *x, uint8_t point[P256_POINT_LEN], struct err *err);
/* SubjectPublicKeyInfo DER of the certificate key, appended to out. */
int cert_spki_der(X509 *x, struct buf *out, struct err *err);
/* An ASN.1 time as Unix seconds (any year); -1 when it does not parse. */
int cert_asn1_time_unix(const ASN1_TIME *t, int64_t *out);

/* Certificates accepted in one PEM chain by default. */
#define CERT_CHAIN_MAX 16
/* Every certificate of a PEM text, in order: the one PEM-chain loader. Text
 * between blocks and NUL bytes are ignored (quotes NUL-terminate their PEM);
 * an empty text gives an empty stack. Fails ("more than N certificates",
 * "malformed PEM or certificate: ...") beyond `max` certificates (0 =
 * CERT_CHAIN_MAX) or on a malformed block. Free with sk_X509_pop_free.
 * The certificates are parsed once per distinct text and shared (a small
 * cache keyed by the text's SHA-256): read them, never modify them. */
STACK_OF(X509) * cert_chain_from_pem(const void *pem, size_t len, size_t max, struct err *err);
/* Drops the parse cache of cert_chain_from_pem (tests; exit-time leak checks). */
void cert_chain_cache_clear(void);

/* notAfter as Unix seconds. */
int cert_not_after(X509 *x, int64_t *t, struct err *err);

#endif
