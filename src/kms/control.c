/*
 * control.c — the control socket (control.h): one thread that accepts on a
 * Unix socket and writes the status document to each client, one client at
 * a time, with a send timeout. Everything it does that may block (the auth
 * backend probe, reading certificates) happens on this thread, never on an
 * event loop. The document carries counts, dates and origins only: never
 * key bytes, never a full URL (API keys live in query strings).
 */
#define _GNU_SOURCE
#include "kms/control.h"

#include "collateral/collateral_source.h"
#include "crypto/cert.h"
#include "kms/bootstrap.h"
#include "kms/kms.h"
#include "util/date.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/ratelog.h"
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SEND_TIMEOUT_S 2
#define PROBE_CACHE_MS 5000 /* a burst of status calls probes the backend once */
#define MAX_COLLATERAL_KEYS 64

struct kms_control {
	struct kms *k;
	int fd;
	int stop_pipe[2];
	pthread_t th;
	int started;
	char path[CONFIG_UNIX_PATH_MAX + 1];
	/* the auth probe's last result (this thread only) */
	long long probe_at_ms; /* monotonic; 0 = never */
	int probe_ok;
	double probe_latency_ms;
	char probe_at[32];
	char probe_err[ERR_MAX];
	struct ratelog accept_log;
};

static long long mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static json_t *json_time(int64_t t)
{
	char s[32];
	if (date_format_rfc3339(t, s) < 0)
		return json_null();
	return json_string(s);
}

static const char *phase_name(int phase)
{
	switch (phase) {
	case KMS_PHASE_ONBOARDING:
		return "onboarding";
	case KMS_PHASE_SERVING:
		return "serving";
	default:
		return "starting";
	}
}

static void probe_auth(struct kms_control *c)
{
	long long now = mono_ms();
	if (c->probe_at_ms && now - c->probe_at_ms < PROBE_CACHE_MS)
		return;
	struct auth_info info;
	struct err e;
	err_clear(&e);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int rc = auth_get_info(c->k->auth, &info, &e);
	clock_gettime(CLOCK_MONOTONIC, &b);
	c->probe_latency_ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
	c->probe_ok = rc == 0;
	snprintf(c->probe_err, sizeof c->probe_err, "%s", rc == 0 ? "" : e.msg);
	date_format_rfc3339((int64_t)time(NULL), c->probe_at);
	c->probe_at_ms = mono_ms();
}

static json_t *auth_json(struct kms_control *c)
{
	const struct kms_config *cfg = &c->k->cfg;
	json_t *o = json_object();
	const char *type = cfg->auth_type == AUTH_KIND_DEV	? "dev"
			   : cfg->auth_type == AUTH_KIND_STATIC ? "static"
								: "webhook";
	json_object_set_new(o, "type", json_string(type));
	if (cfg->auth_type == AUTH_KIND_WEBHOOK) {
		char origin[256];
		log_url_origin(cfg->webhook_url, origin, sizeof origin);
		json_object_set_new(o, "endpoint", json_string(origin));
	} else if (cfg->auth_type == AUTH_KIND_STATIC) {
		json_object_set_new(o, "endpoint", json_string(cfg->static_file));
	}
	probe_auth(c);
	json_object_set_new(o, "reachable", json_boolean(c->probe_ok));
	json_object_set_new(o, "latency_ms", json_real(c->probe_latency_ms));
	json_object_set_new(o, "checked_at", json_string(c->probe_at));
	if (!c->probe_ok)
		json_object_set_new(o, "error", json_string(c->probe_err));
	return o;
}

