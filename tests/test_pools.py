"""Every kind of pool answers as numpy does: same indices, same rows, same errors."""

import pickle

import numpy as np
import pytest
import scipy.sparse
import torch

from prunefuse_sk import PruneFuseActiveLearner
from prunefuse_sk.exceptions import FeatureShapeError, NonFiniteInputError, PoolTypeError
from prunefuse_sk.networks import MLP
from prunefuse_sk.pools import DaskPool
from prunefuse_sk.scoring import score_pool

from conftest import make_net

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def fitted(digits_flat):
    X_pool, _, y_pool, _ = digits_flat
    net = make_net(MLP, module__n_features=64, module__n_classes=10, max_epochs=2)
    return PruneFuseActiveLearner(net, random_state=0).fit(X_pool[:100], y_pool[:100])


def _copy(learner):
    return pickle.loads(pickle.dumps(learner))


def _frames(pool):
    """DataFrames of ``pool`` with a default, a shuffled integer and a string index."""
    n = len(pool)
    shuffled = np.random.RandomState(1).permutation(n) + 5
    return {
        "frame-default-index": pd.DataFrame(pool),
        "frame-shuffled-int-index": pd.DataFrame(pool, index=shuffled),
        "frame-string-index": pd.DataFrame(pool, index=[f"row{i}" for i in range(n)]),
    }


def _kinds(pool, tmp_path):
    memmap = np.lib.format.open_memmap(
        tmp_path / "pool.npy", mode="w+", dtype=np.float32, shape=pool.shape
    )
    memmap[:] = pool
    memmap.flush()
    kinds = {
        "memmap": np.load(tmp_path / "pool.npy", mmap_mode="r"),
        "tensor": torch.as_tensor(pool),
        "csr": scipy.sparse.csr_matrix(pool),
        "coo": scipy.sparse.coo_matrix(pool),
        **_frames(pool),
    }
    da = pytest.importorskip("dask.array")
    dd = pytest.importorskip("dask.dataframe")
    kinds["dask-array"] = da.from_array(pool, chunks=(97, 64))
    kinds["dask-frame"] = dd.from_pandas(pd.DataFrame(pool), npartitions=3)
    return kinds


@pytest.mark.parametrize(
    "size", [60, 1000]
)  # 60 x 64: a frame indexed by labels would pick columns
def test_every_pool_kind_gives_the_numpy_indices_and_rows(fitted, digits_flat, tmp_path, size):
    X_pool = digits_flat[0][100 : 100 + size]
    expected_idx, expected_rows = _copy(fitted).query(X_pool, n=5)
    for name, kind in _kinds(X_pool, tmp_path).items():
        idx, rows = _copy(fitted).query(kind, n=5)
        np.testing.assert_array_equal(idx, expected_idx, err_msg=name)
        dense = rows.toarray() if scipy.sparse.issparse(rows) else np.asarray(rows)
        np.testing.assert_array_equal(dense, expected_rows, err_msg=name)
        # the chosen rows come back in the pool's own kind (a dask pool's computed, as numpy)
        kinds = {"frame": pd.DataFrame, "tensor": torch.Tensor, "csr": scipy.sparse.spmatrix}
        expected_kind = next((k for key, k in kinds.items() if name.startswith(key)), np.ndarray)
        assert isinstance(rows, scipy.sparse.spmatrix if name == "coo" else expected_kind), name


def test_a_frame_pool_returns_rows_by_position_that_teach_takes(fitted, digits_flat):
    X_pool, _, y_pool, _ = digits_flat
    frame = _frames(X_pool[100:160])["frame-string-index"]
    learner = _copy(fitted)
    idx, rows = learner.query(frame, n=4, max_candidates=50)
    assert isinstance(rows, pd.DataFrame) and rows.shape == (4, 64)
    assert rows.index.tolist() == [f"row{i}" for i in idx]  # the user's labels come along
    np.testing.assert_array_equal(rows.to_numpy(), X_pool[100:160][idx])
    learner.teach(rows, y_pool[100:160][idx])
    assert len(learner.y_training) == 104
    np.testing.assert_allclose(
        learner.predict_proba(frame), _copy(learner).predict_proba(X_pool[100:160])
    )


def test_predict_and_score_take_every_kind(fitted, digits_flat, tmp_path):
    X, y = digits_flat[0][300:400], digits_flat[2][300:400]
    expected = fitted.predict_proba(X)
    for name, kind in _kinds(X, tmp_path).items():
        np.testing.assert_array_equal(fitted.predict_proba(kind), expected, err_msg=name)
    assert fitted.score(pd.DataFrame(X, index=np.arange(100)[::-1]), y) == fitted.score(X, y)


@pytest.mark.parametrize("method", ["query", "predict_proba"])
def test_a_wrong_width_raises_feature_shape_error_for_every_kind(
    fitted, digits_flat, tmp_path, method
):
    wrong = digits_flat[0][100:300, :60]
    for kind in _kinds(wrong, tmp_path).values():
        with pytest.raises(FeatureShapeError, match="60 features"):
            getattr(_copy(fitted), method)(kind)


