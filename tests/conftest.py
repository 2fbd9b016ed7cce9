"""Shared fixtures: scikit-learn's digits and small skorch nets (fast on 2 CPU cores)."""

import os

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier

from prunefuse_sk.datasets import load_digits_images
from prunefuse_sk.networks import MLP, SmallCNN, SmallResNet


@pytest.fixture(scope="session")
def digits():
    """(X_pool, X_test, y_pool, y_test) as 1x8x8 float32 images."""
    return load_digits_images(random_state=0)


@pytest.fixture(scope="session")
def digits_flat(digits):
    """(X_pool, X_test, y_pool, y_test) with 64 flat features."""
    X_pool, X_test, y_pool, y_test = digits
    return X_pool.reshape(len(X_pool), -1), X_test.reshape(len(X_test), -1), y_pool, y_test


def make_net(module, max_epochs=3, criterion=torch.nn.CrossEntropyLoss, **kwargs):
    """A small, quiet skorch classifier."""
    params = dict(
        criterion=criterion,
        optimizer=torch.optim.Adam,
        lr=2e-3,
        max_epochs=max_epochs,
        batch_size=32,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
    )
    params.update(kwargs)
    return NeuralNetClassifier(module, **params)


ARCHITECTURES = {
    # name: (module kwargs factory, input is image?)
    "mlp": (lambda: dict(module=MLP, module__n_features=64, module__n_classes=10), False),
    "cnn_bn": (
        lambda: dict(module=SmallCNN, module__n_classes=10, module__width=8, module__hidden=32),
        True,
    ),
    "resnet": (lambda: dict(module=SmallResNet, module__n_classes=10, module__width=8), True),
}


@pytest.fixture(params=sorted(ARCHITECTURES))
def arch(request, digits):
    """(name, unfitted net, X_pool, y_pool, X_test) for each reference architecture."""
    factory, is_image = ARCHITECTURES[request.param]
    X_pool, X_test, y_pool, _ = digits
    if not is_image:
        X_pool, X_test = X_pool.reshape(len(X_pool), -1), X_test.reshape(len(X_test), -1)
    kwargs = factory()
    net = make_net(kwargs.pop("module"), **kwargs)
    return request.param, net, X_pool, y_pool, X_test


def state_equal(a, b):
    """Whether two state dicts hold identical tensors."""
    return a.keys() == b.keys() and all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a)


@pytest.fixture(scope="module")
def fitted(digits_flat):
    """A learner on an MLP (p = 0.5) fitted on 150 digits: the dask tests' starting point."""
    from prunefuse_sk import PruneFuseActiveLearner

    X_pool, _, y_pool, _ = digits_flat
    net = make_net(MLP, module__n_features=64, module__n_classes=10, max_epochs=3)
    return PruneFuseActiveLearner(net, pruning_ratio=0.5, random_state=0).fit(
        X_pool[:150], y_pool[:150]
    )


@pytest.fixture(scope="session")
def rng():
    return np.random.RandomState(0)


@pytest.fixture
def dask_env(monkeypatch):
    """Undo, after the test, what dask's nanny writes into this process's environment.

    Starting a ``LocalCluster`` sets ``OMP_NUM_THREADS=1`` (and more) in the calling process;
    left there, it would reach later tests' subprocesses.
    """
    for name in (
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MALLOC_TRIM_THRESHOLD_",
    ):
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:
            monkeypatch.setenv(name, "")
            monkeypatch.delenv(name)


#: vocabulary size of the ``token_data`` documents
TOKEN_N_IDS = 300


@pytest.fixture(scope="session")
def token_data():
    """Token-id documents whose class is set by which ids they hold (learnable in a few epochs)."""
    rng = np.random.RandomState(0)
    y = rng.randint(0, 3, 240)
    X = rng.randint(2, TOKEN_N_IDS, (240, 12))
    X[:, :4] = 2 + 10 * y[:, None] + rng.randint(0, 10, (240, 4))  # class-specific ids
    X[:, -3:] = 0  # padding
    return X.astype(np.int64), y
