/*
 * dcap.c — DCAP quote verification exactly as dcap-qvl 0.5.2's verify_impl
 * decides (steps 0–10, first failure aborts), then dstack's validate_tcb.
 * Time-independent work (CRLs, chains via OpenSSL with time checks off,
 * signatures, parsing) is done once and cached per collateral digest and per
 * PCK chain; every call replays the date checks from cached numbers with
 * webpki's rules (cert valid while notBefore <= now <= notAfter; CRL expired
 * once now >= nextUpdate) at their place in the step order. Never trusts a
 * root from a PEM chain. spec: attestation §2 (2.3, 2.4, 2.6), §7
 */
#include "attest/dcap.h"

#include "attest/pck_ext.h"
#include "crypto/cert.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/hex.h"
#include "util/reader.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PATH 6	 /* certificates below the anchor in a verified chain */
#define MAX_PEM_CERTS 16 /* certificates accepted in one PEM chain */
#define NAME_LEN 256	 /* RFC 2253 subject text kept for messages */
#define LOADED_SLOTS 8	 /* distinct collateral sets cached per verifier */
#define PCK_SLOTS 1024	 /* verified PCK chains cached per collateral set */
#define ATTESTATION_KEY_TYPE_P256 2
#define QE_AUTH_DATA_LEN 32

static const uint8_t INTEL_QE_VENDOR_ID[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
					       0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

/* ---- small helpers ----------------------------------------------------------- */

/* snprintf that may truncate by design (messages and names are bounded). */
static void sfmt(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void sfmt(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, n, fmt, ap);
	va_end(ap);
}

static int asn1_time_unix(const ASN1_TIME *t, int64_t *out)
{
	return cert_asn1_time_unix(t, out);
}

/* RFC 3339, or "@<seconds>" outside years 1..9999. */
static void fmt_time(int64_t t, char out[32])
{
	if (date_format_rfc3339(t, out) < 0)
		sfmt(out, 32, "@%lld", (long long)t);
}

static void name_text(const X509_NAME *n, char out[NAME_LEN])
{
	BIO *b = BIO_new(BIO_s_mem());
	int len;
	out[0] = '\0';
	if (!b)
		return;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (len = BIO_read(b, out, NAME_LEN - 1)) > 0)
		out[len] = '\0';
	BIO_free(b);
}

static int sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned int len = 0;
	return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32 ? 0 : -1;
}

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* ECDSA-P256-SHA256 over msg with a raw r||s signature: r is the first 32
 * bytes, s the rest (dcap-qvl's encode_as_der). 1 valid, 0 invalid, -1 if the
 * signature is shorter than 32 bytes. */
static int ecdsa_verify_raw(EVP_PKEY *key, const uint8_t *msg, size_t msg_len, const uint8_t *sig,
			    size_t sig_len)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	EVP_MD_CTX *md = NULL;
	unsigned char *der = NULL;
	int der_len, ok = 0;

	if (sig_len < 32)
		return -1;
	if (!key)
		return 0;
	r = BN_bin2bn(sig, 32, NULL);
	s = BN_bin2bn(sig + 32, (int)(sig_len - 32 > 1024 ? 1024 : sig_len - 32), NULL);
	es = ECDSA_SIG_new();
	if (sig_len - 32 > 1024 || !r || !s || !es || ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL; /* owned by es */
	der_len = i2d_ECDSA_SIG(es, &der);
	if (der_len <= 0)
		goto out;
	md = EVP_MD_CTX_new();
	if (md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestVerify(md, der, (size_t)der_len, msg, msg_len) == 1)
		ok = 1;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	BN_free(r);
	BN_free(s);
	return ok;
}

/* A P-256 public key from raw X||Y; NULL if not a point on the curve. */
static EVP_PKEY *p256_from_xy(const uint8_t xy[64])
{
	uint8_t pt[65];
	char group[] = "prime256v1";
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	OSSL_PARAM params[3];

	pt[0] = 0x04;
	memcpy(pt + 1, xy, 64);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt);
	params[2] = OSSL_PARAM_construct_end();
	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return pk;
}

/* ---- chains ------------------------------------------------------------------ */

struct cert_time {
	int64_t nb, na;
	char name[NAME_LEN];
};

struct crl_time {
	int64_t next;
	char issuer[NAME_LEN];
};

/* The outcome of checking one certificate chain, minus the dates. */
struct chain_check {
	char err[ERR_MAX]; /* structural failure ("" = none); reported after the leaf's dates */
	int leaf_ok;	   /* cert[0] holds the leaf's dates even when err is set */
	size_t n;	   /* certificates below the anchor in the verified path, leaf first */
	struct cert_time cert[MAX_PATH];
	struct crl_time crl[MAX_PATH]; /* the CRL that covered cert[i] */
};

static int chain_fail(struct chain_check *c, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int chain_fail(struct chain_check *c, const char *what, const char *fmt, ...)
{
	char tmp[ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	sfmt(c->err, sizeof c->err, "Failed to verify %s certificate chain: %s", what, tmp);
	return -1;
}

/* The validity of x; -1 if a date is unreadable or notBefore > notAfter
 * (webpki rejects such a certificate whatever the time). */
static int cert_time_of(X509 *x, struct cert_time *t)
{
	name_text(X509_get_subject_name(x), t->name);
	if (asn1_time_unix(X509_get0_notBefore(x), &t->nb) < 0 ||
	    asn1_time_unix(X509_get0_notAfter(x), &t->na) < 0 || t->nb > t->na)
		return -1;
	return 0;
}

/* Certificates of a PEM text, in order (at most MAX_PEM_CERTS). */
static STACK_OF(X509) * pem_certs(const uint8_t *pem, size_t len, char *why, size_t why_len)
{
	struct err e = {{0}};
	STACK_OF(X509) *sk = cert_chain_from_pem(pem, len, MAX_PEM_CERTS, &e);
	if (!sk)
		sfmt(why, why_len, "%s", e.msg);
	return sk;
}

/* The first CRL (root CRL, then PCK CRL — webpki's order) issued by the
 * issuer of x. */
static X509_CRL *crl_for(STACK_OF(X509_CRL) * crls, X509 *x)
{
	for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(crls, i);
		if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(x)) == 0)
			return crl;
	}
	return NULL;
}

/* webpki's EKU rule for the end entity: absent, or containing serverAuth. */
static int eku_ok(X509 *leaf)
{
	uint32_t flags = X509_get_extension_flags(leaf);
	if (!(flags & EXFLAG_XKUSAGE))
		return 1;
	return (X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER) != 0;
}

