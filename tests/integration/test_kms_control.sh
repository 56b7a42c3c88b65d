#!/usr/bin/env bash
# test_kms_control.sh — the control socket and `dstack-kmsctl status`: the
# status document of a serving KMS (dates checked against openssl, counts
# against the requests this test made), mode 0660 and refusal to `nobody`
# (with the positive control of the same call on an opened socket), the
# onboarding phase, an unreachable auth backend, collateral that expires
# within 24 h, the client's rules on a crafted document (certificate within
# 30 days, expired collateral), one process per cert_dir and per socket,
# stale and foreign files at the socket path.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
SIM="$BUILD/tests/simtee"
CTL="$BUILD/dstack-kmsctl"
[ -x "$SIM" ] || { fail simtee_built "missing $SIM (make test builds it)"; finish; }

sim_pki_pccs 43

APP=5bb4ff9a3837357f19dc176407a5709c62eb6c56
DENIED=dead00000000000000000000000000000000beef
CH=c143116f$(printf '00%.0s' $(seq 28))
INST=1691ed1b$(printf '00%.0s' $(seq 16))
WPORT=$(free_port)
WEBHOOK_DENY_APPS="$DENIED" start_bg "$TMP/wh.log" $PY tests/tools/fake_webhook.py "$WPORT"
wait_http "http://127.0.0.1:$WPORT/" 100

# the socket's directory is reachable by everyone, so that a refusal of
# `nobody` is the socket's own mode
chmod 711 "$TMP"
mkdir -m 755 "$TMP/run"

# kms_config NAME PORT WEBHOOK PCCS-PORT [extra [core] lines...]: keys in $TMP/NAME
kms_config() {
  local n=$1 port=$2 wh=$3 pccs=$4; shift 4
  mkdir -p "$TMP/$n"
  sim_kms_config "$TMP/$n/kms.toml" "$port" "$wh" "$TMP/$n/release.log" "$pccs"
  sed -i "s#$TMP/certs#$TMP/$n/certs#g; s#$TMP/collateral#$TMP/$n/collateral#" "$TMP/$n/kms.toml"
  local extra=""
  for l in "$@"; do extra="$extra$l\n"; done
  sed -i "s#^\[core\]\$#[core]\n${extra}#" "$TMP/$n/kms.toml"
}
kms_up() { # kms_up NAME PORT
  start_bg "$TMP/$1/kms.log" "$BUILD/dstack-kms" --config "$TMP/$1/kms.toml"
  KMS_PID=$BG_PID
  wait_http "https://127.0.0.1:$2/health" 100
}
mk() { # mk NAME DIR APP
  "$SIM" ratls-cert --pki "$TMP/pki" --tmp-ca-cert "$TMP/$2/certs/tmp-ca.crt" \
    --tmp-ca-key "$TMP/$2/certs/tmp-ca.key" --app-id "$3" --compose-hash "$CH" --instance-id "$INST" \
    --out-cert "$TMP/$1.pem" --out-key "$TMP/$1.key" >/dev/null 2>"$TMP/$1.err" ||
    fail "simtee_cert_$1" "$(cat "$TMP/$1.err")"
}
rpc() { # rpc PORT CERT METHOD BODY -> HTTP status
  local opts=()
  [ "$2" != - ] && opts=(--cert "$TMP/$2.pem" --key "$TMP/$2.key")
  curl -sk --max-time 20 "${opts[@]}" -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: application/json' -d "$4" "https://127.0.0.1:$1/prpc/$3?json"
}
st() { # st SOCKET [args] -> stdout in $OUT, stderr in $ERR, exit status in $RC
  "$CTL" --timeout 15 status --socket "$@" >"$TMP/st.out" 2>"$TMP/st.err"
  RC=$?
  OUT=$(cat "$TMP/st.out")
  ERR=$(cat "$TMP/st.err")
}
iso() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }

