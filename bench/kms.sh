#!/usr/bin/env bash
# kms.sh — `make bench`: dstack-kms under HTTPS load on this machine, each
# scenario beside its crypto floor measured in the same run.
#
# Set-up: the simulated TEE's PKI and PCCS (build/tests/simtee), the constant
# local webhook (bench/webhook.c), one dstack-kms in host mode with the
# default workers, a release log in BENCH_DIR. Scenarios (bench/kms_loadgen:
# keep-alive HTTPS, BENCH_CONNS connections, BENCH_SECONDS each):
#   GetMeta                  no client certificate
#   GetAppEnvEncryptPubKey   no client certificate
#   GetAppKey                RA-TLS client certificate: quote verification
#                            with warm collateral, webhook, release log
#   SignCert                 a V2 CSR with its attestation
#   handshake                GET /health on a new mTLS connection per request
#                            (the RA-TLS client certificate, chained to the
#                            KMS's temporary CA)
# then the floor of each (bench/kms_floor, as many threads as cores, the
# same key set), achieved / floor, the webhook round trip and the release
# log append (write + fdatasync) beside GetAppKey and SignCert, RssAnon and
# VmRSS idle and at the peak of each scenario, time-to-ready after exec
# (bench/ready.py), then `make bench-auth-eth` unless BENCH_AUTH_ETH=0.
# Prints a table; nothing fails on a slow figure (a benchmark, not a test),
# but a scenario with errors or a setup failure exits 1.
# Env: BUILD (build), BENCH_SECONDS (5), BENCH_CONNS (16), FLOOR_SECONDS (3),
# BENCH_DIR (the temporary directory: release log and cert_dir live there),
# BENCH_AUTH_ETH (1), BENCH_OUT (a file to copy the table to), BENCH_PROFILE
# (1: perf record the KMS during each scenario and print its top symbols).
set -u
cd "$(dirname "$0")/.."
. tests/faults/lib.sh
SECS=${BENCH_SECONDS:-5}
CONNS=${BENCH_CONNS:-16}
FSECS=${FLOOR_SECONDS:-3}
THREADS=$(nproc)
LOADGEN="$BUILD/bench/kms_loadgen"
FLOOR="$BUILD/bench/kms_floor"
WEBHOOK="$BUILD/bench/webhook"
HTTPGEN="$BUILD/bench/loadgen"
DIR=${BENCH_DIR:-$TMP}
abort() { echo "bench: FAIL: $*" >&2; exit 1; }
for b in "$KMS" "$CTL" "$SIM" "$LOADGEN" "$FLOOR" "$WEBHOOK" "$HTTPGEN"; do
  [ -x "$b" ] || abort "missing $b (make BUILD=$BUILD bench-tools)"
done
mkdir -p "$DIR" || abort "cannot create BENCH_DIR $DIR"

# --- set-up -----------------------------------------------------------------------
pki
pccs_start >/dev/null || abort "the simulated PCCS did not start"
WH_PORT=$(free_port)
start_bg "$TMP/webhook.log" "$WEBHOOK" "$WH_PORT"
wait_http "http://127.0.0.1:$WH_PORT/" 50 || abort "the bench webhook did not start: $(cat "$TMP/webhook.log")"
KPORT=$(free_port)
CFG="$TMP/kms.toml"
sim_kms_config "$CFG" "$KPORT" "http://127.0.0.1:$WH_PORT" "$DIR/release.log" "$PCCS_PORT"
sed -i "s#$TMP/certs#$DIR/certs#g; s#$TMP/collateral#$DIR/collateral#; /^workers = /d; /^max_blocking = /d" "$CFG"
mkdir -p "$DIR/certs"
kms_start kms "$CFG" "$KPORT" || abort "dstack-kms did not start: $(tail -3 "$TMP/kms.log")"
WORKERS=$(grep -o 'workers[= ]*[0-9]*' "$TMP/kms.log" | head -1 | grep -o '[0-9]*$')
CERTS="$DIR/certs"
app_cert app "$CERTS"
[ -s "$TMP/app.pem" ] || abort "the RA-TLS client certificate: $(cat "$TMP/app.err")"
r=$(appkey "$KPORT" app 20)
[ "$(status "$r")" = 200 ] || abort "GetAppKey during set-up: $(echo "$r" | tr '\n' ' ' | head -c 300)"

