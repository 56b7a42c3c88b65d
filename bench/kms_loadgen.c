/*
 * kms_loadgen.c — HTTPS load generator for `make bench` and `make soak`:
 * C connections (one thread each) send prpc POSTs over TLS (OpenSSL),
 * keep-alive by default, optionally presenting a client certificate (the
 * simulated TEE's RA-TLS certificate), for D seconds; closed loop, or paced
 * to a total rate with --rate. Prints one summary line
 *   requests=N seconds=S rps=R p50_ms=A p99_ms=B errors=E non2xx=F handshakes=H
 * and one "req[i] ..." line per request kind. With --errlog every failed
 * request is one line "UNIX_MS kind=K conn=C what=... detail=...", so a
 * caller can put each error in a time window.
 * Bench/test tool only: 127.0.0.1 targets, bounded duration, no
 * certificate verification of the server (like curl -k in the tests).
 *
 * Usage: kms_loadgen --port P [--host 127.0.0.1] [--conns N] [--seconds S]
 *          [--rate R] [--new-conn] [--errlog FILE]
 *          --req PATH,BODY_FILE[,CERT,KEY] [--req ...]
 *   connections are assigned to the --req kinds round-robin; a PATH
 *   "GET:/health" sends a GET, BODY_FILE "-" an empty body.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_KINDS 8
#define MAX_CONNS 256
#define LAT_CAP (1u << 20) /* samples per connection */

struct kind {
	char path[256];
	char *req;
	size_t req_len;
	SSL_CTX *ctx;
	char cert[512];
};

struct worker {
	pthread_t th;
	int id;
	struct kind *k;
	unsigned long n, errors, non2xx, handshakes;
	float *lat;
	size_t nlat;
};

static const char *g_host = "127.0.0.1";
static int g_port;
static double g_end, g_interval; /* per-connection pacing interval, 0 = closed loop */
static int g_new_conn;
static FILE *g_errlog;
static pthread_mutex_t g_errmu = PTHREAD_MUTEX_INITIALIZER;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void log_error(const struct worker *w, const char *what, const char *detail)
{
	if (!g_errlog)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	long long ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	char clean[300];
	size_t j = 0;
	for (size_t i = 0; detail && detail[i] && j < sizeof clean - 1; i++)
		clean[j++] = (detail[i] == '\n' || detail[i] == '\r') ? ' ' : detail[i];
	clean[j] = 0;
	pthread_mutex_lock(&g_errmu);
	fprintf(g_errlog, "%lld kind=%s conn=%d what=%s detail=%s\n", ms, w->k->path, w->id, what,
		clean);
	fflush(g_errlog);
	pthread_mutex_unlock(&g_errmu);
}

struct conn {
	int fd;
	SSL *ssl;
};

static void conn_close(struct conn *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int conn_open(struct worker *w, struct conn *c)
{
	char detail[256];
	c->ssl = NULL;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
	inet_pton(AF_INET, g_host, &a.sin_addr);
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct timeval tv = {10, 0};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) {
		snprintf(detail, sizeof detail, "%s", strerror(errno));
		log_error(w, "connect", detail);
		conn_close(c);
		return -1;
	}
	c->ssl = SSL_new(w->k->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_connect(c->ssl) != 1) {
		unsigned long e = ERR_get_error();
		snprintf(detail, sizeof detail, "%s", e ? ERR_error_string(e, NULL) : "closed");
		ERR_clear_error();
		log_error(w, "handshake", detail);
		conn_close(c);
		return -1;
	}
	w->handshakes++;
	return 0;
}

/* Reads one response (Content-Length framing); returns the status or -1;
 * *body points into buf. */
static int read_response(SSL *ssl, char *buf, size_t cap, const char **body)
{
	size_t have = 0;
	for (;;) {
		int r = SSL_read(ssl, buf + have, (int)(cap - have - 1));
		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = 0;
		char *end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		int status = atoi(buf + 9);
		char *cl = strcasestr(buf, "\r\ncontent-length:");
		size_t blen = cl ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
		size_t need = (size_t)(end + 4 - buf) + blen;
		if (need >= cap)
			return -1;
		while (have < need) {
			r = SSL_read(ssl, buf + have, (int)(need - have));
			if (r <= 0)
				return -1;
			have += (size_t)r;
		}
		buf[have] = 0;
		*body = end + 4;
		return status;
	}
}

