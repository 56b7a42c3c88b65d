/*
 * cert.c — X.509 certificates byte-identical to what upstream's rcgen 0.13.2
 * produces, and strict readers for the custom dstack extensions.
 *
 * The TBSCertificate is assembled here as DER (so every quirk of §7.1 — the
 * non-minimal KeyUsage BIT STRING, the double OCTET STRING wrapping, the
 * fixed extension order — is under our control), signed with ECDSA-P256-
 * SHA256 through OpenSSL, and handed back as an OpenSSL X509 object.
 * Never logs or returns key bytes; the issuer scalar is only passed to OpenSSL.
 * spec: kms-protocol §7.1–§7.7, §13
 */
#include "crypto/cert.h"

#include "util/date.h"
#include "util/utf8.h"

#include "util/reader.h"

#include <arpa/inet.h>
#include <limits.h>
#include <pthread.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

/* ---- DER writer ------------------------------------------------------- */

#define DER_BOOLEAN 0x01
#define DER_INTEGER 0x02
#define DER_BIT_STRING 0x03
#define DER_OCTET_STRING 0x04
#define DER_UTF8_STRING 0x0c
#define DER_UTC_TIME 0x17
#define DER_GENERALIZED_TIME 0x18
#define DER_SEQUENCE 0x30
#define DER_SET 0x31

static int der_put_len(struct buf *b, size_t n)
{
	if (n < 0x80)
		return buf_append_byte(b, (uint8_t)n);
	uint8_t tmp[1 + sizeof(size_t)];
	size_t k = 0;
	for (size_t v = n; v; v >>= 8)
		k++;
	tmp[0] = (uint8_t)(0x80 | k);
	for (size_t i = 0; i < k; i++)
		tmp[1 + i] = (uint8_t)(n >> (8 * (k - 1 - i)));
	return buf_append(b, tmp, 1 + k);
}

/* tag, length, content. */
static int der_put(struct buf *b, uint8_t tag, const void *p, size_t n)
{
	TRY(buf_append_byte(b, tag));
	TRY(der_put_len(b, n));
	return buf_append(b, p, n);
}

/* Minimal DER INTEGER of a non-negative big-endian magnitude. */
static int der_put_uint(struct buf *b, const uint8_t *mag, size_t n)
{
	if (n == 0)
		return der_put(b, DER_INTEGER, "", 1); /* zero is one 00 octet */
	size_t i = 0;
	while (i + 1 < n && mag[i] == 0 && !(mag[i + 1] & 0x80))
		i++;
	if (mag[i] & 0x80) {
		TRY(buf_append_byte(b, DER_INTEGER));
		TRY(der_put_len(b, n - i + 1));
		TRY(buf_append_byte(b, 0));
		return buf_append(b, mag + i, n - i);
	}
	return der_put(b, DER_INTEGER, mag + i, n - i);
}

/* ---- fixed encodings (spec: kms-protocol §7.1, §7.2) -------------------- */

static const uint8_t VERSION_V3[] = {0xa0, 0x03, 0x02, 0x01, 0x02};
static const uint8_t ALG_ECDSA_SHA256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
					   0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const uint8_t OID_AT_ORG[] = {0x06, 0x03, 0x55, 0x04, 0x0a};
static const uint8_t OID_AT_CN[] = {0x06, 0x03, 0x55, 0x04, 0x03};
static const uint8_t OID_SAN[] = {0x06, 0x03, 0x55, 0x1d, 0x11};
static const uint8_t OID_KU[] = {0x06, 0x03, 0x55, 0x1d, 0x0f};
static const uint8_t OID_EKU[] = {0x06, 0x03, 0x55, 0x1d, 0x25};
static const uint8_t OID_SKI[] = {0x06, 0x03, 0x55, 0x1d, 0x0e};
static const uint8_t OID_BC[] = {0x06, 0x03, 0x55, 0x1d, 0x13};
static const uint8_t OID_KP_SERVER[] = {0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01};
static const uint8_t OID_KP_CLIENT[] = {0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02};
/* 1.3.6.1.4.1.62397.1.<last> */
#define DSTACK_OID(last)                                                                           \
	{                                                                                          \
		0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xe7, 0x3d, 0x01, (last)           \
	}
