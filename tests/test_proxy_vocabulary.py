"""The proxy vocabulary (issue 27): a text proxy embeds only the most frequent ids, fusion puts
the rows back at their ids and stays exact, bad fractions are refused by name."""

import pickle

import numpy as np
import pytest
import torch
from torch import nn

from prunefuse_sk import ProxyVocabularyError, PruneFuseActiveLearner
from prunefuse_sk.networks import MLP, FastText, TextCNN
from prunefuse_sk.proxy_vocabulary import ProxyVocabulary, count_token_ids

from conftest import make_net

N_IDS = 300


@pytest.fixture(scope="module")
def token_data():
    """Token-id documents whose class is set by which ids they hold; ids above 200 are rare."""
    rng = np.random.RandomState(0)
    y = rng.randint(0, 3, 300)
    X = rng.randint(2, 200, (300, 12))
    X[:, :4] = 2 + 10 * y[:, None] + rng.randint(0, 10, (300, 4))  # class-specific ids
    X[::10, 5] = rng.randint(200, N_IDS, 30)  # rare ids
    X[:, -3:] = 0  # padding
    return X.astype(np.int64), y


def text_net(module=TextCNN, **kwargs):
    return make_net(
        module, module__n_ids=N_IDS, module__n_classes=3, module__embedding_dim=16, **kwargs
    )


class UserBagNet(nn.Module):
    """A user's own network: an EmbeddingBag with padding, then two linear layers."""

    def __init__(self, n_ids=N_IDS, n_classes=3):
        super().__init__()
        self.bag = nn.EmbeddingBag(n_ids, 24, mode="mean", padding_idx=0)
        self.hidden = nn.Linear(24, 32)
        self.output = nn.Linear(32, n_classes)

    def forward(self, X):
        return self.output(torch.relu(self.hidden(self.bag(X))))


def outputs(module, X):
    with torch.no_grad():
        return module.eval()(torch.as_tensor(X))


@pytest.mark.parametrize(
    "net", [text_net(FastText), text_net(TextCNN), make_net(UserBagNet)], ids=type
)
def test_the_proxy_embeds_the_frequent_ids_and_fuses_exactly(net, token_data):
    X, y = token_data
    learner = PruneFuseActiveLearner(net, proxy_vocabulary=0.4, fusion_init="zero", random_state=0)
    learner.fit(X[:150], y[:150], X_pool=X[150:]).teach(X[150:200], y[150:200])
    kept = learner.proxy_vocabulary_
    counts = np.bincount(X.ravel(), minlength=N_IDS)
    # floor(0.4 * 300) ids: padding, unknown and the 118 most frequent of the labels and the pool
    assert len(kept) == 120 and {0, 1} <= set(kept.tolist())
    tokens = np.setdiff1d(kept, [0, 1])
    assert counts[tokens].min() >= counts[np.setdiff1d(np.arange(2, N_IDS), kept)].max()
    layer = next(m for m in learner.proxy_.module_.modules() if hasattr(m, "num_embeddings"))
    assert layer.weight.shape[0] == 120 and layer.padding_idx == 0
    # inside the proxy a dropped id is the unknown id
    dropped = np.setdiff1d(np.arange(N_IDS), kept)
    X_test = X[200:].copy()
    assert np.isin(X_test, dropped).any()
    as_unknown = np.where(np.isin(X_test, dropped), 1, X_test)
    proxy = learner.proxy_.module_
    torch.testing.assert_close(outputs(proxy, X_test), outputs(proxy, as_unknown), rtol=0, atol=0)
    # fusion puts the rows back and the fused network computes what the proxy computes
    fused = learner.fuse(train=False).module_
    torch.testing.assert_close(outputs(fused, X_test), outputs(proxy, X_test), atol=1e-5, rtol=0)
    name = next(n for n, _ in fused.named_parameters() if n.endswith("weight"))
    full_weight = dict(fused.named_parameters())[name]
    assert full_weight.shape[0] == N_IDS  # the fused network embeds every id again
    # and it trains: the dropped ids' rows are ordinary rows of the full embedding
    clf = learner.fuse(max_epochs=2)
    assert clf.predict(X_test).shape == (len(X_test),)


def test_the_pool_counts_toward_the_kept_ids(token_data):
    X, y = token_data
    pool = np.full((400, 12), 250, dtype=np.int64)  # one id the labelled rows hardly hold
    learner = PruneFuseActiveLearner(text_net(), proxy_vocabulary=0.1, random_state=0)
    assert 250 not in learner.fit(X[:100], y[:100]).proxy_vocabulary_
    assert 250 in learner.fit(X[:100], y[:100], X_pool=pool).proxy_vocabulary_
    # without a vocabulary the pool changes nothing
    whole = PruneFuseActiveLearner(text_net(), random_state=0).fit(X[:100], y[:100], X_pool=pool)
    assert whole.proxy_vocabulary_ is None
    assert whole.proxy_.module_.embedding.num_embeddings == N_IDS


def test_auto_keeps_one_minus_the_pruning_ratio(token_data):
    X, y = token_data
    learner = PruneFuseActiveLearner(
        text_net(FastText), proxy_vocabulary="auto", pruning_ratio=0.7, random_state=0
    )
    assert len(learner.fit(X[:100], y[:100]).proxy_vocabulary_) == int(0.3 * N_IDS)
    full = PruneFuseActiveLearner(text_net(FastText), proxy_vocabulary=1.0, random_state=0)
    np.testing.assert_array_equal(full.fit(X[:100], y[:100]).proxy_vocabulary_, np.arange(N_IDS))


