/*
 * image_lite.c — TDX lite OS image verification (image_lite.h).
 *
 * The register model (kms-protocol §10.6, facts from upstream's verifier):
 *   MRTD  = the document's two-pass or single-pass candidate, chosen as QEMU
 *           adds pages (vm_config.qemu_single_pass_add_pages when given, else
 *           two-pass for QEMU 8.x and single-pass from 9.0; default 9.1.0);
 *   RTMR0 = replay of [TD HOB, CFV image, SecureBoot, PK, KEK, db, dbx,
 *           separator, acpi-loader, acpi-rsdp, acpi-tables, BootOrder,
 *           Boot0000] (OVMF pre-202505 layout), the TD HOB rebuilt from the
 *           document's compact witness and vm_config.memory_size;
 *   RTMR1 = replay of [kernel Authenticode, "Calling EFI Application from
 *           Boot Option", separator, "Exit Boot Services Invocation",
 *           "Exit Boot Services Returned with Success"];
 *   RTMR2 = replay of [kernel command line, initrd].
 * A replay starts from 48 zero bytes: mr = SHA-384(mr || digest).
 */
#include "attest/image_lite.h"

#include "util/base64.h"
#include "util/cbor.h"
#include "util/hex.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define MR 48
#define TD_HOB_MAX_RANGES 256 /* real witnesses carry a handful */

static const char ACPI_NAMES[3][12] = {"acpi-loader", "acpi-rsdp", "acpi-tables"};

/* ---- digests ---- */

static int sha384(const void *p, size_t n, uint8_t out[MR], struct err *err)
{
	unsigned len = 0;
	if (EVP_Digest(p, n, out, &len, EVP_sha384(), NULL) != 1 || len != MR)
		return err_openssl(err, "SHA-384");
	return 0;
}

static int sha256(const void *p, size_t n, uint8_t out[32], struct err *err)
{
	unsigned len = 0;
	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != 32)
		return err_openssl(err, "SHA-256");
	return 0;
}

static int replay(const uint8_t (*log)[MR], size_t n, uint8_t out[MR], struct err *err)
{
	uint8_t mr[2 * MR] = {0};
	for (size_t i = 0; i < n; i++) {
		memcpy(mr + MR, log[i], MR);
		TRY(sha384(mr, sizeof mr, mr, err));
	}
	memcpy(out, mr, MR);
	return 0;
}

/* An EFI variable event: GUID (first three groups little-endian), name
 * length and data length as u64le, the name in UTF-16LE (ASCII names). */
static int efi_variable(const uint8_t guid[16], const char *name, uint8_t out[MR], struct err *err)
{
	uint8_t b[16 + 16 + 2 * 16];
	size_t n = strlen(name), o = 0;
	memcpy(b, guid, 16);
	o = 16;
	for (int i = 0; i < 8; i++)
		b[o++] = (uint8_t)((uint64_t)n >> (8 * i));
	memset(b + o, 0, 8);
	o += 8;
	for (size_t i = 0; i < n; i++) {
		b[o++] = (uint8_t)name[i];
		b[o++] = 0;
	}
	return sha384(b, o, out, err);
}

/* ---- vm_config ---- */

struct vm_config {
	json_t *root;
	const char *os_image_hash_hex;
	uint64_t memory_size;
	int two_pass;
	const char *checksum_b64, *measurement_b64;
	size_t checksum_b64_len, measurement_b64_len;
	int has_doc;
};

static int parse_version(const char *s, unsigned v[3])
{
	for (int i = 0; i < 3; i++) {
		char *end;
		if (*s < '0' || *s > '9')
			return -1;
		unsigned long x = strtoul(s, &end, 10);
		if (x > 0xffffffffu || (i < 2 ? *end != '.' : *end != 0))
			return -1;
		v[i] = (unsigned)x;
		s = end + (i < 2);
	}
	return 0;
}

