/*
 * fuzz_json_scan.c — libFuzzer target for the JSON scanner (util/json_scan.h),
 * the code that cuts the signed tcbInfo / enclaveIdentity bytes out of a PCCS
 * answer. Built and run by `make fuzz` with the other targets.
 *
 * Beyond "no crash, no read past the input", it checks what callers rely on:
 * a cut value lies inside the input and is not empty, and for a text jansson
 * accepts as an object with that member, the cut bytes parse (jansson) to a
 * value equal to the member's.
 */
#include "util/json_scan.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_key(const char *p, size_t n, json_t *root, const char *key)
{
	size_t off = 0, len = 0;
	if (json_scan_cut(p, n, key, &off, &len) < 0)
		return;
	if (off > n || len == 0 || len > n - off)
		abort();
	json_t *want = root ? json_object_get(root, key) : NULL;
	if (!want)
		return;
	json_error_t je;
	json_t *got = json_loadb(p + off, len, JSON_DECODE_ANY, &je);
	if (!got || !json_equal(got, want))
		abort();
	json_decref(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	json_error_t je;
	json_t *root = json_loadb(p, size, JSON_REJECT_DUPLICATES, &je);
	if (root && !json_is_object(root)) {
		json_decref(root);
		root = NULL;
	}
	check_key(p, size, root, "tcbInfo");
	check_key(p, size, root, "enclaveIdentity");
	check_key(p, size, root, "signature");
	check_key(p, size, root, "");
	json_decref(root);
	return 0;
}
