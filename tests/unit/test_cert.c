/*
 * test_cert.c — certificate generation byte-exactness (kms-protocol §7.1) and
 * the strict custom-extension reader. Expected bytes are spelled out from the
 * spec, computed independently (OpenSSL EVP SHA-256, the `openssl` CLI), or
 * taken from tests/vectors/mock; chains are checked with OpenSSL's verifier.
 */
#include "harness.h"

#include "crypto/cert.h"
#include "crypto/p256.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/secret.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

struct kp {
	uint8_t d[32];
	uint8_t q[P256_POINT_LEN];
};

static int kp_new(struct kp *k, struct err *e)
{
	TRY(p256_generate(k->d, e));
	return p256_public_point(k->d, k->q, e);
}

static void kp_wipe(struct kp *k)
{
	secret_wipe(k->d, sizeof k->d);
}

/* Find the byte string given as hex inside p[0..n); returns its offset or -1. */
static long find_hex(const uint8_t *p, size_t n, const char *hex)
{
	size_t m;
	uint8_t *needle = t_unhex(hex, &m);
	long at = -1;
	if (!needle || m == 0 || m > n) {
		free(needle);
		return -1;
	}
	for (size_t i = 0; i + m <= n; i++) {
		if (memcmp(p + i, needle, m) == 0) {
			at = (long)i;
			break;
		}
	}
	free(needle);
	return at;
}

static int der_of(X509 *x, struct buf *out)
{
	struct err e;
	return cert_to_der(x, out, &e);
}

static void sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned int len = 32;
	EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

/* The expected serial INTEGER (hex, with tag and length) from the hash, per §7.1. */
static void expected_serial_hex(uint8_t h[32], char out[64])
{
	h[0] &= 0x7f;
	size_t i = 0;
	while (i < 19 && h[i] == 0 && !(h[i + 1] & 0x80))
		i++;
	snprintf(out, 64, "02%02x", (unsigned)(20 - i));
	hex_encode(h + i, 20 - i, out + 4);
}

/* Run a shell command, capture its output; returns the exit status (or -1). */
static int run_cmd(const char *cmd, struct buf *out)
{
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		buf_append(out, tmp, n);
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int write_pem(const char *dir, const char *name, X509 *x, char *path, size_t plen)
{
	struct err e;
	struct buf pem = BUF_INIT;
	int rc = -1;
	if (fs_join(path, plen, dir, name) < 0 || cert_to_pem(x, &pem, &e) < 0)
		goto out;
	rc = fs_write_atomic(path, pem.p, pem.len, 0644, &e);
out:
	buf_free(&pem);
	return rc;
}

/* X509_verify_cert of leaf against a single trusted root (and optional untrusted chain). */
static int openssl_verify(X509 *root, X509 *leaf, int *verr)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok = -1;
	if (st && ctx && X509_STORE_add_cert(st, root) == 1 &&
	    X509_STORE_CTX_init(ctx, st, leaf, NULL) == 1) {
		ok = X509_verify_cert(ctx);
		*verr = X509_STORE_CTX_get_error(ctx);
	}
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return ok;
}

static const char *ROOT_SAN_DOMAIN = "kms.example.com";

static X509 *make_root(const struct kp *k, int64_t now, struct err *e)
{
	struct cert_params cp = {
	    .org = "Dstack", .subject = "Dstack KMS CA", .is_ca = 1, .path_len = 1};
	return cert_issue(&cp, k->q, k->d, NULL, now, e);
}

static X509 *make_rpc(const struct kp *k, const struct kp *root, X509 *root_cert, int64_t now,
		      struct err *e)
{
	const char *san[] = {ROOT_SAN_DOMAIN};
	struct cert_params cp = {
	    .subject = ROOT_SAN_DOMAIN, .san = san, .nsan = 1, .usage = "kms:rpc"};
	return cert_issue(&cp, k->q, root->d, root_cert, now, e);
}

TEST(test_cert_serial_is_sha256_of_point_top_bit_cleared)
{
	struct err e;
	struct kp k;
	CHECK_OK(kp_new(&k, &e), &e);
	X509 *x = make_root(&k, 1700000000, &e);
	CHECK_MSG(x, "issue: %s", e.msg);
	uint8_t h[32];
	sha256(k.q, sizeof k.q, h);
	char hex[64];
	expected_serial_hex(h, hex);
	struct buf der = BUF_INIT;
	CHECK(der_of(x, &der) == 0);
	/* The serial follows the version [0] at a fixed place in the TBS. */
	long at = find_hex(der.p, der.len, "a003020102");
	CHECK(at > 0);
	CHECK(find_hex(der.p + at + 5, strlen(hex) / 2, hex) == 0);
	/* And OpenSSL's parse agrees. */
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	uint8_t sbytes[20];
	CHECK(bn && BN_bn2binpad(bn, sbytes, 20) == 20);
	CHECK(memcmp(sbytes, h, 20) == 0);
	BN_free(bn);
	buf_free(&der);
	X509_free(x);
	kp_wipe(&k);
}

