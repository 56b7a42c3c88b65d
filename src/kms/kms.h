/*
 * kms.h — the running KMS: configuration, root keys, auth client, metrics,
 * and the main-listener handler that routes /prpc, /health and /metrics.
 */
#ifndef KMS_KMS_H
#define KMS_KMS_H

#include "kms/auth.h"
#include "kms/config.h"
#include "kms/keys.h"
#include "kms/metrics.h"
#include "kms/peer_attest.h"
#include "kms/self_attest.h"
#include "prpc/prpc.h"
#include "net/http_server.h"

#include <stdatomic.h>
#include <stdint.h>

struct audit_log;
struct guest_agent;
struct kms_control;

/* What the process is doing (the control socket's "phase"). */
enum kms_phase { KMS_PHASE_STARTING, KMS_PHASE_ONBOARDING, KMS_PHASE_SERVING };

struct kms {
	struct kms_config cfg;
	struct kms_keys keys;
	struct auth *auth;
	struct metrics metrics;
	struct prpc_service service;
	struct peer_attest peer;   /* verifier + collateral for callers' RA-TLS certificates */
	char version[128];	   /* X-App-Version value */
	struct workpool *pool;	   /* blocking work: webhook, collateral waits, release log */
	struct audit_log *audit;   /* the release log ([core.audit] file) */
	struct guest_agent *agent; /* the local guest agent, or NULL in host mode */
	struct self_attest self;   /* the KMS's own BootInfo (SelfAuth) */
	atomic_int phase;	   /* enum kms_phase */
	int64_t started_at;	   /* wall clock at start */
	struct http_server *_Atomic rpc_srv; /* the main listener once it serves */
	int onboard_port;		     /* the onboard listener's port while onboarding */
};

/* Fill k->service with the KMS service table (kms-protocol §4). */
void rpc_kms_init(struct kms *k);
/* The DCAP verifier and collateral source from [core.attestation]. */
int kms_attestation_init(struct kms *k, struct err *err);
void kms_attestation_free(struct kms *k);
/* http_handler_fn for the main listener (ud = struct kms *). */
void kms_main_handler(void *ud, const struct http_req *req, struct http_resp *resp);
/* The admission limits of every KMS listener, from [rpc] (0 = the default). */
struct http_server_limits kms_listener_limits(const struct kms_config *c);

#endif
