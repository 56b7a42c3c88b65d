/*
 * serve.c — `simtee serve`: a mock PCCS on 127.0.0.1 answering the v4 PCCS
 * API paths with simtee collateral and the issuer-chain headers (URL-encoded
 * PEM), the root CA CRL as hex text at /sgx/certification/v4/rootcacrl and as
 * DER at /IntelSGXRootCA.der (the CRL distribution point form), plus outage
 * simulation: fail (503) or hang after K answers.
 * TEST-ONLY (see simtee.h); binds only to 127.0.0.1 and serves public data.
 * spec: attestation §2.1 (PCCS API paths, headers, CA type), §5.
 */
#include "simtee.h"

#include "util/hex.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

static const char *const SERVE_HELP_HEAD =
    "usage: simtee serve (--pki DIR [collateral options] | --collateral FILE) [options]\n"
    "\n"
    "A mock PCCS on 127.0.0.1 (HTTP). Paths (attestation §2.1):\n"
    "  GET /tdx/certification/v4/tcb?fmspc=HEX     {\"tcbInfo\":…,\"signature\":…}; headers\n"
    "      (also /sgx/…)                            TCB-Info-Issuer-Chain and\n"
    "                                               SGX-TCB-Info-Issuer-Chain\n"
    "  GET /tdx/certification/v4/qe/identity        {\"enclaveIdentity\":…,\"signature\":…};\n"
    "      (also /sgx/…)                            header SGX-Enclave-Identity-Issuer-Chain\n"
    "  GET /sgx/certification/v4/pckcrl?ca=platform|processor[&encoding=der]\n"
    "                                               DER (PEM without encoding=der); header\n"
    "                                               SGX-PCK-CRL-Issuer-Chain\n"
    "  GET /sgx/certification/v4/rootcacrl          the root CA CRL DER as hex text\n"
    "  GET /IntelSGXRootCA.der                      the root CA CRL as DER (the CDP form)\n"
    "A wrong fmspc or ca gives 404, a missing one 400; other paths 404.\n"
    "\n"
    "  --port N                port (0, the default, picks a free one)\n"
    "  --port-file FILE        write the bound port there once listening\n"
    "  --collateral FILE       serve this collateral JSON (re-read on every request)\n"
    "                          instead of collateral made at start-up from --pki\n"
    "  --fail-after K          answer K requests, then 503 to every later one\n"
    "  --hang                  with --fail-after K: hang (never answer) instead of 503;\n"
    "                          alone: hang from the first request\n"
    "  --pcs-mode              behave like Intel PCS: no /sgx/certification/v4/rootcacrl\n"
    "                          (404); the root CRL only at /IntelSGXRootCA.der\n"
    "Prints \"listening on 127.0.0.1:PORT\" on stdout, one line per request on stderr.\n"
    "Collateral options (with --pki; --now defaults to the current time):\n";

struct server {
	struct sim_pki pki;
	struct sim_collateral_spec spec;
	const char *collateral_file;
	struct sim_collateral col; /* generated at start-up (no --collateral) */
	int pcs_mode, hang;
	long fail_after; /* -1: never */
	long requests;
	struct event_base *base;
};

static void log_req(struct evhttp_request *req, int code)
{
	fprintf(stderr, "simtee serve: %s %s -> %d\n",
		evhttp_request_get_command(req) == EVHTTP_REQ_GET ? "GET" : "other",
		evhttp_request_get_uri(req), code);
	fflush(stderr);
}

static void reply(struct evhttp_request *req, int code, const char *ctype, const void *body,
		  size_t len)
{
	struct evbuffer *b = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	if (ctype)
		evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Connection", "close");
	if (b && len)
		evbuffer_add(b, body, len);
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
	evbuffer_free(b);
	log_req(req, code);
}

static void reply_text(struct evhttp_request *req, int code, const char *msg)
{
	reply(req, code, "text/plain", msg, strlen(msg));
}

