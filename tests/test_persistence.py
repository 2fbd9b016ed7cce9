"""Checkpoints: save -> new process -> load -> continue, safe loading, atomic writes, errors."""

import json
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from prunefuse_sk import (
    CheckpointError,
    CheckpointMismatchError,
    CheckpointVersionError,
    PruneFuseActiveLearner,
    UnsafeCheckpointError,
)
from prunefuse_sk.networks import MLP, SmallCNN
from prunefuse_sk.strategies import least_confidence_sampling

from conftest import make_net, state_equal

# The same data, nets and loop run here and in a fresh interpreter (the resumed half).
SETUP = textwrap.dedent(
    """
    import numpy as np
    import torch
    from prunefuse_sk.datasets import load_digits_images
    from prunefuse_sk.networks import SmallCNN
    from skorch import NeuralNetClassifier

    X_all, X_test, y_all, y_test = load_digits_images(random_state=0)
    X_test = X_test[:200]

    def make_estimator():
        return NeuralNetClassifier(
            SmallCNN, module__n_classes=10, module__width=8, module__hidden=32,
            criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=2e-3,
            max_epochs=2, batch_size=32, train_split=None, iterator_train__shuffle=True, verbose=0,
        )

    def run_rounds(learner, labelled, n_rounds, n=8):
        # oracle loop; the pool is everything not yet labelled, so indices shift as it shrinks
        queries = []
        for _ in range(n_rounds):
            pool = np.setdiff1d(np.arange(600), labelled)
            idx, rows = learner.query(X_all[pool], n=n)
            learner.teach(rows, y_all[pool][idx])
            labelled = np.concatenate([labelled, pool[idx]])
            queries.append(pool[idx])
        return labelled, queries
    """
)
namespace = {}
exec(SETUP, namespace)  # noqa: S102 - our own constant code, shared with the subprocess


def _learner(**params):
    params.setdefault("random_state", 0)
    return PruneFuseActiveLearner(namespace["make_estimator"](), **params)


@pytest.mark.parametrize(
    "params",
    [
        dict(proxy_retrain="reinit", query_strategy="least_confidence"),
        dict(proxy_retrain="warm", query_strategy="random"),
        dict(proxy_retrain="reinit", query_strategy="kcenter", distillation_weight=0.5),
    ],
    ids=["reinit-least_confidence", "warm-random", "reinit-kcenter-distill"],
)
def test_resume_in_a_new_process_continues_the_uninterrupted_run(tmp_path, params):
    X_all, y_all, X_test = namespace["X_all"], namespace["y_all"], namespace["X_test"]
    run_rounds = namespace["run_rounds"]
    seed = np.arange(40)

    learner = _learner(**params).fit(X_all[seed], y_all[seed])
    labelled, _ = run_rounds(learner, seed, 2)
    checkpoint = tmp_path / "session.pfsk"
    learner.save(checkpoint)
    np.save(tmp_path / "labelled.npy", labelled)
    # the uninterrupted run goes on in this process
    labelled, expected_queries = run_rounds(learner, labelled, 3)
    expected_proba = learner.fuse().predict_proba(X_test)

    script = SETUP + textwrap.dedent(
        f"""
        from prunefuse_sk import PruneFuseActiveLearner
        # bit-identical floats need the same thread count
        torch.set_num_threads({torch.get_num_threads()})
        learner = PruneFuseActiveLearner.load({str(checkpoint)!r}, estimator=make_estimator())
        labelled = np.load({str(tmp_path / "labelled.npy")!r})
        labelled, queries = run_rounds(learner, labelled, 3)
        np.savez({str(tmp_path / "resumed.npz")!r}, queries=np.array(queries),
                 proba=learner.fuse().predict_proba(X_test))
        """
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])),
    }
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=300)
    resumed = np.load(tmp_path / "resumed.npz")
    np.testing.assert_array_equal(resumed["queries"], np.array(expected_queries))
    np.testing.assert_array_equal(resumed["proba"], expected_proba)


