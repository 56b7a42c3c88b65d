/*
 * test_shared_helpers.c — the helpers that replace duplicated code: the date
 * helper (util/date.h), the hex-text decoder (util/hex.h), the PEM-chain
 * loader with its certificate cap (crypto/cert.h), the SGX extension parser
 * (attest/pck_ext.h) and the PCCS URL normaliser (collateral_source.h).
 */
#include "harness.h"

#include "attest/pck_ext.h"
#include "attest/quote.h"
#include "collateral/collateral_source.h"
#include "crypto/cert.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/hex.h"
#include "util/json_scan.h"

#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

TEST(test_date_round_trips_and_matches_known_dates)
{
	CHECK_EQ_INT(date_days_from_civil(1970, 1, 1), 0);
	CHECK_EQ_INT(date_days_from_civil(2000, 3, 1), 11017);
	CHECK_EQ_INT(date_days_from_civil(1969, 12, 31), -1);
	for (int64_t d = -800000; d <= 800000; d += 997) {
		int64_t y;
		int m, dd;
		date_civil_from_days(d, &y, &m, &dd);
		CHECK_EQ_INT(date_days_from_civil(y, m, dd), d);
	}
	struct tm tm = {.tm_year = 125, .tm_mon = 6, .tm_mday = 19, .tm_hour = 10, .tm_sec = 35};
	CHECK_EQ_INT(date_unix_from_tm(&tm), 1752919235);
	char s[32];
	CHECK_EQ_INT(date_format_rfc3339(1752919234, s), 0);
	CHECK_EQ_STR(s, "2025-07-19T10:00:34Z");
	CHECK_EQ_INT(date_format_rfc3339(-1, s), 0);
	CHECK_EQ_STR(s, "1969-12-31T23:59:59Z");
	CHECK_EQ_INT(date_format_rfc3339(DATE_MAX_YEAR9999, s), 0);
	CHECK_EQ_STR(s, "9999-12-31T23:59:59Z");
	CHECK_EQ_INT(date_format_rfc3339(DATE_MAX_YEAR9999 + 1, s), -1);
}

TEST(test_hex_decode_text_accepts_prefix_and_whitespace_and_is_bounded)
{
	struct buf b = BUF_INIT;
	struct err e;
	CHECK_OK(hex_decode_text(" \n0xAB cd\n\tEF \n", 15, 0, &b, &e), &e);
	CHECK_HEX(b.p, b.len, "abcdef");
	buf_reset(&b);
	CHECK_FAILS(hex_decode_text("0x0g", 4, 0, &b, &e));
	CHECK_CONTAINS(e.msg, "byte 4");
	CHECK_FAILS(hex_decode_text("abc", 3, 0, &b, &e));
	CHECK_CONTAINS(e.msg, "odd");
	CHECK_FAILS(hex_decode_text(" 0x ", 4, 0, &b, &e));
	CHECK_CONTAINS(e.msg, "no digits");
	CHECK_FAILS(hex_decode_text("00112233", 8, 3, &b, &e));
	CHECK_CONTAINS(e.msg, "longer than 3 bytes");
	CHECK_EQ_INT(b.len, 0);
	CHECK_OK(hex_decode_text("001122", 6, 3, &b, &e), &e);
	CHECK_EQ_INT(b.len, 3);
	buf_free(&b);
}

/* The real quote's PCK chain (leaf, intermediate, root). */
static uint8_t *real_chain(struct tdx_quote *q, size_t *n)
{
	struct err e;
	uint8_t *raw = t_read_vector("dcap-qvl/tdx_quote.bin", n);
	if (raw && quote_parse(raw, *n, q, &e) < 0) {
		free(raw);
		return NULL;
	}
	return raw;
}

TEST(test_cert_chain_from_pem_reads_in_order_and_caps_the_count)
{
	struct tdx_quote q;
	struct err e;
	size_t n;
	uint8_t *raw = real_chain(&q, &n);
	CHECK(raw && q.pck_chain_pem);
	STACK_OF(X509) *sk = cert_chain_from_pem(q.pck_chain_pem, q.pck_chain_len, 0, &e);
	CHECK_MSG(sk, "%s", e.msg);
	CHECK_EQ_INT(sk_X509_num(sk), 3);
	sk_X509_pop_free(sk, X509_free);
	CHECK(cert_chain_from_pem(q.pck_chain_pem, q.pck_chain_len, 2, &e) == NULL);
	CHECK_CONTAINS(e.msg, "more than 2 certificates");
	sk = cert_chain_from_pem("", 0, 0, &e);
	CHECK(sk && sk_X509_num(sk) == 0);
	sk_X509_free(sk);
	const char *bad = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
	CHECK(cert_chain_from_pem(bad, strlen(bad), 0, &e) == NULL);
	CHECK_CONTAINS(e.msg, "malformed");
	free(raw);
}

