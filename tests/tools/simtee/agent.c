/*
 * agent.c — `simtee agent`: a simulated dstack guest agent for tests and
 * demos (kms-protocol §12.7). It answers `Attest` with a fresh simtee quote
 * whose REPORTDATA is the 64 bytes asked for, wrapped in a V0 attestation
 * (runtime events of the configured identity, the configured config), and
 * `Info` with a vm_config. Listens on a Unix socket or on 127.0.0.1.
 * TEST-ONLY (see simtee.h): never installed, its quotes verify only against
 * the mock PKI's root.
 */
#include "simtee.h"

#include "util/hex.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *const AGENT_HELP_HEAD =
    "usage: simtee agent --pki DIR (--listen unix:PATH | --port N) [options]\n"
    "\n"
    "A simulated dstack guest agent (prpc JSON over HTTP/1.1):\n"
    "  POST /Attest?json  {\"report_data\":\"<hex, up to 64 bytes>\"}\n"
    "                     -> {\"attestation\":\"<hex V0 VersionedAttestation>\"}\n"
    "  POST /Info?json    -> {\"app_id\",\"instance_id\",\"vm_config\"}\n"
    "(also under /prpc/ and /prpc/Tappd. / /prpc/DstackGuest.). Each Attest makes a\n"
    "fresh quote signed by the mock PKI with the identity given below.\n"
    "  --listen unix:PATH      serve on this Unix socket (removed first if stale)\n"
    "  --port N                serve on 127.0.0.1:N (0 picks a free port)\n"
    "  --port-file FILE        write the bound port there once listening\n"
    "  --config TEXT           the attestation's embedded config (VmConfig JSON)\n"
    "  --vm-config TEXT        what Info answers as vm_config (default: --config)\n"
    "  --fail-attest           answer every Attest with 500 (an agent that cannot quote)\n"
    "Prints \"listening on ADDRESS\" on stdout, one line per request on stderr.\n"
    "Quote options (identity, registers; not --report-data):\n";

struct agent {
	struct sim_pki pki;
	struct sim_quote_spec spec;
	struct buf config;
	const char *vm_config;
	int fail_attest;
	unsigned long n;
};

static void reply(struct evhttp_request *req, int code, const char *type, const char *body)
{
	struct evbuffer *b = evbuffer_new();
	if (b)
		evbuffer_add(b, body, strlen(body));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
	if (b)
		evbuffer_free(b);
}

static int body_json(struct evhttp_request *req, json_t **out)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	if (n > 65536)
		return -1;
	char *p = (char *)evbuffer_pullup(in, (ev_ssize_t)n);
	json_error_t je;
	*out = n ? json_loadb(p, n, 0, &je) : json_null();
	return *out ? 0 : -1;
}

static void attest(struct agent *s, struct evhttp_request *req)
{
	struct err err = {{0}};
	json_t *j = NULL;
	struct buf rd = BUF_INIT, quote = BUF_INIT, att = BUF_INIT, boot = BUF_INIT;
	char *hex = NULL;
	if (s->fail_attest) {
		reply(req, 500, "text/plain", "simulated agent: quote generation failed");
		return;
	}
	const char *rdh = NULL;
	if (body_json(req, &j) < 0 ||
	    !(rdh = json_string_value(json_object_get(j, "report_data"))) ||
	    hex_decode(rdh, strlen(rdh), &rd) < 0 || rd.len > 64) {
		reply(req, 400, "text/plain", "report_data: expected hex of at most 64 bytes");
		goto out;
	}
	memset(s->spec.report_data, 0, 64);
	if (rd.len)
		memcpy(s->spec.report_data, rd.p, rd.len);
	s->spec.have_report_data = 1;
	if (sim_quote_build(&s->pki, &s->spec, &quote, &err) < 0 ||
	    sim_attestation_v0(&quote, &boot, 0, &s->spec.events, s->spec.report_data, &s->config,
			       &att) < 0 ||
	    !(hex = malloc(att.len * 2 + 32))) {
		fprintf(stderr, "simtee agent: %s\n", err_msg(&err));
		reply(req, 500, "text/plain", "simulated agent: cannot build the attestation");
		goto out;
	}
	int k = sprintf(hex, "{\"attestation\":\"");
	hex_encode(att.p, att.len, hex + k);
	strcat(hex, "\"}");
	reply(req, 200, "application/json", hex);
out:
	json_decref(j);
	free(hex);
	buf_free(&rd);
	buf_free(&quote);
	buf_free(&att);
	buf_free(&boot);
}