def test_a_checkpoint_restores_the_labelled_set_provenance_and_networks(tmp_path, digits_flat):
    X, X_test, y, _ = digits_flat
    learner = PruneFuseActiveLearner(
        make_net(MLP, module__n_features=64, module__n_classes=10), random_state=3
    )
    learner.fit(X[:50], y[:50])
    idx, rows = learner.query(X[50:400], n=12)
    learner.teach(rows, y[50:400][idx])
    learner.fuse()
    path = learner.save(tmp_path / "a.pfsk")
    loaded = PruneFuseActiveLearner.load(path, estimator=learner.estimator)

    np.testing.assert_array_equal(loaded.X_training, learner.X_training)
    np.testing.assert_array_equal(loaded.y_training, learner.y_training)
    np.testing.assert_array_equal(loaded.labelling_round_, [0] * 50 + [1] * 12)
    np.testing.assert_array_equal(loaded.query_scores_, learner.query_scores_)
    assert (
        np.isfinite(loaded.query_scores_[50:]).all() and np.isnan(loaded.query_scores_[:50]).all()
    )
    np.testing.assert_array_equal(loaded.classes_, learner.classes_)
    assert loaded.history_ == learner.history_
    assert loaded.get_params(deep=False).keys() == learner.get_params(deep=False).keys()
    assert loaded.random_state == 3 and loaded.proxy_stale_ is False
    assert state_equal(
        loaded.full_init_module_.state_dict(), learner.full_init_module_.state_dict()
    )
    assert state_equal(loaded.proxy_.module_.state_dict(), learner.proxy_.module_.state_dict())
    for name, kept in learner.kept_indices_.items():
        assert all(
            (a is None and b is None) or torch.equal(a, b)
            for a, b in zip(kept.indices, loaded.kept_indices_[name].indices)
        )
    # the fused classifier comes back too, and clone() still restarts from the fused init
    assert state_equal(loaded.fused_.module_.state_dict(), learner.fused_.module_.state_dict())
    assert state_equal(loaded.fused_.module.state_dict(), learner.fused_.module.state_dict())
    np.testing.assert_array_equal(loaded.predict(X_test), learner.predict(X_test))


def test_the_default_estimator_and_a_random_state_instance_round_trip(tmp_path, digits_flat):
    X, X_test, y, _ = digits_flat
    learner = PruneFuseActiveLearner(
        proxy_params={"max_epochs": 2}, random_state=np.random.RandomState(5)
    ).fit(X[:40], y[:40])
    learner.save(tmp_path / "default.pfsk")
    loaded = PruneFuseActiveLearner.load(tmp_path / "default.pfsk")
    assert loaded.estimator is None and loaded.proxy_params == {"max_epochs": 2}
    np.testing.assert_array_equal(loaded.query(X[40:300], n=5)[0], learner.query(X[40:300], n=5)[0])
    # the restored stream continues where the saved one was
    assert loaded._rng.randint(1000) == learner._rng.randint(1000)


def test_parameters_that_are_not_json_must_be_passed_again(tmp_path, digits_flat):
    X, _, y, _ = digits_flat
    net = make_net(MLP, module__n_features=64, module__n_classes=10)
    learner = PruneFuseActiveLearner(
        net, query_strategy=least_confidence_sampling, random_state=0
    ).fit(X[:40], y[:40])
    learner.save(tmp_path / "custom.pfsk")
    with pytest.raises(CheckpointError, match="pass query_strategy=.*least_confidence_sampling"):
        PruneFuseActiveLearner.load(tmp_path / "custom.pfsk", estimator=net)
    loaded = PruneFuseActiveLearner.load(
        tmp_path / "custom.pfsk", estimator=net, query_strategy=least_confidence_sampling
    )
    np.testing.assert_array_equal(loaded.query(X[40:200], n=3)[0], learner.query(X[40:200], n=3)[0])


def test_load_refuses_another_estimator(tmp_path, digits):
    X, _, y, _ = digits
    net = make_net(SmallCNN, module__width=8, module__hidden=16, max_epochs=1)
    PruneFuseActiveLearner(net, random_state=0).fit(X[:40], y[:40]).save(tmp_path / "cnn.pfsk")
    with pytest.raises(CheckpointMismatchError, match="custom estimator"):
        PruneFuseActiveLearner.load(tmp_path / "cnn.pfsk")
    wider = make_net(SmallCNN, module__width=16, module__hidden=16, max_epochs=1)
    with pytest.raises(CheckpointMismatchError, match="same unfitted estimator"):
        PruneFuseActiveLearner.load(tmp_path / "cnn.pfsk", estimator=wider)
    with pytest.raises(CheckpointMismatchError, match="does not reproduce the saved proxy"):
        PruneFuseActiveLearner.load(tmp_path / "cnn.pfsk", estimator=net, pruning_ratio=0.7)
    with pytest.raises(TypeError, match="unknown parameters"):
        PruneFuseActiveLearner.load(tmp_path / "cnn.pfsk", estimator=net, pruning=0.7)


