"""Checks of parameters (constructor and method arguments), with errors in the caller's words.

Built on scikit-learn's ``validate_parameter_constraints`` and ``check_scalar``; every
error is an :class:`~prunefuse_sk.exceptions.InvalidParameterError` (or its subclass
:class:`~prunefuse_sk.exceptions.InvalidQuerySizeError`) saying what the parameter must be.
"""

import math
import numbers

import numpy as np
from sklearn.utils import check_scalar
from sklearn.utils._param_validation import InvalidParameterError as _SklearnInvalidParameterError
from sklearn.utils._param_validation import validate_parameter_constraints

from .exceptions import InvalidParameterError, InvalidQuerySizeError

__all__ = [
    "check_n_instances",
    "check_scalar_as",
    "validate_params",
    "check_flags",
    "check_int",
    "check_real",
    "check_skorch_overrides",
]


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
            raise InvalidQuerySizeError(
                f"Pass either n={n} or n_instances={n_instances}, not both."
            )
        n = n_instances
    not_int = f"n must be a positive integer; got {n!r} of type {type(n).__name__}. Pass e.g. n=10."
    too_few = f"n must be at least 1; got {n}. Ask for one or more samples."
    too_many = (
        f"n={n} is larger than the pool ({n_available} samples); ask for at most {n_available}."
    )
    # two calls, one bound each, so that the ValueError says which bound was crossed
    for bound, message in ({"min_val": 1}, too_few), ({"max_val": n_available}, too_many):
        check_scalar_as(
            n,
            "n",
            numbers.Integral,
            type_message=not_int,
            range_message=message,
            error=InvalidQuerySizeError,
            **bound,
        )
    return int(n)


def check_scalar_as(
    x,
    name,
    target_type,
    *,
    type_message,
    range_message=None,
    min_val=None,
    max_val=None,
    error=InvalidParameterError,
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
    """Check an estimator's parameters against its ``_parameter_constraints``, as sklearn does.

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
        (a ``ValueError`` and ``TypeError``, subclass of scikit-learn's)
        "<name> must be <rule>; got <value> instead."

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
        validate_parameter_constraints(
            {name: ["boolean"] for name in flags}, flags, caller_name=caller
        )
    except _SklearnInvalidParameterError:
        bad = next(name for name, value in flags.items() if not isinstance(value, (bool, np.bool_)))
        raise InvalidParameterError(
            f"{bad} must be True or False; got {flags[bad]!r} instead."
        ) from None


def check_int(x, name, *, minimum=1, allow_none=False, what=None):
    """``x`` as an int ``>= minimum`` (not a bool), or None when allowed.

    Built on :func:`sklearn.utils.check_scalar`.

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
    expected = what or f"an int >= {minimum}"
    message = f"{name} must be {expected}{' or None' if allow_none else ''}; got {x!r}."
    return int(check_scalar_as(x, name, numbers.Integral, type_message=message, min_val=minimum))


def check_real(x, name, *, low=-np.inf, high=np.inf):
    """``x`` as a finite float in ``[low, high]`` (not a bool).

    Built on :func:`sklearn.utils.check_scalar`.

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
    return float(
        check_scalar_as(
            x,
            name,
            numbers.Real,
            min_val=low,
            max_val=high,
            type_message=f"{name} must be a finite real number; got {x!r}.",
            range_message=f"{name} must be in [{low}, {high}]; got {x!r}.",
        )
    )


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
    """  # noqa: E501
    module_keys = [
        key for key in (overrides or {}) if key == "module" or key.startswith("module__")
    ]
    if module_keys:
        raise InvalidParameterError(
            f"{name} cannot set {module_keys}: {what}. "
            "Change the architecture on the estimator (e.g. estimator__module__hidden) instead."
        )
