/*
 * prpc_json.c — protobuf-c messages <-> prpc JSON, and GET query strings ->
 * messages (kms-protocol §2.2, §2.3, §3).
 *
 * The JSON reader is a strict RFC 8259 recursive-descent parser on the
 * shared tokenizer (util/json_scan.h) that writes straight into the message
 * instead of building a jansson tree: that lets it
 * mirror serde_json where jansson differs (u64 above INT64_MAX, `-0` and
 * fractions are floating point, only known keys are checked for duplicates,
 * the 128-level recursion limit) and keeps one wiped copy of decoded secrets
 * (onboarding decodes KmsKeyResponse). Error messages name fields and echo
 * numbers, never string or bytes values.
 */
#include "prpc/prpc_json.h"

#include "util/json_scan.h"
#include "util/utf8.h"

#include "util/hex.h"
#include "util/secret.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMBER(m, off) ((void *)((char *)(m) + (off)))
#define CMEMBER(m, off) ((const void *)((const char *)(m) + (off)))

/* Bounds recursion over descriptors (recursive message types). */
#define DESC_CHECK_DEPTH 16

static int oom(struct err *err)
{
	return err_set(err, "out of memory");
}

/* ---- descriptor helpers ------------------------------------------------ */

enum fkind { FK_PLAIN, FK_OPTIONAL, FK_REPEATED };

/*
 * spec: kms-protocol §2.3. protoc-c 1.4 lacks proto3 `optional`, so
 * kms_rpc.proto writes `optional T x` as `oneof _x { T x }` (same wire
 * format). The runtime descriptor keeps no oneof names, so "optional" is
 * recognised as a oneof field whose case member no other field shares.
 */
static unsigned oneof_members(const ProtobufCMessageDescriptor *d,
			      const ProtobufCFieldDescriptor *f)
{
	unsigned n = 0;
	for (unsigned i = 0; i < d->n_fields; i++)
		if ((d->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    d->fields[i].quantifier_offset == f->quantifier_offset)
			n++;
	return n;
}

static size_t elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return sizeof(uint32_t);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return sizeof(uint64_t);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default:
		return 0; /* float, double: not mapped */
	}
}

static int field_kind(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f,
		      enum fkind *k, struct err *err)
{
	if (elem_size(f->type) == 0)
		return err_set(err, "field `%s`: floating-point fields are not supported", f->name);
	if (f->type == PROTOBUF_C_TYPE_MESSAGE && !f->descriptor)
		return err_set(err, "field `%s`: message descriptor missing", f->name);
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		*k = FK_REPEATED;
		return 0;
	}
	if (f->label != PROTOBUF_C_LABEL_NONE)
		return err_set(err, "field `%s`: proto2 labels are not supported", f->name);
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		if (oneof_members(d, f) != 1)
			return err_set(err,
				       "field `%s`: oneofs with several members are not supported",
				       f->name);
		*k = FK_OPTIONAL;
		return 0;
	}
	*k = FK_PLAIN;
	return 0;
}

static int desc_check(const ProtobufCMessageDescriptor *d, int depth, struct err *err)
{
	if (!d || d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
		return err_set(err, "not a protobuf-c message descriptor");
	if (depth > DESC_CHECK_DEPTH)
		return 0; /* a recursive type: its fields were checked further up */
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		enum fkind k = FK_PLAIN;
		TRY(field_kind(d, f, &k, err));
		if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
		    desc_check(f->descriptor, depth + 1, err) < 0)
			return err_wrap(err, "field `%s`", f->name);
	}
	return 0;
}

int prpc_desc_check(const ProtobufCMessageDescriptor *d, struct err *err)
{
	return desc_check(d, 0, err);
}

int prpc_desc_is_empty(const ProtobufCMessageDescriptor *d)
{
	return d && d->n_fields == 0;
}

/* serde's name for what a field expects, as in "invalid type: null, expected u32". */
static const char *scalar_name(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return "u32";
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return "u64";
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		return "i32";
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return "i64";
	case PROTOBUF_C_TYPE_BOOL:
		return "a boolean";
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
		return "a string";
	default:
		return "a value";
	}
}

/* "invalid type: <got>, expected <what field f holds>"; elem: f is repeated
 * and the value is one element. */
static int type_error(struct err *err, const ProtobufCFieldDescriptor *f, int elem, const char *got)
{
	if (!elem && f->label == PROTOBUF_C_LABEL_REPEATED)
		return err_set(err, "field `%s`: invalid type: %s, expected a sequence", f->name,
			       got);
	if (f->type == PROTOBUF_C_TYPE_MESSAGE)
		return err_set(err, "field `%s`: invalid type: %s, expected struct %s", f->name,
			       got,
			       ((const ProtobufCMessageDescriptor *)f->descriptor)->short_name);
	return err_set(err, "field `%s`: invalid type: %s, expected %s", f->name, got,
		       scalar_name(f->type));
}

