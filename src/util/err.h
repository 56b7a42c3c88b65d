/*
 * err.h — the one error-propagation idiom of the project.
 *
 * A function that can fail returns 0 on success and -1 on failure, and writes
 * a human-readable message chain into a caller-owned `struct err`. Callers add
 * context outermost-first with err_wrap(), giving chains such as
 * "App not allowed: Boot denied: compose hash not allowed" (kms-protocol §2.4).
 * `err` may be NULL when the caller does not want the message.
 * Messages must never contain secret bytes.
 */
#ifndef UTIL_ERR_H
#define UTIL_ERR_H

#include <stddef.h>

#define ERR_MAX 1024

struct err {
	char msg[ERR_MAX];
};

/* Replace the message. Always returns -1 so callers can `return err_set(...)`. */
int err_set(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix context: "<ctx>: <previous message>". Always returns -1. */
int err_wrap(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like err_set, then appends ": <first OpenSSL error>" and clears the OpenSSL error queue. */
int err_openssl(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void err_clear(struct err *e);
/* The message, or "" for a NULL err. */
const char *err_msg(const struct err *e);

/* Propagate a failure unchanged. */
#define TRY(expr)                                                                                  \
	do {                                                                                       \
		if ((expr) < 0)                                                                    \
			return -1;                                                                 \
	} while (0)

/* Jump to the function's `out:` cleanup label on failure (with `int rc = -1` set until success). */
#define TRY_OUT(expr)                                                                              \
	do {                                                                                       \
		if ((expr) < 0)                                                                    \
			goto out;                                                                  \
	} while (0)

#endif