static int vm_config_parse(const char *text, size_t len, struct vm_config *c, struct err *err)
{
	json_error_t je;
	memset(c, 0, sizeof *c);
	c->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!c->root || !json_is_object(c->root))
		return err_set(err, "Failed to decode VM config: %s",
			       c->root ? "not a JSON object" : je.text);
	json_t *v;
	if ((v = json_object_get(c->root, "os_image_hash")) && json_is_string(v))
		c->os_image_hash_hex = json_string_value(v);
	if ((v = json_object_get(c->root, "memory_size"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return err_set(err, "Failed to decode VM config: memory_size must be a "
					    "non-negative integer");
		c->memory_size = (uint64_t)json_integer_value(v);
	}
	unsigned ver[3] = {9, 1, 0};
	if ((v = json_object_get(c->root, "qemu_version")) && json_is_string(v) &&
	    parse_version(json_string_value(v), ver) < 0)
		return err_set(err,
			       "failed to resolve QEMU measurement options: Failed to parse QEMU "
			       "version '%s' (major.minor.patch)",
			       json_string_value(v));
	if (ver[0] < 8)
		return err_set(err,
			       "failed to resolve QEMU measurement options: Unsupported QEMU "
			       "version: %u.%u.%u",
			       ver[0], ver[1], ver[2]);
	c->two_pass = ver[0] == 8;
	/* upstream passes qemu_single_pass_add_pages as its two_pass_add_pages
	 * option: true selects the two-pass MRTD. Kept as is, for the same
	 * verdicts on the same inputs. */
	if ((v = json_object_get(c->root, "qemu_single_pass_add_pages")) && json_is_boolean(v))
		c->two_pass = json_is_true(v);
	/* one OVMF variant exists: the document's must be it (checked when it
	 * is decoded), so vm_config's, when given, must be it too */
	if ((v = json_object_get(c->root, "ovmf_variant")) && !json_is_null(v) &&
	    !(json_is_string(v) && strcmp(json_string_value(v), "pre202505") == 0))
		return err_set(err,
			       "tdx measurement ovmf_variant mismatch: vm_config=%s, "
			       "document=pre202505",
			       json_is_string(v) ? json_string_value(v) : "(not a string)");
	json_t *doc = json_object_get(c->root, "tdx_measurement");
	if (doc && !json_is_null(doc)) {
		json_t *cf = json_object_get(doc, "checksum_file");
		json_t *m = json_object_get(doc, "measurement");
		if (!json_is_object(doc) || !json_is_string(cf) || !json_is_string(m))
			return err_set(err, "Failed to decode VM config: tdx_measurement needs "
					    "checksum_file and measurement (base64 strings)");
		c->checksum_b64 = json_string_value(cf);
		c->checksum_b64_len = json_string_length(cf);
		c->measurement_b64 = json_string_value(m);
		c->measurement_b64_len = json_string_length(m);
		c->has_doc = 1;
	}
	return 0;
}

int image_lite_is_lite(const char *vm_config, size_t len, struct err *err)
{
	json_error_t je;
	json_t *root = json_loadb(vm_config, len, JSON_REJECT_DUPLICATES, &je);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		return err_set(err, "Failed to decode VM config: %s",
			       root ? "not a JSON object" : je.text);
	}
	json_t *v = json_object_get(root, "tdx_attestation_variant");
	int lite = json_is_string(v) && strcmp(json_string_value(v), "lite") == 0;
	json_decref(root);
	return lite;
}

static int b64_field(const char *s, size_t n, size_t max, const char *what, uint8_t **out,
		     size_t *out_len, struct err *err)
{
	size_t cap = base64_max_decoded(n);
	if (cap > max + 3)
		return err_set(err, "tdx_measurement.%s is larger than %zu bytes", what, max);
	if (!(*out = malloc(cap ? cap : 1)))
		return err_set(err, "out of memory");
	if (base64_decode(s, n, *out, cap, out_len, BASE64_UNPADDED) < 0 || *out_len > max) {
		free(*out);
		*out = NULL;
		return err_set(err,
			       "Failed to decode VM config: tdx_measurement.%s is not base64 "
			       "(or larger than %zu bytes)",
			       what, max);
	}
	return 0;
}