/* ---- values shared by the JSON and query readers ----------------------- */

static int is_unsigned(ProtobufCType t)
{
	return t == PROTOBUF_C_TYPE_UINT32 || t == PROTOBUF_C_TYPE_FIXED32 ||
	       t == PROTOBUF_C_TYPE_UINT64 || t == PROTOBUF_C_TYPE_FIXED64;
}

static int is_int_type(ProtobufCType t)
{
	return t != PROTOBUF_C_TYPE_BOOL && t != PROTOBUF_C_TYPE_STRING &&
	       t != PROTOBUF_C_TYPE_BYTES && t != PROTOBUF_C_TYPE_MESSAGE && elem_size(t) != 0;
}

/* Largest magnitude of type t for the given sign. */
static uint64_t int_limit(ProtobufCType t, int neg)
{
	int wide = elem_size(t) == 8;
	if (is_unsigned(t))
		return neg ? 0 : (wide ? UINT64_MAX : UINT32_MAX);
	if (wide)
		return neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	return neg ? (uint64_t)INT32_MAX + 1 : (uint64_t)INT32_MAX;
}

/* Stores -mag or mag (already range-checked against int_limit) into dst. */
static void int_store(ProtobufCType t, void *dst, int neg, uint64_t mag)
{
	if (t == PROTOBUF_C_TYPE_ENUM) {
		int v = neg ? (int)(-(int64_t)(mag - 1) - 1) : (int)mag;
		memcpy(dst, &v, sizeof v);
	} else if (elem_size(t) == 8) {
		uint64_t v = neg ? (uint64_t)0 - mag : mag;
		memcpy(dst, &v, sizeof v);
	} else {
		uint32_t v = neg ? (uint32_t)((uint64_t)0 - mag) : (uint32_t)mag;
		memcpy(dst, &v, sizeof v);
	}
}

static int set_string(const ProtobufCFieldDescriptor *f, void *dst, const char *s, size_t n,
		      struct err *err)
{
	if (memchr(s, 0, n))
		return err_set(err, "field `%s`: strings with NUL characters are not supported",
			       f->name);
	char *copy = malloc(n + 1);
	if (!copy)
		return oom(err);
	memcpy(copy, s, n);
	copy[n] = 0;
	*(char **)dst = copy;
	return 0;
}

/* spec: kms-protocol §2.3 — strip every leading lowercase "0x" (Rust
 * trim_start_matches("0x")), then hex::decode: odd length is checked first. */
static int set_hex(const ProtobufCFieldDescriptor *f, ProtobufCBinaryData *dst, const char *s,
		   size_t n, struct err *err)
{
	while (n >= 2 && s[0] == '0' && s[1] == 'x') {
		s += 2;
		n -= 2;
	}
	if (n % 2)
		return err_set(err, "invalid hex in field `%s`: odd number of digits", f->name);
	for (size_t i = 0; i < n; i++)
		if (hex_nibble((unsigned char)s[i]) < 0)
			return err_set(
			    err, "invalid hex in field `%s`: invalid character at position %zu",
			    f->name, i);
	uint8_t *data = NULL;
	if (n) {
		data = malloc(n / 2);
		if (!data)
			return oom(err);
		for (size_t i = 0; i < n / 2; i++)
			data[i] = (uint8_t)(hex_nibble((unsigned char)s[2 * i]) << 4 |
					    hex_nibble((unsigned char)s[2 * i + 1]));
	}
	dst->data = data;
	dst->len = n / 2;
	return 0;
}

/* Appends a zeroed slot to repeated field f of m and returns it. The count is
 * raised first so a failure later still frees whatever lands in the slot. */
static void *repeated_add(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, size_t *cap,
			  struct err *err)
{
	size_t esz = elem_size(f->type);
	size_t *np = MEMBER(m, f->quantifier_offset);
	void **arrp = MEMBER(m, f->offset);
	if (*np == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		if (ncap < *cap || ncap > SIZE_MAX / esz) {
			oom(err);
			return NULL;
		}
		void *na = realloc(*arrp, ncap * esz);
		if (!na) {
			oom(err);
			return NULL;
		}
		*arrp = na;
		*cap = ncap;
	}
	void *slot = (char *)*arrp + *np * esz;
	memset(slot, 0, esz);
	(*np)++;
	return slot;
}

/* ---- allocation and wiping --------------------------------------------- */

ProtobufCMessage *prpc_message_new(const ProtobufCMessageDescriptor *d)
{
	if (!d || d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC || !d->message_init)
		return NULL;
	ProtobufCMessage *m = calloc(1, d->sizeof_message);
	if (m)
		protobuf_c_message_init(d, m);
	return m;
}