TEST(test_cert_serial_with_leading_zero_octet_is_minimal)
{
	struct err e;
	struct kp k;
	uint8_t h[32];
	int found = 0;
	/* About 1 in 128 keys hashes to a serial whose first octet is 00 after clearing bit 7. */
	for (int n = 0; n < 5000 && !found; n++) {
		CHECK_OK(kp_new(&k, &e), &e);
		sha256(k.q, sizeof k.q, h);
		found = (h[0] & 0x7f) == 0;
	}
	CHECK(found);
	struct cert_params cp = {.subject = "zero", .usage = "x"};
	X509 *x = cert_issue(&cp, k.q, k.d, NULL, 1700000000, &e);
	CHECK_MSG(x, "issue: %s", e.msg);
	struct buf der = BUF_INIT;
	CHECK(der_of(x, &der) == 0);
	char hex[64], full[80] = "a003020102";
	expected_serial_hex(h, hex);
	strcat(full, hex);
	CHECK_MSG(find_hex(der.p, der.len, full) > 0, "serial %s not found", hex);
	/* the 00 octet survives only when the next one has its top bit set */
	if (h[1] & 0x80)
		CHECK(strncmp(hex, "021400", 6) == 0);
	else
		CHECK(strncmp(hex, "0213", 4) == 0 || strncmp(hex, "0212", 4) == 0);
	buf_free(&der);
	X509_free(x);
	kp_wipe(&k);
}

TEST(test_cert_validity_defaults_and_time_types)
{
	struct err e;
	struct kp k;
	CHECK_OK(kp_new(&k, &e), &e);
	struct cert_params cp = {.subject = "t", .usage = "kms:rpc"};
	/* now 2023-11-14T22:13:20Z + 3650 days = 2033-11-11T22:13:20Z (date -u -d @2015360000) */
	X509 *x = cert_issue(&cp, k.q, k.d, NULL, 1700000000, &e);
	CHECK_MSG(x, "issue: %s", e.msg);
	struct buf der = BUF_INIT;
	CHECK(der_of(x, &der) == 0);
	CHECK(find_hex(der.p, der.len,
		       "301e170d3735303130313030303030305a170d3333313131313232313332305a") > 0);
	int64_t na;
	CHECK_OK(cert_not_after(x, &na, &e), &e);
	CHECK_EQ_INT(na, 2015360000);
	X509_free(x);
	buf_reset(&der);

	/* 1949-12-31T23:59:59Z and 2050-01-01T00:00:00Z need GeneralizedTime. */
	cp.has_not_before = cp.has_not_after = 1;
	cp.not_before = -631152001;
	cp.not_after = 2524608000;
	x = cert_issue(&cp, k.q, k.d, NULL, 1700000000, &e);
	CHECK_MSG(x, "issue: %s", e.msg);
	CHECK(der_of(x, &der) == 0);
	CHECK(find_hex(der.p, der.len,
		       "3022180f31393439313233313233353935395a180f32303530303130313030303030305a") >
	      0);
	CHECK_OK(cert_not_after(x, &na, &e), &e);
	CHECK_EQ_INT(na, 2524608000);
	X509_free(x);
	buf_reset(&der);

	/* 1950-01-01 and 2049-12-31T23:59:59Z are still UTCTime. */
	cp.not_before = -631152000;
	cp.not_after = 2524607999;
	x = cert_issue(&cp, k.q, k.d, NULL, 1700000000, &e);
	CHECK_MSG(x, "issue: %s", e.msg);
	CHECK(der_of(x, &der) == 0);
	CHECK(find_hex(der.p, der.len,
		       "301e170d3530303130313030303030305a170d3439313233313233353935395a") > 0);
	X509_free(x);

	/* Out-of-range times are refused, not wrapped. */
	cp.not_after = 253402300800; /* year 10000 */
	CHECK(cert_issue(&cp, k.q, k.d, NULL, 1700000000, &e) == NULL);
	CHECK_CONTAINS(e.msg, "out of range");
	buf_free(&der);
	kp_wipe(&k);
}

TEST(test_cert_root_ca_exact_names_and_extensions)
{
	struct err e;
	struct kp k;
	CHECK_OK(kp_new(&k, &e), &e);
	X509 *x = make_root(&k, 1700000000, &e);
	CHECK_MSG(x, "issue: %s", e.msg);
	struct buf der = BUF_INIT;
	CHECK(der_of(x, &der) == 0);
	/* Name: SET{O=Dstack} SET{CN=Dstack KMS CA}, UTF8String; self-signed: issuer == subject */
	const char *name = "3029310f300d060355040a0c0644737461636b"
			   "3116301406035504030c0d44737461636b204b4d53204341";
	long n1 = find_hex(der.p, der.len, name);
	CHECK(n1 > 0);
	CHECK(find_hex(der.p + n1 + 1, der.len - (size_t)n1 - 1, name) > 0);
	CHECK(find_hex(der.p, der.len, "300a06082a8648ce3d040302") > 0);
	/* SPKI from the spec prefix and the point */
	uint8_t spki[91];
	size_t plen;
	uint8_t *prefix = t_unhex("3059301306072a8648ce3d020106082a8648ce3d030107034200", &plen);
	CHECK(prefix && plen == 26);
	memcpy(spki, prefix, 26);
	memcpy(spki + 26, k.q, 65);
	free(prefix);
	char spki_hex[2 * 91 + 1];
	hex_encode(spki, 91, spki_hex);
	CHECK(find_hex(der.p, der.len, spki_hex) > 0);
	/* Extensions in order: KU (CA), SKI, BC; no SAN, EKU or AKI. */
	uint8_t h[32];
	sha256(spki, sizeof spki, h);
	char ski_hex[128] = "301d0603551d0e04160414";
	hex_encode(h, 20, ski_hex + strlen(ski_hex));
	long ku = find_hex(der.p, der.len, "300f0603551d0f0101ff04050303078600");
	long ski = find_hex(der.p, der.len, ski_hex);
	long bc = find_hex(der.p, der.len, "30120603551d130101ff040830060101ff020101");
	CHECK(ku > 0 && ski > ku && bc > ski);
	CHECK(find_hex(der.p, der.len, "0603551d11") < 0);
	CHECK(find_hex(der.p, der.len, "0603551d25") < 0);
	CHECK(find_hex(der.p, der.len, "0603551d23") < 0);
	/* [3] { SEQUENCE { KU, SKI, BC } } ends the TBS right before the signature algorithm. */
	CHECK(find_hex(der.p, der.len, "a3463044300f0603551d0f") == ku - 4);
	CHECK_EQ_INT(X509_get_ext_count(x), 3);
	buf_free(&der);
	X509_free(x);
	kp_wipe(&k);
}

