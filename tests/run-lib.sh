# run-lib.sh - build steps shared by run-all.sh (sourced).
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

# build_and_unit SANITIZE BUILD_DIR: build everything, run unit tests.
build_and_unit() {
    local san=$1 dir=$2
    if ! make -j"$JOBS" SANITIZE="$san" all > "$dir.log" 2>&1; then
        tail -40 "$dir.log"
        echo "0 passed, 1 failed"
        return 1
    fi
    if [ -n "$san" ]; then
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
        export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    fi
    ./tests/run-unit.sh "$dir"
}

# build_tsan: the tests that exercise threads, under ThreadSanitizer.
build_tsan() {
    local tests="build-tsan/tests/test_ring build-tsan/tests/test_watermark build-tsan/tests/test_metrics"
    if ! make -j"$JOBS" SANITIZE=thread $tests > build-tsan.log 2>&1; then
        tail -40 build-tsan.log
        echo "0 passed, 1 failed"
        return 1
    fi
    local p=0 f=0 t out
    for t in $tests; do
        out=$(TSAN_OPTIONS=halt_on_error=1 RG_RING_STRESS_N=${RG_RING_STRESS_N:-500000} "$t" 2>&1)
        if [ $? -eq 0 ]; then
            p=$((p + 1)); echo "tsan: $(basename "$t") ok"
        else
            f=$((f + 1)); echo "$out" | tail -30; echo "tsan: $(basename "$t") FAILED"
        fi
    done
    echo "$p passed, $f failed"
    [ "$f" -eq 0 ]
}
