/*
 * hex.h — lowercase hex encoding and strict decoding.
 */
#ifndef UTIL_HEX_H
#define UTIL_HEX_H

#include "util/buf.h"

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

#endif
