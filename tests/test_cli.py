"""The ``prunefuse-sk demo`` command."""

import io
import subprocess
import sys

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
    for option in ("--seed-size", "--rounds", "--query-size", "--pruning-ratio", "--strategy", "--epochs",
                   "--random-state", "--device"):
        assert option in help_text


def test_demo_refuses_a_budget_larger_than_the_pool():
    with pytest.raises(ValueError, match="exceeds the pool"):
        run_demo(seed_size=1000, rounds=10, query_size=100, out=io.StringIO())


def test_console_script_entry_point_is_wired():
    parser = build_parser()
    assert parser.prog == "prunefuse-sk"
    done = subprocess.run([sys.executable, "-m", "prunefuse_sk.cli", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and "prunefuse-sk" in done.stdout
