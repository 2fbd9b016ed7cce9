"""The learner: sklearn parameters, the fit/query/teach/fuse loop, inputs, labels, modAL
strategies."""

import copy

import numpy as np
import pytest
import torch
from sklearn.base import clone

from prunefuse_sk import LabelMappingError, PruneFuseActiveLearner
from prunefuse_sk.networks import MLP, SmallCNN

from conftest import make_net, state_equal


@pytest.fixture(scope="module")
def mlp_net():
    return make_net(MLP, module__n_features=64, module__n_classes=10, max_epochs=5, lr=1e-2)


@pytest.fixture(scope="module")
def fitted(mlp_net, digits_flat):
    X, _, y, _ = digits_flat
    return PruneFuseActiveLearner(mlp_net, random_state=0).fit(X[:100], y[:100])


def test_params_roundtrip_and_nested_estimator_params(mlp_net):
    learner = PruneFuseActiveLearner(mlp_net, pruning_ratio=0.7, query_strategy="entropy")
    params = learner.get_params()
    assert params["pruning_ratio"] == 0.7 and params["estimator__lr"] == 1e-2
    learner.set_params(estimator__lr=0.05, pruning_ratio=0.6)
    assert learner.estimator.lr == 0.05 and learner.pruning_ratio == 0.6
    twin = clone(learner)
    assert twin.get_params()["estimator__lr"] == 0.05 and twin.estimator is not learner.estimator


def test_fit_does_not_mutate_the_estimator(mlp_net, digits_flat):
    X, _, y, _ = digits_flat
    net = clone(mlp_net)
    before = dict(net.get_params(deep=False))
    learner = PruneFuseActiveLearner(net, random_state=0).fit(X[:60], y[:60])
    learner.fuse()
    assert not net.initialized_ and not hasattr(net, "module_")
    after = net.get_params(deep=False)
    assert before.keys() == after.keys()
    assert all(after[k] is before[k] for k in before)
    assert learner.estimator_ is not net and learner.estimator is net


def test_query_returns_unique_best_first_least_confident_rows(fitted, digits_flat):
    X, _, _, _ = digits_flat
    pool = X[100:700]
    idx, X_sel, scores = fitted.query(pool, n=25, return_scores=True)
    assert len(np.unique(idx)) == 25 and idx.min() >= 0 and idx.max() < len(pool)
    np.testing.assert_array_equal(X_sel, pool[idx])
    uncertainty = 1 - fitted.proxy_.predict_proba(pool).max(axis=1)
    np.testing.assert_allclose(scores, uncertainty[idx], atol=1e-6)
    assert np.all(np.diff(scores) <= 1e-12)  # best first
    assert uncertainty[idx].min() >= np.sort(uncertainty)[-25] - 1e-6  # the 25 least confident


def test_query_accepts_n_instances_and_max_candidates(fitted, digits_flat):
    X = digits_flat[0][100:700]
    idx, _ = fitted.query(X, n_instances=4)
    assert len(idx) == 4
    idx, rows = fitted.query(X, n=5, max_candidates=50)
    assert len(np.unique(idx)) == 5 and np.array_equal(rows, X[idx])