TEST(test_cert_chain_from_pem_shares_a_parsed_chain_per_distinct_text)
{
	struct tdx_quote q;
	struct err e;
	size_t n;
	uint8_t *raw = real_chain(&q, &n);
	CHECK(raw && q.pck_chain_pem);
	cert_chain_cache_clear();
	STACK_OF(X509) *a = cert_chain_from_pem(q.pck_chain_pem, q.pck_chain_len, 0, &e);
	STACK_OF(X509) *b = cert_chain_from_pem(q.pck_chain_pem, q.pck_chain_len, 0, &e);
	CHECK(a && b && sk_X509_num(a) == 3 && sk_X509_num(b) == 3);
	/* the second call gets the same objects, in the same order */
	for (int i = 0; i < 3; i++)
		CHECK(sk_X509_value(a, i) == sk_X509_value(b, i));
	/* each stack owns its references: freeing one leaves the other usable */
	sk_X509_pop_free(a, X509_free);
	CHECK(X509_get_subject_name(sk_X509_value(b, 0)) != NULL);
	/* the cap still applies to a cached chain */
	CHECK(cert_chain_from_pem(q.pck_chain_pem, q.pck_chain_len, 2, &e) == NULL);
	CHECK_CONTAINS(e.msg, "more than 2 certificates");
	/* another text (one certificate less) is parsed on its own */
	char *second = strstr((char *)q.pck_chain_pem + 1, "-----BEGIN CERTIFICATE-----");
	CHECK(second);
	size_t rest = q.pck_chain_len - (size_t)(second - (char *)q.pck_chain_pem);
	STACK_OF(X509) *c = cert_chain_from_pem(second, rest, 0, &e);
	CHECK(c && sk_X509_num(c) == 2);
	CHECK(X509_cmp(sk_X509_value(c, 0), sk_X509_value(b, 1)) == 0);
	sk_X509_pop_free(c, X509_free);
	sk_X509_pop_free(b, X509_free);
	cert_chain_cache_clear();
	free(raw);
}

TEST(test_pck_ext_parses_real_leaf_and_reports_missing_extension)
{
	struct tdx_quote q;
	struct err e;
	size_t n;
	uint8_t *raw = real_chain(&q, &n);
	CHECK(raw);
	STACK_OF(X509) *sk = cert_chain_from_pem(q.pck_chain_pem, q.pck_chain_len, 0, &e);
	CHECK_MSG(sk, "%s", e.msg);
	struct pck_ext x;
	char why[256];
	CHECK_EQ_INT(pck_ext_parse(sk_X509_value(sk, 0), &x, why, sizeof why), 0);
	CHECK_HEX(x.fmspc, 6, "b0c06f000000");
	for (int f = 0; f < PCK_EXT_NFIELDS; f++)
		CHECK_EQ_INT(x.state[f], PCK_EXT_OK);
	/* the root has no SGX extension */
	X509 *root = sk_X509_value(sk, sk_X509_num(sk) - 1);
	CHECK_EQ_INT(pck_ext_read(root, &x, why, sizeof why), -2);
	CHECK(pck_ext_parse(root, &x, why, sizeof why) < 0);
	CHECK_CONTAINS(why, "Intel extension not found");
	sk_X509_pop_free(sk, X509_free);
	free(raw);
}

TEST(test_pccs_url_normalize_strips_slashes_and_api_path)
{
	char out[128];
	struct err e;
	CHECK_OK(collateral_pccs_url_normalize("--pccs", "https://p.example/sgx/certification/v4/",
					       out, sizeof out, &e),
		 &e);
	CHECK_EQ_STR(out, "https://p.example");
	CHECK_OK(collateral_pccs_url_normalize("x", "http://h:8081/base//", out, sizeof out, &e),
		 &e);
	CHECK_EQ_STR(out, "http://h:8081/base");
	CHECK_OK(collateral_pccs_url_normalize("x", "https://h/tdx/certification/v4", out,
					       sizeof out, &e),
		 &e);
	CHECK_EQ_STR(out, "https://h");
	CHECK_FAILS(collateral_pccs_url_normalize("--pccs", "ftp://h", out, sizeof out, &e));
	CHECK_EQ_STR(e.msg, "--pccs must be an http:// or https:// URL");
	CHECK_FAILS(collateral_pccs_url_normalize("x", "https://a-long-host", out, 8, &e));
}

TEST(test_json_scan_cut_gives_the_exact_bytes_of_a_member)
{
	const char *t =
	    "{ \"a\" : [1, {\"x\":\"}\\\"\"}] ,\"tcbInfo\":{ \"k\" :  1.0e0 } , \"z\":true}";
	size_t off, len;
	CHECK_EQ_INT(json_scan_cut(t, strlen(t), "tcbInfo", &off, &len), 0);
	CHECK(len == strlen("{ \"k\" :  1.0e0 }") &&
	      memcmp(t + off, "{ \"k\" :  1.0e0 }", len) == 0);
	CHECK_EQ_INT(json_scan_cut(t, strlen(t), "z", &off, &len), 0);
	CHECK(len == 4 && memcmp(t + off, "true", 4) == 0);
	CHECK_EQ_INT(json_scan_cut(t, strlen(t), "missing", &off, &len), -1);
	CHECK_EQ_INT(json_scan_cut(t, 20, "tcbInfo", &off, &len), -1); /* truncated */
	CHECK_EQ_INT(json_scan_cut("[1]", 3, "a", &off, &len), -1);
	CHECK_EQ_INT(json_scan_cut("{\"a\":\"\\", 7, "a", &off, &len), -1);
}