/* ---- checksum file ---- */

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* The SHA-256 listed for name: one `<hex> <name>` line, exactly once. */
static int checksum_entry(const uint8_t *file, size_t len, const char *name, uint8_t out[32],
			  struct err *err)
{
	const char *p = (const char *)file, *end = p + len;
	int found = 0;
	size_t line_no = 0;
	if (memchr(file, 0, len))
		return err_set(err, "sha256sum.txt is not valid UTF-8 text");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		line_no++;
		const char *a = p;
		while (a < le && is_space(*a))
			a++;
		const char *ae = a;
		while (ae < le && !is_space(*ae))
			ae++;
		const char *b = ae;
		while (b < le && is_space(*b))
			b++;
		const char *be = b;
		while (be < le && !is_space(*be))
			be++;
		p = nl ? nl + 1 : end;
		if (a == le)
			continue; /* blank */
		if (b == le)
			return err_set(err, "sha256sum.txt line %zu is missing filename", line_no);
		if ((size_t)(be - b) != strlen(name) || memcmp(b, name, (size_t)(be - b)) != 0)
			continue;
		if (found)
			return err_set(err, "sha256sum.txt contains duplicate %s entries", name);
		struct buf h = BUF_INIT;
		int bad = (size_t)(ae - a) != 64 || hex_decode(a, 64, &h) < 0 || h.len != 32;
		if (!bad)
			memcpy(out, h.p, 32);
		buf_free(&h);
		if (bad)
			return err_set(err, "sha256sum.txt %s hash is not 64 hex digits", name);
		found = 1;
	}
	return found ? 0 : err_set(err, "sha256sum.txt is missing %s", name);
}

static int verify_material(const struct vm_config *c, const uint8_t *cf, size_t cf_len,
			   const uint8_t *m, size_t m_len, struct err *err)
{
	uint8_t img[32], want[32], got[32];
	char a[65], b[65];
	TRY(sha256(cf, cf_len, img, err));
	struct buf claimed = BUF_INIT;
	const char *h = c->os_image_hash_hex ? c->os_image_hash_hex : "";
	int ok = hex_decode(h, strlen(h), &claimed) == 0 && claimed.len == 32 &&
		 memcmp(claimed.p, img, 32) == 0;
	buf_free(&claimed);
	if (!ok) {
		hex_encode(img, 32, a);
		return err_set(err,
			       "os_image_hash mismatch: expected sha256(sha256sum.txt)=%.64s, "
			       "actual=%s",
			       h, a);
	}
	TRY(checksum_entry(cf, cf_len, IMAGE_LITE_MEASUREMENT_FILE, want, err));
	TRY(sha256(m, m_len, got, err));
	if (memcmp(want, got, 32) != 0) {
		hex_encode(want, 32, a);
		hex_encode(got, 32, b);
		return err_set(err, "%s hash mismatch: sha256sum.txt=%s, actual=%s",
			       IMAGE_LITE_MEASUREMENT_FILE, a, b);
	}
	return 0;
}

/* ---- the measurement CBOR (TdxOsImageMeasurement v3) ---- */

struct bytes_field {
	const uint8_t *p;
	size_t len;
	int seen;
};

struct measurement {
	uint64_t version;
	int seen_version, seen_image, seen_tdvf, seen_ovmf, seen_mrtd;
	struct bytes_field cmdline, kernel, initrd, single_pass, two_pass, td_hob;
};

struct key_spec {
	const char *name;
	int kind; /* 0 bytes, 1 submap, 2 uint, 3 ovmf text */
	struct bytes_field *bytes;
	int *seen;
	int (*submap)(struct reader *r, struct measurement *m, struct err *err);
};

static int decode_map(struct reader *r, struct measurement *m, const struct key_spec *keys,
		      size_t nkeys, struct err *err)
{
	uint64_t n;
	TRY(cbor_map(r, &n, err));
	for (uint64_t i = 0; i < n; i++) {
		const char *k;
		size_t klen;
		TRY(cbor_text(r, &k, &klen, err));
		const struct key_spec *s = NULL;
		for (size_t j = 0; j < nkeys; j++)
			if (cbor_text_is(k, klen, keys[j].name))
				s = &keys[j];
		if (!s) {
			TRY(cbor_skip(r, err)); /* unknown keys are ignored, as serde does */
			continue;
		}
		int *seen = s->bytes ? &s->bytes->seen : s->seen;
		if (*seen)
			return err_set(err, "duplicate field `%s`", s->name);
		*seen = 1;
		switch (s->kind) {
		case 0:
			TRY(cbor_bytes(r, &s->bytes->p, &s->bytes->len, err));
			break;
		case 1:
			TRY(s->submap(r, m, err));
			break;
		case 2:
			TRY(cbor_uint(r, &m->version, err));
			if (m->version > 0xffffffffu)
				return err_set(err, "version %llu is out of range",
					       (unsigned long long)m->version);
			break;
		default: {
			const char *t;
			size_t tl;
			TRY(cbor_text(r, &t, &tl, err));
			if (!cbor_text_is(t, tl, "pre202505"))
				return err_set(err,
					       "unknown ovmf variant `%.*s`, expected pre202505",
					       (int)(tl > 64 ? 64 : tl), t);
		}
		}
	}
	for (size_t j = 0; j < nkeys; j++)
		if (!(keys[j].bytes ? keys[j].bytes->seen : *keys[j].seen))
			return err_set(err, "missing field `%s`", keys[j].name);
	return 0;
}

