#!/usr/bin/env bash
# demo.sh - `make demo`: start the local stack, run riskgate and the
# generator for about a minute with visible progress, print a summary, and
# stop the stack. DEMO_SECONDS, DEMO_RATE and DEMO_USERS change the load.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
BIN=$REPO/build/riskgate
OUT=$REPO/demo-out
SECONDS_RUN=${DEMO_SECONDS:-60}
RATE=${DEMO_RATE:-1000}
USERS=${DEMO_USERS:-100000}
export STACK_DIR=$REPO/.stack/demo
mkdir -p "$OUT"
rm -f "$OUT"/*

RG_PID=
cleanup() {
    [ -n "$RG_PID" ] && kill -9 "$RG_PID" 2>/dev/null || true
    echo "demo: stopping the local stack"
    deploy/local/stack.sh down > /dev/null 2>&1 || true
}
trap cleanup EXIT

echo "demo: starting the local stack (Kafka + Redis; first run downloads Kafka with Maven)"
deploy/local/stack.sh up
set -a; . "$STACK_DIR/env"; set +a

ulimit -c unlimited 2>/dev/null || true   # a crash leaves ./core for gdb
echo "demo: starting riskgate (log: demo-out/riskgate.log)"
RISKGATE_HTTP_LISTEN=127.0.0.1:0 "$BIN" run -c riskgate.yaml > "$OUT/riskgate.log" 2>&1 &
RG_PID=$!
sleep 1
kill -0 "$RG_PID" 2>/dev/null || { cat "$OUT/riskgate.log"; echo "demo: riskgate did not start"; exit 1; }

echo "demo: generating ${RATE} events/s for ${SECONDS_RUN}s (${USERS} users, fraud scenarios, 0.5% malformed)"
t0=$(date +%s.%N)
"$BIN" gen --rate "$RATE" --duration "$SECONDS_RUN" --users "$USERS" --fraud-share 0.02 \
    --malformed 0.005 --sim-time --seed "$(date +%s)" --truth-out "$OUT/truth.jsonl"
n_valid=$(grep -c '"is_malformed":false' "$OUT/truth.jsonl" || true)

echo "demo: waiting for the last verdicts"
for _ in $(seq 1 60); do
    got=$(kcat -b "$RISKGATE_KAFKA_BOOTSTRAP" -C -t verdicts -o beginning -e -q -f '.\n' 2>/dev/null | wc -l)
    printf '\rdemo: %d of %d verdicts' "$got" "$n_valid"
    [ "$got" -ge "$n_valid" ] && break
    sleep 1
done
echo
t1=$(date +%s.%N)
kill -TERM "$RG_PID"; wait "$RG_PID" || true; RG_PID=

kcat -b "$RISKGATE_KAFKA_BOOTSTRAP" -C -t transactions -o beginning -e -q -f '%T\t%s\n' > "$OUT/input.txt" 2>/dev/null
kcat -b "$RISKGATE_KAFKA_BOOTSTRAP" -C -t verdicts -o beginning -e -q -f '%T\t%s\n' > "$OUT/verdicts.txt" 2>/dev/null
dlq=$(kcat -b "$RISKGATE_KAFKA_BOOTSTRAP" -C -t transactions.dlq -o beginning -e -q -f '.\n' 2>/dev/null | wc -l)
elapsed=$(echo "$t1 - $t0" | bc -l 2>/dev/null || echo "$SECONDS_RUN")
/usr/bin/python3 deploy/demo_summary.py "$OUT/truth.jsonl" "$OUT/input.txt" "$OUT/verdicts.txt" "$dlq" "$elapsed"
