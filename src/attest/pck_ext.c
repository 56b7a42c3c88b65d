/*
 * pck_ext.c — the PCK certificate's Intel SGX extension (pck_ext.h): a
 * SEQUENCE OF SEQUENCE {OID, value}, the TCB entry nesting one more such
 * SEQUENCE. DER is read with the bounded reader (single-byte tags, definite
 * minimal lengths); a value is found by its full OID bytes.
 * spec: attestation §1.4.
 */
#include "attest/pck_ext.h"

#include "util/reader.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

/* 1.2.840.113741.1.13.1 as DER OID content bytes. */
static const uint8_t OID_SGX[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};
#define OID_SGX_LEN sizeof OID_SGX

struct tlv {
	uint8_t tag;
	const uint8_t *v;
	size_t len;
};

/* One DER TLV: single-byte tag, definite minimal length. */
static int der_next(struct reader *r, struct tlv *t)
{
	uint8_t l0;
	size_t len = 0;
	if (rd_u8(r, &t->tag) < 0 || (t->tag & 0x1f) == 0x1f || rd_u8(r, &l0) < 0)
		return -1;
	if (l0 < 0x80) {
		len = l0;
	} else {
		size_t nb = l0 & 0x7f;
		if (nb == 0 || nb > 4)
			return -1;
		for (size_t i = 0; i < nb; i++) {
			uint8_t b;
			if (rd_u8(r, &b) < 0 || (i == 0 && b == 0))
				return -1;
			len = len << 8 | b;
		}
		if (len < 0x80)
			return -1;
	}
	return rd_bytes(r, len, &t->v) < 0 ? -1 : (t->len = len, 0);
}

/* Value of the {OID, value} entry whose OID is `oid` inside the SEQUENCE seq.
 * 1 found, 0 absent, -1 malformed. */
static int ext_lookup(const struct tlv *seq, const uint8_t *oid, size_t oid_len, struct tlv *out)
{
	struct reader r;
	if (seq->tag != 0x30)
		return -1;
	reader_init(&r, seq->v, seq->len);
	while (rd_left(&r)) {
		struct tlv entry, name, value;
		struct reader er;
		if (der_next(&r, &entry) < 0 || entry.tag != 0x30)
			return -1;
		reader_init(&er, entry.v, entry.len);
		if (der_next(&er, &name) < 0 || der_next(&er, &value) < 0)
			return -1;
		if (name.len == oid_len && memcmp(name.v, oid, oid_len) == 0) {
			*out = value;
			return 1;
		}
	}
	return 0;
}

/* The fields: OID arcs below the SGX OID (sub2 = 0: none), exact lengths
 * (0 = 1 or 2 bytes), names and length messages as dcap-qvl words them. */
static const struct {
	uint8_t sub1, sub2;
	size_t len;
	const char *name, *len_msg;
} FIELDS[PCK_EXT_NFIELDS] = {
    [PCK_EXT_PPID] = {0x01, 0, 16, "PPID", "PPID length mismatch"},
    [PCK_EXT_CPUSVN] = {0x02, 0x12, 16, "CPUSVN", "CpuSvn length mismatch"},
    [PCK_EXT_PCESVN] = {0x02, 0x11, 0, "PCESVN", "PceSvn length mismatch"},
    [PCK_EXT_PCEID] = {0x03, 0, 2, "PCE-ID", "PCE-ID length mismatch"},
    [PCK_EXT_FMSPC] = {0x04, 0, 6, "FMSPC", "Fmspc length mismatch"},
    [PCK_EXT_SGX_TYPE] = {0x05, 0, 0, "SGX type", "Unexpected ENUMERATED length"},
};

