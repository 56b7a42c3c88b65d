/*
 * test_image_lite.c — TDX lite image verification on the real boot in
 * tests/vectors/dstack/tdx-lite-getquote.json (its quote's MRTD and RTMR0-2
 * are the expected values: they come from the TDX module, not from this
 * code), then one refusal per check, each with its reason. The quote is
 * parsed only; its DCAP verdict is not part of image verification.
 */
#define _GNU_SOURCE
#include "harness.h"

#include "attest/eventlog.h"
#include "attest/image_lite.h"
#include "attest/quote.h"
#include "util/buf.h"
#include "util/hex.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

struct lite_case {
	json_t *vm; /* the vm_config object */
	struct buf quote;
	struct tdx_quote q;
	json_t *events; /* the event log array */
};

static int load(struct lite_case *c)
{
	size_t n;
	uint8_t *j = t_read_vector("dstack/tdx-lite-getquote.json", &n);
	struct err e = {0};
	memset(c, 0, sizeof *c);
	if (!j)
		return -1;
	json_t *o = json_loadb((const char *)j, n, 0, NULL);
	free(j);
	if (!o)
		return -1;
	const char *qh = json_string_value(json_object_get(o, "quote"));
	const char *el = json_string_value(json_object_get(o, "event_log"));
	const char *vc = json_string_value(json_object_get(o, "vm_config"));
	int rc = -1;
	if (qh && el && vc && hex_decode(qh, strlen(qh), &c->quote) == 0 &&
	    quote_parse(c->quote.p, c->quote.len, &c->q, &e) == 0 &&
	    (c->events = json_loads(el, 0, NULL)) && (c->vm = json_loads(vc, 0, NULL)))
		rc = 0;
	json_decref(o);
	return rc;
}

static void drop(struct lite_case *c)
{
	json_decref(c->vm);
	json_decref(c->events);
	buf_free(&c->quote);
}

/* verify the case as it now stands; 0 or -1 with the message in e */
static int run(struct lite_case *c, struct err *e)
{
	char *vm = json_dumps(c->vm, JSON_COMPACT);
	char *el = json_dumps(c->events, JSON_COMPACT);
	struct tdx_event *ev = NULL;
	size_t n = 0;
	int rc = -1;
	if (vm && el && eventlog_parse_json(el, strlen(el), &ev, &n, e) == 0)
		rc = image_lite_verify(vm, strlen(vm), &c->q.report, ev, n, e);
	eventlog_tdx_events_free(ev, n);
	free(vm);
	free(el);
	return rc;
}

static json_t *doc(struct lite_case *c)
{
	return json_object_get(c->vm, "tdx_measurement");
}

static void b64_set(json_t *o, const char *key, const uint8_t *p, size_t n)
{
	char *s = malloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	json_object_set_new(o, key, json_string(s));
	free(s);
}

static size_t b64_get(json_t *o, const char *key, uint8_t *out, size_t cap)
{
	const char *s = json_string_value(json_object_get(o, key));
	int n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)strlen(s));
	size_t len = strlen(s);
	size_t pad = len > 1 && s[len - 1] == '=' ? (s[len - 2] == '=' ? 2 : 1) : 0;
	return n < 0 || (size_t)n > cap ? 0 : (size_t)n - pad;
}

/* re-bind a changed measurement: a checksum file listing it and the
 * os_image_hash of that file, so only the registers can disagree */
static void rebind(struct lite_case *c, const uint8_t *m, size_t mlen)
{
	uint8_t h[32], img[32];
	char hx[65], line[128], ix[65];
	EVP_Digest(m, mlen, h, NULL, EVP_sha256(), NULL);
	hex_encode(h, 32, hx);
	snprintf(line, sizeof line, "%s  measurement.tdx.cbor\n", hx);
	b64_set(doc(c), "measurement", m, mlen);
	b64_set(doc(c), "checksum_file", (const uint8_t *)line, strlen(line));
	EVP_Digest(line, strlen(line), img, NULL, EVP_sha256(), NULL);
	hex_encode(img, 32, ix);
	json_object_set_new(c->vm, "os_image_hash", json_string(ix));
}

