/*
 * toml.c — a strict reader for the TOML v1.0 subset kms.toml uses (toml.h).
 *
 * One pass over the text through a bounded cursor (struct reader): nothing
 * reads past `len`, the text need not be NUL-terminated. Anything outside the
 * subset (arrays of tables, dates and times) is refused, never guessed at.
 * String values are wiped when freed: config strings can hold admin tokens.
 * Never prints; every failure is "<name>:<line>: <message>" in the err.
 * spec: kms-protocol §14 (kms.toml); syntax per TOML v1.0.0.
 */
#include "util/toml.h"

#include "util/hex.h"
#include "util/utf8.h"

#include "util/buf.h"
#include "util/reader.h"
#include "util/secret.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NUMBER_MAX 128 /* characters in one number/keyword token */
#define INDEX_FROM 8   /* tables with more entries get a hash index */

/* How a table came to exist decides what may later add to it (TOML v1.0 "Table"). */
enum origin {
	ORIGIN_ROOT,
	ORIGIN_HEADER,	 /* [a.b] defined it: no second [a.b], no dotted keys into it */
	ORIGIN_IMPLICIT, /* an intermediate of a header: may be defined by [a] once */
	ORIGIN_DOTTED,	 /* made by a dotted key: more dotted keys may add to it */
	ORIGIN_INLINE,	 /* { ... }: closed for good */
};

struct entry {
	char *key;
	size_t key_len;
	struct toml_value *val;
};

struct toml_value {
	enum toml_type type;
	int line;
	int depth;
	union {
		struct {
			struct entry *ents;
			size_t n, cap;
			size_t *slots; /* open addressing; entry index + 1, 0 = empty */
			size_t nslots;
			enum origin origin;
		} tab;
		struct {
			char *s;
			size_t len, cap;
		} str;
		int64_t i;
		double f;
		int b;
		struct {
			struct toml_value **items;
			size_t n, cap;
		} arr;
	} u;
};

struct key_part {
	char *s;
	size_t len;
};

/* One (possibly dotted) key as written: a.b."c d". */
struct key {
	struct key_part parts[TOML_MAX_DEPTH];
	size_t n;
	size_t off; /* where it starts, for messages */
	char shown[160];
};

struct parser {
	struct reader r;
	const char *name;
	struct err *err;
	size_t line_off; /* line cache: offset line_off is on line line_no */
	int line_no;
	char desc[24];
	struct toml_value *root;
	struct toml_value *cur; /* table the current [header] opened */
};

/* ---- cursor ------------------------------------------------------------ */

/* Byte k positions ahead, or -1 past the end. */
static int peek_at(const struct parser *P, size_t k)
{
	if (k >= rd_left(&P->r))
		return -1;
	return P->r.p[P->r.off + k];
}

static int peek(const struct parser *P)
{
	return peek_at(P, 0);
}

static void advance(struct parser *P, size_t n)
{
	size_t left = rd_left(&P->r);
	P->r.off += n < left ? n : left;
}

static const char *here(const struct parser *P)
{
	return (const char *)P->r.p + P->r.off;
}

