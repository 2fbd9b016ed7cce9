"""Query strategies: measures, selectors and strategies, plus pool scoring.

A query strategy is any function ``strategy(learner, X_pool, n_instances=1, **kw)``
returning indices into ``X_pool`` or ``(indices, scores)``; modAL's strategies qualify.
The built-in ones are selectable by name in ``PruneFuseActiveLearner(query_strategy=...)``.
"""

from ..exceptions import UnknownStrategyError
from ..scoring import (
    DEFAULT_SCORING_MEMORY,
    DEFAULT_SCORING_MEMORY_GPU,
    EmbeddingRecorder,
    PoolScores,
    default_scoring_memory,
    predict_proba_batched,
    score_pool,
    scoring_batch_size,
    scoring_row_bytes,
)
from .bayesian import bald_sampling
from .diversity import badge_factors, badge_sampling, kcenter_sampling, pool_embeddings
from .measures import entropy, least_confidence, margin_uncertainty
from .selectors import greedy_k_centers, kmeans_plus_plus_seeding, top_n
from .uncertainty import (
    entropy_sampling,
    least_confidence_sampling,
    margin_sampling,
    random_sampling,
)
from .view import SelectorView, call_strategy, draw_candidates, select_from_pool

__all__ = [
    "STRATEGIES",
    "get_strategy",
    "SelectorView",
    "call_strategy",
    "draw_candidates",
    "select_from_pool",
    "least_confidence",
    "margin_uncertainty",
    "entropy",
    "top_n",
    "greedy_k_centers",
    "kmeans_plus_plus_seeding",
    "predict_proba_batched",
    "score_pool",
    "scoring_batch_size",
    "scoring_row_bytes",
    "DEFAULT_SCORING_MEMORY",
    "DEFAULT_SCORING_MEMORY_GPU",
    "default_scoring_memory",
    "PoolScores",
    "EmbeddingRecorder",
    "kcenter_sampling",
    "pool_embeddings",
    "badge_factors",
    "badge_sampling",
    "bald_sampling",
    "least_confidence_sampling",
    "margin_sampling",
    "entropy_sampling",
    "random_sampling",
]

STRATEGIES = {
    "least_confidence": least_confidence_sampling,
    "margin": margin_sampling,
    "entropy": entropy_sampling,
    "random": random_sampling,
    "kcenter": kcenter_sampling,
    "badge": badge_sampling,
    "bald": bald_sampling,
}


def get_strategy(query_strategy):
    """Resolve a strategy name or callable to a callable.

    Parameters
    ----------
    query_strategy : str or callable
        One of ``STRATEGIES`` or a modAL-style function.

    Returns
    -------
    strategy : callable

    Raises
    ------
    UnknownStrategyError
        If ``query_strategy`` is neither a built-in name nor callable.
    """
    if callable(query_strategy):
        return query_strategy
    if isinstance(query_strategy, str) and query_strategy in STRATEGIES:
        return STRATEGIES[query_strategy]
    raise UnknownStrategyError(
        f"query_strategy must be one of {sorted(STRATEGIES)} or a callable "
        f"strategy(learner, X_pool, n_instances=1, **kw); got {query_strategy!r} instead."
    )
