/*
 * key_release.c — `dstack-kmsctl app-key` and `dstack-kmsctl kms-key`: call
 * KMS.GetAppKey / KMS.GetKmsKey over mTLS with an RA-TLS client
 * certificate, as an attested app or a replica KMS would.
 *
 * app-key prints the released keys and checks k256_signature against the
 * root k256 public key from GetMeta (kms-protocol §6.2): the signed message
 * is "dstack-kms-issued:" || app_id || compressed public key of k256_key,
 * with app_id read from the certificate's attestation (or --app-id). kms-key
 * is for operators testing a replica's policy: it prints only what was
 * handed over (key types, public parts, fingerprints), never the keys,
 * unless --show-secrets. spec: kms-protocol §4.1, §4.2, §6.2, §9.3.
 */
#include "kmsctl/kmsctl.h"

#include "attest/attestation.h"
#include "attest/ratls.h"
#include "crypto/cert.h"
#include "crypto/k256.h"
#include "crypto/keccak.h"
#include "crypto/p256.h"
#include "kms_rpc.pb-c.h"
#include "prpc/prpc_json.h"
#include "util/hex.h"
#include "util/secret.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#define APP_ID_LEN 20
#define ISSUED_DOMAIN "dstack-kms-issued:"

static void usage_app(FILE *f)
{
	fprintf(f, "Usage: " KMSCTL_PROG " [OPTIONS] app-key --cert PEM --key PEM [options]\n"
		   "\n"
		   "Calls KMS.GetAppKey over mTLS with an RA-TLS client certificate (the\n"
		   "attestation in it is what the KMS checks), prints the released keys and\n"
		   "verifies k256_signature against GetMeta's k256_pubkey.\n"
		   "\n"
		   "  --cert PEM         RA-TLS client certificate (e.g. from simtee app)\n"
		   "  --key PEM          its private key\n"
		   "  --app-id HEX       app id for the signature check (default: the app-id\n"
		   "                     event of the certificate's attestation)\n"
		   "  --vm-config JSON   vm_config sent with the request (default empty)\n"
		   "  --api-version N    0 or 1 (default 1)\n"
		   "  --signer HEX       expected signer (default: GetMeta k256_pubkey)\n"
		   "  -h, --help         this text\n"
		   "The keys are secrets: they are printed to stdout only. Exit status 0 when\n"
		   "the keys were released and the signature verifies, 1 otherwise.\n");
}

static void usage_kms(FILE *f)
{
	fprintf(f, "Usage: " KMSCTL_PROG " [OPTIONS] kms-key --cert PEM --key PEM [options]\n"
		   "\n"
		   "Calls KMS.GetKmsKey (the root-key handover to a replica KMS) with an RA-TLS\n"
		   "client certificate, to test whether the policy lets that KMS replicate.\n"
		   "Prints the number of key entries, the root CA public key (SPKI hex), the\n"
		   "root k256 public key and whether they match GetMeta — never the keys\n"
		   "themselves unless --show-secrets.\n"
		   "\n"
		   "  --cert PEM         RA-TLS client certificate\n"
		   "  --key PEM          its private key\n"
		   "  --vm-config JSON   vm_config sent with the request (default empty)\n"
		   "  --show-secrets     also print the handed-over keys (operator testing only)\n"
		   "  -h, --help         this text\n");
}

struct rel_args {
	const char *cert, *key, *app_id, *vm_config, *signer;
	unsigned api_version;
	int show_secrets;
};

