"""The proxy's dropout (issue 27): ``proxy_dropout`` sets every dropout layer of the proxy, never
the fused network's, and a network without dropout layers refuses a rate."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone

from prunefuse_sk import InvalidParameterError, PruneFuseActiveLearner
from prunefuse_sk.architecture import dropout_layers
from prunefuse_sk.networks import MLP, TextCNN

from conftest import TOKEN_N_IDS as N_IDS
from conftest import make_net


def text_net(**kwargs):
    return make_net(
        TextCNN,
        module__n_ids=N_IDS,
        module__n_classes=3,
        module__embedding_dim=8,
        module__n_filters=8,
        max_epochs=2,
        **kwargs,
    )


def rates(module):
    return [layer.p for layer in dropout_layers(module)]


def train_mode_outputs_agree(net, X):
    """Whether two forward passes in training mode give the same outputs (no dropout acts)."""
    module = net.module_
    module.train()
    with torch.no_grad():
        x = torch.as_tensor(X)
        same = torch.equal(module(x), module(x))
    module.eval()
    return same


def test_the_proxy_takes_the_rate_and_the_fused_network_keeps_its_own(token_data):
    X, y = token_data
    learner = PruneFuseActiveLearner(text_net(), proxy_dropout=0.0, random_state=0)
    learner.fit(X[:40], y[:40])
    assert rates(learner.proxy_.module_) == [0.0]
    # the rate acts: without dropout, training-mode passes agree
    assert train_mode_outputs_agree(learner.proxy_, X[:20])
    learner.teach(X[40:60], y[40:60])  # a warm retraining keeps it
    assert rates(learner.proxy_.module_) == [0.0]
    fused = learner.fuse()
    assert rates(fused.module_) == [0.5]  # TextCNN's own rate
    assert not train_mode_outputs_agree(fused, X[:20])
    # clone() and the default: the network's rate, and dropout acting in the proxy
    default = clone(learner).set_params(proxy_dropout=None).fit(X[:40], y[:40])
    assert rates(default.proxy_.module_) == [0.5]
    assert not train_mode_outputs_agree(default.proxy_, X[:20])
    assert clone(learner).get_params()["proxy_dropout"] == 0.0


def test_a_new_rate_reaches_the_next_retraining_from_the_pruned_init(token_data):
    X, y = token_data
    learner = PruneFuseActiveLearner(
        text_net(), proxy_retrain="reinit", proxy_dropout=0.2, random_state=0
    ).fit(X[:40], y[:40])
    assert rates(learner.proxy_.module_) == [0.2]
    learner.set_params(proxy_dropout=0.3).teach(X[40:60], y[40:60])
    assert rates(learner.proxy_.module_) == [0.3]
    assert rates(learner.proxy_init_module_) == [0.5]  # the pair's init is never changed


def test_a_network_without_dropout_refuses_a_rate_and_loses_nothing(digits_flat):
    X, _, y, _ = digits_flat
    net = make_net(MLP, module__n_features=64, module__n_classes=10)  # no dropout layer
    learner = PruneFuseActiveLearner(net, proxy_dropout=0.2, random_state=0)
    with pytest.raises(InvalidParameterError, match="proxy_dropout=0.2.*has none"):
        learner.fit(X[:50], y[:50])
    assert not hasattr(learner, "classes_")
    learner.set_params(proxy_dropout=None).fit(X[:50], y[:50])
    proxy_before = learner.proxy_
    learner.set_params(proxy_dropout=0.2)
    with pytest.raises(InvalidParameterError, match="Leave proxy_dropout=None"):
        learner.teach(X[50:60], y[50:60])
    assert len(learner.y_training) == 50  # the refused teach added no label
    assert learner.proxy_ is proxy_before and not learner.proxy_stale_


@pytest.mark.parametrize("bad", [1.0, -0.1, True, "0.2", np.nan, [0.2]])
def test_bad_rates_are_refused_naming_the_parameter(token_data, bad):
    X, y = token_data
    with pytest.raises(InvalidParameterError, match=r"proxy_dropout must be None .* \[0, 1\)"):
        PruneFuseActiveLearner(text_net(), proxy_dropout=bad).fit(X[:30], y[:30])


def test_the_rate_survives_a_checkpoint_and_a_pickle(token_data, tmp_path):
    X, y = token_data
    learner = PruneFuseActiveLearner(text_net(), proxy_dropout=0.1, random_state=0)
    learner.fit(X[:40], y[:40])
    learner.save(tmp_path / "learner.ckpt")
    loaded = PruneFuseActiveLearner.load(tmp_path / "learner.ckpt", estimator=text_net())
    restored = pickle.loads(pickle.dumps(learner))
    for other in (loaded, restored):
        assert other.proxy_dropout == 0.1
        assert rates(other.proxy_.module_) == [0.1]
        np.testing.assert_array_equal(other.predict_proba(X[60:]), learner.predict_proba(X[60:]))


def test_bald_refuses_a_proxy_whose_dropout_is_off_and_keeps_the_model_unchanged(token_data):
    X, y = token_data
    learner = PruneFuseActiveLearner(
        text_net(), query_strategy="bald", proxy_dropout=0.0, random_state=0
    ).fit(X[:40], y[:40])
    training_before = learner.proxy_.module_.training
    with pytest.raises(ValueError, match="rate above 0.*proxy_dropout=0.0"):
        learner.query(X[40:100], n=5)
    assert learner.proxy_.module_.training == training_before  # the scoring mode was undone
    # at the network's rate the same query runs
    idx, _ = learner.set_params(proxy_dropout=None).fit(X[:40], y[:40]).query(X[40:100], n=5)
    assert len(set(idx)) == 5
