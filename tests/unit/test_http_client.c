/*
 * test_http_client.c — the libcurl wrapper against a real local server
 * (mini_httpd on 127.0.0.1): request exactness, keep-alive reuse, body cap,
 * timeouts, refused connections, URL redaction in errors, redirects, and TLS
 * (CA file/PEM, skip-verify, client certificate, leaf capture, SSL_CTX hook)
 * with a PKI made by the openssl CLI.
 */
#include "harness.h"
#include "mini_httpd.h"

#include "net/http_client.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fs.h"

#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct http_request get_req(const char *url)
{
	struct http_request r = {
	    .method = "GET",
	    .url = url,
	    .connect_timeout_ms = 2000,
	    .timeout_ms = 5000,
	    .max_response_bytes = 1 << 20,
	};
	return r;
}

TEST(test_http_client_global_init_is_idempotent)
{
	struct err err;
	CHECK_OK(http_client_global_init(&err), &err);
	CHECK_OK(http_client_global_init(&err), &err);
}

TEST(test_http_status_text_matches_rust_status_display)
{
	char s[64];
	http_status_text(200, s, sizeof s);
	CHECK_EQ_STR(s, "200 OK");
	http_status_text(404, s, sizeof s);
	CHECK_EQ_STR(s, "404 Not Found");
	http_status_text(429, s, sizeof s);
	CHECK_EQ_STR(s, "429 Too Many Requests");
	http_status_text(599, s, sizeof s);
	CHECK_EQ_STR(s, "599 <unknown status code>");
}

TEST(test_http_client_get_returns_status_body_and_captured_headers)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	struct mini_httpd_reply r = {.status = 404, .body = "{\"x\":1}", .content_type = "text/x"};
	mini_httpd_push(s, &r);
	struct err err;
	struct http_client *c = http_client_new(NULL, &err);
	CHECK_OK(c ? 0 : -1, &err);
	char url[128];
	snprintf(url, sizeof url, "%s/some/path?q=1", mini_httpd_url(s));
	const char *want[] = {"content-type", "X-Test-Header", "X-Absent"};
	struct http_request req = get_req(url);
	req.capture_headers = want;
	req.n_capture_headers = 3;
	struct http_response resp;
	CHECK_OK(http_client_do(c, &req, &resp, &err), &err);
	CHECK_EQ_INT(resp.status, 404);
	CHECK_EQ_STR(buf_str(&resp.body), "{\"x\":1}");
	CHECK_EQ_STR(http_response_header(&resp, "Content-Type"), "text/x");
	CHECK_EQ_STR(http_response_header(&resp, "x-test-header"), "hello");
	CHECK(http_response_header(&resp, "X-Absent") == NULL);
	CHECK_EQ_INT(resp.new_connections, 1);
	http_response_free(&resp);

	struct mini_httpd_request got;
	CHECK(mini_httpd_get_request(s, 0, &got) == 0);
	CHECK_EQ_STR(got.method, "GET");
	CHECK_EQ_STR(got.target, "/some/path?q=1");
	char ua[128];
	CHECK(mini_httpd_header(&got, "User-Agent", ua, sizeof ua));
	CHECK_EQ_STR(ua, "dstack-kms/0.6.0");
	CHECK_EQ_INT(got.body_len, 0);
	mini_httpd_request_free(&got);
	http_client_free(c);
	mini_httpd_stop(s);
}

