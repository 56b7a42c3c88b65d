/*
 * test_collateral_source.c — the PCCS client, disk cache and refresh of
 * src/kms/collateral_source.c against a fake PCCS on 127.0.0.1 (libevent
 * evhttp, path-routed) that serves the real Intel-signed collateral of
 * tests/vectors/dcap-qvl/tdx_quote_collateral.json split into the v4 PCCS
 * responses (URL-encoded issuer-chain headers, PCK CRL as DER, root CA CRL as
 * hex text, the distribution point as DER). Expected values come from the
 * vectors README and the openssl CLI (FMSPC, CA type, window end), never from
 * the code under test. The clock is a fake one.
 */
#include "harness.h"

#include "attest/dcap.h"
#include "collateral/collateral_source.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fs.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Real vector facts (tests/vectors/README.md; window end = PCK CRL nextUpdate,
 * `openssl crl -nextupdate` → Jul 19 10:00:35 2025 GMT = 1752919235). OpenSSL
 * (so dcap.c) counts a CRL as expired at its nextUpdate: the last valid second,
 * REAL_LAST, is one before; dcap-qvl's tests verify there too. */
#define REAL_NOW 1752919234
#define REAL_LAST 1752919234
#define REAL_LAST_TEXT "2025-07-19T10:00:34Z"
#define REAL_START 1750329147
#define REAL_FMSPC "B0C06F000000"
#define MOCK_NOW 1768435200

/* ---- fake PCCS ------------------------------------------------------------- */

enum { R_TCB, R_QE, R_PCKCRL, R_ROOTCRL, R_CDP, R_N };
static const char *const ROUTE_PATH[R_N] = {
    "/tdx/certification/v4/tcb",    "/tdx/certification/v4/qe/identity",
    "/sgx/certification/v4/pckcrl", "/sgx/certification/v4/rootcacrl",
    "/IntelSGXRootCA.der",
};

struct route {
	int status; /* 0 = 200 */
	struct buf body;
	char headers[4][2][8192]; /* name, value */
	int nheaders;
	int hang, delay_ms;
	int hits;
	char last_query[512];
};

struct fake {
	struct event_base *base;
	struct evhttp *http;
	struct event *tick;
	pthread_t th;
	atomic_int stop;
	int port;
	char url[64];
	pthread_mutex_t mu;
	struct route r[R_N];
	char fmspc[13]; /* the FMSPC it has TCB info for (case-insensitive) */
	int total;
	char connect_target[256]; /* last CONNECT request (acting as a proxy) */
};

struct delayed {
	struct fake *f;
	struct evhttp_request *req;
	int route;
	struct event *ev;
};

static void send_route(struct fake *f, struct evhttp_request *req, int i)
{
	struct evbuffer *out = evbuffer_new();
	pthread_mutex_lock(&f->mu);
	struct route *rt = &f->r[i];
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	for (int k = 0; k < rt->nheaders; k++)
		evhttp_add_header(h, rt->headers[k][0], rt->headers[k][1]);
	evbuffer_add(out, rt->body.p ? (const void *)rt->body.p : "", rt->body.len);
	int status = rt->status ? rt->status : 200;
	pthread_mutex_unlock(&f->mu);
	evhttp_send_reply(req, status, "X", out);
	evbuffer_free(out);
}

static void on_delay(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct delayed *d = arg;
	send_route(d->f, d->req, d->route);
	event_free(d->ev);
	free(d);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct fake *f = arg;
	if (evhttp_request_get_command(req) == EVHTTP_REQ_CONNECT) {
		/* as a proxy: remember the tunnel asked for, refuse it */
		pthread_mutex_lock(&f->mu);
		f->total++;
		snprintf(f->connect_target, sizeof f->connect_target, "%s",
			 evhttp_request_get_uri(req));
		pthread_mutex_unlock(&f->mu);
		evhttp_send_error(req, 403, NULL);
		return;
	}
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	const char *query = u ? evhttp_uri_get_query(u) : NULL;
	int i;
	for (i = 0; i < R_N; i++)
		if (path && strcmp(path, ROUTE_PATH[i]) == 0)
			break;
	pthread_mutex_lock(&f->mu);
	f->total++;
	if (i == R_N) {
		pthread_mutex_unlock(&f->mu);
		evhttp_send_error(req, 404, NULL);
		return;
	}
	struct route *rt = &f->r[i];
	rt->hits++;
	snprintf(rt->last_query, sizeof rt->last_query, "%s", query ? query : "");
	int hang = rt->hang, delay = rt->delay_ms;
	int wrong = 0;
	if (i == R_TCB) {
		char want[32];
		snprintf(want, sizeof want, "fmspc=%s", f->fmspc);
		wrong = !query || strcasecmp(query, want) != 0;
	}
	pthread_mutex_unlock(&f->mu);
	if (wrong) {
		evhttp_send_error(req, 404, NULL);
		return;
	}
	if (hang)
		return; /* never answered; evhttp_free drops the connection */
	if (delay > 0) {
		struct delayed *d = calloc(1, sizeof *d);
		struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
		d->f = f;
		d->req = req;
		d->route = i;
		d->ev = evtimer_new(f->base, on_delay, d);
		evtimer_add(d->ev, &tv);
		return;
	}
	send_route(f, req, i);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct fake *f = arg;
	if (atomic_load(&f->stop))
		event_base_loopbreak(f->base);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	event_base_dispatch(f->base);
	return NULL;
}

static struct fake *fake_start(void)
{
	struct fake *f = calloc(1, sizeof *f);
	struct timeval tv = {0, 20000};
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&f->mu, NULL);
	f->base = event_base_new();
	f->http = evhttp_new(f->base);
	evhttp_set_gencb(f->http, on_request, f);
	evhttp_set_allowed_methods(f->http, EVHTTP_REQ_GET | EVHTTP_REQ_CONNECT);
	struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(f->http, "127.0.0.1", 0);
	if (!bs) {
		evhttp_free(f->http);
		event_base_free(f->base);
		free(f);
		return NULL;
	}
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &sl);
	f->port = ntohs(sa.sin_port);
	snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", f->port);
	f->tick = event_new(f->base, -1, EV_PERSIST, on_tick, f);
	event_add(f->tick, &tv);
	pthread_create(&f->th, NULL, fake_main, f);
	return f;
}

static void fake_stop(struct fake *f)
{
	if (!f)
		return;
	atomic_store(&f->stop, 1);
	pthread_join(f->th, NULL);
	event_free(f->tick);
	evhttp_free(f->http);
	event_base_free(f->base);
	for (int i = 0; i < R_N; i++)
		buf_free(&f->r[i].body);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

static int fake_hits(struct fake *f, int route)
{
	pthread_mutex_lock(&f->mu);
	int n = route < 0 ? f->total : f->r[route].hits;
	pthread_mutex_unlock(&f->mu);
	return n;
}

static void fake_set(struct fake *f, int route, int status, int hang, int delay_ms)
{
	pthread_mutex_lock(&f->mu);
	f->r[route].status = status;
	f->r[route].hang = hang;
	f->r[route].delay_ms = delay_ms;
	pthread_mutex_unlock(&f->mu);
}

static void fake_all_status(struct fake *f, int status)
{
	for (int i = 0; i < R_N; i++)
		fake_set(f, i, status, 0, 0);
}

static void fake_body(struct fake *f, int route, const void *p, size_t n)
{
	pthread_mutex_lock(&f->mu);
	buf_reset(&f->r[route].body);
	buf_append(&f->r[route].body, p, n);
	pthread_mutex_unlock(&f->mu);
}

static void fake_header(struct fake *f, int route, const char *name, const char *value)
{
	pthread_mutex_lock(&f->mu);
	struct route *rt = &f->r[route];
	int k;
	for (k = 0; k < rt->nheaders; k++)
		if (strcmp(rt->headers[k][0], name) == 0)
			break;
	if (k < 4) {
		snprintf(rt->headers[k][0], sizeof rt->headers[k][0], "%s", name);
		snprintf(rt->headers[k][1], sizeof rt->headers[k][1], "%s", value);
		if (k == rt->nheaders)
			rt->nheaders++;
	}
	pthread_mutex_unlock(&f->mu);
}

static void fake_clear_headers(struct fake *f, int route)
{
	pthread_mutex_lock(&f->mu);
	f->r[route].nheaders = 0;
	pthread_mutex_unlock(&f->mu);
}

/* Percent-encodes everything but RFC 3986 unreserved characters. */
static void url_encode(const char *s, char *out, size_t outlen)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t o = 0;
	for (; *s && o + 4 < outlen; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hexd[c >> 4];
			out[o++] = hexd[c & 15];
		}
	}
	out[o] = '\0';
}

