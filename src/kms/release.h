/*
 * release.h — the key-release path shared by GetAppKey, GetKmsKey and
 * SignCert (kms-protocol §4): SelfAuth, AppAuth (BootInfo from the verified
 * attestation, the policy's decision, OS image verification), ReleaseGate,
 * and the release log entry that must be on disk before any key leaves the
 * process.
 *
 * A release runs on a blocking-pool thread (the webhook call and the log's
 * fsync wait there, never on an event loop):
 *
 *   struct release r;
 *   release_begin(&r, "GetAppKey", caller_cert);
 *   rc = release_app_auth(k, &r, ...) ... release_gate(k, &r, err) ...
 *   rc = release_finish(k, &r, rc, err);   // 0: the keys may be sent
 *   release_end(&r);
 */
#ifndef KMS_RELEASE_H
#define KMS_RELEASE_H

#include "attest/attestation.h"
#include "attest/boot_info.h"
#include "attest/dcap.h"
#include "kms/auth.h"
#include "util/err.h"

#include <openssl/x509.h>

struct kms;

struct release {
	const char *method;
	struct boot_info bi; /* valid once has_bi */
	int has_bi;
	char gateway_app_id[AUTH_GATEWAY_ID_MAX + 1];
	char caller_sha256[65]; /* hex SHA-256 of the caller's certificate, or "" */
	int denied;		/* the policy or the release gate said no */
};

void release_begin(struct release *r, const char *method, X509 *caller_cert);
void release_end(struct release *r);

/* SelfAuth (§4): the KMS's cached own BootInfo, then /bootAuth/kms on every
 * call ("KMS self authorization failed: …"). With
 * enforce_self_authorization = false: nothing. */
int release_self_auth(struct kms *k, struct err *err);

/*
 * AppAuth (§4): BootInfo of the verified attestation (boottime: SignCert's
 * boot-time view), the policy's decision on /bootAuth/kms (is_kms) or
 * /bootAuth/app ("Boot denied: <reason>"), then OS image verification when
 * [core.image] verify is on ("Failed to verify os image hash: …").
 */
int release_app_auth(struct kms *k, struct release *r, const struct attestation *att,
		     const struct dcap_result *dcap, int is_kms, int boottime,
		     const char *vm_config, struct err *err);

/* ReleaseGate (§4): per-variant switches for SEV-SNP and NitroTPM. */
int release_gate(struct kms *k, struct release *r, struct err *err);
/* The same gate for a bare tee_variant (GetTempCaCert on the KMS's own). */
int release_gate_variant(struct kms *k, const char *tee_variant, struct err *err);

/*
 * Appends the decision to the release log (allowed when rc == 0; denied or
 * error otherwise, with err's message as the reason) and the journal.
 * Returns rc when rc < 0 (err unchanged). When rc == 0 and the log cannot be
 * written, returns -1 ("release log unavailable: …"): fail closed, the keys
 * must not be sent.
 */
int release_finish(struct kms *k, struct release *r, int rc, struct err *err);

#endif