static int is_bare(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int at_newline(const struct parser *P)
{
	int c = peek(P);
	return c == '\n' || (c == '\r' && peek_at(P, 1) == '\n');
}

static void skip_newline(struct parser *P)
{
	if (peek(P) == '\r')
		advance(P, 1);
	if (peek(P) == '\n')
		advance(P, 1);
}

static void skip_ws(struct parser *P)
{
	while (peek(P) == ' ' || peek(P) == '\t')
		advance(P, 1);
}

/* A comment runs to the end of the line; the newline is not consumed. */
static void skip_comment(struct parser *P)
{
	if (peek(P) != '#')
		return;
	for (int c = peek(P); c != -1 && c != '\n' && c != '\r'; c = peek(P))
		advance(P, 1);
}

/* Whitespace, comments and newlines: what may sit between array elements. */
static void skip_ws_nl(struct parser *P)
{
	for (;;) {
		skip_ws(P);
		if (peek(P) == '#')
			skip_comment(P);
		else if (at_newline(P))
			skip_newline(P);
		else
			return;
	}
}

/* ---- messages ---------------------------------------------------------- */

static int line_of(struct parser *P, size_t off)
{
	if (off > P->r.len)
		off = P->r.len;
	/* Walk from the cached position, so a pass costs O(len) in total. */
	for (; P->line_off < off; P->line_off++)
		if (P->r.p[P->line_off] == '\n' && P->line_no < INT_MAX)
			P->line_no++;
	for (; P->line_off > off; P->line_off--)
		if (P->r.p[P->line_off - 1] == '\n' && P->line_no > 1)
			P->line_no--;
	return P->line_no;
}

static int fail_at(struct parser *P, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(struct parser *P, size_t off, const char *fmt, ...)
{
	char msg[ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return err_set(P->err, "%s:%d: %s", P->name, line_of(P, off), msg);
}

#define fail(P, ...) fail_at((P), (P)->r.off, __VA_ARGS__)

/* The next character, for "expected X, found Y". */
static const char *describe(struct parser *P, int c)
{
	if (c == -1)
		return "end of file";
	if (c == '\n' || c == '\r')
		return "end of line";
	if (c >= 0x20 && c < 0x7f)
		snprintf(P->desc, sizeof P->desc, "'%c'", c);
	else
		snprintf(P->desc, sizeof P->desc, "byte 0x%02X", (unsigned)c);
	return P->desc;
}

/* Appends to a bounded display string; ends it with "..." when full, and
 * never cuts a UTF-8 sequence (only lead bytes check for room). */
struct shown {
	char *s;
	size_t cap, n;
	int full;
};

static void show_byte(struct shown *o, unsigned char c)
{
	if (o->full)
		return;
	if ((c & 0xc0) == 0x80 && o->n + 5 >= o->cap) { /* cannot happen after a lead byte */
		o->full = 1;
		return;
	}
	if ((c & 0xc0) != 0x80 && o->n + 12 >= o->cap) {
		memcpy(o->s + o->n, "...", 3);
		o->n += 3;
		o->full = 1;
		return;
	}
	o->s[o->n++] = (char)c;
}

static void show_part(struct shown *o, const char *s, size_t len)
{
	int bare = len > 0;
	for (size_t i = 0; i < len; i++)
		bare = bare && is_bare((unsigned char)s[i]);
	if (bare) {
		for (size_t i = 0; i < len; i++)
			show_byte(o, (unsigned char)s[i]);
		return;
	}
	show_byte(o, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			show_byte(o, '\\');
			show_byte(o, c);
		} else if (c < 0x20 || c == 0x7f) {
			char esc[8];
			snprintf(esc, sizeof esc, "\\u%04X", c);
			for (const char *e = esc; *e; e++)
				show_byte(o, (unsigned char)*e);
		} else {
			show_byte(o, c);
		}
	}
	show_byte(o, '"');
}

/* k->shown = the key as TOML would write it, for messages. */
static void key_show(struct key *k)
{
	struct shown o = {k->shown, sizeof k->shown, 0, 0};
	for (size_t i = 0; i < k->n; i++) {
		if (i)
			show_byte(&o, '.');
		show_part(&o, k->parts[i].s, k->parts[i].len);
	}
	o.s[o.n] = '\0';
}

/* The first `n` parts of k, for naming an intermediate table. */
static void key_prefix_show(const struct key *k, size_t n, char *out, size_t cap)
{
	struct shown o = {out, cap, 0, 0};
	for (size_t i = 0; i < n && i < k->n; i++) {
		if (i)
			show_byte(&o, '.');
		show_part(&o, k->parts[i].s, k->parts[i].len);
	}
	o.s[o.n] = '\0';
}

static void key_free(struct key *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->parts[i].s);
	k->n = 0;
}

/* ---- values ------------------------------------------------------------ */

static struct toml_value *value_new(enum toml_type type, int line, int depth)
{
	struct toml_value *v = calloc(1, sizeof *v);
	if (!v)
		return NULL;
	v->type = type;
	v->line = line;
	v->depth = depth;
	return v;
}

static struct toml_value *table_new(enum origin origin, int line, int depth)
{
	struct toml_value *t = value_new(TOML_TABLE, line, depth);
	if (t)
		t->u.tab.origin = origin;
	return t;
}

static uint64_t key_hash(const char *k, size_t n)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)k[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static int key_eq(const struct entry *e, const char *k, size_t n)
{
	return e->key_len == n && memcmp(e->key, k, n) == 0;
}

static struct toml_value *table_find(const struct toml_value *t, const char *k, size_t n)
{
	if (t->u.tab.slots) {
		size_t mask = t->u.tab.nslots - 1;
		for (size_t i = key_hash(k, n) & mask; t->u.tab.slots[i]; i = (i + 1) & mask) {
			const struct entry *e = &t->u.tab.ents[t->u.tab.slots[i] - 1];
			if (key_eq(e, k, n))
				return e->val;
		}
		return NULL;
	}
	for (size_t i = 0; i < t->u.tab.n; i++)
		if (key_eq(&t->u.tab.ents[i], k, n))
			return t->u.tab.ents[i].val;
	return NULL;
}

static void slot_put(size_t *slots, size_t nslots, const struct entry *e, size_t idx)
{
	size_t mask = nslots - 1;
	size_t i = key_hash(e->key, e->key_len) & mask;
	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = idx + 1;
}

/* Keep the index at most half full so probes stay short. */
static int table_index(struct toml_value *t)
{
	size_t n = t->u.tab.n;
	if (n <= INDEX_FROM)
		return 0;
	if (t->u.tab.slots && n * 2 <= t->u.tab.nslots) {
		slot_put(t->u.tab.slots, t->u.tab.nslots, &t->u.tab.ents[n - 1], n - 1);
		return 0;
	}
	size_t nslots = t->u.tab.nslots ? t->u.tab.nslots : 16;
	while (nslots < n * 2) {
		if (nslots > SIZE_MAX / 2 / sizeof(size_t))
			return -1;
		nslots *= 2;
	}
	size_t *slots = calloc(nslots, sizeof *slots);
	if (!slots)
		return -1;
	for (size_t i = 0; i < n; i++)
		slot_put(slots, nslots, &t->u.tab.ents[i], i);
	free(t->u.tab.slots);
	t->u.tab.slots = slots;
	t->u.tab.nslots = nslots;
	return 0;
}

/* Appends key -> val (the caller checked the key is new). Takes val, even on failure. */
static int table_add(struct toml_value *t, const char *k, size_t n, struct toml_value *val)
{
	if (t->u.tab.n == t->u.tab.cap) {
		size_t cap = t->u.tab.cap ? t->u.tab.cap * 2 : 8;
		if (cap > SIZE_MAX / sizeof(struct entry))
			goto oom;
		struct entry *ents = realloc(t->u.tab.ents, cap * sizeof *ents);
		if (!ents)
			goto oom;
		t->u.tab.ents = ents;
		t->u.tab.cap = cap;
	}
	char *copy = malloc(n + 1);
	if (!copy)
		goto oom;
	if (n)
		memcpy(copy, k, n);
	copy[n] = '\0';
	t->u.tab.ents[t->u.tab.n++] = (struct entry){copy, n, val};
	return table_index(t); /* on failure the entry is owned by t already */
oom:
	toml_free(val);
	return -1;
}

/* Takes item, even on failure. */
static int array_push(struct toml_value *a, struct toml_value *item)
{
	if (a->u.arr.n == a->u.arr.cap) {
		size_t cap = a->u.arr.cap ? a->u.arr.cap * 2 : 8;
		struct toml_value **items = NULL;
		if (cap <= SIZE_MAX / sizeof *items)
			items = realloc(a->u.arr.items, cap * sizeof *items);
		if (!items) {
			toml_free(item);
			return -1;
		}
		a->u.arr.items = items;
		a->u.arr.cap = cap;
	}
	a->u.arr.items[a->u.arr.n++] = item;
	return 0;
}

static const char *type_article(enum toml_type t)
{
	return t == TOML_INT || t == TOML_ARRAY ? "an" : "a";
}

/* ---- input checks ------------------------------------------------------ */

/* TOML allows no control character but tab and newline anywhere (CR only in
 * CRLF), and the whole document must be valid UTF-8. Checking once up front
 * covers strings, comments and everything else alike. */
static int check_text(struct parser *P)
{
	const uint8_t *p = P->r.p;
	size_t n = P->r.len;
	for (size_t i = P->r.off; i < n;) {
		uint8_t c = p[i];
		if (c < 0x80) {
			if (c == '\r' && (i + 1 >= n || p[i + 1] != '\n'))
				return fail_at(P, i, "carriage return not followed by a newline");
			if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
				return fail_at(P, i, "control character U+%04X is not allowed", c);
			i++;
			continue;
		}
		size_t k = utf8_seq_len(p + i, n - i);
		if (!k) {
			/* A sequence that would be valid with more bytes was cut by the end. */
			uint8_t pad[4] = {0};
			memcpy(pad, p + i, n - i < 4 ? n - i : 4);
			for (size_t j = n - i; j < 4; j++)
				pad[j] = 0x80;
			int truncated = n - i < 4 && utf8_seq_len(pad, 4) > n - i;
			return fail_at(P, i,
				       truncated ? "invalid UTF-8 (truncated sequence)"
						 : "invalid UTF-8");
		}
		i += k;
	}
	return 0;
}

/* ---- strings ----------------------------------------------------------- */

static int oom(struct parser *P)
{
	return fail(P, "out of memory");
}

static int put(struct parser *P, struct buf *out, const void *p, size_t n)
{
	if (buf_append(out, p, n) < 0)
		return oom(P);
	return 0;
}

static int put_utf8(struct parser *P, struct buf *out, uint32_t cp)
{
	uint8_t b[4];
	return put(P, out, b, utf8_encode(cp, b));
}

/* At a backslash in a basic string; `start` is the string's opening quote. */
static int parse_escape(struct parser *P, struct buf *out, size_t start)
{
	int c = peek_at(P, 1);
	char ch;
	size_t digits = 0;
	switch (c) {
	case 'b':
		ch = '\b';
		break;
	case 't':
		ch = '\t';
		break;
	case 'n':
		ch = '\n';
		break;
	case 'f':
		ch = '\f';
		break;
	case 'r':
		ch = '\r';
		break;
	case '"':
		ch = '"';
		break;
	case '\\':
		ch = '\\';
		break;
	case 'u':
		digits = 4;
		break;
	case 'U':
		digits = 8;
		break;
	case -1:
		return fail_at(P, start, "unterminated string");
	default:
		if (c >= 0x21 && c < 0x7f)
			return fail(P, "invalid escape '\\%c' in string", c);
		return fail(P, "invalid escape in string (backslash before %s)", describe(P, c));
	}
	if (!digits) {
		advance(P, 2);
		return put(P, out, &ch, 1);
	}
	uint32_t cp = 0;
	for (size_t i = 0; i < digits; i++) {
		int h = hex_nibble(peek_at(P, 2 + i));
		if (h < 0)
			return fail(P, "invalid escape '\\%c': needs %zu hex digits", c, digits);
		cp = cp << 4 | (uint32_t)h;
	}
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return fail(P, "invalid escape '\\%c%.*s': not a Unicode scalar value", c,
			    (int)digits, here(P) + 2);
	advance(P, 2 + digits);
	return put_utf8(P, out, cp);
}

/* "...": escapes, no newlines. */
static int parse_basic(struct parser *P, struct buf *out)
{
	size_t start = P->r.off;
	advance(P, 1);
	for (;;) {
		int c = peek(P);
		if (c == -1 || c == '\n' || c == '\r')
			return fail_at(P, start, "unterminated string");
		if (c == '"') {
			advance(P, 1);
			return 0;
		}
		if (c == '\\') {
			TRY(parse_escape(P, out, start));
			continue;
		}
		size_t n = 0;
		while ((c = peek_at(P, n)) != -1 && c != '"' && c != '\\' && c != '\n' && c != '\r')
			n++;
		TRY(put(P, out, here(P), n));
		advance(P, n);
	}
}

/* '...': taken as is, no newlines. */
static int parse_literal(struct parser *P, struct buf *out)
{
	size_t start = P->r.off;
	advance(P, 1);
	size_t n = 0;
	int c;
	while ((c = peek_at(P, n)) != '\'') {
		if (c == -1 || c == '\n' || c == '\r')
			return fail_at(P, start, "unterminated string");
		n++;
	}
	TRY(put(P, out, here(P), n));
	advance(P, n + 1);
	return 0;
}

/* At a run of `quote` chars inside a multi-line string: 1-2 are content, 3-5
 * close the string (the extra 1-2 are content), more is an error.
 * Returns 1 when the string ended. */
static int ml_quotes(struct parser *P, struct buf *out, char quote)
{
	size_t q = 0;
	while (peek_at(P, q) == quote)
		q++;
	if (q > 5)
		return fail(P, "too many quotes in a row in multi-line string");
	size_t content = q < 3 ? q : q - 3;
	TRY(put(P, out, here(P), content));
	advance(P, q);
	return q >= 3;
}

/* """...""" and '''...''': a newline right after the opening is dropped,
 * CRLF becomes LF; basic ones take escapes and line-ending backslashes. */
static int parse_multiline(struct parser *P, struct buf *out, char quote)
{
	size_t start = P->r.off;
	advance(P, 3);
	if (at_newline(P))
		skip_newline(P);
	for (;;) {
		int c = peek(P);
		if (c == -1)
			return fail_at(P, start, "unterminated string");
		if (c == quote) {
			int end = ml_quotes(P, out, quote);
			if (end < 0)
				return -1;
			if (end)
				return 0;
			continue;
		}
		if (c == '\r') { /* check_text made sure an LF follows */
			TRY(put(P, out, "\n", 1));
			advance(P, 2);
			continue;
		}
		if (c == '\\' && quote == '"') {
			size_t k = 1;
			while (peek_at(P, k) == ' ' || peek_at(P, k) == '\t')
				k++;
			int d = peek_at(P, k);
			if (d == '\n' || (d == '\r' && peek_at(P, k + 1) == '\n')) {
				advance(P, k);
				while (peek(P) == ' ' || peek(P) == '\t' || at_newline(P)) {
					if (at_newline(P))
						skip_newline(P);
					else
						advance(P, 1);
				}
				continue;
			}
			TRY(parse_escape(P, out, start));
			continue;
		}
		size_t n = 0;
		while ((c = peek_at(P, n)) != -1 && c != quote && c != '\r' &&
		       !(c == '\\' && quote == '"'))
			n++;
		TRY(put(P, out, here(P), n));
		advance(P, n);
	}
}

static int is_triple(const struct parser *P, char quote)
{
	return peek(P) == quote && peek_at(P, 1) == quote && peek_at(P, 2) == quote;
}

/* ---- keys -------------------------------------------------------------- */

static int parse_simple_key(struct parser *P, struct buf *out)
{
	int c = peek(P);
	if (c == '"' || c == '\'') {
		if (is_triple(P, (char)c))
			return fail(P, "a multi-line string cannot be a key");
		return c == '"' ? parse_basic(P, out) : parse_literal(P, out);
	}
	size_t n = 0;
	while (is_bare(peek_at(P, n)))
		n++;
	if (n == 0)
		return fail(P, "expected a key, found %s", describe(P, c));
	TRY(put(P, out, here(P), n));
	advance(P, n);
	return 0;
}

/* key = simple-key *( ws "." ws simple-key ); trailing whitespace is eaten. */
static int parse_key(struct parser *P, struct key *k)
{
	k->n = 0;
	k->off = P->r.off;
	k->shown[0] = '\0';
	for (;;) {
		if (k->n == TOML_MAX_DEPTH)
			return fail(P, "key has more than %d parts", TOML_MAX_DEPTH);
		struct buf b = BUF_INIT;
		if (parse_simple_key(P, &b) < 0) {
			buf_free(&b);
			return -1;
		}
		if (buf_reserve(&b, 0) < 0) {
			buf_free(&b);
			return oom(P);
		}
		k->parts[k->n].s = (char *)b.p;
		k->parts[k->n].len = b.len;
		k->n++;
		/* A NUL would make two keys print alike ("port" and "port\u0000"). */
		if (memchr(b.p, '\0', b.len)) {
			key_show(k);
			return fail_at(P, k->off, "key '%s' contains a NUL character", k->shown);
		}
		skip_ws(P);
		if (peek(P) != '.')
			break;
		advance(P, 1);
		skip_ws(P);
	}
	key_show(k);
	return 0;
}

/* Stores val under the dotted key k in table t: intermediate tables are created
 * (or reused if made by dotted keys too); the last part must be new. Takes val. */
static int insert_dotted(struct parser *P, struct toml_value *t, const struct key *k,
			 struct toml_value *val)
{
	int line = line_of(P, k->off);
	for (size_t i = 0; i + 1 < k->n; i++) {
		const struct key_part *kp = &k->parts[i];
		struct toml_value *child = table_find(t, kp->s, kp->len);
		if (!child) {
			child = table_new(ORIGIN_DOTTED, line, t->depth + 1);
			if (!child || table_add(t, kp->s, kp->len, child) < 0) {
				toml_free(val);
				return fail_at(P, k->off, "out of memory");
			}
		} else if (child->type != TOML_TABLE || child->u.tab.origin != ORIGIN_DOTTED) {
			char name[160];
			key_prefix_show(k, i + 1, name, sizeof name);
			toml_free(val);
			if (child->type != TOML_TABLE)
				return fail_at(P, k->off,
					       "cannot set key '%s': '%s' is already %s %s",
					       k->shown, name, type_article(child->type),
					       toml_type_name(child->type));
			return fail_at(
			    P, k->off,
			    "cannot set key '%s': table '%s' is already defined elsewhere",
			    k->shown, name);
		}
		t = child;
	}
	const struct key_part *last = &k->parts[k->n - 1];
	if (table_find(t, last->s, last->len)) {
		toml_free(val);
		return fail_at(P, k->off, "duplicate key '%s'", k->shown);
	}
	if (table_add(t, last->s, last->len, val) < 0)
		return fail_at(P, k->off, "out of memory");
	return 0;
}

/* ---- values ------------------------------------------------------------ */

static struct toml_value *parse_value(struct parser *P, int depth, const char *kname);

static struct toml_value *parse_string_value(struct parser *P, int depth)
{
	size_t start = P->r.off;
	struct buf b;
	buf_init_secret(&b);
	int rc;
	if (is_triple(P, '"') || is_triple(P, '\''))
		rc = parse_multiline(P, &b, (char)peek(P));
	else if (peek(P) == '"')
		rc = parse_basic(P, &b);
	else
		rc = parse_literal(P, &b);
	struct toml_value *v = NULL;
	if (rc == 0 && buf_reserve(&b, 0) == 0)
		v = value_new(TOML_STRING, line_of(P, start), depth);
	if (!v) {
		if (rc == 0)
			oom(P);
		buf_free(&b);
		return NULL;
	}
	v->u.str.s = (char *)b.p;
	v->u.str.len = b.len;
	v->u.str.cap = b.cap;
	return v;
}

/* digit *( ["_"] digit ) in the given radix; returns its length (0: none). */
static size_t digit_run(const char *s, int radix)
{
	size_t n = 0;
	while (hex_nibble((unsigned char)s[n]) >= 0 && hex_nibble((unsigned char)s[n]) < radix) {
		n++;
		if (s[n] == '_' && hex_nibble((unsigned char)s[n + 1]) >= 0 &&
		    hex_nibble((unsigned char)s[n + 1]) < radix)
			n++;
	}
	return n;
}

/* Accumulates a digit run (underscores skipped); -1 if it exceeds max. */
static int digits_value(const char *s, size_t n, int radix, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '_')
			continue;
		uint64_t d = (uint64_t)hex_nibble((unsigned char)s[i]);
		if (v > (max - d) / (uint64_t)radix)
			return -1;
		v = v * (uint64_t)radix + d;
	}
	*out = v;
	return 0;
}

