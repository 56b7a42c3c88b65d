/*
 * http_server.c — HTTP/1.1 (+TLS, optional client certs) server on libevent.
 *
 * One listening socket is bound per server, without SO_REUSEPORT, so a
 * second process cannot bind the same port and split clients between two
 * key sets; each worker thread owns an event_base, an evhttp and a listener
 * on its own dup of that socket. When accept() fails for lack of file
 * descriptors or memory, the worker pauses its listener for ACCEPT_PAUSE_MS
 * instead of spinning on the still-readable socket (one warning per 10 s).
 * TLS uses one shared SSL_CTX; a presented client certificate must chain to
 * the configured CA or the handshake fails (kms-protocol §19). Response
 * bodies are handed to libevent by reference and wiped after sending when
 * marked secret. A deferred reply (http_defer) keeps its own copy of the
 * request; its completion is posted back to the loop that owns the
 * connection, and a per-request timer answers if the work overruns its
 * deadline. Never logs request bodies.
 *
 * Admission (http_server.h): the bufferevent callback that evhttp calls
 * for each accepted connection registers a `struct conn` and activates its
 * timer, which runs in the same loop pass before any byte of the connection
 * is read: it reads the peer address, takes a slot in the server-wide
 * table of connections per address (one mutex, fixed size) or closes the
 * connection at once. The same timer then enforces the header and whole-
 * request deadlines; an input-buffer callback notes a request's first byte
 * and the blank line that ends its headers, and the request handler stops
 * the clock. libevent 2.1 has no hook at request creation, so the header
 * end is found by this scan rather than by evhttp's parser; a disagreement
 * only moves a request from the header deadline to the (later) request one.
 * The same input callback counts every byte received into the server-wide
 * budget of request bytes held (max_buffered) until the request's answer is
 * sent or the connection closes; a connection that takes the total past it
 * is closed by its timer (never from inside libevent's read path). When
 * the bytes held fall back after a peak of at least TRIM_PEAK, the freed heap
 * is handed back to the kernel (malloc_trim), so a burst of large bodies does
 * not leave the process at its peak size.
 */
#include "net/http_server.h"

#include "util/log.h"
#include "util/ratelog.h"
#include "util/secret.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

struct conn;

struct worker {
	struct conn *conns;  /* every tracked connection of this loop */
	struct conn **chash; /* evhttp connection -> conn, chained */
	size_t chash_mask;
	pthread_mutex_t mu; /* guards dead against late completions */
	int dead;	    /* the loop is gone: completions are dropped */
	int pending;	    /* deferred requests not yet finished (loop thread) */
	int stopping;
	struct event *drain_ev;
	pthread_t th;
	int started;
	int index;
	struct event_base *base;
	struct evhttp *http;
	struct event *stop_ev;
	struct event *tick_ev;
	struct evhttp_bound_socket *bound;
	struct event *resume_ev; /* re-enables a paused listener */
	struct http_server *srv;
};

struct http_server {
	struct worker *w;
	int n;
	SSL_CTX *ctx;
	int port;
	http_handler_fn handler;
	void *ud;
	void (*on_tick)(void *ud, int worker);
	long drain_max_ms;
	int strict_path;
	long long drain_until_ms;
	int listen_fd;
	char name[32];
	struct admission *adm;
	long header_timeout_ms, read_timeout_ms;
	_Atomic unsigned long long n_open, n_refused_global, n_refused_client, n_header_cut,
	    n_read_cut, n_buffered_cut;
	size_t max_buffered;
	_Atomic size_t buffered;      /* request bytes held, all connections */
	_Atomic size_t buffered_peak; /* highest since the last trim */
	_Atomic long long last_trim_ms;
	struct ratelog refuse_log, cut_log;
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pthread_once_t g_evthread_once = PTHREAD_ONCE_INIT;

static void evthread_init(void)
{
	evthread_use_pthreads();
}

/* What http_req.impl points at while a handler runs on the loop. */
struct req_ctx {
	struct evhttp_request *evreq;
	struct worker *w;
	struct conn *cn; /* NULL for an untracked connection (out of memory) */
	struct http_deferred *deferred;
};

struct http_deferred {
	struct worker *w;
	struct evhttp_request *evreq;	/* NULL once replied or the connection closed */
	struct evhttp_connection *conn; /* closecb is ours only when cn is NULL */
	struct conn *cn;
	struct http_req req;
	char *path, *query, *content_type, *remote_ip;
	uint8_t *body;
	struct http_resp resp;	       /* filled by the work */
	struct http_resp timeout_resp; /* sent when the deadline passes first */
	struct event *timer;
	struct req_ctx *ctx; /* while the deferring handler runs */
};

/* ---- admission: connection caps ------------------------------------------------ */

/* A client address: IPv4 as ::ffff:a.b.c.d, IPv6 by its /64 (a host gets a
 * whole /64, so one address per connection would evade the cap). */
struct addr_key {
	uint8_t b[16];
};

struct addr_entry {
	struct addr_key key;
	int count;
	uint32_t next; /* index + 1 of the next entry in the chain or free list */
};

/* Open connections in all, and per address, for one server. Each counted
 * connection holds one reference on one entry, so at most max entries are
 * ever in use and the table never grows. The hash is keyed per server so a
 * client cannot aim its addresses at one chain. */
struct admission {
	pthread_mutex_t mu;
	int open, max, per_client;
	uint32_t nbuckets; /* power of two */
	uint32_t *buckets; /* index + 1 of a chain head, 0 = empty */
	struct addr_entry *e;
	uint32_t free_head;
	uint64_t k0, k1;
};

enum admit_result { ADMIT_OK, ADMIT_OVER_GLOBAL, ADMIT_OVER_CLIENT };

static struct admission *admission_new(int max, int per_client)
{
	struct admission *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->max = max;
	a->per_client = per_client;
	a->nbuckets = 16;
	while (a->nbuckets < (uint32_t)max)
		a->nbuckets *= 2;
	a->buckets = calloc(a->nbuckets, sizeof *a->buckets);
	a->e = calloc((size_t)max, sizeof *a->e);
	uint64_t k[2];
	if (!a->buckets || !a->e || RAND_bytes((unsigned char *)k, sizeof k) != 1 ||
	    pthread_mutex_init(&a->mu, NULL) != 0) {
		free(a->buckets);
		free(a->e);
		free(a);
		return NULL;
	}
	a->k0 = k[0];
	a->k1 = k[1];
	for (int i = 0; i < max; i++)
		a->e[i].next = i + 1 < max ? (uint32_t)i + 2 : 0;
	a->free_head = 1;
	return a;
}

static void admission_free(struct admission *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->mu);
	free(a->buckets);
	free(a->e);
	free(a);
}

