/*
 * bench_dcap.c — cost of one DCAP verification with warm collateral: verifies
 * tests/vectors/dcap-qvl/tdx_quote.bin 1000 times at its valid time (after one
 * cold verification that loads the collateral and the PCK chain) and prints
 * microseconds per verification (CPU and wall), for dcap_verify (collateral
 * hashed per call) and dcap_verify_loaded (handle kept). Never a test: it only
 * measures. spec: attestation §2 (target < 1 ms CPU per warm verification)
 *
 * Build and run (from the project root, after `make`):
 *   gcc $(make -s print-cflags) bench/bench_dcap.c build/libcore.a $(make -s print-libs) \
 *     -o build/bench_dcap && build/bench_dcap [iterations]
 */
#include "attest/collateral.h"
#include "attest/dcap.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NOW 1752919234 /* dcap-qvl's valid time for this collateral (window end - 1) */

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	long n;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (p = malloc((size_t)n + 1)) != NULL && fread(p, 1, (size_t)n, f) == (size_t)n) {
		*len = (size_t)n;
	} else {
		free(p);
		p = NULL;
	}
	fclose(f);
	return p;
}

static double secs(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int iters = argc > 1 ? atoi(argv[1]) : 1000;
	size_t qlen = 0, clen = 0;
	uint8_t *quote = slurp("tests/vectors/dcap-qvl/tdx_quote.bin", &qlen);
	uint8_t *cjson = slurp("tests/vectors/dcap-qvl/tdx_quote_collateral.json", &clen);
	struct dcap_collateral c;
	struct dcap_verifier *v;
	struct dcap_loaded *l = NULL;
	struct dcap_result r;
	struct err e = {{0}};

	if (!quote || !cjson || iters <= 0) {
		fprintf(stderr, "run from the project root: tests/vectors/dcap-qvl/ not found\n");
		return 1;
	}
	if (collateral_parse((const char *)cjson, clen, &c, &e) < 0 ||
	    !(v = dcap_verifier_new(NULL, 0, &e))) {
		fprintf(stderr, "setup: %s\n", e.msg);
		return 1;
	}
	double c0 = secs(CLOCK_PROCESS_CPUTIME_ID), w0 = secs(CLOCK_MONOTONIC);
	if (dcap_verify(v, quote, qlen, &c, NOW, &r, &e) < 0) {
		fprintf(stderr, "verify: %s\n", e.msg);
		return 1;
	}
	double cold_cpu = secs(CLOCK_PROCESS_CPUTIME_ID) - c0,
	       cold_wall = secs(CLOCK_MONOTONIC) - w0;

	c0 = secs(CLOCK_PROCESS_CPUTIME_ID);
	w0 = secs(CLOCK_MONOTONIC);
	for (int i = 0; i < iters; i++)
		if (dcap_verify(v, quote, qlen, &c, NOW, &r, &e) < 0) {
			fprintf(stderr, "verify: %s\n", e.msg);
			return 1;
		}
	double warm_cpu = secs(CLOCK_PROCESS_CPUTIME_ID) - c0,
	       warm_wall = secs(CLOCK_MONOTONIC) - w0;

	if (dcap_load_collateral(v, &c, NOW, &l, &e) < 0) {
		fprintf(stderr, "load: %s\n", e.msg);
		return 1;
	}
	c0 = secs(CLOCK_PROCESS_CPUTIME_ID);
	w0 = secs(CLOCK_MONOTONIC);
	for (int i = 0; i < iters; i++)
		if (dcap_verify_loaded(v, quote, qlen, l, NOW, &r, &e) < 0) {
			fprintf(stderr, "verify: %s\n", e.msg);
			return 1;
		}
	double h_cpu = secs(CLOCK_PROCESS_CPUTIME_ID) - c0, h_wall = secs(CLOCK_MONOTONIC) - w0;

	printf("status %s\n", r.status);
	printf("cold  (first verify, loads collateral + PCK chain): %8.1f us CPU %8.1f us wall\n",
	       cold_cpu * 1e6, cold_wall * 1e6);
	printf("warm  dcap_verify        x%d: %8.1f us CPU %8.1f us wall per verify\n", iters,
	       warm_cpu * 1e6 / iters, warm_wall * 1e6 / iters);
	printf("warm  dcap_verify_loaded x%d: %8.1f us CPU %8.1f us wall per verify\n", iters,
	       h_cpu * 1e6 / iters, h_wall * 1e6 / iters);
	dcap_loaded_release(l);
	dcap_verifier_free(v);
	collateral_free(&c);
	free(quote);
	free(cjson);
	return 0;
}
