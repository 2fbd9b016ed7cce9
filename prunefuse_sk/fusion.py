"""Fusion: the trained proxy's weights back into the full-size network, and distillation.

PruneFuse's last step copies every trained tensor of the small network into exactly the
positions of the full-size tensor it was cut from (see :class:`~prunefuse_sk.pruning.KeptIndices`),
fills the remaining entries (``"reinit"``: a fresh draw of the full network's initializer,
``"keep"``: the initial values, ``"zero"``), and trains the fused network, optionally
distilling from the proxy.
"""

import copy
import functools
import numbers
import time
from collections.abc import Mapping

import numpy as np
import torch
from sklearn.utils import check_scalar
from skorch import NeuralNetClassifier
from torch import nn
from torch.nn import functional as F

from ._random import as_random_state, draw_seed, torch_seed_scope
from ._skorch import ClonesWhilePrepared, fit_seeded, initialized_module, net_device, net_like, net_reduce
from ._skorch import trained_module
from .kernels import apply_memory_format, check_memory_format, resolve_memory_format
from .pruning import prune_at_init, unwrap_module
from .validation import encode_labels

__all__ = [
    "FUSION_INITS",
    "build_fused_module",
    "distillation_loss",
    "outputs_to_logits",
    "DistillationTeacher",
    "FusedNeuralNetClassifier",
    "fused_class",
    "check_distillation_params",
    "fusion_seeds",
    "fused_start_module",
    "fused_net",
    "sync_full_network",
]

FUSION_INITS = ("reinit", "keep", "zero")


def build_fused_module(initial_module, proxy_module, kept_indices, *, fusion_init="reinit", fresh_module=None):
    """Write a trained proxy's tensors into a full-size network.

    Parameters
    ----------
    initial_module : torch.nn.Module
        The full-size network at the initialization the proxy was pruned from.
        Not modified.
    proxy_module : torch.nn.Module
        The trained small network (a ``DistributedDataParallel`` or compile wrapper
        around it is looked through).
    kept_indices : dict of str to KeptIndices
        From :func:`~prunefuse_sk.pruning.prune_at_init`.
    fusion_init : {"reinit", "keep", "zero"}, default="reinit"
        What the entries the proxy does not cover hold: ``fresh_module``'s
        values, ``initial_module``'s values, or zeros.
    fresh_module : torch.nn.Module, default=None
        A freshly initialized full-size network; required for ``"reinit"``.

    Returns
    -------
    fused : torch.nn.Module
        A new full-size module on ``initial_module``'s device.
    """
    if fusion_init not in FUSION_INITS:
        raise ValueError(f"fusion_init must be one of {FUSION_INITS}; got {fusion_init!r} instead.")
    fused = copy.deepcopy(unwrap_module(initial_module))
    proxy_module = unwrap_module(proxy_module)
    state = fused.state_dict()  # tensors share storage with `fused`
    with torch.no_grad():
        if fusion_init == "reinit":
            if fresh_module is None:
                raise ValueError("fusion_init='reinit' needs a freshly initialized `fresh_module`.")
            for name, value in unwrap_module(fresh_module).state_dict().items():
                state[name].copy_(value)
        elif fusion_init == "zero":
            for tensor in state.values():
                tensor.zero_()
        for name, value in proxy_module.state_dict().items():
            if name not in kept_indices or name not in state:
                raise KeyError(
                    f"The proxy's tensor '{name}' has no recorded position in the full network; "
                    "was the proxy pruned from a different architecture?"
                )
            kept_indices[name].scatter_(state[name], value.detach())
    return fused


def outputs_to_logits(outputs, outputs_are_probabilities):
    """Logits (up to a per-row constant) from a module's outputs.

    Modules trained with skorch's default ``NLLLoss`` return probabilities;
    their log is a valid logit vector since softmax ignores a per-row shift.

    Parameters
    ----------
    outputs : torch.Tensor of shape (n_samples, n_classes)
        Logits or probabilities.
    outputs_are_probabilities : bool
        Whether ``outputs`` are probabilities.

    Returns
    -------
    logits : torch.Tensor of shape (n_samples, n_classes)
    """
    if outputs_are_probabilities:
        return torch.log(outputs + torch.finfo(outputs.dtype).eps)
    return outputs


