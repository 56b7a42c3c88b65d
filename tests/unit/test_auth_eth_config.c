/*
 * test_auth_eth_config.c — dstack-auth-eth's configuration (provider list,
 * ETH_CHAIN_ID, ETH_FINALITY_CONFIRMATIONS, ETH_RPC_QUORUM and the start-up
 * refusal when the quorum exceeds the providers) and the Prometheus text of
 * GET /metrics. The auth-eth sources are compiled into this file (the
 * program is not one of the libraries the unit tests link). Expected values
 * follow the rules and the Prometheus exposition format 0.0.4.
 */
#include "harness.h"

#include "../../src/auth-eth/config.c"
#include "../../src/auth-eth/metrics.c"

static void clear_env(void)
{
	static const char *const vars[] = {"HOST",
					   "PORT",
					   "ETH_RPC_URL",
					   "KMS_CONTRACT_ADDR",
					   "ETH_RPC_TIMEOUT_MS",
					   "ETH_HEAD_POLL_MS",
					   "ETH_MAX_BLOCK_AGE",
					   "ETH_CHAIN_ID",
					   "ETH_FINALITY_CONFIRMATIONS",
					   "ETH_RPC_QUORUM",
					   "AUTH_ETH_WORKERS",
					   "AUTH_ETH_RPC_THREADS",
					   "AUTH_ETH_MAX_CONNECTIONS",
					   "AUTH_ETH_MAX_CONNECTIONS_PER_CLIENT"};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
}

TEST(test_auth_eth_config_defaults_one_provider)
{
	clear_env();
	struct ae_config c;
	struct err err;
	err_clear(&err);
	CHECK_EQ_INT(ae_config_from_env(&c, &err), 0);
	CHECK_EQ_INT(c.n_rpc, 1);
	CHECK_EQ_STR(c.rpc_urls[0], "http://localhost:8545");
	CHECK_EQ_INT(c.quorum, 1);
	CHECK_EQ_INT(c.finality, 0);
	CHECK_EQ_INT(c.has_chain_id, 0);
	CHECK_EQ_INT(c.rpc_timeout_ms, 3000);
	CHECK_EQ_INT(c.max_conns, 1024);
	CHECK_EQ_INT(c.max_conns_per_client, 1024);
	ae_config_free(&c);
}

/* One request's whole answer must beat the KMS's 5 s webhook timeout. */
TEST(test_auth_eth_config_deadline_stays_inside_the_kms_webhook_timeout)
{
	clear_env();
	struct ae_config c;
	struct err err;
	err_clear(&err);
	CHECK_EQ_INT(ae_config_from_env(&c, &err), 0);
	CHECK_EQ_INT(c.deadline_ms, 3000);
	CHECK_EQ_INT(c.rpc_threads, 64);
	ae_config_free(&c);
	setenv("ETH_RPC_TIMEOUT_MS", "4500", 1);
	setenv("AUTH_ETH_RPC_THREADS", "3", 1);
	CHECK_EQ_INT(ae_config_from_env(&c, &err), 0);
	CHECK_EQ_INT(c.deadline_ms, 4500);
	CHECK_EQ_INT(c.rpc_threads, 3);
	ae_config_free(&c);
	setenv("ETH_RPC_TIMEOUT_MS", "20000", 1);
	CHECK_EQ_INT(ae_config_from_env(&c, &err), 0);
	CHECK_EQ_INT(c.rpc_timeout_ms, 20000);
	CHECK_EQ_INT(c.deadline_ms, AE_DEADLINE_MAX_MS);
	CHECK(AE_DEADLINE_MAX_MS + 50 < AE_KMS_WEBHOOK_TIMEOUT_MS);
	ae_config_free(&c);
	setenv("AUTH_ETH_RPC_THREADS", "0", 1);
	CHECK_EQ_INT(ae_config_from_env(&c, &err), -1);
	CHECK(strstr(err.msg, "AUTH_ETH_RPC_THREADS") != NULL);
	ae_config_free(&c);
	clear_env();
}

