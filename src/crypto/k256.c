/*
 * k256.c — secp256k1 keys and recoverable ECDSA on libsecp256k1 (k256.h).
 *
 * One signing context per process, created lazily under pthread_once and
 * blinded with secp256k1_context_randomize (OpenSSL RAND seed). Nonces are the
 * library default, RFC 6979 HMAC-SHA256 over (key, digest mod n) with no extra
 * data; the library always emits low-S with the matching recovery id.
 * Never puts key bytes in an error message; wipes every temporary scalar.
 * spec: kms-protocol §5.4 (app key), §6.1 (RecSign), §6.2, §4.3.
 */
#include "crypto/k256.h"

#include "crypto/kdf.h"
#include "crypto/keccak.h"
#include "util/secret.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <string.h>

static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;
static secp256k1_context *sign_ctx;

static void ctx_init(void)
{
	uint8_t seed[32];
	secp256k1_context *c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	if (!c)
		return;
	if (RAND_priv_bytes(seed, sizeof seed) != 1 || !secp256k1_context_randomize(c, seed)) {
		secp256k1_context_destroy(c);
		c = NULL;
	}
	secret_wipe(seed, sizeof seed);
	sign_ctx = c;
}

/* The shared context, or NULL (with err set) if it could not be created. */
static const secp256k1_context *ctx_get(struct err *err)
{
	if (pthread_once(&ctx_once, ctx_init) != 0 || !sign_ctx) {
		err_set(err, "secp256k1 context initialisation failed");
		return NULL;
	}
	return sign_ctx;
}

int k256_scalar_valid(const uint8_t scalar[32])
{
	/* Pure scalar range check (0 < s < n); the static context suffices. */
	return secp256k1_ec_seckey_verify(secp256k1_context_static, scalar) == 1;
}

int k256_generate(uint8_t scalar[32], struct err *err)
{
	for (int tries = 0; tries < 64; tries++) {
		if (RAND_priv_bytes(scalar, 32) != 1) {
			secret_wipe(scalar, 32);
			return err_set(err, "secp256k1 key generation: random source failed");
		}
		if (k256_scalar_valid(scalar))
			return 0;
	}
	secret_wipe(scalar, 32);
	return err_set(err, "secp256k1 key generation: no valid scalar drawn");
}

static int pubkey_serialized(const uint8_t scalar[32], uint8_t *out, size_t out_len, unsigned flags,
			     struct err *err)
{
	const secp256k1_context *c = ctx_get(err);
	if (!c)
		return -1;
	if (!k256_scalar_valid(scalar))
		return err_set(err, "invalid secp256k1 private key: scalar out of range");
	secp256k1_pubkey pk;
	size_t len = out_len;
	if (!secp256k1_ec_pubkey_create(c, &pk, scalar) ||
	    !secp256k1_ec_pubkey_serialize(c, out, &len, &pk, flags) || len != out_len)
		return err_set(err, "secp256k1 public key computation failed");
	return 0;
}

int k256_pubkey(const uint8_t scalar[32], uint8_t pub[K256_PUB_LEN], struct err *err)
{
	return pubkey_serialized(scalar, pub, K256_PUB_LEN, SECP256K1_EC_COMPRESSED, err);
}

int k256_pubkey_uncompressed(const uint8_t scalar[32], uint8_t pub[K256_PUB_UNCOMPRESSED_LEN],
			     struct err *err)
{
	return pubkey_serialized(scalar, pub, K256_PUB_UNCOMPRESSED_LEN, SECP256K1_EC_UNCOMPRESSED,
				 err);
}

/* spec: kms-protocol §6.1 */
int k256_sign_digest(const uint8_t scalar[32], const uint8_t digest[32], uint8_t sig[K256_SIG_LEN],
		     struct err *err)
{
	const secp256k1_context *c = ctx_get(err);
	if (!c)
		return -1;
	if (!k256_scalar_valid(scalar))
		return err_set(err, "secp256k1 sign: invalid private key");
	secp256k1_ecdsa_recoverable_signature rs;
	int recid = -1;
	/* NULL nonce function = secp256k1_nonce_function_default (RFC 6979), no extra data. */
	if (!secp256k1_ecdsa_sign_recoverable(c, &rs, digest, scalar, NULL, NULL) ||
	    !secp256k1_ecdsa_recoverable_signature_serialize_compact(c, sig, &recid, &rs) ||
	    recid < 0 || recid > 3) {
		secret_wipe(&rs, sizeof rs);
		return err_set(err, "secp256k1 sign failed");
	}
	sig[64] = (uint8_t)recid;
	return 0;
}

