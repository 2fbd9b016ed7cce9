"""Docstring sections the measures and strategies share, and the decorator that fills them in.

A shared section is written once here and placed into each docstring through a ``{name}``
field that :func:`fill_doc` fills at import time, so every strategy documents its common
parameters (``learner``, ``X_pool``, ``n_instances``, ``random_state``, ``batch_size``,
``autocast``) and its return values in the same words.
"""

import inspect

__all__ = ["SETTLES_2009", "fill_doc", "strategy_doc", "strategy_returns"]

SETTLES_2009 = (
    'B. Settles, "Active Learning Literature Survey", Computer Sciences\n'
    "Technical Report 1648, University of Wisconsin-Madison, 2009."
)

# The Parameters and Returns sections every strategy shares (``uncertainty``, ``diversity``,
# ``bayesian``).
_STRATEGY_PARAMS = """\
Parameters
----------
learner : {learner}
X_pool : array-like, memmap or torch.Tensor of shape (n_samples, ...)
    The unlabelled pool to choose from.
n_instances : int, default=1
    Number of samples to pick, ``1 <= n_instances <= n_samples``.
{extra}random_state : int, RandomState instance or None, default=None
    {random_state}
batch_size : int, default=None
    Rows per forward pass when the learner scores with ``score_pool``.
autocast : bool, default=False
    Score in float16 on CUDA when the learner scores with ``score_pool``."""

# Ends at the type line of ``scores``: each strategy writes its description below ``{returns}``.
_STRATEGY_RETURNS = """\
Returns
-------
indices : ndarray of shape (n_instances,), dtype int64
    Positions into ``X_pool`` of the chosen samples,
    {order}.
scores : ndarray of shape (n_instances,)"""


def fill_doc(**parts):
    """Decorator: fill the ``{name}`` fields of a docstring with shared text.

    The docstring is dedented first (:func:`inspect.cleandoc`), so shared
    sections are written without indentation and line up with it. Literal
    braces in a decorated docstring must be doubled.

    Parameters
    ----------
    **parts : str
        The text of each field, by name.

    Returns
    -------
    decorator : callable
        Fills the decorated function's docstring in place (a docstring of None, as
        under ``python -OO``, stays None) and returns the function.

    Examples
    --------
    >>> @fill_doc(note="Shared words.")
    ... def f():
    ...     '''Do it.
    ...
    ...     {note}
    ...     '''
    >>> print(f.__doc__)
    Do it.
    <BLANKLINE>
    Shared words.
    """

    def fill(func):
        if func.__doc__ is not None:  # None under python -OO
            func.__doc__ = inspect.cleandoc(func.__doc__).format(**parts)
        return func

    return fill


def strategy_returns(order):
    """The ``Returns`` section of a strategy's docstring, up to the type line of ``scores``.

    Parameters
    ----------
    order : str
        The order of the returned indices (e.g. ``"best first"``).

    Returns
    -------
    section : str
        Each strategy writes the description of its ``scores`` below it.
    """
    return _STRATEGY_RETURNS.format(order=order)


def strategy_doc(learner, random_state, order, extra=""):
    """The ``params`` and ``returns`` fields of a strategy's docstring, for :func:`fill_doc`.

    Continuation lines in the arguments are indented by four spaces.

    Parameters
    ----------
    learner : str
        The type line and description of the ``learner`` parameter.
    random_state : str
        The description of ``random_state``.
    order : str
        The order of the returned indices.
    extra : str, default=""
        Whole parameter entries that go before ``random_state``.

    Returns
    -------
    fields : dict
        ``{"params": ..., "returns": ...}``.
    """
    return {
        "params": _STRATEGY_PARAMS.format(learner=learner, random_state=random_state, extra=extra),
        "returns": strategy_returns(order),
    }
