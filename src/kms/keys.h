/*
 * keys.h — the KMS root keys: the one module that holds them.
 *
 * Loaded once at start from cert_dir (kms-protocol §13) and read-only after;
 * handlers ask this module for derived material and never see root key
 * bytes. keys_free wipes everything.
 */
#ifndef KMS_KEYS_H
#define KMS_KEYS_H

#include "crypto/k256.h"
#include "crypto/p256.h"
#include "util/err.h"

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

struct kms_keys {
	uint8_t root_ca_scalar[32]; /* secret */
	uint8_t k256_scalar[32];    /* secret */
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

#endif
