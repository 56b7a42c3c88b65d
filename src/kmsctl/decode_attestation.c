/*
 * decode_attestation.c — `dstack-kmsctl decode-attestation`: decodes TDX
 * evidence WITHOUT DCAP (so evidence whose PCK certificate is not valid at
 * any collateral time can still be examined) and prints one JSON object: the
 * parsed quote, the (unverified) PCK certificate fields, the event log, the
 * replayed RTMRs, whether they and REPORTDATA match the quote, and the app
 * identity (runtime and boot-time).
 *
 * It must never present anything as verified: nothing here checks a
 * signature, a chain or a TCB level, and the output says so. Evidence is
 * untrusted; every parser used is bounded (src/attest).
 * spec: attestation §1 (quote), §3.1–§3.3 (RA-TLS, VersionedAttestation),
 * §4 (event logs, replay, AppInfo); kms-protocol §9.5 steps 4–6.
 */
#include "kmsctl/attest_cli.h"
#include "kmsctl/kmsctl.h"

#include "attest/appinfo.h"
#include "attest/attestation.h"
#include "attest/eventlog.h"
#include "attest/pck_ext.h"
#include "attest/quote.h"
#include "attest/ratls.h"
#include "crypto/cert.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#define CMD "decode-attestation"
/* Event payloads longer than this are summarized by their length only. */
#define MAX_PAYLOAD_SHOWN 1024u
#define NOT_CHECKED_CERT_LOG                                                                       \
	"not checked: a certificate event log keeps only the RTMR0 ACPI DATA events"

static const char *const RTMR_NAMES[4] = {"rtmr0", "rtmr1", "rtmr2", "rtmr3"};

enum fmt { F_AUTO, F_V0, F_V1, F_QUOTE_REPORT, F_CCEL, F_QUOTE, F_CERT };

static const char *const FMT_NAMES[] = {"auto", "v0",	 "v1",	"quote-report",
					"ccel", "quote", "cert"};

static void usage(FILE *f)
{
	fprintf(f, "Usage: " KMSCTL_PROG " decode-attestation --file FILE\n"
		   "           [--format auto|v0|v1|quote-report|ccel|quote|cert]\n"
		   "\n"
		   "Decodes TDX evidence WITHOUT DCAP verification and prints one JSON object:\n"
		   "the parsed quote, the PCK certificate's SGX extension (FMSPC, PPID, PCESVN,\n"
		   "CPUSVN; unverified), the event log, the replayed RTMRs, whether RTMR3 and\n"
		   "REPORTDATA match the quote (\"checks\"), and the app identity (app_info, and\n"
		   "app_info_boottime as SignCert sees it). Nothing is verified: use verify-quote\n"
		   "or verify-ratls for that.\n"
		   "\n"
		   "  --file FILE       the evidence\n"
		   "  --format FORMAT   what FILE holds (default auto: detected):\n"
		   "      v0            VersionedAttestation V0 (SCALE): binary, hex text, or\n"
		   "                    JSON {\"attestation\": \"<hex>\"}\n"
		   "      v1            VersionedAttestation V1 (MessagePack), same forms\n"
		   "      quote-report  GetQuote output, JSON {quote, event_log, report_data,\n"
		   "                    vm_config}: a full event log, so RTMR0-2 are checked too\n"
		   "      ccel          a raw ACPI CCEL boot event log (TCG2 crypto-agile)\n"
		   "      quote         a TDX quote alone (binary or hex text)\n"
		   "      cert          an RA-TLS certificate (PEM): its attestation (OID .1.8,\n"
		   "                    or the legacy .1.1 quote + .1.2 event log) and whether\n"
		   "                    it binds the certificate key\n"
		   "  -h, --help        this text\n"
		   "\n"
		   "Certificate event logs keep only the RTMR0 ACPI DATA events, so RTMR0-2 are\n"
		   "checked only for a full boot log (GetQuote output, or an attestation that\n"
		   "carries the whole log); RTMR3 and REPORTDATA always are. device_id is\n"
		   "computed from the PPID of the quote's PCK certificate, unverified.\n"
		   "Exit status: 0 decoded and every applicable check matches, 1 decoding failed\n"
		   "or a check did not match (JSON still printed, \"error: <reason>\" on stderr),\n"
		   "2 usage error.\n");
}

/* ---- small JSON helpers (bad is set on any allocation failure) --------------- */

static void jset(json_t *o, const char *key, json_t *v, int *bad)
{
	if (json_object_set_new(o, key, v) < 0)
		*bad = 1;
}

static void jset_hex(json_t *o, const char *key, const uint8_t *p, size_t n, int *bad)
{
	jset(o, key, kmsctl_att_json_hex(p, n), bad);
}