def distillation_loss(student_outputs, teacher_outputs, temperature=4.0, *, outputs_are_probabilities=False):
    r"""Knowledge-distillation term :math:`T^2 \, \mathrm{KL}(p^T_{teacher} \,\|\, p^T_{student})`.

    :math:`p^T = \mathrm{softmax}(z / T)`; the KL divergence is averaged over the batch.

    Parameters
    ----------
    student_outputs, teacher_outputs : torch.Tensor of shape (n_samples, n_classes)
        Logits, or probabilities when ``outputs_are_probabilities``.
    temperature : float, default=4.0
        T: softens both distributions; the T² factor keeps gradient scales comparable.
    outputs_are_probabilities : bool, default=False
        Whether the outputs are probabilities (modules trained with ``NLLLoss``) rather than logits.

    Returns
    -------
    loss : torch.Tensor (scalar)
    """
    student = outputs_to_logits(student_outputs, outputs_are_probabilities) / temperature
    teacher = outputs_to_logits(teacher_outputs, outputs_are_probabilities) / temperature
    kl = F.kl_div(F.log_softmax(student, dim=1), F.log_softmax(teacher, dim=1), reduction="batchmean", log_target=True)
    return temperature**2 * kl


class DistillationTeacher:
    """A frozen network whose outputs a student is distilled towards.

    Keeps its module on the CPU (so it pickles anywhere) and a cached copy on
    the device it is asked for.

    Parameters
    ----------
    module : torch.nn.Module
        The teacher network (the trained proxy). Used in eval mode, without gradients.
    """

    def __init__(self, module):
        self.module = copy.deepcopy(unwrap_module(module)).cpu().eval()
        self._on_device = None

    def outputs(self, X, device):
        """Teacher outputs for a batch, without gradients.

        Parameters
        ----------
        X : torch.Tensor or dict of torch.Tensor
            The batch.
        device : str or torch.device
            Where to run the teacher.

        Returns
        -------
        outputs : torch.Tensor of shape (batch_size, n_classes)
        """
        device = torch.device(device)
        if self._on_device is None or self._on_device[0] != device:
            self._on_device = (device, copy.deepcopy(self.module).to(device).eval())
        module = self._on_device[1]
        with torch.no_grad():
            if isinstance(X, Mapping):
                return module(**{k: v.to(device) for k, v in X.items()})
            return module(X.to(device))

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_on_device"] = None
        return state

    def __deepcopy__(self, memo):
        new = DistillationTeacher.__new__(DistillationTeacher)
        new.module = copy.deepcopy(self.module, memo)
        new._on_device = None
        return new


