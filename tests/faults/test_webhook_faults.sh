#!/usr/bin/env bash
# test_webhook_faults.sh — the fault matrix, webhook rows: a webhook slower
# than its timeout, one that answers garbage, one that closes the
# connection, one that is down. Each refusal carries its specific reason and
# no key; the KMS stays up; the key set and the release log are intact (the
# refusals are logged, nothing is lost); once the webhook is well again the
# KMS serves GetMeta and GetAppKey. Then two KMS on one cert_dir: the second
# says which process holds it.
set -u
cd "$(dirname "$0")/../.."
. tests/faults/lib.sh
need_tools
pki
pccs_start || finish
WPORT=$(free_port)
fault_server wh "$WPORT" || finish
PORT=$(free_port)
mkdir -p "$TMP/k"
sim_kms_config "$TMP/k/kms.toml" "$PORT" "http://127.0.0.1:$WPORT" "$TMP/k/release.log" "$PCCS_PORT"
sed -i "s#$TMP/certs#$TMP/k/certs#g" "$TMP/k/kms.toml"
kms_start k "$TMP/k/kms.toml" "$PORT" || { fail kms_starts "$(tail -3 "$TMP/k.log")"; finish; }
app_cert app "$TMP/k/certs"
healthy warmup "$PORT" app
FP=$(keyset_fp "$TMP/k/certs")

# row MODE WANT-IN-ERROR
row() {
  local mode=$1 want=$2 before r
  before=$(log_lines "$TMP/k/release.log")
  set_mode wh "$mode"
  r=$(appkey "$PORT" app 30)
  expect_eq "webhook_${mode}_refused_400" "$(status "$r")" 400
  expect_contains "webhook_${mode}_reason" "$(errmsg "$r")" "$want"
  no_keys "webhook_${mode}" "$r"
  still_alive "webhook_${mode}" "$KPID"
  expect_eq "webhook_${mode}_refusal_logged" "$(log_lines "$TMP/k/release.log")" $((before + 1))
  intact "webhook_${mode}" "$TMP/k/certs" "$FP" "$TMP/k/release.log" "$before"
  set_mode wh ok
  healthy "webhook_${mode}_after" "$PORT" app
}
FAULT_SLOW_S=6 row slow "timed out after 2000 ms"
row garbage "failed to decode response"
row close "auth api http://127.0.0.1:$WPORT"

# down: the webhook process is gone
before=$(log_lines "$TMP/k/release.log")
stop_pid "$FS_PID_wh"
r=$(appkey "$PORT" app 30)
expect_eq webhook_down_refused_400 "$(status "$r")" 400
expect_contains webhook_down_reason "$(errmsg "$r")" "auth api http://127.0.0.1:$WPORT unreachable"
no_keys webhook_down "$r"
still_alive webhook_down "$KPID"
intact webhook_down "$TMP/k/certs" "$FP" "$TMP/k/release.log" "$before"
fault_server wh "$WPORT"
healthy webhook_down_after "$PORT" app

# two KMS on one cert_dir
P2=$(free_port)
sed "s#^port = $PORT\$#port = $P2#; s#$TMP/k/release.log#$TMP/k/release2.log#" "$TMP/k/kms.toml" >"$TMP/k/second.toml"
out=$(timeout 20 "$KMS" --config "$TMP/k/second.toml" 2>&1); rc=$?
expect_eq same_cert_dir_second_exits_1 "$rc" 1
expect_contains same_cert_dir_names_the_holder "$out" "cert_dir $TMP/k/certs is in use by another dstack-kms (pid $KPID holds .kms.lock)"
intact same_cert_dir "$TMP/k/certs" "$FP" "$TMP/k/release.log" 0
healthy same_cert_dir_first_still_serves "$PORT" app
finish
