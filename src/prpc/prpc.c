/*
 * prpc.c — prpc transport (kms-protocol §2.1–2.4).
 *
 * Method name: the single path segment after /prpc/, with every leading
 * occurrence of the service prefix removed ("KMS.KMS.GetMeta" → GetMeta).
 * Errors before dispatch (body too large) pick JSON only from GET/?json, as
 * upstream does; errors after dispatch also honour Content-Type. Every error
 * is HTTP 400 with {"error": ...} (2-space pretty JSON) or ProtoError.
 * Response bodies that carry key material are wiped after sending. Failed
 * and refused calls are logged at most once per second each, the next line
 * counting those left out (a client decides how often they happen).
 */
#include "prpc/prpc.h"

#include "prpc/prpc_json.h"
#include "kms_rpc.pb-c.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/ratelog.h"
#include "util/secret.h"
#include "util/utf8.h"
#include "util/workpool.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct prpc_arena_item {
	struct prpc_arena_item *next;
	size_t len;
	uint8_t data[];
};

void *prpc_alloc(struct prpc_call *c, size_t n)
{
	if (n > SIZE_MAX - sizeof(struct prpc_arena_item))
		return NULL;
	struct prpc_arena_item *it = calloc(1, sizeof *it + n);
	if (!it)
		return NULL;
	it->len = n;
	it->next = c->arena;
	c->arena = it;
	return it->data;
}

char *prpc_strdup(struct prpc_call *c, const char *s)
{
	size_t n = strlen(s);
	char *p = prpc_alloc(c, n + 1);
	if (p)
		memcpy(p, s, n + 1);
	return p;
}

int prpc_bytes(struct prpc_call *c, ProtobufCBinaryData *dst, const void *p, size_t n)
{
	dst->len = 0;
	dst->data = NULL;
	if (!n)
		return 0;
	uint8_t *q = prpc_alloc(c, n);
	if (!q)
		return -1;
	memcpy(q, p, n);
	dst->data = q;
	dst->len = n;
	return 0;
}

static void arena_free(struct prpc_call *c)
{
	while (c->arena) {
		struct prpc_arena_item *n = c->arena->next;
		secret_free(c->arena, sizeof *c->arena + c->arena->len);
		c->arena = n;
	}
}

static int query_flag_json(const char *q)
{
	while (q && *q) {
		size_t n = strcspn(q, "&");
		if (n >= 4 && strncmp(q, "json", 4) == 0) {
			const char *v = q + 4;
			size_t vl = n - 4;
			if (vl == 0)
				return 1;
			if (*v == '=') {
				v++;
				vl--;
				if (vl == 0 || (vl == 4 && strncmp(v, "true", 4) == 0) ||
				    (vl == 1 && *v == '1'))
					return 1;
			}
		}
		q += n;
		if (*q == '&')
			q++;
	}
	return 0;
}