#define WITH_CASE(c)                                                                               \
	struct lite_case c;                                                                        \
	CHECK(load(&c) == 0);                                                                      \
	if (!c.vm) {                                                                               \
		drop(&c);                                                                          \
		return;                                                                            \
	}

TEST(test_image_lite_real_boot_verifies)
{
	WITH_CASE(c);
	struct err e = {0};
	CHECK_OK(run(&c, &e), &e);
	drop(&c);
}

TEST(test_image_lite_checksum_file_of_another_image)
{
	WITH_CASE(c);
	struct err e = {0};
	uint8_t cf[512];
	size_t n = b64_get(doc(&c), "checksum_file", cf, sizeof cf);
	CHECK(n > 10);
	cf[0] ^= 1; /* another image's checksum file: os_image_hash no longer matches */
	b64_set(doc(&c), "checksum_file", cf, n);
	CHECK_FAILS(run(&c, &e));
	CHECK_CONTAINS(err_msg(&e),
		       "tdx lite measurement material does not match os_image_hash: "
		       "os_image_hash mismatch: expected sha256(sha256sum.txt)=e6f5cfec");
	drop(&c);
}

TEST(test_image_lite_os_image_hash_claim_of_another_image)
{
	WITH_CASE(c);
	struct err e = {0};
	json_object_set_new(
	    c.vm, "os_image_hash",
	    json_string("00f5cfec20c02e7b97baa213d0f718020b55e040172d90ccbcb946d56c8b09db"));
	CHECK_FAILS(run(&c, &e));
	CHECK_CONTAINS(err_msg(&e), "os_image_hash mismatch");
	drop(&c);
}

TEST(test_image_lite_measurement_not_listed_in_checksum_file)
{
	WITH_CASE(c);
	struct err e = {0};
	uint8_t m[1024];
	size_t n = b64_get(doc(&c), "measurement", m, sizeof m);
	CHECK_EQ_INT(n, 384);
	m[n - 1] ^= 1;
	b64_set(doc(&c), "measurement", m, n);
	CHECK_FAILS(run(&c, &e));
	CHECK_CONTAINS(err_msg(&e), "measurement.tdx.cbor hash mismatch: sha256sum.txt=8c9e955f");
	drop(&c);
}

TEST(test_image_lite_rebound_measurement_with_other_initrd_fails_rtmr2)
{
	WITH_CASE(c);
	struct err e = {0};
	uint8_t m[1024];
	size_t n = b64_get(doc(&c), "measurement", m, sizeof m);
	/* the initrd_sha384 byte string follows its key and the 0x58 0x30 head */
	uint8_t *k = memmem(m, n, "initrd_sha384", 13);
	CHECK(k != NULL);
	if (!k) {
		drop(&c);
		return;
	}
	CHECK(k[13] == 0x58 && k[14] == 0x30);
	k[15] ^= 0xff;
	rebind(&c, m, n);
	CHECK_FAILS(run(&c, &e));
	CHECK_CONTAINS(err_msg(&e), "MRs do not match: RTMR2 mismatch");
	drop(&c);
}

TEST(test_image_lite_other_qemu_selects_other_mrtd)
{
	WITH_CASE(c);
	struct err e = {0};
	/* QEMU 9 adds pages in one pass: the single-pass candidate is not this boot's */
	json_object_set_new(c.vm, "qemu_version", json_string("9.1.0"));
	CHECK_FAILS(run(&c, &e));
	CHECK_CONTAINS(err_msg(&e), "MRs do not match: MRTD mismatch");
	json_object_set_new(c.vm, "qemu_version", json_string("7.2.0"));
	CHECK_FAILS(run(&c, &e));
	CHECK_CONTAINS(err_msg(&e), "Unsupported QEMU version: 7.2.0");
	drop(&c);
}

TEST(test_image_lite_memory_size_bounds_and_td_hob)
{
	WITH_CASE(c);
	struct err e = {0};
	json_object_set_new(c.vm, "memory_size", json_integer(1073741824));
	CHECK_FAILS(run(&c, &e));
	CHECK_CONTAINS(err_msg(&e), "requires memory_size == 2147483648 bytes (2048 MiB) or >= "
				    "2952790016 bytes (2816 MiB); got 1073741824 bytes");
	/* 4 GiB is allowed, but the TD HOB then describes other memory */
	json_object_set_new(c.vm, "memory_size", json_integer(4294967296));
	CHECK_FAILS(run(&c, &e));
	CHECK_CONTAINS(err_msg(&e), "MRs do not match: RTMR0 mismatch");
	drop(&c);
}

