/*
 * http_client.c — libcurl easy-handle wrapper (http_client.h).
 *
 * One easy handle per client: curl_easy_reset() before every request clears
 * the options of the previous one but keeps the live connections, so a
 * client reuses keep-alive connections across requests. Policy applied to
 * every request: NOSIGNAL, http/https only, no redirects unless asked, no
 * environment proxies, no compression, HTTP/1.1, "Expect:" suppressed.
 * Never puts a full URL (path, query, userinfo) into an error message.
 * spec: kms-protocol §11; deployment-and-users §3 rows 2 and 15.
 */
#include "net/http_client.h"

#include "util/log.h"
#include "util/secret.h"
#include "version.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_URL_MAX 8192
#define HTTP_HEADER_VALUE_MAX 8192
#define HTTP_DEFAULT_UA "dstack-kms/" KMS_VERSION

struct http_client {
	CURL *curl;
	char *user_agent;
	char *proxy;
	int follow_redirects;
	char *ca_file;
	char *ca_pem;
	int insecure;
	char *cert_pem;
	char *key_pem; /* secret: wiped on free */
	int (*ssl_ctx_fn)(void *ssl_ctx, void *arg);
	void *ssl_ctx_arg;
	int hook_failed; /* set by the SSL_CTX callback of the current request */
	char errbuf[CURL_ERROR_SIZE];
};

/* Per-request state seen by the libcurl callbacks. */
struct xfer {
	const struct http_request *req;
	struct http_response *resp;
	int too_large;
	int oom;
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static CURLcode g_init_rc = CURLE_FAILED_INIT;

static void global_init_once(void)
{
	g_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int http_client_global_init(struct err *err)
{
	pthread_once(&g_once, global_init_once);
	if (g_init_rc != CURLE_OK)
		return err_set(err, "curl_global_init failed: %s", curl_easy_strerror(g_init_rc));
	return 0;
}

static char *dup_opt(const char *s, int *oom)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*oom = 1;
	return d;
}

static void free_secret_str(char *s)
{
	if (s)
		secret_free(s, strlen(s));
}

struct http_client *http_client_new(const struct http_client_opts *opts, struct err *err)
{
	static const struct http_client_opts defaults = {0};
	if (http_client_global_init(err) < 0)
		return NULL;
	if (!opts)
		opts = &defaults;
	if (!opts->tls.client_cert_pem != !opts->tls.client_key_pem) {
		err_set(err, "http client: client certificate and key must be given together");
		return NULL;
	}
	struct http_client *c = calloc(1, sizeof *c);
	if (!c) {
		err_set(err, "http client: out of memory");
		return NULL;
	}
	int oom = 0;
	c->user_agent = dup_opt(opts->user_agent ? opts->user_agent : HTTP_DEFAULT_UA, &oom);
	c->proxy = dup_opt(opts->proxy, &oom);
	c->follow_redirects = opts->follow_redirects != 0;
	c->ca_file = dup_opt(opts->tls.ca_file, &oom);
	c->ca_pem = dup_opt(opts->tls.ca_pem, &oom);
	c->insecure = opts->tls.insecure_skip_verify != 0;
	c->cert_pem = dup_opt(opts->tls.client_cert_pem, &oom);
	c->key_pem = dup_opt(opts->tls.client_key_pem, &oom);
	c->ssl_ctx_fn = opts->tls.ssl_ctx_fn;
	c->ssl_ctx_arg = opts->tls.ssl_ctx_arg;
	c->curl = oom ? NULL : curl_easy_init();
	if (!c->curl) {
		err_set(err, "http client: %s", oom ? "out of memory" : "curl_easy_init failed");
		http_client_free(c);
		return NULL;
	}
	return c;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->user_agent);
	free(c->proxy);
	free(c->ca_file);
	free(c->ca_pem);
	free(c->cert_pem);
	free_secret_str(c->key_pem);
	free(c);
}

