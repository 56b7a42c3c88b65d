/*
 * authreq.c — request parsing, BootInfo validation and answer bodies of
 * dstack-auth-eth, reproducing upstream's Node server (Fastify 5.8 + Ajv 8
 * with coerceTypes "array", useDefaults; ethers 6) byte for byte where the
 * spec's behaviour table says what it does.
 *
 * Pure functions over jansson values and byte buffers: no I/O, no globals,
 * never logs. Untrusted text is only read through length-checked loops.
 * spec: auth-eth §1.3 (schema, coercion), §1.4 (answers), §1.5 (GET /),
 * §5.3 (behaviour table).
 */
#include "abi/authreq.h"

#include "util/hex.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char AUTHREQ_BODY_INVALID[] =
    "{\"isAllowed\":false,\"reason\":\"invalid authorization request\",\"gatewayAppId\":\"\"}";
const char AUTHREQ_BODY_UNAVAILABLE[] =
    "{\"isAllowed\":false,\"reason\":\"" AUTHREQ_REASON_UNAVAILABLE "\",\"gatewayAppId\":\"\"}";
const char AUTHREQ_BODY_STALE[] =
    "{\"isAllowed\":false,\"reason\":\"" AUTHREQ_REASON_STALE "\",\"gatewayAppId\":\"\"}";
const char AUTHREQ_BODY_ERROR500[] =
    "{\"status\":\"error\",\"message\":\"" AUTHREQ_REASON_UNAVAILABLE "\"}";

#define TCB_MAX_CHARS 128      /* tcbStatus maxLength */
#define ADVISORY_MAX_ITEMS 128 /* advisoryIds maxItems */
#define ADVISORY_MAX_CHARS 256 /* advisoryIds items maxLength */

/* ---- content type ----------------------------------------------------- */

static int js_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* RFC 9110 token character, as Fastify's typeNameReg: [\w!#$%&'*+.^`|~-] */
static int token_char(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("_!#$%&'*+.^`|~-", c) != NULL;
}

static int all_token(const char *p, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!token_char(p[i]))
			return 0;
	return 1;
}

/* Fastify's ContentType: writes the lowercased "type/subtype" of a valid
 * header into out, or returns -1. */
static int media_type(const char *h, char *out, size_t outlen)
{
	size_t n = strlen(h);
	const char *semi = memchr(h, ';', n);
	size_t mlen = semi ? (size_t)(semi - h) : n;
	const char *slash = memchr(h, '/', mlen);
	if (!slash)
		return -1;
	const char *t = h, *te = slash;
	while (t < te && js_space(*t))
		t++;
	const char *s = slash + 1, *se = h + mlen;
	while (se > s && js_space(se[-1]))
		se--;
	size_t tl = (size_t)(te - t), sl = (size_t)(se - s);
	if (!all_token(t, tl) || !all_token(s, sl) || tl + sl + 2 > outlen)
		return -1;
	for (size_t i = 0; i < tl; i++)
		out[i] = (char)((t[i] >= 'A' && t[i] <= 'Z') ? t[i] + 32 : t[i]);
	out[tl] = '/';
	for (size_t i = 0; i < sl; i++)
		out[tl + 1 + i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
	out[tl + 1 + sl] = '\0';
	return 0;
}

/* ---- UTF-8 ------------------------------------------------------------ */

int authreq_utf8_sanitize(const uint8_t *p, size_t n, struct buf *out)
{
	static const uint8_t fffd[3] = {0xef, 0xbf, 0xbd};
	if (buf_reserve(out, n) < 0)
		return -1;
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		if (c < 0x80) {
			TRY(buf_append_byte(out, c));
			i++;
			continue;
		}
		size_t need;
		uint8_t lo = 0x80, hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			lo = c == 0xe0 ? 0xa0 : 0x80;
			hi = c == 0xed ? 0x9f : 0xbf;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			lo = c == 0xf0 ? 0x90 : 0x80;
			hi = c == 0xf4 ? 0x8f : 0xbf;
		} else {
			TRY(buf_append(out, fffd, 3)); /* a byte that cannot start a sequence */
			i++;
			continue;
		}
		/* WHATWG: the maximal valid prefix becomes one U+FFFD; the byte that
		 * broke it is decoded afresh. */
		size_t k = 1;
		while (k <= need && i + k < n) {
			uint8_t b = p[i + k];
			if (b < lo || b > hi)
				break;
			lo = 0x80;
			hi = 0xbf;
			k++;
		}
		if (k == need + 1) {
			TRY(buf_append(out, p + i, k));
		} else {
			TRY(buf_append(out, fffd, 3));
		}
		i += k;
	}
	return 0;
}

