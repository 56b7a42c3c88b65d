/*
 * base64.h — strict standard-alphabet base64 (RFC 4648 §4) decoding.
 *
 * Used for key PEM bodies (secret: the character lookup is branch-free and
 * the accumulator is wiped) and for base64 fields of JSON documents.
 */
#ifndef UTIL_BASE64_H
#define UTIL_BASE64_H

#include <stddef.h>
#include <stdint.h>

#define BASE64_SKIP_WS 1u  /* ignore CR, LF, space and tab (PEM bodies) */
#define BASE64_UNPADDED 2u /* also accept a final group without its '=' */

/* Decodes s[0..n) into out[cap]; '=' only as final padding, nothing after
 * it. Fails (-1) on any other character, a truncated group, or output
 * beyond cap. *out_len is set on success. */
int base64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len,
		  unsigned flags);

/* The most bytes n characters can decode to. */
static inline size_t base64_max_decoded(size_t n)
{
	return n / 4 * 3 + 3;
}

#endif
