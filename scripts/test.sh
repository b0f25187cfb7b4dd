#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs every test: unit, conformance, integration, e2e
# (browser), and the fuzz targets for a bounded time.
# The main build has warnings as errors and runs under AddressSanitizer + UndefinedBehaviorSanitizer;
# the fuzz targets are a second, small clang build (libFuzzer).
# Arguments go to ctest for the main build (e.g. `scripts/test.sh -L unit`); with arguments the
# fuzz run is skipped. TOCSIN_FUZZ_SECONDS sets how long each fuzz target runs (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
build=${TOCSIN_TEST_BUILD:-build-test}
# Debug keeps assertions on; -O1 -g1 is what the sanitizers need, at half the compile time of -O2 -g.
# The benchmarks are not tests (scripts/bench.sh builds and runs them in Release): not built here.
./scripts/build.sh "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
  -DTOCSIN_SANITIZE=ON -DTOCSIN_WERROR=ON -DTOCSIN_BUILD_BENCH=OFF
# The browser tests' one npm package (playwright-core, pinned in tests/e2e/package-lock.json).
if [[ ! -d tests/e2e/node_modules ]]; then npm ci --prefix tests/e2e --no-audit --no-fund; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" --timeout 300 "$@" || status=$?
if [[ $# -eq 0 ]]; then
  TOCSIN_TARGETS="fuzz_sarif fuzz_events fuzz_render" \
    ./scripts/build.sh build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DTOCSIN_FUZZ=ON -DTOCSIN_FUZZ_SECONDS="${TOCSIN_FUZZ_SECONDS:-20}"
  ctest --test-dir build-fuzz --output-on-failure -j "$(nproc)" -L fuzz || status=$?
fi
exit $status
