"""Input validation at the public boundary: arrays, labels and their mapping to output units."""

import inspect
import math
import numbers

import numpy as np
import scipy.sparse
import torch
from sklearn.utils import assert_all_finite, check_array, check_consistent_length, check_scalar, column_or_1d
from sklearn.utils._param_validation import InvalidParameterError as _SklearnInvalidParameterError
from sklearn.utils._param_validation import validate_parameter_constraints
from sklearn.utils.multiclass import check_classification_targets

from .exceptions import (
    FeatureShapeError,
    InvalidParameterError,
    InvalidQuerySizeError,
    LabelMappingError,
    LengthMismatchError,
    NonFiniteInputError,
    OutputWidthError,
    TokenIdError,
)

__all__ = [
    "check_sample_shape",
    "check_features",
    "check_token_ids",
    "check_token_id_values",
    "check_inputs",
    "as_samples",
    "as_float32",
    "densify",
    "as_row_sliceable",
    "check_labels",
    "resolve_classes",
    "encode_labels",
    "check_n_instances",
    "validate_params",
    "check_flags",
    "check_int",
    "check_real",
    "check_skorch_overrides",
    "check_two_classes",
]

# check_array's NaN/inf switch: ``ensure_all_finite`` since scikit-learn 1.6, ``force_all_finite`` before.
_ALL_FINITE = (
    "ensure_all_finite" if "ensure_all_finite" in inspect.signature(check_array).parameters else "force_all_finite"
)


def check_sample_shape(
    X, *, name="X", n_features_shape=None, estimator_name="PruneFuseActiveLearner", min_samples=1,
    accept_sparse=False,
):
    """Check the layout of samples without converting or copying them.

    Used on pools too, which may be memmaps or tensors on a GPU: only the
    type, the number of dimensions and the sample shape are looked at.

    Parameters
    ----------
    X : array-like, memmap or torch.Tensor of shape (n_samples, ...)
        The samples.
    name : str, default="X"
        Used in error messages.
    n_features_shape : tuple, default=None
        When given, ``X.shape[1:]`` must equal it (the shape seen at ``fit``).
    estimator_name : str, default="PruneFuseActiveLearner"
        Used in error messages.
    min_samples : int, default=1
        Fewest rows ``X`` may have; ``0`` accepts an empty ``X`` (check a
        pool's emptiness first to raise ``EmptyPoolError`` instead).
    accept_sparse : bool, default=False
        Whether a scipy sparse matrix is fine here (pools and ``predict``: they are
        densified one scoring batch at a time).

    Raises
    ------
    TypeError
        If ``X`` is a scipy sparse matrix or array and ``accept_sparse`` is False.
    FeatureShapeError
        If ``X`` has fewer than two dimensions, fewer than ``min_samples``
        rows, no features, or samples of another shape than at ``fit``.
    ValueError
        If ``X`` holds complex values.
    """
    if scipy.sparse.issparse(X) and not accept_sparse:
        raise TypeError(
            f"A sparse matrix was passed as {name}, but dense data is required. Use {name}.toarray() to "
            "convert it, or put a dense transformer (e.g. TruncatedSVD) in front in a Pipeline."
        )
    shape = tuple(X.shape) if hasattr(X, "shape") else np.shape(X)
    if len(shape) < 2:
        raise FeatureShapeError(
            f"Expected a 2D array or more for {name}, got {len(shape)}D (shape {shape}) instead. "
            "Reshape your data either using array.reshape(-1, 1) if your data has a single feature or "
            "array.reshape(1, -1) if it contains a single sample."
        )
    if int(np.prod(shape[1:])) == 0:
        raise FeatureShapeError(f"{name} has 0 feature(s) (shape={shape}) while a minimum of 1 is required.")
    if shape[0] < min_samples:
        raise FeatureShapeError(
            f"Found array with {shape[0]} sample(s) (shape={shape}) while a minimum of {min_samples} is required. "
            f"Pass at least {min_samples} row(s) in {name}."
        )
    dtype = getattr(X, "dtype", None)
    if dtype is not None and (getattr(dtype, "kind", None) == "c" or getattr(dtype, "is_complex", False)):
        raise ValueError(f"Complex data not supported: {name} has dtype {dtype}; pass real-valued features.")
    if n_features_shape is not None and tuple(shape[1:]) != tuple(n_features_shape):
        if len(shape) == 2 and len(n_features_shape) == 1:
            raise FeatureShapeError(
                f"{name} has {shape[1]} features, but {estimator_name} is expecting {n_features_shape[0]} "
                "features as input."
            )
        raise FeatureShapeError(
            f"{name} has samples of shape {tuple(shape[1:])}, but the learner was fitted on samples "
            f"of shape {tuple(n_features_shape)}. Pass samples shaped like the training data."
        )


