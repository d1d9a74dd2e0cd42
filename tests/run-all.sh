#!/usr/bin/env bash
# run-all.sh - everything `make test` runs, with one closing line
# "N passed, N failed":
#   1. build, cmocka unit tests and fuzz-corpus replays (plain build)
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. the ring/pipeline tests under ThreadSanitizer
#   4. integration tests against a real Kafka broker and redis-server
#      (tests/integration/test_*.sh, each with its own local stack)
# Set RG_TEST_ONLY=unit|asan|tsan|integration to run one part.
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
only=${RG_TEST_ONLY:-}
passed=0; failed=0; failures=()

count() { # count NAME OUTPUT_FILE RC: add the last "N passed, N failed" line
    local name=$1 out=$2 rc=$3 line p f
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
    p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p'); p=${p:-0}
    f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p'); f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    [ "$f" -gt 0 ] && failures+=("$name")
    echo "== $name: $p passed, $f failed"
}

run_part() { # run_part NAME CMD...
    local name=$1 out rc
    shift
    out=$(mktemp)
    echo "== $name"
    "$@" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    count "$name" "$out" "$rc"
    rm -f "$out"
}

build() { # build [make args...]
    if ! make -j"$JOBS" all "$@" > build.log.tmp 2>&1; then
        cat build.log.tmp; rm -f build.log.tmp
        echo "0 passed, 1 failed"
        return 1
    fi
    rm -f build.log.tmp
}

if [ -z "$only" ] || [ "$only" = unit ]; then
    run_part "unit" bash -c 'source tests/run-lib.sh; build_and_unit "" build'
fi
if [ -z "$only" ] || [ "$only" = asan ]; then
    run_part "unit (ASan+UBSan)" bash -c 'source tests/run-lib.sh; build_and_unit address,undefined build-asan'
fi
if [ -z "$only" ] || [ "$only" = tsan ]; then
    run_part "threads (TSan)" bash -c 'source tests/run-lib.sh; build_tsan'
fi
if [ -z "$only" ] || [ "$only" = integration ]; then
    make -j"$JOBS" all > /dev/null 2>&1 || { echo "build failed"; failed=$((failed + 1)); }
    for t in tests/integration/test_*.sh; do
        run_part "integration: $(basename "$t" .sh)" timeout 900 "$t"
    done
fi
[ ${#failures[@]} -gt 0 ] && echo "failed parts: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
