/*
 * metrics.h — dstack-auth-eth's counters for GET /metrics (Prometheus text
 * exposition format 0.0.4): decisions by route and outcome, JSON-RPC calls
 * by provider and result, a per-provider latency histogram, head block age
 * and number, provider state, and quorum disagreements. Counters are
 * process-wide relaxed atomics (no lock on the request path). Providers are
 * labelled by index and origin (scheme://host:port), never by full URL.
 */
#ifndef AUTH_ETH_METRICS_H
#define AUTH_ETH_METRICS_H

#include "util/buf.h"

#include <stdint.h>

enum aem_route { AEM_ROUTE_APP, AEM_ROUTE_KMS, AEM_ROUTE_INFO, AEM_ROUTE_SEED, AEM_N_ROUTES };

enum aem_outcome {
	AEM_ALLOW,	 /* allowed (info: served; seed: registered) */
	AEM_DENY,	 /* the contract said no (seed: not registered) */
	AEM_UNAVAILABLE, /* "authorization backend unavailable" (info: 500) */
	AEM_STALE,	 /* "chain view is stale" */
	AEM_INVALID,	 /* 400 */
	AEM_ERROR,	 /* 500 before the chain was asked (body parsing) */
	AEM_N_OUTCOMES,
};

enum aem_call {
	AEM_CALL_OK,
	AEM_CALL_RPC_ERROR,    /* JSON-RPC error (revert included) or undecodable answer */
	AEM_CALL_RATE_LIMITED, /* HTTP 429 */
	AEM_CALL_HTTP_5XX,
	AEM_CALL_HTTP_OTHER, /* another non-200 status */
	AEM_CALL_TIMEOUT,
	AEM_CALL_CONNECT,   /* DNS, refused, unreachable */
	AEM_CALL_TRANSPORT, /* TLS, reset, oversized answer, ... */
	AEM_N_CALLS,
};

#define AEM_MAX_PROVIDERS 8

void aem_decision(enum aem_route r, enum aem_outcome o);
/* provider: 0-based index; latency of the HTTP exchange in microseconds. */
void aem_call(int provider, enum aem_call result, int64_t latency_us);
void aem_disagreement(void);

/* State of one provider at the time of a scrape (filled by the caller). */
struct aem_provider {
	const char *origin;
	int usable;	 /* connected, right chain, contract found, not backing off */
	int wrong_chain; /* eth_chainId differs from ETH_CHAIN_ID */
	int head_valid;
	uint64_t head_number;
	double head_age_s; /* now - head block timestamp */
};

/* Appends the whole exposition (providers[0..n)). Returns 0 or -1 (OOM). */
int aem_render(struct buf *b, const struct aem_provider *providers, int n);

#endif
