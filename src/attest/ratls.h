/*
 * ratls.h — RA-TLS: the attestation carried in an X.509 certificate and its
 * binding to the certificate key.
 *
 * Extraction prefers OID .1.8 (VersionedAttestation); otherwise the legacy
 * .1.1 quote + .1.2 JSON event log; otherwise there is no attestation. The
 * binding is REPORTDATA == SHA-512("ratls-cert:" || SubjectPublicKeyInfo DER).
 * Neither function verifies the quote itself (that is dcap.h + appinfo.h).
 * spec: kms-protocol §7.2, §9.3, §9.5 (binding); attestation §3.1, §3.2.
 */
#ifndef ATTEST_RATLS_H
#define ATTEST_RATLS_H

#include "attest/attestation.h"
#include "util/err.h"

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#define RATLS_TAG_CERT "ratls-cert"
#define RATLS_TAG_KMS_ROOT_CA "kms-root-ca"
#define RATLS_TAG_APP_DATA "app-data"

/* QuoteContentType::to_report_data: SHA-512(tag || ":" || content), 64 bytes. */
int ratls_report_data(const char *tag, const uint8_t *content, size_t len, uint8_t out[64],
		      struct err *err);

/* Returns 1 and fills *a when the certificate carries an attestation, 0 when
 * it carries none, -1 on a malformed one (.1.1 without .1.2 gives
 * "TDX event log missing"). */
int ratls_extract(X509 *cert, struct attestation *a, struct err *err);

/* report_data of the attestation must equal ratls_report_data("ratls-cert",
 * SPKI DER of cert), else "report data mismatch". */
int ratls_check_binding(const struct attestation *a, X509 *cert, struct err *err);
/* The same check against a given SPKI DER (SignCert: the CSR's pubkey). */
int ratls_check_binding_spki(const struct attestation *a, const uint8_t *spki, size_t spki_len,
			     struct err *err);

#endif
