"""A joblib backend for dask that a lost worker cannot break: what it sends is held by tasks.

joblib's dask backend (``joblib.parallel_backend("dask")``) scatters every task argument
larger than 1 kB (the training data of a ``GridSearchCV``, its folds' index arrays) to
*one* worker. Scattered data has no task that could compute it again, and distributed's
active memory manager soon drops any extra copy (even of ``broadcast=True`` scatters). So
when that worker dies, is killed or is removed by the scheduler (the nanny's memory limit,
missed heartbeats under load, a reclaimed spot instance), the scheduler logs "Removing
worker ... caused the cluster to lose scattered data, which can't be recovered", and every
task that needs it fails with ``FutureCancelledError: ... already forgotten``: the whole
search is lost.

:class:`RecomputableDaskBackend` is joblib's backend with one change: what joblib would
scatter is submitted as a task that holds it
(:func:`~prunefuse_sk.dask_clients.recomputable`). Its result lives on a worker like
scattered data, but if that worker dies the scheduler computes it again elsewhere, and
reruns the tasks the dead worker was running. Use it as::

    from prunefuse_sk.dask_backend import RecomputableDaskBackend

    with joblib.parallel_config(backend=RecomputableDaskBackend()):
        GridSearchCV(learner, grid, cv=3).fit(X, y)

The scheduler keeps each argument's spec (one pickled copy) while the search runs.
"""

import joblib

__all__ = ["RecomputableDaskBackend", "RecomputableScatter"]


class RecomputableScatter:
    """A :class:`distributed.Client` whose ``scatter`` submits a task that holds the data.

    Everything else is the wrapped client's.

    Parameters
    ----------
    client : distributed.Client
        The client to wrap (``wrapped``).
    """

    def __init__(self, client):
        self.wrapped = client

    def scatter(self, data, asynchronous=None, **kwargs):
        """A future of ``data`` that the scheduler can compute again, in place of scattering it.

        Parameters
        ----------
        data : object
            What joblib would scatter (one argument).
        asynchronous : bool, default=None
            True to return an awaitable, as joblib's backend asks from the client's loop.
        **kwargs
            :meth:`distributed.Client.scatter`'s other arguments (``hash``, ``broadcast``,
            ``workers``, ``direct``): not needed for a task, ignored.

        Returns
        -------
        future : distributed.Future, or an awaitable of it when ``asynchronous``
        """
        from .dask_clients import recomputable

        future = recomputable(self.wrapped, data)
        if not asynchronous:
            return future

        async def ready():
            return future

        return ready()

    def __getattr__(self, name):
        return getattr(self.wrapped, name)


def _dask_backend_class():
    from joblib._dask import DaskDistributedBackend  # joblib's own; registered as "dask"

    return DaskDistributedBackend


class RecomputableDaskBackend(_dask_backend_class()):
    """joblib's dask backend, with every argument it would scatter held by a task instead.

    A drop-in for ``joblib.parallel_backend("dask")``: same parameters, same client (the
    default one unless ``client`` is given). The one difference: arguments joblib scatters
    (those over 1 kB, such as ``X`` and ``y`` of a grid search) are sent as tasks that hold
    them, so the loss of a worker loses none of them: the scheduler computes them again and
    reruns, on the other workers, the tasks that worker was running.

    Parameters
    ----------
    *args, **kwargs
        As joblib's ``DaskDistributedBackend`` (``scheduler_host``, ``scatter``, ``client``,
        ``loop``, ``wait_for_workers_timeout`` and ``client.submit``'s keyword arguments).

    Examples
    --------
    >>> import joblib
    >>> from prunefuse_sk.dask_backend import RecomputableDaskBackend
    >>> with joblib.parallel_config(backend=RecomputableDaskBackend()):  # doctest: +SKIP
    ...     search.fit(X, y)
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.client = RecomputableScatter(self.client)

    def get_nested_backend(self):
        """A backend for joblib calls made inside a task: recomputable too.

        Returns
        -------
        backend : RecomputableDaskBackend
        n_jobs : int
            -1: every thread of the cluster.
        """
        return RecomputableDaskBackend(client=self.client.wrapped), -1

    def __reduce__(self):
        return (RecomputableDaskBackend, ())


joblib.register_parallel_backend("dask-recomputable", RecomputableDaskBackend)
