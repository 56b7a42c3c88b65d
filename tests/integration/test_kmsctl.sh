#!/usr/bin/env bash
# test_kmsctl.sh — dstack-kmsctl against a real dstack-kms (auto-bootstrap,
# dev auth, host mode, TLS verified with --cacert/--servername) and against a
# small fake KMS (plain HTTP, Python) that serves the independent signature
# vectors of kms-protocol §6.1/§6.2, tampered answers, 400 errors and slow
# answers. Checks: meta/env-pubkey/temp-ca/health output against curl,
# openssl and tests/tools/independent.py; env-pubkey signature verification
# (wrong signer, tampered timestamp, other app, missing v1); local APP_ID
# checks that never reach the server; TLS failures; unreachable and slow
# servers; --help of every command; exit statuses 0/1/2; one-line errors.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh

CTL="$BUILD/dstack-kmsctl"
APP=1111111111111111111111111111111111111111
# kms-protocol §6.2 independent vectors: root k256 = 0x01*32, app_id = 0x11*20,
# public_key = 0xde*32, timestamp = 1700000000.
V_ROOT_PUB=031b84c5567b126440995d3ed5aaba0565d71e1834604819ff9c17f5e9d5dd078f
V_PUB=dededededededededededededededededededededededededededededededede
V_SIG=a1ba65d3a5761951b5e388332728f8e0756a44b96d371cd3f16e83e3bc4492cc0eb953435fcbd28f56e28b1a1771506673ec7ea5496d16cecbef180a6c3efc1700
V_SIG1=da25be7d63e1c649cdb2a3388a6500b6351ef6ef8be03f356f56e8f28960f9274971924ae042e0308297d85adf8ebe9b2f99d9ff6a8179883546217729d5e5ae00
# kms-protocol §6.1 upstream SDK fixture (legacy signature only), app_id = 0x00*20.
U_PUB=e33a1832c6562067ff8f844a61e51ad051f1180b66ec2551fb0251735f3ee90a
U_SIG=8542c49081fbf4e03f62034f13fbf70630bdf256a53032e38465a27c36fd6bed7a5e7111652004aef37f7fd92fbfc1285212c4ae6a6154203a48f5e16cad2cef00
U_SIGNER=0217610d74cbd39b6143842c6d8bc310d79da1d82cc9d17f8876376221eda0c38f

# run ARGS... — runs kmsctl; stdout in $OUT, stderr in $ERR, status in $RC
run() {
  "$CTL" "$@" >"$TMP/out" 2>"$TMP/err"
  RC=$?
  OUT=$(cat "$TMP/out")
  ERR=$(cat "$TMP/err")
}
# expect_fail NAME WANT_RC NEEDLE — last run failed with WANT_RC and one stderr line with NEEDLE
expect_fail() {
  local lines
  lines=$(grep -c '' "$TMP/err")
  if [ "$RC" != "$2" ]; then
    fail "$1" "exit status $RC, want $2; stderr: ${ERR:0:300}"
  elif [ "$2" = 1 ] && [ "$lines" != 1 ]; then
    fail "$1" "want exactly one stderr line, got $lines: ${ERR:0:300}"
  else
    case "$ERR" in
      "dstack-kmsctl: "*"$3"*) pass "$1" ;;
      *) fail "$1" "stderr '${ERR:0:300}' does not contain 'dstack-kmsctl: ...$3'" ;;
    esac
  fi
}

