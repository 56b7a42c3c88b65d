/*
 * jsonrpc.c — JSON-RPC 2.0 requests and answers for the Ethereum client of
 * dstack-auth-eth. Answers are matched by id (a batch may come back in any
 * order); any error member fails the whole exchange, so a revert or a
 * rate-limit answer can never be mistaken for a result.
 * Never copies more than a short printable excerpt of remote text into
 * error messages. spec: auth-eth §2.3, §2.4.
 */
#include "abi/jsonrpc.h"

#include "util/hex.h"

#include <stdio.h>
#include <string.h>

int jsonrpc_request(struct buf *b, unsigned id, const char *method, const char *params_json)
{
	return buf_printf(b, "{\"jsonrpc\":\"2.0\",\"id\":%u,\"method\":\"%s\",\"params\":%s}", id,
			  method, params_json);
}

int jsonrpc_call_params(struct buf *b, const uint8_t to[20], const uint8_t *data, size_t n,
			uint64_t block)
{
	buf_reset(b);
	TRY(buf_append_str(b, "[{\"to\":\"0x"));
	TRY(hex_append(b, to, 20));
	TRY(buf_append_str(b, "\",\"data\":\"0x"));
	TRY(hex_append(b, data, n));
	return buf_printf(b, "\"},\"0x%llx\"]", (unsigned long long)block);
}

/* A short printable excerpt of remote text for error messages. */
static void excerpt(const char *s, char *out, size_t outlen)
{
	size_t j = 0;
	for (size_t i = 0; s[i] && j + 1 < outlen && i < 160; i++)
		out[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[j] = '\0';
}

static int rpc_error(const json_t *e, struct err *err)
{
	const json_t *code = json_object_get(e, "code");
	const json_t *msg = json_object_get(e, "message");
	char m[200] = "";
	if (json_is_string(msg))
		excerpt(json_string_value(msg), m, sizeof m);
	if (json_is_integer(code))
		return err_set(err, "JSON-RPC error %lld: %s", (long long)json_integer_value(code),
			       m);
	return err_set(err, "JSON-RPC error: %s", m);
}

/* One answer object: its result, or the error it carries. */
static int take(const json_t *o, const json_t **result, struct err *err)
{
	const json_t *e = json_object_get(o, "error");
	if (e && !json_is_null(e))
		return rpc_error(e, err);
	const json_t *r = json_object_get(o, "result");
	if (!r)
		return err_set(err, "JSON-RPC answer without result");
	*result = r;
	return 0;
}

int jsonrpc_parse(const uint8_t *body, size_t len, unsigned first_id, size_t n,
		  struct jsonrpc_answers *out, struct err *err)
{
	memset(out, 0, sizeof *out);
	if (n == 0 || n > JSONRPC_MAX_BATCH)
		return err_set(err, "JSON-RPC: bad batch size");
	json_error_t je;
	out->root = json_loadb((const char *)body, len, 0, &je);
	if (!out->root)
		return err_set(err, "JSON-RPC answer is not JSON");
	if (json_is_object(out->root)) {
		/* one answer to one request, or one error for the whole batch */
		const json_t *id = json_object_get(out->root, "id");
		if (n == 1 && json_is_integer(id) && json_integer_value(id) == first_id)
			return take(out->root, &out->result[0], err);
		const json_t *e = json_object_get(out->root, "error");
		if (e && !json_is_null(e))
			return rpc_error(e, err);
		return err_set(err, "JSON-RPC answer does not match the request");
	}
	if (!json_is_array(out->root))
		return err_set(err, "JSON-RPC answer is not an object or array");
	size_t i;
	const json_t *o;
	json_array_foreach(out->root, i, o)
	{
		const json_t *id = json_object_get(o, "id");
		if (!json_is_object(o) || !json_is_integer(id)) {
			const json_t *e = json_is_object(o) ? json_object_get(o, "error") : NULL;
			if (e && !json_is_null(e))
				return rpc_error(e, err);
			return err_set(err, "JSON-RPC batch answer without id");
		}
		json_int_t k = json_integer_value(id) - (json_int_t)first_id;
		if (k < 0 || (size_t)k >= n)
			return err_set(err, "JSON-RPC answer with unknown id");
		if (out->result[k])
			return err_set(err, "JSON-RPC answer id repeated");
		if (take(o, &out->result[k], err) < 0)
			return -1;
	}
	for (size_t k = 0; k < n; k++)
		if (!out->result[k])
			return err_set(err, "JSON-RPC batch answer incomplete (%zu of %zu)",
				       json_array_size(out->root), n);
	return 0;
}

void jsonrpc_answers_free(struct jsonrpc_answers *a)
{
	json_decref(a->root);
	memset(a, 0, sizeof *a);
}

int jsonrpc_quantity(const json_t *v, uint64_t *out, struct err *err)
{
	if (!json_is_string(v))
		return err_set(err, "JSON-RPC quantity is not a string");
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return err_set(err, "JSON-RPC quantity is not 0x-hex");
	uint64_t x = 0;
	for (size_t i = 2; i < n; i++) {
		int d = hex_nibble(s[i]);
		if (d < 0)
			return err_set(err, "JSON-RPC quantity is not 0x-hex");
		if (x >> 60)
			return err_set(err, "JSON-RPC quantity above 64 bits");
		x = x << 4 | (uint64_t)d;
	}
	*out = x;
	return 0;
}

int jsonrpc_data(const json_t *v, struct buf *out, struct err *err)
{
	if (!json_is_string(v))
		return err_set(err, "JSON-RPC data is not a string");
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n < 2 || s[0] != '0' || s[1] != 'x')
		return err_set(err, "JSON-RPC data is not 0x-hex");
	if (hex_decode(s + 2, n - 2, out) < 0)
		return err_set(err, "JSON-RPC data is not 0x-hex");
	return 0;
}
