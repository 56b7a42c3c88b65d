/*
 * attest_cli.h — what the attestation subcommands of dstack-kmsctl share
 * (verify-quote, verify-ratls, decode-attestation; implemented in
 * verify_quote.c): reading evidence files, the trust anchor, --now, the
 * collateral (file or PCCS), one DCAP verification, and the JSON form of a
 * TD report. Nothing here decides policy: the library does (attest/dcap.h).
 * Errors go to stderr as one line "error: <reason>" (exit status 1).
 * spec: attestation §1 (quote), §2 (DCAP), §2.2 (trust anchor).
 */
#ifndef KMSCTL_ATTEST_CLI_H
#define KMSCTL_ATTEST_CLI_H

#include "attest/dcap.h"
#include "attest/quote.h"
#include "util/buf.h"
#include "attest/boot_info.h"
#include "util/err.h"

#include <openssl/x509.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Largest evidence file read (a hex quote is twice its size; attestations are
 * at most ATTESTATION_MAX_BYTES, hex doubles that). */
#define KMSCTL_ATT_MAX_FILE (24u * 1024u * 1024u)
/* Largest collateral JSON read. */
#define KMSCTL_ATT_MAX_COLLATERAL (8u * 1024u * 1024u)

/* Prints "error: <message>" (sanitized, one line) to stderr; returns 1. */
int kmsctl_att_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --now: decimal Unix seconds in [0, 253402300799] (up to year 9999). */
int kmsctl_att_parse_now(const char *s, int64_t *now, struct err *err);

/* Reads a whole file (at most max bytes) into out; err names the file. */
int kmsctl_att_read_file(const char *path, size_t max, struct buf *out, struct err *err);

/* 1 when p[0..n) is text (printable ASCII and whitespace only): evidence
 * given as hex, never binary evidence (a quote starts with 04 00 or 05 00). */
int kmsctl_att_is_text(const uint8_t *p, size_t n);
/* Decodes hex text (surrounding whitespace and one leading "0x"/"0X" ignored,
 * whitespace between digits allowed) into out; err names a bad character. */
int kmsctl_att_hex_text_decode(const uint8_t *p, size_t n, struct buf *out, struct err *err);
/* The bytes of a quote file: binary as is, hex text decoded. */
int kmsctl_att_quote_bytes(const uint8_t *p, size_t n, struct buf *quote, struct err *err);

/* Where the collateral and the trust anchor come from. */
struct kmsctl_att_dcap_opts {
	const char *collateral; /* JSON file, or NULL */
	const char *pccs;	/* PCCS base URL (used when collateral is NULL) */
	const char *root;	/* DER or PEM trust anchor; NULL = the pinned Intel root */
	int64_t now;
};

/* DCAP-verifies quote[0..len) at o->now (attest/dcap.h). Fails with the
 * library's reason; a missing collateral source is an error here. */
int kmsctl_att_dcap_verify(const struct kmsctl_att_dcap_opts *o, const uint8_t *quote, size_t len,
			   struct dcap_result *res, struct err *err);

/* The whole RA-TLS check of certificate x (kms-protocol §9.5): extract the
 * attestation, check it binds x's key, DCAP-verify (o), the local checks,
 * then the BootInfo (runtime view unless boottime; vm_config may be NULL). */
int kmsctl_att_verify_cert(const struct kmsctl_att_dcap_opts *o, X509 *x, int boottime,
			   const char *vm_config, size_t vm_config_len, struct boot_info *bi,
			   struct err *err);

/* Lowercase hex string (NULL on allocation failure). */
json_t *kmsctl_att_json_hex(const uint8_t *p, size_t n);
/* Adds the TD report's fields (tee_tcb_svn, mr_seam, ..., rtmr0-3,
 * report_data, TD15 extras) to obj as lowercase hex. */
int kmsctl_att_report_to_json(json_t *obj, const struct tdx_report *r);
/* Prints obj (indented, keys in insertion order) and a newline to stdout. */
int kmsctl_att_print_json(const json_t *obj, struct err *err);

#endif
