/*
 * test_envfile.c — the shared VAR=value reader (src/util/envfile.c). Expected
 * pairs follow the grammar written in envfile.h (systemd EnvironmentFile
 * lines for --env-file and kmsctl verify, dotenv lines for ./.env), worked
 * out by hand from that text, not from the parser's output.
 */
#include "harness.h"

#include "util/envfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct got {
	char text[2048]; /* "K=V|" per assignment, lines as "@N" */
	int n;
	int stop_at; /* stop (error) at this assignment, 0 = never */
};

static int collect(void *ud, const char *k, const char *v, size_t lineno, struct err *err)
{
	struct got *g = ud;
	g->n++;
	size_t u = strlen(g->text);
	snprintf(g->text + u, sizeof g->text - u, "%s=%s@%zu|", k, v, lineno);
	if (g->stop_at && g->n == g->stop_at)
		return err_set(err, "stop at %s", k);
	return 0;
}

static int run(const char *src, int dotenv, int strict, struct got *g, struct err *err)
{
	memset(g, 0, sizeof *g);
	err_clear(err);
	size_t n = strlen(src);
	char *copy = malloc(n + 1);
	memcpy(copy, src, n + 1);
	struct envfile_opts o = {.dotenv = dotenv, .strict = strict};
	int rc = envfile_parse(copy, n, "test.env", &o, collect, g, err);
	free(copy);
	return rc;
}

TEST(test_envfile_plain_assignments_comments_and_blanks)
{
	struct got g;
	struct err err;
	CHECK_EQ_INT(run("# comment\n; also a comment\n\nHOST=127.0.0.1\n  PORT = 9200  \n"
			 "export ETH_RPC_URL=http://a:1\nEMPTY=\nLAST=no-newline",
			 0, 1, &g, &err),
		     0);
	CHECK_EQ_STR(g.text, "HOST=127.0.0.1@4|PORT=9200@5|ETH_RPC_URL=http://a:1@6|EMPTY=@7|"
			     "LAST=no-newline@8|");
}

TEST(test_envfile_crlf_lines)
{
	struct got g;
	struct err err;
	CHECK_EQ_INT(run("A=1\r\nB=\"two\"\r\n", 0, 1, &g, &err), 0);
	CHECK_EQ_STR(g.text, "A=1@1|B=two@2|");
}

TEST(test_envfile_quotes_and_escapes)
{
	struct got g;
	struct err err;
	/* double quotes: \n is a newline, \X is X; single quotes keep all;
	 * the value ends at the LAST quote of the line */
	CHECK_EQ_INT(
	    run("D=\"a\\nb \\\"q\\\" \\\\ c\"\nS='x\\ny'\nL=\"a\"b\"\nU=\"open\n", 0, 1, &g, &err),
	    0);
	CHECK_EQ_STR(g.text, "D=a\nb \"q\" \\ c@1|S=x\\ny@2|L=a\"b@3|U=\"open@4|");
}

TEST(test_envfile_hash_is_a_comment_only_in_dotenv)
{
	struct got g;
	struct err err;
	const char *src = "URL=http://h/#frag # note\nQ=\"v#1\" # note\n";
	CHECK_EQ_INT(run(src, 0, 0, &g, &err), 0);
	/* systemd: the whole raw value; a quoted value followed by text is raw */
	CHECK_EQ_STR(g.text, "URL=http://h/#frag # note@1|Q=\"v#1\" # note@2|");
	CHECK_EQ_INT(run(src, 1, 0, &g, &err), 0);
	CHECK_EQ_STR(g.text, "URL=http://h/@1|Q=v#1@2|");
}

TEST(test_envfile_strict_names_file_and_line)
{
	struct got g;
	struct err err;
	CHECK_EQ_INT(run("PORT=9200\nGARBAGE LINE\nX=1\n", 0, 1, &g, &err), -1);
	CHECK_EQ_STR(err.msg, "test.env:2: not a VAR=value line");
	CHECK_EQ_STR(g.text, "PORT=9200@1|");
	CHECK_EQ_INT(run("1X=a\n", 0, 1, &g, &err), -1);
	CHECK_EQ_STR(err.msg, "test.env:1: not a VAR=value line");
	CHECK_EQ_INT(run("A-B=a\n", 0, 1, &g, &err), -1);
	CHECK_EQ_INT(run("=a\n", 0, 1, &g, &err), -1);
}

TEST(test_envfile_lenient_skips_malformed_lines)
{
	struct got g;
	struct err err;
	CHECK_EQ_INT(run("PORT=9200\nGARBAGE LINE\nexport\nX=1\n", 1, 0, &g, &err), 0);
	CHECK_EQ_STR(g.text, "PORT=9200@1|X=1@4|");
}

TEST(test_envfile_refuses_nul_and_stops_on_callback_error)
{
	struct got g;
	struct err err;
	char src[] = "A=1\nB=\0x\n";
	struct envfile_opts o = {0, 1};
	memset(&g, 0, sizeof g);
	err_clear(&err);
	CHECK_EQ_INT(envfile_parse(src, sizeof src - 1, "n.env", &o, collect, &g, &err), -1);
	CHECK_EQ_STR(err.msg, "env file n.env: contains a NUL byte");
	CHECK_EQ_INT(g.n, 0);
	memset(&g, 0, sizeof g);
	g.stop_at = 2;
	char src2[] = "A=1\nB=2\nC=3\n";
	CHECK_EQ_INT(envfile_parse(src2, strlen(src2), "s.env", &o, collect, &g, &err), -1);
	CHECK_EQ_STR(err.msg, "stop at B");
	CHECK_EQ_STR(g.text, "A=1@1|B=2@2|");
}

TEST(test_envfile_load_reads_a_file_and_names_a_missing_one)
{
	char path[] = "/tmp/envfile-test-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	const char *text = "KMS_CONTRACT_ADDR=0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0\n";
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	struct got g;
	memset(&g, 0, sizeof g);
	struct err err;
	err_clear(&err);
	struct envfile_opts o = {0, 1};
	int rc = envfile_load(path, 4096, &o, collect, &g, &err);
	unlink(path);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_STR(g.text, "KMS_CONTRACT_ADDR=0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0@1|");
	CHECK_EQ_INT(envfile_load(path, 4096, &o, collect, &g, &err), -1);
	CHECK_CONTAINS(err.msg, path);
}