/* Classifies and converts one number token (NUL-terminated, from the
 * [A-Za-z0-9_.+-] run). Returns NULL or the reason it is not a TOML number. */
static const char *number_convert(const char *tok, struct toml_value *v)
{
	const char *s = tok;
	int neg = 0, sign = 0;
	if (*s == '+' || *s == '-') {
		neg = *s == '-';
		sign = 1;
		s++;
	}
	if (strcmp(s, "inf") == 0 || strcmp(s, "nan") == 0) {
		v->type = TOML_FLOAT;
		v->u.f = s[0] == 'i' ? (double)INFINITY : (double)NAN;
		v->u.f = copysign(v->u.f, neg ? -1.0 : 1.0);
		return NULL;
	}
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
		int radix = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
		if (sign)
			return "a sign is not allowed on hexadecimal, octal or binary integers";
		s += 2;
		size_t n = digit_run(s, radix);
		if (n == 0 || s[n] != '\0')
			return "invalid integer";
		uint64_t u;
		if (digits_value(s, n, radix, INT64_MAX, &u) < 0)
			return "integer out of range (64-bit signed)";
		v->type = TOML_INT;
		v->u.i = (int64_t)u;
		return NULL;
	}
	size_t n = digit_run(s, 10);
	if (n == 0)
		return "invalid number";
	if (s[0] == '0' && n > 1)
		return "leading zeros are not allowed";
	if (s[n] == '\0') {
		uint64_t u, max = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		if (digits_value(s, n, 10, max, &u) < 0)
			return "integer out of range (64-bit signed)";
		v->type = TOML_INT;
		v->u.i =
		    neg ? (u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u) : (int64_t)u;
		return NULL;
	}
	const char *p = s + n;
	if (*p == '.') {
		p++;
		size_t f = digit_run(p, 10);
		if (f == 0)
			return "invalid float (digits must follow '.')";
		p += f;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		size_t e = digit_run(p, 10);
		if (e == 0)
			return "invalid float exponent";
		p += e;
	}
	if (*p != '\0')
		return "invalid number";
	char clean[NUMBER_MAX + 1];
	size_t m = 0;
	for (const char *c = tok; *c; c++)
		if (*c != '_')
			clean[m++] = *c;
	clean[m] = '\0';
	/* strtod honours LC_NUMERIC; the KMS never calls setlocale, so it is "C". */
	char *end;
	double d = strtod(clean, &end);
	if (*end != '\0')
		return "invalid float";
	if (isinf(d))
		return "float out of range";
	v->type = TOML_FLOAT;
	v->u.f = d;
	return NULL;
}

