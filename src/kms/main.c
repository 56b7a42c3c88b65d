/*
 * main.c — dstack-kms: load kms.toml, make sure the key set exists
 * (auto-bootstrap), refresh certificates, load the root keys and serve the
 * KMS prpc API over HTTPS until SIGINT/SIGTERM.
 * spec: kms-protocol §1 (start-up sequence), §14 (config).
 */
#include "audit/audit.h"
#include "crypto/cert.h"
#include "kms/admin.h"
#include "kms/bootstrap.h"
#include "kms/control.h"
#include "kms/guest_agent.h"
#include "kms/kms.h"
#include "kms/onboard.h"
#include "net/http_client.h"
#include "net/service.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/secret.h"
#include "util/workpool.h"
#include "version.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f, "Usage: dstack-kms [--config FILE]\n"
		   "\n"
		   "The dstack Key Management Service.\n"
		   "\n"
		   "  -c, --config FILE  read this kms.toml (and only this file);\n"
		   "                     default /etc/kms/kms.toml\n"
		   "  -V, --version      print the version and exit\n"
		   "  -h, --help         this text\n"
		   "\n"
		   "See deploy/examples/kms.toml for every setting.\n");
}

/* Host mode has no TEE behind it: say so once, loudly (issue: seed traps). */
static void warn_host_mode(const struct kms_config *c)
{
	if (!c->attest_rpc_cert || !c->enforce_self_authorization)
		log_warn("HOST MODE: no TEE attestation: %s%s%s. Clients cannot verify this KMS; "
			 "use it only for development or a host-based setup you trust",
			 !c->attest_rpc_cert ? "attest_rpc_cert = false (rpc.crt carries no "
					       "attestation)"
					     : "",
			 !c->attest_rpc_cert && !c->enforce_self_authorization ? ", " : "",
			 !c->enforce_self_authorization ? "enforce_self_authorization = false (the "
							  "KMS does not check itself with the auth "
							  "API)"
							: "");
	if (c->auth_type == AUTH_KIND_DEV)
		log_warn("auth_api type = \"dev\": EVERY app and KMS is allowed; never use this in "
			 "production");
	if (!c->image_verify)
		log_warn("[core.image] verify = false: os_image_hash is an unverified host claim");
	if (c->auth_type == AUTH_KIND_WEBHOOK && !c->webhook_insecure_plaintext &&
	    config_url_is_plain_http_remote(c->webhook_url)) {
		char origin[256];
		log_url_origin(c->webhook_url, origin, sizeof origin);
		log_warn("auth webhook %s is plain http:// to a host that is not loopback: a "
			 "network attacker could forge isAllowed answers and get keys released. "
			 "Use https://, a loopback address, or acknowledge with "
			 "[core.auth_api.webhook] insecure_plaintext = true",
			 origin);
	}
}

static int ensure_keys(const struct kms_config *c, const struct bootstrap_attester *att,
		       struct err *err)
{
	TRY(fs_mkdir_p(c->cert_dir, 0700, err));
	TRY(bootstrap_recover(c->cert_dir, err));
	if (bootstrap_keyset_complete(c->cert_dir))
		return 0;
	char missing[256] = "";
	for (size_t i = 0; i < 7; i++) {
		char p[4096];
		if (fs_join(p, sizeof p, c->cert_dir, BOOTSTRAP_CORE_FILES[i]) == 0 &&
		    !fs_exists(p)) {
			size_t n = strlen(missing);
			snprintf(missing + n, sizeof missing - n, "%s%s", n ? " " : "",
				 BOOTSTRAP_CORE_FILES[i]);
		}
	}
	if (bootstrap_has_root_keys(c->cert_dir))
		return err_set(err,
			       "the key set in %s is incomplete (missing: %s) but root keys are "
			       "present; refusing to overwrite them. Restore the missing files "
			       "from a backup, or move the directory away to bootstrap afresh",
			       c->cert_dir, missing);
	if (!c->onboard_enabled)
		return err_set(err,
			       "no key set in %s (missing: %s) and [core.onboard] enabled = false",
			       c->cert_dir, missing);
	if (!c->auto_bootstrap_domain[0])
		return 1; /* the onboard service */
	log_info("Onboarding: auto-bootstrap domain=%s cert_dir=%s", c->auto_bootstrap_domain,
		 c->cert_dir);
	struct bootstrap_result r;
	if (bootstrap_generate(c->cert_dir, c->auto_bootstrap_domain, (int64_t)time(NULL), 0, att,
			       &r, err) < 0)
		return err_wrap(err, "auto-bootstrap failed");
	log_info("auto-bootstrap complete: root keys generated in %s", c->cert_dir);
	return 0;
}

