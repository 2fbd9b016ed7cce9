"""The proxy's retraining policy: what the next training run is, and running it without losing
anything.

Each ``teach`` (or ``refit``) *schedules* one retraining: its seed, whether it continues on the
new rows only, whether a T_sync step comes first. Running it trains a new net (``"reinit"``) or
a copy of the proxy in use (``"warm"``, ``only_new``), never the proxy itself, so a failure (an
exception in a callback, CUDA out of memory, ``KeyboardInterrupt``) leaves the proxy in place
and the same scheduled run can be retried with the same seed.

:class:`ProxyRetraining` is that state in one object: the proxy in use, how many labels it has
seen, the run scheduled and not yet done, and the history of runs; the learner keeps one and
saves it with :meth:`ProxyRetraining.as_state`.
"""

import copy
import warnings

from ._random import draw_seed
from .exceptions import StaleProxyWarning
from .net_snapshots import copy_net, net_state, restore_net_state
from .skorch_nets import fit_seeded

__all__ = [
    "PROXY_RETRAIN",
    "ProxyRetraining",
    "schedule_retraining",
    "run_retraining",
    "warm_epoch_count",
]

PROXY_RETRAIN = ("warm", "reinit")


def schedule_retraining(rng, *, only_new=False, sync=False):
    """The next retraining, as JSON data (it is saved with the learner until it has run).

    Parameters
    ----------
    rng : numpy.random.RandomState
        Draws the training run's seed.
    only_new : bool, default=False
        Continue training on the rows added since the last run only.
    sync : bool, default=False
        A T_sync step (fuse, train, prune again) comes first.

    Returns
    -------
    pending : dict
        ``seed``, ``only_new``, ``sync``.

    Examples
    --------
    >>> import numpy as np
    >>> sorted(schedule_retraining(np.random.RandomState(0), only_new=True))
    ['only_new', 'seed', 'sync']
    """
    return {"seed": draw_seed(rng), "only_new": bool(only_new), "sync": bool(sync)}


