/*
 * simtee.h — the simulated TEE, a TEST-ONLY tool: an Intel-shaped mock DCAP
 * PKI derived from a seed, collateral signed by it, TDX quotes, RA-TLS client
 * certificates and a mock PCCS serving the collateral.
 * Never linked into dstack-kms, dstack-kmsctl or dstack-auth-eth: it lives
 * under tests/tools/simtee/ and is built only by mk/simtee.mk. It holds test
 * credentials only; nothing it makes may ever be trusted outside tests.
 * spec: attestation §1 (quote), §2.1 (collateral, PCCS API), §3 (RA-TLS), §5.
 */
#ifndef SIMTEE_H
#define SIMTEE_H

#include "util/buf.h"
#include "util/err.h"

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

/* ---- command line (common.c) ---- */

struct sim_args {
	int argc;
	char **argv;
	int i; /* index of the option being looked at */
};

/* Returns 1 and sets *val when argv[i] is `name` (value in the next argument
 * or after '='), 0 when it is another option, -1 when the value is missing. */
int sim_opt_val(struct sim_args *a, const char *name, const char **val, struct err *err);
/* Returns 1 and sets *flag = 1 when argv[i] is exactly `name`. */
int sim_opt_flag(struct sim_args *a, const char *name, int *flag);

/* Unix seconds, or an RFC 3339 UTC time "YYYY-MM-DDTHH:MM:SSZ". */
int sim_parse_time(const char *s, int64_t *t, struct err *err);
/* "YYYY-MM-DDTHH:MM:SSZ" (out >= 21 bytes). */
void sim_format_time(int64_t t, char out[32]);
int sim_parse_u64(const char *s, uint64_t max, uint64_t *v, struct err *err);
/* Hex (optional 0x) of exactly n bytes. */
int sim_parse_hex_fixed(const char *s, uint8_t *out, size_t n, const char *what, struct err *err);
/* Hex (optional 0x) of at most max bytes, appended to out. */
int sim_parse_hex(const char *s, size_t max, struct buf *out, const char *what, struct err *err);

int sim_write_file(const char *path, const void *p, size_t n, int secret, struct err *err);
int sim_read_file(const char *path, struct buf *out, struct err *err);

/* ECDSA-P256-SHA256 over msg, raw r||s (32+32 big-endian). */
int sim_sign_raw(const uint8_t scalar[32], const void *msg, size_t len, uint8_t sig[64],
		 struct err *err);
EVP_PKEY *sim_evp_key(const uint8_t scalar[32], struct err *err);

/* ---- mock PKI (pki.c) ---- */

/* Fixed QE identity values (the real TD_QE ones, attestation §2.1). */
#define SIM_QE_ISVPRODID 2
extern const uint8_t SIM_QE_MRSIGNER[32];
extern const uint8_t SIM_QE_VENDOR_ID[16];

struct sim_pki {
	X509 *root, *pck_ca, *pck, *tcb;
	uint8_t root_key[32], pck_ca_key[32], pck_key[32], tcb_key[32], att_key[32];
	/* Platform values (platform.json), also in the PCK SGX extension. */
	uint8_t fmspc[6], ppid[16], cpusvn[16], pce_id[2], tee_tcb_svn[16];
	uint16_t pcesvn, qe_isvsvn;
	int processor_ca;	  /* leaf issued by a "Processor" CA instead of "Platform" */
	struct buf pck_chain_pem; /* leaf, PCK CA, root */
	struct buf crl_url;	  /* CDP base URL, may be empty */
};

void sim_pki_free(struct sim_pki *p);
int sim_pki_load(const char *dir, struct sim_pki *p, struct err *err);
/* PEM of one certificate, appended. */
int sim_cert_pem(X509 *x, struct buf *out, struct err *err);
/* DER CRL issued by (issuer, key) with the given revoked serials. */
int sim_make_crl(X509 *issuer, const uint8_t key[32], int64_t this_update, int64_t next_update,
		 const long *revoked, size_t n_revoked, struct buf *der, struct err *err);

int sim_cmd_pki(int argc, char **argv);

/* ---- collateral (collateral.c) ---- */

struct sim_collateral {
	struct buf root_ca_crl, pck_crl; /* DER */
	struct buf pck_crl_issuer_chain, tcb_info_issuer_chain, qe_identity_issuer_chain;
	struct buf tcb_info, qe_identity;		      /* the signed JSON text */
	struct buf tcb_info_signature, qe_identity_signature; /* 64 raw bytes */
	struct buf pck_certificate_chain;		      /* empty: absent */
};

struct sim_collateral_spec {
	int64_t now;
	int have_now;
	int64_t issue_date, next_update; /* window; defaults from now */
	int have_issue_date, have_next_update;
	int64_t tcb_issue, tcb_next, qe_issue, qe_next, root_crl_next, pck_crl_next, crl_this;
	int have_tcb_issue, have_tcb_next, have_qe_issue, have_qe_next, have_root_crl_next,
	    have_pck_crl_next, have_crl_this;
	const char *status, *advisories;	 /* platform level */
	const char *qe_status, *qe_advisories;	 /* QE identity level */
	const char *mod_status, *mod_advisories; /* TDX module identity level */
	int no_matching_level, no_module_identity, reverse_levels, fmspc_lower;
	int revoke_pck, revoke_pck_ca, revoke_tcb_signer;
	int bad_tcbinfo_sig, bad_qeid_sig, with_pck_chain;
	int have_tee_tcb_svn;
	uint8_t tee_tcb_svn[16];
	int have_qe_isvsvn;
	uint16_t qe_isvsvn;
	/* tcbEvaluationDataNumber of the TCB info and of the QE identity (18) */
	int have_tcb_eval, have_qe_eval;
	uint32_t tcb_eval, qe_eval;
};

