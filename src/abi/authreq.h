/*
 * authreq.h — the pure request/response logic of dstack-auth-eth: body
 * parsing with upstream's content-type rules, BootInfo validation with the
 * schema and type coercion of upstream's Node server (Fastify 5 + Ajv,
 * coerceTypes "array"), normalisation to ABI values, and the exact JSON
 * bodies it answers. No sockets, no chain: the HTTP and RPC glue lives in
 * src/auth-eth/. Never logs; error texts never contain request bytes.
 * spec: auth-eth §1.3, §1.4, §1.5, §5.3 (behaviour table).
 */
#ifndef ABI_AUTHREQ_H
#define ABI_AUTHREQ_H

#include "abi/abi.h"
#include "util/buf.h"
#include "util/err.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define AUTHREQ_BODY_LIMIT 1048576 /* Fastify's default bodyLimit (1 MiB) */

#define AUTHREQ_JSON_CTYPE "application/json; charset=utf-8"
#define AUTHREQ_REASON_UNAVAILABLE "authorization backend unavailable"
#define AUTHREQ_REASON_STALE "chain view is stale"

/* spec §1.4: the fixed answers. */
extern const char AUTHREQ_BODY_INVALID[];     /* 400 */
extern const char AUTHREQ_BODY_UNAVAILABLE[]; /* 200 */
extern const char AUTHREQ_BODY_STALE[];	      /* 200, ETH_MAX_BLOCK_AGE exceeded */
extern const char AUTHREQ_BODY_ERROR500[];    /* 500 */

/* What the HTTP layer hands over (header values may be NULL when absent). */
struct authreq_http {
	const char *content_type;
	const char *content_length;
	const char *transfer_encoding;
	const uint8_t *body;
	size_t body_len;
};

enum authreq_parse {
	AUTHREQ_PARSE_OK = 0,	 /* *out is the body (NULL: the request has no body) */
	AUTHREQ_PARSE_NO_PARSER, /* a Content-Type without parser: 500 on routes, ignored on 404 */
	AUTHREQ_PARSE_FAILED,	 /* empty/malformed JSON, __proto__, body over 1 MiB: 500 */
};

/*
 * Body parsing as Fastify does it for POST/PUT/DELETE: application/json and
 * text/plain (media type case-insensitive, parameters ignored) are parsed,
 * other types have no parser; no Content-Type with an empty body means "no
 * body". Invalid UTF-8 is replaced by U+FFFD as Node decodes it. The caller
 * frees *out with json_decref.
 */
enum authreq_parse authreq_parse_body(const struct authreq_http *h, json_t **out, struct err *err);

enum authreq_verdict {
	AUTHREQ_VALID = 0,
	AUTHREQ_INVALID,     /* schema validation failed: 400 invalid authorization request */
	AUTHREQ_UNAVAILABLE, /* passes the schema but upstream fails before any RPC: 200
				unavailable (bad EIP-55 checksum, a body wrapped in [ ]) */
};

/* A validated, normalised BootInfo ready for the ABI encoder. */
struct authreq {
	struct abi_boot_info bi; /* points into the storage below */
	struct buf tcb;
	struct buf adv_data;
	struct abi_bytes *adv;
	char app_id_hex[43]; /* "0x" + 40 digits after padding, case kept */
	char instance_id_hex[43];
};

/* body: what authreq_parse_body produced (NULL = no body). On AUTHREQ_VALID
 * the caller frees out with authreq_free (safe to call in every case). */
enum authreq_verdict authreq_validate(const json_t *body, struct authreq *out, struct err *err);
void authreq_free(struct authreq *r);

/* The seed tutorial's POST / methods. */
enum authreq_seed_method {
	AUTHREQ_SEED_UNKNOWN = 0,
	AUTHREQ_SEED_PING,
	AUTHREQ_SEED_IS_APP_ALLOWED,
};
struct authreq_seed {
	enum authreq_seed_method method;
	int app_id_ok; /* is_app_allowed: params.app_id is an address */
	uint8_t app_id[20];
};
void authreq_parse_seed(const json_t *body, struct authreq_seed *out);

/* ---- answers ---------------------------------------------------------- */

/* {"isAllowed":b,"reason":"…","gatewayAppId":"…"} in upstream's key order. */
int authreq_decision_json(struct buf *b, int allowed, const struct abi_bytes *reason,
			  const struct abi_bytes *gateway_app_id);
/* GET / (spec §1.5). kms_addr is KMS_CONTRACT_ADDR exactly as configured. */
int authreq_info_json(struct buf *b, const char *kms_addr, const char *rpc_endpoint,
		      const struct abi_bytes *gateway_app_id, uint64_t chain_id,
		      const uint8_t app_implementation[20]);
/* Fastify's 404: {"message":"Route M:URL not found","error":"Not Found","statusCode":404}. */
int authreq_not_found_json(struct buf *b, const char *method, const char *url);

/* Appends s as a JSON string literal escaped like JSON.stringify (s must be
 * valid UTF-8; see authreq_utf8_sanitize). */
int authreq_json_string(struct buf *b, const uint8_t *s, size_t n);
/* Replaces invalid UTF-8 by U+FFFD (WHATWG decoder, as Node decodes bodies). */
int authreq_utf8_sanitize(const uint8_t *p, size_t n, struct buf *out);
/* A finite double as JavaScript's Number#toString prints it ("123", "1.5",
 * "1e+21", "1.2345678901234568e+29"). out needs 32 bytes. */
void authreq_js_number(double v, char *out, size_t outlen);

/* ---- configuration helpers (upstream main.ts / server.ts) ------------- */

/* `${protocol}//${host}` of a WHATWG URL (default port dropped, host
 * lowercased), or "configured" when it does not parse. */
void authreq_public_rpc_endpoint(const char *url, char *out, size_t outlen);
/* PORT as `env.PORT ? parseInt(env.PORT) : 8000`, then Node's port check
 * (0..65535). Returns -1 for NaN or out of range. */
int authreq_parse_port(const char *s, int *port);

#endif
