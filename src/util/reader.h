/*
 * reader.h — the bounded reader every parser of untrusted bytes goes through.
 *
 * A reader is a window over a byte buffer with a cursor; every read checks the
 * remaining length first and fails (returns -1, cursor unchanged) instead of
 * reading past the end. Parsers turn a -1 into a message that names the field.
 */
#ifndef UTIL_READER_H
#define UTIL_READER_H

#include <stddef.h>
#include <stdint.h>

struct reader {
	const uint8_t *p;
	size_t len;
	size_t off;
};

static inline void reader_init(struct reader *r, const void *p, size_t len)
{
	r->p = (const uint8_t *)p;
	r->len = len;
	r->off = 0;
}

static inline size_t rd_left(const struct reader *r)
{
	return r->len - r->off;
}

int rd_u8(struct reader *r, uint8_t *v);
int rd_u16le(struct reader *r, uint16_t *v);
int rd_u32le(struct reader *r, uint32_t *v);
int rd_u64le(struct reader *r, uint64_t *v);
int rd_u16be(struct reader *r, uint16_t *v);
int rd_u32be(struct reader *r, uint32_t *v);
/* Point *out at the next n bytes (no copy) and advance. */
int rd_bytes(struct reader *r, size_t n, const uint8_t **out);
/* Copy the next n bytes into dst and advance. */
int rd_copy(struct reader *r, void *dst, size_t n);
int rd_skip(struct reader *r, size_t n);
/* A sub-reader over the next n bytes; the parent advances past them. */
int rd_sub(struct reader *r, size_t n, struct reader *sub);

#endif
