/*
 * server.c — routes of dstack-auth-eth. Request handling follows upstream's
 * Node server step by step: Fastify's body parsing (also on unknown paths),
 * then the route: 404 body, schema validation (400), the chain read (200
 * allow/deny, or 200 "authorization backend unavailable" — fail closed,
 * never a 5xx for a chain problem), 500 for framework-level errors. Body
 * limits are enforced here (1 MiB -> 500), not by the HTTP library.
 * Failure log lines are rate-limited and carry no request bytes or URLs.
 * GET /metrics (not in upstream, whose GET /metrics is a 404) serves the
 * Prometheus text of auth-eth/metrics.h; every answer is counted there.
 * The event loops never wait on the chain: a chain read runs on the pool
 * (server.h) under one deadline from the request's arrival, and the loop
 * answers as for an RPC failure when it passes. Answers never carry an RPC
 * URL, origin or anything an RPC sent (those go to the rate-limited log).
 * spec: auth-eth §1.2-§1.5, §5.3; seed kms-service-setup (POST /).
 */
#include "auth-eth/server.h"

#include "abi/authreq.h"
#include "auth-eth/metrics.h"
#include "util/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum route {
	ROUTE_NONE = 0,
	ROUTE_INFO,
	ROUTE_SEED,
	ROUTE_APP,
	ROUTE_KMS,
	ROUTE_METRICS,
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ae_server_init(struct ae_server *s, struct eth *eth, const char *kms_addr, const char *rpc_url,
		   long deadline_ms, size_t threads, size_t queue, struct err *err)
{
	memset(s, 0, sizeof *s);
	s->eth = eth;
	s->kms_addr = kms_addr;
	s->deadline_ms = deadline_ms;
	authreq_public_rpc_endpoint(rpc_url, s->rpc_endpoint, sizeof s->rpc_endpoint);
	s->pool = workpool_new(threads, queue, 30000, err);
	if (!s->pool)
		return -1;
	pthread_mutex_init(&s->log_mu, NULL);
	s->log_window_ms = -1000000;
	return 0;
}

void ae_server_destroy(struct ae_server *s)
{
	workpool_free(s->pool);
	s->pool = NULL;
	pthread_mutex_destroy(&s->log_mu);
}

/* At most one failure line per second; the next one says how many were
 * dropped (a KMS retrying against a dead chain must not flood the journal). */
__attribute__((format(printf, 2, 3))) static void log_failure(struct ae_server *s, const char *fmt,
							      ...)
{
	int64_t now = mono_ms();
	pthread_mutex_lock(&s->log_mu);
	if (now - s->log_window_ms < 1000) {
		s->log_suppressed++;
		pthread_mutex_unlock(&s->log_mu);
		return;
	}
	unsigned dropped = s->log_suppressed;
	s->log_suppressed = 0;
	s->log_window_ms = now;
	pthread_mutex_unlock(&s->log_mu);
	char line[1536];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (dropped)
		log_err("%s (%u similar lines suppressed)", line, dropped);
	else
		log_err("%s", line);
}

static void reply(struct http_resp *resp, int status, const char *json)
{
	resp->status = status;
	resp->content_type = AUTHREQ_JSON_CTYPE;
	buf_reset(&resp->body);
	if (buf_append_str(&resp->body, json) < 0)
		resp->status = 500;
}

static void reply_buf(struct http_resp *resp, int status, struct buf *b)
{
	resp->status = status;
	resp->content_type = AUTHREQ_JSON_CTYPE;
	buf_free(&resp->body);
	resp->body = *b;
	*b = (struct buf)BUF_INIT;
}

static int has_body(const char *method)
{
	return !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "DELETE") ||
	       !strcmp(method, "PATCH") || !strcmp(method, "OPTIONS");
}

static enum route route_of(const char *method, const char *path)
{
	if (!strcmp(path, "/")) {
		if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
			return ROUTE_INFO;
		if (!strcmp(method, "POST"))
			return ROUTE_SEED;
		return ROUTE_NONE;
	}
	if (!strcmp(path, "/metrics") && !strcmp(method, "GET"))
		return ROUTE_METRICS;
	if (strcmp(method, "POST") != 0)
		return ROUTE_NONE;
	if (!strcmp(path, "/bootAuth/app"))
		return ROUTE_APP;
	if (!strcmp(path, "/bootAuth/kms"))
		return ROUTE_KMS;
	return ROUTE_NONE;
}