/* Values that start like a bare word: numbers, booleans, inf/nan, or a date. */
static struct toml_value *parse_word_value(struct parser *P, int depth, const char *kname)
{
	size_t start = P->r.off;
	size_t d = 0;
	while (is_digit(peek_at(P, d)))
		d++;
	if ((d == 4 && peek_at(P, 4) == '-') || (d == 2 && peek_at(P, 2) == ':')) {
		fail(P, "dates and times are not supported (key '%s')", kname);
		return NULL;
	}
	size_t n = 0;
	int c;
	while ((c = peek_at(P, n)) != -1 && (is_bare(c) || c == '.' || c == '+'))
		n++;
	char tok[NUMBER_MAX + 1];
	if (n > NUMBER_MAX) {
		fail(P, "value of key '%s' is too long to be a number", kname);
		return NULL;
	}
	memcpy(tok, here(P), n);
	tok[n] = '\0';
	struct toml_value *v = value_new(TOML_BOOL, line_of(P, start), depth);
	if (!v) {
		oom(P);
		return NULL;
	}
	if (strcmp(tok, "true") == 0 || strcmp(tok, "false") == 0) {
		v->u.b = tok[0] == 't';
		advance(P, n);
		return v;
	}
	int numeric = is_digit(tok[0]) || tok[0] == '+' || tok[0] == '-' || tok[0] == '.' ||
		      strcmp(tok, "inf") == 0 || strcmp(tok, "nan") == 0;
	const char *why = numeric ? number_convert(tok, v) : NULL;
	if (!numeric || why) {
		toml_free(v);
		if (!numeric)
			fail(P, "invalid value '%s' for key '%s' (strings must be quoted)", tok,
			     kname);
		else
			fail(P, "invalid value '%s' for key '%s': %s", tok, kname, why);
		return NULL;
	}
	advance(P, n);
	return v;
}

