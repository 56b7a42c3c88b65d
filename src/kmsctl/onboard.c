/*
 * onboard.c — `dstack-kmsctl bootstrap`, `onboard` and `finish`: the
 * operator's side of a KMS's onboard service (plain HTTP, e.g.
 * --url http://10.0.0.5:9100), the same RPCs the onboarding page calls.
 * spec: kms-protocol §12.1 (Bootstrap), §12.2 (Onboard), §12.5 (Finish).
 */
#include "kmsctl/kmsctl.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* onboarding asks the source KMS twice (60 s each) and the guest agent */
#define ONBOARD_MIN_TIMEOUT_MS 150000L

static void usage_bootstrap(FILE *f)
{
	fprintf(f, "Usage: " KMSCTL_PROG " --url http://HOST:PORT bootstrap --domain DOMAIN\n"
		   "\n"
		   "Calls Onboard.Bootstrap on a KMS that serves its onboard service: it\n"
		   "generates the root keys once (a second call is refused) and prints the\n"
		   "root CA public key, the k256 public key and the size of the key\n"
		   "attestation (none in host mode). Then run `finish`.\n"
		   "\n"
		   "  --domain DOMAIN  the name clients reach this KMS by (rpc.crt's SAN)\n"
		   "  -h, --help       this text\n");
}

static void usage_onboard(FILE *f)
{
	fprintf(f, "Usage: " KMSCTL_PROG
		   " --url http://HOST:PORT onboard --source URL --domain DOMAIN\n"
		   "\n"
		   "Calls Onboard.Onboard: this KMS checks the source KMS's attestation against\n"
		   "its own policy, then fetches the root keys from it with GetKmsKey over RA-TLS\n"
		   "(the source checks this KMS's attestation against its policy). Prints the\n"
		   "k256 public key received, which must equal the source's. Then run `finish`.\n"
		   "\n"
		   "  --source URL     the source KMS, e.g. https://kms-a.example.com:9100\n"
		   "  --domain DOMAIN  the name clients reach this KMS by\n"
		   "  -h, --help       this text\n");
}

static void usage_finish(FILE *f)
{
	fprintf(f, "Usage: " KMSCTL_PROG " --url http://HOST:PORT finish\n"
		   "\n"
		   "Calls Onboard.Finish: the KMS closes its onboard service and goes on to\n"
		   "serve its RPC over TLS. Refused while there is no key set.\n"
		   "  -h, --help   this text\n");
}

/* Options --name VALUE for the names given (NULL-terminated); 2 on a usage error. */
static int parse(const char *cmd, int argc, char **argv, const char *const *names,
		 const char **vals, void (*usage)(FILE *))
{
	struct err err = {{0}};
	for (int i = 1; i < argc; i++) {
		if (kmsctl_is_help(argv[i])) {
			usage(stdout);
			return 1;
		}
		int hit = 0;
		for (size_t n = 0; names[n]; n++) {
			int r = kmsctl_opt_value(argc, argv, &i, names[n], &vals[n], &err);
			if (r < 0)
				return kmsctl_usage_error(cmd, "%s", err_msg(&err));
			if (r > 0) {
				hit = 1;
				break;
			}
		}
		if (!hit)
			return kmsctl_usage_error(cmd, "unknown argument '%s'", argv[i]);
	}
	for (size_t n = 0; names[n]; n++)
		if (!vals[n])
			return kmsctl_usage_error(cmd, "%s is required", names[n]);
	return 0;
}