# ---- a serving KMS ----------------------------------------------------------------
PA=$(free_port)
SOCK="$TMP/run/a.sock"
kms_config A "$PA" "http://127.0.0.1:$WPORT" "$PCCS_PORT" "control_socket = \"$SOCK\""
kms_up A "$PA" || { fail kms_a_starts "$(tail -3 "$TMP/A/kms.log")"; finish; }
A_PID=$KMS_PID
expect_eq socket_mode_0660_owned_by_the_service_user "$(stat -c '%a %u %F' "$SOCK")" "660 $(id -u) socket"
mk good A "$APP"
mk denied A "$DENIED"
expect_eq app_key_allowed "$(rpc "$PA" good GetAppKey '{"api_version":1}')" 200
expect_eq app_key_denied "$(rpc "$PA" denied GetAppKey '{"api_version":1}')" 400
for _ in 1 2 3; do rpc "$PA" - GetMeta '{}' >/dev/null; done

st "$SOCK" --json
expect_eq status_serving_exit_0 "$RC" 0
D=$(cat "$TMP/st.out")
expect_eq status_phase_serving "$(echo "$D" | json "j['phase']")" serving
expect_eq status_pid_is_the_kms "$(echo "$D" | json "j['pid']")" "$A_PID"
expect_eq status_key_set_complete "$(echo "$D" | json "j['key_set_complete']")" true
expect_eq status_bootstrapped_at_is_root_ca_not_before "$(echo "$D" | json "j['bootstrapped_at']")" \
  "$(iso "$(openssl x509 -in "$TMP/A/certs/root-ca.crt" -noout -startdate | cut -d= -f2)")"
expect_eq status_rpc_crt_not_after_from_openssl \
  "$(echo "$D" | json "[c['not_after'] for c in j['certificates'] if c['name']=='rpc.crt'][0]")" \
  "$(iso "$(openssl x509 -in "$TMP/A/certs/rpc.crt" -noout -enddate | cut -d= -f2)")"
expect_eq status_lists_three_certificates "$(echo "$D" | json "sorted(c['name'] for c in j['certificates'])")" \
  '["root-ca.crt", "rpc.crt", "tmp-ca.crt"]'
expect_eq status_counts_getmeta "$(echo "$D" | json "j['requests']['GetMeta']")" '{"ok": 3, "error": 0}'
expect_eq status_counts_getappkey "$(echo "$D" | json "j['requests']['GetAppKey']")" '{"ok": 1, "error": 1}'
expect_eq status_counts_releases "$(echo "$D" | json "j['releases']")" '{"allowed": 1, "denied": 1, "error": 0}'
expect_eq status_releases_match_the_release_log \
  "$(grep -c '"decision":"allowed"' "$TMP/A/release.log") $(grep -c '"decision":"denied"' "$TMP/A/release.log")" "1 1"
expect_eq status_auth_reachable "$(echo "$D" | json "[j['auth']['type'], j['auth']['endpoint'], j['auth']['reachable']]")" \
  "[\"webhook\", \"http://127.0.0.1:$WPORT\", true]"
expect_eq status_rpc_listener "$(echo "$D" | json "j['listeners']['rpc']")" "127.0.0.1:$PA"
expect_eq status_collateral_one_usable_entry \
  "$(echo "$D" | json "[(e['usable'], e['expires_in_seconds'] > 86400) for e in j['collateral']['entries']]")" \
  '[[true, true]]'
for f in root-ca.key root-k256.key tmp-ca.key rpc.key; do
  # no byte of a private key file's base64 body appears in the document
  if head -c 11 "$TMP/A/certs/$f" | grep -q -- '-----BEGIN'; then
    body=$(grep -v -- '-----' "$TMP/A/certs/$f" | tr -d '\n' | cut -c1-40)
  else # raw key bytes: look for their hex
    body=$(od -An -tx1 "$TMP/A/certs/$f" | tr -d ' \n' | cut -c1-40)
  fi
  case "$D" in *"$body"*) fail "status_has_no_${f}_bytes" "found" ;; *) pass "status_has_no_${f}_bytes" ;; esac
