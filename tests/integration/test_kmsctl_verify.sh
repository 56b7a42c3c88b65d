#!/usr/bin/env bash
# test_kmsctl_verify.sh — `make install DESTDIR=` and `dstack-kmsctl verify`
# on a staged /etc-like tree, without systemd (the systemd side is in
# tests/systemd, `make test-systemd`).
# Install: layout, modes, the examples are never overwritten, units installed
# as they are, PREFIX rewrites ExecStart. Verify (--root/--config/--env-file/
# --cert-dir/--no-systemd): the example's placeholders are detected; host mode
# is reported; a webhook port mismatch, an env file readable by others, the
# public demo RPC key, a key readable by others, certs owned by the wrong user
# (the tutorial's chown -R root:root trap), a missing ReadWritePaths= dir and a
# missing key set are each a failure printed with its fix; with a real
# dstack-kms, a stand-in auth-eth and a stand-in chain RPC every network check
# passes, and a chain that has no code at the contract address, a webhook that
# cannot read the chain, and a stale chain head are caught.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh

CTL=${KMSCTL:-$BUILD/dstack-kmsctl}
R="$TMP/root"
ADDR=0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0

# --- make install into a staged tree ---------------------------------------------
out=$(make -s -f mk/install.mk install DESTDIR="$R" BUILD="$BUILD" 2>&1)
rc=$?
expect_eq install_destdir_succeeds "$rc" 0
mode() { stat -c '%a' "$1" 2>/dev/null; }
expect_eq install_binaries_0755 "$(mode "$R/usr/local/bin/dstack-kms") $(mode "$R/usr/local/bin/dstack-kmsctl")" "755 755"
expect_eq install_kms_toml_0640 "$(mode "$R/etc/kms/kms.toml")" 640
expect_eq install_env_file_0600 "$(mode "$R/etc/kms/auth-eth.env")" 600
expect_eq install_cert_dir_0700 "$(mode "$R/etc/kms/certs")" 700
expect_eq install_log_and_cache_dirs "$(mode "$R/var/log/kms") $(mode "$R/var/cache/dstack-kms/collateral")" "750 750"
if cmp -s deploy/systemd/dstack-kms.service "$R/etc/systemd/system/dstack-kms.service" &&
  cmp -s deploy/systemd/dstack-auth-eth.service "$R/etc/systemd/system/dstack-auth-eth.service"; then
  pass install_units_as_they_are
else
  fail install_units_as_they_are "installed units differ from deploy/systemd"
fi
if [ -f "$R/usr/local/lib/sysusers.d/dstack-kms.conf" ] && [ -f "$R/usr/local/lib/tmpfiles.d/dstack-kms.conf" ]; then
  pass install_sysusers_tmpfiles
else
  fail install_sysusers_tmpfiles "sysusers.d/tmpfiles.d entries missing"
fi
expect_contains install_destdir_says_owners_at_boot "$out" "systemd-sysusers"
echo "# edited by the operator" >>"$R/etc/kms/kms.toml"
echo "KMS_CONTRACT_ADDR=$ADDR" >>"$R/etc/kms/auth-eth.env"
sum_before=$(cat "$R/etc/kms/kms.toml" "$R/etc/kms/auth-eth.env" | sha256sum)
out=$(make -s -f mk/install.mk install DESTDIR="$R" BUILD="$BUILD" 2>&1)
expect_eq install_never_overwrites_config "$(cat "$R/etc/kms/kms.toml" "$R/etc/kms/auth-eth.env" | sha256sum)" "$sum_before"
expect_contains install_reports_kept_config "$out" "KEEP    /etc/kms/kms.toml"
make -s -f mk/install.mk install DESTDIR="$TMP/opt" PREFIX=/opt/kms BUILD="$BUILD" >/dev/null 2>&1
expect_contains install_prefix_rewrites_execstart "$(grep ExecStart "$TMP/opt/etc/systemd/system/dstack-kms.service")" \
  "ExecStart=/opt/kms/bin/dstack-kms --config /etc/kms/kms.toml"
# back to the pristine example env file for the placeholder checks
cp deploy/examples/auth-eth.env "$R/etc/kms/auth-eth.env"
chmod 600 "$R/etc/kms/auth-eth.env"
mkdir -p "$R/tmp" "$R/etc"
[ -x "$R/usr/local/bin/dstack-auth-eth" ] || { printf '#!/bin/sh\n' >"$R/usr/local/bin/dstack-auth-eth"; chmod 755 "$R/usr/local/bin/dstack-auth-eth"; }

