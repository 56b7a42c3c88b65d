/*
 * cbor.c — bounded CBOR reader (cbor.h).
 */
#include "util/cbor.h"

#include <string.h>

static const char *const MAJOR_NAME[8] = {
    "unsigned integer", "negative integer", "byte string", "text string", "array", "map", "tag",
    "simple value"};

int cbor_head(struct reader *r, int *major, uint64_t *arg, struct err *err)
{
	uint8_t b;
	size_t at = r->off;
	if (rd_u8(r, &b) < 0)
		return err_set(err, "CBOR truncated at byte %zu", at);
	int ai = b & 0x1f;
	*major = b >> 5;
	if (ai < 24) {
		*arg = (uint64_t)ai;
		return 0;
	}
	if (ai >= 28) {
		r->off = at;
		return err_set(err, "CBOR %s at byte %zu: %s are not supported", MAJOR_NAME[*major],
			       at, ai == 31 ? "indefinite lengths" : "reserved additional info");
	}
	int n = 1 << (ai - 24); /* 1, 2, 4 or 8 bytes */
	uint64_t v = 0;
	for (int i = 0; i < n; i++) {
		if (rd_u8(r, &b) < 0) {
			r->off = at;
			return err_set(err, "CBOR truncated at byte %zu", at);
		}
		v = v << 8 | b;
	}
	*arg = v;
	return 0;
}

static int skip_depth(struct reader *r, int depth, struct err *err)
{
	int major;
	uint64_t arg;
	size_t at = r->off;
	if (depth > CBOR_MAX_DEPTH)
		return err_set(err, "CBOR nested deeper than %d at byte %zu", CBOR_MAX_DEPTH, at);
	TRY(cbor_head(r, &major, &arg, err));
	switch (major) {
	case CBOR_BYTES:
	case CBOR_TEXT:
		if (arg > rd_left(r) || rd_skip(r, (size_t)arg) < 0)
			return err_set(err, "CBOR %s at byte %zu runs past the end",
				       MAJOR_NAME[major], at);
		return 0;
	case CBOR_ARRAY:
	case CBOR_MAP: {
		/* each element takes at least one byte: a count above what is left
		 * is refused before looping on it */
		uint64_t items = major == CBOR_MAP ? arg * 2 : arg;
		if (arg > rd_left(r) || items > rd_left(r))
			return err_set(err, "CBOR %s at byte %zu has more items than bytes",
				       MAJOR_NAME[major], at);
		for (uint64_t i = 0; i < items; i++)
			TRY(skip_depth(r, depth + 1, err));
		return 0;
	}
	case CBOR_TAG:
		return skip_depth(r, depth + 1, err);
	default: /* integers and simple values/floats: the head is the item */
		return 0;
	}
}

int cbor_skip(struct reader *r, struct err *err)
{
	return skip_depth(r, 0, err);
}

static int expect(struct reader *r, int want, uint64_t *arg, struct err *err)
{
	int major;
	size_t at = r->off;
	TRY(cbor_head(r, &major, arg, err));
	if (major != want) {
		r->off = at;
		return err_set(err, "CBOR byte %zu: expected a %s, found a %s", at,
			       MAJOR_NAME[want], MAJOR_NAME[major]);
	}
	return 0;
}

int cbor_uint(struct reader *r, uint64_t *v, struct err *err)
{
	return expect(r, CBOR_UINT, v, err);
}

int cbor_map(struct reader *r, uint64_t *n, struct err *err)
{
	size_t at = r->off;
	TRY(expect(r, CBOR_MAP, n, err));
	if (*n > rd_left(r) / 2) {
		r->off = at;
		return err_set(err, "CBOR map at byte %zu has more entries than bytes", at);
	}
	return 0;
}

static int string(struct reader *r, int major, const uint8_t **p, size_t *len, struct err *err)
{
	uint64_t n;
	size_t at = r->off;
	TRY(expect(r, major, &n, err));
	if (n > rd_left(r) || rd_bytes(r, (size_t)n, p) < 0) {
		r->off = at;
		return err_set(err, "CBOR %s at byte %zu runs past the end", MAJOR_NAME[major], at);
	}
	*len = (size_t)n;
	return 0;
}

int cbor_bytes(struct reader *r, const uint8_t **p, size_t *len, struct err *err)
{
	return string(r, CBOR_BYTES, p, len, err);
}

int cbor_text(struct reader *r, const char **p, size_t *len, struct err *err)
{
	return string(r, CBOR_TEXT, (const uint8_t **)p, len, err);
}

int cbor_text_is(const char *p, size_t len, const char *s)
{
	return strlen(s) == len && memcmp(p, s, len) == 0;
}
