# lib.sh - helpers shared by bench/run.sh (`make bench`) and bench/soak.sh
# (`make soak`). Source it after setting BENCH_WORK (a scratch directory).
#
# DESIGN
#   Every command that matters for the numbers goes through bench_run, which
#   prints it (shell-quoted, with its environment) to stderr and appends it
#   to $BENCH_WORK/commands.txt, so anyone can rerun each step by hand.
#   A benchmark owns its own stack (deploy/local/stack.sh with a fresh
#   STACK_DIR under BENCH_WORK); bench_cleanup stops riskgate (by the pid we
#   started) and brings the stack down, and runs from an EXIT trap.
#   riskgate is watched from outside only: /metrics for progress
#   (riskgate_events_out_total), /proc/PID/stat for CPU time,
#   /proc/PID/status for RSS, and redis-server's own INFO counters.

BENCH_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_BIN=$BENCH_REPO/build/riskgate
BENCH_PT=$BENCH_REPO/build/bench/passthrough
BENCH_TSREAD=$BENCH_REPO/build/bench/tsread
BENCH_PY=/usr/bin/python3
BENCH_RG_PID=
BENCH_RG_PORT=
BENCH_CLK_TCK=$(getconf CLK_TCK)
exec 3>&2

bench_say() { echo "bench: $*" >&2; }

# bench_run CMD...: print CMD to the terminal (fd 3, a copy of the
# script's stderr, so that redirecting the command's stderr does not hide
# it) and to commands.txt, then run it.
bench_run() {
    local q
    q=$(printf '%q ' "$@")
    echo "+ ${q% }" >&3
    echo "${q% }" >> "$BENCH_WORK/commands.txt"
    "$@"
}

# bench_stack_up: start the local stack in $BENCH_WORK/stack and export
# its env (RISKGATE_KAFKA_BOOTSTRAP, RISKGATE_REDIS, REDIS_PORT, ...).
# The broker keeps Kafka's own segment size (1 GiB) here, not the tests'
# 8 MiB: a production broker does not roll (and fsync) a segment of every
# busy partition every few seconds (docs/benchmarks.md, fifth session).
bench_stack_up() {
    export STACK_DIR=$BENCH_WORK/stack
    export KAFKA_SEGMENT_BYTES=${KAFKA_SEGMENT_BYTES:-1073741824}
    echo "STACK_DIR=$STACK_DIR KAFKA_SEGMENT_BYTES=$KAFKA_SEGMENT_BYTES deploy/local/stack.sh up" \
        >> "$BENCH_WORK/commands.txt"
    bench_say "starting the local stack (STACK_DIR=$STACK_DIR KAFKA_SEGMENT_BYTES=$KAFKA_SEGMENT_BYTES deploy/local/stack.sh up)"
    if ! "$BENCH_REPO/deploy/local/stack.sh" up > "$BENCH_WORK/stack-up.log" 2>&1; then
        cat "$BENCH_WORK/stack-up.log" >&2
        return 1
    fi
    echo "set -a; . $STACK_DIR/env; set +a   # RISKGATE_KAFKA_BOOTSTRAP, RISKGATE_REDIS, REDIS_PORT" >> "$BENCH_WORK/commands.txt"
    set -a
    # shellcheck disable=SC1091
    . "$STACK_DIR/env"
    set +a
    BENCH_BROKERS=$RISKGATE_KAFKA_BOOTSTRAP
}

# bench_topics NAME:PARTS...: create topics on the stack's broker (the
# stack's own librdkafka Admin tool, compiled by stack.sh up).
bench_topics() {
    bench_run "$BENCH_REPO/.cache/bin/rg-mktopics" "$BENCH_BROKERS" 60000 "$@" > /dev/null
}

# bench_cleanup: stop our riskgate (if any) and the stack. EXIT trap.
bench_cleanup() {
    if [ -n "$BENCH_RG_PID" ]; then
        kill -TERM "$BENCH_RG_PID" 2>/dev/null || true
        wait "$BENCH_RG_PID" 2>/dev/null || true
        BENCH_RG_PID=
    fi
    if [ -n "${STACK_DIR:-}" ] && [ -d "$STACK_DIR" ]; then
        bench_say "stopping the local stack"
        "$BENCH_REPO/deploy/local/stack.sh" down > /dev/null 2>&1 || true
    fi
}