static size_t utf8_chars(const uint8_t *p, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			c++;
	return c;
}

/* ---- body parsing ----------------------------------------------------- */

/* secure-json-parse (protoAction/constructorAction "error"): an own
 * "__proto__" key anywhere, or a "constructor" object with a "prototype". */
static int poisoned(const json_t *v)
{
	if (json_is_object(v)) {
		if (json_object_get(v, "__proto__"))
			return 1;
		const json_t *c = json_object_get(v, "constructor");
		if (json_is_object(c) && json_object_get(c, "prototype"))
			return 1;
		const char *k;
		const json_t *e;
		json_object_foreach((json_t *)v, k, e)
		{
			if (poisoned(e))
				return 1;
		}
	} else if (json_is_array(v)) {
		size_t i;
		const json_t *e;
		json_array_foreach(v, i, e)
		{
			if (poisoned(e))
				return 1;
		}
	}
	return 0;
}

enum authreq_parse authreq_parse_body(const struct authreq_http *h, json_t **out, struct err *err)
{
	*out = NULL;
	if (!h->content_type) {
		/* handle-request.js: no Content-Type and nothing announced = no body */
		if (!h->transfer_encoding &&
		    (!h->content_length || strcmp(h->content_length, "0") == 0))
			return AUTHREQ_PARSE_OK;
		err_set(err, "request body without Content-Type");
		return AUTHREQ_PARSE_NO_PARSER;
	}
	char mt[128];
	int is_json = 0;
	if (media_type(h->content_type, mt, sizeof mt) == 0) {
		if (strcmp(mt, "application/json") == 0)
			is_json = 1;
		else if (strcmp(mt, "text/plain") != 0)
			mt[0] = '\0';
	} else {
		mt[0] = '\0';
	}
	if (!mt[0]) {
		err_set(err, "unsupported Content-Type");
		return AUTHREQ_PARSE_NO_PARSER;
	}
	if (h->body_len > AUTHREQ_BODY_LIMIT) {
		err_set(err, "request body over %d bytes", AUTHREQ_BODY_LIMIT);
		return AUTHREQ_PARSE_FAILED;
	}
	if (is_json && h->body_len == 0) {
		err_set(err, "empty JSON body");
		return AUTHREQ_PARSE_FAILED;
	}
	struct buf text = BUF_INIT;
	if (authreq_utf8_sanitize(h->body, h->body_len, &text) < 0) {
		buf_free(&text);
		err_set(err, "out of memory");
		return AUTHREQ_PARSE_FAILED;
	}
	if (!is_json) {
		*out = json_stringn((const char *)buf_str(&text), text.len);
		buf_free(&text);
		if (!*out) {
			err_set(err, "out of memory");
			return AUTHREQ_PARSE_FAILED;
		}
		return AUTHREQ_PARSE_OK;
	}
	json_error_t je;
	json_t *v = json_loadb((const char *)buf_str(&text), text.len,
			       JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &je);
	buf_free(&text);
	if (!v) {
		err_set(err, "malformed JSON body (line %d column %d)", je.line, je.column);
		return AUTHREQ_PARSE_FAILED;
	}
	if (poisoned(v)) {
		json_decref(v);
		err_set(err, "JSON body with a __proto__ or constructor.prototype key");
		return AUTHREQ_PARSE_FAILED;
	}
	*out = v;
	return AUTHREQ_PARSE_OK;
}

