/*
 * p256.c — NIST P-256 keys in the exact byte layouts upstream uses (p256.h).
 *
 * The PKCS#8 DER of kms-protocol §5.3 is assembled by hand (OpenSSL would add
 * the optional [0] parameters and change the bytes derive_dh_secret hashes).
 * Point arithmetic is OpenSSL 3; private-key PEM is parsed here (bounded
 * reader) so no unwiped copy of the key is left behind. Every buffer that held
 * a scalar, a DER private key or its PEM text is wiped before it is released;
 * no error message ever contains key bytes.
 */
#include "crypto/p256.h"

#include "util/reader.h"
#include "util/base64.h"
#include "util/secret.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <string.h>

/* Group order n of P-256, big-endian. */
static const uint8_t p256_order[32] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

/* spec: kms-protocol §5.3 — everything before the 32-byte scalar. */
static const uint8_t pkcs8_head[36] = {0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06,
				       0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
				       0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
				       0x04, 0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20};
/* Between the scalar and the uncompressed point: [1] { BIT STRING, 0 unused bits }. */
static const uint8_t pkcs8_mid[5] = {0xa1, 0x44, 0x03, 0x42, 0x00};

/* SubjectPublicKeyInfo prefix: id-ecPublicKey, prime256v1, BIT STRING of 66 bytes. */
static const uint8_t spki_head[26] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
				      0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
				      0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};

#define P256_GROUP_NAME "prime256v1"

int p256_scalar_valid(const uint8_t scalar[32])
{
	/* Branch-free: s < n via the borrow of s - n, and s != 0. */
	unsigned borrow = 0, nonzero = 0;
	for (int i = 31; i >= 0; i--) {
		unsigned diff = (unsigned)scalar[i] - (unsigned)p256_order[i] - borrow;
		borrow = (diff >> 8) & 1;
		nonzero |= scalar[i];
	}
	return borrow == 1 && nonzero != 0;
}

int p256_generate(uint8_t scalar[32], struct err *err)
{
	/* Rejection sampling: one retry is needed with probability ~2^-32. */
	for (int tries = 0; tries < 64; tries++) {
		if (RAND_priv_bytes(scalar, 32) != 1) {
			secret_wipe(scalar, 32);
			return err_openssl(err, "P-256 key generation: random source failed");
		}
		if (p256_scalar_valid(scalar))
			return 0;
	}
	secret_wipe(scalar, 32);
	return err_set(err, "P-256 key generation: no valid scalar drawn");
}

int p256_public_point(const uint8_t scalar[32], uint8_t point[P256_POINT_LEN], struct err *err)
{
	if (!p256_scalar_valid(scalar))
		return err_set(err, "invalid P-256 private key: scalar out of range");
	int rc = -1;
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	BN_CTX *bnctx = BN_CTX_secure_new();
	BIGNUM *d = BN_secure_new();
	EC_POINT *pt = g ? EC_POINT_new(g) : NULL;
	if (!g || !bnctx || !d || !pt) {
		err_openssl(err, "P-256 public key: out of memory");
		goto out;
	}
	BN_set_flags(d, BN_FLG_CONSTTIME);
	if (!BN_bin2bn(scalar, 32, d) || EC_POINT_mul(g, pt, d, NULL, NULL, bnctx) != 1) {
		err_openssl(err, "P-256 public key: scalar multiplication failed");
		goto out;
	}
	if (EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, point, P256_POINT_LEN,
			       bnctx) != P256_POINT_LEN) {
		err_openssl(err, "P-256 public key: point encoding failed");
		goto out;
	}
	rc = 0;
out:
	EC_POINT_free(pt);
	BN_clear_free(d);
	BN_CTX_free(bnctx);
	EC_GROUP_free(g);
	return rc;
}

