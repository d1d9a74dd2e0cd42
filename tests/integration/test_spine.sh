#!/usr/bin/env bash
# test_spine.sh - the spine against a real Kafka broker and redis-server:
#   1. N events (and their feedback) in -> exactly N verdicts whose
#      event_ids match one to one, plus one dead letter per malformed event
#      (generated and hand-written), with reason headers and card numbers
#      masked; valid feedback is applied, never dead-lettered;
#   2. kill -9 mid-stream, restart: every event has a verdict (duplicates
#      allowed, same event_id);
#   3. SIGTERM drains and exits 0, and the group's committed offsets cover
#      every input event (lag 0).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
BIN=${RISKGATE_BIN:-$IT_REPO/build/riskgate}
VERIFY=$IT_REPO/tests/integration/verify.py

it_stack_up || { it_fail stack "the local stack did not come up"; it_summary; exit 1; }

cat > "$IT_TMP/riskgate.yaml" <<YAML
kafka:
  group_id: it-spine
  commit_interval_ms: 200
  # Client tuning from the config wins over riskgate's defaults (docs/config.md).
  producer_properties:
    linger.ms: 1
  consumer_properties:
    fetch.wait.max.ms: 5
engine:
  workers: 2
  batch_size: 32
  shutdown_timeout_ms: 15000
http:
  listen: ""
YAML

start_rg() { it_rg_start "$IT_TMP/riskgate.yaml"; }

# ---- 0. a Kafka client property librdkafka rejects stops start-up, named
sed 's/linger.ms: 1/linger.ms: soon/' "$IT_TMP/riskgate.yaml" > "$IT_TMP/riskgate-badprop.yaml"
timeout 60 "$BIN" run -c "$IT_TMP/riskgate-badprop.yaml" > "$IT_TMP/badprop.log" 2>&1
st=$?
it_assert "a rejected producer property stops start-up" test "$st" -ne 0 -a "$st" -ne 124
it_assert "the error names kafka.producer_properties.linger.ms" \
    grep -q 'kafka.producer_properties.linger.ms=soon' "$IT_TMP/badprop.log"

# ---- 0b. an HTTP address that is taken stops start-up, named
/usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True); time.sleep(60)' > "$IT_TMP/busy.port" &
busy_pid=$!
it_on_exit "kill $busy_pid 2>/dev/null"
it_wait_until 10 test -s "$IT_TMP/busy.port"
sed "s/listen: \"\"/listen: 127.0.0.1:$(cat "$IT_TMP/busy.port")/" "$IT_TMP/riskgate.yaml" \
    > "$IT_TMP/riskgate-busy.yaml"
timeout 60 "$BIN" run -c "$IT_TMP/riskgate-busy.yaml" > "$IT_TMP/busy.log" 2>&1
st=$?
it_assert "a taken http.listen address stops start-up" test "$st" -ne 0 -a "$st" -ne 124
it_assert "the error names http.listen and the address" \
    grep -q "cannot serve /metrics /healthz /readyz on 127.0.0.1:$(cat "$IT_TMP/busy.port") (http.listen)" \
    "$IT_TMP/busy.log"
kill "$busy_pid" 2>/dev/null

wait_verdicts() { it_wait_verdicts "$1" "$2" "$3" "$IT_TMP/verdicts.txt"; }

# ---- 1. N in, N out, dead letters
"$BIN" gen --out "$IT_TMP/a.jsonl" --feedback-out "$IT_TMP/a.fb.jsonl" \
    --truth-out "$IT_TMP/a.truth.jsonl" --count 3000 --users 300 --malformed 0.02 --seed 11 \
    > /dev/null 2>&1 || it_fail gen "riskgate gen failed"
n_valid=$(grep -c '"is_malformed":false' "$IT_TMP/a.truth.jsonl")
n_bad=$(grep -c '"is_malformed":true' "$IT_TMP/a.truth.jsonl")
it_assert "generated malformed events" test "$n_bad" -gt 10

it_produce_file transactions "$IT_TMP/a.jsonl" || it_fail produce "could not produce events"
it_produce_file transactions "$IT_REPO/tests/data/bad_events.jsonl" || it_fail produce "bad events"
# Feedback first in the backlog: workers meet users they have not cached yet.
it_produce_file risk-feedback "$IT_TMP/a.fb.jsonl" || it_fail produce "could not produce feedback"
n_hand=$(wc -l < "$IT_REPO/tests/data/bad_events.jsonl")
start_rg
if wait_verdicts "$IT_TMP/a.truth.jsonl" "$n_valid" 120; then
    sleep 1 # a late duplicate would show up now
    it_read_verdicts
    it_assert "exactly one verdict per valid event, keyed by user_id" \
        "$VERIFY" verdicts --truth "$IT_TMP/a.truth.jsonl" --verdicts "$IT_TMP/verdicts.txt"
