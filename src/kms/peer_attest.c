/*
 * peer_attest.c — the pre-dispatch check of a caller's RA-TLS certificate
 * (peer_attest.h). spec: kms-protocol §2.5 (every method, GetMeta included),
 * §9.3–9.5. Fails closed: an attestation that is present but cannot be
 * verified (no collateral, bad binding, stale TCB data) rejects the request.
 * Never fetches: the checks that need no collateral run first, then the
 * collateral comes from the source's cache, filled by its refresher.
 */
#include "kms/peer_attest.h"

#include "attest/appinfo.h"
#include "attest/ratls.h"
#include "crypto/cert.h"
#include "collateral/collateral_source.h"
#include "util/buf.h"

#include <string.h>

void verified_peer_free(struct verified_peer *p)
{
	attestation_free(&p->att);
	memset(&p->dcap, 0, sizeof p->dcap);
}

/* APP_ID and APP_INFO are parsed (a malformed one is an error) but not used. */
static int check_optional_exts(X509 *cert, struct err *err)
{
	static const char *const oids[] = {OID_APP_ID, OID_APP_INFO};
	for (size_t i = 0; i < 2; i++) {
		struct buf b = BUF_INIT;
		int rc = cert_get_custom_ext(cert, oids[i], &b, err);
		buf_free(&b);
		if (rc < 0)
			return err_wrap(err, "invalid client certificate extension %s", oids[i]);
	}
	return 0;
}

/* DCAP and the local checks of §9.5 for out->att (key binding done).
 * *busy: the failure is the KMS's (collateral not ready in time), not the
 * caller's. */
static int verify_tdx(const struct peer_attest *pa, int64_t now, struct verified_peer *out,
		      int *busy, struct err *err)
{
	struct dcap_loaded *loaded = NULL;
	int rc = -1;
	*busy = 0;
	if (out->att.platform != ATT_PLATFORM_TDX) {
		err_set(err, "only TDX attestations are accepted");
		goto out;
	}
	if (!pa->collateral) {
		err_set(err, "no collateral source configured");
		goto out;
	}
	/* what needs no collateral first: a quote that fails here never makes
	 * the KMS fetch (attestation §2.5) */
	struct dcap_precheck_memo memo;
	if (dcap_precheck_memo(pa->verifier, out->att.quote.p, out->att.quote.len, &memo, err) < 0)
		goto out;
	/* collateral from the cache; a miss waits, bounded, for the refresher */
	if (collateral_source_get_cached(pa->collateral, out->att.quote.p, out->att.quote.len, now,
					 pa->collateral_wait_ms, &loaded, err) < 0) {
		if (strncmp(err->msg, COLLATERAL_SOURCE_BUSY, strlen(COLLATERAL_SOURCE_BUSY)) == 0)
			*busy = 1;
		goto out;
	}
	if (dcap_verify_loaded_memo(pa->verifier, out->att.quote.p, out->att.quote.len, loaded, now,
				    &memo, &out->dcap, err) < 0 ||
	    appinfo_verify_local(&out->att, &out->dcap.report, err) < 0)
		goto out;
	rc = 0;
out:
	if (loaded)
		dcap_loaded_release(loaded);
	return rc;
}

int peer_attest_verify(const struct peer_attest *pa, X509 *cert, int64_t now,
		       struct verified_peer *out, struct err *err)
{
	memset(out, 0, sizeof *out);
	attestation_init(&out->att);
	TRY(check_optional_exts(cert, err));
	int found = ratls_extract(cert, &out->att, err);
	if (found < 0)
		return err_wrap(err, "invalid quote");
	if (found == 0)
		return 0;
	int busy = 0;
	if (ratls_check_binding(&out->att, cert, err) < 0 ||
	    verify_tdx(pa, now, out, &busy, err) < 0) {
		verified_peer_free(out);
		/* not the caller's fault: answered "busy: ...", not "invalid quote" */
		return busy ? -1 : err_wrap(err, "invalid quote");
	}
	return 1;
}

int peer_attest_verify_bound(const struct peer_attest *pa, const uint8_t *spki, size_t spki_len,
			     int64_t now, struct verified_peer *out, int *busy, struct err *err)
{
	*busy = 0;
	if (ratls_check_binding_spki(&out->att, spki, spki_len, err) < 0 ||
	    verify_tdx(pa, now, out, busy, err) < 0) {
		verified_peer_free(out);
		return -1;
	}
	return 0;
}

int peer_attest_verify_unbound(const struct peer_attest *pa, int64_t now, struct verified_peer *out,
			       int *busy, struct err *err)
{
	*busy = 0;
	if (verify_tdx(pa, now, out, busy, err) < 0) {
		verified_peer_free(out);
		return -1;
	}
	return 0;
}
