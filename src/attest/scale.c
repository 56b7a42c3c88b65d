/*
 * scale.c — SCALE primitives (scale.h).
 *
 * Canonical-only decoding mirrors parity-scale-codec: a compact integer in a
 * longer mode than needed is "out of range", so every value has exactly one
 * encoding and re-encoding a decoded struct gives back the received bytes.
 * Never reads past the reader; never allocates.
 * spec: kms-protocol §8, §9.1.
 */
#include "attest/scale.h"

#include "util/utf8.h"

#include <string.h>

static int truncated(struct err *err, const char *what)
{
	return err_set(err, "SCALE: truncated input reading %s", what);
}

int scale_compact_u64(struct reader *r, uint64_t *v, struct err *err)
{
	uint8_t b0;
	if (rd_u8(r, &b0) < 0)
		return truncated(err, "compact integer");
	switch (b0 & 3) {
	case 0:
		*v = b0 >> 2;
		return 0;
	case 1: {
		uint8_t b1;
		if (rd_u8(r, &b1) < 0)
			return truncated(err, "compact integer");
		uint64_t x = ((uint64_t)b0 | (uint64_t)b1 << 8) >> 2;
		if (x < 64)
			return err_set(err, "SCALE: non-canonical compact integer");
		*v = x;
		return 0;
	}
	case 2: {
		const uint8_t *p;
		if (rd_bytes(r, 3, &p) < 0)
			return truncated(err, "compact integer");
		uint64_t x = ((uint64_t)b0 | (uint64_t)p[0] << 8 | (uint64_t)p[1] << 16 |
			      (uint64_t)p[2] << 24) >>
			     2;
		if (x < (1u << 14))
			return err_set(err, "SCALE: non-canonical compact integer");
		*v = x;
		return 0;
	}
	default: {
		size_t n = (size_t)(b0 >> 2) + 4;
		if (n > 8)
			return err_set(err, "SCALE: compact integer out of range");
		const uint8_t *p;
		if (rd_bytes(r, n, &p) < 0)
			return truncated(err, "compact integer");
		uint64_t x = 0;
		for (size_t i = 0; i < n; i++)
			x |= (uint64_t)p[i] << (8 * i);
		/* Big-integer mode: at least 2^30, and no zero top byte. */
		if (n == 4 ? x < (1u << 30) : p[n - 1] == 0)
			return err_set(err, "SCALE: non-canonical compact integer");
		*v = x;
		return 0;
	}
	}
}

int scale_compact_u32(struct reader *r, uint32_t *v, struct err *err)
{
	size_t start = r->off;
	uint8_t b0;
	if (rd_u8(r, &b0) < 0)
		return truncated(err, "compact integer");
	r->off = start;
	/* Compact<u32> allows only the 4-byte big-integer form (prefix 0x03). */
	if ((b0 & 3) == 3 && b0 != 3)
		return err_set(err, "SCALE: compact integer out of range");
	uint64_t x = 0;
	TRY(scale_compact_u64(r, &x, err));
	*v = (uint32_t)x;
	return 0;
}

int scale_len(struct reader *r, size_t min_elem_size, size_t *n, struct err *err)
{
	uint32_t x = 0;
	TRY(scale_compact_u32(r, &x, err));
	if (min_elem_size == 0)
		min_elem_size = 1;
	if ((size_t)x > rd_left(r) / min_elem_size)
		return err_set(err, "SCALE: length %u exceeds the remaining input", x);
	*n = x;
	return 0;
}

int scale_u8(struct reader *r, uint8_t *v, struct err *err)
{
	if (rd_u8(r, v) < 0)
		return truncated(err, "u8");
	return 0;
}

int scale_u32(struct reader *r, uint32_t *v, struct err *err)
{
	if (rd_u32le(r, v) < 0)
		return truncated(err, "u32");
	return 0;
}

int scale_u64(struct reader *r, uint64_t *v, struct err *err)
{
	if (rd_u64le(r, v) < 0)
		return truncated(err, "u64");
	return 0;
}

int scale_bool(struct reader *r, int *v, struct err *err)
{
	uint8_t b;
	if (rd_u8(r, &b) < 0)
		return truncated(err, "bool");
	if (b > 1)
		return err_set(err, "SCALE: invalid bool byte 0x%02x", b);
	*v = b;
	return 0;
}

int scale_option(struct reader *r, int *present, struct err *err)
{
	uint8_t b;
	if (rd_u8(r, &b) < 0)
		return truncated(err, "Option tag");
	if (b > 1)
		return err_set(err, "SCALE: invalid Option tag 0x%02x", b);
	*present = b;
	return 0;
}

int scale_bytes(struct reader *r, const uint8_t **p, size_t *n, struct err *err)
{
	size_t len = 0;
	TRY(scale_len(r, 1, &len, err));
	if (rd_bytes(r, len, p) < 0)
		return truncated(err, "bytes");
	*n = len;
	return 0;
}

int scale_string(struct reader *r, const char **s, size_t *n, struct err *err)
{
	const uint8_t *p = NULL;
	size_t len = 0;
	TRY(scale_bytes(r, &p, &len, err));
	if (!utf8_valid(p, len))
		return err_set(err, "SCALE: string is not valid UTF-8");
	*s = (const char *)p;
	*n = len;
	return 0;
}

int scale_put_compact(struct buf *b, uint64_t v)
{
	uint8_t out[9];
	size_t n;
	if (v < 64) {
		out[0] = (uint8_t)(v << 2);
		n = 1;
	} else if (v < (1u << 14)) {
		uint16_t x = (uint16_t)(v << 2 | 1);
		out[0] = (uint8_t)x;
		out[1] = (uint8_t)(x >> 8);
		n = 2;
	} else if (v < (1u << 30)) {
		uint32_t x = (uint32_t)(v << 2 | 2);
		for (int i = 0; i < 4; i++)
			out[i] = (uint8_t)(x >> (8 * i));
		n = 4;
	} else {
		size_t bytes = 4;
		while (bytes < 8 && (v >> (8 * bytes)) != 0)
			bytes++;
		out[0] = (uint8_t)(((bytes - 4) << 2) | 3);
		for (size_t i = 0; i < bytes; i++)
			out[1 + i] = (uint8_t)(v >> (8 * i));
		n = 1 + bytes;
	}
	return buf_append(b, out, n);
}

int scale_put_u32(struct buf *b, uint32_t v)
{
	uint8_t out[4];
	for (int i = 0; i < 4; i++)
		out[i] = (uint8_t)(v >> (8 * i));
	return buf_append(b, out, 4);
}

int scale_put_u64(struct buf *b, uint64_t v)
{
	uint8_t out[8];
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (8 * i));
	return buf_append(b, out, 8);
}

int scale_put_bool(struct buf *b, int v)
{
	return buf_append_byte(b, v ? 1 : 0);
}

int scale_put_bytes(struct buf *b, const void *p, size_t n)
{
	if (scale_put_compact(b, n) < 0)
		return -1;
	return buf_append(b, p, n);
}
