/*
 * env_pubkey.c — `dstack-kmsctl env-pubkey APP_ID`: calls
 * KMS.GetAppEnvEncryptPubKey, prints the app's env-encryption public key and
 * VERIFIES both signatures over it: the signer recovered from each must be the
 * KMS's root k256 key (GetMeta, same run) or the key given with --signer.
 * Exit status 0 only when both verify. APP_ID is checked locally (20 bytes)
 * before any request. Only public values are handled here.
 * spec: kms-protocol §4.3 (messages), §6.1 (RecSign: r||s||v over Keccak-256).
 */
#include "kmsctl/kmsctl.h"

#include "crypto/k256.h"
#include "crypto/keccak.h"
#include "prpc/prpc_json.h"
#include "kms_rpc.pb-c.h"
#include "util/buf.h"
#include "util/hex.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#define APP_ID_LEN 20
#define ENV_PUBKEY_LEN 32
#define ENV_SIG_DOMAIN "dstack-env-encrypt-pubkey:"

static void usage(FILE *f)
{
	fprintf(f, "Usage: " KMSCTL_PROG " [OPTIONS] env-pubkey [--signer HEX] APP_ID\n"
		   "\n"
		   "Calls KMS.GetAppEnvEncryptPubKey for APP_ID (20 bytes as 40 hex digits, with\n"
		   "or without 0x) and prints the app's X25519 env-encryption public key, the\n"
		   "timestamp and both signatures, then VERIFIES both signatures: the secp256k1\n"
		   "key recovered from each (over Keccak-256 of the signed message) must be the\n"
		   "expected signer.\n"
		   "\n"
		   "  signature     signs \"dstack-env-encrypt-pubkey:\" || app_id || public_key\n"
		   "  signature_v1  signs \"dstack-env-encrypt-pubkey:\" || app_id\n"
		   "                      || u64 big-endian timestamp || public_key\n"
		   "\n"
		   "The expected signer is the KMS's root k256 key from GetMeta (fetched in the\n"
		   "same run), or the key given with --signer. Fetching it from the same KMS only\n"
		   "shows the answer is consistent with that KMS: pin a key you know with\n"
		   "--signer to detect a different KMS. Exit status 0 only when both signatures\n"
		   "verify; a failed one is named on stderr.\n"
		   "\n"
		   "  --signer HEX   expected signer, 33-byte compressed secp256k1 public key\n"
		   "  -h, --help     this text\n");
}

/* Keccak-256 of the signed message of §4.3 (v1 when with_ts). */
static void env_message_digest(const uint8_t app_id[APP_ID_LEN],
			       const uint8_t pubkey[ENV_PUBKEY_LEN], int with_ts, uint64_t ts,
			       uint8_t digest[32])
{
	struct keccak_ctx k;
	keccak256_init(&k);
	keccak256_update(&k, ENV_SIG_DOMAIN, strlen(ENV_SIG_DOMAIN));
	keccak256_update(&k, app_id, APP_ID_LEN);
	if (with_ts) {
		uint8_t be[8];
		for (int i = 0; i < 8; i++)
			be[i] = (uint8_t)(ts >> (56 - 8 * i));
		keccak256_update(&k, be, sizeof be);
	}
	keccak256_update(&k, pubkey, ENV_PUBKEY_LEN);
	keccak256_final(&k, digest);
}

/* 0 when sig recovers to expected; -1 with err saying why not. */
static int verify_signature(const char *name, const ProtobufCBinaryData *sig,
			    const uint8_t digest[32], const uint8_t expected[K256_PUB_LEN],
			    struct err *err)
{
	if (sig->len == 0)
		return err_set(err, "%s is missing from the answer", name);
	if (sig->len != K256_SIG_LEN)
		return err_set(err, "%s does not verify: %zu bytes, expected %d", name, sig->len,
			       K256_SIG_LEN);
	uint8_t got[K256_PUB_LEN];
	if (k256_recover(sig->data, digest, got, err) < 0)
		return err_wrap(err, "%s does not verify: no signer can be recovered", name);
	if (memcmp(got, expected, K256_PUB_LEN) != 0) {
		char g[2 * K256_PUB_LEN + 1], e[2 * K256_PUB_LEN + 1];
		hex_encode(got, K256_PUB_LEN, g);
		hex_encode(expected, K256_PUB_LEN, e);
		return err_set(err, "%s does not verify: signed by %s, expected signer %s", name, g,
			       e);
	}
	return 0;
}

static void print_hex(const char *label, const uint8_t *p, size_t n)
{
	struct buf b = BUF_INIT;
	if (hex_append(&b, p, n) == 0)
		printf("%s%s\n", label, buf_str(&b));
	buf_free(&b);
}

static void print_signature(const char *label, const ProtobufCBinaryData *sig, int ok)
{
	struct buf b = BUF_INIT;
	if (hex_append(&b, sig->data, sig->len) == 0)
		printf("%s%s%s(%s)\n", label, buf_str(&b), sig->len ? " " : "",
		       ok ? "verified" : "FAILED");
	buf_free(&b);
}

static void print_timestamp(uint64_t ts)
{
	char when[64] = "";
	struct tm tm;
	time_t t = (time_t)ts;
	if (ts <= 253402300799u && gmtime_r(&t, &tm)) /* up to year 9999 */
		strftime(when, sizeof when, " (%Y-%m-%dT%H:%M:%SZ)", &tm);
	printf("timestamp:      %" PRIu64 "%s\n", ts, when);
}

struct env_args {
	uint8_t app_id[APP_ID_LEN];
	uint8_t signer[K256_PUB_LEN];
	int have_signer;
};

