#!/usr/bin/env bash
# test_auth_eth_providers.sh — dstack-auth-eth over several JSON-RPC
# providers, on real anvil chains that share history: chain 1 carries the
# project's contracts (tests/integration/chain.sh), chains 2 and 3 are
# `anvil --fork-url` of it (same block hashes), and on chain 3 the app's
# registration is erased with anvil_setStorageAt (a provider that lies about
# state at the same block hash). Checks: ETH_RPC_QUORUM=2 over two honest
# providers allows; with the liar it refuses ("authorization backend
# unavailable"), logs the disagreement naming both providers and counts it;
# ETH_RPC_QUORUM=1 fails over from a dead, a rate-limiting and a frozen
# provider within one request and one ETH_RPC_TIMEOUT_MS; a provider on
# another chain id is never used; ETH_RPC_QUORUM above the number of
# providers stops start-up; ETH_FINALITY_CONFIRMATIONS=2 reads at head-2 and
# a head below the depth fails closed; GET /metrics; no URL userinfo in logs or metrics.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. tests/integration/chain.sh

AE="$BUILD/dstack-auth-eth"
FAKE="$TOOLS/fake_eth_rpc.py"
ALLOW='{"isAllowed":true,"reason":"","gatewayAppId":"gateway-app-id-test"}'
UNAVAIL='{"isAllowed":false,"reason":"authorization backend unavailable","gatewayAppId":""}'
deny() { echo "{\"isAllowed\":false,\"reason\":\"$1\",\"gatewayAppId\":\"gateway-app-id-test\"}"; }
ms() { echo $(($(date +%s%N) / 1000000)); }
h() { printf "$1%.0s" $(seq "$2"); }

ae_start() { # NAME VAR=value ... — sets P, AE_PID, AE_LOG
  local name=$1
  shift
  P=$(free_port)
  AE_LOG="$TMP/$name.log"
  start_bg "$AE_LOG" env PORT="$P" KMS_CONTRACT_ADDR="$KMS_CONTRACT_ADDR" "$@" "$AE"
  AE_PID=$BG_PID
  wait_log "$AE_LOG" "Server listening on" 100
}
post() { # PATH BODY — on $P; sets ST, BODY
  ST=$(curl -s --max-time 20 -o "$TMP/resp" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "$2" "http://127.0.0.1:$P$1")
  BODY=$(cat "$TMP/resp")
}
expect() { # NAME STATUS BODY
  if [ "$ST" = "$2" ] && [ "$BODY" = "$3" ]; then pass "$1"; else fail "$1" "got $ST '${BODY:0:300}', want $2 '$3'"; fi
}
until_body() { # NAME BODY WANT SECONDS
  local i
  for i in $(seq $(($4 * 10))); do
    post /bootAuth/app "$2"
    [ "$BODY" = "$3" ] && { pass "$1"; return 0; }
    sleep 0.1
  done
  fail "$1" "still '$BODY' after $4 s, want '$3'"
}
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
rpc_at() { # URL METHOD [PARAMS]
  curl -s --max-time 5 -H 'content-type: application/json' \
    --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":${3:-[]}}" "$1"
}
head_hash() { rpc_at "$1" eth_getBlockByNumber '["latest",false]' | json 'j["result"]["hash"]'; }
# anvil_at PORT ARGS... — another anvil; sets ANVIL_PID
anvil_at() {
  local port=$1
  shift
  start_bg "$TMP/anvil-$port.log" "$(_chain_anvil_bin)" --host 127.0.0.1 --port "$port" --silent "$@"
  ANVIL_PID=$BG_PID
  for _ in $(seq 200); do
    case "$(rpc_at "http://127.0.0.1:$port" eth_chainId 2>/dev/null)" in *'"result"'*) return 0 ;; esac
    sleep 0.05
  done
  return 1
}

# --- start-up refusal (no chain needed) ----------------------------------------
out=$(ETH_RPC_URL="http://127.0.0.1:1,http://127.0.0.1:2" ETH_RPC_QUORUM=3 PORT=0 "$AE" 2>&1)
rc=$?
expect_eq quorum_above_providers_exit_1 "$rc" 1
expect_contains quorum_above_providers_message "$out" "ETH_RPC_QUORUM=3 needs at least 3 providers, but ETH_RPC_URL lists 2"
out=$(ETH_RPC_URL="http://127.0.0.1:1,,http://127.0.0.1:2" PORT=0 "$AE" 2>&1)
expect_contains empty_provider_refused "$out" "provider #2 is empty"
out=$(ETH_CHAIN_ID=abc PORT=0 "$AE" 2>&1)
expect_contains bad_chain_id_refused "$out" "ETH_CHAIN_ID must be a positive decimal chain id"

