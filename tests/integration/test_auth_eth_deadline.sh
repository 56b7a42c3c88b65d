#!/usr/bin/env bash
# test_auth_eth_deadline.sh — dstack-auth-eth answers every request within
# ONE deadline (ETH_RPC_TIMEOUT_MS, counted from the request's arrival, time
# waiting for an RPC thread included; at most 4500 ms so that the KMS's 5 s
# webhook timeout never fires first) however many requests wait on a hung
# RPC, with the answer of an RPC failure (200 "authorization backend
# unavailable", GET / 500); then serves allowed answers again once the RPC is
# healthy; and no answer carries the RPC's origin, URL or anything the RPC
# sent. Uses a self-contained fake JSON-RPC (python, 127.0.0.1) whose mode a
# file switches while auth-eth runs: ok (a fake chain that allows), hang
# (never answers), hang-calls (answers heads, never eth_call), http500 and
# rpcerror (error bodies carrying a marker string). Most instances have two
# providers behind that fake, so a hung one fails over to another hung one;
# one has only 2 RPC threads, so most requests wait in the queue. No npm or
# anvil needed.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh

AE="$BUILD/dstack-auth-eth"
KMS=0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0
ALLOW='{"isAllowed":true,"reason":"","gatewayAppId":"gw-fake"}'
UNAVAIL='{"isAllowed":false,"reason":"authorization backend unavailable","gatewayAppId":""}'
ERR500='{"status":"error","message":"authorization backend unavailable"}'
DEADLINE=1500 # ETH_RPC_TIMEOUT_MS of the main instance
MARGIN=500    # scheduling slack on a loaded 2-core machine (grace is 50 ms)
MARKER=RPC-BODY-SECRET-7f3a

cat >"$TMP/fake_rpc.py" <<'PY'
import json, os, sys, time, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
PORT = int(sys.argv[1]); MODE_FILE = sys.argv[2]
SECRET = "RPC-BODY-SECRET-7f3a"
def mode():
    try:
        with open(MODE_FILE) as f:
            return (f.read().split() or ["ok"])[0]
    except OSError:
        return "ok"
def word(n): return "%064x" % n
def abi_string(s):
    b = s.encode(); pad = (len(b) + 31) // 32 * 32
    return word(len(b)) + b.hex().ljust(pad * 2, "0")
def answer(req):
    m, p = req.get("method"), req.get("params") or []
    if m == "eth_chainId": r = "0x7a69"
    elif m == "eth_getCode": r = "0x6000"
    elif m == "eth_getBlockByNumber":
        n = 16 if p and p[0] == "latest" else int(p[0], 16)
        r = {"number": hex(n), "hash": "0x" + "%064x" % (0xabc000 + n), "timestamp": hex(int(time.time()))}
    elif m == "eth_call":
        d = p[0]["data"][2:10]
        if d in ("1e079198", "e067ec9d"): r = "0x" + word(1) + word(0x40) + word(0)
        elif d == "95f51931": r = "0x" + word(0x20) + abi_string("gw-fake")
        elif d == "25a992da": r = "0x" + word(0x1234)
        elif d == "a6c4cce9": r = "0x" + word(1)
        else: return {"jsonrpc": "2.0", "id": req.get("id"), "error": {"code": 3, "message": "execution reverted " + SECRET}}
    else: return {"jsonrpc": "2.0", "id": req.get("id"), "error": {"code": -32601, "message": "no " + SECRET}}
    return {"jsonrpc": "2.0", "id": req.get("id"), "result": r}
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send(self, code, body):
        self.send_response(code); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        m = mode()
        if m == "hang" or (m == "hang-calls" and b'"eth_call"' in body):
            time.sleep(120); self.close_connection = True; return
        if m == "http500":
            self.send(500, ('{"error":"upstream exploded: %s"}' % SECRET).encode()); return
        if m == "rpcerror" and b'"eth_call"' in body:
            req = json.loads(body); reqs = req if isinstance(req, list) else [req]
            out = [{"jsonrpc": "2.0", "id": r.get("id"), "error": {"code": -32000, "message": "internal " + SECRET}} for r in reqs]
            self.send(200, json.dumps(out if isinstance(req, list) else out[0]).encode()); return
        req = json.loads(body)
        out = [answer(r) for r in req] if isinstance(req, list) else answer(req)
        self.send(200, json.dumps(out).encode())
class S(ThreadingHTTPServer):
    daemon_threads = True; allow_reuse_address = True; request_queue_size = 1024
S(("127.0.0.1", PORT), H).serve_forever()
PY

