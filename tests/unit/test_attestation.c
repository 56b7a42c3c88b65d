/*
 * test_attestation.c — VersionedAttestation (attest/attestation.h): the two
 * upstream SCALE V0 fixtures against tests/vectors/expected.json, round trips,
 * §9.4 stripping, V1 msgpack built byte by byte from the schema of
 * kms-protocol §9.1 (both byte encodings, key order, unknown keys, version),
 * the legacy quote + event-log form, and hostile inputs (unknown format byte,
 * truncation at every length, trailing bytes, oversize, bad variants).
 */
#include "harness.h"

#include "attest/attestation.h"
#include "attest/eventlog.h"
#include "attest/quote.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/hex.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *load_tdx_lite(size_t *len)
{
	size_t n;
	uint8_t *j = t_read_vector("dstack/tdx-lite-attestation.json", &n);
	if (!j)
		return NULL;
	json_t *o = json_loadb((const char *)j, n, 0, NULL);
	free(j);
	const char *hex = o ? json_string_value(json_object_get(o, "attestation")) : NULL;
	uint8_t *b = hex ? t_unhex(hex, len) : NULL;
	json_decref(o);
	return b;
}

static int names_are(const struct attestation *a, const char *const *names, size_t n)
{
	if (a->n_runtime_events != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(a->runtime_events[i].event, names[i]) != 0)
			return 0;
	return 1;
}

static const char *const boot_names[] = {"system-preparing", "app-id",	     "compose-hash",
					 "instance-id",	     "boot-mr-done", "os-image-hash",
					 "key-provider",     "storage-fs",   "system-ready"};

/* RTMR3 replay == quote RTMR3 == expected, and report_data == quote REPORTDATA. */
static void check_replay(const struct attestation *a, const char *rtmr3_hex,
			 const char *report_data_hex)
{
	struct tdx_quote q;
	struct err err;
	uint8_t mr[48];
	CHECK_OK(quote_parse(a->quote.p, a->quote.len, &q, &err), &err);
	CHECK_OK(eventlog_replay_runtime(a->runtime_events, a->n_runtime_events, NULL, mr, &err),
		 &err);
	CHECK_HEX(mr, 48, rtmr3_hex);
	CHECK_HEX(q.report.rtmr[3], 48, rtmr3_hex);
	CHECK_HEX(a->report_data.p, a->report_data.len, report_data_hex);
	CHECK(memcmp(q.report.report_data, a->report_data.p, 64) == 0);
}

TEST(test_attestation_tdx_lite_decodes_as_v0)
{
	size_t len;
	uint8_t *b = load_tdx_lite(&len);
	struct attestation a;
	struct err err;
	CHECK(b != NULL);
	CHECK_EQ_INT(len, 7305);
	CHECK_OK(attestation_decode(b, len, &a, &err), &err);
	CHECK_EQ_INT(a.wire_version, 0);
	CHECK_EQ_INT(a.platform, ATT_PLATFORM_TDX);
	CHECK_EQ_STR(attestation_tee_variant(a.platform), "dstack-tdx");
	CHECK_EQ_INT(a.stack, ATT_STACK_DSTACK);
	CHECK_EQ_INT(a.quote.len, 5006);
	CHECK_EQ_INT(a.n_event_log, 12);
	CHECK(names_are(&a, boot_names, 9));
	CHECK(strncmp((const char *)a.config.p,
		      "{\"os_image_hash\":\"e6f5cfec20c02e7b97baa213d0f718020b55e040172d90ccbcb946d"
		      "56c8b09",
		      80) == 0);
	check_replay(&a,
		     "6f24c170d0fd63fc2b1b53202eea47b013978437fa6982cf5e0438ff95c208994aaa0f4ebab2e"
		     "3a66824b5b56869137e",
		     "646970313a3a736563703235366b31632d706b3a41353570576d74654a494a4f6a385f704937"
		     "2d707a654478793147327131384744763838484e526442586b51");
	/* The certificate form: 3 ACPI DATA events, then RTMR3 events without digest. */
	size_t acpi = 0, rt = 0;
	for (size_t i = 0; i < a.n_event_log; i++) {
		if (eventlog_is_acpi_data_event(&a.event_log[i])) {
			acpi++;
			CHECK_EQ_INT(a.event_log[i].digest_len, 48);
		}
		if (a.event_log[i].imr == 3) {
			rt++;
			CHECK_EQ_INT(a.event_log[i].digest_len, 0);
		}
	}
	CHECK_EQ_INT(acpi, 3);
	CHECK_EQ_INT(rt, 9);
	attestation_free(&a);
	free(b);
}

