/*
 * kms_floor.c — the crypto floor of each `make bench` scenario: the
 * primitive cryptographic operations one request costs the machine, timed
 * in-process on THREADS threads (the same number of cores the server gets),
 * with the KMS's own key code (build/libkms.a: keys_app, keys_env_pubkey,
 * kdf_*) and OpenSSL for the P-256 signatures and the TLS handshake. Prints
 *   floor=NAME ops_per_s=R us_per_op=U threads=T fails=F
 * (fsync: floor=fsync audit_append_us=U raw_write_fdatasync_us=U ...)
 * Bench tool only; never a test.
 *
 * The operations per request, read off src/kms/rpc_kms.c, release.c,
 * peer_attest.c and src/attest/dcap.c (warm collateral, PCK chain cached):
 *   appkey    release_begin SHA-256(caller cert DER); RA-TLS binding SHA-512;
 *             dcap_precheck: PCK chain X509_verify_cert (2 ECDSA P-256
 *             verifies: PCK leaf, platform CA) + QE report and quote
 *             signatures (2); dcap_verify_loaded: QE report and quote
 *             signatures again (2) = 6 P-256 verifies; keys_app (HKDF disk
 *             key, env secret, k256 app key, its k256 public key, the k256
 *             signature); release log SHA-256 of the line.
 *   appkey-min the same without dcap_precheck's repeated work: 2 verifies +
 *             keys_app + hashes (what the request needs at minimum).
 *   envpubkey keys_env_pubkey: env secret HKDF, X25519 public key, two k256
 *             signatures (legacy and v1).
 *   signcert  CSR signature (1 verify) + quote as appkey (6 verifies) +
 *             kdf_app_ca_key + its P-256 public point + 2 P-256 signatures
 *             (App CA and leaf certificates).
 *   handshake one full TLS handshake in memory (both ends, as the bench's
 *             client and server share this machine): the KMS's server
 *             settings, client certificate verified against the CA.
 *   fsync     one release-log append (audit_append: write + fdatasync) on
 *             the directory given, single writer; and a raw 300-byte
 *             write + fdatasync loop.
 *
 * Usage: kms_floor appkey|appkey-min|envpubkey|signcert CERT_DIR THREADS SECONDS
 *        kms_floor handshake SRV_CRT SRV_KEY CLIENT_CA CLI_CRT CLI_KEY THREADS SECONDS
 *        kms_floor fsync DIR COUNT
 */
#define _GNU_SOURCE
#include "audit/audit.h"
#include "crypto/kdf.h"
#include "crypto/p256.h"
#include "kms/keys.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *g_mode;
static struct kms_keys g_keys;
static double g_end;
static SSL_CTX *g_srv, *g_cli;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const uint8_t APP_ID[20] = {0x5b, 0xb4, 0xff, 0x9a, 0x38, 0x37, 0x35, 0x7f, 0x19, 0xdc,
				   0x17, 0x64, 0x07, 0xa5, 0x70, 0x9c, 0x62, 0xeb, 0x6c, 0x56};
static const uint8_t INSTANCE[20] = {0x16, 0x91, 0xed, 0x1b};

struct p256_ctx {
	EVP_PKEY *key;
	uint8_t msg[632]; /* a TDX v4 quote's signed header + body */
	uint8_t sig[80];
	size_t sig_len;
};

static int p256_ctx_init(struct p256_ctx *c)
{
	memset(c, 0, sizeof *c);
	c->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	c->sig_len = sizeof c->sig;
	int ok = c->key && md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, c->key) == 1 &&
		 EVP_DigestSign(md, c->sig, &c->sig_len, c->msg, sizeof c->msg) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

static int p256_verify(struct p256_ctx *c, size_t msg_len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, c->key) == 1 &&
		 EVP_DigestVerify(md, c->sig, c->sig_len, c->msg, sizeof c->msg) == 1;
	(void)msg_len;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

static int p256_sign(struct p256_ctx *c)
{
	uint8_t sig[80];
	size_t n = sizeof sig;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, c->key) == 1 &&
		 EVP_DigestSign(md, sig, &n, c->msg, 400) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

static void hash(const EVP_MD *md, size_t n)
{
	static const uint8_t buf[8192];
	uint8_t out[64];
	unsigned int len;
	EVP_Digest(buf, n < sizeof buf ? n : sizeof buf, out, &len, md, NULL);
}

