#!/usr/bin/env bash
# soak.sh — `make soak`: a bounded soak of dstack-kms under mixed HTTPS load
# while its authorization webhook, dstack-auth-eth, is restarted at a fixed
# period.
#
# Set-up (all on 127.0.0.1, free ports, torn down on exit): anvil with the
# policy contracts and the fixture state (tests/integration/chain.sh), one
# dstack-auth-eth against it, the simulated TEE's mock PCCS, and dstack-kms in
# host mode whose [core.auth_api] webhook is that auth-eth. The simulated
# app's RA-TLS certificate carries the fixture app's id (the factory-deployed
# AppPolicy), its compose hash and the fixture OS image hash; the device id
# the KMS derives from the simulated quote is added to that app on-chain. So
# the contract ALLOWS the app: the steady-state answer of GetAppKey is 200
# with keys, and every non-2xx answer counts as an error.
#
# Load: GetMeta (goes to the webhook), GetAppEnvEncryptPubKey (local) and
# GetAppKey with the RA-TLS client certificate (webhook -> auth-eth -> anvil),
# three connections each (bench/kms_loadgen). After a warm-up, a closed-loop
# run measures the maximum of that mix; then each kind is paced at
# SOAK_LOAD_PCT (70) % of its rate in that run, for SOAK_SECONDS, with every
# failed request logged with its time. Meanwhile auth-eth is stopped and
# started again every SOAK_RESTART_S seconds (the first restart half a period
# in); each restart window runs from the stop to the moment the new auth-eth
# answers an authorization as allowed. The KMS's VmRSS, RssAnon and open fd
# count are sampled every second.
#
# Checks (FAIL, exit 1, when any does not hold):
#  - every error falls inside a restart window (plus SOAK_MARGIN_MS, 2000,
#    after it) and is an HTTP answer from the KMS that names the auth API
#    (e.g. "auth api unreachable"); transport errors never count as expected;
#  - RSS flat: after the soak's first 10 % (at least 5 s), the median of the
#    last third is at most max(SOAK_RSS_SLACK_KB (2048), SOAK_RSS_SLACK_PCT
#    (20) %) above the median of the first third, for VmRSS and RssAnon;
#  - fds flat: the median fd count of the last third (outside restart
#    windows) is at most SOAK_FD_SLACK (4) above that of the first third, and
#    the idle count after the load is at most SOAK_FD_SLACK above the idle
#    count before it;
#  - the achieved rate is at least 80 % of the target, the KMS is still
#    running and GetAppKey answers 200 with keys after the soak.
# Prints the figures and a final "soak: PASS" or "soak: FAIL: ..." line.
# Env: BUILD (build), SOAK_SECONDS (600, 20..3600), SOAK_RESTART_S (30, >= 5),
# SOAK_LOAD_PCT, SOAK_MARGIN_MS, SOAK_RSS_SLACK_KB, SOAK_RSS_SLACK_PCT,
# SOAK_FD_SLACK, SOAK_KEEP (1: keep the logs directory and print its path).
# Needs the npm packages of contracts/ (scripts/install-npm-deps.sh); without
# them and without a reachable npm registry it prints SKIP and exits 0, or
# fails where KMS_TEST_REQUIRED=1 (the CI), as the chain tests do.
set -u
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_RESTART_S=${SOAK_RESTART_S:-30}
SOAK_LOAD_PCT=${SOAK_LOAD_PCT:-70}
SOAK_MARGIN_MS=${SOAK_MARGIN_MS:-2000}
SOAK_RSS_SLACK_KB=${SOAK_RSS_SLACK_KB:-2048}
SOAK_RSS_SLACK_PCT=${SOAK_RSS_SLACK_PCT:-20}
SOAK_FD_SLACK=${SOAK_FD_SLACK:-4}
CONNS_PER_KIND=3
WARMUP_S=3
MAX_S=5

