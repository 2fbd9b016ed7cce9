"""Stopping criteria for active learning: deciding when more labels stop paying off.

Each criterion is a small stateful object, checked once per round of a
query/teach loop (or by the simulation harness)::

    criterion.should_stop(learner, X_pool)   # -> bool; criterion.reason says why when True
    criterion.reset()                        # forget the history, for a new run

``learner`` is anything with ``predict_proba(X)``: a
:class:`~prunefuse_sk.PruneFuseActiveLearner` (before :meth:`fuse` it
predicts with its proxy, the model that selects the samples) or a fitted
skorch net. :class:`LabelBudget` also reads the size of the labelled set from
``learner.X_training``, or from the ``n_labels=`` keyword that every
criterion accepts. :class:`AnyOf` combines criteria.
"""

import numpy as np
from sklearn.metrics import cohen_kappa_score
from sklearn.utils import check_random_state

from .exceptions import EmptyPoolError, InvalidParameterError
from .parameter_checks import check_int, check_real
from .strategies.measures import entropy, least_confidence, margin_uncertainty

__all__ = ["StoppingCriterion", "LabelBudget", "StablePredictions", "LowUncertainty", "AnyOf"]

_MEASURES = {
    "least_confidence": least_confidence,
    "margin": margin_uncertainty,
    "margin_uncertainty": margin_uncertainty,
    "entropy": entropy,
}


def _predict_proba(learner, X, who):
    if not callable(getattr(learner, "predict_proba", None)):
        raise TypeError(
            f"{who} needs a fitted model with predict_proba (a PruneFuseActiveLearner or a fitted "
            f"skorch net); got {type(learner).__name__}."
        )
    proba = np.asarray(learner.predict_proba(X))
    if proba.ndim != 2 or proba.shape[0] != len(X):
        raise ValueError(
            f"{who}: predict_proba must return an array of shape ({len(X)}, n_classes); got shape "
            f"{proba.shape}."
        )
    return proba


class StoppingCriterion:
    """Base class of the stopping criteria.

    Subclasses implement :meth:`should_stop`, set :attr:`reason` when it
    returns ``True`` (and back to ``None`` when it returns ``False``), and
    extend :meth:`reset` if they keep a history.

    Attributes
    ----------
    reason : str or None
        Why the last :meth:`should_stop` call returned ``True``; ``None`` if it
        returned ``False`` or was never called.
    """

    reason = None

    def should_stop(self, learner, X_pool=None, *, n_labels=None):
        """Whether to stop labelling now; call once per round, after ``teach``.

        Parameters
        ----------
        learner : object
            The model, with ``predict_proba(X)``.
        X_pool : array-like of shape (n_pool, ...), default=None
            The unlabelled pool left.
        n_labels : int, default=None
            The size of the labelled set, when the learner does not tell.

        Returns
        -------
        stop : bool
            ``True`` to stop; :attr:`reason` then says why.
        """
        raise NotImplementedError

    def reset(self):
        """Forget everything seen so far, for a new run.

        Returns
        -------
        self : StoppingCriterion
            The criterion itself.
        """
        self.reason = None
        return self

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in self._repr_params())
        return f"{type(self).__name__}({params})"

    def _repr_params(self):
        return []


class LabelBudget(StoppingCriterion):
    """Stop once the labelled set holds at least ``max_labels`` samples.

    Parameters
    ----------
    max_labels : int
        The labelling budget, at least 1.

    Attributes
    ----------
    reason : str or None
        Set when the budget is reached.

    Examples
    --------
    >>> from prunefuse_sk.stopping import LabelBudget
    >>> budget = LabelBudget(500)
    >>> budget.should_stop(None, n_labels=450)
    False
    >>> budget.should_stop(None, n_labels=500)
    True
    >>> budget.reason
    'label budget reached: 500 labels >= max_labels=500'

    In a loop, with a :class:`~prunefuse_sk.PruneFuseActiveLearner` (the
    labelled set is read from ``learner.X_training``)::

        learner.fit(X_seed, y_seed)
        while not budget.should_stop(learner):
            idx, X_new = learner.query(X_pool, n=50)
            learner.teach(X_new, oracle(X_new))
            X_pool = np.delete(X_pool, idx, axis=0)
    """

    def __init__(self, max_labels):
        self.max_labels = check_int(max_labels, "max_labels", minimum=1)
        self.reason = None

    def _repr_params(self):
        return [("max_labels", self.max_labels)]

    def should_stop(self, learner, X_pool=None, *, n_labels=None):
        """Whether the labelled set has reached the budget.

        Parameters
        ----------
        learner : object or None
            Read only when ``n_labels`` is None: ``len(learner.X_training)``
            (``None`` before ``fit`` counts as 0 labels).
        X_pool : array-like, default=None
            Ignored.
        n_labels : int, default=None
            The size of the labelled set; overrides the learner's.

        Returns
        -------
        stop : bool
            ``True`` when the labelled set has at least ``max_labels`` samples.

        Raises
        ------
        TypeError
            If ``n_labels`` is None and ``learner`` has no ``X_training``.
        InvalidParameterError
            If ``n_labels`` is not a non-negative int.
        """
        if n_labels is None:
            if not hasattr(learner, "X_training"):
                raise TypeError(
                    f"LabelBudget cannot count the labels of a {type(learner).__name__} (it has no "
                    "X_training); pass n_labels=len(labelled_set)."
                )
            labelled = learner.X_training
            n_labels = 0 if labelled is None else len(labelled)
        n_labels = check_int(n_labels, "n_labels", minimum=0)
        self.reason = None
        if n_labels >= self.max_labels:
            self.reason = f"label budget reached: {n_labels} labels >= max_labels={self.max_labels}"
            return True
        return False


