/*
 * collateral.c — parsers for the DCAP collateral JSON, TCB info v3 and QE
 * identity, plus RFC 3339 dates. Strictness mirrors dcap-qvl's serde types so
 * that what one accepts the other accepts. Never verifies anything: signatures,
 * chains and dates-versus-now belong to dcap.c.
 * spec: attestation §2.1
 */
#include "attest/collateral.h"

#include "util/date.h"
#include "util/hex.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 4096 /* sanity cap on any JSON array we copy (levels, components, IDs) */

/* ---- collateral JSON ------------------------------------------------------ */

struct field {
	const char *key;
	size_t off;
	int hex;
};

#define F(name, hex)                                                                               \
	{                                                                                          \
#name, offsetof(struct dcap_collateral, name), hex                                 \
	}
static const struct field FIELDS[] = {
    F(pck_crl_issuer_chain, 0),	    F(root_ca_crl, 1), F(pck_crl, 1),
    F(tcb_info_issuer_chain, 0),    F(tcb_info, 0),    F(tcb_info_signature, 1),
    F(qe_identity_issuer_chain, 0), F(qe_identity, 0), F(qe_identity_signature, 1),
};
#undef F
#define N_FIELDS (sizeof FIELDS / sizeof FIELDS[0])

static struct buf *field_buf(struct dcap_collateral *c, const struct field *f)
{
	return (struct buf *)((char *)c + f->off);
}

static const struct buf *field_cbuf(const struct dcap_collateral *c, const struct field *f)
{
	return (const struct buf *)((const char *)c + f->off);
}

void collateral_init(struct dcap_collateral *c)
{
	memset(c, 0, sizeof *c);
}

void collateral_free(struct dcap_collateral *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < N_FIELDS; i++)
		buf_free(field_buf(c, &FIELDS[i]));
	buf_free(&c->pck_certificate_chain);
	collateral_init(c);
}

static int set_text(struct buf *b, json_t *v)
{
	buf_reset(b);
	if (buf_append(b, json_string_value(v), json_string_length(v)) < 0)
		return -1;
	return 0;
}

int collateral_parse(const char *json, size_t len, struct dcap_collateral *c, struct err *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	int rc = -1;

	collateral_init(c);
	if (!root)
		return err_set(err, "collateral: invalid JSON at line %d: %s", jerr.line,
			       jerr.text);
	if (!json_is_object(root)) {
		err_set(err, "collateral: not a JSON object");
		goto out;
	}
	for (size_t i = 0; i < N_FIELDS; i++) {
		const struct field *f = &FIELDS[i];
		json_t *v = json_object_get(root, f->key);
		struct buf *b = field_buf(c, f);
		if (!v) {
			err_set(err, "collateral: missing field %s", f->key);
			goto out;
		}
		if (!json_is_string(v)) {
			err_set(err, "collateral: field %s is not a string", f->key);
			goto out;
		}
		if (f->hex) {
			if (hex_decode(json_string_value(v), json_string_length(v), b) < 0) {
				err_set(err, "collateral: field %s is not valid hex", f->key);
				goto out;
			}
		} else if (set_text(b, v) < 0) {
			err_set(err, "collateral: out of memory");
			goto out;
		}
	}
	json_t *pck = json_object_get(root, "pck_certificate_chain");
	if (pck && !json_is_null(pck)) {
		if (!json_is_string(pck)) {
			err_set(err, "collateral: field pck_certificate_chain is not a string");
			goto out;
		}
		if (set_text(&c->pck_certificate_chain, pck) < 0) {
			err_set(err, "collateral: out of memory");
			goto out;
		}
		c->has_pck_certificate_chain = 1;
	}
	rc = 0;
out:
	json_decref(root);
	if (rc < 0)
		collateral_free(c);
	return rc;
}

