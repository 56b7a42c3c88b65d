/*
 * meta.c — `dstack-kmsctl meta`: calls KMS.GetMeta and prints a readable
 * summary (root CA subject and fingerprint, k256 public key, dev mode,
 * bootstrap info, auth-API facts), or the raw JSON with --json. Also the
 * k256-key fetch env-pubkey uses as the expected signer.
 * The answer holds only public values; strings from the KMS are sanitized.
 * spec: kms-protocol §4.4 (GetMeta), §3 (GetMetaResponse).
 */
#include "kmsctl/kmsctl.h"
#include "kmsctl/attest_cli.h"

#include "crypto/k256.h"
#include "prpc/prpc_json.h"
#include "kms_rpc.pb-c.h"
#include "util/hex.h"

#include <inttypes.h>
#include <stdlib.h>
#include <openssl/x509.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
	fprintf(f, "Usage: " KMSCTL_PROG " [OPTIONS] meta\n"
		   "\n"
		   "Calls KMS.GetMeta and prints: the root CA certificate's subject and\n"
		   "SHA-256 fingerprint, the root k256 public key (the signer of env-pubkey\n"
		   "answers), whether the KMS runs with dev auth (every app allowed), whether\n"
		   "bootstrap info is present, and the gateway app id, KMS contract address,\n"
		   "chain id and app auth implementation the auth API reports.\n"
		   "With the global --json option the KMS's JSON answer is printed as is.\n"
		   "\n"
		   "  --verify-server   also verify the attestation in the KMS's own TLS\n"
		   "                    certificate (attest_rpc_cert = true): bound to its key,\n"
		   "                    DCAP-verified, RTMR3 replayed; prints the KMS's own\n"
		   "                    measurements. Fails for a KMS in host mode.\n"
		   "  --pccs URL        collateral for --verify-server (a PCCS base URL)\n"
		   "  --collateral FILE collateral JSON for --verify-server instead\n"
		   "  --root FILE       trust anchor instead of the Intel root (tests only)\n"
		   "  -h, --help        this text\n");
}

static int get_meta(struct kmsctl *ctl, struct http_response *resp, Kms__GetMetaResponse **out,
		    struct err *err)
{
	TRY(kmsctl_rpc(ctl, "GetMeta", NULL, resp, err));
	ProtobufCMessage *m = prpc_json_decode(&kms__get_meta_response__descriptor,
					       (const char *)resp->body.p, resp->body.len, err);
	if (!m) {
		err_wrap(err, "GetMeta: unexpected answer");
		return -1;
	}
	*out = (Kms__GetMetaResponse *)m;
	return 0;
}

int kmsctl_fetch_k256_pubkey(struct kmsctl *ctl, uint8_t pub[K256_PUB_LEN], struct err *err)
{
	struct http_response resp;
	Kms__GetMetaResponse *m = NULL;
	int rc = -1;
	TRY_OUT(get_meta(ctl, &resp, &m, err));
	if (m->k256_pubkey.len != K256_PUB_LEN) {
		err_set(err, "GetMeta: k256_pubkey is %zu bytes, expected %d", m->k256_pubkey.len,
			K256_PUB_LEN);
		goto out;
	}
	memcpy(pub, m->k256_pubkey.data, K256_PUB_LEN);
	rc = 0;
out:
	prpc_message_free(m ? &m->base : NULL);
	kmsctl_response_free(&resp);
	return rc;
}

int kmsctl_fetch_root_ca(struct kmsctl *ctl, char **pem, struct err *err)
{
	struct http_response resp;
	Kms__GetMetaResponse *m = NULL;
	int rc = -1;
	*pem = NULL;
	TRY_OUT(get_meta(ctl, &resp, &m, err));
	if (!m->ca_cert || !kmsctl_is_pem_text(m->ca_cert)) {
		err_set(err, "GetMeta: ca_cert is not PEM text");
		goto out;
	}
	if (!(*pem = strdup(m->ca_cert))) {
		err_set(err, "out of memory");
		goto out;
	}
	rc = 0;
out:
	prpc_message_free(m ? &m->base : NULL);
	kmsctl_response_free(&resp);
	return rc;
}

static void print_hex_field(const char *label, const ProtobufCBinaryData *b)
{
	if (b->len == 0) {
		printf("%s(empty)\n", label);
		return;
	}
	if (b->len > 256) {
		printf("%s%zu bytes\n", label, b->len);
		return;
	}
	char hex[2 * 256 + 1];
	hex_encode(b->data, b->len, hex);
	printf("%s%s\n", label, hex);
}

static void print_optional(const char *label, int set, const char *value)
{
	kmsctl_print_field(label, set ? value : "(not set)");
}

