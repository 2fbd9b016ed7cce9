"""Cheap by default (issue 27): warm proxy retraining, the fused network's stopping rule, sparse
embedding updates with LazyAdam, and Kim's embedding initialisation."""

import copy

import numpy as np
import pytest
import torch
from sklearn.base import clone
from skorch import NeuralNetClassifier
from torch import nn

from prunefuse_sk import InvalidParameterError, LazyAdam, PruneFuseActiveLearner
from prunefuse_sk.fused_stopping import FusedStopping, stop_reason
from prunefuse_sk.networks import MLP, CharCNN, FastText, TextCNN, kim_embedding_init
from prunefuse_sk.sparse_embeddings import embedding_layers, use_sparse_embeddings

from conftest import TOKEN_N_IDS as N_IDS
from conftest import make_net


def text_net(module=TextCNN, n_ids=N_IDS, **kwargs):
    return make_net(
        module, module__n_ids=n_ids, module__n_classes=3, module__embedding_dim=16, **kwargs
    )


def word_net(**kwargs):
    """A network on word ids: an embedding of a word vocabulary's size (the data's ids are
    fewer)."""
    return text_net(n_ids=1000, **kwargs)


# ------------------------------------------------------------------ LazyAdam
def test_lazy_adam_is_adam_on_dense_gradients_and_sparse_adam_on_sparse_ones():
    torch.manual_seed(0)
    dense = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    twin = copy.deepcopy(dense)
    adam = torch.optim.Adam(dense.parameters(), lr=0.01, weight_decay=0.1)
    lazy = LazyAdam(twin.parameters(), lr=0.01, weight_decay=0.1)
    table = nn.Embedding(50, 3, sparse=True)
    table_twin = copy.deepcopy(table)
    sparse_adam = torch.optim.SparseAdam(table.parameters(), lr=0.01)
    lazy_table = LazyAdam(table_twin.parameters(), lr=0.01)
    for _ in range(15):
        x, ids = torch.randn(8, 5), torch.randint(0, 50, (6, 4))
        for net, optimizer, inputs in (
            (dense, adam, x),
            (twin, lazy, x),
            (table, sparse_adam, ids),
            (table_twin, lazy_table, ids),
        ):
            optimizer.zero_grad()
            net(inputs).pow(2).sum().backward()
            optimizer.step()
    for a, b in zip(dense.parameters(), twin.parameters()):
        torch.testing.assert_close(a, b)  # torch's Adam batches its arithmetic: float32 rounding
    torch.testing.assert_close(table.weight, table_twin.weight)
    # Adam's state names: a state dict moves from LazyAdam to Adam
    torch.optim.Adam(twin.parameters()).load_state_dict(lazy.state_dict())


def test_lazy_adam_touches_only_the_rows_of_the_batch():
    table = nn.Embedding(20, 4, sparse=True, padding_idx=0)
    optimizer = LazyAdam(table.parameters(), lr=0.1, weight_decay=0.01)
    before = table.weight.detach().clone()
    table(torch.tensor([[3, 7, 0]])).sum().backward()
    optimizer.step()
    changed = (table.weight != before).any(dim=1).nonzero().ravel().tolist()
    assert changed == [3, 7]  # not the padding row, not the rest of the table
    for bad in ({"lr": -1}, {"betas": (0.9, 1.0)}, {"eps": -1e-8}):
        with pytest.raises(ValueError, match="LazyAdam"):
            LazyAdam(table.parameters(), **bad)


