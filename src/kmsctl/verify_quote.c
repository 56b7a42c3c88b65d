/*
 * verify_quote.c — `dstack-kmsctl verify-quote`: DCAP-verifies one TDX quote
 * (binary or hex) against collateral and a trust anchor at a given time, and
 * prints the verified report as one JSON object. Also the helpers the other
 * attestation subcommands share (attest_cli.h).
 *
 * It decides nothing itself: every check is attest/dcap.h's, in dcap-qvl's
 * order. A trust anchor other than the pinned Intel root is only ever used
 * when given explicitly with --root. Evidence is untrusted: every failure is
 * one "error: <reason>" line, never a crash.
 * spec: attestation §1 (quote), §2 (DCAP verification), §2.2 (trust anchor).
 */
#include "kmsctl/attest_cli.h"
#include "kmsctl/kmsctl.h"

#include "attest/collateral.h"
#include "collateral/collateral_source.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/log.h"

#include <ctype.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CMD "verify-quote"
#define MAX_ROOT_FILE (64u * 1024u)
#define MAX_UNIX_SECONDS 253402300799LL /* 9999-12-31T23:59:59Z */

/* ---- shared helpers (attest_cli.h) ------------------------------------------ */

int kmsctl_att_error(const char *fmt, ...)
{
	char raw[ERR_MAX + 256], clean[sizeof raw];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof raw, fmt, ap);
	va_end(ap);
	kmsctl_sanitize(raw, clean, sizeof clean);
	fflush(stdout);
	fprintf(stderr, "error: %s\n", clean);
	return KMSCTL_EXIT_FAIL;
}

int kmsctl_att_parse_now(const char *s, int64_t *now, struct err *err)
{
	int64_t v = 0;
	if (!*s)
		return err_set(err, "--now must be Unix seconds, got ''");
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > MAX_UNIX_SECONDS / 10)
			return err_set(err, "--now must be Unix seconds (0 to %lld), got '%.40s'",
				       MAX_UNIX_SECONDS, s);
		v = v * 10 + (*p - '0');
	}
	if (v > MAX_UNIX_SECONDS)
		return err_set(err, "--now must be Unix seconds (0 to %lld), got '%.40s'",
			       MAX_UNIX_SECONDS, s);
	*now = v;
	return 0;
}

int kmsctl_att_read_file(const char *path, size_t max, struct buf *out, struct err *err)
{
	if (fs_read_file(path, max, out, err) < 0)
		return err_wrap(err, "cannot read %s", path);
	return 0;
}

static int is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int kmsctl_att_hex_text_decode(const uint8_t *p, size_t n, struct buf *out, struct err *err)
{
	return hex_decode_text(p, n, 0, out, err);
}

int kmsctl_att_is_text(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_space(p[i]) && (p[i] < 0x20 || p[i] > 0x7e))
			return 0;
	return 1;
}

int kmsctl_att_quote_bytes(const uint8_t *p, size_t n, struct buf *quote, struct err *err)
{
	if (n == 0)
		return err_set(err, "the quote file is empty");
	if (kmsctl_att_is_text(p, n)) /* hex, or a clear error saying why it is not */
		return kmsctl_att_hex_text_decode(p, n, quote, err) < 0
			   ? err_wrap(err, "cannot decode the hex quote")
			   : 0;
	if (buf_append(quote, p, n) < 0)
		return err_set(err, "out of memory");
	return 0;
}

/* The trust anchor as DER: a DER or PEM certificate file. */
static int load_root_der(const char *path, struct buf *der, struct err *err)
{
	struct buf file = BUF_INIT;
	X509 *x = NULL;
	int rc = -1;
	if (kmsctl_att_read_file(path, MAX_ROOT_FILE, &file, err) < 0)
		goto out;
	if (file.len >= 11 && memcmp(file.p, "-----BEGIN ", 11) == 0) {
		BIO *bio = BIO_new_mem_buf(file.p, (int)file.len);
		x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
	} else {
		const unsigned char *q = file.p;
		x = d2i_X509(NULL, &q, (long)file.len);
		if (x && q != file.p + file.len) {
			X509_free(x);
			x = NULL;
		}
	}
	if (!x) {
		err_openssl(err, "--root %s is not a DER or PEM certificate", path);
		goto out;
	}
	unsigned char *d = NULL;
	int dl = i2d_X509(x, &d);
	if (dl <= 0) {
		err_openssl(err, "--root %s: cannot encode the certificate", path);
		goto out;
	}
	rc = buf_append(der, d, (size_t)dl) < 0 ? err_set(err, "out of memory") : 0;
	OPENSSL_free(d);
out:
	X509_free(x);
	buf_free(&file);
	return rc;
}

