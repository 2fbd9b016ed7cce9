"""
Save, resume, and never lose a label
====================================

A labelling session spans days and machines. This example saves a learner to a
checkpoint, resumes it as a new process would, and checks that it carries on
exactly as the original; then it shows where every label came from, what
happens when retraining the proxy fails half-way, and that a tampered
checkpoint is refused without running its code.
"""

# %%
# A session on digits
# -------------------
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback

from prunefuse_sk import PruneFuseActiveLearner, UnsafeCheckpointError
from prunefuse_sk.networks import MLP

torch.set_num_threads(1)  # tiny networks train fastest on one CPU thread
start = time.perf_counter()
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)


def make_net():
    """The full-size network; its code is not stored in checkpoints, so both sessions build it."""
    return NeuralNetClassifier(
        MLP,
        module__n_features=64,
        module__n_classes=10,
        module__hidden=(128, 64),
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.01,
        max_epochs=15,
        batch_size=32,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
    )


def label_rounds(learner, labelled, n_rounds, n=40):
    """Query, ask the oracle (here: the known labels), teach; returns the labelled row numbers."""
    for _ in range(n_rounds):
        pool = np.setdiff1d(np.arange(len(X_train)), labelled)
        idx, rows = learner.query(X_train[pool], n=n)
        learner.teach(rows, y_train[pool][idx])
        labelled = np.concatenate([labelled, pool[idx]])
    return labelled


learner = PruneFuseActiveLearner(make_net(), pruning_ratio=0.5, random_state=0)
seed = np.arange(60)
learner.fit(X_train[seed], y_train[seed])
labelled = label_rounds(learner, seed, 2)
print(
    f"{len(learner.X_training)} labels so far; proxy accuracy {learner.score(X_test, y_test):.3f}"
)

# %%
# Save a checkpoint
# -----------------
# One file: JSON metadata, ``.npy`` arrays and tensor state dicts. The write
# is atomic (temporary file, then rename), so a crash while saving leaves the
# previous checkpoint as it was.
tmp = tempfile.TemporaryDirectory()  # removed at the end
folder = Path(tmp.name)
path = learner.save(folder / "session.pfsk")
with zipfile.ZipFile(path) as archive:
    for info in archive.infolist():
        print(f"{info.filename:32s} {info.file_size:>9,d} bytes")

# %%
# Resume, as a new process would
# ------------------------------
# ``load`` needs the same unfitted network (its code is not in the file). The
# resumed learner picks the same samples as the original, round after round.
resumed = PruneFuseActiveLearner.load(path, estimator=make_net())
labelled_original = label_rounds(learner, labelled, 2)
labelled_resumed = label_rounds(resumed, labelled, 2)
print("same samples chosen:", np.array_equal(labelled_original, labelled_resumed))
clf_original, clf_resumed = learner.fuse(), resumed.fuse()
print(
    "same fused predictions:",
    np.array_equal(clf_original.predict(X_test), clf_resumed.predict(X_test)),
)
print(f"fused accuracy: {clf_resumed.score(X_test, y_test):.3f}")

# %%
# Where each label came from
# --------------------------
# ``labelling_round_`` says which round added each labelled sample (0 is the
# seed set), ``query_scores_`` the least-confidence score it had when it was
# chosen. Later rounds pick samples the proxy is less unsure about, as it
# learns.
print("round  labels  mean query score")
for round_ in np.unique(resumed.labelling_round_):
    in_round = resumed.labelling_round_ == round_
    scores = resumed.query_scores_[in_round]
    mean = "  (seed set)" if np.isnan(scores).all() else f"{np.nanmean(scores):10.3f}"
    print(f"{round_:5d}  {in_round.sum():6d}  {mean}")

# %%
# When retraining fails, the answers stay
# ---------------------------------------
# A skorch callback that fails once stands in for CUDA running out of memory.
# ``teach`` has stored the labels before retraining, so none is lost; the old
# proxy stays in place, marked stale, and ``refit()`` retries.


class FailOnce(Callback):
    armed = False

    def on_epoch_end(self, net, **kwargs):
        if FailOnce.armed:
            FailOnce.armed = False
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")


resumed.set_params(proxy_params={"callbacks": [("fail_once", FailOnce())]})
pool = np.setdiff1d(np.arange(len(X_train)), labelled_resumed)
idx, rows = resumed.query(X_train[pool], n=40)
FailOnce.armed = True
try:
    resumed.teach(rows, y_train[pool][idx])
except torch.OutOfMemoryError as exc:
    print("teach failed:", exc)
print(f"labels kept: {len(resumed.X_training)}; proxy stale: {resumed.proxy_stale_}")
resumed.refit()
print(
    f"after refit(): proxy stale: {resumed.proxy_stale_}, "
    f"trained on {resumed.history_[-1]['n_labelled']} labels"
)

# %%
# A tampered checkpoint is refused
# --------------------------------
# Someone replaces the proxy's weights with a pickle that would run code when
# unpickled. ``load`` reads tensors with ``torch.load(weights_only=True)`` and
# arrays with ``allow_pickle=False``, so it refuses the file and runs nothing.
import pickle  # noqa: E402


class Payload:
    def __reduce__(self):
        return (print, ("this would have been arbitrary code",))


with zipfile.ZipFile(path) as archive:
    members = {name: archive.read(name) for name in archive.namelist()}
members["tensors/proxy.pt"] = pickle.dumps({"weight": Payload()})
tampered = folder / "tampered.pfsk"
with zipfile.ZipFile(tampered, "w") as archive:
    for name, data in members.items():
        archive.writestr(name, data)
try:
    PruneFuseActiveLearner.load(tampered, estimator=make_net())
except UnsafeCheckpointError as exc:
    print(type(exc).__name__, "-", str(exc)[:120], "...")

tmp.cleanup()
print(f"example ran in {time.perf_counter() - start:.1f} s")
