"""skorch's ``AccelerateMixin`` nets (Hugging Face Accelerate) as the learner's estimator.

Runs on Accelerate's CPU backend: one process (``Accelerator(cpu=True)``) for the whole
loop, the round trips and the equality with a plain net, and two processes under
``torch.distributed.run`` (gloo, ``DistributedDataParallel`` on the CPU) for wrapped
modules and agreement between processes. GPU checks carry the ``gpu`` marker.
"""

import copy
import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone

pytest.importorskip("accelerate")

from accelerate import Accelerator  # noqa: E402
from accelerate.state import AcceleratorState, GradientState  # noqa: E402
from skorch import NeuralNetClassifier  # noqa: E402
from skorch.hf import AccelerateMixin  # noqa: E402

import prunefuse_sk  # noqa: E402
from prunefuse_sk import FusedNeuralNetClassifier, PruneFuseActiveLearner  # noqa: E402
from prunefuse_sk.architecture import count_parameters  # noqa: E402
from prunefuse_sk.networks import MLP, SmallCNN  # noqa: E402

from conftest import make_net, state_equal  # noqa: E402


class AcceleratedNet(AccelerateMixin, NeuralNetClassifier):
    """The class skorch's documentation has users write."""


@pytest.fixture(autouse=True)
def fresh_accelerator_state():
    """Accelerate keeps one state per process; reset it around each test, as accelerate's own tests
    do."""
    AcceleratorState._reset_state(True)
    GradientState._reset_state()
    yield
    AcceleratorState._reset_state(True)
    GradientState._reset_state()


def accelerated_net(module, accelerator=None, **kwargs):
    """``make_net``'s settings on an AcceleratedNet with ``device=None``.

    ``callbacks__print_log__sink=print``: with its default sink (``accelerator.print``)
    skorch's AccelerateMixin prints every epoch even with ``verbose=0``.
    """
    params = dict(
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=2e-3,
        max_epochs=3,
        batch_size=32,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
        callbacks__print_log__sink=print,
    )
    params.update(kwargs)
    return AcceleratedNet(
        module, accelerator=accelerator or Accelerator(cpu=True), device=None, **params
    )


def _mlp_kwargs():
    return dict(module__n_features=64, module__n_classes=10, module__hidden=(64, 32))


def _cnn_kwargs():
    return dict(module__n_classes=10, module__width=8, module__hidden=32)


def _eval_outputs(module, X):
    module.eval()
    with torch.no_grad():
        return module(torch.as_tensor(X[:200])).cpu()


def _registered(accelerator):
    """What the accelerator keeps a reference to (accelerate's private lists of prepared
    objects)."""
    return [len(getattr(accelerator, name)) for name in ("_models", "_optimizers", "_dataloaders")]


def test_active_learning_loop_with_an_accelerated_net(digits_flat):
    X, X_test, y, y_test = digits_flat
    net = accelerated_net(MLP, lr=1e-2, max_epochs=10, **_mlp_kwargs())
    learner = PruneFuseActiveLearner(
        net, pruning_ratio=0.5, proxy_params={"max_epochs": 3}, random_state=0
    )
    learner.fit(X[:100], y[:100])

    proxy = learner.proxy_
    assert type(proxy) is AcceleratedNet and proxy.device is None
    assert (
        proxy.accelerator is net.accelerator
    )  # accelerate's deepcopy shares it; clone() deep-copies
    assert count_parameters(proxy.module_) == learner.n_params_proxy_ < learner.n_params_full_
    assert learner.n_params_proxy_ < 0.6 * learner.n_params_full_

    pool = X[100:]
    idx, rows = learner.query(pool, n=20)
    assert len(set(idx.tolist())) == 20 and np.array_equal(rows, pool[idx])
    learner.teach(rows, y[100:][idx])
    idx_k, rows_k = learner.set_params(query_strategy="kcenter").query(pool, n=10)
    assert len(set(idx_k.tolist())) == 10
    learner.teach(rows_k, y[100:][idx_k])
    # the accelerator forgets each proxy once trained: rounds do not pile up old networks
    assert _registered(net.accelerator) == [0, 0, 0]

    clf = learner.fuse()
    assert isinstance(clf, AcceleratedNet) and isinstance(clf, FusedNeuralNetClassifier)
    assert type(clf).__name__ == "FusedAcceleratedNet" and clf.device is None
    assert clf.accelerator is net.accelerator
    assert count_parameters(clf.module_) == learner.n_params_full_
    y_pred = learner.predict(X_test)
    assert y_pred.shape == y_test.shape and set(y_pred) <= set(learner.classes_)
    np.testing.assert_array_equal(
        y_pred, clf.predict(X_test)
    )  # skorch's path: accelerate's data loader
    assert learner.score(X_test, y_test) == pytest.approx(clf.score(X_test, y_test))
    assert learner.score(X_test, y_test) > 0.6


