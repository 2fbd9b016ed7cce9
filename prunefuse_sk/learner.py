"""``PruneFuseActiveLearner``: prune at init, select with the proxy, fuse back.

The estimator checks its input and keeps the state; the work is delegated (see
CONTRIBUTING.md's module map): :mod:`~prunefuse_sk.pruned_pair` holds the full-size
network and the proxy pruned from it (pruning, fusion, T_sync), :mod:`~prunefuse_sk.retraining`
trains the proxy, :mod:`~prunefuse_sk.strategies` scores the pool behind one strategy
contract, :mod:`~prunefuse_sk.pools` reads every kind of pool, :mod:`~prunefuse_sk.labelled`
keeps the labelled set and :mod:`~prunefuse_sk.persistence` writes the checkpoint file.
"""

import copy
import functools

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.validation import check_is_fitted

from . import persistence
from ._random import (
    as_random_state,
    draw_seed,
    random_state_as_data,
    random_state_from_data,
    torch_seed_scope,
)
from .architecture import (
    example_batch,
    is_convolutional,
    output_width,
    token_input,
    unwrap_module,
)
from .exceptions import ProxyVocabularyError
from .fused_stopping import add_fused_stopping, resolve_fused_stopping, stop_reason
from .fusion import resolve_fusion_layers, resolve_fusion_shrink
from .inputs import as_samples, check_inputs
from .labelled import LabelledSet, QueryRecord
from .labels import check_labels, check_two_classes, encode_labels, resolve_classes
from .learner_params import CONSTRAINTS, check_learner_params
from .net_snapshots import load_weights, net_state, picklable, restore_net_state
from .networks import default_estimator
from .parameter_checks import check_flags, check_int
from .pools import as_pool, selected_rows
from .proxy_dropout import proxy_dropout_layers
from .proxy_learning_rate import proxy_lr_overrides, resolve_proxy_lr_scale
from .proxy_vocabulary import ProxyVocabulary, count_token_ids, vocabulary_fraction
from .pruned_pair import PrunedPair
from .retraining import ProxyRetraining
from .skorch_nets import fit_seeded, initialized_module
from .strategies import SelectorView, get_strategy, select_from_pool

__all__ = ["PruneFuseActiveLearner"]

# The state registry (see _get_state): attributes kept as plain data, with their key in the
# state ...
_PLAIN_STATE = {
    "classes_": "classes",
    "n_features_in_": "n_features_in",
    "_prune_seed": "prune_seed",
    "_fuse_seed": "fuse_seed",
}
# ... and the objects that turn themselves into data: the networks, the proxy's retraining,
# the labelled set
_PRIVATE_STATE = (
    "_pair",
    "_retraining",
    "_labelled",
    "_last_query",
    "_rng",
    "_sample_shape",
    "_vocabulary",
    *_PLAIN_STATE,
)
_FUSION_PARAMS = (
    "fusion_init",
    "fusion_layers",
    "fusion_shrink",
    "sparse_embeddings",
    "fused_params",
    "distillation_weight",
    "temperature",
    "memory_format",
)


def _read_only(value):
    """An array as a read-only view (the state's own array stays writable for training)."""
    if isinstance(value, np.ndarray):
        value = value.view()
        value.flags.writeable = False
    return value


def _read_from(owner, name, *, none_before_fit=False, may_be_none=False):
    """A fitted attribute read from one of the learner's state objects.

    The owner is ``_pair``, ``_retraining`` or ``_labelled``; arrays come back as read-only
    views, so the state cannot be changed by accident. ``none_before_fit`` answers None
    before ``fit``; ``may_be_none`` lets a fitted learner answer None (else None means the
    first retraining failed). The property has no docstring of its
    own: each attribute is documented once, in the class docstring's Attributes section
    (numpydoc would replace that description by a property's docstring, and autodoc would
    list the property a second time).
    """

    def get(self):
        if not none_before_fit:
            check_is_fitted(self, "classes_")
        value = getattr(self.__dict__.get(owner), name, None)
        if value is None and not (none_before_fit or may_be_none):
            raise AttributeError(
                "The learner has no trained proxy: its first retraining failed; call refit()."
            )
        return _read_only(value)

    return property(get)


