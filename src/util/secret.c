/*
 * secret.c — wiping and constant-time comparison (secret.h).
 */
#include "util/secret.h"

#include <openssl/crypto.h>
#include <stdlib.h>

void secret_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

void secret_free(void *p, size_t n)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, n);
	free(p);
}

int secret_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}
