/*
 * cli.c — the small command-line helpers every dstack-kmsctl subcommand uses:
 * one-line error output, option matching, hex arguments, safe printing of
 * server-supplied text and a certificate one-line summary.
 *
 * Everything a KMS sends that reaches the terminal is sanitized here first:
 * a server must not be able to inject terminal escape sequences or extra
 * lines into our output. Never prints key material.
 */
#include "kmsctl/kmsctl.h"

#include "util/buf.h"
#include "util/hex.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void kmsctl_sanitize(const char *s, char *out, size_t outlen)
{
	if (!outlen)
		return;
	size_t o = 0, i = 0;
	const unsigned char *p = (const unsigned char *)s;
	for (; p[i] && o + 1 < outlen; i++) {
		unsigned char c = p[i];
		if (c == '\n' || c == '\r' || c == '\t') {
			out[o++] = ' ';
		} else if (c < 0x20 || c == 0x7f) {
			out[o++] = '?';
		} else if (c == 0xc2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
			/* U+0080..U+009F, the C1 controls (CSI among them), in UTF-8. */
			out[o++] = '?';
			i++;
		} else {
			out[o++] = (char)c;
		}
	}
	if (p[i] && outlen > 4) { /* truncated: say so */
		memcpy(out + outlen - 4, "...", 3);
		o = outlen - 1;
	}
	out[o] = '\0';
}

void kmsctl_print_field(const char *label, const char *value)
{
	size_t n = strlen(value) + 1;
	char *clean = malloc(n);
	if (!clean) {
		printf("%s(out of memory)\n", label);
		return;
	}
	kmsctl_sanitize(value, clean, n);
	printf("%s%s\n", label, clean);
	free(clean);
}

static void vfail(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static void vfail(const char *fmt, va_list ap)
{
	char raw[ERR_MAX + 256], clean[sizeof raw];
	vsnprintf(raw, sizeof raw, fmt, ap);
	kmsctl_sanitize(raw, clean, sizeof clean);
	fflush(stdout);
	fprintf(stderr, KMSCTL_PROG ": %s\n", clean);
}

int kmsctl_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(fmt, ap);
	va_end(ap);
	return KMSCTL_EXIT_FAIL;
}

int kmsctl_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(fmt, ap);
	va_end(ap);
	if (cmd)
		fprintf(stderr, "Try '" KMSCTL_PROG " %s --help'.\n", cmd);
	else
		fprintf(stderr, "Try '" KMSCTL_PROG " --help'.\n");
	return KMSCTL_EXIT_USAGE;
}

int kmsctl_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int kmsctl_opt_value(int argc, char **argv, int *i, const char *name, const char **val,
		     struct err *err)
{
	const char *a = argv[*i];
	size_t n = strlen(name);
	if (strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=') {
		*val = a + n + 1;
		return 1;
	}
	if (a[n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return err_set(err, "option '%s' needs a value", name);
	*i += 1;
	*val = argv[*i];
	return 1;
}

int kmsctl_parse_hex_fixed(const char *what, const char *s, uint8_t *out, size_t n, struct err *err)
{
	if (strncmp(s, "0x", 2) == 0 || strncmp(s, "0X", 2) == 0)
		s += 2;
	size_t len = strlen(s);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
		if (!ok)
			return err_set(err, "%s is not hex (character %zu is not 0-9a-f)", what,
				       i + 1);
	}
	if (len != 2 * n)
		return err_set(err, "%s must be %zu bytes (%zu hex digits), got %zu hex digits",
			       what, n, 2 * n, len);
	if (hex_decode_fixed(s, out, n) < 0)
		return err_set(err, "%s is not valid hex", what);
	return 0;
}

int kmsctl_is_pem_text(const char *s)
{
	if (strncmp(s, "-----BEGIN ", 11) != 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && *p != '\n' && *p != '\r') || *p >= 0x7f)
			return 0;
	return 1;
}

int kmsctl_cert_summary(const char *pem, char *out, size_t outlen, struct err *err)
{
	int rc = -1;
	BIO *in = BIO_new_mem_buf(pem, -1);
	X509 *x = in ? PEM_read_bio_X509(in, NULL, NULL, NULL) : NULL;
	BIO *mem = BIO_new(BIO_s_mem());
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!x) {
		err_openssl(err, "not a PEM certificate");
		goto out;
	}
	/* RFC 2253 flags escape control characters in the name. */
	if (!mem || X509_NAME_print_ex(mem, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) < 0 ||
	    X509_digest(x, EVP_sha256(), md, &mdlen) != 1) {
		err_openssl(err, "cannot read the certificate");
		goto out;
	}
	char *name = NULL;
	long nlen = BIO_get_mem_data(mem, &name);
	char fp[2 * EVP_MAX_MD_SIZE + 1];
	hex_encode(md, mdlen, fp);
	char raw[1024];
	int shown = nlen <= 0 ? 0 : nlen > 800 ? 800 : (int)nlen;
	snprintf(raw, sizeof raw, "subject=%.*s, sha256=%s", shown, name ? name : "", fp);
	kmsctl_sanitize(raw, out, outlen);
	rc = 0;
out:
	X509_free(x);
	BIO_free(in);
	BIO_free(mem);
	return rc;
}