/* Collateral for the quote's FMSPC and CA type fetched from a PCCS (memory
 * cache only: one run), verified once when loaded, then the quote. */
static int verify_with_pccs(const struct dcap_verifier *v, const struct kmsctl_att_dcap_opts *o,
			    const struct buf *root, const uint8_t *quote, size_t len,
			    struct dcap_result *res, struct err *err)
{
	char url[2048];
	struct collateral_source *s = NULL;
	struct dcap_loaded *l = NULL;
	int rc = -1;
	TRY(collateral_pccs_url_normalize("--pccs", o->pccs, url, sizeof url, err));
	/* The source logs fetches and retries for a long-running KMS; here the
	 * one "error:" line carries the reason, so keep stderr to that. */
	log_set_level(LOG_LVL_ERR);
	struct collateral_source_opts so = {
	    .pccs_url = url,
	    .anchor_der = o->root ? root->p : NULL,
	    .anchor_len = o->root ? root->len : 0,
	};
	s = collateral_source_new(&so, v, err);
	if (!s)
		goto out;
	if (collateral_source_get(s, quote, len, o->now, &l, err) < 0)
		goto out;
	rc = dcap_verify_loaded(v, quote, len, l, o->now, res, err);
out:
	if (l)
		dcap_loaded_release(l);
	collateral_source_free(s);
	return rc;
}

int kmsctl_att_dcap_verify(const struct kmsctl_att_dcap_opts *o, const uint8_t *quote, size_t len,
			   struct dcap_result *res, struct err *err)
{
	struct buf file = BUF_INIT, root = BUF_INIT;
	struct dcap_collateral col;
	struct dcap_verifier *v = NULL;
	int rc = -1;
	collateral_init(&col);
	if (o->root && load_root_der(o->root, &root, err) < 0)
		goto out;
	if (!o->collateral && !o->pccs) {
		err_set(err, "no collateral: give --collateral FILE or --pccs URL");
		goto out;
	}
	if (o->collateral) {
		if (kmsctl_att_read_file(o->collateral, KMSCTL_ATT_MAX_COLLATERAL, &file, err) < 0)
			goto out;
		if (collateral_parse((const char *)file.p, file.len, &col, err) < 0) {
			err_wrap(err, "collateral %s", o->collateral);
			goto out;
		}
	}
	v = dcap_verifier_new(o->root ? root.p : NULL, root.len, err);
	if (!v)
		goto out;
	if (o->collateral)
		rc = dcap_verify(v, quote, len, &col, o->now, res, err);
	else
		rc = verify_with_pccs(v, o, &root, quote, len, res, err);
out:
	dcap_verifier_free(v);
	collateral_free(&col);
	buf_free(&file);
	buf_free(&root);
	return rc;
}

json_t *kmsctl_att_json_hex(const uint8_t *p, size_t n)
{
	struct buf b = BUF_INIT;
	json_t *j = NULL;
	if (hex_append(&b, p, n) == 0)
		j = json_stringn(buf_str(&b), b.len);
	buf_free(&b);
	return j;
}

static int set_hex(json_t *obj, const char *key, const uint8_t *p, size_t n)
{
	return json_object_set_new(obj, key, kmsctl_att_json_hex(p, n));
}