static const uint8_t OID_X_APP_ID[] = DSTACK_OID(3);
static const uint8_t OID_X_CERT_USAGE[] = DSTACK_OID(4);
static const uint8_t OID_X_ATTESTATION[] = DSTACK_OID(8);
static const uint8_t OID_X_APP_INFO[] = DSTACK_OID(9);
/* 9-bit BIT STRINGs, 7 unused bits, trailing zero octet kept (rcgen 0.13 quirk). */
static const uint8_t KU_LEAF[] = {0x03, 0x03, 0x07, 0x80, 0x00};
static const uint8_t KU_CA[] = {0x03, 0x03, 0x07, 0x86, 0x00};

#define SERIAL_LEN 20
#define SKI_LEN 20
/* 3650 days, the default lifetime (spec: kms-protocol §7.1). */
#define DEFAULT_LIFETIME ((int64_t)3650 * 86400)
/* 0000-01-01T00:00:00Z .. 9999-12-31T23:59:59Z: what a 4-digit GeneralizedTime holds. */
#define TIME_MIN ((int64_t)-62167219200)
#define TIME_MAX ((int64_t)253402300799)

/* ---- helpers ------------------------------------------------------------ */

static int oom(struct err *err)
{
	return err_set(err, "out of memory");
}

/* UTCTime for 1950..2049, GeneralizedTime otherwise; seconds precision, "Z". */
static int put_time(struct buf *b, int64_t t, struct err *err)
{
	if (t < TIME_MIN || t > TIME_MAX)
		return err_set(err, "certificate time %lld out of range", (long long)t);
	int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	int64_t secs = t - days * 86400;
	int64_t year;
	int mon, day;
	date_civil_from_days(days, &year, &mon, &day);
	int hh = (int)(secs / 3600), mm = (int)(secs / 60 % 60), ss = (int)(secs % 60);
	char s[32];
	int n;
	uint8_t tag;
	if (year >= 1950 && year <= 2049) {
		tag = DER_UTC_TIME;
		n = snprintf(s, sizeof s, "%02d%02d%02d%02d%02d%02dZ", (int)(year % 100), mon, day,
			     hh, mm, ss);
	} else {
		tag = DER_GENERALIZED_TIME;
		n = snprintf(s, sizeof s, "%04d%02d%02d%02d%02d%02dZ", (int)year, mon, day, hh, mm,
			     ss);
	}
	if (n < 0 || (size_t)n >= sizeof s)
		return err_set(err, "certificate time format");
	if (der_put(b, tag, s, (size_t)n) < 0)
		return oom(err);
	return 0;
}

/* One RDN: SET { SEQUENCE { oid, UTF8String } }. */
static int put_rdn(struct buf *name, const uint8_t *oid, size_t oidlen, const char *value,
		   const char *what, struct err *err)
{
	size_t n = strlen(value);
	if (!utf8_valid((const uint8_t *)value, n))
		return err_set(err, "%s is not valid UTF-8", what);
	struct buf atv = BUF_INIT, set = BUF_INIT;
	int rc = -1;
	if (buf_append(&atv, oid, oidlen) < 0 || der_put(&atv, DER_UTF8_STRING, value, n) < 0 ||
	    der_put(&set, DER_SEQUENCE, atv.p, atv.len) < 0 ||
	    der_put(name, DER_SET, set.p, set.len) < 0) {
		oom(err);
		goto out;
	}
	rc = 0;
out:
	buf_free(&atv);
	buf_free(&set);
	return rc;
}

/* spec: kms-protocol §7.1 Names — [O=org] then CN, each its own RDN. */
static int put_subject(struct buf *out, const struct cert_params *cp, struct err *err)
{
	struct buf name = BUF_INIT;
	int rc = -1;
	if (cp->org &&
	    put_rdn(&name, OID_AT_ORG, sizeof OID_AT_ORG, cp->org, "organization", err) < 0)
		goto out;
	TRY_OUT(put_rdn(&name, OID_AT_CN, sizeof OID_AT_CN, cp->subject, "subject", err));
	if (der_put(out, DER_SEQUENCE, name.p, name.len) < 0) {
		oom(err);
		goto out;
	}
	rc = 0;
out:
	buf_free(&name);
	return rc;
}

/* Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } */
static int put_ext(struct buf *exts, const uint8_t *oid, size_t oidlen, int critical,
		   const uint8_t *val, size_t vlen, struct err *err)
{
	static const uint8_t crit_true[] = {DER_BOOLEAN, 0x01, 0xff};
	struct buf e = BUF_INIT;
	int rc = -1;
	if (buf_append(&e, oid, oidlen) < 0 ||
	    (critical && buf_append(&e, crit_true, sizeof crit_true) < 0) ||
	    der_put(&e, DER_OCTET_STRING, val, vlen) < 0 ||
	    der_put(exts, DER_SEQUENCE, e.p, e.len) < 0) {
		oom(err);
		goto out;
	}
	rc = 0;
out:
	buf_free(&e);
	return rc;
}

/* Custom extension: the extnValue holds a DER OCTET STRING of the raw bytes. */
static int put_custom_ext(struct buf *exts, const uint8_t *oid, size_t oidlen, const uint8_t *p,
			  size_t n, struct err *err)
{
	struct buf inner = BUF_INIT;
	int rc = -1;
	if (der_put(&inner, DER_OCTET_STRING, p, n) < 0) {
		oom(err);
		goto out;
	}
	rc = put_ext(exts, oid, oidlen, 0, inner.p, inner.len, err);
out:
	buf_free(&inner);
	return rc;
}

/* spec: kms-protocol §7.1 SAN — IP literals become iPAddress, the rest dNSName (ASCII only). */
static int put_san(struct buf *exts, const struct cert_params *cp, struct err *err)
{
	struct buf names = BUF_INIT, seq = BUF_INIT;
	int rc = -1;
	for (size_t i = 0; i < cp->nsan; i++) {
		const char *s = cp->san[i];
		if (!s) {
			err_set(err, "subject alt name %zu is missing", i);
			goto out;
		}
		uint8_t ip[16];
		int r;
		if (inet_pton(AF_INET, s, ip) == 1)
			r = der_put(&names, 0x87, ip, 4);
		else if (inet_pton(AF_INET6, s, ip) == 1)
			r = der_put(&names, 0x87, ip, 16);
		else {
			size_t n = strlen(s);
			for (size_t j = 0; j < n; j++) {
				if ((uint8_t)s[j] >= 0x80) {
					err_set(err,
						"subject alt name %zu is not an ASCII DNS name", i);
					goto out;
				}
			}
			r = der_put(&names, 0x82, s, n);
		}
		if (r < 0) {
			oom(err);
			goto out;
		}
	}
	if (der_put(&seq, DER_SEQUENCE, names.p, names.len) < 0) {
		oom(err);
		goto out;
	}
	rc = put_ext(exts, OID_SAN, sizeof OID_SAN, 0, seq.p, seq.len, err);
out:
	buf_free(&names);
	buf_free(&seq);
	return rc;
}

static int put_eku(struct buf *exts, const struct cert_params *cp, struct err *err)
{
	struct buf oids = BUF_INIT, seq = BUF_INIT;
	int rc = -1;
	if ((cp->eku_server && buf_append(&oids, OID_KP_SERVER, sizeof OID_KP_SERVER) < 0) ||
	    (cp->eku_client && buf_append(&oids, OID_KP_CLIENT, sizeof OID_KP_CLIENT) < 0) ||
	    der_put(&seq, DER_SEQUENCE, oids.p, oids.len) < 0) {
		oom(err);
		goto out;
	}
	rc = put_ext(exts, OID_EKU, sizeof OID_EKU, 0, seq.p, seq.len, err);
out:
	buf_free(&oids);
	buf_free(&seq);
	return rc;
}

