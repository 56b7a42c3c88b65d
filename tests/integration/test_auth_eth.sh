#!/usr/bin/env bash
# test_auth_eth.sh — dstack-auth-eth against a real local chain (anvil with
# the project's policy contracts, tests/integration/chain.sh) and against a
# misbehaving fake RPC (tests/tools/fake_eth_rpc.py):
#   every row of the spec's behaviour table (auth-eth §5.3) with exact status
#   and body; the seed's POST / checks; start-up log lines; a chain that is
#   unreachable, a placeholder or code-less KMS_CONTRACT_ADDR (keeps serving,
#   retries, logs the fix); the chain stopped or frozen mid-test (clean
#   "authorization backend unavailable" within ETH_RPC_TIMEOUT_MS, then
#   recovery); HTTP 429, hangs and reverts from the RPC; one JSON-RPC batch
#   per authorization pinned to the tracked head block's hash (gatewayAppId()
#   cached per block hash); RPC URL secrets never
#   logged; decisions never cached; ETH_MAX_BLOCK_AGE on a chain with a block
#   time that stalls; the whole path dstack-kms -> auth-eth -> anvil (GetMeta).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. tests/integration/chain.sh

AE="$BUILD/dstack-auth-eth"
FAKE="$TOOLS/fake_eth_rpc.py"
ALLOW='{"isAllowed":true,"reason":"","gatewayAppId":"gateway-app-id-test"}'
INVALID='{"isAllowed":false,"reason":"invalid authorization request","gatewayAppId":""}'
UNAVAIL='{"isAllowed":false,"reason":"authorization backend unavailable","gatewayAppId":""}'
STALE='{"isAllowed":false,"reason":"chain view is stale","gatewayAppId":""}'
ERR500='{"status":"error","message":"authorization backend unavailable"}'
deny() { echo "{\"isAllowed\":false,\"reason\":\"$1\",\"gatewayAppId\":\"gateway-app-id-test\"}"; }
ms() { echo $(($(date +%s%N) / 1000000)); }
h() { printf "$1%.0s" $(seq "$2"); }

# ae_start NAME PORT [VAR=value ...] [-- ARGS] — start auth-eth, wait for its
# listening line; sets AE_PID, AE_LOG
ae_start() {
  local name=$1 port=$2 envs=() args=()
  shift 2
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
  [ "${1:-}" = "--" ] && { shift; args=("$@"); }
  AE_LOG="$TMP/$name.log"
  start_bg "$AE_LOG" env PORT="$port" "${envs[@]}" "$AE" "${args[@]}"
  AE_PID=$BG_PID
  wait_log "$AE_LOG" "Server listening on" 100
}
# req PORT METHOD PATH [curl args] — sets ST (status) and BODY
req() {
  local port=$1 method=$2 path=$3
  shift 3
  ST=$(curl -s --max-time 20 -o "$TMP/resp" -w '%{http_code}' -X "$method" "$@" "http://127.0.0.1:$port$path")
  BODY=$(cat "$TMP/resp")
}
post() { req "$1" POST "$2" -H 'Content-Type: application/json' --data-binary "$3"; } # PORT PATH BODY
# expect NAME STATUS BODY — compares the last req
expect() {
  if [ "$ST" = "$2" ] && [ "$BODY" = "$3" ]; then pass "$1"; else fail "$1" "got $ST '${BODY:0:300}', want $2 '$3'"; fi
}
# mk PYTHON-STATEMENTS — the base request (in $TMP/base.json, as dict j) changed
mk() { $PY -c "import json,sys; j=json.load(open('$TMP/base.json')); $1; sys.stdout.write(json.dumps(j, separators=(',',':')))"; }
# until_body NAME PORT PATH BODY WANT SECONDS — poll until the answer is WANT
until_body() {
  local i t0
  t0=$(ms)
  for i in $(seq $(($6 * 10))); do
    post "$2" "$3" "$4"
    [ "$BODY" = "$5" ] && { pass "$1"; echo "  ($1 after $(($(ms) - t0)) ms)"; return 0; }
    sleep 0.1
  done
  fail "$1" "still '$BODY' after $6 s, want '$5'"
}
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# --- command line and configuration (no chain needed) -----------------------
out=$("$AE" --help); rc=$?
expect_eq cli_help_exit_0 "$rc" 0
expect_contains cli_help_lists_env "$out" "ETH_MAX_BLOCK_AGE"
expect_contains cli_version "$("$AE" --version)" "dstack-auth-eth v"
out=$(PORT=notaport "$AE" 2>&1); rc=$?
expect_eq cli_bad_port_exit_1 "$rc" 1
expect_contains cli_bad_port_message "$out" "Error starting server: PORT must be a port number"
out=$("$AE" --env-file "$TMP/absent.env" 2>&1); rc=$?
expect_eq cli_missing_env_file_exit_1 "$rc" 1
expect_contains cli_missing_env_file_names_it "$out" "$TMP/absent.env"
printf 'PORT=9200\nGARBAGE LINE\n' >"$TMP/bad.env"
out=$("$AE" --env-file "$TMP/bad.env" 2>&1); rc=$?
expect_contains cli_bad_env_line_names_line "$out" "$TMP/bad.env:2"
out=$(ETH_HEAD_POLL_MS=abc "$AE" 2>&1); rc=$?
expect_eq cli_bad_poll_exit_1 "$rc" 1

