/*
 * mini_httpd.c — scripted HTTP/1.1 test server (mini_httpd.h). Test-only.
 *
 * Threads poll with short timeouts and check a stop flag, so stop() always
 * returns, even while a reply is hanging. Requests need Content-Length
 * bodies (what libcurl sends); chunked uploads are not supported.
 */
#include "mini_httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
#define MAX_QUEUE 64
#define MAX_REQS 1024
#define MAX_HEAD 16384
#define MAX_BODY (4 << 20)

struct reply {
	struct mini_httpd_reply r;
	char *body;
	char *headers;
};

struct conn {
	struct mini_httpd *srv;
	int fd;
	int id;
	SSL *ssl;
	char client_cn[256];
};

struct mini_httpd {
	int lfd;
	int port;
	char url[64];
	SSL_CTX *ctx;
	atomic_int stop;
	pthread_t accept_thread;
	pthread_mutex_t lock;
	struct reply queue[MAX_QUEUE];
	int q_head, q_len;
	struct reply def;
	pthread_t threads[MAX_CONNS];
	int nthreads;
	int nconns;
	struct mini_httpd_request *reqs[MAX_REQS];
	int nreqs;
};

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void reply_copy(struct reply *dst, const struct mini_httpd_reply *src)
{
	dst->r = *src;
	dst->body = strdup(src->body ? src->body : "");
	dst->headers = strdup(src->headers ? src->headers : "");
	dst->r.body = NULL;
	dst->r.headers = NULL;
}

/* ---- connection I/O (plain or TLS) ---- */

/* > 0 bytes, 0 EOF, -1 error or stop. */
static ssize_t conn_read(struct conn *c, char *buf, size_t n)
{
	for (;;) {
		if (atomic_load(&c->srv->stop))
			return -1;
		if (!c->ssl || SSL_pending(c->ssl) == 0) {
			struct pollfd p = {.fd = c->fd, .events = POLLIN};
			int pr = poll(&p, 1, 50);
			if (pr < 0 && errno != EINTR)
				return -1;
			if (pr <= 0)
				continue;
		}
		if (!c->ssl) {
			ssize_t r = recv(c->fd, buf, n, 0);
			if (r < 0 && errno == EINTR)
				continue;
			return r;
		}
		int r = SSL_read(c->ssl, buf, n > 65536 ? 65536 : (int)n);
		if (r > 0)
			return r;
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ)
			continue;
		return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
	}
}

static int conn_write(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w;
		if (c->ssl) {
			int r = SSL_write(c->ssl, p, n > 65536 ? 65536 : (int)n);
			if (r <= 0)
				return -1;
			w = r;
		} else {
			w = send(c->fd, p, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static const char *status_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Status";
	}
}

static int header_value(const char *headers, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	for (const char *line = headers; *line;) {
		const char *eol = strstr(line, "\r\n");
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		if (len > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
			const char *v = line + nl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			size_t vl = (size_t)(line + len - v);
			while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			if (out && outlen) {
				size_t k = vl < outlen - 1 ? vl : outlen - 1;
				memcpy(out, v, k);
				out[k] = '\0';
			}
			return 1;
		}
		if (!eol)
			break;
		line = eol + 2;
	}
	return 0;
}

int mini_httpd_header(const struct mini_httpd_request *r, const char *name, char *out,
		      size_t outlen)
{
	return header_value(r->headers, name, out, outlen);
}

/* Reads one request; keeps bytes beyond it in buf/have for the next one.
 * Returns 1 with *req filled, 0 on clean EOF/stop, -1 on error. */
static int read_request(struct conn *c, char *buf, size_t *have, struct mini_httpd_request *req)
{
	char *end;
	for (;;) {
		buf[*have] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end)
			break;
		if (*have >= MAX_HEAD)
			return -1;
		ssize_t r = conn_read(c, buf + *have, MAX_HEAD - *have);
		if (r <= 0)
			return r == 0 && *have == 0 ? 0 : -1;
		*have += (size_t)r;
	}
	size_t head_len = (size_t)(end - buf) + 4;
	memset(req, 0, sizeof *req);
	char *line_end = strstr(buf, "\r\n");
	*line_end = '\0';
	if (sscanf(buf, "%15s %2047s", req->method, req->target) != 2)
		return -1;
	size_t hl = (size_t)(end - (line_end + 2));
	if (line_end + 2 > end)
		hl = 0;
	if (hl >= sizeof req->headers)
		return -1;
	memcpy(req->headers, line_end + 2, hl);
	req->headers[hl] = '\0';
	char cl[32];
	size_t body_len = 0;
	if (header_value(req->headers, "Content-Length", cl, sizeof cl))
		body_len = (size_t)strtoul(cl, NULL, 10);
	if (body_len > MAX_BODY)
		return -1;
	req->body = malloc(body_len + 1);
	if (!req->body)
		return -1;
	size_t in_buf = *have - head_len;
	size_t take = in_buf < body_len ? in_buf : body_len;
	memcpy(req->body, buf + head_len, take);
	while (take < body_len) {
		ssize_t r = conn_read(c, req->body + take, body_len - take);
		if (r <= 0) {
			free(req->body);
			req->body = NULL;
			return -1;
		}
		take += (size_t)r;
	}
	req->body[body_len] = '\0';
	req->body_len = body_len;
	/* Shift any pipelined bytes to the front. */
	size_t used = head_len + (in_buf < body_len ? in_buf : body_len);
	memmove(buf, buf + used, *have - used);
	*have -= used;
	req->conn = c->id;
	snprintf(req->client_cn, sizeof req->client_cn, "%s", c->client_cn);
	return 1;
}

