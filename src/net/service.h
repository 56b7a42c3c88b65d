/*
 * service.h — the service manager side of a daemon: systemd readiness,
 * status text and watchdog (sd_notify). Every call is a no-op when the
 * process was not started by systemd with NOTIFY_SOCKET set.
 */
#ifndef NET_SERVICE_H
#define NET_SERVICE_H

#include <stdint.h>

void service_ready(const char *status);
void service_status(const char *status);
void service_stopping(void);
/* Watchdog interval in microseconds, 0 when no watchdog is configured. */
uint64_t service_watchdog_usec(void);
void service_watchdog_ping(void);

/* A watchdog that is fed only while every event loop is alive: each worker
 * calls service_liveness_tick(w) from its loop; worker 0's tick sends
 * WATCHDOG=1 when all workers ticked within the last two tick periods. */
struct service_liveness;
struct service_liveness *service_liveness_new(int workers, int tick_ms);
void service_liveness_tick(struct service_liveness *l, int worker);
void service_liveness_free(struct service_liveness *l);

#endif