# --- chains --------------------------------------------------------------------
chain_require
crc=$?
if [ $crc -ne 0 ]; then
  [ $crc -eq 2 ] && finish
  fail chain_available "cannot install the local chain"
  finish
fi
chain_start || finish
chain_deploy || finish
chain_fixture || finish
U1=$ETH_RPC_URL
P2=$(free_port)
anvil_at "$P2" --fork-url "$U1" || { fail fork2_started "$(tail -3 "$TMP/anvil-$P2.log")"; finish; }
A2_PID=$ANVIL_PID
P3=$(free_port)
anvil_at "$P3" --fork-url "$U1" || { fail fork3_started "$(tail -3 "$TMP/anvil-$P3.log")"; finish; }
U2="http://127.0.0.1:$P2"
U3="http://127.0.0.1:$P3"
H1=$(head_hash "$U1")
expect_eq forks_share_the_head_block_hash "$(head_hash "$U2") $(head_hash "$U3")" "$H1 $H1"

cat >"$TMP/base.json" <<JSON
{"appId":"$APP_ADDR","composeHash":"$FIX_COMPOSE","instanceId":"0x$(h 66 20)","deviceId":"$FIX_APP_DEVICE","mrAggregated":"$FIX_KMS_MR","mrSystem":"0x$(h 77 32)","osImageHash":"$FIX_OS_IMAGE","tcbStatus":"UpToDate","advisoryIds":[]}
JSON
BASE=$(cat "$TMP/base.json")

# the liar: find registeredApps[app]'s storage slot (the mapping whose entry
# for the app is 1) and clear it on chain 3 only; no block is mined
CAST="$CONTRACTS_DIR/node_modules/.bin/cast"
[ -x "$CAST" ] || CAST=$(ls "$CONTRACTS_DIR"/node_modules/@foundry-rs/cast-*/bin/cast 2>/dev/null | head -1)
SLOT=""
for s in $(seq 0 60); do
  k=$("$CAST" index address "$APP_ADDR" "$s")
  v=$(rpc_at "$U1" eth_getStorageAt "[\"$KMS_CONTRACT_ADDR\",\"$k\",\"latest\"]" | json 'j["result"]')
  if [ "$((v))" = 1 ]; then SLOT=$k; break; fi
done
check liar_found_registration_slot test -n "$SLOT"
rpc_at "$U3" anvil_setStorageAt "[\"$KMS_CONTRACT_ADDR\",\"$SLOT\",\"0x$(h 00 32)\"]" >/dev/null
expect_eq liar_keeps_the_block_hash "$(head_hash "$U3")" "$H1"
P=$P3 # the liar alone says the app is not registered (independent check)
ae_start liar_alone ETH_RPC_URL="$U3"
wait_log "$AE_LOG" "KMS contract loaded" 100
post /bootAuth/app "$BASE"
expect liar_alone_denies 200 "$(deny "App not registered")"
stop_pid "$AE_PID"

# --- quorum 2 over the two honest providers: allowed ---------------------------
# (anvil serves only "/": the secret goes into the userinfo, which it ignores)
ae_start q2honest ETH_RPC_URL="http://rpc:KEY_SECRET@${U1#http://}, http://rpc:KEY_SECRET@${U2#http://}" ETH_RPC_QUORUM=2
wait_log "$AE_LOG" "KMS contract loaded" 100
post /bootAuth/app "$BASE"
expect quorum2_honest_allows 200 "$ALLOW"
post /bootAuth/app "$($PY -c "import json; j=json.load(open('$TMP/base.json')); j['deviceId']='0x'+'cc'*32; print(json.dumps(j))")"
expect quorum2_honest_denies_same_as_contract 200 "$(deny "Device not allowed")"
ST=$(curl -s -o "$TMP/resp" -w '%{http_code}' "http://127.0.0.1:$P/")
expect_contains quorum2_info_ethRpcUrl_first_provider "$(cat "$TMP/resp")" "\"ethRpcUrl\":\"$U1\",\"gatewayAppId\":\"gateway-app-id-test\",\"chainId\":31337"
m=$(curl -s -D "$TMP/mh" "http://127.0.0.1:$P/metrics")
expect_contains metrics_content_type "$(cat "$TMP/mh")" "text/plain; version=0.0.4"
expect_contains metrics_decisions_allow "$m" 'auth_eth_decisions_total{route="app",outcome="allow"} 1'
expect_contains metrics_decisions_deny "$m" 'auth_eth_decisions_total{route="app",outcome="deny"} 1'
expect_contains metrics_info_counted "$m" 'auth_eth_decisions_total{route="info",outcome="allow"} 1'
ok2=$(echo "$m" | grep -c "^auth_eth_rpc_calls_total{provider=\"2\",origin=\"$U2\",result=\"ok\"} [1-9]")
expect_eq metrics_calls_of_provider_2 "$ok2" 1
expect_contains metrics_latency_histogram "$m" "auth_eth_rpc_latency_seconds_bucket{provider=\"1\",origin=\"$U1\",le=\"+Inf\"}"
expect_contains metrics_head_age "$m" "auth_eth_head_block_age_seconds{provider=\"1\",origin=\"$U1\"}"
expect_contains metrics_no_disagreement "$m" "auth_eth_quorum_disagreements_total 0"
if grep -q KEY_SECRET "$AE_LOG" || echo "$m" | grep -q KEY_SECRET; then
  fail url_secret_never_logged_or_exported "found"
