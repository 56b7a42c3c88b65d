/*
 * attestation.c — VersionedAttestation V0 (SCALE) / V1 (msgpack) decoding and
 * encoding, the legacy quote + event-log form, and §9.4 stripping
 * (attestation.h).
 *
 * Every field is copied into heap storage owned by struct attestation, so the
 * input buffer can be freed; copies never exceed the input size plus a fixed
 * per-event overhead (event counts are capped by EVENTLOG_MAX_EVENTS and by
 * the bytes left). Never verifies anything and never logs.
 * spec: kms-protocol §9.1, §9.3, §9.4; attestation §3.3.
 *
 * The V1 schema is derived from upstream's serde attributes only: no V1
 * sample exists upstream, so this decoder and encoder are UNVERIFIED against
 * real V1 bytes (attestation §3.3).
 */
#include "attest/attestation.h"

#include "attest/msgpack.h"
#include "attest/quote.h"
#include "attest/scale.h"
#include "util/reader.h"

#include <stdlib.h>
#include <string.h>

#define V1_ATTESTATION_VERSION 1

static int oom(struct err *err)
{
	return err_set(err, "out of memory");
}

static int blob_set(struct att_blob *b, const void *p, size_t n)
{
	if (n == SIZE_MAX)
		return -1;
	uint8_t *q = malloc(n + 1);
	if (!q)
		return -1;
	if (n)
		memcpy(q, p, n);
	q[n] = 0;
	free(b->p);
	b->p = q;
	b->len = n;
	return 0;
}