void http_response_free(struct http_response *resp)
{
	if (!resp)
		return;
	buf_free(&resp->body);
	for (size_t i = 0; i < resp->n_headers; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	free(resp->headers);
	free(resp->peer_cert_der);
	memset(resp, 0, sizeof *resp);
}

const char *http_response_header(const struct http_response *resp, const char *name)
{
	for (size_t i = 0; i < resp->n_headers; i++)
		if (strcasecmp(resp->headers[i].name, name) == 0)
			return resp->headers[i].value;
	return NULL;
}

void http_status_text(long status, char *out, size_t outlen)
{
	static const struct {
		long code;
		const char *text;
	} tab[] = {
	    {100, "Continue"},
	    {101, "Switching Protocols"},
	    {200, "OK"},
	    {201, "Created"},
	    {202, "Accepted"},
	    {203, "Non Authoritative Information"},
	    {204, "No Content"},
	    {205, "Reset Content"},
	    {206, "Partial Content"},
	    {300, "Multiple Choices"},
	    {301, "Moved Permanently"},
	    {302, "Found"},
	    {303, "See Other"},
	    {304, "Not Modified"},
	    {307, "Temporary Redirect"},
	    {308, "Permanent Redirect"},
	    {400, "Bad Request"},
	    {401, "Unauthorized"},
	    {402, "Payment Required"},
	    {403, "Forbidden"},
	    {404, "Not Found"},
	    {405, "Method Not Allowed"},
	    {406, "Not Acceptable"},
	    {408, "Request Timeout"},
	    {409, "Conflict"},
	    {410, "Gone"},
	    {411, "Length Required"},
	    {413, "Payload Too Large"},
	    {414, "URI Too Long"},
	    {415, "Unsupported Media Type"},
	    {422, "Unprocessable Entity"},
	    {429, "Too Many Requests"},
	    {500, "Internal Server Error"},
	    {501, "Not Implemented"},
	    {502, "Bad Gateway"},
	    {503, "Service Unavailable"},
	    {504, "Gateway Timeout"},
	    {505, "HTTP Version Not Supported"},
	};
	const char *text = "<unknown status code>";
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (tab[i].code == status)
			text = tab[i].text;
	snprintf(out, outlen, "%ld %s", status, text);
}

/* ---- libcurl callbacks ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	if (size && nmemb > SIZE_MAX / size)
		return 0;
	size_t n = size * nmemb;
	if (n > x->req->max_response_bytes || x->resp->body.len > x->req->max_response_bytes - n) {
		x->too_large = 1;
		return 0; /* CURLE_WRITE_ERROR */
	}
	if (buf_append(&x->resp->body, data, n) < 0) {
		x->oom = 1;
		return 0;
	}
	return n;
}

static void drop_captured_headers(struct http_response *resp)
{
	for (size_t i = 0; i < resp->n_headers; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	resp->n_headers = 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb; /* libcurl guarantees size == 1 */
	/* A status line starts a new response (after 100-continue or a redirect). */
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		drop_captured_headers(x->resp);
		return n;
	}
	const char *colon = memchr(data, ':', n);
	if (!colon)
		return n;
	size_t name_len = (size_t)(colon - data);
	const char *v = colon + 1, *end = data + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t vlen = (size_t)(end - v);
	for (size_t i = 0; i < x->req->n_capture_headers; i++) {
		const char *want = x->req->capture_headers[i];
		if (strlen(want) != name_len || strncasecmp(want, data, name_len) != 0)
			continue;
		if (http_response_header(x->resp, want) || vlen > HTTP_HEADER_VALUE_MAX)
			return n; /* keep the first occurrence; ignore absurd values */
		struct http_response_header *h =
		    realloc(x->resp->headers, (x->resp->n_headers + 1) * sizeof *h);
		if (!h) {
			x->oom = 1;
			return 0;
		}
		x->resp->headers = h;
		h[x->resp->n_headers].name = strdup(want);
		h[x->resp->n_headers].value = strndup(v, vlen);
		if (!h[x->resp->n_headers].name || !h[x->resp->n_headers].value) {
			free(h[x->resp->n_headers].name);
			free(h[x->resp->n_headers].value);
			x->oom = 1;
			return 0;
		}
		x->resp->n_headers++;
		return n;
	}
	return n;
}

