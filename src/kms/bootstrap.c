/*
 * bootstrap.c — key-set generation, crash-safe commit, and certificate
 * maintenance (bootstrap.h). spec: kms-protocol §6.3, §7.3, §12, §13.
 *
 * Private keys are written 0600, certificates 0644. Nothing here logs key
 * bytes; every buffer that held a private key is wiped.
 */
#include "kms/bootstrap.h"

#include "crypto/cert.h"
#include "crypto/keccak.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/secret.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const BOOTSTRAP_CORE_FILES[7] = {"tmp-ca.crt",   "tmp-ca.key", "root-ca.crt",
					     "root-ca.key",  "rpc.crt",	   "rpc.key",
					     "root-k256.key"};

int bootstrap_fault_after_renames = -1;

#define STAGING ".staging"
#define COMMIT_MARK "COMMIT"
#define TEN_YEARS (3650LL * 86400)
#define RENEW_WINDOW (365LL * 86400)

int bootstrap_validate_domain(const char *d, struct err *err)
{
	size_t n = strlen(d);
	if (n == 0)
		return err_set(err, "invalid domain: empty");
	if (n > 253)
		return err_set(err, "invalid domain: longer than 253 bytes");
	size_t label = 0;
	for (size_t i = 0; i <= n; i++) {
		char c = d[i];
		if (c == '.' || c == '\0') {
			if (label == 0)
				return err_set(err, "invalid domain \"%s\": empty label", d);
			if (label > 63)
				return err_set(err, "invalid domain \"%s\": label longer than 63",
					       d);
			if (d[i - 1] == '-' || d[i - label] == '-')
				return err_set(
				    err, "invalid domain \"%s\": label starts or ends with '-'", d);
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return err_set(err, "invalid domain \"%s\": character '%c' not allowed", d,
				       (c >= 0x20 && c < 0x7f) ? c : '?');
		label++;
	}
	return 0;
}

static int file_in(const char *dir, const char *name)
{
	char p[4096];
	return fs_join(p, sizeof p, dir, name) == 0 && fs_exists(p);
}

int bootstrap_keyset_complete(const char *dir)
{
	for (size_t i = 0; i < 7; i++)
		if (!file_in(dir, BOOTSTRAP_CORE_FILES[i]))
			return 0;
	return 1;
}

int bootstrap_has_root_keys(const char *dir)
{
	return file_in(dir, "root-ca.key") || file_in(dir, "root-k256.key");
}

/* ---- staged commit ---------------------------------------------------- */

struct staged {
	const char *name;
	const void *data;
	size_t len;
	mode_t mode;
};

static int remove_tree_flat(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	struct dirent *de;
	char p[4096];
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fs_join(p, sizeof p, dir, de->d_name) == 0)
			unlink(p);
	}
	closedir(d);
	return rmdir(dir);
}

/* Rename every file listed in the COMMIT marker from staging into dir. */
static int roll_forward(const char *dir, const char *staging, struct err *err)
{
	char mark[4096];
	if (fs_join(mark, sizeof mark, staging, COMMIT_MARK) < 0)
		return err_set(err, "path too long");
	struct buf list = BUF_INIT;
	if (fs_read_file(mark, 4096, &list, err) < 0) {
		buf_free(&list);
		return -1;
	}
	int renames = 0, rc = 0;
	char *save = NULL;
	for (char *name = strtok_r((char *)list.p, "\n", &save); name;
	     name = strtok_r(NULL, "\n", &save)) {
		if (strchr(name, '/') || name[0] == '.') {
			rc = err_set(err, "corrupt commit marker in %s", staging);
			break;
		}
		char from[4096], to[4096];
		if (fs_join(from, sizeof from, staging, name) < 0 ||
		    fs_join(to, sizeof to, dir, name) < 0) {
			rc = err_set(err, "path too long");
			break;
		}
		if (!fs_exists(from))
			continue; /* already moved before a crash */
		if (bootstrap_fault_after_renames >= 0 &&
		    renames >= bootstrap_fault_after_renames) {
			rc = err_set(err, "fault injected after %d renames", renames);
			break;
		}
		if (rename(from, to) < 0) {
			rc = err_set(err, "rename %s: %s", to, strerror(errno));
			break;
		}
		renames++;
	}
	buf_free(&list);
	if (rc < 0)
		return rc;
	TRY(fs_sync_dir(dir, err));
	if (unlink(mark) < 0 || remove_tree_flat(staging) < 0)
		return err_set(err, "cannot clean %s: %s", staging, strerror(errno));
	return fs_sync_dir(dir, err);
}

