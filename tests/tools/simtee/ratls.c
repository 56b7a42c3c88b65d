/*
 * ratls.c — `simtee ratls-cert`: the RA-TLS client certificate a dstack CVM
 * presents to the KMS. A fresh (or given) P-256 key, a simtee quote whose
 * REPORTDATA = SHA-512("ratls-cert:" || SPKI DER), the V0 SCALE attestation
 * (stripped event log, runtime events, report_data, config) in OID .1.8 — or
 * the legacy .1.1 quote + .1.2 JSON event log — issued by the KMS temp CA.
 * TEST-ONLY (see simtee.h). The SCALE encoder here is written independently of
 * src/attest/scale.c and attestation.c so each checks the other.
 * spec: kms-protocol §7.7, §9.1, §9.4; attestation §3.1–§3.3.
 */
#include "simtee.h"

#include "crypto/cert.h"
#include "crypto/p256.h"
#include "util/hex.h"
#include "util/secret.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define RUNTIME_EVENT_TYPE 0x08000001u

static const char *const RATLS_HELP_HEAD =
    "usage: simtee ratls-cert --pki DIR --tmp-ca-cert PEM --tmp-ca-key PEM\n"
    "                         --out-cert PEM --out-key PEM [options]\n"
    "\n"
    "Writes an RA-TLS client certificate (kms-protocol §7.7): CN \"RA-TLS TEMP Cert\",\n"
    "KeyUsage digitalSignature, issued by the temp CA, with a V0 SCALE attestation in\n"
    "OID 1.3.6.1.4.1.62397.1.8 whose REPORTDATA = SHA-512(\"ratls-cert:\" || SPKI).\n"
    "  --key PEM               use this P-256 key instead of a fresh one\n"
    "  --bind-key PEM          bind the attestation to this other key (wrong binding)\n"
    "  --config TEXT           the attestation's config (VmConfig JSON; default empty)\n"
    "  --os-image-hash HEX     shorthand for --config '{\"os_image_hash\":\"HEX\"}'\n"
    "  --self-signed           self-signed by its own key (no --tmp-ca-cert/--tmp-ca-key)\n"
    "  --legacy                legacy form: quote in .1.1, TdxEvent JSON log in .1.2\n"
    "  --now T                 issuance time: notAfter = T + 3650 days (default: clock)\n"
    "  --out-attestation FILE  the V0 attestation bytes as embedded\n"
    "  --out-quote FILE        the raw quote\n"
    "  --events-out FILE       the runtime events (see simtee quote --help)\n"
    "  --boot-events FILE      JSON array of boot-time TdxEvents {imr, event_type,\n"
    "                          digest, event, event_payload} (hex digest/payload) placed\n"
    "                          before the runtime events, digests kept (e.g. the RTMR0\n"
    "                          ACPI DATA events of a TDX lite boot); not with --legacy\n"
    "Quote options (all of simtee quote's except --report-data):\n";

static int put_compact(struct buf *b, uint64_t v)
{
	/* spec: kms-protocol §8 — SCALE compact integer. */
	if (v < 64)
		return buf_append_byte(b, (uint8_t)(v << 2));
	if (v < (1u << 14)) {
		uint16_t x = (uint16_t)((v << 2) | 1);
		uint8_t o[2] = {(uint8_t)x, (uint8_t)(x >> 8)};
		return buf_append(b, o, 2);
	}
	if (v < (1u << 30)) {
		uint32_t x = (uint32_t)((v << 2) | 2);
		uint8_t o[4] = {(uint8_t)x, (uint8_t)(x >> 8), (uint8_t)(x >> 16),
				(uint8_t)(x >> 24)};
		return buf_append(b, o, 4);
	}
	uint8_t o[8];
	size_t n = 0;
	for (uint64_t t = v; t; t >>= 8)
		o[n++] = (uint8_t)t;
	if (buf_append_byte(b, (uint8_t)(((n - 4) << 2) | 3)) < 0)
		return -1;
	return buf_append(b, o, n);
}

static int put_vec(struct buf *b, const void *p, size_t n)
{
	if (put_compact(b, n) < 0)
		return -1;
	return n ? buf_append(b, p, n) : 0;
}