done
st "$SOCK"
expect_eq status_readable_exit_0 "$RC" 0
expect_contains status_readable_phase "$OUT" "phase         serving"
expect_contains status_readable_releases "$OUT" "releases      allowed 1, denied 1, error 0"
expect_contains status_readable_all_well "$OUT" "all well"

# ---- /metrics carries the same release counts and the admission counters ---------
M=$(curl -sk --max-time 10 "https://127.0.0.1:$PA/metrics")
expect_contains metrics_releases_allowed "$M" 'dstack_kms_releases_total{decision="allowed"} 1'
expect_contains metrics_releases_denied "$M" 'dstack_kms_releases_total{decision="denied"} 1'
expect_contains metrics_admission_counter "$M" 'dstack_kms_connections_refused_total{listener="rpc",reason="max_connections_per_client"} 0'

# ---- nobody is refused by the socket's mode -------------------------------------
cp "$CTL" "$TMP/run/kmsctl" && chmod 755 "$TMP/run/kmsctl"
if id nobody >/dev/null 2>&1 && command -v runuser >/dev/null; then
  out=$(runuser -u nobody -- "$TMP/run/kmsctl" status --socket "$SOCK" 2>&1); rc=$?
  expect_eq nobody_refused_exit_1 "$rc" 1
  expect_contains nobody_refused_permission_denied "$out" "control socket $SOCK: permission denied"
  chmod 666 "$SOCK"
  runuser -u nobody -- "$TMP/run/kmsctl" status --socket "$SOCK" >/dev/null 2>&1
  expect_eq nobody_reads_an_opened_socket_positive_control "$?" 0
  chmod 660 "$SOCK"
else
  fail nobody_refused "no user nobody or no runuser on this machine"
fi

# ---- one process per cert_dir and per control socket -----------------------------
P2=$(free_port)
sed "s#^port = $PA\$#port = $P2#; s#$TMP/run/a.sock#$TMP/run/a2.sock#" "$TMP/A/kms.toml" >"$TMP/A/same-dir.toml"
out=$(timeout 20 "$BUILD/dstack-kms" --config "$TMP/A/same-dir.toml" 2>&1); rc=$?
expect_eq second_kms_on_cert_dir_exit_1 "$rc" 1
expect_contains second_kms_on_cert_dir_says_why "$out" "cert_dir $TMP/A/certs is in use by another dstack-kms (pid $A_PID holds .kms.lock)"
kms_config B "$P2" "http://127.0.0.1:$WPORT" "$PCCS_PORT" "control_socket = \"$SOCK\""
out=$(timeout 20 "$BUILD/dstack-kms" --config "$TMP/B/kms.toml" 2>&1); rc=$?
expect_eq second_kms_on_socket_exit_1 "$rc" 1
expect_contains second_kms_on_socket_says_why "$out" "[core] control_socket $SOCK is in use by another running process"
st "$SOCK" --json
expect_eq first_kms_still_answers "$(echo "$OUT" | json "j['pid']")" "$A_PID"

# ---- a stale socket (kill -9) is replaced; a foreign file is not ----------------
kill -9 "$A_PID"; wait "$A_PID" 2>/dev/null
expect_eq stale_socket_left_by_kill9 "$(stat -c %F "$SOCK" 2>&1)" socket
kms_up A "$PA" || fail kms_a_restarts_over_stale_socket "$(tail -3 "$TMP/A/kms.log")"
A_PID=$KMS_PID
st "$SOCK" --json
expect_eq restarted_kms_answers_on_the_socket "$(echo "$OUT" | json "j['pid']")" "$A_PID"
expect_eq restarted_counts_start_at_zero "$(echo "$OUT" | json "j['releases']['allowed']")" 0
kill "$A_PID"; wait "$A_PID" 2>/dev/null
expect_eq socket_removed_on_stop "$(test -e "$SOCK" && echo present || echo gone)" gone
echo "not a socket" >"$SOCK"
out=$(timeout 20 "$BUILD/dstack-kms" --config "$TMP/A/kms.toml" 2>&1); rc=$?
expect_eq foreign_file_at_socket_path_exit_1 "$rc" 1
expect_contains foreign_file_not_replaced "$out" "control socket $SOCK exists and is not a socket; refusing to replace it"
expect_eq foreign_file_kept "$(cat "$SOCK")" "not a socket"
rm -f "$SOCK"
out=$(timeout 20 "$BUILD/dstack-kms" --config <(sed "s#$SOCK#$TMP/nodir/k.sock#" "$TMP/A/kms.toml") 2>&1); rc=$?
expect_eq missing_socket_dir_exit_1 "$rc" 1
expect_contains missing_socket_dir_says_which "$out" "[core] control_socket $TMP/nodir/k.sock: directory $TMP/nodir does not exist"
st "$TMP/run/none.sock"
expect_eq no_kms_exit_1 "$RC" 1
expect_contains no_kms_says_why "$ERR" "control socket $TMP/run/none.sock: No such file or directory (is dstack-kms running?"

