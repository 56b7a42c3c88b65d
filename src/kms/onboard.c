/*
 * onboard.c — the onboard service (onboard.h): Bootstrap, Onboard (the
 * replication client: the source's attestation and policy first, then
 * GetKmsKey over RA-TLS mTLS), GetAttestationInfo, Finish, the page.
 * Bootstrap and Onboard are serialized by one mutex and run on the blocking
 * pool; their keys reach cert_dir only through bootstrap's crash-safe
 * commit, so a failure leaves nothing behind.
 * spec: kms-protocol §1, §12.1, §12.2, §12.4, §12.5, §7.7, §9.3–9.5.
 */
#include "kms/onboard.h"

#include "attest/appinfo.h"
#include "attest/ratls.h"
#include "audit/audit.h"
#include "crypto/cert.h"
#include "crypto/p256.h"
#include "kms/bootstrap.h"
#include "kms/guest_agent.h"
#include "kms/kms.h"
#include "kms_rpc.pb-c.h"
#include "net/http_client.h"
#include "net/service.h"
#include "prpc/prpc_json.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/secret.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ONBOARD_CONNECT_MS 5000
#define ONBOARD_TIMEOUT_MS 60000
#define ONBOARD_MAX_RESPONSE (1u << 20)
#define ONBOARD_DEADLINE_MS 150000 /* two source calls of 60 s, the agent, the commit */
#define URL_MAX 2048

struct onboard {
	struct kms *k;
	struct prpc_service svc;
	pthread_mutex_t op_mu; /* one Bootstrap / Onboard at a time (§12) */
	atomic_int finish;
};

static int file_exists_in(const char *dir, const char *name)
{
	char p[4096];
	return fs_join(p, sizeof p, dir, name) == 0 && fs_exists(p);
}

static const struct bootstrap_attester *attester(struct kms *k, struct bootstrap_attester *a)
{
	a->attest = guest_agent_attest_cb;
	a->ud = k->agent;
	return k->cfg.attest_rpc_cert ? a : NULL;
}

/* ---- Bootstrap (§12.1) ---- */

static int self_allowed(struct kms *k, const char *what, struct err *err)
{
	if (!k->cfg.enforce_self_authorization)
		return 0;
	struct boot_info bi;
	if (self_attest_fresh(k, NULL, &bi, err) < 0)
		return err_wrap(err, "KMS is not allowed to %s: cannot attest itself", what);
	struct auth_decision d;
	int rc = auth_check(k->auth, &bi, 1, &d, err);
	boot_info_free(&bi);
	if (rc < 0)
		return err_wrap(err, "KMS is not allowed to %s: the policy could not be asked",
				what);
	if (!d.allowed)
		return err_set(err, "KMS is not allowed to %s: boot denied: %s", what, d.reason);
	return 0;
}

/* the attestation of bootstrap-info.json, as just committed */
static int read_info_attestation(const char *dir, struct buf *out, struct err *err)
{
	char p[4096];
	struct buf t = BUF_INIT;
	TRY(fs_join(p, sizeof p, dir, "bootstrap-info.json") == 0
		? 0
		: err_set(err, "cert_dir path too long"));
	int rc = -1;
	json_t *j = NULL;
	if (fs_read_file(p, 1u << 20, &t, err) < 0)
		goto out;
	json_error_t je;
	j = json_loadb((const char *)t.p, t.len, 0, &je);
	const char *h = json_string_value(json_object_get(j, "attestation"));
	if (!h || hex_decode(h, strlen(h), out) < 0) {
		err_set(err, "%s: no attestation", p);
		goto out;
	}
	rc = 0;
out:
	json_decref(j);
	buf_free(&t);
	return rc;
}

