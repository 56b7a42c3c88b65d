#!/usr/bin/env bash
# rootfs.sh — builds (once) and caches the Debian 12 root file system the
# systemd container test boots: debootstrap minbase + systemd + the runtime
# libraries of dstack-kms / dstack-auth-eth / dstack-kmsctl + what Ansible and
# the checks need inside (python3, python3-apt, iproute2, curl, sudo, make).
#
# Usage: tests/systemd/rootfs.sh CACHE_DIR   prints the path of the rootfs
# The rootfs lives in CACHE_DIR/rootfs-<key>, where <key> hashes the package
# list, suite, variant and mirror, so a changed list builds a new one. It is
# built in a temporary directory and renamed into place only when complete,
# so an interrupted run never leaves a half rootfs behind. Exit 3 (with the
# reason on stderr) when it cannot be built here; never touches the host's
# own packages.
set -euo pipefail

CACHE=${1:?usage: rootfs.sh CACHE_DIR}
SUITE=bookworm
VARIANT=minbase
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
INCLUDE=(
  systemd systemd-sysv dbus
  iproute2 openssl ca-certificates curl sudo make
  python3 python3-apt
  libssl3 libevent-2.1-7 libevent-openssl-2.1-7 libevent-pthreads-2.1-7
  libcurl4 libsecp256k1-1 libjansson4 libprotobuf-c1 libsystemd0
)
list=$(IFS=,; echo "${INCLUDE[*]}")
key=$(printf '%s|%s|%s|%s|v1' "$SUITE" "$VARIANT" "$MIRROR" "$list" | sha256sum | cut -c1-12)
ROOT="$CACHE/rootfs-$key"

if [ -f "$ROOT/.complete" ]; then
  echo "$ROOT"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is not installed" >&2; exit 3; }
if ! curl -sfI --max-time 15 "$MIRROR/dists/$SUITE/Release" >/dev/null; then
  echo "no network to the Debian mirror $MIRROR (and no cached rootfs in $CACHE)" >&2
  exit 3
fi
mkdir -p "$CACHE"
tmp=$(mktemp -d "$CACHE/.rootfs-build-XXXXXX")
log="$CACHE/debootstrap-$key.log"
t0=$(date +%s)
echo "rootfs: debootstrap $SUITE ($VARIANT + ${#INCLUDE[@]} packages) into $ROOT; log $log" >&2
if ! debootstrap --variant="$VARIANT" --include="$list" "$SUITE" "$tmp/rootfs" "$MIRROR" >"$log" 2>&1; then
  echo "debootstrap failed (see $log): $(tail -3 "$log" | tr '\n' ' ')" >&2
  rm -rf "$tmp"
  exit 3
fi
r="$tmp/rootfs"
# A container, not a machine: no getty on a console that nobody reads, a
# fixed hostname, an empty machine-id so systemd makes one at boot.
rm -f "$r/etc/machine-id" && : >"$r/etc/machine-id"
echo kmstest >"$r/etc/hostname"
apt-get -qq -o RootDir="$r" clean 2>/dev/null || rm -rf "$r/var/cache/apt/archives/"*.deb
touch "$r/.complete"
rm -rf "$ROOT"
mv "$r" "$ROOT"
rmdir "$tmp"
echo "rootfs: built in $(($(date +%s) - t0)) s ($(du -sm "$ROOT" | cut -f1) MB)" >&2
echo "$ROOT"