static int appkey_once(struct p256_ctx *c, int verifies)
{
	struct app_keys k;
	struct err e;
	hash(EVP_sha256(), 6000); /* caller certificate DER */
	hash(EVP_sha512(), 100);  /* RA-TLS report data over the SPKI */
	for (int i = 0; i < verifies; i++)
		if (p256_verify(c, 632) < 0)
			return -1;
	if (keys_app(&g_keys, APP_ID, 20, INSTANCE, 20, &k, &e) < 0)
		return -1;
	keys_app_wipe(&k);
	hash(EVP_sha256(), 600); /* release log line */
	return 0;
}

static int envpubkey_once(void)
{
	uint8_t pub[32], sig[K256_SIG_LEN], sig1[K256_SIG_LEN];
	struct err e;
	return keys_env_pubkey(&g_keys, APP_ID, 20, (uint64_t)time(NULL), pub, sig, sig1, &e);
}

static int signcert_once(struct p256_ctx *c)
{
	uint8_t s[32], pt[P256_POINT_LEN];
	struct err e;
	for (int i = 0; i < 7; i++)
		if (p256_verify(c, 632) < 0)
			return -1;
	hash(EVP_sha512(), 100);
	if (kdf_app_ca_key(g_keys.root_ca_scalar, APP_ID, 20, s, &e) < 0 ||
	    p256_public_point(s, pt, &e) < 0 || p256_sign(c) < 0 || p256_sign(c) < 0)
		return -1;
	return 0;
}

/* One full handshake over a BIO pair, client and server in this thread. */
static int handshake_once(void)
{
	SSL *s = SSL_new(g_srv), *c = SSL_new(g_cli);
	BIO *bs = NULL, *bc = NULL;
	int rc = -1;
	if (!s || !c || BIO_new_bio_pair(&bs, 0, &bc, 0) != 1)
		goto out;
	SSL_set_bio(s, bs, bs);
	SSL_set_bio(c, bc, bc);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	int ds = 0, dc = 0;
	for (int i = 0; i < 50 && !(ds && dc); i++) {
		if (!dc) {
			int r = SSL_do_handshake(c);
			if (r == 1)
				dc = 1;
			else if (SSL_get_error(c, r) != SSL_ERROR_WANT_READ)
				goto out;
		}
		if (!ds) {
			int r = SSL_do_handshake(s);
			if (r == 1)
				ds = 1;
			else if (SSL_get_error(s, r) != SSL_ERROR_WANT_READ)
				goto out;
		}
	}
	/* TLS 1.3: the client's certificate is verified once the server read
	 * its Finished; an application byte both ways completes everything */
	char b = 'x';
	if (ds && dc && SSL_write(c, &b, 1) == 1 && SSL_read(s, &b, 1) == 1 &&
	    SSL_get_verify_result(s) == X509_V_OK && SSL_get0_peer_certificate(s))
		rc = 0;
out:
	SSL_free(s);
	SSL_free(c);
	return rc;
}

struct worker {
	pthread_t th;
	unsigned long n, fails;
};

static void *run(void *arg)
{
	struct worker *w = arg;
	struct p256_ctx c;
	if (p256_ctx_init(&c) < 0) {
		w->fails++;
		return NULL;
	}
	while (now_s() < g_end) {
		int rc;
		if (!strcmp(g_mode, "appkey"))
			rc = appkey_once(&c, 6);
		else if (!strcmp(g_mode, "appkey-min"))
			rc = appkey_once(&c, 2);
		else if (!strcmp(g_mode, "envpubkey"))
			rc = envpubkey_once();
		else if (!strcmp(g_mode, "signcert"))
			rc = signcert_once(&c);
		else
			rc = handshake_once();
		if (rc < 0)
			w->fails++;
		else
			w->n++;
	}
	EVP_PKEY_free(c.key);
	return NULL;
}

static SSL_CTX *server_ctx(const char *crt, const char *key, const char *ca)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	static const unsigned char sid[] = "dstack-kms";
	if (!ctx)
		return NULL;
	/* as src/net/http_server.c make_ctx */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
	if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1 ||
	    SSL_CTX_use_certificate_file(ctx, crt, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(ca));
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_verify_depth(ctx, 2);
	return ctx;
}

