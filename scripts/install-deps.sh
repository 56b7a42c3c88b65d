#!/usr/bin/env bash
# install-deps.sh — install everything the project needs to build and test, and
# nothing that is already there. Idempotent: a second run installs nothing.
#
# Debian 12 packages only (see README "Dependencies"). Node.js and npm are taken
# from the machine when `node` exists (a Node.js from another source conflicts
# with Debian's npm package); Debian's nodejs + npm are installed only when
# `node` is missing.
#
# Usage: scripts/install-deps.sh [--check]   (--check: exit 1 if something is missing)
set -euo pipefail

# Debian packages: build, runtime libraries, and the real clients the tests use
# (curl, openssl, protoc; Debian python3 with cryptography, pycryptodome and
# ecdsa for independent re-computation of derived keys and signatures; clang
# and its libFuzzer runtime for `make fuzz` and `make fuzz-smoke`;
# debootstrap, systemd-nspawn and Ansible for `make test-systemd`; wrk for the
# benchmarks; Debian's chromium at /usr/bin/chromium for the browser test of
# the onboarding page, driven by tests/browser/'s pinned playwright-core).
PKGS=(
  build-essential pkg-config
  libssl-dev openssl
  libevent-dev
  libcurl4-openssl-dev curl
  libsecp256k1-dev
  libjansson-dev
  libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
  libsystemd-dev libcrypt-dev apache2-utils
  clang libclang-rt-14-dev clang-format
  ca-certificates
  python3 python3-cryptography python3-pycryptodome python3-ecdsa
  debootstrap systemd-container iproute2 ansible ansible-lint
  wrk
  chromium
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
need_node=0
command -v node >/dev/null 2>&1 || need_node=1

NPM_DEPS="$(dirname "$0")/install-npm-deps.sh"

if [ "${1:-}" = "--check" ]; then
  if [ ${#missing[@]} -gt 0 ] || [ $need_node -eq 1 ]; then
    echo "missing: ${missing[*]} $([ $need_node -eq 1 ] && echo nodejs npm)" >&2
    exit 1
  fi
  if [ -x "$NPM_DEPS" ] && ! "$NPM_DEPS" --check >/dev/null 2>&1; then
    echo "missing: npm packages of contracts/ or tests/browser/ (scripts/install-npm-deps.sh)" >&2
    exit 1
  fi
  exit 0
fi

if [ $need_node -eq 1 ]; then
  missing+=(nodejs npm)
fi

npm_deps() {
  # npm packages (test chain, contract toolchain, browser-test driver), after node exists.
  if [ -x "$NPM_DEPS" ]; then "$NPM_DEPS"; fi
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all Debian dependencies present"
  npm_deps
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
npm_deps
echo "install-deps: done"
