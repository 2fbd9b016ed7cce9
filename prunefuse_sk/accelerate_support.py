"""Nets with skorch's :class:`skorch.hf.AccelerateMixin` (Hugging Face Accelerate).

Such a net's ``device`` is None (the accelerator places the module and the batches), its
``module_`` may be wrapped (``DistributedDataParallel``) while it trains, and it shares one
``Accelerator`` with every clone. This module answers for those nets: the device a net
runs on, its module without the accelerator's wrappers, initializing without
``accelerator.prepare``, preparing again for warm training, forgetting what a short-lived
net registered with the accelerator, clones while prepared, and the seed that every
process of a multi-process run must share. It relies on skorch's private attributes of
``AccelerateMixin`` (``_wrapped_with_accelerator``, ``_modules``, ``_criteria``); a skorch
release that changes them is met here.
"""

import contextlib

import torch
from skorch.hf import AccelerateMixin

from .exceptions import InvalidParameterError

__all__ = [
    "is_accelerated",
    "net_device",
    "trained_module",
    "ClonesWhilePrepared",
    "check_seed_for_processes",
    "initialize_unprepared",
    "prepare_again",
    "accelerator_registrations_dropped",
]

# Accelerator's lists of what it prepared (accelerate keeps every object it ever prepared there)
_ACCELERATOR_REGISTRIES = ("_models", "_optimizers", "_schedulers", "_dataloaders")


def is_accelerated(net):
    """Whether ``net`` uses skorch's :class:`~skorch.hf.AccelerateMixin` (Hugging Face Accelerate).

    Parameters
    ----------
    net : object
        Typically a skorch net.

    Returns
    -------
    accelerated : bool

    Examples
    --------
    >>> from skorch import NeuralNetClassifier
    >>> from prunefuse_sk.networks import MLP
    >>> is_accelerated(NeuralNetClassifier(MLP))
    False
    """
    return isinstance(net, AccelerateMixin)


def net_device(net):
    """The device a net's module runs on, also when ``net.device`` is None.

    skorch leaves tensors where they are when ``device=None`` (the setting
    :class:`~skorch.hf.AccelerateMixin` asks for: the accelerator places the module and
    the batches). Inputs handed to ``net.infer`` directly must then go where the module is.

    Parameters
    ----------
    net : skorch.NeuralNet

    Returns
    -------
    device : torch.device
        ``net.device`` when set; else the device of the initialized module's first
        parameter; else the accelerator's device (where training will place the module);
        else the CPU.

    Examples
    --------
    >>> from skorch import NeuralNetClassifier
    >>> from prunefuse_sk.networks import MLP
    >>> net_device(NeuralNetClassifier(MLP, device=None))
    device(type='cpu')
    """
    if net.device is not None:
        return torch.device(net.device)
    module = getattr(net, "module_", None)
    if isinstance(module, torch.nn.Module):
        for tensor in module.parameters():
            return tensor.device
    accelerator = getattr(net, "accelerator", None)
    if accelerator is not None and getattr(accelerator, "device", None) is not None:
        return torch.device(accelerator.device)
    return torch.device("cpu")


def trained_module(net, *, keep_precision_wrapper=True):
    """``net.module_`` without the wrappers its accelerator added (``DistributedDataParallel``).

    skorch's :class:`~skorch.hf.AccelerateMixin` unwraps the module after training
    (``unwrap_after_train=True``, its default); with ``unwrap_after_train=False``, or
    between ``initialize()`` and the end of training, ``module_`` is whatever
    ``accelerator.prepare`` returned, whose state dict keys carry a ``module.`` prefix.

    Parameters
    ----------
    net : skorch.NeuralNet
        Initialized.
    keep_precision_wrapper : bool, default=True
        ``False`` also takes the mixed precision (autocast) wrapper off the module's
        ``forward``, in place: only for a net that is not trained further.

    Returns
    -------
    module : torch.nn.Module
        The module whose parameters the net trains (shared, not a copy).
    """
    module = net.module_
    if is_accelerated(net):
        module = net.accelerator.unwrap_model(module, keep_fp32_wrapper=keep_precision_wrapper)
    return module


