# shellcheck shell=bash
# lib.sh - helpers for riskgate's integration test scripts (bash). Source it:
#
#   #!/usr/bin/env bash
#   set -uo pipefail          # not -e: a failed check must not stop the run
#   . "$(dirname "$0")/lib.sh"
#   it_stack_up || exit 1     # Kafka + redis in a fresh STACK_DIR, env exported
#   it_produce_file transactions tests/data/some.jsonl
#   it_consume verdicts 100 30 "$IT_TMP/verdicts.txt"
#   it_assert_eq "$(it_count_lines "$IT_TMP/verdicts.txt")" 100 "one verdict per event"
#   it_summary                # "N passed, N failed"; non-zero on failure
#
# DESIGN
#   Each script gets its own stack (deploy/local/stack.sh with STACK_DIR in a
#   fresh temp dir, free ports), so scripts can run side by side and never
#   touch the developer's .stack. An EXIT trap always brings the stack down,
#   whether the script passes, fails or is interrupted. Results are TAP-like
#   lines ("ok - name" / "not ok - name: why") counted for it_summary.
#
#   Messages go through kcat (the system librdkafka) byte for byte: a small
#   python step in front of kcat -K puts the key in front of every line, so
#   invalid UTF-8, tabs, carriage returns, empty lines and lines up to
#   1 MiB arrive unchanged.
#
#   Variables after it_stack_up (exported): RISKGATE_KAFKA_BOOTSTRAP,
#   RISKGATE_REDIS, RISKGATE_STACK_DIR, STACK_DIR, KAFKA_PORT, REDIS_PORT,
#   KAFKA_PID, REDIS_PID, RISKGATE_TOPIC_{IN,OUT,DLQ,FEEDBACK}; IT_TMP is a
#   scratch dir removed on exit; IT_REPO is the repository root.
#   Set IT_KEEP=1 to keep the stack dir (logs) after the run.

IT_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IT_STACK_SH=$IT_REPO/deploy/local/stack.sh
IT_PY=/usr/bin/python3
IT_PASSED=0
IT_FAILED=0
IT_STACK_DIR=
IT_TMP=
IT_CHILD=
# kcat -K separator: unit separator, a byte that never occurs in a key.
IT_KEY_SEP=$'\x1f'
# kcat settings for messages up to 1 MiB (plus key/headers); the broker
# accepts up to 2 MiB (deploy/local/stack.sh).
IT_KCAT_PRODUCE_MAX=(-X message.max.bytes=2097152)
IT_KCAT_CONSUME_MAX=(-X fetch.message.max.bytes=2097152)

# it_stack_up: start a stack in a fresh temp STACK_DIR, export its env, and
# register an EXIT/INT/TERM trap that runs it_stack_down (plus any commands
# given with it_on_exit). Returns non-zero (after printing the stack's
# output) when the stack does not come up.
it_stack_up() {
    IT_STACK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/riskgate-it.XXXXXX") || return 1
    IT_TMP=$IT_STACK_DIR/tmp
    mkdir -p "$IT_TMP"
    export STACK_DIR=$IT_STACK_DIR IT_TMP
    trap '_it_exit' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    if ! _it_bg "$IT_STACK_SH" up > "$IT_STACK_DIR/up.out" 2>&1; then
        echo "# stack failed to come up:" >&2
        sed 's/^/#   /' "$IT_STACK_DIR/up.out" >&2
        return 1
    fi
    it_stack_env
}

# it_stack_env: (re)read $STACK_DIR/env into exported variables; call it
# after redis-start/kafka-start to pick up the new pids.
it_stack_env() {
    [ -s "$STACK_DIR/env" ] || return 1
    set -a
    # shellcheck disable=SC1091
    . "$STACK_DIR/env"
    set +a
}