static void next_reply(struct mini_httpd *s, struct reply *out)
{
	pthread_mutex_lock(&s->lock);
	if (s->q_len > 0) {
		*out = s->queue[s->q_head];
		s->q_head = (s->q_head + 1) % MAX_QUEUE;
		s->q_len--;
	} else {
		out->r = s->def.r;
		out->body = strdup(s->def.body ? s->def.body : "");
		out->headers = strdup(s->def.headers ? s->def.headers : "");
	}
	pthread_mutex_unlock(&s->lock);
}

static int send_reply(struct conn *c, const struct reply *rp, int close_after)
{
	const struct mini_httpd_reply *r = &rp->r;
	int status = r->status ? r->status : 200;
	size_t blen = r->fill_bytes ? r->fill_bytes : strlen(rp->body ? rp->body : "");
	char head[4096];
	int hn = snprintf(
	    head, sizeof head,
	    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "X-Test-Header: hello\r\n%s%s\r\n",
	    status, status_reason(status), r->content_type ? r->content_type : "application/json",
	    blen, rp->headers ? rp->headers : "", close_after ? "Connection: close\r\n" : "");
	if (hn < 0 || (size_t)hn >= sizeof head)
		return -1;
	if (conn_write(c, head, (size_t)hn) < 0)
		return -1;
	if (r->fill_bytes) {
		char chunk[4096];
		memset(chunk, 'a', sizeof chunk);
		for (size_t left = blen; left > 0;) {
			size_t k = left < sizeof chunk ? left : sizeof chunk;
			if (conn_write(c, chunk, k) < 0)
				return -1;
			left -= k;
		}
		return 0;
	}
	return conn_write(c, rp->body ? rp->body : "", blen);
}

static void record(struct mini_httpd *s, struct mini_httpd_request *req)
{
	pthread_mutex_lock(&s->lock);
	if (s->nreqs < MAX_REQS) {
		struct mini_httpd_request *copy = malloc(sizeof *copy);
		if (copy) {
			*copy = *req;
			req->body = NULL; /* ownership moves */
			s->reqs[s->nreqs++] = copy;
		}
	}
	pthread_mutex_unlock(&s->lock);
}