else pass url_secret_never_logged_or_exported; fi
expect_contains log_names_providers_by_index_and_origin "$(cat "$AE_LOG")" "rpc=[#1 $U1, #2 $U2] quorum=2"
stop_pid "$AE_PID"

# --- quorum 2 with the liar: refused, logged, counted ---------------------------
ae_start q2liar ETH_RPC_URL="$U1,$U3" ETH_RPC_QUORUM=2
wait_log "$AE_LOG" "KMS contract loaded" 100
post /bootAuth/app "$BASE"
expect quorum2_liar_refused 200 "$UNAVAIL"
wait_log "$AE_LOG" "quorum disagreement" 40
line=$(grep "quorum disagreement" "$AE_LOG" | head -1)
expect_contains quorum2_liar_logged_as_error "$line" "application authorization backend failed: quorum disagreement at block"
expect_contains quorum2_liar_log_names_both "$line" "#1 $U1 and #2 $U3 give different answers to isAppAllowed"
post /bootAuth/kms "$($PY -c "import json; j=json.load(open('$TMP/base.json')); j['deviceId']='$FIX_KMS_DEVICE'; print(json.dumps(j))")"
expect quorum2_liar_agrees_on_untouched_state 200 "$ALLOW"
m=$(curl -s "http://127.0.0.1:$P/metrics")
expect_contains quorum2_liar_counted "$m" "auth_eth_quorum_disagreements_total 1"
expect_contains quorum2_liar_unavailable_counted "$m" 'auth_eth_decisions_total{route="app",outcome="unavailable"} 1'
stop_pid "$AE_PID"

# --- quorum 1: failover within one request ----------------------------------------
DEAD=$(free_port)
ae_start failover ETH_RPC_URL="http://127.0.0.1:$DEAD,$U1" ETH_HEAD_POLL_MS=200
wait_log "$AE_LOG" "KMS contract loaded" 100
t0=$(ms)
post /bootAuth/app "$BASE"
el=$(($(ms) - t0))
expect failover_dead_first_provider_allows 200 "$ALLOW"
check failover_dead_first_fast test "$el" -lt 1000
wait_log "$AE_LOG" "#1 http://127.0.0.1:$DEAD unavailable" 40
expect_contains failover_logs_down_provider "$(cat "$AE_LOG")" "Ethereum RPC provider #1 http://127.0.0.1:$DEAD unavailable"
stop_pid "$AE_PID"

FPORT=$(free_port)
start_bg "$TMP/fake429.log" $PY "$FAKE" "$FPORT" 429
F429_PID=$BG_PID
wait_http "http://127.0.0.1:$FPORT/" 50 || true
ae_start failover429 ETH_RPC_URL="http://127.0.0.1:$FPORT,$U1"
wait_log "$AE_LOG" "KMS contract loaded" 100
post /bootAuth/app "$BASE"
expect failover_rate_limited_first_allows 200 "$ALLOW"
m=$(curl -s "http://127.0.0.1:$P/metrics")
n429=$(echo "$m" | grep -c "^auth_eth_rpc_calls_total{provider=\"1\",origin=\"http://127.0.0.1:$FPORT\",result=\"rate_limited\"} [1-9]")
expect_eq metrics_rate_limited_counted "$n429" 1
stop_pid "$AE_PID"
stop_pid "$F429_PID"