/* ---- JavaScript number formatting ------------------------------------- */

void authreq_js_number(double v, char *out, size_t outlen)
{
	if (isnan(v)) {
		snprintf(out, outlen, "NaN");
		return;
	}
	if (v == 0) {
		snprintf(out, outlen, "0"); /* also -0 */
		return;
	}
	if (isinf(v)) {
		snprintf(out, outlen, "%sInfinity", v < 0 ? "-" : "");
		return;
	}
	const char *sign = v < 0 ? "-" : "";
	double a = fabs(v);
	/* Shortest digit string that reads back as the same double. */
	char e[40];
	for (int prec = 0; prec < 17; prec++) {
		snprintf(e, sizeof e, "%.*e", prec, a);
		if (strtod(e, NULL) == a)
			break;
	}
	char digits[24];
	size_t k = 0;
	const char *p = e;
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9' && k < sizeof digits - 1)
			digits[k++] = *p;
	digits[k] = '\0';
	while (k > 1 && digits[k - 1] == '0')
		digits[--k] = '\0';
	int exp10 = *p == 'e' ? atoi(p + 1) : 0;
	int n = exp10 + 1; /* value = 0.digits × 10^n */
	char body[64];
	if ((int)k <= n && n <= 21) {
		snprintf(body, sizeof body, "%s%.*s", digits, n - (int)k, "000000000000000000000");
	} else if (0 < n && n <= 21) {
		snprintf(body, sizeof body, "%.*s.%s", n, digits, digits + n);
	} else if (-6 < n && n <= 0) {
		snprintf(body, sizeof body, "0.%.*s%s", -n, "000000", digits);
	} else if (k == 1) {
		snprintf(body, sizeof body, "%se%c%d", digits, n - 1 >= 0 ? '+' : '-', abs(n - 1));
	} else {
		snprintf(body, sizeof body, "%c.%se%c%d", digits[0], digits + 1,
			 n - 1 >= 0 ? '+' : '-', abs(n - 1));
	}
	snprintf(out, outlen, "%s%s", sign, body);
}

/* ---- schema validation with Ajv's coercion ---------------------------- */

/* Ajv coerceTypes "array" towards "string": a one-element array is unwrapped,
 * numbers and booleans become their JS text, null becomes "". */
static int coerce_string(const json_t *v, struct buf *out)
{
	buf_reset(out);
	if (json_is_array(v)) {
		if (json_array_size(v) != 1)
			return -1;
		v = json_array_get(v, 0);
	}
	if (json_is_string(v))
		return buf_append(out, json_string_value(v), json_string_length(v));
	if (json_is_number(v)) {
		char num[40];
		authreq_js_number(json_number_value(v), num, sizeof num);
		return buf_append_str(out, num);
	}
	if (json_is_true(v))
		return buf_append_str(out, "true");
	if (json_is_false(v))
		return buf_append_str(out, "false");
	if (json_is_null(v))
		return 0;
	return -1;
}

static int hex_digit(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* ^(?:0x[0-9a-fA-F]{0,2N}|[0-9a-fA-F]{0,2N})$, then upstream's decodeHex:
 * left-pad to 2N digits (nibble level) and decode. hex_out (optional) gets
 * "0x" + the padded digits with their case kept. */
static int hex_field(const struct buf *s, size_t nbytes, uint8_t *out, char *hex_out)
{
	const uint8_t *p = s->p;
	size_t n = s->len;
	if (n >= 2 && p[0] == '0' && p[1] == 'x') {
		p += 2;
		n -= 2;
	}
	if (n > 2 * nbytes)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!hex_digit(p[i]))
			return -1;
	char padded[65];
	size_t pad = 2 * nbytes - n;
	memset(padded, '0', pad);
	if (n)
		memcpy(padded + pad, p, n);
	padded[2 * nbytes] = '\0';
	if (hex_decode_fixed(padded, out, nbytes) < 0)
		return -1;
	if (hex_out) {
		hex_out[0] = '0';
		hex_out[1] = 'x';
		memcpy(hex_out + 2, padded, 2 * nbytes + 1);
	}
	return 0;
}

