"""
Quickstart: a few active-learning rounds, then fuse
====================================================

The whole PruneFuse loop with the default network (a small MLP sized from the data):

1. ``fit`` on a small labelled seed set prunes the full network at its random
   initialization and trains the small *proxy*;
2. ``query`` scores the unlabelled pool with the proxy (least confidence) and
   ``teach`` adds the labels of the chosen samples;
3. ``fuse`` writes the trained proxy back into the full-size network and trains
   it on every label gathered.

The labels of the pool are known here, so "labelling" is a look-up.
"""

# %%
# Data: scikit-learn's digits, split into a seed set, a pool and a test set
# -------------------------------------------------------------------------
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from prunefuse_sk import PruneFuseActiveLearner

torch.set_num_threads(1)  # tiny networks train fastest on one CPU thread
start = time.perf_counter()
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)  # skorch wants float32 features
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)

rng = np.random.RandomState(0)
seed = rng.choice(len(X_train), size=50, replace=False)
pool = np.setdiff1d(np.arange(len(X_train)), seed)
X_pool, y_pool = X_train[pool], y_train[pool]
print(f"seed set: {len(seed)} labels, pool: {len(X_pool)} unlabelled, test: {len(X_test)}")

# %%
# Fit: prune at initialization and train the proxy on the seed set
# ----------------------------------------------------------------
learner = PruneFuseActiveLearner(
    pruning_ratio=0.5, query_strategy="least_confidence", random_state=0
)
learner.fit(X_train[seed], y_train[seed])
print(f"proxy: {learner.n_params_proxy_:,} parameters, full network: {learner.n_params_full_:,}")
print(f"proxy accuracy on the test set: {learner.score(X_test, y_test):.3f}")

# %%
# Three query/teach rounds
# ------------------------
# ``query`` returns indices into the pool it was given, plus the rows; the
# labelled rows are removed from the pool before the next round.
for round_ in range(1, 4):
    idx, X_new = learner.query(X_pool, n=40)
    learner.teach(X_new, y_pool[idx])
    X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
    print(
        f"round {round_}: {len(learner.X_training)} labels, "
        f"proxy test accuracy {learner.score(X_test, y_test):.3f}"
    )

# %%
# Fuse and score
# --------------
# ``fuse`` returns a fitted, full-size skorch ``NeuralNetClassifier``; once it
# has run, the learner's own ``predict``/``score`` use the fused network too.
clf = learner.fuse()
print(f"fused network test accuracy: {clf.score(X_test, y_test):.3f}")
print(f"learner.score now uses the fused network: {learner.score(X_test, y_test):.3f}")
print(f"total time: {time.perf_counter() - start:.1f} s")