int kmsctl_att_report_to_json(json_t *obj, const struct tdx_report *r)
{
	static const char *const rtmr[4] = {"rtmr0", "rtmr1", "rtmr2", "rtmr3"};
	int bad = 0;
	bad |= set_hex(obj, "tee_tcb_svn", r->tee_tcb_svn, sizeof r->tee_tcb_svn);
	bad |= set_hex(obj, "mr_seam", r->mr_seam, sizeof r->mr_seam);
	bad |= set_hex(obj, "mr_signer_seam", r->mr_signer_seam, sizeof r->mr_signer_seam);
	bad |= set_hex(obj, "seam_attributes", r->seam_attributes, sizeof r->seam_attributes);
	bad |= set_hex(obj, "td_attributes", r->td_attributes, sizeof r->td_attributes);
	bad |= set_hex(obj, "xfam", r->xfam, sizeof r->xfam);
	bad |= set_hex(obj, "mr_td", r->mr_td, sizeof r->mr_td);
	bad |= set_hex(obj, "mr_config_id", r->mr_config_id, sizeof r->mr_config_id);
	bad |= set_hex(obj, "mr_owner", r->mr_owner, sizeof r->mr_owner);
	bad |= set_hex(obj, "mr_owner_config", r->mr_owner_config, sizeof r->mr_owner_config);
	for (int i = 0; i < 4; i++)
		bad |= set_hex(obj, rtmr[i], r->rtmr[i], sizeof r->rtmr[i]);
	bad |= set_hex(obj, "report_data", r->report_data, sizeof r->report_data);
	if (r->is_td15) {
		bad |= set_hex(obj, "tee_tcb_svn2", r->tee_tcb_svn2, sizeof r->tee_tcb_svn2);
		bad |= set_hex(obj, "mr_service_td", r->mr_service_td, sizeof r->mr_service_td);
	}
	return bad ? -1 : 0;
}

int kmsctl_att_print_json(const json_t *obj, struct err *err)
{
	char *s = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!s)
		return err_set(err, "cannot format the JSON output");
	puts(s);
	free(s);
	if (fflush(stdout) != 0 || ferror(stdout))
		return err_set(err, "cannot write to stdout");
	return 0;
}