static int content_type_json(const struct http_req *req)
{
	const char *ct = req->content_type;
	if (!ct)
		return 0;
	size_t n = strcspn(ct, ";");
	while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

int prpc_wants_json(const struct http_req *req, int include_content_type)
{
	if (strcmp(req->method, "GET") == 0)
		return 1;
	if (query_flag_json(req->query))
		return 1;
	return include_content_type && content_type_json(req);
}

void prpc_error_response(int json, const char *msg, struct http_resp *resp)
{
	char clean[ERR_MAX];
	snprintf(clean, sizeof clean, "%s", msg);
	utf8_sanitize(clean);
	buf_reset(&resp->body);
	resp->status = 400;
	if (json) {
		resp->content_type = "application/json";
		json_t *o = json_pack("{s:s}", "error", clean);
		char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
		if (s)
			buf_append_str(&resp->body, s);
		else
			buf_append_str(&resp->body, "{\n  \"error\": \"internal error\"\n}");
		free(s);
		json_decref(o);
	} else {
		resp->content_type = "application/octet-stream";
		Kms__ProtoError pe = KMS__PROTO_ERROR__INIT;
		pe.message = clean;
		size_t n = kms__proto_error__get_packed_size(&pe);
		if (buf_reserve(&resp->body, n) == 0) {
			kms__proto_error__pack(&pe, resp->body.p);
			resp->body.len = n;
		}
	}
}

/* Strip every leading occurrence of the service prefix (§2.1). */
static const char *bare_name(const struct prpc_service *s, const char *seg)
{
	size_t pl = strlen(s->prefix);
	while (pl && strncmp(seg, s->prefix, pl) == 0)
		seg += pl;
	return seg;
}

static const struct prpc_method *resolve(const struct prpc_service *s, const char *seg)
{
	seg = bare_name(s, seg);
	for (size_t i = 0; i < s->nmethods; i++)
		if (strcmp(s->methods[i].name, seg) == 0)
			return &s->methods[i];
	return NULL;
}

/* Failed and refused requests: lines a client can cause at will. */
static struct ratelog g_fail_log = RATELOG_INIT;
static struct ratelog g_busy_log = RATELOG_INIT;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static ProtobufCMessage *decode_request(const struct prpc_method *m, const struct http_req *req,
					int json, struct err *err)
{
	if (json) {
		if (strcmp(req->method, "GET") == 0)
			return prpc_query_decode(m->req_desc, req->query, strlen(req->query), err);
		return prpc_json_decode(m->req_desc, (const char *)req->body, req->body_len, err);
	}
	ProtobufCMessage *msg =
	    protobuf_c_message_unpack(m->req_desc, NULL, req->body_len, req->body);
	if (!msg)
		err_set(err, "failed to decode %s: invalid protobuf message", m->req_desc->name);
	return msg;
}

static void free_request(ProtobufCMessage *msg, int json)
{
	if (!msg)
		return;
	if (json)
		prpc_message_free(msg);
	else
		protobuf_c_message_free_unpacked(msg, NULL);
}

static int encode_response(const struct prpc_method *m, const ProtobufCMessage *msg, int json,
			   struct http_resp *resp, struct err *err)
{
	resp->body.secret = 1; /* responses may carry keys; wipe after sending */
	if (json) {
		resp->content_type = "application/json";
		if (!m->resp_desc)
			return buf_append_str(&resp->body, "null") < 0
				   ? err_set(err, "out of memory")
				   : 0;
		return prpc_json_encode(msg, &resp->body, err);
	}
	resp->content_type = "application/octet-stream";
	if (!m->resp_desc)
		return 0;
	size_t n = protobuf_c_message_get_packed_size(msg);
	if (buf_reserve(&resp->body, n) < 0)
		return err_set(err, "out of memory");
	protobuf_c_message_pack(msg, resp->body.p);
	resp->body.len = n;
	return 0;
}

void prpc_handle_now(const struct prpc_service *s, const struct http_req *req,
		     struct http_resp *resp)
{
	double t0 = now_s();
	struct err err;
	err_clear(&err);
	int pre_json = prpc_wants_json(req, 0);
	int json = prpc_wants_json(req, 1);
	const char *seg = req->path + strlen("/prpc/");
	const struct prpc_method *m = strchr(seg, '/') ? NULL : resolve(s, seg);
	struct prpc_call call = {.http = req, .json = json};
	ProtobufCMessage *request = NULL, *response = NULL;

	if (!m) {
		err_set(&err, "Service not found: %s", bare_name(s, seg));
		prpc_error_response(json, err.msg, resp);
		goto done;
	}
	call.method = m->name;
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0) {
		err_set(&err, "method %s not allowed: use GET or POST", req->method);
		prpc_error_response(json, err.msg, resp);
		goto done;
	}
	if (s->pre_dispatch && s->pre_dispatch(s->svc, &call, &err) < 0) {
		prpc_error_response(pre_json, err.msg, resp);
		goto done;
	}
	uint64_t limit = s->body_limit ? s->body_limit(s->svc, m->name) : 10u * 1024 * 1024;
	if (req->body_len > limit) {
		err_set(&err, "payload too large: %zu bytes exceeds the %llu-byte limit of %s",
			req->body_len, (unsigned long long)limit, m->name);
		prpc_error_response(pre_json, err.msg, resp);
		goto done;
	}
	if (m->req_desc) {
		/* An empty payload decodes to the all-default request in both modes. */
		request = decode_request(m, req, json, &err);
		if (!request) {
			prpc_error_response(call.json, err.msg, resp);
			goto done;
		}
	}
	if (m->fn(s->svc, &call, request, &response, &err) < 0 ||
	    encode_response(m, response, call.json, resp, &err) < 0) {
		buf_reset(&resp->body);
		prpc_error_response(call.json, err.msg, resp);
		goto done;
	}
	resp->status = 200;
done:
	if (s->post_dispatch && call.peer)
		s->post_dispatch(s->svc, &call);
	free_request(request, json);
	arena_free(&call);
	unsigned long dropped;
	/* a client decides how often this happens: one line per second */
	if (resp->status != 200 && ratelog_allow(&g_fail_log, 1000, &dropped)) {
		if (dropped)
			log_info("rpc error method=%s status=%d error=\"%s\" (%lu similar lines "
				 "suppressed)",
				 m ? m->name : "-", resp->status, err.msg, dropped);
		else
			log_info("rpc error method=%s status=%d error=\"%s\"", m ? m->name : "-",
				 resp->status, err.msg);
	}
	if (s->observe)
		s->observe(s->svc, m ? m->name : NULL, resp->status, now_s() - t0);
}