# --- the fake KMS (plain HTTP) ---------------------------------------------
cat >"$TMP/fake_kms.py" <<'PY'
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port, mode_file, log_file, root_pub = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
V = dict(pub="de" * 32, ts=1700000000, sig=sys.argv[5], sig1=sys.argv[6])
U = dict(pub=sys.argv[7], sig=sys.argv[8])
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send(self, code, body, ctype="application/json"):
        b = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        self.send(200, "OK", "text/plain")
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0)).decode()
        with open(log_file, "a") as f:
            f.write("%s %s %s\n" % (self.path, self.headers.get("Content-Type"), body))
        mode = open(mode_file).read().strip()
        if mode == "slow":
            time.sleep(3)
        if mode == "error400":
            return self.send(400, json.dumps({"error": "KMS self authorization failed: KMS is not allowed: \x1b[31mred\nline2"}, indent=2))
        if mode == "notfound":
            return self.send(404, "nope", "text/plain")
        if mode == "badjson":
            return self.send(200, "{\"public_key\": 5")
        if self.path.startswith("/prpc/KMS.GetMeta?json"):
            return self.send(200, json.dumps({"ca_cert": "", "allow_any_upgrade": False,
                "k256_pubkey": root_pub, "bootstrap_info": None, "is_dev": False,
                "gateway_app_id": "gw\x1b]0;evil\x07", "kms_contract_address": "0xabc",
                "chain_id": 8453, "app_auth_implementation": None}, separators=(",", ":")))
        if self.path.startswith("/prpc/KMS.GetAppEnvEncryptPubKey?json"):
            if mode == "upstream":
                r = {"public_key": U["pub"], "signature": U["sig"], "timestamp": 1, "signature_v1": ""}
            else:
                r = {"public_key": V["pub"], "signature": V["sig"], "timestamp": V["ts"], "signature_v1": V["sig1"]}
                if mode == "tampered_ts":
                    r["timestamp"] += 1
            return self.send(200, json.dumps(r, separators=(",", ":")))
        self.send(400, json.dumps({"error": "Service not found"}, indent=2))
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY

FPORT=$(free_port)
echo good >"$TMP/mode"
: >"$TMP/fake.log"
start_bg "$TMP/fake.out" $PY "$TMP/fake_kms.py" "$FPORT" "$TMP/mode" "$TMP/fake.log" "$V_ROOT_PUB" "$V_SIG" "$V_SIG1" "$U_PUB" "$U_SIG"
FAKE="http://127.0.0.1:$FPORT"
if ! wait_http "$FAKE/health" 100; then
  fail fake_kms_starts "no answer; $(cat "$TMP/fake.out")"
  finish
fi

# --- the real KMS ------------------------------------------------------------
PORT=$(free_port)
CERTS="$TMP/certs"
cat >"$TMP/kms.toml" <<TOML
[default]
workers = 2
[rpc]
address = "127.0.0.1"
port = $PORT
[rpc.tls]
key = "$CERTS/rpc.key"
certs = "$CERTS/rpc.crt"
[rpc.tls.mutual]
ca_certs = "$CERTS/tmp-ca.crt"
mandatory = false
[core]
cert_dir = "$CERTS"
attest_rpc_cert = false
enforce_self_authorization = false
[core.audit]
file = "$CERTS/../release.log"
[core.attestation]
collateral_cache_dir = "$TMP/collateral"
[core.image]
verify = false
[core.auth_api]
type = "dev"
[core.onboard]
auto_bootstrap_domain = "localhost"
TOML
start_bg "$TMP/kms.log" "$BUILD/dstack-kms" --config "$TMP/kms.toml"
BASE="https://localhost:$PORT"
C=(curl -s --max-time 10 --resolve "localhost:$PORT:127.0.0.1" --cacert "$CERTS/root-ca.crt")
ok=0
for _ in $(seq 100); do
  if [ -f "$CERTS/root-ca.crt" ] && "${C[@]}" -o /dev/null "$BASE/health" 2>/dev/null; then ok=1; break; fi
  sleep 0.1
done
if [ $ok = 1 ]; then
  pass kms_starts
else
  fail kms_starts "no answer within 10 s; log: $(tail -5 "$TMP/kms.log")"
  finish
fi
G=(--url "https://127.0.0.1:$PORT" --cacert "$CERTS/root-ca.crt" --servername localhost)
K256=$("${C[@]}" -X POST "$BASE/prpc/KMS.GetMeta?json" | json 'j["k256_pubkey"]')

# --- version, help, usage errors --------------------------------------------
run version
if [ $RC = 0 ] && echo "$OUT" | grep -qE '^dstack-kmsctl v0\.6\.0 \(git:[0-9a-f]{20}(-modified)?\)$'; then
  pass version_prints_version
else
  fail version_prints_version "rc=$RC out='$OUT'"
fi
run --help
if [ $RC = 0 ] && for c in meta env-pubkey temp-ca health version help; do echo "$OUT" | grep -q "^  $c "; done; then
  pass global_help_lists_every_command
else
  fail global_help_lists_every_command "rc=$RC out='${OUT:0:300}'"
