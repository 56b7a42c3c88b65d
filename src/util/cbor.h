/*
 * cbor.h — a bounded reader for the subset of CBOR (RFC 8949) that serde
 * documents use: unsigned/negative integers, byte and text strings, arrays,
 * maps, tags and simple values, all of definite length.
 *
 * Every read goes through the bounded reader; nesting is limited to
 * CBOR_MAX_DEPTH. Indefinite lengths (additional info 31) and the reserved
 * additional-info values 28-30 are refused with a message naming them.
 */
#ifndef UTIL_CBOR_H
#define UTIL_CBOR_H

#include "util/err.h"
#include "util/reader.h"

#include <stddef.h>
#include <stdint.h>

#define CBOR_MAX_DEPTH 16

enum cbor_major {
	CBOR_UINT = 0,
	CBOR_NEGINT = 1,
	CBOR_BYTES = 2,
	CBOR_TEXT = 3,
	CBOR_ARRAY = 4,
	CBOR_MAP = 5,
	CBOR_TAG = 6,
	CBOR_SIMPLE = 7,
};

/* The next item's major type and argument (length, count, value), cursor
 * advanced past the head only. */
int cbor_head(struct reader *r, int *major, uint64_t *arg, struct err *err);
/* Advances past one whole item (with its contents). */
int cbor_skip(struct reader *r, struct err *err);
/* Expect an item of this major type: an unsigned integer, a map/array
 * header (count in *n), or a byte/text string (pointer into the input). */
int cbor_uint(struct reader *r, uint64_t *v, struct err *err);
int cbor_map(struct reader *r, uint64_t *n, struct err *err);
int cbor_bytes(struct reader *r, const uint8_t **p, size_t *len, struct err *err);
int cbor_text(struct reader *r, const char **p, size_t *len, struct err *err);

/* 1 when the text item (p, len) equals the NUL-terminated s. */
int cbor_text_is(const char *p, size_t len, const char *s);

#endif
