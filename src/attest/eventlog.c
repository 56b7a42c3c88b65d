/*
 * eventlog.c — TdxEvent JSON, runtime-event digests (V1 binary, V2 JCS),
 * RTMR replay and the CCEL TCG2 parser (eventlog.h).
 *
 * The V2 pre-image is written by hand because it must be byte-exact RFC 8785
 * output for one fixed object shape; a general JSON writer would not
 * guarantee the escaping. Parsers never trust a count or length beyond the
 * input and never hold more than EVENTLOG_MAX_EVENTS events.
 * spec: attestation §4.1–§4.3, kms-protocol §9.2, §9.5 step 6.
 */
#include "attest/eventlog.h"

#include "attest/scale.h"
#include "util/hex.h"
#include "util/reader.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static int oom(struct err *err)
{
	return err_set(err, "out of memory");
}

/* A NUL-terminated heap copy of n bytes (n may be 0). */
static void *dup_bytes(const void *p, size_t n)
{
	if (n == SIZE_MAX)
		return NULL;
	uint8_t *q = malloc(n + 1);
	if (!q)
		return NULL;
	if (n)
		memcpy(q, p, n);
	q[n] = 0;
	return q;
}

static int sha384_2(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
		    uint8_t out[EVENTLOG_MR_LEN], struct err *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int olen = 0;
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha384(), NULL) == 1 &&
		 EVP_DigestUpdate(ctx, a, alen) == 1 && EVP_DigestUpdate(ctx, b, blen) == 1 &&
		 EVP_DigestFinal_ex(ctx, out, &olen) == 1 && olen == EVENTLOG_MR_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : err_openssl(err, "SHA-384");
}

void eventlog_tdx_events_free(struct tdx_event *ev, size_t n)
{
	if (!ev)
		return;
	for (size_t i = 0; i < n; i++) {
		free(ev[i].digest);
		free(ev[i].event);
		free(ev[i].payload);
		free(ev[i].preimage);
	}
	free(ev);
}

void eventlog_runtime_events_free(struct runtime_event *ev, size_t n)
{
	if (!ev)
		return;
	for (size_t i = 0; i < n; i++) {
		free(ev[i].event);
		free(ev[i].payload);
	}
	free(ev);
}

/* ---- TdxEvent JSON ---- */

