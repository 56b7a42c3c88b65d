#!/usr/bin/env bash
# test_simtee.sh — the simulated TEE (build/tests/simtee, TEST-ONLY): PKI
# determinism from a seed (and the documented HKDF derivation, recomputed in
# Python), the PKI and CRLs through `openssl verify`, collateral signatures
# through the openssl CLI over the exact tcbInfo / enclaveIdentity bytes,
# quotes for every positive and negative case judged by an independent
# spec model (tests/tools/simtee/oracle.py, itself first checked against the
# shared vectors) and by the project's verifier (the src/attest library via a
# small probe, and `dstack-kmsctl verify-quote/verify-ratls` once they exist),
# RA-TLS client certificates (chain, shape, key binding, BootInfo equal to the
# shared vector's), the mock PCCS through curl (paths, headers, status codes,
# outage modes, collateral assembled from it verifies), and that no production
# binary contains simtee.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh

SIM="$BUILD/tests/simtee"
ORACLE="tests/tools/simtee/oracle.py"
MOCK=tests/vectors/mock
DQ=tests/vectors/dcap-qvl
INTEL_ROOT=tests/vectors/intel_sgx_root_ca.der
T0=1768435200 # 2026-01-15T00:00:00Z
SEED=$(printf '5a%.0s' $(seq 32))
APP=5bb4ff9a3837357f19dc176407a5709c62eb6c56
COMPOSE=c143116fef3940e7f776bfc0919c256232ae5338a6e948c96b711e0b2383483a
INST=1691ed1b47506cad7d08834668691d88246f5b1f
OSHASH=e61be43dd1cc6a6f5edefd7c51b608983780839b0000ce60dd99737dcffe09b9
ID=(--app-id "$APP" --compose-hash "$COMPOSE" --instance-id "$INST")

if [ ! -x "$SIM" ]; then
  fail simtee_is_built "$SIM is missing (make $SIM)"
  finish
fi

# sim ARGS... — stdout in $OUT, stderr in $ERR, status in $RC
sim() {
  "$SIM" "$@" >"$TMP/sim.out" 2>"$TMP/sim.err"
  RC=$?
  OUT=$(cat "$TMP/sim.out")
  ERR=$(cat "$TMP/sim.err")
}
oracle() { $PY "$ORACLE" "$@"; }
jget() { $PY -c "import json,sys; j=json.load(sys.stdin); v=$1; print(json.dumps(v) if not isinstance(v,str) else v)"; }
# expect_match NAME TEXT REGEX — case-insensitive extended regex
expect_match() {
  if printf '%s' "$2" | grep -qiE -- "$3"; then pass "$1"; else fail "$1" "'${2:0:300}' does not match /$3/"; fi
}

# ---- command line ------------------------------------------------------------
sim --help
ok=1
for c in pki collateral quote ratls-cert serve; do
  case "$OUT" in *"$c"*) ;; *) ok=0 ;; esac
  "$SIM" "$c" --help >/dev/null 2>&1 || ok=0
done
[ "$RC" = 0 ] && [ $ok = 1 ] && pass simtee_help_lists_every_command_and_each_has_help ||
  fail simtee_help_lists_every_command_and_each_has_help "rc=$RC out=${OUT:0:200}"
sim frobnicate
expect_eq simtee_unknown_command_exits_2 "$RC" 2
sim pki --out "$TMP/x"
expect_eq simtee_pki_without_seed_exits_2 "$RC" 2
sim pki --seed 00 --out "$TMP/x"
expect_eq simtee_pki_rejects_short_seed "$RC" 2
sim collateral --pki "$TMP/x" --out "$TMP/x.json"
expect_eq simtee_collateral_without_time_exits_2 "$RC" 2
sim quote --pki "$TMP/nope" --out "$TMP/q.bin"
[ "$RC" = 1 ] && [ "$(grep -c '' "$TMP/sim.err")" = 1 ] && pass simtee_missing_pki_is_one_line_error ||
  fail simtee_missing_pki_is_one_line_error "rc=$RC err=$ERR"

# ---- PKI: determinism, derivation, chain and CRLs ------------------------------
P="$TMP/pki"
sim pki --seed "$SEED" --out "$P"
check simtee_pki_writes_the_pki [ "$RC" = 0 -a -s "$P/pck_chain.pem" -a -s "$P/platform.json" ]
sim pki --seed "$SEED" --out "$TMP/pki2"
tbs() { openssl x509 -in "$1" -outform der | openssl asn1parse -inform der -strparse 4 -noout -out /dev/stdout | sha256sum; }
same=1
for k in root_ca pck_ca pck tcb_signing attestation_key; do
  cmp -s "$P/$k.key.pem" "$TMP/pki2/$k.key.pem" 2>/dev/null ||
    { [ "$k" = attestation_key ] && cmp -s "$P/$k.pem" "$TMP/pki2/$k.pem"; } || same=0
done
for c in root_ca pck_ca pck tcb_signing; do
  [ "$(tbs "$P/$c.pem")" = "$(tbs "$TMP/pki2/$c.pem")" ] || same=0
done
cmp -s "$P/platform.json" "$TMP/pki2/platform.json" || same=0
[ $same = 1 ] && pass simtee_pki_same_seed_gives_same_keys_and_certificate_bodies ||
  fail simtee_pki_same_seed_gives_same_keys_and_certificate_bodies "keys or TBS differ"
cmp -s "$P/root_ca.pem" "$TMP/pki2/root_ca.pem" &&
  fail simtee_pki_signatures_are_randomized "identical root certs: ECDSA nonces repeated?" ||
  pass simtee_pki_signatures_are_randomized
sim pki --seed "$(printf '5b%.0s' $(seq 32))" --out "$TMP/pki3"
cmp -s "$P/root_ca.key.pem" "$TMP/pki3/root_ca.key.pem" &&
  fail simtee_pki_other_seed_gives_other_keys "same root key" || pass simtee_pki_other_seed_gives_other_keys