/* A text field: the string when it is valid UTF-8, else its hex under key_hex. */
static void jset_text(json_t *o, const char *key, const void *p, size_t n, int *bad)
{
	json_t *s = json_stringn(p, n);
	if (s) {
		jset(o, key, s, bad);
		return;
	}
	char hk[64];
	snprintf(hk, sizeof hk, "%s_hex", key);
	jset_hex(o, hk, p, n, bad);
}

static void jappend(json_t *a, json_t *v, int *bad)
{
	if (json_array_append_new(a, v) < 0)
		*bad = 1;
}

/* ---- the PCK certificate's SGX extension, read for display only ---------------- */

#define RATLS_OID_ATTESTATION "1.3.6.1.4.1.62397.1.8"

struct pck_fields {
	int have_ppid, have_fmspc, have_cpusvn, have_pcesvn, have_pceid;
	uint8_t ppid[16], fmspc[6], cpusvn[16], pceid[2];
	int64_t pcesvn;
	char subject[256];
	int64_t not_before, not_after;
};

static int64_t asn1_unix(const ASN1_TIME *t)
{
	int64_t v;
	return cert_asn1_time_unix(t, &v) == 0 ? v : -1;
}

/* 0 with *f filled from the quote's PCK leaf; -1 (err) when it has none. */
static int pck_fields_from_quote(const struct tdx_quote *q, struct pck_fields *f, struct err *err)
{
	memset(f, 0, sizeof *f);
	if (!q->pck_chain_pem || q->pck_chain_len == 0 || q->pck_chain_len > INT32_MAX)
		return err_set(err,
			       "the quote carries no PCK certificate chain "
			       "(certification data type %u)",
			       q->cert_data_type);
	BIO *bio = BIO_new_mem_buf(q->pck_chain_pem, (int)q->pck_chain_len);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!x)
		return err_openssl(err, "the PCK certificate does not parse");
	X509_NAME_oneline(X509_get_subject_name(x), f->subject, sizeof f->subject);
	f->not_before = asn1_unix(X509_get0_notBefore(x));
	f->not_after = asn1_unix(X509_get0_notAfter(x));
	/* display only: whatever fields are well-formed (attest/pck_ext.h) */
	struct pck_ext e;
	char why[256];
	if (pck_ext_read(x, &e, why, sizeof why) == 0) {
		if ((f->have_ppid = e.state[PCK_EXT_PPID] == PCK_EXT_OK))
			memcpy(f->ppid, e.ppid, sizeof f->ppid);
		if ((f->have_pceid = e.state[PCK_EXT_PCEID] == PCK_EXT_OK))
			memcpy(f->pceid, e.pce_id, sizeof f->pceid);
		if ((f->have_fmspc = e.state[PCK_EXT_FMSPC] == PCK_EXT_OK))
			memcpy(f->fmspc, e.fmspc, sizeof f->fmspc);
		if ((f->have_cpusvn = e.state[PCK_EXT_CPUSVN] == PCK_EXT_OK))
			memcpy(f->cpusvn, e.cpu_svn, sizeof f->cpusvn);
		if ((f->have_pcesvn = e.state[PCK_EXT_PCESVN] == PCK_EXT_OK))
			f->pcesvn = e.pce_svn;
	}
	X509_free(x);
	return 0;
}

static json_t *pck_json(const struct pck_fields *f, int *bad)
{
	json_t *o = json_object();
	if (!o) {
		*bad = 1;
		return NULL;
	}
	jset(o, "verified", json_false(), bad);
	jset_text(o, "subject", f->subject, strlen(f->subject), bad);
	jset(o, "not_before", json_integer(f->not_before), bad);
	jset(o, "not_after", json_integer(f->not_after), bad);
	if (f->have_fmspc) {
		char hex[13];
		static const char U[] = "0123456789ABCDEF";
		for (size_t i = 0; i < 6; i++) {
			hex[2 * i] = U[f->fmspc[i] >> 4];
			hex[2 * i + 1] = U[f->fmspc[i] & 15];
		}
		hex[12] = '\0';
		jset(o, "fmspc", json_string(hex), bad);
	}
	if (f->have_ppid)
		jset_hex(o, "ppid", f->ppid, sizeof f->ppid, bad);
	if (f->have_cpusvn)
		jset_hex(o, "cpusvn", f->cpusvn, sizeof f->cpusvn, bad);
	if (f->have_pcesvn)
		jset(o, "pcesvn", json_integer(f->pcesvn), bad);
	if (f->have_pceid)
		jset_hex(o, "pceid", f->pceid, sizeof f->pceid, bad);
	return o;
}

/* ---- the parsed quote ------------------------------------------------------------ */