static int unhex_into(const char *hex, struct buf *out)
{
	size_t n;
	uint8_t *b = t_unhex(hex, &n);
	if (!b)
		return -1;
	buf_append(out, b, n);
	free(b);
	return 0;
}

/* Loads a collateral vector (QuoteCollateralV3 JSON) into the fake's routes.
 * spaced: the TCB / QE bodies put "signature" first and add whitespace, so
 * only cutting the raw tcbInfo bytes (not re-serializing) keeps them verifiable. */
static int fake_load(struct fake *f, const char *vector, const char *fmspc, int spaced)
{
	size_t n;
	uint8_t *text = t_read_vector(vector, &n);
	json_error_t je;
	json_t *j = text ? json_loadb((const char *)text, n, 0, &je) : NULL;
	free(text);
	if (!j)
		return -1;
#define S(k) json_string_value(json_object_get(j, k))
	struct buf b = BUF_INIT;
	char *enc = malloc(16384);
	snprintf(f->fmspc, sizeof f->fmspc, "%s", fmspc);

	if (spaced)
		buf_printf(&b, " {\n  \"signature\" : \"%s\",\n  \"tcbInfo\" : %s\n}\n",
			   S("tcb_info_signature"), S("tcb_info"));
	else
		buf_printf(&b, "{\"tcbInfo\":%s,\"signature\":\"%s\"}", S("tcb_info"),
			   S("tcb_info_signature"));
	fake_body(f, R_TCB, b.p, b.len);
	url_encode(S("tcb_info_issuer_chain"), enc, 16384);
	fake_header(f, R_TCB, "TCB-Info-Issuer-Chain", enc);
	fake_header(f, R_TCB, "Content-Type", "application/json");

	buf_reset(&b);
	if (spaced)
		buf_printf(&b, "{ \"signature\":\"%s\" ,\t\"enclaveIdentity\":%s }",
			   S("qe_identity_signature"), S("qe_identity"));
	else
		buf_printf(&b, "{\"enclaveIdentity\":%s,\"signature\":\"%s\"}", S("qe_identity"),
			   S("qe_identity_signature"));
	fake_body(f, R_QE, b.p, b.len);
	url_encode(S("qe_identity_issuer_chain"), enc, 16384);
	fake_header(f, R_QE, "SGX-Enclave-Identity-Issuer-Chain", enc);

	buf_reset(&b);
	unhex_into(S("pck_crl"), &b);
	fake_body(f, R_PCKCRL, b.p, b.len);
	url_encode(S("pck_crl_issuer_chain"), enc, 16384);
	fake_header(f, R_PCKCRL, "SGX-PCK-CRL-Issuer-Chain", enc);
	fake_header(f, R_PCKCRL, "Content-Type", "application/pkix-crl");

	fake_body(f, R_ROOTCRL, S("root_ca_crl"), strlen(S("root_ca_crl")));
	fake_header(f, R_ROOTCRL, "Content-Type", "text/plain");

	buf_reset(&b);
	unhex_into(S("root_ca_crl"), &b);
	fake_body(f, R_CDP, b.p, b.len);
	fake_header(f, R_CDP, "Content-Type", "application/pkix-crl");
#undef S
	buf_free(&b);
	free(enc);
	json_decref(j);
	return 0;
}

static struct fake *fake_real(void)
{
	struct fake *f = fake_start();
	if (f && fake_load(f, "dcap-qvl/tdx_quote_collateral.json", REAL_FMSPC, 0) < 0) {
		fake_stop(f);
		return NULL;
	}
	return f;
}

/* ---- fixtures ------------------------------------------------------------------ */

static _Atomic int64_t g_clock;
static int64_t fake_clock(void *arg)
{
	(void)arg;
	return atomic_load(&g_clock);
}

static struct collateral_source_opts opts_for(const char *pccs, const char *cache_dir)
{
	struct collateral_source_opts o = {
	    .pccs_url = pccs,
	    .cache_dir = cache_dir,
	    .connect_timeout_ms = 2000,
	    .timeout_ms = 3000,
	    .fail_cooldown_s = -1,
	    .clock = fake_clock,
	};
	return o;
}

static const char *dead_url(void)
{
	static char u[64];
	/* a port that had a listener a moment ago and has none now */
	struct fake *f = fake_start();
	snprintf(u, sizeof u, "%s", f ? f->url : "http://127.0.0.1:9");
	fake_stop(f);
	return u;
}

static uint8_t *real_quote(size_t *n)
{
	return t_read_vector("dcap-qvl/tdx_quote.bin", n);
}

/* get + dcap_verify_loaded; returns the status string via st. */
static int get_and_verify(struct collateral_source *s, const struct dcap_verifier *v,
			  const uint8_t *q, size_t qn, int64_t now, char st[48], struct err *err)
{
	struct dcap_loaded *l = NULL;
	struct dcap_result res;
	if (collateral_source_get(s, q, qn, now, &l, err) < 0)
		return -1;
	int rc = dcap_verify_loaded(v, q, qn, l, now, &res, err);
	dcap_loaded_release(l);
	if (rc == 0)
		snprintf(st, 48, "%s", res.status);
	return rc;
}

static struct collateral_source_key real_key(void)
{
	struct collateral_source_key k = {{0xB0, 0xC0, 0x6F, 0, 0, 0},
					  COLLATERAL_SOURCE_CA_PLATFORM};
	return k;
}

/* No part of a collateral URL beyond the origin may appear in a message. */
static int leaks_path(const char *msg)
{
	return strstr(msg, "/certification") || strstr(msg, "fmspc=") ||
	       strstr(msg, "IntelSGXRootCA") || strstr(msg, "encoding=");
}

/* ---- tests ---------------------------------------------------------------------- */

TEST(test_collateral_source_quote_key_reads_fmspc_and_ca_type)
{
	struct err err;
	struct collateral_source_key k;
	size_t n;
	uint8_t *q = real_quote(&n);
	CHECK(q);
	CHECK_OK(collateral_source_quote_key(q, n, &k, &err), &err);
	CHECK_HEX(k.fmspc, 6, "b0c06f000000");
	CHECK_EQ_INT(k.ca, COLLATERAL_SOURCE_CA_PLATFORM);
	free(q);

	/* mock PKI: FMSPC 90C06F000000 under a PCK Platform CA (vectors README) */
	q = t_read_vector("mock/quote_ratls_A.bin", &n);
	CHECK(q);
	CHECK_OK(collateral_source_quote_key(q, n, &k, &err), &err);
	CHECK_HEX(k.fmspc, 6, "90c06f000000");
	CHECK_EQ_INT(k.ca, COLLATERAL_SOURCE_CA_PLATFORM);

	/* truncated quote and an SGX quote: clean errors */
	CHECK_FAILS(collateral_source_quote_key(q, 600, &k, &err));
	free(q);
	q = t_read_vector("dcap-qvl/sgx_quote.bin", &n);
	CHECK(q);
	CHECK_FAILS(collateral_source_quote_key(q, n, &k, &err));
	free(q);

	char name[64];
	CHECK_OK(collateral_source_file_name(
		     &(struct collateral_source_key){{0xb0, 0xc0, 0x6f, 0, 0, 0},
						     COLLATERAL_SOURCE_CA_PROCESSOR},
		     name, sizeof name),
		 &err);
	CHECK_EQ_STR(name, "tdx-B0C06F000000-processor.json");
}