int collateral_to_json(const struct dcap_collateral *c, struct buf *out, struct err *err)
{
	json_t *root = json_object();
	struct buf hex = BUF_INIT;
	char *text = NULL;
	int rc = -1;

	if (!root)
		return err_set(err, "collateral: out of memory");
	for (size_t i = 0; i < N_FIELDS; i++) {
		const struct field *f = &FIELDS[i];
		const struct buf *b = field_cbuf(c, f);
		json_t *v;
		if (f->hex) {
			buf_reset(&hex);
			if (hex_append(&hex, b->p, b->len) < 0)
				goto oom;
			v = json_stringn((const char *)hex.p ? (const char *)hex.p : "", hex.len);
		} else {
			v = json_stringn(b->p ? (const char *)b->p : "", b->len);
		}
		if (!v || json_object_set_new(root, f->key, v) < 0)
			goto oom;
	}
	if (c->has_pck_certificate_chain) {
		const struct buf *b = &c->pck_certificate_chain;
		json_t *v = json_stringn(b->p ? (const char *)b->p : "", b->len);
		if (!v || json_object_set_new(root, "pck_certificate_chain", v) < 0)
			goto oom;
	}
	text = json_dumps(root, JSON_COMPACT);
	if (!text || buf_append_str(out, text) < 0)
		goto oom;
	rc = 0;
	goto out;
oom:
	err_set(err, "collateral: cannot serialize (invalid UTF-8 text or out of memory)");
out:
	free(text);
	buf_free(&hex);
	json_decref(root);
	return rc;
}

static int digest_field(EVP_MD_CTX *md, const struct buf *b)
{
	uint8_t n[8];
	uint64_t len = b->len;
	for (int i = 0; i < 8; i++)
		n[i] = (uint8_t)(len >> (8 * i));
	if (EVP_DigestUpdate(md, n, sizeof n) != 1)
		return -1;
	return b->len && EVP_DigestUpdate(md, b->p, b->len) != 1 ? -1 : 0;
}

int collateral_digest(const struct dcap_collateral *c, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int n = 0;
	uint8_t flag = c->has_pck_certificate_chain ? 1 : 0;
	int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;

	for (size_t i = 0; ok && i < N_FIELDS; i++)
		ok = digest_field(md, field_cbuf(c, &FIELDS[i])) == 0;
	ok = ok && EVP_DigestUpdate(md, &flag, 1) == 1 &&
	     digest_field(md, &c->pck_certificate_chain) == 0 &&
	     EVP_DigestFinal_ex(md, out, &n) == 1 && n == 32;
	EVP_MD_CTX_free(md);
	if (!ok) {
		/* all zero: never equal to a real digest by accident */
		memset(out, 0, 32);
		return -1;
	}
	return 0;
}

/* ---- RFC 3339 --------------------------------------------------------------- */

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dm[m - 1];
}

int collateral_parse_rfc3339(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
	size_t n = strlen(s), i = 19;

	if (n < 20 || digits(s, 4, &y) < 0 || s[4] != '-' || digits(s + 5, 2, &mo) < 0 ||
	    s[7] != '-' || digits(s + 8, 2, &d) < 0 ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || digits(s + 11, 2, &h) < 0 ||
	    s[13] != ':' || digits(s + 14, 2, &mi) < 0 || s[16] != ':' ||
	    digits(s + 17, 2, &se) < 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60)
		return -1;
	if (se == 60) /* a leap second counts as :59, as chrono's timestamp() does */
		se = 59;
	if (s[i] == '.') {
		size_t start = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return -1;
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '-' ? -1 : 1;
		if (n - i < 6 || digits(s + i + 1, 2, &oh) < 0 || s[i + 3] != ':' ||
		    digits(s + i + 4, 2, &om) < 0 || oh > 23 || om > 59)
			return -1;
		i += 6;
	} else {
		return -1;
	}
	if (i != n)
		return -1;
	int64_t t = date_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	*out = t - sign * (oh * 3600 + om * 60);
	return 0;
}

/* ---- shared JSON helpers ---------------------------------------------------- */

static const char *const STATUS_NAMES[] = {
    "UpToDate",
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
    "OutOfDate",
    "OutOfDateConfigurationNeeded",
    "Revoked",
};

