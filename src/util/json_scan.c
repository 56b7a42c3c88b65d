/*
 * json_scan.c — the bounded JSON scanner (json_scan.h): finds where a
 * top-level member's value starts and ends in the original text, without
 * decoding it. Safe on any input (every index is checked against n; a text
 * it cannot follow is -1), exercised by tests/fuzz/fuzz_json_scan.c.
 */
#include "util/json_scan.h"

#include <string.h>

static int is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t skip_ws(const char *p, size_t n, size_t i)
{
	while (i < n && is_ws(p[i]))
		i++;
	return i;
}

/* At an opening quote: moves *i past the closing quote. */
static int skip_string(const char *p, size_t n, size_t *i)
{
	size_t j = *i + 1;
	while (j < n && p[j] != '"')
		j += p[j] == '\\' ? 2 : 1;
	if (j >= n)
		return -1;
	*i = j + 1;
	return 0;
}

static int skip_value(const char *p, size_t n, size_t *i)
{
	size_t j = *i;
	if (j >= n)
		return -1;
	if (p[j] == '"')
		return skip_string(p, n, i);
	if (p[j] == '{' || p[j] == '[') {
		size_t depth = 0;
		while (j < n) {
			char c = p[j];
			if (c == '"') {
				if (skip_string(p, n, &j) < 0)
					return -1;
				continue;
			}
			if (c == '{' || c == '[') {
				depth++;
			} else if (c == '}' || c == ']') {
				if (--depth == 0) {
					*i = j + 1;
					return 0;
				}
			}
			j++;
		}
		return -1;
	}
	while (j < n && p[j] && !strchr(",}] \t\r\n", p[j]))
		j++;
	if (j == *i)
		return -1;
	*i = j;
	return 0;
}

int json_scan_cut(const char *p, size_t n, const char *key, size_t *off, size_t *len)
{
	size_t i = skip_ws(p, n, 0), klen = strlen(key);
	if (i >= n || p[i] != '{')
		return -1;
	i++;
	for (;;) {
		i = skip_ws(p, n, i);
		if (i >= n || p[i] != '"')
			return -1;
		size_t ks = i + 1;
		if (skip_string(p, n, &i) < 0)
			return -1;
		size_t kl = i - 1 - ks;
		i = skip_ws(p, n, i);
		if (i >= n || p[i] != ':')
			return -1;
		i = skip_ws(p, n, i + 1);
		size_t vs = i;
		if (skip_value(p, n, &i) < 0)
			return -1;
		if (kl == klen && memcmp(p + ks, key, klen) == 0) {
			*off = vs;
			*len = i - vs;
			return 0;
		}
		i = skip_ws(p, n, i);
		if (i >= n || p[i] != ',')
			return -1;
		i++;
	}
}