static void wipe_string(const ProtobufCFieldDescriptor *f, char *s)
{
	/* protobuf_c_empty_string (the default) lives in read-only memory */
	if (s && s != f->default_value && *s)
		secret_wipe(s, strlen(s));
}

static void wipe_bytes(const ProtobufCFieldDescriptor *f, ProtobufCBinaryData *b)
{
	const ProtobufCBinaryData *def = f->default_value;
	if (b->data && b->len && !(def && def->data == b->data))
		secret_wipe(b->data, b->len);
}

/* Visits exactly what protobuf_c_message_free_unpacked frees. */
static void wipe_message(ProtobufCMessage *m)
{
	if (!m || !m->descriptor)
		return;
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)MEMBER(m, f->quantifier_offset) != f->id)
			continue;
		void *mem = MEMBER(m, f->offset);
		size_t n = 1;
		char *arr = mem;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)MEMBER(m, f->quantifier_offset);
			arr = *(char **)mem;
			if (!arr)
				continue;
		}
		for (size_t j = 0; j < n; j++) {
			void *slot = arr + j * elem_size(f->type);
			if (f->type == PROTOBUF_C_TYPE_STRING)
				wipe_string(f, *(char **)slot);
			else if (f->type == PROTOBUF_C_TYPE_BYTES)
				wipe_bytes(f, slot);
			else if (f->type == PROTOBUF_C_TYPE_MESSAGE)
				wipe_message(*(ProtobufCMessage **)slot);
		}
	}
	if (m->unknown_fields)
		for (unsigned i = 0; i < m->n_unknown_fields; i++)
			if (m->unknown_fields[i].data)
				secret_wipe(m->unknown_fields[i].data, m->unknown_fields[i].len);
}

void prpc_message_free(ProtobufCMessage *m)
{
	if (!m)
		return;
	wipe_message(m);
	protobuf_c_message_free_unpacked(m, NULL);
}

/* ---- encoder ----------------------------------------------------------- */

/* serde_json string escaping: \" \\ \b \f \n \r \t, other C0 controls as
 * \u00xx (lowercase), everything else (including '/', DEL, non-ASCII) raw. */
static int enc_string(struct buf *out, const ProtobufCFieldDescriptor *f, const char *str,
		      struct err *err)
{
	static const char hexd[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), run = 0, i = 0;
	if (buf_append_byte(out, '"') < 0)
		return oom(err);
	while (i < n) {
		unsigned char c = s[i];
		if (c >= 0x80) {
			size_t k = utf8_seq_len(s + i, n - i);
			if (!k)
				return err_set(err, "field `%s`: string is not valid UTF-8",
					       f->name);
			i += k;
			continue;
		}
		if (c >= 0x20 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		char esc[6] = {'\\', 0, 0, 0, 0, 0};
		size_t elen = 2;
		switch (c) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hexd[c >> 4];
			esc[5] = hexd[c & 15];
			elen = 6;
		}
		if (buf_append(out, s + run, i - run) < 0 || buf_append(out, esc, elen) < 0)
			return oom(err);
		run = ++i;
	}
	if (buf_append(out, s + run, n - run) < 0 || buf_append_byte(out, '"') < 0)
		return oom(err);
	return 0;
}

static int enc_message(const ProtobufCMessage *m, struct buf *out, int depth, struct err *err);

