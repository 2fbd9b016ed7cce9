"""What a pool is: one object per kind of array, built once at the public boundary.

Users hand the learner numpy arrays, memmaps, torch tensors (on any device), scipy
sparse matrices, pandas DataFrames, dask arrays or DataFrames, dicts of tensors, or
plain lists. :func:`as_pool` turns each into a :class:`Pool`, and from there on the
package asks the pool, never the array, what it is. Every pool answers the same
questions:

* ``len(pool)`` and :attr:`Pool.sample_shape`: its rows and the shape of one sample;
* :meth:`Pool.check_shape`: the named error a wrong width deserves
  (:class:`~prunefuse_sk.exceptions.FeatureShapeError`), for every kind;
* :meth:`Pool.take`: rows by *position* (a DataFrame's index labels are never used),
  in the caller's own type (a dask pool's chosen rows come back computed, as numpy);
* :meth:`Pool.subset`: a pool of some of its rows, of the same kind (lazy on dask);
* :meth:`Pool.batches` and :meth:`Pool.to_tensor`: consecutive row slices and one
  slice as the tensor the network takes (float32 features, or int64 token ids checked
  against the vocabulary), so that a memmap, a sparse matrix or a DataFrame is only ever
  read, densified or converted one batch at a time;
* :meth:`Pool.to_numpy`: all rows as a dense ndarray, for the labelled rows of ``fit``
  and ``teach`` (few enough to hold).

A dict of tensors (modAL's dropout strategies take those) is a :class:`DictPool`: it
has rows and can be taken and handed to a strategy that reads dicts, but the package's
own scoring (the built-in strategies, ``predict``) refuses it with a
:class:`~prunefuse_sk.exceptions.PoolTypeError`.
"""

import sys

import numpy as np
import scipy.sparse
import torch

from .dask_clients import pool_client
from .exceptions import FeatureShapeError, NonFiniteInputError, PoolTypeError, TokenIdError

__all__ = [
    "Pool",
    "ArrayPool",
    "SequencePool",
    "TensorPool",
    "SparsePool",
    "FramePool",
    "DaskPool",
    "DictPool",
    "as_pool",
    "n_rows",
    "take_rows",
    "dense_array",
    "writable",
    "selected_rows",
    "check_token_id_values",
    "text_hint",
    "TOKEN_CHECK_ROWS",
]

# Rows per block when token ids are range-checked: a memmap is read block by block, never whole.
TOKEN_CHECK_ROWS = 65_536


def text_hint(name):
    """The sentence that tells a user how to turn raw text into token ids.

    Parameters
    ----------
    name : str
        The argument's name, as the user passed it (``"X"``, ``"X_pool"``).

    Returns
    -------
    hint : str
        One sentence naming :class:`prunefuse_sk.text.TokenIds`.
    """
    return (
        "Turn raw text into token ids with prunefuse_sk.text.TokenIds (e.g. "
        f"make_pipeline(TokenIds(max_length=256), learner)) and pass its output as {name}."
    )


def _is_integer_dtype(dtype):
    if isinstance(dtype, torch.dtype):
        return not (dtype.is_floating_point or dtype.is_complex or dtype == torch.bool)
    return np.issubdtype(dtype, np.integer)


