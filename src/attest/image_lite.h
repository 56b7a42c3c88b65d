/*
 * image_lite.h — OS image verification for the TDX `lite` variant
 * (kms-protocol §10.6): the image's measurement material travels in
 * vm_config.tdx_measurement, so no image is downloaded and no firmware or
 * QEMU model is run.
 *
 * Checks, in upstream's order and with its messages:
 *   1. vm_config.tdx_measurement present (checksum_file, measurement: base64);
 *   2. sha256(checksum_file) == vm_config.os_image_hash, and checksum_file
 *      lists sha256(measurement) as `measurement.tdx.cbor` exactly once;
 *   3. the measurement CBOR (TdxOsImageMeasurement version 3) decodes, and its
 *      ovmf variant equals vm_config.ovmf_variant when that is given;
 *   4. the three RTMR0 ACPI DATA digests are taken from the event log by name
 *      (acpi-loader, acpi-rsdp, acpi-tables; exactly one each);
 *   5. memory_size is 2 GiB exactly or at least 0xB0000000 (below that the
 *      QEMU-patched kernel hash depends on the exact RAM size);
 *   6. MRTD, RTMR0, RTMR1, RTMR2 recomputed from the document equal the
 *      verified quote's.
 *
 * Pure: no I/O, bounded by its inputs.
 */
#ifndef ATTEST_IMAGE_LITE_H
#define ATTEST_IMAGE_LITE_H

#include "attest/eventlog.h"
#include "attest/quote.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define IMAGE_LITE_MEASUREMENT_FILE "measurement.tdx.cbor"
#define IMAGE_LITE_MEASUREMENT_VERSION 3
#define IMAGE_LITE_MEM_2G 0x80000000ull
#define IMAGE_LITE_MEM_STABLE_MIN 0xB0000000ull
/* No real document comes near these; they bound hostile input. */
#define IMAGE_LITE_CHECKSUM_MAX (64 * 1024)
#define IMAGE_LITE_MEASUREMENT_MAX (16 * 1024)

/* The registers the document fixes. */
struct image_lite_mrs {
	uint8_t mrtd[48];
	uint8_t rtmr[3][48]; /* RTMR0..2 */
};

/* Is this VmConfig JSON of the lite variant? 1 lite, 0 legacy (the default
 * when absent), -1 on a parse error. */
int image_lite_is_lite(const char *vm_config, size_t len, struct err *err);

/* Steps 1-5: the registers the vm_config's measurement document predicts
 * for this event log's ACPI digests. */
int image_lite_expected(const char *vm_config, size_t len, const struct tdx_event *ev, size_t n,
			struct image_lite_mrs *out, struct err *err);

/* All steps against the verified TD report. */
int image_lite_verify(const char *vm_config, size_t len, const struct tdx_report *td,
		      const struct tdx_event *ev, size_t n, struct err *err);

#endif
