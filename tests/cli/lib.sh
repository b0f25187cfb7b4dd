# Helpers for the shell-level tests. Sourced; every test gets TOCSIN and EMULATOR binaries as $1 $2.
set -euo pipefail
TOCSIN=${1:?tocsin binary}
EMULATOR=${2:?mm-emulator binary}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tocsin-cli-XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

# wait_for_line FILE REGEX [SECONDS]: waits (bounded) until FILE has a line matching REGEX.
wait_for_line() {
  local file=$1 re=$2 limit=${3:-20} i
  for ((i = 0; i < limit * 20; i++)); do
    grep -qE "$re" "$file" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "--- $file:" >&2; cat "$file" >&2 || true
  fail "timed out waiting for /$re/ in $file"
}

# start_emulator [flags...]: starts the demo emulator on a free port; sets EMU_URL, BOT_TOKEN,
# USER_TOKEN, ALERTS_ID, INCIDENTS_ID.
start_emulator() {
  "$EMULATOR" --listen 127.0.0.1:0 "$@" >"$WORK/emu.out" 2>&1 &
  PIDS+=($!)
  wait_for_line "$WORK/emu.out" '^Ctrl-C stops'
  EMU_URL=$(sed -n 's/^listening on //p' "$WORK/emu.out")
  BOT_TOKEN=$(sed -n 's/.*bot token (tocsin-bot): *\([a-z0-9]*\).*/\1/p' "$WORK/emu.out")
  USER_TOKEN=$(sed -n 's/.*user token (alice, PAT): *\([a-z0-9]*\).*/\1/p' "$WORK/emu.out")
  ALERTS_ID=$(awk '/security\/alerts/ {print $3}' "$WORK/emu.out")
  INCIDENTS_ID=$(awk '/security\/incidents/ {print $3}' "$WORK/emu.out")
  [[ -n "$EMU_URL" && -n "$BOT_TOKEN" && -n "$ALERTS_ID" ]] || { cat "$WORK/emu.out"; fail "could not read the emulator banner"; }
}

# expect_exit CODE CMD...: runs CMD, captures output in $OUT, checks the exit status.
expect_exit() {
  local want=$1; shift
  set +e
  OUT=$("$@" 2>&1)
  local got=$?
  set -e
  [[ $got -eq $want ]] || { echo "$OUT" >&2; fail "'$*' exited $got, expected $want"; }
}
expect_out() { grep -qE -- "$1" <<<"$OUT" || { echo "$OUT" >&2; fail "output lacks /$1/"; }; }
