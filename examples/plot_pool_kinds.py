"""
Pools of every kind: DataFrames, sparse matrices, memmaps, tensors
==================================================================

A pool does not have to be a NumPy array. ``query`` takes a pandas ``DataFrame`` (its
rows by *position*, whatever its index), a scipy sparse matrix, a memmap, a torch tensor
or a dask array, and answers exactly as the same rows in a NumPy array do: the same
indices, in the same order, and the chosen rows in the pool's own kind. Each kind becomes
one :class:`~prunefuse_sk.pools.Pool` at the public boundary
(:func:`~prunefuse_sk.pools.as_pool`); see the user guide's "Kinds of pools".
"""

# %%
# A learner fitted on a few labelled digits
# -----------------------------------------
import copy
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse
import torch
from sklearn.datasets import load_digits

from prunefuse_sk import PruneFuseActiveLearner

torch.set_num_threads(1)  # tiny networks train fastest on one CPU thread
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
learner = PruneFuseActiveLearner(random_state=0).fit(X[:100], y[:100])
X_pool = X[100:1100]

# %%
# The same pool, five ways
# ------------------------
# The DataFrame is indexed by sample ids that are not positions: ``query`` still returns
# positions, and the chosen rows come back as a DataFrame that keeps those ids.
frame = pd.DataFrame(X_pool, index=[f"scan-{i:04d}" for i in range(len(X_pool))])
folder = Path(tempfile.mkdtemp())
np.save(folder / "pool.npy", X_pool)
pools = {
    "numpy array": X_pool,
    "DataFrame": frame,
    "CSR matrix": scipy.sparse.csr_matrix(X_pool),
    "memmap": np.load(folder / "pool.npy", mmap_mode="r"),
    "torch tensor": torch.as_tensor(X_pool),
}
for kind, pool in pools.items():
    fresh = copy.deepcopy(learner)  # every query starts from the same learner and random state
    indices, rows = fresh.query(pool, n=5)
    print(f"{kind:>12}: indices {indices.tolist()}, rows as {type(rows).__name__}")

# %%
# The DataFrame's chosen rows keep their ids, and ``teach`` takes them as they are:
indices, rows = learner.query(frame, n=5)
print(rows.index.tolist())
learner.teach(rows, y[100:1100][indices])
print(f"labelled set: {len(learner.y_training)} samples")

# %%
# A pool of the wrong width is refused with a named error, whatever its kind:
from prunefuse_sk.exceptions import FeatureShapeError  # noqa: E402

try:
    learner.query(frame.iloc[:, :60], n=5)
except FeatureShapeError as error:
    print(f"FeatureShapeError: {error}")
