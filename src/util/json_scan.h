/*
 * json_scan.h — the one hand-written JSON scanner, for what jansson cannot
 * do: give the exact bytes of a value as they stand in the text. A PCCS signs
 * the bytes of "tcbInfo" / "enclaveIdentity" as it sent them; a parse and
 * re-serialisation would change spacing, key order or number forms and break
 * the signature, so the collateral code validates the answer with jansson and
 * then cuts the signed value out with this scanner. (Everything else that
 * reads JSON uses jansson.) Fuzzed by tests/fuzz/fuzz_json_scan.c.
 */
#ifndef UTIL_JSON_SCAN_H
#define UTIL_JSON_SCAN_H

#include <stddef.h>

/* Offset and length of the raw value of the top-level member `key` of the
 * JSON object text p[0..n): the first member of that name, whitespace around
 * the value excluded. 0, or -1 when the text is not an object the scanner can
 * follow or has no such member. Validate the text first (jansson): the
 * scanner finds bounds, it does not check grammar. */
int json_scan_cut(const char *p, size_t n, const char *key, size_t *off, size_t *len);

#endif
