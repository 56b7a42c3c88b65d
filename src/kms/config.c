/*
 * config.c — kms.toml reader (kms-protocol §14) on the in-house TOML parser.
 *
 * A table of known keys maps each dotted path to a field of struct kms_config
 * with its type. Walking the parsed file, every key is either known (typed
 * and stored), obsolete (stored where it still means something, plus a
 * warning naming its replacement), or unknown (a warning naming it; an error
 * under [core.attestation], as upstream). Type errors fail with
 * "file:line: <key> must be <type>".
 */
#include "kms/config.h"

#include "collateral/collateral_source.h"

#include "util/buf.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/toml.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_CONFIG_BYTES (1u << 20)

enum key_type {
	K_STR,
	K_INT,
	K_PORT,
	K_BOOL,
	K_BYTES,
	K_DURATION,
	K_TIMEOUT_MS,
	K_AUTH_TYPE,
	K_IGNORED
};

struct key_def {
	const char *path;
	enum key_type type;
	size_t off;
	size_t size;
};

#define F(field) offsetof(struct kms_config, field), sizeof(((struct kms_config *)0)->field)
#define NOF 0, 0

static const struct key_def KEYS[] = {
    {"default.workers", K_INT, F(workers)},
    {"default.max_blocking", K_INT, F(max_blocking)},
    {"default.ident", K_STR, F(ident)},
    {"default.temp_dir", K_STR, F(temp_dir)},
    {"default.keep_alive", K_INT, F(keep_alive)},
    {"default.log_level", K_STR, F(log_level)},
    {"rpc.address", K_STR, F(rpc_address)},
    {"rpc.port", K_PORT, F(rpc_port)},
    {"rpc.tls.key", K_STR, F(rpc_tls_key)},
    {"rpc.tls.certs", K_STR, F(rpc_tls_certs)},
    {"rpc.tls.mutual.ca_certs", K_STR, F(rpc_mutual_ca_certs)},
    {"rpc.tls.mutual.mandatory", K_BOOL, F(rpc_mutual_mandatory)},
    {"rpc.max_connections", K_INT, F(max_connections)},
    {"rpc.max_connections_per_client", K_INT, F(max_connections_per_client)},
    {"rpc.header_timeout", K_TIMEOUT_MS, F(header_timeout_ms)},
    {"rpc.read_timeout", K_TIMEOUT_MS, F(read_timeout_ms)},
    {"rpc.max_buffered_bytes", K_BYTES, F(max_buffered_bytes)},
    {"core.cert_dir", K_STR, F(cert_dir)},
    {"core.subject_postfix", K_STR, F(subject_postfix)},
    {"core.site_name", K_STR, F(site_name)},
    {"core.enforce_self_authorization", K_BOOL, F(enforce_self_authorization)},
    {"core.attest_rpc_cert", K_BOOL, F(attest_rpc_cert)},
    {"core.sev_snp_key_release", K_BOOL, F(sev_snp_key_release)},
    {"core.aws_nitro_tpm_key_release", K_BOOL, F(aws_nitro_tpm_key_release)},
    {"core.request_deadline", K_TIMEOUT_MS, F(request_deadline_ms)},
    {"core.control_socket", K_STR, F(control_socket)},
    {"core.guest_agent_timeout", K_TIMEOUT_MS, F(guest_agent_timeout_ms)},
    {"core.audit.file", K_STR, F(audit_file)},
    {"core.pccs_url", K_STR, F(pccs_url)},
    {"core.attestation.insecure_allow_external_trust_anchors", K_BOOL,
     F(insecure_allow_external_trust_anchors)},
    {"core.attestation.collateral_cache_dir", K_STR, F(collateral_cache_dir)},
    {"core.attestation.urls.pccs", K_STR, F(pccs_url)},
    {"core.attestation.urls.amd_kds", K_STR, F(amd_kds_url)},
    {"core.attestation.root_ca.tdx", K_STR, F(root_ca_tdx)},
    {"core.attestation.root_ca.gcp_tpm", K_STR, F(root_ca_gcp_tpm)},
    {"core.attestation.root_ca.aws_nitro_enclave", K_STR, F(root_ca_aws_nitro_enclave)},
    {"core.attestation.root_ca.aws_nitro_tpm", K_STR, F(root_ca_aws_nitro_tpm)},
    {"core.attestation.root_ca.sev_snp_milan", K_STR, F(root_ca_sev_snp_milan)},
    {"core.attestation.root_ca.sev_snp_genoa", K_STR, F(root_ca_sev_snp_genoa)},
    {"core.attestation.root_ca.sev_snp_turin", K_STR, F(root_ca_sev_snp_turin)},
    {"core.image.verify", K_BOOL, F(image_verify)},
    {"core.image.cache_dir", K_STR, F(image_cache_dir)},
    {"core.image.download_url", K_STR, F(image_download_url)},
    {"core.image.download_timeout", K_DURATION, F(image_download_timeout_s)},
    {"core.admin.enabled", K_BOOL, F(admin_enabled)},
    {"core.admin.address", K_STR, F(admin_address)},
    {"core.admin.port", K_PORT, F(admin_port)},
    {"core.admin.auth_token", K_STR, F(admin_auth_token)},
    {"core.admin.htpasswd_file", K_STR, F(admin_htpasswd_file)},
    {"core.admin.insecure_no_auth", K_BOOL, F(admin_insecure_no_auth)},
    {"core.metrics.enabled", K_BOOL, F(metrics_enabled)},
    {"core.auth_api.type", K_AUTH_TYPE, F(auth_type)},
    {"core.auth_api.webhook.url", K_STR, F(webhook_url)},
    {"core.auth_api.webhook.timeout", K_TIMEOUT_MS, F(webhook_timeout_ms)},
    {"core.auth_api.webhook.insecure_plaintext", K_BOOL, F(webhook_insecure_plaintext)},
    {"core.auth_api.dev.gateway_app_id", K_STR, F(dev_gateway_app_id)},
    {"core.auth_api.static.file", K_STR, F(static_file)},
    {"core.onboard.enabled", K_BOOL, F(onboard_enabled)},
    {"core.onboard.auto_bootstrap_domain", K_STR, F(auto_bootstrap_domain)},
    {"core.onboard.address", K_STR, F(onboard_address)},
    {"core.onboard.port", K_PORT, F(onboard_port)},
    {"core.onboard.quote_enabled", K_IGNORED, NOF},
};

