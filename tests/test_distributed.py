"""Dask pools: ranked on the workers with a distributed top-n, never collected by the client."""

import pickle
import sys
import threading
import tracemalloc

import numpy as np
import pytest
from sklearn.datasets import load_digits
from skorch import NeuralNetClassifier

from prunefuse_sk import PruneFuseActiveLearner
from prunefuse_sk.exceptions import NonFiniteInputError
from prunefuse_sk.networks import MLP
from prunefuse_sk.strategies import STRATEGIES, top_n
from prunefuse_sk.strategies.selectors import tie_seed, top_by_key

from conftest import make_net

da = pytest.importorskip("dask.array")

RANKING = ["least_confidence", "margin", "entropy", "random"]


def _copy(learner, **params):
    return pickle.loads(pickle.dumps(learner)).set_params(**params)


def noisy_digits_block(block_id, rows=10_000, noise=0.05):
    """Rows of scikit-learn's digits with pixel noise seeded by the block: made where the block is
    computed."""
    X = (load_digits().data / 16).astype(np.float32)
    rng = np.random.RandomState(block_id)
    picked = X[rng.randint(0, len(X), rows)]
    return picked + rng.normal(0, noise, picked.shape).astype(np.float32)


def _lazy_pool(n_blocks, rows=10_000):
    return da.map_blocks(
        lambda block_info=None: noisy_digits_block(block_info[None]["chunk-location"][0], rows),
        chunks=((rows,) * n_blocks, (64,)),
        dtype=np.float32,
        meta=np.empty((0, 0), np.float32),
    )


def test_blockwise_top_n_equals_top_n_ties_included():
    rng = np.random.RandomState(0)
    scores = rng.randint(0, 5, 3_000).astype(np.float64)  # hundreds of rows share each score
    for random_state in (None, 3, 11):
        expected = top_n(scores, 40, random_state=random_state)
        seed = tie_seed(random_state)
        bests = []
        for start in range(0, len(scores), 700):  # blocks of 700 rows, merged as the cluster does
            rows = np.arange(start, min(start + 700, len(scores)))
            bests.append(rows[top_by_key(scores[rows], 40, seed, rows)])
        merged = np.concatenate(bests)
        np.testing.assert_array_equal(
            merged[top_by_key(scores[merged], 40, seed, merged)], expected
        )
    # ties really are broken at random, and differently per seed
    assert len({tuple(top_n(scores, 40, random_state=s)) for s in range(5)}) == 5


@pytest.mark.parametrize("strategy", RANKING)
def test_ranking_strategies_pick_what_they_pick_in_memory(fitted, digits_flat, strategy):
    X_pool = np.concatenate([digits_flat[0]] * 4)
    pool = da.from_array(X_pool, chunks=1_000)  # threaded scheduler
    a, b = _copy(fitted, query_strategy=strategy), _copy(fitted, query_strategy=strategy)
    idx_mem, rows_mem, scores_mem = a.query(X_pool, 25, return_scores=True)
    idx_dask, rows_dask, scores_dask = b.query(pool, 25, return_scores=True)
    np.testing.assert_array_equal(idx_dask, idx_mem)  # duplicated rows tie: broken the same way
    assert isinstance(rows_dask, np.ndarray)
    np.testing.assert_array_equal(rows_dask, rows_mem)
    np.testing.assert_allclose(scores_dask, scores_mem)
    # the random stream moved on alike: the next query agrees too
    np.testing.assert_array_equal(
        b.query(pool, 5, max_candidates=3_000)[0], a.query(X_pool, 5, max_candidates=3_000)[0]
    )


@pytest.mark.parametrize("strategy", ["kcenter", "badge"])
def test_embedding_strategies_run_on_a_candidate_sample(fitted, digits_flat, strategy):
    X_pool = np.concatenate([digits_flat[0]] * 3)
    pool = da.from_array(X_pool, chunks=1_000)
    a, b = _copy(fitted, query_strategy=strategy), _copy(fitted, query_strategy=strategy)
    # with the same sample both paths see the same embeddings, so they choose the same rows
    np.testing.assert_array_equal(
        b.query(pool, 10, max_candidates=800)[0], a.query(X_pool, 10, max_candidates=800)[0]
    )
    # without max_candidates a dask pool is sampled (DASK_CANDIDATES rows), never scored whole to
    # the client
    seen = []
    view_strategy = STRATEGIES[strategy]

    def spy(learner, X, n_instances=1, **kw):
        seen.append(X.shape[0])
        return view_strategy(learner, X, n_instances=n_instances, **kw)

    big = da.concatenate([pool] * 5)  # 16,170 rows > DASK_CANDIDATES
    indices, rows = _copy(fitted, query_strategy=spy).query(big, 10)
    assert seen == [10_000] and len(set(indices.tolist())) == 10 and indices.max() < big.shape[0]
    np.testing.assert_array_equal(rows, np.concatenate([X_pool] * 5)[indices])


def test_bald_on_a_dask_pool_is_reproducible(digits_flat):
    X_pool, _, y_pool, _ = digits_flat
    net = make_net(
        MLP, module__n_features=64, module__n_classes=10, module__dropout=0.3, max_epochs=2
    )
    learner = PruneFuseActiveLearner(net, query_strategy="bald", random_state=0).fit(
        X_pool[:100], y_pool[:100]
    )
    pool = da.from_array(X_pool, chunks=300)
    first = _copy(learner).query(pool, 5, n_passes=4)[0]
    np.testing.assert_array_equal(_copy(learner).query(pool, 5, n_passes=4)[0], first)