TEST(test_attestation_guest_agent_fixture_decodes_as_v0)
{
	size_t len;
	uint8_t *b = t_read_vector("dstack/guest_agent_attestation_v0.bin", &len);
	struct attestation a;
	struct err err;
	CHECK(b != NULL);
	CHECK_OK(attestation_decode(b, len, &a, &err), &err);
	CHECK_EQ_INT(a.wire_version, 0);
	CHECK_EQ_INT(a.quote.len, 5010);
	CHECK_EQ_INT(a.n_event_log, 33);
	CHECK(names_are(&a, boot_names, 9));
	CHECK(strncmp((const char *)a.config.p,
		      "{\"kms_urls\":[\"https://"
		      "kms.tdxlab.dstack.org:12001\"],\"gateway_urls\":[\"https:/"
		      "/gat",
		      80) == 0);
	check_replay(&a,
		     "f28a1490ee924e9396c2ccf2d93ad536b83cbe159a1d45024d1fd7acdcc102145efcfcd0cfa20"
		     "9416446c70226affadf",
		     "0000000000000000000000000000000000000000000000000000000000000000000000000000"
		     "0000000000000000000000000000000000000000000000000000");
	attestation_free(&a);
	free(b);
}

TEST(test_attestation_v0_reencodes_to_the_same_bytes)
{
	const char *files[] = {"dstack/guest_agent_attestation_v0.bin",
			       "derived/tdx_lite_attestation_v0.bin", "mock/attestation_v0_A.bin"};
	for (size_t i = 0; i < 3; i++) {
		size_t len;
		uint8_t *b = t_read_vector(files[i], &len);
		struct attestation a;
		struct err err;
		struct buf out = BUF_INIT;
		CHECK(b != NULL);
		CHECK_OK(attestation_decode(b, len, &a, &err), &err);
		CHECK_OK(attestation_encode(&a, &out, &err), &err);
		CHECK_MSG(out.len == len && memcmp(out.p, b, len) == 0, "%s differs", files[i]);
		buf_free(&out);
		attestation_free(&a);
		free(b);
	}
}

TEST(test_attestation_strip_keeps_acpi_and_rtmr3_events)
{
	size_t len;
	uint8_t *b = t_read_vector("dstack/guest_agent_attestation_v0.bin", &len);
	struct attestation a, orig;
	struct err err;
	CHECK(b != NULL);
	CHECK_OK(attestation_decode(b, len, &a, &err), &err);
	CHECK_OK(attestation_decode(b, len, &orig, &err), &err);
	size_t acpi = 0, imr3 = 0;
	for (size_t i = 0; i < orig.n_event_log; i++) {
		acpi += eventlog_is_acpi_data_event(&orig.event_log[i]);
		imr3 += orig.event_log[i].imr == 3;
	}
	CHECK_EQ_INT(acpi, 3);
	CHECK_EQ_INT(imr3, 9);
	attestation_strip(&a);
	CHECK_EQ_INT(a.n_event_log, acpi + imr3);
	for (size_t i = 0, j = 0; i < orig.n_event_log; i++) {
		const struct tdx_event *o = &orig.event_log[i];
		if (!eventlog_is_acpi_data_event(o) && o->imr != 3)
			continue;
		const struct tdx_event *s = &a.event_log[j++];
		CHECK_EQ_STR(s->event, o->event);
		CHECK_EQ_INT(s->imr, o->imr);
		if (o->imr == 3) { /* runtime: payload kept, digest emptied */
			CHECK_EQ_INT(s->digest_len, 0);
			CHECK(s->payload_len == o->payload_len &&
			      memcmp(s->payload, o->payload, o->payload_len) == 0);
		} else { /* ACPI DATA: digest kept */
			CHECK(s->digest_len == 48 && memcmp(s->digest, o->digest, 48) == 0);
			CHECK(s->payload_len == 9 && memcmp(s->payload, "ACPI DATA", 9) == 0);
		}
	}
	/* Runtime events are untouched; the stripped form re-encodes and decodes. */
	CHECK_EQ_INT(a.n_runtime_events, orig.n_runtime_events);
	struct buf out = BUF_INIT;
	struct attestation again;
	CHECK_OK(attestation_encode(&a, &out, &err), &err);
	CHECK(out.len < len);
	CHECK_OK(attestation_decode(out.p, out.len, &again, &err), &err);
	CHECK_EQ_INT(again.n_event_log, 12);
	attestation_free(&again);
	buf_free(&out);
	attestation_free(&a);
	attestation_free(&orig);
	free(b);
}