/* Tables whose keys we walk; anything else at these levels is unknown. */
static const char *const TABLES[] = {
    "default",
    "rpc",
    "rpc.tls",
    "rpc.tls.mutual",
    "rpc.limits",
    "core",
    "core.attestation",
    "core.attestation.urls",
    "core.attestation.root_ca",
    "core.image",
    "core.audit",
    "core.admin",
    "core.metrics",
    "core.auth_api",
    "core.auth_api.webhook",
    "core.auth_api.dev",
    "core.auth_api.static",
    "core.onboard",
};

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

void config_defaults(struct kms_config *c)
{
	memset(c, 0, sizeof *c);
	c->workers = 8;
	c->max_blocking = 64;
	copy_str(c->ident, sizeof c->ident, "DStack KMS");
	copy_str(c->temp_dir, sizeof c->temp_dir, "/tmp");
	c->keep_alive = 10;
	copy_str(c->log_level, sizeof c->log_level, "info");
	copy_str(c->rpc_address, sizeof c->rpc_address, "0.0.0.0");
	c->rpc_port = 8000;
	copy_str(c->rpc_tls_key, sizeof c->rpc_tls_key, "/etc/kms/certs/rpc.key");
	copy_str(c->rpc_tls_certs, sizeof c->rpc_tls_certs, "/etc/kms/certs/rpc.crt");
	copy_str(c->rpc_mutual_ca_certs, sizeof c->rpc_mutual_ca_certs,
		 "/etc/kms/certs/tmp-ca.crt");
	c->rpc_mutual_mandatory = 0;
	c->max_connections = 4096;
	c->max_connections_per_client = 64;
	c->max_buffered_bytes = 256u << 20;
	c->header_timeout_ms = 10000;
	c->read_timeout_ms = 30000;
	copy_str(c->cert_dir, sizeof c->cert_dir, "/etc/kms/certs");
	copy_str(c->subject_postfix, sizeof c->subject_postfix, ".dstack");
	c->enforce_self_authorization = 1;
	c->attest_rpc_cert = 1;
	copy_str(c->collateral_cache_dir, sizeof c->collateral_cache_dir,
		 "/var/cache/dstack-kms/collateral");
	c->image_verify = 1;
	copy_str(c->image_cache_dir, sizeof c->image_cache_dir, "/usr/share/dstack/images");
	copy_str(c->image_download_url, sizeof c->image_download_url,
		 "http://localhost:8000/{OS_IMAGE_HASH}.tar.gz");
	c->image_download_timeout_s = 120;
	copy_str(c->admin_address, sizeof c->admin_address, "127.0.0.1");
	c->admin_port = 8001;
	c->metrics_enabled = 1;
	c->auth_type = AUTH_KIND_WEBHOOK;
	copy_str(c->webhook_url, sizeof c->webhook_url, "http://auth-api:8000");
	c->webhook_timeout_ms = 5000;
	c->request_deadline_ms = 30000;
	copy_str(c->audit_file, sizeof c->audit_file, "/var/log/kms/release.log");
	copy_str(c->control_socket, sizeof c->control_socket, CONFIG_DEFAULT_CONTROL_SOCKET);
	c->guest_agent_timeout_ms = 30000;
	copy_str(c->dev_gateway_app_id, sizeof c->dev_gateway_app_id, "any");
	c->onboard_enabled = 1;
	copy_str(c->onboard_address, sizeof c->onboard_address, "0.0.0.0");
	c->onboard_port = 8000;
}

