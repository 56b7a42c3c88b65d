/*
 * test_ratls.c — attestation extraction from RA-TLS certificates and the
 * REPORTDATA binding (attest/ratls.h), with the mock certificates of
 * tests/vectors/mock (expected values from mock_meta.json, made by an
 * independent generator) and certificates built here with OpenSSL for the
 * cases the vectors do not cover (.1.1 without .1.2, duplicates, garbage).
 */
#include "harness.h"

#include "attest/ratls.h"
#include "crypto/cert.h"
#include "util/buf.h"
#include "util/err.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#define REPORT_DATA_A                                                                              \
	"c4cc1aa93b11766258a6ac4acd375f26466c0ad27ff355d5304e56f67c02061209f1d305941e38eb7d9aa6"   \
	"7ace9b387fc34a0f5d58a9ea4d99798040450b7666"
#define SPKI_A                                                                                     \
	"3059301306072a8648ce3d020106082a8648ce3d03010703420004459ebcb1533232884f3e092f6494f5100"  \
	"6c5b5efc212948b1eab0421b30de7c8ebc28049ea525d6823fa0c410042a308e7b663723dc00455aedc7be9"  \
	"40f793ac"

static X509 *load_cert(const char *rel)
{
	size_t n;
	uint8_t *pem = t_read_vector(rel, &n);
	struct err err;
	X509 *x = pem ? cert_from_pem((const char *)pem, n, &err) : NULL;
	free(pem);
	return x;
}

struct ext {
	const char *oid;
	const uint8_t *val;
	size_t len;
};

/* A self-signed P-256 certificate carrying the given custom extensions, each
 * value wrapped in an inner DER OCTET STRING as rcgen does (§3.1). */
static X509 *cert_with_exts(const struct ext *exts, size_t n)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	if (!k || !x)
		goto fail;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"t", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509_set_pubkey(x, k);
	for (size_t i = 0; i < n; i++) {
		ASN1_OCTET_STRING *inner = ASN1_OCTET_STRING_new();
		ASN1_OCTET_STRING *outer = ASN1_OCTET_STRING_new();
		ASN1_OBJECT *obj = OBJ_txt2obj(exts[i].oid, 1);
		unsigned char *der = NULL;
		ASN1_OCTET_STRING_set(inner, exts[i].val, (int)exts[i].len);
		int dlen = i2d_ASN1_OCTET_STRING(inner, &der);
		ASN1_OCTET_STRING_set(outer, der, dlen);
		X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, outer);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
		OPENSSL_free(der);
		ASN1_OBJECT_free(obj);
		ASN1_OCTET_STRING_free(inner);
		ASN1_OCTET_STRING_free(outer);
	}
	if (!X509_sign(x, k, EVP_sha256()))
		goto fail;
	EVP_PKEY_free(k);
	return x;
fail:
	EVP_PKEY_free(k);
	X509_free(x);
	return NULL;
}

TEST(test_ratls_report_data_is_sha512_of_tag_and_spki)
{
	size_t n;
	uint8_t *spki = t_unhex(SPKI_A, &n);
	uint8_t rd[64];
	struct err err;
	CHECK(spki != NULL);
	CHECK_OK(ratls_report_data(RATLS_TAG_CERT, spki, n, rd, &err), &err);
	CHECK_HEX(rd, 64, REPORT_DATA_A);
	free(spki);
}

TEST(test_ratls_cert_a_carries_v0_attestation_bound_to_its_key)
{
	X509 *x = load_cert("mock/ratls_cert_A.pem");
	struct attestation a;
	struct err err;
	CHECK(x != NULL);
	CHECK_EQ_INT(ratls_extract(x, &a, &err), 1);
	CHECK_EQ_INT(a.wire_version, 0);
	CHECK_EQ_INT(a.platform, ATT_PLATFORM_TDX);
	CHECK_EQ_INT(a.n_runtime_events, 5);
	CHECK_EQ_STR(a.runtime_events[4].event, "boot-mr-done");
	CHECK_HEX(a.report_data.p, a.report_data.len, REPORT_DATA_A);
	CHECK(a.config.len > 0);
	CHECK_OK(ratls_check_binding(&a, x, &err), &err);
	struct buf spki = BUF_INIT;
	CHECK_OK(cert_spki_der(x, &spki, &err), &err);
	CHECK_HEX(spki.p, spki.len, SPKI_A);
	buf_free(&spki);
	attestation_free(&a);
	X509_free(x);
}

TEST(test_ratls_legacy_oids_give_quote_event_log_attestation)
{
	X509 *x = load_cert("mock/ratls_cert_A_legacy_oids.pem");
	struct attestation a;
	struct err err;
	CHECK(x != NULL);
	CHECK_EQ_INT(ratls_extract(x, &a, &err), 1);
	CHECK_EQ_INT(a.wire_version, 0);
	CHECK_EQ_INT(a.n_runtime_events, 5);
	CHECK(a.n_event_log >= 5);
	CHECK_EQ_INT(a.config.len, 0);
	CHECK_HEX(a.report_data.p, a.report_data.len, REPORT_DATA_A);
	CHECK_OK(ratls_check_binding(&a, x, &err), &err);
	attestation_free(&a);
	X509_free(x);
}

