"""
Querying a pool that lives on a dask cluster
============================================

Unlabelled pools grow past one machine's memory long before labelled sets do.
``learner.query`` accepts a :class:`dask.array.Array` (or a dask DataFrame of
features) and never collects it: the proxy is shipped once to every worker, each
block is scored where it lives, each block keeps its own best rows, and those
are merged in a tree until only the ``n`` chosen rows -- with their positions and
scores -- reach this process. The result is the one the same pool gives in
memory, ties included.

This example starts a small cluster on this machine (two worker processes), makes
a 200,000-row pool *on the workers* (scikit-learn's digits with pixel noise, so the
pool exists only there), queries it, and checks the answer against the same pool
computed into memory. Install dask with ``pip install prunefuse-sk[dask]``; see
:doc:`/scaling_out` for a real cluster.

.. note::

   Worker processes are started with *spawn*, which imports this script again in
   every worker; code that must run once sits under ``if __name__ == "__main__":``.
   In a notebook no guard is needed.
"""

# %%
# A pool made where it is stored
# ------------------------------
# Each block is a function of its position, computed by the worker that holds it.
# With real data the blocks would be read from files or a store (``da.from_zarr``,
# ``dask.dataframe.read_parquet``, ...); the client only ever sees the task graph.
import asyncio
import time

import numpy as np
import torch
from sklearn.datasets import load_digits

from prunefuse_sk import PruneFuseActiveLearner

torch.set_num_threads(1)
ROWS, BLOCKS = 25_000, 8


def close_workers(cluster, timeout=60):
    """Stop the cluster's worker processes, giving each up to ``timeout`` seconds to exit.

    Leaving ``with LocalCluster(...)`` gives a worker process 4 seconds to exit, then kills it
    with the warning "Worker process still alive after 4.0 seconds, killing"; on a busy
    machine, a process that has imported torch can take longer than that just to shut its
    interpreter down. Closing the workers first, with more time, ends the cluster cleanly.
    """

    async def close_all():
        await asyncio.gather(*(nanny.close(timeout=timeout) for nanny in cluster.workers.values()))

    cluster.sync(close_all)


def noisy_digits(block_id):
    X = (load_digits().data / 16).astype(np.float32)
    rng = np.random.RandomState(block_id)
    rows = X[rng.randint(0, len(X), ROWS)]
    return rows + rng.normal(0, 0.05, rows.shape).astype(np.float32)


# %%
# Fit the learner, start the cluster, query
# -----------------------------------------
if __name__ == "__main__":
    import dask.array as da
    from dask.distributed import Client, LocalCluster

    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    learner = PruneFuseActiveLearner(pruning_ratio=0.5, random_state=0).fit(X[:200], y[:200])

    # the client closes first, then the worker processes (given time to exit), then the scheduler
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        with Client(cluster):
            pool = da.map_blocks(
                lambda block_info=None: noisy_digits(block_info[None]["chunk-location"][0]),
                chunks=((ROWS,) * BLOCKS, (64,)),
                dtype=np.float32,
                meta=np.empty((0, 0), np.float32),
            )
            print(
                f"pool: {pool.shape[0]:,} rows in {pool.numblocks[0]} blocks, "
                f"{pool.nbytes / 2**20:.0f} MiB on the workers"
            )
            twin = PruneFuseActiveLearner(pruning_ratio=0.5, random_state=0).fit(
                X[:200], y[:200]
            )  # same state
            t = time.perf_counter()
            indices, rows, scores = learner.query(pool, n=10, return_scores=True)
            print(
                f"least confidence on the cluster: {time.perf_counter() - t:.1f} s; "
                f"{rows.nbytes / 1024:.1f} KiB of rows came back"
            )

            # %%
            # The same pool in memory gives the same rows
            # -------------------------------------------
            in_memory = np.concatenate([noisy_digits(i) for i in range(BLOCKS)])
            expected, _ = twin.query(in_memory, n=10)
            print(f"same indices as in memory: {np.array_equal(indices, expected)}")
            for i, s in zip(indices[:5], scores[:5]):
                print(f"  row {i:>7,}  1 - max p = {s:.3f}")

            # %%
            # Strategies that need embeddings run on a sample
            # -----------------------------------------------
            # k-center and BADGE compare pool rows with each other, so they run on a
            # random candidate sample (``max_candidates``, 10,000 rows when not given):
            # the sample stays on the cluster; only its embeddings come back.
            learner.set_params(query_strategy="kcenter")
            t = time.perf_counter()
            indices, rows = learner.query(pool, n=10, max_candidates=5_000)
            print(
                f"k-center on a 5,000-row sample: {time.perf_counter() - t:.1f} s, "
                f"rows {sorted(indices.tolist())[:5]} ..."
            )
        close_workers(cluster)
