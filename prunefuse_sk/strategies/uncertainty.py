"""Uncertainty and random strategies: measure + selector, as plain functions.

Every strategy has the signature ``strategy(learner, X_pool, n_instances=1, *,
random_state=None) -> (indices, scores)`` and works with any learner exposing
``predict_proba`` (a :class:`~prunefuse_sk.PruneFuseActiveLearner` hands its proxy).
``indices`` point into ``X_pool``, best first; ``scores`` are theirs.

Examples
--------
Any fitted scikit-learn classifier will do:

>>> import numpy as np
>>> from sklearn.linear_model import LogisticRegression
>>> clf = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
>>> X_pool = np.array([[-4.0], [1.4], [7.0], [2.5]])
>>> indices, scores = least_confidence_sampling(clf, X_pool, n_instances=2)
>>> indices.tolist()
[1, 3]
"""

import numpy as np

from .._random import as_random_state
from ..pools import n_rows
from .docstrings import SETTLES_2009, fill_doc, strategy_doc, strategy_returns
from .measures import entropy, least_confidence, margin_uncertainty
from .selectors import row_uniforms, tie_seed, top_n

__all__ = [
    "least_confidence_sampling",
    "margin_sampling",
    "entropy_sampling",
    "random_sampling",
    "rank_by",
]

_UNCERTAINTY_DOC = dict(
    strategy_doc(
        learner="object with ``predict_proba``\n"
        "    A fitted estimator; ``learner.predict_proba(X_pool)`` must return an\n"
        "    array of shape (n_samples, n_classes). A learner with ``score_pool``\n"
        "    (what a PruneFuseActiveLearner hands its strategies) scores the pool\n"
        "    in batches instead.",
        random_state="Breaks ties between equal scores at random; ``None`` favours the\n"
        "    lower index.",
        order="best first",
    ),
    references="References\n----------\n" + SETTLES_2009,
)


def _pool_proba(learner, X_pool, batch_size=None, autocast=False):
    """Probabilities from ``score_pool`` when the learner has it (batch size, autocast), else
    ``predict_proba``."""
    if hasattr(learner, "score_pool"):
        return learner.score_pool(X_pool, batch_size=batch_size, autocast=autocast).proba
    return learner.predict_proba(X_pool)


def rank_by(measure, outputs, n_instances, random_state=None):
    """The logic every ranking strategy shares: a measure scores, :func:`top_n` selects.

    Parameters
    ----------
    measure : callable
        ``measure(outputs)`` returns one score per pool row, higher meaning more worth
        labelling.
    outputs : object
        Whatever the measure reads: predicted probabilities, or a
        :class:`~prunefuse_sk.strategies.PoolScores`.
    n_instances : int
        Number of rows to pick.
    random_state : int, RandomState instance or None, default=None
        Breaks ties between equal scores at random; ``None`` favours the lower index.

    Returns
    -------
    indices : ndarray of shape (n_instances,), dtype int64
        The ``n_instances`` best rows, best first.
    scores : ndarray of shape (n_instances,)
        Their scores.

    Examples
    --------
    >>> import numpy as np
    >>> from prunefuse_sk.strategies.measures import least_confidence
    >>> indices, scores = rank_by(least_confidence, np.array([[0.9, 0.1], [0.6, 0.4]]), 1)
    >>> indices.tolist(), scores.round(2).tolist()
    ([1], [0.4])
    """
    scores = measure(outputs)
    indices = top_n(scores, n_instances, random_state=random_state)
    return indices, scores[indices]


@fill_doc(**_UNCERTAINTY_DOC)
def least_confidence_sampling(
    learner, X_pool, n_instances=1, *, random_state=None, batch_size=None, autocast=False
):
    """Pick the samples whose most likely class has the lowest probability.

    Scores every sample with :func:`~prunefuse_sk.strategies.measures.least_confidence`
    (``1 - max_k p_k``) and keeps the ``n_instances`` highest with
    :func:`~prunefuse_sk.strategies.selectors.top_n`.

    {params}

    {returns}
        ``1 - max_k p_k`` of the chosen samples, in the order of ``indices``.

    {references}
    """
    proba = _pool_proba(learner, X_pool, batch_size, autocast)
    return rank_by(least_confidence, proba, n_instances, random_state)


@fill_doc(**_UNCERTAINTY_DOC)
def margin_sampling(
    learner, X_pool, n_instances=1, *, random_state=None, batch_size=None, autocast=False
):
    """Pick the samples with the smallest gap between their two most likely classes.

    Scores every sample with :func:`~prunefuse_sk.strategies.measures.margin_uncertainty`
    (``1 - (p_(1) - p_(2))``, so higher is more informative) and keeps the ``n_instances``
    highest with :func:`~prunefuse_sk.strategies.selectors.top_n`.

    {params}

    {returns}
        ``1 - (p_(1) - p_(2))`` of the chosen samples, in the order of
        ``indices``.

    {references}
    """
    proba = _pool_proba(learner, X_pool, batch_size, autocast)
    return rank_by(margin_uncertainty, proba, n_instances, random_state)


@fill_doc(**_UNCERTAINTY_DOC)
def entropy_sampling(
    learner, X_pool, n_instances=1, *, random_state=None, batch_size=None, autocast=False
):
    """Pick the samples with the highest predictive entropy.

    Scores every sample with :func:`~prunefuse_sk.strategies.measures.entropy`
    (``-sum_k p_k log p_k``, natural log) and keeps the ``n_instances`` highest with
    :func:`~prunefuse_sk.strategies.selectors.top_n`.

    {params}

    {returns}
        Predictive entropy (in nats) of the chosen samples, in the order of
        ``indices``.

    {references}
    """
    proba = _pool_proba(learner, X_pool, batch_size, autocast)
    return rank_by(entropy, proba, n_instances, random_state)


@fill_doc(returns=strategy_returns("in decreasing order of their draws"))
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

    {returns}
        The uniform draws of the chosen samples, in the order of ``indices``.
    """
    draws = row_uniforms(tie_seed(as_random_state(random_state)), np.arange(n_rows(X_pool)))
    indices = top_n(draws, n_instances)
    return indices, draws[indices]


# Each ranking strategy declares its measure, so that a dask pool ranks it on the workers as a
# distributed top-n with the in-memory answer (prunefuse_sk.dask_scoring.rank_dask_pool).
least_confidence_sampling.rank_measure = least_confidence
margin_sampling.rank_measure = margin_uncertainty
entropy_sampling.rank_measure = entropy
random_sampling.rank_measure = "uniform"  # draws from the row keys; the proxy is not consulted