static int parse(const char *cmd, int kms, int argc, char **argv, struct rel_args *a, int *done)
{
	struct err err = {{0}};
	memset(a, 0, sizeof *a);
	a->api_version = 1;
	*done = 0;
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		int r;
		if (kmsctl_is_help(argv[i])) {
			(kms ? usage_kms : usage_app)(stdout);
			*done = 1;
			return KMSCTL_EXIT_OK;
		}
		if ((r = kmsctl_opt_value(argc, argv, &i, "--cert", &a->cert, &err)) != 0 ||
		    (r = kmsctl_opt_value(argc, argv, &i, "--key", &a->key, &err)) != 0 ||
		    (r = kmsctl_opt_value(argc, argv, &i, "--vm-config", &a->vm_config, &err)) !=
			0 ||
		    (!kms &&
		     ((r = kmsctl_opt_value(argc, argv, &i, "--app-id", &a->app_id, &err)) != 0 ||
		      (r = kmsctl_opt_value(argc, argv, &i, "--signer", &a->signer, &err)) != 0))) {
			if (r < 0)
				return kmsctl_usage_error(cmd, "%s", err_msg(&err));
			continue;
		}
		if (!kms &&
		    (r = kmsctl_opt_value(argc, argv, &i, "--api-version", &v, &err)) != 0) {
			if (r < 0)
				return kmsctl_usage_error(cmd, "%s", err_msg(&err));
			if (strcmp(v, "0") && strcmp(v, "1"))
				return kmsctl_usage_error(cmd, "--api-version must be 0 or 1");
			a->api_version = (unsigned)(v[0] - '0');
			continue;
		}
		if (kms && !strcmp(argv[i], "--show-secrets")) {
			a->show_secrets = 1;
			continue;
		}
		return kmsctl_usage_error(cmd, "unexpected argument '%s'", argv[i]);
	}
	if (!a->cert || !a->key)
		return kmsctl_usage_error(cmd, "--cert and --key are required");
	return KMSCTL_EXIT_OK;
}

/* The app-id event of the certificate's attestation (§9.3, §10.2). */
static int app_id_from_cert(const char *pem, uint8_t out[APP_ID_LEN], struct err *err)
{
	X509 *x = cert_from_pem(pem, strlen(pem), err);
	if (!x)
		return err_wrap(err, "--cert");
	struct attestation att;
	attestation_init(&att);
	int rc = ratls_extract(x, &att, err);
	X509_free(x);
	if (rc <= 0) {
		attestation_free(&att);
		return rc < 0 ? err_wrap(err, "--cert")
			      : err_set(err, "--cert carries no attestation: give --app-id");
	}
	rc = err_set(err, "--cert: the attestation has no 20-byte app-id event: give --app-id");
	for (size_t i = 0; i < att.n_runtime_events; i++) {
		const struct runtime_event *e = &att.runtime_events[i];
		if (e->event_len == 12 && !memcmp(e->event, "system-ready", 12))
			break;
		if (e->event_len == 6 && !memcmp(e->event, "app-id", 6)) {
			if (e->payload_len == APP_ID_LEN) {
				memcpy(out, e->payload, APP_ID_LEN);
				rc = 0;
			}
			break;
		}
	}
	attestation_free(&att);
	return rc;
}

static void print_hex(const char *label, const uint8_t *p, size_t n)
{
	struct buf b = BUF_INIT;
	buf_init_secret(&b);
	if (hex_append(&b, p, n) == 0)
		printf("%s%s\n", label, buf_str(&b));
	buf_free(&b);
}