# verify ARGS... — runs verify; output in $OUT, status in $RC
verify() {
  "$CTL" "$@" >"$TMP/v.out" 2>"$TMP/v.err"
  RC=$?
  OUT=$(cat "$TMP/v.out" "$TMP/v.err")
}
# has_fail NAME CHECK NEEDLE [FIX-NEEDLE] — the output has "[FAIL] CHECK: ...NEEDLE" (and its fix line)
has_fail() {
  local block
  block=$(awk -v pre="[FAIL] $2: " -v needle="$3" \
    'index($0, pre) == 1 && index($0, needle) { print; if ((getline nxt) > 0) print nxt; exit }' "$TMP/v.out")
  if [ -z "$block" ]; then
    fail "$1" "no '[FAIL] $2: ...$3' in: $(grep -F '[FAIL]' "$TMP/v.out" | head -5 | tr '\n' '|')"
    return
  fi
  if [ -n "${4:-}" ]; then
    case "$block" in
      *"fix: "*"$4"*) ;;
      *) fail "$1" "the failure has no fix line with '$4': $(echo "$block" | tr '\n' '|')"; return ;;
    esac
  fi
  pass "$1"
}
no_fail() { # no_fail NAME CHECK — no [FAIL] line for CHECK
  if grep -F -q -- "[FAIL] $2: " "$TMP/v.out"; then fail "$1" "$(grep -F -A1 -- "[FAIL] $2: " "$TMP/v.out" | head -2 | tr '\n' '|')"; else pass "$1"; fi
}
V=(verify --root "$R" --no-systemd)

# --- the example as installed -------------------------------------------------------
verify "${V[@]}" --offline
expect_eq verify_example_fails "$RC" 1
has_fail verify_detects_rpc_url_placeholder placeholder "ETH_RPC_URL is still a template placeholder" "set ETH_RPC_URL in"
has_fail verify_detects_contract_placeholder placeholder "KMS_CONTRACT_ADDR is still a template placeholder" "set KMS_CONTRACT_ADDR in"
expect_contains verify_reports_host_mode "$OUT" "host mode: no TEE attestation"
has_fail verify_detects_not_bootstrapped "key set" "not bootstrapped" "bootstrap-kms.yml"
no_fail verify_example_webhook_port_matches "webhook port"
if grep -q -E '^(PASS|FAIL):' "$TMP/v.out"; then fail verify_output_not_test_lines "PASS:/FAIL: at line start"; else pass verify_output_not_test_lines; fi
verify "${V[@]}" --offline --bogus
expect_eq verify_usage_error_status "$RC" 2

# --- a bootstrapped key set from the real KMS --------------------------------------
KPORT=$(free_port)
sed -i -e "s/^auto_bootstrap_domain = \"\"/auto_bootstrap_domain = \"kms.verify.test\"/" \
  -e "s/^port = 9100/port = $KPORT/" -e 's/^address = "0.0.0.0"/address = "127.0.0.1"/' "$R/etc/kms/kms.toml"
sed -e "s#\"/etc/kms/certs#\"$R/etc/kms/certs#g" -e 's/^workers = 8/workers = 2/' \
  -e "s#^collateral_cache_dir = .*#collateral_cache_dir = \"$TMP/cache\"#" \
  -e "s#^file = \"/var/log/kms/release.log\"#file = \"$TMP/release.log\"#" "$R/etc/kms/kms.toml" >"$TMP/kms-run.toml"
# the KMS itself reads the staged cert dir; the webhook is a stand-in started below
AE_PORT=$(free_port); RPC_PORT=$(free_port)
sed -i "s#^url = \"http://127.0.0.1:9200\"#url = \"http://127.0.0.1:$AE_PORT\"#" "$R/etc/kms/kms.toml" "$TMP/kms-run.toml"
start_bg "$TMP/kms.log" "$BUILD/dstack-kms" --config "$TMP/kms-run.toml"
KMS_PID=$BG_PID
if wait_http "https://127.0.0.1:$KPORT/health" 100; then pass verify_setup_kms_bootstrapped; else fail verify_setup_kms_bootstrapped "$(tail -3 "$TMP/kms.log")"; fi

cat >"$R/etc/kms/auth-eth.env" <<EOF
HOST=127.0.0.1
PORT=$AE_PORT
ETH_RPC_URL=http://127.0.0.1:$RPC_PORT/secret-key-path
KMS_CONTRACT_ADDR=$ADDR
ETH_MAX_BLOCK_AGE=300
EOF
chmod 600 "$R/etc/kms/auth-eth.env"
if [ "$(id -u)" = 0 ]; then
  SU=dstack-kms
  echo "dstack-kms:x:4242:4242:dstack KMS:/nonexistent:/usr/sbin/nologin" >"$R/etc/passwd"
  chown -R 4242:4242 "$R/etc/kms/certs"
  chgrp 4242 "$R/etc/kms/kms.toml"
  UV=("${V[@]}")
