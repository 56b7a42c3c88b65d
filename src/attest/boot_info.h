/*
 * boot_info.h — BootInfo, the identity of a booted CVM as the auth policy sees
 * it, and its exact webhook JSON body.
 *
 * Every field is bounded: byte fields hold at most BOOT_INFO_BYTES_MAX bytes
 * (SEV-SNP device_id is a raw 64-byte chip id), key_provider_info at most
 * BOOT_INFO_KPI_MAX, strings are valid UTF-8 of bounded length, advisory ids
 * are bounded in count and length (auth-eth's request schema limits).
 * spec: kms-protocol §10.1 (fields), §11 (JSON body).
 */
#ifndef ATTEST_BOOT_INFO_H
#define ATTEST_BOOT_INFO_H

#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define BOOT_INFO_APP_ID_LEN 20
#define BOOT_INFO_BYTES_MAX 64
#define BOOT_INFO_KPI_MAX 4096
#define BOOT_INFO_VARIANT_MAX 32     /* "dstack-aws-nitro-tpm" is the longest today */
#define BOOT_INFO_TCB_STATUS_MAX 128 /* auth-eth: tcbStatus maxLength 128 */
#define BOOT_INFO_ADVISORIES_MAX 128 /* auth-eth: advisoryIds maxItems 128 */
#define BOOT_INFO_ADVISORY_LEN_MAX 256

struct boot_info_bytes {
	uint8_t b[BOOT_INFO_BYTES_MAX];
	size_t len;
};

struct boot_info {
	char tee_variant[BOOT_INFO_VARIANT_MAX + 1]; /* "dstack-tdx", ... */
	struct boot_info_bytes mr_aggregated;
	struct boot_info_bytes os_image_hash; /* may be empty */
	struct boot_info_bytes mr_system;
	struct boot_info_bytes app_id; /* exactly 20 bytes once validated */
	struct boot_info_bytes compose_hash;
	struct boot_info_bytes instance_id; /* may be empty */
	struct boot_info_bytes device_id;
	uint8_t *key_provider_info; /* heap; NULL when empty */
	size_t key_provider_info_len;
	char tcb_status[BOOT_INFO_TCB_STATUS_MAX + 1]; /* may be "" */
	char **advisory_ids;			       /* heap array of heap strings */
	size_t n_advisory_ids;
};

/* Zero-initialise (equivalent to `struct boot_info bi = {0}`). */
void boot_info_init(struct boot_info *bi);
/* Releases key_provider_info and advisory_ids and zeroes the struct. */
void boot_info_free(struct boot_info *bi);

/* Bounded setters; each fails without touching the field when over its limit
 * (strings must also be valid UTF-8 without NUL). */
int boot_info_set_bytes(struct boot_info_bytes *f, const uint8_t *p, size_t n, struct err *err);
int boot_info_set_tee_variant(struct boot_info *bi, const char *s, struct err *err);
int boot_info_set_tcb_status(struct boot_info *bi, const char *s, struct err *err);
int boot_info_set_key_provider_info(struct boot_info *bi, const uint8_t *p, size_t n,
				    struct err *err);
int boot_info_add_advisory_id(struct boot_info *bi, const char *id, struct err *err);

/* Fails with "app_id must be 20 bytes" unless exactly 20 bytes (§10.1). */
int boot_info_check_app_id(const uint8_t *app_id, size_t len, struct err *err);
/* app_id length plus every bound above (for structs filled by hand). */
int boot_info_validate(const struct boot_info *bi, struct err *err);

/*
 * Appends the compact webhook body of §11 to out: keys teeVariant,
 * mrAggregated, osImageHash, mrSystem, appId, composeHash, instanceId,
 * deviceId, keyProviderInfo, tcbStatus, advisoryIds in that order; bytes as
 * lowercase hex without 0x ("" when empty); strings escaped as serde_json
 * does. Fails if boot_info_validate fails.
 */
int boot_info_to_json(const struct boot_info *bi, struct buf *out, struct err *err);

#endif
