/*
 * collateral_source.h — where DCAP collateral comes from: a PCCS / Intel PCS v4
 * client (libcurl), an on-disk cache keyed by FMSPC and CA type, and a background
 * refresh that renews collateral well before it expires and keeps the cached copy
 * in use until it really expires, then fails closed. Lives in src/collateral because it
 * does I/O (src/attest stays pure). Never reports more of a URL than its origin.
 * spec: attestation §2.1, §2.2, §2.5; deployment-and-users §3 row 12;
 *       kms-protocol §14 ([core.attestation]).
 */
#ifndef COLLATERAL_SOURCE_H
#define COLLATERAL_SOURCE_H

#include "attest/dcap.h"
#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define COLLATERAL_SOURCE_DEFAULT_PCCS "https://pccs.phala.network"
/* How a "not fetched in time" message of collateral_source_get_cached starts. */
#define COLLATERAL_SOURCE_BUSY "busy"

/* Which PCK CA issued the PCK leaf: selects the PCK CRL (attestation §2.1). */
enum collateral_source_ca {
	COLLATERAL_SOURCE_CA_PLATFORM = 0,
	COLLATERAL_SOURCE_CA_PROCESSOR = 1,
};

/* A cache key: the platform's FMSPC and the PCK CA type. */
struct collateral_source_key {
	uint8_t fmspc[6];
	enum collateral_source_ca ca;
};

/* "platform" / "processor". */
const char *collateral_source_ca_name(enum collateral_source_ca ca);

/* FMSPC (PCK leaf SGX extension .4) and CA type (leaf issuer CN contains
 * "Platform" → platform, otherwise processor) of a PEM chain, leaf first. */
int collateral_source_pem_key(const char *pem, size_t len, struct collateral_source_key *key,
			      struct err *err);
/* The same for a TDX quote (its certification data must hold the PEM chain). */
int collateral_source_quote_key(const uint8_t *quote, size_t len, struct collateral_source_key *key,
				struct err *err);

/* A PCCS base URL as the source wants it: http(s)://, without trailing '/'
 * and without a trailing /sgx|tdx/certification/v4 (attestation §2.1). `what`
 * names the setting in messages ("<what> must be an http:// or https:// URL"). */
int collateral_pccs_url_normalize(const char *what, const char *url, char *out, size_t outlen,
				  struct err *err);

struct collateral_source_opts {
	/* PCCS base URL (normalised here: collateral_pccs_url_normalize).
	 * NULL or "" = COLLATERAL_SOURCE_DEFAULT_PCCS. */
	const char *pccs_url;
	/* Where to get the root CA CRL as DER when the PCCS route fails. NULL = the
	 * CRL distribution point of the trust anchor (Intel PCS form). */
	const char *root_crl_url;
	/* The verifier's trust anchor (DER); NULL = the pinned Intel root. Used for
	 * its CRL distribution point and to check a PCK chain before fetching. */
	const uint8_t *anchor_der;
	size_t anchor_len;
	/* Cache directory (created 0750 if missing; refused when writable by its
	 * group or others); NULL or "" = memory only. It also holds the rollback
	 * marks, tcb-eval-marks.json (without it they are kept in memory only). */
	const char *cache_dir;
	const char *ca_file;	   /* TLS trust store for the PCCS (PEM file); NULL = system */
	const char *proxy;	   /* NULL = no proxy */
	long connect_timeout_ms;   /* per request; 0 = 5000 */
	long timeout_ms;	   /* per request, whole exchange; 0 = 20000 */
	size_t max_response_bytes; /* per response; 0 = 4 MiB */
	/* Refresh at 3/4 of the remaining validity, but no later than
	 * `refresh_margin_s` before expiry (0 = 2 days), and not more often than
	 * every `min_refresh_interval_s` (0 = 1 hour). */
	int64_t refresh_margin_s;
	int64_t min_refresh_interval_s;
	/* Failed refreshes retry after retry_min_s, doubling up to retry_max_s
	 * (0 = 60 s / 1 hour); a 429/503 Retry-After is honoured within that cap. */
	int64_t retry_min_s;
	int64_t retry_max_s;
	/* After a failed fetch on the request path, requests for the same key get
	 * the same error without a new fetch for this long (0 = 5 s; < 0 = none). */
	int64_t fail_cooldown_s;
	size_t max_keys; /* distinct FMSPC/CA keys kept (0 = 64) */
	/* Background thread: longest sleep between checks (0 = 60000 ms). */
	long poll_interval_ms;
	/* Wall clock in Unix seconds for fetch times and refresh scheduling;
	 * NULL = time(). Verification times are the `now` arguments. */
	int64_t (*clock)(void *arg);
	void *clock_arg;
};

struct collateral_source;

/* The verifier is borrowed: it must outlive the source. Nothing is fetched
 * here; the cache directory is created if missing (failure is an error) and
 * its rollback marks file is read: an unreadable or corrupt one is an error
 * naming the file (the marks are never reset silently).
 *
 * Rollback protection: collateral whose TCB info tcbEvaluationDataNumber is
 * below the highest accepted before for its FMSPC, or whose QE identity
 * number is below the highest QE identity number accepted before, is refused
 * ("collateral rollback: ..."), from the PCCS and from the cache directory
 * alike; equal numbers pass. The marks rise only when collateral that
 * verified is installed. A refused PCCS answer is not written to the cache. */