# ------------------------------------------------------------------ sparse embeddings
def test_use_sparse_embeddings_switches_the_layers_and_the_optimizer():
    net = make_net(FastText(N_IDS, 3))  # the learner's nets hold a module instance
    use_sparse_embeddings(net)
    assert net.optimizer is LazyAdam
    assert all(layer.sparse for layer in embedding_layers(net.module).values())
    for kept in (torch.optim.SGD, torch.optim.Adagrad):
        other = make_net(TextCNN(N_IDS, 3), optimizer=kept)
        assert use_sparse_embeddings(other).optimizer is kept
    image = make_net(MLP(4, 2))
    assert use_sparse_embeddings(image).optimizer is torch.optim.Adam  # no embedding: untouched
    amsgrad = {"optimizer__amsgrad": True}
    decay = {"optimizer__weight_decay": 0.01}
    for refused, extra in (
        (torch.optim.AdamW, {}),
        (torch.optim.Adam, amsgrad),
        (torch.optim.SGD, decay),  # torch's SGD cannot add weight decay to a sparse gradient
    ):
        net = make_net(TextCNN(N_IDS, 3), optimizer=refused, **extra)
        with pytest.raises(InvalidParameterError, match="sparse_embeddings='none'") as info:
            use_sparse_embeddings(net)
        assert "LazyAdam" in str(info.value)
        assert not any(layer.sparse for layer in embedding_layers(net.module).values())


@pytest.mark.parametrize("module", [FastText, TextCNN])
def test_the_proxy_trains_sparse_and_fuses_exactly(module, token_data):
    X, y = token_data
    learner = PruneFuseActiveLearner(text_net(module), fusion_init="zero", random_state=0)
    learner.fit(X[:120], y[:120]).teach(X[120:160], y[120:160])
    proxy = learner.proxy_
    assert proxy.optimizer is LazyAdam and isinstance(proxy.optimizer_, LazyAdam)
    assert all(layer.sparse for layer in embedding_layers(proxy.module_).values())
    # the rows of ids never seen in training keep their initial values in the proxy
    seen = np.unique(X[:160])
    unseen = np.setdiff1d(np.arange(N_IDS), seen)
    initial = learner.proxy_init_module_.embedding.weight
    trained = proxy.module_.embedding.weight
    torch.testing.assert_close(trained[unseen], initial[unseen], rtol=0, atol=0)
    assert not torch.equal(trained[seen[seen > 0]], initial[seen[seen > 0]])
    # the fused network (dense by default) computes exactly what the sparse-trained proxy does
    fused = learner.fuse(train=False)
    assert not any(layer.sparse for layer in embedding_layers(fused.module_).values())
    inputs = torch.as_tensor(X[160:])
    with torch.no_grad():
        torch.testing.assert_close(
            fused.module_.eval()(inputs), proxy.module_.eval()(inputs), atol=1e-5, rtol=0
        )


def test_sparse_embeddings_all_and_none(token_data):
    X, y = token_data
    everywhere = PruneFuseActiveLearner(text_net(), sparse_embeddings="all", random_state=0)
    fused = everywhere.fit(X[:120], y[:120]).fuse(max_epochs=2)
    assert fused.optimizer is LazyAdam
    assert all(layer.sparse for layer in embedding_layers(fused.module_).values())
    nowhere = PruneFuseActiveLearner(text_net(), sparse_embeddings="none", random_state=0)
    nowhere.fit(X[:120], y[:120])
    assert nowhere.proxy_.optimizer is torch.optim.Adam
    with pytest.raises(InvalidParameterError, match="sparse_embeddings must be one of"):
        PruneFuseActiveLearner(text_net(), sparse_embeddings="yes").fit(X[:120], y[:120])
    learner = PruneFuseActiveLearner(text_net(optimizer=torch.optim.AdamW), random_state=0)
    with pytest.raises(InvalidParameterError, match="cannot take them"):
        learner.fit(X[:120], y[:120])


# ------------------------------------------------------------------ Kim's initialisation
def test_reference_text_networks_draw_kim_embeddings():
    torch.manual_seed(0)
    for net in (TextCNN(1000, 3, embedding_dim=32), FastText(1000, 3, embedding_dim=32)):
        weight = net.embedding.weight.detach()
        assert weight.abs().max() <= 0.25 and weight[1:].std() > 0.12  # uniform(-.25,.25): .144
        assert torch.count_nonzero(weight[0]) == 0  # padding
    layer = kim_embedding_init(nn.Embedding(10, 4), bound=0.1)
    assert layer.weight.abs().max() <= 0.1


