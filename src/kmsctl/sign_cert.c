/*
 * sign_cert.c — `dstack-kmsctl sign-cert`: builds a CertSigningRequestV2
 * (kms-protocol §8) from a P-256 key and an attestation file, signs it
 * (ECDSA P-256 / SHA-256), calls KMS.SignCert, prints the returned chain
 * [leaf, App CA, root] and verifies it with OpenSSL up to the KMS root CA
 * (--ca, else GetMeta's ca_cert). The attestation must be bound to the key
 * (report data = SHA-512("ratls-cert:" || SPKI)); the KMS checks that.
 */
#include "kmsctl/kmsctl.h"

#include "attest/csr.h"
#include "crypto/cert.h"
#include "crypto/p256.h"
#include "kms_rpc.pb-c.h"
#include "prpc/prpc_json.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/secret.h"

#include <openssl/evp.h>
#include <openssl/x509_vfy.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(
	    f, "Usage: " KMSCTL_PROG " [OPTIONS] sign-cert --key PEM --attestation FILE [options]\n"
	       "\n"
	       "Builds a version-2 CSR for the key, with the attestation (VersionedAttestation\n"
	       "bytes, binary or hex) bound to it, asks KMS.SignCert for a certificate, prints\n"
	       "the chain (leaf, App CA, root) and verifies it up to the KMS root CA.\n"
	       "\n"
	       "  --key PEM             the P-256 private key the certificate is for\n"
	       "  --attestation FILE    attestation bound to that key (e.g. simtee ratls-cert\n"
	       "                        --key PEM --out-attestation FILE)\n"
	       "  --subject NAME        certificate CN (default: app)\n"
	       "  --org NAME            certificate O\n"
	       "  --alt-name NAME       a subject alternative name (DNS name or IP; repeatable)\n"
	       "  --usage-server-auth   extended key usage serverAuth\n"
	       "  --usage-client-auth   extended key usage clientAuth\n"
	       "  --ext-quote           embed the attestation in the certificate\n"
	       "  --ext-app-info        embed the APP_INFO extension\n"
	       "  --vm-config JSON      vm_config sent with the request\n"
	       "  --out-chain FILE      also write the chain PEM there\n"
	       "  --ca PEM              the KMS root CA to verify against (default: GetMeta)\n"
	       "  -h, --help            this text\n");
}

struct sc_args {
	const char *key, *att, *subject, *org, *vm_config, *out_chain, *ca;
	const char *san[CSR_MAX_SANS];
	size_t nsan;
	int server, client, ext_quote, ext_app_info;
};

static int parse(int argc, char **argv, struct sc_args *a, int *done)
{
	struct err err = {{0}};
	memset(a, 0, sizeof *a);
	a->subject = "app";
	*done = 0;
	static const struct {
		const char *name;
		size_t off;
	} flags[] = {{"--usage-server-auth", offsetof(struct sc_args, server)},
		     {"--usage-client-auth", offsetof(struct sc_args, client)},
		     {"--ext-quote", offsetof(struct sc_args, ext_quote)},
		     {"--ext-app-info", offsetof(struct sc_args, ext_app_info)}};
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		int r, matched = 0;
		if (kmsctl_is_help(argv[i])) {
			usage(stdout);
			*done = 1;
			return KMSCTL_EXIT_OK;
		}
		for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++)
			if (!strcmp(argv[i], flags[k].name)) {
				*(int *)((char *)a + flags[k].off) = 1;
				matched = 1;
			}
		if (matched)
			continue;
		if ((r = kmsctl_opt_value(argc, argv, &i, "--alt-name", &v, &err)) != 0) {
			if (r < 0)
				return kmsctl_usage_error("sign-cert", "%s", err_msg(&err));
			if (a->nsan == CSR_MAX_SANS)
				return kmsctl_usage_error("sign-cert", "at most %d --alt-name",
							  CSR_MAX_SANS);
			a->san[a->nsan++] = v;
			continue;
		}
		if ((r = kmsctl_opt_value(argc, argv, &i, "--key", &a->key, &err)) != 0 ||
		    (r = kmsctl_opt_value(argc, argv, &i, "--attestation", &a->att, &err)) != 0 ||
		    (r = kmsctl_opt_value(argc, argv, &i, "--subject", &a->subject, &err)) != 0 ||
		    (r = kmsctl_opt_value(argc, argv, &i, "--org", &a->org, &err)) != 0 ||
		    (r = kmsctl_opt_value(argc, argv, &i, "--vm-config", &a->vm_config, &err)) !=
			0 ||
		    (r = kmsctl_opt_value(argc, argv, &i, "--out-chain", &a->out_chain, &err)) !=
			0 ||
		    (r = kmsctl_opt_value(argc, argv, &i, "--ca", &a->ca, &err)) != 0) {
			if (r < 0)
				return kmsctl_usage_error("sign-cert", "%s", err_msg(&err));
			continue;
		}
		return kmsctl_usage_error("sign-cert", "unexpected argument '%s'", argv[i]);
	}
	if (!a->key || !a->att)
		return kmsctl_usage_error("sign-cert", "--key and --attestation are required");
	return KMSCTL_EXIT_OK;
}

