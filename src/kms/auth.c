/*
 * auth.c — auth API backends (auth.h): dev, webhook, static (auth-simple).
 *
 * Webhook: every call is a fresh POST/GET (no decision cache), bounded by the
 * configured timeouts, over keep-alive connections from a mutex-protected
 * pool of http_client objects (one in use per thread at a time).
 * Static: auth-simple's decision order and reason strings, re-reading the
 * file whenever its identity/size/mtime changes; a broken update keeps the
 * last good policy. Messages and logs name only scheme://host:port of the
 * webhook URL (paths and queries may carry API keys).
 * spec: kms-protocol §4, §4.4, §11, §11.1.
 */
#include "kms/auth.h"
#include "kms/auth_internal.h"

#include "net/http_client.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/log.h"
#include "version.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define AUTH_USER_AGENT AUTH_USER_AGENT_PREFIX KMS_VERSION
#define AUTH_URL_MAX 2048
#define AUTH_MAX_RESPONSE (64 * 1024)
#define AUTH_SHORT_BODY 512 /* spec: kms-protocol §11 — "first 512 bytes of body" */
#define AUTH_POOL_MAX 8
#define AUTH_POLICY_FILE_MAX (4 * 1024 * 1024)
#define ZERO_ADDRESS "0x0000000000000000000000000000000000000000"

/* ---- static policy (auth-simple config, spec §11.1) ---- */

struct strlist {
	char **v;
	size_t n;
};

struct device_rule {
	struct strlist devices; /* normalized */
	int allow_any_device;
};

struct app_rule {
	char *app_id; /* normalized key */
	struct strlist compose_hashes;
	struct device_rule dev;
};

struct auth_policy {
	char *gateway_app_id;
	char *kms_contract_addr;
	char *app_implementation;
	uint64_t chain_id;
	struct strlist os_images;    /* normalized */
	struct strlist tcb_statuses; /* exact strings */
	struct strlist advisory_ids; /* exact strings */
	struct strlist kms_mrs;	     /* normalized */
	struct device_rule kms_dev;
	struct app_rule *apps;
	size_t n_apps;
};

struct file_sig {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim;
	struct timespec ctim;
};

struct auth {
	enum auth_type type;
	/* webhook */
	char *url;
	char *app_url;
	char *kms_url;
	char origin[256];
	long timeout_ms;
	long connect_timeout_ms;
	pthread_mutex_t pool_lock;
	struct http_client *idle[AUTH_POOL_MAX];
	size_t n_idle;
	/* dev */
	char *dev_gateway_app_id;
	/* static */
	char *static_path;
	pthread_mutex_t policy_lock;
	struct auth_policy *policy;
	struct file_sig loaded;
	struct file_sig failed; /* last version that failed to load (logged once) */
	int have_failed;
	int stat_failing; /* the file is currently missing (logged once) */
};

static void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void auth_policy_free(struct auth_policy *p)
{
	if (!p)
		return;
	free(p->gateway_app_id);
	free(p->kms_contract_addr);
	free(p->app_implementation);
	strlist_free(&p->os_images);
	strlist_free(&p->tcb_statuses);
	strlist_free(&p->advisory_ids);
	strlist_free(&p->kms_mrs);
	strlist_free(&p->kms_dev.devices);
	for (size_t i = 0; i < p->n_apps; i++) {
		free(p->apps[i].app_id);
		strlist_free(&p->apps[i].compose_hashes);
		strlist_free(&p->apps[i].dev.devices);
	}
	free(p->apps);
	free(p);
}

/* auth-simple's normalizeHex: lowercase, then prefix "0x" unless present. */
static char *normalize_hex(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n + 3);
	if (!out)
		return NULL;
	size_t k = 0;
	int prefixed = n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	if (!prefixed) {
		out[k++] = '0';
		out[k++] = 'x';
	}
	for (size_t i = 0; i < n; i++)
		out[k++] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
	out[k] = '\0';
	return out;
}

/* "0x" + lowercase hex of bytes, as normalizeHex would turn the KMS's value. */
static int bytes_norm(const uint8_t *p, size_t n, struct buf *out)
{
	buf_reset(out);
	if (buf_append_str(out, "0x") < 0 || hex_append(out, p, n) < 0)
		return -1;
	return 0;
}