static CURLcode on_ssl_ctx(CURL *curl, void *ssl_ctx, void *arg)
{
	(void)curl;
	struct http_client *c = arg;
	if (c->ssl_ctx_fn(ssl_ctx, c->ssl_ctx_arg) < 0) {
		c->hook_failed = 1;
		return CURLE_ABORTED_BY_CALLBACK;
	}
	return CURLE_OK;
}

/* ---- request set-up ---- */

static int method_is_valid(const char *m)
{
	size_t n = strlen(m);
	if (n == 0 || n > 16)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (m[i] < 'A' || m[i] > 'Z')
			return 0;
	return 1;
}

static int has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

static int header_name_is_valid(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s == ':' || *s >= 0x7f)
			return 0;
	return 1;
}

static int url_scheme_ok(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

static int fail(struct http_response *resp, enum http_failure f, struct err *err, const char *fmt,
		...) __attribute__((format(printf, 4, 5)));
static int fail(struct http_response *resp, enum http_failure f, struct err *err, const char *fmt,
		...)
{
	resp->failure = f;
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Builds the header list; "Expect:" stops libcurl from waiting for 100-continue. */
static struct curl_slist *build_headers(const struct http_request *req, int *bad)
{
	struct curl_slist *list = NULL, *t;
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct http_header *h = &req->headers[i];
		if (!h->name || !h->value || !header_name_is_valid(h->name) || has_crlf(h->value)) {
			*bad = 1;
			curl_slist_free_all(list);
			return NULL;
		}
		struct buf line = BUF_INIT;
		/* "Name;" is libcurl's spelling of a header with an empty value. */
		int rc = h->value[0] ? buf_printf(&line, "%s: %s", h->name, h->value)
				     : buf_printf(&line, "%s;", h->name);
		t = rc < 0 ? NULL : curl_slist_append(list, buf_str(&line));
		buf_free(&line);
		if (!t) {
			curl_slist_free_all(list);
			return NULL;
		}
		list = t;
	}
	t = curl_slist_append(list, "Expect:");
	if (!t) {
		curl_slist_free_all(list);
		return NULL;
	}
	return t;
}

#define SETOPT(opt, val)                                                                           \
	do {                                                                                       \
		if (curl_easy_setopt(c->curl, opt, val) != CURLE_OK)                               \
			goto setopt_failed;                                                        \
	} while (0)

static int configure(struct http_client *c, const struct http_request *req, struct xfer *x,
		     struct curl_slist *headers, const char *method)
{
	CURL *h = c->curl;
	curl_easy_reset(h); /* keeps the connection cache */
	c->errbuf[0] = '\0';
	c->hook_failed = 0;
	SETOPT(CURLOPT_ERRORBUFFER, c->errbuf);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_URL, req->url);
	SETOPT(CURLOPT_UNIX_SOCKET_PATH, req->unix_socket); /* NULL: TCP */
	SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SETOPT(CURLOPT_FOLLOWLOCATION, c->follow_redirects ? 1L : 0L);
	SETOPT(CURLOPT_MAXREDIRS, 5L);
	SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SETOPT(CURLOPT_PROXY, c->proxy ? c->proxy : "");
	SETOPT(CURLOPT_USERAGENT, c->user_agent);
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
	SETOPT(CURLOPT_TIMEOUT_MS, req->timeout_ms);
	SETOPT(CURLOPT_TCP_NODELAY, 1L);
	SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(CURLOPT_HTTPHEADER, headers);
	if (req->max_response_bytes <= (size_t)INT64_MAX)
		SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_response_bytes);
	SETOPT(CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(CURLOPT_WRITEDATA, x);
	SETOPT(CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(CURLOPT_HEADERDATA, x);

	const void *body = req->body ? req->body : "";
	if (strcmp(method, "GET") == 0 && req->body_len == 0) {
		SETOPT(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "HEAD") == 0) {
		SETOPT(CURLOPT_NOBODY, 1L);
	} else if (req->body_len > 0 || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
		SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		SETOPT(CURLOPT_POSTFIELDS, body);
		if (strcmp(method, "POST") != 0)
			SETOPT(CURLOPT_CUSTOMREQUEST, method);
	} else {
		SETOPT(CURLOPT_CUSTOMREQUEST, method);
	}

	/* TLS: verification on unless explicitly skipped. */
	SETOPT(CURLOPT_SSL_VERIFYPEER, c->insecure ? 0L : 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, c->insecure ? 0L : 2L);
	if (c->ca_file)
		SETOPT(CURLOPT_CAINFO, c->ca_file);
	if (c->ca_pem) {
		struct curl_blob blob = {c->ca_pem, strlen(c->ca_pem), CURL_BLOB_COPY};
		SETOPT(CURLOPT_CAINFO_BLOB, &blob);
	}
	if (c->cert_pem) {
		struct curl_blob cert = {c->cert_pem, strlen(c->cert_pem), CURL_BLOB_COPY};
		struct curl_blob key = {c->key_pem, strlen(c->key_pem), CURL_BLOB_COPY};
		SETOPT(CURLOPT_SSLCERTTYPE, "PEM");
		SETOPT(CURLOPT_SSLCERT_BLOB, &cert);
		SETOPT(CURLOPT_SSLKEYTYPE, "PEM");
		SETOPT(CURLOPT_SSLKEY_BLOB, &key);
	}
	if (c->ssl_ctx_fn) {
		SETOPT(CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
		SETOPT(CURLOPT_SSL_CTX_DATA, c);
		/* A resumed session skips certificate verification, so a custom
		 * verifier would never run: always do full handshakes. */
		SETOPT(CURLOPT_SSL_SESSIONID_CACHE, 0L);
	}
	if (req->capture_peer_cert) {
		SETOPT(CURLOPT_CERTINFO, 1L);
		SETOPT(CURLOPT_FRESH_CONNECT, 1L);
		SETOPT(CURLOPT_SSL_SESSIONID_CACHE, 0L);
	}
	return 0;
setopt_failed:
	return -1;
}

/* Leaf certificate of the handshake, from CURLINFO_CERTINFO (PEM) → DER. */
static int extract_peer_cert(struct http_client *c, struct http_response *resp)
{
	struct curl_certinfo *ci = NULL;
	if (curl_easy_getinfo(c->curl, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci ||
	    ci->num_of_certs < 1)
		return -1;
	for (struct curl_slist *s = ci->certinfo[0]; s; s = s->next) {
		if (strncmp(s->data, "Cert:", 5) != 0)
			continue;
		BIO *bio = BIO_new_mem_buf(s->data + 5, -1);
		X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
		if (!x)
			return -1;
		unsigned char *der = NULL;
		int len = i2d_X509(x, &der);
		X509_free(x);
		if (len <= 0)
			return -1;
		resp->peer_cert_der = malloc((size_t)len);
		if (!resp->peer_cert_der) {
			OPENSSL_free(der);
			return -1;
		}
		memcpy(resp->peer_cert_der, der, (size_t)len);
		resp->peer_cert_der_len = (size_t)len;
		OPENSSL_free(der);
		return 0;
	}
	return -1;
}

static int is_tls_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED:
		return 1;
	default:
		return 0;
	}
}

/* Turns a libcurl failure into a message that names only the origin. */
static int describe_failure(struct http_client *c, const struct http_request *req,
			    const struct xfer *x, CURLcode rc, const char *origin,
			    struct http_response *resp, struct err *err)
{
	const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
	if (x->too_large || rc == CURLE_FILESIZE_EXCEEDED)
		return fail(resp, HTTP_FAIL_TOO_LARGE, err, "%s: response body exceeds %zu bytes",
			    origin, req->max_response_bytes);
	if (x->oom)
		return fail(resp, HTTP_FAIL_TRANSPORT, err, "%s: out of memory", origin);
	if (c->hook_failed)
		return fail(resp, HTTP_FAIL_TLS, err,
			    "%s TLS error: connection refused by TLS hook", origin);
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT: {
		curl_off_t conn = 0, app = 0;
		curl_easy_getinfo(c->curl, CURLINFO_CONNECT_TIME_T, &conn);
		curl_easy_getinfo(c->curl, CURLINFO_APPCONNECT_TIME_T, &app);
		int https = strncasecmp(req->url, "https://", 8) == 0;
		int connected = https ? app > 0 : conn > 0;
		if (!connected && req->connect_timeout_ms < req->timeout_ms)
			return fail(resp, HTTP_FAIL_TIMEOUT, err,
				    "%s connect timed out after %ld ms", origin,
				    req->connect_timeout_ms);
		return fail(resp, HTTP_FAIL_TIMEOUT, err, "%s timed out after %ld ms", origin,
			    req->timeout_ms);
	}
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return fail(resp, HTTP_FAIL_CONNECT, err, "%s unreachable: could not resolve host",
			    origin);
	case CURLE_COULDNT_CONNECT: {
		long os_errno = 0;
		curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
		return fail(resp, HTTP_FAIL_CONNECT, err, "%s unreachable: %s", origin,
			    os_errno ? strerror((int)os_errno) : detail);
	}
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		/* The libcurl text may quote parts of the URL: do not pass it on. */
		return fail(resp, HTTP_FAIL_INVALID, err, "%s: invalid or unsupported URL", origin);
	case CURLE_GOT_NOTHING:
		return fail(resp, HTTP_FAIL_TRANSPORT, err, "%s: empty reply from server", origin);
	default:
		if (is_tls_error(rc))
			return fail(resp, HTTP_FAIL_TLS, err, "%s TLS error: %s", origin, detail);
		return fail(resp, HTTP_FAIL_TRANSPORT, err, "%s request failed: %s", origin,
			    detail);
	}
}

