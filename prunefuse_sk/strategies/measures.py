"""Measures: a per-sample informativeness score from predicted probabilities.

Higher always means "more worth labelling", so every measure pairs with the same
selector (:func:`~prunefuse_sk.strategies.selectors.top_n`).
"""

import numpy as np

__all__ = ["least_confidence", "margin_uncertainty", "entropy"]


def _check_proba(proba):
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2:
        raise ValueError(f"proba must be 2-D (n_samples, n_classes); got shape {proba.shape} instead.")
    return proba


def least_confidence(proba):
    """Least-confidence score ``1 - max_k p_k`` of every sample.

    Measures how unsure the model is of its most likely class: 0 when one
    class has all the probability mass, ``1 - 1/n_classes`` at most for a
    uniform prediction. Higher means more worth labelling.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Predicted class probabilities, one row per sample; converted to
        float64. Must be 2-D.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        ``1 - max_k proba[i, k]`` for every sample ``i``, float64.

    Raises
    ------
    ValueError
        If ``proba`` is not 2-D.

    References
    ----------
    B. Settles, "Active Learning Literature Survey", Computer Sciences
    Technical Report 1648, University of Wisconsin-Madison, 2009.
    """
    return 1.0 - _check_proba(proba).max(axis=1)


def margin_uncertainty(proba):
    """Margin score ``1 - (p_(1) - p_(2))`` of every sample.

    One minus the gap between the probabilities of the two most likely
    classes: close to 1 when the model hesitates between two classes, close
    to 0 when it clearly prefers one. Higher means more worth labelling.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Predicted class probabilities, one row per sample; converted to
        float64. Must be 2-D.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        ``1 - (p_(1) - p_(2))`` for every sample, where ``p_(1)`` and
        ``p_(2)`` are its largest and second-largest probabilities, float64.
        All zeros when ``proba`` has a single column.

    Raises
    ------
    ValueError
        If ``proba`` is not 2-D.

    References
    ----------
    B. Settles, "Active Learning Literature Survey", Computer Sciences
    Technical Report 1648, University of Wisconsin-Madison, 2009.
    """
    proba = _check_proba(proba)
    if proba.shape[1] < 2:
        return np.zeros(len(proba))
    top2 = np.partition(proba, proba.shape[1] - 2, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def entropy(proba):
    """Shannon entropy ``-sum_k p_k log p_k`` of every sample (natural log).

    Zero-probability terms contribute 0 (the limit of ``p log p``). Ranges
    from 0 for a one-hot prediction to ``log(n_classes)`` for a uniform one.
    Higher means more worth labelling.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Predicted class probabilities, one row per sample; converted to
        float64. Must be 2-D.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        Entropy of every row of ``proba``, in nats, float64.

    Raises
    ------
    ValueError
        If ``proba`` is not 2-D.

    References
    ----------
    B. Settles, "Active Learning Literature Survey", Computer Sciences
    Technical Report 1648, University of Wisconsin-Madison, 2009.
    """
    proba = _check_proba(proba)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(proba > 0, proba * np.log(proba), 0.0)
    return -terms.sum(axis=1)
