#!/usr/bin/env bash
# run.sh - `make bench`: riskgate's throughput and latency against a real
# local stack (one Kafka broker, one redis-server, riskgate, all on this
# machine), next to the I/O limit of a do-nothing consumer -> producer.
#
#   bench/run.sh                       defaults: 1M events, 100k users
#   BENCH_EVENTS=200000 BENCH_USERS=20000 bench/run.sh     a quick run
#
# Environment (all optional):
#   BENCH_EVENTS         events preloaded for pass-through and the max run (1000000)
#   BENCH_USERS          user population of those events (100000)
#   BENCH_RATE_SECONDS   length of the half-rate latency run (30)
#   BENCH_WARMUP_S       seconds at the start of the latency run reported apart (5)
#   BENCH_GEN_LINGER_MS  linger.ms of gen's producer in the latency run, for the
#                        pass-through floor and riskgate alike (5: librdkafka's
#                        default; the event's CreateTime is taken before it)
#   BENCH_SCALE_EVENTS   events per scaling point (200000)
#   BENCH_SCALE_USERS    user counts of the scaling table ("10000 100000 1000000")
#   BENCH_SCALE_WORKERS  worker counts of the scaling table ("1 2")
#   BENCH_FEEDBACK       0: riskgate does not consume gen's feedback topics
#                        (default 1; see "Feedback" below)
#   BENCH_CONFIG         riskgate config (riskgate.yaml: shipped model + rules)
#   BENCH_RESULTS_DIR    where <date>.json and <date>.png go (bench/results)
#   BENCH_KEEP=1         keep the scratch directory (logs, raw timestamps)
#
# DESIGN
#   One stack, one run, in this order:
#   1. preload BENCH_EVENTS events with `riskgate gen` (Kafka mode, as fast
#      as possible, Zipf-skewed users) into `transactions`. Events carry
#      simulated event time (--sim-time, 20 events/s of event time, as in
#      the demo and in training), on a timeline that ends a day ago: with
#      wall-clock stamps 100k users would each pay several times a second
#      and most events would be decided by velocity rules (measured: 16 %
#      denied), not a decision mix any deployment sees;
#   2. pass-through: bench/passthrough.c copies them to bench.passthrough
#      with riskgate's client settings; events/s from its delivery reports;
#   3. riskgate at the maximum rate over the same preloaded topic (fresh
#      consumer group, empty Redis); events/s from the first verdict's
#      CreateTime to the last; every event must have exactly one verdict
#      (distinct event_ids == events), else FAILED and exit 1;
#   4. latency at half that rate: gen --rate paces events (same seed, same
#      events) first through the pass-through (the floor: Kafka alone), then
#      appended to `transactions`, with its feedback, while the max run's
#      riskgate process, still running, consumes them (as a deployment does:
#      warm cache, warm connections): the users' histories continue (the
#      preload's world, --world-seed 1, with their devices, IPs and homes;
#      their event time runs from after the preload's up to now), the per-partition
#      replay marks see new offsets, and every event updates its profiles as
#      in production. (Until 2026-11-28 this run used its own topic and a
#      fresh process: offsets below the marks the max run left made profile
#      updates look like replays, so the run was cheaper than real, and a cold
#      start put a 1-2 s backlog into its first seconds.) Latency = output
#      CreateTime - event CreateTime, joined by event_id (bench/tsread.c; the
#      rate run's ids are e-2_*). The first seconds after the rate change are
#      reported apart (BENCH_WARMUP_S, default 5);
#   5. scaling: for each user count, preload BENCH_SCALE_EVENTS events into
#      their own topic; for each worker count, a max-rate run over it with
#      an empty Redis and its own verdict topic.
#   Redis commands per event come from redis-server's INFO counters (before
#   and after each run), CPU per event from /proc/PID/stat of riskgate, RSS
#   from /proc/PID/status. bench/report.py turns the raw files into
#   bench/results/<date>.json and .png and checks the results.
#   Every command is printed as it runs and listed in the results.
#
#   Feedback: gen writes labels/settings to a feedback topic of each run
#   (~8% of the messages) and riskgate consumes it, as the shipped config
#   does. Before commit 61256dc a worker whose first message was feedback
#   crashed riskgate (NULL Redis connection in feedback_user); with an older
#   build, BENCH_FEEDBACK=0 leaves the feedback topics unread.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=${BENCH_EVENTS:-1000000}
USERS=${BENCH_USERS:-100000}
RATE_SECONDS=${BENCH_RATE_SECONDS:-30}
WARMUP_S=${BENCH_WARMUP_S:-5}
GEN_LINGER_MS=${BENCH_GEN_LINGER_MS:-5}
SCALE_EVENTS=${BENCH_SCALE_EVENTS:-200000}
SCALE_USERS=${BENCH_SCALE_USERS:-10000 100000 1000000}
SCALE_WORKERS=${BENCH_SCALE_WORKERS:-1 2}
FEEDBACK=${BENCH_FEEDBACK:-1}
export BENCH_CONFIG=${BENCH_CONFIG:-riskgate.yaml}
RESULTS=${BENCH_RESULTS_DIR:-bench/results}
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
BENCH_WORK=$(mktemp -d "${TMPDIR:-/tmp}/riskgate-bench.XXXXXX")
export BENCH_WORK

