/*
 * common.c — simtee helpers: option matching, time / number / hex arguments,
 * file I/O and raw ECDSA-P256 signing (the r||s form DCAP uses).
 * TEST-ONLY (see simtee.h). Never prints key material.
 */
#include "simtee.h"

#include "crypto/p256.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/secret.h"

#include <errno.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int sim_opt_val(struct sim_args *a, const char *name, const char **val, struct err *err)
{
	const char *arg = a->argv[a->i];
	size_t n = strlen(name);
	if (strncmp(arg, name, n) != 0)
		return 0;
	if (arg[n] == '=') {
		*val = arg + n + 1;
		return 1;
	}
	if (arg[n] != '\0')
		return 0;
	if (a->i + 1 >= a->argc)
		return err_set(err, "option %s needs a value", name);
	*val = a->argv[++a->i];
	return 1;
}

int sim_opt_flag(struct sim_args *a, const char *name, int *flag)
{
	if (strcmp(a->argv[a->i], name) != 0)
		return 0;
	*flag = 1;
	return 1;
}

int sim_parse_u64(const char *s, uint64_t max, uint64_t *v, struct err *err)
{
	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 19)
		return err_set(err, "'%s' is not a non-negative integer", s);
	errno = 0;
	unsigned long long x = strtoull(s, NULL, 10);
	if (errno || x > max)
		return err_set(err, "'%s' is out of range (max %llu)", s, (unsigned long long)max);
	*v = (uint64_t)x;
	return 0;
}

int sim_parse_time(const char *s, int64_t *t, struct err *err)
{
	uint64_t v;
	if (strspn(s, "0123456789") == strlen(s) && *s) {
		if (sim_parse_u64(s, (uint64_t)INT64_MAX / 2, &v, err) < 0)
			return -1;
		*t = (int64_t)v;
		return 0;
	}
	int Y, M, D, h, m, sec, used = -1;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &Y, &M, &D, &h, &m, &sec, &used) != 6 ||
	    used < 0 || s[used] || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 ||
	    sec > 60 || Y < 1970)
		return err_set(err, "'%s' is neither Unix seconds nor YYYY-MM-DDTHH:MM:SSZ", s);
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	*t = (int64_t)timegm(&tm);
	return 0;
}

void sim_format_time(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}

static const char *strip_0x(const char *s)
{
	return (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? s + 2 : s;
}

int sim_parse_hex_fixed(const char *s, uint8_t *out, size_t n, const char *what, struct err *err)
{
	s = strip_0x(s);
	if (strlen(s) != 2 * n || hex_decode_fixed(s, out, n) < 0)
		return err_set(err, "%s must be %zu bytes of hex", what, n);
	return 0;
}

int sim_parse_hex(const char *s, size_t max, struct buf *out, const char *what, struct err *err)
{
	s = strip_0x(s);
	size_t n = strlen(s);
	if (n / 2 > max || hex_decode(s, n, out) < 0)
		return err_set(err, "%s must be at most %zu bytes of hex", what, max);
	return 0;
}

int sim_write_file(const char *path, const void *p, size_t n, int secret, struct err *err)
{
	if (fs_write_atomic(path, p, n, secret ? 0600 : 0644, err) < 0)
		return err_wrap(err, "writing %s", path);
	return 0;
}

int sim_read_file(const char *path, struct buf *out, struct err *err)
{
	if (fs_read_file(path, 64u << 20, out, err) < 0)
		return err_wrap(err, "reading %s", path);
	return 0;
}

EVP_PKEY *sim_evp_key(const uint8_t scalar[32], struct err *err)
{
	return p256_evp_from_scalar(scalar, err);
}

int sim_sign_raw(const uint8_t scalar[32], const void *msg, size_t len, uint8_t sig[64],
		 struct err *err)
{
	int rc = -1;
	EVP_PKEY *pk = sim_evp_key(scalar, err);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[80];
	size_t der_len = sizeof der;
	ECDSA_SIG *es = NULL;
	if (!pk || !md)
		goto out;
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) != 1 ||
	    EVP_DigestSign(md, der, &der_len, msg, len) != 1) {
		err_openssl(err, "ECDSA signing");
		goto out;
	}
	const unsigned char *dp = der;
	if (!(es = d2i_ECDSA_SIG(NULL, &dp, (long)der_len))) {
		err_openssl(err, "ECDSA signature DER");
		goto out;
	}
	const BIGNUM *r, *s;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, sig, 32) != 32 || BN_bn2binpad(s, sig + 32, 32) != 32) {
		err_set(err, "ECDSA signature component too large");
		goto out;
	}
	rc = 0;
out:
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	return rc;
}

int sim_fail(const char *cmd, const struct err *err)
{
	fprintf(stderr, "simtee %s: error: %s\n", cmd, err_msg(err));
	return 1;
}

int sim_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "simtee %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see simtee %s --help)\n", cmd);
	return 2;
}
