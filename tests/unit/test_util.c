/*
 * test_util.c — bounded reader, hex, buffers, atomic files, URL redaction,
 * the locked key page.
 */
#include "harness.h"

#include "util/buf.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/ratelog.h"
#include "util/reader.h"
#include "util/secret.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

TEST(test_reader_refuses_reads_past_end)
{
	const uint8_t data[] = {1, 2, 3, 4, 5, 6, 7};
	struct reader r;
	reader_init(&r, data, sizeof data);
	uint32_t v32;
	uint16_t v16;
	CHECK(rd_u32le(&r, &v32) == 0);
	CHECK_EQ_INT(v32, 0x04030201);
	CHECK(rd_u16be(&r, &v16) == 0);
	CHECK_EQ_INT(v16, 0x0506);
	CHECK(rd_u16le(&r, &v16) < 0);
	CHECK_EQ_INT(r.off, 6); /* a failed read leaves the cursor */
	const uint8_t *p;
	CHECK(rd_bytes(&r, 2, &p) < 0);
	CHECK(rd_bytes(&r, SIZE_MAX, &p) < 0);
	CHECK(rd_bytes(&r, 1, &p) == 0 && *p == 7);
	CHECK_EQ_INT(rd_left(&r), 0);
}

TEST(test_reader_sub_window_is_bounded)
{
	const uint8_t data[] = {9, 8, 7, 6};
	struct reader r, sub;
	reader_init(&r, data, sizeof data);
	CHECK(rd_sub(&r, 2, &sub) == 0);
	uint8_t a, b, c;
	CHECK(rd_u8(&sub, &a) == 0 && rd_u8(&sub, &b) == 0);
	CHECK(rd_u8(&sub, &c) < 0);
	CHECK(a == 9 && b == 8);
	CHECK(rd_u8(&r, &c) == 0 && c == 7);
	uint64_t v;
	CHECK(rd_u64le(&r, &v) < 0);
}

TEST(test_hex_roundtrip_and_rejects)
{
	struct buf b = BUF_INIT;
	CHECK(hex_decode("00fFaB", 6, &b) == 0);
	CHECK_EQ_INT(b.len, 3);
	CHECK(b.p[0] == 0 && b.p[1] == 0xff && b.p[2] == 0xab);
	char out[7];
	hex_encode(b.p, 3, out);
	CHECK_EQ_STR(out, "00ffab");
	buf_reset(&b);
	CHECK(hex_decode("abc", 3, &b) < 0);
	CHECK(hex_decode("zz", 2, &b) < 0);
	uint8_t fixed[2];
	CHECK(hex_decode_fixed("0102", fixed, 2) == 0);
	CHECK(hex_decode_fixed("010203", fixed, 2) < 0);
	buf_free(&b);
}

TEST(test_buf_printf_and_secret_free)
{
	struct buf b;
	buf_init_secret(&b);
	for (int i = 0; i < 1000; i++)
		CHECK(buf_printf(&b, "%d,", i) == 0);
	CHECK(strncmp(buf_str(&b), "0,1,2,", 6) == 0);
	CHECK_EQ_INT(b.len, strlen(buf_str(&b)));
	buf_free(&b);
	CHECK(b.p == NULL && b.len == 0 && b.secret == 1);
}

/* the smaps entry of the mapping that starts at p: its Locked: kB and
 * whether VmFlags holds "dd" (do not dump) — read from the kernel, not from
 * what secret.c believes it asked for */
static int smaps_of(void *p, long *locked_kb, int *dontdump)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	char line[512];
	int in = 0, found = 0;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = lo == (uintptr_t)p;
			found |= in;
			continue;
		}
		if (!in)
			continue;
		if (!strncmp(line, "Locked:", 7))
			*locked_kb = strtol(line + 7, NULL, 10);
		if (!strncmp(line, "VmFlags:", 8))
			*dontdump = strstr(line, " dd") != NULL;
	}
	fclose(f);
	return found ? 0 : -1;
}

TEST(test_secret_page_is_locked_and_not_dumped)
{
	if (T_ASAN) {
		t_skip("ASan's mlock interceptor does not lock (build-asan)");
		return;
	}
	struct err e = {0};
	unsigned char *p = secret_page_alloc(64, &e);
	CHECK_MSG(p != NULL, "%s", err_msg(&e));
	if (!p)
		return;
	CHECK_EQ_INT((uintptr_t)p % (uintptr_t)sysconf(_SC_PAGESIZE), 0);
	memset(p, 0xA5, 64);
	long locked = -1;
	int dd = 0;
	CHECK_EQ_INT(smaps_of(p, &locked, &dd), 0);
	CHECK_MSG(locked >= 4, "Locked: %ld kB", locked);
	CHECK(dd == 1);
	secret_page_free(p, 64);
}