TEST(test_attestation_strip_of_certificate_form_is_identity)
{
	/* tdx-lite is upstream's own stripped output: stripping it again changes nothing. */
	size_t len;
	uint8_t *b = load_tdx_lite(&len);
	struct attestation a;
	struct err err;
	struct buf out = BUF_INIT;
	CHECK(b != NULL);
	CHECK_OK(attestation_decode(b, len, &a, &err), &err);
	attestation_strip(&a);
	CHECK_OK(attestation_encode(&a, &out, &err), &err);
	CHECK(out.len == len && memcmp(out.p, b, len) == 0);
	buf_free(&out);
	attestation_free(&a);
	free(b);
}

/* ---- V1: bytes written by hand from the MessagePack format table ---- */

static void raw(struct buf *b, const char *hex)
{
	(void)hex_decode(hex, strlen(hex), b);
}

static void fixstr(struct buf *b, const char *s)
{
	(void)buf_append_byte(b, (uint8_t)(0xa0 | strlen(s)));
	(void)buf_append_str(b, s);
}

/* report_data as: fixints 0..63 (rmp's own form), the same with the first two
 * elements written as uint8 (wider than needed; still valid), or bin. */
enum rd_form { RD_INTS, RD_WIDE_INTS, RD_BIN };

static uint8_t *find(struct buf *b, const void *needle, size_t n)
{
	for (size_t i = 0; i + n <= b->len; i++)
		if (memcmp(b->p + i, needle, n) == 0)
			return b->p + i;
	return NULL;
}

/* {"version":V,"platform":{"kind":"tdx","data":{"quote":[9],"event_log":[E]}},
 *  "stack":{"kind":"dstack","data":{"report_data":RD,"runtime_events":[R],"config":"{}"}}}
 * E = {imr:3, event_type:0x08000001, digest:bin(), event:"a", event_payload:bin(01),
 *      version:2, preimage:"00"}; R = {event:"a", payload:bin(01), version:2}. */
static void build_v1(struct buf *b, int version, enum rd_form rd, int data_first)
{
	buf_reset(b);
	raw(b, "83");
	fixstr(b, "version");
	(void)buf_append_byte(b, (uint8_t)version);
	fixstr(b, "platform");
	raw(b, "82");
	if (!data_first) {
		fixstr(b, "kind");
		fixstr(b, "tdx");
	}
	fixstr(b, "data");
	raw(b, "82");
	fixstr(b, "quote");
	raw(b, "9109");
	fixstr(b, "event_log");
	raw(b, "9187");
	fixstr(b, "imr");
	raw(b, "03");
	fixstr(b, "event_type");
	raw(b, "ce08000001");
	fixstr(b, "digest");
	raw(b, "c400");
	fixstr(b, "event");
	fixstr(b, "a");
	fixstr(b, "event_payload");
	raw(b, "c40101");
	fixstr(b, "version");
	raw(b, "02");
	fixstr(b, "preimage");
	fixstr(b, "00");
	if (data_first) {
		fixstr(b, "kind");
		fixstr(b, "tdx");
	}
	fixstr(b, "stack");
	raw(b, "82");
	fixstr(b, "kind");
	fixstr(b, "dstack");
	fixstr(b, "data");
	raw(b, "83");
	fixstr(b, "report_data");
	if (rd == RD_INTS || rd == RD_WIDE_INTS) {
		raw(b, "dc0040");
		for (int i = 0; i < 64; i++) {
			if (rd == RD_WIDE_INTS && i < 2)
				(void)buf_append_byte(b, 0xcc);
			(void)buf_append_byte(b, (uint8_t)i);
		}
	} else {
		raw(b, "c440");
		for (int i = 0; i < 64; i++)
			(void)buf_append_byte(b, (uint8_t)i);
	}
	fixstr(b, "runtime_events");
	raw(b, "9183");
	fixstr(b, "event");
	fixstr(b, "a");
	fixstr(b, "payload");
	raw(b, "c40101");
	fixstr(b, "version");
	raw(b, "02");
	fixstr(b, "config");
	fixstr(b, "{}");
}

