/*
 * metrics.c — counters and the Prometheus text rendering of GET /metrics.
 * Every increment is a relaxed atomic add on a fixed array slot, so the
 * request path takes no lock and allocates nothing; a scrape reads the
 * slots one by one (counters are monotonic, a scrape needs no snapshot).
 */
#include "auth-eth/metrics.h"

#include <stddef.h>

static const char *const route_names[AEM_N_ROUTES] = {"app", "kms", "info", "seed"};
static const char *const outcome_names[AEM_N_OUTCOMES] = {"allow", "deny",    "unavailable",
							  "stale", "invalid", "error"};
static const char *const call_names[AEM_N_CALLS] = {
    "ok", "rpc_error", "rate_limited", "http_5xx", "http_other", "timeout", "connect", "transport"};

/* latency buckets, microseconds (le labels below) */
static const int64_t bucket_us[] = {250,   500,	   1000,   2500,   5000,    10000,   25000,
				    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000};
#define N_BUCKETS (sizeof bucket_us / sizeof bucket_us[0])

static uint64_t decisions[AEM_N_ROUTES][AEM_N_OUTCOMES];
static uint64_t calls[AEM_MAX_PROVIDERS][AEM_N_CALLS];
static uint64_t lat_bucket[AEM_MAX_PROVIDERS][N_BUCKETS]; /* not cumulative */
static uint64_t lat_count[AEM_MAX_PROVIDERS];
static uint64_t lat_sum_us[AEM_MAX_PROVIDERS];
static uint64_t disagreements;

static void add(uint64_t *p, uint64_t v)
{
	__atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void aem_decision(enum aem_route r, enum aem_outcome o)
{
	if ((unsigned)r < AEM_N_ROUTES && (unsigned)o < AEM_N_OUTCOMES)
		add(&decisions[r][o], 1);
}

void aem_call(int provider, enum aem_call result, int64_t latency_us)
{
	if (provider < 0 || provider >= AEM_MAX_PROVIDERS || (unsigned)result >= AEM_N_CALLS)
		return;
	add(&calls[provider][result], 1);
	if (latency_us < 0)
		latency_us = 0;
	size_t i = 0;
	while (i < N_BUCKETS && latency_us > bucket_us[i])
		i++;
	if (i < N_BUCKETS)
		add(&lat_bucket[provider][i], 1);
	add(&lat_count[provider], 1);
	add(&lat_sum_us[provider], (uint64_t)latency_us);
}

void aem_disagreement(void)
{
	add(&disagreements, 1);
}

/* label value: origins hold only URL-safe characters, but escape anyway */
static int label(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\') {
			if (buf_append_byte(b, '\\') < 0)
				return -1;
		} else if (*s == '\n') {
			if (buf_append_str(b, "\\n") < 0)
				return -1;
			continue;
		}
		if (buf_append_byte(b, (uint8_t)*s) < 0)
			return -1;
	}
	return 0;
}

static int prov(struct buf *b, int i, const struct aem_provider *p)
{
	if (buf_printf(b, "provider=\"%d\",origin=\"", i + 1) < 0 || label(b, p->origin) < 0)
		return -1;
	return buf_append_byte(b, '"');
}

