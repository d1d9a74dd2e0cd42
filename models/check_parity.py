#!/usr/bin/python3
"""check_parity.py - train a fresh model on fresh synthetic data and check
that `riskgate model score` agrees with XGBoost's and sklearn's own
predictions within 1e-6 on held-out rows (with missing values for the
XGBoost model; without, for the isolation forest, since sklearn has none).

  models/check_parity.py [--riskgate build/riskgate] [--seed 11] [--rows 4000]
                         [--trees 50 --depth 6] [--keep DIR]

Exit status 0 when every row agrees, 1 otherwise (the worst rows are
printed). Used by the integration suite once `riskgate model` is wired.
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile

import numpy as np
import xgboost as xgb
from sklearn.ensemble import IsolationForest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from export_iforest import export_iforest  # noqa: E402
from make_fixture import catalog_names, generate  # noqa: E402


def write_rows(path, names, X):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["event_id"] + names)
        for i, row in enumerate(X):
            w.writerow(["r%d" % i] + ["" if np.isnan(v) else repr(float(v)) for v in row])


def score(rg, model, rows):
    out = subprocess.run([rg, "model", "score", "--model", model, "--input", rows],
                         check=True, capture_output=True, text=True).stdout
    return np.array([float(v) for v in out.split()])


def compare(what, got, want, tol):
    if len(got) != len(want):
        print("%s: riskgate printed %d scores for %d rows" % (what, len(got), len(want)))
        return False
    diff = np.abs(got - want)
    bad = np.flatnonzero(diff > tol)
    print("%s: %d rows, max |diff| %.3g, %d over %g" % (what, len(want), diff.max(), len(bad), tol))
    for i in bad[:10]:
        print("  row %d: riskgate %.9g reference %.9g" % (i, got[i], want[i]))
    return len(bad) == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--riskgate", default=os.path.join(HERE, "..", "build", "riskgate"))
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--rows", type=int, default=4000)
    ap.add_argument("--trees", type=int, default=50)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--keep", help="write the files here instead of a temporary directory")
    a = ap.parse_args()
    tmp = a.keep or tempfile.mkdtemp(prefix="rg-parity-")
    os.makedirs(tmp, exist_ok=True)
    names = catalog_names()
    X, ts, fraud, _, _ = generate(a.rows, a.seed, 0.1, 0.15, names)
    y = fraud.astype(int)
    cut = int(a.rows * 0.8)
    bst = xgb.train({"objective": "binary:logistic", "max_depth": a.depth, "eta": 0.2,
                     "seed": a.seed, "nthread": 1},
                    xgb.DMatrix(X[:cut], label=y[:cut], missing=np.nan, feature_names=names),
                    num_boost_round=a.trees)
    model = os.path.join(tmp, "parity_gbdt.json")
    bst.save_model(model)
    rows = os.path.join(tmp, "heldout.csv")
    write_rows(rows, names, X[cut:])
    want = bst.predict(xgb.DMatrix(X[cut:], missing=np.nan, feature_names=names)).astype(np.float64)
    ok = compare("xgboost", score(a.riskgate, model, rows), want, 1e-6)

    med = np.nanmedian(X[:cut], axis=0)
    Xf = np.where(np.isnan(X), med, X)
    ifo = IsolationForest(n_estimators=100, max_samples=256, random_state=a.seed).fit(Xf[:cut])
    imodel = os.path.join(tmp, "parity_iforest.json")
    export_iforest(ifo, names, imodel)
    irows = os.path.join(tmp, "heldout_complete.csv")
    write_rows(irows, names, Xf[cut:])
    ok = compare("sklearn iforest", score(a.riskgate, imodel, irows),
                 -ifo.score_samples(Xf[cut:]), 1e-6) and ok
    print("parity %s (files in %s)" % ("ok" if ok else "FAILED", tmp))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