static int json_u32(json_t *v, uint32_t *out)
{
	if (!json_is_integer(v))
		return -1;
	json_int_t x = json_integer_value(v);
	if (x < 0 || (uint64_t)x > UINT32_MAX)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

/* A hex string field into a heap copy (NUL-terminated, len excludes it). */
static int json_hex(json_t *v, uint8_t **p, size_t *n)
{
	if (!json_is_string(v))
		return -1;
	struct buf b = BUF_INIT;
	if (hex_decode(json_string_value(v), json_string_length(v), &b) < 0) {
		buf_free(&b);
		return -1;
	}
	*p = dup_bytes(b.p ? b.p : (const uint8_t *)"", b.len);
	*n = b.len;
	buf_free(&b);
	return *p ? 0 : -1;
}

static int parse_json_event(json_t *o, size_t idx, struct tdx_event *e, struct err *err)
{
	if (!json_is_object(o))
		return err_set(err, "event log entry %zu is not an object", idx);
	json_t *v;
	if (!(v = json_object_get(o, "imr")) || json_u32(v, &e->imr) < 0)
		return err_set(err, "event log entry %zu: missing or invalid imr", idx);
	if (!(v = json_object_get(o, "event_type")) || json_u32(v, &e->event_type) < 0)
		return err_set(err, "event log entry %zu: missing or invalid event_type", idx);
	v = json_object_get(o, "digest");
	if (v && json_hex(v, &e->digest, &e->digest_len) < 0)
		return err_set(err, "event log entry %zu: invalid digest", idx);
	if (!v && !(e->digest = dup_bytes("", 0)))
		return oom(err);
	if (!(v = json_object_get(o, "event")) || !json_is_string(v))
		return err_set(err, "event log entry %zu: missing or invalid event", idx);
	e->event_len = json_string_length(v);
	if (!(e->event = dup_bytes(json_string_value(v), e->event_len)))
		return oom(err);
	if (!(v = json_object_get(o, "event_payload")) ||
	    json_hex(v, &e->payload, &e->payload_len) < 0)
		return err_set(err, "event log entry %zu: missing or invalid event_payload", idx);
	e->version = 1;
	if ((v = json_object_get(o, "version"))) {
		uint32_t ver;
		if (json_u32(v, &ver) < 0 || (ver != 1 && ver != 2))
			return err_set(err, "event log entry %zu: unknown event log version", idx);
		e->version = (int)ver;
	}
	if ((v = json_object_get(o, "preimage")) && !json_is_null(v)) {
		if (!json_is_string(v))
			return err_set(err, "event log entry %zu: invalid preimage", idx);
		e->preimage_len = json_string_length(v);
		if (!(e->preimage = dup_bytes(json_string_value(v), e->preimage_len)))
			return oom(err);
	}
	return 0;
}

int eventlog_parse_json(const void *json, size_t len, struct tdx_event **out, size_t *n,
			struct err *err)
{
	json_error_t jerr;
	*out = NULL;
	*n = 0;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!root)
		return err_set(err, "Failed to parse tdx_event_log: %s", jerr.text);
	int rc = -1;
	struct tdx_event *ev = NULL;
	size_t count = 0;
	if (!json_is_array(root)) {
		err_set(err, "Failed to parse tdx_event_log: not a JSON array");
		goto out;
	}
	count = json_array_size(root);
	if (count > EVENTLOG_MAX_EVENTS) {
		err_set(err, "Failed to parse tdx_event_log: more than %d events",
			EVENTLOG_MAX_EVENTS);
		count = 0;
		goto out;
	}
	if (count && !(ev = calloc(count, sizeof *ev))) {
		oom(err);
		count = 0;
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		if (parse_json_event(json_array_get(root, i), i, &ev[i], err) < 0) {
			err_wrap(err, "Failed to parse tdx_event_log");
			goto out;
		}
	}
	*out = ev;
	*n = count;
	ev = NULL;
	rc = 0;
out:
	eventlog_tdx_events_free(ev, count);
	json_decref(root);
	return rc;
}

int eventlog_runtime_from_tdx(const struct tdx_event *ev, size_t n, struct runtime_event **out,
			      size_t *n_out, struct err *err)
{
	size_t m = 0;
	*out = NULL;
	*n_out = 0;
	for (size_t i = 0; i < n; i++)
		m += ev[i].event_type == EVENTLOG_RUNTIME_EVENT_TYPE;
	if (m == 0)
		return 0;
	struct runtime_event *re = calloc(m, sizeof *re);
	if (!re)
		return oom(err);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (ev[i].event_type != EVENTLOG_RUNTIME_EVENT_TYPE)
			continue;
		re[k].event = dup_bytes(ev[i].event, ev[i].event_len);
		re[k].event_len = ev[i].event_len;
		re[k].payload = dup_bytes(ev[i].payload, ev[i].payload_len);
		re[k].payload_len = ev[i].payload_len;
		re[k].version = ev[i].version;
		k++;
		if (!re[k - 1].event || !re[k - 1].payload) {
			eventlog_runtime_events_free(re, k);
			return oom(err);
		}
	}
	*out = re;
	*n_out = m;
	return 0;
}

/* ---- digests ---- */

/* RFC 8785 string: quote, backslash and the short control escapes, other
 * controls as \u00xx (lowercase), everything else verbatim. */
