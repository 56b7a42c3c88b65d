/*
 * test_config.c — kms.toml loading: defaults, every section, warnings for
 * unknown and obsolete keys, strict [core.attestation], seed-era host mode,
 * type errors with file:line, JSON refused.
 */
#include "harness.h"

#include "kms/config.h"
#include "util/fs.h"

#include <stdio.h>
#include <string.h>

static int load(struct kms_config *c, const char *text, struct err *e)
{
	return config_load_text(c, text, strlen(text), "kms.toml", e);
}

TEST(test_config_defaults_match_upstream)
{
	struct kms_config c;
	struct err e;
	CHECK_OK(load(&c, "", &e), &e);
	CHECK_EQ_INT(c.workers, 8);
	CHECK_EQ_STR(c.rpc_address, "0.0.0.0");
	CHECK_EQ_INT(c.rpc_port, 8000);
	CHECK_EQ_STR(c.rpc_tls_key, "/etc/kms/certs/rpc.key");
	CHECK_EQ_STR(c.rpc_mutual_ca_certs, "/etc/kms/certs/tmp-ca.crt");
	CHECK_EQ_INT(c.rpc_mutual_mandatory, 0);
	CHECK_EQ_STR(c.cert_dir, "/etc/kms/certs");
	CHECK_EQ_INT(c.enforce_self_authorization, 1);
	CHECK_EQ_INT(c.attest_rpc_cert, 1);
	CHECK_EQ_INT(c.image_verify, 1);
	CHECK_EQ_INT(c.image_download_timeout_s, 120);
	CHECK_EQ_INT(c.admin_enabled, 0);
	CHECK_EQ_INT(c.admin_port, 8001);
	CHECK_EQ_INT(c.metrics_enabled, 1);
	CHECK_EQ_INT(c.auth_type, AUTH_KIND_WEBHOOK);
	CHECK_EQ_STR(c.webhook_url, "http://auth-api:8000");
	CHECK_EQ_INT(c.webhook_timeout_ms, 5000);
	CHECK_EQ_STR(c.dev_gateway_app_id, "any");
	CHECK_EQ_INT(c.onboard_enabled, 1);
	CHECK_EQ_INT(c.onboard_port, 8000);
	CHECK_EQ_INT(c.nwarnings, 0);
	CHECK_EQ_INT(config_body_limit(&c, "SignCert"), 10 * 1024 * 1024);
	CHECK_EQ_INT(c.max_connections, 4096);
	CHECK_EQ_INT(c.max_connections_per_client, 64);
	CHECK_EQ_INT(c.header_timeout_ms, 10000);
	CHECK_EQ_INT(c.read_timeout_ms, 30000);
}

TEST(test_config_reads_admission_limits)
{
	struct kms_config c;
	struct err e;
	CHECK_OK(load(&c,
		      "[rpc]\nmax_connections = 100\nmax_connections_per_client = 5\n"
		      "header_timeout = \"3s\"\nread_timeout = \"1m\"\n",
		      &e),
		 &e);
	CHECK_EQ_INT(c.max_connections, 100);
	CHECK_EQ_INT(c.max_connections_per_client, 5);
	CHECK_EQ_INT(c.header_timeout_ms, 3000);
	CHECK_EQ_INT(c.read_timeout_ms, 60000);
	CHECK_EQ_INT(c.nwarnings, 0);
	CHECK(load(&c, "[rpc]\nheader_timeout = \"never\"\n", &e) < 0);
	CHECK(load(&c, "[rpc]\nmax_connections = -1\n", &e) < 0);
}