static json_t *collateral_json(struct kms_control *c, int64_t now)
{
	json_t *o = json_object();
	json_object_set_new(o, "cache_dir", json_string(c->k->cfg.collateral_cache_dir));
	json_t *arr = json_array();
	struct collateral_source *src = c->k->peer.collateral;
	if (src) {
		struct collateral_source_key keys[MAX_COLLATERAL_KEYS];
		size_t n = collateral_source_keys(src, keys, MAX_COLLATERAL_KEYS);
		if (n > MAX_COLLATERAL_KEYS)
			n = MAX_COLLATERAL_KEYS;
		for (size_t i = 0; i < n; i++) {
			struct collateral_source_info info;
			if (collateral_source_info(src, &keys[i], now, &info) < 0)
				continue; /* evicted meanwhile */
			char fm[13];
			hex_encode(keys[i].fmspc, 6, fm);
			for (char *q = fm; *q; q++)
				if (*q >= 'a' && *q <= 'f')
					*q = (char)(*q - 'a' + 'A');
			json_t *e = json_object();
			json_object_set_new(e, "fmspc", json_string(fm));
			json_object_set_new(e, "ca",
					    json_string(collateral_source_ca_name(keys[i].ca)));
			json_object_set_new(e, "present", json_boolean(info.present));
			json_object_set_new(e, "usable", json_boolean(info.usable));
			if (info.present) {
				json_object_set_new(e, "fetched_at", json_time(info.fetched_at));
				json_object_set_new(e, "valid_until", json_time(info.valid_until));
				json_object_set_new(e, "expires_in_seconds",
						    json_integer(info.valid_until - now));
				json_object_set_new(e, "origin", json_string(info.origin));
			}
			if (info.next_refresh)
				json_object_set_new(e, "next_refresh",
						    json_time(info.next_refresh));
			json_object_set_new(e, "failures", json_integer(info.failures));
			if (info.last_error[0])
				json_object_set_new(e, "last_error", json_string(info.last_error));
			json_array_append_new(arr, e);
		}
	}
	json_object_set_new(o, "entries", arr);
	return o;
}

static int load_cert(const char *dir, const char *name, X509 **out)
{
	char path[4096];
	struct buf b = BUF_INIT;
	struct err e;
	err_clear(&e);
	*out = NULL;
	if (fs_join(path, sizeof path, dir, name) < 0 || !fs_exists(path))
		return -1;
	if (fs_read_file(path, 1u << 20, &b, &e) == 0)
		*out = cert_from_pem((const char *)b.p, b.len, &e);
	buf_free(&b);
	return *out ? 0 : -1;
}

/* The key set's certificates: name, validity, days left. Unreadable ones
 * are listed with an error (an operator must hear of them). */
static json_t *certificates_json(struct kms_control *c, int64_t now)
{
	static const char *const NAMES[] = {"root-ca.crt", "rpc.crt", "tmp-ca.crt"};
	json_t *arr = json_array();
	for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
		char path[4096];
		if (fs_join(path, sizeof path, c->k->cfg.cert_dir, NAMES[i]) < 0 ||
		    !fs_exists(path))
			continue;
		json_t *e = json_object();
		json_object_set_new(e, "name", json_string(NAMES[i]));
		X509 *x;
		int64_t nb, na;
		if (load_cert(c->k->cfg.cert_dir, NAMES[i], &x) < 0 ||
		    cert_asn1_time_unix(X509_get0_notBefore(x), &nb) < 0 ||
		    cert_asn1_time_unix(X509_get0_notAfter(x), &na) < 0) {
			json_object_set_new(e, "error", json_string("unreadable certificate"));
		} else {
			json_object_set_new(e, "not_before", json_time(nb));
			json_object_set_new(e, "not_after", json_time(na));
			json_object_set_new(e, "expires_in_days", json_integer((na - now) / 86400));
		}
		X509_free(x);
		json_array_append_new(arr, e);
	}
	return arr;
}

static json_t *requests_json(struct metrics *m)
{
	json_t *o = json_object();
	for (int i = 0; i < m->nmethods; i++) {
		unsigned long long ok = atomic_load(&m->ok[i]), bad = atomic_load(&m->failed[i]);
		if (!ok && !bad)
			continue;
		json_t *r = json_object();
		json_object_set_new(r, "ok", json_integer((json_int_t)ok));
		json_object_set_new(r, "error", json_integer((json_int_t)bad));
		json_object_set_new(o, m->methods[i], r);
	}
	return o;
}

static json_t *releases_json(struct metrics *m)
{
	static const char *const names[3] = METRICS_RELEASE_NAMES;
	json_t *o = json_object();
	for (int d = 0; d < 3; d++)
		json_object_set_new(o, names[d],
				    json_integer((json_int_t)atomic_load(&m->releases[d])));
	return o;
}

static json_t *listen_json(const char *addr, int port)
{
	char s[CFG_STR + 16];
	snprintf(s, sizeof s, "%s:%d", addr, port);
	return json_string(s);
}