struct collateral_source *collateral_source_new(const struct collateral_source_opts *o,
						const struct dcap_verifier *v, struct err *err);
/* Stops the refresh thread (if running) and frees everything. */
void collateral_source_free(struct collateral_source *s);

/*
 * Loaded, verified collateral for the quote's FMSPC and CA type, valid at
 * `now`: memory → disk cache → PCCS. Fetches are single-flight per key (other
 * callers wait for the one in progress); a PCCS fetch happens only for a quote
 * whose PCK chain leads to the trust anchor. On success *out holds a reference
 * (dcap_loaded_release it). Fails closed with a message naming the FMSPC, the
 * PCCS origin and the expiry time when the cached collateral has expired and
 * cannot be renewed.
 */
int collateral_source_get(struct collateral_source *s, const uint8_t *quote, size_t len,
			  int64_t now, struct dcap_loaded **out, struct err *err);
/*
 * The request path: collateral from the cache only, never fetched in the
 * caller's thread. Memory, then (once per key) the cache directory; on a miss
 * the quote's PCK chain must lead to the trust anchor, then the background
 * refresher is asked to fetch the key (single flight: a fetch in progress is
 * shared) and the caller waits for its outcome at most wait_ms. Fails with a
 * message starting "busy: " when the fetch is not done in time, with the
 * fetch's error when it failed (and, for fail_cooldown_s after that, without
 * asking again), and when the refresher is not running (collateral_source_start).
 */
int collateral_source_get_cached(struct collateral_source *s, const uint8_t *quote, size_t len,
				 int64_t now, long wait_ms, struct dcap_loaded **out,
				 struct err *err);
/* The same as collateral_source_get for a known key (no PCK chain check before fetching). */
int collateral_source_get_key(struct collateral_source *s, const struct collateral_source_key *key,
			      int64_t now, struct dcap_loaded **out, struct err *err);

/* Background refresh: a thread that renews every known key when due (see the
 * opts) with bounded retry/backoff. start registers the keys found in the cache
 * directory. stop may wait for a fetch in progress (bounded by the timeouts). */
int collateral_source_start(struct collateral_source *s, struct err *err);
void collateral_source_stop(struct collateral_source *s);
/* Wakes the thread for an immediate check (e.g. after moving a test clock). */
void collateral_source_kick(struct collateral_source *s);
/* One refresh pass at clock time `t`, in the caller's thread: renews every key
 * whose refresh time has come. Returns the number of keys attempted. */
int collateral_source_refresh_due(struct collateral_source *s, int64_t t);

/* What the source holds for a key (for logs, metrics and tests). */
struct collateral_source_info {
	int present;	    /* collateral held in memory (maybe expired) */
	int usable;	    /* loaded and within [valid_from, valid_until] of `now` */
	int64_t fetched_at; /* clock time it was fetched (file mtime if pre-filled) */
	int64_t valid_from, valid_until;
	int64_t next_refresh;	  /* clock time of the next refresh attempt */
	int root_crl_from_cdp;	  /* the root CA CRL came from the distribution point */
	int from_disk;		  /* loaded from the cache directory */
	int64_t failures;	  /* consecutive failed fetches */
	char origin[256];	  /* scheme://host:port it came from, or "file" */
	char last_error[ERR_MAX]; /* why the last fetch failed or was refused; "" = none */
};
int collateral_source_info(struct collateral_source *s, const struct collateral_source_key *key,
			   int64_t now, struct collateral_source_info *out);
/* The keys the source holds an entry for (up to max, in no set order);
 * returns how many there are in all. */
size_t collateral_source_keys(struct collateral_source *s, struct collateral_source_key *keys,
			      size_t max);

/* The collateral held for a key as dcap-qvl's QuoteCollateralV3 JSON (appended
 * to out), e.g. to pre-fill another cache or for `--collateral`. */
int collateral_source_export(struct collateral_source *s, const struct collateral_source_key *key,
			     struct buf *out, struct err *err);

struct collateral_source_stats {
	uint64_t memory_hits;	 /* get served from memory */
	uint64_t disk_loads;	 /* collateral loaded from the cache directory */
	uint64_t fetches;	 /* successful PCCS fetches (request path and refresh) */
	uint64_t fetch_failures; /* failed PCCS fetches */
	uint64_t refreshes;	 /* refresh attempts */
	uint64_t http_requests;	 /* HTTP requests sent */
};
void collateral_source_stats(struct collateral_source *s, struct collateral_source_stats *out);

/* The cache file name of a key: "tdx-<FMSPC upper hex>-<platform|processor>.json".
 * A file of that name may also hold plain QuoteCollateralV3 JSON (pre-filled
 * for air-gapped use). */
int collateral_source_file_name(const struct collateral_source_key *key, char *out, size_t outlen);

#endif
