/*
 * quote.c — `simtee quote`: a TDX DCAP quote (v4, or v5 with a TD10 / TD15
 * body) signed with the simtee PKI's attestation key, its QE report signed by
 * the PCK leaf key and bound to the attestation key, the PCK chain embedded as
 * certification data type 6 holding type 5 (PEM). RTMR3 is the replay of the
 * given runtime events. Knobs break exactly one thing each (debug TD,
 * SEPT_VE_DISABLE, tampered body, QE binding, QE report signature, QE SVN).
 * TEST-ONLY (see simtee.h); written independently of src/attest/quote.c.
 * spec: attestation §1.1–§1.3 (layout), §2.3 steps 4–7 and 10.
 */
#include "simtee.h"

#include "crypto/p256.h"
#include "util/hex.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#define HEADER_LEN 48
#define TD10_LEN 584
#define TD15_LEN 648
#define QE_REPORT_LEN 384
#define QE_AUTH_LEN 32

/* Body offsets (relative to the start of the TD report body). */
#define B_TEE_TCB_SVN 0
#define B_MR_SEAM 16
#define B_MR_SIGNER_SEAM 64
#define B_SEAM_ATTR 112
#define B_TD_ATTR 120
#define B_XFAM 128
#define B_MR_TD 136
#define B_MR_CONFIG_ID 184
#define B_MR_OWNER 232
#define B_MR_OWNER_CONFIG 280
#define B_RTMR0 328
#define B_REPORT_DATA 520
#define B_TEE_TCB_SVN2 584
#define B_MR_SERVICE_TD 600

const char SIM_QUOTE_OPTS_HELP[] =
    "  --report-data HEX       REPORTDATA, up to 64 bytes, zero-padded (default zeros)\n"
    "  --version 4|5           quote version (default 4); --td15 selects a v5 TD 1.5 body\n"
    "  --mrtd, --rtmr0, --rtmr1, --rtmr2, --mrseam, --mr-signer-seam, --mr-config-id,\n"
    "  --mr-owner, --mr-owner-config HEX   48-byte measurements (defaults: a dstack boot)\n"
    "  --rtmr3 HEX             RTMR3 as given instead of the replay of the events\n"
    "  --tee-tcb-svn HEX       16 bytes (default: the PKI's platform.json)\n"
    "  --td-attributes HEX     8 bytes (default 0000001000000000: SEPT_VE_DISABLE only)\n"
    "  --seam-attributes HEX, --xfam HEX   8 bytes each\n"
    "  --debug                 set TDATTRIBUTES.DEBUG (bit 0)\n"
    "  --no-sept-ve-disable    clear TDATTRIBUTES.SEPT_VE_DISABLE (bit 28)\n"
    "  --tamper                flip a byte of MRTD after signing (quote signature breaks)\n"
    "  --bad-qe-binding        QE REPORTDATA != SHA-256(attestation key || QE auth data)\n"
    "  --bad-qe-report-sig     flip a byte of the QE report signature\n"
    "  --qe-isvsvn N           QE ISVSVN (default: the PKI's)\n"
    "  --no-nul                no NUL after the embedded PEM chain\n"
    "  --pad N                 N trailing zero bytes after the quote (real quotes have them)\n"
    "RTMR3 events (replayed into RTMR3 unless --rtmr3 is given):\n"
    "  --rtmr3-events FILE     JSON array of {\"event\",\"payload_hex\"} (or \"payload\" base64),\n"
    "                          or JSON lines as the guest's runtime_events.log\n"
    "  --app-id HEX, --compose-hash HEX, --instance-id HEX [--key-provider TEXT]\n"
    "                          the dstack boot events: system-preparing, app-id,\n"
    "                          compose-hash, instance-id, boot-mr-done[, key-provider]\n"
    "  --event NAME:HEX        append one more event (repeatable)\n";

static const char *const QUOTE_HELP_HEAD =
    "usage: simtee quote --pki DIR --out FILE [options]\n"
    "\n"
    "Writes a TDX DCAP quote signed by the simtee PKI in DIR.\n"
    "  --hex                   write hex text instead of binary\n"
    "  --events-out FILE       the runtime events as [{\"event\",\"payload_hex\",\"digest\"}]\n"
    "  --event-log-out FILE    the runtime events as a TdxEvent JSON array (legacy .1.2)\n"
    "\n";

