"""The strategy contract: what a query strategy sees of a model, and how it is called.

A query strategy is any function ``strategy(learner, X_pool, n_instances=1, **kw)`` that
returns indices into ``X_pool`` or ``(indices, scores)`` (modAL's convention; modAL 0.4.1
returns bare indices, 0.4.2 a pair). :class:`SelectorView` presents a fitted skorch net as
such a ``learner``; :func:`call_strategy` calls a strategy and validates what it returned.
The learner and ``simulate`` both go through these two, so every selector obeys one contract.
"""

import inspect

import numpy as np

from .._random import draw_seed
from ..dask_scoring import DASK_CANDIDATES, rank_dask_pool, score_dask_pool
from ..exceptions import EmptyPoolError, InvalidParameterError, StrategyResultError
from ..parameter_checks import check_int, check_n_instances
from ..pools import as_pool, dense_array
from ..scoring import score_pool

__all__ = ["SelectorView", "call_strategy", "draw_candidates", "select_from_pool"]


class SelectorView:
    """A fitted skorch net seen as a modAL-style learner by query strategies.

    modAL strategies read ``predict_proba``, ``estimator`` (a fitted skorch
    net: ``.module_``, ``.infer``), ``X_training``, ``y_training``,
    ``classes_``, ``on_transformed`` and ``transform_without_estimating``; the
    built-in ones call :meth:`score_pool` for probabilities, embeddings and
    Monte Carlo dropout entropies in one batched pass.

    Parameters
    ----------
    estimator : skorch.NeuralNetClassifier
        The fitted net that scores the pool (the proxy, or a baseline's selector).
    X_training, y_training : ndarray
        The labelled set so far.
    classes : ndarray of shape (n_outputs,), default=None
        The label of each output unit; ``0..n_outputs-1`` when None.
    embedding_layer : str, default=None
        The layer whose input is the embedding ``"kcenter"`` and ``"badge"`` use.
    sample_shape : tuple, default=None
        When given, pools must have samples of this shape.
    progress : bool, default=False
        Show a progress bar when scoring pools of more than 10,000 rows.
    scoring_memory : float, default=None
        Memory budget of one scoring batch in MiB (``working_memory`` of
        :func:`~prunefuse_sk.strategies.score_pool`), used when a strategy passes no
        ``batch_size``; None for the device's default
        (:func:`~prunefuse_sk.scoring.default_scoring_memory`: 32 MiB on the
        CPU, 1024 MiB on a GPU).
    owner : object, default=None
        Attributes the view lacks are looked up here (e.g. the learner).

    Attributes
    ----------
    candidates : Pool or None
        The pool :func:`select_from_pool` hands the strategy, checked at the public boundary;
        :meth:`score_pool` reads it as is when the strategy scores exactly those rows.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from prunefuse_sk.networks import default_estimator
    >>> from prunefuse_sk.strategies import least_confidence_sampling
    >>> X, y = load_digits(return_X_y=True)
    >>> X = (X / 16).astype("float32")
    >>> net = default_estimator(64, 10).set_params(max_epochs=2).fit(X[:100], y[:100])
    >>> view = SelectorView(net, X[:100], y[:100])
    >>> indices, scores = call_strategy(least_confidence_sampling, view, X[100:400], 5)
    >>> len(indices), bool(scores[0] >= scores[-1])
    (5, True)
    """

    on_transformed = False

    def __init__(
        self,
        estimator,
        X_training,
        y_training,
        *,
        classes=None,
        embedding_layer=None,
        sample_shape=None,
        progress=False,
        scoring_memory=None,
        owner=None,
    ):
        self.estimator = estimator
        self.X_training = X_training
        self.y_training = y_training
        self.classes_ = np.arange(_n_outputs(estimator)) if classes is None else np.asarray(classes)
        self.embedding_layer = embedding_layer
        self.sample_shape = sample_shape
        self.progress = progress
        self.scoring_memory = scoring_memory
        self._owner = owner
        self.candidates = None  # the Pool a query hands its strategy, already checked

    def score_pool(self, X, *, embeddings=False, n_passes=1, batch_size=None, autocast=False):
        """Probabilities (and embeddings / MC-dropout entropies) of ``X`` in one batched pass.

        Parameters
        ----------
        X : array-like, Tensor, sparse matrix, DataFrame, dask collection or Pool
            The rows to score, of shape (n_samples, ...): any kind
            :func:`~prunefuse_sk.pools.as_pool` takes.
        embeddings : bool, default=False
            Also record the inputs of ``embedding_layer``.
        n_passes : int, default=1
            Monte Carlo dropout passes (as in :func:`~prunefuse_sk.scoring.score_pool`).
        batch_size : int, default=None
            Rows per forward pass; without it, batches are sized to ``scoring_memory``.
        autocast : bool, default=False
            Float16 forward passes on CUDA.

        Returns
        -------
        scores : PoolScores
            Probabilities, and embeddings or expected entropies when asked for.
        """
        if self.candidates is not None and X is self.candidates.data:
            pool = self.candidates  # built and checked at the public boundary: not again
        else:
            pool = as_pool(X).check_shape(self.sample_shape, min_samples=1)
        if pool.on_cluster:  # scored on the workers; only the scores come back
            return score_dask_pool(
                self.estimator,
                pool,
                embedding_layer=self.embedding_layer if embeddings else None,
                n_passes=n_passes,
                batch_size=batch_size,
                autocast=autocast,
                progress=self.progress,
                working_memory=self.scoring_memory,
            )
        return score_pool(
            self.estimator,
            pool,
            batch_size=batch_size,
            embedding_layer=self.embedding_layer if embeddings else None,
            n_passes=n_passes,
            autocast=autocast,
            progress=self.progress,
            working_memory=self.scoring_memory,
        )

    def predict_proba(self, X, **kwargs):
        """Class probabilities of ``X``, batch by batch; columns follow ``classes_``.

        Parameters
        ----------
        X : array-like, memmap, torch.Tensor, sparse matrix, DataFrame or dask collection
            The samples, of shape (n_samples, ...).
        **kwargs
            Ignored (modAL passes its own keyword arguments to ``predict_proba``).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), float32
            The net's probabilities.
        """
        return self.score_pool(as_pool(X, name="X")).proba

    def predict(self, X, **kwargs):
        """The label of the most probable output unit of each row of ``X``.

        Parameters
        ----------
        X : array-like, memmap, torch.Tensor, sparse matrix, DataFrame or dask collection
            The samples, of shape (n_samples, ...).
        **kwargs
            Ignored, as in :meth:`predict_proba`.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            ``classes_[argmax(proba)]``.
        """
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def transform_without_estimating(self, X):
        """``X`` unchanged: the view has no preprocessing (modAL's hook).

        Parameters
        ----------
        X : object
            The samples.

        Returns
        -------
        X : object
            The same object.
        """
        return X

    def __getattr__(self, name):
        owner = self.__dict__.get("_owner")
        if owner is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(owner, name)


