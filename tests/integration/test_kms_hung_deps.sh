#!/usr/bin/env bash
# test_kms_hung_deps.sh — a hung webhook and a hung PCCS never stall the
# event loops (issue: no blocking I/O on a loop thread). Host mode, webhook
# timeout 20 s: while 64 GetMeta calls wait on the webhook and RA-TLS calls
# wait on collateral the PCCS never sends, /health and GetAppEnvEncryptPubKey
# are answered, and the systemd watchdog keeps being fed. The order is
# asserted (answered while all waiting calls are still pending), not a
# latency. A full pool answers "busy" at once; a request past
# [core] request_deadline gets "deadline exceeded".
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
SIM="$BUILD/tests/simtee"
[ -x "$SIM" ] || { fail simtee_built "missing $SIM (make test builds it)"; finish; }

"$SIM" pki --seed "$(printf '42%.0s' $(seq 32))" --out "$TMP/pki" >/dev/null || fail simtee_pki "pki failed"
cp "$TMP/pki/root_ca.der" "$TMP/root.der" 2>/dev/null ||
  openssl x509 -in "$TMP/pki/root_ca.pem" -outform DER -out "$TMP/root.der" 2>/dev/null

WH_PORT=$(free_port)
PCCS_PORT=$(free_port)
start_bg "$TMP/wh.log" $PY "$TOOLS/hang_server.py" "$WH_PORT" "$TMP/wh.count"
start_bg "$TMP/pccs.log" $PY "$TOOLS/hang_server.py" "$PCCS_PORT" "$TMP/pccs.count"
NOTIFY="$TMP/notify.sock"
start_bg "$TMP/notify.err" $PY "$TOOLS/notify_listener.py" "$NOTIFY" "$TMP/notify.log"
for _ in $(seq 50); do [ -S "$NOTIFY" ] && break; sleep 0.1; done

PORT=$(free_port)
write_conf() { # write_conf MAX_BLOCKING DEADLINE
  cat >"$TMP/kms.toml" <<TOML
[default]
workers = 2
max_blocking = $1
[rpc]
address = "127.0.0.1"
port = $PORT
# every test client is 127.0.0.1: the 68 parked calls must not meet the
# per-client cap (default 64; tests/integration/test_kms_admission.sh)
max_connections_per_client = 1000
[rpc.tls]
key = "$TMP/certs/rpc.key"
certs = "$TMP/certs/rpc.crt"
[rpc.tls.mutual]
ca_certs = "$TMP/certs/tmp-ca.crt"
[core]
cert_dir = "$TMP/certs"
attest_rpc_cert = false
enforce_self_authorization = false
request_deadline = "$2"
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
type = "webhook"
[core.auth_api.webhook]
url = "http://127.0.0.1:$WH_PORT"
timeout = "20s"
[core.onboard]
auto_bootstrap_domain = "localhost"
TOML
}
write_conf 128 60s
NOTIFY_SOCKET="$NOTIFY" WATCHDOG_USEC=1000000 start_bg "$TMP/kms.log" "$BUILD/dstack-kms" --config "$TMP/kms.toml"
KMS_PID=$BG_PID
wait_http "https://127.0.0.1:$PORT/health" 100 || { fail kms_starts "$(tail -3 "$TMP/kms.log")"; finish; }

APP=5bb4ff9a3837357f19dc176407a5709c62eb6c56
"$SIM" ratls-cert --pki "$TMP/pki" --tmp-ca-cert "$TMP/certs/tmp-ca.crt" --tmp-ca-key "$TMP/certs/tmp-ca.key" \
  --app-id "$APP" --out-cert "$TMP/app.pem" --out-key "$TMP/app.key" >/dev/null 2>"$TMP/sim.err" ||
  fail simtee_cert "$(cat "$TMP/sim.err")"

# 64 GetMeta calls, each waiting on the hung webhook, and 4 RA-TLS calls
# whose collateral is not cached (the PCCS never answers)
WAITERS=()
for i in $(seq 64); do
  curl -sk --max-time 90 -o "$TMP/meta.$i.body" -w '%{http_code}' \
    "https://127.0.0.1:$PORT/prpc/GetMeta?json" >"$TMP/meta.$i.code" 2>/dev/null &
  WAITERS+=($!)
  PIDS+=($!)
