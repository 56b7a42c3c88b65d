#!/usr/bin/env bash
# test_onboard_page.sh — the onboarding page (src/kms/onboard_page.c) in a
# real browser: one KMS with no key set (attest_rpc_cert and
# enforce_self_authorization on, its own simulated guest agent, the mock
# PCCS and the fake webhook, set up as test_kms_onboard.sh does) serves the
# onboard service; tests/browser/onboard_page.mjs drives headless Debian
# Chromium through playwright-core: attestation info shown, Bootstrap from
# the page, a full-page screenshot, Finish. Then: the page made no request
# to another origin, the k256 key the page showed is GetMeta's over HTTPS
# (the KMS went on to serve), and the screenshot is a PNG under
# build/test-artifacts/onboard-page.png.
# Prints "SKIP: onboard_page_browser: <reason>" and exits 0 when
# /usr/bin/chromium or tests/browser/node_modules/playwright-core is absent
# (scripts/install-deps.sh and scripts/install-npm-deps.sh install them).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh
SIM="$BUILD/tests/simtee"
CHROMIUM=/usr/bin/chromium
PW=tests/browser/node_modules/playwright-core/package.json
ART_DIR="$BUILD/test-artifacts"
SHOT="$ART_DIR/onboard-page.png"

[ -x "$CHROMIUM" ] || { echo "SKIP: onboard_page_browser: $CHROMIUM is not installed (scripts/install-deps.sh installs Debian's chromium)"; exit 0; }
[ -f "$PW" ] || { echo "SKIP: onboard_page_browser: tests/browser/node_modules/playwright-core is not installed (scripts/install-npm-deps.sh; npm registry unreachable?)"; exit 0; }
command -v node >/dev/null 2>&1 || { echo "SKIP: onboard_page_browser: node is not installed"; exit 0; }
[ -x "$SIM" ] || { fail simtee_built "missing $SIM (make test builds it)"; finish; }

# chromium processes of this run are found by their own profile directory
PROFILE="$TMP/chromium-profile"
kill_chromium() {
  local pids
  pids=$(pgrep -f -- "--user-data-dir=$PROFILE" 2>/dev/null) || return 0
  # shellcheck disable=SC2086
  kill $pids 2>/dev/null
  sleep 0.5
  pids=$(pgrep -f -- "--user-data-dir=$PROFILE" 2>/dev/null) || return 0
  # shellcheck disable=SC2086
  kill -9 $pids 2>/dev/null
}
trap 'kill_chromium; cleanup' EXIT

t0=$(date +%s%N)
"$SIM" pki --seed "$(printf '42%.0s' $(seq 32))" --out "$TMP/pki" >/dev/null || fail simtee_pki "pki failed"
openssl x509 -in "$TMP/pki/root_ca.pem" -outform DER -out "$TMP/root.der" 2>/dev/null ||
  cp "$TMP/pki/root_ca.der" "$TMP/root.der"
PCCS_PORT=$(free_port)
start_bg "$TMP/pccs.log" "$SIM" serve --pki "$TMP/pki" --port "$PCCS_PORT"
wait_http "http://127.0.0.1:$PCCS_PORT/sgx/certification/v4/rootcacrl" 100 || { fail pccs_starts "$(tail -3 "$TMP/pccs.log")"; finish; }

CH=c143116f$(printf '00%.0s' $(seq 28))
KMS_APP=a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0
start_bg "$TMP/agent.log" "$SIM" agent --pki "$TMP/pki" --listen "unix:$TMP/agent.sock" \
  --app-id "$KMS_APP" --compose-hash "$CH" --instance-id "$(printf '%s' "$KMS_APP" | tr a-f 1-6)"
for _ in $(seq 50); do [ -S "$TMP/agent.sock" ] && break; sleep 0.1; done
[ -S "$TMP/agent.sock" ] || { fail agent_starts "$(tail -3 "$TMP/agent.log")"; finish; }

WH=$(free_port)
WEBHOOK_BODIES="$TMP/wh.bodies" start_bg "$TMP/wh.log" "$PY" tests/tools/fake_webhook.py "$WH"
wait_http "http://127.0.0.1:$WH/" 100 || { fail webhook_starts "$(tail -3 "$TMP/wh.log")"; finish; }