class ClonesWhilePrepared:
    """Mixin for a skorch net class: ``clone()`` works from ``initialize()`` to the end of training.

    skorch lists every attribute not ending in ``"_"`` as a parameter, so ``get_params``
    includes AccelerateMixin's ``_wrapped_with_accelerator``: state, True once the
    accelerator has prepared the net. ``clone()`` passes it to the constructor, which
    resets it to False, and scikit-learn then refuses the clone. This leaves it out.
    """

    def _get_param_names(self):
        return [name for name in super()._get_param_names() if name != "_wrapped_with_accelerator"]


def check_seed_for_processes(net, random_state):
    """Refuse ``random_state=None`` when ``net`` trains in several processes.

    Under ``accelerate launch``, every process runs the whole learner: each must draw the
    same initialization, pruning, training shuffles and queries, or the processes label
    different samples and fuse different networks without any error.

    Parameters
    ----------
    net : skorch.NeuralNet or None
        The estimator.
    random_state : int, RandomState instance or None
        The learner's ``random_state``.

    Raises
    ------
    InvalidParameterError
        If ``net`` has an accelerator with more than one process and ``random_state`` is None.
    """
    if random_state is not None or not is_accelerated(net):
        return
    n_processes = getattr(net.accelerator, "num_processes", 1)
    if n_processes > 1:
        raise InvalidParameterError(
            f"random_state=None with an Accelerator running {n_processes} processes: each "
            "process would draw its own initialization, pruning and queries, and they would label "
            "different samples. Pass an int random_state, the same in every process."
        )


def initialize_unprepared(net):
    """``net.initialize()``, minus ``accelerator.prepare`` for a net with AccelerateMixin.

    Parameters
    ----------
    net : skorch.NeuralNet
        Initialized in place.

    Returns
    -------
    net : skorch.NeuralNet
        Its module, criterion and optimizer as built, never wrapped by the accelerator nor
        registered with it.
    """
    if not is_accelerated(net):
        return net.initialize()
    # skorch's AccelerateMixin skips preparing when it believes it already did
    net._wrapped_with_accelerator = True
    try:
        net.initialize()
    finally:
        net._wrapped_with_accelerator = False
    return net


def prepare_again(net):
    """Let the accelerator wrap again the modules and criteria skorch unwrapped after training.

    The inverse of skorch's ``AccelerateMixin._unwrap_accelerator``: the optimizer (still
    the accelerator's ``AcceleratedOptimizer``) holds the same parameters and is left alone.

    Parameters
    ----------
    net : skorch.NeuralNet
        An initialized net with :class:`~skorch.hf.AccelerateMixin`; changed in place, and
        left as it is when it is still wrapped.
    """
    if net._wrapped_with_accelerator:
        return
    for name in net._modules + net._criteria:
        module = getattr(net, name + "_", None)
        if isinstance(module, torch.nn.Module):
            setattr(net, name + "_", net.accelerator.prepare(module))
    net._wrapped_with_accelerator = True


@contextlib.contextmanager
def accelerator_registrations_dropped(net, drop=True):
    """Forget, at the end of the block, what ``net``'s accelerator prepared during it.

    The objects themselves keep working (the net holds them); only the accelerator's
    bookkeeping (used by ``save_state`` and ``free_memory``) no longer lists them. A no-op
    for nets without an accelerator, or when accelerate stops keeping these lists.

    Parameters
    ----------
    net : skorch.NeuralNet
    drop : bool, default=True
        False makes the block a no-op.

    Yields
    ------
    None
    """
    accelerator = getattr(net, "accelerator", None) if drop and is_accelerated(net) else None
    registries = [getattr(accelerator, name, None) for name in _ACCELERATOR_REGISTRIES]
    registries = [registry for registry in registries if isinstance(registry, list)]
    before = [{id(item) for item in registry} for registry in registries]
    try:
        yield
    finally:
        for registry, known in zip(registries, before):
            registry[:] = [item for item in registry if id(item) in known]
