# tests/faults/lib.sh — helpers shared by the fault-matrix cases (sourced
# after cd to the project root). Builds on tests/integration/lib.sh (TMP,
# PIDS and its EXIT trap, pass/fail/check/expect_*, free_port, start_bg,
# wait_http, json, sim_kms_config). Every case asserts four things: the
# caller gets the specific error, nothing crashed, nothing was lost (key set
# fingerprint, release log chain and line count) and the KMS is healthy once
# the fault clears. Every wait is bounded.
. tests/integration/lib.sh
SIM="$BUILD/tests/simtee"
CTL="$BUILD/dstack-kmsctl"
KMS="$BUILD/dstack-kms"
FAULTS="$PWD/tests/faults"
APP=5bb4ff9a3837357f19dc176407a5709c62eb6c56
CH=c143116f$(printf '00%.0s' $(seq 28))
INST=1691ed1b$(printf '00%.0s' $(seq 16))

need_tools() {
  local b
  for b in "$KMS" "$CTL" "$SIM"; do
    [ -x "$b" ] || { fail built "missing $b (make BUILD=$BUILD all $BUILD/tests/simtee)"; finish; }
  done
}

# pki — the simulated Intel PKI in $TMP/pki, its root as $TMP/root.der
pki() {
  "$SIM" pki --seed "$(printf '42%.0s' $(seq 32))" --out "$TMP/pki" >/dev/null || fail simtee_pki "pki failed"
  openssl x509 -in "$TMP/pki/root_ca.pem" -outform DER -out "$TMP/root.der" 2>/dev/null ||
    cp "$TMP/pki/root_ca.der" "$TMP/root.der"
}

# pccs_start [simtee serve options] — the mock PCCS on $PCCS_PORT (picked once); PCCS_PID
pccs_start() {
  [ -n "${PCCS_PORT:-}" ] || PCCS_PORT=$(free_port)
  local i
  for i in 1 2 3 4 5; do
    start_bg "$TMP/pccs.$i.log" "$SIM" serve --pki "$TMP/pki" --port "$PCCS_PORT" "$@"
    PCCS_PID=$BG_PID
    wait_http "http://127.0.0.1:$PCCS_PORT/sgx/certification/v4/rootcacrl" 30 && kill -0 "$PCCS_PID" 2>/dev/null && return 0
    stop_pid "$PCCS_PID"
    sleep 0.3 # the port may still be held by the previous one
  done
  fail pccs_starts "$(cat "$TMP/pccs.5.log" 2>/dev/null | tail -2)"
  return 1
}

# fault_server NAME PORT [UPSTREAM] — tests/faults/fault_server.py; its mode file is $TMP/NAME.mode
fault_server() {
  echo ok >"$TMP/$1.mode"
  start_bg "$TMP/$1.log" $PY "$FAULTS/fault_server.py" "$2" "$TMP/$1.mode" ${3:+"$3"}
  eval "FS_PID_$1=$BG_PID"
  for _ in $(seq 50); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$2/" && return 0
    sleep 0.1
  done
  fail "fault_server_$1_starts" "$(tail -2 "$TMP/$1.log")"
  return 1
}
set_mode() { echo "$2" >"$TMP/$1.mode"; }

