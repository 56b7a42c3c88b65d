/*
 * appinfo.c — local attestation checks, AppInfo / BootInfo formulas and the
 * APP_INFO encoding (appinfo.h).
 *
 * Identity fields come only from runtime events before the first
 * system-ready (first match wins), so events an application emits later can
 * never spoof them. The measurements are recomputed here from the TD report
 * and the replayed event log; nothing is taken from the guest's own claims
 * except vm_config's os_image_hash, which §10.6 treats as a host claim.
 * spec: kms-protocol §9.5, §10.1–§10.3, §10.5, §7.5; attestation §4.
 */
#include "attest/appinfo.h"

#include "attest/msgpack.h"
#include "attest/ratls.h"
#include "util/hex.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define BOOT_MR_DONE "boot-mr-done"
#define SYSTEM_READY "system-ready"

static int oom(struct err *err)
{
	return err_set(err, "out of memory");
}

static int name_is(const char *s, size_t n, const char *want)
{
	return strlen(want) == n && memcmp(s, want, n) == 0;
}

struct part {
	const uint8_t *p;
	size_t n;
};

static int sha256_parts(const struct part *parts, size_t np, uint8_t out[32], struct err *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int olen = 0;
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	for (size_t i = 0; ok && i < np; i++)
		ok = EVP_DigestUpdate(ctx, parts[i].p, parts[i].n) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, out, &olen) == 1 && olen == 32;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : err_openssl(err, "SHA-256");
}

void appinfo_free(struct app_info *ai)
{
	if (!ai)
		return;
	buf_free(&ai->app_id);
	buf_free(&ai->compose_hash);
	buf_free(&ai->instance_id);
	buf_free(&ai->device_id);
	buf_free(&ai->mr_system);
	buf_free(&ai->mr_aggregated);
	buf_free(&ai->os_image_hash);
	buf_free(&ai->key_provider_info);
	for (size_t i = 0; i < ai->n_init_script_hashes; i++)
		buf_free(&ai->init_script_hashes[i]);
	free(ai->init_script_hashes);
	memset(ai, 0, sizeof *ai);
}

/* The TD report to use: the caller's (verified) one, or parsed from the quote. */
static int get_td(const struct attestation *att, const struct tdx_report *td,
		  struct tdx_report *tmp, const struct tdx_report **out, struct err *err)
{
	if (att->platform != ATT_PLATFORM_TDX)
		return err_set(err, "unsupported platform %s: this KMS accepts TDX only",
			       attestation_tee_variant(att->platform));
	if (td) {
		*out = td;
		return 0;
	}
	struct tdx_quote q;
	if (quote_parse(att->quote.p, att->quote.len, &q, err) < 0)
		return err_wrap(err, "Failed to parse quote");
	*tmp = q.report;
	*out = tmp;
	return 0;
}

/* ---- §9.5 local checks ---- */

int appinfo_verify_local(const struct attestation *att, const struct tdx_report *td,
			 struct err *err)
{
	struct tdx_report tmp;
	uint8_t rtmr3[48];
	/* step 1: dstack-pod binds report_data to its payload. */
	if (att->stack == ATT_STACK_DSTACK_POD) {
		uint8_t want[64];
		TRY(ratls_report_data(RATLS_TAG_APP_DATA, att->report_data_payload.p,
				      att->report_data_payload.len, want, err));
		if (att->report_data.len != 64 || memcmp(att->report_data.p, want, 64) != 0)
			return err_set(err, "report_data does not match report_data_payload");
	}
	/* step 2 */
	if (att->report_data.len != 64)
		return err_set(err, "stack.report_data must be 64 bytes");
	TRY(get_td(att, td, &tmp, &td, err));
	/* step 4 */
	TRY(eventlog_replay_runtime(att->runtime_events, att->n_runtime_events, NULL, rtmr3, err));
	if (memcmp(rtmr3, td->rtmr[3], 48) != 0) {
		char q[97], r[97];
		hex_encode(td->rtmr[3], 48, q);
		hex_encode(rtmr3, 48, r);
		return err_set(err, "RTMR3 mismatch, quoted: %s, replayed: %s", q, r);
	}
	/* step 5 */
	if (memcmp(td->report_data, att->report_data.p, 64) != 0)
		return err_set(err, "tdx report_data mismatch");
	/* step 6 */
	if (eventlog_validate_v2_preimages(att->event_log, att->n_event_log, err) < 0)
		return err_wrap(err, "Failed to validate TDX V2 event digest preimages");
	return 0;
}

/* ---- vm_config (§10.5) ---- */