int p256_pkcs8_der(const uint8_t scalar[32], uint8_t out[P256_PKCS8_LEN], struct err *err)
{
	uint8_t point[P256_POINT_LEN];
	if (p256_public_point(scalar, point, err) < 0)
		return err_wrap(err, "PKCS#8 encoding");
	/* spec: kms-protocol §5.3 */
	size_t off = 0;
	memcpy(out + off, pkcs8_head, sizeof pkcs8_head);
	off += sizeof pkcs8_head;
	memcpy(out + off, scalar, 32);
	off += 32;
	memcpy(out + off, pkcs8_mid, sizeof pkcs8_mid);
	off += sizeof pkcs8_mid;
	memcpy(out + off, point, P256_POINT_LEN);
	return 0;
}

int p256_pkcs8_pem(const uint8_t scalar[32], struct buf *out, struct err *err)
{
	static const char begin[] = "-----BEGIN PRIVATE KEY-----\n";
	static const char end[] = "-----END PRIVATE KEY-----\n";
	uint8_t der[P256_PKCS8_LEN];
	unsigned char line[64 + 1]; /* 48 input bytes -> 64 base64 chars + NUL */
	int rc = -1;

	out->secret = 1; /* the PEM text is the key */
	if (p256_pkcs8_der(scalar, der, err) < 0)
		goto out;
	if (buf_append(out, begin, sizeof begin - 1) < 0)
		goto oom;
	for (size_t off = 0; off < sizeof der; off += 48) {
		size_t n = sizeof der - off < 48 ? sizeof der - off : 48;
		int w = EVP_EncodeBlock(line, der + off, (int)n);
		if (w <= 0 || w > 64) {
			err_set(err, "PKCS#8 PEM: base64 encoding failed");
			goto out;
		}
		if (buf_append(out, line, (size_t)w) < 0 || buf_append_byte(out, '\n') < 0)
			goto oom;
	}
	if (buf_append(out, end, sizeof end - 1) < 0)
		goto oom;
	rc = 0;
	goto out;
oom:
	err_set(err, "PKCS#8 PEM: out of memory");
out:
	secret_wipe(der, sizeof der);
	secret_wipe(line, sizeof line);
	return rc;
}

/* 0 when pk is an EC key on P-256 (named curve). */
static int check_p256(EVP_PKEY *pk, struct err *err)
{
	char name[64];
	size_t name_len = 0;
	if (!EVP_PKEY_is_a(pk, "EC"))
		return err_set(err, "not an EC key");
	if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name,
					   &name_len) != 1) {
		ERR_clear_error();
		return err_set(err, "EC key without a named curve");
	}
	if (strcmp(name, P256_GROUP_NAME) != 0)
		return err_set(err, "EC key is not on P-256");
	return 0;
}

int p256_point_from_evp(EVP_PKEY *pk, uint8_t point[P256_POINT_LEN], struct err *err)
{
	if (!pk)
		return err_set(err, "P-256 public key: no key");
	if (check_p256(pk, err) < 0)
		return err_wrap(err, "P-256 public key");
	int rc = -1;
	BIGNUM *x = NULL, *y = NULL;
	if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
	    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1) {
		err_openssl(err, "P-256 public key: key has no public point");
		goto out;
	}
	point[0] = 0x04;
	if (BN_bn2binpad(x, point + 1, 32) != 32 || BN_bn2binpad(y, point + 33, 32) != 32) {
		err_set(err, "P-256 public key: coordinate out of range");
		goto out;
	}
	rc = 0;
out:
	BN_free(x);
	BN_free(y);
	return rc;
}

/*
 * Private-key PEM reading is done here rather than by OpenSSL's decoders, whose
 * temporary DER copies are freed without being wiped. Decoded bytes only ever
 * live in der_buf below, which is wiped on every exit.
 */

#define PEM_DER_MAX 1024 /* far above any P-256 key encoding */

