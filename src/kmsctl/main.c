/*
 * main.c — dstack-kmsctl, the operator's and tester's client for the KMS.
 *
 * The program is a table of subcommands (one file each, each with its own
 * usage text and --help). This file parses the global options that come
 * before the subcommand, then hands argv to the subcommand. It never sends a
 * request itself and never prints key material.
 * spec: kms-protocol §2 (transport), §4.3–4.5 (the RPCs the subcommands call).
 */
#include "kmsctl/kmsctl.h"

#include "version.h"

#include <math.h> /* isfinite */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int run_help(struct kmsctl *ctl, int argc, char **argv);
static int run_version(struct kmsctl *ctl, int argc, char **argv);
static void usage_help(FILE *f);
static void usage_version(FILE *f);

static const struct kmsctl_cmd cmd_help = {
    "help", "show the usage of dstack-kmsctl or of a command", run_help, usage_help};
static const struct kmsctl_cmd cmd_version = {"version", "print the version", run_version,
					      usage_version};

/* The attestation commands (verify_quote.c, verify_ratls.c, decode_attestation.c). */
extern const struct kmsctl_cmd kmsctl_cmd_verify_quote;
extern const struct kmsctl_cmd kmsctl_cmd_verify_ratls;
extern const struct kmsctl_cmd kmsctl_cmd_decode_attestation;

static const struct kmsctl_cmd *const COMMANDS[] = {
    &kmsctl_cmd_meta,
    &kmsctl_cmd_env_pubkey,
    &kmsctl_cmd_temp_ca,
    &kmsctl_cmd_health,
    &kmsctl_cmd_status,
    &kmsctl_cmd_verify,
    &kmsctl_cmd_app_key,
    &kmsctl_cmd_kms_key,
    &kmsctl_cmd_sign_cert,
    &kmsctl_cmd_bootstrap,
    &kmsctl_cmd_onboard,
    &kmsctl_cmd_finish,
    &kmsctl_cmd_audit,
    &kmsctl_cmd_verify_quote,
    &kmsctl_cmd_verify_ratls,
    &kmsctl_cmd_decode_attestation,
    &cmd_version,
    &cmd_help,
};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f)
{
	fprintf(f, "Usage: " KMSCTL_PROG " [OPTIONS] COMMAND [ARGS...]\n"
		   "\n"
		   "Client for the dstack KMS: calls its prpc API in JSON mode and checks what\n"
		   "it can check locally (env-pubkey signatures).\n"
		   "\n"
		   "Options (before COMMAND):\n"
		   "  --url URL            KMS base URL (default " KMSCTL_DEFAULT_URL ")\n"
		   "  --cacert FILE        verify the server against this root CA (PEM), e.g.\n"
		   "                       the KMS's root-ca.crt; default: the system store\n"
		   "  --servername NAME    name the server certificate must carry (default:\n"
		   "                       the URL host), e.g. with --url https://127.0.0.1:9100\n"
		   "  --insecure           do not verify the server at all (explicit opt-in)\n"
		   "  --timeout SECONDS    per-request time limit (default 10)\n"
		   "  --json               print the KMS's raw JSON answer\n"
		   "  -V, --version        print the version\n"
		   "  -h, --help           this text\n"
		   "\n"
		   "Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-12s %s\n", COMMANDS[i]->name, COMMANDS[i]->summary);
	fprintf(f, "\n"
		   "'" KMSCTL_PROG " COMMAND --help' describes a command. Exit status: 0 ok,\n"
		   "1 failure (one line on stderr), 2 usage error; status: 3 needs attention.\n");
}

static const struct kmsctl_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(COMMANDS[i]->name, name) == 0)
			return COMMANDS[i];
	return NULL;
}

static void usage_help(FILE *f)
{
	fprintf(f, "Usage: " KMSCTL_PROG " help [COMMAND]\n"
		   "\n"
		   "Prints the usage of " KMSCTL_PROG ", or of COMMAND.\n");
}

static int run_help(struct kmsctl *ctl, int argc, char **argv)
{
	(void)ctl;
	if (argc > 1 && kmsctl_is_help(argv[1])) {
		usage_help(stdout);
		return KMSCTL_EXIT_OK;
	}
	if (argc > 2)
		return kmsctl_usage_error("help", "help takes at most one COMMAND");
	if (argc == 2) {
		const struct kmsctl_cmd *c = find_command(argv[1]);
		if (!c)
			return kmsctl_usage_error(NULL, "unknown command '%s'", argv[1]);
		c->usage(stdout);
		return KMSCTL_EXIT_OK;
	}
	usage(stdout);
	return KMSCTL_EXIT_OK;
}

