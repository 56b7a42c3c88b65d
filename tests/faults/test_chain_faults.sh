#!/usr/bin/env bash
# test_chain_faults.sh — the fault matrix, chain rows: the Ethereum JSON-RPC
# behind dstack-auth-eth misbehaves while a dstack-kms uses that auth-eth as
# its webhook. The fault sits between auth-eth and anvil (fault_server.py
# forwarding to anvil): the RPC answers HTTP 429, hangs, answers a body that
# is not JSON, or answers JSON that is no answer to the request. For each
# row: auth-eth answers within its deadline (ETH_RPC_TIMEOUT_MS) with
# isAllowed false and the reason "authorization backend unavailable", counts
# the specific RPC failure in its metrics and logs it; the KMS refuses
# GetAppKey with 400 naming that reason, releases no key, logs the refusal;
# KMS and auth-eth stay up; the key set and the release log are intact; once
# the RPC is well again both allow. The simulated app is a factory app on the
# local chain (any device, the test compose hash; the fixture's OS image).
# Prints "SKIP: chain_faults: ..." and exits 0 when anvil is unavailable.
set -u
cd "$(dirname "$0")/../.."
. tests/faults/lib.sh
. tests/integration/chain.sh
AE="$BUILD/dstack-auth-eth"
need_tools
[ -x "$AE" ] || { fail built "missing $AE (make BUILD=$BUILD all)"; finish; }

out=$(chain_require 2>&1)
crc=$?
if [ $crc -ne 0 ]; then
  echo "SKIP: chain_faults: local chain (anvil) unavailable: $(echo "$out" | tail -1 | sed 's/^SKIP: //; s/^FAIL: //')"
  exit 0
fi

RPC_TIMEOUT=1200 # auth-eth's ETH_RPC_TIMEOUT_MS: below the KMS's 2 s webhook timeout
BOUND=$((RPC_TIMEOUT + 2000))
UNAVAIL='{"isAllowed":false,"reason":"authorization backend unavailable","gatewayAppId":""}'
ALLOW='{"isAllowed":true,"reason":"","gatewayAppId":"gateway-app-id-test"}'
ms() { echo $(($(date +%s%N) / 1000000)); }

pki
pccs_start || finish
chain_start || finish
chain_deploy || finish
chain_fixture || finish
# the simulated app: a factory app allowing the test compose hash on any device
CAPP=$(chain_manage deploy-app --allow-any-device --compose-hash "0x$CH" 2>"$TMP/deploy-app.err" |
  grep '"deploy-app"' | json 'j["app"]')
case "$CAPP" in 0x*) pass chain_app_deployed ;; *) fail chain_app_deployed "$(tail -2 "$TMP/deploy-app.err")"; finish ;; esac

# the RPC auth-eth talks to: a fault server forwarding to anvil
RPORT=$(free_port)
fault_server rpc "$RPORT" "$ETH_RPC_URL" || finish
AEPORT=$(free_port)
start_bg "$TMP/auth-eth.log" env PORT="$AEPORT" HOST=127.0.0.1 ETH_RPC_URL="http://127.0.0.1:$RPORT" \
  KMS_CONTRACT_ADDR="$KMS_CONTRACT_ADDR" ETH_RPC_TIMEOUT_MS=$RPC_TIMEOUT ETH_HEAD_POLL_MS=200 "$AE"
AE_PID=$BG_PID
wait_log "$TMP/auth-eth.log" "KMS contract loaded" 200 ||
  { fail auth_eth_starts "$(tail -3 "$TMP/auth-eth.log")"; finish; }

# the KMS with auth-eth as its webhook (timeout 2 s)
PORT=$(free_port)
mkdir -p "$TMP/k"
sim_kms_config "$TMP/k/kms.toml" "$PORT" "http://127.0.0.1:$AEPORT" "$TMP/k/release.log" "$PCCS_PORT"
sed -i "s#$TMP/certs#$TMP/k/certs#g" "$TMP/k/kms.toml"
kms_start k "$TMP/k/kms.toml" "$PORT" || { fail kms_starts "$(tail -3 "$TMP/k.log")"; finish; }
"$SIM" ratls-cert --pki "$TMP/pki" --tmp-ca-cert "$TMP/k/certs/tmp-ca.crt" --tmp-ca-key "$TMP/k/certs/tmp-ca.key" \
  --app-id "${CAPP#0x}" --compose-hash "$CH" --instance-id "$INST" --os-image-hash "${FIX_OS_IMAGE#0x}" \
  --out-cert "$TMP/app.pem" --out-key "$TMP/app.key" >/dev/null 2>"$TMP/app.err" ||
  { fail simtee_cert_app "$(cat "$TMP/app.err")"; finish; }
healthy warmup "$PORT" app
FP=$(keyset_fp "$TMP/k/certs")