TEST(test_collateral_source_pem_key_rejects_cert_without_sgx_extension)
{
	struct err err;
	struct collateral_source_key k;
	size_t n;
	uint8_t *pem = t_read_vector("mock/mock_root_ca.pem", &n);
	CHECK(pem);
	CHECK_FAILS(collateral_source_pem_key((const char *)pem, n, &k, &err));
	CHECK_CONTAINS(err.msg, "no Intel SGX extension");
	CHECK_FAILS(collateral_source_pem_key("garbage", 7, &k, &err));
	free(pem);
}

TEST(test_collateral_source_fetches_and_verifies_real_quote)
{
	struct err err;
	struct fake *f = fake_real();
	CHECK(f);
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	CHECK(v);
	atomic_store(&g_clock, REAL_NOW - 100);
	struct collateral_source_opts o = opts_for(f->url, NULL);
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	CHECK(s);
	size_t qn;
	uint8_t *q = real_quote(&qn);
	char st[48] = "";
	int rc = get_and_verify(s, v, q, qn, REAL_NOW, st, &err);
	CHECK_MSG(rc == 0, "verify failed: %s", err.msg);
	CHECK_EQ_STR(st, "UpToDate");
	/* one request per document, the PCCS root CRL route, no distribution point */
	CHECK_EQ_INT(fake_hits(f, R_TCB), 1);
	CHECK_EQ_INT(fake_hits(f, R_QE), 1);
	CHECK_EQ_INT(fake_hits(f, R_PCKCRL), 1);
	CHECK_EQ_INT(fake_hits(f, R_ROOTCRL), 1);
	CHECK_EQ_INT(fake_hits(f, R_CDP), 0);
	CHECK(strcasecmp(f->r[R_TCB].last_query, "fmspc=" REAL_FMSPC) == 0);
	CHECK_EQ_STR(f->r[R_PCKCRL].last_query, "ca=platform&encoding=der");
	CHECK_EQ_STR(f->r[R_QE].last_query, "update=standard");

	/* the assembled collateral equals the vector, field by field */
	struct buf out = BUF_INIT;
	struct collateral_source_key k = real_key();
	CHECK_OK(collateral_source_export(s, &k, &out, &err), &err);
	size_t vn;
	uint8_t *vt = t_read_vector("dcap-qvl/tdx_quote_collateral.json", &vn);
	json_t *want = json_loadb((const char *)vt, vn, 0, NULL);
	json_t *got = json_loadb((const char *)out.p, out.len, 0, NULL);
	CHECK(want && got);
	const char *fields[] = {"pck_crl_issuer_chain",	    "root_ca_crl", "pck_crl",
				"tcb_info_issuer_chain",    "tcb_info",	   "tcb_info_signature",
				"qe_identity_issuer_chain", "qe_identity", "qe_identity_signature"};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		const char *a = json_string_value(json_object_get(got, fields[i]));
		const char *b = json_string_value(json_object_get(want, fields[i]));
		CHECK_MSG(a && b && strcasecmp(a, b) == 0, "field %s differs", fields[i]);
	}
	struct collateral_source_info info;
	CHECK_OK(collateral_source_info(s, &k, REAL_NOW, &info), &err);
	CHECK(info.present && info.usable && !info.root_crl_from_cdp && !info.from_disk);
	CHECK_EQ_INT(info.valid_until, REAL_LAST);
	CHECK_EQ_INT(info.fetched_at, REAL_NOW - 100);
	CHECK_EQ_STR(info.origin, f->url);

	json_decref(want);
	json_decref(got);
	free(vt);
	buf_free(&out);
	free(q);
	collateral_source_free(s);
	dcap_verifier_free(v);
	fake_stop(f);
}

TEST(test_collateral_source_cuts_signed_bytes_from_reordered_spaced_bodies)
{
	struct err err;
	struct fake *f = fake_start();
	CHECK(f);
	CHECK(fake_load(f, "dcap-qvl/tdx_quote_collateral.json", "b0c06f000000", 1) == 0);
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	atomic_store(&g_clock, REAL_NOW);
	struct collateral_source_opts o = opts_for(f->url, NULL);
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	CHECK(s);
	size_t qn;
	uint8_t *q = real_quote(&qn);
	char st[48] = "";
	int rc = get_and_verify(s, v, q, qn, REAL_NOW, st, &err);
	CHECK_MSG(rc == 0, "verify failed: %s", err.msg);
	CHECK_EQ_STR(st, "UpToDate");
	free(q);
	collateral_source_free(s);
	dcap_verifier_free(v);
	fake_stop(f);
}

TEST(test_collateral_source_second_get_is_served_from_memory)
{
	struct err err;
	struct fake *f = fake_real();
	CHECK(f);
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	atomic_store(&g_clock, REAL_NOW);
	struct collateral_source_opts o = opts_for(f->url, NULL);
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	size_t qn;
	uint8_t *q = real_quote(&qn);
	char st[48];
	CHECK_OK(get_and_verify(s, v, q, qn, REAL_NOW, st, &err), &err);
	int before = fake_hits(f, -1);
	CHECK_EQ_INT(before, 4);
	CHECK_OK(get_and_verify(s, v, q, qn, REAL_NOW, st, &err), &err);
	CHECK_OK(get_and_verify(s, v, q, qn, REAL_START, st, &err), &err);
	CHECK_EQ_INT(fake_hits(f, -1), before);
	struct collateral_source_stats stats;
	collateral_source_stats(s, &stats);
	CHECK_EQ_INT(stats.memory_hits, 2);
	CHECK_EQ_INT(stats.fetches, 1);
	CHECK_EQ_INT(stats.http_requests, 4);
	free(q);
	collateral_source_free(s);
	dcap_verifier_free(v);
	fake_stop(f);
}

TEST(test_collateral_source_restart_is_served_from_disk_without_http)
{
	struct err err;
	const char *dir = t_tmpdir();
	char cache[512];
	snprintf(cache, sizeof cache, "%s/nested/collateral", dir); /* created on demand */
	struct fake *f = fake_real();
	CHECK(f);
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	atomic_store(&g_clock, REAL_NOW - 10);
	struct collateral_source_opts o = opts_for(f->url, cache);
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	CHECK_MSG(s, "%s", err.msg);
	size_t qn;
	uint8_t *q = real_quote(&qn);
	char st[48];
	CHECK_OK(get_and_verify(s, v, q, qn, REAL_NOW, st, &err), &err);
	collateral_source_free(s);
	fake_stop(f);

	char path[600];
	snprintf(path, sizeof path, "%s/tdx-" REAL_FMSPC "-platform.json", cache);
	CHECK(fs_exists(path));
	struct stat stt;
	CHECK(stat(path, &stt) == 0);
	CHECK_EQ_INT(stt.st_mode & 0777, 0644);

	/* air-gapped: the PCCS is gone; a new process (new verifier too) */
	dcap_verifier_free(v);
	v = dcap_verifier_new(NULL, 0, &err);
	o = opts_for(dead_url(), cache);
	s = collateral_source_new(&o, v, &err);
	CHECK(s);
	st[0] = '\0';
	int rc = get_and_verify(s, v, q, qn, REAL_NOW, st, &err);
	CHECK_MSG(rc == 0, "disk cache not used: %s", err.msg);
	CHECK_EQ_STR(st, "UpToDate");
	struct collateral_source_stats stats;
	collateral_source_stats(s, &stats);
	CHECK_EQ_INT(stats.disk_loads, 1);
	CHECK_EQ_INT(stats.http_requests, 0);
	struct collateral_source_info info;
	struct collateral_source_key k = real_key();
	CHECK_OK(collateral_source_info(s, &k, REAL_NOW, &info), &err);
	CHECK(info.from_disk);
	CHECK_EQ_INT(info.fetched_at, REAL_NOW - 10);
	free(q);
	collateral_source_free(s);
	dcap_verifier_free(v);
}

