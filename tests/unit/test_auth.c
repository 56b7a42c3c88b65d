/*
 * test_auth.c — the auth API client (kms-protocol §11, §11.1, §4.4): webhook
 * requests checked byte for byte against a local mini_httpd, error texts,
 * timeouts, keep-alive, concurrency, URL redaction, GetMeta info, dev mode,
 * and auth-simple's full decision table for the static backend.
 */
#include "harness.h"
#include "mini_httpd.h"

#include "kms/auth.h"
#include "attest/boot_info.h"
#include "util/err.h"
#include "util/fs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(struct boot_info_bytes *f, uint8_t v, size_t n)
{
	memset(f->b, v, n);
	f->len = n;
}

/* The fixture BootInfo; its JSON is EXPECTED_BODY below (written by hand). */
static void sample_bi(struct boot_info *bi)
{
	struct err err;
	boot_info_init(bi);
	boot_info_set_tee_variant(bi, "dstack-tdx", &err);
	fill(&bi->mr_aggregated, 0x1f, 32);
	fill(&bi->os_image_hash, 0x3c, 32);
	fill(&bi->mr_system, 0x22, 32);
	for (int i = 0; i < 20; i++)
		bi->app_id.b[i] = (uint8_t)(i + 1);
	bi->app_id.len = 20;
	fill(&bi->compose_hash, 0xab, 32);
	fill(&bi->instance_id, 0xee, 20);
	fill(&bi->device_id, 0xcd, 32);
	boot_info_set_key_provider_info(bi, (const uint8_t *)"{}", 2, &err);
	boot_info_set_tcb_status(bi, "UpToDate", &err);
}

static const char EXPECTED_BODY[] =
    "{\"teeVariant\":\"dstack-tdx\","
    "\"mrAggregated\":\"1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f\","
    "\"osImageHash\":\"3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c\","
    "\"mrSystem\":\"2222222222222222222222222222222222222222222222222222222222222222\","
    "\"appId\":\"0102030405060708090a0b0c0d0e0f1011121314\","
    "\"composeHash\":\"abababababababababababababababababababababababababababababababab\","
    "\"instanceId\":\"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\","
    "\"deviceId\":\"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\","
    "\"keyProviderInfo\":\"7b7d\",\"tcbStatus\":\"UpToDate\",\"advisoryIds\":[]}";

static const char ALLOW[] = "{\"isAllowed\":true,\"gatewayAppId\":\"gw-1\",\"reason\":\"\"}";

static struct auth *webhook_auth(const char *url, long timeout_ms, struct err *err)
{
	struct auth_config cfg = {
	    .type = AUTH_TYPE_WEBHOOK, .webhook_url = url, .timeout_ms = timeout_ms};
	return auth_new(&cfg, err);
}

/* ---- webhook: request exactness ---- */

static void check_request(struct mini_httpd *s, int i, const char *path, int *ok)
{
	struct mini_httpd_request got;
	*ok = 0;
	if (mini_httpd_get_request(s, i, &got) < 0)
		return;
	char ct[128] = "", ua[128] = "";
	mini_httpd_header(&got, "Content-Type", ct, sizeof ct);
	mini_httpd_header(&got, "User-Agent", ua, sizeof ua);
	*ok = strcmp(got.method, "POST") == 0 && strcmp(got.target, path) == 0 &&
	      strcmp(ct, "application/json") == 0 && strcmp(ua, "dstack-kms/0.6.0") == 0 &&
	      got.body_len == strlen(EXPECTED_BODY) && strcmp(got.body, EXPECTED_BODY) == 0;
	if (!*ok)
		printf("  request %d: %s %s ct=%s ua=%s body=%s\n", i, got.method, got.target, ct,
		       ua, got.body);
	mini_httpd_request_free(&got);
}

TEST(test_auth_webhook_posts_exact_app_and_kms_requests)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	mini_httpd_set_default(s, &(struct mini_httpd_reply){.body = ALLOW});
	struct err err;
	struct auth *a = webhook_auth(mini_httpd_url(s), 0, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	struct auth_decision d;
	CHECK_OK(auth_check(a, &bi, 0, &d, &err), &err);
	CHECK_OK(auth_check(a, &bi, 1, &d, &err), &err);
	int ok;
	check_request(s, 0, "/bootAuth/app", &ok);
	CHECK(ok);
	check_request(s, 1, "/bootAuth/kms", &ok);
	CHECK(ok);
	boot_info_free(&bi);
	auth_free(a);
	mini_httpd_stop(s);
}

TEST(test_auth_webhook_url_join_with_and_without_trailing_slash)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	mini_httpd_set_default(s, &(struct mini_httpd_reply){.body = ALLOW});
	const char *suffix[] = {"", "/", "/prefix", "/prefix/"};
	const char *want[] = {"/bootAuth/kms", "/bootAuth/kms", "/prefix/bootAuth/kms",
			      "/prefix/bootAuth/kms"};
	struct boot_info bi;
	sample_bi(&bi);
	for (int i = 0; i < 4; i++) {
		char url[128];
		snprintf(url, sizeof url, "%s%s", mini_httpd_url(s), suffix[i]);
		struct err err;
		struct auth *a = webhook_auth(url, 0, &err);
		CHECK_OK(a ? 0 : -1, &err);
		struct auth_decision d;
		CHECK_OK(auth_check(a, &bi, 1, &d, &err), &err);
		auth_free(a);
		int ok;
		check_request(s, i, want[i], &ok);
		CHECK(ok);
	}
	boot_info_free(&bi);
	mini_httpd_stop(s);
}

