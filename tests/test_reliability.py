"""Atomic teach under injected faults, retry, provenance and determinism."""

import warnings

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from prunefuse_sk import PruneFuseActiveLearner, StaleProxyWarning
from prunefuse_sk.labelled import LabelledSet
from prunefuse_sk.networks import MLP

from conftest import make_net, state_equal

_FAULT = {"hook": None, "error": None}  # module-level: proxies are copied, the switch must not be


class InjectFault(Callback):
    """Raises the armed error once, from the armed skorch hook."""

    def _maybe_fail(self, hook):
        if _FAULT["hook"] == hook:
            error, _FAULT["hook"] = _FAULT["error"], None
            raise error

    def on_train_begin(self, net, **kwargs):
        self._maybe_fail("on_train_begin")

    def on_batch_end(self, net, **kwargs):
        self._maybe_fail("on_batch_end")

    def on_epoch_end(self, net, **kwargs):
        self._maybe_fail("on_epoch_end")


FAULTS = {
    "callback-error": ("on_epoch_end", lambda: RuntimeError("callback exploded")),
    "cuda-oom": (
        "on_batch_end",
        lambda: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    ),
    # skorch swallows KeyboardInterrupt inside its epoch loop (it is how EarlyStopping stops);
    # raised from on_train_begin it reaches the caller, as a Ctrl-C between epochs would
    "ctrl-c": ("on_train_begin", lambda: KeyboardInterrupt()),
}


def _learner(**params):
    net = make_net(
        MLP, module__n_features=64, module__n_classes=10, module__hidden=(32,), max_epochs=3
    )
    params.setdefault("random_state", 0)
    return PruneFuseActiveLearner(
        net, proxy_params={"callbacks": [("fault", InjectFault())]}, **params
    )


@pytest.fixture(autouse=True)
def _disarm():
    yield
    _FAULT.update(hook=None, error=None)


