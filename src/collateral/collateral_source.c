/*
 * collateral_source.c — DCAP collateral from a PCCS / Intel PCS, cached in memory
 * and on disk, refreshed in the background (see collateral_source.h). A fetch is
 * four GETs on one keep-alive client; the signed tcbInfo / enclaveIdentity bytes
 * are cut out of the bodies, never re-serialized. The disk cache keeps the raw
 * responses and is rebuilt and verified like a fresh answer, so a corrupt or
 * tampered file is only a cache miss. Never logs more of a URL than its origin.
 * spec: attestation §2.1, §2.2, §2.5; deployment-and-users §3 row 12.
 */
#include "collateral/collateral_source.h"

#include "attest/collateral.h"
#include "attest/quote.h"
#include "net/http_client.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/log.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define DEF_CONNECT_MS 5000
#define DEF_TIMEOUT_MS 20000
#define DEF_MAX_BODY (4u << 20)
#define DEF_MARGIN_S (2 * 86400)
#define DEF_MIN_INTERVAL_S 3600
#define DEF_RETRY_MIN_S 60
#define DEF_RETRY_MAX_S 3600
#define DEF_COOLDOWN_S 5
#define DEF_MAX_KEYS 64
#define DEF_POLL_MS 60000
#define MAX_CACHE_FILE (8u << 20)
#define URL_MAX 2048
#define KEY_MEMO 64
#define CACHE_FORMAT "dstack-kms collateral cache v1"

#define OID_SGX_EXT "1.2.840.113741.1.13.1"
#define OID_SGX_FMSPC "1.2.840.113741.1.13.1.4"

/* ---- small helpers ------------------------------------------------------- */

const char *collateral_source_ca_name(enum collateral_source_ca ca)
{
	return ca == COLLATERAL_SOURCE_CA_PROCESSOR ? "processor" : "platform";
}

static void fmspc_hex(const struct collateral_source_key *k, char out[13])
{
	static const char digits[] = "0123456789ABCDEF";
	for (size_t i = 0; i < 6; i++) {
		out[2 * i] = digits[k->fmspc[i] >> 4];
		out[2 * i + 1] = digits[k->fmspc[i] & 15];
	}
	out[12] = '\0';
}

int collateral_source_file_name(const struct collateral_source_key *key, char *out, size_t outlen)
{
	char fm[13];
	fmspc_hex(key, fm);
	int n = snprintf(out, outlen, "tdx-%s-%s.json", fm, collateral_source_ca_name(key->ca));
	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

/* RFC 3339 UTC, or "unknown" for t <= 0. */
static void fmt_time(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (t <= 0 || !gmtime_r(&tt, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "unknown");
}

static int64_t wall_clock(void *arg)
{
	(void)arg;
	return (int64_t)time(NULL);
}

static int bytes_contain(const void *hay, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	const uint8_t *h = hay;
	for (size_t i = 0; k <= n && i <= n - k; i++)
		if (memcmp(h + i, needle, k) == 0)
			return 1;
	return 0;
}

static int key_eq(const struct collateral_source_key *a, const struct collateral_source_key *b)
{
	return a->ca == b->ca && memcmp(a->fmspc, b->fmspc, sizeof a->fmspc) == 0;
}

/* Percent-decoding of an issuer-chain header ('+' stays '+': PEM base64 uses it). */
static int pct_decode(const char *s, struct buf *out)
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

/* ---- cutting a top-level value out of a JSON text -------------------------- */
/* The text was validated by jansson first, so these only need to find bounds;
 * every index is still checked against n. */

static int is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t skip_ws(const char *p, size_t n, size_t i)
{
	while (i < n && is_ws(p[i]))
		i++;
	return i;
}

/* At an opening quote: moves *i past the closing quote. */
static int skip_string(const char *p, size_t n, size_t *i)
{
	size_t j = *i + 1;
	while (j < n && p[j] != '"')
		j += p[j] == '\\' ? 2 : 1;
	if (j >= n)
		return -1;
	*i = j + 1;
	return 0;
}

static int skip_value(const char *p, size_t n, size_t *i)
{
	size_t j = *i;
	if (j >= n)
		return -1;
	if (p[j] == '"')
		return skip_string(p, n, i);
	if (p[j] == '{' || p[j] == '[') {
		size_t depth = 0;
		while (j < n) {
			char c = p[j];
			if (c == '"') {
				if (skip_string(p, n, &j) < 0)
					return -1;
				continue;
			}
			if (c == '{' || c == '[') {
				depth++;
			} else if (c == '}' || c == ']') {
				if (--depth == 0) {
					*i = j + 1;
					return 0;
				}
			}
			j++;
		}
		return -1;
	}
	while (j < n && p[j] && !strchr(",}] \t\r\n", p[j]))
		j++;
	if (j == *i)
		return -1;
	*i = j;
	return 0;
}

/* Offset and length of the raw value of top-level `key` in a JSON object. */
static int json_cut(const char *p, size_t n, const char *key, size_t *off, size_t *len)
{
	size_t i = skip_ws(p, n, 0), klen = strlen(key);
	if (i >= n || p[i] != '{')
		return -1;
	i++;
	for (;;) {
		i = skip_ws(p, n, i);
		if (i >= n || p[i] != '"')
			return -1;
		size_t ks = i + 1;
		if (skip_string(p, n, &i) < 0)
			return -1;
		size_t kl = i - 1 - ks;
		i = skip_ws(p, n, i);
		if (i >= n || p[i] != ':')
			return -1;
		i = skip_ws(p, n, i + 1);
		size_t vs = i;
		if (skip_value(p, n, &i) < 0)
			return -1;
		if (kl == klen && memcmp(p + ks, key, klen) == 0) {
			*off = vs;
			*len = i - vs;
			return 0;
		}
		i = skip_ws(p, n, i);
		if (i >= n || p[i] != ',')
			return -1;
		i++;
	}
}

/* ---- FMSPC and CA type from the PCK leaf ------------------------------------ */

static int sgx_ext_fmspc(X509 *leaf, uint8_t fmspc[6], struct err *err)
{
	ASN1_OBJECT *ext_oid = OBJ_txt2obj(OID_SGX_EXT, 1);
	ASN1_OBJECT *fm_oid = OBJ_txt2obj(OID_SGX_FMSPC, 1);
	STACK_OF(ASN1_TYPE) *seq = NULL;
	int rc = -1, found = 0;

	if (!ext_oid || !fm_oid) {
		err_openssl(err, "cannot build the SGX extension OIDs");
		goto out;
	}
	int idx = X509_get_ext_by_OBJ(leaf, ext_oid, -1);
	if (idx < 0) {
		err_set(err, "PCK certificate has no Intel SGX extension");
		goto out;
	}
	if (X509_get_ext_by_OBJ(leaf, ext_oid, idx) >= 0) {
		err_set(err, "PCK certificate has the Intel SGX extension twice");
		goto out;
	}
	const ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(X509_get_ext(leaf, idx));
	const unsigned char *p = ASN1_STRING_get0_data(os);
	long n = ASN1_STRING_length(os);
	seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, n);
	if (!seq || p != ASN1_STRING_get0_data(os) + n) {
		err_set(err, "PCK certificate SGX extension is not a DER SEQUENCE");
		goto out;
	}
	for (int i = 0; i < sk_ASN1_TYPE_num(seq); i++) {
		ASN1_TYPE *t = sk_ASN1_TYPE_value(seq, i);
		if (ASN1_TYPE_get(t) != V_ASN1_SEQUENCE) {
			err_set(err, "PCK certificate SGX extension: entry %d is not a SEQUENCE",
				i);
			goto out;
		}
		const unsigned char *q = t->value.sequence->data;
		long qn = t->value.sequence->length;
		STACK_OF(ASN1_TYPE) *pair = d2i_ASN1_SEQUENCE_ANY(NULL, &q, qn);
		int ok = pair && q == t->value.sequence->data + qn && sk_ASN1_TYPE_num(pair) == 2 &&
			 ASN1_TYPE_get(sk_ASN1_TYPE_value(pair, 0)) == V_ASN1_OBJECT;
		if (ok && OBJ_cmp(sk_ASN1_TYPE_value(pair, 0)->value.object, fm_oid) == 0) {
			ASN1_TYPE *v = sk_ASN1_TYPE_value(pair, 1);
			if (found++ || ASN1_TYPE_get(v) != V_ASN1_OCTET_STRING ||
			    v->value.octet_string->length != 6) {
				ok = 0;
			} else {
				memcpy(fmspc, v->value.octet_string->data, 6);
			}
		}
		sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
		if (!ok) {
			err_set(err, "PCK certificate SGX extension: malformed entry %d", i);
			goto out;
		}
	}
	if (!found) {
		err_set(err, "PCK certificate SGX extension has no FMSPC");
		goto out;
	}
	rc = 0;
out:
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	ASN1_OBJECT_free(ext_oid);
	ASN1_OBJECT_free(fm_oid);
	ERR_clear_error();
	return rc;
}

/* Every certificate of a PEM text, in order (at least one). */
static STACK_OF(X509) * pem_certs(const char *pem, size_t len, struct err *err)
{
	if (len == 0 || len > INT_MAX) {
		err_set(err, "PCK certificate chain is empty or too large");
		return NULL;
	}
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	STACK_OF(X509) *sk = sk_X509_new_null();
	X509 *x;
	if (!b || !sk) {
		BIO_free(b);
		sk_X509_free(sk);
		err_set(err, "out of memory");
		return NULL;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			break;
		}
	}
	ERR_clear_error();
	BIO_free(b);
	if (sk_X509_num(sk) == 0) {
		sk_X509_free(sk);
		err_set(err, "PCK certificate chain holds no PEM certificate");
		return NULL;
	}
	return sk;
}

