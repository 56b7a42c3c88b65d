/*
 * test_envfile.c — the shared env-file reader (util/envfile.h): each rule of
 * the documented grammar in both modes, strict errors with the line number,
 * NUL bytes refused. Expected values are written from the grammar in the
 * header, one case per rule.
 */
#include "harness.h"

#include "util/buf.h"
#include "util/envfile.h"
#include "util/fs.h"

#include <stdio.h>
#include <string.h>

struct got {
	char text[2048];
};

static int collect(void *ud, const char *name, const char *value, size_t lineno, struct err *err)
{
	(void)err;
	struct got *g = ud;
	size_t n = strlen(g->text);
	snprintf(g->text + n, sizeof g->text - n, "%zu:%s=[%s];", lineno, name, value);
	return 0;
}

static int run(const char *content, size_t len, int dotenv, int strict, struct got *g,
	       struct err *err)
{
	char path[512];
	snprintf(path, sizeof path, "%s/e.env", t_tmpdir());
	if (fs_write_atomic(path, content, len, 0600, err) < 0)
		return -1;
	memset(g, 0, sizeof *g);
	return envfile_read(path, dotenv, strict, collect, g, err);
}

static const char FILE1[] = "# comment\n"
			    "; also a comment\n"
			    "\n"
			    "A=1\n"
			    "export B = two words  \n"
			    "C=\"q \\\"x\\\" \\n\\\\\"\n"
			    "D='single \\n'\n"
			    "E=val # tail\n"
			    "F=\"quoted\" # tail\n"
			    "G=\r\n";

TEST(test_envfile_systemd_mode)
{
	struct got g;
	struct err err;
	CHECK_OK(run(FILE1, sizeof FILE1 - 1, 0, 1, &g, &err), &err);
	CHECK_EQ_STR(g.text, "4:A=[1];5:B=[two words];6:C=[q \"x\" \n\\];7:D=[single \\n];"
			     "8:E=[val # tail];9:F=[\"quoted\" # tail];10:G=[];");
}

TEST(test_envfile_dotenv_mode)
{
	struct got g;
	struct err err;
	CHECK_OK(run(FILE1, sizeof FILE1 - 1, 1, 1, &g, &err), &err);
	CHECK_EQ_STR(g.text, "4:A=[1];5:B=[two words];6:C=[q \"x\" \n\\];7:D=[single \\n];"
			     "8:E=[val];9:F=[quoted];10:G=[];");
}

TEST(test_envfile_strict_and_lenient)
{
	static const char bad[] = "A=1\nnot an assignment\n1X=2\nB=3\n";
	struct got g;
	struct err err;
	CHECK(run(bad, sizeof bad - 1, 0, 1, &g, &err) < 0);
	CHECK_MSG(strstr(err.msg, "e.env:2: not a VAR=value line"), "%s", err.msg);
	CHECK_OK(run(bad, sizeof bad - 1, 1, 0, &g, &err), &err);
	CHECK_EQ_STR(g.text, "1:A=[1];4:B=[3];");
}

TEST(test_envfile_nul_refused)
{
	static const char nul[] = "A=1\0\nB=2\n";
	struct got g;
	struct err err;
	CHECK(run(nul, sizeof nul - 1, 0, 0, &g, &err) < 0);
	CHECK_MSG(strstr(err.msg, "contains a NUL byte"), "%s", err.msg);
}
