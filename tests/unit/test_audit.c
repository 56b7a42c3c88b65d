/*
 * test_audit.c — the release log (audit/audit.h): chain across reopen, a
 * torn tail cut at open, an altered log refused at open, 8 threads × 50
 * appends giving one consistent chain with fewer fsyncs than lines (group
 * commit), and a write failure (file size limit) that leaves the log
 * consistent and lets later appends succeed; a long log (over 128 KiB):
 * opened from its last 64 KiB, the earlier lines checked in the background
 * (an edit there, or a line removed at the window's edge, refuses appends;
 * an edit in the window refuses the open). Chain hashes are re-computed
 * here with OpenSSL from the file bytes, not taken from the module.
 */
#include "harness.h"

#include "audit/audit.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/hex.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct audit_record REC = {.method = "GetAppKey",
					.app_id = "11",
					.decision = "allowed",
					.reason = "",
					.caller_cert_sha256 = "ab"};

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", t_tmpdir(), name);
}

static size_t file_len(const char *path)
{
	struct buf b = BUF_INIT;
	size_t n = fs_read_file(path, 64u << 20, &b, NULL) == 0 ? b.len : (size_t)-1;
	buf_free(&b);
	return n;
}

TEST(test_audit_chain_across_reopen)
{
	char path[512];
	struct err err;
	uint64_t seq;
	char chain[65];
	path_in(path, sizeof path, "r.log");
	struct audit_log *a = audit_open(path, &err);
	CHECK_MSG(a, "%s", err.msg);
	CHECK_OK(audit_append(a, &REC, &seq, chain, &err), &err);
	CHECK_EQ_INT(seq, 1);
	audit_close(a);
	/* the first line's prev is 64 zeros; its chain value is its SHA-256 */
	struct buf b = BUF_INIT;
	CHECK_OK(fs_read_file(path, 1 << 20, &b, &err), &err);
	CHECK(strstr(
	    buf_str(&b),
	    "\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\"}\n"));
	uint8_t md[32];
	unsigned mdlen;
	CHECK(EVP_Digest(b.p, b.len - 1, md, &mdlen, EVP_sha256(), NULL) == 1);
	char want[65];
	hex_encode(md, 32, want);
	CHECK_EQ_STR(chain, want);
	buf_free(&b);
	CHECK((a = audit_open(path, &err)) != NULL);
	CHECK_OK(audit_append(a, &REC, &seq, chain, &err), &err);
	CHECK_EQ_INT(seq, 2);
	audit_close(a);
	struct audit_verify v;
	CHECK_EQ_INT(audit_verify_file(path, &v, &err), 0);
	CHECK_EQ_INT(v.lines, 2);
	CHECK_EQ_STR(v.head, chain);
}

TEST(test_audit_torn_tail_cut_and_altered_refused)
{
	char path[512];
	struct err err;
	path_in(path, sizeof path, "t.log");
	struct audit_log *a = audit_open(path, &err);
	CHECK(a);
	for (int i = 0; i < 3; i++)
		CHECK_OK(audit_append(a, &REC, NULL, NULL, &err), &err);
	audit_close(a);
	size_t good = file_len(path);
	FILE *f = fopen(path, "a");
	CHECK(f);
	fputs("{\"seq\":4,\"ti", f);
	fclose(f);
	CHECK((a = audit_open(path, &err)) != NULL);
	CHECK_EQ_INT(file_len(path), good);
	uint64_t seq;
	CHECK_OK(audit_append(a, &REC, &seq, NULL, &err), &err);
	CHECK_EQ_INT(seq, 4);
	audit_close(a);
	/* edit the reason of line 2: open refuses, naming line 3 */
	struct buf b = BUF_INIT;
	CHECK_OK(fs_read_file(path, 1 << 20, &b, &err), &err);
	char *l2 = strchr((char *)b.p, '\n') + 1;
	char *r = strstr(l2, "\"reason\":\"");
	CHECK(r);
	r[8] = 'X'; /* "reason" -> "reasXn": a different line, same length */
	CHECK_OK(fs_write_atomic(path, b.p, b.len, 0640, &err), &err);
	buf_free(&b);
	CHECK(audit_open(path, &err) == NULL);
	CHECK_MSG(strstr(err.msg, "line 2 is broken") || strstr(err.msg, "line 3 is broken"), "%s",
		  err.msg);
}

struct worker {
	struct audit_log *a;
	int fails;
};

static void *appender(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 50; i++) {
		struct err err;
		if (audit_append(w->a, &REC, NULL, NULL, &err) < 0)
			w->fails++;
	}
	return NULL;
}

