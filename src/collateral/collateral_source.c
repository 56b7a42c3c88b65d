/*
 * collateral_source.c — the in-memory collateral cache and its background
 * refresher (see collateral_source.h). Entries are keyed by FMSPC and CA
 * type; every fetch of a key is single-flight (one thread fetches, the others
 * wait for its outcome). Collateral comes from the cache directory
 * (collateral_disk.c) or the PCCS (collateral_pccs.c) and is loaded by the
 * verifier before it is installed; a refresh never trades what is held for
 * collateral that ends sooner, and a held copy stays in use until it really
 * expires, then the source fails closed. Collateral whose
 * tcbEvaluationDataNumber is below one accepted before is refused wherever
 * it comes from (rollback protection, collateral_marks.c); the marks rise only
 * when verified collateral is installed and are written where the cache files
 * are written (the caller of get, the refresher, start), never on the request
 * path. Never logs more of a URL than its origin.
 * spec: attestation §2.1, §2.2, §2.5; deployment-and-users §3 row 12.
 */
#include "collateral/collateral_internal.h"

#include "attest/collateral.h"
#include "attest/quote.h"
#include "crypto/cert.h"
#include "util/date.h"
#include "util/fs.h"
#include "util/log.h"

#include <dirent.h>
#include <errno.h>
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
#include <sys/stat.h>
#include <time.h>

#define DEF_MARGIN_S (2 * 86400)
#define DEF_MIN_INTERVAL_S 3600
#define DEF_RETRY_MIN_S 60
#define DEF_RETRY_MAX_S 3600
#define DEF_COOLDOWN_S 5
#define DEF_MAX_KEYS 64
#define DEF_POLL_MS 60000
#define KEY_MEMO 64

static void fmt_time(int64_t t, char out[32])
{
	if (t <= 0 || date_format_rfc3339(t, out) < 0)
		snprintf(out, 32, "unknown");
}

static int64_t wall_clock(void *arg)
{
	(void)arg;
	return (int64_t)time(NULL);
}
static int key_eq(const struct collateral_source_key *a, const struct collateral_source_key *b)
{
	return a->ca == b->ca && memcmp(a->fmspc, b->fmspc, sizeof a->fmspc) == 0;
}

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
	uint32_t tcb_eval,
	    qe_eval; /* tcbEvaluationDataNumber of TCB info, QE identity (loaded only) */
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
	int waiters;	/* threads waiting on this entry (it is not evicted meanwhile) */
	int disk_tried; /* the request path read the cache directory for it */
	int stale;	/* cur is below a rollback mark raised since: not usable */
	uint64_t gen;	/* bumped by install and note_failure: an outcome to share */
};

struct collateral_source {
	const struct dcap_verifier *v;
	struct collateral_pccs pccs;
	int pccs_ready;
	const char *origin; /* pccs.origin */
	char cache_dir[PATH_MAX];
	int64_t margin, min_interval, retry_min, retry_max, cooldown;
	size_t max_keys;
	long poll_ms;
	int64_t (*clock)(void *);
	void *clock_arg;
	X509_STORE *anchor_store; /* for the PCK chain gate before a fetch */