static int put_u32le(struct buf *b, uint32_t v)
{
	uint8_t o[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	return buf_append(b, o, 4);
}

/* spec: kms-protocol §9.1 (V0 layout), §9.4 (stripped: runtime events keep their
 * payload and get an empty digest). */
int sim_attestation_v0(const struct buf *quote, const struct buf *boot, size_t n_boot,
		       const struct sim_events *ev, const uint8_t report_data[64],
		       const struct buf *config, struct buf *out)
{
	if (buf_append_byte(out, 0x00) < 0 || /* VersionedAttestation::V0 */
	    buf_append_byte(out, 0x00) < 0 || /* AttestationQuote::DstackTdx */
	    put_vec(out, quote->p, quote->len) < 0 || put_compact(out, n_boot + ev->n) < 0 ||
	    buf_append(out, boot->p, boot->len) < 0)
		return -1;
	for (size_t i = 0; i < ev->n; i++) {
		const struct sim_event *e = &ev->ev[i];
		if (put_u32le(out, 3) < 0 || put_u32le(out, RUNTIME_EVENT_TYPE) < 0 ||
		    put_vec(out, NULL, 0) < 0 || put_vec(out, e->name, strlen(e->name)) < 0 ||
		    put_vec(out, e->payload.p, e->payload.len) < 0)
			return -1;
	}
	if (put_compact(out, ev->n) < 0)
		return -1;
	for (size_t i = 0; i < ev->n; i++) {
		const struct sim_event *e = &ev->ev[i];
		if (put_vec(out, e->name, strlen(e->name)) < 0 ||
		    put_vec(out, e->payload.p, e->payload.len) < 0)
			return -1;
	}
	if (buf_append(out, report_data, 64) < 0 || put_vec(out, config->p, config->len) < 0)
		return -1;
	return 0;
}

/* The --boot-events file as V0 TdxEvents (imr, event_type, digest, event,
 * event_payload), appended to out; *n counts them. */
static int boot_events(const char *path, struct buf *out, size_t *n, struct err *err)
{
	struct buf f = BUF_INIT, d = BUF_INIT, p = BUF_INIT;
	json_error_t je;
	json_t *arr = NULL, *e;
	size_t i;
	int rc = -1;
	TRY_OUT(sim_read_file(path, &f, err));
	if (!(arr = json_loadb((const char *)f.p, f.len, 0, &je)) || !json_is_array(arr)) {
		err_set(err, "%s: not a JSON array (%s)", path, arr ? "" : je.text);
		goto out;
	}
	json_array_foreach(arr, i, e)
	{
		json_t *imr = json_object_get(e, "imr"), *ty = json_object_get(e, "event_type");
		const char *dg = json_string_value(json_object_get(e, "digest"));
		const char *nm = json_string_value(json_object_get(e, "event"));
		const char *pl = json_string_value(json_object_get(e, "event_payload"));
		buf_reset(&d);
		buf_reset(&p);
		if (!json_is_integer(imr) || !json_is_integer(ty) || !dg || !nm || !pl ||
		    hex_decode(dg, strlen(dg), &d) < 0 || hex_decode(pl, strlen(pl), &p) < 0) {
			err_set(err,
				"%s: event %zu needs imr, event_type, digest (hex), event and "
				"event_payload (hex)",
				path, i);
			goto out;
		}
		if (put_u32le(out, (uint32_t)json_integer_value(imr)) < 0 ||
		    put_u32le(out, (uint32_t)json_integer_value(ty)) < 0 ||
		    put_vec(out, d.p, d.len) < 0 || put_vec(out, nm, strlen(nm)) < 0 ||
		    put_vec(out, p.p, p.len) < 0) {
			err_set(err, "out of memory");
			goto out;
		}
	}
	*n = json_array_size(arr);
	rc = 0;
out:
	json_decref(arr);
	buf_free(&f);
	buf_free(&d);
	buf_free(&p);
	return rc;
}

/* An extension whose extnValue holds a DER OCTET STRING wrapping payload
 * (attestation §3.1: unwrap twice). */
static int add_wrapped_ext(X509 *x, const char *oid, const struct buf *payload)
{
	ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	ASN1_OCTET_STRING *wrap = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e = NULL;
	unsigned char *der = NULL;
	int n, ok = 0;
	if (!o || !os || !wrap || !ASN1_OCTET_STRING_set(os, payload->p, (int)payload->len) ||
	    (n = i2d_ASN1_OCTET_STRING(os, &der)) <= 0 || !ASN1_OCTET_STRING_set(wrap, der, n) ||
	    !(e = X509_EXTENSION_create_by_OBJ(NULL, o, 0, wrap)) || X509_add_ext(x, e, -1) != 1)
		goto out;
	ok = 1;
out:
	OPENSSL_free(der);
	X509_EXTENSION_free(e);
	ASN1_OCTET_STRING_free(wrap);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(o);
	return ok ? 0 : -1;
}

/* The legacy certificate form: KeyUsage then .1.1 (quote) and .1.2 (event log),
 * re-signed by the temp CA. */
static int make_legacy(X509 *x, const uint8_t ca_key[32], const struct buf *quote,
		       const struct buf *event_log, struct err *err)
{
	ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
	EVP_PKEY *pk = sim_evp_key(ca_key, err);
	int ok = ku && pk && ASN1_BIT_STRING_set_bit(ku, 0, 1) &&
		 X509_add1_ext_i2d(x, NID_key_usage, ku, 1, X509V3_ADD_APPEND) == 1 &&
		 add_wrapped_ext(x, OID_TDX_QUOTE, quote) == 0 &&
		 add_wrapped_ext(x, OID_EVENT_LOG, event_log) == 0 &&
		 X509_sign(x, pk, EVP_sha256()) > 0;
	ASN1_BIT_STRING_free(ku);
	EVP_PKEY_free(pk);
	return ok ? 0 : err_openssl(err, "legacy RA-TLS certificate");
}

static int load_scalar(const char *path, uint8_t key[32], struct err *err)
{
	struct buf b = BUF_INIT;
	buf_init_secret(&b);
	int rc = sim_read_file(path, &b, err) == 0 &&
			 p256_scalar_from_pem((const char *)b.p, b.len, key, err) == 0
		     ? 0
		     : -1;
	if (rc < 0)
		err_wrap(err, "key %s", path);
	buf_free(&b);
	return rc;
}

struct ratls_opts {
	const char *pki, *ca_cert, *ca_key, *out_cert, *out_key, *key, *bind_key, *config,
	    *os_image_hash, *out_att, *out_quote, *events_out, *boot_events;
	int legacy, have_now, self_signed;
	int64_t now;
};

static int report_data_for(const uint8_t point[P256_POINT_LEN], uint8_t rd[64], struct err *err)
{
	uint8_t spki[P256_SPKI_LEN];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned n = 0;
	int ok = p256_spki_der(point, spki) == 0 && md &&
		 EVP_DigestInit_ex(md, EVP_sha512(), NULL) == 1 &&
		 EVP_DigestUpdate(md, "ratls-cert:", 11) == 1 &&
		 EVP_DigestUpdate(md, spki, sizeof spki) == 1 &&
		 EVP_DigestFinal_ex(md, rd, &n) == 1 && n == 64;
	EVP_MD_CTX_free(md);
	return ok ? 0 : err_set(err, "computing the RA-TLS report data");
}

static int run(const struct ratls_opts *o, struct sim_quote_spec *spec, struct err *err)
{
	struct sim_pki pki;
	uint8_t key[32], ca_key[32], bind[32], point[P256_POINT_LEN], bind_point[P256_POINT_LEN];
	struct buf quote = BUF_INIT, att = BUF_INIT, config = BUF_INIT, ca_pem = BUF_INIT,
		   pem = BUF_INIT, log = BUF_INIT, key_pem = BUF_INIT, boot = BUF_INIT;
	size_t n_boot = 0;
	X509 *ca = NULL, *x = NULL;
	int rc = -1;
	memset(&pki, 0, sizeof pki);
	buf_init_secret(&key_pem);

	TRY_OUT(o->key ? load_scalar(o->key, key, err) : p256_generate(key, err));
	if (o->self_signed)
		memcpy(ca_key, key, sizeof key);
	else
		TRY_OUT(load_scalar(o->ca_key, ca_key, err));
	TRY_OUT(p256_public_point(key, point, err));
	if (o->bind_key) {
		TRY_OUT(load_scalar(o->bind_key, bind, err));
		TRY_OUT(p256_public_point(bind, bind_point, err));
		secret_wipe(bind, sizeof bind);
	} else {
		memcpy(bind_point, point, sizeof point);
	}
	TRY_OUT(report_data_for(bind_point, spec->report_data, err));
	TRY_OUT(sim_quote_resolve_events(spec, err));
	TRY_OUT(sim_pki_load(o->pki, &pki, err));
	TRY_OUT(sim_quote_build(&pki, spec, &quote, err));
	if (o->config && buf_append_str(&config, o->config) < 0)
		goto oom;
	if (o->os_image_hash &&
	    buf_printf(&config, "{\"os_image_hash\":\"%s\"}", o->os_image_hash) < 0)
		goto oom;
	if (o->boot_events)
		TRY_OUT(boot_events(o->boot_events, &boot, &n_boot, err));
	if (sim_attestation_v0(&quote, &boot, n_boot, &spec->events, spec->report_data, &config,
			       &att) < 0)
		goto oom;

	if (!o->self_signed) {
		TRY_OUT(sim_read_file(o->ca_cert, &ca_pem, err));
		if (!(ca = cert_from_pem((const char *)ca_pem.p, ca_pem.len, err)))
			goto out;
	}
	struct cert_params cp;
	memset(&cp, 0, sizeof cp);
	cp.subject = "RA-TLS TEMP Cert";
	if (!o->legacy) {
		cp.attestation.p = att.p;
		cp.attestation.len = att.len;
	}
	int64_t now = o->have_now ? o->now : (int64_t)time(NULL);
	if (!(x = cert_issue(&cp, point, ca_key, ca, now, err)))
		goto out;
	if (o->legacy) {
		TRY_OUT(sim_events_to_tdx_json(&spec->events, &log, err));
		TRY_OUT(make_legacy(x, ca_key, &quote, &log, err));
	}
	TRY_OUT(cert_to_pem(x, &pem, err));
	TRY_OUT(sim_write_file(o->out_cert, pem.p, pem.len, 0, err));
	TRY_OUT(p256_pkcs8_pem(key, &key_pem, err));
	TRY_OUT(sim_write_file(o->out_key, key_pem.p, key_pem.len, 1, err));
	if (o->out_att)
		TRY_OUT(sim_write_file(o->out_att, att.p, att.len, 0, err));
	if (o->out_quote)
		TRY_OUT(sim_write_file(o->out_quote, quote.p, quote.len, 0, err));
	if (o->events_out) {
		buf_reset(&log);
		TRY_OUT(sim_events_to_json(&spec->events, &log, err));
		TRY_OUT(sim_write_file(o->events_out, log.p, log.len, 0, err));
	}
	rc = 0;
	goto out;
oom:
	err_set(err, "out of memory");
out:
	secret_wipe(key, sizeof key);
	secret_wipe(ca_key, sizeof ca_key);
	X509_free(ca);
	X509_free(x);
	sim_pki_free(&pki);
	buf_free(&quote);
	buf_free(&att);
	buf_free(&config);
	buf_free(&ca_pem);
	buf_free(&pem);
	buf_free(&log);
	buf_free(&key_pem);
	buf_free(&boot);
	return rc;
}

int sim_cmd_ratls_cert(int argc, char **argv)
{
	struct err err = {{0}};
	struct sim_quote_spec spec;
	struct ratls_opts o;
	const char *v;
	int rc, r;
	sim_quote_spec_init(&spec);
	memset(&o, 0, sizeof o);

	struct sim_args a = {argc, argv, 1};
	for (; a.i < argc; a.i++) {
		const char *arg = argv[a.i];
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			fputs(RATLS_HELP_HEAD, stdout);
			fputs(SIM_QUOTE_OPTS_HELP, stdout);
			rc = 0;
			goto done;
		}
		if (!strcmp(arg, "--report-data") || !strncmp(arg, "--report-data=", 14)) {
			rc = sim_usage("ratls-cert", "--report-data is computed from the key");
			goto done;
		}
		if ((r = sim_opt_val(&a, "--pki", &o.pki, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--tmp-ca-cert", &o.ca_cert, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--tmp-ca-key", &o.ca_key, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--out-cert", &o.out_cert, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--out-key", &o.out_key, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--key", &o.key, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--bind-key", &o.bind_key, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--config", &o.config, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--os-image-hash", &o.os_image_hash, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--out-attestation", &o.out_att, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--out-quote", &o.out_quote, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--events-out", &o.events_out, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--boot-events", &o.boot_events, &err)) != 0 ||
		    (r = sim_opt_flag(&a, "--legacy", &o.legacy)) != 0 ||
		    (r = sim_opt_flag(&a, "--self-signed", &o.self_signed)) != 0 ||
		    (r = sim_quote_opt(&a, &spec, &err)) != 0) {
			if (r < 0) {
				rc = sim_usage("ratls-cert", "%s", err_msg(&err));
				goto done;
			}
			continue;
		}
		if ((r = sim_opt_val(&a, "--now", &v, &err)) != 0) {
			if (r < 0 || sim_parse_time(v, &o.now, &err) < 0) {
				rc = sim_usage("ratls-cert", "%s", err_msg(&err));
				goto done;
			}
			o.have_now = 1;
			continue;
		}
		rc = sim_usage("ratls-cert", "unknown option '%s'", arg);
		goto done;
	}
	if (!o.pki || (!o.self_signed && (!o.ca_cert || !o.ca_key)) || !o.out_cert || !o.out_key) {
		rc = sim_usage("ratls-cert",
			       "--pki, --tmp-ca-cert, --tmp-ca-key (or --self-signed), "
			       "--out-cert and --out-key are required");
		goto done;
	}
	if (o.self_signed && (o.ca_cert || o.ca_key || o.legacy)) {
		rc = sim_usage("ratls-cert",
			       "--self-signed excludes --tmp-ca-cert, --tmp-ca-key and --legacy");
		goto done;
	}
	if (o.boot_events && o.legacy) {
		rc = sim_usage("ratls-cert", "--boot-events excludes --legacy");
		goto done;
	}
	if (o.config && o.os_image_hash) {
		rc = sim_usage("ratls-cert", "--config and --os-image-hash exclude each other");
		goto done;
	}
	if (o.os_image_hash) {
		uint8_t h[32];
		if (sim_parse_hex_fixed(o.os_image_hash, h, 32, "--os-image-hash", &err) < 0 ||
		    strlen(o.os_image_hash) != 64) {
			rc = sim_usage("ratls-cert", "--os-image-hash must be 64 hex digits");
			goto done;
		}
	}
	rc = run(&o, &spec, &err) < 0 ? sim_fail("ratls-cert", &err) : 0;
done:
	sim_quote_spec_free(&spec);
	return rc;
}