static int do_bootstrap(struct onboard *o, struct prpc_call *call, const char *domain,
			ProtobufCMessage **resp, struct err *err)
{
	struct kms *k = o->k;
	const char *dir = k->cfg.cert_dir;
	TRY(bootstrap_validate_domain(domain, err));
	if (file_exists_in(dir, "bootstrap-info.json") || bootstrap_has_root_keys(dir))
		return err_set(err, "KMS has already been bootstrapped");
	TRY(self_allowed(k, "bootstrap", err));
	struct bootstrap_attester a;
	struct bootstrap_result r;
	TRY(bootstrap_generate(dir, domain, (int64_t)time(NULL), 1, attester(k, &a), &r, err));
	struct buf att = BUF_INIT;
	int rc = read_info_attestation(dir, &att, err);
	Kms__BootstrapResponse *out = prpc_alloc(call, sizeof *out);
	if (rc == 0 && !out)
		rc = err_set(err, "out of memory");
	if (rc == 0) {
		kms__bootstrap_response__init(out);
		if (prpc_bytes(call, &out->ca_pubkey, r.ca_spki, sizeof r.ca_spki) < 0 ||
		    prpc_bytes(call, &out->k256_pubkey, r.k256_pub, sizeof r.k256_pub) < 0 ||
		    prpc_bytes(call, &out->attestation, att.p, att.len) < 0)
			rc = err_set(err, "out of memory");
		*resp = &out->base;
	}
	buf_free(&att);
	char k256[2 * K256_PUB_LEN + 1];
	hex_encode(r.k256_pub, sizeof r.k256_pub, k256);
	log_info("Bootstrap: new key set for domain %s committed in %s (k256_pubkey %s%s)", domain,
		 dir, k256, k->cfg.attest_rpc_cert ? ", attested" : ", host mode: no attestation");
	return rc;
}

static int rpc_bootstrap(void *svc, struct prpc_call *call, const ProtobufCMessage *req,
			 ProtobufCMessage **resp, struct err *err)
{
	struct onboard *o = svc;
	const Kms__BootstrapRequest *in = (const Kms__BootstrapRequest *)req;
	pthread_mutex_lock(&o->op_mu);
	int rc = do_bootstrap(o, call, in->domain ? in->domain : "", resp, err);
	pthread_mutex_unlock(&o->op_mu);
	if (rc < 0)
		log_warn("Bootstrap refused: %s", err->msg);
	return rc;
}

/* ---- Onboard (§12.2) ---- */

struct source_call {
	const char *url; /* .../prpc */
	const char *method;
	const char *body;
	const char *cert_pem, *key_pem; /* our RA-TLS client certificate, or NULL */
	int want_cert;
};

/* One prpc JSON call to the source KMS, TLS without server validation (the
 * server is judged by its attestation). The answer's body (wiped after
 * use by the caller via http_response_free on a secret buffer). */
static int source_do(const struct source_call *c, struct http_response *resp, struct err *err)
{
	struct http_client_opts co = {
	    .tls = {.insecure_skip_verify = 1,
		    .client_cert_pem = c->cert_pem,
		    .client_key_pem = c->key_pem},
	};
	struct http_client *h = http_client_new(&co, err);
	if (!h)
		return -1;
	char url[URL_MAX + 64];
	snprintf(url, sizeof url, "%s/%s?json", c->url, c->method);
	struct http_header hd = {"Content-Type", "application/json"};
	struct http_request rq = {
	    .method = "POST",
	    .url = url,
	    .headers = &hd,
	    .n_headers = 1,
	    .body = c->body,
	    .body_len = strlen(c->body),
	    .connect_timeout_ms = ONBOARD_CONNECT_MS,
	    .timeout_ms = ONBOARD_TIMEOUT_MS,
	    .max_response_bytes = ONBOARD_MAX_RESPONSE,
	    .capture_peer_cert = c->want_cert,
	};
	int rc = http_client_do(h, &rq, resp, err);
	http_client_free(h);
	if (rc < 0)
		return err_wrap(err, "%s of the source KMS", c->method);
	if (resp->status != 200) {
		char st[64];
		http_status_text(resp->status, st, sizeof st);
		size_t n = resp->body.len < 300 ? resp->body.len : 300;
		return err_set(err, "%s of the source KMS answered %s: %.*s", c->method, st, (int)n,
			       resp->body.p ? (const char *)resp->body.p : "");
	}
	return 0;
}