class PruneFuseActiveLearner(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Active learning with a pruned proxy that is fused back into the full network (PruneFuse).

    ``fit`` prunes the full-size network at its random initialization into a small proxy and
    trains it on the seed set; ``query`` scores a pool with the proxy; ``teach`` adds labels and
    retrains it; ``fuse`` writes the trained proxy's weights into their original positions of the
    full-size network and trains that, returning a fitted skorch classifier. See :doc:`/method`.

    Parameters
    ----------
    estimator : skorch.NeuralNetClassifier, default=None
        Unfitted net for the full-size network; never modified (it is cloned).
        ``None``: :func:`~prunefuse_sk.networks.default_estimator`, a small MLP sized from
        the data.
    pruning_ratio : float, default=0.5
        Fraction of channels/neurons removed from every prunable layer, in (0, 1); the proxy
        costs about ``(1 - pruning_ratio) ** 2`` of the full network's FLOPs.
    importance : {"random", "l2", "l1"}, default="random"
        How channels are ranked when the network is pruned (at initialization, and again at
        each T_sync). ``"random"`` was the best measured setting on Fashion-MNIST and
        Animal-MNIST (+0.94 and +0.35 points over ``"l2"``, 3 seeds each, see
        :doc:`/method`); ``"l2"`` (the paper's choice) ranks by the L2 norm of each
        channel's weights.
    ignored_layers : list of str, default=None
        Module names never pruned; the layers producing the outputs are protected
        automatically.
    query_strategy : str or callable, default="least_confidence"
        A name in :data:`~prunefuse_sk.strategies.STRATEGIES` (``"least_confidence"``,
        ``"margin"``, ``"entropy"``, ``"random"``, ``"kcenter"``, ``"badge"``, ``"bald"``
        (MC dropout)), or any modAL-style ``strategy(learner, X_pool, n_instances=1, **kw)``
        returning indices or ``(indices, scores)`` (see :doc:`/strategies_custom`).
    proxy_params : dict, default=None
        skorch parameter overrides for the proxy, e.g. ``{"max_epochs": 10}``.
    proxy_retrain : {"warm", "reinit"}, default="warm"
        Each ``teach`` continues training a copy of the proxy on all labels for
        ``warm_epochs`` epochs, or retrains it from its pruned initialization for
        ``max_epochs`` (the paper's schedule). ``fit`` always trains from the pruned
        initialization for ``max_epochs``. The default follows the project's rule: the
        cheapest setting whose accuracy is within the seed spread of the most accurate one
        (see :doc:`/method`).
    warm_epochs : int, default=None
        Epochs of each warm retraining; None: a third of the proxy's ``max_epochs``, rounded
        up (5 of 15). A ``teach(only_new=True)`` run trains ``max_epochs`` on the new rows.
    proxy_lr_scale : "auto" or float, default="auto"
        The proxy trains at this many times the network's learning rate (``lr``): a proxy
        keeps ``1 - pruning_ratio`` of every layer's inputs, so at the same rate it moves
        that much slower and learns less in the same epochs. ``"auto"``:
        ``1 / (1 - pruning_ratio)`` for networks on token ids (measured on text, see
        :doc:`/text`), 1.0 for networks on features. An ``lr`` in ``proxy_params`` is used
        as given. The fused network keeps the network's rate.
    proxy_dropout : float, default=None
        The rate of every dropout layer of the proxy (``nn.Dropout`` and its kin), in
        [0, 1); None keeps the network's rates. The fused network keeps its own rates. A
        network without dropout layers refuses a rate (``InvalidParameterError`` at
        ``fit``). A warm retraining continues the proxy it has, so a rate changed with
        ``set_params`` takes effect at the next retraining from the pruned initialization.
        See :doc:`/text` ("Dropout in the proxy") for what it did on text.
    fused_params : dict, default=None
        skorch parameter overrides for the fused network that :meth:`fuse` trains, e.g.
        ``{"max_epochs": 8}`` (the fused network starts from the trained proxy, so it needs
        fewer epochs than training from scratch; see :doc:`/method`) or early stopping on a
        held-out split,
        ``{"callbacks": [EarlyStopping(patience=3)], "train_split": ValidSplit(0.1)}``.
    fusion_init : {"reinit", "keep", "zero"}, default="reinit"
        What the fused network holds outside the proxy's positions: a fresh initialization,
        the initial values, or zeros (``"zero"`` keeps only the proxy's capacity, since zero
        units of a ReLU net stay dead: it exists to check exactness).
    fusion_layers : {"auto", "all", "outer", "all-but-output"}, default="auto"
        Which layers of the fused network start from the proxy's trained tensors: every
        layer (``"all"``, PruneFuse's fusion); every layer but the output layer(s), which
        start fresh (``"all-but-output"``); or only the input layer and the output layer(s),
        the layers between them filled entirely per ``fusion_init`` as at a fresh start
        (``"outer"``, :func:`~prunefuse_sk.fusion.outer_layers`). Whatever starts fresh is
        then shrunk like the rest (``fusion_shrink``). ``"auto"``, the measured choice per
        network kind (:func:`~prunefuse_sk.fusion.resolve_fusion_layers`):
        ``"all-but-output"`` for a convolutional network on ids (on the side-by-side
        protocol of :doc:`/text`, Kim's 300-d CNN went from 0.716 to 0.721 at 2,500 labels,
        ahead on every seed; ``TextCNN`` level on Reuters R8), ``"all"`` for every other
        network (``FastText`` lost 1.2 points with a fresh output layer) and with
        ``fusion_init="zero"``. The fitted ``fusion_layers_`` says which
        applies. ``"outer"`` reached 0.726 on the side-by-side protocol but lost 0.15 to 0.4
        points on R8 and 2.5 with ``FastText``, whose hidden layer is a ``Linear``; it needs
        ``fusion_init`` ``"reinit"`` or ``"keep"``.
    fusion_shrink : "auto" or float in (0, 1], default="auto"
        Every parameter of the fused network is multiplied by this before its training
        (the "shrink" of Ash & Adams' shrink-and-perturb, 2020): a network warm-started from
        weights fitted to the same labels generalizes worse than one trained from scratch,
        and shrinking the start narrows that gap. 1.0 keeps the fused weights as written
        (exact fusion). ``"auto"``, the measured choice per input kind
        (:func:`~prunefuse_sk.fusion.resolve_fusion_shrink`): 0.5 for a network on ids, words
        or characters (an input embedding; on 20 Newsgroups, 3 seeds, ``TextCNN``'s fused
        network went from 0.661 to 0.707 at 2,500 labels, above full-model AL's 0.677; see
        :doc:`/text`), 1.0 for a network on features (as accurate halved on Animal-MNIST,
        at a third more session time) and with ``fusion_init="zero"``. The fitted ``fusion_shrink_``
        says which factor applies.
    sparse_embeddings : {"proxy", "all", "none"}, default="proxy"
        Which networks update their ``nn.Embedding``/``nn.EmbeddingBag`` layers with sparse
        gradients, touching only the rows of the ids in each batch: the proxy, the proxy and
        the fused network, or neither. A text proxy's training then costs what its batches
        hold instead of its whole vocabulary (see :doc:`/text`). Their optimizer must take
        sparse gradients: ``torch.optim.Adam`` is replaced by
        :class:`~prunefuse_sk.sparse_embeddings.LazyAdam` (same settings, Adam's update for
        dense parameters, row-wise for the embedding); SGD and Adagrad without weight decay
        are kept; any other raises ``InvalidParameterError``. Networks without an embedding
        layer are unaffected.
    proxy_vocabulary : float in (0, 1], "auto" or None, default=None
        For a network whose input layer is an ``nn.Embedding``/``nn.EmbeddingBag``: the
        proxy embeds only this fraction of the vocabulary, the ids that occur most often in
        ``fit``'s labelled set and ``X_pool`` (``"auto"``: ``1 - pruning_ratio``; None: every
        id). Inside the proxy every other id is the unknown id; :meth:`fuse` puts the kept
        rows back at their ids and gives the dropped ones the proxy's unknown-id vector (see
        :doc:`/text`). A fraction outside (0, 1], or one that keeps no token, raises
        ``ProxyVocabularyError``.
    unknown_id : int, default=1
        The id of the unknown token (``TokenIds``' is 1): what the ids the proxy vocabulary
        drops become inside the proxy. Used only with ``proxy_vocabulary``.
    fused_stopping : {"auto", "loss-plateau", "proxy-loss", "none"}, default="auto"
        When :meth:`fuse` (called without ``max_epochs``) stops training the fused network
        (:class:`~prunefuse_sk.fused_stopping.FusedStopping`, never before a third of
        ``max_epochs``, at most after ``max_epochs``): ``"loss-plateau"`` once its training
        loss has not improved for 2 epochs (the fused network starts from the trained proxy,
        so its loss levels off sooner than a scratch network's); ``"proxy-loss"`` also as soon
        as its training loss reaches the trained proxy's last one; ``"auto"``, the measured
        choice per input kind: ``"proxy-loss"`` for a network that takes features (on
        Fashion-MNIST as accurate as the plateau, at two thirds of the session), and
        ``"loss-plateau"`` for one that takes token ids (stopping at the proxy's loss cost text
        networks accuracy; see :doc:`/method`); ``"none"`` always trains ``max_epochs``, as the
        paper does. The fused classifier reports ``n_epochs_`` and ``stop_reason_``.
    distillation_weight : float, default=0.0
        α in ``(1 - α) CE + α T² KL(teacher_T || student_T)`` when training the fused
        network; the teacher is the trained proxy. 0 turns distillation off.
    temperature : float, default=4.0
        T in the distillation loss.
    sync_every : int, default=0
        T_sync: every ``sync_every`` rounds, fuse, train the full network and prune the
        *trained* network into the next proxy (the base :meth:`fuse` then writes into; pair
        with ``fusion_init="keep"``). 0 never syncs.
    scoring_memory : float, default=None
        MiB of activations one pool-scoring batch may use; the batch's rows follow from a
        probe (None: :data:`~prunefuse_sk.scoring.DEFAULT_SCORING_MEMORY`).
    memory_format : {"auto", "channels_last", "contiguous"}, default="auto"
        Memory format of the proxy's and the fused network's convolution weights; ``"auto"``
        follows :func:`~prunefuse_sk.memory_format.resolve_memory_format` (a measured rule,
        never timings).
    random_state : int, RandomState instance or None, default=None
        Seeds every random choice: initialization, pruning ties, training shuffles,
        strategies.
    verbose : int, default=0
        0 silent; 1 a line per round and progress bars on pool scoring.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The label of each output unit, in the order of the network's outputs (the columns
        of :meth:`predict_proba`).
    fused_ : FusedNeuralNetClassifier
        The fitted full-size classifier, once :meth:`fuse` has run; dropped by ``teach``,
        ``refit`` and a T_sync step, since it no longer matches the proxy.
    n_features_in_ : int
        Number of features, set only when the samples are 1-D (``X`` of shape
        (n_samples, n_features)).
    estimator_ : skorch.NeuralNetClassifier
        The unfitted full-size net actually used (a clone of ``estimator``, or the default
        MLP).
    full_init_module_ : torch.nn.Module
        The full-size network at its initialization (on the CPU): what the proxy was pruned
        from and what :meth:`fuse` writes the trained proxy into.
    proxy_vocabulary_ : ndarray of int64 or None
        The token ids the proxy embeds (sorted), with ``proxy_vocabulary`` set; else None.
    proxy_init_module_ : torch.nn.Module
        The proxy at its initialization (on the CPU): the pruned ``full_init_module_``, the
        start of every ``"reinit"`` retraining.
    kept_indices_ : dict of str to KeptIndices
        For every proxy tensor, the positions it occupies inside the full-size tensor (see
        :class:`~prunefuse_sk.pruning.KeptIndices`).
    output_layers_ : tuple of str
        Layers whose output units were protected from pruning.
    embedding_layer_ : str
        The output layer whose input ``"kcenter"`` and ``"badge"`` use as the embedding.
    n_params_full_ : int
        Parameter count of the full-size network.
    n_params_proxy_ : int
        Parameter count of the proxy.
    proxy_ : skorch.NeuralNetClassifier
        The fitted proxy that scores pools in :meth:`query` and predicts before
        :meth:`fuse`. Raises ``AttributeError`` when the first retraining failed (call
        :meth:`refit`).
    proxy_lr_ : float
        The learning rate the proxy trains with (``proxy_lr_scale`` times the network's,
        unless ``proxy_params`` sets it).
    fusion_layers_ : {"all", "outer", "all-but-output"}
        The layers :meth:`fuse` takes from the proxy (``fusion_layers``, with ``"auto"``
        resolved for this network).
    fusion_shrink_ : float
        The factor :meth:`fuse` multiplies the fused start by (``fusion_shrink``, with
        ``"auto"`` resolved for this network).
    proxy_stale_ : bool
        ``True`` when the proxy's last retraining failed, so it has not seen every label;
        :meth:`refit` (or ``teach()`` with no data) retries (see :doc:`/reliability`).
    history_ : tuple of dict
        One entry per proxy training: ``round``, ``n_labelled``, ``n_trained``,
        ``fit_seconds``, ``epochs`` (and ``sync``, the full network's ``seconds`` and
        ``epochs``, after a T_sync step). Read-only: a tuple of copies, so neither appending
        nor editing an entry changes the learner's record.
    X_training : ndarray of shape (n_labelled, ...)
        The labelled samples so far, float32 (int64 token ids for a text network); modAL's
        name. ``None`` before ``fit``. A read-only view: writing to it raises
        ``ValueError``.
    y_training : ndarray of shape (n_labelled,)
        The labels of ``X_training``, as given; modAL's name. ``None`` before ``fit``. A
        read-only view: writing to it raises ``ValueError``.
    labelling_round_ : ndarray of shape (n_labelled,), int64
        The round that added each labelled sample (0 = the seed set of ``fit``, 1 = the
        first ``teach``, ...). A read-only view: writing to it raises ``ValueError``.
    query_scores_ : ndarray of shape (n_labelled,), float64
        Each labelled sample's score in the :meth:`query` that chose it (NaN when unknown:
        the seed set, or taught rows that the preceding query did not return). A read-only
        view: writing to it raises ``ValueError``.

    See Also
    --------
    prunefuse_sk.prune_at_init : Prune a network at initialization, without active learning.
    prunefuse_sk.FusedNeuralNetClassifier : The classifier :meth:`fuse` returns.

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
    # fitted attributes, read from the objects that hold the state (documented in the
    # class docstring's Attributes section only, see _read_from)
    estimator_ = _read_from("_pair", "template")
    full_init_module_ = _read_from("_pair", "full_init")
    proxy_init_module_ = _read_from("_pair", "proxy_init")
    kept_indices_ = _read_from("_pair", "kept_indices")
    output_layers_ = _read_from("_pair", "output_layers")
    embedding_layer_ = _read_from("_pair", "embedding_layer")
    n_params_full_ = _read_from("_pair", "n_params_full")
    n_params_proxy_ = _read_from("_pair", "n_params_proxy")
    proxy_vocabulary_ = _read_from("_pair", "vocabulary_ids", may_be_none=True)
    proxy_ = _read_from("_retraining", "net")
    proxy_stale_ = _read_from("_retraining", "stale")
    # the rate the proxy net was built with, read from it (documented in the class docstring)
    proxy_lr_ = property(lambda self: self.proxy_.lr)
    # the layers fuse() takes from the proxy (documented in the class docstring)
    fusion_layers_ = property(
        lambda self: resolve_fusion_layers(
            self.fusion_layers,
            n_ids=self._n_ids,
            convolutional=is_convolutional(self.full_init_module_),
            fusion_init=self.fusion_init,
        )
    )
    # the factor fuse() shrinks the fused start by (documented in the class docstring)
    fusion_shrink_ = property(
        lambda self: resolve_fusion_shrink(
            self.fusion_shrink, n_ids=self._n_ids, fusion_init=self.fusion_init
        )
    )
    # the rows of the network's input embedding (None: it takes features)
    _n_ids = property(lambda self: (token_input(self.full_init_module_) or (None, None))[1])
    history_ = _read_from("_retraining", "history_entries")
    labelling_round_ = _read_from("_labelled", "rounds")
    query_scores_ = _read_from("_labelled", "scores")
    X_training = _read_from("_labelled", "X", none_before_fit=True)
    y_training = _read_from("_labelled", "y", none_before_fit=True)

    def __init__(
        self,
        estimator=None,
        *,
        pruning_ratio=0.5,
        importance="random",
        ignored_layers=None,
        query_strategy="least_confidence",
        proxy_params=None,
        proxy_retrain="warm",
        warm_epochs=None,
        proxy_lr_scale="auto",
        proxy_dropout=None,
        fused_params=None,
        fusion_init="reinit",
        fusion_layers="auto",
        fusion_shrink="auto",
        sparse_embeddings="proxy",
        proxy_vocabulary=None,
        unknown_id=1,
        fused_stopping="auto",
        distillation_weight=0.0,
        temperature=4.0,
        sync_every=0,
        scoring_memory=None,
        memory_format="auto",
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
        self.warm_epochs = warm_epochs
        self.proxy_lr_scale = proxy_lr_scale
        self.proxy_dropout = proxy_dropout
        self.fused_params = fused_params
        self.fusion_init = fusion_init
        self.fusion_layers = fusion_layers
        self.fusion_shrink = fusion_shrink
        self.sparse_embeddings = sparse_embeddings
        self.proxy_vocabulary = proxy_vocabulary
        self.unknown_id = unknown_id
        self.fused_stopping = fused_stopping
        self.distillation_weight = distillation_weight
        self.temperature = temperature
        self.sync_every = sync_every
        self.scoring_memory = scoring_memory
        self.memory_format = memory_format
        self.random_state = random_state
        self.verbose = verbose

    def _validate_params(self):
        # each parameter against its constraints, then the checks across them
        check_learner_params(self)
        if "_pair" in self.__dict__:  # fitted: checks against the network
            proxy_dropout_layers(self._pair.proxy_init, self.proxy_dropout)

    def _log(self, message):
        if self.verbose:
            print(f"[PruneFuse] {message}", flush=True)

    # ------------------------------------------------------------- public API
    def fit(self, X, y, *, X_pool=None):
        """Start over with ``(X, y)`` as the labelled set: prune a fresh init and train the proxy.

        The constructor parameters are checked here, as in scikit-learn. Once ``X`` and ``y``
        pass their checks, every fitted attribute of an earlier fit is dropped, so a fit that
        fails after that leaves an unfitted learner, not a half-fitted one.

        Parameters
        ----------
        X : array-like, memmap, torch.Tensor, sparse matrix or pandas.DataFrame of shape \
(n_samples, ...)
            Seed samples: features (converted to float32), or integer token ids (int64) when
            the network's input layer is an ``nn.Embedding``/``nn.EmbeddingBag`` (see
            :doc:`/text`). Held dense: a sparse matrix is densified, a DataFrame read by
            position.
        y : array-like of shape (n_samples,)
            Their labels. Without an ``estimator``, at least 2 classes (the default network
            is sized from them).
        X_pool : array-like, torch.Tensor, sparse matrix, DataFrame or dask collection of \
shape (n_pool, ...), default=None
            The unlabelled pool, read a batch at a time: with ``proxy_vocabulary`` set, its
            token ids count toward the ids the proxy keeps. Ignored otherwise.

        Returns
        -------
        self : PruneFuseActiveLearner
            The fitted learner, with a trained proxy.

        Raises
        ------
        InvalidParameterError
            If a constructor parameter has a wrong type or value (``UnknownStrategyError``
            for a ``query_strategy`` that is neither a built-in name nor callable).
        FeatureShapeError
            If ``X`` is not an array of samples (fewer than 2 dimensions, no rows or
            features), or the network fails on samples of its shape.
        NonFiniteInputError
            If ``X`` or ``y`` contains NaN or infinity.
        TokenIdError
            If the network takes token ids and ``X`` holds anything else.
        LengthMismatchError
            If ``X`` and ``y`` have different numbers of rows.
        LabelMappingError
            If the default network would be sized from a seed set of one class
            (``OutputWidthError`` if the network's outputs cannot be matched with the
            classes).
        PruningError
            If pruning cannot produce a valid proxy (``UnsupportedArchitectureError``,
            ``HardCodedShapeError``: see :doc:`/errors`).
        ProxyVocabularyError
            If ``proxy_vocabulary`` keeps no token, or is set for a network whose input layer
            is not an embedding.
        """
        self._validate_params()
        # layout only: float32 or int64 is decided by the network's input layer below
        X = as_samples(X)
        y = check_labels(y, len(X))
        if self.estimator is None:
            check_two_classes(
                y, "the default network needs at least 2 classes to size its output layer"
            )
        # a fit that fails below leaves an unfitted learner, not a half-fitted one
        self._forget_fit()
        rng = as_random_state(self.random_state)
        template = self._template(X.shape[1:], len(np.unique(y)))
        full = initialized_module(template, seed=draw_seed(rng))
        X = check_inputs(X, token_input=token_input(full))
        example = example_batch(X, template.device)
        classes = resolve_classes(
            y, output_width(full, example), getattr(template, "classes", None)
        )
        y_encoded = encode_labels(y, classes)
        self._vocabulary = self._proxy_vocabulary(full, X, X_pool)
        prune_seed = draw_seed(rng)
        pair = PrunedPair.prune(template, full, example, **self._pruning_params(prune_seed))
        proxy_dropout_layers(pair.proxy_init, self.proxy_dropout)
        self._pair = pair
        self.classes_ = classes
        self._rng = rng
        self._prune_seed = prune_seed
        self._sample_shape = tuple(X.shape[1:])
        if X.ndim == 2:
            self.n_features_in_ = X.shape[1]
        self._labelled = LabelledSet.start(X, y, y_encoded)
        self._last_query = None
        self._retraining = ProxyRetraining()
        # fuse() draws from its own fixed stream: fusing twice gives the same net
        self._fuse_seed = draw_seed(rng)
        self._retraining.schedule(rng)
        self._retrain_proxy()
        return self

    def teach(self, X=None, y=None, *, only_new=False):
        """Add labelled samples and retrain the proxy.

        The labels are stored before the proxy is retrained, so a failed retraining (a
        callback error, CUDA out of memory, ``KeyboardInterrupt``) loses none: the exception
        propagates, the previous proxy stays, ``proxy_stale_`` becomes ``True`` and
        :meth:`refit` (or ``teach()`` with no data) retries (see :doc:`/reliability`). A
        fused network from an earlier :meth:`fuse` is dropped.

        Parameters
        ----------
        X : array-like, memmap, torch.Tensor, sparse matrix or pandas.DataFrame of shape \
(n_new, ...), default=None
            The newly labelled samples, shaped like those of ``fit`` (e.g. the ``X_selected``
            that :meth:`query` returned); ``None`` with ``y=None`` retries like
            :meth:`refit`.
        y : array-like of shape (n_new,), default=None
            Their labels; each must map to an output unit (see ``classes_``).
        only_new : bool, default=False
            As in modAL: continue training the proxy on the new rows only (the labelled set
            still grows); otherwise retrain per ``proxy_retrain``.

        Returns
        -------
        self : PruneFuseActiveLearner
            The learner, with a proxy retrained on the grown labelled set.

        Raises
        ------
        NotFittedError
            If the learner is not fitted.
        InvalidParameterError
            If ``only_new`` is not a bool, or a constructor parameter changed (``set_params``)
            to a wrong value.
        ValueError
            If only one of ``X`` and ``y`` is given.
        FeatureShapeError
            If the samples have another shape than at ``fit``.
        NonFiniteInputError
            If ``X`` or ``y`` contains NaN or infinity.
        TokenIdError
            If the network takes token ids and ``X`` holds anything else.
        LengthMismatchError
            If ``X`` and ``y`` have different numbers of rows.
        LabelMappingError
            If a label is not in ``classes_`` or cannot be compared with them.

        See Also
        --------
        query : Choose the samples to label.
        refit : Retry a failed retraining.
        """
        check_is_fitted(self, "classes_")
        check_flags("teach", only_new=only_new)
        if X is None and y is None:
            return self.refit()
        self._validate_params()
        X, y, y_encoded = self._check_labelled(
            X, y, "to teach new labels, or neither to retry the proxy's retraining"
        )
        if self._last_query is None:
            scores = np.full(len(X), np.nan)
        else:
            scores = self._last_query.scores_of(X)
        # one assignment: the labelled set is either the old one or the old one plus all new rows
        self._labelled = self._labelled.extend(X, y, y_encoded, scores)
        self._last_query = None
        self.__dict__.pop("fused_", None)
        sync = bool(self.sync_every) and self._labelled.last_round % self.sync_every == 0
        self._retraining.schedule(self._rng, only_new=only_new, sync=sync)
        self._retrain_proxy()
        return self

    def refit(self):
        """Retrain the proxy on the labelled set, or rerun a failed retraining with the same seed.

        When the last retraining failed (``proxy_stale_`` is ``True``), the same scheduled
        run is retried, with the same seed, so the result equals an uninterrupted run's;
        otherwise a new retraining is scheduled and a fused network is dropped.

        Returns
        -------
        self : PruneFuseActiveLearner
            The learner, with a proxy trained on every label.

        Raises
        ------
        NotFittedError
            If the learner is not fitted.
        InvalidParameterError
            If a constructor parameter changed (``set_params``) to a wrong value.
        """
        check_is_fitted(self, "classes_")
        self._validate_params()
        if not self._retraining.stale:
            self.__dict__.pop("fused_", None)
            self._retraining.schedule(self._rng)
        self._retrain_proxy()
        return self

    def query(
        self,
        X_pool,
        n=1,
        *,
        n_instances=None,
        return_scores=False,
        max_candidates=None,
        **strategy_kwargs,
    ):
        """Choose the pool samples to label next, scored by the proxy.

        Parameters
        ----------
        X_pool : array-like, memmap, torch.Tensor, sparse matrix, pandas.DataFrame, dask \
array or DataFrame, or dict of tensors, of shape (n_pool, ...)
            Unlabelled samples, handed to a custom strategy as given (a sparse matrix as CSR,
            still sparse) and read one scoring batch at a time. A DataFrame's rows are taken by
            position, never by index label. A dask pool is scored where its blocks live (see
            Notes). A dict of tensors only for a custom strategy that reads it: the built-in
            strategies raise ``PoolTypeError``.
        n : int, default=1
            How many samples to choose.
        n_instances : int, default=None
            The modAL name for ``n``; if both are given, they must agree.
        return_scores : bool, default=False
            Also return the strategy's scores of the chosen samples.
        max_candidates : int, default=None
            Score only a random subset of this many pool rows; indices still refer to
            ``X_pool``.
        **strategy_kwargs
            Passed to the strategy (e.g. ``batch_size``, ``autocast``).

        Returns
        -------
        indices : ndarray of shape (n,)
            Unique row positions in ``X_pool``, best first for the built-in strategies.
        X_selected : same type as X_pool
            ``X_pool[indices]``: a DataFrame for a DataFrame pool (rows by position), a
            tensor for a tensor, a sparse matrix for a sparse pool; for a dask pool, those
            rows computed to a numpy array.
        scores : ndarray of shape (n,)
            The strategy's scores of the chosen samples; only with ``return_scores=True``.

        Raises
        ------
        NotFittedError
            If the learner is not fitted.
        InvalidParameterError
            If ``max_candidates`` is not a positive integer, or ``return_scores=True`` with a
            strategy that returns indices only (``UnknownStrategyError`` for an unknown
            ``query_strategy``).
        InvalidQuerySizeError
            If ``n`` (or ``n_instances``) is not an integer between 1 and the number of
            candidate rows, or ``n`` and ``n_instances`` differ.
        EmptyPoolError
            If the pool has no rows.
        FeatureShapeError
            If the pool's samples have another shape than at ``fit``.
        PoolTypeError
            If a built-in strategy gets a dict of tensors, or the pool is a pandas Series.
        NonFiniteInputError
            If the rows scored (when the outputs are not finite) or selected contain NaN or
            infinity.
        NonFiniteOutputError
            If the proxy produces NaN or infinity on finite rows.
        TokenIdError
            If the network takes token ids and a pool batch holds anything else.
        StrategyResultError
            If a custom strategy returns invalid indices.
        SchedulerUnavailableError
            If the pool is a dask collection and the client chosen to compute it is closed
            or its scheduler does not answer within 10 s: never computed here instead
            (see :ref:`cluster-failures`).

        Warns
        -----
        StaleProxyWarning
            If the proxy's last retraining failed, so it is not trained on every label.

        See Also
        --------
        teach : Add the chosen samples once labelled.

        Notes
        -----
        A dask array or DataFrame pool is scored where its blocks live and never collected:
        only the chosen rows come back to the client (see :doc:`/scaling_out`); a worker
        lost mid-query changes nothing but the time it takes. The ranking
        strategies (``"least_confidence"``, ``"margin"``, ``"entropy"``, ``"random"``) rank
        on the workers and give exactly the answer the same pool gives in memory with the
        same random state; the others run on a random candidate sample of
        ``max_candidates`` rows (10,000 when not given).
        """
        check_is_fitted(self, "proxy_")
        self._validate_params()  # parameters may have changed with set_params since fit
        self._retraining.warn_if_stale("query", len(self._labelled))
        pool = as_pool(X_pool).check_shape(self._sample_shape)  # one pool object from here on
        indices, scores, selected = select_from_pool(
            get_strategy(self.query_strategy),
            self._selector_view(),
            pool,
            n,
            n_instances=n_instances,
            rng=self._rng,
            max_candidates=max_candidates,
            return_rows=True,
            require_scores=return_scores,
            **strategy_kwargs,
        )
        rows = selected_rows(selected, token_ids=token_input(self.full_init_module_) is not None)
        if scores is not None and rows is not None:
            self._last_query = QueryRecord(rows, scores)
        else:
            self._last_query = None
        return (indices, selected, scores) if return_scores else (indices, selected)

    def fuse(self, X=None, y=None, *, train=True, max_epochs=None):
        """Fuse the trained proxy into the full-size network and (by default) train it.

        Every tensor of the trained proxy (weights, biases, BatchNorm statistics) is written
        into exactly the positions it was pruned from; the rest per ``fusion_init``.

        Parameters
        ----------
        X : array-like, memmap, torch.Tensor, sparse matrix or pandas.DataFrame of shape \
(n_samples, ...), default=None
            Train on these samples instead of the labelled set (``X_training``); shaped like
            those of ``fit``.
        y : array-like of shape (n_samples,), default=None
            Their labels; each must map to an output unit (see ``classes_``).
        train : bool, default=True
            ``False`` returns the fused network initialized but untrained.
        max_epochs : int, default=None
            Train for exactly this many epochs, with no stopping rule. None: stop per
            ``fused_stopping``, at most after the estimator's (or ``fused_params``')
            ``max_epochs`` (see Notes).

        Returns
        -------
        clf : FusedNeuralNetClassifier
            Fitted, also stored as ``fused_``. Its ``module`` parameter holds the fused,
            untrained weights, so ``clone(clf)`` (``GridSearchCV``) starts from them.

        Raises
        ------
        NotFittedError
            If the learner is not fitted.
        InvalidParameterError
            If ``train`` is not a bool or ``max_epochs`` not a positive integer.
        ValueError
            If only one of ``X`` and ``y`` is given.
        FeatureShapeError
            If the samples have another shape than at ``fit``.
        NonFiniteInputError
            If ``X`` or ``y`` contains NaN or infinity.
        TokenIdError
            If the network takes token ids and ``X`` holds anything else.
        LengthMismatchError
            If ``X`` and ``y`` have different numbers of rows.
        LabelMappingError
            If a label is not in ``classes_``.

        Warns
        -----
        StaleProxyWarning
            If the proxy's last retraining failed, so it is not trained on every label.

        Notes
        -----
        The fused network starts from the trained proxy's weights, not from scratch: this
        head start lets it reach a scratch-trained network's accuracy in fewer epochs: by
        default (``fused_stopping="auto"``) training ends once the fused network's
        training loss reaches the proxy's (networks on features) or levels off (on token
        ids), and the returned classifier's ``n_epochs_`` and
        ``stop_reason_`` say when and why (see :doc:`/method`). Fusing twice gives the
        same network: training draws from a fixed seed of its own.
        """
        check_is_fitted(self, "proxy_")
        check_flags("fuse", train=train)
        self._validate_params()
        max_epochs = check_int(max_epochs, "max_epochs", allow_none=True, what="a positive integer")
        self._retraining.warn_if_stale("fuse", len(self._labelled))
        if X is None and y is None:
            X, y = self._labelled.X, self._labelled.y  # the state's own (writable) arrays
        else:  # fail before building anything
            X, y, _ = self._check_labelled(
                X, y, "to fuse on other data, or neither to use the labelled set"
            )
        net, seed = self._new_fused_net()
        rule = resolve_fused_stopping(
            self.fused_stopping, token_ids=token_input(self.full_init_module_) is not None
        )
        if max_epochs is not None:
            net.set_params(max_epochs=max_epochs)
        elif rule != "none":
            add_fused_stopping(net, self.proxy_, rule=rule, distills=self.distillation_weight > 0)
        if train:
            seconds = fit_seeded(net, X, y, seed=seed)
            self._log(
                f"fused network trained on {len(X)} labels in {seconds:.2f}s, "
                f"{len(net.history)} epochs ({stop_reason(net)})"
            )
        else:
            net.initialize()
        self.fused_ = net
        return net

    def predict_proba(self, X):
        """Class probabilities from the fused network, or from the proxy before :meth:`fuse`.

        Parameters
        ----------
        X : array-like, memmap, torch.Tensor, sparse matrix, pandas.DataFrame, dask array \
or DataFrame of shape (n_samples, ...)
            The samples, shaped like those of ``fit``; read one scoring batch at a time (a
            DataFrame by position). A dict of tensors raises ``PoolTypeError``.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            The probabilities; columns follow ``classes_``.

        Raises
        ------
        NotFittedError
            If the learner is not fitted.
        FeatureShapeError
            If the samples have another shape than at ``fit``.
        PoolTypeError
            If ``X`` is a dict of tensors or a pandas Series.
        NonFiniteInputError
            If ``X`` contains NaN or infinity.
        NonFiniteOutputError
            If the network produces NaN or infinity on finite samples.
        TokenIdError
            If the network takes token ids and ``X`` holds anything else.
        """
        check_is_fitted(self, "proxy_")
        return self._selector_view(self.__dict__.get("fused_", self.proxy_)).predict_proba(X)

    def predict(self, X):
        """Predicted labels, from the fused network or from the proxy before :meth:`fuse`.

        Parameters
        ----------
        X : array-like, memmap, torch.Tensor, sparse matrix, pandas.DataFrame, dask array \
or DataFrame of shape (n_samples, ...)
            The samples, as in :meth:`predict_proba`.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            ``classes_[argmax(predict_proba(X))]``.

        Raises
        ------
        NotFittedError, FeatureShapeError, PoolTypeError, NonFiniteInputError, TokenIdError
            As :meth:`predict_proba`.
        """
        proba = self.predict_proba(X)  # first: NotFittedError before fit
        return self.classes_[proba.argmax(axis=1)]

    # ------------------------------------------------------------ persistence
    def save(self, path):
        """Write the learner to a checkpoint that loads without executing code (atomically).

        The checkpoint holds the parameters and :meth:`_get_state` in the format of
        :mod:`~prunefuse_sk.persistence` (JSON, ``.npy`` without pickle, tensors read with
        ``weights_only=True``); a crash while saving leaves the previous file intact.

        Parameters
        ----------
        path : str or os.PathLike
            The checkpoint file to write (conventionally ``*.pfsk``).

        Returns
        -------
        path : str
            The path written.

        Raises
        ------
        NotFittedError
            If the learner is not fitted.
        CheckpointError
            If the labels are of dtype object.

        See Also
        --------
        load : Rebuild the learner from the checkpoint.
        """
        check_is_fitted(self, "classes_")
        return persistence.save_checkpoint(path, self.get_params(deep=False), self._get_state())

    @classmethod
    def load(cls, path, estimator=None, **params):
        """Rebuild a learner saved by :meth:`save`, ready to query, teach and fuse.

        As with skorch's ``load_params``, the network's code is not in the file: pass the
        unfitted ``estimator`` used at ``fit`` (``None`` for the default MLP), and any
        parameter that is not JSON (a custom strategy function); the error says which.

        Parameters
        ----------
        path : str or os.PathLike
            A checkpoint written by :meth:`save`.
        estimator : skorch.NeuralNetClassifier, default=None
            The unfitted full-size net, as given to the saved learner.
        **params
            Constructor parameters that replace the saved ones (required for those that
            are not JSON, e.g. a strategy function).

        Returns
        -------
        learner : PruneFuseActiveLearner
            Its next queries and fused network equal an uninterrupted run's (on CPU).

        Raises
        ------
        CheckpointError
            If the file is missing, truncated or not a prunefuse_sk checkpoint, or a
            parameter that is not JSON was not passed again.
        CheckpointVersionError
            If the checkpoint was written in a format version this release cannot read.
        UnsafeCheckpointError
            If the checkpoint holds Python objects where only tensors, arrays or JSON
            belong (raised before anything in it is executed).
        CheckpointMismatchError
            If ``estimator`` (or the pruning parameters) build another network than the
            saved one.

        See Also
        --------
        save : Write the checkpoint.
        prunefuse_sk.persistence.load_checkpoint : Read the file.
        """
        saved, state = persistence.load_checkpoint(
            path, cls._get_param_names(), estimator=estimator, **params
        )
        # the random_state parameter was the random stream itself
        stream = saved.get("random_state") == persistence.RANDOM_STATE_INSTANCE
        learner = cls(estimator=estimator, **{**saved, "random_state": None} if stream else saved)
        learner._validate_params()
        learner._set_state(state, source=repr(str(path)))
        learner.random_state = learner._rng if stream else learner.random_state
        return learner

    def _template(self, sample_shape, n_classes):
        estimator = self.estimator
        if estimator is not None:
            return clone(estimator)
        return default_estimator(int(np.prod(sample_shape)), n_classes)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # labelled rows are densified, pools one scoring batch at a time
        tags.input_tags.sparse = True
        return tags

    def _check_labelled(self, X, y, pass_both):
        """New samples as the network takes them (float32 or int64 token ids), their labels
        and their output units."""
        if X is None or y is None:
            raise ValueError(f"Pass both X and y {pass_both}.")
        X = check_inputs(
            X, token_input=token_input(self.full_init_module_), n_features_shape=self._sample_shape
        )
        y = check_labels(y, len(X))
        return X, y, encode_labels(y, self.classes_)

    def _pruning_params(self, seed):
        return {
            "pruning_ratio": self.pruning_ratio,
            "importance": self.importance,
            "ignored_layers": self.ignored_layers,
            "random_state": seed,
            "vocabulary": self.__dict__.get("_vocabulary"),
        }

    def _proxy_vocabulary(self, full, X, X_pool):
        """The ids the proxy embeds (``proxy_vocabulary``), counted on ``X`` and ``X_pool``."""
        fraction = vocabulary_fraction(self.proxy_vocabulary, self.pruning_ratio)
        if fraction is None:
            return None
        tokens = token_input(full)
        if tokens is None:
            raise ProxyVocabularyError(
                f"proxy_vocabulary={self.proxy_vocabulary!r} needs a network whose input layer is "
                "an nn.Embedding or nn.EmbeddingBag (it keeps some of its rows); this network "
                "takes features. Pass proxy_vocabulary=None."
            )
        name, n_ids = tokens
        if X_pool is not None:
            as_pool(X_pool).check_shape(tuple(X.shape[1:]))
        counts = count_token_ids(n_ids, X, X_pool, layer=name)
        return ProxyVocabulary.from_counts(
            name,
            counts,
            fraction,
            unknown_id=self.unknown_id,
            padding_id=unwrap_module(full).get_submodule(name).padding_idx,
        )

    def _new_proxy(self):
        scale = resolve_proxy_lr_scale(
            self.proxy_lr_scale,
            self.pruning_ratio,
            token_ids=token_input(self.full_init_module_) is not None,
        )
        overrides = proxy_lr_overrides(self._pair.template, self.proxy_params, scale)
        return self._pair.new_proxy(
            {**overrides, **(self.proxy_params or {})},
            self.memory_format,
            sparse_embeddings=self.sparse_embeddings in ("proxy", "all"),
            dropout=self.proxy_dropout,
        )

    def _new_fused_net(self, start=None):
        """An unfitted fused network (the trained proxy's tensors in place) and the seed to
        train it with."""
        params = {name: getattr(self, name) for name in _FUSION_PARAMS}
        return self._pair.new_fused_net(
            self.proxy_.module_,
            classes=self.classes_,
            fuse_seed=self._fuse_seed,
            seeded=self.random_state is not None,
            start=start,
            **{
                **params,
                "fusion_layers": self.fusion_layers_,
                "fusion_shrink": self.fusion_shrink_,
            },
        )

    def _selector_view(self, net=None):
        """What a query strategy sees: this learner, with ``estimator`` and predictions
        resolved to ``net``."""
        return SelectorView(
            self.proxy_ if net is None else net,
            self.X_training,
            self.y_training,
            owner=self,
            classes=self.classes_,
            embedding_layer=self.embedding_layer_,
            progress=bool(self.verbose),
            sample_shape=self._sample_shape,
            scoring_memory=self.scoring_memory,
        )

    def _retrain_proxy(self):
        """Run the scheduled retraining (:class:`~prunefuse_sk.retraining.ProxyRetraining`),
        after a T_sync step if one is due."""
        pending = self._retraining.pending
        if pending.get("sync"):
            # T_sync: fuse, train the full network, prune the *trained* one into the next pair
            net, seed = self._new_fused_net()
            self._pair, stats = self._pair.synced(
                net,
                self._labelled.X,
                self._labelled.y,
                seed=seed,
                **self._pruning_params(self._prune_seed),
            )
            self.__dict__.pop("fused_", None)
            # done: a retry after a failure further on only retrains the proxy
            pending.update(sync=False, synced=True, sync_stats=stats)
        entry = self._retraining.run(
            self._new_proxy,
            self._labelled,
            proxy_retrain=self.proxy_retrain,
            warm_epochs=self.warm_epochs,
            init_module=self.proxy_init_module_,
        )
        synced = " after a T_sync step" if "sync" in entry else ""
        self._log(
            f"round {entry['round']}: proxy trained on {entry['n_labelled']} labels "
            f"in {entry['fit_seconds']:.2f}s{synced}, {entry['epochs']} epochs "
            f"({self.n_params_proxy_:,} of {self.n_params_full_:,} parameters)"
        )

    # ------------------------------------------------------ the state registry
    def _forget_fit(self):
        """Drop every fitted attribute and the private state that goes with them."""
        for name in list(self.__dict__):
            if (name.endswith("_") and not name.startswith("__")) or name in _PRIVATE_STATE:
                del self.__dict__[name]

    def _get_state(self):
        """Everything ``fit``/``teach``/``fuse`` produced, as plain data: the single registry
        of fitted state.

        Networks appear as CPU state dicts (with optimizer state and skorch history), the
        rest as arrays and JSON data. Checkpoints (:meth:`save`), pickles and
        :meth:`_set_state` all go through this one description.

        Returns
        -------
        state : dict
            A flat dict of ndarrays, state dicts and JSON data.
        """
        rng_position, rng_keys = random_state_as_data(self._rng)
        fused = self.__dict__.get("fused_")
        state = {key: getattr(self, attr, None) for attr, key in _PLAIN_STATE.items()}
        state.update(
            self._pair.as_state(),
            **self._retraining.as_state(),
            **self._labelled.as_arrays(),
            rng=rng_position,
            rng_keys=rng_keys,
            sample_shape=list(self._sample_shape),
            has_fused=fused is not None,
        )
        if self._last_query is not None:
            state.update(self._last_query.as_arrays())
        if fused is not None:
            state.update(net_state(fused, "fused", init=True))
        return state

    def _set_state(self, state, *, source="the saved state"):
        """Rebuild every fitted attribute from :meth:`_get_state`'s output; the networks are
        re-created.

        Parameters
        ----------
        state : dict
            The output of :meth:`_get_state` (read back from a checkpoint or a pickle).
        source : str, default="the saved state"
            Where the state comes from, for error messages.

        Raises
        ------
        CheckpointMismatchError
            If this learner's estimator or pruning parameters build another network than the
            saved one.
        """
        self._forget_fit()
        load = functools.partial(load_weights, source=source)
        labelled = LabelledSet.from_arrays(state)
        sample_shape = tuple(state["sample_shape"])
        template = self._template(sample_shape, len(state["classes"]))
        self._vocabulary = ProxyVocabulary.from_state(state)
        self._pair = PrunedPair.from_state(
            template,
            state,
            example_batch(labelled.X, template.device),
            load,
            **self._pruning_params(state["prune_seed"]),
        )
        for attr, key in _PLAIN_STATE.items():
            if state.get(key) is not None or attr[0] == "_":
                setattr(self, attr, state.get(key))
        self._labelled = labelled
        self._sample_shape = sample_shape
        self._last_query = QueryRecord.from_arrays(state)
        self._rng = random_state_from_data(state["rng"], state["rng_keys"])
        self._retraining = ProxyRetraining.from_state(
            state, self._new_proxy, load, self.proxy_init_module_
        )
        if state["has_fused"]:
            start = load(
                copy.deepcopy(self.full_init_module_), state["fused_init"], "fused network"
            )
            # initialize() draws weights that are overwritten next
            with torch_seed_scope(0, template.device):
                self.fused_ = restore_net_state(
                    self._new_fused_net(start)[0].initialize(), state, "fused", load
                )

    def __getstate__(self):
        state = {
            name: value
            for name, value in super().__getstate__().items()
            if name in self._get_param_names() or name == "_sklearn_version"
        }
        # a net with device=None (skorch's AccelerateMixin) unpickles with device=None,
        # not skorch's "cpu"
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
