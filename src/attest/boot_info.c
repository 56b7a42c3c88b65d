/*
 * boot_info.c — BootInfo bounds, validation and webhook JSON (boot_info.h).
 *
 * The JSON is written by hand, not through a JSON library, because the
 * webhook body must be byte-exact: fixed key order, compact separators and
 * serde_json's string escaping. Holds only public measurements, no secrets.
 * spec: kms-protocol §10.1, §11.
 */
#include "attest/boot_info.h"

#include "util/utf8.h"

#include "util/hex.h"

#include <stdlib.h>
#include <string.h>

void boot_info_init(struct boot_info *bi)
{
	memset(bi, 0, sizeof *bi);
}

void boot_info_free(struct boot_info *bi)
{
	if (!bi)
		return;
	free(bi->key_provider_info);
	for (size_t i = 0; i < bi->n_advisory_ids; i++)
		free(bi->advisory_ids[i]);
	free(bi->advisory_ids);
	memset(bi, 0, sizeof *bi);
}

/* Strict UTF-8 without NUL bytes. */
static int utf8_text_valid(const char *s, size_t n)
{
	return !memchr(s, 0, n) && utf8_valid(s, n);
}

static int set_string(char *dst, size_t cap, const char *s, const char *what, struct err *err)
{
	size_t n = strnlen(s, cap + 1);
	if (n > cap)
		return err_set(err, "boot info: %s longer than %zu bytes", what, cap);
	if (!utf8_text_valid(s, n))
		return err_set(err, "boot info: %s is not valid UTF-8", what);
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

int boot_info_set_bytes(struct boot_info_bytes *f, const uint8_t *p, size_t n, struct err *err)
{
	if (n > BOOT_INFO_BYTES_MAX)
		return err_set(err, "boot info: field of %zu bytes exceeds %d", n,
			       BOOT_INFO_BYTES_MAX);
	if (n)
		memcpy(f->b, p, n);
	f->len = n;
	return 0;
}

int boot_info_set_tee_variant(struct boot_info *bi, const char *s, struct err *err)
{
	return set_string(bi->tee_variant, BOOT_INFO_VARIANT_MAX, s, "tee_variant", err);
}

int boot_info_set_tcb_status(struct boot_info *bi, const char *s, struct err *err)
{
	return set_string(bi->tcb_status, BOOT_INFO_TCB_STATUS_MAX, s, "tcb_status", err);
}

int boot_info_set_key_provider_info(struct boot_info *bi, const uint8_t *p, size_t n,
				    struct err *err)
{
	if (n > BOOT_INFO_KPI_MAX)
		return err_set(err, "boot info: key_provider_info of %zu bytes exceeds %d", n,
			       BOOT_INFO_KPI_MAX);
	uint8_t *copy = NULL;
	if (n) {
		copy = malloc(n);
		if (!copy)
			return err_set(err, "boot info: out of memory");
		memcpy(copy, p, n);
	}
	free(bi->key_provider_info);
	bi->key_provider_info = copy;
	bi->key_provider_info_len = n;
	return 0;
}

int boot_info_add_advisory_id(struct boot_info *bi, const char *id, struct err *err)
{
	if (bi->n_advisory_ids >= BOOT_INFO_ADVISORIES_MAX)
		return err_set(err, "boot info: more than %d advisory ids",
			       BOOT_INFO_ADVISORIES_MAX);
	size_t n = strnlen(id, BOOT_INFO_ADVISORY_LEN_MAX + 1);
	if (n > BOOT_INFO_ADVISORY_LEN_MAX)
		return err_set(err, "boot info: advisory id longer than %d bytes",
			       BOOT_INFO_ADVISORY_LEN_MAX);
	if (!utf8_text_valid(id, n))
		return err_set(err, "boot info: advisory id is not valid UTF-8");
	char **arr = realloc(bi->advisory_ids, (bi->n_advisory_ids + 1) * sizeof *arr);
	if (!arr)
		return err_set(err, "boot info: out of memory");
	bi->advisory_ids = arr;
	arr[bi->n_advisory_ids] = strndup(id, n);
	if (!arr[bi->n_advisory_ids])
		return err_set(err, "boot info: out of memory");
	bi->n_advisory_ids++;
	return 0;
}

int boot_info_check_app_id(const uint8_t *app_id, size_t len, struct err *err)
{
	(void)app_id;
	if (len != BOOT_INFO_APP_ID_LEN)
		return err_set(err, "app_id must be 20 bytes"); /* spec: kms-protocol §10.1 */
	return 0;
}

static int string_ok(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap + 1);
	return n <= cap && utf8_text_valid(s, n);
}

