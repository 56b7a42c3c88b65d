/*
 * eth.h — dstack-auth-eth's view of the chain through one or more JSON-RPC
 * providers (ETH_RPC_URL, comma-separated).
 *
 * Each provider has its own keep-alive connections, its own head tracker
 * thread (chain id, newest block, and the block ETH_FINALITY_CONFIRMATIONS
 * below it, polled every ETH_HEAD_POLL_MS) and its own health: HTTP 429,
 * 5xx and other non-200 answers, timeouts and connection errors mark it
 * down with an exponential backoff; a successful exchange brings it back.
 * A provider whose eth_chainId differs from ETH_CHAIN_ID is never used.
 *
 * A read (decision, GET / or the seed check) has ONE deadline, given by the
 * caller (a CLOCK_MONOTONIC time in ms: the request's arrival plus
 * ETH_RPC_TIMEOUT_MS, so time spent waiting for a thread counts), failover
 * included. It needs ETH_RPC_QUORUM = K
 * providers: the block read is the lowest of their heads minus the finality
 * depth, every provider is asked for that block's hash and then for the
 * eth_calls pinned to that hash (EIP-1898 {"blockHash": ...}); the answer is
 * given only when K providers returned the same hash and the same bytes,
 * else it is refused (counted, and the message names the providers). A
 * provider that fails is replaced by the next one in the list while time
 * remains. gatewayAppId() is cached by block hash (one value per block, so
 * the cache changes no answer). Any RPC error, revert or undecodable answer
 * is a failure (callers answer "authorization backend unavailable").
 * Never logs or returns a provider URL's path, query or userinfo: a provider
 * is named "#i scheme://host:port".
 * spec: auth-eth §1.7 (chain id, finality), §2 (calls, selectors); issue 4.
 */
#ifndef AUTH_ETH_ETH_H
#define AUTH_ETH_ETH_H

#include "abi/abi.h"
#include "auth-eth/metrics.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdint.h>

struct eth_config {
	const char *const *rpc_urls;
	int n_rpc;
	const char *kms_addr; /* KMS_CONTRACT_ADDR as configured (may be invalid) */
	const char *env_file; /* named in fix-it messages */
	long timeout_ms;      /* one whole read, failover included */
	long poll_ms;
	long max_block_age_s; /* 0 = no staleness check */
	int has_chain_id;
	uint64_t chain_id; /* ETH_CHAIN_ID */
	long finality;	   /* ETH_FINALITY_CONFIRMATIONS */
	int quorum;	   /* ETH_RPC_QUORUM, 1..n_rpc */
};

enum eth_rc {
	ETH_OK = 0,
	ETH_UNAVAILABLE = -1, /* chain cannot be read (err says why) */
	ETH_STALE = -2,	      /* head block older than ETH_MAX_BLOCK_AGE */
};

struct eth;

struct eth *eth_new(const struct eth_config *c, struct err *err);
/* Starts one head tracker thread per provider (they log the connection lines). */
int eth_start(struct eth *e, struct err *err);
/* Stops the trackers and frees everything. */
void eth_free(struct eth *e);

struct eth_decision {
	int allowed;
	struct buf reason;	   /* UTF-8, not NUL-counted */
	struct buf gateway_app_id; /* UTF-8 */
	uint64_t block;		   /* the block the answer was read at */
};
/* Now on the clock deadlines are given in (CLOCK_MONOTONIC, ms). */
int64_t eth_now_ms(void);

/* isAppAllowed / isKmsAllowed + gatewayAppId at one block, by deadline_ms
 * (eth_now_ms clock). Thread-safe. Free out with eth_decision_free in every
 * case. */
enum eth_rc eth_authorize(struct eth *e, int is_kms, const struct abi_boot_info *bi,
			  int64_t deadline_ms, struct eth_decision *out, struct err *err);
void eth_decision_free(struct eth_decision *d);

struct eth_info {
	uint64_t chain_id;
	struct buf gateway_app_id;
	uint8_t app_implementation[20];
};
/* chain id + gatewayAppId + appImplementation (GET /). No staleness check:
 * this is chain information, not an authorization. */
enum eth_rc eth_info(struct eth *e, int64_t deadline_ms, struct eth_info *out, struct err *err);
void eth_info_free(struct eth_info *i);

/* registeredApps(app) (the seed's is_app_allowed). */
enum eth_rc eth_is_registered(struct eth *e, const uint8_t app[20], int64_t deadline_ms,
			      int *registered, struct err *err);

/* Provider states for GET /metrics (origins stay valid while e lives).
 * Returns the number of providers filled (at most max). */
int eth_provider_states(struct eth *e, struct aem_provider *out, int max);

#endif
