"""Which dask scheduler computes a pool: the cluster the user chose, or an error, never a fallback.

A dask pool may only fit on a cluster. When the scheduler behind the user's
:class:`distributed.Client` has gone, dask itself falls back to its local threaded
scheduler (a closed client stops being dask's default) and would compute the whole pool
on this machine. :func:`pool_client` refuses that: before a dask pool is touched it
finds the client dask would compute with and checks, within
:func:`scheduler_timeout` seconds, that its scheduler answers. The pool is computed on
this machine only when no client was chosen (dask's own default) or when the user asked
for it with ``dask.config.set(scheduler="threads")`` (or any local scheduler).

Data the library sends to the workers (the proxy, a simulation's arrays, a grid search's
arguments) is sent with :func:`recomputable`: as a task that holds it, never as scattered
data. Scattered data lives on one worker (distributed's active memory manager drops the
extra copies of ``scatter(..., broadcast=True)`` within seconds), and a worker's loss loses
it for good; a task's result is computed again by the scheduler on another worker.

A client counts as chosen while it is dask's default, inside its ``with Client(...)``
block, and, for a client made without ``with``, from the first dask pool it computed for
prunefuse_sk for as long as the user holds it.
"""

import asyncio
import sys
import uuid
import warnings
import weakref

from .exceptions import SchedulerUnavailableError

__all__ = [
    "SCHEDULER_TIMEOUT",
    "check_client",
    "default_client",
    "pool_client",
    "recomputable",
    "scheduler_timeout",
]

SCHEDULER_TIMEOUT = "10s"
"""How long a scheduler may take to answer before a dask pool's query raises (dask config
``prunefuse.scheduler-timeout`` overrides it)."""

_LOCAL_SCHEDULERS = {"threads", "threading", "sync", "synchronous", "single-threaded", "processes"}

# Clients made without ``with`` that computed a pool: they stay chosen while the user holds them.
_CHOSEN = weakref.WeakSet()


def scheduler_timeout():
    """Seconds a scheduler has to answer: dask config ``prunefuse.scheduler-timeout`` or 10.

    Returns
    -------
    seconds : float
        The bound on how long a query waits for an unreachable scheduler before it raises
        :class:`~prunefuse_sk.exceptions.SchedulerUnavailableError`.

    Examples
    --------
    >>> import dask
    >>> with dask.config.set({"prunefuse.scheduler-timeout": "3s"}):
    ...     scheduler_timeout()
    3.0
    """
    import dask.config
    from dask.utils import parse_timedelta

    return float(parse_timedelta(dask.config.get("prunefuse.scheduler-timeout", SCHEDULER_TIMEOUT)))


def default_client():
    """The :class:`distributed.Client` dask computes with now, or None (a local scheduler).

    Returns
    -------
    client : distributed.Client or None
        None when distributed is not imported or dask's scheduler is a local one.
    """
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    import dask.base

    try:
        client = getattr(dask.base.get_scheduler(), "__self__", None)
    except RuntimeError:  # config names the distributed scheduler, but no client is active
        return None
    return client if isinstance(client, distributed.Client) else None


def _local_scheduler_asked():
    """Whether the user set a local scheduler in dask's config (an explicit opt-in)."""
    import dask.config

    scheduler = dask.config.get("scheduler", None)
    if isinstance(scheduler, str):
        return scheduler.lower() in _LOCAL_SCHEDULERS
    return callable(scheduler) and not hasattr(getattr(scheduler, "__self__", None), "scheduler")


