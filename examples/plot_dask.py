"""
Grid search on a dask cluster
=============================

scikit-learn runs the candidates of ``GridSearchCV(..., n_jobs=...)`` through
joblib, and joblib can hand them to a `dask.distributed
<https://distributed.dask.org>`_ cluster instead of local worker processes:
the code is the same, inside a ``joblib.parallel_config`` block. The
estimators -- here the fused classifier returned by ``learner.fuse()`` -- are
pickled, sent to the workers, trained there, and only their scores come back.

This example starts a small cluster on this machine (three worker processes) with
``LocalCluster``, runs the same search as with joblib's default loky backend,
**kills one worker in the middle of it**, and compares the results. It uses
:class:`~prunefuse_sk.dask_backend.RecomputableDaskBackend` rather than joblib's
own ``"dask"`` backend, which scatters ``X`` and ``y`` to a single worker and
loses the whole search with it. Install dask with ``pip install prunefuse-sk[dask]``.

.. note::

   The worker processes of a ``LocalCluster(processes=True)`` are started with
   *spawn*, which imports the main script again in every worker. Code that must
   run once -- training, starting the cluster -- therefore sits under
   ``if __name__ == "__main__":``, as for any script that starts processes.
   In a notebook or an interactive session no guard is needed.
"""

# %%
# Imports: these run in the workers too
# -------------------------------------
import asyncio
import logging
import os
import signal
import threading
import time

import joblib
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, PredefinedSplit, train_test_split

from prunefuse_sk import PruneFuseActiveLearner

torch.set_num_threads(1)  # one thread per worker process: tiny networks train fastest so
# The worker killed below makes the other workers log, with tracebacks, the connections that died
# with it; the scheduler's own lines ("... will be recomputed elsewhere") stay.
logging.getLogger("distributed.worker").setLevel(logging.CRITICAL)


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


# %%
# A labelled set, a validation set and the fused classifier
# ---------------------------------------------------------
# As in :ref:`sphx_glr_auto_examples_plot_grid_search.py`, the candidates are
# trained on the labelled set and scored on a validation set the learner never
# saw (one ``PredefinedSplit``). To keep the example short, the "labelled set"
# is a random sample rather than the result of active-learning rounds.
if __name__ == "__main__":
    start = time.perf_counter()
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    X_lab, X_val, y_lab, y_val = train_test_split(
        X_train, y_train, train_size=200, test_size=300, random_state=0
    )

    learner = PruneFuseActiveLearner(pruning_ratio=0.5, random_state=0).fit(X_lab, y_lab)
    clf = learner.fuse()
    print(f"fused network: validation accuracy {clf.score(X_val, y_val):.3f}")

    X_all, y_all = np.concatenate([X_lab, X_val]), np.concatenate([y_lab, y_val])
    split = PredefinedSplit(np.r_[np.full(len(X_lab), -1), np.zeros(len(X_val), dtype=int)])
    grid = {"lr": [0.001, 0.01], "max_epochs": [5, 20]}

# %%
# The search with joblib's default backend (local processes)
# ----------------------------------------------------------
if __name__ == "__main__":
    t = time.perf_counter()
    local = GridSearchCV(clf, grid, cv=split, n_jobs=2).fit(X_all, y_all)
    print(f"loky: best {local.best_params_} in {time.perf_counter() - t:.1f} s")

# %%
# The same search on a dask cluster, losing a worker half-way
# -----------------------------------------------------------
# ``LocalCluster`` starts a scheduler and three single-threaded worker processes
# on this machine (``dashboard_address=None``: no web dashboard). Creating a
# ``Client`` connects to it and makes it the default, which is what the backend
# uses; it runs on all the cluster's worker threads, whatever ``n_jobs`` says.
#
# A thread plays the part of a reclaimed spot instance: as soon as a worker is
# training a candidate, it kills that worker's process with SIGKILL. The
# scheduler notices, runs the candidate again on another worker, and the nanny
# starts a fresh worker. With ``RecomputableDaskBackend`` the arrays the
# candidates need are held by tasks the scheduler can compute again, so nothing
# is lost; with joblib's ``"dask"`` backend the same kill ends the search with
# ``FutureCancelledError: ... already forgotten``.


def kill_a_busy_worker(client, killed):
    """SIGKILL the first worker seen training a candidate; note its address in ``killed``."""
    pids = client.run(os.getpid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for address, tasks in client.processing().items():
            if any("_fit_and_score" in str(key) for key in tasks):
                os.kill(pids[address], signal.SIGKILL)
                killed.append(address)
                return
        time.sleep(0.02)


if __name__ == "__main__":
    from dask.distributed import Client, LocalCluster

    from prunefuse_sk.dask_backend import RecomputableDaskBackend

    t = time.perf_counter()
    with LocalCluster(
        n_workers=3, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        with Client(cluster) as client:
            print(
                f"cluster up in {time.perf_counter() - t:.1f} s: "
                f"{len(client.scheduler_info()['workers'])} workers"
            )
            killed = []
            killer = threading.Thread(target=kill_a_busy_worker, args=(client, killed))
            killer.start()
            t = time.perf_counter()
            with joblib.parallel_config(backend=RecomputableDaskBackend()):
                on_dask = GridSearchCV(clf, grid, cv=split, n_jobs=2).fit(X_all, y_all)
            killer.join()
            print(f"killed worker {killed} mid-search with SIGKILL")
            print(f"dask: best {on_dask.best_params_} in {time.perf_counter() - t:.1f} s")
            client.wait_for_workers(3, timeout=120)  # the nanny restarts it: close it cleanly
        close_workers(cluster)

# %%
# Same candidates, same scores
# ----------------------------
# Every candidate is a clone of ``clf`` that starts from the fused weights, and
# the fused classifier seeds its own training (its ``random_state``, drawn by
# ``fuse`` from the learner's), so where a candidate runs does not change its
# score.
if __name__ == "__main__":
    for params, a, b in zip(
        local.cv_results_["params"],
        local.cv_results_["mean_test_score"],
        on_dask.cv_results_["mean_test_score"],
    ):
        print(
            f"lr={params['lr']:<6} max_epochs={params['max_epochs']:<3} loky {a:.3f}  dask {b:.3f}"
        )
    print(f"same best_params_: {local.best_params_ == on_dask.best_params_}")
    print(
        f"refit best model, test accuracy: loky {local.score(X_test, y_test):.3f}, "
        f"dask {on_dask.score(X_test, y_test):.3f}"
    )
    print(f"total time: {time.perf_counter() - start:.1f} s")

# %%
# On a real cluster
# -----------------
# Nothing changes but the ``Client``: connect to a running dask scheduler by its
# address instead of starting a ``LocalCluster``. The workers need the same
# packages as this machine (``pip install prunefuse-sk[dask]`` with the same
# torch), since they unpickle and train the estimators::
#
#     from dask.distributed import Client
#
#     client = Client("tcp://scheduler-address:8786")
#     with joblib.parallel_config(backend=RecomputableDaskBackend()):
#         search = GridSearchCV(clf, grid, cv=split, n_jobs=-1).fit(X_all, y_all)
#
# To train the candidates on the workers' GPUs, hand ``GridSearchCV`` an
# unfitted copy set to the GPU, ``clone(clf).set_params(device="cuda")``: each
# candidate copies the fused weights (kept on the CPU) onto the worker's GPU
# when it initializes.