TEST(test_auth_webhook_allow_and_deny_are_never_cached)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	mini_httpd_push(s, &(struct mini_httpd_reply){
			       .body = "{\"isAllowed\":true,\"gatewayAppId\":\"gateway\","
				       "\"reason\":\"initial allow\",\"extra\":[1,{\"x\":null}]}"});
	mini_httpd_push(
	    s, &(struct mini_httpd_reply){.body = "{\"reason\":\"revoked\",\"isAllowed\":false,"
						  "\"gatewayAppId\":\"gateway2\"}"});
	struct err err;
	struct auth *a = webhook_auth(mini_httpd_url(s), 0, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	struct auth_decision d;
	CHECK_OK(auth_check(a, &bi, 0, &d, &err), &err);
	CHECK_EQ_INT(d.allowed, 1);
	CHECK_EQ_STR(d.reason, "initial allow");
	CHECK_EQ_STR(d.gateway_app_id, "gateway");
	CHECK_OK(auth_check(a, &bi, 0, &d, &err), &err);
	CHECK_EQ_INT(d.allowed, 0);
	CHECK_EQ_STR(d.reason, "revoked");
	CHECK_EQ_STR(d.gateway_app_id, "gateway2");
	CHECK_EQ_INT(mini_httpd_nrequests(s), 2);
	boot_info_free(&bi);
	auth_free(a);
	mini_httpd_stop(s);
}

TEST(test_auth_webhook_long_reason_is_cut_not_rejected)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	char body[2048];
	char reason[1001];
	memset(reason, 'r', 1000);
	reason[1000] = '\0';
	snprintf(body, sizeof body, "{\"isAllowed\":false,\"gatewayAppId\":\"\",\"reason\":\"%s\"}",
		 reason);
	mini_httpd_push(s, &(struct mini_httpd_reply){.body = body});
	struct err err;
	struct auth *a = webhook_auth(mini_httpd_url(s), 0, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	struct auth_decision d;
	CHECK_OK(auth_check(a, &bi, 0, &d, &err), &err);
	CHECK_EQ_INT(d.allowed, 0);
	CHECK_EQ_INT(strlen(d.reason), AUTH_REASON_MAX);
	boot_info_free(&bi);
	auth_free(a);
	mini_httpd_stop(s);
}

/* ---- webhook: errors ---- */

static void expect_decode_error(const char *reply, const char *why, int *ok)
{
	*ok = 0;
	struct mini_httpd *s = mini_httpd_start(NULL);
	if (!s)
		return;
	mini_httpd_push(s, &(struct mini_httpd_reply){.body = reply});
	struct err err;
	struct auth *a = webhook_auth(mini_httpd_url(s), 0, &err);
	struct boot_info bi;
	sample_bi(&bi);
	struct auth_decision d;
	char want[1024];
	snprintf(want, sizeof want, "failed to decode response from %s, status=200 OK, body=%s: %s",
		 mini_httpd_url(s), reply, why);
	*ok = a && auth_check(a, &bi, 0, &d, &err) < 0 && strcmp(err.msg, want) == 0 &&
	      d.allowed == 0;
	if (!*ok)
		printf("  got:  %s\n  want: %s\n", err.msg, want);
	boot_info_free(&bi);
	auth_free(a);
	mini_httpd_stop(s);
}

TEST(test_auth_webhook_missing_or_mistyped_fields_are_decode_errors)
{
	int ok;
	expect_decode_error("{\"gatewayAppId\":\"g\",\"reason\":\"\"}", "missing field `isAllowed`",
			    &ok);
	CHECK(ok);
	expect_decode_error("{\"isAllowed\":true,\"reason\":\"\"}", "missing field `gatewayAppId`",
			    &ok);
	CHECK(ok);
	expect_decode_error("{\"isAllowed\":true,\"gatewayAppId\":\"g\"}", "missing field `reason`",
			    &ok);
	CHECK(ok);
	expect_decode_error("{\"isAllowed\":\"true\",\"gatewayAppId\":\"g\",\"reason\":\"\"}",
			    "`isAllowed` must be a boolean", &ok);
	CHECK(ok);
	expect_decode_error("{\"isAllowed\":true,\"gatewayAppId\":null,\"reason\":\"\"}",
			    "`gatewayAppId` must be a string", &ok);
	CHECK(ok);
	expect_decode_error("{\"isAllowed\":true,\"gatewayAppId\":\"g\",\"reason\":1}",
			    "`reason` must be a string", &ok);
	CHECK(ok);
	expect_decode_error("[true,\"g\",\"\"]", "expected a JSON object", &ok);
	CHECK(ok);
}

TEST(test_auth_webhook_bad_json_fails_closed_and_next_call_recovers)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	mini_httpd_push(s, &(struct mini_httpd_reply){.body = "not-json"});
	mini_httpd_push(
	    s, &(struct mini_httpd_reply){
		   .body = "{\"isAllowed\":true,\"gatewayAppId\":\"g\",\"reason\":\"rec\"}"});
	struct err err;
	struct auth *a = webhook_auth(mini_httpd_url(s), 0, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	struct auth_decision d;
	CHECK_FAILS(auth_check(a, &bi, 0, &d, &err));
	char want[256];
	snprintf(want, sizeof want,
		 "failed to decode response from %s, status=200 OK, body=not-json",
		 mini_httpd_url(s));
	CHECK_CONTAINS(err.msg, want);
	CHECK_EQ_INT(d.allowed, 0);
	CHECK_OK(auth_check(a, &bi, 0, &d, &err), &err);
	CHECK_EQ_STR(d.reason, "rec");
	boot_info_free(&bi);
	auth_free(a);
	mini_httpd_stop(s);
}