int http_client_do(struct http_client *c, const struct http_request *req,
		   struct http_response *resp, struct err *err)
{
	memset(resp, 0, sizeof *resp);
	if (!c || !req || !req->url)
		return fail(resp, HTTP_FAIL_INVALID, err, "http request: missing client or URL");
	char origin[256];
	if (req->unix_socket) /* errors name the socket, which is what was dialled */
		snprintf(origin, sizeof origin, "unix:%s", req->unix_socket);
	else
		log_url_origin(req->url, origin, sizeof origin);
	const char *method = req->method ? req->method : "GET";
	if (!method_is_valid(method))
		return fail(resp, HTTP_FAIL_INVALID, err, "%s: invalid HTTP method", origin);
	if (strlen(req->url) > HTTP_URL_MAX || !url_scheme_ok(req->url) || has_crlf(req->url))
		return fail(resp, HTTP_FAIL_INVALID, err, "%s: URL must be http:// or https://",
			    origin);
	if (req->connect_timeout_ms <= 0 || req->timeout_ms <= 0)
		return fail(resp, HTTP_FAIL_INVALID, err,
			    "%s: connect and total timeouts must be set (> 0 ms)", origin);
	if (req->max_response_bytes == 0)
		return fail(resp, HTTP_FAIL_INVALID, err, "%s: response size cap must be set",
			    origin);
	if (req->body_len > 0 && !req->body)
		return fail(resp, HTTP_FAIL_INVALID, err, "%s: body length without body", origin);

