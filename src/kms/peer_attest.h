/*
 * peer_attest.h — verification of the attestation a caller presents in its
 * TLS client certificate (kms-protocol §2.5, §9.5), before any prpc method
 * runs: extract it (RA-TLS extensions), check that REPORTDATA binds the
 * certificate's key, DCAP-verify the quote with collateral from the
 * collateral source, and run the local checks (RTMR3 replay, report data).
 */
#ifndef KMS_PEER_ATTEST_H
#define KMS_PEER_ATTEST_H

#include "attest/attestation.h"
#include "attest/dcap.h"
#include "util/err.h"

#include <openssl/x509.h>
#include <stdint.h>

struct collateral_source;

struct peer_attest {
	struct dcap_verifier *verifier;
	struct collateral_source *collateral;
	/* longest wait for the refresher on a collateral cache miss */
	long collateral_wait_ms;
};

/* A verified caller attestation, handed to prpc handlers. */
struct verified_peer {
	struct attestation att;
	struct dcap_result dcap;
};

/*
 * Returns 1 with *out filled (caller frees with verified_peer_free) when the
 * certificate carries a valid attestation, 0 when it carries none, -1 with a
 * message prefixed "invalid quote: " when it carries one that fails, or when
 * its APP_ID / APP_INFO extensions are malformed; -1 with a message prefixed
 * "busy: " when its collateral is not cached and was not fetched within
 * collateral_wait_ms.
 */
int peer_attest_verify(const struct peer_attest *pa, X509 *cert, int64_t now,
		       struct verified_peer *out, struct err *err);
void verified_peer_free(struct verified_peer *p);

/*
 * SignCert (§4.6 step 3): out->att (already decoded from the CSR) must be
 * bound to the CSR's SubjectPublicKeyInfo and pass DCAP and the local
 * checks. 0, or -1 (out freed) with the reason; *busy = 1 when the reason
 * is the KMS's (collateral not ready: a "busy: …" message).
 */
int peer_attest_verify_bound(const struct peer_attest *pa, const uint8_t *spki, size_t spki_len,
			     int64_t now, struct verified_peer *out, int *busy, struct err *err);

/* The KMS's own attestation (SelfAuth, §4): out->att (already decoded) must
 * pass DCAP and the local checks; no key binding. As peer_attest_verify_bound
 * otherwise. */
int peer_attest_verify_unbound(const struct peer_attest *pa, int64_t now, struct verified_peer *out,
			       int *busy, struct err *err);

#endif
