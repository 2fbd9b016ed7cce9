"""A dask cluster that loses a worker or its scheduler: what survives, what raises, in bounded time.

Tests on a ``LocalCluster`` of 3 worker processes (one thread each). Each fault test kills the
worker that matters (the one holding the scattered data, while it runs a task), and checks in the
scheduler's event log that the kill happened mid-task, so that it fails if the recovery code is
removed: without ``broadcast=True`` the proxy, the simulation's data or a grid search's arrays
would be on that one worker only and lost with it.
"""

import os
import pickle
import signal
import sys
import threading
import time

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from test_distributed import noisy_digits_block
from test_simulation import assert_same_but_timings, grid, torch_threads

from prunefuse_sk import PruneFuseActiveLearner
from prunefuse_sk.exceptions import (
    CellFailedError,
    NonFiniteInputError,
)
from prunefuse_sk.networks import MLP

from conftest import make_net

distributed = pytest.importorskip("dask.distributed")
da = pytest.importorskip("dask.array")
joblib = pytest.importorskip("joblib")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # dask's "large graph" notes


def lazy_pool(n_blocks, rows=10_000, nan_block=None):
    """``n_blocks`` blocks of noisy digits made on the workers; one block with a NaN if asked."""

    def block(block_info=None):
        index = block_info[None]["chunk-location"][0]
        values = noisy_digits_block(index, rows)
        if index == nan_block:
            values[rows // 2, 3] = np.nan
        return values

    return da.map_blocks(
        block,
        chunks=((rows,) * n_blocks, (64,)),
        dtype=np.float32,
        meta=np.empty((0, 0), np.float32),
    )


@pytest.fixture(scope="module")
def cluster():
    """A client of 3 worker processes; killed workers are restarted by their nannies."""
    cloudpickle = pytest.importorskip("cloudpickle")
    here = sys.modules[__name__]
    cloudpickle.register_pickle_by_value(here)  # workers cannot import this test module
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MALLOC_TRIM_THRESHOLD_")
    env = {name: os.environ.get(name) for name in names}
    try:
        with (
            distributed.LocalCluster(
                n_workers=3,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",
            ) as local,
            distributed.Client(local) as client,
        ):
            yield client
    finally:
        cloudpickle.unregister_pickle_by_value(here)
        for name, value in env.items():  # the nanny sets them in this process: undo it
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def client(cluster):
    """The module's client, with its 3 workers up and no task of an earlier test left.

    A killed worker's nanny restarts it (once beside 2 CPU burners and CI that took > 120 s);
    once, on a quiet machine, it never came back within 300 s, so after 150 s a fresh worker
    takes its place (the cluster's spec grows by one; a late restart only adds a fourth).
    """
    try:
        cluster.wait_for_workers(3, timeout=150)
    except TimeoutError:  # distributed's WorkerStartTimeoutError is one
        cluster.cluster.scale(len(cluster.cluster.worker_spec) + 1)
        cluster.wait_for_workers(3, timeout=150)
    return cluster


def copied(learner, **params):
    return pickle.loads(pickle.dumps(learner)).set_params(**params)


def _processing_when_removed(address, dask_scheduler=None):
    """The tasks ``address`` was processing when the scheduler removed it (None: not yet)."""
    for _, event in dask_scheduler.get_events("all"):
        if event.get("action") == "remove-worker" and event.get("worker") == address:
            return sorted(str(key) for key in event["processing-tasks"])
    return None


class Killer:
    """Kill, with SIGKILL, the worker that holds ``holding`` data while it runs ``running`` tasks.

    Started as a thread: it waits until a worker holding a key whose name contains ``holding``
    has been processing one task whose name contains ``running`` for ``delay`` seconds (so a
    task that ends at once is not the one killed), then kills that worker's process.
    """

    def __init__(self, client, holding, running, delay=0.0):
        self.client, self.holding, self.running, self.delay = client, holding, running, delay
        self.pids = client.run(os.getpid)
        self.killed = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _target(self, seen):
        held, now = self.client.has_what(), time.monotonic()
        for address, tasks in self.client.processing().items():
            if not any(self.holding in key for key in map(str, held.get(address, ()))):
                continue
            for key in map(str, tasks):
                if self.running in key and now - seen.setdefault((address, key), now) >= self.delay:
                    return address
        return None

    def _run(self):
        deadline, seen = time.monotonic() + 120, {}
        while time.monotonic() < deadline:
            address = self._target(seen)
            if address is not None:
                os.kill(self.pids[address], signal.SIGKILL)
                self.killed = address
                return
            time.sleep(0.02)

    def join(self):
        """Wait for the thread; return what the killed worker was running when it was removed."""
        self.thread.join(130)
        assert self.killed is not None, "no worker ran the tasks to kill"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            lost = self.client.run_on_scheduler(_processing_when_removed, self.killed)
            if lost is not None:
                return set(lost)
            time.sleep(0.1)
        raise AssertionError(f"the scheduler never removed the killed worker {self.killed}")


# ------------------------------------------------------------------------------ query


def test_sigkill_mid_query_on_a_million_rows_gives_the_in_memory_answer(fitted, client):
    n_blocks = 100  # 1,000,000 rows x 64 features, made on the workers
    pool = lazy_pool(n_blocks)
    learner = copied(fitted, query_strategy="least_confidence")
    killer = Killer(client, holding="NeuralNetClassifier", running="")
    indices, rows = learner.query(pool, 40)
    lost = killer.join()
    assert lost, "the killed worker ran none of the query's tasks"
    in_memory = np.concatenate([noisy_digits_block(i) for i in range(n_blocks)])
    expected = copied(fitted, query_strategy="least_confidence").query(in_memory, 40)[0]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_array_equal(rows, in_memory[indices])


def test_a_nan_block_on_the_cluster_raises_the_named_error_and_changes_nothing(fitted, client):
    learner, untouched = copied(fitted), copied(fitted)
    with pytest.raises(NonFiniteInputError, match="NaN or infinity"):
        learner.query(lazy_pool(6, rows=2_000, nan_block=4), 5)
    X_pool = noisy_digits_block(0, 2_000)
    np.testing.assert_array_equal(learner.query(X_pool, 5)[0], untouched.query(X_pool, 5)[0])
    np.testing.assert_array_equal(learner.X_training, untouched.X_training)


def test_twenty_queries_leave_no_more_keys_on_the_cluster_than_one(fitted, client):
    def n_keys():
        return client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))

    def settled(limit=None):  # released futures leave the scheduler asynchronously
        last, deadline = n_keys(), time.monotonic() + 10
        while time.monotonic() < deadline and (limit is None or last > limit):
            time.sleep(0.2)
            now = n_keys()
            if limit is None and now == last:  # no limit: until the count stops changing
                break
            last = now
        return last

    learner = copied(fitted)
    pool = lazy_pool(8, rows=1_000)
    learner.query(pool, 5)
    after_one = settled()
    for strategy in ["least_confidence", "margin", "badge", "random"] * 5:
        learner.set_params(query_strategy=strategy).query(pool, 5)
    assert settled(limit=after_one) <= after_one