static void *run(void *arg)
{
	struct worker *w = arg;
	static __thread char buf[1 << 18];
	struct conn c = {-1, NULL};
	/* spread the first sends of paced connections over one interval */
	double next = now_s() + (g_interval > 0 ? g_interval * (w->id % 97) / 97.0 : 0);
	while (now_s() < g_end) {
		if (g_interval > 0) {
			double t = now_s();
			if (next > t) {
				double d = next - t;
				if (t + d > g_end)
					break;
				usleep((useconds_t)(d * 1e6));
			} else if (t - next > 1.0) {
				next = t; /* far behind: do not burst to catch up */
			}
			next += g_interval;
		}
		double t0 = now_s();
		if (c.fd < 0 && conn_open(w, &c) < 0) {
			w->errors++;
			usleep(20000);
			continue;
		}
		if (SSL_write(c.ssl, w->k->req, (int)w->k->req_len) != (int)w->k->req_len) {
			log_error(w, "write", "connection closed by the server");
			ERR_clear_error();
			conn_close(&c);
			w->errors++;
			continue;
		}
		const char *body = "";
		int st = read_response(c.ssl, buf, sizeof buf, &body);
		if (st < 0) {
			log_error(w, "read", "no complete response (closed or timed out)");
			ERR_clear_error();
			conn_close(&c);
			w->errors++;
			continue;
		}
		if (st < 200 || st > 299) {
			char d[280];
			snprintf(d, sizeof d, "status=%d body=%.240s", st, body);
			log_error(w, "http", d);
			w->non2xx++;
		}
		w->n++;
		if (w->nlat < LAT_CAP)
			w->lat[w->nlat++] = (float)((now_s() - t0) * 1000.0);
		if (g_new_conn) {
			SSL_shutdown(c.ssl);
			conn_close(&c);
		}
	}
	conn_close(&c);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return x < y ? -1 : x > y;
}

static void pct(float *v, size_t n, double *p50, double *p99)
{
	qsort(v, n, sizeof *v, cmp);
	*p50 = n ? v[n / 2] : 0;
	*p99 = n ? v[(size_t)((double)n * 0.99)] : 0;
}