stop_pid() { kill "$1" 2>/dev/null; for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done; kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
alive() { kill -0 "$1" 2>/dev/null; }

# kms_start NAME CONFIG PORT — sets KPID (and KPID_NAME); 0 when /health answers
kms_start() {
  start_bg "$TMP/$1.log" "$KMS" --config "$2"
  KPID=$BG_PID
  eval "KPID_$1=$BG_PID"
  wait_http "https://127.0.0.1:$3/health" 150
}

# app_cert NAME CERT_DIR [simtee options] — an RA-TLS client certificate from that key set's temp CA
app_cert() {
  local n=$1 d=$2; shift 2
  "$SIM" ratls-cert --pki "$TMP/pki" --tmp-ca-cert "$d/tmp-ca.crt" --tmp-ca-key "$d/tmp-ca.key" \
    --app-id "$APP" --compose-hash "$CH" --instance-id "$INST" \
    --out-cert "$TMP/$n.pem" --out-key "$TMP/$n.key" "$@" >/dev/null 2>"$TMP/$n.err" ||
    fail "simtee_cert_$n" "$(cat "$TMP/$n.err")"
}

# appkey PORT CERT [max-time] -> "BODY\nSTATUS"
appkey() {
  curl -sk --max-time "${3:-30}" --cert "$TMP/$2.pem" --key "$TMP/$2.key" -w '\n%{http_code}' \
    -H 'Content-Type: application/json' -d '{"api_version":1}' "https://127.0.0.1:$1/prpc/GetAppKey?json"
}
# getmeta PORT [max-time] -> "BODY\nSTATUS"
getmeta() { curl -sk --max-time "${2:-30}" -w '\n%{http_code}' "https://127.0.0.1:$1/prpc/GetMeta?json"; }
status() { echo "$1" | tail -1; }
body() { echo "$1" | sed '$d'; }
errmsg() { body "$1" | json "j.get('error','')" 2>/dev/null || body "$1" | head -c 300; }

# keyset_fp DIR — one hash over the root keys and the temp CA key (what must never change)
keyset_fp() { (cd "$1" 2>/dev/null && cat root-ca.key root-k256.key tmp-ca.key 2>/dev/null) | sha256sum | cut -c1-16; }
# log_lines FILE
log_lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# intact NAME CERT_DIR FP AUDIT LINES_BEFORE — key set unchanged; release log chain verifies, no line lost
intact() {
  expect_eq "$1_key_set_intact" "$(keyset_fp "$2")" "$3"
  if [ -f "$4" ]; then
    local out
    out=$("$CTL" audit verify "$4" 2>&1) && pass "$1_release_log_chain_intact" ||
      fail "$1_release_log_chain_intact" "$out"
    if [ "$(log_lines "$4")" -ge "$5" ]; then pass "$1_release_log_no_line_lost"; else
      fail "$1_release_log_no_line_lost" "$(log_lines "$4") lines, $5 before"; fi
  fi
}

# healthy NAME PORT [CERT] — GetMeta (and GetAppKey with CERT) succeed, retried for at most ~20 s
healthy() {
  local r="" i
  for i in $(seq 40); do
    r=$(getmeta "$2" 10)
    [ "$(status "$r")" = 200 ] && break
    sleep 0.5
  done
  expect_eq "$1_healthy_getmeta" "$(status "$r")" 200
  [ -n "${3:-}" ] || return 0
  for i in $(seq 40); do
    r=$(appkey "$2" "$3" 10)
    [ "$(status "$r")" = 200 ] && break
    sleep 0.5
  done
  if [ "$(status "$r")" = 200 ] && body "$r" | grep -q '"disk_crypt_key"'; then pass "$1_healthy_getappkey"; else
    fail "$1_healthy_getappkey" "$(echo "$r" | tr '\n' ' ' | head -c 300)"; fi
}

# still_alive NAME PID
still_alive() { if alive "$2"; then pass "$1_kms_alive"; else fail "$1_kms_alive" "the KMS (pid $2) is gone"; fi; }

# no_keys NAME RESPONSE — the refused answer carries no key material
no_keys() { if echo "$2" | grep -q 'disk_crypt_key\|k256_key'; then fail "$1_no_keys_released" "keys in a refused answer"; else pass "$1_no_keys_released"; fi; }

# empty_dir DIR — nothing but (possibly) the staging directory and the lock file
empty_dir() { [ -z "$(ls -A "$1" 2>/dev/null | grep -v '^\.staging$' | grep -v '^\.kms\.lock$')" ]; }
complete_set() { local f; for f in root-ca.crt root-ca.key tmp-ca.crt tmp-ca.key rpc.crt rpc.key root-k256.key; do [ -s "$1/$f" ] || return 1; done; }