static uint32_t addr_hash(const struct admission *a, const struct addr_key *k)
{
	uint64_t x, y;
	memcpy(&x, k->b, 8);
	memcpy(&y, k->b + 8, 8);
	uint64_t h = (x ^ a->k0) * 0x9E3779B97F4A7C15ull;
	h ^= (y ^ a->k1) * 0xC2B2AE3D27D4EB4Full;
	h ^= h >> 31;
	h *= 0x94D049BB133111EBull;
	h ^= h >> 29;
	return (uint32_t)h & (a->nbuckets - 1);
}

/* Counts a connection from k, or says which cap it is over. *slot is the
 * entry to release (index + 1). */
static enum admit_result admission_acquire(struct admission *a, const struct addr_key *k,
					   uint32_t *slot, int *count)
{
	enum admit_result r = ADMIT_OK;
	pthread_mutex_lock(&a->mu);
	uint32_t h = addr_hash(a, k), i = a->buckets[h];
	while (i && memcmp(&a->e[i - 1].key, k, sizeof *k) != 0)
		i = a->e[i - 1].next;
	if (a->open >= a->max) {
		r = ADMIT_OVER_GLOBAL;
		*count = a->open;
	} else if (i && a->e[i - 1].count >= a->per_client) {
		r = ADMIT_OVER_CLIENT;
		*count = a->e[i - 1].count;
	} else {
		if (!i) { /* open < max, so a free entry exists */
			i = a->free_head;
			a->free_head = a->e[i - 1].next;
			a->e[i - 1] = (struct addr_entry){.key = *k, .next = a->buckets[h]};
			a->buckets[h] = i;
		}
		a->e[i - 1].count++;
		a->open++;
		*slot = i;
	}
	pthread_mutex_unlock(&a->mu);
	return r;
}

static void admission_release(struct admission *a, uint32_t slot)
{
	pthread_mutex_lock(&a->mu);
	struct addr_entry *e = &a->e[slot - 1];
	a->open--;
	if (--e->count == 0) {
		uint32_t *pp = &a->buckets[addr_hash(a, &e->key)];
		while (*pp && *pp != slot)
			pp = &a->e[*pp - 1].next;
		if (*pp)
			*pp = e->next;
		e->next = a->free_head;
		a->free_head = slot;
	}
	pthread_mutex_unlock(&a->mu);
}

/* The key of a peer address, and its text for logs; -1 for another family. */
static int addr_key_of(const struct sockaddr_storage *ss, struct addr_key *k, char *ip,
		       size_t iplen)
{
	memset(k, 0, sizeof *k);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *)ss;
		k->b[10] = k->b[11] = 0xff;
		memcpy(k->b + 12, &v4->sin_addr, 4);
		inet_ntop(AF_INET, &v4->sin_addr, ip, (socklen_t)iplen);
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &v6->sin6_addr, ip, (socklen_t)iplen);
		if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr))
			memcpy(k->b, &v6->sin6_addr, 16);
		else
			memcpy(k->b, &v6->sin6_addr, 8);
		return 0;
	}
	return -1;
}

/* ---- admission: one tracked connection ----------------------------------------- */

enum conn_phase {
	PH_NEW,	    /* accepted, not yet admitted */
	PH_HEADERS, /* a request started: its headers are due */
	PH_BODY,    /* headers in: the rest of the request is due */
	PH_WAITING, /* the request is complete: the handler answers */
	PH_IDLE,    /* answered; a keep-alive connection waits for the next one */
};

struct conn {
	struct worker *w;
	struct bufferevent *bev;
	struct evhttp_connection *evcon; /* set once admitted */
	struct event *timer;		 /* admission, then the deadlines */
	struct evbuffer_cb_entry *in_cb;
	struct conn *hnext;	  /* the worker's hash chain */
	struct conn *prev, *next; /* the worker's list */
	uint32_t slot;		  /* admission entry (index + 1) while counted */
	enum conn_phase phase;
	long long start_ms; /* accept, or the first byte of a later request */
	int line_len;	    /* header scan: bytes on the current line */
	int seen_line;	    /* header scan: a non-empty line was seen */
	size_t held;	    /* bytes counted in the server's budget */
	int over_budget;    /* to be closed by its timer */
	struct http_deferred *deferred;
	char ip[INET6_ADDRSTRLEN];
};

static size_t chash_of(const struct worker *w, const struct evhttp_connection *evcon)
{
	return (size_t)(((uint64_t)(uintptr_t)evcon * 0x9E3779B97F4A7C15ull) >> 32) & w->chash_mask;
}

static struct conn *conn_find(struct worker *w, struct evhttp_connection *evcon)
{
	struct conn *c = w->chash ? w->chash[chash_of(w, evcon)] : NULL;
	while (c && c->evcon != evcon)
		c = c->hnext;
	return c;
}

static void conn_free(struct conn *c)
{
	struct worker *w = c->w;
	if (c->evcon) {
		struct conn **pp = &w->chash[chash_of(w, c->evcon)];
		while (*pp && *pp != c)
			pp = &(*pp)->hnext;
		if (*pp)
			*pp = c->hnext;
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->timer)
		event_free(c->timer);
	free(c);
}