static int strlist_has(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

/* Optional array of strings; `normalize` applies normalizeHex to each item. */
static int parse_strlist(json_t *obj, const char *key, const char *ctx, int normalize,
			 const char *const *defaults, size_t n_defaults, struct strlist *out,
			 struct err *err)
{
	json_t *arr = json_object_get(obj, key);
	size_t n = arr ? json_array_size(arr) : n_defaults;
	if (arr && !json_is_array(arr))
		return err_set(err, "%s%s must be an array of strings", ctx, key);
	out->v = calloc(n ? n : 1, sizeof *out->v);
	if (!out->v)
		return err_set(err, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *s;
		if (arr) {
			json_t *item = json_array_get(arr, i);
			if (!json_is_string(item))
				return err_set(err, "%s%s[%zu] must be a string", ctx, key, i);
			s = json_string_value(item);
		} else {
			s = defaults[i];
		}
		out->v[i] = normalize ? normalize_hex(s) : strdup(s);
		if (!out->v[i])
			return err_set(err, "out of memory");
		out->n++;
	}
	return 0;
}

static int parse_string(json_t *obj, const char *key, const char *def, size_t max, char **out,
			struct err *err)
{
	json_t *v = json_object_get(obj, key);
	if (v && !json_is_string(v))
		return err_set(err, "%s must be a string", key);
	if (v && strlen(json_string_value(v)) > max)
		return err_set(err, "%s longer than %zu bytes", key, max);
	*out = strdup(v ? json_string_value(v) : def);
	if (!*out)
		return err_set(err, "out of memory");
	return 0;
}

static int parse_device_rule(json_t *obj, const char *ctx, struct device_rule *out, struct err *err)
{
	TRY(parse_strlist(obj, "devices", ctx, 1, NULL, 0, &out->devices, err));
	json_t *any = json_object_get(obj, "allowAnyDevice");
	if (any && !json_is_boolean(any))
		return err_set(err, "%sallowAnyDevice must be a boolean", ctx);
	out->allow_any_device = any ? json_is_true(any) : 0;
	return 0;
}

/* chainId: zod accepts any number; we need a u64 for GetMeta, so only
 * non-negative integers (an integral float up to 2^53 is accepted). */
static int parse_chain_id(json_t *root, uint64_t *out, struct err *err)
{
	json_t *v = json_object_get(root, "chainId");
	*out = 0;
	if (!v)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d >= 0 && d <= 9007199254740992.0 && d == (double)(uint64_t)d) {
			*out = (uint64_t)d;
			return 0;
		}
	}
	return err_set(err, "chainId must be a non-negative integer");
}

