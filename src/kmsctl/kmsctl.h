/*
 * kmsctl.h — what the dstack-kmsctl subcommands share: the global options,
 * the subcommand table entry, the KMS client (client.c) and the small
 * command-line helpers (cli.c).
 *
 * Every subcommand is one file with its own usage text. Output written to the
 * terminal from the KMS (error texts, names) goes through kmsctl_sanitize, so
 * a server cannot drive the terminal with control characters. Exit status:
 * 0 success, 1 failure, 2 usage error (status: 3, needs attention).
 * spec: kms-protocol §2 (prpc JSON mode), §4.3–4.5.
 */
#ifndef KMSCTL_KMSCTL_H
#define KMSCTL_KMSCTL_H

#include "net/http_client.h"
#include "util/err.h"

#include <stdint.h>
#include <stdio.h>

#define KMSCTL_PROG "dstack-kmsctl"
#define KMSCTL_DEFAULT_URL "https://127.0.0.1:9100"
#define KMSCTL_DEFAULT_TIMEOUT_MS 10000L

enum {
	KMSCTL_EXIT_OK = 0,
	KMSCTL_EXIT_FAIL = 1,
	KMSCTL_EXIT_USAGE = 2,
	KMSCTL_EXIT_ATTENTION = 3, /* status: reachable, but something needs attention */
};

/* Global options (given before the subcommand) and the lazily made client. */
struct kmsctl {
	char url[2048];		/* base URL, no trailing '/', no query */
	const char *cacert;	/* root CA PEM file, or NULL */
	const char *servername; /* name the certificate must carry, or NULL = URL host */
	int insecure;		/* no server verification (explicit) */
	long timeout_ms;
	int json; /* print the raw JSON answer */
	/* RA-TLS client certificate and key (PEM text, owned; the key is wiped
	 * by kmsctl_close), set by kmsctl_set_client_cert before the first call */
	char *client_cert_pem, *client_key_pem;
	size_t client_key_len;
	struct http_client *http;
	int capture_cert; /* fill http_response.peer_cert_der (meta --verify-server) */
};

struct kmsctl_cmd {
	const char *name;
	const char *summary; /* one line for the main usage text */
	/* argv[0] is the subcommand name. Returns the exit status. */
	int (*run)(struct kmsctl *ctl, int argc, char **argv);
	void (*usage)(FILE *f);
};

extern const struct kmsctl_cmd kmsctl_cmd_meta;
extern const struct kmsctl_cmd kmsctl_cmd_env_pubkey;
extern const struct kmsctl_cmd kmsctl_cmd_temp_ca;
extern const struct kmsctl_cmd kmsctl_cmd_health;
extern const struct kmsctl_cmd kmsctl_cmd_verify;
extern const struct kmsctl_cmd kmsctl_cmd_audit;
extern const struct kmsctl_cmd kmsctl_cmd_app_key;
extern const struct kmsctl_cmd kmsctl_cmd_kms_key;
extern const struct kmsctl_cmd kmsctl_cmd_sign_cert;
extern const struct kmsctl_cmd kmsctl_cmd_bootstrap;
extern const struct kmsctl_cmd kmsctl_cmd_onboard;
extern const struct kmsctl_cmd kmsctl_cmd_finish;
extern const struct kmsctl_cmd kmsctl_cmd_status;

/* ---- client.c ---- */

/*
 * Calls KMS.<method> (or "Service.Method" as given, e.g. Onboard.Bootstrap)
 * in JSON mode: POST <url>/prpc/KMS.<method>?json with
 * json_body (NULL = no body). Returns 0 only for HTTP 200 and fills *resp;
 * otherwise -1 with err naming the method and the KMS's own `error` text for
 * a 400. Free *resp with kmsctl_response_free (also after a failure).
 */
int kmsctl_rpc(struct kmsctl *ctl, const char *method, const char *json_body,
	       struct http_response *resp, struct err *err);

/* GET <url><path>; returns 0 when any HTTP answer arrived (caller judges status). */
int kmsctl_get(struct kmsctl *ctl, const char *path, struct http_response *resp, struct err *err);

/* Writes the body to stdout as is (for --json), ending with a newline. */
void kmsctl_print_body(const struct http_response *resp);

/* Wipes the body (it may hold key material) and frees the response. */
void kmsctl_response_free(struct http_response *resp);

void kmsctl_close(struct kmsctl *ctl);

/* Reads the client certificate and key files that later calls present. */
int kmsctl_set_client_cert(struct kmsctl *ctl, const char *cert_file, const char *key_file,
			   struct err *err);

/* ---- meta.c ---- */

/* The KMS's root k256 public key (33 bytes compressed), from GetMeta. */
int kmsctl_fetch_k256_pubkey(struct kmsctl *ctl, uint8_t pub[33], struct err *err);
/* The KMS's root CA certificate PEM, from GetMeta (caller frees). */
int kmsctl_fetch_root_ca(struct kmsctl *ctl, char **pem, struct err *err);

/* ---- status.c ---- */

struct json_t;
struct buf;
/* Reads and parses the control socket's status document (*out: caller
 * json_decref's it), within timeout_ms. */
int kmsctl_status_read(const char *path, long timeout_ms, struct json_t **out, struct err *err);
/* Appends one line per thing that needs attention to out; returns how many. */
int kmsctl_status_attention(struct json_t *doc, struct buf *out);

/* ---- cli.c ---- */

/* Prints "dstack-kmsctl: <message>" (sanitized, one line) to stderr; returns 1. */
int kmsctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the message and a pointer to `<cmd> --help` to stderr; returns 2. */
int kmsctl_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copies s into out (size outlen, NUL-terminated, truncated with "..."):
 * CR/LF/TAB become spaces, other control characters (C0, DEL, UTF-8 C1) '?'. */
void kmsctl_sanitize(const char *s, char *out, size_t outlen);
/* Prints "<label><value>\n" with the value sanitized (any length). */
void kmsctl_print_field(const char *label, const char *value);

/* 1 when arg is "-h" or "--help". */
int kmsctl_is_help(const char *arg);
/*
 * Matches option `name` at argv[*i], as "--name VALUE" or "--name=VALUE".
 * Returns 1 and sets *val (advancing *i past a separate value), 0 when
 * argv[*i] is another argument, -1 when the value is missing (err set).
 */
int kmsctl_opt_value(int argc, char **argv, int *i, const char *name, const char **val,
		     struct err *err);

/* Decodes hex (with or without one "0x") of exactly n bytes; err says why not. */
int kmsctl_parse_hex_fixed(const char *what, const char *s, uint8_t *out, size_t n,
			   struct err *err);

/* 1 when s is PEM text: starts with "-----BEGIN " and holds only printable
 * ASCII and line breaks (so printing it cannot drive the terminal). */
int kmsctl_is_pem_text(const char *s);
/* "subject=<RFC 2253 DN>, sha256=<fingerprint>" of the first certificate. */
int kmsctl_cert_summary(const char *pem, char *out, size_t outlen, struct err *err);

#endif