static SSL_CTX *client_ctx(const char *crt, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return NULL;
	/* as bench/kms_loadgen.c: no verification of the server, no resumption */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	if (SSL_CTX_use_certificate_file(ctx, crt, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static int fsync_floor(const char *dir, int count)
{
	char path[4096];
	struct err e;
	memset(&e, 0, sizeof e);
	snprintf(path, sizeof path, "%s/floor-release.log", dir);
	unlink(path);
	struct audit_log *a = audit_open(path, &e);
	if (!a) {
		fprintf(stderr, "audit_open: %s\n", e.msg);
		return 1;
	}
	struct audit_record r = {.method = "GetAppKey",
				 .app_id = "5bb4ff9a3837357f19dc176407a5709c62eb6c56",
				 .instance_id = "1691ed1b00000000000000000000000000000000",
				 .device_id = "",
				 .compose_hash = "",
				 .os_image_hash = "",
				 .tcb_status = "UpToDate",
				 .decision = "allowed",
				 .reason = "",
				 .caller_cert_sha256 = "00"};
	uint64_t seq;
	char chain[65];
	double t0 = now_s();
	for (int i = 0; i < count; i++)
		if (audit_append(a, &r, &seq, chain, &e) < 0) {
			fprintf(stderr, "audit_append: %s\n", e.msg);
			return 1;
		}
	double t_audit = (now_s() - t0) / count;
	audit_close(a);
	unlink(path);
	snprintf(path, sizeof path, "%s/floor-fsync.bin", dir);
	int fd = open(path, O_CREAT | O_WRONLY | O_APPEND | O_TRUNC, 0600);
	char line[300];
	memset(line, 'x', sizeof line);
	t0 = now_s();
	for (int i = 0; fd >= 0 && i < count; i++)
		if (write(fd, line, sizeof line) != (ssize_t)sizeof line || fdatasync(fd) < 0)
			return 1;
	double t_raw = (now_s() - t0) / count;
	if (fd >= 0)
		close(fd);
	unlink(path);
	printf("floor=fsync audit_append_us=%.1f raw_write_fdatasync_us=%.1f count=%d dir=%s\n",
	       t_audit * 1e6, t_raw * 1e6, count, dir);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		goto usage;
	g_mode = argv[1];
	int threads;
	double secs;
	if (!strcmp(g_mode, "fsync") && argc == 4)
		return fsync_floor(argv[2], atoi(argv[3]));
	if (!strcmp(g_mode, "handshake") && argc == 9) {
		g_srv = server_ctx(argv[2], argv[3], argv[4]);
		g_cli = client_ctx(argv[5], argv[6]);
		if (!g_srv || !g_cli) {
			ERR_print_errors_fp(stderr);
			return 1;
		}
		threads = atoi(argv[7]);
		secs = atof(argv[8]);
	} else if (argc == 5 && (!strcmp(g_mode, "appkey") || !strcmp(g_mode, "appkey-min") ||
				 !strcmp(g_mode, "envpubkey") || !strcmp(g_mode, "signcert"))) {
		struct err e;
		memset(&e, 0, sizeof e);
		if (keys_load(&g_keys, argv[2], &e) < 0) {
			fprintf(stderr, "keys_load %s: %s\n", argv[2], e.msg);
			return 1;
		}
		threads = atoi(argv[3]);
		secs = atof(argv[4]);
	} else {
		goto usage;
	}
	if (threads < 1 || threads > 64 || secs <= 0 || secs > 60)
		goto usage;
	struct worker w[64];
	memset(w, 0, sizeof w);
	double t0 = now_s();
	g_end = t0 + secs;
	for (int i = 0; i < threads; i++)
		pthread_create(&w[i].th, NULL, run, &w[i]);
	unsigned long n = 0, fails = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].th, NULL);
		n += w[i].n;
		fails += w[i].fails;
	}
	double el = now_s() - t0;
	printf("floor=%s ops_per_s=%.1f us_per_op=%.1f threads=%d fails=%lu\n", g_mode,
	       (double)n / el, n ? el * 1e6 * threads / (double)n : 0, threads, fails);
	return fails ? 1 : 0;
usage:
	fprintf(stderr, "usage: see the header of bench/kms_floor.c\n");
	return 2;
}
