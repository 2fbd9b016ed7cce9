"""Pools on a dask cluster: each block is scored where it lives; only the top rows come back.

A pool that is a :class:`dask.array.Array` (or a dask DataFrame of features) is never
collected. The proxy is shipped once per query, as a task that holds it (when a
:class:`distributed.Client` is the default scheduler, :func:`shipped`: a worker's loss loses
nothing, the scheduler computes it again; with dask's local schedulers it is simply shared).
Then:

* a **ranking strategy** (one that is ``top_n(measure(proba))``: least confidence, margin,
  entropy, and random) is run as a distributed top-n: every block scores its rows with the
  proxy and keeps its own ``n`` best, and the blocks' bests are merged in a tree of
  ``split_every`` at a time. Only ``n`` (score, row) pairs reach the client. The order is a
  total one (score, then a key of the row's global position, see
  :func:`~prunefuse_sk.ranking.row_keys`), and every block is scored in the
  batches an in-memory scan of the whole pool would use (:func:`aligned_pool`), so the
  scores are the in-memory scores bit for bit and the result is the in-memory one, near-ties
  and exact ties included;
* **any other strategy** (``kcenter``, ``badge``, ``bald``, a custom one) is run on a random
  candidate sample of at most ``max_candidates`` rows (``DASK_CANDIDATES`` = 10,000 when not
  given): the sample stays on the cluster, and :func:`score_dask_pool` brings back only its
  probabilities and embeddings.

Custom strategies opt in to the distributed top-n by declaring their measure:
``my_strategy.rank_measure = my_measure`` (a function from probabilities of shape
``(n_rows, n_outputs)`` to one score per row, higher is better), when the strategy is
``top_n(my_measure(proba), n, random_state)``.
"""

import threading
import weakref

import numpy as np
import torch

from ._random import MAX_SEED, as_random_state, torch_seed_scope
from .accelerate_support import net_device
from .dask_clients import default_client, recomputable
from .exceptions import SchedulerUnavailableError
from .net_snapshots import copy_net, picklable
from .pools import as_pool
from .ranking import row_uniforms, tie_seed, top_by_key
from .scoring import PoolScores, score_pool, scoring_batch_size

__all__ = ["DASK_CANDIDATES", "rank_dask_pool", "score_dask_pool", "shipped"]

DASK_CANDIDATES = 10_000
"""Candidate sample for non-ranking strategies on a dask pool without ``max_candidates``."""


def shipped(obj):
    """``obj`` as a recomputable future on the default distributed client, else itself.

    Parameters
    ----------
    obj : object
        What the block tasks need (the proxy net).

    Returns
    -------
    obj_or_future : object or distributed.Future
        A future of a task that holds ``obj`` (:func:`~prunefuse_sk.dask_clients.recomputable`:
        sent once, fetched by the workers that need it, computed again if every worker
        holding it dies) when a :class:`distributed.Client` is the default scheduler; ``obj``
        with dask's local (threaded, synchronous) schedulers, which share this process's
        memory.
    """
    client = default_client()
    if client is None:
        return obj
    return recomputable(client, picklable(obj))


def _compute(graph, progress):
    """``dask.compute(graph)[0]``, with dask's own progress bar when ``progress`` is true.

    On a distributed client that is ``distributed.progress`` (a text bar in a terminal, a
    widget in Jupyter), which follows every block task the result depends on; with a local
    scheduler, ``dask.diagnostics.ProgressBar``. A client that loses its scheduler while the
    graph runs cancels it: that is raised as
    :class:`~prunefuse_sk.exceptions.SchedulerUnavailableError`.
    """
    import concurrent.futures

    client = default_client()
    try:
        return _compute_with(client, graph, progress)
    except concurrent.futures.CancelledError as error:
        if client is None or client.status == "running":
            raise
        raise SchedulerUnavailableError(
            f"the dask client lost its scheduler while computing the pool ({error}); the query "
            "was abandoned and the learner is unchanged. Connect a new distributed.Client to a "
            "running scheduler and query again."
        ) from error


def _compute_with(client, graph, progress):
    import dask

    if not progress:
        return dask.compute(graph)[0]
    if client is None:
        from dask.diagnostics import ProgressBar

        with ProgressBar():
            return dask.compute(graph)[0]
    from distributed import progress as show_progress

    future = client.compute(graph)
    show_progress(future)
    return future.result()


_THREAD = threading.local()
_GLOBAL_TORCH_RNG = threading.Lock()  # dropout masks come from torch's one generator per process