TEST(test_collateral_source_prefilled_plain_collateral_file_works_air_gapped)
{
	struct err err;
	const char *dir = t_tmpdir();
	char path[600];
	size_t n;
	uint8_t *col = t_read_vector("dcap-qvl/tdx_quote_collateral.json", &n);
	CHECK(col);
	snprintf(path, sizeof path, "%s/tdx-" REAL_FMSPC "-platform.json", dir);
	CHECK_OK(fs_write_atomic(path, col, n, 0644, &err), &err);
	free(col);
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	atomic_store(&g_clock, REAL_NOW);
	struct collateral_source_opts o = opts_for(dead_url(), dir);
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	size_t qn;
	uint8_t *q = real_quote(&qn);
	char st[48] = "";
	int rc = get_and_verify(s, v, q, qn, REAL_NOW, st, &err);
	CHECK_MSG(rc == 0, "prefilled cache not used: %s", err.msg);
	CHECK_EQ_STR(st, "UpToDate");
	struct collateral_source_info info;
	struct collateral_source_key k = real_key();
	CHECK_OK(collateral_source_info(s, &k, REAL_NOW, &info), &err);
	CHECK_EQ_STR(info.origin, "file");

	/* the same file under another FMSPC's name is refused, not misfiled */
	char other[600];
	snprintf(other, sizeof other, "%s/tdx-90C06F000000-platform.json", dir);
	CHECK(rename(path, other) == 0);
	struct collateral_source_key k2 = {{0x90, 0xc0, 0x6f, 0, 0, 0},
					   COLLATERAL_SOURCE_CA_PLATFORM};
	struct dcap_loaded *l = NULL;
	CHECK_FAILS(collateral_source_get_key(s, &k2, REAL_NOW, &l, &err));
	CHECK(l == NULL);
	free(q);
	collateral_source_free(s);
	dcap_verifier_free(v);
}

TEST(test_collateral_source_keeps_cached_collateral_while_pccs_is_down)
{
	struct err err;
	struct fake *f = fake_real();
	CHECK(f);
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	int64_t t0 = REAL_NOW - 4000;
	atomic_store(&g_clock, t0);
	struct collateral_source_opts o = opts_for(f->url, NULL);
	o.retry_min_s = 10;
	o.retry_max_s = 30;
	o.min_refresh_interval_s = 1;
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	size_t qn;
	uint8_t *q = real_quote(&qn);
	char st[48];
	CHECK_OK(get_and_verify(s, v, q, qn, t0, st, &err), &err);
	fake_all_status(f, 503);

	struct collateral_source_info info;
	struct collateral_source_key k = real_key();
	CHECK_OK(collateral_source_info(s, &k, t0, &info), &err);
	int64_t t = info.next_refresh;
	atomic_store(&g_clock, t);
	CHECK_EQ_INT(collateral_source_refresh_due(s, t), 1);
	CHECK_OK(collateral_source_info(s, &k, t, &info), &err);
	CHECK_EQ_INT(info.failures, 1);
	CHECK_EQ_INT(info.next_refresh, t + 10); /* retry_min */
	/* still verifying with the cached copy, without new requests */
	int hits = fake_hits(f, -1);
	CHECK_OK(get_and_verify(s, v, q, qn, REAL_NOW, st, &err), &err);
	CHECK_EQ_STR(st, "UpToDate");
	CHECK_EQ_INT(fake_hits(f, -1), hits);

	/* bounded exponential backoff: 10, 20, 30 (cap), 30 */
	CHECK_EQ_INT(collateral_source_refresh_due(s, t + 9), 0);
	CHECK_EQ_INT(collateral_source_refresh_due(s, t + 10), 1);
	CHECK_OK(collateral_source_info(s, &k, t, &info), &err);
	CHECK_EQ_INT(info.next_refresh, t + 10 + 20);
	CHECK_EQ_INT(collateral_source_refresh_due(s, t + 30), 1);
	CHECK_OK(collateral_source_info(s, &k, t, &info), &err);
	CHECK_EQ_INT(info.next_refresh, t + 30 + 30);
	CHECK_EQ_INT(info.failures, 3);

	/* the PCCS comes back: the next attempt succeeds and resets the backoff */
	fake_all_status(f, 0);
	CHECK_EQ_INT(collateral_source_refresh_due(s, t + 60), 1);
	CHECK_OK(collateral_source_info(s, &k, t, &info), &err);
	CHECK_EQ_INT(info.failures, 0);
	CHECK(info.next_refresh > t + 60 && info.next_refresh <= REAL_LAST);
	free(q);
	collateral_source_free(s);
	dcap_verifier_free(v);
	fake_stop(f);
}

TEST(test_collateral_source_expired_cache_and_pccs_down_fails_closed)
{
	struct err err;
	struct fake *f = fake_real();
	CHECK(f);
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	atomic_store(&g_clock, REAL_NOW);
	const char *dir = t_tmpdir();
	struct collateral_source_opts o = opts_for(f->url, dir);
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	size_t qn;
	uint8_t *q = real_quote(&qn);
	char st[48];
	CHECK_OK(get_and_verify(s, v, q, qn, REAL_NOW, st, &err), &err);
	fake_all_status(f, 503);

	/* past the window end (the PCK CRL's nextUpdate) */
	atomic_store(&g_clock, REAL_LAST + 1000);
	struct dcap_loaded *l = NULL;
	CHECK_FAILS(collateral_source_get(s, q, qn, REAL_LAST + 1000, &l, &err));
	CHECK(l == NULL);
	CHECK_CONTAINS(err.msg, "FMSPC " REAL_FMSPC);
	CHECK_CONTAINS(err.msg, "has expired: valid until " REAL_LAST_TEXT);
	CHECK_CONTAINS(err.msg, f->url);
	CHECK_CONTAINS(err.msg, "503");
	CHECK_MSG(!leaks_path(err.msg), "path in message: %s", err.msg);

	/* a restarted KMS with the same (expired) disk cache: the same answer */
	collateral_source_free(s);
	o = opts_for(f->url, dir);
	s = collateral_source_new(&o, v, &err);
	CHECK_FAILS(collateral_source_get(s, q, qn, REAL_LAST + 1000, &l, &err));
	CHECK_CONTAINS(err.msg, "has expired: valid until " REAL_LAST_TEXT);
	CHECK_CONTAINS(err.msg, REAL_FMSPC);
	CHECK_CONTAINS(err.msg, f->url);
	free(q);
	collateral_source_free(s);
	dcap_verifier_free(v);
	fake_stop(f);
}