# ------------------------------------------------------------------ warm retraining
def test_warm_retraining_is_the_default_and_trains_a_third_of_the_epochs(digits_flat):
    X, _, y, _ = digits_flat
    net = make_net(MLP, max_epochs=6, module__n_features=64, module__n_classes=10)
    learner = PruneFuseActiveLearner(net, random_state=0)
    assert learner.proxy_retrain == "warm"
    learner.fit(X[:60], y[:60]).teach(X[60:80], y[60:80])
    assert [entry["epochs"] for entry in learner.history_] == [6, 2]
    learner.set_params(proxy_retrain="reinit").teach(X[80:90], y[80:90])
    assert learner.history_[-1]["epochs"] == 6
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InvalidParameterError, match="warm_epochs must be a positive"):
            learner.set_params(warm_epochs=bad).teach(X[90:95], y[90:95])
    assert len(learner.y_training) == 90  # a refused parameter loses no label


# ------------------------------------------------------------------ the fused network's stop
def test_fuse_stops_once_it_has_caught_up_with_the_proxy(digits_flat):
    X, X_test, y, y_test = digits_flat
    net = make_net(MLP, max_epochs=30, module__n_features=64, module__n_classes=10)
    learner = PruneFuseActiveLearner(net, fused_stopping="proxy-loss", random_state=0)
    learner.fit(X[:300], y[:300])
    fused = learner.fuse()
    proxy_loss = learner.proxy_.history[-1, "train_loss"]
    assert 10 <= fused.n_epochs_ < 30  # at least a third of max_epochs
    assert fused.stop_reason_.startswith("caught up with the proxy")
    assert fused.history[-1, "train_loss"] <= proxy_loss
    assert fused.score(X_test, y_test) > 0.85
    # the rule is part of the fitted classifier: a clone (GridSearchCV) stops the same way
    from sklearn.base import clone

    again = clone(fused).fit(learner.X_training, learner.y_training)
    assert again.n_epochs_ == fused.n_epochs_


def test_fuse_stops_on_a_training_loss_plateau(digits_flat):
    X, X_test, y, y_test = digits_flat
    net = make_net(MLP, max_epochs=30, lr=5e-2, module__n_features=64, module__n_classes=10)
    learner = PruneFuseActiveLearner(net, fused_stopping="loss-plateau", random_state=0)
    fused = learner.fit(X[:300], y[:300]).fuse()
    assert 10 <= fused.n_epochs_ < 30, fused.n_epochs_
    assert fused.stop_reason_.startswith("training loss plateau")
    losses = fused.history[:, "train_loss"]
    assert min(losses[-2:]) >= min(losses[:-2])  # two epochs without a new best
    assert fused.score(X_test, y_test) > 0.8


def test_auto_stops_feature_networks_at_the_proxy_loss_and_text_ones_on_a_plateau(
    digits_flat, token_data
):
    def fused_with(net, X, y, rule):
        learner = PruneFuseActiveLearner(net, fused_stopping=rule, random_state=0)
        fused = learner.fit(X, y).fuse()
        return fused, dict(fused.callbacks)["fused_stopping"]

    X, X_test, y, _ = digits_flat
    net = make_net(MLP, max_epochs=30, module__n_features=64, module__n_classes=10)
    assert PruneFuseActiveLearner(net).fused_stopping == "auto"
    auto, rule = fused_with(net, X[:300], y[:300], "auto")
    explicit, _ = fused_with(net, X[:300], y[:300], "proxy-loss")
    assert rule.target_loss is not None and auto.stop_reason_.startswith("caught up")
    assert auto.n_epochs_ == explicit.n_epochs_ < 30
    np.testing.assert_array_equal(auto.predict_proba(X_test), explicit.predict_proba(X_test))
    X, y = token_data
    auto, rule = fused_with(text_net(max_epochs=9), X[:120], y[:120], "auto")
    plateau, _ = fused_with(text_net(max_epochs=9), X[:120], y[:120], "loss-plateau")
    assert rule.target_loss is None  # no proxy-loss target for a network on token ids
    assert auto.n_epochs_ == plateau.n_epochs_
    np.testing.assert_array_equal(auto.predict_proba(X[120:]), plateau.predict_proba(X[120:]))