def _own_copy(net):
    """This thread's copy of ``net``, made once per thread.

    Scoring switches the module to eval mode and back and may hook a layer (embeddings);
    blocks scored at the same time by the threads of one worker (or of dask's threaded
    scheduler, on the learner's own proxy) must not share a module.
    """
    copies = getattr(_THREAD, "nets", None)
    if copies is None:
        copies = _THREAD.nets = weakref.WeakKeyDictionary()
    own = copies.get(net)
    if own is None:
        own = copies[net] = copy_net(net)
    return own


def aligned_pool(
    net, X, *, batch_size=None, working_memory=None, embedding_layer=None, autocast=False
):
    """A dask pool and the batch size its blocks are scored with, as an in-memory scan would.

    The batch size is the one :func:`~prunefuse_sk.scoring.score_pool` would choose for the
    whole pool in memory (:func:`~prunefuse_sk.scoring.scoring_batch_size` probes the first
    rows, computed here: a handful of rows), and the blocks are re-cut, when needed, so that
    each starts on a multiple of it
    (:meth:`~prunefuse_sk.pools.DaskPool.aligned_to_batches`). Every row is then computed in
    the same batch, with the same rows, as in memory: the scores are the in-memory scores,
    bit for bit, whatever the pool's chunks were.

    Parameters
    ----------
    net : skorch.NeuralNetClassifier
        The fitted net that scores the pool.
    X : dask.array.Array, dask DataFrame or DaskPool
        The pool.
    batch_size : int, default=None
        Rows per forward pass; None to size it to ``working_memory``.
    working_memory, embedding_layer, autocast
        As in :func:`~prunefuse_sk.scoring.score_pool`.

    Returns
    -------
    pool : DaskPool
        Its blocks start on multiples of ``batch_size``.
    batch_size : int
    """
    pool = as_pool(X)
    if batch_size is None:
        batch_size = scoring_batch_size(
            net,
            pool,
            working_memory=working_memory,
            embedding_layer=embedding_layer,
            autocast=autocast,
        )
    batch_size = max(int(batch_size), 1)
    return pool.aligned_to_batches(batch_size), batch_size


def _block_best(
    block, net, offset, n, measure, score_seed, key_seed, batch_size, autocast, working_memory
):
    """Score one block on its worker and keep its ``n`` best rows: (scores, positions, rows)."""
    rows = offset + np.arange(len(block), dtype=np.int64)
    if isinstance(measure, str):  # "uniform": random sampling's draws
        scores = row_uniforms(score_seed, rows)
    else:
        proba = score_pool(
            _own_copy(net),
            block,
            batch_size=batch_size,
            autocast=autocast,
            working_memory=working_memory,
        ).proba
        scores = np.asarray(measure(proba))
    best = top_by_key(scores.astype(np.float64, copy=False), n, key_seed, rows)
    return scores[best], rows[best], np.asarray(block[best])


def _merge_best(parts, n, key_seed):
    """The ``n`` best of several blocks' bests (one total order: the same as over their rows)."""
    scores, rows, data = (np.concatenate([part[i] for part in parts]) for i in range(3))
    best = top_by_key(scores.astype(np.float64, copy=False), n, key_seed, rows)
    return scores[best], rows[best], data[best]


def _tree_reduce(parts, merge, split_every, **kwargs):
    import dask

    merge = dask.delayed(merge, pure=True)
    while len(parts) > 1:
        parts = [
            merge(parts[i : i + split_every], **kwargs) for i in range(0, len(parts), split_every)
        ]
    return parts[0]