static int put_ca_exts(struct buf *exts, const struct cert_params *cp,
		       const uint8_t spki[P256_SPKI_LEN], struct err *err)
{
	/* SKI = first 20 bytes of SHA-256(full SPKI DER). */
	uint8_t h[SHA256_DIGEST_LENGTH];
	uint8_t ski[2 + SKI_LEN] = {DER_OCTET_STRING, SKI_LEN};
	if (!SHA256(spki, P256_SPKI_LEN, h))
		return err_openssl(err, "SHA-256");
	memcpy(ski + 2, h, SKI_LEN);
	TRY(put_ext(exts, OID_SKI, sizeof OID_SKI, 0, ski, sizeof ski, err));

	uint8_t pl = (uint8_t)cp->path_len;
	struct buf body = BUF_INIT, bc = BUF_INIT;
	static const uint8_t ca_true[] = {DER_BOOLEAN, 0x01, 0xff};
	int rc = -1;
	if (buf_append(&body, ca_true, sizeof ca_true) < 0 || der_put_uint(&body, &pl, 1) < 0 ||
	    der_put(&bc, DER_SEQUENCE, body.p, body.len) < 0) {
		oom(err);
		goto out;
	}
	rc = put_ext(exts, OID_BC, sizeof OID_BC, 1, bc.p, bc.len, err);
out:
	buf_free(&body);
	buf_free(&bc);
	return rc;
}

/* spec: kms-protocol §7.1 Extensions — the fixed order. */
static int put_extensions(struct buf *tbs, const struct cert_params *cp,
			  const uint8_t spki[P256_SPKI_LEN], struct err *err)
{
	int has_eku = cp->eku_server || cp->eku_client;
	int has_custom = cp->app_id.p || cp->app_info.p || cp->usage || cp->attestation.p;
	if (!cp->is_ca && cp->nsan == 0 && !has_eku && !has_custom)
		return 0; /* rcgen drops a lone KeyUsage */
	struct buf exts = BUF_INIT, seq = BUF_INIT;
	int rc = -1;
	if (cp->nsan)
		TRY_OUT(put_san(&exts, cp, err));
	if (cp->is_ca)
		TRY_OUT(put_ext(&exts, OID_KU, sizeof OID_KU, 1, KU_CA, sizeof KU_CA, err));
	else
		TRY_OUT(put_ext(&exts, OID_KU, sizeof OID_KU, 1, KU_LEAF, sizeof KU_LEAF, err));
	if (has_eku)
		TRY_OUT(put_eku(&exts, cp, err));
	if (cp->is_ca)
		TRY_OUT(put_ca_exts(&exts, cp, spki, err));
	if (cp->app_id.p)
		TRY_OUT(put_custom_ext(&exts, OID_X_APP_ID, sizeof OID_X_APP_ID, cp->app_id.p,
				       cp->app_id.len, err));
	if (cp->app_info.p)
		TRY_OUT(put_custom_ext(&exts, OID_X_APP_INFO, sizeof OID_X_APP_INFO, cp->app_info.p,
				       cp->app_info.len, err));
	if (cp->usage)
		TRY_OUT(put_custom_ext(&exts, OID_X_CERT_USAGE, sizeof OID_X_CERT_USAGE,
				       (const uint8_t *)cp->usage, strlen(cp->usage), err));
	if (cp->attestation.p)
		TRY_OUT(put_custom_ext(&exts, OID_X_ATTESTATION, sizeof OID_X_ATTESTATION,
				       cp->attestation.p, cp->attestation.len, err));
	if (der_put(&seq, DER_SEQUENCE, exts.p, exts.len) < 0 ||
	    der_put(tbs, 0xa3, seq.p, seq.len) < 0) {
		oom(err);
		goto out;
	}
	rc = 0;
out:
	buf_free(&exts);
	buf_free(&seq);
	return rc;
}

/* The issuer's subject DN, verbatim (OpenSSL keeps the parsed encoding). */
static int put_issuer_name(struct buf *tbs, X509 *issuer, struct err *err)
{
	unsigned char *der = NULL;
	int n = i2d_X509_NAME(X509_get_subject_name(issuer), &der);
	if (n <= 0)
		return err_openssl(err, "issuer subject name");
	int rc = buf_append(tbs, der, (size_t)n) < 0 ? oom(err) : 0;
	OPENSSL_free(der);
	return rc;
}

