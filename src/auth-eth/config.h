/*
 * config.h — dstack-auth-eth's configuration: environment variables exactly
 * as upstream reads them (HOST, PORT, ETH_RPC_URL, KMS_CONTRACT_ADDR, with
 * upstream's defaults) plus ETH_RPC_TIMEOUT_MS, ETH_HEAD_POLL_MS,
 * ETH_MAX_BLOCK_AGE, the Bun port's ETH_CHAIN_ID and
 * ETH_FINALITY_CONFIRMATIONS, AUTH_ETH_WORKERS, AUTH_ETH_RPC_THREADS,
 * AUTH_ETH_MAX_CONNECTIONS and
 * AUTH_ETH_MAX_CONNECTIONS_PER_CLIENT, and ETH_RPC_QUORUM over a comma-separated
 * ETH_RPC_URL; an env file given with --env-file (systemd EnvironmentFile
 * syntax) and ./.env (dotenv: the environment wins), both read with
 * util/envfile.h. Never logs ETH_RPC_URL beyond its origins.
 * spec: auth-eth §1.1, §1.7.
 */
#ifndef AUTH_ETH_CONFIG_H
#define AUTH_ETH_CONFIG_H

#include "util/err.h"

#include <stdint.h>

#define AE_DEFAULT_ENV_FILE "/etc/kms/auth-eth.env"
#define AE_MAX_PROVIDERS 8
/* The KMS gives the webhook 5 s by default ([core.auth_api.webhook]
 * timeout). A request's whole answer (queue wait, every RPC exchange,
 * failover) must come before that, with room for the KMS's connection and
 * the transfer: ETH_RPC_TIMEOUT_MS is used up to AE_DEADLINE_MAX_MS. */
#define AE_KMS_WEBHOOK_TIMEOUT_MS 5000
#define AE_DEADLINE_MAX_MS 4500

struct ae_config {
	const char *host;    /* HOST || "127.0.0.1" */
	int port;	     /* PORT ? parseInt(PORT) : 8000 */
	const char *rpc_url; /* ETH_RPC_URL || "http://localhost:8545", as configured */
	char *rpc_urls[AE_MAX_PROVIDERS]; /* its comma-separated entries (owned) */
	int n_rpc;
	const char *kms_addr; /* KMS_CONTRACT_ADDR || "0x000…000", as configured */
	long rpc_timeout_ms;  /* ETH_RPC_TIMEOUT_MS, default 3000: one whole decision */
	long deadline_ms;     /* rpc_timeout_ms, at most AE_DEADLINE_MAX_MS */
	long head_poll_ms;    /* ETH_HEAD_POLL_MS, default 1000 */
	long max_block_age_s; /* ETH_MAX_BLOCK_AGE, default 0 (off) */
	int has_chain_id;     /* ETH_CHAIN_ID set */
	uint64_t chain_id;
	long finality;	 /* ETH_FINALITY_CONFIRMATIONS, default 0 */
	int quorum;	 /* ETH_RPC_QUORUM, default 1, at most n_rpc */
	int workers;	 /* AUTH_ETH_WORKERS, default 16 */
	int rpc_threads; /* AUTH_ETH_RPC_THREADS, default 64: threads making chain reads */
	int max_conns;	 /* AUTH_ETH_MAX_CONNECTIONS, default 1024 */
	/* AUTH_ETH_MAX_CONNECTIONS_PER_CLIENT, default = max_conns: the one
	 * client is the KMS on loopback, with up to max_blocking connections */
	int max_conns_per_client;
	const char *env_file; /* where KMS_CONTRACT_ADDR & co. are meant to be set (messages) */
};

/*
 * Loads an env file into the process environment. overwrite = 1 for
 * --env-file (the file is what the operator asked for), 0 for ./.env
 * (dotenv: variables already set win). A missing file is an error only
 * when must_exist. Malformed lines are errors naming file:line.
 */
int ae_env_load(const char *path, int overwrite, int must_exist, struct err *err);

/* Reads the variables from the environment (strings point into it, except
 * rpc_urls). Free with ae_config_free, also after a failure. */
int ae_config_from_env(struct ae_config *c, struct err *err);
void ae_config_free(struct ae_config *c);

/* Splits a comma-separated ETH_RPC_URL (blanks around entries ignored; an
 * empty entry or more than max entries is an error whose message shows no
 * URL). */
int ae_split_rpc_urls(const char *list, char **out, int max, int *n, struct err *err);

#endif