static void wipe_response(struct http_response *r)
{
	if (r->body.p)
		secret_wipe(r->body.p, r->body.len);
	http_response_free(r);
}

/* §7.7: an RA-TLS client certificate for a fresh key, issued by the source's
 * temp CA, carrying our own fresh attestation bound to that key. */
static int make_client_cert(struct kms *k, const Kms__GetTempCaCertResponse *tca, struct buf *cert,
			    struct buf *key, struct err *err)
{
	uint8_t scalar[32], ca[32], point[P256_POINT_LEN], spki[P256_SPKI_LEN], rd[64];
	struct attestation att;
	struct buf raw = BUF_INIT, enc = BUF_INIT;
	X509 *ca_x = NULL, *x = NULL;
	int rc = -1;
	attestation_init(&att);
	unsigned n = 0;
	EVP_MD_CTX *md = NULL;
	if (!k->agent) {
		err_set(err, "onboarding needs the guest agent to attest this KMS (host mode has "
			     "none): set attest_rpc_cert = true on a TDX VM");
		goto out;
	}
	TRY_OUT(p256_scalar_from_pem(tca->temp_ca_key, strlen(tca->temp_ca_key), ca, err));
	if (!(ca_x = cert_from_pem(tca->temp_ca_cert, strlen(tca->temp_ca_cert), err)))
		goto out;
	TRY_OUT(p256_generate(scalar, err));
	TRY_OUT(p256_public_point(scalar, point, err));
	TRY_OUT(p256_spki_der(point, spki));
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha512(), NULL) != 1 ||
	    EVP_DigestUpdate(md, "ratls-cert:", 11) != 1 ||
	    EVP_DigestUpdate(md, spki, sizeof spki) != 1 || EVP_DigestFinal_ex(md, rd, &n) != 1) {
		err_set(err, "computing the RA-TLS report data");
		goto out;
	}
	TRY_OUT(guest_agent_attest(k->agent, rd, &raw, err));
	TRY_OUT(attestation_decode(raw.p, raw.len, &att, err));
	attestation_strip(&att);
	TRY_OUT(attestation_encode(&att, &enc, err));
	struct cert_params cp;
	memset(&cp, 0, sizeof cp);
	cp.subject = "RA-TLS TEMP Cert";
	cp.attestation.p = enc.p;
	cp.attestation.len = enc.len;
	if (!(x = cert_issue(&cp, point, ca, ca_x, (int64_t)time(NULL), err)))
		goto out;
	TRY_OUT(cert_to_pem(x, cert, err));
	TRY_OUT(p256_pkcs8_pem(scalar, key, err));
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	secret_wipe(scalar, sizeof scalar);
	secret_wipe(ca, sizeof ca);
	attestation_free(&att);
	buf_free(&raw);
	buf_free(&enc);
	X509_free(ca_x);
	X509_free(x);
	return rc;
}

/* §12.2 step 5: the source must be allowed as a KMS by OUR policy. */
static int source_allowed(struct kms *k, X509 *server_cert, struct err *err)
{
	struct verified_peer vp;
	int found = peer_attest_verify(&k->peer, server_cert, (int64_t)time(NULL), &vp, err);
	if (found < 0)
		return err_wrap(err, "the source KMS's attestation does not verify");
	if (found == 0)
		return err_set(err, "the source KMS's certificate carries no attestation (it runs "
				    "with attest_rpc_cert = false)");
	struct boot_info bi;
	int rc = appinfo_boot_info(&vp.att, &vp.dcap.report, &vp.dcap, 0, "", 0, &bi, err);
	if (rc == 0 && bi.os_image_hash.len == 0) {
		/* certificates of older sources carry no image hash: ours stands in */
		const struct boot_info *self;
		struct err e2;
		err_clear(&e2);
		if (k->agent && self_attest_cached(k, &self, &e2) == 0)
			bi.os_image_hash = self->os_image_hash;
	}
	struct auth_decision d;
	if (rc == 0 && (rc = auth_check(k->auth, &bi, 1, &d, err)) == 0 && !d.allowed)
		rc = err_set(err, "Source KMS is not allowed for onboarding: boot denied: %s",
			     d.reason);
	boot_info_free(&bi);
	verified_peer_free(&vp);
	return rc;
}

