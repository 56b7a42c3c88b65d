/*
 * msgpack.c — bounded MessagePack pull decoder and small encoder (msgpack.h).
 *
 * Every multi-byte length is read big-endian through the reader and checked
 * against the bytes left before it is used; nothing is allocated, so a
 * hostile count can cost at most one pass over the input. The encoder picks
 * the shortest form for every integer and length, as rmp does.
 * spec: kms-protocol §9.1 (V1 attestation), §7.5 (APP_INFO).
 */
#include "util/utf8.h"
#include "attest/msgpack.h"

#include "attest/scale.h"

#include <string.h>

static int truncated(struct err *err)
{
	return err_set(err, "msgpack: truncated input");
}

static int rd_be(struct reader *r, size_t n, uint64_t *v)
{
	const uint8_t *p;
	if (rd_bytes(r, n, &p) < 0)
		return -1;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++)
		x = x << 8 | p[i];
	*v = x;
	return 0;
}

/* Body of str/bin: n bytes pointed to in place. */
static int body(struct reader *r, uint64_t n, struct mp_item *it, struct err *err)
{
	if (n > rd_left(r))
		return truncated(err);
	it->len = (size_t)n;
	if (rd_bytes(r, it->len, &it->p) < 0)
		return truncated(err);
	return 0;
}

static int container(struct reader *r, uint64_t n, enum mp_type t, struct mp_item *it,
		     struct err *err)
{
	size_t min = t == MP_MAP ? 2 : 1;
	if (n > rd_left(r) / min)
		return err_set(err, "msgpack: %s count %llu exceeds the remaining input",
			       t == MP_MAP ? "map" : "array", (unsigned long long)n);
	it->type = t;
	it->len = (size_t)n;
	return 0;
}

static int ext(struct reader *r, uint64_t n, struct mp_item *it, struct err *err)
{
	uint8_t type;
	if (rd_u8(r, &type) < 0)
		return truncated(err);
	it->type = MP_EXT;
	return body(r, n, it, err);
}

int mp_next(struct reader *r, struct mp_item *it, struct err *err)
{
	uint8_t c;
	uint64_t n;
	memset(it, 0, sizeof *it);
	if (rd_u8(r, &c) < 0)
		return truncated(err);
	if (c <= 0x7f) {
		it->type = MP_UINT;
		it->u = c;
		return 0;
	}
	if (c >= 0xe0) {
		it->type = MP_NEGINT;
		it->i = (int8_t)c;
		return 0;
	}
	if (c <= 0x8f)
		return container(r, c & 0x0f, MP_MAP, it, err);
	if (c <= 0x9f)
		return container(r, c & 0x0f, MP_ARRAY, it, err);
	if (c <= 0xbf) {
		it->type = MP_STR;
		return body(r, c & 0x1f, it, err);
	}
	switch (c) {
	case 0xc0:
		it->type = MP_NIL;
		return 0;
	case 0xc2:
	case 0xc3:
		it->type = MP_BOOL;
		it->b = c == 0xc3;
		return 0;
	case 0xc4:
	case 0xc5:
	case 0xc6:
		if (rd_be(r, (size_t)1 << (c - 0xc4), &n) < 0)
			return truncated(err);
		it->type = MP_BIN;
		return body(r, n, it, err);
	case 0xc7:
	case 0xc8:
	case 0xc9:
		if (rd_be(r, (size_t)1 << (c - 0xc7), &n) < 0)
			return truncated(err);
		return ext(r, n, it, err);
	case 0xca:
	case 0xcb:
		it->type = MP_FLOAT;
		if (rd_skip(r, c == 0xca ? 4 : 8) < 0)
			return truncated(err);
		return 0;
	case 0xcc:
	case 0xcd:
	case 0xce:
	case 0xcf:
		if (rd_be(r, (size_t)1 << (c - 0xcc), &n) < 0)
			return truncated(err);
		it->type = MP_UINT;
		it->u = n;
		return 0;
	case 0xd0:
	case 0xd1:
	case 0xd2:
	case 0xd3: {
		size_t w = (size_t)1 << (c - 0xd0);
		if (rd_be(r, w, &n) < 0)
			return truncated(err);
		/* Sign-extend the w-byte two's complement value. */
		int64_t v;
		if (w < 8 && (n >> (8 * w - 1)) & 1)
			v = (int64_t)(n | ~((UINT64_C(1) << (8 * w)) - 1));
		else
			v = (int64_t)n;
		if (v >= 0) {
			it->type = MP_UINT;
			it->u = (uint64_t)v;
		} else {
			it->type = MP_NEGINT;
			it->i = v;
		}
		return 0;
	}
	case 0xd4:
	case 0xd5:
	case 0xd6:
	case 0xd7:
	case 0xd8:
		return ext(r, (uint64_t)1 << (c - 0xd4), it, err);
	case 0xd9:
	case 0xda:
	case 0xdb:
		if (rd_be(r, (size_t)1 << (c - 0xd9), &n) < 0)
			return truncated(err);
		it->type = MP_STR;
		return body(r, n, it, err);
	case 0xdc:
	case 0xdd:
		if (rd_be(r, c == 0xdc ? 2 : 4, &n) < 0)
			return truncated(err);
		return container(r, n, MP_ARRAY, it, err);
	case 0xde:
	case 0xdf:
		if (rd_be(r, c == 0xde ? 2 : 4, &n) < 0)
			return truncated(err);
		return container(r, n, MP_MAP, it, err);
	default: /* 0xc1 is never used */
		return err_set(err, "msgpack: invalid type byte 0x%02x", c);
	}
}

