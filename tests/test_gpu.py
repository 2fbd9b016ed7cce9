"""CUDA: everything follows the estimator's ``device`` (skipped without a GPU)."""

import numpy as np
import pytest
import torch

from prunefuse_sk import PruneFuseActiveLearner
from prunefuse_sk.networks import SmallCNN

from conftest import make_net

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_fit_query_teach_fuse_on_cuda(digits):
    X, X_test, y, y_test = digits
    net = make_net(SmallCNN, module__width=16, module__hidden=32, max_epochs=5, device="cuda")
    learner = PruneFuseActiveLearner(net, fusion_init="zero", random_state=0).fit(X[:100], y[:100])
    assert next(learner.proxy_.module_.parameters()).is_cuda
    idx, X_new = learner.query(X[100:], n=20)
    learner.teach(X_new, y[100:][idx])
    exact = learner.fuse(train=False)
    np.testing.assert_allclose(
        exact.predict_proba(X_test), learner.proxy_.predict_proba(X_test), atol=1e-5
    )
    clf = learner.fuse()
    assert next(clf.module_.parameters()).is_cuda and not next(clf.module.parameters()).is_cuda
    assert clf.score(X_test, y_test) > 0.5


def test_cuda_pool_tensor_is_scored_in_place(digits):
    X, _, y, _ = digits
    net = make_net(SmallCNN, module__width=8, module__hidden=16, max_epochs=2, device="cuda")
    learner = PruneFuseActiveLearner(net, distillation_weight=0.5, random_state=0).fit(
        X[:60], y[:60]
    )
    pool = torch.as_tensor(X[60:]).cuda()
    idx, rows = learner.query(pool, n=5)
    assert rows.is_cuda and torch.equal(rows, pool[torch.as_tensor(idx, device="cuda")])
    assert learner.fuse().score(X[:100], y[:100]) > 0.2