TEST(test_http_client_post_sends_exact_body_headers_without_expect)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	struct err err;
	struct http_client_opts opts = {.user_agent = "unit-agent/1"};
	struct http_client *c = http_client_new(&opts, &err);
	CHECK_OK(c ? 0 : -1, &err);
	/* Over 1 MiB: libcurl would add "Expect: 100-continue" and stall a second. */
	size_t blen = 1536 * 1024;
	char *body = malloc(blen + 1);
	CHECK(body);
	memset(body, 'z', blen);
	body[blen] = '\0';
	body[0] = '{';
	struct http_header hdrs[] = {{"Content-Type", "application/json"}, {"X-Empty", ""}};
	char url[128];
	snprintf(url, sizeof url, "%s/post", mini_httpd_url(s));
	struct http_request req = get_req(url);
	req.method = "POST";
	req.headers = hdrs;
	req.n_headers = 2;
	req.body = body;
	req.body_len = strlen(body);
	struct http_response resp;
	CHECK_OK(http_client_do(c, &req, &resp, &err), &err);
	CHECK_EQ_INT(resp.status, 200);
	http_response_free(&resp);

	struct mini_httpd_request got;
	CHECK(mini_httpd_get_request(s, 0, &got) == 0);
	CHECK_EQ_STR(got.method, "POST");
	CHECK_EQ_STR(got.target, "/post");
	CHECK_EQ_INT(got.body_len, strlen(body));
	CHECK(memcmp(got.body, body, got.body_len) == 0);
	char v[128];
	CHECK(mini_httpd_header(&got, "Content-Type", v, sizeof v));
	CHECK_EQ_STR(v, "application/json");
	CHECK(mini_httpd_header(&got, "User-Agent", v, sizeof v));
	CHECK_EQ_STR(v, "unit-agent/1");
	CHECK(mini_httpd_header(&got, "X-Empty", v, sizeof v));
	CHECK_EQ_STR(v, "");
	CHECK(!mini_httpd_header(&got, "Expect", v, sizeof v));
	mini_httpd_request_free(&got);
	free(body);
	http_client_free(c);
	mini_httpd_stop(s);
}

TEST(test_http_client_other_methods_are_sent_verbatim)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	struct err err;
	struct http_client *c = http_client_new(NULL, &err);
	CHECK_OK(c ? 0 : -1, &err);
	const char *methods[] = {"PUT", "DELETE", "HEAD"};
	for (int i = 0; i < 3; i++) {
		struct http_request req = get_req(mini_httpd_url(s));
		req.method = methods[i];
		struct http_response resp;
		CHECK_OK(http_client_do(c, &req, &resp, &err), &err);
		CHECK_EQ_INT(resp.status, 200);
		http_response_free(&resp);
		struct mini_httpd_request got;
		CHECK(mini_httpd_get_request(s, i, &got) == 0);
		CHECK_EQ_STR(got.method, methods[i]);
		mini_httpd_request_free(&got);
	}
	struct http_request bad = get_req(mini_httpd_url(s));
	bad.method = "GET /x HTTP/1.1\r\n";
	struct http_response resp;
	CHECK_FAILS(http_client_do(c, &bad, &resp, &err));
	CHECK_EQ_INT(resp.failure, HTTP_FAIL_INVALID);
	http_response_free(&resp);
	http_client_free(c);
	mini_httpd_stop(s);
}

TEST(test_http_client_reuses_one_keepalive_connection)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	struct err err;
	struct http_client *c = http_client_new(NULL, &err);
	CHECK_OK(c ? 0 : -1, &err);
	for (int i = 0; i < 5; i++) {
		struct http_request req = get_req(mini_httpd_url(s));
		struct http_response resp;
		CHECK_OK(http_client_do(c, &req, &resp, &err), &err);
		CHECK_EQ_INT(resp.new_connections, i == 0 ? 1 : 0);
		http_response_free(&resp);
	}
	CHECK_EQ_INT(mini_httpd_nrequests(s), 5);
	CHECK_EQ_INT(mini_httpd_connections(s), 1);
	http_client_free(c);
	mini_httpd_stop(s);
}