static int jcs_string(struct buf *b, const char *s, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	if (buf_append_byte(b, '"') < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7];
		size_t elen = 0;
		switch (c) {
		case '"':
			memcpy(esc, "\\\"", elen = 2);
			break;
		case '\\':
			memcpy(esc, "\\\\", elen = 2);
			break;
		case '\b':
			memcpy(esc, "\\b", elen = 2);
			break;
		case '\f':
			memcpy(esc, "\\f", elen = 2);
			break;
		case '\n':
			memcpy(esc, "\\n", elen = 2);
			break;
		case '\r':
			memcpy(esc, "\\r", elen = 2);
			break;
		case '\t':
			memcpy(esc, "\\t", elen = 2);
			break;
		default:
			if (c < 0x20) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hexd[c >> 4];
				esc[5] = hexd[c & 15];
				elen = 6;
			}
		}
		if (elen ? buf_append(b, esc, elen) < 0 : buf_append_byte(b, c) < 0)
			return -1;
	}
	return buf_append_byte(b, '"');
}

int eventlog_v2_json(const char *name, size_t name_len, const uint8_t *payload, size_t payload_len,
		     struct buf *out)
{
	if (buf_append_str(out, "{\"name\":") < 0 || jcs_string(out, name, name_len) < 0 ||
	    buf_append_str(out, ",\"payload\":\"") < 0 ||
	    hex_append(out, payload, payload_len) < 0 ||
	    buf_append_str(out, "\",\"type\":134217729}") < 0)
		return -1;
	return 0;
}

int eventlog_runtime_preimage(const char *name, size_t name_len, const uint8_t *payload,
			      size_t payload_len, int version, struct buf *out)
{
	if (version == 2)
		return eventlog_v2_json(name, name_len, payload, payload_len, out);
	static const uint8_t prefix[5] = {0x01, 0x00, 0x00, 0x08, ':'};
	if (buf_append(out, prefix, sizeof prefix) < 0 || buf_append(out, name, name_len) < 0 ||
	    buf_append_byte(out, ':') < 0 || buf_append(out, payload, payload_len) < 0)
		return -1;
	return 0;
}

static int runtime_digest(const char *name, size_t name_len, const uint8_t *payload,
			  size_t payload_len, int version, uint8_t out[EVENTLOG_MR_LEN],
			  struct err *err)
{
	struct buf pre = BUF_INIT;
	if (eventlog_runtime_preimage(name, name_len, payload, payload_len, version, &pre) < 0) {
		buf_free(&pre);
		return oom(err);
	}
	int rc = sha384_2(pre.p, pre.len, NULL, 0, out, err);
	buf_free(&pre);
	return rc;
}

int eventlog_runtime_digest(const struct runtime_event *e, uint8_t out[EVENTLOG_MR_LEN],
			    struct err *err)
{
	return runtime_digest(e->event, e->event_len, e->payload, e->payload_len, e->version, out,
			      err);
}

static int name_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && memcmp(name, want, len) == 0;
}

int eventlog_replay_runtime(const struct runtime_event *ev, size_t n, const char *to_event,
			    uint8_t out[EVENTLOG_MR_LEN], struct err *err)
{
	uint8_t mr[EVENTLOG_MR_LEN] = {0}, d[EVENTLOG_MR_LEN];
	for (size_t i = 0; i < n; i++) {
		TRY(eventlog_runtime_digest(&ev[i], d, err));
		TRY(sha384_2(mr, sizeof mr, d, sizeof d, mr, err));
		if (to_event && name_is(ev[i].event, ev[i].event_len, to_event))
			break;
	}
	memcpy(out, mr, sizeof mr);
	return 0;
}

int eventlog_replay_imr(const struct tdx_event *ev, size_t n, uint32_t imr,
			uint8_t out[EVENTLOG_MR_LEN], struct err *err)
{
	uint8_t mr[EVENTLOG_MR_LEN] = {0}, d[EVENTLOG_MR_LEN];
	for (size_t i = 0; i < n; i++) {
		const struct tdx_event *e = &ev[i];
		if (e->imr != imr)
			continue;
		if (e->event_type == EVENTLOG_RUNTIME_EVENT_TYPE) {
			TRY(runtime_digest(e->event, e->event_len, e->payload, e->payload_len,
					   e->version, d, err));
		} else {
			if (e->digest_len != EVENTLOG_MR_LEN)
				return err_set(err, "event %zu: digest is %zu bytes, expected 48",
					       i, e->digest_len);
			memcpy(d, e->digest, sizeof d);
		}
		TRY(sha384_2(mr, sizeof mr, d, sizeof d, mr, err));
	}
	memcpy(out, mr, sizeof mr);
	return 0;
}