static json_t *quote_json(const struct tdx_quote *q, size_t len, int *bad)
{
	json_t *o = json_object();
	if (!o) {
		*bad = 1;
		return NULL;
	}
	const uint8_t *a = q->report.td_attributes;
	jset(o, "version", json_integer(q->version), bad);
	jset(o, "att_key_type", json_integer(q->att_key_type), bad);
	jset(o, "tee_type", json_string("TDX"), bad);
	jset(o, "td_report_type", json_string(q->report.is_td15 ? "TD15" : "TD10"), bad);
	jset_hex(o, "qe_vendor_id", q->qe_vendor_id, sizeof q->qe_vendor_id, bad);
	jset_hex(o, "user_data", q->user_data, sizeof q->user_data, bad);
	jset(o, "length", json_integer((json_int_t)len), bad);
	jset(o, "used_length", json_integer((json_int_t)q->used_len), bad);
	jset(o, "debug", json_boolean(a[0] & 0x01), bad);
	jset(o, "sept_ve_disable", json_boolean(a[3] & 0x10), bad);
	if (kmsctl_att_report_to_json(o, &q->report) < 0)
		*bad = 1;
	jset(o, "cert_data_type", json_integer(q->cert_data_type), bad);
	jset_hex(o, "qe_mr_enclave", q->qe_report.mr_enclave, sizeof q->qe_report.mr_enclave, bad);
	jset_hex(o, "qe_mr_signer", q->qe_report.mr_signer, sizeof q->qe_report.mr_signer, bad);
	jset(o, "qe_isv_svn", json_integer(q->qe_report.isv_svn), bad);
	return o;
}

/* ---- event logs ------------------------------------------------------------------ */

static json_t *events_json(const struct tdx_event *ev, size_t n, int *bad)
{
	json_t *arr = json_array();
	if (!arr) {
		*bad = 1;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		if (!o) {
			*bad = 1;
			break;
		}
		jset(o, "imr", json_integer(ev[i].imr), bad);
		jset(o, "event_type", json_integer(ev[i].event_type), bad);
		jset_text(o, "event", ev[i].event, ev[i].event_len, bad);
		jset_hex(o, "digest", ev[i].digest, ev[i].digest_len, bad);
		jset(o, "payload_len", json_integer((json_int_t)ev[i].payload_len), bad);
		if (ev[i].payload_len <= MAX_PAYLOAD_SHOWN)
			jset_hex(o, "payload", ev[i].payload, ev[i].payload_len, bad);
		if (ev[i].event_type == EVENTLOG_RUNTIME_EVENT_TYPE && ev[i].version == 2)
			jset(o, "version", json_integer(2), bad);
		jappend(arr, o, bad);
	}
	return arr;
}

static json_t *runtime_events_json(const struct runtime_event *ev, size_t n, int *bad)
{
	json_t *arr = json_array();
	if (!arr) {
		*bad = 1;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		uint8_t d[EVENTLOG_MR_LEN];
		struct err e = {{0}};
		if (!o) {
			*bad = 1;
			break;
		}
		jset_text(o, "event", ev[i].event, ev[i].event_len, bad);
		jset_hex(o, "payload", ev[i].payload, ev[i].payload_len, bad);
		jset(o, "version", json_integer(ev[i].version), bad);
		if (eventlog_runtime_digest(&ev[i], d, &e) == 0)
			jset_hex(o, "digest", d, sizeof d, bad);
		else
			jset_text(o, "digest_error", err_msg(&e), strlen(err_msg(&e)), bad);
		jappend(arr, o, bad);
	}
	return arr;
}

/* 1 when the log has boot events beyond what a certificate keeps (the RTMR0
 * ACPI DATA events), i.e. it is a full log that should replay RTMR0-2. */
static int is_full_log(const struct tdx_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ev[i].imr < 3 && !eventlog_is_acpi_data_event(&ev[i]))
			return 1;
	return 0;
}

/* ---- app identity ---------------------------------------------------------------- */