echo '{"api_version":1}' >"$TMP/appkey.json"
echo "{\"app_id\":\"$APP\"}" >"$TMP/envkey.json"
openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/csr.sec1" 2>/dev/null &&
  openssl pkcs8 -topk8 -nocrypt -in "$TMP/csr.sec1" -out "$TMP/csr.key" 2>/dev/null ||
  abort "openssl could not make the CSR key"
"$SIM" ratls-cert --pki "$TMP/pki" --self-signed --key "$TMP/csr.key" --app-id "$APP" --compose-hash "$CH" \
  --instance-id "$INST" --out-cert "$TMP/csrcert.pem" --out-key "$TMP/csrcert.key" \
  --out-attestation "$TMP/csr.att" >/dev/null 2>"$TMP/att.err" || abort "simtee attestation: $(cat "$TMP/att.err")"
$PY tests/tools/csr_encode.py v2 --key "$TMP/csr.key" --attestation "$TMP/csr.att" --subject app.example \
  --san app.example --server-auth --client-auth >"$TMP/signcert.json" || abort "csr_encode failed"
code=$(curl -sk --max-time 20 -o "$TMP/signcert.out" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary @"$TMP/signcert.json" "https://127.0.0.1:$KPORT/prpc/SignCert?json")
[ "$code" = 200 ] || abort "SignCert during set-up: $code $(head -c 300 "$TMP/signcert.out")"

# --- memory -------------------------------------------------------------------------
# mem_kb FIELD — a /proc/PID/status field of the KMS, in kB
mem_kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$KPID/status"; }
sleep 1
IDLE_ANON=$(mem_kb RssAnon)
IDLE_RSS=$(mem_kb VmRSS)
# peak_sampler OUT — max RssAnon / VmRSS every 0.2 s until $TMP/stop-sampler exists (bounded: 600 s)
peak_sampler() {
  local a=0 r=0 x y n=0
  rm -f "$TMP/stop-sampler"
  while [ ! -e "$TMP/stop-sampler" ] && [ $n -lt 3000 ]; do
    x=$(mem_kb RssAnon); y=$(mem_kb VmRSS)
    [ -n "$x" ] && [ "$x" -gt "$a" ] && a=$x
    [ -n "$y" ] && [ "$y" -gt "$r" ] && r=$y
    echo "$a $r" >"$1"
    n=$((n + 1))
    sleep 0.2
  done
}

# --- scenarios ------------------------------------------------------------------------
NAMES=(GetMeta GetAppEnvEncryptPubKey GetAppKey SignCert handshake)
REQS=("/prpc/GetMeta?json,-"
  "/prpc/GetAppEnvEncryptPubKey?json,$TMP/envkey.json"
  "/prpc/GetAppKey?json,$TMP/appkey.json,$TMP/app.pem,$TMP/app.key"
  "/prpc/SignCert?json,$TMP/signcert.json"
  "GET:/health,-,$TMP/app.pem,$TMP/app.key")
