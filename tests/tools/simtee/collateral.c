/*
 * collateral.c — `simtee collateral`: DCAP collateral (dcap-qvl's
 * QuoteCollateralV3 JSON) signed by a simtee PKI: root and PCK CRLs, TCB info
 * "TDX" v3 and QE identity "TD_QE" v2 with levels built around the platform's
 * SVNs so that a chosen status and advisories come out, plus the negative
 * variants (revocations, bad signatures, dates, no matching level).
 * TEST-ONLY (see simtee.h). The TCB info / QE identity text is compact JSON
 * and the signature covers exactly those bytes.
 * spec: attestation §2.1 (format, fields), §2.3 (what each knob breaks).
 */
#include "simtee.h"

#include "util/hex.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERIAL_PCK_CA 2
#define SERIAL_PCK 3
#define SERIAL_TCB 4
#define DAY 86400

const char SIM_COLLATERAL_OPTS_HELP[] =
    "  --now T                 window = [T - 1 day, T + 30 days] unless given below\n"
    "  --issue-date T          issueDate of TCB info / QE identity, thisUpdate of CRLs\n"
    "  --next-update T         nextUpdate of all four (overridable one by one:)\n"
    "  --tcb-issue-date T, --tcb-next-update T, --qe-issue-date T, --qe-next-update T,\n"
    "  --root-crl-next-update T, --pck-crl-next-update T, --crl-this-update T\n"
    "  --status S              platform TCB status (default UpToDate): UpToDate,\n"
    "                          SWHardeningNeeded, ConfigurationNeeded,\n"
    "                          ConfigurationAndSWHardeningNeeded, OutOfDate,\n"
    "                          OutOfDateConfigurationNeeded, Revoked\n"
    "  --advisories A,B        advisory IDs of that level\n"
    "  --qe-status S, --qe-advisories A,B        the QE identity level\n"
    "  --module-status S, --module-advisories A,B  the TDX module identity level\n"
    "  --no-matching-level     every TCB level is above the platform\n"
    "  --no-module-identity    tdxModuleIdentities lacks the quote's module version\n"
    "  --reverse-levels        emit the platform tcbLevels lowest first (they must be\n"
    "                          sorted; QE / module levels are used in list order)\n"
    "  --fmspc-lowercase       fmspc in lower case\n"
    "  --revoke-pck            PCK leaf (serial 3) in the PCK CRL\n"
    "  --revoke-pck-ca         PCK CA (serial 2) in the root CRL\n"
    "  --revoke-tcb-signer     TCB signing cert (serial 4) in the root CRL\n"
    "  --bad-tcbinfo-sig       tcb_info edited after signing\n"
    "  --bad-qeid-sig          qe_identity edited after signing\n"
    "  --with-pck-chain        add pck_certificate_chain\n"
    "  --tee-tcb-svn HEX       platform TEE_TCB_SVN the levels are built for (default: PKI)\n"
    "  --qe-isvsvn N           QE ISVSVN the QE levels are built for (default: PKI)\n"
    "  --tcb-eval-number N     tcbEvaluationDataNumber of TCB info and QE identity (18)\n"
    "  --qe-tcb-eval-number N  the same for the QE identity only\n";

static const char *const COLLATERAL_HELP_HEAD =
    "usage: simtee collateral --pki DIR --out FILE (--now T | --issue-date T --next-update T)\n"
    "                         [options]\n"
    "\n"
    "Writes collateral JSON (keys as attestation §2.1) signed by the PKI in DIR. TCB levels\n"
    "are built around the platform's SVNs (PCK CPUSVN/PCESVN, TEE_TCB_SVN, QE ISVSVN) so\n"
    "that a quote from `simtee quote` verifies with the chosen status.\n"
    "\n";

static const char *const STATUSES[] = {"UpToDate",
				       "SWHardeningNeeded",
				       "ConfigurationNeeded",
				       "ConfigurationAndSWHardeningNeeded",
				       "OutOfDate",
				       "OutOfDateConfigurationNeeded",
				       "Revoked"};

