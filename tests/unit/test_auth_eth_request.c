/*
 * test_auth_eth_request.c — request parsing, BootInfo validation and answer
 * bodies of dstack-auth-eth (src/abi/authreq.c). Expected answers come from
 * the spec's behaviour table (auth-eth §5.3, observed on upstream's Node
 * server) and §1.3-§1.5; JavaScript semantics (Number#toString, parseInt,
 * new URL, JSON.stringify) were taken from Node itself, not from this code.
 */
#include "harness.h"

#include "abi/authreq.h"
#include "util/hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H32(c) "0x" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define H20(c) "0x" c c c c c c c c c c c c c c c c c c c c

#define BASE_FMT                                                                                   \
	"{\"appId\":%s,\"composeHash\":%s,\"instanceId\":%s,\"deviceId\":%s,"                      \
	"\"mrAggregated\":%s,\"mrSystem\":%s,\"osImageHash\":%s,\"tcbStatus\":%s,"                 \
	"\"advisoryIds\":%s}"

struct fields {
	const char *app_id, *compose, *instance, *device, *mr_agg, *mr_sys, *os, *tcb, *adv;
};

static const struct fields BASE = {
    "\"0x75537828f2ce51be7289709686a69cbfdbb714f1\"",
    "\"" H32("55") "\"",
    "\"" H20("66") "\"",
    "\"" H32("44") "\"",
    "\"" H32("22") "\"",
    "\"" H32("77") "\"",
    "\"" H32("11") "\"",
    "\"UpToDate\"",
    "[]",
};

static char *body_of(const struct fields *f)
{
	static char b[70000];
	snprintf(b, sizeof b, BASE_FMT, f->app_id, f->compose, f->instance, f->device, f->mr_agg,
		 f->mr_sys, f->os, f->tcb, f->adv);
	return b;
}

static json_t *parse_json(const char *text)
{
	struct authreq_http h = {.content_type = "application/json",
				 .content_length = "1",
				 .body = (const uint8_t *)text,
				 .body_len = strlen(text)};
	json_t *v = NULL;
	struct err err;
	if (authreq_parse_body(&h, &v, &err) != AUTHREQ_PARSE_OK)
		return NULL;
	return v;
}

/* Validates text as a JSON body; returns the verdict and fills r. */
static enum authreq_verdict check(const char *text, struct authreq *r)
{
	json_t *v = parse_json(text);
	struct err err;
	enum authreq_verdict rc = v ? authreq_validate(v, r, &err) : (enum authreq_verdict) - 1;
	json_decref(v);
	return rc;
}

static enum authreq_verdict check_fields(const struct fields *f)
{
	struct authreq r;
	enum authreq_verdict v = check(body_of(f), &r);
	authreq_free(&r);
	return v;
}

/* ---- body parsing: Fastify's content-type rules (§1.4, §5.3) ----------- */

static enum authreq_parse parse(const char *ct, const char *cl, const char *te, const char *body,
				size_t n, json_t **out)
{
	struct authreq_http h = {ct, cl, te, (const uint8_t *)body, n};
	struct err err;
	return authreq_parse_body(&h, out, &err);
}