	pthread_mutex_t mu;
	/* rollback marks (under mu); marks_dirty: raised since last written.
	 * marks_write_mu serialises writers so that the newest copy lands last
	 * (taken before mu, never while holding it). */
	struct collateral_marks marks;
	int marks_dirty;
	pthread_mutex_t marks_write_mu;
	pthread_cond_t done; /* a fetch completed (CLOCK_MONOTONIC) */
	pthread_cond_t wake; /* the refresh thread (CLOCK_MONOTONIC) */
	struct entry **e;
	size_t n;
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

/* Under s->mu (stale is written under it). */
static int usable(const struct entry *e, int64_t now)
{
	return e->cur && e->cur->loaded && !e->stale && now >= e->cur->from && now <= e->cur->until;
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
	int64_t t = -1;
	if (crl && cert_asn1_time_unix(X509_CRL_get0_nextUpdate(crl), &t) < 0)
		t = -1;
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

/* The tcbEvaluationDataNumber of the TCB info and of the QE identity. */
static int eval_numbers(const struct dcap_collateral *c, uint32_t *tcb, uint32_t *qe,
			struct err *err)
{
	struct dcap_tcb_info t;
	struct dcap_qe_identity q;
	TRY(collateral_parse_tcb_info((const char *)c->tcb_info.p, c->tcb_info.len, &t, err));
	*tcb = t.tcb_evaluation_data_number;
	collateral_tcb_info_free(&t);
	TRY(collateral_parse_qe_identity((const char *)c->qe_identity.p, c->qe_identity.len, &q,
					 err));
	*qe = q.tcb_evaluation_data_number;
	collateral_qe_identity_free(&q);
	return 0;
}

/* Loads p->col at `now`. A collateral that does not load keeps p->loaded NULL
 * and the window [0, collateral_expiry]; *why says why. */
static int snap_load(const struct collateral_source *s, struct snap *p, int64_t now,
		     struct err *why)
{
	if (dcap_load_collateral(s->v, &p->col, now, &p->loaded, why) == 0) {
		dcap_loaded_window(p->loaded, &p->from, &p->until);
		if (eval_numbers(&p->col, &p->tcb_eval, &p->qe_eval, why) == 0)
			return 0;
		dcap_loaded_release(p->loaded); /* cannot happen: it just parsed */
	}
	p->loaded = NULL;
	p->from = 0;
	p->until = collateral_expiry(&p->col);
	return -1;
}

/* Every certificate of a PEM text, in order (at least one). */
static STACK_OF(X509) * pem_certs(const char *pem, size_t len, struct err *err)
{
	if (len == 0 || len > INT_MAX) {
		err_set(err, "PCK certificate chain is empty or too large");
		return NULL;
	}
	STACK_OF(X509) *sk = cert_chain_from_pem(pem, len, 0, err);
	if (!sk) {
		err_wrap(err, "PCK certificate chain");
		return NULL;
	}
	if (sk_X509_num(sk) == 0) {
		sk_X509_free(sk);
		err_set(err, "PCK certificate chain holds no PEM certificate");
		return NULL;
	}
	return sk;
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
	e->stale = 0;
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

/* ---- rollback protection ------------------------------------------------------ */

/* Under s->mu: whether p is below the marks (the rollback message in *err). */
static int marks_check(const struct collateral_source *s, const struct entry *e,
		       const struct snap *p, struct err *err)
{
	if (!p->loaded)
		return 0; /* never usable, so never counted */
	return collateral_marks_check(&s->marks, e->key.fmspc, p->tcb_eval, p->qe_eval, err);
}

/* Under s->mu, after marks rose: collateral other entries hold that is now
 * below a mark (the other CA type of the FMSPC; every entry, for the QE
 * identity) is no longer handed out and is refreshed at once. */
static void supersede(struct collateral_source *s, const struct entry *except)
{
	struct err why;
	char fm[13];
	for (size_t i = 0; i < s->n; i++) {
		struct entry *x = s->e[i];
		if (x == except || !x->cur || x->stale || marks_check(s, x, x->cur, &why) == 0)
			continue;
		collateral_fmspc_hex(&x->key, fm);
		log_warn("collateral superseded by a newer tcbEvaluationDataNumber, refreshing "
			 "fmspc=%s ca=%s error=\"%s\"",
			 fm, collateral_source_ca_name(x->key.ca), why.msg);
		x->stale = 1;
		x->refresh_at = now_clock(s);
		s->kicked = 1;
		pthread_cond_signal(&s->wake);
	}
}

/* Under s->mu: the rollback rule for verified collateral p about to become e's:
 * refused when below a mark (equal passes), else the marks rise to it. */
static int admit(struct collateral_source *s, struct entry *e, const struct snap *p,
		 struct err *err)
{
	if (!p->loaded)
		return 0;
	TRY(marks_check(s, e, p, err));
	int raised = collateral_marks_raise(&s->marks, e->key.fmspc, p->tcb_eval, p->qe_eval, err);
	if (raised < 0)
		return -1;
	if (raised) {
		s->marks_dirty = 1;
		supersede(s, e);
	}
	return 0;
}

/* Writes the marks file when marks rose since the last write (not under s->mu;
 * blocking: fsync). A failed write keeps the marks in memory, in force, and
 * is retried on the next refresh pass. */
static void marks_flush(struct collateral_source *s)
{
	struct collateral_marks copy;
	struct err e = {{0}};
	if (!s->cache_dir[0])
		return;
	pthread_mutex_lock(&s->marks_write_mu);
	pthread_mutex_lock(&s->mu);
	int dirty = s->marks_dirty;
	int copied = dirty && collateral_marks_copy(&copy, &s->marks) == 0;
	if (copied)
		s->marks_dirty = 0;
	pthread_mutex_unlock(&s->mu);
	if (copied && collateral_marks_write(s->cache_dir, &copy, &e) == 0) {
		log_info("collateral rollback marks saved dir=%s file=%s fmspcs=%zu qe_identity=%u",
			 s->cache_dir, COLLATERAL_MARKS_FILE, copy.n, copy.qe);
	} else if (dirty) {
		if (copied) {
			pthread_mutex_lock(&s->mu);
			s->marks_dirty = 1;
			pthread_mutex_unlock(&s->mu);
		}
		log_warn("collateral rollback marks not saved; they stay in force in memory and "
			 "the write is retried dir=%s file=%s error=\"%s\"",
			 s->cache_dir, COLLATERAL_MARKS_FILE, copied ? e.msg : "out of memory");
	}
	if (copied)
		collateral_marks_free(&copy);
	pthread_mutex_unlock(&s->marks_write_mu);
}

/* The fail-closed message for an entry not usable at `now` (under s->mu or
 * by the fetching thread). */
static int closed(const struct collateral_source *s, const struct entry *e, int64_t now,
		  const char *why, struct err *err)
{
	char fm[13], until[32], from[32], fetched[32];
	const char *ca = collateral_source_ca_name(e->key.ca);
	const struct snap *p = e->cur;
	collateral_fmspc_hex(&e->key, fm);
	if (!p)
		return err_set(err, "no collateral for FMSPC %s (%s CA) from %s: %s", fm, ca,
			       s->origin, why);
	fmt_time(p->until, until);
	fmt_time(p->from, from);
	fmt_time(p->fetched_at, fetched);
	if (e->stale)
		return err_set(
		    err,
		    "collateral for FMSPC %s (%s CA) was superseded by collateral with a "
		    "newer tcbEvaluationDataNumber, and none as new from %s: %s",
		    fm, ca, s->origin, why);
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
		      int64_t now, struct snap **out, struct collateral_raw *r, struct err *err)
{
	struct snap *p;
	*out = NULL;
	memset(r, 0, sizeof *r);
	if (collateral_pccs_fetch(&s->pccs, key, r, err) < 0)
		return -1;
	if (!(p = snap_new()))
		return err_set(err, "out of memory");
	if (collateral_raw_assemble(r, key, &p->col, err) < 0) {
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

/*
 * Reads the cache file of key and loads it at `now`. Returns 1 when there is
 * no file; 0 when the collateral loaded (*out set); -1 otherwise, with *out
 * NULL for a corrupt file, or set (loaded == NULL) for collateral that does
 * not load at `now`, e.g. expired. *err says why.
 */
static int disk_read(const struct collateral_source *s, const struct collateral_source_key *key,
		     int64_t now, struct snap **out, struct err *err)
{
	struct collateral_meta m;
	struct snap *p;
	char path[PATH_MAX + 64];

	*out = NULL;
	if (!(p = snap_new()))
		return err_set(err, "out of memory");
	int rc = collateral_disk_read(s->cache_dir, key, &p->col, &m, err);
	if (rc != 0) {
		snap_unref(p);
		return rc;
	}
	snprintf(p->origin, sizeof p->origin, "%s", m.origin);
	p->fetched_at = m.fetched_at;
	p->root_crl_from_cdp = m.root_crl_from_cdp;
	p->from_disk = 1;
	*out = p;
	if (snap_load(s, p, now, err) < 0) {
		if (collateral_disk_path(s->cache_dir, key, path, sizeof path) < 0)
			snprintf(path, sizeof path, "(path too long)");
		return err_wrap(err, "cached collateral %s does not load", path);
	}
	return 0;
}

static void write_through(struct collateral_source *s, const struct collateral_source_key *key,
			  const struct collateral_raw *r, const struct snap *p)
{
	struct err e = {{0}};
	char fm[13];
	if (!s->cache_dir[0])
		return;
	struct collateral_meta m;
	snprintf(m.origin, sizeof m.origin, "%s", p->origin);
	m.fetched_at = p->fetched_at;
	m.root_crl_from_cdp = r->root_crl_from_cdp;
	if (collateral_disk_write(s->cache_dir, key, r, &m, &e) < 0) {
		collateral_fmspc_hex(key, fm);
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
	struct collateral_raw r;
	struct err why, refused = {{0}};
	char fm[13], until[32];
	const char *ca = collateral_source_ca_name(e->key.ca);
	int64_t t = now_clock(s);
	int rc;

	collateral_fmspc_hex(&e->key, fm);
	if (s->cache_dir[0]) {
		int d = disk_read(s, &e->key, now, &p, &why);
		if (d == 0) {
			pthread_mutex_lock(&s->mu);
			rc = admit(s, e, p, &refused);
			if (rc == 0) {
				install(s, e, p, t);
				s->stats.disk_loads++;
			}
			pthread_mutex_unlock(&s->mu);
			if (rc == 0) {
				marks_flush(s);
				fmt_time(p->until, until);
				log_info(
				    "collateral loaded from cache fmspc=%s ca=%s valid_until=%s",
				    fm, ca, until);
				return 0;
			}
			log_warn("collateral cache file refused fmspc=%s ca=%s error=\"%s\"", fm,
				 ca, refused.msg);
			snap_unref(p);
		} else if (d < 0 && p && !e->cur) {
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
	if (cooling) {
		rc = closed(s, e, now, why.msg, err);
		pthread_mutex_unlock(&s->mu);
		return rc;
	}
	pthread_mutex_unlock(&s->mu);
	if (pck_pem && pck_chain_gate(s, pck_pem, pck_len, err) < 0)
		return -1;

	rc = fetch_snap(s, &e->key, now, &p, &r, &why);
	pthread_mutex_lock(&s->mu);
	if (rc == 0 && admit(s, e, p, &why) < 0) {
		err_wrap(&why, "collateral from %s refused", s->origin);
		snap_unref(p);
		rc = -1;
	}
	if (rc < 0) {
		if (refused.msg[0]) {
			/* say why the cached copy was not used either */
			char both[ERR_MAX];
			snprintf(both, sizeof both, "%.560s; the cached copy was refused: %.420s",
				 why.msg, refused.msg);
			memcpy(why.msg, both, sizeof why.msg);
		}
		note_failure(s, e, t, r.retry_after, &why);
		rc = closed(s, e, now, why.msg, err);
		pthread_mutex_unlock(&s->mu);
		collateral_raw_free(&r);
		log_warn("collateral fetch failed fmspc=%s ca=%s origin=%s error=\"%s\"", fm, ca,
			 s->origin, why.msg);
		return rc;
	}
	install(s, e, p, t);
	s->stats.fetches++;
	pthread_mutex_unlock(&s->mu);
	fmt_time(p->until, until);
	log_info("collateral fetched fmspc=%s ca=%s origin=%s root_crl_route=%s valid_until=%s", fm,
		 ca, s->origin, p->root_crl_from_cdp ? "distribution-point" : "pccs", until);
	marks_flush(s);
	write_through(s, &e->key, &r, p);
	collateral_raw_free(&r);
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
	if (collateral_quote_pck_chain(quote, len, &q, err) < 0 ||
	    chain_key(s, q.pck_chain_pem, q.pck_chain_len, &key, err) < 0)
		return err_wrap(err, "cannot tell which collateral the quote needs");
	return get_impl(s, &key, now, q.pck_chain_pem, q.pck_chain_len, out, err);
}

/* ---- the request path: cache only ------------------------------------------------ */

static void deadline_after(long ms, struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Under s->mu: the disk cache for an entry nobody is filling (local I/O, no
 * network); installs what it finds, like fill() without the PCCS. */
static void fill_from_disk(struct collateral_source *s, struct entry *e, int64_t now)
{
	struct snap *p = NULL;
	struct err why;
	char fm[13];
	if (!s->cache_dir[0] || e->fetching || e->disk_tried)
		return;
	e->fetching = 1;
	e->disk_tried = 1;
	pthread_mutex_unlock(&s->mu);
	int d = disk_read(s, &e->key, now, &p, &why);
	if (d < 0 && !p) {
		collateral_fmspc_hex(&e->key, fm);
		log_warn("collateral cache file ignored fmspc=%s ca=%s error=\"%s\"", fm,
			 collateral_source_ca_name(e->key.ca), why.msg);
	}
	pthread_mutex_lock(&s->mu);
	if (p && d == 0 && admit(s, e, p, &why) < 0) {
		collateral_fmspc_hex(&e->key, fm);
		log_warn("collateral cache file refused fmspc=%s ca=%s error=\"%s\"", fm,
			 collateral_source_ca_name(e->key.ca), why.msg);
		snap_unref(p);
		p = NULL;
	}
	if (p && (d == 0 || !e->cur)) {
		install(s, e, p, now_clock(s));
		if (d == 0)
			s->stats.disk_loads++;
	} else if (p) {
		snap_unref(p);
	}
	e->fetching = 0;
	pthread_cond_broadcast(&s->done);
	if (s->marks_dirty) {
		/* the request path does no writes: the refresher saves the marks */
		s->kicked = 1;
		pthread_cond_signal(&s->wake);
	}
}

static int get_cached_impl(struct collateral_source *s, const struct collateral_source_key *key,
			   int64_t now, const char *pck_pem, size_t pck_len, long wait_ms,
			   struct dcap_loaded **out, struct err *err)
{
	struct timespec deadline;
	struct entry *e;
	char fm[13], why[ERR_MAX];
	int rc;

	*out = NULL;
	deadline_after(wait_ms > 0 ? wait_ms : 0, &deadline);
	pthread_mutex_lock(&s->mu);
	if (!(e = find(s, key)) && !(e = add(s, key, now, err))) {
		pthread_mutex_unlock(&s->mu);
		return -1;
	}
	if (usable(e, now)) {
		s->stats.memory_hits++;
		return hand_out(s, e, now, out, err);
	}
	e->waiters++;
	fill_from_disk(s, e, now);
	if (usable(e, now)) {
		e->waiters--;
		return hand_out(s, e, now, out, err);
	}
	int64_t t = now_clock(s);
	if (!e->fetching && e->fail_until && t < e->fail_until) {
		snprintf(why, sizeof why, "%s", e->last_err);
		e->waiters--;
		rc = closed(s, e, now, why, err);
		pthread_mutex_unlock(&s->mu);
		return rc;
	}
	if (!s->thread_started) {
		e->waiters--;
		rc = closed(s, e, now, "the collateral refresher is not running", err);
		pthread_mutex_unlock(&s->mu);
		return rc;
	}
	if (pck_pem) {
		/* outside the lock: a chain check costs ~100 µs */
		pthread_mutex_unlock(&s->mu);
		rc = pck_chain_gate(s, pck_pem, pck_len, err);
		pthread_mutex_lock(&s->mu);
		if (rc < 0) {
			e->waiters--;
			pthread_mutex_unlock(&s->mu);
			return -1;
		}
	}
	/* ask the refresher (single flight: a fetch in progress is the answer) */
	uint64_t gen = e->gen;
	if (!e->fetching && (!e->refresh_at || e->refresh_at > t)) {
		e->refresh_at = t;
		s->kicked = 1;
		pthread_cond_signal(&s->wake);
	}
	rc = 0;
	while (!usable(e, now) && (e->gen == gen || e->fetching) && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&s->done, &s->mu, &deadline);
	e->waiters--;
	if (usable(e, now))
		return hand_out(s, e, now, out, err);
	if (e->gen != gen && e->last_err[0]) {
		snprintf(why, sizeof why, "%s", e->last_err);
		rc = closed(s, e, now, why, err);
	} else if (e->gen != gen) {
		rc = closed(s, e, now, "the cached collateral is not valid at this time", err);
	} else {
		collateral_fmspc_hex(key, fm);
		rc = err_set(err,
			     COLLATERAL_SOURCE_BUSY
			     ": collateral for FMSPC %s (%s CA) is being fetched from %s and "
			     "was not ready within %ld ms; try again",
			     fm, collateral_source_ca_name(key->ca), s->origin, wait_ms);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int collateral_source_get_cached(struct collateral_source *s, const uint8_t *quote, size_t len,
				 int64_t now, long wait_ms, struct dcap_loaded **out,
				 struct err *err)
{
	struct tdx_quote q;
	struct collateral_source_key key;
	*out = NULL;
	if (collateral_quote_pck_chain(quote, len, &q, err) < 0 ||
	    chain_key(s, q.pck_chain_pem, q.pck_chain_len, &key, err) < 0)
		return err_wrap(err, "cannot tell which collateral the quote needs");
	return get_cached_impl(s, &key, now, q.pck_chain_pem, q.pck_chain_len, wait_ms, out, err);
}

/* ---- background refresh ----------------------------------------------------------- */

/* Renews one entry at clock time t (e->fetching held by the caller). */
static void refresh_one(struct collateral_source *s, struct entry *e, int64_t t)
{
	struct snap *p = NULL;
	struct collateral_raw r;
	struct err why;
	char fm[13], until[32], retry[32];
	const char *ca = collateral_source_ca_name(e->key.ca);
	int installed = 0;

	collateral_fmspc_hex(&e->key, fm);
	pthread_mutex_lock(&s->mu);
	s->stats.refreshes++;
	pthread_mutex_unlock(&s->mu);
	int rc = fetch_snap(s, &e->key, t, &p, &r, &why);

	pthread_mutex_lock(&s->mu);
	/* never trade what we hold for collateral that ends sooner, unless it is
	 * newer collateral (a higher tcbEvaluationDataNumber: a TCB recovery) */
	int take = rc == 0 && (!usable(e, t) || p->until >= e->cur->until ||
			       p->tcb_eval > e->cur->tcb_eval || p->qe_eval > e->cur->qe_eval);
	if (rc == 0 && (take ? admit(s, e, p, &why) : marks_check(s, e, p, &why)) < 0) {
		err_wrap(&why, "collateral from %s refused", s->origin);
		snap_unref(p);
		p = NULL;
		rc = -1;
	}
	if (rc == 0) {
		s->stats.fetches++;
		if (take) {
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
	int expired = rc < 0 && e->cur && (e->stale || t > e->cur->until);
	int held = e->cur != NULL, first = e->failures == 1;
	pthread_mutex_unlock(&s->mu);

	if (rc == 0) {
		log_info("collateral refreshed fmspc=%s ca=%s origin=%s valid_until=%s%s", fm, ca,
			 s->origin, until, installed ? "" : " kept=older-but-longer");
		if (installed) {
			marks_flush(s);
			write_through(s, &e->key, &r, p);
		}
	} else if (!held) {
		log_warn("collateral fetch %sfailed; quotes of this platform are refused "
			 "fmspc=%s ca=%s origin=%s next_try=%s error=\"%s\"",
			 first ? "" : "retry ", fm, ca, s->origin, retry, why.msg);
	} else if (expired) {
		log_err("collateral expired and refresh failed; quotes of this platform are "
			"refused fmspc=%s ca=%s origin=%s valid_until=%s next_try=%s error=\"%s\"",
			fm, ca, s->origin, until, retry, why.msg);
	} else {
		log_warn("collateral refresh failed; cached copy stays in use fmspc=%s ca=%s "
			 "origin=%s valid_until=%s next_try=%s error=\"%s\"",
			 fm, ca, s->origin, until, retry, why.msg);
	}
	collateral_raw_free(&r);

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
	marks_flush(s); /* marks raised by the request path's disk loads */
	return (int)k;
}

static void timed_wait(struct collateral_source *s, long ms)
{
	struct timespec ts;
	deadline_after(ms, &ts);
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
		if (collateral_disk_parse_name(de->d_name, &key) < 0)
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
		if (p && rc == 0 && admit(s, e, p, &why) < 0) {
			snap_unref(p);
			p = NULL;
			rc = -1;
		}
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
	marks_flush(s);
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

/* The cache directory decides which collateral and which rollback marks the
 * KMS starts with, so nobody but its owner may write there. */
static int cache_dir_check(const char *dir, struct err *err)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return err_set(err, "stat: %s", strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(err, "not a directory");
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return err_set(err,
			       "writable by its group or by others (mode %04o): they could replace "
			       "cached collateral or the rollback marks; make it 0750 or stricter "
			       "(chmod go-w)",
			       (unsigned)(st.st_mode & 07777));
	return 0;
}

struct collateral_source *collateral_source_new(const struct collateral_source_opts *o,
						const struct dcap_verifier *v, struct err *err)
{
	struct collateral_source *s = calloc(1, sizeof *s);
	const uint8_t *anchor_der = o->anchor_der;
	size_t anchor_len = o->anchor_len;
	X509 *anchor = NULL;
	pthread_condattr_t ca;

	if (!s) {
		err_set(err, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->marks_write_mu, NULL);
	collateral_marks_init(&s->marks);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->done, &ca);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	s->v = v;
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

	if (!anchor_der && !(anchor_der = dcap_intel_root_der(&anchor_len, err)))
		goto fail;
	const unsigned char *q = anchor_der;
	anchor = anchor_len <= INT_MAX ? d2i_X509(NULL, &q, (long)anchor_len) : NULL;
	if (!anchor || q != anchor_der + anchor_len) {
		err_openssl(err, "trust anchor is not a DER certificate");
		goto fail;
	}
	s->pccs_ready = 1; /* init leaves the client safe to clean up on failure */
	if (collateral_pccs_init(&s->pccs, o, anchor, err) < 0)
		goto fail;
	s->origin = s->pccs.origin;
	if (!(s->anchor_store = X509_STORE_new()) ||
	    X509_STORE_add_cert(s->anchor_store, anchor) != 1) {
		err_openssl(err, "cannot set up the trust store");
		goto fail;
	}
	X509_free(anchor);
	anchor = NULL;

	if (!(s->e = calloc(s->max_keys, sizeof *s->e))) {
		err_set(err, "out of memory");
		goto fail;
	}
	if (o->cache_dir && o->cache_dir[0]) {
		if (strlen(o->cache_dir) >= sizeof s->cache_dir - 64) {
			err_set(err, "collateral cache directory path too long");
			goto fail;
		}
		snprintf(s->cache_dir, sizeof s->cache_dir, "%s", o->cache_dir);
		if (fs_mkdir_p(s->cache_dir, 0750, err) < 0 ||
		    cache_dir_check(s->cache_dir, err) < 0) {
			err_wrap(err, "collateral cache directory %s", s->cache_dir);
			goto fail;
		}
		int mr = collateral_marks_read(s->cache_dir, &s->marks, err);
		if (mr < 0)
			goto fail;
		if (mr > 0)
			log_info("collateral rollback marks: none yet dir=%s file=%s", s->cache_dir,
				 COLLATERAL_MARKS_FILE);
		else
			log_info("collateral rollback marks loaded dir=%s file=%s fmspcs=%zu "
				 "qe_identity=%u",
				 s->cache_dir, COLLATERAL_MARKS_FILE, s->marks.n, s->marks.qe);
	}
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
	marks_flush(s); /* marks raised on the request path since the last pass */
	for (size_t i = 0; s->e && i < s->n; i++)
		entry_free(s->e[i]);
	free(s->e);
	X509_STORE_free(s->anchor_store);
	if (s->pccs_ready)
		collateral_pccs_cleanup(&s->pccs);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->done);
	collateral_marks_free(&s->marks);
	pthread_mutex_destroy(&s->marks_write_mu);
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
		snprintf(out->last_error, sizeof out->last_error, "%s", e->last_err);
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

size_t collateral_source_keys(struct collateral_source *s, struct collateral_source_key *keys,
			      size_t max)
{
	pthread_mutex_lock(&s->mu);
	size_t n = s->n;
	for (size_t i = 0; i < n && i < max; i++)
		keys[i] = s->e[i]->key;
	pthread_mutex_unlock(&s->mu);
	return n;
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
		collateral_fmspc_hex(key, fm);
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
	out->http_requests = collateral_pccs_requests(&s->pccs);
}