# a frozen first provider (SIGSTOP: connections hang): still one answer
# within ETH_RPC_TIMEOUT_MS, from the second provider
kill -STOP "$A2_PID"
ae_start failover_frozen ETH_RPC_URL="$U2,$U1" ETH_RPC_TIMEOUT_MS=2000
wait_log "$AE_LOG" "KMS contract loaded" 100
t0=$(ms)
post /bootAuth/app "$BASE"
el=$(($(ms) - t0))
expect failover_frozen_first_provider_allows 200 "$ALLOW"
check failover_frozen_within_one_timeout test "$el" -lt 2300
echo "  (frozen first provider: answered in $el ms with ETH_RPC_TIMEOUT_MS=2000)"
kill -CONT "$A2_PID"
stop_pid "$AE_PID"

# --- ETH_CHAIN_ID: a provider on another chain is never used ---------------------
P4=$(free_port)
anvil_at "$P4" --chain-id 999 || fail other_chain_started "$(tail -3 "$TMP/anvil-$P4.log")"
U4="http://127.0.0.1:$P4"
ae_start chainpin ETH_RPC_URL="$U4,$U1" ETH_CHAIN_ID=31337
wait_log "$AE_LOG" "KMS contract loaded" 100
post /bootAuth/app "$BASE"
expect chain_id_other_chain_provider_skipped 200 "$ALLOW"
wait_log "$AE_LOG" "not ETH_CHAIN_ID" 40
expect_contains chain_id_mismatch_logged "$(cat "$AE_LOG")" "Ethereum RPC provider #1 $U4 unavailable: eth_chainId is 999, not ETH_CHAIN_ID=31337: this provider is not used"
if grep -q "Connected to Ethereum RPC: $U4" "$AE_LOG"; then fail chain_id_mismatch_never_connected "logged as connected"; else pass chain_id_mismatch_never_connected; fi
m=$(curl -s "http://127.0.0.1:$P/metrics")
expect_contains chain_id_mismatch_metric "$m" "auth_eth_provider_wrong_chain{provider=\"1\",origin=\"$U4\"} 1"
stop_pid "$AE_PID"
ae_start chainpin_only ETH_RPC_URL="$U4" ETH_CHAIN_ID=31337
wait_log "$AE_LOG" "not ETH_CHAIN_ID" 40
post /bootAuth/app "$BASE"
expect chain_id_no_usable_provider_unavailable 200 "$UNAVAIL"
stop_pid "$AE_PID"
ae_start chainpin_match ETH_RPC_URL="$U1" ETH_CHAIN_ID=31337
wait_log "$AE_LOG" "KMS contract loaded" 100
post /bootAuth/app "$BASE"
expect chain_id_matching_allows 200 "$ALLOW"
stop_pid "$AE_PID"

# --- ETH_FINALITY_CONFIRMATIONS=2 reads at head-2 ----------------------------------
ae_start final2 ETH_RPC_URL="$U1" ETH_FINALITY_CONFIRMATIONS=2 ETH_HEAD_POLL_MS=100
F_PID=$AE_PID F_PORT=$P F_LOG=$AE_LOG
wait_log "$F_LOG" "KMS contract loaded" 100
ae_start final0 ETH_RPC_URL="$U1" ETH_HEAD_POLL_MS=100
Z_PID=$AE_PID Z_PORT=$P
P=$F_PORT
post /bootAuth/app "$BASE"
expect finality2_allows_before 200 "$ALLOW"
chain_manage remove-device "$APP_ADDR" "$FIX_APP_DEVICE" >/dev/null 2>&1 || fail finality_remove_device "manage.js failed"
P=$Z_PORT
until_body finality0_sees_removal_at_once "$BASE" "$(deny "Device not allowed")" 5
P=$F_PORT
sleep 0.4
post /bootAuth/app "$BASE"
expect finality2_still_reads_two_blocks_back 200 "$ALLOW"
rpc_at "$U1" evm_mine >/dev/null
sleep 0.4
post /bootAuth/app "$BASE"
expect finality2_after_one_block_still_allows 200 "$ALLOW"
rpc_at "$U1" evm_mine >/dev/null
until_body finality2_after_two_blocks_denies "$BASE" "$(deny "Device not allowed")" 3
stop_pid "$F_PID"
stop_pid "$Z_PID"
ae_start final_deep ETH_RPC_URL="$U1" ETH_FINALITY_CONFIRMATIONS=100000
wait_log "$AE_LOG" "KMS contract loaded" 100
post /bootAuth/app "$BASE"
expect finality_head_below_depth_unavailable 200 "$UNAVAIL"
wait_log "$AE_LOG" "below ETH_FINALITY_CONFIRMATIONS=100000" 40
expect_contains finality_head_below_depth_logged "$(cat "$AE_LOG")" "below ETH_FINALITY_CONFIRMATIONS=100000"
stop_pid "$AE_PID"
chain_stop
finish