int config_parse_duration(const char *s, uint64_t *seconds)
{
	if (strcmp(s, "never") == 0) {
		*seconds = 0;
		return 0;
	}
	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	uint64_t mul;
	if (*end == '\0' || strcmp(end, "s") == 0)
		mul = 1;
	else if (strcmp(end, "m") == 0)
		mul = 60;
	else if (strcmp(end, "h") == 0)
		mul = 3600;
	else if (strcmp(end, "d") == 0)
		mul = 86400;
	else
		return -1;
	if (v > UINT64_MAX / mul)
		return -1;
	*seconds = v * mul;
	return 0;
}

int config_parse_bytes(const char *s, uint64_t *bytes)
{
	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	while (*end == ' ')
		end++;
	static const struct {
		const char *unit;
		uint64_t mul;
	} units[] = {{"", 1},
		     {"b", 1},
		     {"kb", 1000},
		     {"kib", 1024},
		     {"mb", 1000 * 1000},
		     {"mib", 1024 * 1024},
		     {"gb", 1000ull * 1000 * 1000},
		     {"gib", 1024ull * 1024 * 1024}};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcasecmp(end, units[i].unit) == 0) {
			if (v > UINT64_MAX / units[i].mul)
				return -1;
			*bytes = v * units[i].mul;
			return 0;
		}
	}
	return -1;
}

uint64_t config_body_limit(const struct kms_config *c, const char *method)
{
	for (size_t i = 0; i < c->nlimits; i++)
		if (strcmp(c->limits[i].method, method) == 0)
			return c->limits[i].bytes;
	return 10u * 1024 * 1024;
}

uint64_t config_max_body_limit(const struct kms_config *c)
{
	uint64_t m = 10u * 1024 * 1024;
	for (size_t i = 0; i < c->nlimits; i++)
		if (c->limits[i].bytes > m)
			m = c->limits[i].bytes;
	return m;
}

static const struct key_def *find_key(const char *path)
{
	for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++)
		if (strcmp(KEYS[i].path, path) == 0)
			return &KEYS[i];
	return NULL;
}

static int is_table(const char *path)
{
	for (size_t i = 0; i < sizeof TABLES / sizeof TABLES[0]; i++)
		if (strcmp(TABLES[i], path) == 0)
			return 1;
	return 0;
}

struct load_state {
	struct kms_config *c;
	const char *name;
	int seen_quote_enabled;
	int quote_enabled;
	int seen_attest_rpc_cert;
	int seen_enforce_self_auth;
	int seen_auth_type;
};