def _n_outputs(net):
    return int(list(net.module_.parameters())[-1].shape[0])


def _named_parameters(func):
    try:
        return inspect.signature(func).parameters
    except (TypeError, ValueError):
        return {}


def call_strategy(strategy, view, X, n, *, rng=None, **strategy_kwargs):
    """Call a query strategy and validate its result.

    Parameters
    ----------
    strategy : callable
        ``strategy(learner, X, n_instances=n, **kw)`` returning indices or ``(indices, scores)``.
    view : SelectorView or modAL-style learner
        What the strategy sees as its ``learner``.
    X : array-like, memmap, torch.Tensor or dict of tensors
        The candidates, handed to the strategy exactly as given.
    n : int
        How many to pick.
    rng : numpy.random.RandomState, default=None
        When the strategy takes ``random_state`` and none is passed, a seed is drawn from ``rng``.
    **strategy_kwargs
        Passed to the strategy.

    Returns
    -------
    indices : ndarray of shape (n,), int64
        Unique row positions into ``X``, in the strategy's order.
    scores : ndarray of shape (n,) or None
        The strategy's scores of the chosen rows, when it returned them.

    Raises
    ------
    StrategyResultError
        If the strategy did not return ``n`` unique integer indices into ``X``.
    """
    strategy_kwargs = _with_seed(strategy, rng, strategy_kwargs)
    return _unpack_result(
        strategy(view, X, n_instances=n, **strategy_kwargs), n, len(as_pool(X)), strategy
    )


