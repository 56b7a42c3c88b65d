/*
 * json_scan.h — the one hand-written JSON scanner. Everything that reads
 * JSON uses jansson, except for the two things jansson cannot do:
 *
 *  1. prpc JSON (src/prpc/prpc_json.c) must read like serde_json, which
 *     upstream's KMS uses: integers up to u64::MAX (jansson stops at
 *     INT64_MAX), `-0`, fractions and exponents classified as floating
 *     point, serde_json's error texts with line and column, a 128-level
 *     recursion limit, and decoded strings in one wiped scratch buffer
 *     (requests may carry key material). The decoder maps values straight
 *     onto protobuf-c messages with the tokenizer below.
 *  2. A PCCS signs the exact bytes of "tcbInfo" / "enclaveIdentity" as it
 *     sent them; parsing and re-serialising would change spacing, key order
 *     or number forms and break the signature. json_scan_cut gives those
 *     bytes (the collateral code validates the answer with jansson first).
 *
 * Every read is bounded by the input length; nesting is bounded by the
 * depth given at init. Fuzzed by tests/fuzz/fuzz_json_scan.c (and, through
 * the prpc decoder, tests/fuzz/fuzz_prpc_json.c).
 */
#ifndef UTIL_JSON_SCAN_H
#define UTIL_JSON_SCAN_H

#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

struct json_scan {
	const unsigned char *s;
	size_t len, pos;
	int depth_left; /* levels of nesting still allowed (serde_json's remaining depth) */
	struct err *err;
	struct buf scratch; /* secret: the last string decoded into it */
};

/* A number token: sign, magnitude when it fits u64, and whether serde_json
 * would read it as floating point (fraction, exponent, -0, out of range). */
struct json_num {
	int neg, is_float;
	uint64_t mag;
	size_t start, end; /* the token's bytes */
};

/* Scans s[0..len) with at most max_depth levels of nesting; scratch is a
 * secret buffer (free with json_scan_done). */
void json_scan_init(struct json_scan *p, const void *s, size_t len, int max_depth, struct err *err);
void json_scan_done(struct json_scan *p);

/* "invalid JSON: <what> at line L column C" for the current position. -1. */
int json_scan_fail(struct json_scan *p, const char *what);
/* The same, or serde_json's EOF wording inside an object or a list. */
int json_scan_fail_in(struct json_scan *p, int in_object, const char *what);
/* Skips whitespace; the next byte, or -1 at the end. */
int json_scan_peek(struct json_scan *p);
/* One nesting level in ("recursion limit exceeded"); leave with depth_left++. */
int json_scan_enter(struct json_scan *p);
int json_scan_literal(struct json_scan *p, const char *lit);
int json_scan_is_digit(int c);
int json_scan_number(struct json_scan *p, struct json_num *n);
/* A string at the current '"': decoded UTF-8 appended to out, or only
 * validated when out is NULL. */
int json_scan_string(struct json_scan *p, struct buf *out);
/* Wipes and empties the scratch buffer. */
void json_scan_scratch_clear(struct json_scan *p);
/* Validates and passes over one whole value. */
int json_scan_skip(struct json_scan *p);

/* Offset and length of the raw value of the top-level member `key` of the
 * JSON object text p[0..n): the first member of that name (compared as raw
 * bytes), whitespace around the value excluded. 0, or -1 when the text is not
 * a valid object or has no such member. */
int json_scan_cut(const char *p, size_t n, const char *key, size_t *off, size_t *len);

#endif
