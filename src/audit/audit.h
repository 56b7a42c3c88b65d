/*
 * audit.h — the release log: one JSON line per key-release decision
 * (GetAppKey, GetKmsKey, SignCert; allowed, denied or error), hash-chained
 * and fsync'd before the keys leave the process.
 *
 * Line format (compact JSON, keys in this order, one line, LF-terminated):
 *   {"seq":N,"time":"2026-12-05T21:00:00Z","method":"GetAppKey",
 *    "app_id":"<hex>","instance_id":"<hex>","device_id":"<hex>",
 *    "compose_hash":"<hex>","os_image_hash":"<hex>","tcb_status":"UpToDate",
 *    "decision":"allowed|denied|error","reason":"…",
 *    "caller_cert_sha256":"<hex>","prev":"<hex SHA-256 of the previous line>"}
 * seq starts at 1 and grows by one; prev of the first line is 64 zeros; the
 * hash of a line covers its bytes without the LF. Never key material.
 *
 * Appends are group-committed: concurrent callers queue their lines, one of
 * them writes the batch and fsyncs once, and every caller learns the result.
 * A failed write is cut back to the last good offset, so the file never
 * holds a partial line written by a running KMS. Thread-safe. Blocking: call
 * it from a blocking-pool thread, never from an event loop.
 */
#ifndef AUDIT_AUDIT_H
#define AUDIT_AUDIT_H

#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define AUDIT_MAX_LINE (16 * 1024)

struct audit_record {
	const char *method;
	const char *app_id, *instance_id, *device_id, *compose_hash, *os_image_hash;
	const char *tcb_status;
	const char *decision; /* "allowed", "denied" or "error" */
	const char *reason;
	const char *caller_cert_sha256;
}; /* NULL fields are written as "" */

struct audit_log;

/*
 * Opens path for append (created 0640 when missing; must be a regular file),
 * verifies the chain already in it and continues from its last complete
 * line. A torn last line (no LF, or not a valid entry) is cut off with a
 * warning naming the offset; a chain broken before the last line refuses
 * the open (an edited log is never silently extended). Messages name path.
 * A log over 128 KiB is checked at open over its last 64 KiB only (the
 * chain continues from the first line there), so start-up time and memory
 * do not grow with the log; a thread checks the lines before them meanwhile
 * (audit_check_state), and if they do not verify, or do not lead to that
 * line, every later append is refused with the reason.
 */
struct audit_log *audit_open(const char *path, struct err *err);
void audit_close(struct audit_log *a); /* NULL is fine; stops that thread */

enum { AUDIT_CHECK_OK, AUDIT_CHECK_RUNNING, AUDIT_CHECK_BROKEN };
/* The state of that check; for BROKEN, why (the refusal message) too. */
int audit_check_state(struct audit_log *a, char *why, size_t whylen);

/*
 * Appends r; returns once the line is on disk (0) or could not be written
 * (-1, "release log <path>: write failed: No space left on device"). On
 * success *seq_out / chain_out (hex SHA-256 of the line) describe it, and a
 * journal line "release seq=N chain=<hex> method=… decision=…" is logged.
 */
int audit_append(struct audit_log *a, const struct audit_record *r, uint64_t *seq_out,
		 char chain_out[65], struct err *err);

/* Number of fsyncs so far (group commit makes it smaller than the lines). */
uint64_t audit_fsync_count(const struct audit_log *a);

struct audit_verify {
	uint64_t lines;	   /* complete, chained lines before the first problem */
	uint64_t last_seq; /* seq of the last good line (0 when none) */
	char head[65];	   /* hex SHA-256 of the last good line ("" when none) */
	uint64_t bad_line; /* 1-based line number of the first problem; 0 = none */
	char reason[256];  /* why bad_line is bad */
	int torn_tail;	   /* the problem is an unterminated last line */
};

/*
 * Checks a whole log, in bounded memory: every line parses, seq runs 1, 2, 3 … (a gap is a
 * missing line), prev equals the hash of the line before (an edited or
 * removed line breaks it). Returns 0 when the file is entirely good, 1 with
 * res->bad_line / reason set when it is not, -1 when it cannot be read.
 */
int audit_verify_file(const char *path, struct audit_verify *res, struct err *err);

/* The same over bytes in memory (used by audit_open and the fuzz target). */
int audit_verify_buf(const uint8_t *p, size_t n, struct audit_verify *res);

#endif