# -------------------------------------------------------------------- simulate


def slow_least_confidence(learner, X_pool, n_instances=1, *, random_state=None):
    """Least confidence that takes a second: cells run long enough to be killed mid-way."""
    from prunefuse_sk.strategies import STRATEGIES

    time.sleep(1.0)
    return STRATEGIES["least_confidence"](learner, X_pool, n_instances, random_state=random_state)


def broken_strategy(learner, X_pool, n_instances=1, *, random_state=None):
    """A strategy that always fails, as a bug in a user's strategy would."""
    raise ValueError("this strategy is broken")


@pytest.fixture(scope="module")
def serial_slow_grid(data):
    with torch_threads(1):
        return grid(data, query_strategy=slow_least_confidence, seeds=[1])


@pytest.fixture(scope="module")
def data(digits):
    X, X_test, y, y_test = digits
    return X[:500], y[:500], X_test[:150], y_test[:150]


def test_a_worker_killed_mid_simulate_still_gives_the_serial_records(
    data, serial_slow_grid, client
):
    killer = Killer(client, holding="ndarray", running="cell", delay=0.5)
    with joblib.parallel_backend("dask"):
        on_dask = grid(data, n_jobs=3, query_strategy=slow_least_confidence, seeds=[1])
    assert any("cell" in key for key in killer.join()), "no cell ran on the killed worker"
    assert_same_but_timings(on_dask, serial_slow_grid, seeds=(1,))


