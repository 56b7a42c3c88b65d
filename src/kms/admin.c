/*
 * admin.c — the admin listener (admin.h).
 *
 * Credentials: the shared token is `[core.admin] auth_token` (trimmed), else
 * DSTACK_KMS_ADMIN_TOKEN, else ADMIN_API_TOKEN; only its SHA-256 is kept and
 * compared in constant time. The htpasswd file holds bcrypt lines
 * (`user:$2a$|$2b$|$2y$…`, `htpasswd -B`), checked with libcrypt's crypt_r.
 * Each check runs on the admin listener's own event loop (bcrypt costs a few
 * ms at htpasswd's default cost); the RPC listener's loops never see it.
 * spec: kms-protocol §15 (order of the checks, 401 form, ClearImageCache).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "kms/admin.h"

#include "kms/kms.h"
#include "kms_rpc.pb-c.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/secret.h"

#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define HTPASSWD_MAX (1u << 20)
#define HTPASSWD_USERS_MAX 256
#define CRED_MAX 512

struct htuser {
	char *name;
	char *hash;
};

struct admin {
	struct kms *k;
	struct http_server *srv;
	struct prpc_service svc;
	int has_token;
	uint8_t token_sha[32];
	struct htuser *users;
	size_t n_users;
	int no_auth;
};

static void sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned len = 0;
	EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

/* trimmed copy of s into out (secret: the caller wipes it) */
static size_t trim_copy(const char *s, char *out, size_t cap)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, s, n);
	out[n] = 0;
	return n;
}

static int token_matches(const struct admin *a, const char *t, size_t n)
{
	if (!a->has_token)
		return 0;
	uint8_t h[32];
	sha256(t, n, h);
	int ok = CRYPTO_memcmp(h, a->token_sha, 32) == 0;
	secret_wipe(h, sizeof h);
	return ok;
}

static int load_htpasswd(struct admin *a, const char *path, struct err *err)
{
	struct buf t = BUF_INIT;
	TRY(fs_read_file(path, HTPASSWD_MAX, &t, err));
	int rc = -1, line = 0;
	char *save = NULL;
	a->users = calloc(HTPASSWD_USERS_MAX, sizeof *a->users);
	if (!a->users) {
		err_set(err, "out of memory");
		goto out;
	}
	for (char *l = strtok_r((char *)buf_str(&t), "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		line++;
		size_t n = strlen(l);
		while (n && (l[n - 1] == '\r' || l[n - 1] == ' ' || l[n - 1] == '\t'))
			l[--n] = 0;
		while (*l == ' ' || *l == '\t')
			l++;
		if (!*l || *l == '#')
			continue;
		char *colon = strchr(l, ':');
		if (!colon || colon == l) {
			err_set(err, "%s:%d: expected user:bcrypt-hash", path, line);
			goto out;
		}
		*colon = 0;
		const char *h = colon + 1;
		if (strncmp(h, "$2a$", 4) != 0 && strncmp(h, "$2b$", 4) != 0 &&
		    strncmp(h, "$2y$", 4) != 0) {
			err_set(err,
				"%s:%d: user %s: only bcrypt hashes ($2a$, $2b$, $2y$; "
				"htpasswd -B) are accepted",
				path, line, l);
			goto out;
		}
		if (a->n_users == HTPASSWD_USERS_MAX) {
			err_set(err, "%s: more than %d users", path, HTPASSWD_USERS_MAX);
			goto out;
		}
		struct htuser *u = &a->users[a->n_users];
		u->name = strdup(l);
		u->hash = strdup(h);
		if (!u->name || !u->hash) {
			err_set(err, "out of memory");
			goto out;
		}
		a->n_users++;
	}
	if (a->n_users == 0) {
		err_set(err, "%s holds no user", path);
		goto out;
	}
	rc = 0;
out:
	buf_free(&t);
	return rc;
}

static int bcrypt_ok(const struct admin *a, const char *user, const char *pass)
{
	for (size_t i = 0; i < a->n_users; i++) {
		if (strcmp(a->users[i].name, user) != 0)
			continue;
		struct crypt_data *cd = calloc(1, sizeof *cd);
		if (!cd)
			return 0;
		const char *out = crypt_r(pass, a->users[i].hash, cd);
		size_t n = strlen(a->users[i].hash);
		int ok = out && out[0] != '*' && strlen(out) == n &&
			 CRYPTO_memcmp(out, a->users[i].hash, n) == 0;
		secret_wipe(cd, sizeof *cd);
		free(cd);
		return ok;
	}
	return 0;
}

/* §15 steps 1-3; 1 = allowed */
static int authorized(const struct admin *a, const struct http_req *req)
{
	if (a->no_auth)
		return 1;
	char cred[CRED_MAX];
	const char *x = http_req_header(req, "X-Admin-Token");
	if (x) {
		size_t n = trim_copy(x, cred, sizeof cred);
		int ok = token_matches(a, cred, n);
		secret_wipe(cred, sizeof cred);
		if (ok)
			return 1;
	}
	const char *h = http_req_header(req, "Authorization");
	if (!h)
		return 0;
	if (strncasecmp(h, "Bearer ", 7) == 0) {
		size_t n = trim_copy(h + 7, cred, sizeof cred);
		int ok = token_matches(a, cred, n); /* a wrong Bearer is final */
		secret_wipe(cred, sizeof cred);
		return ok;
	}
	if (strncasecmp(h, "Basic ", 6) != 0)
		return 0;
	const char *b = h + 6;
	while (*b == ' ')
		b++;
	size_t blen = strlen(b), dl = 0;
	while (blen && isspace((unsigned char)b[blen - 1]))
		blen--;
	if (base64_max_decoded(blen) >= sizeof cred ||
	    base64_decode(b, blen, (uint8_t *)cred, sizeof cred - 1, &dl, 0) < 0)
		return 0;
	cred[dl] = 0;
	int ok = 0;
	char *colon = memchr(cred, ':', dl);
	if (colon && strlen(cred) == dl) {
		*colon = 0;
		const char *user = cred, *pass = colon + 1;
		ok = bcrypt_ok(a, user, pass) || (*pass && token_matches(a, pass, strlen(pass))) ||
		     (!*pass && token_matches(a, user, strlen(user)));
	}
	secret_wipe(cred, sizeof cred);
	return ok;
}

/* ---- ClearImageCache ---- */

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return (flag == FTW_DP ? rmdir(p) : unlink(p)) == 0 || errno == ENOENT ? 0 : -1;
}

