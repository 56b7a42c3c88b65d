/*
 * fuzz_csr.c — libFuzzer target for SignCert's CSR decoder (attest/csr.h),
 * which reads bytes from unauthenticated callers. Built and run by
 * `make fuzz` with the other targets.
 *
 * The first input byte picks the version (1 or 2). Beyond "no crash, no
 * read past the input" it checks: every decoded string and byte field lies
 * inside the input, and a decoded V2 CSR re-encodes to exactly the input
 * (canonical-only decoding).
 */
#include "attest/csr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void inside(const void *p, size_t n, const uint8_t *base, size_t len)
{
	const uint8_t *q = p;
	if (n && (q < base || q > base + len || n > (size_t)(base + len - q)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int version = (data[0] & 1) + 1;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	struct csr c;
	struct err err;
	if (csr_decode(version, p, n, &c, &err) < 0)
		return 0;
	inside(c.confirm.p, c.confirm.len, p, n);
	inside(c.pubkey, c.pubkey_len, p, n);
	inside(c.subject.p, c.subject.len, p, n);
	for (size_t i = 0; i < c.n_san; i++)
		inside(c.san[i].p, c.san[i].len, p, n);
	if (version == 2) {
		inside(c.attestation, c.attestation_len, p, n);
		struct buf out = BUF_INIT;
		if (csr_encode_v2(&c, &out, &err) == 0 && (out.len != n || memcmp(out.p, p, n)))
			abort();
		buf_free(&out);
	}
	return 0;
}