static void blob_free(struct att_blob *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

static int name_is(const char *s, size_t n, const char *want)
{
	return strlen(want) == n && memcmp(s, want, n) == 0;
}

void attestation_init(struct attestation *a)
{
	memset(a, 0, sizeof *a);
}

void attestation_free(struct attestation *a)
{
	if (!a)
		return;
	blob_free(&a->quote);
	eventlog_tdx_events_free(a->event_log, a->n_event_log);
	blob_free(&a->other);
	blob_free(&a->snp_mr_config);
	for (size_t i = 0; i < a->n_snp_cert_chain; i++)
		blob_free(&a->snp_cert_chain[i]);
	free(a->snp_cert_chain);
	blob_free(&a->report_data);
	eventlog_runtime_events_free(a->runtime_events, a->n_runtime_events);
	blob_free(&a->config);
	blob_free(&a->report_data_payload);
	memset(a, 0, sizeof *a);
}

/* Every blob of a decoded attestation is non-NULL, even when empty. */
static int fill_empty_blobs(struct attestation *a)
{
	struct att_blob *all[] = {&a->quote,	   &a->other,  &a->snp_mr_config,
				  &a->report_data, &a->config, &a->report_data_payload};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (!all[i]->p && blob_set(all[i], "", 0) < 0)
			return -1;
	return 0;
}

const char *attestation_tee_variant(enum att_platform p)
{
	switch (p) {
	case ATT_PLATFORM_TDX:
		return "dstack-tdx";
	case ATT_PLATFORM_GCP_TDX:
		return "dstack-gcp-tdx";
	case ATT_PLATFORM_NITRO_ENCLAVE:
		return "dstack-nitro-enclave";
	case ATT_PLATFORM_SEV_SNP:
		return "dstack-amd-sev-snp";
	case ATT_PLATFORM_AWS_NITRO_TPM:
		return "dstack-aws-nitro-tpm";
	}
	return "unknown";
}

/* ======================= V0 (SCALE) ======================= */

static int v0_blob(struct reader *r, struct att_blob *b, const char *what, struct err *err)
{
	const uint8_t *p;
	size_t n;
	if (scale_bytes(r, &p, &n, err) < 0)
		return err_wrap(err, "%s", what);
	return blob_set(b, p, n) < 0 ? oom(err) : 0;
}

static int v0_string(struct reader *r, char **s, size_t *len, const char *what, struct err *err)
{
	const char *p;
	size_t n;
	if (scale_string(r, &p, &n, err) < 0)
		return err_wrap(err, "%s", what);
	struct att_blob b = {0};
	if (blob_set(&b, p, n) < 0)
		return oom(err);
	*s = (char *)b.p;
	*len = n;
	return 0;
}

/* TdxEvent = imr u32, event_type u32, digest Vec<u8>, event String,
 * event_payload Vec<u8> (version/preimage are not encoded: always V1). */
static int v0_tdx_events(struct reader *r, struct attestation *a, struct err *err)
{
	size_t n;
	if (scale_len(r, 11, &n, err) < 0)
		return err_wrap(err, "event_log");
	if (n > EVENTLOG_MAX_EVENTS)
		return err_set(err, "event_log: more than %d events", EVENTLOG_MAX_EVENTS);
	if (n && !(a->event_log = calloc(n, sizeof *a->event_log)))
		return oom(err);
	for (size_t i = 0; i < n; i++) {
		struct tdx_event *e = &a->event_log[i];
		struct att_blob d = {0}, p = {0};
		a->n_event_log = i + 1;
		e->version = 1;
		if (scale_u32(r, &e->imr, err) < 0 || scale_u32(r, &e->event_type, err) < 0)
			return err_wrap(err, "event_log[%zu]", i);
		TRY(v0_blob(r, &d, "event_log digest", err));
		e->digest = d.p, e->digest_len = d.len;
		TRY(v0_string(r, &e->event, &e->event_len, "event_log event", err));
		TRY(v0_blob(r, &p, "event_log event_payload", err));
		e->payload = p.p, e->payload_len = p.len;
	}
	return 0;
}

static int v0_runtime_events(struct reader *r, struct attestation *a, struct err *err)
{
	size_t n;
	if (scale_len(r, 2, &n, err) < 0)
		return err_wrap(err, "runtime_events");
	if (n > EVENTLOG_MAX_EVENTS)
		return err_set(err, "runtime_events: more than %d events", EVENTLOG_MAX_EVENTS);
	if (n && !(a->runtime_events = calloc(n, sizeof *a->runtime_events)))
		return oom(err);
	for (size_t i = 0; i < n; i++) {
		struct runtime_event *e = &a->runtime_events[i];
		struct att_blob p = {0};
		a->n_runtime_events = i + 1;
		e->version = 1;
		TRY(v0_string(r, &e->event, &e->event_len, "runtime event name", err));
		TRY(v0_blob(r, &p, "runtime event payload", err));
		e->payload = p.p, e->payload_len = p.len;
	}
	return 0;
}

static int v0_decode(struct reader *r, struct attestation *a, struct err *err)
{
	uint8_t tag;
	TRY(scale_u8(r, &tag, err)); /* the V0 enum tag, already known to be 0 */
	a->wire_version = 0;
	a->stack = ATT_STACK_DSTACK;
	TRY(scale_u8(r, &tag, err));
	switch (tag) {
	case ATT_PLATFORM_TDX:
		TRY(v0_blob(r, &a->quote, "quote", err));
		TRY(v0_tdx_events(r, a, err));
		break;
	case ATT_PLATFORM_GCP_TDX:
		return err_set(err, "attestation variant dstack-gcp-tdx is not supported");
	case ATT_PLATFORM_NITRO_ENCLAVE:
	case ATT_PLATFORM_AWS_NITRO_TPM:
		TRY(v0_blob(r, &a->other, "platform evidence", err));
		break;
	case ATT_PLATFORM_SEV_SNP: {
		TRY(v0_blob(r, &a->other, "sev-snp report", err));
		size_t n;
		if (scale_len(r, 1, &n, err) < 0)
			return err_wrap(err, "sev-snp cert_chain");
		if (n > EVENTLOG_MAX_EVENTS)
			return err_set(err, "sev-snp cert_chain too long");
		if (n && !(a->snp_cert_chain = calloc(n, sizeof *a->snp_cert_chain)))
			return oom(err);
		for (size_t i = 0; i < n; i++) {
			a->n_snp_cert_chain = i + 1;
			TRY(v0_blob(r, &a->snp_cert_chain[i], "sev-snp cert_chain", err));
		}
		char *s = NULL;
		size_t slen = 0;
		TRY(v0_string(r, &s, &slen, "sev-snp mr_config", err));
		a->snp_mr_config.p = (uint8_t *)s, a->snp_mr_config.len = slen;
		break;
	}
	default:
		return err_set(err, "unknown attestation quote variant %u", tag);
	}
	a->platform = (enum att_platform)tag;
	TRY(v0_runtime_events(r, a, err));
	const uint8_t *rd;
	if (rd_bytes(r, 64, &rd) < 0)
		return err_set(err, "SCALE: truncated input reading report_data");
	if (blob_set(&a->report_data, rd, 64) < 0)
		return oom(err);
	char *cfg = NULL;
	size_t cfg_len = 0;
	TRY(v0_string(r, &cfg, &cfg_len, "config", err));
	a->config.p = (uint8_t *)cfg, a->config.len = cfg_len;
	if (rd_left(r) != 0)
		return err_set(err, "Trailing bytes after legacy VersionedAttestation: %zu",
			       rd_left(r));
	return 0;
}

/* ======================= V1 (msgpack) ======================= */

/* Reads a map and calls fn for each key; the callback must consume the value.
 * Duplicate keys are rejected (serde's "duplicate field"), unknown keys are
 * skipped by the callback returning 1. */
typedef int (*field_fn)(struct reader *r, const char *key, size_t klen, void *ctx, int depth,
			struct err *err);

#define MAX_FIELDS 16

static int v1_map(struct reader *r, int depth, field_fn fn, void *ctx, const char *what,
		  struct err *err)
{
	size_t n;
	if (depth >= MP_MAX_DEPTH)
		return err_set(err, "msgpack: nesting deeper than %d", MP_MAX_DEPTH);
	if (mp_read_map(r, &n, err) < 0)
		return err_wrap(err, "%s", what);
	const char *seen[MAX_FIELDS];
	size_t seen_len[MAX_FIELDS], nseen = 0;
	for (size_t i = 0; i < n; i++) {
		const char *k;
		size_t klen;
		if (mp_read_str(r, &k, &klen, err) < 0)
			return err_wrap(err, "%s: map key", what);
		int rc = fn(r, k, klen, ctx, depth + 1, err);
		if (rc < 0)
			return err_wrap(err, "%s", what);
		if (rc > 0) { /* unknown field */
			if (mp_skip(r, depth + 1, err) < 0)
				return err_wrap(err, "%s", what);
			continue;
		}
		for (size_t j = 0; j < nseen; j++)
			if (seen_len[j] == klen && memcmp(seen[j], k, klen) == 0)
				return err_set(err, "%s: duplicate field `%.*s`", what, (int)klen,
					       k);
		if (nseen < MAX_FIELDS) {
			seen[nseen] = k;
			seen_len[nseen++] = klen;
		}
	}
	return 0;
}

/* A byte field: bin, or an array of integers 0..255 (serde's plain Vec<u8>). */
static int v1_bytes(struct reader *r, struct att_blob *b, struct err *err)
{
	struct mp_item it;
	TRY(mp_next(r, &it, err));
	if (it.type == MP_BIN)
		return blob_set(b, it.p, it.len) < 0 ? oom(err) : 0;
	if (it.type != MP_ARRAY)
		return err_set(err, "expected bytes (bin or array of u8)");
	if (it.len == SIZE_MAX)
		return oom(err);
	uint8_t *q = malloc(it.len + 1);
	if (!q)
		return oom(err);
	for (size_t i = 0; i < it.len; i++) {
		uint64_t v;
		if (mp_read_uint(r, &v, err) < 0 || v > 255) {
			free(q);
			return err_set(err, "expected bytes (bin or array of u8)");
		}
		q[i] = (uint8_t)v;
	}
	q[it.len] = 0;
	free(b->p);
	b->p = q;
	b->len = it.len;
	return 0;
}

static int v1_string(struct reader *r, char **s, size_t *len, struct err *err)
{
	const char *p;
	size_t n;
	TRY(mp_read_str(r, &p, &n, err));
	struct att_blob b = {0};
	if (blob_set(&b, p, n) < 0)
		return oom(err);
	free(*s);
	*s = (char *)b.p;
	*len = n;
	return 0;
}

static int v1_u32(struct reader *r, uint32_t *v, struct err *err)
{
	uint64_t x;
	TRY(mp_read_uint(r, &x, err));
	if (x > UINT32_MAX)
		return err_set(err, "integer out of range for u32");
	*v = (uint32_t)x;
	return 0;
}

static int v1_version(struct reader *r, int *version, struct err *err)
{
	uint32_t v = 0;
	TRY(v1_u32(r, &v, err));
	if (v != 1 && v != 2)
		return err_set(err, "unknown event log version: %u", v);
	*version = (int)v;
	return 0;
}

enum { F_IMR = 1, F_TYPE = 2, F_EVENT = 4, F_PAYLOAD = 8, F_DIGEST = 16 };

struct tdx_event_ctx {
	struct tdx_event *e;
	unsigned have;
};

static int tdx_event_field(struct reader *r, const char *k, size_t kl, void *vctx, int depth,
			   struct err *err)
{
	struct tdx_event_ctx *c = vctx;
	struct tdx_event *e = c->e;
	struct att_blob b = {0};
	(void)depth;
	if (name_is(k, kl, "imr")) {
		c->have |= F_IMR;
		return v1_u32(r, &e->imr, err);
	}
	if (name_is(k, kl, "event_type")) {
		c->have |= F_TYPE;
		return v1_u32(r, &e->event_type, err);
	}
	if (name_is(k, kl, "digest")) {
		c->have |= F_DIGEST;
		b.p = e->digest;
		TRY(v1_bytes(r, &b, err));
		e->digest = b.p, e->digest_len = b.len;
		return 0;
	}
	if (name_is(k, kl, "event")) {
		c->have |= F_EVENT;
		return v1_string(r, &e->event, &e->event_len, err);
	}
	if (name_is(k, kl, "event_payload")) {
		c->have |= F_PAYLOAD;
		b.p = e->payload;
		TRY(v1_bytes(r, &b, err));
		e->payload = b.p, e->payload_len = b.len;
		return 0;
	}
	if (name_is(k, kl, "version"))
		return v1_version(r, &e->version, err);
	if (name_is(k, kl, "preimage")) {
		int nil;
		TRY(mp_next_is_nil(r, &nil, err));
		if (nil)
			return 0;
		return v1_string(r, &e->preimage, &e->preimage_len, err);
	}
	return 1;
}

static int v1_tdx_event_log(struct reader *r, int depth, struct attestation *a, struct err *err)
{
	size_t n;
	TRY(mp_read_array(r, &n, err));
	if (n > EVENTLOG_MAX_EVENTS)
		return err_set(err, "event_log: more than %d events", EVENTLOG_MAX_EVENTS);
	eventlog_tdx_events_free(a->event_log, a->n_event_log);
	a->event_log = NULL;
	a->n_event_log = 0;
	if (n && !(a->event_log = calloc(n, sizeof *a->event_log)))
		return oom(err);
	for (size_t i = 0; i < n; i++) {
		struct tdx_event_ctx c = {.e = &a->event_log[i]};
		a->n_event_log = i + 1;
		c.e->version = 1;
		if (v1_map(r, depth + 1, tdx_event_field, &c, "TdxEvent", err) < 0)
			return err_wrap(err, "event_log[%zu]", i);
		if ((c.have & (F_IMR | F_TYPE | F_EVENT | F_PAYLOAD)) !=
		    (F_IMR | F_TYPE | F_EVENT | F_PAYLOAD))
			return err_set(err, "event_log[%zu]: missing field", i);
		if (!c.e->digest && !(c.e->digest = calloc(1, 1)))
			return oom(err);
	}
	return 0;
}

struct runtime_event_ctx {
	struct runtime_event *e;
	unsigned have;
};

static int runtime_event_field(struct reader *r, const char *k, size_t kl, void *vctx, int depth,
			       struct err *err)
{
	struct runtime_event_ctx *c = vctx;
	struct runtime_event *e = c->e;
	(void)depth;
	if (name_is(k, kl, "event")) {
		c->have |= F_EVENT;
		return v1_string(r, &e->event, &e->event_len, err);
	}
	if (name_is(k, kl, "payload")) {
		struct att_blob b = {.p = e->payload};
		c->have |= F_PAYLOAD;
		TRY(v1_bytes(r, &b, err));
		e->payload = b.p, e->payload_len = b.len;
		return 0;
	}
	if (name_is(k, kl, "version"))
		return v1_version(r, &e->version, err);
	return 1;
}

static int v1_runtime_events(struct reader *r, int depth, struct attestation *a, struct err *err)
{
	size_t n;
	TRY(mp_read_array(r, &n, err));
	if (n > EVENTLOG_MAX_EVENTS)
		return err_set(err, "runtime_events: more than %d events", EVENTLOG_MAX_EVENTS);
	eventlog_runtime_events_free(a->runtime_events, a->n_runtime_events);
	a->runtime_events = NULL;
	a->n_runtime_events = 0;
	if (n && !(a->runtime_events = calloc(n, sizeof *a->runtime_events)))
		return oom(err);
	for (size_t i = 0; i < n; i++) {
		struct runtime_event_ctx c = {.e = &a->runtime_events[i]};
		a->n_runtime_events = i + 1;
		c.e->version = 1;
		if (v1_map(r, depth + 1, runtime_event_field, &c, "RuntimeEvent", err) < 0)
			return err_wrap(err, "runtime_events[%zu]", i);
		if ((c.have & (F_EVENT | F_PAYLOAD)) != (F_EVENT | F_PAYLOAD))
			return err_set(err, "runtime_events[%zu]: missing field", i);
	}
	return 0;
}

/* An adjacently tagged enum {"kind": str, "data": value}, in either order. */
struct tagged {
	const char *kind;
	size_t kind_len;
	int has_kind, has_data;
	struct reader data;
};

static int tagged_field(struct reader *r, const char *k, size_t kl, void *vctx, int depth,
			struct err *err)
{
	struct tagged *t = vctx;
	if (name_is(k, kl, "kind")) {
		t->has_kind = 1;
		return mp_read_str(r, &t->kind, &t->kind_len, err);
	}
	if (name_is(k, kl, "data")) {
		size_t start = r->off;
		TRY(mp_skip(r, depth, err));
		reader_init(&t->data, r->p + start, r->off - start);
		t->has_data = 1;
		return 0;
	}
	return 1;
}

static int v1_tagged(struct reader *r, int depth, struct tagged *t, const char *what,
		     struct err *err)
{
	memset(t, 0, sizeof *t);
	TRY(v1_map(r, depth, tagged_field, t, what, err));
	if (!t->has_kind)
		return err_set(err, "%s: missing field `kind`", what);
	if (!t->has_data)
		return err_set(err, "%s: missing field `data`", what);
	return 0;
}

struct platform_ctx {
	struct attestation *a;
	unsigned have;
};

enum { P_QUOTE = 1, P_EVENT_LOG = 2, P_OTHER = 4, P_CHAIN = 8, P_MRCFG = 16 };

static int platform_field(struct reader *r, const char *k, size_t kl, void *vctx, int depth,
			  struct err *err)
{
	struct platform_ctx *c = vctx;
	struct attestation *a = c->a;
	switch (a->platform) {
	case ATT_PLATFORM_TDX:
		if (name_is(k, kl, "quote")) {
			c->have |= P_QUOTE;
			return v1_bytes(r, &a->quote, err);
		}
		if (name_is(k, kl, "event_log")) {
			c->have |= P_EVENT_LOG;
			return v1_tdx_event_log(r, depth, a, err);
		}
		return 1;
	case ATT_PLATFORM_NITRO_ENCLAVE:
	case ATT_PLATFORM_AWS_NITRO_TPM:
		if (name_is(k, kl,
			    a->platform == ATT_PLATFORM_NITRO_ENCLAVE ? "nsm_quote"
								      : "attestation_doc")) {
			c->have |= P_OTHER;
			return v1_bytes(r, &a->other, err);
		}
		return 1;
	case ATT_PLATFORM_SEV_SNP:
		if (name_is(k, kl, "report")) {
			c->have |= P_OTHER;
			return v1_bytes(r, &a->other, err);
		}
		if (name_is(k, kl, "mr_config")) {
			char *s = (char *)a->snp_mr_config.p;
			c->have |= P_MRCFG;
			a->snp_mr_config.p = NULL;
			int rc = v1_string(r, &s, &a->snp_mr_config.len, err);
			a->snp_mr_config.p = (uint8_t *)s;
			return rc;
		}
		if (name_is(k, kl, "cert_chain")) {
			size_t n;
			c->have |= P_CHAIN;
			TRY(mp_read_array(r, &n, err));
			for (size_t i = 0; i < a->n_snp_cert_chain; i++)
				blob_free(&a->snp_cert_chain[i]);
			free(a->snp_cert_chain);
			a->snp_cert_chain = NULL;
			a->n_snp_cert_chain = 0;
			if (n > EVENTLOG_MAX_EVENTS)
				return err_set(err, "sev-snp cert_chain too long");
			if (n && !(a->snp_cert_chain = calloc(n, sizeof *a->snp_cert_chain)))
				return oom(err);
			for (size_t i = 0; i < n; i++) {
				a->n_snp_cert_chain = i + 1;
				TRY(v1_bytes(r, &a->snp_cert_chain[i], err));
			}
			return 0;
		}
		return 1;
	case ATT_PLATFORM_GCP_TDX:
		break;
	}
	return 1;
}

static int v1_platform(struct reader *r, int depth, struct attestation *a, struct err *err)
{
	struct tagged t;
	TRY(v1_tagged(r, depth, &t, "platform", err));
	unsigned need;
	if (name_is(t.kind, t.kind_len, "tdx")) {
		a->platform = ATT_PLATFORM_TDX;
		need = P_QUOTE | P_EVENT_LOG;
	} else if (name_is(t.kind, t.kind_len, "nitro-enclave")) {
		a->platform = ATT_PLATFORM_NITRO_ENCLAVE;
		need = P_OTHER;
	} else if (name_is(t.kind, t.kind_len, "aws-nitro-tpm")) {
		a->platform = ATT_PLATFORM_AWS_NITRO_TPM;
		need = P_OTHER;
	} else if (name_is(t.kind, t.kind_len, "sev-snp")) {
		a->platform = ATT_PLATFORM_SEV_SNP;
		need = P_OTHER | P_CHAIN | P_MRCFG;
	} else if (name_is(t.kind, t.kind_len, "gcp-tdx")) {
		return err_set(err, "attestation variant dstack-gcp-tdx is not supported");
	} else {
		return err_set(err, "platform: unknown variant `%.*s`", (int)t.kind_len, t.kind);
	}
	struct platform_ctx c = {.a = a};
	TRY(v1_map(&t.data, depth, platform_field, &c, "platform.data", err));
	if ((c.have & need) != need)
		return err_set(err, "platform.data: missing field");
	return 0;
}

enum { S_REPORT_DATA = 1, S_RUNTIME = 2, S_CONFIG = 4, S_PAYLOAD = 8 };

struct stack_ctx {
	struct attestation *a;
	unsigned have;
};

static int stack_field(struct reader *r, const char *k, size_t kl, void *vctx, int depth,
		       struct err *err)
{
	struct stack_ctx *c = vctx;
	struct attestation *a = c->a;
	if (name_is(k, kl, "report_data")) {
		c->have |= S_REPORT_DATA;
		return v1_bytes(r, &a->report_data, err);
	}
	if (name_is(k, kl, "runtime_events")) {
		c->have |= S_RUNTIME;
		return v1_runtime_events(r, depth, a, err);
	}
	if (name_is(k, kl, "config") ||
	    (a->stack == ATT_STACK_DSTACK_POD && name_is(k, kl, "report_data_payload"))) {
		struct att_blob *b = k[0] == 'c' ? &a->config : &a->report_data_payload;
		char *s = (char *)b->p;
		c->have |= k[0] == 'c' ? S_CONFIG : S_PAYLOAD;
		b->p = NULL;
		int rc = v1_string(r, &s, &b->len, err);
		b->p = (uint8_t *)s;
		return rc;
	}
	return 1;
}

static int v1_stack(struct reader *r, int depth, struct attestation *a, struct err *err)
{
	struct tagged t;
	TRY(v1_tagged(r, depth, &t, "stack", err));
	unsigned need = S_REPORT_DATA | S_RUNTIME | S_CONFIG;
	if (name_is(t.kind, t.kind_len, "dstack")) {
		a->stack = ATT_STACK_DSTACK;
	} else if (name_is(t.kind, t.kind_len, "dstack-pod")) {
		a->stack = ATT_STACK_DSTACK_POD;
		need |= S_PAYLOAD;
	} else {
		return err_set(err, "stack: unknown variant `%.*s`", (int)t.kind_len, t.kind);
	}
	struct stack_ctx c = {.a = a};
	TRY(v1_map(&t.data, depth, stack_field, &c, "stack.data", err));
	if ((c.have & need) != need)
		return err_set(err, "stack.data: missing field");
	return 0;
}

struct top_ctx {
	struct attestation *a;
	uint64_t version;
	unsigned have;
};

static int top_field(struct reader *r, const char *k, size_t kl, void *vctx, int depth,
		     struct err *err)
{
	struct top_ctx *c = vctx;
	if (name_is(k, kl, "version")) {
		c->have |= 1;
		return mp_read_uint(r, &c->version, err);
	}
	if (name_is(k, kl, "platform")) {
		c->have |= 2;
		return v1_platform(r, depth, c->a, err);
	}
	if (name_is(k, kl, "stack")) {
		c->have |= 4;
		return v1_stack(r, depth, c->a, err);
	}
	return 1;
}

static int v1_decode(struct reader *r, struct attestation *a, struct err *err)
{
	struct top_ctx c = {.a = a};
	a->wire_version = 1;
	if (v1_map(r, 0, top_field, &c, "attestation", err) < 0)
		return err_wrap(err, "failed to decode attestation from msgpack");
	if (c.have != 7)
		return err_set(err, "failed to decode attestation from msgpack: missing field");
	if (rd_left(r) != 0)
		return err_set(err, "trailing bytes after attestation msgpack: %zu", rd_left(r));
	if (c.version != V1_ATTESTATION_VERSION)
		return err_set(err, "unsupported attestation version: expected 1, got %llu",
			       (unsigned long long)c.version);
	return 0;
}

int attestation_decode(const uint8_t *buf, size_t len, struct attestation *a, struct err *err)
{
	struct reader r;
	int rc;
	attestation_init(a);
	if (len > ATTESTATION_MAX_BYTES)
		return err_set(err, "attestation bytes too large: %zu > %u", len,
			       ATTESTATION_MAX_BYTES);
	if (len == 0)
		return err_set(err, "Empty attestation bytes");
	reader_init(&r, buf, len);
	uint8_t first = buf[0];
	if (first == 0x00) {
		rc = v0_decode(&r, a, err);
		if (rc < 0)
			err_wrap(err, "Failed to decode legacy VersionedAttestation");
	} else if ((first >= 0x80 && first <= 0x8f) || first == 0xde || first == 0xdf) {
		rc = v1_decode(&r, a, err);
	} else {
		return err_set(err, "Unknown attestation wire format");
	}
	if (rc == 0 && fill_empty_blobs(a) < 0)
		rc = oom(err);
	if (rc < 0)
		attestation_free(a);
	return rc;
}

/* ======================= legacy cert form ======================= */

int attestation_from_quote_and_event_log(const uint8_t *quote, size_t quote_len,
					 const uint8_t *event_log, size_t event_log_len,
					 struct attestation *a, struct err *err)
{
	struct tdx_quote q;
	attestation_init(a);
	if (quote_len > ATTESTATION_MAX_BYTES || event_log_len > ATTESTATION_MAX_BYTES)
		return err_set(err, "attestation bytes too large");
	a->wire_version = 0;
	a->platform = ATT_PLATFORM_TDX;
	a->stack = ATT_STACK_DSTACK;
	if (eventlog_parse_json(event_log, event_log_len, &a->event_log, &a->n_event_log, err) < 0)
		goto fail;
	if (eventlog_runtime_from_tdx(a->event_log, a->n_event_log, &a->runtime_events,
				      &a->n_runtime_events, err) < 0)
		goto fail;
	if (quote_parse(quote, quote_len, &q, err) < 0) {
		err_wrap(err, "Invalid TDX quote");
		goto fail;
	}
	if (blob_set(&a->quote, quote, quote_len) < 0 ||
	    blob_set(&a->report_data, q.report.report_data, 64) < 0 || fill_empty_blobs(a) < 0) {
		oom(err);
		goto fail;
	}
	return 0;
fail:
	err_wrap(err, "Failed to create attestation from TDX quote");
	attestation_free(a);
	return -1;
}

/* ======================= stripping ======================= */

/* spec: kms-protocol §9.4 — ACPI DATA events keep their digest (payload
 * forced to "ACPI DATA"); imr-3 runtime events keep payload and lose their
 * digest; other imr-3 events keep digest and lose payload; the rest go. The
 * version and preimage are kept as upstream's TdxEvent::stripped does. */
void attestation_strip(struct attestation *a)
{
	if (a->platform != ATT_PLATFORM_TDX)
		return;
	size_t k = 0;
	for (size_t i = 0; i < a->n_event_log; i++) {
		struct tdx_event e = a->event_log[i];
		int acpi = eventlog_is_acpi_data_event(&e);
		if (!acpi && e.imr != 3) {
			free(e.digest);
			free(e.event);
			free(e.payload);
			free(e.preimage);
			continue;
		}
		/* An ACPI DATA event never has the runtime type. Buffers keep
		 * their storage; only the length shrinks to zero. */
		if (e.event_type == EVENTLOG_RUNTIME_EVENT_TYPE)
			e.digest_len = 0;
		else if (!acpi)
			e.payload_len = 0;
		a->event_log[k++] = e;
	}
	a->n_event_log = k;
	if (k == 0) {
		free(a->event_log);
		a->event_log = NULL;
	}
}

/* ======================= encoding ======================= */

static int v0_encode(const struct attestation *a, struct buf *out, struct err *err)
{
	if (a->stack != ATT_STACK_DSTACK)
		return err_set(err, "dstack-pod attestation cannot be represented by the legacy "
				    "schema");
	for (size_t i = 0; i < a->n_runtime_events; i++)
		if (a->runtime_events[i].version != 1)
			return err_set(err, "non-V1 runtime events cannot be represented by the "
					    "legacy schema");
	if (a->report_data.len != 64)
		return err_set(err, "stack.report_data must be 64 bytes");
	int bad = buf_append_byte(out, 0) < 0 || buf_append_byte(out, (uint8_t)a->platform) < 0;
	switch (a->platform) {
	case ATT_PLATFORM_TDX:
		bad = bad || scale_put_bytes(out, a->quote.p, a->quote.len) < 0 ||
		      scale_put_compact(out, a->n_event_log) < 0;
		for (size_t i = 0; !bad && i < a->n_event_log; i++) {
			const struct tdx_event *e = &a->event_log[i];
			bad = scale_put_u32(out, e->imr) < 0 ||
			      scale_put_u32(out, e->event_type) < 0 ||
			      scale_put_bytes(out, e->digest, e->digest_len) < 0 ||
			      scale_put_bytes(out, e->event, e->event_len) < 0 ||
			      scale_put_bytes(out, e->payload, e->payload_len) < 0;
		}
		break;
	case ATT_PLATFORM_NITRO_ENCLAVE:
	case ATT_PLATFORM_AWS_NITRO_TPM:
		bad = bad || scale_put_bytes(out, a->other.p, a->other.len) < 0;
		break;
	case ATT_PLATFORM_SEV_SNP:
		bad = bad || scale_put_bytes(out, a->other.p, a->other.len) < 0 ||
		      scale_put_compact(out, a->n_snp_cert_chain) < 0;
		for (size_t i = 0; !bad && i < a->n_snp_cert_chain; i++)
			bad = scale_put_bytes(out, a->snp_cert_chain[i].p,
					      a->snp_cert_chain[i].len) < 0;
		bad = bad || scale_put_bytes(out, a->snp_mr_config.p, a->snp_mr_config.len) < 0;
		break;
	case ATT_PLATFORM_GCP_TDX:
		return err_set(err, "attestation variant dstack-gcp-tdx is not supported");
	}
	bad = bad || scale_put_compact(out, a->n_runtime_events) < 0;
	for (size_t i = 0; !bad && i < a->n_runtime_events; i++) {
		const struct runtime_event *e = &a->runtime_events[i];
		bad = scale_put_bytes(out, e->event, e->event_len) < 0 ||
		      scale_put_bytes(out, e->payload, e->payload_len) < 0;
	}
	bad = bad || buf_append(out, a->report_data.p, 64) < 0 ||
	      scale_put_bytes(out, a->config.p, a->config.len) < 0;
	return bad ? oom(err) : 0;
}

static int put_key(struct buf *b, const char *k)
{
	return mp_put_str(b, k, strlen(k));
}

/* rmp_serde::to_vec_named: structs as maps in declaration order, optional
 * fields omitted as serde's skip_serializing_if does. UNVERIFIED (no V1
 * sample exists upstream). */
static int v1_encode(const struct attestation *a, struct buf *b, struct err *err)
{
	int bad = mp_put_map(b, 3) < 0 || put_key(b, "version") < 0 ||
		  mp_put_uint(b, V1_ATTESTATION_VERSION) < 0 || put_key(b, "platform") < 0 ||
		  mp_put_map(b, 2) < 0 || put_key(b, "kind") < 0;
	switch (a->platform) {
	case ATT_PLATFORM_TDX:
		bad = bad || put_key(b, "tdx") < 0 || put_key(b, "data") < 0 ||
		      mp_put_map(b, 2) < 0 || put_key(b, "quote") < 0 ||
		      mp_put_u8_array(b, a->quote.p, a->quote.len) < 0 ||
		      put_key(b, "event_log") < 0 || mp_put_array(b, a->n_event_log) < 0;
		for (size_t i = 0; !bad && i < a->n_event_log; i++) {
			const struct tdx_event *e = &a->event_log[i];
			size_t nf = 5 + (e->version == 2) + (e->preimage != NULL);
			bad = mp_put_map(b, nf) < 0 || put_key(b, "imr") < 0 ||
			      mp_put_uint(b, e->imr) < 0 || put_key(b, "event_type") < 0 ||
			      mp_put_uint(b, e->event_type) < 0 || put_key(b, "digest") < 0 ||
			      mp_put_bin(b, e->digest, e->digest_len) < 0 ||
			      put_key(b, "event") < 0 ||
			      mp_put_str(b, e->event, e->event_len) < 0 ||
			      put_key(b, "event_payload") < 0 ||
			      mp_put_bin(b, e->payload, e->payload_len) < 0;
			if (!bad && e->version == 2)
				bad = put_key(b, "version") < 0 || mp_put_uint(b, 2) < 0;
			if (!bad && e->preimage)
				bad = put_key(b, "preimage") < 0 ||
				      mp_put_str(b, e->preimage, e->preimage_len) < 0;
		}
		break;
	case ATT_PLATFORM_NITRO_ENCLAVE:
	case ATT_PLATFORM_AWS_NITRO_TPM: {
		int nitro = a->platform == ATT_PLATFORM_NITRO_ENCLAVE;
		bad = bad || put_key(b, nitro ? "nitro-enclave" : "aws-nitro-tpm") < 0 ||
		      put_key(b, "data") < 0 || mp_put_map(b, 1) < 0 ||
		      put_key(b, nitro ? "nsm_quote" : "attestation_doc") < 0 ||
		      mp_put_u8_array(b, a->other.p, a->other.len) < 0;
		break;
	}
	case ATT_PLATFORM_SEV_SNP:
		bad = bad || put_key(b, "sev-snp") < 0 || put_key(b, "data") < 0 ||
		      mp_put_map(b, 3) < 0 || put_key(b, "report") < 0 ||
		      mp_put_u8_array(b, a->other.p, a->other.len) < 0 ||
		      put_key(b, "cert_chain") < 0 || mp_put_array(b, a->n_snp_cert_chain) < 0;
		for (size_t i = 0; !bad && i < a->n_snp_cert_chain; i++)
			bad = mp_put_u8_array(b, a->snp_cert_chain[i].p, a->snp_cert_chain[i].len) <
			      0;
		bad = bad || put_key(b, "mr_config") < 0 ||
		      mp_put_str(b, (const char *)a->snp_mr_config.p, a->snp_mr_config.len) < 0;
		break;
	case ATT_PLATFORM_GCP_TDX:
		return err_set(err, "attestation variant dstack-gcp-tdx is not supported");
	}
	int pod = a->stack == ATT_STACK_DSTACK_POD;
	bad = bad || put_key(b, "stack") < 0 || mp_put_map(b, 2) < 0 || put_key(b, "kind") < 0 ||
	      put_key(b, pod ? "dstack-pod" : "dstack") < 0 || put_key(b, "data") < 0 ||
	      mp_put_map(b, pod ? 4 : 3) < 0 || put_key(b, "report_data") < 0 ||
	      mp_put_u8_array(b, a->report_data.p, a->report_data.len) < 0 ||
	      put_key(b, "runtime_events") < 0 || mp_put_array(b, a->n_runtime_events) < 0;
	for (size_t i = 0; !bad && i < a->n_runtime_events; i++) {
		const struct runtime_event *e = &a->runtime_events[i];
		bad = mp_put_map(b, e->version == 2 ? 3 : 2) < 0 || put_key(b, "event") < 0 ||
		      mp_put_str(b, e->event, e->event_len) < 0 || put_key(b, "payload") < 0 ||
		      mp_put_bin(b, e->payload, e->payload_len) < 0;
		if (!bad && e->version == 2)
			bad = put_key(b, "version") < 0 || mp_put_uint(b, 2) < 0;
	}
	bad = bad || put_key(b, "config") < 0 ||
	      mp_put_str(b, (const char *)a->config.p, a->config.len) < 0;
	if (!bad && pod)
		bad = put_key(b, "report_data_payload") < 0 ||
		      mp_put_str(b, (const char *)a->report_data_payload.p,
				 a->report_data_payload.len) < 0;
	return bad ? oom(err) : 0;
}

int attestation_encode(const struct attestation *a, struct buf *out, struct err *err)
{
	return a->wire_version == 0 ? v0_encode(a, out, err) : v1_encode(a, out, err);
}