/* One DER TLV with the expected tag; sub spans its content. */
static int der_read(struct reader *r, uint8_t tag, struct reader *sub)
{
	uint8_t t, l, b;
	uint16_t w;
	size_t len;
	if (rd_u8(r, &t) < 0 || t != tag || rd_u8(r, &l) < 0)
		return -1;
	if (l < 0x80) {
		len = l;
	} else if (l == 0x81) {
		if (rd_u8(r, &b) < 0 || b < 0x80)
			return -1;
		len = b;
	} else if (l == 0x82) {
		if (rd_u16be(r, &w) < 0 || w < 0x100)
			return -1;
		len = w;
	} else {
		return -1;
	}
	return rd_sub(r, len, sub);
}

static int der_peek(const struct reader *r)
{
	return rd_left(r) ? r->p[r->off] : -1;
}

/* 1 when the reader's remaining bytes are exactly want[len]. */
static int der_equals(const struct reader *r, const uint8_t *want, size_t len)
{
	return rd_left(r) == len && memcmp(r->p + r->off, want, len) == 0;
}

static const uint8_t oid_ec_public_key[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const uint8_t oid_prime256v1[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

/* Named-curve parameters must be prime256v1. */
static int check_curve_oid(struct reader *r, struct err *err)
{
	struct reader oid;
	if (der_peek(r) != 0x06)
		return err_set(err, "EC key is not on P-256 (explicit curve parameters)");
	if (der_read(r, 0x06, &oid) < 0)
		return err_set(err, "malformed curve identifier");
	if (!der_equals(&oid, oid_prime256v1, sizeof oid_prime256v1))
		return err_set(err, "EC key is not on P-256");
	return 0;
}

struct parsed_key {
	uint8_t scalar[32];
	uint8_t point[P256_POINT_LEN];
	int has_point;
	int has_curve;
};

/* SEC1 ECPrivateKey (RFC 5915). */
static int parse_sec1(struct reader *r, struct parsed_key *k, struct err *err)
{
	struct reader seq, f;
	if (der_read(r, 0x30, &seq) < 0)
		return err_set(err, "malformed ECPrivateKey");
	if (der_read(&seq, 0x02, &f) < 0 || !der_equals(&f, (const uint8_t[]){1}, 1))
		return err_set(err, "unsupported ECPrivateKey version");
	size_t n;
	if (der_read(&seq, 0x04, &f) < 0 || (n = rd_left(&f)) == 0 || n > 32)
		return err_set(err, "malformed EC private scalar");
	memset(k->scalar, 0, 32);
	if (rd_copy(&f, k->scalar + 32 - n, n) < 0)
		return err_set(err, "malformed EC private scalar");
	if (der_peek(&seq) == 0xa0) {
		if (der_read(&seq, 0xa0, &f) < 0)
			return err_set(err, "malformed ECPrivateKey parameters");
		if (check_curve_oid(&f, err) < 0)
			return -1;
		if (rd_left(&f))
			return err_set(err, "malformed ECPrivateKey parameters");
		k->has_curve = 1;
	}
	if (der_peek(&seq) == 0xa1) {
		struct reader bits;
		if (der_read(&seq, 0xa1, &f) < 0 || der_read(&f, 0x03, &bits) < 0 || rd_left(&f) ||
		    rd_left(&bits) != 1 + P256_POINT_LEN || bits.p[bits.off] != 0)
			return err_set(err, "malformed EC public key in private key");
		memcpy(k->point, bits.p + bits.off + 1, P256_POINT_LEN);
		k->has_point = 1;
	}
	if (rd_left(&seq))
		return err_set(err, "trailing data in ECPrivateKey");
	return 0;
}

/* PKCS#8 PrivateKeyInfo / OneAsymmetricKey (RFC 5208, RFC 5958) holding an EC key. */
static int parse_pkcs8(struct reader *r, struct parsed_key *k, struct err *err)
{
	struct reader seq, f, alg, oid;
	if (der_read(r, 0x30, &seq) < 0)
		return err_set(err, "malformed PKCS#8");
	if (der_read(&seq, 0x02, &f) < 0 ||
	    !(der_equals(&f, (const uint8_t[]){0}, 1) || der_equals(&f, (const uint8_t[]){1}, 1)))
		return err_set(err, "unsupported PKCS#8 version");
	if (der_read(&seq, 0x30, &alg) < 0 || der_read(&alg, 0x06, &oid) < 0)
		return err_set(err, "malformed PKCS#8 algorithm");
	if (!der_equals(&oid, oid_ec_public_key, sizeof oid_ec_public_key))
		return err_set(err, "not an EC key");
	if (check_curve_oid(&alg, err) < 0)
		return -1;
	if (rd_left(&alg))
		return err_set(err, "malformed PKCS#8 algorithm");
	if (der_read(&seq, 0x04, &f) < 0)
		return err_set(err, "malformed PKCS#8 key");
	if (parse_sec1(&f, k, err) < 0)
		return -1;
	if (rd_left(&f))
		return err_set(err, "trailing data in PKCS#8 key");
	k->has_curve = 1;
	/* Optional [0] attributes and [1] publicKey (v2); their content is not needed. */
	while (rd_left(&seq)) {
		int tag = der_peek(&seq);
		if ((tag != 0xa0 && tag != 0x81 && tag != 0xa1) ||
		    der_read(&seq, (uint8_t)tag, &f) < 0)
			return err_set(err, "trailing data in PKCS#8");
	}
	return 0;
}

/* First occurrence of needle in hay[0, n), or NULL (memmem is a GNU extension). */
static const char *find_bytes(const char *hay, size_t n, const char *needle, size_t m)
{
	for (size_t i = 0; m <= n && i <= n - m; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0)
			return hay + i;
	return NULL;
}

/* Finds the first private-key PEM block; *kind = 8 (PKCS#8) or 1 (SEC1). */
static int pem_find_key(const char *pem, size_t len, const char **body, size_t *body_len, int *kind,
			struct err *err)
{
	static const char begin[] = "-----BEGIN ", dashes[] = "-----", end[] = "-----END ";
	const char *p = pem, *stop = pem + len;
	for (;;) {
		const char *b = find_bytes(p, (size_t)(stop - p), begin, sizeof begin - 1);
		if (!b)
			return err_set(err, "no private key PEM block found");
		const char *label = b + sizeof begin - 1;
		const char *le =
		    find_bytes(label, (size_t)(stop - label), dashes, sizeof dashes - 1);
		if (!le || memchr(label, '\n', (size_t)(le - label)))
			return err_set(err, "malformed PEM BEGIN line");
		size_t label_len = (size_t)(le - label);
		const char *bs = le + sizeof dashes - 1;
		/* The END line must repeat the label. */
		const char *e = find_bytes(bs, (size_t)(stop - bs), end, sizeof end - 1);
		if (!e)
			return err_set(err, "PEM block without END line");
		const char *el = e + sizeof end - 1;
		if ((size_t)(stop - el) < label_len + sizeof dashes - 1 ||
		    memcmp(el, label, label_len) != 0 ||
		    memcmp(el + label_len, dashes, sizeof dashes - 1) != 0)
			return err_set(err, "PEM END line does not match BEGIN");
#define LABEL_IS(s) (label_len == sizeof(s) - 1 && memcmp(label, s, label_len) == 0)
		if (LABEL_IS("ENCRYPTED PRIVATE KEY"))
			return err_set(err, "encrypted private keys are not supported");
		if (LABEL_IS("PRIVATE KEY") || LABEL_IS("EC PRIVATE KEY")) {
			*kind = LABEL_IS("PRIVATE KEY") ? 8 : 1;
			*body = bs;
			*body_len = (size_t)(e - bs);
			/* RFC 1421 headers ("Proc-Type: 4,ENCRYPTED") mean an encrypted body. */
			if (memchr(bs, ':', *body_len))
				return err_set(err, "encrypted private keys are not supported");
			return 0;
		}
#undef LABEL_IS
		p = el + label_len + sizeof dashes - 1; /* skip e.g. "EC PARAMETERS" */
	}
}

int p256_scalar_from_pem(const char *pem, size_t len, uint8_t scalar[32], struct err *err)
{
	if (!pem || len == 0)
		return err_set(err, "private key PEM: empty input");
	int rc = -1, kind = 0;
	uint8_t der_buf[PEM_DER_MAX], want[P256_POINT_LEN];
	size_t der_len = 0, body_len = 0;
	const char *body = NULL;
	struct parsed_key k = {0};
	struct reader r;

	if (pem_find_key(pem, len, &body, &body_len, &kind, err) < 0)
		goto fail;
	if (base64_decode(body, body_len, der_buf, sizeof der_buf, &der_len, BASE64_SKIP_WS) < 0) {
		err_set(err, "bad base64 or key too large");
		goto fail;
	}
	/* spec: kms-protocol §5.3 layout is one case of the PKCS#8 branch. */
	reader_init(&r, der_buf, der_len);
	if ((kind == 8 ? parse_pkcs8(&r, &k, err) : parse_sec1(&r, &k, err)) < 0)
		goto fail;
	if (rd_left(&r)) {
		err_set(err, "trailing data after the key");
		goto fail;
	}
	if (!k.has_curve) {
		err_set(err, "EC private key without curve parameters");
		goto fail;
	}
	if (!p256_scalar_valid(k.scalar)) {
		err_set(err, "scalar out of range");
		goto fail;
	}
	if (p256_public_point(k.scalar, want, err) < 0)
		goto fail;
	/* A file whose embedded public key is not that of its scalar is corrupt. */
	if (k.has_point && memcmp(want, k.point, sizeof want) != 0) {
		err_set(err, "public key does not match the private key");
		goto fail;
	}
	memcpy(scalar, k.scalar, 32);
	rc = 0;
	goto out;
fail:
	err_wrap(err, "private key PEM");
	secret_wipe(scalar, 32);
out:
	secret_wipe(der_buf, sizeof der_buf);
	secret_wipe(&k, sizeof k);
	return rc;
}

/* 1 when point is an uncompressed encoding of a point on P-256. */
static int point_on_curve(const uint8_t point[P256_POINT_LEN])
{
	if (point[0] != 0x04)
		return 0;
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	EC_POINT *pt = g ? EC_POINT_new(g) : NULL;
	/* oct2point rejects coordinates >= p and points not on the curve. */
	int ok = pt && EC_POINT_oct2point(g, pt, point, P256_POINT_LEN, NULL) == 1;
	EC_POINT_free(pt);
	EC_GROUP_free(g);
	ERR_clear_error();
	return ok;
}

int p256_spki_der(const uint8_t point[P256_POINT_LEN], uint8_t out[P256_SPKI_LEN])
{
	if (!point_on_curve(point))
		return -1;
	memcpy(out, spki_head, sizeof spki_head);
	memcpy(out + sizeof spki_head, point, P256_POINT_LEN);
	return 0;
}

EVP_PKEY *p256_evp_from_scalar(const uint8_t scalar[32], struct err *err)
{
	uint8_t point[P256_POINT_LEN];
	if (p256_public_point(scalar, point, err) < 0) {
		err_wrap(err, "P-256 key object");
		return NULL;
	}
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	OSSL_PARAM *params = NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	/* A BN_secure_new value makes the param builder keep its copy in the wiped secure block. */
	BIGNUM *d = BN_secure_new();
	if (!bld || !d || !BN_bin2bn(scalar, 32, d) ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, P256_GROUP_NAME, 0) !=
		1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point) !=
		1 ||
	    !(params = OSSL_PARAM_BLD_to_param(bld))) {
		err_openssl(err, "P-256 key object: parameter building failed");
		goto out;
	}
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_KEYPAIR, params) != 1) {
		err_openssl(err, "P-256 key object: import failed");
		EVP_PKEY_free(pk);
		pk = NULL;
		goto out;
	}
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(d);
	return pk;
}