TEST(test_config_max_buffered_bytes_at_least_the_largest_request)
{
	struct kms_config c;
	struct err e;
	CHECK_OK(load(&c, "[rpc]\n", &e), &e);
	CHECK_EQ_INT(c.max_buffered_bytes, 256 * 1024 * 1024);
	CHECK_OK(load(&c, "[rpc]\nmax_buffered_bytes = \"64MiB\"\n", &e), &e);
	CHECK_EQ_INT(c.max_buffered_bytes, 64 * 1024 * 1024);
	CHECK_OK(load(&c, "[rpc]\nmax_buffered_bytes = 12582912\n", &e), &e);
	CHECK_EQ_INT(c.max_buffered_bytes, 12 * 1024 * 1024);
	/* 11 MiB: the default 10 MiB limit + 1 MiB is the largest request */
	CHECK(load(&c, "[rpc]\nmax_buffered_bytes = \"10MiB\"\n", &e) < 0);
	CHECK_CONTAINS(e.msg, "max_buffered_bytes = 10485760 is below the largest request the "
			      "KMS accepts (11534336 bytes");
	/* a larger [rpc.limits] entry raises the minimum with it */
	CHECK(load(&c,
		   "[rpc]\nmax_buffered_bytes = \"16MiB\"\n[rpc.limits]\nSignCert = \"20MiB\"\n",
		   &e) < 0);
	CHECK_CONTAINS(e.msg, "(22020096 bytes");
	CHECK(load(&c, "[rpc]\nmax_buffered_bytes = \"lots\"\n", &e) < 0);
	CHECK_CONTAINS(e.msg, "max_buffered_bytes must be a byte size");
}

TEST(test_config_example_file_loads_without_warnings)
{
	struct kms_config c;
	struct err e;
	CHECK_OK(config_load(&c, "deploy/examples/kms.toml", &e), &e);
	CHECK_EQ_INT(c.nwarnings, 0);
	CHECK_EQ_INT(c.rpc_port, 9100);
	CHECK_EQ_STR(c.webhook_url, "http://127.0.0.1:9200");
	CHECK_EQ_INT(c.attest_rpc_cert, 0);
	CHECK_EQ_INT(c.enforce_self_authorization, 0);
	CHECK_EQ_INT(c.webhook_timeout_ms, 5000);
}

/* The kms.toml the seed tutorial series writes (deployment-and-users §1.4). */
static const char SEED[] =
    "[default]\n"
    "workers = 8\n"
    "max_blocking = 64\n"
    "ident = \"DStack KMS\"\n"
    "temp_dir = \"/tmp\"\n"
    "keep_alive = 10\n"
    "log_level = \"info\"\n"
    "\n"
    "[rpc]\n"
    "address = \"0.0.0.0\"\n"
    "port = 9100\n"
    "\n"
    "[rpc.tls]\n"
    "key = \"/etc/kms/certs/rpc.key\"\n"
    "certs = \"/etc/kms/certs/rpc.crt\"\n"
    "\n"
    "[rpc.tls.mutual]\n"
    "ca_certs = \"/etc/kms/certs/tmp-ca.crt\"\n"
    "mandatory = false\n"
    "\n"
    "[core]\n"
    "cert_dir = \"/etc/kms/certs\"\n"
    "subject_postfix = \".dstack\"\n"
    "pccs_url = \"https://api.trustedservices.intel.com/tdx/certification/v4\"\n"
    "\n"
    "[core.auth_api]\n"
    "type = \"webhook\"\n"
    "\n"
    "[core.auth_api.webhook]\n"
    "url = \"http://127.0.0.1:9200\"\n"
    "\n"
    "[core.onboard]\n"
    "enabled = true\n"
    "auto_bootstrap_domain = \"\"\n"
    "quote_enabled = false\n"
    "address = \"0.0.0.0\"\n"
    "port = 9100\n";

TEST(test_config_seed_file_starts_in_host_mode_with_warnings)
{
	struct kms_config c;
	struct err e;
	CHECK_OK(load(&c, SEED, &e), &e);
	CHECK_EQ_INT(c.seed_host_mode, 1);
	CHECK_EQ_INT(c.attest_rpc_cert, 0);
	CHECK_EQ_INT(c.enforce_self_authorization, 0);
	CHECK_EQ_INT(c.rpc_port, 9100);
	/* the Intel PCS URL is reduced to its base */
	CHECK_EQ_STR(c.pccs_url, "https://api.trustedservices.intel.com");
	CHECK_CONTAINS(c.warnings, "kms.toml:24: [core] pccs_url is obsolete");
	CHECK_CONTAINS(c.warnings, "[core.attestation.urls] pccs");
	CHECK_CONTAINS(c.warnings, "kms.toml:35: [core.onboard] quote_enabled is obsolete");
	CHECK_CONTAINS(c.warnings, "attest_rpc_cert");
	CHECK_CONTAINS(c.warnings, "enforce_self_authorization");
	CHECK_EQ_INT(c.nwarnings, 3);
}

