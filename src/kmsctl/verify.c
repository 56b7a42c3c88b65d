/*
 * verify.c — `dstack-kmsctl verify`: checks an installation of dstack-kms and
 * dstack-auth-eth the way the "KMS Service Setup" tutorial's checklist,
 * quick-verification script and troubleshooting section do, and prints every
 * failure with the command that fixes it. Host mode is reported, never hidden.
 *
 * Read-only: it changes no file and no service. It never prints a secret or
 * an RPC URL's path or query (they carry API keys): only scheme://host:port.
 * Output lines start with "[ok]", "[FAIL]", "[warn]", "[skip]" or "[note]".
 * spec: deployment-and-users §1.6–1.8 (seed checks and traps), kms-protocol
 * §14 (kms.toml), auth-eth §1.1–1.5 (webhook routes and env).
 */
#include "kmsctl/kmsctl.h"

#include "kms/config.h"
#include "util/buf.h"
#include "util/envfile.h"
#include "util/fs.h"
#include "util/log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <limits.h>
#include <netdb.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define V_ENV_MAX 64
#define V_UNIT_PATHS 16
#define V_PATH 1024
#define V_HTTP_TIMEOUT_MS 5000L
#define V_MAX_BODY (1u << 20)

static const char *const SEED_CERT_FILES[] = {"root-ca.crt", "rpc.crt", "rpc.key", "tmp-ca.crt"};
static const char *const MORE_KEY_FILES[] = {"root-ca.key", "tmp-ca.key", "root-k256.key"};
static const char *const PRIVATE_FILES[] = {"root-ca.key", "tmp-ca.key", "rpc.key",
					    "root-k256.key"};

/* What the checks need from a unit file (the [Unit] and [Service] keys). */
struct unit_info {
	int found;
	char path[V_PATH];
	char exec_start[V_PATH];
	char user[64];
	int dynamic_user;
	char env_file[V_PATH];
	char rw_paths[V_UNIT_PATHS][V_PATH];
	size_t n_rw;
	char made_dirs[V_UNIT_PATHS][V_PATH]; /* created by systemd: Runtime/Logs/... Directory= */
	size_t n_made;
};

struct env_var {
	char name[64];
	char *value;
};

struct verify {
	struct kmsctl *ctl;
	const char *config_path;
	const char *env_path;
	const char *unit_dir;
	const char *user_opt;
	const char *root; /* --root: a staged tree; absolute paths are looked up under it */
	char config_buf[V_PATH], env_buf[V_PATH];
	char cert_dir[V_PATH];
	int no_systemd;
	int offline;

	struct kms_config cfg;
	int cfg_ok;
	struct env_var env[V_ENV_MAX];
	size_t n_env;
	int env_ok;
	struct unit_info kms_unit;
	struct unit_info ae_unit;

	char user[64]; /* the user dstack-kms runs as */
	uid_t uid;
	gid_t gid;
	int user_ok;

	char ae_host[256]; /* where auth-eth listens (env HOST/PORT) */
	int ae_port;
	char wh_host[256]; /* where kms.toml sends webhook calls */
	int wh_port;
	char wh_base[CFG_STR];
	int wh_ok;

	char kms_url[CFG_STR + 32];
	char cacert[V_PATH];
	char servername[256];
	struct http_client *http; /* plain client: auth-eth and the chain RPC */

	int n_ok, n_fail, n_warn, n_skip;
};

/* ---- output ------------------------------------------------------------- */

static void vline(const char *tag, const char *name, const char *fmt, va_list ap)
{
	char raw[2048], clean[2048];
	vsnprintf(raw, sizeof raw, fmt, ap);
	kmsctl_sanitize(raw, clean, sizeof clean);
	printf("%-6s %s: %s\n", tag, name, clean);
}

static void print_fix(const char *fix)
{
	if (!fix)
		return;
	char clean[1024];
	kmsctl_sanitize(fix, clean, sizeof clean);
	printf("       fix: %s\n", clean);
}

__attribute__((format(printf, 3, 4))) static void ok(struct verify *v, const char *name,
						     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline("[ok]", name, fmt, ap);
	va_end(ap);
	v->n_ok++;
}

__attribute__((format(printf, 4, 5))) static void bad(struct verify *v, const char *name,
						      const char *fix, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline("[FAIL]", name, fmt, ap);
	va_end(ap);
	print_fix(fix);
	v->n_fail++;
}

__attribute__((format(printf, 4, 5))) static void warn(struct verify *v, const char *name,
						       const char *fix, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline("[warn]", name, fmt, ap);
	va_end(ap);
	print_fix(fix);
	v->n_warn++;
}

__attribute__((format(printf, 3, 4))) static void skip(struct verify *v, const char *name,
						       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline("[skip]", name, fmt, ap);
	va_end(ap);
	v->n_skip++;
}

__attribute__((format(printf, 2, 3))) static void note(const char *name, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline("[note]", name, fmt, ap);
	va_end(ap);
}

static void section(const char *title)
{
	printf("\n== %s\n", title);
}