def check_token_id_values(X, n_ids, *, name="X", layer="embedding"):
    """Check that ``X`` holds integer token ids in ``[0, n_ids)``, block by block, without copying it.

    Parameters
    ----------
    X : ndarray, memmap or torch.Tensor of shape (n_samples, ...)
        The ids (one batch of a pool, or the labelled rows).
    n_ids : int
        The embedding's ``num_embeddings``: valid ids are ``0 .. n_ids - 1``.
    name : str, default="X"
        Used in error messages.
    layer : str, default="embedding"
        The embedding layer's name, used in error messages.

    Raises
    ------
    TokenIdError
        If ``X`` does not have an integer dtype, or holds an id below 0 or at least ``n_ids``.

    Examples
    --------
    >>> import numpy as np
    >>> check_token_id_values(np.array([[2, 3], [0, 1]]), 4)
    >>> check_token_id_values(np.array([[2, 4]]), 4, layer="emb")
    Traceback (most recent call last):
        ...
    prunefuse_sk.exceptions.TokenIdError: X holds token id 4, but the network's input layer 'emb' embeds ids 0..3 (num_embeddings=4). Build the embedding with num_embeddings at least the tokenizer's number of ids (TokenIds.n_ids_), or map unseen tokens to the unknown id (1).
    """  # noqa: E501
    if not _is_integer_dtype(X.dtype):
        raise TokenIdError(
            f"{name} holds {X.dtype} values, but the network's input layer '{layer}' is an "
            f"embedding and takes integer token ids (0..{n_ids - 1}). Pass an integer array, e.g. "
            f"{name}.astype('int64') if it holds ids as floats. {text_hint(name)}"
        )
    for start in range(0, len(X), TOKEN_CHECK_ROWS):
        block = X[start : start + TOKEN_CHECK_ROWS]
        if len(block) == 0 or 0 in tuple(block.shape):
            continue
        low, high = int(block.min()), int(block.max())
        if low < 0:
            raise TokenIdError(
                f"{name} holds the negative token id {low}; token ids start at 0 (padding) "
                "and 1 (unknown)."
            )
        if high >= n_ids:
            raise TokenIdError(
                f"{name} holds token id {high}, but the network's input layer '{layer}' embeds "
                f"ids 0..{n_ids - 1} (num_embeddings={n_ids}). Build the embedding with "
                "num_embeddings at least the tokenizer's number of ids (TokenIds.n_ids_), or map "
                "unseen tokens to the unknown id (1)."
            )


def _numbers_as(array, dtype, name):
    """``np.asarray(array, dtype)``, with an error naming the argument when it holds no numbers."""
    try:
        return np.asarray(array, dtype=dtype)
    except TypeError as exc:
        raise TypeError(f"{name} must hold numbers; converting it failed: {exc}") from exc
    except ValueError as exc:
        raise ValueError(f"{name} must hold numbers; converting it failed: {exc}") from exc


def _array_to_tensor(array, device, token_input, check_finite, name):
    """One dense batch (ndarray or memmap slice) as a float32 or int64 tensor on ``device``."""
    if token_input is not None:
        layer, n_ids = token_input
        check_token_id_values(array, n_ids, name=name, layer=layer)
        array = np.asarray(array, dtype=np.int64)
    else:
        array = _numbers_as(array, np.float32, name)
    if not array.flags.writeable:  # read-only memmaps: copy this batch only
        array = array.copy()
    tensor = torch.as_tensor(array, device=device)
    if check_finite and token_input is None and not bool(torch.isfinite(tensor).all()):
        bad = np.flatnonzero(~torch.isfinite(tensor.reshape(len(tensor), -1)).all(1).cpu().numpy())
        raise NonFiniteInputError(
            f"{name} contains NaN or infinity in {len(bad)} row(s) of this batch (first at batch "
            f"row {bad[0]}); impute or drop those rows before scoring them."
        )
    return tensor


