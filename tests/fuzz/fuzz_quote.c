/*
 * fuzz_quote.c — libFuzzer target for the TDX quote parser (attest/quote.h) and
 * the DCAP verifier (attest/dcap.h) with fixed mock collateral, plus the TCB
 * info / QE identity JSON parsers when the input starts with '{'.
 *
 * Build and run with the other targets: `make fuzz` (FUZZ_SECONDS each); the
 * vector quotes (tests/vectors/mock/quote_*.bin, tests/vectors/dcap-qvl/
 * tdx_quote*.bin) are good seeds for build-fuzz/corpus/fuzz_quote.
 *
 * Beyond "no crash, no leak, no read past the input", it checks what callers
 * rely on: a parsed quote's regions lie inside the input, the signed region
 * has one of the three legal lengths, the PEM pointer is set exactly for cert
 * type 5, every failure carries a message, and a verification that succeeds
 * reports a known status.
 */
#include "attest/collateral.h"
#include "attest/dcap.h"
#include "attest/quote.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOCK_T 1768435200

static struct dcap_verifier *g_verifier;
static struct dcap_collateral g_collateral;

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	long n;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (p = malloc((size_t)n + 1)) != NULL && fread(p, 1, (size_t)n, f) == (size_t)n)
		*len = (size_t)n;
	else {
		free(p);
		p = NULL;
	}
	fclose(f);
	return p;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t rn = 0, cn = 0;
	struct err e;
	(void)argc;
	(void)argv;
	uint8_t *root = slurp("tests/vectors/mock/mock_root_ca.der", &rn);
	uint8_t *cj = slurp("tests/vectors/mock/collateral_uptodate.json", &cn);
	if (!root || !cj || collateral_parse((const char *)cj, cn, &g_collateral, &e) < 0 ||
	    !(g_verifier = dcap_verifier_new(root, rn, &e))) {
		fprintf(stderr, "fuzz_quote: run from the project root (tests/vectors needed)\n");
		abort();
	}
	free(root);
	free(cj);
	return 0;
}

static int inside(const uint8_t *base, size_t len, const void *p, size_t n)
{
	const uint8_t *q = p;
	return q >= base && n <= len && (size_t)(q - base) <= len - n;
}

static void fuzz_json(const uint8_t *data, size_t size)
{
	struct dcap_tcb_info t;
	struct dcap_qe_identity q;
	struct dcap_collateral c;
	struct err e;
	if (collateral_parse_tcb_info((const char *)data, size, &t, &e) == 0) {
		collateral_sort_tcb_levels(&t);
		for (size_t i = 1; i < t.n_levels; i++)
			if (t.levels[i].status > DCAP_TCB_REVOKED)
				abort();
		collateral_tcb_info_free(&t);
	} else if (!e.msg[0]) {
		abort();
	}
	if (collateral_parse_qe_identity((const char *)data, size, &q, &e) == 0)
		collateral_qe_identity_free(&q);
	if (collateral_parse((const char *)data, size, &c, &e) == 0)
		collateral_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tdx_quote q;
	struct dcap_result r;
	struct err e;

	if (size && data[0] == '{') {
		fuzz_json(data, size);
		return 0;
	}
	e.msg[0] = '\0';
	if (quote_parse(data, size, &q, &e) == 0) {
		if (q.signed_len != 632 && q.signed_len != 638 && q.signed_len != 702)
			abort();
		if (q.used_len > size || q.signed_data != data ||
		    !inside(data, size, q.qe_report_raw, 384) ||
		    !inside(data, size, q.qe_auth_data, q.qe_auth_data_len) ||
		    !inside(data, size, q.cert_data, q.cert_data_len))
			abort();
		if ((q.cert_data_type == 5) !=
		    (q.pck_chain_pem != NULL && q.pck_chain_len == q.cert_data_len))
			abort();
		if (q.report.is_td15 != (q.body_type == 3))
			abort();
	} else if (!e.msg[0]) {
		abort();
	}
	e.msg[0] = '\0';
	if (dcap_verify(g_verifier, data, size, &g_collateral, MOCK_T, &r, &e) == 0) {
		if (strcmp(r.status, "UpToDate") != 0 && strcmp(r.status, "OutOfDate") != 0)
			abort();
	} else if (!e.msg[0]) {
		abort();
	}
	return 0;
}