/* Request bytes of a large burst are freed: return the heap to the kernel
 * once the bytes held are down to a quarter of the peak (at most once a
 * second; malloc_trim walks every arena). */
#define TRIM_PEAK ((size_t)32 << 20)

static void budget_give_back(struct http_server *s, size_t n)
{
	if (!n)
		return;
	size_t now = atomic_fetch_sub(&s->buffered, n) - n;
	size_t peak = atomic_load(&s->buffered_peak);
	if (peak < TRIM_PEAK || now > peak / 4)
		return;
	long long t = now_ms(), last = atomic_load(&s->last_trim_ms);
	if (t - last < 1000 || !atomic_compare_exchange_strong(&s->last_trim_ms, &last, t))
		return;
	atomic_store(&s->buffered_peak, now);
	malloc_trim(0);
}

static void budget_take(struct http_server *s, struct conn *c, size_t n)
{
	size_t now = atomic_fetch_add(&s->buffered, n) + n;
	c->held += n;
	size_t peak = atomic_load(&s->buffered_peak);
	while (now > peak && !atomic_compare_exchange_weak(&s->buffered_peak, &peak, now))
		;
	if (now > s->max_buffered && !c->over_budget &&
	    (c->phase == PH_HEADERS || c->phase == PH_BODY)) {
		/* closed from its timer, outside libevent's read path */
		c->over_budget = 1;
		event_active(c->timer, EV_TIMEOUT, 1);
	}
}

/* The connection is going away (evhttp closes it, or we are about to):
 * give back its slot and detach everything that points at it. */
static void conn_release(struct conn *c)
{
	struct http_server *s = c->w->srv;
	if (c->deferred) {
		c->deferred->evreq = NULL;
		c->deferred->cn = NULL;
		c->deferred = NULL;
	}
	if (c->in_cb)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->in_cb);
	if (c->evcon)
		evhttp_connection_set_closecb(c->evcon, NULL, NULL);
	if (c->slot) {
		admission_release(s->adm, c->slot);
		atomic_fetch_sub(&s->n_open, 1);
	}
	budget_give_back(s, c->held);
	c->held = 0;
	conn_free(c);
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	conn_release(arg);
}

/* We close it: no callback of it may run afterwards. */
static void conn_close(struct conn *c)
{
	struct evhttp_connection *evcon = c->evcon;
	conn_release(c);
	evhttp_connection_free(evcon);
}

static void conn_arm(struct conn *c, long long deadline_ms)
{
	long long left = deadline_ms - now_ms();
	if (left < 1)
		left = 1;
	struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
	event_add(c->timer, &tv);
}

static void request_begin(struct conn *c, long long t)
{
	c->phase = PH_HEADERS;
	c->start_ms = t;
	c->line_len = 0;
	c->seen_line = 0;
	conn_arm(c, t + c->w->srv->header_timeout_ms);
}

/* Scans the last n bytes of the input for the blank line that ends the
 * headers (evhttp's lines end in LF, an optional CR before it). */
static void scan_headers(struct conn *c, struct evbuffer *in, size_t n)
{
	size_t len = evbuffer_get_length(in);
	size_t off = n < len ? len - n : 0;
	struct evbuffer_ptr pos;
	while (off < len && evbuffer_ptr_set(in, &pos, off, EVBUFFER_PTR_SET) == 0) {
		struct evbuffer_iovec v[8];
		int nv = evbuffer_peek(in, (ev_ssize_t)(len - off), &pos, v, 8);
		if (nv <= 0)
			return;
		for (int i = 0; i < nv && i < 8 && off < len; i++) {
			const unsigned char *p = v[i].iov_base;
			size_t l = v[i].iov_len < len - off ? v[i].iov_len : len - off;
			for (size_t j = 0; j < l; j++) {
				if (p[j] == '\r')
					continue;
				if (p[j] != '\n') {
					c->line_len++;
					continue;
				}
				if (c->line_len == 0 && c->seen_line) {
					c->phase = PH_BODY;
					conn_arm(c, c->start_ms + c->w->srv->read_timeout_ms);
					return;
				}
				c->seen_line |= c->line_len > 0;
				c->line_len = 0;
			}
			off += l;
		}
	}
}

/* Bytes arrived (evbuffer callbacks run before evhttp reads them). */
static void on_input(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;
	if (!info->n_added)
		return;
	if (c->phase == PH_IDLE)
		request_begin(c, now_ms());
	if (c->phase == PH_HEADERS)
		scan_headers(c, in, info->n_added);
	budget_take(c->w->srv, c, info->n_added);
}

/* The answer is out: a keep-alive connection may begin its next request
 * (with bytes already waiting, when pipelined). */
static void on_reply_sent(struct evhttp_request *req, void *arg)
{
	(void)req;
	struct conn *c = arg;
	c->phase = PH_IDLE;
	c->over_budget = 0;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	/* the answered request's bytes are free; a pipelined next one's stay */
	size_t keep = evbuffer_get_length(in);
	if (keep < c->held) {
		budget_give_back(c->w->srv, c->held - keep);
		c->held = keep;
	}
	if (evbuffer_get_length(in)) {
		request_begin(c, now_ms());
		scan_headers(c, in, evbuffer_get_length(in));
	}
}

static void log_refusal(struct http_server *s, const struct conn *c, enum admit_result r, int count)
{
	unsigned long dropped;
	if (!ratelog_allow(&s->refuse_log, 10000, &dropped))
		return;
	log_warn("%s server: refused a connection from %s: %s cap reached (%d open%s); %lu more "
		 "refused without a line in the last 10 s",
		 s->name, c->ip, r == ADMIT_OVER_GLOBAL ? "connection" : "per-client connection",
		 count, r == ADMIT_OVER_GLOBAL ? "" : " from this address", dropped);
}