@pytest.mark.parametrize("proxy_retrain", ["reinit", "warm"])
def test_same_selection_as_the_plain_net(digits, proxy_retrain):
    """One CPU process with full precision: Accelerate changes nothing, down to the last bit."""
    X, X_test, y, _ = digits
    results = []
    for net in (
        make_net(SmallCNN, max_epochs=2, **_cnn_kwargs()),
        accelerated_net(SmallCNN, max_epochs=2, **_cnn_kwargs()),
    ):
        learner = PruneFuseActiveLearner(
            net, pruning_ratio=0.5, proxy_retrain=proxy_retrain, random_state=0
        )
        learner.fit(X[:100], y[:100])
        first = learner.query(X[100:], n=10)[0]
        learner.teach(X[100:][first], y[100:][first])
        second = learner.set_params(query_strategy="kcenter").query(X[100:], n=10)[0]
        learner.teach(X[100:][second], y[100:][second])
        if isinstance(
            net, AcceleratedNet
        ):  # neither new nor continued proxies stay with the accelerator
            assert _registered(net.accelerator) == [0, 0, 0]
        proxy_state = learner.proxy_.module_.state_dict()
        results.append((first, second, proxy_state, learner.fuse().predict_proba(X_test)))
    (plain_1, plain_2, plain_state, plain_proba), (acc_1, acc_2, acc_state, acc_proba) = results
    np.testing.assert_array_equal(acc_1, plain_1)
    np.testing.assert_array_equal(acc_2, plain_2)
    assert state_equal(acc_state, plain_state)
    np.testing.assert_array_equal(acc_proba, plain_proba)


def test_zero_fusion_reproduces_the_proxy(digits):
    X, X_test, y, _ = digits
    net = accelerated_net(SmallCNN, **_cnn_kwargs())
    learner = PruneFuseActiveLearner(net, pruning_ratio=0.5, fusion_init="zero", random_state=0)
    learner.fit(X[:150], y[:150])
    fused = learner.fuse(train=False)
    assert isinstance(fused, AcceleratedNet)
    assert fused.module_.state_dict().keys() == learner.full_init_module_.state_dict().keys()
    torch.testing.assert_close(
        _eval_outputs(fused.module_, X_test),
        _eval_outputs(learner.proxy_.module_, X_test),
        atol=1e-5,
        rtol=0,
    )
    # skorch's predict_proba: accelerate's data loader and gather_for_metrics, on both networks
    np.testing.assert_allclose(
        fused.predict_proba(X_test), learner.proxy_.predict_proba(X_test), atol=1e-5
    )
    # initialize() marked it prepared; clone() must not carry that flag over
    again = clone(fused).initialize()
    assert type(again) is type(fused) and state_equal(
        again.module_.state_dict(), fused.module_.state_dict()
    )


def _fitted_and_fused(X, y):
    net = accelerated_net(MLP, **_mlp_kwargs())
    learner = PruneFuseActiveLearner(net, pruning_ratio=0.5, random_state=0).fit(X[:100], y[:100])
    learner.teach(X[100:120], y[100:120])
    return net, learner, learner.fuse()


def test_pickle_checkpoint_and_clone_round_trips(digits_flat, tmp_path):
    X, X_test, y, _ = digits_flat
    net, learner, clf = _fitted_and_fused(X, y)
    proba, proxy_proba = clf.predict_proba(X_test), learner.proxy_.predict_proba(X_test)

    # pickle: skorch would unpickle device=None as "cpu" (a DeviceWarning, an error in this suite),
    # and AccelerateMixin would then refuse to initialize
    restored = pickle.loads(pickle.dumps(learner))
    assert restored.estimator.device is None and type(restored.estimator) is AcceleratedNet
    assert restored.proxy_.device is None and type(restored.fused_) is type(clf)
    np.testing.assert_allclose(restored.fused_.predict_proba(X_test), proba, atol=1e-6)
    np.testing.assert_allclose(restored.proxy_.predict_proba(X_test), proxy_proba, atol=1e-6)
    restored.teach(
        X[120:140], y[120:140]
    )  # the restored estimator still initializes: device stayed None
    assert restored.fuse(train=False).device is None

    for fused_copy in (pickle.loads(pickle.dumps(clf)), copy.deepcopy(clf)):
        assert type(fused_copy) is type(clf) and fused_copy.device is None
        np.testing.assert_allclose(fused_copy.predict_proba(X_test), proba, atol=1e-6)

    loaded = PruneFuseActiveLearner.load(learner.save(tmp_path / "learner.pfsk"), estimator=net)
    np.testing.assert_allclose(loaded.fused_.predict_proba(X_test), proba, atol=1e-6)
    np.testing.assert_allclose(loaded.proxy_.predict_proba(X_test), proxy_proba, atol=1e-6)

    fresh = clone(learner)
    assert not hasattr(fresh, "proxy_") and fresh.estimator.accelerator is net.accelerator
    fresh.fit(X[:100], y[:100]).teach(X[100:120], y[100:120])
    assert state_equal(fresh.proxy_.module_.state_dict(), learner.proxy_.module_.state_dict())
    # the fused classifier's clone restarts from the fused weights and retrains to the same network
    refit = clone(clf)
    assert type(refit) is type(clf) and state_equal(
        refit.module.state_dict(), clf.module.state_dict()
    )
    refit.fit(learner.X_training, learner.y_training)
    np.testing.assert_allclose(refit.predict_proba(X_test), proba, atol=1e-6)


