/*
 * test_msgpack.c — the bounded MessagePack subset (attest/msgpack.h). Expected
 * bytes are written by hand from the MessagePack specification's format
 * table; hostile inputs (depth bombs, huge counts, truncation at every
 * length, the reserved 0xc1 byte) must fail cleanly.
 */
#include "harness.h"

#include "attest/msgpack.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

static uint8_t *unhex_reader(const char *hex, struct reader *r)
{
	size_t n;
	uint8_t *b = t_unhex(hex, &n);
	reader_init(r, b, n);
	return b;
}

TEST(test_msgpack_decodes_every_scalar_form)
{
	struct reader r;
	struct mp_item it;
	struct err err;
	uint8_t *b = unhex_reader("7f"		       /* positive fixint 127 */
				  "cc80"	       /* uint8 128 */
				  "cd0100"	       /* uint16 256 */
				  "ce00010000"	       /* uint32 65536 */
				  "cf0000000100000000" /* uint64 2^32 */
				  "d005"	       /* int8 5 → non-negative */
				  "d0ff"	       /* int8 -1 */
				  "d1ff00"	       /* int16 -256 */
				  "e0"		       /* negative fixint -32 */
				  "c0c2c3"	       /* nil false true */
				  "a3616263"	       /* fixstr "abc" */
				  "d90178"	       /* str8 "x" */
				  "c4020102"	       /* bin8 01 02 */
				  "cb3ff0000000000000" /* float64 1.0 */
				  "d40102"	       /* fixext1 */
				  ,
				  &r);
	CHECK_OK(mp_next(&r, &it, &err), &err);
	CHECK(it.type == MP_UINT && it.u == 127);
	CHECK_OK(mp_next(&r, &it, &err), &err);
	CHECK(it.type == MP_UINT && it.u == 128);
	CHECK_OK(mp_next(&r, &it, &err), &err);
	CHECK(it.type == MP_UINT && it.u == 256);
	CHECK_OK(mp_next(&r, &it, &err), &err);
	CHECK(it.type == MP_UINT && it.u == 65536);
	CHECK_OK(mp_next(&r, &it, &err), &err);
	CHECK(it.type == MP_UINT && it.u == 4294967296u);
	CHECK_OK(mp_next(&r, &it, &err), &err);
	CHECK(it.type == MP_UINT && it.u == 5);
	CHECK_OK(mp_next(&r, &it, &err), &err);
	CHECK(it.type == MP_NEGINT && it.i == -1);
	CHECK_OK(mp_next(&r, &it, &err), &err);
	CHECK(it.type == MP_NEGINT && it.i == -256);
	CHECK_OK(mp_next(&r, &it, &err), &err);
	CHECK(it.type == MP_NEGINT && it.i == -32);
	CHECK_OK(mp_next(&r, &it, &err), &err);
	CHECK(it.type == MP_NIL);
	CHECK_OK(mp_next(&r, &it, &err), &err);
	CHECK(it.type == MP_BOOL && it.b == 0);
	CHECK_OK(mp_next(&r, &it, &err), &err);
	CHECK(it.type == MP_BOOL && it.b == 1);
	CHECK_OK(mp_next(&r, &it, &err), &err);
	CHECK(it.type == MP_STR && it.len == 3 && memcmp(it.p, "abc", 3) == 0);
	CHECK_OK(mp_next(&r, &it, &err), &err);
	CHECK(it.type == MP_STR && it.len == 1 && it.p[0] == 'x');
	CHECK_OK(mp_next(&r, &it, &err), &err);
	CHECK(it.type == MP_BIN && it.len == 2 && it.p[0] == 1 && it.p[1] == 2);
	CHECK_OK(mp_next(&r, &it, &err), &err);
	CHECK(it.type == MP_FLOAT);
	CHECK_OK(mp_next(&r, &it, &err), &err);
	CHECK(it.type == MP_EXT);
	CHECK_EQ_INT(rd_left(&r), 0);
	CHECK_FAILS(mp_next(&r, &it, &err));
	free(b);
}

TEST(test_msgpack_containers_and_skip)
{
	struct reader r;
	struct err err;
	size_t n;
	/* {"a": [1, {"b": nil}], "c": "d"} then 0x07 */
	uint8_t *b = unhex_reader("82a161920181a162c0a163a164"
				  "07",
				  &r);
	CHECK_OK(mp_read_map(&r, &n, &err), &err);
	CHECK_EQ_INT(n, 2);
	reader_init(&r, b, r.len);
	CHECK_OK(mp_skip(&r, 0, &err), &err);
	uint64_t v;
	CHECK_OK(mp_read_uint(&r, &v, &err), &err);
	CHECK_EQ_INT(v, 7);
	free(b);
}

TEST(test_msgpack_typed_readers_reject_other_types)
{
	struct reader r;
	struct err err;
	uint64_t v;
	const char *s;
	size_t n;
	uint8_t *b = unhex_reader("a161", &r);
	CHECK_FAILS(mp_read_uint(&r, &v, &err));
	CHECK_CONTAINS(err.msg, "expected uint, found str");
	free(b);
	b = unhex_reader("ff", &r);
	CHECK_FAILS(mp_read_uint(&r, &v, &err));
	free(b);
	b = unhex_reader("a2c328", &r); /* str with invalid UTF-8 */
	CHECK_FAILS(mp_read_str(&r, &s, &n, &err));
	CHECK_CONTAINS(err.msg, "UTF-8");
	free(b);
	b = unhex_reader("c403616263", &r); /* bin is not str */
	CHECK_FAILS(mp_read_str(&r, &s, &n, &err));
	free(b);
}

