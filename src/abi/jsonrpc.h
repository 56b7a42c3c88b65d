/*
 * jsonrpc.h — Ethereum JSON-RPC 2.0 message building and answer parsing for
 * dstack-auth-eth: batch requests, eth_call parameters pinned to a block,
 * matching answers to requests by id, hex quantities and data.
 *
 * Pure (no sockets). Error messages quote at most a short, sanitised part
 * of the node's error text and never any URL.
 * spec: auth-eth §2.4 (round trips), §2.3 (reverts as JSON-RPC errors).
 */
#ifndef ABI_JSONRPC_H
#define ABI_JSONRPC_H

#include "util/buf.h"
#include "util/err.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define JSONRPC_MAX_BATCH 8

/* Appends {"jsonrpc":"2.0","id":id,"method":method,"params":params_json}. */
int jsonrpc_request(struct buf *b, unsigned id, const char *method, const char *params_json);

/* Writes [{"to":"0x<to>","data":"0x<data>"},"0x<block>"] into b (reset first). */
int jsonrpc_call_params(struct buf *b, const uint8_t to[20], const uint8_t *data, size_t n,
			uint64_t block);

struct jsonrpc_answers {
	json_t *root;
	const json_t *result[JSONRPC_MAX_BATCH]; /* borrowed from root */
};

/*
 * Parses the answer to n requests with ids first_id..first_id+n-1 (a batch
 * array in any order, or one object when n == 1). Fails on a JSON-RPC error
 * in any of them (reverts included), a missing answer or result, or a body
 * that is not JSON-RPC. Free with jsonrpc_answers_free (also after failure).
 */
int jsonrpc_parse(const uint8_t *body, size_t len, unsigned first_id, size_t n,
		  struct jsonrpc_answers *out, struct err *err);
void jsonrpc_answers_free(struct jsonrpc_answers *a);

/* "0x1a" -> 26 (at most 64 bits). */
int jsonrpc_quantity(const json_t *v, uint64_t *out, struct err *err);
/* "0x…" (even number of digits) -> bytes appended to out. */
int jsonrpc_data(const json_t *v, struct buf *out, struct err *err);

#endif
