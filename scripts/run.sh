#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs Tocsin with the embedded SQLite store in ./var.
# Extra arguments go to `tocsin serve` (e.g. --listen 0.0.0.0:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh --runtime-only
./scripts/build.sh build-release -DCMAKE_BUILD_TYPE=Release -DTOCSIN_BUILD_TESTS=OFF -DTOCSIN_BUILD_BENCH=OFF
exec ./build-release/src/tocsin serve --data-dir ./var "$@"
