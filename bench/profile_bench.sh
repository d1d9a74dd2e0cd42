#!/usr/bin/env bash
# profile_bench.sh [BUILD_DIR] [extra args] - the profile stage against its
# own throw-away redis-server on a free loopback port, then the in-memory
# backend. Prints events/s, Redis commands and round trips per event and
# bytes per user profile. A benchmark: it never fails on the numbers.
set -euo pipefail
BUILD=${1:-build}; shift || true
BIN="$BUILD/riskgate"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" >/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.05; done
"$BIN" profile bench --port "$port" --users 100000 --events 200000 --batch 64 "$@"
echo "  redis used_memory: $(redis-cli -p "$port" INFO memory | sed -n 's/^used_memory_human:\(.*\)\r$/\1/p'), keys: $(redis-cli -p "$port" DBSIZE)"
"$BIN" profile bench --memory --users 100000 --events 1000000 --batch 64 "$@"