static void admit(struct conn *c)
{
	struct http_server *s = c->w->srv;
	void *arg = NULL;
	/* evhttp's callbacks on the bufferevent carry its connection; it is
	 * NULL when evhttp dropped the connection while setting it up */
	bufferevent_getcb(c->bev, NULL, NULL, NULL, &arg);
	struct evhttp_connection *evcon = arg;
	if (evcon && evhttp_connection_get_bufferevent(evcon) != c->bev)
		evcon = NULL;
	struct bufferevent *bev = c->bev;
	if (!evcon) {
		conn_free(c);
		bufferevent_decref(bev);
		return;
	}
	bufferevent_decref(bev); /* evhttp's reference keeps it from here */
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	struct addr_key key;
	int fd = bufferevent_getfd(bev);
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) != 0 ||
	    addr_key_of(&ss, &key, c->ip, sizeof c->ip) < 0) {
		conn_free(c);
		evhttp_connection_free(evcon);
		return;
	}
	int count = 0;
	enum admit_result r = admission_acquire(s->adm, &key, &c->slot, &count);
	if (r != ADMIT_OK) {
		atomic_fetch_add(
		    r == ADMIT_OVER_GLOBAL ? &s->n_refused_global : &s->n_refused_client, 1);
		log_refusal(s, c, r, count);
		conn_free(c);
		evhttp_connection_free(evcon); /* nothing was read or written */
		return;
	}
	atomic_fetch_add(&s->n_open, 1);
	c->evcon = evcon;
	struct worker *w = c->w;
	size_t h = chash_of(w, evcon);
	c->hnext = w->chash[h];
	w->chash[h] = c;
	evhttp_connection_set_closecb(evcon, on_conn_close, c);
	c->in_cb = evbuffer_add_cb(bufferevent_get_input(bev), on_input, c);
	request_begin(c, c->start_ms);
}

/* A deadline passed: close without an answer (mid-handshake or mid-request
 * there is nothing sensible to say). */
static void cut(struct conn *c)
{
	struct http_server *s = c->w->srv;
	int hdr = c->phase == PH_HEADERS;
	atomic_fetch_add(hdr ? &s->n_header_cut : &s->n_read_cut, 1);
	unsigned long dropped;
	if (ratelog_allow(&s->cut_log, 10000, &dropped))
		log_warn("%s server: closed a connection from %s: %s not complete within %ld ms; "
			 "%lu more closed without a line in the last 10 s",
			 s->name, c->ip, hdr ? "request headers" : "request",
			 hdr ? s->header_timeout_ms : s->read_timeout_ms, dropped);
	conn_close(c);
}

/* The budget of request bytes ran out while this connection's request was
 * still arriving: close it (the request it carried is not answered). */
static void cut_over_budget(struct conn *c)
{
	struct http_server *s = c->w->srv;
	atomic_fetch_add(&s->n_buffered_cut, 1);
	unsigned long dropped;
	if (ratelog_allow(&s->cut_log, 10000, &dropped))
		log_warn("%s server: closed a connection from %s: requests not yet answered hold "
			 "%zu bytes, over the %zu-byte budget; %lu more closed without a line in "
			 "the last 10 s",
			 s->name, c->ip, atomic_load(&s->buffered), s->max_buffered, dropped);
	conn_close(c);
}

static void on_conn_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct conn *c = arg;
	if (c->phase == PH_NEW)
		admit(c);
	else if (c->over_budget && (c->phase == PH_HEADERS || c->phase == PH_BODY))
		cut_over_budget(c);
	else if (c->phase == PH_HEADERS || c->phase == PH_BODY)
		cut(c);
}

/* evhttp's bufferevent factory, called once per accepted connection before
 * its descriptor is attached: the connection is registered here and
 * admitted by its timer, which fires in this loop pass before any read. */
static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
	struct worker *w = arg;
	struct http_server *s = w->srv;
	struct bufferevent *bev;
	if (s->ctx) {
		SSL *ssl = SSL_new(s->ctx);
		if (!ssl)
			return NULL;
		bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
						     BEV_OPT_CLOSE_ON_FREE);
	} else {
		bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	}
	if (!bev)
		return NULL;
	struct conn *c = calloc(1, sizeof *c);
	if (c)
		c->timer = evtimer_new(base, on_conn_timer, c);
	if (!c || !c->timer) {
		/* out of memory: served untracked rather than not at all */
		free(c);
		return bev;
	}
	c->w = w;
	c->bev = bev;
	c->phase = PH_NEW;
	c->start_ms = now_ms();
	snprintf(c->ip, sizeof c->ip, "?");
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	/* our reference keeps bev valid until admit(), whatever evhttp does */
	bufferevent_incref(bev);
	event_active(c->timer, EV_TIMEOUT, 1);
	return bev;
}

const char *http_req_header(const struct http_req *r, const char *name)
{
	struct req_ctx *c = r->impl;
	if (!c || !c->evreq)
		return NULL;
	return evhttp_find_header(evhttp_request_get_input_headers(c->evreq), name);
}

void http_resp_header(struct http_resp *r, const char *name, const char *value)
{
	if (r->nextra >= 4)
		return;
	snprintf(r->extra_headers[r->nextra][0], sizeof r->extra_headers[0][0], "%s", name);
	snprintf(r->extra_headers[r->nextra][1], sizeof r->extra_headers[0][1], "%s", value);
	r->nextra++;
}

static void free_body(const void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	struct buf *b = arg;
	buf_free(b);
	free(b);
}

static void set_nodelay(struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	if (!conn)
		return;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
	if (fd >= 0) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
}

static X509 *peer_cert_of(struct evhttp_request *req, int *chained)
{
	*chained = 0;
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	if (!conn)
		return NULL;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	X509 *x = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	/* an error the verify callback let through stays the verify result */
	if (x)
		*chained = SSL_get_verify_result(ssl) == X509_V_OK;
	return x;
}

static const char *method_name(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "UNKNOWN";
}

static void send_resp(struct evhttp_request *req, struct http_resp *resp);

/* Requests two HTTP readers could take differently (request smuggling
 * behind a proxy, a truncated path): a reason to refuse, or NULL. */
