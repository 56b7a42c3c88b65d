/*
 * metrics.h — Prometheus text exposition for GET /metrics (kms-protocol §16).
 * Upstream's two attestation counters byte-exact, then our own families:
 * requests by method and outcome, and a latency histogram. Lock-free counters.
 */
#ifndef KMS_METRICS_H
#define KMS_METRICS_H

#include "util/buf.h"

#include <stdatomic.h>
#include <stdint.h>

#define METRICS_METHODS 12
#define METRICS_BUCKETS 12

struct metrics {
	atomic_ullong attestation_requests;
	atomic_ullong attestation_failures;
	const char *methods[METRICS_METHODS]; /* fixed at init; last slot = "unknown" */
	int nmethods;
	atomic_ullong ok[METRICS_METHODS];
	atomic_ullong failed[METRICS_METHODS];
	atomic_ullong bucket[METRICS_METHODS][METRICS_BUCKETS + 1]; /* last = +Inf */
	atomic_ullong sum_us[METRICS_METHODS];
};

void metrics_init(struct metrics *m, const char *const *methods, int n);
/* Record one prpc request (method NULL = unknown method). */
void metrics_observe(struct metrics *m, const char *method, int status, double seconds);
int metrics_render(struct metrics *m, struct buf *out);

#endif