static void info(struct agent *s, struct evhttp_request *req)
{
	char app[41] = "", inst[41] = "";
	if (s->spec.app_id.len <= 20)
		hex_encode(s->spec.app_id.p, s->spec.app_id.len, app);
	if (s->spec.instance_id.len <= 20)
		hex_encode(s->spec.instance_id.p, s->spec.instance_id.len, inst);
	json_t *o = json_pack("{s:s,s:s,s:s}", "app_id", app, "instance_id", inst, "vm_config",
			      s->vm_config ? s->vm_config : buf_str(&s->config));
	char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (t)
		reply(req, 200, "application/json", t);
	else
		reply(req, 500, "text/plain", "out of memory");
	free(t);
	json_decref(o);
}

/* the method name of /Attest, /prpc/Attest, /prpc/Tappd.Attest, ... */
static const char *method_of(const char *path)
{
	if (!strncmp(path, "/prpc/", 6))
		path += 5;
	const char *m = strrchr(path, '.');
	const char *sl = strrchr(path, '/');
	return m && m > sl ? m + 1 : sl ? sl + 1 : path;
}

static void handle(struct evhttp_request *req, void *arg)
{
	struct agent *s = arg;
	const char *uri = evhttp_request_get_uri(req);
	char path[256];
	size_t n = strcspn(uri, "?");
	snprintf(path, sizeof path, "%.*s", (int)(n < 255 ? n : 255), uri);
	const char *m = method_of(path);
	s->n++;
	fprintf(stderr, "simtee agent: #%lu %s\n", s->n, path);
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST)
		reply(req, 405, "text/plain", "POST only");
	else if (!strcmp(m, "Attest"))
		attest(s, req);
	else if (!strcmp(m, "Info"))
		info(s, req);
	else
		reply(req, 404, "text/plain", "no such method");
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static int run(struct agent *s, const char *listen_at, long port, const char *port_file,
	       struct err *err)
{
	struct event_base *base = event_base_new();
	struct evhttp *http = base ? evhttp_new(base) : NULL;
	struct event *sigterm = NULL, *sigint = NULL;
	int rc = -1;
	char where[200];
	signal(SIGPIPE, SIG_IGN);
	if (!http) {
		err_set(err, "libevent initialisation failed");
		goto out;
	}
	evhttp_set_gencb(http, handle, s);
	if (listen_at) {
		const char *path = listen_at + 5;
		struct sockaddr_un su;
		memset(&su, 0, sizeof su);
		su.sun_family = AF_UNIX;
		if (strlen(path) >= sizeof su.sun_path) {
			err_set(err, "--listen: socket path too long");
			goto out;
		}
		strcpy(su.sun_path, path);
		unlink(path);
		struct evconnlistener *l = evconnlistener_new_bind(
		    base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 64,
		    (struct sockaddr *)&su, (int)sizeof su);
		if (!l || !evhttp_bind_listener(http, l)) {
			err_set(err, "cannot listen on %s: %s", listen_at, strerror(errno));
			goto out;
		}
		snprintf(where, sizeof where, "%s", listen_at);
	} else {
		struct evhttp_bound_socket *bs =
		    evhttp_bind_socket_with_handle(http, "127.0.0.1", (ev_uint16_t)port);
		struct sockaddr_in sa;
		socklen_t sl = sizeof sa;
		if (!bs ||
		    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &sl) < 0) {
			err_set(err, "cannot listen on 127.0.0.1:%ld", port);
			goto out;
		}
		snprintf(where, sizeof where, "http://127.0.0.1:%u", ntohs(sa.sin_port));
		if (port_file) {
			char t[16];
			int k = snprintf(t, sizeof t, "%u\n", ntohs(sa.sin_port));
			TRY_OUT(sim_write_file(port_file, t, (size_t)k, 0, err));
		}
	}
	printf("listening on %s\n", where);
	fflush(stdout);
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	if (!sigterm || !sigint || evsignal_add(sigterm, NULL) < 0 ||
	    evsignal_add(sigint, NULL) < 0) {
		err_set(err, "signal handlers");
		goto out;
	}
	event_base_dispatch(base);
	if (listen_at)
		unlink(listen_at + 5);
	rc = 0;
