/*
 * config.c — environment configuration of dstack-auth-eth; --env-file
 * (systemd EnvironmentFile syntax) and ./.env (dotenv, as upstream) are read
 * by the shared reader, util/envfile.h.
 * The env file may hold an RPC API key: its bytes are wiped after use and
 * values are never echoed in messages.
 * spec: auth-eth §1.1 (variables and defaults).
 */
#include "auth-eth/config.h"

#include "abi/authreq.h"
#include "util/buf.h"
#include "util/envfile.h"
#include "util/fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct setenv_ctx {
	const char *path;
	int overwrite;
};

static int set_one(void *ud, const char *name, const char *value, size_t lineno, struct err *err)
{
	const struct setenv_ctx *c = ud;
	if (setenv(name, value, c->overwrite) != 0)
		return err_set(err, "%s:%zu: cannot set %s", c->path, lineno, name);
	return 0;
}

int ae_env_load(const char *path, int overwrite, int must_exist, struct err *err)
{
	if (!must_exist && !fs_exists(path))
		return 0;
	struct setenv_ctx c = {path, overwrite};
	/* --env-file is systemd's syntax and strict; ./.env is dotenv and lenient */
	return envfile_read(path, !overwrite, must_exist, set_one, &c, err);
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

int ae_config_from_env(struct ae_config *c, struct err *err)
{
	c->host = env_or("HOST", "127.0.0.1");
	const char *port = getenv("PORT");
	if (authreq_parse_port(port, &c->port) < 0)
		return err_set(err, "PORT must be a port number (0-65535), got \"%.40s\"", port);
	c->rpc_url = env_or("ETH_RPC_URL", "http://localhost:8545");
	c->kms_addr = env_or("KMS_CONTRACT_ADDR", "0x0000000000000000000000000000000000000000");
	TRY(env_long("ETH_RPC_TIMEOUT_MS", 3000, 50, 600000, &c->rpc_timeout_ms, err));
	TRY(env_long("ETH_HEAD_POLL_MS", 1000, 50, 600000, &c->head_poll_ms, err));
	TRY(env_long("ETH_MAX_BLOCK_AGE", 0, 0, 100L * 365 * 86400, &c->max_block_age_s, err));
	long w;
	TRY(env_long("AUTH_ETH_WORKERS", 16, 1, 256, &w, err));
	c->workers = (int)w;
	return 0;
}