int eventlog_validate_v2_preimages(const struct tdx_event *ev, size_t n, struct err *err)
{
	static const uint8_t none[1] = {0};
	for (size_t i = 0; i < n; i++) {
		const struct tdx_event *e = &ev[i];
		if (e->event_type != EVENTLOG_RUNTIME_EVENT_TYPE || e->version != 2)
			continue;
		if (!e->preimage)
			return err_set(err, "V2 runtime event %zu is missing its digest preimage",
				       i);
		struct buf supplied = BUF_INIT, canon = BUF_INIT;
		uint8_t d[EVENTLOG_MR_LEN];
		int rc = -1;
		if (hex_decode(e->preimage, e->preimage_len, &supplied) < 0) {
			err_set(err, "V2 runtime event %zu has a malformed digest preimage", i);
			goto next;
		}
		if (sha384_2(supplied.p ? supplied.p : none, supplied.len, NULL, 0, d, err) < 0)
			goto next;
		if (e->digest_len != sizeof d || memcmp(d, e->digest, sizeof d) != 0) {
			err_set(err, "V2 runtime event %zu digest does not match its preimage", i);
			goto next;
		}
		if (eventlog_v2_json(e->event, e->event_len, e->payload, e->payload_len, &canon) <
		    0) {
			oom(err);
			goto next;
		}
		if (canon.len != supplied.len ||
		    (canon.len && memcmp(canon.p, supplied.p, canon.len) != 0)) {
			err_set(err,
				"V2 runtime event %zu preimage is not the canonical event "
				"representation",
				i);
			goto next;
		}
		rc = 0;
	next:
		buf_free(&supplied);
		buf_free(&canon);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int eventlog_is_acpi_data_event(const struct tdx_event *e)
{
	return e->imr == 0 && e->event_type == EVENTLOG_ACPI_DATA_EVENT_TYPE &&
	       e->payload_len == 9 && memcmp(e->payload, "ACPI DATA", 9) == 0;
}

/* ---- CCEL ---- */

#define CCEL_MAX_EVENT_DATA 65536 /* upstream VecOf bound */

static size_t alg_digest_size(uint16_t alg)
{
	switch (alg) {
	case 0x4:
		return 20;
	case 0xB:
		return 32;
	case 0xC:
		return 48;
	case 0xD:
		return 64;
	default:
		return 0;
	}
}

/* TCG_PCClientPCREvent carrying TCG_EfiSpecIDEvent; must decode. */
static int ccel_header(struct reader *r, struct err *err)
{
	uint32_t pcr, type, size, nalg;
	struct reader ev;
	if (rd_u32le(r, &pcr) < 0 || rd_u32le(r, &type) < 0 || rd_skip(r, 20) < 0 ||
	    rd_u32le(r, &size) < 0 || rd_sub(r, size, &ev) < 0)
		return err_set(err, "CCEL: truncated spec id header event");
	uint8_t vendor_len;
	if (rd_skip(&ev, 16 + 4 + 4) < 0 || rd_u32le(&ev, &nalg) < 0 || nalg > 65536 ||
	    rd_skip(&ev, (size_t)nalg * 4) < 0 || rd_u8(&ev, &vendor_len) < 0 ||
	    rd_skip(&ev, vendor_len) < 0)
		return err_set(err, "CCEL: malformed TCG_EfiSpecIDEvent");
	return 0;
}

int eventlog_ccel_parse(const uint8_t *buf, size_t len, struct ccel_event **out, size_t *n,
			struct err *err)
{
	struct reader r;
	struct ccel_event *ev = NULL;
	size_t count = 0, cap = 0;
	*out = NULL;
	*n = 0;
	reader_init(&r, buf, len);
	TRY(ccel_header(&r, err));
	while (rd_left(&r) > 0) {
		uint32_t idx;
		if (rd_u32le(&r, &idx) < 0) {
			err_set(err, "CCEL: truncated event %zu", count);
			goto fail;
		}
		if (idx == 0xFFFFFFFFu)
			break;
		if (count == EVENTLOG_MAX_EVENTS) {
			err_set(err, "CCEL: more than %d events", EVENTLOG_MAX_EVENTS);
			goto fail;
		}
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			struct ccel_event *nev = realloc(ev, ncap * sizeof *ev);
			if (!nev) {
				oom(err);
				goto fail;
			}
			ev = nev;
			cap = ncap;
		}
		struct ccel_event *e = &ev[count];
		memset(e, 0, sizeof *e);
		e->mr_index = idx;
		uint32_t nd, size;
		if (rd_u32le(&r, &e->event_type) < 0 || rd_u32le(&r, &nd) < 0) {
			err_set(err, "CCEL: truncated event %zu", count);
			goto fail;
		}
		if (nd > CCEL_MAX_DIGESTS) {
			err_set(err, "CCEL: event %zu has %u digests (max %d)", count, nd,
				CCEL_MAX_DIGESTS);
			goto fail;
		}
		for (uint32_t k = 0; k < nd; k++) {
			struct ccel_digest *d = &e->digests[k];
			if (rd_u16le(&r, &d->alg) < 0) {
				err_set(err, "CCEL: truncated event %zu", count);
				goto fail;
			}
			d->len = alg_digest_size(d->alg);
			if (!d->len) {
				err_set(err, "CCEL: event %zu: unsupported algorithm ID 0x%x",
					count, d->alg);
				goto fail;
			}
			if (rd_bytes(&r, d->len, &d->d) < 0) {
				err_set(err, "CCEL: truncated event %zu", count);
				goto fail;
			}
		}
		e->n_digests = nd;
		if (rd_u32le(&r, &size) < 0 || size > CCEL_MAX_EVENT_DATA ||
		    rd_bytes(&r, size, &e->data) < 0) {
			err_set(err, "CCEL: truncated or oversized event %zu data", count);
			goto fail;
		}
		e->data_len = size;
		count++;
	}
	*out = ev;
	*n = count;
	return 0;
fail:
	free(ev);
	return -1;
}

int eventlog_ccel_to_tdx(const struct ccel_event *ce, size_t n, struct tdx_event **out,
			 size_t *n_out, struct err *err)
{
	static const char *const acpi_names[3] = {"acpi-loader", "acpi-rsdp", "acpi-tables"};
	size_t m = 0, k = 0, acpi = 0;
	*out = NULL;
	*n_out = 0;
	for (size_t i = 0; i < n; i++)
		m += ce[i].mr_index > 0;
	if (m == 0)
		return 0;
	struct tdx_event *ev = calloc(m, sizeof *ev);
	if (!ev)
		return oom(err);
	for (size_t i = 0; i < n; i++) {
		if (ce[i].mr_index == 0)
			continue;
		struct tdx_event *e = &ev[k++];
		if (ce[i].n_digests != 1) {
			err_set(err, "CCEL event %zu: expected 1 digest, got %zu", i,
				ce[i].n_digests);
			goto fail;
		}
		e->imr = ce[i].mr_index - 1;
		e->event_type = ce[i].event_type;
		e->version = 1;
		e->digest_len = ce[i].digests[0].len;
		e->payload_len = ce[i].data_len;
		e->digest = dup_bytes(ce[i].digests[0].d, e->digest_len);
		e->payload = dup_bytes(ce[i].data, e->payload_len);
		const char *name = "";
		if (e->digest && e->payload && eventlog_is_acpi_data_event(e) && acpi < 3)
			name = acpi_names[acpi++];
		e->event_len = strlen(name);
		e->event = dup_bytes(name, e->event_len);
		if (!e->digest || !e->payload || !e->event) {
			oom(err);
			goto fail;
		}
	}
	*out = ev;
	*n_out = m;
	return 0;
fail:
	eventlog_tdx_events_free(ev, m);
	return -1;
}