TEST(test_ratls_cert_b_fails_binding_with_report_data_mismatch)
{
	X509 *x = load_cert("mock/ratls_cert_B_wrong_binding.pem");
	struct attestation a;
	struct err err;
	CHECK(x != NULL);
	CHECK_EQ_INT(ratls_extract(x, &a, &err), 1);
	CHECK_HEX(a.report_data.p, a.report_data.len, REPORT_DATA_A);
	CHECK_FAILS(ratls_check_binding(&a, x, &err));
	CHECK_EQ_STR(err.msg, "report data mismatch");
	attestation_free(&a);
	X509_free(x);
}

TEST(test_ratls_binding_against_a_given_spki)
{
	X509 *x = load_cert("mock/ratls_cert_A.pem");
	struct attestation a;
	struct err err;
	size_t n;
	uint8_t *spki = t_unhex(SPKI_A, &n);
	CHECK(x && spki);
	CHECK_EQ_INT(ratls_extract(x, &a, &err), 1);
	CHECK_OK(ratls_check_binding_spki(&a, spki, n, &err), &err);
	spki[n - 1] ^= 1;
	CHECK_FAILS(ratls_check_binding_spki(&a, spki, n, &err));
	CHECK_EQ_STR(err.msg, "report data mismatch");
	a.report_data.len = 32;
	CHECK_FAILS(ratls_check_binding_spki(&a, spki, n, &err));
	CHECK_CONTAINS(err.msg, "64 bytes");
	a.report_data.len = 64;
	attestation_free(&a);
	free(spki);
	X509_free(x);
}

TEST(test_ratls_cert_without_attestation_has_none)
{
	struct ext e = {OID_APP_ID, (const uint8_t *)"01234567890123456789", 20};
	X509 *x = cert_with_exts(&e, 1);
	struct attestation a;
	struct err err;
	CHECK(x != NULL);
	CHECK_EQ_INT(ratls_extract(x, &a, &err), 0);
	X509_free(x);
}

TEST(test_ratls_quote_without_event_log_is_an_error)
{
	size_t n;
	uint8_t *q = t_read_vector("mock/quote_ratls_A.bin", &n);
	CHECK(q != NULL);
	struct ext e = {OID_TDX_QUOTE, q, n};
	X509 *x = cert_with_exts(&e, 1);
	struct attestation a;
	struct err err;
	CHECK(x != NULL);
	CHECK_EQ_INT(ratls_extract(x, &a, &err), -1);
	CHECK_EQ_STR(err.msg, "TDX event log missing");
	X509_free(x);
	free(q);
}

TEST(test_ratls_attestation_extension_errors_are_fatal)
{
	struct attestation a;
	struct err err;
	/* Garbage in .1.8 is an error even when .1.1/.1.2 are present. */
	const uint8_t junk[] = {0x01, 0x02};
	struct ext e[3] = {{OID_ATTESTATION, junk, sizeof junk},
			   {OID_TDX_QUOTE, junk, sizeof junk},
			   {OID_EVENT_LOG, (const uint8_t *)"[]", 2}};
	X509 *x = cert_with_exts(e, 3);
	CHECK(x != NULL);
	CHECK_EQ_INT(ratls_extract(x, &a, &err), -1);
	CHECK_CONTAINS(err.msg, "Failed to decode attestation from cert extension");
	CHECK_CONTAINS(err.msg, "Unknown attestation wire format");
	X509_free(x);
	/* A duplicated extension is rejected. */
	size_t n;
	uint8_t *att = t_read_vector("mock/attestation_v0_A.bin", &n);
	CHECK(att != NULL);
	struct ext d[2] = {{OID_ATTESTATION, att, n}, {OID_ATTESTATION, att, n}};
	x = cert_with_exts(d, 2);
	CHECK(x != NULL);
	CHECK_EQ_INT(ratls_extract(x, &a, &err), -1);
	CHECK_CONTAINS(err.msg, "duplicate");
	X509_free(x);
	/* The same attestation once: extracted, but not bound to this new key. */
	x = cert_with_exts(d, 1);
	CHECK(x != NULL);
	CHECK_EQ_INT(ratls_extract(x, &a, &err), 1);
	CHECK_FAILS(ratls_check_binding(&a, x, &err));
	CHECK_EQ_STR(err.msg, "report data mismatch");
	attestation_free(&a);
	X509_free(x);
	/* A legacy event log that is not JSON. */
	size_t qn;
	uint8_t *q = t_read_vector("mock/quote_ratls_A.bin", &qn);
	CHECK(q != NULL);
	struct ext l[2] = {{OID_TDX_QUOTE, q, qn}, {OID_EVENT_LOG, (const uint8_t *)"{", 1}};
	x = cert_with_exts(l, 2);
	CHECK(x != NULL);
	CHECK_EQ_INT(ratls_extract(x, &a, &err), -1);
	CHECK_CONTAINS(err.msg, "tdx_event_log");
	X509_free(x);
	free(q);
	free(att);
}
