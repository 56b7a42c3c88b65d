/*
 * rpc_kms.c — the KMS prpc service (kms-protocol §4): GetAppKey, GetKmsKey
 * and SignCert (key release, through release.h), GetMeta,
 * GetAppEnvEncryptPubKey and GetTempCaCert. Handlers only touch root keys
 * through keys.h; every buffer that holds a released key is prpc arena
 * memory, wiped after the reply is sent.
 */
#include "attest/appinfo.h"
#include "attest/csr.h"
#include "kms/kms.h"
#include "kms/release.h"

#include "kms_rpc.pb-c.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/ratelog.h"
#include "util/secret.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The caller's verified attestation (pre_dispatch), or the §4 error. */
static const struct verified_peer *require_attestation(struct prpc_call *call, struct err *err)
{
	if (!call->peer)
		err_set(err, "No attestation provided");
	return call->peer;
}

static int get_app_key(void *svc, struct prpc_call *call, const ProtobufCMessage *req,
		       ProtobufCMessage **resp, struct err *err)
{
	struct kms *k = svc;
	const Kms__GetAppKeyRequest *in = (const Kms__GetAppKeyRequest *)req;
	struct release r;
	struct app_keys keys;
	memset(&keys, 0, sizeof keys);
	release_begin(&r, call->method, call->http->peer_cert);
	const struct verified_peer *vp = NULL;
	int rc = -1;
	if (in->api_version > 1) {
		err_set(err, "Unsupported API version: %u", in->api_version);
		goto out;
	}
	TRY_OUT(release_self_auth(k, err));
	if (!(vp = require_attestation(call, err)))
		goto out;
	if (release_app_auth(k, &r, &vp->att, &vp->dcap, 0, 0, in->vm_config, err) < 0) {
		err_wrap(err, "App not allowed");
		goto out;
	}
	TRY_OUT(release_gate(k, &r, err));
	TRY_OUT(keys_app(&k->keys, r.bi.app_id.b, r.bi.app_id.len, r.bi.instance_id.b,
			 r.bi.instance_id.len, &keys, err));
	rc = 0;
out:
	rc = release_finish(k, &r, rc, err);
	if (rc == 0) {
		Kms__AppKeyResponse *o = prpc_alloc(call, sizeof *o);
		if (!o) {
			rc = err_set(err, "out of memory");
		} else {
			kms__app_key_response__init(o);
			o->ca_cert = k->keys.root_ca_pem;
			o->gateway_app_id = prpc_strdup(call, r.gateway_app_id);
			o->tproxy_app_id = o->gateway_app_id;
			if (!o->gateway_app_id ||
			    prpc_bytes(call, &o->disk_crypt_key, keys.disk_crypt_key, 32) < 0 ||
			    prpc_bytes(call, &o->env_crypt_key, keys.env_crypt_key, 32) < 0 ||
			    prpc_bytes(call, &o->k256_key, keys.k256_key, 32) < 0 ||
			    prpc_bytes(call, &o->k256_signature, keys.k256_signature,
				       sizeof keys.k256_signature) < 0 ||
			    prpc_bytes(call, &o->os_image_hash, r.bi.os_image_hash.b,
				       r.bi.os_image_hash.len) < 0)
				rc = err_set(err, "out of memory");
			else
				*resp = &o->base;
		}
	}
	keys_app_wipe(&keys);
	release_end(&r);
	return rc;
}

static int get_kms_key(void *svc, struct prpc_call *call, const ProtobufCMessage *req,
		       ProtobufCMessage **resp, struct err *err)
{
	struct kms *k = svc;
	const Kms__GetKmsKeyRequest *in = (const Kms__GetKmsKeyRequest *)req;
	struct release r;
	struct buf pem;
	uint8_t k256[32];
	buf_init_secret(&pem);
	release_begin(&r, call->method, call->http->peer_cert);
	const struct verified_peer *vp = NULL;
	int rc = -1;
	TRY_OUT(release_self_auth(k, err));
	if (!(vp = require_attestation(call, err)))
		goto out;
	/* no context added: upstream answers the policy's error as it is */
	TRY_OUT(release_app_auth(k, &r, &vp->att, &vp->dcap, 1, 0, in->vm_config, err));
	TRY_OUT(release_gate(k, &r, err));
	TRY_OUT(keys_handover(&k->keys, &pem, k256, err));
	rc = 0;
out:
	rc = release_finish(k, &r, rc, err);
	if (rc == 0) {
		Kms__KmsKeyResponse *o = prpc_alloc(call, sizeof *o);
		Kms__KmsKeys *e = prpc_alloc(call, sizeof *e);
		Kms__KmsKeys **list = prpc_alloc(call, sizeof *list);
		char *ca_key = prpc_alloc(call, pem.len + 1);
		char *tmp_key = prpc_strdup(call, k->keys.tmp_ca_key_pem);
		if (o && e) {
			kms__kms_key_response__init(o);
			kms__kms_keys__init(e);
		}
		if (!o || !e || !list || !ca_key || !tmp_key ||
		    prpc_bytes(call, &e->k256_key, k256, sizeof k256) < 0) {
			rc = err_set(err, "out of memory");
		} else {
			memcpy(ca_key, pem.p, pem.len);
			e->ca_key = ca_key;
			list[0] = e;
			o->temp_ca_key = tmp_key;
			o->n_keys = 1;
			o->keys = list;
			*resp = &o->base;
		}
	}
	secret_wipe(k256, sizeof k256);
	buf_free(&pem);
	release_end(&r);
	return rc;
}