def test_the_vocabulary_survives_pickling_t_sync_and_queries(token_data):
    X, y = token_data
    learner = PruneFuseActiveLearner(
        text_net(), proxy_vocabulary=0.5, fusion_init="zero", sync_every=1, random_state=0
    )
    learner.fit(X[:100], y[:100], X_pool=X[100:])
    idx, _ = learner.query(X[100:], n_instances=20)
    learner.teach(X[100:][idx], y[100:][idx])  # a T_sync step: the trained network pruned again
    assert learner.history_[-1].get("sync") is not None
    assert learner.proxy_.module_.embedding.num_embeddings == 150
    fused = learner.fuse(train=False).module_
    torch.testing.assert_close(
        outputs(fused, X[200:]), outputs(learner.proxy_.module_, X[200:]), atol=1e-5, rtol=0
    )
    restored = pickle.loads(pickle.dumps(learner))
    np.testing.assert_array_equal(restored.proxy_vocabulary_, learner.proxy_vocabulary_)
    np.testing.assert_array_equal(restored.predict_proba(X[200:]), learner.predict_proba(X[200:]))
    np.testing.assert_array_equal(
        restored.query(X[100:], n_instances=5)[0], learner.query(X[100:], n_instances=5)[0]
    )


def test_checkpoint_keeps_the_vocabulary(token_data, tmp_path):
    X, y = token_data
    learner = PruneFuseActiveLearner(text_net(), proxy_vocabulary=0.5, random_state=0)
    learner.fit(X[:100], y[:100], X_pool=X[100:]).save(tmp_path / "ckpt")
    restored = PruneFuseActiveLearner.load(tmp_path / "ckpt", estimator=text_net())
    np.testing.assert_array_equal(restored.proxy_vocabulary_, learner.proxy_vocabulary_)
    np.testing.assert_array_equal(restored.predict_proba(X[200:]), learner.predict_proba(X[200:]))


@pytest.mark.parametrize("value", [0, 0.0, -0.2, 1.5, True, "half", [0.5]])
def test_a_fraction_outside_the_unit_interval_is_refused_by_name(value, token_data):
    X, y = token_data
    learner = PruneFuseActiveLearner(text_net(), proxy_vocabulary=value)
    with pytest.raises(ProxyVocabularyError, match=r"fraction in \(0, 1\].*Pass a fraction"):
        learner.fit(X[:100], y[:100])
    assert not hasattr(learner, "classes_")


def test_a_fraction_that_keeps_no_token_is_refused(token_data):
    X, y = token_data
    with pytest.raises(ProxyVocabularyError, match="keeps no token.*leaves no row"):
        PruneFuseActiveLearner(text_net(), proxy_vocabulary=0.005).fit(X[:100], y[:100])
    with pytest.raises(ProxyVocabularyError, match="keeps no token.*hold no token besides"):
        ProxyVocabulary.from_counts("e", np.array([5, 3, 0, 0]), 1.0, unknown_id=1, padding_id=0)
    with pytest.raises(ProxyVocabularyError, match="unknown_id=9 is not an id"):
        ProxyVocabulary.from_counts("e", np.ones(5), 0.5, unknown_id=9)


def test_feature_networks_and_bad_input_are_refused_and_nothing_labelled_is_lost(
    token_data, digits_flat
):
    X_digits, _, y_digits, _ = digits_flat
    with pytest.raises(ProxyVocabularyError, match="nn.Embedding.*proxy_vocabulary=None"):
        net = make_net(MLP, module__n_features=64, module__n_classes=10)
        PruneFuseActiveLearner(net, proxy_vocabulary=0.5).fit(X_digits[:50], y_digits[:50])
    X, y = token_data
    learner = PruneFuseActiveLearner(text_net(), proxy_vocabulary=0.5, random_state=0)
    learner.fit(X[:100], y[:100])
    learner.set_params(proxy_vocabulary=2)
    with pytest.raises(ProxyVocabularyError):
        learner.teach(X[100:120], y[100:120])
    assert len(learner.y_training) == 100  # the refused call changed nothing
    learner.set_params(proxy_vocabulary=0.5)
    assert len(learner.teach(X[100:120], y[100:120]).y_training) == 120
    with pytest.raises(ValueError, match="token id"):  # a pool with ids outside the vocabulary
        PruneFuseActiveLearner(text_net(), proxy_vocabulary=0.5).fit(
            X[:100], y[:100], X_pool=np.full((3, 12), N_IDS)
        )


def test_count_token_ids_reads_every_kind_of_pool():
    import scipy.sparse

    ids = np.array([[2, 3, 0], [2, 1, 0]])
    expected = np.array([2, 1, 2, 1, 0])
    np.testing.assert_array_equal(count_token_ids(5, ids), expected)
    np.testing.assert_array_equal(count_token_ids(5, torch.as_tensor(ids), None), expected)
    np.testing.assert_array_equal(count_token_ids(5, ids, ids, batch_size=1), 2 * expected)
    np.testing.assert_array_equal(count_token_ids(5, scipy.sparse.csr_matrix(ids)), expected)
