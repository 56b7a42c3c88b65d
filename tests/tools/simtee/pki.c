/*
 * pki.c — `simtee pki`: an Intel-shaped mock DCAP PKI, every key derived from
 * a seed (HKDF, so the same seed gives the same keys, names, serials and
 * validity; only the ECDSA signatures are randomized): root CA, PCK Platform
 * (or Processor) CA, PCK leaf with the SGX extension, TCB signing cert, the
 * quote attestation key, and root / PCK CA CRLs with explicit times.
 * TEST-ONLY: the keys are test credentials written in the clear.
 * spec: attestation §1.4 (SGX extension), §2.2 and §2.4 (chain shape), §5.
 */
#include "simtee.h"

#include "crypto/kdf.h"
#include "crypto/p256.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/secret.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

/* The real TD_QE MRSIGNER and Intel's QE vendor ID (attestation §1.1, §2.1). */
const uint8_t SIM_QE_MRSIGNER[32] = {
    0xdc, 0x9e, 0x2a, 0x7c, 0x6f, 0x94, 0x8f, 0x17, 0x47, 0x4e, 0x34, 0xa7, 0xfc, 0x43, 0xed, 0x03,
    0x0f, 0x7c, 0x15, 0x63, 0xf1, 0xba, 0xbd, 0xdf, 0x63, 0x40, 0xc8, 0x2e, 0x0e, 0x54, 0xa8, 0xc5};
