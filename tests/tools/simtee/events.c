/*
 * events.c — dstack runtime events for simtee: loading an event list, the V1
 * digest, RTMR3 replay and the JSON forms (simtee's own list and the TdxEvent
 * array of the legacy .1.2 certificate extension).
 * TEST-ONLY (see simtee.h). Written independently of src/attest/eventlog.c so
 * the two can check each other.
 * spec: attestation §4.1–§4.3, kms-protocol §9.2.
 */
#include "simtee.h"

#include "util/hex.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define RUNTIME_EVENT_TYPE 0x08000001u

void sim_events_free(struct sim_events *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->ev[i].name);
		buf_free(&e->ev[i].payload);
	}
	e->n = 0;
}

int sim_events_add(struct sim_events *e, const char *name, const uint8_t *p, size_t n,
		   struct err *err)
{
	if (e->n >= SIM_MAX_EVENTS)
		return err_set(err, "more than %d runtime events", SIM_MAX_EVENTS);
	struct sim_event *ev = &e->ev[e->n];
	memset(ev, 0, sizeof *ev);
	if (!(ev->name = strdup(name)) || buf_append(&ev->payload, p, n) < 0) {
		free(ev->name);
		buf_free(&ev->payload);
		return err_set(err, "out of memory");
	}
	e->n++;
	return 0;
}

static int b64_decode(const char *s, size_t n, struct buf *out)
{
	if (n % 4)
		return -1;
	if (n == 0)
		return 0;
	size_t pad = (s[n - 1] == '=') + (n > 1 && s[n - 2] == '=');
	if (buf_reserve(out, n / 4 * 3) < 0)
		return -1;
	int k = EVP_DecodeBlock(out->p + out->len, (const unsigned char *)s, (int)n);
	if (k < 0 || (size_t)k < pad)
		return -1;
	out->len += (size_t)k - pad;
	out->p[out->len] = 0;
	return 0;
}

static int add_json_event(struct sim_events *e, json_t *o, struct err *err)
{
	const char *name = json_string_value(json_object_get(o, "event"));
	json_t *ph = json_object_get(o, "payload_hex"), *pb = json_object_get(o, "payload");
	struct buf p = BUF_INIT;
	int rc = -1;
	if (!name) {
		err_set(err, "event without an \"event\" name");
		goto out;
	}
	if (json_is_string(ph)) {
		if (hex_decode(json_string_value(ph), json_string_length(ph), &p) < 0) {
			err_set(err, "event %s: bad payload_hex", name);
			goto out;
		}
	} else if (json_is_string(pb)) {
		if (b64_decode(json_string_value(pb), json_string_length(pb), &p) < 0) {
			err_set(err, "event %s: bad base64 payload", name);
			goto out;
		}
	} else if (ph || pb) {
		err_set(err, "event %s: payload must be a string", name);
		goto out;
	}
	rc = sim_events_add(e, name, p.p, p.len, err);
out:
	buf_free(&p);
	return rc;
}

int sim_events_load(const char *path, struct sim_events *e, struct err *err)
{
	struct buf b = BUF_INIT;
	json_error_t je;
	int rc = -1;
	TRY_OUT(sim_read_file(path, &b, err));
	const char *s = (const char *)b.p;
	size_t skip = strspn(s, " \t\r\n");
	if (s[skip] == '[') {
		json_t *arr = json_loadb(s, b.len, 0, &je);
		if (!json_is_array(arr)) {
			json_decref(arr);
			err_set(err, "%s: %s", path, je.text);
			goto out;
		}
		for (size_t i = 0; i < json_array_size(arr); i++)
			if (add_json_event(e, json_array_get(arr, i), err) < 0) {
				json_decref(arr);
				goto out;
			}
		json_decref(arr);
	} else {
		/* JSON lines, as the guest's runtime_events.log. */
		const char *p = s, *end = s + b.len;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
			if (n && strspn(p, " \t\r") < n) {
				json_t *o = json_loadb(p, n, 0, &je);
				int r = json_is_object(o) ? add_json_event(e, o, err)
							  : err_set(err, "%s: %s", path, je.text);
				json_decref(o);
				if (r < 0)
					goto out;
			}
			p += n + 1;
		}
	}
	rc = 0;
