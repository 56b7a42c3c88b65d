#!/usr/bin/env bash
# test_kms_release.sh — key release end to end (kms-protocol §4.1, §4.2):
# simulated-TEE RA-TLS callers over real mTLS (curl), a mock PCCS, the
# webhook test server. GetAppKey's keys equal tests/tools/independent.py's
# computation from the root key files; the webhook receives exactly the
# BootInfo the oracle derives from the certificate; deny, webhook down and
# hanging, missing / wrong / tampered / debug attestations are refused with
# their reasons; a self-signed attested certificate is served and an
# unattested one of another issuer is refused by the handshake; GetKmsKey
# hands over exactly the root key files; every decision is one line of the
# hash-chained release log, and a release log that cannot be written refuses
# the release while the KMS keeps serving.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
SIM="$BUILD/tests/simtee"
ORACLE="$PY tests/tools/simtee/oracle.py"
IND="$PY tests/tools/independent.py"
[ -x "$SIM" ] || { fail simtee_built "missing $SIM (make test builds it)"; finish; }

"$SIM" pki --seed "$(printf '42%.0s' $(seq 32))" --out "$TMP/pki" >/dev/null || fail simtee_pki "pki failed"
cp "$TMP/pki/root_ca.der" "$TMP/root.der" 2>/dev/null ||
  openssl x509 -in "$TMP/pki/root_ca.pem" -outform DER -out "$TMP/root.der" 2>/dev/null
PCCS_PORT=$(free_port)
start_bg "$TMP/pccs.log" "$SIM" serve --pki "$TMP/pki" --port "$PCCS_PORT"
wait_http "http://127.0.0.1:$PCCS_PORT/sgx/certification/v4/rootcacrl" 100

APP=5bb4ff9a3837357f19dc176407a5709c62eb6c56
APP2=7d2f8e2a0c7b1e4f5a6b3c2d1e0f9a8b7c6d5e4f
DENIED=dead00000000000000000000000000000000beef
CH=c143116f$(printf '00%.0s' $(seq 28))
INST=1691ed1b$(printf '00%.0s' $(seq 16))
INST2=2222ed1b$(printf '00%.0s' $(seq 16))

WPORT=$(free_port)
WEBHOOK_BODIES="$TMP/bodies.log" WEBHOOK_DENY_APPS="$DENIED" \
  start_bg "$TMP/wh.log" $PY tests/tools/fake_webhook.py "$WPORT"
wait_http "http://127.0.0.1:$WPORT/" 100

# write_config FILE PORT WEBHOOK LOG — kms.toml keeps $TMP/certs; every other
# config gets a copy of that key set (one process per cert_dir)
write_config() {
  sim_kms_config "$1" "$2" "$3" "$4" "$PCCS_PORT"
  local b
  b=$(basename "$1" .toml)
  if [ "$b" != kms ]; then
    rm -rf "$TMP/certs-$b" && cp -a "$TMP/certs" "$TMP/certs-$b" && rm -f "$TMP/certs-$b/.kms.lock"
    sed -i "s#$TMP/certs#$TMP/certs-$b#g" "$1"
  fi
}
kms_up() { # kms_up NAME CONFIG PORT
  start_bg "$TMP/$1.log" "$BUILD/dstack-kms" --config "$2"
  KMS_PID=$BG_PID
  wait_http "https://127.0.0.1:$3/health" 100
}

PORT=$(free_port)
write_config "$TMP/kms.toml" "$PORT" "http://127.0.0.1:$WPORT" "$TMP/release.log"
kms_up kms "$TMP/kms.toml" "$PORT" || { fail kms_starts "$(tail -3 "$TMP/kms.log")"; finish; }
MAIN_PID=$KMS_PID

