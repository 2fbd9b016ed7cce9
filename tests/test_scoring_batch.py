"""Pool scoring: batches sized to a memory budget, and finiteness checked on the outputs."""

import copy
import warnings

import numpy as np
import pytest
import scipy.sparse
import torch

from prunefuse_sk import PruneFuseActiveLearner, default_estimator
from prunefuse_sk.exceptions import InvalidParameterError, NonFiniteInputError, NonFiniteOutputError
from prunefuse_sk.networks import MLP, SmallCNN
from prunefuse_sk.scoring import PROBE_ROWS, softmax_rows
from prunefuse_sk.strategies import (
    DEFAULT_SCORING_MEMORY,
    SelectorView,
    entropy,
    least_confidence,
    least_confidence_sampling,
    margin_uncertainty,
    predict_proba_batched,
    score_pool,
    scoring_batch_size,
    scoring_row_bytes,
)

from conftest import make_net

MIB = 2**20


@pytest.fixture(scope="module")
def mlp(digits_flat):
    """A fitted MLP 64-128-64-10 (dropout 0.2, for Monte Carlo dropout)."""
    X, _, y, _ = digits_flat
    return make_net(
        MLP, module__n_features=64, module__n_classes=10, module__dropout=0.2, max_epochs=1
    ).fit(X[:200], y[:200])


@pytest.fixture(scope="module")
def pool(digits_flat):
    return digits_flat[0][200:1200]  # 1,000 rows


def small_learner(X, y):
    """A PruneFuse learner around the default MLP, fitted for 2 epochs on 100 rows."""
    net = default_estimator(64, 10).set_params(max_epochs=2)
    return PruneFuseActiveLearner(net, random_state=0).fit(X[:100], y[:100])


class BatchRows:
    """Record the rows of every forward pass of a module (a forward pre-hook)."""

    def __init__(self, module):
        self.rows = []
        self._handle = module.register_forward_pre_hook(
            lambda _m, args: self.rows.append(len(args[0]))
        )

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._handle.remove()


def largest_output_bytes(module, X):
    """Bytes per row of the largest output of any layer, measured independently of the library."""
    sizes = []
    handles = [
        m.register_forward_hook(lambda _m, _i, out: sizes.append(out.numel() * out.element_size()))
        for m in module.modules()
    ]
    try:
        with torch.inference_mode():
            module.eval()(torch.as_tensor(X[:10]))
    finally:
        for handle in handles:
            handle.remove()
    return max(sizes) / 10