static const char *const REQUIRED[] = {"mrAggregated", "osImageHash", "appId",
				       "composeHash",  "instanceId",  "deviceId"};

enum authreq_verdict authreq_validate(const json_t *body, struct authreq *out, struct err *err)
{
	memset(out, 0, sizeof *out);
	const json_t *root = body;
	int wrapped = 0;
	if (!root) {
		err_set(err, "no request body");
		return AUTHREQ_INVALID;
	}
	/* Ajv unwraps a one-element array for type "object" but cannot replace
	 * the root: upstream validates the inner object, then its handler reads
	 * fields of the array and fails ("backend unavailable"). */
	if (json_is_array(root) && json_array_size(root) == 1 &&
	    json_is_object(json_array_get(root, 0))) {
		root = json_array_get(root, 0);
		wrapped = 1;
	}
	if (!json_is_object(root)) {
		err_set(err, "body is not a JSON object");
		return AUTHREQ_INVALID;
	}
	for (size_t i = 0; i < sizeof REQUIRED / sizeof REQUIRED[0]; i++)
		if (!json_object_get(root, REQUIRED[i])) {
			err_set(err, "missing field %s", REQUIRED[i]);
			return AUTHREQ_INVALID;
		}

	struct {
		const char *name;
		size_t nbytes;
		uint8_t *dst;
		char *hex;
	} hexes[] = {
	    {"appId", 20, out->bi.app_id, out->app_id_hex},
	    {"composeHash", 32, out->bi.compose_hash, NULL},
	    {"instanceId", 20, out->bi.instance_id, out->instance_id_hex},
	    {"deviceId", 32, out->bi.device_id, NULL},
	    {"mrAggregated", 32, out->bi.mr_aggregated, NULL},
	    {"mrSystem", 32, out->bi.mr_system, NULL},
	    {"osImageHash", 32, out->bi.os_image_hash, NULL},
	};
	struct buf s = BUF_INIT;
	enum authreq_verdict rc = AUTHREQ_INVALID;
	for (size_t i = 0; i < sizeof hexes / sizeof hexes[0]; i++) {
		const json_t *v = json_object_get(root, hexes[i].name);
		buf_reset(&s); /* mrSystem defaults to "" */
		if (v && coerce_string(v, &s) < 0) {
			err_set(err, "%s must be a string", hexes[i].name);
			goto out;
		}
		if (hex_field(&s, hexes[i].nbytes, hexes[i].dst, hexes[i].hex) < 0) {
			err_set(err, "%s must be hex of at most %zu bytes", hexes[i].name,
				hexes[i].nbytes);
			goto out;
		}
	}

	const json_t *tcb = json_object_get(root, "tcbStatus");
	if (tcb) {
		if (coerce_string(tcb, &out->tcb) < 0) {
			err_set(err, "tcbStatus must be a string");
			goto out;
		}
		if (utf8_chars(out->tcb.p, out->tcb.len) > TCB_MAX_CHARS) {
			err_set(err, "tcbStatus longer than %d characters", TCB_MAX_CHARS);
			goto out;
		}
	}