static void map_verify_error(X509_STORE_CTX *ctx, struct chain_check *c, const char *what,
			     const char *leaf_role)
{
	int e = X509_STORE_CTX_get_error(ctx);
	int depth = X509_STORE_CTX_get_error_depth(ctx);
	X509 *cur = X509_STORE_CTX_get_current_cert(ctx);
	char subj[NAME_LEN] = "?";

	if (cur)
		name_text(X509_get_subject_name(cur), subj);
	switch (e) {
	case X509_V_ERR_CERT_REVOKED: {
		char serial[80] = "";
		const ASN1_INTEGER *sn = cur ? X509_get0_serialNumber(cur) : NULL;
		BIGNUM *bn = sn ? ASN1_INTEGER_to_BN(sn, NULL) : NULL;
		char *hex = bn ? BN_bn2hex(bn) : NULL;
		if (hex)
			sfmt(serial, sizeof serial, " (serial %s)", hex);
		OPENSSL_free(hex);
		BN_free(bn);
		chain_fail(c, what, "%s revoked: certificate revoked: %s%s",
			   depth == 0 ? leaf_role : "CA certificate", subj, serial);
		break;
	}
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_CERT_UNTRUSTED:
		chain_fail(c, what, "no path to trust anchor (%s at %s)",
			   X509_verify_cert_error_string(e), subj);
		break;
	case X509_V_ERR_UNABLE_TO_GET_CRL:
		chain_fail(
		    c, what,
		    "revocation status unknown: no CRL from the issuer of %s (unknown status "
		    "is denied)",
		    subj);
		break;
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		chain_fail(c, what, "invalid signature on certificate %s", subj);
		break;
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
		chain_fail(c, what, "invalid signature on the CRL covering %s", subj);
		break;
	default:
		chain_fail(c, what, "%s: %s", X509_verify_cert_error_string(e), subj);
	}
}

/* leaf -> untrusted intermediates -> anchor, with time checks off; with crls,
 * every certificate below the anchor must be covered by one (unknown status
 * denied), without, revocation is not checked. Returns the context of a
 * verified path (free it) or NULL with c->err set. */
static X509_STORE_CTX *verify_path(X509_STORE *store, STACK_OF(X509_CRL) * crls,
				   STACK_OF(X509) * certs, const char *what, const char *leaf_role,
				   struct chain_check *c)
{
	X509 *leaf = sk_X509_value(certs, 0);
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509_STORE_CTX *ctx = NULL;
	unsigned long flags = X509_V_FLAG_NO_CHECK_TIME | X509_V_FLAG_TRUSTED_FIRST;

	for (int i = 1; untrusted && i < sk_X509_num(certs); i++)
		if (!sk_X509_push(untrusted, sk_X509_value(certs, i))) {
			sk_X509_free(untrusted);
			untrusted = NULL;
		}
	ctx = X509_STORE_CTX_new();
	if (!untrusted || !ctx || X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1) {
		chain_fail(c, what, "out of memory");
		goto fail;
	}
	if (crls) {
		X509_STORE_CTX_set0_crls(ctx, crls);
		flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
	}
	X509_STORE_CTX_set_flags(ctx, flags);
	if (X509_verify_cert(ctx) != 1) {
		map_verify_error(ctx, c, what, leaf_role);
		goto fail;
	}
	/* the verified path holds its own references: untrusted may go now */
	X509_STORE_CTX_set0_untrusted(ctx, NULL);
	sk_X509_free(untrusted);
	return ctx;
fail:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	return NULL;
}

/* Time-independent chain check: leaf -> untrusted intermediates -> anchor,
 * with CRLs for every certificate below the anchor (unknown status denied). */
static void verify_chain(X509_STORE *store, STACK_OF(X509_CRL) * crls, STACK_OF(X509) * certs,
			 const char *what, const char *leaf_role, struct chain_check *c)
{
	X509 *leaf = sk_X509_value(certs, 0);
	X509_STORE_CTX *ctx = NULL;

	c->n = 1;
	if (cert_time_of(leaf, &c->cert[0]) < 0) {
		chain_fail(c, what, "invalid certificate validity: %s", c->cert[0].name);
		return;
	}
	c->leaf_ok = 1;
	if (!crls) {
		chain_fail(c, what, "no usable CRLs");
		return;
	}
	if (!(ctx = verify_path(store, crls, certs, what, leaf_role, c)))
		return;
	STACK_OF(X509) *path = X509_STORE_CTX_get0_chain(ctx);
	int below = sk_X509_num(path) - 1; /* the last one is the anchor */
	if (below < 1 || below > MAX_PATH) {
		chain_fail(c, what, "unexpected chain length %d", below + 1);
		goto out;
	}
	c->n = (size_t)below;
	for (int i = 0; i < below; i++) {
		X509 *x = sk_X509_value(path, i);
		X509_CRL *crl = crl_for(crls, x);
		if (cert_time_of(x, &c->cert[i]) < 0) {
			chain_fail(c, what, "invalid certificate validity: %s", c->cert[i].name);
			goto out;
		}
		if (!crl || asn1_time_unix(X509_CRL_get0_nextUpdate(crl), &c->crl[i].next) < 0) {
			chain_fail(c, what, "revocation status unknown for %s", c->cert[i].name);
			goto out;
		}
		name_text(X509_CRL_get_issuer(crl), c->crl[i].issuer);
	}
	if (!eku_ok(leaf))
		chain_fail(c, what, "certificate not valid for usage (EKU): %s", c->cert[0].name);
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
}

static int check_cert_time(const struct cert_time *t, int64_t now, const char *what,
			   struct err *err)
{
	char a[32], b[32];
	if (now < t->nb) {
		fmt_time(t->nb, a);
		fmt_time(now, b);
		return err_set(
		    err,
		    "Failed to verify %s certificate chain: certificate not valid at time: "
		    "%s (not yet valid: notBefore %s, now %s)",
		    what, t->name, a, b);
	}
	if (now > t->na) {
		fmt_time(t->na, a);
		fmt_time(now, b);
		return err_set(
		    err,
		    "Failed to verify %s certificate chain: certificate not valid at time: "
		    "%s (expired: notAfter %s, now %s)",
		    what, t->name, a, b);
	}
	return 0;
}

/* The dates of a checked chain at `now`, in webpki's order: the leaf, then the
 * structure, then the intermediates, then each CRL from the anchor down. */
static int eval_chain(const struct chain_check *c, int64_t now, const char *what, struct err *err)
{
	if (c->leaf_ok)
		TRY(check_cert_time(&c->cert[0], now, what, err));
	if (c->err[0])
		return err_set(err, "%s", c->err);
	for (size_t i = 1; i < c->n; i++)
		TRY(check_cert_time(&c->cert[i], now, what, err));
	for (size_t i = c->n; i-- > 0;) {
		if (now >= c->crl[i].next) {
			char a[32];
			fmt_time(c->crl[i].next, a);
			return err_set(
			    err,
			    "Failed to verify %s certificate chain: CRL expired: the CRL of "
			    "%s (nextUpdate %s) covering %s",
			    what, c->crl[i].issuer, a, c->cert[i].name);
		}
	}
	return 0;
}

/* The certificates of a PEM chain (at least one, leaf first), or NULL with
 * c->err set. */
static STACK_OF(X509) * chain_certs(const uint8_t *pem, size_t len, const char *what,
				    const char *src, struct chain_check *c)
{
	char why[256];
	STACK_OF(X509) *certs = pem_certs(pem, len, why, sizeof why);
	if (!certs) {
		sfmt(c->err, sizeof c->err, "Failed to extract %s certificates%s: %s", what, src,
		     why);
		return NULL;
	}
	if (sk_X509_num(certs) == 0) {
		sfmt(c->err, sizeof c->err, "Certificate chain is too short for %s%s", what, src);
		sk_X509_free(certs);
		return NULL;
	}
	return certs;
}

