/*
 * fuzz_attestation.c — libFuzzer target for VersionedAttestation decoding
 * (attest/attestation.h) and what runs on a decoded attestation (stripping,
 * re-encoding, the local checks and app-info formulas of attest/appinfo.h).
 *
 * Build and run (from the project root; ~60 s; seeds: the V0 fixtures):
 *   S="src/util/buf.c src/util/err.c src/util/hex.c src/util/reader.c src/util/secret.c \
 *      src/kms/boot_info.c src/attest/quote.c src/attest/scale.c src/attest/msgpack.c \
 *      src/attest/eventlog.c src/attest/attestation.c src/attest/ratls.c src/attest/appinfo.c \
 *      src/crypto/cert.c src/crypto/p256.c"
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Isrc \
 *     tests/fuzz/fuzz_attestation.c $S -ljansson -lcrypto -o build/fuzz_attestation
 *   mkdir -p build/fuzz-att-corpus && cp tests/vectors/derived/tdx_lite_attestation_v0.bin \
 *     tests/vectors/mock/attestation_v0_A.bin build/fuzz-att-corpus/
 *   build/fuzz_attestation -max_total_time=60 -timeout=5 -rss_limit_mb=2048 build/fuzz-att-corpus
 *
 * Beyond "no crash, no leak, no over-read", it checks: a decoded V0 input
 * re-encodes to exactly the input (canonical-only decoding), any decoded
 * input re-encodes to bytes that decode again and re-encode identically, and
 * stripping never grows the event log.
 */
#include "attest/appinfo.h"
#include "attest/attestation.h"
#include "attest/ratls.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void exercise_appinfo(const struct attestation *a)
{
	struct tdx_report td;
	struct err err;
	memset(&td, 0, sizeof td);
	memset(td.mr_td, 0x11, sizeof td.mr_td);
	td.mr_owner[0] = (uint8_t)a->n_runtime_events;
	(void)appinfo_verify_local(a, &td, &err);
	for (int boottime = 0; boottime < 2; boottime++) {
		struct appinfo_opts o = {.boottime = boottime, .unwrap_nested_vm_config = boottime};
		struct app_info ai;
		if (appinfo_decode(a, &td, &o, &ai, &err) == 0) {
			struct buf m = BUF_INIT;
			if (ai.mr_system.len != 32 || ai.mr_aggregated.len != 32 ||
			    ai.device_id.len != 32 || appinfo_encode_msgpack(&ai, &m, &err) < 0)
				abort();
			buf_free(&m);
			appinfo_free(&ai);
		}
	}
	static const uint8_t spki[3] = {1, 2, 3};
	(void)ratls_check_binding_spki(a, spki, sizeof spki, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct attestation a, b;
	struct err err;
	struct buf enc = BUF_INIT, enc2 = BUF_INIT;
	if (attestation_decode(data, size, &a, &err) < 0) {
		if (err.msg[0] == '\0')
			abort();
		return 0;
	}
	if (attestation_encode(&a, &enc, &err) < 0) {
		/* Only a V0 that cannot exist (decode never yields one) may fail. */
		abort();
	}
	if (a.wire_version == 0 && (enc.len != size || memcmp(enc.p, data, size) != 0))
		abort();
	if (attestation_decode(enc.p, enc.len, &b, &err) < 0)
		abort();
	if (attestation_encode(&b, &enc2, &err) < 0 || enc2.len != enc.len ||
	    memcmp(enc2.p, enc.p, enc.len) != 0)
		abort();
	attestation_free(&b);
	exercise_appinfo(&a);
	size_t before = a.n_event_log;
	attestation_strip(&a);
	if (a.n_event_log > before)
		abort();
	buf_free(&enc);
	if (attestation_encode(&a, &enc, &err) < 0 ||
	    attestation_decode(enc.p, enc.len, &b, &err) < 0)
		abort();
	attestation_free(&b);
	buf_free(&enc);
	buf_free(&enc2);
	attestation_free(&a);
	return 0;
}
