/*
 * attestation.h — dstack's VersionedAttestation: decoding of the V0 (SCALE)
 * and V1 (MessagePack) wire formats into one in-memory form, the legacy
 * quote + JSON event-log form of older RA-TLS certificates, stripping for
 * certificate embedding (§9.4) and re-encoding.
 *
 * Pure: bytes in, an owned struct out (attestation_free); no verification
 * happens here — see appinfo.h for the local checks and ratls.h for the key
 * binding. Inputs over ATTESTATION_MAX_BYTES are refused before parsing.
 * spec: kms-protocol §9.1, §9.3, §9.4; attestation §3.3.
 */
#ifndef ATTEST_ATTESTATION_H
#define ATTEST_ATTESTATION_H

#include "attest/eventlog.h"
#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define ATTESTATION_MAX_BYTES (10u * 1024u * 1024u)

/* Platform evidence kinds; the values are the V0 SCALE tags. */
enum att_platform {
	ATT_PLATFORM_TDX = 0,		/* "tdx"            DstackTdx */
	ATT_PLATFORM_GCP_TDX = 1,	/* "gcp-tdx"        DstackGcpTdx (not supported here) */
	ATT_PLATFORM_NITRO_ENCLAVE = 2, /* "nitro-enclave"  DstackNitroEnclave */
	ATT_PLATFORM_SEV_SNP = 3,	/* "sev-snp"        DstackAmdSevSnp */
	ATT_PLATFORM_AWS_NITRO_TPM = 4, /* "aws-nitro-tpm"  DstackAwsNitroTpm */
};

enum att_stack {
	ATT_STACK_DSTACK = 0,
	ATT_STACK_DSTACK_POD = 1,
};

struct att_blob {
	uint8_t *p; /* heap, NUL-terminated (len excludes the NUL); never NULL once decoded */
	size_t len;
};

struct attestation {
	int wire_version; /* 0 = V0 SCALE (also the legacy cert form), 1 = V1 msgpack */
	enum att_platform platform;
	/* TDX: the quote and its event log (stripped form in certificates). */
	struct att_blob quote;
	struct tdx_event *event_log;
	size_t n_event_log;
	/* Non-TDX evidence is kept opaque: nitro nsm_quote / attestation_doc,
	 * SNP report (+ mr_config, certificate chain). A TDX-only KMS rejects
	 * these at app-info time. */
	struct att_blob other;
	struct att_blob snp_mr_config;
	struct att_blob *snp_cert_chain;
	size_t n_snp_cert_chain;
	/* Stack evidence. */
	enum att_stack stack;
	struct att_blob report_data; /* 64 bytes in V0; any length in V1 (checked at verify) */
	struct runtime_event *runtime_events;
	size_t n_runtime_events;
	struct att_blob config;		     /* UTF-8 JSON (VmConfig or sys-config), may be empty */
	struct att_blob report_data_payload; /* dstack-pod only */
};

void attestation_init(struct attestation *a);
void attestation_free(struct attestation *a);

/*
 * Decodes VersionedAttestation bytes (§9.1): 0x00 → V0 SCALE, a msgpack map
 * prefix (0x80..0x8f, 0xde, 0xdf) → V1, else "Unknown attestation wire
 * format". The whole input must be consumed. On failure *a is left empty.
 */
int attestation_decode(const uint8_t *buf, size_t len, struct attestation *a, struct err *err);

/*
 * The legacy certificate form (§9.3): raw quote (.1.1) and JSON TdxEvent
 * array (.1.2) → V0 attestation with runtime events = the entries of type
 * 0x08000001, report_data = the quote's REPORTDATA, config "".
 */
int attestation_from_quote_and_event_log(const uint8_t *quote, size_t quote_len,
					 const uint8_t *event_log, size_t event_log_len,
					 struct attestation *a, struct err *err);

/* Certificate stripping (§9.4), in place. */
void attestation_strip(struct attestation *a);

/* Encodes in the attestation's own wire version (V0 SCALE or V1 msgpack). V0
 * cannot carry V2 runtime events or dstack-pod stacks and fails for them. */
int attestation_encode(const struct attestation *a, struct buf *out, struct err *err);

/* "dstack-tdx", "dstack-gcp-tdx", "dstack-nitro-enclave", "dstack-amd-sev-snp",
 * "dstack-aws-nitro-tpm". */
const char *attestation_tee_variant(enum att_platform p);

#endif
