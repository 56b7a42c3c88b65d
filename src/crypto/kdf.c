/*
 * kdf.c — key derivation bit-exact with upstream (kdf.h).
 *
 * derive_key is OpenSSL's EVP_KDF "HKDF" (SHA-256, salt "RATLS", info = the
 * contexts concatenated with no separators). Child P-256 keys are the HKDF
 * output taken as a big-endian scalar, rejected (never reduced) when out of
 * range; DH secrets hash the exact 138-byte PKCS#8 DER of the child key.
 * Every derived byte is wiped when no longer needed; no key bytes in errors.
 * spec: kms-protocol §5.1–§5.4, §4.1, §4.3, §7.4.
 */
#include "crypto/kdf.h"

#include "crypto/p256.h"
#include "util/buf.h"
#include "util/secret.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

static const char kdf_salt[] = "RATLS"; /* spec: kms-protocol §5.1 */

static pthread_once_t hkdf_once = PTHREAD_ONCE_INIT;
static EVP_KDF *hkdf_alg;

static void hkdf_fetch(void)
{
	hkdf_alg = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
}

/* spec: kms-protocol §5.1 */
int kdf_derive_key(const uint8_t *ikm, size_t ikm_len, const struct kdf_ctx *ctx, size_t nctx,
		   uint8_t *out, size_t out_len, struct err *err)
{
	if ((!ikm && ikm_len) || (!ctx && nctx) || !out)
		return err_set(err, "derive_key: missing input");
	if (out_len == 0 || out_len > 255 * 32)
		return err_set(err, "derive_key: output length %zu out of range", out_len);
	if (pthread_once(&hkdf_once, hkdf_fetch) != 0 || !hkdf_alg)
		return err_openssl(err, "derive_key: HKDF unavailable");

	int rc = -1;
	EVP_KDF_CTX *kctx = NULL;
	struct buf info = BUF_INIT;
	for (size_t i = 0; i < nctx; i++) {
		if (!ctx[i].p && ctx[i].len) {
			err_set(err, "derive_key: context %zu missing", i);
			goto out;
		}
		/* buf_append checks the length sum for overflow. */
		if (buf_append(&info, ctx[i].p, ctx[i].len) < 0) {
			err_set(err, "derive_key: context too large");
			goto out;
		}
	}
	kctx = EVP_KDF_CTX_new(hkdf_alg);
	if (!kctx) {
		err_openssl(err, "derive_key: out of memory");
		goto out;
	}
	/* OpenSSL copies the inputs; the casts only satisfy the non-const OSSL_PARAM API. */
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)kdf_salt,
					      sizeof kdf_salt - 1),
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len),
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.p ? info.p : (uint8_t *)"",
					      info.len),
	    OSSL_PARAM_construct_end(),
	};
	if (EVP_KDF_derive(kctx, out, out_len, params) != 1) {
		secret_wipe(out, out_len);
		err_openssl(err, "derive_key: HKDF failed");
		goto out;
	}
	rc = 0;
out:
	EVP_KDF_CTX_free(kctx); /* clears the copied key material */
	buf_free(&info);
	return rc;
}

/* spec: kms-protocol §5.2 step 2 */
int kdf_p256_scalar_from_okm(const uint8_t okm[32], uint8_t child[32], struct err *err)
{
	if (!p256_scalar_valid(okm)) {
		secret_wipe(child, 32);
		return err_set(err, "derived P-256 scalar is zero or not below the group order");
	}
	if (child != okm)
		memcpy(child, okm, 32);
	return 0;
}

/* spec: kms-protocol §5.2 */
int kdf_derive_p256(const uint8_t parent[32], const struct kdf_ctx *ctx, size_t nctx,
		    uint8_t child[32], struct err *err)
{
	if (!p256_scalar_valid(parent))
		return err_set(err, "derive_p256_key_pair: invalid parent key");
	uint8_t okm[32];
	int rc = kdf_derive_key(parent, 32, ctx, nctx, okm, sizeof okm, err);
	if (rc == 0)
		rc = kdf_p256_scalar_from_okm(okm, child, err);
	secret_wipe(okm, sizeof okm);
	if (rc < 0)
		return err_wrap(err, "derive_p256_key_pair");
	return 0;
}