static void check_v1_fields(const struct attestation *a)
{
	CHECK_EQ_INT(a->wire_version, 1);
	CHECK_EQ_INT(a->platform, ATT_PLATFORM_TDX);
	CHECK_EQ_INT(a->stack, ATT_STACK_DSTACK);
	CHECK_HEX(a->quote.p, a->quote.len, "09");
	CHECK_EQ_INT(a->n_event_log, 1);
	CHECK_EQ_INT(a->event_log[0].imr, 3);
	CHECK_EQ_INT(a->event_log[0].event_type, 0x08000001);
	CHECK_EQ_INT(a->event_log[0].digest_len, 0);
	CHECK_EQ_STR(a->event_log[0].event, "a");
	CHECK_HEX(a->event_log[0].payload, a->event_log[0].payload_len, "01");
	CHECK_EQ_INT(a->event_log[0].version, 2);
	CHECK_EQ_STR(a->event_log[0].preimage, "00");
	CHECK_EQ_INT(a->n_runtime_events, 1);
	CHECK_EQ_STR(a->runtime_events[0].event, "a");
	CHECK_EQ_INT(a->runtime_events[0].version, 2);
	CHECK_EQ_INT(a->report_data.len, 64);
	for (int i = 0; i < 64; i++)
		CHECK_EQ_INT(a->report_data.p[i], i);
	CHECK_EQ_STR((const char *)a->config.p, "{}");
}

TEST(test_attestation_v1_decodes_int_array_and_bin_bytes)
{
	struct buf b = BUF_INIT;
	struct attestation a;
	struct err err;
	build_v1(&b, 1, RD_BIN, 0);
	CHECK_OK(attestation_decode(b.p, b.len, &a, &err), &err);
	check_v1_fields(&a);
	attestation_free(&a);
	build_v1(&b, 1, RD_INTS, 1); /* also "data" before "kind" */
	CHECK_OK(attestation_decode(b.p, b.len, &a, &err), &err);
	check_v1_fields(&a);
	attestation_free(&a);
	build_v1(&b, 1, RD_WIDE_INTS, 0);
	CHECK_OK(attestation_decode(b.p, b.len, &a, &err), &err);
	check_v1_fields(&a);
	attestation_free(&a);
	buf_free(&b);
}

TEST(test_attestation_v1_encoder_writes_the_schema_bytes)
{
	/* Decode the hand-written bytes (report_data as plain ints, the serde
	 * default) and re-encode: the encoder must give back the same bytes. */
	struct buf b = BUF_INIT, out = BUF_INIT;
	struct attestation a;
	struct err err;
	build_v1(&b, 1, RD_INTS, 0);
	CHECK_OK(attestation_decode(b.p, b.len, &a, &err), &err);
	CHECK_OK(attestation_encode(&a, &out, &err), &err);
	CHECK(out.len == b.len && memcmp(out.p, b.p, b.len) == 0);
	attestation_free(&a);
	buf_free(&out);
	buf_free(&b);
}