static void store(struct pck_ext *e, enum pck_ext_field f, const struct tlv *v)
{
	switch (f) {
	case PCK_EXT_PPID:
		memcpy(e->ppid, v->v, v->len);
		break;
	case PCK_EXT_CPUSVN:
		memcpy(e->cpu_svn, v->v, v->len);
		break;
	case PCK_EXT_PCESVN:
		e->pce_svn = v->len == 1 ? v->v[0] : (uint16_t)(v->v[0] << 8 | v->v[1]);
		break;
	case PCK_EXT_PCEID:
		memcpy(e->pce_id, v->v, v->len);
		break;
	case PCK_EXT_FMSPC:
		memcpy(e->fmspc, v->v, v->len);
		break;
	default:
		break;
	}
}

int pck_ext_read(X509 *leaf, struct pck_ext *e, char *why, size_t why_len)
{
	memset(e, 0, sizeof *e);
	ASN1_OBJECT *obj = OBJ_txt2obj(PCK_EXT_OID, 1);
	int idx = obj ? X509_get_ext_by_OBJ(leaf, obj, -1) : -1;
	int dup = idx >= 0 ? X509_get_ext_by_OBJ(leaf, obj, idx) : -1;
	ASN1_OBJECT_free(obj);
	ERR_clear_error();
	if (idx < 0) {
		snprintf(why, why_len, "Intel extension not found in the PCK certificate");
		return -2;
	}
	if (dup >= 0) {
		snprintf(why, why_len, "Intel extension appears more than once");
		return -1;
	}
	const ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(X509_get_ext(leaf, idx));
	struct reader r;
	struct tlv top;
	reader_init(&r, ASN1_STRING_get0_data(os), (size_t)ASN1_STRING_length(os));
	if (der_next(&r, &top) < 0 || rd_left(&r) != 0 || top.tag != 0x30) {
		snprintf(why, why_len, "Intel SGX extension is not a DER SEQUENCE");
		return -1;
	}
	for (int f = 0; f < PCK_EXT_NFIELDS; f++) {
		uint8_t oid[OID_SGX_LEN + 2];
		struct tlv mid, v;
		memcpy(oid, OID_SGX, OID_SGX_LEN);
		oid[OID_SGX_LEN] = FIELDS[f].sub1;
		int rc = ext_lookup(&top, oid, OID_SGX_LEN + 1, FIELDS[f].sub2 ? &mid : &v);
		if (rc == 1 && FIELDS[f].sub2) {
			oid[OID_SGX_LEN + 1] = FIELDS[f].sub2;
			rc = ext_lookup(&mid, oid, OID_SGX_LEN + 2, &v);
		}
		if (rc != 1) {
			e->state[f] = rc < 0 ? PCK_EXT_MALFORMED : PCK_EXT_ABSENT;
			continue;
		}
		e->length[f] = v.len;
		int len_ok = FIELDS[f].len ? v.len == FIELDS[f].len : (v.len == 1 || v.len == 2);
		if (!len_ok) {
			e->state[f] = PCK_EXT_BAD_LENGTH;
			continue;
		}
		e->state[f] = PCK_EXT_OK;
		store(e, (enum pck_ext_field)f, &v);
	}
	return 0;
}

int pck_ext_parse(X509 *leaf, struct pck_ext *e, char *why, size_t why_len)
{
	if (pck_ext_read(leaf, e, why, why_len) < 0)
		return -1;

	for (int f = 0; f < PCK_EXT_NFIELDS; f++) {
		switch (e->state[f]) {
		case PCK_EXT_OK:
			continue;
		case PCK_EXT_MALFORMED:
			snprintf(why, why_len, "Intel SGX extension is malformed (at %s)",
				 FIELDS[f].name);
			return -1;
		case PCK_EXT_ABSENT:
			snprintf(why, why_len, "Intel SGX extension has no %s", FIELDS[f].name);
			return -1;
		default:
			if (f == PCK_EXT_PPID)
				snprintf(why, why_len, "PPID length mismatch (%zu bytes)",
					 e->length[f]);
			else
				snprintf(why, why_len, "%s", FIELDS[f].len_msg);
			return -1;
		}
	}
	return 0;
}
