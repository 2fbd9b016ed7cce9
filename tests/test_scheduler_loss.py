"""A dask scheduler that has gone: a named error within a bounded time, never a local compute.

Apart from ``test_cluster_faults.py`` on purpose: that module's 3-worker client stays current
(its ``with Client(...)`` block) for the whole module, and a client that is current is one the
user chose, so these tests would compute on it instead of raising.
"""

import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from test_cluster_faults import copied, lazy_pool

from prunefuse_sk.exceptions import SchedulerUnavailableError

distributed = pytest.importorskip("dask.distributed")


def test_a_closed_scheduler_raises_within_the_timeout_and_changes_nothing(fitted, dask_env):
    learner, untouched = copied(fitted), copied(fitted)
    pool = lazy_pool(4, rows=1_000)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=":0"
        ) as local,
        distributed.Client(local),
    ):
        learner.query(pool, 3)
        untouched.query(pool, 3)
        local.close()
        started = time.monotonic()
        with pytest.raises(SchedulerUnavailableError, match=r"is closed.*learner is unchanged"):
            learner.query(pool, 3)
        assert time.monotonic() - started < 10 + 1
        # asked for explicitly, the pool is computed here, and gives what the untouched copy gives
        import dask

        with dask.config.set(scheduler="threads"):
            np.testing.assert_array_equal(learner.query(pool, 3)[0], untouched.query(pool, 3)[0])


def test_a_held_client_made_without_with_stays_chosen_after_its_cluster_closes(fitted, dask_env):
    """As in a notebook: ``client = Client(...)``; the cluster goes; the client is still held."""
    import gc

    pool = lazy_pool(4, rows=1_000)
    local = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=":0"
    )
    client = distributed.Client(local)
    try:
        expected = copied(fitted).query(pool, 3)[0]  # computed on the cluster: the chosen one
        local.close()
        with pytest.raises(SchedulerUnavailableError, match="is closed"):
            copied(fitted).query(pool, 3)
    finally:
        client.close()
        local.close()
    with pytest.raises(SchedulerUnavailableError):  # closed by the user, but still held
        copied(fitted).query(pool, 3)
    del client, local
    gc.collect()  # let go of: dask's own default, the local scheduler, computes it again
    np.testing.assert_array_equal(copied(fitted).query(pool, 3)[0], expected)


def test_an_unreachable_scheduler_raises_within_the_timeout(fitted, tmp_path, dask_env):
    """A scheduler that stops answering (SIGSTOP: the connection stays open) is given 2 s."""
    import dask

    scheduler_file = tmp_path / "scheduler.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1"]
        + ["--port", "0", "--dashboard-address", ":0", "--scheduler-file", str(scheduler_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        with distributed.Client(scheduler_file=str(scheduler_file), timeout=30) as client:
            assert client.status == "running"
            process.send_signal(signal.SIGSTOP)
            learner = copied(fitted)
            started = time.monotonic()
            with dask.config.set({"prunefuse.scheduler-timeout": "2s"}):
                with pytest.raises(SchedulerUnavailableError, match=r"did not answer within 2 s"):
                    learner.query(lazy_pool(2, rows=500), 3)
            assert time.monotonic() - started < 2 + 2
            process.send_signal(signal.SIGCONT)
    finally:
        process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait(30)
