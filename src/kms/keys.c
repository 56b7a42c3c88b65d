/*
 * keys.c — loading and using the root keys (keys.h).
 * spec: kms-protocol §1 step 4, §4.1–§4.3, §5, §6.2, §7.4, §7.6, §13. Never logs or returns root
 * key bytes; every temporary copy of secret material is wiped.
 */
#include "kms/keys.h"

#include "crypto/cert.h"
#include "crypto/kdf.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/secret.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PEM (64 * 1024)

static int read_text(const char *dir, const char *name, struct buf *out, struct err *err)
{
	char path[4096];
	if (fs_join(path, sizeof path, dir, name) < 0)
		return err_set(err, "path too long: %s/%s", dir, name);
	return fs_read_file(path, MAX_PEM, out, err);
}

static char *take_str(struct buf *b)
{
	char *s = malloc(b->len + 1);
	if (s) {
		memcpy(s, buf_str(b), b->len);
		s[b->len] = 0;
	}
	buf_free(b);
	return s;
}

int keys_load(struct kms_keys *k, const char *dir, struct err *err)
{
	memset(k, 0, sizeof *k);
	int rc = -1;
	struct buf b = BUF_INIT, sk;
	buf_init_secret(&sk);
	uint8_t point[P256_POINT_LEN], cert_point[P256_POINT_LEN];
	if (!(k->vault = secret_page_alloc(64, err)))
		goto out;
	k->root_ca_scalar = k->vault;
	k->k256_scalar = (uint8_t *)k->vault + 32;

	TRY_OUT(read_text(dir, "root-ca.crt", &b, err));
	if (!(k->root_ca = cert_from_pem(buf_str(&b), b.len, err))) {
		err_wrap(err, "root-ca.crt");
		goto out;
	}
	k->root_ca_pem = take_str(&b);

	TRY_OUT(read_text(dir, "root-ca.key", &sk, err));
	if (p256_scalar_from_pem(buf_str(&sk), sk.len, k->root_ca_scalar, err) < 0) {
		err_wrap(err, "root-ca.key");
		goto out;
	}
	buf_free(&sk);
	TRY_OUT(p256_public_point(k->root_ca_scalar, point, err));
	TRY_OUT(cert_public_point(k->root_ca, cert_point, err));
	if (memcmp(point, cert_point, sizeof point) != 0) {
		err_set(err,
			"CA certificate does not match private key (root-ca.crt vs "
			"root-ca.key in %s)",
			dir);
		goto out;
	}
	TRY_OUT(p256_spki_der(point, k->ca_spki));

	TRY_OUT(read_text(dir, "root-k256.key", &sk, err));
	if (sk.len != 32) {
		err_set(err, "root-k256.key in %s must be exactly 32 bytes, found %zu", dir,
			sk.len);
		goto out;
	}
	memcpy(k->k256_scalar, sk.p, 32);
	buf_free(&sk);
	if (!k256_scalar_valid(k->k256_scalar)) {
		err_set(err, "root-k256.key in %s is not a valid secp256k1 key", dir);
		goto out;
	}
	TRY_OUT(k256_pubkey(k->k256_scalar, k->k256_pub, err));

	TRY_OUT(read_text(dir, "tmp-ca.crt", &b, err));
	k->tmp_ca_cert_pem = take_str(&b);
	TRY_OUT(read_text(dir, "tmp-ca.key", &sk, err));
	k->tmp_ca_key_len = sk.len;
	k->tmp_ca_key_pem = malloc(sk.len + 1);
	if (!k->tmp_ca_key_pem) {
		err_set(err, "out of memory");
		goto out;
	}
	memcpy(k->tmp_ca_key_pem, buf_str(&sk), sk.len + 1);
	if (!k->root_ca_pem || !k->tmp_ca_cert_pem) {
		err_set(err, "out of memory");
		goto out;
	}
	rc = 0;
out:
	buf_free(&b);
	buf_free(&sk);
	if (rc < 0)
		keys_free(k);
	return rc;
}

void keys_free(struct kms_keys *k)
{
	secret_page_free(k->vault, 64);
	free(k->root_ca_pem);
	free(k->tmp_ca_cert_pem);
	if (k->tmp_ca_key_pem)
		secret_free(k->tmp_ca_key_pem, k->tmp_ca_key_len + 1);
	if (k->root_ca)
		X509_free(k->root_ca);
	memset(k, 0, sizeof *k);
}