/* spec: kms-protocol §7.1 Serial — SHA-256 of the raw point, 20 bytes, top bit cleared. */
static int put_serial(struct buf *tbs, const uint8_t point[P256_POINT_LEN], struct err *err)
{
	uint8_t h[SHA256_DIGEST_LENGTH];
	if (!SHA256(point, P256_POINT_LEN, h))
		return err_openssl(err, "SHA-256");
	h[0] &= 0x7f;
	if (der_put_uint(tbs, h, SERIAL_LEN) < 0)
		return oom(err);
	return 0;
}

static int check_params(const struct cert_params *cp, int64_t now, struct err *err)
{
	if (!cp || !cp->subject)
		return err_set(err, "certificate subject is missing");
	if (cp->nsan && !cp->san)
		return err_set(err, "subject alt names are missing");
	if (cp->is_ca && (cp->path_len < 0 || cp->path_len > 255))
		return err_set(err, "CA path length %d out of range", cp->path_len);
	if ((cp->app_id.p == NULL && cp->app_id.len) ||
	    (cp->app_info.p == NULL && cp->app_info.len) ||
	    (cp->attestation.p == NULL && cp->attestation.len))
		return err_set(err, "extension bytes are missing");
	if (!cp->has_not_after && (now < TIME_MIN || now > TIME_MAX - DEFAULT_LIFETIME))
		return err_set(err, "issuance time %lld out of range", (long long)now);
	return 0;
}

static int build_tbs(const struct cert_params *cp, const uint8_t point[P256_POINT_LEN],
		     const uint8_t spki[P256_SPKI_LEN], X509 *issuer, int64_t now, struct buf *out,
		     struct err *err)
{
	struct buf body = BUF_INIT;
	int rc = -1;
	int64_t nb = cp->has_not_before ? cp->not_before : 157766400; /* 1975-01-01T00:00:00Z */
	int64_t na = cp->has_not_after ? cp->not_after : now + DEFAULT_LIFETIME;
	if (buf_append(&body, VERSION_V3, sizeof VERSION_V3) < 0) {
		oom(err);
		goto out;
	}
	TRY_OUT(put_serial(&body, point, err));
	if (buf_append(&body, ALG_ECDSA_SHA256, sizeof ALG_ECDSA_SHA256) < 0) {
		oom(err);
		goto out;
	}
	if (issuer)
		TRY_OUT(put_issuer_name(&body, issuer, err));
	else
		TRY_OUT(put_subject(&body, cp, err));
	{
		struct buf validity = BUF_INIT;
		int r = put_time(&validity, nb, err);
		if (r == 0)
			r = put_time(&validity, na, err);
		if (r == 0 && der_put(&body, DER_SEQUENCE, validity.p, validity.len) < 0)
			r = oom(err);
		buf_free(&validity);
		if (r < 0) {
			err_wrap(err, "validity");
			goto out;
		}
	}
	TRY_OUT(put_subject(&body, cp, err));
	if (buf_append(&body, spki, P256_SPKI_LEN) < 0) {
		oom(err);
		goto out;
	}
	TRY_OUT(put_extensions(&body, cp, spki, err));
	if (der_put(out, DER_SEQUENCE, body.p, body.len) < 0) {
		oom(err);
		goto out;
	}
	rc = 0;
out:
	buf_free(&body);
	return rc;
}

/* Certificate ::= SEQUENCE { tbs, signatureAlgorithm, BIT STRING signature }. */
static int sign_tbs(const struct buf *tbs, const uint8_t issuer_scalar[32], struct buf *out,
		    struct err *err)
{
	int rc = -1;
	EVP_PKEY *pk = p256_evp_from_scalar(issuer_scalar, err);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct buf body = BUF_INIT;
	uint8_t sig[1 + 80]; /* leading "unused bits" octet + DER ECDSA-P256 signature (<= 72) */
	size_t siglen = sizeof sig - 1;
	if (!pk) {
		err_wrap(err, "issuer key");
		goto out;
	}
	if (!md) {
		oom(err);
		goto out;
	}
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) != 1 ||
	    EVP_DigestSign(md, sig + 1, &siglen, tbs->p, tbs->len) != 1) {
		err_openssl(err, "signing certificate");
		goto out;
	}
	sig[0] = 0;
	if (buf_append(&body, tbs->p, tbs->len) < 0 ||
	    buf_append(&body, ALG_ECDSA_SHA256, sizeof ALG_ECDSA_SHA256) < 0 ||
	    der_put(&body, DER_BIT_STRING, sig, siglen + 1) < 0 ||
	    der_put(out, DER_SEQUENCE, body.p, body.len) < 0) {
		oom(err);
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	buf_free(&body);
	return rc;
}

