/*
 * test_abi.c — the ABI codec of dstack-auth-eth. Expected values are
 * independent: the spec's selector table and worked calldata examples
 * (auth-eth §2.1-§2.3), calldata and return data produced by Foundry's
 * `cast calldata` / `cast abi-encode`, selectors and EIP-55 checksums from
 * js-sha3, and the EIP-55 specification's own test addresses.
 */
#include "harness.h"

#include "abi/abi.h"
#include "util/utf8.h"
#include "util/hex.h"

#include <stdlib.h>
#include <string.h>

static void fill(uint8_t *p, size_t n, uint8_t v)
{
	memset(p, v, n);
}

/* The spec §5.3 base request as an ABI struct. */
static void base_info(struct abi_boot_info *bi, const char *tcb)
{
	memset(bi, 0, sizeof *bi);
	hex_decode_fixed("75537828f2ce51be7289709686a69cbfdbb714f1", bi->app_id, 20);
	fill(bi->compose_hash, 32, 0x55);
	fill(bi->instance_id, 20, 0x66);
	fill(bi->device_id, 32, 0x44);
	fill(bi->mr_aggregated, 32, 0x22);
	fill(bi->mr_system, 32, 0x77);
	fill(bi->os_image_hash, 32, 0x11);
	bi->tcb_status.p = (const uint8_t *)tcb;
	bi->tcb_status.len = strlen(tcb);
}

TEST(test_abi_selectors_match_spec_table)
{
	uint8_t s[4];
	abi_selector("isAppAllowed((address,bytes32,address,bytes32,bytes32,bytes32,bytes32,"
		     "string,string[]))",
		     s);
	CHECK_HEX(s, 4, "1e079198");
	CHECK(memcmp(s, ABI_SEL_IS_APP_ALLOWED, 4) == 0);
	abi_selector("isKmsAllowed((address,bytes32,address,bytes32,bytes32,bytes32,bytes32,"
		     "string,string[]))",
		     s);
	CHECK_HEX(s, 4, "e067ec9d");
	CHECK(memcmp(s, ABI_SEL_IS_KMS_ALLOWED, 4) == 0);
	abi_selector("gatewayAppId()", s);
	CHECK_HEX(s, 4, "95f51931");
	CHECK(memcmp(s, ABI_SEL_GATEWAY_APP_ID, 4) == 0);
	abi_selector("appImplementation()", s);
	CHECK_HEX(s, 4, "25a992da");
	CHECK(memcmp(s, ABI_SEL_APP_IMPLEMENTATION, 4) == 0);
	abi_selector("registeredApps(address)", s);
	CHECK_HEX(s, 4, "a6c4cce9");
	CHECK(memcmp(s, ABI_SEL_REGISTERED_APPS, 4) == 0);
}

TEST(test_abi_selector_single_parentheses_pitfall_differs)
{
	/* spec §2.1: hashing without the tuple parentheses gives other selectors */
	uint8_t s[4];
	abi_selector("isAppAllowed(address,bytes32,address,bytes32,bytes32,bytes32,bytes32,string,"
		     "string[])",
		     s);
	CHECK_HEX(s, 4, "2b765bb7");
	abi_selector("isKmsAllowed(address,bytes32,address,bytes32,bytes32,bytes32,bytes32,string,"
		     "string[])",
		     s);
	CHECK_HEX(s, 4, "01531050");
}

/* spec §2.2 worked example 1 (= cast calldata of the same struct) */
TEST(test_abi_encode_boot_info_spec_example_uptodate_no_advisories)
{
	struct abi_boot_info bi;
	base_info(&bi, "UpToDate");
	struct buf out = BUF_INIT;
	struct err err;
	CHECK_OK(abi_encode_boot_info_call(ABI_SEL_IS_APP_ALLOWED, &bi, &out, &err), &err);
	int ok = t_hex_equal(out.p, out.len,
			     "1e079198"
			     "0000000000000000000000000000000000000000000000000000000000000020"
			     "00000000000000000000000075537828f2ce51be7289709686a69cbfdbb714f1"
			     "5555555555555555555555555555555555555555555555555555555555555555"
			     "0000000000000000000000006666666666666666666666666666666666666666"
			     "4444444444444444444444444444444444444444444444444444444444444444"
			     "2222222222222222222222222222222222222222222222222222222222222222"
			     "7777777777777777777777777777777777777777777777777777777777777777"
			     "1111111111111111111111111111111111111111111111111111111111111111"
			     "0000000000000000000000000000000000000000000000000000000000000120"
			     "0000000000000000000000000000000000000000000000000000000000000160"
			     "0000000000000000000000000000000000000000000000000000000000000008"
			     "5570546f44617465000000000000000000000000000000000000000000000000"
			     "0000000000000000000000000000000000000000000000000000000000000000");
	buf_free(&out);
	CHECK(ok);
}