static void expect_fetch_error(struct fake *f, const char *want, long timeout_ms,
			       double max_seconds)
{
	struct err err;
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	atomic_store(&g_clock, REAL_NOW);
	struct collateral_source_opts o = opts_for(f->url, NULL);
	o.timeout_ms = timeout_ms;
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	size_t qn;
	uint8_t *q = real_quote(&qn);
	struct dcap_loaded *l = NULL;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int rc = collateral_source_get(s, q, qn, REAL_NOW, &l, &err);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double took = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	free(q);
	collateral_source_free(s);
	dcap_verifier_free(v);
	CHECK(rc < 0 && l == NULL);
	CHECK_CONTAINS(err.msg, want);
	CHECK_CONTAINS(err.msg, "no collateral for FMSPC " REAL_FMSPC " (platform CA)");
	CHECK_CONTAINS(err.msg, f->url);
	CHECK_MSG(!leaks_path(err.msg), "path in message: %s", err.msg);
	CHECK_MSG(took < max_seconds, "took %.2f s", took);
}

TEST(test_collateral_source_pccs_throttling_is_a_bounded_error)
{
	struct fake *f = fake_real();
	CHECK(f);
	fake_set(f, R_TCB, 429, 0, 0);
	expect_fetch_error(f, "429 Too Many Requests", 3000, 5);

	/* Retry-After is honoured for the background retry, within retry_max */
	struct err err;
	fake_header(f, R_TCB, "Retry-After", "120");
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	atomic_store(&g_clock, REAL_NOW - 1000);
	struct collateral_source_opts o = opts_for(f->url, NULL);
	o.retry_min_s = 10;
	o.retry_max_s = 3600;
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	size_t qn;
	uint8_t *q = real_quote(&qn);
	struct dcap_loaded *l = NULL;
	CHECK_FAILS(collateral_source_get(s, q, qn, REAL_NOW, &l, &err));
	struct collateral_source_info info;
	struct collateral_source_key k = real_key();
	CHECK_OK(collateral_source_info(s, &k, REAL_NOW, &info), &err);
	CHECK(!info.present);
	CHECK_EQ_INT(info.failures, 1);
	CHECK_EQ_INT(info.next_refresh, REAL_NOW - 1000 + 120);
	/* the background retry fetches once the PCCS relents */
	fake_set(f, R_TCB, 0, 0, 0);
	CHECK_EQ_INT(collateral_source_refresh_due(s, REAL_NOW - 1000 + 119), 0);
	CHECK_EQ_INT(collateral_source_refresh_due(s, REAL_NOW - 1000 + 120), 1);
	CHECK_OK(collateral_source_info(s, &k, REAL_NOW, &info), &err);
	CHECK(info.usable);
	free(q);
	collateral_source_free(s);
	dcap_verifier_free(v);
	fake_stop(f);
}

TEST(test_collateral_source_pccs_server_error_is_a_bounded_error)
{
	struct fake *f = fake_real();
	CHECK(f);
	fake_set(f, R_PCKCRL, 500, 0, 0);
	expect_fetch_error(f, "PCK CRL", 3000, 5);
	expect_fetch_error(f, "500 Internal Server Error", 3000, 5);
	fake_stop(f);
}

TEST(test_collateral_source_pccs_garbage_is_a_bounded_error)
{
	struct fake *f = fake_real();
	CHECK(f);
	fake_body(f, R_TCB, "<html>busy</html>", 17);
	expect_fetch_error(f, "TCB info response is not a JSON object", 3000, 5);
	fake_stop(f);

	f = fake_real();
	fake_body(f, R_PCKCRL, "not a crl", 9);
	expect_fetch_error(f, "PCK CRL: body is not a CRL", 3000, 5);
	fake_stop(f);

	f = fake_real();
	fake_clear_headers(f, R_QE);
	expect_fetch_error(f, "lacks the SGX-Enclave-Identity-Issuer-Chain header", 3000, 5);
	fake_stop(f);

	f = fake_real();
	fake_header(f, R_TCB, "TCB-Info-Issuer-Chain", "%ZZnot-encoded");
	expect_fetch_error(f, "not URL-encoded", 3000, 5);
	fake_stop(f);

	/* TCB info signed for another platform: refused, not filed under ours */
	f = fake_start();
	CHECK(fake_load(f, "dcap-qvl/tdx_quote_outdated_collateral.json", REAL_FMSPC, 0) == 0);
	expect_fetch_error(f, "TCB info is for FMSPC 90C06F000000", 3000, 5);
	fake_stop(f);
}

TEST(test_collateral_source_hanging_pccs_times_out)
{
	struct fake *f = fake_real();
	CHECK(f);
	fake_set(f, R_QE, 0, 1, 0);
	expect_fetch_error(f, "timed out", 400, 3);
	fake_stop(f);
}

TEST(test_collateral_source_root_crl_falls_back_to_distribution_point_der)
{
	struct err err;
	struct fake *f = fake_real();
	CHECK(f);
	fake_set(f, R_ROOTCRL, 404, 0, 0); /* Intel PCS has no rootcacrl route */
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	int64_t t0 = REAL_NOW - 4000;
	atomic_store(&g_clock, t0);
	char cdp[128];
	snprintf(cdp, sizeof cdp, "%s/IntelSGXRootCA.der", f->url);
	struct collateral_source_opts o = opts_for(f->url, NULL);
	o.root_crl_url = cdp;
	o.min_refresh_interval_s = 1;
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	size_t qn;
	uint8_t *q = real_quote(&qn);
	char st[48] = "";
	int rc = get_and_verify(s, v, q, qn, REAL_NOW, st, &err);
	CHECK_MSG(rc == 0, "fallback failed: %s", err.msg);
	CHECK_EQ_STR(st, "UpToDate");
	CHECK_EQ_INT(fake_hits(f, R_ROOTCRL), 1);
	CHECK_EQ_INT(fake_hits(f, R_CDP), 1);
	struct collateral_source_info info;
	struct collateral_source_key k = real_key();
	CHECK_OK(collateral_source_info(s, &k, REAL_NOW, &info), &err);
	CHECK(info.root_crl_from_cdp);

	/* remembered: the refresh asks the distribution point first */
	CHECK_EQ_INT(collateral_source_refresh_due(s, info.next_refresh), 1);
	CHECK_EQ_INT(fake_hits(f, R_ROOTCRL), 1);
	CHECK_EQ_INT(fake_hits(f, R_CDP), 2);

	/* both routes down: the error names both, by origin only */
	fake_set(f, R_CDP, 500, 0, 0);
	collateral_source_free(s);
	s = collateral_source_new(&o, v, &err);
	struct dcap_loaded *l = NULL;
	CHECK_FAILS(collateral_source_get(s, q, qn, REAL_NOW, &l, &err));
	CHECK_CONTAINS(err.msg, "root CA CRL (PCCS route)");
	CHECK_CONTAINS(err.msg, "404");
	CHECK_CONTAINS(err.msg, "root CA CRL (distribution point)");
	CHECK_CONTAINS(err.msg, "500");
	CHECK_MSG(!leaks_path(err.msg), "path in message: %s", err.msg);
	free(q);
	collateral_source_free(s);
	dcap_verifier_free(v);
	fake_stop(f);
}

TEST(test_collateral_source_intel_root_distribution_point_is_the_default)
{
	/* No override: the fallback URL is the CRL distribution point of the Intel
	 * root (`openssl x509 -text`: https://certificates.trustedservices.intel.com
	 * /IntelSGXRootCA.der). The fake doubles as the HTTP proxy, so the test
	 * stays offline: it serves the PCCS requests and refuses the CONNECT to
	 * Intel, recording its target. */
	struct err err;
	struct fake *f = fake_real();
	CHECK(f);
	fake_set(f, R_ROOTCRL, 404, 0, 0);
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	atomic_store(&g_clock, REAL_NOW);
	struct collateral_source_opts o = opts_for(f->url, NULL);
	o.proxy = f->url;
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	size_t qn;
	uint8_t *q = real_quote(&qn);
	struct dcap_loaded *l = NULL;
	int rc = collateral_source_get(s, q, qn, REAL_NOW, &l, &err);
	free(q);
	collateral_source_free(s);
	dcap_verifier_free(v);
	CHECK(rc < 0);
	CHECK_EQ_INT(fake_hits(f, R_TCB), 1); /* the PCCS requests went through the proxy */
	CHECK_EQ_INT(fake_hits(f, R_ROOTCRL), 1);
	CHECK_EQ_STR(f->connect_target, "certificates.trustedservices.intel.com:443");
	CHECK_CONTAINS(err.msg, "root CA CRL (distribution point)");
	CHECK_CONTAINS(err.msg, "https://certificates.trustedservices.intel.com");
	CHECK_MSG(!leaks_path(err.msg), "path in message: %s", err.msg);
	fake_stop(f);
}