static const char *request_ambiguity(struct evhttp_request *req, int strict_path, const char *path,
				     size_t path_len)
{
	const char *first = NULL;
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	for (struct evkeyval *kv = h ? h->tqh_first : NULL; kv; kv = kv->next.tqe_next) {
		if (evutil_ascii_strcasecmp(kv->key, "Content-Length") != 0)
			continue;
		if (first && strcmp(first, kv->value) != 0)
			return "conflicting Content-Length headers\n";
		first = kv->value;
	}
	if (strict_path && path) {
		for (size_t i = 0; i < path_len; i++) {
			unsigned char c = (unsigned char)path[i];
			if (c < 0x20 || c == 0x7f)
				return "invalid request path: control character\n";
		}
	}
	return NULL;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct worker *w = arg;
	struct http_server *s = w->srv;
	set_nodelay(req);

	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *raw_path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	size_t path_len = 0;
	char *path = evhttp_uridecode(raw_path && raw_path[0] ? raw_path : "/", 0, &path_len);
	const char *refuse = request_ambiguity(req, s->strict_path, path, path_len);
	if (refuse) {
		/* the connection may carry a request this side reads differently
		 * from a proxy in front: answer and close it */
		free(path);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		struct http_resp bad = {.status = 400, .content_type = "text/plain"};
		if (buf_append_str(&bad.body, refuse) < 0)
			bad.status = 500;
		send_resp(req, &bad);
		return;
	}

	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t body_len = evbuffer_get_length(in);
	const uint8_t *body = body_len ? evbuffer_pullup(in, -1) : (const uint8_t *)"";

	char *peer_ip = NULL;
	ev_uint16_t peer_port = 0;
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	if (conn)
		evhttp_connection_get_peer(conn, &peer_ip, &peer_port);

	int chained = 0;
	struct http_req r = {
	    .method = method_name(evhttp_request_get_command(req)),
	    .path = path ? path : "/",
	    .query = query ? query : "",
	    .content_type =
		evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type"),
	    .body = body,
	    .body_len = body_len,
	    .peer_cert = peer_cert_of(req, &chained),
	    .remote_ip = peer_ip ? peer_ip : "",
	    .impl = req,
	};
	r.peer_cert_chained = chained;
	/* the request is complete: its deadlines stop, the answer is ours */
	struct conn *cn = conn ? conn_find(w, conn) : NULL;
	if (cn) {
		event_del(cn->timer);
		cn->phase = PH_WAITING;
		evhttp_request_set_on_complete_cb(req, on_reply_sent, cn);
	}
	struct req_ctx ctx = {.evreq = req, .w = w, .cn = cn};
	r.impl = &ctx;
	struct http_resp resp = {.status = 500, .content_type = "text/plain"};
	if (path)
		s->handler(s->ud, &r, &resp);
	free(path);
	if (ctx.deferred) {
		ctx.deferred->ctx = NULL;
		buf_free(&resp.body);
		return;
	}
	send_resp(req, &resp);
}