ok=1
for k in root-ca:root_ca.key.pem pck-ca:pck_ca.key.pem pck:pck.key.pem tcb-signing:tcb_signing.key.pem \
  attestation-key:attestation_key.pem; do
  [ "$(oracle derive "$SEED" "${k%%:*}")" = "$(oracle key-hex "$P/${k#*:}")" ] || ok=0
done
[ $ok = 1 ] && pass simtee_pki_keys_are_the_documented_hkdf_of_the_seed ||
  fail simtee_pki_keys_are_the_documented_hkdf_of_the_seed "a key differs from HKDF(seed)"

v=$(openssl verify -CAfile "$P/root_ca.pem" -untrusted "$P/pck_ca.pem" -crl_check_all \
  -CRLfile "$P/root_ca.crl.pem" -CRLfile "$P/pck_ca.crl.pem" "$P/pck.pem" 2>&1)
expect_contains simtee_pck_chain_verifies_with_crls_in_openssl "$v" "pck.pem: OK"
v=$(openssl verify -CAfile "$P/root_ca.pem" -crl_check_all -CRLfile "$P/root_ca.crl.pem" \
  "$P/tcb_signing.pem" 2>&1)
expect_contains simtee_tcb_signer_verifies_with_crl_in_openssl "$v" "tcb_signing.pem: OK"
v=$(openssl verify -CAfile "$MOCK/mock_root_ca.pem" -untrusted "$P/pck_ca.pem" "$P/pck.pem" 2>&1)
expect_contains simtee_pck_chain_does_not_verify_to_another_root "$v" "unable to get"
sim pki --seed "$SEED" --out "$TMP/pkit" --not-before 2025-01-01T00:00:00Z --not-after 2027-01-01T00:00:00Z \
  --pck-not-before 2025-06-01T00:00:00Z --crl-this-update 2026-01-01T00:00:00Z --crl-next-update 1769904000
nb=$(openssl x509 -in "$TMP/pkit/pck.pem" -noout -startdate)
na=$(openssl x509 -in "$TMP/pkit/root_ca.pem" -noout -enddate)
cu=$(openssl crl -in "$TMP/pkit/pck_ca.crl.pem" -noout -nextupdate)
[ "$nb" = "notBefore=Jun  1 00:00:00 2025 GMT" ] && [ "$na" = "notAfter=Jan  1 00:00:00 2027 GMT" ] &&
  [ "$cu" = "nextUpdate=Feb  1 00:00:00 2026 GMT" ] && pass simtee_pki_takes_explicit_validity_and_crl_times ||
  fail simtee_pki_takes_explicit_validity_and_crl_times "$nb / $na / $cu"
v=$(openssl verify -attime $((1769904000 + 60)) -CAfile "$TMP/pkit/root_ca.pem" -untrusted "$TMP/pkit/pck_ca.pem" \
  -crl_check_all -CRLfile "$TMP/pkit/root_ca.crl.pem" -CRLfile "$TMP/pkit/pck_ca.crl.pem" "$TMP/pkit/pck.pem" 2>&1)
expect_contains simtee_pki_crl_expiry_is_seen_by_openssl "$v" "CRL has expired"

ext=$(oracle sgx-ext "$P/pck.pem")
[ "$(echo "$ext" | jget 'j["fmspc"]')" = 90c06f000000 ] && [ "$(echo "$ext" | jget 'j["pcesvn"]')" = 13 ] &&
  [ "$(echo "$ext" | jget 'j["ppid"]')" = 00112233445566778899aabbccddeeff ] &&
  [ "$(echo "$ext" | jget 'j["cpusvn"]')" = 04040202040100050000000000000000 ] &&
  [ "$(echo "$ext" | jget 'j["comp"][:8]')" = "[4, 4, 2, 2, 4, 1, 0, 5]" ] &&
  pass simtee_pck_leaf_carries_the_sgx_extension_defaults ||
  fail simtee_pck_leaf_carries_the_sgx_extension_defaults "$ext"
sim pki --seed "$SEED" --out "$TMP/pkip" --fmspc 00906ED50000 --ppid ffeeddccbbaa99887766554433221100 \
  --pcesvn 300 --cpusvn 0102030405060708090a0b0c0d0e0f10 --processor-ca --crl-url http://127.0.0.1:9/
ext=$(oracle sgx-ext "$TMP/pkip/pck.pem")
[ "$(echo "$ext" | jget 'j["fmspc"]')" = 00906ed50000 ] && [ "$(echo "$ext" | jget 'j["pcesvn"]')" = 300 ] &&
  [ "$(echo "$ext" | jget 'j["ppid"]')" = ffeeddccbbaa99887766554433221100 ] &&
  [ "$(echo "$ext" | jget 'j["comp"][15]')" = 16 ] &&
  pass simtee_pck_sgx_extension_takes_the_platform_options ||
  fail simtee_pck_sgx_extension_takes_the_platform_options "$ext"
iss=$(openssl x509 -in "$TMP/pkip/pck.pem" -noout -issuer)
expect_contains simtee_processor_ca_is_named_processor "$iss" "PCK Processor CA"
iss=$(openssl x509 -in "$P/pck.pem" -noout -issuer)
expect_contains simtee_default_ca_is_the_platform_ca "$iss" "CN = Mock Intel SGX PCK Platform CA"
cdp=$(openssl x509 -in "$TMP/pkip/pck.pem" -noout -ext crlDistributionPoints 2>&1)
expect_contains simtee_crl_url_adds_the_pck_crl_distribution_point "$cdp" \
  "http://127.0.0.1:9/sgx/certification/v4/pckcrl?ca=processor&encoding=der"
cdp=$(openssl x509 -in "$TMP/pkip/pck_ca.pem" -noout -ext crlDistributionPoints 2>&1)
expect_contains simtee_crl_url_adds_the_root_crl_distribution_point "$cdp" "http://127.0.0.1:9/IntelSGXRootCA.der"

# ---- collateral ----------------------------------------------------------------
C="$TMP/col.json"
sim collateral --pki "$P" --now $T0 --out "$C"
keys=$(jget 'sorted(j)' <"$C")
expect_eq simtee_collateral_has_exactly_the_spec_keys "$keys" \
  '["pck_crl", "pck_crl_issuer_chain", "qe_identity", "qe_identity_issuer_chain", "qe_identity_signature", "root_ca_crl", "tcb_info", "tcb_info_issuer_chain", "tcb_info_signature"]'
tcb=$(jget 'j["tcb_info"]' <"$C")
t=$(echo "$tcb" | jget '[j["id"], j["version"], j["issueDate"], j["nextUpdate"], j["fmspc"], len(j["tcbLevels"]), j["tdxModuleIdentities"][0]["id"]]')
expect_eq simtee_tcb_info_is_tdx_v3_around_now "$t" \
  '["TDX", 3, "2026-01-14T00:00:00Z", "2026-02-14T00:00:00Z", "90C06F000000", 2, "TDX_01"]'
t=$(jget 'j["qe_identity"]' <"$C" | jget '[j["id"], j["version"], j["isvprodid"], j["mrsigner"][:8]]')
expect_eq simtee_qe_identity_is_td_qe "$t" '["TD_QE", 2, 2, "DC9E2A7C"]'

# verify_doc NAME COLLATERAL TEXTKEY SIGKEY CHAINKEY EXPECT — the openssl CLI over the exact bytes
verify_doc() {
  local d="$TMP/doc"
  mkdir -p "$d"
  $PY - "$2" "$3" "$4" "$5" "$d" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
d = sys.argv[5]
open(d + "/text", "wb").write(c[sys.argv[2]].encode())
sig = c[sys.argv[3]]
open(d + "/sig.cnf", "w").write("asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n" % (sig[:64], sig[64:]))
open(d + "/chain.pem", "w").write(c[sys.argv[4]])
PY
  openssl asn1parse -genconf "$d/sig.cnf" -out "$d/sig.der" -noout >/dev/null 2>&1
  openssl x509 -in "$d/chain.pem" -pubkey -noout >"$d/pub.pem"
  local v
  v=$(openssl dgst -sha256 -verify "$d/pub.pem" -signature "$d/sig.der" "$d/text" 2>&1)
  expect_contains "$1" "$v" "$6"
}
verify_doc simtee_tcb_info_signature_verifies_with_openssl "$C" tcb_info tcb_info_signature tcb_info_issuer_chain "Verified OK"
verify_doc simtee_qe_identity_signature_verifies_with_openssl "$C" qe_identity qe_identity_signature qe_identity_issuer_chain "Verified OK"
sim collateral --pki "$P" --now $T0 --bad-tcbinfo-sig --bad-qeid-sig --out "$TMP/col_bad.json"
verify_doc simtee_bad_tcbinfo_sig_fails_openssl "$TMP/col_bad.json" tcb_info tcb_info_signature tcb_info_issuer_chain "Verification failure"
verify_doc simtee_bad_qeid_sig_fails_openssl "$TMP/col_bad.json" qe_identity qe_identity_signature qe_identity_issuer_chain "Verification failure"

# crl_files COLLATERAL — root.crl / pck.crl (DER) from the collateral into $TMP/crl
crl_files() {
  mkdir -p "$TMP/crl"
  $PY - "$1" "$TMP/crl" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
open(sys.argv[2] + "/root.crl", "wb").write(bytes.fromhex(c["root_ca_crl"]))
open(sys.argv[2] + "/pck.crl", "wb").write(bytes.fromhex(c["pck_crl"]))
PY
  openssl crl -inform der -in "$TMP/crl/root.crl" -out "$TMP/crl/root.pem"
  openssl crl -inform der -in "$TMP/crl/pck.crl" -out "$TMP/crl/pck.pem"
}
crl_files "$C"
v=$(openssl crl -in "$TMP/crl/root.pem" -CAfile "$P/root_ca.pem" -noout 2>&1; openssl crl -in "$TMP/crl/pck.pem" -noout -issuer -lastupdate -nextupdate)
[[ "$v" == *"verify OK"* && "$v" == *"PCK Platform CA"* && "$v" == *"lastUpdate=Jan 14 00:00:00 2026 GMT"* &&
  "$v" == *"nextUpdate=Feb 14 00:00:00 2026 GMT"* ]] && pass simtee_collateral_crls_are_signed_with_the_window ||
  fail simtee_collateral_crls_are_signed_with_the_window "$v"
sim collateral --pki "$P" --now $T0 --revoke-pck --out "$TMP/col_rev.json"
crl_files "$TMP/col_rev.json"
v=$(openssl verify -attime $T0 -CAfile "$P/root_ca.pem" -untrusted "$P/pck_ca.pem" -crl_check_all \
  -CRLfile "$TMP/crl/root.pem" -CRLfile "$TMP/crl/pck.pem" "$P/pck.pem" 2>&1)
expect_contains simtee_revoke_pck_is_seen_by_openssl "$v" "certificate revoked"
sim collateral --pki "$P" --now $T0 --revoke-pck-ca --revoke-tcb-signer --out "$TMP/col_rev2.json"
crl_files "$TMP/col_rev2.json"
v=$(openssl crl -in "$TMP/crl/root.pem" -noout -text | grep -c 'Serial Number')
expect_eq simtee_revoke_cas_lists_both_serials_in_the_root_crl "$v" 2
sim collateral --pki "$P" --now $T0 --with-pck-chain --out "$TMP/col_chain.json"
v=$(jget 'j["pck_certificate_chain"] == open("'"$P"'/pck_chain.pem").read()' <"$TMP/col_chain.json")
expect_eq simtee_with_pck_chain_adds_the_chain "$v" true
sim collateral --pki "$P" --now $T0 --status Bogus --out "$TMP/x.json"
expect_eq simtee_collateral_rejects_unknown_status "$RC" 2

# ---- the oracle itself, on the shared vectors ------------------------------------
# oracle_case NAME EXPECT QUOTE COLLATERAL ROOT NOW — EXPECT is a JSON prefix or an error regex
oracle_case() {
  local out
  out=$(oracle quote "$3" "$4" "$5" "$6" 2>&1)
  expect_match "$1" "$out" "$2"
}
oracle_case oracle_shared_mock_uptodate '^\{"status": "UpToDate", "advisory_ids": \[\]' \
  $MOCK/quote_ratls_A.bin $MOCK/collateral_uptodate.json $MOCK/mock_root_ca.der $T0
oracle_case oracle_shared_mock_outofdate '"OutOfDate", "advisory_ids": \["INTEL-SA-01036", "INTEL-SA-01099"\]' \
  $MOCK/quote_ratls_A.bin $MOCK/collateral_outofdate.json $MOCK/mock_root_ca.der $T0
oracle_case oracle_shared_mock_pck_revoked '^error: PCK chain: certificate revoked' \
  $MOCK/quote_ratls_A.bin $MOCK/collateral_pck_revoked.json $MOCK/mock_root_ca.der $T0
oracle_case oracle_shared_mock_bad_tcbinfo_sig '^error: tcb_info signature' \
  $MOCK/quote_ratls_A.bin $MOCK/collateral_bad_tcbinfo_sig.json $MOCK/mock_root_ca.der $T0
oracle_case oracle_shared_mock_tampered_body '^error: quote signature' \
  $MOCK/quote_ratls_A_tampered_body.bin $MOCK/collateral_uptodate.json $MOCK/mock_root_ca.der $T0
oracle_case oracle_shared_mock_debug_td '^error: debug TD' \
  $MOCK/quote_debug_td.bin $MOCK/collateral_uptodate.json $MOCK/mock_root_ca.der $T0
oracle_case oracle_shared_mock_no_sept_ve '^error: SEPT_VE_DISABLE' \
  $MOCK/quote_no_sept_ve_disable.bin $MOCK/collateral_uptodate.json $MOCK/mock_root_ca.der $T0
oracle_case oracle_shared_mock_intel_root_refused '^error: ' \
  $MOCK/quote_ratls_A.bin $MOCK/collateral_uptodate.json $INTEL_ROOT $T0
oracle_case oracle_real_intel_quote_uptodate '^\{"status": "UpToDate", "advisory_ids": \[\], "fmspc": "b0c06f000000", "ppid": "811dca2a26b952e85bb6448b097ba4fd"' \
  $DQ/tdx_quote.bin $DQ/tdx_quote_collateral.json $INTEL_ROOT 1752919234
oracle_case oracle_real_intel_pck_crl_expired '^error: PCK chain: CRL expired' \
  $DQ/tdx_quote.bin $DQ/tdx_quote_collateral.json $INTEL_ROOT 1752919295
oracle_case oracle_real_intel_no_matching_level '^error: No matching TCB level found' \
  tests/vectors/dstack/ratls_assets_tdx_quote.bin $DQ/tdx_quote_collateral.json $INTEL_ROOT 1752919234
oracle_case oracle_real_dstack_quote_uptodate '^\{"status": "UpToDate"' \
  tests/vectors/derived/quote_report_quote.bin $DQ/tdx_quote_outdated_collateral.json $INTEL_ROOT 1774003274
out=$(oracle ratls $MOCK/ratls_cert_B_wrong_binding.pem)
expect_match oracle_shared_mock_wrong_binding "$out" '^error: report data mismatch'
SHARED_A=$(oracle ratls $MOCK/ratls_cert_A.pem)
expect_match oracle_shared_mock_ratls_bootinfo "$SHARED_A" \
  '"device_id": "a8faed6a[0-9a-f]{52}6811".*"mr_system": "ef6af583[0-9a-f]{52}44c8", "mr_aggregated": "beb4845a[0-9a-f]{52}3087"'

# ---- the project's verifier ------------------------------------------------------
# The library (src/attest) through a small probe.
PROBE=""
LIBFILES=$(make -s print-libfiles BUILD="$BUILD")
if true; then
  cat >"$TMP/probe.c" <<'EOF'
/* probe.c — the project's attestation library on simtee output: DCAP
 * verification of a quote; RA-TLS extraction, binding, DCAP, local checks and
 * AppInfo of a certificate. JSON out, or "error: <stage>: <reason>" (exit 1). */
#include "attest/appinfo.h"
#include "attest/attestation.h"
#include "attest/collateral.h"
#include "attest/dcap.h"
#include "attest/ratls.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/hex.h"

#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int die(const char *stage, const char *msg)
{
	printf("error: %s: %s\n", stage, msg);
	return 1;
}

static void put_hex(const char *k, const struct buf *b, const char *sep)
{
	char h[2 * 512 + 1] = "";
	if (b->len <= 512)
		hex_encode(b->p, b->len, h);
	printf("\"%s\":\"%s\"%s", k, h, sep);
}

static int dcap(const char *col_path, const char *root_path, const char *now, const uint8_t *q,
		size_t qlen, struct dcap_result *res, struct err *e)
{
	struct buf col = BUF_INIT, root = BUF_INIT;
	struct dcap_collateral c;
	struct dcap_verifier *v = NULL;
	int rc = -1;
	collateral_init(&c);
	if (fs_read_file(col_path, 1 << 24, &col, e) == 0 &&
	    fs_read_file(root_path, 1 << 20, &root, e) == 0 &&
	    collateral_parse((const char *)col.p, col.len, &c, e) == 0 &&
	    (v = dcap_verifier_new(root.p, root.len, e)) != NULL)
		rc = dcap_verify(v, q, qlen, &c, (int64_t)strtoll(now, NULL, 10), res, e);
	dcap_verifier_free(v);
	collateral_free(&c);
	buf_free(&col);
	buf_free(&root);
	return rc;
}

int main(int argc, char **argv)
{
	struct err e = {{0}};
	struct buf b = BUF_INIT;
	struct dcap_result r;
	if (argc == 6 && !strcmp(argv[1], "quote")) {
		if (fs_read_file(argv[2], 1 << 24, &b, &e) < 0)
			return die("read", err_msg(&e));
		if (dcap(argv[3], argv[4], argv[5], b.p, b.len, &r, &e) < 0)
			return die("dcap", err_msg(&e));
		char f[13];
		hex_encode(r.fmspc, 6, f);
		printf("{\"status\":\"%s\",\"advisory_ids\":[", r.status);
		for (size_t i = 0; i < r.n_advisory; i++)
			printf("%s\"%s\"", i ? "," : "", r.advisory_ids[i]);
		printf("],\"fmspc\":\"%s\"}\n", f);
		return 0;
	}
	if ((argc == 6 || argc == 7) && !strcmp(argv[1], "ratls")) {
		if (fs_read_file(argv[2], 1 << 24, &b, &e) < 0)
			return die("read", err_msg(&e));
		BIO *bio = BIO_new_mem_buf(b.p, (int)b.len);
		X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
		if (!x)
			return die("certificate", "not a PEM certificate");
		struct attestation a;
		attestation_init(&a);
		int got = ratls_extract(x, &a, &e);
		if (got <= 0)
			return die("extract", got == 0 ? "no attestation" : err_msg(&e));
		if (ratls_check_binding(&a, x, &e) < 0)
			return die("binding", err_msg(&e));
		if (dcap(argv[3], argv[4], argv[5], a.quote.p, a.quote.len, &r, &e) < 0)
			return die("dcap", err_msg(&e));
		if (appinfo_verify_local(&a, &r.report, &e) < 0)
			return die("local", err_msg(&e));
		struct appinfo_opts o;
		struct app_info ai;
		memset(&o, 0, sizeof o);
		memset(&ai, 0, sizeof ai);
		o.boottime = argc == 7;
		o.ppid = r.ppid;
		o.ppid_len = sizeof r.ppid;
		if (appinfo_decode(&a, &r.report, &o, &ai, &e) < 0)
			return die("appinfo", err_msg(&e));
		printf("{\"tcb_status\":\"%s\",", r.status);
		put_hex("app_id", &ai.app_id, ",");
		put_hex("compose_hash", &ai.compose_hash, ",");
		put_hex("instance_id", &ai.instance_id, ",");
		put_hex("device_id", &ai.device_id, ",");
		put_hex("mr_system", &ai.mr_system, ",");
		put_hex("mr_aggregated", &ai.mr_aggregated, ",");
		put_hex("os_image_hash", &ai.os_image_hash, ",");
		put_hex("key_provider_info", &ai.key_provider_info, "}\n");
		appinfo_free(&ai);
		attestation_free(&a);
		X509_free(x);
		return 0;
	}
	fprintf(stderr, "usage: probe quote Q COL ROOT NOW | probe ratls CERT COL ROOT NOW [boot]\n");
	return 2;
}
EOF
  if ${CC:-gcc} $(make -s print-cflags BUILD="$BUILD") -o "$TMP/probe" "$TMP/probe.c" \
    -Wl,--start-group $LIBFILES -Wl,--end-group \
    $(make -s print-libs BUILD="$BUILD") >"$TMP/probe.log" 2>&1; then
    PROBE="$TMP/probe"
    # the probe is this test's throwaway program (its error exits free
    # nothing): under ASan (SAN=1) its leaks are not the project's
    if [ "${SAN:-}" = 1 ]; then
      printf '#!/bin/sh\nASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0" exec %s "$@"\n' "$TMP/probe" >"$TMP/probe-run"
      chmod +x "$TMP/probe-run"
      PROBE="$TMP/probe-run"
    fi
    pass project_probe_builds_against_the_libraries
  else
    fail project_probe_builds_against_the_libraries "$(head -5 "$TMP/probe.log")"
  fi
fi
CTL="$BUILD/dstack-kmsctl"
CLI_QUOTE=0
CLI_RATLS=0
"$CTL" verify-quote --help >/dev/null 2>&1 && CLI_QUOTE=1
"$CTL" verify-ratls --help >/dev/null 2>&1 && CLI_RATLS=1
[ $CLI_QUOTE = 1 ] || fail kmsctl_verify_quote_available "$CTL verify-quote --help failed"
[ $CLI_RATLS = 1 ] || fail kmsctl_verify_ratls_available "$CTL verify-ratls --help failed"

# ---- quotes: every case through the oracle and the project verifier ---------------
# qcase NAME "COLLATERAL ARGS" "QUOTE ARGS" NOW ROOT EXPECT ORACLE_RE PROJECT_RE
#   EXPECT: "ok STATUS ADV1,ADV2" or "fail"; the regexes match the failure reason.
Q="$TMP/cases"
mkdir -p "$Q"
qcase() {
  local name=$1 cargs=$2 qargs=$3 now=$4 root=$5 expect=$6 ore=${7:-} pre=${8:-}
  local d="$Q/$name" out want
  mkdir -p "$d"
  # shellcheck disable=SC2086
  if ! "$SIM" collateral --pki "$P" --now $T0 $cargs --out "$d/col.json" 2>"$d/err" ||
    ! "$SIM" quote --pki "$P" "${ID[@]}" --report-data "$(printf 'ab%.0s' $(seq 64))" $qargs \
      --out "$d/q.bin" 2>>"$d/err"; then
    fail "quote_${name}_generated" "$(cat "$d/err")"
    return
  fi
  if [ "${expect%% *}" = ok ]; then
    set -- $expect
    local adv="${3:-}"
    want="{\"status\": \"$2\", \"advisory_ids\": [$( [ -n "$adv" ] && echo "\"${adv//,/\", \"}\"" )]"
    out=$(oracle quote "$d/q.bin" "$d/col.json" "$root" "$now" 2>&1)
    expect_contains "quote_${name}_oracle" "$out" "$want"
    want="{\"status\":\"$2\",\"advisory_ids\":[$( [ -n "$adv" ] && echo "\"${adv//,/\",\"}\"" )]"
    if [ -n "$PROBE" ]; then
      out=$("$PROBE" quote "$d/q.bin" "$d/col.json" "$root" "$now" 2>&1)
      expect_contains "quote_${name}_project_lib" "$out" "$want"
    fi
    if [ $CLI_QUOTE = 1 ]; then
      out=$("$CTL" verify-quote --quote "$d/q.bin" --collateral "$d/col.json" --root "$root" --now "$now" 2>&1)
      expect_contains "quote_${name}_project_cli" "$(echo "$out" | tr -d ' \n')" "${want// /}"
    fi
  else
    out=$(oracle quote "$d/q.bin" "$d/col.json" "$root" "$now" 2>&1)
    expect_match "quote_${name}_oracle" "$out" "^error: .*($ore)"
    if [ -n "$PROBE" ]; then
      out=$("$PROBE" quote "$d/q.bin" "$d/col.json" "$root" "$now" 2>&1)
      expect_match "quote_${name}_project_lib" "$out" "^error: .*($pre)"
    fi
    if [ $CLI_QUOTE = 1 ]; then
      "$CTL" verify-quote --quote "$d/q.bin" --collateral "$d/col.json" --root "$root" --now "$now" \
        >"$d/cli.out" 2>"$d/cli.err"
      local rc=$?
      out=$(cat "$d/cli.err")
      if [ $rc = 1 ]; then expect_match "quote_${name}_project_cli" "$out" "error: .*($pre)"; else
        fail "quote_${name}_project_cli" "exit $rc, want 1: $(cat "$d/cli.out") $out"; fi
    fi
  fi
}
R="$P/root_ca.der"
qcase uptodate "" "" $T0 "$R" "ok UpToDate"
qcase outofdate_with_advisories "--status OutOfDate --advisories INTEL-SA-01036,INTEL-SA-01099" "" $T0 "$R" \
  "ok OutOfDate INTEL-SA-01036,INTEL-SA-01099"
