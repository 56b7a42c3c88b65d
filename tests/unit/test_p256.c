/*
 * test_p256.c — P-256 scalars, the exact §5.3 PKCS#8 layout, PEM in and out,
 * SPKI and OpenSSL key objects. Expected values come from kms-protocol §5.5,
 * the mock vector keys and the `openssl` CLI (pkey -text / -pubout), never
 * from this code's own output.
 */
#include "harness.h"

#include "crypto/p256.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/hex.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

/* spec: kms-protocol §5.5 root key. */
static const char root_der_hex[] =
    "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420f57527cea4ab7ffb"
    "49af99b158cdc0e3ec06398f528349ea236b7d2afe19cec1a1440342000491f50522407ce29dce3ed7d31a"
    "15d80c1c42f13a23552d2b33a0ce09ee11e47bce95936f3e7f80d195f879e28e1b144ef37ac9ab8e36a690"
    "cbf930b775897b27";
static const char root_scalar_hex[] =
    "f57527cea4ab7ffb49af99b158cdc0e3ec06398f528349ea236b7d2afe19cec1";

/* `openssl pkey -in tests/vectors/mock/ratls_cert_A.key.pem -text` / -pubout -outform DER */
static const char ratls_scalar_hex[] =
    "2432cd86bf47cc4a7018a57b62ca3e2dfe73f20a774f9d9cebd0d645c5a2cc3e";
static const char ratls_point_hex[] =
    "04459ebcb1533232884f3e092f6494f51006c5b5efc212948b1eab0421b30de7c8ebc28049ea525d6823fa0c41"
    "0042a308e7b663723dc00455aedc7be940f793ac";
static const char ratls_spki_hex[] =
    "3059301306072a8648ce3d020106082a8648ce3d03010703420004459ebcb1533232884f3e092f6494f51006c5"
    "b5efc212948b1eab0421b30de7c8ebc28049ea525d6823fa0c410042a308e7b663723dc00455aedc7be940f793"
    "ac";

/* `openssl ecparam -genkey -name prime256v1` (EC PARAMETERS block, then SEC1). */
static const char sec1_pem[] = "-----BEGIN EC PARAMETERS-----\n"
			       "BggqhkjOPQMBBw==\n"
			       "-----END EC PARAMETERS-----\n"
			       "-----BEGIN EC PRIVATE KEY-----\n"
			       "MHcCAQEEIBlbzM6Sbr7VcWSh2RjZw+7qPMgQFuhycny489zRgsqDoAoGCCqGSM49\n"
			       "AwEHoUQDQgAEk3DFb1ovm/P71bqCI5RO+3OgoFIO37G2E0yNdFcWV5JA9qmABNyj\n"
			       "7t8ikm/DRnjucdlrOHu4SLpWeEhQHpC9Fw==\n"
			       "-----END EC PRIVATE KEY-----\n";
