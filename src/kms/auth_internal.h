/*
 * auth_internal.h — the pure decoders inside auth.c, for its unit tests and
 * the fuzz target (tests/fuzz/fuzz_auth.c): the static policy file
 * (auth-simple's JSON allowlist) and the webhook's answers, without the file
 * watching or the HTTP around them. Not for other modules: they go through
 * auth.h. spec: kms-protocol §11, §11.1.
 */
#ifndef KMS_AUTH_INTERNAL_H
#define KMS_AUTH_INTERNAL_H

#include "kms/auth.h"

#include <stddef.h>
#include <stdint.h>

struct auth_policy;

/* Parses a policy file's text (len bytes, need not be NUL-terminated). */
int auth_policy_parse(const char *text, size_t len, struct auth_policy **out, struct err *err);
void auth_policy_free(struct auth_policy *p);
/* auth-simple's decision for bi (0 with *d filled, -1 out of memory). */
int auth_policy_decide(const struct auth_policy *p, const struct boot_info *bi, int is_kms,
		       struct auth_decision *d, struct err *err);

/* The webhook's answer to POST bootAuth/{app,kms} (HTTP status and body as
 * received) as a decision; origin (scheme://host:port) names the webhook in
 * messages. -1 for a non-2xx status or a body that does not decode. */
int auth_webhook_decode_decision(const char *origin, long status, const uint8_t *body, size_t len,
				 struct auth_decision *out, struct err *err);
/* The webhook's answer to GET <url> as GetMeta's view of the policy. */
int auth_webhook_decode_info(const char *origin, long status, const uint8_t *body, size_t len,
			     struct auth_info *out, struct err *err);

#endif
