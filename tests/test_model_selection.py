"""Pipelines, GridSearchCV, cross-validation, pickling and the dask backend."""

import io
import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from prunefuse_sk import PruneFuseActiveLearner, pipeline_query, pipeline_teach
from prunefuse_sk.networks import MLP

from conftest import make_net


@pytest.fixture(scope="module")
def data(digits_flat):
    X, X_test, y, y_test = digits_flat
    return X[:300], y[:300], X[300:900], y[300:900], X_test, y_test


@pytest.fixture(scope="module")
def net():
    return make_net(
        MLP,
        module__n_features=64,
        module__n_classes=10,
        module__hidden=(64, 32),
        max_epochs=8,
        lr=1e-2,
    )


@pytest.fixture(scope="module")
def fused_learner(net, data):
    X, y, *_ = data
    learner = PruneFuseActiveLearner(net, random_state=0).fit(X, y)
    learner.fuse()
    return learner


def test_pipeline_fits_predicts_scores_and_queries_with_raw_indices(net, data):
    X, y, X_pool, y_pool, X_test, y_test = data
    pipe = Pipeline(
        [("scale", StandardScaler()), ("al", PruneFuseActiveLearner(net, random_state=0))]
    )
    pipe.fit(X[:100], y[:100])
    assert pipe.predict(X_test).shape == y_test.shape
    assert pipe.score(X_test, y_test) > 0.5
    idx, rows, scores = pipeline_query(pipe, X_pool, n=10, return_scores=True)
    direct, _ = pipe[-1].query(pipe[:-1].transform(X_pool), n=10)
    np.testing.assert_array_equal(idx, direct)
    np.testing.assert_array_equal(rows, X_pool[idx])  # raw rows, not scaled ones
    assert scores.shape == (10,)
    pipeline_teach(pipe, rows, y_pool[idx])
    assert len(pipe[-1].X_training) == 110
    np.testing.assert_allclose(
        pipe[-1].X_training[100:], pipe[:-1].transform(X_pool[idx]), rtol=1e-6
    )
    with pytest.raises(TypeError, match="query/teach"):
        pipeline_query(Pipeline([("scale", StandardScaler())]).fit(X), X_pool)


def test_grid_search_over_the_learner_with_two_jobs(net, data):
    X, y, *_ = data
    search = GridSearchCV(
        PruneFuseActiveLearner(net, random_state=0),
        {"pruning_ratio": [0.5, 0.7], "query_strategy": ["least_confidence", "entropy"]},
        cv=2,
        n_jobs=2,
    ).fit(X, y)
    mean_scores = search.cv_results_["mean_test_score"]
    best = int(np.argmax(mean_scores))
    assert (
        search.best_params_ == search.cv_results_["params"][best]
        and search.best_score_ == mean_scores[best]
    )
    # an independent cross-validation of the chosen parameters, set through the constructor, scores
    # the same
    by_hand = cross_val_score(
        PruneFuseActiveLearner(net, random_state=0, **search.best_params_), X, y, cv=2
    )
    assert by_hand.mean() == pytest.approx(search.best_score_, abs=1e-9)
    # every setting learns: well above chance (0.1); the p = 0.7 proxy of this tiny MLP (19 and 10
    # hidden units, 8 epochs on 150 rows) scores 0.43-0.48 over random_state 0-3
    assert np.all(search.cv_results_["mean_test_score"] > 0.3)
    assert cross_val_score(PruneFuseActiveLearner(net, random_state=0), X, y, cv=2).mean() > 0.5