/* Parse the PEM chain and check it; returns the certificates (leaf first) or
 * NULL with c->err set. */
static STACK_OF(X509) *
    check_pem_chain(X509_STORE *store, STACK_OF(X509_CRL) * crls, const uint8_t *pem, size_t len,
		    const char *what, const char *leaf_role, const char *src, struct chain_check *c)
{
	memset(c, 0, sizeof *c);
	STACK_OF(X509) *certs = chain_certs(pem, len, what, src, c);
	if (certs)
		verify_chain(store, crls, certs, what, leaf_role, c);
	return certs;
}

static void chain_window(const struct chain_check *c, int64_t *from, int64_t *until)
{
	for (size_t i = 0; i < c->n; i++) {
		if (c->cert[i].nb > *from)
			*from = c->cert[i].nb;
		if (c->cert[i].na < *until)
			*until = c->cert[i].na;
		if (c->crl[i].next - 1 < *until)
			*until = c->crl[i].next - 1;
	}
}

/* ---- verifier, loaded collateral, caches ------------------------------------- */

struct pck_info {
	struct chain_check chain;
	char ext_err[ERR_MAX]; /* after the chain in the step order; never cached */
	EVP_PKEY *key;	       /* the PCK leaf's public key */
	struct pck_ext ext;
};

struct pck_entry {
	uint8_t key[32];
	uint64_t used;
	struct pck_info info;
};

struct dcap_loaded {
	atomic_int refs;
	uint8_t digest[32];
	uint64_t used; /* LRU tick, under the verifier cache lock */
	X509_STORE *store;
	STACK_OF(X509_CRL) * crls; /* [root CA CRL, PCK CRL] once both parse */
	/* step 0: the anchor against the CRLs */
	char s0_pre[ERR_MAX];
	int64_t root_crl_next;
	char s0_post[ERR_MAX];
	/* step 1: TCB info */
	char tcb_pre[ERR_MAX];
	struct dcap_tcb_info tcb; /* levels canonically sorted */
	struct chain_check tcb_chain;
	char tcb_sig[ERR_MAX];
	/* step 2: QE identity */
	char qe_pre[ERR_MAX];
	struct dcap_qe_identity qe;
	struct chain_check qe_chain;
	char qe_sig[ERR_MAX];
	char qe_kind[ERR_MAX];
	/* a PCK chain in the collateral replaces the quote's */
	int has_pck_chain;
	uint8_t *pck_chain;
	size_t pck_chain_len;
	int64_t from, until;
	pthread_mutex_t mu; /* guards pck[] and tick */
	struct pck_entry *pck[PCK_SLOTS];
	uint64_t tick;
};

struct dcap_cache {
	pthread_mutex_t mu;
	struct dcap_loaded *slot[LOADED_SLOTS];
	uint64_t tick;
};

struct dcap_verifier {
	X509 *anchor;
	X509_STORE *store;
	struct dcap_cache *cache; /* mutable behind a const verifier */
};

static void loaded_free(struct dcap_loaded *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < PCK_SLOTS; i++) {
		if (l->pck[i]) {
			EVP_PKEY_free(l->pck[i]->info.key);
			free(l->pck[i]);
		}
	}
	pthread_mutex_destroy(&l->mu);
	sk_X509_CRL_pop_free(l->crls, X509_CRL_free);
	X509_STORE_free(l->store);
	collateral_tcb_info_free(&l->tcb);
	collateral_qe_identity_free(&l->qe);
	free(l->pck_chain);
	free(l);
}

void dcap_loaded_release(struct dcap_loaded *l)
{
	if (l && atomic_fetch_sub(&l->refs, 1) == 1)
		loaded_free(l);
}

void dcap_loaded_window(const struct dcap_loaded *l, int64_t *from, int64_t *until)
{
	*from = l->from;
	*until = l->until;
}

static X509_CRL *parse_crl(const struct buf *b, const char *which, char *why, size_t why_len)
{
	const unsigned char *p = b->p;
	X509_CRL *crl = b->len <= INT32_MAX ? d2i_X509_CRL(NULL, &p, (long)b->len) : NULL;
	if (!crl || p != b->p + b->len) {
		sfmt(why, why_len, "Failed to parse CRL: %s is not a DER CRL", which);
		X509_CRL_free(crl);
		ERR_clear_error();
		return NULL;
	}
	if (X509_CRL_get_version(crl) != 1 || !X509_CRL_get0_nextUpdate(crl)) {
		sfmt(why, why_len, "Failed to parse CRL: %s is not a v2 CRL with a nextUpdate",
		     which);
		X509_CRL_free(crl);
		return NULL;
	}
	return crl;
}

/* Step 0, time-independent part: both CRLs parse; the anchor, taken as an end
 * entity, has an authoritative CRL (its own) that verifies; not revoked. */
static void prepare_step0(const struct dcap_verifier *v, const struct dcap_collateral *c,
			  struct dcap_loaded *l)
{
	X509_CRL *root_crl = parse_crl(&c->root_ca_crl, "root_ca_crl", l->s0_pre, sizeof l->s0_pre);
	X509_CRL *pck_crl =
	    root_crl ? parse_crl(&c->pck_crl, "pck_crl", l->s0_pre, sizeof l->s0_pre) : NULL;
	X509_CRL *auth = NULL;
	X509_REVOKED *rev = NULL;

	if (!root_crl || !pck_crl) {
		X509_CRL_free(root_crl);
		return;
	}
	l->crls = sk_X509_CRL_new_null();
	if (!l->crls || !sk_X509_CRL_push(l->crls, root_crl)) {
		X509_CRL_free(root_crl);
		X509_CRL_free(pck_crl);
		sfmt(l->s0_pre, sizeof l->s0_pre, "out of memory");
		return;
	}
	if (!sk_X509_CRL_push(l->crls, pck_crl)) {
		X509_CRL_free(pck_crl);
		sfmt(l->s0_pre, sizeof l->s0_pre, "out of memory");
		return;
	}
	auth = crl_for(l->crls, v->anchor);
	if (!auth) {
		sfmt(l->s0_pre, sizeof l->s0_pre,
		     "no path to trust anchor: the collateral has no CRL issued by the trust "
		     "anchor, so the root CA's revocation status is unknown");
		return;
	}
	if (X509_CRL_verify(auth, X509_get0_pubkey(v->anchor)) != 1) {
		ERR_clear_error();
		sfmt(l->s0_pre, sizeof l->s0_pre,
		     "root CA CRL signature is invalid for the trust anchor");
		return;
	}
	if (asn1_time_unix(X509_CRL_get0_nextUpdate(auth), &l->root_crl_next) < 0) {
		sfmt(l->s0_pre, sizeof l->s0_pre, "Failed to parse CRL: bad nextUpdate");
		return;
	}
	if (X509_CRL_get0_by_cert(auth, &rev, v->anchor) == 1)
		sfmt(l->s0_post, sizeof l->s0_post, "root CA certificate revoked");
}

