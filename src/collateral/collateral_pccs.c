/*
 * collateral_pccs.c — the PCCS / Intel PCS v4 client (attestation §2.1): the
 * base URL normalised once, four GETs per fetch on one keep-alive client
 * (TCB info, QE identity, PCK CRL, root CA CRL by the PCCS route or the trust
 * anchor's distribution point), and the signed tcbInfo / enclaveIdentity bytes
 * cut out of the bodies, never re-serialized. Never reports more of a URL than
 * its origin. spec: attestation §2.1, §2.5.
 */
#define _GNU_SOURCE
#include "collateral/collateral_internal.h"

#include "net/http_client.h"
#include "util/hex.h"
#include "util/json_scan.h"
#include "util/log.h"

#include <jansson.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEF_CONNECT_MS 5000
#define DEF_TIMEOUT_MS 20000
#define DEF_MAX_BODY (4u << 20)

/* Percent-decoding of an issuer-chain header ('+' stays '+': PEM base64 uses it). */
int collateral_pct_decode(const char *s, struct buf *out)
{
	for (size_t i = 0; s[i]; i++) {
		if (s[i] != '%') {
			if (buf_append_byte(out, (uint8_t)s[i]) < 0)
				return -1;
			continue;
		}
		int hi = s[i + 1] ? hex_nibble(s[i + 1]) : -1;
		int lo = hi >= 0 && s[i + 2] ? hex_nibble(s[i + 2]) : -1;
		if (hi < 0 || lo < 0)
			return -1;
		if (buf_append_byte(out, (uint8_t)(hi << 4 | lo)) < 0)
			return -1;
		i += 2;
	}
	return 0;
}

/* A PEM chain as stored in collateral: printable ASCII with at least one cert. */
static int pem_chain_ok(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++) {
		uint8_t c = b->p[i];
		if (!(c == '\n' || c == '\r' || c == '\t' || (c >= 0x20 && c < 0x7f)))
			return 0;
	}
	return b->len && strstr(buf_str(b), "-----BEGIN CERTIFICATE-----") != NULL;
}

void collateral_raw_free(struct collateral_raw *r)
{
	buf_free(&r->tcb_body);
	buf_free(&r->tcb_chain);
	buf_free(&r->qe_body);
	buf_free(&r->qe_chain);
	buf_free(&r->pck_crl);
	buf_free(&r->pck_crl_chain);
	buf_free(&r->root_crl);
	memset(r, 0, sizeof *r);
}

/* A CRL body as DER: DER as is, PEM, or hex text (a PCCS's rootcacrl). */
int collateral_crl_to_der(const uint8_t *p, size_t n, struct buf *out, const char *what,
			  struct err *err)
{
	const unsigned char *q = p;
	X509_CRL *crl = n <= INT_MAX ? d2i_X509_CRL(NULL, &q, (long)n) : NULL;
	if (crl && q == p + n) {
		X509_CRL_free(crl);
		return buf_append(out, p, n) < 0 ? err_set(err, "out of memory") : 0;
	}
	X509_CRL_free(crl);
	crl = NULL;
	ERR_clear_error();
	if (n <= INT_MAX && memmem(p, n, "-----BEGIN X509 CRL-----", 24)) {
		BIO *b = BIO_new_mem_buf(p, (int)n);
		crl = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
		unsigned char *der = NULL;
		int dl = crl ? i2d_X509_CRL(crl, &der) : -1;
		X509_CRL_free(crl);
		ERR_clear_error();
		if (dl <= 0)
			return err_set(err, "%s: PEM body is not a CRL", what);
		int rc = buf_append(out, der, (size_t)dl);
		OPENSSL_free(der);
		return rc < 0 ? err_set(err, "out of memory") : 0;
	}
	struct err why;
	size_t before = out->len;
	if (hex_decode_text(p, n, 0, out, &why) == 0) {
		q = out->p + before;
		crl = d2i_X509_CRL(NULL, &q, (long)(out->len - before));
		int ok = crl && q == out->p + out->len;
		X509_CRL_free(crl);
		ERR_clear_error();
		if (ok)
			return 0;
	}
	out->len = before;
	return err_set(err, "%s: body is not a CRL (neither DER, PEM nor hex of DER)", what);
}

