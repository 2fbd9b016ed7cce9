"""prunefuse_sk.stopping: each rule's boundary on fake models, and the criteria on a real
PruneFuseActiveLearner."""

import types

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from prunefuse_sk import PruneFuseActiveLearner
from prunefuse_sk.exceptions import EmptyPoolError, InvalidParameterError
from prunefuse_sk.networks import MLP
from prunefuse_sk.stopping import (
    AnyOf,
    LabelBudget,
    LowUncertainty,
    StablePredictions,
    StoppingCriterion,
)

from conftest import make_net


class SequenceModel:
    """Predicts, call after call, the next class vector of a script (as one-hot-ish
    probabilities)."""

    def __init__(self, predictions, n_classes=3):
        self.predictions = [np.asarray(p) for p in predictions]
        self.n_classes = n_classes
        self.calls = 0

    def predict_proba(self, X):
        labels = self.predictions[self.calls]
        self.calls += 1
        assert len(labels) == len(X)
        proba = np.full((len(X), self.n_classes), 0.1 / (self.n_classes - 1))
        proba[np.arange(len(X)), labels] = 0.9
        return proba


class FixedProbaModel:
    """Returns fixed probabilities; row i of X holds the index of its probability row in column
    0."""

    def __init__(self, proba):
        self.proba = np.asarray(proba, dtype=np.float64)
        self.seen = []

    def predict_proba(self, X):
        X = np.asarray(X)
        self.seen.append(X[:, 0].astype(int).copy())
        return self.proba[X[:, 0].astype(int)]


def _pool(n):
    return np.arange(n, dtype=np.float64).reshape(n, 1)


# ------------------------------------------------------------- LabelBudget
def test_label_budget_boundary():
    budget = LabelBudget(100)
    assert budget.should_stop(None, n_labels=99) is False
    assert budget.reason is None
    assert budget.should_stop(None, n_labels=100) is True
    assert budget.reason == "label budget reached: 100 labels >= max_labels=100"
    assert budget.should_stop(None, n_labels=101) is True
    assert budget.should_stop(None, n_labels=3) is False and budget.reason is None  # reason cleared


def test_label_budget_reads_x_training():
    budget = LabelBudget(5)
    assert budget.should_stop(types.SimpleNamespace(X_training=np.zeros((4, 2)))) is False
    assert budget.should_stop(types.SimpleNamespace(X_training=np.zeros((5, 2)))) is True
    assert (
        budget.should_stop(types.SimpleNamespace(X_training=None)) is False
    )  # before fit: 0 labels
    # the keyword overrides the learner
    assert (
        budget.should_stop(types.SimpleNamespace(X_training=np.zeros((9, 2))), n_labels=1) is False
    )
    assert budget.reset() is budget and budget.reason is None


@pytest.mark.parametrize("bad", [0, -3, 1.5, True, "10", None])
def test_label_budget_bad_max_labels(bad):
    with pytest.raises(InvalidParameterError, match="max_labels must be an int >= 1"):
        LabelBudget(bad)


def test_label_budget_cannot_count():
    with pytest.raises(TypeError, match="pass n_labels"):
        LabelBudget(5).should_stop(object())
    with pytest.raises(InvalidParameterError, match="n_labels"):
        LabelBudget(5).should_stop(None, n_labels=-1)


# ------------------------------------------------------- StablePredictions
A = [0, 1, 0, 1, 2, 2, 0, 1]
B = [0, 1, 1, 1, 2, 2, 0, 1]  # one change from A
KAPPA_AB = cohen_kappa_score(A, B)


def test_stable_predictions_window_and_exact_threshold():
    assert 0 < KAPPA_AB < 1
    # kappas: AB, BB=1, BA, AA=1 ...
    stable = StablePredictions(np.zeros((8, 2)), threshold=KAPPA_AB, window=2)
    model = SequenceModel([A, B, B, A, A])
    assert stable.should_stop(model) is False  # first round: predictions only
    assert stable.kappas_ == []
    assert stable.should_stop(model) is False  # one kappa, window 2
    assert stable.should_stop(model) is True  # [KAPPA_AB, 1.0], both >= threshold (== counts)
    assert stable.kappas_ == pytest.approx([KAPPA_AB, 1.0])
    assert "2 consecutive rounds" in stable.reason and "8-sample stop set" in stable.reason

    above = StablePredictions(
        np.zeros((8, 2)), threshold=float(np.nextafter(KAPPA_AB, 1.0)), window=2
    )
    model = SequenceModel([A, B, B, A, A])
    results = [above.should_stop(model) for _ in range(5)]
    # kappas: AB, 1, BA, 1 -> only windows without a change-kappa pass, i.e. never two 1.0s in a row
    assert results == [False, False, False, False, False]
    assert above.reason is None
    model = SequenceModel([A, B, B, B])
    above.reset()
    assert [above.should_stop(model) for _ in range(4)] == [False, False, False, True]