class Pool:
    """Rows of samples, whatever holds them: the one interface the package reads a pool through.

    Build one with :func:`as_pool`; the subclasses each wrap one kind of array.

    Parameters
    ----------
    data : object
        The caller's array (for some kinds normalized: a sparse matrix in CSR format,
        a dask collection as a dask array of whole-row blocks).
    name : str, default="X_pool"
        The argument's name, used in error messages.

    Attributes
    ----------
    data : object
        What strategies are handed: the caller's array, unconverted.
    name : str
        The argument's name.
    on_cluster : bool
        The rows live on a dask cluster: score them there
        (:mod:`prunefuse_sk.dask_scoring`), never here.
    scorable : bool
        The package's own scoring can read it (False for a dict of tensors).
    """

    on_cluster = False
    scorable = True

    def __init__(self, data, *, name="X_pool"):
        self.data = data
        self.name = name

    def __len__(self):
        return int(self.data.shape[0])

    def __repr__(self):
        return f"{type(self).__name__}({self.name}: {len(self)} rows of shape {self.sample_shape})"

    @property
    def shape(self):
        """tuple: ``(n_rows, *sample_shape)``."""
        return tuple(int(size) for size in self.data.shape)

    @property
    def sample_shape(self):
        """tuple: the shape of one sample."""
        return self.shape[1:]

    @property
    def dtype(self):
        """numpy.dtype or torch.dtype: the element type, as the array has it."""
        return self.data.dtype

    @property
    def densified_row_bytes(self):
        """int: bytes a row takes when a batch is densified before conversion (0 when it is not)."""
        return 0

    def check_shape(
        self, n_features_shape=None, *, min_samples=0, estimator_name="PruneFuseActiveLearner"
    ):
        """Check the layout of the samples, without converting or copying them.

        Parameters
        ----------
        n_features_shape : tuple, default=None
            When given, the sample shape must equal it (the shape seen at ``fit``).
        min_samples : int, default=0
            Fewest rows the pool may have (0 accepts an empty pool, so that the caller
            can raise :class:`~prunefuse_sk.exceptions.EmptyPoolError` instead).
        estimator_name : str, default="PruneFuseActiveLearner"
            Used in error messages.

        Returns
        -------
        pool : Pool
            ``self``, checked.

        Raises
        ------
        FeatureShapeError
            If the samples have fewer than two dimensions, the pool fewer than ``min_samples``
            rows or no features, or samples of another shape than ``n_features_shape``.
        ValueError
            If the pool holds complex values.
        """
        shape, name = self.shape, self.name
        if len(shape) < 2:
            raise FeatureShapeError(
                f"Expected a 2D array or more for {name}, got {len(shape)}D (shape {shape}) "
                "instead. Reshape your data either using array.reshape(-1, 1) if your data has a "
                "single feature or array.reshape(1, -1) if it contains a single sample."
            )
        if int(np.prod(shape[1:])) == 0:
            raise FeatureShapeError(
                f"{name} has 0 feature(s) (shape={shape}) while a minimum of 1 is required."
            )
        if shape[0] < min_samples:
            raise FeatureShapeError(
                f"Found array with {shape[0]} sample(s) (shape={shape}) while a minimum of "
                f"{min_samples} is required. Pass at least {min_samples} row(s) in {name}."
            )
        dtype = self.dtype
        if getattr(dtype, "kind", None) == "c" or getattr(dtype, "is_complex", False):
            raise ValueError(
                f"Complex data not supported: {name} has dtype {dtype}; pass real-valued features."
            )
        if n_features_shape is not None and tuple(shape[1:]) != tuple(n_features_shape):
            if len(shape) == 2 and len(n_features_shape) == 1:
                raise FeatureShapeError(
                    f"{name} has {shape[1]} features, but {estimator_name} is expecting "
                    f"{n_features_shape[0]} features as input."
                )
            raise FeatureShapeError(
                f"{name} has samples of shape {tuple(shape[1:])}, but the learner was fitted on "
                f"samples of shape {tuple(n_features_shape)}. Pass samples shaped like the "
                "training data."
            )
        return self

    def take(self, indices):
        """The rows at ``indices`` (positions), in the caller's type.

        Parameters
        ----------
        indices : array-like of int of shape (n_indices,)
            Row positions.

        Returns
        -------
        rows : same kind as ``data``, of shape (n_indices, ...)
            ``data[indices]``.
        """
        return self.data[np.asarray(indices, dtype=np.int64)]

    def subset(self, indices):
        """A pool of the rows at ``indices``, of the same kind.

        Parameters
        ----------
        indices : array-like of int of shape (n_indices,)
            Row positions.

        Returns
        -------
        pool : Pool
            Its ``data`` is :meth:`take`'s rows (lazy for a dask pool).
        """
        return type(self)(self.take(indices), name=self.name)

    def batches(self, batch_size):
        """Consecutive row slices of at most ``batch_size`` rows, read one at a time.

        Parameters
        ----------
        batch_size : int
            Rows per slice; the last may be shorter.

        Yields
        ------
        batch : same kind as ``data``
            ``data[start:start + batch_size]``, in order.
        """
        for start in range(0, len(self), batch_size):
            yield self.data[start : start + batch_size]

    def to_tensor(self, batch, device, *, token_input=None, check_finite=True):
        """One batch (from :meth:`batches`) as the tensor the network takes.

        Parameters
        ----------
        batch : object
            A slice of this pool.
        device : str or torch.device
            Where the tensor goes.
        token_input : tuple (layer name, num_embeddings) or None, default=None
            The network's embedding input layer (:func:`prunefuse_sk.architecture.token_input`):
            the batch must then hold integer ids below ``num_embeddings`` and becomes int64.
        check_finite : bool, default=True
            For float input, scan the batch for NaN and infinity (scoring passes False and
            checks the network's much smaller outputs instead).

        Returns
        -------
        tensor : torch.Tensor of shape (n_batch, ...), float32 or int64

        Raises
        ------
        TokenIdError
            With ``token_input``, if the batch holds non-integer values or ids out of range.
        NonFiniteInputError
            With ``check_finite``, if the batch holds NaN or infinity (the message names the rows).
        TypeError, ValueError
            If the batch holds objects or strings that are not numbers.
        """
        return _array_to_tensor(batch, device, token_input, check_finite, self.name)

    def head(self, n):
        """The first ``n`` rows as a pool of the same kind (a dask pool's, computed).

        Parameters
        ----------
        n : int
            How many rows.

        Returns
        -------
        pool : Pool
        """
        return type(self)(self.data[:n], name=self.name)

    def to_numpy(self):
        """All rows as a dense ndarray (the labelled rows of ``fit`` and ``teach``).

        Returns
        -------
        array : ndarray of shape (n_rows, ...)
            No copy when ``data`` already is one.
        """
        return np.asarray(self.data)


