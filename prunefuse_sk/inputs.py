"""Labelled samples at the public boundary: checked and converted to what the network takes.

``fit``, ``teach`` and ``fuse`` (and ``simulate``) receive samples in any kind a pool may be
(:func:`prunefuse_sk.pools.as_pool`); their labelled rows are few enough to hold, so they
are made dense here, once: float32 features, or int64 token ids for a network whose input
layer is an embedding. Pools are never converted whole; they are scored batch by batch
(:mod:`prunefuse_sk.scoring`).
"""

import inspect

import numpy as np
from sklearn.utils import assert_all_finite, check_array

from .exceptions import FeatureShapeError, NonFiniteInputError, TokenIdError
from .pools import as_pool, check_token_id_values, text_hint, writable

__all__ = ["check_features", "check_token_ids", "check_inputs", "as_samples"]

# check_array's NaN/inf switch: ``ensure_all_finite`` since scikit-learn 1.6, ``force_all_finite``
# before.
_ALL_FINITE = (
    "ensure_all_finite"
    if "ensure_all_finite" in inspect.signature(check_array).parameters
    else "force_all_finite"
)


def _rows_not_finite(X, name):
    """The error for NaN or infinity in ``X``, naming the first rows that hold them."""
    finite = np.isfinite(X.reshape(len(X), -1)).all(axis=1)
    rows = np.flatnonzero(~finite)
    shown = ", ".join(str(row) for row in rows[:10]) + (", ..." if len(rows) > 10 else "")
    return NonFiniteInputError(
        f"{name} contains NaN or infinity in {len(rows)} row(s): {shown}; impute or drop those "
        "rows first."
    )


def check_features(X, *, name="X", n_features_shape=None):
    """Return ``X`` as a finite float32 ndarray of at least two dimensions.

    Parameters
    ----------
    X : array-like, memmap, Tensor, sparse matrix or DataFrame of shape (n_samples, ...)
        The samples; a tensor is moved to the CPU, a sparse matrix densified.
    name : str, default="X"
        Used in error messages.
    n_features_shape : tuple, default=None
        When given, ``X.shape[1:]`` must equal it (the shape seen at ``fit``).

    Returns
    -------
    X : ndarray of shape (n_samples, ...), float32
        ``X`` converted to float32 (no copy when it already is one).

    Raises
    ------
    TypeError
        If ``X`` holds objects that are not numbers.
    FeatureShapeError
        If ``X`` has fewer than two dimensions, no rows or features, or its
        sample shape differs from ``n_features_shape``.
    NonFiniteInputError
        If ``X`` contains NaN or infinity (the message names the rows).
    ValueError
        If ``X`` holds complex values or strings.

    Examples
    --------
    >>> import numpy as np
    >>> from prunefuse_sk.inputs import check_features
    >>> X = check_features([[0, 1], [2, 3]])
    >>> X.dtype, X.shape
    (dtype('float32'), (2, 2))
    >>> X32 = np.zeros((3, 1, 2), dtype=np.float32)
    >>> check_features(X32) is X32
    True
    >>> check_features([[1.0, 2.0], [1.0, float("nan")]])
    Traceback (most recent call last):
        ...
    prunefuse_sk.exceptions.NonFiniteInputError: X contains NaN or infinity in 1 row(s): 1; impute or drop those rows first.
    """  # noqa: E501
    pool = as_pool(X, name=name).check_shape(n_features_shape, min_samples=1)
    X = pool.to_numpy()
    try:
        # The layout is valid, so what check_array can still reject is the conversion to float32.
        X = check_array(X, dtype=np.float32, allow_nd=True, input_name=name, **{_ALL_FINITE: False})
    except TypeError as exc:
        raise TypeError(f"{name} must hold numbers; converting it failed: {exc}") from exc
    except ValueError as exc:
        raise ValueError(f"{name} must hold numbers; converting it failed: {exc}") from exc
    try:
        assert_all_finite(X, input_name=name)
    except ValueError as exc:
        raise _rows_not_finite(X, name) from exc
    return writable(X)


