"""The proxy's retraining policy: what the next training run is, and running it without losing anything.

Each ``teach`` (or ``refit``) *schedules* one retraining: its seed, whether it continues on the
new rows only, whether a T_sync step comes first. Running it trains a new net (``"reinit"``) or
a copy of the proxy in use (``"warm"``, ``only_new``), never the proxy itself, so a failure (an
exception in a callback, CUDA out of memory, ``KeyboardInterrupt``) leaves the proxy in place
and the same scheduled run can be retried with the same seed.
"""

import copy

from ._random import draw_seed
from ._skorch import copy_net, fit_seeded

__all__ = ["PROXY_RETRAIN", "schedule_retraining", "run_retraining"]

PROXY_RETRAIN = ("reinit", "warm")


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


def run_retraining(pending, current, new_net, labelled, *, trained_until, proxy_retrain="reinit", init_module=None):
    """Run a scheduled retraining on a new net or a copy of ``current``; ``current`` is never touched.

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
    proxy_retrain : {"reinit", "warm"}, default="reinit"
        Retrain from the pruned initialization, or continue training a copy of ``current``.
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
        # transient: the accelerator of a net with skorch's AccelerateMixin forgets each proxy after its training
        seconds = fit_seeded(net, labelled.X[start:], labelled.y_encoded[start:], seed=pending["seed"],
                             partial=warm, transient=True)
    except BaseException as exc:
        if hasattr(exc, "add_note"):
            exc.add_note(
                f"prunefuse_sk: all {len(labelled)} labels are kept, but the proxy was not retrained on "
                f"them (learner.proxy_stale_ is True). Fix the cause and call learner.refit() to retry."
            )
        raise
    if init_module is not None:
        net.module = copy.deepcopy(init_module)
    entry = {"round": labelled.last_round, "n_labelled": len(labelled), "n_trained": len(labelled) - start,
             "fit_seconds": seconds, "epochs": len(net.history) - epochs_before}
    if pending.get("sync_stats") is not None:
        entry["sync"] = pending["sync_stats"]
    return net, entry
