"""A simulation's (seed, method) cells as parallel tasks: ``simulate(n_jobs=...)``.

A cell is one method on one seed, all its rounds; cells are seeded independently, so they
run on local processes (loky) or any joblib backend and give the records of a serial run.
This module checks ``n_jobs``, hands the data over once (to joblib as arguments of their
own, which it memmaps; to a dask cluster as tasks that hold it, which the scheduler can
compute again), runs each cell under a process-wide lock (torch's random generators are
shared by a process's threads) with torch's intra-op threads limited to the worker's share
of the cores, and passes the cells' records back in submission order; a cell that raises is
returned as a :class:`CellFailure` while the others go on. What a cell runs (the round
loop, given as ``run_class``) belongs to :mod:`prunefuse_sk.simulation`.
"""

import concurrent.futures
import contextlib
import copy
import inspect
import numbers
import os
import pickle
import sys
import threading
import uuid
from dataclasses import replace

import joblib
import numpy as np
import torch

from .dask_clients import check_client, recomputable
from .exceptions import InvalidParameterError, SchedulerUnavailableError

__all__ = [
    "CellFailure",
    "active_dask_client",
    "check_n_jobs",
    "process_identity",
    "run_cell",
    "run_cells_in_parallel",
    "torch_threads_for_worker",
]

# A token per imported copy of this module: with the pid it tells a worker process (even a forked
# one, or one on another machine that happens to have the same pid) from the caller's.
_MODULE_TOKEN = uuid.uuid4().hex
# Cells that share a process (the threading backend, a dask worker with several threads) take turns:
# torch's random generators are process-wide, and every training run seeds them, so concurrent
# cells would draw each other's numbers and lose reproducibility.
_CELL_LOCK = threading.Lock()


def check_n_jobs(n_jobs):
    """Refuse an ``n_jobs`` that is not None or a nonzero int, or a joblib too old for it.

    Parameters
    ----------
    n_jobs : int or None
        How many cells run at once (joblib's convention; None or 1: serially).

    Raises
    ------
    InvalidParameterError
        If ``n_jobs`` is not None, a positive int or a negative int.
    ImportError
        If ``n_jobs`` is not None or 1 and joblib is older than 1.3.

    Examples
    --------
    >>> check_n_jobs(-1)
    >>> check_n_jobs(0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    prunefuse_sk.exceptions.InvalidParameterError: n_jobs must be None, a positive int ...
    """
    if n_jobs is None:
        return
    if (
        isinstance(n_jobs, (bool, np.bool_))
        or not isinstance(n_jobs, numbers.Integral)
        or n_jobs == 0
    ):
        raise InvalidParameterError(
            f"n_jobs must be None, a positive int (the number of cells run at once) or a negative "
            f"int (-1: all cores); got {n_jobs!r}. Pass n_jobs=None or 1 to run serially, "
            "n_jobs=-1 to use every core."
        )
    if n_jobs != 1 and "return_as" not in inspect.signature(joblib.Parallel).parameters:
        # joblib < 1.3
        raise ImportError(
            f"simulate(n_jobs={n_jobs}) needs joblib >= 1.3 (Parallel(return_as=...)); joblib "
            f"{joblib.__version__} is installed: pip install 'joblib>=1.3', or pass n_jobs=None."
        )


def process_identity():
    """This process's identity: its pid and a token of this copy of the module.

    Returns
    -------
    identity : tuple of (int, str)
        Equal in the same process, different in a worker process (even a forked one).
    """
    return os.getpid(), _MODULE_TOKEN