say() { echo "soak: $*"; }
bad_int() { case "$2" in '' | *[!0-9]*) say "FAIL: $1 must be a whole number (got '$2')"; exit 2 ;; esac; }
bad_int SOAK_SECONDS "$SOAK_SECONDS"
bad_int SOAK_RESTART_S "$SOAK_RESTART_S"
bad_int SOAK_LOAD_PCT "$SOAK_LOAD_PCT"
bad_int SOAK_MARGIN_MS "$SOAK_MARGIN_MS"
bad_int SOAK_RSS_SLACK_KB "$SOAK_RSS_SLACK_KB"
bad_int SOAK_RSS_SLACK_PCT "$SOAK_RSS_SLACK_PCT"
bad_int SOAK_FD_SLACK "$SOAK_FD_SLACK"
if [ "$SOAK_SECONDS" -lt 20 ] || [ "$SOAK_SECONDS" -gt 3600 ]; then
  say "FAIL: SOAK_SECONDS must be 20..3600 (got $SOAK_SECONDS)"; exit 2
fi
if [ "$SOAK_RESTART_S" -lt 5 ]; then say "FAIL: SOAK_RESTART_S must be >= 5 (got $SOAK_RESTART_S)"; exit 2; fi
if [ "$SOAK_LOAD_PCT" -lt 1 ] || [ "$SOAK_LOAD_PCT" -gt 100 ]; then
  say "FAIL: SOAK_LOAD_PCT must be 1..100 (got $SOAK_LOAD_PCT)"; exit 2
fi

# integration helpers: TMP (removed on exit), PIDS (killed on exit),
# free_port, start_bg, wait_http, wait_log, json, sim_pki_pccs,
# sim_kms_config, app_cert, stop_pid, kms_start, CTL, KMS, SIM
. tests/faults/lib.sh
. tests/integration/chain.sh
if [ "${SOAK_KEEP:-0}" = 1 ]; then
  trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done; echo "soak: logs kept in $TMP"' EXIT
fi

LOADGEN="$BUILD/bench/kms_loadgen"
AE="$BUILD/dstack-auth-eth"
T_START=$(date +%s)
ms() { echo $(($(date +%s%N) / 1000000)); }
abort() { say "FAIL: $*"; exit 1; }

for b in "$KMS" "$CTL" "$SIM" "$AE" "$LOADGEN"; do
  [ -x "$b" ] || abort "missing $b (make BUILD=$BUILD bench-tools)"
done

# --- the chain, auth-eth, the PCCS and the KMS --------------------------------
chain_require
case $? in
  0) ;;
  2)
    say "SKIP: soak: the local chain (anvil from npm) is not available"
    # CI (KMS_TEST_REQUIRED=1) requires the soak: a skip there is a failure
    [ "${KMS_TEST_REQUIRED:-0}" = 1 ] && { say "FAIL: soak: required here (KMS_TEST_REQUIRED=1) but could not run"; exit 1; }
    exit 0
    ;;
  *) abort "contracts/node_modules could not be installed" ;;
esac
chain_start || abort "anvil did not start"
chain_deploy || abort "the policy contracts could not be deployed"
chain_fixture || abort "the fixture chain state could not be set up"

