#!/usr/bin/env bash
# run.sh — `make test-systemd`: the services under a real systemd. Boots a
# Debian 12 container (debootstrap rootfs cached under build/systemd, systemd
# as PID 1 via systemd-nspawn -b --register=no) inside a private network
# namespace made for the run, so the tutorial's ports (9100, 9200) and the
# test chain never meet the host's. Then tests/systemd/test_services.sh runs
# in that namespace: Ansible against the container, the service checks, a
# reboot, `make install` in a second rootfs.
#
# Prints "SKIP: test-systemd: <reason>" and exits 0 where the machine cannot
# run it (not root, no systemd-nspawn/debootstrap/ansible, /dev/null not a
# character device, no cgroup support, no network to the Debian mirror and no
# cached rootfs, dstack-auth-eth not built, no anvil/contracts for the test
# chain). With KMS_TEST_REQUIRED=1 (.ci/run) every such SKIP, here and in
# test_services.sh, is instead "FAIL: <name>: required suite could not run:
# <reason>" and the run exits 1. Otherwise PASS:/FAIL: lines and
# "N passed, N failed, N skipped". Everything it starts (container, chain,
# namespace) is stopped on exit.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
export BUILD
CACHE="$BUILD/systemd"
t_start=$(date +%s)

skip() {
  if [ "${KMS_TEST_REQUIRED:-0}" = 1 ]; then
    echo "FAIL: test-systemd: required suite could not run: $*"
    echo "0 passed, 1 failed, 0 skipped"
    exit 1
  fi
  echo "SKIP: test-systemd: $*"
  exit 0
}

[ "$(id -u)" = 0 ] || skip "needs root (systemd-nspawn, network namespaces); run: sudo make test-systemd"
[ -c /dev/null ] || skip "/dev/null is not a character device here (nspawn refuses to start); repair: rm /dev/null; mknod -m 666 /dev/null c 1 3"
for t in systemd-nspawn nsenter ip ansible-playbook; do
  command -v "$t" >/dev/null 2>&1 || skip "$t is not installed (scripts/install-deps.sh installs systemd-container, ansible, iproute2)"
done
[ -d /sys/fs/cgroup ] || skip "no cgroup file system at /sys/fs/cgroup"
for b in dstack-kms dstack-kmsctl; do
  [ -x "$BUILD/$b" ] || { echo "FAIL: test-systemd: $BUILD/$b is not built"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
done
# the real webhook runs in the container, never a stand-in
[ -x "$BUILD/dstack-auth-eth" ] || skip "$BUILD/dstack-auth-eth is not built (make all builds it)"
# the test chain's npm tree (anvil, solc, the contracts' libraries), installed
# here on the host's network: the run's namespace has none
scripts/install-npm-deps.sh >/dev/null 2>&1 || true

rootfs=$(tests/systemd/rootfs.sh "$CACHE" 2>"$CACHE.rootfs.err")
rc=$?
if [ $rc -eq 3 ]; then
  skip "cannot build the Debian 12 rootfs: $(tail -1 "$CACHE.rootfs.err")"
elif [ $rc -ne 0 ]; then
  echo "FAIL: test-systemd: rootfs: $(tail -3 "$CACHE.rootfs.err")"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi
cat "$CACHE.rootfs.err" >&2
rm -f "$CACHE.rootfs.err"
echo "# rootfs: $rootfs (ready after $(($(date +%s) - t_start)) s)"

NS="dstack-systest-$$"
ip netns add "$NS" || skip "cannot create a network namespace (ip netns add failed)"
trap 'ip netns delete "$NS" 2>/dev/null' EXIT
ip -n "$NS" link set lo up

ROOTFS_BASE="$rootfs" NETNS="$NS" nsenter --net="/run/netns/$NS" tests/systemd/test_services.sh 2>&1 |
  tee "$CACHE/last-run.log"
rc=${PIPESTATUS[0]}
passed=$(grep -c '^PASS: ' "$CACHE/last-run.log")
failed=$(grep -c '^FAIL: ' "$CACHE/last-run.log")
skipped=$(grep -c '^SKIP: ' "$CACHE/last-run.log")
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "FAIL: test-systemd: tests/systemd/test_services.sh exited with status $rc"
  failed=1
fi
echo "# test-systemd took $(($(date +%s) - t_start)) s (log: $CACHE/last-run.log)"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] || rc=1
exit "$rc"