static int is_uint_max(json_t *v, uint64_t max)
{
	return json_is_integer(v) && json_integer_value(v) >= 0 &&
	       (uint64_t)json_integer_value(v) <= max;
}

/* serde's typed fields of VmConfig: a present field of the wrong type makes
 * the whole parse fail, as serde_json does. The measurement documents are
 * only checked to be objects (or null). */
static int vm_config_types_ok(json_t *o, const char **bad)
{
	static const char *const u32s[] = {"cpu_count", "num_gpus", "num_nvswitches", "num_nics",
					   "num_verity_volumes"};
	static const char *const u64s[] = {"memory_size", "pci_hole64_size"};
	static const char *const bools[] = {"hugepages", "swtpm", "hotplug_off"};
	static const char *const opt_bools[] = {"qemu_single_pass_add_pages", "pic"};
	static const char *const opt_strs[] = {"qemu_version", "image"};
	static const char *const opt_docs[] = {"tdx_measurement", "gcp_measurement",
					       "aws_measurement"};
	json_t *v;
	for (size_t i = 0; i < sizeof u32s / sizeof u32s[0]; i++)
		if ((v = json_object_get(o, *bad = u32s[i])) && !is_uint_max(v, UINT32_MAX))
			return 0;
	for (size_t i = 0; i < sizeof u64s / sizeof u64s[0]; i++)
		if ((v = json_object_get(o, *bad = u64s[i])) && !is_uint_max(v, INT64_MAX))
			return 0;
	for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++)
		if ((v = json_object_get(o, *bad = bools[i])) && !json_is_boolean(v))
			return 0;
	for (size_t i = 0; i < sizeof opt_bools / sizeof opt_bools[0]; i++)
		if ((v = json_object_get(o, *bad = opt_bools[i])) && !json_is_boolean(v) &&
		    !json_is_null(v))
			return 0;
	for (size_t i = 0; i < sizeof opt_strs / sizeof opt_strs[0]; i++)
		if ((v = json_object_get(o, *bad = opt_strs[i])) && !json_is_string(v) &&
		    !json_is_null(v))
			return 0;
	for (size_t i = 0; i < sizeof opt_docs / sizeof opt_docs[0]; i++)
		if ((v = json_object_get(o, *bad = opt_docs[i])) && !json_is_object(v) &&
		    !json_is_null(v))
			return 0;
	if ((v = json_object_get(o, *bad = "host_share_mode")) && !json_is_string(v))
		return 0;
	if ((v = json_object_get(o, *bad = "ovmf_variant")) && !json_is_null(v) &&
	    !(json_is_string(v) && strcmp(json_string_value(v), "pre202505") == 0))
		return 0;
	if ((v = json_object_get(o, *bad = "tdx_attestation_variant")) &&
	    !(json_is_string(v) && (strcmp(json_string_value(v), "legacy") == 0 ||
				    strcmp(json_string_value(v), "lite") == 0)))
		return 0;
	return 1;
}