done
for i in $(seq 4); do
  curl -sk --max-time 90 --cert "$TMP/app.pem" --key "$TMP/app.key" -o "$TMP/ratls.$i.body" \
    -w '%{http_code}' "https://127.0.0.1:$PORT/prpc/GetTempCaCert?json" >"$TMP/ratls.$i.code" 2>/dev/null &
  WAITERS+=($!)
  PIDS+=($!)
done
# bounded wait until the webhook holds all 64 and the PCCS at least one
for _ in $(seq 150); do
  [ "$(cat "$TMP/wh.count" 2>/dev/null || echo 0)" -ge 64 ] &&
    [ "$(cat "$TMP/pccs.count" 2>/dev/null || echo 0)" -ge 1 ] && break
  sleep 0.1
done
expect_eq webhook_holds_64_getmeta "$(cat "$TMP/wh.count" 2>/dev/null)" 64
check pccs_holds_a_collateral_fetch test "$(cat "$TMP/pccs.count" 2>/dev/null || echo 0)" -ge 1
WD_BEFORE=$(grep -c 'WATCHDOG=1' "$TMP/notify.log" 2>/dev/null || echo 0)

h=$(curl -sk --max-time 5 -w ' %{http_code}' "https://127.0.0.1:$PORT/health")
expect_eq health_answered_while_deps_hang "$h" "OK 200"
r=$(curl -sk --max-time 5 -w '\n%{http_code}' \
  "https://127.0.0.1:$PORT/prpc/GetAppEnvEncryptPubKey?json" -d "{\"app_id\":\"$APP\"}")
expect_eq env_pubkey_answered_while_deps_hang "$(echo "$r" | tail -1)" 200
expect_contains env_pubkey_has_key "$r" '"public_key"'
sleep 2.5
WD_AFTER=$(grep -c 'WATCHDOG=1' "$TMP/notify.log" 2>/dev/null || echo 0)
check watchdog_fed_while_deps_hang test "$WD_AFTER" -ge $((WD_BEFORE + 3))
alive=0
for p in "${WAITERS[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
expect_eq all_68_waiting_calls_still_pending_after_the_answers "$alive" 68
check ready_was_sent grep -q 'READY=1' "$TMP/notify.log"

# the webhook timeout (20 s) then ends every GetMeta with a clear error
for p in "${WAITERS[@]}"; do wait "$p" 2>/dev/null; done
codes=$(for f in "$TMP"/meta.*.code; do cat "$f"; echo; done | sort | uniq -c | tr -s ' ')
expect_eq getmeta_all_400_after_webhook_timeout "$codes" " 64 400"
expect_contains getmeta_timeout_reason "$(cat "$TMP/meta.1.body")" "auth api timed out after 20000 ms (details in the KMS log)"
case "$(cat "$TMP/meta.1.body")" in *127.0.0.1*) fail getmeta_error_names_no_origin "$(cat "$TMP/meta.1.body")" ;; *) pass getmeta_error_names_no_origin ;; esac
kill "$KMS_PID"; wait "$KMS_PID" 2>/dev/null

# a full pool answers "busy" at once; a call past the deadline gets "deadline exceeded"
write_conf 1 2s
start_bg "$TMP/kms2.log" "$BUILD/dstack-kms" --config "$TMP/kms.toml"
KMS_PID=$BG_PID
wait_http "https://127.0.0.1:$PORT/health" 100 || { fail kms2_starts "$(tail -3 "$TMP/kms2.log")"; finish; }
# one pool thread and one queue slot: two calls fill it
curl -sk --max-time 30 "https://127.0.0.1:$PORT/prpc/GetMeta?json" >"$TMP/d1.body" 2>/dev/null &
D1=$!
PIDS+=($D1)
curl -sk --max-time 30 "https://127.0.0.1:$PORT/prpc/GetMeta?json" >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.5
r=$(curl -sk --max-time 5 -w '\n%{http_code}' "https://127.0.0.1:$PORT/prpc/GetMeta?json")
expect_eq full_pool_answers_400 "$(echo "$r" | tail -1)" 400
expect_contains full_pool_answers_busy "$r" '"error": "busy: all 1 blocking workers are in use'
wait "$D1" 2>/dev/null
expect_contains deadline_exceeded_answer "$(cat "$TMP/d1.body")" "deadline exceeded: GetMeta did not finish within 2000 ms"
finish