static int decode_image(struct reader *r, struct measurement *m, struct err *err)
{
	const struct key_spec k[] = {{"cmdline_sha384", 0, &m->cmdline, NULL, NULL},
				     {"kernel_authenticode", 0, &m->kernel, NULL, NULL},
				     {"initrd_sha384", 0, &m->initrd, NULL, NULL}};
	return decode_map(r, m, k, 3, err);
}

static int decode_mrtd(struct reader *r, struct measurement *m, struct err *err)
{
	const struct key_spec k[] = {{"single_pass", 0, &m->single_pass, NULL, NULL},
				     {"two_pass", 0, &m->two_pass, NULL, NULL}};
	return decode_map(r, m, k, 2, err);
}

static int decode_tdvf(struct reader *r, struct measurement *m, struct err *err)
{
	const struct key_spec k[] = {{"ovmf", 3, NULL, &m->seen_ovmf, NULL},
				     {"mrtd", 1, NULL, &m->seen_mrtd, decode_mrtd},
				     {"td_hob", 0, &m->td_hob, NULL, NULL}};
	return decode_map(r, m, k, 3, err);
}

static int decode_measurement(const uint8_t *p, size_t len, struct measurement *m, struct err *err)
{
	struct reader r;
	memset(m, 0, sizeof *m);
	reader_init(&r, p, len);
	const struct key_spec k[] = {{"version", 2, NULL, &m->seen_version, NULL},
				     {"image", 1, NULL, &m->seen_image, decode_image},
				     {"tdvf", 1, NULL, &m->seen_tdvf, decode_tdvf}};
	if (decode_map(&r, m, k, 3, err) < 0)
		return err_wrap(err, "TdxOsImageMeasurement");
	if (rd_left(&r))
		return err_set(err, "TdxOsImageMeasurement: %zu trailing bytes after the document",
			       rd_left(&r));
	if (m->version != IMAGE_LITE_MEASUREMENT_VERSION)
		return err_set(err, "TdxOsImageMeasurement: unsupported version %llu, expected %d",
			       (unsigned long long)m->version, IMAGE_LITE_MEASUREMENT_VERSION);
	return 0;
}

static int field48(const struct bytes_field *f, const char *name, uint8_t out[MR], struct err *err)
{
	if (f->len != MR)
		return err_set(err, "%s has invalid length %zu, expected 48", name, f->len);
	memcpy(out, f->p, MR);
	return 0;
}

/* ---- ACPI digests from the event log ---- */

static int acpi_digests(const struct tdx_event *ev, size_t n, uint8_t out[3][MR], struct err *err)
{
	size_t rtmr0 = 0, cand = 0, count[3] = {0};
	const struct tdx_event *pick[3] = {NULL, NULL, NULL};
	for (size_t i = 0; i < n; i++) {
		if (ev[i].imr != 0)
			continue;
		rtmr0++;
		if (ev[i].event_type != EVENTLOG_ACPI_DATA_EVENT_TYPE || ev[i].payload_len != 9 ||
		    memcmp(ev[i].payload, "ACPI DATA", 9) != 0)
			continue;
		cand++;
		for (int k = 0; k < 3; k++)
			if (ev[i].event_len == strlen(ACPI_NAMES[k]) &&
			    memcmp(ev[i].event, ACPI_NAMES[k], ev[i].event_len) == 0) {
				count[k]++;
				pick[k] = &ev[i];
			}
	}
	if (cand != 3)
		return err_set(err,
			       "TDX lite attestation requires exactly 3 RTMR0 ACPI DATA events; "
			       "found %zu candidates and %zu RTMR0 events",
			       cand, rtmr0);
	for (int k = 0; k < 3; k++) {
		if (count[k] != 1)
			return err_set(err,
				       "TDX lite attestation requires exactly one RTMR0 ACPI DATA "
				       "event named %s; found %zu",
				       ACPI_NAMES[k], count[k]);
		if (pick[k]->digest_len != MR)
			return err_set(
			    err,
			    "TDX RTMR0 ACPI DATA event %s has invalid digest length %zu, "
			    "expected 48",
			    ACPI_NAMES[k], pick[k]->digest_len);
		memcpy(out[k], pick[k]->digest, MR);
	}
	return 0;
}