static int add_chain_header(struct evhttp_request *req, const char *name, const struct buf *pem)
{
	char *enc = evhttp_uriencode((const char *)pem->p, (ev_ssize_t)pem->len, 0);
	int rc = enc ? evhttp_add_header(evhttp_request_get_output_headers(req), name, enc) : -1;
	free(enc);
	return rc;
}

/* The fmspc inside the signed tcbInfo text. */
static int tcb_fmspc(const struct buf *tcb_info, char out[13])
{
	json_error_t je;
	json_t *o = json_loadb((const char *)tcb_info->p, tcb_info->len, 0, &je);
	const char *f = json_string_value(json_object_get(o, "fmspc"));
	int ok = f && strlen(f) == 12;
	if (ok)
		memcpy(out, f, 13);
	json_decref(o);
	return ok ? 0 : -1;
}

static void serve_signed(struct evhttp_request *req, const char *key, const struct buf *text,
			 const struct buf *sig, const char *const hdrs[], const struct buf *chain)
{
	struct buf body = BUF_INIT;
	if (buf_printf(&body, "{\"%s\":", key) < 0 || buf_append(&body, text->p, text->len) < 0 ||
	    buf_append_str(&body, ",\"signature\":\"") < 0 ||
	    hex_append(&body, sig->p, sig->len) < 0 || buf_append_str(&body, "\"}") < 0) {
		buf_free(&body);
		reply_text(req, 500, "out of memory");
		return;
	}
	for (int i = 0; hdrs[i]; i++)
		if (add_chain_header(req, hdrs[i], chain) < 0) {
			buf_free(&body);
			reply_text(req, 500, "header");
			return;
		}
	reply(req, 200, "application/json", body.p, body.len);
	buf_free(&body);
}

static void serve_crl_pem(struct evhttp_request *req, const struct buf *der)
{
	const unsigned char *dp = der->p;
	X509_CRL *crl = d2i_X509_CRL(NULL, &dp, (long)der->len);
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	if (crl && b && PEM_write_bio_X509_CRL(b, crl) == 1 && (n = BIO_get_mem_data(b, &p)) > 0)
		reply(req, 200, "application/x-pem-file", p, (size_t)n);
	else
		reply_text(req, 500, "CRL");
	BIO_free(b);
	X509_CRL_free(crl);
}

