/*
 * abi.h — the Solidity ABI v2 codec of dstack-auth-eth: calldata for the
 * policy contract's view functions and decoders for their return values,
 * plus Ethereum address parsing with EIP-55 checksums (ethers' rules).
 *
 * Pure: bytes in, bytes out; no I/O. Every decoder reads through the bounded
 * reader and rejects offsets or lengths that leave the data.
 * spec: auth-eth §2.1 (selectors), §2.2 (calldata), §2.3 (return decoding),
 * §1.3 (address quirk).
 */
#ifndef ABI_ABI_H
#define ABI_ABI_H

#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define ABI_WORD 32

/* Selectors (first 4 bytes of keccak256 of the canonical signature). */
extern const uint8_t ABI_SEL_IS_APP_ALLOWED[4];	    /* 0x1e079198 */
extern const uint8_t ABI_SEL_IS_KMS_ALLOWED[4];	    /* 0xe067ec9d */
extern const uint8_t ABI_SEL_GATEWAY_APP_ID[4];	    /* 0x95f51931 */
extern const uint8_t ABI_SEL_APP_IMPLEMENTATION[4]; /* 0x25a992da */
extern const uint8_t ABI_SEL_REGISTERED_APPS[4];    /* 0xa6c4cce9 */

/* A byte string (not NUL-terminated). */
struct abi_bytes {
	const uint8_t *p;
	size_t len;
};

/* IAppAuth.AppBootInfo, in ABI field order (spec §2.1). */
struct abi_boot_info {
	uint8_t app_id[20];
	uint8_t compose_hash[32];
	uint8_t instance_id[20];
	uint8_t device_id[32];
	uint8_t mr_aggregated[32];
	uint8_t mr_system[32];
	uint8_t os_image_hash[32];
	struct abi_bytes tcb_status; /* UTF-8 */
	const struct abi_bytes *advisory_ids;
	size_t n_advisory_ids;
};

/* keccak256(signature)[0..4]. */
void abi_selector(const char *signature, uint8_t out[4]);

/* selector || abi.encode(bi) (one dynamic tuple argument), appended to out. */
int abi_encode_boot_info_call(const uint8_t selector[4], const struct abi_boot_info *bi,
			      struct buf *out, struct err *err);
/* selector || address word, appended to out. */
int abi_encode_address_call(const uint8_t selector[4], const uint8_t addr[20], struct buf *out,
			    struct err *err);

/*
 * Return-data decoders. Strings must be valid UTF-8 (ethers refuses others);
 * *s points into p. Booleans must be 0 or 1; addresses must have their 12
 * high bytes zero. Empty data ("0x": no code at the address) fails.
 */
int abi_decode_bool_string(const uint8_t *p, size_t n, int *b, struct abi_bytes *s,
			   struct err *err);
int abi_decode_string(const uint8_t *p, size_t n, struct abi_bytes *s, struct err *err);
int abi_decode_address(const uint8_t *p, size_t n, uint8_t out[20], struct err *err);
int abi_decode_bool(const uint8_t *p, size_t n, int *b, struct err *err);

/* "0x" + EIP-55 mixed-case checksum hex of addr, NUL-terminated. */
void abi_eip55(const uint8_t addr[20], char out[43]);

/*
 * Parses an address the way ethers' getAddress does for hex input: optional
 * lowercase "0x", exactly 40 hex digits; all-lowercase and all-uppercase are
 * accepted as is, mixed case must be the EIP-55 checksum. (ICAP "XE..."
 * addresses are not supported.)
 */
int abi_parse_address(const char *s, size_t len, uint8_t out[20], struct err *err);

#endif