static struct toml_value *parse_array(struct parser *P, int depth, const char *kname)
{
	size_t start = P->r.off;
	struct toml_value *a = value_new(TOML_ARRAY, line_of(P, start), depth);
	if (!a) {
		oom(P);
		return NULL;
	}
	advance(P, 1);
	for (;;) {
		skip_ws_nl(P);
		if (peek(P) == ']')
			break;
		if (peek(P) == -1)
			goto unterminated;
		struct toml_value *item = parse_value(P, depth + 1, kname);
		if (!item)
			goto bad;
		if (array_push(a, item) < 0) {
			oom(P);
			goto bad;
		}
		skip_ws_nl(P);
		int c = peek(P);
		if (c == ',') {
			advance(P, 1);
			continue;
		}
		if (c == ']')
			break;
		if (c == -1)
			goto unterminated;
		fail(P, "expected ',' or ']' in array of key '%s', found %s", kname,
		     describe(P, c));
		goto bad;
	}
	advance(P, 1);
	return a;
unterminated:
	fail_at(P, start, "unterminated array for key '%s'", kname);
bad:
	toml_free(a);
	return NULL;
}

/* { k = v, ... } on one line, no trailing comma (TOML v1.0). */
static struct toml_value *parse_inline_table(struct parser *P, int depth, const char *kname)
{
	size_t start = P->r.off;
	struct toml_value *t = table_new(ORIGIN_INLINE, line_of(P, start), depth);
	if (!t) {
		oom(P);
		return NULL;
	}
	struct key k = {.n = 0};
	advance(P, 1);
	skip_ws(P);
	if (peek(P) == '}') {
		advance(P, 1);
		return t;
	}
	for (;;) {
		skip_ws(P);
		if (at_newline(P) || peek(P) == -1)
			goto unterminated;
		if (parse_key(P, &k) < 0)
			goto bad;
		if (peek(P) != '=') {
			fail(P, "expected '=' after key '%s', found %s", k.shown,
			     describe(P, peek(P)));
			goto bad;
		}
		advance(P, 1);
		skip_ws(P);
		if (peek(P) == -1 || at_newline(P)) {
			fail(P, "missing value for key '%s'", k.shown);
			goto bad;
		}
		struct toml_value *v = parse_value(P, depth + (int)k.n, k.shown);
		if (!v || insert_dotted(P, t, &k, v) < 0)
			goto bad;
		key_free(&k);
		skip_ws(P);
		int c = peek(P);
		if (c == ',') {
			advance(P, 1);
			skip_ws(P);
			if (peek(P) == '}') {
				fail(P, "trailing comma in inline table of key '%s'", kname);
				goto bad;
			}
			continue;
		}
		if (c == '}')
			break;
		if (c == -1 || at_newline(P))
			goto unterminated;
		fail(P, "expected ',' or '}' in inline table of key '%s', found %s", kname,
		     describe(P, c));
		goto bad;
	}
	advance(P, 1);
	return t;
unterminated:
	fail_at(P, start, "unterminated inline table for key '%s' (it must end on the same line)",
		kname);
bad:
	key_free(&k);
	toml_free(t);
	return NULL;
}

