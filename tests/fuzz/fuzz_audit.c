/*
 * fuzz_audit.c — libFuzzer target for the release-log verifier
 * (audit/audit.h, audit_verify_buf), which reads files an attacker may have
 * edited. Built and run by `make fuzz` with the other targets.
 *
 * Beyond "no crash": the verdict is consistent — a good log reports no bad
 * line and as many lines as it has LFs; a bad one names a line within the
 * file.
 */
#include "audit/audit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_verify res;
	int rc = audit_verify_buf(data, size, &res);
	size_t lf = 0;
	for (size_t i = 0; i < size; i++)
		lf += data[i] == '\n';
	if (rc == 0 && (res.bad_line || res.lines != lf))
		abort();
	if (rc == 1 && (res.bad_line == 0 || res.bad_line > lf + 1 || res.lines >= res.bad_line))
		abort();
	return 0;
}
