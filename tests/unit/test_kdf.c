/*
 * test_kdf.c — HKDF derive_key, P-256 child keys, DH secrets, X25519 and the
 * app keys against kms-protocol §5.5 (upstream's stable-output vector plus the
 * independently computed app vectors), RFC 7748 §6.1, and HKDF values from an
 * independent Python hmac implementation of RFC 5869.
 */
#include "harness.h"

#include "crypto/kdf.h"
#include "crypto/p256.h"
#include "util/err.h"
#include "util/hex.h"

#include <stdlib.h>
#include <string.h>

/* spec: kms-protocol §5.5 */
static const char root_der_hex[] =
    "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420f57527cea4ab7ffb"
    "49af99b158cdc0e3ec06398f528349ea236b7d2afe19cec1a1440342000491f50522407ce29dce3ed7d31a"
    "15d80c1c42f13a23552d2b33a0ce09ee11e47bce95936f3e7f80d195f879e28e1b144ef37ac9ab8e36a690"
    "cbf930b775897b27";

static const char order_hex[] = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

static const uint8_t app_id[20] = {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
				   0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11};
static const uint8_t instance_id[20] = {0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33,
					0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33};

/* The scalar taken out of the §5.5 PKCS#8 DER (offset 36, after "04 20"). */
static int root_scalar(uint8_t s[32])
{
	size_t len;
	uint8_t *der = t_unhex(root_der_hex, &len);
	if (!der || len != P256_PKCS8_LEN || der[34] != 0x04 || der[35] != 0x20) {
		free(der);
		return -1;
	}
	memcpy(s, der + 36, 32);
	free(der);
	return 0;
}

TEST(test_kdf_root_vector_der_roundtrips_byte_for_byte)
{
	struct err e = {0};
	uint8_t s[32], der[P256_PKCS8_LEN];
	CHECK(root_scalar(s) == 0);
	CHECK_OK(p256_pkcs8_der(s, der, &e), &e);
	CHECK_HEX(der, sizeof der, root_der_hex);
}

TEST(test_kdf_derive_key_matches_independent_hkdf)
{
	struct err e = {0};
	uint8_t ikm[16], out[80];
	for (size_t i = 0; i < sizeof ikm; i++)
		ikm[i] = (uint8_t)i;
	/* Contexts concatenate with no separator: "a" + "bc" == "abc". */
	struct kdf_ctx two[2] = {KDF_STR("a"), KDF_STR("bc")};
	CHECK_OK(kdf_derive_key(ikm, sizeof ikm, two, 2, out, 80, &e), &e);
	CHECK_HEX(out, 80,
		  "19a677b847d085aa28daeff1dbd8fa8a838d71f9f399872b9f5682522e933c9d9f5b5c5494d289"
		  "544cb5eb28f2ae1ba05059f19df23a1ceeb7b3630499db36f1d4c3a3a878bb5c0f2dd7faf1e2dc"
		  "cc4e");
	struct kdf_ctx one[1] = {KDF_STR("abc")};
	uint8_t out2[80];
	CHECK_OK(kdf_derive_key(ikm, sizeof ikm, one, 1, out2, 80, &e), &e);
	CHECK(memcmp(out, out2, 80) == 0);
	/* No contexts at all = empty info. */
	CHECK_OK(kdf_derive_key(ikm, sizeof ikm, NULL, 0, out, 32, &e), &e);
	CHECK_HEX(out, 32, "b98d70fe1409e2e358549e00260ac3dde5fe9bc375e513415f304fc04ad2d015");
}

TEST(test_kdf_derive_key_rejects_bad_arguments)
{
	struct err e = {0};
	uint8_t ikm[32] = {1}, out[32];
	struct kdf_ctx c[1] = {KDF_STR("x")};
	CHECK_FAILS(kdf_derive_key(ikm, 32, c, 1, out, 0, &e));
	CHECK_FAILS(kdf_derive_key(ikm, 32, c, 1, out, 255 * 32 + 1, &e));
	CHECK_FAILS(kdf_derive_key(NULL, 32, c, 1, out, 32, &e));
	CHECK_FAILS(kdf_derive_key(ikm, 32, NULL, 1, out, 32, &e));
	struct kdf_ctx bad[1] = {{NULL, 3}};
	CHECK_FAILS(kdf_derive_key(ikm, 32, bad, 1, out, 32, &e));
	CHECK_CONTAINS(e.msg, "context 0 missing");
}

TEST(test_kdf_derive_p256_and_dh_match_upstream_vector)
{
	struct err e = {0};
	uint8_t root[32], child[32], dh[32];
	CHECK(root_scalar(root) == 0);
	struct kdf_ctx ctx[2] = {KDF_STR("context one"), KDF_STR("context two")};
	CHECK_OK(kdf_derive_p256(root, ctx, 2, child, &e), &e);
	CHECK_HEX(child, 32, "b60ac47b8fcfbdf96031b9e94f0b60cfe9de05eccb5a1dca41a26f757833c0e7");
	CHECK_OK(kdf_derive_dh_secret(root, ctx, 2, dh, &e), &e);
	CHECK_HEX(dh, 32, "663afd58820be8ad645f9c035e93199d114ab16f738db62393bc1d7d623e8813");
}

