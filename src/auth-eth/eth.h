/*
 * eth.h — dstack-auth-eth's view of the chain: a JSON-RPC client over the
 * project's HTTP client (keep-alive, connect and total timeouts) and one
 * shared head tracker (latest block number and timestamp, polled every
 * ETH_HEAD_POLL_MS and at once when a request finds it older than that).
 *
 * Every read is pinned to the tracked head block, and an authorization's
 * two eth_calls (decision and gatewayAppId) travel in one JSON-RPC batch,
 * so both come from one state. Any RPC error, revert, timeout, HTTP 429 or
 * undecodable answer is a failure (callers answer "authorization backend
 * unavailable"); nothing blocks longer than ETH_RPC_TIMEOUT_MS per request.
 * Never logs or returns the RPC URL's path, query or userinfo.
 * spec: auth-eth §2 (calls, selectors, round trips), issue 4 (freshness).
 */
#ifndef AUTH_ETH_ETH_H
#define AUTH_ETH_ETH_H

#include "abi/abi.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdint.h>

struct eth_config {
	const char *rpc_url;
	const char *kms_addr; /* KMS_CONTRACT_ADDR as configured (may be invalid) */
	const char *env_file; /* named in fix-it messages */
	long timeout_ms;
	long poll_ms;
	long max_block_age_s; /* 0 = no staleness check */
};

enum eth_rc {
	ETH_OK = 0,
	ETH_UNAVAILABLE = -1, /* chain cannot be read (err says why) */
	ETH_STALE = -2,	      /* head block older than ETH_MAX_BLOCK_AGE */
};

struct eth;

struct eth *eth_new(const struct eth_config *c, struct err *err);
/* Starts the head tracker thread (logs the connection lines). */
int eth_start(struct eth *e, struct err *err);
/* Stops the tracker and frees everything. */
void eth_free(struct eth *e);

struct eth_decision {
	int allowed;
	struct buf reason;	   /* UTF-8, not NUL-counted */
	struct buf gateway_app_id; /* UTF-8 */
};
/* isAppAllowed / isKmsAllowed + gatewayAppId at the head block. Thread-safe.
 * Free out with eth_decision_free in every case. */
enum eth_rc eth_authorize(struct eth *e, int is_kms, const struct abi_boot_info *bi,
			  struct eth_decision *out, struct err *err);
void eth_decision_free(struct eth_decision *d);

struct eth_info {
	uint64_t chain_id;
	struct buf gateway_app_id;
	uint8_t app_implementation[20];
};
/* eth_chainId + gatewayAppId + appImplementation (GET /). No staleness check:
 * this is chain information, not an authorization. */
enum eth_rc eth_info(struct eth *e, struct eth_info *out, struct err *err);
void eth_info_free(struct eth_info *i);

/* registeredApps(app) at the head block (the seed's is_app_allowed). */
enum eth_rc eth_is_registered(struct eth *e, const uint8_t app[20], int *registered,
			      struct err *err);

#endif