def test_dask_dataframe_pool(fitted, digits_flat):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X_pool = digits_flat[0]
    frame = dd.from_pandas(pd.DataFrame(X_pool), npartitions=4)
    idx_frame, rows = _copy(fitted).query(frame, 8)
    np.testing.assert_array_equal(idx_frame, _copy(fitted).query(X_pool, 8)[0])
    np.testing.assert_array_equal(rows, X_pool[idx_frame])


def test_errors_on_a_dask_pool(fitted, digits_flat):
    X_pool = digits_flat[0].copy()
    X_pool[1234, 5] = np.nan
    with pytest.raises(NonFiniteInputError, match="NaN or infinity"):
        _copy(fitted).query(da.from_array(X_pool, chunks=500), 3)
    pool = da.from_array(digits_flat[0], chunks=500)
    with pytest.raises(
        TypeError, match="unexpected keyword"
    ):  # what the strategy itself would raise
        _copy(fitted).query(pool, 3, n_passes=3)

    def confident(learner, X_pool, n_instances=1, *, random_state=None, temperature=1.0):
        return top_n(
            learner.predict_proba(X_pool).max(axis=1) / temperature, n_instances, random_state
        )

    confident.rank_measure = lambda proba: proba.max(axis=1)
    with pytest.raises(TypeError, match="ranked on the workers"):
        _copy(fitted, query_strategy=confident).query(pool, 3, temperature=2.0)
    # without the extra argument it is ranked on the workers, as it ranks in memory
    np.testing.assert_array_equal(
        _copy(fitted, query_strategy=confident).query(pool, 3)[0],
        _copy(fitted, query_strategy=confident).query(digits_flat[0], 3)[0],
    )


@pytest.fixture
def cluster(dask_env):
    distributed = pytest.importorskip("dask.distributed")
    cloudpickle = pytest.importorskip("cloudpickle")
    cloudpickle.register_pickle_by_value(
        sys.modules[__name__]
    )  # workers cannot import this test module
    try:
        with (
            distributed.LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",
            ) as local,
            distributed.Client(local) as client,
        ):
            yield client
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_local_cluster_pool_is_never_collected(fitted, cluster, monkeypatch):
    pool = _lazy_pool(20)  # 200,000 rows x 64 features, made on the workers
    pool_bytes = pool.shape[0] * pool.shape[1] * 4
    pickled = []
    getstate = NeuralNetClassifier.__getstate__
    monkeypatch.setattr(
        NeuralNetClassifier,
        "__getstate__",
        lambda net: pickled.append(threading.current_thread().name) or getstate(net),
    )
    learner = _copy(fitted, query_strategy="least_confidence")
    pickled.clear()
    tracemalloc.start()
    try:
        indices, rows = learner.query(pool, 50)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < pool_bytes / 20, f"the client allocated {peak} bytes for a pool of {pool_bytes}"
    # once by this client (the task that holds it), once by the scheduler, which runs in this
    # process's event loop here, to the one worker that computes it: not once per block (20)
    main = threading.main_thread().name
    assert pickled.count(main) <= 1 and len(pickled) <= 2, pickled
    # the same pool, made here, in memory: the same least-confidence rows
    in_memory = np.concatenate([noisy_digits_block(i) for i in range(20)])
    expected = _copy(fitted, query_strategy="least_confidence").query(in_memory, 50)[0]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_array_equal(rows, in_memory[indices])
    # the next round's teach takes the returned rows as usual
    learner.teach(rows, np.zeros(len(rows), dtype=int))
    assert len(learner.X_training) == 150 + 50


def test_image_pool_blocks_split_across_pixels(digits):
    """A (n, 1, 8, 8) image pool chunked along pixels too: blocks are merged to whole rows, then
    ranked."""
    from prunefuse_sk.networks import SmallCNN

    X_pool, _, y_pool, _ = digits
    net = make_net(SmallCNN, module__n_classes=10, module__width=8, module__hidden=32, max_epochs=2)
    learner = PruneFuseActiveLearner(net, pruning_ratio=0.5, random_state=0).fit(
        X_pool[:120], y_pool[:120]
    )
    pool = da.from_array(X_pool, chunks=(400, 1, 4, 8))
    for strategy in ("margin", "badge"):
        a, b = _copy(learner, query_strategy=strategy), _copy(learner, query_strategy=strategy)
        idx_dask, rows = a.query(pool, 6, max_candidates=900)
        np.testing.assert_array_equal(idx_dask, b.query(X_pool, 6, max_candidates=900)[0])
        assert rows.shape == (6, 1, 8, 8)


def test_verbose_learner_shows_dask_progress(fitted, digits_flat, capsys):
    pool = da.from_array(digits_flat[0], chunks=300)
    quiet = _copy(fitted).query(pool, 4)[0]
    capsys.readouterr()
    shown = _copy(fitted, verbose=1).query(pool, 4)[0]
    out = capsys.readouterr().out
    assert "100% Completed" in out  # dask.diagnostics.ProgressBar over the block tasks
    np.testing.assert_array_equal(shown, quiet)