TEST(test_cert_tmp_ca_has_path_len_zero)
{
	struct err e;
	struct kp k;
	CHECK_OK(kp_new(&k, &e), &e);
	struct cert_params cp = {
	    .org = "Dstack", .subject = "Dstack Client Temp CA", .is_ca = 1, .path_len = 0};
	X509 *x = cert_issue(&cp, k.q, k.d, NULL, 1700000000, &e);
	CHECK_MSG(x, "issue: %s", e.msg);
	struct buf der = BUF_INIT;
	CHECK(der_of(x, &der) == 0);
	CHECK(find_hex(der.p, der.len, "30120603551d130101ff040830060101ff020100") > 0);
	/* CN "Dstack Client Temp CA" (21 bytes) */
	CHECK(find_hex(der.p, der.len,
		       "311e301c06035504030c1544737461636b20436c69656e742054656d70204341") > 0);
	CHECK_EQ_INT(X509_check_ca(x), 1);
	buf_free(&der);
	X509_free(x);
	kp_wipe(&k);
}

TEST(test_cert_rpc_leaf_exact_extensions)
{
	struct err e;
	struct kp root, rpc;
	CHECK_OK(kp_new(&root, &e), &e);
	CHECK_OK(kp_new(&rpc, &e), &e);
	X509 *r = make_root(&root, 1700000000, &e);
	CHECK_MSG(r, "root: %s", e.msg);
	X509 *x = make_rpc(&rpc, &root, r, 1700000000, &e);
	CHECK_MSG(x, "rpc: %s", e.msg);
	struct buf der = BUF_INIT;
	CHECK(der_of(x, &der) == 0);
	/* subject CN=kms.example.com only */
	CHECK(find_hex(der.p, der.len, "301a3118301606035504030c0f6b6d732e6578616d706c652e636f6d") >
	      0);
	long san =
	    find_hex(der.p, der.len, "301a0603551d1104133011820f6b6d732e6578616d706c652e636f6d");
	long ku = find_hex(der.p, der.len, "300f0603551d0f0101ff04050303078000");
	long usage = find_hex(der.p, der.len, "3017060a2b0601040183e73d0104040904076b6d733a727063");
	CHECK(san > 0 && ku > san && usage > ku);
	/* no EKU, no SKI, no BasicConstraints, no AKI on rpc.crt */
	CHECK(find_hex(der.p, der.len, "0603551d25") < 0);
	CHECK(find_hex(der.p, der.len, "0603551d0e") < 0);
	CHECK(find_hex(der.p, der.len, "0603551d13") < 0);
	CHECK(find_hex(der.p, der.len, "0603551d23") < 0);
	CHECK_EQ_INT(X509_get_ext_count(x), 3);
	struct buf u = BUF_INIT;
	CHECK_EQ_INT(cert_get_custom_ext(x, OID_CERT_USAGE, &u, &e), 1);
	CHECK_EQ_STR(buf_str(&u), "kms:rpc");
	buf_free(&u);
	buf_free(&der);
	X509_free(x);
	X509_free(r);
	kp_wipe(&root);
	kp_wipe(&rpc);
}

