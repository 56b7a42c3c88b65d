/*
 * guest_agent.h — client of the dstack guest agent that runs in the KMS's
 * own TDX VM (kms-protocol §12.7): `Attest` (a fresh attestation whose
 * report data is the 64 bytes asked for) and `Info` (the VM's vm_config),
 * prpc JSON over HTTP/1.1 on a Unix socket or a TCP address.
 *
 * Address: DSTACK_AGENT_ADDRESS (`unix:/path` or `http://host:port`) when
 * set, else /var/run/dstack/dstack.sock if it exists, else
 * /var/run/dstack.sock if it exists, else the first. Every call has a
 * connect and a total timeout; errors name the address. Thread-safe (one
 * call at a time).
 */
#ifndef KMS_GUEST_AGENT_H
#define KMS_GUEST_AGENT_H

#include "util/buf.h"
#include "util/err.h"

#include <stdint.h>

#define GUEST_AGENT_CONNECT_MS 5000
#define GUEST_AGENT_TIMEOUT_MS 30000

struct guest_agent;

/* Resolves the address (nothing is dialled yet). timeout_ms bounds each
 * call in all (0 = GUEST_AGENT_TIMEOUT_MS); connecting gets at most
 * GUEST_AGENT_CONNECT_MS of it. */
struct guest_agent *guest_agent_new(long timeout_ms, struct err *err);
void guest_agent_free(struct guest_agent *g);
/* "unix:/var/run/dstack.sock" or "http://host:port" */
const char *guest_agent_address(const struct guest_agent *g);

/* Attest(report_data): the VersionedAttestation bytes, appended to out. */
int guest_agent_attest(struct guest_agent *g, const uint8_t report_data[64], struct buf *out,
		       struct err *err);
/* Info(): the vm_config string (may be empty), appended to out (NUL-terminated). */
int guest_agent_info(struct guest_agent *g, struct buf *vm_config, struct err *err);

/* bootstrap_attester-shaped adapter: ud = struct guest_agent *. */
int guest_agent_attest_cb(void *ud, const uint8_t report_data[64], struct buf *out,
			  struct err *err);

#endif