TEST(test_image_lite_acpi_events_by_name)
{
	WITH_CASE(c);
	struct err e = {0};
	size_t i;
	json_t *ev, *loader = NULL;
	json_array_foreach(c.events, i, ev)
	{
		const char *name = json_string_value(json_object_get(ev, "event"));
		if (name && !strcmp(name, "acpi-loader"))
			loader = ev;
	}
	CHECK(loader != NULL);
	if (!loader) {
		drop(&c);
		return;
	}
	/* a changed ACPI digest changes RTMR0 */
	char *d = strdup(json_string_value(json_object_get(loader, "digest")));
	d[0] = d[0] == '0' ? '1' : '0';
	json_object_set_new(loader, "digest", json_string(d));
	CHECK_FAILS(run(&c, &e));
	CHECK_CONTAINS(err_msg(&e), "RTMR0 mismatch");
	/* a renamed event leaves acpi-loader missing */
	json_object_set_new(loader, "event", json_string("acpi-rsdp"));
	CHECK_FAILS(run(&c, &e));
	CHECK_CONTAINS(err_msg(&e),
		       "TDX lite attestation is missing named RTMR0 ACPI DATA digests: "
		       "TDX lite attestation requires exactly one RTMR0 ACPI DATA event "
		       "named acpi-loader; found 0");
	/* another payload: no longer a candidate */
	json_object_set_new(loader, "event_payload", json_string("00"));
	CHECK_FAILS(run(&c, &e));
	CHECK_CONTAINS(err_msg(&e),
		       "requires exactly 3 RTMR0 ACPI DATA events; found 2 candidates");
	free(d);
	drop(&c);
}

TEST(test_image_lite_document_required_and_decoded)
{
	WITH_CASE(c);
	struct err e = {0};
	uint8_t m[1024];
	size_t n = b64_get(doc(&c), "measurement", m, sizeof m);
	/* version 3 → 4: `version` is the first key, its value 0x03 follows */
	CHECK(m[0] == 0xa3 && m[1] == 0x67 && !memcmp(m + 2, "version", 7) && m[9] == 0x03);
	m[9] = 0x04;
	rebind(&c, m, n);
	CHECK_FAILS(run(&c, &e));
	CHECK_CONTAINS(err_msg(&e), "failed to decode vm_config.tdx_measurement CBOR: "
				    "TdxOsImageMeasurement: unsupported version 4, expected 3");
	/* a truncated document */
	m[9] = 0x03;
	rebind(&c, m, n - 5);
	CHECK_FAILS(run(&c, &e));
	CHECK_CONTAINS(err_msg(&e), "failed to decode vm_config.tdx_measurement CBOR");
	/* an indefinite-length map */
	m[0] = 0xbf;
	rebind(&c, m, n);
	CHECK_FAILS(run(&c, &e));
	CHECK_CONTAINS(err_msg(&e), "indefinite lengths are not supported");
	/* no document */
	json_object_del(c.vm, "tdx_measurement");
	CHECK_FAILS(run(&c, &e));
	CHECK_CONTAINS(err_msg(&e), "tdx lite attestation requires vm_config.tdx_measurement");
	drop(&c);
}

TEST(test_image_lite_variant_detection)
{
	struct err e = {0};
	CHECK_EQ_INT(image_lite_is_lite("{\"tdx_attestation_variant\":\"lite\"}", 34, &e), 1);
	CHECK_EQ_INT(image_lite_is_lite("{\"tdx_attestation_variant\":\"legacy\"}", 36, &e), 0);
	CHECK_EQ_INT(image_lite_is_lite("{}", 2, &e), 0);
	CHECK_EQ_INT(image_lite_is_lite("[1]", 3, &e), -1);
	CHECK_CONTAINS(err_msg(&e), "not a JSON object");
}