static void cfg_warn(struct kms_config *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void cfg_warn(struct kms_config *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	log_warn("%s", line);
	size_t n = strlen(c->warnings);
	snprintf(c->warnings + n, sizeof c->warnings - n, "%s\n", line);
	c->nwarnings++;
}

static int type_error(struct load_state *st, const struct toml_value *v, const char *path,
		      const char *want, struct err *err)
{
	return err_set(err, "%s:%d: %s must be %s, not %s", st->name, toml_line(v), path, want,
		       toml_type_name(toml_type(v)));
}

static int store_key(struct load_state *st, const struct key_def *k, const char *path,
		     const struct toml_value *v, struct err *err)
{
	char *field = (char *)st->c + k->off;
	switch (k->type) {
	case K_STR:
		if (toml_type(v) != TOML_STRING)
			return type_error(st, v, path, "a string", err);
		if (toml_string_len(v) >= k->size || strlen(toml_string(v)) != toml_string_len(v))
			return err_set(err, "%s:%d: %s is too long (max %zu bytes) or contains NUL",
				       st->name, toml_line(v), path, k->size - 1);
		copy_str(field, k->size, toml_string(v));
		return 0;
	case K_INT:
	case K_PORT: {
		if (toml_type(v) != TOML_INT)
			return type_error(st, v, path, "an integer", err);
		int64_t x = toml_int(v);
		int64_t lo = k->type == K_PORT ? 0 : 0, hi = k->type == K_PORT ? 65535 : 1000000;
		if (x < lo || x > hi)
			return err_set(err, "%s:%d: %s = %lld is out of range (%lld..%lld)",
				       st->name, toml_line(v), path, (long long)x, (long long)lo,
				       (long long)hi);
		*(int *)field = (int)x;
		return 0;
	}
	case K_BOOL:
		if (toml_type(v) != TOML_BOOL)
			return type_error(st, v, path, "a boolean (true or false)", err);
		*(int *)field = toml_bool(v);
		return 0;
	case K_BYTES: {
		uint64_t bytes;
		if (toml_type(v) == TOML_INT && toml_int(v) >= 0)
			bytes = (uint64_t)toml_int(v);
		else if (toml_type(v) != TOML_STRING ||
			 config_parse_bytes(toml_string(v), &bytes) < 0)
			return err_set(err,
				       "%s:%d: %s must be a byte size such as 268435456 or "
				       "\"256MiB\"",
				       st->name, toml_line(v), path);
		*(uint64_t *)field = bytes;
		return 0;
	}
	case K_DURATION:
	case K_TIMEOUT_MS: {
		uint64_t secs;
		if (toml_type(v) == TOML_INT) {
			if (toml_int(v) < 0)
				return err_set(err, "%s:%d: %s must not be negative", st->name,
					       toml_line(v), path);
			secs = (uint64_t)toml_int(v);
		} else if (toml_type(v) == TOML_STRING) {
			if (config_parse_duration(toml_string(v), &secs) < 0)
				return err_set(err,
					       "%s:%d: %s = \"%s\" is not a duration (e.g. \"5s\", "
					       "\"2m\", \"1h\", \"never\")",
					       st->name, toml_line(v), path, toml_string(v));
		} else {
			return type_error(st, v, path, "a duration string such as \"5s\"", err);
		}
		if (k->type == K_TIMEOUT_MS) {
			if (secs == 0 || secs > 3600)
				return err_set(
				    err,
				    "%s:%d: %s must be between 1s and 1h (a webhook call "
				    "without a timeout can hang the KMS)",
				    st->name, toml_line(v), path);
			*(uint64_t *)field = secs * 1000;
		} else {
			*(uint64_t *)field = secs;
		}
		return 0;
	}
	case K_AUTH_TYPE: {
		if (toml_type(v) != TOML_STRING)
			return type_error(st, v, path, "a string", err);
		const char *s = toml_string(v);
		if (strcmp(s, "webhook") == 0)
			st->c->auth_type = AUTH_KIND_WEBHOOK;
		else if (strcmp(s, "dev") == 0)
			st->c->auth_type = AUTH_KIND_DEV;
		else if (strcmp(s, "static") == 0)
			st->c->auth_type = AUTH_KIND_STATIC;
		else
			return err_set(err,
				       "%s:%d: %s = \"%s\" is not one of \"webhook\", \"dev\", "
				       "\"static\"",
				       st->name, toml_line(v), path, s);
		st->seen_auth_type = 1;
		return 0;
	}
	case K_IGNORED:
		return 0;
	}
	return 0;
}

static int store_limit(struct load_state *st, const char *method, const char *path,
		       const struct toml_value *v, struct err *err)
{
	uint64_t bytes;
	if (toml_type(v) == TOML_INT && toml_int(v) >= 0)
		bytes = (uint64_t)toml_int(v);
	else if (toml_type(v) == TOML_STRING && config_parse_bytes(toml_string(v), &bytes) == 0)
		;
	else
		return err_set(err, "%s:%d: %s must be a byte size such as 1048576 or \"1MiB\"",
			       st->name, toml_line(v), path);
	struct kms_config *c = st->c;
	if (c->nlimits >= CFG_MAX_LIMITS || strlen(method) >= sizeof c->limits[0].method)
		return err_set(err, "%s:%d: too many or too long [rpc.limits] entries", st->name,
			       toml_line(v));
	copy_str(c->limits[c->nlimits].method, sizeof c->limits[0].method, method);
	c->limits[c->nlimits].bytes = bytes;
	c->nlimits++;
	return 0;
}

static int walk(struct load_state *st, const struct toml_value *t, const char *prefix,
		struct err *err)
{
	size_t n = toml_table_len(t);
	for (size_t i = 0; i < n; i++) {
		const struct toml_value *v;
		const char *key = toml_table_key(t, i, &v);
		char path[512];
		int w = snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", key);
		if (w < 0 || (size_t)w >= sizeof path)
			return err_set(err, "%s:%d: key path too long", st->name, toml_line(v));

		if (strcmp(prefix, "rpc.limits") == 0) {
			TRY(store_limit(st, key, path, v, err));
			continue;
		}
		const struct key_def *k = find_key(path);
		if (k) {
			if (strcmp(path, "core.onboard.quote_enabled") == 0) {
				if (toml_type(v) != TOML_BOOL)
					return type_error(st, v, path, "a boolean", err);
				st->seen_quote_enabled = 1;
				st->quote_enabled = toml_bool(v);
			}
			if (strcmp(path, "core.attest_rpc_cert") == 0)
				st->seen_attest_rpc_cert = 1;
			if (strcmp(path, "core.enforce_self_authorization") == 0)
				st->seen_enforce_self_auth = 1;
			TRY(store_key(st, k, path, v, err));
			if (strcmp(path, "core.pccs_url") == 0)
				cfg_warn(st->c,
					 "%s:%d: [core] pccs_url is obsolete: it is read as "
					 "[core.attestation.urls] pccs; move it there",
					 st->name, toml_line(v));
			if (strcmp(path, "core.onboard.quote_enabled") == 0)
				cfg_warn(st->c,
					 "%s:%d: [core.onboard] quote_enabled is obsolete: it was "
					 "replaced by [core] attest_rpc_cert and "
					 "enforce_self_authorization",
					 st->name, toml_line(v));
			continue;
		}
		if (toml_type(v) == TOML_TABLE && is_table(path)) {
			TRY(walk(st, v, path, err));
			continue;
		}
		if (strncmp(path, "core.attestation.", 17) == 0)
			return err_set(err,
				       "%s:%d: unknown key '%s' (keys under [core.attestation] are "
				       "checked strictly)",
				       st->name, toml_line(v), path);
		if (toml_type(v) == TOML_TABLE)
			cfg_warn(st->c, "%s:%d: unknown table [%s] ignored", st->name, toml_line(v),
				 path);
		else
			cfg_warn(st->c, "%s:%d: unknown key '%s' ignored", st->name, toml_line(v),
				 path);
	}
	return 0;
}

static int validate(struct kms_config *c, const char *name, struct err *err)
{
	if (c->workers < 1 || c->workers > 256)
		return err_set(err, "%s: [default] workers must be between 1 and 256", name);
	if (c->rpc_port == 0)
		return err_set(err, "%s: [rpc] port must not be 0", name);
	if (strlen(c->control_socket) > CONFIG_UNIX_PATH_MAX)
		return err_set(
		    err,
		    "%s: [core] control_socket is %zu bytes long; a Unix socket path may "
		    "have at most %d",
		    name, strlen(c->control_socket), CONFIG_UNIX_PATH_MAX);
	if (c->control_socket[0] && c->control_socket[0] != '/')
		return err_set(err,
			       "%s: [core] control_socket must be an absolute path (or \"\" "
			       "for none), not \"%s\"",
			       name, c->control_socket);
	if (c->auth_type == AUTH_KIND_WEBHOOK && !c->webhook_url[0])
		return err_set(err,
			       "%s: [core.auth_api.webhook] url must be set for type = "
			       "\"webhook\"",
			       name);
	if (c->auth_type == AUTH_KIND_STATIC && !c->static_file[0])
		return err_set(
		    err, "%s: [core.auth_api.static] file must be set for type = \"static\"", name);
	if (c->max_buffered_bytes < config_max_body_limit(c) + (1u << 20))
		return err_set(
		    err,
		    "%s: [rpc] max_buffered_bytes = %llu is below the largest request "
		    "the KMS accepts (%llu bytes: the largest [rpc.limits] entry + 1 MiB "
		    "of headroom); no such request could be read",
		    name, (unsigned long long)c->max_buffered_bytes,
		    (unsigned long long)(config_max_body_limit(c) + (1u << 20)));
	if (log_level_parse(c->log_level) < 0)
		return err_set(err,
			       "%s: [default] log_level \"%s\" is not one of error, warn, "
			       "info, debug",
			       name, c->log_level);
	const char *roots[] = {
	    c->root_ca_tdx,	      c->root_ca_gcp_tpm,	c->root_ca_aws_nitro_enclave,
	    c->root_ca_aws_nitro_tpm, c->root_ca_sev_snp_milan, c->root_ca_sev_snp_genoa,
	    c->root_ca_sev_snp_turin};
	for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++)
		if (roots[i][0] && !c->insecure_allow_external_trust_anchors)
			return err_set(err,
				       "%s: [core.attestation.root_ca] overrides a vendor trust "
				       "anchor; set [core.attestation] "
				       "insecure_allow_external_trust_anchors = true to allow it",
				       name);
	return 0;
}

