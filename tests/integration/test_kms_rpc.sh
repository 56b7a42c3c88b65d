#!/usr/bin/env bash
# test_kms_rpc.sh — starts the real dstack-kms (auto-bootstrap, dev auth, host
# mode) and calls it over TLS with curl and openssl: the three RPCs in JSON and
# protobuf mode and both path forms, independent re-computation of the env
# key and both signatures, client certificates, /health, /metrics,
# X-App-Version, and 400 answers for bad input while the server keeps serving.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh

PORT=$(free_port)
CERTS="$TMP/certs"
cat >"$TMP/kms.toml" <<TOML
[default]
workers = 2
[rpc]
address = "127.0.0.1"
port = $PORT
[rpc.tls]
key = "$CERTS/rpc.key"
certs = "$CERTS/rpc.crt"
[rpc.tls.mutual]
ca_certs = "$CERTS/tmp-ca.crt"
mandatory = false
[core]
cert_dir = "$CERTS"
attest_rpc_cert = false
enforce_self_authorization = false
[core.audit]
file = "$CERTS/../release.log"
[core.attestation]
collateral_cache_dir = "$TMP/collateral"
[core.image]
verify = false
[core.auth_api]
type = "dev"
[core.onboard]
auto_bootstrap_domain = "localhost"
TOML

t0=$(date +%s%N)
start_bg "$TMP/kms.log" "$BUILD/dstack-kms" --config "$TMP/kms.toml"
KMS_PID=$BG_PID
BASE="https://localhost:$PORT"
C=(curl -s --max-time 10 --resolve "localhost:$PORT:127.0.0.1" --cacert "$CERTS/root-ca.crt")
ok=0
for _ in $(seq 100); do
  if [ -f "$CERTS/root-ca.crt" ] && "${C[@]}" -o /dev/null "$BASE/health" 2>/dev/null; then ok=1; break; fi
  sleep 0.1
done
t1=$(date +%s%N)
if [ $ok = 1 ]; then
  pass kms_starts_and_answers_health
  echo "  (auto-bootstrap + start to first answer: $(( (t1 - t0) / 1000000 )) ms)"
else
  fail kms_starts_and_answers_health "no answer within 10 s; log: $(tail -5 "$TMP/kms.log")"
  finish
fi

log=$(cat "$TMP/kms.log")
expect_contains startup_log_initialized "$log" "KMS initialized successfully"
expect_contains startup_log_listening "$log" "RPC server listening on 127.0.0.1:$PORT"
expect_contains startup_log_auth "$log" "Auth API configured: dev"
expect_contains startup_log_host_mode_warning "$log" "HOST MODE: no TEE attestation"
expect_contains startup_log_dev_warning "$log" "EVERY app and KMS is allowed"

# --- GetMeta ------------------------------------------------------------
meta=$("${C[@]}" -X POST "$BASE/prpc/KMS.GetMeta?json")
expect_eq getmeta_ca_cert_is_root_pem "$(echo "$meta" | json 'j["ca_cert"]')" "$(cat "$CERTS/root-ca.crt")"
expect_eq getmeta_dev_flags "$(echo "$meta" | json '[j["is_dev"], j["allow_any_upgrade"]]')" "[true, true]"
expect_eq getmeta_bootstrap_info_null_after_auto_bootstrap "$(echo "$meta" | json 'j["bootstrap_info"]')" "null"
expect_eq getmeta_dev_optional_fields "$(echo "$meta" | json '[j["gateway_app_id"], j["kms_contract_address"], j["chain_id"], j["app_auth_implementation"]]')" '["any", null, null, null]'
expect_eq getmeta_field_order "$(echo "$meta" | json 'list(j.keys())')" '["ca_cert", "allow_any_upgrade", "k256_pubkey", "bootstrap_info", "is_dev", "gateway_app_id", "kms_contract_address", "chain_id", "app_auth_implementation"]'
K256=$(echo "$meta" | json 'j["k256_pubkey"]')
expect_eq getmeta_k256_pubkey_is_compressed "$(echo "$K256" | grep -cE '^0[23][0-9a-f]{64}$')" 1

