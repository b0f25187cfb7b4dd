#!/usr/bin/env bash
# Installs every Debian package Tocsin needs to build, run and test. Idempotent: packages already
# present are skipped, so a second run takes a second. Needs root (or sudo).
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libboost-dev libboost-system-dev libboost-program-options-dev
  libcurl4-openssl-dev libssl-dev zlib1g-dev
  libsqlite3-dev libsqlitecpp-dev libpq-dev libpqxx-dev
  libsodium-dev libsimdjson-dev nlohmann-json3-dev libfmt-dev libspdlog-dev
  libcli11-dev libtomlplusplus-dev libexpected-dev libjemalloc-dev
)
test_pkgs=(
  libgtest-dev libgmock-dev libbenchmark-dev libcpp-httplib-dev
  clang libclang-rt-14-dev
  openssl iproute2 procps curl jq
  postgresql postgresql-client
  chromium
)
# The machine image ships Node.js 20 with its own npm (which conflicts with Debian's npm package);
# install Debian's only where no node is present.
if ! command -v npm >/dev/null 2>&1; then test_pkgs+=(nodejs npm); fi

want=("${build_pkgs[@]}")
if [[ "${1:-}" != "--runtime-only" ]]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
