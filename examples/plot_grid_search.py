"""
Model selection: GridSearchCV and cross_val_score
=================================================

Two different estimators can be tuned, and they answer different questions.

* The **learner**, :class:`~prunefuse_sk.PruneFuseActiveLearner`. In
  ``GridSearchCV`` or ``cross_val_score`` each candidate is ``fit`` on the
  training folds and ``score``-d on the validation fold, and ``fit`` + ``score``
  evaluates the *proxy* trained on the labels it is given. Parameters that shape
  the proxy (``pruning_ratio``, ``importance``, ``proxy_params``) change the
  score; ``query_strategy`` does not -- it only decides which samples get labelled
  next, which matters in the active-learning loop, not in a fit on fixed labels.
  The fusion parameters do not either, since nothing is fused.
* The **fused classifier** returned by ``learner.fuse()``, a
  :class:`~prunefuse_sk.FusedNeuralNetClassifier` (a skorch
  ``NeuralNetClassifier``). Its ``module`` parameter holds the fused,
  *untrained* weights, so every clone that ``GridSearchCV`` makes starts from
  them: the search tunes how the fused network is trained (``lr``,
  ``max_epochs``, ...), always from the proxy's knowledge.
"""

# %%
# Data and a few active-learning rounds
# -------------------------------------
# Besides the seed set, the pool and the test set, we keep a small labelled
# *validation* set aside: it is never taught to the learner, and we use it to
# compare training settings of the fused network (see below for why).
import time

import numpy as np
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, PredefinedSplit, cross_val_score, train_test_split

from prunefuse_sk import PruneFuseActiveLearner

torch.set_num_threads(1)  # tiny networks train fastest on one CPU thread
start = time.perf_counter()
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
X_train, X_val, y_train, y_val = train_test_split(
    X_train, y_train, test_size=300, stratify=y_train, random_state=0
)
seed = np.random.RandomState(0).choice(len(X_train), size=60, replace=False)
pool = np.setdiff1d(np.arange(len(X_train)), seed)
X_pool, y_pool = X_train[pool], y_train[pool]

learner = PruneFuseActiveLearner(pruning_ratio=0.5, random_state=0)
learner.fit(X_train[seed], y_train[seed])
for _ in range(3):
    idx, X_new = learner.query(X_pool, n=40)
    learner.teach(X_new, y_pool[idx])
    X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
X_lab, y_lab = learner.X_training, learner.y_training
print(f"{len(X_lab)} labels gathered, {len(X_val)} held out for validation, {len(X_test)} for test")

# %%
# Tuning the learner
# ------------------
# Each candidate is cloned, ``fit`` on two thirds of the labels (pruning a fresh
# initialization and training a proxy) and scored on the rest by that proxy.
# ``n_jobs=2`` runs the candidates in two worker processes (joblib's loky
# backend).
search = GridSearchCV(
    PruneFuseActiveLearner(random_state=0),
    {"pruning_ratio": [0.5, 0.7], "query_strategy": ["least_confidence", "entropy"]},
    cv=3,
    n_jobs=2,
)
search.fit(X_lab, y_lab)
for params, mean, rank in zip(
    search.cv_results_["params"],
    search.cv_results_["mean_test_score"],
    search.cv_results_["rank_test_score"],
):
    print(
        f"pruning_ratio={params['pruning_ratio']}  {params['query_strategy']:<16}  "
        f"CV accuracy {mean:.3f}  rank {rank}"
    )
print(f"best: {search.best_params_}")

# %%
# The scores are low because the labelled set holds the samples the proxy found
# hardest, and each fold trains on two thirds of 180 labels only.
#
# The two strategies score exactly the same at each pruning ratio: ``fit`` never
# queries, so the strategy plays no part. ``GridSearchCV`` breaks the tie by the
# order of the grid, so its ``best_params_['query_strategy']`` means nothing
# here. To compare strategies, run the active-learning loop with each and score
# the results on held-out data (see
# :ref:`sphx_glr_auto_examples_plot_modal_strategy.py`).
#
# ``best_estimator_`` is a fitted learner (refit on all the labels), so the loop
# can go on from it with ``query``/``teach``. ``cross_val_score`` works the same
# way:
scores = cross_val_score(
    PruneFuseActiveLearner(pruning_ratio=0.7, random_state=0), X_lab, y_lab, cv=3
)
print(
    f"cross_val_score, pruning_ratio=0.7: {np.round(scores, 3).tolist()} (mean {scores.mean():.3f})"
)

