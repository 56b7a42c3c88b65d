/*
 * test_k256.c — secp256k1 keys and recoverable signatures against the upstream
 * SDK fixture (kms-protocol §6.1), the independently computed §6.2 vectors and
 * the well-known RFC 6979 key=1 / "Satoshi Nakamoto" signature; plus recovery
 * round trips, tampering, low-S and invalid-input rejection.
 */
#include "harness.h"

#include "crypto/k256.h"
#include "crypto/keccak.h"
#include "util/err.h"
#include "util/hex.h"

#include <openssl/evp.h>
#include <string.h>

static const char order_hex[] = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
static const char half_order_hex[] =
    "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0";
static const char g_compressed_hex[] =
    "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

static const uint8_t app_id_11[20] = {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
				      0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11};

static void root_01(uint8_t root[32])
{
	memset(root, 0x01, 32);
}

TEST(test_k256_scalar_valid_edges)
{
	uint8_t s[32];
	memset(s, 0, 32);
	CHECK(!k256_scalar_valid(s));
	s[31] = 1;
	CHECK(k256_scalar_valid(s));
	CHECK(hex_decode_fixed(order_hex, s, 32) == 0);
	CHECK(!k256_scalar_valid(s)); /* n */
	s[31] = 0x40;
	CHECK(k256_scalar_valid(s)); /* n - 1 */
	memset(s, 0xff, 32);
	CHECK(!k256_scalar_valid(s));
}

TEST(test_k256_rfc6979_satoshi_vector)
{
	/* key = 1, digest = SHA-256("Satoshi Nakamoto"), low-S form. */
	struct err e = {0};
	uint8_t key[32] = {0}, digest[32], sig[K256_SIG_LEN], pub[K256_PUB_LEN];
	key[31] = 1;
	unsigned int dl = 0;
	CHECK(EVP_Digest("Satoshi Nakamoto", 16, digest, &dl, EVP_sha256(), NULL) == 1);
	CHECK_OK(k256_sign_digest(key, digest, sig, &e), &e);
	CHECK_HEX(sig, 32, "934b1ea10a4b3c1757e2b0c017d0b6143ce3c9a7e6a4a49860d7a6ab210ee3d8");
	CHECK_HEX(sig + 32, 32, "2442ce9d2b916064108014783e923ec36b49743e2ffa1c4496f01a512aafd9e5");
	CHECK(sig[64] <= 1);
	CHECK_OK(k256_recover(sig, digest, pub, &e), &e);
	CHECK_HEX(pub, sizeof pub, g_compressed_hex);
}

TEST(test_k256_sdk_fixture_recovers_to_signer)
{
	/* spec: kms-protocol §6.1 (sdk/python/tests/test_verify_env_encrypt_public_key.py). */
	struct err e = {0};
	uint8_t msg[26 + 20 + 32], sig[K256_SIG_LEN], digest[32], pub[K256_PUB_LEN];
	memcpy(msg, "dstack-env-encrypt-pubkey:", 26);
	memset(msg + 26, 0, 20);
	CHECK(hex_decode_fixed("e33a1832c6562067ff8f844a61e51ad051f1180b66ec2551fb0251735f3ee90a",
			       msg + 46, 32) == 0);
	CHECK(hex_decode_fixed("8542c49081fbf4e03f62034f13fbf70630bdf256a53032e38465a27c36fd6bed7a"
			       "5e7111652004aef37f7fd92fbfc1285212c4ae6a6154203a48f5e16cad2cef00",
			       sig, sizeof sig) == 0);
	keccak256(msg, sizeof msg, digest);
	CHECK_OK(k256_recover(sig, digest, pub, &e), &e);
	CHECK_HEX(pub, sizeof pub,
		  "0217610d74cbd39b6143842c6d8bc310d79da1d82cc9d17f8876376221eda0c38f");
}