int bootstrap_recover(const char *dir, struct err *err)
{
	char staging[4096], mark[4200];
	if (fs_join(staging, sizeof staging, dir, STAGING) < 0 ||
	    fs_join(mark, sizeof mark, staging, COMMIT_MARK) < 0)
		return err_set(err, "path too long: %s", dir);
	if (fs_exists(mark)) {
		log_warn("completing an interrupted key-set commit in %s", dir);
		TRY(roll_forward(dir, staging, err));
	} else if (fs_exists(staging)) {
		log_warn("discarding an uncommitted key set in %s", staging);
		if (remove_tree_flat(staging) < 0)
			return err_set(err, "cannot remove %s: %s", staging, strerror(errno));
	}
	/* Temp files of an interrupted atomic write ("<name>.tmp-XXXXXXXX"). */
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *t = strstr(de->d_name, ".tmp-");
		if (t && strlen(t) == 13) {
			char p[4096];
			if (fs_join(p, sizeof p, dir, de->d_name) == 0)
				unlink(p);
		}
	}
	closedir(d);
	return 0;
}

static int commit_files(const char *dir, const struct staged *files, size_t n, struct err *err)
{
	char staging[4096], p[4200];
	if (fs_join(staging, sizeof staging, dir, STAGING) < 0)
		return err_set(err, "path too long: %s", dir);
	if (fs_exists(staging) && remove_tree_flat(staging) < 0)
		return err_set(err, "cannot clear %s: %s", staging, strerror(errno));
	if (mkdir(staging, 0700) < 0)
		return err_set(err, "cannot create %s: %s", staging, strerror(errno));
	struct buf list = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (fs_join(p, sizeof p, staging, files[i].name) < 0 ||
		    fs_write_atomic(p, files[i].data, files[i].len, files[i].mode, err) < 0 ||
		    buf_printf(&list, "%s\n", files[i].name) < 0) {
			buf_free(&list);
			remove_tree_flat(staging);
			return err_wrap(err, "staging key set");
		}
	}
	if (fs_join(p, sizeof p, staging, COMMIT_MARK) < 0 ||
	    fs_write_atomic(p, list.p, list.len, 0600, err) < 0) {
		buf_free(&list);
		remove_tree_flat(staging);
		return err_wrap(err, "committing key set");
	}
	buf_free(&list);
	/* From here on the set is durable: a crash is completed by bootstrap_recover. */
	return roll_forward(dir, staging, err);
}

/* ---- certificates --------------------------------------------------- */

static X509 *make_ca(const char *cn, int path_len, const uint8_t scalar[32], int64_t now,
		     struct err *err)
{
	uint8_t point[P256_POINT_LEN];
	if (p256_public_point(scalar, point, err) < 0)
		return NULL;
	struct cert_params cp = {.org = "Dstack", .subject = cn, .is_ca = 1, .path_len = path_len};
	return cert_issue(&cp, point, scalar, NULL, now, err);
}

static int rpc_report_data(const uint8_t spki[P256_SPKI_LEN], uint8_t rd[64], struct err *err)
{
	static const char tag[] = "ratls-cert:";
	uint8_t msg[sizeof tag - 1 + P256_SPKI_LEN];
	memcpy(msg, tag, sizeof tag - 1);
	memcpy(msg + sizeof tag - 1, spki, P256_SPKI_LEN);
	if (!SHA512(msg, sizeof msg, rd))
		return err_openssl(err, "SHA-512 of the rpc.crt report data failed");
	return 0;
}