const char *collateral_tcb_status_name(enum dcap_tcb_status s)
{
	if ((unsigned)s >= sizeof STATUS_NAMES / sizeof STATUS_NAMES[0])
		return "Unknown";
	return STATUS_NAMES[s];
}

struct jctx {
	const char *doc; /* "TcbInfo" / "QeIdentity" for messages */
	struct err *err;
};

static int bad(struct jctx *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct jctx *j, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	return err_set(j->err, "Failed to decode %s: %s", j->doc, tmp);
}

static json_t *need(struct jctx *j, json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		bad(j, "missing field `%s`", key);
	return v;
}

static int get_uint(struct jctx *j, json_t *obj, const char *key, uint64_t max, uint64_t *out)
{
	json_t *v = need(j, obj, key);
	if (!v)
		return -1;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return bad(j, "field `%s` is not an integer in range", key);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int get_u8(struct jctx *j, json_t *obj, const char *key, uint8_t *out)
{
	uint64_t v;
	TRY(get_uint(j, obj, key, 0xff, &v));
	*out = (uint8_t)v;
	return 0;
}

static int get_u16(struct jctx *j, json_t *obj, const char *key, uint16_t *out)
{
	uint64_t v;
	TRY(get_uint(j, obj, key, 0xffff, &v));
	*out = (uint16_t)v;
	return 0;
}

static int get_str(struct jctx *j, json_t *obj, const char *key, const char **out)
{
	json_t *v = need(j, obj, key);
	if (!v)
		return -1;
	if (!json_is_string(v))
		return bad(j, "field `%s` is not a string", key);
	*out = json_string_value(v);
	return 0;
}

static int dup_str(struct jctx *j, json_t *obj, const char *key, char **out)
{
	const char *s;
	TRY(get_str(j, obj, key, &s));
	*out = strdup(s);
	if (!*out)
		return bad(j, "out of memory at `%s`", key);
	return 0;
}

static int get_date(struct jctx *j, json_t *obj, const char *key, int64_t *out)
{
	const char *s;
	TRY(get_str(j, obj, key, &s));
	if (collateral_parse_rfc3339(s, out) < 0)
		return bad(j, "field `%s` is not an RFC 3339 date", key);
	return 0;
}

static int get_hex_fixed(struct jctx *j, json_t *obj, const char *key, uint8_t *out, size_t n)
{
	const char *s;
	TRY(get_str(j, obj, key, &s));
	if (hex_decode_fixed(s, out, n) < 0)
		return bad(j, "field `%s` is not hex of the expected length", key);
	return 0;
}

/* An array field; *arr is NULL (and n 0) when the key is absent and optional. */
static int get_array(struct jctx *j, json_t *obj, const char *key, int optional, json_t **arr)
{
	json_t *v = json_object_get(obj, key);
	*arr = NULL;
	if (!v) {
		if (optional)
			return 0;
		return bad(j, "missing field `%s`", key);
	}
	if (!json_is_array(v))
		return bad(j, "field `%s` is not an array", key);
	if (json_array_size(v) > MAX_ITEMS)
		return bad(j, "field `%s` has too many entries", key);
	*arr = v;
	return 0;
}

static int get_status(struct jctx *j, json_t *obj, enum dcap_tcb_status *out)
{
	const char *s;
	TRY(get_str(j, obj, "tcbStatus", &s));
	for (size_t i = 0; i < sizeof STATUS_NAMES / sizeof STATUS_NAMES[0]; i++) {
		if (strcmp(s, STATUS_NAMES[i]) == 0) {
			*out = (enum dcap_tcb_status)i;
			return 0;
		}
	}
	return bad(j, "unknown tcbStatus `%s`", s);
}

static int get_advisories(struct jctx *j, json_t *obj, struct dcap_advisories *a)
{
	json_t *arr;
	TRY(get_array(j, obj, "advisoryIDs", 1, &arr));
	a->n = 0;
	a->ids = NULL;
	if (!arr || json_array_size(arr) == 0)
		return 0;
	a->ids = calloc(json_array_size(arr), sizeof *a->ids);
	if (!a->ids)
		return bad(j, "out of memory at `%s`", "advisoryIDs");
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *v = json_array_get(arr, i);
		if (!json_is_string(v))
			return bad(j, "an entry of `%s` is not a string", "advisoryIDs");
		if (json_string_length(v) >= COLLATERAL_ADVISORY_LEN ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return bad(j, "advisory ID `%s` is too long", json_string_value(v));
		memcpy(a->ids[i], json_string_value(v), json_string_length(v) + 1);
		a->n++;
	}
	return 0;
}

static void free_advisories(struct dcap_advisories *a)
{
	free(a->ids);
	a->ids = NULL;
	a->n = 0;
}

/* {"tcb":{"isvsvn":N}, "tcbDate":..., "tcbStatus":..., "advisoryIDs"?} */
static int get_isv_level(struct jctx *j, json_t *lv, int u8_svn, struct dcap_isv_level *out)
{
	const char *date;
	json_t *tcb;
	if (!json_is_object(lv))
		return bad(j, "a `%s` entry is not an object", "tcbLevels");
	if (!(tcb = need(j, lv, "tcb")))
		return -1;
	if (!json_is_object(tcb))
		return bad(j, "field `%s` is not an object", "tcb");
	if (u8_svn) {
		uint8_t v;
		TRY(get_u8(j, tcb, "isvsvn", &v));
		out->isvsvn = v;
	} else {
		TRY(get_u16(j, tcb, "isvsvn", &out->isvsvn));
	}
	TRY(get_str(j, lv, "tcbDate", &date));
	TRY(get_status(j, lv, &out->status));
	return get_advisories(j, lv, &out->adv);
}

static int get_isv_levels(struct jctx *j, json_t *obj, int u8_svn, struct dcap_isv_level **levels,
			  size_t *n)
{
	json_t *arr;
	TRY(get_array(j, obj, "tcbLevels", 0, &arr));
	*levels = calloc(json_array_size(arr) ? json_array_size(arr) : 1, sizeof **levels);
	if (!*levels)
		return bad(j, "out of memory at `%s`", "tcbLevels");
	for (size_t i = 0; i < json_array_size(arr); i++) {
		(*n)++; /* counted before filling so that free sees partial entries */
		TRY(get_isv_level(j, json_array_get(arr, i), u8_svn, &(*levels)[i]));
	}
	return 0;
}

static void free_isv_levels(struct dcap_isv_level *levels, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free_advisories(&levels[i].adv);
	free(levels);
}

/* ---- TCB info -------------------------------------------------------------- */

static int get_components(struct jctx *j, json_t *tcb, const char *key, int optional, uint8_t **svn,
			  size_t *n)
{
	json_t *arr;
	TRY(get_array(j, tcb, key, optional, &arr));
	*n = 0;
	*svn = NULL;
	if (!arr)
		return 0;
	*svn = calloc(json_array_size(arr) ? json_array_size(arr) : 1, 1);
	if (!*svn)
		return bad(j, "out of memory at `%s`", key);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *c = json_array_get(arr, i);
		if (!json_is_object(c))
			return bad(j, "an entry of `%s` is not an object", key);
		TRY(get_u8(j, c, "svn", &(*svn)[i]));
		(*n)++;
	}
	return 0;
}

