/*
 * auth.h — the KMS authorization client ("auth API"): asks the configured
 * policy whether a BootInfo may boot / receive keys.
 *
 * Backends: dev (allow everything), webhook (POST <url>/bootAuth/{app,kms},
 * GET <url> for info) and static (auth-simple's JSON allowlist evaluated
 * in-process). No decision is ever cached. A -1 return means "no decision"
 * (transport, decode or policy-file error) and callers must fail closed.
 * Never puts the webhook URL's path, query or userinfo into a message or log.
 * spec: kms-protocol §4 (SelfAuth/AppAuth), §4.4, §11, §11.1.
 */
#ifndef KMS_AUTH_H
#define KMS_AUTH_H

#include "attest/boot_info.h"
#include "util/err.h"

#include <stdint.h>

#define AUTH_DEFAULT_TIMEOUT_MS 5000
#define AUTH_DEFAULT_DEV_GATEWAY_APP_ID "any"
#define AUTH_USER_AGENT_PREFIX "dstack-kms/"
#define AUTH_REASON_MAX 512	/* longer reasons are cut (at a UTF-8 boundary) */
#define AUTH_GATEWAY_ID_MAX 256 /* longer gatewayAppId: decode error */
#define AUTH_INFO_STR_MAX 256	/* kmsContractAddr, appImplementation; longer: error */
#define AUTH_INFO_URL_MAX 1024	/* ethRpcUrl; longer: error */

enum auth_type {
	AUTH_TYPE_WEBHOOK = 0, /* the default of core.auth_api.type */
	AUTH_TYPE_DEV,
	AUTH_TYPE_STATIC,
};

struct auth_config {
	enum auth_type type;
	const char *webhook_url;	/* webhook: http(s) base URL (required) */
	long timeout_ms;		/* webhook: total per request; 0 = 5000 */
	long connect_timeout_ms;	/* webhook: 0 = timeout_ms */
	const char *dev_gateway_app_id; /* dev: NULL = "any" */
	const char *static_file;	/* static: auth-simple JSON config (required) */
};

struct auth_decision {
	int allowed;
	char reason[AUTH_REASON_MAX + 1];
	char gateway_app_id[AUTH_GATEWAY_ID_MAX + 1];
};

/* GetMeta's view of the policy (§4.4). In dev mode only is_dev and
 * gateway_app_id are set (has_contract_info = 0: the others are null). */
struct auth_info {
	int is_dev;
	char gateway_app_id[AUTH_GATEWAY_ID_MAX + 1];
	int has_contract_info; /* kms_contract_addr, chain_id, app_implementation valid */
	char kms_contract_addr[AUTH_INFO_STR_MAX + 1];
	uint64_t chain_id;
	char app_implementation[AUTH_INFO_STR_MAX + 1];
	int has_eth_rpc_url; /* webhook answered a non-empty ethRpcUrl */
	char eth_rpc_url[AUTH_INFO_URL_MAX + 1];
};

struct auth;

/* Validates the config. For static, the file must exist and parse (an empty
 * policy would silently deny or, worse, mislead): the error names the path. */
struct auth *auth_new(const struct auth_config *cfg, struct err *err);
void auth_free(struct auth *a);
enum auth_type auth_type(const struct auth *a);

/*
 * Asks whether bi may boot (is_kms: /bootAuth/kms, else /bootAuth/app).
 * Returns 0 with *out filled (allowed or denied with reason), or -1 on any
 * error ("auth api http://host:port returned 500 Internal Server Error: ...",
 * "auth api http://host:port unreachable: Connection refused",
 * "failed to decode response from http://host:port, status=..., body=...").
 * Thread-safe: worker threads may call it concurrently; webhook connections
 * are kept alive in a small pool of HTTP clients.
 */
int auth_check(struct auth *a, const struct boot_info *bi, int is_kms, struct auth_decision *out,
	       struct err *err);

/* GET <url> (webhook), the file's values (static), or the dev values. */
int auth_get_info(struct auth *a, struct auth_info *out, struct err *err);

/*
 * The part of an auth failure message that an unauthenticated caller may
 * hear: the kind of failure ("auth api unreachable", "auth api timed out
 * after 2000 ms", "auth api returned an error", "auth api answer could not
 * be decoded"), never the webhook's origin or any byte of its answer. A
 * message that names neither is kept as it is.
 */
void auth_public_error(const char *msg, char *out, size_t outlen);

#endif