TEST(test_auth_eth_body_content_types)
{
	json_t *v = NULL;
	const char *b = "{\"a\":1}";
	CHECK_EQ_INT(parse("application/json", "7", NULL, b, 7, &v), AUTHREQ_PARSE_OK);
	CHECK(json_is_object(v));
	json_decref(v);
	CHECK_EQ_INT(parse("application/json; charset=utf-8", "7", NULL, b, 7, &v),
		     AUTHREQ_PARSE_OK);
	json_decref(v);
	CHECK_EQ_INT(parse("  Application/JSON ;charset=UTF-8", "7", NULL, b, 7, &v),
		     AUTHREQ_PARSE_OK);
	json_decref(v);
	/* text/plain gives the text as a string (then schema -> 400) */
	CHECK_EQ_INT(parse("text/plain", "7", NULL, b, 7, &v), AUTHREQ_PARSE_OK);
	CHECK(json_is_string(v));
	CHECK_EQ_STR(json_string_value(v), b);
	json_decref(v);
	/* curl's default form encoding, other types, malformed types: no parser */
	CHECK_EQ_INT(parse("application/x-www-form-urlencoded", "7", NULL, b, 7, &v),
		     AUTHREQ_PARSE_NO_PARSER);
	CHECK_EQ_INT(parse("application/jsonx", "7", NULL, b, 7, &v), AUTHREQ_PARSE_NO_PARSER);
	CHECK_EQ_INT(parse("application /json", "7", NULL, b, 7, &v), AUTHREQ_PARSE_NO_PARSER);
	CHECK_EQ_INT(parse("json", "7", NULL, b, 7, &v), AUTHREQ_PARSE_NO_PARSER);
	CHECK_EQ_INT(parse("", "7", NULL, b, 7, &v), AUTHREQ_PARSE_NO_PARSER);
	/* no Content-Type: a body has no parser, no body is "undefined" */
	CHECK_EQ_INT(parse(NULL, "7", NULL, b, 7, &v), AUTHREQ_PARSE_NO_PARSER);
	CHECK_EQ_INT(parse(NULL, NULL, "chunked", b, 7, &v), AUTHREQ_PARSE_NO_PARSER);
	CHECK_EQ_INT(parse(NULL, "0", NULL, "", 0, &v), AUTHREQ_PARSE_OK);
	CHECK(v == NULL);
	CHECK_EQ_INT(parse(NULL, NULL, NULL, "", 0, &v), AUTHREQ_PARSE_OK);
	CHECK(v == NULL);
}

TEST(test_auth_eth_body_json_errors_are_500_class)
{
	json_t *v = NULL;
	CHECK_EQ_INT(parse("application/json", "0", NULL, "", 0, &v), AUTHREQ_PARSE_FAILED);
	CHECK_EQ_INT(parse("application/json", "8", NULL, "{\"appId\":", 9, &v),
		     AUTHREQ_PARSE_FAILED);
	CHECK_EQ_INT(parse("application/json", "3", NULL, "{} x", 4, &v), AUTHREQ_PARSE_FAILED);
	/* secure-json-parse: __proto__ anywhere, constructor.prototype */
	const char *p1 = "{\"a\":[{\"__proto__\":{}}]}";
	CHECK_EQ_INT(parse("application/json", "1", NULL, p1, strlen(p1), &v),
		     AUTHREQ_PARSE_FAILED);
	const char *p2 = "{\"constructor\":{\"prototype\":{}}}";
	CHECK_EQ_INT(parse("application/json", "1", NULL, p2, strlen(p2), &v),
		     AUTHREQ_PARSE_FAILED);
	const char *p3 = "{\"\\u005f_proto__\":1}";
	CHECK_EQ_INT(parse("application/json", "1", NULL, p3, strlen(p3), &v),
		     AUTHREQ_PARSE_FAILED);
	/* a plain "constructor" value is fine */
	const char *ok = "{\"constructor\":\"x\"}";
	CHECK_EQ_INT(parse("application/json", "1", NULL, ok, strlen(ok), &v), AUTHREQ_PARSE_OK);
	json_decref(v);
}

TEST(test_auth_eth_body_limit_is_one_mebibyte)
{
	size_t n = AUTHREQ_BODY_LIMIT + 1;
	char *big = malloc(n);
	CHECK(big != NULL);
	/* a valid JSON document: {"a":"xxxx…"} padded to the size */
	memset(big, 'x', n);
	memcpy(big, "{\"a\":\"", 6);
	big[n - 2] = '"';
	big[n - 1] = '}';
	json_t *v = NULL;
	enum authreq_parse over = parse("application/json", "1", NULL, big, n, &v);
	enum authreq_parse over_text = parse("text/plain", "1", NULL, big, n, &v);
	big[n - 3] = '"';
	big[n - 2] = '}';
	enum authreq_parse at = parse("application/json", "1", NULL, big, n - 1, &v);
	json_decref(v);
	free(big);
	CHECK_EQ_INT(over, AUTHREQ_PARSE_FAILED);
	CHECK_EQ_INT(over_text, AUTHREQ_PARSE_FAILED);
	CHECK_EQ_INT(at, AUTHREQ_PARSE_OK);
}