const uint8_t SIM_QE_VENDOR_ID[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
				      0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

#define SGX_EXT_OID "1.2.840.113741.1.13.1"
#define SERIAL_ROOT 1
#define SERIAL_PCK_CA 2
#define SERIAL_PCK 3
#define SERIAL_TCB 4

static const char *const PKI_HELP =
    "usage: simtee pki --seed HEX --out DIR [options]\n"
    "\n"
    "Writes an Intel-shaped mock DCAP PKI into DIR, every key derived from the seed\n"
    "(HKDF-SHA256): the same seed always gives the same keys, names, serials and\n"
    "validity (ECDSA signatures are randomized). TEST CREDENTIALS ONLY.\n"
    "\n"
    "  --seed HEX              16..64 bytes of hex (required)\n"
    "  --out DIR               output directory, created if missing (required)\n"
    "  --not-before T          validity start of every cert (default 2020-01-01T00:00:00Z)\n"
    "  --not-after T           validity end of every cert (default 2099-12-31T00:00:00Z)\n"
    "  --pck-not-before T      PCK leaf only (default --not-before)\n"
    "  --pck-not-after T       PCK leaf only (default --not-after)\n"
    "  --crl-this-update T     thisUpdate of root_ca.crl / pck_ca.crl (default --not-before)\n"
    "  --crl-next-update T     nextUpdate of those CRLs (default --not-after)\n"
    "  --fmspc HEX             6 bytes (default 90C06F000000)\n"
    "  --ppid HEX              16 bytes (default 00112233445566778899aabbccddeeff)\n"
    "  --cpusvn HEX            16 bytes, also the SGX TCB components (default\n"
    "                          04040202040100050000000000000000)\n"
    "  --pcesvn N              (default 13)\n"
    "  --pce-id HEX            2 bytes (default 0000)\n"
    "  --tee-tcb-svn HEX       16 bytes: the TEE_TCB_SVN quotes carry by default and the\n"
    "                          TDX components collateral is made for (default\n"
    "                          06010400000000000000000000000000)\n"
    "  --qe-isvsvn N           QE ISVSVN of quotes and QE identity (default 4)\n"
    "  --processor-ca          issue the leaf from a \"PCK Processor CA\" (ca=processor)\n"
    "  --crl-url BASE          add CRL distribution points: BASE/IntelSGXRootCA.der on\n"
    "                          root-issued certs, BASE/sgx/certification/v4/pckcrl?ca=...\n"
    "                          &encoding=der on the PCK leaf\n"
    "\n"
    "Times are Unix seconds or YYYY-MM-DDTHH:MM:SSZ. Files written:\n"
    "  root_ca.pem root_ca.der root_ca.key.pem  pck_ca.pem pck_ca.key.pem\n"
    "  pck.pem pck.key.pem  tcb_signing.pem tcb_signing.key.pem  attestation_key.pem\n"
    "  pck_chain.pem (leaf, PCK CA, root)  root_ca.crl.pem pck_ca.crl.pem (no revocations)\n"
    "  platform.json (the platform values above)\n";

void sim_pki_free(struct sim_pki *p)
{
	X509_free(p->root);
	X509_free(p->pck_ca);
	X509_free(p->pck);
	X509_free(p->tcb);
	secret_wipe(p->root_key, sizeof p->root_key);
	secret_wipe(p->pck_ca_key, sizeof p->pck_ca_key);
	secret_wipe(p->pck_key, sizeof p->pck_key);
	secret_wipe(p->tcb_key, sizeof p->tcb_key);
	secret_wipe(p->att_key, sizeof p->att_key);
	buf_free(&p->pck_chain_pem);
	buf_free(&p->crl_url);
	memset(p, 0, sizeof *p);
}

/* A P-256 scalar from the seed and a label; a counter retries the (2^-32
 * likely) case of an out-of-range HKDF output. */
static int derive_scalar(const struct buf *seed, const char *label, uint8_t out[32],
			 struct err *err)
{
	uint8_t okm[32];
	for (uint8_t ctr = 0; ctr < 8; ctr++) {
		struct kdf_ctx ctx[3] = {
		    KDF_STR("dstack-simtee pki v1:"), {label, strlen(label)}, {&ctr, 1}};
		if (kdf_derive_key(seed->p, seed->len, ctx, 3, okm, sizeof okm, err) < 0)
			return -1;
		if (kdf_p256_scalar_from_okm(okm, out, NULL) == 0) {
			secret_wipe(okm, sizeof okm);
			return 0;
		}
	}
	secret_wipe(okm, sizeof okm);
	return err_set(err, "no valid P-256 scalar for %s", label);
}

/* ---- DER for the SGX extension ---- */

static int der_len(struct buf *b, size_t n)
{
	uint8_t l[5];
	size_t k = 0;
	if (n < 0x80)
		return buf_append_byte(b, (uint8_t)n);
	for (size_t v = n; v; v >>= 8)
		l[k++] = (uint8_t)v;
	if (buf_append_byte(b, (uint8_t)(0x80 | k)) < 0)
		return -1;
	while (k)
		if (buf_append_byte(b, l[--k]) < 0)
			return -1;
	return 0;
}

static int der_tlv(struct buf *b, uint8_t tag, const void *p, size_t n)
{
	if (buf_append_byte(b, tag) < 0 || der_len(b, n) < 0 || buf_append(b, p, n) < 0)
		return -1;
	return 0;
}

static int der_oid(struct buf *b, const char *dotted)
{
	ASN1_OBJECT *o = OBJ_txt2obj(dotted, 1);
	unsigned char *der = NULL;
	int n = o ? i2d_ASN1_OBJECT(o, &der) : -1;
	int rc = n > 0 ? buf_append(b, der, (size_t)n) : -1;
	OPENSSL_free(der);
	ASN1_OBJECT_free(o);
	return rc;
}

/* INTEGER with a minimal non-negative encoding. */
static int der_uint(struct buf *b, unsigned v)
{
	uint8_t x[5];
	size_t k = 0;
	do {
		x[k++] = (uint8_t)v;
		v >>= 8;
	} while (v);
	uint8_t c[6];
	size_t n = 0;
	if (x[k - 1] & 0x80)
		c[n++] = 0;
	while (k)
		c[n++] = x[--k];
	return der_tlv(b, 0x02, c, n);
}

/* SEQUENCE { OID arc, value } where value is already DER. */
static int der_pair(struct buf *out, const char *arc, const struct buf *value)
{
	struct buf in = BUF_INIT;
	char oid[64];
	snprintf(oid, sizeof oid, "%s%s", SGX_EXT_OID, arc);
	int rc = der_oid(&in, oid) == 0 && buf_append(&in, value->p, value->len) == 0 &&
			 der_tlv(out, 0x30, in.p, in.len) == 0
		     ? 0
		     : -1;
	buf_free(&in);
	return rc;
}

/* spec: attestation §1.4 */
static int sgx_extension_der(const struct sim_pki *p, struct buf *out)
{
	struct buf seq = BUF_INIT, tcb = BUF_INIT, v = BUF_INIT, cfg = BUF_INIT;
	int rc = -1;
	char arc[16];
#define VAL(stmt)                                                                                  \
	do {                                                                                       \
		buf_reset(&v);                                                                     \
		if ((stmt) < 0)                                                                    \
			goto out;                                                                  \
	} while (0)
	VAL(der_tlv(&v, 0x04, p->ppid, 16));
	TRY_OUT(der_pair(&seq, ".1", &v));
	for (int i = 0; i < 16; i++) {
		snprintf(arc, sizeof arc, ".2.%d", i + 1);
		VAL(der_uint(&v, p->cpusvn[i]));
		TRY_OUT(der_pair(&tcb, arc, &v));
	}
	VAL(der_uint(&v, p->pcesvn));
	TRY_OUT(der_pair(&tcb, ".2.17", &v));
	VAL(der_tlv(&v, 0x04, p->cpusvn, 16));
	TRY_OUT(der_pair(&tcb, ".2.18", &v));
	VAL(der_tlv(&v, 0x30, tcb.p, tcb.len));
	TRY_OUT(der_pair(&seq, ".2", &v));
	VAL(der_tlv(&v, 0x04, p->pce_id, 2));
	TRY_OUT(der_pair(&seq, ".3", &v));
	VAL(der_tlv(&v, 0x04, p->fmspc, 6));
	TRY_OUT(der_pair(&seq, ".4", &v));
	/* SGX type: Standard (0) for processor-CA parts, Scalable (1) for platform. */
	uint8_t sgx_type = p->processor_ca ? 0 : 1;
	VAL(der_tlv(&v, 0x0a, &sgx_type, 1));
	TRY_OUT(der_pair(&seq, ".5", &v));
	if (!p->processor_ca) {
		/* Platform-CA leaves also carry a platform instance ID and a configuration. */
		uint8_t piid[16];
		for (int i = 0; i < 16; i++)
			piid[i] = (uint8_t)(p->ppid[i] ^ 0x5a);
		VAL(der_tlv(&v, 0x04, piid, 16));
		TRY_OUT(der_pair(&seq, ".6", &v));
		static const uint8_t flags[3] = {0x00, 0xff, 0xff}; /* dynamic, cached, SMT */
		for (int i = 0; i < 3; i++) {
			snprintf(arc, sizeof arc, ".7.%d", i + 1);
			VAL(der_tlv(&v, 0x01, &flags[i], 1));
			TRY_OUT(der_pair(&cfg, arc, &v));
		}
		VAL(der_tlv(&v, 0x30, cfg.p, cfg.len));
		TRY_OUT(der_pair(&seq, ".7", &v));
	}
#undef VAL
	rc = der_tlv(out, 0x30, seq.p, seq.len);
out:
	buf_free(&seq);
	buf_free(&tcb);
	buf_free(&v);
	buf_free(&cfg);
	return rc;
}

/* ---- certificates ---- */

struct cert_tmpl {
	const char *cn;
	long serial;
	int64_t not_before, not_after;
	int ca, path_len;
	int ku_bits[3];	 /* KeyUsage bit numbers, -1 terminated early */
	const char *cdp; /* NULL: none */
	const struct buf *sgx_ext;
};

static X509_NAME *intel_name(const char *cn)
{
	/* Intel's order: CN, O, L, ST, C. */
	X509_NAME *n = X509_NAME_new();
	if (!n ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
					0) ||
	    !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
					(const unsigned char *)"Mock Intel Corporation", -1, -1,
					0) ||
	    !X509_NAME_add_entry_by_txt(n, "L", MBSTRING_UTF8, (const unsigned char *)"Santa Clara",
					-1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "ST", MBSTRING_UTF8, (const unsigned char *)"CA", -1, -1,
					0) ||
	    !X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"US", -1, -1,
					0)) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

/* RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING. */
static ASN1_OCTET_STRING *key_id(X509 *x)
{
	const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(x);
	unsigned char md[SHA_DIGEST_LENGTH];
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	if (!bits || !os || !SHA1(bits->data, (size_t)bits->length, md) ||
	    !ASN1_OCTET_STRING_set(os, md, sizeof md)) {
		ASN1_OCTET_STRING_free(os);
		return NULL;
	}
	return os;
}

static int add_aki(X509 *x, X509 *issuer)
{
	AUTHORITY_KEYID *aki = AUTHORITY_KEYID_new();
	int ok = aki && (aki->keyid = key_id(issuer)) &&
		 X509_add1_ext_i2d(x, NID_authority_key_identifier, aki, 0, X509V3_ADD_APPEND) == 1;
	AUTHORITY_KEYID_free(aki);
	return ok ? 0 : -1;
}

static int add_cdp(X509 *x, const char *url)
{
	struct buf v = BUF_INIT;
	int ok = buf_printf(&v, "URI:%s", url) == 0;
	X509_EXTENSION *e =
	    ok ? X509V3_EXT_conf_nid(NULL, NULL, NID_crl_distribution_points, buf_str(&v)) : NULL;
	ok = e && X509_add_ext(x, e, -1) == 1;
	X509_EXTENSION_free(e);
	buf_free(&v);
	return ok ? 0 : -1;
}

