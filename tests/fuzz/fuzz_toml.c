/*
 * fuzz_toml.c — libFuzzer target for the TOML reader (util/toml.h).
 *
 * Build and run (from the project root; ~60 s, seeds optional):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Isrc \
 *     tests/fuzz/fuzz_toml.c src/util/toml.c src/util/err.c src/util/buf.c src/util/secret.c \
 *     -lcrypto -lm -o build/fuzz_toml
 *   mkdir -p build/fuzz-toml-corpus && build/fuzz_toml -max_total_time=60 -timeout=5 \
 *     build/fuzz-toml-corpus
 *
 * Beyond "no crash, no leak, no read past the input", it checks what callers
 * rely on: every failure reads "<name>:<line>: <message>" with a line inside
 * the input, every string is NUL-terminated at its length, keys carry no NUL
 * and are unique per table, lookups find what iteration lists, lines are in
 * range, and nesting stays within TOML_MAX_DEPTH.
 */
#include "util/err.h"
#include "util/toml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int g_lines; /* lines in the current input */

static void walk(const struct toml_value *v, int depth)
{
	if (depth > TOML_MAX_DEPTH || toml_line(v) < 1 || toml_line(v) > g_lines)
		abort();
	switch (toml_type(v)) {
	case TOML_TABLE:
		for (size_t i = 0; i < toml_table_len(v); i++) {
			const struct toml_value *val = NULL;
			const char *key = toml_table_key(v, i, &val);
			if (!key || !val || toml_get(v, key) != val)
				abort(); /* also catches a duplicate key listed twice */
			walk(val, depth + 1);
		}
		if (toml_table_key(v, toml_table_len(v), NULL) != NULL)
			abort();
		break;
	case TOML_ARRAY:
		for (size_t i = 0; i < toml_array_len(v); i++)
			walk(toml_array_at(v, i), depth + 1);
		if (toml_array_at(v, toml_array_len(v)) != NULL)
			abort();
		break;
	case TOML_STRING:
		if (toml_string(v)[toml_string_len(v)] != '\0')
			abort();
		break;
	case TOML_INT:
	case TOML_FLOAT:
	case TOML_BOOL:
		(void)toml_int(v), (void)toml_float(v), (void)toml_bool(v);
		break;
	default:
		abort();
	}
}

/* "fuzz:<line>: <message>" with 1 <= line <= g_lines and a non-empty message. */
static void check_message(const char *msg)
{
	if (strncmp(msg, "fuzz:", 5) != 0)
		abort();
	char *end;
	long line = strtol(msg + 5, &end, 10);
	if (end == msg + 5 || line < 1 || line > g_lines || strncmp(end, ": ", 2) != 0 ||
	    end[2] == '\0')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_lines = 1;
	for (size_t i = 0; i < size; i++)
		g_lines += data[i] == '\n';
	struct err e;
	err_clear(&e);
	struct toml_value *root = toml_parse((const char *)data, size, "fuzz", &e);
	if (!root) {
		check_message(e.msg);
		return 0;
	}
	walk(root, 0);
	/* Dotted lookups over the first level of keys must not misbehave. */
	for (size_t i = 0; i < toml_table_len(root); i++) {
		const struct toml_value *val;
		const char *key = toml_table_key(root, i, &val);
		if (!strchr(key, '.') && key[0] && toml_get_path(root, key) != val)
			abort();
	}
	toml_free(root);
	return 0;
}