meta_bare=$("${C[@]}" "$BASE/prpc/GetMeta")
expect_eq getmeta_bare_path_get "$(echo "$meta_bare" | json 'j["k256_pubkey"]')" "$K256"
meta_rep=$("${C[@]}" -X POST -H 'Content-Type: application/json' -d '{}' "$BASE/prpc/KMS.KMS.GetMeta")
expect_eq getmeta_repeated_prefix_and_json_content_type "$(echo "$meta_rep" | json 'j["k256_pubkey"]')" "$K256"

"${C[@]}" -X POST -o "$TMP/meta.bin" -D "$TMP/meta.hdr" "$BASE/prpc/KMS.GetMeta"
pb=$(protoc --proto_path=proto --decode=kms.GetMetaResponse proto/kms_rpc.proto <"$TMP/meta.bin" 2>&1)
expect_contains getmeta_protobuf_decodes "$pb" "is_dev: true"
expect_contains getmeta_protobuf_optional_present "$pb" 'gateway_app_id: "any"'
expect_contains getmeta_protobuf_content_type "$(cat "$TMP/meta.hdr")" "application/octet-stream"
ver=$(grep -i '^x-app-version:' "$TMP/meta.hdr" | tr -d '\r' | cut -d' ' -f2-)
if echo "$ver" | grep -qE '^v0\.6\.0 \(git:[0-9a-f]{20}(-modified)?\)$'; then
  pass x_app_version_header
else
  fail x_app_version_header "got '$ver'"
fi

# --- GetAppEnvEncryptPubKey ---------------------------------------------
APP=1111111111111111111111111111111111111111
now=$(date +%s)
env=$("${C[@]}" -X POST -H 'Content-Type: application/json' -d "{\"app_id\":\"0x$APP\"}" "$BASE/prpc/KMS.GetAppEnvEncryptPubKey?json")
PUB=$(echo "$env" | json 'j["public_key"]')
SIG=$(echo "$env" | json 'j["signature"]')
SIG1=$(echo "$env" | json 'j["signature_v1"]')
TS=$(echo "$env" | json 'j["timestamp"]')
expect_eq env_pubkey_matches_independent_derivation "$PUB" "$($PY "$TOOLS/independent.py" env-pubkey "$CERTS/root-ca.key" "$APP")"
expect_eq env_signature_recovers_to_k256_pubkey "$($PY "$TOOLS/independent.py" recover "$SIG" "$($PY "$TOOLS/independent.py" env-msg "$APP" "$PUB")")" "$K256"
expect_eq env_signature_v1_recovers_to_k256_pubkey "$($PY "$TOOLS/independent.py" recover "$SIG1" "$($PY "$TOOLS/independent.py" env-msg "$APP" "$PUB" "$TS")")" "$K256"
check env_timestamp_is_now test $((TS - now)) -ge -5 -a $((TS - now)) -le 5
check env_signature_is_65_bytes_v01 $PY -c "import sys; s=bytes.fromhex('$SIG'); sys.exit(not (len(s)==65 and s[64] in (0,1)))"