X509 *cert_issue(const struct cert_params *cp, const uint8_t subject_point[P256_POINT_LEN],
		 const uint8_t issuer_scalar[32], X509 *issuer, int64_t now, struct err *err)
{
	X509 *x = NULL;
	struct buf tbs = BUF_INIT, der = BUF_INIT;
	uint8_t spki[P256_SPKI_LEN];
	uint8_t signer[P256_POINT_LEN], expect[P256_POINT_LEN];

	if (check_params(cp, now, err) < 0)
		goto out;
	if (p256_spki_der(subject_point, spki) < 0) {
		err_set(err, "subject public key is not a P-256 point");
		goto out;
	}
	/* Refuse to sign with a key that is not the issuer's: the result would never verify. */
	if (p256_public_point(issuer_scalar, signer, err) < 0) {
		err_wrap(err, "issuer key");
		goto out;
	}
	if (issuer) {
		if (cert_public_point(issuer, expect, err) < 0) {
			err_wrap(err, "issuer certificate");
			goto out;
		}
	} else {
		memcpy(expect, subject_point, P256_POINT_LEN);
	}
	if (memcmp(signer, expect, P256_POINT_LEN) != 0) {
		err_set(err, issuer ? "issuer key does not match the issuer certificate"
				    : "self-signed certificate: key does not match the subject");
		goto out;
	}
	if (build_tbs(cp, subject_point, spki, issuer, now, &tbs, err) < 0 ||
	    sign_tbs(&tbs, issuer_scalar, &der, err) < 0) {
		err_wrap(err, "issuing certificate for \"%s\"", cp->subject);
		goto out;
	}
	const unsigned char *p = der.p;
	if (der.len > LONG_MAX || !(x = d2i_X509(NULL, &p, (long)der.len)) ||
	    p != der.p + der.len) {
		X509_free(x);
		x = NULL;
		err_openssl(err, "re-parsing the issued certificate");
		goto out;
	}
out:
	buf_free(&tbs);
	buf_free(&der);
	return x;
}

int cert_to_der(X509 *x, struct buf *out, struct err *err)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	if (n <= 0)
		return err_openssl(err, "certificate DER");
	int rc = buf_append(out, der, (size_t)n) < 0 ? oom(err) : 0;
	OPENSSL_free(der);
	return rc;
}

int cert_to_pem(X509 *x, struct buf *out, struct err *err)
{
	/* OpenSSL's PEM writer: 64-column base64, LF line ends, trailing newline. */
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio)
		return oom(err);
	int rc = -1;
	char *p;
	long n;
	if (PEM_write_bio_X509(bio, x) != 1) {
		err_openssl(err, "certificate PEM");
		goto out;
	}
	n = BIO_get_mem_data(bio, &p);
	if (n <= 0) {
		err_set(err, "certificate PEM: empty output");
		goto out;
	}
	if (buf_append(out, p, (size_t)n) < 0) {
		oom(err);
		goto out;
	}
	rc = 0;
out:
	BIO_free(bio);
	return rc;
}

X509 *cert_from_pem(const char *pem, size_t len, struct err *err)
{
	if (!pem || len > INT_MAX) {
		err_set(err, "certificate PEM: bad input");
		return NULL;
	}
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		oom(err);
		return NULL;
	}
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!x)
		err_openssl(err, "parsing certificate PEM");
	return x;
}

/* ---- readers ------------------------------------------------------------ */