	/* advisoryIds: coerced to an array ("abc" -> ["abc"], null -> [""]) */
	const json_t *adv = json_object_get(root, "advisoryIds");
	json_t *single = NULL;
	if (adv && !json_is_array(adv)) {
		if (json_is_object(adv)) {
			err_set(err, "advisoryIds must be an array");
			goto out;
		}
		single = json_array();
		if (!single || json_array_append((json_t *)single, (json_t *)adv) < 0) {
			json_decref(single);
			err_set(err, "out of memory");
			goto out;
		}
		adv = single;
	}
	size_t nadv = adv ? json_array_size(adv) : 0;
	if (nadv > ADVISORY_MAX_ITEMS) {
		json_decref(single);
		err_set(err, "more than %d advisoryIds", ADVISORY_MAX_ITEMS);
		goto out;
	}
	size_t *offs = NULL;
	if (nadv) {
		out->adv = calloc(nadv, sizeof *out->adv);
		offs = calloc(nadv, sizeof *offs);
		if (!out->adv || !offs) {
			free(offs);
			json_decref(single);
			err_set(err, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < nadv; i++) {
		if (coerce_string(json_array_get(adv, i), &s) < 0 ||
		    utf8_chars(s.p, s.len) > ADVISORY_MAX_CHARS) {
			free(offs);
			json_decref(single);
			err_set(err, "advisoryIds[%zu] must be a string of at most %d characters",
				i, ADVISORY_MAX_CHARS);
			goto out;
		}
		offs[i] = out->adv_data.len;
		out->adv[i].len = s.len;
		if (s.len && buf_append(&out->adv_data, s.p, s.len) < 0) {
			free(offs);
			json_decref(single);
			err_set(err, "out of memory");
			goto out;
		}
	}
	json_decref(single);
	for (size_t i = 0; i < nadv; i++)
		out->adv[i].p = out->adv_data.p ? out->adv_data.p + offs[i] : (const uint8_t *)"";
	free(offs);
	out->bi.tcb_status.p = out->tcb.p ? out->tcb.p : (const uint8_t *)"";
	out->bi.tcb_status.len = out->tcb.len;
	out->bi.advisory_ids = out->adv;
	out->bi.n_advisory_ids = nadv;

	if (wrapped) {
		err_set(err, "body is an array around the BootInfo object");
		rc = AUTHREQ_UNAVAILABLE;
		goto out;
	}
	/* ethers' getAddress on appId and instanceId (spec §1.3 address quirk) */
	uint8_t tmp[20];
	if (abi_parse_address(out->app_id_hex, 42, tmp, err) < 0) {
		err_wrap(err, "appId");
		rc = AUTHREQ_UNAVAILABLE;
		goto out;
	}
	if (abi_parse_address(out->instance_id_hex, 42, tmp, err) < 0) {
		err_wrap(err, "instanceId");
		rc = AUTHREQ_UNAVAILABLE;
		goto out;
	}
	rc = AUTHREQ_VALID;
out:
	buf_free(&s);
	return rc;
}

void authreq_free(struct authreq *r)
{
	buf_free(&r->tcb);
	buf_free(&r->adv_data);
	free(r->adv);
	r->adv = NULL;
}

void authreq_parse_seed(const json_t *body, struct authreq_seed *out)
{
	memset(out, 0, sizeof *out);
	const json_t *m = json_is_object(body) ? json_object_get(body, "method") : NULL;
	if (!json_is_string(m))
		return;
	if (strcmp(json_string_value(m), "ping") == 0 && json_string_length(m) == 4) {
		out->method = AUTHREQ_SEED_PING;
		return;
	}
	if (strcmp(json_string_value(m), "is_app_allowed") != 0 || json_string_length(m) != 14)
		return;
	out->method = AUTHREQ_SEED_IS_APP_ALLOWED;
	const json_t *params = json_object_get(body, "params");
	const json_t *id = json_is_object(params) ? json_object_get(params, "app_id") : NULL;
	if (json_is_string(id) && abi_parse_address(json_string_value(id), json_string_length(id),
						    out->app_id, NULL) == 0)
		out->app_id_ok = 1;
}

/* ---- answers ---------------------------------------------------------- */

int authreq_json_string(struct buf *b, const uint8_t *s, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	TRY(buf_append_byte(b, '"'));
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		const char *esc = NULL;
		char u[7];
		if (c == '"')
			esc = "\\\"";
		else if (c == '\\')
			esc = "\\\\";
		else if (c == '\b')
			esc = "\\b";
		else if (c == '\f')
			esc = "\\f";
		else if (c == '\n')
			esc = "\\n";
		else if (c == '\r')
			esc = "\\r";
		else if (c == '\t')
			esc = "\\t";
		else if (c < 0x20) {
			u[0] = '\\';
			u[1] = 'u';
			u[2] = '0';
			u[3] = '0';
			u[4] = hexd[c >> 4];
			u[5] = hexd[c & 15];
			u[6] = '\0';
			esc = u;
		}
		if (!esc) {
			run++;
			continue;
		}
		if (run && buf_append(b, s + i - run, run) < 0)
			return -1;
		run = 0;
		TRY(buf_append_str(b, esc));
	}
	if (run && buf_append(b, s + n - run, run) < 0)
		return -1;
	return buf_append_byte(b, '"');
}

int authreq_decision_json(struct buf *b, int allowed, const struct abi_bytes *reason,
			  const struct abi_bytes *gateway_app_id)
{
	TRY(buf_append_str(b, allowed ? "{\"isAllowed\":true,\"reason\":"
				      : "{\"isAllowed\":false,\"reason\":"));
	TRY(authreq_json_string(b, reason->p, reason->len));
	TRY(buf_append_str(b, ",\"gatewayAppId\":"));
	TRY(authreq_json_string(b, gateway_app_id->p, gateway_app_id->len));
	return buf_append_byte(b, '}');
}

int authreq_info_json(struct buf *b, const char *kms_addr, const char *rpc_endpoint,
		      const struct abi_bytes *gateway_app_id, uint64_t chain_id,
		      const uint8_t app_implementation[20])
{
	struct buf addr = BUF_INIT;
	char impl[43], chain[40];
	abi_eip55(app_implementation, impl);
	/* upstream: Number(bigint chainId) */
	authreq_js_number((double)chain_id, chain, sizeof chain);
	int rc = -1;
	if (authreq_utf8_sanitize((const uint8_t *)kms_addr, strlen(kms_addr), &addr) < 0)
		goto out;
	TRY_OUT(buf_append_str(b, "{\"status\":\"ok\",\"kmsContractAddr\":"));
	TRY_OUT(authreq_json_string(b, addr.p ? addr.p : (const uint8_t *)"", addr.len));
	TRY_OUT(buf_append_str(b, ",\"ethRpcUrl\":"));
	TRY_OUT(authreq_json_string(b, (const uint8_t *)rpc_endpoint, strlen(rpc_endpoint)));
	TRY_OUT(buf_append_str(b, ",\"gatewayAppId\":"));
	TRY_OUT(authreq_json_string(b, gateway_app_id->p, gateway_app_id->len));
	TRY_OUT(buf_printf(b,
			   ",\"chainId\":%s,\"appAuthImplementation\":\"%s\","
			   "\"appImplementation\":\"%s\"}",
			   chain, impl, impl));
	rc = 0;
out:
	buf_free(&addr);
	return rc;
}

int authreq_not_found_json(struct buf *b, const char *method, const char *url)
{
	struct buf msg = BUF_INIT, clean = BUF_INIT;
	int rc = -1;
	TRY_OUT(buf_printf(&msg, "Route %s:%s not found", method, url));
	TRY_OUT(authreq_utf8_sanitize(msg.p, msg.len, &clean));
	TRY_OUT(buf_append_str(b, "{\"message\":"));
	TRY_OUT(authreq_json_string(b, clean.p, clean.len));
	TRY_OUT(buf_append_str(b, ",\"error\":\"Not Found\",\"statusCode\":404}"));
	rc = 0;
out:
	buf_free(&msg);
	buf_free(&clean);
	return rc;
}

/* ---- configuration helpers -------------------------------------------- */

static int default_port(const char *scheme)
{
	if (!strcmp(scheme, "http") || !strcmp(scheme, "ws"))
		return 80;
	if (!strcmp(scheme, "https") || !strcmp(scheme, "wss"))
		return 443;
	if (!strcmp(scheme, "ftp"))
		return 21;
	return -1;
}

void authreq_public_rpc_endpoint(const char *url, char *out, size_t outlen)
{
	snprintf(out, outlen, "configured");
	/* WHATWG URL: strip leading/trailing C0 controls and spaces */
	const char *s = url;
	while (*s && (unsigned char)*s <= 0x20)
		s++;
	size_t n = strlen(s);
	while (n && (unsigned char)s[n - 1] <= 0x20)
		n--;
	char scheme[16];
	size_t i = 0;
	if (!n || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return;
	while (i < n && s[i] != ':') {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '.'))
			return;
		if (i + 1 >= sizeof scheme)
			return;
		scheme[i] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
		i++;
	}
	if (i == n)
		return;
	scheme[i] = '\0';
	i++; /* ':' */
	int dport = default_port(scheme);
	int special = dport > 0 || !strcmp(scheme, "file");
	if (special) {
		while (i < n && (s[i] == '/' || s[i] == '\\'))
			i++;
	} else if (i + 1 < n && s[i] == '/' && s[i + 1] == '/') {
		i += 2;
	} else {
		snprintf(out, outlen, "%s://", scheme); /* opaque path: host is "" */
		return;
	}
	size_t a = i;
	while (i < n && s[i] != '/' && s[i] != '?' && s[i] != '#' && !(special && s[i] == '\\'))
		i++;
	const char *auth = s + a;
	size_t alen = i - a;
	for (size_t k = alen; k > 0; k--)
		if (auth[k - 1] == '@') {
			auth += k;
			alen -= k;
			break;
		}
	/* host[:port]; an IPv6 literal keeps its brackets */
	size_t hlen = alen;
	const char *port = NULL;
	size_t plen = 0;
	if (alen && auth[0] == '[') {
		const char *rb = memchr(auth, ']', alen);
		if (!rb)
			return;
		hlen = (size_t)(rb - auth) + 1;
	} else {
		const char *colon = memchr(auth, ':', alen);
		if (colon)
			hlen = (size_t)(colon - auth);
	}
	if (hlen < alen) {
		if (auth[hlen] != ':')
			return;
		port = auth + hlen + 1;
		plen = alen - hlen - 1;
	}
	if (hlen == 0 && special && strcmp(scheme, "file") != 0)
		return;
	char host[256];
	if (hlen >= sizeof host)
		return;
	for (size_t k = 0; k < hlen; k++) {
		char c = auth[k];
		if (c == ' ' || c == '#' || c == '%' || c == '/' || c == '<' || c == '>' ||
		    c == '?' || c == '@' || c == '\\' || c == '^' || c == '|' ||
		    (c == ':' && auth[0] != '['))
			return;
		host[k] = (char)((special && c >= 'A' && c <= 'Z') ? c + 32 : c);
	}
	host[hlen] = '\0';
	long pv = -1;
	if (plen) {
		pv = 0;
		for (size_t k = 0; k < plen; k++) {
			if (port[k] < '0' || port[k] > '9')
				return;
			pv = pv * 10 + (port[k] - '0');
			if (pv > 65535)
				return;
		}
		if (pv == dport)
			pv = -1;
	}
	if (pv >= 0)
		snprintf(out, outlen, "%s://%s:%ld", scheme, host, pv);
	else
		snprintf(out, outlen, "%s://%s", scheme, host);
}

int authreq_parse_port(const char *s, int *port)
{
	if (!s || !*s) {
		*port = 8000;
		return 0;
	}
	const char *p = s;
	while (js_space(*p))
		p++;
	int neg = 0;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	int base = 10;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	long v = 0;
	int digits = 0;
	for (;; p++) {
		int d;
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		digits++;
		if (v <= 65535)
			v = v * base + d;
	}
	if (!digits || (neg && v != 0) || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}
