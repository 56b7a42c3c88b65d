/*
 * dcap.h — DCAP verification of a TDX quote as dcap-qvl 0.5.2 does it
 * (spec: attestation §2), with OpenSSL, plus dstack's validate_tcb (§2.6).
 * Pure: the quote, the collateral, the trust anchor and the time are inputs;
 * no I/O, no clock. "Warm means verified once": a verifier keeps, per
 * collateral set, the result of the time-independent checks (chains, CRLs,
 * signatures, parsed TCB info / QE identity) and, per PCK chain, the verified
 * chain and its SGX extension; every call re-checks the dates against `now`
 * from those cached numbers, in dcap-qvl's order, so a cached result is
 * exactly what a cold verification at `now` decides. Thread-safe.
 */
#ifndef ATTEST_DCAP_H
#define ATTEST_DCAP_H

#include "attest/collateral.h"
#include "attest/quote.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define DCAP_MAX_ADVISORIES 64

/* A TCB status with its advisory IDs (first-seen order, no duplicates). */
struct dcap_tcb_result {
	char status[48];
	char advisory_ids[DCAP_MAX_ADVISORIES][32];
	size_t n_advisory;
};

struct dcap_result {
	char status[48]; /* "UpToDate", "SWHardeningNeeded", ..., "OutOfDateConfigurationNeeded" */
	char advisory_ids[DCAP_MAX_ADVISORIES][32];
	size_t n_advisory;
	uint8_t ppid[16];
	uint8_t fmspc[6];
	uint8_t cpu_svn[16];
	uint16_t pce_svn;
	uint8_t pce_id[2];
	/* Added: the parts dcap-qvl's VerifiedReport also carries. */
	struct dcap_tcb_result platform; /* platform status, TDX module status merged in */
	struct dcap_tcb_result qe;	 /* QE identity status */
	uint16_t quote_version;
	struct tdx_report report; /* the verified TD report (copied out of the quote) */
};

/* The pinned Intel SGX Root CA (DER, spec §2.2). Its SHA-256 is checked on
 * first use; NULL (with a message) if the embedded bytes were altered. */
const uint8_t *dcap_intel_root_der(size_t *len, struct err *err);

struct dcap_verifier;
/* Collateral whose time-independent checks have been done once (refcounted). */
struct dcap_loaded;

/* A verifier trusting exactly one root. anchor_der == NULL selects the pinned
 * Intel root; any other root (e.g. tests/vectors/mock/mock_root_ca.der) must be
 * passed explicitly — the caller decides, like upstream's
 * insecure_allow_external_trust_anchors. */
struct dcap_verifier *dcap_verifier_new(const uint8_t *anchor_der, size_t anchor_len,
					struct err *err);
void dcap_verifier_free(struct dcap_verifier *v);

/* Checks the collateral's CRLs, chains and signatures (once per distinct
 * collateral; later calls reuse the cached result) and its dates at `now`
 * (spec §2.3 steps 0–2). On success *out holds a reference (release it). */
int dcap_load_collateral(const struct dcap_verifier *v, const struct dcap_collateral *c,
			 int64_t now, struct dcap_loaded **out, struct err *err);
void dcap_loaded_release(struct dcap_loaded *l);
/* The inclusive time range in which the loaded collateral itself passes
 * (TCB info and QE identity dates, certificates, CRL nextUpdate of both CRLs):
 * refresh the collateral before `until`. */
void dcap_loaded_window(const struct dcap_loaded *l, int64_t *from, int64_t *until);

/* Verifies a quote at `now`: every step of spec §2.3 in dcap-qvl's order (the
 * first failure aborts), then dstack's validate_tcb (§2.6). Returns 0 with
 * *out filled (any status but Revoked; the caller applies policy) or -1 with
 * the reason. The collateral's checks are cached by its digest. */
int dcap_verify(const struct dcap_verifier *v, const uint8_t *quote, size_t len,
		const struct dcap_collateral *c, int64_t now, struct dcap_result *out,
		struct err *err);
/* The same with collateral already loaded (skips hashing the collateral). */
int dcap_verify_loaded(const struct dcap_verifier *v, const uint8_t *quote, size_t len,
		       struct dcap_loaded *l, int64_t now, struct dcap_result *out,
		       struct err *err);

/* The checks of a quote that need no collateral, in dcap-qvl's order: the
 * header (QE vendor, attestation key type), the quote's PCK chain (type 5) to
 * the trust anchor (no dates, no revocation: those need the CRLs), the PCK
 * SGX extension, the QE report signature by the PCK key, the QE report data
 * binding of the attestation key, and the quote signature (spec §2.3 steps
 * 3–5 and 7, partly). A quote failing here fails dcap_verify too, for any
 * collateral without a PCK chain of its own, so a caller can refuse it before
 * any collateral is fetched for it. */
int dcap_precheck(const struct dcap_verifier *v, const uint8_t *quote, size_t len, struct err *err);

/* What a passed dcap_precheck proved, for the dcap_verify_loaded_memo that
 * follows it in the same request: the quote's SHA-256 and the PCK key (DER
 * SubjectPublicKeyInfo) that signed its QE report. The later verification
 * skips the two signature checks precheck already did when, and only when,
 * it sees the same quote bytes and the same PCK key; every other step runs. */
struct dcap_precheck_memo {
	int valid;
	uint8_t quote_sha256[32];
	uint8_t pck_spki[128];
	size_t pck_spki_len;
};
int dcap_precheck_memo(const struct dcap_verifier *v, const uint8_t *quote, size_t len,
		       struct dcap_precheck_memo *memo, struct err *err);
int dcap_verify_loaded_memo(const struct dcap_verifier *v, const uint8_t *quote, size_t len,
			    struct dcap_loaded *l, int64_t now,
			    const struct dcap_precheck_memo *memo, struct dcap_result *out,
			    struct err *err);

/* dstack's validate_tcb (spec §2.6): debug TD refused, MRSIGNERSEAM zero, and
 * for TD 1.5 MRSERVICETD zero. dcap_verify calls it; exported for tests. */
int dcap_dstack_validate_tcb(const struct tdx_report *r, struct err *err);

#endif
