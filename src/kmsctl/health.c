/*
 * health.c — `dstack-kmsctl health`: GET /health; prints OK and exits 0 when
 * the KMS answers 200 "OK", otherwise prints why not and exits 1. Suits
 * monitoring scripts: the request is bounded by --timeout.
 * spec: kms-protocol §2.6 (GET /health: 200, text/plain, "OK").
 */
#include "kmsctl/kmsctl.h"

#include "util/log.h"

#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "Usage: " KMSCTL_PROG " [OPTIONS] health\n"
		   "\n"
		   "Checks GET /health: prints OK and exits 0 when the KMS answers 200 \"OK\";\n"
		   "otherwise prints the error (unreachable, TLS, timeout, HTTP status) on\n"
		   "stderr and exits 1. The TLS options apply: a server that fails\n"
		   "verification is not healthy.\n"
		   "\n"
		   "  -h, --help   this text\n");
}

static int run(struct kmsctl *ctl, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (kmsctl_is_help(argv[i])) {
			usage(stdout);
			return KMSCTL_EXIT_OK;
		}
		return kmsctl_usage_error("health", "unexpected argument '%s'", argv[i]);
	}
	struct err err = {{0}};
	struct http_response resp;
	int rc = KMSCTL_EXIT_FAIL;
	if (kmsctl_get(ctl, "/health", &resp, &err) < 0) {
		kmsctl_fail("health: %s", err_msg(&err));
		goto out;
	}
	char origin[256];
	log_url_origin(ctl->url, origin, sizeof origin);
	if (resp.status != 200) {
		char status[96];
		http_status_text(resp.status, status, sizeof status);
		kmsctl_fail("health: %s answered HTTP %s", origin, status);
		goto out;
	}
	const char *body = buf_str(&resp.body);
	if (strcmp(body, "OK") != 0 && strcmp(body, "OK\n") != 0) {
		kmsctl_fail("health: %s answered 200 with an unexpected body: %.80s", origin, body);
		goto out;
	}
	printf("OK\n");
	rc = KMSCTL_EXIT_OK;
out:
	kmsctl_response_free(&resp);
	return rc;
}

const struct kmsctl_cmd kmsctl_cmd_health = {
    .name = "health",
    .summary = "check that the KMS answers GET /health",
    .run = run,
    .usage = usage,
};
