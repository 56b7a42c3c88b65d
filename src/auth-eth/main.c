/*
 * main.c — dstack-auth-eth: the KMS's Ethereum authorization webhook.
 * Reads its configuration from the environment like upstream (plus
 * --env-file), starts the HTTP server, then the chain head tracker, and
 * serves until SIGINT/SIGTERM (exit 0). A chain that is down, a contract
 * without code or a placeholder KMS_CONTRACT_ADDR never stop it: it keeps
 * answering "authorization backend unavailable" and retries, so systemd's
 * Restart=always does not loop and take dstack-kms down with it.
 * Never logs ETH_RPC_URL beyond scheme://host:port.
 * spec: auth-eth §1.1; seed kms-service-setup (log lines); issue 4.
 */
#include "auth-eth/config.h"
#include "auth-eth/eth.h"
#include "auth-eth/server.h"
#include "abi/authreq.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/service.h"
#include "util/log.h"
#include "version.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <malloc.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: dstack-auth-eth [--env-file FILE]\n"
	    "\n"
	    "The dstack KMS authorization webhook: answers POST /bootAuth/app and\n"
	    "/bootAuth/kms from the KMS policy contract on an Ethereum chain.\n"
	    "\n"
	    "  -e, --env-file FILE  read VAR=value lines from FILE (systemd EnvironmentFile\n"
	    "                       syntax); its values override the environment\n"
	    "  -V, --version        print the version and exit\n"
	    "  -h, --help           this text\n"
	    "\n"
	    "Environment (a .env file in the working directory is read too; the\n"
	    "environment wins over it):\n"
	    "  HOST                listen address (default 127.0.0.1)\n"
	    "  PORT                listen port (default 8000; the KMS tutorial uses 9200)\n"
	    "  ETH_RPC_URL         JSON-RPC endpoint (default http://localhost:8545), or several,\n"
	    "                      comma-separated; only scheme://host:port is ever logged\n"
	    "                      or shown, as \"#i scheme://host:port\"\n"
	    "  ETH_RPC_QUORUM      providers that must give the same answer at the same block\n"
	    "                      hash (default 1: the first usable one, failing over)\n"
	    "  ETH_CHAIN_ID        when set, a provider on another chain is never used\n"
	    "  ETH_FINALITY_CONFIRMATIONS  read this many blocks below the head (default 0)\n"
	    "  KMS_CONTRACT_ADDR   KMS policy contract, the proxy address\n"
	    "                      (default 0x0000000000000000000000000000000000000000)\n"
	    "  ETH_RPC_TIMEOUT_MS  time limit of one request, from its arrival to its answer:\n"
	    "                      waiting for a thread and failover included (default 3000;\n"
	    "                      at most 4500, inside the KMS's 5 s webhook timeout)\n"
	    "  ETH_HEAD_POLL_MS    how often the newest block is polled (default 1000)\n"
	    "  ETH_MAX_BLOCK_AGE   refuse authorizations (\"chain view is stale\") when the\n"
	    "                      newest block is older than this many seconds (default 0 = "
	    "off)\n"
	    "  AUTH_ETH_WORKERS    HTTP event-loop threads (default 16)\n"
	    "  AUTH_ETH_RPC_THREADS  threads that make the chain reads (default 64); more\n"
	    "                      requests wait for one within their deadline\n"
	    "  AUTH_ETH_MAX_CONNECTIONS  open connections at most (default 1024); more are\n"
	    "                      closed at once\n"
	    "  AUTH_ETH_MAX_CONNECTIONS_PER_CLIENT  per client address (default: the same)\n"
	    "\n"
	    "When the chain cannot be read the server keeps running, answers\n"
	    "{\"isAllowed\":false,\"reason\":\"authorization backend unavailable\",...} and\n"
	    "retries in the background. GET /metrics serves Prometheus metrics.\n"
	    "See deploy/examples/auth-eth.env.\n");
}