/* spec: kms-protocol §5.3 */
int kdf_derive_dh_secret(const uint8_t parent[32], const struct kdf_ctx *ctx, size_t nctx,
			 uint8_t out[32], struct err *err)
{
	uint8_t child[32], der[P256_PKCS8_LEN];
	unsigned int md_len = 0;
	int rc = -1;
	if (kdf_derive_p256(parent, ctx, nctx, child, err) < 0 ||
	    p256_pkcs8_der(child, der, err) < 0) {
		err_wrap(err, "derive_dh_secret");
		goto out;
	}
	if (EVP_Digest(der, sizeof der, out, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32) {
		secret_wipe(out, 32);
		err_openssl(err, "derive_dh_secret: SHA-256 failed");
		goto out;
	}
	rc = 0;
out:
	secret_wipe(child, sizeof child);
	secret_wipe(der, sizeof der);
	return rc;
}

/* RFC 7748 X25519(secret, 9); OpenSSL clamps a copy of the scalar internally. */
int kdf_x25519_public(const uint8_t secret[32], uint8_t pub[32], struct err *err)
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, secret, 32);
	if (!pk)
		return err_openssl(err, "X25519 public key: key import failed");
	size_t len = 32;
	int ok = EVP_PKEY_get_raw_public_key(pk, pub, &len) == 1 && len == 32;
	EVP_PKEY_free(pk);
	if (!ok)
		return err_openssl(err, "X25519 public key: computation failed");
	return 0;
}

static int check_id(const uint8_t *id, size_t len, const char *what, struct err *err)
{
	if (!id && len)
		return err_set(err, "%s missing", what);
	return 0;
}

/* spec: kms-protocol §4.1, §5.4 */
int kdf_app_disk_key(const uint8_t root_ca[32], const uint8_t *app_id, size_t app_id_len,
		     const uint8_t *instance_id, size_t instance_id_len, uint8_t out[32],
		     struct err *err)
{
	if (check_id(app_id, app_id_len, "app_id", err) < 0 ||
	    check_id(instance_id, instance_id_len, "instance_id", err) < 0)
		return err_wrap(err, "disk_crypt_key");
	struct kdf_ctx ctx[3] = {
	    {app_id, app_id_len}, {instance_id, instance_id_len}, KDF_STR("app-disk-crypt-key")};
	if (kdf_derive_dh_secret(root_ca, ctx, 3, out, err) < 0)
		return err_wrap(err, "disk_crypt_key");
	return 0;
}

/* spec: kms-protocol §4.1, §4.3, §5.4 */
int kdf_app_env_secret(const uint8_t root_ca[32], const uint8_t *app_id, size_t app_id_len,
		       uint8_t out[32], struct err *err)
{
	if (check_id(app_id, app_id_len, "app_id", err) < 0)
		return err_wrap(err, "env_crypt_key");
	struct kdf_ctx ctx[2] = {{app_id, app_id_len}, KDF_STR("env-encrypt-key")};
	if (kdf_derive_dh_secret(root_ca, ctx, 2, out, err) < 0)
		return err_wrap(err, "env_crypt_key");
	return 0;
}

/* spec: kms-protocol §5.4, §7.4 */
int kdf_app_ca_key(const uint8_t root_ca[32], const uint8_t *app_id, size_t app_id_len,
		   uint8_t out[32], struct err *err)
{
	if (check_id(app_id, app_id_len, "app_id", err) < 0)
		return err_wrap(err, "app CA key");
	struct kdf_ctx ctx[2] = {{app_id, app_id_len}, KDF_STR("app-ca")};
	if (kdf_derive_p256(root_ca, ctx, 2, out, err) < 0)
		return err_wrap(err, "app CA key");
	return 0;
}