static int get_tcb_level(struct jctx *j, json_t *lv, struct dcap_tcb_level *out)
{
	const char *date;
	json_t *tcb;
	if (!json_is_object(lv))
		return bad(j, "a `%s` entry is not an object", "tcbLevels");
	if (!(tcb = need(j, lv, "tcb")))
		return -1;
	if (!json_is_object(tcb))
		return bad(j, "field `%s` is not an object", "tcb");
	TRY(get_components(j, tcb, "sgxtcbcomponents", 0, &out->sgx_svn, &out->n_sgx));
	TRY(get_components(j, tcb, "tdxtcbcomponents", 1, &out->tdx_svn, &out->n_tdx));
	TRY(get_u16(j, tcb, "pcesvn", &out->pcesvn));
	TRY(get_str(j, lv, "tcbDate", &date));
	TRY(get_status(j, lv, &out->status));
	return get_advisories(j, lv, &out->adv);
}

static int get_module(struct jctx *j, json_t *m, int identity, struct dcap_tdx_module *out)
{
	if (!json_is_object(m))
		return bad(j, "field `%s` is not an object",
			   identity ? "tdxModuleIdentities" : "tdxModule");
	if (identity)
		TRY(dup_str(j, m, "id", &out->id));
	TRY(dup_str(j, m, "mrsigner", &out->mrsigner));
	TRY(dup_str(j, m, "attributes", &out->attributes));
	TRY(dup_str(j, m, "attributesMask", &out->attributes_mask));
	if (identity)
		TRY(get_isv_levels(j, m, 1, &out->levels, &out->n_levels));
	return 0;
}

