/*
 * server.h — the HTTP routes of dstack-auth-eth on the project's HTTP
 * server: GET / (chain info), POST /bootAuth/app, POST /bootAuth/kms with
 * upstream's validation, status codes and bodies, and the seed tutorial's
 * POST / (ping, is_app_allowed). Never logs request bodies or RPC URLs.
 * spec: auth-eth §1.2-§1.5, §5.3; seed kms-service-setup (POST / checks).
 */
#ifndef AUTH_ETH_SERVER_H
#define AUTH_ETH_SERVER_H

#include "auth-eth/eth.h"
#include "net/http_server.h"

#include <pthread.h>
#include <stdint.h>

struct ae_server {
	struct eth *eth;
	const char *kms_addr;	/* KMS_CONTRACT_ADDR exactly as configured (GET /) */
	char rpc_endpoint[256]; /* `${protocol}//${host}` of ETH_RPC_URL, or "configured" */
	pthread_mutex_t log_mu; /* rate limit of failure log lines */
	int64_t log_window_ms;
	unsigned log_suppressed;
};

void ae_server_init(struct ae_server *s, struct eth *eth, const char *kms_addr,
		    const char *rpc_url);
void ae_server_destroy(struct ae_server *s);
/* The http_handler_fn (ud = struct ae_server *). */
void ae_server_handle(void *ud, const struct http_req *req, struct http_resp *resp);

#endif