mk() { # mk NAME APP INSTANCE [extra simtee options...]
  local n=$1 app=$2 inst=$3; shift 3
  "$SIM" ratls-cert --pki "$TMP/pki" --tmp-ca-cert "$TMP/certs/tmp-ca.crt" --tmp-ca-key "$TMP/certs/tmp-ca.key" \
    --app-id "$app" --compose-hash "$CH" --instance-id "$inst" \
    --out-cert "$TMP/$n.pem" --out-key "$TMP/$n.key" "$@" >/dev/null 2>"$TMP/$n.err" \
    || fail "simtee_cert_$n" "$(cat "$TMP/$n.err")"
}
mk good "$APP" "$INST"
mk inst2 "$APP" "$INST2"
mk app2 "$APP2" "$INST"
mk denied "$DENIED" "$INST"
mk debug "$APP" "$INST" --debug
mk tampered "$APP" "$INST" --tamper
openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/other.key" 2>/dev/null
mk wrongbind "$APP" "$INST" --bind-key "$TMP/other.key"
"$SIM" ratls-cert --pki "$TMP/pki" --self-signed --app-id "$APP" --compose-hash "$CH" --instance-id "$INST" \
  --out-cert "$TMP/selfsigned.pem" --out-key "$TMP/selfsigned.key" >/dev/null 2>"$TMP/ss.err" ||
  fail simtee_cert_selfsigned "$(cat "$TMP/ss.err")"
# another issuer, no attestation
openssl req -x509 -new -key "$TMP/other.key" -subj "/CN=not attested" -days 1 \
  -out "$TMP/plain_ss.pem" 2>/dev/null
cp "$TMP/other.key" "$TMP/plain_ss.key"

# rpc PORT CERT METHOD BODY -> "BODY\nSTATUS" (CERT "-" for none)
rpc() {
  local port=$1 cert=$2 m=$3 body=$4 opts=()
  [ "$cert" != - ] && opts=(--cert "$TMP/$cert.pem" --key "$TMP/$cert.key")
  curl -sk --max-time 20 "${opts[@]}" -w '\n%{http_code}' -H 'Content-Type: application/json' \
    -d "$body" "https://127.0.0.1:$port/prpc/$m?json"
}
status() { echo "$1" | tail -1; }
body() { echo "$1" | sed '$d'; }
log_lines() { [ -f "$TMP/release.log" ] && wc -l <"$TMP/release.log" || echo 0; }

# --- GetAppKey: bit-exact keys --------------------------------------------------
r=$(rpc "$PORT" good GetAppKey '{"api_version":1,"vm_config":""}')
expect_eq getappkey_served_200 "$(status "$r")" 200
KEYS=$(body "$r")
WANT=$($IND app-keys "$TMP/certs/root-ca.key" "$TMP/certs/root-k256.key" "$APP" "$INST")
for f in disk_crypt_key env_crypt_key k256_key; do
  expect_eq "getappkey_${f}_independent" "$(echo "$KEYS" | json "j['$f']")" "$(echo "$WANT" | json "j['$f']")"
done
META=$(curl -sk --max-time 20 -X POST "https://127.0.0.1:$PORT/prpc/GetMeta?json")
ROOTPUB=$(echo "$META" | json "j['k256_pubkey']")
MSG=$($IND app-key-msg "$APP" "$(echo "$KEYS" | json "j['k256_key']")")
expect_eq getappkey_k256_signature_recovers_to_root \
  "$($IND recover "$(echo "$KEYS" | json "j['k256_signature']")" "$MSG")" "$ROOTPUB"
expect_eq getappkey_ca_cert_is_root "$(echo "$KEYS" | json "j['ca_cert']")" "$(cat "$TMP/certs/root-ca.crt")"
expect_eq getappkey_gateway_app_id "$(echo "$KEYS" | json "[j['gateway_app_id'], j['tproxy_app_id']]")" \
  '["0xgateway", "0xgateway"]'
expect_eq getappkey_os_image_hash_empty "$(echo "$KEYS" | json "j['os_image_hash']")" ""
r2=$(rpc "$PORT" good GetAppKey '{"api_version":0}')
expect_eq getappkey_twice_same "$(body "$r2" | json "[j['disk_crypt_key'],j['env_crypt_key'],j['k256_key']]")" \
  "$(echo "$KEYS" | json "[j['disk_crypt_key'],j['env_crypt_key'],j['k256_key']]")"

# the webhook saw exactly the BootInfo the oracle derives from the certificate
ID=$($ORACLE ratls "$TMP/good.pem")
GOT=$(grep '^/bootAuth/app ' "$TMP/bodies.log" | head -1 | cut -d' ' -f2-)
expect_eq webhook_bootinfo_matches_oracle \
  "$(echo "$GOT" | json "[j['teeVariant'],j['appId'],j['composeHash'],j['instanceId'],j['deviceId'],j['mrAggregated'],j['mrSystem'],j['keyProviderInfo'],j['osImageHash'],j['tcbStatus'],j['advisoryIds']]")" \
  "$(echo "$ID" | json "['dstack-tdx',j['app_id'],j['compose_hash'],j['instance_id'],j['device_id'],j['runtime']['mr_aggregated'],j['runtime']['mr_system'],j['runtime']['key_provider_info'],'','UpToDate',[]]")"