def check_token_ids(X, n_ids, *, name="X", n_features_shape=None, layer="embedding"):
    """Return ``X`` as int64 token ids for a network whose input layer is an embedding.

    Parameters
    ----------
    X : array-like, memmap, torch.Tensor or pandas.DataFrame of shape (n_samples, n_tokens)
        Integer token ids (e.g. from :class:`prunefuse_sk.text.TokenIds`); a tensor is
        moved to the CPU first.
    n_ids : int
        The embedding's ``num_embeddings``.
    name : str, default="X"
        Used in error messages.
    n_features_shape : tuple, default=None
        When given, ``X.shape[1:]`` must equal it (the shape seen at ``fit``).
    layer : str, default="embedding"
        The embedding layer's name, used in error messages.

    Returns
    -------
    X : ndarray of shape (n_samples, n_tokens), int64
        No copy when ``X`` already is an int64 array.

    Raises
    ------
    TokenIdError
        If ``X`` holds text, floating-point values, or ids outside ``0 .. n_ids - 1``.
    FeatureShapeError
        As :meth:`prunefuse_sk.pools.Pool.check_shape`.

    Examples
    --------
    >>> check_token_ids([[2, 3, 0], [1, 4, 4]], 5).dtype
    dtype('int64')
    """
    X = as_pool(X, name=name).to_numpy()
    if X.dtype.kind in "OUS":
        raise TokenIdError(
            f"{name} holds text or objects, but the network takes integer token ids. "
            f"{text_hint(name)}"
        )
    as_pool(X, name=name).check_shape(n_features_shape, min_samples=1)
    check_token_id_values(X, n_ids, name=name, layer=layer)
    return writable(np.asarray(X, dtype=np.int64))


def as_samples(X, *, name="X"):
    """``X`` as a dense array whose layout is checked, not yet converted.

    Parameters
    ----------
    X : array-like, memmap, Tensor, sparse matrix or DataFrame of shape (n_samples, ...)
        The samples (a tensor goes to the CPU, a sparse matrix is densified).
    name : str, default="X"
        Used in error messages.

    Returns
    -------
    X : ndarray or memmap of shape (n_samples, ...)

    Raises
    ------
    FeatureShapeError
        As :meth:`prunefuse_sk.pools.Pool.check_shape`; for a 1-D array of strings the
        message says how to turn text into token ids.
    """
    X = as_pool(X, name=name).to_numpy()
    if X.ndim == 1 and X.dtype.kind in "OUS" and len(X) and isinstance(X[0], (str, bytes)):
        raise FeatureShapeError(
            f"{name} is a 1-D array of strings; the learner takes arrays of numbers. "
            f"{text_hint(name)}"
        )
    as_pool(X, name=name).check_shape(min_samples=1)
    return X


def check_inputs(X, *, token_input=None, name="X", n_features_shape=None):
    """Samples as the network takes them: float32 features, or int64 token ids for an embedding.

    Parameters
    ----------
    X : array-like, memmap, Tensor, sparse matrix or DataFrame of shape (n_samples, ...)
        The labelled samples (few enough to hold dense).
    token_input : tuple (layer name, num_embeddings) or None, default=None
        The network's embedding input layer (:func:`prunefuse_sk.architecture.token_input`);
        ``None`` for networks that take floating-point features.
    name : str, default="X"
        Used in error messages.
    n_features_shape : tuple, default=None
        When given, the sample shape must equal it (the shape seen at ``fit``).

    Returns
    -------
    X : ndarray, float32 (:func:`check_features`) or int64 (:func:`check_token_ids`)
        The samples, converted.
    """
    if token_input is None:
        return check_features(X, name=name, n_features_shape=n_features_shape)
    layer, n_ids = token_input
    return check_token_ids(X, n_ids, name=name, n_features_shape=n_features_shape, layer=layer)