# %%
# The fused classifier: clones start from the fused weights
# ---------------------------------------------------------
# ``clf.module`` is the fused starting point, ``clf.module_`` the trained
# network; they are different objects, and a clone initializes from the former.
clf = learner.fuse()
print(
    f"fused network: validation accuracy {clf.score(X_val, y_val):.3f}, "
    f"test accuracy {clf.score(X_test, y_test):.3f}"
)
first = next(clf.module.parameters())
restarted = next(clone(clf).initialize().module_.parameters())
print(f"module is module_: {clf.module is clf.module_}")
print(f"a clone starts from the fused weights: {torch.equal(restarted, first)}")
print(
    f"... not from the trained ones: {not torch.equal(restarted, next(clf.module_.parameters()))}"
)

# %%
# Why the validation set: the fused weights come from a proxy trained on *every*
# label, so in a cross-validation on the labelled set each validation fold has
# already been seen, and the scores are optimistic -- compare them with the
# held-out validation accuracy above. (Cross-validation on an actively chosen
# labelled set is biased the other way too: it is made of the samples the proxy
# found hardest.) Use such scores to compare settings at most, never as an
# estimate of accuracy on new data.
scores = cross_val_score(clf, X_lab, y_lab, cv=3)
print(
    f"cross_val_score on the labelled set: {np.round(scores, 3).tolist()} "
    f"(mean {scores.mean():.3f})"
)

# %%
# Tuning the fused classifier
# ---------------------------
# ``PredefinedSplit`` makes one split: train on the labelled set, score on the
# held-out validation set. ``max_epochs=0`` is in the grid on purpose: such a
# candidate is the fused network exactly as ``fuse(train=False)`` builds it.
X_all, y_all = np.concatenate([X_lab, X_val]), np.concatenate([y_lab, y_val])
split = PredefinedSplit(np.r_[np.full(len(X_lab), -1), np.zeros(len(X_val), dtype=int)])
search = GridSearchCV(clf, {"lr": [0.001, 0.01], "max_epochs": [0, 10, 30]}, cv=split, n_jobs=2)
search.fit(X_all, y_all)
for params, mean in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
    print(
        f"lr={params['lr']:<6} max_epochs={params['max_epochs']:<3} validation accuracy {mean:.3f}"
    )
print(
    f"best: {search.best_params_}; "
    "refit on labelled + validation sets, "
    f"test accuracy {search.score(X_test, y_test):.3f}"
)

# %%
# Both ``max_epochs=0`` candidates score what the untrained fused network
# scores (the learning rate plays no part without training), and a candidate is
# nothing but ``clone(clf).set_params(...).fit(...)``: with no epochs it returns
# the fused network unchanged. (``fuse(train=False)`` also replaces
# ``learner.fused_``; fusing again with ``fuse()`` gives back the same trained
# network, since fusion draws from its own fixed random stream.)
untrained = learner.fuse(train=False)
zero = clone(clf).set_params(max_epochs=0).fit(X_lab, y_lab)
print(f"fuse(train=False) validation accuracy: {untrained.score(X_val, y_val):.3f}")
print(
    "max_epochs=0 candidate == fuse(train=False): "
    f"{np.array_equal(zero.predict(X_test), untrained.predict(X_test))}"
)
print(
    "largest probability difference: "
    f"{np.abs(zero.predict_proba(X_test) - untrained.predict_proba(X_test)).max():.1e}"
)
print(
    "cross_val_score with the same split: "
    f"{cross_val_score(clf, X_all, y_all, cv=split).round(3).tolist()}"
)
print(f"total time: {time.perf_counter() - start:.1f} s")