qcase status_merge_keeps_worse_and_unions_advisories \
  "--status SWHardeningNeeded --advisories INTEL-SA-00001 --qe-status ConfigurationNeeded --qe-advisories INTEL-SA-00002,INTEL-SA-00001" \
  "" $T0 "$R" "ok ConfigurationNeeded INTEL-SA-00001,INTEL-SA-00002"
qcase module_identity_status_is_merged "--module-status OutOfDate --module-advisories INTEL-SA-00003" "" $T0 "$R" \
  "ok OutOfDate INTEL-SA-00003"
qcase unsorted_levels_are_sorted "--status OutOfDate --advisories INTEL-SA-00004 --reverse-levels" "" $T0 "$R" \
  "ok OutOfDate INTEL-SA-00004"
qcase lowercase_fmspc "--fmspc-lowercase" "" $T0 "$R" "ok UpToDate"
qcase collateral_pck_chain_without_nul "--with-pck-chain" "--no-nul" $T0 "$R" "ok UpToDate"
qcase v5_td10 "" "--version 5" $T0 "$R" "ok UpToDate"
qcase v5_td15 "" "--td15" $T0 "$R" "ok UpToDate"
qcase padded_quote "" "--pad 70" $T0 "$R" "ok UpToDate"
qcase pck_revoked "--revoke-pck" "" $T0 "$R" fail "PCK chain: certificate revoked" "revoked"
qcase pck_ca_revoked "--revoke-pck-ca" "" $T0 "$R" fail "PCK chain: certificate revoked" "revoked"
qcase tcb_signer_revoked "--revoke-tcb-signer" "" $T0 "$R" fail "TCB info chain: certificate revoked" "revoked"
qcase bad_tcbinfo_signature "--bad-tcbinfo-sig" "" $T0 "$R" fail "tcb_info signature" \
  "signature.*tcb.?info|tcb.?info.*signature"
