/*
 * envfile.h — the one reader of environment files, used by dstack-auth-eth
 * (--env-file and ./.env) and by `dstack-kmsctl verify` (which must check
 * exactly what the daemon will load).
 *
 * Grammar, one assignment per line (LF; a CR before it is blank):
 *   - blank lines and lines whose first non-blank character is '#' or ';'
 *     are ignored;
 *   - an optional "export " prefix;
 *   - NAME: [A-Za-z_][A-Za-z0-9_]*, optional blanks, '=', optional blanks;
 *   - VALUE: either quoted — '…' taken as is, "…" with the escapes \n, \"
 *     and \\ — when the closing quote is the last non-blank character
 *     (dotenv mode: or is followed by a '#' comment), or unquoted, up to the
 *     end of the line with trailing blanks removed (dotenv mode: up to a '#').
 * systemd EnvironmentFile= mode (dotenv = 0) keeps '#' inside unquoted
 * values; dotenv mode (./.env, as the Node dotenv package) cuts there.
 * A NUL byte anywhere makes the file invalid. Files are read into wiped
 * memory (they may hold an RPC API key) and values are never echoed in
 * messages.
 */
#ifndef UTIL_ENVFILE_H
#define UTIL_ENVFILE_H

#include "util/err.h"

#include <stddef.h>

#define ENVFILE_MAX (1u << 20)

/* Called per assignment; return -1 (with err set) to stop. */
typedef int (*envfile_fn)(void *ud, const char *name, const char *value, size_t lineno,
			  struct err *err);

/*
 * Reads path and calls fn for every assignment, in order. A line that is not
 * an assignment is an error ("<path>:<line>: not a VAR=value line") when
 * strict, else skipped. Returns 0 or -1.
 */
int envfile_read(const char *path, int dotenv, int strict, envfile_fn fn, void *ud,
		 struct err *err);

#endif
