"""Bayesian strategies: BALD with Monte Carlo dropout."""

from .._random import as_random_state, draw_seed, torch_seed_scope
from .measures import entropy
from .selectors import top_n

__all__ = ["bald_sampling"]


def bald_sampling(learner, X_pool, n_instances=1, *, n_passes=20, random_state=None, batch_size=None,
                  autocast=False):
    """BALD: the samples whose predictions the dropout masks disagree on most.

    The score is the mutual information between the prediction and the
    weights, estimated with ``n_passes`` stochastic forward passes (dropout
    active): ``H(mean_t p_t) - mean_t H(p_t)``.

    Parameters
    ----------
    learner : object
        A learner with ``score_pool(X, n_passes=...)``; a
        :class:`~prunefuse_sk.PruneFuseActiveLearner` passes its proxy's view.
        The network needs dropout layers.
    X_pool : array-like, memmap or torch.Tensor of shape (n_pool, ...)
        The unlabelled samples.
    n_instances : int, default=1
        How many samples to choose.
    n_passes : int, default=20
        Stochastic forward passes per sample.
    random_state : int, RandomState instance or None, default=None
        Seeds the dropout masks and breaks ties.
    batch_size : int, default=None
        Rows per forward pass when scoring.
    autocast : bool, default=False
        Score in float16 on CUDA.

    Returns
    -------
    indices : ndarray of shape (n_instances,)
        Rows of ``X_pool``, best first.
    scores : ndarray of shape (n_instances,)
        Their mutual information (nats).

    References
    ----------
    Houlsby, Huszár, Ghahramani and Lengyel, "Bayesian Active Learning for
    Classification and Preference Learning", 2011; Gal, Islam and Ghahramani,
    "Deep Bayesian Active Learning with Image Data", ICML 2017.
    """
    if not hasattr(learner, "score_pool"):
        raise TypeError(f"{type(learner).__name__} has no score_pool method; BALD needs a PruneFuseActiveLearner.")
    if isinstance(n_passes, bool) or not isinstance(n_passes, int) or n_passes < 2:
        raise ValueError(f"BALD needs n_passes >= 2 stochastic forward passes; got {n_passes!r}.")
    rng = as_random_state(random_state)
    device = getattr(getattr(learner, "estimator", None), "device", None)
    with torch_seed_scope(draw_seed(rng), device):
        scores = learner.score_pool(X_pool, n_passes=n_passes, batch_size=batch_size, autocast=autocast)
    mutual_information = entropy(scores.proba) - scores.expected_entropy
    indices = top_n(mutual_information, n_instances, random_state=rng)
    return indices, mutual_information[indices]