/* A dstack boot's measurements (those of the shared mock vectors). */
static const char DEF_MRSEAM[] = "d029ba12a55e9e837abc78b08a6133971d2a29486e47f7de1e13e0e2809b984"
				 "5d8ab139dcb51bcc30a0a612f496ab1c0";
static const char DEF_MRTD[] = "e53236d44a074bc78e784cdfa1a2c858a5f6b53afc1b60d8f079662314978b6"
			       "4241b646d8498dd767d5ea48e1e115822";
static const char DEF_RTMR0[] = "6203948b7c12a0c2e14ed9b11170d7b85345870a304bb0959d6c198224ce621"
				"fe944e4623af9631cd64eeffdc0d7fa94";
static const char DEF_RTMR1[] = "0ea1ad399114c5909c52c8b8c073f0c4e076b691495ca7d41f88c5bba6859e3"
				"911973ec95adce1503eb43f4670a2c306";
static const char DEF_RTMR2[] = "1c9854088a35a1c44483d6ba5e88333cf6a7f5b5ec26713f722c80dfc2d2b33"
				"7346d7fb52452eacda0a8a8fb6fd306f1";

void sim_quote_spec_init(struct sim_quote_spec *s)
{
	memset(s, 0, sizeof *s);
	s->version = 4;
	hex_decode_fixed(DEF_MRSEAM, s->mr_seam, 48);
	hex_decode_fixed(DEF_MRTD, s->mr_td, 48);
	hex_decode_fixed(DEF_RTMR0, s->rtmr[0], 48);
	hex_decode_fixed(DEF_RTMR1, s->rtmr[1], 48);
	hex_decode_fixed(DEF_RTMR2, s->rtmr[2], 48);
	s->td_attributes[3] = 0x10; /* bit 28 SEPT_VE_DISABLE */
	static const uint8_t xfam[8] = {0xe7, 0x02, 0x06, 0, 0, 0, 0, 0};
	memcpy(s->xfam, xfam, 8);
}

void sim_quote_spec_free(struct sim_quote_spec *s)
{
	sim_events_free(&s->events);
	buf_free(&s->app_id);
	buf_free(&s->compose_hash);
	buf_free(&s->instance_id);
	buf_free(&s->key_provider);
	buf_free(&s->extra_events);
}

