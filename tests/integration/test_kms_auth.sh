#!/usr/bin/env bash
# test_kms_auth.sh — the KMS with a webhook and with the static policy:
# GetMeta's chain info comes from the webhook's GET /, a webhook that is down
# or hangs gives a clear 400 within the configured timeout (never a hang), the
# static policy file feeds GetMeta, a missing static file stops start-up, and
# log lines carry journald priority prefixes when stderr is the journal.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh

# write_config FILE PORT AUTH-TOML — each config its own key set (one
# process per cert_dir), named after the file
write_config() {
  local cd
  cd="$TMP/certs-$(basename "$1" .toml)"
  cat >"$1" <<TOML
[default]
workers = 2
[rpc]
address = "127.0.0.1"
port = $2
[rpc.tls]
key = "$cd/rpc.key"
certs = "$cd/rpc.crt"
[rpc.tls.mutual]
ca_certs = "$cd/tmp-ca.crt"
[core]
cert_dir = "$cd"
attest_rpc_cert = false
enforce_self_authorization = false
[core.audit]
file = "$TMP/release.log"
[core.attestation]
collateral_cache_dir = "$TMP/collateral"
[core.onboard]
auto_bootstrap_domain = "localhost"
$3
TOML
}

kms_up() { # kms_up NAME CONFIG PORT
  start_bg "$TMP/$1.log" "$BUILD/dstack-kms" --config "$2"
  wait_http "https://127.0.0.1:$3/health" 100
}
C=(curl -sk --max-time 20)

# --- webhook answering ------------------------------------------------------
WPORT=$(free_port); KPORT=$(free_port)
WEBHOOK_LOG="$TMP/webhook.log" start_bg "$TMP/wh.log" $PY tests/tools/fake_webhook.py "$WPORT"
WH_PID=$BG_PID
wait_http "http://127.0.0.1:$WPORT/" 50
write_config "$TMP/wh.toml" "$KPORT" "[core.auth_api]
type = \"webhook\"
[core.auth_api.webhook]
url = \"http://127.0.0.1:$WPORT/secret-path?apikey=SECRET\"
timeout = \"2s\""
kms_up wh "$TMP/wh.toml" "$KPORT"
meta=$("${C[@]}" -X POST "https://127.0.0.1:$KPORT/prpc/GetMeta?json")
expect_eq webhook_getmeta_chain_info "$(echo "$meta" | json '[j["is_dev"], j["gateway_app_id"], j["kms_contract_address"], j["chain_id"], j["app_auth_implementation"]]')" \
  '[false, "0xgateway", "0x1234567890abcdef1234567890abcdef12345678", 31337, "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"]'
expect_contains webhook_info_is_get_of_exact_url "$(cat "$TMP/webhook.log")" "GET /secret-path?apikey=SECRET dstack-kms/0.6.0"
log=$(cat "$TMP/wh.log")
expect_contains webhook_startup_line_origin_only "$log" "Auth API configured: webhook at http://127.0.0.1:$WPORT"
if grep -q SECRET "$TMP/wh.log"; then fail webhook_url_secret_never_logged "found in log"; else pass webhook_url_secret_never_logged; fi

# --- webhook down: clear 400, fast -------------------------------------------
kill "$WH_PID"; wait "$WH_PID" 2>/dev/null
t0=$(date +%s%N)
r=$("${C[@]}" -w '\n%{http_code}' -X POST "https://127.0.0.1:$KPORT/prpc/GetMeta?json")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq webhook_down_getmeta_400 "$(echo "$r" | tail -1)" 400
expect_contains webhook_down_clear_message "$r" "auth api unreachable (details in the KMS log)"
case "$r" in *127.0.0.1*) fail webhook_down_error_names_no_origin "$r" ;; *) pass webhook_down_error_names_no_origin ;; esac
expect_contains webhook_down_logged_with_origin "$(cat "$TMP/wh.log")" "GetMeta failed: auth api http://127.0.0.1:$WPORT unreachable"
if echo "$r" | grep -q SECRET; then fail webhook_down_message_hides_url_secret "secret in error"; else pass webhook_down_message_hides_url_secret; fi
check webhook_down_answers_without_waiting test "$ms" -lt 2000
env=$("${C[@]}" -X POST -d '{"app_id":"1111111111111111111111111111111111111111"}' "https://127.0.0.1:$KPORT/prpc/GetAppEnvEncryptPubKey?json" | json 'len(j["public_key"])')
expect_eq env_pubkey_needs_no_webhook 64 "$env"

# --- webhook hanging: the 2 s timeout answers, the KMS stays responsive --------
start_bg "$TMP/wh2.log" $PY tests/tools/fake_webhook.py "$WPORT" hang
wait_http "http://127.0.0.1:$WPORT/x" 1 || true
sleep 0.5
t0=$(date +%s%N)
r=$("${C[@]}" -w '\n%{http_code}' -X POST "https://127.0.0.1:$KPORT/prpc/GetMeta?json")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq webhook_hang_getmeta_400 "$(echo "$r" | tail -1)" 400
expect_contains webhook_hang_timeout_message "$r" "timed out after 2000 ms"
check webhook_hang_bounded_by_timeout test "$ms" -lt 6000
echo "  (GetMeta against a hanging webhook answered in $ms ms with timeout 2 s)"
expect_eq health_while_webhook_hangs "$("${C[@]}" "https://127.0.0.1:$KPORT/health")" OK

