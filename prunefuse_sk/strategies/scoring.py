"""Pool scoring: run a fitted skorch net over a pool in batches, without gradients.

Kept apart from the strategies so it can be swapped (block-wise on dask, on GPU with
autocast) without touching selection code. Pools may be numpy arrays, memmaps or
torch tensors; each batch is converted on its own, so a memmap is never loaded whole.
"""

import numpy as np
import torch

__all__ = ["n_rows", "take_rows", "iter_row_batches", "to_float_tensor", "predict_proba_batched"]

DEFAULT_SCORING_BATCH = 1024


def n_rows(X):
    """Return the number of rows of an array-like, tensor or memmap.

    Parameters
    ----------
    X : array-like, memmap or torch.Tensor of shape (n_samples, ...)
        Anything with a ``shape`` attribute, or a sequence supporting
        ``len``.

    Returns
    -------
    n_samples : int
        ``X.shape[0]`` when ``X`` has a ``shape``, ``len(X)`` otherwise.
    """
    if hasattr(X, "shape"):
        return int(X.shape[0])
    return len(X)


def take_rows(X, indices):
    """Return the rows ``X[indices]`` for arrays, memmaps, tensors and sequences.

    Parameters
    ----------
    X : array-like, memmap, torch.Tensor or sequence of shape (n_samples, ...)
        The container to index.
    indices : array-like of int of shape (n_indices,)
        Row positions to take, converted to int64.

    Returns
    -------
    rows : ndarray, torch.Tensor or list of shape (n_indices, ...)
        A tensor on ``X``'s device when ``X`` is a tensor, ``X[indices]``
        (fancy indexing) when ``X`` has a ``shape``, a list of the selected
        items otherwise.
    """
    indices = np.asarray(indices, dtype=np.int64)
    if isinstance(X, torch.Tensor):
        return X[torch.as_tensor(indices, device=X.device)]
    if hasattr(X, "shape"):
        return X[indices]
    return [X[i] for i in indices]


def iter_row_batches(X, batch_size):
    """Yield consecutive row slices of ``X`` of at most ``batch_size`` rows.

    Parameters
    ----------
    X : array-like, memmap or torch.Tensor of shape (n_samples, ...)
        The rows to split; sliced with ``X[start:stop]``, so a memmap is
        never loaded whole.
    batch_size : int
        Maximum number of rows per slice; the last slice may be shorter.

    Yields
    ------
    batch : same type as ``X``, of shape (n_batch, ...)
        The next ``X[start:start + batch_size]`` slice, in order.
    """
    total = n_rows(X)
    for start in range(0, total, batch_size):
        yield X[start:start + batch_size]


def to_float_tensor(batch, device):
    """Return one batch as a float32 tensor on ``device``.

    Read-only arrays (e.g. memmaps opened in ``"r"`` mode) are copied first,
    this batch only.

    Parameters
    ----------
    batch : array-like or torch.Tensor of shape (n_batch, ...)
        The rows to convert.
    device : str or torch.device
        Target device of the tensor, e.g. ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    tensor : torch.Tensor of shape (n_batch, ...), float32
        The batch on ``device``.
    """
    if isinstance(batch, torch.Tensor):
        tensor = batch.to(device=device, dtype=torch.float32)
    else:
        array = np.asarray(batch, dtype=np.float32)
        if not array.flags.writeable:  # read-only memmaps: copy this batch only
            array = array.copy()
        tensor = torch.as_tensor(array, device=device)
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError("X contains NaN or infinity; impute or drop those rows before scoring them.")
    return tensor


def predict_proba_batched(net, X, batch_size=None, progress=None):
    """Class probabilities of a fitted skorch classifier over ``X``, batch by batch.

    Parameters
    ----------
    net : skorch.NeuralNetClassifier
        Fitted (initialized) net.
    X : ndarray, memmap or torch.Tensor of shape (n_samples, ...)
        The pool to score; converted to float32 one batch at a time.
    batch_size : int, default=None
        Rows per forward pass; defaults to ``max(net.batch_size, 1024)``.
    progress : callable, default=None
        Called with the number of rows done after each batch (e.g. a tqdm update).

    Returns
    -------
    proba : ndarray of shape (n_samples, n_outputs), float32
        The net's predict nonlinearity (softmax by default) applied to its
        outputs; an empty ``(0, 0)`` array when ``X`` has no rows.
    """
    if batch_size is None:
        batch_size = max(int(net.batch_size) if net.batch_size and net.batch_size > 0 else 0,
                         DEFAULT_SCORING_BATCH)
    nonlinearity = net._get_predict_nonlinearity()
    module = net.module_
    was_training = module.training
    module.eval()
    chunks = []
    try:
        with torch.inference_mode():
            for batch in iter_row_batches(X, batch_size):
                outputs = net.infer(to_float_tensor(batch, net.device))
                chunks.append(nonlinearity(outputs).float().cpu().numpy())
                if progress is not None:
                    progress(len(batch))
    finally:
        module.train(was_training)
    if not chunks:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(chunks, axis=0)
