/*
 * audit.c — the hash-chained release log (audit.h): line format, chain
 * verification (in bounded memory, OPEN_WINDOW-sized reads), crash recovery
 * at open, the background check of a long log's earlier lines, and
 * group-committed appends.
 */
#define _GNU_SOURCE /* gettid */
#include "audit/audit.h"

#include "util/buf.h"
#include "util/hex.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char ZERO_HASH[65] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* ---- chain verification ------------------------------------------------- */

struct chain {
	uint64_t next_seq;
	char prev[65];
	uint64_t lines;
};

static void chain_init(struct chain *c)
{
	c->next_seq = 1;
	memcpy(c->prev, ZERO_HASH, sizeof c->prev);
	c->lines = 0;
}

static int sha256_hex(const void *p, size_t n, char out[65])
{
	uint8_t md[32];
	unsigned int len = 0;
	if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1 || len != sizeof md)
		return -1;
	hex_encode(md, sizeof md, out);
	return 0;
}

static const char *const FIELDS[] = {
    "seq",	    "time",	     "method",	   "app_id",   "instance_id", "device_id",
    "compose_hash", "os_image_hash", "tcb_status", "decision", "reason",      "caller_cert_sha256",
    "prev",
};
#define NFIELDS (sizeof FIELDS / sizeof FIELDS[0])

/* One complete line (without LF): 0 and the chain advanced, or -1 with why. */
static int chain_line(struct chain *c, const char *line, size_t n, char *why, size_t whylen)
{
	json_error_t je;
	json_t *j = NULL;
	int rc = -1;
	if (n == 0) {
		snprintf(why, whylen, "empty line");
		return -1;
	}
	if (n > AUDIT_MAX_LINE) {
		snprintf(why, whylen, "line longer than %d bytes", AUDIT_MAX_LINE);
		return -1;
	}
	j = json_loadb(line, n, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		snprintf(why, whylen, "not a JSON object");
		goto out;
	}
	if (json_object_size(j) != NFIELDS) {
		snprintf(why, whylen, "has %zu fields, want %zu", json_object_size(j), NFIELDS);
		goto out;
	}
	for (size_t i = 1; i < NFIELDS; i++)
		if (!json_is_string(json_object_get(j, FIELDS[i]))) {
			snprintf(why, whylen, "field %s missing or not a string", FIELDS[i]);
			goto out;
		}
	json_t *seq = json_object_get(j, "seq");
	if (!json_is_integer(seq) || json_integer_value(seq) < 1) {
		snprintf(why, whylen, "seq missing or not a positive integer");
		goto out;
	}
	uint64_t s = (uint64_t)json_integer_value(seq);
	if (s != c->next_seq) {
		if (s > c->next_seq)
			snprintf(why, whylen, "seq %llu follows seq %llu: %llu line(s) missing",
				 (unsigned long long)s, (unsigned long long)(c->next_seq - 1),
				 (unsigned long long)(s - c->next_seq));
		else
			snprintf(why, whylen, "seq %llu where %llu was expected",
				 (unsigned long long)s, (unsigned long long)c->next_seq);
		goto out;
	}
	const char *prev = json_string_value(json_object_get(j, "prev"));
	if (strcmp(prev, c->prev) != 0) {
		snprintf(why, whylen,
			 "prev does not match the hash of the line before (a line was edited, "
			 "removed or reordered)");
		goto out;
	}
	char h[65];
	if (sha256_hex(line, n, h) < 0) {
		snprintf(why, whylen, "SHA-256 failed");
		goto out;
	}
	memcpy(c->prev, h, sizeof h);
	c->next_seq++;
	c->lines++;
	rc = 0;
out:
	json_decref(j);
	return rc;
}

/* Continues c from a line's own seq and prev (the first line of the window
 * audit_open checks; the lines before it are checked in the background).
 * A line without them leaves c as it is, and chain_line then says why. */
static void chain_seed(struct chain *c, const char *line, size_t n)
{
	json_t *j = json_loadb(line, n, 0, NULL);
	json_t *seq = json_object_get(j, "seq");
	const char *prev = json_string_value(json_object_get(j, "prev"));
	if (json_is_integer(seq) && json_integer_value(seq) >= 1 && prev && strlen(prev) == 64) {
		c->next_seq = (uint64_t)json_integer_value(seq);
		memcpy(c->prev, prev, sizeof c->prev);
	}
	json_decref(j);
}

/* Walks p[0..n): stops at the first bad line. *good_end = offset just past
 * the last good line. Returns 0 when all good, 1 when a problem was found. */
