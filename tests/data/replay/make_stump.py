#!/usr/bin/python3
"""make_stump.py - writes tests/data/replay/stump.json: an XGBoost model of
one depth-1 tree on `amount` (amount < ~50 scores low, >= scores high), so
test_replay.c can check ranking metrics (AUC, AP, top users per day, the
threshold recommendation) against figures computed by hand."""
import os

import numpy as np
import xgboost as xgb

X = np.array([[1.0]] * 50 + [[100.0]] * 50)
y = np.array([0] * 50 + [1] * 50)
d = xgb.DMatrix(X, label=y, feature_names=["amount"])
b = xgb.train({"objective": "binary:logistic", "max_depth": 1, "eta": 1.0, "base_score": 0.5,
               "seed": 0, "nthread": 1}, d, num_boost_round=1)
b.save_model(os.path.join(os.path.dirname(os.path.abspath(__file__)), "stump.json"))
print(b.predict(xgb.DMatrix(np.array([[1.0], [100.0]]), feature_names=["amount"])))