def test_teach_grows_the_labelled_set_and_retrains_per_policy(mlp_net, digits_flat):
    X, _, y, _ = digits_flat
    epochs = mlp_net.max_epochs
    reinit = PruneFuseActiveLearner(mlp_net, proxy_retrain="reinit", random_state=0)
    reinit.fit(X[:50], y[:50]).teach(X[50:80], y[50:80])
    assert len(reinit.X_training) == len(reinit.y_training) == 80
    assert len(reinit.proxy_.history) == epochs  # a fresh proxy
    assert [h["n_labelled"] for h in reinit.history_] == [50, 80]

    warm = PruneFuseActiveLearner(mlp_net, random_state=0).fit(X[:50], y[:50])  # the default
    proxy = warm.proxy_
    warm.teach(X[50:80], y[50:80])
    # warm: training continues on a copy, so a failure would leave the old proxy intact; each
    # warm round trains a third of max_epochs, rounded up
    third = -(-epochs // 3)
    assert len(warm.proxy_.history) == epochs + third and len(proxy.history) == epochs
    assert [h["epochs"] for h in warm.history_] == [epochs, third]
    warm.set_params(warm_epochs=2).teach(X[80:90], y[80:90])
    assert [h["epochs"] for h in warm.history_] == [epochs, third, 2]

    only_new = PruneFuseActiveLearner(mlp_net, random_state=0).fit(X[:50], y[:50])
    only_new.teach(X[50:80], y[50:80], only_new=True)
    assert len(only_new.X_training) == 80 and len(only_new.proxy_.history) == 2 * epochs


def test_reinit_retrains_from_the_pruned_initialization(mlp_net, digits_flat):
    X, _, y, _ = digits_flat
    learner = PruneFuseActiveLearner(
        mlp_net, proxy_params={"max_epochs": 0}, proxy_retrain="reinit", random_state=0
    )
    learner.fit(X[:40], y[:40]).teach(X[40:60], y[40:60])
    assert state_equal(learner.proxy_.module_.state_dict(), learner.proxy_init_module_.state_dict())
    assert learner.proxy_.max_epochs == 0 and learner.estimator_.max_epochs == mlp_net.max_epochs


def test_predictions_come_from_the_proxy_then_from_the_fused_net(mlp_net, digits_flat):
    X, X_test, y, y_test = digits_flat
    learner = PruneFuseActiveLearner(mlp_net, random_state=0).fit(X[:200], y[:200])
    np.testing.assert_allclose(
        learner.predict_proba(X_test), learner.proxy_.predict_proba(X_test), atol=1e-6
    )
    clf = learner.fuse()
    np.testing.assert_allclose(learner.predict_proba(X_test), clf.predict_proba(X_test), atol=1e-6)
    assert learner.score(X_test, y_test) == pytest.approx(np.mean(clf.predict(X_test) == y_test))
    assert learner.score(X_test, y_test) > 0.7
    learner.teach(X[200:210], y[200:210])
    assert not hasattr(learner, "fused_")


def test_same_random_state_gives_the_same_run(mlp_net, digits_flat):
    X, _, y, _ = digits_flat

    def run(seed):
        learner = PruneFuseActiveLearner(mlp_net, random_state=seed).fit(X[:80], y[:80])
        idx, _ = learner.query(X[80:600], n=10)
        return idx, learner.fuse(train=False).module_.state_dict()

    idx_a, state_a = run(7)
    idx_b, state_b = run(7)
    idx_c, state_c = run(8)
    np.testing.assert_array_equal(idx_a, idx_b)
    assert state_equal(state_a, state_b)
    assert not state_equal(state_a, state_c)


def test_tensors_and_memmaps_work_as_inputs(tmp_path, digits):
    X, X_test, y, _ = digits
    net = make_net(SmallCNN, module__width=8, module__hidden=16, max_epochs=2)
    learner = PruneFuseActiveLearner(net, random_state=0).fit(
        torch.as_tensor(X[:60]), torch.as_tensor(y[:60])
    )
    pool = torch.as_tensor(X[60:400])
    idx, rows = learner.query(pool, n=5)
    assert isinstance(rows, torch.Tensor) and torch.equal(rows, pool[torch.as_tensor(idx)])
    path = tmp_path / "pool.dat"
    memmap = np.memmap(path, dtype=np.float32, mode="w+", shape=X[60:400].shape)
    memmap[:] = X[60:400]
    memmap.flush()
    readonly = np.memmap(path, dtype=np.float32, mode="r", shape=X[60:400].shape)
    idx_m, _ = learner.query(readonly, n=5)
    np.testing.assert_array_equal(np.sort(idx_m), np.sort(idx))
    learner.teach(rows, torch.as_tensor(y[60:400][idx]))
    assert learner.predict(X_test).shape == (len(X_test),)


def test_string_labels_with_the_default_network(digits_flat):
    X, X_test, y, _ = digits_flat
    names = np.array(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )
    learner = PruneFuseActiveLearner(random_state=0).fit(X[:300], names[y[:300]])
    assert set(learner.classes_) == set(names)
    assert set(learner.predict(X_test)) <= set(names)
    learner.teach(X[300:310], names[y[300:310]])
    with pytest.raises(LabelMappingError, match="no unit"):
        learner.teach(X[:2], np.array(["ten", "zero"]))
    clf = learner.fuse()
    assert set(clf.predict(X_test)) <= set(names)
    np.testing.assert_array_equal(clf.predict(X_test), learner.predict(X_test))
    from sklearn.model_selection import cross_val_score

    scores = cross_val_score(clf, X[:300], names[y[:300]], cv=2)
    assert scores.shape == (2,) and np.all(scores > 0.3)


def test_integer_labels_map_to_output_units_even_when_the_seed_lacks_a_class(mlp_net, digits_flat):
    X, _, y, _ = digits_flat
    seed = np.flatnonzero(y != 3)[:60]
    learner = PruneFuseActiveLearner(mlp_net, random_state=0).fit(X[seed], y[seed])
    np.testing.assert_array_equal(learner.classes_, np.arange(10))
    threes = np.flatnonzero(y == 3)[:5]
    learner.teach(X[threes], y[threes])  # a class the seed set lacked
    with pytest.raises(LabelMappingError, match="no unit"):
        learner.teach(X[:1], np.array([10]))


def test_modal_strategies_run_unmodified(fitted, digits_flat):
    modal_uncertainty = pytest.importorskip("modAL.uncertainty")
    pool = digits_flat[0][100:700]
    learner = clone(fitted).set_params(query_strategy=modal_uncertainty.uncertainty_sampling)
    learner.__dict__.update(
        {
            k: v
            for k, v in fitted.__dict__.items()
            if k.endswith("_") or k.startswith("_") or k.startswith("X_") or k.startswith("y_")
        }
    )
    idx_modal, _ = learner.query(pool, n=10)
    idx_ours, _ = fitted.query(pool, n=10)
    assert set(idx_modal) == set(idx_ours)
    learner.set_params(query_strategy=modal_uncertainty.margin_sampling)
    idx_margin, _ = learner.query(pool, n=10)
    assert len(np.unique(idx_margin)) == 10


def test_a_hand_written_strategy_sees_the_proxy(fitted, digits_flat):
    seen = {}

    def strategy(learner, X, n_instances=1):
        seen["estimator"] = learner.estimator
        seen["n_training"] = len(learner.X_training)
        return np.arange(n_instances)[::-1]

    learner = copy.deepcopy(fitted).set_params(query_strategy=strategy)
    idx, _ = learner.query(digits_flat[0][:50], n=3)
    np.testing.assert_array_equal(idx, [2, 1, 0])
    assert seen["estimator"] is learner.proxy_ and seen["n_training"] == 100


def test_verbose_prints_a_line_per_round(mlp_net, digits_flat, capsys):
    X, _, y, _ = digits_flat
    learner = PruneFuseActiveLearner(mlp_net, verbose=1, random_state=0).fit(X[:40], y[:40])
    learner.teach(X[40:50], y[40:50])
    out = capsys.readouterr().out
    assert (
        "round 0: proxy trained on 40 labels" in out
        and "round 1: proxy trained on 50 labels" in out
    )


def test_fuse_trains_for_max_epochs_or_the_fused_params(fitted, digits_flat):
    from skorch.callbacks import EarlyStopping
    from skorch.dataset import ValidSplit

    from prunefuse_sk import InvalidParameterError

    learner = clone(fitted).set_params(random_state=0, fused_stopping="none")
    learner.fit(fitted.X_training, fitted.y_training)
    assert len(learner.fuse().history) == 5  # the estimator's max_epochs
    assert len(learner.fuse(max_epochs=2).history) == 2
    learner.set_params(fused_params={"max_epochs": 3})
    assert len(learner.fuse().history) == 3
    assert len(learner.fuse(max_epochs=1).history) == 1  # the call's argument wins
    learner.set_params(fused_params=None)
    # early stopping on a held-out split: stops once the validation loss has not improved for 2
    # epochs
    learner.set_params(
        fused_params={
            "max_epochs": 60,
            "train_split": ValidSplit(5, stratified=True),
            "callbacks": [EarlyStopping(patience=2)],
        }
    )
    history = learner.fuse().history
    assert 3 <= len(history) < 60 and "valid_loss" in history[-1]
    assert learner.proxy_.max_epochs == 5  # the proxy keeps its own settings
    with pytest.raises(InvalidParameterError, match="max_epochs must be a positive integer"):
        learner.fuse(max_epochs=0)
    with pytest.raises(InvalidParameterError, match="fused_params cannot set"):
        learner.set_params(fused_params={"module__hidden": (8,)}).fuse()


@pytest.mark.filterwarnings(
    "ignore:The .grad attribute of a Tensor that is not a leaf:UserWarning"
)  # dynamo's own
@pytest.mark.parametrize("strategy", ["least_confidence", "kcenter", "badge"])
def test_compiled_nets_prune_select_and_fuse_like_plain_ones(digits_flat, strategy):
    """skorch's compile=True wraps module_ in torch.compile: pruning, embeddings and fusion look
    through it."""
    X, X_test, y, y_test = digits_flat
    # the "eager" backend traces with dynamo but generates no code: the wrapper without the compile
    # time
    net = make_net(
        MLP,
        module__n_features=64,
        module__n_classes=10,
        max_epochs=2,
        compile=True,
        compile__backend="eager",
    )
    compiled = PruneFuseActiveLearner(net, query_strategy=strategy, random_state=0).fit(
        X[:80], y[:80]
    )
    plain = PruneFuseActiveLearner(
        clone(net).set_params(compile=False), query_strategy=strategy, random_state=0
    ).fit(X[:80], y[:80])
    assert type(compiled.proxy_.module_).__name__ == "OptimizedModule"
    assert compiled.embedding_layer_ == plain.embedding_layer_ == "output"
    assert compiled.n_params_proxy_ == plain.n_params_proxy_ < compiled.n_params_full_
    # the same seeds give the same pruned network, trained alike: the same picks
    np.testing.assert_array_equal(
        np.sort(compiled.query(X[80:], n=5)[0]), np.sort(plain.query(X[80:], n=5)[0])
    )
    fused = compiled.fuse()
    assert type(fused.module_).__name__ == "OptimizedModule"
    np.testing.assert_allclose(
        fused.predict_proba(X_test), plain.fuse().predict_proba(X_test), atol=1e-4
    )