static X509 *make_cert(const struct cert_tmpl *t, const uint8_t key[32], X509 *issuer,
		       const uint8_t issuer_key[32], struct err *err)
{
	X509 *x = X509_new();
	EVP_PKEY *pk = sim_evp_key(key, err);
	EVP_PKEY *ik = issuer_key ? sim_evp_key(issuer_key, err) : NULL;
	X509_NAME *subj = intel_name(t->cn);
	ASN1_TIME *nb = ASN1_TIME_set(NULL, (time_t)t->not_before);
	ASN1_TIME *na = ASN1_TIME_set(NULL, (time_t)t->not_after);
	ASN1_OCTET_STRING *ski = NULL;
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
	ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
	ASN1_OCTET_STRING *ext_val = NULL;
	ASN1_OBJECT *ext_obj = NULL;
	X509_EXTENSION *sgx = NULL;
	int ok = 0;

	if (!x || !pk || (issuer_key && !ik) || !subj || !nb || !na || !bc || !ku)
		goto out;
	if (!issuer) {
		issuer = x; /* self-signed */
		ik = pk;
	}
	if (!X509_set_version(x, 2) || !ASN1_INTEGER_set(X509_get_serialNumber(x), t->serial) ||
	    !X509_set_subject_name(x, subj) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(issuer)) ||
	    !X509_set1_notBefore(x, nb) || !X509_set1_notAfter(x, na) || !X509_set_pubkey(x, pk))
		goto out;
	/* Intel's extension order: AKI, CDP, SKI, KeyUsage, BasicConstraints, SGX. */
	if (add_aki(x, issuer) < 0 || (t->cdp && add_cdp(x, t->cdp) < 0))
		goto out;
	if (!(ski = key_id(x)) ||
	    X509_add1_ext_i2d(x, NID_subject_key_identifier, ski, 0, X509V3_ADD_APPEND) != 1)
		goto out;
	for (int i = 0; i < 3 && t->ku_bits[i] >= 0; i++)
		if (!ASN1_BIT_STRING_set_bit(ku, t->ku_bits[i], 1))
			goto out;
	if (X509_add1_ext_i2d(x, NID_key_usage, ku, 1, X509V3_ADD_APPEND) != 1)
		goto out;
	bc->ca = t->ca ? 0xff : 0;
	if (t->ca && t->path_len >= 0) {
		if (!(bc->pathlen = ASN1_INTEGER_new()) ||
		    !ASN1_INTEGER_set(bc->pathlen, t->path_len))
			goto out;
	}
	if (X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1, X509V3_ADD_APPEND) != 1)
		goto out;
	if (t->sgx_ext) {
		if (!(ext_obj = OBJ_txt2obj(SGX_EXT_OID, 1)) ||
		    !(ext_val = ASN1_OCTET_STRING_new()) ||
		    !ASN1_OCTET_STRING_set(ext_val, t->sgx_ext->p, (int)t->sgx_ext->len) ||
		    !(sgx = X509_EXTENSION_create_by_OBJ(NULL, ext_obj, 0, ext_val)) ||
		    X509_add_ext(x, sgx, -1) != 1)
			goto out;
	}
	if (X509_sign(x, ik, EVP_sha256()) <= 0)
		goto out;
	ok = 1;
out:
	if (!ok) {
		err_openssl(err, "building certificate \"%s\"", t->cn);
		X509_free(x);
		x = NULL;
	}
	if (ik != pk)
		EVP_PKEY_free(ik);
	EVP_PKEY_free(pk);
	X509_NAME_free(subj);
	ASN1_TIME_free(nb);
	ASN1_TIME_free(na);
	ASN1_OCTET_STRING_free(ski);
	BASIC_CONSTRAINTS_free(bc);
	ASN1_BIT_STRING_free(ku);
	ASN1_OCTET_STRING_free(ext_val);
	ASN1_OBJECT_free(ext_obj);
	X509_EXTENSION_free(sgx);
	return x;
}

int sim_cert_pem(X509 *x, struct buf *out, struct err *err)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int rc = -1;
	if (b && PEM_write_bio_X509(b, x) == 1 && (n = BIO_get_mem_data(b, &p)) > 0 &&
	    buf_append(out, p, (size_t)n) == 0)
		rc = 0;
	else
		err_openssl(err, "certificate PEM");
	BIO_free(b);
	return rc;
}

int sim_make_crl(X509 *issuer, const uint8_t key[32], int64_t this_update, int64_t next_update,
		 const long *revoked, size_t n_revoked, struct buf *der, struct err *err)
{
	X509_CRL *crl = X509_CRL_new();
	EVP_PKEY *pk = sim_evp_key(key, err);
	ASN1_TIME *tu = ASN1_TIME_set(NULL, (time_t)this_update);
	ASN1_TIME *nu = ASN1_TIME_set(NULL, (time_t)next_update);
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	AUTHORITY_KEYID *aki = AUTHORITY_KEYID_new();
	unsigned char *out = NULL;
	int ok = 0, n;
	if (!crl || !pk || !tu || !nu || !num || !aki)
		goto done;
	if (!X509_CRL_set_version(crl, 1) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) ||
	    !X509_CRL_set1_lastUpdate(crl, tu) || !X509_CRL_set1_nextUpdate(crl, nu))
		goto done;
	for (size_t i = 0; i < n_revoked; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *s = ASN1_INTEGER_new();
		int rok = r && s && ASN1_INTEGER_set(s, revoked[i]) &&
			  X509_REVOKED_set_serialNumber(r, s) &&
			  X509_REVOKED_set_revocationDate(r, tu) && X509_CRL_add0_revoked(crl, r);
		ASN1_INTEGER_free(s);
		if (!rok) {
			X509_REVOKED_free(r);
			goto done;
		}
	}
	if (!X509_CRL_sort(crl) || !ASN1_INTEGER_set(num, 1) ||
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, X509V3_ADD_APPEND) != 1 ||
	    !(aki->keyid = key_id(issuer)) ||
	    X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, aki, 0, X509V3_ADD_APPEND) !=
		1 ||
	    X509_CRL_sign(crl, pk, EVP_sha256()) <= 0 || (n = i2d_X509_CRL(crl, &out)) <= 0 ||
	    buf_append(der, out, (size_t)n) < 0)
		goto done;
	ok = 1;