/* One value of field f stored at p (the member, or one array element). */
static int enc_value(struct buf *out, const ProtobufCFieldDescriptor *f, const void *p, int depth,
		     struct err *err)
{
	int r = 0;
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		r = buf_printf(out, "%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_ENUM:
		r = buf_printf(out, "%d", *(const int *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		r = buf_printf(out, "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		r = buf_printf(out, "%" PRId64, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		r = buf_printf(out, "%" PRIu64, *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		r = buf_append_str(out, *(const protobuf_c_boolean *)p ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(const char *const *)p;
		return enc_string(out, f, s ? s : "", err);
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		if (b->len && !b->data)
			return err_set(err, "field `%s`: bytes with a length but no data", f->name);
		r = buf_append_byte(out, '"');
		if (r == 0 && b->len)
			r = hex_append(out, b->data, b->len);
		if (r == 0)
			r = buf_append_byte(out, '"');
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)p;
		if (!sub)
			return err_set(err, "field `%s`: NULL message in a repeated field",
				       f->name);
		if (enc_message(sub, out, depth + 1, err) < 0)
			return err_wrap(err, "field `%s`", f->name);
		return 0;
	}
	default:
		return err_set(err, "field `%s`: unsupported type", f->name);
	}
	return r < 0 ? oom(err) : 0;
}

static int enc_field(struct buf *out, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
		     enum fkind k, int depth, struct err *err)
{
	const void *mem = CMEMBER(m, f->offset);
	if (k == FK_REPEATED) {
		size_t n = *(const size_t *)CMEMBER(m, f->quantifier_offset);
		const char *arr = *(const char *const *)mem;
		if (n && !arr)
			return err_set(err, "field `%s`: count without an array", f->name);
		if (buf_append_byte(out, '[') < 0)
			return oom(err);
		for (size_t j = 0; j < n; j++) {
			if (j && buf_append_byte(out, ',') < 0)
				return oom(err);
			TRY(enc_value(out, f, arr + j * elem_size(f->type), depth, err));
		}
		return buf_append_byte(out, ']') < 0 ? oom(err) : 0;
	}
	int is_null = 0;
	if (k == FK_OPTIONAL && *(const uint32_t *)CMEMBER(m, f->quantifier_offset) != f->id)
		is_null = 1;
	/* a NULL string/message member is "absent" to protobuf_c_message_pack too */
	if (f->type == PROTOBUF_C_TYPE_MESSAGE && !*(const void *const *)mem)
		is_null = 1;
	if (k == FK_OPTIONAL && f->type == PROTOBUF_C_TYPE_STRING && !*(const void *const *)mem)
		is_null = 1;
	if (is_null)
		return buf_append_str(out, "null") < 0 ? oom(err) : 0;
	return enc_value(out, f, mem, depth, err);
}

static int enc_message(const ProtobufCMessage *m, struct buf *out, int depth, struct err *err)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	if (!d || d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
		return err_set(err, "not a protobuf-c message");
	if (depth >= PRPC_JSON_MAX_DEPTH)
		return err_set(err, "message nesting deeper than %d levels", PRPC_JSON_MAX_DEPTH);
	if (buf_append_byte(out, '{') < 0)
		return oom(err);
	/* spec: kms-protocol §2.3 — proto declaration order; protoc-c sorts
	 * fields by number, which is declaration order in kms_rpc.proto */
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		enum fkind k = FK_PLAIN;
		TRY(field_kind(d, f, &k, err));
		if ((i && buf_append_byte(out, ',') < 0))
			return oom(err);
		TRY(enc_string(out, f, f->name, err));
		if (buf_append_byte(out, ':') < 0)
			return oom(err);
		TRY(enc_field(out, m, f, k, depth, err));
	}
	return buf_append_byte(out, '}') < 0 ? oom(err) : 0;
}

int prpc_json_encode(const ProtobufCMessage *msg, struct buf *out, struct err *err)
{
	if (!msg)
		return err_set(err, "no message to encode");
	return enc_message(msg, out, 0, err);
}

/* ---- JSON reader ------------------------------------------------------- */

/* The lexical layer (strings, numbers, literals, skipping, positions in
 * messages) is util/json_scan.h; this file maps values onto messages. */
/* Describes the value at p->pos for an "invalid type" message (serde_json wording). */
static int jp_describe(struct json_scan *p, char *got, size_t n)
{
	int c = json_scan_peek(p);
	const char *s = NULL;
	if (c == '{')
		s = "map";
	else if (c == '[')
		s = "sequence";
	else if (c == '"')
		s = "string";
	else if (c == 't')
		s = "boolean `true`";
	else if (c == 'f')
		s = "boolean `false`";
	else if (c == 'n')
		s = "null";
	if (s) {
		snprintf(got, n, "%s", s);
		return 0;
	}
	if (c == '-' || json_scan_is_digit(c)) {
		struct json_num num;
		TRY(json_scan_number(p, &num));
		int len = (int)(num.end - num.start > 40 ? 40 : num.end - num.start);
		if (num.is_float)
			snprintf(got, n, "floating point `%.*s`", len,
				 (const char *)p->s + num.start);
		else
			snprintf(got, n, "integer `%s%" PRIu64 "`", num.neg ? "-" : "", num.mag);
		return 0;
	}
	if (c < 0)
		return json_scan_fail(p, "EOF while parsing a value");
	return json_scan_fail(p, "expected value");
}

static int jp_type_error(struct json_scan *p, const ProtobufCFieldDescriptor *f, int elem)
{
	char got[64];
	TRY(jp_describe(p, got, sizeof got));
	return type_error(p->err, f, elem, got);
}

static int dec_message(struct json_scan *p, const ProtobufCMessageDescriptor *d,
		       ProtobufCMessage *m);

