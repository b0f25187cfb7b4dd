#!/usr/bin/env bash
# `tocsin scan upload` from CI: summary on success, the server's message and a non-zero exit on failure.
source "$(dirname "$0")/lib.sh"
DATA="$WORK/var"
"$TOCSIN" serve --listen 127.0.0.1:0 --data-dir "$DATA" >"$WORK/serve.log" 2>&1 &
PIDS+=($!)
wait_for_line "$WORK/serve.log" 'serving port=[0-9]+'
PORT=$(sed -n 's/.*serving port=\([0-9]*\).*/\1/p' "$WORK/serve.log" | head -1)
SERVER="http://127.0.0.1:$PORT"
ADMIN=$(cat "$DATA/admin-token")
curl -fsS -X POST -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d '{"name":"acme-web"}' "$SERVER/api/v1/projects" >/dev/null || fail "create project"

cat >"$WORK/scan.sarif" <<'JSON'
{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"semgrep","rules":[{"id":"sqli","shortDescription":{"text":"SQL injection"}}]}},
 "results":[{"ruleId":"sqli","level":"error","message":{"text":"SQL injection"},
   "locations":[{"physicalLocation":{"artifactLocation":{"uri":"src/db.js"},"region":{"startLine":3}}}]}]}]}
JSON

expect_exit 0 "$TOCSIN" scan upload --server "$SERVER" --token "$ADMIN" --project acme-web --branch main "$WORK/scan.sarif"
expect_out 'scanner semgrep, branch main, succeeded \(baseline\)'; expect_out 'new 1'
grep -q 'uploading \[' <<<"$OUT" && fail "a progress bar in a pipe"
pass "upload: summary printed, no progress bar in a pipe"

gzip -c "$WORK/scan.sarif" >"$WORK/scan.sarif.gz"
OUT=$(TOCSIN_TOKEN="$ADMIN" "$TOCSIN" scan upload --server "$SERVER" --project acme-web --branch main --json "$WORK/scan.sarif.gz") || fail "gz upload: $OUT"
grep -q '"unchanged":1' <<<"$OUT" || fail "gz upload JSON: $OUT"
pass "a .gz file is sent as it is; token from TOCSIN_TOKEN; --json"

echo '{"version":"2.1.0"}' >"$WORK/bad.sarif"
expect_exit 1 "$TOCSIN" scan upload --server "$SERVER" --token "$ADMIN" --project acme-web "$WORK/bad.sarif"
expect_out 'refused the scan \(HTTP 400\)'; expect_out 'runs'
pass "broken SARIF: the server's message, exit 1"

expect_exit 1 "$TOCSIN" scan upload --server "$SERVER" --token tcn_wrong --project acme-web "$WORK/scan.sarif"
expect_out 'HTTP 401'
grep -q tcn_wrong <<<"$OUT" && fail "token echoed"
pass "wrong token: 401 explained, token not echoed"

expect_exit 1 "$TOCSIN" scan upload --server "$SERVER" --token "$ADMIN" --project nope "$WORK/scan.sarif"
expect_out 'HTTP 404'
expect_exit 2 "$TOCSIN" scan upload --server "$SERVER" --token "$ADMIN" --project acme-web "$WORK/missing.sarif"
expect_out 'missing.sarif'
expect_exit 1 "$TOCSIN" scan upload --server "http://127.0.0.1:1" --token "$ADMIN" --project acme-web "$WORK/scan.sarif"
expect_out 'failed'
pass "unknown project, missing file, unreachable server: each explained"

OUT=$("$TOCSIN" scan upload --server "$SERVER" --token - --project acme-web --branch stdin "$WORK/scan.sarif" <<<"  $ADMIN  " 2>&1) ||
  fail "--token -: $OUT"
expect_out 'branch stdin'
expect_exit 2 "$TOCSIN" scan upload --server "$SERVER" --token - --project acme-web "$WORK/scan.sarif" </dev/null
expect_out 'standard input, which was empty'
pass "--token - reads the token from standard input"

# Not Tocsin: the emulator answers its own 404 (a Mattermost AppError), which says nothing of
# scans; the hint says what is likely wrong.
start_emulator
expect_exit 1 "$TOCSIN" scan upload --server "$EMU_URL" --token "$ADMIN" --project acme-web "$WORK/scan.sarif"
expect_out 'unexpected answer HTTP 404'; expect_out "hint: this answer did not come from Tocsin"
pass "another server's 404: said so, with a hint"

# An https server whose certificate nobody here trusts (self-signed): named, with what to do.
if openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$WORK/tls.key" -out "$WORK/tls.crt" >/dev/null 2>&1; then
  "$EMULATOR" --listen 127.0.0.1:0 --tls-cert "$WORK/tls.crt" --tls-key "$WORK/tls.key" \
    >"$WORK/emu-tls.out" 2>&1 &
  PIDS+=($!)
  wait_for_line "$WORK/emu-tls.out" '^listening on '
  TLS_URL=$(sed -n 's/^listening on //p' "$WORK/emu-tls.out")
  expect_exit 1 "$TOCSIN" scan upload --server "$TLS_URL" --token "$ADMIN" --project acme-web "$WORK/scan.sarif"
  expect_out 'failed'; expect_out 'hint: the server.s certificate is not trusted here: pass --ca-file'
  # With its certificate as the CA file the TLS handshake succeeds (and the emulator, not being
  # Tocsin, answers 404).
  expect_exit 1 "$TOCSIN" scan upload --server "$TLS_URL" --ca-file "$WORK/tls.crt" --token "$ADMIN" --project acme-web "$WORK/scan.sarif"
  expect_out 'HTTP 404'
  pass "an untrusted certificate: named, with --ca-file as the way out"
else
  fail "openssl could not make a test certificate"
fi

# On a terminal the progress bar shows (`script` gives the command a real tty).
if command -v script >/dev/null; then
  script -qec "'$TOCSIN' scan upload --server '$SERVER' --token '$ADMIN' --project acme-web --branch tty '$WORK/scan.sarif'" /dev/null >"$WORK/tty.out" 2>&1 || fail "tty upload: $(cat "$WORK/tty.out")"
  grep -q 'uploading \[' "$WORK/tty.out" || fail "no progress bar on a terminal: $(cat "$WORK/tty.out")"
  pass "progress bar on a terminal"
fi
echo "9 passed, 0 failed"
