"""skorch plumbing: the one module that relies on skorch's private conventions.

Everything that builds or trains a skorch net around a module *instance* lives here, so
that a skorch release that changes those conventions is met in one place. That includes
nets with skorch's :class:`skorch.hf.AccelerateMixin` (Hugging Face Accelerate): their
``device`` is None, their ``module_`` may be wrapped (``DistributedDataParallel``) while
they train, and they share one ``Accelerator`` with every clone.
"""

import contextlib
import copy
import time

import numpy as np
import torch
from sklearn.base import clone
from skorch.hf import AccelerateMixin
from skorch.history import History

from ._random import torch_seed_scope
from .exceptions import CheckpointMismatchError, InvalidParameterError
from .kernels import apply_memory_format, check_memory_format, resolve_memory_format
from .persistence import json_value
from .pruning import unwrap_module

__all__ = [
    "is_accelerated",
    "ClonesWhilePrepared",
    "check_seed_for_processes",
    "net_device",
    "trained_module",
    "copy_net",
    "picklable",
    "net_reduce",
    "net_from_state",
    "net_like",
    "proxy_net",
    "fit_seeded",
    "initialized_module",
    "module_state",
    "load_weights",
    "net_state",
    "restore_net_state",
    "predict_nonlinearity",
]


def net_like(template, module, overrides=None, net_class=None):
    """Return a new unfitted net with ``template``'s parameters around a module instance.

    ``module__*`` parameters are dropped: skorch would rebuild the module from
    them and silently discard the given instance.

    Parameters
    ----------
    template : skorch.NeuralNet
        The net whose parameters (optimizer, lr, callbacks, ...) are copied; not modified.
    module : torch.nn.Module
        The module instance the new net trains (in place, as skorch does).
    overrides : dict, default=None
        Parameters that replace the template's.
    net_class : type, default=None
        Class of the new net; ``type(template)`` when None.

    Returns
    -------
    net : skorch.NeuralNet
        Unfitted.

    Examples
    --------
    >>> import torch
    >>> from skorch import NeuralNetClassifier
    >>> from prunefuse_sk.networks import MLP
    >>> template = NeuralNetClassifier(MLP, module__n_features=4, module__n_classes=2, lr=0.1)
    >>> net = net_like(template, MLP(4, 2, hidden=(3,)), {"max_epochs": 2})
    >>> net.lr, net.max_epochs, type(net.module).__name__
    (0.1, 2, 'MLP')
    """
    params = clone(template).get_params(deep=False)
    # skorch's NeuralNet.get_params lists every attribute not ending in "_", private ones included:
    # its record of which parameters to validate (rebuilt from the new ones) and, for nets with
    # skorch.hf.AccelerateMixin, `_wrapped_with_accelerator` (a new net starts unwrapped); a private
    # attribute is state, never a constructor parameter
    params = {
        key: value
        for key, value in params.items()
        if not key.startswith("module__") and not key.startswith("_")
    }
    params["module"] = module
    params.update(overrides or {})
    return (net_class or type(template))(**params)


def proxy_net(template, init_module, proxy_params=None, *, memory_format="auto"):
    """Return an unfitted net for the proxy: the template's settings, the pruned module, the overrides.

    The overrides are validated by skorch itself (``initialize()`` checks prefixed
    parameters such as ``optimizer__momentum`` and rejects misspelled ones).

    Parameters
    ----------
    template : skorch.NeuralNetClassifier
        The full-size net's settings.
    init_module : torch.nn.Module
        The pruned module at its initialization; used as is (pass a copy).
    proxy_params : dict, default=None
        skorch parameters that differ for the proxy, e.g. ``{"max_epochs": 10}``.
    memory_format : {"auto", "channels_last", "contiguous"}, default="auto"
        How ``init_module``'s 4-D weights are stored (converted in place), by
        :func:`~prunefuse_sk.kernels.resolve_memory_format` for the device the net trains on.

    Returns
    -------
    net : skorch.NeuralNetClassifier
        Unfitted.

    Raises
    ------
    InvalidParameterError
        If ``proxy_params`` holds a parameter the net does not accept, or ``memory_format``
        is not one of the accepted values.
    """
    memory_format = check_memory_format(memory_format)
    try:
        net = net_like(template, init_module, proxy_params)
        net._validate_params()  # what initialize() runs first, without building the optimizer twice
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(
            f"proxy_params {proxy_params!r} are not valid parameters of {type(template).__name__}: {exc}"
        ) from exc
    apply_memory_format(init_module, resolve_memory_format(init_module, net_device(net), memory_format))
    return net