static int normalize_url(const char *in, char out[URL_MAX], struct err *err)
{
	size_t n = strlen(in);
	while (n && in[n - 1] == '/')
		n--;
	if (n == 0 || n > URL_MAX - 8 || strncmp(in, "https://", 8) != 0)
		return err_set(err, "source_url must be an https:// URL of the source KMS");
	snprintf(out, URL_MAX, "%.*s", (int)n, in);
	if (n < 5 || strcmp(out + n - 5, "/prpc") != 0)
		strcat(out, "/prpc");
	return 0;
}

static int do_onboard(struct onboard *o, struct prpc_call *call, const char *source_url,
		      const char *domain, ProtobufCMessage **resp, struct err *err)
{
	struct kms *k = o->k;
	const char *dir = k->cfg.cert_dir;
	char url[URL_MAX];
	TRY(bootstrap_validate_domain(domain, err));
	if (bootstrap_has_root_keys(dir))
		return err_set(err, "KMS has already been onboarded");
	TRY(normalize_url(source_url, url, err));

	struct http_response r1, r2;
	memset(&r1, 0, sizeof r1);
	memset(&r2, 0, sizeof r2);
	Kms__GetTempCaCertResponse *tca = NULL;
	Kms__KmsKeyResponse *kk = NULL;
	X509 *server = NULL;
	struct buf cert = BUF_INIT, key, vc = BUF_INIT;
	buf_init_secret(&key);
	struct bootstrap_keys keys;
	memset(&keys, 0, sizeof keys);
	char *body = NULL;
	int rc = -1;

	/* 3: the source's temp CA, and its certificate to judge it by */
	struct source_call c1 = {
	    .url = url, .method = "GetTempCaCert", .body = "null", .want_cert = 1};
	TRY_OUT(source_do(&c1, &r1, err));
	const unsigned char *der = r1.peer_cert_der;
	if (!der || !(server = d2i_X509(NULL, &der, (long)r1.peer_cert_der_len))) {
		err_set(err, "the source KMS presented no certificate");
		goto out;
	}
	if (!(tca = (Kms__GetTempCaCertResponse *)prpc_json_decode(
		  &kms__get_temp_ca_cert_response__descriptor, (const char *)r1.body.p, r1.body.len,
		  err)) ||
	    !tca->temp_ca_cert || !tca->temp_ca_key) {
		err_wrap(err, "GetTempCaCert of the source KMS answered something unexpected");
		goto out;
	}
	/* 5: the source against our policy before anything secret is asked of it */
	TRY_OUT(source_allowed(k, server, err));
	/* 4: our RA-TLS client certificate */
	TRY_OUT(make_client_cert(k, tca, &cert, &key, err));
	/* 6: the keys */
	TRY_OUT(guest_agent_info(k->agent, &vc, err));
	json_t *jb = json_pack("{s:s}", "vm_config", buf_str(&vc));
	body = jb ? json_dumps(jb, JSON_COMPACT) : NULL;
	json_decref(jb);
	if (!body) {
		err_set(err, "out of memory");
		goto out;
	}
	struct source_call c2 = {.url = url,
				 .method = "GetKmsKey",
				 .body = body,
				 .cert_pem = buf_str(&cert),
				 .key_pem = buf_str(&key)};
	TRY_OUT(source_do(&c2, &r2, err));
	if (!(kk = (Kms__KmsKeyResponse *)prpc_json_decode(
		  &kms__kms_key_response__descriptor, (const char *)r2.body.p, r2.body.len, err))) {
		err_wrap(err, "GetKmsKey of the source KMS answered something unexpected");
		goto out;
	}
	if (kk->n_keys != 1) {
		err_set(err, "the source KMS handed over %zu key sets; exactly one is required",
			kk->n_keys);
		goto out;
	}
	const Kms__KmsKeys *e = kk->keys[0];
	if (!e->ca_key || !kk->temp_ca_key || e->k256_key.len != 32) {
		err_set(err, "the source KMS's key set is incomplete");
		goto out;
	}
	TRY_OUT(p256_scalar_from_pem(e->ca_key, strlen(e->ca_key), keys.root_ca, err));
	TRY_OUT(p256_scalar_from_pem(kk->temp_ca_key, strlen(kk->temp_ca_key), keys.tmp_ca, err));
	memcpy(keys.k256, e->k256_key.data, 32);
	/* 7: commit (crash-safe: all or nothing) */
	struct bootstrap_attester a;
	struct bootstrap_result br;
	TRY_OUT(
	    bootstrap_import(dir, domain, (int64_t)time(NULL), &keys, attester(k, &a), &br, err));
	Kms__OnboardResponse *out = prpc_alloc(call, sizeof *out);
	if (!out) {
		err_set(err, "out of memory");
		goto out;
	}
	kms__onboard_response__init(out);
	if (prpc_bytes(call, &out->k256_pubkey, br.k256_pub, sizeof br.k256_pub) < 0) {
		err_set(err, "out of memory");
		goto out;
	}
	*resp = &out->base;
	char k256[2 * K256_PUB_LEN + 1];
	hex_encode(br.k256_pub, sizeof br.k256_pub, k256);
	char origin[256];
	log_url_origin(url, origin, sizeof origin);
	log_info("Onboard: key set received from %s committed in %s (k256_pubkey %s)", origin, dir,
		 k256);
	rc = 0;
out:
	secret_wipe(&keys, sizeof keys);
	if (kk) {
		for (size_t i = 0; i < kk->n_keys; i++) {
			if (kk->keys[i]->ca_key)
				secret_wipe(kk->keys[i]->ca_key, strlen(kk->keys[i]->ca_key));
			if (kk->keys[i]->k256_key.data)
				secret_wipe(kk->keys[i]->k256_key.data, kk->keys[i]->k256_key.len);
		}
		if (kk->temp_ca_key)
			secret_wipe(kk->temp_ca_key, strlen(kk->temp_ca_key));
		protobuf_c_message_free_unpacked(&kk->base, NULL);
	}
	if (tca) {
		if (tca->temp_ca_key)
			secret_wipe(tca->temp_ca_key, strlen(tca->temp_ca_key));
		protobuf_c_message_free_unpacked(&tca->base, NULL);
	}
	wipe_response(&r1);
	wipe_response(&r2);
	X509_free(server);
	buf_free(&cert);
	buf_free(&key);
	buf_free(&vc);
	free(body);
	return rc < 0 ? err_wrap(err, "Failed to onboard") : 0;
}

