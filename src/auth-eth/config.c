/*
 * config.c — environment configuration of dstack-auth-eth and the env-file
 * reader behind --env-file (systemd EnvironmentFile syntax: VAR=value lines,
 * # and ; comments, optional quotes) and ./.env (dotenv, as upstream).
 * The env file may hold an RPC API key: its bytes are wiped after use and
 * values are never echoed in messages.
 * spec: auth-eth §1.1 (variables and defaults).
 */
#include "auth-eth/config.h"

#include "abi/authreq.h"
#include "util/buf.h"
#include "util/fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ENV_FILE_MAX (1u << 20)

static int key_char(char c, int first)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_')
		return 1;
	return !first && c >= '0' && c <= '9';
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Parses one line in place; *key = NULL for blank and comment lines. */
static int parse_line(char *line, int dotenv, char **key, char **val)
{
	*key = NULL;
	char *p = line;
	while (is_blank(*p))
		p++;
	if (!*p || *p == '#' || *p == ';')
		return 0;
	if (strncmp(p, "export ", 7) == 0)
		for (p += 7; is_blank(*p); p++)
			;
	char *k = p;
	if (!key_char(*p, 1))
		return -1;
	while (key_char(*p, 0))
		p++;
	char *kend = p;
	while (is_blank(*p))
		p++;
	if (*p != '=')
		return -1;
	*kend = '\0';
	p++;
	while (is_blank(*p))
		p++;
	char *v = p;
	size_t n = strlen(v);
	if (n >= 2 && (v[0] == '"' || v[0] == '\'')) {
		char q = v[0];
		char *close = strrchr(v + 1, q);
		if (close) {
			char *after = close + 1;
			while (is_blank(*after))
				after++;
			if (!*after || (dotenv && *after == '#')) {
				*close = '\0';
				v++;
				if (q == '"') { /* \" \\ \n escapes */
					char *w = v;
					for (char *r = v; *r; r++) {
						if (*r == '\\' && r[1]) {
							r++;
							*w++ = *r == 'n' ? '\n' : *r;
						} else {
							*w++ = *r;
						}
					}
					*w = '\0';
				}
				*key = k;
				*val = v;
				return 0;
			}
		}
	}
	if (dotenv) {
		char *hash = strchr(v, '#');
		if (hash)
			*hash = '\0';
	}
	n = strlen(v);
	while (n && is_blank(v[n - 1]))
		v[--n] = '\0';
	*key = k;
	*val = v;
	return 0;
}

int ae_env_load(const char *path, int overwrite, int must_exist, struct err *err)
{
	if (!must_exist && !fs_exists(path))
		return 0;
	struct buf b;
	buf_init_secret(&b);
	if (fs_read_file(path, ENV_FILE_MAX, &b, err) < 0) {
		buf_free(&b);
		return -1; /* the message names the file */
	}
	if (b.len && memchr(b.p, '\0', b.len)) {
		buf_free(&b);
		return err_set(err, "env file %s: contains a NUL byte", path);
	}
	char *s = (char *)b.p;
	int rc = 0;
	size_t lineno = 0;
	for (char *line = s; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		lineno++;
		char *k, *v;
		if (parse_line(line, !overwrite, &k, &v) < 0) {
			if (must_exist) {
				rc = err_set(err, "%s:%zu: not a VAR=value line", path, lineno);
				break;
			}
		} else if (k && setenv(k, v, overwrite) != 0) {
			rc = err_set(err, "%s:%zu: cannot set %s", path, lineno, k);
			break;
		}
		line = nl ? nl + 1 : NULL;
	}
	buf_free(&b);
	return rc;
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
