#!/usr/bin/env bash
# test_delivery_failure.sh - a verdict the broker refuses for good (here: the
# verdicts topic's max.message.bytes is smaller than a verdict batch), against
# a real broker:
#   1. riskgate says which topic refused what, drains and exits with status
#      2; no offset of an undelivered verdict is committed;
#   2. after the fix (the topic's limit restored), a restart consumes the
#      events again and every one gets exactly one verdict; SIGTERM then
#      leaves the group with every offset committed (lag 0);
#   3. a bad event larger than the producer's message.max.bytes, and one
#      larger than the dead-letter topic's max.message.bytes: each goes to
#      the dead-letter topic cut short (riskgate-truncated-from: its
#      length), riskgate keeps running, the events after it get verdicts.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
BIN=${RISKGATE_BIN:-$IT_REPO/build/riskgate}
VERIFY=$IT_REPO/tests/integration/verify.py

it_stack_up || { it_fail stack "the local stack did not come up"; it_summary; exit 1; }

cat > "$IT_TMP/riskgate.yaml" <<YAML
kafka:
  group_id: it-delivery
  commit_interval_ms: 200
engine:
  workers: 2
  shutdown_timeout_ms: 15000
http:
  listen: ""
YAML

topic_config() { # topic_config --add-config K=V | --delete-config K
    it_kafka_tool org.apache.kafka.tools.ConfigCommand --bootstrap-server "$RISKGATE_KAFKA_BOOTSTRAP" \
        --alter --entity-type topics --entity-name verdicts "$@" > "$IT_TMP/config.out" 2>&1
}

group_offsets() { it_group_offsets it-delivery transactions; }

"$BIN" gen --out "$IT_TMP/ev.jsonl" --feedback-out /dev/null --truth-out "$IT_TMP/truth.jsonl" \
    --count 300 --users 50 --malformed 0 --seed 61 > /dev/null 2>&1 || it_fail gen "gen failed"
it_assert "the broker takes a 200-byte limit on verdicts" topic_config --add-config max.message.bytes=200
it_produce_file transactions "$IT_TMP/ev.jsonl" || it_fail produce "kcat failed"

# ---- 1. refused for good: drain, exit 2, nothing committed past it
it_rg_start "$IT_TMP/riskgate.yaml" "$IT_TMP/run1.log"
pid=$RG_PID
it_assert "riskgate stops by itself" it_wait_until 60 bash -c "! kill -0 $pid 2>/dev/null"
wait "$pid"
rc=$?
RG_PID=
it_assert_eq "$rc" 2 "exit status 2 (a permanent delivery error)"
it_assert "the log names the topic and the broker's reason" \
    grep -q 'delivery to verdicts failed permanently: .*[Ll]arge' "$IT_TMP/run1.log"
it_assert "... once, not once per failed verdict (rate-limited)" \
    test "$(grep -c 'failed permanently' "$IT_TMP/run1.log")" -le 3
it_read_verdicts
it_assert_eq "$(wc -l < "$IT_TMP/verdicts.txt")" 0 "no verdict was written"
it_assert_eq "$(group_offsets | cut -d' ' -f1)" 0 "no offset of an undelivered verdict is committed"

# ---- 2. fixed: everything again, once
it_assert "the limit is lifted" topic_config --delete-config max.message.bytes
it_rg_start "$IT_TMP/riskgate.yaml" "$IT_TMP/run2.log"
it_wait_verdicts "$IT_TMP/truth.jsonl" 300 90
sleep 1 # a late duplicate would show up now
it_read_verdicts
it_assert "after the fix every event has exactly one verdict" \
    "$VERIFY" verdicts --truth "$IT_TMP/truth.jsonl" --verdicts "$IT_TMP/verdicts.txt"
kill -TERM "$RG_PID"
wait "$RG_PID"
rc=$?
RG_PID=
it_assert_eq "$rc" 0 "SIGTERM: exit 0"
it_assert_eq "$(group_offsets)" "300 0" "every offset committed (300 in all, lag 0)"

