"""Selectors: turn per-sample scores into the indices to label, best first."""

import numpy as np
import torch

from .._random import as_random_state
from ..ranking import row_keys, row_uniforms, tie_seed, top_by_key

__all__ = [
    "top_n",
    "top_by_key",
    "row_keys",
    "row_uniforms",
    "tie_seed",
    "greedy_k_centers",
    "kmeans_plus_plus_seeding",
]


def top_n(scores, n, random_state=None):
    """Return the indices of the ``n`` largest scores, best first.

    Runs in O(N + n log n) with ``argpartition``. Ties are broken at random
    when ``random_state`` is given (by pseudo-random keys of the row
    positions, :func:`row_keys`, so a pool ranked block by block on a cluster
    breaks them the same way), by lower index otherwise.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Per-sample scores, higher is better; flattened and converted to
        float64.
    n : int
        How many indices to return, ``1 <= n <= n_samples``.
    random_state : int, RandomState instance or None, default=None
        Seeds the keys used to break ties. ``None`` breaks ties
        deterministically, in favour of the lower index.

    Returns
    -------
    indices : ndarray of shape (n,), dtype int64
        Positions into ``scores`` of the ``n`` largest scores, in decreasing
        order of score.

    Raises
    ------
    ValueError
        If ``n`` is not between 1 and the number of scores.

    Examples
    --------
    >>> top_n([0.1, 0.9, 0.4, 0.9], 3).tolist()
    [1, 3, 2]
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if not 1 <= n <= len(scores):
        raise ValueError(f"n must be between 1 and the number of scores ({len(scores)}); got {n}.")
    return top_by_key(scores, n, tie_seed(random_state))


def _as_float_tensor(array, device=None):
    tensor = torch.as_tensor(np.asarray(array, dtype=np.float32))
    return tensor.to(device) if device is not None else tensor


def _min_sq_distances_to(points, sq_norms, centers, chunk_rows):
    """Squared distance of every point to its nearest centre, in blocks (never n x m at once)."""
    best = torch.full((len(points),), float("inf"), dtype=torch.float32, device=points.device)
    center_block = 256  # block of chunk_rows x 256 distances: 8 MiB at the default
    for c_start in range(0, len(centers), center_block):
        block = centers[c_start : c_start + center_block]
        block_sq = (block * block).sum(dim=1)
        for r_start in range(0, len(points), chunk_rows):
            rows = slice(r_start, r_start + chunk_rows)
            # addmm: the product is scaled on the (rows x block) result, not on a copy of the points
            dist = torch.addmm(
                sq_norms[rows, None] + block_sq[None, :], points[rows], block.T, alpha=-2.0
            )
            best[rows] = torch.minimum(best[rows], dist.clamp_min_(0).min(dim=1).values)
    return best


def greedy_k_centers(embeddings, n, *, centers=None, random_state=None, chunk_rows=8192):
    """Greedy k-centers (core-set): repeatedly pick the point farthest from every centre.

    Each step adds the pool point whose distance to its nearest centre is
    largest, then updates every point's nearest-centre distance with one
    matrix-vector product. Time O(n_samples * n * n_dims) for the picks, plus
    O(n_samples * n_centers * n_dims) once when initial ``centers`` are given;
    extra memory O(n_samples) plus one block, never an n_samples x n_centers
    matrix.

    Parameters
    ----------
    embeddings : array-like of shape (n_samples, n_dims)
        The pool's embeddings.
    n : int
        How many points to pick, ``1 <= n <= n_samples``.
    centers : array-like of shape (n_centers, n_dims), default=None
        Initial centres (e.g. the labelled samples' embeddings). Without
        them the first point is drawn at random.
    random_state : int, RandomState instance or None, default=None
        Draws the first point when there are no centres.
    chunk_rows : int, default=8192
        Rows per block when measuring distances to the initial centres (a
        block holds ``chunk_rows x 256`` distances).

    Returns
    -------
    indices : ndarray of shape (n,), int64
        Chosen rows, in the order picked.
    distances : ndarray of shape (n,), float64
        Each chosen point's distance to its nearest centre when it was picked
        (``inf`` for a random first point).

    References
    ----------
    Sener and Savarese, "Active Learning for Convolutional Neural Networks: A
    Core-Set Approach", ICLR 2018.

    Examples
    --------
    Starting from a centre at 0, the farthest point comes first, then the one
    farthest from both:

    >>> indices, distances = greedy_k_centers([[1.0], [2.0], [10.0], [6.0]], 2, centers=[[0.0]])
    >>> indices.tolist(), distances.tolist()
    ([2, 3], [10.0, 4.0])
    """
    points = _as_float_tensor(embeddings)
    points = points.reshape(len(points), -1)
    if not 1 <= n <= len(points):
        raise ValueError(f"n must be between 1 and the number of points ({len(points)}); got {n}.")
    sq_norms = (points * points).sum(dim=1)
    chosen, distances = [], []
    if centers is not None and len(centers):
        centers = _as_float_tensor(centers).reshape(len(centers), -1)
        min_sq = _min_sq_distances_to(points, sq_norms, centers, chunk_rows)
    else:
        first = int(as_random_state(random_state).randint(len(points)))
        chosen.append(first)
        distances.append(float("inf"))
        min_sq = torch.addmv(
            sq_norms + sq_norms[first], points, points[first], alpha=-2.0
        ).clamp_min_(0)
        min_sq[first] = -1.0
    while len(chosen) < n:
        pick = int(torch.argmax(min_sq))
        chosen.append(pick)
        distances.append(float(min_sq[pick].clamp_min(0).sqrt()))
        # one matrix-vector product per pick; no temporary the size of the embeddings
        new_sq = torch.addmv(
            sq_norms + sq_norms[pick], points, points[pick], alpha=-2.0
        ).clamp_min_(0)
        min_sq = torch.minimum(min_sq, new_sq)
        min_sq[pick] = -1.0  # never picked twice, even among duplicates
    return np.asarray(chosen, dtype=np.int64), np.asarray(distances, dtype=np.float64)


def kmeans_plus_plus_seeding(sq_distance_to, sq_norms, n, *, random_state=None):
    """k-means++ seeding with a user-supplied squared-distance function.

    The first seed is the point with the largest norm (as in BADGE); every
    next seed is drawn with probability proportional to its squared distance
    to the nearest seed so far. Extra memory O(n_samples).

    Parameters
    ----------
    sq_distance_to : callable
        ``sq_distance_to(i)`` returns the squared distances of every point to
        point ``i`` as an array of shape (n_samples,).
    sq_norms : ndarray of shape (n_samples,)
        Squared norms of the points.
    n : int
        How many seeds, ``1 <= n <= n_samples``.
    random_state : int, RandomState instance or None, default=None
        Draws the seeds after the first.

    Returns
    -------
    indices : ndarray of shape (n,), int64
        Seeds in the order drawn.
    sq_distances : ndarray of shape (n,), float64
        Each seed's squared distance to the nearest earlier seed when drawn
        (its squared norm for the first).

    References
    ----------
    Arthur and Vassilvitskii, "k-means++: The Advantages of Careful Seeding", SODA 2007.
    """
    sq_norms = np.asarray(sq_norms, dtype=np.float64)
    if not 1 <= n <= len(sq_norms):
        raise ValueError(
            f"n must be between 1 and the number of points ({len(sq_norms)}); got {n}."
        )
    rng = as_random_state(random_state)
    first = int(np.argmax(sq_norms))
    chosen, picked_sq = [first], [float(sq_norms[first])]
    min_sq = np.maximum(np.asarray(sq_distance_to(first), dtype=np.float64), 0.0)
    min_sq[first] = 0.0
    available = np.ones(len(sq_norms), dtype=bool)
    available[first] = False
    while len(chosen) < n:
        weights = np.where(available, min_sq, 0.0)
        total = weights.sum()
        if total > 0:
            pick = int(rng.choice(len(weights), p=weights / total))
        else:  # every remaining point coincides with a seed: pick any of them
            pick = int(rng.choice(np.flatnonzero(available)))
        chosen.append(pick)
        picked_sq.append(float(min_sq[pick]))
        available[pick] = False
        min_sq = np.minimum(
            min_sq, np.maximum(np.asarray(sq_distance_to(pick), dtype=np.float64), 0.0)
        )
    return np.asarray(chosen, dtype=np.int64), np.asarray(picked_sq, dtype=np.float64)
