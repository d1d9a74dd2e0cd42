#!/usr/bin/env bash
# test_docs.sh - the generated references are current: docs/config.md and
# docs/features.md must equal what the binary prints from its tables.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${RISKGATE_BIN:-$REPO/build/riskgate}
passed=0; failed=0
check() { # check NAME FILE CMD...
    local name=$1 file=$2
    shift 2
    if diff -u "$file" <("$@") > /dev/null; then
        echo "ok - $name"; passed=$((passed + 1))
    else
        echo "not ok - $name: $file is stale; regenerate with: $* > $file"; failed=$((failed + 1))
    fi
}
check "docs/config.md matches the config key table" "$REPO/docs/config.md" "$BIN" config reference
check "docs/features.md matches the feature catalog" "$REPO/docs/features.md" "$BIN" features
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