fi
for c in meta env-pubkey temp-ca health version help; do
  run "$c" --help
  if [ $RC = 0 ] && [[ "$OUT" == "Usage: dstack-kmsctl "*"$c"* ]] && [ -z "$ERR" ]; then
    pass "help_${c//-/_}"
  else
    fail "help_${c//-/_}" "rc=$RC out='${OUT:0:200}' err='$ERR'"
  fi
done
run help env-pubkey
expect_contains help_command_shows_command_usage "$OUT" "--signer HEX"
run temp-ca --help
expect_contains temp_ca_help_says_key_material "$OUT" "PRIVATE KEY"
run
expect_eq no_arguments_exit_2 "$RC" 2
run frobnicate
expect_fail unknown_command_exit_2 2 "unknown command 'frobnicate'"
run --bogus meta
expect_fail unknown_global_option_exit_2 2 "unknown option '--bogus'"
run meta --bogus
expect_fail unknown_command_option_exit_2 2 "unexpected argument '--bogus'"
run --insecure --cacert "$CERTS/root-ca.crt" health
expect_fail insecure_with_cacert_exit_2 2 "--insecure cannot be combined with --cacert"
run --timeout 0 health
expect_fail bad_timeout_exit_2 2 "--timeout must be"
run --url ftp://127.0.0.1 health
expect_fail bad_url_scheme_exit_2 2 "--url must start with https:// or http://"
run --url "$FAKE/?key=secret" health
expect_fail url_with_query_refused 2 "must not contain a query"
run --url
expect_fail url_without_value_exit_2 2 "option '--url' needs a value"

# --- meta ---------------------------------------------------------------------
run "${G[@]}" meta
expect_eq meta_exit_0 "$RC" 0
expect_contains meta_k256_pubkey "$OUT" "k256_pubkey:             $K256"
fp=$(openssl x509 -in "$CERTS/root-ca.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
subj=$(openssl x509 -in "$CERTS/root-ca.crt" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
expect_contains meta_ca_cert_subject_and_fingerprint "$OUT" "ca_cert:                 subject=$subj, sha256=$fp"
expect_contains meta_is_dev "$OUT" "is_dev:                  true"
expect_contains meta_bootstrap_info_absent "$OUT" "bootstrap_info:          absent"
expect_contains meta_gateway_app_id "$OUT" "gateway_app_id:          any"
expect_contains meta_contract_not_set "$OUT" "kms_contract_address:    (not set)"
expect_contains meta_chain_id_not_set "$OUT" "chain_id:                (not set)"
run "${G[@]}" --json meta
expect_eq meta_json_is_raw_answer "$OUT" "$("${C[@]}" -X POST "$BASE/prpc/KMS.GetMeta?json")"
run --url "$BASE" --cacert "$CERTS/root-ca.crt" meta
# (localhost may resolve to ::1 first; the KMS listens on 127.0.0.1 only, libcurl tries both)
if [ "$RC" = 0 ]; then pass meta_url_host_checked_without_servername; else fail meta_url_host_checked_without_servername "rc=$RC err=$ERR"; fi
echo good >"$TMP/mode"
run --url "$FAKE" meta
expect_contains meta_chain_id_set "$OUT" "chain_id:                8453"
expect_contains meta_contract_set "$OUT" "kms_contract_address:    0xabc"
case "$OUT" in
  *$'\e'*|*$'\a'*) fail meta_server_strings_sanitized "control characters reached stdout" ;;
  *) expect_contains meta_server_strings_sanitized "$OUT" "gateway_app_id:          gw?]0;evil?" ;;
esac

# --- env-pubkey against the real KMS -----------------------------------------
run "${G[@]}" env-pubkey "$APP"
expect_eq env_pubkey_exit_0 "$RC" 0
PUB=$(echo "$OUT" | sed -n 's/^public_key: *//p')
expect_eq env_pubkey_matches_independent_derivation "$PUB" "$($PY "$TOOLS/independent.py" env-pubkey "$CERTS/root-ca.key" "$APP")"
expect_eq env_pubkey_both_signatures_verified "$(echo "$OUT" | grep -c '(verified)$')" 2
expect_contains env_pubkey_signer_from_getmeta "$OUT" "signer:         $K256 (GetMeta k256_pubkey)"
SIG=$(echo "$OUT" | sed -n 's/^signature: *\([0-9a-f]*\) .*/\1/p')
expect_eq env_pubkey_printed_signature_recovers_independently \
  "$($PY "$TOOLS/independent.py" recover "$SIG" "$($PY "$TOOLS/independent.py" env-msg "$APP" "$PUB")")" "$K256"
