"""Uncertainty and random strategies: measure + selector, as plain functions.

Every strategy has the signature ``strategy(learner, X_pool, n_instances=1, *,
random_state=None) -> (indices, scores)`` and works with any learner exposing
``predict_proba`` (a :class:`~prunefuse_sk.PruneFuseActiveLearner` hands its proxy).
``indices`` point into ``X_pool``, best first; ``scores`` are theirs.
"""

from .._random import as_random_state
from .measures import entropy, least_confidence, margin_uncertainty
from .scoring import n_rows
from .selectors import top_n

__all__ = ["least_confidence_sampling", "margin_sampling", "entropy_sampling", "random_sampling"]


def _pool_proba(learner, X_pool, batch_size=None, autocast=False):
    """Probabilities from ``score_pool`` when the learner has it (batch size, autocast), else ``predict_proba``."""
    if hasattr(learner, "score_pool"):
        return learner.score_pool(X_pool, batch_size=batch_size, autocast=autocast).proba
    return learner.predict_proba(X_pool)


def _measure_and_select(measure, learner, X_pool, n_instances, random_state, batch_size, autocast):
    scores = measure(_pool_proba(learner, X_pool, batch_size, autocast))
    indices = top_n(scores, n_instances, random_state=random_state)
    return indices, scores[indices]


def least_confidence_sampling(learner, X_pool, n_instances=1, *, random_state=None, batch_size=None, autocast=False):
    """Pick the samples whose most likely class has the lowest probability.

    Scores every sample with :func:`~prunefuse_sk.strategies.measures.least_confidence`
    (``1 - max_k p_k``) and keeps the ``n_instances`` highest with
    :func:`~prunefuse_sk.strategies.selectors.top_n`.

    Parameters
    ----------
    learner : object with ``predict_proba``
        A fitted estimator; ``learner.predict_proba(X_pool)`` must return an
        array of shape (n_samples, n_classes).
    X_pool : array-like of shape (n_samples, ...)
        The unlabelled pool to choose from, passed to ``predict_proba``
        as is.
    n_instances : int, default=1
        Number of samples to pick, ``1 <= n_instances <= n_samples``.
    random_state : int, RandomState instance or None, default=None
        Breaks ties between equal scores at random; ``None`` favours the
        lower index.
    batch_size : int, default=None
        Rows per forward pass when the learner has ``score_pool``.
    autocast : bool, default=False
        Score in float16 on CUDA when the learner has ``score_pool``.

    Returns
    -------
    indices : ndarray of shape (n_instances,), dtype int64
        Positions into ``X_pool`` of the chosen samples, best first.
    scores : ndarray of shape (n_instances,)
        ``1 - max_k p_k`` of the chosen samples, in the order of ``indices``.

    References
    ----------
    B. Settles, "Active Learning Literature Survey", Computer Sciences
    Technical Report 1648, University of Wisconsin-Madison, 2009.
    """
    return _measure_and_select(least_confidence, learner, X_pool, n_instances, random_state, batch_size, autocast)


def margin_sampling(learner, X_pool, n_instances=1, *, random_state=None, batch_size=None, autocast=False):
    """Pick the samples with the smallest gap between their two most likely classes.

    Scores every sample with :func:`~prunefuse_sk.strategies.measures.margin_uncertainty`
    (``1 - (p_(1) - p_(2))``, so higher is more informative) and keeps the
    ``n_instances`` highest with :func:`~prunefuse_sk.strategies.selectors.top_n`.

    Parameters
    ----------
    learner : object with ``predict_proba``
        A fitted estimator; ``learner.predict_proba(X_pool)`` must return an
        array of shape (n_samples, n_classes).
    X_pool : array-like of shape (n_samples, ...)
        The unlabelled pool to choose from, passed to ``predict_proba``
        as is.
    n_instances : int, default=1
        Number of samples to pick, ``1 <= n_instances <= n_samples``.
    random_state : int, RandomState instance or None, default=None
        Breaks ties between equal scores at random; ``None`` favours the
        lower index.
    batch_size : int, default=None
        Rows per forward pass when the learner has ``score_pool``.
    autocast : bool, default=False
        Score in float16 on CUDA when the learner has ``score_pool``.

    Returns
    -------
    indices : ndarray of shape (n_instances,), dtype int64
        Positions into ``X_pool`` of the chosen samples, best first.
    scores : ndarray of shape (n_instances,)
        ``1 - (p_(1) - p_(2))`` of the chosen samples, in the order of
        ``indices``.

    References
    ----------
    B. Settles, "Active Learning Literature Survey", Computer Sciences
    Technical Report 1648, University of Wisconsin-Madison, 2009.
    """
    return _measure_and_select(margin_uncertainty, learner, X_pool, n_instances, random_state, batch_size, autocast)