@contextlib.contextmanager
def torch_threads_for_worker(parent, n_workers):
    """Limit torch's intra-op threads to ``max(1, cpu_count // n_workers)`` in a worker process.

    joblib's loky backend limits OpenMP/BLAS thread pools through environment
    variables and threadpoolctl, which torch honours only if it reads them
    before its first parallel operation; set it explicitly for the cell, never
    raise it, and restore it after. In the caller's process (serial, or the
    threading backend, whose threads share torch's process-wide setting) it
    is left alone.

    Parameters
    ----------
    parent : tuple
        The caller's :func:`process_identity`.
    n_workers : int
        How many cells run at once.
    """
    if parent == process_identity():
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(min(before, max(1, joblib.cpu_count() // n_workers)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_cell(run_class, settings, X, y, X_test, y_test, spec, seed, initial, criteria, workers):
    """Run one method on one seed, all its rounds: the task of ``simulate(n_jobs=...)``.

    Parameters
    ----------
    run_class : type
        The round loop: ``run_class(context, spec, seed, initial, criteria)`` iterates
        over the records of the rounds and has ``selections`` and ``rounds_done``.
    settings : dataclass
        The simulation's context without its data (fields ``X``, ``y``, ``X_test``
        and ``y_test`` set to None).
    X, y, X_test, y_test : ndarray
        The data (validated, labels encoded).
    spec : MethodSpec
    seed : int
    initial : ndarray
        The seed's initial labelled indices.
    criteria : list
        Stopping criteria; copied, so that each cell has its own.
    workers : tuple
        ``(caller's process identity, number of cells running at once)``.

    Returns
    -------
    records : list of dict
        One per round run.
    selections : list of ndarray
        The initial set, then each round's batch.
    rounds_done : int
    """
    context = replace(settings, X=X, y=y, X_test=X_test, y_test=y_test)
    with _CELL_LOCK, torch_threads_for_worker(*workers):
        run = run_class(context, spec, seed, initial, [copy.deepcopy(c) for c in criteria])
        records = list(run)
    return records, run.selections, run.rounds_done


class CellFailure:
    """A cell that raised instead of returning: what it raised, passed on as a value.

    Parameters
    ----------
    error : Exception
        What the cell raised (a ``RuntimeError`` with its type and message when it could not
        be pickled back from a worker process).
    """

    def __init__(self, error):
        self.error = error


def _guarded_cell(*args):
    """:func:`run_cell`, with an exception returned as a :class:`CellFailure` (for joblib)."""
    try:
        return run_cell(*args)
    except Exception as error:  # noqa: BLE001 - reported per cell; the other cells go on
        try:
            pickle.dumps(error)
        except Exception:  # noqa: BLE001 - an exception that cannot travel back as itself
            error = RuntimeError(f"{type(error).__name__}: {error}")
        return CellFailure(error)


def active_dask_client():
    """The client of the active joblib backend when it is dask's, else None.

    Returns
    -------
    client : distributed.Client or None
        ``backend.client`` of ``joblib.parallel_backend("dask")`` (or of a subclass, such as
        :class:`~prunefuse_sk.dask_backend.RecomputableDaskBackend`).
    """
    from joblib.parallel import get_active_backend

    distributed = sys.modules.get("distributed")
    client = getattr(get_active_backend()[0], "client", None)
    client = getattr(client, "wrapped", client)  # RecomputableDaskBackend's RecomputableScatter
    return client if distributed is not None and isinstance(client, distributed.Client) else None


def run_cells_in_parallel(run_class, context, cells, criteria, n_jobs, on_cell):
    """Run the cells as parallel tasks; hand each cell's results on in submission order.

    A cell that raises does not stop the others: it is returned as a failure. On a dask
    cluster (``joblib.parallel_backend("dask")``) the cells are submitted to the cluster
    directly, with the data sent as tasks that hold it
    (:func:`~prunefuse_sk.dask_clients.recomputable`): a cell whose worker dies is run again
    elsewhere by the scheduler (up to ``distributed.scheduler.allowed-failures`` times, 3 by
    default), and data lost with a worker is computed again.

    Parameters
    ----------
    run_class : type
        The round loop (see :func:`run_cell`).
    context : dataclass
        The simulation's context, with its data in fields ``X``, ``y``, ``X_test`` and
        ``y_test``.
    cells : list of tuple
        ``(seed, spec, initial indices)`` per cell.
    criteria : list
        Stopping criteria; each cell runs with its own copy.
    n_jobs : int
        How many cells run at once, on the active joblib backend.
    on_cell : callable
        Called as ``on_cell(seed, spec, records, selections)`` once per cell that finished,
        in the order of ``cells``, as soon as that cell and the ones before it are done.
        If it raises, the cells not started yet are cancelled.

    Returns
    -------
    failures : list of tuple
        ``(seed, spec, error)`` per cell that failed for good, in the order of ``cells``.
    """
    # the parent's identity and the number of cells running at once, for the torch thread limit
    workers = (process_identity(), max(1, min(joblib.effective_n_jobs(n_jobs), len(cells))))
    data = (context.X, context.y, context.X_test, context.y_test)
    settings = replace(context, X=None, y=None, X_test=None, y_test=None)
    tasks = [
        (run_class, settings, spec, seed, initial, criteria, workers)
        for seed, spec, initial in cells
    ]
    client = active_dask_client()
    if client is None:
        outcomes = _outcomes_on_joblib(tasks, data, n_jobs)
    else:
        outcomes = _outcomes_on_dask(client, tasks, data)
    failures = []
    try:
        for (seed, spec, _), outcome in zip(cells, outcomes):
            if isinstance(outcome, CellFailure):
                failures.append((seed, spec, outcome.error))
            else:
                on_cell(seed, spec, outcome[0], outcome[1])
    finally:
        outcomes.close()  # on an error, cancel the cells not started yet
    return failures


def _cell_args(task, data):
    run_class, settings, spec, seed, initial, criteria, workers = task
    return (run_class, settings, *data, spec, seed, initial, criteria, workers)


def _outcomes_on_joblib(tasks, data, n_jobs):
    """Each cell's results or :class:`CellFailure`, in order, from ``joblib.Parallel``."""
    # the data as arguments of their own: joblib memmaps them once for loky workers
    # (it does not look inside the context); return_as="generator" needs joblib >= 1.3
    outputs = joblib.Parallel(n_jobs=n_jobs, return_as="generator")(
        joblib.delayed(_guarded_cell)(*_cell_args(task, data)) for task in tasks
    )
    try:
        yield from outputs
    finally:
        outputs.close()


def _outcomes_on_dask(client, tasks, data):
    """Each cell's results or :class:`CellFailure`, in order, from futures on ``client``."""
    check_client(
        client,
        consequence="the simulation's cells cannot run on it; nothing was run",
        remedy="Connect a new distributed.Client to a running scheduler, or leave out "
        'joblib.parallel_backend("dask") to run the cells on local processes',
    )
    # the data as tasks that hold it: a worker's loss loses nothing, the scheduler computes
    # it again where the cells run (scattered data would be lost for good)
    data = [recomputable(client, array) for array in data]
    futures = [client.submit(run_cell, *_cell_args(task, data), pure=False) for task in tasks]
    try:
        for future in futures:
            try:
                yield future.result()
            except concurrent.futures.CancelledError as error:
                _check_still_connected(client, error)
                yield CellFailure(error)
            except Exception as error:  # noqa: BLE001 - KilledWorker or the cell's own error
                yield CellFailure(error)
    finally:
        for future in futures + data:
            future.cancel()


def _check_still_connected(client, error):
    if client.status != "running":
        raise SchedulerUnavailableError(
            f"the dask client lost its scheduler while the simulation's cells ran ({error}); "
            "the records of the cells that finished were passed to callback. Connect a new "
            "distributed.Client to a running scheduler and run the remaining cells again."
        ) from error