int control_status_json(struct kms_control *c, struct buf *out, struct err *err)
{
	struct kms *k = c->k;
	const struct kms_config *cfg = &k->cfg;
	int64_t now = (int64_t)time(NULL);
	int phase = atomic_load(&k->phase);
	json_t *o = json_object();
	json_object_set_new(o, "format", json_string(CONTROL_FORMAT));
	json_object_set_new(o, "version", json_string("v" KMS_VERSION " (git:" KMS_GIT_REV ")"));
	json_object_set_new(o, "pid", json_integer(getpid()));
	json_object_set_new(o, "phase", json_string(phase_name(phase)));
	json_object_set_new(o, "now", json_time(now));
	json_object_set_new(o, "started_at", json_time(k->started_at));
	json_object_set_new(o, "uptime_seconds", json_integer(now - k->started_at));
	json_object_set_new(o, "cert_dir", json_string(cfg->cert_dir));
	json_object_set_new(o, "key_set_complete",
			    json_boolean(bootstrap_keyset_complete(cfg->cert_dir)));
	/* the root CA is made at bootstrap and travels with the key set */
	X509 *root;
	int64_t nb;
	if (load_cert(cfg->cert_dir, "root-ca.crt", &root) == 0 &&
	    cert_asn1_time_unix(X509_get0_notBefore(root), &nb) == 0)
		json_object_set_new(o, "bootstrapped_at", json_time(nb));
	else
		json_object_set_new(o, "bootstrapped_at", json_null());
	X509_free(root);

	json_t *l = json_object();
	struct http_server *srv = atomic_load(&k->rpc_srv);
	if (srv)
		json_object_set_new(l, "rpc", listen_json(cfg->rpc_address, http_server_port(srv)));
	if (phase == KMS_PHASE_ONBOARDING)
		json_object_set_new(l, "onboard",
				    listen_json(cfg->onboard_address, k->onboard_port));
	if (cfg->admin_enabled)
		json_object_set_new(l, "admin", listen_json(cfg->admin_address, cfg->admin_port));
	json_object_set_new(o, "listeners", l);

	json_object_set_new(o, "requests", requests_json(&k->metrics));
	json_object_set_new(o, "releases", releases_json(&k->metrics));
	if (srv) {
		struct http_server_stats st;
		http_server_stats(srv, &st);
		json_t *cn = json_object();
		json_object_set_new(cn, "open", json_integer((json_int_t)st.open));
		json_object_set_new(cn, "refused_max_connections",
				    json_integer((json_int_t)st.refused_global));
		json_object_set_new(cn, "refused_max_connections_per_client",
				    json_integer((json_int_t)st.refused_per_client));
		json_object_set_new(cn, "header_timeouts",
				    json_integer((json_int_t)st.header_timeouts));
		json_object_set_new(cn, "read_timeouts",
				    json_integer((json_int_t)st.read_timeouts));
		json_object_set_new(cn, "max_buffered_bytes_cuts",
				    json_integer((json_int_t)st.buffered_cuts));
		json_object_set_new(cn, "buffered_bytes", json_integer((json_int_t)st.buffered));
		json_object_set_new(o, "connections", cn);
	}
	json_object_set_new(o, "release_log", json_string(cfg->audit_file));
	json_object_set_new(o, "auth", auth_json(c));
	json_object_set_new(o, "collateral", collateral_json(c, now));
	json_object_set_new(o, "certificates", certificates_json(c, now));

	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s)
		return err_set(err, "cannot serialize the status document (out of memory)");
	int rc = buf_append_str(out, s) < 0 || buf_append_str(out, "\n") < 0
		     ? err_set(err, "cannot serialize the status document (out of memory)")
		     : 0;
	free(s);
	return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void serve_one(struct kms_control *c, int fd)
{
	struct timeval tv = {SEND_TIMEOUT_S, 0};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	struct ucred cred;
	socklen_t cl = sizeof cred;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0)
		log_debug("control socket: status for pid=%d uid=%d", (int)cred.pid, (int)cred.uid);
	struct buf doc = BUF_INIT;
	struct err e;
	err_clear(&e);
	if (control_status_json(c, &doc, &e) < 0) {
		log_warn("control socket: %s", e.msg);
		buf_reset(&doc);
		buf_printf(&doc, "{\"format\":\"%s\",\"error\":\"status unavailable\"}\n",
			   CONTROL_FORMAT);
	}
	if (write_all(fd, doc.p, doc.len) < 0)
		log_debug("control socket: client went away: %s", strerror(errno));
	buf_free(&doc);
}