static int parse_args(int argc, char **argv, struct env_args *a, int *done)
{
	struct err err = {{0}};
	const char *app = NULL, *signer = NULL;
	int only_positional = 0;
	*done = 0;
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		int r = 0;
		if (!only_positional && kmsctl_is_help(argv[i])) {
			usage(stdout);
			*done = 1;
			return KMSCTL_EXIT_OK;
		} else if (!only_positional && strcmp(argv[i], "--") == 0) {
			only_positional = 1;
		} else if (!only_positional &&
			   (r = kmsctl_opt_value(argc, argv, &i, "--signer", &v, &err)) != 0) {
			if (r < 0)
				return kmsctl_usage_error("env-pubkey", "%s", err_msg(&err));
			signer = v;
		} else if (!only_positional && argv[i][0] == '-' && argv[i][1] != '\0') {
			return kmsctl_usage_error("env-pubkey", "unknown option '%s'", argv[i]);
		} else if (app) {
			return kmsctl_usage_error("env-pubkey", "unexpected argument '%s'",
						  argv[i]);
		} else {
			app = argv[i];
		}
	}
	if (!app)
		return kmsctl_usage_error("env-pubkey", "APP_ID is missing");
	if (kmsctl_parse_hex_fixed("APP_ID", app, a->app_id, APP_ID_LEN, &err) < 0)
		return kmsctl_usage_error("env-pubkey", "%s", err_msg(&err));
	if (signer) {
		if (kmsctl_parse_hex_fixed("--signer", signer, a->signer, K256_PUB_LEN, &err) < 0)
			return kmsctl_usage_error("env-pubkey", "%s", err_msg(&err));
		if (a->signer[0] != 0x02 && a->signer[0] != 0x03)
			return kmsctl_usage_error("env-pubkey", "--signer must be a compressed "
								"public key (02 or 03 first)");
		a->have_signer = 1;
	}
	return KMSCTL_EXIT_OK;
}

static int run(struct kmsctl *ctl, int argc, char **argv)
{
	struct env_args a;
	memset(&a, 0, sizeof a);
	int done;
	int rc = parse_args(argc, argv, &a, &done);
	if (rc != KMSCTL_EXIT_OK || done)
		return rc;

	struct err err = {{0}};
	struct buf body = BUF_INIT;
	struct http_response resp;
	Kms__PublicKeyResponse *r = NULL;
	rc = KMSCTL_EXIT_FAIL;
	memset(&resp, 0, sizeof resp);

	Kms__AppId req = KMS__APP_ID__INIT;
	req.app_id.data = a.app_id;
	req.app_id.len = APP_ID_LEN;
	if (prpc_json_encode(&req.base, &body, &err) < 0) {
		kmsctl_fail("cannot encode the request: %s", err_msg(&err));
		goto out;
	}
	if (kmsctl_rpc(ctl, "GetAppEnvEncryptPubKey", buf_str(&body), &resp, &err) < 0) {
		kmsctl_fail("%s", err_msg(&err));
		goto out;
	}
	r = (Kms__PublicKeyResponse *)prpc_json_decode(
	    &kms__public_key_response__descriptor, (const char *)resp.body.p, resp.body.len, &err);
	if (!r) {
		kmsctl_fail("GetAppEnvEncryptPubKey: unexpected answer: %s", err_msg(&err));
		goto out;
	}
	if (r->public_key.len != ENV_PUBKEY_LEN) {
		kmsctl_fail("GetAppEnvEncryptPubKey: public_key is %zu bytes, expected %d",
			    r->public_key.len, ENV_PUBKEY_LEN);
		goto out;
	}
	const char *signer_from = "--signer";
	if (!a.have_signer) {
		if (kmsctl_fetch_k256_pubkey(ctl, a.signer, &err) < 0) {
			kmsctl_fail("cannot get the expected signer: %s", err_msg(&err));
			goto out;
		}
		signer_from = "GetMeta k256_pubkey";
	}

	uint8_t d0[32], d1[32];
	env_message_digest(a.app_id, r->public_key.data, 0, 0, d0);
	env_message_digest(a.app_id, r->public_key.data, 1, r->timestamp, d1);
	struct err e0 = {{0}}, e1 = {{0}};
	int ok0 = verify_signature("signature", &r->signature, d0, a.signer, &e0) == 0;
	int ok1 = verify_signature("signature_v1", &r->signature_v1, d1, a.signer, &e1) == 0;

	if (ctl->json) {
		kmsctl_print_body(&resp);
	} else {
		print_hex("app_id:         ", a.app_id, APP_ID_LEN);
		print_hex("public_key:     ", r->public_key.data, r->public_key.len);
		print_timestamp(r->timestamp);
		print_signature("signature:      ", &r->signature, ok0);
		print_signature("signature_v1:   ", &r->signature_v1, ok1);
		char s[2 * K256_PUB_LEN + 1];
		hex_encode(a.signer, K256_PUB_LEN, s);
		printf("signer:         %s (%s)\n", s, signer_from);
	}
	if (!ok0)
		kmsctl_fail("%s", err_msg(&e0));
	if (!ok1)
		kmsctl_fail("%s", err_msg(&e1));
	rc = ok0 && ok1 ? KMSCTL_EXIT_OK : KMSCTL_EXIT_FAIL;
out:
	prpc_message_free(r ? &r->base : NULL);
	kmsctl_response_free(&resp);
	buf_free(&body);
	return rc;
}

const struct kmsctl_cmd kmsctl_cmd_env_pubkey = {
    .name = "env-pubkey",
    .summary = "get an app's env-encryption key and verify its signatures",
    .run = run,
    .usage = usage,
};
