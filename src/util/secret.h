/*
 * secret.h — wiping helpers for key material.
 *
 * Every byte array that held a private key, a derived key or a seed is wiped
 * with secret_wipe() (OPENSSL_cleanse, which the compiler cannot elide)
 * before it goes out of scope or is freed. Root keys themselves live only in
 * src/kms/keys.c.
 */
#ifndef UTIL_SECRET_H
#define UTIL_SECRET_H

#include <stddef.h>

void secret_wipe(void *p, size_t n);
/* Wipe then free; NULL is fine. */
void secret_free(void *p, size_t n);
/* Constant-time comparison; returns 1 when equal. */
int secret_equal(const void *a, const void *b, size_t n);

#endif