else
    it_fail "exactly one verdict per valid event, keyed by user_id" "verdicts missing"
fi
n_dlq_expected=$((n_bad + n_hand))
it_consume_meta transactions.dlq "$n_dlq_expected" 60 "$IT_TMP/dlq.txt"
it_assert_eq "$(it_count_lines "$IT_TMP/dlq.txt")" "$n_dlq_expected" \
    "one dead letter per malformed event"
grep -aF 'ubad' "$IT_TMP/dlq.txt" > "$IT_TMP/dlq.hand.txt"
it_assert "hand-written bad events: reason codes, source headers, masked card numbers" \
    "$VERIFY" dlq --lines "$IT_REPO/tests/data/bad_events.jsonl" \
    --expect "$IT_REPO/tests/data/bad_events.expect" --dlq "$IT_TMP/dlq.hand.txt"
if grep -qE '4111 1111 1111 1111|4111111111111111|5500-0000-0000-0004' "$IT_TMP/riskgate.log"; then
    it_fail "no card number in the log" "found one"
else
    it_pass "no card number in the log"
fi

# ---- 2. kill -9 mid-stream, restart, every event has a verdict
"$BIN" gen --out "$IT_TMP/b.jsonl" --feedback-out "$IT_TMP/b.fb.jsonl" \
    --truth-out "$IT_TMP/b.truth.jsonl" --count 200000 --users 10000 --seed 12 \
    > /dev/null 2>&1 || it_fail gen "riskgate gen failed"
cat "$IT_TMP/a.truth.jsonl" "$IT_TMP/b.truth.jsonl" > "$IT_TMP/ab.truth.jsonl"
n_b=$(grep -c '"is_malformed":false' "$IT_TMP/b.truth.jsonl")
it_produce_file transactions "$IT_TMP/b.jsonl" || it_fail produce "could not produce events"
# The run that gets killed goes slowly on purpose (one worker, batches of
# 4) over 200k events, so that the kill lands mid-stream however fast the
# machine is (with 40k events a fast build had finished before the kill, and
# the check below read a verdict count from before the kill).
kill -TERM "$RG_PID"; wait "$RG_PID"
sed -e 's/workers: 2/workers: 1/' -e 's/batch_size: 32/batch_size: 4/' \
    "$IT_TMP/riskgate.yaml" > "$IT_TMP/riskgate-slow.yaml"
it_rg_start "$IT_TMP/riskgate-slow.yaml"
wait_verdicts "$IT_TMP/ab.truth.jsonl" $((n_valid + 2000)) 120 || true
kill -9 "$RG_PID" 2>/dev/null
wait "$RG_PID" 2>/dev/null
it_read_verdicts
before=$("$VERIFY" count-distinct --truth "$IT_TMP/ab.truth.jsonl" --verdicts "$IT_TMP/verdicts.txt")
echo "# killed riskgate with $before of $((n_valid + n_b)) events decided" >&2
it_assert "killed mid-stream (some events still undecided)" test "$before" -lt $((n_valid + n_b))
start_rg
if wait_verdicts "$IT_TMP/ab.truth.jsonl" $((n_valid + n_b)) 180; then
    it_assert "after kill -9 and restart every event has a verdict" \
        "$VERIFY" verdicts --truth "$IT_TMP/ab.truth.jsonl" --verdicts "$IT_TMP/verdicts.txt" \
        --allow-duplicates
else
    it_fail "after kill -9 and restart every event has a verdict" "verdicts missing"
fi

# ---- 3. SIGTERM drains, exits 0, offsets committed
t0=$SECONDS
kill -TERM "$RG_PID"
wait "$RG_PID"
rc=$?
RG_PID=
it_assert_eq "$rc" 0 "SIGTERM: graceful exit status 0"
it_assert "SIGTERM: stopped within 20 s" test $((SECONDS - t0)) -le 20
it_kafka_tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
    --bootstrap-server "$RISKGATE_KAFKA_BOOTSTRAP" --describe --group it-spine \
    > "$IT_TMP/group.txt" 2>/dev/null
lag=$(awk '$2 == "transactions" { s += $6 } END { print s + 0 }' "$IT_TMP/group.txt")
parts=$(awk '$2 == "transactions"' "$IT_TMP/group.txt" | wc -l)
it_assert_eq "$parts" 4 "committed offsets exist for all 4 input partitions"
it_assert_eq "$lag" 0 "committed offsets cover every input event (lag 0)"
it_assert "transactions and risk-feedback co-partitioned: no warning" \
    bash -c "! grep -q 'not the same numbers' '$IT_TMP/riskgate.log'"
if [ "$IT_FAILED" -gt 0 ]; then
    echo "# last lines of the riskgate log:" >&2
    tail -20 "$IT_TMP/riskgate.log" | sed 's/^/#   /' >&2
fi
it_summary
