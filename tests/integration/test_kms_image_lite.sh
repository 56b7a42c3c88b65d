#!/usr/bin/env bash
# test_kms_image_lite.sh — OS image verification of TDX lite images
# (kms-protocol §10.6) on a KMS with [core.image] verify = true.
#
# The images and the registers a TDX module would report for them come from
# tests/tools/tdx_lite.py, a model independent of the KMS (first checked here
# against the registers of a real lite boot's quote). Simulated-TEE callers
# carry those registers in their quote and the ACPI DATA events in their event
# log. A matching image gets its keys; a document that states another kernel,
# initrd, command line, TD HOB or firmware, a checksum file of another image,
# a legacy-variant image and out-of-range memory are refused with the reason,
# and each refusal is one line of the release log.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
SIM="$BUILD/tests/simtee"
LITE="$PY tests/tools/tdx_lite.py"
[ -x "$SIM" ] || { fail simtee_built "missing $SIM (make test builds it)"; finish; }

# --- the model against a real boot -------------------------------------------
$PY - "$TMP" <<'PYEOF'
import json, sys
d = json.load(open("tests/vectors/dstack/tdx-lite-getquote.json"))
t = sys.argv[1]
open(t + "/real_vm.json", "w").write(json.dumps(d["vm_config"]))
open(t + "/real_log.json", "w").write(json.dumps(d["event_log"]))
body = bytes.fromhex(d["quote"])[48:]          # TD10 report body after the quote header
o = 16 + 48 + 48 + 8 + 8 + 8                   # tee_tcb_svn .. xfam
reg = lambda off: body[off:off + 48].hex()
json.dump({"mrtd": reg(o), "rtmr0": reg(o + 192), "rtmr1": reg(o + 240), "rtmr2": reg(o + 288)},
          open(t + "/real_quote_mrs.json", "w"), sort_keys=True)
PYEOF
$LITE registers "$TMP/real_vm.json" "$TMP/real_log.json" | $PY -c 'import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))' >"$TMP/real_pred.json"
expect_eq model_reproduces_real_lite_quote "$(cat "$TMP/real_pred.json")" "$(cat "$TMP/real_quote_mrs.json")"

# --- PKI, PCCS, webhook, KMS ------------------------------------------------------
"$SIM" pki --seed "$(printf '43%.0s' $(seq 32))" --out "$TMP/pki" >/dev/null || fail simtee_pki "pki failed"
openssl x509 -in "$TMP/pki/root_ca.pem" -outform DER -out "$TMP/root.der" 2>/dev/null ||
  cp "$TMP/pki/root_ca.der" "$TMP/root.der"
PCCS_PORT=$(free_port)
start_bg "$TMP/pccs.log" "$SIM" serve --pki "$TMP/pki" --port "$PCCS_PORT"
wait_http "http://127.0.0.1:$PCCS_PORT/sgx/certification/v4/rootcacrl" 100
WPORT=$(free_port)
WEBHOOK_BODIES="$TMP/bodies.log" start_bg "$TMP/wh.log" $PY tests/tools/fake_webhook.py "$WPORT"
wait_http "http://127.0.0.1:$WPORT/" 100

PORT=$(free_port)
sim_kms_config "$TMP/kms.toml" "$PORT" "http://127.0.0.1:$WPORT" "$TMP/release.log" "$PCCS_PORT" true
start_bg "$TMP/kms.log" "$BUILD/dstack-kms" --config "$TMP/kms.toml"
wait_http "https://127.0.0.1:$PORT/health" 100 || { fail kms_starts "$(tail -3 "$TMP/kms.log")"; finish; }
expect_eq kms_logs_no_verify_warning "$(grep -c "verify = false" "$TMP/kms.log")" 0

APP=6cc4ff9a3837357f19dc176407a5709c62eb6c56
CH=d143116f$(printf '00%.0s' $(seq 28))
INST=2791ed1b$(printf '00%.0s' $(seq 16))

# case NAME [tdx_lite.py make options...] — an image and a caller booted from it
case_() {
  local n=$1; shift
  $LITE make "$TMP/$n" "$@" || { fail "tdx_lite_make_$n" "tdx_lite.py failed"; return 1; }
}
# cert NAME CASE [--no-config] — a caller whose quote carries CASE's registers
cert() {
  local n=$1 c=$2 cfg=(--config "$(cat "$TMP/$2/vm_config.json")")
  [ "${3:-}" = --no-config ] && cfg=()
  local m="$TMP/$c/mrs.json"
  "$SIM" ratls-cert --pki "$TMP/pki" --tmp-ca-cert "$TMP/certs/tmp-ca.crt" --tmp-ca-key "$TMP/certs/tmp-ca.key" \
    --app-id "$APP" --compose-hash "$CH" --instance-id "$INST" "${cfg[@]}" \
    --boot-events "$TMP/$c/boot_events.json" \
    --mrtd "$(json "j['mrtd']" <"$m")" --rtmr0 "$(json "j['rtmr0']" <"$m")" \
    --rtmr1 "$(json "j['rtmr1']" <"$m")" --rtmr2 "$(json "j['rtmr2']" <"$m")" \
    --out-cert "$TMP/$n.pem" --out-key "$TMP/$n.key" >/dev/null 2>"$TMP/$n.err" ||
    fail "simtee_cert_$n" "$(cat "$TMP/$n.err")"
}
rpc() { # rpc CERT METHOD BODY -> "BODY\nSTATUS"
  curl -sk --max-time 20 --cert "$TMP/$1.pem" --key "$TMP/$1.key" -w '\n%{http_code}' \
    -H 'Content-Type: application/json' -d "$3" "https://127.0.0.1:$PORT/prpc/$2?json"
}
status() { echo "$1" | tail -1; }
body() { echo "$1" | sed '$d'; }
error_of() { body "$1" | json "j.get('error', '')"; }