static json_t *app_info_json(const struct app_info *ai, int *bad)
{
	json_t *o = json_object();
	if (!o) {
		*bad = 1;
		return NULL;
	}
	jset_hex(o, "app_id", ai->app_id.p, ai->app_id.len, bad);
	jset_hex(o, "compose_hash", ai->compose_hash.p, ai->compose_hash.len, bad);
	jset_hex(o, "instance_id", ai->instance_id.p, ai->instance_id.len, bad);
	jset_hex(o, "device_id", ai->device_id.p, ai->device_id.len, bad);
	jset_hex(o, "mr_system", ai->mr_system.p, ai->mr_system.len, bad);
	jset_hex(o, "mr_aggregated", ai->mr_aggregated.p, ai->mr_aggregated.len, bad);
	jset_hex(o, "os_image_hash", ai->os_image_hash.p, ai->os_image_hash.len, bad);
	jset_hex(o, "key_provider_info", ai->key_provider_info.p, ai->key_provider_info.len, bad);
	json_t *kpi =
	    json_stringn((const char *)ai->key_provider_info.p, ai->key_provider_info.len);
	if (kpi)
		jset(o, "key_provider_info_text", kpi, bad);
	json_t *ish = json_array();
	if (!ish)
		*bad = 1;
	for (size_t i = 0; ish && i < ai->n_init_script_hashes; i++)
		jappend(
		    ish,
		    kmsctl_att_json_hex(ai->init_script_hashes[i].p, ai->init_script_hashes[i].len),
		    bad);
	jset(o, "init_script_hashes", ish, bad);
	jset_hex(o, "rtmr3", ai->rtmr3, sizeof ai->rtmr3, bad);
	return o;
}

/* ---- loading the evidence -------------------------------------------------------- */

struct evidence {
	enum fmt fmt; /* resolved */
	const char *label;
	struct buf bytes; /* binary form (decoded from hex when needed) */
	struct attestation att;
	int has_att;
	X509 *cert;
	/* quote-report */
	char *vm_config;
	size_t vm_config_len;
	struct buf file_report_data;
	int has_file_report_data;
};

static int is_v1_prefix(uint8_t c)
{
	return (c >= 0x80 && c <= 0x8f) || c == 0xde || c == 0xdf;
}

static size_t skip_ws(const struct buf *b)
{
	size_t i = 0;
	while (i < b->len &&
	       (b->p[i] == ' ' || b->p[i] == '\t' || b->p[i] == '\n' || b->p[i] == '\r'))
		i++;
	return i;
}

/* Bytes of a binary-or-hex file. */
static int binary_or_hex(const struct buf *file, struct buf *out, struct err *err)
{
	if (kmsctl_att_is_text(file->p, file->len))
		return kmsctl_att_hex_text_decode(file->p, file->len, out, err) < 0
			   ? err_wrap(err, "cannot decode the hex evidence")
			   : 0;
	return buf_append(out, file->p, file->len) < 0 ? err_set(err, "out of memory") : 0;
}

/* A JSON string member as hex-decoded bytes. */
static int json_hex_member(json_t *doc, const char *key, struct buf *out, struct err *err)
{
	const char *s = json_string_value(json_object_get(doc, key));
	if (!s)
		return err_set(err, "\"%s\" is missing or not a string", key);
	if (kmsctl_att_hex_text_decode((const uint8_t *)s,
				       json_string_length(json_object_get(doc, key)), out, err) < 0)
		return err_wrap(err, "\"%s\"", key);
	return 0;
}

static int load_quote_report(struct evidence *ev, json_t *doc, struct err *err)
{
	struct buf quote = BUF_INIT;
	char *log_text = NULL;
	int rc = -1;
	json_t *log = json_object_get(doc, "event_log");
	const char *log_p;
	size_t log_len;
	TRY_OUT(json_hex_member(doc, "quote", &quote, err));
	if (json_is_string(log)) {
		log_p = json_string_value(log);
		log_len = json_string_length(log);
	} else if (json_is_array(log)) {
		log_text = json_dumps(log, JSON_COMPACT);
		if (!log_text) {
			err_set(err, "out of memory");
			goto out;
		}
		log_p = log_text;
		log_len = strlen(log_text);
	} else {
		err_set(err, "\"event_log\" is missing (a JSON string or array is expected)");
		goto out;
	}
	if (attestation_from_quote_and_event_log(quote.p, quote.len, (const uint8_t *)log_p,
						 log_len, &ev->att, err) < 0)
		goto out;
	ev->has_att = 1;
	if (json_object_get(doc, "report_data")) {
		TRY_OUT(json_hex_member(doc, "report_data", &ev->file_report_data, err));
		ev->has_file_report_data = 1;
	}
	json_t *vc = json_object_get(doc, "vm_config");
	if (vc && !json_is_null(vc)) {
		if (!json_is_string(vc)) {
			err_set(err, "\"vm_config\" is not a string");
			goto out;
		}
		ev->vm_config_len = json_string_length(vc);
		ev->vm_config = malloc(ev->vm_config_len + 1);
		if (!ev->vm_config) {
			err_set(err, "out of memory");
			goto out;
		}
		memcpy(ev->vm_config, json_string_value(vc), ev->vm_config_len + 1);
	}
	rc = 0;
out:
	free(log_text);
	buf_free(&quote);
	return rc;
}