static int leaf_key(X509 *leaf, struct collateral_source_key *key, struct err *err)
{
	TRY(sgx_ext_fmspc(leaf, key->fmspc, err));
	const X509_NAME *issuer = X509_get_issuer_name(leaf);
	int idx = X509_NAME_get_index_by_NID(issuer, NID_commonName, -1);
	const ASN1_STRING *cn =
	    idx >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(issuer, idx)) : NULL;
	if (!cn)
		return err_set(err, "PCK certificate issuer has no common name");
	const unsigned char *d = ASN1_STRING_get0_data(cn);
	size_t n = (size_t)ASN1_STRING_length(cn);
	key->ca = bytes_contain(d, n, "Platform") ? COLLATERAL_SOURCE_CA_PLATFORM
						  : COLLATERAL_SOURCE_CA_PROCESSOR;
	return 0;
}

int collateral_source_pem_key(const char *pem, size_t len, struct collateral_source_key *key,
			      struct err *err)
{
	if (len == 0 || len > INT_MAX)
		return err_set(err, "PCK certificate chain is empty or too large");
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *leaf = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL; /* the leaf only */
	BIO_free(b);
	ERR_clear_error();
	if (!leaf)
		return err_set(err, "PCK certificate chain holds no PEM certificate");
	int rc = leaf_key(leaf, key, err);
	X509_free(leaf);
	return rc;
}

static int quote_pck_chain(const uint8_t *quote, size_t len, struct tdx_quote *q, struct err *err)
{
	TRY(quote_parse(quote, len, q, err));
	if (!q->pck_chain_pem || q->pck_chain_len == 0)
		return err_set(err,
			       "quote carries no PCK certificate chain (certification data type "
			       "%u): its FMSPC is unknown",
			       (unsigned)q->cert_data_type);
	return 0;
}

int collateral_source_quote_key(const uint8_t *quote, size_t len, struct collateral_source_key *key,
				struct err *err)
{
	struct tdx_quote q;
	TRY(quote_pck_chain(quote, len, &q, err));
	return collateral_source_pem_key(q.pck_chain_pem, q.pck_chain_len, key, err);
}

/* ---- the source -------------------------------------------------------------- */

/* A collateral set with everything known about it, on its way into an entry. */
/* ---- the source -------------------------------------------------------------- */

/* One collateral set and what is known about it. Immutable once built;
 * refcounted under s->mu so that a reader can use it while a refresh replaces
 * it in its entry. */
struct snap {
	int refs;
	struct dcap_collateral col;
	struct dcap_loaded *loaded; /* NULL when it does not load (e.g. expired) */
	int64_t from, until;	    /* inclusive; the loaded window, or [0, collateral_expiry] */
	int64_t fetched_at;
	char origin[256];
	int root_crl_from_cdp;
	int from_disk;
};

struct entry {
	struct collateral_source_key key;
	struct snap *cur;   /* NULL = nothing held */
	int64_t refresh_at; /* clock time of the next background attempt; 0 = none */
	int64_t backoff;
	int64_t failures;
	int64_t fail_until; /* request-path cooldown after a failed fetch */
	char last_err[ERR_MAX];
	/* Single flight: the thread that set `fetching` is the only one that may
	 * replace `cur` until it clears it. */
	int fetching;
	int waiters;  /* threads waiting on this entry (it is not evicted meanwhile) */
	uint64_t gen; /* bumped by install and note_failure: an outcome to share */
};

struct collateral_source {
	const struct dcap_verifier *v;
	char base[URL_MAX];
	char origin[256];
	char cdp[URL_MAX]; /* "" = no distribution point */
	char cache_dir[PATH_MAX];
	char *ca_file, *proxy;
	long connect_ms, timeout_ms;
	size_t max_body;
	int64_t margin, min_interval, retry_min, retry_max, cooldown;
	size_t max_keys;
	long poll_ms;
	int64_t (*clock)(void *);
	void *clock_arg;
	X509_STORE *anchor_store; /* for the PCK chain gate before a fetch */

