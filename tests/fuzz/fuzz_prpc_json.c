/*
 * fuzz_prpc_json.c — libFuzzer target for the prpc JSON / query mapping
 * (src/kms/prpc_json.h, kms-protocol §2.2, §2.3).
 *
 * Build and run (from the project root, after `make` generated build/gen; ~60 s):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *     -Isrc -Ibuild/gen tests/fuzz/fuzz_prpc_json.c src/kms/prpc_json.c src/util/buf.c \
 *     src/util/err.c src/util/hex.c src/util/secret.c build/gen/kms_rpc.pb-c.c \
 *     -lprotobuf-c -ljansson -lcrypto -o build/fuzz_prpc_json
 *   mkdir -p build/fuzz-prpc-json-corpus && build/fuzz_prpc_json -max_total_time=60 \
 *     -timeout=5 build/fuzz-prpc-json-corpus
 *
 * Input: byte 0 picks the message type and the reader (JSON body or query
 * string), the rest is the payload. Beyond "no crash, no leak": whatever is
 * accepted re-encodes to JSON that decodes to the same message (fixed point),
 * survives protobuf pack/unpack unchanged, and (JSON reader) is also valid
 * JSON to jansson unless it holds numbers jansson cannot represent.
 */
#include "prpc/prpc_json.h"
#include "util/buf.h"
#include "util/err.h"

#include "kms_rpc.pb-c.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const ProtobufCMessageDescriptor *const DESCS[] = {
    &kms__empty__descriptor,
    &kms__proto_error__descriptor,
    &kms__get_app_key_request__descriptor,
    &kms__app_id__descriptor,
    &kms__public_key_response__descriptor,
    &kms__app_key_response__descriptor,
    &kms__bootstrap_response__descriptor,
    &kms__get_meta_response__descriptor,
    &kms__get_kms_key_request__descriptor,
    &kms__kms_keys__descriptor,
    &kms__kms_key_response__descriptor,
    &kms__get_temp_ca_cert_response__descriptor,
    &kms__sign_cert_request__descriptor,
    &kms__sign_cert_response__descriptor,
    &kms__clear_image_cache_request__descriptor,
    &kms__bootstrap_request__descriptor,
    &kms__onboard_request__descriptor,
    &kms__onboard_response__descriptor,
    &kms__attestation_info_response__descriptor,
};
#define N_DESCS (sizeof DESCS / sizeof DESCS[0])

static void encode_or_die(const ProtobufCMessage *m, struct buf *out)
{
	struct err e;
	err_clear(&e);
	if (prpc_json_encode(m, out, &e) < 0)
		abort(); /* everything the readers accept must be encodable */
}

/* jansson must agree the input is JSON, except where serde_json (and so we)
 * accept more: integers beyond int64 and reals beyond double in ignored
 * fields, and NUL escapes in ignored strings and in unknown (ignored) keys. */
static void cross_check_jansson(const char *p, size_t n)
{
	json_error_t je;
	json_t *j = json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (j) {
		json_decref(j);
		return;
	}
	if (strstr(je.text, "too big") || strstr(je.text, "overflow") ||
	    strstr(je.text, "maximum parsing depth") || strstr(je.text, "NUL byte in object key"))
		return;
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const ProtobufCMessageDescriptor *d = DESCS[(data[0] & 0x7f) % N_DESCS];
	int query = data[0] >> 7;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	struct err e;
	err_clear(&e);
	ProtobufCMessage *m =
	    query ? prpc_query_decode(d, p, n, &e) : prpc_json_decode(d, p, n, &e);
	if (!m) {
		if (!e.msg[0] || strlen(e.msg) >= ERR_MAX)
			abort();
		return 0;
	}
	if (m->descriptor != d)
		abort();
	if (!query && n > 0)
		cross_check_jansson(p, n);

	struct buf j1 = BUF_INIT, j2 = BUF_INIT, j3 = BUF_INIT;
	encode_or_die(m, &j1);

	/* fixed point: the encoding decodes back and re-encodes identically */
	ProtobufCMessage *m2 = prpc_json_decode(d, buf_str(&j1), j1.len, &e);
	if (!m2)
		abort();
	encode_or_die(m2, &j2);
	if (j1.len != j2.len || memcmp(j1.p, j2.p, j1.len) != 0)
		abort();

	/* protobuf round trip keeps every value, including optional presence */
	size_t pn = protobuf_c_message_get_packed_size(m);
	uint8_t *pb = malloc(pn ? pn : 1);
	if (!pb)
		abort();
	protobuf_c_message_pack(m, pb);
	ProtobufCMessage *m3 = protobuf_c_message_unpack(d, NULL, pn, pb);
	free(pb);
	if (!m3)
		abort();
	encode_or_die(m3, &j3);
	if (j1.len != j3.len || memcmp(j1.p, j3.p, j1.len) != 0)
		abort();

	prpc_message_free(m);
	prpc_message_free(m2);
	protobuf_c_message_free_unpacked(m3, NULL);
	buf_free(&j1);
	buf_free(&j2);
	buf_free(&j3);
	return 0;
}