TEST(test_auth_webhook_non_2xx_reports_status_and_first_512_body_bytes)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	mini_httpd_push(s, &(struct mini_httpd_reply){
			       .status = 500,
			       .body = "{\"status\":\"error\",\"message\":\"authorization backend "
				       "unavailable\"}"});
	mini_httpd_push(s, &(struct mini_httpd_reply){.status = 429, .fill_bytes = 600});
	/* A 2xx other than 200 is success. */
	mini_httpd_push(s, &(struct mini_httpd_reply){.status = 201, .body = ALLOW});
	struct err err;
	struct auth *a = webhook_auth(mini_httpd_url(s), 0, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	struct auth_decision d;
	CHECK_FAILS(auth_check(a, &bi, 1, &d, &err));
	char want[1024];
	snprintf(want, sizeof want,
		 "auth api %s returned 500 Internal Server Error: {\"status\":\"error\","
		 "\"message\":\"authorization backend unavailable\"}",
		 mini_httpd_url(s));
	CHECK_EQ_STR(err.msg, want);
	CHECK_FAILS(auth_check(a, &bi, 1, &d, &err));
	char a512[513];
	memset(a512, 'a', 512);
	a512[512] = '\0';
	snprintf(want, sizeof want, "auth api %s returned 429 Too Many Requests: %s",
		 mini_httpd_url(s), a512);
	CHECK_EQ_STR(err.msg, want);
	CHECK_OK(auth_check(a, &bi, 1, &d, &err), &err);
	CHECK_EQ_INT(d.allowed, 1);
	boot_info_free(&bi);
	auth_free(a);
	mini_httpd_stop(s);
}

TEST(test_auth_webhook_down_fails_fast_with_clear_error)
{
	int port = mini_httpd_unused_port();
	CHECK(port > 0);
	char url[128], want[160];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
	snprintf(want, sizeof want, "auth api http://127.0.0.1:%d unreachable: Connection refused",
		 port);
	struct err err;
	struct auth *a = webhook_auth(url, 0, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	struct auth_decision d;
	double t0 = now_s();
	CHECK_FAILS(auth_check(a, &bi, 0, &d, &err));
	CHECK(now_s() - t0 < 2.0);
	CHECK_EQ_STR(err.msg, want);
	struct auth_info info;
	CHECK_FAILS(auth_get_info(a, &info, &err));
	CHECK_EQ_STR(err.msg, want);
	boot_info_free(&bi);
	auth_free(a);
}

TEST(test_auth_webhook_that_never_answers_times_out)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	mini_httpd_set_default(s, &(struct mini_httpd_reply){.hang = 1});
	struct err err;
	struct auth *a = webhook_auth(mini_httpd_url(s), 300, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	struct auth_decision d;
	double t0 = now_s();
	CHECK_FAILS(auth_check(a, &bi, 0, &d, &err));
	double dt = now_s() - t0;
	CHECK(dt >= 0.25 && dt < 2.0);
	char want[160];
	snprintf(want, sizeof want, "auth api %s timed out after 300 ms", mini_httpd_url(s));
	CHECK_EQ_STR(err.msg, want);
	boot_info_free(&bi);
	auth_free(a);
	mini_httpd_stop(s);
}

TEST(test_auth_webhook_oversized_response_is_an_error)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	mini_httpd_push(s, &(struct mini_httpd_reply){.fill_bytes = 10 * 1024 * 1024});
	struct err err;
	struct auth *a = webhook_auth(mini_httpd_url(s), 0, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	struct auth_decision d;
	CHECK_FAILS(auth_check(a, &bi, 0, &d, &err));
	CHECK_CONTAINS(err.msg, "auth api http://127.0.0.1:");
	CHECK_CONTAINS(err.msg, "response body exceeds 65536 bytes");
	boot_info_free(&bi);
	auth_free(a);
	mini_httpd_stop(s);
}

TEST(test_auth_webhook_reuses_one_connection_for_five_calls)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	mini_httpd_set_default(s, &(struct mini_httpd_reply){.body = ALLOW});
	struct err err;
	struct auth *a = webhook_auth(mini_httpd_url(s), 0, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	struct auth_decision d;
	for (int i = 0; i < 5; i++)
		CHECK_OK(auth_check(a, &bi, i % 2, &d, &err), &err);
	CHECK_EQ_INT(mini_httpd_nrequests(s), 5);
	CHECK_EQ_INT(mini_httpd_connections(s), 1);
	boot_info_free(&bi);
	auth_free(a);
	mini_httpd_stop(s);
}

struct worker {
	struct auth *a;
	int ok;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct boot_info bi;
	sample_bi(&bi);
	w->ok = 0;
	for (int i = 0; i < 20; i++) {
		struct auth_decision d;
		struct err err;
		if (auth_check(w->a, &bi, i % 2, &d, &err) < 0 || !d.allowed ||
		    strcmp(d.gateway_app_id, "gw-1") != 0)
			break;
		w->ok++;
	}
	boot_info_free(&bi);
	return NULL;
}

TEST(test_auth_webhook_concurrent_threads_share_the_client_safely)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	mini_httpd_set_default(s, &(struct mini_httpd_reply){.body = ALLOW, .delay_ms = 2});
	struct err err;
	struct auth *a = webhook_auth(mini_httpd_url(s), 0, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct worker w[2] = {{a, 0}, {a, 0}};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&t[i], NULL, worker_main, &w[i]) == 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ_INT(w[0].ok, 20);
	CHECK_EQ_INT(w[1].ok, 20);
	CHECK_EQ_INT(mini_httpd_nrequests(s), 40);
	/* At most one pooled keep-alive connection per concurrent caller. */
	CHECK(mini_httpd_connections(s) <= 2);
	auth_free(a);
	mini_httpd_stop(s);
}