int k256_sign_keccak(const uint8_t scalar[32], const void *msg, size_t len,
		     uint8_t sig[K256_SIG_LEN], struct err *err)
{
	uint8_t digest[32];
	keccak256(msg, len, digest);
	return k256_sign_digest(scalar, digest, sig, err);
}

int k256_recover(const uint8_t sig[K256_SIG_LEN], const uint8_t digest[32],
		 uint8_t pub[K256_PUB_LEN], struct err *err)
{
	const secp256k1_context *c = ctx_get(err);
	if (!c)
		return -1;
	if (sig[64] > 3)
		return err_set(err, "secp256k1 recover: recovery id %u out of range",
			       (unsigned)sig[64]);
	secp256k1_ecdsa_recoverable_signature rs;
	secp256k1_pubkey pk;
	size_t len = K256_PUB_LEN;
	if (!secp256k1_ecdsa_recoverable_signature_parse_compact(c, &rs, sig, sig[64]))
		return err_set(err, "secp256k1 recover: malformed signature");
	if (!secp256k1_ecdsa_recover(c, &pk, &rs, digest))
		return err_set(err, "secp256k1 recover: no public key for this signature");
	if (!secp256k1_ec_pubkey_serialize(c, pub, &len, &pk, SECP256K1_EC_COMPRESSED) ||
	    len != K256_PUB_LEN)
		return err_set(err, "secp256k1 recover: public key encoding failed");
	return 0;
}

/* spec: kms-protocol §5.4, §6.2 */
int k256_derive_app_key(const uint8_t root[32], const uint8_t *app_id, size_t app_id_len,
			uint8_t out[32], struct err *err)
{
	if (!app_id && app_id_len)
		return err_set(err, "app k256 key: missing app_id");
	if (!k256_scalar_valid(root))
		return err_set(err, "app k256 key: invalid root key");
	struct kdf_ctx ctx[2] = {{app_id, app_id_len}, KDF_STR("app-key")};
	if (kdf_derive_key(root, 32, ctx, 2, out, 32, err) < 0)
		return err_wrap(err, "app k256 key");
	if (!k256_scalar_valid(out)) {
		secret_wipe(out, 32);
		return err_set(err, "app k256 key: derived bytes are not a valid secp256k1 scalar");
	}
	return 0;
}

/* Sign K256(prefix || ":" || app_id || [u64_be ts] || tail); spec: kms-protocol §4.3, §6.2 */
static int sign_tagged(const uint8_t root[32], const char *prefix, const uint8_t *app_id,
		       size_t app_id_len, const uint64_t *timestamp, const uint8_t *tail,
		       size_t tail_len, uint8_t sig[K256_SIG_LEN], struct err *err)
{
	if (!app_id && app_id_len)
		return err_set(err, "%s signature: missing app_id", prefix);
	struct keccak_ctx kc;
	uint8_t digest[32];
	keccak256_init(&kc);
	keccak256_update(&kc, prefix, strlen(prefix));
	keccak256_update(&kc, ":", 1);
	keccak256_update(&kc, app_id, app_id_len);
	if (timestamp) {
		uint8_t be[8];
		for (int i = 0; i < 8; i++)
			be[i] = (uint8_t)(*timestamp >> (56 - 8 * i));
		keccak256_update(&kc, be, sizeof be);
	}
	keccak256_update(&kc, tail, tail_len);
	keccak256_final(&kc, digest);
	if (k256_sign_digest(root, digest, sig, err) < 0)
		return err_wrap(err, "%s signature", prefix);
	return 0;
}

int k256_sign_app_key(const uint8_t root[32], const uint8_t *app_id, size_t app_id_len,
		      const uint8_t app_pub[K256_PUB_LEN], uint8_t sig[K256_SIG_LEN],
		      struct err *err)
{
	return sign_tagged(root, "dstack-kms-issued", app_id, app_id_len, NULL, app_pub,
			   K256_PUB_LEN, sig, err);
}

int k256_sign_env_pubkey(const uint8_t root[32], const uint8_t *app_id, size_t app_id_len,
			 const uint8_t pubkey[32], uint8_t sig[K256_SIG_LEN], struct err *err)
{
	return sign_tagged(root, "dstack-env-encrypt-pubkey", app_id, app_id_len, NULL, pubkey, 32,
			   sig, err);
}

int k256_sign_env_pubkey_v1(const uint8_t root[32], const uint8_t *app_id, size_t app_id_len,
			    uint64_t timestamp, const uint8_t pubkey[32], uint8_t sig[K256_SIG_LEN],
			    struct err *err)
{
	return sign_tagged(root, "dstack-env-encrypt-pubkey", app_id, app_id_len, &timestamp,
			   pubkey, 32, sig, err);
}