qcase bad_qe_identity_signature "--bad-qeid-sig" "" $T0 "$R" fail "qe_identity signature" \
  "signature.*qe.?identity|qe.?identity.*signature"
qcase tampered_body "" "--tamper" $T0 "$R" fail "quote signature" "isv enclave report signature|quote signature"
qcase debug_td "" "--debug" $T0 "$R" fail "debug TD" "debug"
qcase no_sept_ve_disable "" "--no-sept-ve-disable" $T0 "$R" fail "SEPT_VE_DISABLE" "sept.?ve"
qcase wrong_qe_binding "" "--bad-qe-binding" $T0 "$R" fail "binding" "qe report hash|binding|report.?data"
qcase bad_qe_report_signature "" "--bad-qe-report-sig" $T0 "$R" fail "QE report signature" "qe.?report"
qcase qe_svn_below_minimum "" "--qe-isvsvn 3" $T0 "$R" fail "QE ISVSVN below minimum" "below minimum|isvsvn"
qcase no_matching_tcb_level "--no-matching-level" "" $T0 "$R" fail "No matching TCB level" "no matching tcb level"
qcase module_identity_missing "--no-module-identity" "" $T0 "$R" fail "module identity" "module identity|TDX_01"
qcase mrsignerseam_not_zero "" "--mr-signer-seam $(printf '01%.0s' $(seq 48))" $T0 "$R" fail "MRSIGNER" "mrsigner"
qcase tcb_status_revoked "--status Revoked" "" $T0 "$R" fail "Revoked" "revoked"
qcase tcb_info_expired "--tcb-next-update $((T0 - 60))" "" $T0 "$R" fail "TCBInfo expired" "tcb.?info.*expired"
qcase qe_identity_expired "--qe-next-update $((T0 - 60))" "" $T0 "$R" fail "QE identity expired" \
  "qe.?identity.*expired"