TEST(test_auth_eth_body_invalid_utf8_becomes_replacement_char)
{
	struct buf out = BUF_INIT;
	/* WHATWG: each maximal invalid subpart is one U+FFFD */
	const uint8_t in[] = {'a', 0xff, 'b', 0xe2, 0x82, 'c', 0xf0, 0x9f, 0x98, 0x80, 0xc0, 0xaf};
	CHECK(authreq_utf8_sanitize(in, sizeof in, &out) == 0);
	int ok = t_hex_equal(out.p, out.len, "61efbfbd62efbfbd63f09f9880efbfbdefbfbd");
	buf_free(&out);
	CHECK(ok);
	/* surrogates, above U+10FFFF, truncated sequences: one U+FFFD per byte
	 * that cannot continue (Node: Buffer#toString) */
	const uint8_t in2[] = {0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80,
			       0x80, 0xe0, 0x80, 0xf0, 0x90, 0x80};
	CHECK(authreq_utf8_sanitize(in2, sizeof in2, &out) == 0);
	ok = t_hex_equal(out.p, out.len,
			 "efbfbdefbfbdefbfbdefbfbdefbfbdefbfbdefbfbdefbfbdefbfbdefbfbd");
	buf_free(&out);
	CHECK(ok);
}

/* ---- validation: every schema row of the behaviour table (§5.3) -------- */

TEST(test_auth_eth_validate_base_request_decodes_fields)
{
	struct authreq r;
	CHECK_EQ_INT(check(body_of(&BASE), &r), AUTHREQ_VALID);
	int ok = t_hex_equal(r.bi.app_id, 20, "75537828f2ce51be7289709686a69cbfdbb714f1") &&
		 r.bi.compose_hash[0] == 0x55 && r.bi.compose_hash[31] == 0x55 &&
		 r.bi.instance_id[19] == 0x66 && r.bi.device_id[0] == 0x44 &&
		 r.bi.mr_aggregated[5] == 0x22 && r.bi.mr_system[9] == 0x77 &&
		 r.bi.os_image_hash[31] == 0x11 && r.bi.tcb_status.len == 8 &&
		 memcmp(r.bi.tcb_status.p, "UpToDate", 8) == 0 && r.bi.n_advisory_ids == 0;
	authreq_free(&r);
	CHECK(ok);
}

TEST(test_auth_eth_validate_optional_fields_default)
{
	/* app-allowed-no-optional: no tcbStatus, advisoryIds, mrSystem */
	const char *b = "{\"appId\":\"0x75537828f2ce51be7289709686a69cbfdbb714f1\","
			"\"composeHash\":\"" H32("55") "\",\"instanceId\":\"" H20(
			    "66") "\","
				  "\"deviceId\":\"" H32("44") "\",\"mrAggregated\":\"" H32(
				      "22") "\","
					    "\"osImageHash\":\"" H32("11") "\"}";
	struct authreq r;
	CHECK_EQ_INT(check(b, &r), AUTHREQ_VALID);
	uint8_t zero[32] = {0};
	int ok = memcmp(r.bi.mr_system, zero, 32) == 0 && r.bi.tcb_status.len == 0 &&
		 r.bi.n_advisory_ids == 0;
	authreq_free(&r);
	CHECK(ok);
}

