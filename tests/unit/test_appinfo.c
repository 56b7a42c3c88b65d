/*
 * test_appinfo.c — local checks, AppInfo/BootInfo formulas and APP_INFO
 * encoding (attest/appinfo.h). Expected values: tests/vectors/expected.json
 * (evidence and ratls_* cases), kms-protocol §10.3 (tdx-lite boot-time), and
 * SHA-256 values computed independently with Python hashlib for the
 * synthetic TD reports. The DCAP result is synthetic ({"UpToDate", [], PPID});
 * the PPIDs of the real quotes were read out of their PCK certificates with
 * the openssl CLI (OID 1.2.840.113741.1.13.1.1), independently of this code.
 */
#include "harness.h"

#include "attest/appinfo.h"
#include "attest/attestation.h"
#include "attest/ratls.h"
#include "crypto/cert.h"
#include "attest/boot_info.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/hex.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void dcap_fill(struct dcap_result *d, const char *status, const char *ppid_hex)
{
	memset(d, 0, sizeof *d);
	strncpy(d->status, status, sizeof d->status - 1);
	(void)hex_decode_fixed(ppid_hex, d->ppid, 16);
}

static json_t *expected_evidence(const char *name)
{
	size_t n;
	uint8_t *b = t_read_vector("expected.json", &n);
	json_t *root = b ? json_loadb((const char *)b, n, 0, NULL) : NULL;
	free(b);
	json_t *ev = json_object_get(root, "evidence"), *found = NULL;
	for (size_t i = 0; i < json_array_size(ev); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(ev, i), "name")),
			   name) == 0)
			found = json_incref(json_array_get(ev, i));
	json_decref(root);
	return found;
}

static const char *field(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "(missing)";
}

/* Compare a boot_info with an expected app_info object of expected.json. */
static void check_boot_info(const struct boot_info *bi, json_t *ai, int want_os)
{
	CHECK(ai != NULL);
	CHECK_EQ_STR(bi->tee_variant, "dstack-tdx");
	CHECK_HEX(bi->app_id.b, bi->app_id.len, field(ai, "app_id"));
	CHECK_HEX(bi->compose_hash.b, bi->compose_hash.len, field(ai, "compose_hash"));
	CHECK_HEX(bi->instance_id.b, bi->instance_id.len, field(ai, "instance_id"));
	CHECK_HEX(bi->device_id.b, bi->device_id.len, field(ai, "device_id"));
	CHECK_HEX(bi->mr_system.b, bi->mr_system.len, field(ai, "mr_system"));
	CHECK_HEX(bi->mr_aggregated.b, bi->mr_aggregated.len, field(ai, "mr_aggregated"));
	if (want_os)
		CHECK_HEX(bi->os_image_hash.b, bi->os_image_hash.len, field(ai, "os_image_hash"));
	else
		CHECK_EQ_INT(bi->os_image_hash.len, 0);
	CHECK_HEX(bi->key_provider_info, bi->key_provider_info_len, field(ai, "key_provider_info"));
	CHECK_EQ_STR(bi->tcb_status, "UpToDate");
	CHECK_EQ_INT(bi->n_advisory_ids, 0);
}

static int decode_file(const char *rel, struct attestation *a, struct err *err)
{
	size_t n;
	uint8_t *b = t_read_vector(rel, &n);
	if (!b)
		return err_set(err, "missing %s", rel);
	int rc = attestation_decode(b, n, a, err);
	free(b);
	return rc;
}