static int chain_walk(struct chain *c, const uint8_t *p, size_t n, struct audit_verify *res,
		      size_t *good_end)
{
	memset(res, 0, sizeof *res);
	size_t off = 0;
	*good_end = 0;
	uint64_t line_no = 0;
	while (off < n) {
		line_no++;
		const uint8_t *nl = memchr(p + off, '\n', n - off);
		if (!nl) {
			res->bad_line = line_no;
			res->torn_tail = 1;
			snprintf(res->reason, sizeof res->reason,
				 "unterminated last line (%zu bytes)", n - off);
			break;
		}
		size_t len = (size_t)(nl - (p + off));
		if (chain_line(c, (const char *)p + off, len, res->reason, sizeof res->reason) <
		    0) {
			res->bad_line = line_no;
			break;
		}
		off += len + 1;
		*good_end = off;
	}
	res->lines = c->lines;
	res->last_seq = c->next_seq - 1;
	if (c->lines)
		memcpy(res->head, c->prev, sizeof res->head);
	return res->bad_line ? 1 : 0;
}

int audit_verify_buf(const uint8_t *p, size_t n, struct audit_verify *res)
{
	struct chain c;
	size_t end;
	chain_init(&c);
	return chain_walk(&c, p, n, res, &end);
}

/* The most of the log audit_open reads and checks before it serves (a log up
 * to twice this is checked whole), and the read size of the walker below. */
#define OPEN_WINDOW ((size_t)64 * 1024)
#define READ_CHUNK ((size_t)256 * 1024)