static void prepare_signed_doc(const struct dcap_verifier *v, struct dcap_loaded *l,
			       const struct buf *chain, const struct buf *body,
			       const struct buf *sig, const char *what, const char *doc,
			       struct chain_check *cc, char *sig_err)
{
	STACK_OF(X509) *certs = check_pem_chain(v->store, l->crls, chain->p, chain->len, what,
						"signing certificate", "", cc);
	if (!certs)
		return;
	int ok = ecdsa_verify_raw(X509_get0_pubkey(sk_X509_value(certs, 0)), body->p, body->len,
				  sig->p, sig->len);
	if (ok < 0)
		sfmt(sig_err, ERR_MAX, "Invalid signature length for %s", doc);
	else if (!ok)
		sfmt(sig_err, ERR_MAX, "Signature is invalid for %s in quote_collateral", doc);
	sk_X509_pop_free(certs, X509_free);
}

static struct dcap_loaded *loaded_new(const struct dcap_verifier *v,
				      const struct dcap_collateral *c, const uint8_t digest[32])
{
	struct dcap_loaded *l = calloc(1, sizeof *l);
	struct err e = {{0}};
	if (!l)
		return NULL;
	atomic_init(&l->refs, 1);
	memcpy(l->digest, digest, 32);
	pthread_mutex_init(&l->mu, NULL);
	X509_STORE_up_ref(v->store);
	l->store = v->store;

	prepare_step0(v, c, l);

	if (collateral_parse_tcb_info(buf_str(&c->tcb_info), c->tcb_info.len, &l->tcb, &e) < 0)
		sfmt(l->tcb_pre, sizeof l->tcb_pre, "%s", e.msg);
	prepare_signed_doc(v, l, &c->tcb_info_issuer_chain, &c->tcb_info, &c->tcb_info_signature,
			   "TCB Info", "tcb_info", &l->tcb_chain, l->tcb_sig);
	collateral_sort_tcb_levels(&l->tcb);

	if (collateral_parse_qe_identity(buf_str(&c->qe_identity), c->qe_identity.len, &l->qe, &e) <
	    0)
		sfmt(l->qe_pre, sizeof l->qe_pre, "%s", e.msg);
	prepare_signed_doc(v, l, &c->qe_identity_issuer_chain, &c->qe_identity,
			   &c->qe_identity_signature, "QE Identity", "qe_identity", &l->qe_chain,
			   l->qe_sig);
	if (!l->qe_pre[0] && (!l->qe.id || strcmp(l->qe.id, "TD_QE") != 0 ||
			      (l->qe.version != 2 && l->qe.version != 3)))
		sfmt(l->qe_kind, sizeof l->qe_kind,
		     "Unsupported QE Identity id/version for the quote TEE type: %s version %u "
		     "(expected TD_QE version [2, 3])",
		     l->qe.id ? l->qe.id : "", l->qe.version);

	if (c->has_pck_certificate_chain) {
		l->has_pck_chain = 1;
		l->pck_chain_len = c->pck_certificate_chain.len;
		l->pck_chain = malloc(l->pck_chain_len ? l->pck_chain_len : 1);
		if (!l->pck_chain) {
			loaded_free(l);
			return NULL;
		}
		if (l->pck_chain_len)
			memcpy(l->pck_chain, c->pck_certificate_chain.p, l->pck_chain_len);
	}

	/* The window in which steps 0-2 and the CRL dates pass. */
	l->from = INT64_MIN;
	l->until = INT64_MAX;
	if (!l->tcb_pre[0] && !l->qe_pre[0] && !l->s0_pre[0]) {
		int64_t pck_next;
		l->from =
		    l->tcb.issue_date > l->qe.issue_date ? l->tcb.issue_date : l->qe.issue_date;
		l->until =
		    l->tcb.next_update < l->qe.next_update ? l->tcb.next_update : l->qe.next_update;
		if (l->root_crl_next - 1 < l->until)
			l->until = l->root_crl_next - 1;
		if (asn1_time_unix(X509_CRL_get0_nextUpdate(sk_X509_CRL_value(l->crls, 1)),
				   &pck_next) == 0 &&
		    pck_next - 1 < l->until)
			l->until = pck_next - 1;
		chain_window(&l->tcb_chain, &l->from, &l->until);
		chain_window(&l->qe_chain, &l->from, &l->until);
	}
	return l;
}

static int eval_step0(const struct dcap_loaded *l, int64_t now, struct err *err)
{
	if (l->s0_pre[0])
		return err_set(err, "%s", l->s0_pre);
	if (now >= l->root_crl_next) {
		char a[32];
		fmt_time(l->root_crl_next, a);
		return err_set(err, "root CA CRL expired (CRL expired: nextUpdate %s)", a);
	}
	if (l->s0_post[0])
		return err_set(err, "%s", l->s0_post);
	return 0;
}

static int eval_collateral_docs(const struct dcap_loaded *l, int64_t now, struct err *err)
{
	/* spec: attestation §2.3 step 1 */
	if (l->tcb_pre[0])
		return err_set(err, "%s", l->tcb_pre);
	if (now < l->tcb.issue_date)
		return err_set(err, "TCBInfo issue date is in the future");
	if (now > l->tcb.next_update)
		return err_set(err, "TCBInfo expired");
	TRY(eval_chain(&l->tcb_chain, now, "TCB Info", err));
	if (l->tcb_sig[0])
		return err_set(err, "%s", l->tcb_sig);
	/* step 2 */
	if (l->qe_pre[0])
		return err_set(err, "%s", l->qe_pre);
	if (now < l->qe.issue_date)
		return err_set(err, "QE Identity issue date is in the future");
	if (now > l->qe.next_update)
		return err_set(err, "QE Identity expired");
	TRY(eval_chain(&l->qe_chain, now, "QE Identity", err));
	if (l->qe_sig[0])
		return err_set(err, "%s", l->qe_sig);
	if (l->qe_kind[0])
		return err_set(err, "%s", l->qe_kind);
	return 0;
}

struct dcap_verifier *dcap_verifier_new(const uint8_t *anchor_der, size_t anchor_len,
					struct err *err)
{
	struct dcap_verifier *v = calloc(1, sizeof *v);
	const unsigned char *p;

	if (!v) {
		err_set(err, "out of memory");
		return NULL;
	}
	if (!anchor_der && !(anchor_der = dcap_intel_root_der(&anchor_len, err)))
		goto fail;
	p = anchor_der;
	v->anchor = anchor_len <= INT32_MAX ? d2i_X509(NULL, &p, (long)anchor_len) : NULL;
	if (!v->anchor || p != anchor_der + anchor_len) {
		err_openssl(err, "trust anchor is not a DER certificate");
		goto fail;
	}
	v->store = X509_STORE_new();
	v->cache = calloc(1, sizeof *v->cache);
	if (!v->store || !v->cache || X509_STORE_add_cert(v->store, v->anchor) != 1) {
		err_openssl(err, "cannot set up the trust store");
		goto fail;
	}
	pthread_mutex_init(&v->cache->mu, NULL);
	return v;
fail:
	if (v->cache) {
		free(v->cache);
		v->cache = NULL;
	}
	X509_STORE_free(v->store);
	X509_free(v->anchor);
	free(v);
	return NULL;
}

void dcap_verifier_free(struct dcap_verifier *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < LOADED_SLOTS; i++)
		dcap_loaded_release(v->cache->slot[i]);
	pthread_mutex_destroy(&v->cache->mu);
	free(v->cache);
	X509_STORE_free(v->store);
	X509_free(v->anchor);
	free(v);
}