# --- RPC answers 429 to everything from the start ---------------------------
FPORT=$(free_port)
start_bg "$TMP/fake429.log" $PY "$FAKE" "$FPORT" 429
F429_PID=$BG_PID
wait_http "http://127.0.0.1:$FPORT/" 50 || true
P=$(free_port)
ae_start r429 "$P" ETH_RPC_URL="http://127.0.0.1:$FPORT/" ETH_RPC_TIMEOUT_MS=1000
check rate_limited_rpc_keeps_serving kill -0 "$AE_PID"
wait_log "$AE_LOG" "rate-limiting (HTTP 429)" 60
expect_contains rate_limited_rpc_logged "$(cat "$AE_LOG")" "is rate-limiting (HTTP 429)"
printf '{"appId":"0x01","composeHash":"","instanceId":"","deviceId":"","mrAggregated":"","osImageHash":""}' >"$TMP/min.json"
t0=$(ms)
post "$P" /bootAuth/app "$(cat "$TMP/min.json")"
el=$(($(ms) - t0))
expect rate_limited_rpc_post_unavailable 200 "$UNAVAIL"
check rate_limited_rpc_answers_fast test "$el" -lt 1000
req "$P" GET /
expect rate_limited_rpc_get_500 500 "$ERR500"
post "$P" / '{"method":"ping"}'
expect seed_ping_without_chain 200 '{"result":"pong"}'
post "$P" / '{"method":"is_app_allowed","params":{"app_id":"0x75537828f2ce51be7289709686a69cbfdbb714f1"}}'
expect seed_is_app_allowed_backend_unavailable 200 '{"result":false,"reason":"authorization backend unavailable"}'
stop_pid "$AE_PID"
stop_pid "$F429_PID"

# --- the local chain ----------------------------------------------------------
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
CAST="$CONTRACTS_DIR/node_modules/.bin/cast"
[ -x "$CAST" ] || CAST=$(ls "$CONTRACTS_DIR"/node_modules/@foundry-rs/cast-*/bin/cast 2>/dev/null | head -1)
checksum() { "$CAST" to-check-sum-address "$1"; }

cat >"$TMP/base.json" <<JSON
{"appId":"$APP_ADDR","composeHash":"$FIX_COMPOSE","instanceId":"0x$(h 66 20)","deviceId":"$FIX_APP_DEVICE","mrAggregated":"$FIX_KMS_MR","mrSystem":"0x$(h 77 32)","osImageHash":"$FIX_OS_IMAGE","tcbStatus":"UpToDate","advisoryIds":[]}
JSON
BASE=$(cat "$TMP/base.json")

# --- main instance: start-up lines --------------------------------------------
MP=$(free_port)
ae_start main "$MP" ETH_RPC_URL="$ETH_RPC_URL" KMS_CONTRACT_ADDR="$KMS_CONTRACT_ADDR" \
  ETH_RPC_TIMEOUT_MS=1500 ETH_HEAD_POLL_MS=250
MAIN_PID=$AE_PID MAIN_LOG=$AE_LOG
wait_log "$MAIN_LOG" "KMS contract loaded" 100
KMS_SUM=$(checksum "$KMS_CONTRACT_ADDR")
log=$(cat "$MAIN_LOG")
expect_contains startup_listening_line "$log" "Server listening on 127.0.0.1:$MP"
expect_contains startup_connected_line "$log" "Connected to Ethereum RPC: $ETH_RPC_URL"
expect_contains startup_contract_line "$log" "KMS contract loaded: $KMS_SUM"
order=$(grep -n -e "Server listening on" -e "Connected to Ethereum RPC" -e "KMS contract loaded" "$MAIN_LOG" | cut -d: -f1 | tr '\n' ' ')
expect_eq startup_lines_in_seed_order "$(echo "$order" | tr ' ' '\n' | grep . | sort -n | tr '\n' ' ')" "$order"

