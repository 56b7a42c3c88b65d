/*
 * ratelog.h — rate limits for log lines that a client can trigger at will
 * (refused connections, failed requests): at most one line per window, and
 * the next line says how many were dropped meanwhile, so a flood costs the
 * journal one line per window and still shows its size. Thread-safe.
 */
#ifndef UTIL_RATELOG_H
#define UTIL_RATELOG_H

#include <pthread.h>

struct ratelog {
	pthread_mutex_t mu;
	int started;		  /* a line was logged already */
	long long last_ms;	  /* monotonic time of the last line */
	unsigned long suppressed; /* events dropped since then */
};

#define RATELOG_INIT                                                                               \
	{                                                                                          \
		PTHREAD_MUTEX_INITIALIZER, 0, 0, 0                                                 \
	}

/* 1: log this event now (*suppressed = events dropped since the last line);
 * 0: drop it (counted for the next line). */
int ratelog_allow(struct ratelog *r, long window_ms, unsigned long *suppressed);

#endif