_POOL_PARAMETERS = """
    Parameters
    ----------
    data : object
        The caller's array, of the kind this class wraps.
    name : str, default="X_pool"
        The argument's name, used in error messages.
"""


def _pool_kind(cls):
    """Document a pool kind as :class:`Pool` is: its parameters, and each overridden method."""
    cls.__doc__ = cls.__doc__.rstrip() + "\n" + _POOL_PARAMETERS
    for name, member in vars(cls).items():
        if callable(member) and member.__doc__ is None and hasattr(Pool, name):
            member.__doc__ = getattr(Pool, name).__doc__
    return cls


@_pool_kind
class ArrayPool(Pool):
    """A numpy array, a memmap (read a batch at a time, never copied whole) or an array-like."""


@_pool_kind
class SequencePool(Pool):
    """A list or tuple of rows (numbers, or raw texts before a Pipeline's vectorizer).

    Rows are taken as a list of the items, as the caller had them; batches are converted
    with ``np.asarray`` one at a time.
    """

    def __len__(self):
        return len(self.data)

    @property
    def shape(self):
        return tuple(int(size) for size in np.shape(self.data))

    @property
    def dtype(self):
        return np.asarray(self.data[:1]).dtype

    def take(self, indices):
        return [self.data[i] for i in np.asarray(indices, dtype=np.int64)]

    def head(self, n):
        return SequencePool(self.data[:n], name=self.name)

    def to_tensor(self, batch, device, *, token_input=None, check_finite=True):
        return _array_to_tensor(np.asarray(batch), device, token_input, check_finite, self.name)


@_pool_kind
class TensorPool(Pool):
    """A torch tensor on any device; rows are taken and batched on that device."""

    def take(self, indices):
        return self.data[
            torch.as_tensor(np.asarray(indices, dtype=np.int64), device=self.data.device)
        ]

    def to_tensor(self, batch, device, *, token_input=None, check_finite=True):
        if token_input is not None:
            layer, n_ids = token_input
            check_token_id_values(batch, n_ids, name=self.name, layer=layer)
            return batch.to(device=device, dtype=torch.int64)
        tensor = batch.to(device=device, dtype=torch.float32)
        if check_finite and not bool(torch.isfinite(tensor).all()):
            return _array_to_tensor(
                tensor.cpu().numpy(), device, None, True, self.name
            )  # names rows
        return tensor

    def to_numpy(self):
        return self.data.detach().cpu().numpy()