def test_stable_predictions_default_needs_three_stable_rounds():
    stable = StablePredictions(np.zeros((8, 1)))  # threshold 0.99, window 3
    model = SequenceModel([A, B, B, B, B])
    assert [stable.should_stop(model) for _ in range(5)] == [False, False, False, False, True]
    assert stable.kappas_ == pytest.approx([KAPPA_AB, 1.0, 1.0, 1.0])


def test_stable_predictions_constant_predictions():
    # both rounds predict one class everywhere: kappa's formula is 0/0, treated as 1.0 (no warning
    # raised)
    stable = StablePredictions(np.zeros((6, 1)), threshold=0.99, window=1)
    model = SequenceModel([[2] * 6, [2] * 6])
    assert stable.should_stop(model) is False
    assert stable.should_stop(model) is True
    assert stable.kappas_ == [1.0]
    # constant but different classes: no agreement, kappa 0
    stable = StablePredictions(np.zeros((6, 1)), threshold=0.0, window=1)
    model = SequenceModel([[2] * 6, [1] * 6])
    stable.should_stop(model)
    assert stable.should_stop(model) is True and stable.kappas_ == [0.0]


def test_stable_predictions_reset_and_errors():
    stable = StablePredictions(np.zeros((8, 1)), threshold=0.5, window=1)
    model = SequenceModel([A, A])
    stable.should_stop(model)
    assert stable.should_stop(model) is True
    stable.reset()
    assert stable.kappas_ == [] and stable.predictions_ is None and stable.reason is None
    # a reset criterion starts over: the first call records only
    assert stable.should_stop(SequenceModel([A])) is False

    stable = StablePredictions(np.zeros((8, 1)))
    stable.should_stop(SequenceModel([A], n_classes=3))
    with pytest.raises(ValueError, match="4 classes, but 3 in the previous round"):
        stable.should_stop(SequenceModel([A], n_classes=4))
    with pytest.raises(TypeError, match="predict_proba"):
        stable.should_stop(object())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(stop_set=np.zeros((0, 2))), "stop_set is empty"),
        (dict(stop_set=None), "stop_set must be an array"),
        (dict(stop_set=np.zeros((3, 2)), threshold=1.5), r"threshold must be in \[-1.0, 1.0\]"),
        (dict(stop_set=np.zeros((3, 2)), threshold=float("nan")), "threshold must be a finite"),
        (dict(stop_set=np.zeros((3, 2)), window=0), "window must be an int >= 1"),
    ],
)
def test_stable_predictions_bad_params(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        StablePredictions(**kwargs)


# ---------------------------------------------------------- LowUncertainty
PROBA = [
    [0.75, 0.25],
    [0.5, 0.5],
]  # least confidence 0.25, 0.5 -> mean 0.375; margin 0.5, 1.0 -> 0.75


def test_low_uncertainty_strict_threshold():
    model = FixedProbaModel(PROBA)
    at = LowUncertainty(0.375)
    assert at.should_stop(model, _pool(2)) is False  # mean == threshold: not below
    assert at.values_ == [0.375] and at.reason is None
    above = LowUncertainty(float(np.nextafter(0.375, 1.0)))
    assert above.should_stop(model, _pool(2)) is True
    assert above.reason.startswith(
        "low uncertainty: mean least_confidence over 2 pool samples = 0.375 <"
    )


def test_low_uncertainty_measures():
    model = FixedProbaModel(PROBA)
    assert LowUncertainty(0.75, measure="margin").should_stop(model, _pool(2)) is False
    assert (
        LowUncertainty(0.7500001, measure="margin_uncertainty").should_stop(model, _pool(2)) is True
    )
    expected_entropy = np.mean([-(0.75 * np.log(0.75) + 0.25 * np.log(0.25)), np.log(2)])
    crit = LowUncertainty(1.0, measure="entropy")
    crit.should_stop(model, _pool(2))
    assert crit.values_[0] == pytest.approx(expected_entropy)
    custom = LowUncertainty(0.6, measure=lambda proba: proba[:, 1])  # mean of p_1 = 0.375
    assert custom.should_stop(model, _pool(2)) is True and "<lambda>" in custom.reason


def test_low_uncertainty_seeded_subsample():
    proba = np.column_stack([np.linspace(0.5, 1.0, 100), 1 - np.linspace(0.5, 1.0, 100)])
    model = FixedProbaModel(proba)
    crit = LowUncertainty(0.01, sample=10, random_state=0)
    for _ in range(3):
        crit.should_stop(model, _pool(100))
    assert [len(rows) for rows in model.seen] == [10, 10, 10]
    assert all(len(set(rows)) == 10 for rows in model.seen)  # without replacement
    assert not np.array_equal(model.seen[0], model.seen[1])  # a new subsample each round
    first = list(crit.values_)
    assert first[0] == pytest.approx(np.mean(1 - proba[model.seen[0]].max(axis=1)))
    crit.reset()  # re-seeds: the same sequence of subsamples
    for _ in range(3):
        crit.should_stop(model, _pool(100))
    assert crit.values_ == first
    # a pool smaller than `sample` is scored whole
    small = FixedProbaModel(proba)
    LowUncertainty(0.01, sample=10, random_state=0).should_stop(small, _pool(4))
    assert small.seen[0].tolist() == [0, 1, 2, 3]


def test_low_uncertainty_errors():
    model = FixedProbaModel(PROBA)
    with pytest.raises(ValueError, match="needs the pool"):
        LowUncertainty(0.1).should_stop(model)
    with pytest.raises(EmptyPoolError, match="X_pool is empty"):
        LowUncertainty(0.1).should_stop(model, np.zeros((0, 1)))
    with pytest.raises(ValueError, match="one score per sample"):
        LowUncertainty(0.1, measure=lambda p: p).should_stop(model, _pool(2))
    with pytest.raises(InvalidParameterError, match="measure must be one of"):
        LowUncertainty(0.1, measure="confidence")
    with pytest.raises(InvalidParameterError, match="measure must be one of"):
        LowUncertainty(0.1, measure=3)
    with pytest.raises(InvalidParameterError, match="threshold must be in"):
        LowUncertainty(-0.1)
    with pytest.raises(InvalidParameterError, match="sample must be an int >= 1"):
        LowUncertainty(0.1, sample=0)


# ------------------------------------------------------------------- AnyOf
def test_any_of_checks_every_criterion_and_reports_the_first():
    stable = StablePredictions(np.zeros((8, 1)), threshold=0.5, window=1)
    budget = LabelBudget(10)
    stop = AnyOf(budget, stable)
    model = SequenceModel([A, A, A])
    assert stop.should_stop(model, n_labels=5) is False and stop.reason is None
    # both fire: the budget comes first; the stop set was predicted anyway
    assert stop.should_stop(model, n_labels=10) is True
    assert stop.reason == budget.reason and stop.fired_ == [budget, stable]
    assert model.calls == 2 and stable.kappas_ == [1.0]
    assert stop.should_stop(model, n_labels=3) is True
    assert stop.fired_ == [stable] and stop.reason.startswith("stable predictions")
    stop.reset()
    assert stable.kappas_ == [] and stop.fired_ == [] and stop.reason is None
    assert isinstance(stop, StoppingCriterion) and "LabelBudget(max_labels=10)" in repr(stop)


def test_any_of_errors():
    with pytest.raises(InvalidParameterError, match="at least one criterion"):
        AnyOf()
    with pytest.raises(TypeError, match="criterion 1 .*no should_stop"):
        AnyOf(LabelBudget(3), 5)


# ----------------------------------------------------------- a real learner
def _net():
    return make_net(
        MLP,
        module__n_features=64,
        module__n_classes=10,
        module__hidden=(32,),
        max_epochs=2,
        lr=1e-2,
    )


def test_criteria_in_a_real_query_teach_loop(digits_flat):
    X_pool, X_test, y_pool, _ = digits_flat
    stop_set = X_test[:200]
    learner = PruneFuseActiveLearner(_net(), pruning_ratio=0.5, random_state=0)
    budget = LabelBudget(125)
    stable = StablePredictions(stop_set, threshold=0.99, window=3)
    confident = LowUncertainty(1e-6, sample=300, random_state=0)
    stop = AnyOf(stable, confident, budget)
    assert budget.should_stop(learner) is False  # before fit: no labels

    learner.fit(X_pool[:50], y_pool[:50])
    pool, y_rest = X_pool[50:], y_pool[50:]
    rounds = 0
    while not stop.should_stop(learner, pool):
        idx, X_new = learner.query(pool, n=25)
        learner.teach(X_new, y_rest[idx])
        pool, y_rest = np.delete(pool, idx, axis=0), np.delete(y_rest, idx)
        rounds += 1
    assert rounds == 3 and len(learner.X_training) == 125  # 50 + 3 * 25: the budget fired
    assert budget in stop.fired_ and stop.reason == stop.fired_[0].reason
    assert len(stable.kappas_) == rounds and all(-1.0 <= k <= 1.0 for k in stable.kappas_)
    assert len(confident.values_) == rounds + 1
    assert all(0.0 < v < 0.9 for v in confident.values_)  # least confidence of 10 classes


def test_stable_predictions_on_a_fitted_skorch_net(digits_flat):
    X_pool, X_test, y_pool, _ = digits_flat
    net = _net().fit(X_pool[:100], y_pool[:100])
    stable = StablePredictions(X_test[:100], threshold=0.99, window=2)
    # the same fitted net every round: identical predictions, kappa 1
    assert [stable.should_stop(net) for _ in range(3)] == [False, False, True]
    assert stable.kappas_ == [1.0, 1.0]
    low = LowUncertainty(0.95)
    assert low.should_stop(net, X_pool[100:300]) is True  # least confidence < 0.9 for 10 classes
    assert 0.0 < low.values_[0] < 0.9
