/*
 * fuzz_collateral_cache.c — libFuzzer target for the on-disk collateral cache
 * reader (src/collateral/collateral_disk.c, collateral_disk_read): a file in
 * [core.attestation] collateral_cache_dir may be corrupt, truncated or planted.
 * Each input is written as the cache file of one key in a private temporary
 * directory, then read back; the file-name parser (collateral_disk_parse_name)
 * gets the input as a name too. Built and run by `make fuzz` / `make
 * fuzz-smoke` with the other targets.
 *
 * Beyond "no crash, no leak", it checks: a file that reads fine yields signed
 * TCB info and QE identity text, an origin that is a C string, and
 * collateral that survives collateral_to_json / collateral_parse unchanged
 * (same collateral_digest); a parsed name formats back to itself.
 */
#include "collateral/collateral_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct collateral_source_key KEY = {{0x90, 0xc0, 0x6f, 0, 0, 0},
						 COLLATERAL_SOURCE_CA_PLATFORM};
static char g_dir[64];
static char g_path[128];

static void cleanup(void)
{
	unlink(g_path);
	rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *tmp = getenv("TMPDIR");
	snprintf(g_dir, sizeof g_dir, "%s/fuzz-cache-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(g_dir) || collateral_disk_path(g_dir, &KEY, g_path, sizeof g_path) < 0) {
		fprintf(stderr, "fuzz_collateral_cache: cannot make a temporary directory\n");
		abort();
	}
	atexit(cleanup);
	return 0;
}

static void check_name(const uint8_t *p, size_t n)
{
	char name[80], back[80];
	struct collateral_source_key k;
	if (n >= sizeof name || memchr(p, '\0', n))
		return;
	memcpy(name, p, n);
	name[n] = '\0';
	if (collateral_disk_parse_name(name, &k) == 0 &&
	    (collateral_source_file_name(&k, back, sizeof back) < 0 || strcmp(back, name) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fopen(g_path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	check_name(data, size);

	struct dcap_collateral c, again;
	struct collateral_meta m;
	struct err e;
	collateral_init(&c);
	e.msg[0] = '\0';
	int rc = collateral_disk_read(g_dir, &KEY, &c, &m, &e);
	if (rc < 0 && !strstr(e.msg, "cache file "))
		abort(); /* a failure names the file */
	if (rc == 1)
		abort(); /* the file is there */
	if (rc == 0) {
		uint8_t d1[32], d2[32];
		struct buf json = BUF_INIT;
		if (!c.tcb_info.len || !c.qe_identity.len ||
		    !memchr(m.origin, '\0', sizeof m.origin))
			abort();
		if (collateral_to_json(&c, &json, &e) < 0 ||
		    collateral_parse((const char *)json.p, json.len, &again, &e) < 0)
			abort();
		if (collateral_digest(&c, d1) < 0 || collateral_digest(&again, d2) < 0 ||
		    memcmp(d1, d2, 32) != 0)
			abort();
		collateral_free(&again);
		buf_free(&json);
	}
	collateral_free(&c);
	return 0;
}