class FusedNeuralNetClassifier(ClonesWhilePrepared, NeuralNetClassifier):
    """A skorch ``NeuralNetClassifier`` that starts from fused weights, with optional distillation.

    Exactly a ``NeuralNetClassifier`` except for three things:

    * With ``classes`` set (``fuse`` sets it to the learner's ``classes_``),
      ``fit`` maps labels to output units and ``predict`` maps back, so
      non-integer labels work in ``cross_val_score`` and ``GridSearchCV``.
    * When ``module`` is a module *instance*, training works on a copy of it, so
      ``module`` keeps the fused, untrained weights and ``module_`` the trained
      ones. ``clone(net)`` (GridSearchCV, cross-validation) therefore restarts
      from the fused weights, not from whatever the last fit produced.
    * With a ``teacher`` and ``distillation_weight`` α > 0, the loss is
      ``(1 - α) * criterion + α * T² * KL(teacher_T || student_T)``.

    The fused network of a learner whose estimator is a *subclass* of
    ``NeuralNetClassifier`` (e.g. one with skorch's ``AccelerateMixin``) is an instance of
    :func:`fused_class` of that subclass: both this class and the user's.

    Parameters
    ----------
    module : torch.nn.Module instance or class
        The fused full-size network (or any module, as in skorch).
    *args
        Passed to ``NeuralNetClassifier``.
    teacher : DistillationTeacher, default=None
        The network to distil from; ``None`` disables distillation.
    distillation_weight : float, default=0.0
        The weight α in [0, 1].
    temperature : float, default=4.0
        T > 0.
    random_state : int, RandomState instance or None, default=None
        Seeds torch's generators during ``fit`` (data shuffling, dropout), so
        every fit of a clone -- e.g. each GridSearchCV candidate, whatever the
        joblib backend -- is reproducible. ``None`` leaves them alone.
    **kwargs
        Passed to ``NeuralNetClassifier`` (``lr``, ``max_epochs``, ``device``, ...).
    """

    def __init__(self, module, *args, teacher=None, distillation_weight=0.0, temperature=4.0, random_state=None,
                 **kwargs):
        super().__init__(module, *args, **kwargs)
        self.teacher = teacher
        self.distillation_weight = distillation_weight
        self.temperature = temperature
        self.random_state = random_state

    def fit(self, X, y=None, **fit_params):
        """Train from the fused weights (see skorch's ``fit``), seeded by ``random_state``.

        Parameters
        ----------
        X : input data
            As for skorch's ``fit``.
        y : array-like of shape (n_samples,), default=None
            Labels.
        **fit_params
            Passed to skorch.

        Returns
        -------
        self : FusedNeuralNetClassifier
        """
        seed = None if self.random_state is None else draw_seed(as_random_state(self.random_state))
        with torch_seed_scope(seed, net_device(self)):
            return super().fit(X, y, **fit_params)

    def infer(self, x, **fit_params):
        """Run the module on a batch, cast to the module's floating dtype first.

        scikit-learn transformers (``StandardScaler``) return float64; the
        network's weights are float32. The learner casts its inputs; so does
        the classifier it returns, so that it works after any transformer.

        Parameters
        ----------
        x : torch.Tensor, ndarray or dict
            The batch.
        **fit_params
            Passed to the module's ``forward``.

        Returns
        -------
        outputs : torch.Tensor
            The module's outputs.
        """
        dtype = next((p.dtype for p in self.module_.parameters() if p.is_floating_point()), None)

        def cast(value):
            if dtype is not None and isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.dtype != dtype:
                return value.astype(torch.empty((), dtype=dtype).numpy().dtype)
            if dtype is not None and isinstance(value, torch.Tensor) and value.is_floating_point() and value.dtype != dtype:
                return value.to(dtype)
            return value

        if isinstance(x, Mapping):
            x = {key: cast(value) for key, value in x.items()}
        else:
            x = cast(x)
        return super().infer(x, **fit_params)

    def _encode_targets(self, y):
        if y is None or self.classes is None or isinstance(y, torch.utils.data.Dataset):
            return y
        labels = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
        return encode_labels(labels, np.asarray(self.classes))

    def fit_loop(self, X, y=None, epochs=None, **kwargs):
        """Run skorch's fit loop, with labels mapped to output units through ``classes`` when set.

        Parameters
        ----------
        X : input data
            As for skorch's ``fit_loop``.
        y : array-like of shape (n_samples,), default=None
            Labels; with ``classes`` set, each must be one of them.
        epochs : int, default=None
            Number of epochs; ``max_epochs`` when None.
        **kwargs
            Passed to skorch.

        Returns
        -------
        self : FusedNeuralNetClassifier
        """
        return super().fit_loop(X, self._encode_targets(y), epochs=epochs, **kwargs)

    def predict(self, X):
        """Predicted labels: ``classes[argmax(proba)]`` when ``classes`` is set, else the unit index.

        Parameters
        ----------
        X : input data
            As for skorch's ``predict_proba``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        units = self.predict_proba(X).argmax(axis=1)
        if self.classes is None:
            return units
        return np.asarray(self.classes)[units]

    def initialize_module(self):
        """Initialize ``module_`` from a copy of ``module`` when it is an instance.

        Returns
        -------
        self : FusedNeuralNetClassifier
        """
        kwargs = self.get_params_for("module")
        if isinstance(self.module, nn.Module) and not kwargs:
            # training must not touch the starting point that clones share
            self.module_ = copy.deepcopy(self.module)
            return self
        return super().initialize_module()

    def initialize(self):
        """Check the distillation parameters, then initialize as skorch does.

        Returns
        -------
        self : FusedNeuralNetClassifier
        """
        check_distillation_params(self.distillation_weight, self.temperature)
        return super().initialize()

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Criterion loss, mixed with the distillation term when a teacher is set.

        Parameters
        ----------
        y_pred : torch.Tensor of shape (batch_size, n_classes)
            The module's outputs on the batch.
        y_true : torch.Tensor of shape (batch_size,)
            Output-unit indices.
        X : torch.Tensor or dict, default=None
            The batch; the teacher runs on it. Without it no distillation.
        training : bool, default=False
            Whether the loss is for a training step (passed to skorch).

        Returns
        -------
        loss : torch.Tensor (scalar)
        """
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if self.teacher is None or not self.distillation_weight or X is None:
            return loss
        alpha = float(self.distillation_weight)
        teacher_outputs = self.teacher.outputs(X, y_pred.device)
        kd = distillation_loss(
            y_pred,
            teacher_outputs,
            float(self.temperature),
            outputs_are_probabilities=isinstance(self.criterion_, nn.NLLLoss),
        )
        return (1.0 - alpha) * loss + alpha * kd

    def __reduce_ex__(self, protocol):
        # a class built by fused_class() is pickled as "fused_class(<the user's class>)", and a
        # net with device=None (AccelerateMixin) keeps it (skorch's __setstate__ would set "cpu")
        return net_reduce(self, fused_class, (_user_net_class(type(self)),))


