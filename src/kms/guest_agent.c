/*
 * guest_agent.c — the guest-agent client (guest_agent.h).
 * spec: kms-protocol §12.7 (address, Attest, Info), §9.1 (what Attest returns).
 */
#include "kms/guest_agent.h"

#include "net/http_client.h"
#include "util/fs.h"
#include "util/hex.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGENT_MAX_RESPONSE (8u << 20) /* a quote with its event log is ~10-100 KiB */
#define AGENT_ADDR_MAX 1024

static const char *const DEFAULT_SOCKETS[] = {"/var/run/dstack/dstack.sock",
					      "/var/run/dstack.sock"};

struct guest_agent {
	pthread_mutex_t mu;
	struct http_client *http;
	char address[AGENT_ADDR_MAX];	/* as configured, for messages */
	char unix_path[AGENT_ADDR_MAX]; /* "" for TCP */
	char base_url[AGENT_ADDR_MAX];	/* http://localhost or http://host:port */
	long timeout_ms, connect_ms;
};

static int parse_address(struct guest_agent *g, const char *a, struct err *err)
{
	size_t n = strlen(a);
	if (n == 0 || n >= AGENT_ADDR_MAX - 16)
		return err_set(err, "DSTACK_AGENT_ADDRESS is empty or too long");
	snprintf(g->address, sizeof g->address, "%s", a);
	if (strncmp(a, "unix:", 5) == 0) {
		if (a[5] != '/')
			return err_set(err,
				       "DSTACK_AGENT_ADDRESS \"%s\": a unix: address needs an "
				       "absolute path (unix:/var/run/dstack.sock)",
				       a);
		snprintf(g->unix_path, sizeof g->unix_path, "%s", a + 5);
		snprintf(g->base_url, sizeof g->base_url, "http://localhost");
		return 0;
	}
	if (strncmp(a, "http://", 7) == 0 && a[7] && !strchr(a + 7, '?')) {
		snprintf(g->base_url, sizeof g->base_url, "%s", a);
		size_t m = strlen(g->base_url);
		while (m > 7 && g->base_url[m - 1] == '/')
			g->base_url[--m] = 0;
		return 0;
	}
	return err_set(err,
		       "DSTACK_AGENT_ADDRESS \"%s\" is neither unix:/path nor http://host:port", a);
}

struct guest_agent *guest_agent_new(long timeout_ms, struct err *err)
{
	struct guest_agent *g = calloc(1, sizeof *g);
	if (!g) {
		err_set(err, "out of memory");
		return NULL;
	}
	g->timeout_ms = timeout_ms > 0 ? timeout_ms : GUEST_AGENT_TIMEOUT_MS;
	g->connect_ms =
	    g->timeout_ms < GUEST_AGENT_CONNECT_MS ? g->timeout_ms : GUEST_AGENT_CONNECT_MS;
	pthread_mutex_init(&g->mu, NULL);
	const char *env = getenv("DSTACK_AGENT_ADDRESS");
	char def[AGENT_ADDR_MAX];
	if (!env || !*env) {
		const char *path = DEFAULT_SOCKETS[0];
		for (size_t i = 0; i < 2; i++)
			if (fs_exists(DEFAULT_SOCKETS[i])) {
				path = DEFAULT_SOCKETS[i];
				break;
			}
		snprintf(def, sizeof def, "unix:%s", path);
		env = def;
	}
	struct http_client_opts o = {.user_agent = "dstack-kms"};
	if (parse_address(g, env, err) < 0 || !(g->http = http_client_new(&o, err))) {
		guest_agent_free(g);
		return NULL;
	}
	return g;
}

void guest_agent_free(struct guest_agent *g)
{
	if (!g)
		return;
	http_client_free(g->http);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

const char *guest_agent_address(const struct guest_agent *g)
{
	return g->address;
}

/* POST <base>/<method>?json with body; the parsed JSON object answer. */
static json_t *call(struct guest_agent *g, const char *method, const char *body, struct err *err)
{
	char url[AGENT_ADDR_MAX + 64];
	snprintf(url, sizeof url, "%s/%s?json", g->base_url, method);
	struct http_header h = {"Content-Type", "application/json"};
	struct http_request req = {
	    .method = "POST",
	    .url = url,
	    .unix_socket = g->unix_path[0] ? g->unix_path : NULL,
	    .headers = &h,
	    .n_headers = 1,
	    .body = body,
	    .body_len = strlen(body),
	    .connect_timeout_ms = g->connect_ms,
	    .timeout_ms = g->timeout_ms,
	    .max_response_bytes = AGENT_MAX_RESPONSE,
	};
	struct http_response resp;
	pthread_mutex_lock(&g->mu);
	int rc = http_client_do(g->http, &req, &resp, err);
	pthread_mutex_unlock(&g->mu);
	json_t *j = NULL;
	if (rc < 0) {
		err_wrap(err, "guest agent %s: %s failed", g->address, method);
		goto out;
	}
	if (resp.status != 200) {
		char st[64];
		http_status_text(resp.status, st, sizeof st);
		/* the agent's prpc error text is short and ours: keep its first line */
		size_t n = resp.body.len < 200 ? resp.body.len : 200;
		const char *nl = resp.body.p ? memchr(resp.body.p, '\n', n) : NULL;
		if (nl)
			n = (size_t)(nl - (const char *)resp.body.p);
		err_set(err, "guest agent %s: %s failed: %s: %.*s", g->address, method, st, (int)n,
			resp.body.p ? (const char *)resp.body.p : "");
		goto out;
	}
	json_error_t je;
	j = json_loadb((const char *)resp.body.p, resp.body.len, JSON_REJECT_DUPLICATES, &je);
	if (!j || !json_is_object(j)) {
		err_set(err, "guest agent %s: %s answered something that is not a JSON object",
			g->address, method);
		json_decref(j);
		j = NULL;
	}
out:
	http_response_free(&resp);
	return j;
}

int guest_agent_attest(struct guest_agent *g, const uint8_t report_data[64], struct buf *out,
		       struct err *err)
{
	char body[32 + 128];
	char rd[129];
	hex_encode(report_data, 64, rd);
	snprintf(body, sizeof body, "{\"report_data\":\"%s\"}", rd);
	json_t *j = call(g, "Attest", body, err);
	if (!j)
		return -1;
	const char *hex = json_string_value(json_object_get(j, "attestation"));
	size_t before = out->len;
	int rc = 0;
	if (!hex || !*hex)
		rc = err_set(err, "guest agent %s: Attest answered no \"attestation\"", g->address);
	else if (hex_decode(hex, strlen(hex), out) < 0) {
		out->len = before;
		rc = err_set(err, "guest agent %s: Attest answered an attestation that is not hex",
			     g->address);
	}
	json_decref(j);
	return rc;
}

int guest_agent_info(struct guest_agent *g, struct buf *vm_config, struct err *err)
{
	json_t *j = call(g, "Info", "null", err);
	if (!j)
		return -1;
	json_t *v = json_object_get(j, "vm_config");
	int rc = 0;
	if (v && !json_is_string(v))
		rc = err_set(err, "guest agent %s: Info answered a vm_config that is not a string",
			     g->address);
	else if (buf_append_str(vm_config, v ? json_string_value(v) : "") < 0)
		rc = err_set(err, "out of memory");
	json_decref(j);
	return rc;
}

int guest_agent_attest_cb(void *ud, const uint8_t report_data[64], struct buf *out, struct err *err)
{
	return guest_agent_attest(ud, report_data, out, err);
}