def check_features(X, *, name="X", n_features_shape=None):
    """Return ``X`` as a finite float32 ndarray of at least two dimensions.

    Parameters
    ----------
    X : array-like, memmap or torch.Tensor of shape (n_samples, ...)
        The samples; a tensor is detached and moved to the CPU first.
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
        If ``X`` is sparse or holds non-numeric objects.
    FeatureShapeError
        If ``X`` has fewer than two dimensions, no rows or features, or its
        sample shape differs from ``n_features_shape``.
    NonFiniteInputError
        If ``X`` contains NaN or infinity.
    ValueError
        If ``X`` holds complex values or strings.

    Examples
    --------
    >>> import numpy as np
    >>> from prunefuse_sk.validation import check_features
    >>> X = check_features([[0, 1], [2, 3]])
    >>> X.dtype, X.shape
    (dtype('float32'), (2, 2))
    >>> X32 = np.zeros((3, 1, 2), dtype=np.float32)
    >>> check_features(X32) is X32
    True
    >>> check_features([[1.0, float("nan")]])
    Traceback (most recent call last):
        ...
    prunefuse_sk.exceptions.NonFiniteInputError: X contains NaN or infinity; impute or drop those rows first.
    """
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if not hasattr(X, "shape") and not scipy.sparse.issparse(X):
        X = np.asarray(X)
    # Layout first, without converting anything: our messages for sparse, complex, too few
    # dimensions, rows or features, and a sample shape other than at fit.
    check_sample_shape(X, name=name, n_features_shape=n_features_shape)
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
        raise NonFiniteInputError(f"{name} contains NaN or infinity; impute or drop those rows first.") from exc
    return X


# Rows per block when token ids are range-checked: a memmap pool is read block by block, never copied whole.
TOKEN_CHECK_ROWS = 65_536


def _text_hint(name):
    return (f"Turn raw text into token ids with prunefuse_sk.text.TokenIds (e.g. "
            f"make_pipeline(TokenIds(max_length=256), learner)) and pass its output as {name}.")


def check_token_id_values(X, n_ids, *, name="X", layer="embedding"):
    """Check that ``X`` holds integer token ids in ``[0, n_ids)``, block by block, without copying it.

    Parameters
    ----------
    X : ndarray, memmap or torch.Tensor of shape (n_samples, ...)
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
    """
    dtype = X.dtype
    if isinstance(X, torch.Tensor):
        integer = not (X.is_floating_point() or X.is_complex() or dtype == torch.bool)
    else:
        integer = np.issubdtype(dtype, np.integer)
    if not integer:
        raise TokenIdError(
            f"{name} holds {dtype} values, but the network's input layer '{layer}' is an embedding and takes "
            f"integer token ids (0..{n_ids - 1}). Pass an integer array, e.g. {name}.astype('int64') if it "
            f"holds ids as floats. {_text_hint(name)}"
        )
    for start in range(0, len(X), TOKEN_CHECK_ROWS):
        block = X[start:start + TOKEN_CHECK_ROWS]
        if block.numel() == 0 if isinstance(block, torch.Tensor) else block.size == 0:
            continue
        low, high = int(block.min()), int(block.max())
        if low < 0:
            raise TokenIdError(
                f"{name} holds the negative token id {low}; token ids start at 0 (padding) and 1 (unknown)."
            )
        if high >= n_ids:
            raise TokenIdError(
                f"{name} holds token id {high}, but the network's input layer '{layer}' embeds ids 0..{n_ids - 1} "
                f"(num_embeddings={n_ids}). Build the embedding with num_embeddings at least the tokenizer's "
                "number of ids (TokenIds.n_ids_), or map unseen tokens to the unknown id (1)."
            )