app_oct=$(printf '\\021%.0s' $(seq 20))
printf 'app_id: "%s"\n' "$app_oct" | protoc --proto_path=proto --encode=kms.AppId proto/kms_rpc.proto >"$TMP/appid.bin"
"${C[@]}" -X POST --data-binary @"$TMP/appid.bin" -H 'Content-Type: application/octet-stream' -o "$TMP/env.bin" "$BASE/prpc/GetAppEnvEncryptPubKey"
# field 1 (public_key) of the raw protobuf answer, read by hand: tag 0x0a, length, bytes
pbpub=$($PY -c '
import sys
b=open(sys.argv[1],"rb").read()
assert b[0]==0x0a and b[1]==32, b[:4]
print(b[2:34].hex())' "$TMP/env.bin")
expect_eq env_pubkey_protobuf_mode_same_key "$pbpub" "$PUB"
getq=$("${C[@]}" "$BASE/prpc/GetAppEnvEncryptPubKey?app_id=$APP" | json 'j["public_key"]')
expect_eq env_pubkey_get_query_string "$getq" "$PUB"

# --- GetTempCaCert ------------------------------------------------------
tca=$("${C[@]}" -X POST "$BASE/prpc/GetTempCaCert?json")
expect_eq tempca_cert_is_file "$(echo "$tca" | json 'j["temp_ca_cert"]')" "$(cat "$CERTS/tmp-ca.crt")"
expect_eq tempca_key_is_file "$(echo "$tca" | json 'j["temp_ca_key"]')" "$(cat "$CERTS/tmp-ca.key")"
expect_eq tempca_root_is_file "$(echo "$tca" | json 'j["ca_cert"]')" "$(cat "$CERTS/root-ca.crt")"

# --- client certificates -------------------------------------------------
openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/client.key" 2>/dev/null
openssl req -new -key "$TMP/client.key" -subj "/CN=RA-TLS TEMP Cert" -out "$TMP/client.csr" 2>/dev/null
openssl x509 -req -in "$TMP/client.csr" -CA "$CERTS/tmp-ca.crt" -CAkey "$CERTS/tmp-ca.key" -CAcreateserial -days 1 -out "$TMP/client.crt" 2>/dev/null
m=$("${C[@]}" --cert "$TMP/client.crt" --key "$TMP/client.key" -X POST "$BASE/prpc/GetMeta?json" | json 'j["k256_pubkey"]')
expect_eq mtls_client_cert_from_temp_ca_accepted "$m" "$K256"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$TMP/rogue.key" -subj "/CN=rogue" -days 1 -out "$TMP/rogue.crt" 2>/dev/null
if "${C[@]}" --cert "$TMP/rogue.crt" --key "$TMP/rogue.key" -o /dev/null "$BASE/health"; then
  fail mtls_foreign_client_cert_refused "handshake succeeded"
else
  pass mtls_foreign_client_cert_refused
fi
proto=$(openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -CAfile "$CERTS/root-ca.crt" </dev/null 2>/dev/null | grep -E '^(    Protocol|Verify return code)' | tr -s ' ')
expect_contains tls13_and_verified_chain "$proto" "Verify return code: 0 (ok)"
if openssl s_client -connect "127.0.0.1:$PORT" -tls1_1 </dev/null >/dev/null 2>&1; then
  fail tls_1_1_refused "handshake succeeded"
else
  pass tls_1_1_refused
fi

# --- errors: HTTP 400 with a clear message --------------------------------
# status_body METHOD PATH [curl args...] -> "STATUS BODY"
status_body() { local p=$1; shift; "${C[@]}" -w '\n%{http_code}' "$@" "$BASE$p"; }
r=$(status_body '/prpc/GetAppEnvEncryptPubKey?json' -X POST -d '{"app_id": ')
expect_eq bad_json_400 "$(echo "$r" | tail -1)" 400
expect_contains bad_json_error_body "$(echo "$r" | head -n -1)" '"error": '
r=$(status_body '/prpc/GetAppEnvEncryptPubKey?json' -X POST -d '{"app_id":"zz11"}')
expect_eq bad_hex_400 "$(echo "$r" | tail -1)" 400
expect_contains bad_hex_names_field "$(echo "$r" | head -n -1)" "app_id"
r=$(status_body '/prpc/GetAppEnvEncryptPubKey?json' -X POST -d '{"app_id":"1234"}')
expect_contains short_app_id_message "$r" "app_id must be 20 bytes"
expect_eq error_body_is_pretty_json "$(echo "$r" | head -n -1)" $'{\n  "error": "app_id must be 20 bytes"\n}'
r=$(status_body '/prpc/KMS.Nope?json' -X POST)
expect_eq unknown_method_400 "$(echo "$r" | tail -1)" 400
expect_contains unknown_method_message "$r" "Service not found: Nope"
head -c $((10 * 1024 * 1024 + 1)) /dev/zero >"$TMP/big.bin"
r=$(status_body '/prpc/GetAppEnvEncryptPubKey?json' -X POST --data-binary @"$TMP/big.bin")
expect_eq oversized_body_400 "$(echo "$r" | tail -1)" 400
expect_contains oversized_body_message "$r" "payload too large"
printf '\x0a\xff\xff\xff' >"$TMP/badpb.bin"
"${C[@]}" -X POST --data-binary @"$TMP/badpb.bin" -o "$TMP/err.bin" -w '%{http_code}' "$BASE/prpc/GetAppEnvEncryptPubKey" >"$TMP/code"
expect_eq malformed_protobuf_400 "$(cat "$TMP/code")" 400
perr=$(protoc --proto_path=proto --decode=kms.ProtoError proto/kms_rpc.proto <"$TMP/err.bin" 2>&1)
expect_contains malformed_protobuf_proto_error "$perr" 'message: "'
r=$(status_body '/prpc/GetAppKey?json' -X POST -d '{}')
expect_contains getappkey_without_cert_no_attestation "$r" "No attestation provided"
r=$(status_body '/nope')
expect_eq unknown_path_404 "$(echo "$r" | tail -1)" 404

m=$("${C[@]}" -X POST "$BASE/prpc/KMS.GetMeta?json" | json 'j["k256_pubkey"]')
expect_eq still_serving_after_errors "$m" "$K256"
check kms_process_alive kill -0 "$KMS_PID"

# --- health and metrics ---------------------------------------------------
expect_eq health_ok "$("${C[@]}" "$BASE/health")" "OK"
metrics=$("${C[@]}" "$BASE/metrics")
expect_contains metrics_upstream_lines "$metrics" $'# HELP dstack_kms_attestation_requests_total Total number of KMS attestation requests.\n# TYPE dstack_kms_attestation_requests_total counter\ndstack_kms_attestation_requests_total 1\n# HELP dstack_kms_attestation_failures_total Total number of failed KMS attestation requests.\n# TYPE dstack_kms_attestation_failures_total counter\ndstack_kms_attestation_failures_total 1\n'
expect_contains metrics_requests_by_method "$metrics" 'dstack_kms_rpc_requests_total{method="GetMeta",outcome="ok"}'
expect_contains metrics_latency_histogram "$metrics" 'dstack_kms_rpc_duration_seconds_bucket{method="GetAppEnvEncryptPubKey",le="+Inf"}'

# --- restart keeps the same keys (no second bootstrap) ---------------------
kill "$KMS_PID"; wait "$KMS_PID" 2>/dev/null
start_bg "$TMP/kms2.log" "$BUILD/dstack-kms" --config "$TMP/kms.toml"
wait_http "https://127.0.0.1:$PORT/health" 100
m=$("${C[@]}" -X POST "$BASE/prpc/GetMeta?json" | json 'j["k256_pubkey"]')
expect_eq restart_keeps_root_keys "$m" "$K256"
expect_eq restart_does_not_bootstrap_again "$(grep -c 'auto-bootstrap complete' "$TMP/kms2.log")" 0
# requests two HTTP readers could take differently are refused, and the connection closed
r=$(printf 'POST /prpc/KMS.GetMeta?json HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}abc' |
  $PY tests/tools/raw_https.py "$PORT")
expect_contains conflicting_content_length_400 "$r" "HTTP/1.1 400"
expect_contains conflicting_content_length_reason "$r" "conflicting Content-Length headers"
expect_contains conflicting_content_length_closes "$r" "Connection: close"
r=$(printf 'GET /prpc/KMS.GetMeta%%00.x?json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
  $PY tests/tools/raw_https.py "$PORT")
expect_contains nul_in_path_refused "$r" "invalid request path: control character"
r=$(printf 'GET /prpc/KMS.GetMeta?json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
  $PY tests/tools/raw_https.py "$PORT")
expect_contains same_request_without_nul_served "$r" "HTTP/1.1 200"
finish