TEST(test_cert_chain_verifies_with_openssl_api_and_cli)
{
	struct err e;
	struct kp root, tmp, rpc;
	CHECK_OK(kp_new(&root, &e), &e);
	CHECK_OK(kp_new(&tmp, &e), &e);
	CHECK_OK(kp_new(&rpc, &e), &e);
	int64_t now = (int64_t)time(NULL);
	X509 *r = make_root(&root, now, &e);
	CHECK_MSG(r, "root: %s", e.msg);
	struct cert_params tcp = {
	    .org = "Dstack", .subject = "Dstack Client Temp CA", .is_ca = 1, .path_len = 0};
	X509 *t = cert_issue(&tcp, tmp.q, tmp.d, NULL, now, &e);
	CHECK_MSG(t, "tmp: %s", e.msg);
	X509 *x = make_rpc(&rpc, &root, r, now, &e);
	CHECK_MSG(x, "rpc: %s", e.msg);

	int verr = 0;
	CHECK_MSG(openssl_verify(r, x, &verr) == 1, "rpc: %s", X509_verify_cert_error_string(verr));
	CHECK_MSG(openssl_verify(r, r, &verr) == 1, "root: %s",
		  X509_verify_cert_error_string(verr));
	CHECK_MSG(openssl_verify(t, t, &verr) == 1, "tmp: %s", X509_verify_cert_error_string(verr));
	/* A leaf issued by the temp CA (the RA-TLS client cert shape, §7.7). */
	struct kp cl;
	CHECK_OK(kp_new(&cl, &e), &e);
	const uint8_t att[] = {1, 2, 3};
	struct cert_params ccp = {.subject = "RA-TLS TEMP Cert", .attestation = {att, sizeof att}};
	X509 *c = cert_issue(&ccp, cl.q, tmp.d, t, now, &e);
	CHECK_MSG(c, "client: %s", e.msg);
	CHECK_MSG(openssl_verify(t, c, &verr) == 1, "client: %s",
		  X509_verify_cert_error_string(verr));

	const char *dir = t_tmpdir();
	char rp[512], xp[512], tp[512], cp[512], cmd[2048];
	CHECK(write_pem(dir, "root-ca.crt", r, rp, sizeof rp) == 0);
	CHECK(write_pem(dir, "rpc.crt", x, xp, sizeof xp) == 0);
	CHECK(write_pem(dir, "tmp-ca.crt", t, tp, sizeof tp) == 0);
	CHECK(write_pem(dir, "client.crt", c, cp, sizeof cp) == 0);
	struct buf out = BUF_INIT;
	snprintf(cmd, sizeof cmd, "openssl verify -CAfile '%s' '%s' 2>&1", rp, xp);
	CHECK_MSG(run_cmd(cmd, &out) == 0, "openssl verify: %s", buf_str(&out));
	CHECK_CONTAINS(buf_str(&out), ": OK");
	buf_reset(&out);
	snprintf(cmd, sizeof cmd, "openssl verify -CAfile '%s' '%s' 2>&1", tp, cp);
	CHECK_MSG(run_cmd(cmd, &out) == 0, "openssl verify: %s", buf_str(&out));
	buf_reset(&out);
	snprintf(cmd, sizeof cmd, "openssl x509 -noout -text -in '%s' 2>&1", xp);
	CHECK_MSG(run_cmd(cmd, &out) == 0, "openssl x509: %s", buf_str(&out));
	CHECK_CONTAINS(buf_str(&out), "Issuer: O = Dstack, CN = Dstack KMS CA");
	CHECK_CONTAINS(buf_str(&out), "Subject: CN = kms.example.com");
	CHECK_CONTAINS(buf_str(&out), "DNS:kms.example.com");
	CHECK_CONTAINS(buf_str(&out), "Digital Signature");
	CHECK_CONTAINS(buf_str(&out), "1.3.6.1.4.1.62397.1.4:");
	CHECK_CONTAINS(buf_str(&out), "Not Before: Jan  1 00:00:00 1975 GMT");
	buf_reset(&out);
	snprintf(cmd, sizeof cmd, "openssl x509 -noout -text -in '%s' 2>&1", rp);
	CHECK_MSG(run_cmd(cmd, &out) == 0, "openssl x509: %s", buf_str(&out));
	CHECK_CONTAINS(buf_str(&out), "CA:TRUE, pathlen:1");
	CHECK_CONTAINS(buf_str(&out), "Digital Signature, Certificate Sign, CRL Sign");
	CHECK_CONTAINS(buf_str(&out), "X509v3 Subject Key Identifier");
	buf_free(&out);

	X509_free(c);
	X509_free(x);
	X509_free(t);
	X509_free(r);
	kp_wipe(&root);
	kp_wipe(&tmp);
	kp_wipe(&rpc);
	kp_wipe(&cl);
}

TEST(test_cert_signature_by_other_key_fails_verification)
{
	struct err e;
	struct kp a, b, leaf;
	CHECK_OK(kp_new(&a, &e), &e);
	CHECK_OK(kp_new(&b, &e), &e);
	CHECK_OK(kp_new(&leaf, &e), &e);
	int64_t now = (int64_t)time(NULL);
	X509 *ra = make_root(&a, now, &e);
	X509 *rb = make_root(&b, now, &e); /* same DN, different key */
	CHECK(ra && rb);
	X509 *x = make_rpc(&leaf, &a, ra, now, &e);
	CHECK_MSG(x, "rpc: %s", e.msg);
	int verr = 0;
	CHECK(openssl_verify(ra, x, &verr) == 1);
	CHECK(openssl_verify(rb, x, &verr) != 1);
	CHECK_EQ_INT(verr, X509_V_ERR_CERT_SIGNATURE_FAILURE);

	const char *dir = t_tmpdir();
	char bp[512], xp[512], cmd[2048];
	CHECK(write_pem(dir, "b.crt", rb, bp, sizeof bp) == 0);
	CHECK(write_pem(dir, "x.crt", x, xp, sizeof xp) == 0);
	struct buf out = BUF_INIT;
	snprintf(cmd, sizeof cmd, "openssl verify -CAfile '%s' '%s' 2>&1", bp, xp);
	CHECK(run_cmd(cmd, &out) != 0);
	CHECK_CONTAINS(buf_str(&out), "signature");
	buf_free(&out);

	/* cert_issue itself refuses a signing key that is not the issuer's. */
	const char *san[] = {"kms.example.com"};
	struct cert_params cp = {.subject = "kms.example.com", .san = san, .nsan = 1};
	CHECK(cert_issue(&cp, leaf.q, b.d, ra, now, &e) == NULL);
	CHECK_CONTAINS(e.msg, "does not match");
	/* and a self-signed cert whose key is not the subject's. */
	CHECK(cert_issue(&cp, leaf.q, a.d, NULL, now, &e) == NULL);
	CHECK_CONTAINS(e.msg, "does not match");

	X509_free(x);
	X509_free(ra);
	X509_free(rb);
	kp_wipe(&a);
	kp_wipe(&b);
	kp_wipe(&leaf);
}