	pthread_mutex_t mu;
	pthread_cond_t done; /* a fetch completed */
	pthread_cond_t wake; /* the refresh thread (CLOCK_MONOTONIC) */
	struct entry **e;
	size_t n;
	int cdp_first; /* the distribution point answered last time */
	struct collateral_source_stats stats;
	pthread_t thread;
	int thread_started, running, kicked;
	/* PCK chain digest → key: parsing certificates costs ~100 µs a quote */
	struct {
		uint8_t digest[32];
		struct collateral_source_key key;
		int used;
	} memo[KEY_MEMO];
	size_t memo_next;
};

static int64_t now_clock(const struct collateral_source *s)
{
	return s->clock(s->clock_arg);
}

static struct snap *snap_new(void)
{
	struct snap *p = calloc(1, sizeof *p);
	if (p) {
		p->refs = 1;
		collateral_init(&p->col);
	}
	return p;
}

/* Under s->mu, or while the snap is still private. */
static void snap_unref(struct snap *p)
{
	if (p && --p->refs == 0) {
		collateral_free(&p->col);
		dcap_loaded_release(p->loaded);
		free(p);
	}
}

static int usable(const struct entry *e, int64_t now)
{
	return e->cur && e->cur->loaded && now >= e->cur->from && now <= e->cur->until;
}

/* Refresh at 3/4 of the remaining time, no later than margin before the end,
 * no sooner than min_interval (but never after the end). */
static int64_t schedule(const struct collateral_source *s, int64_t t, int64_t until)
{
	int64_t remaining = until - t;
	if (remaining <= 0)
		return t + s->retry_min;
	int64_t delay = remaining / 4 * 3 + (remaining % 4) * 3 / 4;
	if (remaining - s->margin < delay)
		delay = remaining - s->margin;
	if (delay < s->min_interval)
		delay = s->min_interval;
	if (delay > remaining)
		delay = remaining;
	return t + delay;
}

static int64_t crl_next_update(const struct buf *der)
{
	const unsigned char *p = der->p;
	X509_CRL *crl = der->len <= INT_MAX ? d2i_X509_CRL(NULL, &p, (long)der->len) : NULL;
	const ASN1_TIME *nu = crl ? X509_CRL_get0_nextUpdate(crl) : NULL;
	struct tm tm;
	int64_t t = -1;
	if (nu && ASN1_TIME_to_tm(nu, &tm) == 1)
		t = (int64_t)timegm(&tm);
	X509_CRL_free(crl);
	ERR_clear_error();
	return t;
}

/* The last second at which the collateral can pass, from its own dates: the
 * earliest of the TCB info and QE identity nextUpdate (inclusive) and the CRL
 * nextUpdates minus one (OpenSSL, hence dcap.c, treats a CRL as expired at its
 * nextUpdate). -1 when a date cannot be read. */
static int64_t collateral_expiry(const struct dcap_collateral *c)
{
	struct dcap_tcb_info t;
	struct dcap_qe_identity q;
	struct err e = {{0}};
	int64_t end, x;

	memset(&t, 0, sizeof t);
	memset(&q, 0, sizeof q);
	if (collateral_parse_tcb_info((const char *)c->tcb_info.p, c->tcb_info.len, &t, &e) < 0)
		return -1;
	end = t.next_update;
	collateral_tcb_info_free(&t);
	if (collateral_parse_qe_identity((const char *)c->qe_identity.p, c->qe_identity.len, &q,
					 &e) < 0)
		return -1;
	if (q.next_update < end)
		end = q.next_update;
	collateral_qe_identity_free(&q);
	if ((x = crl_next_update(&c->root_ca_crl)) < 0)
		return -1;
	end = x - 1 < end ? x - 1 : end;
	if ((x = crl_next_update(&c->pck_crl)) < 0)
		return -1;
	return x - 1 < end ? x - 1 : end;
}

/* Loads p->col at `now`. A collateral that does not load keeps p->loaded NULL
 * and the window [0, collateral_expiry]; *why says why. */
static int snap_load(const struct collateral_source *s, struct snap *p, int64_t now,
		     struct err *why)
{
	if (dcap_load_collateral(s->v, &p->col, now, &p->loaded, why) == 0) {
		dcap_loaded_window(p->loaded, &p->from, &p->until);
		return 0;
	}
	p->loaded = NULL;
	p->from = 0;
	p->until = collateral_expiry(&p->col);
	return -1;
}

struct raw {
	struct buf tcb_body, tcb_chain;
	struct buf qe_body, qe_chain;
	struct buf pck_crl, pck_crl_chain; /* DER */
	struct buf root_crl;		   /* DER */
	int root_crl_from_cdp;
	int64_t retry_after; /* seconds asked by a 429/503, 0 = none */
};