qcase tcb_info_from_the_future "--tcb-issue-date $((T0 + 60))" "" $T0 "$R" fail "future" "future"
qcase pck_crl_expired "--pck-crl-next-update $((T0 - 60))" "" $T0 "$R" fail "CRL expired" "crl.*expired"
qcase root_crl_expired "--root-crl-next-update $((T0 - 60))" "" $T0 "$R" fail "CRL expired" "crl.*expired"
qcase other_trust_anchor "" "" $T0 "$MOCK/mock_root_ca.der" fail "root CA CRL|trust anchor" \
  "trust anchor|root|chain"

d="$Q/uptodate"
rd=$($PY -c "import sys; q=open('$d/q.bin','rb').read(); print(q[568:632].hex())")
expect_eq quote_report_data_is_at_568 "$rd" "$(printf 'ab%.0s' $(seq 64))"
r3=$($PY -c "import sys; q=open('$d/q.bin','rb').read(); print(q[520:568].hex())")
expect_eq quote_rtmr3_replays_the_dstack_boot_events "$r3" "$(jget 'j["rtmr3"]' <$MOCK/mock_meta.json)"
sim quote --pki "$P" --rtmr3-events <(jget 'j["runtime_events"]' <$MOCK/mock_meta.json) --out "$TMP/qe.bin" \
  --events-out "$TMP/ev.json"
r3=$($PY -c "q=open('$TMP/qe.bin','rb').read(); print(q[520:568].hex())")
expect_eq quote_rtmr3_from_an_events_file "$r3" "$(jget 'j["rtmr3"]' <$MOCK/mock_meta.json)"
sim quote --pki "$P" --hex --out "$TMP/q.hex"
$PY -c "import sys; bytes.fromhex(open('$TMP/q.hex').read().strip())" 2>/dev/null &&
  pass quote_hex_output_is_hex || fail quote_hex_output_is_hex "$(head -c 80 "$TMP/q.hex")"
sim quote --pki "$P" --rtmr3-events "$TMP/ev.json" "${ID[@]}" --out "$TMP/x.bin"
expect_eq quote_events_file_and_identity_exclude_each_other "$RC" 1

# ---- RA-TLS client certificates -------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/tmpca.key" \
  -out "$TMP/tmpca.pem" -days 3650 -subj "/O=Dstack/CN=Dstack Client Temp CA" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  >/dev/null 2>&1
CA=(--tmp-ca-cert "$TMP/tmpca.pem" --tmp-ca-key "$TMP/tmpca.key")
sim ratls-cert --pki "$P" "${CA[@]}" "${ID[@]}" --os-image-hash $OSHASH --key $MOCK/ratls_cert_A.key.pem \
  --out-cert "$TMP/a.pem" --out-key "$TMP/a.key" --out-attestation "$TMP/a.att" --now $T0
check ratls_cert_is_written [ "$RC" = 0 -a -s "$TMP/a.pem" ]
v=$(openssl verify -CAfile "$TMP/tmpca.pem" "$TMP/a.pem" 2>&1)
expect_contains ratls_cert_chains_to_the_temp_ca "$v" "a.pem: OK"
v=$(openssl verify -CAfile "$MOCK/mock_kms_temp_ca.pem" "$TMP/a.pem" 2>&1)
expect_match ratls_cert_does_not_chain_to_another_ca "$v" "unable to get|error"
txt=$(openssl x509 -in "$TMP/a.pem" -noout -text)
[[ "$(openssl x509 -in "$TMP/a.pem" -noout -subject)" == "subject=CN = RA-TLS TEMP Cert" &&
  "$(openssl x509 -in "$TMP/a.pem" -noout -issuer)" == "issuer=O = Dstack, CN = Dstack Client Temp CA" &&
  "$txt" == *"X509v3 Key Usage: critical"*"Digital Signature"* && "$txt" == *"1.3.6.1.4.1.62397.1.8"* &&
  "$txt" != *"Extended Key Usage"* && "$txt" != *"Alternative Name"* &&
  "$txt" == *"Not Before: Jan  1 00:00:00 1975 GMT"* && "$txt" == *"Not After : Jan 13 00:00:00 2036 GMT"* ]] &&
  pass ratls_cert_has_the_kms_protocol_7_7_shape || fail ratls_cert_has_the_kms_protocol_7_7_shape "${txt:0:600}"