static int rpc_onboard(void *svc, struct prpc_call *call, const ProtobufCMessage *req,
		       ProtobufCMessage **resp, struct err *err)
{
	struct onboard *o = svc;
	const Kms__OnboardRequest *in = (const Kms__OnboardRequest *)req;
	pthread_mutex_lock(&o->op_mu);
	int rc = do_onboard(o, call, in->source_url ? in->source_url : "",
			    in->domain ? in->domain : "", resp, err);
	pthread_mutex_unlock(&o->op_mu);
	if (rc < 0)
		log_warn("Onboard refused: %s", err->msg);
	return rc;
}

/* ---- GetAttestationInfo (§12.4), Finish (§12.5) ---- */

static int rpc_attestation_info(void *svc, struct prpc_call *call, const ProtobufCMessage *req,
				ProtobufCMessage **resp, struct err *err)
{
	(void)req;
	struct onboard *o = svc;
	struct kms *k = o->k;
	struct verified_peer vp;
	struct boot_info bi, bi0;
	struct buf vc = BUF_INIT;
	int rc = -1;
	boot_info_init(&bi);
	if (self_attest_fresh(k, &vp, &bi0, err) < 0)
		return err_wrap(err, "GetAttestationInfo");
	boot_info_free(&bi0);
	TRY_OUT(guest_agent_info(k->agent, &vc, err));
	TRY_OUT(appinfo_boot_info(&vp.att, &vp.dcap.report, &vp.dcap, 0, buf_str(&vc), vc.len, &bi,
				  err));
	struct auth_info ai;
	struct err e2;
	err_clear(&e2);
	memset(&ai, 0, sizeof ai);
	if (auth_get_info(k->auth, &ai, &e2) < 0)
		memset(&ai, 0, sizeof ai); /* §12.4: webhook errors give "" */
	Kms__AttestationInfoResponse *r = prpc_alloc(call, sizeof *r);
	if (!r) {
		err_set(err, "out of memory");
		goto out;
	}
	kms__attestation_info_response__init(r);
	r->tee_variant = prpc_strdup(call, bi.tee_variant);
	r->site_name = prpc_strdup(call, k->cfg.site_name);
	r->eth_rpc_url = prpc_strdup(call, ai.has_eth_rpc_url ? ai.eth_rpc_url : "");
	r->kms_contract_address =
	    prpc_strdup(call, ai.has_contract_info ? ai.kms_contract_addr : "");
	if (!r->tee_variant || !r->site_name || !r->eth_rpc_url || !r->kms_contract_address ||
	    prpc_bytes(call, &r->device_id, bi.device_id.b, bi.device_id.len) < 0 ||
	    prpc_bytes(call, &r->mr_aggregated, bi.mr_aggregated.b, bi.mr_aggregated.len) < 0 ||
	    prpc_bytes(call, &r->os_image_hash, bi.os_image_hash.b, bi.os_image_hash.len) < 0 ||
	    prpc_bytes(call, &r->ppid, vp.dcap.ppid, sizeof vp.dcap.ppid) < 0) {
		err_set(err, "out of memory");
		goto out;
	}
	*resp = &r->base;
	rc = 0;
out:
	verified_peer_free(&vp);
	boot_info_free(&bi);
	buf_free(&vc);
	return rc;
}

