/*
 * verify_ratls.c — `dstack-kmsctl verify-ratls`: the whole check the KMS makes
 * on an RA-TLS client certificate before it asks the auth webhook — extract
 * the attestation, check it binds the certificate key, DCAP-verify its quote,
 * replay RTMR3 and compare REPORTDATA — then prints the BootInfo as the exact
 * JSON body the KMS POSTs to the webhook.
 *
 * It applies no policy (that is the webhook's) and never trusts a root other
 * than the pinned Intel one unless --root says so. The certificate's own
 * signature and issuer are the TLS layer's business and are not checked here.
 * spec: kms-protocol §9.5 (verification order), §10.1 (BootInfo), §11 (JSON);
 * attestation §3.4.
 */
#include "kmsctl/attest_cli.h"
#include "kmsctl/kmsctl.h"

#include "attest/appinfo.h"
#include "attest/attestation.h"
#include "attest/ratls.h"
#include "crypto/cert.h"
#include "attest/boot_info.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CMD "verify-ratls"
#define MAX_CERT_FILE (4u * 1024u * 1024u)
#define MAX_VM_CONFIG (1u * 1024u * 1024u)

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " KMSCTL_PROG " verify-ratls --cert PEM [--collateral FILE] [--root FILE]\n"
		"           [--now UNIX_SECONDS] [--boottime] [--vm-config FILE] [--pccs URL]\n"
		"\n"
		"Makes the KMS's whole check of an RA-TLS client certificate: takes the\n"
		"attestation out of it (OID 1.3.6.1.4.1.62397.1.8, or the legacy .1.1 quote and\n"
		".1.2 event log), checks that REPORTDATA = SHA-512(\"ratls-cert:\" || the\n"
		"certificate's SubjectPublicKeyInfo), DCAP-verifies the quote, replays RTMR3\n"
		"over the runtime events and compares it and REPORTDATA with the quote. Then it\n"
		"prints the BootInfo exactly as the KMS POSTs it to the auth webhook (one line\n"
		"of compact JSON: teeVariant, mrAggregated, osImageHash, mrSystem, appId,\n"
		"composeHash, instanceId, deviceId, keyProviderInfo, tcbStatus, advisoryIds).\n"
		"The TCB status is reported, not judged: the webhook decides.\n"
		"\n"
		"  --cert PEM            the client certificate (the first one in the file)\n"
		"  --collateral FILE     collateral JSON (dcap-qvl QuoteCollateralV3 format)\n"
		"  --pccs URL            fetch the collateral from this PCCS (or Intel PCS)\n"
		"                        base URL when --collateral is not given\n"
		"  --root FILE           trust this root CA (DER or PEM) INSTEAD of the pinned\n"
		"                        Intel SGX Root CA: for test PKIs only\n"
		"  --now UNIX_SECONDS    verification time (default: now)\n"
		"  --boottime            boot-time measurements, as SignCert uses them: RTMR3\n"
		"                        replayed up to boot-mr-done, keyProviderInfo empty\n"
		"  --vm-config FILE      the vm_config a GetAppKey request would carry (JSON);\n"
		"                        default: the attestation's own config\n"
		"  -h, --help            this text\n"
		"\n"
		"The certificate's signature and issuer (the KMS temp CA) are checked by the\n"
		"TLS layer, not here. Exit status: 0 verified (BootInfo on stdout), 1 not\n"
		"(\"error: <reason>\" on stderr), 2 usage error.\n");
}