[ "$(openssl x509 -in "$TMP/a.pem" -noout -pubkey)" = "$(openssl pkey -in "$TMP/a.key" -pubout)" ] &&
  pass ratls_cert_key_file_matches_the_cert || fail ratls_cert_key_file_matches_the_cert "key/cert mismatch"
A=$(oracle ratls "$TMP/a.pem")
t=$(echo "$A" | jget '[j["form"], j["app_id"], j["compose_hash"], j["instance_id"], j["events"], j["stripped"], j["config"]]')
expect_eq ratls_attestation_is_v0_stripped_with_the_identity_events "$t" \
  "[\"v0\", \"$APP\", \"$COMPOSE\", \"$INST\", [\"system-preparing\", \"app-id\", \"compose-hash\", \"instance-id\", \"boot-mr-done\"], true, \"{\\\"os_image_hash\\\":\\\"$OSHASH\\\"}\"]"
# The independent generator of the shared set made ratls_cert_A.pem from the same key,
# identity and measurements: the app identity derived from both must be identical.
t1=$(echo "$A" | jget '[j["device_id"], j["runtime"], j["boottime"]]')
t2=$(echo "$SHARED_A" | jget '[j["device_id"], j["runtime"], j["boottime"]]')
expect_eq ratls_identity_equals_the_shared_vector_cert_A "$t1" "$t2"
if [ -n "$PROBE" ]; then
  out=$("$PROBE" ratls "$TMP/a.pem" "$C" "$R" $T0 2>&1)
  want=$(echo "$A" | $PY -c "import json,sys; j=json.load(sys.stdin); print(json.dumps({'tcb_status':'UpToDate','app_id':j['app_id'],'compose_hash':j['compose_hash'],'instance_id':j['instance_id'],'device_id':j['device_id'],'mr_system':j['runtime']['mr_system'],'mr_aggregated':j['runtime']['mr_aggregated'],'os_image_hash':'$OSHASH','key_provider_info':''},separators=(',',':')))")
  expect_eq ratls_cert_verifies_with_the_project_library "$out" "$want"
  out=$("$PROBE" ratls "$TMP/a.pem" "$TMP/cases/outofdate_with_advisories/col.json" "$R" $T0 2>&1)
  expect_contains ratls_cert_with_outofdate_collateral_reports_outofdate "$out" '"tcb_status":"OutOfDate"'
fi
if [ $CLI_RATLS = 1 ]; then
  out=$("$CTL" verify-ratls --cert "$TMP/a.pem" --collateral "$C" --root "$R" --now $T0 2>&1)
  t=$(echo "$out" | jget '[j["appId"], j["composeHash"], j["instanceId"], j["deviceId"], j["mrSystem"], j["mrAggregated"], j["osImageHash"], j["tcbStatus"]]' 2>&1)
  want=$(echo "$A" | jget "[j['app_id'], j['compose_hash'], j['instance_id'], j['device_id'], j['runtime']['mr_system'], j['runtime']['mr_aggregated'], '$OSHASH', 'UpToDate']")
  expect_eq ratls_cert_verifies_with_kmsctl "$t" "$want"
fi

sim ratls-cert --pki "$P" "${CA[@]}" "${ID[@]}" --out-cert "$TMP/f1.pem" --out-key "$TMP/f1.key"
sim ratls-cert --pki "$P" "${CA[@]}" "${ID[@]}" --out-cert "$TMP/f2.pem" --out-key "$TMP/f2.key"
[ "$(openssl x509 -in "$TMP/f1.pem" -noout -pubkey)" != "$(openssl x509 -in "$TMP/f2.pem" -noout -pubkey)" ] &&
  pass ratls_cert_key_is_fresh_each_time || fail ratls_cert_key_is_fresh_each_time "same key twice"
out=$(oracle ratls "$TMP/f1.pem")
expect_match ratls_fresh_key_is_bound "$out" '"app_id": "'$APP'"'

# Any app identity: random ids, a key provider, and application events after system-ready
# (which must not override identity fields).
RAPP=$($PY -c "import secrets; print(secrets.token_hex(20))")
RCOMP=$($PY -c "import secrets; print(secrets.token_hex(32))")
RINST=$($PY -c "import secrets; print(secrets.token_hex(20))")
KP='{"name":"kms","id":"3059301306072a8648ce3d0201"}'
sim ratls-cert --pki "$P" "${CA[@]}" --app-id "$RAPP" --compose-hash "$RCOMP" --instance-id "$RINST" \
  --key-provider "$KP" --event system-ready: --event "app-id:$(printf '66%.0s' $(seq 20))" \
  --out-cert "$TMP/r.pem" --out-key "$TMP/r.key"
B=$(oracle ratls "$TMP/r.pem")
t=$(echo "$B" | jget '[j["app_id"], j["compose_hash"], j["instance_id"], j["boottime"]["key_provider_info"], j["runtime"]["mr_system"] != j["boottime"]["mr_system"]]')
expect_eq ratls_any_app_identity "$t" "[\"$RAPP\", \"$RCOMP\", \"$RINST\", \"\", true]"
t=$(echo "$B" | jget 'bytes.fromhex(j["runtime"]["key_provider_info"]).decode()')
expect_eq ratls_key_provider_event_is_carried "$t" "$KP"
if [ -n "$PROBE" ]; then
  out=$("$PROBE" ratls "$TMP/r.pem" "$C" "$R" $T0 2>&1)
  t=$(echo "$out" | jget '[j["app_id"], j["mr_system"], j["mr_aggregated"], j["key_provider_info"]]' 2>&1)
  want=$(echo "$B" | jget '[j["app_id"], j["runtime"]["mr_system"], j["runtime"]["mr_aggregated"], j["runtime"]["key_provider_info"]]')
  expect_eq ratls_any_identity_verifies_with_the_project_library "$t" "$want"
  out=$("$PROBE" ratls "$TMP/r.pem" "$C" "$R" $T0 boot 2>&1)
  t=$(echo "$out" | jget '[j["mr_system"], j["mr_aggregated"], j["key_provider_info"]]' 2>&1)
  want=$(echo "$B" | jget '[j["boottime"]["mr_system"], j["boottime"]["mr_aggregated"], ""]')
  expect_eq ratls_boottime_identity_matches_the_project_library "$t" "$want"
fi

sim ratls-cert --pki "$P" "${CA[@]}" "${ID[@]}" --legacy --out-cert "$TMP/l.pem" --out-key "$TMP/l.key"
out=$(oracle ratls "$TMP/l.pem")
t=$(echo "$out" | jget '[j["form"], j["app_id"], j["config"]]')
expect_eq ratls_legacy_form_carries_quote_and_event_log "$t" "[\"legacy\", \"$APP\", \"\"]"
txt=$(openssl x509 -in "$TMP/l.pem" -noout -text)
[[ "$txt" == *"1.3.6.1.4.1.62397.1.1:"* && "$txt" == *"1.3.6.1.4.1.62397.1.2:"* && "$txt" != *"62397.1.8"* ]] &&
  pass ratls_legacy_form_has_only_the_legacy_oids || fail ratls_legacy_form_has_only_the_legacy_oids "${txt:0:400}"