int auth_policy_parse(const char *text, size_t len, struct auth_policy **out, struct err *err)
{
	static const char *const default_tcb[] = {"UpToDate"};
	json_error_t jerr;
	json_t *root = json_loadb(text, len, 0, &jerr);
	if (!root)
		return err_set(err, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
			       jerr.text);
	struct auth_policy *p = calloc(1, sizeof *p);
	int rc = -1;
	if (!p) {
		err_set(err, "out of memory");
		goto out;
	}
	if (!json_is_object(root)) {
		err_set(err, "top level must be a JSON object");
		goto out;
	}
	TRY_OUT(
	    parse_string(root, "gatewayAppId", "", AUTH_GATEWAY_ID_MAX, &p->gateway_app_id, err));
	TRY_OUT(parse_string(root, "kmsContractAddr", ZERO_ADDRESS, AUTH_INFO_STR_MAX,
			     &p->kms_contract_addr, err));
	TRY_OUT(parse_string(root, "appImplementation", ZERO_ADDRESS, AUTH_INFO_STR_MAX,
			     &p->app_implementation, err));
	TRY_OUT(parse_chain_id(root, &p->chain_id, err));
	TRY_OUT(parse_strlist(root, "osImages", "", 1, NULL, 0, &p->os_images, err));
	TRY_OUT(parse_strlist(root, "allowedTcbStatuses", "", 0, default_tcb, 1, &p->tcb_statuses,
			      err));
	TRY_OUT(parse_strlist(root, "allowedAdvisoryIds", "", 0, NULL, 0, &p->advisory_ids, err));

	json_t *kms = json_object_get(root, "kms");
	if (kms && !json_is_object(kms)) {
		err_set(err, "kms must be an object");
		goto out;
	}
	json_t *empty = json_object();
	if (!empty) {
		err_set(err, "out of memory");
		goto out;
	}
	int krc =
	    parse_strlist(kms ? kms : empty, "mrAggregated", "kms.", 1, NULL, 0, &p->kms_mrs, err);
	if (krc == 0)
		krc = parse_device_rule(kms ? kms : empty, "kms.", &p->kms_dev, err);
	json_decref(empty);
	TRY_OUT(krc);

	json_t *apps = json_object_get(root, "apps");
	if (apps && !json_is_object(apps)) {
		err_set(err, "apps must be an object");
		goto out;
	}
	size_t napps = apps ? json_object_size(apps) : 0;
	p->apps = calloc(napps ? napps : 1, sizeof *p->apps);
	if (!p->apps) {
		err_set(err, "out of memory");
		goto out;
	}
	const char *key;
	json_t *val;
	/* jansson keeps insertion order, so "first matching entry" follows the file. */
	json_object_foreach(apps, key, val)
	{
		char ctx[128];
		snprintf(ctx, sizeof ctx, "apps[\"%.64s\"].", key);
		if (!json_is_object(val)) {
			err_set(err, "apps[\"%.64s\"] must be an object", key);
			goto out;
		}
		struct app_rule *a = &p->apps[p->n_apps++];
		a->app_id = normalize_hex(key);
		if (!a->app_id) {
			err_set(err, "out of memory");
			goto out;
		}
		TRY_OUT(
		    parse_strlist(val, "composeHashes", ctx, 1, NULL, 0, &a->compose_hashes, err));
		TRY_OUT(parse_device_rule(val, ctx, &a->dev, err));
	}
	*out = p;
	p = NULL;
	rc = 0;
out:
	auth_policy_free(p);
	json_decref(root);
	return rc;
}

static int policy_load(const char *path, struct auth_policy **out, struct err *err)
{
	struct buf text = BUF_INIT;
	int rc = fs_read_file(path, AUTH_POLICY_FILE_MAX, &text, err);
	if (rc == 0)
		rc = auth_policy_parse((const char *)text.p, text.len, out, err);
	buf_free(&text);
	if (rc < 0)
		return err_wrap(err, "static auth policy %s", path);
	return 0;
}

static void sig_of(const struct stat *st, struct file_sig *s)
{
	memset(s, 0, sizeof *s);
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	s->size = st->st_size;
	s->mtim = st->st_mtim;
	s->ctim = st->st_ctim;
}

static int sig_eq(const struct file_sig *a, const struct file_sig *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec &&
	       a->ctim.tv_sec == b->ctim.tv_sec && a->ctim.tv_nsec == b->ctim.tv_nsec;
}

/* Under policy_lock: reload the file if it changed since the last attempt.
 * auth-simple re-reads on every request; re-reading on change gives the
 * same answers without parsing per request. A bad update keeps the last
 * good policy (logged once per bad version). */
static void policy_refresh(struct auth *a)
{
	struct stat st;
	if (stat(a->static_path, &st) < 0) {
		if (!a->stat_failing)
			log_err("auth static policy unreadable, keeping the last good policy "
				"path=%s error=\"%s\"",
				a->static_path, strerror(errno));
		a->stat_failing = 1;
		return;
	}
	a->stat_failing = 0;
	struct file_sig sig;
	sig_of(&st, &sig);
	if (sig_eq(&sig, &a->loaded) || (a->have_failed && sig_eq(&sig, &a->failed)))
		return;
	struct auth_policy *p = NULL;
	struct err e;
	if (policy_load(a->static_path, &p, &e) < 0) {
		log_err(
		    "auth static policy reload failed, keeping the last good policy error=\"%s\"",
		    e.msg);
		a->failed = sig;
		a->have_failed = 1;
		return;
	}
	auth_policy_free(a->policy);
	a->policy = p;
	a->loaded = sig;
	a->have_failed = 0;
	log_info("auth static policy loaded path=%s apps=%zu", a->static_path, p->n_apps);
}

