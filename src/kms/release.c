/*
 * release.c — SelfAuth, AppAuth, ReleaseGate and the release-log entry of a
 * key release (release.h). spec: kms-protocol §4, §10, §10.6.
 */
#include "kms/release.h"

#include "attest/appinfo.h"
#include "attest/image_lite.h"
#include "audit/audit.h"
#include "kms/kms.h"
#include "util/hex.h"
#include "util/log.h"

#include <openssl/evp.h>
#include <string.h>

void release_begin(struct release *r, const char *method, X509 *caller_cert)
{
	memset(r, 0, sizeof *r);
	r->method = method;
	boot_info_init(&r->bi);
	unsigned char *der = NULL;
	int n = caller_cert ? i2d_X509(caller_cert, &der) : 0;
	uint8_t md[32];
	unsigned int mdlen = 0;
	if (n > 0 && EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) == 1 &&
	    mdlen == sizeof md)
		hex_encode(md, sizeof md, r->caller_sha256);
	else if (caller_cert)
		strcpy(r->caller_sha256, "unavailable");
	OPENSSL_free(der);
}

void release_end(struct release *r)
{
	boot_info_free(&r->bi);
	memset(r, 0, sizeof *r);
}

int release_self_auth(struct kms *k, struct err *err)
{
	if (!k->cfg.enforce_self_authorization)
		return 0;
	const struct boot_info *bi;
	if (self_attest_cached(k, &bi, err) < 0)
		return err_wrap(err, "KMS self authorization failed: Failed to load cached self "
				     "boot info");
	struct auth_decision d;
	if (auth_check(k->auth, bi, 1, &d, err) < 0)
		return err_wrap(
		    err, "KMS self authorization failed: Failed to call self KMS auth check");
	if (!d.allowed)
		return err_set(err, "KMS self authorization failed: KMS is not allowed: %s",
			       d.reason);
	return 0;
}

int release_gate_variant(struct kms *k, const char *v, struct err *err)
{
	if (!strcmp(v, "dstack-amd-sev-snp") && !k->cfg.sev_snp_key_release)
		return err_set(err, "amd sev-snp key release is not enabled");
	if (!strcmp(v, "dstack-aws-nitro-tpm") && !k->cfg.aws_nitro_tpm_key_release)
		return err_set(err, "aws nitro-tpm key release is not enabled");
	return 0;
}

/* §10.6. Images that bring their own measurement (the TDX `lite` variant)
 * are verified against the verified quote; the `legacy` variant needs the
 * QEMU/firmware measurement model, which this KMS does not carry, so it is
 * refused with the setting to change rather than passed. */
static int image_verify(struct kms *k, const struct attestation *att,
			const struct dcap_result *dcap, const char *vm_config, struct err *err)
{
	if (!k->cfg.image_verify || att->platform == ATT_PLATFORM_SEV_SNP)
		return 0;
	if (att->platform != ATT_PLATFORM_TDX)
		return err_set(err,
			       "OS image verification is not available for %s; set [core.image] "
			       "verify = false to accept os_image_hash as an unverified claim",
			       attestation_tee_variant(att->platform));
	const char *vc;
	size_t vc_len;
	appinfo_vm_config_text(att, vm_config, strlen(vm_config), &vc, &vc_len);
	int lite = image_lite_is_lite(vc, vc_len, err);
	if (lite < 0)
		return -1;
	if (!lite)
		return err_set(err,
			       "the image uses the TDX legacy attestation variant, whose "
			       "verification needs a QEMU/firmware measurement model this KMS "
			       "does not carry; boot it with tdx_attestation_variant = lite, or "
			       "set [core.image] verify = false to accept os_image_hash as an "
			       "unverified claim");
	return image_lite_verify(vc, vc_len, &dcap->report, att->event_log, att->n_event_log, err);
}

int release_app_auth(struct kms *k, struct release *r, const struct attestation *att,
		     const struct dcap_result *dcap, int is_kms, int boottime,
		     const char *vm_config, struct err *err)
{
	const char *vc = vm_config ? vm_config : "";
	TRY(appinfo_boot_info(att, &dcap->report, dcap, boottime, vc, strlen(vc), &r->bi, err));
	r->has_bi = 1;
	struct auth_decision d;
	TRY(auth_check(k->auth, &r->bi, is_kms, &d, err));
	if (!d.allowed) {
		r->denied = 1;
		return err_set(err, "Boot denied: %s", d.reason);
	}
	/* the webhook is consulted before the image is verified (§4 AppAuth 3) */
	if (image_verify(k, att, dcap, vc, err) < 0)
		return err_wrap(err, "Failed to verify os image hash");
	snprintf(r->gateway_app_id, sizeof r->gateway_app_id, "%s", d.gateway_app_id);
	return 0;
}

int release_gate(struct kms *k, struct release *r, struct err *err)
{
	if (release_gate_variant(k, r->bi.tee_variant, err) < 0) {
		r->denied = 1;
		return -1;
	}
	return 0;
}

static void hex_field(const struct boot_info_bytes *f, int has,
		      char out[2 * BOOT_INFO_BYTES_MAX + 1])
{
	out[0] = 0;
	if (has && f->len <= BOOT_INFO_BYTES_MAX)
		hex_encode(f->b, f->len, out);
}

int release_finish(struct kms *k, struct release *r, int rc, struct err *err)
{
	char app_id[2 * BOOT_INFO_BYTES_MAX + 1], instance_id[sizeof app_id],
	    device_id[sizeof app_id], compose_hash[sizeof app_id], os_image_hash[sizeof app_id];
	hex_field(&r->bi.app_id, r->has_bi, app_id);
	hex_field(&r->bi.instance_id, r->has_bi, instance_id);
	hex_field(&r->bi.device_id, r->has_bi, device_id);
	hex_field(&r->bi.compose_hash, r->has_bi, compose_hash);
	hex_field(&r->bi.os_image_hash, r->has_bi, os_image_hash);
	struct audit_record rec = {
	    .method = r->method,
	    .app_id = app_id,
	    .instance_id = instance_id,
	    .device_id = device_id,
	    .compose_hash = compose_hash,
	    .os_image_hash = os_image_hash,
	    .tcb_status = r->has_bi ? r->bi.tcb_status : "",
	    .decision = rc == 0	    ? "allowed"
			: r->denied ? "denied"
				    : "error",
	    .reason = rc == 0 ? "" : err_msg(err),
	    .caller_cert_sha256 = r->caller_sha256,
	};
	uint64_t seq = 0;
	char chain[65];
	struct err aerr;
	err_clear(&aerr);
	if (audit_append(k->audit, &rec, &seq, chain, &aerr) == 0) {
		metrics_release(&k->metrics, rc == 0	 ? METRICS_RELEASE_ALLOWED
					     : r->denied ? METRICS_RELEASE_DENIED
							 : METRICS_RELEASE_ERROR);
		return rc;
	}
	metrics_release(&k->metrics, METRICS_RELEASE_ERROR);
	if (rc < 0) {
		log_err("release log: the %s decision for app %s was not recorded: %s",
			rec.decision, app_id[0] ? app_id : "-", aerr.msg);
		return rc;
	}
	log_err("release log: %s for app %s refused: %s", r->method, app_id, aerr.msg);
	return err_set(err, "release log unavailable: %s; no keys were released", aerr.msg);
}