TEST(test_kdf_app_keys_match_spec_vectors)
{
	struct err e = {0};
	uint8_t root[32], ca[32], pt[P256_POINT_LEN], disk[32], env[32], xpub[32];
	CHECK(root_scalar(root) == 0);
	CHECK_OK(kdf_app_ca_key(root, app_id, 20, ca, &e), &e);
	CHECK_HEX(ca, 32, "5b779e0a9fe80b2e5866d94958daa1a4e29a183228b3f37acd7eae153e18a75f");
	CHECK_OK(p256_public_point(ca, pt, &e), &e);
	CHECK_HEX(pt, sizeof pt,
		  "040526af58f573724a2933a2b53506caa20343e6b98573fd89e32eee820eb5958fe4797ce498fe8b"
		  "86f114debf18daaf5e650ab48cec14927e95e71fac13af7697");
	CHECK_OK(kdf_app_disk_key(root, app_id, 20, instance_id, 20, disk, &e), &e);
	CHECK_HEX(disk, 32, "1fef665a1667042d9d3e16305ac19dff2082d4fa6b0d27505bb9e6b7379bb58d");
	CHECK_OK(kdf_app_env_secret(root, app_id, 20, env, &e), &e);
	CHECK_HEX(env, 32, "a7470db8cfdd0fe24134b461d60766afa7c078abe6dce9f2c8a5c44034ca400e");
	CHECK_OK(kdf_x25519_public(env, xpub, &e), &e);
	CHECK_HEX(xpub, 32, "93cf259f68b24775d54290a8ea57cf93efc994d3ff28a7b8ba7a39e9f512302f");
}

TEST(test_kdf_app_keys_reject_missing_ids_and_bad_root)
{
	struct err e = {0};
	uint8_t root[32], out[32];
	CHECK(root_scalar(root) == 0);
	CHECK_FAILS(kdf_app_disk_key(root, NULL, 20, instance_id, 20, out, &e));
	CHECK_FAILS(kdf_app_disk_key(root, app_id, 20, NULL, 20, out, &e));
	CHECK_FAILS(kdf_app_env_secret(root, NULL, 20, out, &e));
	CHECK_FAILS(kdf_app_ca_key(root, NULL, 20, out, &e));
	uint8_t zero[32] = {0};
	CHECK_FAILS(kdf_app_ca_key(zero, app_id, 20, out, &e));
	CHECK_CONTAINS(e.msg, "invalid parent key");
	uint8_t n[32];
	CHECK(hex_decode_fixed(order_hex, n, 32) == 0);
	CHECK_FAILS(kdf_app_env_secret(n, app_id, 20, out, &e));
}

TEST(test_kdf_p256_scalar_from_okm_rejects_out_of_range)
{
	struct err e = {0};
	uint8_t okm[32], child[32];
	memset(okm, 0, 32); /* d == 0 */
	memset(child, 0xaa, 32);
	CHECK_FAILS(kdf_p256_scalar_from_okm(okm, child, &e));
	CHECK_CONTAINS(e.msg, "not below the group order");
	for (size_t i = 0; i < 32; i++)
		CHECK(child[i] == 0);			  /* nothing half-usable is left behind */
	CHECK(hex_decode_fixed(order_hex, okm, 32) == 0); /* d == n: no reduction to 0 */
	CHECK_FAILS(kdf_p256_scalar_from_okm(okm, child, &e));
	memset(okm, 0xff, 32); /* d == 2^256 - 1 */
	CHECK_FAILS(kdf_p256_scalar_from_okm(okm, child, &e));
	CHECK(hex_decode_fixed(order_hex, okm, 32) == 0);
	okm[31] = 0x50; /* d == n - 1 */
	CHECK_OK(kdf_p256_scalar_from_okm(okm, child, &e), &e);
	CHECK(memcmp(okm, child, 32) == 0);
	memset(okm, 0, 32);
	okm[31] = 1; /* d == 1, in place */
	CHECK_OK(kdf_p256_scalar_from_okm(okm, okm, &e), &e);
	CHECK(okm[31] == 1);
}

TEST(test_kdf_x25519_public_rfc7748_and_clamping)
{
	struct err e = {0};
	uint8_t sk[32], pub[32], pub2[32];
	/* RFC 7748 §6.1 Alice. */
	CHECK(hex_decode_fixed("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
			       sk, 32) == 0);
	CHECK_OK(kdf_x25519_public(sk, pub, &e), &e);
	CHECK_HEX(pub, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	/* Bits that clamping clears/sets do not change the public key. */
	sk[0] ^= 0x07;
	sk[31] = (uint8_t)((sk[31] & 0x3f) | 0x80);
	CHECK_OK(kdf_x25519_public(sk, pub2, &e), &e);
	CHECK(memcmp(pub, pub2, 32) == 0);
}