TEST(test_config_quote_enabled_with_explicit_switches_is_not_host_mode)
{
	struct kms_config c;
	struct err e;
	CHECK_OK(
	    load(&c, "[core]\nattest_rpc_cert = true\n[core.onboard]\nquote_enabled = false\n", &e),
	    &e);
	CHECK_EQ_INT(c.seed_host_mode, 0);
	CHECK_EQ_INT(c.attest_rpc_cert, 1);
	CHECK_EQ_INT(c.enforce_self_authorization, 1);
}

TEST(test_config_unknown_key_warns_with_its_name)
{
	struct kms_config c;
	struct err e;
	CHECK_OK(load(&c, "[core]\nenforce_self_authorisation = false\n[foo]\nbar = 1\n", &e), &e);
	CHECK_CONTAINS(c.warnings, "kms.toml:2: unknown key 'core.enforce_self_authorisation'");
	CHECK_CONTAINS(c.warnings, "kms.toml:3: unknown table [foo] ignored");
	CHECK_EQ_INT(c.enforce_self_authorization, 1); /* the typo changed nothing */
}

TEST(test_config_unknown_key_under_attestation_is_an_error)
{
	struct kms_config c;
	struct err e;
	CHECK_FAILS(load(&c, "[core.attestation]\npccs_url = \"x\"\n", &e));
	CHECK_CONTAINS(e.msg, "kms.toml:2: unknown key 'core.attestation.pccs_url'");
	CHECK_FAILS(load(&c, "[core.attestation.urls]\npcs = \"x\"\n", &e));
	CHECK_CONTAINS(e.msg, "core.attestation.urls.pcs");
}

TEST(test_config_type_errors_name_file_line_and_key)
{
	struct kms_config c;
	struct err e;
	CHECK_FAILS(load(&c, "[rpc]\naddress = \"127.0.0.1\"\nport = \"9100\"\n", &e));
	CHECK_EQ_STR(e.msg, "kms.toml:3: rpc.port must be an integer, not string");
	CHECK_FAILS(load(&c, "[core]\nattest_rpc_cert = 0\n", &e));
	CHECK_CONTAINS(e.msg, "kms.toml:2: core.attest_rpc_cert must be a boolean");
	CHECK_FAILS(load(&c, "[rpc]\nport = 70000\n", &e));
	CHECK_CONTAINS(e.msg, "kms.toml:2: rpc.port = 70000 is out of range");
	CHECK_FAILS(load(&c, "[core.auth_api]\ntype = \"chain\"\n", &e));
	CHECK_CONTAINS(e.msg, "kms.toml:2: core.auth_api.type = \"chain\" is not one of");
}

TEST(test_config_bad_syntax_fails_with_line)
{
	struct kms_config c;
	struct err e;
	CHECK_FAILS(load(&c, "[rpc]\nport = 9100\naddress = \"0.0.0.0\n", &e));
	CHECK_CONTAINS(e.msg, "kms.toml:3:");
	CHECK_FAILS(load(&c, "[rpc]\nport = 1\nport = 2\n", &e));
	CHECK_CONTAINS(e.msg, "kms.toml:3:");
}

TEST(test_config_webhook_timeout_extension)
{
	struct kms_config c;
	struct err e;
	CHECK_OK(load(&c, "[core.auth_api.webhook]\nurl = \"http://x\"\ntimeout = \"2s\"\n", &e),
		 &e);
	CHECK_EQ_INT(c.webhook_timeout_ms, 2000);
	CHECK_OK(load(&c, "[core.auth_api.webhook]\ntimeout = 3\n", &e), &e);
	CHECK_EQ_INT(c.webhook_timeout_ms, 3000);
	CHECK_FAILS(load(&c, "[core.auth_api.webhook]\ntimeout = \"never\"\n", &e));
	CHECK_CONTAINS(e.msg,
		       "kms.toml:2: core.auth_api.webhook.timeout must be between 1s and 1h");
	CHECK_FAILS(load(&c, "[core.auth_api.webhook]\ntimeout = \"5 parsecs\"\n", &e));
	CHECK_CONTAINS(e.msg, "is not a duration");
}