# it_stack_down: stop the stack started by it_stack_up and remove its dir
# (kept when IT_KEEP=1). Safe to call more than once.
it_stack_down() {
    [ -n "$IT_STACK_DIR" ] || return 0
    STACK_DIR=$IT_STACK_DIR "$IT_STACK_SH" down > /dev/null 2>&1 || true
    if [ "${IT_KEEP:-0}" = 1 ]; then
        echo "# stack dir kept: $IT_STACK_DIR" >&2
    else
        rm -rf "$IT_STACK_DIR"
    fi
    IT_STACK_DIR=
}

# it_stack CMD: run deploy/local/stack.sh CMD on this script's stack, e.g.
# `it_stack redis-stop`. Output goes to stderr.
it_stack() {
    _it_bg "$IT_STACK_SH" "$@" >&2
}

# it_kafka_tool CLASS ARGS...: run one of Kafka's own command-line tools
# from the stack's jar cache, e.g.
#   it_kafka_tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
#       --bootstrap-server "$RISKGATE_KAFKA_BOOTSTRAP" --describe --group g
# Tool logging (warnings) goes to stderr.
it_kafka_tool() {
    local cls=$1
    shift
    _it_bg java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true \
        "-Dlog4j2.configurationFile=$IT_REPO/deploy/local/tools-log4j2.properties" \
        -cp "$IT_REPO/.cache/kafka-${RISKGATE_KAFKA_VERSION:?no stack env}/libs/*" "$cls" "$@"
}

IT_ON_EXIT=()
# it_on_exit CMD...: run CMD (one string, eval'd) on exit, before the stack
# goes down; e.g. it_on_exit "kill $riskgate_pid".
it_on_exit() {
    IT_ON_EXIT+=("$*")
}

# _it_bg CMD...: run CMD as a background child and wait for it. A trapped
# INT/TERM interrupts `wait` at once (it would wait for a foreground command
# to finish first), and _it_exit kills the child, so an interrupted test
# cleans up within a second instead of after its longest timeout. `<&0`
# keeps stdin: bash gives background commands /dev/null otherwise.
_it_bg() {
    "$@" <&0 &
    IT_CHILD=$!
    wait "$IT_CHILD"
    local rc=$?
    IT_CHILD=
    return $rc
}

_it_exit() {
    local rc=$? c
    if [ -n "$IT_CHILD" ]; then
        kill -TERM "$IT_CHILD" 2>/dev/null || true
        wait "$IT_CHILD" 2>/dev/null || true
    fi
    for c in "${IT_ON_EXIT[@]}"; do
        eval "$c" || true
    done
    it_stack_down
    exit $rc
}

# it_key_lines FILE: write FILE to stdout as kcat -K input, one
# "<user_id><IT_KEY_SEP><line>" per line. The key is the JSON user_id (the
# raw bytes between the quotes when the line is not valid JSON), empty when
# there is none. Line bytes are kept exactly; a final newline does not make
# an extra empty message.
it_key_lines() {
    "$IT_PY" - "$1" <<'EOF'
import json, re, sys
SEP = b"\x1f"
RX = re.compile(rb'"user_id"\s*:\s*"((?:[^"\\]|\\.)*)"')
out = sys.stdout.buffer
with open(sys.argv[1], "rb") as f:
    data = f.read()
lines = data.split(b"\n")
if lines and lines[-1] == b"":
    lines.pop()
for line in lines:
    key = b""
    try:
        obj = json.loads(line)
        uid = obj.get("user_id") if isinstance(obj, dict) else None
        if isinstance(uid, str):
            key = uid.encode("utf-8", "surrogatepass")
        elif uid is not None:
            key = json.dumps(uid).encode()
    except Exception:
        m = RX.search(line)
        if m:
            key = m.group(1)
    out.write(key.replace(SEP, b"").replace(b"\n", b"") + SEP + line + b"\n")
EOF
}