/* A CSR string as a NUL-terminated arena copy; NUL bytes inside are refused
 * (a certificate name cannot carry them). */
static char *csr_cstr(struct prpc_call *call, const struct csr_str *s, const char *what,
		      struct err *err)
{
	if (memchr(s->p, 0, s->len)) {
		err_set(err, "%s contains a NUL byte", what);
		return NULL;
	}
	char *o = prpc_alloc(call, s->len + 1);
	if (!o) {
		err_set(err, "out of memory");
		return NULL;
	}
	memcpy(o, s->p, s->len);
	return o;
}

/* The leaf's parameters from the CSR config (§7.6); every identity value
 * (APP_ID, APP_INFO) from the verified boot-time BootInfo of this call. */
static int leaf_params(struct prpc_call *call, const struct csr *c, const struct release *r,
		       const struct verified_peer *vp, const char *vm_config,
		       struct cert_params *cp, struct buf *app_info, struct buf *att_ext,
		       struct err *err)
{
	memset(cp, 0, sizeof *cp);
	const char **san = prpc_alloc(call, (c->n_san + 1) * sizeof *san);
	if (!san)
		return err_set(err, "out of memory");
	if (!(cp->subject = csr_cstr(call, &c->subject, "subject", err)) ||
	    (c->has_org && !(cp->org = csr_cstr(call, &c->org, "org_name", err))))
		return -1;
	for (size_t i = 0; i < c->n_san; i++)
		if (!(san[i] = csr_cstr(call, &c->san[i], "subject_alt_names", err)))
			return -1;
	cp->san = san;
	cp->nsan = c->n_san;
	cp->eku_server = c->usage_server_auth;
	cp->eku_client = c->usage_client_auth;
	cp->app_id = (struct cert_bytes){r->bi.app_id.b, r->bi.app_id.len};
	cp->usage = "app:custom";
	cp->has_not_before = c->has_not_before;
	cp->not_before = (int64_t)c->not_before;
	cp->has_not_after = c->has_not_after;
	cp->not_after = (int64_t)c->not_after;
	if (c->ext_app_info) {
		struct app_info ai;
		memset(&ai, 0, sizeof ai);
		const char *vc = vm_config ? vm_config : "";
		struct appinfo_opts o = {.boottime = 1,
					 .vm_config = vc,
					 .vm_config_len = strlen(vc),
					 .ppid = vp->dcap.ppid,
					 .ppid_len = sizeof vp->dcap.ppid};
		int rc = appinfo_decode(&vp->att, &vp->dcap.report, &o, &ai, err) < 0 ||
				 appinfo_encode_msgpack(&ai, app_info, err) < 0
			     ? -1
			     : 0;
		appinfo_free(&ai);
		TRY(rc);
		cp->app_info = (struct cert_bytes){app_info->p, app_info->len};
	}
	if (c->ext_quote) {
		struct attestation stripped;
		attestation_init(&stripped);
		int rc = csr_attestation(c, &stripped, err);
		if (rc == 0) {
			attestation_strip(&stripped);
			rc = attestation_encode(&stripped, att_ext, err);
		}
		attestation_free(&stripped);
		TRY(rc);
		cp->attestation = (struct cert_bytes){att_ext->p, att_ext->len};
	}
	return 0;
}