def test_dict_pools_go_to_strategies_that_read_them_and_are_refused_by_our_scoring(
    fitted, digits_flat
):
    pool = {"x": torch.as_tensor(digits_flat[0][100:200])}

    def first_rows(learner, X, n_instances=1):
        assert X is pool  # handed over as given
        return np.arange(n_instances)

    learner = _copy(fitted).set_params(query_strategy=first_rows)
    idx, rows = learner.query(pool, n=3)
    assert idx.tolist() == [0, 1, 2] and rows["x"].shape == (3, 64)
    with pytest.raises(PoolTypeError, match="dict of tensors"):
        _copy(fitted).query(pool, n=3)
    with pytest.raises(PoolTypeError, match="dict of tensors"):
        fitted.predict(pool)
    with pytest.raises(PoolTypeError, match="Series"):
        fitted.predict(pd.Series(np.zeros(3)))


def test_non_finite_rows_are_named(fitted, digits_flat):
    X = digits_flat[0][100:200].copy()
    X[[17, 42]] = np.nan
    with pytest.raises(NonFiniteInputError, match="17, 42"):
        fitted.predict(X)
    with pytest.raises(NonFiniteInputError, match=r"2 row\(s\): 17, 42"):
        _copy(fitted).teach(X, np.zeros(100, dtype=int))


def test_fitted_state_comes_back_read_only(fitted, digits_flat):
    learner = _copy(fitted)
    X_before = learner.X_training.copy()
    for name in ("X_training", "y_training", "labelling_round_", "query_scores_"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(learner, name)[0] = 123
    np.testing.assert_array_equal(learner.X_training, X_before)
    with pytest.raises(AttributeError):
        learner.history_.append({})
    learner.history_[0]["epochs"] = -1
    assert learner.history_[0]["epochs"] != -1 and len(learner.history_) == 1
    # the labelled set is the learner's own: changing the caller's array later changes nothing
    X_seed = digits_flat[0][:100].copy()
    own = PruneFuseActiveLearner(
        make_net(MLP, module__n_features=64, module__n_classes=10, max_epochs=1), random_state=0
    ).fit(X_seed, digits_flat[2][:100])
    X_seed[:] = 0
    assert own.X_training.any()


def test_dask_ranking_equals_in_memory_bit_for_bit_with_near_ties(fitted, digits_flat):
    """A pool of rows repeated many times (exact ties in memory), scored in batches of 200.

    Blocks of 201, 401 or 1,003 rows scored on their own would end in batches of 1 to 3 rows,
    which this CPU computes with other kernels: their scores move by about 1e-8 and break the
    ties differently. Blocks re-cut onto the in-memory batch boundaries give the in-memory
    scores bit for bit, so the same rows in the same order.
    """
    da = pytest.importorskip("dask.array")
    base = digits_flat[0][:40]
    pool = base[np.random.RandomState(0).randint(0, len(base), 3_000)]
    for strategy in ("least_confidence", "margin", "entropy"):
        learner = _copy(fitted).set_params(query_strategy=strategy)
        expected = learner.query(pool, n=50, return_scores=True, batch_size=200)
        for chunks in (201, 401, 1003):
            dask_pool = da.from_array(pool, chunks=(chunks, 64))
            got = (
                _copy(fitted)
                .set_params(query_strategy=strategy)
                .query(dask_pool, n=50, return_scores=True, batch_size=200)
            )
            np.testing.assert_array_equal(
                got[0], expected[0], err_msg=f"{strategy}, chunks {chunks}"
            )
            np.testing.assert_array_equal(
                got[2], expected[2], err_msg=f"{strategy}, chunks {chunks}"
            )
    # the scores of every row, not only the chosen ones, are the in-memory scores
    view = fitted._selector_view()
    np.testing.assert_array_equal(
        view.score_pool(da.from_array(pool, chunks=(201, 64)), batch_size=200).proba,
        view.score_pool(pool, batch_size=200).proba,
    )


def test_dask_blocks_are_aligned_to_the_in_memory_batches(fitted, digits_flat):
    da = pytest.importorskip("dask.array")
    pool = DaskPool(da.from_array(digits_flat[0], chunks=(131, 64)))
    aligned = pool.aligned_to_batches(100)
    starts = np.cumsum((0,) + aligned.data.chunks[0][:-1])
    assert not np.any(starts % 100) and len(aligned) == len(pool)
    assert pool.aligned_to_batches(131) is pool  # already aligned: nothing is re-cut
    proba = score_pool(fitted.proxy_, digits_flat[0], batch_size=100).proba
    assert proba.shape == (len(pool), 10)


def test_a_query_builds_and_checks_its_pool_once(fitted, digits_flat, monkeypatch):
    import prunefuse_sk.pools as pools

    pool = digits_flat[0][100:400]
    checks = []
    real = pools.Pool.check_shape

    def counted(self, *args, **kwargs):
        checks.append(self.data is pool)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pools.Pool, "check_shape", counted)
    for strategy in ("least_confidence", "kcenter"):  # kcenter also scores the labelled set
        checks.clear()
        _copy(fitted).set_params(query_strategy=strategy).query(pool, n=3)
        assert checks.count(True) == 1, strategy
