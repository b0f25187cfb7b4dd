# Helpers of the kill -9 tests (crash_test.sh, crash_after_create_test.sh): one `tocsin serve` on
# a data directory that survives restarts, the API as its admin, and the emulator's count of
# posts. Sourced after lib.sh and start_emulator; the test sets DATA.
STARTS=0
# start_tocsin: (re)starts the server on $DATA; sets SERVE, LOG, PORT, API, ADMIN.
start_tocsin() {
  STARTS=$((STARTS + 1))
  LOG="$WORK/serve-$STARTS.log"  # a fresh file: never read the previous run's port line
  # No client-side cap (the emulator sends no rate-limit headers, so the default would be 10/s).
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
posts_in_emulator() { curl -fsS -m 10 "$EMU_URL/_emulator/stats" | jq -r '.posts'; }

# link_project: the integration on the emulator and project acme-web, its scan.completed events
# routed to security/alerts; sets BASE (the posts already in the emulator).
link_project() {
  api -X PUT "$API/integrations/mattermost" -d "{\"url\":\"$EMU_URL\",\"token\":\"$BOT_TOKEN\"}" >/dev/null
  api -X POST "$API/projects" -d '{"name":"acme-web"}' >/dev/null
  api -X PUT "$API/projects/acme-web/integrations/mattermost" \
    -d '{"routes":[{"channel":"security/alerts","events":["scan.completed"]}]}' >/dev/null
  BASE=$(posts_in_emulator)
}

# settle TOTAL SECONDS: waits (bounded) until TOTAL posts arrived and nothing is left to send.
settle() {
  local total=$1 rounds=$(($2 * 10)) i pending sending
  for ((i = 0; i < rounds; i++)); do
    (($(posts_in_emulator) - BASE >= total)) && break
    sleep 0.1
  done
  for ((i = 0; i < 100; i++)); do  # anything still in flight lands before counting
    pending=$(api "$API/deliveries?state=pending&limit=1" | jq '.items | length')
    sending=$(api "$API/deliveries?state=sending&limit=1" | jq '.items | length')
    ((pending + sending == 0)) && break
    sleep 0.1
  done
}

# count_posts: the alerts channel's posts made by Tocsin: POSTS in all, UNIQUE deliveries.
count_posts() {
  curl -fsS "$EMU_URL/_emulator/posts?channel_id=$ALERTS_ID" >"$WORK/posts.json"
  POSTS=$(jq '[.[] | select(.props.tocsin_delivery_id != null)] | length' "$WORK/posts.json")
  UNIQUE=$(jq '[.[] | select(.props.tocsin_delivery_id != null) | .props.tocsin_delivery_id] | unique | length' "$WORK/posts.json")
}

# emu_fault JSON: sets the emulator's fault (`{"kind":"none"}` clears it).
emu_fault() {
  curl -fsS -m 10 -X POST "$EMU_URL/_emulator/fault" -H 'Content-Type: application/json' -d "$1" >/dev/null
}

# events_json FROM COUNT EVENT: {"events":[...]} of COUNT events, each the jq expression EVENT
# with $i = FROM, FROM+1, ... (e.g. '{id: "e-\($i)", type: "scan.completed", ...}').
events_json() {
  jq -cn --argjson from "$1" --argjson n "$2" "{events: [range(\$from; \$from + \$n) as \$i | $3]}"
}

# post_events EVENT: POST /events with TOTAL events made by events_json, all to be accepted.
post_events() {
  local out
  out=$(events_json 0 "$TOTAL" "$1" | api -X POST "$API/events" --data-binary @-)
  [[ $(jq -r '.accepted' <<<"$out") == "$TOTAL" ]] || fail "events not accepted: $out"
}

# kill_when_posted N: once exactly N posts arrived (bounded wait), kill -9 the server.
kill_when_posted() {
  local n=$1 i
  for ((i = 0; i < 200; i++)); do
    (($(posts_in_emulator) - BASE >= n)) && break
    sleep 0.05
  done
  (($(posts_in_emulator) - BASE == n)) || fail "expected $n posts before the kill, got $(($(posts_in_emulator) - BASE))"
  kill -9 "$SERVE"
  wait "$SERVE" 2>/dev/null || true
}