# ---- 3. a bad event too large for the dead-letter topic: cut, never a stop
# (before 2026-11-29 it stopped the engine at every restart: a poison pill)
big_event() { # big_event ID BYTES: one bad (too_large) event, key big-user,
    # padded with random base64 so that compression cannot shrink it below
    # the broker's limit
    /usr/bin/python3 -c 'import base64, json, os, sys
pad = base64.b64encode(os.urandom(int(sys.argv[2]) * 3 // 4)).decode()
print(json.dumps({"event_id": sys.argv[1], "user_id": "big-user", "amount": 1, "currency": "EUR",
                  "ts": "2026-11-28T10:00:00Z", "pad": pad}))' "$1" "$2" > "$IT_TMP/$1.jsonl"
    it_produce_file transactions "$IT_TMP/$1.jsonl" || it_fail "produce $1" "kcat failed"
}
small_events() { # small_events SEED: 20 good events of big-user, after the big one
    "$BIN" gen --out "$IT_TMP/s$1.raw" --feedback-out /dev/null --truth-out "$IT_TMP/s$1.truth" \
        --count 20 --users 1 --malformed 0 --seed "$1" > /dev/null 2>&1
    sed 's/"user_id":"[^"]*"/"user_id":"big-user"/' "$IT_TMP/s$1.raw" > "$IT_TMP/s$1.jsonl"
    sed -i 's/"user_id":"[^"]*"/"user_id":"big-user"/' "$IT_TMP/s$1.truth"
    it_produce_file transactions "$IT_TMP/s$1.jsonl" || it_fail "produce s$1" "kcat failed"
}
dlq_of() { # dlq_of ID: "length truncated-from" of ID's dead letter
    timeout 30 kcat -b "$RISKGATE_KAFKA_BOOTSTRAP" -C -t transactions.dlq -o beginning -e -q \
        -X fetch.message.max.bytes=2097152 -f '%S\t%h\t%s\n' 2>/dev/null |
        grep -aF "\"event_id\": \"$1\"" | awk -F'\t' '
        match($2, /riskgate-truncated-from=[0-9]+/) { print $1, substr($2, RSTART + 24, RLENGTH - 24) }'
}
test_eq_verdicts() { [ "$(verdicts_of "$1")" -ge "$2" ]; }
verdicts_of() { it_read_verdicts && grep -ac "\"e-$1_" "$IT_TMP/verdicts.txt"; }
it_rg_start "$IT_TMP/riskgate.yaml" "$IT_TMP/run3.log"
big_event big-1 1500000
small_events 62
it_assert "1.5 MB bad event: the events after it get their verdicts" \
    it_wait_until 60 test_eq_verdicts 62 20
it_assert "1.5 MB bad event: riskgate still runs" it_pid_alive "$RG_PID"
it_assert_eq "$(dlq_of big-1)" "934464 $(($(wc -c < "$IT_TMP/big-1.jsonl") - 1))" \
    "1.5 MB bad event: dead letter cut to the producer's message.max.bytes less 64 KiB, original length in riskgate-truncated-from"
it_assert "the limit on the dead-letter topic is lowered to 200000" \
    it_kafka_tool org.apache.kafka.tools.ConfigCommand --bootstrap-server "$RISKGATE_KAFKA_BOOTSTRAP" \
    --alter --entity-type topics --entity-name transactions.dlq --add-config max.message.bytes=200000
big_event big-2 500000
small_events 63
it_assert "500 kB bad event, smaller dead-letter topic: the events after it get their verdicts" \
    it_wait_until 60 test_eq_verdicts 63 20
it_assert "500 kB bad event: riskgate still runs" it_pid_alive "$RG_PID"
it_assert_eq "$(dlq_of big-2)" "65536 $(($(wc -c < "$IT_TMP/big-2.jsonl") - 1))" \
    "500 kB bad event: the broker refused it whole; its first 64 KiB went instead"
kill -TERM "$RG_PID"
wait "$RG_PID"
rc=$?
RG_PID=
it_assert_eq "$rc" 0 "SIGTERM: exit 0"
it_assert_eq "$(group_offsets)" "342 0" "every offset committed (342 in all, lag 0)"

if [ "$IT_FAILED" -gt 0 ]; then
    for f in run1 run2 run3; do
        echo "# $f.log:" >&2
        grep -v '"level":"debug"' "$IT_TMP/$f.log" | tail -8 | sed 's/^/#   /' >&2
    done
fi
it_summary
