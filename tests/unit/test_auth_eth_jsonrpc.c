/*
 * test_auth_eth_jsonrpc.c — JSON-RPC messages of dstack-auth-eth
 * (src/abi/jsonrpc.c): the exact request text, eth_call parameters pinned to
 * a block, answers matched by id in any order, and every error shape failing
 * (anvil's revert {"code":3,...}, a whole-batch error as rate-limiting
 * providers send it, missing or repeated answers). spec: auth-eth §2.3-§2.4.
 */
#include "harness.h"

#include "abi/jsonrpc.h"

#include <string.h>

static int parse(const char *s, size_t n, struct jsonrpc_answers *a, struct err *err)
{
	return jsonrpc_parse((const uint8_t *)s, strlen(s), 1, n, a, err);
}

TEST(test_auth_eth_jsonrpc_request_text)
{
	struct buf b = BUF_INIT;
	CHECK(jsonrpc_request(&b, 7, "eth_chainId", "[]") == 0);
	CHECK_EQ_STR(buf_str(&b), "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"eth_chainId\","
				  "\"params\":[]}");
	uint8_t to[20];
	memset(to, 0xab, 20);
	const uint8_t data[5] = {0x95, 0xf5, 0x19, 0x31, 0x00};
	CHECK(jsonrpc_call_params(&b, to, data, 4, 26) == 0);
	CHECK_EQ_STR(buf_str(&b), "[{\"to\":\"0xabababababababababababababababababababab\","
				  "\"data\":\"0x95f51931\"},\"0x1a\"]");
	CHECK(jsonrpc_call_params(&b, to, data, 5, 0) == 0);
	CHECK_CONTAINS(buf_str(&b), "\"0x95f5193100\"},\"0x0\"]");
	buf_free(&b);
}

TEST(test_auth_eth_jsonrpc_batch_answers_matched_by_id)
{
	struct jsonrpc_answers a;
	struct err err;
	CHECK_OK(parse("[{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":\"0x02\"},"
		       "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x7a69\"}]",
		       2, &a, &err),
		 &err);
	uint64_t q = 0;
	CHECK_OK(jsonrpc_quantity(a.result[0], &q, &err), &err);
	CHECK_EQ_INT(q, 31337);
	struct buf d = BUF_INIT;
	CHECK_OK(jsonrpc_data(a.result[1], &d, &err), &err);
	CHECK_HEX(d.p, d.len, "02");
	buf_free(&d);
	jsonrpc_answers_free(&a);
	/* one request, one object */
	CHECK_OK(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x\"}", 1, &a, &err), &err);
	CHECK(json_is_string(a.result[0]));
	jsonrpc_answers_free(&a);
}

TEST(test_auth_eth_jsonrpc_errors_fail_the_exchange)
{
	struct jsonrpc_answers a;
	struct err err;
	/* a revert in one call of the batch (anvil) */
	CHECK_FAILS(parse("[{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":3,\"message\":"
			  "\"execution reverted\",\"data\":\"0x\"}},"
			  "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":\"0x\"}]",
			  2, &a, &err));
	CHECK_CONTAINS(err.msg, "JSON-RPC error 3: execution reverted");
	jsonrpc_answers_free(&a);
	/* one error object for the whole batch (rate limit) */
	CHECK_FAILS(parse("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32005,\"message\":"
			  "\"rate limited\"}}",
			  2, &a, &err));
	CHECK_CONTAINS(err.msg, "-32005: rate limited");
	jsonrpc_answers_free(&a);
	/* incomplete, repeated, unknown id, no result, not JSON, wrong single id */
	CHECK_FAILS(parse("[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x\"}]", 2, &a, &err));
	CHECK_CONTAINS(err.msg, "incomplete");
	jsonrpc_answers_free(&a);
	CHECK_FAILS(
	    parse("[{\"id\":1,\"result\":\"0x\"},{\"id\":1,\"result\":\"0x\"}]", 2, &a, &err));
	jsonrpc_answers_free(&a);
	CHECK_FAILS(
	    parse("[{\"id\":1,\"result\":\"0x\"},{\"id\":9,\"result\":\"0x\"}]", 2, &a, &err));
	jsonrpc_answers_free(&a);
	CHECK_FAILS(parse("[{\"id\":1},{\"id\":2,\"result\":\"0x\"}]", 2, &a, &err));
	jsonrpc_answers_free(&a);
	CHECK_FAILS(parse("<html>429 Too Many Requests</html>", 1, &a, &err));
	jsonrpc_answers_free(&a);
	CHECK_FAILS(parse("{\"id\":2,\"result\":\"0x\"}", 1, &a, &err));
	jsonrpc_answers_free(&a);
	CHECK_FAILS(parse("[]", 1, &a, &err));
	jsonrpc_answers_free(&a);
	CHECK_FAILS(parse("[5]", 1, &a, &err));
	jsonrpc_answers_free(&a);
}

TEST(test_auth_eth_jsonrpc_quantity_and_data_strictness)
{
	struct err err;
	uint64_t q;
	json_t *v = json_string("0xffffffffffffffff");
	CHECK_OK(jsonrpc_quantity(v, &q, &err), &err);
	CHECK(q == UINT64_MAX);
	json_decref(v);
	const char *bad_q[] = {"0x", "12", "0xg", "0x10000000000000000"};
	for (size_t i = 0; i < 4; i++) {
		v = json_string(bad_q[i]);
		int rc = jsonrpc_quantity(v, &q, &err);
		json_decref(v);
		CHECK_MSG(rc < 0, "quantity %s accepted", bad_q[i]);
	}
	v = json_integer(5);
	CHECK_FAILS(jsonrpc_quantity(v, &q, &err));
	struct buf d = BUF_INIT;
	CHECK_FAILS(jsonrpc_data(v, &d, &err));
	json_decref(v);
	const char *bad_d[] = {"0x123", "abcd", "0xzz"};
	for (size_t i = 0; i < 3; i++) {
		v = json_string(bad_d[i]);
		int rc = jsonrpc_data(v, &d, &err);
		json_decref(v);
		CHECK_MSG(rc < 0, "data %s accepted", bad_d[i]);
	}
	v = json_string("0x");
	CHECK_OK(jsonrpc_data(v, &d, &err), &err);
	json_decref(v);
	CHECK_EQ_INT(d.len, 0);
	buf_free(&d);
}
