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
    """``1 - max_k p_k``: how unsure the model is of its top class.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)

    Returns
    -------
    scores : ndarray of shape (n_samples,)
    """
    return 1.0 - _check_proba(proba).max(axis=1)


def margin_uncertainty(proba):
    """``1 - (p_(1) - p_(2))``: one minus the gap between the two most likely classes.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)

    Returns
    -------
    scores : ndarray of shape (n_samples,)
    """
    proba = _check_proba(proba)
    if proba.shape[1] < 2:
        return np.zeros(len(proba))
    top2 = np.partition(proba, proba.shape[1] - 2, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def entropy(proba):
    """Shannon entropy ``-sum_k p_k log p_k`` (natural log).

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)

    Returns
    -------
    scores : ndarray of shape (n_samples,)
    """
    proba = _check_proba(proba)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(proba > 0, proba * np.log(proba), 0.0)
    return -terms.sum(axis=1)
