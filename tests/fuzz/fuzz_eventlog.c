/*
 * fuzz_eventlog.c — libFuzzer target for the event-log parsers
 * (attest/eventlog.h) and the vm_config reader (attest/appinfo.h). The first
 * input byte picks the parser: 0 TdxEvent JSON, 1 CCEL, 2 V2 canonical JSON
 * and digests, 3 vm_config JSON; the rest is its input.
 *
 * Build and run (from the project root; ~60 s; seeds: ccel.bin and the
 * quote-report event log with a selector byte prepended):
 *   S="src/util/buf.c src/util/err.c src/util/hex.c src/util/reader.c src/util/secret.c \
 *      src/kms/boot_info.c src/attest/quote.c src/attest/scale.c src/attest/msgpack.c \
 *      src/attest/eventlog.c src/attest/attestation.c src/attest/ratls.c src/attest/appinfo.c \
 *      src/crypto/cert.c src/crypto/p256.c"
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Isrc \
 *     tests/fuzz/fuzz_eventlog.c $S -ljansson -lcrypto -o build/fuzz_eventlog
 *   mkdir -p build/fuzz-evl-corpus
 *   (printf '\001'; head -c 4096 tests/vectors/dstack/ccel.bin) > build/fuzz-evl-corpus/ccel
 *   (printf '\000'; cat tests/vectors/derived/quote_report_event_log.json) \
 *     > build/fuzz-evl-corpus/json
 *   build/fuzz_eventlog -max_total_time=60 -timeout=5 build/fuzz-evl-corpus
 *
 * Checks beyond memory safety: every accepted CCEL event lies inside the
 * input, dstack's view keeps imr <= 3 and 48-byte SHA-384 digests only when
 * the log says so, parsed JSON events replay without error when their
 * digests are 48 bytes, and a V2 event given its own canonical preimage
 * always validates.
 */
#include "attest/appinfo.h"
#include "attest/eventlog.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/hex.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void fuzz_json(const uint8_t *p, size_t n)
{
	struct tdx_event *ev;
	struct runtime_event *re;
	size_t ne, nre;
	struct err err;
	uint8_t mr[48];
	if (eventlog_parse_json(p, n, &ev, &ne, &err) < 0)
		return;
	for (uint32_t imr = 0; imr < 4; imr++)
		(void)eventlog_replay_imr(ev, ne, imr, mr, &err);
	(void)eventlog_validate_v2_preimages(ev, ne, &err);
	if (eventlog_runtime_from_tdx(ev, ne, &re, &nre, &err) == 0) {
		if (eventlog_replay_runtime(re, nre, "boot-mr-done", mr, &err) < 0)
			abort();
		eventlog_runtime_events_free(re, nre);
	}
	eventlog_tdx_events_free(ev, ne);
}

static void fuzz_ccel(const uint8_t *p, size_t n)
{
	struct ccel_event *ce;
	struct tdx_event *te;
	size_t nc, nt;
	struct err err;
	uint8_t mr[48];
	if (eventlog_ccel_parse(p, n, &ce, &nc, &err) < 0)
		return;
	for (size_t i = 0; i < nc; i++) {
		if (ce[i].data < p || ce[i].data + ce[i].data_len > p + n ||
		    ce[i].n_digests > CCEL_MAX_DIGESTS)
			abort();
		for (size_t k = 0; k < ce[i].n_digests; k++)
			if (ce[i].digests[k].d < p ||
			    ce[i].digests[k].d + ce[i].digests[k].len > p + n)
				abort();
	}
	if (eventlog_ccel_to_tdx(ce, nc, &te, &nt, &err) == 0) {
		for (size_t i = 0; i < nt; i++)
			if (te[i].imr == UINT32_MAX)
				abort();
		for (uint32_t imr = 0; imr < 4; imr++)
			(void)eventlog_replay_imr(te, nt, imr, mr, &err);
		eventlog_tdx_events_free(te, nt);
	}
	free(ce);
}

static void fuzz_v2(const uint8_t *p, size_t n)
{
	/* name = first half, payload = second half */
	size_t nl = n / 2;
	struct buf pre = BUF_INIT, hex = BUF_INIT;
	struct err err;
	uint8_t d[48];
	struct runtime_event re = {.event = (char *)p,
				   .event_len = nl,
				   .payload = (uint8_t *)p + nl,
				   .payload_len = n - nl,
				   .version = 2};
	if (eventlog_runtime_preimage(re.event, nl, re.payload, re.payload_len, 2, &pre) < 0 ||
	    eventlog_runtime_digest(&re, d, &err) < 0 || hex_append(&hex, pre.p, pre.len) < 0)
		abort();
	struct tdx_event te = {.imr = 3,
			       .event_type = EVENTLOG_RUNTIME_EVENT_TYPE,
			       .digest = d,
			       .digest_len = 48,
			       .event = re.event,
			       .event_len = nl,
			       .payload = re.payload,
			       .payload_len = re.payload_len,
			       .version = 2,
			       .preimage = (char *)hex.p,
			       .preimage_len = hex.len};
	if (eventlog_validate_v2_preimages(&te, 1, &err) < 0)
		abort();
	buf_free(&pre);
	buf_free(&hex);
}

static void fuzz_vm_config(const uint8_t *p, size_t n)
{
	struct buf out = BUF_INIT;
	struct err err;
	(void)appinfo_vm_config_os_image_hash((const char *)p, n, 0, &out, &err);
	buf_reset(&out);
	(void)appinfo_vm_config_os_image_hash((const char *)p, n, 1, &out, &err);
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	/* An exact-size heap copy so ASan sees any read past the end. */
	size_t n = size - 1;
	uint8_t *p = malloc(n ? n : 1);
	if (!p)
		return 0;
	memcpy(p, data + 1, n);
	switch (data[0] & 3) {
	case 0:
		fuzz_json(p, n);
		break;
	case 1:
		fuzz_ccel(p, n);
		break;
	case 2:
		fuzz_v2(p, n);
		break;
	default:
		fuzz_vm_config(p, n);
		break;
	}
	free(p);
	return 0;
}
