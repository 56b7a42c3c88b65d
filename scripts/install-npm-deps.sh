#!/usr/bin/env bash
# install-npm-deps.sh — installs contracts/node_modules (solc, OpenZeppelin,
# anvil, cast; pinned by contracts/package-lock.json) with `npm ci`, only when
# it is missing or out of date. Never touches anything outside contracts/.
# Offline-tolerant: when the npm registry cannot be reached it says so and
# exits 0 (an existing, older node_modules is kept; the chain tests print
# SKIP when there is none).
#
# Usage: scripts/install-npm-deps.sh [--check]
#   --check  exit 1 if contracts/node_modules is missing or out of date (installs nothing)
# Exit: 0 installed / up to date / registry unreachable; 1 npm failed although the registry answers.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=contracts
NM=$DIR/node_modules
STAMP=$NM/.dstack-kms-installed

case "$(uname -m)" in
  x86_64 | amd64) ARCH=amd64 ;;
  aarch64 | arm64) ARCH=arm64 ;;
  *) ARCH=unknown ;;
esac
case "$(uname -s)" in
  Linux) OS=linux ;;
  Darwin) OS=darwin ;;
  *) OS=unknown ;;
esac

# what must exist after a good install
REQUIRED=(
  "$NM/solc/package.json"
  "$NM/js-sha3/package.json"
  "$NM/@openzeppelin/contracts/package.json"
  "$NM/@openzeppelin/contracts-upgradeable/package.json"
  "$NM/@foundry-rs/anvil-$OS-$ARCH/bin/anvil"
  "$NM/@foundry-rs/cast-$OS-$ARCH/bin/cast"
)

want_stamp() {
  cat "$DIR/package.json" "$DIR/package-lock.json" | sha256sum | cut -d' ' -f1
}

up_to_date() {
  [ -f "$STAMP" ] || return 1
  [ "$(cat "$STAMP")" = "$(want_stamp)" ] || return 1
  local f
  for f in "${REQUIRED[@]}"; do [ -e "$f" ] || return 1; done
  return 0
}

present() {
  local f
  for f in "${REQUIRED[@]}"; do [ -e "$f" ] || return 1; done
  return 0
}

# any HTTP answer from the configured registry within 10 s (`npm ping` retries for minutes)
registry_reachable() {
  local reg
  reg=$(npm config get registry 2>/dev/null) || reg=https://registry.npmjs.org/
  curl -s -o /dev/null --max-time 10 "$reg"
}

if up_to_date; then
  [ "${1:-}" = "--check" ] || echo "install-npm-deps: $NM up to date"
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  echo "install-npm-deps: $NM missing or out of date" >&2
  exit 1
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "install-npm-deps: npm not found (scripts/install-deps.sh installs Node.js and npm)" >&2
  exit 1
fi
if [ "$ARCH" = unknown ] || [ "$OS" = unknown ]; then
  echo "install-npm-deps: no anvil/cast npm binaries for $(uname -s) $(uname -m)" >&2
  exit 1
fi

# A stale tree is kept when we are offline: npm ci would delete it first.
if present && ! registry_reachable; then
  echo "install-npm-deps: npm registry unreachable; keeping the existing $NM (out of date with package-lock.json)" >&2
  exit 0
fi

# Serialise concurrent installs (npm ci deletes node_modules before filling it).
if command -v flock >/dev/null 2>&1; then
  exec 9>"${TMPDIR:-/tmp}/dstack-kms-npm-$(id -u).lock"
  flock -w 300 9 || true
  if up_to_date; then
    echo "install-npm-deps: $NM up to date"
    exit 0
  fi
fi

NPM_MODE=--prefer-offline
if ! registry_reachable; then
  # only the local npm cache can help; --offline fails fast when it lacks a package
  NPM_MODE=--offline
fi
echo "install-npm-deps: npm ci in $DIR"
t0=$(date +%s)
if (cd "$DIR" && npm ci --ignore-scripts --no-audit --no-fund "$NPM_MODE" --loglevel=error); then
  if ! present; then
    echo "install-npm-deps: npm ci finished but required files are missing: ${REQUIRED[*]}" >&2
    exit 1
  fi
  want_stamp >"$STAMP"
  echo "install-npm-deps: done in $(($(date +%s) - t0)) s"
  exit 0
fi
if [ "$NPM_MODE" = --offline ]; then
  echo "install-npm-deps: npm registry unreachable; $NM not installed — the local-chain tests will be skipped" >&2
  exit 0
fi
echo "install-npm-deps: npm ci failed" >&2
exit 1