static void free_module(struct dcap_tdx_module *m)
{
	free(m->id);
	free(m->mrsigner);
	free(m->attributes);
	free(m->attributes_mask);
	free_isv_levels(m->levels, m->n_levels);
	memset(m, 0, sizeof *m);
}

static int parse_tcb_info_obj(struct jctx *j, json_t *root, struct dcap_tcb_info *t)
{
	const char *pce_id;
	uint64_t u32;
	json_t *arr, *mod;

	if (!json_is_object(root))
		return bad(j, "%s", "not a JSON object");
	TRY(dup_str(j, root, "id", &t->id));
	TRY(get_u8(j, root, "version", &t->version));
	TRY(get_date(j, root, "issueDate", &t->issue_date));
	TRY(get_date(j, root, "nextUpdate", &t->next_update));
	TRY(dup_str(j, root, "fmspc", &t->fmspc));
	TRY(get_str(j, root, "pceId", &pce_id));
	TRY(get_uint(j, root, "tcbType", 0xffffffffu, &u32));
	TRY(get_uint(j, root, "tcbEvaluationDataNumber", 0xffffffffu, &u32));
	t->tcb_evaluation_data_number = (uint32_t)u32;
	TRY(get_array(j, root, "tcbLevels", 0, &arr));
	t->levels = calloc(json_array_size(arr) ? json_array_size(arr) : 1, sizeof *t->levels);
	if (!t->levels)
		return bad(j, "out of memory at `%s`", "tcbLevels");
	for (size_t i = 0; i < json_array_size(arr); i++) {
		t->n_levels++;
		TRY(get_tcb_level(j, json_array_get(arr, i), &t->levels[i]));
	}
	mod = json_object_get(root, "tdxModule");
	if (mod && !json_is_null(mod)) {
		t->has_tdx_module = 1;
		TRY(get_module(j, mod, 0, &t->tdx_module));
	}
	TRY(get_array(j, root, "tdxModuleIdentities", 1, &arr));
	if (arr && json_array_size(arr)) {
		t->identities = calloc(json_array_size(arr), sizeof *t->identities);
		if (!t->identities)
			return bad(j, "out of memory at `%s`", "tdxModuleIdentities");
		for (size_t i = 0; i < json_array_size(arr); i++) {
			t->n_identities++;
			TRY(get_module(j, json_array_get(arr, i), 1, &t->identities[i]));
		}
	}
	return 0;
}

int collateral_parse_tcb_info(const char *json, size_t len, struct dcap_tcb_info *t,
			      struct err *err)
{
	struct jctx j = {"TcbInfo", err};
	json_error_t jerr;
	json_t *root;
	int rc;

	memset(t, 0, sizeof *t);
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return err_set(err, "Failed to decode TcbInfo: %s", jerr.text);
	rc = parse_tcb_info_obj(&j, root, t);
	json_decref(root);
	if (rc < 0)
		collateral_tcb_info_free(t);
	return rc;
}

