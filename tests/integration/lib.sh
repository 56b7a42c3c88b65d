# lib.sh — shared helpers for the integration tests (sourced, not run).
# Every check prints "PASS: name" or "FAIL: name: why"; servers started with
# start_bg are killed on exit; waits are bounded in count and time.
BUILD=${BUILD:-build}
PY=/usr/bin/python3
TOOLS="$PWD/tests/tools"
TMP=$(mktemp -d /tmp/kms-it-XXXXXX)
PIDS=()
FAILS=0

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; FAILS=$((FAILS + 1)); }
# check NAME COND-COMMAND...  — PASS when the command succeeds
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n" "command failed: $*"; fi; }
# expect_eq NAME GOT WANT
expect_eq() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi; }
# expect_contains NAME HAYSTACK NEEDLE
expect_contains() { case "$2" in *"$3"*) pass "$1" ;; *) fail "$1" "'${2:0:300}' does not contain '$3'" ;; esac; }

# wait_log FILE TEXT [tries of 0.05 s] — until FILE holds TEXT
wait_log() {
  local i
  for i in $(seq "${3:-100}"); do
    grep -qsF -- "$2" "$1" && return 0
    sleep 0.05
  done
  return 1
}

free_port() {
  $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_bg LOGFILE CMD... — run in background, remember the pid in $BG_PID
start_bg() {
  local log=$1; shift
  "$@" >"$log" 2>&1 &
  BG_PID=$!
  PIDS+=("$BG_PID")
}

# wait_http URL [tries] — poll (0.1 s apart) until curl gets any HTTP answer
wait_http() {
  local url=$1 tries=${2:-100}
  for _ in $(seq "$tries"); do
    curl -sk -o /dev/null --max-time 2 "$url" && return 0
    sleep 0.1
  done
  return 1
}

# json FIELD-EXPR — read JSON on stdin, print the Python expression of it (j is the doc)
json() { $PY -c "import json,sys; j=json.load(sys.stdin); v=$1; print(json.dumps(v) if not isinstance(v,str) else v)"; }

finish() { exit $(( FAILS > 0 ? 1 : 0 )); }

# sim_pki_pccs SEED-BYTE — the simulated TEE's PKI in $TMP/pki (seed: the byte
# repeated 32 times), its root as $TMP/root.der, and its PCCS on $PCCS_PORT
sim_pki_pccs() {
  "$SIM" pki --seed "$(printf "$1%.0s" $(seq 32))" --out "$TMP/pki" >/dev/null || fail simtee_pki "pki failed"
  openssl x509 -in "$TMP/pki/root_ca.pem" -outform DER -out "$TMP/root.der" 2>/dev/null ||
    cp "$TMP/pki/root_ca.der" "$TMP/root.der"
  PCCS_PORT=$(free_port)
  start_bg "$TMP/pccs.log" "$SIM" serve --pki "$TMP/pki" --port "$PCCS_PORT"
  wait_http "http://127.0.0.1:$PCCS_PORT/sgx/certification/v4/rootcacrl" 100
}

# sim_kms_config FILE PORT WEBHOOK-URL AUDIT-FILE PCCS-PORT [IMAGE-VERIFY] —
# a host-mode kms.toml for simulated-TEE callers: keys in $TMP/certs, the
# simtee PCCS and root as the trust anchor, the webhook policy, the release
# log, [core.image] verify (default false)
sim_kms_config() {
  cat >"$1" <<TOML
[default]
workers = 2
max_blocking = 8
[rpc]
address = "127.0.0.1"
port = $2
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
file = "$4"
[core.image]
verify = ${6:-false}
[core.attestation]
insecure_allow_external_trust_anchors = true
collateral_cache_dir = "$TMP/collateral"
[core.attestation.urls]
pccs = "http://127.0.0.1:$5/sgx/certification/v4"
[core.attestation.root_ca]
tdx = "$TMP/root.der"
[core.auth_api]
type = "webhook"
[core.auth_api.webhook]
url = "$3"
timeout = "2s"
[core.onboard]
auto_bootstrap_domain = "localhost"
TOML
}