# --- GET / ---------------------------------------------------------------------
req "$MP" GET /
IMPL_SUM=$(checksum "$APP_IMPL_ADDR")
expect get_info 200 "{\"status\":\"ok\",\"kmsContractAddr\":\"$KMS_CONTRACT_ADDR\",\"ethRpcUrl\":\"$ETH_RPC_URL\",\"gatewayAppId\":\"gateway-app-id-test\",\"chainId\":31337,\"appAuthImplementation\":\"$IMPL_SUM\",\"appImplementation\":\"$IMPL_SUM\"}"
req "$MP" GET "/?x=1"
check get_info_ignores_query test "$ST" = 200
hd=$(curl -s -I --max-time 5 "http://127.0.0.1:$MP/")
expect_contains head_info_status "$hd" "HTTP/1.1 200"
expect_contains head_info_length "$hd" "Content-Length: ${#BODY}"
ct=$(curl -s -o /dev/null -w '%{content_type}' "http://127.0.0.1:$MP/")
expect_eq json_content_type "$ct" "application/json; charset=utf-8"

# --- behaviour table (spec §5.3), Node server column ---------------------------
H99=0x$(h 99 20)
row() { # row NAME PATH BODY STATUS WANT
  post "$MP" "$2" "$3"
  expect "table_$1" "$4" "$5"
}
row app-allowed /bootAuth/app "$BASE" 200 "$ALLOW"
row app-allowed-no-optional /bootAuth/app "$(mk 'del j["tcbStatus"], j["advisoryIds"], j["mrSystem"]')" 200 "$ALLOW"
row app-allowed-no0x /bootAuth/app "$(mk 'j.update({k: j[k][2:] for k in ("appId","composeHash","deviceId","osImageHash")})')" 200 "$ALLOW"
row app-allowed-UPPERHEX /bootAuth/app "$(mk 'j["appId"]="0x"+j["appId"][2:].upper()')" 200 "$ALLOW"
row app-extra-fields /bootAuth/app "$(mk 'j["teeVariant"]="dstack-tdx"; j["keyProviderInfo"]="00"')" 200 "$ALLOW"
row app-not-registered /bootAuth/app "$(mk "j['appId']='$H99'")" 200 "$(deny "App not registered")"
row app-short-appid /bootAuth/app "$(mk 'j["appId"]="0x1234"')" 200 "$(deny "App not registered")"
row app-os-not-allowed /bootAuth/app "$(mk 'j["osImageHash"]="0x"+"aa"*32')" 200 "$(deny "OS image is not allowed")"
row app-compose-not-allowed /bootAuth/app "$(mk 'j["composeHash"]="0x"+"bb"*32')" 200 "$(deny "Compose hash not allowed")"
row app-device-not-allowed /bootAuth/app "$(mk 'j["deviceId"]="0x"+"cc"*32')" 200 "$(deny "Device not allowed")"
row app-advisories /bootAuth/app "$(mk 'j["tcbStatus"]="OutOfDate"; j["advisoryIds"]=["INTEL-SA-00001","INTEL-SA-00002"]')" 200 "$ALLOW"
KMSDEV="j['deviceId']='$FIX_KMS_DEVICE'"
row kms-allowed /bootAuth/kms "$(mk "$KMSDEV")" 200 "$ALLOW"
row kms-tcb-default-empty /bootAuth/kms "$(mk "$KMSDEV; del j['tcbStatus']")" 200 "$(deny "TCB status is not up to date")"
row kms-tcb-outofdate /bootAuth/kms "$(mk "$KMSDEV; j['tcbStatus']='OutOfDate'")" 200 "$(deny "TCB status is not up to date")"
row kms-os-not-allowed /bootAuth/kms "$(mk "$KMSDEV; j['osImageHash']='0x'+'aa'*32")" 200 "$(deny "OS image is not allowed")"
row kms-mr-not-allowed /bootAuth/kms "$(mk "$KMSDEV; j['mrAggregated']='0x'+'dd'*32")" 200 "$(deny "Aggregated MR not allowed")"
row kms-device-not-allowed /bootAuth/kms "$BASE" 200 "$(deny "KMS is not allowed to boot on this device")"
row bad-missing-field /bootAuth/app "$(mk 'del j["deviceId"]')" 400 "$INVALID"
row bad-oversized-hex /bootAuth/app "$(mk 'j["mrAggregated"]="0x"+"22"*33')" 400 "$INVALID"
row bad-oversized-appid /bootAuth/app "$(mk 'j["appId"]="0x"+"75"*21')" 400 "$INVALID"
row bad-nonhex /bootAuth/app "$(mk 'j["mrAggregated"]="not-hex"')" 400 "$INVALID"
row ok-empty-hex /bootAuth/app "$(mk 'j["mrAggregated"]=""; j["mrSystem"]="0x"')" 200 "$ALLOW"
row bad-0X-prefix /bootAuth/app "$(mk 'j["appId"]="0X"+j["appId"][2:]')" 400 "$INVALID"
row bad-number-field /bootAuth/app "$(mk 'j["appId"]=123')" 200 "$(deny "App not registered")"
row bad-tcb-too-long /bootAuth/app "$(mk 'j["tcbStatus"]="x"*129')" 400 "$INVALID"
row bad-advisory-notstring /bootAuth/app "$(mk 'j["advisoryIds"]=[1]')" 200 "$ALLOW"
row bad-null-field /bootAuth/app "$(mk 'j["appId"]=None')" 200 "$(deny "App not registered")"
row bad-invalid-json /bootAuth/app '{"appId":' 500 "$ERR500"
req "$MP" POST /bootAuth/app -H 'Content-Type: application/json' --data-binary ''
expect table_bad-empty-body 500 "$ERR500"
req "$MP" POST /bootAuth/app -H 'Content-Type: text/plain' --data-binary "$BASE"
expect table_bad-text-plain 400 "$INVALID"
row bad-array-body /bootAuth/app '[]' 400 "$INVALID"
row unknown-path /bootAuth/xyz "$BASE" 404 '{"message":"Route POST:/bootAuth/xyz not found","error":"Not Found","statusCode":404}'
row app-registered-no-code /bootAuth/app "$(mk "j['appId']='$DEAD_APP_ADDR'")" 200 "$(deny "App not deployed or invalid address")"
row app-reverting-contract /bootAuth/app "$(mk "j['appId']='$STOP_APP_ADDR'")" 200 "$UNAVAIL"
# seed-tutorial-check: upstream answers 404; issue 4 asks for the seed's answer
row seed-tutorial-check / '{"method":"is_app_allowed","params":{"app_id":"test"}}' 200 '{"result":false}'

