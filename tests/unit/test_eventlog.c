/*
 * test_eventlog.c — event logs (attest/eventlog.h): runtime-event digests V1
 * and V2 (expected digests computed independently with Python hashlib; the
 * canonical JSON strings are upstream's own test expectations), the
 * quote-report.json replay of all four RTMRs and the boot-mr-done snapshot
 * (tests/vectors/expected.json), the CCEL parse against upstream's snapshot,
 * V2 preimage validation and hostile inputs.
 */
#include "harness.h"

#include "attest/eventlog.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/hex.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void make_event(struct runtime_event *e, const char *name, const uint8_t *p, size_t n,
		       int version)
{
	e->event = (char *)name;
	e->event_len = strlen(name);
	e->payload = (uint8_t *)p;
	e->payload_len = n;
	e->version = version;
}

TEST(test_eventlog_v1_digest_is_sha384_of_type_name_payload)
{
	const uint8_t payload[] = {0xde, 0xad, 0xbe, 0xef};
	struct runtime_event e;
	struct err err;
	uint8_t d[48];
	make_event(&e, "app-id", payload, sizeof payload, 1);
	CHECK_OK(eventlog_runtime_digest(&e, d, &err), &err);
	CHECK_HEX(d, 48,
		  "67b4be4efed0893cfa2bb1d35dca209ad8348b4c97f980807bcde8b9a0f26398dd0923d6eccb5aa"
		  "2096d98046da8740f");
	struct buf pre = BUF_INIT;
	CHECK(eventlog_runtime_preimage("app-id", 6, payload, sizeof payload, 1, &pre) == 0);
	CHECK_HEX(pre.p, pre.len, "010000083a6170702d69643adeadbeef");
	buf_free(&pre);
}

TEST(test_eventlog_v2_digest_is_sha384_of_canonical_json)
{
	const uint8_t payload[] = {0xab, 0xcd};
	struct runtime_event e;
	struct err err;
	uint8_t d[48];
	struct buf pre = BUF_INIT;
	make_event(&e, "compose-hash", payload, sizeof payload, 2);
	CHECK(eventlog_runtime_preimage(e.event, e.event_len, payload, 2, 2, &pre) == 0);
	CHECK_EQ_STR(buf_str(&pre),
		     "{\"name\":\"compose-hash\",\"payload\":\"abcd\",\"type\":134217729}");
	CHECK_OK(eventlog_runtime_digest(&e, d, &err), &err);
	CHECK_HEX(d, 48,
		  "9dde1673f544faa94b921825209593ddde08d0baf9cd6990175dffaf3081f1bb10311d56de18949"
		  "1feb33842a050ad7b");
	buf_free(&pre);
}

/* Upstream's canonical_json_* test expectations (cc-eventlog runtime_events.rs). */
TEST(test_eventlog_v2_json_uses_rfc8785_string_escaping)
{
	struct buf b = BUF_INIT;
	const uint8_t ff = 0xff;
	const char *name = "event\"with\\special\nchars";
	CHECK(eventlog_v2_json(name, strlen(name), &ff, 1, &b) == 0);
	CHECK_EQ_STR(buf_str(&b), "{\"name\":\"event\\\"with\\\\special\\nchars\",\"payload\":"
				  "\"ff\",\"type\":134217729}");
	buf_reset(&b);
	const char ctl[] = "\x08\x0c\n\r\t\x01\x1f\x7f";
	CHECK(eventlog_v2_json(ctl, sizeof ctl - 1, NULL, 0, &b) == 0);
	CHECK_EQ_STR(
	    buf_str(&b),
	    "{\"name\":\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\",\"payload\":\"\",\"type\":134217729}");
	buf_reset(&b);
	CHECK(eventlog_v2_json("", 0, NULL, 0, &b) == 0);
	CHECK_EQ_STR(buf_str(&b), "{\"name\":\"\",\"payload\":\"\",\"type\":134217729}");
	buf_reset(&b);
	/* Non-ASCII is emitted verbatim (测试-emoji-🦀); hex is lowercase. */
	const char *u = "\xe6\xb5\x8b\xe8\xaf\x95-emoji-\xf0\x9f\xa6\x80";
	const uint8_t p3[] = {0xAB, 0xCD, 0xEF};
	CHECK(eventlog_v2_json(u, strlen(u), p3, 3, &b) == 0);
	CHECK_EQ_STR(buf_str(&b), "{\"name\":\"\xe6\xb5\x8b\xe8\xaf\x95-emoji-\xf0\x9f\xa6\x80\","
				  "\"payload\":\"abcdef\",\"type\":134217729}");
	buf_free(&b);
}