static int sign_cert(void *svc, struct prpc_call *call, const ProtobufCMessage *req,
		     ProtobufCMessage **resp, struct err *err)
{
	struct kms *k = svc;
	const Kms__SignCertRequest *in = (const Kms__SignCertRequest *)req;
	struct release r;
	struct csr c;
	struct verified_peer vp;
	struct buf app_info = BUF_INIT, att_ext = BUF_INIT, pem = BUF_INIT;
	uint8_t point[P256_POINT_LEN];
	X509 *app_ca = NULL, *leaf = NULL;
	int rc = -1;
	memset(&vp, 0, sizeof vp);
	attestation_init(&vp.att);
	/* the caller's TLS certificate is not needed here (§4.6 step 3) */
	release_begin(&r, call->method, call->http->peer_cert);
	TRY_OUT(release_self_auth(k, err));
	if (in->api_version != 1 && in->api_version != 2) {
		err_set(err, "Unsupported API version: %u", in->api_version);
		goto out;
	}
	if (csr_decode((int)in->api_version, in->csr.data, in->csr.len, &c, err) < 0) {
		err_wrap(err, "Failed to parse csr");
		goto out;
	}
	if (csr_verify_signature(&c, in->csr.data, in->csr.len, in->signature.data,
				 in->signature.len, point, err) < 0) {
		err_wrap(err, "Failed to verify csr signature");
		goto out;
	}
	int busy = 0;
	if (csr_attestation(&c, &vp.att, err) < 0 ||
	    peer_attest_verify_bound(&k->peer, c.pubkey, c.pubkey_len, (int64_t)time(NULL), &vp,
				     &busy, err) < 0) {
		if (!busy)
			err_wrap(err, "Quote verification failed");
		goto out;
	}
	if (release_app_auth(k, &r, &vp.att, &vp.dcap, 0, 1, in->vm_config, err) < 0) {
		err_wrap(err, "App not allowed");
		goto out;
	}
	TRY_OUT(release_gate(k, &r, err));
	struct cert_params cp;
	TRY_OUT(leaf_params(call, &c, &r, &vp, in->vm_config, &cp, &app_info, &att_ext, err));
	TRY_OUT(keys_issue_app_cert(&k->keys, r.bi.app_id.b, r.bi.app_id.len, &cp, point,
				    (int64_t)time(NULL), &app_ca, &leaf, err));
	rc = 0;
out:
	rc = release_finish(k, &r, rc, err);
	if (rc == 0) {
		Kms__SignCertResponse *o = prpc_alloc(call, sizeof *o);
		char **chain = prpc_alloc(call, 3 * sizeof *chain);
		struct buf lp = BUF_INIT;
		if (!o || !chain || cert_to_pem(leaf, &lp, err) < 0 ||
		    !(chain[0] = prpc_strdup(call, buf_str(&lp))) ||
		    cert_to_pem(app_ca, &pem, err) < 0 ||
		    !(chain[1] = prpc_strdup(call, buf_str(&pem))) ||
		    !(chain[2] = prpc_strdup(call, k->keys.root_ca_pem))) {
			rc = err_set(err, "failed to encode the certificate chain");
		} else {
			kms__sign_cert_response__init(o);
			o->n_certificate_chain = 3;
			o->certificate_chain = chain;
			*resp = &o->base;
		}
		buf_free(&lp);
	}
	X509_free(app_ca);
	X509_free(leaf);
	verified_peer_free(&vp);
	buf_free(&app_info);
	buf_free(&att_ext);
	buf_free(&pem);
	release_end(&r);
	return rc;
}

/* bootstrap-info.json → BootstrapResponse; any read or parse problem → NULL (§4.4). */
static Kms__BootstrapResponse *read_bootstrap_info(struct kms *k, struct prpc_call *call)
{
	char path[4096];
	struct buf b = BUF_INIT;
	Kms__BootstrapResponse *out = NULL;
	json_t *j = NULL;
	if (fs_join(path, sizeof path, k->cfg.cert_dir, "bootstrap-info.json") < 0 ||
	    !fs_exists(path) || fs_read_file(path, 16 * 1024 * 1024, &b, NULL) < 0)
		goto out;
	j = json_loadb((const char *)b.p, b.len, 0, NULL);
	if (!json_is_object(j))
		goto out;
	Kms__BootstrapResponse *r = prpc_alloc(call, sizeof *r);
	if (!r)
		goto out;
	kms__bootstrap_response__init(r);
	const char *names[3] = {"ca_pubkey", "k256_pubkey", "attestation"};
	ProtobufCBinaryData *fields[3] = {&r->ca_pubkey, &r->k256_pubkey, &r->attestation};
	for (int i = 0; i < 3; i++) {
		const char *s = json_string_value(json_object_get(j, names[i]));
		if (!s)
			goto out;
		if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
			s += 2;
		struct buf bytes = BUF_INIT;
		int ok = hex_decode(s, strlen(s), &bytes) == 0 &&
			 prpc_bytes(call, fields[i], bytes.p, bytes.len) == 0;
		buf_free(&bytes);
		if (!ok)
			goto out;
	}
	out = r;
out:
	json_decref(j);
	buf_free(&b);
	return out;
}