/* One value for field f into dst (the member, or a zeroed array slot). */
static int dec_value(struct json_scan *p, const ProtobufCFieldDescriptor *f, void *dst, int elem)
{
	int c = json_scan_peek(p);
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		if (c != '"')
			return jp_type_error(p, f, elem);
		json_scan_scratch_clear(p);
		TRY(json_scan_string(p, &p->scratch));
		return set_string(f, dst, buf_str(&p->scratch), p->scratch.len, p->err);
	case PROTOBUF_C_TYPE_BYTES:
		if (c != '"')
			return jp_type_error(p, f, elem);
		json_scan_scratch_clear(p);
		TRY(json_scan_string(p, &p->scratch));
		return set_hex(f, dst, buf_str(&p->scratch), p->scratch.len, p->err);
	case PROTOBUF_C_TYPE_BOOL:
		if (c != 't' && c != 'f')
			return jp_type_error(p, f, elem);
		TRY(json_scan_literal(p, c == 't' ? "true" : "false"));
		*(protobuf_c_boolean *)dst = c == 't';
		return 0;
	case PROTOBUF_C_TYPE_MESSAGE: {
		if (c != '{')
			return jp_type_error(p, f, elem);
		const ProtobufCMessageDescriptor *sd = f->descriptor;
		ProtobufCMessage *sub = prpc_message_new(sd);
		if (!sub)
			return oom(p->err);
		*(ProtobufCMessage **)dst = sub; /* owned by the parent from here on */
		if (dec_message(p, sd, sub) < 0)
			return err_wrap(p->err, "field `%s`", f->name);
		return 0;
	}
	default:
		break;
	}
	if (!is_int_type(f->type))
		return err_set(p->err, "field `%s`: unsupported type", f->name);
	if (c != '-' && !json_scan_is_digit(c))
		return jp_type_error(p, f, elem);
	struct json_num n;
	TRY(json_scan_number(p, &n));
	if (n.is_float) {
		int len = (int)(n.end - n.start > 40 ? 40 : n.end - n.start);
		return err_set(p->err,
			       "field `%s`: invalid type: floating point `%.*s`, expected %s",
			       f->name, len, (const char *)p->s + n.start, scalar_name(f->type));
	}
	if (n.mag > int_limit(f->type, n.neg))
		return err_set(p->err,
			       "field `%s`: invalid value: integer `%s%" PRIu64 "`, expected %s",
			       f->name, n.neg ? "-" : "", n.mag, scalar_name(f->type));
	int_store(f->type, dst, n.neg, n.mag);
	return 0;
}

static int dec_field(struct json_scan *p, const ProtobufCMessageDescriptor *d,
		     const ProtobufCFieldDescriptor *f, ProtobufCMessage *m)
{
	enum fkind k = FK_PLAIN;
	TRY(field_kind(d, f, &k, p->err));
	int c = json_scan_peek(p);
	if (k == FK_REPEATED) {
		if (c != '[')
			return jp_type_error(p, f, 0);
		TRY(json_scan_enter(p));
		p->pos++;
		size_t cap = 0;
		if (json_scan_peek(p) == ']') {
			p->pos++;
			p->depth_left++;
			return 0;
		}
		for (;;) {
			void *slot = repeated_add(m, f, &cap, p->err);
			if (!slot)
				return -1;
			TRY(dec_value(p, f, slot, 1));
			c = json_scan_peek(p);
			if (c == ',') {
				p->pos++;
				if (json_scan_peek(p) == ']')
					return json_scan_fail(p, "trailing comma");
				continue;
			}
			if (c == ']') {
				p->pos++;
				break;
			}
			return json_scan_fail_in(p, 0, "expected `,` or `]`");
		}
		p->depth_left++;
		return 0;
	}
	/* spec: kms-protocol §2.3 — null only for optional and message fields */
	if (c == 'n' && (k == FK_OPTIONAL || f->type == PROTOBUF_C_TYPE_MESSAGE))
		return json_scan_literal(p, "null");
	/* Mark the oneof first: the member is zero until set, which
	 * free_unpacked handles, and a half-decoded sub-message gets freed. */
	if (k == FK_OPTIONAL)
		*(uint32_t *)MEMBER(m, f->quantifier_offset) = f->id;
	return dec_value(p, f, MEMBER(m, f->offset), 0);
}