static int decode_versioned(struct evidence *ev, enum fmt want, struct err *err)
{
	if (ev->bytes.len == 0)
		return err_set(err, "empty attestation");
	uint8_t c = ev->bytes.p[0];
	if (want == F_V0 && c != 0x00)
		return err_set(err, "not a V0 (SCALE) attestation: first byte 0x%02x, want 0x00",
			       c);
	if (want == F_V1 && !is_v1_prefix(c))
		return err_set(err,
			       "not a V1 (MessagePack) attestation: first byte 0x%02x is not "
			       "a map",
			       c);
	TRY(attestation_decode(ev->bytes.p, ev->bytes.len, &ev->att, err));
	ev->has_att = 1;
	ev->fmt = ev->att.wire_version == 1 ? F_V1 : F_V0;
	ev->label = ev->fmt == F_V1 ? "v1" : "v0";
	return 0;
}

static int load_cert(struct evidence *ev, const struct buf *file, struct err *err)
{
	ev->cert = cert_from_pem((const char *)file->p, file->len, err);
	if (!ev->cert)
		return -1;
	int has = ratls_extract(ev->cert, &ev->att, err);
	if (has < 0)
		return err_wrap(err, "bad attestation in the certificate");
	if (has == 0)
		return err_set(err, "the certificate carries no attestation (no OID "
				    "1.3.6.1.4.1.62397.1.8 or .1.1 extension)");
	ev->has_att = 1;
	ASN1_OBJECT *obj = OBJ_txt2obj(RATLS_OID_ATTESTATION, 1);
	int current = obj && X509_get_ext_by_OBJ(ev->cert, obj, -1) >= 0;
	ASN1_OBJECT_free(obj);
	ev->label = current ? "cert (OID .1.8 attestation)"
			    : "cert (legacy OIDs .1.1 quote + .1.2 event log)";
	return 0;
}

/* JSON evidence: {quote, event_log, ...} or {attestation}. */
static int load_json(struct evidence *ev, const struct buf *file, enum fmt want, struct err *err)
{
	json_error_t je;
	json_t *doc = json_loadb((const char *)file->p, file->len, JSON_REJECT_DUPLICATES, &je);
	int rc = -1;
	if (!doc || !json_is_object(doc)) {
		err_set(err, "not a JSON object%s%s", doc ? "" : ": ", doc ? "" : je.text);
		goto out;
	}
	int is_report = json_object_get(doc, "quote") && json_object_get(doc, "event_log");
	if (want == F_QUOTE_REPORT || (want == F_AUTO && is_report)) {
		ev->fmt = F_QUOTE_REPORT;
		ev->label = "quote-report";
		rc = load_quote_report(ev, doc, err);
	} else if ((want == F_AUTO || want == F_V0 || want == F_V1) &&
		   json_object_get(doc, "attestation")) {
		TRY_OUT(json_hex_member(doc, "attestation", &ev->bytes, err));
		rc = decode_versioned(ev, want, err);
	} else {
		err_set(err, "unrecognised JSON evidence: expected {\"quote\", \"event_log\", ...} "
			     "(quote-report) or {\"attestation\": \"<hex>\"}");
	}
out:
	json_decref(doc);
	return rc;
}

static int looks_like_ccel(const struct buf *b)
{
	/* TCG_PCClientPCREvent {pcr, type, sha1[20], size} then "Spec ID Event03". */
	static const char sig[] = "Spec ID Event03";
	return b->len >= 48 && memcmp(b->p + 32, sig, sizeof sig) == 0;
}

static int load_evidence(struct evidence *ev, const struct buf *file, enum fmt want,
			 struct err *err)
{
	size_t ws = skip_ws(file);
	const uint8_t *p = file->p + ws;
	size_t n = file->len - ws;
	ev->fmt = want;
	ev->label = FMT_NAMES[want];
	if (n == 0)
		return err_set(err, "the file is empty");
	if (want == F_CERT || (want == F_AUTO && n >= 11 && memcmp(p, "-----BEGIN ", 11) == 0)) {
		ev->fmt = F_CERT;
		ev->label = "cert";
		return load_cert(ev, file, err);
	}
	if (want == F_QUOTE_REPORT || (n > 0 && p[0] == '{' && want != F_CCEL && want != F_QUOTE))
		return load_json(ev, file, want, err);
	TRY(binary_or_hex(file, &ev->bytes, err));
	if (ev->bytes.len == 0)
		return err_set(err, "the file is empty");
	if (want == F_AUTO) {
		const uint8_t *b = ev->bytes.p;
		if (looks_like_ccel(&ev->bytes))
			want = F_CCEL;
		else if (ev->bytes.len >= 2 && b[1] == 0 && (b[0] == 3 || b[0] == 4 || b[0] == 5))
			want = F_QUOTE;
		else if (b[0] == 0x00 || is_v1_prefix(b[0]))
			want = b[0] == 0x00 ? F_V0 : F_V1;
		else
			return err_set(err,
				       "unrecognised evidence format (first byte 0x%02x); "
				       "give --format",
				       b[0]);
		ev->fmt = want;
		ev->label = FMT_NAMES[want];
	}
	if (want == F_V0 || want == F_V1)
		return decode_versioned(ev, want, err);
	return 0;
}