	int bad = 0;
	struct curl_slist *headers = build_headers(req, &bad);
	if (!headers)
		return fail(resp, bad ? HTTP_FAIL_INVALID : HTTP_FAIL_TRANSPORT, err, "%s: %s",
			    origin, bad ? "invalid request header" : "out of memory");

	struct xfer x = {.req = req, .resp = resp};
	int rc = -1;
	if (configure(c, req, &x, headers, method) < 0) {
		fail(resp, HTTP_FAIL_INVALID, err, "%s: libcurl rejected an option", origin);
		goto out;
	}
	CURLcode cr = curl_easy_perform(c->curl);
	long nconn = 0;
	curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &nconn);
	resp->new_connections = (int)nconn;
	if (cr != CURLE_OK) {
		describe_failure(c, req, &x, cr, origin, resp, err);
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	if (req->capture_peer_cert && strncasecmp(req->url, "https://", 8) == 0 &&
	    extract_peer_cert(c, resp) < 0) {
		fail(resp, HTTP_FAIL_TLS, err, "%s TLS error: server certificate not available",
		     origin);
		goto out;
	}
	rc = 0;
out:
	/* The easy handle keeps pointers to these until the next reset. */
	curl_easy_reset(c->curl);
	curl_slist_free_all(headers);
	return rc;
}