static void not_found(const struct http_req *req, struct http_resp *resp)
{
	struct buf url = BUF_INIT, b = BUF_INIT;
	if (buf_append_str(&url, req->path) == 0 &&
	    (!req->query[0] || buf_printf(&url, "?%s", req->query) == 0) &&
	    authreq_not_found_json(&b, req->method, buf_str(&url)) == 0)
		reply_buf(resp, 404, &b);
	else
		reply(resp, 500, AUTHREQ_BODY_ERROR500);
	buf_free(&url);
	buf_free(&b);
}

/* HEAD /: headers only, with the length GET would have (libevent would send
 * a HEAD body as is) */
static void head_only(struct http_resp *resp)
{
	char len[32];
	snprintf(len, sizeof len, "%zu", resp->body.len);
	http_resp_header(resp, "Content-Length", len);
	buf_reset(&resp->body);
}

static void answer_info(struct ae_server *s, int head, int64_t deadline, struct http_resp *resp)
{
	struct eth_info info;
	struct err err;
	err_clear(&err);
	if (eth_info(s->eth, deadline, &info, &err) != ETH_OK) {
		log_failure(s, "authorization backend health check failed: %s", err.msg);
		reply(resp, 500, AUTHREQ_BODY_ERROR500);
		aem_decision(AEM_ROUTE_INFO, AEM_UNAVAILABLE);
	} else {
		aem_decision(AEM_ROUTE_INFO, AEM_ALLOW);
		struct buf b = BUF_INIT;
		struct abi_bytes gw = {info.gateway_app_id.p ? info.gateway_app_id.p
							     : (const uint8_t *)"",
				       info.gateway_app_id.len};
		if (authreq_info_json(&b, s->kms_addr, s->rpc_endpoint, &gw, info.chain_id,
				      info.app_implementation) == 0)
			reply_buf(resp, 200, &b);
		else
			reply(resp, 500, AUTHREQ_BODY_ERROR500);
		buf_free(&b);
	}
	eth_info_free(&info);
	if (head)
		head_only(resp);
}

/* Validation on the loop: 0 when ar is to be read from the chain, else
 * resp holds the answer (ar freed). */
static int validate_boot(struct ae_server *s, int is_kms, const json_t *body, struct authreq *ar,
			 struct http_resp *resp)
{
	const char *what = is_kms ? "KMS" : "application";
	enum aem_route route = is_kms ? AEM_ROUTE_KMS : AEM_ROUTE_APP;
	struct err err;
	err_clear(&err);
	enum authreq_verdict v = authreq_validate(body, ar, &err);
	if (v == AUTHREQ_INVALID) {
		log_debug("invalid %s authorization request: %s", what, err.msg);
		reply(resp, 400, AUTHREQ_BODY_INVALID);
		aem_decision(route, AEM_INVALID);
		authreq_free(ar);
		return -1;
	}
	if (v == AUTHREQ_UNAVAILABLE) {
		log_failure(s, "%s authorization backend failed: %s", what, err.msg);
		reply(resp, 200, AUTHREQ_BODY_UNAVAILABLE);
		aem_decision(route, AEM_UNAVAILABLE);
		authreq_free(ar);
		return -1;
	}
	return 0;
}

static void answer_boot(struct ae_server *s, int is_kms, const struct authreq *ar, int64_t deadline,
			struct http_resp *resp)
{
	const char *what = is_kms ? "KMS" : "application";
	enum aem_route route = is_kms ? AEM_ROUTE_KMS : AEM_ROUTE_APP;
	struct err err;
	err_clear(&err);
	struct eth_decision d;
	enum eth_rc rc = eth_authorize(s->eth, is_kms, &ar->bi, deadline, &d, &err);
	if (rc == ETH_STALE) {
		log_failure(s, "%s authorization refused: chain view is stale: %s", what, err.msg);
		reply(resp, 200, AUTHREQ_BODY_STALE);
		aem_decision(route, AEM_STALE);
	} else if (rc != ETH_OK) {
		log_failure(s, "%s authorization backend failed: %s", what, err.msg);
		reply(resp, 200, AUTHREQ_BODY_UNAVAILABLE);
		aem_decision(route, AEM_UNAVAILABLE);
	} else {
		struct buf b = BUF_INIT;
		struct abi_bytes reason = {d.reason.p ? d.reason.p : (const uint8_t *)"",
					   d.reason.len};
		struct abi_bytes gw = {d.gateway_app_id.p ? d.gateway_app_id.p
							  : (const uint8_t *)"",
				       d.gateway_app_id.len};
		if (authreq_decision_json(&b, d.allowed, &reason, &gw) == 0) {
			reply_buf(resp, 200, &b);
			aem_decision(route, d.allowed ? AEM_ALLOW : AEM_DENY);
		} else {
			reply(resp, 200, AUTHREQ_BODY_UNAVAILABLE);
			aem_decision(route, AEM_UNAVAILABLE);
		}
		buf_free(&b);
	}
	eth_decision_free(&d);
}