done:
	if (!ok)
		err_openssl(err, "building CRL");
	OPENSSL_free(out);
	X509_CRL_free(crl);
	EVP_PKEY_free(pk);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	ASN1_INTEGER_free(num);
	AUTHORITY_KEYID_free(aki);
	return ok ? 0 : -1;
}

/* ---- the directory ---- */

static const char *ca_kind(const struct sim_pki *p)
{
	return p->processor_ca ? "processor" : "platform";
}

static int write_in(const char *dir, const char *name, const void *p, size_t n, int secret,
		    struct err *err)
{
	char path[4096];
	if (fs_join(path, sizeof path, dir, name) < 0)
		return err_set(err, "path too long: %s/%s", dir, name);
	return sim_write_file(path, p, n, secret, err);
}

static int write_cert(const char *dir, const char *name, X509 *x, struct err *err)
{
	struct buf pem = BUF_INIT;
	int rc = sim_cert_pem(x, &pem, err) == 0 && write_in(dir, name, pem.p, pem.len, 0, err) == 0
		     ? 0
		     : -1;
	buf_free(&pem);
	return rc;
}

static int write_key(const char *dir, const char *name, const uint8_t key[32], struct err *err)
{
	struct buf pem = BUF_INIT;
	buf_init_secret(&pem);
	int rc =
	    p256_pkcs8_pem(key, &pem, err) == 0 && write_in(dir, name, pem.p, pem.len, 1, err) == 0
		? 0
		: -1;
	buf_free(&pem);
	return rc;
}

static int write_crl_pem(const char *dir, const char *name, const struct buf *der, struct err *err)
{
	const unsigned char *dp = der->p;
	X509_CRL *crl = d2i_X509_CRL(NULL, &dp, (long)der->len);
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int rc = -1;
	if (crl && b && PEM_write_bio_X509_CRL(b, crl) == 1 && (n = BIO_get_mem_data(b, &p)) > 0)
		rc = write_in(dir, name, p, (size_t)n, 0, err);
	else
		err_openssl(err, "CRL PEM");
	BIO_free(b);
	X509_CRL_free(crl);
	return rc;
}

static int platform_json(const struct sim_pki *p, const struct buf *seed, struct buf *out,
			 struct err *err)
{
	char h[2 * 64 + 1];
	json_t *o = json_object();
	int ok = o != NULL;
#define HEXF(key, ptr, n)                                                                          \
	do {                                                                                       \
		hex_encode((ptr), (n), h);                                                         \
		ok = ok && json_object_set_new(o, key, json_string(h)) == 0;                       \
	} while (0)
	HEXF("seed", seed->p, seed->len);
	HEXF("fmspc", p->fmspc, 6);
	HEXF("ppid", p->ppid, 16);
	HEXF("cpusvn", p->cpusvn, 16);
	ok = ok && json_object_set_new(o, "pcesvn", json_integer(p->pcesvn)) == 0;
	HEXF("pce_id", p->pce_id, 2);
	HEXF("tee_tcb_svn", p->tee_tcb_svn, 16);
	ok = ok && json_object_set_new(o, "qe_isvsvn", json_integer(p->qe_isvsvn)) == 0;
	ok = ok && json_object_set_new(o, "ca", json_string(ca_kind(p))) == 0;
	ok = ok && json_object_set_new(o, "crl_url", json_string(buf_str(&p->crl_url))) == 0;
#undef HEXF
	char *s = ok ? json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	if (!s)
		return err_set(err, "out of memory");
	int rc = buf_append_str(out, s) == 0 && buf_append_byte(out, '\n') == 0 ? 0 : -1;
	free(s);
	return rc < 0 ? err_set(err, "out of memory") : 0;
}

struct pki_opts {
	int64_t not_before, not_after, pck_nb, pck_na, crl_this, crl_next;
	int have_pck_nb, have_pck_na, have_crl_this, have_crl_next;
};