/* GetMeta, GetAppEnvEncryptPubKey and GetTempCaCert answer anyone: a failure
 * of the auth backend reaches such a caller as its kind only, while the
 * whole message (origin, answer) goes to the log, rate-limited. */
static int public_failure(const char *method, struct err *err)
{
	static struct ratelog rl = RATELOG_INIT;
	char pub[ERR_MAX];
	auth_public_error(err_msg(err), pub, sizeof pub);
	if (strcmp(pub, err_msg(err)) == 0)
		return -1;
	unsigned long sup = 0;
	if (ratelog_allow(&rl, 10000, &sup))
		log_warn("%s failed: %s (%lu more such lines suppressed)", method, err_msg(err),
			 sup);
	err_clear(err);
	return err_set(err, "%s", pub);
}

static int get_meta(void *svc, struct prpc_call *call, const ProtobufCMessage *req,
		    ProtobufCMessage **resp, struct err *err)
{
	(void)req;
	struct kms *k = svc;
	Kms__GetMetaResponse *r = prpc_alloc(call, sizeof *r);
	if (!r)
		return err_set(err, "out of memory");
	kms__get_meta_response__init(r);
	struct auth_info info;
	if (auth_get_info(k->auth, &info, err) < 0)
		return public_failure("GetMeta", err);
	r->ca_cert = k->keys.root_ca_pem;
	r->allow_any_upgrade = info.is_dev;
	r->is_dev = info.is_dev;
	TRY(prpc_bytes(call, &r->k256_pubkey, k->keys.k256_pub, sizeof k->keys.k256_pub));
	r->bootstrap_info = read_bootstrap_info(k, call);
	/* dev mode sets only gateway_app_id (§4.4); webhook and static set all four. */
	r->_gateway_app_id_case = KMS__GET_META_RESPONSE___GATEWAY_APP_ID_GATEWAY_APP_ID;
	r->gateway_app_id = prpc_strdup(call, info.gateway_app_id);
	if (info.has_contract_info) {
		r->_kms_contract_address_case =
		    KMS__GET_META_RESPONSE___KMS_CONTRACT_ADDRESS_KMS_CONTRACT_ADDRESS;
		r->kms_contract_address = prpc_strdup(call, info.kms_contract_addr);
		r->_chain_id_case = KMS__GET_META_RESPONSE___CHAIN_ID_CHAIN_ID;
		r->chain_id = info.chain_id;
		r->_app_auth_implementation_case =
		    KMS__GET_META_RESPONSE___APP_AUTH_IMPLEMENTATION_APP_AUTH_IMPLEMENTATION;
		r->app_auth_implementation = prpc_strdup(call, info.app_implementation);
	}
	if ((r->_gateway_app_id_case && !r->gateway_app_id) ||
	    (r->_kms_contract_address_case &&
	     (!r->kms_contract_address || !r->app_auth_implementation)))
		return err_set(err, "out of memory");
	*resp = &r->base;
	return 0;
}

static int get_env_pubkey(void *svc, struct prpc_call *call, const ProtobufCMessage *req,
			  ProtobufCMessage **resp, struct err *err)
{
	struct kms *k = svc;
	const Kms__AppId *in = (const Kms__AppId *)req;
	if (release_self_auth(k, err) < 0)
		return public_failure("GetAppEnvEncryptPubKey", err);
	Kms__PublicKeyResponse *r = prpc_alloc(call, sizeof *r);
	uint8_t *buf = prpc_alloc(call, 32 + 2 * K256_SIG_LEN);
	if (!r || !buf)
		return err_set(err, "out of memory");
	kms__public_key_response__init(r);
	uint64_t ts = (uint64_t)time(NULL);
	TRY(keys_env_pubkey(&k->keys, in->app_id.data, in->app_id.len, ts, buf, buf + 32,
			    buf + 32 + K256_SIG_LEN, err));
	r->public_key = (ProtobufCBinaryData){32, buf};
	r->signature = (ProtobufCBinaryData){K256_SIG_LEN, buf + 32};
	r->signature_v1 = (ProtobufCBinaryData){K256_SIG_LEN, buf + 32 + K256_SIG_LEN};
	r->timestamp = ts;
	*resp = &r->base;
	return 0;
}