TEST(test_auth_webhook_url_secrets_never_appear_in_errors)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	mini_httpd_push(s, &(struct mini_httpd_reply){.status = 503, .body = "down"});
	mini_httpd_push(s, &(struct mini_httpd_reply){.body = "garbage"});
	mini_httpd_push(s, &(struct mini_httpd_reply){.body = "{\"isAllowed\":true}"});
	mini_httpd_push(s, &(struct mini_httpd_reply){.hang = 1});
	mini_httpd_push(s, &(struct mini_httpd_reply){.body = "{\"status\":\"ok\"}"});
	char url[256], dead[256];
	snprintf(url, sizeof url,
		 "http://bob:pw-SECRET@127.0.0.1:%d/key/SECRET-PATH?api_key=SECRET-Q",
		 mini_httpd_port(s));
	snprintf(dead, sizeof dead, "http://127.0.0.1:%d/SECRET-PATH/?token=SECRET-Q",
		 mini_httpd_unused_port());
	struct err err;
	struct auth *a = webhook_auth(url, 300, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	struct auth_decision d;
	for (int i = 0; i < 4; i++) {
		CHECK_FAILS(auth_check(a, &bi, 0, &d, &err));
		CHECK_CONTAINS(err.msg, mini_httpd_url(s));
		CHECK(strstr(err.msg, "SECRET") == NULL);
		CHECK(strstr(err.msg, "bob") == NULL);
	}
	struct auth_info info;
	CHECK_FAILS(auth_get_info(a, &info, &err));
	CHECK(strstr(err.msg, "SECRET") == NULL);
	auth_free(a);
	/* The request did carry the full path and query. */
	struct mini_httpd_request got;
	CHECK(mini_httpd_get_request(s, 0, &got) == 0);
	CHECK_EQ_STR(got.target, "/key/SECRET-PATH?api_key=SECRET-Q/bootAuth/app");
	mini_httpd_request_free(&got);

	a = webhook_auth(dead, 0, &err);
	CHECK_OK(a ? 0 : -1, &err);
	CHECK_FAILS(auth_check(a, &bi, 1, &d, &err));
	CHECK_CONTAINS(err.msg, "unreachable");
	CHECK(strstr(err.msg, "SECRET") == NULL);
	auth_free(a);

	struct auth_config bad = {.type = AUTH_TYPE_WEBHOOK,
				  .webhook_url = "ftp://u:SECRET@h:21/SECRET?SECRET"};
	CHECK(auth_new(&bad, &err) == NULL);
	CHECK(strstr(err.msg, "SECRET") == NULL);
	boot_info_free(&bi);
	mini_httpd_stop(s);
}

TEST(test_auth_check_rejects_bad_app_id_before_any_request)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	struct err err;
	struct auth *a = webhook_auth(mini_httpd_url(s), 0, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	bi.app_id.len = 19;
	struct auth_decision d;
	CHECK_FAILS(auth_check(a, &bi, 0, &d, &err));
	CHECK_EQ_STR(err.msg, "app_id must be 20 bytes");
	CHECK_EQ_INT(mini_httpd_nrequests(s), 0);
	boot_info_free(&bi);
	auth_free(a);
	mini_httpd_stop(s);
}

/* ---- webhook: info (GetMeta) ---- */