run "${G[@]}" env-pubkey "0X${APP^^}"
expect_eq env_pubkey_accepts_0x_and_uppercase "$(echo "$OUT" | sed -n 's/^public_key: *//p')" "$PUB"
run "${G[@]}" env-pubkey --signer "$K256" "$APP"
expect_eq env_pubkey_signer_option_correct_key "$RC" 0
run "${G[@]}" env-pubkey --signer "$V_ROOT_PUB" "$APP"
expect_eq env_pubkey_wrong_signer_exit_1 "$RC" 1
expect_contains env_pubkey_wrong_signer_names_signature "$ERR" "dstack-kmsctl: signature does not verify: signed by $K256, expected signer $V_ROOT_PUB"
expect_contains env_pubkey_wrong_signer_names_signature_v1 "$ERR" "dstack-kmsctl: signature_v1 does not verify"
expect_eq env_pubkey_wrong_signer_stdout_marks_failed "$(echo "$OUT" | grep -c '(FAILED)$')" 2
run "${G[@]}" env-pubkey --signer 1234 "$APP"
expect_fail env_pubkey_bad_signer_exit_2 2 "--signer must be 33 bytes"
run "${G[@]}" --json env-pubkey "$APP"
expect_eq env_pubkey_json_mode "$(echo "$OUT" | json 'j["public_key"]'):$RC" "$PUB:0"

# --- bad APP_ID: refused locally, the server is never contacted ---------------
: >"$TMP/fake.log"
run --url "$FAKE" env-pubkey 1234
expect_fail app_id_short_refused 2 "APP_ID must be 20 bytes (40 hex digits), got 4 hex digits"
run --url "$FAKE" env-pubkey "zz${APP:2}"
expect_fail app_id_non_hex_refused 2 "APP_ID is not hex"
run --url "$FAKE" env-pubkey "${APP}11"
expect_fail app_id_long_refused 2 "APP_ID must be 20 bytes"
run --url "$FAKE" env-pubkey
expect_fail app_id_missing_refused 2 "APP_ID is missing"
expect_eq bad_app_id_never_contacts_server "$(wc -c <"$TMP/fake.log")" 0

# --- env-pubkey against the fake KMS: independent vectors ---------------------
echo good >"$TMP/mode"
run --url "$FAKE" env-pubkey "$APP"
expect_eq vector_env_pubkey_verifies "$RC:$(echo "$OUT" | grep -c '(verified)$')" "0:2"
expect_contains vector_request_is_json_mode "$(cat "$TMP/fake.log")" "/prpc/KMS.GetAppEnvEncryptPubKey?json application/json {\"app_id\":\"$APP\"}"
expect_contains vector_signer_fetched_with_getmeta "$(cat "$TMP/fake.log")" "/prpc/KMS.GetMeta?json"
expect_contains vector_timestamp_printed "$OUT" "timestamp:      1700000000 (2023-11-14T22:13:20Z)"
echo tampered_ts >"$TMP/mode"
run --url "$FAKE" env-pubkey "$APP"
expect_fail vector_tampered_timestamp_fails_v1_only 1 "signature_v1 does not verify"
expect_contains vector_tampered_timestamp_legacy_still_verified "$OUT" "signature:      $V_SIG (verified)"
echo good >"$TMP/mode"
run --url "$FAKE" env-pubkey 2222222222222222222222222222222222222222
expect_eq vector_answer_for_other_app_fails_both "$RC:$(grep -c 'does not verify' "$TMP/err")" "1:2"
echo upstream >"$TMP/mode"
run --url "$FAKE" env-pubkey --signer "$U_SIGNER" 0000000000000000000000000000000000000000
expect_fail upstream_fixture_v1_missing_fails 1 "signature_v1 is missing from the answer"
expect_contains upstream_fixture_legacy_signature_verified "$OUT" "signature:      $U_SIG (verified)"

