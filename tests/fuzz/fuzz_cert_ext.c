/*
 * fuzz_cert_ext.c — libFuzzer target for what is read out of an X.509
 * certificate's extensions: the RA-TLS attestation (attest/ratls.h,
 * ratls_extract: OID .1.8 VersionedAttestation, or the legacy .1.1 quote +
 * .1.2 event log), the generic extension reader (crypto/cert.h,
 * cert_get_custom_ext) and the PCK certificate's Intel SGX extension
 * (attest/pck_ext.h). Built and run by `make fuzz` / `make fuzz-smoke`.
 *
 * The first input byte picks the form: 0 the rest is a whole DER
 * certificate; otherwise the rest is the raw extnValue of one extension put
 * into an unsigned template certificate (1 attestation .1.8, 2 legacy quote
 * .1.1: two length bytes (big-endian), that many bytes of quote value, the
 * rest the .1.2 event log value, or none when nothing is left; 3 the SGX
 * extension), so inputs reach the extension parsers
 * without having to be a valid certificate first.
 *
 * Beyond "no crash, no leak", it checks: a field the SGX reader calls OK has
 * its legal length, the strict parser accepts exactly when every field is
 * OK, and a certificate with an attestation reports the binding check's
 * outcome without crashing.
 */
#include "attest/pck_ext.h"
#include "attest/ratls.h"
#include "crypto/cert.h"
#include "util/buf.h"
#include "util/err.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int add_ext(X509 *x, const char *oid, const uint8_t *p, size_t n)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	int ok = obj && os && ASN1_OCTET_STRING_set(os, p, (int)n) == 1 &&
		 (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) != NULL &&
		 X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
	return ok ? 0 : -1;
}

static void check_sgx(X509 *x)
{
	struct pck_ext e;
	char why[160];
	why[0] = '\0';
	int rc = pck_ext_read(x, &e, why, sizeof why);
	if (rc < 0 && !why[0])
		abort();
	int all_ok = rc == 0;
	for (int f = 0; rc == 0 && f < PCK_EXT_NFIELDS; f++) {
		if (e.state[f] != PCK_EXT_OK) {
			all_ok = 0;
			continue;
		}
		size_t l = e.length[f];
		int legal = f == PCK_EXT_PPID || f == PCK_EXT_CPUSVN ? l == 16
			    : f == PCK_EXT_PCEID		     ? l == 2
			    : f == PCK_EXT_FMSPC		     ? l == 6
								     : l == 1 || l == 2;
		if (!legal)
			abort();
	}
	if ((pck_ext_parse(x, &e, why, sizeof why) == 0) != all_ok)
		abort();
}

static void check_ratls(X509 *x)
{
	struct attestation a;
	struct err e;
	e.msg[0] = '\0';
	int rc = ratls_extract(x, &a, &e);
	if (rc < 0 && !e.msg[0])
		abort();
	if (rc == 1)
		(void)ratls_check_binding(&a, x, &e);
	attestation_free(&a);
	struct buf v = BUF_INIT;
	(void)cert_get_custom_ext(x, OID_ATTESTATION, &v, &e);
	buf_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > (1u << 20))
		return 0;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	X509 *x = NULL;
	if (data[0] == 0) {
		const unsigned char *q = p;
		x = d2i_X509(NULL, &q, (long)n);
	} else {
		int ok = (x = X509_new()) != NULL;
		size_t first = n >= 2 ? (size_t)(p[0] << 8 | p[1]) : 0;
		const uint8_t *q = n >= 2 ? p + 2 : p;
		size_t left = n >= 2 ? n - 2 : 0;
		if (first > left)
			first = left;
		switch (data[0] % 3) {
		case 1:
			ok = ok && add_ext(x, OID_ATTESTATION, p, n) == 0;
			break;
		case 2:
			ok = ok && add_ext(x, OID_TDX_QUOTE, q, first) == 0 &&
			     (first == left ||
			      add_ext(x, OID_EVENT_LOG, q + first, left - first) == 0);
			break;
		default:
			ok = ok && add_ext(x, PCK_EXT_OID, p, n) == 0;
			break;
		}
		if (!ok)
			abort();
	}
	if (x) {
		check_sgx(x);
		check_ratls(x);
		X509_free(x);
	}
	ERR_clear_error();
	return 0;
}