int config_load_text(struct kms_config *c, const char *text, size_t len, const char *name,
		     struct err *err)
{
	config_defaults(c);
	copy_str(c->path, sizeof c->path, name);
	struct toml_value *root = toml_parse(text, len, name, err);
	if (!root)
		return -1;
	struct load_state st = {.c = c, .name = name};
	int rc = walk(&st, root, "", err);
	toml_free(root);
	if (rc < 0)
		return -1;
	if (c->pccs_url[0]) {
		/* A PCS/PCCS URL with the API path is reduced to its base (attestation §PCCS). */
		char base[sizeof c->pccs_url];
		if (collateral_pccs_url_normalize("[core.attestation.urls] pccs", c->pccs_url, base,
						  sizeof base, err) < 0)
			return -1;
		copy_str(c->pccs_url, sizeof c->pccs_url, base);
	}
	if (st.seen_quote_enabled && !st.quote_enabled && !st.seen_attest_rpc_cert &&
	    !st.seen_enforce_self_auth) {
		c->attest_rpc_cert = 0;
		c->enforce_self_authorization = 0;
		c->seed_host_mode = 1;
		cfg_warn(c,
			 "%s: quote_enabled = false with neither attest_rpc_cert nor "
			 "enforce_self_authorization set: starting in host mode (both false). Set "
			 "[core] attest_rpc_cert and enforce_self_authorization explicitly",
			 name);
	}
	return validate(c, name, err);
}

