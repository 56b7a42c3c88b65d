/*
 * server.h — the HTTP routes of dstack-auth-eth on the project's HTTP
 * server: GET / (chain info), POST /bootAuth/app, POST /bootAuth/kms with
 * upstream's validation, status codes and bodies, and the seed tutorial's
 * POST / (ping, is_app_allowed). Never logs request bodies or RPC URLs.
 *
 * Handlers never block their event loop: parsing, validation and the
 * answers that need no chain (400, 404, 500) are given at once; a chain read
 * is handed to a bounded pool of threads (AUTH_ETH_RPC_THREADS, with at most
 * AUTH_ETH_MAX_CONNECTIONS queued) under ONE deadline counted from the
 * moment the request was read, queue wait included. When it passes, the
 * loop answers on its own with the answer of an RPC failure (POST: 200
 * "authorization backend unavailable"; GET /: 500), and a job that gets its
 * thread too late does not call the chain.
 * spec: auth-eth §1.2-§1.5, §5.3; seed kms-service-setup (POST / checks).
 */
#ifndef AUTH_ETH_SERVER_H
#define AUTH_ETH_SERVER_H

#include "auth-eth/eth.h"
#include "net/http_server.h"
#include "util/err.h"
#include "util/workpool.h"

#include <pthread.h>
#include <stdint.h>

struct ae_server {
	struct eth *eth;
	const char *kms_addr;	/* KMS_CONTRACT_ADDR exactly as configured (GET /) */
	char rpc_endpoint[256]; /* `${protocol}//${host}` of ETH_RPC_URL, or "configured" */
	pthread_mutex_t log_mu; /* rate limit of failure log lines */
	int64_t log_window_ms;
	unsigned log_suppressed;
	struct workpool *pool; /* the threads that make the chain reads */
	long deadline_ms;      /* one request, from its arrival to its answer */
};

/* Grace after a request's deadline before the loop answers for a job that
 * has not answered (it normally answers at the deadline itself). */
#define AE_DEADLINE_GRACE_MS 50

/* deadline_ms: the whole answer of a request that reads the chain; threads,
 * queue: the pool of chain reads. Returns 0, or -1 (err) with s unusable. */
int ae_server_init(struct ae_server *s, struct eth *eth, const char *kms_addr, const char *rpc_url,
		   long deadline_ms, size_t threads, size_t queue, struct err *err);
/* Waits for the running chain reads (each bounded by its deadline); call it
 * after http_server_stop and before eth_free. */
void ae_server_destroy(struct ae_server *s);
/* The http_handler_fn (ud = struct ae_server *). */
void ae_server_handle(void *ud, const struct http_req *req, struct http_resp *resp);

#endif
