"""The proxy's learning rate (issue 27): ``proxy_lr_scale``, 1 / (1 - p) for networks on token ids
by default, the network's rate for networks on features and for the fused network."""

import pickle

import pytest
import torch

from prunefuse_sk import InvalidParameterError, PruneFuseActiveLearner
from prunefuse_sk.networks import MLP, FastText, TextCNN
from prunefuse_sk.proxy_learning_rate import proxy_lr_overrides, resolve_proxy_lr_scale

from conftest import TOKEN_N_IDS as N_IDS
from conftest import make_net


def text_net(module=TextCNN, **kwargs):
    kwargs.setdefault("optimizer", torch.optim.Adam)
    kwargs.setdefault("lr", 1e-3)
    return make_net(
        module,
        module__n_ids=N_IDS,
        module__n_classes=3,
        module__embedding_dim=8,
        max_epochs=1,
        **kwargs,
    )


def optimizer_rates(net):
    """The one learning rate of every parameter group of the net's optimizer, rounded."""
    return {round(group["lr"], 12) for group in net.optimizer_.param_groups}


@pytest.mark.parametrize("ratio", [0.5, 0.7])
def test_auto_scales_a_token_id_proxy_by_its_width_and_leaves_the_fused_net_alone(
    token_data, ratio
):
    X, y = token_data
    learner = PruneFuseActiveLearner(text_net(), pruning_ratio=ratio, random_state=0)
    learner.fit(X[:30], y[:30])
    expected = 1e-3 / (1 - ratio)
    assert learner.proxy_lr_ == pytest.approx(expected)
    # the optimizer the proxy trained with, not only the parameter
    assert optimizer_rates(learner.proxy_) == {round(expected, 12)}
    learner.teach(X[30:40], y[30:40])  # a warm retraining keeps it
    assert optimizer_rates(learner.proxy_) == {round(expected, 12)}
    fused = learner.fuse()
    assert fused.lr == 1e-3
    assert optimizer_rates(fused) == {round(1e-3, 12)}
    # the user's estimator is never changed
    assert learner.estimator.lr == 1e-3


def test_every_retraining_path_builds_the_scaled_proxy(token_data):
    X, y = token_data
    learner = PruneFuseActiveLearner(
        text_net(FastText), proxy_retrain="reinit", random_state=0
    ).fit(X[:30], y[:30])
    learner.teach(X[30:40], y[30:40])
    assert optimizer_rates(learner.proxy_) == {round(2e-3, 12)}
    learner.teach(X[40:45], y[40:45], only_new=True)
    assert optimizer_rates(learner.proxy_) == {round(2e-3, 12)}
    restored = pickle.loads(pickle.dumps(learner))
    assert restored.proxy_lr_ == pytest.approx(2e-3)
    restored.teach(X[45:50], y[45:50])
    assert optimizer_rates(restored.proxy_) == {round(2e-3, 12)}


def test_auto_keeps_the_rate_of_a_network_on_features(digits_flat):
    X, _, y, _ = digits_flat
    net = make_net(MLP, module__n_features=64, module__n_classes=10, max_epochs=1, lr=0.05)
    learner = PruneFuseActiveLearner(net, random_state=0).fit(X[:60], y[:60])
    assert learner.proxy_lr_ == 0.05
    scaled = PruneFuseActiveLearner(net, proxy_lr_scale=3.0, random_state=0).fit(X[:60], y[:60])
    assert scaled.proxy_lr_ == pytest.approx(0.15)
    assert optimizer_rates(scaled.proxy_) == {round(0.15, 12)}


def test_a_rate_in_proxy_params_is_respected(token_data):
    X, y = token_data
    given = PruneFuseActiveLearner(text_net(), proxy_params={"lr": 0.01}, random_state=0)
    assert given.fit(X[:30], y[:30]).proxy_lr_ == 0.01
    assert optimizer_rates(given.proxy_) == {0.01}


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "fast", True, None])
def test_a_bad_scale_is_refused_before_anything_is_fitted(token_data, bad):
    X, y = token_data
    learner = PruneFuseActiveLearner(text_net(), proxy_lr_scale=bad)
    with pytest.raises(InvalidParameterError, match="proxy_lr_scale must be 'auto' or a positive"):
        learner.fit(X[:30], y[:30])
    assert not hasattr(learner, "classes_")


def test_a_bad_scale_set_later_loses_no_label(token_data):
    X, y = token_data
    learner = PruneFuseActiveLearner(text_net(), random_state=0).fit(X[:30], y[:30])
    learner.set_params(proxy_lr_scale=-2)
    with pytest.raises(InvalidParameterError, match="proxy_lr_scale"):
        learner.teach(X[30:40], y[30:40])
    assert len(learner.y_training) == 30
    learner.set_params(proxy_lr_scale="auto")
    assert len(learner.teach(X[30:40], y[30:40]).y_training) == 40


def test_helpers():
    assert resolve_proxy_lr_scale("auto", 0.75, token_ids=True) == 4.0
    assert resolve_proxy_lr_scale("auto", 0.75, token_ids=False) == 1.0
    net = text_net(lr=0.1)
    assert proxy_lr_overrides(net, None, 1.0) == {}
    assert proxy_lr_overrides(net, {"max_epochs": 2}, 2.0) == {"lr": 0.2}
