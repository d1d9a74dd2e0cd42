#!/usr/bin/env bash
# test_scaleout.sh - scale-out by consumer group against a real broker: the
# partitions of `transactions` move between riskgate instances and back.
#   0. A feedback topic with another partition count than the events':
#      the instance says that feedback may miss the profile's owner.
#   1. A alone; B joins (eager rebalance: A gives up half); B leaves on
#      SIGTERM (A takes them back).
#   2. C and D, the same (D joins, D leaves) with partition.assignment.strategy
#      cooperative-sticky (incremental: only the partitions that move are
#      revoked), in the same group, going on from A's offsets.
#   Across 1 and 2: every event exactly one verdict (graceful hand-offs
#   commit what was delivered, so no event twice), each user's verdicts in
#   the order of the user's events, both instances did work, and every
#   verdict's user.txn_count_1h equals the user's earlier events: no profile
#   update lost or hidden when a partition went to B and came back (the
#   profile A had cached from before would hide B's updates; workers forget
#   their cached users at every revoke).
#   3. E and F; F is killed (-9) mid-stream and E takes over after F's
#      session times out: every event has a verdict (some may have two), the
#      order per user holds, and the events after it count every earlier
#      event exactly once (the replay marks skip what F had applied).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
BIN=${RISKGATE_BIN:-$IT_REPO/build/riskgate}
VERIFY=$IT_REPO/tests/integration/verify.py

it_stack_up || { it_fail stack "the local stack did not come up"; it_summary; exit 1; }

# config NAME [CONSUMER_PROPERTIES [FEEDBACK [GROUP]]]: one consumer group
# for all instances; no feedback topic (only the 4 partitions of
# transactions: every move is one of them). CONSUMER_PROPERTIES: lines
# "name: value" for kafka.consumer_properties.
config() {
    local props=
    [ -n "${2:-}" ] && props="  consumer_properties:
$(sed 's/^/    /' <<< "$2")"
    cat > "$IT_TMP/$1.yaml" <<YAML
kafka:
  group_id: ${4:-it-scale}
  commit_interval_ms: 200
  topic_feedback: "${3:-}"
$props
engine:
  workers: 2
  batch_size: 32
  explain: features
  shutdown_timeout_ms: 15000
http:
  listen: 127.0.0.1:0
YAML
}

declare -A PID URLS
# start NAME: riskgate NAME in the background; its URL once serving.
start() {
    it_rg_start "$IT_TMP/$1.yaml" "$IT_TMP/$1.log"
    PID[$1]=$RG_PID
    RG_PID=
    it_on_exit "kill -9 ${PID[$1]} 2>/dev/null"
    it_wait_until 30 grep -q 'metrics and health on' "$IT_TMP/$1.log"
    URLS[$1]=$(sed -n 's/.*metrics and health on \(http:[^ "]*\).*/\1/p' "$IT_TMP/$1.log" | head -1)
}

# stop NAME: SIGTERM; 0 when it exited 0.
stop() {
    kill -TERM "${PID[$1]}"
    wait "${PID[$1]}"
}

assigned() { grep -c '"assigned [1-9][0-9]* partition' "$IT_TMP/$1.log"; }
# assigned_more NAME N: NAME has been assigned partitions more than N times.
assigned_more() { [ "$(assigned "$1")" -gt "$2" ]; }
metric() { curl -s "${URLS[$1]}metrics" | awk -v m="$2" '$1 == m { print $2 + 0 }'; }
events_in() { metric "$1" riskgate_events_in_total; }

# produce_part K: lines of part K of the event file.
produce_part() {
    it_produce_file transactions "$IT_TMP/part$1.jsonl" || it_fail "produce part $1" "kcat failed"
}

# wait_verdicts N: until N distinct events have verdicts (90 s).
wait_verdicts() { it_wait_verdicts "$IT_TMP/truth.jsonl" "$1" 90; }

# 40 users over 10 parts of 700: every user has events in every phase.
"$BIN" gen --out "$IT_TMP/events.jsonl" --feedback-out /dev/null --truth-out "$IT_TMP/truth.jsonl" \
    --count 7000 --users 40 --malformed 0 --seed 41 > /dev/null 2>&1 || it_fail gen "gen failed"
for k in 1 2 3 4 5 6 7 8 9 10; do
    sed -n "$(((k - 1) * 700 + 1)),$((k * 700))p" "$IT_TMP/events.jsonl" > "$IT_TMP/part$k.jsonl"
done
head -n 4200 "$IT_TMP/events.jsonl" > "$IT_TMP/events1-6.jsonl"
head -n 4200 "$IT_TMP/truth.jsonl" > "$IT_TMP/truth1-6.jsonl"

# ---- 0. feedback whose partitions do not match the events': said at once
it_kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$RISKGATE_KAFKA_BOOTSTRAP" \
    --create --topic feedback8 --partitions 8 --replication-factor 1 > /dev/null 2>&1
config e "" feedback8 it-scale-e
start e
it_assert "feedback topic with another partition count: the log says so" \
    it_wait_until 30 grep -q 'not the same numbers' "$IT_TMP/e.log"
stop e
it_assert_eq "$?" 0 "E: SIGTERM, exit 0"

# ---- 1. eager (librdkafka's default range,roundrobin)
config a
config b
start a
it_assert "A: assigned" it_wait_until 30 assigned_more a 0
produce_part 1
it_assert "phase 1 (A alone): verdicts" wait_verdicts 700
a_before=$(assigned a)
start b
it_assert "B joins: B is assigned partitions" it_wait_until 60 assigned_more b 0
it_assert "B joins: A is assigned again (a share)" it_wait_until 60 assigned_more a "$a_before"
it_assert_eq "$(metric a riskgate_partitions_assigned)/$(metric b riskgate_partitions_assigned)" \
    2/2 "B joins: 2 partitions each (riskgate_partitions_assigned)"