static int generate(const char *dir, const struct buf *seed, struct sim_pki *p,
		    const struct pki_opts *o, struct err *err)
{
	struct buf sgx = BUF_INIT, crl = BUF_INIT, cdp_root = BUF_INIT, cdp_pck = BUF_INIT,
		   pem = BUF_INIT;
	int rc = -1;
	TRY_OUT(derive_scalar(seed, "root-ca", p->root_key, err));
	TRY_OUT(derive_scalar(seed, "pck-ca", p->pck_ca_key, err));
	TRY_OUT(derive_scalar(seed, "pck", p->pck_key, err));
	TRY_OUT(derive_scalar(seed, "tcb-signing", p->tcb_key, err));
	TRY_OUT(derive_scalar(seed, "attestation-key", p->att_key, err));
	if (sgx_extension_der(p, &sgx) < 0) {
		err_set(err, "building the SGX extension");
		goto out;
	}
	if (p->crl_url.len &&
	    (buf_printf(&cdp_root, "%s/IntelSGXRootCA.der", buf_str(&p->crl_url)) < 0 ||
	     buf_printf(&cdp_pck, "%s/sgx/certification/v4/pckcrl?ca=%s&encoding=der",
			buf_str(&p->crl_url), ca_kind(p)) < 0)) {
		err_set(err, "out of memory");
		goto out;
	}
	const char *cdp_r = p->crl_url.len ? buf_str(&cdp_root) : NULL;
	const char *cdp_p = p->crl_url.len ? buf_str(&cdp_pck) : NULL;
	struct cert_tmpl root_t = {"Mock Intel SGX Root CA",
				   SERIAL_ROOT,
				   o->not_before,
				   o->not_after,
				   1,
				   1,
				   {5, 6, -1},
				   cdp_r,
				   NULL};
	struct cert_tmpl ca_t = {p->processor_ca ? "Mock Intel SGX PCK Processor CA"
						 : "Mock Intel SGX PCK Platform CA",
				 SERIAL_PCK_CA,
				 o->not_before,
				 o->not_after,
				 1,
				 0,
				 {5, 6, -1},
				 cdp_r,
				 NULL};
	struct cert_tmpl pck_t = {"Mock Intel SGX PCK Certificate",
				  SERIAL_PCK,
				  o->have_pck_nb ? o->pck_nb : o->not_before,
				  o->have_pck_na ? o->pck_na : o->not_after,
				  0,
				  -1,
				  {0, 1, -1},
				  cdp_p,
				  &sgx};
	struct cert_tmpl tcb_t = {"Mock Intel SGX TCB Signing",
				  SERIAL_TCB,
				  o->not_before,
				  o->not_after,
				  0,
				  -1,
				  {0, 1, -1},
				  cdp_r,
				  NULL};
	if (!(p->root = make_cert(&root_t, p->root_key, NULL, NULL, err)) ||
	    !(p->pck_ca = make_cert(&ca_t, p->pck_ca_key, p->root, p->root_key, err)) ||
	    !(p->pck = make_cert(&pck_t, p->pck_key, p->pck_ca, p->pck_ca_key, err)) ||
	    !(p->tcb = make_cert(&tcb_t, p->tcb_key, p->root, p->root_key, err)))
		goto out;

	TRY_OUT(fs_mkdir_p(dir, 0755, err));
	TRY_OUT(write_cert(dir, "root_ca.pem", p->root, err));
	TRY_OUT(write_cert(dir, "pck_ca.pem", p->pck_ca, err));
	TRY_OUT(write_cert(dir, "pck.pem", p->pck, err));
	TRY_OUT(write_cert(dir, "tcb_signing.pem", p->tcb, err));
	TRY_OUT(write_key(dir, "root_ca.key.pem", p->root_key, err));
	TRY_OUT(write_key(dir, "pck_ca.key.pem", p->pck_ca_key, err));
	TRY_OUT(write_key(dir, "pck.key.pem", p->pck_key, err));
	TRY_OUT(write_key(dir, "tcb_signing.key.pem", p->tcb_key, err));
	TRY_OUT(write_key(dir, "attestation_key.pem", p->att_key, err));
	unsigned char *der = NULL;
	int n = i2d_X509(p->root, &der);
	if (n <= 0) {
		err_openssl(err, "root DER");
		goto out;
	}
	int wrc = write_in(dir, "root_ca.der", der, (size_t)n, 0, err);
	OPENSSL_free(der);
	TRY_OUT(wrc);
	TRY_OUT(sim_cert_pem(p->pck, &pem, err));
	TRY_OUT(sim_cert_pem(p->pck_ca, &pem, err));
	TRY_OUT(sim_cert_pem(p->root, &pem, err));
	TRY_OUT(write_in(dir, "pck_chain.pem", pem.p, pem.len, 0, err));
	int64_t tu = o->have_crl_this ? o->crl_this : o->not_before;
	int64_t nu = o->have_crl_next ? o->crl_next : o->not_after;
	TRY_OUT(sim_make_crl(p->root, p->root_key, tu, nu, NULL, 0, &crl, err));
	TRY_OUT(write_crl_pem(dir, "root_ca.crl.pem", &crl, err));
	buf_reset(&crl);
	TRY_OUT(sim_make_crl(p->pck_ca, p->pck_ca_key, tu, nu, NULL, 0, &crl, err));
	TRY_OUT(write_crl_pem(dir, "pck_ca.crl.pem", &crl, err));
	buf_reset(&pem);
	TRY_OUT(platform_json(p, seed, &pem, err));
	TRY_OUT(write_in(dir, "platform.json", pem.p, pem.len, 0, err));
	rc = 0;
out:
	buf_free(&sgx);
	buf_free(&crl);
	buf_free(&cdp_root);
	buf_free(&cdp_pck);
	buf_free(&pem);
	return rc;
}

static void platform_defaults(struct sim_pki *p)
{
	static const uint8_t fmspc[6] = {0x90, 0xc0, 0x6f, 0, 0, 0};
	static const uint8_t cpusvn[16] = {4, 4, 2, 2, 4, 1, 0, 5};
	static const uint8_t tee[16] = {6, 1, 4};
	memcpy(p->fmspc, fmspc, 6);
	for (int i = 0; i < 16; i++)
		p->ppid[i] = (uint8_t)(i * 0x11);
	memcpy(p->cpusvn, cpusvn, 16);
	memcpy(p->tee_tcb_svn, tee, 16);
	p->pcesvn = 13;
	p->qe_isvsvn = 4;
}