TEST(test_eventlog_replay_mixes_v1_and_v2_and_stops_at_to_event)
{
	const uint8_t one = 1;
	struct runtime_event ev[3];
	struct err err;
	uint8_t mr[48];
	make_event(&ev[0], "a", NULL, 0, 1);
	make_event(&ev[1], "b", &one, 1, 2);
	make_event(&ev[2], "c", NULL, 0, 1);
	CHECK_OK(eventlog_replay_runtime(ev, 2, NULL, mr, &err), &err);
	CHECK_HEX(mr, 48,
		  "c91b0e94a1e557f14b1ac4a6c17b8513e95efeb9ededa9f5a4038ea889f88576377caf0e27fa6d9"
		  "4642cf621abce8c54");
	CHECK_OK(eventlog_replay_runtime(ev, 3, "a", mr, &err), &err);
	CHECK_HEX(mr, 48,
		  "67885fb864febe08f484e1d74c9b429c9eabecfa9239390213460e31f38eaa3f37592948cbf63ea"
		  "778500cc38e8e4d7b");
	/* A to_event that never occurs replays everything; no events → zeros. */
	uint8_t all[48];
	CHECK_OK(eventlog_replay_runtime(ev, 2, "zzz", all, &err), &err);
	CHECK_HEX(all, 48,
		  "c91b0e94a1e557f14b1ac4a6c17b8513e95efeb9ededa9f5a4038ea889f88576377caf0e27fa6d9"
		  "4642cf621abce8c54");
	CHECK_OK(eventlog_replay_runtime(ev, 0, NULL, mr, &err), &err);
	CHECK_HEX(mr, 48,
		  "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
		  "0000000000000000");
}

static int load_quote_report_log(struct tdx_event **ev, size_t *n, struct err *err)
{
	size_t len;
	uint8_t *j = t_read_vector("derived/quote_report_event_log.json", &len);
	if (!j)
		return err_set(err, "missing vector");
	int rc = eventlog_parse_json(j, len, ev, n, err);
	free(j);
	return rc;
}

TEST(test_eventlog_quote_report_replays_all_four_rtmrs)
{
	struct tdx_event *ev;
	size_t n;
	struct err err;
	uint8_t mr[48];
	static const char *const want[4] = {
	    "2e3843265f8ecdd4e2282694747f6f2f111605c33f2a8882f5734ee6f3a6ce63d8f34aeef06093dcda76f"
	    "a5f9d33d8d6",
	    "a1b79d76021970f57c45c4a7c395f780bab37011a4df27fe44e8559bd1abb4d6e52f12f866d1d08405448"
	    "eb797a5970f",
	    "1e31b59d605df7ee8160cf7966be9bafa6d0e1905de7e09695a24cd9748e71a603a51fae1297619fa0c30"
	    "517addbcd07",
	    "0f787c3877f3e95095d5a4d13dd0fe0233803b30120d8469866719dc28f519ce021fe1e53459121e7a5a4"
	    "443147185a8",
	};
	CHECK_OK(load_quote_report_log(&ev, &n, &err), &err);
	CHECK_EQ_INT(n, 28);
	for (uint32_t i = 0; i < 4; i++) {
		CHECK_OK(eventlog_replay_imr(ev, n, i, mr, &err), &err);
		CHECK_HEX(mr, 48, want[i]);
	}
	/* Every stored RTMR3 digest recomputes with the V1 rule. */
	for (size_t i = 0; i < n; i++) {
		if (ev[i].event_type != EVENTLOG_RUNTIME_EVENT_TYPE)
			continue;
		struct runtime_event re;
		make_event(&re, ev[i].event, ev[i].payload, ev[i].payload_len, ev[i].version);
		re.event_len = ev[i].event_len;
		uint8_t d[48];
		CHECK_OK(eventlog_runtime_digest(&re, d, &err), &err);
		CHECK(ev[i].digest_len == 48 && memcmp(d, ev[i].digest, 48) == 0);
	}
	eventlog_tdx_events_free(ev, n);
}