static int tls_accept(struct conn *c)
{
	c->ssl = SSL_new(c->srv->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return -1;
	if (SSL_accept(c->ssl) != 1) {
		ERR_clear_error();
		return -1;
	}
	X509 *peer = SSL_get1_peer_certificate(c->ssl);
	if (peer) {
		X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, c->client_cn,
					  sizeof c->client_cn);
		X509_free(peer);
	}
	return 0;
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct mini_httpd *s = c->srv;
	char *buf = malloc(MAX_HEAD + 1);
	size_t have = 0;
	if (!buf || (s->ctx && tls_accept(c) < 0))
		goto out;
	for (;;) {
		struct mini_httpd_request req;
		if (read_request(c, buf, &have, &req) <= 0)
			break;
		char connhdr[64] = "";
		mini_httpd_header(&req, "Connection", connhdr, sizeof connhdr);
		int client_close = strcasecmp(connhdr, "close") == 0;
		record(s, &req);
		free(req.body);
		struct reply rp;
		next_reply(s, &rp);
		int waited = 0;
		while ((rp.r.hang || waited < rp.r.delay_ms) && !atomic_load(&s->stop)) {
			sleep_ms(10);
			waited += 10;
		}
		int close_after = rp.r.close || client_close;
		int ok = !atomic_load(&s->stop) && send_reply(c, &rp, close_after) == 0;
		free(rp.body);
		free(rp.headers);
		if (!ok || close_after)
			break;
	}
out:
	free(buf);
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	close(c->fd);
	free(c);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct mini_httpd *s = arg;
	while (!atomic_load(&s->stop)) {
		struct pollfd p = {.fd = s->lfd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		/* Bounds a stuck TLS handshake so stop() can join the thread. */
		struct timeval tv = {2, 0};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		struct conn *c = calloc(1, sizeof *c);
		pthread_mutex_lock(&s->lock);
		int slot = s->nthreads < MAX_CONNS && c;
		if (slot) {
			c->srv = s;
			c->fd = fd;
			c->id = s->nconns++;
			if (pthread_create(&s->threads[s->nthreads], NULL, conn_main, c) == 0)
				s->nthreads++;
			else
				slot = 0;
		}
		pthread_mutex_unlock(&s->lock);
		if (!slot) {
			free(c);
			close(fd);
		}
	}
	return NULL;
}

static int accept_any_client_cert(int ok, X509_STORE_CTX *ctx)
{
	(void)ctx;
	return ok;
}

struct mini_httpd *mini_httpd_start(const struct mini_httpd_tls *tls)
{
	struct mini_httpd *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->lfd = -1;
	pthread_mutex_init(&s->lock, NULL);
	if (tls) {
		s->ctx = SSL_CTX_new(TLS_server_method());
		if (!s->ctx || SSL_CTX_use_certificate_chain_file(s->ctx, tls->cert_file) != 1 ||
		    SSL_CTX_use_PrivateKey_file(s->ctx, tls->key_file, SSL_FILETYPE_PEM) != 1)
			goto fail;
		if (tls->client_ca_file) {
			if (SSL_CTX_load_verify_locations(s->ctx, tls->client_ca_file, NULL) != 1)
				goto fail;
			SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, accept_any_client_cert);
		}
	}
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (s->lfd < 0)
		goto fail;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof a;
	if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->lfd, 64) < 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &alen) < 0)
		goto fail;
	s->port = ntohs(a.sin_port);
	snprintf(s->url, sizeof s->url, "%s://127.0.0.1:%d", tls ? "https" : "http", s->port);
	struct mini_httpd_reply def = {.status = 200, .body = "{}"};
	reply_copy(&s->def, &def);
	if (pthread_create(&s->accept_thread, NULL, accept_main, s) != 0)
		goto fail;
	return s;
fail:
	ERR_clear_error();
	if (s->lfd >= 0)
		close(s->lfd);
	SSL_CTX_free(s->ctx);
	free(s->def.body);
	free(s->def.headers);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return NULL;
}

void mini_httpd_stop(struct mini_httpd *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, 1);
	pthread_join(s->accept_thread, NULL);
	/* No new threads can appear now; nthreads is stable. */
	for (int i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	close(s->lfd);
	for (int i = 0; i < s->q_len; i++) {
		free(s->queue[(s->q_head + i) % MAX_QUEUE].body);
		free(s->queue[(s->q_head + i) % MAX_QUEUE].headers);
	}
	free(s->def.body);
	free(s->def.headers);
	for (int i = 0; i < s->nreqs; i++) {
		free(s->reqs[i]->body);
		free(s->reqs[i]);
	}
	SSL_CTX_free(s->ctx);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int mini_httpd_port(const struct mini_httpd *s)
{
	return s->port;
}

const char *mini_httpd_url(const struct mini_httpd *s)
{
	return s->url;
}

void mini_httpd_push(struct mini_httpd *s, const struct mini_httpd_reply *r)
{
	pthread_mutex_lock(&s->lock);
	if (s->q_len < MAX_QUEUE) {
		reply_copy(&s->queue[(s->q_head + s->q_len) % MAX_QUEUE], r);
		s->q_len++;
	}
	pthread_mutex_unlock(&s->lock);
}

void mini_httpd_set_default(struct mini_httpd *s, const struct mini_httpd_reply *r)
{
	pthread_mutex_lock(&s->lock);
	free(s->def.body);
	free(s->def.headers);
	reply_copy(&s->def, r);
	pthread_mutex_unlock(&s->lock);
}

int mini_httpd_connections(struct mini_httpd *s)
{
	pthread_mutex_lock(&s->lock);
	int n = s->nconns;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int mini_httpd_nrequests(struct mini_httpd *s)
{
	pthread_mutex_lock(&s->lock);
	int n = s->nreqs;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int mini_httpd_get_request(struct mini_httpd *s, int i, struct mini_httpd_request *out)
{
	int rc = -1;
	pthread_mutex_lock(&s->lock);
	if (i >= 0 && i < s->nreqs) {
		*out = *s->reqs[i];
		out->body = malloc(out->body_len + 1);
		if (out->body) {
			memcpy(out->body, s->reqs[i]->body, out->body_len + 1);
			rc = 0;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void mini_httpd_request_free(struct mini_httpd_request *r)
{
	free(r->body);
	r->body = NULL;
}

int mini_httpd_unused_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof a;
	int port = -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}