def warm_epoch_count(max_epochs, warm_epochs=None):
    """Epochs of a warm retraining: ``warm_epochs``, or a third of ``max_epochs`` rounded up.

    Parameters
    ----------
    max_epochs : int
        The proxy's ``max_epochs`` (its first training's epochs).
    warm_epochs : int, default=None

    Returns
    -------
    epochs : int

    Examples
    --------
    >>> warm_epoch_count(15), warm_epoch_count(10), warm_epoch_count(1), warm_epoch_count(15, 2)
    (5, 4, 1, 2)
    >>> warm_epoch_count(0)  # a proxy that is never trained stays so
    0
    """
    return int(warm_epochs) if warm_epochs is not None else -(-int(max_epochs) // 3)


def run_retraining(
    pending,
    current,
    new_net,
    labelled,
    *,
    trained_until,
    proxy_retrain="warm",
    warm_epochs=None,
    init_module=None,
):
    """Run a scheduled retraining on a new net or a copy of ``current``; ``current`` is never
    touched.

    An exception (from a callback, CUDA out of memory, ``KeyboardInterrupt``) propagates with a
    note that the labels are kept and ``learner.refit()`` retries.

    Parameters
    ----------
    pending : dict
        From :func:`schedule_retraining`.
    current : skorch.NeuralNet or None
        The proxy in use (None: start from ``new_net()``).
    new_net : callable
        Returns a fresh unfitted proxy at its pruned initialization.
    labelled : LabelledSet
        All labels so far.
    trained_until : int
        How many of them ``current`` was trained on (``only_new`` continues from there).
    proxy_retrain : {"warm", "reinit"}, default="warm"
        Continue training a copy of ``current`` on all labels for ``warm_epochs`` epochs, or
        retrain from the pruned initialization for ``max_epochs``.
    warm_epochs : int, default=None
        Epochs of a warm run on all labels (:func:`warm_epoch_count`: None is a third of the
        net's ``max_epochs``). A run on the new rows only (``only_new``) trains ``max_epochs``.
    init_module : torch.nn.Module, default=None
        The pruned initialization: the trained net's ``module`` parameter gets a copy of it
        (skorch trains a module instance in place, so ``module`` would otherwise hold the trained
        weights twice in clones and pickles).

    Returns
    -------
    net : skorch.NeuralNet
        The trained proxy.
    entry : dict
        ``round``, ``n_labelled``, ``n_trained``, ``fit_seconds``, ``epochs`` (and ``sync``
        when the schedule recorded a T_sync step), for the learner's ``history_``.
    """
    warm = current is not None and (pending["only_new"] or proxy_retrain == "warm")
    start = trained_until if warm and pending["only_new"] else 0
    try:
        net = copy_net(current) if warm else new_net()
        epochs_before = len(net.history) if getattr(net, "initialized_", False) else 0
        epochs = None
        if warm and not pending["only_new"]:
            epochs = warm_epoch_count(net.max_epochs, warm_epochs)
        # transient: the accelerator of a net with skorch's AccelerateMixin forgets each proxy
        # after its training
        seconds = fit_seeded(
            net,
            labelled.X[start:],
            labelled.y_encoded[start:],
            seed=pending["seed"],
            partial=warm,
            epochs=epochs,
            transient=True,
        )
    except BaseException as exc:
        if hasattr(exc, "add_note"):
            exc.add_note(
                f"prunefuse_sk: all {len(labelled)} labels are kept, but the proxy was not "
                "retrained on them (learner.proxy_stale_ is True). Fix the cause and call "
                "learner.refit() to retry."
            )
        raise
    if init_module is not None:
        net.module = copy.deepcopy(init_module)
    entry = {
        "round": labelled.last_round,
        "n_labelled": len(labelled),
        "n_trained": len(labelled) - start,
        "fit_seconds": seconds,
        "epochs": len(net.history) - epochs_before,
    }
    if pending.get("sync_stats") is not None:
        entry["sync"] = pending["sync_stats"]
    return net, entry


class ProxyRetraining:
    """The proxy in use and its retraining: the net, the labels it has seen, the scheduled run, the
    history.

    Parameters
    ----------
    net : skorch.NeuralNet, default=None
        The trained proxy in use (None until the first run succeeds).
    n_labels : int, default=0
        How many of the labelled samples ``net`` was trained on.
    pending : dict, default=None
        The scheduled run (:func:`schedule_retraining`) until it has succeeded.
    history : list of dict, default=None
        One entry per successful run (see :func:`run_retraining`).

    Examples
    --------
    >>> import numpy as np
    >>> retraining = ProxyRetraining()
    >>> retraining.schedule(np.random.RandomState(0))
    >>> retraining.stale, sorted(retraining.pending)
    (True, ['only_new', 'seed', 'sync'])
    """

    def __init__(self, net=None, n_labels=0, pending=None, history=None):
        self.net, self.n_labels, self.pending, self.history = (
            net,
            n_labels,
            pending,
            list(history or []),
        )

    @property
    def stale(self):
        """bool: a scheduled run has not succeeded yet (the proxy has not seen every label)."""
        return self.pending is not None

    def warn_if_stale(self, action, n_labels):
        """Warn (:class:`~prunefuse_sk.exceptions.StaleProxyWarning`) that ``action`` uses a stale
        proxy.

        Parameters
        ----------
        action : str
            What the user called, e.g. ``"query"``.
        n_labels : int
            How many labels the learner holds.
        """
        if self.stale:
            warnings.warn(
                f"{action} uses a proxy trained on {self.n_labels} of the {n_labels} labels: its "
                "last retraining failed. Call learner.refit() to retrain it on all of them.",
                StaleProxyWarning,
                stacklevel=3,
            )

    def schedule(self, rng, *, only_new=False, sync=False):
        """Schedule the next run (see :func:`schedule_retraining`); it replaces one that has not
        run.

        Parameters
        ----------
        rng : numpy.random.RandomState
            Draws the run's seed.
        only_new : bool, default=False
            Continue training on the rows added since the last run only.
        sync : bool, default=False
            A T_sync step (fuse, train, prune again) comes first.
        """
        self.pending = schedule_retraining(rng, only_new=only_new, sync=sync)

    @property
    def history_entries(self):
        """tuple of dict: copies of the history's entries (the learner's ``history_``), so that
        neither appending nor editing an entry can change the record."""
        return tuple(copy.deepcopy(self.history))

    def run(self, new_net, labelled, *, proxy_retrain="warm", warm_epochs=None, init_module=None):
        """Run the scheduled retraining (:func:`run_retraining`); the new proxy is swapped in only
        on success.

        Parameters
        ----------
        new_net, labelled, proxy_retrain, warm_epochs, init_module
            As in :func:`run_retraining`. After a T_sync step (``pending["synced"]``) the run
            starts from ``new_net()``, never from the proxy of the previous pair.

        Returns
        -------
        entry : dict
            The run's history entry.
        """
        current = None if self.pending.get("synced") else self.net
        net, entry = run_retraining(
            self.pending,
            current,
            new_net,
            labelled,
            trained_until=self.n_labels,
            proxy_retrain=proxy_retrain,
            warm_epochs=warm_epochs,
            init_module=init_module,
        )
        self.net, self.n_labels, self.pending = net, len(labelled), None
        self.history.append(entry)
        return entry

    def as_state(self):
        """The retraining state as plain data (the proxy as its state dicts and history).

        Returns
        -------
        state : dict
        """
        state = {
            "proxy_n_labels": self.n_labels,
            "pending_retrain": self.pending,
            "history": self.history,
            "proxy_stale": self.stale,
            "has_proxy": self.net is not None,
        }
        return state if self.net is None else {**state, **net_state(self.net, "proxy")}

    @classmethod
    def from_state(cls, state, new_net, load, init_module):
        """Rebuild from :meth:`as_state`'s data.

        Parameters
        ----------
        state : dict
        new_net : callable
            Returns an unfitted proxy of the saved architecture.
        load : callable
            ``load(module, weights, what)``, as in
            :func:`~prunefuse_sk.net_snapshots.restore_net_state`.
        init_module : torch.nn.Module
            The pruned initialization, for the net's ``module`` parameter.

        Returns
        -------
        retraining : ProxyRetraining
        """
        net = None
        if state["has_proxy"]:
            net = restore_net_state(new_net().initialize(), state, "proxy", load)
            net.module = copy.deepcopy(
                init_module
            )  # as after training: `module` is the initialization
        return cls(net, state["proxy_n_labels"], state["pending_retrain"], state["history"])