/* HOST may be a name (Node resolves it); the HTTP server binds IP literals. */
static int resolve_host(const char *host, char *out, size_t outlen, struct err *err)
{
	struct in6_addr a6;
	struct in_addr a4;
	if (inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1) {
		snprintf(out, outlen, "%s", host);
		return 0;
	}
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0 || !res)
		return err_set(err, "HOST \"%.64s\" does not resolve: %s", host, gai_strerror(rc));
	const void *src = res->ai_family == AF_INET
			      ? (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr
			      : (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr;
	const char *ok = inet_ntop(res->ai_family, src, out, (socklen_t)outlen);
	freeaddrinfo(res);
	return ok ? 0 : err_set(err, "HOST \"%.64s\": cannot format its address", host);
}

int main(int argc, char **argv)
{
	const char *env_file = NULL;
	static const struct option opts[] = {{"env-file", required_argument, NULL, 'e'},
					     {"version", no_argument, NULL, 'V'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "e:Vh", opts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			env_file = optarg;
			break;
		case 'V':
			printf("dstack-auth-eth v%s (git:%s)\n", KMS_VERSION, KMS_GIT_REV);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dstack-auth-eth: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	log_init("dstack-auth-eth");
	/* few malloc arenas: worker threads allocate little, and each arena
	 * would keep its own heap resident */
	mallopt(M_ARENA_MAX, 2);
	signal(SIGPIPE, SIG_IGN);
	struct err err;
	err_clear(&err);
	struct ae_config cfg;
	memset(&cfg, 0, sizeof cfg);
	struct eth *eth = NULL;
	struct http_server *srv = NULL;
	struct ae_server ctx;
	int ctx_ready = 0;
	int rc = 1;

	if (env_file && ae_env_load(env_file, 1, 1, &err) < 0)
		goto fail;
	if (ae_env_load(".env", 0, 0, &err) < 0)
		goto fail;
	if (ae_config_from_env(&cfg, &err) < 0)
		goto fail;
	cfg.env_file = env_file ? env_file : AE_DEFAULT_ENV_FILE;
	char addr[INET6_ADDRSTRLEN];
	if (resolve_host(cfg.host, addr, sizeof addr, &err) < 0)
		goto fail;
	char origins[AE_MAX_PROVIDERS * 300] = "";
	for (int i = 0; i < cfg.n_rpc; i++) {
		char origin[256];
		log_url_origin(cfg.rpc_urls[i], origin, sizeof origin);
		size_t u = strlen(origins);
		snprintf(origins + u, sizeof origins - u, "%s#%d %s", i ? ", " : "", i + 1, origin);
	}
	char chain[32] = "any";
	if (cfg.has_chain_id)
		snprintf(chain, sizeof chain, "%llu", (unsigned long long)cfg.chain_id);
	log_info("dstack-auth-eth v%s (git:%s) starting: rpc=[%s] quorum=%d chain_id=%s "
		 "finality=%ld timeout=%ldms head_poll=%ldms max_block_age=%lds",
		 KMS_VERSION, KMS_GIT_REV, origins, cfg.quorum, chain, cfg.finality,
		 cfg.rpc_timeout_ms, cfg.head_poll_ms, cfg.max_block_age_s);
	if (cfg.deadline_ms < cfg.rpc_timeout_ms)
		log_warn(
		    "ETH_RPC_TIMEOUT_MS=%ld is above %d ms: using %ld ms, so that every answer "
		    "reaches the KMS within its %d ms webhook timeout",
		    cfg.rpc_timeout_ms, AE_DEADLINE_MAX_MS, cfg.deadline_ms,
		    AE_KMS_WEBHOOK_TIMEOUT_MS);
	if (http_client_global_init(&err) < 0)
		goto fail;

	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* threads inherit the mask */

	struct eth_config ec = {
	    .rpc_urls = (const char *const *)cfg.rpc_urls,
	    .n_rpc = cfg.n_rpc,
	    .has_chain_id = cfg.has_chain_id,
	    .chain_id = cfg.chain_id,
	    .finality = cfg.finality,
	    .quorum = cfg.quorum,
	    .kms_addr = cfg.kms_addr,
	    .env_file = cfg.env_file,
	    .timeout_ms = cfg.deadline_ms,
	    .poll_ms = cfg.head_poll_ms,
	    .max_block_age_s = cfg.max_block_age_s,
	};
	eth = eth_new(&ec, &err);
	if (!eth)
		goto fail;
	/* GET /'s ethRpcUrl keeps upstream's shape: the first provider's origin */
	/* at most one request per connection waits for a thread */
	if (ae_server_init(&ctx, eth, cfg.kms_addr, cfg.rpc_urls[0], cfg.deadline_ms,
			   (size_t)cfg.rpc_threads, (size_t)cfg.max_conns, &err) < 0)
		goto fail;
	ctx_ready = 1;
	struct http_server_opts so = {
	    .address = addr,
	    .port = cfg.port,
	    .workers = cfg.workers,
	    .timeout_s = 75, /* Fastify keeps idle connections 72 s */
	    .max_headers = 64 * 1024,
	    /* hard cap (413 before the body is read); up to it the 1 MiB limit
	     * answers upstream's 500 from our handler */
	    .max_body = 4 * AUTHREQ_BODY_LIMIT,
	    .limits = {.max_connections = cfg.max_conns,
		       .max_connections_per_client = cfg.max_conns_per_client},
	    .handler = ae_server_handle,
	    .ud = &ctx,
	    .server_name = "auth-eth",
	};
	srv = http_server_start(&so, &err);
	if (!srv)
		goto fail;
	log_info("Server listening on %s:%d", cfg.host, http_server_port(srv));
	char status[128];
	snprintf(status, sizeof status, "Serving on %s:%d", cfg.host, http_server_port(srv));
	service_ready(status);
	if (eth_start(eth, &err) < 0)
		goto fail;

	int sig = 0;
	sigwait(&sigs, &sig);
	log_info("received signal %d, shutting down", sig);
	service_stopping();
	rc = 0;
	goto done;
fail:
	log_err("Error starting server: %s", err.msg);
done:
	http_server_stop(srv);
	/* the chain reads still running end by their deadlines; then the chain */
	if (ctx_ready)
		ae_server_destroy(&ctx);
	eth_free(eth);
	ae_config_free(&cfg);
	return rc;
}
