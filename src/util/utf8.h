/*
 * utf8.h — strict UTF-8: no overlong forms, no surrogates, nothing above
 * U+10FFFF. The one validator every parser and encoder of the project uses.
 */
#ifndef UTIL_UTF8_H
#define UTIL_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length (1..4) of the valid sequence at s (n bytes available), 0 if invalid. */
size_t utf8_seq_len(const uint8_t *s, size_t n);
/* 1 when all n bytes are valid UTF-8 (NUL bytes allowed), else 0. */
int utf8_valid(const void *p, size_t n);
/* Encode code point cp (<= U+10FFFF, not a surrogate) into out; returns 1..4. */
size_t utf8_encode(uint32_t cp, uint8_t out[4]);
/* Replace, in place, every byte that does not start a valid sequence by '?'. */
void utf8_sanitize(char *s);

#endif
