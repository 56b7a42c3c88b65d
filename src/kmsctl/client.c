/*
 * client.c — how dstack-kmsctl talks to a KMS: one http_client per run, prpc
 * calls in JSON mode (POST /prpc/KMS.<Method>?json) and plain GETs, with the
 * server verified against --cacert, the system store, or (explicitly) not at
 * all.
 *
 * With --servername the certificate is checked for that name instead of the
 * URL host: libcurl's own checks are switched off and an SSL_CTX hook turns
 * OpenSSL's chain and host-name verification on, so a failed check aborts the
 * handshake before any request byte is sent. Never puts a URL path or query
 * into an error (http_client names only the origin). Bodies are wiped on free:
 * GetTempCaCert answers carry a private key.
 * spec: kms-protocol §2.1–2.4 (routes, JSON mode, 400 error bodies), §2.6.
 */
#include "kmsctl/kmsctl.h"
#include "util/fs.h"

#include "util/buf.h"
#include "util/log.h"
#include "util/secret.h"
#include "version.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

/* GetMeta with a bootstrap attestation is the largest answer (a few 10 KiB). */
#define KMSCTL_MAX_RESPONSE (4u << 20)

/* A clear error for a missing or non-PEM --cacert, before any connection. */
static int check_cacert(const struct kmsctl *ctl, struct err *err)
{
	if (!ctl->cacert)
		return 0;
	FILE *f = fopen(ctl->cacert, "r");
	if (!f)
		return err_set(err, "--cacert %s: %s", ctl->cacert, strerror(errno));
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		return err_openssl(err, "--cacert %s: no PEM certificate in the file", ctl->cacert);
	X509_free(x);
	return 0;
}

/* Runs on every new TLS connection when --servername is given. */
static int verify_by_servername(void *ssl_ctx, void *arg)
{
	const struct kmsctl *ctl = arg;
	SSL_CTX *ctx = ssl_ctx;
	int ok = ctl->cacert ? SSL_CTX_load_verify_locations(ctx, ctl->cacert, NULL)
			     : SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1)
		return -1;
	X509_VERIFY_PARAM *p = SSL_CTX_get0_param(ctx);
	unsigned char ip[16];
	int is_ip = inet_pton(AF_INET, ctl->servername, ip) == 1 ||
		    inet_pton(AF_INET6, ctl->servername, ip) == 1;
	X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(p, ctl->servername)
		   : X509_VERIFY_PARAM_set1_host(p, ctl->servername, 0);
	if (ok != 1)
		return -1;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return 0;
}

static int ensure_client(struct kmsctl *ctl, struct err *err)
{
	if (ctl->http)
		return 0;
	TRY(check_cacert(ctl, err));
	struct http_client_opts o = {.user_agent = KMSCTL_PROG "/" KMS_VERSION};
	if (ctl->insecure) {
		o.tls.insecure_skip_verify = 1;
	} else if (ctl->servername) {
		/* libcurl would check the URL host: the hook checks the given name. */
		o.tls.insecure_skip_verify = 1;
		o.tls.ssl_ctx_fn = verify_by_servername;
		o.tls.ssl_ctx_arg = ctl;
	} else {
		o.tls.ca_file = ctl->cacert; /* NULL = system store */
	}
	o.tls.client_cert_pem = ctl->client_cert_pem;
	o.tls.client_key_pem = ctl->client_key_pem;
	ctl->http = http_client_new(&o, err);
	return ctl->http ? 0 : -1;
}

void kmsctl_close(struct kmsctl *ctl)
{
	http_client_free(ctl->http);
	ctl->http = NULL;
	free(ctl->client_cert_pem);
	if (ctl->client_key_pem)
		secret_free(ctl->client_key_pem, ctl->client_key_len + 1);
	ctl->client_cert_pem = ctl->client_key_pem = NULL;
}

