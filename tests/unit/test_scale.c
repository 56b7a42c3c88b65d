/*
 * test_scale.c — SCALE primitives (attest/scale.h): compact integers against
 * the examples in the parity-scale-codec documentation, canonical-only
 * decoding, bool/Option/UTF-8 rules, truncation at every length, and the two
 * CertSigningRequestV2 vectors of kms-protocol §8 decoded field by field.
 */
#include "harness.h"

#include "attest/attestation.h"
#include "attest/csr.h"
#include "attest/scale.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

static int decode_compact(const char *hex, uint64_t *v, size_t *used)
{
	size_t n;
	uint8_t *b = t_unhex(hex, &n);
	struct reader r;
	struct err err;
	reader_init(&r, b, n);
	int rc = scale_compact_u64(&r, v, &err);
	*used = r.off;
	free(b);
	return rc;
}

static int encodes_as(uint64_t v, const char *hex)
{
	struct buf b = BUF_INIT;
	int ok = scale_put_compact(&b, v) == 0 && t_hex_equal(b.p, b.len, hex);
	buf_free(&b);
	return ok;
}

/* Examples from the parity-scale-codec README (compact/general integers). */
TEST(test_scale_compact_matches_documented_examples)
{
	static const struct {
		uint64_t v;
		const char *hex;
	} cases[] = {
	    {0, "00"},
	    {1, "04"},
	    {42, "a8"},
	    {63, "fc"},
	    {64, "0101"},
	    {69, "1501"},
	    {16383, "fdff"},
	    {16384, "02000100"},
	    {65535, "feff0300"},
	    {1073741823, "feffffff"},
	    {1073741824, "0300000040"},
	    {4294967295u, "03ffffffff"},
	    {4294967296u, "070000000001"},
	    {100000000000000u, "0b00407a10f35a"},
	    {UINT64_MAX, "13ffffffffffffffff"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t v;
		size_t used;
		CHECK_MSG(encodes_as(cases[i].v, cases[i].hex), "encode case %zu", i);
		CHECK_MSG(decode_compact(cases[i].hex, &v, &used) == 0, "decode case %zu", i);
		CHECK_EQ_INT(v, cases[i].v);
		CHECK_EQ_INT(used, strlen(cases[i].hex) / 2);
	}
}

TEST(test_scale_compact_rejects_non_canonical_forms)
{
	static const char *const bad[] = {
	    "0100",	    /* 0 in two-byte mode */
	    "fd00",	    /* 63 in two-byte mode */
	    "02000000",	    /* 0 in four-byte mode */
	    "feff0000",	    /* 16383 in four-byte mode */
	    "03ffffff3f",   /* 2^30-1 in big-integer mode */
	    "0300000000",   /* 0 in big-integer mode */
	    "07ffffffff00", /* 2^32-1 in five bytes: zero top byte */
	    "0b0000000000000000" /* zero top byte */,
	    "17000000000000000001", /* 9 bytes: beyond u64 */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint64_t v;
		size_t used;
		CHECK_MSG(decode_compact(bad[i], &v, &used) < 0, "accepted %s", bad[i]);
	}
}

TEST(test_scale_compact_u32_rejects_values_wider_than_u32)
{
	size_t n;
	uint8_t *b = t_unhex("070000000001", &n);
	struct reader r;
	struct err err;
	uint32_t v;
	reader_init(&r, b, n);
	CHECK_FAILS(scale_compact_u32(&r, &v, &err));
	CHECK_CONTAINS(err.msg, "out of range");
	free(b);
	b = t_unhex("03ffffffff", &n);
	reader_init(&r, b, n);
	CHECK_OK(scale_compact_u32(&r, &v, &err), &err);
	CHECK_EQ_INT(v, 4294967295u);
	free(b);
}

TEST(test_scale_compact_truncated_at_every_length_fails)
{
	static const char *const full[] = {"0101", "02000100", "0300000040", "13ffffffffffffffff"};
	for (size_t i = 0; i < sizeof full / sizeof full[0]; i++) {
		size_t n;
		uint8_t *b = t_unhex(full[i], &n);
		for (size_t cut = 0; cut < n; cut++) {
			struct reader r;
			struct err err;
			uint64_t v;
			reader_init(&r, b, cut);
			CHECK_FAILS(scale_compact_u64(&r, &v, &err));
		}
		free(b);
	}
}

TEST(test_scale_bool_and_option_accept_only_zero_and_one)
{
	const uint8_t in[] = {0, 1, 2};
	struct reader r;
	struct err err;
	int v;
	reader_init(&r, in, sizeof in);
	CHECK_OK(scale_bool(&r, &v, &err), &err);
	CHECK_EQ_INT(v, 0);
	CHECK_OK(scale_bool(&r, &v, &err), &err);
	CHECK_EQ_INT(v, 1);
	CHECK_FAILS(scale_bool(&r, &v, &err));
	CHECK_CONTAINS(err.msg, "invalid bool");
	reader_init(&r, in, sizeof in);
	CHECK_OK(scale_option(&r, &v, &err), &err);
	CHECK_EQ_INT(v, 0);
	CHECK_OK(scale_option(&r, &v, &err), &err);
	CHECK_EQ_INT(v, 1);
	CHECK_FAILS(scale_option(&r, &v, &err));
	CHECK_CONTAINS(err.msg, "Option");
	reader_init(&r, in, 0);
	CHECK_FAILS(scale_bool(&r, &v, &err));
}

TEST(test_scale_string_rejects_bad_utf8)
{
	static const char *const bad[] = {
	    "08c328",	  /* invalid continuation */
	    "08c080",	  /* overlong NUL */
	    "0ce08080",	  /* overlong */
	    "0ceda080",	  /* UTF-16 surrogate */
	    "10f4908080", /* above U+10FFFF */
	    "04ff",	  /* never valid */
	    "08e282",	  /* length 2 but sequence wants 3 */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t n;
		uint8_t *b = t_unhex(bad[i], &n);
		struct reader r;
		struct err err;
		const char *s;
		size_t len;
		reader_init(&r, b, n);
		CHECK_MSG(scale_string(&r, &s, &len, &err) < 0, "accepted %s", bad[i]);
		free(b);
	}
	/* "né€😀" and an embedded NUL are valid Rust strings. */
	size_t n;
	uint8_t *b = t_unhex("2c6ec3a9e282acf09f988000", &n);
	struct reader r;
	struct err err;
	const char *s;
	size_t len;
	reader_init(&r, b, n);
	CHECK_OK(scale_string(&r, &s, &len, &err), &err);
	CHECK_EQ_INT(len, 11);
	CHECK_EQ_INT(rd_left(&r), 0);
	free(b);
}

TEST(test_scale_length_larger_than_input_fails_before_reading)
{
	/* Vec<u8> claiming 2^30 bytes with 3 bytes present. */
	size_t n;
	uint8_t *b = t_unhex("0300000040aabbcc", &n);
	struct reader r;
	struct err err;
	const uint8_t *p;
	size_t len;
	reader_init(&r, b, n);
	CHECK_FAILS(scale_bytes(&r, &p, &len, &err));
	CHECK_CONTAINS(err.msg, "exceeds the remaining input");
	free(b);
	/* scale_len with an element size: 3 elements of >= 11 bytes cannot fit in 30. */
	uint8_t in[31] = {3 << 2};
	reader_init(&r, in, sizeof in);
	CHECK_FAILS(scale_len(&r, 11, &len, &err));
	reader_init(&r, in, sizeof in);
	CHECK_OK(scale_len(&r, 10, &len, &err), &err);
	CHECK_EQ_INT(len, 3);
}

TEST(test_scale_fixed_width_integers_are_little_endian)
{
	struct buf b = BUF_INIT;
	CHECK(scale_put_u32(&b, 0x08000001u) == 0 && scale_put_u64(&b, 0x0102030405060708u) == 0 &&
	      scale_put_bool(&b, 1) == 0 && scale_put_bytes(&b, "abc", 3) == 0);
	CHECK_HEX(b.p, b.len, "010000080807060504030201010c616263");
	struct reader r;
	struct err err;
	uint32_t u32;
	uint64_t u64;
	reader_init(&r, b.p, b.len);
	CHECK_OK(scale_u32(&r, &u32, &err), &err);
	CHECK_OK(scale_u64(&r, &u64, &err), &err);
	CHECK_EQ_INT(u32, 0x08000001u);
	CHECK(u64 == 0x0102030405060708u);
	buf_free(&b);
}

static void check_csr_vector(const char *hex, int ext_quote, const char *quote_hex)
{
	size_t n;
	uint8_t *b = t_unhex(hex, &n);
	struct csr c;
	struct err err;
	struct attestation a;
	CHECK(b != NULL);
	CHECK_OK(csr_decode(2, b, n, &c, &err), &err);
	CHECK(c.confirm.len == 17 && memcmp(c.confirm.p, "please sign cert:", 17) == 0);
	CHECK_HEX(c.pubkey, c.pubkey_len, "010203");
	CHECK_EQ_INT(c.has_org, 0);
	CHECK(c.subject.len == 16 && memcmp(c.subject.p, "test.example.com", 16) == 0);
	CHECK_EQ_INT(c.n_san, 0);
	CHECK_EQ_INT(c.usage_server_auth, 1);
	CHECK_EQ_INT(c.usage_client_auth, 0);
	CHECK_EQ_INT(c.ext_quote, ext_quote);
	CHECK_EQ_INT(c.ext_app_info, 0);
	CHECK_EQ_INT(c.has_not_before, 0);
	CHECK_EQ_INT(c.has_not_after, 0);
	CHECK_OK(attestation_decode(c.attestation, c.attestation_len, &a, &err), &err);
	CHECK_EQ_INT(a.wire_version, 0);
	CHECK_EQ_INT(a.platform, ATT_PLATFORM_TDX);
	CHECK_HEX(a.quote.p, a.quote.len, quote_hex);
	CHECK_EQ_INT(a.n_event_log, 0);
	CHECK_EQ_INT(a.n_runtime_events, 0);
	CHECK_EQ_INT(a.report_data.len, 64);
	CHECK_EQ_INT(a.config.len, 0);
	/* Re-encoding the decoded attestation gives back the received bytes. */
	struct buf out = BUF_INIT;
	CHECK_OK(attestation_encode(&a, &out, &err), &err);
	CHECK(out.len == c.attestation_len && memcmp(out.p, c.attestation, out.len) == 0);
	/* and re-encoding the whole CSR gives back the vector */
	struct buf whole = BUF_INIT;
	CHECK_OK(csr_encode_v2(&c, &whole, &err), &err);
	CHECK(whole.len == n && memcmp(whole.p, b, n) == 0);
	/* truncated at every length: the CSR or its attestation is refused */
	for (size_t k = 0; k < n; k++) {
		struct attestation t;
		attestation_init(&t);
		int ok = csr_decode(2, b, k, &c, &err) == 0 &&
			 attestation_decode(c.attestation, c.attestation_len, &t, &err) == 0;
		attestation_free(&t);
		CHECK_MSG(!ok, "truncated to %zu bytes accepted", k);
	}
	buf_free(&whole);
	buf_free(&out);
	attestation_free(&a);
	free(b);
}

TEST(test_scale_decodes_csr_v2_vector_without_quote)
{
	check_csr_vector("44706c65617365207369676e20636572743a0c0102030040746573742e6578616d706c65"
			 "2e636f6d0001000000000000000000000000000000000000000000000000000000000000"
			 "000000000000000000000000000000000000000000000000000000000000000000000000"
			 "000000000000000000",
			 0, "");
}

TEST(test_scale_decodes_csr_v2_vector_with_quote)
{
	check_csr_vector("44706c65617365207369676e20636572743a0c0102030040746573742e6578616d706c65"
			 "2e636f6d0001000100000000000409000000000000000000000000000000000000000000"
			 "000000000000000000000000000000000000000000000000000000000000000000000000"
			 "00000000000000000000",
			 1, "09");
}
