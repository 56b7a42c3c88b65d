/*
 * prpc_json.h — the JSON form of protobuf-c messages used by prpc's JSON mode,
 * and the GET query-string form of requests (kms-protocol §2.2, §2.3, §3).
 *
 * Generic over any protobuf-c descriptor: field names are the proto names,
 * bytes are lowercase hex, a oneof whose only member is field `x` is proto3
 * `optional x` (JSON value or null), a nested message is an object or null.
 * Decoding follows serde_json / serde_qs as used upstream. Never logs field
 * values; scratch copies of decoded values are wiped.
 */
#ifndef PRPC_PRPC_JSON_H
#define PRPC_PRPC_JSON_H

#include "util/buf.h"
#include "util/err.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* serde_json's recursion limit: at most 127 nested objects/arrays are accepted. */
#define PRPC_JSON_MAX_DEPTH 128

/*
 * Appends the compact JSON of msg (serde_json layout: no spaces, fields in
 * field-number order, which is declaration order in kms_rpc.proto) to out.
 * Pass a buffer made with buf_init_secret() when msg carries keys.
 * A set optional string whose pointer is protobuf_c_empty_string renders as
 * "" here but is dropped by protobuf_c_message_pack (protobuf-c 1.4 quirk):
 * point it at a literal "" or an allocated string instead.
 * Fails on strings that are not UTF-8, NULL data with a non-zero length, and
 * field types the mapping does not cover (float, double, proto2 labels,
 * oneofs with several members). On failure out may hold a partial document.
 */
int prpc_json_encode(const ProtobufCMessage *msg, struct buf *out, struct err *err);

/*
 * Decodes a JSON request body into a new message of type d (serde_json rules:
 * the top level must be an object; unknown keys ignored; a repeated known key
 * is "duplicate field `x`"; missing fields keep proto defaults; null only for
 * optional and message fields). An empty body (len 0) gives the all-default
 * message, as upstream's dispatcher does. Returns NULL with err set on failure.
 * Free the result with prpc_message_free() (or protobuf_c_message_free_unpacked).
 */
ProtobufCMessage *prpc_json_decode(const ProtobufCMessageDescriptor *d, const char *body,
				   size_t len, struct err *err);

/*
 * Decodes a raw (still percent-encoded) query string, without the '?', into a
 * new message of type d using serde_qs 0.13 strict rules: `key=value` pairs
 * split on '&', '+' is a space, %XX decoded, keys and values must be UTF-8,
 * unknown keys (such as `json`) ignored, a key given twice is an error
 * ("Multiple values for one key"), `key=` on an optional or message field
 * means unset, repeated scalars as `k[]=v` or `k[0]=v`. Not supported (error):
 * keys starting with '[', bracketed keys of known non-repeated fields.
 * Bracketed keys of unknown fields are skipped. len 0 gives the defaults.
 */
ProtobufCMessage *prpc_query_decode(const ProtobufCMessageDescriptor *d, const char *query,
				    size_t len, struct err *err);

/* A heap message with proto defaults, freeable by prpc_message_free(); NULL on OOM. */
ProtobufCMessage *prpc_message_new(const ProtobufCMessageDescriptor *d);

/*
 * Wipes every string and bytes value, then frees the message with
 * protobuf_c_message_free_unpacked(m, NULL). Only for messages whose storage
 * this process allocated (prpc_*_decode, prpc_message_new, protobuf unpack);
 * never for messages pointing at string literals. NULL is fine.
 */
void prpc_message_free(ProtobufCMessage *m);

/* 1 when d has no fields (kms.Empty, the stand-in for google.protobuf.Empty). */
int prpc_desc_is_empty(const ProtobufCMessageDescriptor *d);

/* Checks, recursively, that every field of d is one the mapping supports. */
int prpc_desc_check(const ProtobufCMessageDescriptor *d, struct err *err);

#endif