static X509 *make_rpc(const char *domain, const uint8_t rpc_scalar[32], const uint8_t root[32],
		      X509 *root_cert, int64_t now, const struct bootstrap_attester *att,
		      struct err *err)
{
	uint8_t point[P256_POINT_LEN], spki[P256_SPKI_LEN], rd[64];
	struct buf a = BUF_INIT;
	X509 *x = NULL;
	if (p256_public_point(rpc_scalar, point, err) < 0 || p256_spki_der(point, spki) < 0)
		goto out;
	if (att) {
		if (rpc_report_data(spki, rd, err) < 0 || att->attest(att->ud, rd, &a, err) < 0) {
			err_wrap(err, "attesting rpc.crt");
			goto out;
		}
	}
	const char *san[1] = {domain};
	struct cert_params cp = {.subject = domain, .san = san, .nsan = 1, .usage = "kms:rpc"};
	if (att) {
		cp.attestation.p = a.p;
		cp.attestation.len = a.len;
	}
	x = cert_issue(&cp, point, root, root_cert, now, err);
out:
	buf_free(&a);
	return x;
}

static int pem_of(X509 *x, struct buf *out, struct err *err)
{
	return x ? cert_to_pem(x, out, err) : -1;
}

/* A new key set (given == NULL) or one made of received keys (onboarding:
 * the same CA and k256 keys, certificates issued afresh, a new rpc key). */
static int make_keyset(const char *dir, const char *domain, int64_t now, int write_info,
		       const struct bootstrap_keys *given, const struct bootstrap_attester *att,
		       struct bootstrap_result *out, struct err *err)
{
	TRY(bootstrap_validate_domain(domain, err));
	int rc = -1;
	uint8_t tmp_ca[32], root_ca[32], rpc[32], k256[32];
	uint8_t root_point[P256_POINT_LEN];
	struct buf tmp_key, root_key, rpc_key, tmp_crt = BUF_INIT, root_crt = BUF_INIT,
					       rpc_crt = BUF_INIT, info = BUF_INIT,
					       info_att = BUF_INIT;
	buf_init_secret(&tmp_key);
	buf_init_secret(&root_key);
	buf_init_secret(&rpc_key);
	X509 *tmp_x = NULL, *root_x = NULL, *rpc_x = NULL;

	if (given) {
		memcpy(tmp_ca, given->tmp_ca, 32);
		memcpy(root_ca, given->root_ca, 32);
		memcpy(k256, given->k256, 32);
		if (!p256_scalar_valid(tmp_ca) || !p256_scalar_valid(root_ca)) {
			err_set(err, "a received CA key is not a valid P-256 key");
			goto out;
		}
		uint8_t k256_check[K256_PUB_LEN];
		TRY_OUT(k256_pubkey(k256, k256_check, err));
	} else {
		TRY_OUT(p256_generate(tmp_ca, err));
		TRY_OUT(p256_generate(root_ca, err));
		TRY_OUT(k256_generate(k256, err));
	}
	TRY_OUT(p256_generate(rpc, err));
	TRY_OUT(p256_pkcs8_pem(tmp_ca, &tmp_key, err));
	TRY_OUT(p256_pkcs8_pem(root_ca, &root_key, err));
	TRY_OUT(p256_pkcs8_pem(rpc, &rpc_key, err));

	tmp_x = make_ca("Dstack Client Temp CA", 0, tmp_ca, now, err);
	TRY_OUT(pem_of(tmp_x, &tmp_crt, err));
	root_x = make_ca("Dstack KMS CA", 1, root_ca, now, err);
	TRY_OUT(pem_of(root_x, &root_crt, err));
	rpc_x = make_rpc(domain, rpc, root_ca, root_x, now, att, err);
	TRY_OUT(pem_of(rpc_x, &rpc_crt, err));