void collateral_tcb_info_free(struct dcap_tcb_info *t)
{
	if (!t)
		return;
	free(t->id);
	free(t->fmspc);
	for (size_t i = 0; i < t->n_levels; i++) {
		free(t->levels[i].sgx_svn);
		free(t->levels[i].tdx_svn);
		free_advisories(&t->levels[i].adv);
	}
	free(t->levels);
	free_module(&t->tdx_module);
	for (size_t i = 0; i < t->n_identities; i++)
		free_module(&t->identities[i]);
	free(t->identities);
	memset(t, 0, sizeof *t);
}

/* Rust's Ord on Vec<u8>: lexicographic, a proper prefix sorts first. */
static int cmp_vec(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
	size_t n = na < nb ? na : nb;
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return na == nb ? 0 : (na < nb ? -1 : 1);
}

/* < 0 when a sorts before b (i.e. a is the higher level). */
static int cmp_levels(const struct dcap_tcb_level *a, const struct dcap_tcb_level *b, int tdx)
{
	int c = cmp_vec(b->sgx_svn, b->n_sgx, a->sgx_svn, a->n_sgx);
	if (c)
		return c;
	if (a->pcesvn != b->pcesvn)
		return b->pcesvn < a->pcesvn ? -1 : 1;
	return tdx ? cmp_vec(b->tdx_svn, b->n_tdx, a->tdx_svn, a->n_tdx) : 0;
}

void collateral_sort_tcb_levels(struct dcap_tcb_info *t)
{
	int tdx = t->version >= 3 && t->id && strcmp(t->id, "TDX") == 0;
	/* Insertion sort: stable like Rust's sort_by, and level lists are short. */
	for (size_t i = 1; i < t->n_levels; i++) {
		struct dcap_tcb_level cur = t->levels[i];
		size_t k = i;
		while (k > 0 && cmp_levels(&cur, &t->levels[k - 1], tdx) < 0) {
			t->levels[k] = t->levels[k - 1];
			k--;
		}
		t->levels[k] = cur;
	}
}

/* ---- QE identity ----------------------------------------------------------- */

static int parse_qe_identity_obj(struct jctx *j, json_t *root, struct dcap_qe_identity *q)
{
	uint64_t u32;
	if (!json_is_object(root))
		return bad(j, "%s", "not a JSON object");
	TRY(dup_str(j, root, "id", &q->id));
	TRY(get_u8(j, root, "version", &q->version));
	TRY(get_date(j, root, "issueDate", &q->issue_date));
	TRY(get_date(j, root, "nextUpdate", &q->next_update));
	TRY(get_uint(j, root, "tcbEvaluationDataNumber", 0xffffffffu, &u32));
	q->tcb_evaluation_data_number = (uint32_t)u32;
	TRY(get_hex_fixed(j, root, "miscselect", q->miscselect, 4));
	TRY(get_hex_fixed(j, root, "miscselectMask", q->miscselect_mask, 4));
	TRY(get_hex_fixed(j, root, "attributes", q->attributes, 16));
	TRY(get_hex_fixed(j, root, "attributesMask", q->attributes_mask, 16));
	TRY(get_hex_fixed(j, root, "mrsigner", q->mrsigner, 32));
	TRY(get_u16(j, root, "isvprodid", &q->isvprodid));
	return get_isv_levels(j, root, 0, &q->levels, &q->n_levels);
}

int collateral_parse_qe_identity(const char *json, size_t len, struct dcap_qe_identity *q,
				 struct err *err)
{
	struct jctx j = {"QeIdentity", err};
	json_error_t jerr;
	json_t *root;
	int rc;

	memset(q, 0, sizeof *q);
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return err_set(err, "Failed to decode QeIdentity: %s", jerr.text);
	rc = parse_qe_identity_obj(&j, root, q);
	json_decref(root);
	if (rc < 0)
		collateral_qe_identity_free(q);
	return rc;
}

void collateral_qe_identity_free(struct dcap_qe_identity *q)
{
	if (!q)
		return;
	free(q->id);
	free_isv_levels(q->levels, q->n_levels);
	memset(q, 0, sizeof *q);
}