static int remove_path(const char *p, struct err *err)
{
	struct stat st;
	if (lstat(p, &st) != 0)
		return errno == ENOENT ? 0 : err_set(err, "%s: %s", p, strerror(errno));
	int rc = S_ISDIR(st.st_mode) ? nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS) : unlink(p);
	return rc == 0 ? 0 : err_set(err, "cannot remove %s: %s", p, strerror(errno));
}

static int clear_one(const struct admin *a, const char *sub, const char *v, struct err *err)
{
	if (!v || !*v)
		return 0;
	char dir[4096], p[4096];
	if (fs_join(dir, sizeof dir, a->k->cfg.image_cache_dir, sub) != 0)
		return err_set(err, "cache path too long");
	if (strcmp(v, "all") == 0) {
		TRY(remove_path(dir, err));
		log_info("admin: ClearImageCache removed %s", dir);
		return 0;
	}
	for (const char *c = v; *c; c++)
		if (!isxdigit((unsigned char)*c))
			return err_set(err, "invalid cache key");
	if (fs_join(p, sizeof p, dir, v) != 0)
		return err_set(err, "invalid cache key");
	TRY(remove_path(p, err));
	log_info("admin: ClearImageCache removed %s", p);
	return 0;
}

static int clear_image_cache(void *svc, struct prpc_call *call, const ProtobufCMessage *req,
			     ProtobufCMessage **resp, struct err *err)
{
	(void)call;
	(void)resp;
	struct admin *a = svc;
	const Kms__ClearImageCacheRequest *in = (const Kms__ClearImageCacheRequest *)req;
	/* both keys are checked before anything is removed */
	for (int i = 0; i < 2; i++) {
		const char *v = i ? in->config_hash : in->image_hash;
		if (v && *v && strcmp(v, "all") != 0)
			for (const char *c = v; *c; c++)
				if (!isxdigit((unsigned char)*c))
					return err_set(err, "invalid cache key");
	}
	TRY(clear_one(a, "images", in->image_hash, err));
	return clear_one(a, "measurements", in->config_hash, err);
}