TEST(test_cert_eku_server_then_client)
{
	struct err e;
	struct kp k;
	CHECK_OK(kp_new(&k, &e), &e);
	struct cert_params cp = {.subject = "app", .eku_server = 1, .eku_client = 1};
	X509 *x = cert_issue(&cp, k.q, k.d, NULL, 1700000000, &e);
	CHECK_MSG(x, "issue: %s", e.msg);
	struct buf der = BUF_INIT;
	CHECK(der_of(x, &der) == 0);
	long ku = find_hex(der.p, der.len, "300f0603551d0f0101ff04050303078000");
	long eku = find_hex(der.p, der.len,
			    "301d0603551d250416301406082b0601050507030106082b06010505070302");
	CHECK(ku > 0 && eku > ku);
	X509_free(x);
	buf_reset(&der);

	cp.eku_server = 0;
	x = cert_issue(&cp, k.q, k.d, NULL, 1700000000, &e);
	CHECK_MSG(x, "issue: %s", e.msg);
	CHECK(der_of(x, &der) == 0);
	CHECK(find_hex(der.p, der.len, "30130603551d25040c300a06082b06010505070302") > 0);
	CHECK_EQ_INT(X509_get_extended_key_usage(x), XKU_SSL_CLIENT);
	X509_free(x);
	buf_free(&der);
	kp_wipe(&k);
}

TEST(test_cert_san_ip_literals_become_ip_addresses)
{
	struct err e;
	struct kp k;
	CHECK_OK(kp_new(&k, &e), &e);
	const char *san[] = {"10.0.0.1", "::1", "example.com", "010.0.0.1"};
	struct cert_params cp = {.subject = "s", .san = san, .nsan = 4};
	X509 *x = cert_issue(&cp, k.q, k.d, NULL, 1700000000, &e);
	CHECK_MSG(x, "issue: %s", e.msg);
	struct buf der = BUF_INIT;
	CHECK(der_of(x, &der) == 0);
	/* "010.0.0.1" has a leading zero: not an IPv4 literal, so a dNSName. */
	CHECK(find_hex(der.p, der.len,
		       "30390603551d110432303087040a000001871000000000000000000000000000000001"
		       "820b6578616d706c652e636f6d82093031302e302e302e31") > 0);
	GENERAL_NAMES *gns = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	CHECK(gns && sk_GENERAL_NAME_num(gns) == 4);
	CHECK_EQ_INT(sk_GENERAL_NAME_value(gns, 0)->type, GEN_IPADD);
	CHECK_EQ_INT(sk_GENERAL_NAME_value(gns, 1)->type, GEN_IPADD);
	CHECK_EQ_INT(sk_GENERAL_NAME_value(gns, 2)->type, GEN_DNS);
	CHECK_EQ_INT(sk_GENERAL_NAME_value(gns, 3)->type, GEN_DNS);
	GENERAL_NAMES_free(gns);
	CHECK_EQ_INT(X509_check_ip_asc(x, "10.0.0.1", 0), 1);
	CHECK_EQ_INT(X509_check_ip_asc(x, "::1", 0), 1);
	CHECK_EQ_INT(X509_check_host(x, "example.com", 0, 0, NULL), 1);
	buf_free(&der);
	X509_free(x);
	kp_wipe(&k);
}

TEST(test_cert_san_rejects_non_ascii_dns_name)
{
	struct err e;
	struct kp k;
	CHECK_OK(kp_new(&k, &e), &e);
	const char *san[] = {"ok.example", "b\xc3\xbc"
					   "cher.example"};
	struct cert_params cp = {.subject = "s", .san = san, .nsan = 2};
	CHECK(cert_issue(&cp, k.q, k.d, NULL, 1700000000, &e) == NULL);
	CHECK_CONTAINS(e.msg, "not an ASCII DNS name");
	kp_wipe(&k);
}

TEST(test_cert_custom_exts_wrapped_in_order_and_read_back)
{
	struct err e;
	struct kp k;
	CHECK_OK(kp_new(&k, &e), &e);
	uint8_t app_id[20], info[3] = {0x99, 0xc4, 0x00}, *att = malloc(5000);
	CHECK(att);
	for (size_t i = 0; i < sizeof app_id; i++)
		app_id[i] = (uint8_t)(0xa0 + i);
	for (size_t i = 0; i < 5000; i++)
		att[i] = (uint8_t)(i * 7);
	struct cert_params cp = {.org = "Dstack",
				 .subject = "Dstack App CA",
				 .is_ca = 1,
				 .path_len = 0,
				 .app_id = {app_id, sizeof app_id},
				 .app_info = {info, sizeof info},
				 .usage = "app:ca",
				 .attestation = {att, 5000}};
	X509 *x = cert_issue(&cp, k.q, k.d, NULL, 1700000000, &e);
	CHECK_MSG(x, "issue: %s", e.msg);
	struct buf der = BUF_INIT;
	CHECK(der_of(x, &der) == 0);
	long bc = find_hex(der.p, der.len, "30120603551d130101ff040830060101ff020100");
	long a = find_hex(der.p, der.len,
			  "3024060a2b0601040183e73d010304160414"
			  "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3");
	long i = find_hex(der.p, der.len, "3013060a2b0601040183e73d01090405040399c400");
	long u = find_hex(der.p, der.len,
			  "3016060a2b0601040183e73d010404080406"
			  "6170703a6361");
	/* 5000 = 0x1388: inner 04 82 13 88, outer 04 82 13 8c, ext 30 82 13 9c */
	long t = find_hex(der.p, der.len, "3082139c060a2b0601040183e73d01080482138c0482138800070e");
	CHECK_MSG(bc > 0 && a > bc && i > a && u > i && t > u,
		  "order bc=%ld a=%ld i=%ld u=%ld t=%ld", bc, a, i, u, t);

	struct buf v = BUF_INIT;
	CHECK_EQ_INT(cert_get_custom_ext(x, OID_APP_ID, &v, &e), 1);
	CHECK(v.len == 20 && memcmp(v.p, app_id, 20) == 0);
	buf_reset(&v);
	CHECK_EQ_INT(cert_get_custom_ext(x, OID_APP_INFO, &v, &e), 1);
	CHECK_HEX(v.p, v.len, "99c400");
	buf_reset(&v);
	CHECK_EQ_INT(cert_get_custom_ext(x, OID_ATTESTATION, &v, &e), 1);
	CHECK(v.len == 5000 && memcmp(v.p, att, 5000) == 0);
	buf_reset(&v);
	CHECK_EQ_INT(cert_get_custom_ext(x, OID_TDX_QUOTE, &v, &e), 0);
	CHECK_EQ_INT(v.len, 0);
	buf_free(&v);
	free(att);
	buf_free(&der);
	X509_free(x);
	kp_wipe(&k);
}