TEST(test_collateral_source_mock_root_without_distribution_point)
{
	struct err err;
	struct fake *f = fake_start();
	CHECK(f);
	CHECK(fake_load(f, "mock/collateral_uptodate.json", "90C06F000000", 0) == 0);
	size_t an;
	uint8_t *anchor = t_read_vector("mock/mock_root_ca.der", &an);
	struct dcap_verifier *v = dcap_verifier_new(anchor, an, &err);
	CHECK(v);
	atomic_store(&g_clock, MOCK_NOW);
	struct collateral_source_opts o = opts_for(f->url, NULL);
	o.anchor_der = anchor;
	o.anchor_len = an;
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	size_t qn;
	uint8_t *q = t_read_vector("mock/quote_ratls_A.bin", &qn);
	char st[48] = "";
	int rc = get_and_verify(s, v, q, qn, MOCK_NOW, st, &err);
	CHECK_MSG(rc == 0, "mock verify failed: %s", err.msg);
	CHECK_EQ_STR(st, "UpToDate");
	collateral_source_free(s);

	/* the mock root has no CRL distribution point: no fallback to try */
	fake_set(f, R_ROOTCRL, 404, 0, 0);
	s = collateral_source_new(&o, v, &err);
	struct dcap_loaded *l = NULL;
	CHECK_FAILS(collateral_source_get(s, q, qn, MOCK_NOW, &l, &err));
	CHECK_CONTAINS(err.msg, "no CRL distribution point");
	free(q);
	free(anchor);
	collateral_source_free(s);
	dcap_verifier_free(v);
	fake_stop(f);
}

TEST(test_collateral_source_quote_outside_trust_anchor_causes_no_fetch)
{
	struct err err;
	struct fake *f = fake_real();
	CHECK(f);
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	atomic_store(&g_clock, MOCK_NOW);
	struct collateral_source_opts o = opts_for(f->url, NULL);
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	size_t qn;
	uint8_t *q = t_read_vector("mock/quote_ratls_A.bin", &qn); /* mock PKI, Intel anchor */
	struct dcap_loaded *l = NULL;
	CHECK_FAILS(collateral_source_get(s, q, qn, MOCK_NOW, &l, &err));
	CHECK_CONTAINS(err.msg, "does not lead to the trust anchor");
	CHECK_EQ_INT(fake_hits(f, -1), 0);
	free(q);
	collateral_source_free(s);
	dcap_verifier_free(v);
	fake_stop(f);
}

TEST(test_collateral_source_corrupt_or_tampered_cache_file_is_refetched)
{
	struct err err;
	const char *dir = t_tmpdir();
	char path[600];
	snprintf(path, sizeof path, "%s/tdx-" REAL_FMSPC "-platform.json", dir);
	struct fake *f = fake_real();
	CHECK(f);
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	atomic_store(&g_clock, REAL_NOW);
	size_t qn;
	uint8_t *q = real_quote(&qn);
	char st[48];

	/* garbage */
	CHECK_OK(fs_write_atomic(path, "{\"format\": 12, trunc", 20, 0644, &err), &err);
	struct collateral_source_opts o = opts_for(f->url, dir);
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	CHECK_OK(get_and_verify(s, v, q, qn, REAL_NOW, st, &err), &err);
	CHECK_EQ_INT(fake_hits(f, -1), 4);
	collateral_source_free(s);
	struct buf text = BUF_INIT;
	CHECK_OK(fs_read_file(path, 1 << 20, &text, &err), &err);
	json_t *j = json_loadb((const char *)text.p, text.len, 0, NULL);
	CHECK(j);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "fmspc")), REAL_FMSPC);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "fetched_at")), REAL_NOW);

	/* tampered: one byte of the stored TCB info body changed (valid JSON,
	 * broken signature) — only a miss, never used */
	const char *body =
	    json_string_value(json_object_get(json_object_get(j, "tcb_info_response"), "body"));
	char *tam = strdup(body);
	char *pos = strstr(tam, "\"tcbEvaluationDataNumber\":17");
	CHECK(pos);
	pos[strlen("\"tcbEvaluationDataNumber\":1")] = '6';
	json_object_set_new(json_object_get(j, "tcb_info_response"), "body", json_string(tam));
	free(tam);
	char *dump = json_dumps(j, 0);
	CHECK_OK(fs_write_atomic(path, dump, strlen(dump), 0644, &err), &err);
	free(dump);
	json_decref(j);
	s = collateral_source_new(&o, v, &err);
	CHECK_OK(get_and_verify(s, v, q, qn, REAL_NOW, st, &err), &err);
	CHECK_EQ_INT(fake_hits(f, -1), 8);
	struct collateral_source_stats stats;
	collateral_source_stats(s, &stats);
	CHECK_EQ_INT(stats.disk_loads, 0);
	CHECK_EQ_INT(stats.fetches, 1);
	collateral_source_free(s);

	buf_free(&text);
	free(q);
	dcap_verifier_free(v);
	fake_stop(f);
}

TEST(test_collateral_source_refreshes_before_next_update)
{
	struct err err;
	struct fake *f = fake_real();
	CHECK(f);
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	int64_t t0 = REAL_LAST - 4000;
	atomic_store(&g_clock, t0);
	struct collateral_source_opts o = opts_for(f->url, NULL);
	o.min_refresh_interval_s = 1;
	o.refresh_margin_s = 400;
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	size_t qn;
	uint8_t *q = real_quote(&qn);
	char st[48];
	CHECK_OK(get_and_verify(s, v, q, qn, t0, st, &err), &err);
	struct collateral_source_info info;
	struct collateral_source_key k = real_key();
	CHECK_OK(collateral_source_info(s, &k, t0, &info), &err);
	/* 4000 s left: 3/4 of it (3000) comes before end - margin (3600) */
	CHECK_EQ_INT(info.next_refresh, t0 + 3000);
	CHECK_EQ_INT(collateral_source_refresh_due(s, t0 + 2999), 0);
	CHECK_EQ_INT(fake_hits(f, -1), 4);
	atomic_store(&g_clock, t0 + 3000);
	CHECK_EQ_INT(collateral_source_refresh_due(s, t0 + 3000), 1);
	CHECK_EQ_INT(fake_hits(f, -1), 8);
	CHECK_OK(collateral_source_info(s, &k, t0 + 3000, &info), &err);
	CHECK_EQ_INT(info.fetched_at, t0 + 3000);
	/* 1000 s left: end - margin (600) comes before 3/4 (750) */
	CHECK_EQ_INT(info.next_refresh, t0 + 3600);
	free(q);
	collateral_source_free(s);
	dcap_verifier_free(v);
	fake_stop(f);
}

