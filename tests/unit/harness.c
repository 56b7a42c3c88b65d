/*
 * harness.c — runner for the unit tests registered with TEST().
 * Usage: unit-tests [substring ...]  runs the tests whose names contain any
 * given substring (all when none). Vectors are found through $KMS_VECTORS
 * (default tests/vectors, relative to the project root).
 */
#define _GNU_SOURCE
#include "harness.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TESTS 2048

static struct {
	const char *name;
	void (*fn)(void);
} g_tests[MAX_TESTS];
static int g_ntests;
static int g_failed;
static const char *g_skip_reason;
static char g_tmproot[256];
static int g_tmpcount;

void t_register(const char *name, void (*fn)(void))
{
	if (g_ntests < MAX_TESTS) {
		g_tests[g_ntests].name = name;
		g_tests[g_ntests].fn = fn;
		g_ntests++;
	}
}

void t_fail(const char *file, int line, const char *fmt, ...)
{
	if (g_failed)
		return;
	g_failed = 1;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	printf("  %s:%d: %s\n", file, line, msg);
}

void t_skip(const char *reason)
{
	g_skip_reason = reason;
}

const char *t_vector(const char *rel)
{
	static char path[8][1024];
	static int slot;
	const char *dir = getenv("KMS_VECTORS");
	char *p = path[slot++ % 8];
	snprintf(p, 1024, "%s/%s", dir ? dir : "tests/vectors", rel);
	return p;
}

uint8_t *t_read_vector(const char *rel, size_t *len)
{
	FILE *f = fopen(t_vector(rel), "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	uint8_t *p = malloc(cap);
	size_t r;
	while (p && (r = fread(p + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			uint8_t *q = realloc(p, cap);
			if (!q) {
				free(p);
				p = NULL;
			}
			p = q;
		}
	}
	fclose(f);
	*len = n;
	return p;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

uint8_t *t_unhex(const char *hex, size_t *len)
{
	size_t n = strlen(hex);
	if (n % 2)
		return NULL;
	uint8_t *p = malloc(n / 2 + 1);
	for (size_t i = 0; p && i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(p);
			return NULL;
		}
		p[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return p;
}

int t_hex_equal(const uint8_t *p, size_t n, const char *hex)
{
	size_t m;
	uint8_t *want = t_unhex(hex, &m);
	int eq = want && m == n && (n == 0 || memcmp(p, want, n) == 0);
	if (!eq && p) {
		printf("  got:      ");
		for (size_t i = 0; i < n; i++)
			printf("%02x", p[i]);
		printf("\n  expected: %s\n", hex);
	}
	free(want);
	return eq;
}

const char *t_tmpdir(void)
{
	static char path[512];
	if (!g_tmproot[0]) {
		snprintf(g_tmproot, sizeof g_tmproot, "/tmp/kms-unit-XXXXXX");
		if (!mkdtemp(g_tmproot))
			return NULL;
	}
	snprintf(path, sizeof path, "%s/%d", g_tmproot, ++g_tmpcount);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
	if (system(cmd) != 0)
		return NULL;
	return path;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0, skipped = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < g_ntests; i++) {
		int selected = argc < 2;
		for (int a = 1; a < argc && !selected; a++)
			selected = strstr(g_tests[i].name, argv[a]) != NULL;
		if (!selected)
			continue;
		g_failed = 0;
		g_skip_reason = NULL;
		g_tests[i].fn();
		if (g_failed) {
			printf("FAIL: %s\n", g_tests[i].name);
			failed++;
		} else if (g_skip_reason) {
			printf("SKIP: %s: %s\n", g_tests[i].name, g_skip_reason);
			skipped++;
		} else {
			printf("PASS: %s\n", g_tests[i].name);
			passed++;
		}
	}
	if (g_tmproot[0])
		nftw(g_tmproot, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	printf("unit: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