/* ---- verify-quote ---------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " KMSCTL_PROG " verify-quote --quote FILE [--collateral FILE]\n"
		"           [--root FILE] [--now UNIX_SECONDS] [--pccs URL]\n"
		"\n"
		"DCAP-verifies a TDX quote (version 4 or 5) exactly as the KMS does (dcap-qvl\n"
		"0.5.2's checks and order, then dstack's TCB checks) and prints the verified\n"
		"report as one JSON object: status, advisory_ids, fmspc, ppid, cpusvn, pcesvn,\n"
		"pceid, quote_version, platform_status, platform_advisory_ids, qe_status,\n"
		"qe_advisory_ids, verified_at and the TD report (mr_td, rtmr0-3, report_data,\n"
		"...). Nothing is fetched or trusted implicitly.\n"
		"\n"
		"  --quote FILE          the quote: binary, or hex text (with or without 0x;\n"
		"                        whitespace is ignored)\n"
		"  --collateral FILE     collateral JSON (dcap-qvl QuoteCollateralV3 format)\n"
		"  --pccs URL            fetch the collateral for the quote's FMSPC from this\n"
		"                        PCCS (or Intel PCS) base URL instead; a trailing\n"
		"                        /sgx|tdx/certification/v4 is ignored. Used when\n"
		"                        --collateral is not given\n"
		"  --root FILE           trust this root CA (DER or PEM) INSTEAD of the pinned\n"
		"                        Intel SGX Root CA: for test PKIs only (like upstream's\n"
		"                        insecure_allow_external_trust_anchors)\n"
		"  --now UNIX_SECONDS    verification time (default: now); collateral and\n"
		"                        certificates must be valid at that time\n"
		"  -h, --help            this text\n"
		"\n"
		"SGX quotes (version 3) are refused: the KMS is TDX-only.\n"
		"Exit status: 0 the quote verifies (any TCB status but Revoked: the policy\n"
		"decides on status and advisories), 1 it does not (\"error: <reason>\" on\n"
		"stderr), 2 usage error.\n");
}

struct vq_args {
	const char *quote;
	struct kmsctl_att_dcap_opts o;
};

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct vq_args *a)
{
	struct err err = {{0}};
	const char *now = NULL;
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		int r = 0;
		if (kmsctl_is_help(argv[i])) {
			usage(stdout);
			return KMSCTL_EXIT_OK;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--quote", &v, &err)) != 0) {
			a->quote = v;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--collateral", &v, &err)) != 0) {
			a->o.collateral = v;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--root", &v, &err)) != 0) {
			a->o.root = v;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--now", &v, &err)) != 0) {
			now = v;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--pccs", &v, &err)) != 0) {
			a->o.pccs = v;
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
	if (!a->quote)
		return kmsctl_usage_error(CMD, "--quote FILE is required");
	if (!a->o.collateral && !a->o.pccs)
		return kmsctl_usage_error(CMD, "--collateral FILE or --pccs URL is required");
	a->o.now = (int64_t)time(NULL);
	if (now && kmsctl_att_parse_now(now, &a->o.now, &err) < 0)
		return kmsctl_usage_error(CMD, "%s", err_msg(&err));
	return -1;
}

static json_t *advisories_json(const char (*ids)[32], size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++)
		if (json_array_append_new(arr, json_string(ids[i])) < 0) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

static json_t *result_json(const struct dcap_result *r, int64_t now)
{
	char fmspc[2 * sizeof r->fmspc + 1];
	hex_encode(r->fmspc, sizeof r->fmspc, fmspc);
	for (char *p = fmspc; *p; p++) /* Intel writes FMSPCs in upper case */
		*p = (char)toupper((unsigned char)*p);
	json_t *o = json_object();
	if (!o)
		return NULL;
	int bad = 0;
	bad |= json_object_set_new(o, "status", json_string(r->status));
	bad |=
	    json_object_set_new(o, "advisory_ids", advisories_json(r->advisory_ids, r->n_advisory));
	bad |= json_object_set_new(o, "fmspc", json_string(fmspc));
	bad |= set_hex(o, "ppid", r->ppid, sizeof r->ppid);
	bad |= set_hex(o, "cpusvn", r->cpu_svn, sizeof r->cpu_svn);
	bad |= json_object_set_new(o, "pcesvn", json_integer(r->pce_svn));
	bad |= set_hex(o, "pceid", r->pce_id, sizeof r->pce_id);
	bad |= json_object_set_new(o, "quote_version", json_integer(r->quote_version));
	bad |= json_object_set_new(o, "platform_status", json_string(r->platform.status));
	bad |=
	    json_object_set_new(o, "platform_advisory_ids",
				advisories_json(r->platform.advisory_ids, r->platform.n_advisory));
	bad |= json_object_set_new(o, "qe_status", json_string(r->qe.status));
	bad |= json_object_set_new(o, "qe_advisory_ids",
				   advisories_json(r->qe.advisory_ids, r->qe.n_advisory));
	bad |= json_object_set_new(o, "verified_at", json_integer(now));
	bad |= json_object_set_new(o, "tee_type", json_string("TDX"));
	bad |= json_object_set_new(o, "td_report_type",
				   json_string(r->report.is_td15 ? "TD15" : "TD10"));
	bad |= kmsctl_att_report_to_json(o, &r->report);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int run(struct kmsctl *ctl, int argc, char **argv)
{
	(void)ctl;
	struct vq_args a;
	memset(&a, 0, sizeof a);
	int rc = parse_args(argc, argv, &a);
	if (rc >= 0)
		return rc;

	struct err err = {{0}};
	struct buf file = BUF_INIT, quote = BUF_INIT;
	struct dcap_result *res = calloc(1, sizeof *res);
	json_t *out = NULL;
	rc = KMSCTL_EXIT_FAIL;
	if (!res) {
		kmsctl_att_error("out of memory");
		goto out;
	}
	if (kmsctl_att_read_file(a.quote, KMSCTL_ATT_MAX_FILE, &file, &err) < 0 ||
	    kmsctl_att_quote_bytes(file.p, file.len, &quote, &err) < 0 ||
	    kmsctl_att_dcap_verify(&a.o, quote.p, quote.len, res, &err) < 0) {
		kmsctl_att_error("%s", err_msg(&err));
		goto out;
	}
	out = result_json(res, a.o.now);
	if (!out) {
		kmsctl_att_error("cannot build the JSON output");
		goto out;
	}
	if (kmsctl_att_print_json(out, &err) < 0) {
		kmsctl_att_error("%s", err_msg(&err));
		goto out;
	}
	rc = KMSCTL_EXIT_OK;
out:
	json_decref(out);
	free(res);
	buf_free(&file);
	buf_free(&quote);
	return rc;
}

const struct kmsctl_cmd kmsctl_cmd_verify_quote = {
    .name = "verify-quote",
    .summary = "DCAP-verify a TDX quote and print the verified report (JSON)",
    .run = run,
    .usage = usage,
};