expect_eq webhook_bootinfo_key_order "$(echo "$GOT" | $PY -c 'import json,sys; print(",".join(json.load(sys.stdin).keys()))')" \
  "teeVariant,mrAggregated,osImageHash,mrSystem,appId,composeHash,instanceId,deviceId,keyProviderInfo,tcbStatus,advisoryIds"

# another instance: another disk key, same env key; another app: all other
r=$(rpc "$PORT" inst2 GetAppKey '{"api_version":1}')
W2=$($IND app-keys "$TMP/certs/root-ca.key" "$TMP/certs/root-k256.key" "$APP" "$INST2")
expect_eq getappkey_other_instance_independent "$(body "$r" | json "j['disk_crypt_key']")" "$(echo "$W2" | json "j['disk_crypt_key']")"
check getappkey_other_instance_other_disk_key test "$(body "$r" | json "j['disk_crypt_key']")" != "$(echo "$KEYS" | json "j['disk_crypt_key']")"
expect_eq getappkey_other_instance_same_env_key "$(body "$r" | json "j['env_crypt_key']")" "$(echo "$KEYS" | json "j['env_crypt_key']")"
r=$(rpc "$PORT" app2 GetAppKey '{"api_version":1}')
W3=$($IND app-keys "$TMP/certs/root-ca.key" "$TMP/certs/root-k256.key" "$APP2" "$INST")
expect_eq getappkey_other_app_independent "$(body "$r" | json "[j['disk_crypt_key'],j['env_crypt_key'],j['k256_key']]")" \
  "$(echo "$W3" | json "[j['disk_crypt_key'],j['env_crypt_key'],j['k256_key']]")"

# a self-signed certificate is accepted by its attestation
r=$(rpc "$PORT" selfsigned GetAppKey '{"api_version":1}')
expect_eq selfsigned_attested_served "$(status "$r")" 200
expect_eq selfsigned_same_keys "$(body "$r" | json "j['disk_crypt_key']")" "$(echo "$KEYS" | json "j['disk_crypt_key']")"

# --- refusals ---------------------------------------------------------------
r=$(rpc "$PORT" good GetAppKey '{"api_version":2}')
expect_eq api_version_2_refused "$(body "$r" | json "j['error']")" "Unsupported API version: 2"
r=$(rpc "$PORT" - GetAppKey '{"api_version":1}')
expect_eq no_cert_no_attestation "$(body "$r" | json "j['error']")" "No attestation provided"
openssl req -new -key "$TMP/other.key" -subj "/CN=RA-TLS TEMP Cert" -out "$TMP/plain.csr" 2>/dev/null
openssl x509 -req -in "$TMP/plain.csr" -CA "$TMP/certs/tmp-ca.crt" -CAkey "$TMP/certs/tmp-ca.key" \
  -CAcreateserial -days 1 -out "$TMP/plain.pem" 2>/dev/null