void sim_collateral_free(struct sim_collateral *c)
{
	buf_free(&c->root_ca_crl);
	buf_free(&c->pck_crl);
	buf_free(&c->pck_crl_issuer_chain);
	buf_free(&c->tcb_info_issuer_chain);
	buf_free(&c->qe_identity_issuer_chain);
	buf_free(&c->tcb_info);
	buf_free(&c->qe_identity);
	buf_free(&c->tcb_info_signature);
	buf_free(&c->qe_identity_signature);
	buf_free(&c->pck_certificate_chain);
}

static int check_status(const char *s, struct err *err)
{
	for (size_t i = 0; i < sizeof STATUSES / sizeof STATUSES[0]; i++)
		if (!strcmp(s, STATUSES[i]))
			return 0;
	return err_set(err, "unknown TCB status '%s'", s);
}

static int check_advisories(const char *s, struct err *err)
{
	if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-,") !=
	    strlen(s))
		return err_set(err, "advisories must be a comma-separated list of IDs");
	return 0;
}

int sim_collateral_opt(struct sim_args *a, struct sim_collateral_spec *s, struct err *err)
{
	static const struct {
		const char *name;
		size_t t_off, have_off;
	} times[] = {
#define T(n, f)                                                                                    \
	{n, offsetof(struct sim_collateral_spec, f), offsetof(struct sim_collateral_spec, have_##f)}
	    T("--now", now),
	    T("--issue-date", issue_date),
	    T("--next-update", next_update),
	    T("--tcb-issue-date", tcb_issue),
	    T("--tcb-next-update", tcb_next),
	    T("--qe-issue-date", qe_issue),
	    T("--qe-next-update", qe_next),
	    T("--root-crl-next-update", root_crl_next),
	    T("--pck-crl-next-update", pck_crl_next),
	    T("--crl-this-update", crl_this),
#undef T
	};
	static const struct {
		const char *name;
		size_t off;
	} flags[] = {
#define F(n, f) {n, offsetof(struct sim_collateral_spec, f)}
	    F("--no-matching-level", no_matching_level),
	    F("--no-module-identity", no_module_identity),
	    F("--reverse-levels", reverse_levels),
	    F("--fmspc-lowercase", fmspc_lower),
	    F("--revoke-pck", revoke_pck),
	    F("--revoke-pck-ca", revoke_pck_ca),
	    F("--revoke-tcb-signer", revoke_tcb_signer),
	    F("--bad-tcbinfo-sig", bad_tcbinfo_sig),
	    F("--bad-qeid-sig", bad_qeid_sig),
	    F("--with-pck-chain", with_pck_chain),
#undef F
	};
	static const struct {
		const char *name;
		size_t off;
		int is_status;
	} strs[] = {
#define S(n, f, st) {n, offsetof(struct sim_collateral_spec, f), st}
	    S("--status", status, 1),
	    S("--advisories", advisories, 0),
	    S("--qe-status", qe_status, 1),
	    S("--qe-advisories", qe_advisories, 0),
	    S("--module-status", mod_status, 1),
	    S("--module-advisories", mod_advisories, 0),
#undef S
	};
	char *base = (char *)s;
	const char *v;
	int r;
	for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
		if ((r = sim_opt_val(a, times[i].name, &v, err)) == 0)
			continue;
		if (r < 0 || sim_parse_time(v, (int64_t *)(base + times[i].t_off), err) < 0)
			return err_wrap(err, "%s", times[i].name);
		*(int *)(base + times[i].have_off) = 1;
		return 1;
	}
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
		if (sim_opt_flag(a, flags[i].name, (int *)(base + flags[i].off)))
			return 1;
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		if ((r = sim_opt_val(a, strs[i].name, &v, err)) == 0)
			continue;
		if (r < 0 ||
		    (strs[i].is_status ? check_status(v, err) : check_advisories(v, err)) < 0)
			return err_wrap(err, "%s", strs[i].name);
		*(const char **)(base + strs[i].off) = v;
		return 1;
	}
	if ((r = sim_opt_val(a, "--tee-tcb-svn", &v, err)) != 0) {
		if (r < 0 || sim_parse_hex_fixed(v, s->tee_tcb_svn, 16, "--tee-tcb-svn", err) < 0)
			return -1;
		s->have_tee_tcb_svn = 1;
		return 1;
	}
	if ((r = sim_opt_val(a, "--tcb-eval-number", &v, err)) != 0) {
		uint64_t u;
		if (r < 0 || sim_parse_u64(v, 0xffffffffu, &u, err) < 0)
			return err_wrap(err, "--tcb-eval-number");
		s->tcb_eval = (uint32_t)u;
		s->have_tcb_eval = 1;
		return 1;
	}
	if ((r = sim_opt_val(a, "--qe-tcb-eval-number", &v, err)) != 0) {
		uint64_t u;
		if (r < 0 || sim_parse_u64(v, 0xffffffffu, &u, err) < 0)
			return err_wrap(err, "--qe-tcb-eval-number");
		s->qe_eval = (uint32_t)u;
		s->have_qe_eval = 1;
		return 1;
	}
	if ((r = sim_opt_val(a, "--qe-isvsvn", &v, err)) != 0) {
		uint64_t u;
		if (r < 0 || sim_parse_u64(v, 65535, &u, err) < 0)
			return err_wrap(err, "--qe-isvsvn");
		s->qe_isvsvn = (uint16_t)u;
		s->have_qe_isvsvn = 1;
		return 1;
	}
	return 0;
}