TEST(test_eventlog_quote_report_runtime_events_and_boot_snapshot)
{
	struct tdx_event *ev;
	struct runtime_event *re;
	size_t n, nre;
	struct err err;
	uint8_t mr[48];
	static const char *const names[] = {"system-preparing", "app-id",	    "compose-hash",
					    "instance-id",	"boot-mr-done",	    "key-provider",
					    "system-ready",	"LIUM_MINER_HOTKEY"};
	CHECK_OK(load_quote_report_log(&ev, &n, &err), &err);
	CHECK_OK(eventlog_runtime_from_tdx(ev, n, &re, &nre, &err), &err);
	CHECK_EQ_INT(nre, 8);
	for (size_t i = 0; i < nre; i++)
		CHECK_EQ_STR(re[i].event, names[i]);
	CHECK_OK(eventlog_replay_runtime(re, nre, "boot-mr-done", mr, &err), &err);
	CHECK_HEX(mr, 48,
		  "cae24527d80a62638ec88377c85cec4d006877126770c69907b575959beb3208cc67faf4295f44e"
		  "0ff605ffbe4c38feb");
	CHECK_OK(eventlog_replay_runtime(re, nre, NULL, mr, &err), &err);
	CHECK_HEX(mr, 48,
		  "0f787c3877f3e95095d5a4d13dd0fe0233803b30120d8469866719dc28f519ce021fe1e53459121"
		  "e7a5a4443147185a8");
	eventlog_runtime_events_free(re, nre);
	eventlog_tdx_events_free(ev, n);
}

static int parse_str(const char *json, struct tdx_event **ev, size_t *n, struct err *err)
{
	return eventlog_parse_json(json, strlen(json), ev, n, err);
}

TEST(test_eventlog_json_optional_fields_and_versions)
{
	struct tdx_event *ev;
	size_t n;
	struct err err;
	CHECK_OK(parse_str("[{\"imr\":3,\"event_type\":134217729,\"event\":\"x\",\"event_payload\":"
			   "\"AB\",\"version\":2,\"preimage\":\"00\",\"unknown\":[1]},"
			   "{\"imr\":0,\"event_type\":1,\"digest\":\"0a\",\"event\":\"\","
			   "\"event_payload\":\"\",\"preimage\":null}]",
			   &ev, &n, &err),
		 &err);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(ev[0].digest_len, 0);
	CHECK_HEX(ev[0].payload, ev[0].payload_len, "ab");
	CHECK_EQ_INT(ev[0].version, 2);
	CHECK_EQ_STR(ev[0].preimage, "00");
	CHECK_HEX(ev[1].digest, ev[1].digest_len, "0a");
	CHECK_EQ_INT(ev[1].version, 1);
	CHECK(ev[1].preimage == NULL);
	eventlog_tdx_events_free(ev, n);
	CHECK_OK(parse_str("[]", &ev, &n, &err), &err);
	CHECK_EQ_INT(n, 0);
}