static int run_app(struct kmsctl *ctl, int argc, char **argv)
{
	struct rel_args a;
	int done, rc = parse("app-key", 0, argc, argv, &a, &done);
	if (rc != KMSCTL_EXIT_OK || done)
		return rc;
	struct err err = {{0}};
	uint8_t app_id[APP_ID_LEN], signer[K256_PUB_LEN];
	struct buf body = BUF_INIT;
	struct http_response resp;
	Kms__AppKeyResponse *r = NULL;
	memset(&resp, 0, sizeof resp);
	rc = KMSCTL_EXIT_FAIL;
	if (kmsctl_set_client_cert(ctl, a.cert, a.key, &err) < 0) {
		kmsctl_fail("app-key: %s", err_msg(&err));
		goto out;
	}
	if (a.app_id ? kmsctl_parse_hex_fixed("--app-id", a.app_id, app_id, APP_ID_LEN, &err)
		     : app_id_from_cert(ctl->client_cert_pem, app_id, &err)) {
		kmsctl_fail("app-key: %s", err_msg(&err));
		goto out;
	}
	if (a.signer) {
		if (kmsctl_parse_hex_fixed("--signer", a.signer, signer, K256_PUB_LEN, &err) < 0) {
			kmsctl_fail("app-key: %s", err_msg(&err));
			goto out;
		}
	} else if (kmsctl_fetch_k256_pubkey(ctl, signer, &err) < 0) {
		kmsctl_fail("app-key: cannot get the expected signer: %s", err_msg(&err));
		goto out;
	}
	Kms__GetAppKeyRequest req = KMS__GET_APP_KEY_REQUEST__INIT;
	req.api_version = a.api_version;
	req.vm_config = (char *)(a.vm_config ? a.vm_config : "");
	if (prpc_json_encode(&req.base, &body, &err) < 0 ||
	    kmsctl_rpc(ctl, "GetAppKey", buf_str(&body), &resp, &err) < 0) {
		kmsctl_fail("%s", err_msg(&err));
		goto out;
	}
	r = (Kms__AppKeyResponse *)prpc_json_decode(&kms__app_key_response__descriptor,
						    (const char *)resp.body.p, resp.body.len, &err);
	if (!r) {
		kmsctl_fail("GetAppKey: unexpected answer: %s", err_msg(&err));
		goto out;
	}
	if (r->k256_key.len != 32 || r->k256_signature.len != K256_SIG_LEN ||
	    r->disk_crypt_key.len != 32 || r->env_crypt_key.len != 32) {
		kmsctl_fail("GetAppKey: keys of unexpected sizes (disk %zu, env %zu, k256 %zu, "
			    "signature %zu)",
			    r->disk_crypt_key.len, r->env_crypt_key.len, r->k256_key.len,
			    r->k256_signature.len);
		goto out;
	}
	uint8_t pub[K256_PUB_LEN], digest[32], got[K256_PUB_LEN];
	int ok = 0;
	if (k256_pubkey(r->k256_key.data, pub, &err) == 0) {
		struct keccak_ctx k;
		keccak256_init(&k);
		keccak256_update(&k, ISSUED_DOMAIN, strlen(ISSUED_DOMAIN));
		keccak256_update(&k, app_id, APP_ID_LEN);
		keccak256_update(&k, pub, sizeof pub);
		keccak256_final(&k, digest);
		ok = k256_recover(r->k256_signature.data, digest, got, &err) == 0 &&
		     memcmp(got, signer, sizeof got) == 0;
	}
	if (ctl->json) {
		kmsctl_print_body(&resp);
	} else {
		print_hex("app_id:          ", app_id, APP_ID_LEN);
		print_hex("disk_crypt_key:  ", r->disk_crypt_key.data, r->disk_crypt_key.len);
		print_hex("env_crypt_key:   ", r->env_crypt_key.data, r->env_crypt_key.len);
		print_hex("k256_key:        ", r->k256_key.data, r->k256_key.len);
		print_hex("k256_pubkey:     ", pub, sizeof pub);
		print_hex("k256_signature:  ", r->k256_signature.data, r->k256_signature.len);
		print_hex("signer:          ", signer, sizeof signer);
		printf("signature:       %s\n", ok ? "verified" : "FAILED");
		kmsctl_print_field("gateway_app_id:  ", r->gateway_app_id ? r->gateway_app_id : "");
		print_hex("os_image_hash:   ", r->os_image_hash.data, r->os_image_hash.len);
	}
	if (!ok) {
		kmsctl_fail("GetAppKey: k256_signature is not by the KMS root key %s",
			    a.signer ? "given by --signer" : "of GetMeta");
		goto out;
	}
	rc = KMSCTL_EXIT_OK;
out:
	if (r)
		prpc_message_free(&r->base);
	buf_free(&body);
	kmsctl_response_free(&resp);
	return rc;
}