TEST(test_auth_webhook_get_info_parses_fields_with_plain_get)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	mini_httpd_push(
	    s,
	    &(struct mini_httpd_reply){
		.body = "{\"status\":\"ok\",\"kmsContractAddr\":"
			"\"0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0\","
			"\"ethRpcUrl\":\"http://"
			"127.0.0.1:8545\",\"gatewayAppId\":\"gateway-app-id-test\","
			"\"chainId\":31337,\"appAuthImplementation\":"
			"\"0x5FbDB2315678afecb367f032d93F642f64180aa3\","
			"\"appImplementation\":\"0x5FbDB2315678afecb367f032d93F642f64180aa3\"}"});
	mini_httpd_push(
	    s, &(struct mini_httpd_reply){
		   .body = "{\"status\":\"whatever\",\"kmsContractAddr\":\"k\",\"ethRpcUrl\":\"\","
			   "\"gatewayAppId\":\"g\",\"chainId\":18446744073709551,"
			   "\"appImplementation\":\"i\"}"});
	char url[128];
	snprintf(url, sizeof url, "%s/info/", mini_httpd_url(s));
	struct err err;
	struct auth *a = webhook_auth(url, 0, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct auth_info info;
	CHECK_OK(auth_get_info(a, &info, &err), &err);
	CHECK_EQ_INT(info.is_dev, 0);
	CHECK_EQ_INT(info.has_contract_info, 1);
	CHECK_EQ_STR(info.kms_contract_addr, "0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0");
	CHECK_EQ_STR(info.gateway_app_id, "gateway-app-id-test");
	CHECK(info.chain_id == 31337);
	CHECK_EQ_STR(info.app_implementation, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
	CHECK_EQ_INT(info.has_eth_rpc_url, 1);
	CHECK_EQ_STR(info.eth_rpc_url, "http://127.0.0.1:8545");
	/* status is required but its value is not checked; empty ethRpcUrl = absent. */
	CHECK_OK(auth_get_info(a, &info, &err), &err);
	CHECK_EQ_INT(info.has_eth_rpc_url, 0);
	CHECK(info.chain_id == 18446744073709551ULL);
	struct mini_httpd_request got;
	CHECK(mini_httpd_get_request(s, 0, &got) == 0);
	CHECK_EQ_STR(got.method, "GET");
	CHECK_EQ_STR(got.target, "/info/"); /* GET <url> exactly, nothing appended */
	char ua[64];
	CHECK(mini_httpd_header(&got, "User-Agent", ua, sizeof ua));
	CHECK_EQ_STR(ua, "dstack-kms/0.6.0");
	mini_httpd_request_free(&got);
	auth_free(a);
	mini_httpd_stop(s);
}

TEST(test_auth_webhook_get_info_requires_status_and_typed_fields)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	const char *bodies[] = {
	    "{\"kmsContractAddr\":\"k\",\"gatewayAppId\":\"g\",\"chainId\":1,\"appImplementation\":"
	    "\"i\"}",
	    "{\"status\":\"ok\",\"gatewayAppId\":\"g\",\"chainId\":1,\"appImplementation\":\"i\"}",
	    "{\"status\":\"ok\",\"kmsContractAddr\":\"k\",\"gatewayAppId\":\"g\","
	    "\"appImplementation\":\"i\"}",
	    "{\"status\":\"ok\",\"kmsContractAddr\":\"k\",\"gatewayAppId\":\"g\",\"chainId\":-1,"
	    "\"appImplementation\":\"i\"}",
	    "{\"status\":\"ok\",\"kmsContractAddr\":\"k\",\"gatewayAppId\":\"g\",\"chainId\":1.5,"
	    "\"appImplementation\":\"i\"}",
	    "{\"status\":\"ok\",\"kmsContractAddr\":\"k\",\"gatewayAppId\":\"g\",\"chainId\":1}",
	    "{\"status\":\"ok\",\"kmsContractAddr\":\"k\",\"gatewayAppId\":\"g\",\"chainId\":1,"
	    "\"appImplementation\":\"i\",\"ethRpcUrl\":null}",
	};
	const char *why[] = {"missing field `status`",
			     "missing field `kmsContractAddr`",
			     "missing field `chainId`",
			     "`chainId` must be an unsigned integer",
			     "`chainId` must be an unsigned integer",
			     "missing field `appImplementation`",
			     "`ethRpcUrl` must be a string"};
	struct err err;
	struct auth *a = webhook_auth(mini_httpd_url(s), 0, &err);
	CHECK_OK(a ? 0 : -1, &err);
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		mini_httpd_push(s, &(struct mini_httpd_reply){.body = bodies[i]});
		struct auth_info info;
		CHECK_FAILS(auth_get_info(a, &info, &err));
		CHECK_CONTAINS(err.msg, "failed to decode response from http://127.0.0.1:");
		CHECK_CONTAINS(err.msg, why[i]);
		CHECK_EQ_INT(info.has_contract_info, 0);
	}
	mini_httpd_push(
	    s, &(struct mini_httpd_reply){.status = 500, .body = "{\"status\":\"error\"}"});
	struct auth_info info;
	CHECK_FAILS(auth_get_info(a, &info, &err));
	CHECK_CONTAINS(err.msg, "returned 500 Internal Server Error: {\"status\":\"error\"}");
	auth_free(a);
	mini_httpd_stop(s);
}

/* ---- dev ---- */

TEST(test_auth_dev_allows_everything_and_reports_gateway)
{
	struct err err;
	struct auth_config cfg = {.type = AUTH_TYPE_DEV};
	struct auth *a = auth_new(&cfg, &err);
	CHECK_OK(a ? 0 : -1, &err);
	CHECK_EQ_INT(auth_type(a), AUTH_TYPE_DEV);
	struct boot_info bi;
	sample_bi(&bi);
	boot_info_set_tcb_status(&bi, "OutOfDate", &err);
	struct auth_decision d;
	CHECK_OK(auth_check(a, &bi, 1, &d, &err), &err);
	CHECK_EQ_INT(d.allowed, 1);
	CHECK_EQ_STR(d.reason, "");
	CHECK_EQ_STR(d.gateway_app_id, "any");
	struct auth_info info;
	CHECK_OK(auth_get_info(a, &info, &err), &err);
	CHECK_EQ_INT(info.is_dev, 1);
	CHECK_EQ_STR(info.gateway_app_id, "any");
	CHECK_EQ_INT(info.has_contract_info, 0);
	CHECK_EQ_INT(info.has_eth_rpc_url, 0);
	auth_free(a);

	cfg.dev_gateway_app_id = "my-gateway";
	a = auth_new(&cfg, &err);
	CHECK_OK(a ? 0 : -1, &err);
	CHECK_OK(auth_check(a, &bi, 0, &d, &err), &err);
	CHECK_EQ_STR(d.gateway_app_id, "my-gateway");
	/* Even dev mode refuses a malformed BootInfo. */
	bi.app_id.len = 0;
	CHECK_FAILS(auth_check(a, &bi, 0, &d, &err));
	CHECK_EQ_INT(d.allowed, 0);
	boot_info_free(&bi);
	auth_free(a);
}