@_pool_kind
class SparsePool(Pool):
    """A scipy sparse matrix (held as CSR, which slices rows cheaply), densified batch by batch."""

    def __init__(self, data, *, name="X_pool"):
        if data.format != "csr":
            data = scipy.sparse.csr_matrix(data)  # a sparse copy, never dense
        super().__init__(data, name=name)

    @property
    def densified_row_bytes(self):
        return int(np.prod(self.sample_shape)) * np.dtype(self.dtype).itemsize

    def to_tensor(self, batch, device, *, token_input=None, check_finite=True):
        return _array_to_tensor(batch.toarray(), device, token_input, check_finite, self.name)

    def to_numpy(self):
        return self.data.toarray()


@_pool_kind
class FramePool(Pool):
    """A pandas DataFrame, read by row *position* (``iloc``), whatever its index."""

    def take(self, indices):
        return self.data.iloc[np.asarray(indices, dtype=np.int64)]

    @property
    def dtype(self):  # the common type of the columns, as numpy would convert them
        try:
            return np.result_type(*self.data.dtypes)
        except TypeError:  # no columns, or columns of pandas' own (extension) types
            return np.dtype("O")

    def batches(self, batch_size):
        for start in range(0, len(self), batch_size):
            yield self.data.iloc[start : start + batch_size]

    def head(self, n):
        return FramePool(self.data.iloc[:n], name=self.name)

    def to_tensor(self, batch, device, *, token_input=None, check_finite=True):
        return _array_to_tensor(batch.to_numpy(), device, token_input, check_finite, self.name)

    def to_numpy(self):
        return self.data.to_numpy()


@_pool_kind
class DaskPool(Pool):
    """A dask array or DataFrame: scored where its blocks live; only chosen rows are computed.

    A DataFrame (or Series) becomes its values (``to_dask_array(lengths=True)`` counts
    each partition's rows where they live); unknown block lengths are computed the same
    way; blocks split across columns are merged so that every block holds whole rows.
    """

    on_cluster = True

    def __init__(self, data, *, name="X_pool"):
        if hasattr(data, "to_dask_array"):
            data = data.to_dask_array(lengths=True)
        if any(np.isnan(size) for size in data.chunks[0]):
            data = data.compute_chunk_sizes()
        if any(len(sizes) > 1 for sizes in data.chunks[1:]):
            data = data.rechunk({axis: -1 for axis in range(1, data.ndim)})
        super().__init__(data, name=name)

    def take(self, indices):  # only the chosen rows are computed and come back
        return np.asarray(self.data[np.asarray(indices, dtype=np.int64)].compute())

    def subset(self, indices):  # lazy: the rows stay on the cluster
        return DaskPool(self.data[np.asarray(indices, dtype=np.int64)], name=self.name)

    def batches(self, batch_size):  # computed one batch at a time
        for start in range(0, len(self), batch_size):
            yield np.asarray(self.data[start : start + batch_size].compute())

    def head(self, n):
        return ArrayPool(np.asarray(self.data[:n].compute()), name=self.name)

    def to_numpy(self):
        return np.asarray(self.data.compute())

    def aligned_to_batches(self, batch_size):
        """This pool with its blocks starting on multiples of ``batch_size`` (re-cut if needed).

        With every block starting on a multiple of ``batch_size``, a block scored in batches of
        ``batch_size`` from its first row uses exactly the batch boundaries of an in-memory scan
        of the whole pool, so every row is computed in the same batch, with the same numbers.

        Parameters
        ----------
        batch_size : int
            Rows per forward pass.

        Returns
        -------
        pool : DaskPool
        """
        starts = np.cumsum((0,) + tuple(self.data.chunks[0][:-1]))
        if not np.any(starts % batch_size):
            return self
        typical = int(np.median(self.data.chunks[0]))
        rows = max(1, round(typical / batch_size)) * batch_size
        return DaskPool(self.data.rechunk({0: rows}), name=self.name)

    def blocks(self):
        """The blocks as delayed objects, each with the global position of its first row.

        Returns
        -------
        blocks : list of (dask.delayed.Delayed, int)
        """
        blocks = self.data.to_delayed().ravel()
        offsets = np.concatenate([[0], np.cumsum(self.data.chunks[0])[:-1]]).astype(np.int64)
        return list(zip(blocks, offsets.tolist()))