TEST(test_http_client_reconnects_after_server_closes)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	struct mini_httpd_reply r = {.body = "first", .close = 1};
	mini_httpd_push(s, &r);
	struct err err;
	struct http_client *c = http_client_new(NULL, &err);
	CHECK_OK(c ? 0 : -1, &err);
	for (int i = 0; i < 2; i++) {
		struct http_request req = get_req(mini_httpd_url(s));
		struct http_response resp;
		CHECK_OK(http_client_do(c, &req, &resp, &err), &err);
		CHECK_EQ_STR(buf_str(&resp.body), i == 0 ? "first" : "{}");
		http_response_free(&resp);
	}
	CHECK_EQ_INT(mini_httpd_connections(s), 2);
	http_client_free(c);
	mini_httpd_stop(s);
}

TEST(test_http_client_body_cap_fails_cleanly_and_client_recovers)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	struct mini_httpd_reply big = {.fill_bytes = 200000};
	mini_httpd_push(s, &big);
	struct mini_httpd_reply exact = {.fill_bytes = 1000};
	mini_httpd_push(s, &exact);
	struct err err;
	struct http_client *c = http_client_new(NULL, &err);
	CHECK_OK(c ? 0 : -1, &err);
	struct http_request req = get_req(mini_httpd_url(s));
	req.max_response_bytes = 1000;
	struct http_response resp;
	CHECK_FAILS(http_client_do(c, &req, &resp, &err));
	CHECK_EQ_INT(resp.failure, HTTP_FAIL_TOO_LARGE);
	char want[128];
	snprintf(want, sizeof want, "%s: response body exceeds 1000 bytes", mini_httpd_url(s));
	CHECK_EQ_STR(err.msg, want);
	http_response_free(&resp);
	/* A body of exactly the cap is fine. */
	CHECK_OK(http_client_do(c, &req, &resp, &err), &err);
	CHECK_EQ_INT(resp.body.len, 1000);
	http_response_free(&resp);
	http_client_free(c);
	mini_httpd_stop(s);
}

TEST(test_http_client_connection_refused_is_quick_and_clear)
{
	int port = mini_httpd_unused_port();
	CHECK(port > 0);
	char url[128], want[128];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/path", port);
	snprintf(want, sizeof want, "http://127.0.0.1:%d unreachable: Connection refused", port);
	struct err err;
	struct http_client *c = http_client_new(NULL, &err);
	CHECK_OK(c ? 0 : -1, &err);
	struct http_request req = get_req(url);
	struct http_response resp;
	double t0 = now_s();
	CHECK_FAILS(http_client_do(c, &req, &resp, &err));
	CHECK(now_s() - t0 < 2.0);
	CHECK_EQ_INT(resp.failure, HTTP_FAIL_CONNECT);
	CHECK_EQ_INT(resp.status, 0);
	CHECK_EQ_STR(err.msg, want);
	http_response_free(&resp);
	http_client_free(c);
}

TEST(test_http_client_hanging_server_times_out_within_bound)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	struct mini_httpd_reply hang = {.hang = 1};
	mini_httpd_set_default(s, &hang);
	struct err err;
	struct http_client *c = http_client_new(NULL, &err);
	CHECK_OK(c ? 0 : -1, &err);
	struct http_request req = get_req(mini_httpd_url(s));
	req.timeout_ms = 300;
	struct http_response resp;
	double t0 = now_s();
	CHECK_FAILS(http_client_do(c, &req, &resp, &err));
	double dt = now_s() - t0;
	CHECK(dt >= 0.25 && dt < 2.0);
	CHECK_EQ_INT(resp.failure, HTTP_FAIL_TIMEOUT);
	char want[128];
	snprintf(want, sizeof want, "%s timed out after 300 ms", mini_httpd_url(s));
	CHECK_EQ_STR(err.msg, want);
	http_response_free(&resp);
	http_client_free(c);
	mini_httpd_stop(s);
}

TEST(test_http_client_slow_server_within_timeout_succeeds)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	struct mini_httpd_reply slow = {.body = "late", .delay_ms = 100};
	mini_httpd_push(s, &slow);
	struct err err;
	struct http_client *c = http_client_new(NULL, &err);
	CHECK_OK(c ? 0 : -1, &err);
	struct http_request req = get_req(mini_httpd_url(s));
	req.timeout_ms = 3000;
	struct http_response resp;
	CHECK_OK(http_client_do(c, &req, &resp, &err), &err);
	CHECK_EQ_STR(buf_str(&resp.body), "late");
	http_response_free(&resp);
	http_client_free(c);
	mini_httpd_stop(s);
}