static char *read_pem(const char *path, int secret, size_t *len, struct err *err)
{
	struct buf b;
	if (secret)
		buf_init_secret(&b);
	else
		b = (struct buf)BUF_INIT;
	if (fs_read_file(path, 256 * 1024, &b, err) < 0) {
		buf_free(&b);
		return NULL;
	}
	char *s = malloc(b.len + 1);
	if (s) {
		memcpy(s, buf_str(&b), b.len + 1);
		*len = b.len;
	} else {
		err_set(err, "out of memory");
	}
	buf_free(&b);
	return s;
}

int kmsctl_set_client_cert(struct kmsctl *ctl, const char *cert_file, const char *key_file,
			   struct err *err)
{
	size_t n;
	if (ctl->http)
		return err_set(err, "the client certificate must be set before the first call");
	if (!(ctl->client_cert_pem = read_pem(cert_file, 0, &n, err)))
		return err_wrap(err, "--cert");
	if (!(ctl->client_key_pem = read_pem(key_file, 1, &ctl->client_key_len, err)))
		return err_wrap(err, "--key");
	return 0;
}

void kmsctl_print_body(const struct http_response *resp)
{
	const char *s = buf_str(&resp->body);
	fwrite(s, 1, resp->body.len, stdout);
	if (resp->body.len == 0 || s[resp->body.len - 1] != '\n')
		putchar('\n');
}

void kmsctl_response_free(struct http_response *resp)
{
	if (resp->body.p)
		secret_wipe(resp->body.p, resp->body.cap);
	http_response_free(resp);
}

static int do_request(struct kmsctl *ctl, const char *method, const char *path, const char *body,
		      struct http_response *resp, struct err *err)
{
	memset(resp, 0, sizeof *resp);
	TRY(ensure_client(ctl, err));
	struct buf url = BUF_INIT;
	if (buf_printf(&url, "%s%s", ctl->url, path) < 0) {
		buf_free(&url);
		return err_set(err, "out of memory");
	}
	const struct http_header json_ct = {"Content-Type", "application/json"};
	struct http_request req = {
	    .method = method,
	    .url = buf_str(&url),
	    .headers = body ? &json_ct : NULL,
	    .n_headers = body ? 1 : 0,
	    .body = body ? body : "",
	    .body_len = body ? strlen(body) : 0,
	    .connect_timeout_ms = ctl->timeout_ms,
	    .timeout_ms = ctl->timeout_ms,
	    .max_response_bytes = KMSCTL_MAX_RESPONSE,
	    .capture_peer_cert = ctl->capture_cert,
	};
	int rc = http_client_do(ctl->http, &req, resp, err);
	buf_free(&url);
	return rc;
}

/* The `error` text of a JSON-mode 400 body (§2.4), or NULL; caller frees. */
static char *kms_error_text(const struct http_response *resp)
{
	json_error_t jerr;
	json_t *j = json_loadb((const char *)resp->body.p, resp->body.len, 0, &jerr);
	const char *s = json_is_object(j) ? json_string_value(json_object_get(j, "error")) : NULL;
	char *out = s ? strdup(s) : NULL;
	json_decref(j);
	return out;
}

int kmsctl_rpc(struct kmsctl *ctl, const char *method, const char *json_body,
	       struct http_response *resp, struct err *err)
{
	char path[128];
	if (strchr(method, '.')) /* another service: "Onboard.Bootstrap" */
		snprintf(path, sizeof path, "/prpc/%s?json", method);
	else
		snprintf(path, sizeof path, "/prpc/KMS.%s?json", method);
	if (do_request(ctl, "POST", path, json_body, resp, err) < 0)
		return err_wrap(err, "%s", method);
	if (resp->status == 200)
		return 0;
	char origin[256], status[96];
	log_url_origin(ctl->url, origin, sizeof origin);
	http_status_text(resp->status, status, sizeof status);
	if (resp->status == 400) {
		char *text = kms_error_text(resp);
		if (text) {
			err_set(err, "%s: KMS error: %.700s", method, text);
			free(text);
			return -1;
		}
	}
	return err_set(err, "%s: %s answered HTTP %s", method, origin, status);
}

int kmsctl_get(struct kmsctl *ctl, const char *path, struct http_response *resp, struct err *err)
{
	return do_request(ctl, "GET", path, NULL, resp, err);
}
