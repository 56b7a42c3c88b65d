/*
 * fuzz_pccs.c — libFuzzer target for what the collateral source does with a
 * PCCS answer (src/collateral/collateral_pccs.c): cutting the signed tcbInfo /
 * enclaveIdentity bytes out of the bodies (collateral_raw_assemble), the CRL
 * body conversion (DER, PEM or hex of DER), the percent-decoding of issuer
 * chain headers such as TCB-Info-Issuer-Chain, and the FMSPC check. Built
 * and run by `make fuzz` / `make fuzz-smoke` with the other targets.
 *
 * The first input byte picks the path: 0 assemble (the rest is the TCB info
 * body, then after the first NUL byte the QE identity body), 1 CRL, 2 header,
 * 3 FMSPC check. Beyond "no crash, no leak, no read past the input" it checks:
 * the cut signed bytes are a part of the body they came from, a converted CRL
 * is exactly one DER CRL, a decoded header is never longer than the header,
 * and every failure carries a message.
 */
#define _GNU_SOURCE
#include "collateral/collateral_internal.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* FMSPC 90C06F000000 (the mock collateral's), platform CA. */
static const struct collateral_source_key KEY = {{0x90, 0xc0, 0x6f, 0, 0, 0},
						 COLLATERAL_SOURCE_CA_PLATFORM};

/* Not a real certificate: the assembler only checks that a chain is PEM text. */
static const char CHAIN[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

static void must_fail_with_message(int rc, const struct err *e)
{
	if (rc < 0 && !e->msg[0])
		abort();
}

static void fuzz_assemble(const uint8_t *p, size_t n)
{
	struct collateral_raw r;
	struct dcap_collateral c;
	struct err e;
	memset(&r, 0, sizeof r);
	const uint8_t *nul = memchr(p, '\0', n);
	size_t tn = nul ? (size_t)(nul - p) : n;
	if (buf_append(&r.tcb_body, p, tn) < 0 ||
	    (nul && buf_append(&r.qe_body, nul + 1, n - tn - 1) < 0) ||
	    buf_append(&r.tcb_chain, CHAIN, sizeof CHAIN - 1) < 0 ||
	    buf_append(&r.qe_chain, CHAIN, sizeof CHAIN - 1) < 0 ||
	    buf_append(&r.pck_crl_chain, CHAIN, sizeof CHAIN - 1) < 0)
		abort();
	e.msg[0] = '\0';
	int rc = collateral_raw_assemble(&r, &KEY, &c, &e);
	must_fail_with_message(rc, &e);
	if (rc == 0) {
		if (!c.tcb_info.len || !c.qe_identity.len ||
		    !memmem(r.tcb_body.p, r.tcb_body.len, c.tcb_info.p, c.tcb_info.len) ||
		    !memmem(r.qe_body.p, r.qe_body.len, c.qe_identity.p, c.qe_identity.len))
			abort();
		collateral_free(&c);
	}
	collateral_raw_free(&r);
}

static void fuzz_crl(const uint8_t *p, size_t n)
{
	struct buf out = BUF_INIT;
	struct err e;
	e.msg[0] = '\0';
	/* what a caller may already hold: the conversion appends */
	if (buf_append(&out, "x", 1) < 0)
		abort();
	int rc = collateral_crl_to_der(p, n, &out, "CRL", &e);
	must_fail_with_message(rc, &e);
	if (rc < 0 && out.len != 1)
		abort();
	if (rc == 0) {
		const unsigned char *q = out.p + 1;
		X509_CRL *crl = d2i_X509_CRL(NULL, &q, (long)(out.len - 1));
		if (!crl || q != out.p + out.len)
			abort();
		X509_CRL_free(crl);
	}
	ERR_clear_error();
	buf_free(&out);
}

static void fuzz_header(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);
	struct buf out = BUF_INIT;
	if (!s)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	if (collateral_pct_decode(s, &out) == 0) {
		size_t sl = strlen(s);
		if (out.len > sl ||
		    (!strchr(s, '%') && (out.len != sl || (sl && memcmp(out.p, s, sl)))))
			abort();
	}
	buf_free(&out);
	free(s);
}

static void fuzz_fmspc(const uint8_t *p, size_t n)
{
	struct err e;
	e.msg[0] = '\0';
	must_fail_with_message(collateral_check_fmspc((const char *)p, n, &KEY, &e), &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	switch (data[0] & 3) {
	case 0:
		fuzz_assemble(p, n);
		break;
	case 1:
		fuzz_crl(p, n);
		break;
	case 2:
		fuzz_header(p, n);
		break;
	default:
		fuzz_fmspc(p, n);
		break;
	}
	return 0;
}