RPC=$(free_port); OB=$(free_port)
sim_kms_config "$TMP/kms.toml" "$RPC" "http://127.0.0.1:$WH" "$TMP/release.log" "$PCCS_PORT"
sed -i "s/^attest_rpc_cert = false/attest_rpc_cert = true/; s/^enforce_self_authorization = false/enforce_self_authorization = true/; /^auto_bootstrap_domain/d" "$TMP/kms.toml"
printf 'address = "127.0.0.1"\nport = %s\n' "$OB" >>"$TMP/kms.toml"
DSTACK_AGENT_ADDRESS="unix:$TMP/agent.sock" start_bg "$TMP/kms.log" "$BUILD/dstack-kms" --config "$TMP/kms.toml"
KMS_PID=$BG_PID
wait_http "http://127.0.0.1:$OB/health" 100 || { fail onboard_service_starts "$(tail -5 "$TMP/kms.log")"; finish; }
pass onboard_service_starts

# ---- the browser --------------------------------------------------------------
mkdir -p "$ART_DIR"
rm -f "$SHOT"
tb=$(date +%s%N)
timeout -k 5 150 node tests/browser/onboard_page.mjs "http://127.0.0.1:$OB/" localhost "$SHOT" "$PROFILE" \
  >"$TMP/browser.out" 2>"$TMP/browser.err"
rc=$?
browser_ms=$((($(date +%s%N) - tb) / 1000000))
kill_chromium
out=$(cat "$TMP/browser.out")
if [ $rc -eq 0 ]; then
  pass browser_run
else
  fail browser_run "exit $rc: $(grep -v '^\s*$' "$TMP/browser.err" | grep -v 'unexpected operator' | tail -5 | tr '\n' ' ')"
fi
expect_contains page_shows_attestation "$out" "info=tee_variant:   dstack-tdx"
n_req=$(echo "$out" | sed -n 's/^requests=//p')
n_ext=$(echo "$out" | sed -n 's/^external_requests=//p')
[ -n "$n_req" ] && [ "$n_req" -ge 3 ] && pass page_requests_recorded ||
  fail page_requests_recorded "requests='$n_req' (want the page, GetAttestationInfo, Bootstrap, /finish)"
expect_eq no_external_request "$n_ext" 0
ext=$(echo "$out" | sed -n 's/^request: [A-Z]* //p' | grep -v "^http://127.0.0.1:$OB/")
[ -z "$ext" ] && pass every_request_same_origin || fail every_request_same_origin "$ext"
expect_contains page_called_bootstrap "$out" "request: POST http://127.0.0.1:$OB/prpc/Onboard.Bootstrap?json"
expect_contains page_called_finish "$out" "request: GET http://127.0.0.1:$OB/finish"
K256=$(echo "$out" | sed -n 's/^k256_pubkey=//p')
[ ${#K256} -eq 66 ] && pass page_shows_k256 || fail page_shows_k256 "'$K256'"
expect_contains page_says_finished "$out" "finished=yes"

# ---- the KMS went on to serve, with the key the page showed --------------------
if wait_http "https://127.0.0.1:$RPC/health" 150; then pass kms_serves_tls_after_finish; else
  fail kms_serves_tls_after_finish "$(tail -5 "$TMP/kms.log")"
fi
meta=$(curl -sk --max-time 10 -d '{}' "https://127.0.0.1:$RPC/prpc/GetMeta?json")
expect_eq getmeta_k256_is_the_pages "$(echo "$meta" | json 'j["k256_pubkey"]' 2>/dev/null)" "$K256"
kill -0 "$KMS_PID" 2>/dev/null && pass same_process_serves || fail same_process_serves "the KMS exited"
curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$OB/health" && fail onboard_service_ended "still answers" ||
  pass onboard_service_ended

# ---- the screenshot -------------------------------------------------------------
if [ -s "$SHOT" ] && [ "$(head -c 8 "$SHOT" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
  pass screenshot_is_png
else
  fail screenshot_is_png "$SHOT missing, empty or not a PNG"
fi
left=$(pgrep -f -- "--user-data-dir=$PROFILE" 2>/dev/null)
[ -z "$left" ] && pass no_chromium_left || fail no_chromium_left "pids $left"
echo "  (browser run ${browser_ms} ms, whole test $((($(date +%s%N) - t0) / 1000000)) ms; screenshot $SHOT)"
finish
