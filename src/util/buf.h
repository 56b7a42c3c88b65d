/*
 * buf.h — a growable byte buffer with overflow-checked appends.
 *
 * A buffer marked secret (buf_init_secret) is wiped whenever its storage is
 * released or moved, so key material never lingers in freed heap memory.
 * The contents are always followed by a NUL byte (not counted in len), so a
 * buffer holding text can be used as a C string.
 */
#ifndef UTIL_BUF_H
#define UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *p;
	size_t len;
	size_t cap;
	int secret;
};

#define BUF_INIT                                                                                   \
	{                                                                                          \
		0                                                                                  \
	}

void buf_init_secret(struct buf *b);
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_byte(struct buf *b, uint8_t c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Text view: never NULL ("" for an empty buffer). */
const char *buf_str(const struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps storage (wiped if secret) */
void buf_free(struct buf *b);  /* releases storage (wiped if secret) */

#endif
