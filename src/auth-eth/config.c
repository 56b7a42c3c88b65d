/*
 * config.c — environment configuration of dstack-auth-eth: the variables,
 * their defaults and bounds, the provider list of ETH_RPC_URL, and loading
 * --env-file (systemd EnvironmentFile syntax, strict) and ./.env (dotenv,
 * as upstream: malformed lines skipped) through util/envfile.h. The env file
 * may hold an RPC API key: values are never echoed in messages.
 * spec: auth-eth §1.1 (variables and defaults), §1.7 (ETH_CHAIN_ID,
 * ETH_FINALITY_CONFIRMATIONS).
 */
#include "auth-eth/config.h"

#include "abi/authreq.h"
#include "util/envfile.h"
#include "util/fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ENV_FILE_MAX (1u << 20)

static int set_var(void *ud, const char *key, const char *value, size_t lineno, struct err *err)
{
	(void)lineno;
	int overwrite = *(const int *)ud;
	if (setenv(key, value, overwrite) != 0)
		return err_set(err, "cannot set %s", key);
	return 0;
}

int ae_env_load(const char *path, int overwrite, int must_exist, struct err *err)
{
	if (!must_exist && !fs_exists(path))
		return 0;
	struct envfile_opts o = {.dotenv = !overwrite, .strict = must_exist};
	return envfile_load(path, ENV_FILE_MAX, &o, set_var, &overwrite, err);
}

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def; /* JS `process.env.X || default` */
}

static int env_long(const char *name, long def, long min, long max, long *out, struct err *err)
{
	const char *v = getenv(name);
	if (!v || !*v) {
		*out = def;
		return 0;
	}
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno || end == v || *end || x < min || x > max)
		return err_set(err, "%s must be an integer from %ld to %ld, got \"%.40s\"", name,
			       min, max, v);
	*out = x;
	return 0;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int ae_split_rpc_urls(const char *list, char **out, int max, int *n, struct err *err)
{
	*n = 0;
	const char *p = list;
	for (;;) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		const char *a = p, *b = end;
		while (a < b && is_space(*a))
			a++;
		while (b > a && is_space(b[-1]))
			b--;
		if (a == b)
			return err_set(err,
				       "ETH_RPC_URL: provider #%d is empty (the list is "
				       "comma-separated URLs)",
				       *n + 1);
		if (*n >= max)
			return err_set(err, "ETH_RPC_URL lists more than %d providers", max);
		out[*n] = strndup(a, (size_t)(b - a));
		if (!out[*n])
			return err_set(err, "out of memory");
		(*n)++;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

int ae_config_from_env(struct ae_config *c, struct err *err)
{
	memset(c, 0, sizeof *c);
	c->host = env_or("HOST", "127.0.0.1");
	const char *port = getenv("PORT");
	if (authreq_parse_port(port, &c->port) < 0)
		return err_set(err, "PORT must be a port number (0-65535), got \"%.40s\"", port);
	c->rpc_url = env_or("ETH_RPC_URL", "http://localhost:8545");
	TRY(ae_split_rpc_urls(c->rpc_url, c->rpc_urls, AE_MAX_PROVIDERS, &c->n_rpc, err));
	c->kms_addr = env_or("KMS_CONTRACT_ADDR", "0x0000000000000000000000000000000000000000");
	TRY(env_long("ETH_RPC_TIMEOUT_MS", 3000, 50, 600000, &c->rpc_timeout_ms, err));
	c->deadline_ms =
	    c->rpc_timeout_ms < AE_DEADLINE_MAX_MS ? c->rpc_timeout_ms : AE_DEADLINE_MAX_MS;
	TRY(env_long("ETH_HEAD_POLL_MS", 1000, 50, 600000, &c->head_poll_ms, err));
	TRY(env_long("ETH_MAX_BLOCK_AGE", 0, 0, 100L * 365 * 86400, &c->max_block_age_s, err));
	TRY(env_long("ETH_FINALITY_CONFIRMATIONS", 0, 0, 1000000, &c->finality, err));
	const char *cid = getenv("ETH_CHAIN_ID");
	if (cid && *cid) {
		char *end;
		errno = 0;
		unsigned long long x = strtoull(cid, &end, 10);
		if (errno || end == cid || *end || cid[0] == '-' || x == 0)
			return err_set(err,
				       "ETH_CHAIN_ID must be a positive decimal chain id, got "
				       "\"%.40s\"",
				       cid);
		c->has_chain_id = 1;
		c->chain_id = (uint64_t)x;
	}
	long q;
	TRY(env_long("ETH_RPC_QUORUM", 1, 1, AE_MAX_PROVIDERS, &q, err));
	if (q > c->n_rpc)
		return err_set(err,
			       "ETH_RPC_QUORUM=%ld needs at least %ld providers, but ETH_RPC_URL "
			       "lists %d: list more comma-separated URLs or lower ETH_RPC_QUORUM",
			       q, q, c->n_rpc);
	c->quorum = (int)q;
	long w;
	TRY(env_long("AUTH_ETH_WORKERS", 16, 1, 256, &w, err));
	c->workers = (int)w;
	TRY(env_long("AUTH_ETH_RPC_THREADS", 64, 1, 1024, &w, err));
	c->rpc_threads = (int)w;
	TRY(env_long("AUTH_ETH_MAX_CONNECTIONS", 1024, 1, 1000000, &w, err));
	c->max_conns = (int)w;
	TRY(env_long("AUTH_ETH_MAX_CONNECTIONS_PER_CLIENT", c->max_conns, 1, 1000000, &w, err));
	c->max_conns_per_client = (int)w;
	return 0;
}

void ae_config_free(struct ae_config *c)
{
	for (int i = 0; i < c->n_rpc; i++) {
		/* a URL may carry an API key */
		memset(c->rpc_urls[i], 0, strlen(c->rpc_urls[i]));
		free(c->rpc_urls[i]);
		c->rpc_urls[i] = NULL;
	}
	c->n_rpc = 0;
}
