"""The package's structure: one-way imports, one state registry, one strategy contract."""

import ast
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone

import prunefuse_sk
from prunefuse_sk import FusedNeuralNetClassifier, PruneFuseActiveLearner, StrategyResultError
from prunefuse_sk.distillation import DistillationTeacher
from prunefuse_sk.networks import MLP
from prunefuse_sk.pools import n_rows
from prunefuse_sk.simulation import simulate
from prunefuse_sk.strategies import SelectorView, call_strategy, least_confidence_sampling

from conftest import make_net

PACKAGE = Path(prunefuse_sk.__file__).parent
FACES = {"__init__", "cli", "widgets", "pipeline", "simulation"}


def _module_name(path):
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"


NAMES = {_module_name(p) for p in PACKAGE.rglob("*.py")}


def _package_imports(path):
    """Modules of the package that ``path`` imports (relative imports, resolved), deferred ones
    included."""
    name = _module_name(path)
    package = (
        [] if name == "__init__" else name.split(".")[: None if path.name == "__init__.py" else -1]
    )
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            if node.module:
                found.add(".".join(base + [node.module]))
                continue
            for alias in (
                node.names
            ):  # "from . import persistence" imports a module, "from . import x" the package
                target = ".".join(base + [alias.name])
                found.add(target if target in NAMES else ".".join(base) or "__init__")
    return found


MODULES = {_module_name(p): _package_imports(p) for p in PACKAGE.rglob("*.py")}


def test_only_the_public_faces_import_the_learner():
    importers = {name for name, imports in MODULES.items() if "learner" in imports}
    assert importers and importers <= FACES, importers - FACES


def test_nothing_below_the_faces_imports_a_face_and_persistence_knows_only_the_format():
    for name, imports in MODULES.items():
        if name not in FACES and name != "learner":
            assert not imports & (FACES - {"__init__"}), (name, imports & FACES)
            assert "__init__" not in imports, (
                f"{name} imports the package root (and so the learner)"
            )
    assert MODULES["persistence"] <= {"_version", "exceptions"}


def test_only_the_skorch_modules_use_skorchs_private_api():
    """skorch's private API is used in three modules only, one per concern.

    ``skorch_nets`` (nets built around a module instance), ``accelerate_support``
    (``AccelerateMixin``'s private attributes) and ``net_snapshots`` (snapshots and pickles);
    a skorch release that changes its private API is met there.
    """
    private = (
        "_get_predict_nonlinearity",
        "_params_to_validate",
        "net._validate_params",
        "get_params_for_optimizer",
        "_wrapped_with_accelerator",
        "_unwrap_accelerator",
    )
    users = {
        _module_name(p)
        for p in PACKAGE.rglob("*.py")
        if any(name in p.read_text() for name in private)
    }
    assert users == {"skorch_nets", "accelerate_support", "net_snapshots"}


def test_the_package_has_no_import_cycles():
    def visit(name, stack):
        assert name not in stack, " -> ".join(stack + [name])
        for target in MODULES.get(name, ()):
            if target in MODULES and target != "__init__":
                visit(target, stack + [name])

    for name in MODULES:
        visit(name, [])


# ------------------------------------------------------------- state registry
@pytest.fixture(scope="module")
def fused_learner(digits_flat):
    X, X_test, y, _ = digits_flat
    learner = PruneFuseActiveLearner(
        make_net(MLP, module__n_features=64, module__n_classes=10, max_epochs=2),
        random_state=0,
        proxy_retrain="warm",
    )
    learner.fit(X[:60], y[:60])
    idx, rows = learner.query(X[60:400], n=20)
    learner.teach(rows, y[60:400][idx])
    learner.query(X[400:700], n=5)  # a last query on record
    learner.fuse()
    return learner


def test_set_state_of_get_state_rebuilds_every_fitted_attribute(fused_learner, digits_flat):
    X, X_test, y, _ = digits_flat
    rebuilt = clone(fused_learner)
    rebuilt._set_state(fused_learner._get_state())
    # nothing the fitted learner holds is missing from the registry
    assert set(rebuilt.__dict__) == set(fused_learner.__dict__)
    np.testing.assert_array_equal(
        rebuilt.predict_proba(X_test), fused_learner.predict_proba(X_test)
    )
    np.testing.assert_array_equal(
        rebuilt.proxy_.predict_proba(X_test), fused_learner.proxy_.predict_proba(X_test)
    )
    assert rebuilt._last_query is not None and rebuilt.history_ == fused_learner.history_
    # the random stream continues where it was: the next warm round picks the same samples
    idx_a, _ = rebuilt.query(X[700:1000], n=7, max_candidates=200)
    idx_b, _ = fused_learner.query(X[700:1000], n=7, max_candidates=200)
    np.testing.assert_array_equal(idx_a, idx_b)


