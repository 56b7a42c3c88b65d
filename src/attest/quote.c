/*
 * quote.c — Intel TDX DCAP quote parser (v4, and v5 with TD10/TD15 bodies).
 *
 * Every byte is read through the bounded reader; a short or inconsistent quote
 * is an error naming the field, never a read past the buffer. The parsed struct
 * points into the caller's buffer. Bytes after the auth data are ignored (the
 * guest pads quotes with zeros). SGX quotes are refused: the KMS is TDX-only.
 * Must never judge trust: signatures, vendor ID and key type are dcap.c's.
 * spec: attestation §1
 */
#include "attest/quote.h"

#include "util/hex.h"
#include "util/reader.h"

#include <string.h>

#define HEADER_LEN 48
#define TD10_LEN 584
#define TD15_LEN 648
#define SGX_REPORT_LEN 384
#define V5_DESCRIPTOR_LEN 6

enum { BODY_SGX = 1, BODY_TD10 = 2, BODY_TD15 = 3 };
enum { CERT_QE_REPORT = 6, CERT_PCK_CHAIN = 5 };

static int short_field(struct err *err, const char *field)
{
	return err_set(err, "Failed to decode quote: truncated at %s", field);
}

static int parse_header(struct reader *r, struct tdx_quote *q, struct err *err)
{
	if (rd_u16le(r, &q->version) < 0 || rd_u16le(r, &q->att_key_type) < 0 ||
	    rd_u32le(r, &q->tee_type) < 0 || rd_skip(r, 4) < 0 ||
	    rd_copy(r, q->qe_vendor_id, sizeof q->qe_vendor_id) < 0 ||
	    rd_copy(r, q->user_data, sizeof q->user_data) < 0)
		return short_field(err, "header");
	if (q->version == 3)
		return err_set(err, "Unsupported quote: SGX quote (version 3); only TDX quotes "
				    "(version 4 or 5) are accepted");
	if (q->version != 4 && q->version != 5)
		return err_set(err, "Unsupported DCAP quote version %u", q->version);
	if (q->tee_type == 0)
		return err_set(err,
			       "Unsupported quote: SGX TEE type in a version %u quote; only "
			       "TDX quotes are accepted",
			       q->version);
	if (q->tee_type != TDX_TEE_TYPE)
		return err_set(err, "Unsupported TEE type: %u", q->tee_type);
	return 0;
}

/* spec: attestation §1.2 (TD10 layout; TD15 appends TEE_TCB_SVN2 and MRSERVICETD) */
static int parse_td_report(struct reader *r, int td15, struct tdx_report *t, struct err *err)
{
	memset(t, 0, sizeof *t);
	if (rd_copy(r, t->tee_tcb_svn, 16) < 0 || rd_copy(r, t->mr_seam, 48) < 0 ||
	    rd_copy(r, t->mr_signer_seam, 48) < 0 || rd_copy(r, t->seam_attributes, 8) < 0 ||
	    rd_copy(r, t->td_attributes, 8) < 0 || rd_copy(r, t->xfam, 8) < 0 ||
	    rd_copy(r, t->mr_td, 48) < 0 || rd_copy(r, t->mr_config_id, 48) < 0 ||
	    rd_copy(r, t->mr_owner, 48) < 0 || rd_copy(r, t->mr_owner_config, 48) < 0 ||
	    rd_copy(r, t->rtmr, sizeof t->rtmr) < 0 || rd_copy(r, t->report_data, 64) < 0)
		return short_field(err, "TD report body");
	t->is_td15 = td15;
	if (td15 && (rd_copy(r, t->tee_tcb_svn2, 16) < 0 || rd_copy(r, t->mr_service_td, 48) < 0))
		return short_field(err, "TD 1.5 report body");
	return 0;
}

/* spec: attestation §1.3 (SGX enclave report = the QE report) */
static void parse_sgx_report(const uint8_t *p, struct sgx_report *s)
{
	struct reader r;
	reader_init(&r, p, SGX_REPORT_LEN);
	/* The window is exactly SGX_REPORT_LEN bytes, so none of these reads can fail. */
	(void)rd_copy(&r, s->cpu_svn, 16);
	(void)rd_u32le(&r, &s->misc_select);
	(void)rd_skip(&r, 28);
	(void)rd_copy(&r, s->attributes, 16);
	(void)rd_copy(&r, s->mr_enclave, 32);
	(void)rd_skip(&r, 32);
	(void)rd_copy(&r, s->mr_signer, 32);
	(void)rd_skip(&r, 96);
	(void)rd_u16le(&r, &s->isv_prod_id);
	(void)rd_u16le(&r, &s->isv_svn);
	(void)rd_skip(&r, 60);
	(void)rd_copy(&r, s->report_data, 64);
}

