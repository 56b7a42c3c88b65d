/*
 * fuzz_auth.c — libFuzzer target for the KMS auth client's decoders
 * (src/kms/auth.c through kms/auth_internal.h): the static policy file
 * (auth-simple's JSON allowlist, [core.auth_api.static] file) and the
 * webhook's answers to POST bootAuth/{app,kms} and GET <url>. Built and run
 * by `make fuzz` / `make fuzz-smoke` with the other targets.
 *
 * The first input byte picks the path: 0 policy file (then decided for a
 * fixed KMS and app BootInfo), 1 bootAuth answer, 2 info answer; for the
 * answers the second byte picks the HTTP status. Beyond "no crash, no leak"
 * it checks what callers rely on: a policy decides every BootInfo with one of
 * auth-simple's reasons (empty exactly when allowed), the same way twice;
 * decoded answers keep their strings within bounds and NUL-terminated, and
 * only 2xx answers decode; every failure carries a message.
 */
#include "kms/auth_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char ORIGIN[] = "http://127.0.0.1:8001";
static const long STATUS[8] = {200, 201, 204, 299, 300, 404, 500, 199};
static const char *const REASONS[] = {
    "",
    "TCB status is not allowed",
    "advisory ID is not allowed",
    "OS image is not allowed",
    "aggregated MR not allowed",
    "KMS is not allowed to boot on this device",
    "app not registered",
    "compose hash not allowed",
    "app is not allowed to boot on this device",
};

static struct boot_info g_bi;

static void fill(struct boot_info_bytes *f, uint8_t v, size_t n)
{
	memset(f->b, v, n);
	f->len = n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct err e;
	(void)argc;
	(void)argv;
	boot_info_init(&g_bi);
	fill(&g_bi.mr_aggregated, 0x1f, 32);
	fill(&g_bi.os_image_hash, 0x3c, 32);
	fill(&g_bi.mr_system, 0x2a, 32);
	fill(&g_bi.compose_hash, 0xab, 32);
	fill(&g_bi.device_id, 0xcd, 32);
	for (size_t i = 0; i < 20; i++)
		g_bi.app_id.b[i] = (uint8_t)(i + 1);
	g_bi.app_id.len = 20;
	if (boot_info_set_tee_variant(&g_bi, "dstack-tdx", &e) < 0 ||
	    boot_info_set_tcb_status(&g_bi, "UpToDate", &e) < 0 ||
	    boot_info_add_advisory_id(&g_bi, "INTEL-SA-00837", &e) < 0)
		abort();
	return 0;
}

static int known_reason(const char *r)
{
	for (size_t i = 0; i < sizeof REASONS / sizeof REASONS[0]; i++)
		if (strcmp(r, REASONS[i]) == 0)
			return 1;
	return 0;
}

static void terminated(const char *s, size_t cap)
{
	if (!memchr(s, '\0', cap))
		abort();
}

static void fuzz_policy(const uint8_t *p, size_t n)
{
	struct auth_policy *pol = NULL;
	struct err e;
	e.msg[0] = '\0';
	if (auth_policy_parse((const char *)p, n, &pol, &e) < 0) {
		if (!e.msg[0] || pol)
			abort();
		return;
	}
	for (int is_kms = 0; is_kms < 2; is_kms++) {
		struct auth_decision d1, d2;
		memset(&d1, 0, sizeof d1);
		memset(&d2, 0xff, sizeof d2);
		if (auth_policy_decide(pol, &g_bi, is_kms, &d1, &e) < 0 ||
		    auth_policy_decide(pol, &g_bi, is_kms, &d2, &e) < 0)
			abort();
		terminated(d1.gateway_app_id, sizeof d1.gateway_app_id);
		if (!known_reason(d1.reason) || (d1.allowed != 0) != (d1.reason[0] == '\0'))
			abort();
		if (d1.allowed != d2.allowed || strcmp(d1.reason, d2.reason) != 0 ||
		    strcmp(d1.gateway_app_id, d2.gateway_app_id) != 0)
			abort();
	}
	auth_policy_free(pol);
}

static void fuzz_decision(long status, const uint8_t *p, size_t n)
{
	struct auth_decision d;
	struct err e;
	memset(&d, 0, sizeof d);
	e.msg[0] = '\0';
	int rc = auth_webhook_decode_decision(ORIGIN, status, p, n, &d, &e);
	if (rc < 0) {
		if (!strstr(e.msg, ORIGIN))
			abort();
		return;
	}
	if (status < 200 || status > 299)
		abort();
	terminated(d.reason, sizeof d.reason);
	terminated(d.gateway_app_id, sizeof d.gateway_app_id);
	if (d.allowed != 0 && d.allowed != 1)
		abort();
}

static void fuzz_info(long status, const uint8_t *p, size_t n)
{
	struct auth_info in;
	struct err e;
	memset(&in, 0, sizeof in);
	e.msg[0] = '\0';
	int rc = auth_webhook_decode_info(ORIGIN, status, p, n, &in, &e);
	if (rc < 0) {
		if (!strstr(e.msg, ORIGIN))
			abort();
		return;
	}
	if (status < 200 || status > 299 || !in.has_contract_info)
		abort();
	terminated(in.kms_contract_addr, sizeof in.kms_contract_addr);
	terminated(in.app_implementation, sizeof in.app_implementation);
	terminated(in.gateway_app_id, sizeof in.gateway_app_id);
	terminated(in.eth_rpc_url, sizeof in.eth_rpc_url);
	if (in.has_eth_rpc_url != (in.eth_rpc_url[0] != '\0'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] % 3 == 0) {
		fuzz_policy(data + 1, size - 1);
		return 0;
	}
	if (size < 2)
		return 0;
	long status = STATUS[data[1] & 7];
	if (data[0] % 3 == 1)
		fuzz_decision(status, data + 2, size - 2);
	else
		fuzz_info(status, data + 2, size - 2);
	return 0;
}