int sim_quote_opt(struct sim_args *a, struct sim_quote_spec *s, struct err *err)
{
	static const struct {
		const char *name;
		size_t off, n;
	} fixed[] = {
#define H(n, f, len) {n, offsetof(struct sim_quote_spec, f), len}
	    H("--mrseam", mr_seam, 48),	   H("--mr-signer-seam", mr_signer_seam, 48),
	    H("--mrtd", mr_td, 48),	   H("--mr-config-id", mr_config_id, 48),
	    H("--mr-owner", mr_owner, 48), H("--mr-owner-config", mr_owner_config, 48),
	    H("--rtmr0", rtmr[0], 48),	   H("--rtmr1", rtmr[1], 48),
	    H("--rtmr2", rtmr[2], 48),	   H("--seam-attributes", seam_attributes, 8),
	    H("--xfam", xfam, 8),
#undef H
	};
	static const struct {
		const char *name;
		size_t off;
	} flags[] = {
#define F(n, f) {n, offsetof(struct sim_quote_spec, f)}
	    F("--td15", td15),
	    F("--debug", debug),
	    F("--no-sept-ve-disable", no_sept_ve_disable),
	    F("--tamper", tamper),
	    F("--bad-qe-binding", bad_qe_binding),
	    F("--bad-qe-report-sig", bad_qe_report_sig),
	    F("--no-nul", no_nul),
#undef F
	};
	char *base = (char *)s;
	const char *v;
	uint64_t u;
	int r;
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		if ((r = sim_opt_val(a, fixed[i].name, &v, err)) == 0)
			continue;
		if (r < 0 || sim_parse_hex_fixed(v, (uint8_t *)(base + fixed[i].off), fixed[i].n,
						 fixed[i].name, err) < 0)
			return -1;
		return 1;
	}
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
		if (sim_opt_flag(a, flags[i].name, (int *)(base + flags[i].off)))
			return 1;
	if ((r = sim_opt_val(a, "--rtmr3", &v, err)) != 0) {
		if (r < 0 || sim_parse_hex_fixed(v, s->rtmr[3], 48, "--rtmr3", err) < 0)
			return -1;
		s->have_rtmr3 = 1;
		return 1;
	}
	if ((r = sim_opt_val(a, "--tee-tcb-svn", &v, err)) != 0) {
		if (r < 0 || sim_parse_hex_fixed(v, s->tee_tcb_svn, 16, "--tee-tcb-svn", err) < 0)
			return -1;
		s->have_tee_tcb_svn = 1;
		return 1;
	}
	if ((r = sim_opt_val(a, "--td-attributes", &v, err)) != 0) {
		if (r < 0 ||
		    sim_parse_hex_fixed(v, s->td_attributes, 8, "--td-attributes", err) < 0)
			return -1;
		s->have_td_attributes = 1;
		return 1;
	}
	if ((r = sim_opt_val(a, "--report-data", &v, err)) != 0) {
		struct buf rd = BUF_INIT;
		if (r < 0 || sim_parse_hex(v, 64, &rd, "--report-data", err) < 0) {
			buf_free(&rd);
			return -1;
		}
		memset(s->report_data, 0, 64);
		if (rd.len)
			memcpy(s->report_data, rd.p, rd.len);
		buf_free(&rd);
		s->have_report_data = 1;
		return 1;
	}
	if ((r = sim_opt_val(a, "--version", &v, err)) != 0) {
		if (r < 0 || sim_parse_u64(v, 5, &u, err) < 0 || u < 4)
			return err_set(err, "--version must be 4 or 5");
		s->version = (int)u;
		return 1;
	}
	if ((r = sim_opt_val(a, "--qe-isvsvn", &v, err)) != 0) {
		if (r < 0 || sim_parse_u64(v, 65535, &u, err) < 0)
			return -1;
		s->qe_isvsvn = (uint16_t)u;
		s->have_qe_isvsvn = 1;
		return 1;
	}
	if ((r = sim_opt_val(a, "--pad", &v, err)) != 0) {
		if (r < 0 || sim_parse_u64(v, 1u << 20, &u, err) < 0)
			return -1;
		s->pad = (size_t)u;
		return 1;
	}
	if ((r = sim_opt_val(a, "--rtmr3-events", &v, err)) != 0) {
		if (r < 0)
			return -1;
		s->events_file = v;
		return 1;
	}
	static const struct {
		const char *name;
		size_t off, max;
	} ids[] = {
	    {"--app-id", offsetof(struct sim_quote_spec, app_id), 64},
	    {"--compose-hash", offsetof(struct sim_quote_spec, compose_hash), 64},
	    {"--instance-id", offsetof(struct sim_quote_spec, instance_id), 64},
	};
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		if ((r = sim_opt_val(a, ids[i].name, &v, err)) == 0)
			continue;
		struct buf *b = (struct buf *)(base + ids[i].off);
		buf_reset(b);
		if (r < 0 || sim_parse_hex(v, ids[i].max, b, ids[i].name, err) < 0)
			return -1;
		s->have_identity = 1;
		return 1;
	}
	if ((r = sim_opt_val(a, "--key-provider", &v, err)) != 0) {
		buf_reset(&s->key_provider);
		if (r < 0 || buf_append_str(&s->key_provider, v) < 0)
			return -1;
		s->have_identity = 1;
		return 1;
	}
	if ((r = sim_opt_val(a, "--event", &v, err)) != 0) {
		const char *colon = r > 0 ? strchr(v, ':') : NULL;
		if (!colon || colon == v || strchr(v, '\n'))
			return err_set(err, "--event takes NAME:HEX");
		if (buf_append_str(&s->extra_events, v) < 0 ||
		    buf_append_byte(&s->extra_events, '\n') < 0)
			return err_set(err, "out of memory");
		return 1;
	}
	return 0;
}

