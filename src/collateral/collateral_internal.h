/*
 * collateral_internal.h — the pieces of the collateral source, one concern per
 * file, shared only inside src/collateral:
 *   collateral_key.c    which collateral a PCK chain or quote needs (FMSPC, CA);
 *   collateral_pccs.c   the PCCS / Intel PCS client: the GETs, and cutting the
 *                       exact signed bytes out of the answers;
 *   collateral_disk.c   the cache directory's file format;
 *   collateral_marks.c  rollback protection: the highest tcbEvaluationDataNumber
 *                       accepted, per FMSPC and for the QE identity;
 *   collateral_source.c the in-memory cache and the background refresher.
 * Nothing here is part of the public API (collateral_source.h).
 */
#ifndef COLLATERAL_INTERNAL_H
#define COLLATERAL_INTERNAL_H

#include "attest/quote.h"
#include "collateral/collateral_source.h"

#include <openssl/x509.h>
#include <pthread.h>

#define COLLATERAL_URL_MAX 2048

/* ---- collateral_key.c ---- */

/* The FMSPC as 12 upper-case hex digits. */
void collateral_fmspc_hex(const struct collateral_source_key *k, char out[13]);
/* Parses the quote and finds its PCK chain (certification data type 5). */
int collateral_quote_pck_chain(const uint8_t *quote, size_t len, struct tdx_quote *q,
			       struct err *err);

/* ---- collateral_pccs.c ---- */

/* The PCCS answers as received (the disk cache keeps these, not a rebuilt
 * form, so a cached file is checked exactly like a fresh answer). */
struct collateral_raw {
	struct buf tcb_body, tcb_chain;
	struct buf qe_body, qe_chain;
	struct buf pck_crl, pck_crl_chain; /* DER */
	struct buf root_crl;		   /* DER */
	int root_crl_from_cdp;
	int64_t retry_after; /* seconds asked by a 429/503, 0 = none */
};
void collateral_raw_free(struct collateral_raw *r);

struct collateral_pccs {
	char base[COLLATERAL_URL_MAX]; /* normalised PCCS base URL */
	char origin[256];	       /* scheme://host:port of base, for messages */
	char cdp[COLLATERAL_URL_MAX];  /* root CA CRL distribution point; "" = none */
	char *ca_file, *proxy;
	long connect_ms, timeout_ms;
	size_t max_body;
	pthread_mutex_t mu; /* guards cdp_first and requests */
	int cdp_first;	    /* the distribution point answered last time */
	uint64_t requests;  /* HTTP requests sent */
};

/* Sets up the client from the options; anchor gives the default root CA CRL
 * distribution point. */
int collateral_pccs_init(struct collateral_pccs *p, const struct collateral_source_opts *o,
			 X509 *anchor, struct err *err);
void collateral_pccs_cleanup(struct collateral_pccs *p);
uint64_t collateral_pccs_requests(struct collateral_pccs *p);
/* The four GETs for a key on one keep-alive client; r is filled (and keeps
 * the Retry-After of a failure). */
int collateral_pccs_fetch(struct collateral_pccs *p, const struct collateral_source_key *key,
			  struct collateral_raw *r, struct err *err);
/* Collateral from raw answers: the signed tcbInfo / enclaveIdentity bytes cut
 * out of the bodies, the issuer chains checked to be PEM text, the TCB info's
 * FMSPC checked against the key. */
int collateral_raw_assemble(const struct collateral_raw *r, const struct collateral_source_key *key,
			    struct dcap_collateral *c, struct err *err);
/* tcbInfo.fmspc names the key's FMSPC. */
int collateral_check_fmspc(const char *tcb_info, size_t len,
			   const struct collateral_source_key *key, struct err *err);
/* Appends the percent-decoding of the NUL-terminated header value s (an
 * issuer chain such as TCB-Info-Issuer-Chain; '+' stays '+'); -1 on a bad
 * escape or out of memory. */
int collateral_pct_decode(const char *s, struct buf *out);
/* Appends a CRL body as DER: the body is DER, PEM or hex text of DER (a
 * PCCS's rootcacrl); `what` starts the error message. */
int collateral_crl_to_der(const uint8_t *p, size_t n, struct buf *out, const char *what,
			  struct err *err);

/* ---- collateral_disk.c ---- */

/* What is known about a collateral set besides its bytes. */
struct collateral_meta {
	char origin[256];
	int64_t fetched_at;
	int root_crl_from_cdp;
};

int collateral_disk_path(const char *dir, const struct collateral_source_key *key, char *out,
			 size_t outlen);
int collateral_disk_write(const char *dir, const struct collateral_source_key *key,
			  const struct collateral_raw *r, const struct collateral_meta *m,
			  struct err *err);
/* Reads the cache file of key into *c and *m (c initialised by the caller).
 * Returns 1 when there is no file, 0 when read, -1 for a corrupt or foreign
 * file (*err names the file). Loading (dates, signatures) is the caller's. */
int collateral_disk_read(const char *dir, const struct collateral_source_key *key,
			 struct dcap_collateral *c, struct collateral_meta *m, struct err *err);
/* "tdx-<12 hex>-<platform|processor>.json" (canonical form only) -> key. */
int collateral_disk_parse_name(const char *name, struct collateral_source_key *key);

/* ---- collateral_marks.c ---- */

/* The marks file in the cache directory. */
#define COLLATERAL_MARKS_FILE "tcb-eval-marks.json"
/* FMSPCs with a mark, at most (a full table refuses collateral of a new FMSPC). */
#define COLLATERAL_MARKS_MAX 1024

struct collateral_mark {
	uint8_t fmspc[6];
	uint32_t tcb; /* highest TCB info tcbEvaluationDataNumber accepted */
};

struct collateral_marks {
	struct collateral_mark *v;
	size_t n, cap;
	int have_qe;
	uint32_t qe; /* highest QE identity tcbEvaluationDataNumber accepted */
};

void collateral_marks_init(struct collateral_marks *m);
void collateral_marks_free(struct collateral_marks *m);
/* A deep copy into an uninitialised dst; -1 when out of memory. */
int collateral_marks_copy(struct collateral_marks *dst, const struct collateral_marks *src);
/* 0 when TCB info number tcb for fmspc and QE identity number qe are not below
 * the marks (equal passes); -1 with a "collateral rollback: ..." message. */
int collateral_marks_check(const struct collateral_marks *m, const uint8_t fmspc[6], uint32_t tcb,
			   uint32_t qe, struct err *err);
/* Raises the marks to tcb / qe: 1 when a mark rose (the file needs writing),
 * 0 when none did, -1 (nothing changed) when the table is full. */
int collateral_marks_raise(struct collateral_marks *m, const uint8_t fmspc[6], uint32_t tcb,
			   uint32_t qe, struct err *err);
int collateral_marks_path(const char *dir, char *out, size_t outlen);
/* Reads <dir>/tcb-eval-marks.json into m (initialised here). Returns 1 when
 * there is no file (no marks), 0 when read, -1 when it cannot be read or is
 * not exactly what collateral_marks_write writes (*err names the file). */
int collateral_marks_read(const char *dir, struct collateral_marks *m, struct err *err);
/* Writes the file atomically (temp, fsync, rename, fsync of the directory). */
int collateral_marks_write(const char *dir, const struct collateral_marks *m, struct err *err);

#endif