static void evidence_free(struct evidence *ev)
{
	attestation_free(&ev->att);
	X509_free(ev->cert);
	buf_free(&ev->bytes);
	buf_free(&ev->file_report_data);
	free(ev->vm_config);
}

/* ---- decoding outputs ------------------------------------------------------------ */

/* Adds "quote" (and "pck") for the quote bytes; *q is the parsed quote. */
static int add_quote(json_t *out, const uint8_t *p, size_t n, struct tdx_quote *q,
		     struct pck_fields *pck, int *have_pck, int *bad, struct err *err)
{
	if (quote_parse(p, n, q, err) < 0)
		return err_wrap(err, "Invalid TDX quote");
	jset(out, "quote", quote_json(q, n, bad), bad);
	struct err pe = {{0}};
	*have_pck = pck_fields_from_quote(q, pck, &pe) == 0;
	if (*have_pck)
		jset(out, "pck", pck_json(pck, bad), bad);
	else
		jset_text(out, "pck_error", err_msg(&pe), strlen(err_msg(&pe)), bad);
	return 0;
}

static int decode_ccel(json_t *out, const struct evidence *ev, int *bad, struct err *err)
{
	struct ccel_event *ce = NULL;
	struct tdx_event *te = NULL;
	size_t n = 0, nt = 0;
	int rc = -1;
	TRY_OUT(eventlog_ccel_parse(ev->bytes.p, ev->bytes.len, &ce, &n, err));
	TRY_OUT(eventlog_ccel_to_tdx(ce, n, &te, &nt, err));
	jset(out, "n_events", json_integer((json_int_t)nt), bad);
	if (n > 0)
		jset(out, "end_offset",
		     json_integer((json_int_t)(ce[n - 1].data + ce[n - 1].data_len - ev->bytes.p)),
		     bad);
	jset(out, "event_log", events_json(te, nt, bad), bad);
	json_t *mrs = json_object();
	if (!mrs)
		*bad = 1;
	for (uint32_t imr = 0; mrs && imr < 4; imr++) {
		uint8_t mr[EVENTLOG_MR_LEN];
		TRY_OUT(eventlog_replay_imr(te, nt, imr, mr, err));
		jset_hex(mrs, RTMR_NAMES[imr], mr, sizeof mr, bad);
	}
	jset(out, "replayed_rtmrs", mrs, bad);
	rc = 0;
out:
	eventlog_tdx_events_free(te, nt);
	free(ce);
	return rc;
}

/* Records one check; a failed required check is appended to *failed. */
static void check(json_t *checks, const char *name, int ok, int required, const char *reason,
		  struct buf *failed, int *bad)
{
	jset(checks, name, json_string(ok ? "match" : "mismatch"), bad);
	if (!ok && required)
		(void)buf_printf(failed, "%s%s", failed->len ? "; " : "", reason);
}

static int decode_attestation(json_t *out, struct evidence *ev, struct buf *failed, int *bad,
			      struct err *err)
{
	struct attestation *att = &ev->att;
	struct tdx_quote q;
	struct pck_fields pck;
	int have_pck = 0;
	struct app_info ai, ai_boot;
	int rc = -1;
	memset(&ai, 0, sizeof ai);
	memset(&ai_boot, 0, sizeof ai_boot);
	jset(out, "wire_version", json_integer(att->wire_version), bad);
	jset(out, "tee_variant", json_string(attestation_tee_variant(att->platform)), bad);
	if (att->platform != ATT_PLATFORM_TDX)
		return err_set(err, "unsupported platform %s: only TDX evidence is decoded",
			       attestation_tee_variant(att->platform));
	TRY(add_quote(out, att->quote.p, att->quote.len, &q, &pck, &have_pck, bad, err));
	jset(out, "n_events", json_integer((json_int_t)att->n_event_log), bad);
	jset(out, "event_log", events_json(att->event_log, att->n_event_log, bad), bad);
	jset(out, "runtime_events",
	     runtime_events_json(att->runtime_events, att->n_runtime_events, bad), bad);
	jset_hex(out, "report_data", att->report_data.p, att->report_data.len, bad);
	if (att->config.len)
		jset_text(out, "config", att->config.p, att->config.len, bad);

