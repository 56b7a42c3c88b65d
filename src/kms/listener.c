/*
 * listener.c — routes of the main HTTPS listener (kms-protocol §2.6):
 * /prpc/<method> to the KMS service, GET /health, GET /metrics (when
 * enabled), 404 otherwise; every response carries X-App-Version. Also the
 * admission limits that every KMS listener (RPC, onboard, admin) takes
 * from [rpc].
 */
#include "kms/kms.h"

#include <string.h>

struct http_server_limits kms_listener_limits(const struct kms_config *c)
{
	return (struct http_server_limits){
	    .max_connections = c->max_connections,
	    .max_connections_per_client = c->max_connections_per_client,
	    .header_timeout_ms = (long)c->header_timeout_ms,
	    .read_timeout_ms = (long)c->read_timeout_ms,
	    .max_buffered = (size_t)c->max_buffered_bytes,
	};
}

void kms_main_handler(void *ud, const struct http_req *req, struct http_resp *resp)
{
	struct kms *k = ud;
	http_resp_header(resp, "X-App-Version", k->version);
	if (strncmp(req->path, "/prpc/", 6) == 0) {
		prpc_handle(&k->service, req, resp);
		return;
	}
	int get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
	if (get && strcmp(req->path, "/health") == 0) {
		resp->status = 200;
		resp->content_type = "text/plain; charset=utf-8";
		buf_append_str(&resp->body, "OK");
		return;
	}
	if (get && strcmp(req->path, "/metrics") == 0 && k->cfg.metrics_enabled) {
		resp->status = 200;
		resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
		struct http_server *srv = atomic_load(&k->rpc_srv);
		struct http_server_stats st = {0};
		if (srv)
			http_server_stats(srv, &st);
		if (metrics_render(&k->metrics, &resp->body) < 0 ||
		    metrics_render_admission("rpc", &st, &resp->body) < 0) {
			resp->status = 500;
			buf_reset(&resp->body);
		}
		return;
	}
	resp->status = 404;
	resp->content_type = "text/plain; charset=utf-8";
	buf_printf(&resp->body, "404 Not Found: %s %s\n", req->method, req->path);
}
