/*
 * csr.c — CertSigningRequest V1/V2 decoding, encoding and signature check
 * (csr.h). spec: kms-protocol §8, §4.6.
 */
#include "attest/csr.h"

#include "attest/scale.h"
#include "util/reader.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <string.h>

static int get_str(struct reader *r, struct csr_str *s, const char *what, struct err *err)
{
	if (scale_string(r, &s->p, &s->len, err) < 0)
		return err_wrap(err, "%s", what);
	return 0;
}

static int get_opt_u64(struct reader *r, int *has, uint64_t *v, const char *what, struct err *err)
{
	if (scale_option(r, has, err) < 0 || (*has && scale_u64(r, v, err) < 0))
		return err_wrap(err, "%s", what);
	return 0;
}

int csr_decode(int version, const uint8_t *p, size_t n, struct csr *c, struct err *err)
{
	struct reader r;
	memset(c, 0, sizeof *c);
	if (version != 1 && version != 2)
		return err_set(err, "unsupported CSR version %d", version);
	if (n > CSR_MAX_BYTES)
		return err_set(err, "CSR of %zu bytes exceeds %u", n, CSR_MAX_BYTES);
	c->version = version;
	reader_init(&r, p, n);
	TRY(get_str(&r, &c->confirm, "confirm", err));
	if (scale_bytes(&r, &c->pubkey, &c->pubkey_len, err) < 0)
		return err_wrap(err, "pubkey");
	if (scale_option(&r, &c->has_org, err) < 0)
		return err_wrap(err, "org_name");
	if (c->has_org)
		TRY(get_str(&r, &c->org, "org_name", err));
	TRY(get_str(&r, &c->subject, "subject", err));
	if (scale_len(&r, 1, &c->n_san, err) < 0)
		return err_wrap(err, "subject_alt_names");
	if (c->n_san > CSR_MAX_SANS)
		return err_set(err, "subject_alt_names: %zu entries, at most %d", c->n_san,
			       CSR_MAX_SANS);
	for (size_t i = 0; i < c->n_san; i++)
		TRY(get_str(&r, &c->san[i], "subject_alt_names", err));
	if (scale_bool(&r, &c->usage_server_auth, err) < 0 ||
	    scale_bool(&r, &c->usage_client_auth, err) < 0 ||
	    scale_bool(&r, &c->ext_quote, err) < 0)
		return err_wrap(err, "config flags");
	if (version == 2) {
		if (scale_bool(&r, &c->ext_app_info, err) < 0)
			return err_wrap(err, "ext_app_info");
		TRY(get_opt_u64(&r, &c->has_not_before, &c->not_before, "not_before", err));
		TRY(get_opt_u64(&r, &c->has_not_after, &c->not_after, "not_after", err));
		/* the attestation has no length prefix: it is the rest */
		c->attestation = p + r.off;
		c->attestation_len = rd_left(&r);
		if (!c->attestation_len)
			return err_set(err, "attestation: missing");
		return 0;
	}
	if (scale_bytes(&r, &c->quote, &c->quote_len, err) < 0)
		return err_wrap(err, "quote");
	if (scale_bytes(&r, &c->event_log, &c->event_log_len, err) < 0)
		return err_wrap(err, "event_log");
	if (rd_left(&r))
		return err_set(err, "%zu trailing bytes after the CSR", rd_left(&r));
	return 0;
}

int csr_verify_signature(const struct csr *c, const uint8_t *data, size_t n, const uint8_t *sig,
			 size_t sig_len, uint8_t point[P256_POINT_LEN], struct err *err)
{
	const unsigned char *q = c->pubkey;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &q, (long)c->pubkey_len);
	EVP_MD_CTX *md = NULL;
	int rc = -1;
	if (!pk || q != c->pubkey + c->pubkey_len) {
		err_set(err, "pubkey is not a SubjectPublicKeyInfo");
		goto out;
	}
	if (p256_point_from_evp(pk, point, err) < 0) {
		err_wrap(err, "pubkey");
		goto out;
	}
	if (!(md = EVP_MD_CTX_new()) ||
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) != 1) {
		err_openssl(err, "cannot verify");
		goto out;
	}
	if (EVP_DigestVerify(md, sig, sig_len, data, n) != 1) {
		err_set(err, "signature does not verify with the CSR's key");
		goto out;
	}
	if (c->confirm.len != strlen(CSR_CONFIRM) ||
	    memcmp(c->confirm.p, CSR_CONFIRM, c->confirm.len) != 0) {
		err_set(err, "Invalid confirm word");
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	return rc;
}

int csr_attestation(const struct csr *c, struct attestation *a, struct err *err)
{
	if (c->version == 2)
		return attestation_decode(c->attestation, c->attestation_len, a, err);
	if (attestation_from_quote_and_event_log(c->quote, c->quote_len, c->event_log,
						 c->event_log_len, a, err) < 0)
		return err_wrap(err, "Failed to upgrade csr v1 to v2");
	return 0;
}

static int put_str(struct buf *b, const struct csr_str *s)
{
	return scale_put_bytes(b, s->p, s->len);
}

int csr_encode_v2(const struct csr *c, struct buf *out, struct err *err)
{
	int bad =
	    put_str(out, &c->confirm) < 0 || scale_put_bytes(out, c->pubkey, c->pubkey_len) < 0 ||
	    scale_put_bool(out, c->has_org) < 0 || (c->has_org && put_str(out, &c->org) < 0) ||
	    put_str(out, &c->subject) < 0 || scale_put_compact(out, c->n_san) < 0;
	for (size_t i = 0; !bad && i < c->n_san && i < CSR_MAX_SANS; i++)
		bad = put_str(out, &c->san[i]) < 0;
	bad = bad || scale_put_bool(out, c->usage_server_auth) < 0 ||
	      scale_put_bool(out, c->usage_client_auth) < 0 ||
	      scale_put_bool(out, c->ext_quote) < 0 || scale_put_bool(out, c->ext_app_info) < 0 ||
	      scale_put_bool(out, c->has_not_before) < 0 ||
	      (c->has_not_before && scale_put_u64(out, c->not_before) < 0) ||
	      scale_put_bool(out, c->has_not_after) < 0 ||
	      (c->has_not_after && scale_put_u64(out, c->not_after) < 0) ||
	      buf_append(out, c->attestation, c->attestation_len) < 0;
	return bad ? err_set(err, "out of memory") : 0;
}