static void handle_metrics(struct ae_server *s, struct http_resp *resp)
{
	struct aem_provider ps[AEM_MAX_PROVIDERS];
	int n = eth_provider_states(s->eth, ps, AEM_MAX_PROVIDERS);
	buf_reset(&resp->body);
	if (aem_render(&resp->body, ps, n) < 0) {
		reply(resp, 500, AUTHREQ_BODY_ERROR500);
		return;
	}
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

#define SEED_BODY_UNAVAILABLE "{\"result\":false,\"reason\":\"" AUTHREQ_REASON_UNAVAILABLE "\"}"

/* The seed tutorial's checks (upstream answers 404 here; see issue 4), on
 * the loop: 0 when q.app_id is to be read from the chain, else resp holds
 * the answer. */
static int parse_seed(const json_t *body, struct authreq_seed *q, struct http_resp *resp)
{
	authreq_parse_seed(body, q);
	if (q->method == AUTHREQ_SEED_PING) {
		reply(resp, 200, "{\"result\":\"pong\"}");
		return -1;
	}
	if (q->method != AUTHREQ_SEED_IS_APP_ALLOWED) {
		reply(resp, 400, "{\"error\":\"unknown method\"}");
		aem_decision(AEM_ROUTE_SEED, AEM_INVALID);
		return -1;
	}
	if (!q->app_id_ok) {
		reply(resp, 200, "{\"result\":false}");
		aem_decision(AEM_ROUTE_SEED, AEM_DENY);
		return -1;
	}
	return 0;
}

static void answer_seed(struct ae_server *s, const uint8_t app_id[20], int64_t deadline,
			struct http_resp *resp)
{
	int registered = 0;
	struct err err;
	err_clear(&err);
	if (eth_is_registered(s->eth, app_id, deadline, &registered, &err) != ETH_OK) {
		log_failure(s, "is_app_allowed: authorization backend failed: %s", err.msg);
		reply(resp, 200, SEED_BODY_UNAVAILABLE);
		aem_decision(AEM_ROUTE_SEED, AEM_UNAVAILABLE);
		return;
	}
	reply(resp, 200, registered ? "{\"result\":true}" : "{\"result\":false}");
	aem_decision(AEM_ROUTE_SEED, registered ? AEM_ALLOW : AEM_DENY);
}

/* ---- chain reads on the pool ------------------------------------------- */

struct job {
	struct ae_server *s;
	struct http_deferred *d;
	enum route route;
	int head;	     /* HEAD / */
	int64_t arrived_ms;  /* monotonic */
	int64_t deadline_ms; /* arrived_ms + s->deadline_ms */
	struct authreq ar;   /* ROUTE_APP, ROUTE_KMS */
	uint8_t app_id[20];  /* ROUTE_SEED */
};

static enum aem_route aem_route_of(enum route r)
{
	return r == ROUTE_INFO	 ? AEM_ROUTE_INFO
	       : r == ROUTE_SEED ? AEM_ROUTE_SEED
	       : r == ROUTE_KMS	 ? AEM_ROUTE_KMS
				 : AEM_ROUTE_APP;
}

static const char *what_of(enum route r)
{
	return r == ROUTE_INFO	 ? "authorization backend health check"
	       : r == ROUTE_SEED ? "is_app_allowed: authorization backend"
	       : r == ROUTE_KMS	 ? "KMS authorization backend"
				 : "application authorization backend";
}

/* The answer the spec gives a request whose chain read failed (an RPC
 * failure): also the loop's answer when the deadline passes. */
static void unavailable(enum route r, int head, struct http_resp *resp)
{
	if (r == ROUTE_INFO) {
		reply(resp, 500, AUTHREQ_BODY_ERROR500);
		if (head)
			head_only(resp);
	} else if (r == ROUTE_SEED) {
		reply(resp, 200, SEED_BODY_UNAVAILABLE);
	} else {
		reply(resp, 200, AUTHREQ_BODY_UNAVAILABLE);
	}
}

static void run_job(void *arg)
{
	struct job *j = arg;
	struct ae_server *s = j->s;
	struct http_resp *resp = http_deferred_resp(j->d);
	int64_t now = mono_ms();
	if (now >= j->deadline_ms) {
		/* the loop has answered already: do not load the chain for nobody */
		log_failure(s, "%s failed: no time left after waiting %lld ms for an RPC thread",
			    what_of(j->route), (long long)(now - j->arrived_ms));
		unavailable(j->route, j->head, resp);
		aem_decision(aem_route_of(j->route), AEM_UNAVAILABLE);
	} else if (j->route == ROUTE_INFO) {
		answer_info(s, j->head, j->deadline_ms, resp);
	} else if (j->route == ROUTE_SEED) {
		answer_seed(s, j->app_id, j->deadline_ms, resp);
	} else {
		answer_boot(s, j->route == ROUTE_KMS, &j->ar, j->deadline_ms, resp);
	}
	http_deferred_finish(j->d);
	authreq_free(&j->ar);
	free(j);
}

/* Hands j to the pool; the loop answers as for an RPC failure when the
 * deadline passes first, or at once when there is no room. Takes j. */
static void start_job(struct job *j, const struct http_req *req, struct http_resp *resp)
{
	struct ae_server *s = j->s;
	struct http_resp tmo = {.status = 500, .content_type = "text/plain"};
	unavailable(j->route, j->head, &tmo);
	/* the job needs no body (ar / app_id hold what was validated): do not
	 * copy up to a mebibyte per waiting request */
	struct http_req lean = *req;
	lean.body = (const uint8_t *)"";
	lean.body_len = 0;
	long left = (long)(j->deadline_ms - mono_ms());
	j->d = http_defer(&lean, &tmo, (left > 0 ? left : 0) + AE_DEADLINE_GRACE_MS);
	if (j->d && workpool_submit(s->pool, run_job, j) == 0) {
		buf_free(&tmo.body);
		return;
	}
	if (j->d) {
		http_deferred_cancel(j->d, resp);
	} else {
		buf_free(&resp->body);
		*resp = tmo;
		tmo = (struct http_resp){0};
	}
	buf_free(&tmo.body);
	log_failure(s, "%s failed: every RPC thread is busy and the queue is full",
		    what_of(j->route));
	aem_decision(aem_route_of(j->route), AEM_UNAVAILABLE);
	authreq_free(&j->ar);
	free(j);
}

static struct job *job_new(struct ae_server *s, enum route r, int64_t arrived_ms)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		return NULL;
	j->s = s;
	j->route = r;
	j->arrived_ms = arrived_ms;
	j->deadline_ms = arrived_ms + s->deadline_ms;
	return j;
}

