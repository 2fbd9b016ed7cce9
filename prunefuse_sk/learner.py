"""``PruneFuseActiveLearner``: prune at init, select with the proxy, fuse back.

The estimator validates input once, then delegates: :mod:`~prunefuse_sk.pruning` cuts and
probes networks, :mod:`~prunefuse_sk.strategies` scores the pool behind one strategy
contract, :mod:`~prunefuse_sk.fusion` assembles and trains the full-size network,
:mod:`~prunefuse_sk._skorch` builds and trains skorch nets and
:mod:`~prunefuse_sk.persistence` writes the checkpoint file.
"""

import copy
import functools
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetClassifier

from . import persistence
from ._random import as_random_state, draw_seed, random_state_as_data, random_state_from_data, torch_seed_scope
from ._skorch import check_seed_for_processes, fit_seeded, initialized_module, load_weights, net_state, picklable
from ._skorch import restore_net_state
from .exceptions import InvalidParameterError, LabelMappingError, NonFiniteInputError
from .exceptions import StaleProxyWarning
from .fusion import FUSION_INITS
from .labelled import LabelledSet, QueryRecord
from .networks import default_estimator
from .pruned_pair import PrunedPair
from .pruning import IMPORTANCES, example_batch, output_width, token_input
from .retraining import PROXY_RETRAIN, run_retraining, schedule_retraining
from .strategies import SelectorView, get_strategy, select_from_pool
from .pools import as_dask_array, is_dask_pool
from .validation import as_float32, as_row_sliceable, as_samples, check_flags, check_inputs, check_labels
from .validation import check_sample_shape
from .validation import encode_labels, resolve_classes, validate_params

__all__ = ["PruneFuseActiveLearner"]

# every parameter: its scikit-learn constraints, and what it must be in the error's words ("<name> must be ...")
_PARAMETERS = {
    "estimator": ([NeuralNetClassifier, None], "an unfitted skorch.NeuralNetClassifier (or None for the default MLP)"),
    "pruning_ratio": ([Interval(Real, 0, 1, closed="neither")], "a float in the open interval (0, 1) (0.5 removes "
                      "half the channels of every layer, about 3/4 of the FLOPs; 0.7 about 9/10)"),
    "importance": ([StrOptions(set(IMPORTANCES))], f"one of {IMPORTANCES}"),
    "ignored_layers": (["array-like", None], "a list of module names, or None"),
    "query_strategy": ("no_validation", ""),  # get_strategy raises UnknownStrategyError
    "proxy_params": ([dict, None], "a dict of skorch parameters, or None"),
    "proxy_retrain": ([StrOptions(set(PROXY_RETRAIN))], f"one of {PROXY_RETRAIN}"),
    "fused_params": ([dict, None], "a dict of skorch parameters, or None"),
    "fusion_init": ([StrOptions(set(FUSION_INITS))], f"one of {FUSION_INITS}"),
    "distillation_weight": ([Interval(Real, 0, 1, closed="both")], "a float in [0, 1] (0 turns distillation off)"),
    "temperature": ([Interval(Real, 0, np.inf, closed="neither")], "a positive float"),
    "sync_every": ([Interval(Integral, 0, None, closed="left")], "a non-negative integer (0 = never sync)"),
    "scoring_memory": ([Interval(Real, 0, None, closed="neither"), None], "a positive number of MiB, or None"),
    "memory_format": ([StrOptions({"auto", "channels_last", "contiguous"})], "one of 'auto', 'channels_last', 'contiguous'"),
    "random_state": (["random_state"], "None, an int in [0, 2**32 - 1] or a numpy RandomState"),
    "verbose": ([Interval(Integral, 0, None, closed="left")], "a non-negative integer"),
}
_NO_BOOLS = ("scoring_memory", "pruning_ratio", "distillation_weight", "temperature", "sync_every", "verbose")
# The state registry (see _get_state). Attributes kept as plain data, with their key in the state:
_PLAIN_STATE = {"classes_": "classes", "n_features_in_": "n_features_in", "history_": "history", "proxy_stale_": "proxy_stale", "_prune_seed": "prune_seed",
                "_fuse_seed": "fuse_seed", "_proxy_n_labels": "proxy_n_labels", "_pending_retrain": "pending_retrain"}
