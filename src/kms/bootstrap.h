/*
 * bootstrap.h — creating and maintaining the key set in cert_dir
 * (kms-protocol §12.1, §12.3, §12.6, §13).
 *
 * The key set is complete-or-absent: files are staged in cert_dir/.staging,
 * a COMMIT marker makes the set durable, then each file is renamed into
 * place. bootstrap_recover() at start-up rolls a committed set forward and
 * discards an uncommitted one, so a crash at any point never leaves a partial
 * set that blocks a retry. bootstrap-info.json, when written, is renamed last.
 */
#ifndef KMS_BOOTSTRAP_H
#define KMS_BOOTSTRAP_H

#include "crypto/k256.h"
#include "crypto/p256.h"
#include "kms/config.h"
#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The seven files whose presence makes the key set complete (§1). */
extern const char *const BOOTSTRAP_CORE_FILES[7];

/* §12: non-empty, <= 253 bytes, ASCII, labels of 1..63 [A-Za-z0-9-], no leading/trailing '-'. */
int bootstrap_validate_domain(const char *domain, struct err *err);
/* 1 when all seven core files exist. */
int bootstrap_keyset_complete(const char *cert_dir);
/* 1 when any root key file (root-ca.key, root-k256.key) exists. */
int bootstrap_has_root_keys(const char *cert_dir);
/* Finish or discard an interrupted commit; remove stray temp files. */
int bootstrap_recover(const char *cert_dir, struct err *err);

/* Produces a TEE attestation for 64 bytes of report data (the guest agent's
 * Attest). NULL attester = host mode: no attestation anywhere. */
struct bootstrap_attester {
	int (*attest)(void *ud, const uint8_t report_data[64], struct buf *out, struct err *err);
	void *ud;
};

struct bootstrap_result {
	uint8_t ca_spki[P256_SPKI_LEN];
	uint8_t k256_pub[K256_PUB_LEN];
};

/* Generate a fresh key set for domain and commit it into cert_dir. With an
 * attester, rpc.crt carries an attestation of its key. With write_info,
 * bootstrap-info.json (ca_pubkey, k256_pubkey, attestation of §6.3 — empty
 * without attester) is committed last. */
int bootstrap_generate(const char *cert_dir, const char *domain, int64_t now, int write_info,
		       const struct bootstrap_attester *att, struct bootstrap_result *out,
		       struct err *err);

/* The root keys an onboarding KMS receives from its source (§12.2 step 7). */
struct bootstrap_keys {
	uint8_t tmp_ca[32], root_ca[32], k256[32];
};
/* §12.2 step 7: commit a key set made of received keys — certificates issued
 * afresh for the same keys, a new rpc key (attested with att), no
 * bootstrap-info.json. The same crash-safe commit as bootstrap_generate. */
int bootstrap_import(const char *cert_dir, const char *domain, int64_t now,
		     const struct bootstrap_keys *keys, const struct bootstrap_attester *att,
		     struct bootstrap_result *out, struct err *err);

/* §12.6: re-issue rpc.crt (always) and renew root-ca.crt / tmp-ca.crt when
 * they expire within 365 days, from the existing keys. domain: the
 * auto_bootstrap_domain if set, else the content of rpc-domain. */
int bootstrap_update_certs(const char *cert_dir, const char *auto_domain, int64_t now,
			   const struct bootstrap_attester *att, struct err *err);

/* Fault injection for tests: stop a commit after this many renames as if the
 * process had crashed (-1 = off). */
extern int bootstrap_fault_after_renames;

#endif