def _chosen_clients():
    """Clients the user chose that are no longer dask's default: the ``with`` block's, held ones."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return []
    from distributed.client import _current_client

    current = _current_client.get()
    return [client for client in (current, *_CHOSEN) if client is not None]


async def _ping(client, timeout):
    await asyncio.wait_for(client.scheduler.identity(), timeout)


def _describe(client):
    start = getattr(client, "_start_arg", None)
    address = start if isinstance(start, str) else None
    if address is None:
        try:
            address = client.cluster.scheduler_address
        except (AttributeError, RuntimeError, ValueError):  # no cluster object, or a closed one
            address = None
    return f"the dask client of scheduler {address}" if address else "the dask client"


_POOL = (
    "this dask pool cannot be computed where you chose to compute it; nothing was computed and "
    "the learner is unchanged"
)
_REMEDY = (
    "Connect a new distributed.Client to a running scheduler and try again, or, to compute the "
    'pool on this machine, ask for it: `with dask.config.set(scheduler="threads"): ...`'
)


def _unavailable(client, why, timeout, consequence=_POOL, remedy=_REMEDY):
    return SchedulerUnavailableError(
        f"{_describe(client)} {why}, so {consequence}. {remedy}. (A scheduler has {timeout:g} s "
        "to answer; set dask config 'prunefuse.scheduler-timeout' to change it.)"
    )


def pool_client(timeout=None):
    """The running client that computes dask pools, None for a local scheduler, or an error.

    Parameters
    ----------
    timeout : float, default=None
        Seconds the scheduler has to answer; None for :func:`scheduler_timeout`.

    Returns
    -------
    client : distributed.Client or None
        A client whose scheduler answered within ``timeout``; None when dask computes with
        a local scheduler the user did not leave behind (no client chosen, or a local
        scheduler asked for in dask's config).

    Raises
    ------
    SchedulerUnavailableError
        If the client dask would use is closed or its scheduler does not answer within
        ``timeout`` seconds, or if dask fell back to a local scheduler because the client
        the user chose has closed. Raised within ``timeout`` seconds (and a second).
    """
    timeout = scheduler_timeout() if timeout is None else float(timeout)
    client = default_client()
    if client is None:
        if not _local_scheduler_asked():
            for chosen in _chosen_clients():
                if chosen.status != "running":
                    raise _unavailable(chosen, f"is {chosen.status}", timeout)
        return None
    check_client(client, timeout)
    from distributed.client import _current_client

    if _current_client.get() is not client:
        _CHOSEN.add(client)
    return client


def check_client(client, timeout=None, consequence=_POOL, remedy=_REMEDY):
    """Check that ``client`` is running and its scheduler answers within ``timeout`` seconds.

    Parameters
    ----------
    client : distributed.Client
        The client about to compute.
    timeout : float, default=None
        Seconds the scheduler has to answer; None for :func:`scheduler_timeout`.
    consequence, remedy : str
        What the error says cannot happen, and what to do (a dask pool's words by default).

    Raises
    ------
    SchedulerUnavailableError
        If the client is closed (or reconnecting) or its scheduler does not answer in time.
    """
    timeout = scheduler_timeout() if timeout is None else float(timeout)
    if client.status != "running":
        raise _unavailable(client, f"is {client.status}", timeout, consequence, remedy)
    try:
        client.sync(_ping, client, timeout, callback_timeout=timeout + 1)
    except (OSError, asyncio.TimeoutError, TimeoutError) as error:
        why = f"did not answer within {timeout:g} s ({type(error).__name__})"
        raise _unavailable(client, why, timeout, consequence, remedy) from error


def _identity(obj):
    return obj


def recomputable(client, obj):
    """A future of ``obj`` that the scheduler can compute again if every worker holding it dies.

    ``obj`` travels inside the task's spec (pickled once; the scheduler keeps the spec while
    the future lives), so its result is a computed task, not scattered data: when the
    workers that hold it are lost, the scheduler recomputes it elsewhere, and the tasks that
    need it run on. Scattered data would be lost for good ("lose scattered data, which
    can't be recovered").

    Parameters
    ----------
    client : distributed.Client
        The client to submit to.
    obj : object
        What the tasks need (a net, arrays).

    Returns
    -------
    future : distributed.Future
        Keyed ``"<type name>-<uuid>"``; pass it to tasks as an argument.
    """
    key = f"{type(obj).__name__}-{uuid.uuid4().hex}"
    with warnings.catch_warnings():  # large on purpose: the spec is what makes it recomputable
        warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
        return client.submit(_identity, obj, pure=False, key=key)
