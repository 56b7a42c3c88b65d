/*
 * ratelog.c — one log line per window for events a client controls (see
 * ratelog.h). Only counts and times are kept, never the lines themselves.
 */
#include "util/ratelog.h"

#include <time.h>

int ratelog_allow(struct ratelog *r, long window_ms, unsigned long *suppressed)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	int allow = 0;
	pthread_mutex_lock(&r->mu);
	if (!r->started || now - r->last_ms >= window_ms) {
		allow = 1;
		*suppressed = r->suppressed;
		r->suppressed = 0;
		r->last_ms = now;
		r->started = 1;
	} else {
		r->suppressed++;
	}
	pthread_mutex_unlock(&r->mu);
	return allow;
}