static int get_temp_ca_cert(void *svc, struct prpc_call *call, const ProtobufCMessage *req,
			    ProtobufCMessage **resp, struct err *err)
{
	(void)req;
	struct kms *k = svc;
	if (release_self_auth(k, err) < 0)
		return public_failure("GetTempCaCert", err);
	/* §4.5: the release gate on the KMS's own BootInfo (cached by SelfAuth) */
	const struct boot_info *self;
	if (k->cfg.enforce_self_authorization) {
		TRY(self_attest_cached(k, &self, err));
		TRY(release_gate_variant(k, self->tee_variant, err));
	}
	Kms__GetTempCaCertResponse *r = prpc_alloc(call, sizeof *r);
	if (!r)
		return err_set(err, "out of memory");
	kms__get_temp_ca_cert_response__init(r);
	r->temp_ca_cert = k->keys.tmp_ca_cert_pem;
	r->temp_ca_key = k->keys.tmp_ca_key_pem;
	r->ca_cert = k->keys.root_ca_pem;
	*resp = &r->base;
	return 0;
}

static const struct prpc_method KMS_METHODS[] = {
    {"GetAppKey", &kms__get_app_key_request__descriptor, &kms__app_key_response__descriptor,
     get_app_key},
    {"GetKmsKey", &kms__get_kms_key_request__descriptor, &kms__kms_key_response__descriptor,
     get_kms_key},
    {"GetAppEnvEncryptPubKey", &kms__app_id__descriptor, &kms__public_key_response__descriptor,
     get_env_pubkey},
    {"GetMeta", NULL, &kms__get_meta_response__descriptor, get_meta},
    {"GetTempCaCert", NULL, &kms__get_temp_ca_cert_response__descriptor, get_temp_ca_cert},
    {"SignCert", &kms__sign_cert_request__descriptor, &kms__sign_cert_response__descriptor,
     sign_cert},
};

static uint64_t body_limit(void *svc, const char *method)
{
	struct kms *k = svc;
	return config_body_limit(&k->cfg, method);
}

/* spec §2.5: a presented client certificate's attestation is verified for
 * every method; handlers find the result in call->peer. */
static int pre_dispatch(void *svc, struct prpc_call *call, struct err *err)
{
	struct kms *k = svc;
	if (!call->http->peer_cert)
		return 0;
	struct verified_peer *vp = calloc(1, sizeof *vp);
	if (!vp)
		return err_set(err, "out of memory");
	int rc = peer_attest_verify(&k->peer, call->http->peer_cert, (int64_t)time(NULL), vp, err);
	if (rc <= 0) {
		free(vp);
		/* the handshake let a certificate of another issuer through only
		 * because it claims an attestation: without one it is refused */
		if (rc == 0 && !call->http->peer_cert_chained)
			return err_set(err, "client certificate is not issued by this KMS and "
					    "carries no attestation");
		return rc;
	}
	call->peer = vp;
	return 0;
}

static void post_dispatch(void *svc, struct prpc_call *call)
{
	(void)svc;
	verified_peer_free(call->peer);
	free(call->peer);
	call->peer = NULL;
}

/* What may wait on the network or the disk runs on the blocking pool: a
 * caller attestation (collateral may have to be fetched first), the webhook
 * (GetMeta's info, SelfAuth, AppAuth) and key release (release log fsync).
 * GetAppEnvEncryptPubKey and GetTempCaCert without SelfAuth are pure CPU. */
static int needs_pool(void *svc, const char *method, const struct http_req *req)
{
	struct kms *k = svc;
	if (req->peer_cert || k->cfg.enforce_self_authorization)
		return 1;
	return strcmp(method, "GetAppEnvEncryptPubKey") != 0 &&
	       strcmp(method, "GetTempCaCert") != 0;
}

static void observe(void *svc, const char *method, int status, double seconds)
{
	struct kms *k = svc;
	metrics_observe(&k->metrics, method, status, seconds);
}

void rpc_kms_init(struct kms *k)
{
	static const char *names[] = {"GetAppKey", "GetKmsKey",	    "GetAppEnvEncryptPubKey",
				      "GetMeta",   "GetTempCaCert", "SignCert"};
	metrics_init(&k->metrics, names, 6);
	k->service = (struct prpc_service){
	    .prefix = "KMS.",
	    .methods = KMS_METHODS,
	    .nmethods = sizeof KMS_METHODS / sizeof KMS_METHODS[0],
	    .svc = k,
	    .body_limit = body_limit,
	    .pre_dispatch = pre_dispatch,
	    .post_dispatch = post_dispatch,
	    .observe = observe,
	    .pool = k->pool,
	    .deadline_ms = (long)k->cfg.request_deadline_ms,
	    .needs_pool = needs_pool,
	};
}