# --- more upstream behaviour (§1.2-§1.4) --------------------------------------
req "$MP" POST /bootAuth/app --data-binary "$BASE"
expect curl_form_content_type_500 500 "$ERR500"
req "$MP" POST /bootAuth/app -H 'Content-Type: application/json; charset=utf-8' --data-binary "$BASE"
expect json_charset_accepted 200 "$ALLOW"
req "$MP" POST /bootAuth/app
expect no_body_no_content_type_400 400 "$INVALID"
APP_SUM=$(checksum "$APP_ADDR")
# flip the case of the last letter: still mixed case, checksum now wrong
BAD_SUM=$($PY -c "import sys; s=sys.argv[1]; i=max(k for k,c in enumerate(s) if c.isalpha() and k > 1); print(s[:i] + s[i].swapcase() + s[i+1:])" "$APP_SUM")
row bad-checksum-appid /bootAuth/app "$(mk "j['appId']='$BAD_SUM'")" 200 "$UNAVAIL"
row checksummed-appid /bootAuth/app "$(mk "j['appId']='$APP_SUM'")" 200 "$ALLOW"
row array-wrapped-body /bootAuth/app "[$BASE]" 200 "$UNAVAIL"
row proto-poisoning /bootAuth/app "$(mk 'j["x"]={}' | sed 's/"x":{}/"__proto__":{}/')" 500 "$ERR500"
row trailing-slash-404 /bootAuth/app/ "$BASE" 404 '{"message":"Route POST:/bootAuth/app/ not found","error":"Not Found","statusCode":404}'
req "$MP" GET /bootAuth/app
expect get_on_post_route_404 404 '{"message":"Route GET:/bootAuth/app not found","error":"Not Found","statusCode":404}'
row unknown-path-bad-json-500 /nope '{"appId":' 500 "$ERR500"
req "$MP" POST /nope -H 'Content-Type: application/xml' --data-binary '<x/>'
expect unknown-path-unknown-type-404 404 '{"message":"Route POST:/nope not found","error":"Not Found","statusCode":404}'
# body limits: 1 MiB is fine, one byte more is upstream's 500 (also chunked)
$PY -c "
import json; j=json.load(open('$TMP/base.json')); s=json.dumps(j, separators=(',',':'))
open('$TMP/1m.json','w').write(s[:-1] + ' ' * (1048576 - len(s)) + '}')
open('$TMP/1m1.json','w').write(s[:-1] + ' ' * (1048577 - len(s)) + '}')
open('$TMP/3m.json','w').write(s[:-1] + ' ' * (3 * 1048576 - len(s)) + '}')"
req "$MP" POST /bootAuth/app -H 'Content-Type: application/json' --data-binary @"$TMP/1m.json"
expect body_exactly_1MiB_allowed 200 "$ALLOW"
req "$MP" POST /bootAuth/app -H 'Content-Type: application/json' --data-binary @"$TMP/1m1.json"
expect body_over_1MiB_500 500 "$ERR500"
req "$MP" POST /bootAuth/app -H 'Content-Type: application/json' --data-binary @"$TMP/3m.json"
expect body_3MiB_500 500 "$ERR500"
req "$MP" POST /bootAuth/app -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/1m1.json"
expect chunked_body_over_1MiB_500 500 "$ERR500"
req "$MP" POST /bootAuth/app -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary "$BASE"
expect chunked_body_allowed 200 "$ALLOW"
check server_alive_after_bad_requests kill -0 "$MAIN_PID"

