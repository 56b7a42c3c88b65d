/*
 * err.c — message chains for the error idiom in err.h.
 * Messages are truncated (never overflowed) at ERR_MAX-1 bytes.
 */
#include "util/err.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* dst = a ": " b, truncated to ERR_MAX-1 bytes (never overflowed). */
static void join(char *dst, const char *a, const char *b)
{
	size_t n = 0;
	for (const char *parts[3] = {a, b[0] ? ": " : "", b}, **p = parts; p < parts + 3; p++)
		for (const char *c = *p; *c && n < ERR_MAX - 1; c++)
			dst[n++] = *c;
	dst[n] = '\0';
}

int err_set(struct err *e, const char *fmt, ...)
{
	if (!e)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int err_wrap(struct err *e, const char *fmt, ...)
{
	if (!e)
		return -1;
	char prefix[ERR_MAX];
	char old[ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	old[sizeof old - 1] = '\0';
	join(e->msg, prefix, old);
	return -1;
}

int err_openssl(struct err *e, const char *fmt, ...)
{
	unsigned long code = ERR_peek_last_error();
	char detail[256] = "";
	if (code)
		ERR_error_string_n(code, detail, sizeof detail);
	ERR_clear_error();
	if (!e)
		return -1;
	char prefix[ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	join(e->msg, prefix, detail);
	return -1;
}

void err_clear(struct err *e)
{
	if (e)
		e->msg[0] = '\0';
}

const char *err_msg(const struct err *e)
{
	return e ? e->msg : "";
}