int mp_skip_items(struct reader *r, const struct mp_item *hdr, int depth, struct err *err)
{
	if (hdr->type != MP_ARRAY && hdr->type != MP_MAP)
		return 0;
	if (depth >= MP_MAX_DEPTH)
		return err_set(err, "msgpack: nesting deeper than %d", MP_MAX_DEPTH);
	size_t n = hdr->len;
	for (size_t k = 0; k < n; k++) {
		TRY(mp_skip(r, depth + 1, err));
		if (hdr->type == MP_MAP)
			TRY(mp_skip(r, depth + 1, err));
	}
	return 0;
}

int mp_skip(struct reader *r, int depth, struct err *err)
{
	struct mp_item it;
	if (depth > MP_MAX_DEPTH)
		return err_set(err, "msgpack: nesting deeper than %d", MP_MAX_DEPTH);
	TRY(mp_next(r, &it, err));
	return mp_skip_items(r, &it, depth, err);
}

static const char *type_name(enum mp_type t)
{
	static const char *const names[] = {"nil", "bool", "uint",  "negative int", "float",
					    "str", "bin",  "array", "map",	    "ext"};
	return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

static int expect(struct reader *r, enum mp_type t, struct mp_item *it, struct err *err)
{
	TRY(mp_next(r, it, err));
	if (it->type != t)
		return err_set(err, "msgpack: expected %s, found %s", type_name(t),
			       type_name(it->type));
	return 0;
}

int mp_read_uint(struct reader *r, uint64_t *v, struct err *err)
{
	struct mp_item it;
	TRY(expect(r, MP_UINT, &it, err));
	*v = it.u;
	return 0;
}

int mp_read_bool(struct reader *r, int *v, struct err *err)
{
	struct mp_item it;
	TRY(expect(r, MP_BOOL, &it, err));
	*v = it.b;
	return 0;
}

int mp_read_str(struct reader *r, const char **s, size_t *n, struct err *err)
{
	struct mp_item it;
	TRY(expect(r, MP_STR, &it, err));
	if (!utf8_valid(it.p, it.len))
		return err_set(err, "msgpack: string is not valid UTF-8");
	*s = (const char *)it.p;
	*n = it.len;
	return 0;
}

int mp_read_array(struct reader *r, size_t *count, struct err *err)
{
	struct mp_item it;
	TRY(expect(r, MP_ARRAY, &it, err));
	*count = it.len;
	return 0;
}

int mp_read_map(struct reader *r, size_t *count, struct err *err)
{
	struct mp_item it;
	TRY(expect(r, MP_MAP, &it, err));
	*count = it.len;
	return 0;
}

int mp_next_is_nil(struct reader *r, int *is_nil, struct err *err)
{
	if (rd_left(r) == 0)
		return truncated(err);
	*is_nil = r->p[r->off] == 0xc0;
	if (*is_nil)
		r->off++;
	return 0;
}

/* ---- encoder ---- */

static int put_be(struct buf *b, uint8_t tag, uint64_t v, size_t n)
{
	uint8_t out[9];
	out[0] = tag;
	for (size_t i = 0; i < n; i++)
		out[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	return buf_append(b, out, 1 + n);
}

int mp_put_nil(struct buf *b)
{
	return buf_append_byte(b, 0xc0);
}

int mp_put_bool(struct buf *b, int v)
{
	return buf_append_byte(b, v ? 0xc3 : 0xc2);
}

int mp_put_uint(struct buf *b, uint64_t v)
{
	if (v < 0x80)
		return buf_append_byte(b, (uint8_t)v);
	if (v <= 0xff)
		return put_be(b, 0xcc, v, 1);
	if (v <= 0xffff)
		return put_be(b, 0xcd, v, 2);
	if (v <= 0xffffffffu)
		return put_be(b, 0xce, v, 4);
	return put_be(b, 0xcf, v, 8);
}

static int put_len(struct buf *b, size_t n, uint8_t fix, size_t fix_max, uint8_t t8, uint8_t t16,
		   uint8_t t32)
{
	if (n <= fix_max)
		return buf_append_byte(b, (uint8_t)(fix | n));
	if (t8 && n <= 0xff)
		return put_be(b, t8, n, 1);
	if (n <= 0xffff)
		return put_be(b, t16, n, 2);
	if ((uint64_t)n > 0xffffffffu)
		return -1;
	return put_be(b, t32, n, 4);
}

int mp_put_str(struct buf *b, const char *s, size_t n)
{
	if (put_len(b, n, 0xa0, 31, 0xd9, 0xda, 0xdb) < 0)
		return -1;
	return buf_append(b, s, n);
}

int mp_put_bin(struct buf *b, const void *p, size_t n)
{
	/* bin has no fix form: bin8 from length 0. */
	int rc;
	if (n <= 0xff)
		rc = put_be(b, 0xc4, n, 1);
	else if (n <= 0xffff)
		rc = put_be(b, 0xc5, n, 2);
	else if ((uint64_t)n <= 0xffffffffu)
		rc = put_be(b, 0xc6, n, 4);
	else
		rc = -1;
	if (rc < 0)
		return -1;
	return buf_append(b, p, n);
}

int mp_put_array(struct buf *b, size_t count)
{
	return put_len(b, count, 0x90, 15, 0, 0xdc, 0xdd);
}

int mp_put_map(struct buf *b, size_t count)
{
	return put_len(b, count, 0x80, 15, 0, 0xde, 0xdf);
}

int mp_put_u8_array(struct buf *b, const uint8_t *p, size_t n)
{
	if (mp_put_array(b, n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (mp_put_uint(b, p[i]) < 0)
			return -1;
	return 0;
}
