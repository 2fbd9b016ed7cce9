"""Memory format: the rule's choice, the conversion, and every network path with channels_last
weights."""

import copy
import io
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone

from prunefuse_sk import InvalidParameterError, PruneFuseActiveLearner
from prunefuse_sk.accelerate_support import net_device
from prunefuse_sk.fused_classifier import fused_net
from prunefuse_sk.fusion import build_fused_module, fused_start_module
from prunefuse_sk.memory_format import (
    CHANNELS_LAST_MIN_WIDTH,
    MEMORY_FORMATS,
    apply_memory_format,
    check_memory_format,
    module_memory_format,
    resolve_memory_format,
)
from prunefuse_sk.net_snapshots import load_weights, module_state
from prunefuse_sk.networks import MLP, SmallCNN, SmallResNet
from prunefuse_sk.pruning import prune_at_init
from prunefuse_sk.skorch_nets import proxy_net
from prunefuse_sk.sync import sync_full_network

from conftest import make_net, state_equal

CL = torch.channels_last
CONTIGUOUS = torch.contiguous_format
needs_mkldnn = pytest.mark.skipif(
    not torch.backends.mkldnn.is_available(), reason="auto needs oneDNN on the CPU"
)


def _cnn(width=CHANNELS_LAST_MIN_WIDTH * 2, seed=0):
    torch.manual_seed(seed)
    return SmallCNN(n_classes=10, image_size=8, width=width, hidden=32)


def _outputs(module, X):
    module.eval()
    with torch.no_grad():
        return module(torch.as_tensor(X)).cpu()


def _is_channels_last(module):
    weights = [p for p in module.parameters() if p.dim() == 4]
    return (
        bool(weights)
        and all(p.is_contiguous(memory_format=CL) for p in weights)
        and not all(p.is_contiguous() for p in weights)
    )