static int device_allowed(const struct device_rule *r, const char *device)
{
	if (r->allow_any_device || r->devices.n == 0)
		return 1;
	return strlist_has(&r->devices, device);
}

static void decide(struct auth_decision *d, int allowed, const char *reason, const char *gw)
{
	d->allowed = allowed;
	snprintf(d->reason, sizeof d->reason, "%s", reason);
	snprintf(d->gateway_app_id, sizeof d->gateway_app_id, "%s", gw);
}

/* spec: kms-protocol §11.1 — auth-simple's exact order and reason strings. */
int auth_policy_decide(const struct auth_policy *p, const struct boot_info *bi, int is_kms,
		       struct auth_decision *d, struct err *err)
{
	struct buf v = BUF_INIT, dev = BUF_INIT;
	const char *gw = p->gateway_app_id;
	int rc = -1;
	if (!strlist_has(&p->tcb_statuses, bi->tcb_status)) {
		decide(d, 0, "TCB status is not allowed", gw);
		goto done;
	}
	for (size_t i = 0; i < bi->n_advisory_ids; i++) {
		if (!strlist_has(&p->advisory_ids, bi->advisory_ids[i])) {
			decide(d, 0, "advisory ID is not allowed", gw);
			goto done;
		}
	}
	if (bytes_norm(bi->os_image_hash.b, bi->os_image_hash.len, &v) < 0 ||
	    bytes_norm(bi->device_id.b, bi->device_id.len, &dev) < 0)
		goto oom;
	if (!strlist_has(&p->os_images, buf_str(&v))) {
		decide(d, 0, "OS image is not allowed", gw);
		goto done;
	}
	if (is_kms) {
		if (bytes_norm(bi->mr_aggregated.b, bi->mr_aggregated.len, &v) < 0)
			goto oom;
		if (!strlist_has(&p->kms_mrs, buf_str(&v)))
			decide(d, 0, "aggregated MR not allowed", gw);
		else if (!device_allowed(&p->kms_dev, buf_str(&dev)))
			decide(d, 0, "KMS is not allowed to boot on this device", gw);
		else
			decide(d, 1, "", gw);
		goto done;
	}
	if (bytes_norm(bi->app_id.b, bi->app_id.len, &v) < 0)
		goto oom;
	const struct app_rule *app = NULL;
	for (size_t i = 0; i < p->n_apps && !app; i++)
		if (strcmp(p->apps[i].app_id, buf_str(&v)) == 0)
			app = &p->apps[i];
	if (!app) {
		decide(d, 0, "app not registered", gw);
		goto done;
	}
	if (bytes_norm(bi->compose_hash.b, bi->compose_hash.len, &v) < 0)
		goto oom;
	if (!strlist_has(&app->compose_hashes, buf_str(&v)))
		decide(d, 0, "compose hash not allowed", gw);
	else if (!device_allowed(&app->dev, buf_str(&dev)))
		decide(d, 0, "app is not allowed to boot on this device", gw);
	else
		decide(d, 1, "", gw);
done:
	rc = 0;
	goto out;
oom:
	err_set(err, "static auth policy: out of memory");
out:
	buf_free(&v);
	buf_free(&dev);
	return rc;
}

/* ---- webhook client pool ---- */

static struct http_client *pool_get(struct auth *a, struct err *err)
{
	struct http_client *c = NULL;
	pthread_mutex_lock(&a->pool_lock);
	if (a->n_idle > 0)
		c = a->idle[--a->n_idle];
	pthread_mutex_unlock(&a->pool_lock);
	if (c)
		return c;
	struct http_client_opts opts = {.user_agent = AUTH_USER_AGENT};
	return http_client_new(&opts, err);
}