/* ---- the TD HOB ---- */

static int varuint(struct reader *r, uint64_t *v, struct err *err)
{
	uint64_t x = 0;
	for (unsigned shift = 0;; shift += 7) {
		uint8_t b;
		if (shift >= 64)
			return err_set(err, "TD HOB witness varuint is too large");
		if (rd_u8(r, &b) < 0)
			return err_set(err, "truncated TD HOB witness varuint");
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
	}
	*v = x;
	return 0;
}

struct range {
	int accepted;
	uint64_t start, end;
};

struct ranges {
	struct range r[3 * TD_HOB_MAX_RANGES + 1];
	size_t n;
};

/* Marks [start, end) accepted: unaccepted ranges overlapping it keep only
 * their parts outside it; accepted ones stay as they are; sorted by start
 * (stable). */
static void accept_range(struct ranges *rs, uint64_t start, uint64_t end)
{
	struct range out[sizeof rs->r / sizeof rs->r[0]];
	size_t n = 0;
	if (start >= end)
		return;
	for (size_t i = 0; i < rs->n; i++) {
		struct range g = rs->r[i];
		if (g.accepted || g.end <= start || g.start >= end) {
			out[n++] = g;
			continue;
		}
		if (g.start < start)
			out[n++] = (struct range){0, g.start, start};
		if (g.end > end)
			out[n++] = (struct range){0, end, g.end};
	}
	out[n++] = (struct range){1, start, end};
	/* insertion sort: stable, and n is small */
	for (size_t i = 1; i < n; i++) {
		struct range t = out[i];
		size_t j = i;
		while (j > 0 && out[j - 1].start > t.start) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = t;
	}
	memcpy(rs->r, out, n * sizeof out[0]);
	rs->n = n;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void resource_hob(uint8_t *hob, size_t *len, uint8_t type, uint64_t start, uint64_t size)
{
	uint8_t *h = hob + *len;
	memset(h, 0, 48);
	put_le(h, 0x0003, 2);	  /* EFI_HOB_TYPE_RESOURCE_DESCRIPTOR */
	put_le(h + 2, 48, 2);	  /* HobLength */
	h[24] = type;		  /* ResourceType (after 4 reserved + 16 owner) */
	put_le(h + 28, 7, 4);	  /* ResourceAttribute */
	put_le(h + 32, start, 8); /* PhysicalStart */
	put_le(h + 40, size, 8);  /* ResourceLength */
	*len += 48;
}

static int td_hob_digest(const uint8_t *w, size_t wlen, uint64_t memory_size, uint8_t out[MR],
			 struct err *err)
{
	struct reader r;
	uint64_t base, delta, count;
	reader_init(&r, w, wlen);
	TRY(varuint(&r, &base, err));
	TRY(varuint(&r, &delta, err));
	TRY(varuint(&r, &count, err));
	if (count > TD_HOB_MAX_RANGES)
		return err_set(err, "TD HOB witness has %llu ranges (at most %d)",
			       (unsigned long long)count, TD_HOB_MAX_RANGES);
	if (base + delta < base || (base + delta) > UINT64_MAX / 0x1000)
		return err_set(err, "TD HOB base address overflow");
	uint64_t hob_base = (base + delta) * 0x1000;

	struct ranges *rs = malloc(sizeof *rs);
	if (!rs)
		return err_set(err, "out of memory");
	rs->n = 1;
	rs->r[0] = (struct range){0, 0, memory_size};
	int rc = -1;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t sd, pages;
		TRY_OUT(varuint(&r, &sd, err));
		TRY_OUT(varuint(&r, &pages, err));
		if (base + sd < base || base + sd > UINT64_MAX / 0x1000) {
			err_set(err, "TD HOB range start overflow");
			goto out;
		}
		if (pages > UINT64_MAX / 0x1000) {
			err_set(err, "TD HOB range length overflow");
			goto out;
		}
		uint64_t start = (base + sd) * 0x1000, size = pages * 0x1000;
		if (start + size < start) {
			err_set(err, "TD HOB range end overflow");
			goto out;
		}
		accept_range(rs, start, start + size);
	}
	if (rd_left(&r)) {
		err_set(err, "TD HOB witness has trailing bytes");
		goto out;
	}

	/* header + at most (ranges - 1) resource HOBs + 2 for the last range */
	size_t cap = 56 + (rs->n + 2) * 48, len = 56;
	uint8_t *hob = calloc(1, cap);
	if (!hob) {
		err_set(err, "out of memory");
		goto out;
	}
	put_le(hob, 0x0001, 2); /* EFI_HOB_TYPE_HANDOFF */
	put_le(hob + 2, 56, 2);
	put_le(hob + 8, 9, 4); /* Version */
	struct range last = rs->r[rs->n - 1];
	for (size_t i = 0; i + 1 < rs->n; i++) {
		struct range g = rs->r[i];
		if (g.end < g.start) {
			err_set(err, "Invalid memory range: end < start");
			free(hob);
			goto out;
		}
		resource_hob(hob, &len, g.accepted ? 0x00 : 0x07, g.start, g.end - g.start);
	}
	if (last.end < last.start) {
		err_set(err, "Invalid last memory range: end < start");
		free(hob);
		goto out;
	}
	if (memory_size >= IMAGE_LITE_MEM_STABLE_MIN) {
		if (last.start < 0x80000000ull)
			resource_hob(hob, &len, 0x07, last.start, 0x80000000ull - last.start);
		if (last.end > 0x80000000ull)
			resource_hob(hob, &len, 0x07, 0x100000000ull, last.end - 0x80000000ull);
	} else {
		resource_hob(hob, &len, 0x07, last.start, last.end - last.start);
	}
	put_le(hob + 48, hob_base + len + 8, 8); /* EfiEndOfHobList */
	rc = sha384(hob, len, out, err);
	free(hob);
out:
	free(rs);
	return rc;
}