static void send_resp(struct evhttp_request *req, struct http_resp *respp)
{
	struct http_resp resp = *respp;
	memset(&respp->body, 0, sizeof respp->body);
	struct buf *out = calloc(1, sizeof *out);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", resp.content_type);
	for (int i = 0; i < resp.nextra; i++)
		evhttp_add_header(h, resp.extra_headers[i][0], resp.extra_headers[i][1]);
	struct evbuffer *ev = evbuffer_new();
	if (!out || !ev) {
		if (ev)
			evbuffer_free(ev);
		buf_free(&resp.body);
		free(out);
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	*out = resp.body;
	if (out->len)
		evbuffer_add_reference(ev, out->p, out->len, free_body, out);
	else
		free_body(NULL, 0, out);
	evhttp_send_reply(req, resp.status, NULL, ev);
	evbuffer_free(ev);
}

static char *dup_str(const char *p)
{
	return strdup(p ? p : "");
}

static void deferred_free(struct http_deferred *d)
{
	if (d->timer)
		event_free(d->timer);
	buf_free(&d->resp.body);
	buf_free(&d->timeout_resp.body);
	if (d->req.peer_cert)
		X509_free(d->req.peer_cert);
	free(d->path);
	free(d->query);
	free(d->content_type);
	free(d->remote_ip);
	if (d->body)
		secret_free(d->body, d->req.body_len);
	free(d);
}

/* The connection went away before the reply: never touch its request again
 * (untracked connections only; conn_release does it for tracked ones). */
static void on_deferred_close(struct evhttp_connection *conn, void *arg)
{
	(void)conn;
	struct http_deferred *d = arg;
	d->evreq = NULL;
	d->conn = NULL;
}

/* On the loop: send r (once) and detach from the connection. */
static void deferred_reply(struct http_deferred *d, struct http_resp *r)
{
	if (!d->evreq)
		return;
	if (d->cn)
		d->cn->deferred = NULL;
	else if (d->conn)
		evhttp_connection_set_closecb(d->conn, NULL, NULL);
	d->cn = NULL;
	send_resp(d->evreq, r);
	d->evreq = NULL;
	d->conn = NULL;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct http_deferred *d = arg;
	deferred_reply(d, &d->timeout_resp);
}

static void on_finished(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct http_deferred *d = arg;
	struct worker *w = d->w;
	deferred_reply(d, &d->resp);
	w->pending--;
	deferred_free(d);
}

struct http_deferred *http_defer(const struct http_req *req, struct http_resp *timeout_resp,
				 long timeout_ms)
{
	struct req_ctx *c = req->impl;
	if (!c || c->deferred)
		return NULL;
	struct http_deferred *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->w = c->w;
	d->evreq = c->evreq;
	d->conn = evhttp_request_get_connection(c->evreq);
	d->path = dup_str(req->path);
	d->query = dup_str(req->query);
	d->content_type = req->content_type ? strdup(req->content_type) : NULL;
	d->remote_ip = dup_str(req->remote_ip);
	d->body = malloc(req->body_len ? req->body_len : 1);
	d->timer = event_new(c->w->base, -1, 0, on_deadline, d);
	if (!d->path || !d->query || !d->remote_ip || !d->body || !d->timer ||
	    (req->content_type && !d->content_type)) {
		deferred_free(d);
		return NULL;
	}
	memcpy(d->body, req->body, req->body_len);
	d->req = *req;
	d->req.path = d->path;
	d->req.query = d->query;
	d->req.content_type = d->content_type;
	d->req.remote_ip = d->remote_ip;
	d->req.body = d->body;
	d->req.impl = NULL;
	if (req->peer_cert)
		X509_up_ref(req->peer_cert);
	d->resp = (struct http_resp){.status = 500, .content_type = "text/plain"};
	d->timeout_resp = *timeout_resp;
	memset(timeout_resp, 0, sizeof *timeout_resp);
	timeout_resp->status = 500;
	timeout_resp->content_type = "text/plain";
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	event_add(d->timer, &tv);
	if (c->cn) {
		d->cn = c->cn;
		d->cn->deferred = d;
	} else if (d->conn) {
		evhttp_connection_set_closecb(d->conn, on_deferred_close, d);
	}
	c->deferred = d;
	d->ctx = c;
	c->w->pending++;
	return d;
}

const struct http_req *http_deferred_req(struct http_deferred *d)
{
	return &d->req;
}

struct http_resp *http_deferred_resp(struct http_deferred *d)
{
	return &d->resp;
}

void http_deferred_finish(struct http_deferred *d)
{
	struct worker *w = d->w;
	struct timeval zero = {0, 0};
	pthread_mutex_lock(&w->mu);
	/* a loop that is gone drops the answer (the process is stopping) */
	if (!w->dead && event_base_once(w->base, -1, EV_TIMEOUT, on_finished, d, &zero) == 0) {
		pthread_mutex_unlock(&w->mu);
		return;
	}
	pthread_mutex_unlock(&w->mu);
}

void http_deferred_cancel(struct http_deferred *d, struct http_resp *resp)
{
	if (d->ctx)
		d->ctx->deferred = NULL;
	if (d->cn)
		d->cn->deferred = NULL;
	else if (d->conn)
		evhttp_connection_set_closecb(d->conn, NULL, NULL);
	buf_free(&resp->body);
	*resp = d->timeout_resp;
	memset(&d->timeout_resp, 0, sizeof d->timeout_resp);
	d->w->pending--;
	d->evreq = NULL;
	deferred_free(d);
}

/* Index of the NULL-terminated OID list in the SSL_CTX's ex data. */
static int g_accept_idx = -1;
static pthread_once_t g_accept_once = PTHREAD_ONCE_INIT;

static void accept_idx_init(void)
{
	g_accept_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static int has_any_ext(X509 *x, ASN1_OBJECT *const *objs)
{
	for (size_t i = 0; objs[i]; i++)
		if (X509_get_ext_by_OBJ(x, objs[i], -1) >= 0)
			return 1;
	return 0;
}

/* Let an issuer failure of the leaf through when the leaf carries an
 * accepted extension (RA-TLS: the attestation, not the issuer, vouches for
 * the key); every other failure (signature, time, purpose) still fails. */
static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
	if (ok)
		return 1;
	SSL *ssl = X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	ASN1_OBJECT *const *objs = ssl && g_accept_idx >= 0
				       ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), g_accept_idx)
				       : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(ctx);
	if (!objs || !leaf)
		return 0;
	switch (X509_STORE_CTX_get_error(ctx)) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
		return X509_STORE_CTX_get_error_depth(ctx) == 0 && has_any_ext(leaf, objs);
	default:
		return 0;
	}
}

static void free_oids(ASN1_OBJECT **objs)
{
	for (size_t i = 0; objs && objs[i]; i++)
		ASN1_OBJECT_free(objs[i]);
	free(objs);
}