TEST(test_eventlog_json_rejects_malformed_events)
{
	static const char *const bad[] = {
	    "{}",
	    "[1]",
	    "[{\"event_type\":1,\"event\":\"\",\"event_payload\":\"\"}]", /* no imr */
	    "[{\"imr\":-1,\"event_type\":1,\"event\":\"\",\"event_payload\":\"\"}]",
	    "[{\"imr\":1.0,\"event_type\":1,\"event\":\"\",\"event_payload\":\"\"}]",
	    "[{\"imr\":4294967296,\"event_type\":1,\"event\":\"\",\"event_payload\":\"\"}]",
	    "[{\"imr\":0,\"event_type\":1,\"event\":\"\"}]", /* no payload */
	    "[{\"imr\":0,\"event_type\":1,\"event\":\"\",\"event_payload\":\"abc\"}]", /* odd hex */
	    "[{\"imr\":0,\"event_type\":1,\"event\":\"\",\"event_payload\":\"zz\"}]",
	    "[{\"imr\":0,\"event_type\":1,\"event\":\"\",\"event_payload\":\"0x00\"}]",
	    "[{\"imr\":0,\"event_type\":1,\"event\":\"\",\"event_payload\":\"\",\"digest\":1}]",
	    "[{\"imr\":0,\"event_type\":1,\"event\":\"\",\"event_payload\":\"\",\"version\":3}]",
	    "[{\"imr\":0,\"event_type\":1,\"event\":\"\",\"event_payload\":\"\",\"preimage\":7}]",
	    "[{\"imr\":0,\"imr\":1,\"event_type\":1,\"event\":\"\",\"event_payload\":\"\"}]",
	    "[{\"imr\":0,\"event_type\":1,\"event\":5,\"event_payload\":\"\"}]",
	    "[{\"imr\":0,",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct tdx_event *ev;
		size_t n;
		struct err err;
		CHECK_MSG(parse_str(bad[i], &ev, &n, &err) < 0, "accepted %s", bad[i]);
		CHECK_CONTAINS(err.msg, "tdx_event_log");
	}
}

/* A V2 runtime TdxEvent with a correct digest and preimage. */
static void v2_event(struct tdx_event *e, struct buf *store)
{
	static const char name[] = "app-id";
	static const uint8_t payload[] = "fixture";
	struct buf pre = BUF_INIT;
	struct runtime_event re;
	struct err err;
	memset(e, 0, sizeof *e);
	e->imr = 3;
	e->event_type = EVENTLOG_RUNTIME_EVENT_TYPE;
	e->event = (char *)name;
	e->event_len = 6;
	e->payload = (uint8_t *)payload;
	e->payload_len = 7;
	e->version = 2;
	make_event(&re, name, payload, 7, 2);
	buf_reset(store);
	(void)eventlog_runtime_preimage(name, 6, payload, 7, 2, &pre);
	(void)hex_append(store, pre.p, pre.len);
	buf_free(&pre);
	e->preimage = (char *)store->p;
	e->preimage_len = store->len;
	static uint8_t digest[48];
	(void)eventlog_runtime_digest(&re, digest, &err);
	e->digest = digest;
	e->digest_len = 48;
}