TEST(test_auth_new_rejects_bad_webhook_config)
{
	struct err err;
	struct auth_config cfg = {.type = AUTH_TYPE_WEBHOOK};
	CHECK(auth_new(&cfg, &err) == NULL);
	CHECK_CONTAINS(err.msg, "not configured");
	cfg.webhook_url = "file:///etc/passwd";
	CHECK(auth_new(&cfg, &err) == NULL);
	CHECK_CONTAINS(err.msg, "http:// or https://");
	cfg.webhook_url = "http://h:1/a b";
	CHECK(auth_new(&cfg, &err) == NULL);
	cfg.webhook_url = "http://h:1";
	cfg.timeout_ms = -5;
	CHECK(auth_new(&cfg, &err) == NULL);
	struct auth_config st = {.type = AUTH_TYPE_STATIC};
	CHECK(auth_new(&st, &err) == NULL);
	CHECK_CONTAINS(err.msg, "not configured");
}

/* ---- static (auth-simple) ---- */

#define OS_HEX "3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C"
#define MR_HEX "0x1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F"
#define DEV_HEX "0XCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCDCD"
#define OTHER_DEV "0x9999999999999999999999999999999999999999999999999999999999999999"
#define APP_KEY "0x0102030405060708090A0B0C0D0E0F1011121314"
#define COMPOSE_HEX "abababababababababababababababababababababababababababababababab"

static const char POLICY[] =
    "{\"gatewayAppId\":\"gw-static\",\"kmsContractAddr\":\"0xkms\",\"chainId\":31337,"
    "\"appImplementation\":\"0ximpl\",\"osImages\":[\"0x00\",\"" OS_HEX "\"],"
    "\"allowedTcbStatuses\":[\"UpToDate\",\"SWHardeningNeeded\"],"
    "\"allowedAdvisoryIds\":[\"INTEL-SA-00837\"],"
    "\"kms\":{\"mrAggregated\":[\"" MR_HEX "\"],\"devices\":[\"" DEV_HEX "\"],"
    "\"allowAnyDevice\":false},"
    "\"apps\":{\"" APP_KEY "\":{\"composeHashes\":[\"" COMPOSE_HEX "\"],"
    "\"devices\":[\"" DEV_HEX "\"]},"
    "\"unused\":{}},\"unknownKey\":true}";

static int write_file(const char *path, const char *text)
{
	struct err err;
	return fs_write_atomic(path, text, strlen(text), 0600, &err);
}

static struct auth *static_auth(const char *path, const char *text, struct err *err)
{
	if (text && write_file(path, text) < 0)
		return NULL;
	struct auth_config cfg = {.type = AUTH_TYPE_STATIC, .static_file = path};
	return auth_new(&cfg, err);
}

/* Decision for bi on route is_kms must be (allowed, reason) with gw-static. */
static int expect(struct auth *a, const struct boot_info *bi, int is_kms, int allowed,
		  const char *reason, const char *gw)
{
	struct auth_decision d;
	struct err err;
	if (auth_check(a, bi, is_kms, &d, &err) < 0) {
		printf("  auth_check failed: %s\n", err.msg);
		return 0;
	}
	if (d.allowed != allowed || strcmp(d.reason, reason) != 0 ||
	    strcmp(d.gateway_app_id, gw) != 0) {
		printf("  got allowed=%d reason=\"%s\" gw=\"%s\", want %d \"%s\" \"%s\"\n",
		       d.allowed, d.reason, d.gateway_app_id, allowed, reason, gw);
		return 0;
	}
	return 1;
}

static char g_policy_path[600];

static const char *policy_path(void)
{
	snprintf(g_policy_path, sizeof g_policy_path, "%s/auth-config.json", t_tmpdir());
	return g_policy_path;
}