@pytest.mark.parametrize("proxy_retrain", ["reinit", "warm"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_failed_retraining_keeps_the_labels_and_refit_recovers_the_same_proxy(
    digits_flat, fault, proxy_retrain
):
    X, _, y, _ = digits_flat
    reference = _learner(proxy_retrain=proxy_retrain).fit(X[:40], y[:40])
    reference.teach(X[40:60], y[40:60])

    learner = _learner(proxy_retrain=proxy_retrain).fit(X[:40], y[:40])
    proxy_before = learner.proxy_
    weights_before = {k: v.clone() for k, v in proxy_before.module_.state_dict().items()}
    hook, make_error = FAULTS[fault]
    _FAULT.update(hook=hook, error=make_error())
    with pytest.raises(type(_FAULT["error"])) as info:
        learner.teach(X[40:60], y[40:60])

    # every answer is kept, nothing is half-appended, and the learner says the proxy is stale
    assert len(learner.X_training) == len(learner.y_training) == len(learner.labelling_round_) == 60
    np.testing.assert_array_equal(learner.y_training, y[:60])
    assert learner.proxy_stale_ is True
    assert any("refit()" in note for note in getattr(info.value, "__notes__", []))
    # the previous proxy is untouched (warm training runs on a copy)
    assert learner.proxy_ is proxy_before and state_equal(
        proxy_before.module_.state_dict(), weights_before
    )
    with pytest.warns(StaleProxyWarning, match="trained on 40 of the 60 labels"):
        learner.query(X[60:200], n=2)

    learner.refit()
    assert learner.proxy_stale_ is False
    # the retry reuses the round's seed: the proxy equals the one of the run that never failed
    assert state_equal(learner.proxy_.module_.state_dict(), reference.proxy_.module_.state_dict())
    assert [h["n_labelled"] for h in learner.history_] == [40, 60]
    with warnings.catch_warnings():
        warnings.simplefilter("error", StaleProxyWarning)
        learner.query(X[60:200], n=2)


def test_teach_without_data_retries_and_more_labels_can_come_before_the_retry(digits_flat):
    X, _, y, _ = digits_flat
    learner = _learner().fit(X[:40], y[:40])
    _FAULT.update(hook="on_epoch_end", error=RuntimeError("boom"))
    with pytest.raises(RuntimeError, match="boom"):
        learner.teach(X[40:50], y[40:50], only_new=True)
    # more answers arrive while the proxy is stale: all are kept, the retraining covers both batches
    learner.teach(X[50:60], y[50:60], only_new=True)
    assert learner.proxy_stale_ is False and len(learner.X_training) == 60
    np.testing.assert_array_equal(learner.labelling_round_, [0] * 40 + [1] * 10 + [2] * 10)
    # only_new continued the proxy on the 20 rows it had not seen: 3 epochs at fit + 3 now
    assert len(learner.proxy_.history) == 6

    _FAULT.update(hook="on_epoch_end", error=RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        learner.teach(X[60:70], y[60:70])
    with pytest.warns(StaleProxyWarning):
        learner.fuse(train=False)
    learner.teach()  # no data: retry
    assert learner.proxy_stale_ is False and learner.history_[-1]["n_labelled"] == 70


def test_an_interrupt_while_appending_leaves_the_labelled_set_as_it_was(digits_flat, monkeypatch):
    X, _, y, _ = digits_flat
    learner = _learner().fit(X[:40], y[:40])

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(LabelledSet, "extend", interrupted)
    with pytest.raises(KeyboardInterrupt):
        learner.teach(X[40:60], y[40:60])
    assert (
        len(learner.X_training) == len(learner.y_training) == 40 and learner.proxy_stale_ is False
    )


def test_bad_labels_are_refused_before_anything_changes(digits_flat):
    X, _, y, _ = digits_flat
    learner = _learner().fit(X[:40], y[:40])
    with pytest.raises(ValueError):
        learner.teach(X[40:45], np.array([1, 2, 3, 4, 12]))
    assert len(learner.X_training) == 40 and learner.history_[-1]["n_labelled"] == 40


def test_query_scores_and_rounds_record_where_each_label_came_from(digits_flat):
    X, _, y, _ = digits_flat
    learner = _learner().fit(X[:40], y[:40])
    idx, rows, scores = learner.query(X[40:400], n=6, return_scores=True)
    learner.teach(rows, y[40:400][idx])
    learner.teach(X[500:503], y[500:503])  # labelled outside a query: no score
    idx2, rows2, scores2 = learner.query(X[600:900], n=4, return_scores=True)
    order = np.array([2, 0, 3, 1])  # taught in another order than queried
    learner.teach(rows2[order], y[600:900][idx2][order])

    np.testing.assert_array_equal(learner.labelling_round_, [0] * 40 + [1] * 6 + [2] * 3 + [3] * 4)
    np.testing.assert_allclose(learner.query_scores_[40:46], scores)
    assert (
        np.isnan(learner.query_scores_[:40]).all() and np.isnan(learner.query_scores_[46:49]).all()
    )
    np.testing.assert_allclose(learner.query_scores_[49:], scores2[order])
    assert [h["round"] for h in learner.history_] == [0, 1, 2, 3]


@pytest.mark.parametrize("proxy_retrain", ["reinit", "warm"])
def test_the_same_random_state_gives_identical_queries_and_fused_weights(
    digits_flat, proxy_retrain
):
    X, X_test, y, _ = digits_flat

    def run(seed):
        learner = PruneFuseActiveLearner(
            make_net(
                MLP, module__n_features=64, module__n_classes=10, module__hidden=(32,), max_epochs=2
            ),
            proxy_retrain=proxy_retrain,
            query_strategy="random" if proxy_retrain == "warm" else "margin",
            random_state=seed,
        ).fit(X[:40], y[:40])
        queries = []
        for _ in range(3):
            pool = X[40:700]
            idx, rows = learner.query(pool, n=8, max_candidates=400)
            learner.teach(rows, y[40:700][idx])
            queries.append(idx)
        return np.array(queries), learner.fuse().module_.state_dict()

    queries_a, fused_a = run(11)
    queries_b, fused_b = run(11)
    queries_c, fused_c = run(12)
    np.testing.assert_array_equal(queries_a, queries_b)
    assert state_equal(fused_a, fused_b)
    assert not np.array_equal(queries_a, queries_c) and not state_equal(fused_a, fused_c)