/* The loaded state for c, from the cache or freshly prepared (then cached). */
static struct dcap_loaded *loaded_get(const struct dcap_verifier *v,
				      const struct dcap_collateral *c, struct err *err)
{
	struct dcap_cache *k = v->cache;
	struct dcap_loaded *l = NULL, *fresh;
	uint8_t digest[32];

	if (collateral_digest(c, digest) < 0) {
		err_set(err, "cannot compute the collateral digest (SHA-256 failed)");
		return NULL;
	}
	pthread_mutex_lock(&k->mu);
	for (size_t i = 0; i < LOADED_SLOTS; i++) {
		if (k->slot[i] && memcmp(k->slot[i]->digest, digest, 32) == 0) {
			l = k->slot[i];
			l->used = ++k->tick;
			atomic_fetch_add(&l->refs, 1);
			break;
		}
	}
	pthread_mutex_unlock(&k->mu);
	if (l)
		return l;

	fresh = loaded_new(v, c, digest); /* slow: outside the lock */
	if (!fresh) {
		err_set(err, "out of memory while loading collateral");
		return NULL;
	}
	pthread_mutex_lock(&k->mu);
	size_t victim = 0;
	for (size_t i = 0; i < LOADED_SLOTS; i++) {
		if (k->slot[i] && memcmp(k->slot[i]->digest, digest, 32) == 0) {
			l = k->slot[i]; /* another thread won the race */
			break;
		}
		if (!k->slot[i] || (k->slot[victim] && k->slot[i]->used < k->slot[victim]->used))
			victim = i;
	}
	if (l) {
		l->used = ++k->tick;
		atomic_fetch_add(&l->refs, 1);
		pthread_mutex_unlock(&k->mu);
		dcap_loaded_release(fresh);
		return l;
	}
	struct dcap_loaded *old = k->slot[victim];
	k->slot[victim] = fresh;
	fresh->used = ++k->tick;
	atomic_fetch_add(&fresh->refs, 1); /* one for the cache, one for the caller */
	pthread_mutex_unlock(&k->mu);
	dcap_loaded_release(old);
	return fresh;
}

int dcap_load_collateral(const struct dcap_verifier *v, const struct dcap_collateral *c,
			 int64_t now, struct dcap_loaded **out, struct err *err)
{
	struct dcap_loaded *l = loaded_get(v, c, err);
	*out = NULL;
	if (!l)
		return -1;
	if (eval_step0(l, now, err) < 0 || eval_collateral_docs(l, now, err) < 0) {
		err_wrap(err, "collateral rejected");
		dcap_loaded_release(l);
		return -1;
	}
	*out = l;
	return 0;
}

/* ---- step 3: the PCK chain, cached per chain ---------------------------------- */

static void pck_info_compute(struct dcap_loaded *l, const uint8_t *pem, size_t len, const char *src,
			     struct pck_info *pi)
{
	STACK_OF(X509) * certs;
	memset(pi, 0, sizeof *pi);
	certs =
	    check_pem_chain(l->store, l->crls, pem, len, "PCK", "PCK certificate", src, &pi->chain);
	if (!certs)
		return;
	X509 *leaf = sk_X509_value(certs, 0);
	if (pck_ext_parse(leaf, &pi->ext, pi->ext_err, sizeof pi->ext_err) == 0) {
		pi->key = X509_get_pubkey(leaf);
		if (!pi->key)
			sfmt(pi->ext_err, sizeof pi->ext_err, "PCK certificate has no usable key");
	}
	ERR_clear_error();
	sk_X509_pop_free(certs, X509_free);
}

static void pck_cache_put(struct dcap_loaded *l, const uint8_t key[32], const struct pck_info *pi)
{
	struct pck_entry *e = malloc(sizeof *e);
	if (!e)
		return; /* not cached; still correct */
	memcpy(e->key, key, 32);
	e->info = *pi;
	EVP_PKEY_up_ref(e->info.key);
	pthread_mutex_lock(&l->mu);
	size_t victim = 0;
	for (size_t i = 0; i < PCK_SLOTS; i++) {
		if (l->pck[i] && memcmp(l->pck[i]->key, key, 32) == 0) {
			pthread_mutex_unlock(&l->mu); /* another thread cached it meanwhile */
			EVP_PKEY_free(e->info.key);
			free(e);
			return;
		}
		if (!l->pck[i] || (l->pck[victim] && l->pck[i]->used < l->pck[victim]->used))
			victim = i;
	}
	struct pck_entry *old = l->pck[victim];
	e->used = ++l->tick;
	l->pck[victim] = e;
	pthread_mutex_unlock(&l->mu);
	if (old) {
		EVP_PKEY_free(old->info.key);
		free(old);
	}
}

/* Fills *pi (pi->key is a new reference) and checks the chain's dates. */
static int pck_get(struct dcap_loaded *l, const struct tdx_quote *q, int64_t now,
		   struct pck_info *pi, struct err *err)
{
	const uint8_t *pem;
	size_t len;
	const char *src;
	uint8_t key[32];
	int hit = 0;

	if (l->has_pck_chain) {
		pem = l->pck_chain;
		len = l->pck_chain_len;
		src = " from collateral";
	} else {
		if (q->cert_data_type != 5)
			return err_set(err,
				       "Unsupported DCAP PCK cert format: %u (a PEM chain, type 5, "
				       "or a pck_certificate_chain in the collateral is needed)",
				       q->cert_data_type);
		pem = q->cert_data;
		len = q->cert_data_len;
		src = " from quote";
	}
	if (sha256(pem, len, key) < 0)
		return err_set(err, "SHA-256 failed");
	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; i < PCK_SLOTS; i++) {
		struct pck_entry *e = l->pck[i];
		if (e && memcmp(e->key, key, 32) == 0) {
			*pi = e->info;
			EVP_PKEY_up_ref(pi->key);
			e->used = ++l->tick;
			hit = 1;
			break;
		}
	}
	pthread_mutex_unlock(&l->mu);
	if (!hit) {
		pck_info_compute(l, pem, len, src, pi);
		if (!pi->chain.err[0] && !pi->ext_err[0] && pi->key)
			pck_cache_put(l, key, pi);
	}
	if (eval_chain(&pi->chain, now, "PCK", err) < 0)
		return -1;
	if (pi->ext_err[0])
		return err_set(err, "%s", pi->ext_err);
	return 0;
}

/* ---- steps 6, 8, 9: statuses -------------------------------------------------- */

static int status_set(struct dcap_tcb_result *r, enum dcap_tcb_status *st, enum dcap_tcb_status s,
		      const struct dcap_advisories *adv, struct err *err)
{
	memset(r, 0, sizeof *r);
	*st = s;
	sfmt(r->status, sizeof r->status, "%s", collateral_tcb_status_name(s));
	if (adv->n > DCAP_MAX_ADVISORIES)
		return err_set(err, "too many advisory IDs (%zu)", adv->n);
	for (size_t i = 0; i < adv->n; i++)
		sfmt(r->advisory_ids[i], sizeof r->advisory_ids[i], "%s", adv->ids[i]);
	r->n_advisory = adv->n;
	return 0;
}