/* An object at p->pos into m (serde derive: unknown keys skipped, known keys once). */
static int dec_message(struct json_scan *p, const ProtobufCMessageDescriptor *d,
		       ProtobufCMessage *m)
{
	TRY(json_scan_enter(p));
	p->pos++;
	unsigned char *seen = calloc(d->n_fields + 1, 1);
	if (!seen)
		return oom(p->err);
	int rc = -1;
	if (json_scan_peek(p) == '}') {
		p->pos++;
		goto done;
	}
	for (;;) {
		if (json_scan_peek(p) != '"') {
			json_scan_fail_in(p, 1, "key must be a string");
			goto out;
		}
		json_scan_scratch_clear(p);
		if (json_scan_string(p, &p->scratch) < 0)
			goto out;
		const char *key = buf_str(&p->scratch);
		const ProtobufCFieldDescriptor *f = NULL;
		if (strlen(key) == p->scratch.len)
			f = protobuf_c_message_descriptor_get_field_by_name(d, key);
		if (json_scan_peek(p) != ':') {
			json_scan_fail_in(p, 1, "expected `:`");
			goto out;
		}
		p->pos++;
		if (!f) {
			if (json_scan_skip(p) < 0)
				goto out;
		} else {
			size_t idx = (size_t)(f - d->fields);
			if (seen[idx]) {
				err_set(p->err, "duplicate field `%s`", f->name);
				goto out;
			}
			seen[idx] = 1;
			if (dec_field(p, d, f, m) < 0)
				goto out;
		}
		int c = json_scan_peek(p);
		if (c == ',') {
			p->pos++;
			if (json_scan_peek(p) == '}') {
				json_scan_fail(p, "trailing comma");
				goto out;
			}
			continue;
		}
		if (c == '}') {
			p->pos++;
			break;
		}
		json_scan_fail_in(p, 1, "expected `,` or `}`");
		goto out;
	}
done:
	p->depth_left++;
	rc = 0;
out:
	free(seen);
	return rc;
}

ProtobufCMessage *prpc_json_decode(const ProtobufCMessageDescriptor *d, const char *body,
				   size_t len, struct err *err)
{
	if (prpc_desc_check(d, err) < 0)
		return NULL;
	ProtobufCMessage *m = prpc_message_new(d);
	if (!m) {
		oom(err);
		return NULL;
	}
	if (len == 0) /* upstream: an empty payload is Default::default() */
		return m;
	if (!body) {
		err_set(err, "no request body");
		prpc_message_free(m);
		return NULL;
	}
	struct json_scan p;
	json_scan_init(&p, body, len, PRPC_JSON_MAX_DEPTH, err);
	int rc = -1;
	int c = json_scan_peek(&p);
	if (c == '{') {
		rc = dec_message(&p, d, m);
	} else {
		char got[64];
		if (jp_describe(&p, got, sizeof got) == 0)
			err_set(err, "invalid type: %s, expected struct %s (a JSON object)", got,
				d->short_name);
	}
	if (rc == 0 && json_scan_peek(&p) >= 0)
		rc = json_scan_fail(&p, "trailing characters");
	json_scan_done(&p);
	if (rc < 0) {
		prpc_message_free(m);
		return NULL;
	}
	return m;
}

/* ---- query-string reader (serde_qs 0.13, strict mode) ------------------- */

enum qs_form { QS_FLAT, QS_SEQ, QS_ORD, QS_OTHER };

struct qs_entry {
	char *key; /* decoded root key */
	size_t klen;
	char *val; /* decoded value ("" when absent) */
	size_t vlen;
	enum qs_form form;
	size_t index; /* QS_ORD */
	size_t order; /* position in the query, keeps sorting stable */
};

/* Key text safe for an error message: printable ASCII, at most 48 chars. */
static void safe_key(const char *s, size_t n, char *out, size_t outn)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 4 < outn; i++) {
		if (i == 48) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		unsigned char c = (unsigned char)s[i];
		out[o++] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
	}
	out[o] = 0;
}

/* '+' is a space, %XX a byte (other '%' kept), and the result must be UTF-8. */
static int qs_decode(const char *s, size_t n, char **outp, size_t *outn, struct err *err)
{
	char *o = malloc(n + 1);
	if (!o)
		return oom(err);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (s[i] == '+') {
			o[k++] = ' ';
		} else if (s[i] == '%' && i + 2 < n &&
			   (hi = hex_nibble((unsigned char)s[i + 1])) >= 0 &&
			   (lo = hex_nibble((unsigned char)s[i + 2])) >= 0) {
			o[k++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			o[k++] = s[i];
		}
	}
	o[k] = 0;
	if (!utf8_valid((const unsigned char *)o, k)) {
		secret_free(o, k + 1);
		return err_set(err, "invalid query string: not valid UTF-8 after percent-decoding");
	}
	*outp = o;
	*outn = k;
	return 0;
}

static void qs_free_entries(struct qs_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].key);
		if (e[i].val)
			secret_free(e[i].val, e[i].vlen + 1);
	}
	free(e);
}