TEST(test_auth_eth_validate_hex_forms)
{
	/* app-allowed-no0x */
	struct fields f = BASE;
	f.app_id = "\"75537828f2ce51be7289709686a69cbfdbb714f1\"";
	f.compose = "\"5555555555555555555555555555555555555555555555555555555555555555\"";
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_VALID);
	/* app-allowed-UPPERHEX (0x prefix kept) */
	f = BASE;
	f.app_id = "\"0x75537828F2CE51BE7289709686A69CBFDBB714F1\"";
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_VALID);
	/* ok-empty-hex: "" and "0x" are all-zero values */
	f = BASE;
	f.mr_agg = "\"\"";
	f.mr_sys = "\"0x\"";
	struct authreq r;
	CHECK_EQ_INT(check(body_of(&f), &r), AUTHREQ_VALID);
	uint8_t zero[32] = {0};
	int ok = memcmp(r.bi.mr_aggregated, zero, 32) == 0 && memcmp(r.bi.mr_system, zero, 32) == 0;
	authreq_free(&r);
	CHECK(ok);
	/* app-short-appid: "0x1234" left-padded; odd digit counts pad by nibble */
	f = BASE;
	f.app_id = "\"0x1234\"";
	f.compose = "\"0x123\"";
	CHECK_EQ_INT(check(body_of(&f), &r), AUTHREQ_VALID);
	ok = t_hex_equal(r.bi.app_id, 20, "0000000000000000000000000000000000001234") &&
	     t_hex_equal(r.bi.compose_hash, 32,
			 "0000000000000000000000000000000000000000000000000000000000000123");
	authreq_free(&r);
	CHECK(ok);
}

TEST(test_auth_eth_validate_rejects_bad_hex_with_400)
{
	struct fields f = BASE;
	f.mr_agg = "\"0x"
		   "2222222222222222222222222222222222222222222222222222222222222222"
		   "22\"";
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_INVALID); /* bad-oversized-hex */
	f = BASE;
	f.app_id = "\"0x75537828f2ce51be7289709686a69cbfdbb714f100\"";
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_INVALID); /* bad-oversized-appid */
	f = BASE;
	f.mr_agg = "\"not-hex\"";
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_INVALID); /* bad-nonhex */
	f = BASE;
	f.app_id = "\"0X75537828f2ce51be7289709686a69cbfdbb714f1\"";
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_INVALID); /* bad-0X-prefix */
	f = BASE;
	f.device = "\" 0x44\"";
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_INVALID); /* whitespace */
	f = BASE;
	f.device = "true";
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_INVALID); /* boolean -> "true" fails the pattern */
	f = BASE;
	f.device = "{}";
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_INVALID);
	f = BASE;
	f.device = "[[\"0x44\"]]";
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_INVALID);
	f = BASE;
	f.device = "[\"0x44\",\"0x44\"]";
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_INVALID);
}

TEST(test_auth_eth_validate_missing_required_field_is_400)
{
	const char *req[] = {"appId",	 "composeHash",	 "instanceId",
			     "deviceId", "mrAggregated", "osImageHash"};
	for (size_t i = 0; i < 6; i++) {
		json_t *v = parse_json(body_of(&BASE));
		CHECK(v != NULL);
		json_object_del(v, req[i]);
		struct authreq r;
		struct err err;
		enum authreq_verdict rc = authreq_validate(v, &r, &err);
		authreq_free(&r);
		json_decref(v);
		CHECK_MSG(rc == AUTHREQ_INVALID, "without %s: %d", req[i], (int)rc);
	}
}