TEST(test_eventlog_v2_preimage_validation)
{
	struct tdx_event e;
	struct buf store = BUF_INIT;
	struct err err;
	v2_event(&e, &store);
	CHECK_OK(eventlog_validate_v2_preimages(&e, 1, &err), &err);
	/* The preimage is the canonical JSON (upstream: preimage == canonical bytes). */
	CHECK_EQ_STR(e.preimage,
		     "7b226e616d65223a226170702d6964222c227061796c6f6164223a223636363937"
		     "383734373537323635222c2274797065223a3133343231373732397d");

	e.preimage = NULL;
	CHECK_FAILS(eventlog_validate_v2_preimages(&e, 1, &err));
	CHECK_CONTAINS(err.msg, "missing its digest preimage");

	v2_event(&e, &store);
	e.preimage = "not-hex";
	e.preimage_len = 7;
	CHECK_FAILS(eventlog_validate_v2_preimages(&e, 1, &err));
	CHECK_CONTAINS(err.msg, "malformed digest preimage");

	v2_event(&e, &store);
	e.digest[0] ^= 1;
	CHECK_FAILS(eventlog_validate_v2_preimages(&e, 1, &err));
	CHECK_CONTAINS(err.msg, "digest does not match its preimage");
	e.digest[0] ^= 1;

	/* Non-canonical key order with a matching digest. */
	const char *alt = "{\"type\":134217729,\"name\":\"app-id\",\"payload\":\"66697874757265\"}";
	buf_reset(&store);
	CHECK(hex_append(&store, (const uint8_t *)alt, strlen(alt)) == 0);
	e.preimage = (char *)store.p;
	e.preimage_len = store.len;
	size_t dn;
	uint8_t *d = t_unhex("5e2697efda293f0a14902fba4dfe68a6a9930e1a7f1d93196c2cd2eaab66edad260f9"
			     "88a644fbe7660fbb14041a0ca40",
			     &dn);
	CHECK(d && dn == 48);
	memcpy(e.digest, d, 48);
	free(d);
	CHECK_FAILS(eventlog_validate_v2_preimages(&e, 1, &err));
	CHECK_CONTAINS(err.msg, "not the canonical event representation");
	buf_free(&store);
	/* V1 events and non-runtime events are not checked. */
	struct tdx_event v1 = {.imr = 3, .event_type = EVENTLOG_RUNTIME_EVENT_TYPE, .version = 1};
	CHECK_OK(eventlog_validate_v2_preimages(&v1, 1, &err), &err);
}

/* The upstream JSON snapshot of ccel.bin (before ACPI labelling). */
static json_t *load_ccel_snapshot(void)
{
	size_t len;
	uint8_t *s = t_read_vector("dstack/cc_eventlog__tests__parse_ccel-2.snap", &len);
	if (!s)
		return NULL;
	const char *start = memchr(s, '[', len);
	json_t *j =
	    start ? json_loadb(start, len - (size_t)(start - (const char *)s), 0, NULL) : NULL;
	free(s);
	return j;
}

TEST(test_eventlog_ccel_matches_upstream_snapshot)
{
	size_t len, n, nt;
	uint8_t *bin = t_read_vector("dstack/ccel.bin", &len);
	struct ccel_event *ce;
	struct tdx_event *te;
	struct err err;
	CHECK(bin != NULL);
	CHECK_EQ_INT(len, 65536);
	CHECK_OK(eventlog_ccel_parse(bin, len, &ce, &n, &err), &err);
	CHECK_EQ_INT(n, 18);
	/* The end marker sits at offset 1933. */
	CHECK(ce[n - 1].data + ce[n - 1].data_len == bin + 1933);
	CHECK_OK(eventlog_ccel_to_tdx(ce, n, &te, &nt, &err), &err);
	CHECK_EQ_INT(nt, 18);
	json_t *snap = load_ccel_snapshot();
	CHECK(snap && json_array_size(snap) == 18);
	size_t acpi = 0;
	for (size_t i = 0; i < nt; i++) {
		json_t *o = json_array_get(snap, i);
		char hex[2 * 65536 + 1];
		CHECK_EQ_INT(te[i].imr, json_integer_value(json_object_get(o, "imr")));
		CHECK_EQ_INT(te[i].event_type,
			     json_integer_value(json_object_get(o, "event_type")));
		CHECK_EQ_INT(ce[i].mr_index, te[i].imr + 1);
		CHECK(te[i].digest_len == 48 && ce[i].digests[0].alg == 0xC);
		hex_encode(te[i].digest, te[i].digest_len, hex);
		CHECK_EQ_STR(hex, json_string_value(json_object_get(o, "digest")));
		CHECK(te[i].payload_len <= 65536);
		hex_encode(te[i].payload, te[i].payload_len, hex);
		CHECK_EQ_STR(hex, json_string_value(json_object_get(o, "event_payload")));
		if (eventlog_is_acpi_data_event(&te[i])) {
			static const char *const names[] = {"acpi-loader", "acpi-rsdp",
							    "acpi-tables"};
			CHECK(acpi < 3);
			CHECK_EQ_STR(te[i].event, names[acpi++]);
		} else {
			CHECK_EQ_STR(te[i].event, "");
		}
	}
	CHECK_EQ_INT(acpi, 3);
	uint8_t mr[48];
	CHECK_OK(eventlog_replay_imr(te, nt, 0, mr, &err), &err);
	CHECK_HEX(mr, 48,
		  "274c2344116db7c663470693b5ba62b8621eac28cb41d2f816ddf188f9f423f900a1c44d32386fd"
		  "3c993dc814e62af9d");
	CHECK_OK(eventlog_replay_imr(te, nt, 1, mr, &err), &err);
	CHECK_HEX(mr, 48,
		  "bdcf4ee0f7fdfe7c73fbb19ded73193aee23a6726b86d3b282ea097cf4c9ed7a0db21b5c1ccd513"
		  "e410d90e310836b26");
	for (uint32_t imr = 2; imr < 4; imr++) {
		CHECK_OK(eventlog_replay_imr(te, nt, imr, mr, &err), &err);
		CHECK_HEX(mr, 48,
			  "000000000000000000000000000000000000000000000000000000000000000000000000"
			  "000000000000000000000000");
	}
	json_decref(snap);
	eventlog_tdx_events_free(te, nt);
	free(ce);
	free(bin);
}