else # not root: the current user plays the service user
  SU=$(id -un)
  UV=("${V[@]}" --service-user "$SU")
  getent passwd "$SU" >"$R/etc/passwd"
fi
verify "${UV[@]}" --offline
expect_eq verify_offline_staged_passes "$RC" 0
expect_contains verify_success_line "$OUT" "KMS service setup verified successfully!"
expect_contains verify_key_set_ok "$OUT" "[ok]   key set:"
expect_contains verify_chain_of_rpc_crt "$OUT" "rpc.crt (CN=kms.verify.test) verifies against root-ca.crt"
expect_contains verify_still_reports_host_mode "$OUT" "host mode: no TEE attestation"

# --- troubleshooting checks, one fault at a time -----------------------------------
sed -i "s/^PORT=.*/PORT=9300/" "$R/etc/kms/auth-eth.env"
verify "${UV[@]}" --offline
has_fail verify_detects_webhook_port_mismatch "webhook port" "auth-eth listens on port 9300" "PORT=$AE_PORT in"
sed -i "s/^PORT=.*/PORT=$AE_PORT/" "$R/etc/kms/auth-eth.env"

chmod 644 "$R/etc/kms/auth-eth.env"
verify "${UV[@]}" --offline
has_fail verify_detects_env_file_mode "auth-eth.env mode" "mode 644" "chmod 600"
chmod 600 "$R/etc/kms/auth-eth.env"

cp "$R/etc/kms/auth-eth.env" "$TMP/env.good"
sed -i "s#^ETH_RPC_URL=.*#ETH_RPC_URL=https://eth-sepolia.example/v2/demo#" "$R/etc/kms/auth-eth.env"
verify "${UV[@]}" --offline
has_fail verify_detects_demo_rpc_key ETH_RPC_URL "public demo key" "your own API key"
cp "$TMP/env.good" "$R/etc/kms/auth-eth.env"

sed -i "s#^KMS_CONTRACT_ADDR=.*#KMS_CONTRACT_ADDR=0x1234#" "$R/etc/kms/auth-eth.env"
verify "${UV[@]}" --offline
has_fail verify_detects_malformed_address KMS_CONTRACT_ADDR "is not an address" "20-byte address"
cp "$TMP/env.good" "$R/etc/kms/auth-eth.env"

chmod 644 "$R/etc/kms/certs/rpc.key"
verify "${UV[@]}" --offline
has_fail verify_detects_key_mode "key mode" "rpc.key is mode 644" "chmod 600"
chmod 600 "$R/etc/kms/certs/rpc.key"

if [ "$(id -u)" = 0 ]; then
  chown -R root:root "$R/etc/kms/certs"
  verify "${UV[@]}" --offline
  has_fail verify_detects_root_owned_certs "cert ownership" "not owned by dstack-kms" "chown -R dstack-kms:dstack-kms"
  chown -R 4242:4242 "$R/etc/kms/certs"
  chgrp root "$R/etc/kms/kms.toml"
  verify "${UV[@]}" --offline
  has_fail verify_detects_unreadable_kms_toml "kms.toml access" "dstack-kms cannot read" "chown root:dstack-kms"
  chgrp 4242 "$R/etc/kms/kms.toml"
  : >"$R/etc/passwd"
  verify "${UV[@]}" --offline
  has_fail verify_detects_missing_service_user "service user" "'dstack-kms', which does not exist" "systemd-sysusers"
  echo "dstack-kms:x:4242:4242:dstack KMS:/nonexistent:/usr/sbin/nologin" >"$R/etc/passwd"
else
  echo "SKIP: verify ownership checks need root (files owned by another user)"
fi

mv "$R/tmp" "$R/tmp.away"
verify "${UV[@]}" --offline
has_fail verify_detects_missing_readwritepaths dstack-kms.service "ReadWritePaths=/tmp does not exist" "install -d /tmp"
mv "$R/tmp.away" "$R/tmp"

mv "$R/etc/kms/certs/root-k256.key" "$TMP/k256.away"
verify "${UV[@]}" --offline
has_fail verify_detects_incomplete_key_set "key set" "missing: root-k256.key" "backup"
mv "$TMP/k256.away" "$R/etc/kms/certs/root-k256.key"

verify "${UV[@]}" --offline --config "$TMP/does-not-exist.toml"
has_fail verify_detects_missing_config kms.toml "does-not-exist.toml" "deploy/examples/kms.toml"