def test_round_trips_query_and_predict_alike(digits_flat, tmp_path):
    X, X_test, y, _ = digits_flat
    net, learner, _ = _fitted_and_fused(X, y)
    proba = learner.predict_proba(X_test)
    for other in (
        pickle.loads(pickle.dumps(learner)),
        PruneFuseActiveLearner.load(learner.save(tmp_path / "learner.pfsk"), estimator=net),
    ):
        np.testing.assert_allclose(other.predict_proba(X_test), proba, atol=1e-6)
        np.testing.assert_array_equal(other.query(X[120:], n=5)[0], learner.query(X[120:], n=5)[0])
    first = PruneFuseActiveLearner(net, pruning_ratio=0.5, random_state=0).fit(X[:100], y[:100])
    np.testing.assert_array_equal(
        clone(first).fit(X[:100], y[:100]).query(X[100:], n=10)[0], first.query(X[100:], n=10)[0]
    )


def test_estimator_is_never_prepared_or_modified(digits_flat):
    """Initial weights are drawn without accelerator.prepare, and the user's net stays unfitted."""
    X, _, y, _ = digits_flat
    net = accelerated_net(MLP, **_mlp_kwargs())
    params = net.get_params(deep=False)
    learner = PruneFuseActiveLearner(net, pruning_ratio=0.5, random_state=0).fit(X[:60], y[:60])
    assert not hasattr(net, "module_") and net.get_params(deep=False).keys() == params.keys()
    assert _registered(net.accelerator) == [0, 0, 0]
    assert learner.full_init_module_.__class__ is MLP


# ------------------------------------------------------------------ two processes
_DISTRIBUTED_SCRIPT = r'''
import functools, json, sys
import numpy as np, torch
from accelerate import Accelerator
from skorch import NeuralNetClassifier
from skorch.hf import AccelerateMixin
from prunefuse_sk import PruneFuseActiveLearner
from prunefuse_sk.datasets import load_digits_images
from prunefuse_sk.exceptions import InvalidParameterError
from prunefuse_sk.networks import MLP


class AcceleratedNet(AccelerateMixin, NeuralNetClassifier):
    pass


class CrossEntropy:
    """A criterion that is no nn.Module: accelerate's MULTI_CPU prepare() wraps every module in
    DistributedDataParallel, which refuses one without parameters (MULTI_GPU skips those)."""

    def __call__(self, y_pred, y_true):
        return torch.nn.functional.cross_entropy(y_pred, y_true)


X, X_test, y, y_test = load_digits_images(random_state=0)
X, X_test = X.reshape(len(X), -1), X_test.reshape(len(X_test), -1)
accelerator = Accelerator(cpu=True)
result = {
    "distributed_type": str(accelerator.distributed_type),
    "num_processes": accelerator.num_processes,
}
settings = {
    # modules stay wrapped in DistributedDataParallel; fusion, distillation and T_sync read
    # through it
    "wrapped": dict(unwrap=False, learner=dict(distillation_weight=0.5, sync_every=2)),
    # unwrapped after each training; warm retraining must prepare them again to stay in sync
    # (warm_epochs as max_epochs: a proxy trained 1 epoch a round would set the fused network's
    # stopping rule a target too easy for 3 epochs to learn digits)
    "warm": dict(unwrap=True, learner=dict(proxy_retrain="warm", warm_epochs=3)),
}
for name, setting in settings.items():
    net = AcceleratedNet(
        MLP, module__n_features=64, module__n_classes=10, module__hidden=(32, 16),
        accelerator=accelerator, device=None, criterion=CrossEntropy,
        predict_nonlinearity=functools.partial(torch.softmax, dim=-1),
        optimizer=torch.optim.Adam, lr=1e-2, max_epochs=3, batch_size=16, train_split=None,
        iterator_train__shuffle=True, verbose=0, callbacks__print_log__sink=print,
        unwrap_after_train=setting["unwrap"],
    )
    learner = PruneFuseActiveLearner(net, pruning_ratio=0.5, random_state=0, **setting["learner"])
    learner.fit(X[:80], y[:80])
    proxy_module = type(learner.proxy_.module_).__name__
    queries = []
    for strategy in ("least_confidence", "kcenter"):
        idx = learner.set_params(query_strategy=strategy).query(X[80:], n=8)[0]
        learner.teach(X[80:][idx], y[80:][idx])
        queries.append(idx.tolist())
    clf = learner.fuse()
    result[name] = {
        "proxy_module": proxy_module,
        "fused_class": type(clf).__name__,
        "queries": queries,
        "proxy_weights": float(
            sum(v.double().sum() for v in learner.proxy_.module_.state_dict().values())
        ),
        "fused_proba": np.round(clf.predict_proba(X_test[:40]).astype(float), 4).tolist(),
        "score": learner.score(X_test, y_test),
        "stop": [clf.n_epochs_, clf.stop_reason_],
    }
try:  # without a seed, each process would make its own random choices
    PruneFuseActiveLearner(net).fit(X[:80], y[:80])
    result["unseeded"] = "accepted"
except InvalidParameterError:
    result["unseeded"] = "refused"
with open(f"{sys.argv[1]}/rank{accelerator.process_index}.json", "w") as f:
    json.dump(result, f)
'''


