"""Pruning at initialization: sizes, exact kept positions, protection of outputs, errors."""

import copy
import warnings

import pytest
import torch
from torch import nn

from prunefuse_sk import (
    HardCodedShapeError,
    PruningError,
    UnprunedLayerWarning,
    find_output_layers,
    prune_at_init,
)
from prunefuse_sk.networks import MLP, SmallCNN, SmallResNet

from conftest import state_equal

# (module factory, example input, a hidden layer whose weight is pruned on both sides)
NETWORKS = {
    "mlp": (lambda: MLP(64, 10, hidden=(128, 64)), lambda: torch.randn(3, 64), "hidden.3.weight"),
    "cnn_bn": (
        lambda: SmallCNN(n_classes=10, width=16, hidden=64),
        lambda: torch.randn(3, 1, 8, 8),
        "features.3.weight",
    ),
    "resnet": (
        lambda: SmallResNet(n_classes=10, width=20),
        lambda: torch.randn(3, 1, 8, 8),
        "blocks.0.conv1.weight",
    ),
}


def _pruned(name, ratio, **kwargs):
    make_module, make_input, hidden = NETWORKS[name]
    torch.manual_seed(0)
    module, example = make_module(), make_input()
    return (
        module,
        example,
        hidden,
        prune_at_init(module, example, pruning_ratio=ratio, random_state=0, **kwargs),
    )


@pytest.mark.parametrize("ratio", [0.5, 0.7])
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_hidden_layers_shrink_quadratically_and_outputs_keep_width(name, ratio):
    module, example, hidden, pruned = _pruned(name, ratio)
    full_hidden = dict(module.named_parameters())[hidden]
    proxy_hidden = dict(pruned.module.named_parameters())[hidden]
    # both channel dimensions keep floor(width * (1 - p)): about (1 - p)^2 of the weights
    kept_out, kept_in = (int(width * (1 - ratio)) for width in full_hidden.shape[:2])
    assert tuple(proxy_hidden.shape[:2]) == (kept_out, kept_in)
    assert proxy_hidden.numel() / full_hidden.numel() == pytest.approx((1 - ratio) ** 2, abs=0.03)
    with torch.no_grad():
        assert pruned.module.eval()(example).shape == module.eval()(example).shape == (3, 10)
    n_full = sum(p.numel() for p in module.parameters())
    n_proxy = sum(p.numel() for p in pruned.module.parameters())
    assert n_proxy < n_full * ((1 - ratio) ** 2 + 0.15)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_kept_indices_point_at_the_exact_initial_values(name):
    module, _, _, pruned = _pruned(name, 0.5)
    full_state = module.state_dict()
    proxy_state = pruned.module.state_dict()
    assert set(pruned.kept_indices) >= set(proxy_state)
    for key, value in proxy_state.items():
        assert torch.equal(pruned.kept_indices[key].gather(full_state[key]), value), key


def test_input_module_is_not_mutated():
    module = SmallCNN(width=8, hidden=16)
    before = copy.deepcopy(module.state_dict())
    prune_at_init(module, torch.randn(3, 1, 8, 8), pruning_ratio=0.5)
    assert state_equal(module.state_dict(), before)


def test_l2_importance_keeps_the_largest_norm_neurons():
    torch.manual_seed(1)
    module = MLP(20, 3, hidden=(10,))
    pruned = prune_at_init(module, torch.randn(3, 20), pruning_ratio=0.5, importance="l2")
    norms = module.hidden[1].weight.detach().norm(dim=1)
    kept = pruned.kept_indices["hidden.1.weight"].indices[0]
    assert sorted(kept.tolist()) == sorted(torch.topk(norms, 5).indices.tolist())
    l1_kept = prune_at_init(
        module, torch.randn(3, 20), pruning_ratio=0.5, importance="l1"
    ).kept_indices
    l1_norms = module.hidden[1].weight.detach().abs().sum(dim=1)
    assert sorted(l1_kept["hidden.1.weight"].indices[0].tolist()) == sorted(
        torch.topk(l1_norms, 5).indices.tolist()
    )


def test_random_importance_is_reproducible_and_seed_dependent():
    module = MLP(20, 3, hidden=(64,))
    x = torch.randn(3, 20)

    def kept(seed):
        return (
            prune_at_init(module, x, importance="random", random_state=seed)
            .kept_indices["hidden.1.weight"]
            .indices[0]
        )

    assert torch.equal(kept(3), kept(3))
    assert not torch.equal(kept(3), kept(4))


class _BatchNormHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 3)
        self.bn = nn.BatchNorm1d(3)

    def forward(self, x):
        return self.bn(self.fc2(torch.relu(self.fc1(x))))


def test_output_layers_are_detected_through_a_final_batchnorm():
    assert find_output_layers(MLP(8, 3), torch.randn(3, 8)) == ("output",)
    assert set(find_output_layers(_BatchNormHead(), torch.randn(3, 8))) == {"bn", "fc2"}
    pruned = prune_at_init(_BatchNormHead(), torch.randn(3, 8), pruning_ratio=0.5)
    assert pruned.module.fc2.out_features == 3 and pruned.module.fc1.out_features == 8