static void pool_put(struct auth *a, struct http_client *c)
{
	pthread_mutex_lock(&a->pool_lock);
	if (a->n_idle < AUTH_POOL_MAX) {
		a->idle[a->n_idle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&a->pool_lock);
	http_client_free(c);
}

/* The first 512 bytes of a body for an error message: cut at a UTF-8
 * boundary, control bytes shown as '.' so the message stays one line. */
static void short_body(const uint8_t *body, size_t len, char *out, size_t outlen)
{
	size_t n = len < AUTH_SHORT_BODY ? len : AUTH_SHORT_BODY;
	if (n >= outlen)
		n = outlen - 1;
	if (n < len)
		while (n > 0 && (body[n] & 0xc0) == 0x80)
			n--;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = body[i];
		out[i] = (char)((c < 0x20 || c == 0x7f) ? '.' : c);
	}
	out[n] = '\0';
}

/* One webhook exchange; on success *resp holds the answer (any status). */
static int webhook_call(struct auth *a, const char *url, const struct buf *body,
			struct http_response *resp, struct err *err)
{
	static const struct http_header json_ct[] = {{"Content-Type", "application/json"}};
	struct http_request req = {
	    .method = body ? "POST" : "GET",
	    .url = url,
	    .headers = body ? json_ct : NULL,
	    .n_headers = body ? 1 : 0,
	    .body = body ? body->p : NULL,
	    .body_len = body ? body->len : 0,
	    .connect_timeout_ms = a->connect_timeout_ms,
	    .timeout_ms = a->timeout_ms,
	    .max_response_bytes = AUTH_MAX_RESPONSE,
	};
	struct err e;
	memset(resp, 0, sizeof *resp);
	struct http_client *c = pool_get(a, &e);
	if (!c)
		return err_set(err, "auth api %s: %s", a->origin, e.msg);
	int rc = http_client_do(c, &req, resp, &e);
	pool_put(a, c);
	if (rc < 0) {
		/* e.msg already starts with the origin: "auth api http://h:p unreachable: ..." */
		err_set(err, "auth api %s", e.msg);
		http_response_free(resp);
		return -1;
	}
	return 0;
}

/* A decoded 2xx webhook answer, with what error messages quote of it. */
struct wh_answer {
	json_t *root; /* a JSON object */
	const char *origin;
	char status[64];
	char body[AUTH_SHORT_BODY + 1];
};

/* A webhook answer as received; on success ans->root holds the JSON object. */
static int answer_decode(const char *origin, long status, const uint8_t *body, size_t len,
			 struct wh_answer *ans, struct err *err)
{
	memset(ans, 0, sizeof *ans);
	ans->origin = origin;
	http_status_text(status, ans->status, sizeof ans->status);
	short_body(body, len, ans->body, sizeof ans->body);
	if (status < 200 || status > 299)
		return err_set(err, "auth api %s returned %s: %s", origin, ans->status, ans->body);
	json_error_t jerr;
	/* serde rejects duplicate fields; so do we. */
	ans->root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *why = NULL;
	if (!ans->root)
		why = jerr.text;
	else if (!json_is_object(ans->root))
		why = "expected a JSON object";
	if (why) {
		err_set(err, "failed to decode response from %s, status=%s, body=%s: %s", origin,
			ans->status, ans->body, why);
		json_decref(ans->root);
		ans->root = NULL;
		return -1;
	}
	return 0;
}

static int decode_error(const struct wh_answer *ans, struct err *err, const char *why)
{
	return err_set(err, "failed to decode response from %s, status=%s, body=%s: %s",
		       ans->origin, ans->status, ans->body, why);
}

/* Copies a string that must fit; for reason-like text use copy_cut. */
static int copy_bounded(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(s);
	if (n >= cap)
		return -1;
	memcpy(dst, s, n + 1);
	return 0;
}

