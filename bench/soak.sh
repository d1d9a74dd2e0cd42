#!/usr/bin/env bash
# soak.sh - `make soak`: a steady rate through riskgate for a long time,
# RSS sampled every 10 s: does memory stay flat?
#
#   bench/soak.sh                              2000 events/s for 600 s
#   SOAK_SECONDS=120 bench/soak.sh             a short development run
#
# Environment (all optional):
#   SOAK_RATE       events/s (2000)
#   SOAK_SECONDS    duration of the paced input (600)
#   SOAK_USERS      user population (100000)
#   SOAK_WARMUP_S   samples before this are not judged (60)
#   SOAK_FEEDBACK   0: riskgate does not consume gen's feedback (default 1;
#                   see bench/run.sh "Feedback")
#   BENCH_CONFIG    riskgate config (riskgate.yaml: shipped model + rules)
#   BENCH_RESULTS_DIR  where soak-<date>.json and .png go (bench/results)
#   BENCH_KEEP=1    keep the scratch directory
#
# DESIGN
#   Own stack (fresh STACK_DIR), riskgate started once with the shipped
#   model and rules, `riskgate gen --rate` paces events in real time, and
#   this script samples riskgate's VmRSS/VmHWM (/proc/PID/status) and
#   riskgate_events_out_total every 10 s. Verdict: after the warm-up, the
#   average RSS of the last third of the samples must be within 5% of the
#   first third's ("flat"); the run also fails when riskgate does not
#   deliver one verdict per event. bench/report.py soak writes the JSON and
#   the PNG. Every command is printed and listed in the results.
set -euo pipefail
cd "$(dirname "$0")/.."

RATE=${SOAK_RATE:-2000}
DURATION=${SOAK_SECONDS:-600}
USERS=${SOAK_USERS:-100000}
WARMUP=${SOAK_WARMUP_S:-60}
FEEDBACK=${SOAK_FEEDBACK:-1}
export BENCH_CONFIG=${BENCH_CONFIG:-riskgate.yaml}
RESULTS=${BENCH_RESULTS_DIR:-bench/results}
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
BENCH_WORK=$(mktemp -d "${TMPDIR:-/tmp}/riskgate-soak.XXXXXX")
export BENCH_WORK

# shellcheck source=bench/lib.sh
. bench/lib.sh

GEN_PID=
bench_trap_exit "${BENCH_KEEP:-0}" GEN_PID

[ -x "$BENCH_BIN" ] || { bench_say "missing $BENCH_BIN (run make)"; exit 1; }
EVENTS=$((RATE * DURATION))
bench_say "soak: $RATE events/s for ${DURATION}s ($EVENTS events, $USERS users), config $BENCH_CONFIG"
bench_stack_up
bench_machine "$BENCH_WORK/machine.json"
cat > "$BENCH_WORK/params.json" <<EOF
{"rate": $RATE, "seconds": $DURATION, "users": $USERS, "events": $EVENTS, "warmup_s": $WARMUP,
 "feedback": $FEEDBACK, "config": "$BENCH_CONFIG", "stamp": "$STAMP"}
EOF
PARTS=${RISKGATE_TXN_PARTITIONS:-4}
bench_topics "soak.in:$PARTS" "soak.verdicts:$PARTS" "soak.fb:$PARTS"

fb=
[ "$FEEDBACK" = 1 ] && fb=soak.fb
bench_rg_start soak RISKGATE_KAFKA_GROUP_ID=bench-soak RISKGATE_KAFKA_TOPIC_IN=soak.in \
    RISKGATE_KAFKA_TOPIC_VERDICTS=soak.verdicts RISKGATE_KAFKA_TOPIC_FEEDBACK="$fb"
bench_run "$BENCH_BIN" gen --brokers "$BENCH_BROKERS" --topic soak.in --feedback-topic soak.fb \
    --rate "$RATE" --duration "$DURATION" --users "$USERS" --seed 7 \
    > "$BENCH_WORK/gen.out" 2> "$BENCH_WORK/gen.err" &
GEN_PID=$!

# Sample every 10 s while the input runs, then until every verdict is out.
: > "$BENCH_WORK/soak.samples"
t0=$SECONDS
c0=$(bench_cpu_ticks "$BENCH_RG_PID")
next=0
n=0
stall_n=-1
stall_t=$SECONDS
while :; do
    el=$((SECONDS - t0))
    if [ "$el" -ge "$next" ]; then
        kill -0 "$BENCH_RG_PID" 2>/dev/null || { bench_say "riskgate exited"; tail -n 5 "$BENCH_WORK/soak.log" >&2; exit 1; }
        n=$(bench_metric riskgate_events_out_total)
        n=${n:-0}
        rss=$(bench_vm "$BENCH_RG_PID" VmRSS)
        hwm=$(bench_vm "$BENCH_RG_PID" VmHWM)
        echo "$el $rss $hwm $n" >> "$BENCH_WORK/soak.samples"
        bench_say "  t=${el}s verdicts=$n/$EVENTS rss=$((rss / 1024)) MB peak=$((hwm / 1024)) MB"
        next=$((next + 10))
    fi
    if [ -n "$GEN_PID" ] && ! kill -0 "$GEN_PID" 2>/dev/null; then
        wait "$GEN_PID" || { bench_say "gen failed (see $BENCH_WORK/gen.err)"; GEN_PID=; exit 1; }
        GEN_PID=
    fi
    if [ -z "$GEN_PID" ]; then
        n=$(bench_metric riskgate_events_out_total)
        n=${n:-0}
        [ "$n" -ge "$EVENTS" ] && break
        if [ "$n" != "$stall_n" ]; then stall_n=$n; stall_t=$SECONDS; fi
        if ((SECONDS - stall_t > 60)); then
            bench_say "no progress for 60 s at $n of $EVENTS verdicts"
            break
        fi
    fi
    sleep 0.5
done
c1=$(bench_cpu_ticks "$BENCH_RG_PID")
echo "$((SECONDS - t0)) $(bench_vm "$BENCH_RG_PID" VmRSS) $(bench_vm "$BENCH_RG_PID" VmHWM) $n" \
    >> "$BENCH_WORK/soak.samples"
"$BENCH_PY" -c 'import json, sys
n, c0, c1, tck = (int(x) for x in sys.argv[1:5])
print(json.dumps({"verdicts": n, "cpu_us_per_event": round((c1 - c0) / tck * 1e6 / max(n, 1), 2)}))' \
    "$n" "$c0" "$c1" "$BENCH_CLK_TCK" > "$BENCH_WORK/soak.final.json"
bench_rg_stop
mkdir -p "$RESULTS"
bench_run "$BENCH_PY" bench/report.py soak "$BENCH_WORK" "$RESULTS/soak-$STAMP"