int sim_quote_resolve_events(struct sim_quote_spec *s, struct err *err)
{
	sim_events_free(&s->events);
	if (s->events_file && s->have_identity)
		return err_set(err, "--rtmr3-events and the identity options exclude each other");
	if (s->events_file)
		TRY(sim_events_load(s->events_file, &s->events, err));
	if (s->have_identity) {
		/* spec: attestation §4.4 — the order dstack-util emits them in. */
		TRY(sim_events_add(&s->events, "system-preparing", NULL, 0, err));
		TRY(sim_events_add(&s->events, "app-id", s->app_id.p, s->app_id.len, err));
		TRY(sim_events_add(&s->events, "compose-hash", s->compose_hash.p,
				   s->compose_hash.len, err));
		TRY(sim_events_add(&s->events, "instance-id", s->instance_id.p, s->instance_id.len,
				   err));
		TRY(sim_events_add(&s->events, "boot-mr-done", NULL, 0, err));
		if (s->key_provider.len)
			TRY(sim_events_add(&s->events, "key-provider", s->key_provider.p,
					   s->key_provider.len, err));
	}
	/* --event NAME:HEX lines. */
	const char *p = buf_str(&s->extra_events);
	while (*p) {
		const char *nl = strchr(p, '\n');
		const char *colon = memchr(p, ':', (size_t)(nl - p));
		char name[256];
		struct buf payload = BUF_INIT;
		size_t nlen = (size_t)(colon - p);
		if (nlen >= sizeof name)
			return err_set(err, "--event name too long");
		memcpy(name, p, nlen);
		name[nlen] = 0;
		const char *hx = colon + 1;
		if ((size_t)(nl - hx) > 0 && hex_decode(hx, (size_t)(nl - hx), &payload) < 0) {
			buf_free(&payload);
			return err_set(err, "--event %s: payload is not hex", name);
		}
		int r = sim_events_add(&s->events, name, payload.p, payload.len, err);
		buf_free(&payload);
		TRY(r);
		p = nl + 1;
	}
	if (!s->have_rtmr3 && sim_events_replay(&s->events, s->rtmr[3]) < 0)
		return err_set(err, "RTMR3 replay failed");
	return 0;
}

static int put_u16(struct buf *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	return buf_append(b, x, 2);
}

static int put_u32(struct buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	return buf_append(b, x, 4);
}

static void td_body(const struct sim_pki *p, const struct sim_quote_spec *s, uint8_t *b)
{
	memset(b, 0, TD15_LEN);
	memcpy(b + B_TEE_TCB_SVN, s->have_tee_tcb_svn ? s->tee_tcb_svn : p->tee_tcb_svn, 16);
	memcpy(b + B_MR_SEAM, s->mr_seam, 48);
	memcpy(b + B_MR_SIGNER_SEAM, s->mr_signer_seam, 48);
	memcpy(b + B_SEAM_ATTR, s->seam_attributes, 8);
	memcpy(b + B_TD_ATTR, s->td_attributes, 8);
	if (s->debug)
		b[B_TD_ATTR] |= 0x01;
	if (s->no_sept_ve_disable)
		b[B_TD_ATTR + 3] &= (uint8_t)~0x10;
	memcpy(b + B_XFAM, s->xfam, 8);
	memcpy(b + B_MR_TD, s->mr_td, 48);
	memcpy(b + B_MR_CONFIG_ID, s->mr_config_id, 48);
	memcpy(b + B_MR_OWNER, s->mr_owner, 48);
	memcpy(b + B_MR_OWNER_CONFIG, s->mr_owner_config, 48);
	for (int i = 0; i < 4; i++)
		memcpy(b + B_RTMR0 + 48 * i, s->rtmr[i], 48);
	memcpy(b + B_REPORT_DATA, s->report_data, 64);
	/* TD15: TEE_TCB_SVN2 = TEE_TCB_SVN, MRSERVICETD zero. */
	memcpy(b + B_TEE_TCB_SVN2, b + B_TEE_TCB_SVN, 16);
}

