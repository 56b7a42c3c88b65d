/*
 * hex.c — hex codec (hex.h). Decoding rejects odd lengths and non-hex bytes.
 */
#include "util/hex.h"

#include <string.h>

static const char HEX[] = "0123456789abcdef";

void hex_encode(const uint8_t *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = HEX[in[i] >> 4];
		out[2 * i + 1] = HEX[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int hex_append(struct buf *b, const uint8_t *in, size_t n)
{
	if (n > (SIZE_MAX - 1) / 2 || buf_reserve(b, 2 * n) < 0)
		return -1;
	hex_encode(in, n, (char *)b->p + b->len);
	b->len += 2 * n;
	return 0;
}

int hex_nibble(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *s, size_t slen, struct buf *out)
{
	if (slen % 2)
		return -1;
	if (buf_reserve(out, slen / 2) < 0)
		return -1;
	for (size_t i = 0; i < slen; i += 2) {
		int hi = hex_nibble(s[i]), lo = hex_nibble(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out->p[out->len++] = (uint8_t)(hi << 4 | lo);
	}
	out->p[out->len] = 0;
	return 0;
}

int hex_decode_fixed(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_nibble(s[2 * i]), lo = hex_nibble(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int hex_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int hex_decode_text(const void *text, size_t n, size_t max_bytes, struct buf *out, struct err *err)
{
	const uint8_t *p = text;
	size_t i = 0, digits = 0;
	while (i < n && hex_space(p[i]))
		i++;
	if (n - i >= 2 && p[i] == '0' && (p[i + 1] == 'x' || p[i + 1] == 'X'))
		i += 2;
	size_t start = i;
	for (; i < n; i++) {
		if (hex_space(p[i]))
			continue;
		if (hex_nibble(p[i]) < 0)
			return err_set(err, "not hex text (byte %zu is not a hex digit)", i + 1);
		digits++;
	}
	if (digits == 0)
		return err_set(err, "hex text has no digits");
	if (digits % 2)
		return err_set(err, "hex text has an odd number of digits (%zu)", digits);
	if (max_bytes && digits / 2 > max_bytes)
		return err_set(err, "hex text is longer than %zu bytes", max_bytes);
	size_t before = out->len;
	int hi = -1;
	for (i = start; i < n; i++) {
		if (hex_space(p[i]))
			continue;
		int v = hex_nibble(p[i]);
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (buf_append_byte(out, (uint8_t)(hi << 4 | v)) < 0) {
			out->len = before;
			return err_set(err, "out of memory");
		}
		hi = -1;
	}
	return 0;
}