@_pool_kind
class DictPool(Pool):
    """A dict of equally long tensors or arrays, as modAL's dropout strategies take.

    It has rows and can be taken and handed to a strategy that reads dicts; the package's own
    scoring (built-in strategies, ``predict``) refuses it with a named error.
    """

    scorable = False

    def __len__(self):
        return n_rows(next(iter(self.data.values()))) if self.data else 0

    @property
    def shape(self):  # rows only: the values may have different sample shapes
        return (len(self),)

    @property
    def dtype(self):
        return None

    def check_shape(self, n_features_shape=None, *, min_samples=0, estimator_name=None):
        return self  # the values' layout is the strategy's business

    def take(self, indices):
        return {key: as_pool(value).take(indices) for key, value in self.data.items()}

    def batches(self, batch_size):
        for start in range(0, len(self), batch_size):
            yield {key: value[start : start + batch_size] for key, value in self.data.items()}

    def head(self, n):
        return DictPool({key: value[:n] for key, value in self.data.items()}, name=self.name)

    def to_tensor(self, batch, device, *, token_input=None, check_finite=True):
        raise PoolTypeError(
            f"{self.name} is a dict of tensors: the built-in strategies, predict and score take "
            "one array (numpy, memmap, tensor, sparse, DataFrame or dask). Dicts are for custom "
            "strategies that read them (e.g. modAL.dropout's): pass one of those as query_strategy."
        )

    def to_numpy(self):
        return self.to_tensor(None, "cpu")


def _frame_class():
    pandas = sys.modules.get("pandas")  # nothing can be a DataFrame when pandas is not imported
    return None if pandas is None else pandas.DataFrame


def _is_dask(X):
    dask = sys.modules.get("dask")  # nothing can be a dask collection when dask is not imported
    return dask is not None and dask.is_dask_collection(X) and hasattr(X, "shape")


def as_pool(X, *, name="X_pool"):
    """The pool object for ``X``: the one place that asks what kind of array ``X`` is.

    Parameters
    ----------
    X : array-like, memmap, torch.Tensor, scipy.sparse matrix, pandas.DataFrame, dask array \
or DataFrame, dict of tensors, or Pool
        The rows. A list or tuple of rows stays one (its rows are taken as a list); another
        array-like becomes a numpy array; a Pool is returned as is.
    name : str, default="X_pool"
        The argument's name, used in error messages.

    Returns
    -------
    pool : Pool
        An :class:`ArrayPool`, :class:`TensorPool`, :class:`SparsePool`, :class:`FramePool`,
        :class:`DaskPool` or :class:`DictPool`.

    Raises
    ------
    PoolTypeError
        If ``X`` is a pandas Series (one column: pass a DataFrame or a 2-D array).
    SchedulerUnavailableError
        If ``X`` is a dask collection and the client chosen to compute it is closed or its
        scheduler does not answer in time (see :func:`~prunefuse_sk.dask_clients.pool_client`).

    Examples
    --------
    >>> import numpy as np, scipy.sparse
    >>> as_pool(np.zeros((4, 2)))
    ArrayPool(X_pool: 4 rows of shape (2,))
    >>> as_pool(scipy.sparse.coo_matrix(np.eye(3))).data.format
    'csr'
    >>> as_pool([[1, 2], [3, 4]], name="X").take([1])
    [[3, 4]]
    """
    if isinstance(X, Pool):
        return X
    if isinstance(X, torch.Tensor):
        return TensorPool(X, name=name)
    if scipy.sparse.issparse(X):
        return SparsePool(X, name=name)
    if isinstance(X, dict):
        return DictPool(X, name=name)
    if _is_dask(X):
        pool_client()  # the chosen cluster answers, or SchedulerUnavailableError: no local fallback
        return DaskPool(X, name=name)
    frame = _frame_class()
    if frame is not None and isinstance(X, frame):
        return FramePool(X, name=name)
    if hasattr(X, "iloc"):  # a pandas Series: one column, not rows of samples
        raise PoolTypeError(
            f"{name} is a pandas Series; pass a DataFrame or a 2-D array of samples "
            f"(e.g. {name}.to_frame() for a single feature)."
        )
    if isinstance(X, (list, tuple)):
        return SequencePool(X, name=name)
    return ArrayPool(X if isinstance(X, np.ndarray) else np.asarray(X), name=name)


