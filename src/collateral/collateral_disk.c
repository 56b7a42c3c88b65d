/*
 * collateral_disk.c — the cache directory's format: one JSON file per key,
 * "tdx-<FMSPC>-<platform|processor>.json", holding the raw PCCS answers
 * (bodies and issuer chains as received, CRLs as DER hex) so that a cached
 * file is rebuilt and verified exactly like a fresh answer, or plain
 * QuoteCollateralV3 JSON pre-filled for air-gapped use. Files are written
 * atomically; a corrupt or foreign file is an error for the caller to treat
 * as a miss. spec: attestation §2.5.
 */
#include "collateral/collateral_internal.h"

#include "util/fs.h"
#include "util/hex.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MAX_CACHE_FILE (8u << 20)
#define CACHE_FORMAT "dstack-kms collateral cache v1"

int collateral_source_file_name(const struct collateral_source_key *key, char *out, size_t outlen)
{
	char fm[13];
	collateral_fmspc_hex(key, fm);
	int n = snprintf(out, outlen, "tdx-%s-%s.json", fm, collateral_source_ca_name(key->ca));
	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

int collateral_disk_path(const char *dir, const struct collateral_source_key *key, char *out,
			 size_t outlen)
{
	char name[64];
	if (collateral_source_file_name(key, name, sizeof name) < 0)
		return -1;
	return fs_join(out, outlen, dir, name);
}

static int jset(json_t *o, const char *k, json_t *v)
{
	return v && json_object_set_new(o, k, v) == 0 ? 0 : -1;
}

static json_t *jtext(const struct buf *b)
{
	return json_stringn(b->p ? (const char *)b->p : "", b->len);
}

static json_t *jhex(const struct buf *b)
{
	struct buf h = BUF_INIT;
	json_t *v = hex_append(&h, b->p, b->len) == 0 ? json_string(buf_str(&h)) : NULL;
	buf_free(&h);
	return v;
}

static json_t *jpair(const char *k1, json_t *v1, const char *k2, json_t *v2)
{
	json_t *o = json_object();
	if (!o || jset(o, k1, v1) < 0 || (k2 && jset(o, k2, v2) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int collateral_disk_write(const char *dir, const struct collateral_source_key *key,
			  const struct collateral_raw *r, const struct collateral_meta *h,
			  struct err *err)
{
	char path[PATH_MAX + 64], fm[13];
	json_t *o = json_object();
	char *text = NULL;
	int rc = -1;

	collateral_fmspc_hex(key, fm);
	if (collateral_disk_path(dir, key, path, sizeof path) < 0) {
		err_set(err, "cache path too long");
		goto out;
	}
	if (!o || jset(o, "format", json_string(CACHE_FORMAT)) < 0 ||
	    jset(o, "fmspc", json_string(fm)) < 0 ||
	    jset(o, "ca", json_string(collateral_source_ca_name(key->ca))) < 0 ||
	    jset(o, "origin", json_string(h->origin)) < 0 ||
	    jset(o, "fetched_at", json_integer((json_int_t)h->fetched_at)) < 0 ||
	    jset(o, "root_ca_crl_route",
		 json_string(h->root_crl_from_cdp ? "distribution-point" : "pccs")) < 0 ||
	    jset(o, "tcb_info_response",
		 jpair("body", jtext(&r->tcb_body), "issuer_chain", jtext(&r->tcb_chain))) < 0 ||
	    jset(o, "qe_identity_response",
		 jpair("body", jtext(&r->qe_body), "issuer_chain", jtext(&r->qe_chain))) < 0 ||
	    jset(o, "pck_crl_response",
		 jpair("der_hex", jhex(&r->pck_crl), "issuer_chain", jtext(&r->pck_crl_chain))) <
		0 ||
	    jset(o, "root_ca_crl_response", jpair("der_hex", jhex(&r->root_crl), NULL, NULL)) < 0) {
		err_set(err, "cannot serialize the cache file (invalid UTF-8 or out of memory)");
		goto out;
	}
	if (!(text = json_dumps(o, JSON_INDENT(1)))) {
		err_set(err, "cannot serialize the cache file");
		goto out;
	}
	rc = fs_write_atomic(path, text, strlen(text), 0644, err);
out:
	free(text);
	json_decref(o);
	return rc;
}

static int jget_text(json_t *o, const char *obj, const char *k, struct buf *out, int hex)
{
	json_t *v = json_object_get(json_object_get(o, obj), k);
	const char *str = json_string_value(v);
	if (!str)
		return -1;
	size_t n = json_string_length(v);
	return hex ? hex_decode(str, n, out) : buf_append(out, str, n);
}

/* Rebuilds raw responses from a cache envelope. */
static int envelope_to_raw(json_t *o, const struct collateral_source_key *key,
			   struct collateral_raw *r, struct collateral_meta *h, struct err *err)
{
	char fm[13];
	const char *f = json_string_value(json_object_get(o, "fmspc"));
	const char *ca = json_string_value(json_object_get(o, "ca"));
	const char *origin = json_string_value(json_object_get(o, "origin"));
	const char *route = json_string_value(json_object_get(o, "root_ca_crl_route"));
	json_t *at = json_object_get(o, "fetched_at");

	collateral_fmspc_hex(key, fm);
	const char *format = json_string_value(json_object_get(o, "format"));
	if (!format || strcmp(format, CACHE_FORMAT) != 0)
		return err_set(err, "unknown cache format");
	if (!f || strcasecmp(f, fm) != 0 || !ca ||
	    strcmp(ca, collateral_source_ca_name(key->ca)) != 0)
		return err_set(err, "file is for another FMSPC or CA type");
	if (!origin || !json_is_integer(at) || !route)
		return err_set(err, "missing origin, fetched_at or root_ca_crl_route");
	if (jget_text(o, "tcb_info_response", "body", &r->tcb_body, 0) < 0 ||
	    jget_text(o, "tcb_info_response", "issuer_chain", &r->tcb_chain, 0) < 0 ||
	    jget_text(o, "qe_identity_response", "body", &r->qe_body, 0) < 0 ||
	    jget_text(o, "qe_identity_response", "issuer_chain", &r->qe_chain, 0) < 0 ||
	    jget_text(o, "pck_crl_response", "der_hex", &r->pck_crl, 1) < 0 ||
	    jget_text(o, "pck_crl_response", "issuer_chain", &r->pck_crl_chain, 0) < 0 ||
	    jget_text(o, "root_ca_crl_response", "der_hex", &r->root_crl, 1) < 0)
		return err_set(err, "a stored response is missing or malformed");
	snprintf(h->origin, sizeof h->origin, "%s", origin);
	h->fetched_at = (int64_t)json_integer_value(at);
	h->root_crl_from_cdp = strcmp(route, "distribution-point") == 0;
	return 0;
}

int collateral_disk_read(const char *dir, const struct collateral_source_key *key,
			 struct dcap_collateral *c, struct collateral_meta *m, struct err *err)
{
	char path[PATH_MAX + 64];
	struct buf text = BUF_INIT;
	struct collateral_raw r;
	struct stat st;
	json_error_t je;
	json_t *o = NULL;
	int rc = -1;

	memset(&r, 0, sizeof r);
	memset(m, 0, sizeof *m);
	if (collateral_disk_path(dir, key, path, sizeof path) < 0)
		return err_set(err, "cache path too long");
	if (stat(path, &st) < 0 && errno == ENOENT)
		return 1;
	if (fs_read_file(path, MAX_CACHE_FILE, &text, err) < 0)
		goto out;
	o = json_loadb((const char *)text.p, text.len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(o)) {
		err_set(err, "not a JSON object: %s", je.text);
		goto out;
	}
	if (json_object_get(o, "format")) {
		if (envelope_to_raw(o, key, &r, m, err) < 0 ||
		    collateral_raw_assemble(&r, key, c, err) < 0)
			goto out;
	} else {
		/* Pre-filled: plain QuoteCollateralV3 JSON. */
		if (collateral_parse((const char *)text.p, text.len, c, err) < 0 ||
		    collateral_check_fmspc((const char *)c->tcb_info.p, c->tcb_info.len, key, err) <
			0)
			goto out;
		snprintf(m->origin, sizeof m->origin, "file");
		m->fetched_at = (int64_t)st.st_mtime;
	}
	rc = 0;
out:
	if (rc < 0)
		err_wrap(err, "cache file %s", path);
	json_decref(o);
	buf_free(&text);
	collateral_raw_free(&r);
	return rc;
}

/* "tdx-<12 hex>-<platform|processor>.json" → key. */
int collateral_disk_parse_name(const char *name, struct collateral_source_key *key)
{
	size_t n = strlen(name);
	if (n < 4 + 12 + 1 + 5 || strncmp(name, "tdx-", 4) != 0 || name[16] != '-' ||
	    strcmp(name + n - 5, ".json") != 0)
		return -1;
	char fm[13];
	memcpy(fm, name + 4, 12);
	fm[12] = '\0';
	if (hex_decode_fixed(fm, key->fmspc, 6) < 0)
		return -1;
	size_t cl = n - 17 - 5;
	if (cl == 8 && strncmp(name + 17, "platform", 8) == 0)
		key->ca = COLLATERAL_SOURCE_CA_PLATFORM;
	else if (cl == 9 && strncmp(name + 17, "processor", 9) == 0)
		key->ca = COLLATERAL_SOURCE_CA_PROCESSOR;
	else
		return -1;
	char canon[64];
	return collateral_source_file_name(key, canon, sizeof canon) == 0 &&
		       strcmp(canon, name) == 0
		   ? 0
		   : -1;
}