# --- network checks: stand-ins for auth-eth and the chain RPC ----------------------
cat >"$TMP/standins.py" <<'PY'
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
kind, port, addr, mode_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def mode():
    try: return open(mode_file).read().strip()
    except OSError: return "ok"
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def do_GET(self):
        if mode() == "nochain": return self.send(500, {"status": "error", "message": "authorization backend unavailable"})
        self.send(200, {"status": "ok", "kmsContractAddr": addr, "ethRpcUrl": "http://127.0.0.1", "gatewayAppId": "gw",
                        "chainId": 31337, "appAuthImplementation": addr, "appImplementation": addr})
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0")); req = json.loads(self.rfile.read(n) or b"{}")
        m = mode()
        if kind == "rpc":
            meth = req.get("method")
            if meth == "eth_chainId": res = "0x7a69"
            elif meth == "eth_getCode": res = "0x" if m == "nocode" else "0x6080604052"
            elif meth == "eth_getBlockByNumber": res = {"number": "0x10", "timestamp": hex(int(time.time()) - (900 if m == "stale" else 1))}
            else: return self.send(200, {"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "nope"}})
            return self.send(200, {"jsonrpc": "2.0", "id": req.get("id"), "result": res})
        if self.path == "/":
            if req.get("method") == "ping": return self.send(200, {"result": "pong"})
            if req.get("method") == "is_app_allowed":
                if m == "nochain": return self.send(200, {"result": False, "reason": "authorization backend unavailable"})
                return self.send(200, {"result": False})
            return self.send(400, {"error": "unknown method"})
        if self.path == "/bootAuth/app":
            if m == "nochain": return self.send(200, {"isAllowed": False, "reason": "authorization backend unavailable", "gatewayAppId": ""})
            return self.send(200, {"isAllowed": False, "reason": "App not registered", "gatewayAppId": "gw"})
        self.send(404, {"message": "not found"})
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
echo ok >"$TMP/mode"
start_bg "$TMP/ae.log" $PY "$TMP/standins.py" auth "$AE_PORT" "$ADDR" "$TMP/mode"
start_bg "$TMP/rpc.log" $PY "$TMP/standins.py" rpc "$RPC_PORT" "$ADDR" "$TMP/mode"
wait_http "http://127.0.0.1:$AE_PORT/" 50
wait_http "http://127.0.0.1:$RPC_PORT/" 50

verify "${UV[@]}"
expect_eq verify_online_passes "$RC" 0
for c in "webhook ping" "webhook is_app_allowed" "webhook GET /" "webhook /bootAuth/app" "chain RPC" "contract code" "chain head" "KMS health" "KMS GetMeta" "auth-eth port" "KMS port"; do
  n=$(echo "$c" | tr ' /' '__')
  expect_contains "verify_online_ok_$n" "$OUT" "[ok]   $c:"
done
expect_contains verify_kms_tls_verified_for_domain "$OUT" "TLS verified for kms.verify.test"
expect_contains verify_getmeta_through_webhook "$OUT" "answers through auth-eth: chain 31337, contract $ADDR"
if grep -q secret-key-path "$TMP/v.out"; then fail verify_never_prints_rpc_path "RPC URL path printed"; else pass verify_never_prints_rpc_path; fi

echo nocode >"$TMP/mode"
verify "${UV[@]}"
has_fail verify_detects_contract_without_code "contract code" "no code at $ADDR" "wrong network"
echo nochain >"$TMP/mode"
verify "${UV[@]}"
has_fail verify_detects_webhook_without_chain "webhook /bootAuth/app" "authorization backend unavailable" "ETH_RPC_URL"
has_fail verify_detects_seed_check_without_chain "webhook is_app_allowed" "authorization backend unavailable" "ETH_RPC_URL"
echo stale >"$TMP/mode"
verify "${UV[@]}"
has_fail verify_detects_stale_chain_head "chain head" "over ETH_MAX_BLOCK_AGE=300" "not synced"
echo ok >"$TMP/mode"

kill "$KMS_PID" 2>/dev/null
wait "$KMS_PID" 2>/dev/null
verify "${UV[@]}"
has_fail verify_detects_kms_not_listening "KMS port" "nothing listens on 127.0.0.1:$KPORT" "journalctl -u dstack-kms"

verify "${UV[@]}" --offline
if [ "$RC" = 0 ] && ! grep -q 'KMS port' "$TMP/v.out"; then pass verify_offline_skips_network; else fail verify_offline_skips_network "rc $RC"; fi

# --- without --no-systemd on a host whose init is not systemd ----------------------
if [ ! -d /run/systemd/system ]; then
  verify verify --root "$R" --offline
  has_fail verify_without_systemd_says_how "services" "systemd is not the init system" "--no-systemd"
fi
cp "$TMP/v.out" /tmp/last-verify.out 2>/dev/null; finish