# ------------------------------------------------------------------ the rule
@needs_mkldnn
@pytest.mark.parametrize(
    "make, device, expected",
    [
        (
            lambda: _cnn(CHANNELS_LAST_MIN_WIDTH),
            "cpu",
            CL,
        ),  # narrowest conv exactly at the threshold
        (
            lambda: _cnn(CHANNELS_LAST_MIN_WIDTH - 1),
            "cpu",
            CONTIGUOUS,
        ),  # narrowest conv just below it
        (lambda: SmallResNet(width=CHANNELS_LAST_MIN_WIDTH), "cpu", CL),
        (lambda: SmallResNet(width=CHANNELS_LAST_MIN_WIDTH // 2), "cpu", CONTIGUOUS),
        (lambda: MLP(64, 10), "cpu", CONTIGUOUS),  # no 4-D weights
        (
            lambda: torch.nn.Sequential(torch.nn.Conv1d(1, 64, 3), torch.nn.Flatten()),
            "cpu",
            CONTIGUOUS,
        ),
        (lambda: _cnn(), "cuda", CONTIGUOUS),  # not measured on CUDA: never chosen there by "auto"
        (lambda: _cnn(), "meta", CONTIGUOUS),
        (lambda: _cnn(), None, CL),  # the device of the module's parameters
    ],
    ids=[
        "cnn-at-threshold",
        "cnn-below",
        "resnet-at-threshold",
        "resnet-narrow",
        "mlp",
        "conv1d",
        "cuda",
        "meta",
        "device-from-module",
    ],
)
def test_auto_picks_channels_last_only_for_wide_enough_2d_conv_nets_on_the_cpu(
    make, device, expected
):
    assert resolve_memory_format(make(), device) == expected
    assert resolve_memory_format(make(), device, "auto") == expected


def test_the_rule_looks_at_the_narrowest_convolution_of_a_pruned_proxy(digits):
    X = torch.as_tensor(digits[0][:3])
    full = _cnn(CHANNELS_LAST_MIN_WIDTH * 2)
    # p = 0.5 halves the first conv to exactly the threshold; p = 0.7 goes below it
    half = prune_at_init(full, X, pruning_ratio=0.5, random_state=0).module
    narrow = prune_at_init(full, X, pruning_ratio=0.7, random_state=0).module
    assert (
        min(layer.out_channels for layer in half.modules() if isinstance(layer, torch.nn.Conv2d))
        == 16
    )
    expected_half = CL if torch.backends.mkldnn.is_available() else CONTIGUOUS
    assert resolve_memory_format(half, "cpu") == expected_half
    assert resolve_memory_format(narrow, "cpu") == CONTIGUOUS


@pytest.mark.parametrize("name, fmt", [("channels_last", CL), ("contiguous", CONTIGUOUS)])
def test_a_named_format_is_used_whatever_the_network_and_device(name, fmt):
    for module in (_cnn(4), MLP(4, 2), SmallResNet(width=32)):
        for device in ("cpu", "cuda", None):
            assert resolve_memory_format(module, device, name) == fmt
            assert (
                resolve_memory_format(module, device, fmt) == fmt
            )  # torch's objects name them too


@pytest.mark.parametrize(
    "bad", ["channel_last", "CHANNELS_LAST", "", None, 1, torch.preserve_format, ["auto"]]
)
def test_an_invalid_memory_format_is_refused_with_the_accepted_values(bad):
    for call in (
        lambda: check_memory_format(bad),
        lambda: resolve_memory_format(_cnn(), "cpu", bad),
        lambda: apply_memory_format(_cnn(), bad),
    ):
        with pytest.raises(InvalidParameterError, match="memory_format must be one of") as info:
            call()
        for name in MEMORY_FORMATS:
            assert repr(name) in str(info.value)
        assert repr(bad) in str(info.value)


def test_the_hooks_refuse_an_invalid_memory_format_before_touching_the_module():
    template = make_net(SmallCNN, module__image_size=8, module__width=32)
    module = _cnn()
    before = module_state(module)
    with pytest.raises(InvalidParameterError, match="memory_format"):
        proxy_net(template, module, memory_format="nhwc")
    with pytest.raises(InvalidParameterError, match="memory_format"):
        fused_net(template, module, classes=range(10), memory_format="nhwc")
    with pytest.raises(InvalidParameterError, match="memory_format"):
        fused_start_module(template, module, module, {}, fusion_init="keep", memory_format="nhwc")
    assert _is_channels_last(module) is False
    assert state_equal(module_state(module), before)


# ------------------------------------------------------------------ the conversion
def test_apply_memory_format_converts_the_4d_weights_in_place_and_back():
    module = SmallResNet(width=16)
    params_before = {name: id(p) for name, p in module.named_parameters()}
    values_before = module_state(module)
    assert apply_memory_format(module, "channels_last") is module
    assert _is_channels_last(module)
    assert module_memory_format(module) == CL
    for name, param in module.named_parameters():
        assert id(param) == params_before[name], "the Parameter objects must stay the same"
        if param.dim() == 4:
            assert param.is_contiguous(memory_format=CL), name
            # one input channel (the stem) is both layouts at once; every other conv weight changed
            # strides
            assert param.shape[1] == 1 or not param.is_contiguous(), name
        else:
            assert param.is_contiguous(), name
    assert state_equal(module_state(module), values_before)  # same values, other strides
    apply_memory_format(module, "contiguous")
    assert all(p.is_contiguous() for p in module.parameters())
    assert module_memory_format(module) == CONTIGUOUS
    assert state_equal(module_state(module), values_before)


def test_apply_memory_format_leaves_other_ranks_alone():
    module = torch.nn.Sequential(
        torch.nn.Conv3d(2, 4, 3), torch.nn.Conv1d(2, 4, 3), torch.nn.Linear(3, 2)
    )
    apply_memory_format(
        module, "channels_last"
    )  # module.to(memory_format=...) would raise on the 5-D weight
    assert all(p.is_contiguous() for p in module.parameters())
    assert module_memory_format(module) is None


def test_a_channels_last_network_gives_the_contiguous_networks_outputs(digits):
    X = digits[0][:64]
    module = _cnn()
    expected = _outputs(module, X)
    got = _outputs(apply_memory_format(copy.deepcopy(module), "channels_last"), X)
    torch.testing.assert_close(
        got, expected, atol=1e-5, rtol=1e-5
    )  # other kernels: equal up to rounding


# ------------------------------------------------------------------ state and copies
def test_state_dicts_round_trip_between_formats(tmp_path):
    source = apply_memory_format(_cnn(seed=1), "channels_last")
    saved = module_state(source)
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    for fmt in ("channels_last", "contiguous"):
        target = apply_memory_format(_cnn(seed=2), fmt)
        load_weights(target, loaded, "test network")
        assert state_equal(module_state(target), saved)
        assert module_memory_format(target) == (CL if fmt == "channels_last" else CONTIGUOUS), (
            "the target keeps its format"
        )
    contiguous_source = module_state(_cnn(seed=1))
    target = apply_memory_format(_cnn(seed=2), "channels_last")
    load_weights(target, contiguous_source, "test network")
    assert state_equal(module_state(target), contiguous_source) and _is_channels_last(target)


def test_copies_and_pickles_keep_the_format_and_the_values(digits):
    X = digits[0][:32]
    module = apply_memory_format(_cnn(), "channels_last")
    expected = _outputs(module, X)
    for copied in (copy.deepcopy(module), pickle.loads(pickle.dumps(module))):
        assert _is_channels_last(copied)
        assert torch.equal(_outputs(copied, X), expected)


# ------------------------------------------------------------------ pruning
def test_pruning_a_channels_last_network_keeps_the_same_channels_and_values(digits):
    X = torch.as_tensor(digits[0][:3])
    full = _cnn()
    reference = prune_at_init(full, X, pruning_ratio=0.5, random_state=0)
    pruned = prune_at_init(
        apply_memory_format(copy.deepcopy(full), "channels_last"),
        X,
        pruning_ratio=0.5,
        random_state=0,
    )
    assert reference.kept_indices.keys() == pruned.kept_indices.keys()
    for name, kept in reference.kept_indices.items():
        other = pruned.kept_indices[name]
        assert kept.full_shape == other.full_shape
        for a, b in zip(kept.indices, other.indices):
            assert (a is None and b is None) or torch.equal(a, b), name
    assert state_equal(module_state(pruned.module), module_state(reference.module))


# ------------------------------------------------------------------ the learner's path
def _template(**kwargs):
    return make_net(
        SmallCNN,
        module__n_classes=10,
        module__image_size=8,
        module__width=32,
        module__hidden=32,
        max_epochs=2,
        **kwargs,
    )


@pytest.mark.parametrize("memory_format", ["channels_last", "contiguous", "auto"])
def test_prune_train_fuse_works_with_each_format_and_zero_fusion_reproduces_the_proxy(
    digits, memory_format
):
    X, X_test, y, _ = digits
    X, y, X_test = X[:150], y[:150], X_test[:200]
    template = _template()
    full = _cnn()
    pruned = prune_at_init(full, torch.as_tensor(X[:3]), pruning_ratio=0.5, random_state=0)
    expected_fmt = resolve_memory_format(pruned.module, "cpu", memory_format)

    proxy = proxy_net(
        template, copy.deepcopy(pruned.module), {"max_epochs": 3}, memory_format=memory_format
    )
    assert module_memory_format(proxy.module) == expected_fmt
    torch.manual_seed(0)
    proxy.fit(X, y)
    assert module_memory_format(proxy.module_) == expected_fmt, "training must keep the format"

    start = fused_start_module(
        template,
        full,
        proxy.module_,
        pruned.kept_indices,
        fusion_init="zero",
        memory_format=memory_format,
    )
    assert module_memory_format(start) == resolve_memory_format(full, "cpu", memory_format)
    fused = fused_net(
        template,
        start,
        classes=np.arange(10),
        teacher_module=proxy.module_,
        memory_format=memory_format,
    ).initialize()
    assert module_memory_format(fused.module_) == module_memory_format(start)
    # fusion wrote every trained tensor into its kept positions
    fused_state, proxy_state = fused.module_.state_dict(), proxy.module_.state_dict()
    for name, kept in pruned.kept_indices.items():
        assert torch.equal(kept.gather(fused_state[name]), proxy_state[name]), name
    # the zero-fusion invariant: the fused network computes what the proxy computes
    torch.testing.assert_close(
        _outputs(fused.module_, X_test), _outputs(proxy.module_, X_test), atol=1e-5, rtol=0
    )
    np.testing.assert_allclose(fused.predict_proba(X_test), proxy.predict_proba(X_test), atol=1e-5)

    # the fused network trains in its format, and the trained network prunes into the next proxy
    # (T_sync)
    fused = fused_net(
        template,
        fused_start_module(
            template,
            full,
            proxy.module_,
            pruned.kept_indices,
            fusion_init="zero",
            memory_format=memory_format,
        ),
        classes=np.arange(10),
        memory_format=memory_format,
    )
    trained, synced, stats = sync_full_network(
        fused,
        X,
        y,
        seed=0,
        example_inputs=torch.as_tensor(X[:3]),
        pruning_ratio=0.5,
        random_state=0,
    )
    assert module_memory_format(trained) == module_memory_format(start) and stats["epochs"] == 2
    reference = prune_at_init(
        apply_memory_format(copy.deepcopy(trained), "contiguous"),
        torch.as_tensor(X[:3]),
        pruning_ratio=0.5,
        random_state=0,
    )
    assert state_equal(module_state(synced.module), module_state(reference.module))
    following = proxy_net(template, copy.deepcopy(synced.module), memory_format=memory_format)
    assert module_memory_format(following.module) == resolve_memory_format(
        synced.module, "cpu", memory_format
    )
    following.fit(X, y)


def test_training_is_reproducible_in_channels_last(digits):
    X, _, y, _ = digits
    results = []
    for _ in range(2):
        net = proxy_net(_template(), _cnn(), memory_format="channels_last")
        torch.manual_seed(0)
        net.fit(X[:100], y[:100])
        results.append(module_state(net.module_))
    assert state_equal(*results)


def test_build_fused_module_writes_into_a_channels_last_full_network(digits):
    X = torch.as_tensor(digits[0][:3])
    full = apply_memory_format(_cnn(), "channels_last")
    pruned = prune_at_init(full, X, pruning_ratio=0.5, random_state=0)
    proxy = apply_memory_format(copy.deepcopy(pruned.module), "channels_last")
    with torch.no_grad():
        for param in proxy.parameters():
            param.add_(1.0)  # "trained" values, distinguishable from the initial ones
    fused = build_fused_module(full, proxy, pruned.kept_indices, fusion_init="keep")
    fused_state, proxy_state = fused.state_dict(), proxy.state_dict()
    for name, kept in pruned.kept_indices.items():
        assert torch.equal(kept.gather(fused_state[name]), proxy_state[name]), name


@needs_mkldnn
def test_the_learner_trains_a_wide_proxy_channels_last_and_saves_and_pickles_it(digits, tmp_path):
    X, X_test, y, _ = digits
    X_test = X_test[:100]
    estimator = _template()
    learner = PruneFuseActiveLearner(
        estimator, pruning_ratio=0.5, fusion_init="zero", random_state=0
    )
    learner.fit(X[:120], y[:120])
    assert net_device(learner.proxy_).type == "cpu"
    assert (
        module_memory_format(learner.proxy_.module_) == CL
    )  # proxy convs 16/32 wide: the rule says channels_last
    idx, _ = learner.query(X[120:400], n=10)
    learner.teach(X[120:400][idx], y[120:400][idx])
    expected = learner.predict_proba(X_test)
    fused = learner.fuse(train=False)
    assert module_memory_format(fused.module_) == CL
    np.testing.assert_allclose(fused.predict_proba(X_test), expected, atol=1e-5)

    path = tmp_path / "session.pfsk"
    learner.save(path)
    for restored in (
        PruneFuseActiveLearner.load(path, estimator=clone(estimator)),
        pickle.loads(pickle.dumps(learner)),
        copy.deepcopy(learner),
    ):
        assert module_memory_format(restored.proxy_.module_) == CL
        np.testing.assert_array_equal(restored.predict_proba(X_test), learner.predict_proba(X_test))
        assert state_equal(
            module_state(restored.proxy_.module_), module_state(learner.proxy_.module_)
        )
