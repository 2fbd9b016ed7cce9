"""Selectors: turn per-sample scores into the indices to label, best first."""

import numpy as np

from .._random import as_random_state

__all__ = ["top_n"]


def top_n(scores, n, random_state=None):
    """Return the indices of the ``n`` largest scores, best first.

    Runs in O(N + n log n) with ``argpartition``. Ties are broken at random
    when ``random_state`` is given, by lower index otherwise.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Per-sample scores, higher is better; flattened and converted to
        float64.
    n : int
        How many indices to return, ``1 <= n <= n_samples``.
    random_state : int, RandomState instance or None, default=None
        Seeds the random permutation used to break ties. ``None`` breaks
        ties deterministically, in favour of the lower index.

    Returns
    -------
    indices : ndarray of shape (n,), dtype int64
        Positions into ``scores`` of the ``n`` largest scores, in decreasing
        order of score.

    Raises
    ------
    ValueError
        If ``n`` is not between 1 and the number of scores.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if not 1 <= n <= len(scores):
        raise ValueError(f"n must be between 1 and the number of scores ({len(scores)}); got {n}.")
    if random_state is not None:
        order = as_random_state(random_state).permutation(len(scores))
    else:
        order = np.arange(len(scores))
    shuffled = scores[order]
    if n < len(scores):
        candidates = np.argpartition(-shuffled, n - 1)[:n]
    else:
        candidates = np.arange(len(scores))
    # stable sort by score, then by position in `order`, makes ties reproducible
    best = candidates[np.lexsort((candidates, -shuffled[candidates]))]
    return order[best].astype(np.int64)
