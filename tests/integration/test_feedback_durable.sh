#!/usr/bin/env bash
# test_feedback_durable.sh - feedback is in Redis before its offset is
# committed, against a real broker and redis-server:
#   1. `settings` feedback for users who have no events yet (a batch of
#      feedback only), committed; then riskgate is killed (-9): after a
#      restart, a step-up for each of them uses the method they chose;
#   2. the same, with a graceful SIGTERM right after the feedback.
# A profile updated only in a worker's cache would be lost with the
# process while the committed offset says the feedback was applied.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
BIN=${RISKGATE_BIN:-$IT_REPO/build/riskgate}

it_stack_up || { it_fail stack "the local stack did not come up"; it_summary; exit 1; }

mkdir -p "$IT_TMP/rules"
cp "$IT_REPO/rules/policy.yaml" "$IT_TMP/rules/"
cp -r "$IT_REPO/rules/lists" "$IT_TMP/rules/"
cat > "$IT_TMP/rules/force.yaml" <<'YAML'
rules:
  - id: big_amount_step_up
    when: amount > 900
    then: step_up
YAML
cat > "$IT_TMP/riskgate.yaml" <<YAML
kafka:
  group_id: it-feedback
  commit_interval_ms: 200
  consumer_properties:
    # the killed instance's session ends sooner (librdkafka's default: 45 s)
    session.timeout.ms: 6000
    heartbeat.interval.ms: 1000
rules:
  dir: $IT_TMP/rules
  watch: false
engine:
  workers: 2
http:
  listen: ""
YAML

# feedback_committed N: the group's committed offsets on risk-feedback add
# up to N (every feedback message so far).
feedback_committed() { [ "$(it_group_offsets it-feedback risk-feedback | cut -d' ' -f1)" = "$1" ]; }

# round NAME HOW: settings (password) for 20 new users, wait until their
# offsets are committed, stop riskgate HOW (kill or term), restart, and
# send each user a 950 EUR payment: every step-up must ask for password.
round() {
    local name=$1 how=$2 i
    : > "$IT_TMP/$name.fb.jsonl"
    : > "$IT_TMP/$name.ev.jsonl"
    for i in $(seq 1 20); do
        printf '{"type":"settings","user_id":"%s-u%d","step_up_method":"password","ts":"2026-11-28T10:00:00Z"}\n' \
            "$name" "$i" >> "$IT_TMP/$name.fb.jsonl"
        printf '{"event_id":"%s-e%d","user_id":"%s-u%d","amount":950,"currency":"EUR","ts":"2026-11-28T10:05:00Z","merchant_id":"m1","merchant_category":"content","channel":"card"}\n' \
            "$name" "$i" "$name" "$i" >> "$IT_TMP/$name.ev.jsonl"
    done
    it_rg_start "$IT_TMP/riskgate.yaml" "$IT_TMP/$name-1.log"
    it_produce_file risk-feedback "$IT_TMP/$name.fb.jsonl" || it_fail "$name: produce" "kcat failed"
    FB_TOTAL=$((FB_TOTAL + 20))
    it_assert "$name: the feedback is consumed and its offsets committed" \
        it_wait_until 60 feedback_committed "$FB_TOTAL"
    if [ "$how" = kill ]; then
        kill -9 "$RG_PID"
    else
        kill -TERM "$RG_PID"
    fi
    wait "$RG_PID" 2>/dev/null
    RG_PID=
    it_rg_start "$IT_TMP/riskgate.yaml" "$IT_TMP/$name-2.log"
    it_produce_file transactions "$IT_TMP/$name.ev.jsonl" || it_fail "$name: produce" "kcat failed"
    local deadline=$((SECONDS + 60)) n=0
    while ((SECONDS < deadline)); do
        it_read_verdicts && grep -aF "\"$name-e" "$IT_TMP/verdicts.txt" > "$IT_TMP/$name.verdicts"
        n=$(wc -l < "$IT_TMP/$name.verdicts")
        [ "$n" -ge 20 ] && break
        sleep 0.5
    done
    it_assert_eq "$n" 20 "$name: 20 verdicts"
    it_assert_eq "$(grep -c '"decision":"step_up"' "$IT_TMP/$name.verdicts")" 20 \
        "$name: every payment is stepped up (the rule)"
    it_assert_eq "$(grep -c '"method":"password"' "$IT_TMP/$name.verdicts")" 20 \
        "$name: every step-up asks for the method the user chose before the $how"
    kill -TERM "$RG_PID"
    wait "$RG_PID"
    RG_PID=
}

FB_TOTAL=0
round crash kill
round stop term

if [ "$IT_FAILED" -gt 0 ]; then
    for f in "$IT_TMP"/*-[12].log; do
        echo "# $(basename "$f"):" >&2
        grep -v '"level":"debug"' "$f" | tail -5 | sed 's/^/#   /' >&2
    done
fi
it_summary