static void print_meta(const Kms__GetMetaResponse *m)
{
	char line[1024];
	struct err err = {{0}};
	if (kmsctl_cert_summary(m->ca_cert, line, sizeof line, &err) == 0)
		printf("ca_cert:                 %s\n", line);
	else
		kmsctl_print_field("ca_cert:                 (unreadable) ", err_msg(&err));
	print_hex_field("k256_pubkey:             ", &m->k256_pubkey);
	printf("is_dev:                  %s\n", m->is_dev ? "true" : "false");
	printf("allow_any_upgrade:       %s\n", m->allow_any_upgrade ? "true" : "false");
	if (!m->bootstrap_info) {
		printf("bootstrap_info:          absent\n");
	} else {
		printf("bootstrap_info:          present\n");
		print_hex_field("  ca_pubkey:             ", &m->bootstrap_info->ca_pubkey);
		print_hex_field("  k256_pubkey:           ", &m->bootstrap_info->k256_pubkey);
		printf("  attestation:           %zu bytes\n", m->bootstrap_info->attestation.len);
	}
	print_optional("gateway_app_id:          ",
		       m->_gateway_app_id_case ==
			   KMS__GET_META_RESPONSE___GATEWAY_APP_ID_GATEWAY_APP_ID,
		       m->gateway_app_id);
	print_optional("kms_contract_address:    ",
		       m->_kms_contract_address_case ==
			   KMS__GET_META_RESPONSE___KMS_CONTRACT_ADDRESS_KMS_CONTRACT_ADDRESS,
		       m->kms_contract_address);
	if (m->_chain_id_case == KMS__GET_META_RESPONSE___CHAIN_ID_CHAIN_ID)
		printf("chain_id:                %" PRIu64 "\n", m->chain_id);
	else
		printf("chain_id:                (not set)\n");
	print_optional("app_auth_implementation: ",
		       m->_app_auth_implementation_case ==
			   KMS__GET_META_RESPONSE___APP_AUTH_IMPLEMENTATION_APP_AUTH_IMPLEMENTATION,
		       m->app_auth_implementation);
}

/* The server certificate's attestation (meta --verify-server). */
static int verify_server(const struct kmsctl_att_dcap_opts *o, const struct http_response *resp,
			 struct err *err)
{
	const unsigned char *der = resp->peer_cert_der;
	X509 *x = der ? d2i_X509(NULL, &der, (long)resp->peer_cert_der_len) : NULL;
	if (!x)
		return err_set(err, "the KMS presented no certificate");
	struct boot_info bi;
	int rc = kmsctl_att_verify_cert(o, x, 0, NULL, 0, &bi, err);
	X509_free(x);
	if (rc < 0)
		return err_wrap(err, "the KMS's server certificate does not verify");
	char hex[2 * BOOT_INFO_BYTES_MAX + 1];
	printf("server attestation: verified (bound to the TLS key, DCAP %s)\n", bi.tcb_status);
	kmsctl_print_field("  tee_variant:   ", bi.tee_variant);
	const struct {
		const char *label;
		const struct boot_info_bytes *f;
	} rows[] = {
	    {"  app_id:        ", &bi.app_id},	      {"  mr_aggregated: ", &bi.mr_aggregated},
	    {"  mr_system:     ", &bi.mr_system},     {"  compose_hash:  ", &bi.compose_hash},
	    {"  os_image_hash: ", &bi.os_image_hash}, {"  device_id:     ", &bi.device_id}};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		hex_encode(rows[i].f->b, rows[i].f->len, hex);
		kmsctl_print_field(rows[i].label, rows[i].f->len ? hex : "-");
	}
	boot_info_free(&bi);
	return 0;
}

static int run(struct kmsctl *ctl, int argc, char **argv)
{
	struct err err = {{0}};
	struct kmsctl_att_dcap_opts o = {.now = (int64_t)time(NULL)};
	int verify = 0;
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		int r = 0;
		if (kmsctl_is_help(argv[i])) {
			usage(stdout);
			return KMSCTL_EXIT_OK;
		} else if (strcmp(argv[i], "--verify-server") == 0) {
			verify = 1;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--pccs", &v, &err)) != 0) {
			o.pccs = v;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--collateral", &v, &err)) != 0) {
			o.collateral = v;
		} else if ((r = kmsctl_opt_value(argc, argv, &i, "--root", &v, &err)) != 0) {
			o.root = v;
		} else {
			return kmsctl_usage_error("meta", "unexpected argument '%s'", argv[i]);
		}
		if (r < 0)
			return kmsctl_usage_error("meta", "%s", err_msg(&err));
	}
	if (verify && !o.pccs && !o.collateral)
		return kmsctl_usage_error("meta",
					  "--verify-server needs --pccs URL or --collateral FILE");
	if (!verify && (o.pccs || o.collateral || o.root))
		return kmsctl_usage_error(
		    "meta", "--pccs, --collateral and --root go with --verify-server");
	struct http_response resp;
	memset(&resp, 0, sizeof resp);
	Kms__GetMetaResponse *m = NULL;
	int rc = KMSCTL_EXIT_FAIL;
	ctl->capture_cert = verify;
	if (get_meta(ctl, &resp, &m, &err) < 0) {
		kmsctl_fail("%s", err_msg(&err));
		goto out;
	}
	if (ctl->json)
		kmsctl_print_body(&resp);
	else
		print_meta(m);
	if (verify && verify_server(&o, &resp, &err) < 0) {
		kmsctl_fail("%s", err_msg(&err));
		goto out;
	}
	rc = KMSCTL_EXIT_OK;
out:
	prpc_message_free(m ? &m->base : NULL);
	kmsctl_response_free(&resp);
	return rc;
}

const struct kmsctl_cmd kmsctl_cmd_meta = {
    .name = "meta",
    .summary = "show the KMS's metadata (GetMeta)",
    .run = run,
    .usage = usage,
};
