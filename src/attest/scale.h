/*
 * scale.h — SCALE (parity-scale-codec) primitives: compact integers, u32/u64,
 * bool, Option tags, Vec<u8> and String, decoding and encoding.
 *
 * Decoders read only through util/reader.h and accept canonical input only:
 * a compact integer must use its shortest form, a bool is 0 or 1, an Option
 * tag is 0 or 1, a String is valid UTF-8. A length is never trusted beyond
 * the bytes actually left in the reader. Pure functions, no allocation.
 * spec: kms-protocol §8 (primitives), §9.1 (V0 attestation).
 */
#ifndef ATTEST_SCALE_H
#define ATTEST_SCALE_H

#include "util/buf.h"
#include "util/err.h"
#include "util/reader.h"

#include <stddef.h>
#include <stdint.h>

/* Compact<u64>: 1, 2, 4 or 5..9 bytes, shortest form only. */
int scale_compact_u64(struct reader *r, uint64_t *v, struct err *err);
/* Compact<u32> (every SCALE length prefix): as above, at most 5 bytes. */
int scale_compact_u32(struct reader *r, uint32_t *v, struct err *err);
/* A Vec/String length: Compact<u32> that must also fit in the bytes left
 * when each element takes at least min_elem_size bytes (min_elem_size >= 1). */
int scale_len(struct reader *r, size_t min_elem_size, size_t *n, struct err *err);

int scale_u8(struct reader *r, uint8_t *v, struct err *err);
int scale_u32(struct reader *r, uint32_t *v, struct err *err);
int scale_u64(struct reader *r, uint64_t *v, struct err *err);
/* bool: exactly 0x00 or 0x01. */
int scale_bool(struct reader *r, int *v, struct err *err);
/* Option<T> tag: 0x00 → *present = 0, 0x01 → *present = 1, else an error. */
int scale_option(struct reader *r, int *present, struct err *err);
/* Vec<u8>: compact length then bytes; *p points into the reader's buffer. */
int scale_bytes(struct reader *r, const uint8_t **p, size_t *n, struct err *err);
/* String: like scale_bytes, and the bytes must be valid UTF-8 (NUL allowed,
 * as in Rust). *s is NOT NUL-terminated. */
int scale_string(struct reader *r, const char **s, size_t *n, struct err *err);

/* Encoders append to b and return 0, or -1 when out of memory. */
int scale_put_compact(struct buf *b, uint64_t v);
int scale_put_u32(struct buf *b, uint32_t v);
int scale_put_u64(struct buf *b, uint64_t v);
int scale_put_bool(struct buf *b, int v);
int scale_put_bytes(struct buf *b, const void *p, size_t n);

#endif