TEST(test_msgpack_rejects_reserved_byte_c1)
{
	struct reader r;
	struct mp_item it;
	struct err err;
	uint8_t *b = unhex_reader("c1", &r);
	CHECK_FAILS(mp_next(&r, &it, &err));
	CHECK_CONTAINS(err.msg, "0xc1");
	free(b);
}

TEST(test_msgpack_depth_bomb_fails_cleanly)
{
	uint8_t bomb[100001];
	memset(bomb, 0x91, sizeof bomb - 1); /* [[[[...0]]]] */
	bomb[sizeof bomb - 1] = 0x00;
	struct reader r;
	struct err err;
	reader_init(&r, bomb, sizeof bomb);
	CHECK_FAILS(mp_skip(&r, 0, &err));
	CHECK_CONTAINS(err.msg, "nesting deeper");
	/* A map bomb too. */
	for (size_t i = 0; i + 1 < sizeof bomb; i += 2) {
		bomb[i] = 0x81;
		bomb[i + 1] = 0x00;
	}
	reader_init(&r, bomb, sizeof bomb - 1);
	CHECK_FAILS(mp_skip(&r, 0, &err));
	/* Nesting within the limit is fine. */
	memset(bomb, 0x91, 20);
	bomb[20] = 0xc0;
	reader_init(&r, bomb, 21);
	CHECK_OK(mp_skip(&r, 0, &err), &err);
	CHECK_EQ_INT(r.off, 21);
}

TEST(test_msgpack_huge_counts_and_lengths_fail_before_reading)
{
	static const char *const bad[] = {
	    "ddffffffff00",   /* array32 of 4 billion, 1 byte present */
	    "dfffffffff0000", /* map32 */
	    "de0002c0",	      /* map16 of 2 entries needs >= 4 bytes */
	    "dbffffffff61",   /* str32 */
	    "c6ffffffff",     /* bin32 */
	    "c9000000100161", /* ext32 */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct reader r;
		struct err err;
		uint8_t *b = unhex_reader(bad[i], &r);
		CHECK_MSG(mp_skip(&r, 0, &err) < 0, "accepted %s", bad[i]);
		free(b);
	}
}

TEST(test_msgpack_truncated_at_every_length_fails)
{
	/* {"k": [1, 300, "abc", bin(2)], "x": -70000} */
	const char *hex = "82a16b9401cd012ca3616263c4020102a178d2fffeee90";
	size_t n;
	uint8_t *b = t_unhex(hex, &n);
	struct reader r;
	struct err err;
	reader_init(&r, b, n);
	CHECK_OK(mp_skip(&r, 0, &err), &err);
	CHECK_EQ_INT(r.off, n);
	for (size_t cut = 0; cut < n; cut++) {
		reader_init(&r, b, cut);
		CHECK_MSG(mp_skip(&r, 0, &err) < 0, "accepted a %zu-byte prefix", cut);
	}
	free(b);
}

TEST(test_msgpack_encoder_uses_shortest_forms)
{
	struct buf b = BUF_INIT;
	CHECK(mp_put_uint(&b, 0) == 0 && mp_put_uint(&b, 127) == 0 && mp_put_uint(&b, 128) == 0 &&
	      mp_put_uint(&b, 255) == 0 && mp_put_uint(&b, 256) == 0 &&
	      mp_put_uint(&b, 65535) == 0 && mp_put_uint(&b, 65536) == 0 &&
	      mp_put_uint(&b, 4294967296u) == 0);
	CHECK_HEX(b.p, b.len, "007fcc80ccffcd0100cdffffce00010000cf0000000100000000");
	buf_reset(&b);
	char s32[32];
	memset(s32, 'a', sizeof s32);
	CHECK(mp_put_str(&b, s32, 31) == 0);
	CHECK_EQ_INT(b.p[0], 0xbf);
	CHECK_EQ_INT(b.len, 32);
	buf_reset(&b);
	CHECK(mp_put_str(&b, s32, 32) == 0);
	CHECK(b.p[0] == 0xd9 && b.p[1] == 32 && b.len == 34);
	buf_reset(&b);
	CHECK(mp_put_bin(&b, "", 0) == 0 && mp_put_array(&b, 15) == 0 &&
	      mp_put_array(&b, 16) == 0 && mp_put_map(&b, 1) == 0 && mp_put_map(&b, 65536) == 0 &&
	      mp_put_nil(&b) == 0 && mp_put_bool(&b, 1) == 0 && mp_put_bool(&b, 0) == 0);
	CHECK_HEX(b.p, b.len, "c4009fdc001081df00010000c0c3c2");
	buf_reset(&b);
	const uint8_t bytes[] = {0x00, 0x7f, 0x80, 0xff};
	CHECK(mp_put_u8_array(&b, bytes, sizeof bytes) == 0);
	CHECK_HEX(b.p, b.len, "94007fcc80ccff");
	buf_free(&b);
}