static SSL_CTX *make_ctx(const struct http_server_tls *t, struct err *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		err_openssl(err, "TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
		err_openssl(err, "TLS cipher list");
		goto fail;
	}
	if (SSL_CTX_use_certificate_file(ctx, t->cert_file, SSL_FILETYPE_PEM) != 1) {
		err_openssl(err, "TLS certificate %s", t->cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, t->key_file, SSL_FILETYPE_PEM) != 1) {
		err_openssl(err, "TLS key %s", t->key_file);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		err_openssl(err, "TLS key %s does not match certificate %s", t->key_file,
			    t->cert_file);
		goto fail;
	}
	static const unsigned char sid[] = "dstack-kms";
	SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
	if (t->client_ca) {
		if (SSL_CTX_load_verify_locations(ctx, t->client_ca, NULL) != 1) {
			err_openssl(err, "client CA %s", t->client_ca);
			goto fail;
		}
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(t->client_ca);
		if (!names) {
			err_openssl(err, "client CA %s", t->client_ca);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		ASN1_OBJECT **objs = NULL;
		if (t->accept_ext_oids) {
			size_t n = 0;
			while (t->accept_ext_oids[n])
				n++;
			pthread_once(&g_accept_once, accept_idx_init);
			objs = calloc(n + 1, sizeof *objs);
			for (size_t i = 0; objs && i < n; i++)
				if (!(objs[i] = OBJ_txt2obj(t->accept_ext_oids[i], 1)))
					break;
			if (!objs || (n && !objs[n - 1]) || g_accept_idx < 0 ||
			    SSL_CTX_set_ex_data(ctx, g_accept_idx, objs) != 1) {
				free_oids(objs);
				err_set(err, "TLS: cannot set the accepted client extensions");
				goto fail;
			}
		}
		SSL_CTX_set_verify(ctx,
				   SSL_VERIFY_PEER |
				       (t->client_mandatory ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
				   objs ? verify_cb : NULL);
		SSL_CTX_set_verify_depth(ctx, 2);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* Graceful stop: close the listener at once (a new process can take the
 * port), give requests on the wire DRAIN_MS to arrive, then wait until no
 * request is in flight — deferred ones each bounded by their own deadline,
 * answers not yet written out — up to drain_max_ms. */
#define DRAIN_MS 250
#define DRAIN_POLL_MS 20

/* A request is in flight on some connection: its bytes have begun to
 * arrive, or it waits for its answer, or the answer is not yet sent out. */
static int worker_busy(const struct worker *w)
{
	for (const struct conn *c = w->conns; c; c = c->next) {
		if (c->phase == PH_BODY || c->phase == PH_WAITING)
			return 1;
		if (c->phase == PH_HEADERS && (c->seen_line || c->line_len))
			return 1;
		if (c->bev && evbuffer_get_length(bufferevent_get_output(c->bev)))
			return 1;
	}
	return 0;
}

static void on_drain(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct worker *w = arg;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	int busy = w->pending || worker_busy(w);
	if (!busy || ms >= w->srv->drain_until_ms) {
		if (busy)
			log_warn("%s server: stopping with %d requests unanswered", w->srv->name,
				 w->pending ? w->pending : 1);
		event_base_loopbreak(w->base);
		return;
	}
	struct timeval tv = {0, DRAIN_POLL_MS * 1000};
	event_add(w->drain_ev, &tv);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct worker *w = arg;
	if (w->bound) {
		evhttp_del_accept_socket(w->http, w->bound);
		w->bound = NULL;
	}
	struct timeval tv = {DRAIN_MS / 1000, (DRAIN_MS % 1000) * 1000};
	event_add(w->drain_ev, &tv);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct worker *w = arg;
	w->srv->on_tick(w->srv->ud, w->index);
}

#define ACCEPT_PAUSE_MS 100

/* the worker whose loop runs on this thread (set by worker_main) */
static __thread struct worker *t_worker;

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct worker *w = arg;
	if (w->bound && !w->stopping)
		evconnlistener_enable(evhttp_bound_socket_get_listener(w->bound));
}

/* accept() failed. Out of descriptors or memory, the socket stays readable:
 * pause this listener for a moment (connections wait in the backlog)
 * instead of looping on it. Other errors (a connection reset before it
 * was accepted) need nothing. */
static void on_accept_error(struct evconnlistener *l, void *ptr)
{
	(void)ptr;
	int e = EVUTIL_SOCKET_ERROR();
	struct worker *w = t_worker;
	if (!w || (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM))
		return;
	evconnlistener_disable(l);
	struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
	event_add(w->resume_ev, &tv);
	static _Atomic long long last_ms;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	if (ms - last_ms >= 10000) { /* one line per 10 s, however long it lasts */
		last_ms = ms;
		log_warn("%s server: cannot accept connections: %s; accepting paused %d ms at a "
			 "time until descriptors are free (raise LimitNOFILE= or lower the "
			 "connection caps)",
			 w->srv->name, evutil_socket_error_to_string(e), ACCEPT_PAUSE_MS);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	t_worker = w;
	event_base_dispatch(w->base);
	return NULL;
}

/* The server's one listening socket: SO_REUSEADDR (restarts over TIME_WAIT)
 * but not SO_REUSEPORT, so a port already served fails here. */
static int listen_socket(const struct http_server_opts *o, int port, const char *name,
			 struct err *err)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t slen;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, o->address, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		slen = sizeof *v4;
	} else if (inet_pton(AF_INET6, o->address, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		slen = sizeof *v6;
	} else {
		return err_set(err, "%s server: address \"%s\" is not an IP address", name,
			       o->address);
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0)
		return err_set(err, "%s server: cannot create a socket: %s", name, strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, slen) != 0 || listen(fd, 1024) != 0) {
		int e = errno;
		close(fd);
		return err_set(err, "%s server: cannot listen on %s:%d: %s%s", name, o->address,
			       port, strerror(e),
			       e == EADDRINUSE ? " (another process serves this port)" : "");
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static int bind_worker(struct http_server *s, struct worker *w, const struct http_server_opts *o,
		       struct err *err)
{
	w->srv = s;
	w->base = event_base_new();
	w->http = w->base ? evhttp_new(w->base) : NULL;
	if (!w->http)
		return err_set(err, "%s server: cannot create event loop", s->name);
	evhttp_set_timeout(w->http, o->timeout_s > 0 ? o->timeout_s : 30);
	evhttp_set_max_headers_size(w->http, o->max_headers ? o->max_headers : 64 * 1024);
	evhttp_set_max_body_size(w->http, o->max_body ? o->max_body : 16 * 1024 * 1024);
	evhttp_set_gencb(w->http, on_request, w);
	evhttp_set_bevcb(w->http, make_bev, w);
	w->chash_mask = 15;
	while (w->chash_mask + 1 < (size_t)s->adm->max)
		w->chash_mask = w->chash_mask * 2 + 1;
	if (!(w->chash = calloc(w->chash_mask + 1, sizeof *w->chash)))
		return err_set(err, "%s server: out of memory", s->name);
	w->stop_ev = event_new(w->base, -1, 0, on_stop, w);
	w->drain_ev = event_new(w->base, -1, 0, on_drain, w);
	if (pthread_mutex_init(&w->mu, NULL) != 0 || !w->stop_ev || !w->drain_ev)
		return err_set(err, "%s server: cannot create event loop", s->name);
	if (s->on_tick && o->tick_ms > 0) {
		w->tick_ev = event_new(w->base, -1, EV_PERSIST, on_tick, w);
		struct timeval tv = {o->tick_ms / 1000, (o->tick_ms % 1000) * 1000};
		if (!w->tick_ev || event_add(w->tick_ev, &tv) < 0)
			return err_set(err, "%s server: cannot start the tick timer", s->name);
	}

	w->resume_ev = event_new(w->base, -1, 0, on_resume, w);
	int fd = w->resume_ev ? fcntl(s->listen_fd, F_DUPFD_CLOEXEC, 0) : -1;
	if (fd < 0)
		return err_set(err, "%s server: cannot share the listening socket: %s", s->name,
			       strerror(errno));
	/* backlog 0: the socket already listens */
	struct evconnlistener *l = evconnlistener_new(
	    w->base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (!l) {
		close(fd);
		return err_set(err, "%s server: cannot create a listener", s->name);
	}
	if (!(w->bound = evhttp_bind_listener(w->http, l))) {
		evconnlistener_free(l);
		return err_set(err, "%s server: cannot bind listener", s->name);
	}
	evconnlistener_set_error_cb(l, on_accept_error);
	return 0;
}

struct http_server *http_server_start(const struct http_server_opts *o, struct err *err)
{
	pthread_once(&g_evthread_once, evthread_init);
	struct http_server *s = calloc(1, sizeof *s);
	if (!s) {
		err_set(err, "out of memory");
		return NULL;
	}
	snprintf(s->name, sizeof s->name, "%s", o->server_name ? o->server_name : "HTTP");
	s->handler = o->handler;
	s->ud = o->ud;
	s->on_tick = o->on_tick;
	s->drain_max_ms = o->drain_max_ms > 0 ? o->drain_max_ms : DRAIN_MS;
	s->strict_path = o->strict_path;
	const struct http_server_limits *l = &o->limits;
	int maxc = l->max_connections > 0 ? l->max_connections : HTTP_DEFAULT_MAX_CONNECTIONS;
	int perc = l->max_connections_per_client > 0 ? l->max_connections_per_client
						     : HTTP_DEFAULT_MAX_CONNECTIONS_PER_CLIENT;
	s->header_timeout_ms =
	    l->header_timeout_ms > 0 ? l->header_timeout_ms : HTTP_DEFAULT_HEADER_TIMEOUT_MS;
	s->read_timeout_ms =
	    l->read_timeout_ms > 0 ? l->read_timeout_ms : HTTP_DEFAULT_READ_TIMEOUT_MS;
	s->max_buffered = l->max_buffered > 0 ? l->max_buffered : HTTP_DEFAULT_MAX_BUFFERED;
	if (s->max_buffered < o->max_body)
		s->max_buffered = o->max_body;
	s->refuse_log = (struct ratelog)RATELOG_INIT;
	s->cut_log = (struct ratelog)RATELOG_INIT;
	s->n = o->workers > 0 ? o->workers : 1;
	s->port = o->port;
	s->listen_fd = -1;
	s->w = calloc((size_t)s->n, sizeof *s->w);
	s->adm = s->w ? admission_new(maxc, perc < maxc ? perc : maxc) : NULL;
	if (!s->adm) {
		free(s->w);
		free(s);
		err_set(err, "out of memory");
		return NULL;
	}
	if (o->tls && !(s->ctx = make_ctx(o->tls, err))) {
		err_wrap(err, "%s server", s->name);
		goto fail;
	}
	if ((s->listen_fd = listen_socket(o, s->port, s->name, err)) < 0)
		goto fail;
	if (s->port == 0) {
		struct sockaddr_storage got;
		socklen_t gl = sizeof got;
		if (getsockname(s->listen_fd, (struct sockaddr *)&got, &gl) == 0)
			s->port = ntohs(got.ss_family == AF_INET6
					    ? ((struct sockaddr_in6 *)&got)->sin6_port
					    : ((struct sockaddr_in *)&got)->sin_port);
	}
	for (int i = 0; i < s->n; i++) {
		s->w[i].index = i;
		if (bind_worker(s, &s->w[i], o, err) < 0)
			goto fail;
	}
	for (int i = 0; i < s->n; i++) {
		if (pthread_create(&s->w[i].th, NULL, worker_main, &s->w[i]) != 0) {
			err_set(err, "%s server: cannot start worker thread", s->name);
			goto fail;
		}
		s->w[i].started = 1;
	}
	return s;
fail:
	http_server_stop(s);
	return NULL;
}

int http_server_port(const struct http_server *s)
{
	return s->port;
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	s->drain_until_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 + s->drain_max_ms;
	for (int i = 0; i < s->n; i++)
		if (s->w[i].started && s->w[i].stop_ev)
			event_active(s->w[i].stop_ev, 0, 0);
	for (int i = 0; i < s->n; i++) {
		struct worker *w = &s->w[i];
		if (w->started)
			pthread_join(w->th, NULL);
		if (w->base) {
			pthread_mutex_lock(&w->mu);
			w->dead = 1;
			pthread_mutex_unlock(&w->mu);
		}
		if (w->http)
			evhttp_free(w->http); /* closes every admitted connection */
		while (w->conns) {
			/* not admitted yet (or not told of its close) */
			struct conn *c = w->conns;
			struct bufferevent *bev = c->phase == PH_NEW ? c->bev : NULL;
			if (c->slot)
				admission_release(s->adm, c->slot);
			conn_free(c);
			if (bev)
				bufferevent_decref(bev);
		}
		free(w->chash);
		if (w->stop_ev)
			event_free(w->stop_ev);
		if (w->drain_ev)
			event_free(w->drain_ev);
		if (w->tick_ev)
			event_free(w->tick_ev);
		if (w->resume_ev)
			event_free(w->resume_ev);
		if (w->base)
			event_base_free(w->base);
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->ctx) {
		if (g_accept_idx >= 0)
			free_oids(SSL_CTX_get_ex_data(s->ctx, g_accept_idx));
		SSL_CTX_free(s->ctx);
	}
	admission_free(s->adm);
	free(s->w);
	free(s);
}

void http_server_stats(const struct http_server *s, struct http_server_stats *out)
{
	out->open = atomic_load(&s->n_open);
	out->refused_global = atomic_load(&s->n_refused_global);
	out->refused_per_client = atomic_load(&s->n_refused_client);
	out->header_timeouts = atomic_load(&s->n_header_cut);
	out->read_timeouts = atomic_load(&s->n_read_cut);
	out->buffered_cuts = atomic_load(&s->n_buffered_cut);
	out->buffered = atomic_load(&s->buffered);
}