/* ---- the registers ---- */

static int predict(const struct vm_config *c, const struct measurement *m,
		   const uint8_t acpi[3][MR], struct image_lite_mrs *out, struct err *err)
{
	static const uint8_t GLOBAL[16] = {0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
					   0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};
	static const uint8_t IMAGE_SECURITY[16] = {0xcb, 0xb2, 0x19, 0xd7, 0x3a, 0x3d, 0x96, 0x45,
						   0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f};
	static const char CFV[] = "344bc51c980ba621aaa00da3ed7436f7d6e549197dfe699515dfa2c6583d9"
				  "5e6412af21c097d473155875ffd561d6790";
	static const char BOOT0000[] = "23ada07f5261f12f34a0bd8e46760962d6b4d576a416f1fea1c64bc6"
				       "56b1d28eacf7047ae6e967c58fd2a98bfa74c298";
	static const uint8_t zero4[4] = {0}, zero2[2] = {0};
	uint8_t log[13][MR];

	if (c->memory_size != IMAGE_LITE_MEM_2G && c->memory_size < IMAGE_LITE_MEM_STABLE_MIN)
		return err_set(
		    err,
		    "TDX lite attestation without image download requires memory_size "
		    "== %llu bytes (%llu MiB) or >= %llu bytes (%llu MiB); got %llu bytes",
		    IMAGE_LITE_MEM_2G, IMAGE_LITE_MEM_2G >> 20, IMAGE_LITE_MEM_STABLE_MIN,
		    IMAGE_LITE_MEM_STABLE_MIN >> 20, (unsigned long long)c->memory_size);
	TRY(field48(c->two_pass ? &m->two_pass : &m->single_pass, "tdx.measurement.tdvf.mrtd",
		    out->mrtd, err));

	if (td_hob_digest(m->td_hob.p, m->td_hob.len, c->memory_size, log[0], err) < 0)
		return err_wrap(err, "failed to measure TD HOB from witness");
	hex_decode_fixed(CFV, log[1], MR);
	TRY(efi_variable(GLOBAL, "SecureBoot", log[2], err));
	TRY(efi_variable(GLOBAL, "PK", log[3], err));
	TRY(efi_variable(GLOBAL, "KEK", log[4], err));
	TRY(efi_variable(IMAGE_SECURITY, "db", log[5], err));
	TRY(efi_variable(IMAGE_SECURITY, "dbx", log[6], err));
	TRY(sha384(zero4, 4, log[7], err)); /* separator */
	memcpy(log[8], acpi[0], MR);
	memcpy(log[9], acpi[1], MR);
	memcpy(log[10], acpi[2], MR);
	TRY(sha384(zero2, 2, log[11], err)); /* BootOrder */
	hex_decode_fixed(BOOT0000, log[12], MR);
	TRY(replay((const uint8_t(*)[MR])log, 13, out->rtmr[0], err));

	static const char *const rtmr1_text[] = {"Calling EFI Application from Boot Option", NULL,
						 "Exit Boot Services Invocation",
						 "Exit Boot Services Returned with Success"};
	TRY(field48(&m->kernel, "tdx.measurement.image.kernel_authenticode", log[0], err));
	for (int i = 0; i < 4; i++)
		TRY(rtmr1_text[i] ? sha384(rtmr1_text[i], strlen(rtmr1_text[i]), log[1 + i], err)
				  : sha384(zero4, 4, log[1 + i], err));
	TRY(replay((const uint8_t(*)[MR])log, 5, out->rtmr[1], err));

	TRY(field48(&m->initrd, "tdx.measurement.image.initrd_sha384", log[1], err));
	TRY(field48(&m->cmdline, "tdx.measurement.image.kernel_cmdline_sha384", log[0], err));
	return replay((const uint8_t(*)[MR])log, 2, out->rtmr[2], err);
}