def test_pickling_goes_through_the_registry_and_keeps_training_histories(
    fused_learner, digits_flat
):
    X_test = digits_flat[1]
    state = fused_learner.__getstate__()
    assert set(state) - {"_sklearn_version"} == set(fused_learner.get_params(deep=False)) | {
        "_fitted_state"
    }
    loaded = pickle.loads(pickle.dumps(fused_learner))
    np.testing.assert_array_equal(loaded.predict(X_test), fused_learner.predict(X_test))
    assert len(loaded.fused_.history) == len(fused_learner.fused_.history) >= 1
    # how many epochs the fused network ran and why it stopped survive a round trip
    assert loaded.fused_.n_epochs_ == fused_learner.fused_.n_epochs_
    assert loaded.fused_.stop_reason_ == fused_learner.fused_.stop_reason_
    assert loaded.proxy_.history[-1]["train_loss"] == pytest.approx(
        fused_learner.proxy_.history[-1]["train_loss"]
    )
    unfitted = pickle.loads(pickle.dumps(clone(fused_learner)))
    assert "classes_" not in unfitted.__dict__


# ------------------------------------------------------------ strategy contract
def test_simulate_validates_what_a_strategy_returns(digits_flat):
    X, X_test, y, y_test = digits_flat

    def repeats_itself(learner, X_pool, n_instances=1):
        return np.zeros(n_instances, dtype=int)

    net = make_net(MLP, module__n_features=64, module__n_classes=10, max_epochs=1)
    with pytest.raises(StrategyResultError, match="unique"):
        simulate(
            net,
            X[:300],
            y[:300],
            X_test[:50],
            y_test[:50],
            methods=["full"],
            initial_size=20,
            batch_sizes=5,
            n_rounds=1,
            query_strategy=repeats_itself,
            progress=False,
        )


def test_a_selector_view_presents_a_plain_net_to_strategies(digits_flat):
    X, _, y, _ = digits_flat
    net = make_net(MLP, module__n_features=64, module__n_classes=10, max_epochs=1).fit(
        X[:100], y[:100]
    )
    view = SelectorView(net, X[:100], y[:100], classes=np.arange(10) * 10)
    proba = net.predict_proba(X[100:300])
    np.testing.assert_array_equal(view.predict(X[100:300]), proba.argmax(1) * 10)
    indices, scores = call_strategy(least_confidence_sampling, view, X[100:300], 4)
    expected = np.argsort(-(1 - proba.max(1)), kind="stable")[:4]
    assert set(indices) == set(expected) and np.all(np.diff(scores) <= 0)
    assert n_rows({"ids": torch.zeros(7, 3), "mask": torch.zeros(7, 3)}) == 7


# -------------------------------------------------------------- distillation
def test_distillation_parameters_are_checked_once_per_fit_with_the_learners_rules(
    digits_flat, monkeypatch
):
    X, _, y, _ = digits_flat
    teacher = DistillationTeacher(MLP(64, 10, hidden=(8,)))
    net = FusedNeuralNetClassifier(
        MLP,
        module__n_features=64,
        module__n_classes=10,
        max_epochs=1,
        batch_size=16,
        train_split=None,
        criterion=torch.nn.CrossEntropyLoss,
        teacher=teacher,
        distillation_weight=0.5,
        temperature=float("nan"),
    )
    with pytest.raises(ValueError, match="temperature"):
        net.fit(X[:64], y[:64])
    calls = []
    import prunefuse_sk.fused_classifier as fused_classifier

    real = fused_classifier.check_distillation_params
    monkeypatch.setattr(
        fused_classifier, "check_distillation_params", lambda *a: calls.append(a) or real(*a)
    )
    net.set_params(temperature=2.0).fit(X[:64], y[:64])  # 4 batches, one check
    assert calls == [(0.5, 2.0)]


def test_the_learner_module_stays_the_estimator_only():
    # the estimator's parameters, methods and state registry; the work lives in the modules below it
    # (no line limit: it rewarded cramming; a new concern goes to its own module instead)
    tree = ast.parse((PACKAGE / "learner.py").read_text())
    classes = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    assert classes == ["PruneFuseActiveLearner"]


def test_fitted_attributes_are_read_from_the_state_objects_not_copied(fused_learner):
    # one copy of each piece of state: the learner's attributes are views of its PrunedPair,
    # ProxyRetraining
    # and LabelledSet, so the registry cannot drift from what the learner shows
    assert fused_learner.full_init_module_ is fused_learner._pair.full_init
    assert fused_learner.kept_indices_ is fused_learner._pair.kept_indices
    assert fused_learner.proxy_ is fused_learner._retraining.net
    # the history and the labelled arrays come back read-only: a copy of the history, views of the
    # arrays
    assert list(fused_learner.history_) == fused_learner._retraining.history
    assert fused_learner.X_training.base is fused_learner._labelled.X
    assert (
        not fused_learner.X_training.flags.writeable and fused_learner._labelled.X.flags.writeable
    )
    assert not {"proxy_", "history_", "estimator_", "kept_indices_"} & set(fused_learner.__dict__)
    unfitted = clone(fused_learner)
    assert (
        unfitted.X_training is None
        and not hasattr(unfitted, "proxy_")
        and not hasattr(unfitted, "estimator_")
    )


def test_every_constructor_parameter_has_a_constraint_and_an_error_wording():
    from prunefuse_sk.learner_params import PARAMETERS

    names = set(PruneFuseActiveLearner._get_param_names())
    assert set(PARAMETERS) == names == set(PruneFuseActiveLearner._parameter_constraints)
    # each validated parameter says what it must be (query_strategy is checked by get_strategy)
    assert all(
        rule for name, (constraints, rule) in PARAMETERS.items() if constraints != "no_validation"
    )
