/*
 * fs.c — bounded file reads and atomic writes (fs.h).
 * Atomic write = open O_EXCL temp in the same dir with the final mode, write,
 * fsync, rename, fsync dir; any failure unlinks the temp file.
 */
#define _GNU_SOURCE
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_join(char *out, size_t outlen, const char *dir, const char *name)
{
	int n = snprintf(out, outlen, "%s/%s", dir, name);
	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

static int dir_of(const char *path, char *out, size_t outlen)
{
	if (strlen(path) >= outlen)
		return -1;
	char tmp[4096];
	if (strlen(path) >= sizeof tmp)
		return -1;
	strcpy(tmp, path);
	snprintf(out, outlen, "%s", dirname(tmp));
	return 0;
}

int fs_sync_dir(const char *dir, struct err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, "open directory %s: %s", dir, strerror(errno));
	int rc = fsync(fd);
	int e = errno;
	close(fd);
	if (rc < 0 && e != EINVAL)
		return err_set(err, "fsync directory %s: %s", dir, strerror(e));
	return 0;
}

int fs_write_atomic(const char *path, const void *data, size_t n, mode_t mode, struct err *err)
{
	char dir[4096], tmp[4200];
	if (dir_of(path, dir, sizeof dir) < 0)
		return err_set(err, "path too long: %s", path);
	int fd = -1;
	for (int attempt = 0; attempt < 16 && fd < 0; attempt++) {
		unsigned r = 0;
		FILE *u = fopen("/dev/urandom", "rb");
		if (u) {
			if (fread(&r, sizeof r, 1, u) != 1)
				r = (unsigned)getpid() ^ (unsigned)attempt;
			fclose(u);
		}
		snprintf(tmp, sizeof tmp, "%s.tmp-%08x", path, r);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
		if (fd < 0 && errno != EEXIST)
			return err_set(err, "create %s: %s", tmp, strerror(errno));
	}
	if (fd < 0)
		return err_set(err, "create temp file for %s: too many collisions", path);
	const char *what = "write";
	const uint8_t *p = data;
	size_t left = n;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += w;
		left -= (size_t)w;
	}
	what = "chmod";
	if (fchmod(fd, mode) < 0)
		goto fail;
	what = "fsync";
	if (fsync(fd) < 0)
		goto fail;
	what = "close";
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	what = "rename";
	if (rename(tmp, path) < 0)
		goto fail;
	return fs_sync_dir(dir, err);
fail:;
	int e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return err_set(err, "%s %s: %s", what, path, strerror(e));
}

int fs_read_file(const char *path, size_t max, struct buf *out, struct err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, "open %s: %s", path, strerror(errno));
	size_t total = 0;
	for (;;) {
		if (buf_reserve(out, 4096) < 0) {
			close(fd);
			return err_set(err, "read %s: out of memory", path);
		}
		ssize_t r = read(fd, out->p + out->len, out->cap - out->len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			return err_set(err, "read %s: %s", path, strerror(e));
		}
		if (r == 0)
			break;
		total += (size_t)r;
		out->len += (size_t)r;
		out->p[out->len] = 0;
		if (total > max) {
			close(fd);
			return err_set(err, "read %s: file larger than %zu bytes", path, max);
		}
	}
	close(fd);
	return 0;
}

int fs_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

int fs_mkdir_p(const char *path, mode_t mode, struct err *err)
{
	char tmp[4096];
	if (strlen(path) >= sizeof tmp)
		return err_set(err, "path too long: %s", path);
	strcpy(tmp, path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return err_set(err, "mkdir %s: %s", tmp, strerror(errno));
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return err_set(err, "mkdir %s: %s", tmp, strerror(errno));
	return 0;
}

int fs_lock_file(const char *path, int *fd, pid_t *holder, struct err *err)
{
	*fd = -1;
	*holder = 0;
	int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (f < 0)
		return err_set(err, "cannot open lock file %s: %s", path, strerror(errno));
	/* a POSIX record lock: F_GETLK names the holder's pid */
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (fcntl(f, F_SETLK, &fl) < 0) {
		int e = errno;
		if (e != EACCES && e != EAGAIN) {
			close(f);
			return err_set(err, "cannot lock %s: %s", path, strerror(e));
		}
		struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		if (fcntl(f, F_GETLK, &q) == 0 && q.l_type != F_UNLCK)
			*holder = q.l_pid;
		close(f);
		return 1;
	}
	char pid[32];
	int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(f, 0) < 0 || pwrite(f, pid, (size_t)n, 0) != n) {
		int e = errno;
		close(f);
		return err_set(err, "cannot write lock file %s: %s", path, strerror(e));
	}
	*fd = f;
	return 0;
}
