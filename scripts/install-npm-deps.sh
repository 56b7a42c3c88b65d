#!/usr/bin/env bash
# install-npm-deps.sh — installs the project's pinned npm trees with `npm ci`,
# each only when it is missing or out of date, and never touches anything
# outside them:
#   contracts/node_modules     solc, OpenZeppelin, anvil, cast (contracts/package-lock.json)
#   tests/browser/node_modules playwright-core, which drives Debian's
#                              /usr/bin/chromium (tests/browser/package-lock.json;
#                              --ignore-scripts: no browser is ever downloaded)
# Offline-tolerant: when the npm registry cannot be reached it says so and
# exits 0 (an existing, older node_modules is kept; the chain tests and the
# onboarding-page browser test print SKIP when there is none).
#
# Usage: scripts/install-npm-deps.sh [--check]
#   --check  exit 1 if either node_modules is missing or out of date (installs nothing)
# Exit: 0 installed / up to date / registry unreachable; 1 npm failed although the registry answers.
set -euo pipefail
cd "$(dirname "$0")/.."

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

# what must exist after a good install, per tree (set by select_tree)
DIR="" NM="" STAMP="" WHAT=""
REQUIRED=()
select_tree() {
  DIR=$1
  NM=$DIR/node_modules
  STAMP=$NM/.dstack-kms-installed
  case "$DIR" in
    contracts)
      WHAT="the local-chain tests"
      REQUIRED=(
        "$NM/solc/package.json"
        "$NM/js-sha3/package.json"
        "$NM/@openzeppelin/contracts/package.json"
        "$NM/@openzeppelin/contracts-upgradeable/package.json"
        "$NM/@foundry-rs/anvil-$OS-$ARCH/bin/anvil"
        "$NM/@foundry-rs/cast-$OS-$ARCH/bin/cast"
      )
      ;;
    tests/browser)
      WHAT="the onboarding-page browser test"
      REQUIRED=("$NM/playwright-core/package.json")
      ;;
  esac
}
TREES=(contracts tests/browser)

want_stamp() {
  cat "$DIR/package.json" "$DIR/package-lock.json" | sha256sum | cut -d' ' -f1
}

present() {
  local f
  for f in "${REQUIRED[@]}"; do [ -e "$f" ] || return 1; done
  return 0
}

up_to_date() {
  [ -f "$STAMP" ] || return 1
  [ "$(cat "$STAMP")" = "$(want_stamp)" ] || return 1
  present
}

# any HTTP answer from the configured registry within 10 s (`npm ping` retries for minutes)
REACHABLE=""
registry_reachable() {
  if [ -z "$REACHABLE" ]; then
    local reg
    reg=$(npm config get registry 2>/dev/null) || reg=https://registry.npmjs.org/
    if curl -s -o /dev/null --max-time 10 "$reg"; then REACHABLE=yes; else REACHABLE=no; fi
  fi
  [ "$REACHABLE" = yes ]
}

if [ "${1:-}" = "--check" ]; then
  rc=0
  for t in "${TREES[@]}"; do
    select_tree "$t"
    if ! up_to_date; then
      echo "install-npm-deps: $NM missing or out of date" >&2
      rc=1
    fi
  done
  exit $rc
fi

# install_tree DIR — 0 up to date / installed / registry unreachable, 1 on failure
install_tree() {
  select_tree "$1"
  if up_to_date; then
    echo "install-npm-deps: $NM up to date"
    return 0
  fi
  if [ "$DIR" = contracts ] && { [ "$ARCH" = unknown ] || [ "$OS" = unknown ]; }; then
    echo "install-npm-deps: no anvil/cast npm binaries for $(uname -s) $(uname -m)" >&2
    return 1
  fi
  # A stale tree is kept when we are offline: npm ci would delete it first.
  if present && ! registry_reachable; then
    echo "install-npm-deps: npm registry unreachable; keeping the existing $NM (out of date with package-lock.json)" >&2
    return 0
  fi
  local mode=--prefer-offline t0
  if ! registry_reachable; then
    # only the local npm cache can help; --offline fails fast when it lacks a package
    mode=--offline
  fi
  echo "install-npm-deps: npm ci in $DIR"
  t0=$(date +%s)
  if (cd "$DIR" && npm ci --ignore-scripts --no-audit --no-fund "$mode" --loglevel=error); then
    if ! present; then
      echo "install-npm-deps: npm ci finished but required files are missing: ${REQUIRED[*]}" >&2
      return 1
    fi
    want_stamp >"$STAMP"
    echo "install-npm-deps: $NM done in $(($(date +%s) - t0)) s"
    return 0
  fi
  if [ "$mode" = --offline ]; then
    echo "install-npm-deps: npm registry unreachable; $NM not installed — $WHAT will be skipped" >&2
    return 0
  fi
  echo "install-npm-deps: npm ci failed in $DIR" >&2
  return 1
}

all_up_to_date() {
  local t
  for t in "${TREES[@]}"; do select_tree "$t"; up_to_date || return 1; done
  return 0
}
if all_up_to_date; then
  for t in "${TREES[@]}"; do select_tree "$t"; echo "install-npm-deps: $NM up to date"; done
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "install-npm-deps: npm not found (scripts/install-deps.sh installs Node.js and npm)" >&2
  exit 1
fi

# Serialise concurrent installs (npm ci deletes node_modules before filling it).
if command -v flock >/dev/null 2>&1; then
  exec 9>"${TMPDIR:-/tmp}/dstack-kms-npm-$(id -u).lock"
  flock -w 300 9 || true
fi

rc=0
for t in "${TREES[@]}"; do
  install_tree "$t" || rc=1
done
exit $rc
