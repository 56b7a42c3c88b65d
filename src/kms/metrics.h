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
	/* release-log decisions: allowed, denied, error */
	atomic_ullong releases[3];
};

enum metrics_release { METRICS_RELEASE_ALLOWED, METRICS_RELEASE_DENIED, METRICS_RELEASE_ERROR };
#define METRICS_RELEASE_NAMES                                                                      \
	{                                                                                          \
		"allowed", "denied", "error"                                                       \
	}

void metrics_init(struct metrics *m, const char *const *methods, int n);
/* Record one prpc request (method NULL = unknown method). */
void metrics_observe(struct metrics *m, const char *method, int status, double seconds);
/* Record one release decision (each key-release request ends in one). */
void metrics_release(struct metrics *m, enum metrics_release d);
int metrics_render(struct metrics *m, struct buf *out);

/* The connection-admission counters of one listener (http_server_stats). */
struct http_server_stats;
int metrics_render_admission(const char *listener, const struct http_server_stats *st,
			     struct buf *out);

#endif