int boot_info_validate(const struct boot_info *bi, struct err *err)
{
	TRY(boot_info_check_app_id(bi->app_id.b, bi->app_id.len, err));
	const struct boot_info_bytes *fields[] = {
	    &bi->mr_aggregated, &bi->os_image_hash, &bi->mr_system, &bi->app_id,
	    &bi->compose_hash,	&bi->instance_id,   &bi->device_id};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (fields[i]->len > BOOT_INFO_BYTES_MAX)
			return err_set(err, "boot info: byte field over %d bytes",
				       BOOT_INFO_BYTES_MAX);
	if (bi->key_provider_info_len > BOOT_INFO_KPI_MAX ||
	    (bi->key_provider_info_len && !bi->key_provider_info))
		return err_set(err, "boot info: bad key_provider_info");
	if (!string_ok(bi->tee_variant, BOOT_INFO_VARIANT_MAX) ||
	    !string_ok(bi->tcb_status, BOOT_INFO_TCB_STATUS_MAX))
		return err_set(err, "boot info: bad tee_variant or tcb_status");
	if (bi->n_advisory_ids > BOOT_INFO_ADVISORIES_MAX ||
	    (bi->n_advisory_ids && !bi->advisory_ids))
		return err_set(err, "boot info: too many advisory ids");
	for (size_t i = 0; i < bi->n_advisory_ids; i++)
		if (!bi->advisory_ids[i] ||
		    !string_ok(bi->advisory_ids[i], BOOT_INFO_ADVISORY_LEN_MAX))
			return err_set(err, "boot info: bad advisory id");
	return 0;
}

/* A JSON string literal as serde_json writes it: ", \ and control bytes
 * escaped (\b \f \n \r \t, else \u00xx with lowercase hex), the rest raw. */
static int json_string(struct buf *b, const char *s)
{
	static const char HEXD[] = "0123456789abcdef";
	TRY(buf_append_byte(b, '"'));
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[7];
		const char *out = NULL;
		switch (*p) {
		case '"':
			out = "\\\"";
			break;
		case '\\':
			out = "\\\\";
			break;
		case '\b':
			out = "\\b";
			break;
		case '\f':
			out = "\\f";
			break;
		case '\n':
			out = "\\n";
			break;
		case '\r':
			out = "\\r";
			break;
		case '\t':
			out = "\\t";
			break;
		default:
			if (*p < 0x20) {
				memcpy(esc, "\\u00", 4);
				esc[4] = HEXD[*p >> 4];
				esc[5] = HEXD[*p & 15];
				esc[6] = '\0';
				out = esc;
			}
		}
		TRY(out ? buf_append_str(b, out) : buf_append_byte(b, *p));
	}
	return buf_append_byte(b, '"');
}

static int json_hex(struct buf *b, const char *key, const uint8_t *p, size_t n)
{
	TRY(buf_printf(b, ",\"%s\":\"", key));
	TRY(hex_append(b, p, n));
	return buf_append_byte(b, '"');
}

int boot_info_to_json(const struct boot_info *bi, struct buf *out, struct err *err)
{
	TRY(boot_info_validate(bi, err));
	size_t start = out->len;
	/* spec: kms-protocol §11 — key order is part of the wire format. */
	if (buf_append_str(out, "{\"teeVariant\":") < 0 || json_string(out, bi->tee_variant) < 0 ||
	    json_hex(out, "mrAggregated", bi->mr_aggregated.b, bi->mr_aggregated.len) < 0 ||
	    json_hex(out, "osImageHash", bi->os_image_hash.b, bi->os_image_hash.len) < 0 ||
	    json_hex(out, "mrSystem", bi->mr_system.b, bi->mr_system.len) < 0 ||
	    json_hex(out, "appId", bi->app_id.b, bi->app_id.len) < 0 ||
	    json_hex(out, "composeHash", bi->compose_hash.b, bi->compose_hash.len) < 0 ||
	    json_hex(out, "instanceId", bi->instance_id.b, bi->instance_id.len) < 0 ||
	    json_hex(out, "deviceId", bi->device_id.b, bi->device_id.len) < 0 ||
	    json_hex(out, "keyProviderInfo", bi->key_provider_info, bi->key_provider_info_len) <
		0 ||
	    buf_append_str(out, ",\"tcbStatus\":") < 0 || json_string(out, bi->tcb_status) < 0 ||
	    buf_append_str(out, ",\"advisoryIds\":[") < 0)
		goto oom;
	for (size_t i = 0; i < bi->n_advisory_ids; i++)
		if ((i && buf_append_byte(out, ',') < 0) ||
		    json_string(out, bi->advisory_ids[i]) < 0)
			goto oom;
	if (buf_append_str(out, "]}") < 0)
		goto oom;
	return 0;
oom:
	out->len = start;
	if (out->p)
		out->p[start] = '\0';
	return err_set(err, "boot info: out of memory while encoding JSON");
}
