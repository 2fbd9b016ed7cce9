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


def _measure_and_select(measure, learner, X_pool, n_instances, random_state):
    scores = measure(learner.predict_proba(X_pool))
    indices = top_n(scores, n_instances, random_state=random_state)
    return indices, scores[indices]


def least_confidence_sampling(learner, X_pool, n_instances=1, *, random_state=None):
    """Pick the samples whose most likely class has the lowest probability.

    Parameters
    ----------
    learner : object with ``predict_proba``
    X_pool : array-like of shape (n_samples, ...)
    n_instances : int, default=1
    random_state : int, RandomState instance or None, default=None
        Breaks ties.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
    scores : ndarray of shape (n_instances,)
        ``1 - max_k p_k`` of the chosen samples.
    """
    return _measure_and_select(least_confidence, learner, X_pool, n_instances, random_state)


def margin_sampling(learner, X_pool, n_instances=1, *, random_state=None):
    """Pick the samples with the smallest gap between their two most likely classes.

    Scores are ``1 - (p_(1) - p_(2))``, so higher is more informative. See
    :func:`least_confidence_sampling` for the parameters.
    """
    return _measure_and_select(margin_uncertainty, learner, X_pool, n_instances, random_state)


def entropy_sampling(learner, X_pool, n_instances=1, *, random_state=None):
    """Pick the samples with the highest predictive entropy.

    See :func:`least_confidence_sampling` for the parameters.
    """
    return _measure_and_select(entropy, learner, X_pool, n_instances, random_state)


def random_sampling(learner, X_pool, n_instances=1, *, random_state=None):
    """Pick samples uniformly at random, without replacement (the usual baseline).

    The learner is not consulted. Scores are the uniform draws that ranked them.
    """
    draws = as_random_state(random_state).uniform(size=n_rows(X_pool))
    indices = top_n(draws, n_instances)
    return indices, draws[indices]
