/*
 * test_quote.c — the TDX quote parser (attestation §1). Expected field values
 * come from dcap-qvl's own parse snapshot
 * (tests/vectors/dcap-qvl/verify_quote__could_parse_tdx_quote.snap, decimal
 * byte lists transcribed to hex) and, for the v5/TD15 and hex-text quotes,
 * from reading the files at the spec's offsets with a separate script — never
 * from this parser's output. Error paths: SGX refusal, every truncation, bad
 * versions, body types, sizes and certification data types.
 */
#include "harness.h"

#include "attest/quote.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

static uint8_t *load(const char *rel, size_t *len)
{
	return t_read_vector(rel, len);
}

TEST(test_quote_parses_dcap_qvl_snapshot_fields)
{
	size_t n;
	uint8_t *buf = load("dcap-qvl/tdx_quote.bin", &n);
	struct tdx_quote q;
	struct err e;
	CHECK(buf);
	CHECK_OK(quote_parse(buf, n, &q, &e), &e);
	/* header (snapshot: Header { ... }) */
	CHECK_EQ_INT(q.version, 4);
	CHECK_EQ_INT(q.att_key_type, 2);
	CHECK_EQ_INT(q.tee_type, 129);
	CHECK_EQ_INT(q.body_type, 2);
	CHECK_HEX(q.qe_vendor_id, 16, "939a7233f79c4ca9940a0db3957f0607");
	CHECK_HEX(q.user_data, 20, "889b7d6ff9df2405b240a830e73faf3d00000000");
	/* TDReport10 */
	const struct tdx_report *r = &q.report;
	CHECK_EQ_INT(r->is_td15, 0);
	CHECK_HEX(r->tee_tcb_svn, 16, "06010300000000000000000000000000");
	CHECK_HEX(r->mr_seam, 48,
		  "5b38e33a6487958b72c3c12a938eaa5e3fd4510c51aeeab58c7d5ecee41d7c436489d6c8e4f92f"
		  "160b7cad34207b00c1");
	CHECK_HEX(r->mr_signer_seam, 48,
		  "000000000000000000000000000000000000000000000000000000000000000000000000000000"
		  "000000000000000000");
	CHECK_HEX(r->seam_attributes, 8, "0000000000000000");
	CHECK_HEX(r->td_attributes, 8, "0000001000000000");
	CHECK_HEX(r->xfam, 8, "e702060000000000");
	CHECK_HEX(r->mr_td, 48,
		  "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f"
		  "27428b2538873118b7");
	CHECK_HEX(r->mr_config_id, 48,
		  "000000000000000000000000000000000000000000000000000000000000000000000000000000"
		  "000000000000000000");
	CHECK_HEX(r->mr_owner, 48,
		  "000000000000000000000000000000000000000000000000000000000000000000000000000000"
		  "000000000000000000");
	CHECK_HEX(r->mr_owner_config, 48,
		  "000000000000000000000000000000000000000000000000000000000000000000000000000000"
		  "000000000000000000");
	CHECK_HEX(r->rtmr[0], 48,
		  "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80"
		  "b6a540cf994b9bc9c0");
	CHECK_HEX(r->rtmr[1], 48,
		  "0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c17301"
		  "9b3093d54e579e9378");
	CHECK_HEX(r->rtmr[2], 48,
		  "d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d733"
		  "0733642e01d48c3132");
	CHECK_HEX(r->rtmr[3], 48,
		  "000000000000000000000000000000000000000000000000000000000000000000000000000000"
		  "000000000000000000");
	CHECK_HEX(r->report_data, 64,
		  "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb48160"
		  "1c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20");
	/* AuthDataV4 */
	CHECK_HEX(q.signature, 64,
		  "f156eac8ad01d79f7cce668f60005819b22f2151a66155a430ad4f7a9538ae31330f9dfd5424e7"
		  "c4124b44a668cb97fe2da48e617252ee5aeb6252d48e9324e5");
	CHECK_HEX(q.attest_key, 64,
		  "c78ac5859b9f567238fad82ad63202bc516ee7ad14ec1d9adfc633e4cf5f71f73d6138ce76d0d9"
		  "c1443f695464d1ed419c37ce696e70e95a5b317894a5897907");
	CHECK_HEX(q.qe_report_signature, 64,
		  "ca1bd340a4c8437b3d3d6fcf8b40030ddb7ac7f22d9597f4b593120350c891cafdf7c699e6feac"
		  "62e44d474b48c653114a2adf325623b6a218a166a27dfe8550");
	CHECK_EQ_INT(q.qe_auth_data_len, 32);
	CHECK_HEX(q.qe_auth_data, 32,
		  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	/* QE report (snapshot qe_report bytes, fields at the §1.3 offsets) */
	CHECK_HEX(q.qe_report.cpu_svn, 16, "0303191b04ff00060000000000000000");
	CHECK_EQ_INT(q.qe_report.misc_select, 0);
	CHECK_HEX(q.qe_report.attributes, 16, "1500000000000000e700000000000000");
	CHECK_HEX(q.qe_report.mr_enclave, 32,
		  "e5a3a7b5d830c2953b98534c6c59a3a34fdc34e933f7f5898f0a85cf08846bca");
	CHECK_HEX(q.qe_report.mr_signer, 32,
		  "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5");
	CHECK_EQ_INT(q.qe_report.isv_prod_id, 2);
	CHECK_EQ_INT(q.qe_report.isv_svn, 6);
	CHECK_HEX(q.qe_report.report_data, 64,
		  "c936492a774946af9b588f6b3bd8beddc5957d1761ded2c0bb61d7b64de5b3240000000000000000"
		  "000000000000000000000000000000000000000000000000");
	CHECK_HEX(q.qe_report_raw, 16, "0303191b04ff00060000000000000000");
	/* inner certification data: type 5, 3678-byte NUL-terminated PEM chain */
	CHECK_EQ_INT(q.cert_data_type, 5);
	CHECK_EQ_INT(q.pck_chain_len, 3678);
	CHECK(q.pck_chain_pem == (const char *)q.cert_data);
	CHECK(memcmp(q.pck_chain_pem, "-----BEGIN CERTIFICATE-----\nMIIE8TCCBJagAwIBAgIUPBbt",
		     52) == 0);
	CHECK(memcmp(q.pck_chain_pem + 3678 - 27, "-----END CERTIFICATE-----\n\0", 27) == 0);
	/* regions: signed [0, 632) (§1.2); the quote ends at 4936, 70 bytes of padding */
	CHECK(q.signed_data == buf);
	CHECK_EQ_INT(q.signed_len, 632);
	CHECK_EQ_INT(q.used_len, 4936);
	CHECK(q.qe_report_raw == buf + 770); /* §1.3 concrete offsets */
	CHECK((const uint8_t *)q.pck_chain_pem == buf + 1258);
	free(buf);
}

TEST(test_quote_parses_v5_td15_body)
{
	size_t n;
	uint8_t *buf = load("dcap-qvl/tdx_quote_outdated.bin", &n);
	struct tdx_quote q;
	struct err e;
	CHECK(buf);
	CHECK_OK(quote_parse(buf, n, &q, &e), &e);
	CHECK_EQ_INT(q.version, 5);
	CHECK_EQ_INT(q.body_type, 3);
	CHECK_EQ_INT(q.report.is_td15, 1);
	CHECK_EQ_INT(q.signed_len, 702);
	CHECK_EQ_INT(q.used_len, 5006);
	CHECK_HEX(q.report.tee_tcb_svn, 16, "07010300000000000000000000000000");
	CHECK_HEX(q.report.mr_seam, 48,
		  "49b66faa451d19ebbdbe89371b8daf2b65aa3984ec90110343e9e2eec116af08850fa20e3b1aa9"
		  "a874d77a65380ee7e6");
	CHECK_HEX(q.report.td_attributes, 8, "0000001000000000");
	CHECK_HEX(q.report.mr_td, 48,
		  "273828c46252fcbdd8ad2dd907130222b03466d52a2911d70c1a5950895d6bd1ae451d382d5a9b"
		  "1b4c0ed0e5ae9a3dbd");
	CHECK_HEX(q.report.report_data, 64,
		  "d2142b643598eb5fae2bc8529dd79a558b29f868ccbb6531cb28dab9dce47728"
		  "0000000000000000000000000000000000000000000000000000000000000000");
	CHECK_HEX(q.report.tee_tcb_svn2, 16, "0d010300000000000000000000000000");
	CHECK_HEX(q.report.mr_service_td, 48,
		  "000000000000000000000000000000000000000000000000000000000000000000000000000000"
		  "000000000000000000");
	CHECK_HEX(q.signature, 64,
		  "55cce3b63e81b310cf0a2b1568206eb3038881f3f77191cf1f5e93f8c18314dcb4c4ca7195d2f9"
		  "d4dfe4d501cec3b2293aadfadf05619e7ffdd2f6b30256888b");
	CHECK_EQ_INT(q.qe_auth_data_len, 32);
	CHECK_EQ_INT(q.cert_data_type, 5);
	CHECK_EQ_INT(q.pck_chain_len, 3678);
	free(buf);
}

static int parse_hex_file(const char *rel, struct buf *bytes, struct tdx_quote *q, struct err *e)
{
	size_t n;
	uint8_t *text = load(rel, &n);
	int rc = -1;
	if (!text)
		return err_set(e, "cannot read %s", rel);
	if (quote_hex_decode((const char *)text, n, bytes, e) == 0)
		rc = quote_parse(bytes->p, bytes->len, q, e);
	free(text);
	return rc;
}

TEST(test_quote_parses_hex_text_with_0x_prefix)
{
	struct buf b = BUF_INIT;
	struct tdx_quote q;
	struct err e;
	CHECK_OK(parse_hex_file("dcap-qvl/tdx-quote.hex", &b, &q, &e), &e);
	CHECK_EQ_INT(b.len, 5006);
	CHECK_EQ_INT(q.version, 4);
	CHECK_EQ_INT(q.used_len, 4936);
	CHECK_HEX(q.report.mr_td, 48,
		  "7ba9e262ce6979087e34632603f354dd8f8a870f5947d116af8114db6c9d0d74c48bec4280e5b4"
		  "f4a37025a10905bb29");
	CHECK_HEX(q.report.report_data, 64,
		  "7148f47ef58b475fce69b386e2d6b4c964a9533cc328ea8e544db66612a5174698d006951cefa8"
		  "fd4450e884300638e567e22f9a012ef5754aa6a9d9564fcd8a");
	buf_free(&b);
}

TEST(test_quote_parses_hex_text_from_tappd)
{
	struct buf b = BUF_INIT;
	struct tdx_quote q;
	struct err e;
	CHECK_OK(parse_hex_file("dcap-qvl/quote-from-tappd.hex", &b, &q, &e), &e);
	CHECK_EQ_INT(b.len, 5006);
	CHECK_HEX(q.report.mr_td, 48,
		  "c68518a0ebb42136c12b2275164f8c72f25fa9a34392228687ed6e9caeb9c0f1dbd895e9cf4751"
		  "21c029dc47e70e91fd");
	CHECK_HEX(q.report.report_data, 64,
		  "7668c6b4eafb62301c72714ecc7d90ce9a0e04b52dc117720df2047b0a59f1dbd937243eef1410"
		  "a3cdc524aad66d4554b4f18b54da2fc0608dac40d6dea5f1d4");
	buf_free(&b);
}

TEST(test_quote_hex_decode_rejects_bad_hex_and_accepts_whitespace)
{
	struct buf b = BUF_INIT;
	struct err e;
	CHECK_OK(quote_hex_decode("  0XAbcd\n", 9, &b, &e), &e);
	CHECK_HEX(b.p, b.len, "abcd");
	buf_reset(&b);
	CHECK_FAILS(quote_hex_decode("0x0g", 4, &b, &e));
	CHECK_CONTAINS(e.msg, "not valid hex");
	CHECK_EQ_INT(b.len, 0);
	CHECK_FAILS(quote_hex_decode("abc", 3, &b, &e));
	buf_free(&b);
}

TEST(test_quote_rejects_sgx_v3_quote)
{
	size_t n;
	uint8_t *buf = load("dcap-qvl/sgx_quote.bin", &n);
	struct tdx_quote q;
	struct err e;
	CHECK(buf);
	CHECK_FAILS(quote_parse(buf, n, &q, &e));
	CHECK_CONTAINS(e.msg, "SGX quote (version 3)");
	CHECK_CONTAINS(e.msg, "only TDX");
	free(buf);
}

/* Copies the first len bytes into an exactly sized heap block, so ASan sees
 * any read past the end. */
static int parse_prefix(const uint8_t *buf, size_t len, struct tdx_quote *q, struct err *e)
{
	uint8_t *p = malloc(len ? len : 1);
	int rc;
	if (!p)
		return -2;
	memcpy(p, buf, len);
	rc = quote_parse(p, len, q, e);
	free(p);
	return rc;
}

static void check_truncations(const char *rel, size_t used)
{
	size_t n;
	uint8_t *buf = load(rel, &n);
	struct tdx_quote q;
	struct err e;
	CHECK(buf);
	CHECK(n >= used);
	for (size_t len = 0; len < used; len++) {
		e.msg[0] = '\0';
		int rc = parse_prefix(buf, len, &q, &e);
		CHECK_MSG(rc == -1, "%s truncated to %zu bytes: rc %d", rel, len, rc);
		CHECK_MSG(e.msg[0] != '\0', "%s truncated to %zu: empty message", rel, len);
	}
	/* the padding after the quote is not needed */
	CHECK_EQ_INT(parse_prefix(buf, used, &q, &e), 0);
	CHECK_EQ_INT(q.used_len, used);
	free(buf);
}

TEST(test_quote_every_truncation_of_v4_quote_fails_cleanly)
{
	check_truncations("dcap-qvl/tdx_quote.bin", 4936);
}

TEST(test_quote_every_truncation_of_v5_quote_fails_cleanly)
{
	check_truncations("dcap-qvl/tdx_quote_outdated.bin", 5006);
}

TEST(test_quote_rejects_null_and_empty)
{
	struct tdx_quote q;
	struct err e;
	CHECK_FAILS(quote_parse(NULL, 0, &q, &e));
	CHECK_FAILS(quote_parse((const uint8_t *)"", 0, &q, &e));
	CHECK_CONTAINS(e.msg, "truncated at header");
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Parse a copy of a vector with one edit applied. */
static int parse_edited(const char *rel, size_t off, const uint8_t *bytes, size_t nb,
			struct tdx_quote *q, struct err *e)
{
	size_t n;
	uint8_t *buf = load(rel, &n);
	int rc;
	if (!buf || off + nb > n) {
		free(buf);
		return -2;
	}
	memcpy(buf + off, bytes, nb);
	rc = quote_parse(buf, n, q, e);
	free(buf);
	return rc;
}

TEST(test_quote_rejects_unknown_version_and_tee_type)
{
	struct tdx_quote q;
	struct err e;
	uint8_t b[4];
	put16(b, 6);
	CHECK_EQ_INT(parse_edited("dcap-qvl/tdx_quote.bin", 0, b, 2, &q, &e), -1);
	CHECK_CONTAINS(e.msg, "Unsupported DCAP quote version 6");
	put32(b, 0); /* SGX TEE type in a v4 quote */
	CHECK_EQ_INT(parse_edited("dcap-qvl/tdx_quote.bin", 4, b, 4, &q, &e), -1);
	CHECK_CONTAINS(e.msg, "SGX TEE type");
	put32(b, 0x82);
	CHECK_EQ_INT(parse_edited("dcap-qvl/tdx_quote.bin", 4, b, 4, &q, &e), -1);
	CHECK_CONTAINS(e.msg, "Unsupported TEE type: 130");
}

TEST(test_quote_v5_rejects_sgx_and_unknown_body_and_bad_size)
{
	struct tdx_quote q;
	struct err e;
	uint8_t b[4];
	put16(b, 1);
	CHECK_EQ_INT(parse_edited("dcap-qvl/tdx_quote_outdated.bin", 48, b, 2, &q, &e), -1);
	CHECK_CONTAINS(e.msg, "SGX enclave report body");
	put16(b, 4);
	CHECK_EQ_INT(parse_edited("dcap-qvl/tdx_quote_outdated.bin", 48, b, 2, &q, &e), -1);
	CHECK_CONTAINS(e.msg, "unsupported body type 4");
	put16(b, 2); /* says TD10 but the size says TD15 */
	CHECK_EQ_INT(parse_edited("dcap-qvl/tdx_quote_outdated.bin", 48, b, 2, &q, &e), -1);
	CHECK_CONTAINS(e.msg, "body size 648 does not match body type 2");
	put32(b, 584);
	CHECK_EQ_INT(parse_edited("dcap-qvl/tdx_quote_outdated.bin", 50, b, 4, &q, &e), -1);
	CHECK_CONTAINS(e.msg, "body size 584 does not match body type 3");
}

TEST(test_quote_rejects_oversized_or_overlong_lengths)
{
	struct tdx_quote q;
	struct err e;
	uint8_t b[4];
	put32(b, 0x00100001); /* auth data > 1 MiB (dcap-qvl's cap) */
	CHECK_EQ_INT(parse_edited("dcap-qvl/tdx_quote.bin", 632, b, 4, &q, &e), -1);
	CHECK_CONTAINS(e.msg, "auth data length 1048577 exceeds the maximum");
	put32(b, 5000); /* longer than what is left */
	CHECK_EQ_INT(parse_edited("dcap-qvl/tdx_quote.bin", 632, b, 4, &q, &e), -1);
	CHECK_CONTAINS(e.msg, "truncated at auth data");
	put32(b, 4300); /* the outer certification data overruns the auth data */
	CHECK_EQ_INT(parse_edited("dcap-qvl/tdx_quote.bin", 766, b, 4, &q, &e), -1);
	CHECK_CONTAINS(e.msg, "truncated at QE report certification data");
	put16(b, 0xffff); /* QE auth data overruns the certification data */
	CHECK_EQ_INT(parse_edited("dcap-qvl/tdx_quote.bin", 1218, b, 2, &q, &e), -1);
	CHECK_CONTAINS(e.msg, "truncated at QE auth data");
	put32(b, 3679); /* PEM one byte past the end of the QE certification data */
	CHECK_EQ_INT(parse_edited("dcap-qvl/tdx_quote.bin", 1254, b, 4, &q, &e), -1);
	CHECK_CONTAINS(e.msg, "truncated at certification data");
}

TEST(test_quote_requires_qe_report_certification_data)
{
	struct tdx_quote q;
	struct err e;
	uint8_t b[2];
	put16(b, 5);
	CHECK_EQ_INT(parse_edited("dcap-qvl/tdx_quote.bin", 764, b, 2, &q, &e), -1);
	CHECK_CONTAINS(e.msg, "outer certification data type is 5, expected 6");
}

TEST(test_quote_keeps_non_pem_inner_certification_data)
{
	struct tdx_quote q;
	struct err e;
	uint8_t b[2];
	put16(b, 3); /* encrypted PPID: parses, but there is no PEM chain */
	CHECK_OK(parse_edited("dcap-qvl/tdx_quote.bin", 1252, b, 2, &q, &e), &e);
	CHECK_EQ_INT(q.cert_data_type, 3);
	CHECK(q.pck_chain_pem == NULL);
	CHECK_EQ_INT(q.pck_chain_len, 0);
	CHECK_EQ_INT(q.cert_data_len, 3678);
}
