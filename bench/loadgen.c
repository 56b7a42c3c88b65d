/*
 * loadgen.c — a minimal closed-loop HTTP/1.1 load generator for
 * `make bench-auth-eth` on machines without wrk: C connections (one thread
 * each, keep-alive), each sending the same POST again and again for D
 * seconds, then prints requests/s and latency percentiles in one line:
 *   requests=N seconds=S rps=R p50_ms=A p99_ms=B errors=E non2xx=F
 * Test tool only: 127.0.0.1 targets, bounded duration, no TLS.
 * Usage: loadgen HOST PORT PATH BODY_FILE CONNECTIONS SECONDS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES (1u << 22)

static const char *g_host;
static int g_port;
static char *g_req;
static size_t g_req_len;
static double g_end;

struct worker {
	pthread_t th;
	unsigned long n, errors, non2xx;
	float *lat; /* ms */
	size_t nlat;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_to(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
	inet_pton(AF_INET, g_host, &a.sin_addr);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads one response (Content-Length framing); returns status or -1. */
static int read_response(int fd, char *buf, size_t cap)
{
	size_t have = 0;
	for (;;) {
		ssize_t r = read(fd, buf + have, cap - have - 1);
		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = 0;
		char *end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		int status = atoi(buf + 9);
		char *cl = strcasestr(buf, "\r\ncontent-length:");
		size_t body = cl ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
		size_t need = (size_t)(end + 4 - buf) + body;
		if (need >= cap)
			return -1;
		while (have < need) {
			r = read(fd, buf + have, need - have);
			if (r <= 0)
				return -1;
			have += (size_t)r;
		}
		return status;
	}
}

static void *run(void *arg)
{
	struct worker *w = arg;
	char buf[65536];
	int fd = connect_to();
	while (now_s() < g_end) {
		if (fd < 0) {
			w->errors++;
			usleep(10000);
			fd = connect_to();
			continue;
		}
		double t0 = now_s();
		if (write(fd, g_req, g_req_len) != (ssize_t)g_req_len) {
			close(fd);
			fd = -1;
			w->errors++;
			continue;
		}
		int st = read_response(fd, buf, sizeof buf);
		if (st < 0) {
			close(fd);
			fd = -1;
			w->errors++;
			continue;
		}
		if (st < 200 || st > 299)
			w->non2xx++;
		w->n++;
		if (w->nlat < MAX_SAMPLES / 16)
			w->lat[w->nlat++] = (float)((now_s() - t0) * 1000.0);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: loadgen HOST PORT PATH BODY_FILE CONNECTIONS SECONDS\n");
		return 2;
	}
	g_host = argv[1];
	g_port = atoi(argv[2]);
	int conns = atoi(argv[5]);
	double secs = atof(argv[6]);
	if (conns < 1 || conns > 256 || secs <= 0 || secs > 600)
		return 2;
	FILE *f = fopen(argv[4], "rb");
	if (!f) {
		perror(argv[4]);
		return 1;
	}
	static char body[1 << 16];
	size_t blen = fread(body, 1, sizeof body, f);
	fclose(f);
	g_req = malloc(blen + 512);
	if (!g_req)
		return 1;
	g_req_len = (size_t)snprintf(g_req, 512,
				     "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: "
				     "application/json\r\nContent-Length: %zu\r\n\r\n",
				     argv[3], g_host, g_port, blen);
	memcpy(g_req + g_req_len, body, blen);
	g_req_len += blen;

	struct worker *w = calloc((size_t)conns, sizeof *w);
	double t0 = now_s();
	g_end = t0 + secs;
	for (int i = 0; i < conns; i++) {
		w[i].lat = malloc(sizeof(float) * (MAX_SAMPLES / 16));
		pthread_create(&w[i].th, NULL, run, &w[i]);
	}
	unsigned long n = 0, errors = 0, non2xx = 0;
	size_t nl = 0;
	for (int i = 0; i < conns; i++) {
		pthread_join(w[i].th, NULL);
		n += w[i].n;
		errors += w[i].errors;
		non2xx += w[i].non2xx;
		nl += w[i].nlat;
	}
	double el = now_s() - t0;
	float *all = malloc(sizeof(float) * (nl ? nl : 1));
	size_t k = 0;
	for (int i = 0; i < conns; i++) {
		memcpy(all + k, w[i].lat, w[i].nlat * sizeof(float));
		k += w[i].nlat;
		free(w[i].lat);
	}
	qsort(all, nl, sizeof(float), cmp);
	double p50 = nl ? all[nl / 2] : 0, p99 = nl ? all[(size_t)((double)nl * 0.99)] : 0;
	printf("requests=%lu seconds=%.2f rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%lu non2xx=%lu\n",
	       n, el, (double)n / el, p50, p99, errors, non2xx);
	free(all);
	free(w);
	free(g_req);
	return 0;
}
