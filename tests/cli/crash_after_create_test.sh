#!/usr/bin/env bash
# kill -9 of `tocsin serve` after Mattermost created a post and before Tocsin heard of it — the
# window docs/decisions/0004 is about. The emulator stores the first post and holds its answer
# (fault hang_after_commit); the test kills tocsin while it waits, restarts it, and checks that
# every event is posted exactly once. The emulator's pending_post_id de-duplication is off
# (--dedup-ttl-ms 0), so only tocsin's own look-up (its channel's lease left standing) can
# prevent a second post; /metrics must show that look-up finding the post.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || fail "jq is needed (scripts/install-deps.sh installs it)"
start_emulator --dedup-ttl-ms 0
DATA="$WORK/var"
TOTAL=5

STARTS=0
start_tocsin() {
  STARTS=$((STARTS + 1))
  LOG="$WORK/serve-$STARTS.log"
  "$TOCSIN" serve --listen 127.0.0.1:0 --data-dir "$DATA" --mattermost-rate-per-second 0 \
    >"$LOG" 2>&1 &
  SERVE=$!
  PIDS+=($SERVE)
  wait_for_line "$LOG" 'serving port=[0-9]+'
  PORT=$(sed -n 's/.*serving port=\([0-9]*\).*/\1/p' "$LOG" | tail -1)
  API="http://127.0.0.1:$PORT/api/v1"
  ADMIN=$(cat "$DATA/admin-token")
}
api() { curl -sS -m 30 -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' "$@"; }
emu() { curl -fsS -m 10 "$@"; }
posts_in_emulator() { emu "$EMU_URL/_emulator/stats" | jq -r '.posts'; }

start_tocsin
api -X PUT "$API/integrations/mattermost" -d "{\"url\":\"$EMU_URL\",\"token\":\"$BOT_TOKEN\"}" >/dev/null
api -X POST "$API/projects" -d '{"name":"acme-web"}' >/dev/null
api -X PUT "$API/projects/acme-web/integrations/mattermost" \
  -d '{"routes":[{"channel":"security/alerts","events":["scan.completed"]}]}' >/dev/null
BASE=$(posts_in_emulator)

# The next create is stored and its answer held until the fault is cleared.
emu -X POST "$EMU_URL/_emulator/fault" -H 'Content-Type: application/json' \
  -d '{"kind":"hang_after_commit","path_prefix":"/api/v4/posts","count":1}' >/dev/null
events='{"events":['
for ((i = 0; i < TOTAL; i++)); do
  ((i > 0)) && events+=','
  events+="{\"id\":\"hang-$i\",\"type\":\"scan.completed\",\"project\":\"acme-web\",\"scan\":{\"scanner\":\"s$i\",\"status\":\"succeeded\"}}"
done
events+=']}'
out=$(api -X POST "$API/events" --data-binary "$events")
[[ $(jq -r '.accepted' <<<"$out") == "$TOTAL" ]] || fail "events not accepted: $out"

for ((i = 0; i < 200; i++)); do
  (($(posts_in_emulator) - BASE >= 1)) && break
  sleep 0.05
done
(($(posts_in_emulator) - BASE == 1)) || fail "the first post was not created while its answer was held"
kill -9 $SERVE
wait $SERVE 2>/dev/null || true
emu -X POST "$EMU_URL/_emulator/fault" -H 'Content-Type: application/json' -d '{"kind":"none"}' >/dev/null
echo "killed -9 with the first post created and unanswered"

start_tocsin
for ((i = 0; i < 400; i++)); do
  (($(posts_in_emulator) - BASE >= TOTAL)) && break
  sleep 0.05
done
for ((i = 0; i < 100; i++)); do
  pending=$(api "$API/deliveries?state=pending&limit=1" | jq '.items | length')
  sending=$(api "$API/deliveries?state=sending&limit=1" | jq '.items | length')
  ((pending + sending == 0)) && break
  sleep 0.05
done

emu "$EMU_URL/_emulator/posts?channel_id=$ALERTS_ID" >"$WORK/posts.json"
POSTS=$(jq '[.[] | select(.props.tocsin_delivery_id != null)] | length' "$WORK/posts.json")
UNIQUE=$(jq '[.[] | select(.props.tocsin_delivery_id != null) | .props.tocsin_delivery_id] | unique | length' "$WORK/posts.json")
echo "posted $UNIQUE distinct deliveries in $POSTS posts"
((UNIQUE == TOTAL)) || fail "expected $TOTAL distinct posts, got $UNIQUE"
((POSTS == TOTAL)) || fail "$((POSTS - UNIQUE)) duplicate posts after kill -9 between create and record"
found=$(curl -fsS "http://127.0.0.1:$PORT/metrics" |
  sed -n 's/^tocsin_delivery_reconciles_total{result="found"} \([0-9.]*\)$/\1/p')
[[ "$found" == 1 ]] || fail "expected the restarted tocsin to find the post by looking (reconciles found: '${found}')"
pass "kill -9 between create and record: $TOTAL posts, none twice, the lost one found by looking"
echo "1 passed, 0 failed"