static int run_kms(struct kmsctl *ctl, int argc, char **argv)
{
	struct rel_args a;
	int done, rc = parse("kms-key", 1, argc, argv, &a, &done);
	if (rc != KMSCTL_EXIT_OK || done)
		return rc;
	struct err err = {{0}};
	struct buf body = BUF_INIT;
	struct http_response resp;
	Kms__KmsKeyResponse *r = NULL;
	uint8_t scalar[32], point[P256_POINT_LEN], spki[P256_SPKI_LEN], meta_pub[K256_PUB_LEN],
	    kpub[K256_PUB_LEN];
	memset(&resp, 0, sizeof resp);
	rc = KMSCTL_EXIT_FAIL;
	if (kmsctl_set_client_cert(ctl, a.cert, a.key, &err) < 0) {
		kmsctl_fail("kms-key: %s", err_msg(&err));
		goto out;
	}
	Kms__GetKmsKeyRequest req = KMS__GET_KMS_KEY_REQUEST__INIT;
	req.vm_config = (char *)(a.vm_config ? a.vm_config : "");
	if (prpc_json_encode(&req.base, &body, &err) < 0 ||
	    kmsctl_rpc(ctl, "GetKmsKey", buf_str(&body), &resp, &err) < 0) {
		kmsctl_fail("%s", err_msg(&err));
		goto out;
	}
	r = (Kms__KmsKeyResponse *)prpc_json_decode(&kms__kms_key_response__descriptor,
						    (const char *)resp.body.p, resp.body.len, &err);
	if (!r) {
		kmsctl_fail("GetKmsKey: unexpected answer: %s", err_msg(&err));
		goto out;
	}
	printf("keys:            %zu entr%s\n", r->n_keys, r->n_keys == 1 ? "y" : "ies");
	if (r->n_keys != 1 || !r->keys[0]->ca_key || r->keys[0]->k256_key.len != 32) {
		kmsctl_fail("GetKmsKey: expected exactly one entry with a CA key and a 32-byte "
			    "k256 key");
		goto out;
	}
	const Kms__KmsKeys *e = r->keys[0];
	if (p256_scalar_from_pem(e->ca_key, strlen(e->ca_key), scalar, &err) < 0 ||
	    p256_public_point(scalar, point, &err) < 0 || p256_spki_der(point, spki) < 0 ||
	    k256_pubkey(e->k256_key.data, kpub, &err) < 0) {
		kmsctl_fail("GetKmsKey: the handed-over keys do not parse: %s", err_msg(&err));
		goto out;
	}
	print_hex("ca_pubkey:       ", spki, sizeof spki);
	print_hex("k256_pubkey:     ", kpub, sizeof kpub);
	int match = kmsctl_fetch_k256_pubkey(ctl, meta_pub, &err) == 0 &&
		    memcmp(meta_pub, kpub, sizeof kpub) == 0;
	printf("matches GetMeta: %s\n", match ? "yes" : "NO");
	printf("temp_ca_key:     %s\n",
	       r->temp_ca_key && r->temp_ca_key[0] ? "present" : "missing");
	if (a.show_secrets) {
		fputs(e->ca_key, stdout);
		print_hex("k256_key:        ", e->k256_key.data, e->k256_key.len);
	}
	if (!match) {
		kmsctl_fail("GetKmsKey: the handed-over k256 key is not the one GetMeta serves");
		goto out;
	}
	rc = KMSCTL_EXIT_OK;
out:
	secret_wipe(scalar, sizeof scalar);
	if (r)
		prpc_message_free(&r->base);
	buf_free(&body);
	kmsctl_response_free(&resp);
	return rc;
}

const struct kmsctl_cmd kmsctl_cmd_app_key = {
    .name = "app-key",
    .summary = "get an app's keys with an RA-TLS certificate and verify their signature",
    .run = run_app,
    .usage = usage_app,
};

const struct kmsctl_cmd kmsctl_cmd_kms_key = {
    .name = "kms-key",
    .summary = "test the root-key handover (GetKmsKey) to a replica's certificate",
    .run = run_kms,
    .usage = usage_kms,
};