TEST(test_attestation_v1_rejects_wrong_version_and_schema_errors)
{
	struct buf b = BUF_INIT;
	struct attestation a;
	struct err err;
	build_v1(&b, 2, RD_BIN, 0);
	CHECK_FAILS(attestation_decode(b.p, b.len, &a, &err));
	CHECK_CONTAINS(err.msg, "unsupported attestation version: expected 1, got 2");
	build_v1(&b, 0, RD_BIN, 0);
	CHECK_FAILS(attestation_decode(b.p, b.len, &a, &err));
	/* Trailing byte. */
	build_v1(&b, 1, RD_BIN, 0);
	(void)buf_append_byte(&b, 0xc0);
	CHECK_FAILS(attestation_decode(b.p, b.len, &a, &err));
	CHECK_CONTAINS(err.msg, "trailing bytes");
	/* Map claims 4 entries: an unknown key is skipped... */
	build_v1(&b, 1, RD_BIN, 0);
	b.p[0] = 0x84;
	fixstr(&b, "extra");
	raw(&b, "92c0a0");
	CHECK_OK(attestation_decode(b.p, b.len, &a, &err), &err);
	attestation_free(&a);
	/* ...but a duplicate known key is an error. */
	build_v1(&b, 1, RD_BIN, 0);
	b.p[0] = 0x84;
	fixstr(&b, "version");
	raw(&b, "01");
	CHECK_FAILS(attestation_decode(b.p, b.len, &a, &err));
	CHECK_CONTAINS(err.msg, "duplicate field");
	/* Missing "stack". */
	buf_reset(&b);
	raw(&b, "81");
	fixstr(&b, "version");
	raw(&b, "01");
	CHECK_FAILS(attestation_decode(b.p, b.len, &a, &err));
	CHECK_CONTAINS(err.msg, "missing field");
	/* Byte arrays must hold u8 values only: quote [9] → [-1] and [256]. */
	static const char *const bad_elems[] = {"d0ff", "cd0100", "c0"};
	for (size_t i = 0; i < 3; i++) {
		struct buf m = BUF_INIT;
		build_v1(&b, 1, RD_BIN, 0);
		uint8_t *q = find(&b, "\x91\x09", 2);
		CHECK(q != NULL);
		size_t at = (size_t)(q - b.p) + 1;
		(void)buf_append(&m, b.p, at);
		raw(&m, bad_elems[i]);
		(void)buf_append(&m, b.p + at + 1, b.len - at - 1);
		CHECK_FAILS(attestation_decode(m.p, m.len, &a, &err));
		CHECK_CONTAINS(err.msg, "expected bytes");
		buf_free(&m);
	}
	buf_free(&b);
}

TEST(test_attestation_v1_dstack_pod_and_other_kinds)
{
	struct buf b = BUF_INIT;
	struct attestation a;
	struct err err;
	/* {"version":1,"platform":{"kind":"nitro-enclave","data":{"nsm_quote":bin(aa)}},
	 *  "stack":{"kind":"dstack-pod","data":{"report_data":bin(00),"runtime_events":[],
	 *  "config":"","report_data_payload":"p"}}} */
	raw(&b, "83");
	fixstr(&b, "version");
	raw(&b, "01");
	fixstr(&b, "platform");
	raw(&b, "82");
	fixstr(&b, "kind");
	fixstr(&b, "nitro-enclave");
	fixstr(&b, "data");
	raw(&b, "81");
	fixstr(&b, "nsm_quote");
	raw(&b, "c401aa");
	fixstr(&b, "stack");
	raw(&b, "82");
	fixstr(&b, "kind");
	fixstr(&b, "dstack-pod");
	fixstr(&b, "data");
	raw(&b, "84");
	fixstr(&b, "report_data");
	raw(&b, "c40100");
	fixstr(&b, "runtime_events");
	raw(&b, "90");
	fixstr(&b, "config");
	fixstr(&b, "");
	fixstr(&b, "report_data_payload");
	fixstr(&b, "p");
	CHECK_OK(attestation_decode(b.p, b.len, &a, &err), &err);
	CHECK_EQ_INT(a.platform, ATT_PLATFORM_NITRO_ENCLAVE);
	CHECK_HEX(a.other.p, a.other.len, "aa");
	CHECK_EQ_INT(a.stack, ATT_STACK_DSTACK_POD);
	CHECK_EQ_STR((const char *)a.report_data_payload.p, "p");
	CHECK_EQ_INT(a.report_data.len, 1);
	/* V0 cannot carry a pod stack. */
	struct buf out = BUF_INIT;
	a.wire_version = 0;
	CHECK_FAILS(attestation_encode(&a, &out, &err));
	CHECK_CONTAINS(err.msg, "dstack-pod");
	a.wire_version = 1;
	struct attestation again;
	CHECK_OK(attestation_encode(&a, &out, &err), &err);
	CHECK_OK(attestation_decode(out.p, out.len, &again, &err), &err);
	CHECK_EQ_STR((const char *)again.report_data_payload.p, "p");
	attestation_free(&again);
	buf_free(&out);
	attestation_free(&a);
	/* Unknown platform kind and the unsupported gcp-tdx. */
	uint8_t *k = find(&b, "nitro-enclave", 13);
	CHECK(k != NULL);
	memcpy(k, "nitro-enclavX", 13);
	CHECK_FAILS(attestation_decode(b.p, b.len, &a, &err));
	CHECK_CONTAINS(err.msg, "unknown variant");
	buf_free(&b);
}