static const struct prpc_method ADMIN_METHODS[] = {
    {"ClearImageCache", &kms__clear_image_cache_request__descriptor, NULL, clear_image_cache},
};

static uint64_t admin_body_limit(void *svc, const char *method)
{
	(void)svc;
	(void)method;
	return 64 * 1024;
}

static void handler(void *ud, const struct http_req *req, struct http_resp *resp)
{
	struct admin *a = ud;
	http_resp_header(resp, "X-App-Version", a->k->version);
	if (!authorized(a, req)) {
		resp->status = 401;
		resp->content_type = "text/plain; charset=utf-8";
		http_resp_header(resp, "WWW-Authenticate", "Basic realm=\"dstack-kms admin\"");
		return;
	}
	if (strncmp(req->path, "/prpc/", 6) == 0) {
		prpc_handle(&a->svc, req, resp);
		return;
	}
	resp->status = 404;
	resp->content_type = "text/plain; charset=utf-8";
	buf_printf(&resp->body, "404 Not Found: %s %s\n", req->method, req->path);
}

static void admin_free(struct admin *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_users; i++) {
		free(a->users[i].name);
		if (a->users[i].hash)
			secret_wipe(a->users[i].hash, strlen(a->users[i].hash));
		free(a->users[i].hash);
	}
	free(a->users);
	secret_wipe(a->token_sha, sizeof a->token_sha);
	free(a);
}

struct admin *admin_start(struct kms *k, struct err *err)
{
	const struct kms_config *c = &k->cfg;
	struct admin *a = calloc(1, sizeof *a);
	if (!a) {
		err_set(err, "out of memory");
		return NULL;
	}
	a->k = k;
	const char *src = c->admin_auth_token;
	char t[CRED_MAX];
	size_t n = trim_copy(src, t, sizeof t);
	if (!n && (src = getenv("DSTACK_KMS_ADMIN_TOKEN")))
		n = trim_copy(src, t, sizeof t);
	if (!n && (src = getenv("ADMIN_API_TOKEN")))
		n = trim_copy(src, t, sizeof t);
	if (n) {
		a->has_token = 1;
		sha256(t, n, a->token_sha);
	}
	secret_wipe(t, sizeof t);
	if (c->admin_htpasswd_file[0] && load_htpasswd(a, c->admin_htpasswd_file, err) < 0)
		goto fail;
	if (!a->has_token && !a->n_users) {
		if (!c->admin_insecure_no_auth) {
			err_set(
			    err,
			    "[core.admin] enabled = true but no credential: set auth_token "
			    "(or DSTACK_KMS_ADMIN_TOKEN / ADMIN_API_TOKEN) or htpasswd_file, or "
			    "insecure_no_auth = true for development");
			goto fail;
		}
		a->no_auth = 1;
		log_warn("[core.admin] insecure_no_auth = true: the admin listener accepts "
			 "every request unauthenticated");
	}
	a->svc = (struct prpc_service){
	    .prefix = "Admin.",
	    .methods = ADMIN_METHODS,
	    .nmethods = 1,
	    .svc = a,
	    .body_limit = admin_body_limit,
	};
	struct http_server_opts so = {
	    .address = c->admin_address,
	    .port = c->admin_port,
	    .workers = 1,
	    .timeout_s = 30,
	    .max_headers = 64 * 1024,
	    .max_body = 1u << 20,
	    .handler = handler,
	    .ud = a,
	    .server_name = "admin",
	    .limits = kms_listener_limits(c),
	    .strict_path = 1,
	};
	if (!(a->srv = http_server_start(&so, err))) {
		err_wrap(err, "[core.admin]");
		goto fail;
	}
	log_info("Admin listener on http://%s:%d (%s)", c->admin_address, http_server_port(a->srv),
		 a->no_auth		      ? "NO AUTHENTICATION"
		 : a->n_users && a->has_token ? "token or htpasswd"
		 : a->n_users		      ? "htpasswd"
					      : "token");
	return a;
fail:
	admin_free(a);
	return NULL;
}

int admin_port(const struct admin *a)
{
	return http_server_port(a->srv);
}

void admin_stop(struct admin *a)
{
	if (!a)
		return;
	http_server_stop(a->srv);
	admin_free(a);
}