# --- static policy ----------------------------------------------------------
cat >"$TMP/policy.json" <<'JSON'
{"gatewayAppId": "gw-static", "kmsContractAddr": "0x00000000000000000000000000000000000000aa",
 "chainId": 7, "appImplementation": "0x00000000000000000000000000000000000000bb",
 "osImages": [], "kms": {"mrAggregated": []}, "apps": {}}
JSON
SPORT=$(free_port)
write_config "$TMP/static.toml" "$SPORT" "[core.auth_api]
type = \"static\"
[core.auth_api.static]
file = \"$TMP/policy.json\""
kms_up static "$TMP/static.toml" "$SPORT"
meta=$("${C[@]}" -X POST "https://127.0.0.1:$SPORT/prpc/GetMeta?json")
expect_eq static_getmeta_info "$(echo "$meta" | json '[j["is_dev"], j["gateway_app_id"], j["chain_id"], j["kms_contract_address"]]')" \
  '[false, "gw-static", 7, "0x00000000000000000000000000000000000000aa"]'
expect_contains static_startup_line "$(cat "$TMP/static.log")" "Auth API configured: static policy from $TMP/policy.json"

write_config "$TMP/nostatic.toml" "$(free_port)" "[core.auth_api]
type = \"static\"
[core.auth_api.static]
file = \"$TMP/missing.json\""
out=$(timeout 10 "$BUILD/dstack-kms" --config "$TMP/nostatic.toml" 2>&1); rc=$?
expect_eq static_missing_file_stops_startup "$rc" 1
expect_contains static_missing_file_message "$out" "$TMP/missing.json"

# --- journald priority prefixes --------------------------------------------
JPORT=$(free_port)
write_config "$TMP/j.toml" "$JPORT" "[core.auth_api]
type = \"dev\""
: >"$TMP/journal.txt"
ino=$(stat -c '%d:%i' "$TMP/journal.txt")
JOURNAL_STREAM="$ino" "$BUILD/dstack-kms" --config "$TMP/j.toml" 2>>"$TMP/journal.txt" &
PIDS+=("$!"); JPID=$!
wait_http "https://127.0.0.1:$JPORT/health" 100
expect_contains journald_info_prefix "$(cat "$TMP/journal.txt")" "<6>KMS initialized successfully"
expect_contains journald_warning_prefix "$(cat "$TMP/journal.txt")" "<4>HOST MODE"
kill "$JPID"

# --- config errors stop start-up with file:line ------------------------------
printf '[rpc]\nport = "9100"\n' >"$TMP/bad.toml"
out=$("$BUILD/dstack-kms" --config "$TMP/bad.toml" 2>&1); rc=$?
expect_eq bad_config_exit_status "$rc" 1
expect_contains bad_config_file_line "$out" "$TMP/bad.toml:2: rpc.port must be an integer"
out=$("$BUILD/dstack-kms" --config "$TMP/absent.toml" 2>&1); rc=$?
expect_contains missing_config_message "$out" "cannot read config"
printf '[core]\nenforce_self_authorization = true\nattest_rpc_cert = false\n' >"$TMP/selfauth.toml"
out=$("$BUILD/dstack-kms" --config "$TMP/selfauth.toml" 2>&1); rc=$?
expect_contains self_authorization_needs_the_agent "$out" "enforce_self_authorization = true needs the dstack guest agent"
expect_contains self_authorization_names_the_agent "$out" "guest agent unix:/var/run/dstack"
out=$(DSTACK_AGENT_ADDRESS=tcp:1.2.3.4 "$BUILD/dstack-kms" --config "$TMP/selfauth.toml" 2>&1)
expect_contains agent_address_checked "$out" 'DSTACK_AGENT_ADDRESS "tcp:1.2.3.4" is neither unix:/path nor http://host:port'
# a guest agent that accepts and never answers: start-up stops at the
# configured timeout, naming the agent
$PY -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)
held = []
end = time.time() + 60
while time.time() < end:
    s.settimeout(max(0.1, end - time.time()))
    try: held.append(s.accept()[0])
    except OSError: pass
' "$TMP/hang.sock" &
PIDS+=("$!")
for _ in $(seq 50); do [ -S "$TMP/hang.sock" ] && break; sleep 0.1; done
printf '[core]\nenforce_self_authorization = true\nattest_rpc_cert = false\nguest_agent_timeout = "1s"\n' >"$TMP/hang.toml"
t0=$(date +%s%N)
out=$(DSTACK_AGENT_ADDRESS="unix:$TMP/hang.sock" timeout 20 "$BUILD/dstack-kms" --config "$TMP/hang.toml" 2>&1); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq hanging_agent_stops_start "$rc" 1
expect_contains hanging_agent_named "$out" "guest agent unix:$TMP/hang.sock: Info failed"
expect_contains hanging_agent_timed_out "$out" "timed out"
check hanging_agent_bounded_by_its_timeout [ "$ms" -ge 900 -a "$ms" -lt 10000 ]
finish
