#!/usr/bin/env bash
# test_stack.sh - self-test of the local stack (deploy/local/stack.sh) and of
# the integration helpers (tests/integration/lib.sh) against a real Kafka
# broker and redis-server: topics, keyed produce, consumer-group consume
# with commits, byte-exact odd messages up to 1 MiB, redis and Kafka
# restarts on the same port, and a clean `down`.
#
#   tests/integration/test_stack.sh      # prints "ok - ..." lines, then
#                                        # "N passed, N failed"

# KAFKA_PID, REDIS_PID, RISKGATE_*: exported by it_stack_up / it_stack_env.
# shellcheck disable=SC2153,SC2016
set -uo pipefail
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! it_stack_up; then
    it_fail "stack up" "deploy/local/stack.sh up failed"
    it_summary
    exit 1
fi
it_pass "stack up (kafka $RISKGATE_KAFKA_VERSION on $RISKGATE_KAFKA_BOOTSTRAP, redis on $RISKGATE_REDIS)"

# ---- env file: the two lines other scripts rely on
it_assert "env has RISKGATE_KAFKA_BOOTSTRAP" \
    grep -Eqx 'RISKGATE_KAFKA_BOOTSTRAP=127\.0\.0\.1:[0-9]+' "$STACK_DIR/env"
it_assert "env has RISKGATE_REDIS" \
    grep -Eqx 'RISKGATE_REDIS=127\.0\.0\.1:[0-9]+' "$STACK_DIR/env"

# ---- topics and partition counts
topics=$("$IT_STACK_SH" topics 2>&1)
for want in "$RISKGATE_TOPIC_IN ${RISKGATE_TXN_PARTITIONS:-4}" \
            "$RISKGATE_TOPIC_OUT ${RISKGATE_VERDICT_PARTITIONS:-4}" "$RISKGATE_TOPIC_DLQ 1" \
            "$RISKGATE_TOPIC_FEEDBACK ${RISKGATE_FEEDBACK_PARTITIONS:-4}"; do
    if grep -qx "$want ready" <<< "$topics"; then
        it_pass "topic ${want% *} has ${want#* } partitions"
    else
        it_fail "topic ${want% *} has ${want#* } partitions" "topics: $(tr '\n' ';' <<< "$topics")"
    fi
done
if status_out=$("$IT_STACK_SH" status 2>&1); then
    it_pass "status reports everything up"
else
    it_fail "status reports everything up" "$(tr '\n' ';' <<< "$status_out")"
fi

# ---- 1000 keyed messages through a consumer group
in=$IT_TMP/txn.jsonl
"$IT_PY" - "$in" <<'EOF'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(1000):
        u = "u%02d" % (i % 37)
        f.write(json.dumps({"event_id": "e%04d" % i, "user_id": u, "seq": i,
                            "amount": round(0.5 + i % 7, 2), "currency": "EUR",
                            "ts": 1764000000000 + i}) + "\n")
EOF
if it_produce_file "$RISKGATE_TOPIC_IN" "$in" 2> "$IT_TMP/produce.err"; then
    it_pass "produce 1000 keyed messages"
else
    it_fail "produce 1000 keyed messages" "$(head -c 300 "$IT_TMP/produce.err")"
fi

out=$IT_TMP/group.txt
IT_CONSUME_FORMAT='%p\t%k\t%s\n' it_consume_group it-stack "$RISKGATE_TOPIC_IN" 1000 60 "$out"
it_assert_eq "$(it_count_lines "$out")" 1000 "consumer group receives all 1000 messages"
# Byte-exact for every message (a superset of "a sample"), key == user_id,
# each user on exactly one partition, per-user order kept.
check=$("$IT_PY" - "$in" "$out" <<'EOF'
import json, sys
sent = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
got = open(sys.argv[2], "rb").read().split(b"\n")[:-1]
bad = []
vals = [g.split(b"\t", 2) for g in got]
if sorted(v[2] for v in vals if len(v) == 3) != sorted(sent):
    bad.append("values differ from what was sent")
part, last = {}, {}
for p, k, v in (x for x in vals if len(x) == 3):
    o = json.loads(v)
    if k.decode() != o["user_id"]:
        bad.append("key %r != user_id %r" % (k, o["user_id"])); break
    if part.setdefault(k, p) != p:
        bad.append("user %r on two partitions" % k); break
    if last.get(k, -1) > o["seq"]:
        bad.append("user %r out of order" % k); break
    last[k] = o["seq"]
if len(set(part.values())) < 2:
    bad.append("all keys on one partition")
print("; ".join(bad) if bad else "ok")
EOF
)
it_assert_eq "$check" ok "byte-exact values, key = user_id, per-user partition and order"