static void usage_version(FILE *f)
{
	fprintf(f, "Usage: " KMSCTL_PROG " version\n"
		   "\n"
		   "Prints the version of " KMSCTL_PROG " (not of the KMS: see 'meta').\n");
}

static void print_version(void)
{
	printf(KMSCTL_PROG " v%s (git:%s)\n", KMS_VERSION, KMS_GIT_REV);
}

static int run_version(struct kmsctl *ctl, int argc, char **argv)
{
	(void)ctl;
	if (argc > 1 && kmsctl_is_help(argv[1])) {
		usage_version(stdout);
		return KMSCTL_EXIT_OK;
	}
	if (argc > 1)
		return kmsctl_usage_error("version", "unexpected argument '%s'", argv[1]);
	print_version();
	return KMSCTL_EXIT_OK;
}

/* http(s)://host[:port][/prefix], no query, fragment, spaces or controls. */
static int set_url(struct kmsctl *ctl, const char *url, struct err *err)
{
	if (strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0)
		return err_set(err, "--url must start with https:// or http://");
	const char *host = strstr(url, "://") + 3;
	if (*host == '\0' || *host == '/')
		return err_set(err, "--url has no host");
	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '?' || *p == '#')
			return err_set(err, "--url must not contain a query, a fragment, spaces "
					    "or control characters");
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	if (n >= sizeof ctl->url)
		return err_set(err, "--url is too long (at most %zu characters)",
			       sizeof ctl->url - 1);
	memcpy(ctl->url, url, n);
	ctl->url[n] = '\0';
	return 0;
}

static int set_timeout(struct kmsctl *ctl, const char *s, struct err *err)
{
	char *end = NULL;
	double v = strtod(s, &end);
	if (!*s || *end || !isfinite(v) || v <= 0 || v > 3600)
		return err_set(err, "--timeout must be a number of seconds in (0, 3600], got '%s'",
			       s);
	ctl->timeout_ms = (long)(v * 1000.0 + 0.999); /* round up: 0.0001 s is 1 ms */
	return 0;
}

/* Parses the global options; returns the index of the subcommand or -exit. */
static int parse_globals(struct kmsctl *ctl, int argc, char **argv)
{
	struct err err = {{0}};
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		int r;
		if (a[0] != '-' || strcmp(a, "-") == 0)
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (kmsctl_is_help(a)) {
			usage(stdout);
			return -KMSCTL_EXIT_OK;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			print_version();
			return -KMSCTL_EXIT_OK;
		} else if (strcmp(a, "--insecure") == 0) {
			ctl->insecure = 1;
		} else if (strcmp(a, "--json") == 0) {
			ctl->json = 1;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--url", &v, &err)) != 0) {
			if (r < 0 || set_url(ctl, v, &err) < 0)
				return -kmsctl_usage_error(NULL, "%s", err_msg(&err));
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--cacert", &v, &err)) != 0) {
			if (r < 0)
				return -kmsctl_usage_error(NULL, "%s", err_msg(&err));
			ctl->cacert = v;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--servername", &v, &err)) != 0) {
			if (r < 0)
				return -kmsctl_usage_error(NULL, "%s", err_msg(&err));
			if (!*v || strpbrk(v, " /:?#@") || strlen(v) > 253)
				return -kmsctl_usage_error(NULL,
							   "--servername must be a host name");
			ctl->servername = v;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--timeout", &v, &err)) != 0) {
			if (r < 0 || set_timeout(ctl, v, &err) < 0)
				return -kmsctl_usage_error(NULL, "%s", err_msg(&err));
		} else {
			return -kmsctl_usage_error(NULL, "unknown option '%s'", a);
		}
	}
	if (ctl->insecure && (ctl->cacert || ctl->servername))
		return -kmsctl_usage_error(NULL, "--insecure cannot be combined with %s",
					   ctl->cacert ? "--cacert" : "--servername");
	if (i >= argc)
		return -kmsctl_usage_error(NULL, "no command given");
	return i;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return KMSCTL_EXIT_USAGE;
	}
	struct kmsctl ctl = {.timeout_ms = KMSCTL_DEFAULT_TIMEOUT_MS};
	snprintf(ctl.url, sizeof ctl.url, "%s", KMSCTL_DEFAULT_URL);
	int first = parse_globals(&ctl, argc, argv);
	if (first <= 0)
		return -first;
	const struct kmsctl_cmd *cmd = find_command(argv[first]);
	if (!cmd)
		return kmsctl_usage_error(NULL, "unknown command '%s'", argv[first]);

	struct err err = {{0}};
	if (http_client_global_init(&err) < 0)
		return kmsctl_fail("%s", err_msg(&err));
	int rc = cmd->run(&ctl, argc - first, argv + first);
	kmsctl_close(&ctl);
	return rc;
}
