#!/usr/bin/env bash
# model_bench.sh - riskgate's tree-ensemble scorer against XGBoost's C API
# on a model of 200 trees, depth 6, over the catalog features, trained on
# the synthetic fixture (models/make_fixture.py). Prints single-row and
# batch-of-256 ns/row for both, the ratios, and fails when any score
# differs by more than 1e-6.
#
#   bench/model_bench.sh [BUILD_DIR] [extra `riskgate model bench` args]
#
# Uses BUILD_DIR/riskgate when it has the `model` subcommand, else links a
# tiny driver for rg_model_cli() against BUILD_DIR/libriskgate.a.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}; shift || true
WORK="$BUILD/model-bench"   # kept, so the printed "reproduce" line works
mkdir -p "$WORK"

RG="$BUILD/riskgate"
if ! { [ -x "$RG" ] && "$RG" model 2>&1 | grep -q "riskgate model inspect"; }; then
    PKGS="rdkafka hiredis libcjson yaml-0.1 openssl libmicrohttpd ck"
    printf '#include "riskgate/model.h"\nint main(int c, char **v) { return rg_model_cli(c - 1, v + 1); }\n' > "$WORK/drv.c"
    cc -O2 -Iinclude "$WORK/drv.c" "$BUILD/libriskgate.a" $(pkg-config --libs $PKGS) -lm -lpthread -ldl -o "$WORK/riskgate"
    RG="$WORK/riskgate"
fi

[ -f "$WORK/bench200.json" ] || {
/usr/bin/python3 models/make_fixture.py --out "$WORK/features.csv" --rows 20000 --seed 3
/usr/bin/python3 models/train.py --features "$WORK/features.csv" --out "$WORK/bench200.json" \
    --trees 200 --depth 6 --seed 3 > /dev/null
}
echo "== xgboost with 1 thread (riskgate scores on one worker thread)"
"$RG" model bench --model "$WORK/bench200.json" --rows 20000 --reps 5 --xgb-nthread 1 "$@"
echo "== xgboost with $(nproc) threads"
"$RG" model bench --model "$WORK/bench200.json" --rows 20000 --reps 5 --xgb-nthread "$(nproc)" "$@"