TEST(test_auth_eth_validate_coerces_like_ajv)
{
	struct authreq r;
	/* bad-number-field: 123 -> "123" -> 0x…0123 (then "App not registered") */
	struct fields f = BASE;
	f.app_id = "123";
	CHECK_EQ_INT(check(body_of(&f), &r), AUTHREQ_VALID);
	int ok = t_hex_equal(r.bi.app_id, 20, "0000000000000000000000000000000000000123");
	authreq_free(&r);
	CHECK(ok);
	/* bad-null-field: null -> "" -> zero address */
	f = BASE;
	f.app_id = "null";
	CHECK_EQ_INT(check(body_of(&f), &r), AUTHREQ_VALID);
	uint8_t zero[20] = {0};
	ok = memcmp(r.bi.app_id, zero, 20) == 0;
	authreq_free(&r);
	CHECK(ok);
	/* a one-element array is unwrapped */
	f = BASE;
	f.device = "[\"" H32("44") "\"]";
	CHECK_EQ_INT(check(body_of(&f), &r), AUTHREQ_VALID);
	ok = r.bi.device_id[0] == 0x44;
	authreq_free(&r);
	CHECK(ok);
	/* bad-advisory-notstring: [1] -> ["1"]; scalars and null become arrays */
	f = BASE;
	f.adv = "[1, true, null, [\"x\"], 1.5]";
	CHECK_EQ_INT(check(body_of(&f), &r), AUTHREQ_VALID);
	ok = r.bi.n_advisory_ids == 5 && r.bi.advisory_ids[0].len == 1 &&
	     memcmp(r.bi.advisory_ids[0].p, "1", 1) == 0 &&
	     memcmp(r.bi.advisory_ids[1].p, "true", 4) == 0 && r.bi.advisory_ids[2].len == 0 &&
	     memcmp(r.bi.advisory_ids[3].p, "x", 1) == 0 &&
	     memcmp(r.bi.advisory_ids[4].p, "1.5", 3) == 0;
	authreq_free(&r);
	CHECK(ok);
	f = BASE;
	f.adv = "\"abc\"";
	CHECK_EQ_INT(check(body_of(&f), &r), AUTHREQ_VALID);
	ok = r.bi.n_advisory_ids == 1 && r.bi.advisory_ids[0].len == 3;
	authreq_free(&r);
	CHECK(ok);
	f = BASE;
	f.adv = "null";
	CHECK_EQ_INT(check(body_of(&f), &r), AUTHREQ_VALID);
	ok = r.bi.n_advisory_ids == 1 && r.bi.advisory_ids[0].len == 0;
	authreq_free(&r);
	CHECK(ok);
	/* tcbStatus: number, null */
	f = BASE;
	f.tcb = "12345678901234567890";
	CHECK_EQ_INT(check(body_of(&f), &r), AUTHREQ_VALID);
	ok =
	    r.bi.tcb_status.len == 20 && memcmp(r.bi.tcb_status.p, "12345678901234567000", 20) == 0;
	authreq_free(&r);
	CHECK(ok);
	f.adv = "{}";
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_INVALID);
}

TEST(test_auth_eth_validate_string_limits_count_characters)
{
	static char tcb[1024], adv[70000];
	struct fields f = BASE;
	/* bad-tcb-too-long: 129 × "x" */
	snprintf(tcb, sizeof tcb, "\"%0129d\"", 0);
	f.tcb = tcb;
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_INVALID);
	/* 128 two-byte characters (256 bytes) are within maxLength 128 */
	size_t n = 0;
	tcb[n++] = '"';
	for (int i = 0; i < 128; i++) {
		tcb[n++] = (char)0xc3;
		tcb[n++] = (char)0xa9;
	}
	tcb[n++] = '"';
	tcb[n] = 0;
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_VALID);
	/* advisoryIds: 128 items fine, 129 not; item of 257 characters not */
	f = BASE;
	n = 0;
	adv[n++] = '[';
	for (int i = 0; i < 129; i++)
		n += (size_t)snprintf(adv + n, sizeof adv - n, "%s\"A%d\"", i ? "," : "", i);
	adv[n++] = ']';
	adv[n] = 0;
	f.adv = adv;
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_INVALID);
	char *last = strrchr(adv, ',');
	last[0] = ']';
	last[1] = 0;
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_VALID);
	snprintf(adv, sizeof adv, "[\"%0257d\"]", 0);
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_INVALID);
	snprintf(adv, sizeof adv, "[\"%0256d\"]", 0);
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_VALID);
}

