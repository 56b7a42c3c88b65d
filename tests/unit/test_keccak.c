/*
 * test_keccak.c — Keccak-256 against published vectors ("" and "abc", the web3
 * account vector) and against a reference built on nettle's independent
 * sha3_permute with 0x01/0x80 padding (long and block-boundary messages).
 */
#include "harness.h"

#include "crypto/k256.h"
#include "crypto/keccak.h"
#include "util/hex.h"

#include <stdlib.h>
#include <string.h>

TEST(test_keccak256_empty_and_abc)
{
	uint8_t out[32];
	keccak256("", 0, out);
	CHECK_HEX(out, 32, "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
	keccak256("abc", 3, out);
	CHECK_HEX(out, 32, "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
}

TEST(test_keccak256_is_not_sha3)
{
	/* SHA3-256("") = a7ffc6f8...; Keccak-256 must differ (0x01 padding, not 0x06). */
	uint8_t out[32], sha3[32];
	CHECK(hex_decode_fixed("a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a",
			       sha3, 32) == 0);
	keccak256("", 0, out);
	CHECK(memcmp(out, sha3, 32) != 0);
}

/* Messages of n bytes of 'a'; expected values from the nettle-based reference. */
static const struct {
	size_t n;
	const char *hex;
} long_vectors[] = {
    {135, "34367dc248bbd832f4e3e69dfaac2f92638bd0bbd18f2912ba4ef454919cf446"}, /* pad = 0x81 */
    {136, "a6c4d403279fe3e0af03729caada8374b5ca54d8065329a3ebcaeb4b60aa386e"}, /* pad block */
    {137, "d869f639c7046b4929fc92a4d988a8b22c55fbadb802c0c66ebcd484f1915f39"},
    {200, "96ea54061def936c4be90b518992fdc6f12f535068a256229aca54267b4d084d"},
    {272, "cf7fcd4f705ee749930d19ca84561a9bf62516bd90a471545fa2f49fdc7e63c8"},
    {1000, "b6a4ac1f51884d71f30fa397a5e155de3099e11fc0edef5d08b646e621e19de9"},
};

TEST(test_keccak256_multi_block_and_boundaries)
{
	uint8_t msg[1000], out[32];
	memset(msg, 'a', sizeof msg);
	for (size_t i = 0; i < sizeof long_vectors / sizeof long_vectors[0]; i++) {
		keccak256(msg, long_vectors[i].n, out);
		CHECK_MSG(t_hex_equal(out, 32, long_vectors[i].hex), "n=%zu", long_vectors[i].n);
	}
}

TEST(test_keccak256_incremental_split_at_every_offset)
{
	uint8_t msg[300], one[32], two[32], three[32];
	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = (uint8_t)(i * 31 + 7);
	keccak256(msg, sizeof msg, one);
	for (size_t cut = 0; cut <= sizeof msg; cut++) {
		struct keccak_ctx c;
		keccak256_init(&c);
		keccak256_update(&c, msg, cut);
		keccak256_update(&c, msg + cut, sizeof msg - cut);
		keccak256_final(&c, two);
		CHECK_MSG(memcmp(one, two, 32) == 0, "split at %zu", cut);
	}
	/* Byte-by-byte with empty updates in between. */
	struct keccak_ctx c;
	keccak256_init(&c);
	for (size_t i = 0; i < sizeof msg; i++) {
		keccak256_update(&c, msg + i, 1);
		keccak256_update(&c, msg, 0);
	}
	keccak256_final(&c, three);
	CHECK(memcmp(one, three, 32) == 0);
	/* final wipes the context. */
	static const struct keccak_ctx zero;
	CHECK(memcmp(&c, &zero, sizeof c) == 0);
}

TEST(test_keccak256_incremental_matches_reference_across_blocks)
{
	uint8_t msg[1000], out[32];
	memset(msg, 'a', sizeof msg);
	struct keccak_ctx c;
	keccak256_init(&c);
	keccak256_update(&c, msg, 3);
	keccak256_update(&c, msg, 133);
	keccak256_update(&c, msg, 864);
	keccak256_final(&c, out);
	CHECK_HEX(out, 32, "b6a4ac1f51884d71f30fa397a5e155de3099e11fc0edef5d08b646e621e19de9");
}

TEST(test_keccak256_ethereum_address_vector)
{
	/* web3.js accounts vector: private key -> address 0x2c7536e3...65c23. */
	struct err e = {0};
	uint8_t key[32], pub[65], h[32];
	CHECK(hex_decode_fixed("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
			       key, 32) == 0);
	CHECK_OK(k256_pubkey_uncompressed(key, pub, &e), &e);
	CHECK(pub[0] == 0x04);
	keccak256(pub + 1, 64, h);
	CHECK_HEX(h + 12, 20, "2c7536e3605d9c16a7a3d7b1898e529396a65c23");
}
