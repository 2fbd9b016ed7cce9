"""
Active learning through a scikit-learn Pipeline
===============================================

:class:`~prunefuse_sk.PruneFuseActiveLearner` is a scikit-learn estimator, so it
can be the last step of a ``Pipeline``: ``fit``, ``predict`` and ``score`` go
through the preprocessing steps as usual. A ``Pipeline`` has no ``query`` or
``teach``, though; :func:`~prunefuse_sk.pipeline_query` and
:func:`~prunefuse_sk.pipeline_teach` fill that gap:

* ``pipeline_query(pipe, X_pool, n)`` transforms the *raw* pool with the fitted
  preprocessing steps, lets the learner choose, and returns indices into the raw
  pool together with the *raw* rows -- the ones a person would label;
* ``pipeline_teach(pipe, X_new, y_new)`` transforms the raw new rows the same
  way and teaches the learner.

The preprocessing steps are fitted once, by ``pipe.fit`` on the seed set, and are
**not** refitted when samples are taught: the proxy was trained on features
scaled with the seed set's statistics, and changing the scaling under it would
change what it has learnt.
"""

# %%
# Raw data: pixel intensities 0..16, not scaled
# ----------------------------------------------
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from prunefuse_sk import PruneFuseActiveLearner, pipeline_query, pipeline_teach

torch.set_num_threads(1)  # tiny networks train fastest on one CPU thread
start = time.perf_counter()
X, y = load_digits(return_X_y=True)  # float64 counts in 0..16; the scaler handles them
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
seed = np.random.RandomState(0).choice(len(X_train), size=60, replace=False)
pool = np.setdiff1d(np.arange(len(X_train)), seed)
X_seed, y_seed = X_train[seed], y_train[seed]
X_pool, y_pool = X_train[pool], y_train[pool]
print(
    f"seed: {len(X_seed)}, pool: {len(X_pool)}, test: {len(X_test)}; "
    f"pixel range {X.min():.0f}..{X.max():.0f}"
)

# %%
# Fit, predict and score the pipeline on the seed set
# ---------------------------------------------------
# ``pipe.fit`` fits the scaler on the seed set, then fits the learner (prunes a
# fresh initialization of the default MLP and trains the proxy) on the scaled
# seed set. ``predict`` and ``score`` take raw rows.
pipe = Pipeline(
    [
        ("scale", StandardScaler()),
        ("al", PruneFuseActiveLearner(pruning_ratio=0.5, random_state=0)),
    ]
)
pipe.fit(X_seed, y_seed)
seed_mean = pipe["scale"].mean_.copy()
print(f"predictions for 8 test rows: {pipe.predict(X_test[:8]).tolist()}")
print(f"true labels:                 {y_test[:8].tolist()}")
print(f"proxy test accuracy after the seed set: {pipe.score(X_test, y_test):.3f}")

# %%
# Query and teach through the pipeline
# ------------------------------------
# The indices refer to the raw ``X_pool`` passed in, and the rows returned are
# raw rows (``X_new`` is exactly ``X_pool[idx]``, still in 0..16). Keep your own
# copy of the raw labelled rows if you need them: the learner's ``X_training``
# holds them as the scaler transformed them.
X_labelled, y_labelled = X_seed, y_seed
for round_ in range(1, 4):
    idx, X_new, scores = pipeline_query(pipe, X_pool, n=40, return_scores=True)
    assert np.array_equal(X_new, X_pool[idx])  # raw rows, not scaled ones
    pipeline_teach(pipe, X_new, y_pool[idx])  # "label" them: a look-up here
    X_labelled = np.concatenate([X_labelled, X_new])
    y_labelled = np.concatenate([y_labelled, y_pool[idx]])
    X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
    print(
        f"round {round_}: top score {scores[0]:.3f}, "
        f"raw rows in {X_new.min():.0f}..{X_new.max():.0f}; "
        f"{len(pipe['al'].X_training)} labels, proxy test accuracy {pipe.score(X_test, y_test):.3f}"
    )

# %%
# The scaler was fitted on the seed set, and stays so
# ---------------------------------------------------
# ``pipeline_teach`` only *transforms* the new rows. The learner's labelled set
# is therefore the raw labelled rows scaled with the seed set's statistics.
print(
    f"scaler statistics unchanged since pipe.fit: {np.array_equal(pipe['scale'].mean_, seed_mean)}"
)
print(
    "learner's X_training == scaler.transform(raw labelled rows): "
    f"{np.allclose(pipe['al'].X_training, pipe['scale'].transform(X_labelled), atol=1e-5)}"
)

# %%
# To rescale with every label gathered so far, call ``pipe.fit`` on the raw
# labelled rows. Note that this starts the active learning over: the learner's
# ``fit`` prunes a fresh initialization and trains a new proxy. We do not do it
# here; we fuse the proxy trained over the rounds instead.
#
# Fuse and score through the pipeline
# -----------------------------------
# ``fuse`` is called on the learner step. Afterwards the pipeline's
# ``predict``/``score`` use the fused full-size network.
clf = pipe["al"].fuse()
print(f"fused network test accuracy through the pipeline: {pipe.score(X_test, y_test):.3f}")

# %%
# ``clf`` itself is an ordinary skorch classifier: it expects inputs already
# scaled, and as float32 (skorch does not convert; the scaler returns float64).
X_test_scaled = pipe[:-1].transform(X_test).astype(np.float32)
print(f"the same, with the fused classifier on scaled rows: {clf.score(X_test_scaled, y_test):.3f}")
print(f"total time: {time.perf_counter() - start:.1f} s")
