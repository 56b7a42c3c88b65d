#!/usr/bin/env bash
# auth-eth.sh — `make bench-auth-eth`: keep-alive load (16 connections) on
# dstack-auth-eth's POST /bootAuth/app and on a raw eth_call of the same
# isAppAllowed calldata to the same anvil, in three alternating rounds of one
# run; prints both rates per round, the median ratio auth-eth / eth_call,
# p99 latencies, auth-eth's RSS after the load, and CPU per request.
# Uses wrk (Debian package) when installed, else the in-tree bench/loadgen.c.
# Goals (issue 12): median ratio >= 0.6, p99 < 5 ms at 16 connections,
# RSS < 10 MB. BENCH_PROFILE=1 also records auth-eth with perf (when
# installed) during one extra round and prints its top symbols.
# Env: BENCH_SECONDS (5), BENCH_ROUNDS (3), BENCH_CONNECTIONS (16), BUILD (build).
set -u
cd "$(dirname "$0")/.."
. tests/integration/lib.sh
. tests/integration/chain.sh
SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNECTIONS:-16}
LOADGEN="$BUILD/bench/loadgen"

chain_require || exit 1
chain_start || exit 1
chain_deploy || exit 1
chain_fixture || exit 1

PORT=$(free_port)
PORT=$PORT ETH_RPC_URL=$ETH_RPC_URL KMS_CONTRACT_ADDR=$KMS_CONTRACT_ADDR \
  start_bg "$TMP/auth-eth.log" "$BUILD/dstack-auth-eth"
AE_PID=$BG_PID
for _ in $(seq 100); do grep -qs "KMS contract loaded" "$TMP/auth-eth.log" && break; sleep 0.05; done

h() { printf "$1%.0s" $(seq "$2"); }
INSTANCE=0x$(h 66 20)
MRSYS=0x$(h 77 32)
cat >"$TMP/app.json" <<JSON
{"appId":"$APP_ADDR","composeHash":"$FIX_COMPOSE","instanceId":"$INSTANCE","deviceId":"$FIX_APP_DEVICE","mrAggregated":"$FIX_KMS_MR","mrSystem":"$MRSYS","osImageHash":"$FIX_OS_IMAGE","tcbStatus":"UpToDate","advisoryIds":[]}
JSON
ans=$(curl -s -H 'content-type: application/json' --data-binary @"$TMP/app.json" "http://127.0.0.1:$PORT/bootAuth/app")
case "$ans" in
  *'"isAllowed":true'*) ;;
  *) echo "bench: auth-eth does not allow the benchmark request: $ans"; tail -5 "$TMP/auth-eth.log"; exit 1 ;;
esac
CAST=$(dirname "$(_chain_anvil_bin)")/../../cast-$(basename "$(dirname "$(dirname "$(_chain_anvil_bin)")")" | sed 's/^anvil-//')/bin/cast
CALLDATA=$("$CAST" calldata "isAppAllowed((address,bytes32,address,bytes32,bytes32,bytes32,bytes32,string,string[]))" \
  "($APP_ADDR,$FIX_COMPOSE,$INSTANCE,$FIX_APP_DEVICE,$FIX_KMS_MR,$MRSYS,$FIX_OS_IMAGE,\"UpToDate\",[])") || {
  echo "bench: cast calldata failed"; exit 1; }
printf '{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"to":"%s","data":"%s"},"latest"]}' \
  "$KMS_CONTRACT_ADDR" "$CALLDATA" >"$TMP/call.json"
raw=$(curl -s -H 'content-type: application/json' --data-binary @"$TMP/call.json" "$ETH_RPC_URL")
case "$raw" in
  *'"result":"0x0000000000000000000000000000000000000000000000000000000000000001'*) ;;
  *) echo "bench: raw eth_call does not answer allowed: $raw"; exit 1 ;;
esac

# CPU seconds (user+system) a process has used so far
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f", ($14 + $15) / hz}' "/proc/$1/stat"; }

