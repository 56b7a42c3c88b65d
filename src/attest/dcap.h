/*
 * dcap.h — DCAP verification of a TDX quote as dcap-qvl 0.5.2 does it
 * (spec: attestation §2), with OpenSSL. Pure: the quote, the collateral, the
 * trust anchor and the time are inputs; no I/O.
 */
#ifndef ATTEST_DCAP_H
#define ATTEST_DCAP_H

#include "attest/quote.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define DCAP_MAX_ADVISORIES 64

struct dcap_result {
	char status[48]; /* "UpToDate", "SWHardeningNeeded", ..., "OutOfDateConfigurationNeeded" */
	char advisory_ids[DCAP_MAX_ADVISORIES][32];
	size_t n_advisory;
	uint8_t ppid[16];
	uint8_t fmspc[6];
	uint8_t cpu_svn[16];
	uint16_t pce_svn;
	uint8_t pce_id[2];
};

#endif
