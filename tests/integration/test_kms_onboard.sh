#!/usr/bin/env bash
# test_kms_onboard.sh — onboarding and replication as an operator runs them
# (kms-protocol §1, §12): two KMS processes on one machine, each with its own
# simulated guest agent, both attesting themselves (attest_rpc_cert and
# enforce_self_authorization on) against a mock PCCS and a webhook. A starts
# with no key set and serves the onboard service; Bootstrap (once only),
# Finish, then the RPC over TLS. B onboards from A; an app then gets
# byte-identical keys from A and B. A B that A's policy denies gets nothing
# (and A's release log records the denial); a B whose policy denies A
# refuses to onboard from it; Finish without a key set is refused and the
# onboard service keeps serving. Every failure leaves B's cert_dir empty.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
SIM="$BUILD/tests/simtee"
CTL="$BUILD/dstack-kmsctl"
[ -x "$SIM" ] || { fail simtee_built "missing $SIM (make test builds it)"; finish; }

sim_pki_pccs 42

CH=c143116f$(printf '00%.0s' $(seq 28))
KMS_A=a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0
KMS_B=b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0
KMS_C=c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0 # denied by A's policy
KMS_D=d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0 # its policy denies A

agent() { # agent NAME APP_ID
  start_bg "$TMP/agent-$1.log" "$SIM" agent --pki "$TMP/pki" --listen "unix:$TMP/agent-$1.sock" \
    --app-id "$2" --compose-hash "$CH" --instance-id "$(printf '%s' "$2" | tr a-f 1-6)"
  for _ in $(seq 50); do [ -S "$TMP/agent-$1.sock" ] && break; sleep 0.1; done
}
for n in A B C D; do v=KMS_$n; agent "$n" "${!v}"; done

WA=$(free_port)
WEBHOOK_BODIES="$TMP/wa.bodies" WEBHOOK_DENY_APPS="$KMS_C" start_bg "$TMP/wa.log" $PY tests/tools/fake_webhook.py "$WA"
WD=$(free_port)
WEBHOOK_DENY_APPS="$KMS_A" start_bg "$TMP/wd.log" $PY tests/tools/fake_webhook.py "$WD"
wait_http "http://127.0.0.1:$WA/" 100
wait_http "http://127.0.0.1:$WD/" 100

# kms_config NAME RPC_PORT ONBOARD_PORT WEBHOOK_PORT
kms_config() {
  local d="$TMP/$1"
  mkdir -p "$d"
  sim_kms_config "$d/kms.toml" "$2" "http://127.0.0.1:$4" "$d/release.log" "$PCCS_PORT"
  sed -i "s|$TMP/certs|$d/certs|g; s|$TMP/collateral|$d/collateral|; s/^attest_rpc_cert = false/attest_rpc_cert = true/; s/^enforce_self_authorization = false/enforce_self_authorization = true/; /^auto_bootstrap_domain/d" "$d/kms.toml"
  printf 'address = "127.0.0.1"\nport = %s\n' "$3" >>"$d/kms.toml"
}
start_kms() { # start_kms NAME -> PID in KPID_<NAME>; E runs with B's agent (an allowed replica)
  local ag=$1; [ "$1" = E ] && ag=B
  DSTACK_AGENT_ADDRESS="unix:$TMP/agent-$ag.sock" start_bg "$TMP/$1/kms.log" "$BUILD/dstack-kms" --config "$TMP/$1/kms.toml"
  eval "KPID_$1=$BG_PID"
}
wait_onboard() { wait_http "http://127.0.0.1:$1/health" 100; }
empty_dir() { [ -z "$(ls -A "$1" 2>/dev/null | grep -vE '^\.(staging|kms\.lock)$')" ]; }