TEST(test_cert_no_extensions_block_without_ca_san_eku_or_custom)
{
	struct err e;
	struct kp k;
	CHECK_OK(kp_new(&k, &e), &e);
	struct cert_params cp = {.subject = "bare"};
	X509 *x = cert_issue(&cp, k.q, k.d, NULL, 1700000000, &e);
	CHECK_MSG(x, "issue: %s", e.msg);
	CHECK_EQ_INT(X509_get_ext_count(x), 0);
	CHECK_EQ_INT(X509_get_version(x), 2); /* still v3 */
	struct buf der = BUF_INIT;
	CHECK(der_of(x, &der) == 0);
	CHECK(find_hex(der.p, der.len, "0603551d0f") < 0);
	/* TBS ends with the SPKI, followed by the signature algorithm. */
	char tail[2 * 91 + 32];
	hex_encode(k.q, 65, tail);
	strcat(tail, "300a06082a8648ce3d040302");
	CHECK(find_hex(der.p, der.len, tail) > 0);
	buf_free(&der);
	X509_free(x);
	kp_wipe(&k);
}

TEST(test_cert_issuer_dn_is_mock_ca_subject_verbatim)
{
	struct err e;
	size_t n, kn;
	char *pem = (char *)t_read_vector("mock/mock_kms_temp_ca.pem", &n);
	char *kpem = (char *)t_read_vector("mock/mock_kms_temp_ca.key.pem", &kn);
	CHECK(pem && kpem);
	X509 *ca = cert_from_pem(pem, n, &e);
	CHECK_MSG(ca, "ca: %s", e.msg);
	uint8_t cad[32];
	CHECK_OK(p256_scalar_from_pem(kpem, kn, cad, &e), &e);
	struct kp leaf;
	CHECK_OK(kp_new(&leaf, &e), &e);
	const uint8_t att[] = {0xde, 0xad};
	struct cert_params cp = {.subject = "RA-TLS TEMP Cert", .attestation = {att, 2}};
	X509 *x = cert_issue(&cp, leaf.q, cad, ca, (int64_t)time(NULL), &e);
	secret_wipe(cad, sizeof cad);
	CHECK_MSG(x, "issue: %s", e.msg);
	/* subject bytes of mock_kms_temp_ca.pem (openssl asn1parse, offset 117) */
	const char *ca_subject = "3035310f300d060355040a0c0644737461636b3122302006035504030c1944"
				 "737461636b204b4d532054656d7020434120286d6f636b29";
	struct buf der = BUF_INIT;
	CHECK(der_of(x, &der) == 0);
	/* issuer follows the signature algorithm identifier */
	char hex[512] = "300a06082a8648ce3d040302";
	strcat(hex, ca_subject);
	strcat(hex, "301e170d3735");
	CHECK(find_hex(der.p, der.len, hex) > 0);
	int verr = 0;
	CHECK_MSG(openssl_verify(ca, x, &verr) == 1, "%s", X509_verify_cert_error_string(verr));
	buf_free(&der);
	X509_free(x);
	X509_free(ca);
	free(pem);
	free(kpem);
	kp_wipe(&leaf);
}

TEST(test_cert_reissue_keeps_serial_and_ski)
{
	struct err e;
	struct kp k;
	CHECK_OK(kp_new(&k, &e), &e);
	X509 *a = make_root(&k, 1700000000, &e);
	X509 *b = make_root(&k, 1800000000, &e);
	CHECK(a && b);
	CHECK_EQ_INT(ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)), 0);
	const ASN1_OCTET_STRING *sa = X509_get0_subject_key_id(a);
	const ASN1_OCTET_STRING *sb = X509_get0_subject_key_id(b);
	CHECK(sa && sb && ASN1_OCTET_STRING_cmp(sa, sb) == 0);
	CHECK_EQ_INT(ASN1_STRING_length(sa), 20);
	int64_t ta, tb;
	CHECK_OK(cert_not_after(a, &ta, &e), &e);
	CHECK_OK(cert_not_after(b, &tb, &e), &e);
	CHECK_EQ_INT(tb - ta, 100000000);
	X509_free(a);
	X509_free(b);
	kp_wipe(&k);
}

