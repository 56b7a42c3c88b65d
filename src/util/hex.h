/*
 * hex.h — lowercase hex encoding, strict decoding, and hex text decoding.
 */
#ifndef UTIL_HEX_H
#define UTIL_HEX_H

#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

/* Value of one hex digit (either case), -1 for any other character. */
int hex_nibble(int c);
/* Writes 2n lowercase hex chars and a NUL into out (size >= 2n+1). */
void hex_encode(const uint8_t *in, size_t n, char *out);
/* Appends lowercase hex of in to b (no NUL counted). */
int hex_append(struct buf *b, const uint8_t *in, size_t n);
/* Decodes exactly slen hex chars (either case, no prefix) appending bytes to out.
 * Fails on odd length or a non-hex char. */
int hex_decode(const char *s, size_t slen, struct buf *out);
/* Decodes a hex string that must be exactly n bytes long into out. */
int hex_decode_fixed(const char *s, uint8_t *out, size_t n);

/* The one hex-text decoder (a quote, a CRL or key given as text): whitespace
 * anywhere is ignored, one "0x"/"0X" may follow leading whitespace. Appends
 * the bytes to out; fails (out unchanged) on a non-hex byte, an odd digit
 * count, no digits, or more than max_bytes bytes (0 = no limit). */
int hex_decode_text(const void *text, size_t n, size_t max_bytes, struct buf *out, struct err *err);

#endif