def check_token_ids(X, n_ids, *, name="X", n_features_shape=None, layer="embedding"):
    """Return ``X`` as int64 token ids for a network whose input layer is an embedding.

    Parameters
    ----------
    X : array-like, memmap or torch.Tensor of shape (n_samples, n_tokens)
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
        As :func:`check_sample_shape`.

    Examples
    --------
    >>> check_token_ids([[2, 3, 0], [1, 4, 4]], 5).dtype
    dtype('int64')
    """
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if not hasattr(X, "shape") and not scipy.sparse.issparse(X):
        X = np.asarray(X)
    if getattr(X, "dtype", None) is not None and X.dtype.kind in "OUS":
        raise TokenIdError(f"{name} holds text or objects, but the network takes integer token ids. {_text_hint(name)}")
    check_sample_shape(X, name=name, n_features_shape=n_features_shape)
    check_token_id_values(X, n_ids, name=name, layer=layer)
    return np.asarray(X, dtype=np.int64)


def as_samples(X, *, name="X"):
    """``X`` as an array whose layout is checked, not yet converted (a tensor goes to the CPU).

    Parameters
    ----------
    X : array-like, memmap or torch.Tensor of shape (n_samples, ...)
    name : str, default="X"
        Used in error messages.

    Returns
    -------
    X : ndarray or memmap of shape (n_samples, ...)

    Raises
    ------
    FeatureShapeError
        As :func:`check_sample_shape`; for a 1-D array of strings the message says how to turn
        text into token ids.
    """
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if not hasattr(X, "shape") and not scipy.sparse.issparse(X):
        X = np.asarray(X)
    if getattr(X, "ndim", 0) == 1 and X.dtype.kind in "OUS" and len(X) and isinstance(X[0], (str, bytes)):
        raise FeatureShapeError(f"{name} is a 1-D array of strings; the learner takes arrays of numbers. {_text_hint(name)}")
    check_sample_shape(X, name=name, accept_sparse=True)
    return densify(X)


def as_row_sliceable(X):
    """A sparse matrix in a format that slices rows cheaply (CSR; a sparse copy, never dense); others unchanged.

    Examples
    --------
    >>> import scipy.sparse
    >>> as_row_sliceable(scipy.sparse.coo_matrix([[0, 1], [2, 0]])).format
    'csr'
    """
    if scipy.sparse.issparse(X) and X.format != "csr":
        return scipy.sparse.csr_matrix(X)
    return X


def densify(X):
    """A scipy sparse matrix as a dense ndarray (labelled rows, or one pool batch); anything else unchanged.

    Examples
    --------
    >>> import scipy.sparse
    >>> densify(scipy.sparse.eye(2, format="csr"))
    array([[1., 0.],
           [0., 1.]])
    """
    return X.toarray() if scipy.sparse.issparse(X) else X


def check_inputs(X, *, token_input=None, name="X", n_features_shape=None):
    """Samples as the network takes them: float32 features, or int64 token ids for an embedding input.

    Parameters
    ----------
    X : array-like, memmap or torch.Tensor of shape (n_samples, ...)
    token_input : tuple (layer name, num_embeddings) or None, default=None
        The network's embedding input layer (:func:`prunefuse_sk.pruning.token_input`);
        ``None`` for networks that take floating-point features.
    name, n_features_shape
        As in :func:`check_features`.

    Returns
    -------
    X : ndarray, float32 (:func:`check_features`) or int64 (:func:`check_token_ids`)
    """
    if scipy.sparse.issparse(X):  # labelled rows (teach, fuse): few enough to hold dense
        check_sample_shape(X, name=name, n_features_shape=n_features_shape, accept_sparse=True)
        X = densify(X)
    if token_input is None:
        return check_features(X, name=name, n_features_shape=n_features_shape)
    layer, n_ids = token_input
    return check_token_ids(X, n_ids, name=name, n_features_shape=n_features_shape, layer=layer)