int appinfo_vm_config_os_image_hash(const char *json, size_t len, int unwrap_nested,
				    struct buf *out, struct err *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	int rc = -1;
	const char *bad = "";
	if (!root)
		return err_set(err, "Failed to parse vm config: %s", jerr.text);
	json_t *cfg = root;
	/* The V1 path reads a nested "vm_config" string when the outer JSON has one. */
	json_t *nested =
	    unwrap_nested && json_is_object(root) ? json_object_get(root, "vm_config") : NULL;
	if (nested && json_is_string(nested)) {
		cfg = json_loadb(json_string_value(nested), json_string_length(nested),
				 JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
		if (!cfg) {
			err_set(err, "Failed to parse vm config: %s", jerr.text);
			goto out;
		}
	}
	if (!json_is_object(cfg)) {
		err_set(err, "Failed to parse vm config: not a JSON object");
		goto out;
	}
	if (!vm_config_types_ok(cfg, &bad)) {
		err_set(err, "Failed to parse vm config: invalid type for field `%s`", bad);
		goto out;
	}
	json_t *h = json_object_get(cfg, "os_image_hash");
	if (h && (!json_is_string(h) ||
		  hex_decode(json_string_value(h), json_string_length(h), out) < 0)) {
		err_set(err, "Failed to parse vm config: invalid os_image_hash");
		goto out;
	}
	rc = 0;
out:
	if (cfg != root)
		json_decref(cfg);
	json_decref(root);
	return rc;
}

void appinfo_vm_config_text(const struct attestation *att, const char *vm_config, size_t len,
			    const char **out, size_t *out_len)
{
	*out = vm_config;
	*out_len = len;
	if (!*out || *out_len == 0) {
		*out = (const char *)att->config.p;
		*out_len = att->config.len;
	}
	if (!*out || *out_len == 0) {
		*out = "{}";
		*out_len = 2;
	}
}

/* ---- AppInfo (§10.3) ---- */

/* find_event: scan in order, stop at the first system-ready, first match. */
static const struct runtime_event *find_event(const struct attestation *att, const char *name)
{
	for (size_t i = 0; i < att->n_runtime_events; i++) {
		const struct runtime_event *e = &att->runtime_events[i];
		if (name_is(e->event, e->event_len, SYSTEM_READY))
			break;
		if (name_is(e->event, e->event_len, name))
			return e;
	}
	return NULL;
}

static int set_payload(struct buf *b, const struct attestation *att, const char *name)
{
	const struct runtime_event *e = find_event(att, name);
	buf_reset(b);
	return e ? buf_append(b, e->payload, e->payload_len) : 0;
}

static int is_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static int init_scripts(const struct attestation *att, struct app_info *ai, struct err *err)
{
	size_t n = 0;
	for (size_t i = 0; i < att->n_runtime_events; i++) {
		const struct runtime_event *e = &att->runtime_events[i];
		if (name_is(e->event, e->event_len, SYSTEM_READY))
			break;
		n += name_is(e->event, e->event_len, "init-script-hash");
	}
	if (n == 0)
		return 0;
	if (!(ai->init_script_hashes = calloc(n, sizeof *ai->init_script_hashes)))
		return oom(err);
	for (size_t i = 0, k = 0; k < n; i++) {
		const struct runtime_event *e = &att->runtime_events[i];
		if (!name_is(e->event, e->event_len, "init-script-hash"))
			continue;
		ai->n_init_script_hashes = k + 1;
		if (buf_append(&ai->init_script_hashes[k++], e->payload, e->payload_len) < 0)
			return oom(err);
	}
	return 0;
}

static int decode(const struct attestation *att, const struct tdx_report *td,
		  const struct appinfo_opts *opts, struct app_info *ai, struct err *err)
{
	struct tdx_report tmp;
	static const uint8_t empty[1] = {0};
	uint8_t mr_key_provider[32] = {0}, h[32];

	/* key provider, os_image_hash (upstream's non_snp_context order) */
	if (!opts->boottime && set_payload(&ai->key_provider_info, att, "key-provider") < 0)
		return oom(err);
	if (ai->key_provider_info.len) {
		struct part p = {ai->key_provider_info.p, ai->key_provider_info.len};
		TRY(sha256_parts(&p, 1, mr_key_provider, err));
	}
	const char *cfg;
	size_t cfg_len;
	appinfo_vm_config_text(att, opts->vm_config, opts->vm_config_len, &cfg, &cfg_len);
	if (appinfo_vm_config_os_image_hash(cfg, cfg_len, opts->unwrap_nested_vm_config,
					    &ai->os_image_hash, err) < 0)
		return err_wrap(err, "Failed to decode os image hash");

	/* measurements */
	TRY(get_td(att, td, &tmp, &td, err));
	TRY(eventlog_replay_runtime(att->runtime_events, att->n_runtime_events,
				    opts->boottime ? BOOT_MR_DONE : NULL, ai->rtmr3, err));
	struct part sys[5] = {{td->mr_td, 48},
			      {td->rtmr[0], 48},
			      {td->rtmr[1], 48},
			      {td->rtmr[2], 48},
			      {mr_key_provider, 32}};
	TRY(sha256_parts(sys, 5, h, err));
	if (buf_append(&ai->mr_system, h, 32) < 0)
		return oom(err);
	struct part agg[8] = {{td->mr_td, 48},	  {td->rtmr[0], 48},	    {td->rtmr[1], 48},
			      {td->rtmr[2], 48},  {ai->rtmr3, 48},	    {td->mr_config_id, 48},
			      {td->mr_owner, 48}, {td->mr_owner_config, 48}};
	/* Backward compatibility: the three config registers count only when set. */
	int extra = !is_zero(td->mr_config_id, 48) || !is_zero(td->mr_owner, 48) ||
		    !is_zero(td->mr_owner_config, 48);
	TRY(sha256_parts(agg, extra ? 8 : 5, h, err));
	if (buf_append(&ai->mr_aggregated, h, 32) < 0)
		return oom(err);

	/* identity */
	if (set_payload(&ai->compose_hash, att, "compose-hash") < 0 ||
	    set_payload(&ai->app_id, att, "app-id") < 0 ||
	    set_payload(&ai->instance_id, att, "instance-id") < 0)
		return oom(err);
	struct part dev = {opts->ppid ? opts->ppid : empty, opts->ppid ? opts->ppid_len : 0};
	TRY(sha256_parts(&dev, 1, h, err));
	if (buf_append(&ai->device_id, h, 32) < 0)
		return oom(err);
	return init_scripts(att, ai, err);
}

int appinfo_decode(const struct attestation *att, const struct tdx_report *td,
		   const struct appinfo_opts *opts, struct app_info *ai, struct err *err)
{
	memset(ai, 0, sizeof *ai);
	if (decode(att, td, opts, ai, err) < 0) {
		appinfo_free(ai);
		return err_wrap(err, "decode app info");
	}
	return 0;
}

/* ---- BootInfo (§10.1) ---- */

int appinfo_boot_info(const struct attestation *att, const struct tdx_report *td,
		      const struct dcap_result *dcap, int boottime, const char *vm_config,
		      size_t vm_config_len, struct boot_info *bi, struct err *err)
{
	struct appinfo_opts opts = {
	    .boottime = boottime,
	    .vm_config = vm_config,
	    .vm_config_len = vm_config_len,
	    .unwrap_nested_vm_config = 0,
	    .ppid = dcap->ppid,
	    .ppid_len = sizeof dcap->ppid,
	};
	struct app_info ai;
	char status[sizeof dcap->status + 1];
	TRY(appinfo_decode(att, td, &opts, &ai, err));
	int rc = -1;
	if (boot_info_check_app_id(ai.app_id.p, ai.app_id.len, err) < 0)
		goto out;
	memcpy(status, dcap->status, sizeof dcap->status);
	status[sizeof dcap->status] = 0;
	boot_info_free(bi);
	if (boot_info_set_tee_variant(bi, attestation_tee_variant(att->platform), err) < 0 ||
	    boot_info_set_bytes(&bi->mr_aggregated, ai.mr_aggregated.p, ai.mr_aggregated.len, err) <
		0 ||
	    boot_info_set_bytes(&bi->os_image_hash, ai.os_image_hash.p, ai.os_image_hash.len, err) <
		0 ||
	    boot_info_set_bytes(&bi->mr_system, ai.mr_system.p, ai.mr_system.len, err) < 0 ||
	    boot_info_set_bytes(&bi->app_id, ai.app_id.p, ai.app_id.len, err) < 0 ||
	    boot_info_set_bytes(&bi->compose_hash, ai.compose_hash.p, ai.compose_hash.len, err) <
		0 ||
	    boot_info_set_bytes(&bi->instance_id, ai.instance_id.p, ai.instance_id.len, err) < 0 ||
	    boot_info_set_bytes(&bi->device_id, ai.device_id.p, ai.device_id.len, err) < 0 ||
	    boot_info_set_key_provider_info(bi, ai.key_provider_info.p, ai.key_provider_info.len,
					    err) < 0 ||
	    boot_info_set_tcb_status(bi, status, err) < 0)
		goto out;
	for (size_t i = 0; i < dcap->n_advisory && i < DCAP_MAX_ADVISORIES; i++) {
		char id[sizeof dcap->advisory_ids[0] + 1];
		memcpy(id, dcap->advisory_ids[i], sizeof dcap->advisory_ids[0]);
		id[sizeof dcap->advisory_ids[0]] = 0;
		if (boot_info_add_advisory_id(bi, id, err) < 0)
			goto out;
	}
	rc = 0;
out:
	if (rc < 0) {
		boot_info_free(bi);
		boot_info_init(bi);
	}
	appinfo_free(&ai);
	return rc;
}

/* ---- APP_INFO (§7.5) ---- */

int appinfo_encode_msgpack(const struct app_info *ai, struct buf *out, struct err *err)
{
	const struct buf *fields[8] = {
	    &ai->app_id,    &ai->compose_hash,	&ai->instance_id,   &ai->device_id,
	    &ai->mr_system, &ai->mr_aggregated, &ai->os_image_hash, &ai->key_provider_info};
	if (ai->mr_system.len != 32 || ai->mr_aggregated.len != 32)
		return err_set(err, "app info: mr_system and mr_aggregated must be 32 bytes");
	int bad = mp_put_array(out, 9) < 0;
	for (size_t i = 0; !bad && i < 8; i++)
		bad = mp_put_bin(out, fields[i]->p, fields[i]->len) < 0;
	/* TDX always binds the (possibly empty) list: Some(vec) → array of bin. */
	bad = bad || mp_put_array(out, ai->n_init_script_hashes) < 0;
	for (size_t i = 0; !bad && i < ai->n_init_script_hashes; i++)
		bad =
		    mp_put_bin(out, ai->init_script_hashes[i].p, ai->init_script_hashes[i].len) < 0;
	return bad ? oom(err) : 0;
}
