/*
 * reader.c — bounds-checked reads for reader.h. No read ever passes r->len.
 */
#include "util/reader.h"

#include <string.h>

int rd_bytes(struct reader *r, size_t n, const uint8_t **out)
{
	if (r->off > r->len || n > r->len - r->off)
		return -1;
	*out = r->p + r->off;
	r->off += n;
	return 0;
}

int rd_copy(struct reader *r, void *dst, size_t n)
{
	const uint8_t *p;
	if (rd_bytes(r, n, &p) < 0)
		return -1;
	if (n)
		memcpy(dst, p, n);
	return 0;
}

int rd_skip(struct reader *r, size_t n)
{
	const uint8_t *p;
	return rd_bytes(r, n, &p);
}

int rd_sub(struct reader *r, size_t n, struct reader *sub)
{
	const uint8_t *p;
	if (rd_bytes(r, n, &p) < 0)
		return -1;
	reader_init(sub, p, n);
	return 0;
}

int rd_u8(struct reader *r, uint8_t *v)
{
	return rd_copy(r, v, 1);
}

static int rd_uint(struct reader *r, size_t n, int big_endian, uint64_t *v)
{
	const uint8_t *p;
	if (rd_bytes(r, n, &p) < 0)
		return -1;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		size_t idx = big_endian ? i : n - 1 - i;
		x = (x << 8) | p[idx];
	}
	*v = x;
	return 0;
}

int rd_u16le(struct reader *r, uint16_t *v)
{
	uint64_t x;
	if (rd_uint(r, 2, 0, &x) < 0)
		return -1;
	*v = (uint16_t)x;
	return 0;
}

int rd_u32le(struct reader *r, uint32_t *v)
{
	uint64_t x;
	if (rd_uint(r, 4, 0, &x) < 0)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

int rd_u64le(struct reader *r, uint64_t *v)
{
	return rd_uint(r, 8, 0, v);
}

int rd_u16be(struct reader *r, uint16_t *v)
{
	uint64_t x;
	if (rd_uint(r, 2, 1, &x) < 0)
		return -1;
	*v = (uint16_t)x;
	return 0;
}

int rd_u32be(struct reader *r, uint32_t *v)
{
	uint64_t x;
	if (rd_uint(r, 4, 1, &x) < 0)
		return -1;
	*v = (uint32_t)x;
	return 0;
}