out:
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (http)
		evhttp_free(http);
	if (base)
		event_base_free(base);
	return rc;
}

int sim_cmd_agent(int argc, char **argv)
{
	struct err err = {{0}};
	struct agent s;
	const char *dir = NULL, *listen_at = NULL, *port_file = NULL, *config = NULL, *v;
	long port = -1;
	int rc = 1, r;
	uint64_t u;
	memset(&s, 0, sizeof s);
	sim_quote_spec_init(&s.spec);

	struct sim_args a = {argc, argv, 1};
	for (; a.i < argc; a.i++) {
		const char *arg = argv[a.i];
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			fputs(AGENT_HELP_HEAD, stdout);
			fputs(SIM_QUOTE_OPTS_HELP, stdout);
			rc = 0;
			goto done;
		}
		if (!strcmp(arg, "--report-data") || !strncmp(arg, "--report-data=", 14)) {
			rc = sim_usage("agent", "--report-data comes from each Attest request");
			goto done;
		}
		if ((r = sim_opt_val(&a, "--pki", &dir, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--listen", &listen_at, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--port-file", &port_file, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--config", &config, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--vm-config", &s.vm_config, &err)) != 0 ||
		    (r = sim_opt_flag(&a, "--fail-attest", &s.fail_attest)) != 0 ||
		    (r = sim_quote_opt(&a, &s.spec, &err)) != 0) {
			if (r < 0) {
				rc = sim_usage("agent", "%s", err_msg(&err));
				goto done;
			}
			continue;
		}
		if ((r = sim_opt_val(&a, "--port", &v, &err)) != 0) {
			if (r < 0 || sim_parse_u64(v, 65535, &u, &err) < 0) {
				rc = sim_usage("agent", "--port: %s", err_msg(&err));
				goto done;
			}
			port = (long)u;
			continue;
		}
		rc = sim_usage("agent", "unknown option '%s'", arg);
		goto done;
	}
	if (!dir || (!listen_at) == (port < 0)) {
		rc = sim_usage("agent",
			       "--pki and one of --listen unix:PATH or --port N are required");
		goto done;
	}
	if (listen_at && strncmp(listen_at, "unix:/", 6) != 0) {
		rc = sim_usage("agent", "--listen takes unix:/absolute/path");
		goto done;
	}
	if (config && buf_append_str(&s.config, config) < 0) {
		err_set(&err, "out of memory");
		rc = sim_fail("agent", &err);
		goto done;
	}
	if (sim_pki_load(dir, &s.pki, &err) < 0 || sim_quote_resolve_events(&s.spec, &err) < 0 ||
	    run(&s, listen_at, port, port_file, &err) < 0) {
		rc = sim_fail("agent", &err);
		goto done;
	}
	rc = 0;
done:
	sim_quote_spec_free(&s.spec);
	sim_pki_free(&s.pki);
	buf_free(&s.config);
	return rc;
}