# ---- onboarding phase ------------------------------------------------------------
PO=$(free_port); OP=$(free_port)
kms_config O "$PO" "http://127.0.0.1:$WPORT" "$PCCS_PORT" "control_socket = \"$TMP/run/o.sock\""
sed -i "s#^auto_bootstrap_domain = .*#address = \"127.0.0.1\"\nport = $OP#" "$TMP/O/kms.toml"
start_bg "$TMP/O/kms.log" "$BUILD/dstack-kms" --config "$TMP/O/kms.toml"
wait_http "http://127.0.0.1:$OP/" 100 || fail onboard_service_starts "$(tail -3 "$TMP/O/kms.log")"
st "$TMP/run/o.sock" --json
expect_eq onboarding_needs_attention_exit_3 "$RC" 3
expect_eq onboarding_phase "$(echo "$OUT" | json "[j['phase'], j['key_set_complete'], j['bootstrapped_at'], j['listeners']['onboard']]")" \
  "[\"onboarding\", false, null, \"127.0.0.1:$OP\"]"
expect_contains onboarding_says_what_to_do "$ERR" "phase is onboarding: the KMS has no key set yet"
curl -s --max-time 20 -o /dev/null -H 'Content-Type: application/json' -d '{"domain":"localhost"}' \
  "http://127.0.0.1:$OP/prpc/Onboard.Bootstrap?json"
curl -s --max-time 20 -o /dev/null "http://127.0.0.1:$OP/finish"
wait_http "https://127.0.0.1:$PO/health" 100 || fail onboarded_kms_serves "$(tail -3 "$TMP/O/kms.log")"
st "$TMP/run/o.sock" --json
expect_eq after_finish_phase_serving "$(echo "$OUT" | json "[j['phase'], j['key_set_complete'], 'onboard' in j['listeners']]")" \
  '["serving", true, false]'

# ---- an unreachable auth backend ---------------------------------------------------
PU=$(free_port); DEAD=$(free_port)
kms_config U "$PU" "http://127.0.0.1:$DEAD" "$PCCS_PORT" "control_socket = \"$TMP/run/u.sock\""
kms_up U "$PU" || fail kms_u_starts "$(tail -3 "$TMP/U/kms.log")"
st "$TMP/run/u.sock"
expect_eq auth_down_exit_3 "$RC" 3
expect_contains auth_down_names_the_backend "$ERR" "auth backend http://127.0.0.1:$DEAD is unreachable:"
expect_contains auth_down_readable "$OUT" "UNREACHABLE"

# ---- collateral that expires within 24 h -------------------------------------------
NOW=$(date +%s)
"$SIM" collateral --pki "$TMP/pki" --out "$TMP/short.json" --issue-date $((NOW - 3600)) \
  --next-update $((NOW + 12 * 3600)) >/dev/null 2>"$TMP/col.err" || fail simtee_short_collateral "$(cat "$TMP/col.err")"