def fit_seeded(net, X, y, *, seed, partial=False, transient=False):
    """Train ``net`` with torch's generators seeded (shuffles, dropout) and return the seconds taken.

    Parameters
    ----------
    net : skorch.NeuralNet
        Trained in place.
    X, y : ndarray
        Training data (float32 or int64 inputs, int64 output-unit indices).
    seed : int or None
        Seed of torch's global generators for this run; the caller's streams are restored afterwards
        (those of the device the net trains on, :func:`net_device`).
    partial : bool, default=False
        ``partial_fit`` (continue training) instead of ``fit``. A net with
        :class:`~skorch.hf.AccelerateMixin` that was unwrapped after its last training
        (``unwrap_after_train=True``) is prepared by its accelerator again first: skorch's
        ``partial_fit`` would otherwise train the bare module, without gradient
        synchronization between processes.
    transient : bool, default=False
        The net is internal and short-lived (a proxy that the next round replaces): what its
        training registered with its ``Accelerator`` (module, criterion, optimizer, data loaders)
        is forgotten there afterwards, so a long run does not keep every past proxy alive.

    Returns
    -------
    seconds : float
        Wall-clock time of the training run.
    """
    start = time.perf_counter()
    with torch_seed_scope(seed, net_device(net)), _accelerator_registrations_dropped(net, transient):
        if partial and is_accelerated(net) and getattr(net, "initialized_", False):
            _prepare_again(net)
        if partial:
            net.partial_fit(X, y)
        else:
            net.fit(X, y)
    return time.perf_counter() - start


def predict_nonlinearity(net):
    """The function skorch applies to a net's outputs in ``predict_proba`` (softmax for logits, by default).

    Parameters
    ----------
    net : skorch.NeuralNet
        Initialized.

    Returns
    -------
    nonlinearity : callable
        Maps a batch of outputs (a tensor) to probabilities.
    """
    return net._get_predict_nonlinearity()


def initialized_module(template, seed, *, on_cpu=False):
    """The module of an initialized clone of ``template`` (its own settings untouched), seeded.

    A net with :class:`~skorch.hf.AccelerateMixin` is initialized without its accelerator
    preparing anything: the module is only read, and a prepared one would stay registered
    with the (shared) ``Accelerator`` for good.

    Parameters
    ----------
    template : skorch.NeuralNet
    seed : int or None
        Seed of torch's generators for the initialization (None: the global streams).
    on_cpu : bool, default=False
        Initialize on the CPU whatever ``template.device`` says.

    Returns
    -------
    module : torch.nn.Module
        The bare module (never a parallel or ``torch.compile`` wrapper: a net with
        ``compile=True`` gives the network it compiles), on ``template.device``, or on
        the CPU with ``on_cpu`` or when ``template.device`` is None (skorch then leaves
        it where it was built).
    """
    net = clone(template)
    if on_cpu and net.device is not None:
        net.set_params(device="cpu")
    with torch_seed_scope(seed, "cpu" if on_cpu else net_device(net)):
        _initialize_unprepared(net)
    return unwrap_module(trained_module(net))


# ------------------------------------------------------------- accelerate
def is_accelerated(net):
    """Whether ``net`` uses skorch's :class:`~skorch.hf.AccelerateMixin` (Hugging Face Accelerate).

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
    """``net.module_`` without the wrappers its accelerator added (``DistributedDataParallel``, ...).

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
    """Mixin for a skorch net class: ``clone()`` works between ``initialize()`` and the end of training.

    skorch lists every attribute not ending in ``"_"`` as a parameter, so ``get_params``
    includes AccelerateMixin's ``_wrapped_with_accelerator``: state, True once the
    accelerator has prepared the net. ``clone()`` passes it to the constructor, which
    resets it to False, and scikit-learn then refuses the clone. This leaves it out.
    """

    def _get_param_names(self):
        return [name for name in super()._get_param_names() if name != "_wrapped_with_accelerator"]


