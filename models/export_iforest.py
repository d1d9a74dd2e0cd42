#!/usr/bin/python3
"""export_iforest.py - export a fitted sklearn IsolationForest to riskgate's
iforest JSON (format "riskgate-iforest", version 1; see models/README.md).

Library use:  export_iforest(model, feature_names, path, name=None)
Command line: export_iforest.py --pickle model.pkl --features a,b,c --out anomaly.json
              (the pickle must hold a fitted sklearn.ensemble.IsolationForest)

The tree arrays are copied verbatim from sklearn (tree_.feature, threshold,
children_left, children_right, n_node_samples); features are remapped to
the forest's column names so riskgate can resolve them to catalog slots.
"""
import argparse
import json
import math
import sys

import numpy as np

FORMAT = "riskgate-iforest"
VERSION = 1


def to_dict(model, feature_names, name=None):
    names = list(feature_names)
    if model.n_features_in_ != len(names):
        raise ValueError("model has %d features, %d names given" % (model.n_features_in_, len(names)))
    # sklearn (1.2) indexes X[:, features] only when max_features < n_features;
    # otherwise the tree feature index is the column of X itself.
    subsample = model._max_features != model.n_features_in_
    trees = []
    for est, feats in zip(model.estimators_, model.estimators_features_):
        t = est.tree_
        feature = []
        for i in range(t.node_count):
            f = int(t.feature[i])
            if t.children_left[i] == -1:
                feature.append(-1)
            else:
                feature.append(int(feats[f]) if subsample else f)
        trees.append({
            "feature": feature,
            "threshold": [float(v) if t.children_left[i] != -1 else 0.0
                          for i, v in enumerate(t.threshold)],
            "left": [int(v) for v in t.children_left],
            "right": [int(v) for v in t.children_right],
            "n_node_samples": [int(v) for v in t.n_node_samples],
        })
    out = {
        "format": FORMAT,
        "version": VERSION,
        "feature_names": names,
        "n_samples": int(model.max_samples_),
        "offset": float(model.offset_),
        "trees": trees,
    }
    if name:
        out["name"] = name
    return out


def export_iforest(model, feature_names, path, name=None):
    d = to_dict(model, feature_names, name)
    for t in d["trees"]:
        for v in t["threshold"]:
            if not math.isfinite(v):
                raise ValueError("non-finite threshold in forest")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(d, f, separators=(",", ":"))
        f.write("\n")
    return d


def main():
    import pickle
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pickle", required=True)
    ap.add_argument("--features", required=True, help="comma-separated column names")
    ap.add_argument("--out", required=True)
    ap.add_argument("--name")
    a = ap.parse_args()
    with open(a.pickle, "rb") as f:
        model = pickle.load(f)
    export_iforest(model, a.features.split(","), a.out, a.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
