"""Every bad input to the public API raises a named exception whose message says what to do.

One table: each row is a call, the exact exception type it must raise and a phrase of
its message. Fitted learners are built once per module and every row works on a deep
copy, which must come out of the rejected call unchanged. A row given a ``gap`` is
marked ``xfail`` (strict): it documents a known gap, and the reason says what happens today.
"""

import copy
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
import torch
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from torch import nn

from prunefuse_sk import PruneFuseActiveLearner, exceptions
from prunefuse_sk.exceptions import (
    EmptyPoolError,
    FeatureShapeError,
    HardCodedShapeError,
    InvalidParameterError,
    InvalidQuerySizeError,
    LabelMappingError,
    LengthMismatchError,
    NonFiniteInputError,
    OutputWidthError,
    PruningError,
    StrategyResultError,
    UnknownStrategyError,
    UnsupportedArchitectureError,
)
from prunefuse_sk.networks import MLP, SmallCNN

from conftest import make_net

DIGIT_NAMES = np.array(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
)


# ------------------------------------------------------------------ tiny networks
def tiny_mlp(max_epochs=2, **kwargs):
    """A 64 -> 16 -> 10 MLP net: fast to build, prune and train on 2 CPU cores."""
    params = dict(
        module__n_features=64, module__n_classes=10, module__hidden=(16,), max_epochs=max_epochs
    )
    params.update(kwargs)
    return make_net(MLP, **params)


def tiny_cnn(max_epochs=1, **kwargs):
    return make_net(SmallCNN, module__width=4, module__hidden=8, max_epochs=max_epochs, **kwargs)


class BilinearNet(nn.Module):
    """torch-pruning 1.6 cannot rank the channels of ``fc1``, which feeds an ``nn.Bilinear``, by
    their norm."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 16)
        self.bilinear = nn.Bilinear(16, 16, 12)
        self.out = nn.Linear(12, 10)

    def forward(self, X):
        hidden = self.fc1(X)
        return self.out(self.bilinear(hidden, hidden))


class HardCodedViewNet(nn.Module):
    """``view(-1, 16)`` breaks once pruning halves ``fc1``."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, X):
        return self.fc2(torch.relu(self.fc1(X)).view(-1, 16))