# --- the seed's POST / checks ---------------------------------------------------
post "$MP" / "{\"method\":\"is_app_allowed\",\"params\":{\"app_id\":\"$APP_ADDR\"}}"
expect seed_registered_app_true 200 '{"result":true}'
post "$MP" / "{\"method\":\"is_app_allowed\",\"params\":{\"app_id\":\"${APP_ADDR#0x}\"}}"
expect seed_registered_app_without_0x_true 200 '{"result":true}'
post "$MP" / "{\"method\":\"is_app_allowed\",\"params\":{\"app_id\":\"$H99\"}}"
expect seed_unregistered_app_false 200 '{"result":false}'
post "$MP" / '{"method":"is_app_allowed","params":{"app_id":"test"}}'
expect seed_malformed_app_false 200 '{"result":false}'
post "$MP" / '{"method":"ping"}'
expect seed_ping_pong 200 '{"result":"pong"}'
post "$MP" / '{"method":"launch_missiles"}'
expect seed_unknown_method_400 400 '{"error":"unknown method"}'
post "$MP" / '{"params":{}}'
expect seed_no_method_400 400 '{"error":"unknown method"}'
ok=$(curl -s -X POST http://127.0.0.1:$MP -H "Content-Type: application/json" -d '{"method":"ping"}' >/dev/null 2>&1 && echo yes)
expect_eq seed_verification_script_ping "$ok" yes

# --- no decision cache: a replayed request sees the chain change ---------------
chain_manage remove-device "$APP_ADDR" "$FIX_APP_DEVICE" >/dev/null 2>&1 || fail fresh_remove_device "manage.js failed"
until_body fresh_replay_denied_after_removal "$MP" /bootAuth/app "$BASE" "$(deny "Device not allowed")" 5
chain_manage add-device "$APP_ADDR" "$FIX_APP_DEVICE" >/dev/null 2>&1 || fail fresh_add_device "manage.js failed"
until_body fresh_replay_allowed_after_readding "$MP" /bootAuth/app "$BASE" "$ALLOW" 5

# --- the whole path: dstack-kms -> auth-eth -> anvil (GetMeta) ----------------
KPORT=$(free_port)
cat >"$TMP/kms.toml" <<TOML
[default]
workers = 2
[rpc]
address = "127.0.0.1"
port = $KPORT
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
[core.onboard]
auto_bootstrap_domain = "localhost"
[core.auth_api]
type = "webhook"
[core.auth_api.webhook]
url = "http://127.0.0.1:$MP"
TOML
start_bg "$TMP/kms.log" "$BUILD/dstack-kms" --config "$TMP/kms.toml"
KMS_PID=$BG_PID
if wait_http "https://127.0.0.1:$KPORT/health" 150; then
  meta=$(curl -sk --max-time 20 -X POST "https://127.0.0.1:$KPORT/prpc/GetMeta?json")
  expect_eq kms_getmeta_chain_info_from_auth_eth \
    "$(echo "$meta" | json '[j.get("is_dev"), j.get("gateway_app_id"), j.get("chain_id"), j.get("kms_contract_address"), j.get("app_auth_implementation")]' 2>&1)" \
    "[false, \"gateway-app-id-test\", 31337, \"$KMS_CONTRACT_ADDR\", \"$IMPL_SUM\"]"
else
  fail kms_getmeta_chain_info_from_auth_eth "dstack-kms did not start: $(tail -3 "$TMP/kms.log")"
fi
stop_pid "$KMS_PID"

# --- through a logging proxy: one pinned batch, secrets, RPC failures -----------
PPORT=$(free_port)
echo proxy >"$TMP/mode"
RPC_LOG="$TMP/rpc.log" RPC_MODE_FILE="$TMP/mode" start_bg "$TMP/proxy.log" $PY "$FAKE" "$PPORT" proxy "$ETH_RPC_URL"
PROXY_PID=$BG_PID
wait_http "http://127.0.0.1:$PPORT/" 50 || true
XP=$(free_port)
ae_start proxied "$XP" ETH_RPC_URL="http://rpcuser:PASSWORD_SECRET@127.0.0.1:$PPORT/v2/KEY_SECRET?apikey=QUERY_SECRET" \
  KMS_CONTRACT_ADDR="$KMS_CONTRACT_ADDR" ETH_RPC_TIMEOUT_MS=1000
X_PID=$AE_PID X_LOG=$AE_LOG
wait_log "$X_LOG" "KMS contract loaded" 100
post "$XP" /bootAuth/app "$BASE"
expect proxied_allowed 200 "$ALLOW"
req "$XP" GET /
expect_contains proxied_info_url_origin_only "$BODY" "\"ethRpcUrl\":\"http://127.0.0.1:$PPORT\""
: >"$TMP/rpc.log"
chain_rpc evm_mine >/dev/null # a new block: gatewayAppId() is not cached for it yet
sleep 1.2                     # older than ETH_HEAD_POLL_MS: the next read sees the new head
post "$XP" /bootAuth/kms "$(mk "$KMSDEV")"
req "$XP" GET /
sleep 0.3
batches=$($PY - "$TMP/rpc.log" <<'EOF'
import json, re, sys
out, hashes = [], set()
for line in open(sys.argv[1]):
    b = json.loads(json.loads(line)["body"])
    calls = [r for r in (b if isinstance(b, list) else [b]) if r["method"] == "eth_call"]
    if not calls:
        continue
    blocks = [r["params"][1] for r in calls]
    pinned = all(isinstance(x, dict) and list(x) == ["blockHash"] and re.fullmatch(r"0x[0-9a-f]{64}", x["blockHash"]) for x in blocks)
    hashes.update(x["blockHash"] for x in blocks if pinned)
    out.append("%s pinned_by_hash=%s" % (",".join(r["params"][0]["data"][:10] for r in calls), pinned))
print(" | ".join(out) + " | one_block=%s" % (len(hashes) == 1))
EOF
)
# the decision and gatewayAppId() in one request pinned to one block hash;
# GET / then finds gatewayAppId() of that block in the cache
expect_eq one_pinned_read_per_authorization_and_info "$batches" \
  "0xe067ec9d,0x95f51931 pinned_by_hash=True | 0x25a992da pinned_by_hash=True | one_block=True"
if grep -q -e SECRET -e rpcuser "$X_LOG"; then fail rpc_url_secrets_never_logged "found in log"; else pass rpc_url_secrets_never_logged; fi
expect_contains rpc_url_logged_as_origin "$(cat "$X_LOG")" "Connected to Ethereum RPC: http://127.0.0.1:$PPORT"

# rpc_mode NAME MODE WANT_BODY MAX_MS — switch the proxy, time one authorization
rpc_mode() {
  echo "$2" >"$TMP/mode"
  local t0 el
  t0=$(ms)
  post "$XP" /bootAuth/app "$BASE"
  el=$(($(ms) - t0))
  expect "$1" 200 "$3"
  if [ "$el" -lt "$4" ]; then pass "$1_within_${4}ms"; else fail "$1_within_${4}ms" "took $el ms"; fi
  echo proxy >"$TMP/mode"
  until_body "$1_then_recovers" "$XP" /bootAuth/app "$BASE" "$ALLOW" 5
}
rpc_mode rpc_http_429_unavailable 429-calls "$UNAVAIL" 1000
expect_contains rpc_http_429_logged "$(cat "$X_LOG")" "rate-limiting (HTTP 429)"
rpc_mode rpc_revert_unavailable revert-calls "$UNAVAIL" 1000
rpc_mode rpc_hang_on_calls_unavailable hang-calls "$UNAVAIL" 1800
rpc_mode rpc_hang_everything_unavailable hang "$UNAVAIL" 1800
rpc_mode rpc_connection_dropped_unavailable down "$UNAVAIL" 1000
check proxied_instance_alive kill -0 "$X_PID"
stop_pid "$X_PID"

# --- chain unreachable at start: keeps serving, retries, then connects ----------
UPORT=$(free_port)
P=$(free_port)
ae_start unreach "$P" ETH_RPC_URL="http://127.0.0.1:$UPORT" KMS_CONTRACT_ADDR="$KMS_CONTRACT_ADDR" ETH_HEAD_POLL_MS=200
U_PID=$AE_PID U_LOG=$AE_LOG
wait_log "$U_LOG" "Connection refused" 60
expect_contains unreachable_logs_reason_and_fix "$(cat "$U_LOG")" "Ethereum RPC not usable (check ETH_RPC_URL in /etc/kms/auth-eth.env): http://127.0.0.1:$UPORT unreachable: Connection refused"
post "$P" /bootAuth/app "$BASE"
expect unreachable_post_unavailable 200 "$UNAVAIL"
req "$P" GET /
expect unreachable_get_500 500 "$ERR500"
sleep 0.5
check unreachable_keeps_serving kill -0 "$U_PID"
start_bg "$TMP/proxy2.log" $PY "$FAKE" "$UPORT" proxy "$ETH_RPC_URL"
if wait_log "$U_LOG" "KMS contract loaded: $KMS_SUM" 100; then pass unreachable_then_connects_in_background; else fail unreachable_then_connects_in_background "$(tail -3 "$U_LOG")"; fi
expect_contains unreachable_then_connected_line "$(cat "$U_LOG")" "Connected to Ethereum RPC: http://127.0.0.1:$UPORT"
until_body unreachable_then_allows "$P" /bootAuth/app "$BASE" "$ALLOW" 5
stop_pid "$U_PID"

# --- placeholder KMS_CONTRACT_ADDR (tutorial), through --env-file --------------
P=$(free_port)
cat >"$TMP/auth-eth.env" <<ENV
# like deploy/examples/auth-eth.env before it is filled in
HOST=127.0.0.1
PORT=$P
ETH_RPC_URL=$ETH_RPC_URL
KMS_CONTRACT_ADDR=YOUR_KMS_CONTRACT_ADDRESS
ENV
ae_start placeholder 1 PORT=1 -- --env-file "$TMP/auth-eth.env"
PH_PID=$AE_PID PH_LOG=$AE_LOG
expect_contains env_file_overrides_environment "$(cat "$PH_LOG")" "Server listening on 127.0.0.1:$P"
wait_log "$PH_LOG" "is not an Ethereum address" 40
expect_contains placeholder_logs_fix "$(cat "$PH_LOG")" "set KMS_CONTRACT_ADDR in $TMP/auth-eth.env"
post "$P" /bootAuth/app "$BASE"
expect placeholder_post_unavailable 200 "$UNAVAIL"
req "$P" GET /
expect placeholder_get_500 500 "$ERR500"
post "$P" / '{"method":"ping"}'
expect placeholder_seed_ping 200 '{"result":"pong"}'
sleep 0.3
check placeholder_keeps_serving kill -0 "$PH_PID"
stop_pid "$PH_PID"

# --- KMS_CONTRACT_ADDR without code: keeps serving, retries ---------------------
P=$(free_port)
ae_start nocode "$P" ETH_RPC_URL="$ETH_RPC_URL" KMS_CONTRACT_ADDR=0x000000000000000000000000000000000000beef ETH_HEAD_POLL_MS=200
NC_PID=$AE_PID NC_LOG=$AE_LOG
wait_log "$NC_LOG" "no contract code" 60
expect_contains nocode_logs_fix "$(cat "$NC_LOG")" "set KMS_CONTRACT_ADDR in /etc/kms/auth-eth.env"
post "$P" /bootAuth/app "$BASE"
expect nocode_post_unavailable 200 "$UNAVAIL"
req "$P" GET /
expect nocode_get_500 500 "$ERR500"
chain_rpc anvil_setCode '["0x000000000000000000000000000000000000beef","0x00"]' >/dev/null
if wait_log "$NC_LOG" "KMS contract loaded: 0x000000000000000000000000000000000000bEEF" 100; then pass nocode_retries_until_code_appears; else fail nocode_retries_until_code_appears "$(tail -2 "$NC_LOG")"; fi
post "$P" /bootAuth/app "$BASE"
expect nocode_undecodable_answer_unavailable 200 "$UNAVAIL"
stop_pid "$NC_PID"

# --- the chain stopped and frozen mid-test (main instance, timeout 1500 ms) ------
chain_stop
t0=$(ms)
post "$MP" /bootAuth/app "$BASE"
el=$(($(ms) - t0))
expect chain_stopped_post_unavailable 200 "$UNAVAIL"
check chain_stopped_answer_within_timeout test "$el" -lt 1500
req "$MP" GET /
expect chain_stopped_get_500 500 "$ERR500"
post "$MP" / "{\"method\":\"is_app_allowed\",\"params\":{\"app_id\":\"$APP_ADDR\"}}"
expect chain_stopped_seed_unavailable 200 '{"result":false,"reason":"authorization backend unavailable"}'
wait_log "$MAIN_LOG" "authorization backend unavailable:" 40
expect_contains chain_stopped_logged "$(cat "$MAIN_LOG")" "authorization backend unavailable:"
chain_restart
until_body chain_restarted_recovers "$MP" /bootAuth/app "$BASE" "$ALLOW" 10
wait_log "$MAIN_LOG" "authorization backend available again" 40
expect_contains chain_recovery_logged "$(cat "$MAIN_LOG")" "authorization backend available again"
chain_freeze
sleep 0.4 # let the tracked head get older than ETH_HEAD_POLL_MS
t0=$(ms)
post "$MP" /bootAuth/app "$BASE"
el=$(($(ms) - t0))
expect chain_frozen_post_unavailable 200 "$UNAVAIL"
check chain_frozen_answer_within_timeout test "$el" -lt 2200
echo "  (frozen chain: answered in $el ms with ETH_RPC_TIMEOUT_MS=1500)"
chain_thaw
until_body chain_thawed_recovers "$MP" /bootAuth/app "$BASE" "$ALLOW" 10
kill -TERM "$MAIN_PID"
wait "$MAIN_PID"
expect_eq sigterm_exit_0 "$?" 0

# --- staleness: a chain with a 1 s block time that stalls -------------------------
chain_stop
chain_start --block-time 1 && chain_deploy && chain_fixture || finish
BASE=$(mk "j['appId']='$APP_ADDR'")
P=$(free_port)
ae_start stale "$P" ETH_RPC_URL="$ETH_RPC_URL" KMS_CONTRACT_ADDR="$KMS_CONTRACT_ADDR" ETH_MAX_BLOCK_AGE=3 ETH_HEAD_POLL_MS=200
S_PID=$AE_PID
Q=$(free_port)
ae_start nostale "$Q" ETH_RPC_URL="$ETH_RPC_URL" KMS_CONTRACT_ADDR="$KMS_CONTRACT_ADDR" ETH_HEAD_POLL_MS=200
NS_PID=$AE_PID
wait_log "$TMP/stale.log" "KMS contract loaded" 100
until_body stale_fresh_chain_allowed "$P" /bootAuth/app "$BASE" "$ALLOW" 5
sleep 2.5
post "$P" /bootAuth/app "$BASE"
expect stale_blocks_keep_coming_still_allowed 200 "$ALLOW"
chain_stall
until_body stale_stalled_chain_refused "$P" /bootAuth/app "$BASE" "$STALE" 10
post "$P" / "{\"method\":\"is_app_allowed\",\"params\":{\"app_id\":\"$APP_ADDR\"}}"
expect stale_seed_unavailable 200 '{"result":false,"reason":"authorization backend unavailable"}'
req "$P" GET /
check stale_get_info_still_served test "$ST" = 200
post "$Q" /bootAuth/app "$BASE"
expect stale_check_off_by_default 200 "$ALLOW"
chain_unstall
until_body stale_unstalled_allowed_again "$P" /bootAuth/app "$BASE" "$ALLOW" 10
stop_pid "$S_PID"
stop_pid "$NS_PID"
chain_stop
finish
