/*
 * envfile.c — VAR=value environment files (grammar in envfile.h). Lines are
 * cut with a bounded reader; each line is then parsed in place. The file's
 * bytes are held in a secret buffer (wiped when freed) because env files
 * carry RPC API keys; no value ever appears in an error message.
 */
#include "util/envfile.h"

#include "util/buf.h"
#include "util/fs.h"
#include "util/reader.h"

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

/* A quoted value starting at v (v[0] is the quote): 1 and *out when the line
 * has that shape, else 0 (the caller reads it raw). */
static int quoted_value(char *v, int dotenv, char **out)
{
	char q = v[0];
	if (strlen(v) < 2)
		return 0;
	char *close = strrchr(v + 1, q);
	if (!close)
		return 0;
	char *after = close + 1;
	while (is_blank(*after))
		after++;
	if (*after && !(dotenv && *after == '#'))
		return 0;
	*close = '\0';
	v++;
	if (q == '"') {
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
	*out = v;
	return 1;
}

/* One NUL-terminated line: 0 with *key = NULL (blank or comment), 0 with
 * *key and *val, or -1 when malformed. */
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
	if ((v[0] == '"' || v[0] == '\'') && quoted_value(v, dotenv, val)) {
		*key = k;
		return 0;
	}
	if (dotenv) {
		char *hash = strchr(v, '#');
		if (hash)
			*hash = '\0';
	}
	size_t n = strlen(v);
	while (n && is_blank(v[n - 1]))
		v[--n] = '\0';
	*key = k;
	*val = v;
	return 0;
}

int envfile_parse(char *text, size_t len, const char *name, const struct envfile_opts *o,
		  envfile_fn fn, void *ud, struct err *err)
{
	if (len && memchr(text, '\0', len))
		return err_set(err, "env file %s: contains a NUL byte", name);
	struct reader r;
	reader_init(&r, text, len);
	size_t lineno = 0;
	while (rd_left(&r) > 0) {
		lineno++;
		const uint8_t *start = r.p + r.off;
		const uint8_t *nl = memchr(start, '\n', rd_left(&r));
		size_t n = nl ? (size_t)(nl - start) : rd_left(&r);
		const uint8_t *bytes;
		if (rd_bytes(&r, n, &bytes) < 0 || (nl && rd_skip(&r, 1) < 0))
			return err_set(err, "%s:%zu: line runs past the end", name, lineno);
		/* the line's LF becomes its NUL (the last line ends at text[len],
		 * a NUL by contract) and is put back afterwards */
		char *line = text + (bytes - (const uint8_t *)text);
		char saved = nl ? '\n' : '\0';
		if (nl)
			line[n] = '\0';
		char *k, *v;
		int rc = 0;
		if (parse_line(line, o->dotenv, &k, &v) < 0) {
			if (o->strict)
				rc = err_set(err, "%s:%zu: not a VAR=value line", name, lineno);
		} else if (k) {
			rc = fn(ud, k, v, lineno, err);
		}
		if (nl)
			line[n] = saved;
		if (rc < 0)
			return -1;
	}
	return 0;
}

int envfile_load(const char *path, size_t max_bytes, const struct envfile_opts *o, envfile_fn fn,
		 void *ud, struct err *err)
{
	struct buf b;
	buf_init_secret(&b);
	int rc = fs_read_file(path, max_bytes, &b, err);
	if (rc == 0)
		rc = envfile_parse((char *)b.p, b.len, path, o, fn, ud, err);
	buf_free(&b);
	return rc;
}
