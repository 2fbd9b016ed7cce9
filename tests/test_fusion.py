"""Fusion: exact placement of the proxy's tensors, fill modes, clone semantics, distillation."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from torch import nn
from torch.nn import functional as F

from prunefuse_sk import FusedNeuralNetClassifier, PruneFuseActiveLearner, distillation_loss
from prunefuse_sk.distillation import DistillationTeacher
from prunefuse_sk.fusion import build_fused_module

from conftest import make_net, state_equal


def _eval_outputs(module, X):
    module.eval()
    with torch.no_grad():
        return module(torch.as_tensor(X[:200])).cpu()


def _fitted(net, X, y, **kwargs):
    params = dict(pruning_ratio=0.5, random_state=0)
    params.update(kwargs)
    return PruneFuseActiveLearner(net, **params).fit(X[:150], y[:150])


def test_zero_fill_reproduces_the_proxy_exactly(arch):
    _, net, X, y, X_test = arch
    learner = _fitted(net, X, y, fusion_init="zero")
    fused = learner.fuse(train=False)
    expected = _eval_outputs(learner.proxy_.module_, X_test)
    got = _eval_outputs(fused.module_, X_test)
    assert fused.module_.state_dict().keys() == learner.full_init_module_.state_dict().keys()
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(
        learner.predict_proba(X_test), learner.proxy_.predict_proba(X_test), atol=1e-5
    )


def _outside_mask(kept, full_shape):
    mask = torch.ones(full_shape, dtype=torch.bool)
    if len(full_shape):
        kept.scatter_(mask, torch.zeros(kept.gather(mask).shape, dtype=torch.bool))
    else:
        mask.fill_(False)
    return mask


@pytest.mark.parametrize("fusion_init", ["keep", "reinit"])
def test_keep_and_reinit_fill_the_rest_as_documented(arch, fusion_init):
    _, net, X, y, _ = arch
    learner = _fitted(net, X, y, fusion_init=fusion_init)
    fused = learner.fuse(train=False).module_.state_dict()
    initial = learner.full_init_module_.state_dict()
    trained = learner.proxy_.module_.state_dict()
    n_outside = 0
    for name, kept in learner.kept_indices_.items():
        assert torch.equal(kept.gather(fused[name].cpu()), trained[name].cpu()), name
        outside = _outside_mask(kept, fused[name].shape)
        if not outside.any() or not fused[name].is_floating_point():
            continue
        n_outside += int(outside.sum())
        if fusion_init == "keep":
            assert torch.equal(fused[name].cpu()[outside], initial[name][outside]), name
        elif name.endswith("weight") and fused[name].dim() > 1:
            # a fresh draw: neither the initial values nor zeros
            assert not torch.equal(fused[name].cpu()[outside], initial[name][outside]), name
            assert fused[name][outside].abs().sum() > 0, name
    assert n_outside > 0


def test_clone_of_the_fused_classifier_restarts_from_the_fused_weights(digits_flat):
    X, X_test, y, _ = digits_flat
    from prunefuse_sk.networks import MLP

    net = make_net(MLP, module__n_features=64, module__n_classes=10, max_epochs=4)
    learner = _fitted(net, X, y)
    untrained = learner.fuse(train=False)
    fused_start = {k: v.clone() for k, v in untrained.module_.state_dict().items()}
    trained = learner.fuse()
    assert isinstance(trained, FusedNeuralNetClassifier)
    assert state_equal(trained.module.state_dict(), fused_start)  # training did not touch `module`
    assert not state_equal(trained.module_.state_dict(), fused_start)
    again = clone(trained).initialize()
    assert state_equal(again.module_.state_dict(), fused_start)
    zero_epochs = clone(trained).set_params(max_epochs=0).fit(X[:50], y[:50])
    np.testing.assert_allclose(
        zero_epochs.predict_proba(X_test), untrained.predict_proba(X_test), atol=1e-6
    )
    refit = clone(trained).fit(X[:150], y[:150])
    assert state_equal(refit.module.state_dict(), fused_start)


def _kd_by_hand(student_logits, teacher_logits, T):
    p_teacher = F.softmax(teacher_logits / T, dim=1)
    log_p_student = F.log_softmax(student_logits / T, dim=1)
    kl = (p_teacher * (torch.log(p_teacher) - log_p_student)).sum(dim=1).mean()
    return T * T * kl


def test_distillation_loss_matches_the_formula():
    torch.manual_seed(0)
    student, teacher = torch.randn(6, 4), torch.randn(6, 4)
    assert distillation_loss(student, teacher, 3.0).item() == pytest.approx(
        _kd_by_hand(student, teacher, 3.0).item(), rel=1e-5
    )
    probs = distillation_loss(
        F.softmax(student, 1), F.softmax(teacher, 1), 3.0, outputs_are_probabilities=True
    )
    assert probs.item() == pytest.approx(_kd_by_hand(student, teacher, 3.0).item(), rel=1e-4)
    assert distillation_loss(student, student, 2.0).item() == pytest.approx(0.0, abs=1e-6)


class _SoftmaxMLP(nn.Module):
    """Returns probabilities, for skorch's default NLLLoss."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, X):
        return F.softmax(self.body(X), dim=-1)


@pytest.mark.parametrize("outputs", ["logits", "probabilities"])
def test_fused_training_loss_includes_the_distillation_term(digits_flat, outputs):
    X, X_test, y, y_test = digits_flat
    if outputs == "logits":
        from prunefuse_sk.networks import MLP

        net = make_net(MLP, module__n_features=64, module__n_classes=10, max_epochs=10, lr=1e-2)
    else:
        net = make_net(_SoftmaxMLP, criterion=nn.NLLLoss, max_epochs=10, lr=1e-2)
    alpha, T = 0.6, 3.0
    learner = _fitted(net, X, y, distillation_weight=alpha, temperature=T)
    clf = learner.fuse()
    assert clf.history[-1, "train_loss"] > 0
    Xb, yb = torch.as_tensor(X[:32]), torch.as_tensor(y[:32])
    clf.module_.eval()
    with torch.no_grad():
        y_pred = clf.module_(Xb)
        loss = clf.get_loss(y_pred, yb, X=Xb, training=False)
        teacher = learner.proxy_.module_.eval()(Xb)
    to_logits = (
        (lambda o: torch.log(o + torch.finfo(o.dtype).eps))
        if outputs == "probabilities"
        else (lambda o: o)
    )
    ce = F.cross_entropy(to_logits(y_pred), yb)
    expected = (1 - alpha) * ce + alpha * _kd_by_hand(to_logits(y_pred), to_logits(teacher), T)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-4)
    assert abs(loss.item() - ce.item()) > 1e-3  # the KD term changes the value
    assert clf.score(X_test, y_test) > 0.5


def test_build_fused_module_refuses_unknown_modes_and_missing_fresh_init():
    module = nn.Linear(4, 2)
    with pytest.raises(ValueError, match="fusion_init"):
        build_fused_module(module, module, {}, fusion_init="ones")
    with pytest.raises(ValueError, match="fresh_module"):
        build_fused_module(module, module, {}, fusion_init="reinit")


def test_teacher_pickles_without_its_device_cache():
    import pickle

    teacher = DistillationTeacher(nn.Linear(4, 2))
    teacher.outputs(torch.randn(2, 4), "cpu")
    clone_ = pickle.loads(pickle.dumps(teacher))
    assert clone_._on_device is None
    torch.testing.assert_close(
        clone_.outputs(torch.ones(1, 4), "cpu"), teacher.outputs(torch.ones(1, 4), "cpu")
    )
