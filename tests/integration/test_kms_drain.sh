#!/usr/bin/env bash
# test_kms_drain.sh — SIGTERM (systemctl stop): the KMS stops accepting at
# once, answers every request already in flight — here GetAppKey calls
# queued behind a slow webhook — and exits; with a webhook that never
# answers, the drain is bounded by [core] request_deadline (+ 1 s) and every
# caller still gets an answer ("deadline exceeded"), not a dropped
# connection.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
SIM="$BUILD/tests/simtee"
[ -x "$SIM" ] || { fail simtee_built "missing $SIM (make test builds it)"; finish; }
sim_pki_pccs 44
APP=5bb4ff9a3837357f19dc176407a5709c62eb6c56
CH=c143116f$(printf '00%.0s' $(seq 28))
INST=1691ed1b$(printf '00%.0s' $(seq 16))
N=8

# run_drain NAME WEBHOOK-MODE DEADLINE — N GetAppKey in flight, then SIGTERM;
# sets CODES (the N HTTP statuses), EXIT_MS (SIGTERM to exit), EXIT_RC, LATE
# (status of a connection tried after SIGTERM)
run_drain() {
  local n=$1 mode=$2 deadline=$3
  mkdir -p "$TMP/$n"
  local wport kport
  wport=$(free_port); kport=$(free_port)
  start_bg "$TMP/$n/wh.log" $PY tests/tools/fake_webhook.py "$wport" "$mode"
  wait_http "http://127.0.0.1:$wport/" 100
  sim_kms_config "$TMP/$n/kms.toml" "$kport" "http://127.0.0.1:$wport" "$TMP/$n/release.log" "$PCCS_PORT"
  sed -i "s#$TMP/certs#$TMP/$n/certs#g; s#^timeout = \"2s\"#timeout = \"20s\"#; s#^\[core\]\$#[core]\nrequest_deadline = \"$deadline\"#" "$TMP/$n/kms.toml"
  start_bg "$TMP/$n/kms.log" "$BUILD/dstack-kms" --config "$TMP/$n/kms.toml"
  local kpid=$BG_PID
  wait_http "https://127.0.0.1:$kport/health" 100 || { fail "${n}_kms_starts" "$(tail -3 "$TMP/$n/kms.log")"; return; }
  "$SIM" ratls-cert --pki "$TMP/pki" --tmp-ca-cert "$TMP/$n/certs/tmp-ca.crt" --tmp-ca-key "$TMP/$n/certs/tmp-ca.key" \
    --app-id "$APP" --compose-hash "$CH" --instance-id "$INST" \
    --out-cert "$TMP/$n/app.pem" --out-key "$TMP/$n/app.key" >/dev/null 2>&1
  # warm the collateral so that every request waits on the webhook only
  curl -sk --max-time 30 --cert "$TMP/$n/app.pem" --key "$TMP/$n/app.key" -o /dev/null \
    -H 'Content-Type: application/json' -d '{"api_version":1}' "https://127.0.0.1:$kport/prpc/GetAppKey?json"
  local cpids=()
  for i in $(seq "$N"); do
    curl -sk --max-time 30 --cert "$TMP/$n/app.pem" --key "$TMP/$n/app.key" -o "$TMP/$n/body.$i" \
      -w '%{http_code}' -H 'Content-Type: application/json' -d '{"api_version":1}' \
      "https://127.0.0.1:$kport/prpc/GetAppKey?json" >"$TMP/$n/code.$i" 2>/dev/null &
    cpids+=($!)
  done
  # every request has reached the webhook (each POST is logged there)
  for _ in $(seq 100); do
    [ "$(ss -Htn state established "( sport = :$kport )" | wc -l)" -ge "$N" ] && break
    sleep 0.05
  done
  sleep 0.3
  local t0
  t0=$(date +%s%N)
  kill -TERM "$kpid"
  sleep 0.1
  LATE=$(curl -sk --max-time 5 -o /dev/null -w '%{http_code}' "https://127.0.0.1:$kport/health")
  wait "$kpid"; EXIT_RC=$?
  EXIT_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
  for p in "${cpids[@]}"; do wait "$p"; done
  CODES=$(for i in $(seq "$N"); do cat "$TMP/$n/code.$i"; echo; done | tr '\n' ' ' | sed 's/ $//')
}

# ---- a slow webhook (1.5 s): every request in flight is answered, with keys ------
run_drain slow slow:1500 30s
want=$(printf '200 %.0s' $(seq "$N") | sed 's/ $//')
expect_eq slow_all_in_flight_answered_200 "$CODES" "$want"
expect_eq slow_keys_in_every_answer "$(grep -l disk_crypt_key "$TMP"/slow/body.* | wc -l)" "$N"
expect_eq slow_no_new_connections_after_sigterm "$LATE" 000
expect_eq slow_clean_exit "$EXIT_RC" 0
check slow_exit_after_the_answers [ "$EXIT_MS" -ge 800 -a "$EXIT_MS" -lt 10000 ]
expect_eq slow_release_log_has_every_release "$(grep -c '"decision":"allowed"' "$TMP/slow/release.log")" $((N + 1))
echo "  (slow webhook: $N in flight answered, exit ${EXIT_MS} ms after SIGTERM)"

# ---- a webhook that never answers: bounded by the request deadline ---------------
run_drain hung hang 2s
codes_ok=1
for c in $CODES; do [ "$c" = 000 ] && codes_ok=0; done
expect_eq hung_every_caller_answered "$codes_ok" 1
expect_contains hung_answer_says_deadline "$(cat "$TMP"/hung/body.1)" "deadline exceeded"
expect_eq hung_clean_exit "$EXIT_RC" 0
check hung_drain_bounded_by_deadline [ "$EXIT_MS" -lt 6000 ]
echo "  (hung webhook: codes $CODES, exit ${EXIT_MS} ms after SIGTERM, deadline 2 s)"
finish
