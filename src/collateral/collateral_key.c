/*
 * collateral_key.c — which collateral a quote needs: the FMSPC from the PCK
 * leaf's Intel SGX extension and the PCK CA type from the leaf's issuer
 * (attestation §2.1). Reads certificates only; no I/O.
 */
#include "collateral/collateral_internal.h"

#include "attest/pck_ext.h"
#include "attest/quote.h"

#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>

const char *collateral_source_ca_name(enum collateral_source_ca ca)
{
	return ca == COLLATERAL_SOURCE_CA_PROCESSOR ? "processor" : "platform";
}

void collateral_fmspc_hex(const struct collateral_source_key *k, char out[13])
{
	static const char digits[] = "0123456789ABCDEF";
	for (size_t i = 0; i < 6; i++) {
		out[2 * i] = digits[k->fmspc[i] >> 4];
		out[2 * i + 1] = digits[k->fmspc[i] & 15];
	}
	out[12] = '\0';
}
static int bytes_contain(const void *hay, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	const uint8_t *h = hay;
	for (size_t i = 0; k <= n && i <= n - k; i++)
		if (memcmp(h + i, needle, k) == 0)
			return 1;
	return 0;
}
/* ---- FMSPC and CA type from the PCK leaf ------------------------------------ */

static int sgx_ext_fmspc(X509 *leaf, uint8_t fmspc[6], struct err *err)
{
	struct pck_ext e;
	char why[ERR_MAX];
	int rc = pck_ext_read(leaf, &e, why, sizeof why);
	if (rc == -2)
		return err_set(err, "PCK certificate has no Intel SGX extension");
	if (rc < 0)
		return err_set(err, "PCK certificate: %s", why);
	if (e.state[PCK_EXT_FMSPC] != PCK_EXT_OK)
		return err_set(err, "PCK certificate SGX extension has no valid FMSPC");
	memcpy(fmspc, e.fmspc, 6);
	return 0;
}

static int leaf_key(X509 *leaf, struct collateral_source_key *key, struct err *err)
{
	TRY(sgx_ext_fmspc(leaf, key->fmspc, err));
	const X509_NAME *issuer = X509_get_issuer_name(leaf);
	int idx = X509_NAME_get_index_by_NID(issuer, NID_commonName, -1);
	const ASN1_STRING *cn =
	    idx >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(issuer, idx)) : NULL;
	if (!cn)
		return err_set(err, "PCK certificate issuer has no common name");
	const unsigned char *d = ASN1_STRING_get0_data(cn);
	size_t n = (size_t)ASN1_STRING_length(cn);
	key->ca = bytes_contain(d, n, "Platform") ? COLLATERAL_SOURCE_CA_PLATFORM
						  : COLLATERAL_SOURCE_CA_PROCESSOR;
	return 0;
}

int collateral_source_pem_key(const char *pem, size_t len, struct collateral_source_key *key,
			      struct err *err)
{
	if (len == 0 || len > INT_MAX)
		return err_set(err, "PCK certificate chain is empty or too large");
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *leaf = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL; /* the leaf only */
	BIO_free(b);
	ERR_clear_error();
	if (!leaf)
		return err_set(err, "PCK certificate chain holds no PEM certificate");
	int rc = leaf_key(leaf, key, err);
	X509_free(leaf);
	return rc;
}

int collateral_quote_pck_chain(const uint8_t *quote, size_t len, struct tdx_quote *q,
			       struct err *err)
{
	TRY(quote_parse(quote, len, q, err));
	if (!q->pck_chain_pem || q->pck_chain_len == 0)
		return err_set(err,
			       "quote carries no PCK certificate chain (certification data type "
			       "%u): its FMSPC is unknown",
			       (unsigned)q->cert_data_type);
	return 0;
}

int collateral_source_quote_key(const uint8_t *quote, size_t len, struct collateral_source_key *key,
				struct err *err)
{
	struct tdx_quote q;
	TRY(collateral_quote_pck_chain(quote, len, &q, err));
	return collateral_source_pem_key(q.pck_chain_pem, q.pck_chain_len, key, err);
}