/* `simtee app`: a simulated app in one command — a self-signed RA-TLS
 * certificate with a fresh simulated quote for a fixed demo identity (each
 * value overridable), as newer dstack guests mint for themselves. */
int sim_cmd_app(int argc, char **argv)
{
	const char *pki = NULL, *out = ".", *app = "1111111111111111111111111111111111111111",
		   *compose = "c0ffee00000000000000000000000000000000000000000000000000000000aa",
		   *inst = "2222222222222222222222222222222222222222";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			printf(
			    "usage: simtee app --pki DIR [--out DIR] [--app-id HEX20] "
			    "[--compose-hash HEX32] [--instance-id HEX20]\n\n"
			    "Writes DIR/app.pem and DIR/app.key: a self-signed RA-TLS client\n"
			    "certificate whose attestation (a fresh quote signed by the mock PKI)\n"
			    "binds its key, for the demo app id %s unless given.\n"
			    "Use it with: dstack-kmsctl app-key --cert DIR/app.pem --key "
			    "DIR/app.key\n",
			    app);
			return 0;
		}
		const char **dst = !strcmp(a, "--pki")		  ? &pki
				   : !strcmp(a, "--out")	  ? &out
				   : !strcmp(a, "--app-id")	  ? &app
				   : !strcmp(a, "--compose-hash") ? &compose
				   : !strcmp(a, "--instance-id")  ? &inst
								  : NULL;
		if (!dst || i + 1 >= argc)
			return sim_usage("app", "unknown option or missing value: '%s'", a);
		*dst = argv[++i];
	}
	if (!pki)
		return sim_usage("app", "--pki is required");
	char cert[4096], key[4096];
	if (snprintf(cert, sizeof cert, "%s/app.pem", out) >= (int)sizeof cert ||
	    snprintf(key, sizeof key, "%s/app.key", out) >= (int)sizeof key)
		return sim_usage("app", "--out path too long");
	char *args[] = {"ratls-cert",
			"--pki",
			(char *)pki,
			"--self-signed",
			"--app-id",
			(char *)app,
			"--compose-hash",
			(char *)compose,
			"--instance-id",
			(char *)inst,
			"--out-cert",
			cert,
			"--out-key",
			key,
			NULL};
	int rc = sim_cmd_ratls_cert((int)(sizeof args / sizeof args[0]) - 1, args);
	if (rc == 0)
		printf("%s\n%s\n", cert, key);
	return rc;
}
