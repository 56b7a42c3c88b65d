/*
 * test_bootstrap.c — key-set generation, crash-safe commit (fault injection
 * at every rename), recovery, domain validation and certificate renewal.
 * Independent checks use the openssl CLI on the files written.
 */
#include "harness.h"

#include "crypto/cert.h"
#include "kms/bootstrap.h"
#include "kms/keys.h"
#include "util/fs.h"
#include "util/hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int64_t NOW = 1764547200; /* 2025-12-01 */

#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int sh(const char *fmt, const char *dir, char *out, size_t outlen)
{
	char cmd[2048];
	snprintf(cmd, sizeof cmd, fmt, dir, dir, dir);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	size_t n = out ? fread(out, 1, outlen - 1, f) : 0;
	if (out) {
		out[n] = 0;
		while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
			out[--n] = 0;
	}
	return pclose(f);
}

static int mode_of(const char *dir, const char *name)
{
	char p[1024];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	struct stat st;
	return stat(p, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

TEST(test_domain_validation_matches_upstream_list)
{
	struct err e;
	const char *good[] = {"kms.example.com", "localhost", "10.0.0.1", "a-b.c", "KMS.Example"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CHECK_OK(bootstrap_validate_domain(good[i], &e), &e);
	char long_name[255];
	memset(long_name, 'a', 254);
	long_name[254] = 0;
	const char *bad[] = {"",
			     long_name,
			     "-kms.example.com",
			     "kms-.example.com",
			     "kms..example.com",
			     "kms_example.com",
			     "kms.example.com.",
			     "k\xc3\xa9"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_MSG(bootstrap_validate_domain(bad[i], &e) < 0, "accepted bad domain #%zu", i);
	char label64[80];
	memset(label64, 'b', 64);
	strcpy(label64 + 64, ".com");
	CHECK_FAILS(bootstrap_validate_domain(label64, &e));
	CHECK_CONTAINS(e.msg, "label longer than 63");
}

TEST(test_bootstrap_writes_complete_set_with_modes)
{
	const char *dir = t_tmpdir();
	struct err e;
	struct bootstrap_result r;
	CHECK(!bootstrap_keyset_complete(dir));
	CHECK_OK(bootstrap_generate(dir, "kms.example.com", NOW, 0, NULL, &r, &e), &e);
	CHECK(bootstrap_keyset_complete(dir));
	CHECK_EQ_INT(mode_of(dir, "root-ca.key"), 0600);
	CHECK_EQ_INT(mode_of(dir, "tmp-ca.key"), 0600);
	CHECK_EQ_INT(mode_of(dir, "rpc.key"), 0600);
	CHECK_EQ_INT(mode_of(dir, "root-k256.key"), 0600);
	CHECK_EQ_INT(mode_of(dir, "root-ca.crt"), 0644);
	CHECK_EQ_INT(mode_of(dir, "bootstrap-info.json"), -1); /* auto-bootstrap writes none */
	CHECK_EQ_INT(mode_of(dir, ".staging"), -1);
	char out[4096];
	CHECK_EQ_INT(sh("stat -c %%s %s/root-k256.key", dir, out, sizeof out), 0);
	CHECK_EQ_STR(out, "32");
	CHECK_EQ_INT(sh("cat %s/rpc-domain", dir, out, sizeof out), 0);
	CHECK_EQ_STR(out, "kms.example.com");
	/* Subjects and the chain, checked by the openssl CLI. */
	CHECK_EQ_INT(sh("openssl x509 -in %s/root-ca.crt -noout -subject -nameopt compat", dir, out,
			sizeof out),
		     0);
	CHECK_EQ_STR(out, "subject=/O=Dstack/CN=Dstack KMS CA");
	CHECK_EQ_INT(sh("openssl x509 -in %s/tmp-ca.crt -noout -subject -nameopt compat", dir, out,
			sizeof out),
		     0);
	CHECK_EQ_STR(out, "subject=/O=Dstack/CN=Dstack Client Temp CA");
	CHECK_EQ_INT(sh("openssl verify -CAfile %s/root-ca.crt %s/rpc.crt", dir, out, sizeof out),
		     0);
	CHECK_EQ_INT(sh("openssl x509 -in %s/rpc.crt -noout -ext subjectAltName 2>&1 | tail -1",
			dir, out, sizeof out),
		     0);
	CHECK_CONTAINS(out, "DNS:kms.example.com");
	/* The key files load, and the root CA's SPKI is what bootstrap reported. */
	struct kms_keys k;
	CHECK_OK(keys_load(&k, dir, &e), &e);
	CHECK(memcmp(k.ca_spki, r.ca_spki, sizeof r.ca_spki) == 0);
	CHECK(memcmp(k.k256_pub, r.k256_pub, sizeof r.k256_pub) == 0);
	keys_free(&k);
	CHECK_EQ_INT(sh("openssl pkey -in %s/root-ca.key -pubout -outform DER | od -An -tx1 | tr "
			"-d ' \\n'",
			dir, out, sizeof out),
		     0);
	char hex[2 * P256_SPKI_LEN + 1];
	hex_encode(r.ca_spki, sizeof r.ca_spki, hex);
	CHECK_EQ_STR(out, hex);
}

TEST(test_bootstrap_info_json_written_last_with_hex_fields)
{
	const char *dir = t_tmpdir();
	struct err e;
	struct bootstrap_result r;
	CHECK_OK(bootstrap_generate(dir, "10.0.0.1", NOW, 1, NULL, &r, &e), &e);
	char out[4096];
	CHECK_EQ_INT(sh("cat %s/bootstrap-info.json", dir, out, sizeof out), 0);
	char want[1024], a[200], b[80];
	hex_encode(r.ca_spki, sizeof r.ca_spki, a);
	hex_encode(r.k256_pub, sizeof r.k256_pub, b);
	snprintf(want, sizeof want,
		 "{\"ca_pubkey\":\"%s\",\"k256_pubkey\":\"%s\",\"attestation\":\"\"}", a, b);
	CHECK_EQ_STR(out, want);
	CHECK_EQ_INT(sh("openssl x509 -in %s/rpc.crt -noout -ext subjectAltName 2>&1 | tail -1",
			dir, out, sizeof out),
		     0);
	CHECK_CONTAINS(out, "IP Address:10.0.0.1");
}

TEST(test_bootstrap_crash_at_every_rename_recovers_complete_set)
{
	for (int n = 0; n <= 9; n++) {
		const char *dir = t_tmpdir();
		struct err e;
		struct bootstrap_result r;
		bootstrap_fault_after_renames = n;
		int rc = bootstrap_generate(dir, "kms.example.com", NOW, 1, NULL, &r, &e);
		bootstrap_fault_after_renames = -1;
		if (n < 9) {
			CHECK_MSG(rc < 0, "fault after %d renames was not injected", n);
			/* bootstrap-info.json is never present before every key file */
			if (!bootstrap_keyset_complete(dir))
				CHECK_MSG(mode_of(dir, "bootstrap-info.json") == -1,
					  "info file before keys at n=%d", n);
		}
		CHECK_OK(bootstrap_recover(dir, &e), &e);
		CHECK_MSG(bootstrap_keyset_complete(dir), "incomplete after recovery, n=%d", n);
		CHECK_MSG(mode_of(dir, "bootstrap-info.json") == 0644, "no info after n=%d", n);
		CHECK_EQ_INT(mode_of(dir, ".staging"), -1);
		struct kms_keys k;
		CHECK_OK(keys_load(&k, dir, &e), &e);
		CHECK(memcmp(k.ca_spki, r.ca_spki, sizeof r.ca_spki) == 0);
		keys_free(&k);
	}
}

TEST(test_bootstrap_uncommitted_staging_is_discarded)
{
	const char *dir = t_tmpdir();
	char out[256];
	CHECK_EQ_INT(sh("mkdir %s/.staging && echo x > %s/.staging/root-ca.key && echo y > "
			"%s/rpc.crt.tmp-0badc0de",
			dir, out, sizeof out),
		     0);
	struct err e;
	CHECK_OK(bootstrap_recover(dir, &e), &e);
	CHECK_EQ_INT(mode_of(dir, ".staging"), -1);
	CHECK_EQ_INT(mode_of(dir, "root-ca.key"), -1);
	CHECK_EQ_INT(mode_of(dir, "rpc.crt.tmp-0badc0de"), -1);
	CHECK(!bootstrap_has_root_keys(dir));
	/* a retry then succeeds */
	struct bootstrap_result r;
	CHECK_OK(bootstrap_generate(dir, "kms.example.com", NOW, 0, NULL, &r, &e), &e);
	CHECK(bootstrap_keyset_complete(dir));
}

TEST(test_bootstrap_into_unwritable_dir_leaves_nothing)
{
	struct err e;
	struct bootstrap_result r;
	CHECK_FAILS(
	    bootstrap_generate("/proc/no-such-dir", "kms.example.com", NOW, 0, NULL, &r, &e));
	CHECK_CONTAINS(e.msg, "/proc/no-such-dir");
	CHECK_FAILS(bootstrap_generate(t_tmpdir(), "bad_domain", NOW, 0, NULL, &r, &e));
	CHECK_CONTAINS(e.msg, "invalid domain");
}

static int fake_attest(void *ud, const uint8_t rd[64], struct buf *out, struct err *err)
{
	(void)err;
	(*(int *)ud)++;
	return buf_append(out, rd, 64); /* the "attestation" is the report data itself */
}

static int failing_attest(void *ud, const uint8_t rd[64], struct buf *out, struct err *err)
{
	(void)ud;
	(void)rd;
	(void)out;
	return err_set(err, "guest agent unreachable");
}

TEST(test_bootstrap_with_attester_embeds_attestation_bound_to_rpc_key)
{
	const char *dir = t_tmpdir();
	struct err e;
	struct bootstrap_result r;
	int calls = 0;
	struct bootstrap_attester att = {fake_attest, &calls};
	CHECK_OK(bootstrap_generate(dir, "kms.example.com", NOW, 1, &att, &r, &e), &e);
	CHECK_EQ_INT(calls, 2); /* rpc.crt and the bootstrap keys */
	char out[4096];
	/* report data of rpc.crt = SHA-512("ratls-cert:" || SPKI DER), computed by openssl */
	CHECK_EQ_INT(sh("(printf 'ratls-cert:'; openssl x509 -in %s/rpc.crt -pubkey -noout | "
			"openssl pkey -pubin -outform DER) | openssl dgst -sha512 -r | cut -c1-128",
			dir, out, sizeof out),
		     0);
	struct buf b = BUF_INIT;
	char path[600];
	snprintf(path, sizeof path, "%s/rpc.crt", dir);
	CHECK_OK(fs_read_file(path, 65536, &b, &e), &e);
	X509 *x = cert_from_pem(buf_str(&b), b.len, &e);
	CHECK(x != NULL);
	struct buf ext = BUF_INIT;
	CHECK_EQ_INT(cert_get_custom_ext(x, OID_ATTESTATION, &ext, &e), 1);
	char hex[129];
	CHECK_EQ_INT(ext.len, 64);
	hex_encode(ext.p, 64, hex);
	CHECK_EQ_STR(hex, out);
	X509_free(x);
	buf_free(&ext);
	buf_free(&b);
	struct bootstrap_attester bad = {failing_attest, NULL};
	const char *dir2 = t_tmpdir();
	CHECK_FAILS(bootstrap_generate(dir2, "kms.example.com", NOW, 0, &bad, &r, &e));
	CHECK_CONTAINS(e.msg, "guest agent unreachable");
	CHECK(!bootstrap_has_root_keys(dir2));
}

TEST(test_update_certs_reissues_rpc_and_renews_expiring_cas)
{
	const char *dir = t_tmpdir();
	struct err e;
	struct bootstrap_result r;
	CHECK_OK(bootstrap_generate(dir, "kms.example.com", NOW, 0, NULL, &r, &e), &e);
	char before_root[256], before_rpc[256], after[256];
	CHECK_EQ_INT(sh("openssl x509 -in %s/root-ca.crt -noout -fingerprint", dir, before_root,
			sizeof before_root),
		     0);
	CHECK_EQ_INT(sh("openssl x509 -in %s/rpc.crt -noout -fingerprint", dir, before_rpc,
			sizeof before_rpc),
		     0);
	/* a year later: rpc.crt is re-issued, the CAs (9 years left) are kept */
	CHECK_OK(bootstrap_update_certs(dir, "", NOW + 365 * 86400LL, NULL, &e), &e);
	CHECK_EQ_INT(
	    sh("openssl x509 -in %s/root-ca.crt -noout -fingerprint", dir, after, sizeof after), 0);
	CHECK_EQ_STR(after, before_root);
	CHECK_EQ_INT(
	    sh("openssl x509 -in %s/rpc.crt -noout -fingerprint", dir, after, sizeof after), 0);
	CHECK(strcmp(after, before_rpc) != 0);
	/* 9.5 years later: inside the 365-day window, both CAs are renewed, same key */
	char serial_before[256], serial_after[256];
	CHECK_EQ_INT(sh("openssl x509 -in %s/root-ca.crt -noout -serial", dir, serial_before,
			sizeof serial_before),
		     0);
	CHECK_OK(bootstrap_update_certs(dir, "other.example.com", NOW + 3470 * 86400LL, NULL, &e),
		 &e);
	CHECK_EQ_INT(
	    sh("openssl x509 -in %s/root-ca.crt -noout -fingerprint", dir, after, sizeof after), 0);
	CHECK(strcmp(after, before_root) != 0);
	CHECK_EQ_INT(sh("openssl x509 -in %s/root-ca.crt -noout -serial", dir, serial_after,
			sizeof serial_after),
		     0);
	CHECK_EQ_STR(serial_after, serial_before);
	CHECK_EQ_INT(sh("openssl verify -attime 2035600000 -CAfile %s/root-ca.crt %s/rpc.crt", dir,
			after, sizeof after),
		     0);
	/* auto_bootstrap_domain overrides rpc-domain for the SAN */
	CHECK_EQ_INT(sh("openssl x509 -in %s/rpc.crt -noout -ext subjectAltName 2>&1 | tail -1",
			dir, after, sizeof after),
		     0);
	CHECK_CONTAINS(after, "DNS:other.example.com");
	struct kms_keys k;
	CHECK_OK(keys_load(&k, dir, &e), &e);
	keys_free(&k);
}

TEST(test_keys_load_rejects_mismatched_ca_and_short_k256)
{
	char a[600], b[600];
	snprintf(a, sizeof a, "%s", t_tmpdir());
	snprintf(b, sizeof b, "%s", t_tmpdir());
	struct err e;
	struct bootstrap_result r;
	CHECK_OK(bootstrap_generate(a, "kms.example.com", NOW, 0, NULL, &r, &e), &e);
	CHECK_OK(bootstrap_generate(b, "kms.example.com", NOW, 0, NULL, &r, &e), &e);
	char cmd[1400], out[64];
	snprintf(cmd, sizeof cmd, "cp %s/root-ca.crt %s/root-ca.crt", a, b);
	CHECK_EQ_INT(system(cmd), 0);
	struct kms_keys k;
	CHECK_FAILS(keys_load(&k, b, &e));
	CHECK_CONTAINS(e.msg, "CA certificate does not match private key");
	CHECK_EQ_INT(sh("head -c 31 /dev/zero > %s/root-k256.key", a, out, sizeof out), 0);
	CHECK_FAILS(keys_load(&k, a, &e));
	CHECK_CONTAINS(e.msg, "must be exactly 32 bytes, found 31");
}
