#!/usr/bin/env bash
# test_outages.sh - riskgate against a real broker and redis-server that
# go away and come back:
#   1. Redis stopped mid-stream: verdicts keep coming, flagged degraded by
#      the configured policy (step_up); after Redis is back, normal again.
#   2. The broker stopped mid-run: riskgate keeps running, says so in the
#      log, and resumes when the broker is back; no event is lost.
#   3. The broker down when riskgate starts: it waits and then works.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
BIN=${RISKGATE_BIN:-$IT_REPO/build/riskgate}
VERIFY=$IT_REPO/tests/integration/verify.py

it_stack_up || { it_fail stack "the local stack did not come up"; it_summary; exit 1; }

cat > "$IT_TMP/riskgate.yaml" <<YAML
kafka:
  group_id: it-outages
  commit_interval_ms: 200
redis:
  timeout_ms: 100
policy:
  degradation: step_up
engine:
  workers: 2
  batch_size: 32
http:
  listen: ""
YAML

start_rg() { it_rg_start "$IT_TMP/riskgate.yaml"; }

# gen_batch NAME SEED COUNT: events file $IT_TMP/NAME.jsonl + truth.
gen_batch() {
    "$BIN" gen --out "$IT_TMP/$1.jsonl" --feedback-out "$IT_TMP/$1.fb.jsonl" \
        --truth-out "$IT_TMP/$1.truth.jsonl" --count "$3" --users 200 --seed "$2" \
        > /dev/null 2>&1
}

# verdicts_for NAME TIMEOUT: wait until every valid event of NAME has a
# verdict; leaves NAME's verdicts (key<TAB>value) in $IT_TMP/NAME.verdicts.
verdicts_for() {
    local n seed
    n=$(grep -c '"is_malformed":false' "$IT_TMP/$1.truth.jsonl")
    it_wait_verdicts "$IT_TMP/$1.truth.jsonl" "$n" "$2" "$IT_TMP/$1.all" || return 1
    seed=$(sed -n 's/.*"event_id":"e-\([0-9]*\)_.*/\1/p;q' "$IT_TMP/$1.truth.jsonl")
    grep -aF "\"e-${seed}_" "$IT_TMP/$1.all" > "$IT_TMP/$1.verdicts"
}

degraded_count() { grep -ac '"degraded":true' "$IT_TMP/$1.verdicts"; }

start_rg
gen_batch warm 31 1000
it_produce_file transactions "$IT_TMP/warm.jsonl"
it_assert "healthy: every event decided" verdicts_for warm 90
it_assert_eq "$(degraded_count warm)" 0 "healthy: no degraded verdict"

# ---- 1. Redis down, then back
it_stack redis-stop
gen_batch down 32 400
it_produce_file transactions "$IT_TMP/down.jsonl"
it_assert "Redis down: every event still decided" verdicts_for down 90
n_down=$(grep -c '"is_malformed":false' "$IT_TMP/down.truth.jsonl")
it_assert_eq "$(degraded_count down)" "$n_down" "Redis down: every verdict degraded"
it_assert_eq "$(grep -ac '"code":"degraded_step_up"' "$IT_TMP/down.verdicts")" "$n_down" \
    "Redis down: the degradation policy (step_up) decided, with its reason"
it_assert "Redis down: riskgate still running" it_pid_alive "$RG_PID"
it_stack redis-start
it_stack_env
sleep 3 # the store reconnects with backoff (at most 2 s)
gen_batch back 33 400
it_produce_file transactions "$IT_TMP/back.jsonl"
it_assert "Redis back: every event decided" verdicts_for back 90
it_assert_eq "$(degraded_count back)" 0 "Redis back: verdicts normal again"

# ---- 2. broker down mid-run
it_stack kafka-stop
sleep 5
it_assert "broker down: riskgate keeps running" it_pid_alive "$RG_PID"
it_stack kafka-start
it_stack_env
gen_batch kback 34 1000
it_wait_until 60 it_produce_file transactions "$IT_TMP/kback.jsonl"
it_assert "broker back: every event decided" verdicts_for kback 120
if grep -aq '"mod":"kafka"' "$IT_TMP/riskgate.log"; then
    it_pass "broker down: the log says so"
else
    it_fail "broker down: the log says so" "no kafka warning logged"
fi

# ---- 3. broker down at start
kill -TERM "$RG_PID"; wait "$RG_PID"; RG_PID=
it_stack kafka-stop
start_rg
sleep 4
it_assert "broker down at start: riskgate waits instead of exiting" it_pid_alive "$RG_PID"
it_stack kafka-start
it_stack_env
gen_batch late 35 500
it_wait_until 60 it_produce_file transactions "$IT_TMP/late.jsonl"
it_assert "broker up later: every event decided" verdicts_for late 120
kill -TERM "$RG_PID"; wait "$RG_PID"; rc=$?; RG_PID=
it_assert_eq "$rc" 0 "graceful exit after the outages"
if [ "$IT_FAILED" -gt 0 ]; then
    tail -30 "$IT_TMP/riskgate.log" | sed 's/^/#   /' >&2
fi
it_summary
