#!/usr/bin/env bash
# test_kms_collateral_cache_only.sh — the caller-attestation check never
# fetches collateral itself (attestation §2.5, kms-protocol §2.5): with an
# empty collateral cache and a mock PCCS that logs every GET, a quote whose
# signatures are broken is refused with its reason and the PCCS sees no
# request at all (the checks that need no collateral run first); a good
# quote is served once the background refresher has fetched its collateral;
# a broken quote sent after that is still refused without a new GET.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
SIM="$BUILD/tests/simtee"
[ -x "$SIM" ] || { fail simtee_built "missing $SIM (make test builds it)"; finish; }

"$SIM" pki --seed "$(printf '43%.0s' $(seq 32))" --out "$TMP/pki" >/dev/null || fail simtee_pki "pki failed"
openssl x509 -in "$TMP/pki/root_ca.pem" -outform DER -out "$TMP/root.der" 2>/dev/null \
  || cp "$TMP/pki/root_ca.der" "$TMP/root.der" 2>/dev/null
PCCS_PORT=$(free_port)
start_bg "$TMP/pccs.log" "$SIM" serve --pki "$TMP/pki" --port "$PCCS_PORT"
wait_http "http://127.0.0.1:$PCCS_PORT/sgx/certification/v4/rootcacrl" 100

PORT=$(free_port)
cat >"$TMP/kms.toml" <<TOML
[default]
workers = 2
[rpc]
address = "127.0.0.1"
port = $PORT
[rpc.tls]
key = "$TMP/certs/rpc.key"
certs = "$TMP/certs/rpc.crt"
[rpc.tls.mutual]
ca_certs = "$TMP/certs/tmp-ca.crt"
[core]
cert_dir = "$TMP/certs"
attest_rpc_cert = false
enforce_self_authorization = false
request_deadline = "20s"
[core.audit]
file = "$TMP/release.log"
[core.attestation]
insecure_allow_external_trust_anchors = true
collateral_cache_dir = "$TMP/collateral"
[core.attestation.urls]
pccs = "http://127.0.0.1:$PCCS_PORT/sgx/certification/v4"
[core.attestation.root_ca]
tdx = "$TMP/root.der"
[core.auth_api]
type = "dev"
[core.onboard]
auto_bootstrap_domain = "localhost"
TOML
start_bg "$TMP/kms.log" "$BUILD/dstack-kms" --config "$TMP/kms.toml"
wait_http "https://127.0.0.1:$PORT/health" 100 || { fail kms_starts "$(tail -3 "$TMP/kms.log")"; finish; }

APP=5bb4ff9a3837357f19dc176407a5709c62eb6c56
CH=c143116f$(printf '00%.0s' $(seq 28))
INST=1691ed1b$(printf '00%.0s' $(seq 16))
mk() { # mk NAME [extra simtee options...]
  local n=$1; shift
  "$SIM" ratls-cert --pki "$TMP/pki" --tmp-ca-cert "$TMP/certs/tmp-ca.crt" --tmp-ca-key "$TMP/certs/tmp-ca.key" \
    --app-id "$APP" --compose-hash "$CH" --instance-id "$INST" \
    --out-cert "$TMP/$n.pem" --out-key "$TMP/$n.key" "$@" >/dev/null 2>"$TMP/$n.err" \
    || fail "simtee_cert_$n" "$(cat "$TMP/$n.err")"
}
mk good
mk tampered --tamper
mk badqesig --bad-qe-report-sig
mk badqebind --bad-qe-binding

call() { # call CERTNAME -> "BODY\nSTATUS"
  curl -sk --max-time 30 --cert "$TMP/$1.pem" --key "$TMP/$1.key" -w '\n%{http_code}' \
    -X POST "https://127.0.0.1:$PORT/prpc/GetMeta?json"
}
# collateral GETs the PCCS has seen (wait_http's probe above is not one)
gets() { grep -c 'simtee serve: GET /\(tdx\|sgx\)/certification/v4/\(tcb\|qe\|pckcrl\)' "$TMP/pccs.log" || true; }

check cache_starts_empty bash -c "! ls '$TMP/collateral' 2>/dev/null | grep -q json"
r=$(call tampered)
expect_eq tampered_quote_refused_400 "$(echo "$r" | tail -1)" 400
expect_contains tampered_quote_reason "$r" "invalid quote: ISV enclave report signature is invalid"
r=$(call badqesig)
expect_eq bad_qe_report_signature_refused_400 "$(echo "$r" | tail -1)" 400
expect_contains bad_qe_report_signature_reason "$r" "invalid quote: Signature is invalid for qe_report"
r=$(call badqebind)
expect_eq bad_qe_binding_refused_400 "$(echo "$r" | tail -1)" 400
expect_contains bad_qe_binding_reason "$r" "invalid quote: QE report hash mismatch"
expect_eq broken_quotes_cause_no_pccs_request "$(gets)" 0

r=$(call good)
expect_eq good_quote_served_after_refresher_fetch "$(echo "$r" | tail -1)" 200
check pccs_fetched_for_the_good_quote test "$(gets)" -ge 3
expect_contains fetched_by_the_background_refresher "$(cat "$TMP/kms.log")" "collateral refreshed"
check collateral_written_to_cache bash -c "ls '$TMP/collateral' | grep -q '^tdx-.*\.json$'"
n=$(gets)
r=$(call tampered)
expect_eq tampered_quote_refused_with_warm_cache "$(echo "$r" | tail -1)" 400
r=$(call good)
expect_eq good_quote_served_from_memory "$(echo "$r" | tail -1)" 200
expect_eq warm_cache_causes_no_pccs_request "$(gets)" "$n"
finish
