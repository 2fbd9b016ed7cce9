"""``PruneFuseActiveLearner``: prune at init, select with the proxy, fuse back.

The estimator checks its input and keeps the state; the work is delegated (see CONTRIBUTING.md's module map).
"""

import copy
import functools

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.validation import check_is_fitted

from . import persistence
from ._random import as_random_state, draw_seed, random_state_as_data, random_state_from_data, torch_seed_scope
from ._skorch import fit_seeded, initialized_module, load_weights, net_state, picklable, restore_net_state
from .labelled import LabelledSet, QueryRecord
from .learner_params import CONSTRAINTS, check_learner_params
from .networks import default_estimator
from .pools import check_pool, selected_rows
from .pruned_pair import PrunedPair
from .pruning import example_batch, output_width, token_input
from .retraining import ProxyRetraining
from .strategies import SelectorView, get_strategy, select_from_pool
from .validation import as_samples, check_flags, check_inputs, check_int, check_labels, check_two_classes
from .validation import encode_labels, resolve_classes

__all__ = ["PruneFuseActiveLearner"]

# The state registry (see _get_state): attributes kept as plain data, with their key in the state ...
_PLAIN_STATE = {"classes_": "classes", "n_features_in_": "n_features_in", "_prune_seed": "prune_seed",
                "_fuse_seed": "fuse_seed"}
# ... and the objects that turn themselves into data: the networks, the proxy's retraining, the labelled set
_PRIVATE_STATE = ("_pair", "_retraining", "_labelled", "_last_query", "_rng", "_sample_shape", *_PLAIN_STATE)
_FUSION_PARAMS = ("fusion_init", "fused_params", "distillation_weight", "temperature", "memory_format")


def _read_from(owner, name, doc=None, *, none_before_fit=False):
    """A fitted attribute read from one of the learner's state objects (``_pair``, ``_retraining``, ``_labelled``)."""
    def get(self):
        if not none_before_fit:
            check_is_fitted(self, "classes_")
        value = getattr(self.__dict__.get(owner), name, None)
        if value is None and not none_before_fit:
            raise AttributeError("The learner has no trained proxy: its first retraining failed; call refit().")
        return value
    return property(get, doc=doc)