	TRY_OUT(p256_public_point(root_ca, root_point, err));
	TRY_OUT(p256_spki_der(root_point, out->ca_spki));
	TRY_OUT(k256_pubkey(k256, out->k256_pub, err));

	struct staged files[9] = {
	    {"rpc-domain", domain, strlen(domain), 0644},
	    {"tmp-ca.crt", tmp_crt.p, tmp_crt.len, 0644},
	    {"tmp-ca.key", tmp_key.p, tmp_key.len, 0600},
	    {"root-ca.crt", root_crt.p, root_crt.len, 0644},
	    {"rpc.crt", rpc_crt.p, rpc_crt.len, 0644},
	    {"rpc.key", rpc_key.p, rpc_key.len, 0600},
	    {"root-ca.key", root_key.p, root_key.len, 0600},
	    {"root-k256.key", k256, sizeof k256, 0600},
	};
	size_t nfiles = 8;
	if (write_info) {
		/* spec §6.3: K256 over the typo'd tag, then 32 zero bytes. */
		if (att) {
			struct buf pre = BUF_INIT;
			uint8_t rd[64] = {0};
			int ok = buf_append_str(&pre, "dstack-kms-genereted-keys-v1:") == 0 &&
				 hex_append(&pre, out->ca_spki, sizeof out->ca_spki) == 0 &&
				 buf_append_str(&pre, ";") == 0 &&
				 hex_append(&pre, out->k256_pub, sizeof out->k256_pub) == 0 &&
				 buf_append_str(&pre, ";") == 0;
			if (ok)
				keccak256(pre.p, pre.len, rd);
			buf_free(&pre);
			if (!ok || att->attest(att->ud, rd, &info_att, err) < 0) {
				err_wrap(err, "attesting the bootstrap keys");
				goto out;
			}
		}
		if (buf_append_str(&info, "{\"ca_pubkey\":\"") < 0 ||
		    hex_append(&info, out->ca_spki, sizeof out->ca_spki) < 0 ||
		    buf_append_str(&info, "\",\"k256_pubkey\":\"") < 0 ||
		    hex_append(&info, out->k256_pub, sizeof out->k256_pub) < 0 ||
		    buf_append_str(&info, "\",\"attestation\":\"") < 0 ||
		    hex_append(&info, info_att.p, info_att.len) < 0 ||
		    buf_append_str(&info, "\"}") < 0) {
			err_set(err, "out of memory");
			goto out;
		}
		files[nfiles++] = (struct staged){"bootstrap-info.json", info.p, info.len, 0644};
	}
	TRY_OUT(commit_files(dir, files, nfiles, err));
	rc = 0;
out:
	secret_wipe(tmp_ca, 32);
	secret_wipe(root_ca, 32);
	secret_wipe(rpc, 32);
	secret_wipe(k256, 32);
	buf_free(&tmp_key);
	buf_free(&root_key);
	buf_free(&rpc_key);
	buf_free(&tmp_crt);
	buf_free(&root_crt);
	buf_free(&rpc_crt);
	buf_free(&info);
	buf_free(&info_att);
	X509_free(tmp_x);
	X509_free(root_x);
	X509_free(rpc_x);
	return rc;
}

/* ---- update_certs ---------------------------------------------------- */

int bootstrap_generate(const char *dir, const char *domain, int64_t now, int write_info,
		       const struct bootstrap_attester *att, struct bootstrap_result *out,
		       struct err *err)
{
	return make_keyset(dir, domain, now, write_info, NULL, att, out, err);
}

int bootstrap_import(const char *dir, const char *domain, int64_t now,
		     const struct bootstrap_keys *keys, const struct bootstrap_attester *att,
		     struct bootstrap_result *out, struct err *err)
{
	return make_keyset(dir, domain, now, 0, keys, att, out, err);
}