struct vr_args {
	const char *cert;
	const char *vm_config;
	int boottime;
	struct kmsctl_att_dcap_opts o;
};

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct vr_args *a)
{
	struct err err = {{0}};
	const char *now = NULL;
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		int r = 0;
		if (kmsctl_is_help(argv[i])) {
			usage(stdout);
			return KMSCTL_EXIT_OK;
		} else if (strcmp(argv[i], "--boottime") == 0) {
			a->boottime = 1;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--cert", &v, &err)) != 0) {
			a->cert = v;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--collateral", &v, &err)) != 0) {
			a->o.collateral = v;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--root", &v, &err)) != 0) {
			a->o.root = v;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--now", &v, &err)) != 0) {
			now = v;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--pccs", &v, &err)) != 0) {
			a->o.pccs = v;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--vm-config", &v, &err)) != 0) {
			a->vm_config = v;
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
	if (!a->cert)
		return kmsctl_usage_error(CMD, "--cert PEM is required");
	if (!a->o.collateral && !a->o.pccs)
		return kmsctl_usage_error(CMD, "--collateral FILE or --pccs URL is required");
	a->o.now = (int64_t)time(NULL);
	if (now && kmsctl_att_parse_now(now, &a->o.now, &err) < 0)
		return kmsctl_usage_error(CMD, "%s", err_msg(&err));
	return -1;
}

/* spec: kms-protocol §9.5 — binding, DCAP, local checks, in the KMS's order. */
int kmsctl_att_verify_cert(const struct kmsctl_att_dcap_opts *o, X509 *x, int boottime,
			   const char *vm_config, size_t vm_config_len, struct boot_info *bi,
			   struct err *err)
{
	struct attestation att;
	struct dcap_result *res = calloc(1, sizeof *res);
	int rc = -1;
	attestation_init(&att);
	boot_info_init(bi);
	if (!res) {
		err_set(err, "out of memory");
		goto out;
	}
	int has = ratls_extract(x, &att, err);
	if (has < 0) {
		err_wrap(err, "bad attestation in the certificate");
		goto out;
	}
	if (has == 0) {
		err_set(err, "the certificate carries no attestation (no OID "
			     "1.3.6.1.4.1.62397.1.8 or .1.1 extension)");
		goto out;
	}
	TRY_OUT(ratls_check_binding(&att, x, err));
	if (att.platform != ATT_PLATFORM_TDX) {
		err_set(err, "unsupported platform %s: only TDX attestations are verified",
			attestation_tee_variant(att.platform));
		goto out;
	}
	if (kmsctl_att_dcap_verify(o, att.quote.p, att.quote.len, res, err) < 0)
		goto out;
	TRY_OUT(appinfo_verify_local(&att, &res->report, err));
	TRY_OUT(appinfo_boot_info(&att, &res->report, res, boottime, vm_config, vm_config_len, bi,
				  err));
	rc = 0;
out:
	if (rc < 0)
		boot_info_free(bi);
	attestation_free(&att);
	free(res);
	return rc;
}

static int check_cert(const struct vr_args *a, const struct buf *vm_config, struct buf *json,
		      struct err *err)
{
	struct buf pem = BUF_INIT;
	struct boot_info bi;
	X509 *x = NULL;
	int rc = -1;
	boot_info_init(&bi);
	TRY_OUT(kmsctl_att_read_file(a->cert, MAX_CERT_FILE, &pem, err));
	x = cert_from_pem((const char *)pem.p, pem.len, err);
	if (!x) {
		err_wrap(err, "%s", a->cert);
		goto out;
	}
	TRY_OUT(kmsctl_att_verify_cert(&a->o, x, a->boottime,
				       vm_config->len ? (const char *)vm_config->p : NULL,
				       vm_config->len, &bi, err));
	TRY_OUT(boot_info_to_json(&bi, json, err));
	rc = 0;
out:
	boot_info_free(&bi);
	X509_free(x);
	buf_free(&pem);
	return rc;
}

static int run(struct kmsctl *ctl, int argc, char **argv)
{
	(void)ctl;
	struct vr_args a;
	memset(&a, 0, sizeof a);
	int rc = parse_args(argc, argv, &a);
	if (rc >= 0)
		return rc;

	struct err err = {{0}};
	struct buf vm_config = BUF_INIT, json = BUF_INIT;
	rc = KMSCTL_EXIT_FAIL;
	if (a.vm_config && kmsctl_att_read_file(a.vm_config, MAX_VM_CONFIG, &vm_config, &err) < 0) {
		kmsctl_att_error("%s", err_msg(&err));
		goto out;
	}
	if (check_cert(&a, &vm_config, &json, &err) < 0) {
		kmsctl_att_error("%s", err_msg(&err));
		goto out;
	}
	puts(buf_str(&json));
	if (fflush(stdout) != 0 || ferror(stdout)) {
		kmsctl_att_error("cannot write to stdout");
		goto out;
	}
	rc = KMSCTL_EXIT_OK;
out:
	buf_free(&vm_config);
	buf_free(&json);
	return rc;
}

const struct kmsctl_cmd kmsctl_cmd_verify_ratls = {
    .name = "verify-ratls",
    .summary = "verify an RA-TLS certificate as the KMS does; print its BootInfo",
    .run = run,
    .usage = usage,
};