static void copy_cut(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(s);
	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

int auth_webhook_decode_decision(const char *origin, long status, const uint8_t *body, size_t len,
				 struct auth_decision *out, struct err *err)
{
	struct wh_answer ans;
	TRY(answer_decode(origin, status, body, len, &ans, err));
	json_t *root = ans.root;
	json_t *allowed = json_object_get(root, "isAllowed");
	json_t *gw = json_object_get(root, "gatewayAppId");
	json_t *reason = json_object_get(root, "reason");
	int rc = -1;
	if (!allowed)
		decode_error(&ans, err, "missing field `isAllowed`");
	else if (!json_is_boolean(allowed))
		decode_error(&ans, err, "`isAllowed` must be a boolean");
	else if (!gw)
		decode_error(&ans, err, "missing field `gatewayAppId`");
	else if (!json_is_string(gw))
		decode_error(&ans, err, "`gatewayAppId` must be a string");
	else if (!reason)
		decode_error(&ans, err, "missing field `reason`");
	else if (!json_is_string(reason))
		decode_error(&ans, err, "`reason` must be a string");
	else if (copy_bounded(out->gateway_app_id, sizeof out->gateway_app_id,
			      json_string_value(gw)) < 0)
		decode_error(&ans, err, "`gatewayAppId` is too long");
	else
		rc = 0;
	if (rc == 0) {
		out->allowed = json_is_true(allowed);
		copy_cut(out->reason, sizeof out->reason, json_string_value(reason));
	}
	json_decref(root);
	return rc;
}

static int webhook_check(struct auth *a, const struct boot_info *bi, int is_kms,
			 struct auth_decision *out, struct err *err)
{
	struct buf body = BUF_INIT;
	struct http_response resp;
	TRY(boot_info_to_json(bi, &body, err));
	int rc = webhook_call(a, is_kms ? a->kms_url : a->app_url, &body, &resp, err);
	buf_free(&body);
	TRY(rc);
	rc = auth_webhook_decode_decision(a->origin, resp.status, resp.body.p, resp.body.len, out,
					  err);
	http_response_free(&resp);
	if (rc == 0)
		log_debug("auth webhook decision url=%s route=%s allowed=%d", a->origin,
			  is_kms ? "kms" : "app", out->allowed);
	return rc;
}

static int info_string(const struct wh_answer *ans, const char *key, int required, char *dst,
		       size_t cap, int *present, struct err *err)
{
	json_t *v = json_object_get(ans->root, key);
	if (present)
		*present = 0;
	if (!v) {
		if (!required)
			return 0;
		char why[96];
		snprintf(why, sizeof why, "missing field `%s`", key);
		return decode_error(ans, err, why);
	}
	char why[96];
	if (!json_is_string(v)) {
		snprintf(why, sizeof why, "`%s` must be a string", key);
		return decode_error(ans, err, why);
	}
	if (dst && copy_bounded(dst, cap, json_string_value(v)) < 0) {
		snprintf(why, sizeof why, "`%s` is too long", key);
		return decode_error(ans, err, why);
	}
	if (present)
		*present = 1;
	return 0;
}

int auth_webhook_decode_info(const char *origin, long status, const uint8_t *body, size_t len,
			     struct auth_info *out, struct err *err)
{
	struct wh_answer ans;
	TRY(answer_decode(origin, status, body, len, &ans, err));
	json_t *root = ans.root;
	int rc = -1, has_url = 0;
	TRY_OUT(info_string(&ans, "status", 1, NULL, 0, NULL, err)); /* required, not checked */
	TRY_OUT(info_string(&ans, "kmsContractAddr", 1, out->kms_contract_addr,
			    sizeof out->kms_contract_addr, NULL, err));
	TRY_OUT(info_string(&ans, "gatewayAppId", 1, out->gateway_app_id,
			    sizeof out->gateway_app_id, NULL, err));
	json_t *chain = json_object_get(root, "chainId");
	if (!chain) {
		decode_error(&ans, err, "missing field `chainId`");
		goto out;
	}
	if (!json_is_integer(chain) || json_integer_value(chain) < 0) {
		decode_error(&ans, err, "`chainId` must be an unsigned integer");
		goto out;
	}
	out->chain_id = (uint64_t)json_integer_value(chain);
	TRY_OUT(info_string(&ans, "appImplementation", 1, out->app_implementation,
			    sizeof out->app_implementation, NULL, err));
	TRY_OUT(info_string(&ans, "ethRpcUrl", 0, out->eth_rpc_url, sizeof out->eth_rpc_url,
			    &has_url, err));
	out->has_contract_info = 1;
	out->has_eth_rpc_url = has_url && out->eth_rpc_url[0] != '\0';
	rc = 0;
out:
	json_decref(root);
	return rc;
}

static int webhook_info(struct auth *a, struct auth_info *out, struct err *err)
{
	struct http_response resp;
	TRY(webhook_call(a, a->url, NULL, &resp, err)); /* spec §11: GET <url> exactly */
	int rc =
	    auth_webhook_decode_info(a->origin, resp.status, resp.body.p, resp.body.len, out, err);
	http_response_free(&resp);
	return rc;
}

/* ---- public API ---- */

static int url_acceptable(const char *url)
{
	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
		return 0;
	if (strlen(url) > AUTH_URL_MAX)
		return 0;
	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return 0;
	return 1;
}

/* spec §11: "<url>/<path>", inserting '/' unless the URL already ends with one. */
static char *url_join(const char *base, const char *path)
{
	struct buf b = BUF_INIT;
	size_t n = strlen(base);
	int slash = n > 0 && base[n - 1] == '/';
	if (buf_printf(&b, "%s%s%s", base, slash ? "" : "/", path) < 0) {
		buf_free(&b);
		return NULL;
	}
	return (char *)b.p; /* buf storage is a plain malloc'd NUL-terminated string */
}

struct auth *auth_new(const struct auth_config *cfg, struct err *err)
{
	struct auth *a = calloc(1, sizeof *a);
	if (!a) {
		err_set(err, "auth: out of memory");
		return NULL;
	}
	pthread_mutex_init(&a->pool_lock, NULL);
	pthread_mutex_init(&a->policy_lock, NULL);
	a->type = cfg->type;
	switch (cfg->type) {
	case AUTH_TYPE_DEV: {
		const char *gw = cfg->dev_gateway_app_id ? cfg->dev_gateway_app_id
							 : AUTH_DEFAULT_DEV_GATEWAY_APP_ID;
		if (strlen(gw) > AUTH_GATEWAY_ID_MAX) {
			err_set(err, "auth: dev gateway_app_id longer than %d bytes",
				AUTH_GATEWAY_ID_MAX);
			goto fail;
		}
		a->dev_gateway_app_id = strdup(gw);
		if (!a->dev_gateway_app_id)
			goto oom;
		return a;
	}
	case AUTH_TYPE_WEBHOOK:
		if (!cfg->webhook_url || !*cfg->webhook_url) {
			err_set(err, "auth: webhook url is not configured");
			goto fail;
		}
		log_url_origin(cfg->webhook_url, a->origin, sizeof a->origin);
		if (!url_acceptable(cfg->webhook_url)) {
			err_set(err,
				"auth: webhook url must be an http:// or https:// URL without "
				"spaces (got %s)",
				a->origin);
			goto fail;
		}
		if (cfg->timeout_ms < 0 || cfg->connect_timeout_ms < 0) {
			err_set(err, "auth: webhook timeouts must not be negative");
			goto fail;
		}
		a->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : AUTH_DEFAULT_TIMEOUT_MS;
		a->connect_timeout_ms =
		    cfg->connect_timeout_ms ? cfg->connect_timeout_ms : a->timeout_ms;
		if (http_client_global_init(err) < 0)
			goto fail;
		a->url = strdup(cfg->webhook_url);
		a->app_url = url_join(cfg->webhook_url, "bootAuth/app");
		a->kms_url = url_join(cfg->webhook_url, "bootAuth/kms");
		if (!a->url || !a->app_url || !a->kms_url)
			goto oom;
		return a;
	case AUTH_TYPE_STATIC: {
		if (!cfg->static_file || !*cfg->static_file) {
			err_set(err, "auth: static policy file is not configured");
			goto fail;
		}
		a->static_path = strdup(cfg->static_file);
		if (!a->static_path)
			goto oom;
		struct stat st;
		if (stat(a->static_path, &st) < 0) {
			err_set(err, "static auth policy %s: %s", a->static_path, strerror(errno));
			goto fail;
		}
		if (policy_load(a->static_path, &a->policy, err) < 0)
			goto fail;
		sig_of(&st, &a->loaded);
		return a;
	}
	}
	err_set(err, "auth: unknown auth api type");
	goto fail;
oom:
	err_set(err, "auth: out of memory");
fail:
	auth_free(a);
	return NULL;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_idle; i++)
		http_client_free(a->idle[i]);
	free(a->url);
	free(a->app_url);
	free(a->kms_url);
	free(a->dev_gateway_app_id);
	free(a->static_path);
	auth_policy_free(a->policy);
	pthread_mutex_destroy(&a->pool_lock);
	pthread_mutex_destroy(&a->policy_lock);
	free(a);
}

