/*
 * audit.c — `dstack-kmsctl audit verify FILE`: checks a KMS release log
 * (src/audit/audit.h) line by line — JSON shape, sequence numbers without
 * gaps, each line's prev equal to the SHA-256 of the line before — and
 * reports the first broken or missing line. Offline: no KMS is contacted.
 */
#include "audit/audit.h"
#include "kmsctl/kmsctl.h"

#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "Usage: " KMSCTL_PROG " audit verify FILE\n"
		   "\n"
		   "Verifies the hash chain of a KMS release log ([core.audit] file, default\n"
		   "/var/log/kms/release.log). Prints\n"
		   "  OK: N lines, last seq S, head <sha256 of the last line>\n"
		   "and exits 0, or prints\n"
		   "  BROKEN at line L: <reason>\n"
		   "and exits 1. A removed line shows as a gap in seq or a prev mismatch, an\n"
		   "edited line as a prev mismatch on the line after it. Compare the head and\n"
		   "the last seq with the KMS journal (\"release seq=N chain=...\") to find a\n"
		   "log whose tail was cut off.\n"
		   "\n"
		   "  -h, --help   this text\n");
}

static int run(struct kmsctl *ctl, int argc, char **argv)
{
	(void)ctl;
	const char *file = NULL;
	int verify = 0;
	for (int i = 1; i < argc; i++) {
		if (kmsctl_is_help(argv[i])) {
			usage(stdout);
			return KMSCTL_EXIT_OK;
		}
		if (!verify && !strcmp(argv[i], "verify"))
			verify = 1;
		else if (verify && !file)
			file = argv[i];
		else
			return kmsctl_usage_error("audit", "unexpected argument '%s'", argv[i]);
	}
	if (!verify)
		return kmsctl_usage_error("audit", "missing subcommand: audit verify FILE");
	if (!file)
		return kmsctl_usage_error("audit", "missing FILE: audit verify FILE");
	struct audit_verify res;
	struct err err = {{0}};
	int rc = audit_verify_file(file, &res, &err);
	if (rc < 0)
		return kmsctl_fail("audit verify: %s", err_msg(&err));
	if (rc == 0) {
		printf("OK: %llu lines, last seq %llu, head %s\n", (unsigned long long)res.lines,
		       (unsigned long long)res.last_seq, res.lines ? res.head : "-");
		return KMSCTL_EXIT_OK;
	}
	char why[300];
	kmsctl_sanitize(res.reason, why, sizeof why);
	printf("BROKEN at line %llu: %s (%llu good lines before it, last good seq %llu)\n",
	       (unsigned long long)res.bad_line, why, (unsigned long long)res.lines,
	       (unsigned long long)res.last_seq);
	return KMSCTL_EXIT_FAIL;
}

const struct kmsctl_cmd kmsctl_cmd_audit = {
    .name = "audit",
    .summary = "verify the hash chain of a KMS release log (audit verify FILE)",
    .run = run,
    .usage = usage,
};