static int pread_full(int fd, uint8_t *p, size_t n, off_t off, size_t *got)
{
	*got = 0;
	while (*got < n) {
		ssize_t r = pread(fd, p + *got, n - *got, off + (off_t)*got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

/* chain_walk over fd's bytes [0, end) (end < 0: to the end of the file),
 * READ_CHUNK at a time, so memory does not grow with the log. *stop, when
 * set, ends the walk early (-1, "stopped"). Same results as chain_walk. */
static int chain_walk_fd(struct chain *c, int fd, off_t end, const char *path,
			 struct audit_verify *res, const atomic_int *stop, struct err *err)
{
	memset(res, 0, sizeof *res);
	size_t cap = READ_CHUNK + AUDIT_MAX_LINE + 1, have = 0;
	uint8_t *b = malloc(cap);
	if (!b)
		return err_set(err, "release log %s: out of memory", path);
	off_t pos = 0;
	uint64_t line_no = 0;
	int rc = 0;
	for (;;) {
		if (stop && atomic_load(stop)) {
			rc = err_set(err, "release log %s: check stopped", path);
			break;
		}
		size_t want = cap - have, got;
		if (end >= 0 && (off_t)want > end - pos)
			want = (size_t)(end - pos);
		if (pread_full(fd, b + have, want, pos, &got) < 0) {
			rc = err_set(err, "release log %s: read failed: %s", path, strerror(errno));
			break;
		}
		pos += (off_t)got;
		have += got;
		size_t off = 0;
		const uint8_t *nl;
		while ((nl = memchr(b + off, '\n', have - off)) != NULL) {
			size_t len = (size_t)(nl - (b + off));
			line_no++;
			if (chain_line(c, (const char *)b + off, len, res->reason,
				       sizeof res->reason) < 0) {
				res->bad_line = line_no;
				break;
			}
			off += len + 1;
		}
		memmove(b, b + off, have - off);
		have -= off;
		if (res->bad_line)
			break;
		if (have > AUDIT_MAX_LINE) {
			res->bad_line = line_no + 1;
			snprintf(res->reason, sizeof res->reason, "line longer than %d bytes",
				 AUDIT_MAX_LINE);
			break;
		}
		if (got < want || want == 0) { /* the end */
			if (have) {
				res->bad_line = line_no + 1;
				res->torn_tail = 1;
				snprintf(res->reason, sizeof res->reason,
					 "unterminated last line (%zu bytes)", have);
			}
			break;
		}
	}
	free(b);
	if (rc < 0)
		return -1;
	res->lines = c->lines;
	res->last_seq = c->next_seq - 1;
	if (c->lines)
		memcpy(res->head, c->prev, sizeof res->head);
	return res->bad_line ? 1 : 0;
}

int audit_verify_file(const char *path, struct audit_verify *res, struct err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, "release log %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(err, "release log %s: not a regular file", path);
	}
	struct chain c;
	chain_init(&c);
	int rc = chain_walk_fd(&c, fd, -1, path, res, NULL, err);
	close(fd);
	return rc;
}

/* ---- the open log ------------------------------------------------------- */

struct entry {
	struct entry *next;
	struct buf body; /* the fields between seq and prev, with their commas */
	int done, rc;
	uint64_t seq;
	char chain[65];
	char msg[256];
};

struct audit_log {
	char *path;
	int fd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct entry *head, *tail; /* waiting to be written */
	int writing;		   /* a committer is at work (owns chain + off) */
	struct chain chain;
	off_t off; /* end of the last good line */
	uint64_t fsyncs;
	/* the background check of the lines before the window audit_open read:
	 * they must chain up to `seed` (the window's first line) at check_end */
	pthread_t checker;
	int checking;	   /* the thread was started */
	atomic_int stop;   /* audit_close: end it */
	int check_state;   /* AUDIT_CHECK_*, under mu */
	char broken[1024]; /* why appends are refused, under mu */
	struct chain seed; /* next_seq and prev of the window's first line */
	off_t check_end;
};

/* The background check: the log's lines before the window must verify
 * and end where the window's first line continues. Found broken, every
 * later append is refused, as an open of the same file would have been. */
static void *check_earlier_lines(void *arg)
{
	struct audit_log *a = arg;
	struct err err;
	struct audit_verify res;
	struct chain c;
	char why[512] = "";
	struct timespec t0, t1;
	/* behind the start-up and the requests on these few cores (Linux: a
	 * thread's own nice value) */
	setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	chain_init(&c);
	int fd = open(a->path, O_RDONLY | O_CLOEXEC);
	int rc = fd < 0 ? -1 : chain_walk_fd(&c, fd, a->check_end, a->path, &res, &a->stop, &err);
	if (fd >= 0)
		close(fd);
	if (fd < 0)
		snprintf(why, sizeof why, "cannot be read for the check of its earlier lines: %s",
			 strerror(errno));
	else if (rc < 0 && atomic_load(&a->stop))
		return NULL;
	else if (rc < 0)
		snprintf(why, sizeof why, "%.300s", err.msg);
	else if (rc > 0)
		snprintf(why, sizeof why, "line %llu is broken (%s)",
			 (unsigned long long)res.bad_line, res.reason);
	else if (c.next_seq != a->seed.next_seq || strcmp(c.prev, a->seed.prev) != 0)
		snprintf(why, sizeof why,
			 "the line at byte offset %lld (seq %llu) does not follow line %llu (seq "
			 "%llu): a line was edited, removed or reordered",
			 (long long)a->check_end, (unsigned long long)a->seed.next_seq,
			 (unsigned long long)c.lines, (unsigned long long)(c.next_seq - 1));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
	pthread_mutex_lock(&a->mu);
	if (why[0]) {
		a->check_state = AUDIT_CHECK_BROKEN;
		snprintf(a->broken, sizeof a->broken,
			 "release log %s: %s; the log was altered: key releases are refused until "
			 "it is checked with `dstack-kmsctl audit verify`, kept as evidence and a "
			 "new file started",
			 a->path, why);
	} else {
		a->check_state = AUDIT_CHECK_OK;
	}
	pthread_mutex_unlock(&a->mu);
	if (why[0])
		log_err("%s", a->broken);
	else
		log_info(
		    "release log %s: the %llu lines before byte offset %lld verified in %ld ms",
		    a->path, (unsigned long long)c.lines, (long long)a->check_end, ms);
	return NULL;
}

/* Reads [from, size) of the open log, checks it, and cuts a torn tail; the
 * chain continues from its last good line. from > 0: the chain is seeded
 * from the first line that starts in the window. */
static int open_check(struct audit_log *a, off_t from, off_t size, struct err *err)
{
	struct buf b = BUF_INIT;
	size_t n = (size_t)(size - from), got, start = 0;
	int rc = -1;
	if (buf_reserve(&b, n + 1) < 0) {
		err_set(err, "release log %s: out of memory (%zu bytes)", a->path, n);
		goto out;
	}
	if (pread_full(a->fd, b.p, n, from, &got) < 0) {
		err_set(err, "release log %s: read failed: %s", a->path, strerror(errno));
		goto out;
	}
	b.len = got;
	chain_init(&a->chain);
	if (from > 0) {
		const uint8_t *nl = memchr(b.p, '\n', b.len);
		start = nl ? (size_t)(nl - b.p) + 1 : b.len;
		const uint8_t *nl2 = memchr(b.p + start, '\n', b.len - start);
		if (nl2)
			chain_seed(&a->chain, (const char *)b.p + start,
				   (size_t)(nl2 - (b.p + start)));
		a->seed = a->chain;
		a->check_end = from + (off_t)start;
	}
	struct audit_verify res;
	size_t good_end;
	if (chain_walk(&a->chain, b.p + start, b.len - start, &res, &good_end) != 0) {
		off_t at = from + (off_t)(start + good_end);
		if (!res.torn_tail) {
			if (from > 0)
				err_set(
				    err,
				    "release log %s: the line at byte offset %lld is broken (%s); "
				    "the log was altered: check it with `dstack-kmsctl audit "
				    "verify`, keep it as evidence and start a new file",
				    a->path, (long long)at, res.reason);
			else
				err_set(
				    err,
				    "release log %s: line %llu is broken (%s); the log was "
				    "altered: check it with `dstack-kmsctl audit verify`, keep it "
				    "as evidence and start a new file",
				    a->path, (unsigned long long)res.bad_line, res.reason);
			goto out;
		}
		log_warn("release log %s: cutting off a torn last line at byte offset %lld (%s)",
			 a->path, (long long)at, res.reason);
		if (ftruncate(a->fd, at) < 0 || fsync(a->fd) < 0) {
			err_set(err, "release log %s: cannot cut off the torn last line: %s",
				a->path, strerror(errno));
			goto out;
		}
	}
	a->off = from + (off_t)(start + good_end);
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

struct audit_log *audit_open(const char *path, struct err *err)
{
	struct audit_log *a = calloc(1, sizeof *a);
	if (!a || !(a->path = strdup(path))) {
		free(a);
		err_set(err, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	a->check_state = AUDIT_CHECK_OK;
	a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (a->fd < 0) {
		err_set(err, "release log %s: cannot open for append: %s", path, strerror(errno));
		goto fail;
	}
	struct stat st;
	if (fstat(a->fd, &st) < 0) {
		err_set(err, "release log %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(err, "release log %s: not a regular file", path);
		goto fail;
	}
	/* a long log: only its last OPEN_WINDOW bytes are checked before the
	 * KMS serves (start-up time and memory do not grow with the log); the
	 * lines before them are checked by a thread meanwhile */
	off_t from = st.st_size > (off_t)(2 * OPEN_WINDOW) ? st.st_size - (off_t)OPEN_WINDOW : 0;
	if (open_check(a, from, st.st_size, err) < 0)
		goto fail;
	if (from > 0 && a->check_end > 0) {
		a->check_state = AUDIT_CHECK_RUNNING;
		if (pthread_create(&a->checker, NULL, check_earlier_lines, a) != 0) {
			err_set(err, "release log %s: cannot start the check of its earlier lines",
				path);
			goto fail;
		}
		a->checking = 1;
	}
	return a;
fail:
	if (a->fd >= 0)
		close(a->fd);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a->path);
	free(a);
	return NULL;
}

void audit_close(struct audit_log *a)
{
	if (!a)
		return;
	if (a->checking) {
		atomic_store(&a->stop, 1);
		pthread_join(a->checker, NULL);
	}
	close(a->fd);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a->path);
	free(a);
}

int audit_check_state(struct audit_log *a, char *why, size_t whylen)
{
	if (!a)
		return AUDIT_CHECK_OK;
	pthread_mutex_lock(&a->mu);
	int st = a->check_state;
	if (why && whylen)
		snprintf(why, whylen, "%s", st == AUDIT_CHECK_BROKEN ? a->broken : "");
	pthread_mutex_unlock(&a->mu);
	return st;
}

uint64_t audit_fsync_count(const struct audit_log *a)
{
	return a ? a->fsyncs : 0;
}

static int put_field(struct buf *b, const char *key, const char *val)
{
	json_t *s = json_string(val ? val : "");
	if (!s) /* not UTF-8: keep the line valid, say so */
		s = json_string("(not valid UTF-8)");
	char *enc = s ? json_dumps(s, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	json_decref(s);
	int rc = enc ? buf_printf(b, ",\"%s\":%s", key, enc) : -1;
	free(enc);
	return rc;
}

static int render_body(const struct audit_record *r, struct buf *b)
{
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	const char *vals[] = {ts,
			      r->method,
			      r->app_id,
			      r->instance_id,
			      r->device_id,
			      r->compose_hash,
			      r->os_image_hash,
			      r->tcb_status,
			      r->decision,
			      r->reason,
			      r->caller_cert_sha256};
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
		if (put_field(b, FIELDS[i + 1], vals[i]) < 0)
			return -1;
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The committer: writes the batch in order with one fsync. Called without
 * the mutex, with a->writing set (so it alone owns a->chain and a->off). */
static void commit_batch(struct audit_log *a, struct entry *batch)
{
	struct buf out = BUF_INIT;
	struct chain c = a->chain;
	const char *fail = NULL;
	int saved = 0;
	for (struct entry *e = batch; e && !fail; e = e->next) {
		size_t start = out.len;
		if (buf_printf(&out, "{\"seq\":%llu", (unsigned long long)c.next_seq) < 0 ||
		    buf_append(&out, e->body.p, e->body.len) < 0 ||
		    buf_printf(&out, ",\"prev\":\"%s\"}", c.prev) < 0 ||
		    sha256_hex(out.p + start, out.len - start, e->chain) < 0 ||
		    buf_append_byte(&out, '\n') < 0) {
			fail = "out of memory";
			break;
		}
		e->seq = c.next_seq++;
		memcpy(c.prev, e->chain, sizeof c.prev);
		c.lines++;
	}
	if (!fail && write_all(a->fd, out.p, out.len) < 0) {
		saved = errno;
		fail = "write failed";
	}
	if (!fail) {
		a->fsyncs++;
		if (fdatasync(a->fd) < 0) {
			saved = errno;
			fail = "fsync failed";
		}
	}
	if (fail) {
		/* cut back to the last good line; the sequence numbers are not used */
		if (ftruncate(a->fd, a->off) < 0)
			log_err("release log %s: cannot cut back a failed write: %s", a->path,
				strerror(errno));
	} else {
		a->chain = c;
		a->off += (off_t)out.len;
	}
	for (struct entry *e = batch; e; e = e->next) {
		e->rc = fail ? -1 : 0;
		if (fail)
			snprintf(e->msg, sizeof e->msg, "release log %s: %s%s%s", a->path, fail,
				 saved ? ": " : "", saved ? strerror(saved) : "");
	}
	buf_free(&out);
}

int audit_append(struct audit_log *a, const struct audit_record *r, uint64_t *seq_out,
		 char chain_out[65], struct err *err)
{
	if (!a)
		return err_set(err, "release log is not open");
	struct entry e;
	memset(&e, 0, sizeof e);
	e.body = (struct buf)BUF_INIT;
	if (render_body(r, &e.body) < 0) {
		buf_free(&e.body);
		return err_set(err, "release log: out of memory");
	}
	if (e.body.len + 128 > AUDIT_MAX_LINE) {
		buf_free(&e.body);
		return err_set(err, "release log: entry longer than %d bytes", AUDIT_MAX_LINE);
	}
	pthread_mutex_lock(&a->mu);
	if (a->check_state == AUDIT_CHECK_BROKEN) {
		pthread_mutex_unlock(&a->mu);
		buf_free(&e.body);
		return err_set(err, "%s", a->broken);
	}
	if (a->tail)
		a->tail->next = &e;
	else
		a->head = &e;
	a->tail = &e;
	while (!e.done) {
		if (a->writing) {
			pthread_cond_wait(&a->cv, &a->mu);
			continue;
		}
		/* become the committer for everything queued so far */
		struct entry *batch = a->head;
		a->head = a->tail = NULL;
		a->writing = 1;
		pthread_mutex_unlock(&a->mu);
		commit_batch(a, batch);
		pthread_mutex_lock(&a->mu);
		for (struct entry *x = batch; x;) {
			struct entry *n = x->next;
			x->done = 1; /* x may go away as soon as its owner wakes */
			x = n;
		}
		a->writing = 0;
		pthread_cond_broadcast(&a->cv);
	}
	pthread_mutex_unlock(&a->mu);
	buf_free(&e.body);
	if (e.rc < 0)
		return err_set(err, "%s", e.msg);
	if (seq_out)
		*seq_out = e.seq;
	if (chain_out)
		memcpy(chain_out, e.chain, 65);
	log_info("release seq=%llu chain=%s method=%s app_id=%s decision=%s reason=\"%s\"",
		 (unsigned long long)e.seq, e.chain, r->method ? r->method : "",
		 r->app_id && r->app_id[0] ? r->app_id : "-", r->decision ? r->decision : "",
		 r->reason ? r->reason : "");
	return 0;
}
