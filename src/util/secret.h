/*
 * secret.h — wiping helpers for key material.
 *
 * Every byte array that held a private key, a derived key or a seed is wiped
 * with secret_wipe() (OPENSSL_cleanse, which the compiler cannot elide)
 * before it goes out of scope or is freed. Root keys themselves live only in
 * src/kms/keys.c, in a secret page: locked in RAM (never swapped) and left
 * out of core dumps. A process that holds root keys also makes itself
 * non-dumpable with no core size (secret_process_protect).
 */
#ifndef UTIL_SECRET_H
#define UTIL_SECRET_H

#include "util/err.h"

#include <stddef.h>

void secret_wipe(void *p, size_t n);
/* Wipe then free; NULL is fine. */
void secret_free(void *p, size_t n);
/* Constant-time comparison; returns 1 when equal. */
int secret_equal(const void *a, const void *b, size_t n);

/* Zeroed page-aligned memory for at least n bytes, mlock'd (a failure to lock
 * is an error: the caller decides) and marked MADV_DONTDUMP. */
void *secret_page_alloc(size_t n, struct err *err);
/* Wipes, unlocks and unmaps; NULL is fine. */
void secret_page_free(void *p, size_t n);

/*
 * No core dump can hold this process's memory: RLIMIT_CORE 0 (or already 0
 * when a sandbox forbids setrlimit) and PR_SET_DUMPABLE 0 — except under
 * AddressSanitizer, whose leak report needs a dumpable process. -1 with the
 * reason when the core limit cannot be made 0.
 */
int secret_process_protect(struct err *err);

#endif