void ae_server_handle(void *ud, const struct http_req *req, struct http_resp *resp)
{
	/* the loops never block, so the handler runs as the request is read:
	 * its deadline counts from here */
	const int64_t arrived_ms = mono_ms();
	struct ae_server *s = ud;
	enum route r = route_of(req->method, req->path);
	json_t *body = NULL;
	if (has_body(req->method)) {
		struct authreq_http h = {
		    .content_type = req->content_type,
		    .content_length = http_req_header(req, "Content-Length"),
		    .transfer_encoding = http_req_header(req, "Transfer-Encoding"),
		    .body = req->body,
		    .body_len = req->body_len,
		};
		struct err err;
		err_clear(&err);
		enum authreq_parse pr = authreq_parse_body(&h, &body, &err);
		/* Fastify parses bodies before routing: a 404 path still gets the
		 * 500 of a malformed JSON body, but ignores unknown media types. */
		if (pr == AUTHREQ_PARSE_FAILED ||
		    (pr == AUTHREQ_PARSE_NO_PARSER && r != ROUTE_NONE)) {
			log_failure(s, "authorization request failed: %s", err.msg);
			reply(resp, 500, AUTHREQ_BODY_ERROR500);
			if (r == ROUTE_APP || r == ROUTE_KMS)
				aem_decision(r == ROUTE_KMS ? AEM_ROUTE_KMS : AEM_ROUTE_APP,
					     AEM_ERROR);
			json_decref(body);
			return;
		}
	}
	struct job *j = NULL;
	switch (r) {
	case ROUTE_INFO:
	case ROUTE_SEED:
	case ROUTE_APP:
	case ROUTE_KMS:
		j = job_new(s, r, arrived_ms);
		if (!j) {
			unavailable(r, !strcmp(req->method, "HEAD"), resp);
			aem_decision(aem_route_of(r), AEM_UNAVAILABLE);
			break;
		}
		if (r == ROUTE_INFO) {
			j->head = !strcmp(req->method, "HEAD");
		} else if (r == ROUTE_SEED) {
			struct authreq_seed q;
			if (parse_seed(body, &q, resp) < 0) {
				free(j);
				break;
			}
			memcpy(j->app_id, q.app_id, 20);
		} else if (validate_boot(s, r == ROUTE_KMS, body, &j->ar, resp) < 0) {
			free(j);
			break;
		}
		start_job(j, req, resp);
		break;
	case ROUTE_METRICS:
		handle_metrics(s, resp);
		break;
	case ROUTE_NONE:
		not_found(req, resp);
		break;
	}
	json_decref(body);
}