def test_grid_search_over_the_fused_classifier_starts_from_the_fused_weights(fused_learner, data):
    X, y, _, _, X_test, y_test = data
    fused = fused_learner.fuse()
    untrained = fused_learner.fuse(train=False)
    search = GridSearchCV(fused, {"lr": [1e-3, 1e-2], "max_epochs": [0, 5]}, cv=2, n_jobs=2).fit(
        X, y
    )
    assert search.best_params_["max_epochs"] == 5
    zero = GridSearchCV(fused, {"max_epochs": [0]}, cv=2).fit(X, y).best_estimator_
    np.testing.assert_allclose(
        zero.predict_proba(X_test), untrained.predict_proba(X_test), atol=1e-6
    )
    scores = cross_val_score(fused, X, y, cv=2)
    assert scores.mean() > 0.5


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_pickling_keeps_predictions_and_the_run(net, data, dump):
    X, y, X_pool, y_pool, X_test, _ = data

    def roundtrip(obj):
        if dump == "pickle":
            return pickle.loads(pickle.dumps(obj))
        buffer = io.BytesIO()
        joblib.dump(obj, buffer)
        buffer.seek(0)
        return joblib.load(buffer)

    unfitted = PruneFuseActiveLearner(net, pruning_ratio=0.6, random_state=3)
    assert roundtrip(unfitted).get_params()["pruning_ratio"] == 0.6

    learner = clone(unfitted).fit(X[:100], y[:100])
    restored = roundtrip(learner)
    np.testing.assert_array_equal(restored.predict_proba(X_test), learner.predict_proba(X_test))
    # the random stream travels too: both continue identically
    idx_a, _ = learner.query(X_pool, n=5)
    idx_b, _ = restored.query(X_pool, n=5)
    np.testing.assert_array_equal(idx_a, idx_b)

    clf = learner.fuse()
    restored_fused = roundtrip(learner)
    np.testing.assert_array_equal(
        restored_fused.predict_proba(X_test), learner.predict_proba(X_test)
    )
    restored_clf = roundtrip(clf)
    np.testing.assert_array_equal(restored_clf.predict_proba(X_test), clf.predict_proba(X_test))
    np.testing.assert_array_equal(restored_clf.predict(X_test), clf.predict(X_test))


def test_dask_backend_finds_the_same_best_params_as_loky(fused_learner, data, dask_env):
    distributed = pytest.importorskip("dask.distributed")
    from prunefuse_sk.dask_backend import RecomputableDaskBackend

    X, y, *_ = data
    fused = fused_learner.fuse()
    grid = {"lr": [1e-3, 1e-2], "max_epochs": [1, 6]}
    local = GridSearchCV(fused, grid, cv=2, n_jobs=2).fit(X, y)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
        ) as cluster,
        distributed.Client(cluster),
    ):
        # joblib's own "dask" backend scatters X and y to one worker, lost with it for good;
        # this one holds them in tasks the scheduler can compute again (tests/test_cluster_faults)
        with joblib.parallel_config(backend=RecomputableDaskBackend()):
            on_dask = GridSearchCV(fused, grid, cv=2, n_jobs=2).fit(X, y)
    assert on_dask.best_params_ == local.best_params_
    # the fused classifier seeds its own training, so both backends compute the same scores
    np.testing.assert_allclose(
        on_dask.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"], atol=1e-6
    )


def test_fused_classifier_accepts_float64_after_a_scaler(fused_learner, data):
    X, y, _, _, X_test, y_test = data
    clf = fused_learner.fuse()
    X, X_test = (
        X.astype(np.float64),
        X_test.astype(np.float64),
    )  # as most sklearn transformers produce
    scaled = StandardScaler().fit(X).transform(X_test)
    assert scaled.dtype == np.float64
    np.testing.assert_allclose(
        clf.predict_proba(scaled), clf.predict_proba(scaled.astype(np.float32)), atol=1e-6
    )
    pipe = Pipeline([("scale", StandardScaler()), ("clf", clone(clf))]).fit(X, y)
    assert pipe.score(X_test, y_test) > 0.5


def test_the_proxy_keeps_its_pruned_initialization_apart_from_its_trained_module(fused_learner):
    from conftest import state_equal

    proxy = fused_learner.proxy_
    assert proxy.module is not proxy.module_
    assert state_equal(proxy.module.state_dict(), fused_learner.proxy_init_module_.state_dict())
    assert not state_equal(
        proxy.module_.state_dict(), fused_learner.proxy_init_module_.state_dict()
    )
    assert all(not p.is_cuda for p in proxy.module.parameters())
