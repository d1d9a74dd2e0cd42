#!/usr/bin/env bash
# probe.sh - fixed-rate latency probes on one warm stack, to compare
# riskgate configurations (A/B) on a noisy machine.
#
#   bench/probe.sh RATE SECONDS NAME=CONFIG[,K=V...] [NAME=CONFIG[,K=V...] ...]
#   bench/probe.sh 12000 20 base=riskgate.yaml one-worker=riskgate.yaml,RISKGATE_ENGINE_WORKERS=1
#
# Environment: PROBE_ROUNDS (2), PROBE_WARM_S (10), PROBE_USERS (100000),
# PROBE_PRELOAD (300000), PROBE_KEEP (0: 1 keeps the scratch dir).
#
# DESIGN
#   Differences between configurations are smaller than the drift of a
#   shared machine over minutes, so the variants take turns: each round runs
#   every variant once, on the same stack, in order. Each probe is a fresh
#   `riskgate run` in the consumer group "probe" (it resumes where the last
#   one committed) with the variant's config and RISKGATE_* overrides; gen
#   appends RATE events/s for PROBE_WARM_S + SECONDS (simulated event time,
#   each probe on its own stretch of the timeline after the preload, so user
#   histories move forward). Only events produced after the warm-up count:
#   Kafka-to-verdict latency (verdict CreateTime - event CreateTime, joined
#   by event_id, as in `make bench`), and CPU time per event of riskgate,
#   redis-server and the broker over the same window (/proc). The broker's
#   GC log tells how many slow events had a GC pause in flight. Before the
#   first round a riskgate consumes the PROBE_PRELOAD preloaded events, so
#   Redis holds profiles and the broker is warm. Each probe checks that
#   every event got a verdict; a probe that does not is reported FAILED and
#   the script exits 1. Results: one line per probe, probe.jsonl in the
#   scratch dir, and the command that reproduces them.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n 4,9p "$0" >&2; exit 2; }
[ $# -ge 3 ] || usage
RATE=$1 SECS=$2
shift 2
VARIANTS=("$@")
ROUNDS=${PROBE_ROUNDS:-2}
WARM=${PROBE_WARM_S:-10}
USERS=${PROBE_USERS:-100000}
PRELOAD=${PROBE_PRELOAD:-300000}
BENCH_WORK=$(mktemp -d "${TMPDIR:-/tmp}/riskgate-probe.XXXXXX")
export BENCH_WORK

# shellcheck source=bench/lib.sh
. bench/lib.sh

GEN_PID=
bench_trap_exit "${PROBE_KEEP:-0}" GEN_PID

for b in "$BENCH_BIN" "$BENCH_TSREAD"; do
    [ -x "$b" ] || { bench_say "missing $b (run make)"; exit 1; }
done
for v in "${VARIANTS[@]}"; do
    [[ $v == *=* ]] || usage
    conf=${v#*=}
    conf=${conf%%,*}
    [ -f "$conf" ] || { bench_say "variant ${v%%=*}: no config $conf"; exit 2; }
done

bench_stack_up
KAFKA_PID=$(cat "$STACK_DIR/kafka.pid")
REDIS_PID=$(cat "$STACK_DIR/redis.pid")

PER_PROBE=$((RATE * (WARM + SECS)))
NPROBES=$((ROUNDS * ${#VARIANTS[@]}))
# Event time: the preload, then one stretch per probe (gen: 20 events/s of
# event time), all ending before now.
T0=$(( $(date +%s%3N) - (PRELOAD + NPROBES * PER_PROBE) * 50 - 3600000 ))
bench_say "preloading $PRELOAD events ($USERS users)"
bench_run "$BENCH_BIN" gen --brokers "$BENCH_BROKERS" --count "$PRELOAD" --users "$USERS" --seed 1 \
    --sim-time --start "$T0" > "$BENCH_WORK/gen-preload.out" 2>&1

first_conf=${VARIANTS[0]#*=}
BENCH_CONFIG=${first_conf%%,*} bench_rg_start warm RISKGATE_KAFKA_GROUP_ID=probe
bench_rg_wait warm "$PRELOAD"
bench_rg_stop

k=0
for ((r = 1; r <= ROUNDS; r++)); do
    for v in "${VARIANTS[@]}"; do
        k=$((k + 1))
        name=${v%%=*}
        spec=${v#*=}
        conf=${spec%%,*}
        envs=()
        [[ $spec == *,* ]] && IFS=, read -r -a envs <<< "${spec#*,}"
        probe=$name.r$r
        seed=$((100 + k))
        since=$(( $(date +%s%3N) - 1000 ))
        BENCH_CONFIG=$conf bench_rg_start "$probe" RISKGATE_KAFKA_GROUP_ID=probe "${envs[@]}"
        bench_run "$BENCH_BIN" gen --brokers "$BENCH_BROKERS" --count "$PER_PROBE" --rate "$RATE" \
            --users "$USERS" --seed "$seed" --world-seed 1 --sim-time \
            --start $((T0 + (PRELOAD + (k - 1) * PER_PROBE) * 50)) \
            > "$BENCH_WORK/gen-$probe.out" 2>&1 &
        GEN_PID=$!
        sleep "$WARM"
        t0=$(date +%s%3N)
        c0="$(bench_cpu_ticks "$BENCH_RG_PID") $(bench_cpu_ticks "$REDIS_PID") $(bench_cpu_ticks "$KAFKA_PID")"
        wait "$GEN_PID"
        GEN_PID=
        c1="$(bench_cpu_ticks "$BENCH_RG_PID") $(bench_cpu_ticks "$REDIS_PID") $(bench_cpu_ticks "$KAFKA_PID")"
        t1=$(date +%s%3N)
        bench_rg_wait "$probe" "$PER_PROBE" > /dev/null 2>&1 || true
        bench_rg_stop || true
        bench_run "$BENCH_TSREAD" "$BENCH_BROKERS" transactions "$since" 2> /dev/null \
            | awk -F'\t' -v p="e-${seed}_" 'index($3, p) == 1' > "$BENCH_WORK/$probe.events.tsv"
        bench_run "$BENCH_TSREAD" "$BENCH_BROKERS" verdicts "$since" 2> /dev/null \
            | awk -F'\t' -v p="e-${seed}_" 'index($3, p) == 1' > "$BENCH_WORK/$probe.verdicts.tsv"
        bench_gc_log
        printf '{"name":"%s","variant":"%s","round":%d,"rate":%d,"events":%d,"t0_ms":%s,"t1_ms":%s,"ticks0":[%s],"ticks1":[%s],"clk_tck":%s}\n' \
            "$probe" "$name" "$r" "$RATE" "$PER_PROBE" "$t0" "$t1" "${c0// /,}" "${c1// /,}" \
            "$BENCH_CLK_TCK" > "$BENCH_WORK/$probe.meta.json"
        "$BENCH_PY" bench/report.py probe "$BENCH_WORK" "$probe"
    done
done
"$BENCH_PY" bench/report.py probe-summary "$BENCH_WORK" "$(printf '%q ' "$0" "$RATE" "$SECS" "${VARIANTS[@]}")" \
    "PROBE_ROUNDS=$ROUNDS PROBE_WARM_S=$WARM PROBE_USERS=$USERS PROBE_PRELOAD=$PRELOAD"
