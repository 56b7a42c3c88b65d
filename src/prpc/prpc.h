/*
 * prpc.h — the prpc transport (kms-protocol §2): a service is a table of
 * {name, request descriptor, response descriptor, handler}. The transport
 * resolves the method from the path (bare or prefixed), picks JSON or
 * protobuf, decodes the request, calls the handler and encodes the answer or
 * the error (HTTP 400). Handlers never see HTTP.
 */
#ifndef PRPC_PRPC_H
#define PRPC_PRPC_H

#include "net/http_server.h"
#include "util/err.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

struct prpc_arena_item;

struct prpc_call {
	const struct http_req *http;
	const char *method;
	int json;
	struct prpc_arena_item *arena; /* allocations wiped and freed after the reply */
	void *peer; /* what pre_dispatch attached (e.g. a verified caller attestation) */
};

/* Build the response in *resp (allocated with prpc_alloc, or static). */
typedef int (*prpc_fn)(void *svc, struct prpc_call *call, const ProtobufCMessage *req,
		       ProtobufCMessage **resp, struct err *err);

struct prpc_method {
	const char *name;
	const ProtobufCMessageDescriptor *req_desc;  /* NULL: google.protobuf.Empty */
	const ProtobufCMessageDescriptor *resp_desc; /* NULL: Empty (JSON `null`) */
	prpc_fn fn;
};

struct prpc_service {
	const char *prefix; /* "KMS." — stripped repeatedly from the method segment */
	const struct prpc_method *methods;
	size_t nmethods;
	void *svc;
	/* Per-method body limit in bytes. */
	uint64_t (*body_limit)(void *svc, const char *method);
	/* Runs before the request is decoded (kms-protocol §2.5): may attach
	 * call->peer; a failure is a pre-dispatch error. */
	int (*pre_dispatch)(void *svc, struct prpc_call *call, struct err *err);
	/* Releases call->peer after the reply. */
	void (*post_dispatch)(void *svc, struct prpc_call *call);
	/* Called once per request with the resolved method (or NULL) and outcome. */
	void (*observe)(void *svc, const char *method, int status, double seconds);
	/* Requests for which needs_pool answers 1 (they may wait on the network
	 * or the disk) run on `pool`, never on the event loop; the loop answers
	 * "deadline exceeded" if one is not done within deadline_ms, and "busy"
	 * at once when the pool is full. NULL pool: everything runs inline. */
	struct workpool *pool;
	long deadline_ms;
	int (*needs_pool)(void *svc, const char *method, const struct http_req *req);
};

/* Serve one request whose path starts with "/prpc/" (on the event loop). */
void prpc_handle(const struct prpc_service *s, const struct http_req *req, struct http_resp *resp);
/* The same, synchronously in the calling thread (what a pool job runs). */
void prpc_handle_now(const struct prpc_service *s, const struct http_req *req,
		     struct http_resp *resp);

/* The message of the answer to a request refused because the pool is full. */
#define PRPC_BUSY_PREFIX "busy"

/* Zeroed memory that lives until the reply is sent, then is wiped and freed. */
void *prpc_alloc(struct prpc_call *c, size_t n);
char *prpc_strdup(struct prpc_call *c, const char *s);
/* Copy bytes into arena memory (for protobuf `bytes` fields). */
int prpc_bytes(struct prpc_call *c, ProtobufCBinaryData *dst, const void *p, size_t n);

/* The `json` decision of §2.2 (GET, ?json[=|true|1], or Content-Type JSON). */
int prpc_wants_json(const struct http_req *req, int include_content_type);
/* Encode an error body as §2.4 into resp (status 400). */
void prpc_error_response(int json, const char *msg, struct http_resp *resp);

#endif