def as_float32(X, *, name="X"):
    """``np.asarray(X, dtype=float32)``, with an error that names ``X`` when it holds no numbers.

    Parameters
    ----------
    X : array-like
    name : str, default="X"
        Used in error messages.

    Returns
    -------
    X : ndarray, float32

    Raises
    ------
    TypeError, ValueError
        If ``X`` holds objects or strings that are not numbers.
    """
    try:
        return np.asarray(densify(X), dtype=np.float32)
    except TypeError as exc:
        raise TypeError(f"{name} must hold numbers; converting it failed: {exc}") from exc
    except ValueError as exc:
        raise ValueError(f"{name} must hold numbers; converting it failed: {exc}") from exc


def check_labels(y, n_samples, *, name="y"):
    """Return ``y`` as a 1-D ndarray with ``n_samples`` entries.

    A tensor is detached and moved to the CPU; a column vector of shape
    (n_samples, 1) is flattened.

    Parameters
    ----------
    y : array-like or torch.Tensor of shape (n_samples,) or (n_samples, 1)
        The labels.
    n_samples : int
        Number of samples of the matching ``X``; ``y`` must have as many
        entries.
    name : str, default="y"
        Used in error messages.

    Returns
    -------
    y : ndarray of shape (n_samples,)
        The labels, dtype unchanged.

    Raises
    ------
    FeatureShapeError
        If ``y`` is not 1-D after flattening a single column.
    LengthMismatchError
        If its length differs from ``n_samples``.
    NonFiniteInputError
        If it holds NaN or infinity.
    ValueError
        If ``y`` is None or holds continuous (regression) targets.

    Warns
    -----
    DataConversionWarning
        If ``y`` is a column vector of shape (n_samples, 1).

    Examples
    --------
    >>> from prunefuse_sk.validation import check_labels
    >>> check_labels(["cat", "dog", "cat"], 3)
    array(['cat', 'dog', 'cat'], dtype='<U3')
    >>> check_labels([0, 1], 3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    prunefuse_sk.exceptions.LengthMismatchError: X and y have different lengths: 3 and 2. ...
    """
    if y is None:
        raise ValueError(
            "PruneFuseActiveLearner requires y to be passed, but the target y is None: pass the labels of X."
        )
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    try:
        y = column_or_1d(y, warn=True)  # no input_name=: scikit-learn 1.3 lacks it
    except ValueError as exc:
        if y.ndim == 1 or y.shape[1:] == (1,):  # not a shape problem (e.g. complex labels)
            raise
        raise FeatureShapeError(
            f"{name} must be 1-D (n_samples,); got shape {y.shape} instead. Pass one label per sample."
        ) from exc
    try:
        check_consistent_length(range(n_samples), y)  # range(n): a stand-in for X with n rows
    except ValueError as exc:
        raise LengthMismatchError(
            f"X and {name} have different lengths: {n_samples} and {len(y)}. Pass exactly one label per row of X."
        ) from exc
    try:
        assert_all_finite(y, input_name=name)
    except ValueError as exc:
        raise NonFiniteInputError(f"Input {name} contains NaN or infinity; every sample needs a real label.") from exc
    check_classification_targets(y)  # "Unknown label type: continuous" for regression targets
    return y


def _is_integer_labels(y):
    if y.dtype.kind in "iu":
        return True
    if y.dtype.kind == "f":
        return bool(np.all(np.isfinite(y)) and np.all(np.mod(y, 1) == 0))
    return False


def resolve_classes(y, n_outputs, declared_classes=None):
    """Return the labels the network's output units stand for, unit by unit.

    * ``declared_classes`` (skorch's ``classes=``) when given;
    * ``0, 1, ..., n_outputs - 1`` when every label is an integer in that range
      (skorch's own convention: label k is output unit k), which keeps the
      mapping stable when later rounds bring classes the seed set lacked;
    * otherwise the sorted distinct labels, which must be exactly ``n_outputs``.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        The training labels, as returned by :func:`check_labels`.
    n_outputs : int
        Width of the network's output.
    declared_classes : array-like of shape (n_outputs,), default=None
        The labels declared by the user (skorch's ``classes=``), one per
        output unit; when given, ``y`` is not inspected.

    Returns
    -------
    classes : ndarray of shape (n_outputs,)
        ``classes[k]`` is the label of output unit ``k``.

    Raises
    ------
    OutputWidthError
        If ``declared_classes`` does not have ``n_outputs`` entries, or the
        labels are neither integers in ``[0, n_outputs)`` nor exactly
        ``n_outputs`` distinct values.
    """
    if declared_classes is not None:
        classes = np.asarray(declared_classes)
        if len(classes) != n_outputs:
            raise OutputWidthError(
                f"The estimator declares {len(classes)} classes but its network has {n_outputs} output units. "
                "Make the output layer as wide as classes=[...], or fix classes."
            )
        return classes
    if _is_integer_labels(y) and y.min() >= 0 and y.max() < n_outputs:
        return np.arange(n_outputs, dtype=np.asarray(y).dtype if y.dtype.kind in "iu" else np.int64)
    classes = np.unique(y)
    if len(classes) != n_outputs:
        raise OutputWidthError(
            f"The labels {classes.tolist()[:20]} cannot be mapped onto the network's {n_outputs} output units. "
            f"Use integer labels 0..{n_outputs - 1}, or pass classes=[...] (one label per output unit) "
            "to the NeuralNetClassifier."
        )
    return classes


