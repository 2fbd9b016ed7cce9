"""Snapshots, copies and pickles of skorch nets.

A fitted net as plain data (trained weights, optimizer state, training history, inferred
classes) and back into an initialized net of the same architecture; weights loaded with
an error that names the network that did not fit; deep copies and pickles of a net that
keep ``device=None`` (what :class:`~skorch.hf.AccelerateMixin` requires, and what skorch's
``__setstate__`` would replace by ``"cpu"``). It relies on skorch's pickling conventions
(``__getstate__``/``__setstate__``, ``cuda_dependent_attributes_``) and on
``AccelerateMixin._unwrap_accelerator``; a skorch release that changes them is met here.
"""

import copy

import numpy as np
from skorch.history import History

from .accelerate_support import is_accelerated, net_device, trained_module
from .exceptions import CheckpointMismatchError
from .persistence import json_value

__all__ = [
    "net_reduce",
    "net_from_state",
    "picklable",
    "copy_net",
    "module_state",
    "load_weights",
    "net_state",
    "restore_net_state",
]


# ------------------------------------------------------------- copies and pickles
def net_reduce(net, make_class=None, class_args=()):
    """A ``__reduce__`` value for a skorch net that unpickles with its ``device`` unchanged.

    skorch's ``__setstate__`` replaces ``device=None`` (what
    :class:`~skorch.hf.AccelerateMixin` requires) by ``"cpu"`` with a ``DeviceWarning``,
    and moves the tensors to the CPU. This pickles the state with the device the module
    is on (:func:`~prunefuse_sk.accelerate_support.net_device`) for the tensors to return
    to, and sets ``device`` back after loading (:func:`net_from_state`).

    Parameters
    ----------
    net : skorch.NeuralNet
    make_class : type or callable, default=None
        The net's class (``type(net)`` when None), or a picklable function that returns
        it from ``class_args`` (for classes built at run time).
    class_args : tuple, default=()

    Returns
    -------
    reduce_value : tuple
        ``(net_from_state, args)``.
    """
    state = net.__getstate__()
    device = state.get("device")
    if device is None:
        state["device"] = str(net_device(net))
    return net_from_state, (make_class or type(net), state, device, *class_args)


def net_from_state(make_class, state, device, *class_args):
    """Rebuild a net pickled through :func:`net_reduce`.

    Parameters
    ----------
    make_class : type or callable
        The net's class, or a function returning it from ``class_args``.
    state : dict
        ``net.__getstate__()``, with a concrete ``device`` to map the tensors to.
    device : str, torch.device or None
        The net's ``device`` parameter, set after loading.
    *class_args
        Passed to ``make_class`` when given.

    Returns
    -------
    net : skorch.NeuralNet
    """
    cls = make_class(*class_args) if class_args else make_class
    net = cls.__new__(cls)
    net.__setstate__(state)
    net.device = device
    return net


class _PicklesWithDevice:
    """Stands in for a net in a pickle, so that it unpickles with its ``device`` unchanged."""

    def __init__(self, net):
        self.net = net

    def __reduce__(self):
        return net_reduce(self.net)


def picklable(net):
    """``net``, or a stand-in that pickles (and deep-copies) to a net with the same ``device``.

    Only a net with ``device=None`` whose class keeps skorch's pickling needs the stand-in;
    unpickling it gives the net itself (see :func:`net_reduce`).

    Parameters
    ----------
    net : object
        Typically a skorch net; anything else is returned unchanged.

    Returns
    -------
    obj : object
    """
    if getattr(net, "device", "") is not None:
        return net
    if type(net).__reduce_ex__ is not object.__reduce_ex__:
        return net
    if not callable(getattr(net, "__getstate__", None)):
        return net
    if not hasattr(net, "cuda_dependent_attributes_"):
        return net
    return _PicklesWithDevice(net)


