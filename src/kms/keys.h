/*
 * keys.h — the KMS root keys: the one module that holds them.
 *
 * Loaded once at start from cert_dir (kms-protocol §13) and read-only after;
 * handlers ask this module for derived material and never see root key
 * bytes. keys_free wipes everything.
 */
#ifndef KMS_KEYS_H
#define KMS_KEYS_H

#include "crypto/cert.h"
#include "crypto/k256.h"
#include "crypto/p256.h"
#include "util/buf.h"
#include "util/err.h"

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

struct kms_keys {
	/* secret: both in one locked page left out of core dumps (vault) */
	uint8_t *root_ca_scalar; /* 32 bytes */
	uint8_t *k256_scalar;	 /* 32 bytes */
	void *vault;
	uint8_t k256_pub[K256_PUB_LEN];
	uint8_t ca_spki[P256_SPKI_LEN];
	char *root_ca_pem;     /* root-ca.crt as loaded */
	char *tmp_ca_cert_pem; /* tmp-ca.crt verbatim */
	char *tmp_ca_key_pem;  /* tmp-ca.key verbatim (secret) */
	size_t tmp_ca_key_len;
	X509 *root_ca;
};

int keys_load(struct kms_keys *k, const char *cert_dir, struct err *err);
void keys_free(struct kms_keys *k);

/* GetAppEnvEncryptPubKey material (§4.3): X25519 public key of the app's env
 * secret and the legacy and v1 signatures by the root k256 key. */
int keys_env_pubkey(const struct kms_keys *k, const uint8_t *app_id, size_t app_id_len,
		    uint64_t timestamp, uint8_t pub[32], uint8_t sig[K256_SIG_LEN],
		    uint8_t sig_v1[K256_SIG_LEN], struct err *err);

/* The keys GetAppKey releases to one app instance (§4.1, §6.2). Secret:
 * wipe with keys_app_wipe. */
struct app_keys {
	uint8_t disk_crypt_key[32];
	uint8_t env_crypt_key[32];
	uint8_t k256_key[32];
	uint8_t k256_signature[K256_SIG_LEN];
};

int keys_app(const struct kms_keys *k, const uint8_t *app_id, size_t app_id_len,
	     const uint8_t *instance_id, size_t instance_id_len, struct app_keys *out,
	     struct err *err);
void keys_app_wipe(struct app_keys *a);

/* GetKmsKey's root-key handover (§4.2): the root CA key as PKCS#8 PEM
 * (§5.3 layout) appended to ca_key_pem (use a secret buf) and the root k256
 * scalar. The caller wipes both. */
int keys_handover(const struct kms_keys *k, struct buf *ca_key_pem, uint8_t k256_key[32],
		  struct err *err);

/*
 * SignCert (§7.4, §7.6): derives the App CA of app_id, issues it afresh under
 * the root CA, and issues leaf (its app_id must already be set by the caller
 * from the verified BootInfo) for leaf_point under that App CA. Both
 * certificates are returned (caller frees); the App CA key is wiped.
 */
int keys_issue_app_cert(const struct kms_keys *k, const uint8_t *app_id, size_t app_id_len,
			const struct cert_params *leaf, const uint8_t leaf_point[P256_POINT_LEN],
			int64_t now, X509 **app_ca_out, X509 **leaf_out, struct err *err);

#endif