# ... and the private ones rebuilt from data: the networks, the random stream, the labelled set, the last query's rows
_FUSION_PARAMS = ("fusion_init", "fused_params", "distillation_weight", "temperature", "memory_format")
_PRIVATE_STATE = ("_pair", "_rng", "_labelled", "_last_query", "_sample_shape", *(a for a in _PLAIN_STATE if a[0] == "_"))


def _of_pair(name):
    """A fitted attribute read from the learner's :class:`~prunefuse_sk.pruned_pair.PrunedPair`."""
    return property(lambda self: getattr(self._pair, name), doc=f"See ``PrunedPair.{name}``.")


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
        ``None``: :func:`~prunefuse_sk.networks.default_estimator`, a small MLP sized from the data.
    pruning_ratio : float, default=0.5
        Fraction of channels/neurons removed from every prunable layer, in (0, 1);
        the proxy costs about ``(1 - pruning_ratio) ** 2`` of the full network's FLOPs.
    importance : {"random", "l2", "l1"}, default="random"
        How channels are ranked when the network is pruned (at initialization, and again
        at each T_sync). ``"random"`` was the best measured setting on Fashion-MNIST and
        Animal-MNIST (+0.94 and +0.35 points over ``"l2"``, 3 seeds each, see
        :doc:`/method`); ``"l2"`` (the paper's choice) ranks by the L2 norm of each channel's
        weights.
    ignored_layers : list of str, default=None
        Module names never pruned; the layers producing the outputs are protected automatically.
    query_strategy : str or callable, default="least_confidence"
        ``"least_confidence"``, ``"margin"``, ``"entropy"``, ``"random"``, ``"kcenter"``,
        ``"badge"``, ``"bald"`` (MC dropout), or any ``strategy(learner, X_pool,
        n_instances=1, **kw)`` returning indices or ``(indices, scores)`` (modAL's work unmodified).
    proxy_params : dict, default=None
        skorch parameter overrides for the proxy, e.g. ``{"max_epochs": 10}``.
    proxy_retrain : {"reinit", "warm"}, default="reinit"
        Each ``teach`` retrains the proxy from its pruned initialization, or continues training it
        (pair ``"warm"`` with fewer epochs in ``proxy_params``: each round then trains only a few).
    fused_params : dict, default=None
        skorch parameter overrides for the fused network that :meth:`fuse` trains, e.g.
        ``{"max_epochs": 8}`` (the fused network starts from the trained proxy, so it needs fewer
        epochs than training from scratch; see :doc:`/method`) or early stopping on a held-out split,
        ``{"callbacks": [EarlyStopping(patience=3)], "train_split": ValidSplit(0.1)}``.
    fusion_init : {"reinit", "keep", "zero"}, default="reinit"
        What the fused network holds outside the proxy's positions: a fresh
        initialization, the initial values, or zeros (``"zero"`` keeps the proxy's
        capacity, since zero units of a ReLU net stay dead: it exists to check exactness).
    distillation_weight : float, default=0.0
        α in ``(1 - α) CE + α T² KL(teacher_T || student_T)`` when training the fused
        network; the teacher is the trained proxy.
    temperature : float, default=4.0
        T in the distillation loss.
    sync_every : int, default=0
        T_sync: every ``sync_every`` rounds, fuse, train the full network and prune the
        *trained* network into the next proxy (the base :meth:`fuse` then writes into;
        pair with ``fusion_init="keep"``). 0 never syncs.
    scoring_memory : float, default=None
        MiB of activations one pool-scoring batch may use; the batch's rows follow from a probe
        (None: :data:`~prunefuse_sk.strategies.scoring.DEFAULT_SCORING_MEMORY`).
    memory_format : {"auto", "channels_last", "contiguous"}, default="auto"
        Memory format of the proxy's and the fused network's convolution weights; ``"auto"``
        follows :func:`~prunefuse_sk.kernels.resolve_memory_format` (measured rule, never timings).
    random_state : int, RandomState instance or None, default=None
        Seeds every random choice: initialization, pruning ties, training shuffles, strategies.
    verbose : int, default=0
        0 silent; 1 a line per round and progress bars on pool scoring.

    Attributes
    ----------
    estimator_ : skorch.NeuralNetClassifier
        The unfitted full-size net actually used (a clone, or the default).
    proxy_ : skorch.NeuralNetClassifier
        The fitted proxy.
    fused_ : FusedNeuralNetClassifier
        The fitted full-size classifier, once :meth:`fuse` has run.
    classes_ : ndarray of shape (n_classes,)
        The label of each output unit.
    full_init_module_, proxy_init_module_ : torch.nn.Module
        The full network and the proxy at their initialization (CPU).
    kept_indices_ : dict of str to KeptIndices
        Where every proxy tensor sits inside the full-size tensor.
    output_layers_ : tuple of str
        Layers whose output units were protected.
    embedding_layer_ : str
        The output layer whose input ``"kcenter"`` and ``"badge"`` use as the embedding.
    n_params_full_, n_params_proxy_ : int
        Parameter counts.
    X_training, y_training : ndarray
        The labelled set so far (modAL's names).
    labelling_round_, query_scores_ : ndarray
        Each label's round (0 = seed set) and its query score when chosen (NaN when unknown).
    proxy_stale_ : bool
        ``True`` when the proxy's last retraining failed; :meth:`refit` retries.
    history_ : list of dict
        Per proxy training: ``round``, ``n_labelled``, ``n_trained``, ``fit_seconds``, ``epochs``.
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

    _parameter_constraints = {name: constraints for name, (constraints, _) in _PARAMETERS.items()}
    # the fitted networks, read from the learner's PrunedPair
    estimator_, full_init_module_ = _of_pair("template"), _of_pair("full_init")
    proxy_init_module_, kept_indices_ = _of_pair("proxy_init"), _of_pair("kept_indices")
    output_layers_, embedding_layer_ = _of_pair("output_layers"), _of_pair("embedding_layer")
    n_params_full_, n_params_proxy_ = _of_pair("n_params_full"), _of_pair("n_params_proxy")

    def __init__(self, estimator=None, *, pruning_ratio=0.5, importance="random", ignored_layers=None,
                 query_strategy="least_confidence", proxy_params=None, proxy_retrain="reinit", fused_params=None,
                 fusion_init="reinit",
                 distillation_weight=0.0, temperature=4.0, sync_every=0, scoring_memory=None, memory_format="auto",
                 random_state=None, verbose=0):
        self.estimator = estimator
        self.pruning_ratio = pruning_ratio
        self.importance = importance
        self.ignored_layers = ignored_layers
        self.query_strategy = query_strategy
        self.proxy_params = proxy_params
        self.proxy_retrain = proxy_retrain
        self.fused_params = fused_params
        self.fusion_init = fusion_init
        self.distillation_weight = distillation_weight
        self.temperature = temperature
        self.sync_every = sync_every
        self.scoring_memory = scoring_memory
        self.memory_format = memory_format
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    def _validate_params(self):
        validate_params(self, {name: rule for name, (_, rule) in _PARAMETERS.items()}, no_bools=_NO_BOOLS)
        check_seed_for_processes(self.estimator, self.random_state)  # accelerate launch: same choices everywhere
        if self.ignored_layers is not None and not all(isinstance(n, str) for n in self.ignored_layers):
            raise InvalidParameterError(f"ignored_layers must be a list of module names; got {self.ignored_layers!r}.")
        for name, what in (("proxy_params", "the proxy's module is the pruned full network"),
                           ("fused_params", "the fused network's module is the full network")):
            module_keys = [k for k in (getattr(self, name) or {}) if k == "module" or k.startswith("module__")]
            if module_keys:
                raise InvalidParameterError(
                    f"{name} cannot set {module_keys}: {what}. "
                    "Change the architecture on the estimator (e.g. estimator__module__hidden) instead."
                )
        get_strategy(self.query_strategy)

    def _log(self, message):
        if self.verbose:
            print(f"[PruneFuse] {message}", flush=True)

    def _warn_if_stale(self, action):
        if getattr(self, "proxy_stale_", False):
            warnings.warn(
                f"{action} uses a proxy trained on {self._proxy_n_labels} of the {len(self._labelled)} labels: "
                "its last retraining failed. Call learner.refit() to retrain it on all of them.",
                StaleProxyWarning,
                stacklevel=3,
            )

    # ------------------------------------------------------ modAL attributes
    @property
    def X_training(self):
        """ndarray: the labelled samples so far, float32 (int64 token ids for a text network; modAL's name);
        ``None`` before ``fit``."""
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
        """ndarray of float: each labelled sample's query score when chosen (NaN when unknown)."""
        check_is_fitted(self, "classes_")
        return self._labelled.scores

    # ------------------------------------------------------------- public API
    def fit(self, X, y):
        """Start over with ``(X, y)`` as the labelled set: prune a fresh init and train the proxy.

        Parameters
        ----------
        X : array-like, memmap or torch.Tensor of shape (n_samples, ...)
            Seed samples: features (converted to float32), or integer token ids (int64) when the
            network's input layer is an ``nn.Embedding``/``nn.EmbeddingBag`` (see :doc:`/text`).
        y : array-like of shape (n_samples,)
            Their labels.

        Returns
        -------
        self : PruneFuseActiveLearner
        """
        self._validate_params()
        X = as_samples(X)  # layout only: float32 or int64 is decided by the network's input layer below
        y = check_labels(y, len(X))
        if len(np.unique(y)) < 2 and self.estimator is None:
            raise LabelMappingError(
                f"The seed set has 1 class only ({np.unique(y).tolist()}, n_samples = {len(y)}); the default "
                "network needs at least 2 classes to size its output layer. Label samples of another class first."
            )
        self._forget_fit()  # a fit that fails below leaves an unfitted learner, not a half-fitted one
        rng = as_random_state(self.random_state)
        template = self._template(X.shape[1:], len(np.unique(y)))
        full = initialized_module(template, seed=draw_seed(rng))
        X = check_inputs(X, token_input=token_input(full))
        example = example_batch(X, template.device)
        classes = resolve_classes(y, output_width(full, example), getattr(template, "classes", None))
        y_encoded = encode_labels(y, classes)
        prune_seed = draw_seed(rng)
        self._pair = PrunedPair.prune(template, full, example, **self._pruning_params(prune_seed))
        self.classes_ = classes
        self._rng, self._prune_seed, self._sample_shape = rng, prune_seed, tuple(X.shape[1:])
        if X.ndim == 2:
            self.n_features_in_ = X.shape[1]
        self._labelled = LabelledSet.start(X, y, y_encoded)
        self._last_query, self._proxy_n_labels, self.history_ = None, 0, []
        self._fuse_seed = draw_seed(rng)  # fuse() draws from its own fixed stream: fusing twice gives the same net
        self._schedule_retrain()
        self._retrain_proxy()
        return self

    def teach(self, X=None, y=None, *, only_new=False):
        """Add labelled samples and retrain the proxy.

        The labels are stored before the proxy is retrained, so a failed retraining
        (a callback error, CUDA out of memory, ``KeyboardInterrupt``) loses none: the
        exception propagates, the previous proxy stays, ``proxy_stale_`` becomes
        ``True`` and :meth:`refit` (or ``teach()`` with no data) retries. A fused
        network from an earlier :meth:`fuse` is dropped.

        Parameters
        ----------
        X : array-like, memmap or torch.Tensor of shape (n_new, ...), default=None
            The newly labelled samples; ``None`` with ``y=None`` retries like :meth:`refit`.
        y : array-like of shape (n_new,), default=None
            Their labels; each must map to an output unit (see ``classes_``).
        only_new : bool, default=False
            As in modAL: continue training the proxy on the new rows only (the
            labelled set still grows); otherwise retrain per ``proxy_retrain``.

        Returns
        -------
        self : PruneFuseActiveLearner
        """
        check_is_fitted(self, "classes_")
        check_flags("teach", only_new=only_new)
        if X is None and y is None:
            return self.refit()
        self._validate_params()
        if X is None or y is None:
            raise ValueError("Pass both X and y to teach new labels, or neither to retry the proxy's retraining.")
        X = self._check_inputs(X)
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
        """Retrain the proxy on the labelled set, or rerun a failed retraining with the same seed.

        Returns
        -------
        self : PruneFuseActiveLearner
        """
        check_is_fitted(self, "classes_")
        self._validate_params()
        if self.__dict__.get("_pending_retrain") is None:
            self.__dict__.pop("fused_", None)
            self._schedule_retrain()
        self._retrain_proxy()
        return self

    def query(self, X_pool, n=1, *, n_instances=None, return_scores=False, max_candidates=None, **strategy_kwargs):
        """Choose the pool samples to label next, scored by the proxy.

        Parameters
        ----------
        X_pool : array-like, memmap, torch.Tensor, dask array or dask DataFrame of shape (n_pool, ...)
            Unlabelled samples, handed to the strategy exactly as given. A dask pool is scored
            where its blocks live and never collected (see :doc:`/scaling_out`).
        n, n_instances : int, default=1
            How many samples to choose (``n_instances`` is modAL's name).
        return_scores : bool, default=False
            Also return the strategy's scores of the chosen samples.
        max_candidates : int, default=None
            Score only a random subset of this many pool rows; indices still refer to ``X_pool``.
        **strategy_kwargs
            Passed to the strategy.

        Returns
        -------
        indices : ndarray of shape (n,)
            Unique row indices into ``X_pool``, best first for the built-in strategies.
        X_selected : same type as X_pool
            ``X_pool[indices]``; for a dask pool, those rows computed to a numpy array.
        scores : ndarray of shape (n,)
            Only with ``return_scores=True``.
        """
        check_is_fitted(self, "proxy_")
        self._validate_params()  # parameters may have changed with set_params since fit
        self._warn_if_stale("query")
        if is_dask_pool(X_pool):  # scored where its blocks live (strategies.distributed)
            X_pool = as_dask_array(X_pool)
        if not isinstance(X_pool, dict):  # modAL's dropout strategies also take dicts of tensors
            check_sample_shape(X_pool, name="X_pool", n_features_shape=self._sample_shape, min_samples=0,
                               accept_sparse=True)
            X_pool = as_row_sliceable(X_pool)  # a sparse pool of any format, as CSR (still sparse)
        strategy = get_strategy(self.query_strategy)
        indices, scores, selected = select_from_pool(
            strategy, self._selector_view(), X_pool, n, n_instances=n_instances, max_candidates=max_candidates,
            rng=self._rng, return_rows=True, **strategy_kwargs,
        )
        tokens = token_input(self.full_init_module_)
        rows = None if isinstance(selected, dict) else as_float32(selected) if tokens is None else np.asarray(selected, dtype=np.int64)
        if tokens is None and rows is not None and not np.isfinite(rows).all():
            raise NonFiniteInputError(
                "X_pool contains NaN or infinity in the selected rows; impute or drop those rows before querying."
            )
        self._last_query = QueryRecord(rows, scores) if scores is not None and rows is not None else None
        if not return_scores:
            return indices, selected
        if scores is None:
            raise InvalidParameterError(
                f"The strategy {getattr(strategy, '__name__', strategy)!r} returns indices only; "
                "return_scores=True needs one that returns (indices, scores)."
            )
        return indices, selected, scores

    def fuse(self, X=None, y=None, *, train=True, max_epochs=None):
        """Fuse the trained proxy into the full-size network and (by default) train it.

        Every tensor of the trained proxy (weights, biases, BatchNorm statistics) is
        written into exactly the positions it was pruned from; the rest per ``fusion_init``.

        Parameters
        ----------
        X, y : array-like, default=None
            Train on these instead of the labelled set.
        train : bool, default=True
            ``False`` returns the fused network initialized but untrained.
        max_epochs : int, default=None
            Train for this many epochs instead of the estimator's (or ``fused_params``')
            ``max_epochs``: the fused network's head start from the trained proxy lets it
            reach a scratch-trained network's accuracy in fewer epochs.

        Returns
        -------
        clf : FusedNeuralNetClassifier
            Fitted, also stored as ``fused_``. Its ``module`` parameter holds the fused,
            untrained weights, so ``clone(clf)`` (``GridSearchCV``) starts from them.
        """
        check_is_fitted(self, "proxy_")
        check_flags("fuse", train=train)
        self._validate_params()
        if max_epochs is not None and (isinstance(max_epochs, bool) or not isinstance(max_epochs, Integral)
                                       or max_epochs < 1):
            raise InvalidParameterError(f"max_epochs must be a positive integer or None; got {max_epochs!r}.")
        self._warn_if_stale("fuse")
        if (X is None) != (y is None):
            raise ValueError("Pass both X and y to fuse on other data, or neither to use the labelled set.")
        if X is None:
            X, y = self.X_training, self.y_training
        else:
            X = self._check_inputs(X)
            y = check_labels(y, len(X))
            encode_labels(y, self.classes_)  # fail before building anything
        net, seed = self._new_fused_net()
        if max_epochs is not None:
            net.set_params(max_epochs=int(max_epochs))
        if train:
            seconds = fit_seeded(net, X, y, seed=seed)
            self._log(f"fused network trained on {len(X)} labels in {seconds:.2f}s")
        else:
            net.initialize()
        self.fused_ = net
        return net

    def predict_proba(self, X):
        """Class probabilities (columns follow ``classes_``) from the fused network, or the proxy before it.

        Parameters
        ----------
        X : array-like, memmap or torch.Tensor of shape (n_samples, ...)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self, "proxy_")
        fused = self.__dict__.get("fused_")
        return self._selector_view(self.proxy_ if fused is None else fused).predict_proba(X)

    def predict(self, X):
        """Predicted labels: ``classes_[argmax(predict_proba(X))]`` of shape (n_samples,)."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    # ------------------------------------------------------------ persistence
    def save(self, path):
        """Write the learner to a checkpoint that loads without executing code (atomically).

        Holds the parameters and :meth:`_get_state` in the format of
        :mod:`~prunefuse_sk.persistence` (JSON, ``.npy`` without pickle, tensors read
        with ``weights_only=True``); a crash while saving leaves the previous file intact.

        Parameters
        ----------
        path : str or os.PathLike
            The checkpoint file to write (conventionally ``*.pfsk``).

        Returns
        -------
        path : str
        """
        check_is_fitted(self, "classes_")
        return persistence.save_checkpoint(path, self.get_params(deep=False), self._get_state())

    @classmethod
    def load(cls, path, estimator=None, **params):
        """Rebuild a learner saved by :meth:`save`, ready to query, teach and fuse.

        As with skorch's ``load_params``, the network's code is not in the file: pass
        the unfitted ``estimator`` used at ``fit`` (``None`` for the default MLP), and
        any parameter that is not JSON (a custom strategy function); the error says which.

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
            Its next queries and fused network equal an uninterrupted run's (on CPU).

        Raises
        ------
        CheckpointError, CheckpointVersionError, UnsafeCheckpointError, CheckpointMismatchError
            See :func:`~prunefuse_sk.persistence.load_checkpoint`; a mismatch when
            ``estimator`` builds another network than the saved one.
        """
        saved, state = persistence.load_checkpoint(path, cls._get_param_names(), estimator=estimator, **params)
        restore_stream = saved.get("random_state") == persistence.RANDOM_STATE_INSTANCE
        if restore_stream:
            saved["random_state"] = None
        learner = cls(estimator=estimator, **saved)
        learner._validate_params()
        learner._set_state(state, source=repr(str(path)))
        if restore_stream:  # the parameter was this very stream
            learner.random_state = learner._rng
        return learner

    # -------------------------------------------------------------- building
    def _template(self, sample_shape, n_classes):
        if self.estimator is None:
            return default_estimator(int(np.prod(sample_shape)), n_classes)
        return clone(self.estimator)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # labelled rows are densified, pools one scoring batch at a time
        return tags

    def _check_inputs(self, X):
        """New samples as the network takes them (float32, or int64 token ids), shaped as at ``fit``."""
        return check_inputs(X, token_input=token_input(self.full_init_module_), n_features_shape=self._sample_shape)

    def _pruning_params(self, seed):
        return {"pruning_ratio": self.pruning_ratio, "importance": self.importance,
                "ignored_layers": self.ignored_layers, "random_state": seed}

    def _new_proxy(self):
        return self._pair.new_proxy(self.proxy_params, self.memory_format)

    def _new_fused_net(self, start=None):
        """An unfitted fused network (the trained proxy's tensors in place) and the seed to train it with."""
        return self._pair.new_fused_net(self.proxy_.module_, classes=self.classes_, fuse_seed=self._fuse_seed,
                                        seeded=self.random_state is not None, start=start,
                                        **{name: getattr(self, name) for name in _FUSION_PARAMS})

    def _selector_view(self, net=None):
        """What a query strategy sees: this learner, with ``estimator`` and predictions resolved to ``net``."""
        return SelectorView(
            self.proxy_ if net is None else net, self.X_training, self.y_training, classes=self.classes_,
            embedding_layer=self.embedding_layer_, sample_shape=self._sample_shape, progress=bool(self.verbose),
            owner=self, scoring_memory=self.scoring_memory,
        )

    # -------------------------------------------------------------- retraining
    def _schedule_retrain(self, *, only_new=False, sync=False):
        self.proxy_stale_, self._pending_retrain = True, schedule_retraining(self._rng, only_new=only_new, sync=sync)

    def _retrain_proxy(self):
        """Run the scheduled retraining (:mod:`~prunefuse_sk.retraining`); swap the proxy in only on success."""
        pending, labelled = self._pending_retrain, self._labelled
        if pending.get("sync"):
            self._sync()  # the next proxy comes from the trained full network
        current = None if pending.get("synced") else self.__dict__.get("proxy_")
        net, entry = run_retraining(pending, current, self._new_proxy, labelled, trained_until=self._proxy_n_labels,
                                    proxy_retrain=self.proxy_retrain, init_module=self.proxy_init_module_)
        self.proxy_, self._proxy_n_labels, self._pending_retrain, self.proxy_stale_ = net, len(labelled), None, False
        self.history_.append(entry)
        self._log(
            f"round {entry['round']}: proxy trained on {entry['n_labelled']} labels in {entry['fit_seconds']:.2f}s, "
            f"{entry['epochs']} epochs ({self.n_params_proxy_:,} of {self.n_params_full_:,} parameters)"
        )

    def _sync(self):
        """T_sync: fuse, train the full network, prune the trained network into the next proxy."""
        net, seed = self._new_fused_net()
        self._pair, stats = self._pair.synced(net, self.X_training, self._labelled.y, seed=seed,
                                              **self._pruning_params(self._prune_seed))
        self.__dict__.pop("fused_", None)
        # done: a retry after a failure further on only retrains the proxy, from the synced init
        self._pending_retrain.update(sync=False, synced=True, sync_stats=stats)
        self._log(f"synced: full network trained on {len(self._labelled)} labels and pruned again")

    # ------------------------------------------------------ the state registry
    def _forget_fit(self):
        """Drop every fitted attribute and the private state that goes with them."""
        for name in list(self.__dict__):
            if (name.endswith("_") and not name.startswith("__")) or name in _PRIVATE_STATE:
                del self.__dict__[name]

    def _get_state(self):
        """Everything ``fit``/``teach``/``fuse`` produced, as plain data: the single registry of fitted state.

        Networks appear as CPU state dicts (with optimizer state and skorch
        history), the rest as arrays and JSON data. Checkpoints (:meth:`save`),
        pickles and :meth:`_set_state` all go through this one description.

        Returns
        -------
        state : dict
            A flat dict of ndarrays, state dicts and JSON data.
        """
        rng_position, rng_keys = random_state_as_data(self._rng)
        proxy, fused = self.__dict__.get("proxy_"), self.__dict__.get("fused_")
        state = {key: getattr(self, attr, None) for attr, key in _PLAIN_STATE.items()}
        state.update(self._pair.as_state(), **self._labelled.as_arrays(), rng=rng_position, rng_keys=rng_keys,
                     sample_shape=list(self._sample_shape), has_proxy=proxy is not None, has_fused=fused is not None)
        if self._last_query is not None:
            state["last_query_rows"], state["last_query_scores"] = self._last_query.rows, self._last_query.scores
        if proxy is not None:
            state.update(net_state(proxy, "proxy"))
        if fused is not None:
            state.update(net_state(fused, "fused", init=True))
        return state

    def _set_state(self, state, *, source="the saved state"):
        """Rebuild every fitted attribute from :meth:`_get_state`'s output; the networks are re-created.

        Raises
        ------
        CheckpointMismatchError
            If this learner's estimator or pruning parameters build another network than the saved one.
        """
        self._forget_fit()
        load = functools.partial(load_weights, source=source)
        labelled, sample_shape = LabelledSet.from_arrays(state), tuple(state["sample_shape"])
        template = self._template(sample_shape, len(state["classes"]))
        self._pair = PrunedPair.from_state(template, state, example_batch(labelled.X, template.device), load,
                                           **self._pruning_params(state["prune_seed"]))
        for attr, key in _PLAIN_STATE.items():
            if state.get(key) is not None or attr[0] == "_":
                setattr(self, attr, state.get(key))
        self.history_, self._labelled, self._sample_shape = list(self.history_), labelled, sample_shape
        self._rng = random_state_from_data(state["rng"], state["rng_keys"])
        self._last_query = None
        if "last_query_rows" in state:
            self._last_query = QueryRecord(state["last_query_rows"], state["last_query_scores"])
        if state["has_proxy"]:
            self.proxy_ = restore_net_state(self._new_proxy().initialize(), state, "proxy", load)
            self.proxy_.module = copy.deepcopy(self.proxy_init_module_)  # as after training: `module` is the init
        if state["has_fused"]:
            start = load(copy.deepcopy(self.full_init_module_), state["fused_init"], "fused network")
            with torch_seed_scope(0, template.device):  # initialize() draws weights that are overwritten next
                self.fused_ = restore_net_state(self._new_fused_net(start)[0].initialize(), state, "fused", load)

    def __getstate__(self):
        state = {name: value for name, value in super().__getstate__().items() if name in self._get_param_names()
                 or name == "_sklearn_version"}
        # a net with device=None (skorch's AccelerateMixin) unpickles with device=None, not skorch's "cpu"
        state["estimator"] = picklable(state.get("estimator"))
        if "classes_" in self.__dict__:
            state["_fitted_state"] = self._get_state()
        return state

    def __setstate__(self, state):
        state = dict(state)
        fitted = state.pop("_fitted_state", None)
        super().__setstate__(state)
        if fitted is not None:
            self._set_state(fitted)