def encode_labels(y, classes):
    """Return the output-unit index of every label.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        The labels to encode.
    classes : array-like of shape (n_outputs,)
        The label of every output unit, as returned by
        :func:`resolve_classes`; need not be sorted.

    Returns
    -------
    codes : ndarray of shape (n_samples,), dtype int64
        ``codes[i]`` is the position of ``y[i]`` in ``classes``.

    Raises
    ------
    LabelMappingError
        If a label is not among ``classes`` or cannot be compared with them.
    """
    classes = np.asarray(classes)
    order = np.argsort(classes, kind="stable")
    sorted_classes = classes[order]
    try:
        positions = np.searchsorted(sorted_classes, y)
    except TypeError as exc:
        raise LabelMappingError(f"Labels of type {np.asarray(y).dtype} cannot be compared with the classes {classes.tolist()}.") from exc
    positions = np.clip(positions, 0, len(classes) - 1)
    unknown = sorted_classes[positions] != y
    if np.any(unknown):
        missing = np.unique(np.asarray(y)[unknown]).tolist()
        raise LabelMappingError(
            f"Labels {missing[:20]} are not among the network's classes {classes.tolist()[:20]}: the output "
            "layer has no unit for them. Give the network one output per class (and classes=[...] for "
            "non-integer labels), then fit again."
        )
    return order[positions].astype(np.int64)


def check_n_instances(n, n_instances, n_available):
    """Resolve ``n``/``n_instances`` to a positive int no larger than the pool.

    ``n_instances`` is the modAL-style alias of ``n``; when it is given,
    ``n`` must be left at its default of 1 or equal it.

    Parameters
    ----------
    n : int
        Number of samples requested.
    n_instances : int or None
        Alias of ``n``; ``None`` when not given.
    n_available : int
        Number of samples left in the pool.

    Returns
    -------
    n : int
        The number of samples to query, ``1 <= n <= n_available``.

    Raises
    ------
    InvalidQuerySizeError
        (a ``ValueError`` and ``TypeError``) If the requested number is not
        an integer (booleans included), smaller than 1 or larger than
        ``n_available``, or ``n_instances`` is given and ``n`` is neither 1
        nor equal to it.
    """
    if n_instances is not None:
        if n not in (1, n_instances):
            raise InvalidQuerySizeError(f"Pass either n={n} or n_instances={n_instances}, not both.")
        n = n_instances
    not_int = f"n must be a positive integer; got {n!r} of type {type(n).__name__}. Pass e.g. n=10."
    too_few = f"n must be at least 1; got {n}. Ask for one or more samples."
    too_many = f"n={n} is larger than the pool ({n_available} samples); ask for at most {n_available}."
    # two calls, one bound each, so that the ValueError says which bound was crossed
    for bound, message in ({"min_val": 1}, too_few), ({"max_val": n_available}, too_many):
        _check_scalar(
            n, "n", numbers.Integral, type_message=not_int, range_message=message, error=InvalidQuerySizeError, **bound
        )
    return int(n)