/* spec §2.2 example 2: isKmsAllowed, tcbStatus "", advisoryIds ["A","BC"] */
TEST(test_abi_encode_boot_info_spec_example_kms_two_advisories)
{
	struct abi_boot_info bi;
	base_info(&bi, "");
	struct abi_bytes adv[2] = {{(const uint8_t *)"A", 1}, {(const uint8_t *)"BC", 2}};
	bi.advisory_ids = adv;
	bi.n_advisory_ids = 2;
	struct buf out = BUF_INIT;
	struct err err;
	CHECK_OK(abi_encode_boot_info_call(ABI_SEL_IS_KMS_ALLOWED, &bi, &out, &err), &err);
	int ok = t_hex_equal(out.p, out.len,
			     "e067ec9d"
			     "0000000000000000000000000000000000000000000000000000000000000020"
			     "00000000000000000000000075537828f2ce51be7289709686a69cbfdbb714f1"
			     "5555555555555555555555555555555555555555555555555555555555555555"
			     "0000000000000000000000006666666666666666666666666666666666666666"
			     "4444444444444444444444444444444444444444444444444444444444444444"
			     "2222222222222222222222222222222222222222222222222222222222222222"
			     "7777777777777777777777777777777777777777777777777777777777777777"
			     "1111111111111111111111111111111111111111111111111111111111111111"
			     "0000000000000000000000000000000000000000000000000000000000000120"
			     "0000000000000000000000000000000000000000000000000000000000000140"
			     "0000000000000000000000000000000000000000000000000000000000000000"
			     "0000000000000000000000000000000000000000000000000000000000000002"
			     "0000000000000000000000000000000000000000000000000000000000000040"
			     "0000000000000000000000000000000000000000000000000000000000000080"
			     "0000000000000000000000000000000000000000000000000000000000000001"
			     "4100000000000000000000000000000000000000000000000000000000000000"
			     "0000000000000000000000000000000000000000000000000000000000000002"
			     "4243000000000000000000000000000000000000000000000000000000000000");
	buf_free(&out);
	CHECK(ok);
}

/* cast calldata: tcbStatus of 33 bytes (two data words), advisoryIds
 * ["", 32 × "y" (exactly one word), "Zé" (UTF-8)] */
