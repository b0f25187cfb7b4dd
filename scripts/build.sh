#!/usr/bin/env bash
# Configures and builds one build tree. Usage: scripts/build.sh <build-dir> [cmake -D options...]
# Re-running is incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: scripts/build.sh <build-dir> [cmake options]}
shift
jobs=${TOCSIN_JOBS:-$(nproc)}
if [[ ! -f "$dir/build.ninja" ]]; then
  cmake -S . -B "$dir" -G Ninja "$@"
else
  cmake -S . -B "$dir" "$@" >/dev/null
fi
# TOCSIN_TARGETS limits the build to some targets (the fuzz tree builds only its fuzzers).
# shellcheck disable=SC2086
ninja -C "$dir" -j "$jobs" ${TOCSIN_TARGETS:-}