TEST(test_collateral_source_background_thread_refreshes_and_stops)
{
	struct err err;
	struct fake *f = fake_real();
	CHECK(f);
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	const char *dir = t_tmpdir();
	int64_t t0 = REAL_LAST - 4000;
	atomic_store(&g_clock, t0);
	struct collateral_source_opts o = opts_for(f->url, dir);
	o.min_refresh_interval_s = 1;
	o.poll_interval_ms = 20;
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	size_t qn;
	uint8_t *q = real_quote(&qn);
	char st[48];
	CHECK_OK(get_and_verify(s, v, q, qn, t0, st, &err), &err);
	collateral_source_free(s);

	/* restart: start() registers the cached key from the disk */
	s = collateral_source_new(&o, v, &err);
	CHECK_OK(collateral_source_start(s, &err), &err);
	struct collateral_source_info info;
	struct collateral_source_key k = real_key();
	CHECK_OK(collateral_source_info(s, &k, t0, &info), &err);
	CHECK(info.usable && info.from_disk);
	CHECK_EQ_INT(fake_hits(f, -1), 4);

	atomic_store(&g_clock, info.next_refresh);
	collateral_source_kick(s);
	struct collateral_source_stats stats;
	for (int i = 0; i < 250; i++) {
		collateral_source_stats(s, &stats);
		if (stats.fetches >= 1)
			break;
		usleep(20000);
	}
	CHECK_EQ_INT(stats.fetches, 1);
	CHECK_EQ_INT(fake_hits(f, -1), 8);
	collateral_source_stop(s);
	collateral_source_stop(s); /* idempotent */
	CHECK_OK(collateral_source_info(s, &k, t0, &info), &err);
	CHECK(!info.from_disk && info.fetched_at > t0);
	free(q);
	collateral_source_free(s);
	dcap_verifier_free(v);
	fake_stop(f);
}

struct racer {
	struct collateral_source *s;
	const uint8_t *q;
	size_t qn;
	int rc;
	char msg[ERR_MAX];
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct err err;
	struct dcap_loaded *l = NULL;
	r->rc = collateral_source_get(r->s, r->q, r->qn, REAL_NOW, &l, &err);
	snprintf(r->msg, sizeof r->msg, "%s", r->rc < 0 ? err.msg : "");
	dcap_loaded_release(l);
	return NULL;
}

