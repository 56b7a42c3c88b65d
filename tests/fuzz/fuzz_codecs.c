/*
 * fuzz_codecs.c — libFuzzer target for the three binary codecs on their own:
 * CBOR (util/cbor.h, the lite image measurement), MessagePack
 * (attest/msgpack.h, V1 attestations and APP_INFO) and SCALE
 * (attest/scale.h, V0 attestations). fuzz_attestation and fuzz_image_lite
 * reach them only through their documents; here any item sequence is read.
 * Built and run by `make fuzz` / `make fuzz-smoke` with the other targets.
 *
 * The first input byte picks the codec (0 CBOR, 1 MessagePack, 2 SCALE).
 * Beyond "no crash, no read past the input" it checks: every read either
 * advances the cursor within the input or fails with a message, strings and
 * byte strings point inside the input, a failed expect-read leaves the
 * cursor where it was (CBOR), the encoder's uint reads back as the same
 * value (MessagePack), and SCALE's canonical-only decoding holds: what a
 * compact, Vec<u8> or String read consumed is exactly what the encoder
 * writes for the decoded value.
 */
#include "attest/msgpack.h"
#include "attest/scale.h"
#include "util/buf.h"
#include "util/cbor.h"
#include "util/err.h"
#include "util/reader.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t *g_base;
static size_t g_len;

static void inside(const void *p, size_t n)
{
	const uint8_t *q = p;
	if (n && (q < g_base || n > g_len || (size_t)(q - g_base) > g_len - n))
		abort();
}

static void progressed(const struct reader *r, size_t before, int rc, const struct err *e)
{
	if (r->off > g_len || (rc == 0 && r->off <= before) || (rc < 0 && !e->msg[0]))
		abort();
}

static void fuzz_cbor(struct reader *r)
{
	struct err e;
	while (rd_left(r)) {
		size_t at = r->off;
		const uint8_t *p;
		size_t n;
		uint64_t v;
		int rc;
		e.msg[0] = '\0';
		switch (r->p[at] >> 5) {
		case CBOR_UINT:
			rc = cbor_uint(r, &v, &e);
			break;
		case CBOR_BYTES:
			rc = cbor_bytes(r, &p, &n, &e);
			if (rc == 0)
				inside(p, n);
			break;
		case CBOR_TEXT:
			rc = cbor_text(r, (const char **)&p, &n, &e);
			if (rc == 0)
				inside(p, n);
			break;
		case CBOR_MAP:
			rc = cbor_map(r, &v, &e);
			if (rc == 0 && v > rd_left(r) / 2)
				abort();
			break;
		default:
			rc = cbor_skip(r, &e);
			break;
		}
		if (rc < 0 && (r->p[at] >> 5) != CBOR_ARRAY && (r->p[at] >> 5) < CBOR_TAG &&
		    r->off != at)
			abort(); /* expect-reads put the cursor back */
		progressed(r, at, rc, &e);
		if (rc < 0) {
			/* the same item skipped whole must fail too, or move on */
			r->off = at;
			e.msg[0] = '\0';
			rc = cbor_skip(r, &e);
			progressed(r, at, rc, &e);
			if (rc < 0)
				return;
		}
	}
}

static void fuzz_msgpack(struct reader *r)
{
	struct err e;
	while (rd_left(r)) {
		size_t at = r->off;
		struct mp_item it;
		e.msg[0] = '\0';
		int rc = mp_next(r, &it, &e);
		progressed(r, at, rc, &e);
		if (rc < 0) {
			r->off = at;
			e.msg[0] = '\0';
			rc = mp_skip(r, 0, &e);
			progressed(r, at, rc, &e);
			return;
		}
		if (it.type == MP_STR || it.type == MP_BIN)
			inside(it.p, it.len);
		if ((it.type == MP_ARRAY && it.len > rd_left(r)) ||
		    (it.type == MP_MAP && it.len > rd_left(r) / 2))
			abort();
		if (it.type == MP_UINT) {
			struct buf b = BUF_INIT;
			struct reader back;
			uint64_t u;
			if (mp_put_uint(&b, it.u) < 0)
				abort();
			reader_init(&back, b.p, b.len);
			if (mp_read_uint(&back, &u, &e) < 0 || u != it.u || rd_left(&back))
				abort();
			buf_free(&b);
		}
		if (it.type == MP_ARRAY || it.type == MP_MAP) {
			size_t before = r->off;
			e.msg[0] = '\0';
			rc = mp_skip_items(r, &it, 0, &e);
			if (rc < 0 && !e.msg[0])
				abort();
			if (r->off > g_len || (rc == 0 && it.len && r->off <= before))
				abort();
			if (rc < 0)
				return;
		}
	}
}

static void same_as_encoded(const struct reader *r, size_t at, const struct buf *b)
{
	if (b->len != r->off - at || memcmp(b->p, r->p + at, b->len) != 0)
		abort();
}

static void fuzz_scale(struct reader *r)
{
	struct err e;
	while (rd_left(r)) {
		size_t at = r->off;
		uint8_t sel;
		if (rd_u8(r, &sel) < 0)
			abort();
		at = r->off;
		struct buf b = BUF_INIT;
		const uint8_t *p;
		const char *s;
		size_t n;
		uint64_t v;
		uint32_t v32;
		int flag, rc;
		e.msg[0] = '\0';
		switch (sel % 6) {
		case 0:
			rc = scale_compact_u64(r, &v, &e);
			if (rc == 0 && scale_put_compact(&b, v) == 0)
				same_as_encoded(r, at, &b);
			break;
		case 1:
			rc = scale_compact_u32(r, &v32, &e);
			if (rc == 0 && scale_put_compact(&b, v32) == 0)
				same_as_encoded(r, at, &b);
			break;
		case 2:
			rc = scale_bytes(r, &p, &n, &e);
			if (rc == 0) {
				inside(p, n);
				if (scale_put_bytes(&b, p, n) == 0)
					same_as_encoded(r, at, &b);
			}
			break;
		case 3:
			rc = scale_string(r, &s, &n, &e);
			if (rc == 0) {
				inside(s, n);
				if (scale_put_bytes(&b, s, n) == 0)
					same_as_encoded(r, at, &b);
			}
			break;
		case 4:
			rc = scale_bool(r, &flag, &e);
			if (rc == 0 && (flag != 0 && flag != 1))
				abort();
			break;
		default:
			rc = scale_option(r, &flag, &e);
			if (rc == 0 && (flag != 0 && flag != 1))
				abort();
			break;
		}
		buf_free(&b);
		progressed(r, at, rc, &e);
		if (rc < 0)
			return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	struct reader r;
	g_base = data + 1;
	g_len = size - 1;
	reader_init(&r, g_base, g_len);
	switch (data[0] % 3) {
	case 0:
		fuzz_cbor(&r);
		break;
	case 1:
		fuzz_msgpack(&r);
		break;
	default:
		fuzz_scale(&r);
		break;
	}
	return 0;
}