SP=$(free_port)
start_bg "$TMP/short-pccs.log" "$SIM" serve --collateral "$TMP/short.json" --port "$SP"
wait_http "http://127.0.0.1:$SP/sgx/certification/v4/rootcacrl" 100
PS=$(free_port)
kms_config S "$PS" "http://127.0.0.1:$WPORT" "$SP" "control_socket = \"$TMP/run/s.sock\""
kms_up S "$PS" || fail kms_s_starts "$(tail -3 "$TMP/S/kms.log")"
mk goods S "$APP"
expect_eq short_collateral_still_releases "$(rpc "$PS" goods GetAppKey '{"api_version":1}')" 200
st "$TMP/run/s.sock"
expect_eq short_collateral_exit_3 "$RC" 3
expect_contains short_collateral_named "$ERR" "collateral for FMSPC 90C06F000000 (platform) expires within 24 h (at 20"
"$CTL" status --socket "$TMP/run/s.sock" --json 2>/dev/null >"$TMP/s.json"
left=$(json "j['collateral']['entries'][0]['expires_in_seconds']" <"$TMP/s.json")
# the collateral's own nextUpdate, within the seconds this test took since
check short_collateral_expiry_is_its_next_update [ "$left" -le $((12 * 3600)) -a "$left" -ge $((12 * 3600 - 120)) ]

# ---- the client's rules on a crafted document -----------------------------------------
# (a certificate within 30 days cannot be made with a real KMS: it renews
# rpc.crt a year ahead)
serve_doc() { # serve_doc SOCKET FILE: answer one connection with FILE
  $PY - "$1" "$2" <<'PY' &
import socket, sys, os
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); s.settimeout(20)
c, _ = s.accept(); c.sendall(open(sys.argv[2], 'rb').read()); c.close(); s.close(); os.unlink(sys.argv[1])
PY
  PIDS+=($!)
  for _ in $(seq 50); do [ -S "$1" ] && break; sleep 0.1; done
}
$PY - "$TMP/doc-bad.json" "$TMP/doc-good.json" <<'PY'
import json, sys
base = {"format": "dstack-kms status v1", "phase": "serving", "version": "v", "pid": 1,
        "auth": {"type": "dev", "reachable": True, "latency_ms": 0.0},
        "collateral": {"entries": [{"fmspc": "00906ED50000", "ca": "platform", "present": True,
                                    "usable": True, "valid_until": "2030-01-01T00:00:00Z",
                                    "expires_in_seconds": 40 * 86400}]},
        "certificates": [{"name": "rpc.crt", "not_after": "2031-01-01T00:00:00Z", "expires_in_days": 400}]}
json.dump(base, open(sys.argv[2], "w"))
bad = json.loads(json.dumps(base))
bad["certificates"].append({"name": "root-ca.crt", "not_after": "2027-01-01T00:00:00Z", "expires_in_days": 12})
bad["collateral"]["entries"][0].update(expires_in_seconds=-5, usable=False, valid_until="2026-01-01T00:00:00Z")
bad["phase"] = "serving\u001b[2J"
json.dump(bad, open(sys.argv[1], "w"))
PY
serve_doc "$TMP/run/good.sock" "$TMP/doc-good.json"
st "$TMP/run/good.sock"
expect_eq crafted_good_document_exit_0 "$RC" 0
serve_doc "$TMP/run/bad.sock" "$TMP/doc-bad.json"
st "$TMP/run/bad.sock"
expect_eq crafted_bad_document_exit_3 "$RC" 3
expect_contains crafted_cert_within_30_days "$ERR" "certificate root-ca.crt expires within 30 days (at 2027-01-01T00:00:00Z)"
expect_contains crafted_collateral_expired "$ERR" "collateral for FMSPC 00906ED50000 (platform) expired at 2026-01-01T00:00:00Z"
expect_contains crafted_three_things "$ERR" "3 things need attention"
case "$ERR$OUT" in *$'\e'*) fail crafted_escape_sanitized "an escape byte reached the terminal" ;; *) pass crafted_escape_sanitized ;; esac
finish
