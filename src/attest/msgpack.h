/*
 * msgpack.h — a bounded MessagePack subset: a pull decoder over a reader and
 * a small encoder.
 *
 * The decoder hands out one item at a time (mp_next): nil, bool, integers,
 * str/bin (pointing into the input, no copy), and array/map headers (the
 * element count; the caller reads the elements). Floats and ext values can
 * only be skipped (mp_skip), which is what serde does with unknown map keys.
 * Skipping is depth-limited (MP_MAX_DEPTH), so a nesting bomb fails cleanly.
 * Counts are never trusted: every element takes at least one input byte.
 * Never allocates. spec: kms-protocol §9.1 (V1), §7.5 (APP_INFO encoding).
 */
#ifndef ATTEST_MSGPACK_H
#define ATTEST_MSGPACK_H

#include "util/buf.h"
#include "util/err.h"
#include "util/reader.h"

#include <stddef.h>
#include <stdint.h>

#define MP_MAX_DEPTH 32

enum mp_type {
	MP_NIL,
	MP_BOOL,
	MP_UINT,   /* non-negative integer (any width, signed or unsigned form) */
	MP_NEGINT, /* negative integer */
	MP_FLOAT,  /* float32/float64: value not decoded */
	MP_STR,
	MP_BIN,
	MP_ARRAY,
	MP_MAP,
	MP_EXT, /* ext/fixext: payload skipped */
};

struct mp_item {
	enum mp_type type;
	int b;		  /* MP_BOOL */
	uint64_t u;	  /* MP_UINT */
	int64_t i;	  /* MP_NEGINT */
	const uint8_t *p; /* MP_STR / MP_BIN: bytes in the input */
	size_t len;	  /* MP_STR / MP_BIN: byte length; MP_ARRAY / MP_MAP: element count */
};

/* Read the next item header (and its str/bin/ext body). For arrays and maps
 * the count is checked against the bytes left (an array element takes at
 * least 1 byte, a map entry at least 2). */
int mp_next(struct reader *r, struct mp_item *it, struct err *err);
/* Skip one complete value of any type; depth counts nested arrays/maps and
 * fails beyond MP_MAX_DEPTH. */
int mp_skip(struct reader *r, int depth, struct err *err);
/* Skip the remaining elements of an already-read array/map header. */
int mp_skip_items(struct reader *r, const struct mp_item *hdr, int depth, struct err *err);

/* Convenience readers that fail unless the next item has the type. */
int mp_read_uint(struct reader *r, uint64_t *v, struct err *err);
int mp_read_bool(struct reader *r, int *v, struct err *err);
/* str that must also be valid UTF-8. */
int mp_read_str(struct reader *r, const char **s, size_t *n, struct err *err);
int mp_read_array(struct reader *r, size_t *count, struct err *err);
int mp_read_map(struct reader *r, size_t *count, struct err *err);
/* Peek whether the next item is nil (consumes it if so). */
int mp_next_is_nil(struct reader *r, int *is_nil, struct err *err);

/* Encoder: shortest forms, as rmp/rmp-serde write them. -1 on out of memory. */
int mp_put_nil(struct buf *b);
int mp_put_bool(struct buf *b, int v);
int mp_put_uint(struct buf *b, uint64_t v);
int mp_put_str(struct buf *b, const char *s, size_t n);
int mp_put_bin(struct buf *b, const void *p, size_t n);
int mp_put_array(struct buf *b, size_t count);
int mp_put_map(struct buf *b, size_t count);
/* A byte string as serde writes a plain Vec<u8>: an array of small uints. */
int mp_put_u8_array(struct buf *b, const uint8_t *p, size_t n);

#endif
