/*
 * service.c — sd_notify wrappers and the event-loop liveness watchdog
 * (service.h). READY=1 is sent only once the listeners accept, so systemd's
 * After= ordering means "ready"; the watchdog is fed from the event loops so
 * a wedged loop gets the process restarted.
 */
#include "net/service.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <time.h>

void service_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void service_status(const char *status)
{
	sd_notifyf(0, "STATUS=%s", status);
}

void service_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

uint64_t service_watchdog_usec(void)
{
	uint64_t usec = 0;
	return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}

void service_watchdog_ping(void)
{
	sd_notify(0, "WATCHDOG=1");
}

struct service_liveness {
	int n;
	int tick_ms;
	atomic_llong last[];
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct service_liveness *service_liveness_new(int workers, int tick_ms)
{
	if (workers < 1)
		workers = 1;
	struct service_liveness *l = calloc(1, sizeof *l + (size_t)workers * sizeof l->last[0]);
	if (!l)
		return NULL;
	l->n = workers;
	l->tick_ms = tick_ms;
	for (int i = 0; i < workers; i++)
		atomic_store(&l->last[i], now_ms());
	return l;
}

void service_liveness_tick(struct service_liveness *l, int worker)
{
	if (!l || worker < 0 || worker >= l->n)
		return;
	long long t = now_ms();
	atomic_store(&l->last[worker], t);
	if (worker != 0)
		return;
	for (int i = 0; i < l->n; i++)
		if (t - atomic_load(&l->last[i]) > 2LL * l->tick_ms + 50)
			return; /* a loop is stuck: starve the watchdog */
	service_watchdog_ping();
}

void service_liveness_free(struct service_liveness *l)
{
	free(l);
}