class _Payload:
    """Pickles to a call that creates a marker file: proof of code execution if it ever runs."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _replace_member(path, member, data):
    with zipfile.ZipFile(path) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    contents[member] = data
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in contents.items():
            archive.writestr(name, value)


@pytest.fixture
def checkpoint(tmp_path, digits_flat):
    X, _, y, _ = digits_flat
    learner = PruneFuseActiveLearner(proxy_params={"max_epochs": 1}, random_state=0).fit(
        X[:30], y[:30]
    )
    return learner.save(tmp_path / "c.pfsk")


@pytest.mark.parametrize("member", ["tensors/proxy.pt", "tensors/full_init.pt"])
def test_a_pickle_payload_in_place_of_weights_is_refused_without_running_it(
    tmp_path, checkpoint, member
):
    marker = tmp_path / "pwned"
    _replace_member(checkpoint, member, pickle.dumps({"weight": _Payload(str(marker))}))
    with pytest.raises(UnsafeCheckpointError, match="nothing in it was executed"):
        PruneFuseActiveLearner.load(checkpoint)
    assert not marker.exists()
    # the same payload through torch's own pickle-based format is refused as well
    import io

    buffer = io.BytesIO()
    torch.save({"weight": _Payload(str(marker))}, buffer)
    _replace_member(checkpoint, member, buffer.getvalue())
    with pytest.raises(UnsafeCheckpointError):
        PruneFuseActiveLearner.load(checkpoint)
    assert not marker.exists()


def test_a_pickled_object_array_is_refused_without_running_it(tmp_path, checkpoint):
    import io

    marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    np.save(buffer, np.array([_Payload(str(marker))], dtype=object), allow_pickle=True)
    _replace_member(checkpoint, "arrays/y.npy", buffer.getvalue())
    with pytest.raises(UnsafeCheckpointError, match="pickled Python objects"):
        PruneFuseActiveLearner.load(checkpoint)
    assert not marker.exists()


def test_unknown_versions_and_broken_files_are_named(tmp_path, checkpoint):
    with zipfile.ZipFile(checkpoint) as archive:
        meta = json.loads(archive.read("checkpoint.json"))
    _replace_member(
        checkpoint, "checkpoint.json", json.dumps({**meta, "format_version": 99}).encode()
    )
    with pytest.raises(CheckpointVersionError, match="format version 99.*reads version 1"):
        PruneFuseActiveLearner.load(checkpoint)

    with pytest.raises(CheckpointError, match="No checkpoint file"):
        PruneFuseActiveLearner.load(tmp_path / "missing.pfsk")
    junk = tmp_path / "junk.pfsk"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="truncated, corrupt"):
        PruneFuseActiveLearner.load(junk)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(CheckpointError, match="not a prunefuse_sk checkpoint"):
        PruneFuseActiveLearner.load(other)


def test_a_truncated_checkpoint_is_reported(tmp_path, checkpoint):
    data = Path(checkpoint).read_bytes()
    cut = tmp_path / "cut.pfsk"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        PruneFuseActiveLearner.load(cut)


@pytest.mark.parametrize(
    "error", [OSError("disk full"), KeyboardInterrupt()], ids=["disk-full", "ctrl-c"]
)
def test_a_crash_during_save_leaves_the_previous_checkpoint_loadable(
    tmp_path, digits_flat, monkeypatch, error
):
    X, _, y, _ = digits_flat
    learner = PruneFuseActiveLearner(proxy_params={"max_epochs": 1}, random_state=0).fit(
        X[:30], y[:30]
    )
    path = learner.save(tmp_path / "s.pfsk")
    before = Path(path).read_bytes()
    learner.teach(X[30:40], y[30:40])

    calls = []
    real_save = torch.save

    def failing_save(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # in the middle of writing the new file
            raise error
        return real_save(*args, **kwargs)

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(type(error)):
        learner.save(path)
    monkeypatch.undo()
    assert Path(path).read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["s.pfsk"]  # no temporary file left behind
    assert len(PruneFuseActiveLearner.load(path).X_training) == 30


def test_save_before_fit_raises_not_fitted(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        PruneFuseActiveLearner().save(tmp_path / "x.pfsk")


def test_a_learner_that_synced_resumes_from_its_synced_networks(tmp_path, digits):
    X, X_test, y, _ = digits
    net = make_net(SmallCNN, module__width=8, module__hidden=16, max_epochs=1)
    learner = PruneFuseActiveLearner(net, sync_every=1, fusion_init="keep", random_state=0).fit(
        X[:40], y[:40]
    )
    learner.teach(X[40:60], y[40:60])  # round 1: sync
    assert "sync" in learner.history_[-1]
    learner.save(tmp_path / "synced.pfsk")
    loaded = PruneFuseActiveLearner.load(tmp_path / "synced.pfsk", estimator=net)
    # the trained full network is the base now; pruning it again gives the same proxy positions
    assert state_equal(
        loaded.full_init_module_.state_dict(), learner.full_init_module_.state_dict()
    )
    assert state_equal(
        loaded.proxy_init_module_.state_dict(), learner.proxy_init_module_.state_dict()
    )
    learner.teach(X[60:70], y[60:70])  # round 2 syncs again, in both
    loaded.teach(X[60:70], y[60:70])
    np.testing.assert_array_equal(
        loaded.fuse().predict_proba(X_test), learner.fuse().predict_proba(X_test)
    )