# ---- A: onboard service, Bootstrap once, Finish, then TLS -------------------
PA=$(free_port); OA=$(free_port)
kms_config A "$PA" "$OA" "$WA"
start_kms A
wait_onboard "$OA" || { fail a_onboard_service "$(tail -5 "$TMP/A/kms.log")"; finish; }
expect_contains a_logs_onboarding "$(cat "$TMP/A/kms.log")" "serving the onboard service on http://127.0.0.1:$OA"
page=$(curl -s --max-time 5 "http://127.0.0.1:$OA/")
expect_contains page_served "$page" "<title>dstack KMS onboarding</title>"
case "$page" in *"src=\"http"*|*"href=\"http"*|*"//unpkg"*|*"cdn"*) fail page_self_contained "the page names an external URL" ;; *) pass page_self_contained ;; esac
info=$(curl -s --max-time 20 -X POST -H 'Content-Type: application/json' -d null "http://127.0.0.1:$OA/prpc/Onboard.GetAttestationInfo?json")
expect_eq attestation_info_variant "$(echo "$info" | json 'j["tee_variant"]')" dstack-tdx
out=$("$CTL" --url "http://127.0.0.1:$OA" finish 2>&1); rc=$?
expect_eq finish_without_keys_fails "$rc" 1
expect_contains finish_without_keys_says_why "$out" "Finish refused: there is no key set"
check onboard_keeps_serving_after_refused_finish curl -sf --max-time 5 "http://127.0.0.1:$OA/health" -o /dev/null
out=$("$CTL" --url "http://127.0.0.1:$OA" bootstrap --domain localhost 2>&1); rc=$?
expect_eq bootstrap_ok "$rc" 0
K256_A=$(echo "$out" | awk '/^k256_pubkey/ {print $2}')
[ ${#K256_A} -eq 66 ] && pass bootstrap_prints_k256 || fail bootstrap_prints_k256 "$out"
expect_contains bootstrap_attested "$out" "bytes"
out=$("$CTL" --url "http://127.0.0.1:$OA" bootstrap --domain localhost 2>&1); rc=$?
expect_eq second_bootstrap_refused "$rc" 1
expect_contains second_bootstrap_reason "$out" "KMS has already been bootstrapped"
[ -s "$TMP/A/certs/bootstrap-info.json" ] && pass bootstrap_info_written || fail bootstrap_info_written "missing"
check finish_ok "$CTL" --url "http://127.0.0.1:$OA" finish
wait_http "https://127.0.0.1:$PA/health" 100 || fail a_serves_tls "$(tail -5 "$TMP/A/kms.log")"
meta_a=$(curl -sk --max-time 10 -d '{}' "https://127.0.0.1:$PA/prpc/GetMeta?json")
expect_eq a_meta_k256_is_bootstraps "$(echo "$meta_a" | json 'j["k256_pubkey"]')" "$K256_A"
openssl x509 -in "$TMP/A/certs/rpc.crt" -noout -text 2>/dev/null | grep -q "1.3.6.1.4.1.62397.1.8" &&
  pass a_rpc_cert_attested || fail a_rpc_cert_attested "no attestation extension in rpc.crt"
# a client checks the KMS itself: the attestation in its TLS certificate
out=$("$CTL" --url "https://127.0.0.1:$PA" --insecure meta --verify-server \
  --pccs "http://127.0.0.1:$PCCS_PORT/sgx/certification/v4" --root "$TMP/root.der" 2>&1); rc=$?
expect_eq verify_server_ok "$rc" 0
expect_contains verify_server_verified "$out" "server attestation: verified (bound to the TLS key"
expect_contains verify_server_prints_app_id "$out" "app_id:        $KMS_A"
out=$("$CTL" --url "https://127.0.0.1:$PA" --insecure meta --verify-server \
  --pccs "http://127.0.0.1:$PCCS_PORT/sgx/certification/v4" 2>&1); rc=$?
expect_eq verify_server_other_root_fails "$rc" 1
expect_contains verify_server_other_root_reason "$out" "the KMS's server certificate does not verify"
grep -q '"/bootAuth/kms' "$TMP/wa.bodies" 2>/dev/null || grep -q 'bootAuth/kms' "$TMP/wa.bodies" &&
  pass a_self_authorized_on_the_webhook || fail a_self_authorized_on_the_webhook "no /bootAuth/kms call"

# ---- B onboards from A ---------------------------------------------------------
PB=$(free_port); OB=$(free_port)
kms_config B "$PB" "$OB" "$WA"
start_kms B
wait_onboard "$OB" || { fail b_onboard_service "$(tail -5 "$TMP/B/kms.log")"; finish; }
out=$("$CTL" --url "http://127.0.0.1:$OB" onboard --source "https://127.0.0.1:$PA" --domain localhost 2>&1); rc=$?
expect_eq onboard_ok "$rc" 0
expect_eq onboard_same_k256 "$(echo "$out" | awk '/^k256_pubkey/ {print $2}')" "$K256_A"
[ ! -e "$TMP/B/certs/bootstrap-info.json" ] && pass onboard_writes_no_bootstrap_info || fail onboard_writes_no_bootstrap_info "present"
check b_finish "$CTL" --url "http://127.0.0.1:$OB" finish
wait_http "https://127.0.0.1:$PB/health" 100 || fail b_serves_tls "$(tail -5 "$TMP/B/kms.log")"
grep -q '"method":"GetKmsKey".*"decision":"allowed"' "$TMP/A/release.log" &&
  pass a_release_log_records_handover || fail a_release_log_records_handover "$(tail -2 "$TMP/A/release.log")"

# the same app, the same keys from A and from B
"$SIM" app --pki "$TMP/pki" --out "$TMP" >/dev/null 2>"$TMP/app.err" || fail simtee_app "$(cat "$TMP/app.err")"
appkey() { curl -sk --max-time 20 --cert "$TMP/app.pem" --key "$TMP/app.key" -H 'Content-Type: application/json' -d '{"api_version":1}' "https://127.0.0.1:$1/prpc/GetAppKey?json"; }
ka=$(appkey "$PA"); kb=$(appkey "$PB")
for f in disk_crypt_key env_crypt_key k256_key k256_signature; do
  va=$(echo "$ka" | json "j['$f']" 2>/dev/null); vb=$(echo "$kb" | json "j['$f']" 2>/dev/null)
  if [ -n "$va" ] && [ "$va" = "$vb" ]; then pass "same_${f}_from_a_and_b"; else fail "same_${f}_from_a_and_b" "A '${va:0:40}' B '${vb:0:40}' (${kb:0:200})"; fi
done
APPID=1111111111111111111111111111111111111111 # simtee app's demo identity
pa=$(curl -sk --max-time 10 -d "{\"app_id\":\"$APPID\"}" "https://127.0.0.1:$PA/prpc/GetAppEnvEncryptPubKey?json" | json 'j["public_key"]')
pb=$(curl -sk --max-time 10 -d "{\"app_id\":\"$APPID\"}" "https://127.0.0.1:$PB/prpc/GetAppEnvEncryptPubKey?json" | json 'j["public_key"]')
[ -n "$pa" ] && [ "$pa" = "$pb" ] && pass same_env_pubkey_from_a_and_b || fail same_env_pubkey_from_a_and_b "A '$pa' B '$pb'"
meta_b=$(curl -sk --max-time 10 -d '{}' "https://127.0.0.1:$PB/prpc/GetMeta?json")
expect_eq same_meta_k256_from_a_and_b "$(echo "$meta_b" | json 'j["k256_pubkey"]')" "$K256_A"

# ---- C: A's policy denies it ----------------------------------------------------
PC=$(free_port); OC=$(free_port)
kms_config C "$PC" "$OC" "$WA"
start_kms C
wait_onboard "$OC" || fail c_onboard_service "$(tail -5 "$TMP/C/kms.log")"
out=$("$CTL" --url "http://127.0.0.1:$OC" onboard --source "https://127.0.0.1:$PA" --domain localhost 2>&1); rc=$?
expect_eq denied_replica_gets_nothing "$rc" 1
expect_contains denied_replica_reason "$out" "Failed to onboard"
expect_contains denied_replica_names_the_policy "$out" "is not registered"
empty_dir "$TMP/C/certs" && pass denied_replica_leaves_nothing || fail denied_replica_leaves_nothing "$(ls -A "$TMP/C/certs")"
grep -q "\"method\":\"GetKmsKey\",\"app_id\":\"$KMS_C\".*\"decision\":\"denied\"" "$TMP/A/release.log" &&
  pass a_release_log_records_denial || fail a_release_log_records_denial "$(grep GetKmsKey "$TMP/A/release.log" | tail -1)"
check c_onboard_service_still_serves curl -sf --max-time 5 "http://127.0.0.1:$OC/health" -o /dev/null

# ---- D: its policy denies A -----------------------------------------------------
PD=$(free_port); OD=$(free_port)
kms_config D "$PD" "$OD" "$WD"
start_kms D
wait_onboard "$OD" || fail d_onboard_service "$(tail -5 "$TMP/D/kms.log")"
n_before=$(grep -c GetKmsKey "$TMP/A/release.log")
out=$("$CTL" --url "http://127.0.0.1:$OD" onboard --source "https://127.0.0.1:$PA" --domain localhost 2>&1); rc=$?
expect_eq source_denied_refused "$rc" 1
expect_contains source_denied_reason "$out" "Failed to onboard: Source KMS is not allowed for onboarding: boot denied: app $KMS_A is not registered"
expect_eq source_denied_asks_no_keys "$(grep -c GetKmsKey "$TMP/A/release.log")" "$n_before"
empty_dir "$TMP/D/certs" && pass source_denied_leaves_nothing || fail source_denied_leaves_nothing "$(ls -A "$TMP/D/certs")"

# ---- a bad source URL and domain ------------------------------------------------
out=$("$CTL" --url "http://127.0.0.1:$OD" onboard --source "http://127.0.0.1:$PA" --domain localhost 2>&1)
expect_contains onboard_needs_https "$out" "source_url must be an https:// URL"
out=$("$CTL" --url "http://127.0.0.1:$OD" bootstrap --domain "bad_domain" 2>&1)
expect_contains bootstrap_checks_domain "$out" "domain"

# ---- kill -9 during onboarding: empty (retry works) or complete ----------------
PE=$(free_port); OE=$(free_port)
kms_config E "$PE" "$OE" "$WA"
n_complete=0; n_empty=0
for delay in 0.02 0.08 0.15 0.25 0.4; do
  rm -rf "$TMP/E/certs"
  start_kms E
  wait_onboard "$OE" || { fail "kill9_${delay}_starts" "$(tail -3 "$TMP/E/kms.log")"; continue; }
  "$CTL" --url "http://127.0.0.1:$OE" onboard --source "https://127.0.0.1:$PA" --domain localhost >/dev/null 2>&1 &
  cpid=$!
  sleep "$delay"
  kill -9 "$KPID_E" 2>/dev/null; wait "$KPID_E" 2>/dev/null; wait "$cpid" 2>/dev/null
  start_kms E
  for _ in $(seq 100); do
    curl -sf --max-time 1 "http://127.0.0.1:$OE/health" -o /dev/null 2>&1 && break
    curl -skf --max-time 1 "https://127.0.0.1:$PE/health" -o /dev/null 2>&1 && break
    sleep 0.1
  done
  if curl -skf --max-time 2 "https://127.0.0.1:$PE/health" -o /dev/null 2>&1; then
    n_complete=$((n_complete + 1))  # the commit had happened: a complete set, serving
    got=$(curl -sk --max-time 10 -d '{}' "https://127.0.0.1:$PE/prpc/GetMeta?json" | json 'j["k256_pubkey"]')
    expect_eq "kill9_${delay}_complete_set_is_as" "$got" "$K256_A"
  elif empty_dir "$TMP/E/certs"; then
    n_empty=$((n_empty + 1))
    out=$("$CTL" --url "http://127.0.0.1:$OE" onboard --source "https://127.0.0.1:$PA" --domain localhost 2>&1)
    expect_eq "kill9_${delay}_retry_works" "$(echo "$out" | awk '/^k256_pubkey/ {print $2}')" "$K256_A"
  else
    fail "kill9_${delay}_empty_or_complete" "$(ls -A "$TMP/E/certs") / $(tail -2 "$TMP/E/kms.log")"
  fi
  kill -9 "$KPID_E" 2>/dev/null; wait "$KPID_E" 2>/dev/null
done
echo "  (kill -9 during onboarding: $n_empty times empty then retried, $n_complete times complete)"

# ---- SIGTERM during onboarding stops cleanly ------------------------------------
kill -TERM "$KPID_D"
for _ in $(seq 50); do kill -0 "$KPID_D" 2>/dev/null || break; sleep 0.1; done
kill -0 "$KPID_D" 2>/dev/null && fail sigterm_in_onboarding "still running" || pass sigterm_in_onboarding
finish