/* as an unprivileged user with a memlock limit of 0, the allocation fails
 * and the message names the limit to raise */
TEST(test_secret_page_refused_names_the_limit)
{
	if (T_ASAN) {
		t_skip("ASan's mlock interceptor never fails (build-asan)");
		return;
	}
	int fds[2];
	CHECK_EQ_INT(pipe(fds), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		struct rlimit zero = {0, 0};
		if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(3);
		if (setrlimit(RLIMIT_MEMLOCK, &zero) != 0)
			_exit(4);
		struct err e = {0};
		void *p = secret_page_alloc(64, &e);
		const char *m = p ? "allocated" : err_msg(&e);
		ssize_t w = write(fds[1], m, strlen(m));
		_exit(w < 0 ? 5 : 0);
	}
	close(fds[1]);
	char msg[512] = {0};
	ssize_t n = read(fds[0], msg, sizeof msg - 1);
	close(fds[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
	CHECK(n > 0);
	CHECK_CONTAINS(msg, "cannot lock key memory in RAM");
	CHECK_CONTAINS(msg, "raise LimitMEMLOCK=");
}

TEST(test_err_chain_outermost_first)
{
	struct err e;
	err_clear(&e);
	err_set(&e, "Compose hash not allowed");
	err_wrap(&e, "Boot denied");
	err_wrap(&e, "App not allowed");
	CHECK_EQ_STR(e.msg, "App not allowed: Boot denied: Compose hash not allowed");
	CHECK(err_set(NULL, "x") == -1);
}

TEST(test_atomic_write_mode_and_no_leftovers)
{
	const char *dir = t_tmpdir();
	char path[600];
	snprintf(path, sizeof path, "%s/key.pem", dir);
	struct err e;
	CHECK_OK(fs_write_atomic(path, "secret", 6, 0600, &e), &e);
	struct stat st;
	CHECK(stat(path, &st) == 0);
	CHECK_EQ_INT(st.st_mode & 0777, 0600);
	CHECK_OK(fs_write_atomic(path, "second", 6, 0644, &e), &e);
	struct buf b = BUF_INIT;
	CHECK_OK(fs_read_file(path, 100, &b, &e), &e);
	CHECK_EQ_STR(buf_str(&b), "second");
	buf_free(&b);
	/* only the final file is left in the directory */
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	CHECK_EQ_INT(n, 1);
	/* a write into a missing directory fails cleanly */
	char bad[700];
	snprintf(bad, sizeof bad, "%s/missing/x", dir);
	CHECK_FAILS(fs_write_atomic(bad, "x", 1, 0600, &e));
	CHECK_CONTAINS(e.msg, "missing/x");
}

TEST(test_read_file_enforces_limit)
{
	const char *dir = t_tmpdir();
	char path[600];
	snprintf(path, sizeof path, "%s/big", dir);
	struct err e;
	char data[5000];
	memset(data, 'a', sizeof data);
	CHECK_OK(fs_write_atomic(path, data, sizeof data, 0644, &e), &e);
	struct buf b = BUF_INIT;
	CHECK_FAILS(fs_read_file(path, 4096, &b, &e));
	CHECK_CONTAINS(e.msg, "larger than");
	buf_free(&b);
}

TEST(test_url_origin_drops_path_query_and_credentials)
{
	char o[128];
	log_url_origin("https://eth-sepolia.g.alchemy.com/v2/SECRETKEY?x=1", o, sizeof o);
	CHECK_EQ_STR(o, "https://eth-sepolia.g.alchemy.com");
	log_url_origin("http://user:pw@127.0.0.1:9200/path", o, sizeof o);
	CHECK_EQ_STR(o, "http://127.0.0.1:9200");
	log_url_origin("http://127.0.0.1:9200", o, sizeof o);
	CHECK_EQ_STR(o, "http://127.0.0.1:9200");
}

TEST(test_ratelog_one_line_per_window_with_suppressed_count)
{
	struct ratelog r = RATELOG_INIT;
	unsigned long dropped = 99;
	CHECK_EQ_INT(ratelog_allow(&r, 60000, &dropped), 1);
	CHECK_EQ_INT(dropped, 0);
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(ratelog_allow(&r, 60000, &dropped), 0);
	/* a zero window lets the next line through and reports the five */
	CHECK_EQ_INT(ratelog_allow(&r, 0, &dropped), 1);
	CHECK_EQ_INT(dropped, 5);
}