# load.py PORT N [PATH] — N concurrent POSTs (GET for /), each on its own
# connection opened beforehand, released together; prints one JSON line:
# max and min latency (ms) and the distinct (status, body) answers
cat >"$TMP/load.py" <<'PY'
import http.client, json, sys, threading, time
port, n = int(sys.argv[1]), int(sys.argv[2])
path = sys.argv[3] if len(sys.argv) > 3 else "/bootAuth/app"
body = json.dumps({"appId": "0x" + "11" * 20, "composeHash": "0x" + "22" * 32, "instanceId": "0x" + "33" * 20,
                   "deviceId": "0x" + "44" * 32, "mrAggregated": "0x" + "55" * 32, "osImageHash": "0x" + "66" * 32,
                   "tcbStatus": "UpToDate", "advisoryIds": []})
res = [None] * n
bar = threading.Barrier(n)
def one(i):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    c.connect()
    bar.wait()
    t = time.monotonic()
    try:
        if path == "/":
            c.request("GET", path)
        else:
            c.request("POST", path, body, {"Content-Type": "application/json"})
        r = c.getresponse()
        res[i] = (time.monotonic() - t, r.status, r.read().decode())
    except Exception as e:
        res[i] = (time.monotonic() - t, 0, repr(e))
ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
[t.start() for t in ts]
[t.join() for t in ts]
lat = [r[0] * 1000 for r in res]
print(json.dumps({"max": int(max(lat)), "min": int(min(lat)),
                  "answers": sorted({"%d %s" % (r[1], r[2]) for r in res})}))
PY

# ae_start NAME VAR=value ... — sets P, AE_PID, AE_LOG
ae_start() {
  local name=$1
  shift
  P=$(free_port)
  AE_LOG="$TMP/$name.log"
  start_bg "$AE_LOG" env PORT="$P" KMS_CONTRACT_ADDR="$KMS" ETH_RPC_URL="$URL" "$@" "$AE"
  AE_PID=$BG_PID
  wait_log "$AE_LOG" "Server listening on" 100
}
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
mode() { echo "$1" >"$TMP/mode"; }
# burst NAME N WANT-ANSWER LIMIT-MS [PATH] — N concurrent requests on $P: all
# give WANT-ANSWER ("STATUS BODY"), the slowest within LIMIT-MS
burst() {
  local out mx
  out=$($PY "$TMP/load.py" "$P" "$2" "${5:-/bootAuth/app}")
  mx=$(echo "$out" | json 'j["max"]')
  echo "  ($1: $2 concurrent, slowest ${mx} ms, fastest $(echo "$out" | json 'j["min"]') ms, limit $4 ms)"
  expect_eq "${1}_answer" "$(echo "$out" | json '" | ".join(j["answers"])')" "$3"
  if [ "$mx" -le "$4" ]; then pass "${1}_within_deadline"; else fail "${1}_within_deadline" "slowest ${mx} ms > $4 ms"; fi
}
# until_allowed NAME SECONDS — one request at a time until allowed
until_allowed() {
  local i b
  for i in $(seq $(($2 * 10))); do
    b=$(curl -s --max-time 5 -H 'Content-Type: application/json' --data-binary "$($PY -c "
import json; print(json.dumps({'appId':'0x'+'11'*20,'composeHash':'0x'+'22'*32,'instanceId':'0x'+'33'*20,'deviceId':'0x'+'44'*32,'mrAggregated':'0x'+'55'*32,'osImageHash':'0x'+'66'*32}))")" "http://127.0.0.1:$P/bootAuth/app")
    [ "$b" = "$ALLOW" ] && { pass "$1"; return 0; }
    sleep 0.1
  done
  fail "$1" "still '$b' after $2 s"
}

FP=$(free_port)
mode ok
start_bg "$TMP/fake.log" $PY "$TMP/fake_rpc.py" "$FP" "$TMP/mode"
FAKE_PID=$BG_PID
ORIGIN="127.0.0.1:$FP"
URL="http://$ORIGIN/v2/KEY_SECRET_PATH?key=KEY_SECRET_QUERY"
# two providers behind the same fake: failover from a hung one to another
# hung one must not stretch a request past its deadline either
URL2="http://$ORIGIN/a/KEY_SECRET_PATH,http://$ORIGIN/b/KEY_SECRET_PATH"
for _ in $(seq 100); do
  curl -s --max-time 1 -o /dev/null -H 'Content-Type: application/json' --data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}' "http://$ORIGIN/" && break
  sleep 0.05
done

