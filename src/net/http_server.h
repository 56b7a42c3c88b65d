/*
 * http_server.h — the one HTTP/1.1 server of the project (libevent evhttp),
 * optionally over TLS with optional client certificates.
 *
 * One event loop per worker thread, all sharing one listening socket (no
 * SO_REUSEPORT: a port already served fails to bind); handlers run on the
 * worker that accepted the connection and never see libevent types. A
 * handler must never block: work that waits (network, fsync) is deferred
 * with http_defer and finished from another thread (the blocking pool),
 * with a deadline after which the loop answers on its own. Body size is
 * enforced by the caller below max_body; a Content-Length above max_body is
 * refused (413) as soon as the headers are in, before any body is read.
 *
 * Admission limits (http_server_limits) apply to every listener: a global
 * and a per-client-address connection cap, checked right after accept (a
 * connection over a cap is closed before any TLS handshake or read), and
 * two deadlines per request that a client trickling bytes cannot stretch:
 * the headers (TLS handshake included) and the whole request must each be
 * complete within a fixed time of the request's first byte (of accept, for
 * the first request). A server-wide budget bounds the bytes held for
 * requests not yet answered (max_buffered): many partial bodies, each under
 * max_body, cannot add up to more; the connection that would pass it is
 * closed. Refusals and cut-offs are counted and logged at most once per 10 s
 * with the number suppressed.
 */
#ifndef NET_HTTP_SERVER_H
#define NET_HTTP_SERVER_H

#include "util/buf.h"
#include "util/err.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stddef.h>

struct http_req {
	const char *method;	  /* "GET", "POST", ... */
	const char *path;	  /* decoded path without query */
	const char *query;	  /* raw query string or "" */
	const char *content_type; /* Content-Type header or NULL */
	const uint8_t *body;
	size_t body_len;
	X509 *peer_cert; /* TLS client certificate or NULL (not owned) */
	/* 1 when peer_cert chains to client_ca; 0 when it was let through only
	 * because it carries one of accept_ext_oids (its content must then be
	 * verified before it is trusted for anything) */
	int peer_cert_chained;
	const char *remote_ip;
	void *impl;
};

/* A request header value or NULL (NULL also for requests not from the server). */
const char *http_req_header(const struct http_req *r, const char *name);

struct http_resp {
	int status;
	const char *content_type;
	struct buf body; /* wiped after sending when body.secret is set */
	char extra_headers[4][2][128];
	int nextra;
};

void http_resp_header(struct http_resp *r, const char *name, const char *value);

typedef void (*http_handler_fn)(void *ud, const struct http_req *req, struct http_resp *resp);

struct http_server_tls {
	const char *cert_file; /* server certificate PEM (leaf) */
	const char *key_file;  /* server key PEM */
	const char *client_ca; /* client-certificate trust anchor PEM or NULL */
	int client_mandatory;  /* refuse handshakes without a client cert */
	/* A client certificate that does not chain to client_ca (another issuer,
	 * self-signed) passes the handshake only if it carries one of these
	 * extensions (dotted OIDs, NULL-terminated list; NULL = none). */
	const char *const *accept_ext_oids;
};

/* 0 in any field: the default. */
struct http_server_limits {
	int max_connections; /* open connections, all workers (default 4096) */
	/* per client address, IPv6 by /64 (default 64, at most max_connections) */
	int max_connections_per_client;
	long header_timeout_ms; /* request line and headers complete (default 10000) */
	long read_timeout_ms;	/* the whole request read (default 30000) */
	/* bytes received for requests not yet answered, all connections
	 * together (default 256 MiB; raised to max_body when below it): the
	 * connection whose bytes would go past it is closed */
	size_t max_buffered;
};

#define HTTP_DEFAULT_MAX_CONNECTIONS 4096
#define HTTP_DEFAULT_MAX_CONNECTIONS_PER_CLIENT 64
#define HTTP_DEFAULT_HEADER_TIMEOUT_MS 10000
#define HTTP_DEFAULT_READ_TIMEOUT_MS 30000
#define HTTP_DEFAULT_MAX_BUFFERED ((size_t)256 << 20)

struct http_server_stats {
	unsigned long long open;	       /* connections open now */
	unsigned long long refused_global;     /* over max_connections */
	unsigned long long refused_per_client; /* over max_connections_per_client */
	unsigned long long header_timeouts;    /* cut at the header deadline */
	unsigned long long read_timeouts;      /* cut at the whole-request deadline */
	unsigned long long buffered_cuts;      /* closed: max_buffered reached */
	unsigned long long buffered;	       /* request bytes held now */
};

struct http_server_opts {
	const char *address;
	int port;	    /* 0: pick a free port (see http_server_port) */
	int workers;	    /* event-loop threads */
	int timeout_s;	    /* inactivity timeout per connection */
	size_t max_headers; /* header bytes */
	/* hard cap: a larger Content-Length is refused before its body is read
	 * (413, connection closed); handlers enforce their own, lower limits */
	size_t max_body;
	struct http_server_limits limits;
	const struct http_server_tls *tls; /* NULL: plain HTTP */
	http_handler_fn handler;
	void *ud;
	const char *server_name; /* for logs, e.g. "RPC" */
	/* Optional periodic callback run ON EACH worker's event loop (so a stuck
	 * loop stops calling it): the systemd watchdog is fed from here. */
	void (*on_tick)(void *ud, int worker);
	int tick_ms;
	/* On stop: how long to wait for deferred requests still running
	 * (0 = 250 ms); each is bounded by its own deadline anyway. */
	long drain_max_ms;
	/* Refuse (400) a path whose percent-decoding holds a NUL or another
	 * control byte, instead of serving the part before it. */
	int strict_path;
};

struct http_server;

/*
 * Deferred replies. Called by a handler on its loop: the reply is sent later
 * by http_deferred_finish, from any thread. The deferred owns a copy of the
 * request (http_deferred_req; headers are not copied, http_req_header gives
 * NULL) and an empty response to fill (http_deferred_resp). *timeout_resp,
 * moved into the deferred (the handler's resp is left empty), is sent
 * instead if the work is not finished within timeout_ms; the work's late
 * answer is then dropped. Returns NULL when out of memory.
 */
struct http_deferred;
struct http_deferred *http_defer(const struct http_req *req, struct http_resp *timeout_resp,
				 long timeout_ms);
const struct http_req *http_deferred_req(struct http_deferred *d);
struct http_resp *http_deferred_resp(struct http_deferred *d);
/* Any thread, exactly once: send the response (if still wanted) and free d. */
void http_deferred_finish(struct http_deferred *d);
/* On the loop, in the handler that deferred, when the work could not be
 * started: gives the timeout response back into *resp and frees d. */
void http_deferred_cancel(struct http_deferred *d, struct http_resp *resp);

/* Bind and listen (errors such as "address in use" are reported here),
 * then serve on worker threads. */
struct http_server *http_server_start(const struct http_server_opts *o, struct err *err);
int http_server_port(const struct http_server *s);
/* Counters since start (any thread). */
void http_server_stats(const struct http_server *s, struct http_server_stats *out);
/* Stop accepting, finish the event loops and join the threads. */
void http_server_stop(struct http_server *s);

#endif
