"""
A small CNN: proxy size, exact fusion, and distillation
=======================================================

PruneFuse works on any skorch network that torch-pruning can trace. Here the
full-size network is :class:`~prunefuse_sk.networks.SmallCNN` (two
conv-BatchNorm-ReLU blocks and a dense head) on the 8x8 digit images.

The example shows

* how much smaller the pruned proxy is (``n_params_proxy_`` vs ``n_params_full_``);
* that fusion is exact: with ``fusion_init="zero"`` every weight outside the
  proxy's positions is zero, so the fused full-size network, before any
  training (``fuse(train=False)``), predicts exactly what the proxy predicts;
* a normal fusion (fresh re-initialization of the other weights) trained with
  knowledge distillation from the proxy (``distillation_weight=0.5``).
"""

# %%
# Data and the full-size network
# ------------------------------
# Images go in as ``(n_samples, channels, height, width)`` float32 arrays.
# ``SmallCNN`` returns logits, hence ``criterion=CrossEntropyLoss``; with only
# a few hundred labels, ``train_split=None`` trains on all of them.
import time

import numpy as np
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier

from prunefuse_sk import PruneFuseActiveLearner
from prunefuse_sk.networks import SmallCNN

torch.set_num_threads(1)  # tiny networks train fastest on one CPU thread
start = time.perf_counter()
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)

net = NeuralNetClassifier(
    SmallCNN,
    module__n_classes=10,
    module__width=16,
    module__hidden=64,
    criterion=torch.nn.CrossEntropyLoss,
    optimizer=torch.optim.Adam,
    lr=0.01,
    max_epochs=15,
    batch_size=64,
    train_split=None,
    iterator_train__shuffle=True,
    verbose=0,
)

# %%
# Prune at initialization and train the proxy
# -------------------------------------------
# ``pruning_ratio=0.5`` removes half the channels of each conv layer and half
# the units of the hidden dense layer; the 10 output units are protected. A
# layer's cost scales with its input *and* output widths, so the proxy needs
# roughly a quarter of the FLOPs.
learner = PruneFuseActiveLearner(net, pruning_ratio=0.5, fusion_init="zero", random_state=0)
learner.fit(X_train[:300], y_train[:300])
print(f"full network: {learner.n_params_full_:,} parameters")
print(
    f"proxy:        {learner.n_params_proxy_:,} parameters "
    f"({learner.n_params_proxy_ / learner.n_params_full_:.0%} of the full network)"
)
print(f"proxy test accuracy: {learner.score(X_test, y_test):.3f}")

# %%
# Where did each proxy tensor come from?
# --------------------------------------
# ``kept_indices_`` records, for every proxy tensor, the positions of the
# full-size tensor it was cut from; fusion writes the trained values back there.
for name in ("features.0.weight", "features.1.running_mean", "head.1.weight", "head.3.weight"):
    record = learner.kept_indices_[name]
    proxy_shape = tuple(learner.proxy_.module_.state_dict()[name].shape)
    print(f"{name:24s} full {str(record.full_shape):16s} -> proxy {proxy_shape}")

# %%
# Fusion is exact: zero-filled fusion reproduces the proxy
# --------------------------------------------------------
# With ``fusion_init="zero"`` and ``train=False`` the fused network has not
# been trained at all; the zeros outside the proxy's positions contribute
# nothing, so in eval mode its outputs equal the proxy's.
fused_untrained = learner.fuse(train=False)
proxy_proba = learner.proxy_.predict_proba(X_test)
fused_proba = fused_untrained.predict_proba(X_test)
print(f"largest probability difference: {np.abs(proxy_proba - fused_proba).max():.2e}")
print(
    f"same predictions on all {len(X_test)} test images: "
    f"{bool((proxy_proba.argmax(1) == fused_proba.argmax(1)).all())}"
)

# %%
# A normal fusion, trained with distillation from the proxy
# ---------------------------------------------------------
# The paper's default fills the other weights with a fresh initialization
# (``fusion_init="reinit"``). ``distillation_weight=0.5`` trains the fused
# network on ``0.5 * CE + 0.5 * T² * KL(proxy_T || fused_T)``.
# ``set_params`` changes only how fusion works: the proxy stays as trained.
learner.set_params(fusion_init="reinit", distillation_weight=0.5, temperature=4.0)
clf = learner.fuse()
print(f"fused + distilled test accuracy: {clf.score(X_test, y_test):.3f}")

# %%
# The same fusion without distillation, for comparison. ``clone`` of the fused
# classifier restarts from the fused (untrained) weights, so the two runs
# differ only in the loss.
plain = clone(clf).set_params(distillation_weight=0.0).fit(learner.X_training, learner.y_training)
print(f"fused, no distillation, test accuracy: {plain.score(X_test, y_test):.3f}")
print(f"total time: {time.perf_counter() - start:.1f} s")
