#!/usr/bin/env bash
# `tocsin serve` as an operator meets it: first start, admin token, health, graceful stop, bad config.
source "$(dirname "$0")/lib.sh"
DATA="$WORK/var"

"$TOCSIN" serve --listen 127.0.0.1:0 --data-dir "$DATA" >"$WORK/serve.log" 2>&1 &
SERVE=$!
PIDS+=($SERVE)
wait_for_line "$WORK/serve.log" 'serving port=[0-9]+'
PORT=$(sed -n 's/.*serving port=\([0-9]*\).*/\1/p' "$WORK/serve.log" | head -1)
grep -q "admin API token was written to $DATA/admin-token" "$WORK/serve.log" || fail "first start does not say where the admin token is"
[[ $(stat -c %a "$DATA/admin-token") == 600 ]] || fail "admin-token is not 0600"
[[ $(stat -c %a "$DATA/master.key") == 600 ]] || fail "master.key is not 0600"
ADMIN=$(cat "$DATA/admin-token")
grep -q "$ADMIN" "$WORK/serve.log" && fail "the admin token is in the log"
pass "first start: admin token file 0600, its path logged, the token itself not"

curl -fsS "http://127.0.0.1:$PORT/healthz" | grep -q '"ok"' || fail "healthz"
curl -fsS "http://127.0.0.1:$PORT/readyz" | grep -q '"ready"' || fail "readyz"
CODE=$(curl -s -o "$WORK/body" -w '%{http_code}' "http://127.0.0.1:$PORT/api/v1/integrations")
[[ $CODE == 401 ]] || fail "no token: got $CODE"
grep -q '"unauthorized"' "$WORK/body" || fail "401 body: $(cat "$WORK/body")"
curl -fsS -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/api/v1/integrations" | grep -q mattermost || fail "admin token refused"
pass "health, readiness, 401 without a token, admin token accepted"

expect_exit 0 "$TOCSIN" token create --data-dir "$DATA" --name ci --role project:acme-web
CI_TOKEN=$(head -1 <<<"$OUT")
[[ $CI_TOKEN == tcn_* ]] || fail "token create printed: $OUT"
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $CI_TOKEN" "http://127.0.0.1:$PORT/api/v1/integrations/mattermost")
[[ $CODE == 403 ]] || fail "project token on an admin endpoint: got $CODE"
expect_exit 2 "$TOCSIN" token create --data-dir "$DATA" --name x --role superuser
expect_out 'role'
pass "token create: printed once, role enforced, bad role refused"

kill -TERM $SERVE
set +e; wait $SERVE; RC=$?; set -e
[[ $RC -eq 0 ]] || fail "SIGTERM: exit $RC"
grep -q 'received SIGTERM, shutting down' "$WORK/serve.log" || fail "no shutdown message"
grep -q 'stopped' "$WORK/serve.log" || fail "no stopped message"
pass "SIGTERM: graceful stop, exit 0"

# A second start reuses the key and does not make a new admin token.
"$TOCSIN" serve --listen 127.0.0.1:0 --data-dir "$DATA" >"$WORK/serve2.log" 2>&1 &
PIDS+=($!)
wait_for_line "$WORK/serve2.log" 'serving port=[0-9]+'
grep -q 'admin API token was written' "$WORK/serve2.log" && fail "second start wrote a new admin token"
[[ $(cat "$DATA/admin-token") == "$ADMIN" ]] || fail "admin token changed"
kill -INT "${PIDS[-1]}"; wait "${PIDS[-1]}" || fail "SIGINT stop"
pass "restart: same admin token, SIGINT stops"

expect_exit 2 "$TOCSIN" serve --listen nowhere --data-dir "$DATA"
expect_out 'listen'
expect_exit 2 env TOCSIN_LISTEN=1.2.3.4:99999 "$TOCSIN" serve --data-dir "$DATA"
expect_out 'TOCSIN_LISTEN'
printf 'listen = "127.0.0.1:0"\ncolour = "red"\n' >"$WORK/bad.toml"
expect_exit 2 "$TOCSIN" serve --config "$WORK/bad.toml" --data-dir "$DATA"
expect_out 'colour'; expect_out 'bad\.toml:2'
pass "bad configuration names the key (flag, environment, file:line) and exits 2"

# Port in use (the emulator's): a clear error, exit 1.
start_emulator
BUSY=${EMU_URL##*:}
expect_exit 1 "$TOCSIN" serve --listen "127.0.0.1:$BUSY" --data-dir "$DATA"
expect_out "127.0.0.1:$BUSY"
pass "address in use: exit 1 naming the address"
echo "6 passed, 0 failed"