v=$(openssl verify -CAfile "$TMP/tmpca.pem" "$TMP/l.pem" 2>&1)
expect_contains ratls_legacy_cert_chains_to_the_temp_ca "$v" "l.pem: OK"
if [ -n "$PROBE" ]; then
  out=$("$PROBE" ratls "$TMP/l.pem" "$C" "$R" $T0 2>&1)
  expect_contains ratls_legacy_cert_verifies_with_the_project_library "$out" "\"app_id\":\"$APP\""
fi

sim ratls-cert --pki "$P" "${CA[@]}" "${ID[@]}" --bind-key $MOCK/ratls_cert_A.key.pem \
  --out-cert "$TMP/w.pem" --out-key "$TMP/w.key"
out=$(oracle ratls "$TMP/w.pem")
expect_match ratls_wrong_binding_fails_in_the_oracle "$out" "^error: report data mismatch"
if [ -n "$PROBE" ]; then
  out=$("$PROBE" ratls "$TMP/w.pem" "$C" "$R" $T0 2>&1)
  expect_match ratls_wrong_binding_fails_in_the_project_library "$out" "^error: binding: .*report data mismatch"
  sim ratls-cert --pki "$P" "${CA[@]}" "${ID[@]}" --debug --out-cert "$TMP/dbg.pem" --out-key "$TMP/dbg.key"
  out=$("$PROBE" ratls "$TMP/dbg.pem" "$C" "$R" $T0 2>&1)
  expect_match ratls_debug_td_fails_in_the_project_library "$out" "^error: dcap: .*debug"
  sim ratls-cert --pki "$P" "${CA[@]}" "${ID[@]}" --rtmr3 "$(printf '00%.0s' $(seq 48))" \
    --out-cert "$TMP/r3.pem" --out-key "$TMP/r3.key"
  out=$("$PROBE" ratls "$TMP/r3.pem" "$C" "$R" $T0 2>&1)
  expect_match ratls_rtmr3_mismatch_fails_in_the_project_library "$out" "^error: local: .*RTMR3 mismatch"
fi
if [ $CLI_RATLS = 1 ]; then
  "$CTL" verify-ratls --cert "$TMP/w.pem" --collateral "$C" --root "$R" --now $T0 >"$TMP/cli.out" 2>"$TMP/cli.err"
  rc=$?
  [ $rc = 1 ] && expect_match ratls_wrong_binding_fails_with_kmsctl "$(cat "$TMP/cli.err")" "report data mismatch" ||
    fail ratls_wrong_binding_fails_with_kmsctl "exit $rc"
fi
sim ratls-cert --pki "$P" "${CA[@]}" "${ID[@]}" --report-data 00 --out-cert "$TMP/x.pem" --out-key "$TMP/x.key"
expect_eq ratls_cert_refuses_report_data_option "$RC" 2
sim ratls-cert --pki "$P" --tmp-ca-cert "$TMP/tmpca.pem" --tmp-ca-key $MOCK/mock_kms_temp_ca.key.pem "${ID[@]}" \
  --out-cert "$TMP/x.pem" --out-key "$TMP/x.key"
[ "$RC" = 1 ] && expect_contains ratls_cert_refuses_a_temp_ca_key_of_another_cert "$ERR" "does not match" ||
  fail ratls_cert_refuses_a_temp_ca_key_of_another_cert "rc=$RC $ERR"