# --- two providers, deadline 1500 ms ------------------------------------------------
ae_start main ETH_RPC_URL="$URL2" ETH_RPC_TIMEOUT_MS=$DEADLINE ETH_HEAD_POLL_MS=200
check main_contract_loaded wait_log "$AE_LOG" "KMS contract loaded" 100
burst healthy_20 20 "200 $ALLOW" 1000

mode hang-calls # heads answer, eth_call never does
burst hung_calls_20 20 "200 $UNAVAIL" $((DEADLINE + MARGIN))
burst hung_calls_100 100 "200 $UNAVAIL" $((DEADLINE + MARGIN))
mode hang # nothing answers, head refreshes included
sleep 0.5
burst hung_all_20 20 "200 $UNAVAIL" $((DEADLINE + MARGIN))
burst hung_all_100 100 "200 $UNAVAIL" $((DEADLINE + MARGIN))
burst hung_info_20 20 "500 $ERR500" $((DEADLINE + MARGIN)) /

mode ok
until_allowed healthy_again 10
sleep 0.5 # both providers back
burst healthy_again_100 100 "200 $ALLOW" 2000
m=$(curl -s "http://127.0.0.1:$P/metrics")
expect_contains hung_requests_counted_unavailable "$m" 'auth_eth_decisions_total{route="app",outcome="unavailable"}'
stop_pid "$AE_PID"

# --- few RPC threads: the queue wait counts in the deadline -------------------------
ae_start queued ETH_RPC_URL="$URL2" ETH_RPC_TIMEOUT_MS=$DEADLINE ETH_HEAD_POLL_MS=200 AUTH_ETH_RPC_THREADS=2 AUTH_ETH_WORKERS=2
wait_log "$AE_LOG" "KMS contract loaded" 100
burst queued_healthy_20 20 "200 $ALLOW" 1000
mode hang-calls
burst queued_hung_100 100 "200 $UNAVAIL" $((DEADLINE + MARGIN))
mode ok
until_allowed queued_healthy_again 10
stop_pid "$AE_PID"

# --- ETH_RPC_TIMEOUT_MS above what the KMS's 5 s webhook timeout allows -------------
ae_start capped ETH_RPC_TIMEOUT_MS=20000
wait_log "$AE_LOG" "KMS contract loaded" 100
expect_contains timeout_capped_logged "$(cat "$AE_LOG")" "ETH_RPC_TIMEOUT_MS=20000 is above 4500 ms: using 4500 ms"
mode hang-calls
burst capped_hung_20 20 "200 $UNAVAIL" $((4500 + MARGIN))
mode ok
stop_pid "$AE_PID"

# --- error answers name no RPC origin and carry nothing the RPC sent ----------------
ae_start leak ETH_RPC_TIMEOUT_MS=$DEADLINE ETH_HEAD_POLL_MS=200
wait_log "$AE_LOG" "KMS contract loaded" 100
for m in rpcerror http500; do
  mode $m
  sleep 0.3
  for path in /bootAuth/app /bootAuth/kms /; do
    r=${path#/bootAuth/}
    [ "$path" = / ] && r=info
    out=$($PY "$TMP/load.py" "$P" 1 "$path" | json '" | ".join(j["answers"])')
    case $path in /) want="500 $ERR500" ;; *) want="200 $UNAVAIL" ;; esac
    expect_eq "error_answer_${m}_$r" "$out" "$want"
    case "$out" in
      *"$FP"* | *127.0.0.1* | *KEY_SECRET* | *"$MARKER"* | *JSON-RPC* | *HTTP\ 5*)
        fail "error_answer_${m}_${r}_leaks_nothing" "$out" ;;
      *) pass "error_answer_${m}_${r}_leaks_nothing" ;;
    esac
  done
  out=$(curl -s --max-time 5 -H 'Content-Type: application/json' --data '{"method":"is_app_allowed","params":{"app_id":"0x1111111111111111111111111111111111111111"}}' "http://127.0.0.1:$P/")
  expect_eq "error_answer_${m}_seed" "$out" '{"result":false,"reason":"authorization backend unavailable"}'
done
expect_contains rpc_failure_logged_with_origin "$(cat "$AE_LOG")" "http://$ORIGIN"
if grep -q KEY_SECRET "$AE_LOG"; then fail rpc_url_path_and_query_never_logged "found"; else pass rpc_url_path_and_query_never_logged; fi
n=$(grep -c "authorization backend failed" "$AE_LOG")
check rpc_failure_log_rate_limited test "$n" -le 12
mode ok
stop_pid "$AE_PID"
stop_pid "$FAKE_PID"
finish