def _user_net_class(cls):
    """The class :func:`fused_class` was called with to build ``cls`` (``cls`` itself if none)."""
    return cls.__dict__.get("_prunefuse_net_class", cls)


@functools.lru_cache(maxsize=None)
def fused_class(net_class):
    """The class of the fused network for a template net of class ``net_class``.

    The fused network keeps the user's net class, so that what a subclass adds (skorch's
    ``AccelerateMixin`` for multi-GPU training with Hugging Face Accelerate, a custom
    ``get_loss`` or ``train_step``) also applies to it.

    Parameters
    ----------
    net_class : type
        A subclass of ``skorch.NeuralNetClassifier``.

    Returns
    -------
    cls : type
        :class:`FusedNeuralNetClassifier` for ``NeuralNetClassifier`` itself; ``net_class``
        when it already derives from :class:`FusedNeuralNetClassifier`; otherwise a class
        named ``Fused<name>`` deriving from both (the same class on every call), whose
        instances pickle and clone like any skorch net.

    Examples
    --------
    >>> from skorch import NeuralNetClassifier
    >>> class MyNet(NeuralNetClassifier):
    ...     pass
    >>> cls = fused_class(MyNet)
    >>> cls.__name__, issubclass(cls, MyNet), issubclass(cls, FusedNeuralNetClassifier)
    ('FusedMyNet', True, True)
    >>> fused_class(NeuralNetClassifier) is FusedNeuralNetClassifier
    True
    """
    if issubclass(net_class, FusedNeuralNetClassifier):
        return net_class
    if net_class is NeuralNetClassifier or not issubclass(net_class, NeuralNetClassifier):
        return FusedNeuralNetClassifier
    name = f"Fused{net_class.__name__}"
    namespace = {
        "__module__": __name__,
        "__qualname__": name,
        "__doc__": (
            f"The fused network of a {net_class.__name__} template: a {net_class.__name__} that starts from "
            "the fused weights (see FusedNeuralNetClassifier)."
        ),
        "_prunefuse_net_class": net_class,
    }
    return type(name, (FusedNeuralNetClassifier, net_class), namespace)


def check_distillation_params(distillation_weight, temperature):
    """Check α in [0, 1] and a finite T > 0 (the learner's rules; run once per fit, not per batch).

    Parameters
    ----------
    distillation_weight : float
    temperature : float

    Raises
    ------
    ValueError, TypeError
        From :func:`sklearn.utils.check_scalar`, naming the parameter.

    Examples
    --------
    >>> check_distillation_params(0.5, 4.0)
    >>> check_distillation_params(0.5, float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: temperature == nan, must be > 0.0.
    """
    check_scalar(distillation_weight, "distillation_weight", numbers.Real, min_val=0.0, max_val=1.0)
    check_scalar(temperature, "temperature", numbers.Real, min_val=0.0, include_boundaries="neither")
    if not np.isfinite(temperature):
        raise ValueError(f"temperature == {temperature}, must be > 0.0.")