# ---- the mock PCCS -------------------------------------------------------------------
# serve_start NAME ARGS... — starts simtee serve, sets $BASE and $SPID
serve_start() {
  local n=$1
  shift
  rm -f "$TMP/$n.port"
  start_bg "$TMP/$n.log" "$SIM" serve --port 0 --port-file "$TMP/$n.port" "$@"
  SPID=$BG_PID
  for _ in $(seq 100); do [ -s "$TMP/$n.port" ] && break; sleep 0.05; done
  BASE="http://127.0.0.1:$(cat "$TMP/$n.port" 2>/dev/null)"
}
# get PATH — curl; body in $TMP/body, headers in $TMP/hdr, status in $CODE
get() {
  CODE=$(curl -s --max-time 5 -D "$TMP/hdr" -o "$TMP/body" -w '%{http_code}' "$BASE$1")
}
hdr() { $PY -c "
import sys, urllib.parse
for l in open('$TMP/hdr', encoding='latin-1'):
    k, _, v = l.partition(':')
    if k.strip().lower() == '$1'.lower():
        sys.stdout.write(urllib.parse.unquote(v.strip()))
        break"; }
field() { jget "j[\"$1\"]" <"$C"; }

# First from the collateral file $C, so answers can be compared byte for byte.
serve_start pccs --collateral "$C"
get "/tdx/certification/v4/tcb?fmspc=90C06F000000"
[ "$CODE" = 200 ] && [ "$(hdr TCB-Info-Issuer-Chain)" = "$(field tcb_info_issuer_chain)" ] &&
  [ "$(hdr SGX-TCB-Info-Issuer-Chain)" = "$(field tcb_info_issuer_chain)" ] &&
  [ "$(grep -i '^content-type' "$TMP/hdr" | tr -d '\r')" = "Content-Type: application/json" ] &&
  pass pccs_tcb_answers_with_both_issuer_chain_headers ||
  fail pccs_tcb_answers_with_both_issuer_chain_headers "code $CODE"
$PY - "$TMP/body" "$C" >"$TMP/chk" 2>&1 <<'PY'
import json, sys
body = open(sys.argv[1], "rb").read()
col = json.load(open(sys.argv[2]))
pre, sep = b'{"tcbInfo":', b',"signature":"'
assert body.startswith(pre), body[:40]
i = body.rindex(sep)
raw = body[len(pre):i]
assert raw == col["tcb_info"].encode(), "raw tcbInfo differs from the collateral"
assert json.loads(body)["signature"] == col["tcb_info_signature"]
print("ok")
PY
expect_eq pccs_tcb_body_carries_the_exact_signed_bytes "$(cat "$TMP/chk")" ok
get "/tdx/certification/v4/tcb?fmspc=90c06f000000"
expect_eq pccs_tcb_fmspc_is_case_insensitive "$CODE" 200
get "/sgx/certification/v4/tcb?fmspc=90C06F000000"
expect_eq pccs_tcb_also_on_the_sgx_prefix "$CODE" 200
get "/tdx/certification/v4/tcb?fmspc=00906ED50000"
expect_eq pccs_tcb_unknown_fmspc_is_404 "$CODE" 404
get "/tdx/certification/v4/tcb"
expect_eq pccs_tcb_without_fmspc_is_400 "$CODE" 400
get "/tdx/certification/v4/qe/identity?update=standard"
[ "$CODE" = 200 ] && [ "$(hdr SGX-Enclave-Identity-Issuer-Chain)" = "$(field qe_identity_issuer_chain)" ] &&
  [ "$(jget 'j["signature"]' <"$TMP/body")" = "$(field qe_identity_signature)" ] &&
  [ "$(jget 'j["enclaveIdentity"]["id"]' <"$TMP/body")" = TD_QE ] &&
  pass pccs_qe_identity_answers_with_its_header || fail pccs_qe_identity_answers_with_its_header "code $CODE"
get "/sgx/certification/v4/pckcrl?ca=platform&encoding=der"
[ "$CODE" = 200 ] && [ "$(hdr SGX-PCK-CRL-Issuer-Chain)" = "$(field pck_crl_issuer_chain)" ] &&
  [ "$(od -An -tx1 -v "$TMP/body" | tr -d ' \n')" = "$(field pck_crl)" ] &&
  pass pccs_pckcrl_der_with_its_issuer_chain || fail pccs_pckcrl_der_with_its_issuer_chain "code $CODE"
get "/sgx/certification/v4/pckcrl?ca=platform"
[ "$CODE" = 200 ] && openssl crl -in "$TMP/body" -noout >/dev/null 2>&1 &&
  pass pccs_pckcrl_without_encoding_is_pem || fail pccs_pckcrl_without_encoding_is_pem "code $CODE"
get "/sgx/certification/v4/pckcrl?ca=processor&encoding=der"
expect_eq pccs_pckcrl_other_ca_is_404 "$CODE" 404
get "/sgx/certification/v4/pckcrl?encoding=der"
expect_eq pccs_pckcrl_without_ca_is_400 "$CODE" 400
get "/sgx/certification/v4/rootcacrl"
[ "$CODE" = 200 ] && [ "$(cat "$TMP/body")" = "$(field root_ca_crl)" ] &&
  pass pccs_rootcacrl_is_hex_text || fail pccs_rootcacrl_is_hex_text "code $CODE $(head -c 60 "$TMP/body")"
get "/IntelSGXRootCA.der"
[ "$CODE" = 200 ] && [ "$(od -An -tx1 -v "$TMP/body" | tr -d ' \n')" = "$(field root_ca_crl)" ] &&
  pass pccs_root_crl_distribution_point_is_der || fail pccs_root_crl_distribution_point_is_der "code $CODE"
get "/sgx/certification/v4/nothing"
expect_eq pccs_unknown_path_is_404 "$CODE" 404
log=$(cat "$TMP/pccs.log")
expect_contains pccs_logs_one_line_per_request "$log" "simtee serve: GET /sgx/certification/v4/rootcacrl -> 200"
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
expect_eq pccs_stops_cleanly_on_sigterm "$?" 0

# Collateral made at start-up from the PKI, seen as a verifier sees it: assembled from
# the PCCS answers (the signed bytes cut out of the bodies, chains from the headers).
serve_start pccsgen --pki "$P" --now $T0
A_DIR="$TMP/fetched"
mkdir -p "$A_DIR"
for p in "tcb:/tdx/certification/v4/tcb?fmspc=90C06F000000" "qe:/tdx/certification/v4/qe/identity" \
  "pck:/sgx/certification/v4/pckcrl?ca=platform&encoding=der" "root:/sgx/certification/v4/rootcacrl"; do
  get "${p#*:}"
  cp "$TMP/body" "$A_DIR/${p%%:*}.body"
  cp "$TMP/hdr" "$A_DIR/${p%%:*}.hdr"
done
$PY - "$A_DIR" >"$TMP/fetched.json" <<'PY'
import json, sys, urllib.parse
d = sys.argv[1]
def hdr(n, name):
    for l in open("%s/%s.hdr" % (d, n), encoding="latin-1"):
        k, _, v = l.partition(":")
        if k.strip().lower() == name.lower():
            return urllib.parse.unquote(v.strip())
def signed(n, key):
    b = open("%s/%s.body" % (d, n), "rb").read()
    pre = ('{"%s":' % key).encode()
    i = b.rindex(b',"signature":"')
    return b[len(pre):i].decode(), json.loads(b)["signature"]
tcb, tsig = signed("tcb", "tcbInfo")
qe, qsig = signed("qe", "enclaveIdentity")
print(json.dumps({
    "pck_crl_issuer_chain": hdr("pck", "SGX-PCK-CRL-Issuer-Chain"),
    "root_ca_crl": open(d + "/root.body").read().strip(),
    "pck_crl": open(d + "/pck.body", "rb").read().hex(),
    "tcb_info_issuer_chain": hdr("tcb", "TCB-Info-Issuer-Chain"),
    "tcb_info": tcb, "tcb_info_signature": tsig,
    "qe_identity_issuer_chain": hdr("qe", "SGX-Enclave-Identity-Issuer-Chain"),
    "qe_identity": qe, "qe_identity_signature": qsig}))
PY
out=$(oracle quote "$Q/uptodate/q.bin" "$TMP/fetched.json" "$R" $T0 2>&1)
expect_contains pccs_fetched_collateral_verifies_in_the_oracle "$out" '"status": "UpToDate"'
if [ -n "$PROBE" ]; then
  out=$("$PROBE" quote "$Q/uptodate/q.bin" "$TMP/fetched.json" "$R" $T0 2>&1)
  expect_contains pccs_fetched_collateral_verifies_with_the_project_library "$out" '"status":"UpToDate"'
fi
if [ $CLI_QUOTE = 1 ] && "$CTL" verify-quote --help 2>&1 | grep -q -- --pccs; then
  out=$("$CTL" verify-quote --quote "$Q/uptodate/q.bin" --pccs "$BASE" --root "$R" --now $T0 2>&1)
  expect_contains pccs_kmsctl_fetches_and_verifies "$(echo "$out" | tr -d ' ')" '"status":"UpToDate"'
fi
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null

# --collateral FILE is re-read on every request.
cp "$TMP/cases/outofdate_with_advisories/col.json" "$TMP/served.json"
serve_start pccsfile --collateral "$TMP/served.json"
get "/tdx/certification/v4/tcb?fmspc=90C06F000000"
t1=$(jget 'j["tcbInfo"]["tcbLevels"][1]["advisoryIDs"]' <"$TMP/body")
cp "$C" "$TMP/served.json"
get "/tdx/certification/v4/tcb?fmspc=90C06F000000"
t2=$(jget 'j["tcbInfo"]["tcbLevels"][0]["tcbStatus"]' <"$TMP/body")
[ "$t1" = '["INTEL-SA-01036", "INTEL-SA-01099"]' ] && [ "$t2" = UpToDate ] &&
  pass pccs_serves_the_given_collateral_file_and_rereads_it || fail pccs_serves_the_given_collateral_file_and_rereads_it "$t1 / $t2"
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null

# Outages.
serve_start pccsfail --pki "$P" --now $T0 --fail-after 2
codes=""
for _ in 1 2 3 4; do get "/sgx/certification/v4/rootcacrl"; codes="$codes$CODE "; done
expect_eq pccs_fail_after_answers_k_then_503 "$codes" "200 200 503 503 "
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
serve_start pccshang --pki "$P" --now $T0 --fail-after 1 --hang
get "/sgx/certification/v4/rootcacrl"
c1=$CODE
t0=$(date +%s%N)
curl -s --max-time 1 -o /dev/null "$BASE/sgx/certification/v4/rootcacrl"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$c1" = 200 ] && [ "$rc" = 28 ] && [ "$ms" -ge 900 ] && pass pccs_hang_keeps_the_request_open ||
  fail pccs_hang_keeps_the_request_open "first $c1, curl rc $rc after ${ms}ms"
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
serve_start pccspcs --pki "$P" --now $T0 --pcs-mode
get "/sgx/certification/v4/rootcacrl"
c1=$CODE
get "/IntelSGXRootCA.der"
[ "$c1" = 404 ] && [ "$CODE" = 200 ] && pass pccs_pcs_mode_has_only_the_distribution_point ||
  fail pccs_pcs_mode_has_only_the_distribution_point "$c1 / $CODE"
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
sim serve --port 0
expect_eq pccs_needs_a_pki_or_collateral "$RC" 2

# ---- never in the production binaries ---------------------------------------------------
ok=1
bad=""
for b in "$BUILD/dstack-kms" "$BUILD/dstack-kmsctl" "$BUILD/dstack-auth-eth"; do
  [ -e "$b" ] || continue
  if nm "$b" 2>/dev/null | grep -qE ' (sim_cmd_|sim_quote_build|sim_collateral_build)' ||
    grep -qa 'dstack-simtee' "$b"; then
    ok=0
    bad="$bad $b"
  fi
done
[ $ok = 1 ] && pass simtee_is_not_in_any_production_binary || fail simtee_is_not_in_any_production_binary "$bad"
nm $LIBFILES "$BUILD/libkms.a" 2>/dev/null | grep -qE ' T sim_' &&
  fail simtee_is_not_in_the_libraries "sim_ symbols in the project libraries" || pass simtee_is_not_in_the_libraries

finish