/* spec: attestation §1.1 (SGX report layout, 384 bytes) */
static int qe_report(const struct sim_pki *p, const struct sim_quote_spec *s,
		     const uint8_t att_key[64], const uint8_t qe_auth[QE_AUTH_LEN],
		     uint8_t r[QE_REPORT_LEN], struct err *err)
{
	uint8_t bind_in[64 + QE_AUTH_LEN];
	memset(r, 0, QE_REPORT_LEN);
	memcpy(r + 0, p->cpusvn, 16);
	r[48] = 0x11; /* ATTRIBUTES: INIT | MODE64BIT, not DEBUG */
	if (!EVP_Digest("dstack-simtee QE", 16, r + 64, NULL, EVP_sha256(), NULL))
		return err_openssl(err, "MRENCLAVE");
	memcpy(r + 128, SIM_QE_MRSIGNER, 32);
	uint16_t svn = s->have_qe_isvsvn ? s->qe_isvsvn : p->qe_isvsvn;
	r[256] = SIM_QE_ISVPRODID;
	r[258] = (uint8_t)svn;
	r[259] = (uint8_t)(svn >> 8);
	/* spec: attestation §2.3 step 5 — SHA-256(attestation key || QE auth data). */
	memcpy(bind_in, att_key, 64);
	memcpy(bind_in + 64, qe_auth, QE_AUTH_LEN);
	if (!EVP_Digest(bind_in, sizeof bind_in, r + 320, NULL, EVP_sha256(), NULL))
		return err_openssl(err, "QE report data");
	if (s->bad_qe_binding)
		r[320] ^= 0x01;
	return 0;
}

int sim_quote_build(const struct sim_pki *p, const struct sim_quote_spec *s, struct buf *out,
		    struct err *err)
{
	uint8_t body[TD15_LEN], point[P256_POINT_LEN], qer[QE_REPORT_LEN], qe_auth[QE_AUTH_LEN],
	    sig[64], qe_sig[64];
	struct buf q = BUF_INIT, cert = BUF_INIT;
	int rc = -1;
	int v5 = s->version == 5 || s->td15;
	size_t body_len = s->td15 ? TD15_LEN : TD10_LEN;

	td_body(p, s, body);
	if (p256_public_point(p->att_key, point, err) < 0)
		goto out;
	for (int i = 0; i < QE_AUTH_LEN; i++)
		qe_auth[i] = (uint8_t)i;
	TRY_OUT(qe_report(p, s, point + 1, qe_auth, qer, err));
	TRY_OUT(sim_sign_raw(p->pck_key, qer, sizeof qer, qe_sig, err));
	if (s->bad_qe_report_sig)
		qe_sig[10] ^= 0x01;

	/* Header, spec: attestation §1.1. */
	uint8_t user_data[20];
	memcpy(user_data, p->ppid, 16); /* QE ID: any 16 bytes */
	memset(user_data + 16, 0, 4);
	if (put_u16(&q, v5 ? 5 : 4) < 0 || put_u16(&q, 2) < 0 || put_u32(&q, 0x81) < 0 ||
	    put_u16(&q, 0) < 0 || put_u16(&q, 0) < 0 || buf_append(&q, SIM_QE_VENDOR_ID, 16) < 0 ||
	    buf_append(&q, user_data, 20) < 0)
		goto oom;
	if (v5 && (put_u16(&q, s->td15 ? 3 : 2) < 0 || put_u32(&q, (uint32_t)body_len) < 0))
		goto oom;
	size_t body_off = q.len;
	if (buf_append(&q, body, body_len) < 0)
		goto oom;
	TRY_OUT(sim_sign_raw(p->att_key, q.p, q.len, sig, err));

