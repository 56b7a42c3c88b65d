/*
 * workpool.c — bounded blocking-thread pool (workpool.h).
 *
 * One mutex guards a fixed ring of queued jobs and the thread counters.
 * Threads are detached-free (joinable, tracked in a list) so that
 * workpool_free can wait for every one of them; a thread that idles past
 * idle_ms leaves and is joined by the next submit or by free.
 */
#include "util/workpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct job {
	void (*fn)(void *);
	void *arg;
};

struct pthread_node {
	pthread_t th;
	int exited;
	struct pthread_node *next;
};

struct workpool {
	pthread_mutex_t mu;
	pthread_cond_t work; /* a job was queued, or stopping */
	pthread_cond_t gone; /* a thread exited */
	struct job *q;
	size_t qcap, qhead, qlen;
	size_t max_threads, threads, idle;
	long idle_ms;
	int stopping;
	struct pthread_node *nodes;
	struct workpool_stats st;
};

struct start {
	struct workpool *p;
	struct pthread_node *node;
};

static void reap(struct workpool *p)
{
	struct pthread_node **pp = &p->nodes;
	while (*pp) {
		struct pthread_node *n = *pp;
		if (n->exited) {
			*pp = n->next;
			pthread_join(n->th, NULL);
			free(n);
		} else {
			pp = &n->next;
		}
	}
}

static void deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *thread_main(void *arg)
{
	struct start *s = arg;
	struct workpool *p = s->p;
	struct pthread_node *node = s->node;
	free(s);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->qlen && !p->stopping) {
			struct timespec ts;
			deadline_in(&ts, p->idle_ms);
			p->idle++;
			int rc = pthread_cond_timedwait(&p->work, &p->mu, &ts);
			p->idle--;
			if (rc == ETIMEDOUT && !p->qlen)
				goto leave;
		}
		if (!p->qlen)
			break; /* stopping and drained */
		struct job j = p->q[p->qhead];
		p->qhead = (p->qhead + 1) % p->qcap;
		p->qlen--;
		p->st.busy++;
		pthread_mutex_unlock(&p->mu);
		j.fn(j.arg);
		pthread_mutex_lock(&p->mu);
		p->st.busy--;
		p->st.completed++;
	}
leave:
	p->threads--;
	node->exited = 1;
	pthread_cond_broadcast(&p->gone);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct workpool *workpool_new(size_t max_threads, size_t max_queue, long idle_ms, struct err *err)
{
	if (max_threads < 1) {
		err_set(err, "blocking pool: at least one thread is needed");
		return NULL;
	}
	struct workpool *p = calloc(1, sizeof *p);
	if (!p) {
		err_set(err, "out of memory");
		return NULL;
	}
	/* running plus waiting jobs never exceed qcap (see submit) */
	p->qcap = max_threads + max_queue;
	p->q = calloc(p->qcap, sizeof *p->q);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!p->q || pthread_mutex_init(&p->mu, NULL) != 0 ||
	    pthread_cond_init(&p->work, &ca) != 0 || pthread_cond_init(&p->gone, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		free(p->q);
		free(p);
		err_set(err, "blocking pool: cannot initialise");
		return NULL;
	}
	pthread_condattr_destroy(&ca);
	p->max_threads = max_threads;
	p->st.max_threads = max_threads;
	p->idle_ms = idle_ms > 0 ? idle_ms : 30000;
	return p;
}

/* Under p->mu. */
static int spawn(struct workpool *p)
{
	struct pthread_node *n = calloc(1, sizeof *n);
	struct start *s = calloc(1, sizeof *s);
	pthread_attr_t a;
	if (!n || !s) {
		free(n);
		free(s);
		return -1;
	}
	s->p = p;
	s->node = n;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 512 * 1024);
	int rc = pthread_create(&n->th, &a, thread_main, s);
	pthread_attr_destroy(&a);
	if (rc != 0) {
		free(n);
		free(s);
		return -1;
	}
	n->next = p->nodes;
	p->nodes = n;
	p->threads++;
	return 0;
}

int workpool_submit(struct workpool *p, void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&p->mu);
	reap(p);
	/* accepted: one job per thread plus max_queue waiting, in all */
	if (p->stopping || p->st.busy + p->qlen >= p->qcap) {
		p->st.refused++;
		pthread_mutex_unlock(&p->mu);
		return -1;
	}
	/* jobs already waiting take the idle threads first */
	if (p->idle <= p->qlen && p->threads < p->max_threads && spawn(p) < 0 && !p->threads) {
		p->st.refused++;
		pthread_mutex_unlock(&p->mu);
		return -1;
	}
	p->q[(p->qhead + p->qlen) % p->qcap] = (struct job){fn, arg};
	p->qlen++;
	p->st.submitted++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void workpool_stats(struct workpool *p, struct workpool_stats *out)
{
	pthread_mutex_lock(&p->mu);
	*out = p->st;
	out->threads = p->threads;
	out->queued = p->qlen;
	pthread_mutex_unlock(&p->mu);
}

size_t workpool_stop(struct workpool *p, long wait_ms)
{
	if (!p)
		return 0;
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->work);
	while (p->threads && pthread_cond_timedwait(&p->gone, &p->mu, &until) == 0)
		;
	size_t left = p->threads;
	pthread_mutex_unlock(&p->mu);
	return left;
}

void workpool_free(struct workpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->work);
	while (p->threads)
		pthread_cond_wait(&p->gone, &p->mu);
	reap(p);
	pthread_mutex_unlock(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->gone);
	pthread_mutex_destroy(&p->mu);
	free(p->q);
	free(p);
}