# ------------------------------------------------------------------ assembly
def fusion_seeds(fuse_seed, seeded=True):
    """The seeds of a fusion: the fresh init, the training run and the fused net's own ``random_state``.

    All three come from one fixed stream, so fusing twice gives the same network.

    Parameters
    ----------
    fuse_seed : int
        The learner's fusion seed, drawn once at ``fit``.
    seeded : bool, default=True
        ``False`` leaves the fused net's ``random_state`` at None (the learner had none).

    Returns
    -------
    fresh_seed, train_seed : int
    net_seed : int or None
    """
    rng = as_random_state(fuse_seed)
    fresh_seed = draw_seed(rng)
    train_seed = draw_seed(as_random_state(draw_seed(rng)))
    net_seed = draw_seed(rng) if seeded else None
    return fresh_seed, train_seed, net_seed


def fused_start_module(template, full_init_module, proxy_module, kept_indices, *, fusion_init="reinit", seed=None,
                       memory_format="auto"):
    """The fused full-size module before training: the proxy's tensors in place, the rest per ``fusion_init``.

    Parameters
    ----------
    template : skorch.NeuralNetClassifier
        The full-size net's settings; for ``"reinit"`` a fresh copy is initialized on the CPU with ``seed``
        (never prepared by an accelerator).
    full_init_module, proxy_module, kept_indices, fusion_init
        As in :func:`build_fused_module`.
    seed : int, default=None
        Seed of the fresh initialization.
    memory_format : {"auto", "channels_last", "contiguous"}, default="auto"
        How the fused module's 4-D weights are stored, by
        :func:`~prunefuse_sk.kernels.resolve_memory_format` for ``template``'s device. The
        values are the same in any format.

    Returns
    -------
    module : torch.nn.Module

    Raises
    ------
    InvalidParameterError
        If ``memory_format`` is not one of the accepted values.
    """
    memory_format = check_memory_format(memory_format)
    fresh = None
    if fusion_init == "reinit":
        fresh = initialized_module(template, seed, on_cpu=True)
    fused = build_fused_module(full_init_module, proxy_module, kept_indices, fusion_init=fusion_init,
                               fresh_module=fresh)
    return apply_memory_format(fused, resolve_memory_format(fused, net_device(template), memory_format))


def fused_net(template, module, *, classes, teacher_module=None, distillation_weight=0.0, temperature=4.0,
              random_state=None, memory_format="auto"):
    """An unfitted :class:`FusedNeuralNetClassifier` with ``template``'s settings, starting from ``module``.

    Parameters
    ----------
    template : skorch.NeuralNetClassifier
        The full-size net's settings (optimizer, epochs, callbacks, device, ...).
    module : torch.nn.Module
        The fused module, e.g. from :func:`fused_start_module`; its 4-D weights are stored
        in ``memory_format`` (in place).
    classes : array-like of shape (n_outputs,)
        The label of every output unit.
    teacher_module : torch.nn.Module, default=None
        The trained proxy to distil from (used only with ``distillation_weight > 0``).
    distillation_weight, temperature, random_state
        As in :class:`FusedNeuralNetClassifier`.
    memory_format : {"auto", "channels_last", "contiguous"}, default="auto"
        As in :func:`fused_start_module`, for the device the net trains on.

    Returns
    -------
    net : FusedNeuralNetClassifier
        Of class :func:`fused_class` of ``type(template)``: also an instance of the template's class.

    Raises
    ------
    InvalidParameterError
        If ``memory_format`` is not one of the accepted values.
    """
    memory_format = check_memory_format(memory_format)
    teacher = DistillationTeacher(teacher_module) if teacher_module is not None and distillation_weight > 0 else None
    overrides = {
        "teacher": teacher,
        "distillation_weight": distillation_weight,
        "temperature": temperature,
        "classes": list(classes),
        "random_state": random_state,
    }
    net = net_like(template, module, overrides, net_class=fused_class(type(template)))
    apply_memory_format(module, resolve_memory_format(module, net_device(net), memory_format))
    return net


def sync_full_network(net, X, y, *, seed, example_inputs, pruning_ratio, importance="l2", ignored_layers=None,
                      random_state=None):
    """T_sync: train a fused net on the labelled set, then prune the *trained* network into the next proxy.

    Parameters
    ----------
    net : FusedNeuralNetClassifier
        Unfitted, from :func:`fused_net`; trained in place.
    X, y : ndarray
        The labelled set (``y`` as labels ``net.classes`` maps to units).
    seed : int
        Seed of the training run.
    example_inputs : torch.Tensor
        A small batch for tracing the pruning graph; moved to the device the net trained on.
    pruning_ratio, importance, ignored_layers, random_state
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