out:
	if (rc < 0)
		err_wrap(err, "runtime events");
	buf_free(&b);
	return rc;
}

/* spec: attestation §4.2 (V1 digest) */
int sim_event_digest(const struct sim_event *ev, uint8_t out[48])
{
	static const uint8_t prefix[5] = {0x01, 0x00, 0x00, 0x08, ':'};
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok = md && EVP_DigestInit_ex(md, EVP_sha384(), NULL) == 1 &&
		 EVP_DigestUpdate(md, prefix, sizeof prefix) == 1 &&
		 EVP_DigestUpdate(md, ev->name, strlen(ev->name)) == 1 &&
		 EVP_DigestUpdate(md, ":", 1) == 1 &&
		 EVP_DigestUpdate(md, ev->payload.p, ev->payload.len) == 1 &&
		 EVP_DigestFinal_ex(md, out, &n) == 1 && n == 48;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

/* spec: attestation §4.1 — RTMR_new = SHA-384(RTMR_old || digest) from zero. */
int sim_events_replay(const struct sim_events *e, uint8_t out[48])
{
	uint8_t buf[96];
	memset(out, 0, 48);
	for (size_t i = 0; i < e->n; i++) {
		memcpy(buf, out, 48);
		if (sim_event_digest(&e->ev[i], buf + 48) < 0 ||
		    !EVP_Digest(buf, sizeof buf, out, NULL, EVP_sha384(), NULL))
			return -1;
	}
	return 0;
}

static json_t *hex_json(const uint8_t *p, size_t n)
{
	struct buf h = BUF_INIT;
	json_t *s = hex_append(&h, p, n) == 0 ? json_stringn(buf_str(&h), h.len) : NULL;
	buf_free(&h);
	return s;
}

static int dump(json_t *arr, struct buf *out, struct err *err)
{
	char *s = arr ? json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(arr);
	int rc = s && buf_append_str(out, s) == 0 ? 0 : -1;
	free(s);
	return rc < 0 ? err_set(err, "out of memory") : 0;
}

int sim_events_to_json(const struct sim_events *e, struct buf *out, struct err *err)
{
	json_t *arr = json_array();
	uint8_t d[48];
	for (size_t i = 0; arr && i < e->n; i++) {
		json_t *o = json_object();
		/* Appended first, so that freeing arr frees o on any later failure. */
		if (json_array_append_new(arr, o) < 0 || sim_event_digest(&e->ev[i], d) < 0 ||
		    json_object_set_new(o, "event", json_string(e->ev[i].name)) < 0 ||
		    json_object_set_new(o, "payload_hex",
					hex_json(e->ev[i].payload.p, e->ev[i].payload.len)) < 0 ||
		    json_object_set_new(o, "digest", hex_json(d, 48)) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return dump(arr, out, err);
}

int sim_events_to_tdx_json(const struct sim_events *e, struct buf *out, struct err *err)
{
	json_t *arr = json_array();
	uint8_t d[48];
	for (size_t i = 0; arr && i < e->n; i++) {
		json_t *o = json_object();
		if (json_array_append_new(arr, o) < 0 || sim_event_digest(&e->ev[i], d) < 0 ||
		    json_object_set_new(o, "imr", json_integer(3)) < 0 ||
		    json_object_set_new(o, "event_type", json_integer(RUNTIME_EVENT_TYPE)) < 0 ||
		    json_object_set_new(o, "digest", hex_json(d, 48)) < 0 ||
		    json_object_set_new(o, "event", json_string(e->ev[i].name)) < 0 ||
		    json_object_set_new(o, "event_payload",
					hex_json(e->ev[i].payload.p, e->ev[i].payload.len)) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return dump(arr, out, err);
}