static void raw_free(struct raw *r)
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
static int crl_to_der(const uint8_t *p, size_t n, struct buf *out, const char *what,
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
	if (n <= INT_MAX && bytes_contain(p, n, "-----BEGIN X509 CRL-----")) {
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
	size_t a = 0, b = n;
	while (a < b && is_ws(p[a]))
		a++;
	while (b > a && is_ws(p[b - 1]))
		b--;
	if (b - a >= 2 && p[a] == '0' && (p[a + 1] == 'x' || p[a + 1] == 'X'))
		a += 2;
	size_t before = out->len;
	if (b > a && hex_decode((const char *)p + a, b - a, out) == 0) {
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
static int check_fmspc(const char *tcb_info, size_t len, const struct collateral_source_key *key,
		       struct err *err)
{
	json_error_t je;
	json_t *t = json_loadb(tcb_info, len, JSON_REJECT_DUPLICATES, &je);
	const char *fm = t ? json_string_value(json_object_get(t, "fmspc")) : NULL;
	uint8_t got[6];
	char want[13];
	int rc = 0;
	fmspc_hex(key, want);
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
	if (json_cut((const char *)body->p, body->len, name, &off, &len) < 0) {
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

static int assemble(const struct raw *r, const struct collateral_source_key *key,
		    struct dcap_collateral *c, struct err *err)
{
	collateral_init(c);
	if (cut_signed(&r->tcb_body, "tcbInfo", "TCB info", &c->tcb_info, &c->tcb_info_signature,
		       err) < 0 ||
	    cut_signed(&r->qe_body, "enclaveIdentity", "QE identity", &c->qe_identity,
		       &c->qe_identity_signature, err) < 0 ||
	    check_fmspc((const char *)c->tcb_info.p, c->tcb_info.len, key, err) < 0)
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

static void count_request(struct collateral_source *s)
{
	pthread_mutex_lock(&s->mu);
	s->stats.http_requests++;
	pthread_mutex_unlock(&s->mu);
}

/* GET url; 0 with a 200 response, else -1 with "<what>: <reason>". */
static int http_get(struct collateral_source *s, struct http_client *c, const char *url,
		    const char *what, struct raw *r, struct http_response *resp, struct err *err)
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
		if (pct_decode(v, out) < 0)
			return err_set(err, "%s: header %s is not URL-encoded text", what,
				       names[i]);
		return 0;
	}
	return err_set(err, "%s: response lacks the %s header", what, names[0]);
}

static int build_url(char *out, const char *base, const char *path, const char *query,
		     struct err *err)
{
	int n = snprintf(out, URL_MAX, "%s%s%s", base, path, query);
	if (n < 0 || (size_t)n >= URL_MAX)
		return err_set(err, "collateral URL too long");
	return 0;
}

static int fetch_root_crl_pccs(struct collateral_source *s, struct http_client *c, struct raw *r,
			       struct err *err)
{
	char url[URL_MAX];
	struct http_response resp;
	TRY(build_url(url, s->base, "/sgx/certification/v4/rootcacrl", "", err));
	int rc = http_get(s, c, url, "root CA CRL (PCCS route)", r, &resp, err);
	if (rc == 0)
		rc = crl_to_der(resp.body.p, resp.body.len, &r->root_crl,
				"root CA CRL (PCCS route)", err);
	http_response_free(&resp);
	return rc;
}

static int fetch_root_crl_cdp(struct collateral_source *s, struct http_client *c, struct raw *r,
			      struct err *err)
{
	struct http_response resp;
	if (!s->cdp[0])
		return err_set(err, "root CA CRL: the trust anchor has no CRL distribution point");
	int rc = http_get(s, c, s->cdp, "root CA CRL (distribution point)", r, &resp, err);
	if (rc == 0)
		rc = crl_to_der(resp.body.p, resp.body.len, &r->root_crl,
				"root CA CRL (distribution point)", err);
	http_response_free(&resp);
	if (rc == 0)
		r->root_crl_from_cdp = 1;
	return rc;
}

/* PCCS route and distribution point, the one that worked last time first. */
static int fetch_root_crl(struct collateral_source *s, struct http_client *c, struct raw *r,
			  struct err *err)
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

static int fetch_raw(struct collateral_source *s, const struct collateral_source_key *key,
		     struct raw *r, struct err *err)
{
	struct http_client_opts co = {.proxy = s->proxy, .follow_redirects = 1};
	struct http_client *c;
	struct http_response resp;
	char url[URL_MAX], fm[13], q[64];
	int rc = -1;

	co.tls.ca_file = s->ca_file;
	fmspc_hex(key, fm);
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
			rc = crl_to_der(resp.body.p, resp.body.len, &r->pck_crl, "PCK CRL", err);
	}
	http_response_free(&resp);
	TRY_OUT(rc);

	rc = fetch_root_crl(s, c, r, err);
out:
	http_client_free(c);
	return rc;
}

/* A quote's PCK chain must lead to the anchor before it may cause a fetch, so
 * that an unauthenticated caller cannot make the KMS query arbitrary FMSPCs.
 * Times and revocation are dcap_verify's job (this is only a gate). */
static int pck_chain_gate(const struct collateral_source *s, const char *pem, size_t len,
			  struct err *err)
{
	STACK_OF(X509) *sk = pem_certs(pem, len, err);
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc = -1;
	if (!sk || !ctx) {
		if (sk)
			err_set(err, "out of memory");
		goto out;
	}
	X509 *leaf = sk_X509_shift(sk);
	if (X509_STORE_CTX_init(ctx, s->anchor_store, leaf, sk) != 1) {
		X509_free(leaf);
		err_openssl(err, "cannot check the PCK certificate chain");
		goto out;
	}
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
	int ok = X509_verify_cert(ctx);
	int code = X509_STORE_CTX_get_error(ctx);
	X509_free(leaf);
	if (ok != 1) {
		err_set(err, "PCK certificate chain does not lead to the trust anchor (%s)",
			X509_verify_cert_error_string(code));
		goto out;
	}
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	return rc;
}

/* ---- disk cache ------------------------------------------------------------------ */

static int cache_path(const struct collateral_source *s, const struct collateral_source_key *key,
		      char *out, size_t outlen)
{
	char name[64];
	if (collateral_source_file_name(key, name, sizeof name) < 0)
		return -1;
	return fs_join(out, outlen, s->cache_dir, name);
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

static int disk_write(const struct collateral_source *s, const struct collateral_source_key *key,
		      const struct raw *r, const struct snap *h, struct err *err)
{
	char path[PATH_MAX + 64], fm[13];
	json_t *o = json_object();
	char *text = NULL;
	int rc = -1;

	fmspc_hex(key, fm);
	if (cache_path(s, key, path, sizeof path) < 0) {
		err_set(err, "cache path too long");
		goto out;
	}
	if (!o || jset(o, "format", json_string(CACHE_FORMAT)) < 0 ||
	    jset(o, "fmspc", json_string(fm)) < 0 ||
	    jset(o, "ca", json_string(collateral_source_ca_name(key->ca))) < 0 ||
	    jset(o, "origin", json_string(h->origin)) < 0 ||
	    jset(o, "fetched_at", json_integer((json_int_t)h->fetched_at)) < 0 ||
	    jset(o, "root_ca_crl_route",
		 json_string(r->root_crl_from_cdp ? "distribution-point" : "pccs")) < 0 ||
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
static int envelope_to_raw(json_t *o, const struct collateral_source_key *key, struct raw *r,
			   struct snap *h, struct err *err)
{
	char fm[13];
	const char *f = json_string_value(json_object_get(o, "fmspc"));
	const char *ca = json_string_value(json_object_get(o, "ca"));
	const char *origin = json_string_value(json_object_get(o, "origin"));
	const char *route = json_string_value(json_object_get(o, "root_ca_crl_route"));
	json_t *at = json_object_get(o, "fetched_at");

	fmspc_hex(key, fm);
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
	r->root_crl_from_cdp = strcmp(route, "distribution-point") == 0;
	h->root_crl_from_cdp = r->root_crl_from_cdp;
	return 0;
}

/*
 * Reads the cache file of key and loads it at `now`. Returns 1 when there is
 * no file; 0 when the collateral loaded (*out set); -1 otherwise, with *out
 * NULL for a corrupt file, or set (loaded == NULL) for collateral that does
 * not load at `now`, e.g. expired. *err says why.
 */
static int disk_read(const struct collateral_source *s, const struct collateral_source_key *key,
		     int64_t now, struct snap **out, struct err *err)
{
	char path[PATH_MAX + 64];
	struct buf text = BUF_INIT;
	struct raw r;
	struct stat st;
	json_error_t je;
	json_t *o = NULL;
	struct snap *p = NULL;
	int rc = -1;

	*out = NULL;
	memset(&r, 0, sizeof r);
	if (cache_path(s, key, path, sizeof path) < 0)
		return err_set(err, "cache path too long");
	if (stat(path, &st) < 0 && errno == ENOENT)
		return 1;
	if (!(p = snap_new())) {
		err_set(err, "out of memory");
		goto out;
	}
	if (fs_read_file(path, MAX_CACHE_FILE, &text, err) < 0)
		goto out;
	o = json_loadb((const char *)text.p, text.len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(o)) {
		err_set(err, "not a JSON object: %s", je.text);
		goto out;
	}
	if (json_object_get(o, "format")) {
		if (envelope_to_raw(o, key, &r, p, err) < 0 || assemble(&r, key, &p->col, err) < 0)
			goto out;
	} else {
		/* Pre-filled: plain QuoteCollateralV3 JSON. */
		if (collateral_parse((const char *)text.p, text.len, &p->col, err) < 0 ||
		    check_fmspc((const char *)p->col.tcb_info.p, p->col.tcb_info.len, key, err) < 0)
			goto out;
		snprintf(p->origin, sizeof p->origin, "file");
		p->fetched_at = (int64_t)st.st_mtime;
	}
	p->from_disk = 1;
	if (snap_load(s, p, now, err) < 0) {
		err_wrap(err, "cached collateral %s does not load", path);
		*out = p;
		p = NULL;
		goto done;
	}
	*out = p;
	p = NULL;
	rc = 0;
	goto done;
out:
	err_wrap(err, "cache file %s", path);
done:
	snap_unref(p);
	json_decref(o);
	buf_free(&text);
	raw_free(&r);
	return rc;
}

/* ---- entries --------------------------------------------------------------------- */

static struct entry *find(struct collateral_source *s, const struct collateral_source_key *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (key_eq(&s->e[i]->key, key))
			return s->e[i];
	return NULL;
}

static void entry_free(struct entry *e)
{
	if (e) {
		snap_unref(e->cur);
		free(e);
	}
}

/* Under s->mu. When full, evicts an idle entry without usable collateral. */
static struct entry *add(struct collateral_source *s, const struct collateral_source_key *key,
			 int64_t now, struct err *err)
{
	if (s->n >= s->max_keys) {
		size_t victim = s->n;
		for (size_t i = 0; i < s->n && victim == s->n; i++) {
			struct entry *x = s->e[i];
			if (!x->fetching && !x->waiters && !usable(x, now))
				victim = i;
		}
		if (victim == s->n) {
			err_set(err, "too many distinct FMSPC/CA keys (%zu) hold collateral",
				s->max_keys);
			return NULL;
		}
		entry_free(s->e[victim]);
		s->e[victim] = s->e[--s->n];
	}
	struct entry *e = calloc(1, sizeof *e);
	if (!e) {
		err_set(err, "out of memory");
		return NULL;
	}
	e->key = *key;
	s->e[s->n++] = e;
	return e;
}

/* Under s->mu, by the fetching thread: p becomes the entry's collateral. */
static void install(struct collateral_source *s, struct entry *e, struct snap *p, int64_t t)
{
	snap_unref(e->cur);
	e->cur = p;
	e->failures = 0;
	e->backoff = 0;
	e->fail_until = 0;
	e->last_err[0] = '\0';
	e->refresh_at = p->loaded ? schedule(s, t, p->until) : t;
	e->gen++;
}

/* Under s->mu: a failed fetch; schedules the background retry with backoff. */
static void note_failure(struct collateral_source *s, struct entry *e, int64_t t,
			 int64_t retry_after, const struct err *why)
{
	e->failures++;
	e->backoff = e->backoff ? e->backoff * 2 : s->retry_min;
	if (retry_after > e->backoff)
		e->backoff = retry_after;
	if (e->backoff > s->retry_max)
		e->backoff = s->retry_max;
	e->refresh_at = t + e->backoff;
	e->fail_until = s->cooldown > 0 ? t + s->cooldown : 0;
	snprintf(e->last_err, sizeof e->last_err, "%s", why->msg);
	s->stats.fetch_failures++;
	e->gen++;
}

/* The fail-closed message for an entry not usable at `now` (under s->mu or
 * by the fetching thread). */
static int closed(const struct collateral_source *s, const struct entry *e, int64_t now,
		  const char *why, struct err *err)
{
	char fm[13], until[32], from[32], fetched[32];
	const char *ca = collateral_source_ca_name(e->key.ca);
	const struct snap *p = e->cur;
	fmspc_hex(&e->key, fm);
	if (!p)
		return err_set(err, "no collateral for FMSPC %s (%s CA) from %s: %s", fm, ca,
			       s->origin, why);
	fmt_time(p->until, until);
	fmt_time(p->from, from);
	fmt_time(p->fetched_at, fetched);
	if (p->loaded && now < p->from)
		return err_set(err,
			       "collateral for FMSPC %s (%s CA) is not valid before %s (fetched "
			       "from %s at %s), and none other from %s: %s",
			       fm, ca, from, p->origin, fetched, s->origin, why);
	return err_set(err,
		       "collateral for FMSPC %s (%s CA) has expired: valid until %s (fetched from "
		       "%s at %s), and it could not be renewed from %s: %s",
		       fm, ca, until, p->origin, fetched, s->origin, why);
}

/* Fetch + assemble + load at `now`. *out is set on success; r keeps the raw
 * responses (for the disk cache) and the Retry-After of a failure. */
static int fetch_snap(struct collateral_source *s, const struct collateral_source_key *key,
		      int64_t now, struct snap **out, struct raw *r, struct err *err)
{
	struct snap *p;
	*out = NULL;
	memset(r, 0, sizeof *r);
	if (fetch_raw(s, key, r, err) < 0)
		return -1;
	if (!(p = snap_new()))
		return err_set(err, "out of memory");
	if (assemble(r, key, &p->col, err) < 0) {
		snap_unref(p);
		return err_wrap(err, "%s sent unusable collateral", s->origin);
	}
	p->fetched_at = now_clock(s);
	snprintf(p->origin, sizeof p->origin, "%s", s->origin);
	p->root_crl_from_cdp = r->root_crl_from_cdp;
	if (snap_load(s, p, now, err) < 0) {
		snap_unref(p);
		return err_wrap(err, "collateral from %s rejected", s->origin);
	}
	*out = p;
	return 0;
}

static void write_through(struct collateral_source *s, const struct collateral_source_key *key,
			  const struct raw *r, const struct snap *p)
{
	struct err e = {{0}};
	char fm[13];
	if (!s->cache_dir[0])
		return;
	if (disk_write(s, key, r, p, &e) < 0) {
		fmspc_hex(key, fm);
		log_warn("collateral cache write failed fmspc=%s ca=%s error=\"%s\"", fm,
			 collateral_source_ca_name(key->ca), e.msg);
	}
}

/*
 * The miss path of get, with e->fetching held: the disk cache, then (unless
 * cooling down after a failure, and only past the PCK chain gate) the PCCS.
 * Installs what it gets; the caller checks usability.
 */
static int fill(struct collateral_source *s, struct entry *e, int64_t now, const char *pck_pem,
		size_t pck_len, struct err *err)
{
	struct snap *p = NULL;
	struct raw r;
	struct err why;
	char fm[13], until[32];
	const char *ca = collateral_source_ca_name(e->key.ca);
	int64_t t = now_clock(s);

	fmspc_hex(&e->key, fm);
	if (s->cache_dir[0]) {
		int d = disk_read(s, &e->key, now, &p, &why);
		if (d == 0) {
			pthread_mutex_lock(&s->mu);
			install(s, e, p, t);
			s->stats.disk_loads++;
			pthread_mutex_unlock(&s->mu);
			fmt_time(p->until, until);
			log_info("collateral loaded from cache fmspc=%s ca=%s valid_until=%s", fm,
				 ca, until);
			return 0;
		}
		if (d < 0 && p && !e->cur) {
			/* expired on disk: keep it, for the message and the refresh */
			pthread_mutex_lock(&s->mu);
			install(s, e, p, t);
			pthread_mutex_unlock(&s->mu);
		} else {
			if (d < 0 && !p)
				log_warn(
				    "collateral cache file ignored fmspc=%s ca=%s error=\"%s\"", fm,
				    ca, why.msg);
			snap_unref(p);
		}
	}

	pthread_mutex_lock(&s->mu);
	int cooling = e->fail_until && t < e->fail_until;
	snprintf(why.msg, sizeof why.msg, "%s", e->last_err);
	pthread_mutex_unlock(&s->mu);
	if (cooling)
		return closed(s, e, now, why.msg, err);
	if (pck_pem && pck_chain_gate(s, pck_pem, pck_len, err) < 0)
		return -1;

	if (fetch_snap(s, &e->key, now, &p, &r, &why) < 0) {
		pthread_mutex_lock(&s->mu);
		note_failure(s, e, t, r.retry_after, &why);
		pthread_mutex_unlock(&s->mu);
		raw_free(&r);
		log_warn("collateral fetch failed fmspc=%s ca=%s origin=%s error=\"%s\"", fm, ca,
			 s->origin, why.msg);
		return closed(s, e, now, why.msg, err);
	}
	pthread_mutex_lock(&s->mu);
	install(s, e, p, t);
	s->stats.fetches++;
	pthread_mutex_unlock(&s->mu);
	fmt_time(p->until, until);
	log_info("collateral fetched fmspc=%s ca=%s origin=%s root_crl_route=%s valid_until=%s", fm,
		 ca, s->origin, p->root_crl_from_cdp ? "distribution-point" : "pccs", until);
	write_through(s, &e->key, &r, p);
	raw_free(&r);
	return 0;
}

/* Under s->mu with e usable: a reference for the caller. dcap.h has no
 * "retain", so the reference comes from dcap_load_collateral (a digest of the
 * collateral plus a cache lookup in the verifier), outside the lock. */
static int hand_out(struct collateral_source *s, struct entry *e, int64_t now,
		    struct dcap_loaded **out, struct err *err)
{
	struct snap *p = e->cur;
	p->refs++;
	if (s->thread_started && e->refresh_at && e->refresh_at <= now_clock(s) && !e->fetching)
		pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->mu);
	int rc = dcap_load_collateral(s->v, &p->col, now, out, err);
	pthread_mutex_lock(&s->mu);
	snap_unref(p);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int get_impl(struct collateral_source *s, const struct collateral_source_key *key,
		    int64_t now, const char *pck_pem, size_t pck_len, struct dcap_loaded **out,
		    struct err *err)
{
	struct entry *e;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&s->mu);
	if (!(e = find(s, key)) && !(e = add(s, key, now, err))) {
		pthread_mutex_unlock(&s->mu);
		return -1;
	}
	if (usable(e, now)) {
		s->stats.memory_hits++;
		return hand_out(s, e, now, out, err);
	}
	if (e->fetching) {
		uint64_t gen = e->gen;
		e->waiters++;
		while (e->fetching)
			pthread_cond_wait(&s->done, &s->mu);
		e->waiters--;
		if (usable(e, now))
			return hand_out(s, e, now, out, err);
		if (e->gen != gen && e->last_err[0]) {
			/* the fetch we waited for failed: share its outcome */
			char why[ERR_MAX];
			snprintf(why, sizeof why, "%s", e->last_err);
			rc = closed(s, e, now, why, err);
			pthread_mutex_unlock(&s->mu);
			return rc;
		}
	}
	e->fetching = 1;
	pthread_mutex_unlock(&s->mu);

	rc = fill(s, e, now, pck_pem, pck_len, err);

	pthread_mutex_lock(&s->mu);
	e->fetching = 0;
	pthread_cond_broadcast(&s->done);
	if (rc == 0 && usable(e, now))
		return hand_out(s, e, now, out, err);
	if (rc == 0)
		rc = closed(s, e, now, "the cached collateral is not valid at this time", err);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int collateral_source_get_key(struct collateral_source *s, const struct collateral_source_key *key,
			      int64_t now, struct dcap_loaded **out, struct err *err)
{
	return get_impl(s, key, now, NULL, 0, out, err);
}

/* The key of a PCK chain, memoized by the chain's SHA-256. */
static int chain_key(struct collateral_source *s, const char *pem, size_t len,
		     struct collateral_source_key *key, struct err *err)
{
	uint8_t d[32];
	if (EVP_Digest(pem, len, d, NULL, EVP_sha256(), NULL) != 1)
		return err_openssl(err, "SHA-256 failed");
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < KEY_MEMO; i++) {
		if (s->memo[i].used && memcmp(s->memo[i].digest, d, 32) == 0) {
			*key = s->memo[i].key;
			pthread_mutex_unlock(&s->mu);
			return 0;
		}
	}
	pthread_mutex_unlock(&s->mu);
	TRY(collateral_source_pem_key(pem, len, key, err));
	pthread_mutex_lock(&s->mu);
	size_t i = s->memo_next++ % KEY_MEMO;
	memcpy(s->memo[i].digest, d, 32);
	s->memo[i].key = *key;
	s->memo[i].used = 1;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

int collateral_source_get(struct collateral_source *s, const uint8_t *quote, size_t len,
			  int64_t now, struct dcap_loaded **out, struct err *err)
{
	struct tdx_quote q;
	struct collateral_source_key key;
	*out = NULL;
	if (quote_pck_chain(quote, len, &q, err) < 0 ||
	    chain_key(s, q.pck_chain_pem, q.pck_chain_len, &key, err) < 0)
		return err_wrap(err, "cannot tell which collateral the quote needs");
	return get_impl(s, &key, now, q.pck_chain_pem, q.pck_chain_len, out, err);
}

/* ---- background refresh ----------------------------------------------------------- */

/* Renews one entry at clock time t (e->fetching held by the caller). */
static void refresh_one(struct collateral_source *s, struct entry *e, int64_t t)
{
	struct snap *p = NULL;
	struct raw r;
	struct err why;
	char fm[13], until[32], retry[32];
	const char *ca = collateral_source_ca_name(e->key.ca);
	int installed = 0;

	fmspc_hex(&e->key, fm);
	pthread_mutex_lock(&s->mu);
	s->stats.refreshes++;
	pthread_mutex_unlock(&s->mu);
	int rc = fetch_snap(s, &e->key, t, &p, &r, &why);

	pthread_mutex_lock(&s->mu);
	if (rc == 0) {
		s->stats.fetches++;
		/* never trade what we hold for collateral that ends sooner */
		if (!usable(e, t) || p->until >= e->cur->until) {
			install(s, e, p, t);
			installed = 1;
		} else {
			e->failures = 0;
			e->backoff = 0;
			e->refresh_at = schedule(s, t, e->cur->until);
			snap_unref(p);
			p = NULL;
		}
		fmt_time(e->cur->until, until);
	} else {
		note_failure(s, e, t, r.retry_after, &why);
		fmt_time(e->cur ? e->cur->until : 0, until);
		fmt_time(e->refresh_at, retry);
	}
	int expired = rc < 0 && e->cur && t > e->cur->until;
	int held = e->cur != NULL;
	pthread_mutex_unlock(&s->mu);

	if (rc == 0) {
		log_info("collateral refreshed fmspc=%s ca=%s origin=%s valid_until=%s%s", fm, ca,
			 s->origin, until, installed ? "" : " kept=older-but-longer");
		if (installed)
			write_through(s, &e->key, &r, p);
	} else if (!held) {
		log_warn("collateral fetch retry failed; quotes of this platform are refused "
			 "fmspc=%s ca=%s origin=%s next_try=%s error=\"%s\"",
			 fm, ca, s->origin, retry, why.msg);
	} else if (expired) {
		log_err("collateral expired and refresh failed; quotes of this platform are "
			"refused fmspc=%s ca=%s origin=%s valid_until=%s next_try=%s error=\"%s\"",
			fm, ca, s->origin, until, retry, why.msg);
	} else {
		log_warn("collateral refresh failed; cached copy stays in use fmspc=%s ca=%s "
			 "origin=%s valid_until=%s next_try=%s error=\"%s\"",
			 fm, ca, s->origin, until, retry, why.msg);
	}
	raw_free(&r);

	pthread_mutex_lock(&s->mu);
	e->fetching = 0;
	pthread_cond_broadcast(&s->done);
	pthread_mutex_unlock(&s->mu);
}

int collateral_source_refresh_due(struct collateral_source *s, int64_t t)
{
	struct entry **due;
	size_t k = 0;

	pthread_mutex_lock(&s->mu);
	due = calloc(s->n ? s->n : 1, sizeof *due);
	for (size_t i = 0; due && i < s->n; i++) {
		struct entry *e = s->e[i];
		if (!e->fetching && e->refresh_at && e->refresh_at <= t) {
			e->fetching = 1;
			due[k++] = e;
		}
	}
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < k; i++)
		refresh_one(s, due[i], t);
	free(due);
	return (int)k;
}

static void timed_wait(struct collateral_source *s, long ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&s->wake, &s->mu, &ts);
}

static void *refresh_main(void *arg)
{
	struct collateral_source *s = arg;
	pthread_mutex_lock(&s->mu);
	while (s->running) {
		s->kicked = 0;
		pthread_mutex_unlock(&s->mu);
		collateral_source_refresh_due(s, now_clock(s));
		pthread_mutex_lock(&s->mu);
		if (!s->running || s->kicked)
			continue;
		/* sleep until the earliest refresh time (clock seconds are taken as
		 * real seconds), at most poll_ms, at least 1 s if one is overdue
		 * (it is being fetched by a request) */
		int64_t t = now_clock(s), next = 0;
		for (size_t i = 0; i < s->n; i++) {
			int64_t r = s->e[i]->refresh_at;
			if (r && (!next || r < next))
				next = r;
		}
		long ms = s->poll_ms;
		if (next) {
			int64_t d = next - t;
			long want = d <= 0 ? 1000 : (d > ms / 1000 ? ms : (long)d * 1000);
			if (want < ms)
				ms = want;
		}
		timed_wait(s, ms);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* "tdx-<12 hex>-<platform|processor>.json" → key. */
static int parse_file_name(const char *name, struct collateral_source_key *key)
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

/* Registers every key of the cache directory (loaded when still valid, else
 * due for an immediate refresh). */
static void preload(struct collateral_source *s)
{
	DIR *d = opendir(s->cache_dir);
	struct dirent *de;
	int64_t t = now_clock(s);
	if (!d) {
		log_warn("collateral cache directory unreadable dir=%s error=\"%s\"", s->cache_dir,
			 strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct collateral_source_key key;
		struct snap *p = NULL;
		struct err why;
		struct entry *e;
		if (parse_file_name(de->d_name, &key) < 0)
			continue;
		pthread_mutex_lock(&s->mu);
		e = find(s, &key);
		if (!e && !(e = add(s, &key, t, &why))) {
			pthread_mutex_unlock(&s->mu);
			log_warn("collateral cache file skipped file=%s error=\"%s\"", de->d_name,
				 why.msg);
			continue;
		}
		if (e->fetching || e->cur) {
			pthread_mutex_unlock(&s->mu);
			continue;
		}
		e->fetching = 1;
		pthread_mutex_unlock(&s->mu);
		int rc = disk_read(s, &key, t, &p, &why);
		pthread_mutex_lock(&s->mu);
		if (p) {
			install(s, e, p, t);
			if (rc == 0)
				s->stats.disk_loads++;
		} else {
			e->refresh_at = t;
		}
		e->fetching = 0;
		pthread_cond_broadcast(&s->done);
		pthread_mutex_unlock(&s->mu);
		if (rc < 0)
			log_warn("collateral cache file not usable now, refreshing file=%s "
				 "error=\"%s\"",
				 de->d_name, why.msg);
	}
	closedir(d);
}

int collateral_source_start(struct collateral_source *s, struct err *err)
{
	pthread_mutex_lock(&s->mu);
	int started = s->thread_started;
	pthread_mutex_unlock(&s->mu);
	if (started)
		return 0;
	if (s->cache_dir[0])
		preload(s);
	pthread_mutex_lock(&s->mu);
	s->running = 1;
	int rc = pthread_create(&s->thread, NULL, refresh_main, s);
	if (rc != 0) {
		s->running = 0;
		pthread_mutex_unlock(&s->mu);
		return err_set(err, "cannot start the collateral refresh thread: %s", strerror(rc));
	}
	s->thread_started = 1;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

void collateral_source_stop(struct collateral_source *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	int started = s->thread_started;
	s->running = 0;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->mu);
	if (started)
		pthread_join(s->thread, NULL);
	pthread_mutex_lock(&s->mu);
	s->thread_started = 0;
	pthread_mutex_unlock(&s->mu);
}

void collateral_source_kick(struct collateral_source *s)
{
	pthread_mutex_lock(&s->mu);
	s->kicked = 1;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->mu);
}

/* ---- construction, queries -------------------------------------------------------- */

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

struct collateral_source *collateral_source_new(const struct collateral_source_opts *o,
						const struct dcap_verifier *v, struct err *err)
{
	struct collateral_source *s = calloc(1, sizeof *s);
	const uint8_t *anchor_der = o->anchor_der;
	size_t anchor_len = o->anchor_len;
	X509 *anchor = NULL;
	pthread_condattr_t ca;
	const char *base =
	    o->pccs_url && o->pccs_url[0] ? o->pccs_url : COLLATERAL_SOURCE_DEFAULT_PCCS;

	if (!s) {
		err_set(err, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->done, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	s->v = v;
	s->connect_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : DEF_CONNECT_MS;
	s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEF_TIMEOUT_MS;
	s->max_body = o->max_response_bytes ? o->max_response_bytes : DEF_MAX_BODY;
	s->margin = o->refresh_margin_s > 0 ? o->refresh_margin_s : DEF_MARGIN_S;
	s->min_interval =
	    o->min_refresh_interval_s > 0 ? o->min_refresh_interval_s : DEF_MIN_INTERVAL_S;
	s->retry_min = o->retry_min_s > 0 ? o->retry_min_s : DEF_RETRY_MIN_S;
	s->retry_max = o->retry_max_s > 0 ? o->retry_max_s : DEF_RETRY_MAX_S;
	if (s->retry_max < s->retry_min)
		s->retry_max = s->retry_min;
	s->cooldown = o->fail_cooldown_s == 0 ? DEF_COOLDOWN_S : o->fail_cooldown_s;
	s->max_keys = o->max_keys ? o->max_keys : DEF_MAX_KEYS;
	s->poll_ms = o->poll_interval_ms > 0 ? o->poll_interval_ms : DEF_POLL_MS;
	s->clock = o->clock ? o->clock : wall_clock;
	s->clock_arg = o->clock_arg;

	if (!http_url(base) || strlen(base) >= sizeof s->base) {
		err_set(err, "PCCS URL must be http(s):// and shorter than %d bytes", URL_MAX);
		goto fail;
	}
	snprintf(s->base, sizeof s->base, "%s", base);
	for (size_t n = strlen(s->base); n > 8 && s->base[n - 1] == '/'; n--)
		s->base[n - 1] = '\0';
	log_url_origin(s->base, s->origin, sizeof s->origin);

	if (!anchor_der && !(anchor_der = dcap_intel_root_der(&anchor_len, err)))
		goto fail;
	const unsigned char *q = anchor_der;
	anchor = anchor_len <= INT_MAX ? d2i_X509(NULL, &q, (long)anchor_len) : NULL;
	if (!anchor || q != anchor_der + anchor_len) {
		err_openssl(err, "trust anchor is not a DER certificate");
		goto fail;
	}
	if (o->root_crl_url && o->root_crl_url[0]) {
		if (!http_url(o->root_crl_url) || strlen(o->root_crl_url) >= sizeof s->cdp) {
			err_set(err, "root CA CRL URL must be http(s):// and shorter than %d bytes",
				URL_MAX);
			goto fail;
		}
		snprintf(s->cdp, sizeof s->cdp, "%s", o->root_crl_url);
	} else {
		anchor_cdp(anchor, s->cdp, sizeof s->cdp);
	}
	if (!(s->anchor_store = X509_STORE_new()) ||
	    X509_STORE_add_cert(s->anchor_store, anchor) != 1) {
		err_openssl(err, "cannot set up the trust store");
		goto fail;
	}
	X509_free(anchor);
	anchor = NULL;

	if ((o->ca_file && !(s->ca_file = strdup(o->ca_file))) ||
	    (o->proxy && !(s->proxy = strdup(o->proxy))) ||
	    !(s->e = calloc(s->max_keys, sizeof *s->e))) {
		err_set(err, "out of memory");
		goto fail;
	}
	if (o->cache_dir && o->cache_dir[0]) {
		if (strlen(o->cache_dir) >= sizeof s->cache_dir - 64) {
			err_set(err, "collateral cache directory path too long");
			goto fail;
		}
		snprintf(s->cache_dir, sizeof s->cache_dir, "%s", o->cache_dir);
		if (fs_mkdir_p(s->cache_dir, 0755, err) < 0) {
			err_wrap(err, "collateral cache directory %s", s->cache_dir);
			goto fail;
		}
	}
	if (http_client_global_init(err) < 0)
		goto fail;
	return s;
fail:
	X509_free(anchor);
	collateral_source_free(s);
	return NULL;
}

void collateral_source_free(struct collateral_source *s)
{
	if (!s)
		return;
	collateral_source_stop(s);
	for (size_t i = 0; s->e && i < s->n; i++)
		entry_free(s->e[i]);
	free(s->e);
	X509_STORE_free(s->anchor_store);
	free(s->ca_file);
	free(s->proxy);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->done);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int collateral_source_info(struct collateral_source *s, const struct collateral_source_key *key,
			   int64_t now, struct collateral_source_info *out)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&s->mu);
	struct entry *e = find(s, key);
	if (e) {
		out->present = e->cur != NULL;
		out->usable = usable(e, now);
		out->next_refresh = e->refresh_at;
		out->failures = e->failures;
		if (e->cur) {
			out->fetched_at = e->cur->fetched_at;
			out->valid_from = e->cur->from;
			out->valid_until = e->cur->until;
			out->root_crl_from_cdp = e->cur->root_crl_from_cdp;
			out->from_disk = e->cur->from_disk;
			snprintf(out->origin, sizeof out->origin, "%s", e->cur->origin);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return e ? 0 : -1;
}

int collateral_source_export(struct collateral_source *s, const struct collateral_source_key *key,
			     struct buf *out, struct err *err)
{
	char fm[13];
	pthread_mutex_lock(&s->mu);
	struct entry *e = find(s, key);
	struct snap *p = e ? e->cur : NULL;
	if (p)
		p->refs++;
	pthread_mutex_unlock(&s->mu);
	if (!p) {
		fmspc_hex(key, fm);
		return err_set(err, "no collateral held for FMSPC %s (%s CA)", fm,
			       collateral_source_ca_name(key->ca));
	}
	int rc = collateral_to_json(&p->col, out, err);
	pthread_mutex_lock(&s->mu);
	snap_unref(p);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void collateral_source_stats(struct collateral_source *s, struct collateral_source_stats *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->stats;
	pthread_mutex_unlock(&s->mu);
}