static int kind_init(struct kind *k, char *spec)
{
	char *path = strtok(spec, ","), *bodyf = strtok(NULL, ","), *cert = strtok(NULL, ","),
	     *key = strtok(NULL, ",");
	if (!path || !bodyf || (cert && !key)) {
		fprintf(stderr, "--req PATH,BODY_FILE[,CERT,KEY]\n");
		return -1;
	}
	snprintf(k->path, sizeof k->path, "%s", path);
	static char body[1 << 16];
	size_t blen = 0;
	if (strcmp(bodyf, "-") != 0) {
		FILE *f = fopen(bodyf, "rb");
		if (!f) {
			perror(bodyf);
			return -1;
		}
		blen = fread(body, 1, sizeof body, f);
		fclose(f);
	}
	k->req = malloc(blen + 512);
	if (!k->req)
		return -1;
	const char *method = "POST";
	if (!strncmp(path, "GET:", 4)) {
		method = "GET";
		path += 4;
	}
	k->req_len = (size_t)snprintf(k->req, 512,
				      "%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: "
				      "application/json\r\nContent-Length: %zu\r\n\r\n",
				      method, path, g_host, g_port, blen);
	memcpy(k->req + k->req_len, body, blen);
	k->req_len += blen;
	k->ctx = SSL_CTX_new(TLS_client_method());
	if (!k->ctx)
		return -1;
	SSL_CTX_set_verify(k->ctx, SSL_VERIFY_NONE, NULL);
	/* every new connection is a full handshake: no session reuse */
	SSL_CTX_set_session_cache_mode(k->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(k->ctx, SSL_OP_NO_TICKET);
	if (cert) {
		snprintf(k->cert, sizeof k->cert, "%s", cert);
		if (SSL_CTX_use_certificate_file(k->ctx, cert, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_use_PrivateKey_file(k->ctx, key, SSL_FILETYPE_PEM) != 1) {
			fprintf(stderr, "cannot load %s / %s\n", cert, key);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	int conns = 8, nk = 0;
	double secs = 5, rate = 0;
	const char *errlog = NULL;
	char *specs[MAX_KINDS];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--new-conn")) {
			g_new_conn = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "%s needs a value\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--host"))
			g_host = v;
		else if (!strcmp(a, "--port"))
			g_port = atoi(v);
		else if (!strcmp(a, "--conns"))
			conns = atoi(v);
		else if (!strcmp(a, "--seconds"))
			secs = atof(v);
		else if (!strcmp(a, "--rate"))
			rate = atof(v);
		else if (!strcmp(a, "--errlog"))
			errlog = v;
		else if (!strcmp(a, "--req") && nk < MAX_KINDS)
			specs[nk++] = argv[i];
		else {
			fprintf(stderr, "unknown option %s (see the header of bench/kms_loadgen.c)\n",
				a);
			return 2;
		}
	}
	if (g_port <= 0 || nk == 0 || conns < 1 || conns > MAX_CONNS || secs <= 0 || secs > 3600 ||
	    rate < 0) {
		fprintf(stderr, "usage: kms_loadgen --port P [--conns N] [--seconds S] [--rate R] "
				"[--new-conn] [--errlog FILE] --req PATH,BODY[,CERT,KEY]...\n");
		return 2;
	}
	if (errlog && !(g_errlog = fopen(errlog, "a"))) {
		perror(errlog);
		return 1;
	}
	struct kind kinds[MAX_KINDS];
	memset(kinds, 0, sizeof kinds);
	for (int i = 0; i < nk; i++)
		if (kind_init(&kinds[i], specs[i]) < 0)
			return 1;
	g_interval = rate > 0 ? (double)conns / rate : 0;

	struct worker *w = calloc((size_t)conns, sizeof *w);
	if (!w)
		return 1;
	double t0 = now_s();
	g_end = t0 + secs;
	for (int i = 0; i < conns; i++) {
		w[i].id = i;
		w[i].k = &kinds[i % nk];
		w[i].lat = malloc(sizeof(float) * LAT_CAP);
		if (!w[i].lat || pthread_create(&w[i].th, NULL, run, &w[i]) != 0)
			return 1;
	}
	unsigned long n = 0, errors = 0, non2xx = 0, hs = 0;
	size_t nl = 0;
	for (int i = 0; i < conns; i++) {
		pthread_join(w[i].th, NULL);
		n += w[i].n;
		errors += w[i].errors;
		non2xx += w[i].non2xx;
		hs += w[i].handshakes;
		nl += w[i].nlat;
	}
	double el = now_s() - t0;
	float *all = malloc(sizeof(float) * (nl ? nl : 1));
	if (!all)
		return 1;
	double p50, p99;
	for (int ki = 0; ki < nk; ki++) {
		size_t k = 0;
		unsigned long kn = 0, ke = 0, kx = 0;
		for (int i = 0; i < conns; i++) {
			if (w[i].k != &kinds[ki])
				continue;
			memcpy(all + k, w[i].lat, w[i].nlat * sizeof(float));
			k += w[i].nlat;
			kn += w[i].n;
			ke += w[i].errors;
			kx += w[i].non2xx;
		}
		pct(all, k, &p50, &p99);
		printf("req[%d] path=%s cert=%s requests=%lu rps=%.1f p50_ms=%.3f p99_ms=%.3f "
		       "errors=%lu non2xx=%lu\n",
		       ki, kinds[ki].path, kinds[ki].cert[0] ? kinds[ki].cert : "-", kn,
		       (double)kn / el, p50, p99, ke, kx);
	}
	size_t k = 0;
	for (int i = 0; i < conns; i++) {
		memcpy(all + k, w[i].lat, w[i].nlat * sizeof(float));
		k += w[i].nlat;
		free(w[i].lat);
	}
	pct(all, k, &p50, &p99);
	printf("requests=%lu seconds=%.2f rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%lu non2xx=%lu "
	       "handshakes=%lu\n",
	       n, el, (double)n / el, p50, p99, errors, non2xx, hs);
	free(all);
	free(w);
	for (int i = 0; i < nk; i++) {
		free(kinds[i].req);
		SSL_CTX_free(kinds[i].ctx);
	}
	if (g_errlog)
		fclose(g_errlog);
	return 0;
}
