"""skorch plumbing: the one module that relies on skorch's private conventions.

Everything that builds or trains a skorch net around a module *instance* lives here, so
that a skorch release that changes those conventions is met in one place.
"""

import time

import numpy as np
from sklearn.base import clone
from skorch.history import History

from ._random import torch_seed_scope
from .exceptions import CheckpointMismatchError, InvalidParameterError
from .persistence import json_value

__all__ = [
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
    # skorch keeps a private record of which parameters to validate; it is rebuilt from the new ones
    params = {
        key: value
        for key, value in params.items()
        if not key.startswith("module__") and key != "_params_to_validate"
    }
    params["module"] = module
    params.update(overrides or {})
    return (net_class or type(template))(**params)


def proxy_net(template, init_module, proxy_params=None):
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

    Returns
    -------
    net : skorch.NeuralNetClassifier
        Unfitted.

    Raises
    ------
    InvalidParameterError
        If ``proxy_params`` holds a parameter the net does not accept.
    """
    try:
        net = net_like(template, init_module, proxy_params)
        net._validate_params()  # what initialize() runs first, without building the optimizer twice
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(
            f"proxy_params {proxy_params!r} are not valid parameters of {type(template).__name__}: {exc}"
        ) from exc
    return net


def fit_seeded(net, X, y, *, seed, partial=False):
    """Train ``net`` with torch's generators seeded (shuffles, dropout) and return the seconds taken.

    Parameters
    ----------
    net : skorch.NeuralNet
        Trained in place.
    X, y : ndarray
        Training data (float32 or int64 inputs, int64 output-unit indices).
    seed : int or None
        Seed of torch's global generators for this run; the caller's streams are restored afterwards.
    partial : bool, default=False
        ``partial_fit`` (continue training) instead of ``fit``.

    Returns
    -------
    seconds : float
        Wall-clock time of the training run.
    """
    start = time.perf_counter()
    with torch_seed_scope(seed, net.device):
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


def initialized_module(template, seed):
    """The module of an initialized clone of ``template`` (its own settings untouched), seeded.

    Parameters
    ----------
    template : skorch.NeuralNet
    seed : int or None
        Seed of torch's generators for the initialization (None: the global streams).

    Returns
    -------
    module : torch.nn.Module
        On ``template.device``.
    """
    net = clone(template)
    with torch_seed_scope(seed, template.device):
        net.initialize()
    return net.module_


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
    state = {prefix: module_state(net.module_), f"{prefix}_history": _history_data(net.history)}
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
    load(net.module_, state[prefix], f"trained {prefix}")
    if state.get(f"{prefix}_optimizer") is not None:
        net.optimizer_.load_state_dict(state[f"{prefix}_optimizer"])
    if state.get(f"{prefix}_classes_inferred") is not None:
        net.classes_inferred_ = state[f"{prefix}_classes_inferred"]
    net.history = History(state.get(f"{prefix}_history") or [])
    return net
