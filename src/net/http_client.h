/*
 * http_client.h — the one outgoing-HTTP wrapper of the project (libcurl easy API).
 *
 * Every outgoing call (auth webhook, PCCS, Ethereum JSON-RPC, KMS onboarding over
 * TLS) goes through here so that timeouts, body caps, redirect and protocol
 * policy are set in one place. Every request carries mandatory non-zero connect
 * and total timeouts and a response body cap; nothing here can hang forever.
 * Error messages name only the URL origin (scheme://host:port, log_url_origin):
 * paths and queries may carry API keys and never appear in messages or logs.
 * spec: kms-protocol §11 (webhook client), deployment-and-users §1.8/§3 (timeouts).
 */
#ifndef NET_HTTP_CLIENT_H
#define NET_HTTP_CLIENT_H

#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

/* Calls curl_global_init exactly once (pthread_once); safe from any thread.
 * http_client_new calls it too, so calling it explicitly is optional, but
 * main() should call it before starting threads. Returns 0 or -1. */
int http_client_global_init(struct err *err);

/*
 * TLS settings of a client. Paths and PEM texts are copied by http_client_new.
 * By default the peer is verified against the system trust store and the host
 * name is checked.
 */
struct http_tls_opts {
	const char *ca_file; /* PEM bundle file replacing the system store, or NULL */
	const char *ca_pem;  /* PEM text replacing the system store, or NULL */
	/* No peer or host-name verification. Only for tests, or when ssl_ctx_fn
	 * verifies the peer itself (RA-TLS). */
	int insecure_skip_verify;
	const char *client_cert_pem; /* client certificate chain, PEM text, or NULL */
	const char *client_key_pem;  /* its private key, PEM text (wiped on free) */
	/* Hook run on every new TLS connection with the OpenSSL SSL_CTX * before
	 * the handshake (CURLOPT_SSL_CTX_FUNCTION), e.g. to install a custom
	 * verify callback. Return 0, or -1 to abort the request. */
	int (*ssl_ctx_fn)(void *ssl_ctx, void *arg);
	void *ssl_ctx_arg;
};

struct http_client_opts {
	const char *user_agent; /* NULL = "dstack-kms/<version>" */
	/* Proxy URL. NULL = no proxy: http_proxy/https_proxy in the environment
	 * are deliberately ignored so a stray variable cannot reroute the webhook. */
	const char *proxy;
	int follow_redirects; /* 0 (default) = a 3xx is returned as-is; else up to 5, http(s) only
			       */
	struct http_tls_opts tls;
};

struct http_header {
	const char *name;
	const char *value;
};

struct http_request {
	const char *method; /* "GET", "POST", "PUT", "DELETE", "HEAD"; NULL = GET */
	const char *url;    /* http:// or https:// only */
	/* Connect to this Unix socket path instead of the URL's host (the URL
	 * still names the scheme and path, e.g. http://localhost/Attest). */
	const char *unix_socket;
	const struct http_header *headers;
	size_t n_headers;
	const void *body; /* sent when body_len > 0 or method is POST/PUT */
	size_t body_len;
	long connect_timeout_ms;   /* mandatory, > 0 */
	long timeout_ms;	   /* mandatory, > 0; bounds the whole exchange */
	size_t max_response_bytes; /* mandatory, > 0; a longer body fails the request */
	/* Response headers to keep (case-insensitive names), e.g. "Content-Type". */
	const char *const *capture_headers;
	size_t n_capture_headers;
	/* Fill http_response.peer_cert_der with the server's leaf certificate.
	 * Forces a fresh connection so the handshake (and its certificate) is
	 * certainly the one this request used. */
	int capture_peer_cert;
};

enum http_failure {
	HTTP_FAIL_NONE = 0,
	HTTP_FAIL_INVALID,   /* bad arguments or URL, refused protocol */
	HTTP_FAIL_CONNECT,   /* DNS failure, connection refused, unreachable */
	HTTP_FAIL_TIMEOUT,   /* connect or total timeout */
	HTTP_FAIL_TLS,	     /* handshake or certificate verification */
	HTTP_FAIL_TOO_LARGE, /* body over max_response_bytes */
	HTTP_FAIL_TRANSPORT, /* anything else (reset, protocol error) */
};

struct http_response_header {
	char *name; /* as requested in capture_headers */
	char *value;
};

struct http_response {
	long status;	 /* HTTP status, 0 when no response */
	struct buf body; /* NUL-terminated, at most max_response_bytes */
	struct http_response_header *headers;
	size_t n_headers;
	uint8_t *peer_cert_der; /* with capture_peer_cert over https */
	size_t peer_cert_der_len;
	int new_connections;	   /* connections opened for this request (0 = reused) */
	enum http_failure failure; /* why http_client_do failed */
};

/*
 * A client owns one libcurl easy handle and its connection cache, so
 * consecutive requests to the same origin reuse one keep-alive connection.
 * THREADING RULE: a client is NOT internally locked; use it from one thread
 * at a time (one client per thread, or a pool of clients handed out under a
 * mutex as auth.c does). Different clients may be used concurrently.
 */
struct http_client;

struct http_client *http_client_new(const struct http_client_opts *opts, struct err *err);
void http_client_free(struct http_client *c);

/*
 * Performs one request. Returns 0 when a complete HTTP response arrived (ANY
 * status, including 4xx/5xx: the caller judges it) and fills *resp, which the
 * caller frees with http_response_free (also after a failure). Returns -1 on
 * transport failure with resp->failure set and a message such as
 * "http://127.0.0.1:9200 unreachable: Connection refused" or
 * "http://127.0.0.1:9200 timed out after 5000 ms".
 */
int http_client_do(struct http_client *c, const struct http_request *req,
		   struct http_response *resp, struct err *err);

void http_response_free(struct http_response *resp);
/* Value of a captured header, or NULL. */
const char *http_response_header(const struct http_response *resp, const char *name);

/* "404 Not Found" style status text, as Rust's http::StatusCode prints it
 * ("<code> <unknown status code>" for codes without a canonical reason). */
void http_status_text(long status, char *out, size_t outlen);

#endif