	/* Replays: RTMR0-2 over the event log, RTMR3 over the runtime events (as
	 * the KMS: never the event log's RTMR3 entries). */
	uint8_t mr[4][EVENTLOG_MR_LEN];
	int replayed[4];
	struct err re[4];
	json_t *mrs = json_object(), *checks = json_object();
	if (!mrs || !checks)
		*bad = 1;
	memset(re, 0, sizeof re);
	for (uint32_t imr = 0; imr < 3; imr++)
		replayed[imr] = eventlog_replay_imr(att->event_log, att->n_event_log, imr, mr[imr],
						    &re[imr]) == 0;
	replayed[3] = eventlog_replay_runtime(att->runtime_events, att->n_runtime_events, NULL,
					      mr[3], &re[3]) == 0;
	for (int i = 0; mrs && i < 4; i++)
		if (replayed[i])
			jset_hex(mrs, RTMR_NAMES[i], mr[i], sizeof mr[i], bad);
	jset(out, "replayed_rtmrs", mrs, bad);
	mrs = NULL;

	/* RTMR0-2 only mean something for a full boot log (GetQuote output);
	 * certificates keep only the RTMR0 ACPI DATA events. */
	int full = ev->fmt == F_QUOTE_REPORT || is_full_log(att->event_log, att->n_event_log);
	for (int i = 0; checks && i < 4; i++) {
		static const char *const why[4] = {
		    "RTMR0 replay does not match the quote",
		    "RTMR1 replay does not match the quote",
		    "RTMR2 replay does not match the quote",
		    "RTMR3 mismatch: the runtime events do not replay to the quote's RTMR3"};
		if (i < 3 && !full) {
			jset(checks, RTMR_NAMES[i], json_string(NOT_CHECKED_CERT_LOG), bad);
		} else if (!replayed[i]) {
			jset_text(checks, RTMR_NAMES[i], err_msg(&re[i]), strlen(err_msg(&re[i])),
				  bad);
			(void)buf_printf(failed, "%s%s replay failed: %s", failed->len ? "; " : "",
					 RTMR_NAMES[i], err_msg(&re[i]));
		} else {
			check(checks, RTMR_NAMES[i],
			      memcmp(mr[i], q.report.rtmr[i], EVENTLOG_MR_LEN) == 0, 1, why[i],
			      failed, bad);
		}
	}
	if (checks) {
		int rd_ok = att->report_data.len == sizeof q.report.report_data &&
			    memcmp(att->report_data.p, q.report.report_data,
				   sizeof q.report.report_data) == 0;
		if (ev->has_file_report_data)
			rd_ok = ev->file_report_data.len == sizeof q.report.report_data &&
				memcmp(ev->file_report_data.p, q.report.report_data,
				       sizeof q.report.report_data) == 0;
		check(checks, "report_data", rd_ok, 1,
		      "report_data mismatch: REPORTDATA of the quote differs", failed, bad);
		if (ev->cert) {
			struct err be = {{0}};
			int ok = ratls_check_binding(att, ev->cert, &be) == 0;
			check(checks, "key_binding", ok, 1,
			      "report data mismatch: the attestation does not bind the "
			      "certificate key",
			      failed, bad);
		}
		struct err le = {{0}};
		if (appinfo_verify_local(att, &q.report, &le) == 0) {
			jset(checks, "local", json_string("ok"), bad);
		} else {
			jset_text(checks, "local", err_msg(&le), strlen(err_msg(&le)), bad);
			(void)buf_printf(failed, "%s%s", failed->len ? "; " : "", err_msg(&le));
		}
	}
	jset(out, "checks", checks, bad);
	checks = NULL;

	/* App identity as the KMS computes it (request vm_config = the report's). */
	struct appinfo_opts o = {
	    .vm_config = ev->vm_config,
	    .vm_config_len = ev->vm_config_len,
	    .ppid = have_pck && pck.have_ppid ? pck.ppid : NULL,
	    .ppid_len = have_pck && pck.have_ppid ? sizeof pck.ppid : 0,
	};
	struct err ae = {{0}};
	if (appinfo_decode(att, &q.report, &o, &ai, &ae) < 0 ||
	    (o.boottime = 1, appinfo_decode(att, &q.report, &o, &ai_boot, &ae)) < 0) {
		/* The replays above are still worth printing. */
		jset_text(out, "app_info_error", err_msg(&ae), strlen(err_msg(&ae)), bad);
		(void)buf_printf(failed, "%s%s", failed->len ? "; " : "", err_msg(&ae));
		rc = 0;
		goto out;
	}
	json_t *aij = app_info_json(&ai, bad);
	/* The V1 decoder unwraps a nested "vm_config" string; the KMS does not. */
	struct buf nested = BUF_INIT;
	struct err ne = {{0}};
	if (aij && !ev->vm_config && att->config.len &&
	    appinfo_vm_config_os_image_hash((const char *)att->config.p, att->config.len, 1,
					    &nested, &ne) == 0 &&
	    (nested.len != ai.os_image_hash.len ||
	     memcmp(nested.p, ai.os_image_hash.p, nested.len) != 0))
		jset_hex(aij, "os_image_hash_nested_vm_config", nested.p, nested.len, bad);
	buf_free(&nested);
	jset(out, "device_id_source",
	     json_string(o.ppid ? "SHA-256 of the PPID of the quote's PCK certificate "
				  "(unverified)"
				: "no PPID (no PCK certificate): SHA-256 of empty"),
	     bad);
	jset(out, "app_info", aij, bad);
	jset(out, "app_info_boottime", app_info_json(&ai_boot, bad), bad);
	rc = 0;
out:
	json_decref(mrs);
	json_decref(checks);
	appinfo_free(&ai);
	appinfo_free(&ai_boot);
	return rc;
}