TEST(test_abi_encode_boot_info_unaligned_and_empty_strings_match_cast)
{
	struct abi_boot_info bi;
	memset(&bi, 0, sizeof bi);
	bi.app_id[19] = 0xaa;
	fill(bi.compose_hash, 32, 1);
	bi.instance_id[19] = 0xbb;
	fill(bi.device_id, 32, 2);
	fill(bi.mr_aggregated, 32, 3);
	fill(bi.mr_system, 32, 4);
	fill(bi.os_image_hash, 32, 5);
	char tcb[34], y[33];
	memset(tcb, 'x', 33);
	tcb[33] = 0;
	memset(y, 'y', 32);
	y[32] = 0;
	bi.tcb_status.p = (const uint8_t *)tcb;
	bi.tcb_status.len = 33;
	struct abi_bytes adv[3] = {
	    {(const uint8_t *)"", 0}, {(const uint8_t *)y, 32}, {(const uint8_t *)"Z\xc3\xa9", 3}};
	bi.advisory_ids = adv;
	bi.n_advisory_ids = 3;
	struct buf out = BUF_INIT;
	struct err err;
	CHECK_OK(abi_encode_boot_info_call(ABI_SEL_IS_APP_ALLOWED, &bi, &out, &err), &err);
	int ok = t_hex_equal(out.p, out.len,
			     "1e079198"
			     "0000000000000000000000000000000000000000000000000000000000000020"
			     "00000000000000000000000000000000000000000000000000000000000000aa"
			     "0101010101010101010101010101010101010101010101010101010101010101"
			     "00000000000000000000000000000000000000000000000000000000000000bb"
			     "0202020202020202020202020202020202020202020202020202020202020202"
			     "0303030303030303030303030303030303030303030303030303030303030303"
			     "0404040404040404040404040404040404040404040404040404040404040404"
			     "0505050505050505050505050505050505050505050505050505050505050505"
			     "0000000000000000000000000000000000000000000000000000000000000120"
			     "0000000000000000000000000000000000000000000000000000000000000180"
			     "0000000000000000000000000000000000000000000000000000000000000021"
			     "7878787878787878787878787878787878787878787878787878787878787878"
			     "7800000000000000000000000000000000000000000000000000000000000000"
			     "0000000000000000000000000000000000000000000000000000000000000003"
			     "0000000000000000000000000000000000000000000000000000000000000060"
			     "0000000000000000000000000000000000000000000000000000000000000080"
			     "00000000000000000000000000000000000000000000000000000000000000c0"
			     "0000000000000000000000000000000000000000000000000000000000000000"
			     "0000000000000000000000000000000000000000000000000000000000000020"
			     "7979797979797979797979797979797979797979797979797979797979797979"
			     "0000000000000000000000000000000000000000000000000000000000000003"
			     "5ac3a90000000000000000000000000000000000000000000000000000000000");
	buf_free(&out);
	CHECK(ok);
}

TEST(test_abi_encode_appends_after_existing_bytes)
{
	struct abi_boot_info bi;
	base_info(&bi, "UpToDate");
	struct buf out = BUF_INIT;
	struct err err;
	buf_append(&out, "xyz", 3);
	CHECK_OK(abi_encode_boot_info_call(ABI_SEL_IS_APP_ALLOWED, &bi, &out, &err), &err);
	size_t len = out.len;
	int prefix = memcmp(out.p, "xyz", 3) == 0;
	buf_free(&out);
	CHECK(prefix);
	CHECK_EQ_INT(len, 3 + 4 + 13 * 32);
}

TEST(test_abi_encode_address_call_matches_cast)
{
	uint8_t a[20];
	hex_decode_fixed("75537828f2ce51be7289709686a69cbfdbb714f1", a, 20);
	struct buf out = BUF_INIT;
	struct err err;
	CHECK_OK(abi_encode_address_call(ABI_SEL_REGISTERED_APPS, a, &out, &err), &err);
	int ok = t_hex_equal(out.p, out.len,
			     "a6c4cce900000000000000000000000075537828f2ce51be7289709686a69cbfdbb7"
			     "14f1");
	buf_free(&out);
	CHECK(ok);
}

static uint8_t *unhex(const char *h, size_t *n)
{
	uint8_t *p = t_unhex(h, n);
	return p;
}

TEST(test_abi_decode_bool_string_denied_and_allowed)
{
	size_t n;
	uint8_t *p = unhex("0000000000000000000000000000000000000000000000000000000000000000"
			   "0000000000000000000000000000000000000000000000000000000000000040"
			   "0000000000000000000000000000000000000000000000000000000000000012"
			   "446576696365206e6f7420616c6c6f7765640000000000000000000000000000",
			   &n);
	int b = -1;
	struct abi_bytes s;
	struct err err;
	int rc = abi_decode_bool_string(p, n, &b, &s, &err);
	int ok = rc == 0 && b == 0 && s.len == 18 && memcmp(s.p, "Device not allowed", 18) == 0;
	free(p);
	CHECK(ok);
	p = unhex("0000000000000000000000000000000000000000000000000000000000000001"
		  "0000000000000000000000000000000000000000000000000000000000000040"
		  "0000000000000000000000000000000000000000000000000000000000000000",
		  &n);
	rc = abi_decode_bool_string(p, n, &b, &s, &err);
	free(p);
	CHECK_OK(rc, &err);
	CHECK_EQ_INT(b, 1);
	CHECK_EQ_INT(s.len, 0);
}

