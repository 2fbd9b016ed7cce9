"""What a pool is: its rows, its batches, and one batch as a tensor, whatever holds it.

A pool may be a numpy array, a memmap, a torch tensor (on any device), a dict of equally
long tensors (modAL's dropout strategies take those), a scipy sparse matrix or a dask array.
Everything that walks a pool goes through these four functions, so a memmap, a sparse
matrix or a dask array is only ever read (densified, computed) one batch at a time.
"""

import sys

import numpy as np
import scipy.sparse
import torch

from .exceptions import NonFiniteInputError
from .validation import as_float32, as_row_sliceable, check_sample_shape, check_token_id_values

__all__ = ["n_rows", "take_rows", "iter_row_batches", "to_float_tensor", "to_input_tensor", "is_dask_pool", "as_dask_array",
           "check_pool", "selected_rows"]


def n_rows(X):
    """Return the number of rows of an array-like, tensor, memmap or dict of tensors.

    Parameters
    ----------
    X : array-like, memmap, torch.Tensor or dict of them, of shape (n_samples, ...)
        Anything with a ``shape`` attribute, a sequence supporting ``len``, or
        a dict of equally long inputs (modAL's dropout strategies take those).

    Returns
    -------
    n_samples : int
        ``X.shape[0]`` when ``X`` has a ``shape``, the rows of the first value
        of a dict, ``len(X)`` otherwise.

    Examples
    --------
    >>> import numpy as np, torch
    >>> n_rows(np.zeros((4, 2))), n_rows({"ids": torch.zeros(3, 5), "mask": torch.ones(3, 5)}), n_rows([[1], [2]])
    (4, 3, 2)
    """
    if hasattr(X, "shape"):
        return int(X.shape[0])
    if isinstance(X, dict):
        return n_rows(next(iter(X.values()))) if X else 0
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
        A tensor on ``X``'s device when ``X`` is a tensor, a numpy array of
        the computed rows when ``X`` is a dask array or DataFrame, ``X[indices]``
        (fancy indexing) when ``X`` has a ``shape``, a list of the selected
        items otherwise.
    """
    indices = np.asarray(indices, dtype=np.int64)
    if is_dask_pool(X):  # only the chosen rows are computed and come back
        return np.asarray(as_dask_array(X)[indices].compute())
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


def to_input_tensor(batch, device, *, check_finite=True, token_input=None):
    """Return one batch as the tensor the network takes: float32 features or int64 token ids.

    Parameters
    ----------
    batch : array-like or torch.Tensor of shape (n_batch, ...)
        The rows to convert (this batch only: a memmap or sparse pool is never loaded whole).
    device : str or torch.device
    check_finite : bool, default=True
        For float input, as in :func:`to_float_tensor`.
    token_input : tuple (layer name, num_embeddings) or None, default=None
        The network's embedding input layer (:func:`prunefuse_sk.pruning.token_input`):
        the batch must then hold integer ids below ``num_embeddings``, and becomes int64.

    Returns
    -------
    tensor : torch.Tensor of shape (n_batch, ...), float32 or int64

    Raises
    ------
    TokenIdError
        With ``token_input``, if the batch holds non-integer values or ids out of range.

    Examples
    --------
    >>> import numpy as np
    >>> to_input_tensor(np.array([[3, 1, 0]], dtype=np.int32), "cpu", token_input=("emb", 10)).dtype
    torch.int64
    """
    if token_input is None:
        return to_float_tensor(batch, device, check_finite=check_finite)
    if scipy.sparse.issparse(batch):
        batch = batch.toarray()
    elif hasattr(batch, "compute") and not isinstance(batch, (np.ndarray, torch.Tensor)):  # a dask block
        batch = batch.compute()
    if not hasattr(batch, "dtype"):
        batch = np.asarray(batch)
    layer, n_ids = token_input
    check_token_id_values(batch, n_ids, layer=layer)
    if isinstance(batch, torch.Tensor):
        return batch.to(device=device, dtype=torch.int64)
    array = np.asarray(batch, dtype=np.int64)
    if not array.flags.writeable:  # read-only memmaps: copy this batch only
        array = array.copy()
    return torch.as_tensor(array, device=device)


def to_float_tensor(batch, device, *, check_finite=True):
    """Return one batch as a float32 tensor on ``device``.

    Read-only arrays (e.g. memmaps opened in ``"r"`` mode) are copied first,
    this batch only; a sparse batch is densified and a dask batch computed,
    this batch only.

    Parameters
    ----------
    batch : array-like or torch.Tensor of shape (n_batch, ...)
        The rows to convert.
    device : str or torch.device
        Target device of the tensor, e.g. ``"cpu"`` or ``"cuda"``.
    check_finite : bool, default=True
        Scan the batch for NaN and infinity (one pass over it). Pool scoring passes
        False and checks the network's (much smaller) outputs instead.

    Returns
    -------
    tensor : torch.Tensor of shape (n_batch, ...), float32
        The batch on ``device``.

    Raises
    ------
    TypeError
        If the batch holds objects that are not numbers.
    ValueError
        If the batch holds strings that are not numbers.
    NonFiniteInputError
        If the batch contains NaN or infinity (only with ``check_finite=True``).

    Examples
    --------
    >>> import scipy.sparse
    >>> pool = scipy.sparse.random(1000, 50, density=0.01, format="csr", random_state=0)
    >>> batches = iter_row_batches(pool, 256)
    >>> to_float_tensor(next(batches), "cpu").shape
    torch.Size([256, 50])
    """
    if isinstance(batch, torch.Tensor):
        tensor = batch.to(device=device, dtype=torch.float32)
    elif scipy.sparse.issparse(batch):  # densified one batch at a time, never the whole pool
        tensor = torch.as_tensor(as_float32(batch.toarray()), device=device)
    else:
        array = as_float32(batch)
        if not array.flags.writeable:  # read-only memmaps: copy this batch only
            array = array.copy()
        tensor = torch.as_tensor(array, device=device)
    if check_finite and not bool(torch.isfinite(tensor).all()):
        raise NonFiniteInputError("X contains NaN or infinity; impute or drop those rows before scoring them.")
    return tensor


def is_dask_pool(X):
    """Whether ``X`` is a dask collection (array, DataFrame or Series), without importing dask.

    Parameters
    ----------
    X : object

    Returns
    -------
    bool
        False whenever dask has not been imported (nothing can be a dask collection then).
    """
    dask = sys.modules.get("dask")
    return dask is not None and dask.is_dask_collection(X) and hasattr(X, "shape")


def as_dask_array(X):
    """A dask pool as a dask array whose blocks hold whole rows, with known block lengths.

    A dask DataFrame (or Series) becomes its values (``to_dask_array(lengths=True)``
    counts each partition's rows, where they live); unknown block lengths are
    computed the same way; blocks split across columns (or pixels) are merged
    so that every block is a set of whole rows. Nothing is computed to the client.

    Parameters
    ----------
    X : dask.array.Array, dask.dataframe.DataFrame or dask.dataframe.Series

    Returns
    -------
    X : dask.array.Array of shape (n_samples, ...)
    """
    if hasattr(X, "to_dask_array"):
        X = X.to_dask_array(lengths=True)
    if any(np.isnan(size) for size in X.chunks[0]):
        X = X.compute_chunk_sizes()
    if any(len(sizes) > 1 for sizes in X.chunks[1:]):
        X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
    return X


def check_pool(X_pool, *, n_features_shape=None):
    """A pool as a query hands it to a strategy: its layout checked, nothing converted or copied.

    Parameters
    ----------
    X_pool : array-like, memmap, torch.Tensor, scipy.sparse matrix, dict of tensors or dask collection
    n_features_shape : tuple, default=None
        The sample shape seen at ``fit``.

    Returns
    -------
    X_pool : same data
        A dask collection as a dask array of whole-row blocks (:func:`as_dask_array`), a sparse
        pool in CSR format, a dict of tensors (modAL's dropout strategies) as given, the rest as given.

    Raises
    ------
    FeatureShapeError
        If the sample shape differs from ``n_features_shape``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse
    >>> check_pool(scipy.sparse.coo_matrix(np.eye(3)), n_features_shape=(3,)).format
    'csr'
    """
    if is_dask_pool(X_pool):  # scored where its blocks live (strategies.distributed)
        return as_dask_array(X_pool)
    if isinstance(X_pool, dict):
        return X_pool
    check_sample_shape(X_pool, name="X_pool", n_features_shape=n_features_shape, min_samples=0, accept_sparse=True)
    return as_row_sliceable(X_pool)


def selected_rows(selected, *, token_ids=False):
    """The rows a query chose, as ``teach`` stores them, so their query scores can be matched there.

    Parameters
    ----------
    selected : array-like, sparse matrix, torch.Tensor or dict of tensors
        ``X_pool[indices]``.
    token_ids : bool, default=False
        The network takes integer token ids.

    Returns
    -------
    rows : ndarray (float32, or int64 token ids) or None
        None for a dict of tensors.

    Raises
    ------
    NonFiniteInputError
        If a selected row holds NaN or infinity.

    Examples
    --------
    >>> selected_rows([[1, 2]]).dtype, selected_rows([[1, 2]], token_ids=True).dtype
    (dtype('float32'), dtype('int64'))
    """
    if isinstance(selected, dict):
        return None
    if token_ids:
        return np.asarray(selected, dtype=np.int64)
    rows = as_float32(selected, name="X_pool")
    if not np.isfinite(rows).all():
        raise NonFiniteInputError(
            "X_pool contains NaN or infinity in the selected rows; impute or drop those rows before querying."
        )
    return rows
