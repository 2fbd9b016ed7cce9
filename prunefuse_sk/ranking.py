"""A total order of pool rows: higher score first, ties broken by keys of the rows' positions.

Ranking a pool block by block (on a dask cluster) must give what ranking it whole gives, ties
included. So a tie is never broken by where a row happens to sit in a block: every row gets
a pseudo-random key from its global position and a seed (:func:`row_keys`), and rows are
ordered by (score descending, key ascending) (:func:`top_by_key`), a total order that
merging the blocks' bests preserves. :func:`row_uniforms` draws random sampling's scores the
same way. The strategies (:mod:`prunefuse_sk.strategies.selectors`) and the distributed
top-n (:mod:`prunefuse_sk.dask_scoring`) both use it.
"""

import numpy as np

from ._random import as_random_state

__all__ = ["row_keys", "row_uniforms", "tie_seed", "top_by_key"]


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def row_keys(seed, indices):
    """Pseudo-random 64-bit keys of pool rows, a function of (seed, row position) only.

    The splitmix64 finaliser of ``seed + (index + 1) * golden``: a bijection of
    the row position for a given seed, so no two rows share a key. A key
    depends on nothing but the row's global position, so a block of a pool
    (e.g. one chunk of a dask array, scored on a worker) computes the same keys
    as the whole pool in memory. That is what makes a distributed top-n equal
    the in-memory one, ties included.

    Parameters
    ----------
    seed : int
        Non-negative seed (see :func:`tie_seed`).
    indices : array-like of int of shape (n,)
        Global row positions.

    Returns
    -------
    keys : ndarray of shape (n,), uint64

    Examples
    --------
    >>> bool((row_keys(7, [3, 4]) == row_keys(7, range(5))[3:]).all())
    True
    """
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (np.asarray(indices, dtype=np.uint64) + np.uint64(1)) * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def row_uniforms(seed, indices):
    """Uniform draws in [0, 1) for pool rows, a function of (seed, row position) only.

    The top 53 bits of :func:`row_keys`; used by
    :func:`~prunefuse_sk.strategies.random_sampling` so that a pool scored block
    by block draws what the whole pool would.

    Parameters
    ----------
    seed, indices
        As in :func:`row_keys`.

    Returns
    -------
    draws : ndarray of shape (n,), float64
    """
    return (row_keys(seed, indices) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def tie_seed(random_state):
    """The seed of :func:`row_keys` that ``random_state`` stands for, or None for "lower index
    first".

    Draws one integer from ``random_state`` (so a ``RandomState`` instance
    advances by exactly one draw).

    Parameters
    ----------
    random_state : int, RandomState instance or None

    Returns
    -------
    seed : int or None
    """
    if random_state is None:
        return None
    return int(as_random_state(random_state).randint(0, np.iinfo(np.int64).max, dtype=np.int64))


def _tie_keys(seed, indices):
    indices = np.asarray(indices, dtype=np.int64)
    return indices.astype(np.uint64) if seed is None else row_keys(seed, indices)


def top_by_key(scores, n, seed=None, rows=None):
    """Positions of the ``n`` best rows under the total order (higher score, then lower tie key).

    The building block of :func:`top_n` and of the block-wise (distributed)
    top-n: the ``n`` best of a union of blocks are the ``n`` best of the union
    of each block's ``n`` best, because the order is total.

    Parameters
    ----------
    scores : ndarray of shape (n_rows,), float64
        Scores of pool rows, higher is better.
    n : int
        How many to keep; all rows when ``n >= n_rows``.
    seed : int or None, default=None
        Seed of the tie keys (:func:`row_keys`); None keys a row by its position.
    rows : ndarray of shape (n_rows,), int64, default=None
        Global pool position of each score (what the tie keys are made of);
        ``0..n_rows-1`` when None.

    Returns
    -------
    positions : ndarray of shape (min(n, n_rows),), int64
        Positions into ``scores`` (``rows[positions]`` are the global ones), best first.
    """
    rows = np.arange(len(scores)) if rows is None else np.asarray(rows, dtype=np.int64)
    n = min(int(n), len(scores))
    if n < len(scores):
        partition = np.argpartition(-scores, n - 1)
        threshold = scores[partition[n - 1]]
        if (
            np.count_nonzero(scores >= threshold) == n
        ):  # no ties across the threshold: the n first are the n best
            chosen = partition[:n]
        else:
            above = np.flatnonzero(scores > threshold)
            tied = np.flatnonzero(scores == threshold)
            if len(above) + len(tied) > n:  # keys only for the rows tied at the threshold
                keep = np.argsort(_tie_keys(seed, rows[tied]), kind="stable")[: n - len(above)]
                tied = tied[keep]
            chosen = np.concatenate([above, tied])
    else:
        chosen = np.arange(len(scores))
    order = np.lexsort((_tie_keys(seed, rows[chosen]), -scores[chosen]))
    return chosen[order].astype(np.int64)