TEST(test_abi_decode_string_gateway_app_id)
{
	size_t n;
	uint8_t *p = unhex("0000000000000000000000000000000000000000000000000000000000000020"
			   "0000000000000000000000000000000000000000000000000000000000000013"
			   "676174657761792d6170702d69642d7465737400000000000000000000000000",
			   &n);
	struct abi_bytes s;
	struct err err;
	int rc = abi_decode_string(p, n, &s, &err);
	int ok = rc == 0 && s.len == 19 && memcmp(s.p, "gateway-app-id-test", 19) == 0;
	free(p);
	CHECK(ok);
	/* unset: …20 | …00 (spec §2.3) */
	p = unhex("0000000000000000000000000000000000000000000000000000000000000020"
		  "0000000000000000000000000000000000000000000000000000000000000000",
		  &n);
	rc = abi_decode_string(p, n, &s, &err);
	free(p);
	CHECK_OK(rc, &err);
	CHECK_EQ_INT(s.len, 0);
	/* 42 bytes with a 2-byte UTF-8 character, two data words (cast abi-encode) */
	p = unhex("0000000000000000000000000000000000000000000000000000000000000020"
		  "000000000000000000000000000000000000000000000000000000000000002a"
		  "6767676767676767676767676767676767676767676767676767676767676767"
		  "6767676767676767c3a900000000000000000000000000000000000000000000",
		  &n);
	rc = abi_decode_string(p, n, &s, &err);
	ok = rc == 0 && s.len == 42 && s.p[40] == 0xc3 && s.p[41] == 0xa9;
	free(p);
	CHECK(ok);
}

/* Return data that ethers refuses must fail (spec §2.3: decode failure ->
 * backend unavailable). */
TEST(test_abi_decode_rejects_malformed_return_data)
{
	struct abi_bytes s;
	int b;
	struct err err;
	/* "0x": no code at the address */
	CHECK_FAILS(abi_decode_bool_string((const uint8_t *)"", 0, &b, &s, &err));
	CHECK_CONTAINS(err.msg, "too short");
	CHECK_FAILS(abi_decode_string((const uint8_t *)"", 0, &s, &err));
	CHECK_FAILS(abi_decode_address((const uint8_t *)"", 0, (uint8_t[20]){0}, &err));
	CHECK_FAILS(abi_decode_bool((const uint8_t *)"", 0, &b, &err));

	const char *bad[] = {
	    /* offset beyond the data */
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "0000000000000000000000000000000000000000000000000000000000000060"
	    "0000000000000000000000000000000000000000000000000000000000000000",
	    /* length beyond the data */
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "0000000000000000000000000000000000000000000000000000000000000040"
	    "0000000000000000000000000000000000000000000000000000000000000021"
	    "4141414141414141414141414141414141414141414141414141414141414141",
	    /* string data without its padding word tail */
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "0000000000000000000000000000000000000000000000000000000000000040"
	    "0000000000000000000000000000000000000000000000000000000000000002"
	    "4141",
	    /* bool word = 2 */
	    "0000000000000000000000000000000000000000000000000000000000000002"
	    "0000000000000000000000000000000000000000000000000000000000000040"
	    "0000000000000000000000000000000000000000000000000000000000000000",
	    /* huge offset (high bytes set) */
	    "0000000000000000000000000000000000000000000000000000000000000001"
	    "ff00000000000000000000000000000000000000000000000000000000000040"
	    "0000000000000000000000000000000000000000000000000000000000000000",
	    /* invalid UTF-8 (lone continuation byte) */
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "0000000000000000000000000000000000000000000000000000000000000040"
	    "0000000000000000000000000000000000000000000000000000000000000001"
	    "8000000000000000000000000000000000000000000000000000000000000000",
	    /* only one word */
	    "0000000000000000000000000000000000000000000000000000000000000001",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t n;
		uint8_t *p = unhex(bad[i], &n);
		int rc = abi_decode_bool_string(p, n, &b, &s, &err);
		free(p);
		CHECK_MSG(rc < 0, "malformed return data %zu accepted", i);
	}
}

