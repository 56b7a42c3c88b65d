/*
 * mini_httpd.h — a tiny HTTP/1.1 server for unit tests (test-only code).
 *
 * Listens on 127.0.0.1:<ephemeral>, one thread per connection, keep-alive,
 * optional TLS (OpenSSL) with optional client-certificate checking. Replies
 * come from a FIFO of scripted replies, then from a default reply; a reply
 * can be delayed, can hang (never answer), or can close the connection.
 * Every received request is recorded so tests can assert method, target,
 * headers and body byte for byte. Never used outside tests.
 */
#ifndef TESTS_MINI_HTTPD_H
#define TESTS_MINI_HTTPD_H

#include <stddef.h>

struct mini_httpd;

struct mini_httpd_reply {
	int status;		  /* 0 = 200 */
	const char *body;	  /* copied; NULL = "" */
	size_t fill_bytes;	  /* > 0: body is this many 'a' bytes instead */
	const char *content_type; /* NULL = application/json */
	const char *headers;	  /* extra raw lines, each ending "\r\n"; copied */
	int delay_ms;		  /* wait before answering */
	int hang;		  /* never answer; hold the connection until stop */
	int close;		  /* "Connection: close" and close after answering */
};

struct mini_httpd_tls {
	const char *cert_file; /* server certificate chain (PEM) */
	const char *key_file;
	/* Non-NULL: ask for a client certificate and verify it against this CA. */
	const char *client_ca_file;
};

struct mini_httpd_request {
	char method[16];
	char target[2048];
	char headers[8192]; /* raw header lines after the request line */
	char *body;	    /* NUL-terminated copy; free with mini_httpd_request_free */
	size_t body_len;
	int conn;	     /* connection number (0-based accept order) */
	char client_cn[256]; /* TLS client certificate CN, "" if none */
};

/* NULL tls = plain HTTP. Returns NULL on failure. */
struct mini_httpd *mini_httpd_start(const struct mini_httpd_tls *tls);
/* Stops accepting, releases hanging connections, joins every thread. */
void mini_httpd_stop(struct mini_httpd *s);
int mini_httpd_port(const struct mini_httpd *s);
/* "http://127.0.0.1:<port>" (or https://); static per server. */
const char *mini_httpd_url(const struct mini_httpd *s);
void mini_httpd_push(struct mini_httpd *s, const struct mini_httpd_reply *r);
void mini_httpd_set_default(struct mini_httpd *s, const struct mini_httpd_reply *r);
int mini_httpd_connections(struct mini_httpd *s);
int mini_httpd_nrequests(struct mini_httpd *s);
/* Copies request i (0-based) into out; 0 or -1 if there is no such request. */
int mini_httpd_get_request(struct mini_httpd *s, int i, struct mini_httpd_request *out);
void mini_httpd_request_free(struct mini_httpd_request *r);
/* Copies the value of header `name` (case-insensitive) into out; 1 if present. */
int mini_httpd_header(const struct mini_httpd_request *r, const char *name, char *out,
		      size_t outlen);
/* A 127.0.0.1 port that was free a moment ago and has no listener. */
int mini_httpd_unused_port(void);

#endif