/* ---- the command ----------------------------------------------------------------- */

static int parse_format(const char *s, enum fmt *f)
{
	for (size_t i = 0; i < sizeof FMT_NAMES / sizeof FMT_NAMES[0]; i++)
		if (strcmp(s, FMT_NAMES[i]) == 0) {
			*f = (enum fmt)i;
			return 0;
		}
	return -1;
}

static int run(struct kmsctl *ctl, int argc, char **argv)
{
	(void)ctl;
	struct err err = {{0}};
	const char *path = NULL;
	enum fmt want = F_AUTO;
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		int r = 0;
		if (kmsctl_is_help(argv[i])) {
			usage(stdout);
			return KMSCTL_EXIT_OK;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--file", &v, &err)) != 0) {
			if (r > 0)
				path = v;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--format", &v, &err)) != 0) {
			if (r > 0 && parse_format(v, &want) < 0)
				return kmsctl_usage_error(CMD,
							  "--format must be auto, v0, v1, "
							  "quote-report, ccel, quote or cert, got "
							  "'%.40s'",
							  v);
		} else if (argv[i][0] == '-') {
			return kmsctl_usage_error(CMD, "unknown option '%s'", argv[i]);
		} else {
			return kmsctl_usage_error(CMD, "unexpected argument '%s'", argv[i]);
		}
		if (r < 0)
			return kmsctl_usage_error(CMD, "%s", err_msg(&err));
		if (v && !*v)
			return kmsctl_usage_error(CMD, "%s needs a non-empty value", argv[i]);
	}
	if (!path)
		return kmsctl_usage_error(CMD, "--file FILE is required");

	struct buf file = BUF_INIT, failed = BUF_INIT;
	struct evidence ev;
	int bad = 0, rc = KMSCTL_EXIT_FAIL;
	memset(&ev, 0, sizeof ev);
	attestation_init(&ev.att);
	json_t *out = json_object();
	if (!out) {
		kmsctl_att_error("out of memory");
		goto done;
	}
	if (kmsctl_att_read_file(path, KMSCTL_ATT_MAX_FILE, &file, &err) < 0 ||
	    load_evidence(&ev, &file, want, &err) < 0) {
		kmsctl_att_error("%s", err_msg(&err));
		goto done;
	}
	jset(out, "format", json_string(ev.label), &bad);
	jset(out, "verified", json_false(), &bad);
	int drc = 0;
	if (ev.fmt == F_CCEL) {
		drc = decode_ccel(out, &ev, &bad, &err);
	} else if (ev.fmt == F_QUOTE) {
		struct tdx_quote q;
		struct pck_fields pck;
		int have_pck;
		drc = add_quote(out, ev.bytes.p, ev.bytes.len, &q, &pck, &have_pck, &bad, &err);
	} else {
		drc = decode_attestation(out, &ev, &failed, &bad, &err);
	}
	if (bad) {
		kmsctl_att_error("cannot build the JSON output (out of memory)");
		goto done;
	}
	if (drc < 0) {
		kmsctl_att_error("%s", err_msg(&err));
		goto done;
	}
	if (kmsctl_att_print_json(out, &err) < 0) {
		kmsctl_att_error("%s", err_msg(&err));
		goto done;
	}
	if (failed.len) {
		kmsctl_att_error("%s", buf_str(&failed));
		goto done;
	}
	rc = KMSCTL_EXIT_OK;
done:
	json_decref(out);
	evidence_free(&ev);
	buf_free(&file);
	buf_free(&failed);
	return rc;
}

const struct kmsctl_cmd kmsctl_cmd_decode_attestation = {
    .name = "decode-attestation",
    .summary = "decode TDX evidence without DCAP: quote, event log, RTMR replay, app id",
    .run = run,
    .usage = usage,
};