TEST(test_auth_eth_validate_body_shapes)
{
	struct authreq r;
	struct err err;
	/* bad-array-body, null, string, no body */
	CHECK_EQ_INT(check("[]", &r), AUTHREQ_INVALID);
	authreq_free(&r);
	CHECK_EQ_INT(check("null", &r), AUTHREQ_INVALID);
	authreq_free(&r);
	CHECK_EQ_INT(check("\"str\"", &r), AUTHREQ_INVALID);
	authreq_free(&r);
	CHECK_EQ_INT(authreq_validate(NULL, &r, &err), AUTHREQ_INVALID);
	authreq_free(&r);
	/* bad-text-plain: the body arrives as a string */
	json_t *s = json_string(body_of(&BASE));
	CHECK_EQ_INT(authreq_validate(s, &r, &err), AUTHREQ_INVALID);
	json_decref(s);
	authreq_free(&r);
	/* app-extra-fields are ignored */
	char b[4096];
	snprintf(b, sizeof b, "%s", body_of(&BASE));
	b[strlen(b) - 1] = 0;
	strcat(b, ",\"teeVariant\":\"dstack-tdx\",\"keyProviderInfo\":\"00\"}");
	CHECK_EQ_INT(check(b, &r), AUTHREQ_VALID);
	authreq_free(&r);
	/* [ {valid} ]: Ajv validates the inner object, upstream's handler then
	 * fails on the array: 200 backend unavailable */
	snprintf(b, sizeof b, "[%s]", body_of(&BASE));
	CHECK_EQ_INT(check(b, &r), AUTHREQ_UNAVAILABLE);
	authreq_free(&r);
	snprintf(b, sizeof b, "[%s,%s]", body_of(&BASE), body_of(&BASE));
	CHECK_EQ_INT(check(b, &r), AUTHREQ_INVALID);
	authreq_free(&r);
}

TEST(test_auth_eth_validate_bad_address_checksum_is_unavailable)
{
	/* spec §1.3: passes the schema, ethers rejects it, no RPC is made */
	struct fields f = BASE;
	f.app_id = "\"0x75537828f2ce51be7289709686a69cbfdbb714F1\"";
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_UNAVAILABLE);
	f = BASE;
	f.instance = "\"0x5FbDB2315678afecb367f032d93F642f64180aA3\"";
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_UNAVAILABLE);
	/* the correct checksum is fine */
	f.instance = "\"0x5FbDB2315678afecb367f032d93F642f64180aa3\"";
	CHECK_EQ_INT(check_fields(&f), AUTHREQ_VALID);
}

/* ---- the seed tutorial's POST / --------------------------------------- */

TEST(test_auth_eth_seed_methods)
{
	struct authreq_seed q;
	json_t *v = parse_json("{\"method\":\"ping\"}");
	authreq_parse_seed(v, &q);
	json_decref(v);
	CHECK_EQ_INT(q.method, AUTHREQ_SEED_PING);
	v = parse_json("{\"method\":\"is_app_allowed\",\"params\":{\"app_id\":\"test\"}}");
	authreq_parse_seed(v, &q);
	json_decref(v);
	CHECK_EQ_INT(q.method, AUTHREQ_SEED_IS_APP_ALLOWED);
	CHECK_EQ_INT(q.app_id_ok, 0);
	v = parse_json("{\"method\":\"is_app_allowed\",\"params\":{\"app_id\":"
		       "\"75537828f2ce51be7289709686a69cbfdbb714f1\"}}");
	authreq_parse_seed(v, &q);
	json_decref(v);
	CHECK_EQ_INT(q.app_id_ok, 1);
	CHECK_HEX(q.app_id, 20, "75537828f2ce51be7289709686a69cbfdbb714f1");
	v = parse_json("{\"method\":\"is_app_allowed\"}");
	authreq_parse_seed(v, &q);
	json_decref(v);
	CHECK_EQ_INT(q.method, AUTHREQ_SEED_IS_APP_ALLOWED);
	CHECK_EQ_INT(q.app_id_ok, 0);
	v = parse_json("{\"method\":\"drop_tables\"}");
	authreq_parse_seed(v, &q);
	json_decref(v);
	CHECK_EQ_INT(q.method, AUTHREQ_SEED_UNKNOWN);
	v = parse_json("{\"method\":\"ping\\u0000x\"}");
	authreq_parse_seed(v, &q);
	json_decref(v);
	CHECK_EQ_INT(q.method, AUTHREQ_SEED_UNKNOWN);
	authreq_parse_seed(NULL, &q);
	CHECK_EQ_INT(q.method, AUTHREQ_SEED_UNKNOWN);
}