TEST(test_auth_static_allows_kms_and_app_with_normalized_hex)
{
	struct err err;
	struct auth *a = static_auth(policy_path(), POLICY, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	CHECK(expect(a, &bi, 1, 1, "", "gw-static"));
	CHECK(expect(a, &bi, 0, 1, "", "gw-static"));
	CHECK_OK(boot_info_set_tcb_status(&bi, "SWHardeningNeeded", &err), &err);
	CHECK_OK(boot_info_add_advisory_id(&bi, "INTEL-SA-00837", &err), &err);
	CHECK(expect(a, &bi, 0, 1, "", "gw-static"));
	boot_info_free(&bi);
	auth_free(a);
}

TEST(test_auth_static_decision_order_tcb_then_advisory_then_os_image)
{
	struct err err;
	struct auth *a = static_auth(policy_path(), POLICY, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	/* Everything wrong: the TCB status is reported first, on both routes. */
	CHECK_OK(boot_info_set_tcb_status(&bi, "OutOfDate", &err), &err);
	CHECK_OK(boot_info_add_advisory_id(&bi, "INTEL-SA-99999", &err), &err);
	fill(&bi.os_image_hash, 0x01, 32);
	fill(&bi.mr_aggregated, 0x02, 32);
	fill(&bi.compose_hash, 0x03, 32);
	bi.app_id.b[0] = 0x77;
	CHECK(expect(a, &bi, 1, 0, "TCB status is not allowed", "gw-static"));
	CHECK(expect(a, &bi, 0, 0, "TCB status is not allowed", "gw-static"));
	/* Exact string match, no case folding. */
	CHECK_OK(boot_info_set_tcb_status(&bi, "uptodate", &err), &err);
	CHECK(expect(a, &bi, 0, 0, "TCB status is not allowed", "gw-static"));
	CHECK_OK(boot_info_set_tcb_status(&bi, "UpToDate", &err), &err);
	CHECK(expect(a, &bi, 1, 0, "advisory ID is not allowed", "gw-static"));
	CHECK(expect(a, &bi, 0, 0, "advisory ID is not allowed", "gw-static"));
	boot_info_free(&bi);
	sample_bi(&bi);
	CHECK_OK(boot_info_add_advisory_id(&bi, "INTEL-SA-00837", &err), &err);
	fill(&bi.os_image_hash, 0x01, 32);
	fill(&bi.mr_aggregated, 0x02, 32);
	bi.app_id.b[0] = 0x77;
	CHECK(expect(a, &bi, 1, 0, "OS image is not allowed", "gw-static"));
	CHECK(expect(a, &bi, 0, 0, "OS image is not allowed", "gw-static"));
	boot_info_free(&bi);
	auth_free(a);
}

TEST(test_auth_static_kms_route_reasons)
{
	struct err err;
	struct auth *a = static_auth(policy_path(), POLICY, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	fill(&bi.mr_aggregated, 0x02, 32);
	fill(&bi.device_id, 0x99, 32);
	CHECK(expect(a, &bi, 1, 0, "aggregated MR not allowed", "gw-static"));
	fill(&bi.mr_aggregated, 0x1f, 32);
	CHECK(expect(a, &bi, 1, 0, "KMS is not allowed to boot on this device", "gw-static"));
	/* The app route does not look at kms.* at all. */
	fill(&bi.mr_aggregated, 0x02, 32);
	CHECK(expect(a, &bi, 0, 0, "app is not allowed to boot on this device", "gw-static"));
	boot_info_free(&bi);
	auth_free(a);
}

TEST(test_auth_static_app_route_reasons)
{
	struct err err;
	struct auth *a = static_auth(policy_path(), POLICY, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	bi.app_id.b[19] = 0x15;
	fill(&bi.compose_hash, 0x03, 32);
	CHECK(expect(a, &bi, 0, 0, "app not registered", "gw-static"));
	bi.app_id.b[19] = 0x14;
	CHECK(expect(a, &bi, 0, 0, "compose hash not allowed", "gw-static"));
	fill(&bi.compose_hash, 0xab, 32);
	fill(&bi.device_id, 0x99, 32);
	CHECK(expect(a, &bi, 0, 0, "app is not allowed to boot on this device", "gw-static"));
	/* The KMS route does not look at apps. */
	CHECK(expect(a, &bi, 1, 0, "KMS is not allowed to boot on this device", "gw-static"));
	boot_info_free(&bi);
	auth_free(a);
}

TEST(test_auth_static_allow_any_device_and_empty_device_list)
{
	struct err err;
	const char *text =
	    "{\"osImages\":[\"" OS_HEX "\"],"
	    "\"kms\":{\"mrAggregated\":[\"" MR_HEX "\"],\"devices\":[\"" OTHER_DEV "\"],"
	    "\"allowAnyDevice\":true},"
	    "\"apps\":{\"" APP_KEY "\":{\"composeHashes\":[\"" COMPOSE_HEX "\"],\"devices\":[]}}}";
	struct auth *a = static_auth(policy_path(), text, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	fill(&bi.device_id, 0x42, 32);
	/* allowAnyDevice ignores a non-empty list; an empty list allows any device. */
	CHECK(expect(a, &bi, 1, 1, "", ""));
	CHECK(expect(a, &bi, 0, 1, "", ""));
	bi.device_id.len = 0;
	CHECK(expect(a, &bi, 0, 1, "", ""));
	boot_info_free(&bi);
	auth_free(a);
}

TEST(test_auth_static_defaults_allow_only_uptodate_and_deny_all_images)
{
	struct err err;
	struct auth *a = static_auth(policy_path(), "{}", &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	CHECK(expect(a, &bi, 1, 0, "OS image is not allowed", ""));
	CHECK_OK(boot_info_set_tcb_status(&bi, "SWHardeningNeeded", &err), &err);
	CHECK(expect(a, &bi, 0, 0, "TCB status is not allowed", ""));
	CHECK_OK(boot_info_set_tcb_status(&bi, "", &err), &err);
	CHECK(expect(a, &bi, 0, 0, "TCB status is not allowed", ""));
	struct auth_info info;
	CHECK_OK(auth_get_info(a, &info, &err), &err);
	CHECK_EQ_INT(info.is_dev, 0);
	CHECK_EQ_INT(info.has_contract_info, 1);
	CHECK_EQ_STR(info.gateway_app_id, "");
	CHECK_EQ_STR(info.kms_contract_addr, "0x0000000000000000000000000000000000000000");
	CHECK_EQ_STR(info.app_implementation, "0x0000000000000000000000000000000000000000");
	CHECK(info.chain_id == 0);
	CHECK_EQ_INT(info.has_eth_rpc_url, 0);
	boot_info_free(&bi);
	auth_free(a);
}

TEST(test_auth_static_empty_os_image_hash_matches_bare_prefix)
{
	struct err err;
	const char *text = "{\"osImages\":[\"\"],\"kms\":{\"mrAggregated\":[\"0x\"]}}";
	struct auth *a = static_auth(policy_path(), text, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	CHECK(expect(a, &bi, 1, 0, "OS image is not allowed", ""));
	bi.os_image_hash.len = 0;
	CHECK(expect(a, &bi, 1, 0, "aggregated MR not allowed", ""));
	bi.mr_aggregated.len = 0;
	CHECK(expect(a, &bi, 1, 1, "", ""));
	boot_info_free(&bi);
	auth_free(a);
}

TEST(test_auth_static_first_matching_app_entry_wins)
{
	struct err err;
	const char *text = "{\"osImages\":[\"" OS_HEX "\"],\"apps\":{"
			   "\"0102030405060708090a0b0c0d0e0f1011121314\":{\"composeHashes\":[]},"
			   "\"" APP_KEY "\":{\"composeHashes\":[\"" COMPOSE_HEX "\"]}}}";
	struct auth *a = static_auth(policy_path(), text, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	CHECK(expect(a, &bi, 0, 0, "compose hash not allowed", ""));
	boot_info_free(&bi);
	auth_free(a);
}

TEST(test_auth_static_info_comes_from_file)
{
	struct err err;
	struct auth *a = static_auth(policy_path(), POLICY, &err);
	CHECK_OK(a ? 0 : -1, &err);
	CHECK_EQ_INT(auth_type(a), AUTH_TYPE_STATIC);
	struct auth_info info;
	CHECK_OK(auth_get_info(a, &info, &err), &err);
	CHECK_EQ_INT(info.is_dev, 0);
	CHECK_EQ_STR(info.gateway_app_id, "gw-static");
	CHECK_EQ_STR(info.kms_contract_addr, "0xkms");
	CHECK_EQ_STR(info.app_implementation, "0ximpl");
	CHECK(info.chain_id == 31337);
	auth_free(a);
}

TEST(test_auth_static_picks_up_changed_file)
{
	struct err err;
	const char *path = policy_path();
	struct auth *a = static_auth(path, POLICY, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	CHECK(expect(a, &bi, 0, 1, "", "gw-static"));
	/* Replaced by rename (new inode). */
	CHECK(write_file(path, "{\"gatewayAppId\":\"gw-2\"}") == 0);
	CHECK(expect(a, &bi, 0, 0, "OS image is not allowed", "gw-2"));
	/* Rewritten in place with a different size. */
	FILE *f = fopen(path, "w");
	CHECK(f);
	fputs(POLICY, f);
	fclose(f);
	CHECK(expect(a, &bi, 0, 1, "", "gw-static"));
	struct auth_info info;
	CHECK_OK(auth_get_info(a, &info, &err), &err);
	CHECK_EQ_STR(info.gateway_app_id, "gw-static");
	boot_info_free(&bi);
	auth_free(a);
}

TEST(test_auth_static_broken_or_missing_update_keeps_last_good_policy)
{
	struct err err;
	const char *path = policy_path();
	struct auth *a = static_auth(path, POLICY, &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct boot_info bi;
	sample_bi(&bi);
	CHECK(write_file(path, "{\"gatewayAppId\": \"half-written") == 0);
	CHECK(expect(a, &bi, 0, 1, "", "gw-static"));
	CHECK(expect(a, &bi, 1, 1, "", "gw-static")); /* still, and logged only once */
	CHECK(write_file(path, "{\"osImages\":\"not-an-array\"}") == 0);
	CHECK(expect(a, &bi, 0, 1, "", "gw-static"));
	CHECK(remove(path) == 0);
	CHECK(expect(a, &bi, 0, 1, "", "gw-static"));
	/* A good file again is picked up. */
	CHECK(write_file(path, "{\"gatewayAppId\":\"gw-3\"}") == 0);
	CHECK(expect(a, &bi, 0, 0, "OS image is not allowed", "gw-3"));
	boot_info_free(&bi);
	auth_free(a);
}

TEST(test_auth_static_missing_or_invalid_file_fails_at_start)
{
	struct err err;
	char path[700];
	snprintf(path, sizeof path, "%s/does-not-exist.json", t_tmpdir());
	CHECK(static_auth(path, NULL, &err) == NULL);
	CHECK_CONTAINS(err.msg, path);
	CHECK_CONTAINS(err.msg, "No such file");
	const char *bad[] = {
	    "not json",
	    "[]",
	    "{\"osImages\":\"0x00\"}",
	    "{\"osImages\":[1]}",
	    "{\"gatewayAppId\":null}",
	    "{\"chainId\":-1}",
	    "{\"chainId\":1.5}",
	    "{\"chainId\":\"1\"}",
	    "{\"kms\":[]}",
	    "{\"kms\":{\"allowAnyDevice\":\"yes\"}}",
	    "{\"kms\":{\"devices\":[null]}}",
	    "{\"apps\":[]}",
	    "{\"apps\":{\"0x01\":[]}}",
	    "{\"apps\":{\"0x01\":{\"composeHashes\":{}}}}",
	    "{\"allowedTcbStatuses\":null}",
	};
	const char *p = policy_path();
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct auth *a = static_auth(p, bad[i], &err);
		CHECK_MSG(a == NULL, "policy %s was accepted", bad[i]);
		CHECK_CONTAINS(err.msg, "static auth policy ");
		CHECK_CONTAINS(err.msg, p);
	}
	/* chainId as an integral float is a number to zod too. */
	struct auth *a = static_auth(p, "{\"chainId\":5.0}", &err);
	CHECK_OK(a ? 0 : -1, &err);
	struct auth_info info;
	CHECK_OK(auth_get_info(a, &info, &err), &err);
	CHECK(info.chain_id == 5);
	auth_free(a);
}
