#!/usr/bin/env bash
# test_storage_pccs_faults.sh — the fault matrix, storage and PCCS rows:
# cert_dir read-only and full during bootstrap (the KMS stops with the
# file-system error, leaves nothing partial, and the retry bootstraps a
# complete key set once the fault clears); the PCCS down with a warm cache
# (releases go on) and with a cold one (a clear refusal, healthy once the
# PCCS is back).
set -u
cd "$(dirname "$0")/../.."
. tests/faults/lib.sh
need_tools
pki
pccs_start || finish
MNT="$TMP/mnt"
mkdir -p "$MNT"
mounted=0
unmount() { [ "$mounted" = 1 ] && umount "$MNT" 2>/dev/null; mounted=0; }
trap 'unmount; cleanup' EXIT

# boot_config NAME CERT_DIR PORT
boot_config() {
  mkdir -p "$TMP/$1"
  sim_kms_config "$TMP/$1/kms.toml" "$3" "http://127.0.0.1:$(free_port)" "$TMP/$1/release.log" "$PCCS_PORT"
  sed -i "s#$TMP/certs#$2#g; s#$TMP/collateral#$TMP/$1/collateral#" "$TMP/$1/kms.toml"
}

if ! mount -t tmpfs -o ro,size=1m tmpfs "$MNT" 2>"$TMP/mount.err"; then
  fail tmpfs_mount "cannot mount a tmpfs here ($(cat "$TMP/mount.err")): the storage rows need root"
else
  mounted=1
  # ---- read-only cert_dir during bootstrap -----------------------------------
  boot_config ro "$MNT/certs" "$(free_port)"
  out=$(timeout 30 "$KMS" --config "$TMP/ro/kms.toml" 2>&1); rc=$?
  expect_eq readonly_cert_dir_stops_start "$rc" 1
  expect_contains readonly_cert_dir_names_the_error "$out" "Read-only file system"
  check readonly_cert_dir_nothing_written empty_dir "$MNT"
  mount -o remount,rw "$MNT"
  P=$(free_port); sed -i "s#^port = .*#port = $P#" "$TMP/ro/kms.toml"
  kms_start ro "$TMP/ro/kms.toml" "$P" || fail readonly_then_rw_starts "$(tail -3 "$TMP/ro.log")"
  check readonly_then_rw_complete_key_set complete_set "$MNT/certs"
  stop_pid "$KPID"
  unmount

  # ---- full cert_dir during bootstrap ---------------------------------------------
  mount -t tmpfs -o size=64k tmpfs "$MNT" && mounted=1
  mkdir -p "$MNT/certs"
  dd if=/dev/zero of="$MNT/filler" bs=4k count=64 2>/dev/null
  boot_config full "$MNT/certs" "$(free_port)"
  out=$(timeout 30 "$KMS" --config "$TMP/full/kms.toml" 2>&1); rc=$?
  expect_eq full_cert_dir_stops_start "$rc" 1
  expect_contains full_cert_dir_names_the_error "$out" "No space left on device"
  check full_cert_dir_nothing_partial empty_dir "$MNT/certs"
  rm -f "$MNT/filler"
  P=$(free_port); sed -i "s#^port = .*#port = $P#" "$TMP/full/kms.toml"
  kms_start full "$TMP/full/kms.toml" "$P" || fail full_then_space_starts "$(tail -3 "$TMP/full.log")"
  check full_then_space_complete_key_set complete_set "$MNT/certs"
  stop_pid "$KPID"
  unmount
fi

# ---- PCCS down: warm cache goes on, cold cache refuses clearly ----------------------
P=$(free_port)
boot_config warm "$TMP/warm/certs" "$P"
WPORT=$(free_port)
fault_server wh "$WPORT" || finish
sed -i "s#^url = .*#url = \"http://127.0.0.1:$WPORT\"#" "$TMP/warm/kms.toml"
kms_start warm "$TMP/warm/kms.toml" "$P" || { fail warm_kms_starts "$(tail -3 "$TMP/warm.log")"; finish; }
app_cert app "$TMP/warm/certs"
healthy warm_cache_filled "$P" app
FP=$(keyset_fp "$TMP/warm/certs")
stop_pid "$PCCS_PID"
r=$(appkey "$P" app 30)
expect_eq pccs_down_warm_cache_releases "$(status "$r")" 200
# a second KMS with an empty cache: the same caller is refused, clearly
P2=$(free_port)
mkdir -p "$TMP/cold"
cp -a "$TMP/warm/certs" "$TMP/cold/certs" && rm -f "$TMP/cold/certs/.kms.lock"
sed "s#$TMP/warm#$TMP/cold#g; s#^port = $P\$#port = $P2#" "$TMP/warm/kms.toml" >"$TMP/cold/kms.toml"
kms_start cold "$TMP/cold/kms.toml" "$P2" || fail cold_kms_starts "$(tail -3 "$TMP/cold.log")"
before=$(log_lines "$TMP/cold/release.log")
r=$(appkey "$P2" app 40)
expect_eq pccs_down_cold_cache_refused "$(status "$r")" 400
expect_contains pccs_down_cold_cache_reason "$(errmsg "$r")" "collateral"
no_keys pccs_down_cold "$r"
still_alive pccs_down_cold "$KPID"
intact pccs_down_cold "$TMP/cold/certs" "$FP" "$TMP/cold/release.log" "$before"
pccs_start
healthy pccs_back "$P2" app
finish