def n_rows(X):
    """The number of rows of any pool kind.

    Parameters
    ----------
    X : array-like, memmap, torch.Tensor, sparse matrix, DataFrame, dask collection or dict
        The rows.

    Returns
    -------
    n_samples : int

    Examples
    --------
    >>> import numpy as np, torch
    >>> n_rows(np.zeros((4, 2))), n_rows({"ids": torch.zeros(3, 5)}), n_rows([[1], [2]])
    (4, 3, 2)
    """
    return len(as_pool(X))


def take_rows(X, indices):
    """``X``'s rows at ``indices`` (positions), in ``X``'s own type.

    Parameters
    ----------
    X : array-like, memmap, torch.Tensor, sparse matrix, DataFrame, dask collection or dict
        The rows.
    indices : array-like of int of shape (n_indices,)
        Row positions (a DataFrame's index labels are never used).

    Returns
    -------
    rows : same kind as ``X`` (numpy for a dask collection), of shape (n_indices, ...)

    Examples
    --------
    >>> import numpy as np
    >>> take_rows([[1, 2], [3, 4], [5, 6]], [2, 0])
    [[5, 6], [1, 2]]
    >>> take_rows(np.arange(6).reshape(3, 2), [2, 0]).tolist()
    [[4, 5], [0, 1]]
    """
    return as_pool(X).take(indices)


def dense_array(X):
    """Any array-like as a dense numpy array: a tensor from its device, a sparse matrix densified.

    For labels and the labelled rows of ``fit`` and ``teach`` (few enough to hold); a pandas
    Series or DataFrame gives its values.

    Parameters
    ----------
    X : array-like, torch.Tensor, sparse matrix, pandas Series or DataFrame
        The values.

    Returns
    -------
    array : ndarray
        No copy when ``X`` already is one.

    Examples
    --------
    >>> import torch
    >>> dense_array(torch.tensor([1, 2]))
    array([1, 2])
    """
    if hasattr(X, "iloc") and getattr(X, "ndim", 2) == 1:  # a pandas Series: its values
        return X.to_numpy()
    return as_pool(X, name="X").to_numpy()


def writable(X):
    """``X``, or a copy of it when it is a read-only numpy array held in memory.

    torch cannot wrap read-only memory without a warning, so arrays handed to a network's
    training (the learner's read-only ``X_training``, for instance) are copied first. A
    memmap is never copied: it may not fit in memory.

    Parameters
    ----------
    X : object
        Training data.

    Returns
    -------
    X : object
        A writable array, or ``X`` itself.

    Examples
    --------
    >>> import numpy as np
    >>> frozen = np.zeros(3)
    >>> frozen.flags.writeable = False
    >>> writable(frozen).flags.writeable
    True
    """
    if isinstance(X, np.ndarray) and not isinstance(X, np.memmap) and not X.flags.writeable:
        return X.copy()
    return X


def selected_rows(selected, *, token_ids=False):
    """The rows a query chose, as ``teach`` stores them, so their query scores can be matched there.

    Parameters
    ----------
    selected : array-like, sparse matrix, torch.Tensor, DataFrame or dict of tensors
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
        If a selected row holds NaN or infinity (the message names the first ones).

    Examples
    --------
    >>> selected_rows([[1, 2]]).dtype, selected_rows([[1, 2]], token_ids=True).dtype
    (dtype('float32'), dtype('int64'))
    """
    pool = as_pool(selected)
    if not pool.scorable:
        return None
    if token_ids:
        return np.asarray(pool.to_numpy(), dtype=np.int64)
    rows = _numbers_as(pool.to_numpy(), np.float32, "X_pool")
    finite = np.isfinite(rows.reshape(len(rows), -1)).all(axis=1)
    if not finite.all():
        raise NonFiniteInputError(
            f"X_pool contains NaN or infinity in the selected rows at positions "
            f"{np.flatnonzero(~finite)[:10].tolist()} of the selection; impute or drop those rows "
            "before querying."
        )
    return rows