TEST(test_attestation_v0_to_v1_round_trip)
{
	size_t len;
	uint8_t *b = t_read_vector("dstack/guest_agent_attestation_v0.bin", &len);
	struct attestation a, v1;
	struct err err;
	struct buf out = BUF_INIT, back = BUF_INIT;
	CHECK(b != NULL);
	CHECK_OK(attestation_decode(b, len, &a, &err), &err);
	a.wire_version = 1;
	CHECK_OK(attestation_encode(&a, &out, &err), &err);
	CHECK(out.p[0] == 0x83);
	CHECK_OK(attestation_decode(out.p, out.len, &v1, &err), &err);
	CHECK_EQ_INT(v1.wire_version, 1);
	v1.wire_version = 0;
	CHECK_OK(attestation_encode(&v1, &back, &err), &err);
	CHECK(back.len == len && memcmp(back.p, b, len) == 0);
	/* A V2 runtime event cannot go back to V0. */
	v1.runtime_events[0].version = 2;
	buf_reset(&back);
	CHECK_FAILS(attestation_encode(&v1, &back, &err));
	CHECK_CONTAINS(err.msg, "non-V1 runtime events");
	attestation_free(&v1);
	attestation_free(&a);
	buf_free(&out);
	buf_free(&back);
	free(b);
}

TEST(test_attestation_unknown_format_byte_is_rejected)
{
	static const uint8_t firsts[] = {0x01, 0x7f, 0x90, 0x9f, 0xa0, 0xc0, 0xdc, 0xdd, 0xff};
	for (size_t i = 0; i < sizeof firsts; i++) {
		uint8_t in[4] = {firsts[i], 0, 0, 0};
		struct attestation a;
		struct err err;
		CHECK_FAILS(attestation_decode(in, sizeof in, &a, &err));
		CHECK_EQ_STR(err.msg, "Unknown attestation wire format");
	}
	struct attestation a;
	struct err err;
	CHECK_FAILS(attestation_decode((const uint8_t *)"", 0, &a, &err));
}

TEST(test_attestation_truncated_at_every_length_fails)
{
	size_t len;
	uint8_t *b = load_tdx_lite(&len);
	CHECK(b != NULL);
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *p = malloc(cut ? cut : 1); /* exact-size copy for ASan */
		CHECK(p != NULL);
		memcpy(p, b, cut);
		struct attestation a;
		struct err err;
		int rc = attestation_decode(p, cut, &a, &err);
		free(p);
		CHECK_MSG(rc < 0, "a %zu-byte prefix decoded", cut);
	}
	/* And a V1 encoding truncated everywhere. */
	struct attestation a;
	struct err err;
	struct buf v1 = BUF_INIT;
	CHECK_OK(attestation_decode(b, len, &a, &err), &err);
	a.wire_version = 1;
	CHECK_OK(attestation_encode(&a, &v1, &err), &err);
	attestation_free(&a);
	for (size_t cut = 1; cut < v1.len; cut += 7) {
		struct attestation t;
		CHECK_MSG(attestation_decode(v1.p, cut, &t, &err) < 0, "V1 prefix %zu decoded",
			  cut);
	}
	buf_free(&v1);
	free(b);
}