class PruneFuseActiveLearner(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Active learning with a pruned proxy that is fused back into the full network (PruneFuse).

    ``fit`` prunes the full-size network at its random initialization into a small proxy and
    trains it on the seed set; ``query`` scores a pool with the proxy; ``teach`` adds labels and
    retrains it; ``fuse`` writes the trained proxy's weights into their original positions of the
    full-size network and trains that, returning a fitted skorch classifier. See :doc:`/method`.

    Parameters
    ----------
    estimator : skorch.NeuralNetClassifier, default=None
        Unfitted full-size net, cloned (never modified). ``None``: :func:`~prunefuse_sk.networks.default_estimator`.
    pruning_ratio : float, default=0.5
        Fraction of channels removed from every prunable layer, in (0, 1): the proxy costs ~``(1 - p)²`` the FLOPs.
    importance : {"random", "l2", "l1"}, default="random"
        How channels are ranked when pruning (at init and at each T_sync). ``"random"`` measured best
        on Fashion-MNIST and Animal-MNIST (+0.94, +0.35 points over the paper's ``"l2"``, 3 seeds).
    ignored_layers : list of str, default=None
        Module names never pruned; the layers producing the outputs are protected automatically.
    query_strategy : str or callable, default="least_confidence"
        A name in :data:`~prunefuse_sk.strategies.STRATEGIES`, or any modAL-style
        ``strategy(learner, X_pool, n_instances=1, **kw)`` returning indices or ``(indices, scores)``.
    proxy_params : dict, default=None
        skorch parameter overrides for the proxy, e.g. ``{"max_epochs": 10}``.
    proxy_retrain : {"reinit", "warm"}, default="reinit"
        Each ``teach`` retrains the proxy from its pruned init, or continues training it (with fewer epochs).
    fused_params : dict, default=None
        skorch parameter overrides for the fused network, e.g. ``{"max_epochs": 8}`` (fewer: it starts trained).
    fusion_init : {"reinit", "keep", "zero"}, default="reinit"
        What the fused network holds outside the proxy's positions: a fresh initialization,
        the initial values, or zeros (which keeps only the proxy's capacity; for exactness checks).
    distillation_weight : float, default=0.0
        α in ``(1 - α) CE + α T² KL(teacher_T || student_T)`` when training the fused net (teacher: the proxy).
    temperature : float, default=4.0
        T in the distillation loss.
    sync_every : int, default=0
        T_sync: every ``sync_every`` rounds, fuse, train the full network and prune the *trained*
        network into the next proxy (pair with ``fusion_init="keep"``). 0 never syncs.
    scoring_memory : float, default=None
        MiB of activations per pool-scoring batch
        (None: :data:`~prunefuse_sk.strategies.scoring.DEFAULT_SCORING_MEMORY`).
    memory_format : {"auto", "channels_last", "contiguous"}, default="auto"
        Memory format of convolution weights; ``"auto"``: :func:`~prunefuse_sk.kernels.resolve_memory_format`.
    random_state : int, RandomState instance or None, default=None
        Seeds every random choice: initialization, pruning ties, training shuffles, strategies.
    verbose : int, default=0
        0 silent; 1 a line per round and progress bars on pool scoring.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The label of each output unit.
    fused_ : FusedNeuralNetClassifier
        The fitted full-size classifier, once :meth:`fuse` has run.
    n_features_in_ : int
        Number of features when the samples are 1-D.
    estimator_ : skorch.NeuralNetClassifier
        The unfitted full-size net actually used (a clone, or the default).
    full_init_module_, proxy_init_module_ : torch.nn.Module
        The full network and the proxy at their initialization (CPU).
    kept_indices_ : dict of str to KeptIndices
        Where every proxy tensor sits inside the full-size tensor.
    output_layers_, embedding_layer_ : tuple of str, str
        Layers whose output units were protected; the one whose input is the embedding (k-center, BADGE).
    n_params_full_, n_params_proxy_ : int
        Parameter counts.
    proxy_
    proxy_stale_
    history_
    X_training
    y_training
    labelling_round_
    query_scores_

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from prunefuse_sk import PruneFuseActiveLearner
    >>> X, y = load_digits(return_X_y=True)
    >>> learner = PruneFuseActiveLearner(random_state=0).fit(X[:50] / 16, y[:50])
    >>> idx, X_new = learner.query(X[50:] / 16, n=20)
    >>> clf = learner.teach(X_new, y[50:][idx]).fuse()
    >>> round(clf.score(X[1500:] / 16, y[1500:]), 1) > 0.5
    True
    """

    _parameter_constraints = CONSTRAINTS
    # fitted attributes, read from the objects that hold the state
    (estimator_, full_init_module_, proxy_init_module_, kept_indices_, output_layers_, embedding_layer_, n_params_full_,
     n_params_proxy_) = (_read_from("_pair", name) for name in ("template", "full_init", "proxy_init", "kept_indices",
                                                                 "output_layers", "embedding_layer", "n_params_full",
                                                                 "n_params_proxy"))  # documented above
    proxy_ = _read_from("_retraining", "net", "skorch.NeuralNetClassifier: the fitted proxy.")
    proxy_stale_ = _read_from("_retraining", "stale", "bool: the last retraining failed; refit() retries.")
    history_ = _read_from("_retraining", "history", "list of dict: per proxy training (round, labels, seconds).")
    labelling_round_ = _read_from("_labelled", "rounds", "ndarray of int: each label's round (0 = seed set).")
    query_scores_ = _read_from("_labelled", "scores", "ndarray: each label's query score (NaN when unknown).")
    X_training = _read_from("_labelled", "X", "ndarray: the labelled samples (modAL's name).", none_before_fit=True)
    y_training = _read_from("_labelled", "y", "ndarray: their labels (modAL's name).", none_before_fit=True)

    def __init__(self, estimator=None, *, pruning_ratio=0.5, importance="random", ignored_layers=None,
                 query_strategy="least_confidence", proxy_params=None, proxy_retrain="reinit", fused_params=None,
                 fusion_init="reinit", distillation_weight=0.0, temperature=4.0, sync_every=0, scoring_memory=None,
                 memory_format="auto", random_state=None, verbose=0):
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

    def _validate_params(self):
        check_learner_params(self)  # each parameter against its constraints, then the checks across them

    def _log(self, message):
        if self.verbose:
            print(f"[PruneFuse] {message}", flush=True)

    # ------------------------------------------------------------- public API
    def fit(self, X, y):
        """Start over with ``(X, y)`` as the labelled set: prune a fresh init and train the proxy.

        Parameters
        ----------
        X : array-like, memmap or torch.Tensor of shape (n_samples, ...)
            Seed samples: features (float32), or token ids (int64) for an embedding input (:doc:`/text`).
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : PruneFuseActiveLearner
        """
        self._validate_params()
        X = as_samples(X)  # layout only: float32 or int64 is decided by the network's input layer below
        y = check_labels(y, len(X))
        if self.estimator is None:
            check_two_classes(y, "the default network needs at least 2 classes to size its output layer")
        self._forget_fit()  # a fit that fails below leaves an unfitted learner, not a half-fitted one
        rng = as_random_state(self.random_state)
        template = self._template(X.shape[1:], len(np.unique(y)))
        full = initialized_module(template, seed=draw_seed(rng))
        X = check_inputs(X, token_input=token_input(full))
        example = example_batch(X, template.device)
        classes = resolve_classes(y, output_width(full, example), getattr(template, "classes", None))
        y_encoded, prune_seed = encode_labels(y, classes), draw_seed(rng)
        self._pair = PrunedPair.prune(template, full, example, **self._pruning_params(prune_seed))
        self.classes_, self._rng, self._prune_seed, self._sample_shape = classes, rng, prune_seed, tuple(X.shape[1:])
        if X.ndim == 2:
            self.n_features_in_ = X.shape[1]
        self._labelled, self._last_query, self._retraining = LabelledSet.start(X, y, y_encoded), None, ProxyRetraining()
        self._fuse_seed = draw_seed(rng)  # fuse() draws from its own fixed stream: fusing twice gives the same net
        self._retraining.schedule(rng)
        self._retrain_proxy()
        return self

    def teach(self, X=None, y=None, *, only_new=False):
        """Add labelled samples and retrain the proxy (an earlier fused network is dropped).

        The labels are stored first: if retraining fails, none is lost, the previous proxy stays,
        ``proxy_stale_`` becomes True and :meth:`refit` retries (:doc:`/reliability`).

        Parameters
        ----------
        X, y : array-like of shape (n_new, ...) and (n_new,), default=None
            The newly labelled samples and their labels; both ``None`` retries like :meth:`refit`.
        only_new : bool, default=False
            As in modAL: continue training on the new rows only; otherwise retrain per ``proxy_retrain``.

        Returns
        -------
        self : PruneFuseActiveLearner
        """
        check_is_fitted(self, "classes_")
        check_flags("teach", only_new=only_new)
        if X is None and y is None:
            return self.refit()
        self._validate_params()
        X, y, y_encoded = self._check_labelled(X, y, "to teach new labels, or neither to retry the proxy's retraining")
        scores = np.full(len(X), np.nan) if self._last_query is None else self._last_query.scores_of(X)
        # one assignment: the labelled set is either the old one or the old one plus all new rows
        self._labelled, self._last_query = self._labelled.extend(X, y, y_encoded, scores), None
        self.__dict__.pop("fused_", None)
        sync = bool(self.sync_every) and self._labelled.last_round % self.sync_every == 0
        self._retraining.schedule(self._rng, only_new=only_new, sync=sync)
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
        if not self._retraining.stale:
            self.__dict__.pop("fused_", None)
            self._retraining.schedule(self._rng)
        self._retrain_proxy()
        return self

    def query(self, X_pool, n=1, *, n_instances=None, return_scores=False, max_candidates=None, **strategy_kwargs):
        """Choose the pool samples to label next, scored by the proxy.

        Parameters
        ----------
        X_pool : array-like, memmap, torch.Tensor, sparse matrix or dask collection of shape (n_pool, ...)
            Unlabelled samples; a dask pool is scored where its blocks live (:doc:`/scaling_out`).
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
        X_selected : same type as X_pool (numpy for a dask pool)
            ``X_pool[indices]``.
        scores : ndarray of shape (n,), only with ``return_scores=True``
        """
        check_is_fitted(self, "proxy_")
        self._validate_params()  # parameters may have changed with set_params since fit
        self._retraining.warn_if_stale("query", len(self._labelled))
        pool = check_pool(X_pool, n_features_shape=self._sample_shape)
        indices, scores, selected = select_from_pool(
            get_strategy(self.query_strategy), self._selector_view(), pool, n, n_instances=n_instances, rng=self._rng,
            max_candidates=max_candidates, return_rows=True, require_scores=return_scores, **strategy_kwargs)
        rows = selected_rows(selected, token_ids=token_input(self.full_init_module_) is not None)
        self._last_query = QueryRecord(rows, scores) if scores is not None and rows is not None else None
        return (indices, selected, scores) if return_scores else (indices, selected)

    def fuse(self, X=None, y=None, *, train=True, max_epochs=None):
        """Write every trained proxy tensor into the positions it was pruned from, and train the result.

        Parameters
        ----------
        X, y : array-like, default=None
            Train on these instead of the labelled set.
        train : bool, default=True
            ``False`` returns the fused network initialized but untrained.
        max_epochs : int, default=None
            Train for this many epochs instead of the estimator's (or ``fused_params``').

        Returns
        -------
        clf : FusedNeuralNetClassifier
            Fitted, also ``fused_``; ``clone(clf)`` (``GridSearchCV``) starts from the fused weights.
        """
        check_is_fitted(self, "proxy_")
        check_flags("fuse", train=train)
        self._validate_params()
        max_epochs = check_int(max_epochs, "max_epochs", allow_none=True, what="a positive integer")
        self._retraining.warn_if_stale("fuse", len(self._labelled))
        if X is None and y is None:
            X, y = self.X_training, self.y_training
        else:  # fail before building anything
            X, y, _ = self._check_labelled(X, y, "to fuse on other data, or neither to use the labelled set")
        net, seed = self._new_fused_net()
        net = net if max_epochs is None else net.set_params(max_epochs=max_epochs)
        if train:
            seconds = fit_seeded(net, X, y, seed=seed)
            self._log(f"fused network trained on {len(X)} labels in {seconds:.2f}s")
        else:
            net.initialize()
        self.fused_ = net
        return net

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes) from the fused network, or the proxy before ``fuse``."""
        check_is_fitted(self, "proxy_")
        return self._selector_view(self.__dict__.get("fused_", self.proxy_)).predict_proba(X)

    def predict(self, X):
        """Predicted labels: ``classes_[argmax(predict_proba(X))]`` of shape (n_samples,)."""
        proba = self.predict_proba(X)  # first: NotFittedError before fit
        return self.classes_[proba.argmax(axis=1)]

    # ------------------------------------------------------------ persistence
    def save(self, path):
        """Write the parameters and :meth:`_get_state` atomically to a checkpoint that loads without running code.

        Parameters
        ----------
        path : str or os.PathLike
            Conventionally ``*.pfsk``.

        Returns
        -------
        path : str
        """
        check_is_fitted(self, "classes_")
        return persistence.save_checkpoint(path, self.get_params(deep=False), self._get_state())

    @classmethod
    def load(cls, path, estimator=None, **params):
        """Rebuild a learner saved by :meth:`save`; its next queries equal an uninterrupted run's (on CPU).

        Parameters
        ----------
        path : str or os.PathLike
        estimator : skorch.NeuralNetClassifier, default=None
            The unfitted net given to the saved learner: as with skorch's ``load_params``, code is not saved.
        **params
            Parameters that replace the saved ones (those that are not JSON, e.g. a strategy function).

        Returns
        -------
        learner : PruneFuseActiveLearner

        Raises
        ------
        CheckpointError, CheckpointVersionError, UnsafeCheckpointError, CheckpointMismatchError
            See :func:`~prunefuse_sk.persistence.load_checkpoint`; a mismatch when ``estimator`` differs.
        """
        saved, state = persistence.load_checkpoint(path, cls._get_param_names(), estimator=estimator, **params)
        stream = saved.get("random_state") == persistence.RANDOM_STATE_INSTANCE  # the parameter was the stream
        learner = cls(estimator=estimator, **{**saved, "random_state": None} if stream else saved)
        learner._validate_params()
        learner._set_state(state, source=repr(str(path)))
        learner.random_state = learner._rng if stream else learner.random_state
        return learner

    def _template(self, sample_shape, n_classes):
        estimator = self.estimator
        return clone(estimator) if estimator is not None else default_estimator(int(np.prod(sample_shape)), n_classes)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # labelled rows are densified, pools one scoring batch at a time
        return tags

    def _check_labelled(self, X, y, pass_both):
        """New samples as the network takes them (float32 or int64 token ids), their labels and output units."""
        if X is None or y is None:
            raise ValueError(f"Pass both X and y {pass_both}.")
        X = check_inputs(X, token_input=token_input(self.full_init_module_), n_features_shape=self._sample_shape)
        y = check_labels(y, len(X))
        return X, y, encode_labels(y, self.classes_)

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
        return SelectorView(self.proxy_ if net is None else net, self.X_training, self.y_training, owner=self,
                            classes=self.classes_, embedding_layer=self.embedding_layer_, progress=bool(self.verbose),
                            sample_shape=self._sample_shape, scoring_memory=self.scoring_memory)

    def _retrain_proxy(self):
        """Run the scheduled retraining (:class:`~prunefuse_sk.retraining.ProxyRetraining`), after T_sync if due."""
        pending = self._retraining.pending
        if pending.get("sync"):  # T_sync: fuse, train the full network, prune the *trained* one into the next pair
            net, seed = self._new_fused_net()
            self._pair, stats = self._pair.synced(net, self.X_training, self._labelled.y, seed=seed,
                                                  **self._pruning_params(self._prune_seed))
            self.__dict__.pop("fused_", None)
            pending.update(sync=False, synced=True, sync_stats=stats)  # a retry only retrains the proxy
        entry = self._retraining.run(self._new_proxy, self._labelled, proxy_retrain=self.proxy_retrain,
                                     init_module=self.proxy_init_module_)
        synced = " after a T_sync step" if "sync" in entry else ""
        self._log(f"round {entry['round']}: proxy trained on {entry['n_labelled']} labels in {entry['fit_seconds']:.2f}s"
                  f"{synced}, {entry['epochs']} epochs ({self.n_params_proxy_:,} of {self.n_params_full_:,} parameters)")

    # ------------------------------------------------------ the state registry
    def _forget_fit(self):
        """Drop every fitted attribute and the private state that goes with them."""
        for name in list(self.__dict__):
            if (name.endswith("_") and not name.startswith("__")) or name in _PRIVATE_STATE:
                del self.__dict__[name]

    def _get_state(self):
        """The single registry of fitted state: a flat dict of arrays, state dicts and JSON (saves, pickles)."""
        rng_position, rng_keys = random_state_as_data(self._rng)
        fused = self.__dict__.get("fused_")
        state = {key: getattr(self, attr, None) for attr, key in _PLAIN_STATE.items()}
        state.update(self._pair.as_state(), **self._retraining.as_state(), **self._labelled.as_arrays(),
                     rng=rng_position, rng_keys=rng_keys, sample_shape=list(self._sample_shape),
                     has_fused=fused is not None)
        if self._last_query is not None:
            state.update(self._last_query.as_arrays())
        if fused is not None:
            state.update(net_state(fused, "fused", init=True))
        return state

    def _set_state(self, state, *, source="the saved state"):
        """Rebuild every fitted attribute from :meth:`_get_state`'s output; the networks are re-created.

        Raises CheckpointMismatchError if the estimator or pruning parameters build another network.
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
        self._labelled, self._sample_shape, self._last_query = labelled, sample_shape, QueryRecord.from_arrays(state)
        self._rng = random_state_from_data(state["rng"], state["rng_keys"])
        self._retraining = ProxyRetraining.from_state(state, self._new_proxy, load, self.proxy_init_module_)
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


