/*
 * envfile.h — the one reader of VAR=value environment files, shared by
 * dstack-auth-eth (--env-file and ./.env) and `dstack-kmsctl verify` (which
 * checks the file the daemon will load), so both see the same variables.
 *
 * Grammar (one variable per line, lines end with LF; a CR before it is a
 * blank):
 *   line     = blanks ( comment | assign )?
 *   comment  = ( "#" | ";" ) any*
 *   assign   = [ "export " blanks ] key blanks "=" blanks value
 *   key      = [A-Za-z_] [A-Za-z0-9_]*
 *   blanks   = ( " " | TAB | CR )*
 *   value    = quoted blanks [ "#" any* (dotenv only) ]   -> text between the quotes
 *            | raw                                        -> see below
 * A quoted value starts with ' or " and ends at the LAST same quote of the
 * line; inside double quotes \n is a newline and \X is X (single quotes keep
 * everything as is). A line that starts a quote but does not fit this shape
 * is read raw. A raw value is the rest of the line without trailing blanks;
 * in dotenv mode it also ends at the first "#". Blank lines are skipped.
 * Any other line is malformed: an error naming FILE:LINE in strict mode,
 * skipped otherwise. A NUL byte anywhere is an error. Values are never
 * copied into messages (they may hold an RPC API key).
 */
#ifndef UTIL_ENVFILE_H
#define UTIL_ENVFILE_H

#include "util/err.h"

#include <stddef.h>

struct envfile_opts {
	int dotenv; /* "#" also starts a comment after a raw or quoted value */
	int strict; /* a malformed line is an error (else it is skipped) */
};

/* Called once per assignment, in file order. key and value are NUL-terminated
 * and valid only during the call. Return 0, or -1 (with err set) to stop. */
typedef int (*envfile_fn)(void *ud, const char *key, const char *value, size_t lineno,
			  struct err *err);

/* Parses text[0..len) in place (the bytes are modified);
 * text[len] must be a NUL byte (a struct buf always has one). name is used
 * in messages. */
int envfile_parse(char *text, size_t len, const char *name, const struct envfile_opts *o,
		  envfile_fn fn, void *ud, struct err *err);

/* Reads path (at most max_bytes, into a buffer wiped afterwards) and parses
 * it. A missing or unreadable file is an error whose message names path. */
int envfile_load(const char *path, size_t max_bytes, const struct envfile_opts *o, envfile_fn fn,
		 void *ud, struct err *err);

#endif