TEST(test_cert_reads_mock_ratls_cert_extensions)
{
	struct err e;
	size_t n, an, qn;
	char *pem = (char *)t_read_vector("mock/ratls_cert_A.pem", &n);
	uint8_t *att = t_read_vector("mock/attestation_v0_A.bin", &an);
	uint8_t *quote = t_read_vector("mock/quote_ratls_A.bin", &qn);
	CHECK(pem && att && quote);
	X509 *x = cert_from_pem(pem, n, &e);
	CHECK_MSG(x, "%s", e.msg);
	struct buf v = BUF_INIT;
	CHECK_EQ_INT(cert_get_custom_ext(x, OID_ATTESTATION, &v, &e), 1);
	CHECK(v.len == an && memcmp(v.p, att, an) == 0);
	buf_reset(&v);
	CHECK_EQ_INT(cert_get_custom_ext(x, OID_APP_ID, &v, &e), 0);
	CHECK_EQ_INT(cert_get_custom_ext(x, OID_CERT_USAGE, &v, &e), 0);
	CHECK_EQ_INT(cert_get_custom_ext(x, OID_TDX_QUOTE, &v, &e), 0);
	/* SPKI matches mock_meta.json spki_A */
	CHECK_OK(cert_spki_der(x, &v, &e), &e);
	CHECK_HEX(v.p, v.len,
		  "3059301306072a8648ce3d020106082a8648ce3d03010703420004459ebcb1533232884f3e092f"
		  "6494f51006c5b5efc212948b1eab0421b30de7c8ebc28049ea525d6823fa0c410042a308e7b663"
		  "723dc00455aedc7be940f793ac");
	uint8_t q[65];
	CHECK_OK(cert_public_point(x, q, &e), &e);
	CHECK(memcmp(q, v.p + 26, 65) == 0);
	X509_free(x);
	free(pem);
	buf_reset(&v);

	pem = (char *)t_read_vector("mock/ratls_cert_A_legacy_oids.pem", &n);
	CHECK(pem);
	x = cert_from_pem(pem, n, &e);
	CHECK_MSG(x, "%s", e.msg);
	CHECK_EQ_INT(cert_get_custom_ext(x, OID_TDX_QUOTE, &v, &e), 1);
	CHECK(v.len == qn && memcmp(v.p, quote, qn) == 0);
	buf_reset(&v);
	CHECK_EQ_INT(cert_get_custom_ext(x, OID_EVENT_LOG, &v, &e), 1);
	/* length and SHA-256 from `openssl asn1parse -strparse` + sha256sum */
	CHECK_EQ_INT(v.len, 1057);
	CHECK(memcmp(v.p, "[{\"imr\":3,", 10) == 0);
	uint8_t h[32];
	sha256(v.p, v.len, h);
	CHECK_HEX(h, 32, "756d895afa2eb84e3c82d3145bfd31e5a03cc1cba646b51800bba7a39fbfdc9c");
	buf_reset(&v);
	CHECK_EQ_INT(cert_get_custom_ext(x, OID_ATTESTATION, &v, &e), 0);
	buf_free(&v);
	X509_free(x);
	free(pem);
	free(att);
	free(quote);
}

/* A certificate built directly with the OpenSSL API, carrying raw extension values. */
static X509 *hand_cert(const char *const *oids, const char *const *vals_hex, size_t n)
{
	struct err e;
	struct kp k;
	X509 *x = X509_new();
	EVP_PKEY *pk = NULL;
	int ok = 0;
	if (!x || kp_new(&k, &e) < 0 || !(pk = p256_evp_from_scalar(k.d, &e)))
		goto out;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
				   (const unsigned char *)"hand", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pk);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		uint8_t *v = t_unhex(vals_hex[i], &len);
		ASN1_OBJECT *obj = OBJ_txt2obj(oids[i], 1);
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		X509_EXTENSION *ext = NULL;
		int r = v && obj && os && ASN1_OCTET_STRING_set(os, v, (int)len) == 1 &&
			(ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) &&
			X509_add_ext(x, ext, -1) == 1;
		X509_EXTENSION_free(ext);
		ASN1_OCTET_STRING_free(os);
		ASN1_OBJECT_free(obj);
		free(v);
		if (!r)
			goto out;
	}
	ok = X509_sign(x, pk, EVP_sha256()) > 0;
out:
	EVP_PKEY_free(pk);
	kp_wipe(&k);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

TEST(test_cert_custom_ext_reader_rejects_duplicates)
{
	struct err e;
	const char *oids[] = {OID_APP_ID, OID_CERT_USAGE, OID_APP_ID};
	const char *vals[] = {"040101", "0403616263", "040102"};
	X509 *x = hand_cert(oids, vals, 3);
	CHECK(x);
	struct buf v = BUF_INIT;
	CHECK_EQ_INT(cert_get_custom_ext(x, OID_APP_ID, &v, &e), -1);
	CHECK_CONTAINS(e.msg, "duplicate");
	CHECK_EQ_INT(v.len, 0);
	/* the unique one is still readable */
	CHECK_EQ_INT(cert_get_custom_ext(x, OID_CERT_USAGE, &v, &e), 1);
	CHECK_EQ_STR(buf_str(&v), "abc");
	buf_free(&v);
	X509_free(x);
}

