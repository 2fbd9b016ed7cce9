"""
Saving and loading: pickle, joblib and devices
==============================================

Everything ``prunefuse_sk`` returns pickles: the learner before ``fit``, after
``fit`` (with its proxy, its labelled set and its random stream), after
``fuse``, and the fused classifier itself. ``pickle`` and ``joblib.dump``
give the same objects back, with identical predictions. This is also how
``GridSearchCV(n_jobs=...)`` and the dask backend ship estimators to their
workers.

The last section moves a fitted classifier from one device to another, the way
skorch supports it.

Only unpickle files you trust: unpickling can run arbitrary code. Pickles are
also tied to the versions of ``prunefuse_sk``, skorch and torch that wrote them;
for long-term storage of weights, see ``save_params`` below.
"""

# %%
# Data and a small network
# ------------------------
import io
import pickle
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier

from prunefuse_sk import PruneFuseActiveLearner
from prunefuse_sk.networks import MLP

torch.set_num_threads(1)  # tiny networks train fastest on one CPU thread
start = time.perf_counter()
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
X_seed, y_seed, X_pool, y_pool = X_train[:100], y_train[:100], X_train[100:], y_train[100:]

net = NeuralNetClassifier(
    MLP,
    module__n_features=64,
    module__n_classes=10,
    module__hidden=(128, 64),
    criterion=torch.nn.CrossEntropyLoss,
    optimizer=torch.optim.Adam,
    lr=0.01,
    max_epochs=20,
    batch_size=32,
    train_split=None,
    iterator_train__shuffle=True,
    verbose=0,
)
tmp = tempfile.TemporaryDirectory()  # removed at the end
folder = Path(tmp.name)


def pickle_roundtrip(obj):
    return pickle.loads(pickle.dumps(obj))


def joblib_roundtrip(obj, name):
    path = folder / f"{name}.joblib"
    joblib.dump(obj, path)
    return joblib.load(path)


def same(a, b):
    return np.array_equal(a.predict_proba(X_test), b.predict_proba(X_test))


# %%
# An unfitted learner
# -------------------
# Just its parameters. Fitted after the round trip, it gives the same learner as
# the original: with an integer ``random_state`` everything is seeded.
learner = PruneFuseActiveLearner(net, pruning_ratio=0.6, random_state=0)
restored = pickle_roundtrip(learner)
print(
    f"parameters kept: pruning_ratio={restored.pruning_ratio}, random_state={restored.random_state}"
)
learner.fit(X_seed, y_seed)
restored.fit(X_seed, y_seed)
print(f"fitted after the round trip, same predictions: {same(learner, restored)}")

# %%
# A fitted learner, in the middle of active learning
# --------------------------------------------------
# The proxy, the labelled set and the random stream travel too, so a restored
# learner carries on exactly like the original: the next query picks the same
# samples, even one that draws a random subset of the pool to score
# (``max_candidates``).
for how, roundtrip in [
    ("pickle", pickle_roundtrip),
    ("joblib", lambda obj: joblib_roundtrip(obj, "learner")),
]:
    copy = roundtrip(learner)
    idx_original, _ = learner.query(X_pool, n=20, max_candidates=500)
    idx_copy, _ = copy.query(X_pool, n=20, max_candidates=500)
    print(
        f"{how}: same predictions {same(learner, copy)}, {len(copy.X_training)} labels, "
        f"same next query {np.array_equal(idx_original, idx_copy)}"
    )

learner.teach(X_pool[idx_original], y_pool[idx_original])
print(f"taught: {len(learner.X_training)} labels")

# %%
# A fused learner and the fused classifier
# ----------------------------------------
# After ``fuse`` the learner predicts with the fused network; both it and the
# returned classifier round-trip with identical predictions.
clf = learner.fuse()
print(f"fused network test accuracy: {clf.score(X_test, y_test):.3f}")
for how, roundtrip in [
    ("pickle", pickle_roundtrip),
    ("joblib", lambda obj: joblib_roundtrip(obj, "fused")),
]:
    print(
        f"{how}: fused learner same predictions {same(learner, roundtrip(learner))}, "
        f"fused classifier same predictions {same(clf, roundtrip(clf))}"
    )

# %%
# The restored classifier still carries the fused *starting* weights as its
# ``module`` parameter, so clones of it -- in ``GridSearchCV``, say -- restart
# from them exactly as clones of the original do.
restored_clf = joblib_roundtrip(clf, "fused")
start_weights = next(clone(restored_clf).initialize().module_.parameters())
print(
    "a clone of the restored classifier starts from the fused weights: "
    f"{torch.equal(start_weights, next(clf.module.parameters()))}"
)

# %%
# Moving a fitted classifier to another device
# --------------------------------------------
# Devices are skorch's business, and skorch offers two ways:
#
# * **Pickle.** A skorch net pickled on a GPU machine and unpickled on a
#   machine without CUDA is loaded onto the CPU: skorch maps the tensors it
#   tracks (``module_``, ``criterion_``, ``optimizer_``) to the CPU, sets
#   ``device="cpu"`` and warns with a ``DeviceWarning``. The fused classifier
#   keeps everything else it holds (the fused starting weights, the
#   distillation teacher) on the CPU, so it moves this way too.
# * **Parameters.** Save the trained weights with ``save_params``, build an
#   unfitted copy with the device you want, ``initialize`` it and
#   ``load_params``: the weights are loaded onto that copy's device. This works
#   in both directions and keeps no pickled code around, so it is also the way
#   to store weights for the long term.
#
# ``set_params(device=...)`` on a fitted net is not enough: it changes the
# attribute but does not move ``module_``. Nor is re-initializing alone: a
# fresh copy of the fused classifier starts from the fused, *untrained*
# weights, which is why the trained ones are loaded afterwards.
target = "cuda" if torch.cuda.is_available() else "cpu"
buffer = io.BytesIO()  # or a file name: clf.save_params(f_params="fused.pt")
clf.save_params(f_params=buffer)
moved = clone(clf).set_params(device=target).initialize()
print(
    f"on {target}, initialized only: same predictions as clf? "
    f"{np.array_equal(moved.predict(X_test), clf.predict(X_test))}"
)
buffer.seek(0)
moved.load_params(f_params=buffer)
print(
    f"on {target}, after load_params: {next(moved.module_.parameters()).device}, "
    f"same predictions {same(moved, clf)}"
)

# %%
# A learner keeps the device of its ``estimator``: its proxy trains and scores
# there and ``fuse`` trains the fused network there. Resume a learner fitted on
# a GPU on a machine with a GPU; to go on without one, ``fuse`` it first and move
# the fused classifier as above.
tmp.cleanup()
print(f"total time: {time.perf_counter() - start:.1f} s")