TEST(test_eventlog_ccel_truncated_at_every_length_never_overreads)
{
	size_t len;
	uint8_t *bin = t_read_vector("dstack/ccel.bin", &len);
	CHECK(bin != NULL);
	size_t complete = 0;
	for (size_t cut = 0; cut <= 1937; cut++) {
		/* A heap copy of exactly cut bytes, so ASan catches any over-read. */
		uint8_t *p = malloc(cut ? cut : 1);
		CHECK(p != NULL);
		memcpy(p, bin, cut);
		struct ccel_event *ce;
		size_t n;
		struct err err;
		if (eventlog_ccel_parse(p, cut, &ce, &n, &err) == 0) {
			CHECK(n <= 18);
			complete += n == 18;
			free(ce);
		}
		free(p);
	}
	/* Only the cut at the end marker and the cuts inside/after it give 18. */
	CHECK(complete >= 1);
	free(bin);
}

TEST(test_eventlog_ccel_rejects_bad_records)
{
	size_t len;
	uint8_t *bin = t_read_vector("dstack/ccel.bin", &len);
	struct ccel_event *ce;
	struct tdx_event *te;
	size_t n, nt;
	struct err err;
	CHECK(bin != NULL);
	CHECK_OK(eventlog_ccel_parse(bin, len, &ce, &n, &err), &err);
	size_t first = (size_t)(ce[0].digests[0].d - bin) - 2 - 12; /* start of record 0 */
	free(ce);
	/* Unsupported digest algorithm in record 0. */
	uint8_t *bad = malloc(len);
	CHECK(bad != NULL);
	memcpy(bad, bin, len);
	bad[first + 12] = 0x99;
	CHECK_FAILS(eventlog_ccel_parse(bad, len, &ce, &n, &err));
	CHECK_CONTAINS(err.msg, "unsupported algorithm");
	/* Digest count beyond the bound. */
	memcpy(bad, bin, len);
	bad[first + 8] = 200;
	CHECK_FAILS(eventlog_ccel_parse(bad, len, &ce, &n, &err));
	/* Two digests in one event: the parse works, dstack's view refuses it. */
	memcpy(bad, bin, len);
	bad[first + 8] = 2;
	if (eventlog_ccel_parse(bad, len, &ce, &n, &err) == 0) {
		CHECK_FAILS(eventlog_ccel_to_tdx(ce, n, &te, &nt, &err));
		free(ce);
	}
	/* A header whose spec-id event is cut short. */
	memcpy(bad, bin, len);
	CHECK_FAILS(eventlog_ccel_parse(bad, 30, &ce, &n, &err));
	free(bad);
	free(bin);
}