TEST(test_config_static_auth_needs_a_file)
{
	struct kms_config c;
	struct err e;
	CHECK_FAILS(load(&c, "[core.auth_api]\ntype = \"static\"\n", &e));
	CHECK_CONTAINS(e.msg, "[core.auth_api.static] file must be set");
	CHECK_OK(load(&c,
		      "[core.auth_api]\ntype = \"static\"\n[core.auth_api.static]\nfile = "
		      "\"/etc/kms/policy.json\"\n",
		      &e),
		 &e);
	CHECK_EQ_INT(c.auth_type, AUTH_KIND_STATIC);
	CHECK_EQ_STR(c.static_file, "/etc/kms/policy.json");
}

TEST(test_config_limits_and_durations)
{
	struct kms_config c;
	struct err e;
	CHECK_OK(load(&c,
		      "[rpc.limits]\nSignCert = \"2MiB\"\nGetMeta = 1000\n[core.image]\n"
		      "download_timeout = \"1h\"\n",
		      &e),
		 &e);
	CHECK_EQ_INT(config_body_limit(&c, "SignCert"), 2 * 1024 * 1024);
	CHECK_EQ_INT(config_body_limit(&c, "GetMeta"), 1000);
	CHECK_EQ_INT(config_body_limit(&c, "GetAppKey"), 10 * 1024 * 1024);
	CHECK_EQ_INT(c.image_download_timeout_s, 3600);
	uint64_t v;
	CHECK(config_parse_duration("never", &v) == 0 && v == 0);
	CHECK(config_parse_duration("2d", &v) == 0 && v == 172800);
	CHECK(config_parse_duration("-1s", &v) < 0);
	CHECK(config_parse_bytes("5 kB", &v) == 0 && v == 5000);
	CHECK(config_parse_bytes("1GiB", &v) == 0 && v == 1073741824ull);
	CHECK(config_parse_bytes("lots", &v) < 0);
	CHECK_FAILS(load(&c, "[rpc.limits]\nSignCert = \"big\"\n", &e));
	CHECK_CONTAINS(e.msg, "kms.toml:2: rpc.limits.SignCert must be a byte size");
}

TEST(test_config_trust_anchor_override_needs_insecure_flag)
{
	struct kms_config c;
	struct err e;
	CHECK_FAILS(load(&c, "[core.attestation.root_ca]\ntdx = \"/x.der\"\n", &e));
	CHECK_CONTAINS(e.msg, "insecure_allow_external_trust_anchors = true");
	CHECK_OK(load(&c,
		      "[core.attestation]\ninsecure_allow_external_trust_anchors = true\n"
		      "[core.attestation.root_ca]\ntdx = \"/x.der\"\n",
		      &e),
		 &e);
	CHECK_EQ_STR(c.root_ca_tdx, "/x.der");
}

TEST(test_config_json_file_is_refused)
{
	const char *dir = t_tmpdir();
	char p1[600], p2[600];
	snprintf(p1, sizeof p1, "%s/kms.json", dir);
	snprintf(p2, sizeof p2, "%s/kms.conf", dir);
	struct err e;
	CHECK_OK(fs_write_atomic(p1, "{}", 2, 0644, &e), &e);
	CHECK_OK(fs_write_atomic(p2, " {\"core\":{}}", 12, 0644, &e), &e);
	struct kms_config c;
	CHECK_FAILS(config_load(&c, p1, &e));
	CHECK_CONTAINS(e.msg, "JSON configuration is not supported");
	CHECK_FAILS(config_load(&c, p2, &e));
	CHECK_CONTAINS(e.msg, "looks like JSON");
	snprintf(p1, sizeof p1, "%s/missing.toml", dir);
	CHECK_FAILS(config_load(&c, p1, &e));
	CHECK_CONTAINS(e.msg, "cannot read config");
}