/* The same key after `openssl ec -no_public` (SEC1 without the public key). */
static const char sec1_nopub_pem[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MDECAQEEIBlbzM6Sbr7VcWSh2RjZw+7qPMgQFuhycny489zRgsqDoAoGCCqGSM49\n"
    "AwEH\n"
    "-----END EC PRIVATE KEY-----\n";
/* The same key as PKCS#8 whose inner ECPrivateKey keeps the [0] parameters. */
static const char p8_with_params_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQgGVvMzpJuvtVxZKHZ\n"
    "GNnD7uo8yBAW6HJyfLjz3NGCyoOgCgYIKoZIzj0DAQehRANCAASTcMVvWi+b8/vV\n"
    "uoIjlE77c6CgUg7fsbYTTI10VxZXkkD2qYAE3KPu3yKSb8NGeO5x2Ws4e7hIulZ4\n"
    "SFAekL0X\n"
    "-----END PRIVATE KEY-----\n";
static const char sec1_scalar_hex[] =
    "195bccce926ebed57164a1d918d9c3eeea3cc81016e872727cb8f3dcd182ca83";

/* `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` */
static const char genpkey_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg/2P61fgRv7wbn/BI\n"
    "+Bir0uSE8yRbHGcrRa/WDN4zIlOhRANCAATToq4x9X7Q4c+IGkg/Rtwz3PRSGkfH\n"
    "rtSjv9ZMYobatm2lpFXgSWd7hiCQTcRVCGN6JHIoKw6D9e3b92n45VWb\n"
    "-----END PRIVATE KEY-----\n";
static const char genpkey_scalar_hex[] =
    "ff63fad5f811bfbc1b9ff048f818abd2e484f3245b1c672b45afd60cde332253";

/* Keys that must be refused: secp256k1, Ed25519, and an encrypted PKCS#8 (pass "secret"). */
static const char k1_pem[] = "-----BEGIN EC PRIVATE KEY-----\n"
			     "MHQCAQEEIEV6Hf5kl2ZlBYIUcEeSIMNH7HTQyNVxz8AVXdbwg6iToAcGBSuBBAAK\n"
			     "oUQDQgAEcGGrnL8RinDRK1AygytSLF+l6sdyoUPAiixVfe7MXc0vu0j3CX8sb9cO\n"
			     "V8ZA3DUU7AMn411WJ5oGuvOxWiwMRw==\n"
			     "-----END EC PRIVATE KEY-----\n";
static const char ed25519_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIORHV0srZjpaxeQQ2OVbhP9odzLCl1bgJRo+bdSO+MTK\n"
    "-----END PRIVATE KEY-----\n";
static const char encrypted_pem[] =
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
    "MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAgrGjp7WSiihwICCAAw\n"
    "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEM1L2RcdEQzYQ6YcUvphWl8EgZDL\n"
    "X4t2wtMUp5srROvQilVVIc/NkNfK/8H2Ulfb9qc/jxYU8uZbCnkBSeCsz8MkPSkO\n"
    "lcZuEC0w9SHb/y5Abt+NmvpnosG0CugdJ7G3n6Cufqbt42lFtCVxXtTfW0MwZy66\n"
    "hfL3ciNhROcsiOuM/UBMTBpKaB8CERRZW1HnloeyDAHZMmPfg7/Ke8VIB6RcZCQ=\n"
    "-----END ENCRYPTED PRIVATE KEY-----\n";

/* The P-256 base point G (SEC 2 / FIPS 186-4), i.e. the public key of scalar 1. */
static const char g_point_hex[] =
    "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a"
    "7c0f9e162bce33576b315ececbb6406837bf51f5";

static const char order_hex[] = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

static void unhex32(const char *hex, uint8_t out[32])
{
	if (hex_decode_fixed(hex, out, 32) < 0)
		memset(out, 0xee, 32);
}

/* PEM-wrap DER with OpenSSL (a different encoder than the one under test). */
static char *pem_of(const uint8_t *der, size_t len, const char *label)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (!b || PEM_write_bio(b, label, "", der, (long)len) <= 0) {
		BIO_free(b);
		return NULL;
	}
	char *data;
	long n = BIO_get_mem_data(b, &data);
	char *s = malloc((size_t)n + 1);
	if (s) {
		memcpy(s, data, (size_t)n);
		s[n] = 0;
	}
	BIO_free(b);
	return s;
}

TEST(test_p256_scalar_valid_edges)
{
	uint8_t s[32];
	memset(s, 0, 32);
	CHECK(!p256_scalar_valid(s)); /* 0 */
	s[31] = 1;
	CHECK(p256_scalar_valid(s)); /* 1 */
	unhex32(order_hex, s);
	CHECK(!p256_scalar_valid(s)); /* n */
	s[31] = 0x50;
	CHECK(p256_scalar_valid(s)); /* n - 1 */
	s[31] = 0x52;
	CHECK(!p256_scalar_valid(s)); /* n + 1 */
	memset(s, 0xff, 32);
	CHECK(!p256_scalar_valid(s)); /* 2^256 - 1 */
	unhex32(order_hex, s);
	s[16] = 0xbc;
	s[17] = 0xe5; /* below n in a middle byte, above it afterwards */
	memset(s + 18, 0xff, 14);
	CHECK(p256_scalar_valid(s));
}

TEST(test_p256_public_point_of_one_is_generator)
{
	struct err e = {0};
	uint8_t s[32] = {0}, pt[P256_POINT_LEN];
	s[31] = 1;
	CHECK_OK(p256_public_point(s, pt, &e), &e);
	CHECK_HEX(pt, sizeof pt, g_point_hex);
	unhex32(ratls_scalar_hex, s);
	CHECK_OK(p256_public_point(s, pt, &e), &e);
	CHECK_HEX(pt, sizeof pt, ratls_point_hex);
}

