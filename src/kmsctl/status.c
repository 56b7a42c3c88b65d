/*
 * status.c — `dstack-kmsctl status`: reads the KMS's control socket (the
 * status document of src/kms/control.c), prints it readably (or as is with
 * --json) and exits 3 when something needs attention: the KMS is not serving,
 * its auth backend is unreachable, collateral has expired or expires within
 * 24 h, a certificate expires within 30 days. `verify` uses the same reader
 * and rules. Every string from the document is sanitized before printing.
 */
#include "kmsctl/kmsctl.h"

#include "kms/config.h"
#include "util/buf.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define STATUS_MAX (1u << 20)
#define COLLATERAL_WARN_S (24 * 3600)
#define CERT_WARN_DAYS 30

static long long mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int kmsctl_status_read(const char *path, long timeout_ms, struct json_t **out, struct err *err)
{
	*out = NULL;
	if (strlen(path) > CONFIG_UNIX_PATH_MAX)
		return err_set(err, "control socket path %s is too long", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(err, "socket: %s", strerror(errno));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		close(fd);
		if (e == EACCES)
			return err_set(
			    err,
			    "control socket %s: permission denied (it is for the service "
			    "user and its group: run as root, or add yourself to the "
			    "group)",
			    path);
		if (e == ENOENT || e == ECONNREFUSED)
			return err_set(err,
				       "control socket %s: %s (is dstack-kms running? see "
				       "[core] control_socket)",
				       path, strerror(e));
		return err_set(err, "control socket %s: %s", path, strerror(e));
	}
	struct buf b = BUF_INIT;
	long long end = mono_ms() + timeout_ms;
	int rc = -1;
	for (;;) {
		long long left = end - mono_ms();
		if (left <= 0) {
			err_set(err, "control socket %s: no status within %ld ms", path,
				timeout_ms);
			goto out;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int n = poll(&p, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			continue; /* the deadline check above ends it */
		uint8_t chunk[8192];
		ssize_t r = read(fd, chunk, sizeof chunk);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err_set(err, "control socket %s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		if (b.len + (size_t)r > STATUS_MAX) {
			err_set(err, "control socket %s: status document over %u bytes", path,
				STATUS_MAX);
			goto out;
		}
		if (buf_append(&b, chunk, (size_t)r) < 0) {
			err_set(err, "out of memory");
			goto out;
		}
	}
	json_error_t je;
	json_t *j = json_loadb((const char *)b.p, b.len, 0, &je);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		err_set(err, "control socket %s: not a status document (%s)", path,
			j ? "not an object" : je.text);
		goto out;
	}
	const char *fmt = json_string_value(json_object_get(j, "format"));
	if (!fmt || strcmp(fmt, "dstack-kms status v1") != 0) {
		json_decref(j);
		err_set(err, "control socket %s: unknown status format", path);
		goto out;
	}
	*out = j;
	rc = 0;
out:
	buf_free(&b);
	close(fd);
	return rc;
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static long long num(json_t *o, const char *key, long long dflt)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

/* One line per problem (sanitized) into out; returns how many. */
int kmsctl_status_attention(struct json_t *doc, struct buf *out)
{
	int n = 0;
	char s1[256], s2[512];
#define ATTN(...)                                                                                  \
	do {                                                                                       \
		buf_printf(out, __VA_ARGS__);                                                      \
		buf_append_str(out, "\n");                                                         \
		n++;                                                                               \
	} while (0)
	const char *phase = str(doc, "phase");
	if (strcmp(phase, "serving") != 0) {
		kmsctl_sanitize(phase, s1, sizeof s1);
		if (strcmp(phase, "onboarding") == 0)
			ATTN("phase is onboarding: the KMS has no key set yet (bootstrap it, or "
			     "onboard it from another KMS, then finish)");
		else
			ATTN("phase is %s, not serving", s1[0] ? s1 : "(missing)");
	}
	json_t *auth = json_object_get(doc, "auth");
	if (!json_is_object(auth) || !json_is_true(json_object_get(auth, "reachable"))) {
		kmsctl_sanitize(str(auth, "endpoint"), s1, sizeof s1);
		kmsctl_sanitize(str(auth, "error"), s2, sizeof s2);
		ATTN("auth backend %s is unreachable: %s", s1[0] ? s1 : "(unknown)",
		     s2[0] ? s2 : "no answer");
	}
	json_t *col = json_object_get(json_object_get(doc, "collateral"), "entries");
	size_t i;
	json_t *e;
	json_array_foreach(col, i, e)
	{
		char fm[32], ca[32];
		kmsctl_sanitize(str(e, "fmspc"), fm, sizeof fm);
		kmsctl_sanitize(str(e, "ca"), ca, sizeof ca);
		kmsctl_sanitize(str(e, "valid_until"), s1, sizeof s1);
		long long left = num(e, "expires_in_seconds", 0);
		if (!json_is_true(json_object_get(e, "present"))) {
			kmsctl_sanitize(str(e, "last_error"), s2, sizeof s2);
			ATTN("collateral for FMSPC %s (%s) is not held: %s", fm, ca,
			     s2[0] ? s2 : "not fetched yet");
		} else if (left <= 0)
			ATTN("collateral for FMSPC %s (%s) expired at %s", fm, ca, s1);
		else if (left < COLLATERAL_WARN_S)
			ATTN("collateral for FMSPC %s (%s) expires within 24 h (at %s)", fm, ca,
			     s1);
		else if (!json_is_true(json_object_get(e, "usable")))
			ATTN("collateral for FMSPC %s (%s) is not usable", fm, ca);
	}
	json_array_foreach(json_object_get(doc, "certificates"), i, e)
	{
		char name[64];
		kmsctl_sanitize(str(e, "name"), name, sizeof name);
		kmsctl_sanitize(str(e, "not_after"), s1, sizeof s1);
		long long days = num(e, "expires_in_days", -1);
		if (json_object_get(e, "error"))
			ATTN("certificate %s cannot be read", name);
		else if (days < 0)
			ATTN("certificate %s expired at %s", name, s1);
		else if (days < CERT_WARN_DAYS)
			ATTN("certificate %s expires within %d days (at %s)", name, CERT_WARN_DAYS,
			     s1);
	}
#undef ATTN
	return n;
}

static void line(const char *label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(const char *label, const char *fmt, ...)
{
	char raw[2048], clean[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof raw, fmt, ap);
	va_end(ap);
	kmsctl_sanitize(raw, clean, sizeof clean);
	printf("%-14s%s\n", label, clean);
}

static void print_counts(const char *label, json_t *o)
{
	struct buf b = BUF_INIT;
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		if (json_is_object(v))
			buf_printf(&b, "%s%s %lld ok / %lld error", b.len ? "; " : "", k,
				   num(v, "ok", 0), num(v, "error", 0));
		else
			buf_printf(&b, "%s%s %lld", b.len ? ", " : "", k,
				   json_is_integer(v) ? (long long)json_integer_value(v) : 0);
	}
	line(label, "%s", b.len ? buf_str(&b) : "none");
	buf_free(&b);
}

static void print_readable(json_t *d)
{
	long long up = num(d, "uptime_seconds", 0);
	line("dstack-kms", "%s, pid %lld", str(d, "version"), num(d, "pid", 0));
	line("phase", "%s", str(d, "phase"));
	line("uptime", "%lldd %02lldh %02lldm %02llds (since %s)", up / 86400, up / 3600 % 24,
	     up / 60 % 60, up % 60, str(d, "started_at"));
	json_t *bs = json_object_get(d, "bootstrapped_at");
	line("key set", "%s in %s%s%s",
	     json_is_true(json_object_get(d, "key_set_complete")) ? "complete" : "absent",
	     str(d, "cert_dir"), json_is_string(bs) ? ", bootstrapped " : "",
	     json_is_string(bs) ? json_string_value(bs) : "");
	struct buf b = BUF_INIT;
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(d, "listeners"), k, v)
	    buf_printf(&b, "%s%s %s", b.len ? ", " : "", k, json_string_value(v));
	line("listeners", "%s", b.len ? buf_str(&b) : "none");
	buf_free(&b);
	json_t *a = json_object_get(d, "auth");
	json_t *lat = json_object_get(a, "latency_ms");
	if (json_is_true(json_object_get(a, "reachable")))
		line("auth", "%s %s reachable (%.1f ms)", str(a, "type"), str(a, "endpoint"),
		     json_is_number(lat) ? json_number_value(lat) : 0.0);
	else
		line("auth", "%s %s UNREACHABLE: %s", str(a, "type"), str(a, "endpoint"),
		     str(a, "error"));
	print_counts("requests", json_object_get(d, "requests"));
	print_counts("releases", json_object_get(d, "releases"));
	json_t *c = json_object_get(d, "connections");
	if (json_is_object(c))
		line("connections",
		     "%lld open; refused %lld (max_connections), %lld (per client); cut %lld "
		     "(header deadline), %lld (request deadline), %lld (max_buffered_bytes); "
		     "%lld request bytes held",
		     num(c, "open", 0), num(c, "refused_max_connections", 0),
		     num(c, "refused_max_connections_per_client", 0), num(c, "header_timeouts", 0),
		     num(c, "read_timeouts", 0), num(c, "max_buffered_bytes_cuts", 0),
		     num(c, "buffered_bytes", 0));
	json_t *col = json_object_get(d, "collateral");
	size_t i;
	json_t *e;
	if (!json_array_size(json_object_get(col, "entries")))
		line("collateral", "none cached yet (%s)", str(col, "cache_dir"));
	json_array_foreach(json_object_get(col, "entries"), i, e) line(
	    i ? "" : "collateral", "%s %s: %s, valid until %s (%lld h left)%s%s", str(e, "fmspc"),
	    str(e, "ca"), json_is_true(json_object_get(e, "usable")) ? "usable" : "NOT usable",
	    str(e, "valid_until"), num(e, "expires_in_seconds", 0) / 3600,
	    str(e, "last_error")[0] ? "; last error: " : "", str(e, "last_error"));
	if (!json_array_size(json_object_get(d, "certificates")))
		line("certificates", "none");
	json_array_foreach(json_object_get(d, "certificates"), i, e)
	    line(i ? "" : "certificates", "%s until %s (%lld days)", str(e, "name"),
		 str(e, "not_after"), num(e, "expires_in_days", 0));
	line("release log", "%s", str(d, "release_log"));
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " KMSCTL_PROG " [OPTIONS] status [--socket PATH] [--json]\n"
		"\n"
		"Reads the KMS's control socket and prints its status: phase (onboarding or\n"
		"serving), uptime, when the key set was bootstrapped, listeners, requests\n"
		"and releases by outcome, connection refusals, the auth backend's\n"
		"reachability and latency, the collateral cache and its validity, and the\n"
		"certificates' expiry dates. No key material is in it.\n"
		"\n"
		"  --socket PATH  the control socket (default " CONFIG_DEFAULT_CONTROL_SOCKET ",\n"
		"                 [core] control_socket of kms.toml); it is mode 0660: run as\n"
		"                 the service user, a member of its group, or root\n"
		"  --json         print the status document itself\n"
		"  -h, --help     this text\n"
		"\n"
		"Exit status: 0 all well; 3 something needs attention (listed on stderr):\n"
		"not serving, auth backend unreachable, collateral expired or expiring\n"
		"within 24 h, a certificate expiring within 30 days; 1 the status could not\n"
		"be read; 2 usage error. The global --timeout bounds the wait.\n");
}

