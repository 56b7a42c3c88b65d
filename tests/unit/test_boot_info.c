/*
 * test_boot_info.c — BootInfo bounds, the app_id rule and the exact webhook
 * body (kms-protocol §10.1, §11). Expected JSON strings are written by hand.
 */
#include "harness.h"

#include "attest/boot_info.h"
#include "util/buf.h"
#include "util/err.h"

#include <string.h>

static void fill(struct boot_info_bytes *f, uint8_t v, size_t n)
{
	memset(f->b, v, n);
	f->len = n;
}

TEST(test_boot_info_json_is_exact_compact_body_in_key_order)
{
	struct boot_info bi;
	struct err err;
	boot_info_init(&bi);
	CHECK_OK(boot_info_set_tee_variant(&bi, "dstack-tdx", &err), &err);
	fill(&bi.mr_aggregated, 0x11, 32);
	fill(&bi.mr_system, 0x22, 32);
	for (int i = 0; i < 20; i++)
		bi.app_id.b[i] = (uint8_t)(i + 1);
	bi.app_id.len = 20;
	fill(&bi.compose_hash, 0xab, 32);
	fill(&bi.instance_id, 0xee, 20);
	fill(&bi.device_id, 0xcd, 32);
	const char kpi[] = "{\"name\":\"kms\",\"id\":\"3059\"}";
	CHECK_OK(boot_info_set_key_provider_info(&bi, (const uint8_t *)kpi, strlen(kpi), &err),
		 &err);
	CHECK_OK(boot_info_set_tcb_status(&bi, "UpToDate", &err), &err);
	CHECK_OK(boot_info_add_advisory_id(&bi, "INTEL-SA-00837", &err), &err);
	CHECK_OK(boot_info_add_advisory_id(&bi, "INTEL-SA-00615", &err), &err);
	struct buf out = BUF_INIT;
	CHECK_OK(boot_info_to_json(&bi, &out, &err), &err);
	CHECK_EQ_STR(
	    buf_str(&out),
	    "{\"teeVariant\":\"dstack-tdx\","
	    "\"mrAggregated\":\"1111111111111111111111111111111111111111111111111111111111111111\","
	    "\"osImageHash\":\"\","
	    "\"mrSystem\":\"2222222222222222222222222222222222222222222222222222222222222222\","
	    "\"appId\":\"0102030405060708090a0b0c0d0e0f1011121314\","
	    "\"composeHash\":\"abababababababababababababababababababababababababababababababab\","
	    "\"instanceId\":\"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\","
	    "\"deviceId\":\"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\","
	    "\"keyProviderInfo\":\"7b226e616d65223a226b6d73222c226964223a2233303539227d\","
	    "\"tcbStatus\":\"UpToDate\","
	    "\"advisoryIds\":[\"INTEL-SA-00837\",\"INTEL-SA-00615\"]}");
	buf_free(&out);
	boot_info_free(&bi);
	CHECK(bi.advisory_ids == NULL && bi.key_provider_info == NULL && bi.app_id.len == 0);
}

TEST(test_boot_info_json_empty_fields_are_empty_strings)
{
	struct boot_info bi;
	struct err err;
	boot_info_init(&bi);
	memset(bi.app_id.b, 0xff, 20);
	bi.app_id.len = 20;
	struct buf out = BUF_INIT;
	CHECK_OK(buf_append_str(&out, "prefix:"), &err); /* appends, keeps existing bytes */
	CHECK_OK(boot_info_to_json(&bi, &out, &err), &err);
	CHECK_EQ_STR(buf_str(&out),
		     "prefix:{\"teeVariant\":\"\",\"mrAggregated\":\"\","
		     "\"osImageHash\":\"\",\"mrSystem\":\"\","
		     "\"appId\":\"ffffffffffffffffffffffffffffffffffffffff\","
		     "\"composeHash\":\"\",\"instanceId\":\"\",\"deviceId\":\"\","
		     "\"keyProviderInfo\":\"\",\"tcbStatus\":\"\",\"advisoryIds\":[]}");
	buf_free(&out);
	boot_info_free(&bi);
}

TEST(test_boot_info_json_escapes_strings_like_serde_json)
{
	struct boot_info bi;
	struct err err;
	boot_info_init(&bi);
	bi.app_id.len = 20;
	CHECK_OK(boot_info_set_tcb_status(&bi, "a\"b\\c/\x01\x1f\b\f\n\r\t\x7f", &err), &err);
	CHECK_OK(boot_info_add_advisory_id(&bi, "caf\xc3\xa9", &err), &err);
	struct buf out = BUF_INIT;
	CHECK_OK(boot_info_to_json(&bi, &out, &err), &err);
	CHECK_CONTAINS(buf_str(&out),
		       ",\"tcbStatus\":\"a\\\"b\\\\c/\\u0001\\u001f\\b\\f\\n\\r\\t\x7f\","
		       "\"advisoryIds\":[\"caf\xc3\xa9\"]}");
	buf_free(&out);
	boot_info_free(&bi);
}