/* A u32-length-prefixed field, capped like dcap-qvl's Data<u32>. */
static int read_data32(struct reader *r, struct reader *out, const char *field, struct err *err)
{
	uint32_t n;
	if (rd_u32le(r, &n) < 0)
		return short_field(err, field);
	if (n > QUOTE_MAX_FIELD_LEN)
		return err_set(err, "Failed to decode quote: %s length %u exceeds the maximum",
			       field, n);
	if (rd_sub(r, n, out) < 0)
		return short_field(err, field);
	return 0;
}

/* QE report certification data (type 6 body). Bytes after the inner
 * certification data are ignored, as dcap-qvl does. */
static int parse_qe_cert_data(struct reader *r, struct tdx_quote *q, struct err *err)
{
	const uint8_t *p;
	uint16_t auth_len;
	struct reader inner;

	if (rd_bytes(r, SGX_REPORT_LEN, &q->qe_report_raw) < 0)
		return short_field(err, "QE report");
	parse_sgx_report(q->qe_report_raw, &q->qe_report);
	if (rd_copy(r, q->qe_report_signature, 64) < 0)
		return short_field(err, "QE report signature");
	if (rd_u16le(r, &auth_len) < 0 || rd_bytes(r, auth_len, &p) < 0)
		return short_field(err, "QE auth data");
	q->qe_auth_data = p;
	q->qe_auth_data_len = auth_len;
	if (rd_u16le(r, &q->cert_data_type) < 0)
		return short_field(err, "certification data type");
	TRY(read_data32(r, &inner, "certification data", err));
	q->cert_data = inner.p;
	q->cert_data_len = inner.len;
	if (q->cert_data_type == CERT_PCK_CHAIN) {
		q->pck_chain_pem = (const char *)inner.p;
		q->pck_chain_len = inner.len;
	}
	return 0;
}

/* spec: attestation §1.3 ("v4 auth data", used by v4 and v5) */
static int parse_auth_data(struct reader *r, struct tdx_quote *q, struct err *err)
{
	uint16_t outer_type;
	struct reader body;

	if (rd_copy(r, q->signature, 64) < 0)
		return short_field(err, "quote signature");
	if (rd_copy(r, q->attest_key, 64) < 0)
		return short_field(err, "attestation key");
	if (rd_u16le(r, &outer_type) < 0)
		return short_field(err, "outer certification data type");
	TRY(read_data32(r, &body, "QE report certification data", err));
	if (outer_type != CERT_QE_REPORT)
		return err_set(err,
			       "Failed to decode quote: outer certification data type is %u, "
			       "expected 6 (QE report certification data)",
			       outer_type);
	return parse_qe_cert_data(&body, q, err);
}

int quote_parse(const uint8_t *buf, size_t len, struct tdx_quote *q, struct err *err)
{
	struct reader r, auth;
	int td15 = 0;

	memset(q, 0, sizeof *q);
	if (!buf)
		return err_set(err, "Failed to decode quote: no data");
	reader_init(&r, buf, len);
	TRY(parse_header(&r, q, err));
	q->body_type = BODY_TD10;
	if (q->version == 5) {
		uint32_t size, want;
		if (rd_u16le(&r, &q->body_type) < 0 || rd_u32le(&r, &size) < 0)
			return short_field(err, "body descriptor");
		if (q->body_type == BODY_SGX)
			return err_set(err,
				       "Unsupported quote: SGX enclave report body (type 1); only "
				       "TD reports are accepted");
		if (q->body_type != BODY_TD10 && q->body_type != BODY_TD15)
			return err_set(err, "Failed to decode quote: unsupported body type %u",
				       q->body_type);
		td15 = q->body_type == BODY_TD15;
		want = td15 ? TD15_LEN : TD10_LEN;
		if (size != want)
			return err_set(err,
				       "Failed to decode quote: body size %u does not match body "
				       "type %u (%u bytes)",
				       size, q->body_type, want);
	}
	TRY(parse_td_report(&r, td15, &q->report, err));
	q->signed_data = buf;
	q->signed_len = r.off;
	TRY(read_data32(&r, &auth, "auth data", err));
	q->used_len = r.off;
	return parse_auth_data(&auth, q, err);
}

int quote_hex_decode(const char *text, size_t len, struct buf *out, struct err *err)
{
	if (hex_decode_text(text, len, 0, out, err) < 0)
		return err_wrap(err, "quote hex text is not valid hex");
	return 0;
}
