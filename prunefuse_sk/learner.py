"""``PruneFuseActiveLearner``: prune at init, select with the proxy, fuse back.

The learner validates input once, then delegates: :mod:`~prunefuse_sk.pruning` cuts the
proxy, :mod:`~prunefuse_sk.strategies` scores the pool, :mod:`~prunefuse_sk.fusion`
builds and trains the full-size network.
"""

import copy
import inspect
import time
import warnings

import numpy as np
import scipy.sparse
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetClassifier
from tqdm.auto import tqdm

from ._random import as_random_state, draw_seed, torch_seed_scope
from .exceptions import (
    EmptyPoolError,
    FeatureShapeError,
    InvalidParameterError,
    LabelMappingError,
    NonFiniteInputError,
    OutputWidthError,
    StaleProxyWarning,
    StrategyResultError,
)
from .labelled import LabelledSet, QueryRecord
from .fusion import FUSION_INITS, DistillationTeacher, FusedNeuralNetClassifier, build_fused_module
from .networks import MLP
from .pruning import IMPORTANCES, count_parameters, prune_at_init
from .strategies import get_strategy
from .strategies.scoring import n_rows, score_pool, take_rows
from .validation import (
    check_features,
    check_labels,
    check_n_instances,
    check_sample_shape,
    encode_labels,
    resolve_classes,
)

__all__ = ["PruneFuseActiveLearner", "default_estimator"]

PROXY_RETRAIN = ("reinit", "warm")
# private state set by fit (fitted attributes end in "_" and are dropped by name)
_FIT_STATE = (
    "_rng",
    "_labelled",
    "_last_query",
    "_pending_retrain",
    "_proxy_n_labels",
    "_prune_seed",
    "_fuse_seed",
    "_sample_shape",
)
_EXAMPLE_ROWS = 3  # odd, so a forward that hard-codes a width cannot silently fold rows


def default_estimator(n_features, n_classes):
    """The network used when ``estimator=None``: a small MLP sized from the data.

    Parameters
    ----------
    n_features : int
        Number of input features (product of the sample shape).
    n_classes : int
        Number of output units.

    Returns
    -------
    net : skorch.NeuralNetClassifier
        Unfitted; Adam, lr 0.01, 40 epochs, batch 64, no validation split.
    """
    return NeuralNetClassifier(
        MLP,
        module__n_features=n_features,
        module__n_classes=n_classes,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.01,
        max_epochs=40,
        batch_size=64,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
    )


def make_net_like(template, module, overrides=None, net_class=None):
    """A new unfitted net with ``template``'s parameters, a given module instance and overrides.

    ``module__*`` parameters are dropped: skorch would rebuild the module from
    them and silently discard the given instance.
    """
    params = clone(template).get_params(deep=False)
    # skorch's private record of which parameters to validate must be rebuilt from the new ones
    params = {
        key: value
        for key, value in params.items()
        if not key.startswith("module__") and key != "_params_to_validate"
    }
    params["module"] = module
    params.update(overrides or {})
    return (net_class or type(template))(**params)


class _ProxyView:
    """What a query strategy sees: the learner, with ``estimator`` and predictions resolved to the proxy.

    modAL strategies read ``predict_proba``, ``estimator`` (a fitted skorch net),
    ``X_training``, ``y_training``, ``classes_``, ``on_transformed`` and
    ``transform_without_estimating``; anything else is looked up on the learner.
    """

    on_transformed = False

    def __init__(self, learner):
        self._learner = learner
        self.estimator = learner.proxy_

    def predict_proba(self, X, **kwargs):
        return self._learner._net_proba(self._learner.proxy_, X)

    def score_pool(self, X, *, embeddings=False, n_passes=1, batch_size=None, autocast=False):
        """Proxy probabilities (and embeddings / MC-dropout entropies) in one batched pass."""
        return self._learner._score(
            self._learner.proxy_, X, embeddings=embeddings, n_passes=n_passes, batch_size=batch_size, autocast=autocast
        )

    def predict(self, X, **kwargs):
        return self._learner.classes_[self.predict_proba(X).argmax(axis=1)]

    def transform_without_estimating(self, X):
        return X

    def __getattr__(self, name):
        return getattr(self._learner, name)