# ---------------------------------------------------------------- the budget
def test_batches_stay_within_the_budget_and_grow_with_it(mlp, pool):
    input_bytes = pool.shape[1] * 4
    largest = largest_output_bytes(mlp.module_, pool)
    seen = {}
    for budget in (0.25, 0.5, 1.0):
        with BatchRows(mlp.module_) as calls:
            score_pool(mlp, pool, working_memory=budget)
        probe, *batches = calls.rows
        assert probe == PROBE_ROWS  # one small probe pass, then the scoring passes
        assert sum(batches) == len(pool) and len(set(batches[:-1])) <= 1
        rows = batches[0]
        assert rows == scoring_batch_size(mlp, pool, working_memory=budget)
        # what a sequential net holds at once (the input, a layer's input and output) fits the
        # budget
        assert rows * (input_bytes + 2 * largest) <= budget * MIB
        # at most what the estimate lets fit, evened out over the batches (never below half of it)
        most = int(budget * MIB // scoring_row_bytes(mlp, pool))
        assert most / 2 < rows <= most and len(batches) == -(-len(pool) // most)
        seen[budget] = rows
    assert seen[0.25] < seen[0.5] < seen[1.0] < len(pool)
    # the default budget scores this small pool in one pass
    assert scoring_batch_size(mlp, pool) == len(pool)
    assert DEFAULT_SCORING_MEMORY * MIB // scoring_row_bytes(mlp, pool) > len(pool)


def test_the_row_estimate_counts_input_activations_outputs_and_embeddings(mlp, pool):
    row = scoring_row_bytes(mlp, pool)
    assert row == 64 * 4 + 3 * 128 * 4 + 2 * 10 * 4  # input, 3 x Linear(64, 128), probabilities
    assert scoring_row_bytes(mlp, pool, embedding_layer="output") == row + 2 * 64 * 4
    assert (
        scoring_row_bytes(mlp, scipy.sparse.csr_matrix(pool)) == row + 64 * 4
    )  # the densified batch
    assert scoring_row_bytes(mlp, scipy.sparse.csr_matrix(pool, dtype=np.float64)) == row + 64 * 8
    assert scoring_row_bytes(mlp, torch.as_tensor(pool)) == row
    assert scoring_row_bytes(mlp, pool[:0]) == 0


def test_a_convolutional_net_gets_smaller_batches(digits):
    X, _, y, _ = digits
    cnn = make_net(
        SmallCNN, module__n_classes=10, module__width=8, module__hidden=32, max_epochs=1
    ).fit(X[:64], y[:64])
    row = scoring_row_bytes(cnn, X)
    assert (
        row == 64 * 4 + 3 * (16 * 8 * 8 * 4) + 2 * 10 * 4
    )  # the second conv block's output is the largest
    rows = scoring_batch_size(cnn, X, working_memory=1)
    assert rows == -(
        -len(X) // -(-len(X) // (MIB // row))
    )  # 83 rows fit: 18 batches of at most 80 rows
    with BatchRows(cnn.module_) as calls:
        proba = score_pool(cnn, X, working_memory=1).proba
    assert max(calls.rows) == rows
    np.testing.assert_array_equal(proba, score_pool(cnn, X, batch_size=rows).proba)


def test_an_explicit_batch_size_wins_and_there_is_no_probe(mlp, pool):
    with BatchRows(mlp.module_) as calls:
        score_pool(mlp, pool, batch_size=300, working_memory=0.01)
    assert calls.rows == [300, 300, 300, 100]
    with BatchRows(mlp.module_) as calls:
        predict_proba_batched(mlp, pool, batch_size=600)
    assert calls.rows == [600, 400]


def test_results_equal_those_of_the_explicit_batch_size(mlp, pool):
    rows = scoring_batch_size(mlp, pool, working_memory=0.3)
    assert 1 < rows < len(pool)
    budgeted = score_pool(mlp, pool, working_memory=0.3, embedding_layer="output")
    explicit = score_pool(mlp, pool, batch_size=rows, embedding_layer="output")
    np.testing.assert_array_equal(budgeted.proba, explicit.proba)
    np.testing.assert_array_equal(budgeted.embeddings, explicit.embeddings)
    np.testing.assert_array_equal(
        predict_proba_batched(mlp, pool, working_memory=0.3), explicit.proba
    )
    # Monte Carlo dropout: the probe draws no random numbers, so the masks are those of the explicit
    # run
    torch.manual_seed(3)
    mc_budgeted = score_pool(mlp, pool, n_passes=3, working_memory=0.3)
    torch.manual_seed(3)
    mc_explicit = score_pool(mlp, pool, n_passes=3, batch_size=rows)
    np.testing.assert_array_equal(mc_budgeted.proba, mc_explicit.proba)
    np.testing.assert_array_equal(mc_budgeted.expected_entropy, mc_explicit.expected_entropy)
    assert mlp.module_.training is False  # the probe restores the mode it found


def test_every_kind_of_pool_is_probed_without_loading_it_whole(mlp, pool, tmp_path):
    path = tmp_path / "pool.f32"
    memmap = np.memmap(path, dtype=np.float32, mode="w+", shape=pool.shape)
    memmap[:] = pool
    memmap.flush()
    kinds = {
        "memmap": np.memmap(path, dtype=np.float32, mode="r", shape=pool.shape),
        "tensor": torch.as_tensor(pool),
        "csr": scipy.sparse.csr_matrix(pool),
        "float64": pool.astype(np.float64),
    }
    expected = score_pool(mlp, pool, working_memory=0.3).proba
    for name, kind in kinds.items():
        np.testing.assert_allclose(
            score_pool(mlp, kind, working_memory=0.3).proba, expected, atol=1e-6, err_msg=name
        )


def test_a_tiny_budget_scores_one_row_at_a_time_with_a_warning(mlp, pool):
    with pytest.warns(UserWarning, match="more than the scoring memory budget"):
        rows = scoring_batch_size(mlp, pool[:20], working_memory=1e-4)
    assert rows == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a pool no larger than the probe is one unprobed batch
        assert scoring_batch_size(mlp, pool[:PROBE_ROWS], working_memory=1e-4) == PROBE_ROWS


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), True, "64"])
def test_a_bad_budget_or_batch_size_says_what_to_pass(mlp, pool, bad):
    with pytest.raises(InvalidParameterError, match="positive number of MiB or None"):
        score_pool(mlp, pool, working_memory=bad)
    if not isinstance(bad, float):
        with pytest.raises(InvalidParameterError, match="batch_size must be a positive integer"):
            score_pool(mlp, pool, batch_size=bad)


def test_the_selector_view_passes_its_scoring_memory(mlp, pool, digits_flat):
    X, _, y, _ = digits_flat
    small = SelectorView(mlp, X[:200], y[:200], scoring_memory=0.25)
    default = SelectorView(mlp, X[:200], y[:200])
    assert default.scoring_memory is None
    with BatchRows(mlp.module_) as calls:
        indices, _ = least_confidence_sampling(small, pool, 5, random_state=0)
    assert max(calls.rows[1:]) == scoring_batch_size(mlp, pool, working_memory=0.25) < len(pool)
    with BatchRows(mlp.module_) as calls:
        np.testing.assert_array_equal(
            least_confidence_sampling(default, pool, 5, random_state=0)[0], indices
        )
    assert calls.rows[1:] == [len(pool)]
    with BatchRows(mlp.module_) as calls:  # a strategy's batch_size still wins
        least_confidence_sampling(small, pool, 5, batch_size=450)
    assert calls.rows == [450, 450, 100]