static int request_finish(struct onboard *o, struct err *err)
{
	if (!bootstrap_keyset_complete(o->k->cfg.cert_dir))
		return err_set(err,
			       "Finish refused: there is no key set in %s yet; run Bootstrap or "
			       "Onboard first (the onboard service keeps serving)",
			       o->k->cfg.cert_dir);
	atomic_store(&o->finish, 1);
	return 0;
}

static int rpc_finish(void *svc, struct prpc_call *call, const ProtobufCMessage *req,
		      ProtobufCMessage **resp, struct err *err)
{
	(void)call;
	(void)req;
	(void)resp;
	return request_finish(svc, err);
}

static const struct prpc_method ONBOARD_METHODS[] = {
    {"Bootstrap", &kms__bootstrap_request__descriptor, &kms__bootstrap_response__descriptor,
     rpc_bootstrap},
    {"Onboard", &kms__onboard_request__descriptor, &kms__onboard_response__descriptor, rpc_onboard},
    {"GetAttestationInfo", NULL, &kms__attestation_info_response__descriptor, rpc_attestation_info},
    {"Finish", NULL, NULL, rpc_finish},
};

static uint64_t onboard_body_limit(void *svc, const char *method)
{
	(void)svc;
	(void)method;
	return 64 * 1024;
}

static int onboard_needs_pool(void *svc, const char *method, const struct http_req *req)
{
	(void)svc;
	(void)req;
	return strcmp(method, "Finish") != 0;
}

