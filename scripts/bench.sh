#!/usr/bin/env bash
# Builds the Release tree build-bench and runs the end-to-end benchmarks, then prints one table of
# figures against their targets (docs/performance.md explains each). Benchmarks are not tests:
# nothing here fails because a target is missed; it exits non-zero only if a benchmark could not
# run.
#
#   scripts/bench.sh [ingest] [delivery] [latency] [scan] [sarif]     (default: all of them)
#
# Every benchmark starts its own `tocsin serve` and `mm-emulator` on 127.0.0.1 (port 0) with
# scratch data directories, bounds its load in count and time, and stops them. Takes 1–2
# minutes on a 2-core machine once built. Environment: TOCSIN_BENCH_BUILD (build directory, default
# build-bench), TOCSIN_JOBS (ninja -j, default 2), TOCSIN_BENCH_ARGS (passed to every benchmark,
# e.g. --keep to leave the scratch directories and the servers' logs in /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${TOCSIN_BENCH_BUILD:-build-bench}
jobs=${TOCSIN_JOBS:-2}
read -r -a extra <<<"${TOCSIN_BENCH_ARGS:-}"

all=(ingest delivery latency scan sarif)
selected=("$@")
[[ ${#selected[@]} -eq 0 ]] && selected=("${all[@]}")
for name in "${selected[@]}"; do
  [[ " ${all[*]} " == *" $name "* ]] || { echo "unknown benchmark: $name (${all[*]})" >&2; exit 2; }
done

if [[ ! -f "$build/build.ninja" ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTOCSIN_BUILD_TESTS=OFF
fi
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
if [[ "$build_type" != Release ]]; then
  echo "$build is a $build_type build; benchmarks need Release (remove it or set TOCSIN_BENCH_BUILD)" >&2
  exit 2
fi
ninja -C "$build" -j "$jobs" tocsin mm-emulator sarif_gen sarif_bench \
  bench_ingest bench_delivery bench_latency bench_scan

logs="$build/bench-logs/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$logs"
status=0
run() {  # run NAME COMMAND...: tee the output to the log, keep going if it fails
  local name=$1
  shift
  echo "== $name (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  if ! "$@" 2>&1 | tee "$logs/$name.log"; then
    echo "!! $name failed; see $logs/$name.log" >&2
    status=1
  fi
}

for name in "${selected[@]}"; do
  case $name in
    ingest | delivery | latency | scan)
      run "$name" "$build/bench/bench_$name" "${extra[@]}"
      ;;
    sarif)
      # The in-process parse + diff of the 100,000-result log (docs/scans.md), for comparison
      # with figure 8c's HTTP upload.
      sarif_file=$(mktemp /tmp/tocsin-bench-XXXXXX.sarif)
      "$build/bench/sarif_gen" --out "$sarif_file"
      run sarif "$build/bench/sarif_bench" "$sarif_file"
      rm -f "$sarif_file"
      total=$(sed -n 's/^total *\([0-9]*\) ms.*/\1/p' "$logs/sarif.log")
      peak=$(sed -n 's/^peak RSS *\([0-9.]*\) MB (\([0-9.]*\)x.*/\1 MB = \2×/p' "$logs/sarif.log")
      if [[ -n "$total" ]]; then
        echo "RESULT | 8e | 100,000-result SARIF, in-process parse + identity + diff (sarif_bench) |" \
          "$total ms; peak RSS $peak file | — | — | $(cut -d' ' -f1-3 /proc/loadavg) |" \
          "no HTTP, no store |" >>"$logs/sarif.log"
      fi
      ;;
  esac
done

echo
echo "Tocsin benchmarks — $(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?')," \
  "$build_type build, $(nproc) cores; logs in $logs"
echo
echo "| # | figure | measured | target | verdict | load (1/5/15 min) | notes |"
echo "|---|---|---|---|---|---|---|"
cat "$logs"/*.log | sed -n 's/^RESULT //p' | LC_ALL=C sort -t'|' -k2,2
exit $status
