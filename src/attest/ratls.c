/*
 * ratls.c — attestation extraction from RA-TLS certificates and the
 * REPORTDATA key binding (ratls.h).
 *
 * Extension values are read with cert_get_custom_ext, which unwraps the
 * double OCTET STRING and rejects duplicated extensions. The binding compare
 * is over public data, so a plain memcmp is fine. Never logs.
 * spec: kms-protocol §9.3, §9.5; attestation §3.1, §3.2.
 */
#include "attest/ratls.h"

#include "crypto/cert.h"
#include "util/buf.h"

#include <openssl/evp.h>
#include <string.h>

int ratls_report_data(const char *tag, const uint8_t *content, size_t len, uint8_t out[64],
		      struct err *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int olen = 0;
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) == 1 &&
		 EVP_DigestUpdate(ctx, tag, strlen(tag)) == 1 &&
		 EVP_DigestUpdate(ctx, ":", 1) == 1 && EVP_DigestUpdate(ctx, content, len) == 1 &&
		 EVP_DigestFinal_ex(ctx, out, &olen) == 1 && olen == 64;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : err_openssl(err, "SHA-512");
}

int ratls_extract(X509 *cert, struct attestation *a, struct err *err)
{
	struct buf att = BUF_INIT, quote = BUF_INIT, log = BUF_INIT;
	int rc = -1, has;
	attestation_init(a);
	has = cert_get_custom_ext(cert, OID_ATTESTATION, &att, err);
	if (has < 0)
		goto out;
	if (has > 0) {
		if (attestation_decode(att.p, att.len, a, err) < 0) {
			err_wrap(err, "Failed to decode attestation from cert extension");
			goto out;
		}
		rc = 1;
		goto out;
	}
	/* spec: kms-protocol §9.3 — backward compatibility with .1.1 + .1.2. */
	has = cert_get_custom_ext(cert, OID_TDX_QUOTE, &quote, err);
	if (has <= 0) {
		rc = has;
		goto out;
	}
	has = cert_get_custom_ext(cert, OID_EVENT_LOG, &log, err);
	if (has < 0)
		goto out;
	if (has == 0) {
		err_set(err, "TDX event log missing");
		goto out;
	}
	if (attestation_from_quote_and_event_log(quote.p, quote.len, log.p, log.len, a, err) < 0)
		goto out;
	rc = 1;
out:
	buf_free(&att);
	buf_free(&quote);
	buf_free(&log);
	return rc;
}

int ratls_check_binding_spki(const struct attestation *a, const uint8_t *spki, size_t spki_len,
			     struct err *err)
{
	uint8_t want[64];
	TRY(ratls_report_data(RATLS_TAG_CERT, spki, spki_len, want, err));
	if (a->report_data.len != sizeof want)
		return err_set(err, "stack.report_data must be 64 bytes");
	if (memcmp(a->report_data.p, want, sizeof want) != 0)
		return err_set(err, "report data mismatch");
	return 0;
}

int ratls_check_binding(const struct attestation *a, X509 *cert, struct err *err)
{
	struct buf spki = BUF_INIT;
	int rc = cert_spki_der(cert, &spki, err);
	if (rc == 0 && spki.len == 0)
		rc = err_set(err, "certificate SubjectPublicKeyInfo is empty");
	if (rc == 0)
		rc = ratls_check_binding_spki(a, spki.p, spki.len, err);
	buf_free(&spki);
	return rc;
}
