"""
Every built-in query strategy, side by side
===========================================

Runs each strategy of ``prunefuse_sk.strategies.STRATEGIES`` -- the
uncertainty measures (``"least_confidence"``, ``"margin"``, ``"entropy"``), the
``"random"`` baseline, the diversity strategies on the proxy's embeddings
(``"kcenter"``, ``"badge"``) and Monte Carlo dropout BALD (``"bald"``) -- for
three query/teach rounds from the same labelled seed set, and prints the proxy's
test accuracy after every round.

BALD needs dropout layers, so the full-size network is the default MLP with
``module__dropout=0.2``; the pruned proxy inherits them. Strategy-specific
settings go through ``learner.query(..., **strategy_kwargs)``, here ``n_passes``
for BALD.
"""

# %%
# Data and network
# ----------------
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from prunefuse_sk import PruneFuseActiveLearner, default_estimator
from prunefuse_sk.strategies import STRATEGIES

torch.set_num_threads(1)  # tiny networks train fastest on one CPU thread
start = time.perf_counter()
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
seed = np.random.RandomState(0).choice(len(X_train), size=50, replace=False)
pool = np.setdiff1d(np.arange(len(X_train)), seed)

# 64 inputs, 10 classes; dropout after every hidden layer, so that "bald" works
net = default_estimator(64, 10).set_params(module__dropout=0.2)

# per-strategy keyword arguments, passed through query(..., **kwargs)
STRATEGY_KWARGS = {"bald": {"n_passes": 10}}


def run_rounds(strategy, n_rounds=3, n_per_round=40):
    """Seed set, ``n_rounds`` query/teach rounds; (labels, proxy test accuracy) after each
    training."""
    learner = PruneFuseActiveLearner(net, query_strategy=strategy, random_state=0)
    learner.fit(X_train[seed], y_train[seed])
    X_pool, y_pool = X_train[pool], y_train[pool]
    curve = [(len(learner.X_training), learner.score(X_test, y_test))]
    query_seconds = 0.0
    for _ in range(n_rounds):
        tic = time.perf_counter()
        idx, X_new = learner.query(X_pool, n=n_per_round, **STRATEGY_KWARGS.get(strategy, {}))
        query_seconds += time.perf_counter() - tic
        learner.teach(X_new, y_pool[idx])
        X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
        curve.append((len(learner.X_training), learner.score(X_test, y_test)))
    return curve, query_seconds


# %%
# Three rounds per strategy
# -------------------------
# Every learner starts from the same seed set and the same ``random_state``,
# so the pruned initialization and the round-0 proxy are identical; the
# strategies differ from the first query on.
results = {name: run_rounds(name) for name in STRATEGIES}

labels = [n for n, _ in next(iter(results.values()))[0]]
header = f"{'strategy':<18}" + "".join(f"{n:>7d}" for n in labels) + f"{'query s':>10}"
print("proxy test accuracy by number of labels")
print(header)
print("-" * len(header))
for name, (curve, query_seconds) in results.items():
    print(f"{name:<18}" + "".join(f"{acc:7.3f}" for _, acc in curve) + f"{query_seconds:10.3f}")

# %%
# One run on 170 labels of an easy data set is not a benchmark: a small proxy
# trained on a few dozen labels is noisy, so differences of a few points, and
# dips from one round to the next, are within run-to-run noise (change
# ``random_state`` to see it).
# ``query s`` is the time spent in the three queries, pool scoring included:
# BALD runs ``n_passes`` forward passes over the pool, k-centers also embeds
# the labelled set, the others need a single pass.
print(f"total time: {time.perf_counter() - start:.1f} s")