TEST(test_k256_app_key_and_signature_match_spec_vectors)
{
	struct err e = {0};
	uint8_t root[32], pub[K256_PUB_LEN], app[32], app_pub[K256_PUB_LEN], sig[K256_SIG_LEN];
	root_01(root);
	CHECK_OK(k256_pubkey(root, pub, &e), &e);
	CHECK_HEX(pub, sizeof pub,
		  "031b84c5567b126440995d3ed5aaba0565d71e1834604819ff9c17f5e9d5dd078f");
	CHECK_OK(k256_derive_app_key(root, app_id_11, 20, app, &e), &e);
	CHECK_HEX(app, 32, "88fa429170ad091e0f87b335ba19b1729610ac25441728807ce3325161846baf");
	CHECK_OK(k256_pubkey(app, app_pub, &e), &e);
	CHECK_HEX(app_pub, sizeof app_pub,
		  "02a594d1e64985d03463fc26e666eaf6a82b6c75834ca8c25810b25069b401ebc3");
	CHECK_OK(k256_sign_app_key(root, app_id_11, 20, app_pub, sig, &e), &e);
	CHECK_HEX(sig, sizeof sig,
		  "9ec2e6deec77b3584de4c6406034b39a4e4a04643cbf56655247774c1a15f03e73970201967d27"
		  "0928b41fec3cfdbb7538adc5d4fbd328c10c6927621024f00800");
	/* The same signature through the generic message path. */
	uint8_t msg[18 + 20 + 33], sig2[K256_SIG_LEN];
	memcpy(msg, "dstack-kms-issued:", 18);
	memcpy(msg + 18, app_id_11, 20);
	memcpy(msg + 38, app_pub, 33);
	CHECK_OK(k256_sign_keccak(root, msg, sizeof msg, sig2, &e), &e);
	CHECK(memcmp(sig, sig2, sizeof sig) == 0);
}

TEST(test_k256_env_pubkey_signatures_match_spec_vectors)
{
	struct err e = {0};
	uint8_t root[32], pk[32], sig[K256_SIG_LEN], digest[32], who[K256_PUB_LEN];
	root_01(root);
	memset(pk, 0xde, sizeof pk);
	CHECK_OK(k256_sign_env_pubkey(root, app_id_11, 20, pk, sig, &e), &e);
	CHECK_HEX(sig, sizeof sig,
		  "a1ba65d3a5761951b5e388332728f8e0756a44b96d371cd3f16e83e3bc4492cc0eb953435fcbd2"
		  "8f56e28b1a1771506673ec7ea5496d16cecbef180a6c3efc1700");
	CHECK_OK(k256_sign_env_pubkey_v1(root, app_id_11, 20, 1700000000, pk, sig, &e), &e);
	CHECK_HEX(sig, sizeof sig,
		  "da25be7d63e1c649cdb2a3388a6500b6351ef6ef8be03f356f56e8f28960f9274971924ae042e0"
		  "308297d85adf8ebe9b2f99d9ff6a8179883546217729d5e5ae00");
	/* v1 message layout: prefix ':' app_id u64_be(ts) public_key; recovers to the root. */
	uint8_t msg[26 + 20 + 8 + 32];
	memcpy(msg, "dstack-env-encrypt-pubkey:", 26);
	memcpy(msg + 26, app_id_11, 20);
	const uint8_t ts[8] = {0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00}; /* 1700000000 */
	memcpy(msg + 46, ts, 8);
	memcpy(msg + 54, pk, 32);
	keccak256(msg, sizeof msg, digest);
	CHECK_OK(k256_recover(sig, digest, who, &e), &e);
	CHECK_HEX(who, sizeof who,
		  "031b84c5567b126440995d3ed5aaba0565d71e1834604819ff9c17f5e9d5dd078f");
}

TEST(test_k256_sign_recover_roundtrip_is_low_s)
{
	struct err e = {0};
	uint8_t key[32], pub[K256_PUB_LEN], got[K256_PUB_LEN], sig[K256_SIG_LEN], half[32];
	CHECK(hex_decode_fixed(half_order_hex, half, 32) == 0);
	CHECK_OK(k256_generate(key, &e), &e);
	CHECK_OK(k256_pubkey(key, pub, &e), &e);
	for (int i = 0; i < 64; i++) {
		uint8_t digest[32];
		keccak256(&i, sizeof i, digest);
		CHECK_OK(k256_sign_digest(key, digest, sig, &e), &e);
		CHECK(memcmp(sig + 32, half, 32) <= 0); /* s <= n/2 */
		CHECK(sig[64] <= 1);
		CHECK_OK(k256_recover(sig, digest, got, &e), &e);
		CHECK(memcmp(pub, got, sizeof pub) == 0);
		/* Deterministic: signing again gives identical bytes. */
		uint8_t again[K256_SIG_LEN];
		CHECK_OK(k256_sign_digest(key, digest, again, &e), &e);
		CHECK(memcmp(sig, again, sizeof sig) == 0);
	}
}