/* depth: where the value will sit (root = 0). */
static struct toml_value *parse_value(struct parser *P, int depth, const char *kname)
{
	if (depth > TOML_MAX_DEPTH) {
		fail(P, "nesting deeper than %d levels (key '%s')", TOML_MAX_DEPTH, kname);
		return NULL;
	}
	int c = peek(P);
	if (c == '"' || c == '\'')
		return parse_string_value(P, depth);
	if (c == '[')
		return parse_array(P, depth, kname);
	if (c == '{')
		return parse_inline_table(P, depth, kname);
	if (is_bare(c) || c == '+' || c == '.')
		return parse_word_value(P, depth, kname);
	fail(P, "invalid value for key '%s': unexpected %s", kname, describe(P, c));
	return NULL;
}

/* ---- statements -------------------------------------------------------- */

/* After a statement: optional whitespace and comment, then newline or EOF. */
static int expect_line_end(struct parser *P, const char *what, const char *name)
{
	skip_ws(P);
	skip_comment(P);
	if (peek(P) == -1)
		return 0;
	if (at_newline(P)) {
		skip_newline(P);
		return 0;
	}
	return fail(P, "expected end of line after %s '%s', found %s", what, name,
		    describe(P, peek(P)));
}

static int parse_keyval(struct parser *P)
{
	struct key k = {.n = 0};
	int rc = -1;
	TRY_OUT(parse_key(P, &k));
	if (peek(P) != '=') {
		fail(P, "expected '=' after key '%s', found %s", k.shown, describe(P, peek(P)));
		goto out;
	}
	advance(P, 1);
	skip_ws(P);
	if (peek(P) == -1 || at_newline(P) || peek(P) == '#') {
		fail(P, "missing value for key '%s'", k.shown);
		goto out;
	}
	struct toml_value *v = parse_value(P, P->cur->depth + (int)k.n, k.shown);
	if (!v)
		goto out;
	TRY_OUT(insert_dotted(P, P->cur, &k, v));
	TRY_OUT(expect_line_end(P, "value of key", k.shown));
	rc = 0;
out:
	key_free(&k);
	return rc;
}