static void *control_thread(void *arg)
{
	struct kms_control *c = arg;
	struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN},
			      {.fd = c->stop_pipe[0], .events = POLLIN}};
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("control socket: poll failed: %s; the socket stops answering",
				strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			unsigned long sup = 0;
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED &&
			    ratelog_allow(&c->accept_log, 10000, &sup))
				log_warn("control socket: accept failed: %s (%lu more suppressed)",
					 strerror(errno), sup);
			if (errno == EMFILE || errno == ENFILE) {
				struct timespec pause = {0, 100 * 1000 * 1000};
				nanosleep(&pause, NULL);
			}
			continue;
		}
		serve_one(c, fd);
		close(fd);
	}
	return NULL;
}

/* 1: a live process answers on path; 0: nothing there (or a stale socket
 * file, removed); -1: something else is there (err says what). */
static int path_taken(const char *path, struct err *err)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_set(err, "control socket %s: %s", path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return err_set(
		    err, "control socket %s exists and is not a socket; refusing to replace it",
		    path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(err, "control socket: socket: %s", strerror(errno));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	int e = errno;
	close(fd);
	if (r == 0)
		return 1;
	if (e != ECONNREFUSED)
		return err_set(err, "control socket %s: %s", path, strerror(e));
	if (unlink(path) < 0 && errno != ENOENT)
		return err_set(err, "control socket %s is stale and cannot be removed: %s", path,
			       strerror(errno));
	return 0;
}

int control_start(struct kms *k, struct kms_control **out, struct err *err)
{
	*out = NULL;
	const char *path = k->cfg.control_socket;
	if (!path[0]) {
		log_info("control socket: off ([core] control_socket = \"\")");
		return 0;
	}
	char dir[CFG_STR];
	snprintf(dir, sizeof dir, "%s", path);
	char *d = dirname(dir);
	struct stat st;
	if (stat(d, &st) < 0 || !S_ISDIR(st.st_mode)) {
		if (strcmp(path, CONFIG_DEFAULT_CONTROL_SOCKET) == 0) {
			log_warn("control socket: off: directory %s does not exist (the unit's "
				 "RuntimeDirectory=kms creates it; set [core] control_socket to "
				 "another path, or to \"\" to silence this)",
				 d);
			return 0;
		}
		return err_set(err, "[core] control_socket %s: directory %s does not exist", path,
			       d);
	}
	int taken = path_taken(path, err);
	if (taken < 0)
		return -1;
	if (taken)
		return err_set(err,
			       "[core] control_socket %s is in use by another running process "
			       "(another dstack-kms?); stop it or choose another path",
			       path);
	struct kms_control *c = calloc(1, sizeof *c);
	if (!c)
		return err_set(err, "out of memory");
	c->k = k;
	pthread_mutex_init(&c->accept_log.mu, NULL);
	c->stop_pipe[0] = c->stop_pipe[1] = -1;
	snprintf(c->path, sizeof c->path, "%s", path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		err_set(err, "control socket: socket: %s", strerror(errno));
		goto fail;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* bound with the process umask (0755 for a socket at most: only the owner
	 * can connect), then opened to the group */
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		err_set(err, "[core] control_socket %s: bind: %s", path, strerror(errno));
		goto fail;
	}
	if (chmod(path, 0660) < 0 || listen(c->fd, 16) < 0) {
		err_set(err, "[core] control_socket %s: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	if (pipe2(c->stop_pipe, O_CLOEXEC) < 0) {
		err_set(err, "control socket: pipe: %s", strerror(errno));
		unlink(path);
		goto fail;
	}
	if (pthread_create(&c->th, NULL, control_thread, c) != 0) {
		err_set(err, "control socket: cannot start its thread");
		unlink(path);
		goto fail;
	}
	c->started = 1;
	log_info("control socket: %s (mode 0660)", path);
	*out = c;
	return 0;
fail:
	if (c->fd >= 0)
		close(c->fd);
	if (c->stop_pipe[0] >= 0)
		close(c->stop_pipe[0]);
	if (c->stop_pipe[1] >= 0)
		close(c->stop_pipe[1]);
	free(c);
	return -1;
}

void control_stop(struct kms_control *c)
{
	if (!c)
		return;
	if (c->started) {
		ssize_t w;
		do
			w = write(c->stop_pipe[1], "x", 1);
		while (w < 0 && errno == EINTR);
		pthread_join(c->th, NULL);
	}
	close(c->fd);
	close(c->stop_pipe[0]);
	close(c->stop_pipe[1]);
	unlink(c->path);
	free(c);
}
