"""Query strategies: the shared contract for every built-in, value tests, and modAL interop."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from prunefuse_sk import PruneFuseActiveLearner, default_estimator
from prunefuse_sk._random import as_random_state, draw_seed
from prunefuse_sk.strategies import (
    STRATEGIES,
    entropy,
    greedy_k_centers,
    kmeans_plus_plus_seeding,
    least_confidence,
    margin_uncertainty,
    top_n,
)
from prunefuse_sk.strategies.diversity import badge_factors


@pytest.fixture(scope="module")
def learner(digits_flat):
    X, _, y, _ = digits_flat
    net = default_estimator(64, 10).set_params(
        module__dropout=0.2, module__hidden=(32, 16), max_epochs=5
    )
    return PruneFuseActiveLearner(net, random_state=0).fit(X[:80], y[:80])


@pytest.fixture(scope="module")
def pool(digits_flat):
    return digits_flat[0][80:480]


def _query(learner, strategy, pool, n=12, **kwargs):
    learner.set_params(query_strategy=strategy)
    return learner.query(pool, n=n, return_scores=True, **kwargs)


# ---------------------------------------------------------------- the contract every strategy meets
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_returns_unique_valid_reproducible_indices(learner, pool, strategy):
    state = learner._rng.get_state()
    idx, rows, scores = _query(learner, strategy, pool)
    assert idx.shape == (12,) and len(np.unique(idx)) == 12
    assert idx.min() >= 0 and idx.max() < len(pool)
    np.testing.assert_array_equal(rows, pool[idx])
    assert scores.shape == (12,) and np.all(np.isfinite(scores[1:]))
    learner._rng.set_state(state)  # same random_state stream -> same picks
    idx_again, _, _ = _query(learner, strategy, pool)
    np.testing.assert_array_equal(idx, idx_again)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_handles_n_equal_to_the_pool_and_max_candidates(learner, pool, strategy):
    idx, _, _ = _query(learner, strategy, pool[:15], n=15)
    assert sorted(idx) == list(range(15))
    idx, rows, _ = _query(learner, strategy, pool, n=5, max_candidates=40)
    assert len(np.unique(idx)) == 5 and np.array_equal(rows, pool[idx])


def test_strategies_differ_with_the_random_state_where_they_are_random(learner, pool):
    picks = set()
    for seed in range(3):
        learner.set_params(query_strategy="random")
        learner._rng = as_random_state(seed)
        picks.add(tuple(learner.query(pool, n=5)[0]))
    assert len(picks) == 3


# ---------------------------------------------------------------------------------- value tests
@pytest.mark.parametrize(
    "strategy, measure",
    [("least_confidence", least_confidence), ("margin", margin_uncertainty), ("entropy", entropy)],
)
def test_uncertainty_strategies_pick_the_top_of_their_measure(learner, pool, strategy, measure):
    idx, _, scores = _query(learner, strategy, pool, n=20)
    expected = measure(learner.proxy_.predict_proba(pool))
    np.testing.assert_allclose(scores, expected[idx], atol=1e-5)
    assert np.all(np.diff(scores) <= 1e-9)  # best first
    assert expected[idx].min() >= np.sort(expected)[-20] - 1e-5


def test_measures_match_their_formulas():
    proba = np.array([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(least_confidence(proba), [0.3, 0.6, 0.0])
    np.testing.assert_allclose(margin_uncertainty(proba), [0.5, 1.0, 0.0])
    np.testing.assert_allclose(
        entropy(proba),
        [
            -(0.7 * np.log(0.7) + 0.2 * np.log(0.2) + 0.1 * np.log(0.1)),
            -(2 * 0.4 * np.log(0.4) + 0.2 * np.log(0.2)),
            0.0,
        ],
    )


def test_top_n_is_best_first_and_breaks_ties_reproducibly():
    scores = np.array([0.1, 0.9, 0.5, 0.9, 0.3])
    np.testing.assert_array_equal(top_n(scores, 3), [1, 3, 2])
    # with a random_state the tie between positions 1 and 3 goes either way, the same way for the
    # same seed
    tie_orders = [tuple(top_n(scores, 2, random_state=seed)) for seed in range(20)]
    assert set(tie_orders) == {(1, 3), (3, 1)}
    assert tie_orders == [
        tuple(top_n(scores, 2, random_state=np.random.RandomState(seed))) for seed in range(20)
    ]
    with pytest.raises(ValueError, match="between 1"):
        top_n(scores, 6)


def _brute_force_k_centers(points, n, centers=None, first=None):
    """Reference: full distance matrix, argmax of min distance at every step."""
    dist = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=2)
    if centers is not None:
        min_dist = np.linalg.norm(points[:, None, :] - centers[None, :, :], axis=2).min(axis=1)
        chosen = []
    else:
        chosen = [first]
        min_dist = dist[first].copy()
    while len(chosen) < n:
        masked = min_dist.copy()
        masked[chosen] = -1
        pick = int(np.argmax(masked))
        chosen.append(pick)
        min_dist = np.minimum(min_dist, dist[pick])
    return chosen


def test_greedy_k_centers_matches_the_brute_force_reference():
    rng = np.random.RandomState(0)
    points, centers = rng.normal(size=(200, 5)), rng.normal(size=(7, 5))
    idx, dists = greedy_k_centers(points, 15, centers=centers, chunk_rows=64)
    assert list(idx) == _brute_force_k_centers(points, 15, centers=centers)
    np.testing.assert_allclose(
        dists[0], np.linalg.norm(points[:, None] - centers[None], axis=2).min(1).max(), rtol=1e-4
    )
    assert np.all(np.diff(dists) <= 1e-5)  # farthest-first distances never grow
    idx, _ = greedy_k_centers(points, 10, random_state=3)
    assert list(idx) == _brute_force_k_centers(points, 10, first=int(idx[0]))


def test_kcenter_strategy_uses_the_proxy_embeddings_and_labelled_centres(learner, pool):
    idx, _, dists = _query(learner, "kcenter", pool, n=8)
    view = learner._selector_view()  # what the strategies see of the proxy
    pool_emb = view.score_pool(pool, embeddings=True).embeddings
    centres = view.score_pool(learner.X_training, embeddings=True).embeddings
    assert pool_emb.shape == (
        len(pool),
        8,
    )  # input of the output layer: last hidden width 16, pruned to 8
    assert list(idx) == _brute_force_k_centers(
        pool_emb.astype(np.float64), 8, centers=centres.astype(np.float64)
    )


def test_badge_factors_reproduce_explicit_gradient_embeddings(learner, pool):
    view = learner._selector_view()  # what the strategies see of the proxy
    scores = view.score_pool(pool[:30], embeddings=True)
    residuals, hidden = badge_factors(scores.proba, scores.embeddings)
    # explicit per-sample gradient of CE(logits, argmax) w.r.t. the output layer's weight
    out_layer = dict(learner.proxy_.module_.named_modules())[learner.embedding_layer_]
    grads = []
    for h in torch.as_tensor(scores.embeddings):
        weight = out_layer.weight.detach().clone().requires_grad_(True)
        logits = F.linear(h[None], weight, out_layer.bias.detach())
        F.cross_entropy(logits, logits.argmax(dim=1)).backward()
        grads.append(weight.grad.flatten().numpy())
    grads = np.asarray(grads, dtype=np.float64)
    factor_gram = (residuals @ residuals.T) * (hidden @ hidden.T)
    np.testing.assert_allclose(factor_gram, grads @ grads.T, rtol=1e-3, atol=1e-6)

    # and the strategy is k-means++ seeding on those embeddings
    def sq_distance_to(i):
        return ((grads - grads[i]) ** 2).sum(axis=1)

    expected, _ = kmeans_plus_plus_seeding(
        sq_distance_to, (grads**2).sum(axis=1), 6, random_state=5
    )
    learner.set_params(query_strategy="badge")
    got, _ = learner.query(pool[:30], n=6, random_state=5)
    np.testing.assert_array_equal(got, expected)


def test_bald_matches_the_mutual_information_formula(learner, pool):
    learner.set_params(query_strategy="bald")
    idx, _, scores = learner.query(
        pool[:100], n=10, return_scores=True, random_state=11, n_passes=8, batch_size=4096
    )
    module = learner.proxy_.module_
    module.eval()
    for layer in module.modules():
        if isinstance(layer, torch.nn.Dropout):
            layer.train()
    with torch.random.fork_rng():
        torch.manual_seed(draw_seed(as_random_state(11)))
        with torch.no_grad():
            passes = torch.stack(
                [F.softmax(module(torch.as_tensor(pool[:100])), dim=1) for _ in range(8)]
            )
    module.eval()
    mean = passes.mean(0).numpy()
    expected_entropy = (-(passes * torch.log(passes.clamp_min(1e-12))).sum(2)).mean(0).numpy()
    mutual_information = entropy(mean) - expected_entropy
    np.testing.assert_allclose(scores, mutual_information[idx], atol=1e-4)
    assert set(idx) == set(np.argsort(-mutual_information)[:10])


def test_bald_without_dropout_says_so(digits_flat):
    X, _, y, _ = digits_flat
    learner = PruneFuseActiveLearner(query_strategy="bald", random_state=0).fit(X[:50], y[:50])
    with pytest.raises(ValueError, match="dropout"):
        learner.query(X[50:100], n=2)


# ------------------------------------------------------------------------------- modAL interop
@pytest.mark.parametrize("name", ["uncertainty_sampling", "margin_sampling", "entropy_sampling"])
def test_modal_uncertainty_strategies_match_a_modal_learner_holding_the_proxy(learner, pool, name):
    uncertainty = pytest.importorskip("modAL.uncertainty")
    from modAL.models import ActiveLearner

    strategy = getattr(uncertainty, name)
    learner.set_params(query_strategy=strategy)
    ours, rows = learner.query(pool, n=10)
    result = strategy(ActiveLearner(estimator=learner.proxy_), pool, n_instances=10)
    theirs = result[0] if isinstance(result, tuple) else result
    assert set(ours) == set(np.asarray(theirs))
    np.testing.assert_array_equal(rows, pool[ours])


def test_modal_ranked_batch_reads_the_labelled_set(learner, pool):
    batch = pytest.importorskip("modAL.batch")
    from modAL.models import ActiveLearner

    learner.set_params(query_strategy=batch.uncertainty_batch_sampling)
    ours, _ = learner.query(pool, n=6)
    modal_learner = ActiveLearner(estimator=learner.proxy_)
    modal_learner.X_training = learner.X_training
    result = batch.uncertainty_batch_sampling(modal_learner, pool, n_instances=6)
    theirs = result[0] if isinstance(result, tuple) else result
    np.testing.assert_array_equal(ours, np.asarray(theirs))


_DROPOUT_SCRIPT = r"""
import numpy as np, torch
from modAL.dropout import mc_dropout_bald
from modAL.models import ActiveLearner
from prunefuse_sk import PruneFuseActiveLearner, default_estimator
from prunefuse_sk.datasets import load_digits_images

