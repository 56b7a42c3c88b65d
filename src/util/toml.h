/*
 * toml.h — a strict reader for the TOML v1.0 subset kms.toml uses.
 *
 * Supported: comments, [a."b c"] headers, bare/quoted/dotted keys, all four
 * string forms, integers (0x/0o/0b, underscores), floats, booleans, arrays,
 * inline tables; UTF-8 only (leading BOM skipped), LF or CRLF (CRLF inside
 * multi-line strings reads as LF). Refused with a clear message: arrays of
 * tables, dates/times, keys containing NUL (deliberate: no look-alike keys).
 * Errors read "<name>:<line>: <message>". Input and nesting are bounded.
 * Accessors are NULL-safe and return 0/NULL for a value of another type.
 */
#ifndef UTIL_TOML_H
#define UTIL_TOML_H

#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define TOML_MAX_INPUT (1024 * 1024) /* bytes; larger input is refused */
#define TOML_MAX_DEPTH 32	     /* tables/arrays below the root, counted from 1 */

enum toml_type {
	TOML_TABLE,
	TOML_STRING,
	TOML_INT,
	TOML_FLOAT,
	TOML_BOOL,
	TOML_ARRAY,
};

struct toml_value;

/* Parse text (len bytes; need not be NUL-terminated). `name` is used in error
 * messages ("<name>:<line>: ..."). Returns the root table or NULL with err set. */
struct toml_value *toml_parse(const char *text, size_t len, const char *name, struct err *err);
void toml_free(struct toml_value *root);

enum toml_type toml_type(const struct toml_value *v);
const char *toml_type_name(enum toml_type t); /* "table", "string", ... */
int toml_line(const struct toml_value *v);    /* line where the value was defined */

/* Table access. */
size_t toml_table_len(const struct toml_value *t);
/* i-th entry in definition order; returns its key and sets *val. */
const char *toml_table_key(const struct toml_value *t, size_t i, const struct toml_value **val);
const struct toml_value *toml_get(const struct toml_value *t, const char *key);
/* Dotted path lookup from a table ("core.auth_api.webhook"); keys containing
 * dots cannot be reached this way (none of ours do). */
const struct toml_value *toml_get_path(const struct toml_value *t, const char *path);

/* Scalars: valid only for the matching type. */
const char *toml_string(const struct toml_value *v); /* NUL-terminated; */
size_t toml_string_len(const struct toml_value *v);  /* may contain NUL from \u0000 */
int64_t toml_int(const struct toml_value *v);
double toml_float(const struct toml_value *v);
int toml_bool(const struct toml_value *v);

/* Arrays. */
size_t toml_array_len(const struct toml_value *a);
const struct toml_value *toml_array_at(const struct toml_value *a, size_t i);

#endif