static void handler(void *ud, const struct http_req *req, struct http_resp *resp)
{
	struct onboard *o = ud;
	http_resp_header(resp, "X-App-Version", o->k->version);
	if (strncmp(req->path, "/prpc/", 6) == 0) {
		prpc_handle(&o->svc, req, resp);
		return;
	}
	int get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
	resp->content_type = "text/plain; charset=utf-8";
	if (get && strcmp(req->path, "/") == 0) {
		resp->status = 200;
		resp->content_type = "text/html; charset=utf-8";
		http_resp_header(resp, "Content-Security-Policy",
				 "default-src 'none'; script-src 'unsafe-inline'; style-src "
				 "'unsafe-inline'; connect-src 'self'; img-src 'self' data:");
		buf_append_str(&resp->body, ONBOARD_PAGE_HTML);
		return;
	}
	if (get && strcmp(req->path, "/finish") == 0) {
		struct err e;
		err_clear(&e);
		if (request_finish(o, &e) < 0) {
			resp->status = 400;
			buf_append_str(&resp->body, e.msg);
		} else {
			resp->status = 200;
			buf_append_str(&resp->body, "OK");
		}
		return;
	}
	if (get && strcmp(req->path, "/health") == 0) {
		resp->status = 200;
		buf_append_str(&resp->body, "onboarding");
		return;
	}
	resp->status = 404;
	buf_printf(&resp->body, "404 Not Found: %s %s\n", req->method, req->path);
}

int onboard_run(struct kms *k, const sigset_t *sigs, int *sig, struct err *err)
{
	static struct onboard o; /* outlives late pool completions */
	memset(&o, 0, sizeof o);
	o.k = k;
	pthread_mutex_init(&o.op_mu, NULL);
	o.svc = (struct prpc_service){
	    .prefix = "Onboard.",
	    .methods = ONBOARD_METHODS,
	    .nmethods = sizeof ONBOARD_METHODS / sizeof ONBOARD_METHODS[0],
	    .svc = &o,
	    .body_limit = onboard_body_limit,
	    .pool = k->pool,
	    .deadline_ms = ONBOARD_DEADLINE_MS,
	    .needs_pool = onboard_needs_pool,
	};
	struct http_server_opts so = {
	    .address = k->cfg.onboard_address,
	    .port = k->cfg.onboard_port,
	    .workers = 1,
	    .timeout_s = 30,
	    .max_headers = 64 * 1024,
	    .max_body = 1u << 20,
	    .handler = handler,
	    .ud = &o,
	    .server_name = "onboard",
	    .limits = kms_listener_limits(&k->cfg),
	    .drain_max_ms = ONBOARD_DEADLINE_MS,
	    .strict_path = 1,
	};
	struct http_server *srv = http_server_start(&so, err);
	if (!srv)
		return err_wrap(err, "onboard service");
	log_warn("no key set in %s: serving the onboard service on http://%s:%d (plain HTTP): "
		 "open it in a browser, or run dstack-kmsctl --url http://HOST:%d bootstrap "
		 "--domain D | onboard --source URL --domain D, then finish",
		 k->cfg.cert_dir, k->cfg.onboard_address, http_server_port(srv),
		 http_server_port(srv));
	char status[CFG_STR + 96];
	snprintf(status, sizeof status,
		 "onboarding: waiting for Bootstrap or Onboard on http://%s:%d",
		 k->cfg.onboard_address, http_server_port(srv));
	k->onboard_port = http_server_port(srv);
	atomic_store(&k->phase, KMS_PHASE_ONBOARDING);
	service_ready(status);
	*sig = 0;
	struct timespec tick = {0, 100 * 1000 * 1000};
	while (!atomic_load(&o.finish)) {
		int s = sigtimedwait(sigs, NULL, &tick);
		if (s > 0) {
			*sig = s;
			break;
		}
	}
	if (!*sig) {
		/* the Finish answer is on its way out: let it leave first */
		struct timespec flush = {0, 200 * 1000 * 1000};
		nanosleep(&flush, NULL);
		log_info("Onboarding finished; continuing to the main phase");
	}
	http_server_stop(srv);
	atomic_store(&k->phase, KMS_PHASE_STARTING);
	return 0;
}
