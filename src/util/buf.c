/*
 * buf.c — growable byte buffer (buf.h). Every size addition is checked for
 * overflow; secret buffers are wiped before their storage is released.
 */
#include "util/buf.h"

#include "util/secret.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init_secret(struct buf *b)
{
	memset(b, 0, sizeof *b);
	b->secret = 1;
}

int buf_reserve(struct buf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->len - 1)
		return -1;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	uint8_t *p = malloc(cap);
	if (!p)
		return -1;
	if (b->p) {
		memcpy(p, b->p, b->len + 1);
		if (b->secret)
			secret_wipe(b->p, b->cap);
		free(b->p);
	} else {
		p[0] = 0;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = 0;
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_append_byte(struct buf *b, uint8_t c)
{
	return buf_append(b, &c, 1);
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

const char *buf_str(const struct buf *b)
{
	return b->p ? (const char *)b->p : "";
}

void buf_reset(struct buf *b)
{
	if (b->p) {
		if (b->secret)
			secret_wipe(b->p, b->cap);
		b->p[0] = 0;
	}
	b->len = 0;
}

void buf_free(struct buf *b)
{
	if (b->p) {
		if (b->secret)
			secret_wipe(b->p, b->cap);
		free(b->p);
	}
	int secret = b->secret;
	memset(b, 0, sizeof *b);
	b->secret = secret;
}