/* ---- answers ----------------------------------------------------------- */

TEST(test_auth_eth_answer_bodies_are_upstreams)
{
	CHECK_EQ_STR(AUTHREQ_BODY_INVALID,
		     "{\"isAllowed\":false,\"reason\":\"invalid authorization "
		     "request\",\"gatewayAppId\":\"\"}");
	CHECK_EQ_STR(AUTHREQ_BODY_UNAVAILABLE, "{\"isAllowed\":false,\"reason\":\"authorization "
					       "backend unavailable\",\"gatewayAppId\":\"\"}");
	CHECK_EQ_STR(AUTHREQ_BODY_ERROR500,
		     "{\"status\":\"error\",\"message\":\"authorization backend unavailable\"}");
	CHECK_EQ_STR(AUTHREQ_BODY_STALE, "{\"isAllowed\":false,\"reason\":\"chain view is "
					 "stale\",\"gatewayAppId\":\"\"}");
	struct buf b = BUF_INIT;
	struct abi_bytes reason = {(const uint8_t *)"Device not allowed", 18};
	struct abi_bytes gw = {(const uint8_t *)"gateway-app-id-test", 19};
	CHECK(authreq_decision_json(&b, 0, &reason, &gw) == 0);
	CHECK_EQ_STR(buf_str(&b), "{\"isAllowed\":false,\"reason\":\"Device not allowed\","
				  "\"gatewayAppId\":\"gateway-app-id-test\"}");
	buf_reset(&b);
	struct abi_bytes empty = {(const uint8_t *)"", 0};
	CHECK(authreq_decision_json(&b, 1, &empty, &gw) == 0);
	CHECK_EQ_STR(
	    buf_str(&b),
	    "{\"isAllowed\":true,\"reason\":\"\",\"gatewayAppId\":\"gateway-app-id-test\"}");
	buf_reset(&b);
	CHECK(authreq_not_found_json(&b, "POST", "/bootAuth/xyz") == 0);
	CHECK_EQ_STR(buf_str(&b), "{\"message\":\"Route POST:/bootAuth/xyz not "
				  "found\",\"error\":\"Not Found\",\"statusCode\":404}");
	buf_free(&b);
}

TEST(test_auth_eth_info_body_matches_observed_get)
{
	/* spec §1.5 observed answer */
	struct buf b = BUF_INIT;
	struct abi_bytes gw = {(const uint8_t *)"gateway-app-id-test", 19};
	uint8_t impl[20];
	hex_decode_fixed("5fbdb2315678afecb367f032d93f642f64180aa3", impl, 20);
	CHECK(authreq_info_json(&b, "0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0",
				"http://127.0.0.1:8545", &gw, 31337, impl) == 0);
	CHECK_EQ_STR(
	    buf_str(&b),
	    "{\"status\":\"ok\",\"kmsContractAddr\":\"0x9fe46736679d2d9a65f0992f2272de9f3c7f"
	    "a6e0\",\"ethRpcUrl\":\"http://127.0.0.1:8545\",\"gatewayAppId\":\"gateway-app-"
	    "id-test\",\"chainId\":31337,\"appAuthImplementation\":\"0x5FbDB2315678afecb367"
	    "f032d93F642f64180aa3\",\"appImplementation\":\"0x5FbDB2315678afecb367f032d93F6"
	    "42f64180aa3\"}");
	buf_free(&b);
}

TEST(test_auth_eth_json_string_escapes_like_json_stringify)
{
	/* Node: JSON.stringify("a\"b\\c\n\r\t\b\f\u0001\u001f\u007f é\u2028") */
	const char *in = "a\"b\\c\n\r\t\b\f\x01\x1f\x7f \xc3\xa9\xe2\x80\xa8";
	struct buf b = BUF_INIT;
	CHECK(authreq_json_string(&b, (const uint8_t *)in, strlen(in)) == 0);
	CHECK_EQ_STR(buf_str(&b),
		     "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\x7f \xc3\xa9\xe2\x80\xa8\"");
	buf_reset(&b);
	CHECK(authreq_json_string(&b, (const uint8_t *)"a\0b", 3) == 0);
	CHECK_EQ_STR(buf_str(&b), "\"a\\u0000b\"");
	buf_free(&b);
}

