"""
Query strategies: modAL's and your own
======================================

``query_strategy`` takes a built-in name (``"least_confidence"``, ``"margin"``,
``"entropy"``, ``"random"``) or any function with modAL's signature::

    strategy(learner, X_pool, n_instances=1, **kwargs) -> indices or (indices, scores)

During a query the ``learner`` the function receives resolves to the pruned
proxy: its ``predict_proba``, ``estimator`` (the proxy's skorch net),
``X_training``, ``y_training`` and ``classes_`` are what modAL's strategies
read, so they run unmodified. This example uses
``modAL.uncertainty.margin_sampling`` and a hand-written strategy.
"""

# %%
# Data
# ----
import time

import numpy as np
import torch
from modAL.uncertainty import margin_sampling
from sklearn.datasets import load_digits
from sklearn.metrics import pairwise_distances_argmin_min
from sklearn.model_selection import train_test_split

from prunefuse_sk import PruneFuseActiveLearner

torch.set_num_threads(1)  # tiny networks train fastest on one CPU thread
start = time.perf_counter()
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
seed = np.random.RandomState(0).choice(len(X_train), size=50, replace=False)
pool = np.setdiff1d(np.arange(len(X_train)), seed)


def run_rounds(query_strategy, n_rounds=3, n_per_round=40):
    """Seed, a few query/teach rounds, fuse; return the learner, the fused test accuracy and the
    pool left."""
    learner = PruneFuseActiveLearner(
        query_strategy=query_strategy, proxy_params={"max_epochs": 20}, random_state=0
    )
    learner.fit(X_train[seed], y_train[seed])
    X_pool, y_pool = X_train[pool], y_train[pool]
    for _ in range(n_rounds):
        idx, X_new = learner.query(X_pool, n=n_per_round)
        learner.teach(X_new, y_pool[idx])
        X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
    return learner, learner.fuse().score(X_test, y_test), X_pool


# %%
# A modAL strategy, unmodified
# ----------------------------
# modAL-python 0.4.1 returns bare indices (0.4.2 returns ``(indices, scores)``);
# both are accepted. The last query asks the proxy, after three rounds, which
# five of the samples still unlabelled it would pick next.
learner, accuracy, X_left = run_rounds(margin_sampling)
idx, _ = learner.query(X_left, n=5)
print(f"modAL margin_sampling: fused test accuracy {accuracy:.3f}; next picks {idx.tolist()}")

# %%
# The built-in equivalent by name, which also returns scores
# ----------------------------------------------------------
# Built-in strategies return ``(indices, scores)``, best first, so
# ``query(..., return_scores=True)`` works with them.
learner, accuracy, X_left = run_rounds("margin")
idx, _, scores = learner.query(X_left, n=5, return_scores=True)
print(f"built-in 'margin':     fused test accuracy {accuracy:.3f}; next picks {idx.tolist()}")
print(f"their scores (1 - margin): {np.round(scores, 3).tolist()}")


# %%
# A hand-written strategy
# -----------------------
# Any function with the signature above will do. This one multiplies the
# proxy's least-confidence score by the distance to the nearest labelled
# sample, so that it does not spend a batch on near-duplicates of what is
# already labelled. It returns ``(indices, scores)``, best first; indices
# always refer to the ``X_pool`` it was handed.
def uncertain_and_novel(learner, X_pool, n_instances=1):
    proba = learner.predict_proba(X_pool)
    uncertainty = 1.0 - proba.max(axis=1)
    _, distance = pairwise_distances_argmin_min(X_pool, learner.X_training)
    scores = uncertainty * distance
    best = np.argsort(-scores, kind="stable")[:n_instances]
    return best, scores[best]


learner, accuracy, X_left = run_rounds(uncertain_and_novel)
idx, _, scores = learner.query(X_left, n=5, return_scores=True)
print(f"uncertain_and_novel:   fused test accuracy {accuracy:.3f}; next picks {idx.tolist()}")
print(f"their scores: {np.round(scores, 3).tolist()}")

# %%
# For reference, random sampling with the same budget. One run on 170 labels
# is not a benchmark: differences of a point or two are within run-to-run noise.
_, accuracy, _ = run_rounds("random")
print(f"random:                fused test accuracy {accuracy:.3f}")
print(f"total time: {time.perf_counter() - start:.1f} s")