/* Compute the KMS's own BootInfo once at start (SelfAuth caches it) and say
 * what the KMS is; a failure here is retried by the first SelfAuth. */
static void log_self(struct kms *k)
{
	const struct boot_info *bi;
	struct err e;
	err_clear(&e);
	if (self_attest_cached(k, &bi, &e) < 0) {
		log_warn("own attestation not available yet (SelfAuth retries on every call): %s",
			 e.msg);
		return;
	}
	char app[41] = "", mr[65] = "", img[65] = "";
	if (bi->app_id.len <= 20)
		hex_encode(bi->app_id.b, bi->app_id.len, app);
	if (bi->mr_aggregated.len <= 32)
		hex_encode(bi->mr_aggregated.b, bi->mr_aggregated.len, mr);
	if (bi->os_image_hash.len <= 32)
		hex_encode(bi->os_image_hash.b, bi->os_image_hash.len, img);
	log_info("own attestation: %s app_id=%s mr_aggregated=%s os_image_hash=%s tcb_status=%s",
		 bi->tee_variant, app, mr, img[0] ? img : "-", bi->tcb_status);
}

/* One process per key set: two KMS on one cert_dir would race bootstrap,
 * onboarding and certificate renewal. The lock lasts as long as the process. */
#define CERT_DIR_LOCK ".kms.lock"

static int lock_cert_dir(const char *cert_dir, int *fd, struct err *err)
{
	char path[4096];
	if (fs_join(path, sizeof path, cert_dir, CERT_DIR_LOCK) < 0)
		return err_set(err, "cert_dir path too long: %s", cert_dir);
	pid_t holder = 0;
	int r = fs_lock_file(path, fd, &holder, err);
	if (r < 0)
		return err_wrap(err, "cert_dir %s", cert_dir);
	if (r == 1) {
		if (holder > 0)
			return err_set(err,
				       "cert_dir %s is in use by another dstack-kms (pid %ld holds "
				       "%s); one key set is served by one process",
				       cert_dir, (long)holder, CERT_DIR_LOCK);
		return err_set(err,
			       "cert_dir %s is in use by another dstack-kms (it holds %s); one key "
			       "set is served by one process",
			       cert_dir, CERT_DIR_LOCK);
	}
	return 0;
}

static struct service_liveness *liveness;
#define POOL_EXIT_WAIT_MS 1000

static void kms_tick(void *ud, int worker)
{
	(void)ud;
	service_liveness_tick(liveness, worker);
}

static int make_auth(struct kms *k, struct err *err)
{
	const struct kms_config *c = &k->cfg;
	struct auth_config ac = {
	    .type = c->auth_type == AUTH_KIND_DEV      ? AUTH_TYPE_DEV
		    : c->auth_type == AUTH_KIND_STATIC ? AUTH_TYPE_STATIC
						       : AUTH_TYPE_WEBHOOK,
	    .webhook_url = c->webhook_url,
	    .timeout_ms = (long)c->webhook_timeout_ms,
	    .dev_gateway_app_id = c->dev_gateway_app_id,
	    .static_file = c->static_file,
	};
	k->auth = auth_new(&ac, err);
	return k->auth ? 0 : -1;
}

static void log_auth(const struct kms_config *c)
{
	char origin[256];
	switch (c->auth_type) {
	case AUTH_KIND_WEBHOOK:
		log_url_origin(c->webhook_url, origin, sizeof origin);
		log_info("Auth API configured: webhook at %s", origin);
		break;
	case AUTH_KIND_DEV:
		log_info("Auth API configured: dev (allow all)");
		break;
	case AUTH_KIND_STATIC:
		log_info("Auth API configured: static policy from %s", c->static_file);
		break;
	}
}

