/*
 * fuzz_envfile.c — libFuzzer target for the VAR=value file reader
 * (util/envfile.h, envfile_parse): dstack-auth-eth's --env-file and ./.env,
 * and what `dstack-kmsctl verify` checks. Built and run by `make fuzz` /
 * `make fuzz-smoke` with the other targets.
 *
 * The first input byte picks the options (bit 0 dotenv, bit 1 strict).
 * Beyond "no crash, no read past the input" it checks the grammar's
 * promises: every key matches [A-Za-z_][A-Za-z0-9_]*, line numbers never go
 * back and stay within the file's lines, a value holds no byte the line did
 * not (no NUL, no LF unless a double-quoted \n made it), a failure names
 * the file, and a non-strict parse never fails on a line's shape.
 */
#define _GNU_SOURCE
#include "util/envfile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct seen {
	size_t last_line, lines;
	const char *text;
	size_t len;
};

static int key_ok(const char *k)
{
	if (!((k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z') || k[0] == '_'))
		return 0;
	for (size_t i = 1; k[i]; i++)
		if (!((k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= 'a' && k[i] <= 'z') ||
		      (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return 0;
	return 1;
}

static int on_var(void *ud, const char *key, const char *value, size_t lineno, struct err *err)
{
	struct seen *s = ud;
	(void)err;
	if (!key_ok(key) || lineno < s->last_line || lineno < 1 || lineno > s->lines)
		abort();
	if (strchr(value, '\n') && !memmem(s->text, s->len, "\\n", 2))
		abort();
	if (strlen(value) > s->len)
		abort();
	s->last_line = lineno;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	struct envfile_opts o = {.dotenv = data[0] & 1, .strict = (data[0] >> 1) & 1};
	size_t n = size - 1;
	char *text = malloc(n + 1), *copy = malloc(n + 1);
	if (!text || !copy)
		abort();
	memcpy(text, data + 1, n);
	memcpy(copy, data + 1, n);
	text[n] = copy[n] = '\0';
	struct seen s = {.text = copy, .len = n, .lines = 1};
	for (size_t i = 0; i < n; i++)
		s.lines += copy[i] == '\n';
	struct err e;
	e.msg[0] = '\0';
	int rc = envfile_parse(text, n, "fuzz.env", &o, on_var, &s, &e);
	if (rc < 0) {
		if (!strstr(e.msg, "fuzz.env"))
			abort();
		if (!o.strict && !memchr(copy, '\0', n))
			abort(); /* only a NUL byte can fail a lenient parse */
	}
	free(text);
	free(copy);
	return 0;
}