X, _, y, _ = load_digits_images(random_state=0)
X = X.reshape(len(X), -1)
net = default_estimator(64, 10).set_params(module__dropout=0.3, max_epochs=3)
learner = PruneFuseActiveLearner(net, query_strategy=mc_dropout_bald, random_state=0)
learner.fit(X[:60], y[:60])
pool = torch.as_tensor(X[60:460])  # modAL.dropout takes tensors only: handed over untouched
torch.manual_seed(0)
ours, rows = learner.query(pool, n=7, num_cycles=10)
torch.manual_seed(0)
theirs = mc_dropout_bald(
    ActiveLearner(estimator=learner.proxy_), pool, n_instances=7, num_cycles=10
)
theirs = np.asarray(theirs[0] if isinstance(theirs, tuple) else theirs)
assert set(ours) == set(theirs), (ours, theirs)
assert torch.equal(rows, pool[torch.as_tensor(ours)])
print("OK", sorted(ours))
"""


def test_modal_mc_dropout_bald_runs_unmodified(tmp_path):
    """modAL.dropout exists only in modAL 0.4.2, which pins an old skorch: CI installs it apart
    (--no-deps)."""
    import os
    import subprocess
    import sys

    extra_path = os.environ.get("PRUNEFUSE_MODAL_042_PATH")
    if not extra_path:
        pytest.importorskip("modAL.dropout")
    env = dict(os.environ)
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join([extra_path, env.get("PYTHONPATH", "")])
    script = tmp_path / "dropout_check.py"
    script.write_text(_DROPOUT_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("OK")


def test_bald_refuses_a_single_pass(learner, pool):
    learner.set_params(query_strategy="bald")
    with pytest.raises(ValueError, match="n_passes >= 2"):
        learner.query(pool, n=2, n_passes=1)


def _numpy_uncertainty(proba, strategy):
    """Reference uncertainty measures, written out in numpy."""
    ranked = np.sort(proba, axis=1)
    if strategy == "least_confidence":
        return 1.0 - ranked[:, -1]
    if strategy == "margin":
        return 1.0 - (ranked[:, -1] - ranked[:, -2])
    return -np.sum(proba * np.log(np.where(proba > 0, proba, 1.0)), axis=1)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_accepts_the_scoring_options(learner, pool, strategy):
    learner.set_params(query_strategy=strategy)
    # 64-row chunks over the 400-row pool, no autocast
    idx, _, scores = learner.query(
        pool, n=3, batch_size=64, autocast=False, random_state=7, return_scores=True
    )
    assert len(np.unique(idx)) == 3
    if strategy in ("least_confidence", "margin", "entropy"):
        measure = _numpy_uncertainty(
            learner.proxy_.predict_proba(pool).astype(np.float64), strategy
        )
        np.testing.assert_allclose(scores, measure[idx], atol=1e-5)
        assert measure[idx].min() >= np.sort(measure)[-3] - 1e-5  # the three most uncertain samples
    elif strategy == "bald":
        # dropout masks are drawn per chunk, so check the mutual information's range and order
        # instead
        assert (
            np.all(scores >= -1e-6)
            and np.all(scores <= np.log(10) + 1e-6)
            and np.all(np.diff(scores) <= 1e-9)
        )
    else:
        # random, kcenter, badge: chunked scoring picks what scoring with the defaults picks
        default_idx, _ = learner.query(pool, n=3, random_state=7)
        np.testing.assert_array_equal(idx, default_idx)


def test_a_strategy_returning_a_plain_tuple_of_indices_is_read_as_indices(learner, pool):
    learner.set_params(query_strategy=lambda lrn, X, n_instances=1: (5, 9))
    idx, _ = learner.query(pool, n=2)
    np.testing.assert_array_equal(idx, [5, 9])