TEST(test_cert_custom_ext_reader_is_strict_der)
{
	struct err e;
	const char *bad[] = {
	    "0481036162",     /* long-form length for a short value */
	    "04016100",	      /* trailing byte after the OCTET STRING */
	    "0c0161",	      /* UTF8String, not OCTET STRING */
	    "2403040161",     /* constructed OCTET STRING */
	    "040261",	      /* truncated */
	    "0480610000",     /* indefinite length */
	    "04820003616263", /* long form with a leading zero octet */
	    "",		      /* empty */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *oids[] = {OID_CERT_USAGE};
		const char *vals[] = {bad[i]};
		X509 *x = hand_cert(oids, vals, 1);
		CHECK_MSG(x, "case %zu", i);
		struct buf v = BUF_INIT;
		int r = cert_get_custom_ext(x, OID_CERT_USAGE, &v, &e);
		buf_free(&v);
		X509_free(x);
		CHECK_MSG(r == -1, "case %zu (%s) accepted", i, bad[i]);
	}
	/* an empty OCTET STRING and a long-form length >= 128 are fine */
	const char *oids[] = {OID_APP_INFO, OID_ATTESTATION};
	char big[2 * 131 + 16] = "048180";
	for (int i = 0; i < 128; i++)
		strcat(big, "ab");
	const char *vals[] = {"0400", big};
	X509 *x = hand_cert(oids, vals, 2);
	CHECK(x);
	struct buf v = BUF_INIT;
	CHECK_EQ_INT(cert_get_custom_ext(x, OID_APP_INFO, &v, &e), 1);
	CHECK_EQ_INT(v.len, 0);
	CHECK_EQ_INT(cert_get_custom_ext(x, OID_ATTESTATION, &v, &e), 1);
	CHECK_EQ_INT(v.len, 128);
	CHECK(v.p[0] == 0xab && v.p[127] == 0xab);
	buf_free(&v);
	X509_free(x);
}

TEST(test_cert_pem_is_64_columns_lf_and_round_trips)
{
	struct err e;
	struct kp k;
	CHECK_OK(kp_new(&k, &e), &e);
	X509 *x = make_root(&k, 1700000000, &e);
	CHECK(x);
	struct buf pem = BUF_INIT, d1 = BUF_INIT, d2 = BUF_INIT;
	CHECK_OK(cert_to_pem(x, &pem, &e), &e);
	const char *s = buf_str(&pem);
	CHECK(strncmp(s, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
	CHECK(pem.len > 26 && strcmp(s + pem.len - 26, "-----END CERTIFICATE-----\n") == 0);
	CHECK(strchr(s, '\r') == NULL);
	/* every base64 line is 64 chars except the last one */
	const char *line = s + 28;
	size_t last = 0;
	int lines = 0;
	while (strncmp(line, "-----END", 8) != 0) {
		const char *nl = strchr(line, '\n');
		CHECK(nl);
		size_t len = (size_t)(nl - line);
		CHECK(len <= 64 && len > 0);
		if (lines > 0)
			CHECK_EQ_INT(last, 64);
		last = len;
		lines++;
		line = nl + 1;
	}
	CHECK(lines >= 2);
	X509 *y = cert_from_pem(s, pem.len, &e);
	CHECK_MSG(y, "%s", e.msg);
	CHECK(cert_to_der(x, &d1, &e) == 0 && cert_to_der(y, &d2, &e) == 0);
	CHECK(d1.len == d2.len && memcmp(d1.p, d2.p, d1.len) == 0);
	/* with the spki helper */
	struct buf spki = BUF_INIT;
	CHECK_OK(cert_spki_der(y, &spki, &e), &e);
	CHECK_EQ_INT(spki.len, 91);
	CHECK(memcmp(spki.p + 26, k.q, 65) == 0);
	buf_free(&spki);
	CHECK(cert_from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 58,
			    &e) == NULL);
	CHECK(cert_from_pem("garbage", 7, &e) == NULL);
	X509_free(y);
	X509_free(x);
	buf_free(&pem);
	buf_free(&d1);
	buf_free(&d2);
	kp_wipe(&k);
}

TEST(test_cert_issue_rejects_bad_inputs)
{
	struct err e;
	struct kp k;
	CHECK_OK(kp_new(&k, &e), &e);
	struct cert_params cp = {.subject = "x", .usage = "u"};
	uint8_t bad[65];
	memcpy(bad, k.q, 65);
	bad[64] ^= 1; /* off the curve */
	CHECK(cert_issue(&cp, bad, k.d, NULL, 1700000000, &e) == NULL);
	CHECK_CONTAINS(e.msg, "P-256");
	cp.subject = "bad \xff utf8";
	CHECK(cert_issue(&cp, k.q, k.d, NULL, 1700000000, &e) == NULL);
	CHECK_CONTAINS(e.msg, "UTF-8");
	cp.subject = "x";
	cp.org = "\xed\xa0\x80"; /* a UTF-16 surrogate */
	CHECK(cert_issue(&cp, k.q, k.d, NULL, 1700000000, &e) == NULL);
	CHECK_CONTAINS(e.msg, "UTF-8");
	cp.org = NULL;
	cp.subject = NULL;
	CHECK(cert_issue(&cp, k.q, k.d, NULL, 1700000000, &e) == NULL);
	cp.subject = "x";
	cp.is_ca = 1;
	cp.path_len = 256;
	CHECK(cert_issue(&cp, k.q, k.d, NULL, 1700000000, &e) == NULL);
	CHECK_CONTAINS(e.msg, "path length");
	cp.path_len = 200; /* > 127: a two-octet INTEGER */
	X509 *x = cert_issue(&cp, k.q, k.d, NULL, 1700000000, &e);
	CHECK_MSG(x, "%s", e.msg);
	struct buf der = BUF_INIT;
	CHECK(der_of(x, &der) == 0);
	CHECK(find_hex(der.p, der.len, "30130603551d130101ff040930070101ff020200c8") > 0);
	buf_free(&der);
	X509_free(x);
	/* UTF-8 subjects are fine and stay UTF8String */
	cp.is_ca = 0;
	cp.subject = "caf\xc3\xa9";
	x = cert_issue(&cp, k.q, k.d, NULL, 1700000000, &e);
	CHECK_MSG(x, "%s", e.msg);
	CHECK(der_of(x, &der) == 0);
	CHECK(find_hex(der.p, der.len, "0c05636166c3a9") > 0);
	buf_free(&der);
	X509_free(x);
	kp_wipe(&k);
}
