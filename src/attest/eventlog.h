/*
 * eventlog.h — TDX event logs: the TdxEvent JSON form, dstack runtime events
 * and their V1/V2 digests, RTMR replay, and the boot-time CCEL (TCG2
 * crypto-agile) log.
 *
 * Pure: bytes in, owned structs out (free with the matching _free); no I/O.
 * Every parser is bounded by its input and by EVENTLOG_MAX_EVENTS.
 * spec: attestation §4.1–§4.3, kms-protocol §9.2.
 */
#ifndef ATTEST_EVENTLOG_H
#define ATTEST_EVENTLOG_H

#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define EVENTLOG_RUNTIME_EVENT_TYPE 0x08000001u /* DSTACK_RUNTIME_EVENT_TYPE */
#define EVENTLOG_ACPI_DATA_EVENT_TYPE 10u
#define EVENTLOG_MR_LEN 48 /* SHA-384 RTMR */
/* No real log comes near this; it bounds allocation for hostile input. */
#define EVENTLOG_MAX_EVENTS 8192

/* A TdxEvent (imr is 0-based: RTMR0..3). Strings are NUL-terminated copies
 * (len excludes the NUL; a name may contain NUL bytes, so compare with len). */
struct tdx_event {
	uint32_t imr;
	uint32_t event_type;
	uint8_t *digest;
	size_t digest_len;
	char *event;
	size_t event_len;
	uint8_t *payload; /* event_payload */
	size_t payload_len;
	int version;	/* 1 or 2 (only meaningful for runtime events) */
	char *preimage; /* hex, NULL when absent */
	size_t preimage_len;
};

/* A RuntimeEvent (RTMR3). */
struct runtime_event {
	char *event;
	size_t event_len;
	uint8_t *payload;
	size_t payload_len;
	int version; /* 1 or 2 */
};

void eventlog_tdx_events_free(struct tdx_event *ev, size_t n);
void eventlog_runtime_events_free(struct runtime_event *ev, size_t n);

/* Parses a JSON array of TdxEvent (§9.2) as serde does: imr, event_type and
 * event required, event_payload required (hex), digest optional (hex),
 * version optional (1 or 2), preimage optional (string or null); unknown
 * keys ignored, duplicate keys rejected. */
int eventlog_parse_json(const void *json, size_t len, struct tdx_event **out, size_t *n,
			struct err *err);

/* The runtime events of a TDX event log: the entries of type 0x08000001, in
 * order, with their version (copies). */
int eventlog_runtime_from_tdx(const struct tdx_event *ev, size_t n, struct runtime_event **out,
			      size_t *n_out, struct err *err);

/* The digest pre-image: V1 = u32le(0x08000001) ":" name ":" payload;
 * V2 = the canonical JSON of eventlog_v2_json. Appended to out. */
int eventlog_runtime_preimage(const char *name, size_t name_len, const uint8_t *payload,
			      size_t payload_len, int version, struct buf *out);
/* {"name":<name>,"payload":"<lowercase hex>","type":134217729} with RFC 8785
 * string escaping (name must be valid UTF-8). Appended to out. */
int eventlog_v2_json(const char *name, size_t name_len, const uint8_t *payload, size_t payload_len,
		     struct buf *out);
/* SHA-384 of the pre-image. */
int eventlog_runtime_digest(const struct runtime_event *e, uint8_t out[EVENTLOG_MR_LEN],
			    struct err *err);

/* RTMR3 replay: from 48 zero bytes, mr = SHA-384(mr || digest(e)) for each
 * event; with to_event != NULL stop after the first event of that name. */
int eventlog_replay_runtime(const struct runtime_event *ev, size_t n, const char *to_event,
			    uint8_t out[EVENTLOG_MR_LEN], struct err *err);
/* Replay of one RTMR (imr 0..3) over a TdxEvent log. Runtime events use
 * their recomputed digest (as TdxEvent::digest does), others the stored one,
 * which must be 48 bytes. */
int eventlog_replay_imr(const struct tdx_event *ev, size_t n, uint32_t imr,
			uint8_t out[EVENTLOG_MR_LEN], struct err *err);

/* Every V2 runtime event must carry a hex preimage whose SHA-384 equals its
 * digest and which equals the canonical V2 JSON (§9.5 step 6). */
int eventlog_validate_v2_preimages(const struct tdx_event *ev, size_t n, struct err *err);

/* imr 0, type 10, payload "ACPI DATA". */
int eventlog_is_acpi_data_event(const struct tdx_event *e);

/* ---- CCEL (TCG PC Client crypto-agile log) ---- */

#define CCEL_MAX_DIGESTS 8

struct ccel_digest {
	uint16_t alg; /* 0x4 SHA-1, 0xB SHA-256, 0xC SHA-384, 0xD SHA-512 */
	const uint8_t *d;
	size_t len;
};

/* One TCG_PCR_EVENT2 record; pointers into the input buffer. */
struct ccel_event {
	uint32_t mr_index; /* 1-based CC MR index (1..4 = RTMR0..3) */
	uint32_t event_type;
	size_t n_digests;
	struct ccel_digest digests[CCEL_MAX_DIGESTS];
	const uint8_t *data;
	size_t data_len;
};

/* Parses the Spec ID header event and the TCG_PCR_EVENT2 records that follow,
 * up to an mr_index of 0xFFFFFFFF or the end of the buffer. *out is
 * malloc'd (free()); it points into buf. */
int eventlog_ccel_parse(const uint8_t *buf, size_t len, struct ccel_event **out, size_t *n,
			struct err *err);
/* dstack's view: drop mr_index 0, require exactly one digest per event,
 * imr = mr_index - 1, event name "", and label the three RTMR0 "ACPI DATA"
 * events acpi-loader, acpi-rsdp, acpi-tables. */
int eventlog_ccel_to_tdx(const struct ccel_event *ce, size_t n, struct tdx_event **out,
			 size_t *n_out, struct err *err);

#endif