# shellcheck source=bench/lib.sh
. bench/lib.sh

PT_PID=
GEN_PID=
bench_trap_exit "${BENCH_KEEP:-0}" PT_PID GEN_PID

for b in "$BENCH_BIN" "$BENCH_PT" "$BENCH_TSREAD"; do
    [ -x "$b" ] || { bench_say "missing $b (run make)"; exit 1; }
done
for f in models/default.json models/default-anomaly.json; do
    [ -f "$f" ] || bench_say "WARNING: $f missing; riskgate runs without it"
done
ls rules/*.yaml > /dev/null 2>&1 || bench_say "WARNING: no rules/*.yaml; riskgate runs without rules"

T_START=$SECONDS
bench_say "events=$EVENTS users=$USERS rate_seconds=$RATE_SECONDS scale_events=$SCALE_EVENTS" \
    "scale_users='$SCALE_USERS' scale_workers='$SCALE_WORKERS' config=$BENCH_CONFIG work=$BENCH_WORK"
bench_stack_up
bench_machine "$BENCH_WORK/machine.json"
cat > "$BENCH_WORK/params.json" <<EOF
{"events": $EVENTS, "users": $USERS, "rate_seconds": $RATE_SECONDS, "scale_events": $SCALE_EVENTS,
 "warmup_s": $WARMUP_S, "gen_linger_ms": $GEN_LINGER_MS, "feedback": $FEEDBACK, "config": "$BENCH_CONFIG", "stamp": "$STAMP"}
EOF

# Topics: the same partition count as transactions/verdicts (stack.sh).
PARTS=${RISKGATE_TXN_PARTITIONS:-4}
specs=("bench.passthrough:$PARTS" "bench.rate.fb:$PARTS"
       "bench.rate.pt.in:$PARTS" "bench.rate.pt.out:$PARTS" "bench.rate.pt.fb:$PARTS")
for u in $SCALE_USERS; do
    specs+=("bench.scale.$u:$PARTS" "bench.scale.$u.fb:$PARTS")
    for w in $SCALE_WORKERS; do
        specs+=("bench.scale.$u.w$w:$PARTS")
    done
done
bench_topics "${specs[@]}"

# ---- 1. preload
bench_say "[1/5] preloading $EVENTS events ($USERS users) into transactions"
t0=$(date +%s%N)
# the preload's event time: EVENTS at 20/s, ending a day ago (see DESIGN)
PRELOAD_START=$(( $(date +%s%3N) - 86400000 - EVENTS * 50 ))
bench_run "$BENCH_BIN" gen --brokers "$BENCH_BROKERS" --count "$EVENTS" --users "$USERS" --seed 1 \
    --sim-time --start "$PRELOAD_START" \
    > "$BENCH_WORK/gen-main.out" 2> "$BENCH_WORK/gen-main.err"
bench_say "  preloaded in $(( ($(date +%s%N) - t0) / 1000000 )) ms"

# ---- 2. pass-through
bench_say "[2/5] pass-through (consumer -> producer, no work)"
bench_cpu_ticks "$KAFKA_PID" > "$BENCH_WORK/passthrough.broker0"
bench_run "$BENCH_PT" "$BENCH_BROKERS" transactions bench.passthrough bench-passthrough "$EVENTS" 900 \
    > "$BENCH_WORK/passthrough.json"
bench_cpu_ticks "$KAFKA_PID" > "$BENCH_WORK/passthrough.broker1"
bench_run "$BENCH_TSREAD" "$BENCH_BROKERS" bench.passthrough > "$BENCH_WORK/passthrough.tsv"
bench_say "  $(cat "$BENCH_WORK/passthrough.json")"

# ---- 3. riskgate at the maximum rate
bench_say "[3/5] riskgate at the maximum rate over the preloaded $EVENTS events"
bench_run redis-cli -p "$REDIS_PORT" FLUSHALL > /dev/null
bench_redis_snapshot "$BENCH_WORK/max.redis0"
# gen --count preloads feedback into risk-feedback (the config's topic).
MAX_FB=
[ "$FEEDBACK" = 1 ] && MAX_FB=risk-feedback
bench_rg_start max RISKGATE_KAFKA_GROUP_ID=bench-max RISKGATE_KAFKA_TOPIC_FEEDBACK="$MAX_FB"
bench_rg_wait max "$EVENTS"
bench_redis_snapshot "$BENCH_WORK/max.redis1"
# riskgate keeps running into the half-rate run (step 4), as a deployment
# does; its last verdicts may still be in flight for a moment.
for ((i = 0; i < 40; i++)); do
    bench_run "$BENCH_TSREAD" "$BENCH_BROKERS" verdicts > "$BENCH_WORK/max.verdicts.tsv"
    [ "$(wc -l < "$BENCH_WORK/max.verdicts.tsv")" -ge "$EVENTS" ] && break
    sleep 0.5
done
MAX_EPS=$("$BENCH_PY" bench/report.py eps "$BENCH_WORK/max.verdicts.tsv")
bench_say "  riskgate max: $MAX_EPS events/s (first to last verdict)"

# ---- 4. half rate, latency
HALF=$(( ${MAX_EPS%.*} / 2 ))
[ "$HALF" -ge 1 ] || HALF=1
RATE_EVENTS=$((HALF * RATE_SECONDS))
bench_say "[4/5] latency at half riskgate's maximum: $HALF events/s for ${RATE_SECONDS}s"
# 4a. the same paced input through the pass-through: the latency of the
# Kafka round trip alone on this machine, the floor for riskgate's.
bench_say "  pass-through at $HALF events/s"
bench_run "$BENCH_PT" "$BENCH_BROKERS" bench.rate.pt.in bench.rate.pt.out bench-rate-pt "$RATE_EVENTS" 900 \
    > "$BENCH_WORK/rate-pt.json" 2> "$BENCH_WORK/rate-pt.err" &
PT_PID=$!
for ((i = 0; i < 600; i++)); do
    grep -qs 'assigned' "$BENCH_WORK/rate-pt.err" && break
    sleep 0.1
done
bench_cpu_ticks "$KAFKA_PID" > "$BENCH_WORK/rate-pt.broker0"
bench_run "$BENCH_BIN" gen --brokers "$BENCH_BROKERS" --topic bench.rate.pt.in --feedback-topic bench.rate.pt.fb \
    --rate "$HALF" --count "$RATE_EVENTS" --sim-time --users "$USERS" --seed 2 --world-seed 1 \
    --linger-ms "$GEN_LINGER_MS" \
    > "$BENCH_WORK/gen-rate-pt.out" 2> "$BENCH_WORK/gen-rate-pt.err"
wait "$PT_PID"
PT_PID=
bench_cpu_ticks "$KAFKA_PID" > "$BENCH_WORK/rate-pt.broker1"
bench_run "$BENCH_TSREAD" "$BENCH_BROKERS" bench.rate.pt.in > "$BENCH_WORK/rate-pt.events.tsv"
bench_run "$BENCH_TSREAD" "$BENCH_BROKERS" bench.rate.pt.out > "$BENCH_WORK/rate-pt.out.tsv"
# 4b. riskgate
bench_say "  riskgate at $HALF events/s"
echo "{\"rate\": $HALF, \"events\": $RATE_EVENTS, \"feedback\": $FEEDBACK}" > "$BENCH_WORK/rate.json"
bench_redis_snapshot "$BENCH_WORK/rate.redis0"
# the same riskgate process, warm from the max run; its feedback topic
RATE_FB=bench.rate.fb
[ "$FEEDBACK" = 1 ] && RATE_FB=risk-feedback
bench_run "$BENCH_BIN" gen --brokers "$BENCH_BROKERS" --topic transactions --feedback-topic "$RATE_FB" \
    --rate "$HALF" --count "$RATE_EVENTS" --sim-time --users "$USERS" --seed 2 --world-seed 1 \
    --linger-ms "$GEN_LINGER_MS" \
    > "$BENCH_WORK/gen-rate.out" 2> "$BENCH_WORK/gen-rate.err" &
GEN_PID=$!
bench_rg_wait rate $((EVENTS + RATE_EVENTS))
wait "$GEN_PID"
GEN_PID=
bench_redis_snapshot "$BENCH_WORK/rate.redis1"
bench_rg_stop
bench_run "$BENCH_TSREAD" "$BENCH_BROKERS" transactions > "$BENCH_WORK/transactions.tsv"
awk -F'\t' '$3 ~ /^e-2_/' "$BENCH_WORK/transactions.tsv" > "$BENCH_WORK/rate.events.tsv"
bench_run "$BENCH_TSREAD" "$BENCH_BROKERS" verdicts > "$BENCH_WORK/verdicts.tsv"
awk -F'\t' '$3 ~ /^e-2_/' "$BENCH_WORK/verdicts.tsv" > "$BENCH_WORK/rate.verdicts.tsv"
# the broker's GC pauses (wall clock), to attribute the latency tail
bench_gc_log

# ---- 5. scaling
bench_say "[5/5] scaling: users {$SCALE_USERS} x workers {$SCALE_WORKERS}, $SCALE_EVENTS events each"
for u in $SCALE_USERS; do
    bench_run "$BENCH_BIN" gen --brokers "$BENCH_BROKERS" --topic "bench.scale.$u" \
        --feedback-topic "bench.scale.$u.fb" --count "$SCALE_EVENTS" --users "$u" --seed 3 --sim-time \
        > "$BENCH_WORK/gen-scale-$u.out" 2> "$BENCH_WORK/gen-scale-$u.err"
    for w in $SCALE_WORKERS; do
        name=scale-$u-w$w
        fb=
        [ "$FEEDBACK" = 1 ] && fb=bench.scale.$u.fb
        bench_say "  $name"
        bench_run redis-cli -p "$REDIS_PORT" FLUSHALL > /dev/null
        bench_redis_snapshot "$BENCH_WORK/$name.redis0"
        bench_rg_start "$name" RISKGATE_KAFKA_GROUP_ID="bench-$name" RISKGATE_ENGINE_WORKERS="$w" \
            RISKGATE_KAFKA_TOPIC_IN="bench.scale.$u" RISKGATE_KAFKA_TOPIC_VERDICTS="bench.scale.$u.w$w" \
            RISKGATE_KAFKA_TOPIC_FEEDBACK="$fb"
        bench_rg_wait "$name" "$SCALE_EVENTS"
        bench_redis_snapshot "$BENCH_WORK/$name.redis1"
        bench_rg_stop
        bench_run "$BENCH_TSREAD" "$BENCH_BROKERS" "bench.scale.$u.w$w" > "$BENCH_WORK/$name.verdicts.tsv"
        echo "{\"users\": $u, \"workers\": $w, \"events\": $SCALE_EVENTS}" > "$BENCH_WORK/$name.json"
    done
done

echo "$(( SECONDS - T_START ))" > "$BENCH_WORK/elapsed_s"
mkdir -p "$RESULTS"
bench_run "$BENCH_PY" bench/report.py bench "$BENCH_WORK" "$RESULTS/$STAMP"