static void route(struct server *s, struct evhttp_request *req, const struct sim_collateral *c)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(uri);
	const char *query = evhttp_uri_get_query(uri);
	struct evkeyvalq q;
	TAILQ_INIT(&q);
	if (query && evhttp_parse_query_str(query, &q) < 0) {
		reply_text(req, 400, "bad query");
		return;
	}
	const char *sgx = "/sgx/certification/v4", *tdx = "/tdx/certification/v4";
	const char *tail = NULL;
	if (path && !strncmp(path, sgx, strlen(sgx)))
		tail = path + strlen(sgx);
	else if (path && !strncmp(path, tdx, strlen(tdx)))
		tail = path + strlen(tdx);

	if (path && !strcmp(path, "/IntelSGXRootCA.der")) {
		reply(req, 200, "application/pkix-crl", c->root_ca_crl.p, c->root_ca_crl.len);
	} else if (tail && !strcmp(tail, "/rootcacrl") && path[1] == 's' && !s->pcs_mode) {
		struct buf h = BUF_INIT;
		if (hex_append(&h, c->root_ca_crl.p, c->root_ca_crl.len) == 0)
			reply(req, 200, "text/plain", h.p, h.len);
		else
			reply_text(req, 500, "out of memory");
		buf_free(&h);
	} else if (tail && !strcmp(tail, "/pckcrl") && path[1] == 's') {
		const char *ca = evhttp_find_header(&q, "ca");
		const char *enc = evhttp_find_header(&q, "encoding");
		/* Which CA this PCK CRL belongs to: "Platform" in its issuer CN, or not. */
		const unsigned char *dp = c->pck_crl.p;
		X509_CRL *crl = d2i_X509_CRL(NULL, &dp, (long)c->pck_crl.len);
		char cn[256] = "";
		if (crl)
			X509_NAME_get_text_by_NID(X509_CRL_get_issuer(crl), NID_commonName, cn,
						  sizeof cn);
		X509_CRL_free(crl);
		int processor = strstr(cn, "Platform") == NULL;
		if (!ca) {
			reply_text(req, 400, "missing ca");
		} else if (strcasecmp(ca, processor ? "processor" : "platform") != 0) {
			reply_text(req, 404, "no such CA");
		} else if (add_chain_header(req, "SGX-PCK-CRL-Issuer-Chain",
					    &c->pck_crl_issuer_chain) < 0) {
			reply_text(req, 500, "header");
		} else if (enc && !strcasecmp(enc, "der")) {
			reply(req, 200, "application/pkix-crl", c->pck_crl.p, c->pck_crl.len);
		} else {
			serve_crl_pem(req, &c->pck_crl);
		}
	} else if (tail && !strcmp(tail, "/tcb")) {
		static const char *const hdrs[] = {"TCB-Info-Issuer-Chain",
						   "SGX-TCB-Info-Issuer-Chain", NULL};
		const char *fmspc = evhttp_find_header(&q, "fmspc");
		char ours[13];
		if (!fmspc)
			reply_text(req, 400, "missing fmspc");
		else if (tcb_fmspc(&c->tcb_info, ours) < 0)
			reply_text(req, 500, "tcbInfo has no fmspc");
		else if (strcasecmp(fmspc, ours) != 0)
			reply_text(req, 404, "unknown fmspc");
		else
			serve_signed(req, "tcbInfo", &c->tcb_info, &c->tcb_info_signature, hdrs,
				     &c->tcb_info_issuer_chain);
	} else if (tail && !strcmp(tail, "/qe/identity")) {
		static const char *const hdrs[] = {"SGX-Enclave-Identity-Issuer-Chain", NULL};
		serve_signed(req, "enclaveIdentity", &c->qe_identity, &c->qe_identity_signature,
			     hdrs, &c->qe_identity_issuer_chain);
	} else {
		reply_text(req, 404, "not found");
	}
	evhttp_clear_headers(&q);
}

static void handle(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	s->requests++;
	if (s->fail_after >= 0 && s->requests > s->fail_after) {
		if (s->hang) {
			log_req(req, 0); /* never answered */
			return;
		}
		reply_text(req, 503, "simulated outage");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		reply_text(req, 405, "GET only");
		return;
	}
	if (!s->collateral_file) {
		route(s, req, &s->col);
		return;
	}
	struct err err = {{0}};
	struct buf b = BUF_INIT;
	struct sim_collateral c;
	if (sim_read_file(s->collateral_file, &b, &err) < 0 ||
	    sim_collateral_from_json((const char *)b.p, b.len, &c, &err) < 0) {
		fprintf(stderr, "simtee serve: %s\n", err_msg(&err));
		reply_text(req, 500, "collateral unavailable");
	} else {
		route(s, req, &c);
		sim_collateral_free(&c);
	}
	buf_free(&b);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static int run(struct server *s, long port, const char *port_file, struct err *err)
{
	struct evhttp *http = NULL;
	struct event *sigterm = NULL, *sigint = NULL;
	int rc = -1;
	signal(SIGPIPE, SIG_IGN);
	if (!(s->base = event_base_new()) || !(http = evhttp_new(s->base))) {
		err_set(err, "libevent initialisation failed");
		goto out;
	}
	evhttp_set_timeout(http, 3600); /* hung requests stay open */
	evhttp_set_gencb(http, handle, s);
	struct evhttp_bound_socket *bs =
	    evhttp_bind_socket_with_handle(http, "127.0.0.1", (ev_uint16_t)port);
	if (!bs) {
		err_set(err, "cannot listen on 127.0.0.1:%ld", port);
		goto out;
	}
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &sl) < 0) {
		err_set(err, "getsockname failed");
		goto out;
	}
	unsigned bound = ntohs(sa.sin_port);
	if (port_file) {
		char t[16];
		int n = snprintf(t, sizeof t, "%u\n", bound);
		TRY_OUT(sim_write_file(port_file, t, (size_t)n, 0, err));
	}
	printf("listening on 127.0.0.1:%u\n", bound);
	fflush(stdout);
	sigterm = evsignal_new(s->base, SIGTERM, on_signal, s->base);
	sigint = evsignal_new(s->base, SIGINT, on_signal, s->base);
	if (!sigterm || !sigint || evsignal_add(sigterm, NULL) < 0 ||
	    evsignal_add(sigint, NULL) < 0) {
		err_set(err, "signal handlers");
		goto out;
	}
	event_base_dispatch(s->base);
	rc = 0;