def test_a_dask_pool_scored_with_a_budget_equals_the_pool_in_memory(mlp, pool, digits_flat):
    da = pytest.importorskip("dask.array")
    X, _, y, _ = digits_flat
    view = SelectorView(mlp, X[:200], y[:200], scoring_memory=0.05)
    blocks = da.from_array(pool, chunks=300)
    np.testing.assert_array_equal(view.score_pool(blocks).proba, view.score_pool(pool).proba)
    from prunefuse_sk.strategies import select_from_pool

    on_dask = select_from_pool(
        least_confidence_sampling, view, blocks, 7, rng=np.random.RandomState(0)
    )
    in_memory = select_from_pool(
        least_confidence_sampling, view, pool, 7, rng=np.random.RandomState(0)
    )
    np.testing.assert_array_equal(on_dask[0], in_memory[0])


# ------------------------------------------------------------ finiteness, checked on the outputs
@pytest.mark.parametrize("where", [3, 997])  # in the first batch, in the last one
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_or_inf_in_the_pool_is_blamed_on_the_input(mlp, pool, where, value):
    bad = pool.copy()
    bad[where, 20] = value
    for kind in (bad, torch.as_tensor(bad)):
        # the message names the row, counted in the whole pool
        message = rf"X_pool contains NaN or infinity in row\(s\) {where}; impute or drop"
        with pytest.raises(NonFiniteInputError, match=message):
            score_pool(mlp, kind, working_memory=0.25)


def test_nan_in_the_pool_raises_through_query(digits_flat):
    X, _, y, _ = digits_flat
    learner = small_learner(X, y)
    bad = X[100:700].copy()
    bad[555, 7] = np.nan
    with pytest.raises(NonFiniteInputError, match="NaN or infinity"):
        learner.query(bad, n=3)
    assert len(learner.query(X[100:700], n=3)[0]) == 3  # the learner is unharmed


def test_a_network_that_produces_nan_on_finite_input_gets_its_own_error(mlp, pool, digits_flat):
    broken = copy.deepcopy(mlp)
    with torch.no_grad():
        broken.module_.output.weight[0, 0] = float("nan")
    with pytest.raises(
        NonFiniteOutputError, match="network produced NaN or infinity on finite input"
    ):
        score_pool(broken, pool)
    X, _, y, _ = digits_flat
    learner = small_learner(X, y)
    with torch.no_grad():
        learner.proxy_.module_.output.bias.fill_(float("inf"))
    with pytest.raises(NonFiniteOutputError, match="lower the learning rate"):
        learner.query(pool, n=3)
    assert not issubclass(NonFiniteOutputError, NonFiniteInputError) and issubclass(
        NonFiniteOutputError, ValueError
    )


# ---------------------------------------------------------------- the softmax of narrow outputs
def test_softmax_rows_matches_torch_and_does_not_depend_on_the_row_position():
    rng = np.random.RandomState(0)
    for n_outputs in (2, 10, 15):
        logits = (rng.randn(1003, n_outputs) * 6).astype(np.float32)
        proba = softmax_rows(logits)
        assert proba.dtype == np.float32
        np.testing.assert_allclose(
            proba, torch.softmax(torch.from_numpy(logits), dim=-1).numpy(), rtol=0, atol=3e-7
        )
        for offset in (1, 7, 16, 33):  # a row scores the same at any position of a batch
            np.testing.assert_array_equal(softmax_rows(logits[offset:]), proba[offset:])
            np.testing.assert_array_equal(
                softmax_rows(logits[: offset + 21])[offset:], proba[offset : offset + 21]
            )
    special = np.array([[np.nan, 1.0], [np.inf, 1.0], [-np.inf, 1.0]], dtype=np.float32)
    np.testing.assert_array_equal(
        softmax_rows(special), torch.softmax(torch.from_numpy(special), dim=-1).numpy()
    )


def test_narrow_outputs_are_normalized_like_skorchs_softmax(mlp, pool):
    proba = score_pool(mlp, pool, batch_size=333).proba
    assert proba.flags.f_contiguous  # written class by class
    np.testing.assert_allclose(
        proba, mlp.predict_proba(pool), rtol=0, atol=3e-7
    )  # skorch: torch.softmax
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-6)
    # the measures give the same scores for either memory layout
    for measure in (least_confidence, margin_uncertainty, entropy):
        np.testing.assert_array_equal(
            measure(proba), measure(np.ascontiguousarray(proba)), err_msg=measure.__name__
        )
    # Monte Carlo dropout averages tensors: C order, the same probabilities up to rounding
    mc = score_pool(mlp, pool, batch_size=333, n_passes=2).proba
    assert mc.flags.c_contiguous and mc.shape == proba.shape
