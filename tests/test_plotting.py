"""prunefuse_sk.plotting: figures render with the Agg backend; lines, legends and cumulative costs
are right."""

import builtins
import io
import math

import numpy as np
import pytest

from prunefuse_sk import plotting
from prunefuse_sk.plotting import (
    cumulative_cost_curves,
    plot_cost_curves,
    plot_learning_curves,
    plot_results,
)

try:
    import matplotlib
except ImportError:  # the [plot] extra is not installed: only the ImportError test runs
    matplotlib = plt = None
else:
    matplotlib.use("Agg")
    import matplotlib.figure
    import matplotlib.pyplot as plt

needs_matplotlib = pytest.mark.skipif(
    matplotlib is None, reason="needs matplotlib (pip install prunefuse_sk[plot])"
)

METHODS = ["full", "prunefuse-p0.5", "random"]
FLOPS = {"full": 4e9, "prunefuse-p0.5": 1e9, "random": 0.0}


def _records(n_seeds=2, n_rounds=4):
    rng = np.random.RandomState(0)
    records = []
    for method in METHODS:
        for seed in range(n_seeds):
            for rnd in range(n_rounds):
                records.append(
                    {
                        "method": method,
                        "seed": seed,
                        "round": rnd,
                        "n_labels": 100 * (rnd + 1),
                        "accuracy": 0.5 + 0.1 * rnd + 0.01 * rng.rand(),
                        "selector_accuracy": math.nan if method == "random" else 0.4 + 0.1 * rnd,
                        # seeds differ so the mean over seeds is checked too
                        "selection_flops": FLOPS[method] * (rnd > 0) * (1 + seed),
                        "selection_seconds": (0.0 if method == "random" else 0.5) * rnd
                        + 0.01 * (seed + 1),
                    }
                )
    return records


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    if plt is not None:
        plt.close("all")


def _legend_labels(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


@needs_matplotlib
def test_learning_curves_one_line_per_method_with_bands():
    ax = plot_learning_curves(_records(), title="digits")
    assert len(ax.get_lines()) == len(METHODS)
    assert _legend_labels(ax) == METHODS
    assert ax.get_title() == "digits"
    assert ax.get_xlabel() == "number of labels" and ax.get_ylabel() == "test accuracy"
    assert len(ax.collections) == len(METHODS)  # one fill_between band per method
    full = ax.get_lines()[0]
    assert list(full.get_xdata()) == [100, 200, 300, 400]
    records = [r for r in _records() if r["method"] == "full" and r["n_labels"] == 100]
    assert full.get_ydata()[0] == pytest.approx(np.mean([r["accuracy"] for r in records]))


@needs_matplotlib
def test_learning_curves_leave_out_all_nan_methods_and_draw_on_given_axes():
    fig, ax = plt.subplots()
    out = plot_learning_curves(_records(), metric="selector_accuracy", ax=ax)
    assert out is ax
    assert _legend_labels(ax) == ["full", "prunefuse-p0.5"]
    assert ax.get_ylabel() == "selector test accuracy"


@needs_matplotlib
def test_cost_curves_x_is_mean_over_seeds_of_the_cumsum():
    records = _records()
    ax = plot_cost_curves(records, cost="selection_flops")
    assert len(ax.get_lines()) == len(METHODS)
    assert _legend_labels(ax) == METHODS
    lines = {line.get_label(): line for line in ax.get_lines()}
    for method in METHODS:
        per_seed = []
        for seed in range(2):
            costs = [
                r["selection_flops"]
                for r in sorted(records, key=lambda r: r["round"])
                if r["method"] == method and r["seed"] == seed
            ]
            per_seed.append(np.cumsum(costs))
        expected = np.mean(per_seed, axis=0)
        np.testing.assert_allclose(lines[method].get_xdata(), expected)
    # hand numbers for "full": seed 0 cumsum 0, 4e9, 8e9, 12e9; seed 1 twice that
    np.testing.assert_allclose(lines["full"].get_xdata(), [0.0, 6e9, 12e9, 18e9])
    assert ax.get_xlabel() == "cumulative selection FLOPs"


@needs_matplotlib
def test_cost_curves_log_x_only_when_spanning_more_than_two_decades():
    # FLOPs: positive values 1e9 .. 1.8e10 span < 2 decades -> linear
    assert plot_cost_curves(_records(), cost="selection_flops").get_xscale() == "linear"
    # seconds: 0.01 .. 1.52, zeros absent -> > 2 decades, all positive -> log
    ax = plot_cost_curves(_records(), cost="selection_seconds")
    assert ax.get_xscale() == "log"
    # with zeros present (random's FLOPs) and a wide span -> symlog keeps x=0 visible
    records = _records()
    for r in records:
        if r["method"] == "prunefuse-p0.5":
            r["selection_flops"] = 1e6 * (r["round"] > 0)
    ax = plot_cost_curves(records, cost="selection_flops")
    assert ax.get_xscale() == "symlog"


def test_cumulative_cost_curves_uneven_rounds():
    records = [
        r for r in _records() if not (r["method"] == "full" and r["seed"] == 1 and r["round"] == 3)
    ]
    curve = cumulative_cost_curves(records, cost="selection_flops")["full"]
    assert curve["n_seeds"].tolist() == [2, 2, 2, 1]
    np.testing.assert_allclose(curve["cost"], [0.0, 6e9, 12e9, 12e9])


@needs_matplotlib
def test_plot_results_writes_a_png(tmp_path):
    path = tmp_path / "results.png"
    fig = plot_results(_records(), path=path)
    assert path.exists() and path.stat().st_size > 10_000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    axes = fig.get_axes()
    assert len(axes) == 3
    for ax in axes:
        assert len(ax.get_lines()) == len(METHODS)
        assert _legend_labels(ax) == METHODS
    assert [ax.get_xlabel() for ax in axes] == [
        "number of labels",
        "cumulative selection FLOPs",
        "cumulative selection time (s)",
    ]
    # one colour per method across the three panels
    colors = [[line.get_color() for line in ax.get_lines()] for ax in axes]
    assert colors[0] == colors[1] == colors[2]


@needs_matplotlib
def test_plot_results_without_path_saves_nothing(monkeypatch):
    saved = []
    real_savefig = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(
        matplotlib.figure.Figure, "savefig", lambda fig, *args, **kwargs: saved.append(args)
    )
    fig = plot_results(_records())
    assert saved == []  # no path: the figure is never written anywhere
    assert isinstance(fig, matplotlib.figure.Figure) and plt.fignum_exists(
        fig.number
    )  # returned open, for the caller
    assert [ax.get_title() for ax in fig.get_axes()] == [
        "Learning curves",
        "Accuracy vs selection FLOPs",
        "Accuracy vs selection time",
    ]
    for ax in fig.get_axes():
        assert _legend_labels(ax) == METHODS
    buffer = io.BytesIO()
    real_savefig(fig, buffer, format="png")  # and the caller can still save it
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_matplotlib
def test_bad_arguments():
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        plot_learning_curves(_records(), ax="left")
    with pytest.raises(ValueError, match="lacks the key"):
        plot_cost_curves(_records(), cost="flops")
    with pytest.raises(ValueError, match="records is empty"):
        plot_results([])


def test_missing_matplotlib_message(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install prunefuse_sk\[plot\]"):
        plotting.plot_learning_curves(_records())
