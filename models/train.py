#!/usr/bin/python3
"""train.py - train riskgate's fraud model (XGBoost) and anomaly model
(isolation forest) from a features CSV, evaluate on a held-out time split,
pick policy thresholds and write a model card.

  models/train.py --features FILE.csv [--train-until TIME] --out model.json
                  [--iforest-out anomaly.json] [--card model-card.md]
                  [--friction-budget 0.01] [--trees 200 --depth 6] [--seed N]
                  [--unlabelled legit|drop] [--eta 0.1]

The CSV contract, the split and the label rules are documented in
models/README.md. Uses only numpy, xgboost and sklearn (/usr/bin/python3).
"""
import argparse
import csv
import datetime as dt
import json
import os
import sys

import numpy as np
import xgboost as xgb
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_iforest import export_iforest  # noqa: E402

RESERVED = {"event_id", "event_ts_ms", "label", "label_ts_ms", "scenario"}


def parse_time(s):
    """RFC 3339 (with offset or Z) or integer epoch milliseconds -> epoch ms."""
    s = s.strip()
    if s.lstrip("-").isdigit():
        return int(s)
    t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    if t.tzinfo is None:
        raise ValueError("time %r has no UTC offset" % s)
    return int(round(t.timestamp() * 1000))


def iso(ms):
    return dt.datetime.fromtimestamp(ms / 1000.0, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _num(s):
    return float(s) if s != "" else np.nan


def read_features(path):
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        header = next(r)
        for col in ("event_id", "event_ts_ms", "label", "label_ts_ms"):
            if col not in header:
                sys.exit("train: %s: missing column %r" % (path, col))
        feats = [h for h in header if h not in RESERVED]
        idx = {h: i for i, h in enumerate(header)}
        fi = [idx[h] for h in feats]
        X, ts, lab, lts = [], [], [], []
        for lineno, row in enumerate(r, start=2):
            if len(row) != len(header):
                sys.exit("train: %s:%d: %d cells, header has %d" % (path, lineno, len(row), len(header)))
            try:
                X.append([_num(row[i]) for i in fi])
                ts.append(int(row[idx["event_ts_ms"]]))
                lv = row[idx["label"]]
                if lv not in ("", "0", "1"):
                    raise ValueError("label must be 0, 1 or empty")
                lab.append(-1 if lv == "" else int(lv))
                lt = row[idx["label_ts_ms"]]
                lts.append(int(lt) if lt != "" else -1)
            except ValueError as e:
                sys.exit("train: %s:%d: %s" % (path, lineno, e))
    return (feats, np.array(X, dtype=np.float64).reshape(-1, len(feats)),
            np.array(ts, dtype=np.int64), np.array(lab, dtype=np.int64), np.array(lts, dtype=np.int64))


def split(ts, lab, lts, until, unlabelled):
    """Returns (train mask, train labels, test mask, test labels)."""
    if until is None:
        order = np.sort(ts)
        until = int(order[int(len(order) * 0.8)]) if len(order) else 0
    tr = ts < until
    # what a deployment knew at `until`: labels that had arrived by then
    known = (lab >= 0) & (lts >= 0) & (lts < until)
    y_tr = np.where(known, lab, -1)
    te = ts >= until
    y_te = lab.copy()   # the test set is judged with every label we have
    if unlabelled == "legit":
        y_tr = np.where(y_tr < 0, 0, y_tr)
        y_te = np.where(y_te < 0, 0, y_te)
    else:
        tr = tr & (y_tr >= 0)
        te = te & (y_te >= 0)
    return until, tr, y_tr, te, y_te


def thresholds(scores, y, budget, deny_precision):
    legit = np.sort(scores[y == 0])
    if len(legit) == 0:
        step_up_at = 1.0
    else:
        # smallest threshold with share(legit >= t) <= budget
        k = int(np.floor(budget * len(legit)))
        step_up_at = float(np.nextafter(legit[len(legit) - k - 1], np.inf)) if k < len(legit) else 0.0
        step_up_at = min(step_up_at, 1.0)
    deny_at = 1.0
    cands = np.unique(scores[scores >= step_up_at])
    for t in cands:   # ascending: first threshold that reaches the precision
        flag = scores >= t
        if flag.sum() >= 5 and (y[flag] == 1).mean() >= deny_precision:
            deny_at = float(t)
            break
    return step_up_at, deny_at


def at_threshold(scores, y, t):
    flag = scores >= t
    tp = int(((y == 1) & flag).sum())
    fp = int(((y == 0) & flag).sum())
    pos = int((y == 1).sum())
    neg = int((y == 0).sum())
    return {
        "precision": tp / (tp + fp) if tp + fp else float("nan"),
        "recall": tp / pos if pos else float("nan"),
        "legit_flagged_share": fp / neg if neg else float("nan"),
        "flagged": tp + fp,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", required=True)
    ap.add_argument("--train-until")
    ap.add_argument("--out", required=True)
    ap.add_argument("--iforest-out")
    ap.add_argument("--card")
    ap.add_argument("--friction-budget", type=float, default=0.01)
    ap.add_argument("--deny-precision", type=float, default=0.9)
    ap.add_argument("--trees", type=int, default=200)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--eta", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--unlabelled", choices=("legit", "drop"), default="legit",
                    help="unlabelled events: treat as legit (default) or drop")
    ap.add_argument("--iforest-trees", type=int, default=100)
    ap.add_argument("--iforest-samples", type=int, default=256)
    a = ap.parse_args()

    feats, X, ts, lab, lts = read_features(a.features)
    if len(ts) == 0:
        sys.exit("train: %s has no rows" % a.features)
    until = parse_time(a.train_until) if a.train_until else None
    until, tr, y_tr, te, y_te = split(ts, lab, lts, until, a.unlabelled)
    Xtr, ytr = X[tr], y_tr[tr]
    Xte, yte = X[te], y_te[te]
    if len(ytr) == 0 or len(np.unique(ytr)) < 2:
        sys.exit("train: the training split needs both fraud and legit labels")

    params = {"objective": "binary:logistic", "max_depth": a.depth, "eta": a.eta,
              "seed": a.seed, "base_score": 0.5, "eval_metric": "auc", "nthread": 1}
    dtr = xgb.DMatrix(Xtr, label=ytr, missing=np.nan, feature_names=feats)
    bst = xgb.train(params, dtr, num_boost_round=a.trees)
    name = os.path.splitext(os.path.basename(a.out))[0]
    bst.set_attr(riskgate_name=name, train_until=str(until))
    bst.save_model(a.out)

    metrics = {}
    if len(yte) and len(np.unique(yte)) == 2:
        s = bst.predict(xgb.DMatrix(Xte, missing=np.nan, feature_names=feats)).astype(np.float64)
        step_up_at, deny_at = thresholds(s, yte, a.friction_budget, a.deny_precision)
        metrics = {"auc_roc": float(roc_auc_score(yte, s)),
                   "average_precision": float(average_precision_score(yte, s)),
                   "step_up_at": step_up_at, "deny_at": deny_at,
                   "at_step_up": at_threshold(s, yte, step_up_at),
                   "at_deny": at_threshold(s, yte, deny_at)}
    else:
        print("train: warning: held-out split lacks both classes; no metrics", file=sys.stderr)

    if a.iforest_out:
        # sklearn has no missing values: fit on training rows with medians
        # imputed; riskgate scores missing values by expectation (README).
        med = np.nanmedian(Xtr, axis=0)
        med = np.where(np.isnan(med), 0.0, med)
        Xf = np.where(np.isnan(Xtr), med, Xtr)
        ifo = IsolationForest(n_estimators=a.iforest_trees, max_samples=min(a.iforest_samples, len(Xf)),
                              random_state=a.seed).fit(Xf)
        export_iforest(ifo, feats, a.iforest_out,
                       os.path.splitext(os.path.basename(a.iforest_out))[0])

    summary = {"model": a.out, "train_rows": int(len(ytr)), "train_fraud": int((ytr == 1).sum()),
               "test_rows": int(len(yte)), "test_fraud": int((yte == 1).sum()),
               "train_until": iso(until), "friction_budget": a.friction_budget, **metrics}
    print(json.dumps(summary, indent=2))
    if a.card:
        write_card(a, feats, ts, lab, until, ytr, yte, metrics)
    return 0


def write_card(a, feats, ts, lab, until, ytr, yte, m):
    def f(v):
        return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else "%.4f" % v
    lines = [
        "# Model card: %s" % os.path.basename(a.out), "",
        "Trained by `models/train.py` on `%s`." % os.path.basename(a.features), "",
        "## Data", "",
        "| | |", "|---|---|",
        "| events in file | %d (%s .. %s) |" % (len(ts), iso(int(ts.min())), iso(int(ts.max()))),
        "| labels in file | %d fraud, %d legit, %d unlabelled |" % ((lab == 1).sum(), (lab == 0).sum(), (lab < 0).sum()),
        "| train until | %s (labels known by then only) |" % iso(until),
        "| train rows | %d (%d fraud) |" % (len(ytr), (ytr == 1).sum()),
        "| held-out rows | %d (%d fraud) |" % (len(yte), (yte == 1).sum()),
        "| unlabelled events | %s |" % a.unlabelled,
        "", "## Model", "",
        "XGBoost binary:logistic, %d trees, max depth %d, eta %g, seed %d." % (a.trees, a.depth, a.eta, a.seed),
        "", "## Held-out metrics", "",
    ]
    if m:
        lines += [
            "| metric | value |", "|---|---|",
            "| AUC ROC | %s |" % f(m["auc_roc"]),
            "| average precision | %s |" % f(m["average_precision"]),
            "| friction budget (legit share stepped up) | %g |" % a.friction_budget,
            "| step_up_at | %s |" % f(m["step_up_at"]),
            "| precision / recall at step_up_at | %s / %s |" % (f(m["at_step_up"]["precision"]), f(m["at_step_up"]["recall"])),
            "| legit share flagged at step_up_at | %s |" % f(m["at_step_up"]["legit_flagged_share"]),
            "| deny_at (first threshold with precision >= %g) | %s |" % (a.deny_precision, f(m["deny_at"])),
            "| precision / recall at deny_at | %s / %s |" % (f(m["at_deny"]["precision"]), f(m["at_deny"]["recall"])),
        ]
    else:
        lines.append("No metrics: the held-out split lacks fraud or legit labels.")
    lines += ["", "## Features", ""] + ["- `%s`" % n for n in feats] + [""]
    if a.iforest_out:
        lines += ["## Anomaly model", "", "Isolation forest `%s`: %d trees, max_samples %d, "
                  "fitted on training rows with missing values imputed by the median." %
                  (os.path.basename(a.iforest_out), a.iforest_trees, a.iforest_samples), ""]
    with open(a.card, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
