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

source "$(dirname "$0")/crash_lib.sh"

start_tocsin
link_project

# The next create is stored and its answer held until the fault is cleared.
emu_fault '{"kind":"hang_after_commit","path_prefix":"/api/v4/posts","count":1}'
post_events '{id: "hang-\($i)", type: "scan.completed", project: "acme-web",
              scan: {scanner: "s\($i)", status: "succeeded"}}'
kill_when_posted 1
emu_fault '{"kind":"none"}'
echo "killed -9 with the first post created and unanswered"

start_tocsin
settle $TOTAL 20
count_posts
echo "posted $UNIQUE distinct deliveries in $POSTS posts"
((UNIQUE == TOTAL)) || fail "expected $TOTAL distinct posts, got $UNIQUE"
((POSTS == TOTAL)) || fail "$((POSTS - UNIQUE)) duplicate posts after kill -9 between create and record"
found=$(curl -fsS "http://127.0.0.1:$PORT/metrics" |
  sed -n 's/^tocsin_delivery_reconciles_total{result="found"} \([0-9.]*\)$/\1/p')
[[ "$found" == 1 ]] || fail "expected the restarted tocsin to find the post by looking (reconciles found: '${found}')"
pass "kill -9 between create and record: $TOTAL posts, none twice, the lost one found by looking"
echo "1 passed, 0 failed"