TEST(test_abi_decode_address_and_bool_words)
{
	size_t n;
	uint8_t *p = unhex("0000000000000000000000005fbdb2315678afecb367f032d93f642f64180aa3", &n);
	uint8_t a[20];
	struct err err;
	int rc = abi_decode_address(p, n, a, &err);
	free(p);
	CHECK_OK(rc, &err);
	CHECK_HEX(a, 20, "5fbdb2315678afecb367f032d93f642f64180aa3");
	p = unhex("0000000000000000000000015fbdb2315678afecb367f032d93f642f64180aa3", &n);
	rc = abi_decode_address(p, n, a, &err);
	free(p);
	CHECK(rc < 0); /* ethers: value exceeds width */
	int b = -1;
	p = unhex("0000000000000000000000000000000000000000000000000000000000000001", &n);
	rc = abi_decode_bool(p, n, &b, &err);
	free(p);
	CHECK_OK(rc, &err);
	CHECK_EQ_INT(b, 1);
}

TEST(test_abi_eip55_spec_vectors)
{
	/* EIP-55's own examples plus the spec's appImplementation (§1.5) */
	const char *v[] = {
	    "0x52908400098527886E0F7030069857D2E4169EE7",
	    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
	    "0xde709f2102306220921060314715629080e2fb77",
	    "0x27b1fdb04752bbc536007a920d24acb045561c26",
	    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
	    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
	    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
	    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
	    "0x5FbDB2315678afecb367f032d93F642f64180aa3",
	    "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
	    "0x75537828f2ce51be7289709686A69CbFDbB714F1",
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		uint8_t a[20];
		char out[43];
		struct err err;
		CHECK_OK(abi_parse_address(v[i], 42, a, &err), &err);
		abi_eip55(a, out);
		CHECK_EQ_STR(out, v[i]);
	}
}

TEST(test_abi_parse_address_follows_ethers_rules)
{
	uint8_t a[20];
	struct err err;
	/* all lowercase, all uppercase, no prefix: accepted */
	CHECK_OK(abi_parse_address("0x5fbdb2315678afecb367f032d93f642f64180aa3", 42, a, &err),
		 &err);
	CHECK_OK(abi_parse_address("0x5FBDB2315678AFECB367F032D93F642F64180AA3", 42, a, &err),
		 &err);
	CHECK_HEX(a, 20, "5fbdb2315678afecb367f032d93f642f64180aa3");
	CHECK_OK(abi_parse_address("5FbDB2315678afecb367f032d93F642f64180aa3", 40, a, &err), &err);
	/* mixed case with a wrong checksum */
	CHECK_FAILS(abi_parse_address("0x5FbDB2315678afecb367f032d93F642f64180aA3", 42, a, &err));
	CHECK_CONTAINS(err.msg, "checksum");
	/* uppercase prefix, wrong lengths, non-hex, placeholder text */
	CHECK_FAILS(abi_parse_address("0X5fbdb2315678afecb367f032d93f642f64180aa3", 42, a, &err));
	CHECK_FAILS(abi_parse_address("0x5fbdb2315678afecb367f032d93f642f64180aa", 41, a, &err));
	CHECK_FAILS(abi_parse_address("0x5fbdb2315678afecb367f032d93f642f64180aa30", 43, a, &err));
	CHECK_FAILS(abi_parse_address("0x5fbdb2315678afecb367f032d93f642f64180ag3", 42, a, &err));
	CHECK_FAILS(abi_parse_address("YOUR_KMS_CONTRACT_ADDRESS", 25, a, &err));
	CHECK_FAILS(abi_parse_address("", 0, a, &err));
	/* the length argument is honoured (no reading past it) */
	CHECK_FAILS(abi_parse_address("0x5fbdb2315678afecb367f032d93f642f64180aa3", 30, a, &err));
}

TEST(test_utf8_validation_is_strict)
{
	CHECK(utf8_valid((const uint8_t *)"", 0));
	const char *good = "plain \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
	CHECK(utf8_valid((const uint8_t *)good, strlen(good)));
	CHECK(!utf8_valid((const uint8_t *)"\xc0\xaf", 2));	    /* overlong */
	CHECK(!utf8_valid((const uint8_t *)"\xe0\x80\xaf", 3));	    /* overlong */
	CHECK(!utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));	    /* surrogate */
	CHECK(!utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	CHECK(!utf8_valid((const uint8_t *)"\xe2\x82", 2));	    /* truncated */
	CHECK(!utf8_valid((const uint8_t *)"\xff", 1));
}