def test_fuse_with_max_epochs_is_unchanged_by_the_stopping_rule(digits_flat):
    X, X_test, y, _ = digits_flat
    net = make_net(MLP, max_epochs=30, module__n_features=64, module__n_classes=10)
    with_rule = PruneFuseActiveLearner(net, random_state=0).fit(X[:300], y[:300])
    without = PruneFuseActiveLearner(net, fused_stopping="none", random_state=0)
    without.fit(X[:300], y[:300])
    a, b = with_rule.fuse(max_epochs=12), without.fuse(max_epochs=12)
    assert a.n_epochs_ == b.n_epochs_ == 12 and a.stop_reason_ == "max_epochs"
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))
    assert without.fuse().n_epochs_ == 30  # "none": the paper's fixed schedule
    with pytest.raises(InvalidParameterError, match="fused_stopping must be one of"):
        without.set_params(fused_stopping="early").fuse()


def test_the_plateau_rule_and_the_minimum():
    X = np.array([[0, 0], [1, 1]] * 20, dtype=np.float32)
    y = np.array([0, 1] * 20)

    def fit(callback, lr=0.0):
        net = NeuralNetClassifier(
            MLP,
            module__n_features=2,
            module__n_classes=2,
            max_epochs=12,
            lr=lr,
            train_split=None,
            verbose=0,
            callbacks=[callback],
        )
        return net.fit(X, y)

    # lr 0: the loss never improves, so the plateau rule stops after patience + 1 epochs
    net = fit(FusedStopping(target_loss=None, patience=2))
    assert len(net.history) == 3 and stop_reason(net).startswith("training loss plateau")
    net = fit(FusedStopping(target_loss=None, patience=2, min_epochs=7))
    assert len(net.history) == 7
    # a target no loss reaches and no plateau: max_epochs
    net = fit(FusedStopping(target_loss=-1.0, patience=None))
    assert len(net.history) == 12 and stop_reason(net) == "max_epochs"


# ------------------------------------------------------------------ fusion_shrink


def _parameter_names(learner):
    return dict(learner.fuse(train=False).module_.named_parameters())


def test_fusion_shrink_scales_the_fused_start_and_one_keeps_it(token_data):
    X, y = token_data
    exact = PruneFuseActiveLearner(word_net(), fusion_shrink=1.0, random_state=0)
    exact.fit(X[:30], y[:30])
    # the default on word ids: "auto" is 0.5
    shrunk = PruneFuseActiveLearner(word_net(), random_state=0).fit(X[:30], y[:30])
    assert shrunk.fusion_shrink == "auto" and shrunk.fusion_shrink_ == 0.5
    assert exact.fusion_shrink_ == 1.0
    start = exact.fuse(train=False).module_.state_dict()
    half = shrunk.fuse(train=False).module_.state_dict()
    names = _parameter_names(shrunk)
    for name, value in start.items():
        factor = 0.5 if name in names else 1.0  # parameters only, never buffers
        torch.testing.assert_close(half[name], value * factor)
    # trained from the shrunk start (clone() starts from it too), and training moved it
    fused = shrunk.fuse()
    for parameter, expected in zip(fused.module.parameters(), names.values()):
        torch.testing.assert_close(parameter, expected)
    trained = dict(fused.module_.named_parameters())
    assert any(not torch.equal(trained[name], names[name]) for name in names)