def entropy_sampling(learner, X_pool, n_instances=1, *, random_state=None, batch_size=None, autocast=False):
    """Pick the samples with the highest predictive entropy.

    Scores every sample with :func:`~prunefuse_sk.strategies.measures.entropy`
    (``-sum_k p_k log p_k``, natural log) and keeps the ``n_instances``
    highest with :func:`~prunefuse_sk.strategies.selectors.top_n`.

    Parameters
    ----------
    learner : object with ``predict_proba``
        A fitted estimator; ``learner.predict_proba(X_pool)`` must return an
        array of shape (n_samples, n_classes).
    X_pool : array-like of shape (n_samples, ...)
        The unlabelled pool to choose from, passed to ``predict_proba``
        as is.
    n_instances : int, default=1
        Number of samples to pick, ``1 <= n_instances <= n_samples``.
    random_state : int, RandomState instance or None, default=None
        Breaks ties between equal scores at random; ``None`` favours the
        lower index.
    batch_size : int, default=None
        Rows per forward pass when the learner has ``score_pool``.
    autocast : bool, default=False
        Score in float16 on CUDA when the learner has ``score_pool``.

    Returns
    -------
    indices : ndarray of shape (n_instances,), dtype int64
        Positions into ``X_pool`` of the chosen samples, best first.
    scores : ndarray of shape (n_instances,)
        Predictive entropy (in nats) of the chosen samples, in the order of
        ``indices``.

    References
    ----------
    B. Settles, "Active Learning Literature Survey", Computer Sciences
    Technical Report 1648, University of Wisconsin-Madison, 2009.
    """
    return _measure_and_select(entropy, learner, X_pool, n_instances, random_state, batch_size, autocast)


def random_sampling(learner, X_pool, n_instances=1, *, random_state=None, **ignored):
    """Pick samples uniformly at random, without replacement (the usual baseline).

    The learner is not consulted: every sample of the pool gets a uniform
    draw in [0, 1) and the ``n_instances`` largest draws are kept. This is
    the passive-learning baseline the uncertainty strategies are compared
    against.

    Parameters
    ----------
    learner : object
        Ignored; accepted so that every strategy has the same signature.
    X_pool : array-like of shape (n_samples, ...)
        The unlabelled pool to choose from; only its number of rows is used.
    n_instances : int, default=1
        Number of samples to pick, ``1 <= n_instances <= n_samples``.
    random_state : int, RandomState instance or None, default=None
        Seeds the uniform draws; an int gives the same choice every call,
        ``None`` a nondeterministic one.
    **ignored
        Scoring options the other strategies take (``batch_size``,
        ``autocast``); random sampling scores nothing.

    Returns
    -------
    indices : ndarray of shape (n_instances,), dtype int64
        Positions into ``X_pool`` of the chosen samples, in decreasing order
        of their draws.
    scores : ndarray of shape (n_instances,)
        The uniform draws of the chosen samples, in the order of ``indices``.
    """
    draws = as_random_state(random_state).uniform(size=n_rows(X_pool))
    indices = top_n(draws, n_instances)
    return indices, draws[indices]
