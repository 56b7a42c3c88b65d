/*
 * config.h — the whole kms.toml (kms-protocol §14) as one struct.
 *
 * `--config FILE` reads that file alone (no layering). Every key has its
 * upstream default; our extensions are marked "extension" below and in
 * deploy/examples/kms.toml. Unknown keys warn with their name, except under
 * [core.attestation], where (like upstream) they are an error.
 */
#ifndef KMS_CONFIG_H
#define KMS_CONFIG_H

#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define CFG_STR 512
#define CONFIG_DEFAULT_CONTROL_SOCKET "/var/run/kms/kms.sock"
#define CONFIG_UNIX_PATH_MAX 107 /* sun_path less its NUL */
#define CFG_MAX_LIMITS 16

enum auth_kind { AUTH_KIND_WEBHOOK, AUTH_KIND_DEV, AUTH_KIND_STATIC };

struct method_limit {
	char method[64];
	uint64_t bytes;
};

struct kms_config {
	char path[CFG_STR]; /* the file read, for messages */

	/* [default] (upstream's Rocket table; we honour workers, keep_alive, log_level) */
	int workers;
	int max_blocking;
	char ident[CFG_STR];
	char temp_dir[CFG_STR];
	int keep_alive;
	char log_level[32];

	/* [rpc] */
	char rpc_address[CFG_STR];
	int rpc_port;
	char rpc_tls_key[CFG_STR];
	char rpc_tls_certs[CFG_STR];
	char rpc_mutual_ca_certs[CFG_STR];
	int rpc_mutual_mandatory;
	struct method_limit limits[CFG_MAX_LIMITS];
	size_t nlimits;
	/* extension: admission limits of the listeners (net/http_server.h) */
	int max_connections;		/* 0 = 4096 */
	int max_connections_per_client; /* 0 = 64 */
	uint64_t max_buffered_bytes;	/* request bytes held, per listener */
	uint64_t header_timeout_ms;	/* headers (and TLS handshake) due within */
	uint64_t read_timeout_ms;	/* the whole request due within */

	/* [core] */
	char cert_dir[CFG_STR];
	char subject_postfix[CFG_STR];
	char site_name[CFG_STR];
	int enforce_self_authorization;
	int attest_rpc_cert;
	int sev_snp_key_release;
	int aws_nitro_tpm_key_release;
	/* extension: a request that waits (webhook, collateral, release log)
	 * is answered "deadline exceeded" after this long */
	uint64_t request_deadline_ms;

	/* extension: the local status socket (kms-protocol has none); "" = off */
	char control_socket[CFG_STR];
	/* extension: the longest a guest-agent call (Attest, Info) may take */
	uint64_t guest_agent_timeout_ms;

	/* [core.audit] (extension): the release log */
	char audit_file[CFG_STR];

	/* [core.attestation] */
	int insecure_allow_external_trust_anchors;
	char collateral_cache_dir[CFG_STR]; /* extension */
	char pccs_url[CFG_STR];
	char amd_kds_url[CFG_STR];
	char root_ca_tdx[CFG_STR];
	char root_ca_gcp_tpm[CFG_STR];
	char root_ca_aws_nitro_enclave[CFG_STR];
	char root_ca_aws_nitro_tpm[CFG_STR];
	char root_ca_sev_snp_milan[CFG_STR];
	char root_ca_sev_snp_genoa[CFG_STR];
	char root_ca_sev_snp_turin[CFG_STR];

	/* [core.image] */
	int image_verify;
	char image_cache_dir[CFG_STR];
	char image_download_url[CFG_STR];
	uint64_t image_download_timeout_s; /* 0 = never */

	/* [core.admin] */
	int admin_enabled;
	char admin_address[CFG_STR];
	int admin_port;
	char admin_auth_token[CFG_STR];
	char admin_htpasswd_file[CFG_STR];
	int admin_insecure_no_auth;

	/* [core.metrics] */
	int metrics_enabled;

	/* [core.auth_api] */
	enum auth_kind auth_type;
	char webhook_url[CFG_STR];
	uint64_t webhook_timeout_ms;	/* extension: [core.auth_api.webhook] timeout */
	int webhook_insecure_plaintext; /* extension: plain http:// to a non-loopback host */
	char dev_gateway_app_id[CFG_STR];
	char static_file[CFG_STR]; /* extension: [core.auth_api.static] file */

	/* [core.onboard] */
	int onboard_enabled;
	char auto_bootstrap_domain[CFG_STR];
	char onboard_address[CFG_STR];
	int onboard_port;

	/* Derived: a seed-era file (quote_enabled = false, neither switch set)
	 * that was put into host mode. */
	int seed_host_mode;
	/* Every warning of the load, one per line (also logged). */
	char warnings[4096];
	int nwarnings;
};

/* Upstream defaults (kms-protocol §14). */
void config_defaults(struct kms_config *c);
/* Read one TOML file. Warnings go to the log; errors are "file:line: message". */
int config_load(struct kms_config *c, const char *path, struct err *err);
/* Same over an in-memory text (name is used in messages). */
int config_load_text(struct kms_config *c, const char *text, size_t len, const char *name,
		     struct err *err);
/* Body limit for a method (bare name), default 10 MiB. */
uint64_t config_body_limit(const struct kms_config *c, const char *method);
/* Largest of all limits (for the HTTP layer's backstop). */
uint64_t config_max_body_limit(const struct kms_config *c);
/* 1 when url is plain http:// to a host that is not loopback (127.0.0.0/8,
 * ::1, localhost): isAllowed answers could then be forged on the network. */
int config_url_is_plain_http_remote(const char *url);
/* Parse upstream durations: "<u64><s|m|h|d>" or "never" (0); bare integers are seconds. */
int config_parse_duration(const char *s, uint64_t *seconds);
/* Parse Rocket byte units: 1024, "10MiB", "5 kB", "1MB" ... */
int config_parse_bytes(const char *s, uint64_t *bytes);

#endif