/* ---- off the event loop --------------------------------------------------------- */

struct pool_job {
	const struct prpc_service *s;
	struct http_deferred *d;
};

static void run_job(void *arg)
{
	struct pool_job *j = arg;
	prpc_handle_now(j->s, http_deferred_req(j->d), http_deferred_resp(j->d));
	http_deferred_finish(j->d);
	free(j);
}

static void copy_headers(const struct http_resp *from, struct http_resp *to)
{
	for (int i = 0; i < from->nextra; i++)
		http_resp_header(to, from->extra_headers[i][0], from->extra_headers[i][1]);
}

void prpc_handle(const struct prpc_service *s, const struct http_req *req, struct http_resp *resp)
{
	const char *seg = req->path + strlen("/prpc/");
	const struct prpc_method *m = strchr(seg, '/') ? NULL : resolve(s, seg);
	if (!s->pool || !s->needs_pool || !m || !s->needs_pool(s->svc, m->name, req)) {
		prpc_handle_now(s, req, resp);
		return;
	}
	int json = prpc_wants_json(req, 0);
	char msg[256];
	struct http_resp tmo = {.status = 400};
	snprintf(msg, sizeof msg, "deadline exceeded: %s did not finish within %ld ms", m->name,
		 s->deadline_ms);
	prpc_error_response(json, msg, &tmo);
	copy_headers(resp, &tmo);
	struct pool_job *j = calloc(1, sizeof *j);
	struct http_deferred *d = j ? http_defer(req, &tmo, s->deadline_ms) : NULL;
	if (!d) {
		free(j);
		buf_free(&tmo.body);
		prpc_error_response(json, "out of memory", resp);
		return;
	}
	copy_headers(resp, http_deferred_resp(d));
	j->s = s;
	j->d = d;
	if (workpool_submit(s->pool, run_job, j) == 0)
		return;
	free(j);
	struct http_resp keep = *resp;
	http_deferred_cancel(d, resp);
	buf_free(&resp->body);
	resp->nextra = 0;
	copy_headers(&keep, resp);
	struct workpool_stats st;
	workpool_stats(s->pool, &st);
	snprintf(msg, sizeof msg,
		 PRPC_BUSY_PREFIX ": all %zu blocking workers are in use; retry later",
		 st.max_threads);
	prpc_error_response(json, msg, resp);
	unsigned long dropped;
	if (ratelog_allow(&g_busy_log, 1000, &dropped))
		log_warn("rpc refused method=%s reason=busy (%lu similar lines suppressed)",
			 m->name, dropped);
	if (s->observe)
		s->observe(s->svc, m->name, resp->status, 0);
}
