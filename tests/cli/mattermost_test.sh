#!/usr/bin/env bash
# `tocsin mattermost test` from a shell: message, hint and exit status for each outcome.
source "$(dirname "$0")/lib.sh"
start_emulator

expect_exit 0 "$TOCSIN" mattermost test --url "$EMU_URL" --token "$BOT_TOKEN"
expect_out '^(.\[32m)?ok'; expect_out 'Connection successful'; expect_out 'bot @tocsin-bot'; expect_out '9\.11\.2'
pass "bot token: ok, who and which version"

expect_exit 0 "$TOCSIN" mattermost test --url "$EMU_URL" --token "$USER_TOKEN"
expect_out 'user @alice'
pass "personal access token: ok as a user"

OUT=$(printf '%s\n' "$BOT_TOKEN" | "$TOCSIN" mattermost test --url "$EMU_URL" --token - --channel security/alerts) ||
  fail "token from stdin: $OUT"
grep -q "$ALERTS_ID" <<<"$OUT" || fail "channel id not shown: $OUT"
pass "token from stdin, channel by team/name"

expect_exit 1 "$TOCSIN" mattermost test --url "$EMU_URL" --token "$BOT_TOKEN" --channel "$INCIDENTS_ID"
expect_out 'forbidden'; expect_out 'hint:'
pass "private channel the bot is not in: forbidden with a hint"

expect_exit 1 "$TOCSIN" mattermost test --url "$EMU_URL" --token "$BOT_TOKEN" --channel security/nowhere
expect_out 'channel_not_found'
pass "unknown channel: channel_not_found"

expect_exit 1 "$TOCSIN" mattermost test --url "$EMU_URL" --token aaaaaaaaaaaaaaaaaaaaaaaaaa
expect_out 'token_invalid'; expect_out 'hint:'
grep -q "aaaaaaaaaaaaaaaaaaaaaaaaaa" <<<"$OUT" && fail "the token was echoed: $OUT"
pass "unknown token: token_invalid, token not echoed"

expect_exit 1 "$TOCSIN" mattermost test --url "ftp://$EMU_URL" --token x
expect_out 'invalid_url'
pass "not http(s): invalid_url"

# Port 1: privileged, nothing of ours listens there, so the kernel refuses the connection.
expect_exit 1 "$TOCSIN" mattermost test --url "http://127.0.0.1:1" --token x
expect_out 'connection_failed'; expect_out '[Rr]efused'
pass "closed port: connection_failed (refused)"

expect_exit 2 "$TOCSIN" mattermost test --token x
pass "missing --url: usage error, exit 2"

# A name that cannot resolve, in a private network namespace with only loopback: no query
# leaves the machine.
if unshare --net true 2>/dev/null; then
  expect_exit 1 unshare --net bash -c "ip link set lo up; '$TOCSIN' mattermost test --url http://mattermost.invalid --token x"
  expect_out 'connection_failed'; expect_out 'mattermost\.invalid'; expect_out '(DNS|resolve)'
  pass "unresolvable host (in a network namespace): connection_failed naming DNS"
else
  fail "cannot create a network namespace (unshare --net): the DNS case needs one"
fi
echo "9 passed, 0 failed"