@pytest.mark.parametrize("n_ids", [30, 1000], ids=["characters (30 ids)", "words (1,000 ids)"])
def test_auto_fusion_shrink_halves_the_start_of_every_network_on_ids(token_data, n_ids):
    X, y = token_data
    X = X % n_ids  # ids the embedding holds
    net = make_net(CharCNN, module__n_ids=n_ids, module__n_classes=3, module__n_filters=8)
    auto = PruneFuseActiveLearner(net, random_state=0).fit(X[:30], y[:30])
    exact = PruneFuseActiveLearner(clone(net), fusion_shrink=1.0, random_state=0)
    exact.fit(X[:30], y[:30])
    assert auto.fusion_shrink_ == 0.5 and exact.fusion_shrink_ == 1.0
    halved = _parameter_names(auto)
    for name, value in _parameter_names(exact).items():
        torch.testing.assert_close(halved[name], 0.5 * value)


@pytest.mark.parametrize(
    "make, data, params",
    [
        (lambda: make_net(MLP, module__n_features=64, module__n_classes=10), "digits", {}),
        (word_net, "tokens", {"fusion_init": "zero"}),
    ],
    ids=["features", "word ids, fusion_init='zero'"],
)
def test_auto_fusion_shrink_keeps_the_exact_start_on_features_and_zero_init(
    token_data, digits_flat, make, data, params
):
    X, y = token_data if data == "tokens" else (digits_flat[0], digits_flat[2])
    auto = PruneFuseActiveLearner(make(), random_state=0, **params).fit(X[:30], y[:30])
    exact = PruneFuseActiveLearner(make(), fusion_shrink=1.0, random_state=0, **params)
    exact.fit(X[:30], y[:30])
    assert auto.fusion_shrink_ == 1.0
    auto_start = _parameter_names(auto)
    for name, value in _parameter_names(exact).items():
        torch.testing.assert_close(auto_start[name], value)


@pytest.mark.parametrize("bad", [0, 0.0, 1.5, -0.5, True, "half", None, float("nan")])
def test_a_bad_fusion_shrink_is_refused(token_data, bad):
    X, y = token_data
    with pytest.raises(InvalidParameterError, match='fusion_shrink must be "auto" or a float in'):
        PruneFuseActiveLearner(word_net(), fusion_shrink=bad).fit(X[:30], y[:30])


# ------------------------------------------------------------------ fusion_layers


def _fused_start(make, data, **params):
    X, y = data
    learner = PruneFuseActiveLearner(make(), fusion_shrink=1.0, random_state=0, **params)
    learner.fit(X[:30], y[:30])
    return learner, _parameter_names(learner)


@pytest.mark.parametrize("module, hidden", [(TextCNN, "convs."), (FastText, "hidden.")])
def test_fusion_layers_outer_takes_only_the_input_and_output_layers_from_the_proxy(
    token_data, module, hidden
):
    make = lambda: word_net(module=module)  # noqa: E731
    # fusion_init="keep": every entry the proxy does not fill holds the initial full network's value
    every, every_start = _fused_start(make, token_data, fusion_init="keep", fusion_layers="all")
    outer, outer_start = _fused_start(make, token_data, fusion_init="keep", fusion_layers="outer")
    initial = dict(outer.full_init_module_.named_parameters())
    layers = {"embedding.", hidden, "output."}
    assert {name.split(".")[0] + "." for name in outer_start} == layers
    for name, value in outer_start.items():
        if name.startswith(hidden):  # the layers between: as at the start, none of the proxy
            torch.testing.assert_close(value, initial[name])
            assert not torch.equal(every_start[name], initial[name])
        else:  # the input and output layers: the proxy's, as with every layer fused
            torch.testing.assert_close(value, every_start[name])
            assert not torch.equal(value, initial[name])
    # the proxy and its choices do not depend on fusion_layers
    X, _ = token_data
    assert np.array_equal(every.query(X[30:], n=5)[0], outer.query(X[30:], n=5)[0])
    # fuse() trains from that start (clone() starts from it too), and training moves it
    fused = outer.fuse(max_epochs=2)
    for parameter, expected in zip(fused.module.parameters(), outer_start.values()):
        torch.testing.assert_close(parameter, expected)
    trained = dict(fused.module_.named_parameters())
    assert any(not torch.equal(trained[name], outer_start[name]) for name in outer_start)