TEST(test_auth_eth_js_number_matches_node)
{
	/* String(x) in Node 20 */
	static const struct {
		double v;
		const char *s;
	} t[] = {
	    {123, "123"},
	    {1.5, "1.5"},
	    {1e21, "1e+21"},
	    {1e-7, "1e-7"},
	    {0.000001, "0.000001"},
	    {123456789012345678901234567890.0, "1.2345678901234568e+29"},
	    {12345678901234567890.0, "12345678901234567000"},
	    {-0.0, "0"},
	    {0.1, "0.1"},
	    {100, "100"},
	    {1e20, "100000000000000000000"},
	    {5e-324, "5e-324"},
	    {1.7976931348623157e308, "1.7976931348623157e+308"},
	    {-42.25, "-42.25"},
	    {9007199254740994.0, "9007199254740994"},
	    {1.0 / 3, "0.3333333333333333"},
	    {1.5e-10, "1.5e-10"},
	    {123e-20, "1.23e-18"},
	    {31337, "31337"},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char out[40];
		authreq_js_number(t[i].v, out, sizeof out);
		CHECK_EQ_STR(out, t[i].s);
	}
}

TEST(test_auth_eth_public_rpc_endpoint_matches_whatwg_url)
{
	/* `${u.protocol}//${u.host}` of new URL(x) in Node 20, "configured" on throw */
	static const struct {
		const char *in, *out;
	} t[] = {
	    {"https://eth-sepolia.g.alchemy.com/v2/KEY?x=1", "https://eth-sepolia.g.alchemy.com"},
	    {"http://localhost:8545", "http://localhost:8545"},
	    {"HTTP://User:Pw@Example.COM:80/x", "http://example.com"},
	    {"https://h:443/", "https://h"},
	    {"https://h:8443", "https://h:8443"},
	    {"ws://a:80", "ws://a"},
	    {"foo://bar/x", "foo://bar"},
	    {"not a url", "configured"},
	    {"http://[::1]:8545/p", "http://[::1]:8545"},
	    {"  http://h:01/ ", "http://h:1"},
	    {"http://h:/p", "http://h"},
	    {"http:h2/x", "http://h2"},
	    {"http://", "configured"},
	    {"http://a b/", "configured"},
	    {"mailto:x@y", "mailto://"},
	    {"https://h:99999", "configured"},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char out[256];
		authreq_public_rpc_endpoint(t[i].in, out, sizeof out);
		CHECK_MSG(strcmp(out, t[i].out) == 0, "%s -> %s, want %s", t[i].in, out, t[i].out);
	}
}

TEST(test_auth_eth_port_parses_like_parseint)
{
	int p;
	CHECK(authreq_parse_port(NULL, &p) == 0 && p == 8000);
	CHECK(authreq_parse_port("", &p) == 0 && p == 8000);
	CHECK(authreq_parse_port("9200", &p) == 0 && p == 9200);
	CHECK(authreq_parse_port("9200abc", &p) == 0 && p == 9200);
	CHECK(authreq_parse_port(" 42", &p) == 0 && p == 42);
	CHECK(authreq_parse_port("0x10", &p) == 0 && p == 16);
	CHECK(authreq_parse_port("+80", &p) == 0 && p == 80);
	CHECK(authreq_parse_port("1e3", &p) == 0 && p == 1);
	CHECK(authreq_parse_port("12.9", &p) == 0 && p == 12);
	CHECK(authreq_parse_port("0", &p) == 0 && p == 0);
	CHECK(authreq_parse_port("-1", &p) < 0);
	CHECK(authreq_parse_port("abc", &p) < 0);
	CHECK(authreq_parse_port("70000", &p) < 0);
	CHECK(authreq_parse_port("99999999999999999999999", &p) < 0);
}
