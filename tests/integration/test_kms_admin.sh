#!/usr/bin/env bash
# test_kms_admin.sh — the admin listener (kms-protocol §15): its own
# loopback address, every request authenticated (X-Admin-Token, Bearer, a
# bcrypt htpasswd user made by Debian's `htpasswd -B`, the token as a Basic
# password or user), 401 with WWW-Authenticate otherwise, tokens from the
# config or DSTACK_KMS_ADMIN_TOKEN, fail-closed start-up without a
# credential, and ClearImageCache's hex-only keys.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
command -v htpasswd >/dev/null || { fail htpasswd_installed "htpasswd missing (scripts/install-deps.sh installs apache2-utils)"; finish; }

TOKEN="s3cret-admin-token"
htpasswd -B -b -c "$TMP/htpasswd" alice "alice-pw" 2>/dev/null
printf '# operators\n\nbob:%s\n' "$(htpasswd -nbB bob bob-pw | cut -d: -f2)" >>"$TMP/htpasswd"
CACHE="$TMP/images-cache"

config() { # config FILE PORT ADMIN_PORT [extra [core.admin] lines...]
  local f=$1 port=$2 aport=$3; shift 3
  cat >"$f" <<TOML
[default]
workers = 1
[rpc]
address = "127.0.0.1"
port = $port
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
[core.attestation]
collateral_cache_dir = "$TMP/collateral"
[core.image]
verify = false
cache_dir = "$CACHE"
[core.auth_api]
type = "dev"
[core.onboard]
auto_bootstrap_domain = "localhost"
[core.admin]
enabled = true
address = "127.0.0.1"
port = $aport
TOML
  for l in "$@"; do echo "$l" >>"$f"; done
}

# ---- fail closed without a credential -----------------------------------------
config "$TMP/none.toml" "$(free_port)" "$(free_port)"
out=$(env -u DSTACK_KMS_ADMIN_TOKEN -u ADMIN_API_TOKEN timeout 20 "$BUILD/dstack-kms" --config "$TMP/none.toml" 2>&1); rc=$?
expect_eq no_credential_stops_start "$rc" 1
expect_contains no_credential_says_why "$out" "[core.admin] enabled = true but no credential"
printf 'carol:$apr1$abc$def\n' >"$TMP/md5.htpasswd"
config "$TMP/md5.toml" "$(free_port)" "$(free_port)" "htpasswd_file = \"$TMP/md5.htpasswd\""
out=$(timeout 20 "$BUILD/dstack-kms" --config "$TMP/md5.toml" 2>&1)
expect_contains non_bcrypt_htpasswd_refused "$out" "$TMP/md5.htpasswd:1: user carol: only bcrypt hashes"

# ---- token + htpasswd ------------------------------------------------------------
PORT=$(free_port); APORT=$(free_port)
config "$TMP/kms.toml" "$PORT" "$APORT" "auth_token = \"  $TOKEN  \"" "htpasswd_file = \"$TMP/htpasswd\""
start_bg "$TMP/kms.log" "$BUILD/dstack-kms" --config "$TMP/kms.toml"
wait_http "https://127.0.0.1:$PORT/health" 100 || { fail kms_starts "$(tail -3 "$TMP/kms.log")"; finish; }
for _ in $(seq 50); do grep -q "Admin listener on" "$TMP/kms.log" && break; sleep 0.1; done
expect_contains admin_listener_logged "$(cat "$TMP/kms.log")" "Admin listener on http://127.0.0.1:$APORT (token or htpasswd)"
grep -q "$TOKEN" "$TMP/kms.log" && fail token_never_logged "the token is in the log" || pass token_never_logged

