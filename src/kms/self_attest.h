/*
 * self_attest.h — the KMS's own attestation (kms-protocol §4 SelfAuth,
 * §12.1 step 3, §12.4): the guest agent's Attest over 64 zero bytes,
 * verified like a caller's (DCAP and the local checks, no key binding),
 * turned into the KMS's BootInfo (runtime view, vm_config "" → the
 * attestation's embedded config).
 *
 * The cached form is computed on first successful use and then never
 * changes (SelfAuth); the fresh form is recomputed on every call
 * (Bootstrap's self-authorization, GetAttestationInfo). Both wait on the
 * guest agent and on collateral: call them from the blocking pool or at
 * start-up, never on an event loop.
 */
#ifndef KMS_SELF_ATTEST_H
#define KMS_SELF_ATTEST_H

#include "attest/boot_info.h"
#include "kms/peer_attest.h"
#include "util/err.h"

#include <pthread.h>
#include <stdatomic.h>

struct kms;

struct self_attest {
	pthread_mutex_t mu; /* held while the cached value is computed */
	atomic_int ready;   /* 1: bi is set and immutable from then on */
	struct boot_info bi;
};

void self_attest_init(struct self_attest *s);
void self_attest_free(struct self_attest *s);

/* A fresh verified own attestation: *vp (verified_peer_free) and *bi
 * (boot_info_free). vp may be NULL. */
int self_attest_fresh(struct kms *k, struct verified_peer *vp, struct boot_info *bi,
		      struct err *err);
/* The cached own BootInfo; *bi points into k->self and stays valid. */
int self_attest_cached(struct kms *k, const struct boot_info **bi, struct err *err);

#endif