TEST(test_audit_group_commit_concurrent)
{
	char path[512];
	struct err err;
	path_in(path, sizeof path, "c.log");
	struct audit_log *a = audit_open(path, &err);
	CHECK(a);
	pthread_t th[8];
	struct worker w[8];
	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){a, 0};
		CHECK(pthread_create(&th[i], NULL, appender, &w[i]) == 0);
	}
	int fails = 0;
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		fails += w[i].fails;
	}
	uint64_t fsyncs = audit_fsync_count(a);
	audit_close(a);
	CHECK_EQ_INT(fails, 0);
	struct audit_verify v;
	CHECK_EQ_INT(audit_verify_file(path, &v, &err), 0);
	CHECK_EQ_INT(v.lines, 400);
	CHECK_EQ_INT(v.last_seq, 400);
	CHECK_MSG(fsyncs < 400, "%llu fsyncs for 400 lines: no group commit",
		  (unsigned long long)fsyncs);
}

TEST(test_audit_write_failure_keeps_log_consistent)
{
	char path[512];
	struct err err;
	path_in(path, sizeof path, "f.log");
	struct audit_log *a = audit_open(path, &err);
	CHECK(a);
	CHECK_OK(audit_append(a, &REC, NULL, NULL, &err), &err);
	audit_close(a);
	size_t one = file_len(path);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* in the child: a file-size limit just past the first line */
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = {one + 40, one + 40};
		struct audit_log *c = audit_open(path, &err);
		if (!c || setrlimit(RLIMIT_FSIZE, &rl) < 0)
			_exit(10);
		if (audit_append(c, &REC, NULL, NULL, &err) == 0)
			_exit(11);
		if (!strstr(err.msg, "write failed: File too large"))
			_exit(12);
		audit_close(c);
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", WEXITSTATUS(st));
	/* the failed write was cut back; the next append goes on from seq 2 */
	CHECK_EQ_INT(file_len(path), one);
	CHECK((a = audit_open(path, &err)) != NULL);
	uint64_t seq;
	CHECK_OK(audit_append(a, &REC, &seq, NULL, &err), &err);
	CHECK_EQ_INT(seq, 2);
	audit_close(a);
	struct audit_verify v;
	CHECK_EQ_INT(audit_verify_file(path, &v, &err), 0);
}

TEST(test_audit_refuses_non_regular_file)
{
	struct err err;
	CHECK(audit_open("/dev/null", &err) == NULL);
	CHECK_MSG(strstr(err.msg, "not a regular file"), "%s", err.msg);
}

/* ---- a long log: the window checked at open, the rest in the background ---- */

#define LONG_LINES 45 /* of ~14 KB: ~630 KB, well over the 128 KiB of a full check at open */

static void make_long_log(const char *path)
{
	static char reason[14001];
	memset(reason, 'r', sizeof reason - 1);
	struct audit_record r = REC;
	r.reason = reason;
	struct err err;
	unlink(path);
	struct audit_log *a = audit_open(path, &err);
	CHECK_MSG(a, "%s", err.msg);
	for (int i = 0; i < LONG_LINES && a; i++)
		CHECK_OK(audit_append(a, &r, NULL, NULL, &err), &err);
	audit_close(a);
	CHECK(file_len(path) > 512 * 1024); /* and many lines before the window */
}

/* the state once the background check is over (bounded: 10 s) */
static int settled_state(struct audit_log *a, char *why, size_t n)
{
	int st = AUDIT_CHECK_RUNNING;
	for (int i = 0; i < 1000 && (st = audit_check_state(a, why, n)) == AUDIT_CHECK_RUNNING; i++)
		usleep(10000);
	return st;
}

TEST(test_audit_long_log_opens_from_its_tail_and_checks_the_rest)
{
	char path[512], why[1024];
	struct err err;
	uint64_t seq;
	path_in(path, sizeof path, "long.log");
	make_long_log(path);
	struct audit_log *a = audit_open(path, &err);
	CHECK_MSG(a, "%s", err.msg);
	CHECK_EQ_INT(settled_state(a, why, sizeof why), AUDIT_CHECK_OK);
	CHECK_OK(audit_append(a, &REC, &seq, NULL, &err), &err);
	CHECK_EQ_INT(seq, LONG_LINES + 1);
	audit_close(a);
	struct audit_verify v;
	CHECK_EQ_INT(audit_verify_file(path, &v, &err), 0);
	CHECK_EQ_INT(v.lines, LONG_LINES + 1);
	/* closing while the check runs stops it (no thread outlives the log) */
	CHECK((a = audit_open(path, &err)) != NULL);
	audit_close(a);
}