TEST(test_appinfo_tdx_lite_runtime_and_boottime)
{
	struct attestation a;
	struct dcap_result d;
	struct boot_info bi;
	struct err err;
	json_t *ex = expected_evidence("tdx_lite_attestation");
	CHECK(ex != NULL);
	CHECK_OK(decode_file("derived/tdx_lite_attestation_v0.bin", &a, &err), &err);
	CHECK_OK(appinfo_verify_local(&a, NULL, &err), &err);
	dcap_fill(&d, "UpToDate", "40deaac75f87cf05e92fbf18224aa576");
	boot_info_init(&bi);
	CHECK_OK(appinfo_boot_info(&a, NULL, &d, 0, NULL, 0, &bi, &err), &err);
	check_boot_info(&bi, json_object_get(ex, "app_info"), 1);
	/* Boot-time (SignCert): kms-protocol §10.3's independently computed values. */
	CHECK_OK(appinfo_boot_info(&a, NULL, &d, 1, "", 0, &bi, &err), &err);
	CHECK_HEX(bi.mr_system.b, bi.mr_system.len,
		  "37a91fd6aac229d83a1850be9bf017455d1cf4815e8fcb77332119de7e1a52f7");
	CHECK_HEX(bi.mr_aggregated.b, bi.mr_aggregated.len,
		  "f4e6117e0fdea4b23b5f32a2a59e7b7b99b64df237a9536fb2cb5ca2a270145e");
	CHECK_EQ_INT(bi.key_provider_info_len, 0);
	CHECK_HEX(bi.app_id.b, bi.app_id.len, "86b0e55f2fa8e4fb69d890f14f54d5612707646e");
	boot_info_free(&bi);
	attestation_free(&a);
	json_decref(ex);
}

TEST(test_appinfo_guest_agent_nested_vm_config_quirk)
{
	struct attestation a;
	struct dcap_result d;
	struct boot_info bi;
	struct err err;
	json_t *ex = expected_evidence("guest_agent_attestation");
	json_t *ai = json_object_get(ex, "app_info");
	CHECK(ex != NULL);
	CHECK_OK(decode_file("dstack/guest_agent_attestation_v0.bin", &a, &err), &err);
	CHECK_OK(appinfo_verify_local(&a, NULL, &err), &err);
	dcap_fill(&d, "UpToDate", "80d4a149124353c7a2bb76551603f31b");
	boot_info_init(&bi);
	/* KMS path: config read as a flat VmConfig → empty os_image_hash. */
	CHECK_OK(appinfo_boot_info(&a, NULL, &d, 0, NULL, 0, &bi, &err), &err);
	check_boot_info(&bi, ai, 0);
	boot_info_free(&bi);
	/* V1 decoder path unwraps the nested "vm_config" string. */
	struct appinfo_opts o = {.unwrap_nested_vm_config = 1, .ppid = d.ppid, .ppid_len = 16};
	struct app_info info;
	CHECK_OK(appinfo_decode(&a, NULL, &o, &info, &err), &err);
	CHECK_HEX(info.os_image_hash.p, info.os_image_hash.len, field(ai, "os_image_hash"));
	CHECK_HEX(info.mr_aggregated.p, info.mr_aggregated.len, field(ai, "mr_aggregated"));
	appinfo_free(&info);
	attestation_free(&a);
	json_decref(ex);
}

