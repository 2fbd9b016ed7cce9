"""
The fused classifier in scikit-learn tools
==========================================

``learner.fuse()`` returns a fitted, full-size skorch ``NeuralNetClassifier``
(a :class:`~prunefuse_sk.FusedNeuralNetClassifier`). It is an ordinary
scikit-learn estimator, so it goes into ``cross_val_score``, ``GridSearchCV`` or
a ``Pipeline`` as is.

What makes that useful: its ``module`` parameter holds the fused, *untrained*
weights (``module_`` holds the trained network), so every ``clone`` that those
tools make restarts from the fused weights -- the proxy's knowledge -- rather
than from a random initialization or from the last fit.
"""

# %%
# Active learning to get a labelled set and a fused network
# ---------------------------------------------------------
import time

import numpy as np
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score, train_test_split

from prunefuse_sk import PruneFuseActiveLearner

torch.set_num_threads(1)  # tiny networks train fastest on one CPU thread
start = time.perf_counter()
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
seed = np.random.RandomState(0).choice(len(X_train), size=60, replace=False)
pool = np.setdiff1d(np.arange(len(X_train)), seed)
X_pool, y_pool = X_train[pool], y_train[pool]

learner = PruneFuseActiveLearner(proxy_params={"max_epochs": 20}, random_state=0)
learner.fit(X_train[seed], y_train[seed])
for _ in range(3):
    idx, X_new = learner.query(X_pool, n=40)
    learner.teach(X_new, y_pool[idx])
    X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
clf = learner.fuse()
X_lab, y_lab = learner.X_training, learner.y_training
print(f"{len(X_lab)} labels; fused network test accuracy {clf.score(X_test, y_test):.3f}")

# %%
# Clones start from the fused weights
# -----------------------------------
# ``clf.module`` is the fused starting point, ``clf.module_`` the trained
# network; they are different objects, and a clone initializes from the former.
first = next(clf.module.parameters())
trained = next(clf.module_.parameters())
restarted = next(clone(clf).initialize().module_.parameters())
print(f"module is module_: {clf.module is clf.module_}")
print(f"a clone starts from the fused weights: {torch.equal(restarted, first)}")
print(f"... not from the trained ones: {not torch.equal(restarted, trained)}")

# %%
# Cross-validation of the fused network on the labelled set
# ---------------------------------------------------------
# Each fold clones ``clf`` and trains it from the fused weights. Those weights
# come from a proxy trained on *all* the labels, validation folds included, so
# these scores are optimistic: use them to compare settings, and the held-out
# test set for the final number.
cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
scores = cross_val_score(clf, X_lab, y_lab, cv=cv)
print(f"3-fold accuracy on the {len(X_lab)} labels: {np.round(scores, 3).tolist()} (mean {scores.mean():.3f})")

# %%
# A small grid search over the learning rate
# ------------------------------------------
# ``n_jobs=1`` keeps the example single-process; the refit best model is
# trained on all labels, again from the fused weights.
search = GridSearchCV(clf, {"lr": [0.003, 0.01, 0.03]}, cv=cv, n_jobs=1)
search.fit(X_lab, y_lab)
for lr, mean in zip(search.cv_results_["param_lr"], search.cv_results_["mean_test_score"]):
    print(f"lr={lr:<6} mean CV accuracy {mean:.3f}")
print(f"best: {search.best_params_}; its test accuracy {search.score(X_test, y_test):.3f}")
print(f"total time: {time.perf_counter() - start:.1f} s")