TEST(test_audit_long_log_edit_before_the_window_refuses_appends)
{
	char path[512], why[1024];
	struct err err;
	path_in(path, sizeof path, "long-edit.log");
	make_long_log(path);
	struct buf b = BUF_INIT;
	CHECK_OK(fs_read_file(path, 8 << 20, &b, &err), &err);
	char *l2 = strchr((char *)b.p, '\n') + 1;
	char *r = strstr(l2, "\"reason\":\"");
	CHECK(r);
	r[10] = 'X'; /* line 2's reason edited, same length: line 3's prev no longer matches */
	CHECK_OK(fs_write_atomic(path, b.p, b.len, 0640, &err), &err);
	size_t len = b.len;
	buf_free(&b);
	struct audit_log *a = audit_open(path, &err);
	CHECK_MSG(a, "the window is intact, the open succeeds: %s", err.msg);
	CHECK_EQ_INT(settled_state(a, why, sizeof why), AUDIT_CHECK_BROKEN);
	CHECK_CONTAINS(why, "line 3 is broken (prev does not match");
	CHECK(audit_append(a, &REC, NULL, NULL, &err) < 0);
	CHECK_CONTAINS(err.msg, "line 3 is broken");
	CHECK_CONTAINS(err.msg, "key releases are refused");
	audit_close(a);
	CHECK_EQ_INT(file_len(path), len); /* nothing appended */
}

TEST(test_audit_long_log_line_removed_at_the_window_edge)
{
	char path[512], why[1024];
	struct err err;
	path_in(path, sizeof path, "long-cut.log");
	make_long_log(path);
	struct buf b = BUF_INIT;
	CHECK_OK(fs_read_file(path, 8 << 20, &b, &err), &err);
	/* the window's first line starts after the first LF at or past
	 * size - 64 KiB; removing the line before it breaks the chain only
	 * across the edge */
	char *p = (char *)b.p;
	char *nl = memchr(p + b.len - 64 * 1024, '\n', 64 * 1024);
	CHECK(nl);
	size_t seed = (size_t)(nl - p) + 1, before = seed - 1;
	while (before > 0 && p[before - 1] != '\n')
		before--;
	memmove(p + before, p + seed, b.len - seed);
	b.len -= seed - before;
	CHECK_OK(fs_write_atomic(path, b.p, b.len, 0640, &err), &err);
	buf_free(&b);
	struct audit_log *a = audit_open(path, &err);
	CHECK_MSG(a, "%s", err.msg);
	CHECK_EQ_INT(settled_state(a, why, sizeof why), AUDIT_CHECK_BROKEN);
	CHECK_CONTAINS(why, "does not follow line");
	CHECK_CONTAINS(why, "a line was edited, removed or reordered");
	CHECK(audit_append(a, &REC, NULL, NULL, &err) < 0);
	audit_close(a);
	/* the full check says the same from the other side */
	struct audit_verify v;
	CHECK_EQ_INT(audit_verify_file(path, &v, &err), 1);
	CHECK_CONTAINS(v.reason, "line(s) missing");
}

TEST(test_audit_long_log_edit_in_the_window_refuses_open)
{
	char path[512];
	struct err err;
	path_in(path, sizeof path, "long-tail.log");
	make_long_log(path);
	struct buf b = BUF_INIT;
	CHECK_OK(fs_read_file(path, 8 << 20, &b, &err), &err);
	/* the reason of the second-to-last line */
	char *end = (char *)b.p + b.len - 1, *q = end - 1;
	while (*q != '\n')
		q--;
	q--;
	while (*q != '\n')
		q--;
	char *r = strstr(q + 1, "\"reason\":\"");
	CHECK(r);
	r[10] = 'X'; /* its reason edited: the last line's prev no longer matches */
	CHECK_OK(fs_write_atomic(path, b.p, b.len, 0640, &err), &err);
	buf_free(&b);
	CHECK(audit_open(path, &err) == NULL);
	CHECK_CONTAINS(err.msg, "is broken (prev does not match");
	CHECK_CONTAINS(err.msg, "byte offset");
	/* a torn tail on a long log is cut off as on a short one */
	make_long_log(path);
	size_t good = file_len(path);
	FILE *f = fopen(path, "a");
	CHECK(f);
	fputs("{\"seq\":46,\"ti", f);
	fclose(f);
	struct audit_log *a = audit_open(path, &err);
	CHECK_MSG(a, "%s", err.msg);
	CHECK_EQ_INT(file_len(path), good);
	uint64_t seq;
	CHECK_OK(audit_append(a, &REC, &seq, NULL, &err), &err);
	CHECK_EQ_INT(seq, LONG_LINES + 1);
	audit_close(a);
}