TEST(test_http_client_requires_timeouts_cap_and_http_scheme)
{
	struct err err;
	struct http_client *c = http_client_new(NULL, &err);
	CHECK_OK(c ? 0 : -1, &err);
	struct http_response resp;
	struct http_request req = get_req("http://127.0.0.1:1/");
	req.timeout_ms = 0;
	CHECK_FAILS(http_client_do(c, &req, &resp, &err));
	CHECK_EQ_INT(resp.failure, HTTP_FAIL_INVALID);
	CHECK_CONTAINS(err.msg, "timeouts must be set");
	req = get_req("http://127.0.0.1:1/");
	req.connect_timeout_ms = 0;
	CHECK_FAILS(http_client_do(c, &req, &resp, &err));
	req = get_req("http://127.0.0.1:1/");
	req.max_response_bytes = 0;
	CHECK_FAILS(http_client_do(c, &req, &resp, &err));
	CHECK_CONTAINS(err.msg, "size cap");
	const char *bad[] = {"ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://h/",
			     "127.0.0.1:80/"};
	for (size_t i = 0; i < 4; i++) {
		req = get_req(bad[i]);
		CHECK_FAILS(http_client_do(c, &req, &resp, &err));
		CHECK_EQ_INT(resp.failure, HTTP_FAIL_INVALID);
		CHECK(strstr(err.msg, "passwd") == NULL);
	}
	http_response_free(&resp);
	http_client_free(c);
}

TEST(test_http_client_rejects_header_injection)
{
	struct err err;
	struct http_client *c = http_client_new(NULL, &err);
	CHECK_OK(c ? 0 : -1, &err);
	struct http_header h1[] = {{"X-A", "v\r\nInjected: 1"}};
	struct http_header h2[] = {{"Bad Name", "v"}};
	struct http_header h3[] = {{"X:Y", "v"}};
	const struct http_header *sets[] = {h1, h2, h3};
	for (int i = 0; i < 3; i++) {
		struct http_request req = get_req("http://127.0.0.1:1/");
		req.headers = sets[i];
		req.n_headers = 1;
		struct http_response resp;
		CHECK_FAILS(http_client_do(c, &req, &resp, &err));
		CHECK_EQ_INT(resp.failure, HTTP_FAIL_INVALID);
		http_response_free(&resp);
	}
	http_client_free(c);
}

TEST(test_http_client_errors_never_contain_path_query_or_userinfo)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	struct mini_httpd_reply hang = {.hang = 1};
	mini_httpd_set_default(s, &hang);
	int port = mini_httpd_unused_port();
	char urls[2][256];
	snprintf(urls[0], sizeof urls[0],
		 "http://alice:hunter2@127.0.0.1:%d/v2/SECRETKEY/rpc?apikey=SECRETQ", port);
	snprintf(urls[1], sizeof urls[1],
		 "http://alice:hunter2@127.0.0.1:%d/v2/SECRETKEY?k=SECRETQ", mini_httpd_port(s));
	struct err err;
	struct http_client *c = http_client_new(NULL, &err);
	CHECK_OK(c ? 0 : -1, &err);
	for (int i = 0; i < 2; i++) {
		struct http_request req = get_req(urls[i]);
		req.timeout_ms = 200;
		struct http_response resp;
		CHECK_FAILS(http_client_do(c, &req, &resp, &err));
		CHECK_CONTAINS(err.msg, "http://127.0.0.1:");
		CHECK(strstr(err.msg, "SECRET") == NULL);
		CHECK(strstr(err.msg, "hunter2") == NULL);
		CHECK(strstr(err.msg, "alice") == NULL);
		http_response_free(&resp);
	}
	http_client_free(c);
	mini_httpd_stop(s);
}