# it_produce_file TOPIC FILE [kcat args...]: produce each line of FILE as
# one message to TOPIC, key = the line's user_id (see it_key_lines), acks=all,
# idempotent. Returns kcat's status: non-zero when any delivery failed.
it_produce_file() {
    local topic=$1 file=$2
    shift 2
    [ -r "$file" ] || { echo "# it_produce_file: cannot read $file" >&2; return 1; }
    _it_bg kcat -b "$RISKGATE_KAFKA_BOOTSTRAP" -P -t "$topic" \
        -K "$IT_KEY_SEP" -X acks=all -X enable.idempotence=true \
        "${IT_KCAT_PRODUCE_MAX[@]}" "$@" < <(it_key_lines "$file")
}

# it_read_verdicts [OUTFILE]: every message on `verdicts` so far, one
# "key<TAB>value" line each, into OUTFILE (default $IT_TMP/verdicts.txt).
it_read_verdicts() {
    timeout 30 kcat -b "$RISKGATE_KAFKA_BOOTSTRAP" -C -t verdicts -o beginning -e -q \
        -f '%k\t%s\n' > "${1:-$IT_TMP/verdicts.txt}" 2>/dev/null
}

# it_group_offsets GROUP TOPIC: "COMMITTED LAG" of consumer group GROUP on
# TOPIC, each summed over the partitions that have a committed offset
# (Kafka's ConsumerGroupCommand lists only those once the group is empty).
it_group_offsets() {
    it_kafka_tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
        --bootstrap-server "$RISKGATE_KAFKA_BOOTSTRAP" --describe --group "$1" \
        > "$IT_TMP/group.txt" 2>/dev/null
    awk -v t="$2" '$2 == t && $4 ~ /^[0-9]+$/ { c += $4; l += $6 } END { print c + 0, l + 0 }' \
        "$IT_TMP/group.txt"
}

# it_wait_verdicts TRUTH N TIMEOUT_S [OUTFILE]: read `verdicts` (key<TAB>value
# per line, into OUTFILE, default $IT_TMP/verdicts.txt) until N distinct
# valid events of the gen truth file TRUTH have a verdict, or TIMEOUT_S
# passes (then says how many, returns 1).
it_wait_verdicts() {
    local truth=$1 n=$2 tmo=$3 out=${4:-$IT_TMP/verdicts.txt} got=0 deadline
    deadline=$((SECONDS + tmo))
    while ((SECONDS < deadline)); do
        it_read_verdicts "$out"
        got=$("$IT_REPO/tests/integration/verify.py" count-distinct --truth "$truth" --verdicts "$out")
        [ "$got" -ge "$n" ] && return 0
        sleep 0.5
    done
    echo "# only $got of $n events have verdicts after ${tmo}s" >&2
    return 1
}

# it_consume TOPIC N TIMEOUT_S OUTFILE [kcat args...]: read TOPIC from the
# beginning (all partitions, no group) until N messages arrived or TIMEOUT_S
# passed; write one message value per line to OUTFILE. Returns 0 when N
# arrived, 1 otherwise (OUTFILE then holds what did arrive).
# IT_CONSUME_FORMAT overrides kcat's -f format (default '%s\n').
it_consume() {
    local topic=$1 n=$2 tmo=$3 out=$4
    shift 4
    _it_bg timeout "$tmo" kcat -b "$RISKGATE_KAFKA_BOOTSTRAP" -C -t "$topic" -o beginning \
        -c "$n" -q -f "${IT_CONSUME_FORMAT:-%s\n}" "${IT_KCAT_CONSUME_MAX[@]}" "$@" \
        > "$out" 2> "$out.err"
    [ "$(it_count_messages "$out")" -ge "$n" ]
}

# it_consume_meta TOPIC N TIMEOUT_S OUTFILE: as it_consume, but each line is
# "key<TAB>headers<TAB>value" (headers as kcat prints them: k=v,k2=v2).
it_consume_meta() {
    IT_CONSUME_FORMAT='%k\t%h\t%s\n' it_consume "$@"
}

