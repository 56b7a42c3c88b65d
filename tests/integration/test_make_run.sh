#!/usr/bin/env bash
# test_make_run.sh — what `make run` starts (scripts/run-dev.sh) answers
# GetMeta over HTTPS soon after start, and prints the curl line it promises.
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
finish