# --- a matching image gets its keys -------------------------------------------------
case_ good --seed 1
cert good good
r=$(rpc good GetAppKey '{"api_version":1}')
expect_eq lite_good_served_200 "$(status "$r")" 200
expect_eq lite_good_os_image_hash "$(body "$r" | json "j['os_image_hash']")" \
  "$(json "j['os_image_hash']" <"$TMP/good/vm_config.json")"
expect_contains lite_good_webhook_saw_hash "$(tail -1 "$TMP/bodies.log")" \
  "\"osImageHash\":\"$(json "j['os_image_hash']" <"$TMP/good/vm_config.json")\""

# the same image given as the request's vm_config instead of the embedded one
cert bare good --no-config
r=$(rpc bare GetAppKey "$($PY -c "import json; print(json.dumps({'api_version': 1, 'vm_config': open('$TMP/good/vm_config.json').read()}))")")
expect_eq lite_request_vm_config_served "$(status "$r")" 200
# ...and without it, an attestation with no config has no lite image to verify
r=$(rpc bare GetAppKey '{"api_version":1}')
expect_contains lite_no_config_is_legacy_refused "$(error_of "$r")" \
  "App not allowed: Failed to verify os image hash: the image uses the TDX legacy attestation variant"
expect_contains lite_legacy_names_setting "$(error_of "$r")" "[core.image] verify = false"

# other memory sizes and QEMU versions the model covers
case_ big --seed 2 --memory-size 4294967296
cert big big
expect_eq lite_4gib_served "$(status "$(rpc big GetAppKey '{"api_version":1}')")" 200
case_ q9 --seed 3 --qemu-version 9.1.0
cert q9 q9
expect_eq lite_qemu9_single_pass_served "$(status "$(rpc q9 GetAppKey '{"api_version":1}')")" 200
r=$(rpc good GetKmsKey '{}')
expect_eq lite_getkmskey_served "$(status "$r")" 200

# --- refusals, each with its reason ------------------------------------------------
refused() { # refused NAME CASE-OPTIONS... -- WANT
  local n=$1; shift
  local opts=()
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  case_ "$n" --seed 1 "${opts[@]}" && cert "$n" "$n"
  local r
  r=$(rpc "$n" GetAppKey '{"api_version":1}')
  expect_eq "lite_${n}_refused_400" "$(status "$r")" 400
  expect_contains "lite_${n}_reason" "$(error_of "$r")" "App not allowed: Failed to verify os image hash: $1"
  expect_eq "lite_${n}_no_keys" "$(body "$r" | json "'disk_crypt_key' in j")" false
}
refused kernel --tamper kernel -- "MRs do not match: RTMR1 mismatch"
refused initrd --tamper initrd -- "MRs do not match: RTMR2 mismatch"
refused cmdline --tamper cmdline -- "MRs do not match: RTMR2 mismatch"
refused tdhob --tamper td_hob -- "MRs do not match: RTMR0 mismatch"
refused firmware --tamper mrtd -- "MRs do not match: MRTD mismatch"
refused otherimage --other-image -- "tdx lite measurement material does not match os_image_hash: os_image_hash mismatch"
refused smallmem --memory-size 1073741824 -- "Failed to compute TDX expected measurements without image download: TDX lite attestation without image download requires memory_size == 2147483648 bytes (2048 MiB) or >= 2952790016 bytes (2816 MiB); got 1073741824 bytes"

# a good image's registers with another boot's ACPI tables
case_ acpi --seed 1
$PY -c "
import json; e = json.load(open('$TMP/acpi/boot_events.json'))
e[2]['digest'] = '00' * 48; json.dump(e, open('$TMP/acpi/boot_events.json', 'w'))"
cert acpi acpi
expect_contains lite_other_acpi_tables_refused "$(error_of "$(rpc acpi GetAppKey '{"api_version":1}')")" "RTMR0 mismatch"

# GetKmsKey runs the same check
r=$(rpc kernel GetKmsKey '{}')
expect_contains lite_getkmskey_refused "$(error_of "$r")" "Failed to verify os image hash: MRs do not match: RTMR1 mismatch"

# --- the release log holds every decision --------------------------------------------
n_denied=$(grep -c '"decision":"error"\|"decision":"denied"' "$TMP/release.log")
n_allowed=$(grep -c '"decision":"allowed"' "$TMP/release.log")
expect_eq release_log_allowed_lines "$n_allowed" 5
expect_eq release_log_refused_lines "$n_denied" 10
expect_contains release_log_reason "$(grep RTMR1 "$TMP/release.log" | head -1)" "Failed to verify os image hash"
finish
