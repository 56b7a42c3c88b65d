/*
 * utf8.c — strict UTF-8 validation (utf8.h), by the table of well-formed
 * byte sequences in Unicode 15 §3.9 (D92): the allowed second-byte range
 * depends on the lead byte.
 */
#include "util/utf8.h"

#include <string.h>

size_t utf8_seq_len(const uint8_t *s, size_t n)
{
	if (n == 0)
		return 0;
	uint8_t c = s[0];
	if (c < 0x80)
		return 1;
	size_t len;
	uint8_t lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0; /* no overlong forms */
		else if (c == 0xed)
			hi = 0x9f; /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f; /* <= U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

int utf8_valid(const void *p, size_t n)
{
	const uint8_t *s = p;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq_len(s + i, n - i);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

size_t utf8_encode(uint32_t cp, uint8_t b[4])
{
	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (uint8_t)(0xc0 | cp >> 6);
		b[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (uint8_t)(0xe0 | cp >> 12);
		b[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	b[0] = (uint8_t)(0xf0 | cp >> 18);
	b[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	b[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	b[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

void utf8_sanitize(char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq_len((const uint8_t *)s + i, n - i);
		if (!k) {
			s[i++] = '?';
			continue;
		}
		i += k;
	}
}
