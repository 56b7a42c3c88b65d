/*
 * collateral.h — DCAP quote collateral (dcap-qvl's QuoteCollateralV3 JSON) and
 * the two signed documents inside it: TCB info (v3, TDX) and QE identity.
 * Parsing only: nothing here checks a signature, a chain or a date against
 * "now" — dcap.c does, in dcap-qvl's order. Parsers are as strict as dcap-qvl's
 * serde types (required fields, integer ranges, exact status names; unknown
 * fields ignored; duplicate keys rejected).
 * spec: attestation §2.1
 */
#ifndef ATTEST_COLLATERAL_H
#define ATTEST_COLLATERAL_H

#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

/* The collateral as stored or cached (JSON keys in comments). Byte fields hold
 * the decoded bytes; text fields hold the exact text (tcb_info and qe_identity
 * are the signed bytes). */
struct dcap_collateral {
	struct buf pck_crl_issuer_chain;     /* "pck_crl_issuer_chain": PEM, not used to verify */
	struct buf root_ca_crl;		     /* "root_ca_crl": hex of DER */
	struct buf pck_crl;		     /* "pck_crl": hex of DER */
	struct buf tcb_info_issuer_chain;    /* "tcb_info_issuer_chain": PEM, leaf first */
	struct buf tcb_info;		     /* "tcb_info": JSON text of tcbInfo */
	struct buf tcb_info_signature;	     /* "tcb_info_signature": hex of raw r||s */
	struct buf qe_identity_issuer_chain; /* "qe_identity_issuer_chain": PEM */
	struct buf qe_identity;		     /* "qe_identity": JSON text of enclaveIdentity */
	struct buf qe_identity_signature;    /* "qe_identity_signature": hex of raw r||s */
	int has_pck_certificate_chain;	     /* "pck_certificate_chain" present and not null */
	struct buf pck_certificate_chain;    /* replaces the quote's PEM chain when present */
};

void collateral_init(struct dcap_collateral *c);
void collateral_free(struct dcap_collateral *c);
/* Parses the collateral JSON into a zeroed or collateral_init'ed struct (freed
 * on failure). */
int collateral_parse(const char *json, size_t len, struct dcap_collateral *c, struct err *err);
/* Serializes in the same format (for a file cache). */
int collateral_to_json(const struct dcap_collateral *c, struct buf *out, struct err *err);
/* SHA-256 over every field (length-prefixed): the identity of a collateral set.
 * -1 (out all zero) when the digest cannot be computed (out of memory). */
int collateral_digest(const struct dcap_collateral *c, uint8_t out[32]);

/* RFC 3339 date-time ("2025-06-19T10:16:03Z", offsets and fractions allowed)
 * to Unix seconds (fraction dropped). */
int collateral_parse_rfc3339(const char *s, int64_t *out);

/* TCB status, ordered by severity (spec §2.3 step 9). */
enum dcap_tcb_status {
	DCAP_TCB_UP_TO_DATE = 0,
	DCAP_TCB_SW_HARDENING_NEEDED,
	DCAP_TCB_CONFIGURATION_NEEDED,
	DCAP_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
	DCAP_TCB_OUT_OF_DATE,
	DCAP_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
	DCAP_TCB_REVOKED,
};
const char *collateral_tcb_status_name(enum dcap_tcb_status s);

#define COLLATERAL_ADVISORY_LEN 32 /* longest accepted advisory ID, with its NUL */

struct dcap_advisories {
	size_t n;
	char (*ids)[COLLATERAL_ADVISORY_LEN];
};

struct dcap_tcb_level {
	uint8_t *sgx_svn; /* sgxtcbcomponents[].svn; the count is checked when matching */
	size_t n_sgx;
	uint8_t *tdx_svn; /* tdxtcbcomponents[].svn (default empty) */
	size_t n_tdx;
	uint16_t pcesvn;
	enum dcap_tcb_status status;
	struct dcap_advisories adv;
};

/* A level of a TDX module identity or of the QE identity: {tcb:{isvsvn}}. */
struct dcap_isv_level {
	uint16_t isvsvn;
	enum dcap_tcb_status status;
	struct dcap_advisories adv;
};

struct dcap_tdx_module {
	char *id;				       /* identities only */
	char *mrsigner, *attributes, *attributes_mask; /* hex text, decoded when matching */
	struct dcap_isv_level *levels;		       /* identities only */
	size_t n_levels;
};

struct dcap_tcb_info {
	char *id;
	uint8_t version;
	int64_t issue_date, next_update;
	char *fmspc;			     /* hex text, decoded when matching */
	uint32_t tcb_evaluation_data_number; /* grows with every TCB recovery */
	struct dcap_tcb_level *levels;
	size_t n_levels;
	int has_tdx_module;
	struct dcap_tdx_module tdx_module;
	struct dcap_tdx_module *identities;
	size_t n_identities;
};

struct dcap_qe_identity {
	char *id;
	uint8_t version;
	int64_t issue_date, next_update;
	uint32_t tcb_evaluation_data_number;
	uint8_t miscselect[4], miscselect_mask[4];
	uint8_t attributes[16], attributes_mask[16];
	uint8_t mrsigner[32];
	uint16_t isvprodid;
	struct dcap_isv_level *levels;
	size_t n_levels;
};

/* Parse the tcbInfo JSON text (dates included: a bad date is a parse error). */
int collateral_parse_tcb_info(const char *json, size_t len, struct dcap_tcb_info *t,
			      struct err *err);
void collateral_tcb_info_free(struct dcap_tcb_info *t);
/* Sort tcbLevels the way Intel QVL does (stable, descending by the SGX SVN
 * vector, then pcesvn, then — for TDX v3 info — the TDX SVN vector). */
void collateral_sort_tcb_levels(struct dcap_tcb_info *t);

int collateral_parse_qe_identity(const char *json, size_t len, struct dcap_qe_identity *q,
				 struct err *err);
void collateral_qe_identity_free(struct dcap_qe_identity *q);

#endif
