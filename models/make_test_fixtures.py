#!/usr/bin/python3
"""make_test_fixtures.py - regenerate the small committed fixtures in
tests/data/model/ used by tests/unit/test_model.c:

  gbdt_small.json     XGBoost binary:logistic, 20 trees, depth 4
  gbdt_heldout.csv    500 held-out rows (with missing values, values exactly
                      on thresholds and values that only round onto a
                      threshold in float32) + column xgb_pred (Booster.predict)
  iforest_small.json  isolation forest, 20 trees, max_samples 64
  iforest_rows.csv    300 rows without missing values + column sk_score
                      (-score_samples)

Deterministic: run it again and the files only change when xgboost or
sklearn change. Usage: models/make_test_fixtures.py [--out tests/data/model]
"""
import argparse
import csv
import os
import sys

import numpy as np
import xgboost as xgb
from sklearn.ensemble import IsolationForest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from export_iforest import export_iforest  # noqa: E402
from make_fixture import catalog_names, generate  # noqa: E402


def write_csv(path, names, X, extra_name, extra):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["event_id"] + names + [extra_name])
        for i in range(len(X)):
            w.writerow(["r%04d" % i] + ["" if np.isnan(v) else repr(float(v)) for v in X[i]] +
                       [repr(float(extra[i]))])


def boundary_rows(bst, X, names, rng):
    """Put values on split thresholds, and just below them in double but
    equal to them once rounded to float32 (a double compare would differ)."""
    thr = {}
    for line in bst.get_dump(dump_format="json"):
        import json

        def walk(n):
            if "split" in n:
                thr.setdefault(n["split"], []).append(np.float32(n["split_condition"]))
                for c in n["children"]:
                    walk(c)
        walk(json.loads(line))
    idx = {n: i for i, n in enumerate(names)}
    X = X.copy()
    for r in range(len(X)):
        for feat, ts in thr.items():
            if rng.random() < 0.5:
                t = ts[rng.integers(len(ts))]
                mode = rng.integers(3)
                if mode == 0:
                    v = float(t)
                elif mode == 1:   # below t in double, == t in float32
                    v = float(t) - abs(float(t)) * 1e-9 - 1e-30
                    if np.float32(v) != t:
                        v = float(t)
                else:
                    v = float(np.nextafter(t, np.float32(np.inf)))
                X[r, idx[feat]] = v
    return X


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(HERE, "..", "tests", "data", "model"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    names = catalog_names()
    X, ts, fraud, _, _ = generate(3000, 7, 0.1, 0.15, names)
    y = fraud.astype(int)
    tr, te = slice(0, 2500), slice(2500, 3000)
    params = {"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "seed": 7,
              "base_score": 0.3, "nthread": 1}
    bst = xgb.train(params, xgb.DMatrix(X[tr], label=y[tr], missing=np.nan, feature_names=names),
                    num_boost_round=20)
    bst.save_model(os.path.join(a.out, "gbdt_small.json"))
    rng = np.random.default_rng(7)
    Xte = X[te].copy()
    Xte[100:250] = boundary_rows(bst, Xte[100:250], names, rng)
    pred = bst.predict(xgb.DMatrix(Xte, missing=np.nan, feature_names=names))
    write_csv(os.path.join(a.out, "gbdt_heldout.csv"), names, Xte, "xgb_pred", pred)

    med = np.nanmedian(X[tr], axis=0)
    Xf = np.where(np.isnan(X), med, X)
    ifo = IsolationForest(n_estimators=20, max_samples=64, random_state=7).fit(Xf[tr])
    export_iforest(ifo, names, os.path.join(a.out, "iforest_small.json"), "iforest_small")
    rows = Xf[2500:2800]
    write_csv(os.path.join(a.out, "iforest_rows.csv"), names, rows, "sk_score", -ifo.score_samples(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