/* Rust `str::parse::<uN/iN>()` as serde_qs uses it, then the field's range. */
static int qs_int(const ProtobufCFieldDescriptor *f, void *dst, const char *s, size_t n,
		  struct err *err)
{
	int neg = 0;
	size_t i = 0;
	if (n == 0)
		return err_set(err, "field `%s`: cannot parse integer from empty string", f->name);
	if (s[0] == '+' || (s[0] == '-' && !is_unsigned(f->type))) {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == n)
		return err_set(err, "field `%s`: invalid digit found in string", f->name);
	uint64_t mag = 0, lim = int_limit(f->type, neg);
	for (; i < n; i++) {
		if (!json_scan_is_digit((unsigned char)s[i]))
			return err_set(err, "field `%s`: invalid digit found in string", f->name);
		unsigned d = (unsigned)(s[i] - '0');
		if (mag > (lim - d) / 10) /* Rust stops at the first overflow */
			return err_set(err, "field `%s`: number too %s to fit in target type",
				       f->name, neg ? "small" : "large");
		mag = mag * 10 + d;
	}
	int_store(f->type, dst, neg, mag);
	return 0;
}

static int qs_value(const ProtobufCFieldDescriptor *f, void *dst, const char *v, size_t n,
		    struct err *err)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		return set_string(f, dst, v, n, err);
	case PROTOBUF_C_TYPE_BYTES:
		return set_hex(f, dst, v, n, err);
	case PROTOBUF_C_TYPE_BOOL:
		if (n == 4 && memcmp(v, "true", 4) == 0)
			*(protobuf_c_boolean *)dst = 1;
		else if (n == 5 && memcmp(v, "false", 5) == 0)
			*(protobuf_c_boolean *)dst = 0;
		else
			return err_set(err, "field `%s`: provided string was not `true` or `false`",
				       f->name);
		return 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return type_error(err, f, 1, "string");
	default:
		if (!is_int_type(f->type))
			return err_set(err, "field `%s`: unsupported type", f->name);
		return qs_int(f, dst, v, n, err);
	}
}

/* Splits the query into entries. Parse errors of serde_qs that do not depend
 * on the target type are reported here, for every key. */
static int qs_tokenize(const char *q, size_t len, struct qs_entry **out, size_t *nout,
		       struct err *err)
{
	struct qs_entry *e = NULL;
	size_t n = 0, cap = 0;
	size_t i = 0;
	while (i < len) {
		if (q[i] == '&') {
			i++;
			continue;
		}
		size_t seg = i, end = i;
		while (end < len && q[end] != '&')
			end++;
		i = end;
		if (q[seg] == '[') {
			err_set(err, "query keys starting with `[` are not supported");
			goto fail;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct qs_entry *ne =
			    ncap > SIZE_MAX / sizeof *e ? NULL : realloc(e, ncap * sizeof *e);
			if (!ne) {
				oom(err);
				goto fail;
			}
			e = ne;
			cap = ncap;
		}
		struct qs_entry *x = &e[n];
		memset(x, 0, sizeof *x);
		x->order = n++;
		/* serde_qs: the first byte always belongs to the key */
		size_t k = seg + 1;
		while (k < end && q[k] != '[' && q[k] != '=')
			k++;
		if (qs_decode(q + seg, k - seg, &x->key, &x->klen, err) < 0)
			goto fail;
		size_t pos = k;
		x->form = QS_FLAT;
		for (int group = 0; pos < end && q[pos] == '['; group++) {
			size_t gs = pos + 1, ge = gs;
			if (gs >= end) {
				err_set(err, "invalid query string: query string ended before "
					     "expected");
				goto fail;
			}
			if (q[gs] == '[') {
				err_set(err, "invalid query string: found another opening bracket "
					     "before the closed bracket");
				goto fail;
			}
			while (ge < end && q[ge] != ']')
				ge++;
			char *g = NULL;
			size_t gl = 0;
			if (qs_decode(q + gs, ge - gs, &g, &gl, err) < 0)
				goto fail;
			if (group > 0 || x->form == QS_SEQ) {
				x->form = QS_OTHER;
			} else if (ge == gs) {
				x->form = QS_SEQ;
			} else if (json_scan_is_digit((unsigned char)q[gs])) {
				/* serde_qs parses the index as usize while parsing */
				size_t idx = 0;
				for (size_t j = 0; j < gl; j++) {
					if (!json_scan_is_digit((unsigned char)g[j])) {
						free(g);
						err_set(err, "invalid query string: invalid digit "
							     "found in string");
						goto fail;
					}
					if (idx > (SIZE_MAX - (size_t)(g[j] - '0')) / 10) {
						free(g);
						err_set(err, "invalid query string: number too "
							     "large to fit in target type");
						goto fail;
					}
					idx = idx * 10 + (size_t)(g[j] - '0');
				}
				x->form = QS_ORD;
				x->index = idx;
			} else {
				x->form = QS_OTHER;
			}
			free(g);
			pos = ge < end ? ge + 1 : end;
		}
		const char *v = "";
		size_t vl = 0;
		if (pos < end) {
			if (q[pos] != '=') {
				err_set(err,
					"invalid query string: unexpected character after `]`");
				goto fail;
			}
			v = q + pos + 1;
			vl = end - pos - 1;
		}
		if (qs_decode(v, vl, &x->val, &x->vlen, err) < 0)
			goto fail;
	}
	*out = e;
	*nout = n;
	return 0;
fail:
	qs_free_entries(e, n);
	return -1;
}

