#!/usr/bin/env bash
# test_kms_no_core.sh — a crash of the KMS writes no core dump that could
# hold root keys: the process has RLIMIT_CORE 0 and is non-dumpable, and its
# key page is locked in RAM. Positive control first: the same crash of an
# unprotected child holding a marker does write a core containing it, so the
# test cannot pass just because cores are off on this machine (it reports
# SKIP with the reason when they are).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
mkdir -p "$TMP/ctl" "$TMP/kmscwd"
cores() { find "$1" -maxdepth 1 -name 'core*' -type f 2>/dev/null; }

# positive control: an unprotected process crashes the same way
(cd "$TMP/ctl" && ulimit -c unlimited 2>/dev/null &&
  exec $PY -c 'import os, signal; m = b"MARKER-" + b"7f3a9c" * 8; os.kill(os.getpid(), signal.SIGSEGV)') \
  >/dev/null 2>&1
CTL=$(cores "$TMP/ctl" | head -1)
if [ -z "$CTL" ]; then
  echo "SKIP: kms_no_core: this machine writes no core dumps (core_pattern '$(cat /proc/sys/kernel/core_pattern 2>/dev/null)', or a hard core limit of 0): the positive control produced none"
  finish
fi
check control_core_holds_marker grep -qa "MARKER-7f3a9c7f3a9c" "$CTL"

PORT=$(free_port)
cat >"$TMP/kms.toml" <<TOML
[default]
workers = 2
[rpc]
address = "127.0.0.1"
port = $PORT
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
[core.auth_api]
type = "dev"
[core.onboard]
auto_bootstrap_domain = "localhost"
TOML
KMS="$PWD/$BUILD/dstack-kms"
# under ASan (make test-asan exports SAN=1) the SIGSEGV below must reach the
# kernel's default action, not ASan's report-and-exit handler
[ "${SAN:-}" = 1 ] && export ASAN_OPTIONS="${ASAN_OPTIONS:-}:handle_segv=0"
(cd "$TMP/kmscwd" && ulimit -c unlimited 2>/dev/null && exec "$KMS" --config "$TMP/kms.toml") >"$TMP/kms.log" 2>&1 &
KPID=$!
PIDS+=("$KPID")
wait_http "https://127.0.0.1:$PORT/health" 100 || { fail kms_starts "$(tail -3 "$TMP/kms.log")"; finish; }
expect_eq kms_core_limit_zero "$(awk '/Max core file size/ {print $5}' /proc/$KPID/limits)" 0
LCK=$(awk '/VmLck/ {print $2}' /proc/$KPID/status)
if [ "${SAN:-}" = 1 ]; then
  echo "SKIP: kms_key_page_locked: ASan's mlock interceptor does not lock (SAN=1 build)"
else
  check kms_key_page_locked test "${LCK:-0}" -gt 0
fi
kill -SEGV "$KPID"
wait "$KPID" 2>/dev/null
expect_eq kms_crash_writes_no_core "$(cores "$TMP/kmscwd" | wc -l)" 0
K256=$(od -An -tx1 -v "$TMP/certs/root-k256.key" | tr -d ' \n')
found=0
for c in $(cores "$TMP/kmscwd") $(cores "$TMP/ctl"); do
  $PY -c 'import sys; sys.exit(0 if bytes.fromhex(sys.argv[1]) in open(sys.argv[2], "rb").read() else 1)' "$K256" "$c" && found=1
done
expect_eq no_core_holds_root_k256_key "$found" 0
finish