# --- KMS errors, malformed answers, timeouts, unreachable ---------------------
echo error400 >"$TMP/mode"
run --url "$FAKE" meta
expect_fail kms_400_error_text_shown 1 "GetMeta: KMS error: KMS self authorization failed: KMS is not allowed: ?[31mred line2"
echo notfound >"$TMP/mode"
run --url "$FAKE" temp-ca
expect_fail http_404_reported 1 "GetTempCaCert: $FAKE answered HTTP 404 Not Found"
echo badjson >"$TMP/mode"
run --url "$FAKE" env-pubkey "$APP"
expect_fail malformed_answer_reported 1 "GetAppEnvEncryptPubKey: unexpected answer"
echo slow >"$TMP/mode"
t0=$(date +%s%N)
run --url "$FAKE/base/" --timeout 1 meta
t1=$(date +%s%N)
expect_fail slow_server_times_out 1 "timed out after 1000 ms"
check slow_server_timeout_bounded test $(( (t1 - t0) / 1000000 )) -lt 2500
case "$ERR" in *"/base"*|*prpc*) fail errors_name_only_origin "$ERR" ;; *) pass errors_name_only_origin ;; esac
echo good >"$TMP/mode"
DEAD=$(free_port)
t0=$(date +%s%N)
run --url "https://127.0.0.1:$DEAD" --cacert "$CERTS/root-ca.crt" health
t1=$(date +%s%N)
expect_fail unreachable_fails_with_unreachable 1 "health: https://127.0.0.1:$DEAD unreachable"
check unreachable_fails_fast test $(( (t1 - t0) / 1000000 )) -lt 2000
run --url "https://127.0.0.1:$DEAD" --cacert "$CERTS/root-ca.crt" env-pubkey "$APP"
expect_fail unreachable_env_pubkey 1 "GetAppEnvEncryptPubKey: https://127.0.0.1:$DEAD unreachable"
run --url "https://127.0.0.1:$PORT" --cacert "$TMP/nope.pem" health
expect_fail missing_cacert_file 1 "--cacert $TMP/nope.pem: No such file or directory"

# --- TLS verification ------------------------------------------------------------
run --url "https://127.0.0.1:$PORT" --cacert "$CERTS/tmp-ca.crt" --servername localhost health
expect_fail tls_wrong_ca_refused 1 "TLS error"
run --url "https://127.0.0.1:$PORT" --cacert "$CERTS/root-ca.crt" --servername wrong.example health
expect_fail tls_wrong_servername_refused 1 "TLS error"
run --url "https://127.0.0.1:$PORT" --cacert "$CERTS/root-ca.crt" health
expect_fail tls_ip_host_not_in_cert_refused 1 "TLS error"
run --url "https://127.0.0.1:$PORT" health
expect_fail tls_system_store_refuses_private_ca 1 "TLS error"
run --url "https://127.0.0.1:$PORT" --insecure health
expect_eq tls_insecure_explicit_works "$RC:$OUT" "0:OK"

# --- temp-ca ------------------------------------------------------------------
run "${G[@]}" temp-ca
expect_eq temp_ca_exit_0 "$RC" 0
expect_contains temp_ca_prints_temp_ca_cert "$OUT" "$(cat "$CERTS/tmp-ca.crt")"
expect_contains temp_ca_prints_root_cert "$OUT" "$(cat "$CERTS/root-ca.crt")"
keyline=$(sed -n 2p "$CERTS/tmp-ca.key")
case "$OUT" in
  *PRIVATE*KEY-----*|*"$keyline"*) fail temp_ca_hides_key "key material in the output" ;;
  *) expect_contains temp_ca_hides_key "$OUT" "# temp_ca_key: not shown (key material; use --show-key)" ;;
esac
run "${G[@]}" temp-ca --show-key
expect_contains temp_ca_show_key_prints_key "$OUT" "$(cat "$CERTS/tmp-ca.key")"
run "${G[@]}" --json temp-ca
expect_eq temp_ca_json_hides_key "$(echo "$OUT" | json 'sorted(j.keys())')" '["ca_cert", "temp_ca_cert"]'
expect_eq temp_ca_json_cert "$(echo "$OUT" | json 'j["temp_ca_cert"]')" "$(cat "$CERTS/tmp-ca.crt")"
run "${G[@]}" --json temp-ca --show-key
expect_eq temp_ca_json_show_key_is_raw_answer "$OUT" "$("${C[@]}" -X POST "$BASE/prpc/KMS.GetTempCaCert?json")"

# --- health ---------------------------------------------------------------------
run "${G[@]}" health
expect_eq health_ok "$RC:$OUT" "0:OK"
run "${G[@]}" --timeout 0.5 health
expect_eq health_fractional_timeout "$RC:$OUT" "0:OK"

finish