/* DER length: definite, minimal. */
static int rd_der_len(struct reader *r, size_t *len)
{
	uint8_t b;
	TRY(rd_u8(r, &b));
	if (b < 0x80) {
		*len = b;
		return 0;
	}
	size_t k = b & 0x7f;
	if (k == 0 || k > sizeof(size_t))
		return -1; /* indefinite or absurd */
	size_t v = 0;
	for (size_t i = 0; i < k; i++) {
		TRY(rd_u8(r, &b));
		if (i == 0 && b == 0)
			return -1; /* leading zero octet */
		v = (v << 8) | b;
	}
	if (v < 0x80)
		return -1; /* long form for a short length */
	*len = v;
	return 0;
}

int cert_get_custom_ext(X509 *x, const char *oid, struct buf *out, struct err *err)
{
	ASN1_OBJECT *want = OBJ_txt2obj(oid, 1);
	if (!want)
		return err_set(err, "bad extension OID \"%s\"", oid ? oid : "(null)");
	X509_EXTENSION *found = NULL;
	int count = X509_get_ext_count(x);
	for (int i = 0; i < count; i++) {
		X509_EXTENSION *e = X509_get_ext(x, i);
		if (OBJ_cmp(X509_EXTENSION_get_object(e), want) != 0)
			continue;
		if (found) {
			ASN1_OBJECT_free(want);
			return err_set(err, "duplicate certificate extension %s", oid);
		}
		found = e;
	}
	ASN1_OBJECT_free(want);
	if (!found)
		return 0;

	/* spec: kms-protocol §7.1 — extnValue holds exactly one DER OCTET STRING. */
	const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(found);
	struct reader r;
	uint8_t tag;
	size_t len;
	const uint8_t *content;
	reader_init(&r, ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v));
	if (rd_u8(&r, &tag) < 0 || tag != DER_OCTET_STRING || rd_der_len(&r, &len) < 0 ||
	    rd_bytes(&r, len, &content) < 0 || rd_left(&r) != 0)
		return err_set(err, "extension %s: value is not a DER OCTET STRING", oid);
	if (buf_append(out, content, len) < 0)
		return oom(err);
	return 1;
}

int cert_public_point(X509 *x, uint8_t point[P256_POINT_LEN], struct err *err)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	if (!pk)
		return err_openssl(err, "certificate public key");
	return p256_point_from_evp(pk, point, err);
}

int cert_spki_der(X509 *x, struct buf *out, struct err *err)
{
	unsigned char *der = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	if (n <= 0)
		return err_openssl(err, "certificate public key DER");
	int rc = buf_append(out, der, (size_t)n) < 0 ? oom(err) : 0;
	OPENSSL_free(der);
	return rc;
}

int cert_asn1_time_unix(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = date_unix_from_tm(&tm);
	return 0;
}

static STACK_OF(X509) * cert_chain_parse(const void *pem, size_t len, size_t max, struct err *err);

/* The parse cache of cert_chain_from_pem: a quote carries the same PCK chain
 * (leaf, platform CA, root) on every request from a platform, and OpenSSL
 * 3.0 spends far more on decoding a certificate's key than on verifying it.
 * Entries hold references to immutable X509 objects, keyed by SHA-256 of
 * the exact PEM text; only successful parses of 1..CHAIN_CACHE_CERTS
 * certificates are kept; replacement is round-robin. */
#define CHAIN_CACHE_ENTRIES 16
#define CHAIN_CACHE_CERTS 4
struct chain_cache_entry {
	uint8_t key[SHA256_DIGEST_LENGTH];
	int n; /* 0: empty */
	X509 *certs[CHAIN_CACHE_CERTS];
};
static struct chain_cache_entry g_chain_cache[CHAIN_CACHE_ENTRIES];
static unsigned g_chain_cache_next;
static pthread_mutex_t g_chain_cache_mu = PTHREAD_MUTEX_INITIALIZER;

/* A new stack holding fresh references to the cached chain for key, or NULL
 * (not cached); *n_out is the cached count (0 when not cached). */