def copy_net(net):
    """``copy.deepcopy(net)``, keeping ``device=None`` and the tensors on their device.

    Parameters
    ----------
    net : skorch.NeuralNet

    Returns
    -------
    copy : skorch.NeuralNet
        An independent net (the ``Accelerator`` of a net with AccelerateMixin is shared,
        as accelerate's own ``deepcopy`` does).
    """
    return copy.deepcopy(picklable(net))


# ------------------------------------------------------------------ snapshots
def module_state(module):
    """A module's state dict on the CPU, detached.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    state_dict : dict of str to torch.Tensor
        Copies on the CPU, sharing nothing with ``module`` when it is elsewhere.
    """
    return {key: value.detach().cpu() for key, value in module.state_dict().items()}


def load_weights(module, weights, what, source="the saved state"):
    """``module.load_state_dict(weights)``, with an error that names the network and what to do.

    Parameters
    ----------
    module : torch.nn.Module
        Loaded in place.
    weights : dict of str to torch.Tensor
        A state dict.
    what : str
        The network, in the error's words (e.g. ``"trained proxy"``).
    source : str, default="the saved state"
        Where the weights come from, in the error's words.

    Returns
    -------
    module : torch.nn.Module

    Raises
    ------
    CheckpointMismatchError
        If the weights belong to another architecture.
    """
    try:
        module.load_state_dict(weights)
    except RuntimeError as exc:
        raise CheckpointMismatchError(
            f"The {what} saved in {source} does not fit the network built from the given "
            f"estimator: {exc}. Pass the same unfitted estimator (same module and module__ "
            "parameters) that the saved learner used."
        ) from exc
    return module


def _history_data(history):
    """A skorch history as JSON data, or None when a callback stored something JSON lacks."""
    try:
        return json_value(history.to_list())
    except (TypeError, ValueError):
        return None


def net_state(net, prefix, *, init=False):
    """A fitted net as plain data: ``{prefix: weights, prefix_optimizer: ..., ...}``.

    Parameters
    ----------
    net : skorch.NeuralNet
        Fitted.
    prefix : str
        Key of the trained weights; the other entries add a suffix (``_history``,
        ``_init``, ``_optimizer``, ``_classes_inferred``).
    init : bool, default=False
        Also store ``net.module`` (a module instance that differs from ``module_``) as
        ``prefix_init``.

    Returns
    -------
    state : dict
        Tensors (state dicts), JSON data (history) and arrays (``classes_inferred_``).
    """
    state = {
        prefix: module_state(trained_module(net)),
        f"{prefix}_history": _history_data(net.history),
    }
    if init:
        state[f"{prefix}_init"] = module_state(net.module)
    if getattr(net, "optimizer_", None) is not None:
        state[f"{prefix}_optimizer"] = net.optimizer_.state_dict()
    if hasattr(net, "classes_inferred_"):
        state[f"{prefix}_classes_inferred"] = np.asarray(net.classes_inferred_)
    return state


def restore_net_state(net, state, prefix, load):
    """Put what :func:`net_state` stored back into an initialized net of the same architecture.

    Parameters
    ----------
    net : skorch.NeuralNet
        Initialized.
    state : dict
    prefix : str
    load : callable
        ``load(module, state_dict, what)``, e.g. :func:`load_weights` bound to a source.

    Returns
    -------
    net : skorch.NeuralNet
    """
    load(trained_module(net), state[prefix], f"trained {prefix}")
    if state.get(f"{prefix}_optimizer") is not None:
        net.optimizer_.load_state_dict(state[f"{prefix}_optimizer"])
    if state.get(f"{prefix}_classes_inferred") is not None:
        net.classes_inferred_ = state[f"{prefix}_classes_inferred"]
    net.history = History(state.get(f"{prefix}_history") or [])
    if is_accelerated(net) and net.unwrap_after_train:
        net._unwrap_accelerator()  # as after training: skorch unwraps then
    return net