/* ---- small helpers ------------------------------------------------------ */

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 &&
	       (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

/* path as seen on this machine: under --root when one is given. */
static const char *rooted(const struct verify *v, const char *path, char *out, size_t cap)
{
	if (!v->root || path[0] != '/')
		return path;
	size_t rl = strlen(v->root);
	while (rl > 0 && v->root[rl - 1] == '/')
		rl--;
	if (rl + strlen(path) >= cap)
		return path;
	memcpy(out, v->root, rl);
	memcpy(out + rl, path, strlen(path) + 1);
	return out;
}

static const char *env_get(const struct verify *v, const char *name)
{
	for (size_t i = 0; i < v->n_env; i++)
		if (strcmp(v->env[i].name, name) == 0)
			return v->env[i].value;
	return NULL;
}

static int is_hex_str(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static int is_address(const char *s)
{
	return s && strlen(s) == 42 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
	       is_hex_str(s + 2, 40);
}

static int is_any_addr(const char *h)
{
	return !*h || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0 || strcmp(h, "[::]") == 0;
}

static int is_loopback_name(const char *h)
{
	return strcmp(h, "127.0.0.1") == 0 || strcmp(h, "localhost") == 0 ||
	       strcmp(h, "::1") == 0 || strcmp(h, "[::1]") == 0;
}

/* Host to connect to for a listen address (wildcards are reached on loopback). */
static const char *connect_host(const char *listen)
{
	return is_any_addr(listen) ? "127.0.0.1" : listen;
}

/* Splits http(s)://host[:port][/...] into host and port (default by scheme). */
static int parse_http_url(const char *url, char *host, size_t hostcap, int *port, int *tls)
{
	const char *p;
	if (strncmp(url, "http://", 7) == 0) {
		p = url + 7;
		*tls = 0;
		*port = 80;
	} else if (strncmp(url, "https://", 8) == 0) {
		p = url + 8;
		*tls = 1;
		*port = 443;
	} else {
		return -1;
	}
	const char *at = strpbrk(p, "@/");
	if (at && *at == '@')
		p = at + 1; /* userinfo */
	size_t hl;
	const char *after;
	if (*p == '[') {
		const char *e = strchr(p, ']');
		if (!e)
			return -1;
		hl = (size_t)(e - p - 1);
		p++;
		after = e + 1;
	} else {
		hl = strcspn(p, ":/?#");
		after = p + hl;
	}
	if (hl == 0 || hl >= hostcap)
		return -1;
	memcpy(host, p, hl);
	host[hl] = '\0';
	if (*after == ':') {
		char *end = NULL;
		long n = strtol(after + 1, &end, 10);
		if (end == after + 1 || n < 1 || n > 65535 || (*end && !strchr("/?#", *end)))
			return -1;
		*port = (int)n;
	}
	return 0;
}

/* Parses a decimal TCP port; -1 when it is not one. */
static int parse_port(const char *s)
{
	char *end = NULL;
	errno = 0;
	long n = strtol(s, &end, 10);
	if (!*s || *end || errno || n < 1 || n > 65535)
		return -1;
	return (int)n;
}

/* Runs argv (PATH lookup; stdin and stderr /dev/null), keeps at most max bytes
 * of stdout in out, kills it after timeout_ms. Returns the exit status, or -1. */
static int run_capture(char *const argv[], struct buf *out, size_t max, int timeout_ms)
{
	int fds[2];
	/* In the parent: no allocation between fork and exec in the child. */
	setenv("SYSTEMD_PAGER", "", 1);
	setenv("SYSTEMD_COLORS", "0", 1);
	if (pipe(fds) < 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 2);
		}
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int killed = 0;
	for (;;) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long spent =
		    (now.tv_sec - t0.tv_sec) * 1000L + (now.tv_nsec - t0.tv_nsec) / 1000000L;
		if (spent >= timeout_ms) {
			kill(pid, SIGKILL);
			killed = 1;
			break;
		}
		struct pollfd pfd = {fds[0], POLLIN, 0};
		int r = poll(&pfd, 1, (int)(timeout_ms - spent));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		char tmp[4096];
		ssize_t n = read(fds[0], tmp, sizeof tmp);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		size_t room = out->len < max ? max - out->len : 0;
		size_t take = (size_t)n < room ? (size_t)n : room;
		if (take && buf_append(out, tmp, take) < 0)
			break;
	}
	close(fds[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (killed || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* 1 when a TCP connection to host:port succeeds within 2 s. */
static int tcp_connects(const char *host, int port)
{
	char ps[16];
	snprintf(ps, sizeof ps, "%d", port);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char h[256];
	if (copy_str(h, sizeof h, host) < 0)
		return 0;
	if (h[0] == '[') { /* [::1] */
		memmove(h, h + 1, strlen(h));
		char *e = strchr(h, ']');
		if (e)
			*e = '\0';
	}
	if (getaddrinfo(h, ps, &hints, &res) != 0)
		return 0;
	int okc = 0;
	for (struct addrinfo *a = res; a && !okc; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		int r = connect(fd, a->ai_addr, a->ai_addrlen);
		if (r == 0) {
			okc = 1;
		} else if (errno == EINPROGRESS) {
			struct pollfd pfd = {fd, POLLOUT, 0};
			if (poll(&pfd, 1, 2000) == 1) {
				int e = 0;
				socklen_t el = sizeof e;
				if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0)
					okc = 1;
			}
		}
		close(fd);
	}
	freeaddrinfo(res);
	return okc;
}

/* ---- the env file --------------------------------------------------------- */

static int env_add(void *ud, const char *key, const char *value, size_t lineno, struct err *err)
{
	struct verify *v = ud;
	if (v->n_env >= V_ENV_MAX)
		return err_set(err, "%s:%zu: more than %d variables", v->env_path, lineno,
			       V_ENV_MAX);
	if (strlen(key) >= sizeof v->env[0].name)
		return err_set(err, "%s:%zu: variable name longer than %zu bytes", v->env_path,
			       lineno, sizeof v->env[0].name - 1);
	struct env_var *e = &v->env[v->n_env];
	memcpy(e->name, key, strlen(key) + 1);
	e->value = strdup(value);
	if (!e->value)
		return err_set(err, "out of memory");
	v->n_env++;
	return 0;
}

/* The env file exactly as dstack-auth-eth --env-file reads it (util/envfile.h,
 * strict: a line the daemon would refuse is reported here with FILE:LINE). */
static int env_load(struct verify *v, struct err *err)
{
	struct envfile_opts o = {.dotenv = 0, .strict = 1};
	return envfile_load(v->env_path, 256 * 1024, &o, env_add, v, err);
}

static void env_free(struct verify *v)
{
	for (size_t i = 0; i < v->n_env; i++) {
		if (v->env[i].value) {
			memset(v->env[i].value, 0,
			       strlen(v->env[i].value)); /* may hold an API key */
			free(v->env[i].value);
		}
	}
	v->n_env = 0;
}

/* A value left at a template placeholder (the tutorial's YOUR_..., <...>). */
static int is_placeholder(const char *val)
{
	if (strstr(val, "YOUR_") || strstr(val, "CHANGE_ME") || strstr(val, "CHANGEME") ||
	    strstr(val, "REPLACE_ME") || strstr(val, "TODO"))
		return 1;
	const char *lt = strchr(val, '<');
	return lt && strchr(lt, '>');
}

/* ---- unit files --------------------------------------------------------- */

static void unit_add_made_dirs(struct unit_info *u, const char *base, char *list)
{
	char *save = NULL;
	for (char *d = strtok_r(list, " \t", &save); d && u->n_made + 2 <= V_UNIT_PATHS;
	     d = strtok_r(NULL, " \t", &save)) {
		char *colon = strchr(d, ':'); /* RuntimeDirectory=a:b (symlink form) */
		if (colon)
			*colon = '\0';
		snprintf(u->made_dirs[u->n_made++], V_PATH, "%s/%s", base, d);
		if (strcmp(base, "/run") == 0)
			snprintf(u->made_dirs[u->n_made++], V_PATH, "/var/run/%s", d);
	}
}

static int unit_parse(struct unit_info *u, const char *path)
{
	struct buf b = BUF_INIT;
	struct err err = {{0}};
	if (fs_read_file(path, 256 * 1024, &b, &err) < 0) {
		buf_free(&b);
		return -1;
	}
	u->found = 1;
	copy_str(u->path, sizeof u->path, path);
	char *save = NULL;
	for (char *line = strtok_r((char *)b.p, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *s = trim(line);
		if (!*s || *s == '#' || *s == ';' || *s == '[')
			continue;
		char *eq = strchr(s, '=');
		if (!eq)
			continue;
		*eq = '\0';
		char *k = trim(s), *val = trim(eq + 1);
		if (strcmp(k, "ExecStart") == 0 && !u->exec_start[0]) {
			copy_str(u->exec_start, sizeof u->exec_start, val);
		} else if (strcmp(k, "User") == 0) {
			copy_str(u->user, sizeof u->user, val);
		} else if (strcmp(k, "DynamicUser") == 0) {
			u->dynamic_user = strcmp(val, "yes") == 0 || strcmp(val, "true") == 0 ||
					  strcmp(val, "1") == 0 || strcmp(val, "on") == 0;
		} else if (strcmp(k, "EnvironmentFile") == 0) {
			copy_str(u->env_file, sizeof u->env_file, val);
		} else if (strcmp(k, "ReadWritePaths") == 0) {
			char *s2 = NULL;
			for (char *p = strtok_r(val, " \t", &s2); p && u->n_rw < V_UNIT_PATHS;
			     p = strtok_r(NULL, " \t", &s2))
				copy_str(u->rw_paths[u->n_rw++], V_PATH, p);
		} else if (strcmp(k, "RuntimeDirectory") == 0) {
			unit_add_made_dirs(u, "/run", val);
		} else if (strcmp(k, "LogsDirectory") == 0) {
			unit_add_made_dirs(u, "/var/log", val);
		} else if (strcmp(k, "CacheDirectory") == 0) {
			unit_add_made_dirs(u, "/var/cache", val);
		} else if (strcmp(k, "StateDirectory") == 0) {
			unit_add_made_dirs(u, "/var/lib", val);
		}
	}
	buf_free(&b);
	return 0;
}

static void unit_find(const struct verify *v, const char *name, struct unit_info *u)
{
	char rd[V_PATH];
	static const char *const dirs[] = {"/etc/systemd/system", "/usr/local/lib/systemd/system",
					   "/lib/systemd/system", "/usr/lib/systemd/system"};
	char p[V_PATH];
	if (v->unit_dir) {
		if (fs_join(p, sizeof p, v->unit_dir, name) == 0)
			unit_parse(u, p);
		return;
	}
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0] && !u->found; i++)
		if (fs_join(p, sizeof p, rooted(v, dirs[i], rd, sizeof rd), name) == 0 &&
		    fs_exists(p))
			unit_parse(u, p);
}

/* The program of ExecStart= (without the -@:+! prefixes and arguments). */
static void unit_program(const struct unit_info *u, char *out, size_t cap)
{
	const char *s = u->exec_start;
	while (*s && strchr("-@:+!", *s))
		s++;
	size_t n = strcspn(s, " \t");
	if (n >= cap)
		n = cap - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

static int unit_makes_dir(const struct unit_info *u, const char *path)
{
	for (size_t i = 0; i < u->n_made; i++)
		if (strcmp(u->made_dirs[i], path) == 0)
			return 1;
	return 0;
}

/* ---- checks: configuration ---------------------------------------------- */

static void check_config(struct verify *v)
{
	struct err err = {{0}};
	log_set_level(LOG_LVL_ERR); /* warnings are printed below, as checks */
	if (config_load(&v->cfg, v->config_path, &err) < 0) {
		bad(v, "kms.toml",
		    "correct the line named above (deploy/examples/kms.toml documents "
		    "every key), then: systemctl restart dstack-kms",
		    "%s", err_msg(&err));
		return;
	}
	v->cfg_ok = 1;
	ok(v, "kms.toml", "%s loads (RPC on %s:%d)", v->config_path, v->cfg.rpc_address,
	   v->cfg.rpc_port);
	if (v->cfg.nwarnings) {
		char w[sizeof v->cfg.warnings];
		copy_str(w, sizeof w, v->cfg.warnings);
		char *save = NULL;
		for (char *l = strtok_r(w, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
			warn(v, "kms.toml",
			     "remove or rename the key (see deploy/examples/kms.toml)", "%s", l);
	}
	if (!v->cfg.attest_rpc_cert || !v->cfg.enforce_self_authorization)
		note("mode",
		     "host mode: no TEE attestation (%s%s%s): clients cannot verify "
		     "this KMS; fine for a host-based set-up you trust, not for production "
		     "key release",
		     !v->cfg.attest_rpc_cert ? "attest_rpc_cert = false" : "",
		     !v->cfg.attest_rpc_cert && !v->cfg.enforce_self_authorization ? ", " : "",
		     !v->cfg.enforce_self_authorization ? "enforce_self_authorization = false"
							: "");
	if (!v->cfg.image_verify)
		note("image", "[core.image] verify = false: os_image_hash is the host's unverified "
			      "claim, forwarded to the policy as is");
	else
		note("image", "[core.image] verify = true: TDX lite images are verified against "
			      "the caller's quote; legacy-variant images are refused (the KMS "
			      "carries no QEMU/firmware model)");
	if (v->cfg.auth_type == AUTH_KIND_DEV)
		warn(v, "auth_api",
		     "set [core.auth_api] type = \"webhook\" with url = "
		     "\"http://127.0.0.1:9200\"",
		     "type = \"dev\": every app and KMS is allowed");
	else if (v->cfg.auth_type == AUTH_KIND_STATIC)
		note("auth_api", "static policy from %s: auth-eth is not consulted",
		     v->cfg.static_file);
	if (v->cfg.auth_type == AUTH_KIND_WEBHOOK) {
		int tls = 0;
		if (parse_http_url(v->cfg.webhook_url, v->wh_host, sizeof v->wh_host, &v->wh_port,
				   &tls) < 0) {
			bad(v, "webhook url",
			    "set [core.auth_api.webhook] url = \"http://127.0.0.1:9200\"",
			    "[core.auth_api.webhook] url is not an http(s) URL");
		} else if (tls && is_loopback_name(v->wh_host)) {
			bad(v, "webhook url",
			    "use http:// for the local auth-eth: url = \"http://127.0.0.1:9200\"",
			    "https:// to %s, but dstack-auth-eth serves plain HTTP", v->wh_host);
		} else {
			size_t n = strlen(v->cfg.webhook_url);
			while (n > 0 && v->cfg.webhook_url[n - 1] == '/')
				n--;
			if (n < sizeof v->wh_base) {
				memcpy(v->wh_base, v->cfg.webhook_url, n);
				v->wh_base[n] = '\0';
				v->wh_ok = 1;
			}
		}
	}
	if (!v->cert_dir[0]) {
		char rb[V_PATH];
		copy_str(v->cert_dir, sizeof v->cert_dir,
			 rooted(v, v->cfg.cert_dir, rb, sizeof rb));
	}
}

static void check_env(struct verify *v)
{
	struct err err = {{0}};
	struct stat st;
	if (stat(v->env_path, &st) < 0) {
		bad(v, "auth-eth.env",
		    "install it: make install (copies deploy/examples/auth-eth.env) "
		    "or the configure playbook, then set ETH_RPC_URL and "
		    "KMS_CONTRACT_ADDR",
		    "%s: %s", v->env_path, strerror(errno));
		return;
	}
	if (env_load(v, &err) < 0) {
		bad(v, "auth-eth.env",
		    errno == EACCES ? "run the verification as root: sudo dstack-kmsctl verify"
				    : "check the file",
		    "%s", err_msg(&err));
		return;
	}
	v->env_ok = 1;
	ok(v, "auth-eth.env", "%s read (%zu variables)", v->env_path, v->n_env);
	char fix[V_PATH + 64];
	snprintf(fix, sizeof fix, "chown root:root %s && chmod 600 %s", v->env_path, v->env_path);
	if ((st.st_mode & 077) || st.st_uid != 0)
		bad(v, "auth-eth.env mode", fix,
		    "mode %03o owner uid %u: the file may hold an RPC API key; want 0600 root",
		    (unsigned)(st.st_mode & 0777), (unsigned)st.st_uid);
	else
		ok(v, "auth-eth.env mode", "0600 root");

	int placeholders = 0;
	for (size_t i = 0; i < v->n_env; i++) {
		if (!is_placeholder(v->env[i].value))
			continue;
		placeholders++;
		snprintf(fix, sizeof fix,
			 "set %s in %s to your real value, then: systemctl restart "
			 "dstack-auth-eth",
			 v->env[i].name, v->env_path);
		/* Only the variable name: the value could carry a half-edited key. */
		bad(v, "placeholder", fix, "%s is still a template placeholder", v->env[i].name);
	}
	const char *rpc = env_get(v, "ETH_RPC_URL");
	const char *addr = env_get(v, "KMS_CONTRACT_ADDR");
	if (!rpc || !*rpc) {
		bad(v, "ETH_RPC_URL", "add ETH_RPC_URL=https://<your RPC endpoint> to the env file",
		    "not set (auth-eth would use http://localhost:8545)");
	} else if (!is_placeholder(rpc)) {
		char origin[256];
		log_url_origin(rpc, origin, sizeof origin);
		if (strncmp(rpc, "http://", 7) != 0 && strncmp(rpc, "https://", 8) != 0)
			bad(v, "ETH_RPC_URL", "use an http:// or https:// JSON-RPC URL",
			    "not an http(s) URL");
		else if (strstr(rpc, "/v2/demo"))
			bad(v, "ETH_RPC_URL",
			    "use an endpoint with your own API key (the shared demo key answers "
			    "HTTP 429 under load, which hung the tutorial's KMS)",
			    "%s uses the public demo key", origin);
		else
			ok(v, "ETH_RPC_URL", "%s", origin);
	}
	if (!addr || !*addr) {
		bad(v, "KMS_CONTRACT_ADDR", "add KMS_CONTRACT_ADDR=0x<the deployed KMS contract>",
		    "not set (auth-eth would use the zero address)");
	} else if (!is_placeholder(addr)) {
		if (!is_address(addr))
			bad(v, "KMS_CONTRACT_ADDR",
			    "set it to the 0x-prefixed 20-byte address printed by the contract "
			    "deployment",
			    "'%.60s' is not an address", addr);
		else if (strspn(addr + 2, "0") == 40)
			bad(v, "KMS_CONTRACT_ADDR", "set it to the deployed KMS contract's address",
			    "the zero address");
		else
			ok(v, "KMS_CONTRACT_ADDR", "%s", addr);
	}
	const char *age = env_get(v, "ETH_MAX_BLOCK_AGE");
	if (!age || !*age || strcmp(age, "0") == 0)
		warn(v, "ETH_MAX_BLOCK_AGE",
		     "set ETH_MAX_BLOCK_AGE=300 so a stalled RPC node cannot keep answering from "
		     "an old chain state",
		     "not set: a lagging RPC node's stale view is not detected");
	if (!placeholders)
		ok(v, "placeholders", "none left in %s", v->env_path);

	const char *host = env_get(v, "HOST"), *port = env_get(v, "PORT");
	copy_str(v->ae_host, sizeof v->ae_host, host && *host ? host : "127.0.0.1");
	v->ae_port = port && *port ? parse_port(port) : 8000;
	if (v->ae_port < 0)
		bad(v, "PORT", "set PORT=9200 in the env file", "'%.20s' is not a TCP port", port);
}

/* The tutorial's troubleshooting check: the webhook URL in kms.toml must point
 * at the port (and address) auth-eth listens on. */
static void check_webhook_match(struct verify *v)
{
	if (!v->cfg_ok || !v->env_ok || v->cfg.auth_type != AUTH_KIND_WEBHOOK || !v->wh_ok ||
	    v->ae_port < 0)
		return;
	char fix[512];
	snprintf(fix, sizeof fix,
		 "make them agree: [core.auth_api.webhook] url = \"http://127.0.0.1:%d\" in %s, "
		 "or PORT=%d in %s; then: systemctl restart dstack-auth-eth dstack-kms",
		 v->ae_port, v->config_path, v->wh_port, v->env_path);
	int host_ok = is_any_addr(v->ae_host) || strcmp(v->ae_host, v->wh_host) == 0 ||
		      (is_loopback_name(v->ae_host) && is_loopback_name(v->wh_host));
	if (v->wh_port != v->ae_port)
		bad(v, "webhook port", fix,
		    "kms.toml sends webhook calls to port %d, but auth-eth listens on port %d "
		    "(PORT%s)",
		    v->wh_port, v->ae_port, env_get(v, "PORT") ? "" : " unset: its default 8000");
	else if (!host_ok)
		bad(v, "webhook port", fix,
		    "kms.toml sends webhook calls to %s, auth-eth listens on %s", v->wh_host,
		    v->ae_host);
	else
		ok(v, "webhook port", "kms.toml webhook %s:%d = auth-eth HOST:PORT %s:%d",
		   v->wh_host, v->wh_port, v->ae_host, v->ae_port);
	if (v->cfg.rpc_port == v->ae_port)
		bad(v, "ports", "give auth-eth its own port (PORT=9200)",
		    "the KMS RPC and auth-eth both use port %d", v->ae_port);
}

/* ---- checks: unit files and the service user ---------------------------- */

static void check_unit_common(struct verify *v, struct unit_info *u, const char *name)
{
	char fix[512];
	if (!u->found) {
		snprintf(
		    fix, sizeof fix,
		    "install the units: make install, or ansible-playbook -i inventory/hosts.yml "
		    "playbooks/setup-kms-services.yml (then systemctl daemon-reload)");
		bad(v, name, fix, "unit file not found%s%s", v->unit_dir ? " in " : "",
		    v->unit_dir ? v->unit_dir : "");
		return;
	}
	char prog[V_PATH];
	unit_program(u, prog, sizeof prog);
	char rb[V_PATH];
	if (access(rooted(v, prog, rb, sizeof rb), X_OK) != 0) {
		snprintf(fix, sizeof fix,
			 "install the binary: make install (or the build-and-install "
			 "playbook)");
		bad(v, name, fix, "ExecStart program %s: %s", prog, strerror(errno));
	} else {
		ok(v, name, "%s, ExecStart %s", u->path, prog);
	}
	for (size_t i = 0; i < u->n_rw; i++) {
		const char *p = u->rw_paths[i];
		if (p[0] == '-' || unit_makes_dir(u, p))
			continue; /* optional, or created by systemd at start */
		if (access(rooted(v, p, rb, sizeof rb), F_OK) != 0) {
			snprintf(fix, sizeof fix,
				 "create it: install -d %s (make install creates it), "
				 "or add the matching RuntimeDirectory=/LogsDirectory=",
				 p);
			bad(v, name, fix,
			    "ReadWritePaths=%s does not exist: the start fails with "
			    "226/NAMESPACE",
			    p);
		}
	}
}

/* The user's entry: from <root>/etc/passwd under --root, else the system's. */
static struct passwd *lookup_user(const struct verify *v, const char *name)
{
	if (!v->root)
		return getpwnam(name);
	char p[V_PATH];
	FILE *f = fopen(rooted(v, "/etc/passwd", p, sizeof p), "r");
	if (!f)
		return NULL;
	struct passwd *pw;
	while ((pw = fgetpwent(f)) != NULL)
		if (strcmp(pw->pw_name, name) == 0)
			break;
	fclose(f);
	return pw; /* static storage of fgetpwent, valid until the next call */
}

static void check_units(struct verify *v)
{
	unit_find(v, "dstack-auth-eth.service", &v->ae_unit);
	unit_find(v, "dstack-kms.service", &v->kms_unit);
	check_unit_common(v, &v->ae_unit, "dstack-auth-eth.service");
	check_unit_common(v, &v->kms_unit, "dstack-kms.service");
	char rb[V_PATH];
	if (v->ae_unit.found && v->env_path) {
		const char *ef = v->ae_unit.env_file;
		if (*ef == '-')
			ef++;
		if (!*ef)
			warn(v, "EnvironmentFile", "add EnvironmentFile=/etc/kms/auth-eth.env",
			     "dstack-auth-eth.service reads no environment file");
		else if (strcmp(rooted(v, ef, rb, sizeof rb), v->env_path) != 0)
			note("EnvironmentFile", "the unit reads %s; this run checked %s", ef,
			     v->env_path);
	}
	if (v->kms_unit.found && !v->root && !strstr(v->kms_unit.exec_start, v->config_path))
		note("ExecStart", "dstack-kms.service does not name %s: %s", v->config_path,
		     v->kms_unit.exec_start);

	/* The user whose files /etc/kms/certs must be. */
	const char *user = v->user_opt;
	if (!user)
		user = v->kms_unit.found && v->kms_unit.user[0] ? v->kms_unit.user : "root";
	if (!v->user_opt && v->kms_unit.dynamic_user) {
		skip(v, "service user",
		     "dstack-kms.service uses DynamicUser=; ownership not checked");
		return;
	}
	copy_str(v->user, sizeof v->user, user);
	struct passwd *pw = lookup_user(v, user);
	if (!pw) {
		bad(v, "service user",
		    "create it: systemd-sysusers (make install installs its sysusers.d file) or "
		    "useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "
		    "dstack-kms",
		    "dstack-kms runs as '%s', which does not exist", user);
		return;
	}
	v->uid = pw->pw_uid;
	v->gid = pw->pw_gid;
	v->user_ok = 1;
	ok(v, "service user", "dstack-kms runs as %s (uid %u)", user, (unsigned)v->uid);
}

/* 1 when the service user can read path (owner, group or other bits). */
static int user_can_read(const struct verify *v, const struct stat *st)
{
	if (v->uid == 0)
		return 1;
	if (st->st_uid == v->uid)
		return (st->st_mode & S_IRUSR) != 0;
	if (st->st_gid == v->gid)
		return (st->st_mode & S_IRGRP) != 0;
	return (st->st_mode & S_IROTH) != 0;
}

static void check_config_access(struct verify *v)
{
	struct stat st;
	if (!v->user_ok || stat(v->config_path, &st) < 0)
		return;
	char fix[V_PATH * 2];
	snprintf(fix, sizeof fix, "chown root:%s %s && chmod 640 %s", v->user, v->config_path,
		 v->config_path);
	if (!user_can_read(v, &st))
		bad(v, "kms.toml access", fix, "%s cannot read %s (mode %03o, uid %u gid %u)",
		    v->user, v->config_path, (unsigned)(st.st_mode & 0777), (unsigned)st.st_uid,
		    (unsigned)st.st_gid);
	else if (st.st_mode & S_IWOTH)
		bad(v, "kms.toml access", fix, "%s is writable by everyone", v->config_path);
	else
		ok(v, "kms.toml access", "readable by %s, mode %03o", v->user,
		   (unsigned)(st.st_mode & 0777));
}

/* ---- checks: keys and certificates -------------------------------------- */

static X509 *load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

static void check_chain(struct verify *v)
{
	char ca_p[V_PATH], rpc_p[V_PATH];
	if (fs_join(ca_p, sizeof ca_p, v->cert_dir, "root-ca.crt") < 0 ||
	    fs_join(rpc_p, sizeof rpc_p, v->cert_dir, "rpc.crt") < 0)
		return;
	X509 *ca = load_cert(ca_p), *rpc = load_cert(rpc_p);
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (!ca || !rpc) {
		bad(v, "rpc.crt chain", "restore the key set from a backup, or bootstrap again",
		    "%s is not a PEM certificate", !ca ? ca_p : rpc_p);
		goto out;
	}
	if (!store || !ctx || X509_STORE_add_cert(store, ca) != 1 ||
	    X509_STORE_CTX_init(ctx, store, rpc, NULL) != 1)
		goto out;
	if (X509_verify_cert(ctx) != 1) {
		int e = X509_STORE_CTX_get_error(ctx);
		bad(v, "rpc.crt chain",
		    "restart dstack-kms: every start re-issues rpc.crt from root-ca (the cert "
		    "directory must be writable by the service user)",
		    "rpc.crt does not verify against root-ca.crt: %s",
		    X509_verify_cert_error_string(e));
		goto out;
	}
	char cn[256] = "";
	X509_NAME_get_text_by_NID(X509_get_subject_name(rpc), NID_commonName, cn, sizeof cn);
	ok(v, "rpc.crt chain", "rpc.crt (CN=%s) verifies against root-ca.crt", cn);
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(ca);
	X509_free(rpc);
}

static void check_certs(struct verify *v)
{
	char fix[V_PATH * 2];
	struct stat st;
	if (!v->cert_dir[0])
		return;
	int st_rc = stat(v->cert_dir, &st);
	if (st_rc < 0 || !S_ISDIR(st.st_mode)) {
		bad(v, "cert dir",
		    "bootstrap the KMS: ansible-playbook -i inventory/hosts.yml "
		    "playbooks/bootstrap-kms.yml -e kms_domain=<your domain>, or set "
		    "[core.onboard] "
		    "auto_bootstrap_domain and start dstack-kms",
		    "%s: %s", v->cert_dir, st_rc < 0 ? strerror(errno) : "not a directory");
		return;
	}
	char missing[256] = "";
	size_t n_missing = 0, n_all = 0;
	const char *const *lists[2] = {SEED_CERT_FILES, MORE_KEY_FILES};
	size_t lens[2] = {4, 3};
	for (size_t l = 0; l < 2; l++) {
		for (size_t i = 0; i < lens[l]; i++) {
			char p[V_PATH];
			n_all++;
			if (fs_join(p, sizeof p, v->cert_dir, lists[l][i]) == 0 && fs_exists(p))
				continue;
			size_t m = strlen(missing);
			snprintf(missing + m, sizeof missing - m, "%s%s", m ? " " : "",
				 lists[l][i]);
			n_missing++;
		}
	}
	if (n_missing == n_all)
		bad(v, "key set",
		    "bootstrap the KMS: ansible-playbook -i inventory/hosts.yml "
		    "playbooks/bootstrap-kms.yml -e kms_domain=<your domain>",
		    "no keys in %s (not bootstrapped)", v->cert_dir);
	else if (n_missing)
		bad(v, "key set", "restore the missing files from your backup of the key set",
		    "%s is incomplete, missing: %s", v->cert_dir, missing);
	else
		ok(v, "key set",
		   "root-ca.crt rpc.crt rpc.key tmp-ca.crt and the 3 private keys in %s",
		   v->cert_dir);
	if (n_missing == n_all)
		return;

	char k256[V_PATH];
	if (fs_join(k256, sizeof k256, v->cert_dir, "root-k256.key") == 0 && stat(k256, &st) == 0 &&
	    st.st_size != 32)
		bad(v, "root-k256.key", "restore root-k256.key from your backup",
		    "is %lld bytes, a secp256k1 key is 32", (long long)st.st_size);
	if (!n_missing)
		check_chain(v);

	/* Private keys: 0600. */
	int mode_bad = 0;
	for (size_t i = 0; i < 4; i++) {
		char p[V_PATH];
		if (fs_join(p, sizeof p, v->cert_dir, PRIVATE_FILES[i]) < 0 || stat(p, &st) < 0)
			continue;
		if (st.st_mode & 077) {
			snprintf(fix, sizeof fix, "chmod 600 %s", p);
			bad(v, "key mode", fix, "%s is mode %03o: readable by others", p,
			    (unsigned)(st.st_mode & 0777));
			mode_bad = 1;
		}
	}
	if (!mode_bad)
		ok(v, "key mode", "private keys are 0600");

	/* Ownership: the KMS re-issues rpc.crt at every start, as the service user. */
	if (!v->user_ok)
		return;
	snprintf(fix, sizeof fix,
		 "chown -R %s:%s %s (the tutorial's `chown -R root:root /etc/kms` breaks the "
		 "rpc.crt re-issue at every start)",
		 v->user, v->user, v->cert_dir);
	char wrong[512] = "";
	size_t n_wrong = 0;
	if (stat(v->cert_dir, &st) == 0 && st.st_uid != v->uid) {
		snprintf(wrong, sizeof wrong, "%.400s/", v->cert_dir);
		n_wrong++;
	}
	const char *const all[] = {"root-ca.crt", "root-ca.key", "tmp-ca.crt",	  "tmp-ca.key",
				   "rpc.crt",	  "rpc.key",	 "root-k256.key", "rpc-domain"};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		char p[V_PATH];
		if (fs_join(p, sizeof p, v->cert_dir, all[i]) < 0 || stat(p, &st) < 0)
			continue;
		if (st.st_uid != v->uid) {
			size_t m = strlen(wrong);
			snprintf(wrong + m, sizeof wrong - m, "%s%s", m ? " " : "", all[i]);
			n_wrong++;
		}
	}
	if (n_wrong)
		bad(v, "cert ownership", fix, "not owned by %s: %s", v->user, wrong);
	else
		ok(v, "cert ownership", "%s and its files belong to %s", v->cert_dir, v->user);
	if (stat(v->cert_dir, &st) == 0 && v->uid != 0 && st.st_uid == v->uid &&
	    !(st.st_mode & S_IWUSR)) {
		snprintf(fix, sizeof fix, "chmod 700 %s", v->cert_dir);
		bad(v, "cert ownership", fix, "%s is not writable by its owner", v->cert_dir);
	}
}

/* ---- checks: systemd ------------------------------------------------------ */

struct unit_state {
	char active[32], sub[32], file_state[32], result[32];
	char invocation[64], status_text[256];
	long main_pid;
	long n_restarts;
	char start_ts[64];
};

static void show_field(const char *text, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	out[0] = '\0';
	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t ll = nl ? (size_t)(nl - p) : strlen(p);
		if (ll > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			size_t vl = ll - kl - 1;
			if (vl >= cap)
				vl = cap - 1;
			memcpy(out, p + kl + 1, vl);
			out[vl] = '\0';
			return;
		}
		p = nl ? nl + 1 : NULL;
	}
}

static int unit_state_get(const char *unit, struct unit_state *s)
{
	char *argv[] = {"systemctl",
			"show",
			(char *)unit,
			"--timestamp=unix",
			"-p",
			"ActiveState,SubState,UnitFileState,Result,InvocationID,StatusText,MainPID,"
			"NRestarts,ExecMainStartTimestamp",
			NULL};
	struct buf out = BUF_INIT;
	int rc = run_capture(argv, &out, 64 * 1024, 10000);
	if (rc != 0) {
		buf_free(&out);
		return -1;
	}
	const char *t = buf_str(&out);
	char num[32];
	show_field(t, "ActiveState", s->active, sizeof s->active);
	show_field(t, "SubState", s->sub, sizeof s->sub);
	show_field(t, "UnitFileState", s->file_state, sizeof s->file_state);
	show_field(t, "Result", s->result, sizeof s->result);
	show_field(t, "InvocationID", s->invocation, sizeof s->invocation);
	show_field(t, "StatusText", s->status_text, sizeof s->status_text);
	show_field(t, "ExecMainStartTimestamp", s->start_ts, sizeof s->start_ts);
	show_field(t, "MainPID", num, sizeof num);
	s->main_pid = strtol(num, NULL, 10);
	show_field(t, "NRestarts", num, sizeof num);
	s->n_restarts = strtol(num, NULL, 10);
	buf_free(&out);
	return 0;
}

/* Journal lines (message text only) of the unit's current run. */
static int journal_of_run(const char *unit, const struct unit_state *s, struct buf *out)
{
	char match[128];
	snprintf(match, sizeof match, "_SYSTEMD_INVOCATION_ID=%s", s->invocation);
	char *argv1[] = {"journalctl", "--no-pager", "-q", "-o", "cat", "-n", "2000", match, NULL};
	if (s->invocation[0] && run_capture(argv1, out, 512 * 1024, 10000) == 0 && out->len > 0)
		return 0;
	buf_reset(out);
	/* Fallback: the unit's lines since its main process started. */
	char since[80] = "";
	const char *ts = s->start_ts[0] == '@' ? s->start_ts : NULL;
	if (ts)
		snprintf(since, sizeof since, "--since=%s", ts);
	char *argv2[] = {"journalctl", "--no-pager", "-q", "-o",	 "cat",
			 "-n",	       "2000",	     "-u", (char *)unit, since[0] ? since : "-b",
			 NULL};
	return run_capture(argv2, out, 512 * 1024, 10000) == 0 ? 0 : -1;
}

static void check_journal_lines(struct verify *v, const char *unit, const struct unit_state *s,
				const char *const *want, const char *const *fixes, size_t n)
{
	struct buf j = BUF_INIT;
	char name[96];
	snprintf(name, sizeof name, "%s log", unit);
	if (journal_of_run(unit, s, &j) < 0) {
		warn(v, name, "check that journalctl works (systemd-journald running)",
		     "cannot read the journal");
		buf_free(&j);
		return;
	}
	const char *text = buf_str(&j);
	for (size_t i = 0; i < n; i++) {
		const char *hit = strstr(text, want[i]);
		if (!hit) {
			bad(v, name, fixes[i], "no \"%s\" line in this run's journal", want[i]);
			continue;
		}
		size_t ll = strcspn(hit, "\n");
		char line[300];
		if (ll >= sizeof line)
			ll = sizeof line - 1;
		memcpy(line, hit, ll);
		line[ll] = '\0';
		ok(v, name, "%s", line);
	}
	buf_free(&j);
}

static void check_service(struct verify *v, const char *unit, struct unit_state *s)
{
	char fix[256];
	if (unit_state_get(unit, s) < 0) {
		bad(v, unit, "check that systemd runs: systemctl status", "systemctl show failed");
		return;
	}
	if (strcmp(s->active, "active") == 0) {
		if (s->status_text[0])
			ok(v, unit, "active (%s), pid %ld, status \"%s\"", s->sub, s->main_pid,
			   s->status_text);
		else
			ok(v, unit, "active (%s), pid %ld", s->sub, s->main_pid);
	} else {
		snprintf(fix, sizeof fix,
			 "see why: journalctl -u %s -n 100 --no-pager; then: systemctl start %s",
			 unit, unit);
		bad(v, unit, fix, "not running: %s (%s), last result %s", s->active, s->sub,
		    s->result);
	}
	if (s->n_restarts > 0)
		note(unit, "restarted %ld time(s) by systemd since it was started", s->n_restarts);
	if (strcmp(s->file_state, "enabled") == 0) {
		ok(v, unit, "enabled for boot");
	} else {
		snprintf(fix, sizeof fix, "systemctl enable %s", unit);
		bad(v, unit, fix, "not enabled for boot (%s)",
		    s->file_state[0] ? s->file_state : "?");
	}
}

static void check_systemd(struct verify *v)
{
	if (v->no_systemd) {
		skip(v, "services", "--no-systemd: service state and journal not checked");
		return;
	}
	if (access("/run/systemd/system", F_OK) != 0) {
		bad(v, "services",
		    "run the verification on the host that runs the services, or pass "
		    "--no-systemd to check the files only",
		    "systemd is not the init system here");
		return;
	}
	struct unit_state ae = {0}, kms = {0};
	check_service(v, "dstack-auth-eth.service", &ae);
	check_service(v, "dstack-kms.service", &kms);
	if (strcmp(ae.active, "active") == 0) {
		static const char *const want[] = {
		    "Server listening on", "Connected to Ethereum RPC", "KMS contract loaded"};
		static const char *const fixes[] = {
		    "see journalctl -u dstack-auth-eth: HOST/PORT in /etc/kms/auth-eth.env",
		    "auth-eth cannot reach ETH_RPC_URL: check the URL and the network (journalctl "
		    "-u dstack-auth-eth)",
		    "no contract code at KMS_CONTRACT_ADDR on that chain: check the address and "
		    "the "
		    "network of ETH_RPC_URL"};
		check_journal_lines(v, "dstack-auth-eth", &ae, want, fixes, 3);
	}
	if (strcmp(kms.active, "active") == 0) {
		static const char *const want[] = {"KMS initialized successfully",
						   "RPC server listening on",
						   "Auth API configured"};
		static const char *const fixes[] = {
		    "journalctl -u dstack-kms -n 100", "journalctl -u dstack-kms -n 100",
		    "journalctl -u dstack-kms -n 100: check [core.auth_api] in kms.toml"};
		check_journal_lines(v, "dstack-kms", &kms, want, fixes, 3);
	}
}

/* ---- checks: the control socket ------------------------------------------ */

/* The tutorial looks into /var/run/kms/: the control socket is what lives
 * there. Its status document says whether the KMS serves and what needs
 * attention (the same rules as `dstack-kmsctl status`). */
static void check_control(struct verify *v)
{
	if (!v->cfg_ok)
		return;
	if (!v->cfg.control_socket[0]) {
		skip(v, "control socket", "[core] control_socket = \"\" (off)");
		return;
	}
	if (v->root) {
		skip(v, "control socket", "--root: a staged tree has no running KMS");
		return;
	}
	const char *path = v->cfg.control_socket;
	struct stat st;
	errno = 0;
	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		bad(v, "control socket",
		    "is dstack-kms running? systemctl status dstack-kms; its unit's "
		    "RuntimeDirectory=kms makes the directory",
		    "%s: %s", path, errno ? strerror(errno) : "not a socket");
		return;
	}
	if ((st.st_mode & 07777) != 0660)
		warn(v, "control socket", "restart dstack-kms (it creates the socket 0660)",
		     "%s has mode %04o, not 0660", path, (unsigned)(st.st_mode & 07777));
	json_t *doc;
	struct err err = {{0}};
	if (kmsctl_status_read(path, V_HTTP_TIMEOUT_MS * 2, &doc, &err) < 0) {
		bad(v, "control socket", "journalctl -u dstack-kms -n 100", "%s", err_msg(&err));
		return;
	}
	struct buf attn = BUF_INIT;
	int n = kmsctl_status_attention(doc, &attn);
	const char *phase = json_string_value(json_object_get(doc, "phase"));
	if (n == 0) {
		ok(v, "control socket", "%s: phase %s, nothing needs attention", path,
		   phase ? phase : "?");
	} else {
		char *save = NULL;
		for (char *l = strtok_r((char *)buf_str(&attn), "\n", &save); l;
		     l = strtok_r(NULL, "\n", &save))
			bad(v, "KMS status",
			    "dstack-kmsctl status (details); journalctl -u dstack-kms", "%s", l);
	}
	buf_free(&attn);
	json_decref(doc);
}

/* ---- checks: network ------------------------------------------------------ */

static int http_json(struct verify *v, const char *method, const char *url, const char *body,
		     long timeout_ms, struct http_response *resp, struct err *err)
{
	memset(resp, 0, sizeof *resp);
	if (!v->http) {
		struct http_client_opts o = {.user_agent = KMSCTL_PROG "-verify"};
		v->http = http_client_new(&o, err);
		if (!v->http)
			return -1;
	}
	const struct http_header ct = {"Content-Type", "application/json"};
	struct http_request req = {
	    .method = method,
	    .url = url,
	    .headers = body ? &ct : NULL,
	    .n_headers = body ? 1 : 0,
	    .body = body ? body : "",
	    .body_len = body ? strlen(body) : 0,
	    .connect_timeout_ms = timeout_ms,
	    .timeout_ms = timeout_ms,
	    .max_response_bytes = V_MAX_BODY,
	};
	return http_client_do(v->http, &req, resp, err);
}

static json_t *body_json(const struct http_response *resp)
{
	json_error_t je;
	return json_loadb((const char *)resp->body.p, resp->body.len, 0, &je);
}

static void check_ports(struct verify *v)
{
	char fix[256];
	if (v->env_ok && v->ae_port > 0) {
		const char *h = connect_host(v->ae_host);
		if (tcp_connects(h, v->ae_port))
			ok(v, "auth-eth port", "%s:%d accepts connections", h, v->ae_port);
		else
			bad(v, "auth-eth port",
			    "systemctl status dstack-auth-eth; journalctl -u dstack-auth-eth -n 50",
			    "nothing listens on %s:%d", h, v->ae_port);
	}
	if (v->cfg_ok) {
		const char *h = connect_host(v->cfg.rpc_address);
		snprintf(
		    fix, sizeof fix,
		    "systemctl status dstack-kms; journalctl -u dstack-kms -n 50 (port %d free? "
		    "firewall?)",
		    v->cfg.rpc_port);
		if (tcp_connects(h, v->cfg.rpc_port))
			ok(v, "KMS port", "%s:%d accepts connections", h, v->cfg.rpc_port);
		else
			bad(v, "KMS port", fix, "nothing listens on %s:%d", h, v->cfg.rpc_port);
	}
}

/* The seed's quick check (POST / ping), its troubleshooting check (POST /
 * is_app_allowed), the real routes GET / and POST /bootAuth/app. */
static void check_webhook(struct verify *v)
{
	if (!v->wh_ok) {
		if (v->cfg_ok && v->cfg.auth_type == AUTH_KIND_WEBHOOK)
			skip(v, "webhook", "no usable webhook URL in kms.toml");
		return;
	}
	struct err err = {{0}};
	struct http_response r;
	char url[CFG_STR + 32], origin[256];
	log_url_origin(v->wh_base, origin, sizeof origin);
	const char *down_fix =
	    "systemctl status dstack-auth-eth; check that kms.toml's webhook url "
	    "matches HOST/PORT in /etc/kms/auth-eth.env";
	const char *chain_fix = "auth-eth cannot read the chain: check ETH_RPC_URL and "
				"KMS_CONTRACT_ADDR in /etc/kms/auth-eth.env (journalctl -u "
				"dstack-auth-eth), then: systemctl restart dstack-auth-eth";

	/* 1. POST / {"method":"ping"} — the tutorial's quick verification. */
	snprintf(url, sizeof url, "%s/", v->wh_base);
	if (http_json(v, "POST", url, "{\"method\":\"ping\"}", V_HTTP_TIMEOUT_MS, &r, &err) < 0) {
		bad(v, "webhook ping", down_fix, "%s", err_msg(&err));
		http_response_free(&r);
		return;
	}
	json_t *j = body_json(&r);
	const char *res = json_string_value(json_object_get(j, "result"));
	if (r.status == 200 && res && strcmp(res, "pong") == 0)
		ok(v, "webhook ping", "POST %s/ {\"method\":\"ping\"} -> pong", origin);
	else
		bad(v, "webhook ping",
		    "kms.toml's webhook url must point at dstack-auth-eth (not at another service)",
		    "POST %s/ ping answered HTTP %ld: %.120s", origin, r.status, buf_str(&r.body));
	json_decref(j);
	http_response_free(&r);

	/* 2. The troubleshooting section's is_app_allowed for app "test" -> false. */
	if (http_json(v, "POST", url,
		      "{\"method\":\"is_app_allowed\",\"params\":{\"app_id\":\"test\"}}",
		      V_HTTP_TIMEOUT_MS, &r, &err) == 0) {
		j = body_json(&r);
		json_t *rv = json_object_get(j, "result");
		const char *reason = json_string_value(json_object_get(j, "reason"));
		if (r.status == 200 && json_is_false(rv) && !reason)
			ok(v, "webhook is_app_allowed", "app \"test\" -> {\"result\":false}");
		else if (r.status == 200 && reason)
			bad(v, "webhook is_app_allowed", chain_fix, "answered %s", reason);
		else
			bad(v, "webhook is_app_allowed", down_fix, "HTTP %ld: %.120s", r.status,
			    buf_str(&r.body));
		json_decref(j);
	} else {
		bad(v, "webhook is_app_allowed", down_fix, "%s", err_msg(&err));
	}
	http_response_free(&r);

	/* 3. GET / — what the KMS's GetMeta uses. */
	if (http_json(v, "GET", v->wh_base, NULL, V_HTTP_TIMEOUT_MS, &r, &err) == 0) {
		j = body_json(&r);
		const char *st = json_string_value(json_object_get(j, "status"));
		const char *addr = json_string_value(json_object_get(j, "kmsContractAddr"));
		json_t *cid = json_object_get(j, "chainId");
		const char *want = v->env_ok ? env_get(v, "KMS_CONTRACT_ADDR") : NULL;
		if (r.status == 200 && st && strcmp(st, "ok") == 0 && json_is_integer(cid)) {
			if (want && addr && strcasecmp(want, addr) != 0)
				bad(v, "webhook GET /",
				    "restart auth-eth to load the env file: systemctl restart "
				    "dstack-auth-eth",
				    "auth-eth uses contract %s, the env file says %s", addr, want);
			else
				ok(v, "webhook GET /", "status ok, chain %lld, contract %s",
				   (long long)json_integer_value(cid), addr ? addr : "?");
		} else {
			bad(v, "webhook GET /", chain_fix, "HTTP %ld: %.120s", r.status,
			    buf_str(&r.body));
		}
		json_decref(j);
	} else {
		bad(v, "webhook GET /", down_fix, "%s", err_msg(&err));
	}
	http_response_free(&r);

	/* 4. POST /bootAuth/app with a BootInfo nobody registered: a decision must come back. */
	snprintf(url, sizeof url, "%s/bootAuth/app", v->wh_base);
	const char *boot = "{\"mrAggregated\":\"\",\"osImageHash\":\"\",\"appId\":"
			   "\"00000000000000000000000000000000000000ff\",\"composeHash\":\"\","
			   "\"instanceId\":\"\",\"deviceId\":\"\",\"tcbStatus\":\"UpToDate\","
			   "\"advisoryIds\":[],\"mrSystem\":\"\"}";
	if (http_json(v, "POST", url, boot, V_HTTP_TIMEOUT_MS, &r, &err) == 0) {
		j = body_json(&r);
		json_t *allowed = json_object_get(j, "isAllowed");
		const char *reason = json_string_value(json_object_get(j, "reason"));
		if (r.status == 200 && json_is_boolean(allowed) && reason &&
		    (strcmp(reason, "authorization backend unavailable") == 0 ||
		     strcmp(reason, "chain view is stale") == 0))
			bad(v, "webhook /bootAuth/app",
			    strcmp(reason, "chain view is stale") == 0
				? "the RPC node's newest block is older than ETH_MAX_BLOCK_AGE: "
				  "use a synced RPC endpoint"
				: chain_fix,
			    "answered \"%s\"", reason);
		else if (r.status == 200 && json_is_boolean(allowed))
			ok(v, "webhook /bootAuth/app",
			   "a decision from the chain: isAllowed=%s%s%s",
			   json_is_true(allowed) ? "true" : "false", reason && *reason ? ", " : "",
			   reason ? reason : "");
		else
			bad(v, "webhook /bootAuth/app", down_fix, "HTTP %ld: %.120s", r.status,
			    buf_str(&r.body));
		json_decref(j);
	} else {
		bad(v, "webhook /bootAuth/app", down_fix, "%s", err_msg(&err));
	}
	http_response_free(&r);
}

static json_t *eth_call(struct verify *v, const char *rpc, const char *method, const char *params,
			struct err *err)
{
	char body[512];
	snprintf(body, sizeof body,
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":%s}", method, params);
	struct http_response r;
	json_t *res = NULL;
	if (http_json(v, "POST", rpc, body, V_HTTP_TIMEOUT_MS, &r, err) < 0)
		goto out;
	if (r.status != 200) {
		err_set(err, "%s: HTTP %ld%s", method, r.status,
			r.status == 429 ? " (rate-limited)" : "");
		goto out;
	}
	json_t *j = body_json(&r);
	json_t *x = json_object_get(j, "result");
	if (!x) {
		const char *m =
		    json_string_value(json_object_get(json_object_get(j, "error"), "message"));
		err_set(err, "%s: %s", method, m ? m : "no result");
	} else {
		res = json_incref(x);
	}
	json_decref(j);
out:
	http_response_free(&r);
	return res;
}

/* The troubleshooting section's chain checks: the RPC answers, the contract has code. */
static void check_chain_rpc(struct verify *v)
{
	if (!v->env_ok)
		return;
	const char *rpc = env_get(v, "ETH_RPC_URL");
	const char *addr = env_get(v, "KMS_CONTRACT_ADDR");
	if (!rpc || is_placeholder(rpc) ||
	    (strncmp(rpc, "http://", 7) != 0 && strncmp(rpc, "https://", 8) != 0)) {
		skip(v, "chain", "no usable ETH_RPC_URL");
		return;
	}
	char origin[256];
	log_url_origin(rpc, origin, sizeof origin);
	struct err err = {{0}};
	json_t *cid = eth_call(v, rpc, "eth_chainId", "[]", &err);
	if (!cid || !json_is_string(cid)) {
		bad(v, "chain RPC",
		    "check ETH_RPC_URL (endpoint, API key, network reachability from this host)",
		    "%s: %s", origin, cid ? "eth_chainId is not a string" : err_msg(&err));
		json_decref(cid);
		return;
	}
	ok(v, "chain RPC", "%s answers, chain id %lld", origin,
	   (long long)strtoll(json_string_value(cid), NULL, 16));
	json_decref(cid);

	if (is_address(addr)) {
		char params[128];
		snprintf(params, sizeof params, "[\"%s\",\"latest\"]", addr);
		json_t *code = eth_call(v, rpc, "eth_getCode", params, &err);
		const char *c = json_string_value(code);
		if (!c)
			bad(v, "contract code", "check ETH_RPC_URL", "%s", err_msg(&err));
		else if (strlen(c) <= 2)
			bad(v, "contract code",
			    "KMS_CONTRACT_ADDR must be the deployed KMS contract on this chain "
			    "(wrong "
			    "address or wrong network?)",
			    "no code at %s", addr);
		else
			ok(v, "contract code", "%zu bytes of code at %s", (strlen(c) - 2) / 2,
			   addr);
		json_decref(code);
	}

	json_t *blk = eth_call(v, rpc, "eth_getBlockByNumber", "[\"latest\",false]", &err);
	const char *ts = json_string_value(json_object_get(blk, "timestamp"));
	if (ts) {
		long long age = (long long)time(NULL) - strtoll(ts, NULL, 16);
		const char *max_s = env_get(v, "ETH_MAX_BLOCK_AGE");
		long long max = max_s ? strtoll(max_s, NULL, 10) : 0;
		if (max > 0 && age > max)
			bad(v, "chain head",
			    "the RPC node is not synced (or the chain stalled): use another "
			    "endpoint",
			    "newest block is %lld s old, over ETH_MAX_BLOCK_AGE=%lld: auth-eth "
			    "refuses "
			    "every authorization",
			    age, max);
		else
			ok(v, "chain head", "newest block is %lld s old", age);
	}
	json_decref(blk);
}

/* The KMS itself: /health and GetMeta (which goes KMS -> auth-eth GET /). */
static void check_kms(struct verify *v)
{
	if (!v->cfg_ok)
		return;
	struct kmsctl *ctl = v->ctl;
	int defaults = strcmp(ctl->url, KMSCTL_DEFAULT_URL) == 0 && !ctl->cacert &&
		       !ctl->servername && !ctl->insecure;
	if (defaults) {
		const char *h = connect_host(v->cfg.rpc_address);
		int v6 = strchr(h, ':') != NULL;
		snprintf(v->kms_url, sizeof v->kms_url, "https://%s%s%s:%d", v6 ? "[" : "", h,
			 v6 ? "]" : "", v->cfg.rpc_port);
		copy_str(ctl->url, sizeof ctl->url, v->kms_url);
		char p[V_PATH];
		if (fs_join(p, sizeof p, v->cert_dir, "root-ca.crt") == 0 && access(p, R_OK) == 0) {
			copy_str(v->cacert, sizeof v->cacert, p);
			ctl->cacert = v->cacert;
		}
		struct buf dom = BUF_INIT;
		struct err e2 = {{0}};
		if (fs_join(p, sizeof p, v->cert_dir, "rpc-domain") == 0 &&
		    fs_read_file(p, 300, &dom, &e2) == 0) {
			char *d = trim((char *)buf_str(&dom));
			if (*d && copy_str(v->servername, sizeof v->servername, d) == 0)
				ctl->servername = v->servername;
		}
		buf_free(&dom);
	}
	char origin[256];
	log_url_origin(ctl->url, origin, sizeof origin);
	struct err err = {{0}};
	struct http_response r;
	const char *tls_fix =
	    "rpc.crt must chain to root-ca.crt and name the bootstrap domain: "
	    "restart dstack-kms (it re-issues rpc.crt), or pass --cacert/--servername";
	if (kmsctl_get(ctl, "/health", &r, &err) < 0) {
		bad(v, "KMS health",
		    r.failure == HTTP_FAIL_TLS
			? tls_fix
			: "systemctl status dstack-kms; journalctl -u dstack-kms",
		    "%s", err_msg(&err));
		kmsctl_response_free(&r);
		return;
	}
	if (r.status == 200)
		ok(v, "KMS health", "GET %s/health -> 200 (TLS verified%s%s)", origin,
		   ctl->servername ? " for " : "", ctl->servername ? ctl->servername : "");
	else
		bad(v, "KMS health", "journalctl -u dstack-kms", "GET /health -> HTTP %ld",
		    r.status);
	kmsctl_response_free(&r);

	if (kmsctl_rpc(ctl, "GetMeta", "{}", &r, &err) < 0) {
		bad(v, "KMS GetMeta",
		    "GetMeta asks auth-eth (GET /): check dstack-auth-eth and the webhook url in "
		    "kms.toml",
		    "%s", err_msg(&err));
		kmsctl_response_free(&r);
		return;
	}
	json_t *j = body_json(&r);
	json_t *cid = json_object_get(j, "chain_id");
	const char *addr = json_string_value(json_object_get(j, "kms_contract_address"));
	const char *want = v->env_ok ? env_get(v, "KMS_CONTRACT_ADDR") : NULL;
	if (json_is_true(json_object_get(j, "is_dev")))
		ok(v, "KMS GetMeta", "answers (dev auth: no chain)");
	else if (want && is_address(want) && addr && strcasecmp(addr, want) != 0)
		bad(v, "KMS GetMeta", "restart dstack-auth-eth after editing its env file",
		    "the KMS reports contract %s, the env file says %s", addr, want);
	else
		ok(v, "KMS GetMeta", "answers through auth-eth: chain %lld, contract %s",
		   json_is_integer(cid) ? (long long)json_integer_value(cid) : -1LL,
		   addr ? addr : "(none)");
	json_decref(j);
	kmsctl_response_free(&r);
}

/* ---- the command ---------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " KMSCTL_PROG " [OPTIONS] verify [--config FILE] [--env-file FILE]\n"
		"           [--cert-dir DIR] [--unit-dir DIR] [--service-user NAME]\n"
		"           [--root DIR] [--no-systemd] [--offline]\n"
		"\n"
		"Checks an installation of dstack-kms + dstack-auth-eth (run it as root on the\n"
		"service host) and prints every failure with its fix:\n"
		"  - kms.toml loads; host mode is reported (\"host mode: no TEE attestation\");\n"
		"  - auth-eth.env: mode 0600, no YOUR_... placeholders, a usable ETH_RPC_URL\n"
		"    (not a public demo key) and KMS_CONTRACT_ADDR, ETH_MAX_BLOCK_AGE set;\n"
		"  - the webhook url in kms.toml matches auth-eth's HOST/PORT;\n"
		"  - the unit files, their programs and ReadWritePaths= exist; the service\n"
		"    user exists and can read kms.toml;\n"
		"  - the key set (root-ca.crt, rpc.crt, rpc.key, tmp-ca.crt, the private keys):\n"
		"    complete, rpc.crt chains to root-ca.crt, keys 0600, all owned by the\n"
		"    service user (each start re-issues rpc.crt);\n"
		"  - both services active and enabled, the start-up lines in their journal;\n"
		"  - the control socket ([core] control_socket) answers: the KMS serves and\n"
		"    nothing needs attention (see `status`);\n"
		"  - both ports accept connections; the webhook answers POST / ping and\n"
		"    is_app_allowed (the tutorial's checks), GET / and POST /bootAuth/app;\n"
		"  - the chain RPC answers, the contract has code, the newest block is fresh;\n"
		"  - the KMS answers /health and GetMeta over TLS verified with root-ca.crt.\n"
		"\n"
		"  --config FILE        kms.toml (default /etc/kms/kms.toml)\n"
		"  --env-file FILE      auth-eth's env file (default /etc/kms/auth-eth.env)\n"
		"  --cert-dir DIR       the key set (default: cert_dir of kms.toml)\n"
		"  --unit-dir DIR       where the unit files are (default: systemd's search path)\n"
		"  --service-user NAME  who must own the cert dir (default: User= of the unit)\n"
		"  --root DIR           check a staged tree (make install DESTDIR=DIR): every\n"
		"                       absolute path, the unit files and /etc/passwd are\n"
		"                       looked up under DIR\n"
		"  --no-systemd         skip service state and journal (files only, e.g. a staged\n"
		"                       tree or a host without systemd)\n"
		"  --offline            skip every network check (ports, webhook, chain, KMS)\n"
		"  -h, --help           this text\n"
		"\n"
		"The KMS is reached at https://127.0.0.1:<rpc port> with root-ca.crt and the\n"
		"name in rpc-domain unless --url/--cacert/--servername/--insecure are given.\n"
		"Exit status: 0 when no check failed, 1 otherwise, 2 usage error.\n");
}

static int parse_args(struct verify *v, int argc, char **argv)
{
	struct err err = {{0}};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		int r;
		if (kmsctl_is_help(a)) {
			usage(stdout);
			return -KMSCTL_EXIT_OK - 100;
		} else if (strcmp(a, "--no-systemd") == 0) {
			v->no_systemd = 1;
		} else if (strcmp(a, "--offline") == 0) {
			v->offline = 1;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--root", &val, &err)) != 0) {
			if (r < 0 || !*val)
				return kmsctl_usage_error("verify", "--root needs a directory");
			v->root = val;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--config", &val, &err)) != 0) {
			if (r < 0)
				return kmsctl_usage_error("verify", "%s", err_msg(&err));
			v->config_path = val;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--env-file", &val, &err)) != 0) {
			if (r < 0)
				return kmsctl_usage_error("verify", "%s", err_msg(&err));
			v->env_path = val;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--cert-dir", &val, &err)) != 0) {
			if (r < 0 || copy_str(v->cert_dir, sizeof v->cert_dir, val) < 0)
				return kmsctl_usage_error("verify", "--cert-dir needs a path");
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--unit-dir", &val, &err)) != 0) {
			if (r < 0)
				return kmsctl_usage_error("verify", "%s", err_msg(&err));
			v->unit_dir = val;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--service-user", &val, &err)) !=
			   0) {
			if (r < 0 || !*val || strlen(val) >= sizeof v->user)
				return kmsctl_usage_error("verify",
							  "--service-user needs a user name");
			v->user_opt = val;
		} else {
			return kmsctl_usage_error("verify", "unexpected argument '%s'", a);
		}
	}
	return 0;
}

static int run(struct kmsctl *ctl, int argc, char **argv)
{
	static struct verify v; /* large: kms_config and unit paths */
	memset(&v, 0, sizeof v);
	v.ctl = ctl;
	int rc = parse_args(&v, argc, argv);
	if (rc == -KMSCTL_EXIT_OK - 100)
		return KMSCTL_EXIT_OK;
	if (rc != 0)
		return rc;
	if (!v.config_path)
		v.config_path = rooted(&v, "/etc/kms/kms.toml", v.config_buf, sizeof v.config_buf);
	if (!v.env_path)
		v.env_path = rooted(&v, "/etc/kms/auth-eth.env", v.env_buf, sizeof v.env_buf);

	printf("Checking the dstack KMS installation (%s, %s)\n", v.config_path, v.env_path);
	section("configuration");
	check_config(&v);
	check_env(&v);
	check_webhook_match(&v);
	section("unit files and service user");
	check_units(&v);
	check_config_access(&v);
	section("keys and certificates");
	check_certs(&v);
	section("services");
	check_systemd(&v);
	section("control socket");
	check_control(&v);
	section("network");
	if (v.offline) {
		skip(&v, "network", "--offline: ports, webhook, chain and KMS not checked");
	} else {
		check_ports(&v);
		check_webhook(&v);
		check_chain_rpc(&v);
		check_kms(&v);
	}
	http_client_free(v.http);
	env_free(&v);

	printf("\n");
	if (v.cfg_ok && (!v.cfg.attest_rpc_cert || !v.cfg.enforce_self_authorization))
		printf("host mode: no TEE attestation\n");
	printf("verify: %d ok, %d failed, %d warnings, %d skipped\n", v.n_ok, v.n_fail, v.n_warn,
	       v.n_skip);
	if (v.n_fail) {
		printf("KMS service setup NOT verified: fix the [FAIL] lines above.\n");
		return KMSCTL_EXIT_FAIL;
	}
	printf("KMS service setup verified successfully!\n");
	return KMSCTL_EXIT_OK;
}

const struct kmsctl_cmd kmsctl_cmd_verify = {
    .name = "verify",
    .summary = "check an installation (files, keys, services, webhook, chain)",
    .run = run,
    .usage = usage,
};