TEST(test_auth_eth_config_connection_caps_from_env)
{
	clear_env();
	struct ae_config c;
	struct err err;
	err_clear(&err);
	setenv("AUTH_ETH_MAX_CONNECTIONS", "300", 1);
	CHECK_EQ_INT(ae_config_from_env(&c, &err), 0);
	CHECK_EQ_INT(c.max_conns, 300);
	CHECK_EQ_INT(c.max_conns_per_client, 300); /* follows the global cap */
	ae_config_free(&c);
	setenv("AUTH_ETH_MAX_CONNECTIONS_PER_CLIENT", "7", 1);
	CHECK_EQ_INT(ae_config_from_env(&c, &err), 0);
	CHECK_EQ_INT(c.max_conns_per_client, 7);
	ae_config_free(&c);
	setenv("AUTH_ETH_MAX_CONNECTIONS", "0", 1);
	CHECK_EQ_INT(ae_config_from_env(&c, &err), -1);
	CHECK(strstr(err.msg, "AUTH_ETH_MAX_CONNECTIONS must be an integer") != NULL);
	ae_config_free(&c);
	clear_env();
}

TEST(test_auth_eth_config_provider_list_and_quorum)
{
	clear_env();
	setenv("ETH_RPC_URL", " https://a.example/v2/KEY , http://b:8545,http://c ", 1);
	setenv("ETH_RPC_QUORUM", "3", 1);
	setenv("ETH_CHAIN_ID", "11155111", 1);
	setenv("ETH_FINALITY_CONFIRMATIONS", "12", 1);
	struct ae_config c;
	struct err err;
	err_clear(&err);
	CHECK_EQ_INT(ae_config_from_env(&c, &err), 0);
	CHECK_EQ_INT(c.n_rpc, 3);
	CHECK_EQ_STR(c.rpc_urls[0], "https://a.example/v2/KEY");
	CHECK_EQ_STR(c.rpc_urls[1], "http://b:8545");
	CHECK_EQ_STR(c.rpc_urls[2], "http://c");
	CHECK_EQ_INT(c.quorum, 3);
	CHECK_EQ_INT(c.has_chain_id, 1);
	CHECK_EQ_INT(c.chain_id, 11155111);
	CHECK_EQ_INT(c.finality, 12);
	ae_config_free(&c);
	clear_env();
}

TEST(test_auth_eth_config_refuses_quorum_above_providers)
{
	clear_env();
	setenv("ETH_RPC_URL", "http://a/SECRET,http://b", 1);
	setenv("ETH_RPC_QUORUM", "3", 1);
	struct ae_config c;
	struct err err;
	err_clear(&err);
	CHECK_EQ_INT(ae_config_from_env(&c, &err), -1);
	CHECK_EQ_STR(err.msg, "ETH_RPC_QUORUM=3 needs at least 3 providers, but ETH_RPC_URL lists "
			      "2: list more comma-separated URLs or lower ETH_RPC_QUORUM");
	CHECK(!strstr(err.msg, "SECRET"));
	ae_config_free(&c);
	setenv("ETH_RPC_QUORUM", "0", 1);
	err_clear(&err);
	CHECK_EQ_INT(ae_config_from_env(&c, &err), -1);
	CHECK_CONTAINS(err.msg, "ETH_RPC_QUORUM must be an integer from 1 to 8");
	ae_config_free(&c);
	clear_env();
}