def check_seed_for_processes(net, random_state):
    """Refuse ``random_state=None`` when ``net`` trains in several processes (``accelerate launch``).

    Every process runs the whole learner: each must draw the same initialization,
    pruning, training shuffles and queries, or the processes label different samples
    and fuse different networks without any error.

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
            f"random_state=None with an Accelerator running {n_processes} processes: each process would draw its "
            "own initialization, pruning and queries, and they would label different samples. Pass an int "
            "random_state, the same in every process."
        )


def _initialize_unprepared(net):
    """``net.initialize()``, minus ``accelerator.prepare`` for a net with AccelerateMixin."""
    if not is_accelerated(net):
        return net.initialize()
    # skorch's AccelerateMixin skips preparing when it believes it already did
    net._wrapped_with_accelerator = True
    try:
        net.initialize()
    finally:
        net._wrapped_with_accelerator = False
    return net


def _prepare_again(net):
    """Let the accelerator wrap the modules and criteria again that skorch unwrapped after training.

    The inverse of skorch's ``AccelerateMixin._unwrap_accelerator``: the optimizer (still
    the accelerator's ``AcceleratedOptimizer``) holds the same parameters and is left alone.
    """
    if net._wrapped_with_accelerator:
        return
    for name in net._modules + net._criteria:
        module = getattr(net, name + "_", None)
        if isinstance(module, torch.nn.Module):
            setattr(net, name + "_", net.accelerator.prepare(module))
    net._wrapped_with_accelerator = True


# Accelerator's lists of what it prepared (accelerate keeps every object it ever prepared there)
_ACCELERATOR_REGISTRIES = ("_models", "_optimizers", "_schedulers", "_dataloaders")


@contextlib.contextmanager
def _accelerator_registrations_dropped(net, drop=True):
    """Forget, at the end of the block, what ``net``'s accelerator prepared during it.

    The objects themselves keep working (the net holds them); only the accelerator's
    bookkeeping (used by ``save_state`` and ``free_memory``) no longer lists them. A no-op
    for nets without an accelerator, or when accelerate stops keeping these lists.
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


# ------------------------------------------------------------- copies and pickles
def net_reduce(net, make_class=None, class_args=()):
    """A ``__reduce__`` value for a skorch net that unpickles with its ``device`` unchanged.

    skorch's ``__setstate__`` replaces ``device=None`` (what
    :class:`~skorch.hf.AccelerateMixin` requires) by ``"cpu"`` with a ``DeviceWarning``,
    and moves the tensors to the CPU. This pickles the state with the device the module
    is on (:func:`net_device`) for the tensors to return to, and sets ``device`` back
    after loading (:func:`net_from_state`).

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
    if getattr(net, "device", "") is not None or type(net).__reduce_ex__ is not object.__reduce_ex__:
        return net
    if not callable(getattr(net, "__getstate__", None)) or not hasattr(net, "cuda_dependent_attributes_"):
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
    """A module's state dict on the CPU, detached."""
    return {key: value.detach().cpu() for key, value in module.state_dict().items()}


def load_weights(module, weights, what, source="the saved state"):
    """``module.load_state_dict(weights)``, with an error that says which network did not fit and what to do.

    Raises
    ------
    CheckpointMismatchError
        If the weights belong to another architecture.
    """
    try:
        module.load_state_dict(weights)
    except RuntimeError as exc:
        raise CheckpointMismatchError(
            f"The {what} saved in {source} does not fit the network built from the given estimator: {exc}. "
            "Pass the same unfitted estimator (same module and module__ parameters) that the saved learner used."
        ) from exc
    return module


def _history_data(history):
    """A skorch history as JSON data, or None when a callback stored something JSON lacks."""
    try:
        return json_value(history.to_list())
    except (TypeError, ValueError):
        return None


def net_state(net, prefix, *, init=False):
    """A fitted net as plain data: ``{prefix: weights, prefix_optimizer: ..., prefix_history: ...}``.

    Parameters
    ----------
    net : skorch.NeuralNet
        Fitted.
    prefix : str
        Key of the trained weights; the other entries add a suffix.
    init : bool, default=False
        Also store ``net.module`` (a module instance that differs from ``module_``) as ``prefix_init``.

    Returns
    -------
    state : dict
        Tensors (state dicts), JSON data (history) and arrays (``classes_inferred_``).
    """
    state = {prefix: module_state(trained_module(net)), f"{prefix}_history": _history_data(net.history)}
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