/* Calls method with body; prints the answer's listed string fields. */
static int call_and_print(struct kmsctl *ctl, const char *method, json_t *body,
			  const char *const *fields)
{
	struct err err = {{0}};
	struct http_response resp;
	memset(&resp, 0, sizeof resp);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int rc = KMSCTL_EXIT_FAIL;
	if (ctl->timeout_ms < ONBOARD_MIN_TIMEOUT_MS)
		ctl->timeout_ms = ONBOARD_MIN_TIMEOUT_MS;
	if (kmsctl_rpc(ctl, method, text ? text : "null", &resp, &err) < 0) {
		kmsctl_fail("%s", err_msg(&err));
		goto out;
	}
	if (ctl->json) {
		kmsctl_print_body(&resp);
		rc = KMSCTL_EXIT_OK;
		goto out;
	}
	json_error_t je;
	json_t *j = json_loadb((const char *)resp.body.p, resp.body.len, 0, &je);
	if (!j && resp.body.len && strcmp((const char *)resp.body.p, "null") != 0) {
		kmsctl_fail("%s: the answer is not JSON", method);
		goto out;
	}
	for (size_t i = 0; fields && fields[i]; i++) {
		const char *v = json_string_value(json_object_get(j, fields[i]));
		char label[64];
		snprintf(label, sizeof label, "%-13s ", fields[i]);
		if (v && !strcmp(fields[i], "attestation")) {
			char n[64];
			snprintf(n, sizeof n, "%zu bytes", strlen(v) / 2);
			kmsctl_print_field(label, *v ? n : "none (host mode)");
		} else {
			kmsctl_print_field(label, v ? v : "");
		}
	}
	json_decref(j);
	rc = KMSCTL_EXIT_OK;
out:
	free(text);
	kmsctl_response_free(&resp);
	return rc;
}

static int run_bootstrap(struct kmsctl *ctl, int argc, char **argv)
{
	static const char *const names[] = {"--domain", NULL};
	const char *vals[1] = {NULL};
	int r = parse("bootstrap", argc, argv, names, vals, usage_bootstrap);
	if (r)
		return r == 1 ? KMSCTL_EXIT_OK : r;
	static const char *const fields[] = {"ca_pubkey", "k256_pubkey", "attestation", NULL};
	json_t *b = json_pack("{s:s}", "domain", vals[0]);
	int rc = call_and_print(ctl, "Onboard.Bootstrap", b, fields);
	json_decref(b);
	return rc;
}

static int run_onboard(struct kmsctl *ctl, int argc, char **argv)
{
	static const char *const names[] = {"--source", "--domain", NULL};
	const char *vals[2] = {NULL, NULL};
	int r = parse("onboard", argc, argv, names, vals, usage_onboard);
	if (r)
		return r == 1 ? KMSCTL_EXIT_OK : r;
	static const char *const fields[] = {"k256_pubkey", NULL};
	json_t *b = json_pack("{s:s,s:s}", "source_url", vals[0], "domain", vals[1]);
	int rc = call_and_print(ctl, "Onboard.Onboard", b, fields);
	json_decref(b);
	return rc;
}

static int run_finish(struct kmsctl *ctl, int argc, char **argv)
{
	static const char *const names[] = {NULL};
	int r = parse("finish", argc, argv, names, NULL, usage_finish);
	if (r)
		return r == 1 ? KMSCTL_EXIT_OK : r;
	int rc = call_and_print(ctl, "Onboard.Finish", NULL, NULL);
	if (rc == KMSCTL_EXIT_OK && !ctl->json)
		printf("finished: the KMS goes on to serve its RPC over TLS\n");
	return rc;
}

const struct kmsctl_cmd kmsctl_cmd_bootstrap = {
    .name = "bootstrap",
    .summary = "generate the root keys on a KMS's onboard service (Onboard.Bootstrap)",
    .run = run_bootstrap,
    .usage = usage_bootstrap,
};
const struct kmsctl_cmd kmsctl_cmd_onboard = {
    .name = "onboard",
    .summary = "copy the root keys from another KMS (Onboard.Onboard)",
    .run = run_onboard,
    .usage = usage_onboard,
};
const struct kmsctl_cmd kmsctl_cmd_finish = {
    .name = "finish",
    .summary = "end onboarding: the KMS goes on to serve (Onboard.Finish)",
    .run = run_finish,
    .usage = usage_finish,
};