int aem_render(struct buf *b, const struct aem_provider *ps, int n)
{
	if (n > AEM_MAX_PROVIDERS)
		n = AEM_MAX_PROVIDERS;
	if (buf_append_str(b, "# HELP auth_eth_decisions_total Answers by route and outcome.\n"
			      "# TYPE auth_eth_decisions_total counter\n") < 0)
		return -1;
	for (int r = 0; r < AEM_N_ROUTES; r++)
		for (int o = 0; o < AEM_N_OUTCOMES; o++)
			if (buf_printf(
				b, "auth_eth_decisions_total{route=\"%s\",outcome=\"%s\"} %llu\n",
				route_names[r], outcome_names[o],
				(unsigned long long)get(&decisions[r][o])) < 0)
				return -1;
	if (buf_append_str(b, "# HELP auth_eth_rpc_calls_total JSON-RPC exchanges by provider and "
			      "result.\n# TYPE auth_eth_rpc_calls_total counter\n") < 0)
		return -1;
	for (int i = 0; i < n; i++)
		for (int c = 0; c < AEM_N_CALLS; c++)
			if (buf_append_str(b, "auth_eth_rpc_calls_total{") < 0 ||
			    prov(b, i, &ps[i]) < 0 ||
			    buf_printf(b, ",result=\"%s\"} %llu\n", call_names[c],
				       (unsigned long long)get(&calls[i][c])) < 0)
				return -1;
	if (buf_append_str(b, "# HELP auth_eth_rpc_latency_seconds JSON-RPC exchange latency by "
			      "provider.\n# TYPE auth_eth_rpc_latency_seconds histogram\n") < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		uint64_t cum = 0;
		for (size_t k = 0; k < N_BUCKETS; k++) {
			cum += get(&lat_bucket[i][k]);
			if (buf_append_str(b, "auth_eth_rpc_latency_seconds_bucket{") < 0 ||
			    prov(b, i, &ps[i]) < 0 ||
			    buf_printf(b, ",le=\"%g\"} %llu\n", (double)bucket_us[k] / 1e6,
				       (unsigned long long)cum) < 0)
				return -1;
		}
		uint64_t count = get(&lat_count[i]);
		if (buf_append_str(b, "auth_eth_rpc_latency_seconds_bucket{") < 0 ||
		    prov(b, i, &ps[i]) < 0 ||
		    buf_printf(b, ",le=\"+Inf\"} %llu\n", (unsigned long long)count) < 0 ||
		    buf_append_str(b, "auth_eth_rpc_latency_seconds_sum{") < 0 ||
		    prov(b, i, &ps[i]) < 0 ||
		    buf_printf(b, "} %.6f\n", (double)get(&lat_sum_us[i]) / 1e6) < 0 ||
		    buf_append_str(b, "auth_eth_rpc_latency_seconds_count{") < 0 ||
		    prov(b, i, &ps[i]) < 0 ||
		    buf_printf(b, "} %llu\n", (unsigned long long)count) < 0)
			return -1;
	}
	if (buf_append_str(b, "# HELP auth_eth_provider_up 1 when the provider is usable for "
			      "decisions.\n# TYPE auth_eth_provider_up gauge\n") < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (buf_append_str(b, "auth_eth_provider_up{") < 0 || prov(b, i, &ps[i]) < 0 ||
		    buf_printf(b, "} %d\n", ps[i].usable) < 0)
			return -1;
	if (buf_append_str(b,
			   "# HELP auth_eth_provider_wrong_chain 1 when eth_chainId differs "
			   "from ETH_CHAIN_ID.\n# TYPE auth_eth_provider_wrong_chain gauge\n") < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (buf_append_str(b, "auth_eth_provider_wrong_chain{") < 0 ||
		    prov(b, i, &ps[i]) < 0 || buf_printf(b, "} %d\n", ps[i].wrong_chain) < 0)
			return -1;
	if (buf_append_str(b, "# HELP auth_eth_head_block_number Newest block seen by provider.\n"
			      "# TYPE auth_eth_head_block_number gauge\n") < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (ps[i].head_valid &&
		    (buf_append_str(b, "auth_eth_head_block_number{") < 0 ||
		     prov(b, i, &ps[i]) < 0 ||
		     buf_printf(b, "} %llu\n", (unsigned long long)ps[i].head_number) < 0))
			return -1;
	if (buf_append_str(b, "# HELP auth_eth_head_block_age_seconds Age of the newest block "
			      "(now minus its timestamp).\n# TYPE auth_eth_head_block_age_seconds "
			      "gauge\n") < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (ps[i].head_valid &&
		    (buf_append_str(b, "auth_eth_head_block_age_seconds{") < 0 ||
		     prov(b, i, &ps[i]) < 0 || buf_printf(b, "} %.0f\n", ps[i].head_age_s) < 0))
			return -1;
	return buf_printf(b,
			  "# HELP auth_eth_quorum_disagreements_total Decisions refused because "
			  "providers gave different blocks or answers.\n"
			  "# TYPE auth_eth_quorum_disagreements_total counter\n"
			  "auth_eth_quorum_disagreements_total %llu\n",
			  (unsigned long long)get(&disagreements));
}
