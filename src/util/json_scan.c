/*
 * json_scan.c — the JSON tokenizer and json_scan_cut (json_scan.h).
 */
#include "util/json_scan.h"

#include "util/hex.h"
#include "util/secret.h"
#include "util/utf8.h"

#include <string.h>

#define CUT_MAX_DEPTH 128

void json_scan_init(struct json_scan *p, const void *s, size_t len, int max_depth, struct err *err)
{
	memset(p, 0, sizeof *p);
	p->s = s;
	p->len = len;
	p->depth_left = max_depth;
	p->err = err;
	buf_init_secret(&p->scratch);
}

void json_scan_done(struct json_scan *p)
{
	buf_free(&p->scratch);
}

int json_scan_fail(struct json_scan *p, const char *what)
{
	size_t line = 1, col = 1;
	for (size_t i = 0; i < p->pos && i < p->len; i++) {
		if (p->s[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	return err_set(p->err, "invalid JSON: %s at line %zu column %zu", what, line, col);
}

/* A structural error, or serde_json's EOF wording when the input ended. */
int json_scan_fail_in(struct json_scan *p, int in_object, const char *what)
{
	if (p->pos >= p->len)
		return json_scan_fail(p, in_object ? "EOF while parsing an object"
						   : "EOF while parsing a list");
	return json_scan_fail(p, what);
}

int json_scan_peek(struct json_scan *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
				   p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
	return p->pos < p->len ? p->s[p->pos] : -1;
}

int json_scan_enter(struct json_scan *p)
{
	if (--p->depth_left <= 0)
		return json_scan_fail(p, "recursion limit exceeded");
	return 0;
}

void json_scan_scratch_clear(struct json_scan *p)
{
	if (p->scratch.p)
		secret_wipe(p->scratch.p, p->scratch.len + 1);
	p->scratch.len = 0;
}

int json_scan_literal(struct json_scan *p, const char *lit)
{
	size_t n = strlen(lit);
	if (p->len - p->pos < n || memcmp(p->s + p->pos, lit, n) != 0)
		return json_scan_fail(p, "expected ident");
	p->pos += n;
	return 0;
}

int json_scan_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* JSON number grammar; classifies like serde_json: a fraction or exponent,
 * `-0`, u64 overflow or a negative below i64::MIN make a floating point. */
int json_scan_number(struct json_scan *p, struct json_num *n)
{
	memset(n, 0, sizeof *n);
	n->start = p->pos;
	int overflow = 0;
	if (p->pos < p->len && p->s[p->pos] == '-') {
		n->neg = 1;
		p->pos++;
	}
	if (p->pos >= p->len || !json_scan_is_digit(p->s[p->pos]))
		return json_scan_fail(p, "invalid number");
	if (p->s[p->pos] == '0') {
		p->pos++;
		if (p->pos < p->len && json_scan_is_digit(p->s[p->pos]))
			return json_scan_fail(p, "invalid number");
	} else {
		while (p->pos < p->len && json_scan_is_digit(p->s[p->pos])) {
			unsigned d = p->s[p->pos++] - '0';
			if (n->mag > (UINT64_MAX - d) / 10)
				overflow = 1;
			else
				n->mag = n->mag * 10 + d;
		}
	}
	if (p->pos < p->len && p->s[p->pos] == '.') {
		p->pos++;
		if (p->pos >= p->len || !json_scan_is_digit(p->s[p->pos]))
			return json_scan_fail(p, "invalid number");
		while (p->pos < p->len && json_scan_is_digit(p->s[p->pos]))
			p->pos++;
		n->is_float = 1;
	}
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		if (p->pos >= p->len || !json_scan_is_digit(p->s[p->pos]))
			return json_scan_fail(p, "invalid number");
		while (p->pos < p->len && json_scan_is_digit(p->s[p->pos]))
			p->pos++;
		n->is_float = 1;
	}
	if (overflow || (n->neg && (n->mag == 0 || n->mag > (uint64_t)INT64_MAX + 1)))
		n->is_float = 1;
	n->end = p->pos;
	return 0;
}

static int hex4(struct json_scan *p, unsigned *cp)
{
	if (p->len - p->pos < 4)
		return json_scan_fail(p, "EOF while parsing a string");
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int d = hex_nibble((unsigned char)p->s[p->pos + i]);
		if (d < 0)
			return json_scan_fail(p, "invalid escape");
		v = v << 4 | (unsigned)d;
	}
	p->pos += 4;
	*cp = v;
	return 0;
}

static int put_utf8(struct buf *out, unsigned cp)
{
	uint8_t b[4];
	return buf_append(out, b, utf8_encode(cp, b));
}

/* A JSON string at p->pos ('"'); decoded UTF-8 appended to out (NULL: only validated). */
int json_scan_string(struct json_scan *p, struct buf *out)
{
	p->pos++;
	size_t run = p->pos;
	for (;;) {
		if (p->pos >= p->len)
			return json_scan_fail(p, "EOF while parsing a string");
		unsigned char c = p->s[p->pos];
		if (c != '"' && c != '\\' && c >= 0x20) {
			size_t k = utf8_seq_len(p->s + p->pos, p->len - p->pos);
			if (!k)
				return json_scan_fail(p, "invalid unicode code point");
			p->pos += k;
			continue;
		}
		if (c < 0x20)
			return json_scan_fail(
			    p, "control character (\\u0000-\\u001F) found while parsing "
			       "a string");
		if (out && buf_append(out, p->s + run, p->pos - run) < 0)
			return err_set(p->err, "out of memory");
		p->pos++;
		if (c == '"')
			return 0;
		if (p->pos >= p->len)
			return json_scan_fail(p, "EOF while parsing a string");
		unsigned char e = p->s[p->pos++];
		unsigned cp = 0;
		switch (e) {
		case '"':
		case '\\':
		case '/':
			cp = e;
			break;
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			TRY(hex4(p, &cp));
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return json_scan_fail(p, "lone trailing surrogate in hex escape");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				unsigned lo = 0;
				if (p->len - p->pos < 2 || p->s[p->pos] != '\\' ||
				    p->s[p->pos + 1] != 'u')
					return json_scan_fail(
					    p, "lone leading surrogate in hex escape");
				p->pos += 2;
				TRY(hex4(p, &lo));
				if (lo < 0xdc00 || lo > 0xdfff)
					return json_scan_fail(
					    p, "lone leading surrogate in hex escape");
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			break;
		default:
			return json_scan_fail(p, "invalid escape");
		}
		if (out && put_utf8(out, cp) < 0)
			return err_set(p->err, "out of memory");
		run = p->pos;
	}
}

/* Validates and discards one value (an unknown field's). */
int json_scan_skip(struct json_scan *p)
{
	int c = json_scan_peek(p);
	if (c == '{' || c == '[') {
		int close = c == '{' ? '}' : ']';
		TRY(json_scan_enter(p));
		p->pos++;
		if (json_scan_peek(p) == close) {
			p->pos++;
			p->depth_left++;
			return 0;
		}
		for (;;) {
			if (close == '}') {
				if (json_scan_peek(p) != '"')
					return json_scan_fail_in(p, 1, "key must be a string");
				TRY(json_scan_string(p, NULL));
				if (json_scan_peek(p) != ':')
					return json_scan_fail_in(p, 1, "expected `:`");
				p->pos++;
			}
			TRY(json_scan_skip(p));
			c = json_scan_peek(p);
			if (c == ',') {
				p->pos++;
				if (json_scan_peek(p) == close)
					return json_scan_fail(p, "trailing comma");
				continue;
			}
			if (c == close) {
				p->pos++;
				break;
			}
			return json_scan_fail_in(p, close == '}',
						 close == '}' ? "expected `,` or `}`"
							      : "expected `,` or `]`");
		}
		p->depth_left++;
		return 0;
	}
	if (c == '"')
		return json_scan_string(p, NULL);
	if (c == 't')
		return json_scan_literal(p, "true");
	if (c == 'f')
		return json_scan_literal(p, "false");
	if (c == 'n')
		return json_scan_literal(p, "null");
	if (c == '-' || json_scan_is_digit(c)) {
		struct json_num n;
		return json_scan_number(p, &n);
	}
	if (c < 0)
		return json_scan_fail(p, "EOF while parsing a value");
	return json_scan_fail(p, "expected value");
}

int json_scan_cut(const char *text, size_t n, const char *key, size_t *off, size_t *len)
{
	struct json_scan p;
	struct err err;
	size_t klen = strlen(key);
	int rc = -1;
	json_scan_init(&p, text, n, CUT_MAX_DEPTH, &err);
	if (json_scan_peek(&p) != '{')
		goto out;
	p.pos++;
	if (json_scan_peek(&p) == '}')
		goto out;
	for (;;) {
		if (json_scan_peek(&p) != '"')
			goto out;
		size_t ks = p.pos + 1;
		if (json_scan_string(&p, NULL) < 0)
			goto out;
		size_t kl = p.pos - 1 - ks;
		if (json_scan_peek(&p) != ':')
			goto out;
		p.pos++;
		json_scan_peek(&p);
		size_t vs = p.pos;
		if (json_scan_skip(&p) < 0)
			goto out;
		if (kl == klen && memcmp(text + ks, key, klen) == 0) {
			*off = vs;
			*len = p.pos - vs;
			rc = 0;
			goto out;
		}
		if (json_scan_peek(&p) != ',')
			goto out;
		p.pos++;
	}
out:
	json_scan_done(&p);
	return rc;
}
