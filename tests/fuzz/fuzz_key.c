/*
 * fuzz_key.c — libFuzzer target for the readers of key and certificate files
 * in cert_dir (root-ca.key, tmp-ca.key, rpc.key, *.crt) and of PEM chains:
 * the P-256 private-key PEM reader (crypto/p256.h, p256_scalar_from_pem: SEC1
 * and PKCS#8, our own DER walk), cert_from_pem and cert_chain_from_pem
 * (crypto/cert.h). Built and run by `make fuzz` / `make fuzz-smoke`.
 *
 * Beyond "no crash, no leak, no read past the input", it checks: an accepted
 * key is a valid scalar, its PKCS#8 PEM reads back to the same scalar, a
 * rejected key leaves the output wiped and says why, and a certificate read
 * from PEM re-encodes to PEM that reads back.
 */
#include "crypto/cert.h"
#include "crypto/p256.h"
#include "util/buf.h"
#include "util/err.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t ZERO[32];

static void fuzz_private_key(const char *p, size_t n)
{
	uint8_t scalar[32], again[32];
	struct err e;
	memset(scalar, 0x5a, sizeof scalar);
	e.msg[0] = '\0';
	if (p256_scalar_from_pem(p, n, scalar, &e) < 0) {
		if (!e.msg[0] || (n && memcmp(scalar, ZERO, 32) != 0))
			abort();
		return;
	}
	if (!p256_scalar_valid(scalar))
		abort();
	struct buf pem = BUF_INIT;
	if (p256_pkcs8_pem(scalar, &pem, &e) < 0 ||
	    p256_scalar_from_pem((const char *)pem.p, pem.len, again, &e) < 0 ||
	    memcmp(scalar, again, 32) != 0)
		abort();
	buf_free(&pem);
}

static void fuzz_certs(const char *p, size_t n)
{
	struct err e;
	X509 *x = cert_from_pem(p, n, &e);
	if (x) {
		struct buf pem = BUF_INIT;
		if (cert_to_pem(x, &pem, &e) < 0)
			abort();
		X509 *y = cert_from_pem((const char *)pem.p, pem.len, &e);
		if (!y || X509_cmp(x, y) != 0)
			abort();
		X509_free(y);
		buf_free(&pem);
		X509_free(x);
	}
	STACK_OF(X509) *chain = cert_chain_from_pem(p, n, 4, &e);
	if (chain && sk_X509_num(chain) > 4)
		abort();
	sk_X509_pop_free(chain, X509_free);
	ERR_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The readers get what fs_read_file gives: bytes with a NUL after them. */
	char *p = malloc(size + 1);
	if (!p)
		abort();
	memcpy(p, data, size);
	p[size] = '\0';
	fuzz_private_key(p, size);
	fuzz_certs(p, size);
	free(p);
	return 0;
}