# bench_trap_exit KEEP VAR...: install the EXIT/INT/TERM traps of a
# benchmark script. On exit: stop the background jobs whose pids the named
# variables hold (empty: none), then riskgate and the stack (bench_cleanup);
# keep $BENCH_WORK when KEEP is 1 or the script failed, else remove it.
bench_trap_exit() {
    BENCH_KEEP_WORK=$1
    shift
    BENCH_BG_VARS="$*"
    trap _bench_on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

_bench_on_exit() {
    local rc=$? v p
    for v in $BENCH_BG_VARS; do
        p=${!v:-}
        if [ -n "$p" ]; then
            { kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; } || true
        fi
    done
    bench_cleanup
    if [ "$BENCH_KEEP_WORK" = 1 ] || [ $rc -ne 0 ]; then
        bench_say "scratch kept: $BENCH_WORK"
    else
        rm -rf "$BENCH_WORK"
    fi
    exit $rc
}

# bench_gc_log: the broker's GC log (all of its files) into
# $BENCH_WORK/kafka-gc.log, for bench/report.py.
bench_gc_log() {
    cat "$STACK_DIR"/kafka-gc.log.* "$STACK_DIR"/kafka-gc.log > "$BENCH_WORK/kafka-gc.log" 2>/dev/null || true
}

# bench_redis ARGS...: redis-cli against the stack's redis.
bench_redis() {
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
}

# bench_redis_snapshot FILE: INFO stats, commandstats and cpu into FILE.
bench_redis_snapshot() {
    { bench_redis INFO stats; bench_redis INFO commandstats; bench_redis INFO cpu; } \
        | tr -d '\r' > "$1"
}

# bench_metric NAME: value of an unlabelled counter from riskgate /metrics
# (integer part), empty when unavailable.
bench_metric() {
    curl -s --max-time 2 "http://127.0.0.1:$BENCH_RG_PORT/metrics" 2>/dev/null \
        | awk -v m="$1" '$1 == m { printf "%d\n", $2 }' || true
}

# bench_cpu_ticks PID: utime+stime in clock ticks.
bench_cpu_ticks() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    s=${s##*) }
    # after "pid (comm) ": field 3 is state; utime/stime are fields 14/15
    awk '{ print $12 + $13 }' <<< "$s"
}

# bench_vm PID FIELD: a /proc/PID/status field in kB (VmRSS, VmHWM).
bench_vm() {
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

# bench_rg_start NAME ENV...: start `riskgate run -c $BENCH_CONFIG` with the
# given RISKGATE_* overrides (K=V words), log in $BENCH_WORK/NAME.log; wait
# until it serves HTTP and has a partition assignment. Sets BENCH_RG_PID and
# BENCH_RG_PORT.
bench_rg_start() {
    local name=$1 log=$BENCH_WORK/$1.log i
    shift
    : > "$log"
    local q
    q=$(printf '%q ' env "$@" RISKGATE_HTTP_LISTEN=127.0.0.1:0 "$BENCH_BIN" run -c "$BENCH_CONFIG")
    echo "+ ${q% } &" >&3
    echo "${q% } &" >> "$BENCH_WORK/commands.txt"
    env "$@" RISKGATE_HTTP_LISTEN=127.0.0.1:0 "$BENCH_BIN" run -c "$BENCH_CONFIG" > "$log" 2>&1 &
    BENCH_RG_PID=$!
    BENCH_RG_PORT=
    for ((i = 0; i < 600; i++)); do
        if ! kill -0 "$BENCH_RG_PID" 2>/dev/null; then
            tail -n 20 "$log" >&2
            bench_say "riskgate ($name) exited during start-up"
            BENCH_RG_PID=
            return 1
        fi
        if [ -z "$BENCH_RG_PORT" ]; then
            BENCH_RG_PORT=$(grep -o 'serving /metrics /healthz /readyz on [0-9.]*:[0-9]*' "$log" \
                | head -n 1 | sed 's/.*://' || true)
        fi
        if [ -n "$BENCH_RG_PORT" ] && grep -q '"assigned [0-9]* partition' "$log"; then
            return 0
        fi
        sleep 0.1
    done
    bench_say "riskgate ($name) got no partition assignment within 60 s"
    return 1
}

# bench_rg_stop: SIGTERM (graceful drain) and wait.
bench_rg_stop() {
    [ -n "$BENCH_RG_PID" ] || return 0
    kill -TERM "$BENCH_RG_PID" 2>/dev/null || true
    local st=0
    wait "$BENCH_RG_PID" 2>/dev/null || st=$?
    BENCH_RG_PID=
    [ $st -eq 0 ] || bench_say "riskgate exited with status $st after SIGTERM"
    return $st
}

# bench_rg_wait NAME WANT: wait until riskgate_events_out_total >= WANT,
# printing progress every 2 s; fail when it makes no progress for 60 s.
# Writes $BENCH_WORK/NAME.proc.json: CPU ticks and verdict counts at the
# first sample with verdicts and at the end (CPU per event is the delta
# between them, so start-up is not counted), the broker's CPU ticks at the
# same two moments, VmHWM and VmRSS at the end.
bench_rg_wait() {
    local name=$1 want=$2 n=0 last=-1 t_last=$SECONDS n0= c0= t0 c1 k0=0 k1 prev_n=0 prev_t
    t0=$(date +%s.%N)
    prev_t=$t0
    local t_print=$SECONDS
    while :; do
        n=$(bench_metric riskgate_events_out_total)
        n=${n:-0}
        if [ -z "$n0" ] && [ "$n" -gt 0 ]; then
            n0=$n
            k0=$(bench_cpu_ticks "$KAFKA_PID" || echo 0)
            [ "$prev_n" -eq 0 ] && prev_n=$n && prev_t=$(date +%s.%N)
            c0=$(bench_cpu_ticks "$BENCH_RG_PID")
        fi
        if [ "$n" != "$last" ]; then
            last=$n
            t_last=$SECONDS
        fi
        if ((SECONDS - t_print >= 2)) || [ "$n" -ge "$want" ]; then
            local now rate
            now=$(date +%s.%N)
            rate=$(awk -v a="$n" -v b="$prev_n" -v t1="$now" -v t2="$prev_t" \
                'BEGIN { d = t1 - t2; printf "%.0f", (d > 0 ? (a - b) / d : 0) }')
            bench_say "  $name: $n / $want verdicts (${rate} ev/s)"
            prev_n=$n
            prev_t=$now
            t_print=$SECONDS
        fi
        [ "$n" -ge "$want" ] && break
        if ((SECONDS - t_last > 60)); then
            bench_say "$name: no progress for 60 s at $n of $want verdicts (log: $BENCH_WORK/$name.log)"
            return 1
        fi
        if ! kill -0 "$BENCH_RG_PID" 2>/dev/null; then
            local st=0
            wait "$BENCH_RG_PID" 2>/dev/null || st=$?
            bench_say "$name: riskgate exited (status $st) at $n of $want verdicts; log tail:"
            BENCH_RG_PID=
            tail -n 5 "$BENCH_WORK/$name.log" >&2
            return 1
        fi
        sleep 0.2
    done
    c1=$(bench_cpu_ticks "$BENCH_RG_PID")
    k1=$(bench_cpu_ticks "$KAFKA_PID" || echo 0)
    printf '{"n0":%s,"cpu_ticks0":%s,"n1":%s,"cpu_ticks1":%s,"broker_ticks0":%s,"broker_ticks1":%s,"clk_tck":%s,"vmhwm_kb":%s,"vmrss_kb":%s}\n' \
        "${n0:-0}" "${c0:-0}" "$n" "$c1" "$k0" "$k1" "$BENCH_CLK_TCK" \
        "$(bench_vm "$BENCH_RG_PID" VmHWM)" "$(bench_vm "$BENCH_RG_PID" VmRSS)" \
        > "$BENCH_WORK/$name.proc.json"
}

# bench_machine FILE: machine and version facts as JSON.
bench_machine() {
    local redis_v kafka_v rg_v
    redis_v=$(bench_redis INFO server | tr -d '\r' | awk -F: '$1 == "redis_version" { print $2 }')
    rg_v=$("$BENCH_BIN" version 2>&1 | head -n 1)
    kafka_v=${RISKGATE_KAFKA_VERSION:-}
    # Which code was measured: HEAD, whether src/ or include/ differ from it,
    # and when the binary was built (others may rebuild it at any time).
    local git_head git_dirty bin_mtime
    git_head=$(git -C "$BENCH_REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git_dirty=$(git -C "$BENCH_REPO" status --porcelain -- src include 2>/dev/null | wc -l)
    bin_mtime=$(date -u -r "$BENCH_BIN" +%Y-%m-%dT%H:%M:%SZ)
    "$BENCH_PY" - "$1" "$redis_v" "$kafka_v" "$rg_v" "$git_head" "$git_dirty" "$bin_mtime" <<'EOF'
import json, os, platform, sys
out, redis_v, kafka_v, rg_v, git_head, git_dirty, bin_mtime = sys.argv[1:8]
cpu = ""
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
mem_kb = 0
for line in open("/proc/meminfo"):
    if line.startswith("MemTotal:"):
        mem_kb = int(line.split()[1])
json.dump({"nproc": os.cpu_count(), "memory_gb": round(mem_kb / 1048576, 1), "cpu_model": cpu,
           "kernel": platform.release(), "loadavg_start": os.getloadavg(),
           "versions": {"riskgate": rg_v, "kafka_broker": kafka_v, "redis": redis_v,
                        "git_head": git_head, "src_files_differing_from_head": int(git_dirty),
                        "riskgate_binary_built": bin_mtime}},
          open(out, "w"))
EOF
}