int sim_cmd_pki(int argc, char **argv)
{
	struct err err = {{0}};
	struct sim_pki p;
	struct pki_opts o;
	struct buf seed = BUF_INIT;
	const char *seed_hex = NULL, *dir = NULL, *v;
	int rc = 1, r, flag = 0;
	uint64_t u;
	memset(&p, 0, sizeof p);
	memset(&o, 0, sizeof o);
	buf_init_secret(&seed);
	platform_defaults(&p);
	o.not_before = 1577836800; /* 2020-01-01T00:00:00Z */
	o.not_after = 4102358400;  /* 2099-12-31T00:00:00Z */

	struct sim_args a = {argc, argv, 1};
	for (; a.i < argc; a.i++) {
		const char *arg = argv[a.i];
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			fputs(PKI_HELP, stdout);
			rc = 0;
			goto done;
		}
#define OPT(name) ((r = sim_opt_val(&a, name, &v, &err)) != 0)
		if (OPT("--seed")) {
			if (r < 0)
				goto usage;
			seed_hex = v;
		} else if (OPT("--out")) {
			if (r < 0)
				goto usage;
			dir = v;
		} else if (OPT("--not-before")) {
			if (r < 0 || sim_parse_time(v, &o.not_before, &err) < 0)
				goto usage;
		} else if (OPT("--not-after")) {
			if (r < 0 || sim_parse_time(v, &o.not_after, &err) < 0)
				goto usage;
		} else if (OPT("--pck-not-before")) {
			if (r < 0 || sim_parse_time(v, &o.pck_nb, &err) < 0)
				goto usage;
			o.have_pck_nb = 1;
		} else if (OPT("--pck-not-after")) {
			if (r < 0 || sim_parse_time(v, &o.pck_na, &err) < 0)
				goto usage;
			o.have_pck_na = 1;
		} else if (OPT("--crl-this-update")) {
			if (r < 0 || sim_parse_time(v, &o.crl_this, &err) < 0)
				goto usage;
			o.have_crl_this = 1;
		} else if (OPT("--crl-next-update")) {
			if (r < 0 || sim_parse_time(v, &o.crl_next, &err) < 0)
				goto usage;
			o.have_crl_next = 1;
		} else if (OPT("--fmspc")) {
			if (r < 0 || sim_parse_hex_fixed(v, p.fmspc, 6, "--fmspc", &err) < 0)
				goto usage;
		} else if (OPT("--ppid")) {
			if (r < 0 || sim_parse_hex_fixed(v, p.ppid, 16, "--ppid", &err) < 0)
				goto usage;
		} else if (OPT("--cpusvn")) {
			if (r < 0 || sim_parse_hex_fixed(v, p.cpusvn, 16, "--cpusvn", &err) < 0)
				goto usage;
		} else if (OPT("--pce-id")) {
			if (r < 0 || sim_parse_hex_fixed(v, p.pce_id, 2, "--pce-id", &err) < 0)
				goto usage;
		} else if (OPT("--tee-tcb-svn")) {
			if (r < 0 ||
			    sim_parse_hex_fixed(v, p.tee_tcb_svn, 16, "--tee-tcb-svn", &err) < 0)
				goto usage;
		} else if (OPT("--pcesvn")) {
			if (r < 0 || sim_parse_u64(v, 65535, &u, &err) < 0)
				goto usage;
			p.pcesvn = (uint16_t)u;
		} else if (OPT("--qe-isvsvn")) {
			if (r < 0 || sim_parse_u64(v, 65535, &u, &err) < 0)
				goto usage;
			p.qe_isvsvn = (uint16_t)u;
		} else if (OPT("--crl-url")) {
			if (r < 0)
				goto usage;
			buf_reset(&p.crl_url);
			if (buf_append_str(&p.crl_url, v) < 0)
				goto usage;
			while (p.crl_url.len && p.crl_url.p[p.crl_url.len - 1] == '/')
				p.crl_url.p[--p.crl_url.len] = 0;
		} else if (sim_opt_flag(&a, "--processor-ca", &flag)) {
			p.processor_ca = 1;
		} else {
			rc = sim_usage("pki", "unknown option '%s'", arg);
			goto done;
		}
#undef OPT
	}
	if (!seed_hex || !dir) {
		rc = sim_usage("pki", "--seed and --out are required");
		goto done;
	}
	if (sim_parse_hex(seed_hex, 64, &seed, "--seed", &err) < 0 || seed.len < 16) {
		rc = sim_usage("pki", "--seed must be 16..64 bytes of hex");
		goto done;
	}
	if (o.not_after <= o.not_before) {
		rc = sim_usage("pki", "--not-after must be after --not-before");
		goto done;
	}
	rc = generate(dir, &seed, &p, &o, &err) < 0 ? sim_fail("pki", &err) : 0;
	goto done;