TEST(test_http_client_does_not_follow_redirects_unless_asked)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	char loc[160];
	snprintf(loc, sizeof loc, "Location: %s/target\r\n", mini_httpd_url(s));
	struct mini_httpd_reply redirect = {.status = 302, .body = "moved", .headers = loc};
	mini_httpd_push(s, &redirect);
	struct err err;
	struct http_client *c = http_client_new(NULL, &err);
	CHECK_OK(c ? 0 : -1, &err);
	struct http_request req = get_req(mini_httpd_url(s));
	struct http_response resp;
	CHECK_OK(http_client_do(c, &req, &resp, &err), &err);
	CHECK_EQ_INT(resp.status, 302);
	CHECK_EQ_STR(buf_str(&resp.body), "moved");
	CHECK_EQ_INT(mini_httpd_nrequests(s), 1);
	http_response_free(&resp);
	http_client_free(c);

	mini_httpd_push(s, &redirect);
	struct http_client_opts opts = {.follow_redirects = 1};
	c = http_client_new(&opts, &err);
	CHECK_OK(c ? 0 : -1, &err);
	CHECK_OK(http_client_do(c, &req, &resp, &err), &err);
	CHECK_EQ_INT(resp.status, 200);
	struct mini_httpd_request got;
	CHECK(mini_httpd_get_request(s, 2, &got) == 0);
	CHECK_EQ_STR(got.target, "/target");
	mini_httpd_request_free(&got);
	http_response_free(&resp);
	http_client_free(c);
	mini_httpd_stop(s);
}

TEST(test_http_client_ignores_environment_proxy)
{
	struct mini_httpd *s = mini_httpd_start(NULL);
	CHECK(s);
	/* A proxy that does not exist: using it would fail the request. */
	setenv("http_proxy", "http://127.0.0.1:1", 1);
	setenv("HTTP_PROXY", "http://127.0.0.1:1", 1);
	struct err err;
	struct http_client *c = http_client_new(NULL, &err);
	struct http_request req = get_req(mini_httpd_url(s));
	struct http_response resp;
	int rc = c ? http_client_do(c, &req, &resp, &err) : -1;
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	CHECK_OK(rc, &err);
	CHECK_EQ_INT(resp.status, 200);
	http_response_free(&resp);
	http_client_free(c);
	mini_httpd_stop(s);
}

/* ---- TLS ---- */

struct pki {
	char dir[512];
	char ca[600], srv_crt[600], srv_key[600], srv_der[600], cli_crt[600], cli_key[600];
};

/* CA, server cert for IP 127.0.0.1, client cert; all by the openssl CLI. */
static int make_pki(struct pki *p)
{
	const char *d = t_tmpdir();
	if (!d)
		return -1;
	snprintf(p->dir, sizeof p->dir, "%s", d);
	snprintf(p->ca, sizeof p->ca, "%s/ca.crt", d);
	snprintf(p->srv_crt, sizeof p->srv_crt, "%s/srv.crt", d);
	snprintf(p->srv_key, sizeof p->srv_key, "%s/srv.key", d);
	snprintf(p->srv_der, sizeof p->srv_der, "%s/srv.der", d);
	snprintf(p->cli_crt, sizeof p->cli_crt, "%s/cli.crt", d);
	snprintf(p->cli_key, sizeof p->cli_key, "%s/cli.key", d);
	char cmd[4096];
	snprintf(cmd, sizeof cmd,
		 "cd '%s' && exec >/dev/null 2>&1 && "
		 "printf 'subjectAltName=IP:127.0.0.1\\n' > srv.ext && "
		 "printf 'extendedKeyUsage=clientAuth\\n' > cli.ext && "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-keyout ca.key -out ca.crt -subj /CN=unit-test-ca -days 2 && "
		 "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-keyout srv.key -out srv.csr -subj /CN=127.0.0.1 && "
		 "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
		 "-out srv.crt -days 2 -extfile srv.ext && "
		 "openssl x509 -in srv.crt -outform DER -out srv.der && "
		 "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-keyout cli.key -out cli.csr -subj /CN=unit-test-client && "
		 "openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
		 "-out cli.crt -days 2 -extfile cli.ext",
		 d);
	return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *path, size_t *len)
{
	struct buf b = BUF_INIT;
	struct err err;
	if (fs_read_file(path, 1 << 20, &b, &err) < 0)
		return NULL;
	if (len)
		*len = b.len;
	return (char *)b.p;
}