def rank_dask_pool(
    net,
    X,
    n,
    measure,
    *,
    random_state=None,
    batch_size=None,
    autocast=False,
    split_every=8,
    progress=False,
    working_memory=None,
):
    """Distributed top-n: the ``n`` rows of a dask pool with the highest ``measure(proba)``.

    Equal to ``top_n(measure(proba), n, random_state)`` over the whole pool in
    memory (and so to the built-in ranking strategies), ties included. Each
    block is scored by the proxy on the worker that holds it; each block's ``n``
    best are merged ``split_every`` at a time; only ``n`` scores, row
    positions and rows reach the client. The rows travel with their scores
    through the reduction, so the pool is read once per query.

    Parameters
    ----------
    net : skorch.NeuralNetClassifier
        The fitted proxy; shipped once to every worker.
    X : dask.array.Array of shape (n_samples, ...)
        The pool.
    n : int
        How many rows to choose.
    measure : callable or "uniform"
        Scores from probabilities (higher is better), or ``"uniform"`` for
        random sampling's draws (the proxy is not run).
    random_state : int, RandomState instance or None, default=None
        As the strategy's ``random_state``: breaks ties (and seeds the draws of ``"uniform"``).
    batch_size : int, default=None
        Rows per forward pass on the workers (see :func:`~prunefuse_sk.strategies.score_pool`).
    autocast : bool, default=False
        Float16 forward passes on CUDA workers.
    split_every : int, default=8
        Blocks merged per reduction task.
    progress : bool, default=False
        Show dask's progress bar over the block tasks (``distributed.progress`` on a
        cluster, ``dask.diagnostics.ProgressBar`` with a local scheduler).
    working_memory : float, default=None
        Memory budget in MiB of one forward pass on a worker, when ``batch_size`` is None
        (see :func:`~prunefuse_sk.strategies.score_pool`); each block sizes its own batches.

    Returns
    -------
    indices : ndarray of shape (n,), int64
        Global row positions in ``X``, best first.
    scores : ndarray of shape (n,)
        Their scores.
    rows : ndarray of shape (n, ...)
        The chosen rows of ``X``, computed.
    """
    import dask

    pool = as_pool(X)
    if measure == "uniform":  # as random_sampling: draws seeded by random_state, ties by position
        score_seed, key_seed, net_ref = tie_seed(as_random_state(random_state)), None, None
    else:
        score_seed, key_seed = None, tie_seed(random_state)
        pool, batch_size = aligned_pool(
            net, pool, batch_size=batch_size, working_memory=working_memory, autocast=autocast
        )
        net_ref = shipped(net)
    block_best = dask.delayed(_block_best, pure=True)
    parts = [
        block_best(
            block,
            net_ref,
            offset,
            n,
            measure,
            score_seed,
            key_seed,
            batch_size,
            autocast,
            working_memory,
        )
        for block, offset in pool.blocks()
    ]
    scores, positions, rows = _compute(
        _tree_reduce(parts, _merge_best, split_every, n=n, key_seed=key_seed), progress
    )
    return positions.astype(np.int64), scores, rows


def _score_block(block, net, embedding_layer, n_passes, batch_size, autocast, seed, working_memory):
    net = _own_copy(net)
    if n_passes > 1:  # Monte Carlo dropout: masks seeded per block, one block at a time per process
        with _GLOBAL_TORCH_RNG, torch_seed_scope(seed, net_device(net)):
            return score_pool(
                net,
                block,
                embedding_layer=embedding_layer,
                n_passes=n_passes,
                batch_size=batch_size,
                autocast=autocast,
                working_memory=working_memory,
            )
    return score_pool(
        net,
        block,
        embedding_layer=embedding_layer,
        batch_size=batch_size,
        autocast=autocast,
        working_memory=working_memory,
    )


def _concatenate(values):
    return None if values[0] is None else np.concatenate(values)


def score_dask_pool(
    net,
    X,
    *,
    embedding_layer=None,
    n_passes=1,
    batch_size=None,
    autocast=False,
    progress=False,
    working_memory=None,
):
    """Probabilities (and embeddings, MC-dropout entropies) of a dask pool, scored on the workers.

    What :meth:`~prunefuse_sk.strategies.SelectorView.score_pool` does for a
    dask pool. The rows never reach the client; their scores do (``n_rows x
    n_outputs`` floats, plus ``n_rows x n_dims`` embeddings when asked), so
    call it on a bounded candidate sample, as :func:`select_from_dask_pool`
    does for strategies that need more than a ranking.

    Parameters
    ----------
    net : skorch.NeuralNetClassifier
        The fitted proxy; shipped once to every worker.
    X : dask.array.Array of shape (n_samples, ...)
    embedding_layer, n_passes, batch_size, autocast, working_memory
        As in :func:`~prunefuse_sk.strategies.score_pool`. With ``n_passes > 1``
        each block's dropout masks are seeded from torch's generator on the client.
    progress : bool, default=False
        Show dask's progress bar over the block tasks.

    Returns
    -------
    scores : PoolScores
    """
    import dask

    pool, batch_size = aligned_pool(
        net,
        X,
        batch_size=batch_size,
        working_memory=working_memory,
        embedding_layer=embedding_layer,
        autocast=autocast,
    )
    seed = int(torch.randint(0, MAX_SEED, (1,)).item()) if n_passes > 1 else 0
    net_ref = shipped(net)
    score_block = dask.delayed(_score_block, pure=True)
    parts = _compute(
        [
            score_block(
                block,
                net_ref,
                embedding_layer,
                n_passes,
                batch_size,
                autocast,
                seed + i,
                working_memory,
            )
            for i, (block, _) in enumerate(pool.blocks())
        ],
        progress,
    )
    parts = [part for part in parts if part.proba.size] or list(parts[:1])
    return PoolScores(
        proba=_concatenate([part.proba for part in parts]),
        embeddings=_concatenate([part.embeddings for part in parts]),
        expected_entropy=_concatenate([part.expected_entropy for part in parts]),
    )
