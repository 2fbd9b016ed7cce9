"""Labels at the public boundary: checked, mapped to the network's output units and back."""

import numpy as np
from sklearn.utils import assert_all_finite, check_consistent_length, column_or_1d
from sklearn.utils.multiclass import check_classification_targets

from .exceptions import (
    FeatureShapeError,
    LabelMappingError,
    LengthMismatchError,
    NonFiniteInputError,
    OutputWidthError,
)
from .pools import dense_array

__all__ = ["check_labels", "resolve_classes", "encode_labels", "check_two_classes"]


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
    >>> from prunefuse_sk.labels import check_labels
    >>> check_labels(["cat", "dog", "cat"], 3)
    array(['cat', 'dog', 'cat'], dtype='<U3')
    >>> check_labels([0, 1], 3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    prunefuse_sk.exceptions.LengthMismatchError: X and y have different lengths: 3 and 2. ...
    """
    if y is None:
        raise ValueError(
            "PruneFuseActiveLearner requires y to be passed, but the target y is None: pass the "
            "labels of X."
        )
    y = dense_array(y)
    try:
        y = column_or_1d(y, warn=True)  # no input_name=: scikit-learn 1.3 lacks it
    except ValueError as exc:
        if y.ndim == 1 or y.shape[1:] == (1,):  # not a shape problem (e.g. complex labels)
            raise
        raise FeatureShapeError(
            f"{name} must be 1-D (n_samples,); got shape {y.shape} instead. Pass one label per "
            "sample."
        ) from exc
    try:
        check_consistent_length(range(n_samples), y)  # range(n): a stand-in for X with n rows
    except ValueError as exc:
        raise LengthMismatchError(
            f"X and {name} have different lengths: {n_samples} and {len(y)}. Pass exactly one "
            "label per row of X."
        ) from exc
    try:
        assert_all_finite(y, input_name=name)
    except ValueError as exc:
        raise NonFiniteInputError(
            f"Input {name} contains NaN or infinity; every sample needs a real label."
        ) from exc
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
                f"The estimator declares {len(classes)} classes but its network has {n_outputs} "
                "output units. "
                "Make the output layer as wide as classes=[...], or fix classes."
            )
        return classes
    if _is_integer_labels(y) and y.min() >= 0 and y.max() < n_outputs:
        return np.arange(n_outputs, dtype=np.asarray(y).dtype if y.dtype.kind in "iu" else np.int64)
    classes = np.unique(y)
    if len(classes) != n_outputs:
        raise OutputWidthError(
            f"The labels {classes.tolist()[:20]} cannot be mapped onto the network's {n_outputs} "
            "output units. "
            f"Use integer labels 0..{n_outputs - 1}, or pass classes=[...] (one label per output "
            "unit) "
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
        raise LabelMappingError(
            f"Labels of type {np.asarray(y).dtype} cannot be compared with the classes "
            f"{classes.tolist()}."
        ) from exc
    positions = np.clip(positions, 0, len(classes) - 1)
    unknown = sorted_classes[positions] != y
    if np.any(unknown):
        missing = np.unique(np.asarray(y)[unknown]).tolist()
        raise LabelMappingError(
            f"Labels {missing[:20]} are not among the network's classes {classes.tolist()[:20]}: "
            "the output "
            "layer has no unit for them. Give the network one output per class (and classes=[...] "
            "for "
            "non-integer labels), then fit again."
        )
    return order[positions].astype(np.int64)


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
    """  # noqa: E501
    classes = np.unique(y)
    if len(classes) < 2:
        raise LabelMappingError(
            f"The seed set has 1 class only ({classes.tolist()}, n_samples = {len(y)}); {why}. "
            "Label samples of another class first."
        )