def _check_scalar(
    x, name, target_type, *, type_message, range_message=None, min_val=None, max_val=None, error=InvalidParameterError
):
    """:func:`sklearn.utils.check_scalar`, re-raising its errors as ``error`` with our messages.

    Booleans (``bool`` and ``np.bool_``) are rejected although they are
    ``numbers.Integral``, and so are NaN and infinity, which pass
    ``check_scalar``'s bounds.

    Parameters
    ----------
    x : object
        The value to check.
    name : str
        Its name, for ``check_scalar``.
    target_type : type or tuple of types
        The accepted types, e.g. ``numbers.Integral``.
    type_message : str
        The message when ``x`` is of another type, a boolean or not finite.
    range_message : str, default=None
        The message when ``x`` is out of ``[min_val, max_val]``;
        ``type_message`` when None.
    min_val, max_val : float, default=None
        The inclusive bounds; None for none.
    error : type, default=InvalidParameterError
        The exception raised.

    Returns
    -------
    x : object
        ``x`` itself.

    Raises
    ------
    error
        If ``x`` fails a check.
    """
    if isinstance(x, (bool, np.bool_)):
        raise error(type_message)
    try:
        check_scalar(x, name, target_type)
    except TypeError as exc:
        raise error(type_message) from exc
    if not isinstance(x, numbers.Integral) and not math.isfinite(x):
        raise error(type_message)
    try:
        return check_scalar(x, name, target_type, min_val=min_val, max_val=max_val)
    except ValueError as exc:
        raise error(range_message or type_message) from exc


def validate_params(estimator, rules, *, no_bools=()):
    """Check an estimator's parameters against its ``_parameter_constraints`` (scikit-learn's validation).

    scikit-learn's own check runs parameter by parameter, so that the error
    names the one that failed and says, in the estimator's words, what it must be.

    Parameters
    ----------
    estimator : BaseEstimator
        With a ``_parameter_constraints`` dict, as in scikit-learn.
    rules : dict of str to str
        What each parameter must be, completing "<name> must be ...".
    no_bools : sequence of str, default=()
        Numeric parameters that refuse booleans (scikit-learn counts ``True`` as the integer 1).

    Raises
    ------
    InvalidParameterError
        (a ``ValueError`` and ``TypeError``, subclass of scikit-learn's) "<name> must be <rule>; got <value> instead."

    Examples
    --------
    >>> from numbers import Real
    >>> from sklearn.base import BaseEstimator
    >>> from sklearn.utils._param_validation import Interval
    >>> class Shrinker(BaseEstimator):
    ...     _parameter_constraints = {"ratio": [Interval(Real, 0, 1, closed="neither")]}
    ...     def __init__(self, ratio=0.5):
    ...         self.ratio = ratio
    >>> validate_params(Shrinker(2.0), {"ratio": "a float in (0, 1)"})
    Traceback (most recent call last):
    ...
    prunefuse_sk.exceptions.InvalidParameterError: ratio must be a float in (0, 1); got 2.0 instead.
    """
    params = estimator.get_params(deep=False)
    caller = type(estimator).__name__
    for name, constraints in estimator._parameter_constraints.items():
        value = params[name]
        try:
            validate_parameter_constraints({name: constraints}, {name: value}, caller_name=caller)
            valid = not (name in no_bools and isinstance(value, (bool, np.bool_)))
        except _SklearnInvalidParameterError:
            valid = False
        if not valid:
            shown = repr(value) if np.isscalar(value) or value is None else type(value).__name__
            raise InvalidParameterError(f"{name} must be {rules[name]}; got {shown} instead.")


def check_flags(caller, **flags):
    """Check that method arguments are booleans, with scikit-learn's ``"boolean"`` constraint.

    Parameters
    ----------
    caller : str
        The method's name.
    **flags
        The arguments, by name.

    Raises
    ------
    InvalidParameterError
        "<name> must be True or False; got <value> instead."

    Examples
    --------
    >>> check_flags("fuse", train=True)
    >>> check_flags("fuse", train="no")
    Traceback (most recent call last):
    ...
    prunefuse_sk.exceptions.InvalidParameterError: train must be True or False; got 'no' instead.
    """
    try:
        validate_parameter_constraints({name: ["boolean"] for name in flags}, flags, caller_name=caller)
    except _SklearnInvalidParameterError:
        bad = next(name for name, value in flags.items() if not isinstance(value, (bool, np.bool_)))
        raise InvalidParameterError(f"{bad} must be True or False; got {flags[bad]!r} instead.") from None


