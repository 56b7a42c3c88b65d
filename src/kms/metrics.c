/*
 * metrics.c — counters and histogram for /metrics (metrics.h).
 * spec: kms-protocol §16 — the attestation counters count GetAppKey,
 * GetKmsKey and SignCert requests; failures are responses with status >= 400.
 */
#include "kms/metrics.h"

#include "net/http_server.h"

#include <stdio.h>
#include <string.h>

static const double BUCKETS[METRICS_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
						0.05,	0.1,   0.25,   0.5,   1.0,  5.0};

void metrics_init(struct metrics *m, const char *const *methods, int n)
{
	memset(m, 0, sizeof *m);
	if (n > METRICS_METHODS - 1)
		n = METRICS_METHODS - 1;
	for (int i = 0; i < n; i++)
		m->methods[i] = methods[i];
	m->methods[n] = "unknown";
	m->nmethods = n + 1;
}

static int slot(const struct metrics *m, const char *method)
{
	if (method)
		for (int i = 0; i < m->nmethods - 1; i++)
			if (strcmp(m->methods[i], method) == 0)
				return i;
	return m->nmethods - 1;
}

void metrics_observe(struct metrics *m, const char *method, int status, double seconds)
{
	if (method && (strcmp(method, "GetAppKey") == 0 || strcmp(method, "GetKmsKey") == 0 ||
		       strcmp(method, "SignCert") == 0)) {
		atomic_fetch_add(&m->attestation_requests, 1);
		if (status >= 400)
			atomic_fetch_add(&m->attestation_failures, 1);
	}
	int s = slot(m, method);
	if (status >= 400)
		atomic_fetch_add(&m->failed[s], 1);
	else
		atomic_fetch_add(&m->ok[s], 1);
	int b = 0;
	while (b < METRICS_BUCKETS && seconds > BUCKETS[b])
		b++;
	atomic_fetch_add(&m->bucket[s][b], 1);
	atomic_fetch_add(&m->sum_us[s], (unsigned long long)(seconds * 1e6));
}

void metrics_release(struct metrics *m, enum metrics_release d)
{
	atomic_fetch_add(&m->releases[d], 1);
}

int metrics_render_admission(const char *listener, const struct http_server_stats *st,
			     struct buf *o)
{
	int rc = 0;
	rc |= buf_printf(o,
			 "# HELP dstack_kms_connections_open Connections open now.\n"
			 "# TYPE dstack_kms_connections_open gauge\n"
			 "dstack_kms_connections_open{listener=\"%s\"} %llu\n",
			 listener, st->open);
	rc |= buf_printf(o,
			 "# HELP dstack_kms_request_bytes_buffered Bytes received for requests "
			 "not yet answered.\n"
			 "# TYPE dstack_kms_request_bytes_buffered gauge\n"
			 "dstack_kms_request_bytes_buffered{listener=\"%s\"} %llu\n",
			 listener, st->buffered);
	rc |= buf_printf(o, "# HELP dstack_kms_connections_refused_total Connections refused or "
			    "cut by the admission limits.\n"
			    "# TYPE dstack_kms_connections_refused_total counter\n");
	const struct {
		const char *reason;
		unsigned long long v;
	} rows[] = {{"max_connections", st->refused_global},
		    {"max_connections_per_client", st->refused_per_client},
		    {"header_timeout", st->header_timeouts},
		    {"read_timeout", st->read_timeouts},
		    {"max_buffered_bytes", st->buffered_cuts}};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		rc |= buf_printf(
		    o,
		    "dstack_kms_connections_refused_total{listener=\"%s\",reason=\"%s\"} "
		    "%llu\n",
		    listener, rows[i].reason, rows[i].v);
	return rc ? -1 : 0;
}

int metrics_render(struct metrics *m, struct buf *o)
{
	int rc = 0;
	rc |= buf_printf(o,
			 "# HELP dstack_kms_attestation_requests_total Total number of KMS "
			 "attestation requests.\n"
			 "# TYPE dstack_kms_attestation_requests_total counter\n"
			 "dstack_kms_attestation_requests_total %llu\n"
			 "# HELP dstack_kms_attestation_failures_total Total number of failed KMS "
			 "attestation requests.\n"
			 "# TYPE dstack_kms_attestation_failures_total counter\n"
			 "dstack_kms_attestation_failures_total %llu\n",
			 atomic_load(&m->attestation_requests),
			 atomic_load(&m->attestation_failures));
	rc |= buf_printf(o, "# HELP dstack_kms_rpc_requests_total prpc requests by method and "
			    "outcome.\n# TYPE dstack_kms_rpc_requests_total counter\n");
	for (int i = 0; i < m->nmethods; i++) {
		rc |= buf_printf(
		    o, "dstack_kms_rpc_requests_total{method=\"%s\",outcome=\"ok\"} %llu\n",
		    m->methods[i], atomic_load(&m->ok[i]));
		rc |= buf_printf(
		    o, "dstack_kms_rpc_requests_total{method=\"%s\",outcome=\"error\"} %llu\n",
		    m->methods[i], atomic_load(&m->failed[i]));
	}
	rc |= buf_printf(o, "# HELP dstack_kms_rpc_duration_seconds prpc request latency.\n"
			    "# TYPE dstack_kms_rpc_duration_seconds histogram\n");
	for (int i = 0; i < m->nmethods; i++) {
		unsigned long long cum = 0;
		for (int b = 0; b <= METRICS_BUCKETS; b++) {
			cum += atomic_load(&m->bucket[i][b]);
			if (b < METRICS_BUCKETS)
				rc |= buf_printf(
				    o,
				    "dstack_kms_rpc_duration_seconds_bucket{method=\"%s\","
				    "le=\"%g\"} %llu\n",
				    m->methods[i], BUCKETS[b], cum);
			else
				rc |= buf_printf(
				    o,
				    "dstack_kms_rpc_duration_seconds_bucket{method=\"%s\","
				    "le=\"+Inf\"} %llu\n",
				    m->methods[i], cum);
		}
		rc |= buf_printf(o, "dstack_kms_rpc_duration_seconds_sum{method=\"%s\"} %.6f\n",
				 m->methods[i], (double)atomic_load(&m->sum_us[i]) / 1e6);
		rc |= buf_printf(o, "dstack_kms_rpc_duration_seconds_count{method=\"%s\"} %llu\n",
				 m->methods[i], cum);
	}
	static const char *const names[3] = METRICS_RELEASE_NAMES;
	rc |= buf_printf(o, "# HELP dstack_kms_releases_total Key-release decisions in the "
			    "release log.\n# TYPE dstack_kms_releases_total counter\n");
	for (int d = 0; d < 3; d++)
		rc |= buf_printf(o, "dstack_kms_releases_total{decision=\"%s\"} %llu\n", names[d],
				 atomic_load(&m->releases[d]));
	return rc ? -1 : 0;
}