static int run_race(struct fake *f, int expect_ok)
{
	struct err err;
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	atomic_store(&g_clock, REAL_NOW);
	struct collateral_source_opts o = opts_for(f->url, NULL);
	o.fail_cooldown_s = 0; /* default cooldown */
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	size_t qn;
	uint8_t *q = real_quote(&qn);
	struct racer r[8];
	pthread_t th[8];
	int good = 1;
	for (int i = 0; i < 8; i++) {
		r[i] = (struct racer){.s = s, .q = q, .qn = qn};
		pthread_create(&th[i], NULL, race, &r[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		if ((r[i].rc == 0) != expect_ok)
			good = 0;
	}
	free(q);
	collateral_source_free(s);
	dcap_verifier_free(v);
	return good;
}

TEST(test_collateral_source_concurrent_gets_share_one_fetch)
{
	struct fake *f = fake_real();
	CHECK(f);
	fake_set(f, R_TCB, 0, 0, 300);
	CHECK(run_race(f, 1));
	CHECK_EQ_INT(fake_hits(f, R_TCB), 1);
	fake_stop(f);

	/* a failing fetch is shared too: one request, eight errors */
	f = fake_real();
	fake_set(f, R_TCB, 500, 0, 300);
	CHECK(run_race(f, 0));
	CHECK_EQ_INT(fake_hits(f, R_TCB), 1);
	fake_stop(f);
}

TEST(test_collateral_source_rejects_bad_options)
{
	struct err err;
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	struct collateral_source_opts o = opts_for("ftp://pccs.example", NULL);
	CHECK(collateral_source_new(&o, v, &err) == NULL);
	CHECK_CONTAINS(err.msg, "http(s)");
	o = opts_for("https://pccs.example", NULL);
	o.root_crl_url = "file:///etc/passwd";
	CHECK(collateral_source_new(&o, v, &err) == NULL);
	o = opts_for(NULL, "/proc/no/such/dir");
	CHECK(collateral_source_new(&o, v, &err) == NULL);
	CHECK_CONTAINS(err.msg, "/proc/no/such/dir");
	o = opts_for(NULL, NULL); /* default PCCS; nothing fetched at construction */
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	CHECK_MSG(s, "%s", err.msg);
	collateral_source_free(s);
	dcap_verifier_free(v);
}

/* ---- end to end with the simulated TEE's mock PCCS (tests/tools/simtee) ---- */

static int run_cmd(char *const argv[])
{
	pid_t pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_WRONLY);
		if (nul >= 0) {
			dup2(nul, 1);
			dup2(nul, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(test_collateral_source_against_simtee_mock_pccs)
{
	const char *bin = "build/tests/simtee";
	if (access(bin, X_OK) != 0) {
		fprintf(stderr, "note: %s not built; simtee end-to-end check skipped\n", bin);
		return;
	}
	struct err err;
	const char *dir = t_tmpdir();
	char pki[512], quote[600], portfile[600], port_s[32] = "", nowarg[32];
	snprintf(pki, sizeof pki, "%s/pki", dir);
	snprintf(quote, sizeof quote, "%s/quote.bin", dir);
	snprintf(portfile, sizeof portfile, "%s/port", dir);
	int64_t now = (int64_t)time(NULL);
	snprintf(nowarg, sizeof nowarg, "%lld", (long long)now);
	char *pki_argv[] = {
	    (char *)bin, "pki",
	    "--seed",	 "1111111111111111111111111111111111111111111111111111111111111111",
	    "--out",	 pki,
	    NULL};
	CHECK_EQ_INT(run_cmd(pki_argv), 0);
	char *q_argv[] = {(char *)bin,
			  "quote",
			  "--pki",
			  pki,
			  "--app-id",
			  "5bb4ff9a3837357f19dc176407a5709c62eb6c56",
			  "--compose-hash",
			  "c143116f00000000000000000000000000000000000000000000000000000000",
			  "--instance-id",
			  "1691ed1b00000000000000000000000000000000",
			  "--report-data",
			  "00",
			  "--out",
			  quote,
			  NULL};
	CHECK_EQ_INT(run_cmd(q_argv), 0);

	pid_t pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_WRONLY);
		if (nul >= 0) {
			dup2(nul, 1);
			dup2(nul, 2);
		}
		execl(bin, bin, "serve", "--pki", pki, "--port", "0", "--port-file", portfile,
		      "--pcs-mode", "--now", nowarg, (char *)NULL);
		_exit(127);
	}
	CHECK(pid > 0);
	for (int i = 0; i < 200 && !port_s[0]; i++) {
		FILE *pf = fopen(portfile, "r");
		if (pf) {
			if (!fgets(port_s, sizeof port_s, pf))
				port_s[0] = '\0';
			fclose(pf);
		}
		if (!port_s[0])
			usleep(20000);
	}
	char url[64], cdp[128], root[600];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", atoi(port_s));
	snprintf(cdp, sizeof cdp, "%s/IntelSGXRootCA.der", url);
	snprintf(root, sizeof root, "%s/root_ca.der", pki);
	struct buf anchor = BUF_INIT;
	int ok = port_s[0] && fs_read_file(root, 1 << 16, &anchor, &err) == 0;
	struct dcap_verifier *v = ok ? dcap_verifier_new(anchor.p, anchor.len, &err) : NULL;
	struct collateral_source *s = NULL;
	char st[48] = "";
	int rc = -1;
	if (v) {
		atomic_store(&g_clock, now);
		struct collateral_source_opts o = opts_for(url, NULL);
		o.anchor_der = anchor.p;
		o.anchor_len = anchor.len;
		o.root_crl_url = cdp;
		s = collateral_source_new(&o, v, &err);
		struct buf qb = BUF_INIT;
		if (s && fs_read_file(quote, 1 << 20, &qb, &err) == 0)
			rc = get_and_verify(s, v, qb.p, qb.len, now, st, &err);
		buf_free(&qb);
	}
	struct collateral_source_info info = {0};
	if (s) {
		struct collateral_source_key k;
		struct buf qb = BUF_INIT;
		if (fs_read_file(quote, 1 << 20, &qb, &err) == 0 &&
		    collateral_source_quote_key(qb.p, qb.len, &k, &err) == 0)
			collateral_source_info(s, &k, now, &info);
		buf_free(&qb);
	}
	collateral_source_free(s);
	dcap_verifier_free(v);
	buf_free(&anchor);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	CHECK_MSG(port_s[0], "simtee serve did not start");
	CHECK_MSG(rc == 0, "simtee end to end: %s", err.msg);
	CHECK_EQ_STR(st, "UpToDate");
	CHECK(info.root_crl_from_cdp); /* --pcs-mode: no rootcacrl route */
}

TEST(test_collateral_source_bounds_the_number_of_keys)
{
	struct err err;
	struct fake *f = fake_real();
	CHECK(f);
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	atomic_store(&g_clock, REAL_NOW);
	struct collateral_source_opts o = opts_for(f->url, NULL);
	o.max_keys = 1;
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	struct collateral_source_key other = {{1, 2, 3, 4, 5, 6}, COLLATERAL_SOURCE_CA_PROCESSOR};
	struct collateral_source_key real = real_key();
	struct dcap_loaded *l = NULL;
	/* unknown FMSPC: the fake answers 404; the key holds nothing usable */
	CHECK_FAILS(collateral_source_get_key(s, &other, REAL_NOW, &l, &err));
	CHECK_CONTAINS(err.msg, "404 Not Found");
	CHECK_EQ_INT(fake_hits(f, R_TCB), 1);
	/* ...so it gives way to a key that gets collateral */
	CHECK_OK(collateral_source_get_key(s, &real, REAL_NOW, &l, &err), &err);
	dcap_loaded_release(l);
	l = NULL;
	struct collateral_source_info info;
	CHECK(collateral_source_info(s, &other, REAL_NOW, &info) < 0);
	/* a key holding usable collateral is never evicted */
	CHECK_FAILS(collateral_source_get_key(s, &other, REAL_NOW, &l, &err));
	CHECK_CONTAINS(err.msg, "too many distinct FMSPC/CA keys");
	CHECK_OK(collateral_source_info(s, &real, REAL_NOW, &info), &err);
	CHECK(info.usable);
	collateral_source_free(s);
	dcap_verifier_free(v);
	fake_stop(f);
}

/* ---- the request path: cache only, the refresher fetches ---------------------- */

TEST(test_dcap_precheck_passes_real_quote_and_names_a_broken_signature)
{
	struct err err;
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	size_t qn;
	uint8_t *q = real_quote(&qn);
	CHECK(v && q);
	CHECK_OK(dcap_precheck(v, q, qn, &err), &err);
	q[48 + 16] ^= 1; /* a byte of the TD report body: the quote signature breaks */
	CHECK_FAILS(dcap_precheck(v, q, qn, &err));
	CHECK_CONTAINS(err.msg, "ISV enclave report signature is invalid");
	free(q);
	dcap_verifier_free(v);
}

TEST(test_collateral_source_get_cached_waits_for_the_refresher)
{
	struct err err;
	struct fake *f = fake_real();
	CHECK(f);
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	atomic_store(&g_clock, REAL_NOW);
	struct collateral_source_opts o = opts_for(f->url, NULL);
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	CHECK_MSG(s, "%s", err.msg);
	size_t qn;
	uint8_t *q = real_quote(&qn);
	struct dcap_loaded *l = NULL;

	/* no refresher: a miss is an error, and nothing is fetched */
	CHECK_FAILS(collateral_source_get_cached(s, q, qn, REAL_NOW, 1000, &l, &err));
	CHECK_CONTAINS(err.msg, "refresher is not running");
	CHECK_EQ_INT(fake_hits(f, -1), 0);

	/* with it: the miss is fetched in the background and the caller served */
	CHECK_OK(collateral_source_start(s, &err), &err);
	CHECK_OK(collateral_source_get_cached(s, q, qn, REAL_NOW, 10000, &l, &err), &err);
	struct dcap_result res;
	CHECK_OK(dcap_verify_loaded(v, q, qn, l, REAL_NOW, &res, &err), &err);
	/* a precheck memo: the same verdict for the quote it covers, and no
	 * cover for other bytes (their broken signature is still found) */
	struct dcap_precheck_memo memo;
	struct dcap_result res2;
	CHECK_OK(dcap_precheck_memo(v, q, qn, &memo, &err), &err);
	CHECK(memo.valid && memo.pck_spki_len > 0);
	CHECK_OK(dcap_verify_loaded_memo(v, q, qn, l, REAL_NOW, &memo, &res2, &err), &err);
	CHECK(strcmp(res.status, res2.status) == 0 && memcmp(res.fmspc, res2.fmspc, 6) == 0);
	q[48 + 16] ^= 1;
	CHECK_FAILS(dcap_verify_loaded_memo(v, q, qn, l, REAL_NOW, &memo, &res2, &err));
	CHECK_CONTAINS(err.msg, "ISV enclave report signature is invalid");
	CHECK_FAILS(dcap_precheck_memo(v, q, qn, &memo, &err));
	CHECK(!memo.valid);
	q[48 + 16] ^= 1;
	dcap_loaded_release(l);
	CHECK_EQ_INT(fake_hits(f, R_TCB), 1);
	struct collateral_source_stats stats;
	collateral_source_stats(s, &stats);
	CHECK_EQ_INT(stats.refreshes, 1);
	CHECK_EQ_INT(stats.fetches, 1);
	/* then from memory */
	CHECK_OK(collateral_source_get_cached(s, q, qn, REAL_NOW, 0, &l, &err), &err);
	dcap_loaded_release(l);
	CHECK_EQ_INT(fake_hits(f, R_TCB), 1);
	free(q);
	collateral_source_free(s);
	dcap_verifier_free(v);
	fake_stop(f);
}

TEST(test_collateral_source_get_cached_is_busy_while_the_pccs_hangs)
{
	struct err err;
	struct fake *f = fake_real();
	CHECK(f);
	pthread_mutex_lock(&f->mu);
	f->r[R_TCB].hang = 1;
	pthread_mutex_unlock(&f->mu);
	struct dcap_verifier *v = dcap_verifier_new(NULL, 0, &err);
	atomic_store(&g_clock, REAL_NOW);
	struct collateral_source_opts o = opts_for(f->url, NULL);
	o.timeout_ms = 1500;
	struct collateral_source *s = collateral_source_new(&o, v, &err);
	CHECK_MSG(s, "%s", err.msg);
	CHECK_OK(collateral_source_start(s, &err), &err);
	size_t qn;
	uint8_t *q = real_quote(&qn);
	struct dcap_loaded *l = NULL;
	CHECK_FAILS(collateral_source_get_cached(s, q, qn, REAL_NOW, 200, &l, &err));
	CHECK(strncmp(err.msg, COLLATERAL_SOURCE_BUSY ": ", 6) == 0);
	CHECK(!leaks_path(err.msg));
	/* a second caller shares the fetch in progress, then its failure */
	CHECK_FAILS(collateral_source_get_cached(s, q, qn, REAL_NOW, 5000, &l, &err));
	CHECK_CONTAINS(err.msg, "no collateral for FMSPC " REAL_FMSPC);
	CHECK_EQ_INT(fake_hits(f, R_TCB), 1);
	free(q);
	collateral_source_free(s);
	dcap_verifier_free(v);
	fake_stop(f);
}
