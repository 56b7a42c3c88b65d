/*
 * workpool.h — the bounded pool of blocking threads.
 *
 * Event-loop threads never wait on the network or the disk: work that may
 * (a webhook call, a collateral wait, a release-log fsync) is submitted here.
 * Threads are started on demand up to max_threads and exit after idling, so
 * an idle process holds none. There is no unbounded queue: a submission
 * finds an idle thread, starts one, or takes one of max_queue slots — else it
 * is refused at once (the caller answers "busy").
 */
#ifndef UTIL_WORKPOOL_H
#define UTIL_WORKPOOL_H

#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

struct workpool;

struct workpool_stats {
	uint64_t submitted, refused, completed;
	size_t threads, busy, queued, max_threads;
};

/* max_threads >= 1; max_queue: jobs that may wait for a thread (0 = none);
 * idle_ms: an idle thread exits after this long (0 = 30000). */
struct workpool *workpool_new(size_t max_threads, size_t max_queue, long idle_ms, struct err *err);
/* Runs fn(arg) on a pool thread. Returns 0, or -1 when the pool is full or
 * stopping (fn is then not called and arg stays the caller's). */
int workpool_submit(struct workpool *p, void (*fn)(void *arg), void *arg);
void workpool_stats(struct workpool *p, struct workpool_stats *out);
/* Refuses new jobs, waits for the queued and running ones, joins the threads. */
/* Stops taking jobs and waits up to wait_ms for the threads to finish what
 * they hold (queued jobs still run); returns how many are still running. */
size_t workpool_stop(struct workpool *p, long wait_ms);
void workpool_free(struct workpool *p);

#endif