/* ---- JSON text of the signed documents ---- */

static int put_advisories(struct buf *b, const char *list)
{
	if (!list || !*list)
		return 0;
	int rc = buf_append_str(b, ",\"advisoryIDs\":[");
	const char *p = list;
	int first = 1;
	while (rc == 0 && *p) {
		size_t n = strcspn(p, ",");
		if (n) {
			rc = buf_printf(b, "%s\"%.*s\"", first ? "" : ",", (int)n, p);
			first = 0;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return rc == 0 ? buf_append_byte(b, ']') : -1;
}

static int put_svns(struct buf *b, const char *key, const uint8_t svn[16])
{
	int rc = buf_printf(b, "\"%s\":[", key);
	for (int i = 0; rc == 0 && i < 16; i++)
		rc = buf_printf(b, "%s{\"svn\":%u}", i ? "," : "", svn[i]);
	return rc == 0 ? buf_append_byte(b, ']') : -1;
}

struct level {
	uint8_t sgx[16], tdx[16];
	unsigned pcesvn; /* platform levels */
	unsigned isvsvn; /* QE / module levels */
	const char *date, *status, *adv;
};

static int put_platform_level(struct buf *b, const struct level *l, int first)
{
	if (buf_printf(b, "%s{\"tcb\":{", first ? "" : ",") < 0 ||
	    put_svns(b, "sgxtcbcomponents", l->sgx) < 0 ||
	    buf_printf(b, ",\"pcesvn\":%u,", l->pcesvn) < 0 ||
	    put_svns(b, "tdxtcbcomponents", l->tdx) < 0 ||
	    buf_printf(b, "},\"tcbDate\":\"%s\",\"tcbStatus\":\"%s\"", l->date, l->status) < 0 ||
	    put_advisories(b, l->adv) < 0 || buf_append_byte(b, '}') < 0)
		return -1;
	return 0;
}

static int put_isv_level(struct buf *b, const struct level *l, int first)
{
	if (buf_printf(b, "%s{\"tcb\":{\"isvsvn\":%u},\"tcbDate\":\"%s\",\"tcbStatus\":\"%s\"",
		       first ? "" : ",", l->isvsvn, l->date, l->status) < 0 ||
	    put_advisories(b, l->adv) < 0 || buf_append_byte(b, '}') < 0)
		return -1;
	return 0;
}

static int put_levels(struct buf *b, const struct level *lv, size_t n, int reverse, int isv)
{
	for (size_t k = 0; k < n; k++) {
		const struct level *l = &lv[reverse ? n - 1 - k : k];
		if ((isv ? put_isv_level(b, l, k == 0) : put_platform_level(b, l, k == 0)) < 0)
			return -1;
	}
	return 0;
}

/* QE / module levels around one SVN: [above: UpToDate] [own: status]. When the own
 * status is UpToDate the "above" level is left out.
 * These lists are used in list order (attestation §2.3 steps 6, 8), never sorted. */
static size_t isv_levels(struct level *lv, unsigned own, const char *status, const char *adv)
{
	size_t n = 0;
	int up = !status || !strcmp(status, "UpToDate");
	if (!up && own < 65535)
		lv[n++] = (struct level){
		    .isvsvn = own + 1, .date = "2025-11-12T00:00:00Z", .status = "UpToDate"};
	/* No floor below: an SVN under `own` is "below minimum". */
	lv[n++] = (struct level){.isvsvn = own,
				 .date = "2024-11-13T00:00:00Z",
				 .status = up ? "UpToDate" : status,
				 .adv = adv};
	return n;
}

static int tcb_info_json(const struct sim_pki *p, const struct sim_collateral_spec *s,
			 int64_t issue, int64_t next, const uint8_t tee[16], struct buf *b)
{
	char is[32], nu[32], fmspc[13];
	sim_format_time(issue, is);
	sim_format_time(next, nu);
	hex_encode(p->fmspc, 6, fmspc);
	for (int i = 0; !s->fmspc_lower && fmspc[i]; i++)
		if (fmspc[i] >= 'a' && fmspc[i] <= 'f')
			fmspc[i] = (char)(fmspc[i] - 'a' + 'A');
	static const char zeros48[] = "000000000000000000000000000000000000000000000000"
				      "000000000000000000000000000000000000000000000000";
	if (buf_printf(b,
		       "{\"id\":\"TDX\",\"version\":3,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\","
		       "\"fmspc\":\"%s\",\"pceId\":\"%02X%02X\",\"tcbType\":0,"
		       "\"tcbEvaluationDataNumber\":%u,\"tdxModule\":{\"mrsigner\":\"%s\","
		       "\"attributes\":\"0000000000000000\",\"attributesMask\":"
		       "\"FFFFFFFFFFFFFFFF\"},\"tdxModuleIdentities\":[",
		       is, nu, fmspc, p->pce_id[0], p->pce_id[1],
		       s->have_tcb_eval ? s->tcb_eval : 18u, zeros48) < 0)
		return -1;
	/* spec: attestation §2.3 step 8 — identity "TDX_%02X" of TEE_TCB_SVN[1]. */
	if (tee[1] > 0) {
		struct level lv[2];
		size_t n = isv_levels(lv, tee[0], s->mod_status, s->mod_advisories);
		unsigned ver = s->no_module_identity ? (tee[1] + 1u) & 0xff : tee[1];
		if (buf_printf(b,
			       "{\"id\":\"TDX_%02X\",\"mrsigner\":\"%s\",\"attributes\":"
			       "\"0000000000000000\",\"attributesMask\":\"FFFFFFFFFFFFFFFF\","
			       "\"tcbLevels\":[",
			       ver, zeros48) < 0 ||
		    put_levels(b, lv, n, 0, 1) < 0 || buf_append_str(b, "]}") < 0)
			return -1;
	}
	if (buf_append_str(b, "],\"tcbLevels\":[") < 0)
		return -1;

	/* Platform levels: the platform's own SVNs, one level above, one floor. */
	struct level lv[3], own, above, floor_l;
	size_t n = 0;
	memset(&own, 0, sizeof own);
	memcpy(own.sgx, p->cpusvn, 16);
	memcpy(own.tdx, tee, 16);
	own.pcesvn = p->pcesvn;
	above = own;
	if (above.tdx[2] < 255)
		above.tdx[2]++;
	else
		above.pcesvn++;
	above.date = "2025-11-12T00:00:00Z";
	above.status = "UpToDate";
	memset(&floor_l, 0, sizeof floor_l);
	floor_l.date = "2018-01-04T00:00:00Z";
	floor_l.status = "OutOfDate";
	int up = !s->status || !strcmp(s->status, "UpToDate");
	own.date = "2024-11-13T00:00:00Z";
	own.status = up ? "UpToDate" : s->status;
	own.adv = s->advisories;
	if (s->no_matching_level) {
		lv[n++] = above;
		above.pcesvn++;
		above.status = "OutOfDate";
		lv[n++] = above;
	} else {
		if (!up)
			lv[n++] = above;
		lv[n++] = own;
		lv[n++] = floor_l;
	}
	if (put_levels(b, lv, n, s->reverse_levels, 0) < 0 || buf_append_str(b, "]}") < 0)
		return -1;
	return 0;
}

static int qe_identity_json(const struct sim_collateral_spec *s, int64_t issue, int64_t next,
			    unsigned qe_svn, struct buf *b)
{
	char is[32], nu[32], mrs[65];
	sim_format_time(issue, is);
	sim_format_time(next, nu);
	hex_encode(SIM_QE_MRSIGNER, 32, mrs);
	for (int i = 0; mrs[i]; i++)
		if (mrs[i] >= 'a' && mrs[i] <= 'f')
			mrs[i] = (char)(mrs[i] - 'a' + 'A');
	struct level lv[2];
	size_t n = isv_levels(lv, qe_svn, s->qe_status, s->qe_advisories);
	if (buf_printf(b,
		       "{\"id\":\"TD_QE\",\"version\":2,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\","
		       "\"tcbEvaluationDataNumber\":%u,\"miscselect\":\"00000000\","
		       "\"miscselectMask\":\"FFFFFFFF\",\"attributes\":"
		       "\"11000000000000000000000000000000\",\"attributesMask\":"
		       "\"FBFFFFFFFFFFFFFF0000000000000000\",\"mrsigner\":\"%s\",\"isvprodid\":%d,"
		       "\"tcbLevels\":[",
		       is, nu,
		       s->have_qe_eval ? s->qe_eval : (s->have_tcb_eval ? s->tcb_eval : 18u), mrs,
		       SIM_QE_ISVPRODID) < 0 ||
	    put_levels(b, lv, n, 0, 1) < 0 || buf_append_str(b, "]}") < 0)
		return -1;
	return 0;
}

/* Edits the signed text after signing: the last digit of
 * tcbEvaluationDataNumber has its low bit flipped (18 becomes 19). */
static void corrupt(struct buf *b)
{
	static const char key[] = "\"tcbEvaluationDataNumber\":";
	char *p = strstr((char *)b->p, key);
	if (!p)
		return;
	p += sizeof key - 1;
	while (p[1] >= '0' && p[1] <= '9')
		p++;
	*p = (char)(*p ^ 1);
}

int sim_collateral_build(const struct sim_pki *p, const struct sim_collateral_spec *s,
			 struct sim_collateral *c, struct err *err)
{
	memset(c, 0, sizeof *c);
	if (!s->have_now && !(s->have_issue_date && s->have_next_update))
		return err_set(err, "--now, or --issue-date and --next-update, are required");
	int64_t issue = s->have_issue_date ? s->issue_date : s->now - DAY;
	int64_t next = s->have_next_update ? s->next_update : s->now + 30 * DAY;
	int64_t tcb_i = s->have_tcb_issue ? s->tcb_issue : issue;
	int64_t tcb_n = s->have_tcb_next ? s->tcb_next : next;
	int64_t qe_i = s->have_qe_issue ? s->qe_issue : issue;
	int64_t qe_n = s->have_qe_next ? s->qe_next : next;
	int64_t crl_t = s->have_crl_this ? s->crl_this : issue;
	int64_t root_n = s->have_root_crl_next ? s->root_crl_next : next;
	int64_t pck_n = s->have_pck_crl_next ? s->pck_crl_next : next;
	const uint8_t *tee = s->have_tee_tcb_svn ? s->tee_tcb_svn : p->tee_tcb_svn;
	unsigned qe_svn = s->have_qe_isvsvn ? s->qe_isvsvn : p->qe_isvsvn;
	long root_revoked[2];
	size_t n_root_revoked = 0;
	long pck_revoked[1] = {SERIAL_PCK};
	uint8_t sig[64];

	if (s->revoke_pck_ca)
		root_revoked[n_root_revoked++] = SERIAL_PCK_CA;
	if (s->revoke_tcb_signer)
		root_revoked[n_root_revoked++] = SERIAL_TCB;
	TRY_OUT(sim_make_crl(p->root, p->root_key, crl_t, root_n, root_revoked, n_root_revoked,
			     &c->root_ca_crl, err));
	TRY_OUT(sim_make_crl(p->pck_ca, p->pck_ca_key, crl_t, pck_n, pck_revoked,
			     s->revoke_pck ? 1 : 0, &c->pck_crl, err));
	TRY_OUT(sim_cert_pem(p->pck_ca, &c->pck_crl_issuer_chain, err));
	TRY_OUT(sim_cert_pem(p->root, &c->pck_crl_issuer_chain, err));
	TRY_OUT(sim_cert_pem(p->tcb, &c->tcb_info_issuer_chain, err));
	TRY_OUT(sim_cert_pem(p->root, &c->tcb_info_issuer_chain, err));
	TRY_OUT(sim_cert_pem(p->tcb, &c->qe_identity_issuer_chain, err));
	TRY_OUT(sim_cert_pem(p->root, &c->qe_identity_issuer_chain, err));
	if (tcb_info_json(p, s, tcb_i, tcb_n, tee, &c->tcb_info) < 0 ||
	    qe_identity_json(s, qe_i, qe_n, qe_svn, &c->qe_identity) < 0) {
		err_set(err, "out of memory");
		goto out;
	}
	TRY_OUT(sim_sign_raw(p->tcb_key, c->tcb_info.p, c->tcb_info.len, sig, err));
	if (buf_append(&c->tcb_info_signature, sig, 64) < 0)
		goto oom;
	TRY_OUT(sim_sign_raw(p->tcb_key, c->qe_identity.p, c->qe_identity.len, sig, err));
	if (buf_append(&c->qe_identity_signature, sig, 64) < 0)
		goto oom;
	if (s->bad_tcbinfo_sig)
		corrupt(&c->tcb_info);
	if (s->bad_qeid_sig)
		corrupt(&c->qe_identity);
	if (s->with_pck_chain &&
	    buf_append(&c->pck_certificate_chain, p->pck_chain_pem.p, p->pck_chain_pem.len) < 0)
		goto oom;
	return 0;
oom:
	err_set(err, "out of memory");
out:
	sim_collateral_free(c);
	return -1;
}

static int set_str(json_t *o, const char *key, const struct buf *b)
{
	return json_object_set_new(o, key, json_stringn((const char *)b->p, b->len));
}

static int set_hex(json_t *o, const char *key, const struct buf *b)
{
	struct buf h = BUF_INIT;
	int rc = hex_append(&h, b->p, b->len) == 0 ? set_str(o, key, &h) : -1;
	buf_free(&h);
	return rc;
}

int sim_collateral_to_json(const struct sim_collateral *c, struct buf *out, struct err *err)
{
	json_t *o = json_object();
	int bad = !o;
	bad = bad || set_str(o, "pck_crl_issuer_chain", &c->pck_crl_issuer_chain);
	bad = bad || set_hex(o, "root_ca_crl", &c->root_ca_crl);
	bad = bad || set_hex(o, "pck_crl", &c->pck_crl);
	bad = bad || set_str(o, "tcb_info_issuer_chain", &c->tcb_info_issuer_chain);
	bad = bad || set_str(o, "tcb_info", &c->tcb_info);
	bad = bad || set_hex(o, "tcb_info_signature", &c->tcb_info_signature);
	bad = bad || set_str(o, "qe_identity_issuer_chain", &c->qe_identity_issuer_chain);
	bad = bad || set_str(o, "qe_identity", &c->qe_identity);
	bad = bad || set_hex(o, "qe_identity_signature", &c->qe_identity_signature);
	if (c->pck_certificate_chain.len)
		bad = bad || set_str(o, "pck_certificate_chain", &c->pck_certificate_chain);
	char *s = bad ? NULL : json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(o);
	int rc = s && buf_append_str(out, s) == 0 && buf_append_byte(out, '\n') == 0 ? 0 : -1;
	free(s);
	return rc < 0 ? err_set(err, "out of memory") : 0;
}

static int get_field(json_t *o, const char *key, int hex, int optional, struct buf *out,
		     struct err *err)
{
	json_t *v = json_object_get(o, key);
	if (!v && optional)
		return 0;
	if (!json_is_string(v))
		return err_set(err, "collateral: \"%s\" missing or not a string", key);
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (hex ? hex_decode(s, n, out) : buf_append(out, s, n))
		return err_set(err, "collateral: \"%s\" is not valid%s", key, hex ? " hex" : "");
	return 0;
}

int sim_collateral_from_json(const char *json, size_t len, struct sim_collateral *c,
			     struct err *err)
{
	json_error_t je;
	memset(c, 0, sizeof *c);
	json_t *o = json_loadb(json, len, 0, &je);
	if (!json_is_object(o)) {
		json_decref(o);
		return err_set(err, "collateral JSON: %s", je.text);
	}
	int rc = -1;
	TRY_OUT(get_field(o, "pck_crl_issuer_chain", 0, 0, &c->pck_crl_issuer_chain, err));
	TRY_OUT(get_field(o, "root_ca_crl", 1, 0, &c->root_ca_crl, err));
	TRY_OUT(get_field(o, "pck_crl", 1, 0, &c->pck_crl, err));
	TRY_OUT(get_field(o, "tcb_info_issuer_chain", 0, 0, &c->tcb_info_issuer_chain, err));
	TRY_OUT(get_field(o, "tcb_info", 0, 0, &c->tcb_info, err));
	TRY_OUT(get_field(o, "tcb_info_signature", 1, 0, &c->tcb_info_signature, err));
	TRY_OUT(get_field(o, "qe_identity_issuer_chain", 0, 0, &c->qe_identity_issuer_chain, err));
	TRY_OUT(get_field(o, "qe_identity", 0, 0, &c->qe_identity, err));
	TRY_OUT(get_field(o, "qe_identity_signature", 1, 0, &c->qe_identity_signature, err));
	TRY_OUT(get_field(o, "pck_certificate_chain", 0, 1, &c->pck_certificate_chain, err));
	rc = 0;
out:
	json_decref(o);
	if (rc < 0)
		sim_collateral_free(c);
	return rc;
}

int sim_cmd_collateral(int argc, char **argv)
{
	struct err err = {{0}};
	struct sim_collateral_spec spec;
	struct sim_pki pki;
	struct sim_collateral c;
	struct buf json = BUF_INIT;
	const char *dir = NULL, *out = NULL;
	int rc = 1, r;
	memset(&spec, 0, sizeof spec);
	memset(&pki, 0, sizeof pki);
	memset(&c, 0, sizeof c);

	struct sim_args a = {argc, argv, 1};
	for (; a.i < argc; a.i++) {
		const char *arg = argv[a.i];
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			fputs(COLLATERAL_HELP_HEAD, stdout);
			fputs(SIM_COLLATERAL_OPTS_HELP, stdout);
			return 0;
		}
		if ((r = sim_opt_val(&a, "--pki", &dir, &err)) != 0 ||
		    (r = sim_opt_val(&a, "--out", &out, &err)) != 0 ||
		    (r = sim_collateral_opt(&a, &spec, &err)) != 0) {
			if (r < 0)
				return sim_usage("collateral", "%s", err_msg(&err));
			continue;
		}
		return sim_usage("collateral", "unknown option '%s'", arg);
	}
	if (!dir || !out)
		return sim_usage("collateral", "--pki and --out are required");
	if (!spec.have_now && !(spec.have_issue_date && spec.have_next_update))
		return sim_usage("collateral",
				 "--now, or --issue-date and --next-update, are required");
	if (sim_pki_load(dir, &pki, &err) < 0 || sim_collateral_build(&pki, &spec, &c, &err) < 0 ||
	    sim_collateral_to_json(&c, &json, &err) < 0 ||
	    sim_write_file(out, json.p, json.len, 0, &err) < 0)
		rc = sim_fail("collateral", &err);
	else
		rc = 0;
	sim_collateral_free(&c);
	sim_pki_free(&pki);
	buf_free(&json);
	return rc;
}