def test_a_cell_that_fails_for_good_is_reported_and_the_others_are_kept(data, serial_slow_grid):
    broken = {"method": "full", "name": "broken", "query_strategy": broken_strategy}
    methods = ["random", "full", broken]
    with joblib.parallel_backend("threading"), torch_threads(1):
        with pytest.raises(CellFailedError, match=r"2 of 6 .*seed 0, method 'broken'") as caught:
            grid(data, n_jobs=2, methods=methods, query_strategy=slow_least_confidence)
    error = caught.value
    assert [(seed, method) for seed, method, _ in error.failures] == [(0, "broken"), (1, "broken")]
    assert isinstance(error.__cause__, ValueError)
    kept = [r for r in error.results if r["seed"] == 1 and r["method"] in ("random", "full")]
    expected = [r for r in serial_slow_grid if r["method"] in ("random", "full")]
    assert [r["accuracy"] for r in kept] == [r["accuracy"] for r in expected]
    assert {r["method"] for r in error.results} == {"random", "full"}


def test_a_cell_whose_workers_keep_dying_is_reported_with_its_seed_and_method(data, client):
    """With ``allowed-failures`` 0 on the scheduler, one death fails a cell for good."""

    def set_allowed_failures(n, dask_scheduler=None):
        before, dask_scheduler.allowed_failures = dask_scheduler.allowed_failures, n
        return before

    before = client.run_on_scheduler(set_allowed_failures, 0)
    try:
        killer = Killer(client, holding="ndarray", running="cell", delay=0.5)
        with joblib.parallel_backend("dask"), pytest.raises(CellFailedError) as caught:
            grid(data, n_jobs=3, query_strategy=slow_least_confidence, seeds=[1])
        lost = killer.join()
    finally:
        client.run_on_scheduler(set_allowed_failures, before)
    error = caught.value
    assert len(error.failures) == sum("run_cell" in key for key in lost) >= 1
    assert all(type(e).__name__ == "KilledWorker" for _, _, e in error.failures)
    failed = {method for _, method, _ in error.failures}
    assert {r["method"] for r in error.results} == {"random", "full", "pf-stop"} - failed
    assert all(f"seed 1, method {m!r}" in str(error) for m in failed)


# -------------------------------------------------------------------- grid search


@pytest.mark.parametrize("estimator", ["fused classifier", "learner"])
def test_a_worker_killed_mid_grid_search_still_finds_loky_s_best_params(
    digits_flat, client, estimator
):
    from prunefuse_sk.dask_backend import RecomputableDaskBackend

    X_pool, _, y_pool, _ = digits_flat
    X, y = X_pool[:600], y_pool[:600]
    # fits long enough for the killer to catch one mid-task: fused_stopping="none" (every fit
    # trains its max_epochs) and at least 10 epochs (fits of 2 epochs, or stopped after 2 at the
    # proxy's loss, were over before it looked, on a quiet machine)
    learner = PruneFuseActiveLearner(
        make_net(MLP, module__n_features=64, module__n_classes=10, max_epochs=3),
        fused_stopping="none",
        random_state=0,
    )
    if estimator == "fused classifier":
        model, grid_ = (
            learner.fit(X[:200], y[:200]).fuse(),
            {"lr": [1e-3, 1e-2], "max_epochs": [10, 30]},
        )
    else:
        model, grid_ = learner, {"pruning_ratio": [0.3, 0.7], "estimator__max_epochs": [10, 30]}
    with torch_threads(1):
        local = GridSearchCV(model, grid_, cv=2, n_jobs=2).fit(X, y)
    killer = Killer(client, holding="ndarray", running="_fit_and_score", delay=0.2)
    with joblib.parallel_config(backend=RecomputableDaskBackend()):
        on_dask = GridSearchCV(model, grid_, cv=2, n_jobs=2).fit(X, y)
    assert any("_fit_and_score" in key for key in killer.join()), "no fit ran on the killed worker"
    assert on_dask.best_params_ == local.best_params_
    np.testing.assert_allclose(
        on_dask.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"], atol=1e-6
    )
