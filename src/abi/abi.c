/*
 * abi.c — Solidity ABI v2 encoding of the BootInfo tuple call and decoding
 * of (bool,string), string, address and bool return data; EIP-55 addresses.
 *
 * Encoders compute every offset from checked lengths (no overflow); decoders
 * read only through the bounded reader and never trust an offset or length
 * from the return data. Never allocates except in the caller's buf.
 * spec: auth-eth §2.1, §2.2, §2.3, §1.3.
 */
#include "abi/abi.h"

#include "crypto/keccak.h"
#include "util/hex.h"
#include "util/reader.h"
#include "util/utf8.h"

#include <stdint.h>
#include <string.h>

const uint8_t ABI_SEL_IS_APP_ALLOWED[4] = {0x1e, 0x07, 0x91, 0x98};
const uint8_t ABI_SEL_IS_KMS_ALLOWED[4] = {0xe0, 0x67, 0xec, 0x9d};
const uint8_t ABI_SEL_GATEWAY_APP_ID[4] = {0x95, 0xf5, 0x19, 0x31};
const uint8_t ABI_SEL_APP_IMPLEMENTATION[4] = {0x25, 0xa9, 0x92, 0xda};
const uint8_t ABI_SEL_REGISTERED_APPS[4] = {0xa6, 0xc4, 0xcc, 0xe9};

/* Offsets and lengths in return data beyond this are rejected outright. */
#define ABI_MAX_INDEX ((uint64_t)1 << 32)

void abi_selector(const char *signature, uint8_t out[4])
{
	uint8_t h[32];
	keccak256(signature, strlen(signature), h);
	memcpy(out, h, 4);
}

/* ---- encoding --------------------------------------------------------- */

static int put_uint(struct buf *b, uint64_t v)
{
	uint8_t w[ABI_WORD] = {0};
	for (int i = 0; i < 8; i++)
		w[ABI_WORD - 1 - i] = (uint8_t)(v >> (8 * i));
	return buf_append(b, w, sizeof w);
}

static int put_left_padded(struct buf *b, const uint8_t *p, size_t n)
{
	uint8_t w[ABI_WORD] = {0};
	memcpy(w + ABI_WORD - n, p, n);
	return buf_append(b, w, sizeof w);
}

/* Rounds n up to a multiple of 32; fails on overflow. */
static int padded(size_t n, size_t *out)
{
	if (n > SIZE_MAX - (ABI_WORD - 1))
		return -1;
	*out = (n + ABI_WORD - 1) / ABI_WORD * ABI_WORD;
	return 0;
}

/* Size of a dynamic `string` in the tail: length word + padded bytes. */
static int string_size(size_t len, size_t *out)
{
	size_t p;
	if (padded(len, &p) < 0 || p > SIZE_MAX - ABI_WORD)
		return -1;
	*out = ABI_WORD + p;
	return 0;
}

static int put_string(struct buf *b, const struct abi_bytes *s)
{
	static const uint8_t zeros[ABI_WORD];
	TRY(put_uint(b, (uint64_t)s->len));
	if (s->len && buf_append(b, s->p, s->len) < 0)
		return -1;
	size_t rem = s->len % ABI_WORD;
	if (rem && buf_append(b, zeros, ABI_WORD - rem) < 0)
		return -1;
	return 0;
}

int abi_encode_boot_info_call(const uint8_t selector[4], const struct abi_boot_info *bi,
			      struct buf *out, struct err *err)
{
	/* spec: auth-eth §2.2 — 9 head words, then tcbStatus, then advisoryIds. */
	const size_t head = 9 * ABI_WORD;
	size_t tcb_size;
	if (string_size(bi->tcb_status.len, &tcb_size) < 0 || tcb_size > SIZE_MAX - head)
		return err_set(err, "ABI: tcbStatus too long");
	size_t adv_off = head + tcb_size;
	if (bi->n_advisory_ids > (SIZE_MAX / ABI_WORD) - 1)
		return err_set(err, "ABI: too many advisoryIds");
	size_t total = 4 + ABI_WORD + adv_off + ABI_WORD + bi->n_advisory_ids * ABI_WORD;
	for (size_t i = 0; i < bi->n_advisory_ids; i++) {
		size_t sz;
		if (string_size(bi->advisory_ids[i].len, &sz) < 0 || sz > SIZE_MAX - total)
			return err_set(err, "ABI: advisoryIds too long");
		total += sz;
	}
	if (buf_reserve(out, total) < 0)
		return err_set(err, "out of memory");

	size_t start = out->len;
	buf_append(out, selector, 4);
	put_uint(out, ABI_WORD); /* offset of the tuple */
	put_left_padded(out, bi->app_id, 20);
	put_left_padded(out, bi->compose_hash, 32);
	put_left_padded(out, bi->instance_id, 20);
	put_left_padded(out, bi->device_id, 32);
	put_left_padded(out, bi->mr_aggregated, 32);
	put_left_padded(out, bi->mr_system, 32);
	put_left_padded(out, bi->os_image_hash, 32);
	put_uint(out, head);	/* offset of tcbStatus, from the tuple start */
	put_uint(out, adv_off); /* offset of advisoryIds */
	put_string(out, &bi->tcb_status);
	put_uint(out, bi->n_advisory_ids);
	/* element offsets count from just after the count word */
	size_t off = bi->n_advisory_ids * ABI_WORD;
	for (size_t i = 0; i < bi->n_advisory_ids; i++) {
		size_t sz = 0;
		string_size(bi->advisory_ids[i].len, &sz); /* checked above */
		put_uint(out, off);
		off += sz;
	}
	for (size_t i = 0; i < bi->n_advisory_ids; i++)
		put_string(out, &bi->advisory_ids[i]);
	if (out->len - start != total)
		return err_set(err, "ABI: internal size mismatch");
	return 0;
}