/* Checks that tcbInfo.fmspc names the key's FMSPC (a PCCS bug or a misnamed
 * cache file must not file collateral under the wrong platform). */
int collateral_check_fmspc(const char *tcb_info, size_t len,
			   const struct collateral_source_key *key, struct err *err)
{
	json_error_t je;
	json_t *t = json_loadb(tcb_info, len, JSON_REJECT_DUPLICATES, &je);
	const char *fm = t ? json_string_value(json_object_get(t, "fmspc")) : NULL;
	uint8_t got[6];
	char want[13];
	int rc = 0;
	collateral_fmspc_hex(key, want);
	if (!fm || strlen(fm) != 12 || hex_decode_fixed(fm, got, 6) < 0)
		rc = err_set(err, "TCB info has no valid fmspc");
	else if (memcmp(got, key->fmspc, 6) != 0)
		rc = err_set(err, "TCB info is for FMSPC %s, not %s", fm, want);
	json_decref(t);
	return rc;
}

/* One signed document: {"<name>": {...}, "signature": "<hex>"}. */
static int cut_signed(const struct buf *body, const char *name, const char *what, struct buf *text,
		      struct buf *sig, struct err *err)
{
	json_error_t je;
	json_t *root = json_loadb((const char *)body->p, body->len, JSON_REJECT_DUPLICATES, &je);
	int rc = -1;
	size_t off, len;
	if (!root || !json_is_object(root)) {
		err_set(err, "%s response is not a JSON object", what);
		goto out;
	}
	const char *hexsig = json_string_value(json_object_get(root, "signature"));
	if (!json_is_object(json_object_get(root, name)) || !hexsig) {
		err_set(err, "%s response lacks \"%s\" or \"signature\"", what, name);
		goto out;
	}
	if (json_scan_cut((const char *)body->p, body->len, name, &off, &len) < 0) {
		err_set(err, "%s response: cannot locate the \"%s\" bytes", what, name);
		goto out;
	}
	if (hex_decode(hexsig, strlen(hexsig), sig) < 0) {
		err_set(err, "%s response: signature is not hex", what);
		goto out;
	}
	if (buf_append(text, body->p + off, len) < 0) {
		err_set(err, "out of memory");
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int collateral_raw_assemble(const struct collateral_raw *r, const struct collateral_source_key *key,
			    struct dcap_collateral *c, struct err *err)
{
	collateral_init(c);
	if (cut_signed(&r->tcb_body, "tcbInfo", "TCB info", &c->tcb_info, &c->tcb_info_signature,
		       err) < 0 ||
	    cut_signed(&r->qe_body, "enclaveIdentity", "QE identity", &c->qe_identity,
		       &c->qe_identity_signature, err) < 0 ||
	    collateral_check_fmspc((const char *)c->tcb_info.p, c->tcb_info.len, key, err) < 0)
		goto fail;
	if (!pem_chain_ok(&r->tcb_chain) || !pem_chain_ok(&r->qe_chain) ||
	    !pem_chain_ok(&r->pck_crl_chain)) {
		err_set(err, "an issuer chain is not a PEM certificate chain");
		goto fail;
	}
	if (buf_append(&c->tcb_info_issuer_chain, r->tcb_chain.p, r->tcb_chain.len) < 0 ||
	    buf_append(&c->qe_identity_issuer_chain, r->qe_chain.p, r->qe_chain.len) < 0 ||
	    buf_append(&c->pck_crl_issuer_chain, r->pck_crl_chain.p, r->pck_crl_chain.len) < 0 ||
	    buf_append(&c->pck_crl, r->pck_crl.p, r->pck_crl.len) < 0 ||
	    buf_append(&c->root_ca_crl, r->root_crl.p, r->root_crl.len) < 0) {
		err_set(err, "out of memory");
		goto fail;
	}
	return 0;
fail:
	collateral_free(c);
	return -1;
}
/* ---- HTTP --------------------------------------------------------------------- */

static const char *const CAPTURE[] = {
    "TCB-Info-Issuer-Chain",
    "SGX-TCB-Info-Issuer-Chain",
    "SGX-Enclave-Identity-Issuer-Chain",
    "SGX-PCK-CRL-Issuer-Chain",
    "Retry-After",
};

static void count_request(struct collateral_pccs *s)
{
	pthread_mutex_lock(&s->mu);
	s->requests++;
	pthread_mutex_unlock(&s->mu);
}

/* GET url; 0 with a 200 response, else -1 with "<what>: <reason>". */
static int http_get(struct collateral_pccs *s, struct http_client *c, const char *url,
		    const char *what, struct collateral_raw *r, struct http_response *resp,
		    struct err *err)
{
	struct http_request req = {
	    .method = "GET",
	    .url = url,
	    .connect_timeout_ms = s->connect_ms,
	    .timeout_ms = s->timeout_ms,
	    .max_response_bytes = s->max_body,
	    .capture_headers = CAPTURE,
	    .n_capture_headers = sizeof CAPTURE / sizeof CAPTURE[0],
	};
	char origin[256], st[64];
	memset(resp, 0, sizeof *resp);
	count_request(s);
	if (http_client_do(c, &req, resp, err) < 0)
		return err_wrap(err, "%s", what);
	if (resp->status == 200)
		return 0;
	log_url_origin(url, origin, sizeof origin);
	http_status_text(resp->status, st, sizeof st);
	const char *ra = http_response_header(resp, "Retry-After");
	if (ra && (resp->status == 429 || resp->status == 503)) {
		char *end;
		long long v = strtoll(ra, &end, 10);
		if (end != ra && *end == '\0' && v > 0 && v > r->retry_after)
			r->retry_after = v;
	}
	return err_set(err, "%s: %s answered %s", what, origin, st);
}

static int header_chain(const struct http_response *resp, const char *const *names, size_t n,
			struct buf *out, const char *what, struct err *err)
{
	for (size_t i = 0; i < n; i++) {
		const char *v = http_response_header(resp, names[i]);
		if (!v)
			continue;
		if (collateral_pct_decode(v, out) < 0)
			return err_set(err, "%s: header %s is not URL-encoded text", what,
				       names[i]);
		return 0;
	}
	return err_set(err, "%s: response lacks the %s header", what, names[0]);
}

static int build_url(char *out, const char *base, const char *path, const char *query,
		     struct err *err)
{
	int n = snprintf(out, COLLATERAL_URL_MAX, "%s%s%s", base, path, query);
	if (n < 0 || (size_t)n >= COLLATERAL_URL_MAX)
		return err_set(err, "collateral URL too long");
	return 0;
}

static int fetch_root_crl_pccs(struct collateral_pccs *s, struct http_client *c,
			       struct collateral_raw *r, struct err *err)
{
	char url[COLLATERAL_URL_MAX];
	struct http_response resp;
	TRY(build_url(url, s->base, "/sgx/certification/v4/rootcacrl", "", err));
	int rc = http_get(s, c, url, "root CA CRL (PCCS route)", r, &resp, err);
	if (rc == 0)
		rc = collateral_crl_to_der(resp.body.p, resp.body.len, &r->root_crl,
					   "root CA CRL (PCCS route)", err);
	http_response_free(&resp);
	return rc;
}

static int fetch_root_crl_cdp(struct collateral_pccs *s, struct http_client *c,
			      struct collateral_raw *r, struct err *err)
{
	struct http_response resp;
	if (!s->cdp[0])
		return err_set(err, "root CA CRL: the trust anchor has no CRL distribution point");
	int rc = http_get(s, c, s->cdp, "root CA CRL (distribution point)", r, &resp, err);
	if (rc == 0)
		rc = collateral_crl_to_der(resp.body.p, resp.body.len, &r->root_crl,
					   "root CA CRL (distribution point)", err);
	http_response_free(&resp);
	if (rc == 0)
		r->root_crl_from_cdp = 1;
	return rc;
}

/* PCCS route and distribution point, the one that worked last time first. */
static int fetch_root_crl(struct collateral_pccs *s, struct http_client *c,
			  struct collateral_raw *r, struct err *err)
{
	struct err e1, e2;
	pthread_mutex_lock(&s->mu);
	int cdp_first = s->cdp_first && s->cdp[0];
	pthread_mutex_unlock(&s->mu);
	int rc1 = cdp_first ? fetch_root_crl_cdp(s, c, r, &e1) : fetch_root_crl_pccs(s, c, r, &e1);
	if (rc1 == 0)
		return 0;
	buf_reset(&r->root_crl);
	int rc2 = cdp_first ? fetch_root_crl_pccs(s, c, r, &e2) : fetch_root_crl_cdp(s, c, r, &e2);
	if (rc2 < 0)
		return err_set(err, "%s; %s", e1.msg, e2.msg);
	pthread_mutex_lock(&s->mu);
	if (s->cdp_first != r->root_crl_from_cdp)
		log_info("root CA CRL route switched route=%s",
			 r->root_crl_from_cdp ? "distribution-point" : "pccs");
	s->cdp_first = r->root_crl_from_cdp;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

int collateral_pccs_fetch(struct collateral_pccs *s, const struct collateral_source_key *key,
			  struct collateral_raw *r, struct err *err)
{
	struct http_client_opts co = {.proxy = s->proxy, .follow_redirects = 1};
	struct http_client *c;
	struct http_response resp;
	char url[COLLATERAL_URL_MAX], fm[13], q[64];
	int rc = -1;

	co.tls.ca_file = s->ca_file;
	collateral_fmspc_hex(key, fm);
	if (!(c = http_client_new(&co, err)))
		return -1;

	TRY_OUT(build_url(url, s->base, "/tdx/certification/v4/tcb?fmspc=", fm, err));
	if (http_get(s, c, url, "TCB info", r, &resp, err) == 0) {
		static const char *const names[] = {"TCB-Info-Issuer-Chain",
						    "SGX-TCB-Info-Issuer-Chain"};
		rc = header_chain(&resp, names, 2, &r->tcb_chain, "TCB info", err);
		if (rc == 0 && buf_append(&r->tcb_body, resp.body.p, resp.body.len) < 0)
			rc = err_set(err, "out of memory");
	}
	http_response_free(&resp);
	TRY_OUT(rc);

	rc = -1;
	TRY_OUT(
	    build_url(url, s->base, "/tdx/certification/v4/qe/identity", "?update=standard", err));
	if (http_get(s, c, url, "QE identity", r, &resp, err) == 0) {
		static const char *const names[] = {"SGX-Enclave-Identity-Issuer-Chain"};
		rc = header_chain(&resp, names, 1, &r->qe_chain, "QE identity", err);
		if (rc == 0 && buf_append(&r->qe_body, resp.body.p, resp.body.len) < 0)
			rc = err_set(err, "out of memory");
	}
	http_response_free(&resp);
	TRY_OUT(rc);

	rc = -1;
	snprintf(q, sizeof q, "?ca=%s&encoding=der", collateral_source_ca_name(key->ca));
	TRY_OUT(build_url(url, s->base, "/sgx/certification/v4/pckcrl", q, err));
	if (http_get(s, c, url, "PCK CRL", r, &resp, err) == 0) {
		static const char *const names[] = {"SGX-PCK-CRL-Issuer-Chain"};
		rc = header_chain(&resp, names, 1, &r->pck_crl_chain, "PCK CRL", err);
		if (rc == 0)
			rc = collateral_crl_to_der(resp.body.p, resp.body.len, &r->pck_crl,
						   "PCK CRL", err);
	}
	http_response_free(&resp);
	TRY_OUT(rc);

	rc = fetch_root_crl(s, c, r, err);
out:
	http_client_free(c);
	return rc;
}

/* ---- set-up ------------------------------------------------------------------- */

/* The first http(s) URI of the anchor's CRL distribution points, or "". */
static void anchor_cdp(X509 *anchor, char *out, size_t outlen)
{
	STACK_OF(DIST_POINT) *dps =
	    X509_get_ext_d2i(anchor, NID_crl_distribution_points, NULL, NULL);
	out[0] = '\0';
	for (int i = 0; dps && i < sk_DIST_POINT_num(dps) && !out[0]; i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
		if (!dp->distpoint || dp->distpoint->type != 0)
			continue;
		GENERAL_NAMES *names = dp->distpoint->name.fullname;
		for (int j = 0; j < sk_GENERAL_NAME_num(names) && !out[0]; j++) {
			GENERAL_NAME *g = sk_GENERAL_NAME_value(names, j);
			if (g->type != GEN_URI)
				continue;
			const ASN1_IA5STRING *u = g->d.uniformResourceIdentifier;
			size_t n = (size_t)ASN1_STRING_length(u);
			const char *d = (const char *)ASN1_STRING_get0_data(u);
			if (n < outlen && !memchr(d, '\0', n) &&
			    (strncmp(d, "https://", 8) == 0 || strncmp(d, "http://", 7) == 0)) {
				memcpy(out, d, n);
				out[n] = '\0';
			}
		}
	}
	CRL_DIST_POINTS_free(dps);
	ERR_clear_error();
}

static int http_url(const char *u)
{
	return strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0;
}

int collateral_pccs_url_normalize(const char *what, const char *url, char *out, size_t outlen,
				  struct err *err)
{
	static const char *const suffixes[] = {"/sgx/certification/v4", "/tdx/certification/v4"};
	if (!http_url(url))
		return err_set(err, "%s must be an http:// or https:// URL", what);
	size_t n = strlen(url), scheme = strncmp(url, "https://", 8) == 0 ? 8 : 7;
	if (n >= outlen)
		return err_set(err, "%s URL is too long", what);
	memcpy(out, url, n + 1);
	while (n > scheme && out[n - 1] == '/')
		out[--n] = '\0';
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		size_t m = strlen(suffixes[i]);
		if (n >= scheme + m && strcmp(out + n - m, suffixes[i]) == 0) {
			n -= m;
			out[n] = '\0';
			break;
		}
	}
	while (n > scheme && out[n - 1] == '/')
		out[--n] = '\0';
	return 0;
}

int collateral_pccs_init(struct collateral_pccs *p, const struct collateral_source_opts *o,
			 X509 *anchor, struct err *err)
{
	const char *base =
	    o->pccs_url && o->pccs_url[0] ? o->pccs_url : COLLATERAL_SOURCE_DEFAULT_PCCS;
	memset(p, 0, sizeof *p);
	pthread_mutex_init(&p->mu, NULL);
	p->connect_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : DEF_CONNECT_MS;
	p->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEF_TIMEOUT_MS;
	p->max_body = o->max_response_bytes ? o->max_response_bytes : DEF_MAX_BODY;
	if (!http_url(base) || strlen(base) >= sizeof p->base)
		return err_set(err, "PCCS URL must be http(s):// and shorter than %d bytes",
			       COLLATERAL_URL_MAX);
	TRY(collateral_pccs_url_normalize("PCCS URL", base, p->base, sizeof p->base, err));
	log_url_origin(p->base, p->origin, sizeof p->origin);
	if (o->root_crl_url && o->root_crl_url[0]) {
		if (!http_url(o->root_crl_url) || strlen(o->root_crl_url) >= sizeof p->cdp)
			return err_set(
			    err, "root CA CRL URL must be http(s):// and shorter than %d bytes",
			    COLLATERAL_URL_MAX);
		snprintf(p->cdp, sizeof p->cdp, "%s", o->root_crl_url);
	} else {
		anchor_cdp(anchor, p->cdp, sizeof p->cdp);
	}
	if ((o->ca_file && !(p->ca_file = strdup(o->ca_file))) ||
	    (o->proxy && !(p->proxy = strdup(o->proxy))))
		return err_set(err, "out of memory");
	return http_client_global_init(err);
}

void collateral_pccs_cleanup(struct collateral_pccs *p)
{
	free(p->ca_file);
	free(p->proxy);
	p->ca_file = p->proxy = NULL;
	pthread_mutex_destroy(&p->mu);
}

uint64_t collateral_pccs_requests(struct collateral_pccs *p)
{
	pthread_mutex_lock(&p->mu);
	uint64_t n = p->requests;
	pthread_mutex_unlock(&p->mu);
	return n;
}