def _gloo_available():
    return torch.distributed.is_available() and torch.distributed.is_gloo_available()


@pytest.mark.skipif(not _gloo_available(), reason="needs torch.distributed with the gloo backend")
def test_two_processes_with_distributed_data_parallel_agree(tmp_path):
    script = tmp_path / "run_learner.py"
    script.write_text(textwrap.dedent(_DISTRIBUTED_SCRIPT))
    package_root = str(Path(prunefuse_sk.__file__).resolve().parents[1])
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")]),
    )
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(script),
        str(tmp_path),
    ]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert ranks[0]["num_processes"] == 2 and ranks[0]["distributed_type"].endswith("MULTI_CPU")
    assert ranks[0]["wrapped"]["proxy_module"] == "DistributedDataParallel"
    assert ranks[0]["warm"]["proxy_module"] == "MLP"
    assert ranks[0]["unseeded"] == ranks[1]["unseeded"] == "refused"
    for name in ("wrapped", "warm"):
        assert ranks[0][name]["fused_class"] == "FusedAcceleratedNet"
        # every process trains, queries and fuses the same networks (DDP averages gradients)
        assert ranks[0][name] == ranks[1][name], name
        assert ranks[0][name]["score"] > 0.3, (
            name,
            ranks[0][name]["score"],
            ranks[0][name]["stop"],
        )


# ------------------------------------------------------------------ GPU
def _gpu_cnn_kwargs():
    return dict(module__n_classes=10, module__width=16, module__hidden=32)  # as in test_gpu.py


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_accelerated_net_on_cuda(digits):
    X, X_test, y, y_test = digits
    net = accelerated_net(SmallCNN, accelerator=Accelerator(), max_epochs=5, **_gpu_cnn_kwargs())
    learner = PruneFuseActiveLearner(net, fusion_init="zero", random_state=0).fit(X[:100], y[:100])
    assert next(learner.proxy_.module_.parameters()).is_cuda and learner.proxy_.device is None
    idx, rows = learner.query(X[100:], n=20)
    learner.teach(rows, y[100:][idx])
    learner.set_params(query_strategy="kcenter").query(torch.as_tensor(X[100:]).cuda(), n=5)
    exact = learner.fuse(train=False)
    np.testing.assert_allclose(
        exact.predict_proba(X_test), learner.proxy_.predict_proba(X_test), atol=1e-5
    )
    clf = learner.fuse()
    assert next(clf.module_.parameters()).is_cuda and not next(clf.module.parameters()).is_cuda
    assert clf.score(X_test, y_test) > 0.5


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_mixed_precision_on_cuda(digits):
    X, X_test, y, y_test = digits
    accelerator = Accelerator(mixed_precision="bf16" if torch.cuda.is_bf16_supported() else "fp16")
    net = accelerated_net(
        SmallCNN,
        accelerator=accelerator,
        max_epochs=5,
        unwrap_after_train=False,
        **_gpu_cnn_kwargs(),
    )
    learner = PruneFuseActiveLearner(net, distillation_weight=0.5, sync_every=1, random_state=0)
    learner.fit(X[:100], y[:100])
    idx, rows = learner.query(X[100:], n=20)
    learner.teach(rows, y[100:][idx])
    clf = learner.fuse()
    assert isinstance(clf, AcceleratedNet) and clf.score(X_test, y_test) > 0.3
