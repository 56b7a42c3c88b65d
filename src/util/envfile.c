/*
 * envfile.c — environment-file grammar and reader (envfile.h).
 */
#include "util/envfile.h"

#include "util/buf.h"
#include "util/fs.h"

#include <string.h>

static int key_char(char c, int first)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_')
		return 1;
	return !first && c >= '0' && c <= '9';
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Parses one line in place; *key = NULL for blank and comment lines. */
static int parse_line(char *line, int dotenv, char **key, char **val)
{
	*key = NULL;
	char *p = line;
	while (is_blank(*p))
		p++;
	if (!*p || *p == '#' || *p == ';')
		return 0;
	if (strncmp(p, "export ", 7) == 0)
		for (p += 7; is_blank(*p); p++)
			;
	char *k = p;
	if (!key_char(*p, 1))
		return -1;
	while (key_char(*p, 0))
		p++;
	char *kend = p;
	while (is_blank(*p))
		p++;
	if (*p != '=')
		return -1;
	*kend = '\0';
	p++;
	while (is_blank(*p))
		p++;
	char *v = p;
	size_t n = strlen(v);
	if (n >= 2 && (v[0] == '"' || v[0] == '\'')) {
		char q = v[0];
		char *close = strrchr(v + 1, q);
		if (close) {
			char *after = close + 1;
			while (is_blank(*after))
				after++;
			if (!*after || (dotenv && *after == '#')) {
				*close = '\0';
				v++;
				if (q == '"') { /* \" \\ \n escapes */
					char *w = v;
					for (char *r = v; *r; r++) {
						if (*r == '\\' && r[1]) {
							r++;
							*w++ = *r == 'n' ? '\n' : *r;
						} else {
							*w++ = *r;
						}
					}
					*w = '\0';
				}
				*key = k;
				*val = v;
				return 0;
			}
		}
	}
	if (dotenv) {
		char *hash = strchr(v, '#');
		if (hash)
			*hash = '\0';
	}
	n = strlen(v);
	while (n && is_blank(v[n - 1]))
		v[--n] = '\0';
	*key = k;
	*val = v;
	return 0;
}

int envfile_read(const char *path, int dotenv, int strict, envfile_fn fn, void *ud, struct err *err)
{
	struct buf b;
	buf_init_secret(&b);
	if (fs_read_file(path, ENVFILE_MAX, &b, err) < 0) {
		buf_free(&b);
		return -1; /* the message names the file */
	}
	if (b.len && memchr(b.p, '\0', b.len)) {
		buf_free(&b);
		return err_set(err, "env file %s: contains a NUL byte", path);
	}
	char *s = (char *)b.p;
	int rc = 0;
	size_t lineno = 0;
	for (char *line = s; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		lineno++;
		char *k, *v;
		if (parse_line(line, dotenv, &k, &v) < 0) {
			if (strict) {
				rc = err_set(err, "%s:%zu: not a VAR=value line", path, lineno);
				break;
			}
		} else if (k && fn(ud, k, v, lineno, err) < 0) {
			rc = -1;
			break;
		}
		line = nl ? nl + 1 : NULL;
	}
	buf_free(&b);
	return rc;
}
