/*
 * pck_ext.h — the Intel SGX extension (OID 1.2.840.113741.1.13.1) of a PCK
 * certificate: PPID, TCB (CPUSVN, PCESVN), PCE-ID, FMSPC and SGX type
 * (spec: attestation §1.4). The one parser of it: the verifier (dcap.c) uses
 * the strict form, the collateral source reads the FMSPC, kmsctl displays
 * whatever fields are well-formed. Bounded DER reading, no allocation.
 */
#ifndef ATTEST_PCK_EXT_H
#define ATTEST_PCK_EXT_H

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#define PCK_EXT_OID "1.2.840.113741.1.13.1"

enum pck_ext_field {
	PCK_EXT_PPID,
	PCK_EXT_CPUSVN,
	PCK_EXT_PCESVN,
	PCK_EXT_PCEID,
	PCK_EXT_FMSPC,
	PCK_EXT_SGX_TYPE,
	PCK_EXT_NFIELDS
};

/* What a field's lookup found. */
enum pck_ext_state {
	PCK_EXT_ABSENT = 0,
	PCK_EXT_OK = 1,
	PCK_EXT_MALFORMED = -1, /* the SEQUENCE around it does not parse */
	PCK_EXT_BAD_LENGTH = -2,
};

struct pck_ext {
	uint8_t ppid[16], cpu_svn[16], fmspc[6], pce_id[2];
	uint16_t pce_svn;
	signed char state[PCK_EXT_NFIELDS]; /* enum pck_ext_state per field */
	size_t length[PCK_EXT_NFIELDS];	    /* the value length found */
};

/* Reads every field it can. -2 with *why when the leaf has no SGX extension,
 * -1 when it has it twice or it is not one DER SEQUENCE; else 0 with e->state naming
 * what was found per field (values are set only for PCK_EXT_OK). */
int pck_ext_read(X509 *leaf, struct pck_ext *e, char *why, size_t why_len);
/* dcap-qvl's rules: every field present and of its exact length; the first
 * failure, in the order of enum pck_ext_field, is named in *why. */
int pck_ext_parse(X509 *leaf, struct pck_ext *e, char *why, size_t why_len);

#endif