def test_ignored_layers_keep_their_width_and_unknown_names_fail():
    pruned = prune_at_init(
        MLP(8, 3, hidden=(16, 16)), torch.randn(3, 8), ignored_layers=["hidden.1"]
    )
    assert pruned.module.hidden[1].out_features == 16
    assert pruned.module.hidden[3].out_features == 8
    with pytest.raises(ValueError, match="does not have.*hidden.1"):
        prune_at_init(MLP(8, 3), torch.randn(3, 8), ignored_layers=["nope"])


class _HardCodedView(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3)
        self.fc = nn.Linear(8 * 6 * 6, 4)

    def forward(self, x):
        return self.fc(self.conv(x).view(-1, 8 * 6 * 6))


def test_hard_coded_view_fails_with_the_fix_in_the_message():
    with pytest.raises(HardCodedShapeError, match=r"flatten\(1\)"):
        prune_at_init(_HardCodedView(), torch.randn(3, 1, 8, 8), pruning_ratio=0.5)


def test_a_ratio_that_empties_a_layer_is_refused():
    with pytest.raises(PruningError, match="0 channels"):
        prune_at_init(MLP(8, 3, hidden=(5, 4)), torch.randn(3, 8), pruning_ratio=0.9)


@pytest.mark.parametrize("ratio", [0, 1, 1.5, -0.1, "half"])
def test_invalid_ratios_are_refused(ratio):
    with pytest.raises(ValueError, match="pruning_ratio"):
        prune_at_init(MLP(8, 3), torch.randn(3, 8), pruning_ratio=ratio)


class _LSTMClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 16)
        self.lstm = nn.LSTM(16, 16, batch_first=True)
        self.fc = nn.Linear(16, 3)

    def forward(self, x):
        return self.fc(self.lstm(self.emb(x))[0][:, -1])


class _GRUClassifier(_LSTMClassifier):
    def __init__(self):
        super().__init__()
        self.lstm = nn.GRU(16, 16, batch_first=True)


@pytest.mark.parametrize("module_class, kind", [(_LSTMClassifier, "LSTM"), (_GRUClassifier, "GRU")])
def test_recurrent_layers_are_kept_whole_with_a_warning_naming_them(module_class, kind):
    torch.manual_seed(0)
    module, x = module_class(), torch.randint(0, 20, (3, 5))
    with pytest.warns(UserWarning) as record:
        pruned = prune_at_init(module, x)
    messages = [(w.category, str(w.message)) for w in record]
    assert any(c is UnprunedLayerWarning and f"'lstm' ({kind})" in m for c, m in messages), messages
    assert any("removed nothing" in m for _, m in messages), messages
    # the recurrent layer and the embedding feeding it keep their full width; nothing else is
    # prunable here
    assert pruned.module.state_dict().keys() == module.state_dict().keys()
    for key, value in pruned.module.state_dict().items():
        assert value.shape == module.state_dict()[key].shape, key
    # naming it in ignored_layers says it is intended: no warning about it
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnprunedLayerWarning)
        with pytest.warns(UserWarning, match="removed nothing"):
            prune_at_init(module, x, ignored_layers=["lstm"])


class _LSTMWithHidden(_LSTMClassifier):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(16, 16)

    def forward(self, x):
        return self.fc(torch.relu(self.hidden(self.lstm(self.emb(x))[0][:, -1])))


def test_layers_after_a_recurrent_layer_are_still_pruned():
    torch.manual_seed(0)
    module, x = _LSTMWithHidden(), torch.randint(0, 20, (3, 5))
    with pytest.warns(UnprunedLayerWarning):
        pruned = prune_at_init(module, x, pruning_ratio=0.5)
    assert set(pruned.pruned_layers) == {"hidden", "fc"}
    assert pruned.module.hidden.weight.shape == (
        8,
        16,
    ) and pruned.module.lstm.weight_ih_l0.shape == (64, 16)
    for key, value in pruned.module.state_dict().items():
        assert torch.equal(pruned.kept_indices[key].gather(module.state_dict()[key]), value), key


class _GroupedConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 12, 3, padding=1)
        self.c2 = nn.Conv2d(12, 12, 3, padding=1, groups=3)
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        return self.fc(self.c2(torch.relu(self.c1(x))).mean((2, 3)))


def test_grouped_convolutions_keep_exact_positions():
    torch.manual_seed(0)
    module, x = _GroupedConv(), torch.randn(3, 1, 8, 8)
    pruned = prune_at_init(module, x, pruning_ratio=0.5)
    assert pruned.module.c2.weight.shape == (6, 2, 3, 3)
    for key, value in pruned.module.state_dict().items():
        assert torch.equal(pruned.kept_indices[key].gather(module.state_dict()[key]), value), key
