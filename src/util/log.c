/*
 * log.c — line logger (log.h). Each line is emitted with a single write(2) so
 * lines from worker threads never interleave. Never logs key material: callers
 * pass only public values, and URLs go through log_url_origin().
 */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int g_journal;
static int g_max = LOG_LVL_INFO;

void log_init(const char *program)
{
	(void)program;
	g_journal = 0;
	const char *js = getenv("JOURNAL_STREAM");
	struct stat st;
	if (js && fstat(STDERR_FILENO, &st) == 0) {
		unsigned long long dev = 0, ino = 0;
		if (sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
		    dev == (unsigned long long)st.st_dev && ino == (unsigned long long)st.st_ino)
			g_journal = 1;
	}
}

void log_set_level(enum log_level max_level)
{
	g_max = max_level;
}

int log_level_parse(const char *name)
{
	static const struct {
		const char *name;
		int lvl;
	} tab[] = {{"error", LOG_LVL_ERR},     {"warn", LOG_LVL_WARN},	 {"warning", LOG_LVL_WARN},
		   {"notice", LOG_LVL_NOTICE}, {"info", LOG_LVL_INFO},	 {"debug", LOG_LVL_DEBUG},
		   {"trace", LOG_LVL_DEBUG},   {"normal", LOG_LVL_INFO}, {"critical", LOG_LVL_ERR}};
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (strcasecmp(name, tab[i].name) == 0)
			return tab[i].lvl;
	return -1;
}

int log_to_journal(void)
{
	return g_journal;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	if ((int)lvl > g_max)
		return;
	char line[2048];
	size_t n = 0;
	if (g_journal) {
		n = (size_t)snprintf(line, sizeof line, "<%d>", (int)lvl);
	} else {
		static const char *names[] = {"",     "",	"",	"ERROR",
					      "WARN", "NOTICE", "INFO", "DEBUG"};
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%SZ ", &tm);
		n += (size_t)snprintf(line + n, sizeof line - n, "%-5s ", names[lvl]);
	}
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += (size_t)m;
	if (n > sizeof line - 2)
		n = sizeof line - 2;
	/* One event, one line: fold embedded newlines. */
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
}

void log_url_origin(const char *url, char *out, size_t outlen)
{
	if (!outlen)
		return;
	const char *p = strstr(url, "://");
	const char *host = p ? p + 3 : url;
	const char *end = host + strcspn(host, "/?#");
	/* Drop userinfo (user:password@) — it is a credential. */
	const char *at = NULL;
	for (const char *q = host; q < end; q++)
		if (*q == '@')
			at = q;
	if (at)
		host = at + 1;
	size_t scheme_len = p ? (size_t)(p - url) + 3 : 0;
	size_t host_len = (size_t)(end - host);
	snprintf(out, outlen, "%.*s%.*s", (int)scheme_len, url, (int)host_len, host);
}