int abi_encode_address_call(const uint8_t selector[4], const uint8_t addr[20], struct buf *out,
			    struct err *err)
{
	if (buf_append(out, selector, 4) < 0 || put_left_padded(out, addr, 20) < 0)
		return err_set(err, "out of memory");
	return 0;
}

/* ---- decoding --------------------------------------------------------- */

static int rd_word(struct reader *r, const uint8_t **w)
{
	return rd_bytes(r, ABI_WORD, w);
}

/* A word holding an offset or length: high bytes zero, below ABI_MAX_INDEX. */
static int word_index(const uint8_t *w, size_t *out)
{
	for (int i = 0; i < ABI_WORD - 8; i++)
		if (w[i])
			return -1;
	uint64_t v = 0;
	for (int i = ABI_WORD - 8; i < ABI_WORD; i++)
		v = (v << 8) | w[i];
	if (v >= ABI_MAX_INDEX)
		return -1;
	*out = (size_t)v;
	return 0;
}

static int word_bool(const uint8_t *w, int *b)
{
	for (int i = 0; i < ABI_WORD - 1; i++)
		if (w[i])
			return -1;
	if (w[ABI_WORD - 1] > 1)
		return -1;
	*b = w[ABI_WORD - 1];
	return 0;
}

/* The string whose offset word is at `offw`, relative to the start of p. */
static int read_string_at(const uint8_t *p, size_t n, const uint8_t *offw, struct abi_bytes *s,
			  struct err *err)
{
	size_t off, len, plen;
	if (word_index(offw, &off) < 0 || off > n)
		return err_set(err, "ABI: string offset out of range");
	struct reader r;
	reader_init(&r, p + off, n - off);
	const uint8_t *lw, *bytes;
	if (rd_word(&r, &lw) < 0 || word_index(lw, &len) < 0)
		return err_set(err, "ABI: string length out of range");
	if (padded(len, &plen) < 0 || plen > rd_left(&r))
		return err_set(err, "ABI: string data out of range");
	if (rd_bytes(&r, len, &bytes) < 0)
		return err_set(err, "ABI: string data out of range");
	if (!utf8_valid(bytes, len))
		return err_set(err, "ABI: string is not valid UTF-8");
	s->p = bytes;
	s->len = len;
	return 0;
}

int abi_decode_bool_string(const uint8_t *p, size_t n, int *b, struct abi_bytes *s, struct err *err)
{
	struct reader r;
	reader_init(&r, p, n);
	const uint8_t *w0, *w1;
	if (rd_word(&r, &w0) < 0 || rd_word(&r, &w1) < 0)
		return err_set(err, "ABI: (bool,string) return data too short (%zu bytes)", n);
	if (word_bool(w0, b) < 0)
		return err_set(err, "ABI: bool out of range");
	return read_string_at(p, n, w1, s, err);
}

int abi_decode_string(const uint8_t *p, size_t n, struct abi_bytes *s, struct err *err)
{
	struct reader r;
	reader_init(&r, p, n);
	const uint8_t *w0;
	if (rd_word(&r, &w0) < 0)
		return err_set(err, "ABI: string return data too short (%zu bytes)", n);
	return read_string_at(p, n, w0, s, err);
}

int abi_decode_address(const uint8_t *p, size_t n, uint8_t out[20], struct err *err)
{
	if (n < ABI_WORD)
		return err_set(err, "ABI: address return data too short (%zu bytes)", n);
	for (int i = 0; i < 12; i++)
		if (p[i])
			return err_set(err, "ABI: address out of range");
	memcpy(out, p + 12, 20);
	return 0;
}

int abi_decode_bool(const uint8_t *p, size_t n, int *b, struct err *err)
{
	if (n < ABI_WORD)
		return err_set(err, "ABI: bool return data too short (%zu bytes)", n);
	if (word_bool(p, b) < 0)
		return err_set(err, "ABI: bool out of range");
	return 0;
}

/* ---- addresses -------------------------------------------------------- */

void abi_eip55(const uint8_t addr[20], char out[43])
{
	char lower[41];
	hex_encode(addr, 20, lower);
	uint8_t h[32];
	keccak256(lower, 40, h);
	out[0] = '0';
	out[1] = 'x';
	for (int i = 0; i < 40; i++) {
		char c = lower[i];
		int nib = (i % 2 == 0) ? (h[i / 2] >> 4) : (h[i / 2] & 0x0f);
		if (c >= 'a' && c <= 'f' && nib >= 8)
			c = (char)(c - 'a' + 'A');
		out[2 + i] = c;
	}
	out[42] = '\0';
}

int abi_parse_address(const char *s, size_t len, uint8_t out[20], struct err *err)
{
	const char *h = s;
	size_t hl = len;
	if (hl >= 2 && h[0] == '0' && h[1] == 'x') {
		h += 2;
		hl -= 2;
	}
	if (hl != 40)
		return err_set(err, "invalid address: need 40 hex digits");
	int upper = 0, lower = 0;
	for (size_t i = 0; i < 40; i++) {
		if (hex_nibble(h[i]) < 0)
			return err_set(err, "invalid address: not hex");
		if (h[i] >= 'a' && h[i] <= 'f')
			lower = 1;
		if (h[i] >= 'A' && h[i] <= 'F')
			upper = 1;
	}
	for (size_t i = 0; i < 20; i++)
		out[i] = (uint8_t)(hex_nibble(h[2 * i]) << 4 | hex_nibble(h[2 * i + 1]));
	if (upper && lower) {
		char sum[43];
		abi_eip55(out, sum);
		if (memcmp(sum + 2, h, 40) != 0)
			return err_set(err, "bad address checksum");
	}
	return 0;
}
