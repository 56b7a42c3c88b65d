/*
 * fuzz_image_lite.c — libFuzzer target for TDX lite image verification
 * (attest/image_lite.h): the measurement CBOR, its TD HOB witness and the
 * memory map built from it come from the caller. Built and run by
 * `make fuzz` with the other targets.
 *
 * The input is the measurement document; the harness binds it the way a
 * real image does (a checksum file listing its SHA-256, os_image_hash that
 * file's SHA-256) so every input reaches the CBOR reader and the register
 * model. The first two input bytes pick memory_size and the QEMU version.
 */
#include "attest/image_lite.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint64_t MEMS[4] = {0x80000000ull, 0xB0000000ull, 0x100000000ull, 0x40000000ull};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > IMAGE_LITE_MEASUREMENT_MAX)
		return 0;
	uint64_t mem = MEMS[data[0] & 3];
	const char *qemu = data[1] & 1 ? "8.2.2" : "9.1.0";
	const uint8_t *doc = data + 2;
	size_t n = size - 2;

	uint8_t h[32], img[32];
	char line[128], hx[65], ix[65];
	EVP_Digest(doc, n, h, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		sprintf(hx + 2 * i, "%02x", h[i]);
	int ll = snprintf(line, sizeof line, "%s  measurement.tdx.cbor\n", hx);
	EVP_Digest(line, (size_t)ll, img, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		sprintf(ix + 2 * i, "%02x", img[i]);
	char *m64 = malloc(4 * ((n + 2) / 3) + 1), c64[256];
	char *vm = malloc(4 * ((n + 2) / 3) + 1024);
	if (!m64 || !vm)
		abort();
	EVP_EncodeBlock((unsigned char *)m64, doc, (int)n);
	EVP_EncodeBlock((unsigned char *)c64, (const unsigned char *)line, ll);
	int vl = sprintf(vm,
			 "{\"os_image_hash\":\"%s\",\"memory_size\":%llu,\"qemu_version\":\"%s\","
			 "\"tdx_attestation_variant\":\"lite\",\"tdx_measurement\":"
			 "{\"checksum_file\":\"%s\",\"measurement\":\"%s\"}}",
			 ix, (unsigned long long)mem, qemu, c64, m64);

	static uint8_t digests[3][48];
	static char names[3][12] = {"acpi-loader", "acpi-rsdp", "acpi-tables"};
	static char payload[] = "ACPI DATA";
	struct tdx_event ev[3];
	memset(ev, 0, sizeof ev);
	for (int i = 0; i < 3; i++) {
		ev[i].event_type = EVENTLOG_ACPI_DATA_EVENT_TYPE;
		ev[i].digest = digests[i];
		ev[i].digest_len = 48;
		ev[i].event = names[i];
		ev[i].event_len = strlen(names[i]);
		ev[i].payload = (uint8_t *)payload;
		ev[i].payload_len = 9;
	}
	struct image_lite_mrs out;
	struct err err;
	(void)image_lite_expected(vm, (size_t)vl, ev, 3, &out, &err);
	free(m64);
	free(vm);
	return 0;
}
