"""Diversity strategies on the proxy's embeddings: greedy k-centers (core-set) and BADGE.

Both read the proxy's penultimate representation (the input of its output layer),
recorded in the same forward pass that produces the probabilities.
"""

import numpy as np

from ..pools import n_rows
from .docstrings import fill_doc, strategy_doc
from .selectors import greedy_k_centers, kmeans_plus_plus_seeding

__all__ = ["pool_embeddings", "kcenter_sampling", "badge_sampling", "badge_factors"]

_PROXY_VIEW = ";\n    a :class:`~prunefuse_sk.PruneFuseActiveLearner` passes its proxy's view."


def pool_embeddings(learner, X, **score_kwargs):
    """Probabilities and penultimate embeddings of ``X`` from a learner's model.

    Parameters
    ----------
    learner : object
        A learner with ``score_pool(X, embeddings=True, ...)`` (what a
        :class:`~prunefuse_sk.PruneFuseActiveLearner` hands its strategies).
    X : array-like, memmap or torch.Tensor of shape (n_samples, ...)
        The samples.
    **score_kwargs
        Passed to ``score_pool`` (``batch_size``, ``autocast``).

    Returns
    -------
    proba : ndarray of shape (n_samples, n_classes)
        Class probabilities.
    embeddings : ndarray of shape (n_samples, n_dims)
        Input of the model's output layer.

    Raises
    ------
    TypeError
        If the learner cannot produce embeddings.
    """
    if not hasattr(learner, "score_pool"):
        raise TypeError(
            f"{type(learner).__name__} cannot produce embeddings (no score_pool method); "
            "embedding-based strategies need a PruneFuseActiveLearner."
        )
    scores = learner.score_pool(X, embeddings=True, **score_kwargs)
    return scores.proba, scores.embeddings


@fill_doc(
    **strategy_doc(
        "object\n    A learner with ``score_pool`` and ``X_training``" + _PROXY_VIEW,
        "Draws the first centre when nothing is labelled yet.",
        order="in the order picked",
    )
)
def kcenter_sampling(
    learner, X_pool, n_instances=1, *, random_state=None, batch_size=None, autocast=False
):
    """Greedy k-centers (core-set) on the proxy's embeddings, labelled samples as initial centres.

    After the forward passes, the selection takes O(n·b·d) time for b picks
    from n pool rows with d-dimensional embeddings, plus O(n·m·d) once for
    the distances to the m labelled samples; extra memory is O(n) beyond the
    embeddings (:func:`~prunefuse_sk.strategies.selectors.greedy_k_centers`).

    {params}

    {returns}
        Each pick's distance to its nearest centre when it was picked.

    References
    ----------
    Sener and Savarese, "Active Learning for Convolutional Neural Networks: A
    Core-Set Approach", ICLR 2018.
    """
    _, pool = pool_embeddings(learner, X_pool, batch_size=batch_size, autocast=autocast)
    labelled = getattr(learner, "X_training", None)
    centers = None
    if labelled is not None and n_rows(labelled) > 0:
        _, centers = pool_embeddings(learner, labelled, batch_size=batch_size, autocast=autocast)
    return greedy_k_centers(pool, n_instances, centers=centers, random_state=random_state)


def badge_factors(proba, embeddings):
    """The two factors of BADGE's gradient embeddings, without forming them.

    BADGE embeds a sample by the gradient of the cross-entropy loss with
    respect to the output layer's weights, using the predicted class as the
    label: ``g = (p - onehot(argmax p)) ⊗ h``. Since
    ``<g_i, g_j> = <a_i, a_j> <h_i, h_j>`` with ``a = p - onehot(argmax p)``,
    distances need only ``a`` and ``h``: O(n_samples * (n_classes + n_dims))
    memory instead of O(n_samples * n_classes * n_dims).

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
        Predicted probabilities.
    embeddings : ndarray of shape (n_samples, n_dims)
        Inputs of the output layer.

    Returns
    -------
    residuals : ndarray of shape (n_samples, n_classes)
        ``a = p - onehot(argmax p)``.
    embeddings : ndarray of shape (n_samples, n_dims)
        ``h`` as float64.
    """
    residuals = np.array(proba, dtype=np.float64, order="C")  # a copy, laid out alike for any input
    residuals[np.arange(len(residuals)), residuals.argmax(axis=1)] -= 1.0
    return residuals, np.asarray(embeddings, dtype=np.float64)


@fill_doc(
    **strategy_doc(
        "object\n    A learner with ``score_pool``" + _PROXY_VIEW,
        "Draws the k-means++ seeds.",
        order="in the order drawn",
    )
)
def badge_sampling(
    learner, X_pool, n_instances=1, *, random_state=None, batch_size=None, autocast=False
):
    """BADGE: k-means++ seeding on the gradient embeddings of the proxy's last layer.

    {params}

    {returns}
        Each seed's squared gradient-embedding distance to the nearest earlier
        seed when drawn (its squared norm for the first).

    References
    ----------
    Ash, Zhang, Krishnamurthy, Langford and Agarwal, "Deep Batch Active Learning
    by Diverse, Uncertain Gradient Lower Bounds", ICLR 2020.
    """
    proba, embeddings = pool_embeddings(learner, X_pool, batch_size=batch_size, autocast=autocast)
    residuals, hidden = badge_factors(proba, embeddings)
    res_sq = (residuals * residuals).sum(axis=1)
    hid_sq = (hidden * hidden).sum(axis=1)
    sq_norms = res_sq * hid_sq

    def sq_distance_to(i):
        return sq_norms + sq_norms[i] - 2.0 * (residuals @ residuals[i]) * (hidden @ hidden[i])

    return kmeans_plus_plus_seeding(
        sq_distance_to, sq_norms, n_instances, random_state=random_state
    )