int keys_env_pubkey(const struct kms_keys *k, const uint8_t *app_id, size_t app_id_len,
		    uint64_t timestamp, uint8_t pub[32], uint8_t sig[K256_SIG_LEN],
		    uint8_t sig_v1[K256_SIG_LEN], struct err *err)
{
	if (app_id_len != 20)
		return err_set(err, "app_id must be 20 bytes");
	uint8_t secret[32];
	int rc = -1;
	TRY_OUT(kdf_app_env_secret(k->root_ca_scalar, app_id, app_id_len, secret, err));
	TRY_OUT(kdf_x25519_public(secret, pub, err));
	TRY_OUT(k256_sign_env_pubkey(k->k256_scalar, app_id, app_id_len, pub, sig, err));
	TRY_OUT(k256_sign_env_pubkey_v1(k->k256_scalar, app_id, app_id_len, timestamp, pub, sig_v1,
					err));
	rc = 0;
out:
	secret_wipe(secret, sizeof secret);
	return rc;
}

int keys_app(const struct kms_keys *k, const uint8_t *app_id, size_t app_id_len,
	     const uint8_t *instance_id, size_t instance_id_len, struct app_keys *out,
	     struct err *err)
{
	uint8_t pub[K256_PUB_LEN];
	memset(out, 0, sizeof *out);
	if (app_id_len != 20)
		return err_set(err, "app_id must be 20 bytes");
	if (kdf_app_disk_key(k->root_ca_scalar, app_id, app_id_len, instance_id, instance_id_len,
			     out->disk_crypt_key, err) < 0 ||
	    kdf_app_env_secret(k->root_ca_scalar, app_id, app_id_len, out->env_crypt_key, err) <
		0 ||
	    k256_derive_app_key(k->k256_scalar, app_id, app_id_len, out->k256_key, err) < 0 ||
	    k256_pubkey(out->k256_key, pub, err) < 0 ||
	    k256_sign_app_key(k->k256_scalar, app_id, app_id_len, pub, out->k256_signature, err) <
		0) {
		keys_app_wipe(out);
		return -1;
	}
	return 0;
}

void keys_app_wipe(struct app_keys *a)
{
	secret_wipe(a, sizeof *a);
}

int keys_handover(const struct kms_keys *k, struct buf *ca_key_pem, uint8_t k256_key[32],
		  struct err *err)
{
	TRY(p256_pkcs8_pem(k->root_ca_scalar, ca_key_pem, err));
	memcpy(k256_key, k->k256_scalar, 32);
	return 0;
}

int keys_issue_app_cert(const struct kms_keys *k, const uint8_t *app_id, size_t app_id_len,
			const struct cert_params *leaf, const uint8_t leaf_point[P256_POINT_LEN],
			int64_t now, X509 **app_ca_out, X509 **leaf_out, struct err *err)
{
	uint8_t ca_scalar[32], ca_point[P256_POINT_LEN];
	X509 *ca = NULL, *lf = NULL;
	int rc = -1;
	*app_ca_out = *leaf_out = NULL;
	if (app_id_len != 20)
		return err_set(err, "app_id must be 20 bytes");
	TRY_OUT(kdf_app_ca_key(k->root_ca_scalar, app_id, app_id_len, ca_scalar, err));
	TRY_OUT(p256_public_point(ca_scalar, ca_point, err));
	struct cert_params cp = {
	    .org = "Dstack",
	    .subject = "Dstack App CA",
	    .is_ca = 1,
	    .path_len = 0,
	    .app_id = {app_id, app_id_len},
	    .usage = "app:ca",
	};
	if (!(ca = cert_issue(&cp, ca_point, k->root_ca_scalar, k->root_ca, now, err))) {
		err_wrap(err, "failed to issue the app CA");
		goto out;
	}
	if (!(lf = cert_issue(leaf, leaf_point, ca_scalar, ca, now, err))) {
		err_wrap(err, "failed to issue the certificate");
		goto out;
	}
	*app_ca_out = ca;
	*leaf_out = lf;
	ca = lf = NULL;
	rc = 0;
out:
	secret_wipe(ca_scalar, sizeof ca_scalar);
	X509_free(ca);
	X509_free(lf);
	return rc;
}