AE_PORT=$(free_port)
AE_N=0
AE_PID=""
# ae_launch — start one auth-eth on AE_PORT; sets AE_PID and AE_LOG
ae_launch() {
  AE_N=$((AE_N + 1))
  AE_LOG="$TMP/auth-eth.$AE_N.log"
  PORT=$AE_PORT ETH_RPC_URL=$ETH_RPC_URL KMS_CONTRACT_ADDR=$KMS_CONTRACT_ADDR \
    start_bg "$AE_LOG" "$AE"
  AE_PID=$BG_PID
}
# ae_stop — stop the current auth-eth and drop its pid from the kill list
ae_stop() {
  local p keep=()
  stop_pid "$AE_PID"
  for p in "${PIDS[@]}"; do [ "$p" = "$AE_PID" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}
# ae_allows [tries of 0.05 s] — until auth-eth answers the soak app's boot
# info (the KMS's own webhook body, $TMP/boot.json) as allowed
ae_allows() {
  local i
  for i in $(seq "${1:-200}"); do
    case "$(curl -s --max-time 1 -H 'content-type: application/json' --data-binary @"$TMP/boot.json" \
      "http://127.0.0.1:$AE_PORT/bootAuth/app" 2>/dev/null)" in
      *'"isAllowed":true'*) return 0 ;;
    esac
    kill -0 "$AE_PID" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
ae_launch
wait_log "$AE_LOG" "Server listening on" 100 || abort "auth-eth did not start: $(tail -3 "$AE_LOG")"

sim_pki_pccs 42 || abort "the mock PCCS did not start: $(tail -3 "$TMP/pccs.log")"
KPORT=$(free_port)
mkdir -p "$TMP/certs"
sim_kms_config "$TMP/kms.toml" "$KPORT" "http://127.0.0.1:$AE_PORT" "$TMP/release.log" "$PCCS_PORT"
kms_start kms "$TMP/kms.toml" "$KPORT" || abort "dstack-kms did not start: $(tail -3 "$TMP/kms.log")"

# the simulated app = the fixture's factory app (id, compose hash, OS image)
APP=${APP_ADDR#0x}
CH=${FIX_COMPOSE#0x}
app_cert app "$TMP/certs" --os-image-hash "${FIX_OS_IMAGE#0x}"
[ -s "$TMP/app.pem" ] || abort "the RA-TLS client certificate could not be made: $(cat "$TMP/app.err")"
"$CTL" verify-ratls --cert "$TMP/app.pem" --root "$TMP/root.der" \
  --pccs "http://127.0.0.1:$PCCS_PORT/sgx/certification/v4" >"$TMP/boot.json" 2>"$TMP/verify.err" ||
  abort "verify-ratls on the app certificate: $(cat "$TMP/verify.err")"
DEVICE=$(json 'j["deviceId"]' <"$TMP/boot.json")
chain_manage add-device "$APP_ADDR" "0x$DEVICE" >"$TMP/add-device.log" 2>&1 ||
  abort "add-device on the fixture app: $(tail -2 "$TMP/add-device.log")"
ae_allows 200 || abort "auth-eth does not allow the simulated app: $(curl -s --max-time 2 --data-binary @"$TMP/boot.json" "http://127.0.0.1:$AE_PORT/bootAuth/app")"
r=""
for _ in $(seq 50); do
  r=$(appkey "$KPORT" app 10)
  [ "$(status "$r")" = 200 ] && break
  sleep 0.1
done
[ "$(status "$r")" = 200 ] && body "$r" | grep -q '"disk_crypt_key"' ||
  abort "GetAppKey through auth-eth is not allowed: $(echo "$r" | tr '\n' ' ' | head -c 300)"
say "set-up: anvil $ETH_RPC_URL, auth-eth :$AE_PORT, PCCS :$PCCS_PORT, KMS :$KPORT (pid $KPID); app 0x$APP allowed on-chain"

# --- the load ------------------------------------------------------------------
echo '{"api_version":1}' >"$TMP/appkey.json"
echo "{\"app_id\":\"$APP\"}" >"$TMP/envkey.json"
KINDS=(GetMeta GetAppEnvEncryptPubKey GetAppKey)
REQS=("/prpc/GetMeta?json,-"
  "/prpc/GetAppEnvEncryptPubKey?json,$TMP/envkey.json"
  "/prpc/GetAppKey?json,$TMP/appkey.json,$TMP/app.pem,$TMP/app.key")
MIX=()
for q in "${REQS[@]}"; do MIX+=(--req "$q"); done
NCONNS=$((CONNS_PER_KIND * ${#REQS[@]}))

"$LOADGEN" --port "$KPORT" --conns "$NCONNS" --seconds "$WARMUP_S" "${MIX[@]}" >"$TMP/warmup.out" 2>&1 ||
  abort "warm-up load failed: $(cat "$TMP/warmup.out")"
"$LOADGEN" --port "$KPORT" --conns "$NCONNS" --seconds "$MAX_S" "${MIX[@]}" >"$TMP/max.out" 2>&1 ||
  abort "maximum-throughput run failed: $(cat "$TMP/max.out")"
MAX_RPS=$(sed -n 's/^requests=.* rps=\([0-9.]*\) .*/\1/p' "$TMP/max.out")
grep -q '^requests=.* errors=0 non2xx=0 ' "$TMP/max.out" ||
  abort "errors in the maximum-throughput run (auth-eth up): $(grep '^requests=' "$TMP/max.out")"
RATES=()
for i in "${!REQS[@]}"; do
  kr=$(sed -n "s/^req\[$i\] .* rps=\([0-9.]*\) .*/\1/p" "$TMP/max.out")
  RATES+=("$(awk -v r="$kr" -v p="$SOAK_LOAD_PCT" 'BEGIN { printf "%.1f", r * p / 100 }')")
done
TARGET=$(printf '%s\n' "${RATES[@]}" | awk '{ s += $1 } END { printf "%.1f", s }')
say "maximum (closed loop, $NCONNS connections, ${MAX_S} s): $MAX_RPS req/s"
for i in "${!REQS[@]}"; do
  sed -n "s/^req\[$i\] .* rps=\([0-9.]*\) p50_ms=\([0-9.]*\) p99_ms=\([0-9.]*\) .*/  ${KINDS[$i]}: \1 req\/s, p50 \2 ms, p99 \3 ms/p" "$TMP/max.out"
done
say "load: ${SOAK_SECONDS} s paced at $SOAK_LOAD_PCT % = $TARGET req/s (GetMeta ${RATES[0]}, GetAppEnvEncryptPubKey ${RATES[1]}, GetAppKey ${RATES[2]}); auth-eth restarted every ${SOAK_RESTART_S} s"

# sample_loop — "UNIX_MS VmRSS_kB RssAnon_kB FDS" of the KMS every second,
# until $TMP/stop-sampling exists, the KMS is gone, or SOAK_SECONDS + 120 s
sample_loop() {
  local end=$(($(ms) + (SOAK_SECONDS + 120) * 1000)) st
  while [ ! -e "$TMP/stop-sampling" ] && [ "$(ms)" -lt "$end" ] && kill -0 "$KPID" 2>/dev/null; do
    st=$(awk '$1 == "VmRSS:" { r = $2 } $1 == "RssAnon:" { a = $2 } END { print r, a }' "/proc/$KPID/status" 2>/dev/null)
    echo "$(ms) $st $(ls "/proc/$KPID/fd" 2>/dev/null | wc -l)"
    sleep 1
  done
}
fds_now() { ls "/proc/$KPID/fd" 2>/dev/null | wc -l; }

sleep 1
FD_IDLE_BEFORE=$(fds_now)
: >"$TMP/windows"
sample_loop >"$TMP/samples" 2>/dev/null &
PIDS+=($!)
LOAD_START=$(ms)
LG_PIDS=()
for i in "${!REQS[@]}"; do
  start_bg "$TMP/load.$i.out" timeout -k 5 $((SOAK_SECONDS + 60)) "$LOADGEN" --port "$KPORT" \
    --conns "$CONNS_PER_KIND" --seconds "$SOAK_SECONDS" --rate "${RATES[$i]}" \
    --errlog "$TMP/errors.$i" --req "${REQS[$i]}"
  LG_PIDS+=("$BG_PID")
done

# the restart loop: stop auth-eth, start it again on the same port, wait until
# it allows the app again; each window "START_MS END_MS" goes to $TMP/windows.
# No restart closer than 5 s (+ margin) to the end of the load.
RESTART_FAIL=""
k=0
while :; do
  at=$((LOAD_START + SOAK_RESTART_S * 500 + k * SOAK_RESTART_S * 1000))
  [ $((at + 5000 + SOAK_MARGIN_MS)) -lt $((LOAD_START + SOAK_SECONDS * 1000)) ] || break
  k=$((k + 1))
  now=$(ms)
  [ "$at" -gt "$now" ] && sleep "$(awk -v d=$((at - now)) 'BEGIN { printf "%.3f", d / 1000 }')"
  w0=$(ms)
  ae_stop
  ok=0
  for _ in 1 2 3; do
    ae_launch
    if ae_allows 400; then ok=1; break; fi
    ae_stop
    sleep 0.2
  done
  w1=$(ms)
  echo "$w0 $w1" >>"$TMP/windows"
  if [ $ok = 1 ]; then
    say "restart $k at +$(((w0 - LOAD_START) / 1000)) s: auth-eth down and back (allowing) in $((w1 - w0)) ms"
  else
    RESTART_FAIL="restart $k: auth-eth did not come back: $(tail -3 "$AE_LOG")"
    say "$RESTART_FAIL"
    break
  fi
done

for p in "${LG_PIDS[@]}"; do wait "$p"; done
LOAD_END=$(ms)
sleep 2
FD_IDLE_AFTER=$(fds_now)
touch "$TMP/stop-sampling"

KMS_ALIVE=1
kill -0 "$KPID" 2>/dev/null || KMS_ALIVE=0
r=$(appkey "$KPORT" app 10)
AFTER_OK=0
[ "$(status "$r")" = 200 ] && body "$r" | grep -q '"disk_crypt_key"' && AFTER_OK=1

# --- the verdict ------------------------------------------------------------------
cat "$TMP"/errors.* >"$TMP/errors" 2>/dev/null || : >"$TMP/errors"
for i in "${!REQS[@]}"; do
  sed -n "s/^req\[0\] path=[^ ]* cert=[^ ]* \(.*\)/${KINDS[$i]} \1/p" "$TMP/load.$i.out"
done >"$TMP/load.summary"
$PY - "$TMP" "$LOAD_START" "$LOAD_END" "$SOAK_SECONDS" "$TARGET" "$SOAK_MARGIN_MS" "$SOAK_RSS_SLACK_KB" \
  "$SOAK_RSS_SLACK_PCT" "$SOAK_FD_SLACK" "$FD_IDLE_BEFORE" "$FD_IDLE_AFTER" "$KMS_ALIVE" "$AFTER_OK" \
  "$RESTART_FAIL" "$T_START" <<'PYEOF'
import os, re, statistics, sys, time

(tmp, load_start, load_end, soak_s, target, margin, rss_kb, rss_pct, fd_slack,
 fd_before, fd_after, alive, after_ok, restart_fail, t_start) = sys.argv[1:16]
load_start, load_end, margin = int(load_start), int(load_end), int(margin)
rss_kb, rss_pct, fd_slack = int(rss_kb), int(rss_pct), int(fd_slack)
target = float(target)
fails = []

def p(s=""):
    print(s, flush=True)

# load figures
achieved = 0.0
reqs = errs = non2xx = 0
p("soak: load per kind (paced):")
for line in open(os.path.join(tmp, "load.summary")):
    f = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
    achieved += float(f["rps"])
    reqs += int(f["requests"])
    errs += int(f["errors"])
    non2xx += int(f["non2xx"])
    p("  %-24s %8s req/s  p50 %s ms  p99 %s ms  requests %s  transport errors %s  non-2xx %s"
      % (line.split()[0], f["rps"], f["p50_ms"], f["p99_ms"], f["requests"], f["errors"], f["non2xx"]))
p("soak: rate achieved %.1f req/s of %.1f targeted (%.0f %%), %d requests in %.1f s"
  % (achieved, target, 100 * achieved / target if target else 0, reqs, (load_end - load_start) / 1000))
if target and achieved < 0.8 * target:
    fails.append("rate achieved %.1f req/s is below 80 %% of the target %.1f" % (achieved, target))

# restart windows
windows = [tuple(map(int, l.split())) for l in open(os.path.join(tmp, "windows")) if l.strip()]
p("soak: %d auth-eth restarts; windows (ms after load start, duration):" % len(windows))
for a, b in windows:
    p("  +%d .. +%d (%d ms; errors counted as expected until +%d)"
      % (a - load_start, b - load_start, b - a, b - load_start + margin))
if restart_fail:
    fails.append(restart_fail)
if not windows:
    fails.append("no auth-eth restart took place (SOAK_SECONDS too short for SOAK_RESTART_S?)")

def window_of(t):
    for i, (a, b) in enumerate(windows):
        if a - 250 <= t <= b + margin:
            return i
    return None

# errors
errors = []
for line in open(os.path.join(tmp, "errors")):
    m = re.match(r"(\d+) kind=(\S+) conn=(\d+) what=(\S+) detail=(.*)", line.rstrip("\n"))
    if m:
        errors.append((int(m[1]), m[2], m[4], m[5]))
    elif line.strip():
        errors.append((0, "?", "unparsed", line.strip()))
errors.sort()

def clear_message(what, detail):
    """An HTTP answer whose message names the authorization backend."""
    return what == "http" and "auth api" in detail

def short(detail):
    d = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", detail)
    d = re.sub(r"\s+", " ", d)
    return d[:200]

inside = [e for e in errors if window_of(e[0]) is not None]
outside = [e for e in errors if window_of(e[0]) is None]
unclear = [e for e in inside if not clear_message(e[2], e[3])]
p("soak: errors total %d (transport %d, non-2xx %d): inside restart windows %d, outside %d"
  % (len(errors), errs, non2xx, len(inside), len(outside)))
per_window = [0] * len(windows)
last_after = [None] * len(windows)
for e in inside:
    i = window_of(e[0])
    per_window[i] += 1
    last_after[i] = e[0] - windows[i][1]
if windows:
    p("  per window: " + ", ".join(str(n) for n in per_window))
    seen = [x for x in last_after if x is not None]
    if seen:
        p("  latest error relative to its window's end: %+d ms (margin %d ms)" % (max(seen), margin))
groups = {}
for e in inside:
    kname = e[1].split("/")[-1].split("?")[0]
    groups.setdefault((kname, e[2], short(e[3])), 0)
    groups[(kname, e[2], short(e[3]))] += 1
if groups:
    p("  inside the windows, by message:")
    for (kname, what, d), n in sorted(groups.items(), key=lambda x: -x[1]):
        p("    %6d  %s %s: %s" % (n, kname, what, d))
if outside:
    p("  outside the windows (each is a failure):")
    for t, kind, what, d in outside[:20]:
        p("    +%d ms %s %s: %s" % (t - load_start, kind, what, short(d)))
    if len(outside) > 20:
        p("    ... %d more" % (len(outside) - 20))
    fails.append("%d errors outside the auth-eth restart windows (first at +%d ms: %s %s)"
                 % (len(outside), outside[0][0] - load_start, outside[0][2], short(outside[0][3])))
if unclear:
    t, kind, what, d = unclear[0]
    fails.append("%d errors inside the windows without a clear auth api message (first: %s %s %s)"
                 % (len(unclear), kind, what, short(d)))
if len(errors) != errs + non2xx:
    fails.append("error log has %d lines, the load generators counted %d" % (len(errors), errs + non2xx))

# RSS and fds
samples = []
for l in open(os.path.join(tmp, "samples")):
    f = l.split()
    if len(f) == 4 and all(x.isdigit() for x in f):
        t, rss, anon, fds = map(int, f)
        if load_start <= t <= load_end:
            samples.append((t, rss, anon, fds))
skip = max(5000, (load_end - load_start) // 10)
steady = [s for s in samples if s[0] >= load_start + skip]
if len(steady) < 6:
    fails.append("only %d RSS samples after the warm-up" % len(steady))
else:
    n3 = len(steady) // 3
    first, last = steady[:n3], steady[-n3:]
    for col, name in ((1, "VmRSS"), (2, "RssAnon")):
        a = statistics.median(s[col] for s in first)
        b = statistics.median(s[col] for s in last)
        bound = max(rss_kb, a * rss_pct / 100)
        lo, hi = min(s[col] for s in samples), max(s[col] for s in samples)
        p("soak: KMS %-7s median first third %.0f kB, last third %.0f kB (%+.0f kB, bound +%.0f kB); range %d..%d kB"
          % (name, a, b, b - a, bound, lo, hi))
        if b - a > bound:
            fails.append("KMS %s grew from %.0f kB to %.0f kB (bound +%.0f kB)" % (name, a, b, bound))
    fo = lambda ss: [s[3] for s in ss if window_of(s[0]) is None] or [s[3] for s in ss]
    a, b = statistics.median(fo(first)), statistics.median(fo(last))
    p("soak: KMS fds under load: median first third %.0f, last third %.0f (bound +%d); range %d..%d; idle before %s, after %s"
      % (a, b, fd_slack, min(s[3] for s in samples), max(s[3] for s in samples), fd_before, fd_after))
    if b - a > fd_slack:
        fails.append("KMS fd count under load grew from %.0f to %.0f" % (a, b))
    if int(fd_after) - int(fd_before) > fd_slack:
        fails.append("KMS idle fd count grew from %s to %s" % (fd_before, fd_after))

if alive != "1":
    fails.append("the KMS is no longer running")
elif after_ok != "1":
    fails.append("GetAppKey does not answer 200 with keys after the soak")
p("soak: run time %d s" % (time.time() - int(t_start)))
if fails:
    for f in fails:
        p("soak: check failed: " + f)
    p("soak: FAIL: " + fails[0] + ("" if len(fails) == 1 else " (and %d more)" % (len(fails) - 1)))
    sys.exit(1)
p("soak: PASS: %d requests at %.1f req/s, %d errors all inside %d auth-eth restart windows, RSS and fds flat"
  % (reqs, achieved, len(errors), len(windows)))
PYEOF