TEST(test_attestation_v0_rejects_trailing_bytes_and_bad_variants)
{
	size_t len;
	uint8_t *b = load_tdx_lite(&len);
	CHECK(b != NULL);
	uint8_t *p = malloc(len + 1);
	CHECK(p != NULL);
	memcpy(p, b, len);
	p[len] = 0;
	struct attestation a;
	struct err err;
	CHECK_FAILS(attestation_decode(p, len + 1, &a, &err));
	CHECK_CONTAINS(err.msg, "Trailing bytes");
	p[1] = 1; /* DstackGcpTdx */
	CHECK_FAILS(attestation_decode(p, len, &a, &err));
	CHECK_CONTAINS(err.msg, "gcp-tdx");
	p[1] = 5;
	CHECK_FAILS(attestation_decode(p, len, &a, &err));
	CHECK_CONTAINS(err.msg, "unknown attestation quote variant");
	/* A corrupted quote length prefix (two-byte mode flipped to four-byte). */
	memcpy(p, b, len);
	p[2] = (uint8_t)((p[2] & ~3) | 2);
	CHECK_FAILS(attestation_decode(p, len, &a, &err));
	free(p);
	free(b);
	/* Non-canonical compact (0 in two-byte mode) as the runtime-event count:
	 * 00 00 | quote 00 | events 00 | 01 00 | report_data | config 00. */
	uint8_t nc[6 + 64 + 1] = {0, 0, 0, 0, 0x01, 0x00};
	CHECK_FAILS(attestation_decode(nc, sizeof nc, &a, &err));
	CHECK_CONTAINS(err.msg, "non-canonical");
	nc[4] = 0;
	nc[5] = 0;
	CHECK_FAILS(attestation_decode(nc, sizeof nc, &a, &err)); /* one trailing byte */
	CHECK_OK(attestation_decode(nc, sizeof nc - 1, &a, &err), &err);
	attestation_free(&a);
}

TEST(test_attestation_rejects_inputs_over_ten_mib)
{
	size_t big = ATTESTATION_MAX_BYTES + 1;
	uint8_t *p = calloc(1, big);
	struct attestation a;
	struct err err;
	CHECK(p != NULL);
	CHECK_FAILS(attestation_decode(p, big, &a, &err));
	CHECK_CONTAINS(err.msg, "too large");
	free(p);
}

TEST(test_attestation_legacy_quote_and_event_log)
{
	size_t ql, ll;
	uint8_t *q = t_read_vector("derived/quote_report_quote.bin", &ql);
	uint8_t *log = t_read_vector("derived/quote_report_event_log.json", &ll);
	struct attestation a;
	struct err err;
	CHECK(q && log);
	CHECK_OK(attestation_from_quote_and_event_log(q, ql, log, ll, &a, &err), &err);
	CHECK_EQ_INT(a.wire_version, 0);
	CHECK_EQ_INT(a.platform, ATT_PLATFORM_TDX);
	CHECK_EQ_INT(a.n_event_log, 28);
	CHECK_EQ_INT(a.n_runtime_events, 8);
	CHECK_EQ_STR(a.runtime_events[7].event, "LIUM_MINER_HOTKEY");
	CHECK_EQ_INT(a.config.len, 0);
	CHECK_HEX(a.report_data.p, a.report_data.len,
		  "1234000000000000000000000000000000000000000000000000000000000000000000000000000"
		  "0000000000000000000000000000000000000000000000000");
	attestation_free(&a);
	/* A broken quote or event log is an error. */
	CHECK_FAILS(attestation_from_quote_and_event_log(q, 100, log, ll, &a, &err));
	CHECK_CONTAINS(err.msg, "Invalid TDX quote");
	CHECK_FAILS(attestation_from_quote_and_event_log(q, ql, log, ll - 3, &a, &err));
	CHECK_CONTAINS(err.msg, "tdx_event_log");
	free(q);
	free(log);
}