static int load_scalar(const char *dir, const char *name, uint8_t scalar[32], struct err *err)
{
	char p[4096];
	struct buf b;
	buf_init_secret(&b);
	int rc = -1;
	if (fs_join(p, sizeof p, dir, name) < 0) {
		err_set(err, "path too long");
		goto out;
	}
	TRY_OUT(fs_read_file(p, 64 * 1024, &b, err));
	if (p256_scalar_from_pem(buf_str(&b), b.len, scalar, err) < 0) {
		err_wrap(err, "%s", p);
		goto out;
	}
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

/* Replace a CA certificate when it expires within the renewal window. */
static int renew_ca(const char *dir, const char *name, const char *cn, int path_len,
		    const uint8_t scalar[32], int64_t now, X509 **current, struct err *err)
{
	char p[4096];
	struct buf b = BUF_INIT;
	int rc = -1;
	if (fs_join(p, sizeof p, dir, name) < 0)
		return err_set(err, "path too long");
	TRY_OUT(fs_read_file(p, 64 * 1024, &b, err));
	*current = cert_from_pem(buf_str(&b), b.len, err);
	if (!*current)
		goto out;
	int64_t not_after;
	TRY_OUT(cert_not_after(*current, &not_after, err));
	if (not_after <= now + RENEW_WINDOW) {
		X509 *x = make_ca(cn, path_len, scalar, now, err);
		if (!x)
			goto out;
		buf_reset(&b);
		if (cert_to_pem(x, &b, err) < 0 || fs_write_atomic(p, b.p, b.len, 0644, err) < 0) {
			X509_free(x);
			goto out;
		}
		X509_free(*current);
		*current = x;
		log_notice("renewed %s (it expired within 365 days)", name);
	}
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

int bootstrap_update_certs(const char *dir, const char *auto_domain, int64_t now,
			   const struct bootstrap_attester *att, struct err *err)
{
	int rc = -1;
	uint8_t tmp_ca[32], root_ca[32], rpc[32];
	X509 *root_x = NULL, *tmp_x = NULL, *rpc_x = NULL;
	struct buf domain = BUF_INIT, pem = BUF_INIT;
	char p[4096];

	if (auto_domain && auto_domain[0]) {
		buf_append_str(&domain, auto_domain);
	} else {
		if (fs_join(p, sizeof p, dir, "rpc-domain") < 0 ||
		    fs_read_file(p, 1024, &domain, err) < 0) {
			err_wrap(err, "no domain for rpc.crt (set [core.onboard] "
				      "auto_bootstrap_domain or restore rpc-domain)");
			goto out;
		}
		while (domain.len &&
		       (domain.p[domain.len - 1] == '\n' || domain.p[domain.len - 1] == ' ' ||
			domain.p[domain.len - 1] == '\r'))
			domain.p[--domain.len] = 0;
	}
	TRY_OUT(bootstrap_validate_domain(buf_str(&domain), err));
	TRY_OUT(load_scalar(dir, "tmp-ca.key", tmp_ca, err));
	TRY_OUT(load_scalar(dir, "root-ca.key", root_ca, err));
	TRY_OUT(load_scalar(dir, "rpc.key", rpc, err));
	TRY_OUT(renew_ca(dir, "root-ca.crt", "Dstack KMS CA", 1, root_ca, now, &root_x, err));
	TRY_OUT(renew_ca(dir, "tmp-ca.crt", "Dstack Client Temp CA", 0, tmp_ca, now, &tmp_x, err));
	rpc_x = make_rpc(buf_str(&domain), rpc, root_ca, root_x, now, att, err);
	TRY_OUT(pem_of(rpc_x, &pem, err));
	if (fs_join(p, sizeof p, dir, "rpc.crt") < 0) {
		err_set(err, "path too long");
		goto out;
	}
	TRY_OUT(fs_write_atomic(p, pem.p, pem.len, 0644, err));
	rc = 0;
out:
	secret_wipe(tmp_ca, 32);
	secret_wipe(root_ca, 32);
	secret_wipe(rpc, 32);
	X509_free(root_x);
	X509_free(tmp_x);
	X509_free(rpc_x);
	buf_free(&domain);
	buf_free(&pem);
	return rc;
}