it_assert "B joins (eager): A gave up all 4 first (riskgate_partitions_revoked_total)" \
    test "$(metric a riskgate_partitions_revoked_total)" -ge 4
produce_part 2
it_assert "phase 2 (A and B): verdicts" wait_verdicts 1400
it_assert "phase 2: B consumed events" test "$(events_in b)" -gt 0
b_in=$(events_in b)
a_before=$(assigned a)
stop b
it_assert_eq "$?" 0 "B leaves: SIGTERM, exit 0"
it_assert "B leaves: A is assigned again (everything)" \
    it_wait_until 60 assigned_more a "$a_before"
produce_part 3
it_assert "phase 3 (A alone again): verdicts" wait_verdicts 2100
a_in=$(events_in a)
it_assert "phase 1-3: A consumed the rest ($a_in + B's $b_in = 2100)" test $((a_in + b_in)) -eq 2100
stop a
it_assert_eq "$?" 0 "A: SIGTERM, exit 0"

# ---- 2. cooperative-sticky, the same group: it is empty now, so it may
# change protocol, and goes on from the offsets A committed.
config c "partition.assignment.strategy: cooperative-sticky"
config d "partition.assignment.strategy: cooperative-sticky"
start c
it_assert "C (cooperative): assigned" it_wait_until 30 assigned_more c 0
produce_part 4
it_assert "phase 4 (C alone): verdicts" wait_verdicts 2800
start d
it_assert "D joins (cooperative): D is assigned partitions" it_wait_until 60 assigned_more d 0
grep -q 'revoked 4 partition' "$IT_TMP/c.log"
it_assert "D joins (cooperative): C gives up only some partitions" test $? -ne 0
it_assert_eq "$(metric c riskgate_partitions_revoked_total)" 2 \
    "D joins (cooperative): C gave up 2 (riskgate_partitions_revoked_total)"
it_assert_eq "$(metric c riskgate_partitions_assigned)/$(metric d riskgate_partitions_assigned)" \
    2/2 "D joins (cooperative): 2 partitions each"
produce_part 5
it_assert "phase 5 (C and D): verdicts" wait_verdicts 3500
it_assert "phase 5: D consumed events" test "$(events_in d)" -gt 0
c_before=$(assigned c)
stop d
it_assert_eq "$?" 0 "D leaves: SIGTERM, exit 0"
it_assert "D leaves: C is assigned D's partitions" it_wait_until 60 assigned_more c "$c_before"
produce_part 6
it_assert "phase 6 (C alone again): verdicts" wait_verdicts 4200
stop c
it_assert_eq "$?" 0 "C: SIGTERM, exit 0"

# ---- the history of parts 1-6: graceful hand-offs only
it_read_verdicts
it_assert "every event has exactly one verdict across four instances and four rebalances" \
    "$VERIFY" verdicts --truth "$IT_TMP/truth1-6.jsonl" --verdicts "$IT_TMP/verdicts.txt"
it_assert "each user's verdicts in event order; user.txn_count_1h counts every earlier event" \
    "$VERIFY" history --events "$IT_TMP/events1-6.jsonl" --verdicts "$IT_TMP/verdicts.txt"

# ---- 3. kill -9 of one of two instances (eager again: the group is empty)
# F dies without leaving the group; after its session times out (6 s here)
# E takes its partitions and consumes again from F's last commit. Events F
# had applied but not committed are skipped by the profiles' replay marks;
# their verdicts may come twice. Part 10, decided by E alone afterwards,
# must count every earlier event exactly once.
for n in e2 f2; do
    config "$n" "session.timeout.ms: 6000
heartbeat.interval.ms: 1000"
done
start e2
it_assert "E: assigned" it_wait_until 30 assigned_more e2 0
e_before=$(assigned e2)
start f2
it_assert "F joins: assigned" it_wait_until 60 assigned_more f2 0
it_assert "F joins: E is assigned its share" it_wait_until 60 assigned_more e2 "$e_before"
produce_part 7
produce_part 8
it_assert "phase 7-8 (E and F): verdicts" wait_verdicts 5600
e_before=$(assigned e2)
produce_part 9
kill -9 "${PID[f2]}"
wait "${PID[f2]}" 2>/dev/null
it_assert "F killed: E takes over F's partitions (after its session timeout)" \
    it_wait_until 60 assigned_more e2 "$e_before"
it_assert "phase 9 (F killed mid-stream): every event has a verdict" wait_verdicts 6300
produce_part 10
it_assert "phase 10 (E alone): verdicts" wait_verdicts 7000
stop e2
it_assert_eq "$?" 0 "E: SIGTERM, exit 0"
it_read_verdicts
it_assert "after kill -9: every event has a verdict (duplicates allowed)" \
    "$VERIFY" verdicts --truth "$IT_TMP/truth.jsonl" --verdicts "$IT_TMP/verdicts.txt" \
    --allow-duplicates
it_assert "after kill -9: verdicts in event order per user; part 10 counts every earlier event exactly once" \
    "$VERIFY" history --events "$IT_TMP/events.jsonl" --verdicts "$IT_TMP/verdicts.txt" \
    --replayed 5600:6300

if [ "$IT_FAILED" -gt 0 ]; then
    for n in a b c d e2 f2; do
        [ -f "$IT_TMP/$n.log" ] || continue
        echo "# $n.log (engine lines):" >&2
        grep '"mod":"engine"' "$IT_TMP/$n.log" | tail -12 | sed 's/^/#   /' >&2
    done
fi
it_summary