cp "$TMP/other.key" "$TMP/plain.key"
r=$(rpc "$PORT" plain GetAppKey '{"api_version":1}')
expect_eq tmp_ca_cert_without_attestation "$(body "$r" | json "j['error']")" "No attestation provided"
r=$(rpc "$PORT" denied GetAppKey '{"api_version":1}')
expect_eq webhook_deny_reason "$(body "$r" | json "j['error']")" "App not allowed: Boot denied: app $DENIED is not registered"
r=$(rpc "$PORT" wrongbind GetAppKey '{"api_version":1}')
expect_contains wrong_binding_refused "$(body "$r")" "invalid quote: report data mismatch"
r=$(rpc "$PORT" tampered GetAppKey '{"api_version":1}')
expect_contains tampered_quote_refused "$(body "$r")" "invalid quote"
expect_contains tampered_quote_reason_is_signature "$(body "$r")" "signature"
r=$(rpc "$PORT" debug GetAppKey '{"api_version":1}')
expect_contains debug_td_refused "$(body "$r")" "Debug"
# the server's handshake answers it with a TLS alert (unknown CA), not a 400
hs=$( (printf 'GET /health HTTP/1.0\r\n\r\n'; sleep 1) | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" \
  -cert "$TMP/plain_ss.pem" -key "$TMP/plain_ss.key" 2>&1)
expect_contains unattested_other_issuer_refused_in_handshake "$hs" "alert unknown ca"
hs=$( (printf 'GET /health HTTP/1.0\r\n\r\n'; sleep 1) | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" \
  -cert "$TMP/selfsigned.pem" -key "$TMP/selfsigned.key" 2>&1)
expect_contains attested_self_signed_passes_handshake "$hs" " 200 OK"
check kms_alive_after_handshake_refusal curl -sfk --max-time 5 -o /dev/null "https://127.0.0.1:$PORT/health"

# --- GetKmsKey: the root-key handover ----------------------------------------
r=$(rpc "$PORT" good GetKmsKey '{"vm_config":""}')
expect_eq getkmskey_served_200 "$(status "$r")" 200
K=$(body "$r")
expect_eq getkmskey_one_entry "$(echo "$K" | json "len(j['keys'])")" 1
expect_eq getkmskey_ca_key_is_root_key_file "$(echo "$K" | json "j['keys'][0]['ca_key']")" "$(cat "$TMP/certs/root-ca.key")"
expect_eq getkmskey_k256_is_root_k256 "$(echo "$K" | json "j['keys'][0]['k256_key']")" "$(od -An -tx1 -v "$TMP/certs/root-k256.key" | tr -d ' \n')"
expect_eq getkmskey_temp_ca_key "$(echo "$K" | json "j['temp_ca_key']")" "$(cat "$TMP/certs/tmp-ca.key")"
check getkmskey_policy_asked_as_kms grep -q '^/bootAuth/kms ' "$TMP/bodies.log"
r=$(rpc "$PORT" denied GetKmsKey '{}')
expect_eq getkmskey_denied_reason "$(body "$r" | json "j['error']")" "Boot denied: app $DENIED is not registered"
r=$(rpc "$PORT" - GetKmsKey '{}')
expect_eq getkmskey_no_attestation "$(body "$r" | json "j['error']")" "No attestation provided"
if grep -q "$(sed -n 2p "$TMP/certs/root-ca.key")" "$TMP/kms.log" "$TMP/release.log"; then
  fail root_key_never_logged "root key bytes found in a log"
else pass root_key_never_logged; fi

# --- SignCert ------------------------------------------------------------------
CSRT="$PY tests/tools/csr_encode.py"
openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/app.key.sec1" 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in "$TMP/app.key.sec1" -out "$TMP/app.key" 2>/dev/null
"$SIM" ratls-cert --pki "$TMP/pki" --self-signed --key "$TMP/app.key" --app-id "$APP" --compose-hash "$CH" \
  --instance-id "$INST" --out-cert "$TMP/csrcert.pem" --out-key "$TMP/csrcert.key" \
  --out-attestation "$TMP/app.att" >/dev/null 2>"$TMP/att.err" || fail simtee_csr_attestation "$(cat "$TMP/att.err")"
"$SIM" ratls-cert --pki "$TMP/pki" --self-signed --key "$TMP/other.key" --app-id "$APP" --compose-hash "$CH" \
  --instance-id "$INST" --out-cert "$TMP/o.pem" --out-key "$TMP/o.key" \
  --out-attestation "$TMP/other.att" >/dev/null 2>&1
"$SIM" ratls-cert --pki "$TMP/pki" --self-signed --key "$TMP/app.key" --app-id "$DENIED" --compose-hash "$CH" \
  --instance-id "$INST" --out-cert "$TMP/d.pem" --out-key "$TMP/d.key" \
  --out-attestation "$TMP/denied.att" >/dev/null 2>&1
sign() { # sign CSR-TOOL-ARGS... -> "BODY\nSTATUS"
  local req
  req=$($CSRT "$@") || { echo "csr_encode failed"; return; }
  rpc "$PORT" - SignCert "$req"
}
r=$(sign v2 --key "$TMP/app.key" --attestation "$TMP/app.att" --subject app.example --org "Example Org" \
  --san app.example --san 10.0.0.7 --server-auth --client-auth --ext-app-info --ext-quote)
expect_eq signcert_served_200 "$(status "$r")" 200
body "$r" | $PY -c '
import json, sys
c = json.load(sys.stdin)["certificate_chain"]
assert len(c) == 3, len(c)
for i, n in enumerate(["leaf", "appca", "root"]):
    open(sys.argv[1] + "/" + n + ".pem", "w").write(c[i])' "$TMP" || fail signcert_chain_of_three "$(body "$r" | head -c 300)"
expect_eq signcert_root_is_root_ca "$(cat "$TMP/root.pem")" "$(cat "$TMP/certs/root-ca.crt")"
expect_eq signcert_chain_verifies_openssl \
  "$(openssl verify -CAfile "$TMP/certs/root-ca.crt" -untrusted "$TMP/appca.pem" "$TMP/leaf.pem" 2>&1)" "$TMP/leaf.pem: OK"
LEAF=$(openssl x509 -in "$TMP/leaf.pem" -noout -text 2>/dev/null)
expect_contains signcert_leaf_subject "$(openssl x509 -in "$TMP/leaf.pem" -noout -subject -nameopt RFC2253)" "CN=app.example,O=Example Org"
expect_contains signcert_leaf_san "$LEAF" "DNS:app.example, IP Address:10.0.0.7"
expect_contains signcert_leaf_eku "$LEAF" "TLS Web Server Authentication, TLS Web Client Authentication"
expect_contains signcert_appca_subject "$(openssl x509 -in "$TMP/appca.pem" -noout -subject -nameopt RFC2253)" "CN=Dstack App CA,O=Dstack"
check signcert_leaf_key_is_csr_key bash -c "[ \"\$(openssl x509 -in '$TMP/leaf.pem' -noout -pubkey)\" = \"\$(openssl pkey -in '$TMP/app.key' -pubout)\" ]"
EXT_APP=$($PY -c '
import sys
from cryptography import x509
c = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
v = c.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.4.1.62397.1.3")).value.value
assert v[0] == 4 and v[1] == len(v) - 2
print(v[2:].hex())' "$TMP/leaf.pem")
expect_eq signcert_leaf_app_id_extension "$EXT_APP" "$APP"
DEV=$($ORACLE ratls "$TMP/csrcert.pem" | json "j['device_id']")
expect_eq signcert_app_info_verified_device_id "$($CSRT app-info-device-id "$TMP/leaf.pem" | json "j['device_id']")" "$DEV"
check signcert_device_id_not_empty_hash test "$DEV" != e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
check signcert_policy_asked_boottime grep -q '^/bootAuth/app ' "$TMP/bodies.log"

r=$(sign v2 --key "$TMP/app.key" --sign-key "$TMP/other.key" --attestation "$TMP/app.att")
expect_contains signcert_other_key_signature "$(body "$r" | json "j['error']")" "Failed to verify csr signature"
r=$(sign v2 --key "$TMP/app.key" --attestation "$TMP/app.att" --mutate truncate:30)
expect_contains signcert_truncated_parse "$(body "$r" | json "j['error']")" "Failed to parse csr"
r=$(sign v2 --key "$TMP/app.key" --attestation "$TMP/app.att" --mutate noncanonical)
expect_contains signcert_noncanonical_parse "$(body "$r" | json "j['error']")" "Failed to parse csr"
r=$(sign v2 --key "$TMP/app.key" --attestation "$TMP/app.att" --mutate bool2)
expect_contains signcert_bad_bool_parse "$(body "$r" | json "j['error']")" "Failed to parse csr"
r=$(sign v2 --key "$TMP/app.key" --attestation "$TMP/app.att" --mutate confirm)
expect_eq signcert_confirm_word "$(body "$r" | json "j['error']")" "Failed to verify csr signature: Invalid confirm word"
r=$(sign v2 --key "$TMP/app.key" --attestation "$TMP/other.att")
expect_contains signcert_attestation_of_other_key "$(body "$r" | json "j['error']")" "Quote verification failed"
r=$(sign v2 --key "$TMP/app.key" --attestation "$TMP/denied.att")
expect_eq signcert_denied "$(body "$r" | json "j['error']")" "App not allowed: Boot denied: app $DENIED is not registered"
# a V1 CSR: raw quote + JSON event log, from a legacy-form certificate for the same key
"$SIM" ratls-cert --pki "$TMP/pki" --tmp-ca-cert "$TMP/certs/tmp-ca.crt" --tmp-ca-key "$TMP/certs/tmp-ca.key" \
  --legacy --key "$TMP/app.key" --app-id "$APP" --compose-hash "$CH" --instance-id "$INST" \
  --out-cert "$TMP/legacy.pem" --out-key "$TMP/legacy.key" --out-quote "$TMP/v1.quote" >/dev/null 2>&1
$PY -c '
import sys
from cryptography import x509
c = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
v = c.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.4.1.62397.1.2")).value.value
assert v[0] == 4
n, off = v[1], 2
if n & 0x80:
    k = n & 0x7F
    n, off = int.from_bytes(v[2:2 + k], "big"), 2 + k
open(sys.argv[2], "wb").write(v[off:off + n])' "$TMP/legacy.pem" "$TMP/v1.events"
r=$(sign v1 --key "$TMP/app.key" --quote "$TMP/v1.quote" --event-log "$TMP/v1.events" --subject v1.example)
expect_eq signcert_v1_served "$(status "$r")" 200
body "$r" | $PY -c 'import json,sys; open(sys.argv[1],"w").write(json.load(sys.stdin)["certificate_chain"][0])' "$TMP/v1leaf.pem" 2>/dev/null
expect_contains signcert_v1_chain_verifies \
  "$(openssl verify -CAfile "$TMP/certs/root-ca.crt" -untrusted "$TMP/appca.pem" "$TMP/v1leaf.pem" 2>&1)" ": OK"
r=$(sign v1 --key "$TMP/app.key" --quote "$TMP/v1.quote" --event-log "$TMP/v1.events" --mutate trailing)
expect_contains signcert_v1_trailing_bytes "$(body "$r" | json "j['error']")" "Failed to parse csr"
r=$(rpc "$PORT" - SignCert '{"api_version":3,"csr":"00","signature":"00"}')
expect_eq signcert_api_version_3 "$(body "$r" | json "j['error']")" "Unsupported API version: 3"

# --- the release log ----------------------------------------------------------
RL=$($PY - "$TMP/release.log" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(" ".join("%s:%s" % (r["method"], r["decision"]) for r in rows))
EOF
)
expect_contains release_log_allowed "$RL" "GetAppKey:allowed"
expect_contains release_log_denied "$RL" "GetAppKey:denied"
expect_contains release_log_error "$RL" "GetAppKey:error"
expect_contains release_log_kms_allowed "$RL" "GetKmsKey:allowed"
expect_contains release_log_kms_denied "$RL" "GetKmsKey:denied"
expect_contains release_log_signcert_allowed "$RL" "SignCert:allowed"
expect_contains release_log_signcert_denied "$RL" "SignCert:denied"
LAST_ALLOWED=$($PY - "$TMP/release.log" "$APP" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
r = [r for r in rows if r["decision"] == "allowed" and r["method"] == "GetAppKey"][0]
print(r["app_id"], r["instance_id"], r["compose_hash"], r["tcb_status"], len(r["caller_cert_sha256"]))
EOF
)
expect_eq release_log_identity "$LAST_ALLOWED" "$APP $INST $CH UpToDate 64"
check release_log_chain_independent $PY tests/tools/audit_check.py "$TMP/release.log"
check release_log_chain_kmsctl "$BUILD/dstack-kmsctl" audit verify "$TMP/release.log"
# a removed line and an edited line are found, at the same line by both verifiers
sed '3d' "$TMP/release.log" >"$TMP/removed.log"
out=$("$BUILD/dstack-kmsctl" audit verify "$TMP/removed.log"); rc=$?
expect_eq audit_verify_removed_line_exit "$rc" 1
expect_contains audit_verify_removed_line "$out" "BROKEN at line 3: seq 4 follows seq 2: 1 line(s) missing"
expect_contains audit_check_removed_line "$($PY tests/tools/audit_check.py "$TMP/removed.log")" "BROKEN 3:"
sed '2s/"decision":"[a-z]*"/"decision":"allowed"/; 2s/"reason":"[^"]*"/"reason":""/' "$TMP/release.log" >"$TMP/edited.log"
if cmp -s "$TMP/edited.log" "$TMP/release.log"; then sed -i '2s/"tcb_status":"/"tcb_status":"X/' "$TMP/edited.log"; fi
out=$("$BUILD/dstack-kmsctl" audit verify "$TMP/edited.log")
expect_contains audit_verify_edited_line "$out" "BROKEN at line 3: prev does not match"
expect_contains audit_check_edited_line "$($PY tests/tools/audit_check.py "$TMP/edited.log")" "BROKEN 3: prev mismatch"
# a KMS does not extend an altered log: start-up stops naming the line
P9=$(free_port)
write_config "$TMP/kms9.toml" "$P9" "http://127.0.0.1:$WPORT" "$TMP/edited.log"
"$BUILD/dstack-kms" --config "$TMP/kms9.toml" >"$TMP/kms9.log" 2>&1 &
p=$!
for _ in $(seq 50); do kill -0 $p 2>/dev/null || break; sleep 0.1; done
if kill -0 $p 2>/dev/null; then kill $p; fail altered_log_stops_startup "still running"; else
  expect_contains altered_log_stops_startup "$(cat "$TMP/kms9.log")" "line 3 is broken"; fi
# a torn last line (a crash mid-write) is cut off at start, the chain goes on
cp "$TMP/release.log" "$TMP/torn.log"
printf '{"seq":999,"time":"partial' >>"$TMP/torn.log"
write_config "$TMP/kms9.toml" "$P9" "http://127.0.0.1:$WPORT" "$TMP/torn.log"
kms_up kms9b "$TMP/kms9.toml" "$P9" || fail torn_log_kms_starts "$(tail -3 "$TMP/kms9b.log")"
expect_contains torn_log_cut_with_warning "$(cat "$TMP/kms9b.log")" "cutting off a torn last line"
rpc "$P9" good GetAppKey '{"api_version":1}' >/dev/null
kill "$KMS_PID"; wait "$KMS_PID" 2>/dev/null
check torn_log_chain_continues "$BUILD/dstack-kmsctl" audit verify "$TMP/torn.log"
expect_eq torn_log_next_seq "$($PY -c "import json,sys; print(json.loads(open(sys.argv[1]).readlines()[-1])['seq'])" "$TMP/torn.log")" "$(( $(wc -l <"$TMP/release.log") + 1 ))"

# --- dstack-kmsctl as the app and the operator -----------------------------------
K=(--insecure --url "https://127.0.0.1:$PORT")
out=$("$BUILD/dstack-kmsctl" "${K[@]}" app-key --cert "$TMP/good.pem" --key "$TMP/good.key" 2>&1)
expect_contains kmsctl_app_key_verified "$out" "signature:       verified"
expect_contains kmsctl_app_key_disk_key "$out" "disk_crypt_key:  $(echo "$WANT" | json "j['disk_crypt_key']")"
out=$("$BUILD/dstack-kmsctl" "${K[@]}" app-key --cert "$TMP/good.pem" --key "$TMP/good.key" \
  --signer 02a594d1e64985d03463fc26e666eaf6a82b6c75834ca8c25810b25069b401ebc3 2>&1); rc=$?
expect_eq kmsctl_app_key_wrong_signer_fails "$rc" 1
expect_contains kmsctl_app_key_wrong_signer_reason "$out" "k256_signature is not by the KMS root key"
out=$("$BUILD/dstack-kmsctl" "${K[@]}" app-key --cert "$TMP/denied.pem" --key "$TMP/denied.key" 2>&1)
expect_contains kmsctl_app_key_denied "$out" "App not allowed: Boot denied"
out=$("$BUILD/dstack-kmsctl" "${K[@]}" kms-key --cert "$TMP/good.pem" --key "$TMP/good.key" 2>&1)
expect_contains kmsctl_kms_key_matches "$out" "matches GetMeta: yes"
if echo "$out" | grep -q "PRIVATE KEY"; then fail kmsctl_kms_key_no_secrets "key printed"; else pass kmsctl_kms_key_no_secrets; fi
out=$("$BUILD/dstack-kmsctl" "${K[@]}" sign-cert --key "$TMP/app.key" --attestation "$TMP/app.att" \
  --subject svc.example --alt-name svc.example --usage-server-auth --out-chain "$TMP/kchain.pem" 2>&1)
expect_contains kmsctl_sign_cert_verified "$out" "chain: verified up to the root CA"
expect_eq kmsctl_sign_cert_three_certs "$(grep -c 'BEGIN CERTIFICATE' "$TMP/kchain.pem")" 3
out=$("$BUILD/dstack-kmsctl" "${K[@]}" sign-cert --key "$TMP/other.key" --attestation "$TMP/app.att" 2>&1); rc=$?
expect_eq kmsctl_sign_cert_unbound_fails "$rc" 1
expect_contains kmsctl_sign_cert_unbound_reason "$out" "Quote verification failed"
SEQ=$($PY -c "import json,sys; print(json.loads(open(sys.argv[1]).readlines()[-1])['seq'])" "$TMP/release.log")
check journal_carries_seq grep -q "release seq=$SEQ " "$TMP/kms.log"

# --- webhook down / hanging: clear errors within the timeout ------------------
DEAD=$(free_port)
P2=$(free_port)
write_config "$TMP/kms2.toml" "$P2" "http://127.0.0.1:$DEAD" "$TMP/release2.log"
kms_up kms2 "$TMP/kms2.toml" "$P2" || fail kms2_starts "$(tail -3 "$TMP/kms2.log")"
r=$(rpc "$P2" good GetAppKey '{"api_version":1}')
expect_contains webhook_down_clear_error "$(body "$r" | json "j['error']")" "App not allowed: auth api http://127.0.0.1:$DEAD unreachable"
kill "$KMS_PID"; wait "$KMS_PID" 2>/dev/null
HPORT=$(free_port)
start_bg "$TMP/hang.log" $PY tests/tools/hang_server.py "$HPORT"
sleep 0.3
write_config "$TMP/kms3.toml" "$P2" "http://127.0.0.1:$HPORT" "$TMP/release3.log"
kms_up kms3 "$TMP/kms3.toml" "$P2" || fail kms3_starts "$(tail -3 "$TMP/kms3.log")"
t0=$(date +%s)
r=$(rpc "$P2" good GetAppKey '{"api_version":1}')
t1=$(date +%s)
expect_contains webhook_hang_clear_error "$(body "$r" | json "j['error']")" "App not allowed: auth api"
check webhook_hang_answered_within_timeout test $((t1 - t0)) -le 10
kill "$KMS_PID"; wait "$KMS_PID" 2>/dev/null

# --- a release log that cannot be written: no keys, KMS keeps serving ---------
MNT="$TMP/small"
mkdir -p "$MNT"
if mount -t tmpfs -o size=16k tmpfs "$MNT" 2>/dev/null; then
  write_config "$TMP/kms4.toml" "$P2" "http://127.0.0.1:$WPORT" "$MNT/release.log"
  kms_up kms4 "$TMP/kms4.toml" "$P2" || fail kms4_starts "$(tail -3 "$TMP/kms4.log")"
  dd if=/dev/zero of="$MNT/fill" bs=1k count=64 2>/dev/null
  r=$(rpc "$P2" good GetAppKey '{"api_version":1}')
  expect_contains full_fs_release_refused "$(body "$r" | json "j.get('error','')")" "release log unavailable"
  check full_fs_no_keys_sent bash -c "! echo '$(body "$r")' | grep -q disk_crypt_key"
  check full_fs_kms_still_serves curl -sfk --max-time 5 -o /dev/null "https://127.0.0.1:$P2/health"
  rm -f "$MNT/fill"
  r=$(rpc "$P2" good GetAppKey '{"api_version":1}')
  expect_eq full_fs_recovers_when_space_returns "$(status "$r")" 200
  kill "$KMS_PID"; wait "$KMS_PID" 2>/dev/null
  check full_fs_chain_intact "$BUILD/dstack-kmsctl" audit verify "$MNT/release.log"
  # a read-only file system is found at start-up (a writable fd keeps a
  # mount from going read-only later): start-up stops naming the path
  mount -o remount,ro "$MNT"
  "$BUILD/dstack-kms" --config "$TMP/kms4.toml" >"$TMP/kms5.log" 2>&1 &
  p=$!
  for _ in $(seq 50); do kill -0 $p 2>/dev/null || break; sleep 0.1; done
  if kill -0 $p 2>/dev/null; then kill $p; fail readonly_log_stops_startup "still running"; else
    expect_contains readonly_log_stops_startup "$(cat "$TMP/kms5.log")" "$MNT/release.log"; fi
  umount "$MNT"
else
  echo "SKIP: release_log_full_fs: cannot mount a tmpfs here (needs CAP_SYS_ADMIN)"
fi
finish