usage:
	rc = sim_usage("pki", "%s", err_msg(&err)[0] ? err_msg(&err) : "bad option value");
done:
	buf_free(&seed);
	sim_pki_free(&p);
	return rc;
}

/* ---- loading a PKI directory ---- */

static X509 *load_cert(const char *dir, const char *name, struct err *err)
{
	char path[4096];
	struct buf b = BUF_INIT;
	X509 *x = NULL;
	if (fs_join(path, sizeof path, dir, name) < 0) {
		err_set(err, "path too long");
		return NULL;
	}
	if (sim_read_file(path, &b, err) == 0) {
		BIO *bio = BIO_new_mem_buf(b.p, (int)b.len);
		x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
		if (!x)
			err_openssl(err, "parsing %s", path);
	}
	buf_free(&b);
	return x;
}

static int load_key(const char *dir, const char *name, uint8_t key[32], struct err *err)
{
	char path[4096];
	struct buf b = BUF_INIT;
	buf_init_secret(&b);
	int rc = -1;
	if (fs_join(path, sizeof path, dir, name) < 0)
		rc = err_set(err, "path too long");
	else if (sim_read_file(path, &b, err) == 0)
		rc = p256_scalar_from_pem((const char *)b.p, b.len, key, err) < 0
			 ? err_wrap(err, "parsing %s", path)
			 : 0;
	buf_free(&b);
	return rc;
}

static int json_hex(json_t *o, const char *key, uint8_t *out, size_t n, struct err *err)
{
	const char *s = json_string_value(json_object_get(o, key));
	if (!s || strlen(s) != 2 * n || hex_decode_fixed(s, out, n) < 0)
		return err_set(err, "platform.json: \"%s\" must be %zu bytes of hex", key, n);
	return 0;
}

static int json_u16(json_t *o, const char *key, uint16_t *out, struct err *err)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535)
		return err_set(err, "platform.json: \"%s\" must be an integer 0..65535", key);
	*out = (uint16_t)json_integer_value(v);
	return 0;
}

int sim_pki_load(const char *dir, struct sim_pki *p, struct err *err)
{
	char path[4096];
	struct buf b = BUF_INIT;
	json_t *o = NULL;
	json_error_t je;
	int rc = -1;
	memset(p, 0, sizeof *p);
	if (fs_join(path, sizeof path, dir, "platform.json") < 0) {
		err_set(err, "path too long");
		goto out;
	}
	TRY_OUT(sim_read_file(path, &b, err));
	if (!(o = json_loadb((const char *)b.p, b.len, 0, &je))) {
		err_set(err, "%s: %s", path, je.text);
		goto out;
	}
	TRY_OUT(json_hex(o, "fmspc", p->fmspc, 6, err));
	TRY_OUT(json_hex(o, "ppid", p->ppid, 16, err));
	TRY_OUT(json_hex(o, "cpusvn", p->cpusvn, 16, err));
	TRY_OUT(json_hex(o, "pce_id", p->pce_id, 2, err));
	TRY_OUT(json_hex(o, "tee_tcb_svn", p->tee_tcb_svn, 16, err));
	TRY_OUT(json_u16(o, "pcesvn", &p->pcesvn, err));
	TRY_OUT(json_u16(o, "qe_isvsvn", &p->qe_isvsvn, err));
	const char *ca = json_string_value(json_object_get(o, "ca"));
	p->processor_ca = ca && !strcmp(ca, "processor");
	const char *url = json_string_value(json_object_get(o, "crl_url"));
	if (url && buf_append_str(&p->crl_url, url) < 0) {
		err_set(err, "out of memory");
		goto out;
	}
	if (!(p->root = load_cert(dir, "root_ca.pem", err)) ||
	    !(p->pck_ca = load_cert(dir, "pck_ca.pem", err)) ||
	    !(p->pck = load_cert(dir, "pck.pem", err)) ||
	    !(p->tcb = load_cert(dir, "tcb_signing.pem", err)))
		goto out;
	TRY_OUT(load_key(dir, "root_ca.key.pem", p->root_key, err));
	TRY_OUT(load_key(dir, "pck_ca.key.pem", p->pck_ca_key, err));
	TRY_OUT(load_key(dir, "pck.key.pem", p->pck_key, err));
	TRY_OUT(load_key(dir, "tcb_signing.key.pem", p->tcb_key, err));
	TRY_OUT(load_key(dir, "attestation_key.pem", p->att_key, err));
	TRY_OUT(sim_cert_pem(p->pck, &p->pck_chain_pem, err));
	TRY_OUT(sim_cert_pem(p->pck_ca, &p->pck_chain_pem, err));
	TRY_OUT(sim_cert_pem(p->root, &p->pck_chain_pem, err));
	rc = 0;
out:
	if (rc < 0) {
		err_wrap(err, "loading the PKI in %s", dir);
		sim_pki_free(p);
	}
	json_decref(o);
	buf_free(&b);
	return rc;
}