TEST(test_http_client_tls_verifies_with_ca_file_and_captures_leaf_der)
{
	struct pki p;
	CHECK(make_pki(&p) == 0);
	struct mini_httpd_tls tls = {.cert_file = p.srv_crt, .key_file = p.srv_key};
	struct mini_httpd *s = mini_httpd_start(&tls);
	CHECK(s);
	struct err err;
	struct http_client_opts opts = {.tls.ca_file = p.ca};
	struct http_client *c = http_client_new(&opts, &err);
	CHECK_OK(c ? 0 : -1, &err);
	struct http_request req = get_req(mini_httpd_url(s));
	req.capture_peer_cert = 1;
	struct http_response resp;
	CHECK_OK(http_client_do(c, &req, &resp, &err), &err);
	CHECK_EQ_INT(resp.status, 200);
	size_t der_len = 0;
	char *der = slurp(p.srv_der, &der_len);
	CHECK(der);
	CHECK_EQ_INT(resp.peer_cert_der_len, der_len);
	CHECK(memcmp(resp.peer_cert_der, der, der_len) == 0);
	free(der);
	http_response_free(&resp);
	/* Without capture, the TLS connection is reused. */
	req.capture_peer_cert = 0;
	CHECK_OK(http_client_do(c, &req, &resp, &err), &err);
	CHECK(resp.peer_cert_der == NULL);
	http_response_free(&resp);
	CHECK_OK(http_client_do(c, &req, &resp, &err), &err);
	CHECK_EQ_INT(resp.new_connections, 0);
	http_response_free(&resp);
	http_client_free(c);
	mini_httpd_stop(s);
}

TEST(test_http_client_tls_ca_pem_text_works_like_ca_file)
{
	struct pki p;
	CHECK(make_pki(&p) == 0);
	struct mini_httpd_tls tls = {.cert_file = p.srv_crt, .key_file = p.srv_key};
	struct mini_httpd *s = mini_httpd_start(&tls);
	CHECK(s);
	char *ca_pem = slurp(p.ca, NULL);
	CHECK(ca_pem);
	struct err err;
	struct http_client_opts opts = {.tls.ca_pem = ca_pem};
	struct http_client *c = http_client_new(&opts, &err);
	free(ca_pem);
	CHECK_OK(c ? 0 : -1, &err);
	struct http_request req = get_req(mini_httpd_url(s));
	struct http_response resp;
	CHECK_OK(http_client_do(c, &req, &resp, &err), &err);
	CHECK_EQ_INT(resp.status, 200);
	http_response_free(&resp);
	http_client_free(c);
	mini_httpd_stop(s);
}