TEST(test_boot_info_app_id_must_be_20_bytes)
{
	struct err err;
	uint8_t id[21] = {0};
	CHECK_OK(boot_info_check_app_id(id, 20, &err), &err);
	size_t bad[] = {0, 19, 21};
	for (size_t i = 0; i < 3; i++) {
		CHECK_FAILS(boot_info_check_app_id(id, bad[i], &err));
		CHECK_EQ_STR(err.msg, "app_id must be 20 bytes");
	}
	struct boot_info bi;
	boot_info_init(&bi);
	bi.app_id.len = 19;
	struct buf out = BUF_INIT;
	CHECK_FAILS(boot_info_to_json(&bi, &out, &err));
	CHECK_EQ_STR(err.msg, "app_id must be 20 bytes");
	CHECK_EQ_INT(out.len, 0);
	CHECK_FAILS(boot_info_validate(&bi, &err));
	buf_free(&out);
}

TEST(test_boot_info_setters_enforce_bounds)
{
	struct boot_info bi;
	struct err err;
	boot_info_init(&bi);
	uint8_t big[BOOT_INFO_KPI_MAX + 1];
	memset(big, 7, sizeof big);
	CHECK_OK(boot_info_set_bytes(&bi.device_id, big, 64, &err), &err); /* SNP chip id */
	CHECK_EQ_INT(bi.device_id.len, 64);
	CHECK_FAILS(boot_info_set_bytes(&bi.device_id, big, 65, &err));
	CHECK_EQ_INT(bi.device_id.len, 64); /* untouched on failure */
	CHECK_OK(boot_info_set_key_provider_info(&bi, big, BOOT_INFO_KPI_MAX, &err), &err);
	CHECK_FAILS(boot_info_set_key_provider_info(&bi, big, BOOT_INFO_KPI_MAX + 1, &err));
	CHECK_EQ_INT(bi.key_provider_info_len, BOOT_INFO_KPI_MAX);
	CHECK_OK(boot_info_set_key_provider_info(&bi, NULL, 0, &err), &err);
	CHECK(bi.key_provider_info == NULL);

	char s[300];
	memset(s, 'x', sizeof s);
	s[128] = '\0';
	CHECK_OK(boot_info_set_tcb_status(&bi, s, &err), &err);
	s[128] = 'x';
	s[129] = '\0';
	CHECK_FAILS(boot_info_set_tcb_status(&bi, s, &err));
	CHECK_FAILS(
	    boot_info_set_tee_variant(&bi, "dstack-tdx-but-much-longer-than-32-bytes", &err));
	CHECK_FAILS(boot_info_set_tcb_status(&bi, "bad\xff", &err));
	CHECK_FAILS(boot_info_set_tcb_status(&bi, "\xed\xa0\x80", &err)); /* surrogate */
	CHECK_FAILS(boot_info_set_tcb_status(&bi, "\xc0\xaf", &err));	  /* overlong */

	memset(s, 'y', sizeof s);
	s[256] = '\0';
	CHECK_OK(boot_info_add_advisory_id(&bi, s, &err), &err);
	s[256] = 'y';
	s[257] = '\0';
	CHECK_FAILS(boot_info_add_advisory_id(&bi, s, &err));
	for (int i = 1; i < BOOT_INFO_ADVISORIES_MAX; i++)
		CHECK_OK(boot_info_add_advisory_id(&bi, "A", &err), &err);
	CHECK_EQ_INT(bi.n_advisory_ids, BOOT_INFO_ADVISORIES_MAX);
	CHECK_FAILS(boot_info_add_advisory_id(&bi, "A", &err));
	CHECK_CONTAINS(err.msg, "advisory");
	boot_info_free(&bi);
}

TEST(test_boot_info_validate_rejects_hand_filled_overruns)
{
	struct boot_info bi;
	struct err err;
	boot_info_init(&bi);
	bi.app_id.len = 20;
	CHECK_OK(boot_info_validate(&bi, &err), &err);
	bi.mr_system.len = BOOT_INFO_BYTES_MAX + 1;
	CHECK_FAILS(boot_info_validate(&bi, &err));
	bi.mr_system.len = 0;
	bi.key_provider_info_len = 5; /* length without storage */
	CHECK_FAILS(boot_info_validate(&bi, &err));
	bi.key_provider_info_len = 0;
	memset(bi.tcb_status, 'x', sizeof bi.tcb_status); /* no terminator */
	CHECK_FAILS(boot_info_validate(&bi, &err));
}
