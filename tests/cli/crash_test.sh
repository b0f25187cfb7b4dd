#!/usr/bin/env bash
# kill -9 of `tocsin serve` while 2,000 events are being accepted and delivered: after a restart
# every accepted event is delivered, and the test reports how many posts were duplicated
# (target: none). Events whose request died with the server are re-sent with the same ids, as a
# CI job would: idempotency makes that safe.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || fail "jq is needed (scripts/install-deps.sh installs it)"
# The server's pending_post_id de-duplication off: a post sent twice shows, whatever the 30 s
# window would have hidden; only Tocsin's own look-up after the restart can prevent it.
start_emulator --dedup-ttl-ms 0
DATA="$WORK/var"
TOTAL=2000
BATCH=100

source "$(dirname "$0")/crash_lib.sh"

start_tocsin
link_project

batch_body() {  # batch_body N: events N*BATCH .. N*BATCH+BATCH-1, each with a stable id
  events_json $(($1 * BATCH)) "$BATCH" \
    '{id: "crash-\($i)", type: "scan.completed", project: "acme-web",
      scan: {scanner: "s\($i)", status: "succeeded"}}'
}

# Send every batch; kill -9 the server once deliveries are under way.
declare -A SENT=()
KILLED=0
for ((n = 0; n < TOTAL / BATCH; n++)); do
  if code=$(batch_body $n | api -o /dev/null -w '%{http_code}' -X POST "$API/events" --data-binary @- 2>/dev/null) && [[ $code == 202 ]]; then
    SENT[$n]=1
  fi
  if ((KILLED == 0)) && (($(posts_in_emulator) - BASE >= 150)); then
    kill -9 $SERVE
    wait $SERVE 2>/dev/null || true
    KILLED=1
    echo "killed -9 after batch $n with $(($(posts_in_emulator) - BASE)) posts delivered"
  fi
done
((KILLED == 1)) || { kill -9 $SERVE; wait $SERVE 2>/dev/null || true; echo "killed -9 after all batches"; }

start_tocsin
grep -q 'admin API token was written' "$LOG" && fail "restart made a new admin token"
# Re-send what was never acknowledged (and, to prove idempotency, one batch that was).
for ((n = 0; n < TOTAL / BATCH; n++)); do
  if [[ -z "${SENT[$n]:-}" || $n == 0 ]]; then
    out=$(batch_body $n | api -X POST "$API/events" --data-binary @-)
    [[ $(jq -r '.accepted + .duplicates' <<<"$out") == "$BATCH" ]] || fail "re-send of batch $n: $out"
  fi
done

settle $TOTAL 120
count_posts
DUPLICATES=$((POSTS - UNIQUE))
echo "delivered $UNIQUE distinct posts of $TOTAL events; $DUPLICATES duplicate posts"
grep -h 'was posted before' "$WORK"/serve-*.log | sed 's/^.*\(delivery left\)/  after the restart: \1/' || true
((UNIQUE == TOTAL)) || fail "expected $TOTAL distinct posts, got $UNIQUE"
DEAD=$(api "$API/deliveries?state=dead&limit=1" | jq '.items | length')
FAILED=$(api "$API/deliveries?state=failed&limit=1" | jq '.items | length')
((DEAD + FAILED == 0)) || fail "deliveries failed or dead after the crash"
((DUPLICATES == 0)) || fail "$DUPLICATES duplicate posts after kill -9"
pass "kill -9 mid-flight: all $TOTAL events delivered after restart, $DUPLICATES duplicates"
echo "1 passed, 0 failed"
