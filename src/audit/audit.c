/*
 * audit.c — the hash-chained release log (audit.h): line format, chain
 * verification, crash recovery at open, and group-committed appends.
 */
#include "audit/audit.h"

#include "util/buf.h"
#include "util/hex.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int read_all(int fd, const char *path, struct buf *b, struct err *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return err_set(err, "release log %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_set(err, "release log %s: not a regular file", path);
	if (buf_reserve(b, (size_t)st.st_size + 1) < 0)
		return err_set(err, "release log %s: out of memory (%lld bytes)", path,
			       (long long)st.st_size);
	for (;;) {
		if (buf_reserve(b, 65536) < 0)
			return err_set(err, "release log %s: out of memory", path);
		ssize_t r = pread(fd, b->p + b->len, 65536, (off_t)b->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return err_set(err, "release log %s: read failed: %s", path,
				       strerror(errno));
		if (r == 0)
			return 0;
		b->len += (size_t)r;
	}
}

int audit_verify_file(const char *path, struct audit_verify *res, struct err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, "release log %s: %s", path, strerror(errno));
	struct buf b = BUF_INIT;
	int rc = read_all(fd, path, &b, err);
	close(fd);
	if (rc == 0)
		rc = audit_verify_buf(b.p, b.len, res);
	buf_free(&b);
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
};

struct audit_log *audit_open(const char *path, struct err *err)
{
	struct audit_log *a = calloc(1, sizeof *a);
	struct buf b = BUF_INIT;
	if (!a || !(a->path = strdup(path))) {
		free(a);
		err_set(err, "out of memory");
		return NULL;
	}
	a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (a->fd < 0) {
		err_set(err, "release log %s: cannot open for append: %s", path, strerror(errno));
		goto fail;
	}
	if (read_all(a->fd, path, &b, err) < 0)
		goto fail;
	chain_init(&a->chain);
	struct audit_verify res;
	size_t good_end;
	if (chain_walk(&a->chain, b.p, b.len, &res, &good_end) != 0) {
		if (!res.torn_tail) {
			err_set(err,
				"release log %s: line %llu is broken (%s); the log was altered: "
				"check it with `dstack-kmsctl audit verify`, keep it as evidence "
				"and start a new file",
				path, (unsigned long long)res.bad_line, res.reason);
			goto fail;
		}
		log_warn("release log %s: cutting off a torn last line at byte offset %zu (%s)",
			 path, good_end, res.reason);
		if (ftruncate(a->fd, (off_t)good_end) < 0 || fsync(a->fd) < 0) {
			err_set(err, "release log %s: cannot cut off the torn last line: %s", path,
				strerror(errno));
			goto fail;
		}
	}
	a->off = (off_t)good_end;
	buf_free(&b);
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	return a;
fail:
	buf_free(&b);
	if (a->fd >= 0)
		close(a->fd);
	free(a->path);
	free(a);
	return NULL;
}

void audit_close(struct audit_log *a)
{
	if (!a)
		return;
	close(a->fd);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a->path);
	free(a);
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
