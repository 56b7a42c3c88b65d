/*
 * attestation_setup.c — builds the KMS's attestation verifier from
 * [core.attestation] (kms-protocol §14; attestation §2.2): the pinned Intel
 * root unless root_ca.tdx is set (which config.c allows only with
 * insecure_allow_external_trust_anchors), and the collateral source (PCCS +
 * on-disk cache with background refresh; requests only read its cache).
 */
#define _GNU_SOURCE
#include "crypto/cert.h"
#include "collateral/collateral_source.h"
#include "kms/kms.h"
#include "util/fs.h"
#include "util/log.h"

#include <openssl/x509.h>
#include <string.h>

/* A trust anchor file, PEM or DER, as DER. */
static int read_anchor(const char *path, struct buf *der, struct err *err)
{
	struct buf raw = BUF_INIT;
	int rc = -1;
	if (fs_read_file(path, 64 * 1024, &raw, err) < 0)
		goto out;
	if (raw.len > 10 && memmem(raw.p, raw.len, "-----BEGIN", 10)) {
		X509 *x = cert_from_pem(buf_str(&raw), raw.len, err);
		if (!x)
			goto out;
		rc = cert_to_der(x, der, err);
		X509_free(x);
	} else {
		const unsigned char *p = raw.p;
		X509 *x = d2i_X509(NULL, &p, (long)raw.len);
		if (!x) {
			err_openssl(err, "not a DER or PEM certificate");
			goto out;
		}
		X509_free(x);
		rc = buf_append(der, raw.p, raw.len) < 0 ? err_set(err, "out of memory") : 0;
	}
out:
	buf_free(&raw);
	return rc < 0 ? err_wrap(err, "trust anchor %s", path) : 0;
}

int kms_attestation_init(struct kms *k, struct err *err)
{
	const struct kms_config *c = &k->cfg;
	struct buf anchor = BUF_INIT;
	int rc = -1;
	if (c->root_ca_tdx[0]) {
		TRY_OUT(read_anchor(c->root_ca_tdx, &anchor, err));
		log_warn("[core.attestation.root_ca] tdx = %s replaces the Intel SGX Root CA: "
			 "quotes are trusted on a non-Intel root",
			 c->root_ca_tdx);
	}
	k->peer.verifier = dcap_verifier_new(anchor.len ? anchor.p : NULL, anchor.len, err);
	if (!k->peer.verifier)
		goto out;
	struct collateral_source_opts o = {
	    .pccs_url = c->pccs_url,
	    .anchor_der = anchor.len ? anchor.p : NULL,
	    .anchor_len = anchor.len,
	    .cache_dir = c->collateral_cache_dir,
	};
	k->peer.collateral = collateral_source_new(&o, k->peer.verifier, err);
	if (!k->peer.collateral) {
		err_wrap(err, "collateral source ([core.attestation] collateral_cache_dir = %s)",
			 c->collateral_cache_dir);
		goto out;
	}
	TRY_OUT(collateral_source_start(k->peer.collateral, err));
	/* a caller whose collateral is not cached waits for the refresher at most
	 * until its request deadline ([core] request_deadline) */
	k->peer.collateral_wait_ms = (long)c->request_deadline_ms;
	char origin[256];
	log_url_origin(c->pccs_url[0] ? c->pccs_url : "https://pccs.phala.network", origin,
		       sizeof origin);
	log_info("Attestation: DCAP collateral from %s, cache %s", origin,
		 c->collateral_cache_dir[0] ? c->collateral_cache_dir : "(memory only)");
	rc = 0;
out:
	buf_free(&anchor);
	return rc;
}

void kms_attestation_free(struct kms *k)
{
	if (k->peer.collateral) {
		collateral_source_stop(k->peer.collateral);
		collateral_source_free(k->peer.collateral);
	}
	if (k->peer.verifier)
		dcap_verifier_free(k->peer.verifier);
	k->peer.collateral = NULL;
	k->peer.verifier = NULL;
}
