#!/usr/bin/python3
"""make_fixture.py - write a small synthetic features CSV, deterministic by seed.

The CSV follows the features contract documented in models/README.md:
event_id, event_ts_ms, one column per catalog feature (empty = missing),
label, label_ts_ms, scenario. Feature names are read from
include/riskgate/feature.h so the fixture always matches the catalog.

Usage: models/make_fixture.py --out FILE.csv [--rows 5000] [--seed 1]
       [--fraud-rate 0.05] [--missing 0.1]
"""
import argparse
import csv
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def catalog_names(header=None):
    """Feature names in slot order, parsed from feature.h."""
    header = header or os.path.join(HERE, "..", "include", "riskgate", "feature.h")
    with open(header, encoding="utf-8") as f:
        text = f.read()
    names = re.findall(r'X\(\s*[A-Z0-9_]+\s*,\s*"([^"]+)"', text)
    if not names:
        sys.exit("make_fixture: no feature names found in %s" % header)
    return names


def generate(rows, seed, fraud_rate, missing, names):
    rng = np.random.default_rng(seed)
    n_feat = len(names)
    fraud = rng.random(rows) < fraud_rate
    X = np.empty((rows, n_feat))
    # Legit and fraud draw from shifted distributions; the shift differs by
    # feature so the model has something to learn but not a trivial rule.
    for j in range(n_feat):
        scale = 1.0 + (j % 5)
        base = rng.gamma(2.0, scale, rows)
        shift = ((j * 7) % 11) / 10.0 * scale
        X[:, j] = base + fraud * shift * rng.random(rows) * 3.0
    # a few features with realistic shapes
    name_idx = {n: i for i, n in enumerate(names)}
    if "hour_of_day" in name_idx:
        X[:, name_idx["hour_of_day"]] = np.where(
            fraud, rng.integers(0, 24, rows), rng.integers(7, 23, rows))
    for flag in ("is_new_country", "device.is_new_for_user"):
        if flag in name_idx:
            p = np.where(fraud, 0.6, 0.08)
            X[:, name_idx[flag]] = (rng.random(rows) < p).astype(float)
    # missing values, more of them for fraud in some columns
    miss = rng.random((rows, n_feat)) < missing
    X[miss] = np.nan
    X = np.round(X, 4)
    t0 = 1767225600000  # 2026-01-01T00:00:00Z
    ts = t0 + np.sort(rng.integers(0, 30 * 86400 * 1000, rows))
    labels = []
    label_ts = []
    for i in range(rows):
        r = rng.random()
        if fraud[i]:
            labels.append("1" if r < 0.9 else "")
            label_ts.append(str(int(ts[i] + rng.integers(3600e3, 7 * 86400e3))) if r < 0.9 else "")
        else:
            labels.append("0" if r < 0.3 else "")
            label_ts.append(str(int(ts[i] + rng.integers(60e3, 86400e3))) if r < 0.3 else "")
    return X, ts, fraud, labels, label_ts


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fraud-rate", type=float, default=0.05)
    ap.add_argument("--missing", type=float, default=0.1)
    a = ap.parse_args()
    names = catalog_names()
    X, ts, fraud, labels, label_ts = generate(a.rows, a.seed, a.fraud_rate, a.missing, names)
    with open(a.out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["event_id", "event_ts_ms"] + names + ["label", "label_ts_ms", "scenario"])
        for i in range(a.rows):
            vals = ["" if np.isnan(v) else repr(float(v)) for v in X[i]]
            w.writerow(["e%06d" % i, int(ts[i])] + vals +
                       [labels[i], label_ts[i], "fraud" if fraud[i] else "normal"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