	/* Certification data type 6: QE report, its signature, QE auth data, PCK chain. */
	if (buf_append(&cert, qer, sizeof qer) < 0 || buf_append(&cert, qe_sig, 64) < 0 ||
	    put_u16(&cert, QE_AUTH_LEN) < 0 || buf_append(&cert, qe_auth, QE_AUTH_LEN) < 0 ||
	    put_u16(&cert, 5) < 0 ||
	    put_u32(&cert, (uint32_t)(p->pck_chain_pem.len + (s->no_nul ? 0 : 1))) < 0 ||
	    buf_append(&cert, p->pck_chain_pem.p, p->pck_chain_pem.len) < 0 ||
	    (!s->no_nul && buf_append_byte(&cert, 0) < 0))
		goto oom;
	size_t auth_len = 64 + 64 + 2 + 4 + cert.len;
	if (put_u32(&q, (uint32_t)auth_len) < 0 || buf_append(&q, sig, 64) < 0 ||
	    buf_append(&q, point + 1, 64) < 0 || put_u16(&q, 6) < 0 ||
	    put_u32(&q, (uint32_t)cert.len) < 0 || buf_append(&q, cert.p, cert.len) < 0)
		goto oom;
	if (s->tamper)
		q.p[body_off + B_MR_TD] ^= 0x01;
	for (size_t i = 0; i < s->pad; i++)
		if (buf_append_byte(&q, 0) < 0)
			goto oom;
	if (buf_append(out, q.p, q.len) < 0)
		goto oom;
	rc = 0;
	goto out;
oom:
	err_set(err, "out of memory");
out:
	buf_free(&q);
	buf_free(&cert);
	return rc;
}

static int write_outputs(const struct sim_quote_spec *s, const struct buf *quote, const char *out,
			 int hex, const char *events_out, const char *log_out, struct err *err)
{
	struct buf b = BUF_INIT;
	int rc = -1;
	if (hex) {
		if (hex_append(&b, quote->p, quote->len) < 0 || buf_append_byte(&b, '\n') < 0)
			goto oom;
		TRY_OUT(sim_write_file(out, b.p, b.len, 0, err));
	} else {
		TRY_OUT(sim_write_file(out, quote->p, quote->len, 0, err));
	}
	if (events_out) {
		buf_reset(&b);
		TRY_OUT(sim_events_to_json(&s->events, &b, err));
		TRY_OUT(sim_write_file(events_out, b.p, b.len, 0, err));
	}
	if (log_out) {
		buf_reset(&b);
		TRY_OUT(sim_events_to_tdx_json(&s->events, &b, err));
		TRY_OUT(sim_write_file(log_out, b.p, b.len, 0, err));
	}
	rc = 0;
	goto out;
oom:
	err_set(err, "out of memory");
out:
	buf_free(&b);
	return rc;
}

int sim_cmd_quote(int argc, char **argv)
{
	struct err err = {{0}};
	struct sim_quote_spec spec;
	struct sim_pki pki;
	struct buf quote = BUF_INIT;
	const char *dir = NULL, *out = NULL, *events_out = NULL, *log_out = NULL;
	int hex = 0, rc = 1, r;
	sim_quote_spec_init(&spec);
	memset(&pki, 0, sizeof pki);

	struct sim_args a = {argc, argv, 1};
	for (; a.i < argc; a.i++) {
		const char *arg = argv[a.i];
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			fputs(QUOTE_HELP_HEAD, stdout);
			fputs(SIM_QUOTE_OPTS_HELP, stdout);
			rc = 0;
			goto done;
		}
		if ((r = sim_opt_val(&a, "--pki", &dir, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--out", &out, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--events-out", &events_out, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--event-log-out", &log_out, &err)) != 0 ||
		    (r = sim_opt_flag(&a, "--hex", &hex)) != 0 ||
		    (r = sim_quote_opt(&a, &spec, &err)) != 0) {
			if (r < 0) {
				rc = sim_usage("quote", "%s", err_msg(&err));
				goto done;
			}
			continue;
		}
		rc = sim_usage("quote", "unknown option '%s'", arg);
		goto done;
	}
	if (!dir || !out) {
		rc = sim_usage("quote", "--pki and --out are required");
		goto done;
	}
	if (sim_quote_resolve_events(&spec, &err) < 0 || sim_pki_load(dir, &pki, &err) < 0 ||
	    sim_quote_build(&pki, &spec, &quote, &err) < 0 ||
	    write_outputs(&spec, &quote, out, hex, events_out, log_out, &err) < 0)
		rc = sim_fail("quote", &err);
	else
		rc = 0;
done:
	sim_quote_spec_free(&spec);
	sim_pki_free(&pki);
	buf_free(&quote);
	return rc;
}