class ThreeDOutputNet(nn.Module):
    """Returns (n_samples, 1, n_classes) instead of (n_samples, n_classes)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, X):
        return self.fc(X).unsqueeze(1)


class TupleOutputNet(ThreeDOutputNet):
    def forward(self, X):
        return self.fc(X), X


def fixed_strategy(indices):
    """A custom strategy that ignores the pool and returns ``indices``."""

    def strategy(learner, X_pool, n_instances=1):
        return indices

    strategy.__name__ = "fixed_strategy"
    return strategy


def indices_only(learner, X_pool, n_instances=1):
    return np.arange(n_instances)


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def fitted_learners(digits):
    """The fitted learners every row copies: flat MLP, 8x8 CNN and string labels."""
    images, _, y, _ = digits
    flat = images.reshape(len(images), -1)
    return {
        "mlp": PruneFuseActiveLearner(tiny_mlp(), random_state=0).fit(flat[:60], y[:60]),
        "cnn": PruneFuseActiveLearner(tiny_cnn(), random_state=0).fit(images[:60], y[:60]),
        "names": PruneFuseActiveLearner(tiny_mlp(), random_state=0).fit(
            flat[:60], DIGIT_NAMES[y[:60]]
        ),
    }


def _state(learner):
    """What a rejected call must not change."""
    return (
        len(learner.X_training),
        len(learner.y_training),
        id(learner.proxy_),
        len(learner.history_),
        "fused_" in vars(learner),
        learner.proxy_stale_,
        tuple(learner.classes_),
    )


class Case:
    """What a row may use: the data, unfitted learners and copies of the fitted ones."""

    def __init__(self, digits, fitted):
        images, _, y, _ = digits
        self.images = images[:200]
        self.X = images[:200].reshape(200, -1)
        self.y = y[:200]
        self.pool = self.X[60:160]
        self._fitted = fitted
        self._handed = []

    def fitted(self, name, **params):
        learner = copy.deepcopy(self._fitted[name]).set_params(**params)
        self._handed.append((learner, _state(learner)))
        return learner

    @property
    def mlp(self):
        return self.fitted("mlp")

    @property
    def cnn(self):
        return self.fitted("cnn")

    def new(self, estimator=None, **params):
        """An unfitted learner on a tiny MLP (or on ``estimator``)."""
        params = {"random_state": 0, **params}
        return PruneFuseActiveLearner(tiny_mlp() if estimator is None else estimator, **params)

    def fit(self, estimator=None, X=None, y=None, **params):
        """Fit a new learner on 30 rows (or on ``X``, ``y``)."""
        X = self.X[:30] if X is None else X
        y = self.y[:30] if y is None else y
        return self.new(estimator, **params).fit(X, y)

    def check_untouched(self):
        for learner, before in self._handed:
            assert _state(learner) == before, "a rejected call changed the learner"


@pytest.fixture
def case(digits, fitted_learners):
    return Case(digits, fitted_learners)


def with_value(X, value, row=1, column=3):
    X = np.array(X, dtype=np.float32)
    X.reshape(len(X), -1)[row, column] = value
    return X


def after_failed_fit(c, then):
    """Let fit fail in pruning (a layer of width 1), then call ``then(learner)``."""
    learner = c.new(tiny_mlp(module__hidden=(1,)))
    with pytest.raises(PruningError):
        learner.fit(c.X[:30], c.y[:30])
    return then(learner)


def row(test_id, call, error, match, gap=None):
    marks = [pytest.mark.xfail(strict=True, reason=gap)] if gap else []
    return pytest.param(call, error, match, id=test_id, marks=marks)


# ------------------------------------------------------------------ the table
BAD_INPUTS = [
    # --- samples at fit
    row("fit-X-1d", lambda c: c.fit(X=c.X[0], y=c.y[:1]), FeatureShapeError, "Expected a 2D array"),
    row("fit-X-0-features", lambda c: c.fit(X=np.empty((30, 0))), FeatureShapeError, "0 feature"),
    row("fit-X-0-rows", lambda c: c.fit(X=c.X[:0], y=c.y[:0]), FeatureShapeError, "0 sample"),
    row(
        "fit-X-nan",
        lambda c: c.fit(X=with_value(c.X[:30], np.nan)),
        NonFiniteInputError,
        "NaN or infinity",
    ),
    row(
        "fit-X-inf",
        lambda c: c.fit(X=with_value(c.X[:30], np.inf)),
        NonFiniteInputError,
        "NaN or infinity",
    ),
    row(
        "fit-X-sparse-nan",
        lambda c: c.fit(X=scipy.sparse.csr_matrix(with_value(c.X[:30], np.nan))),
        NonFiniteInputError,
        "NaN or infinity",
    ),
    row(
        "fit-X-complex",
        lambda c: c.fit(X=c.X[:30].astype(complex)),
        ValueError,
        "Complex data not supported",
    ),
    row(
        "fit-X-strings", lambda c: c.fit(X=np.full((30, 64), "a")), ValueError, "must hold numbers"
    ),
    row(
        "fit-X-objects",
        lambda c: c.fit(X=np.full((30, 64), object())),
        TypeError,
        "must hold numbers",
    ),
    row(
        "fit-image-vs-network",
        lambda c: c.fit(tiny_cnn(), X=c.images[:30, :, :7, :7]),
        FeatureShapeError,
        r"network fails on samples of shape \(1, 7, 7\)",
    ),
    # --- labels at fit
    row("fit-y-none", lambda c: c.new().fit(c.X[:30], None), ValueError, "target y is None"),
    row(
        "fit-y-nan",
        lambda c: c.fit(y=np.r_[np.nan, c.y[1:30]]),
        NonFiniteInputError,
        "y contains NaN",
    ),
    row(
        "fit-y-continuous",
        lambda c: c.fit(y=np.linspace(0, 1, 30)),
        ValueError,
        "Unknown label type: continuous",
    ),
    row("fit-y-2-columns", lambda c: c.fit(y=np.zeros((30, 2))), FeatureShapeError, "must be 1-D"),
    row(
        "fit-length-mismatch",
        lambda c: c.fit(y=c.y[:29]),
        LengthMismatchError,
        "different lengths: 30 and 29",
    ),
    row(
        "fit-12-classes-10-outputs",
        lambda c: c.fit(X=c.X[:36], y=np.arange(36) % 12),
        OutputWidthError,
        "cannot be mapped onto the network's 10 output units",
    ),
    row(
        "fit-3-string-classes-10-outputs",
        lambda c: c.fit(y=np.array(list("abc") * 10)),
        OutputWidthError,
        r"Use integer labels 0..9, or pass classes=\[...\]",
    ),
    row(
        "fit-declared-classes-wrong-width",
        lambda c: c.fit(tiny_mlp(classes=[0, 1, 2]), y=c.y[:30] % 3),
        OutputWidthError,
        "declares 3 classes but its network has 10 output units",
    ),
    row(
        "fit-default-net-one-class",
        lambda c: PruneFuseActiveLearner().fit(c.X[:30], np.zeros(30, dtype=int)),
        LabelMappingError,
        "1 class only",
    ),
    # --- networks the learner cannot use
    row(
        "fit-3d-output",
        lambda c: c.fit(make_net(ThreeDOutputNet)),
        OutputWidthError,
        r"one row of class scores.*1, 10",
    ),
    row(
        "fit-tuple-output", lambda c: c.fit(make_net(TupleOutputNet)), OutputWidthError, "got tuple"
    ),
    row(
        "fit-bilinear-l2",
        lambda c: c.fit(make_net(BilinearNet), importance="l2"),
        UnsupportedArchitectureError,
        r"channels of layer\(s\) fc1\b.*IndexError.*ignored_layers",
    ),
    row(
        "fit-hard-coded-view",
        lambda c: c.fit(make_net(HardCodedViewNet)),
        HardCodedShapeError,
        r"flatten\(1\)",
    ),
    row(
        "fit-layer-left-with-0-channels",
        lambda c: c.fit(tiny_mlp(module__hidden=(1,)), pruning_ratio=0.9),
        PruningError,
        r"leave layer 'hidden.1' \(1 channels\) with 0 channels.*ignored_layers",
    ),
    # --- constructor parameters (checked at fit)
    row(
        "pruning_ratio-0",
        lambda c: c.fit(pruning_ratio=0),
        InvalidParameterError,
        r"pruning_ratio must be a float in the open interval \(0, 1\)",
    ),
    row(
        "pruning_ratio-1",
        lambda c: c.fit(pruning_ratio=1),
        InvalidParameterError,
        "pruning_ratio must be",
    ),
    row("pruning_ratio-1.0", lambda c: c.fit(pruning_ratio=1.0), InvalidParameterError, "got 1.0"),
    row(
        "pruning_ratio-negative",
        lambda c: c.fit(pruning_ratio=-0.1),
        InvalidParameterError,
        "got -0.1",
    ),
    row("pruning_ratio-1.5", lambda c: c.fit(pruning_ratio=1.5), InvalidParameterError, "got 1.5"),
    row(
        "pruning_ratio-string",
        lambda c: c.fit(pruning_ratio="0.5"),
        InvalidParameterError,
        "got '0.5'",
    ),
    row(
        "pruning_ratio-bool", lambda c: c.fit(pruning_ratio=True), InvalidParameterError, "got True"
    ),
    row(
        "pruning_ratio-nan",
        lambda c: c.fit(pruning_ratio=float("nan")),
        InvalidParameterError,
        "pruning_ratio must be",
    ),
    row(
        "query_strategy-unknown",
        lambda c: c.fit(query_strategy="oracle"),
        UnknownStrategyError,
        "query_strategy must be one of.*got 'oracle'",
    ),
    row(
        "query_strategy-not-callable",
        lambda c: c.fit(query_strategy=3),
        UnknownStrategyError,
        "or a callable",
    ),
    row(
        "importance-unknown",
        lambda c: c.fit(importance="l3"),
        InvalidParameterError,
        "importance must be one of",
    ),
    row(
        "fusion_init-unknown",
        lambda c: c.fit(fusion_init="ones"),
        InvalidParameterError,
        "fusion_init must be one of",
    ),
    row(
        "proxy_retrain-unknown",
        lambda c: c.fit(proxy_retrain="cold"),
        InvalidParameterError,
        "proxy_retrain must be one of",
    ),
    row(
        "distillation_weight-2",
        lambda c: c.fit(distillation_weight=2),
        InvalidParameterError,
        r"distillation_weight must be a float in \[0, 1\]",
    ),
    row(
        "distillation_weight-negative",
        lambda c: c.fit(distillation_weight=-0.1),
        InvalidParameterError,
        "distillation_weight",
    ),
    row(
        "distillation_weight-string",
        lambda c: c.fit(distillation_weight="0.5"),
        InvalidParameterError,
        "distillation_weight",
    ),
    row(
        "temperature-0",
        lambda c: c.fit(temperature=0),
        InvalidParameterError,
        "temperature must be a positive float",
    ),
    row(
        "temperature-negative",
        lambda c: c.fit(temperature=-1.0),
        InvalidParameterError,
        "temperature must be",
    ),
    row(
        "temperature-nan",
        lambda c: c.fit(temperature=float("nan")),
        InvalidParameterError,
        "temperature must be",
    ),
    row(
        "proxy_params-not-dict",
        lambda c: c.fit(proxy_params="max_epochs=2"),
        InvalidParameterError,
        "proxy_params must be a dict",
    ),
    row(
        "proxy_params-module",
        lambda c: c.fit(proxy_params={"module__hidden": (8,)}),
        InvalidParameterError,
        "estimator__module__hidden",
    ),
    row(
        "proxy_params-typo",
        lambda c: c.fit(proxy_params={"max_epoch": 2}),
        InvalidParameterError,
        "max_epoch",
    ),
    row(
        "ignored_layers-string",
        lambda c: c.fit(ignored_layers="output"),
        InvalidParameterError,
        "list of module names",
    ),
    row(
        "ignored_layers-not-names",
        lambda c: c.fit(ignored_layers=[1]),
        InvalidParameterError,
        "list of module names",
    ),
    row(
        "ignored_layers-unknown-layer",
        lambda c: c.fit(ignored_layers=["nope"]),
        InvalidParameterError,
        "names a layer 'nope' that the network does not have.*hidden.1",
    ),
    row(
        "verbose-negative",
        lambda c: c.fit(verbose=-1),
        InvalidParameterError,
        "verbose must be a non-negative integer",
    ),
    row("verbose-bool", lambda c: c.fit(verbose=True), InvalidParameterError, "verbose must be"),
    row("verbose-string", lambda c: c.fit(verbose="yes"), InvalidParameterError, "verbose must be"),
    row(
        "estimator-string",
        lambda c: c.fit("mlp"),
        InvalidParameterError,
        "unfitted skorch.NeuralNetClassifier",
    ),
    row(
        "estimator-sklearn",
        lambda c: c.fit(LogisticRegression()),
        InvalidParameterError,
        "got LogisticRegression",
    ),
    row(
        "estimator-module-class",
        lambda c: c.fit(SmallCNN),
        InvalidParameterError,
        r"unfitted skorch NeuralNetClassifier; got the class SmallCNN \(a torch.nn.Module\)\. "
        r"Wrap it: NeuralNetClassifier\(SmallCNN, criterion=torch.nn.CrossEntropyLoss, \.\.\.\)",
    ),
    row(
        "estimator-module-instance",
        lambda c: c.fit(MLP(n_features=64, n_classes=10)),
        InvalidParameterError,
        r"got an instance of MLP \(a torch.nn.Module\)\. Wrap its class: "
        r"NeuralNetClassifier\(MLP, criterion=torch.nn.CrossEntropyLoss, \.\.\.\)",
    ),
    row(
        "random_state-string",
        lambda c: c.fit(random_state="seed"),
        InvalidParameterError,
        "random_state",
    ),
    # --- samples after fit: dimensionality and n_features
    row("predict-X-1d", lambda c: c.mlp.predict(c.X[0]), FeatureShapeError, "Reshape your data"),
    row("query-pool-1d", lambda c: c.mlp.query(c.X[0]), FeatureShapeError, "Expected a 2D array"),
    row(
        "predict-0-features",
        lambda c: c.mlp.predict(np.empty((3, 0))),
        FeatureShapeError,
        "0 feature",
    ),
    row("predict-0-rows", lambda c: c.mlp.predict(c.X[:0]), FeatureShapeError, "0 sample"),
    row(
        "predict-strings",
        lambda c: c.mlp.predict(np.full((3, 64), "a")),
        ValueError,
        "must hold numbers",
    ),
    row(
        "query-10-features",
        lambda c: c.mlp.query(c.pool[:, :10]),
        FeatureShapeError,
        "has 10 features, but PruneFuseActiveLearner is expecting 64",
    ),
    row(
        "teach-10-features",
        lambda c: c.mlp.teach(c.X[:5, :10], c.y[:5]),
        FeatureShapeError,
        "has 10 features, but PruneFuseActiveLearner is expecting 64",
    ),
    row(
        "predict-10-features",
        lambda c: c.mlp.predict(c.X[:5, :10]),
        FeatureShapeError,
        "has 10 features, but PruneFuseActiveLearner is expecting 64",
    ),
    row(
        "predict_proba-10-features",
        lambda c: c.mlp.predict_proba(c.X[:5, :10]),
        FeatureShapeError,
        "expecting 64 features",
    ),
    row(
        "fuse-10-features",
        lambda c: c.mlp.fuse(c.X[:5, :10], c.y[:5]),
        FeatureShapeError,
        "expecting 64 features",
    ),
    row(
        "teach-images-on-flat-learner",
        lambda c: c.mlp.teach(c.images[:3], c.y[:3]),
        FeatureShapeError,
        r"shape \(1, 8, 8\).*fitted on samples of shape \(64,\)",
    ),
    # --- image shape differing from fit (CNN fitted on 1x8x8)
    row(
        "cnn-predict-7x7",
        lambda c: c.cnn.predict(c.images[:3, :, :7, :7]),
        FeatureShapeError,
        r"shape \(1, 7, 7\), but the learner was fitted on samples of shape \(1, 8, 8\)",
    ),
    row(
        "cnn-query-7x7",
        lambda c: c.cnn.query(c.images[60:90, :, :7, :7]),
        FeatureShapeError,
        r"\(1, 7, 7\).*\(1, 8, 8\)",
    ),
    row(
        "cnn-teach-7x7",
        lambda c: c.cnn.teach(c.images[:3, :, :7, :7], c.y[:3]),
        FeatureShapeError,
        r"\(1, 7, 7\).*\(1, 8, 8\)",
    ),
    row(
        "cnn-fuse-7x7",
        lambda c: c.cnn.fuse(c.images[:3, :, :7, :7], c.y[:3]),
        FeatureShapeError,
        r"\(1, 7, 7\).*\(1, 8, 8\)",
    ),
    row(
        "cnn-predict-flat",
        lambda c: c.cnn.predict(c.X[:3]),
        FeatureShapeError,
        r"shape \(64,\).*\(1, 8, 8\)",
    ),
    # --- NaN and infinity after fit
    row(
        "teach-X-nan",
        lambda c: c.mlp.teach(with_value(c.X[:5], np.nan), c.y[:5]),
        NonFiniteInputError,
        "NaN or infinity",
    ),
    row(
        "teach-X-inf",
        lambda c: c.mlp.teach(with_value(c.X[:5], -np.inf), c.y[:5]),
        NonFiniteInputError,
        "NaN or infinity",
    ),
    row(
        "predict-X-nan",
        lambda c: c.mlp.predict(with_value(c.X[:5], np.nan)),
        NonFiniteInputError,
        "NaN or infinity",
    ),
    row(
        "predict-X-inf",
        lambda c: c.mlp.predict(with_value(c.X[:5], np.inf)),
        NonFiniteInputError,
        "NaN or infinity",
    ),
    row(
        "predict_proba-X-nan",
        lambda c: c.mlp.predict_proba(with_value(c.X[:5], np.nan)),
        NonFiniteInputError,
        "impute or drop",
    ),
    row(
        "query-pool-nan",
        lambda c: c.mlp.query(with_value(c.pool, np.nan, row=50)),
        NonFiniteInputError,
        "NaN or infinity",
    ),
    row(
        "query-pool-inf-kcenter",
        lambda c: c.fitted("mlp", query_strategy="kcenter").query(with_value(c.pool, np.inf), n=3),
        NonFiniteInputError,
        "NaN or infinity",
    ),
    row(
        "fuse-X-nan",
        lambda c: c.mlp.fuse(with_value(c.X[:5], np.nan), c.y[:5]),
        NonFiniteInputError,
        "NaN or infinity",
    ),
    row(
        "teach-y-nan",
        lambda c: c.mlp.teach(c.X[:3], np.array([1.0, np.nan, 2.0])),
        NonFiniteInputError,
        "y contains NaN",
    ),
    row(
        "teach-y-continuous",
        lambda c: c.mlp.teach(c.X[:3], np.array([0.5, 1.5, 2.5])),
        ValueError,
        "Unknown label type",
    ),
    # --- lengths, missing halves
    row(
        "teach-length-mismatch",
        lambda c: c.mlp.teach(c.X[:5], c.y[:4]),
        LengthMismatchError,
        "different lengths: 5 and 4",
    ),
    row(
        "fuse-length-mismatch",
        lambda c: c.mlp.fuse(c.X[:5], c.y[:6]),
        LengthMismatchError,
        "different lengths: 5 and 6",
    ),
    row("teach-only-X", lambda c: c.mlp.teach(c.X[:5]), ValueError, "Pass both X and y"),
    row(
        "teach-only_new-string",
        lambda c: c.mlp.teach(c.X[:5], c.y[:5], only_new="yes"),
        InvalidParameterError,
        "only_new must be True or False",
    ),
    row(
        "fuse-train-string",
        lambda c: c.mlp.fuse(train="no"),
        InvalidParameterError,
        "train must be True or False",
    ),
    row(
        "teach-after-set_params-bad",
        lambda c: c.fitted("mlp", proxy_retrain="cold").teach(c.X[:5], c.y[:5]),
        InvalidParameterError,
        "proxy_retrain must be one of",
    ),
    row(
        "query-after-set_params-bad",
        lambda c: c.fitted("mlp", query_strategy="oracle").query(c.X[:50]),
        UnknownStrategyError,
        "query_strategy must be one of",
    ),
    row(
        "temperature-inf",
        lambda c: c.fit(temperature=float("inf")),
        InvalidParameterError,
        "temperature must be",
    ),
    row(
        "random_state-negative",
        lambda c: c.fit(random_state=-1),
        InvalidParameterError,
        "random_state must be",
    ),
    row("teach-only-y", lambda c: c.mlp.teach(y=c.y[:5]), ValueError, "Pass both X and y"),
    row("fuse-only-X", lambda c: c.mlp.fuse(c.X[:5]), ValueError, "Pass both X and y to fuse"),
    row("fuse-only-y", lambda c: c.mlp.fuse(y=c.y[:5]), ValueError, "Pass both X and y to fuse"),
    # --- labels the output layer has no unit for
    row(
        "teach-label-12-on-10-outputs",
        lambda c: c.mlp.teach(c.X[:2], np.array([1, 12])),
        LabelMappingError,
        r"Labels \[12\] are not among.*no unit",
    ),
    row(
        "teach-strings-on-integer-classes",
        lambda c: c.mlp.teach(c.X[:2], np.array(["1", "2"])),
        LabelMappingError,
        "no unit for them",
    ),
    row(
        "teach-unknown-string-label",
        lambda c: c.fitted("names").teach(c.X[:2], np.array(["ten", "zero"])),
        LabelMappingError,
        r"Labels \['ten'\].*no unit",
    ),
    row(
        "fuse-label-12-on-10-outputs",
        lambda c: c.mlp.fuse(c.X[:2], np.array([1, 12])),
        LabelMappingError,
        "no unit for them",
    ),
    # --- sparse input after fit (accepted: a sparse pool is densified batch by batch), with the
    # wrong width
    row(
        "teach-sparse-10-features",
        lambda c: c.mlp.teach(scipy.sparse.csr_matrix(c.X[:5, :10]), c.y[:5]),
        FeatureShapeError,
        "has 10 features, but PruneFuseActiveLearner is expecting 64",
    ),
    row(
        "predict-sparse-10-features",
        lambda c: c.mlp.predict(scipy.sparse.csr_matrix(c.X[:5, :10])),
        FeatureShapeError,
        "has 10 features",
    ),
    row(
        "query-sparse-10-features",
        lambda c: c.mlp.query(scipy.sparse.csr_matrix(c.pool[:, :10])),
        FeatureShapeError,
        "has 10 features",
    ),
    # --- query sizes
    row("query-n-0", lambda c: c.mlp.query(c.pool, n=0), InvalidQuerySizeError, "at least 1"),
    row(
        "query-n-negative",
        lambda c: c.mlp.query(c.pool, n=-2),
        InvalidQuerySizeError,
        "at least 1; got -2",
    ),
    row(
        "query-n-larger-than-pool",
        lambda c: c.mlp.query(c.pool, n=101),
        InvalidQuerySizeError,
        r"larger than the pool \(100 samples\)",
    ),
    row(
        "query-n-float",
        lambda c: c.mlp.query(c.pool, n=2.5),
        InvalidQuerySizeError,
        "positive integer; got 2.5",
    ),
    row(
        "query-n-string",
        lambda c: c.mlp.query(c.pool, n="3"),
        InvalidQuerySizeError,
        "got '3' of type str",
    ),
    row(
        "query-n-bool",
        lambda c: c.mlp.query(c.pool, n=True),
        InvalidQuerySizeError,
        "got True of type bool",
    ),
    row(
        "query-n-and-n_instances-differ",
        lambda c: c.mlp.query(c.pool, n=3, n_instances=4),
        InvalidQuerySizeError,
        "not both",
    ),
    row(
        "query-n_instances-0",
        lambda c: c.mlp.query(c.pool, n_instances=0),
        InvalidQuerySizeError,
        "at least 1",
    ),
    row(
        "query-n-above-max_candidates",
        lambda c: c.mlp.query(c.pool, n=5, max_candidates=3),
        InvalidQuerySizeError,
        r"larger than the pool \(3 samples\)",
    ),
    row(
        "query-empty-pool",
        lambda c: c.mlp.query(c.pool[:0]),
        EmptyPoolError,
        r"pool is empty.*fuse\(\)",
    ),
    row(
        "query-max_candidates-0",
        lambda c: c.mlp.query(c.pool, max_candidates=0),
        InvalidParameterError,
        "max_candidates must be a positive integer",
    ),
    row(
        "query-max_candidates-negative",
        lambda c: c.mlp.query(c.pool, max_candidates=-5),
        InvalidParameterError,
        "max_candidates",
    ),
    row(
        "query-max_candidates-float",
        lambda c: c.mlp.query(c.pool, max_candidates=2.5),
        InvalidParameterError,
        "max_candidates",
    ),
    row(
        "query-max_candidates-bool",
        lambda c: c.mlp.query(c.pool, max_candidates=True),
        InvalidParameterError,
        "max_candidates",
    ),
    # --- a custom strategy's result
    row(
        "strategy-index-out-of-range",
        lambda c: c.fitted("mlp", query_strategy=fixed_strategy([0, 100])).query(c.pool, n=2),
        StrategyResultError,
        r"outside the pool of 100 rows \(min 0, max 100\)",
    ),
    row(
        "strategy-negative-index",
        lambda c: c.fitted("mlp", query_strategy=fixed_strategy([-1, 0])).query(c.pool, n=2),
        StrategyResultError,
        "outside the pool",
    ),
    row(
        "strategy-duplicate-indices",
        lambda c: c.fitted("mlp", query_strategy=fixed_strategy([4, 4, 5])).query(c.pool, n=3),
        StrategyResultError,
        r"3 indices \(2 unique\); expected 3 unique",
    ),
    row(
        "strategy-float-indices",
        lambda c: c.fitted("mlp", query_strategy=fixed_strategy(np.array([0.0, 1.0]))).query(
            c.pool, n=2
        ),
        StrategyResultError,
        "non-integer indices of dtype float64",
    ),
    row(
        "strategy-too-few-indices",
        lambda c: c.fitted("mlp", query_strategy=fixed_strategy([7])).query(c.pool, n=2),
        StrategyResultError,
        "returned 1 indices",
    ),
    row(
        "strategy-too-many-indices",
        lambda c: c.fitted("mlp", query_strategy=fixed_strategy([1, 2, 3])).query(c.pool, n=2),
        StrategyResultError,
        "returned 3 indices",
    ),
    row(
        "strategy-no-indices",
        lambda c: c.fitted("mlp", query_strategy=fixed_strategy([])).query(c.pool, n=2),
        StrategyResultError,
        "returned 0 indices",
    ),
    row(
        "strategy-return_scores-without-scores",
        lambda c: c.fitted("mlp", query_strategy=indices_only).query(
            c.pool, n=2, return_scores=True
        ),
        InvalidParameterError,
        "returns indices only",
    ),
    # --- pools a strategy that does not score them receives
    row(
        "random-query-pool-10-features",
        lambda c: c.fitted("mlp", query_strategy="random").query(c.pool[:, :10]),
        FeatureShapeError,
        "expecting 64 features",
    ),
    row(
        "random-query-pool-nan",
        lambda c: c.fitted("mlp", query_strategy="random").query(np.full((5, 64), np.nan), n=2),
        NonFiniteInputError,
        "NaN or infinity",
    ),
    row(
        "random-query-pool-1d",
        lambda c: c.fitted("mlp", query_strategy="random").query(c.X[0]),
        FeatureShapeError,
        "Expected a 2D array",
    ),
    row(
        "random-query-pool-sparse-10-features",
        lambda c: c.fitted("mlp", query_strategy="random").query(
            scipy.sparse.csr_matrix(c.pool[:, :10])
        ),
        FeatureShapeError,
        "has 10 features",
    ),
    # --- before fit
    row("query-before-fit", lambda c: c.new().query(c.pool), NotFittedError, "not fitted yet"),
    row(
        "teach-before-fit",
        lambda c: c.new().teach(c.X[:5], c.y[:5]),
        NotFittedError,
        "not fitted yet",
    ),
    row("teach-no-data-before-fit", lambda c: c.new().teach(), NotFittedError, "not fitted yet"),
    row("refit-before-fit", lambda c: c.new().refit(), NotFittedError, "not fitted yet"),
    row("fuse-before-fit", lambda c: c.new().fuse(), NotFittedError, "not fitted yet"),
    row("predict-before-fit", lambda c: c.new().predict(c.X[:5]), NotFittedError, "not fitted yet"),
    row(
        "predict_proba-before-fit",
        lambda c: c.new().predict_proba(c.X[:5]),
        NotFittedError,
        "not fitted yet",
    ),
    row(
        "score-before-fit",
        lambda c: c.new().score(c.X[:5], c.y[:5]),
        NotFittedError,
        "not fitted yet",
    ),
    row(
        "labelling_round_-before-fit",
        lambda c: c.new().labelling_round_,
        NotFittedError,
        "not fitted yet",
    ),
    row(
        "query_scores_-before-fit",
        lambda c: c.new().query_scores_,
        NotFittedError,
        "not fitted yet",
    ),
    # --- after a fit that failed
    row(
        "teach-after-failed-fit",
        lambda c: after_failed_fit(c, lambda lr: lr.teach(c.X[:5], c.y[:5])),
        NotFittedError,
        "not fitted yet",
    ),
    row(
        "refit-after-failed-fit",
        lambda c: after_failed_fit(c, lambda lr: lr.refit()),
        NotFittedError,
        "not fitted yet",
    ),
    row(
        "labelling_round_-after-failed-fit",
        lambda c: after_failed_fit(c, lambda lr: lr.labelling_round_),
        NotFittedError,
        "not fitted yet",
    ),
    row(
        "query-after-failed-fit",
        lambda c: after_failed_fit(c, lambda lr: lr.query(c.pool)),
        NotFittedError,
        "not fitted yet",
    ),
]


@pytest.mark.parametrize("call, error, match", BAD_INPUTS)
def test_bad_input_raises_the_named_error(case, call, error, match):
    with pytest.raises(error, match=match) as info:
        call(case)
    assert type(info.value) is error, (
        f"raised {type(info.value).__name__}, expected exactly {error.__name__}"
    )
    case.check_untouched()


def test_the_table_is_large_and_its_ids_are_unique():
    ids = [param.id for param in BAD_INPUTS]
    assert len(ids) >= 45 and len(set(ids)) == len(ids)


def test_every_exception_and_warning_is_documented():
    page = (Path(__file__).resolve().parent.parent / "docs" / "errors.rst").read_text()
    undocumented = [name for name in exceptions.__all__ if f"* - ``{name}``" not in page]
    assert not undocumented, f"docs/errors.rst has no row for {undocumented}"
