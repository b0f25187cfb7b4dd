#!/usr/bin/env bash
# kill -9 of `tocsin serve` in the middle of a digest's list: the root and its first reply are
# posted, the second reply is held by the emulator (fault hang) when tocsin dies. After a restart
# the list must be complete — every finding listed once, under the one root — because the
# replies are owed as a delivery of their own, recorded with the root (docs/delivery.md,
# Digests). The held reply is created once the fault is cleared; the restarted tocsin posts the
# list again from its recorded start, and the server's pending_post_id de-duplication (30 s)
# answers the replies it already has with the originals.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || fail "jq is needed (scripts/install-deps.sh installs it)"
start_emulator
DATA="$WORK/var"
TOTAL=300

source "$(dirname "$0")/crash_lib.sh"

start_tocsin
api -X PUT "$API/integrations/mattermost" -d "{\"url\":\"$EMU_URL\",\"token\":\"$BOT_TOKEN\"}" >/dev/null
api -X POST "$API/projects" -d '{"name":"acme-web"}' >/dev/null
api -X PUT "$API/projects/acme-web/integrations/mattermost" \
  -d '{"routes":[{"channel":"security/alerts","events":["vulnerability.new"],"digest_threshold":10}]}' \
  >/dev/null
BASE=$(posts_in_emulator)

# The root and the first reply go out; the next create is held until the fault is cleared.
emu_fault '{"kind":"hang","path_prefix":"/api/v4/posts","skip":2,"count":1}'
post_events '{type: "vulnerability.new", project: "acme-web",
              finding: {fingerprint: "fp-\($i)", severity: "high",
                        title: "cf \($i) end, a title long enough to spread the list over several replies"}}'
kill_when_posted 2
emu_fault '{"kind":"none"}'
echo "killed -9 with the digest's second reply in flight"

start_tocsin
owed_sent() {
  api "$API/deliveries?limit=5" | jq -e '[.items[] | select(.kind == "replies" and .state == "sent")] | length == 1' >/dev/null
}
for ((i = 0; i < 200; i++)); do
  owed_sent && break
  sleep 0.1
done
owed_sent || fail "the digest's replies delivery is not sent: $(api "$API/deliveries?limit=5")"

curl -fsS "$EMU_URL/_emulator/posts?channel_id=$ALERTS_ID" >"$WORK/posts.json"
roots=$(jq '[.[] | select(.props.tocsin_digest_count != null)] | length' "$WORK/posts.json")
((roots == 1)) || fail "expected one digest root, found $roots"
root=$(jq -r '.[] | select(.props.tocsin_digest_count != null) | .id' "$WORK/posts.json")
jq -r --arg root "$root" '.[] | select(.root_id == $root) | .message' "$WORK/posts.json" >"$WORK/list.txt"
replies=$(jq --arg root "$root" '[.[] | select(.root_id == $root)] | length' "$WORK/posts.json")
missing=0
twice=0
for ((i = 0; i < TOTAL; i++)); do
  n=$(grep -c "cf $i end" "$WORK/list.txt" || true)
  ((n == 0)) && missing=$((missing + 1))
  ((n > 1)) && twice=$((twice + 1))
done
echo "the list: $replies replies; findings missing $missing, listed twice $twice"
((missing == 0)) || fail "$missing findings missing from the digest's list after kill -9"
((twice == 0)) || fail "$twice findings listed twice after kill -9"
pass "kill -9 in the middle of a digest's list: one root, every finding listed once"
echo "1 passed, 0 failed"