URL="http://127.0.0.1:$APORT/prpc/Admin.ClearImageCache?json"
st() { curl -s --max-time 10 -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' -H 'Content-Type: application/json' -d '{}' "$@" "$URL"; }
expect_eq no_credential_401 "$(st)" 401
expect_contains www_authenticate "$(tr -d '\r' <"$TMP/hdr")" 'WWW-Authenticate: Basic realm="dstack-kms admin"'
expect_eq 401_body_empty "$(wc -c <"$TMP/body" | tr -d ' ')" 0
expect_eq wrong_x_admin_token_401 "$(st -H "X-Admin-Token: nope")" 401
expect_eq x_admin_token_200 "$(st -H "X-Admin-Token: $TOKEN")" 200
expect_eq bearer_200 "$(st -H "Authorization: Bearer $TOKEN")" 200
expect_eq wrong_bearer_401 "$(st -H "Authorization: Bearer nope")" 401
expect_eq wrong_bearer_is_final_even_for_a_user "$(st -H "Authorization: Bearer alice-pw")" 401
expect_eq htpasswd_user_200 "$(st -u alice:alice-pw)" 200
expect_eq htpasswd_second_user_200 "$(st -u bob:bob-pw)" 200
expect_eq htpasswd_wrong_password_401 "$(st -u alice:wrong)" 401
expect_eq htpasswd_unknown_user_401 "$(st -u mallory:alice-pw)" 401
expect_eq token_as_basic_password_200 "$(st -u anyone:$TOKEN)" 200
expect_eq token_as_basic_user_200 "$(st -u "$TOKEN:")" 200
expect_eq any_path_needs_auth "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$APORT/anything")" 401
main_admin=$(curl -sk --max-time 5 -o /dev/null -w '%{http_code}' -H "X-Admin-Token: $TOKEN" -d '{}' "https://127.0.0.1:$PORT/prpc/Admin.ClearImageCache?json")
[ "$main_admin" != 200 ] && pass admin_not_on_the_main_listener || fail admin_not_on_the_main_listener "main listener answered $main_admin"

# ---- ClearImageCache ---------------------------------------------------------------
mkdir -p "$CACHE/images/abcd01/sub" "$CACHE/images/ef02" "$CACHE/measurements"
echo x >"$CACHE/images/abcd01/sub/f"; echo y >"$TMP/outside"; echo m >"$CACHE/measurements/k1.json"
A=(-H "X-Admin-Token: $TOKEN")
clear() { curl -s --max-time 10 -H 'Content-Type: application/json' "${A[@]}" -d "$1" "$URL"; }
clear '{"image_hash":"abcd01"}' >/dev/null
[ ! -e "$CACHE/images/abcd01" ] && [ -d "$CACHE/images/ef02" ] && pass clear_one_image || fail clear_one_image "$(ls "$CACHE/images")"
out=$(clear '{"image_hash":"../../outside"}')
expect_contains non_hex_key_refused "$out" "invalid cache key"
[ -e "$TMP/outside" ] && [ -d "$CACHE/images/ef02" ] && pass non_hex_key_removes_nothing || fail non_hex_key_removes_nothing "something was removed"
out=$(clear '{"image_hash":"ef02","config_hash":"zz"}')
expect_contains bad_second_key_refused "$out" "invalid cache key"
[ -d "$CACHE/images/ef02" ] && pass bad_second_key_removes_nothing || fail bad_second_key_removes_nothing "ef02 removed"
clear '{"config_hash":"all"}' >/dev/null
[ ! -e "$CACHE/measurements" ] && [ -d "$CACHE/images/ef02" ] && pass clear_all_measurements || fail clear_all_measurements "$(ls "$CACHE")"
clear '{"image_hash":"all"}' >/dev/null
[ ! -e "$CACHE/images" ] && pass clear_all_images || fail clear_all_images "$(ls "$CACHE")"
kill "$BG_PID" 2>/dev/null; wait "$BG_PID" 2>/dev/null

# ---- the token from the environment --------------------------------------------------
PORT2=$(free_port); APORT2=$(free_port)
config "$TMP/env.toml" "$PORT2" "$APORT2"
DSTACK_KMS_ADMIN_TOKEN=" env-token " start_bg "$TMP/env.log" "$BUILD/dstack-kms" --config "$TMP/env.toml"
wait_http "https://127.0.0.1:$PORT2/health" 100 || fail env_kms_starts "$(tail -3 "$TMP/env.log")"
for _ in $(seq 50); do grep -q "Admin listener on" "$TMP/env.log" && break; sleep 0.1; done
URL="http://127.0.0.1:$APORT2/prpc/Admin.ClearImageCache?json"
expect_eq env_token_200 "$(st -H "X-Admin-Token: env-token")" 200
expect_eq env_token_wrong_401 "$(st -H "X-Admin-Token: $TOKEN")" 401
finish