void sim_collateral_free(struct sim_collateral *c);
/* 1 and consumes an option when argv[i] is a collateral option, 0 if not, -1 on a bad value. */
int sim_collateral_opt(struct sim_args *a, struct sim_collateral_spec *s, struct err *err);
int sim_collateral_build(const struct sim_pki *p, const struct sim_collateral_spec *s,
			 struct sim_collateral *c, struct err *err);
int sim_collateral_to_json(const struct sim_collateral *c, struct buf *out, struct err *err);
int sim_collateral_from_json(const char *json, size_t len, struct sim_collateral *c,
			     struct err *err);
extern const char SIM_COLLATERAL_OPTS_HELP[];

int sim_cmd_collateral(int argc, char **argv);

/* ---- runtime events (events.c) ---- */

#define SIM_MAX_EVENTS 256

struct sim_event {
	char *name;
	struct buf payload;
};

struct sim_events {
	struct sim_event ev[SIM_MAX_EVENTS];
	size_t n;
};

void sim_events_free(struct sim_events *e);
int sim_events_add(struct sim_events *e, const char *name, const uint8_t *p, size_t n,
		   struct err *err);
/* A JSON array of {"event","payload_hex"} (or "payload": base64), or JSON lines. */
int sim_events_load(const char *path, struct sim_events *e, struct err *err);
/* V1 digest: SHA-384(u32le(0x08000001) ":" name ":" payload). spec: attestation §4.2 */
int sim_event_digest(const struct sim_event *ev, uint8_t out[48]);
/* RTMR3 replay over all events, from zero. spec: attestation §4.1, §4.3 */
int sim_events_replay(const struct sim_events *e, uint8_t out[48]);
/* [{"event","payload_hex","digest"}...] */
int sim_events_to_json(const struct sim_events *e, struct buf *out, struct err *err);
/* TdxEvent JSON array (imr 3, event_type 0x08000001, digest, event, event_payload). */
int sim_events_to_tdx_json(const struct sim_events *e, struct buf *out, struct err *err);

/* ---- quotes (quote.c) ---- */

struct sim_quote_spec {
	int version; /* 4 or 5 */
	int td15;
	uint8_t report_data[64];
	int have_report_data;
	uint8_t mr_seam[48], mr_signer_seam[48], mr_td[48], mr_config_id[48], mr_owner[48],
	    mr_owner_config[48], rtmr[4][48];
	uint8_t seam_attributes[8], td_attributes[8], xfam[8];
	uint8_t tee_tcb_svn[16];
	int have_tee_tcb_svn, have_rtmr3, have_td_attributes;
	int debug, no_sept_ve_disable;
	int tamper, bad_qe_binding, bad_qe_report_sig, no_nul;
	int have_qe_isvsvn;
	uint16_t qe_isvsvn;
	size_t pad;
	/* RTMR3 events: an events file, or the dstack boot identity events. */
	struct sim_events events;
	const char *events_file;
	struct buf app_id, compose_hash, instance_id, key_provider;
	int have_identity;
	struct buf extra_events; /* "NAME:HEX\n" lines, appended after the identity events */
};

void sim_quote_spec_init(struct sim_quote_spec *s);
void sim_quote_spec_free(struct sim_quote_spec *s);
/* 1 and consumes an option when argv[i] is a quote option, 0 if not, -1 on a bad value. */
int sim_quote_opt(struct sim_args *a, struct sim_quote_spec *s, struct err *err);
/* Resolves the events (identity flags or file) into s->events and RTMR3. */
int sim_quote_resolve_events(struct sim_quote_spec *s, struct err *err);
int sim_quote_build(const struct sim_pki *p, const struct sim_quote_spec *s, struct buf *out,
		    struct err *err);
extern const char SIM_QUOTE_OPTS_HELP[];

int sim_cmd_quote(int argc, char **argv);

/* ---- RA-TLS client certificates (ratls.c) ---- */
/* The V0 SCALE VersionedAttestation (kms-protocol §9.1): quote, the boot
 * events already encoded in boot (n_boot of them), the runtime events,
 * report data and config, appended to out. */
int sim_attestation_v0(const struct buf *quote, const struct buf *boot, size_t n_boot,
		       const struct sim_events *ev, const uint8_t report_data[64],
		       const struct buf *config, struct buf *out);

int sim_cmd_ratls_cert(int argc, char **argv);

/* ---- mock PCCS (serve.c) ---- */

int sim_cmd_serve(int argc, char **argv);
/* ---- simulated guest agent (agent.c) ---- */
int sim_cmd_agent(int argc, char **argv);
/* A simulated app's RA-TLS certificate in one command (ratls.c). */
int sim_cmd_app(int argc, char **argv);

/* ---- output ---- */

/* "simtee <cmd>: error: <msg>" on stderr; returns 1. */
int sim_fail(const char *cmd, const struct err *err);
/* "simtee <cmd>: <msg>" usage error on stderr; returns 2. */
int sim_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
