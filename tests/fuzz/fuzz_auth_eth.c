/*
 * fuzz_auth_eth.c — libFuzzer target for dstack-auth-eth's untrusted-input
 * paths: request bodies (src/abi/authreq.c: parsing, validation, answers),
 * JSON-RPC answers (src/abi/jsonrpc.c) and ABI return data (src/abi/abi.c).
 * Built and run by `make fuzz`.
 *
 * The first input byte picks the path. Beyond "no crash, no leak, no read
 * past the input" it checks what callers rely on: a valid request re-encodes
 * to calldata of the size the ABI rules give, decoded strings lie inside the
 * input and are valid UTF-8, and answer bodies are valid JSON.
 */
#include "abi/abi.h"
#include "abi/authreq.h"
#include "abi/jsonrpc.h"
#include "util/utf8.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void must_be_json(const struct buf *b)
{
	json_error_t je;
	json_t *v = json_loadb((const char *)b->p, b->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!v)
		abort();
	json_decref(v);
}

static void inside(const struct abi_bytes *s, const uint8_t *p, size_t n)
{
	if (s->len && (s->p < p || s->p + s->len > p + n))
		abort();
	if (!utf8_valid(s->p, s->len))
		abort();
}

static size_t pad32(size_t n)
{
	return (n + 31) / 32 * 32;
}

static void request(const uint8_t *p, size_t n)
{
	static const char *const types[] = {"application/json", "text/plain", NULL,
					    "application/x-www-form-urlencoded"};
	struct authreq_http h = {.content_type = types[n ? p[0] & 3 : 0],
				 .content_length = "1",
				 .body = n ? p + 1 : p,
				 .body_len = n ? n - 1 : 0};
	json_t *v = NULL;
	struct err err;
	if (authreq_parse_body(&h, &v, &err) != AUTHREQ_PARSE_OK)
		return;
	struct authreq r;
	if (authreq_validate(v, &r, &err) == AUTHREQ_VALID) {
		struct buf call = BUF_INIT;
		if (abi_encode_boot_info_call(ABI_SEL_IS_APP_ALLOWED, &r.bi, &call, &err) < 0)
			abort();
		size_t want = 4 + 32 + 9 * 32 + 32 + pad32(r.bi.tcb_status.len) + 32;
		for (size_t i = 0; i < r.bi.n_advisory_ids; i++)
			want += 32 + 32 + pad32(r.bi.advisory_ids[i].len);
		if (call.len != want)
			abort();
		buf_free(&call);
		struct buf ans = BUF_INIT;
		if (authreq_decision_json(&ans, 1, &r.bi.tcb_status, &r.bi.tcb_status) < 0)
			abort();
		must_be_json(&ans);
		buf_free(&ans);
	}
	authreq_free(&r);
	struct authreq_seed q;
	authreq_parse_seed(v, &q);
	json_decref(v);
}

static void rpc(const uint8_t *p, size_t n)
{
	struct jsonrpc_answers a;
	struct err err;
	if (jsonrpc_parse(p, n, 1, 2, &a, &err) == 0) {
		struct buf d = BUF_INIT;
		uint64_t q;
		for (int i = 0; i < 2; i++) {
			if (!a.result[i])
				abort();
			jsonrpc_data(a.result[i], &d, &err);
			jsonrpc_quantity(a.result[i], &q, &err);
		}
		buf_free(&d);
	}
	jsonrpc_answers_free(&a);
}

static void returns(const uint8_t *p, size_t n)
{
	struct abi_bytes s;
	int b;
	uint8_t addr[20];
	struct err err;
	if (abi_decode_bool_string(p, n, &b, &s, &err) == 0) {
		if (b != 0 && b != 1)
			abort();
		inside(&s, p, n);
	}
	if (abi_decode_string(p, n, &s, &err) == 0)
		inside(&s, p, n);
	abi_decode_address(p, n, addr, &err);
	abi_parse_address((const char *)p, n, addr, &err);
	struct buf out = BUF_INIT, clean = BUF_INIT;
	if (authreq_utf8_sanitize(p, n, &clean) < 0 || !utf8_valid(clean.p, clean.len))
		abort();
	if (authreq_json_string(&out, clean.p, clean.len) < 0)
		abort();
	must_be_json(&out);
	buf_free(&out);
	buf_free(&clean);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		request(data + 1, size - 1);
		break;
	case 1:
		rpc(data + 1, size - 1);
		break;
	default:
		returns(data + 1, size - 1);
		break;
	}
	return 0;
}