class StablePredictions(StoppingCriterion):
    """Stop when the predictions on a fixed unlabelled stop set no longer change.

    After Bloodgood & Vijay-Shanker (2009): every round the model's predicted
    classes on ``stop_set`` are kept, Cohen's kappa between this round's and
    the previous round's predictions is computed
    (:func:`sklearn.metrics.cohen_kappa_score`), and labelling stops once the
    last ``window`` kappas are all at least ``threshold``. Two identical
    prediction vectors count as kappa 1.0, including the degenerate case of
    one constant prediction, where the kappa formula is 0/0. The stop set
    needs no labels; a few hundred to a few thousand samples held out of the
    pool (or drawn from it) are enough.

    Call :meth:`should_stop` exactly once per round: each call is one round
    of history. The first call only records predictions, so the earliest
    stop is at call ``window + 1``.

    Parameters
    ----------
    stop_set : array-like, memmap or torch.Tensor of shape (n_samples, ...)
        Unlabelled samples the model predicts every round; at least one.
    threshold : float, default=0.99
        Kappa needed between consecutive rounds, in [-1, 1].
    window : int, default=3
        Number of consecutive kappas that must reach ``threshold``.

    Attributes
    ----------
    kappas_ : list of float
        Kappa between each round's predictions and the previous round's.
    predictions_ : ndarray of shape (n_samples,) or None
        The latest predicted class indices (columns of ``predict_proba``).
    reason : str or None
        Set when the criterion fires.

    References
    ----------
    M. Bloodgood and K. Vijay-Shanker, "A Method for Stopping Active Learning
    Based on Stabilizing Predictions and the Need for User-Adjustable
    Stopping", Proceedings of CoNLL, 2009, pp. 39-47.

    Examples
    --------
    Hold out a stop set, then check once per round::

        from prunefuse_sk.stopping import StablePredictions

        stop_set, X_pool = X_unlabelled[:500], X_unlabelled[500:]
        stable = StablePredictions(stop_set, threshold=0.99, window=3)
        learner.fit(X_seed, y_seed)
        while not stable.should_stop(learner):
            idx, X_new = learner.query(X_pool, n=50)
            learner.teach(X_new, oracle(X_new))
            X_pool = np.delete(X_pool, idx, axis=0)
        print(stable.reason, stable.kappas_)
    """

    def __init__(self, stop_set, *, threshold=0.99, window=3):
        if stop_set is None or not hasattr(stop_set, "__len__"):
            raise InvalidParameterError(
                f"stop_set must be an array of unlabelled samples; got {type(stop_set).__name__}."
            )
        if not hasattr(stop_set, "shape"):
            stop_set = np.asarray(stop_set)
        if len(stop_set) == 0:
            raise InvalidParameterError(
                "stop_set is empty; pass at least one unlabelled sample (a few hundred work well)."
            )
        self.stop_set = stop_set
        self.threshold = check_real(threshold, "threshold", low=-1.0, high=1.0)
        self.window = check_int(window, "window", minimum=1)
        self.reset()

    def _repr_params(self):
        return [
            ("stop_set", f"<{len(self.stop_set)} samples>"),
            ("threshold", self.threshold),
            ("window", self.window),
        ]

    def reset(self):
        """Forget the predictions and kappas seen so far.

        Returns
        -------
        self : StablePredictions
            The criterion itself.
        """
        self.reason = None
        self.kappas_ = []
        self.predictions_ = None
        self._n_classes = None
        return self

    @staticmethod
    def _kappa(previous, current):
        if np.array_equal(previous, current):
            return 1.0  # full agreement; also the constant case where the kappa formula is 0/0
        return float(cohen_kappa_score(previous, current))

    def should_stop(self, learner, X_pool=None, *, n_labels=None):
        """Predict the stop set, record kappa with the previous round, and say whether it is stable.

        Parameters
        ----------
        learner : object
            The model, with ``predict_proba(X)``.
        X_pool : array-like, default=None
            Ignored.
        n_labels : int, default=None
            Ignored.

        Returns
        -------
        stop : bool
            ``True`` when the last ``window`` kappas are all ``>= threshold``.

        Raises
        ------
        TypeError
            If ``learner`` has no ``predict_proba``.
        ValueError
            If ``predict_proba`` returns the wrong shape, or another number of
            classes than in the previous round.
        """
        proba = _predict_proba(learner, self.stop_set, "StablePredictions")
        current = proba.argmax(axis=1)
        self.reason = None
        if self.predictions_ is not None:
            if self._n_classes != proba.shape[1]:
                raise ValueError(
                    f"StablePredictions: predict_proba returned {proba.shape[1]} classes, but "
                    f"{self._n_classes} in the previous round; call reset() when switching models."
                )
            self.kappas_.append(self._kappa(self.predictions_, current))
        self.predictions_ = current
        self._n_classes = proba.shape[1]
        recent = self.kappas_[-self.window :]
        if len(recent) == self.window and min(recent) >= self.threshold:
            self.reason = (
                f"stable predictions: Cohen's kappa on the {len(current)}-sample stop set >= "
                f"{self.threshold} for {self.window} consecutive rounds (last: "
                f"{', '.join(f'{k:.4f}' for k in recent)})"
            )
            return True
        return False