int main(int argc, char **argv)
{
	const char *config_path = "/etc/kms/kms.toml";
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"version", no_argument, NULL, 'V'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'V':
			printf("dstack-kms v%s (git:%s)\n", KMS_VERSION, KMS_GIT_REV);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dstack-kms: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	log_init("dstack-kms");
	signal(SIGPIPE, SIG_IGN);
	static struct kms k;
	struct err err;
	err_clear(&err);
	struct http_server *srv = NULL;
	struct admin *admin = NULL;
	struct kms_control *control = NULL;
	int lock_fd = -1;
	int rc = 1;
	k.started_at = (int64_t)time(NULL);
	snprintf(k.version, sizeof k.version, "v%s (git:%s)", KMS_VERSION, KMS_GIT_REV);

	/* before any key is read: no core dump may hold this process's memory */
	if (secret_process_protect(&err) < 0)
		goto fail;
	if (config_load(&k.cfg, config_path, &err) < 0)
		goto fail;
	log_set_level((enum log_level)log_level_parse(k.cfg.log_level));
	log_info("dstack-kms v%s (git:%s) starting config=%s", KMS_VERSION, KMS_GIT_REV,
		 config_path);
	if (!k.cfg.attest_rpc_cert)
		log_warn("attest_rpc_cert = false; the KMS RPC certificate carries no attestation");
	warn_host_mode(&k.cfg);
	self_attest_init(&k.self);
	if (http_client_global_init(&err) < 0)
		goto fail;
	if (k.cfg.attest_rpc_cert || k.cfg.enforce_self_authorization) {
		if (!(k.agent = guest_agent_new((long)k.cfg.guest_agent_timeout_ms, &err))) {
			err_wrap(&err, "guest agent");
			goto fail;
		}
		log_info("guest agent: %s", guest_agent_address(k.agent));
		/* a KMS that is to attest or check itself and cannot reach its
		 * agent stops here, with the way out for a host without a TEE */
		struct buf vc = BUF_INIT;
		int ok = guest_agent_info(k.agent, &vc, &err);
		buf_free(&vc);
		if (ok < 0) {
			err_wrap(&err,
				 "%s needs the dstack guest agent of the KMS's TDX VM (set "
				 "DSTACK_AGENT_ADDRESS to reach it); on a host without a TEE set "
				 "[core] attest_rpc_cert = false and enforce_self_authorization = "
				 "false",
				 k.cfg.attest_rpc_cert ? "attest_rpc_cert = true"
						       : "enforce_self_authorization = true");
			goto fail;
		}
	}
	/* what Bootstrap and Onboard need comes first: the policy, the verifier
	 * of attestations, the release log and the blocking pool */
	if (make_auth(&k, &err) < 0)
		goto fail;
	if (kms_attestation_init(&k, &err) < 0)
		goto fail;
	/* cert_dir first: the release log may live beside it (cert_dir/../) */
	if (fs_mkdir_p(k.cfg.cert_dir, 0700, &err) < 0)
		goto fail;
	if (lock_cert_dir(k.cfg.cert_dir, &lock_fd, &err) < 0)
		goto fail;
	/* a release log that cannot be appended to stops start-up: no key is
	 * ever released without its record */
	if (!(k.audit = audit_open(k.cfg.audit_file, &err))) {
		err_wrap(&err, "[core.audit] file");
		goto fail;
	}
	log_info("release log: %s", k.cfg.audit_file);
	size_t nblock = k.cfg.max_blocking > 0 ? (size_t)k.cfg.max_blocking : 64;
	if (!(k.pool = workpool_new(nblock, nblock, 30000, &err)))
		goto fail;
	if (k.cfg.enforce_self_authorization)
		log_self(&k);

	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* workers inherit the mask */
	int sig = 0;
	/* the control socket answers from here on, onboarding included */
	if (control_start(&k, &control, &err) < 0)
		goto fail;

	struct bootstrap_attester guest = {guest_agent_attest_cb, k.agent};
	const struct bootstrap_attester *att = k.cfg.attest_rpc_cert ? &guest : NULL;
	int need = ensure_keys(&k.cfg, att, &err);
	if (need < 0)
		goto fail;
	if (need == 1) {
		if (onboard_run(&k, &sigs, &sig, &err) < 0)
			goto fail;
		if (sig) {
			log_info("received signal %d during onboarding, shutting down", sig);
			service_stopping();
			rc = 0;
			goto done;
		}
		if (!bootstrap_keyset_complete(k.cfg.cert_dir)) {
			err_set(&err, "Failed to onboard");
			goto fail;
		}
	}
	log_info("Updating certs");
	if (bootstrap_update_certs(k.cfg.cert_dir, k.cfg.auto_bootstrap_domain, (int64_t)time(NULL),
				   att, &err) < 0) {
		if (k.cfg.attest_rpc_cert) {
			err_wrap(&err, "Failed to update certs");
			goto fail;
		}
		log_warn("Failed to update certs: %s", err.msg);
		err_clear(&err);
	}
	if (keys_load(&k.keys, k.cfg.cert_dir, &err) < 0) {
		err_wrap(&err, "loading keys");
		goto fail;
	}
	rpc_kms_init(&k);

	static const char *const ratls_ext_oids[] = {OID_ATTESTATION, OID_TDX_QUOTE, NULL};
	struct http_server_tls tls = {
	    .cert_file = k.cfg.rpc_tls_certs,
	    .key_file = k.cfg.rpc_tls_key,
	    .client_ca = k.cfg.rpc_mutual_ca_certs[0] ? k.cfg.rpc_mutual_ca_certs : NULL,
	    .client_mandatory = k.cfg.rpc_mutual_mandatory,
	    /* a caller is accepted by its attestation, not by its issuer */
	    .accept_ext_oids = ratls_ext_oids,
	};
	uint64_t max_body = config_max_body_limit(&k.cfg);
	uint64_t wd_usec = service_watchdog_usec();
	int tick_ms = wd_usec ? (int)(wd_usec / 4000) : 0;
	if (wd_usec && tick_ms < 50)
		tick_ms = 50;
	liveness = wd_usec ? service_liveness_new(k.cfg.workers, tick_ms) : NULL;
	struct http_server_opts so = {
	    .address = k.cfg.rpc_address,
	    .port = k.cfg.rpc_port,
	    .workers = k.cfg.workers,
	    .timeout_s = k.cfg.keep_alive > 0 ? k.cfg.keep_alive : 10,
	    .max_headers = 64 * 1024,
	    .max_body = (size_t)(max_body + (1u << 20)),
	    .limits = kms_listener_limits(&k.cfg),
	    .tls = &tls,
	    .handler = kms_main_handler,
	    .ud = &k,
	    .server_name = "RPC",
	    .on_tick = liveness ? kms_tick : NULL,
	    .tick_ms = tick_ms,
	    .drain_max_ms = (long)k.cfg.request_deadline_ms + 1000,
	    .strict_path = 1,
	};
	log_info("Starting KMS");
	srv = http_server_start(&so, &err);
	if (!srv)
		goto fail;
	atomic_store(&k.rpc_srv, srv);
	atomic_store(&k.phase, KMS_PHASE_SERVING);
	log_info("KMS initialized successfully");
	log_info("RPC server listening on %s:%d", k.cfg.rpc_address, http_server_port(srv));
	char status[CFG_STR + 64];
	snprintf(status, sizeof status, "serving: the KMS RPC on %s:%d", k.cfg.rpc_address,
		 http_server_port(srv));
	service_ready(status);
	if (k.cfg.admin_enabled && !(admin = admin_start(&k, &err)))
		goto fail;
	log_auth(&k.cfg);
	for (size_t i = 0; i < k.service.nmethods; i++)
		log_debug("  /prpc/%s", k.service.methods[i].name);

	sigwait(&sigs, &sig);
	log_info("received signal %d, shutting down", sig);
	service_stopping();
	rc = 0;
	goto done;
fail:
	log_err("dstack-kms: %s", err.msg);
done:
	control_stop(control);
	admin_stop(admin);
	atomic_store(&k.rpc_srv, NULL);
	http_server_stop(srv);
	/* the listeners have drained (bounded by the request deadline); a
	 * blocking call that outlives them (a webhook or PCCS slower than its
	 * own timeout allows for) does not hold the exit: its caller has been
	 * answered already */
	size_t busy = workpool_stop(k.pool, POOL_EXIT_WAIT_MS);
	if (busy) {
		log_warn("exiting with %zu blocking call%s still running; not waiting for %s", busy,
			 busy == 1 ? "" : "s", busy == 1 ? "it" : "them");
		fflush(NULL);
		_exit(rc);
	}
	workpool_free(k.pool);
	audit_close(k.audit);
	service_liveness_free(liveness);
	kms_attestation_free(&k);
	if (k.auth)
		auth_free(k.auth);
	keys_free(&k.keys);
	self_attest_free(&k.self);
	guest_agent_free(k.agent);
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}
