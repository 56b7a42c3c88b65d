#!/usr/bin/env bash
# test_make_run.sh — what `make run` starts (scripts/run-dev.sh) answers
# GetMeta over HTTPS soon after start, and prints the curl line it promises;
# the two app-key lines it prints give a simulated app its keys, with the
# k256 signature verified.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
PORT=$(free_port)
t0=$(date +%s%N)
KMS_PORT=$PORT KMS_RUN_DIR="$TMP/run" start_bg "$TMP/run.log" scripts/run-dev.sh "$BUILD"
got=""
for _ in $(seq 200); do
  got=$(curl -sk --max-time 2 "https://127.0.0.1:$PORT/prpc/KMS.GetMeta?json" 2>/dev/null) && [ -n "$got" ] && break
  sleep 0.05
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq make_run_answers_getmeta "$(echo "$got" | json 'j["is_dev"]' 2>/dev/null)" true
echo "  (make run: first GetMeta answer $ms ms after start, including key generation)"
expect_contains make_run_prints_curl_line "$(cat "$TMP/run.log")" "curl -sk https://127.0.0.1:$PORT/prpc/KMS.GetMeta?json"
expect_contains make_run_listens_on_loopback "$(cat "$TMP/run.log")" "RPC server listening on 127.0.0.1:$PORT"
# the two lines make run prints, run as printed
SIMLINE=$(grep -m1 'tests/simtee app ' "$TMP/run.log" | sed 's/^ *//')
KEYLINE=$(grep -m1 'dstack-kmsctl .*app-key ' "$TMP/run.log" | sed 's/^ *//')
check make_run_prints_simtee_line test -n "$SIMLINE"
check make_run_prints_app_key_line test -n "$KEYLINE"
out=$(bash -c "$SIMLINE" 2>&1) || fail make_run_simtee_app "$out"
keys=$(bash -c "$KEYLINE" 2>&1)
expect_contains make_run_app_key_released "$keys" "disk_crypt_key:"
expect_contains make_run_app_key_signature_verified "$keys" "signature:       verified"
expect_contains make_run_logs_mock_root "$(cat "$TMP/run.log")" "replaces the Intel SGX Root CA"
finish