static int qs_cmp_key(const void *a, const void *b)
{
	const struct qs_entry *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->key, y->key, n);
	if (c)
		return c;
	if (x->klen != y->klen)
		return x->klen < y->klen ? -1 : 1;
	return x->order < y->order ? -1 : (x->order > y->order);
}

static int qs_cmp_index(const void *a, const void *b)
{
	const struct qs_entry *x = a, *y = b;
	return x->index < y->index ? -1 : (x->index > y->index);
}

static int qs_multiple(const struct qs_entry *x, struct err *err)
{
	char k[64];
	safe_key(x->key, x->klen, k, sizeof k);
	return err_set(err, "Multiple values for one key: \"%s\"", k);
}

/* Applies the entries run[0..n) that share one root key to field f of m. */
static int qs_apply(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f,
		    ProtobufCMessage *m, struct qs_entry *run, size_t n, struct err *err)
{
	enum fkind k = FK_PLAIN;
	TRY(field_kind(d, f, &k, err));
	void *mem = MEMBER(m, f->offset);
	if (run[0].form == QS_FLAT) {
		const struct qs_entry *x = &run[0];
		if (k == FK_REPEATED)
			return type_error(err, f, 0, "string");
		/* serde_qs deserialize_option: an empty value is None */
		if (x->vlen == 0 && (k == FK_OPTIONAL || f->type == PROTOBUF_C_TYPE_MESSAGE))
			return 0;
		if (k == FK_OPTIONAL)
			*(uint32_t *)MEMBER(m, f->quantifier_offset) = f->id;
		return qs_value(f, mem, x->val, x->vlen, err);
	}
	if (k != FK_REPEATED || f->type == PROTOBUF_C_TYPE_MESSAGE)
		return err_set(err,
			       "field `%s`: bracketed query keys are not supported for this field",
			       f->name);
	enum qs_form form = run[0].form;
	for (size_t i = 0; i < n; i++)
		if (run[i].form != form || form == QS_OTHER)
			return err_set(
			    err, "field `%s`: use either `%s[]=v` or `%s[N]=v` for a sequence",
			    f->name, f->name, f->name);
	if (form == QS_ORD) {
		qsort(run, n, sizeof *run, qs_cmp_index);
		for (size_t i = 1; i < n; i++)
			if (run[i].index == run[i - 1].index)
				return qs_multiple(&run[i], err);
	}
	size_t cap = 0;
	for (size_t i = 0; i < n; i++) {
		void *slot = repeated_add(m, f, &cap, err);
		if (!slot)
			return -1;
		TRY(qs_value(f, slot, run[i].val, run[i].vlen, err));
	}
	return 0;
}

ProtobufCMessage *prpc_query_decode(const ProtobufCMessageDescriptor *d, const char *query,
				    size_t len, struct err *err)
{
	if (prpc_desc_check(d, err) < 0)
		return NULL;
	ProtobufCMessage *m = prpc_message_new(d);
	if (!m) {
		oom(err);
		return NULL;
	}
	if (len == 0)
		return m;
	if (!query) {
		err_set(err, "no query string");
		prpc_message_free(m);
		return NULL;
	}
	struct qs_entry *e = NULL;
	size_t n = 0;
	if (qs_tokenize(query, len, &e, &n, err) < 0) {
		prpc_message_free(m);
		return NULL;
	}
	int rc = 0;
	if (n)
		qsort(e, n, sizeof *e, qs_cmp_key);
	for (size_t a = 0, b; rc == 0 && a < n; a = b) {
		size_t nflat = 0;
		for (b = a;
		     b < n && e[b].klen == e[a].klen && memcmp(e[b].key, e[a].key, e[a].klen) == 0;
		     b++)
			nflat += e[b].form == QS_FLAT;
		/* a key given twice, or both flat and bracketed, is an error
		 * even for unknown keys (serde_qs marks the key invalid) */
		if (nflat > 1 || (nflat == 1 && b - a > 1)) {
			rc = qs_multiple(&e[a], err);
			break;
		}
		const ProtobufCFieldDescriptor *f = NULL;
		if (strlen(e[a].key) == e[a].klen)
			f = protobuf_c_message_descriptor_get_field_by_name(d, e[a].key);
		if (f)
			rc = qs_apply(d, f, m, e + a, b - a, err);
	}
	qs_free_entries(e, n);
	if (rc < 0) {
		prpc_message_free(m);
		return NULL;
	}
	return m;
}