static int sign_der(const uint8_t scalar[32], const struct buf *data, struct buf *sig,
		    struct err *err)
{
	EVP_PKEY *pk = p256_evp_from_scalar(scalar, err);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t n = 0;
	int rc = -1;
	if (!pk || !md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) != 1 ||
	    EVP_DigestSign(md, NULL, &n, data->p, data->len) != 1 || buf_reserve(sig, n) < 0 ||
	    EVP_DigestSign(md, sig->p, &n, data->p, data->len) != 1) {
		err_openssl(err, "cannot sign the CSR");
		goto out;
	}
	sig->len = n;
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	return rc;
}

/* Verifies chain[0] with chain[1] as intermediate against root_pem. */
static int verify_chain(char **chain, size_t n, const char *root_pem, struct err *err)
{
	X509 *root = cert_from_pem(root_pem, strlen(root_pem), err), *leaf = NULL, *mid = NULL;
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	int rc = -1;
	if (!root || n != 3 || !(leaf = cert_from_pem(chain[0], strlen(chain[0]), err)) ||
	    !(mid = cert_from_pem(chain[1], strlen(chain[1]), err))) {
		if (n != 3)
			err_set(err, "the chain has %zu certificates, expected 3", n);
		goto out;
	}
	if (!st || !ctx || !untrusted || X509_STORE_add_cert(st, root) != 1 ||
	    !sk_X509_push(untrusted, mid) || X509_STORE_CTX_init(ctx, st, leaf, untrusted) != 1) {
		err_openssl(err, "cannot set up the verification");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		err_set(err, "the chain does not verify to the root CA: %s",
			X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	if (strcmp(chain[2], root_pem) != 0) {
		err_set(err, "the chain's last certificate is not the root CA");
		goto out;
	}
	rc = 0;
out:
	sk_X509_free(untrusted);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	X509_free(leaf);
	X509_free(mid);
	X509_free(root);
	return rc;
}

static int run(struct kmsctl *ctl, int argc, char **argv)
{
	struct sc_args a;
	int done, rc = parse(argc, argv, &a, &done);
	if (rc != KMSCTL_EXIT_OK || done)
		return rc;
	struct err err = {{0}};
	struct buf keyfile, file = BUF_INIT, att = BUF_INIT, csrb = BUF_INIT, sig = BUF_INIT,
			    body = BUF_INIT, rootb = BUF_INIT, chainb = BUF_INIT;
	uint8_t scalar[32], point[P256_POINT_LEN], spki[P256_SPKI_LEN];
	struct http_response resp;
	Kms__SignCertResponse *r = NULL;
	char *root = NULL;
	buf_init_secret(&keyfile);
	memset(&resp, 0, sizeof resp);
	rc = KMSCTL_EXIT_FAIL;
	if (fs_read_file(a.key, 64 * 1024, &keyfile, &err) < 0 ||
	    p256_scalar_from_pem(buf_str(&keyfile), keyfile.len, scalar, &err) < 0 ||
	    p256_public_point(scalar, point, &err) < 0 || p256_spki_der(point, spki) < 0) {
		kmsctl_fail("sign-cert: --key %s: %s", a.key, err_msg(&err));
		goto out;
	}
	if (fs_read_file(a.att, CSR_MAX_BYTES, &file, &err) < 0) {
		kmsctl_fail("sign-cert: --attestation: %s", err_msg(&err));
		goto out;
	}
	int is_text = file.len > 0;
	for (size_t i = 0; i < file.len && is_text; i++)
		is_text = file.p[i] < 0x80 && (file.p[i] >= 0x20 || file.p[i] == '\n' ||
					       file.p[i] == '\r' || file.p[i] == '\t');
	if (is_text ? hex_decode_text(file.p, file.len, CSR_MAX_BYTES, &att, &err) < 0
		    : buf_append(&att, file.p, file.len) < 0) {
		kmsctl_fail("sign-cert: --attestation %s: %s", a.att,
			    is_text ? err_msg(&err) : "out of memory");
		goto out;
	}
	struct csr c;
	memset(&c, 0, sizeof c);
	c.version = 2;
	c.confirm = (struct csr_str){CSR_CONFIRM, strlen(CSR_CONFIRM)};
	c.pubkey = spki;
	c.pubkey_len = sizeof spki;
	c.has_org = a.org != NULL;
	if (a.org)
		c.org = (struct csr_str){a.org, strlen(a.org)};
	c.subject = (struct csr_str){a.subject, strlen(a.subject)};
	c.n_san = a.nsan;
	for (size_t i = 0; i < a.nsan; i++)
		c.san[i] = (struct csr_str){a.san[i], strlen(a.san[i])};
	c.usage_server_auth = a.server;
	c.usage_client_auth = a.client;
	c.ext_quote = a.ext_quote;
	c.ext_app_info = a.ext_app_info;
	c.attestation = att.p;
	c.attestation_len = att.len;
	if (csr_encode_v2(&c, &csrb, &err) < 0 || sign_der(scalar, &csrb, &sig, &err) < 0) {
		kmsctl_fail("sign-cert: %s", err_msg(&err));
		goto out;
	}
	Kms__SignCertRequest req = KMS__SIGN_CERT_REQUEST__INIT;
	req.api_version = 2;
	req.csr = (ProtobufCBinaryData){csrb.len, csrb.p};
	req.signature = (ProtobufCBinaryData){sig.len, sig.p};
	req.vm_config = (char *)(a.vm_config ? a.vm_config : "");
	if (prpc_json_encode(&req.base, &body, &err) < 0 ||
	    kmsctl_rpc(ctl, "SignCert", buf_str(&body), &resp, &err) < 0) {
		kmsctl_fail("%s", err_msg(&err));
		goto out;
	}
	r = (Kms__SignCertResponse *)prpc_json_decode(
	    &kms__sign_cert_response__descriptor, (const char *)resp.body.p, resp.body.len, &err);
	if (!r) {
		kmsctl_fail("SignCert: unexpected answer: %s", err_msg(&err));
		goto out;
	}
	for (size_t i = 0; i < r->n_certificate_chain; i++) {
		if (!kmsctl_is_pem_text(r->certificate_chain[i])) {
			kmsctl_fail("SignCert: certificate %zu of the chain is not PEM text", i);
			goto out;
		}
		if (buf_append_str(&chainb, r->certificate_chain[i]) < 0)
			goto oom;
	}
	fputs(buf_str(&chainb), stdout);
	if (a.out_chain && fs_write_atomic(a.out_chain, chainb.p, chainb.len, 0644, &err) < 0) {
		kmsctl_fail("sign-cert: --out-chain: %s", err_msg(&err));
		goto out;
	}
	if (a.ca) {
		if (fs_read_file(a.ca, 64 * 1024, &rootb, &err) < 0 ||
		    !(root = strdup(buf_str(&rootb)))) {
			kmsctl_fail("sign-cert: --ca: %s", err_msg(&err));
			goto out;
		}
	} else if (kmsctl_fetch_root_ca(ctl, &root, &err) < 0) {
		kmsctl_fail("sign-cert: cannot get the root CA: %s", err_msg(&err));
		goto out;
	}
	if (verify_chain(r->certificate_chain, r->n_certificate_chain, root, &err) < 0) {
		kmsctl_fail("sign-cert: %s", err_msg(&err));
		goto out;
	}
	fprintf(stderr, "chain: verified up to the root CA (%s)\n", a.ca ? a.ca : "GetMeta");
	rc = KMSCTL_EXIT_OK;
	goto out;
oom:
	kmsctl_fail("sign-cert: out of memory");
out:
	secret_wipe(scalar, sizeof scalar);
	if (r)
		prpc_message_free(&r->base);
	free(root);
	buf_free(&keyfile);
	buf_free(&file);
	buf_free(&att);
	buf_free(&csrb);
	buf_free(&sig);
	buf_free(&body);
	buf_free(&rootb);
	buf_free(&chainb);
	kmsctl_response_free(&resp);
	return rc;
}

const struct kmsctl_cmd kmsctl_cmd_sign_cert = {
    .name = "sign-cert",
    .summary = "get a certificate from SignCert for a key and its attestation, verified",
    .run = run,
    .usage = usage,
};