EXTRA=("" "" "" "" "--new-conn")
FLOORS=("" envpubkey appkey signcert handshake)
declare -A RPS P50 P99 ANON RSS FLOOR_OPS ERRS
PEAK_ANON=0
for i in "${!NAMES[@]}"; do
  n=${NAMES[$i]}
  peak_sampler "$TMP/peak.$n" &
  SAMPLER=$!
  PERF=""
  if [ "${BENCH_PROFILE:-0}" = 1 ] && command -v perf >/dev/null 2>&1; then
    perf record -q --call-graph "${BENCH_CALLGRAPH:-fp}" -o "$TMP/perf.$n" -p "$KPID" -- sleep "$SECS" >/dev/null 2>&1 &
    PERF=$!
  fi
  # shellcheck disable=SC2086
  "$LOADGEN" --port "$KPORT" --conns "$CONNS" --seconds "$SECS" ${EXTRA[$i]} --errlog "$TMP/err.$n" \
    --req "${REQS[$i]}" >"$TMP/load.$n" 2>&1
  if [ -n "$PERF" ]; then
    wait "$PERF"
    echo "== profile of dstack-kms during $n (perf, top symbols by self time)"
    perf report -q -i "$TMP/perf.$n" --no-children --sort dso --stdio 2>/dev/null | grep -E "^ +[0-9]" | head -8
    perf report -q -i "$TMP/perf.$n" --children --sort sym --percent-limit 4 --stdio -g none 2>/dev/null |
      grep -E "^ +[0-9]" | grep -v "\[k\]" | head -40
  fi
  touch "$TMP/stop-sampler"
  wait "$SAMPLER"
  line=$(grep '^requests=' "$TMP/load.$n")
  [ -n "$line" ] || abort "$n: the load generator printed no summary: $(head -3 "$TMP/load.$n")"
  RPS[$n]=$(echo "$line" | sed -n 's/.* rps=\([0-9.]*\).*/\1/p')
  P50[$n]=$(echo "$line" | sed -n 's/.* p50_ms=\([0-9.]*\).*/\1/p')
  P99[$n]=$(echo "$line" | sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p')
  e=$(echo "$line" | sed -n 's/.* errors=\([0-9]*\) non2xx=\([0-9]*\).*/\1 \2/p')
  ERRS[$n]=$(( ${e% *} + ${e#* } ))
  read -r ANON[$n] RSS[$n] <"$TMP/peak.$n"
  [ "${ANON[$n]}" -gt "$PEAK_ANON" ] && PEAK_ANON=${ANON[$n]}
  kill -0 "$KPID" 2>/dev/null || abort "$n: dstack-kms died under load: $(tail -3 "$TMP/kms.log")"
done

# the floors, on an idle KMS (same machine, same key set, every core)
for i in "${!NAMES[@]}"; do
  n=${NAMES[$i]} f=${FLOORS[$i]}
  [ -n "$f" ] || continue
  if [ "$f" = handshake ]; then
    "$FLOOR" handshake "$CERTS/rpc.crt" "$CERTS/rpc.key" "$CERTS/tmp-ca.crt" "$TMP/app.pem" "$TMP/app.key" \
      "$THREADS" "$FSECS" >"$TMP/floor.$n" 2>&1
  else
    "$FLOOR" "$f" "$CERTS" "$THREADS" "$FSECS" >"$TMP/floor.$n" 2>&1
  fi
  FLOOR_OPS[$n]=$(sed -n 's/^floor=.* ops_per_s=\([0-9.]*\).*/\1/p' "$TMP/floor.$n")
  [ -n "${FLOOR_OPS[$n]}" ] || abort "floor $f: $(head -3 "$TMP/floor.$n")"
done
"$FLOOR" appkey-min "$CERTS" "$THREADS" "$FSECS" >"$TMP/floor.appkey-min" 2>&1
APPKEY_MIN=$(sed -n 's/^floor=.* ops_per_s=\([0-9.]*\).*/\1/p' "$TMP/floor.appkey-min")
"$FLOOR" fsync "$DIR" 500 >"$TMP/floor.fsync" 2>&1
FSYNC_LINE=$(grep '^floor=' "$TMP/floor.fsync" | head -1)
FSYNC_US=$(echo "$FSYNC_LINE" | sed -n "s/.* audit_append_us=\([0-9.]*\).*/\1/p")
# the webhook round trip: one keep-alive connection, the KMS's request body
printf '{"appId":"%s"}' "$APP" >"$TMP/wh.json"
"$HTTPGEN" 127.0.0.1 "$WH_PORT" /bootAuth/app "$TMP/wh.json" 1 2 >"$TMP/wh.out" 2>&1
WH_P50=$(sed -n 's/.* p50_ms=\([0-9.]*\).*/\1/p' "$TMP/wh.out")

# --- time to ready ---------------------------------------------------------------------
stop_pid "$KPID"
$PY bench/ready.py "$KMS" "$CFG" "$KPORT" 5 "$TMP/ready.log" >"$TMP/ready.out" 2>&1 ||
  abort "time-to-ready: $(tail -2 "$TMP/ready.out")"
READY=$(grep '^ready rounds=' "$TMP/ready.out")
READY_LISTEN=$(echo "$READY" | sed -n 's/.*listen_ms_median=\([0-9.]*\).*/\1/p')
READY_HEALTH=$(echo "$READY" | sed -n 's/.*health_ms_median=\([0-9.]*\).*/\1/p')

# --- report -------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
{
  echo "make bench: $(nproc) cores, $(uname -r), $(openssl version | cut -d' ' -f1-2); dstack-kms ${WORKERS:-default} workers;"
  echo "$CONNS keep-alive connections, $SECS s per scenario; floors on $THREADS threads for $FSECS s; release log on $(df -T "$DIR" | awk 'NR == 2 { print $2 }')"
  echo
  printf '%-24s %9s %8s %8s %11s %7s %10s %9s %6s\n' scenario req/s p50_ms p99_ms floor/s ratio RssAnon_MB VmRSS_MB errors
  for n in "${NAMES[@]}"; do
    f=${FLOOR_OPS[$n]:-}
    printf '%-24s %9s %8s %8s %11s %7s %10s %9s %6s\n' "$n" "${RPS[$n]}" "${P50[$n]}" "${P99[$n]}" \
      "${f:--}" "$( [ -n "$f" ] && ratio "${RPS[$n]}" "$f" || echo -)" "$(mb "${ANON[$n]}")" "$(mb "${RSS[$n]}")" "${ERRS[$n]}"
  done
  echo
  echo "GetAppKey floor: 6 P-256 verifies (PCK chain, QE report, quote, chain again with CRLs) + keys_app + 3 hashes (the list: bench/kms_floor.c)"
  echo "GetAppKey minimal floor (no repeated verification): $APPKEY_MIN/s; achieved / minimal floor $(ratio "${RPS[GetAppKey]}" "$APPKEY_MIN")"
  echo "beside the floor (not counted in it): webhook round trip p50 ${WH_P50:-?} ms (one keep-alive connection); release-log append (write + fdatasync, one writer) ${FSYNC_US:-?} us"
  echo "RssAnon idle $(mb "$IDLE_ANON") MB (VmRSS $(mb "$IDLE_RSS") MB), peak under load $(mb "$PEAK_ANON") MB"
  echo "ready after exec (existing key set, median of 5): port accepting ${READY_LISTEN} ms, GET /health 200 ${READY_HEALTH} ms"
  echo
  echo "goals: GetAppKey >= 0.50 of floor: $(ratio "${RPS[GetAppKey]}" "${FLOOR_OPS[GetAppKey]}");" \
    "GetAppEnvEncryptPubKey >= 0.80: $(ratio "${RPS[GetAppEnvEncryptPubKey]}" "${FLOOR_OPS[GetAppEnvEncryptPubKey]}");" \
    "RssAnon < 4 MB idle: $(mb "$IDLE_ANON"), < 16 MB under load: $(mb "$PEAK_ANON"); ready < 50 ms: ${READY_HEALTH}"
} | tee "$TMP/table"
[ -z "${BENCH_OUT:-}" ] || cp "$TMP/table" "$BENCH_OUT"
bad=0
for n in "${NAMES[@]}"; do
  if [ "${ERRS[$n]}" != 0 ]; then
    echo "bench: $n had ${ERRS[$n]} failed requests, first: $(head -1 "$TMP/err.$n")" >&2
    bad=1
  fi
done
[ $bad = 0 ] || exit 1
if [ "${BENCH_AUTH_ETH:-1}" = 1 ]; then
  echo
  echo "== auth-eth (make bench-auth-eth)"
  BUILD=$BUILD bench/auth-eth.sh || exit 1
fi
