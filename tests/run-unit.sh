#!/usr/bin/env bash
# run-unit.sh BUILD_DIR - run every cmocka test binary and fuzz corpus
# replay in BUILD_DIR, print per-binary results and a closing
# "N passed, N failed" line. Exit status non-zero when anything failed.
set -uo pipefail
BUILD=${1:-build}
passed=0; failed=0; failed_names=()
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    out=$(cd "$(dirname "$0")/.." && "$t" 2>&1); rc=$?
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    p=${p:-0}; f=${f:-0}
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed or died
    printf '%s\n' "$out" | grep -E '^\[  (FAILED|  ERROR)|ERROR|Sanitizer|runtime error' | head -20
    echo "unit: $(basename "$t"): $p passed, $f failed"
    passed=$((passed + p)); failed=$((failed + f))
    [ "$f" -gt 0 ] && failed_names+=("$(basename "$t")")
done
for fz in "$BUILD"/fuzz/fuzz_*; do
    [ -x "$fz" ] || continue
    name=$(basename "$fz")
    corpus="tests/fuzz/corpus/${name#fuzz_}"
    if [ -d "$corpus" ] && "$fz" "$corpus" >/dev/null 2>&1; then
        echo "fuzz: $name corpus replay ok"; passed=$((passed + 1))
    else
        echo "fuzz: $name corpus replay FAILED"; failed=$((failed + 1)); failed_names+=("$name")
    fi
done
[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
