/*
 * log.h — one line per event, `message key=value ...`.
 *
 * When stderr is connected to the systemd journal (JOURNAL_STREAM matches),
 * each line starts with a syslog priority prefix such as "<6>" so journald
 * records the level; otherwise a UTC timestamp and level name are printed.
 * Never pass secret bytes or full URLs (use log_url_origin) to these functions.
 */
#ifndef UTIL_LOG_H
#define UTIL_LOG_H

#include <stddef.h>

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARN = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

void log_init(const char *program);
void log_set_level(enum log_level max_level);
/* Parses "error", "warn", "info", "debug" ("trace" = debug); -1 if unknown. */
int log_level_parse(const char *name);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether lines currently carry journald priority prefixes. */
int log_to_journal(void);

/* Writes "scheme://host[:port]" of url into out (drops userinfo, path, query). */
void log_url_origin(const char *url, char *out, size_t outlen);

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
