/*
 * collateral_key.c — which collateral a quote needs: the FMSPC from the PCK
 * leaf's Intel SGX extension and the PCK CA type from the leaf's issuer
 * (attestation §2.1). Reads certificates only; no I/O.
 */
#include "collateral/collateral_internal.h"

#include "attest/quote.h"

#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>

#define OID_SGX_EXT "1.2.840.113741.1.13.1"
#define OID_SGX_FMSPC "1.2.840.113741.1.13.1.4"

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
	ASN1_OBJECT *ext_oid = OBJ_txt2obj(OID_SGX_EXT, 1);
	ASN1_OBJECT *fm_oid = OBJ_txt2obj(OID_SGX_FMSPC, 1);
	STACK_OF(ASN1_TYPE) *seq = NULL;
	int rc = -1, found = 0;

	if (!ext_oid || !fm_oid) {
		err_openssl(err, "cannot build the SGX extension OIDs");
		goto out;
	}
	int idx = X509_get_ext_by_OBJ(leaf, ext_oid, -1);
	if (idx < 0) {
		err_set(err, "PCK certificate has no Intel SGX extension");
		goto out;
	}
	if (X509_get_ext_by_OBJ(leaf, ext_oid, idx) >= 0) {
		err_set(err, "PCK certificate has the Intel SGX extension twice");
		goto out;
	}
	const ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(X509_get_ext(leaf, idx));
	const unsigned char *p = ASN1_STRING_get0_data(os);
	long n = ASN1_STRING_length(os);
	seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, n);
	if (!seq || p != ASN1_STRING_get0_data(os) + n) {
		err_set(err, "PCK certificate SGX extension is not a DER SEQUENCE");
		goto out;
	}
	for (int i = 0; i < sk_ASN1_TYPE_num(seq); i++) {
		ASN1_TYPE *t = sk_ASN1_TYPE_value(seq, i);
		if (ASN1_TYPE_get(t) != V_ASN1_SEQUENCE) {
			err_set(err, "PCK certificate SGX extension: entry %d is not a SEQUENCE",
				i);
			goto out;
		}
		const unsigned char *q = t->value.sequence->data;
		long qn = t->value.sequence->length;
		STACK_OF(ASN1_TYPE) *pair = d2i_ASN1_SEQUENCE_ANY(NULL, &q, qn);
		int ok = pair && q == t->value.sequence->data + qn && sk_ASN1_TYPE_num(pair) == 2 &&
			 ASN1_TYPE_get(sk_ASN1_TYPE_value(pair, 0)) == V_ASN1_OBJECT;
		if (ok && OBJ_cmp(sk_ASN1_TYPE_value(pair, 0)->value.object, fm_oid) == 0) {
			ASN1_TYPE *v = sk_ASN1_TYPE_value(pair, 1);
			if (found++ || ASN1_TYPE_get(v) != V_ASN1_OCTET_STRING ||
			    v->value.octet_string->length != 6) {
				ok = 0;
			} else {
				memcpy(fmspc, v->value.octet_string->data, 6);
			}
		}
		sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
		if (!ok) {
			err_set(err, "PCK certificate SGX extension: malformed entry %d", i);
			goto out;
		}
	}
	if (!found) {
		err_set(err, "PCK certificate SGX extension has no FMSPC");
		goto out;
	}
	rc = 0;
out:
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	ASN1_OBJECT_free(ext_oid);
	ASN1_OBJECT_free(fm_oid);
	ERR_clear_error();
	return rc;
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