# run NAME URL BODY -> sets RPS, P99 (ms), N (requests), AE_CPU / CHAIN_CPU (s)
run() {
  local ae0 ch0
  ae0=$(cpu_s "$AE_PID")
  ch0=$(cpu_s "$CHAIN_PID")
  local name=$1 url=$2 body=$3 out
  if command -v wrk >/dev/null 2>&1; then
    BODY_FILE=$body wrk -t2 -c"$CONNS" -d1s -s bench/post.lua "$url" >/dev/null 2>&1 # warm-up
    out=$(BODY_FILE=$body wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s bench/post.lua "$url" 2>&1)
    RPS=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
    P99=$(echo "$out" | awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; print v}')
    TOOL="wrk -t2 -c$CONNS"
    if echo "$out" | grep -q "Non-2xx"; then echo "bench: $name: $(echo "$out" | grep Non-2xx)"; fi
  else
    local hp=${url#http://}; hp=${hp%%/*}
    local path=/${url#http://*/}
    [ "$path" = "/$url" ] && path=/
    "$LOADGEN" "${hp%:*}" "${hp#*:}" "$path" "$body" "$CONNS" 1 >/dev/null # warm-up
    out=$("$LOADGEN" "${hp%:*}" "${hp#*:}" "$path" "$body" "$CONNS" "$SECS")
    RPS=$(echo "$out" | sed -n 's/.*rps=\([0-9.]*\).*/\1/p')
    P99=$(echo "$out" | sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p')
    TOOL="bench/loadgen.c, $CONNS connections (wrk not installed)"
    case "$out" in *"errors=0 non2xx=0"*) ;; *) echo "bench: $name: $out" ;; esac
  fi
  AE_CPU=$(awk -v a="$(cpu_s "$AE_PID")" -v b="$ae0" 'BEGIN {print a - b}')
  CHAIN_CPU=$(awk -v a="$(cpu_s "$CHAIN_PID")" -v b="$ch0" 'BEGIN {print a - b}')
}

# CPU per request in microseconds (both include the warm-up second)
per_req() { awk -v c="$1" -v r="$2" -v s="$SECS" 'BEGIN { if (r > 0) printf "%.0f", c * 1e6 / (r * (s + 1)); else print "n/a" }'; }
kb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
st() { awk -v k="$1:" '$1 == k {print $2}' /proc/$AE_PID/status; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

RATIOS=() AE_P99S=() RAW_P99S=()
echo "load: $([ -n "$(command -v wrk)" ] && echo "wrk -t2 -c$CONNS" || echo "bench/loadgen.c, $CONNS connections"), ${SECS} s per run, $ROUNDS alternating rounds, anvil automine"
for round in $(seq "$ROUNDS"); do
  run auth-eth "http://127.0.0.1:$PORT/bootAuth/app" "$TMP/app.json"
  AE_RPS=$RPS AE_P99=$P99
  AE_US=$(per_req "$AE_CPU" "$AE_RPS")
  AE_CHAIN_US=$(per_req "$CHAIN_CPU" "$AE_RPS")
  run eth_call "$ETH_RPC_URL/" "$TMP/call.json"
  RAW_RPS=$RPS RAW_P99=$P99
  RAW_CHAIN_US=$(per_req "$CHAIN_CPU" "$RAW_RPS")
  RATIO=$(awk -v a="$AE_RPS" -v b="$RAW_RPS" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "0" }')
  RATIOS+=("$RATIO") AE_P99S+=("$AE_P99") RAW_P99S+=("$RAW_P99")
  printf "round %d: auth-eth %7.0f req/s p99 %6.2f ms | raw eth_call %7.0f req/s p99 %6.2f ms | ratio %s\n" \
    "$round" "$AE_RPS" "$AE_P99" "$RAW_RPS" "$RAW_P99" "$RATIO"
  echo "         CPU per request: auth-eth ${AE_US} us + anvil ${AE_CHAIN_US} us; raw eth_call: anvil ${RAW_CHAIN_US} us"
done
RSS=$(st VmRSS) HWM=$(st VmHWM) ANON=$(st RssAnon) FILE=$(st RssFile)
R=$(median "${RATIOS[@]}")
P=$(median "${AE_P99S[@]}")
RP=$(median "${RAW_P99S[@]}")
verdict() { if awk -v a="$1" -v b="$2" "BEGIN { exit !(a $3 b) }"; then echo met; else echo NOT met; fi; }
echo "median ratio auth-eth / eth_call : $R   (goal >= 0.6: $(verdict "$R" 0.6 '>='))"
echo "median p99 auth-eth              : $P ms (raw eth_call $RP ms; goal < 5 ms: $(verdict "$P" 5 '<'))"
echo "auth-eth RSS after the load      : $(kb "$RSS") MB (peak $(kb "$HWM") MB; goal < 10 MB: $(verdict "$(kb "$RSS")" 10 '<'))"
echo "  of which private (anon)        : $(kb "$ANON") MB; shared library pages: $(kb "$FILE") MB"

# the same eth_call pinned to the head block's hash (EIP-1898), as auth-eth
# sends it: shows what the pinning itself costs anvil
HEAD_HASH=$(chain_rpc eth_getBlockByNumber '["latest",false]' | json 'j["result"]["hash"]')
printf '{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"to":"%s","data":"%s"},{"blockHash":"%s"}]}' \
  "$KMS_CONTRACT_ADDR" "$CALLDATA" "$HEAD_HASH" >"$TMP/call-hash.json"
run eth_call_by_hash "$ETH_RPC_URL/" "$TMP/call-hash.json"
printf "raw eth_call pinned by block hash : %7.0f req/s p99 %6.2f ms (anvil %s us per call)\n" "$RPS" "$P99" "$(per_req "$CHAIN_CPU" "$RPS")"

if [ "${BENCH_PROFILE:-0}" = 1 ] && command -v perf >/dev/null 2>&1; then
  perf record -q -o "$TMP/perf.data" -p "$AE_PID" -- sleep "$SECS" >/dev/null 2>&1 &
  PERF_PID=$!
  run auth-eth "http://127.0.0.1:$PORT/bootAuth/app" "$TMP/app.json"
  wait "$PERF_PID"
  echo "perf: auth-eth, self time by shared object and by symbol (top 25):"
  perf report -q -g none -i "$TMP/perf.data" --no-children --sort dso 2>/dev/null | grep -v '^$' | head -12
  perf report -q -g none -i "$TMP/perf.data" --no-children --sort dso,sym 2>/dev/null | grep -v '^$' | head -25
fi
