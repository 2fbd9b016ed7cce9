"""skorch nets around a module instance: built like a template, seeded, trained.

skorch builds a net's module from a class and ``module__*`` parameters; the learner hands
it module *instances* instead (a pruned proxy, a fused network) and needs every fit seeded.
This module builds such nets from a template's settings (:func:`net_like`,
:func:`proxy_net`), initializes a template's module under a seed
(:func:`initialized_module`), trains with torch's generators seeded (:func:`fit_seeded`)
and reads the output nonlinearity (:func:`predict_nonlinearity`). It relies on skorch's
private conventions (``get_params`` listing private attributes, ``_validate_params``,
``_get_predict_nonlinearity``); a skorch release that changes them is met here. Nets with
:class:`skorch.hf.AccelerateMixin` are handled through :mod:`prunefuse_sk.accelerate_support`.
"""

import time

from sklearn.base import clone

from ._random import torch_seed_scope
from .accelerate_support import (
    accelerator_registrations_dropped,
    initialize_unprepared,
    is_accelerated,
    net_device,
    prepare_again,
    trained_module,
)
from .architecture import unwrap_module
from .exceptions import InvalidParameterError
from .memory_format import apply_memory_format, check_memory_format, resolve_memory_format

__all__ = [
    "net_like",
    "proxy_net",
    "fit_seeded",
    "predict_nonlinearity",
    "initialized_module",
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
    """An unfitted net for the proxy: the template's settings, the pruned module, the overrides.

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
        :func:`~prunefuse_sk.memory_format.resolve_memory_format` for the device the net trains on.

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
            f"proxy_params {proxy_params!r} are not valid parameters of "
            f"{type(template).__name__}: {exc}"
        ) from exc
    chosen = resolve_memory_format(init_module, net_device(net), memory_format)
    apply_memory_format(init_module, chosen)
    return net


def fit_seeded(net, X, y, *, seed, partial=False, epochs=None, transient=False):
    """Train ``net`` with torch's generators seeded (shuffles, dropout); return the seconds taken.

    Parameters
    ----------
    net : skorch.NeuralNet
        Trained in place.
    X, y : ndarray
        Training data (float32 or int64 inputs, int64 output-unit indices).
    seed : int or None
        Seed of torch's global generators for this run; the caller's streams are restored afterwards
        (those of the device the net trains on,
        :func:`~prunefuse_sk.accelerate_support.net_device`).
    partial : bool, default=False
        ``partial_fit`` (continue training) instead of ``fit``. A net with
        :class:`~skorch.hf.AccelerateMixin` that was unwrapped after its last training
        (``unwrap_after_train=True``) is prepared by its accelerator again first: skorch's
        ``partial_fit`` would otherwise train the bare module, without gradient
        synchronization between processes.
    epochs : int, default=None
        Epochs of a ``partial_fit`` (None: the net's ``max_epochs``).
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
    seeded = torch_seed_scope(seed, net_device(net))
    with seeded, accelerator_registrations_dropped(net, transient):
        if partial and is_accelerated(net) and getattr(net, "initialized_", False):
            prepare_again(net)
        if partial:
            net.partial_fit(X, y, **({} if epochs is None else {"epochs": epochs}))
        else:
            net.fit(X, y)
    return time.perf_counter() - start


def predict_nonlinearity(net):
    """The function skorch applies to a net's outputs in ``predict_proba`` (softmax for logits).

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
        initialize_unprepared(net)
    return unwrap_module(trained_module(net))