int image_lite_expected(const char *vm_config, size_t len, const struct tdx_event *ev, size_t n,
			struct image_lite_mrs *out, struct err *err)
{
	struct vm_config c;
	struct measurement m;
	uint8_t *cf = NULL, *doc = NULL, acpi[3][MR];
	size_t cf_len = 0, doc_len = 0;
	int rc = -1;
	TRY_OUT(vm_config_parse(vm_config, len, &c, err));
	if (!c.has_doc) {
		err_set(err, "tdx lite attestation requires vm_config.tdx_measurement");
		goto out;
	}
	TRY_OUT(b64_field(c.checksum_b64, c.checksum_b64_len, IMAGE_LITE_CHECKSUM_MAX,
			  "checksum_file", &cf, &cf_len, err));
	TRY_OUT(b64_field(c.measurement_b64, c.measurement_b64_len, IMAGE_LITE_MEASUREMENT_MAX,
			  "measurement", &doc, &doc_len, err));
	if (verify_material(&c, cf, cf_len, doc, doc_len, err) < 0) {
		err_wrap(err, "tdx lite measurement material does not match os_image_hash");
		goto out;
	}
	if (decode_measurement(doc, doc_len, &m, err) < 0) {
		err_wrap(err, "failed to decode vm_config.tdx_measurement CBOR");
		goto out;
	}
	if (acpi_digests(ev, n, acpi, err) < 0) {
		err_wrap(err, "TDX lite attestation is missing named RTMR0 ACPI DATA digests");
		goto out;
	}
	if (predict(&c, &m, (const uint8_t(*)[MR])acpi, out, err) < 0) {
		err_wrap(err, "Failed to compute TDX expected measurements without image download");
		goto out;
	}
	rc = 0;
out:
	free(cf);
	free(doc);
	json_decref(c.root);
	return rc;
}

static int compare(const char *name, const uint8_t want[MR], const uint8_t got[MR], struct err *err)
{
	char a[2 * MR + 1], b[2 * MR + 1];
	if (memcmp(want, got, MR) == 0)
		return 0;
	hex_encode(want, MR, a);
	hex_encode(got, MR, b);
	return err_set(err, "MRs do not match: %s mismatch: expected=%s, actual=%s", name, a, b);
}

int image_lite_verify(const char *vm_config, size_t len, const struct tdx_report *td,
		      const struct tdx_event *ev, size_t n, struct err *err)
{
	struct image_lite_mrs e;
	TRY(image_lite_expected(vm_config, len, ev, n, &e, err));
	TRY(compare("MRTD", e.mrtd, td->mr_td, err));
	TRY(compare("RTMR0", e.rtmr[0], td->rtmr[0], err));
	TRY(compare("RTMR1", e.rtmr[1], td->rtmr[1], err));
	return compare("RTMR2", e.rtmr[2], td->rtmr[2], err);
}