# it_consume_group GROUP TOPIC N TIMEOUT_S OUTFILE [kcat args...]: as
# it_consume, but as a member of consumer group GROUP (balanced assignment,
# offsets committed; starts from the committed offset, or the beginning).
it_consume_group() {
    local group=$1 topic=$2 n=$3 tmo=$4 out=$5
    shift 5
    _it_bg timeout "$tmo" kcat -b "$RISKGATE_KAFKA_BOOTSTRAP" -G "$group" \
        -X auto.offset.reset=earliest -c "$n" -q -f "${IT_CONSUME_FORMAT:-%s\n}" \
        "${IT_KCAT_CONSUME_MAX[@]}" "$@" "$topic" > "$out" 2> "$out.err"
    [ "$(it_count_messages "$out")" -ge "$n" ]
}

# it_count_messages FILE: lines in FILE (0 when missing).
it_count_messages() {
    it_count_lines "$1"
}

# it_count_lines FILE: number of newline-terminated lines in FILE, 0 when
# the file does not exist.
it_count_lines() {
    if [ -f "$1" ]; then
        wc -l < "$1" | tr -d ' '
    else
        echo 0
    fi
}

# it_pass NAME: record and print "ok - NAME".
it_pass() {
    IT_PASSED=$((IT_PASSED + 1))
    echo "ok - $1"
}

# it_fail NAME MSG: record and print "not ok - NAME: MSG". Returns 1.
it_fail() {
    IT_FAILED=$((IT_FAILED + 1))
    echo "not ok - $1: $2"
    return 1
}

# it_assert_eq ACTUAL EXPECTED NAME: pass NAME when the strings are equal,
# else fail it showing both. Returns 0/1 accordingly.
it_assert_eq() {
    if [ "$1" = "$2" ]; then
        it_pass "$3"
    else
        it_fail "$3" "expected '$2', got '$1'"
    fi
}

# it_assert NAME CMD...: pass NAME when CMD succeeds, else fail it.
it_assert() {
    local name=$1
    shift
    if "$@"; then
        it_pass "$name"
    else
        it_fail "$name" "command failed: $*"
    fi
}

# it_pid_alive PID: true when PID is a running process (a zombie that is
# waiting to be reaped counts as gone).
it_pid_alive() {
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ] && [ "${stat%% *}" != X ]
}

# it_wait_until TIMEOUT_S CMD...: run CMD every 0.1 s until it succeeds
# (return 0) or TIMEOUT_S passes (return 1). For real processes and
# sockets only; code under test should use the injectable clock instead.
it_wait_until() {
    local tmo=$1 deadline
    shift
    deadline=$((SECONDS + tmo))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# it_redis_cli ARGS...: redis-cli against this stack's redis.
it_redis_cli() {
    redis-cli -h "${RISKGATE_REDIS%:*}" -p "${RISKGATE_REDIS##*:}" "$@"
}

# it_summary: print "N passed, N failed"; returns 1 when anything failed or
# nothing was checked.
it_summary() {
    echo "$IT_PASSED passed, $IT_FAILED failed"
    [ "$IT_FAILED" -eq 0 ] && [ "$IT_PASSED" -gt 0 ]
}

RG_PID=
_IT_RG_TRAP=0
# it_rg_start CONFIG [LOG]: start `riskgate run -c CONFIG` in the background
# ($RISKGATE_BIN, default build/riskgate), appending its output to LOG
# (default $IT_TMP/riskgate.log). Sets RG_PID; a riskgate still running
# when the script exits is killed (-9) before the stack goes down.
it_rg_start() {
    local bin=${RISKGATE_BIN:-$IT_REPO/build/riskgate}
    "$bin" run -c "$1" >> "${2:-$IT_TMP/riskgate.log}" 2>&1 &
    RG_PID=$!
    if [ "$_IT_RG_TRAP" = 0 ]; then
        it_on_exit '[ -n "$RG_PID" ] && kill -9 $RG_PID 2>/dev/null'
        _IT_RG_TRAP=1
    fi
}