def check_int(x, name, *, minimum=1, allow_none=False, what=None):
    """``x`` as an int ``>= minimum`` (not a bool), or None when allowed, with :func:`sklearn.utils.check_scalar`.

    Parameters
    ----------
    x : object
    name : str
        Used in the error message.
    minimum : int, default=1
    allow_none : bool, default=False
    what : str, default=None
        What ``x`` must be, in the error's words; "an int >= <minimum>" when None.

    Returns
    -------
    x : int or None

    Raises
    ------
    InvalidParameterError
        "<name> must be <what> [or None]; got <x>."

    Examples
    --------
    >>> check_int(3, "max_epochs")
    3
    >>> check_int(0, "max_epochs", allow_none=True)
    Traceback (most recent call last):
    ...
    prunefuse_sk.exceptions.InvalidParameterError: max_epochs must be an int >= 1 or None; got 0.
    """
    if x is None and allow_none:
        return None
    message = f"{name} must be {what or f'an int >= {minimum}'}{' or None' if allow_none else ''}; got {x!r}."
    return int(_check_scalar(x, name, numbers.Integral, type_message=message, min_val=minimum))


def check_real(x, name, *, low=-np.inf, high=np.inf):
    """``x`` as a finite float in ``[low, high]`` (not a bool), with :func:`sklearn.utils.check_scalar`.

    Parameters
    ----------
    x : object
    name : str
        Used in the error message.
    low, high : float, default=-inf, inf
        The inclusive bounds.

    Returns
    -------
    x : float

    Raises
    ------
    InvalidParameterError
        "<name> must be a finite real number" or "<name> must be in [low, high]".

    Examples
    --------
    >>> check_real(0.5, "threshold", low=-1.0, high=1.0)
    0.5
    >>> check_real(float("nan"), "threshold")
    Traceback (most recent call last):
    ...
    prunefuse_sk.exceptions.InvalidParameterError: threshold must be a finite real number; got nan.
    """
    return float(_check_scalar(x, name, numbers.Real, min_val=low, max_val=high,
                               type_message=f"{name} must be a finite real number; got {x!r}.",
                               range_message=f"{name} must be in [{low}, {high}]; got {x!r}."))


def check_skorch_overrides(name, overrides, what):
    """Refuse ``module`` and ``module__*`` in a dict of skorch parameter overrides.

    Parameters
    ----------
    name : str
        The parameter holding the overrides, e.g. ``"proxy_params"``.
    overrides : dict or None
    what : str
        Where that net's module comes from, for the message.

    Raises
    ------
    InvalidParameterError
        If ``overrides`` sets the module or its arguments; the message says to change the estimator.

    Examples
    --------
    >>> check_skorch_overrides("proxy_params", {"max_epochs": 3}, "the pruned full network")
    >>> check_skorch_overrides("proxy_params", {"module__hidden": 3}, "the pruned full network")
    Traceback (most recent call last):
    ...
    prunefuse_sk.exceptions.InvalidParameterError: proxy_params cannot set ['module__hidden']: the pruned full \
network. Change the architecture on the estimator (e.g. estimator__module__hidden) instead.
    """
    module_keys = [key for key in (overrides or {}) if key == "module" or key.startswith("module__")]
    if module_keys:
        raise InvalidParameterError(
            f"{name} cannot set {module_keys}: {what}. "
            "Change the architecture on the estimator (e.g. estimator__module__hidden) instead."
        )


def check_two_classes(y, why):
    """Refuse labels of a single class, saying ``why`` two are needed.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
    why : str
        Completes "...; <why>. Label samples of another class first."

    Raises
    ------
    LabelMappingError
        If ``y`` holds one class only.

    Examples
    --------
    >>> check_two_classes([3, 3], "the default network sizes its output layer from them")
    Traceback (most recent call last):
    ...
    prunefuse_sk.exceptions.LabelMappingError: The seed set has 1 class only ([3], n_samples = 2); the default \
network sizes its output layer from them. Label samples of another class first.
    """
    classes = np.unique(y)
    if len(classes) < 2:
        raise LabelMappingError(f"The seed set has 1 class only ({classes.tolist()}, n_samples = {len(y)}); {why}. "
                                "Label samples of another class first.")
