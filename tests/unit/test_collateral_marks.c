/*
 * test_collateral_marks.c — collateral rollback protection of the collateral
 * source (src/collateral/collateral_marks.c, collateral_source.c): the marks
 * file in the cache directory, refusal of collateral whose
 * tcbEvaluationDataNumber is below a mark from the PCCS and from the cache.
 * Collateral with chosen numbers is signed by a simtee PKI (`simtee collateral
 * --tcb-eval-number N`) and served by `simtee serve --collateral FILE`, so a
 * refusal is the rollback rule, never a broken signature. Skipped (with a
 * note) when build/tests/simtee is not built.
 */
#include "harness.h"

#include "attest/dcap.h"
#include "collateral/collateral_source.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIMTEE "build/tests/simtee"
#define NOW 1768435200 /* 2026-01-15 */
#define FMSPC "90C06F000000"
#define CACHE_FILE "tdx-" FMSPC "-platform.json"
#define MARKS "tcb-eval-marks.json"

static int run(char *const argv[])
{
	pid_t pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_WRONLY);
		if (nul >= 0) {
			dup2(nul, 1);
			dup2(nul, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* One PKI and its collateral files, made once. */
static char g_dir[512];
static int g_ready;

static const char *path_in(const char *name)
{
	static char p[4][700];
	static int k;
	char *o = p[k++ % 4];
	snprintf(o, 700, "%s/%s", g_dir, name);
	return o;
}

static int make_collateral(const char *name, const char *tcb, const char *qe, long long now)
{
	char pki[700], out[700], nowarg[32];
	snprintf(pki, sizeof pki, "%s", path_in("pki"));
	snprintf(out, sizeof out, "%s", path_in(name));
	snprintf(nowarg, sizeof nowarg, "%lld", now);
	char *argv[] = {SIMTEE,
			"collateral",
			"--pki",
			pki,
			"--now",
			nowarg,
			"--tcb-eval-number",
			(char *)tcb,
			qe ? "--qe-tcb-eval-number" : NULL,
			(char *)qe,
			"--out",
			out,
			NULL};
	if (!qe) {
		argv[8] = "--out";
		argv[9] = out;
		argv[10] = NULL;
	}
	return run(argv);
}

static int setup(void)
{
	if (g_ready)
		return g_ready > 0;
	g_ready = -1;
	if (access(SIMTEE, X_OK) != 0) {
		fprintf(stderr, "note: %s not built; rollback tests skipped\n", SIMTEE);
		return 0;
	}
	snprintf(g_dir, sizeof g_dir, "%s", t_tmpdir());
	char pki[700];
	snprintf(pki, sizeof pki, "%s", path_in("pki"));
	char *pki_argv[] = {
	    SIMTEE,   "pki",
	    "--seed", "2222222222222222222222222222222222222222222222222222222222222222",
	    "--out",  pki,
	    NULL};
	if (run(pki_argv) != 0 || make_collateral("c16.json", "16", NULL, NOW) != 0 ||
	    make_collateral("c17.json", "17", NULL, NOW) != 0 ||
	    make_collateral("c17b.json", "17", NULL, NOW + 3600) != 0 ||
	    make_collateral("c18.json", "18", NULL, NOW) != 0 ||
	    make_collateral("c17qe16.json", "17", "16", NOW) != 0)
		return 0;
	g_ready = 1;
	return 1;
}

/* A mock PCCS serving the file "served.json" (re-read on every request). */
struct pccs {
	pid_t pid;
	char url[64];
};

static int serve(const char *collateral, struct err *err)
{
	struct buf b = BUF_INIT;
	int rc = fs_read_file(path_in(collateral), 1 << 20, &b, err);
	if (rc == 0)
		rc = fs_write_atomic(path_in("served.json"), b.p, b.len, 0644, err);
	buf_free(&b);
	return rc;
}

static int pccs_start(struct pccs *p)
{
	char served[700], portfile[700], port[32] = "";
	snprintf(served, sizeof served, "%s", path_in("served.json"));
	snprintf(portfile, sizeof portfile, "%s", path_in("port"));
	unlink(portfile);
	p->pid = fork();
	if (p->pid == 0) {
		int nul = open("/dev/null", O_WRONLY);
		if (nul >= 0) {
			dup2(nul, 1);
			dup2(nul, 2);
		}
		execl(SIMTEE, SIMTEE, "serve", "--collateral", served, "--port", "0", "--port-file",
		      portfile, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 250 && !port[0]; i++) {
		FILE *f = fopen(portfile, "r");
		if (f) {
			if (!fgets(port, sizeof port, f))
				port[0] = '\0';
			fclose(f);
		}
		if (!port[0])
			usleep(20000);
	}
	snprintf(p->url, sizeof p->url, "http://127.0.0.1:%d", atoi(port));
	return port[0] ? 0 : -1;
}

static void pccs_stop(struct pccs *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		waitpid(p->pid, NULL, 0);
	}
	p->pid = 0;
}

static int64_t fixed_clock(void *arg)
{
	return *(int64_t *)arg;
}
static int64_t g_now = NOW;

static struct dcap_verifier *g_v;
static struct buf g_anchor;

static struct collateral_source *source(const char *url, const char *cache, struct err *err)
{
	if (!g_v) {
		if (fs_read_file(path_in("pki/root_ca.der"), 1 << 16, &g_anchor, err) < 0)
			return NULL;
		g_v = dcap_verifier_new(g_anchor.p, g_anchor.len, err);
		if (!g_v)
			return NULL;
	}
	struct collateral_source_opts o = {
	    .pccs_url = url,
	    .anchor_der = g_anchor.p,
	    .anchor_len = g_anchor.len,
	    .cache_dir = cache,
	    .connect_timeout_ms = 2000,
	    .timeout_ms = 3000,
	    .fail_cooldown_s = -1,
	    .clock = fixed_clock,
	    .clock_arg = &g_now,
	};
	return collateral_source_new(&o, g_v, err);
}

static const struct collateral_source_key KEY = {{0x90, 0xc0, 0x6f, 0, 0, 0},
						 COLLATERAL_SOURCE_CA_PLATFORM};

static int get(struct collateral_source *s, struct err *err)
{
	struct dcap_loaded *l = NULL;
	int rc = collateral_source_get_key(s, &KEY, NOW, &l, err);
	dcap_loaded_release(l);
	return rc;
}

/* The cache file's TCB info holds tcbEvaluationDataNumber n. */
static int cache_has(const char *cache, int n)
{
	char path[700], want[64];
	struct buf b = BUF_INIT;
	struct err err;
	snprintf(path, sizeof path, "%s/%s", cache, CACHE_FILE);
	snprintf(want, sizeof want, "\\\"tcbEvaluationDataNumber\\\":%d,", n);
	int ok = fs_read_file(path, 8 << 20, &b, &err) == 0 && strstr((char *)b.p, want);
	buf_free(&b);
	return ok;
}

static int no_temp_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int ok = d != NULL;
	while (d && (de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".tmp-"))
			ok = 0;
	if (d)
		closedir(d);
	return ok;
}

static int read_text(const char *dir, const char *name, struct buf *b)
{
	char path[700];
	struct err err;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	buf_reset(b);
	return fs_read_file(path, 1 << 20, b, &err);
}

static void fresh_cache(char *out, size_t n)
{
	snprintf(out, n, "%s", t_tmpdir());
}

#define SETUP_OR_SKIP()                                                                            \
	do {                                                                                       \
		if (!setup())                                                                      \
			return;                                                                    \
	} while (0)

TEST(test_collateral_marks_newer_number_raises_the_mark_and_survives_a_restart)
{
	SETUP_OR_SKIP();
	struct err err;
	struct pccs p = {0};
	char cache[512];
	struct buf text = BUF_INIT;
	fresh_cache(cache, sizeof cache);
	CHECK_OK(serve("c17.json", &err), &err);
	CHECK(pccs_start(&p) == 0);
	struct collateral_source *s = source(p.url, cache, &err);
	CHECK_MSG(s, "%s", err.msg);
	CHECK_OK(get(s, &err), &err);
	CHECK_EQ_INT(read_text(cache, MARKS, &text), 0);
	CHECK_CONTAINS((char *)text.p, "\"" FMSPC "\": 17");
	CHECK_CONTAINS((char *)text.p, "\"qe_identity\": 17");
	CHECK(no_temp_files(cache));
	struct stat st;
	char mp[700];
	snprintf(mp, sizeof mp, "%s/%s", cache, MARKS);
	CHECK(stat(mp, &st) == 0 && (st.st_mode & 0777) == 0640);

	/* a newer number from the PCCS (refresh) raises it */
	CHECK_OK(serve("c18.json", &err), &err);
	struct collateral_source_info info;
	CHECK_OK(collateral_source_info(s, &KEY, NOW, &info), &err);
	g_now = info.next_refresh;
	CHECK_EQ_INT(collateral_source_refresh_due(s, g_now), 1);
	g_now = NOW;
	CHECK_OK(collateral_source_info(s, &KEY, NOW, &info), &err);
	CHECK_EQ_STR(info.last_error, "");
	CHECK(cache_has(cache, 18));
	CHECK_EQ_INT(read_text(cache, MARKS, &text), 0);
	CHECK_CONTAINS((char *)text.p, "\"" FMSPC "\": 18");
	CHECK_CONTAINS((char *)text.p, "\"qe_identity\": 18");
	CHECK(no_temp_files(cache));
	collateral_source_free(s);

	/* restart: the mark came back from the file, so 17 is refused now */
	char cf[700];
	snprintf(cf, sizeof cf, "%s/%s", cache, CACHE_FILE);
	CHECK(unlink(cf) == 0);
	CHECK_OK(serve("c17.json", &err), &err);
	s = source(p.url, cache, &err);
	CHECK_MSG(s, "%s", err.msg);
	CHECK_FAILS(get(s, &err));
	CHECK_CONTAINS(err.msg, "collateral rollback: TCB info for FMSPC " FMSPC
				" has tcbEvaluationDataNumber 17, below 18 accepted before");
	collateral_source_free(s);
	pccs_stop(&p);
	buf_free(&text);
}

TEST(test_collateral_marks_older_pccs_answer_is_refused_and_the_cache_keeps_the_newer)
{
	SETUP_OR_SKIP();
	struct err err;
	struct pccs p = {0};
	char cache[512];
	struct buf before = BUF_INIT, after = BUF_INIT;
	fresh_cache(cache, sizeof cache);
	CHECK_OK(serve("c17.json", &err), &err);
	CHECK(pccs_start(&p) == 0);
	struct collateral_source *s = source(p.url, cache, &err);
	CHECK_MSG(s, "%s", err.msg);
	CHECK_OK(get(s, &err), &err);
	CHECK_EQ_INT(read_text(cache, CACHE_FILE, &before), 0);

	/* the host's PCCS answers the refresh with older collateral */
	CHECK_OK(serve("c16.json", &err), &err);
	struct collateral_source_info info;
	CHECK_OK(collateral_source_info(s, &KEY, NOW, &info), &err);
	int64_t until = info.valid_until;
	g_now = info.next_refresh;
	CHECK_EQ_INT(collateral_source_refresh_due(s, g_now), 1);
	g_now = NOW;
	CHECK_OK(collateral_source_info(s, &KEY, NOW, &info), &err);
	CHECK_CONTAINS(info.last_error,
		       "collateral rollback: TCB info for FMSPC " FMSPC
		       " has tcbEvaluationDataNumber 16, below 17 accepted before");
	CHECK(!strstr(info.last_error, "signature"));
	CHECK(info.usable && info.valid_until == until); /* the newer one stays in use */
	CHECK_EQ_INT(info.failures, 1);
	CHECK_EQ_INT(read_text(cache, CACHE_FILE, &after), 0);
	CHECK(before.len == after.len && memcmp(before.p, after.p, before.len) == 0);
	CHECK(cache_has(cache, 17));
	CHECK_OK(get(s, &err), &err);
	collateral_source_free(s);

	/* on the request path too: no usable copy, the PCCS answer is refused
	 * and not written to the cache */
	char cf[700];
	snprintf(cf, sizeof cf, "%s/%s", cache, CACHE_FILE);
	CHECK(unlink(cf) == 0);
	s = source(p.url, cache, &err);
	CHECK_MSG(s, "%s", err.msg);
	CHECK_FAILS(get(s, &err));
	CHECK_CONTAINS(err.msg, "refused: collateral rollback: TCB info for FMSPC " FMSPC
				" has tcbEvaluationDataNumber 16, below 17 accepted before");
	CHECK(access(cf, F_OK) != 0);
	collateral_source_free(s);
	pccs_stop(&p);
	buf_free(&before);
	buf_free(&after);
}

/* Plants collateral (plain QuoteCollateralV3 JSON, as pre-filled) in the cache. */
static int plant(const char *cache, const char *collateral, struct err *err)
{
	struct buf b = BUF_INIT;
	char path[700];
	snprintf(path, sizeof path, "%s/%s", cache, CACHE_FILE);
	int rc = fs_read_file(path_in(collateral), 1 << 20, &b, err);
	if (rc == 0)
		rc = fs_write_atomic(path, b.p, b.len, 0644, err);
	buf_free(&b);
	return rc;
}

TEST(test_collateral_marks_older_collateral_planted_in_the_cache_is_refused)
{
	SETUP_OR_SKIP();
	struct err err;
	struct pccs p = {0};
	char cache[512];
	fresh_cache(cache, sizeof cache);
	CHECK_OK(serve("c17.json", &err), &err);
	CHECK(pccs_start(&p) == 0);
	struct collateral_source *s = source(p.url, cache, &err);
	CHECK_MSG(s, "%s", err.msg);
	CHECK_OK(get(s, &err), &err);
	collateral_source_free(s);
	pccs_stop(&p); /* the PCCS is down from here */

	/* TCB info below the mark */
	CHECK_OK(plant(cache, "c16.json", &err), &err);
	s = source(p.url, cache, &err);
	CHECK_MSG(s, "%s", err.msg);
	CHECK_FAILS(get(s, &err));
	CHECK_CONTAINS(err.msg,
		       "the cached copy was refused: collateral rollback: TCB info for "
		       "FMSPC " FMSPC " has tcbEvaluationDataNumber 16, below 17 accepted before");
	collateral_source_free(s);

	/* start() (preload) refuses it too: nothing is held */
	s = source(p.url, cache, &err);
	CHECK_OK(collateral_source_start(s, &err), &err);
	collateral_source_stop(s);
	struct collateral_source_info info;
	CHECK_OK(collateral_source_info(s, &KEY, NOW, &info), &err);
	CHECK(!info.usable);
	collateral_source_free(s);

	/* QE identity below its mark, TCB info equal */
	CHECK_OK(plant(cache, "c17qe16.json", &err), &err);
	s = source(p.url, cache, &err);
	CHECK_MSG(s, "%s", err.msg);
	CHECK_FAILS(get(s, &err));
	CHECK_CONTAINS(err.msg, "collateral rollback: QE identity has tcbEvaluationDataNumber "
				"16, below 17 accepted before");
	collateral_source_free(s);

	/* the right one planted is used */
	CHECK_OK(plant(cache, "c17.json", &err), &err);
	s = source(p.url, cache, &err);
	CHECK_OK(get(s, &err), &err);
	collateral_source_free(s);
}

TEST(test_collateral_marks_equal_number_is_accepted)
{
	SETUP_OR_SKIP();
	struct err err;
	struct pccs p = {0};
	char cache[512];
	fresh_cache(cache, sizeof cache);
	CHECK_OK(serve("c17.json", &err), &err);
	CHECK(pccs_start(&p) == 0);
	struct collateral_source *s = source(p.url, cache, &err);
	CHECK_MSG(s, "%s", err.msg);
	CHECK_OK(get(s, &err), &err);
	/* another collateral set with the same number (it ends an hour later) */
	CHECK_OK(serve("c17b.json", &err), &err);
	struct collateral_source_info info;
	CHECK_OK(collateral_source_info(s, &KEY, NOW, &info), &err);
	int64_t until = info.valid_until;
	g_now = info.next_refresh;
	CHECK_EQ_INT(collateral_source_refresh_due(s, g_now), 1);
	g_now = NOW;
	CHECK_OK(collateral_source_info(s, &KEY, NOW, &info), &err);
	CHECK_EQ_STR(info.last_error, "");
	CHECK_EQ_INT(info.valid_until, until + 3600);
	collateral_source_free(s);
	/* and from the cache after a restart */
	s = source(p.url, cache, &err);
	CHECK_MSG(s, "%s", err.msg);
	CHECK_OK(get(s, &err), &err);
	struct collateral_source_stats st;
	collateral_source_stats(s, &st);
	CHECK_EQ_INT(st.disk_loads, 1);
	collateral_source_free(s);
	pccs_stop(&p);
}

TEST(test_collateral_marks_corrupt_file_stops_start_naming_it)
{
	SETUP_OR_SKIP();
	static const char *const bad[] = {
	    "",
	    "{\"format\":\"dstack-kms tcb evaluation marks v1\",\"tcb_info\":{\"90C06F000000\":1",
	    "{\"format\":\"dstack-kms tcb evaluation marks "
	    "v1\",\"tcb_info\":{\"90C06F000000\":-1}}",
	    "{\"format\":\"dstack-kms tcb evaluation marks v1\",\"tcb_info\":{\"90c06f000000\":1}}",
	    "{\"format\":\"dstack-kms tcb evaluation marks v1\",\"tcb_info\":{\"90C06F\":1}}",
	    "{\"format\":\"dstack-kms tcb evaluation marks v1\",\"tcb_info\":{\"90C06F000000\":1,"
	    "\"90C06F000000\":2}}",
	    "{\"format\":\"dstack-kms tcb evaluation marks v1\",\"tcb_info\":{},\"x\":1}",
	    "{\"format\":\"v0\",\"tcb_info\":{}}",
	    "{\"format\":\"dstack-kms tcb evaluation marks v1\",\"qe_identity\":4294967296,"
	    "\"tcb_info\":{}}",
	    "{\"format\":\"dstack-kms tcb evaluation marks v1\"}",
	};
	struct err err;
	char cache[512], path[700];
	struct buf text = BUF_INIT;
	fresh_cache(cache, sizeof cache);
	snprintf(path, sizeof path, "%s/%s", cache, MARKS);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_OK(fs_write_atomic(path, bad[i], strlen(bad[i]), 0640, &err), &err);
		struct collateral_source *s = source("http://127.0.0.1:9", cache, &err);
		CHECK_MSG(!s, "case %zu accepted", i);
		CHECK_CONTAINS(err.msg, path);
		CHECK_CONTAINS(err.msg, "corrupt");
		/* never reset */
		CHECK_EQ_INT(read_text(cache, MARKS, &text), 0);
		CHECK_EQ_INT(text.len, strlen(bad[i]));
	}
	/* a well-formed one starts */
	const char *good = "{\"format\":\"dstack-kms tcb evaluation marks v1\",\"qe_identity\":3,"
			   "\"tcb_info\":{\"90C06F000000\":17}}";
	CHECK_OK(fs_write_atomic(path, good, strlen(good), 0640, &err), &err);
	struct collateral_source *s = source("http://127.0.0.1:9", cache, &err);
	CHECK_MSG(s, "%s", err.msg);
	collateral_source_free(s);
	buf_free(&text);
}

TEST(test_collateral_source_cache_dir_is_0750_and_refused_when_group_writable)
{
	SETUP_OR_SKIP();
	struct err err;
	char cache[600];
	struct stat st;
	snprintf(cache, sizeof cache, "%s/new/collateral", t_tmpdir());
	mode_t old = umask(022);
	struct collateral_source *s = source("http://127.0.0.1:9", cache, &err);
	umask(old);
	CHECK_MSG(s, "%s", err.msg);
	collateral_source_free(s);
	CHECK(stat(cache, &st) == 0);
	CHECK_EQ_INT(st.st_mode & 0777, 0750);
	CHECK(chmod(cache, 0770) == 0);
	CHECK(source("http://127.0.0.1:9", cache, &err) == NULL);
	CHECK_CONTAINS(err.msg, "writable by its group or by others (mode 0770)");
	CHECK(chmod(cache, 0757) == 0);
	CHECK(source("http://127.0.0.1:9", cache, &err) == NULL);
}