static STACK_OF(X509) * chain_cache_get(const uint8_t key[SHA256_DIGEST_LENGTH], int *n_out)
{
	STACK_OF(X509) *sk = NULL;
	*n_out = 0;
	pthread_mutex_lock(&g_chain_cache_mu);
	for (int i = 0; i < CHAIN_CACHE_ENTRIES; i++) {
		struct chain_cache_entry *e = &g_chain_cache[i];
		if (e->n == 0 || memcmp(e->key, key, sizeof e->key) != 0)
			continue;
		*n_out = e->n;
		sk = sk_X509_new_reserve(NULL, e->n);
		for (int j = 0; sk && j < e->n; j++) {
			X509_up_ref(e->certs[j]);
			sk_X509_push(sk, e->certs[j]); /* reserved: cannot fail */
		}
		break;
	}
	pthread_mutex_unlock(&g_chain_cache_mu);
	return sk;
}

static void chain_cache_put(const uint8_t key[SHA256_DIGEST_LENGTH], STACK_OF(X509) * sk)
{
	int n = sk_X509_num(sk);
	if (n < 1 || n > CHAIN_CACHE_CERTS)
		return;
	pthread_mutex_lock(&g_chain_cache_mu);
	struct chain_cache_entry *e = &g_chain_cache[g_chain_cache_next++ % CHAIN_CACHE_ENTRIES];
	for (int j = 0; j < e->n; j++)
		X509_free(e->certs[j]);
	memcpy(e->key, key, sizeof e->key);
	for (int j = 0; j < n; j++) {
		e->certs[j] = sk_X509_value(sk, j);
		X509_up_ref(e->certs[j]);
	}
	e->n = n;
	pthread_mutex_unlock(&g_chain_cache_mu);
}

void cert_chain_cache_clear(void)
{
	pthread_mutex_lock(&g_chain_cache_mu);
	for (int i = 0; i < CHAIN_CACHE_ENTRIES; i++) {
		for (int j = 0; j < g_chain_cache[i].n; j++)
			X509_free(g_chain_cache[i].certs[j]);
		g_chain_cache[i].n = 0;
	}
	pthread_mutex_unlock(&g_chain_cache_mu);
}

STACK_OF(X509) * cert_chain_from_pem(const void *pem, size_t len, size_t max, struct err *err)
{
	uint8_t key[SHA256_DIGEST_LENGTH];
	int cached_n;

	if (!max)
		max = CERT_CHAIN_MAX;
	if (len > 0 && len <= INT32_MAX) {
		SHA256(pem, len, key);
		STACK_OF(X509) *hit = chain_cache_get(key, &cached_n);
		if (hit && (size_t)cached_n <= max && sk_X509_num(hit) == cached_n)
			return hit;
		sk_X509_pop_free(hit, X509_free);
		if (cached_n > 0 && (size_t)cached_n > max) {
			err_set(err, "more than %zu certificates", max);
			return NULL;
		}
	}
	STACK_OF(X509) *sk = cert_chain_parse(pem, len, max, err);
	if (sk && len > 0 && len <= INT32_MAX)
		chain_cache_put(key, sk);
	return sk;
}

static STACK_OF(X509) * cert_chain_parse(const void *pem, size_t len, size_t max, struct err *err)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *b = NULL;
	X509 *x;

	if (!max)
		max = CERT_CHAIN_MAX;
	if (sk && len == 0)
		return sk;
	if (!sk || len > INT32_MAX || !(b = BIO_new_mem_buf(pem, (int)len))) {
		err_set(err, "out of memory or chain too large");
		goto fail;
	}
	ERR_clear_error();
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if ((size_t)sk_X509_num(sk) >= max || !sk_X509_push(sk, x)) {
			X509_free(x);
			err_set(err, "more than %zu certificates", max);
			goto fail;
		}
	}
	unsigned long e = ERR_peek_last_error();
	if (e && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
		err_set(err, "malformed PEM or certificate: %s",
			ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "unknown");
		goto fail;
	}
	ERR_clear_error();
	BIO_free(b);
	return sk;
fail:
	ERR_clear_error();
	BIO_free(b);
	sk_X509_pop_free(sk, X509_free);
	return NULL;
}

int cert_not_after(X509 *x, int64_t *t, struct err *err)
{
	if (cert_asn1_time_unix(X509_get0_notAfter(x), t) < 0)
		return err_openssl(err, "certificate notAfter");
	return 0;
}