TEST(test_appinfo_quote_report_runtime_and_boottime)
{
	size_t qn, ln, jn;
	uint8_t *q = t_read_vector("derived/quote_report_quote.bin", &qn);
	uint8_t *log = t_read_vector("derived/quote_report_event_log.json", &ln);
	uint8_t *js = t_read_vector("dstack/quote-report.json", &jn);
	json_t *ex = expected_evidence("quote_report_eventlog");
	CHECK(q && log && js && ex);
	json_t *qr = json_loadb((const char *)js, jn, 0, NULL);
	const char *vm_config = json_string_value(json_object_get(qr, "vm_config"));
	CHECK(vm_config != NULL);
	struct attestation a;
	struct dcap_result d;
	struct boot_info bi;
	struct err err;
	CHECK_OK(attestation_from_quote_and_event_log(q, qn, log, ln, &a, &err), &err);
	CHECK_OK(appinfo_verify_local(&a, NULL, &err), &err);
	dcap_fill(&d, "UpToDate", "897d3eb76ea887b783f9ad3d0771034b");
	boot_info_init(&bi);
	CHECK_OK(appinfo_boot_info(&a, NULL, &d, 0, vm_config, strlen(vm_config), &bi, &err), &err);
	check_boot_info(&bi, json_object_get(ex, "app_info"), 1);
	CHECK_OK(appinfo_boot_info(&a, NULL, &d, 1, vm_config, strlen(vm_config), &bi, &err), &err);
	check_boot_info(&bi, json_object_get(ex, "app_info_boottime"), 1);
	struct appinfo_opts o = {
	    .boottime = 1, .vm_config = vm_config, .vm_config_len = strlen(vm_config)};
	struct app_info info;
	CHECK_OK(appinfo_decode(&a, NULL, &o, &info, &err), &err);
	CHECK_HEX(info.rtmr3, 48, field(ex, "rtmr3_to_boot_mr_done"));
	/* The unverified preview path hashes an empty device id. */
	CHECK_HEX(info.device_id.p, info.device_id.len,
		  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	CHECK_EQ_INT(info.n_init_script_hashes, 0);
	appinfo_free(&info);
	boot_info_free(&bi);
	attestation_free(&a);
	json_decref(qr);
	json_decref(ex);
	free(q);
	free(log);
	free(js);
}

/* The mock RA-TLS cases of expected.json compared as the exact webhook JSON. */
static void check_mock_cert(const char *pem, const char *status, const char *const *adv,
			    size_t nadv, const char *os_hash)
{
	size_t n;
	uint8_t *p = t_read_vector(pem, &n);
	struct err err;
	X509 *x = p ? cert_from_pem((const char *)p, n, &err) : NULL;
	free(p);
	CHECK(x != NULL);
	struct attestation a;
	struct dcap_result d;
	struct boot_info bi;
	CHECK_EQ_INT(ratls_extract(x, &a, &err), 1);
	CHECK_OK(ratls_check_binding(&a, x, &err), &err);
	CHECK_OK(appinfo_verify_local(&a, NULL, &err), &err);
	dcap_fill(&d, status, "00112233445566778899aabbccddeeff");
	for (size_t i = 0; i < nadv; i++)
		strncpy(d.advisory_ids[i], adv[i], sizeof d.advisory_ids[i] - 1);
	d.n_advisory = nadv;
	boot_info_init(&bi);
	CHECK_OK(appinfo_boot_info(&a, NULL, &d, 0, NULL, 0, &bi, &err), &err);
	struct buf js = BUF_INIT, want = BUF_INIT;
	CHECK_OK(boot_info_to_json(&bi, &js, &err), &err);
	(void)buf_printf(
	    &want,
	    "{\"teeVariant\":\"dstack-tdx\","
	    "\"mrAggregated\":\"beb4845a4a4d8147d57475c87ab53d8242108b14bb307fed0a6931324e313087\","
	    "\"osImageHash\":\"%s\","
	    "\"mrSystem\":\"ef6af583432288c877e412740aa7d8a844a18920ad98e9b1d95d42a07a3044c8\","
	    "\"appId\":\"5bb4ff9a3837357f19dc176407a5709c62eb6c56\","
	    "\"composeHash\":\"c143116fef3940e7f776bfc0919c256232ae5338a6e948c96b711e0b2383483a\","
	    "\"instanceId\":\"1691ed1b47506cad7d08834668691d88246f5b1f\","
	    "\"deviceId\":\"a8faed6abbf35c12a4b26e40f6feb19d736d90045c83b9f9a31f638d323e6811\","
	    "\"keyProviderInfo\":\"\",\"tcbStatus\":\"%s\",\"advisoryIds\":[",
	    os_hash, status);
	for (size_t i = 0; i < nadv; i++)
		(void)buf_printf(&want, "%s\"%s\"", i ? "," : "", adv[i]);
	(void)buf_append_str(&want, "]}");
	CHECK_EQ_STR(buf_str(&js), buf_str(&want));
	buf_free(&js);
	buf_free(&want);
	boot_info_free(&bi);
	attestation_free(&a);
	X509_free(x);
}

#define MOCK_OS_HASH "e61be43dd1cc6a6f5edefd7c51b608983780839b0000ce60dd99737dcffe09b9"

TEST(test_appinfo_mock_cert_a_boot_info)
{
	check_mock_cert("mock/ratls_cert_A.pem", "UpToDate", NULL, 0, MOCK_OS_HASH);
}

TEST(test_appinfo_mock_cert_a_legacy_has_empty_os_image_hash)
{
	check_mock_cert("mock/ratls_cert_A_legacy_oids.pem", "UpToDate", NULL, 0, "");
}

TEST(test_appinfo_mock_cert_a_outofdate_passes_status_through)
{
	static const char *const adv[] = {"INTEL-SA-01036", "INTEL-SA-01099"};
	check_mock_cert("mock/ratls_cert_A.pem", "OutOfDate", adv, 2, MOCK_OS_HASH);
}

TEST(test_appinfo_request_vm_config_overrides_embedded_config)
{
	struct attestation a;
	struct dcap_result d;
	struct boot_info bi;
	struct err err;
	CHECK_OK(decode_file("derived/tdx_lite_attestation_v0.bin", &a, &err), &err);
	dcap_fill(&d, "UpToDate", "40deaac75f87cf05e92fbf18224aa576");
	boot_info_init(&bi);
	const char *vm = "{\"os_image_hash\":\"ABCD\",\"spec_version\":9}";
	CHECK_OK(appinfo_boot_info(&a, NULL, &d, 0, vm, strlen(vm), &bi, &err), &err);
	CHECK_HEX(bi.os_image_hash.b, bi.os_image_hash.len, "abcd");
	vm = "{\"cpu_count\":2}";
	CHECK_OK(appinfo_boot_info(&a, NULL, &d, 0, vm, strlen(vm), &bi, &err), &err);
	CHECK_EQ_INT(bi.os_image_hash.len, 0);
	boot_info_free(&bi);
	attestation_free(&a);
}

TEST(test_appinfo_vm_config_parse_errors)
{
	static const char *const bad[] = {
	    "{",
	    "[]",
	    "\"x\"",
	    "{\"os_image_hash\":\"abc\"}",
	    "{\"os_image_hash\":\"0xab\"}",
	    "{\"os_image_hash\":null}",
	    "{\"os_image_hash\":12}",
	    "{\"cpu_count\":\"8\"}",
	    "{\"cpu_count\":-1}",
	    "{\"cpu_count\":4294967296}",
	    "{\"memory_size\":1.5}",
	    "{\"hugepages\":1}",
	    "{\"pic\":\"no\"}",
	    "{\"image\":5}",
	    "{\"host_share_mode\":null}",
	    "{\"tdx_attestation_variant\":\"fast\"}",
	    "{\"ovmf_variant\":\"new\"}",
	    "{\"os_image_hash\":\"ab\",\"os_image_hash\":\"cd\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct buf out = BUF_INIT;
		struct err err;
		CHECK_MSG(appinfo_vm_config_os_image_hash(bad[i], strlen(bad[i]), 0, &out, &err) <
			      0,
			  "accepted %s", bad[i]);
		CHECK_CONTAINS(err.msg, "Failed to parse vm config");
		buf_free(&out);
	}
	/* Accepted: unknown keys, nulls for Option fields, the lite variant. */
	const char *ok = "{\"pic\":null,\"image\":null,\"tdx_attestation_variant\":\"lite\","
			 "\"ovmf_variant\":\"pre202505\",\"x\":[1,{}],\"num_nics\":1}";
	struct buf out = BUF_INIT;
	struct err err;
	CHECK_OK(appinfo_vm_config_os_image_hash(ok, strlen(ok), 0, &out, &err), &err);
	CHECK_EQ_INT(out.len, 0);
	/* Nested unwrap only when asked; a bad nested string is an error then. */
	const char *nested = "{\"vm_config\":\"{\\\"os_image_hash\\\":\\\"11\\\"}\"}";
	CHECK_OK(appinfo_vm_config_os_image_hash(nested, strlen(nested), 0, &out, &err), &err);
	CHECK_EQ_INT(out.len, 0);
	CHECK_OK(appinfo_vm_config_os_image_hash(nested, strlen(nested), 1, &out, &err), &err);
	CHECK_HEX(out.p, out.len, "11");
	const char *nested_bad = "{\"vm_config\":\"{\"}";
	CHECK_FAILS(appinfo_vm_config_os_image_hash(nested_bad, strlen(nested_bad), 1, &out, &err));
	buf_free(&out);
}

TEST(test_appinfo_boot_info_reports_vm_config_errors_with_context)
{
	struct attestation a;
	struct dcap_result d;
	struct boot_info bi;
	struct err err;
	CHECK_OK(decode_file("derived/tdx_lite_attestation_v0.bin", &a, &err), &err);
	dcap_fill(&d, "UpToDate", "40deaac75f87cf05e92fbf18224aa576");
	boot_info_init(&bi);
	CHECK_FAILS(appinfo_boot_info(&a, NULL, &d, 0, "{", 1, &bi, &err));
	CHECK_CONTAINS(err.msg, "decode app info: Failed to decode os image hash: Failed to parse "
				"vm config");
	CHECK_EQ_INT(bi.app_id.len, 0);
	attestation_free(&a);
}

TEST(test_appinfo_verify_local_detects_rtmr3_and_report_data_mismatch)
{
	struct attestation a;
	struct err err;
	CHECK_OK(decode_file("derived/tdx_lite_attestation_v0.bin", &a, &err), &err);
	a.runtime_events[1].payload[0] ^= 1; /* app-id */
	CHECK_FAILS(appinfo_verify_local(&a, NULL, &err));
	CHECK_CONTAINS(err.msg, "RTMR3 mismatch, quoted: 6f24c170");
	a.runtime_events[1].payload[0] ^= 1;
	CHECK_OK(appinfo_verify_local(&a, NULL, &err), &err);
	/* Dropping the last event changes the replay too. */
	a.n_runtime_events--;
	CHECK_FAILS(appinfo_verify_local(&a, NULL, &err));
	CHECK_CONTAINS(err.msg, "RTMR3 mismatch");
	a.n_runtime_events++;
	a.report_data.p[63] ^= 1;
	CHECK_FAILS(appinfo_verify_local(&a, NULL, &err));
	CHECK_EQ_STR(err.msg, "tdx report_data mismatch");
	a.report_data.p[63] ^= 1;
	a.report_data.len = 63;
	CHECK_FAILS(appinfo_verify_local(&a, NULL, &err));
	CHECK_EQ_STR(err.msg, "stack.report_data must be 64 bytes");
	a.report_data.len = 64;
	/* A V2 event without its preimage in the event log. */
	a.event_log[a.n_event_log - 1].version = 2;
	CHECK_FAILS(appinfo_verify_local(&a, NULL, &err));
	CHECK_CONTAINS(err.msg, "Failed to validate TDX V2 event digest preimages");
	a.event_log[a.n_event_log - 1].version = 1;
	/* dstack-pod: report_data must be H512("app-data:" || payload). */
	a.stack = ATT_STACK_DSTACK_POD;
	CHECK_FAILS(appinfo_verify_local(&a, NULL, &err));
	CHECK_EQ_STR(err.msg, "report_data does not match report_data_payload");
	a.stack = ATT_STACK_DSTACK;
	/* A quote that does not parse. */
	a.quote.len = 100;
	CHECK_FAILS(appinfo_verify_local(&a, NULL, &err));
	CHECK_CONTAINS(err.msg, "Failed to parse quote");
	a.quote.len = 5006;
	attestation_free(&a);
}

/* ---- synthetic attestations: identity lookups and the formulas ---- */

struct synth {
	struct attestation a;
	struct runtime_event ev[8];
	struct tdx_report td;
};

static void synth_init(struct synth *s)
{
	memset(s, 0, sizeof *s);
	s->a.platform = ATT_PLATFORM_TDX;
	s->a.runtime_events = s->ev;
	s->a.config.p = (uint8_t *)"";
	memset(s->td.mr_td, 1, 48);
	memset(s->td.rtmr[0], 2, 48);
	memset(s->td.rtmr[1], 3, 48);
	memset(s->td.rtmr[2], 4, 48);
}

static void synth_add(struct synth *s, const char *name, const char *payload)
{
	struct runtime_event *e = &s->ev[s->a.n_runtime_events++];
	e->event = (char *)name;
	e->event_len = strlen(name);
	e->payload = (uint8_t *)payload;
	e->payload_len = strlen(payload);
	e->version = 1;
}

TEST(test_appinfo_identity_stops_at_system_ready_and_first_match_wins)
{
	struct synth s;
	struct app_info ai;
	struct err err;
	struct appinfo_opts o = {0};
	synth_init(&s);
	synth_add(&s, "app-id", "first");
	synth_add(&s, "app-id", "second");
	synth_add(&s, "init-script-hash", "s1");
	synth_add(&s, "system-ready", "");
	synth_add(&s, "compose-hash", "spoofed");
	synth_add(&s, "instance-id", "spoofed");
	synth_add(&s, "key-provider", "spoofed");
	synth_add(&s, "init-script-hash", "s2");
	CHECK_OK(appinfo_decode(&s.a, &s.td, &o, &ai, &err), &err);
	CHECK(ai.app_id.len == 5 && memcmp(ai.app_id.p, "first", 5) == 0);
	CHECK_EQ_INT(ai.compose_hash.len, 0);
	CHECK_EQ_INT(ai.instance_id.len, 0);
	CHECK_EQ_INT(ai.key_provider_info.len, 0);
	CHECK_EQ_INT(ai.n_init_script_hashes, 1);
	CHECK(ai.init_script_hashes[0].len == 2 &&
	      memcmp(ai.init_script_hashes[0].p, "s1", 2) == 0);
	/* key_provider_info empty → mr_key_provider = 32 zero bytes. */
	CHECK_HEX(ai.mr_system.p, 32,
		  "277dd3f55ca5f00d78b6df04104ca9e04ad17b871128e38808abc9f6b86faf31");
	appinfo_free(&ai);

	/* The BootInfo requires a 20-byte app id. */
	struct dcap_result d;
	struct boot_info bi;
	dcap_fill(&d, "UpToDate", "00112233445566778899aabbccddeeff");
	boot_info_init(&bi);
	CHECK_FAILS(appinfo_boot_info(&s.a, &s.td, &d, 0, NULL, 0, &bi, &err));
	CHECK_EQ_STR(err.msg, "app_id must be 20 bytes");
	s.ev[0].event = "not-app-id";
	s.ev[0].event_len = 10;
	s.ev[1].event = "not-app-id";
	s.ev[1].event_len = 10;
	CHECK_FAILS(appinfo_boot_info(&s.a, &s.td, &d, 0, NULL, 0, &bi, &err));
	CHECK_EQ_STR(err.msg, "app_id must be 20 bytes");
}

TEST(test_appinfo_mr_aggregated_adds_config_registers_only_when_set)
{
	struct synth s;
	struct app_info ai;
	struct err err;
	struct appinfo_opts o = {0};
	synth_init(&s);
	CHECK_OK(appinfo_decode(&s.a, &s.td, &o, &ai, &err), &err);
	CHECK_HEX(ai.mr_aggregated.p, 32,
		  "56b606c86e8c852d5037db3003a671ec9c15eef6e50572968821df115854770a");
	appinfo_free(&ai);
	memset(s.td.mr_owner, 5, 48);
	CHECK_OK(appinfo_decode(&s.a, &s.td, &o, &ai, &err), &err);
	CHECK_HEX(ai.mr_aggregated.p, 32,
		  "cdcecf74837643eddf9e1c5b4ad6ce6a2fa70b2a354eb17d85cfebba3cb0bb4c");
	appinfo_free(&ai);
	/* A key-provider event feeds mr_system through SHA-256 (runtime only). */
	synth_add(&s, "key-provider", "{\"name\":\"kms\",\"id\":\"00\"}");
	CHECK_OK(appinfo_decode(&s.a, &s.td, &o, &ai, &err), &err);
	CHECK_HEX(ai.mr_system.p, 32,
		  "579b14c5e97bd9aaf0551300837aed9aada0698e9a7a5d5d5ce2ff022475e007");
	appinfo_free(&ai);
	o.boottime = 1;
	CHECK_OK(appinfo_decode(&s.a, &s.td, &o, &ai, &err), &err);
	CHECK_HEX(ai.mr_system.p, 32,
		  "277dd3f55ca5f00d78b6df04104ca9e04ad17b871128e38808abc9f6b86faf31");
	CHECK_EQ_INT(ai.key_provider_info.len, 0);
	appinfo_free(&ai);
}

TEST(test_appinfo_rejects_non_tdx_platforms)
{
	struct synth s;
	struct app_info ai;
	struct err err;
	struct appinfo_opts o = {0};
	synth_init(&s);
	s.a.platform = ATT_PLATFORM_SEV_SNP;
	CHECK_FAILS(appinfo_decode(&s.a, &s.td, &o, &ai, &err));
	CHECK_CONTAINS(err.msg, "unsupported platform dstack-amd-sev-snp");
	s.a.report_data.p = (uint8_t *)"";
	CHECK_FAILS(appinfo_verify_local(&s.a, &s.td, &err));
}

TEST(test_appinfo_app_info_extension_encoding)
{
	struct attestation a;
	struct err err;
	struct app_info ai;
	struct buf out = BUF_INIT, want = BUF_INIT;
	json_t *ex = expected_evidence("tdx_lite_attestation");
	json_t *e = json_object_get(ex, "app_info");
	CHECK(ex != NULL);
	CHECK_OK(decode_file("derived/tdx_lite_attestation_v0.bin", &a, &err), &err);
	/* SignCert's APP_INFO: the unverified V1 path (device_id = SHA-256(""),
	 * nested vm_config unwrapped, runtime MRs). */
	struct appinfo_opts o = {.unwrap_nested_vm_config = 1};
	CHECK_OK(appinfo_decode(&a, NULL, &o, &ai, &err), &err);
	CHECK_OK(appinfo_encode_msgpack(&ai, &out, &err), &err);
	/* fixarray(9), then bin8 fields, then an empty fixarray for init scripts. */
	(void)hex_decode("99c414", 6, &want);
	(void)hex_decode(field(e, "app_id"), 40, &want);
	(void)hex_decode("c420", 4, &want);
	(void)hex_decode(field(e, "compose_hash"), 64, &want);
	(void)hex_decode("c414", 4, &want);
	(void)hex_decode(field(e, "instance_id"), 40, &want);
	(void)hex_decode("c420e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855c420",
			 72, &want);
	(void)hex_decode(field(e, "mr_system"), 64, &want);
	(void)hex_decode("c420", 4, &want);
	(void)hex_decode(field(e, "mr_aggregated"), 64, &want);
	(void)hex_decode("c420", 4, &want);
	(void)hex_decode(field(e, "os_image_hash"), 64, &want);
	(void)hex_decode("c4cc", 4, &want);
	(void)hex_decode(field(e, "key_provider_info"), 408, &want);
	(void)hex_decode("90", 2, &want);
	CHECK_EQ_INT(out.len, want.len);
	CHECK(memcmp(out.p, want.p, want.len) == 0);
	buf_free(&out);
	buf_free(&want);
	appinfo_free(&ai);
	attestation_free(&a);
	json_decref(ex);
}