TEST(test_k256_tampered_signature_recovers_other_key)
{
	struct err e = {0};
	uint8_t key[32], pub[K256_PUB_LEN], got[K256_PUB_LEN], sig[K256_SIG_LEN], digest[32];
	root_01(key);
	CHECK_OK(k256_pubkey(key, pub, &e), &e);
	keccak256("message", 7, digest);
	CHECK_OK(k256_sign_digest(key, digest, sig, &e), &e);
	sig[40] ^= 0x01; /* s changed */
	if (k256_recover(sig, digest, got, &e) == 0)
		CHECK(memcmp(pub, got, sizeof pub) != 0);
	sig[40] ^= 0x01;
	sig[64] ^= 0x01; /* other parity */
	if (k256_recover(sig, digest, got, &e) == 0)
		CHECK(memcmp(pub, got, sizeof pub) != 0);
	sig[64] ^= 0x01;
	digest[0] ^= 0x80; /* other message */
	CHECK_OK(k256_recover(sig, digest, got, &e), &e);
	CHECK(memcmp(pub, got, sizeof pub) != 0);
}

TEST(test_k256_recover_rejects_malformed_signatures)
{
	struct err e = {0};
	uint8_t sig[K256_SIG_LEN], digest[32], got[K256_PUB_LEN];
	keccak256("x", 1, digest);
	memset(sig, 0x22, sizeof sig);
	sig[64] = 27; /* Ethereum-style v is not accepted: v is the raw recovery id */
	CHECK_FAILS(k256_recover(sig, digest, got, &e));
	CHECK_CONTAINS(e.msg, "recovery id");
	sig[64] = 0;
	CHECK(hex_decode_fixed(order_hex, sig, 32) == 0); /* r == n overflows */
	CHECK_FAILS(k256_recover(sig, digest, got, &e));
	memset(sig, 0, 64); /* r == s == 0 */
	CHECK_FAILS(k256_recover(sig, digest, got, &e));
}

TEST(test_k256_rejects_invalid_scalars)
{
	struct err e = {0};
	uint8_t bad[2][32], pub[K256_PUB_LEN], upub[K256_PUB_UNCOMPRESSED_LEN], sig[K256_SIG_LEN];
	uint8_t digest[32] = {1}, out[32];
	memset(bad[0], 0, 32);
	CHECK(hex_decode_fixed(order_hex, bad[1], 32) == 0);
	for (int i = 0; i < 2; i++) {
		CHECK_FAILS(k256_pubkey(bad[i], pub, &e));
		CHECK_FAILS(k256_pubkey_uncompressed(bad[i], upub, &e));
		CHECK_FAILS(k256_sign_digest(bad[i], digest, sig, &e));
		CHECK_CONTAINS(e.msg, "invalid private key");
		CHECK_FAILS(k256_sign_keccak(bad[i], "m", 1, sig, &e));
		CHECK_FAILS(k256_derive_app_key(bad[i], app_id_11, 20, out, &e));
		CHECK_FAILS(k256_sign_env_pubkey(bad[i], app_id_11, 20, digest, sig, &e));
	}
	uint8_t root[32];
	root_01(root);
	CHECK_FAILS(k256_derive_app_key(root, NULL, 20, out, &e));
	CHECK_FAILS(k256_sign_app_key(root, NULL, 20, pub, sig, &e));
}

TEST(test_k256_pubkey_uncompressed_matches_compressed)
{
	struct err e = {0};
	uint8_t key[32] = {0}, c[K256_PUB_LEN], u[K256_PUB_UNCOMPRESSED_LEN];
	key[31] = 1;
	CHECK_OK(k256_pubkey(key, c, &e), &e);
	CHECK_HEX(c, sizeof c, g_compressed_hex);
	CHECK_OK(k256_pubkey_uncompressed(key, u, &e), &e);
	CHECK_HEX(
	    u, sizeof u,
	    "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798483ada7726a3c465"
	    "5da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8");
}
