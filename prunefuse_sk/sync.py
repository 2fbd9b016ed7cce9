"""T_sync: train the fused network, then prune the trained network into the next proxy.

Every ``sync_every`` rounds the learner trades the pruned-at-init proxy for one cut from
the trained full-size network (:func:`sync_full_network`): the fused net is trained on
the labelled set and pruned again with :func:`~prunefuse_sk.pruning.prune_at_init`, so
the next proxy starts from trained weights and the next fusion writes into them.
"""

import time
from collections.abc import Mapping

import torch

from .accelerate_support import net_device, trained_module
from .pruning import prune_at_init
from .skorch_nets import fit_seeded

__all__ = ["sync_full_network"]


def sync_full_network(
    net,
    X,
    y,
    *,
    seed,
    example_inputs,
    pruning_ratio,
    importance="l2",
    ignored_layers=None,
    random_state=None,
    vocabulary=None,
):
    """Train a fused net on the labelled set, then prune the *trained* network into the next proxy.

    Parameters
    ----------
    net : FusedNeuralNetClassifier
        Unfitted, from :func:`~prunefuse_sk.fused_classifier.fused_net`; trained in place.
    X, y : ndarray
        The labelled set (``y`` as labels ``net.classes`` maps to units).
    seed : int
        Seed of the training run.
    example_inputs : torch.Tensor
        A small batch for tracing the pruning graph; moved to the device the net trained on.
    pruning_ratio, importance, ignored_layers, random_state, vocabulary
        As in :func:`~prunefuse_sk.pruning.prune_at_init`.

    Returns
    -------
    trained : torch.nn.Module
        The trained full-size network (the base the next fusion writes into).
    pruned : PrunedNetwork
        The next proxy's initialization and its kept indices.
    stats : dict
        ``seconds`` and ``epochs`` of the full network's training.
    """
    start = time.perf_counter()
    fit_seeded(net, X, y, seed=seed, transient=True)
    trained = trained_module(net, keep_precision_wrapper=False)  # the net is not trained further
    pruned = prune_at_init(
        trained,
        _to_device(example_inputs, net_device(net)),
        pruning_ratio=pruning_ratio,
        importance=importance,
        ignored_layers=ignored_layers,
        random_state=random_state,
        vocabulary=vocabulary,
    )
    return trained, pruned, {"seconds": time.perf_counter() - start, "epochs": len(net.history)}


def _to_device(inputs, device):
    """A batch (tensor, or dict/list/tuple of tensors) on ``device``."""
    if isinstance(inputs, torch.Tensor):
        return inputs.to(device)
    if isinstance(inputs, Mapping):
        return {key: _to_device(value, device) for key, value in inputs.items()}
    if isinstance(inputs, (list, tuple)):
        return type(inputs)(_to_device(value, device) for value in inputs)
    return inputs