/* [a.b.c]: walks/creates the tables and makes the last one current. */
static int open_table(struct parser *P, const struct key *k, size_t at)
{
	int line = line_of(P, at);
	struct toml_value *t = P->root;
	for (size_t i = 0; i < k->n; i++) {
		const struct key_part *kp = &k->parts[i];
		int last = i + 1 == k->n;
		struct toml_value *child = table_find(t, kp->s, kp->len);
		char name[160];
		if (!child) {
			child =
			    table_new(last ? ORIGIN_HEADER : ORIGIN_IMPLICIT, line, t->depth + 1);
			if (!child || table_add(t, kp->s, kp->len, child) < 0)
				return fail_at(P, at, "out of memory");
		} else if (child->type != TOML_TABLE) {
			key_prefix_show(k, i + 1, name, sizeof name);
			if (child->type == TOML_ARRAY)
				return fail_at(P, at,
					       "cannot define table [%s]: '%s' is an array (arrays "
					       "of tables are not supported)",
					       k->shown, name);
			return fail_at(P, at, "cannot define table [%s]: '%s' is already %s %s",
				       k->shown, name, type_article(child->type),
				       toml_type_name(child->type));
		} else if (last) {
			if (child->u.tab.origin != ORIGIN_IMPLICIT)
				return fail_at(P, at, "duplicate table [%s]", k->shown);
			child->u.tab.origin = ORIGIN_HEADER;
			child->line = line;
		} else if (child->u.tab.origin == ORIGIN_INLINE) {
			key_prefix_show(k, i + 1, name, sizeof name);
			return fail_at(P, at,
				       "cannot define table [%s]: '%s' is an inline table and "
				       "cannot be extended",
				       k->shown, name);
		}
		t = child;
	}
	P->cur = t;
	return 0;
}