class PruneFuseActiveLearner(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Active learning with a pruned proxy that is fused back into the full network (PruneFuse).

    ``fit`` prunes the full-size network at its random initialization into a
    small proxy and trains it on the seed set; ``query`` scores a pool with the
    proxy; ``teach`` adds labels and retrains the proxy; ``fuse`` writes the
    trained proxy's weights into their original positions of the full-size
    network and trains it, returning a fitted skorch classifier.

    Parameters
    ----------
    estimator : skorch.NeuralNetClassifier, default=None
        Unfitted net for the full-size network; never modified (it is cloned).
        ``None`` uses :func:`default_estimator`, a small MLP sized from the data.
    pruning_ratio : float, default=0.5
        Fraction of channels/neurons removed from every prunable layer, in (0, 1).
        The proxy costs about ``(1 - pruning_ratio) ** 2`` of the full network's FLOPs.
    importance : {"l2", "l1", "random"}, default="l2"
        How channels are ranked at initialization.
    ignored_layers : list of str, default=None
        Module names never pruned; the layers producing the outputs are
        protected automatically.
    query_strategy : str or callable, default="least_confidence"
        ``"least_confidence"``, ``"margin"``, ``"entropy"``, ``"random"``,
        ``"kcenter"`` (greedy core-set on the proxy's embeddings), ``"badge"``,
        ``"bald"`` (MC dropout; needs dropout layers), or any
        function ``strategy(learner, X_pool, n_instances=1, **kw)`` returning
        indices or ``(indices, scores)`` (modAL's strategies work unmodified).
    proxy_params : dict, default=None
        The skorch parameter overrides for the proxy, e.g. ``{"max_epochs": 10}``.
    proxy_retrain : {"reinit", "warm"}, default="reinit"
        Each ``teach`` retrains the proxy from its pruned initialization, or
        continues training it.
    fusion_init : {"reinit", "keep", "zero"}, default="reinit"
        What the fused network holds outside the proxy's positions: a fresh
        initialization, the initial values, or zeros. With ``"zero"`` the
        extra units of a ReLU network stay dead in training (zero in- and out-weights get zero
        gradients), so the fused net keeps the proxy's capacity: it exists to
        check exactness, not for accuracy.
    distillation_weight : float, default=0.0
        The weight α in ``(1 - α) CE + α T² KL(teacher_T || student_T)`` when training the
        fused network; the teacher is the trained proxy.
    temperature : float, default=4.0
        T in the distillation loss.
    random_state : int, RandomState instance or None, default=None
        Seeds every random choice: initialization, pruning ties, training
        shuffles, strategies.
    sync_every : int, default=0
        T_sync: every ``sync_every`` teaching rounds, fuse the proxy into the
        full network, train it on the labelled set and prune the *trained*
        network again to get the next proxy, which so inherits trained weights
        (later ``"reinit"`` rounds restart from it, and it becomes the base
        that :meth:`fuse` writes into; pair it with ``fusion_init="keep"`` to
        keep the trained values outside the proxy's positions). 0 never syncs.
    verbose : int, default=0
        0 silent; 1 a line per round and progress bars on pool scoring.

    Attributes
    ----------
    estimator_ : skorch.NeuralNetClassifier
        The unfitted full-size net actually used (a clone, or the default).
    proxy_ : skorch.NeuralNetClassifier
        The fitted proxy.
    fused_ : FusedNeuralNetClassifier
        The fitted full-size classifier; present once :meth:`fuse` has run.
    classes_ : ndarray of shape (n_classes,)
        The label of each output unit.
    full_init_module_ : torch.nn.Module
        The full-size network at its initialization (CPU).
    proxy_init_module_ : torch.nn.Module
        The pruned proxy at its initialization (CPU).
    kept_indices_ : dict of str to KeptIndices
        Where every proxy tensor sits inside the full-size tensor.
    output_layers_ : tuple of str
        Layers whose output units were protected.
    embedding_layer_ : str
        The output layer whose input is the embedding that ``"kcenter"`` and
        ``"badge"`` use.
    n_params_full_, n_params_proxy_ : int
        Parameter counts.
    X_training, y_training : ndarray
        The labelled set so far (modAL's names).
    labelling_round_ : ndarray of int
        The round that added each labelled sample (0 = the seed set).
    query_scores_ : ndarray of float
        Each labelled sample's query score when it was chosen (NaN when
        unknown).
    proxy_stale_ : bool
        ``True`` when the proxy's last retraining failed, so it was not
        trained on every label; :meth:`refit` retries.
    history_ : list of dict
        One entry per proxy training: ``round``, ``n_labelled``,
        ``n_trained`` (rows it trained on: fewer with ``only_new``),
        ``fit_seconds`` and ``epochs``.
    n_features_in_ : int
        Number of features when the samples are 1-D.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from prunefuse_sk import PruneFuseActiveLearner
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16.0
    >>> learner = PruneFuseActiveLearner(random_state=0).fit(X[:50], y[:50])
    >>> idx, X_new = learner.query(X[50:], n=20)
    >>> learner = learner.teach(X_new, y[50:][idx])
    >>> clf = learner.fuse()
    >>> round(clf.score(X[1500:], y[1500:]), 1) > 0.5
    True
    """

    def __init__(
        self,
        estimator=None,
        *,
        pruning_ratio=0.5,
        importance="l2",
        ignored_layers=None,
        query_strategy="least_confidence",
        proxy_params=None,
        proxy_retrain="reinit",
        fusion_init="reinit",
        distillation_weight=0.0,
        temperature=4.0,
        sync_every=0,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.pruning_ratio = pruning_ratio
        self.importance = importance
        self.ignored_layers = ignored_layers
        self.query_strategy = query_strategy
        self.proxy_params = proxy_params
        self.proxy_retrain = proxy_retrain
        self.fusion_init = fusion_init
        self.distillation_weight = distillation_weight
        self.temperature = temperature
        self.sync_every = sync_every
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        if self.estimator is not None and not isinstance(self.estimator, NeuralNetClassifier):
            raise InvalidParameterError(
                "estimator must be an unfitted skorch.NeuralNetClassifier (or None for the default MLP); "
                f"got {type(self.estimator).__name__} instead."
            )
        ratio = self.pruning_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio < 1:
            raise InvalidParameterError(
                f"pruning_ratio must be a float in the open interval (0, 1); got {ratio!r} instead. "
                "0.5 removes half the channels of every layer (about 1/4 of the FLOPs), 0.7 about 9/10 of the FLOPs."
            )
        for name, allowed in (
            ("importance", IMPORTANCES),
            ("proxy_retrain", PROXY_RETRAIN),
            ("fusion_init", FUSION_INITS),
        ):
            if getattr(self, name) not in allowed:
                raise InvalidParameterError(f"{name} must be one of {allowed}; got {getattr(self, name)!r} instead.")
        alpha = self.distillation_weight
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
            raise InvalidParameterError(
                f"distillation_weight must be a float in [0, 1]; got {alpha!r} instead (0 turns distillation off)."
            )
        temperature = self.temperature
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, (int, float))
            or not np.isfinite(temperature)
            or temperature <= 0
        ):
            raise InvalidParameterError(f"temperature must be a positive float; got {self.temperature!r} instead.")
        if self.proxy_params is not None and not isinstance(self.proxy_params, dict):
            raise InvalidParameterError(
                f"proxy_params must be a dict of skorch parameters or None; got {self.proxy_params!r}."
            )
        module_keys = [k for k in (self.proxy_params or {}) if k == "module" or k.startswith("module__")]
        if module_keys:
            raise InvalidParameterError(
                f"proxy_params cannot set {module_keys}: the proxy's module is the pruned full network. "
                "Change the architecture on the estimator (e.g. estimator__module__hidden) instead."
            )
        if self.ignored_layers is not None and (
            isinstance(self.ignored_layers, str) or not all(isinstance(n, str) for n in self.ignored_layers)
        ):
            raise InvalidParameterError(
                f"ignored_layers must be a list of module names; got {self.ignored_layers!r} instead."
            )
        sync = self.sync_every
        if isinstance(sync, bool) or not isinstance(sync, (int, np.integer)) or sync < 0:
            raise InvalidParameterError(
                f"sync_every must be a non-negative integer (0 = never sync); got {sync!r} instead."
            )
        if isinstance(self.verbose, bool) or not isinstance(self.verbose, (int, np.integer)) or self.verbose < 0:
            raise InvalidParameterError(f"verbose must be a non-negative integer; got {self.verbose!r} instead.")
        try:
            check_random_state(self.random_state)
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(
                f"random_state must be None, an int in [0, 2**32 - 1] or a numpy RandomState; got "
                f"{self.random_state!r} ({exc})."
            ) from exc
        get_strategy(self.query_strategy)

    def _log(self, message):
        if self.verbose:
            print(f"[PruneFuse] {message}", flush=True)

    # -------------------------------------------------------------- building
    def _template(self, X, y):
        if self.estimator is None:
            return default_estimator(int(np.prod(X.shape[1:])), len(np.unique(y)))
        return clone(self.estimator)

    def _example_inputs(self, X, device):
        rows = np.resize(np.arange(len(X)), _EXAMPLE_ROWS)
        return torch.as_tensor(X[rows], device=device)

    def _new_proxy(self):
        try:
            net = make_net_like(self.estimator_, copy.deepcopy(self.proxy_init_module_), self.proxy_params)
            net._validate_params()  # skorch's check of prefixed parameters (optimizer__lr, ...)
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(
                f"proxy_params {self.proxy_params!r} are not valid parameters of "
                f"{type(self.estimator_).__name__}: {exc}"
            ) from exc
        return net

    def _train(self, net, X, y_encoded, *, seed, partial=False):
        start = time.perf_counter()
        with torch_seed_scope(seed, self.estimator_.device):
            if partial:
                net.partial_fit(X, y_encoded)
            else:
                net.fit(X, y_encoded)
        return time.perf_counter() - start

    def _retrain_proxy(self):
        """Run the pending proxy retraining; swap the proxy in only when it succeeded.

        The labelled set is already updated when this runs. Training happens on
        a new net (``"reinit"``) or a copy of the current one (``"warm"``,
        ``only_new``), so a failure -- an exception in a callback, CUDA out of
        memory, ``KeyboardInterrupt`` -- leaves the previous proxy in place and
        the learner marked stale; :meth:`refit` runs the same retraining again
        with the same seed.
        """
        pending = self._pending_retrain
        labelled = self._labelled
        if pending.get("sync"):
            self._sync()  # the next proxy comes from the trained full network
        current = None if pending.get("synced") else getattr(self, "proxy_", None)
        if current is not None and (pending["only_new"] or self.proxy_retrain == "warm"):
            net = copy.deepcopy(current)
            start = self._proxy_n_labels if pending["only_new"] else 0
            X, y_encoded, partial = labelled.X[start:], labelled.y_encoded[start:], True
        else:
            net = self._new_proxy()
            X, y_encoded, partial = labelled.X, labelled.y_encoded, False
        epochs_before = len(net.history) if getattr(net, "initialized_", False) else 0
        try:
            seconds = self._train(net, X, y_encoded, seed=pending["seed"], partial=partial)
        except BaseException as exc:
            if hasattr(exc, "add_note"):
                exc.add_note(
                    f"prunefuse_sk: all {len(labelled)} labels are kept, but the proxy was not retrained on "
                    f"them (learner.proxy_stale_ is True). Fix the cause and call learner.refit() to retry."
                )
            raise
        # skorch trains a module instance in place (net.module is net.module_); give `module` back
        # its pruned initialization, on the CPU, so that clones and pickles don't carry the trained
        # CUDA weights twice
        net.module = copy.deepcopy(self.proxy_init_module_)
        self.proxy_ = net
        self._proxy_n_labels = len(labelled)
        self._pending_retrain = None
        self.proxy_stale_ = False
        self._record_round(seconds, len(net.history) - epochs_before, len(X), pending.get("sync_stats"))

    def _schedule_retrain(self, *, only_new=False, sync=False):
        self.proxy_stale_ = True
        self._pending_retrain = {"seed": draw_seed(self._rng), "only_new": bool(only_new), "sync": bool(sync)}

    def _sync(self):
        """T_sync: fuse, train the full network, prune the trained network into the next proxy."""
        pending = self._pending_retrain
        start = time.perf_counter()
        fused = self._build_fused(self.X_training, self._labelled.y, train=True)
        trained = fused.module_
        pruned = prune_at_init(
            trained,
            self._example_inputs(self.X_training, self.estimator_.device),
            pruning_ratio=self.pruning_ratio,
            importance=self.importance,
            ignored_layers=self.ignored_layers,
            random_state=self._prune_seed,
        )
        self.full_init_module_ = copy.deepcopy(trained).cpu()
        self.proxy_init_module_ = copy.deepcopy(pruned.module).cpu()
        self.kept_indices_ = pruned.kept_indices
        self.__dict__.pop("fused_", None)
        # done: a retry after a failure further on only retrains the proxy, from the synced init
        pending.update(sync=False, synced=True, sync_stats={"seconds": time.perf_counter() - start, "epochs": len(fused.history)})
        self._log(f"synced: full network trained on {len(self._labelled)} labels and pruned again")

    def _warn_if_stale(self, action):
        if getattr(self, "proxy_stale_", False):
            warnings.warn(
                f"{action} uses a proxy trained on {self._proxy_n_labels} of the {len(self._labelled)} labels: "
                "its last retraining failed. Call learner.refit() to retrain it on all of them.",
                StaleProxyWarning,
                stacklevel=3,
            )

    # ----------------------------------------------------- modAL attributes
    @property
    def X_training(self):
        """ndarray: the labelled samples so far, float32 (modAL's name); ``None`` before ``fit``."""
        labelled = self.__dict__.get("_labelled")
        return None if labelled is None else labelled.X

    @property
    def y_training(self):
        """ndarray: the labels of ``X_training``, as given; ``None`` before ``fit``."""
        labelled = self.__dict__.get("_labelled")
        return None if labelled is None else labelled.y

    @property
    def labelling_round_(self):
        """ndarray of int: the round that added each labelled sample (0 = the seed set of ``fit``)."""
        check_is_fitted(self, "classes_")
        return self._labelled.rounds

    @property
    def query_scores_(self):
        """ndarray of float: each labelled sample's query score when it was chosen.

        NaN for the seed set, for samples that were not among the rows the
        last :meth:`query` returned, and for strategies that return indices
        only.
        """
        check_is_fitted(self, "classes_")
        return self._labelled.scores

    # ------------------------------------------------------------- public API
    def fit(self, X, y):
        """Start over with ``(X, y)`` as the labelled set: prune a fresh init and train the proxy.

        Clones the estimator, initializes the full-size network (seeded by
        ``random_state``), keeps that initial state, prunes a copy of it and
        trains the proxy on ``(X, y)``.

        Parameters
        ----------
        X : array-like, memmap or torch.Tensor of shape (n_samples, ...)
            Seed samples; converted to float32.
        y : array-like of shape (n_samples,)
            Their labels.

        Returns
        -------
        self : PruneFuseActiveLearner
        """
        self._check_params()
        X = check_features(X)
        y = check_labels(y, len(X))
        if len(np.unique(y)) < 2 and self.estimator is None:
            raise LabelMappingError(
                f"The seed set has 1 class only ({np.unique(y).tolist()}, n_samples = {len(y)}); the default "
                "network needs at least 2 classes to size its output layer. Label samples of another class first."
            )
        self._forget_fit()  # a fit that fails below leaves an unfitted learner, not a half-fitted one
        self._rng = as_random_state(self.random_state)
        template = self._template(X, y)
        device = template.device

        full = clone(template)
        with torch_seed_scope(draw_seed(self._rng), device):
            full.initialize()
        full_module = full.module_
        example = self._example_inputs(X, device)
        n_outputs = self._output_width(full_module, example)
        classes = resolve_classes(y, n_outputs, getattr(template, "classes", None))
        y_encoded = encode_labels(y, classes)

        prune_seed = draw_seed(self._rng)
        pruned = prune_at_init(
            full_module,
            example,
            pruning_ratio=self.pruning_ratio,
            importance=self.importance,
            ignored_layers=self.ignored_layers,
            random_state=prune_seed,
        )
        self.classes_ = classes
        self._prune_seed = prune_seed
        self.estimator_ = template
        self.full_init_module_ = copy.deepcopy(full_module).cpu()
        self.proxy_init_module_ = copy.deepcopy(pruned.module).cpu()
        self.kept_indices_ = pruned.kept_indices
        self.output_layers_ = pruned.output_layers
        self.embedding_layer_ = _embedding_layer(full_module, pruned.output_layers)
        self.n_params_full_ = count_parameters(full_module)
        self.n_params_proxy_ = count_parameters(pruned.module)
        self._sample_shape = tuple(X.shape[1:])
        if X.ndim == 2:
            self.n_features_in_ = X.shape[1]
        self._labelled = LabelledSet.start(X, y, y_encoded)
        self._last_query = None
        self._proxy_n_labels = 0
        self.history_ = []
        # fuse() draws from its own fixed stream: fusing twice gives the same network
        self._fuse_seed = draw_seed(self._rng)
        self._schedule_retrain()
        self._retrain_proxy()
        return self

    def _forget_fit(self):
        """Drop every fitted attribute and the private state that goes with them."""
        for name in list(self.__dict__):
            if name.endswith("_") and not name.startswith("__") or name in _FIT_STATE:
                del self.__dict__[name]

    def _output_width(self, module, example):
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                outputs = module(example)
        except RuntimeError as exc:
            raise FeatureShapeError(
                f"The network fails on samples of shape {tuple(example.shape[1:])}: {exc}. Check that the "
                "network's input layer matches the data."
            ) from exc
        finally:
            module.train(was_training)
        if not isinstance(outputs, torch.Tensor) or outputs.dim() != 2:
            raise OutputWidthError(
                "The network must return one row of class scores per sample, shape (n_samples, n_classes); "
                f"got {getattr(outputs, 'shape', type(outputs).__name__)}."
            )
        return int(outputs.shape[1])

    def _record_round(self, seconds, epochs, n_trained, sync=None):
        entry = {
            "round": self._labelled.last_round,
            "n_labelled": len(self._labelled),
            "n_trained": int(n_trained),
            "fit_seconds": seconds,
            "epochs": int(epochs),
        }
        if sync is not None:
            entry["sync"] = sync
        self.history_.append(entry)
        self._log(
            f"round {entry['round']}: proxy trained on {entry['n_labelled']} labels in {seconds:.2f}s, "
            f"{entry['epochs']} epochs ({self.n_params_proxy_:,} of {self.n_params_full_:,} parameters)"
        )

    def teach(self, X=None, y=None, *, only_new=False):
        """Add labelled samples and retrain the proxy.

        The labels are stored before the proxy is retrained, so they are
        kept even if retraining fails (an exception in a callback, CUDA out
        of memory, ``KeyboardInterrupt``): the exception propagates, the
        previous proxy stays in place, ``proxy_stale_`` becomes ``True`` and
        :meth:`refit` (or ``teach()`` with no data) retries.

        Parameters
        ----------
        X : array-like, memmap or torch.Tensor of shape (n_new, ...), default=None
            The newly labelled samples. ``None`` (with ``y=None``) adds
            nothing and retries a failed retraining, like :meth:`refit`.
        y : array-like of shape (n_new,), default=None
            Their labels; each must map to an output unit (see ``classes_``).
        only_new : bool, default=False
            As in modAL: continue training the proxy on the new rows only
            (the labelled set still grows). Otherwise the proxy is retrained
            on the whole labelled set per ``proxy_retrain``.

        Returns
        -------
        self : PruneFuseActiveLearner

        Notes
        -----
        A fused network from an earlier :meth:`fuse` is dropped (it no longer
        reflects the labelled set); call :meth:`fuse` again. Rows equal to
        rows the last :meth:`query` returned get their query score recorded
        in ``query_scores_``; every taught row gets the round number in
        ``labelling_round_``.
        """
        check_is_fitted(self, "classes_")
        _check_flag(only_new, "only_new")
        if X is None and y is None:
            return self.refit()
        self._check_params()
        if X is None or y is None:
            raise ValueError("Pass both X and y to teach new labels, or neither to retry the proxy's retraining.")
        X = check_features(X, n_features_shape=self._sample_shape)
        y = check_labels(y, len(X))
        y_encoded = encode_labels(y, self.classes_)
        last_query = self.__dict__.get("_last_query")
        scores = last_query.scores_of(X) if last_query is not None else np.full(len(X), np.nan)
        # one assignment: the labelled set is either the old one or the old one plus all new rows
        self._labelled = self._labelled.extend(X, y, y_encoded, scores)
        self._last_query = None
        self.__dict__.pop("fused_", None)
        round_ = self._labelled.last_round
        self._schedule_retrain(only_new=only_new, sync=bool(self.sync_every) and round_ % self.sync_every == 0)
        self._retrain_proxy()
        return self

    def refit(self):
        """Retrain the proxy on the labelled set; retries a retraining that failed.

        After a failed :meth:`teach` (``proxy_stale_`` is ``True``) this runs
        the same retraining again, with the same seed, so the result equals
        an uninterrupted run. Otherwise it retrains the proxy per
        ``proxy_retrain`` on all labels.

        Returns
        -------
        self : PruneFuseActiveLearner
        """
        check_is_fitted(self, "classes_")
        self._check_params()
        if self.__dict__.get("_pending_retrain") is None:
            self.__dict__.pop("fused_", None)
            self._schedule_retrain()
        self._retrain_proxy()
        return self

    def query(self, X_pool, n=1, *, n_instances=None, return_scores=False, max_candidates=None, **strategy_kwargs):
        """Choose the pool samples to label next, scored by the proxy.

        Parameters
        ----------
        X_pool : array-like, memmap or torch.Tensor of shape (n_pool, ...)
            Unlabelled samples. Handed to the strategy exactly as given.
        n : int, default=1
            How many samples to choose.
        n_instances : int, default=None
            The modAL name for ``n``.
        return_scores : bool, default=False
            Also return the strategy's scores of the chosen samples.
        max_candidates : int, default=None
            Score only a random subset of this many pool rows; the indices
            still refer to ``X_pool``.
        **strategy_kwargs
            Passed to the strategy.

        Returns
        -------
        indices : ndarray of shape (n,)
            Unique row indices into ``X_pool``, in the strategy's order (best
            first for the built-in strategies).
        X_selected : same type as X_pool
            ``X_pool[indices]``.
        scores : ndarray of shape (n,)
            Only with ``return_scores=True``.
        """
        check_is_fitted(self, "proxy_")
        self._check_params()  # parameters may have changed with set_params since fit
        self._warn_if_stale("query")
        if not isinstance(X_pool, dict):  # modAL's dropout strategies also take dicts of tensors
            check_sample_shape(X_pool, name="X_pool", n_features_shape=self._sample_shape, min_samples=0)
        total = n_rows(X_pool)
        if total == 0:
            raise EmptyPoolError(
                "The pool is empty: there is nothing left to query. Every sample is labelled; call fuse() "
                "to get the final classifier, or add unlabelled samples to the pool."
            )
        candidates = None
        X_candidates = X_pool
        if max_candidates is not None:
            if isinstance(max_candidates, bool) or not isinstance(max_candidates, (int, np.integer)) or max_candidates < 1:
                raise InvalidParameterError(
                    f"max_candidates must be a positive integer or None; got {max_candidates!r}."
                )
            if max_candidates < total:
                candidates = np.sort(self._rng.choice(total, int(max_candidates), replace=False))
                X_candidates = take_rows(X_pool, candidates)
        n = check_n_instances(n, n_instances, n_rows(X_candidates))

        strategy = get_strategy(self.query_strategy)
        if "random_state" in _named_parameters(strategy) and "random_state" not in strategy_kwargs:
            strategy_kwargs["random_state"] = draw_seed(self._rng)
        result = strategy(_ProxyView(self), X_candidates, n_instances=n, **strategy_kwargs)
        indices, scores = _unpack_strategy_result(result, n, n_rows(X_candidates), strategy)
        if candidates is not None:
            indices = candidates[indices]
        selected = take_rows(X_pool, indices)
        rows = None if isinstance(selected, dict) else _rows_as_float32(selected)
        if rows is not None and not np.isfinite(rows).all():
            raise NonFiniteInputError(
                "X_pool contains NaN or infinity in the selected rows; impute or drop those rows before querying."
            )
        self._last_query = QueryRecord(rows, scores) if scores is not None and rows is not None else None
        if return_scores:
            if scores is None:
                raise InvalidParameterError(
                    f"The strategy {getattr(strategy, '__name__', strategy)!r} returns indices only; "
                    "return_scores=True needs one that returns (indices, scores)."
                )
            return indices, selected, scores
        return indices, selected

    def fuse(self, X=None, y=None, *, train=True):
        """Fuse the trained proxy into the full-size network and (by default) train it.

        Every tensor of the trained proxy (weights, biases, BatchNorm affine
        parameters and running statistics) is written into exactly the
        positions of the full-size tensor it was pruned from; the rest is
        filled per ``fusion_init``.

        Parameters
        ----------
        X, y : array-like, default=None
            Train on these instead of the labelled set.
        train : bool, default=True
            ``False`` returns the fused network initialized but untrained.

        Returns
        -------
        clf : FusedNeuralNetClassifier
            A fitted full-size skorch ``NeuralNetClassifier``. Its ``module``
            parameter holds the fused, untrained weights, so ``clone(clf)``
            (e.g. in ``GridSearchCV``) starts from them; ``module_`` holds the
            trained network. Also stored as ``fused_``.
        """
        check_is_fitted(self, "proxy_")
        _check_flag(train, "train")
        self._check_params()
        self._warn_if_stale("fuse")
        if (X is None) != (y is None):
            raise ValueError("Pass both X and y to fuse on other data, or neither to use the labelled set.")
        if X is None:
            X, y = self.X_training, self.y_training
        else:
            X = check_features(X, n_features_shape=self._sample_shape)
            y = check_labels(y, len(X))
            encode_labels(y, self.classes_)  # fail before building anything
        self.fused_ = self._build_fused(X, y, train=train)
        return self.fused_

    def _build_fused(self, X, y, *, train):
        fresh_seed, train_seed, net_seed = self._fuse_seeds()
        fresh = None
        if self.fusion_init == "reinit":
            fresh_net = clone(self.estimator_)
            with torch_seed_scope(fresh_seed, "cpu"):
                fresh_net.set_params(device="cpu").initialize()
            fresh = fresh_net.module_
        fused_module = build_fused_module(
            self.full_init_module_,
            self.proxy_.module_,
            self.kept_indices_,
            fusion_init=self.fusion_init,
            fresh_module=fresh,
        )
        net = self._fused_net(fused_module, net_seed)
        if train:
            seconds = self._train(net, X, y, seed=train_seed)
            self._log(f"fused network trained on {len(X)} labels in {seconds:.2f}s")
        else:
            net.initialize()
        return net

    def _fuse_seeds(self):
        """Seeds of the fresh init, the training run and the fused net, from ``fuse``'s own stream."""
        fuse_rng = as_random_state(self._fuse_seed)
        fresh_seed = draw_seed(fuse_rng)
        train_seed = draw_seed(as_random_state(draw_seed(fuse_rng)))
        net_seed = None if self.random_state is None else draw_seed(fuse_rng)
        return fresh_seed, train_seed, net_seed

    def _fused_net(self, fused_module, net_seed):
        """An unfitted ``FusedNeuralNetClassifier`` starting from ``fused_module``."""
        teacher = DistillationTeacher(self.proxy_.module_) if self.distillation_weight > 0 else None
        return make_net_like(
            self.estimator_,
            fused_module,
            {
                "teacher": teacher,
                "distillation_weight": self.distillation_weight,
                "temperature": self.temperature,
                "classes": list(self.classes_),
                "random_state": net_seed,
            },
            net_class=FusedNeuralNetClassifier,
        )

    # ------------------------------------------------------------- persistence
    def save(self, path):
        """Write the learner to a checkpoint file that loads without executing code.

        Stores the labelled set with its provenance, the proxy's trained
        weights and optimizer state, the full network's initial weights, the
        kept-index maps, the parameters, the random stream and the fused
        network (if any). Tensors are read back with
        ``torch.load(weights_only=True)``, arrays with
        ``np.load(allow_pickle=False)``, everything else is JSON. The write is
        atomic: the file is written under a temporary name and renamed, so a
        crash during ``save`` leaves the previous checkpoint intact.

        Parameters
        ----------
        path : str or os.PathLike
            The checkpoint file to write (conventionally ``*.pfsk``).

        Returns
        -------
        path : str
            The path written.

        See Also
        --------
        load : Rebuild a learner from the checkpoint.
        """
        from .persistence import save_learner

        return save_learner(self, path)

    @classmethod
    def load(cls, path, estimator=None, **params):
        """Rebuild a learner saved by :meth:`save`, ready to query, teach and fuse.

        As with skorch's ``load_params``, the network's code is not in the
        file: pass the same unfitted ``estimator`` that was used at ``fit``
        (``None`` if the default MLP was used). Parameters that are not JSON
        (a custom strategy function, objects in ``proxy_params``) must be
        passed again; the error says which.

        Parameters
        ----------
        path : str or os.PathLike
            A checkpoint written by :meth:`save`.
        estimator : skorch.NeuralNetClassifier, default=None
            The unfitted full-size net, as given to the saved learner.
        **params
            Constructor parameters that replace the saved ones.

        Returns
        -------
        learner : PruneFuseActiveLearner
            Continues exactly where the saved one stopped: with the same
            ``random_state`` the next queries and the fused network equal
            those of an uninterrupted run (on CPU).

        Raises
        ------
        CheckpointError
            If the file is missing, truncated or not a checkpoint, or a
            parameter that could not be saved is not passed.
        CheckpointVersionError
            If it was written in an unknown format version.
        CheckpointMismatchError
            If ``estimator`` builds another network than the saved one.
        UnsafeCheckpointError
            If the file holds Python objects where only tensors and arrays
            belong (nothing in it is executed).
        """
        from .persistence import load_learner

        return load_learner(cls, path, estimator=estimator, **params)

    # ------------------------------------------------------------ prediction
    def _active_net(self):
        check_is_fitted(self, "proxy_")
        fused = getattr(self, "fused_", None)
        return fused if fused is not None else self.proxy_

    def _score(self, net, X, *, embeddings=False, n_passes=1, batch_size=None, autocast=False):
        if not isinstance(X, torch.Tensor) and not hasattr(X, "shape") and not scipy.sparse.issparse(X):
            X = np.asarray(X)
        check_sample_shape(X, n_features_shape=self._sample_shape, estimator_name=type(self).__name__)
        progress = None
        bar = None
        if self.verbose and n_rows(X) > 10_000:
            bar = tqdm(total=n_rows(X), desc="scoring pool", unit="rows", leave=False)
            progress = bar.update
        try:
            return score_pool(
                net,
                X,
                batch_size=batch_size,
                embedding_layer=self.embedding_layer_ if embeddings else None,
                n_passes=n_passes,
                autocast=autocast,
                progress=progress,
            )
        finally:
            if bar is not None:
                bar.close()

    def _net_proba(self, net, X):
        return self._score(net, X).proba

    def predict_proba(self, X):
        """Class probabilities from the fused network, or from the proxy before :meth:`fuse`.

        Parameters
        ----------
        X : array-like, memmap or torch.Tensor of shape (n_samples, ...)
            Samples, scored in batches.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        return self._net_proba(self._active_net(), X)

    def predict(self, X):
        """Predicted labels (see :meth:`predict_proba`).

        Parameters
        ----------
        X : array-like, memmap or torch.Tensor of shape (n_samples, ...)
            Samples, scored in batches.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]


def _embedding_layer(module, output_layers):
    """The output layer whose input is the penultimate embedding (the channel-mixing one)."""
    layers = dict(module.named_modules())
    for name in output_layers:
        if any(p.dim() >= 2 for p in layers[name].parameters(recurse=False)):
            return name
    return output_layers[0] if output_layers else None


def _check_flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidParameterError(f"{name} must be True or False; got {value!r} instead.")


def _rows_as_float32(rows):
    """The rows as a float32 ndarray, as ``teach`` will see them (for provenance look-ups)."""
    if isinstance(rows, torch.Tensor):
        return rows.detach().to("cpu", torch.float32).numpy()
    return np.asarray(rows, dtype=np.float32)


def _named_parameters(func):
    try:
        return inspect.signature(func).parameters
    except (TypeError, ValueError):
        return {}


def _unpack_strategy_result(result, n, n_candidates, strategy):
    """Indices (and scores, when given) from a strategy's return value, validated."""
    name = getattr(strategy, "__name__", repr(strategy))
    scores = None
    if isinstance(result, tuple) and len(result) == 2 and not np.isscalar(result[0]):
        indices, second = result
        second = second if isinstance(second, np.ndarray) else None
        if second is not None and second.ndim == 1 and second.dtype.kind == "f":
            scores = second
    else:
        indices = result
    if isinstance(indices, torch.Tensor):
        indices = indices.cpu().numpy()
    indices = np.asarray(indices).ravel()
    fix = "Fix the strategy so that it returns n_instances unique row indices into X_pool."
    if len(indices) != n:
        raise StrategyResultError(f"Strategy {name!r} returned {len(indices)} indices; expected {n}. {fix}")
    if indices.dtype.kind not in "iu":
        raise StrategyResultError(f"Strategy {name!r} returned non-integer indices of dtype {indices.dtype}. {fix}")
    indices = indices.astype(np.int64)
    if len(indices) != n or len(np.unique(indices)) != n:
        raise StrategyResultError(
            f"Strategy {name!r} returned {len(indices)} indices ({len(np.unique(indices))} unique); "
            f"expected {n} unique. {fix}"
        )
    if indices.min() < 0 or indices.max() >= n_candidates:
        raise StrategyResultError(
            f"Strategy {name!r} returned indices outside the pool of {n_candidates} rows "
            f"(min {indices.min()}, max {indices.max()}). {fix}"
        )
    if scores is not None:
        if len(scores) == n_candidates and n_candidates != n:
            scores = scores[indices]
        elif len(scores) != n:
            scores = None
    return indices, scores