TEST(test_http_client_tls_rejects_untrusted_server_unless_skip_verify)
{
	struct pki p;
	CHECK(make_pki(&p) == 0);
	struct mini_httpd_tls tls = {.cert_file = p.srv_crt, .key_file = p.srv_key};
	struct mini_httpd *s = mini_httpd_start(&tls);
	CHECK(s);
	struct err err;
	/* The client cert (signed by the same CA) is not a trust anchor for the server. */
	struct http_client_opts opts = {.tls.ca_file = p.cli_crt};
	struct http_client *c = http_client_new(&opts, &err);
	CHECK_OK(c ? 0 : -1, &err);
	struct http_request req = get_req(mini_httpd_url(s));
	struct http_response resp;
	CHECK_FAILS(http_client_do(c, &req, &resp, &err));
	CHECK_EQ_INT(resp.failure, HTTP_FAIL_TLS);
	CHECK_CONTAINS(err.msg, "TLS error");
	http_response_free(&resp);
	http_client_free(c);

	struct http_client_opts insecure = {.tls.insecure_skip_verify = 1};
	c = http_client_new(&insecure, &err);
	CHECK_OK(c ? 0 : -1, &err);
	req.capture_peer_cert = 1;
	CHECK_OK(http_client_do(c, &req, &resp, &err), &err);
	CHECK_EQ_INT(resp.status, 200);
	CHECK(resp.peer_cert_der_len > 0);
	http_response_free(&resp);
	http_client_free(c);
	mini_httpd_stop(s);
}

TEST(test_http_client_tls_presents_client_certificate)
{
	struct pki p;
	CHECK(make_pki(&p) == 0);
	struct mini_httpd_tls tls = {
	    .cert_file = p.srv_crt, .key_file = p.srv_key, .client_ca_file = p.ca};
	struct mini_httpd *s = mini_httpd_start(&tls);
	CHECK(s);
	char *cert = slurp(p.cli_crt, NULL), *key = slurp(p.cli_key, NULL);
	CHECK(cert && key);
	struct err err;
	struct http_client_opts opts = {
	    .tls = {.ca_file = p.ca, .client_cert_pem = cert, .client_key_pem = key}};
	struct http_client *c = http_client_new(&opts, &err);
	free(cert);
	free(key);
	CHECK_OK(c ? 0 : -1, &err);
	struct http_request req = get_req(mini_httpd_url(s));
	struct http_response resp;
	CHECK_OK(http_client_do(c, &req, &resp, &err), &err);
	http_response_free(&resp);
	struct mini_httpd_request got;
	CHECK(mini_httpd_get_request(s, 0, &got) == 0);
	CHECK_EQ_STR(got.client_cn, "unit-test-client");
	mini_httpd_request_free(&got);
	http_client_free(c);

	struct http_client_opts half = {.tls = {.client_cert_pem = "x"}};
	CHECK(http_client_new(&half, &err) == NULL);
	CHECK_CONTAINS(err.msg, "given together");
	mini_httpd_stop(s);
}

struct hook_state {
	int calls;
	int refuse;
};

static int count_hook(void *ssl_ctx, void *arg)
{
	struct hook_state *h = arg;
	h->calls++;
	return ssl_ctx && !h->refuse ? 0 : -1;
}

TEST(test_http_client_tls_ssl_ctx_hook_runs_and_can_abort)
{
	struct pki p;
	CHECK(make_pki(&p) == 0);
	struct mini_httpd_tls tls = {.cert_file = p.srv_crt, .key_file = p.srv_key};
	struct mini_httpd *s = mini_httpd_start(&tls);
	CHECK(s);
	struct hook_state h = {0, 0};
	struct err err;
	struct http_client_opts opts = {
	    .tls = {.ca_file = p.ca, .ssl_ctx_fn = count_hook, .ssl_ctx_arg = &h}};
	struct http_client *c = http_client_new(&opts, &err);
	CHECK_OK(c ? 0 : -1, &err);
	struct http_request req = get_req(mini_httpd_url(s));
	struct http_response resp;
	CHECK_OK(http_client_do(c, &req, &resp, &err), &err);
	CHECK(h.calls >= 1);
	http_response_free(&resp);
	h.refuse = 1;
	req.capture_peer_cert = 1; /* forces a new connection, so the hook runs again */
	CHECK_FAILS(http_client_do(c, &req, &resp, &err));
	CHECK_EQ_INT(resp.failure, HTTP_FAIL_TLS);
	CHECK_CONTAINS(err.msg, "TLS hook");
	http_response_free(&resp);
	http_client_free(c);
	mini_httpd_stop(s);
}
