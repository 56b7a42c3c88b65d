/*
 * appinfo.h — from a decoded TDX attestation to the app identity the auth
 * policy sees: the local checks of §9.5 that follow DCAP verification, the
 * AppInfo formulas of §10.3 (runtime and boot-time), the BootInfo of §10.1
 * and the APP_INFO certificate extension encoding of §7.5.
 *
 * Pure: no I/O, no DCAP here. The caller DCAP-verifies the quote first and
 * hands over its result (status, advisory ids, PPID). TDX only: other
 * platforms fail with "unsupported platform". Never logs.
 * spec: kms-protocol §9.5 steps 1, 2, 4–6, §10.1–§10.3, §10.5, §7.5;
 * attestation §4.3–§4.6.
 */
#ifndef ATTEST_APPINFO_H
#define ATTEST_APPINFO_H

#include "attest/attestation.h"
#include "attest/dcap.h"
#include "attest/quote.h"
#include "attest/boot_info.h"
#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

struct appinfo_opts {
	/* SignCert: RTMR3 replayed up to boot-mr-done, key_provider_info empty. */
	int boottime;
	/* The request's vm_config (may be NULL/empty: the attestation's config,
	 * then "{}", is used instead). */
	const char *vm_config;
	size_t vm_config_len;
	/* Unwrap a nested "vm_config" JSON string (the V1 decoder does, the KMS's
	 * legacy decoder does not: kms-protocol §18 item 11). */
	int unwrap_nested_vm_config;
	/* The PCK PPID from DCAP verification; NULL → device_id = SHA-256("")
	 * (the unverified V1 preview path of §7.5). */
	const uint8_t *ppid;
	size_t ppid_len;
};

/* AppInfo (upstream dstack_attest::AppInfo); every buffer is owned. */
struct app_info {
	struct buf app_id, compose_hash, instance_id; /* event payloads, empty when absent */
	struct buf device_id;			      /* 32 bytes */
	struct buf mr_system, mr_aggregated;	      /* 32 bytes each */
	struct buf os_image_hash;		      /* may be empty */
	struct buf key_provider_info;		      /* may be empty */
	struct buf *init_script_hashes;		      /* every init-script-hash payload */
	size_t n_init_script_hashes;
	uint8_t rtmr3[48]; /* the replayed RTMR3 used in mr_aggregated */
};

void appinfo_free(struct app_info *ai);

/*
 * §9.5 steps 1, 2, 4, 5, 6 after a successful DCAP verification of att's
 * quote: dstack-pod payload binding, 64-byte report_data, full RTMR3 replay ==
 * quoted RTMR3 ("RTMR3 mismatch"), quote REPORTDATA == report_data ("tdx
 * report_data mismatch"), V2 event preimages. td: the verified TD report, or
 * NULL to parse it from att->quote.
 */
int appinfo_verify_local(const struct attestation *att, const struct tdx_report *td,
			 struct err *err);

/* decode_app_info_ex (§10.3): td as above. */
int appinfo_decode(const struct attestation *att, const struct tdx_report *td,
		   const struct appinfo_opts *opts, struct app_info *ai, struct err *err);

/*
 * The BootInfo POSTed to the auth webhook: AppInfo with opts (ppid taken from
 * dcap), tee_variant, tcb_status and advisory ids from dcap, and app_id
 * required to be 20 bytes ("app_id must be 20 bytes"). bi must be
 * initialised; it is freed and re-initialised on failure.
 */
int appinfo_boot_info(const struct attestation *att, const struct tdx_report *td,
		      const struct dcap_result *dcap, int boottime, const char *vm_config,
		      size_t vm_config_len, struct boot_info *bi, struct err *err);

/* The VmConfig text a decision reads (§10.5): the request's vm_config when
 * non-empty, else the attestation's config, else "{}". */
void appinfo_vm_config_text(const struct attestation *att, const char *vm_config, size_t len,
			    const char **out, size_t *out_len);

/* os_image_hash of a VmConfig JSON (§10.5): absent → empty; parse failure or
 * a non-hex os_image_hash → error. Appended to out. */
int appinfo_vm_config_os_image_hash(const char *json, size_t len, int unwrap_nested,
				    struct buf *out, struct err *err);

/* rmp_serde::to_vec (array form) of AppInfo, the APP_INFO extension (§7.5). */
int appinfo_encode_msgpack(const struct app_info *ai, struct buf *out, struct err *err);

#endif
