"""The fused network as a scikit-learn classifier.

:class:`FusedNeuralNetClassifier` is a skorch ``NeuralNetClassifier`` that starts from
the fused weights, maps labels to output units, is seeded, and optionally distils from
the proxy (:mod:`prunefuse_sk.distillation`); :func:`fused_class` derives it from a
user's own net class, and :func:`fused_net` builds an unfitted one with a template's
settings around a fused module (from :func:`prunefuse_sk.fusion.fused_start_module`).
"""

import copy
import functools
from collections.abc import Mapping

import numpy as np
import torch
from skorch import NeuralNetClassifier
from torch import nn

from ._random import as_random_state, draw_seed, torch_seed_scope
from .accelerate_support import ClonesWhilePrepared, net_device
from .distillation import DistillationTeacher, check_distillation_params, distillation_loss
from .fused_stopping import stop_reason
from .labels import encode_labels
from .memory_format import apply_memory_format, check_memory_format, resolve_memory_format
from .net_snapshots import net_reduce
from .pools import dense_array, writable
from .skorch_nets import net_like

__all__ = [
    "FusedNeuralNetClassifier",
    "fused_class",
    "fused_net",
]


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

    def __init__(
        self,
        module,
        *args,
        teacher=None,
        distillation_weight=0.0,
        temperature=4.0,
        random_state=None,
        **kwargs,
    ):
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
            # a read-only array (e.g. a learner's X_training) is copied: torch warns on those
            return super().fit(writable(X), y, **fit_params)

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
            if dtype is None:
                return value
            if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.dtype != dtype:
                return value.astype(torch.empty((), dtype=dtype).numpy().dtype)
            is_float_tensor = isinstance(value, torch.Tensor) and value.is_floating_point()
            if is_float_tensor and value.dtype != dtype:
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
        return encode_labels(dense_array(y), np.asarray(self.classes))

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
        """Predicted labels: ``classes[argmax(proba)]`` with ``classes`` set, else the unit index.

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

    @property
    def n_epochs_(self):
        """int: epochs the last ``fit`` ran (with :meth:`PruneFuseActiveLearner.fuse`'s stopping
        rule, often fewer than ``max_epochs``; see ``stop_reason_``)."""
        self.check_is_fitted()
        return len(self.history)

    @property
    def stop_reason_(self):
        """str: why the last ``fit`` stopped: ``"max_epochs"``, or the rule of
        :class:`~prunefuse_sk.fused_stopping.FusedStopping` that ended it (caught up with the
        proxy's training loss, or a training-loss plateau), with the losses."""
        self.check_is_fitted()
        return stop_reason(self)

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


@functools.cache
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
            f"The fused network of a {net_class.__name__} template: a {net_class.__name__} that "
            "starts from the fused weights (see FusedNeuralNetClassifier)."
        ),
        "_prunefuse_net_class": net_class,
    }
    return type(name, (FusedNeuralNetClassifier, net_class), namespace)


def fused_net(
    template,
    module,
    *,
    classes,
    teacher_module=None,
    distillation_weight=0.0,
    temperature=4.0,
    random_state=None,
    memory_format="auto",
):
    """An unfitted :class:`FusedNeuralNetClassifier` with ``template``'s settings, from ``module``.

    Parameters
    ----------
    template : skorch.NeuralNetClassifier
        The full-size net's settings (optimizer, epochs, callbacks, device, ...).
    module : torch.nn.Module
        The fused module, e.g. from :func:`~prunefuse_sk.fusion.fused_start_module`; its 4-D
        weights are stored in ``memory_format`` (in place).
    classes : array-like of shape (n_outputs,)
        The label of every output unit.
    teacher_module : torch.nn.Module, default=None
        The trained proxy to distil from (used only with ``distillation_weight > 0``).
    distillation_weight, temperature, random_state
        As in :class:`FusedNeuralNetClassifier`.
    memory_format : {"auto", "channels_last", "contiguous"}, default="auto"
        As in :func:`~prunefuse_sk.fusion.fused_start_module`, for the device the net trains on.

    Returns
    -------
    net : FusedNeuralNetClassifier
        Of class :func:`fused_class` of ``type(template)``: also an instance of the template's
        class.

    Raises
    ------
    InvalidParameterError
        If ``memory_format`` is not one of the accepted values.
    """
    memory_format = check_memory_format(memory_format)
    distils = teacher_module is not None and distillation_weight > 0
    teacher = DistillationTeacher(teacher_module) if distils else None
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