static int run(struct kmsctl *ctl, int argc, char **argv)
{
	const char *path = CONFIG_DEFAULT_CONTROL_SOCKET;
	struct err err = {{0}};
	for (int i = 1; i < argc; i++) {
		const char *val;
		int r;
		if (kmsctl_is_help(argv[i])) {
			usage(stdout);
			return KMSCTL_EXIT_OK;
		} else if (strcmp(argv[i], "--json") == 0) {
			ctl->json = 1;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--socket", &val, &err)) != 0) {
			if (r < 0 || !*val)
				return kmsctl_usage_error("status", "--socket needs a path");
			path = val;
		} else {
			return kmsctl_usage_error("status", "unexpected argument '%s'", argv[i]);
		}
	}
	json_t *doc;
	if (kmsctl_status_read(path, ctl->timeout_ms, &doc, &err) < 0)
		return kmsctl_fail("status: %s", err_msg(&err));
	if (ctl->json) {
		char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (s)
			printf("%s\n", s);
		free(s);
	} else {
		print_readable(doc);
	}
	struct buf attn = BUF_INIT;
	int n = kmsctl_status_attention(doc, &attn);
	json_decref(doc);
	if (n) {
		fprintf(stderr, "%s: status: %d thing%s need%s attention:\n%s", KMSCTL_PROG, n,
			n == 1 ? "" : "s", n == 1 ? "s" : "", buf_str(&attn));
		buf_free(&attn);
		return KMSCTL_EXIT_ATTENTION;
	}
	buf_free(&attn);
	if (!ctl->json)
		printf("all well\n");
	return KMSCTL_EXIT_OK;
}

const struct kmsctl_cmd kmsctl_cmd_status = {
    .name = "status",
    .summary = "the KMS's status from its control socket (phase, auth, collateral, certs)",
    .run = run,
    .usage = usage,
};