enum auth_type auth_type(const struct auth *a)
{
	return a->type;
}

int auth_check(struct auth *a, const struct boot_info *bi, int is_kms, struct auth_decision *out,
	       struct err *err)
{
	memset(out, 0, sizeof *out);
	/* Fail closed on a malformed BootInfo before any backend sees it. */
	TRY(boot_info_validate(bi, err));
	switch (a->type) {
	case AUTH_TYPE_DEV:
		decide(out, 1, "", a->dev_gateway_app_id);
		return 0;
	case AUTH_TYPE_WEBHOOK:
		if (webhook_check(a, bi, is_kms, out, err) < 0) {
			memset(out, 0, sizeof *out);
			return -1;
		}
		return 0;
	case AUTH_TYPE_STATIC: {
		pthread_mutex_lock(&a->policy_lock);
		policy_refresh(a);
		int rc = auth_policy_decide(a->policy, bi, is_kms, out, err);
		pthread_mutex_unlock(&a->policy_lock);
		if (rc < 0)
			memset(out, 0, sizeof *out);
		return rc;
	}
	}
	return err_set(err, "auth: unknown auth api type");
}

int auth_get_info(struct auth *a, struct auth_info *out, struct err *err)
{
	memset(out, 0, sizeof *out);
	switch (a->type) {
	case AUTH_TYPE_DEV:
		out->is_dev = 1;
		snprintf(out->gateway_app_id, sizeof out->gateway_app_id, "%s",
			 a->dev_gateway_app_id);
		return 0;
	case AUTH_TYPE_WEBHOOK:
		if (webhook_info(a, out, err) < 0) {
			memset(out, 0, sizeof *out);
			return -1;
		}
		return 0;
	case AUTH_TYPE_STATIC: {
		pthread_mutex_lock(&a->policy_lock);
		policy_refresh(a);
		const struct auth_policy *p = a->policy;
		int rc = 0;
		if (copy_bounded(out->gateway_app_id, sizeof out->gateway_app_id,
				 p->gateway_app_id) < 0 ||
		    copy_bounded(out->kms_contract_addr, sizeof out->kms_contract_addr,
				 p->kms_contract_addr) < 0 ||
		    copy_bounded(out->app_implementation, sizeof out->app_implementation,
				 p->app_implementation) < 0)
			rc = err_set(err, "static auth policy %s: info field too long",
				     a->static_path);
		out->chain_id = p->chain_id;
		out->has_contract_info = 1;
		pthread_mutex_unlock(&a->policy_lock);
		if (rc < 0)
			memset(out, 0, sizeof *out);
		return rc;
	}
	}
	return err_set(err, "auth: unknown auth api type");
}

void auth_public_error(const char *msg, char *out, size_t outlen)
{
	static const char SELF[] = "KMS self authorization failed: ";
	const char *prefix = strncmp(msg, SELF, sizeof SELF - 1) == 0 ? SELF : "";
	const char *to = strstr(msg, "timed out after ");
	long ms = 0;
	const char *kind = NULL;
	char buf[64];
	if (to && sscanf(to, "timed out after %ld ms", &ms) == 1) {
		snprintf(buf, sizeof buf, "auth api timed out after %ld ms", ms);
		kind = buf;
	} else if (strstr(msg, "failed to decode response")) {
		kind = "auth api answer could not be decoded";
	} else if (strstr(msg, "auth api ") && strstr(msg, " unreachable")) {
		kind = "auth api unreachable";
	} else if (strstr(msg, "auth api ") && strstr(msg, " returned ")) {
		kind = "auth api returned an error";
	} else if (strstr(msg, "auth api ") || strstr(msg, "://")) {
		kind = "auth api unavailable";
	}
	if (!kind) {
		snprintf(out, outlen, "%s", msg);
		return;
	}
	snprintf(out, outlen, "%s%s (details in the KMS log)", prefix, kind);
}