TEST(test_p256_public_point_rejects_out_of_range_scalars)
{
	struct err e = {0};
	uint8_t s[32] = {0}, pt[P256_POINT_LEN];
	CHECK_FAILS(p256_public_point(s, pt, &e));
	CHECK_CONTAINS(e.msg, "out of range");
	unhex32(order_hex, s);
	CHECK_FAILS(p256_public_point(s, pt, &e));
	CHECK_FAILS(p256_pkcs8_der(s, (uint8_t[P256_PKCS8_LEN]){0}, &e));
	CHECK(p256_evp_from_scalar(s, &e) == NULL);
	struct buf b = BUF_INIT;
	CHECK_FAILS(p256_pkcs8_pem(s, &b, &e));
	buf_free(&b);
}

TEST(test_p256_pkcs8_der_matches_spec_root_vector)
{
	struct err e = {0};
	uint8_t s[32], der[P256_PKCS8_LEN];
	unhex32(root_scalar_hex, s);
	CHECK_OK(p256_pkcs8_der(s, der, &e), &e);
	CHECK_HEX(der, sizeof der, root_der_hex);
}

TEST(test_p256_pkcs8_pem_equals_mock_key_file)
{
	/* The mock key files are in the upstream layout with 64-column OpenSSL PEM. */
	const char *files[] = {"mock/ratls_cert_A.key.pem", "mock/mock_kms_temp_ca.key.pem"};
	for (size_t i = 0; i < 2; i++) {
		struct err e = {0};
		size_t len;
		uint8_t *file = t_read_vector(files[i], &len);
		CHECK(file != NULL);
		uint8_t s[32];
		int rc = p256_scalar_from_pem((const char *)file, len, s, &e);
		struct buf pem = BUF_INIT;
		if (rc == 0)
			rc = p256_pkcs8_pem(s, &pem, &e);
		int same = rc == 0 && pem.len == len && memcmp(pem.p, file, len) == 0;
		CHECK(pem.secret);
		buf_free(&pem);
		free(file);
		CHECK_MSG(rc == 0, "%s: %s", files[i], e.msg);
		CHECK_MSG(same, "%s: PEM differs from the file", files[i]);
	}
}