class LowUncertainty(StoppingCriterion):
    """Stop when the model's mean uncertainty over the pool falls below a threshold.

    Every round the pool (or a random subsample of ``sample`` of its rows)
    is scored with ``measure`` and labelling stops when the mean score is
    strictly below ``threshold``: the model is confident about nearly
    everything left to label.

    Parameters
    ----------
    threshold : float
        Stop when the mean measure is below this; non-negative. For
        ``"least_confidence"`` and ``"margin"`` scores lie in [0, 1], for
        ``"entropy"`` in [0, log(n_classes)] (nats).
    measure : {"least_confidence", "margin", "entropy"} or callable, default="least_confidence"
        A measure from :mod:`prunefuse_sk.strategies.measures`
        (``"margin_uncertainty"`` is accepted for ``"margin"``), or a function
        ``measure(proba) -> scores`` of shape ``(n_samples,)``.
    sample : int, default=None
        Score only this many pool rows, drawn without replacement each round;
        ``None`` scores the whole pool.
    random_state : int, RandomState instance or None, default=None
        Seeds the subsampling; with an int the sequence of subsamples repeats
        after :meth:`reset`.

    Attributes
    ----------
    values_ : list of float
        The mean measure of each round.
    reason : str or None
        Set when the criterion fires.

    Examples
    --------
    ::

        from prunefuse_sk.stopping import LowUncertainty

        confident = LowUncertainty(0.05, measure="least_confidence", sample=2000, random_state=0)
        learner.fit(X_seed, y_seed)
        while not confident.should_stop(learner, X_pool):
            idx, X_new = learner.query(X_pool, n=50)
            learner.teach(X_new, oracle(X_new))
            X_pool = np.delete(X_pool, idx, axis=0)
    """

    def __init__(self, threshold, *, measure="least_confidence", sample=None, random_state=None):
        self.threshold = check_real(threshold, "threshold", low=0.0)
        if isinstance(measure, str):
            if measure not in _MEASURES:
                raise InvalidParameterError(
                    f"measure must be one of {sorted(_MEASURES)} or a callable proba -> scores; "
                    f"got {measure!r}."
                )
            self._measure = _MEASURES[measure]
        elif callable(measure):
            self._measure = measure
        else:
            raise InvalidParameterError(
                f"measure must be one of {sorted(_MEASURES)} or a callable proba -> scores; got "
                f"{measure!r}."
            )
        self.measure = measure
        self.sample = None if sample is None else check_int(sample, "sample", minimum=1)
        self.random_state = random_state
        self.reset()

    def _measure_name(self):
        if isinstance(self.measure, str):
            return self.measure
        return getattr(self.measure, "__name__", repr(self.measure))

    def _repr_params(self):
        return [
            ("threshold", self.threshold),
            ("measure", self._measure_name()),
            ("sample", self.sample),
            ("random_state", self.random_state),
        ]

    def reset(self):
        """Forget the values seen so far and re-seed the subsampling.

        Returns
        -------
        self : LowUncertainty
            The criterion itself.
        """
        self.reason = None
        self.values_ = []
        self._rng = check_random_state(self.random_state)
        return self

    def should_stop(self, learner, X_pool=None, *, n_labels=None):
        """Score the pool (or a subsample) and say whether the mean measure is below the threshold.

        Parameters
        ----------
        learner : object
            The model, with ``predict_proba(X)``.
        X_pool : array-like, memmap or torch.Tensor of shape (n_pool, ...)
            The unlabelled pool left; required.
        n_labels : int, default=None
            Ignored.

        Returns
        -------
        stop : bool
            ``True`` when the mean measure is ``< threshold``.

        Raises
        ------
        ValueError
            If ``X_pool`` is None.
        EmptyPoolError
            If ``X_pool`` has no rows.
        TypeError
            If ``learner`` has no ``predict_proba``.
        """
        if X_pool is None:
            raise ValueError("LowUncertainty needs the pool: call should_stop(learner, X_pool).")
        if not hasattr(X_pool, "shape"):
            X_pool = np.asarray(X_pool)
        n_pool = len(X_pool)
        if n_pool == 0:
            raise EmptyPoolError(
                "LowUncertainty: X_pool is empty, so there is no uncertainty left to measure."
            )
        if self.sample is not None and self.sample < n_pool:
            idx = np.sort(self._rng.choice(n_pool, size=self.sample, replace=False))
            X_pool = X_pool[idx]
        proba = _predict_proba(learner, X_pool, "LowUncertainty")
        scores = np.asarray(self._measure(proba), dtype=np.float64)
        if scores.shape != (len(proba),):
            raise ValueError(
                "LowUncertainty: the measure must return one score per sample, shape "
                f"({len(proba)},); got shape {scores.shape}."
            )
        value = float(scores.mean())
        self.values_.append(value)
        self.reason = None
        if value < self.threshold:
            self.reason = (
                f"low uncertainty: mean {self._measure_name()} over {len(proba)} pool samples "
                f"= {value:.4g} < {self.threshold}"
            )
            return True
        return False