out:
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (http)
		evhttp_free(http);
	if (s->base)
		event_base_free(s->base);
	return rc;
}

int sim_cmd_serve(int argc, char **argv)
{
	struct err err = {{0}};
	struct server s;
	const char *dir = NULL, *port_file = NULL, *v;
	long port = 0;
	int rc = 1, r;
	uint64_t u;
	memset(&s, 0, sizeof s);
	s.fail_after = -1;

	struct sim_args a = {argc, argv, 1};
	for (; a.i < argc; a.i++) {
		const char *arg = argv[a.i];
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			fputs(SERVE_HELP_HEAD, stdout);
			fputs(SIM_COLLATERAL_OPTS_HELP, stdout);
			return 0;
		}
		if ((r = sim_opt_val(&a, "--pki", &dir, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--collateral", &s.collateral_file, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--port-file", &port_file, &err)) != 0 ||
		    (r = sim_opt_flag(&a, "--hang", &s.hang)) != 0 ||
		    (r = sim_opt_flag(&a, "--pcs-mode", &s.pcs_mode)) != 0 ||
		    (r = sim_collateral_opt(&a, &s.spec, &err)) != 0) {
			if (r < 0)
				return sim_usage("serve", "%s", err_msg(&err));
			continue;
		}
		if ((r = sim_opt_val(&a, "--port", &v, &err)) != 0) {
			if (r < 0 || sim_parse_u64(v, 65535, &u, &err) < 0)
				return sim_usage("serve", "--port: %s", err_msg(&err));
			port = (long)u;
			continue;
		}
		if ((r = sim_opt_val(&a, "--fail-after", &v, &err)) != 0) {
			if (r < 0 || sim_parse_u64(v, 1u << 30, &u, &err) < 0)
				return sim_usage("serve", "--fail-after: %s", err_msg(&err));
			s.fail_after = (long)u;
			continue;
		}
		return sim_usage("serve", "unknown option '%s'", arg);
	}
	if (!dir && !s.collateral_file)
		return sim_usage("serve", "--pki or --collateral is required");
	if (s.hang && s.fail_after < 0)
		s.fail_after = 0;
	if (dir) {
		if (sim_pki_load(dir, &s.pki, &err) < 0)
			return sim_fail("serve", &err);
	}
	if (!s.collateral_file) {
		if (!s.spec.have_now) {
			s.spec.now = (int64_t)time(NULL);
			s.spec.have_now = 1;
		}
		if (sim_collateral_build(&s.pki, &s.spec, &s.col, &err) < 0) {
			rc = sim_fail("serve", &err);
			goto done;
		}
	}
	rc = run(&s, port, port_file, &err) < 0 ? sim_fail("serve", &err) : 0;
done:
	sim_collateral_free(&s.col);
	sim_pki_free(&s.pki);
	return rc;
}
