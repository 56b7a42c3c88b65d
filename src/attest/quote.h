/*
 * quote.h — Intel TDX DCAP quote (v4 and v5) parser: header, TD report body
 * (TD10 / TD15), signature data, QE report, QE auth data and the PCK
 * certificate chain (certification data type 6 holding type 5).
 * spec: attestation §1. Pure: bytes in, struct out; every read bounded.
 * SGX quotes (v3) are refused: the KMS is TDX-only.
 * The parsed struct points into the caller's buffer (no copies of large
 * fields), so the buffer must outlive it.
 */
#ifndef ATTEST_QUOTE_H
#define ATTEST_QUOTE_H

#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define TDX_TEE_TYPE 0x00000081u

struct tdx_report {
	uint8_t tee_tcb_svn[16];
	uint8_t mr_seam[48];
	uint8_t mr_signer_seam[48];
	uint8_t seam_attributes[8];
	uint8_t td_attributes[8];
	uint8_t xfam[8];
	uint8_t mr_td[48];
	uint8_t mr_config_id[48];
	uint8_t mr_owner[48];
	uint8_t mr_owner_config[48];
	uint8_t rtmr[4][48];
	uint8_t report_data[64];
	int is_td15; /* the two fields below are valid only for TD15 */
	uint8_t tee_tcb_svn2[16];
	uint8_t mr_service_td[48];
};

/* SGX enclave report body (the QE report), 384 bytes. */
struct sgx_report {
	uint8_t cpu_svn[16];
	uint32_t misc_select;
	uint8_t attributes[16];
	uint8_t mr_enclave[32];
	uint8_t mr_signer[32];
	uint16_t isv_prod_id;
	uint16_t isv_svn;
	uint8_t report_data[64];
};

struct tdx_quote {
	uint16_t version; /* 4 or 5 */
	uint16_t att_key_type;
	uint32_t tee_type;
	uint8_t qe_vendor_id[16];
	uint8_t user_data[20];
	uint16_t body_type; /* v5: 2 = TD10, 3 = TD15; v4: 2 */
	struct tdx_report report;
	const uint8_t *signed_data; /* header [+ descriptor] + body */
	size_t signed_len;
	uint8_t signature[64];	      /* raw r||s over signed_data */
	uint8_t attest_key[64];	      /* raw X||Y */
	const uint8_t *qe_report_raw; /* 384 bytes */
	struct sgx_report qe_report;
	uint8_t qe_report_signature[64];
	const uint8_t *qe_auth_data;
	size_t qe_auth_data_len;
	const char *pck_chain_pem; /* not NUL-terminated: use pck_chain_len */
	size_t pck_chain_len;
	/* Added: the inner certification data as found (pck_chain_pem is set only
	 * for type 5; other types need the collateral's pck_certificate_chain). */
	uint16_t cert_data_type;
	const uint8_t *cert_data;
	size_t cert_data_len;
	size_t used_len; /* end of the auth data; bytes after it (padding) are ignored */
};

/* Largest variable-length field accepted (auth data, certification data), as
 * dcap-qvl: 1 MiB. */
#define QUOTE_MAX_FIELD_LEN 1048576u

/* Parses a TDX quote (v4, or v5 with a TD10/TD15 body). Refuses SGX quotes
 * (v3, or an SGX TEE type / SGX body) with a clear message. Does not check the
 * QE vendor ID or the key type: dcap_verify does that, in dcap-qvl's order. */
int quote_parse(const uint8_t *buf, size_t len, struct tdx_quote *q, struct err *err);

/* Decodes a quote given as hex text (hex_decode_text: optional "0x" prefix,
 * whitespace ignored). Appends the bytes to out. */
int quote_hex_decode(const char *text, size_t len, struct buf *out, struct err *err);

#endif