class AnyOf(StoppingCriterion):
    """Stop as soon as any of several criteria fires.

    Every criterion is checked on every call, even after an earlier one has
    fired, so history-based criteria such as :class:`StablePredictions` see
    every round. :attr:`reason` is the reason of the first criterion (in the
    order given) that fired.

    Parameters
    ----------
    *criteria : StoppingCriterion
        At least one criterion (any object with ``should_stop`` and ``reason``).

    Attributes
    ----------
    criteria : tuple
        The criteria.
    fired_ : list
        The criteria that fired in the last call, in order.
    reason : str or None
        The first fired criterion's reason.

    Examples
    --------
    ::

        from prunefuse_sk.stopping import AnyOf, LabelBudget, StablePredictions

        stop = AnyOf(LabelBudget(1000), StablePredictions(stop_set))
        learner.fit(X_seed, y_seed)
        while not stop.should_stop(learner, X_pool):
            idx, X_new = learner.query(X_pool, n=50)
            learner.teach(X_new, oracle(X_new))
            X_pool = np.delete(X_pool, idx, axis=0)
        print("stopped:", stop.reason)
    """

    def __init__(self, *criteria):
        if not criteria:
            raise InvalidParameterError(
                "AnyOf needs at least one criterion, e.g. AnyOf(LabelBudget(1000))."
            )
        for i, criterion in enumerate(criteria):
            if not callable(getattr(criterion, "should_stop", None)):
                raise TypeError(
                    f"AnyOf: criterion {i} ({type(criterion).__name__}) has no should_stop method; "
                    "pass stopping criteria such as LabelBudget(1000)."
                )
        self.criteria = tuple(criteria)
        self.reset()

    def _repr_params(self):
        return []

    def __repr__(self):
        return f"AnyOf({', '.join(map(repr, self.criteria))})"

    def reset(self):
        """Reset every criterion.

        Returns
        -------
        self : AnyOf
            The criterion itself.
        """
        for criterion in self.criteria:
            if callable(getattr(criterion, "reset", None)):
                criterion.reset()
        self.reason = None
        self.fired_ = []
        return self

    def should_stop(self, learner, X_pool=None, *, n_labels=None):
        """Check every criterion; stop when any fires.

        Parameters
        ----------
        learner : object
            The model, passed to every criterion.
        X_pool : array-like, default=None
            The pool left, passed to every criterion.
        n_labels : int, default=None
            The size of the labelled set, passed to every criterion.

        Returns
        -------
        stop : bool
            ``True`` when at least one criterion fired.
        """
        self.fired_ = [
            c for c in self.criteria if c.should_stop(learner, X_pool, n_labels=n_labels)
        ]
        self.reason = getattr(self.fired_[0], "reason", None) if self.fired_ else None
        if self.fired_ and self.reason is None:
            self.reason = f"{type(self.fired_[0]).__name__} fired"
        return bool(self.fired_)