# Offsets were committed: the group's committed offsets add up to 1000.
committed=$(it_kafka_tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
    --bootstrap-server "$RISKGATE_KAFKA_BOOTSTRAP" --describe --group it-stack 2>/dev/null \
    | awk -v t="$RISKGATE_TOPIC_IN" '$1 == "it-stack" && $2 == t { s += $4 } END { print s + 0 }')
it_assert_eq "$committed" 1000 "consumer group committed offsets for all 1000"

# ---- odd messages keep their bytes: invalid UTF-8, tab, CR, empty line,
#      no user_id, a 1 MiB line (1-partition topic, so order is kept)
odd=$IT_TMP/odd.bin
"$IT_PY" - "$odd" <<'EOF'
import sys
big = b'{"user_id":"big","pad":"' + b"x" * (1024 * 1024 - 26) + b'"}'
assert len(big) == 1024 * 1024
lines = [
    b'{"user_id":"\xc3\xa9l\xc3\xa8ve","note":"utf-8"}',
    b'{"user_id":"bad\xff\xfe","note":"invalid utf-8"}',
    b'{"user_id":"tab","note":"a\tb"}\r',
    b'',
    b'not json at all \x00\x01\x1f',
    big,
]
open(sys.argv[1], "wb").write(b"\n".join(lines) + b"\n")
EOF
if it_produce_file "$RISKGATE_TOPIC_DLQ" "$odd" 2> "$IT_TMP/odd.err"; then
    it_pass "produce odd messages (invalid UTF-8, NUL, 1 MiB)"
else
    it_fail "produce odd messages (invalid UTF-8, NUL, 1 MiB)" "$(head -c 300 "$IT_TMP/odd.err")"
fi
it_consume "$RISKGATE_TOPIC_DLQ" 6 30 "$IT_TMP/odd.out"
if cmp -s "$odd" "$IT_TMP/odd.out"; then
    it_pass "odd messages come back byte-exact"
else
    it_fail "odd messages come back byte-exact" "$(cmp "$odd" "$IT_TMP/odd.out" 2>&1 | head -1)"
fi
IT_CONSUME_FORMAT='%k\n' it_consume "$RISKGATE_TOPIC_DLQ" 6 30 "$IT_TMP/odd.keys"
printf '\xc3\xa9l\xc3\xa8ve\nbad\xff\xfe\ntab\n\n\nbig\n' > "$IT_TMP/odd.keys.want"
it_assert "odd messages keyed by user_id (empty key when none)" \
    cmp -s "$IT_TMP/odd.keys.want" "$IT_TMP/odd.keys"

# ---- redis: answers, restarts on the same port, comes back empty
it_assert_eq "$(it_redis_cli ping 2>&1)" PONG "redis answers PING"
it_redis_cli set it:probe 1 > /dev/null
old_redis_pid=$REDIS_PID
it_stack redis-stop
if it_pid_alive "$old_redis_pid"; then
    it_fail "redis-stop stops redis" "pid $old_redis_pid still alive"
else
    it_pass "redis-stop stops redis"
fi
it_assert "redis refuses connections while stopped" \
    bash -c '! redis-cli -h "${1%:*}" -p "${1##*:}" ping > /dev/null 2>&1' _ "$RISKGATE_REDIS"
redis_addr=$RISKGATE_REDIS
it_stack redis-start
it_stack_env
it_assert_eq "$RISKGATE_REDIS" "$redis_addr" "redis-start keeps the port"
it_assert_eq "$(it_redis_cli ping 2>&1)" PONG "redis answers PING after restart"
it_assert_eq "$(it_redis_cli exists it:probe 2>&1)" 0 "restarted redis is empty (no persistence)"

# ---- kafka: stop and start on the same port, data kept
old_kafka_pid=$KAFKA_PID
it_stack kafka-stop
if it_pid_alive "$old_kafka_pid"; then
    it_fail "kafka-stop stops the broker" "pid $old_kafka_pid still alive"
else
    it_pass "kafka-stop stops the broker"
fi
it_stack kafka-start
it_stack_env
it_consume "$RISKGATE_TOPIC_IN" 1000 60 "$IT_TMP/again.txt"
it_assert_eq "$(it_count_lines "$IT_TMP/again.txt")" 1000 "after kafka restart all 1000 messages are still there"