/* dcap-qvl's TcbStatusWithAdvisory::merge: the more severe status, and the
 * other's advisories appended unless already present. */
static int status_merge(struct dcap_tcb_result *dst, enum dcap_tcb_status *dst_st,
			const struct dcap_tcb_result *src, enum dcap_tcb_status src_st,
			struct err *err)
{
	if (src_st > *dst_st) {
		*dst_st = src_st;
		sfmt(dst->status, sizeof dst->status, "%s", collateral_tcb_status_name(src_st));
	}
	for (size_t i = 0; i < src->n_advisory; i++) {
		int seen = 0;
		for (size_t k = 0; k < dst->n_advisory && !seen; k++)
			seen = strcmp(dst->advisory_ids[k], src->advisory_ids[i]) == 0;
		if (seen)
			continue;
		if (dst->n_advisory >= DCAP_MAX_ADVISORIES)
			return err_set(err, "too many advisory IDs");
		memcpy(dst->advisory_ids[dst->n_advisory++], src->advisory_ids[i],
		       sizeof src->advisory_ids[i]);
	}
	return 0;
}

static void hex_upper(const uint8_t *p, size_t n, char *out)
{
	static const char H[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = H[p[i] >> 4];
		out[2 * i + 1] = H[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* SGX ATTRIBUTES debug bit (QE report, spec §2.3 step 6). */
static int sgx_debug(const uint8_t attributes[16])
{
	return (attributes[0] & 0x02) != 0;
}

/* spec: attestation §2.3 step 6 (QE identity policy and QE TCB) */
static int qe_policy(const struct sgx_report *r, const struct dcap_qe_identity *id,
		     struct dcap_tcb_result *out, enum dcap_tcb_status *st, struct err *err)
{
	if (memcmp(r->mr_signer, id->mrsigner, 32) != 0) {
		char a[65], b[65];
		hex_upper(id->mrsigner, 32, a);
		hex_upper(r->mr_signer, 32, b);
		return err_set(err, "QE MRSIGNER mismatch: expected %s, got %s", a, b);
	}
	if (sgx_debug(r->attributes))
		return err_set(err, "QE report validation failed: Debug mode is enabled");
	if (r->isv_prod_id != id->isvprodid)
		return err_set(err, "QE ISVPRODID mismatch: expected %u, got %u", id->isvprodid,
			       r->isv_prod_id);
	uint32_t exp = (uint32_t)id->miscselect[0] | (uint32_t)id->miscselect[1] << 8 |
		       (uint32_t)id->miscselect[2] << 16 | (uint32_t)id->miscselect[3] << 24;
	uint32_t mask = (uint32_t)id->miscselect_mask[0] | (uint32_t)id->miscselect_mask[1] << 8 |
			(uint32_t)id->miscselect_mask[2] << 16 |
			(uint32_t)id->miscselect_mask[3] << 24;
	if ((r->misc_select & mask) != (exp & mask))
		return err_set(err,
			       "QE MISCSELECT mismatch: expected %08X (masked), got %08X (masked)",
			       exp & mask, r->misc_select & mask);
	for (size_t i = 0; i < 16; i++) {
		uint8_t e = id->attributes[i] & id->attributes_mask[i];
		uint8_t a = r->attributes[i] & id->attributes_mask[i];
		if (e != a)
			return err_set(
			    err,
			    "QE ATTRIBUTES mismatch at byte %zu: expected %02X (masked), "
			    "got %02X (masked)",
			    i, e, a);
	}
	for (size_t i = 0; i < id->n_levels; i++)
		if (r->isv_svn >= id->levels[i].isvsvn)
			return status_set(out, st, id->levels[i].status, &id->levels[i].adv, err);
	if (id->n_levels)
		return err_set(err, "QE ISVSVN %u is below minimum required %u from QE Identity",
			       r->isv_svn, id->levels[id->n_levels - 1].isvsvn);
	return err_set(err, "No TCB levels found in QE Identity");
}

static int decode_hex_exact(const char *s, uint8_t *out, size_t n, const char *field,
			    struct err *err)
{
	size_t len = strlen(s);
	if (len % 2)
		return err_set(err, "TDX module identity check: Failed to decode %s as hex", field);
	if (len != 2 * n)
		return err_set(err,
			       "TDX module identity check: %s has invalid length %zu, expected %zu",
			       field, len / 2, n);
	if (hex_decode_fixed(s, out, n) < 0)
		return err_set(err, "TDX module identity check: Failed to decode %s as hex", field);
	return 0;
}

/* spec: attestation §2.3 step 8, TDX module identity. *has is set when an
 * identity entry gave a module status. */
static int module_identity(const struct dcap_tcb_info *t, const struct tdx_report *r,
			   struct dcap_tcb_result *out, enum dcap_tcb_status *st, int *has,
			   struct err *err)
{
	uint8_t mrsigner[48], attrs[8], mask[8];
	const struct dcap_tdx_module *m = &t->tdx_module, *ident = NULL;

	*has = 0;
	if (strcmp(t->id, "TDX") != 0 || t->version < 3)
		return 0;
	if (!t->has_tdx_module)
		return err_set(err, "TDX module identity check: TDX TCB Info is missing tdxModule "
				    "field");
	uint8_t isvsvn = r->tee_tcb_svn[0], version = r->tee_tcb_svn[1];
	TRY(decode_hex_exact(m->mrsigner, mrsigner, 48, "tdxModule.mrsigner", err));
	TRY(decode_hex_exact(m->attributes, attrs, 8, "tdxModule.attributes", err));
	TRY(decode_hex_exact(m->attributes_mask, mask, 8, "tdxModule.attributesMask", err));
	if (version > 0 && t->n_identities > 0) {
		char want[16];
		sfmt(want, sizeof want, "TDX_%02X", version);
		for (size_t i = 0; i < t->n_identities && !ident; i++)
			if (strcasecmp(t->identities[i].id, want) == 0)
				ident = &t->identities[i];
		if (!ident)
			return err_set(
			    err,
			    "TDX module identity check: No TDX module identity with id %s "
			    "found in TCB Info",
			    want);
		TRY(decode_hex_exact(ident->mrsigner, mrsigner, 48, "tdxModuleIdentity.mrsigner",
				     err));
		TRY(decode_hex_exact(ident->attributes, attrs, 8, "tdxModuleIdentity.attributes",
				     err));
		TRY(decode_hex_exact(ident->attributes_mask, mask, 8,
				     "tdxModuleIdentity.attributesMask", err));
	}
	if (memcmp(r->mr_signer_seam, mrsigner, 48) != 0) {
		char a[97], b[97];
		hex_upper(mrsigner, 48, a);
		hex_upper(r->mr_signer_seam, 48, b);
		return err_set(err,
			       "TDX module identity check: TDX module MRSIGNER mismatch: expected "
			       "%s, got %s",
			       a, b);
	}
	for (size_t i = 0; i < 8; i++) {
		uint8_t e = attrs[i] & mask[i], a = r->seam_attributes[i] & mask[i];
		if (e != a)
			return err_set(
			    err,
			    "TDX module identity check: TDX module SEAMATTRIBUTES mismatch "
			    "at byte %zu: expected %02X (masked), got %02X (masked)",
			    i, e, a);
		if (r->seam_attributes[i] & (uint8_t)~mask[i])
			return err_set(
			    err,
			    "TDX module identity check: TDX module SEAMATTRIBUTES has bits "
			    "set outside mask at byte %zu",
			    i);
	}
	if (!ident)
		return 0;
	for (size_t i = 0; i < ident->n_levels; i++) {
		if (isvsvn >= ident->levels[i].isvsvn) {
			*has = 1;
			return status_set(out, st, ident->levels[i].status, &ident->levels[i].adv,
					  err);
		}
	}
	return err_set(err,
		       "TDX module identity check: TDX module ISVSVN %u is below minimum required "
		       "from TDX module TCB levels",
		       isvsvn);
}

/* spec: attestation §2.3 step 8 (platform TCB) */
static int platform_tcb(const struct dcap_tcb_info *t, const struct tdx_report *r,
			const struct pck_ext *pck, struct dcap_tcb_result *out,
			enum dcap_tcb_status *st, struct err *err)
{
	struct buf fm = BUF_INIT;
	int same;

	if (hex_decode(t->fmspc, strlen(t->fmspc), &fm) < 0) {
		buf_free(&fm);
		return err_set(err, "Failed to decode TCB FMSPC");
	}
	same = fm.len == sizeof pck->fmspc && memcmp(fm.p, pck->fmspc, sizeof pck->fmspc) == 0;
	buf_free(&fm);
	if (!same)
		return err_set(err, "Fmspc mismatch");
	if (t->version < 3 || strcmp(t->id, "TDX") != 0)
		return err_set(err, "TDX quote with non-TDX TCB info in the collateral");
	for (size_t i = 0; i < t->n_levels; i++) {
		const struct dcap_tcb_level *lv = &t->levels[i];
		int below = 0;
		if (pck->pce_svn < lv->pcesvn)
			continue;
		if (lv->n_sgx != 16)
			return err_set(err, "SGX component count mismatch: expected 16, got %zu",
				       lv->n_sgx);
		for (size_t k = 0; k < 16 && !below; k++)
			below = pck->cpu_svn[k] < lv->sgx_svn[k];
		if (below)
			continue;
		if (lv->n_tdx != 16)
			return err_set(err, "TDX component count mismatch: expected 16, got %zu",
				       lv->n_tdx);
		for (size_t k = 0; k < 16 && !below; k++)
			below = r->tee_tcb_svn[k] < lv->tdx_svn[k];
		if (below)
			continue;
		struct dcap_tcb_result mod;
		enum dcap_tcb_status mod_st;
		int has = 0;
		TRY(status_set(out, st, lv->status, &lv->adv, err));
		TRY(module_identity(t, r, &mod, &mod_st, &has, err));
		if (has)
			TRY(status_merge(out, st, &mod, mod_st, err));
		return 0;
	}
	return err_set(err, "No matching TCB level found");
}

/* ---- step 10 and dstack's checks ---------------------------------------------- */

/* dcap-qvl's validate_attrs for TD reports. Note: its OTHER-bits mask is
 * bytes 4 (bit 7 excluded), 5, 6 and 7 (whole byte), reproduced as is. */
static int validate_td_attrs(const struct tdx_report *r, struct err *err)
{
	const uint8_t *a = r->td_attributes;
	if (r->is_td15 && !all_zero(r->mr_service_td, 48))
		return err_set(err, "Invalid MR service TD");
	if (a[0] & (uint8_t)~0x01)
		return err_set(err, "Reserved bits in TD attributes are set");
	if (a[0] & 0x01)
		return err_set(err, "Debug mode is enabled: debug TD is not allowed");
	uint32_t sec_reserved = (uint32_t)(a[3] & 0x0f) << 16 | (uint32_t)a[2] << 8 | a[1];
	uint32_t other_reserved =
	    (uint32_t)a[7] << 24 | (uint32_t)a[6] << 16 | (uint32_t)a[5] << 8 | (a[4] & 0x7f);
	if (sec_reserved || (a[3] & 0x20) || other_reserved)
		return err_set(err, "Reserved bits in TD attributes are set");
	if (!(a[3] & 0x10))
		return err_set(err, "SEPT_VE_DISABLE is not enabled");
	return 0;
}

int dcap_dstack_validate_tcb(const struct tdx_report *r, struct err *err)
{
	if (r->is_td15 && !all_zero(r->mr_service_td, 48))
		return err_set(err, "Invalid mr service td: MRSERVICETD is not zero");
	if (r->td_attributes[0] & 0x01)
		return err_set(err, "debug TD is not allowed (TD_ATTRIBUTES.DEBUG is set)");
	if (!all_zero(r->mr_signer_seam, 48))
		return err_set(err, "Invalid mr signer seam: MRSIGNERSEAM is not zero");
	return 0;
}

/* ---- steps 4, 5, 7: the signatures, and the checks that need no collateral ---- */

/* The quote header checks done right after decoding. */
static int check_quote_header(const struct tdx_quote *q, struct err *err)
{
	if (memcmp(q->qe_vendor_id, INTEL_QE_VENDOR_ID, 16) != 0)
		return err_set(err, "Unknown QE vendor ID");
	if (q->att_key_type != ATTESTATION_KEY_TYPE_P256)
		return err_set(err, "Unsupported DCAP attestation key type %u", q->att_key_type);
	return 0;
}

/* Steps 4 and 5: the QE report is signed by the PCK key, and its report data
 * is SHA-256(attestation key || QE auth data). */
static int check_qe_report(const struct tdx_quote *q, EVP_PKEY *pck_key, int sig_known_good,
			   struct err *err)
{
	uint8_t msg[64 + QE_AUTH_DATA_LEN], hash[32];
	if (!sig_known_good &&
	    ecdsa_verify_raw(pck_key, q->qe_report_raw, 384, q->qe_report_signature, 64) != 1)
		return err_set(err, "Signature is invalid for qe_report in quote");
	if (q->qe_auth_data_len != QE_AUTH_DATA_LEN)
		return err_set(err, "Invalid QE auth data length");
	memcpy(msg, q->attest_key, 64);
	memcpy(msg + 64, q->qe_auth_data, QE_AUTH_DATA_LEN);
	if (sha256(msg, sizeof msg, hash) < 0)
		return err_set(err, "SHA-256 of the QE report data failed");
	if (memcmp(hash, q->qe_report.report_data, 32) != 0)
		return err_set(err, "QE report hash mismatch");
	return 0;
}

/* Step 7: the quote is signed by the attestation key. */
static int check_quote_signature(const struct tdx_quote *q, struct err *err)
{
	EVP_PKEY *att = p256_from_xy(q->attest_key);
	int ok = ecdsa_verify_raw(att, q->signed_data, q->signed_len, q->signature, 64);
	EVP_PKEY_free(att);
	return ok == 1 ? 0 : err_set(err, "ISV enclave report signature is invalid");
}

/* The DER SubjectPublicKeyInfo of key into out (at most cap bytes); 0 on failure. */
static size_t spki_of(EVP_PKEY *key, uint8_t *out, size_t cap)
{
	int n = key ? i2d_PUBKEY(key, NULL) : -1;
	if (n <= 0 || (size_t)n > cap)
		return 0;
	unsigned char *p = out;
	return i2d_PUBKEY(key, &p) == n ? (size_t)n : 0;
}

int dcap_precheck(const struct dcap_verifier *v, const uint8_t *quote, size_t len, struct err *err)
{
	return dcap_precheck_memo(v, quote, len, NULL, err);
}

int dcap_precheck_memo(const struct dcap_verifier *v, const uint8_t *quote, size_t len,
		       struct dcap_precheck_memo *memo, struct err *err)
{
	struct tdx_quote q;
	struct chain_check c;
	struct pck_ext ext;
	STACK_OF(X509) *certs = NULL;
	X509_STORE_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	int rc = -1;

	if (memo)
		memo->valid = 0;
	TRY(quote_parse(quote, len, &q, err));
	TRY(check_quote_header(&q, err));
	if (q.cert_data_type != 5)
		return err_set(err,
			       "Unsupported DCAP PCK cert format: %u (a PEM chain, type 5, is "
			       "needed)",
			       q.cert_data_type);
	memset(&c, 0, sizeof c);
	if (!(certs = chain_certs(q.cert_data, q.cert_data_len, "PCK", " from quote", &c)))
		return err_set(err, "%s", c.err);
	if (!(ctx = verify_path(v->store, NULL, certs, "PCK", "PCK certificate", &c))) {
		err_set(err, "%s", c.err);
		goto out;
	}
	X509 *leaf = sk_X509_value(certs, 0);
	if (pck_ext_parse(leaf, &ext, c.err, sizeof c.err) < 0) {
		err_set(err, "%s", c.err);
		goto out;
	}
	if (!(key = X509_get_pubkey(leaf))) {
		err_set(err, "PCK certificate has no usable key");
		goto out;
	}
	if (check_qe_report(&q, key, 0, err) < 0 || check_quote_signature(&q, err) < 0)
		goto out;
	if (memo) {
		memo->pck_spki_len = spki_of(key, memo->pck_spki, sizeof memo->pck_spki);
		memo->valid = memo->pck_spki_len > 0 && sha256(quote, len, memo->quote_sha256) == 0;
	}
	rc = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_STORE_CTX_free(ctx);
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

/* ---- the verification --------------------------------------------------------- */

int dcap_verify_loaded(const struct dcap_verifier *v, const uint8_t *quote, size_t len,
		       struct dcap_loaded *l, int64_t now, struct dcap_result *out, struct err *err)
{
	return dcap_verify_loaded_memo(v, quote, len, l, now, NULL, out, err);
}

/* Whether memo vouches for the quote bytes (SHA-256 equal) and, when pck_key
 * is given, for that PCK key too. */
static int memo_covers(const struct dcap_precheck_memo *memo, const uint8_t *quote, size_t len,
		       EVP_PKEY *pck_key)
{
	uint8_t h[32], spki[sizeof memo->pck_spki];
	if (!memo || !memo->valid || sha256(quote, len, h) < 0 || memcmp(h, memo->quote_sha256, 32))
		return 0;
	if (!pck_key)
		return 1;
	size_t n = spki_of(pck_key, spki, sizeof spki);
	return n > 0 && n == memo->pck_spki_len && memcmp(spki, memo->pck_spki, n) == 0;
}

int dcap_verify_loaded_memo(const struct dcap_verifier *v, const uint8_t *quote, size_t len,
			    struct dcap_loaded *l, int64_t now,
			    const struct dcap_precheck_memo *memo, struct dcap_result *out,
			    struct err *err)
{
	struct tdx_quote q;
	struct pck_info pck;
	struct dcap_tcb_result plat, qe;
	enum dcap_tcb_status plat_st, qe_st, final_st;
	int rc = -1;

	memset(out, 0, sizeof *out);
	pck.key = NULL;
	if (l->store != v->store)
		return err_set(err, "collateral was loaded by another verifier");

	/* step 0: the root against the CRLs */
	TRY(eval_step0(l, now, err));
	/* quote decoding and header checks */
	TRY(quote_parse(quote, len, &q, err));
	TRY(check_quote_header(&q, err));
	/* steps 1 and 2: TCB info and QE identity */
	TRY(eval_collateral_docs(l, now, err));
	/* step 3: PCK chain */
	if (pck_get(l, &q, now, &pck, err) < 0)
		goto out;
	/* steps 4 and 5: the QE report is signed by the PCK key and binds the
	 * attestation key */
	if (check_qe_report(&q, pck.key, memo_covers(memo, quote, len, pck.key), err) < 0)
		goto out;
	/* step 6: QE identity policy and QE TCB */
	if (qe_policy(&q.qe_report, &l->qe, &qe, &qe_st, err) < 0)
		goto out;
	/* step 7: the quote is signed by the attestation key (its own bytes:
	 * already proved when the memo covers them) */
	if (!memo_covers(memo, quote, len, NULL) && check_quote_signature(&q, err) < 0)
		goto out;
	/* step 8: platform TCB (with the TDX module) */
	if (platform_tcb(&l->tcb, &q.report, &pck.ext, &plat, &plat_st, err) < 0)
		goto out;
	/* step 9: merge; Revoked is an error */
	out->platform = plat;
	out->qe = qe;
	final_st = plat_st;
	if (status_merge(&plat, &final_st, &qe, qe_st, err) < 0)
		goto out;
	if (final_st == DCAP_TCB_REVOKED) {
		err_set(err, "TCB status is invalid: Revoked");
		goto out;
	}
	/* step 10: report attributes */
	if (validate_td_attrs(&q.report, err) < 0)
		goto out;
	/* dstack's validate_tcb (spec §2.6) */
	if (dcap_dstack_validate_tcb(&q.report, err) < 0)
		goto out;

	memcpy(out->status, plat.status, sizeof out->status);
	memcpy(out->advisory_ids, plat.advisory_ids, sizeof out->advisory_ids);
	out->n_advisory = plat.n_advisory;
	memcpy(out->ppid, pck.ext.ppid, sizeof out->ppid);
	memcpy(out->fmspc, pck.ext.fmspc, sizeof out->fmspc);
	memcpy(out->cpu_svn, pck.ext.cpu_svn, sizeof out->cpu_svn);
	out->pce_svn = pck.ext.pce_svn;
	memcpy(out->pce_id, pck.ext.pce_id, sizeof out->pce_id);
	out->quote_version = q.version;
	out->report = q.report;
	rc = 0;
out:
	if (rc < 0) {
		struct dcap_tcb_result zero;
		memset(&zero, 0, sizeof zero);
		out->platform = zero;
		out->qe = zero;
	}
	EVP_PKEY_free(pck.key);
	return rc;
}

int dcap_verify(const struct dcap_verifier *v, const uint8_t *quote, size_t len,
		const struct dcap_collateral *c, int64_t now, struct dcap_result *out,
		struct err *err)
{
	struct dcap_loaded *l = loaded_get(v, c, err);
	int rc;
	if (!l) {
		memset(out, 0, sizeof *out);
		return -1;
	}
	rc = dcap_verify_loaded(v, quote, len, l, now, out, err);
	dcap_loaded_release(l);
	return rc;
}