# a webhook request for the simulated app, sent to auth-eth directly
BODY=$(printf '{"appId":"%s","composeHash":"0x%s","instanceId":"0x%s","deviceId":"0x%s","mrAggregated":"0x%s","osImageHash":"%s","tcbStatus":"UpToDate","advisoryIds":[]}' \
  "$CAPP" "$CH" "$INST" "$(printf '44%.0s' $(seq 32))" "$(printf '22%.0s' $(seq 32))" "$FIX_OS_IMAGE")
# direct — one POST /bootAuth/app; sets DST, DBODY and DMS (elapsed ms)
direct() {
  local t0
  t0=$(ms)
  DBODY=$(curl -s --max-time 10 -o - -w '\n%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "$BODY" "http://127.0.0.1:$AEPORT/bootAuth/app")
  DMS=$(($(ms) - t0))
  DST=$(echo "$DBODY" | tail -1)
  DBODY=$(echo "$DBODY" | sed '$d')
}
# rpc_calls RESULT — auth-eth's count of RPC calls with that result (all providers)
rpc_calls() {
  curl -s --max-time 5 "http://127.0.0.1:$AEPORT/metrics" |
    awk -v r="result=\"$1\"" 'index($0, "auth_eth_rpc_calls_total{") == 1 && index($0, r) { n += $NF } END { print n + 0 }'
}
# until_allowed NAME — direct requests, 0.1 s apart, for at most 10 s until allowed
until_allowed() {
  local i
  for i in $(seq 100); do
    direct
    [ "$DBODY" = "$ALLOW" ] && { pass "$1"; return 0; }
    sleep 0.1
  done
  fail "$1" "still $DST '$DBODY' after 10 s"
}
until_allowed warmup_auth_eth_allows

# row MODE METRIC-RESULT LOG-TEXT
row() {
  local mode=$1 metric=$2 logtext=$3 before calls r t0 el
  before=$(log_lines "$TMP/k/release.log")
  calls=$(rpc_calls "$metric")
  set_mode rpc "$mode"
  sleep 0.3 # a head poll meets the fault too
  direct
  expect_eq "chain_${mode}_auth_eth_answer" "$DST $DBODY" "200 $UNAVAIL"
  if [ "$DMS" -lt "$BOUND" ]; then pass "chain_${mode}_auth_eth_within_deadline"; else
    fail "chain_${mode}_auth_eth_within_deadline" "$DMS ms >= $BOUND ms"; fi
  echo "  (chain $mode: auth-eth answered in $DMS ms, ETH_RPC_TIMEOUT_MS=$RPC_TIMEOUT)"
  t0=$(ms)
  r=$(appkey "$PORT" app 30)
  el=$(($(ms) - t0))
  expect_eq "chain_${mode}_kms_refused_400" "$(status "$r")" 400
  expect_contains "chain_${mode}_kms_names_webhook_reason" "$(errmsg "$r")" "Boot denied: authorization backend unavailable"
  if [ "$el" -lt "$BOUND" ]; then pass "chain_${mode}_kms_within_deadline"; else
    fail "chain_${mode}_kms_within_deadline" "$el ms >= $BOUND ms"; fi
  no_keys "chain_${mode}" "$r"
  still_alive "chain_${mode}" "$KPID"
  if alive "$AE_PID"; then pass "chain_${mode}_auth_eth_alive"; else fail "chain_${mode}_auth_eth_alive" "auth-eth (pid $AE_PID) is gone"; fi
  expect_eq "chain_${mode}_refusal_logged" "$(log_lines "$TMP/k/release.log")" $((before + 1))
  intact "chain_${mode}" "$TMP/k/certs" "$FP" "$TMP/k/release.log" "$before"
  if [ "$(rpc_calls "$metric")" -gt "$calls" ]; then pass "chain_${mode}_rpc_${metric}_counted"; else
    fail "chain_${mode}_rpc_${metric}_counted" "auth_eth_rpc_calls_total{result=\"$metric\"} still $calls"; fi
  if wait_log "$TMP/auth-eth.log" "$logtext" 60; then pass "chain_${mode}_auth_eth_logs_cause"; else
    fail "chain_${mode}_auth_eth_logs_cause" "no '$logtext' in: $(tail -2 "$TMP/auth-eth.log")"; fi
  set_mode rpc ok
  until_allowed "chain_${mode}_after_auth_eth_allows"
  healthy "chain_${mode}_after" "$PORT" app
}
row 429 rate_limited "127.0.0.1:$RPORT is rate-limiting (HTTP 429)"
row hang timeout "127.0.0.1:$RPORT timed out after $RPC_TIMEOUT ms"
row garbage rpc_error "JSON-RPC answer is not JSON"
row badrpc rpc_error "JSON-RPC answer does not match the request"
finish