@pytest.mark.parametrize("module", [TextCNN, FastText])
def test_fusion_layers_all_but_output_starts_only_the_output_layer_fresh(token_data, module):
    make = lambda: word_net(module=module)  # noqa: E731
    # fusion_init="keep": what the proxy does not fill holds the initial full network's value
    every, every_start = _fused_start(make, token_data, fusion_init="keep", fusion_layers="all")
    but, but_start = _fused_start(
        make, token_data, fusion_init="keep", fusion_layers="all-but-output"
    )
    assert but.fusion_layers_ == "all-but-output"
    initial = dict(but.full_init_module_.named_parameters())
    assert {name for name in but_start if name.startswith("output.")}  # the test sees one
    for name, value in but_start.items():
        if name.startswith("output."):  # as at the start, none of the proxy
            torch.testing.assert_close(value, initial[name])
            assert not torch.equal(every_start[name], initial[name])
        else:  # every other layer: the proxy's, as with every layer fused
            torch.testing.assert_close(value, every_start[name])


@pytest.mark.parametrize(
    "make, data, params, expected",
    [
        (word_net, "tokens", {}, "all-but-output"),
        (
            lambda: make_net(CharCNN, module__n_ids=40, module__n_classes=3),
            "tokens",
            {},
            "all-but-output",
        ),
        (lambda: word_net(module=FastText), "tokens", {}, "all"),
        (word_net, "tokens", {"fusion_init": "zero"}, "all"),
        (lambda: make_net(MLP, module__n_features=64, module__n_classes=10), "digits", {}, "all"),
    ],
    ids=["TextCNN on words", "CharCNN", "FastText", "word ids, fusion_init='zero'", "features"],
)
def test_auto_fusion_layers_starts_the_output_layer_fresh_only_for_convolutions_on_ids(
    token_data, digits_flat, make, data, params, expected
):
    X, y = token_data if data == "tokens" else (digits_flat[0], digits_flat[2])
    if data == "tokens":
        X = X % 40
    auto = PruneFuseActiveLearner(make(), random_state=0, **params).fit(X[:30], y[:30])
    assert auto.fusion_layers == "auto" and auto.fusion_layers_ == expected
    same = PruneFuseActiveLearner(make(), fusion_layers=expected, random_state=0, **params)
    same.fit(X[:30], y[:30])
    auto_start = _parameter_names(auto)
    for name, value in _parameter_names(same).items():
        torch.testing.assert_close(auto_start[name], value)
    # and it differs from the other choice in the output layer alone
    other = "all" if expected == "all-but-output" else "all-but-output"
    other_start = _parameter_names(
        PruneFuseActiveLearner(make(), fusion_layers=other, random_state=0, **params).fit(
            X[:30], y[:30]
        )
    )
    output = [name for name in auto_start if name.startswith("output.")]
    assert output and not all(torch.equal(auto_start[n], other_start[n]) for n in output)
    for name in set(auto_start) - set(output):
        torch.testing.assert_close(auto_start[name], other_start[name])


@pytest.mark.parametrize(
    "params, message",
    [
        ({"fusion_layers": "hidden"}, "fusion_layers must be one of"),
        ({"fusion_layers": None}, "fusion_layers must be one of"),
        ({"fusion_layers": "outer", "fusion_init": "zero"}, "fusion_init='reinit' or 'keep'"),
    ],
)
def test_a_bad_fusion_layers_is_refused(token_data, params, message):
    X, y = token_data
    with pytest.raises(InvalidParameterError, match=message):
        PruneFuseActiveLearner(word_net(), **params).fit(X[:30], y[:30])
