"""Bayesian strategies: BALD with Monte Carlo dropout."""

from .._random import as_random_state, draw_seed, torch_seed_scope
from ..accelerate_support import net_device
from ..parameter_checks import check_int
from .docstrings import fill_doc, strategy_doc
from .measures import entropy
from .uncertainty import rank_by

__all__ = ["bald_sampling"]


def _mutual_information(scores):
    """BALD's measure on MC-dropout ``PoolScores``: ``H(mean_t p_t) - mean_t H(p_t)`` per row
    (nats)."""
    return entropy(scores.proba) - scores.expected_entropy


@fill_doc(
    **strategy_doc(
        learner="object\n"
        "    A learner with ``score_pool(X, n_passes=...)``; a\n"
        "    :class:`~prunefuse_sk.PruneFuseActiveLearner` passes its proxy's view.\n"
        "    The network needs dropout layers.",
        random_state="Seeds the dropout masks and breaks ties.",
        order="best first",
        extra="n_passes : int, default=20\n    Stochastic forward passes per sample.\n",
    )
)
def bald_sampling(
    learner,
    X_pool,
    n_instances=1,
    *,
    n_passes=20,
    random_state=None,
    batch_size=None,
    autocast=False,
):
    """BALD: the samples whose predictions the dropout masks disagree on most.

    The score is the mutual information between the prediction and the
    weights, estimated with ``n_passes`` stochastic forward passes (dropout
    active): ``H(mean_t p_t) - mean_t H(p_t)``.

    {params}

    {returns}
        Their mutual information (nats).

    References
    ----------
    Houlsby, Huszár, Ghahramani and Lengyel, "Bayesian Active Learning for
    Classification and Preference Learning", 2011; Gal, Islam and Ghahramani,
    "Deep Bayesian Active Learning with Image Data", ICML 2017.
    """
    if not hasattr(learner, "score_pool"):
        raise TypeError(
            f"{type(learner).__name__} has no score_pool method; BALD needs a "
            "PruneFuseActiveLearner."
        )
    n_passes = check_int(
        n_passes, "n_passes", minimum=2, what="an int >= 2 (BALD needs n_passes >= 2 passes)"
    )
    rng = as_random_state(random_state)
    estimator = getattr(learner, "estimator", None)
    device = (
        net_device(estimator)
        if hasattr(estimator, "module_")
        else getattr(estimator, "device", None)
    )
    with torch_seed_scope(draw_seed(rng), device):
        scores = learner.score_pool(
            X_pool, n_passes=n_passes, batch_size=batch_size, autocast=autocast
        )
    return rank_by(_mutual_information, scores, n_instances, rng)
