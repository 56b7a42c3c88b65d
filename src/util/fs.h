/*
 * fs.h — file helpers: bounded reads and atomic, durable writes.
 */
#ifndef UTIL_FS_H
#define UTIL_FS_H

#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <sys/types.h>

/* Write data to path atomically: temp file in the same directory, fsync,
 * rename over path, fsync the directory. The file gets exactly `mode`.
 * On failure the old file (if any) is untouched and no temp file remains. */
int fs_write_atomic(const char *path, const void *data, size_t n, mode_t mode, struct err *err);
/* Read a whole file of at most max bytes into out (appends). */
int fs_read_file(const char *path, size_t max, struct buf *out, struct err *err);
int fs_exists(const char *path);
/* mkdir -p with mode for created components. */
int fs_mkdir_p(const char *path, mode_t mode, struct err *err);
/* Join dir and name into out (size outlen); fails when it would truncate. */
int fs_join(char *out, size_t outlen, const char *dir, const char *name);
/* fsync a directory so renames/unlinks inside it are durable. */
int fs_sync_dir(const char *dir, struct err *err);
/* An exclusive lock on path (created 0600 if absent) held until the
 * process exits: 0 with *fd set (keep it open), 1 when another process holds
 * it (*holder = its pid, 0 if unknown), -1 on error. The file's content is
 * the holder's pid, for people. */
int fs_lock_file(const char *path, int *fd, pid_t *holder, struct err *err);

#endif