TEST(test_auth_eth_config_refuses_bad_lists_and_chain_ids)
{
	clear_env();
	struct ae_config c;
	struct err err;
	setenv("ETH_RPC_URL", "http://a,", 1);
	err_clear(&err);
	CHECK_EQ_INT(ae_config_from_env(&c, &err), -1);
	CHECK_CONTAINS(err.msg, "provider #2 is empty");
	ae_config_free(&c);
	setenv("ETH_RPC_URL", "a,b,c,d,e,f,g,h,i", 1);
	err_clear(&err);
	CHECK_EQ_INT(ae_config_from_env(&c, &err), -1);
	CHECK_CONTAINS(err.msg, "more than 8 providers");
	ae_config_free(&c);
	unsetenv("ETH_RPC_URL");
	static const char *const bad[] = {"0", "-1", "0x10", "12a", "99999999999999999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		setenv("ETH_CHAIN_ID", bad[i], 1);
		err_clear(&err);
		CHECK_MSG(ae_config_from_env(&c, &err) == -1, "ETH_CHAIN_ID=%s accepted", bad[i]);
		CHECK_CONTAINS(err.msg, "ETH_CHAIN_ID must be a positive decimal chain id");
		ae_config_free(&c);
	}
	clear_env();
}

TEST(test_auth_eth_metrics_text)
{
	aem_decision(AEM_ROUTE_KMS, AEM_DENY);
	aem_decision(AEM_ROUTE_KMS, AEM_DENY);
	aem_call(1, AEM_CALL_TIMEOUT, 3000000);
	aem_call(1, AEM_CALL_OK, 700);
	aem_disagreement();
	struct aem_provider ps[2] = {
	    {.origin = "http://a:8545",
	     .usable = 1,
	     .head_valid = 1,
	     .head_number = 42,
	     .head_age_s = 3},
	    {.origin = "https://b", .wrong_chain = 1},
	};
	struct buf b = BUF_INIT;
	CHECK_EQ_INT(aem_render(&b, ps, 2), 0);
	const char *t = buf_str(&b);
	CHECK_CONTAINS(t, "# TYPE auth_eth_decisions_total counter\n");
	CHECK_CONTAINS(t, "\nauth_eth_decisions_total{route=\"kms\",outcome=\"deny\"} 2\n");
	CHECK_CONTAINS(t, "\nauth_eth_rpc_calls_total{provider=\"2\",origin=\"https://b\","
			  "result=\"timeout\"} 1\n");
	/* 700 us falls in le=0.001; 3 s in le=5; buckets are cumulative */
	CHECK_CONTAINS(t,
		       "\nauth_eth_rpc_latency_seconds_bucket{provider=\"2\",origin=\"https://b\","
		       "le=\"0.0005\"} 0\n");
	CHECK_CONTAINS(t,
		       "\nauth_eth_rpc_latency_seconds_bucket{provider=\"2\",origin=\"https://b\","
		       "le=\"0.001\"} 1\n");
	CHECK_CONTAINS(t,
		       "\nauth_eth_rpc_latency_seconds_bucket{provider=\"2\",origin=\"https://b\","
		       "le=\"2.5\"} 1\n");
	CHECK_CONTAINS(t,
		       "\nauth_eth_rpc_latency_seconds_bucket{provider=\"2\",origin=\"https://b\","
		       "le=\"5\"} 2\n");
	CHECK_CONTAINS(t,
		       "\nauth_eth_rpc_latency_seconds_count{provider=\"2\",origin=\"https://b\"} "
		       "2\n");
	CHECK_CONTAINS(t, "\nauth_eth_rpc_latency_seconds_sum{provider=\"2\",origin=\"https://b\"} "
			  "3.000700\n");
	CHECK_CONTAINS(t, "\nauth_eth_provider_up{provider=\"1\",origin=\"http://a:8545\"} 1\n");
	CHECK_CONTAINS(t,
		       "\nauth_eth_provider_wrong_chain{provider=\"2\",origin=\"https://b\"} 1\n");
	CHECK_CONTAINS(
	    t, "\nauth_eth_head_block_number{provider=\"1\",origin=\"http://a:8545\"} 42\n");
	CHECK_CONTAINS(t,
		       "\nauth_eth_head_block_age_seconds{provider=\"1\",origin=\"http://a:8545\"} "
		       "3\n");
	CHECK(!strstr(t, "auth_eth_head_block_number{provider=\"2\""));
	CHECK_CONTAINS(t, "\nauth_eth_quorum_disagreements_total 1\n");
	CHECK(t[b.len - 1] == '\n');
	buf_free(&b);
}