def _with_seed(strategy, rng, strategy_kwargs):
    """The strategy's keyword arguments, with a ``random_state`` from ``rng`` when it takes one."""
    if (
        rng is not None
        and "random_state" in _named_parameters(strategy)
        and "random_state" not in strategy_kwargs
    ):
        strategy_kwargs = {**strategy_kwargs, "random_state": draw_seed(rng)}
    return strategy_kwargs


def _unpack_result(result, n, n_candidates, strategy):
    """Indices (and scores, when given) from a strategy's return value, validated."""
    name = getattr(strategy, "__name__", repr(strategy))
    scores = None
    if isinstance(result, tuple) and len(result) == 2 and not np.isscalar(result[0]):
        indices, second = result
        if isinstance(second, np.ndarray) and second.ndim == 1 and second.dtype.kind == "f":
            scores = second
    else:
        indices = result
    indices = dense_array(indices).ravel()
    fix = "Fix the strategy so that it returns n_instances unique row indices into X_pool."
    if len(indices) != n:
        raise StrategyResultError(
            f"Strategy {name!r} returned {len(indices)} indices; expected {n}. {fix}"
        )
    if indices.dtype.kind not in "iu":
        raise StrategyResultError(
            f"Strategy {name!r} returned non-integer indices of dtype {indices.dtype}. {fix}"
        )
    indices = indices.astype(np.int64)
    n_unique = len(np.unique(indices))
    if n_unique != n:
        raise StrategyResultError(
            f"Strategy {name!r} returned {len(indices)} indices ({n_unique} unique); expected {n} "
            f"unique. {fix}"
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


def draw_candidates(n_pool, max_candidates, rng):
    """The sorted positions of a random subset of a pool to score, or None to score all of it.

    Parameters
    ----------
    n_pool : int
        Rows in the pool.
    max_candidates : int or None
        How many rows to score at most.
    rng : numpy.random.RandomState

    Returns
    -------
    candidates : ndarray of int64 or None
        None when ``max_candidates`` is None or not smaller than the pool.

    Raises
    ------
    InvalidParameterError
        If ``max_candidates`` is not a positive integer.

    Examples
    --------
    >>> draw_candidates(10, 3, np.random.RandomState(0)).tolist(), draw_candidates(10, 30, None)
    ([2, 4, 8], None)
    """
    if max_candidates is None:
        return None
    max_candidates = check_int(max_candidates, "max_candidates", what="a positive integer")
    if max_candidates >= n_pool:
        return None
    return np.sort(rng.choice(n_pool, int(max_candidates), replace=False))


def select_from_pool(
    strategy,
    view,
    X_pool,
    n=1,
    *,
    n_instances=None,
    max_candidates=None,
    rng=None,
    return_rows=False,
    require_scores=False,
    **strategy_kwargs,
):
    """One selection: draw the candidates, call the strategy on them, map its picks to the pool.

    Parameters
    ----------
    strategy : callable
        A modAL-style query strategy.
    view : SelectorView or modAL-style learner
        What the strategy sees as its ``learner``.
    X_pool : array-like, Tensor, sparse matrix, DataFrame, dict of tensors, dask collection or Pool
        The pool; the candidates are handed to the strategy as they are (a subset of rows with
        ``max_candidates``; a DataFrame's rows by position). A dask pool is scored on its
        workers: a strategy with a
        ``rank_measure`` (least confidence, margin, entropy, random) is ranked there with a
        distributed top-n; any other strategy runs on a random sample of at most
        ``max_candidates`` rows (:data:`~prunefuse_sk.dask_scoring.DASK_CANDIDATES`
        when None), whose scores alone come back.
    n, n_instances : int
        How many to pick (``n_instances`` is modAL's name).
    max_candidates : int, default=None
        Score only a random subset of this many rows.
    rng : numpy.random.RandomState, default=None
        Draws the candidates and the strategy's seed.
    return_rows : bool, default=False
        Also return the chosen rows (for a dask pool computed to numpy: ranked on the
        workers, they come back with their scores, so the pool is read once).
    require_scores : bool, default=False
        Refuse a strategy that returns indices only (the caller asked for scores).
    **strategy_kwargs
        Passed to the strategy.

    Returns
    -------
    indices : ndarray of shape (n,), int64
        Unique positions in ``X_pool``.
    scores : ndarray of shape (n,) or None
    rows : same type as X_pool (numpy for a dask pool), of shape (n, ...)
        Only with ``return_rows=True``: ``X_pool[indices]``.

    Raises
    ------
    EmptyPoolError
        If the pool has no rows.
    InvalidQuerySizeError
        If ``n`` is not an integer in ``[1, candidates]``.
    InvalidParameterError
        With ``require_scores``, if the strategy returns indices only.
    """
    pool = as_pool(X_pool)
    total = len(pool)
    if total == 0:
        raise EmptyPoolError(
            "The pool is empty: there is nothing left to query. Every sample is labelled; call "
            "fuse() "
            "to get the final classifier, or add unlabelled samples to the pool."
        )
    measure = getattr(strategy, "rank_measure", None)
    if pool.on_cluster and measure is None and max_candidates is None:
        max_candidates = (
            DASK_CANDIDATES  # see dask_scoring: rank on the workers, or a bounded sample
        )
    candidates = draw_candidates(total, max_candidates, rng)
    candidate_pool = pool if candidates is None else pool.subset(candidates)
    n = check_n_instances(n, n_instances, len(candidate_pool))
    rows = None
    if pool.on_cluster and measure is not None and isinstance(view, SelectorView):
        indices, scores, rows = _rank_on_workers(
            strategy, measure, view, candidate_pool, n, rng, strategy_kwargs
        )
    else:  # the strategy gets the candidates as the caller passed them (a tensor stays a tensor)
        if isinstance(view, SelectorView):
            view.candidates = candidate_pool
        indices, scores = call_strategy(
            strategy, view, candidate_pool.data, n, rng=rng, **strategy_kwargs
        )
    if require_scores and scores is None:
        raise InvalidParameterError(
            f"The strategy {getattr(strategy, '__name__', strategy)!r} returns indices only; "
            "return_scores=True needs one that returns (indices, scores)."
        )
    indices = indices if candidates is None else candidates[indices]
    if not return_rows:
        return indices, scores
    return indices, scores, (pool.take(indices) if rows is None else rows)


def _rank_on_workers(strategy, measure, view, X, n, rng, strategy_kwargs):
    """A ranking strategy on a dask pool, as a distributed top-n (its in-memory pick)."""
    kwargs = _with_seed(strategy, rng, strategy_kwargs)
    inspect.signature(strategy).bind(
        view, X, n_instances=n, **kwargs
    )  # the TypeError the call would raise
    unknown = sorted(set(kwargs) - {"random_state", "batch_size", "autocast"})
    if unknown:
        raise TypeError(
            f"On a dask pool, {getattr(strategy, '__name__', strategy)} is ranked on the workers, "
            "which takes only "
            f"random_state, batch_size and autocast; got {unknown} as well. Drop them, or compute "
            "the pool "
            "(X_pool.compute()) to run the strategy in memory."
        )
    return rank_dask_pool(
        view.estimator,
        X,
        n,
        measure,
        progress=view.progress,
        working_memory=view.scoring_memory,
        **kwargs,
    )
