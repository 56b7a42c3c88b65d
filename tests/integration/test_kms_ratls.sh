#!/usr/bin/env bash
# test_kms_ratls.sh — a caller's RA-TLS client certificate is verified by the
# running KMS before any method (kms-protocol §2.5): simulated-TEE quotes and
# certificates, collateral from a mock PCCS, the mock root as an explicit test
# trust anchor. Valid attestation → served; debug TD, wrong key binding or a
# tampered quote → 400 "invalid quote: …"; a certificate without attestation
# → served; collateral cached on disk keeps the KMS verifying with the PCCS down.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
SIM="$BUILD/tests/simtee"
[ -x "$SIM" ] || { fail simtee_built "missing $SIM (make test builds it)"; finish; }

"$SIM" pki --seed "$(printf '42%.0s' $(seq 32))" --out "$TMP/pki" >/dev/null || fail simtee_pki "pki failed"
openssl x509 -in "$TMP/pki/root_ca.pem" -outform DER -out "$TMP/root.der" 2>/dev/null \
  || cp "$TMP/pki/root_ca.der" "$TMP/root.der" 2>/dev/null
PCCS_PORT=$(free_port)
start_bg "$TMP/pccs.log" "$SIM" serve --pki "$TMP/pki" --port "$PCCS_PORT"
PCCS_PID=$BG_PID
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
KMS_PID=$BG_PID
wait_http "https://127.0.0.1:$PORT/health" 100 || { fail kms_starts "$(tail -3 "$TMP/kms.log")"; finish; }
expect_contains kms_logs_non_intel_anchor "$(cat "$TMP/kms.log")" "replaces the Intel SGX Root CA"

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
mk debug --debug
mk tampered --tamper
openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/other.key" 2>/dev/null
mk wrongbind --bind-key "$TMP/other.key"

call() { # call CERTNAME -> "BODY\nSTATUS"
  curl -sk --max-time 20 --cert "$TMP/$1.pem" --key "$TMP/$1.key" -w '\n%{http_code}' \
    -X POST "https://127.0.0.1:$PORT/prpc/GetMeta?json"
}
r=$(call good)
expect_eq valid_ratls_cert_served "$(echo "$r" | tail -1)" 200
check collateral_cached_on_disk bash -c "ls '$TMP/collateral' | grep -q '^tdx-.*\.json$'"

r=$(call debug)
expect_eq debug_td_refused_400 "$(echo "$r" | tail -1)" 400
expect_contains debug_td_reason "$r" "invalid quote"
r=$(call tampered)
expect_eq tampered_quote_refused_400 "$(echo "$r" | tail -1)" 400
expect_contains tampered_quote_reason "$r" "invalid quote"
r=$(call wrongbind)
expect_eq wrong_binding_refused_400 "$(echo "$r" | tail -1)" 400
expect_contains wrong_binding_reason "$r" "invalid quote: report data mismatch"

# a client certificate from the temp CA without any attestation is served
openssl req -new -key "$TMP/other.key" -subj "/CN=RA-TLS TEMP Cert" -out "$TMP/plain.csr" 2>/dev/null
openssl x509 -req -in "$TMP/plain.csr" -CA "$TMP/certs/tmp-ca.crt" -CAkey "$TMP/certs/tmp-ca.key" \
  -CAcreateserial -days 1 -out "$TMP/plain.pem" 2>/dev/null
cp "$TMP/other.key" "$TMP/plain.key"
r=$(call plain)
expect_eq cert_without_attestation_served "$(echo "$r" | tail -1)" 200

# PCCS down, KMS restarted: served from the on-disk collateral cache
kill "$PCCS_PID"; wait "$PCCS_PID" 2>/dev/null
kill "$KMS_PID"; wait "$KMS_PID" 2>/dev/null
start_bg "$TMP/kms2.log" "$BUILD/dstack-kms" --config "$TMP/kms.toml"
wait_http "https://127.0.0.1:$PORT/health" 100
r=$(call good)
expect_eq pccs_down_served_from_disk_cache "$(echo "$r" | tail -1)" 200
finish