int config_load(struct kms_config *c, const char *path, struct err *err)
{
	size_t n = strlen(path);
	if (n >= 5 && strcmp(path + n - 5, ".json") == 0)
		return err_set(err,
			       "%s: JSON configuration is not supported; write it as TOML (see "
			       "deploy/examples/kms.toml)",
			       path);
	struct buf b = BUF_INIT;
	if (fs_read_file(path, MAX_CONFIG_BYTES, &b, err) < 0) {
		buf_free(&b);
		return err_wrap(err, "cannot read config");
	}
	/* A JSON document passed under another name is refused with the same advice. */
	size_t i = 0;
	while (i < b.len && isspace(b.p[i]))
		i++;
	if (i < b.len && b.p[i] == '{') {
		buf_free(&b);
		return err_set(err,
			       "%s: looks like JSON; only TOML configuration is supported (see "
			       "deploy/examples/kms.toml)",
			       path);
	}
	int rc = config_load_text(c, (const char *)b.p, b.len, path, err);
	buf_free(&b);
	return rc;
}

int config_url_is_plain_http_remote(const char *url)
{
	if (strncasecmp(url, "http://", 7) != 0)
		return 0;
	const char *host = url + 7;
	const char *end = host + strcspn(host, "/?#");
	for (const char *q = host; q < end; q++)
		if (*q == '@')
			host = q + 1;
	char h[256];
	size_t n;
	if (*host == '[') {
		const char *rb = memchr(host, ']', (size_t)(end - host));
		if (!rb)
			return 1;
		host++;
		n = (size_t)(rb - host);
	} else {
		n = strcspn(host, ":/?#");
		if (host + n > end)
			n = (size_t)(end - host);
	}
	if (n == 0 || n >= sizeof h)
		return 1;
	memcpy(h, host, n);
	h[n] = '\0';
	if (strcasecmp(h, "localhost") == 0 || strcmp(h, "::1") == 0)
		return 0;
	struct in_addr a;
	if (inet_pton(AF_INET, h, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127)
		return 0;
	return 1;
}