static int parse_header(struct parser *P)
{
	size_t at = P->r.off;
	struct key k = {.n = 0};
	int rc = -1;
	if (peek_at(P, 1) == '[')
		return fail(P, "arrays of tables ([[...]]) are not supported");
	advance(P, 1);
	skip_ws(P);
	TRY_OUT(parse_key(P, &k));
	if (peek(P) != ']') {
		fail(P, "expected ']' after table name '%s', found %s", k.shown,
		     describe(P, peek(P)));
		goto out;
	}
	advance(P, 1);
	TRY_OUT(open_table(P, &k, at));
	TRY_OUT(expect_line_end(P, "table header", k.shown));
	rc = 0;
out:
	key_free(&k);
	return rc;
}

struct toml_value *toml_parse(const char *text, size_t len, const char *name, struct err *err)
{
	struct parser P = {.name = name ? name : "<toml>", .err = err, .line_no = 1};
	if (!text && len) {
		err_set(err, "%s:1: no input", P.name);
		return NULL;
	}
	if (len > TOML_MAX_INPUT) {
		err_set(err, "%s:1: input is larger than %d bytes", P.name, TOML_MAX_INPUT);
		return NULL;
	}
	reader_init(&P.r, text ? text : "", len);
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		advance(&P, 3);
	if (check_text(&P) < 0)
		return NULL;
	P.root = table_new(ORIGIN_ROOT, 1, 0);
	if (!P.root) {
		oom(&P);
		return NULL;
	}
	P.cur = P.root;
	for (;;) {
		skip_ws(&P);
		int c = peek(&P);
		int rc = 0;
		if (c == -1)
			break;
		if (c == '#')
			skip_comment(&P);
		else if (at_newline(&P))
			skip_newline(&P);
		else if (c == '[')
			rc = parse_header(&P);
		else
			rc = parse_keyval(&P);
		if (rc < 0) {
			toml_free(P.root);
			return NULL;
		}
	}
	return P.root;
}

void toml_free(struct toml_value *v)
{
	if (!v)
		return;
	if (v->type == TOML_TABLE) {
		for (size_t i = 0; i < v->u.tab.n; i++) {
			free(v->u.tab.ents[i].key);
			toml_free(v->u.tab.ents[i].val);
		}
		free(v->u.tab.ents);
		free(v->u.tab.slots);
	} else if (v->type == TOML_STRING) {
		secret_free(v->u.str.s, v->u.str.cap);
	} else if (v->type == TOML_ARRAY) {
		for (size_t i = 0; i < v->u.arr.n; i++)
			toml_free(v->u.arr.items[i]);
		free(v->u.arr.items);
	}
	free(v);
}

/* ---- access ------------------------------------------------------------ */

enum toml_type toml_type(const struct toml_value *v)
{
	return v ? v->type : TOML_TABLE;
}

const char *toml_type_name(enum toml_type t)
{
	switch (t) {
	case TOML_TABLE:
		return "table";
	case TOML_STRING:
		return "string";
	case TOML_INT:
		return "integer";
	case TOML_FLOAT:
		return "float";
	case TOML_BOOL:
		return "boolean";
	case TOML_ARRAY:
		return "array";
	}
	return "unknown";
}

int toml_line(const struct toml_value *v)
{
	return v ? v->line : 0;
}

size_t toml_table_len(const struct toml_value *t)
{
	return t && t->type == TOML_TABLE ? t->u.tab.n : 0;
}

const char *toml_table_key(const struct toml_value *t, size_t i, const struct toml_value **val)
{
	if (!t || t->type != TOML_TABLE || i >= t->u.tab.n) {
		if (val)
			*val = NULL;
		return NULL;
	}
	if (val)
		*val = t->u.tab.ents[i].val;
	return t->u.tab.ents[i].key;
}

const struct toml_value *toml_get(const struct toml_value *t, const char *key)
{
	if (!t || t->type != TOML_TABLE || !key)
		return NULL;
	return table_find(t, key, strlen(key));
}

const struct toml_value *toml_get_path(const struct toml_value *t, const char *path)
{
	if (!path)
		return NULL;
	const char *p = path;
	for (;;) {
		if (!t || t->type != TOML_TABLE)
			return NULL;
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n == 0)
			return NULL;
		t = table_find(t, p, n);
		if (!dot)
			return t;
		p = dot + 1;
	}
}

const char *toml_string(const struct toml_value *v)
{
	return v && v->type == TOML_STRING ? v->u.str.s : NULL;
}

size_t toml_string_len(const struct toml_value *v)
{
	return v && v->type == TOML_STRING ? v->u.str.len : 0;
}

int64_t toml_int(const struct toml_value *v)
{
	return v && v->type == TOML_INT ? v->u.i : 0;
}

double toml_float(const struct toml_value *v)
{
	return v && v->type == TOML_FLOAT ? v->u.f : 0.0;
}

int toml_bool(const struct toml_value *v)
{
	return v && v->type == TOML_BOOL ? v->u.b : 0;
}

size_t toml_array_len(const struct toml_value *a)
{
	return a && a->type == TOML_ARRAY ? a->u.arr.n : 0;
}

const struct toml_value *toml_array_at(const struct toml_value *a, size_t i)
{
	return a && a->type == TOML_ARRAY && i < a->u.arr.n ? a->u.arr.items[i] : NULL;
}