# ---- gen in Kafka mode: --sim-time with --start puts the event-time
# timeline at --start (the benchmark preloads history a day back this way)
BIN=${RISKGATE_BIN:-$IT_REPO/build/riskgate}
start_ms=$((($(date +%s) - 2 * 86400) * 1000))
gen_t0=$(date +%s%3N)
"$BIN" gen --brokers "$RISKGATE_KAFKA_BOOTSTRAP" --topic "$RISKGATE_TOPIC_OUT" \
    --feedback-topic "$RISKGATE_TOPIC_FEEDBACK" --count 200 --users 50 --seed 4 --fraud-share 0 --malformed 0 \
    --sim-time --start "$start_ms" --linger-ms 0 > "$IT_TMP/gen-sim.out" 2>&1 || it_fail "gen --sim-time" "gen failed"
it_consume "$RISKGATE_TOPIC_OUT" 200 30 "$IT_TMP/gen-sim.jsonl"
span=$(/usr/bin/python3 - "$IT_TMP/gen-sim.jsonl" "$start_ms" <<'PY'
import json, sys
from datetime import datetime
start = int(sys.argv[2])
def ms(v):  # the contract allows RFC 3339 or epoch milliseconds
    return v if isinstance(v, int) else int(datetime.fromisoformat(v).timestamp() * 1000)
ts = [ms(json.loads(l)["ts"]) for l in open(sys.argv[1]) if l.strip()]
# 200 events at 20/s of event time: about 10 s from --start
print("ok" if len(ts) == 200 and min(ts) >= start and max(ts) <= start + 120000
      else "%d events, %d..%d ms after --start" % (len(ts), min(ts) - start, max(ts) - start))
PY
)
it_assert_eq "$span" ok "gen --sim-time --start: event time starts at --start, not now"
# (that run also set --linger-ms 0, the benchmark's BENCH_GEN_LINGER_MS; a
# value out of range is refused before anything is produced)
if "$BIN" gen --brokers "$RISKGATE_KAFKA_BOOTSTRAP" --count 1 --linger-ms -1 > "$IT_TMP/gen-bad.out" 2>&1; then
    it_assert_eq "accepted" "refused" "gen --linger-ms -1 is refused"
else
    it_assert_eq "$(grep -c 'linger-ms must be' "$IT_TMP/gen-bad.out")" 1 "gen --linger-ms -1 is refused with a message"
fi

# ---- the benchmark's helpers on this broker: tsread from a time on (the
# 200 gen messages above were produced after gen_t0), and the broker's GC
# log with wall-clock stamps that bench/report.py reads
TSREAD=$IT_REPO/build/bench/tsread
"$TSREAD" "$RISKGATE_KAFKA_BOOTSTRAP" "$RISKGATE_TOPIC_OUT" "$gen_t0" > "$IT_TMP/ts-since.tsv" 2> /dev/null
it_assert_eq "$(wc -l < "$IT_TMP/ts-since.tsv")" 200 "tsread SINCE_MS reads the messages produced after it"
"$TSREAD" "$RISKGATE_KAFKA_BOOTSTRAP" "$RISKGATE_TOPIC_OUT" $(($(date +%s%3N) + 60000)) > "$IT_TMP/ts-future.tsv" 2> /dev/null
it_assert_eq "$(wc -l < "$IT_TMP/ts-future.tsv")" 0 "tsread SINCE_MS in the future reads nothing"
gc_check=$(/usr/bin/python3 - "$IT_REPO/bench" "$STACK_DIR/kafka-gc.log" <<'PY'
import sys, time
sys.path.insert(0, sys.argv[1])
import report
p = report.gc_pauses(sys.argv[2])
now = time.time() * 1000
print("ok" if p and all(0 <= e - s < 5000 and now - 3600e3 < e <= now + 1000 for s, e in p)
      else "%d pauses: %s" % (len(p), p[:3]))
PY
)
it_assert_eq "$gc_check" ok "the broker's GC log has wall-clock pauses bench/report.py can read"

# ---- down leaves nothing running
kafka_pid=$KAFKA_PID redis_pid=$REDIS_PID
kafka_addr=$RISKGATE_KAFKA_BOOTSTRAP
it_stack_down
left=
it_pid_alive "$kafka_pid" && left+=" kafka:$kafka_pid"
it_pid_alive "$redis_pid" && left+=" redis:$redis_pid"
it_assert_eq "${left:-none}" none "down leaves no stack process alive"
if (exec 3<>"/dev/tcp/${kafka_addr%:*}/${kafka_addr##*:}") 2>/dev/null; then
    it_fail "down frees the kafka port" "$kafka_addr still accepts connections"
else
    it_pass "down frees the kafka port"
fi

it_summary