TEST(test_p256_pkcs8_pem_format_and_append)
{
	struct err e = {0};
	uint8_t s[32];
	unhex32(root_scalar_hex, s);
	struct buf pem = BUF_INIT;
	CHECK(buf_append_str(&pem, "x") == 0);
	CHECK_OK(p256_pkcs8_pem(s, &pem, &e), &e);
	const char *t = buf_str(&pem);
	CHECK(t[0] == 'x');
	t++;
	/* 138 bytes -> 184 base64 chars in lines of 64, 64, 56. */
	CHECK(strncmp(t, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
	const char *l1 = t + 28, *l2 = l1 + 65, *l3 = l2 + 65, *endl = l3 + 57;
	CHECK(l1[64] == '\n' && l2[64] == '\n' && l3[56] == '\n');
	CHECK_EQ_STR(endl, "-----END PRIVATE KEY-----\n");
	CHECK_EQ_INT(pem.len, 1 + 28 + 65 + 65 + 57 + 26);
	/* Decoding with OpenSSL gives back the §5.5 DER. */
	BIO *b = BIO_new_mem_buf(t, -1);
	char *name = NULL, *hdr = NULL;
	unsigned char *der = NULL;
	long dlen = 0;
	int ok = b && PEM_read_bio(b, &name, &hdr, &der, &dlen) == 1;
	int same =
	    ok && strcmp(name, "PRIVATE KEY") == 0 && t_hex_equal(der, (size_t)dlen, root_der_hex);
	OPENSSL_free(name);
	OPENSSL_free(hdr);
	OPENSSL_free(der);
	BIO_free(b);
	buf_free(&pem);
	CHECK(same);
}

TEST(test_p256_scalar_from_pem_accepts_openssl_formats)
{
	struct {
		const char *pem, *scalar;
	} cases[] = {
	    {sec1_pem, sec1_scalar_hex},
	    {sec1_nopub_pem, sec1_scalar_hex},
	    {p8_with_params_pem, sec1_scalar_hex},
	    {genpkey_pem, genpkey_scalar_hex},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct err e = {0};
		uint8_t s[32];
		CHECK_MSG(p256_scalar_from_pem(cases[i].pem, strlen(cases[i].pem), s, &e) == 0,
			  "case %zu: %s", i, e.msg);
		CHECK_MSG(t_hex_equal(s, 32, cases[i].scalar), "case %zu: wrong scalar", i);
	}
}

TEST(test_p256_scalar_from_pem_roundtrips_spec_layout)
{
	struct err e = {0};
	size_t len;
	uint8_t *der = t_unhex(root_der_hex, &len);
	CHECK(der != NULL);
	char *pem = pem_of(der, len, "PRIVATE KEY");
	free(der);
	CHECK(pem != NULL);
	uint8_t s[32];
	int rc = p256_scalar_from_pem(pem, strlen(pem), s, &e);
	free(pem);
	CHECK_OK(rc, &e);
	CHECK_HEX(s, 32, root_scalar_hex);
}

TEST(test_p256_scalar_from_pem_rejects_other_keys)
{
	const char *bad[] = {k1_pem, ed25519_pem, encrypted_pem};
	const char *why[] = {"not on P-256", "not an EC key", "encrypted"};
	for (size_t i = 0; i < 3; i++) {
		struct err e = {0};
		uint8_t s[32];
		memset(s, 0xaa, sizeof s);
		CHECK_FAILS(p256_scalar_from_pem(bad[i], strlen(bad[i]), s, &e));
		CHECK_CONTAINS(e.msg, why[i]);
		for (size_t j = 0; j < 32; j++)
			CHECK_MSG(s[j] == 0, "case %zu: output not wiped on failure", i);
	}
}

TEST(test_p256_scalar_from_pem_rejects_garbage)
{
	struct err e = {0};
	uint8_t s[32];
	CHECK_FAILS(p256_scalar_from_pem("", 0, s, &e));
	CHECK_FAILS(p256_scalar_from_pem(NULL, 5, s, &e));
	const char junk[] = "not a pem at all\n";
	CHECK_FAILS(p256_scalar_from_pem(junk, sizeof junk - 1, s, &e));
	/* Truncated: the END line cut off. */
	size_t cut = strlen(genpkey_pem) - 20;
	CHECK_FAILS(p256_scalar_from_pem(genpkey_pem, cut, s, &e));
	/* A corrupted base64 body. */
	char *mod = strdup(genpkey_pem);
	CHECK(mod != NULL);
	mod[40] = '!';
	int rc = p256_scalar_from_pem(mod, strlen(mod), s, &e);
	free(mod);
	CHECK_FAILS(rc);
	/* A public key is not a private key. */
	const char pub[] = "-----BEGIN PUBLIC KEY-----\n"
			   "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE06KuMfV+0OHPiBpIP0bcM9z0UhpH\n"
			   "x67Uo7/WTGKG2rZtpaRV4ElnewhgkE3EVQhjeiRyKCsOg/Xt2/dp+OVVmw==\n"
			   "-----END PUBLIC KEY-----\n";
	CHECK_FAILS(p256_scalar_from_pem(pub, sizeof pub - 1, s, &e));
}

TEST(test_p256_scalar_from_pem_rejects_mismatched_public_key)
{
	struct err e = {0};
	size_t len;
	uint8_t *der = t_unhex(root_der_hex, &len);
	CHECK(der != NULL && len == P256_PKCS8_LEN);
	uint8_t pt[P256_POINT_LEN];
	CHECK(hex_decode_fixed(ratls_point_hex, pt, sizeof pt) == 0);
	memcpy(der + 73, pt, sizeof pt); /* another key's point in the [1] publicKey */
	char *pem = pem_of(der, len, "PRIVATE KEY");
	free(der);
	CHECK(pem != NULL);
	uint8_t s[32];
	int rc = p256_scalar_from_pem(pem, strlen(pem), s, &e);
	free(pem);
	CHECK_FAILS(rc);
	CHECK_CONTAINS(e.msg, "does not match");
	CHECK(strstr(e.msg, "f57527") == NULL);
}

TEST(test_p256_scalar_from_pem_rejects_out_of_range_scalar)
{
	/* §5.3 layout with d = n (and G as the public key): must not load. */
	size_t len;
	uint8_t *der = t_unhex(root_der_hex, &len);
	CHECK(der != NULL);
	CHECK(hex_decode_fixed(order_hex, der + 36, 32) == 0);
	CHECK(hex_decode_fixed(g_point_hex, der + 73, 65) == 0);
	char *pem = pem_of(der, len, "PRIVATE KEY");
	free(der);
	CHECK(pem != NULL);
	struct err e = {0};
	uint8_t s[32];
	int rc = p256_scalar_from_pem(pem, strlen(pem), s, &e);
	free(pem);
	CHECK_FAILS(rc);
}

TEST(test_p256_spki_der_matches_openssl)
{
	uint8_t pt[P256_POINT_LEN], spki[P256_SPKI_LEN];
	CHECK(hex_decode_fixed(ratls_point_hex, pt, sizeof pt) == 0);
	CHECK(p256_spki_der(pt, spki) == 0);
	CHECK_HEX(spki, sizeof spki, ratls_spki_hex);
}

TEST(test_p256_spki_der_rejects_bad_points)
{
	uint8_t pt[P256_POINT_LEN], spki[P256_SPKI_LEN];
	CHECK(hex_decode_fixed(ratls_point_hex, pt, sizeof pt) == 0);
	pt[64] ^= 1; /* off the curve */
	CHECK(p256_spki_der(pt, spki) < 0);
	pt[64] ^= 1;
	pt[0] = 0x02; /* not uncompressed */
	CHECK(p256_spki_der(pt, spki) < 0);
	memset(pt, 0, sizeof pt);
	pt[0] = 0x04;
	CHECK(p256_spki_der(pt, spki) < 0);
}

TEST(test_p256_evp_from_scalar_signs_and_exports)
{
	struct err e = {0};
	uint8_t s[32], pt[P256_POINT_LEN];
	unhex32(ratls_scalar_hex, s);
	EVP_PKEY *pk = p256_evp_from_scalar(s, &e);
	CHECK_MSG(pk != NULL, "%s", e.msg);
	int rc = p256_point_from_evp(pk, pt, &e);
	int same_point = rc == 0 && t_hex_equal(pt, sizeof pt, ratls_point_hex);
	/* SPKI as OpenSSL encodes it. */
	unsigned char *spki = NULL;
	int spki_len = i2d_PUBKEY(pk, &spki);
	int same_spki =
	    spki_len == P256_SPKI_LEN && t_hex_equal(spki, (size_t)spki_len, ratls_spki_hex);
	OPENSSL_free(spki);
	/* ECDSA-SHA256 sign with the object, verify with the key parsed from the mock file. */
	const char msg[] = "hello";
	unsigned char sig[128];
	size_t siglen = sizeof sig;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int signed_ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
			EVP_DigestSign(md, sig, &siglen, (const unsigned char *)msg, 5) == 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	CHECK_OK(rc, &e);
	CHECK(same_point);
	CHECK(same_spki);
	CHECK(signed_ok);

	size_t flen;
	uint8_t *file = t_read_vector("mock/ratls_cert_A.key.pem", &flen);
	CHECK(file != NULL);
	BIO *b = BIO_new_mem_buf(file, (int)flen);
	EVP_PKEY *ref = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	free(file);
	CHECK(ref != NULL);
	md = EVP_MD_CTX_new();
	int verified = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, ref) == 1 &&
		       EVP_DigestVerify(md, sig, siglen, (const unsigned char *)msg, 5) == 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(ref);
	CHECK(verified);
}

TEST(test_p256_point_from_evp_rejects_other_curves)
{
	struct err e = {0};
	uint8_t pt[P256_POINT_LEN];
	CHECK_FAILS(p256_point_from_evp(NULL, pt, &e));
	EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	CHECK(k1 != NULL);
	int rc = p256_point_from_evp(k1, pt, &e);
	EVP_PKEY_free(k1);
	CHECK_FAILS(rc);
	CHECK_CONTAINS(e.msg, "not on P-256");
	EVP_PKEY *x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	CHECK(x != NULL);
	rc = p256_point_from_evp(x, pt, &e);
	EVP_PKEY_free(x);
	CHECK_FAILS(rc);
	CHECK_CONTAINS(e.msg, "not an EC key");
}

TEST(test_p256_generate_gives_distinct_valid_keys)
{
	struct err e = {0};
	uint8_t a[32], b[32], pt[P256_POINT_LEN];
	CHECK_OK(p256_generate(a, &e), &e);
	CHECK_OK(p256_generate(b, &e), &e);
	CHECK(p256_scalar_valid(a) && p256_scalar_valid(b));
	CHECK(memcmp(a, b, 32) != 0);
	CHECK_OK(p256_public_point(a, pt, &e), &e);
	CHECK(pt[0] == 0x04);
}

/* `openssl ecparam -name prime256v1 -genkey -noout -param_enc explicit` */
static const char explicit_pem[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MIIBaAIBAQQgnF9r5z2WjKe6vzMtwLNA+XO6NBKZ33Sv5LqmfTCt9FaggfowgfcC\n"
    "AQEwLAYHKoZIzj0BAQIhAP////8AAAABAAAAAAAAAAAAAAAA////////////////\n"
    "MFsEIP////8AAAABAAAAAAAAAAAAAAAA///////////////8BCBaxjXYqjqT57Pr\n"
    "vVV2mIa8ZR0GsMxTsPY7zjw+J9JgSwMVAMSdNgiG5wSTamZ44ROdJreBn36QBEEE\n"
    "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpZP40Li/hp/m47n60p8D54W\n"
    "K84zV2sxXs7LtkBoN79R9QIhAP////8AAAAA//////////+85vqtpxeehPO5ysL8\n"
    "YyVRAgEBoUQDQgAEhB4uvh85jreW+PIu2mR/ciNSad+ne93X6Ci4CSNwxnV5msTW\n"
    "MMhNT+Q9Yd9EbhLN1FsrqO4gLSp7TYFUbdd0qg==\n"
    "-----END EC PRIVATE KEY-----\n";

/* Replace every "\n" with "\r\n". */
static char *crlf(const char *s)
{
	size_t n = strlen(s), lines = 0;
	for (size_t i = 0; i < n; i++)
		lines += s[i] == '\n';
	char *o = malloc(n + lines + 1), *w = o;
	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			*w++ = '\r';
		*w++ = s[i];
	}
	*w = 0;
	return o;
}

static int scalar_of_der_hex(const char *hex, const char *label, uint8_t s[32], struct err *e)
{
	size_t len;
	uint8_t *der = t_unhex(hex, &len);
	char *pem = der ? pem_of(der, len, label) : NULL;
	free(der);
	if (!pem)
		return err_set(e, "test setup failed");
	int rc = p256_scalar_from_pem(pem, strlen(pem), s, e);
	free(pem);
	return rc;
}

TEST(test_p256_scalar_from_pem_tolerates_crlf_and_surrounding_text)
{
	struct err e = {0};
	uint8_t s[32];
	char *dos = crlf(sec1_pem);
	CHECK(dos != NULL);
	int rc = p256_scalar_from_pem(dos, strlen(dos), s, &e);
	free(dos);
	CHECK_OK(rc, &e);
	CHECK_HEX(s, 32, sec1_scalar_hex);
	/* Text before the block (as `openssl pkcs12` writes bag attributes) and after it. */
	char buf[1024];
	int n = snprintf(buf, sizeof buf, "Bag Attributes\n    localKeyID: 01\n%sjunk after\n",
			 genpkey_pem);
	CHECK(n > 0 && (size_t)n < sizeof buf);
	CHECK_OK(p256_scalar_from_pem(buf, (size_t)n, s, &e), &e);
	CHECK_HEX(s, 32, genpkey_scalar_hex);
}

TEST(test_p256_scalar_from_pem_accepts_short_sec1_scalar)
{
	/* ECPrivateKey { 1, OCTET STRING 01, [0] prime256v1 }: the scalar 1, not left-padded. */
	struct err e = {0};
	uint8_t s[32];
	CHECK_OK(
	    scalar_of_der_hex("3012020101040101a00a06082a8648ce3d030107", "EC PRIVATE KEY", s, &e),
	    &e);
	CHECK_HEX(s, 32, "0000000000000000000000000000000000000000000000000000000000000001");
}

TEST(test_p256_scalar_from_pem_rejects_unusable_structures)
{
	struct err e = {0};
	uint8_t s[32];
	/* Explicit curve parameters. */
	CHECK_FAILS(p256_scalar_from_pem(explicit_pem, sizeof explicit_pem - 1, s, &e));
	CHECK_CONTAINS(e.msg, "explicit");
	/* SEC1 without any curve identification. */
	CHECK_FAILS(
	    scalar_of_der_hex("3025020101042001010101010101010101010101010101010101010101010101"
			      "01010101010101",
			      "EC PRIVATE KEY", s, &e));
	CHECK_CONTAINS(e.msg, "without curve parameters");
	/* Wrong ECPrivateKey version. */
	CHECK_FAILS(
	    scalar_of_der_hex("3012020102040101a00a06082a8648ce3d030107", "EC PRIVATE KEY", s, &e));
	CHECK_CONTAINS(e.msg, "version");
	/* A 33-byte scalar. */
	CHECK_FAILS(
	    scalar_of_der_hex("3032020101042100010101010101010101010101010101010101010101010101"
			      "0101010101010101a00a06082a8648ce3d030107",
			      "EC PRIVATE KEY", s, &e));
	/* Trailing bytes after the DER. */
	char hex[sizeof root_der_hex + 4];
	snprintf(hex, sizeof hex, "%s00", root_der_hex);
	CHECK_FAILS(scalar_of_der_hex(hex, "PRIVATE KEY", s, &e));
	CHECK_CONTAINS(e.msg, "trailing");
	/* Truncated DER (length says more than present). */
	char cut[sizeof root_der_hex];
	memcpy(cut, root_der_hex, sizeof root_der_hex - 3);
	cut[sizeof root_der_hex - 3] = 0;
	cut[sizeof root_der_hex - 4] = 0; /* keep an even number of hex digits */
	CHECK_FAILS(scalar_of_der_hex(cut, "PRIVATE KEY", s, &e));
	/* A PKCS#8 label around a SEC1 body and vice versa. */
	CHECK_FAILS(
	    scalar_of_der_hex("3012020101040101a00a06082a8648ce3d030107", "PRIVATE KEY", s, &e));
	CHECK_FAILS(scalar_of_der_hex(root_der_hex, "EC PRIVATE KEY", s, &e));
}

TEST(test_p256_scalar_from_pem_rejects_bad_base64_and_headers)
{
	struct err e = {0};
	uint8_t s[32];
	const char *bad[] = {
	    /* padding in the middle */
	    "-----BEGIN PRIVATE KEY-----\nMIGH=gEAMBMG\n-----END PRIVATE KEY-----\n",
	    /* length not a multiple of 4 */
	    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBM\n-----END PRIVATE KEY-----\n",
	    /* data after the padded quad */
	    "-----BEGIN PRIVATE KEY-----\nMA==MA==\n-----END PRIVATE KEY-----\n",
	    /* END label differs */
	    "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n",
	    /* no END line */
	    "-----BEGIN PRIVATE KEY-----\nMAA=\n",
	    /* legacy encrypted SEC1 */
	    "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\n"
	    "MAA=\n-----END EC PRIVATE KEY-----\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_MSG(p256_scalar_from_pem(bad[i], strlen(bad[i]), s, &e) < 0,
			  "case %zu accepted", i);
		CHECK_CONTAINS(e.msg, "private key PEM");
	}
	CHECK_CONTAINS(e.msg, "encrypted");
	/* A body larger than any P-256 key. */
	char big[4096];
	size_t off = (size_t)snprintf(big, sizeof big, "-----BEGIN PRIVATE KEY-----\n");
	for (int i = 0; i < 2000; i++)
		big[off++] = 'A';
	off += (size_t)snprintf(big + off, sizeof big - off, "\n-----END PRIVATE KEY-----\n");
	CHECK_FAILS(p256_scalar_from_pem(big, off, s, &e));
}

TEST(test_p256_point_from_evp_reads_certificate_public_key)
{
	/* The RA-TLS mock cert A carries the public key of ratls_cert_A.key.pem. */
	struct err e = {0};
	size_t len;
	uint8_t *pem = t_read_vector("mock/ratls_cert_A.pem", &len);
	CHECK(pem != NULL);
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	free(pem);
	CHECK(x != NULL);
	uint8_t pt[P256_POINT_LEN];
	int rc = p256_point_from_evp(X509_get0_pubkey(x), pt, &e);
	X509_free(x);
	CHECK_OK(rc, &e);
	CHECK_HEX(pt, sizeof pt, ratls_point_hex);
}
