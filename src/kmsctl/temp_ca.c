/*
 * temp_ca.c — `dstack-kmsctl temp-ca`: calls KMS.GetTempCaCert and prints the
 * temporary CA certificate and the root CA certificate as PEM.
 * The answer also carries the temporary CA's PRIVATE key: it is printed only
 * with --show-key (also in --json mode, where the field is otherwise dropped)
 * and the answer is wiped from memory afterwards.
 * spec: kms-protocol §4.5 (GetTempCaCert), §3 (GetTempCaCertResponse).
 */
#include "kmsctl/kmsctl.h"

#include "prpc/prpc_json.h"
#include "kms_rpc.pb-c.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "Usage: " KMSCTL_PROG " [OPTIONS] temp-ca [--show-key]\n"
		   "\n"
		   "Calls KMS.GetTempCaCert and prints the temporary CA certificate\n"
		   "(temp_ca_cert, the issuer of RA-TLS client certificates) and the root CA\n"
		   "certificate (ca_cert) as PEM, each after a '# name: subject=..., sha256=...'\n"
		   "line.\n"
		   "\n"
		   "The answer also holds temp_ca_key, the temporary CA's PRIVATE KEY. The KMS\n"
		   "hands it to any caller by design (client certificates are trusted for\n"
		   "their attestation, not their issuer), but it is still key material: it is\n"
		   "printed only with --show-key, and with the global --json option the field\n"
		   "is left out unless --show-key is given.\n"
		   "\n"
		   "  --show-key   also print temp_ca_key (key material: mind where it goes)\n"
		   "  -h, --help   this text\n");
}

/* Prints "# <name>: <summary>" then the PEM (checked to be plain PEM text). */
static int print_pem(const char *name, const char *pem, int is_key, struct err *err)
{
	if (!kmsctl_is_pem_text(pem))
		return err_set(err, "GetTempCaCert: %s is not PEM text", name);
	if (is_key) {
		printf("# %s: PRIVATE KEY (key material)\n", name);
	} else {
		char summary[1024];
		if (kmsctl_cert_summary(pem, summary, sizeof summary, err) < 0)
			return err_wrap(err, "GetTempCaCert: %s", name);
		printf("# %s: %s\n", name, summary);
	}
	size_t n = strlen(pem);
	fwrite(pem, 1, n, stdout);
	if (n == 0 || pem[n - 1] != '\n')
		putchar('\n');
	return 0;
}

/* --json without --show-key: the answer's public fields, in answer order. */
static int print_json_without_key(const Kms__GetTempCaCertResponse *m, struct err *err)
{
	json_t *o = json_object();
	if (!o || json_object_set_new(o, "temp_ca_cert", json_string(m->temp_ca_cert)) < 0 ||
	    json_object_set_new(o, "ca_cert", json_string(m->ca_cert)) < 0) {
		json_decref(o);
		return err_set(err, "cannot encode the answer as JSON");
	}
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s)
		return err_set(err, "cannot encode the answer as JSON");
	printf("%s\n", s);
	free(s);
	return 0;
}

static int run(struct kmsctl *ctl, int argc, char **argv)
{
	int show_key = 0;
	for (int i = 1; i < argc; i++) {
		if (kmsctl_is_help(argv[i])) {
			usage(stdout);
			return KMSCTL_EXIT_OK;
		} else if (strcmp(argv[i], "--show-key") == 0) {
			show_key = 1;
		} else if (argv[i][0] == '-') {
			return kmsctl_usage_error("temp-ca", "unknown option '%s'", argv[i]);
		} else {
			return kmsctl_usage_error("temp-ca", "unexpected argument '%s'", argv[i]);
		}
	}
	struct err err = {{0}};
	struct http_response resp;
	Kms__GetTempCaCertResponse *m = NULL;
	int rc = KMSCTL_EXIT_FAIL;
	if (kmsctl_rpc(ctl, "GetTempCaCert", NULL, &resp, &err) < 0)
		goto fail;
	m = (Kms__GetTempCaCertResponse *)prpc_json_decode(
	    &kms__get_temp_ca_cert_response__descriptor, (const char *)resp.body.p, resp.body.len,
	    &err);
	if (!m) {
		err_wrap(&err, "GetTempCaCert: unexpected answer");
		goto fail;
	}
	if (ctl->json) {
		if (show_key)
			kmsctl_print_body(&resp);
		else if (print_json_without_key(m, &err) < 0)
			goto fail;
	} else {
		if (print_pem("temp_ca_cert", m->temp_ca_cert, 0, &err) < 0 ||
		    print_pem("ca_cert", m->ca_cert, 0, &err) < 0)
			goto fail;
		if (!show_key)
			printf("# temp_ca_key: not shown (key material; use --show-key)\n");
		else if (print_pem("temp_ca_key", m->temp_ca_key, 1, &err) < 0)
			goto fail;
	}
	rc = KMSCTL_EXIT_OK;
	goto out;
fail:
	kmsctl_fail("%s", err_msg(&err));
out:
	fflush(stdout);
	prpc_message_free(m ? &m->base : NULL);
	kmsctl_response_free(&resp);
	return rc;
}

const struct kmsctl_cmd kmsctl_cmd_temp_ca = {
    .name = "temp-ca",
    .summary = "get the temporary CA and root CA certificates (GetTempCaCert)",
    .run = run,
    .usage = usage,
};
