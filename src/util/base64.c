/*
 * base64.c — strict base64 decoding (base64.h).
 */
#include "util/base64.h"

#include "util/secret.h"

/* Base64 value of c, or -1; branch-free so key text does not steer branches. */
static int b64_value(unsigned char ch)
{
	int c = ch, v = -1;
	/* in_range is -1 (all ones) when lo <= c <= hi, else 0. */
#define IN_RANGE(lo, hi) ((((lo)-1 - c) & (c - (hi)-1)) >> 8)
	v += IN_RANGE('A', 'Z') & (c - 'A' + 1);
	v += IN_RANGE('a', 'z') & (c - 'a' + 27);
	v += IN_RANGE('0', '9') & (c - '0' + 53);
	v += IN_RANGE('+', '+') & 63;
	v += IN_RANGE('/', '/') & 64;
#undef IN_RANGE
	return v;
}

static int put(uint8_t *out, size_t cap, size_t *o, uint32_t acc, size_t bytes)
{
	if (bytes > cap - *o)
		return -1;
	out[(*o)++] = (uint8_t)(acc >> 16);
	if (bytes > 1)
		out[(*o)++] = (uint8_t)(acc >> 8);
	if (bytes > 2)
		out[(*o)++] = (uint8_t)acc;
	return 0;
}

int base64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len,
		  unsigned flags)
{
	uint32_t acc = 0;
	unsigned quad = 0, pad = 0;
	int done = 0, rc = -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((flags & BASE64_SKIP_WS) && (c == '\n' || c == '\r' || c == ' ' || c == '\t'))
			continue;
		if (done)
			goto out;
		if (c == '=') {
			if (quad < 2)
				goto out;
			pad++;
			acc <<= 6;
		} else {
			int v = b64_value(c);
			if (v < 0 || pad)
				goto out;
			acc = (acc << 6) | (uint32_t)v;
		}
		if (++quad < 4)
			continue;
		if (put(out, cap, &o, acc, 3 - pad) < 0)
			goto out;
		acc = 0;
		quad = 0;
		done = pad > 0;
	}
	if (quad != 0) {
		/* an unpadded final group of 2 or 3 characters */
		if (!(flags & BASE64_UNPADDED) || pad || quad < 2)
			goto out;
		acc <<= 6 * (4 - quad);
		if (put(out, cap, &o, acc, quad - 1) < 0)
			goto out;
	}
	*out_len = o;
	rc = 0;
out:
	acc = 0;
	secret_wipe(&acc, sizeof acc);
	return rc;
}
