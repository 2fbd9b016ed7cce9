"""Plots of active-learning simulation records: learning curves and accuracy against selection cost.

Needs matplotlib (``pip install prunefuse_sk[plot]``), which is imported only
when a function here is called. The functions draw on the current matplotlib
backend; scripts and tests without a display should select ``"Agg"`` first
(``matplotlib.use("Agg")``). The records are those of
:mod:`prunefuse_sk.metrics`: plain dicts, one per ``(method, seed, round)``.
"""

from collections import defaultdict

import numpy as np

from .exceptions import InvalidParameterError
from .metrics import check_key, check_records, curves_by_seed, learning_curve_table, mean_std

__all__ = ["plot_learning_curves", "plot_cost_curves", "plot_results", "cumulative_cost_curves"]

_LABELS = {
    "accuracy": "test accuracy",
    "selector_accuracy": "selector test accuracy",
    "n_labels": "number of labels",
    "selection_flops": "cumulative selection FLOPs",
    "selection_seconds": "cumulative selection time (s)",
    "selector_train_seconds": "cumulative selector training time (s)",
    "scoring_seconds": "cumulative pool scoring time (s)",
    "training_seconds": "cumulative training time (s)",
    "training_flops": "cumulative training FLOPs",
}


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "prunefuse_sk.plotting needs matplotlib, which is not installed; "
            "install it with: pip install prunefuse_sk[plot]"
        ) from exc
    return plt


def _axes(ax):
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots()
        return ax
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}.")
    return ax


def _colors(methods):
    """A fixed colour per method (sorted), so the panels of one figure agree."""
    import matplotlib as mpl

    cycle = mpl.rcParams["axes.prop_cycle"].by_key().get("color") or ["C0"]
    return {method: cycle[i % len(cycle)] for i, method in enumerate(sorted(methods))}


def _draw(ax, x, mean, std, *, label, color):
    x, mean, std = (np.asarray(v, dtype=np.float64) for v in (x, mean, std))
    keep = ~np.isnan(mean)
    if not keep.any():
        return False
    x, mean, std = x[keep], mean[keep], std[keep]
    (line,) = ax.plot(x, mean, marker="o", markersize=3, label=label, color=color)
    ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2, linewidth=0)
    return True


def plot_learning_curves(records, *, metric="accuracy", ax=None, title=None):
    """Plot a metric against the number of labels: one line per method, mean over seeds, ±1 std
    band.

    Parameters
    ----------
    records : list of dict
        Simulation records with the keys ``method``, ``seed``, ``n_labels``
        and ``metric``.
    metric : str, default="accuracy"
        The record key on the y-axis, e.g. ``"selector_accuracy"``.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; ``None`` makes a new figure.
    title : str, default=None
        The axes' title.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes, with one line per method (methods whose metric is NaN
        everywhere, such as ``selector_accuracy`` of ``"random"``, are left
        out), a shaded band of the population std over seeds
        (:func:`~prunefuse_sk.metrics.learning_curve_table`), axis labels and
        a legend.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    TypeError
        If ``ax`` is not a matplotlib Axes, or the records are malformed.
    ValueError
        If the records are empty or lack a key.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from prunefuse_sk.plotting import plot_learning_curves
    >>> records = [{"method": "random", "seed": 0, "n_labels": n, "accuracy": a}
    ...            for n, a in [(100, 0.6), (200, 0.7)]]
    >>> ax = plot_learning_curves(records, title="digits")
    >>> [line.get_label() for line in ax.get_lines()]
    ['random']
    """
    check_key(metric, "metric")
    if title is not None and not isinstance(title, str):
        raise InvalidParameterError(f"title must be a str or None; got {title!r}.")
    rows = learning_curve_table(records, metric=metric)
    ax = _axes(ax)
    by_method = defaultdict(list)
    for row in rows:
        by_method[row["method"]].append(row)
    colors = _colors(by_method)
    for method in sorted(by_method):
        points = by_method[method]
        _draw(
            ax,
            [p["n_labels"] for p in points],
            [p["mean"] for p in points],
            [p["std"] for p in points],
            label=method,
            color=colors[method],
        )
    ax.set_xlabel(_LABELS["n_labels"])
    ax.set_ylabel(_LABELS.get(metric, metric))
    if title is not None:
        ax.set_title(title)
    if ax.get_lines():
        ax.legend()
    ax.grid(True, alpha=0.3)
    return ax


def cumulative_cost_curves(records, *, cost="selection_flops", metric="accuracy"):
    """Metric against cumulative cost, per method: cumsum over rounds per seed, then mean over
    seeds.

    The data behind :func:`plot_cost_curves`.

    Parameters
    ----------
    records : list of dict
        Simulation records with the keys ``method``, ``seed``, ``round``,
        ``cost`` and ``metric``.
    cost : str, default="selection_flops"
        The per-round cost key that is accumulated over rounds.
    metric : str, default="accuracy"
        The record key on the y-axis.

    Returns
    -------
    curves : dict of str to dict
        ``{method: {"round", "cost", "mean", "std", "n_seeds"}}``, each value
        an ndarray over the method's rounds (sorted): the cumulative cost up to
        and including that round averaged over the seeds that reached it, and
        the mean, population std and count of the metric over those seeds.

    Raises
    ------
    ValueError
        If the records are empty, lack a key, or a ``(method, seed)`` has two
        records for the same round.
    TypeError
        If the records are malformed.
    """
    check_key(cost, "cost")
    check_key(metric, "metric")
    records = check_records(records, ("method", "seed", "round", cost, metric))
    costs = curves_by_seed(records, cost, x_key="round")
    values = curves_by_seed(records, metric, x_key="round")
    curves = {}
    for method in sorted(costs):
        at_round = defaultdict(lambda: ([], []))
        for seed, points in costs[method].items():
            rounds = [r for r, _ in points]
            cumulative = np.cumsum([c for _, c in points])
            metric_at = dict(values[method][seed])
            for r, c in zip(rounds, cumulative):
                at_round[r][0].append(float(c))
                at_round[r][1].append(metric_at[r])
        rounds = sorted(at_round)
        stats = [mean_std(at_round[r][1]) for r in rounds]
        curves[method] = {
            "round": np.asarray(rounds),
            "cost": np.asarray([np.mean(at_round[r][0]) for r in rounds], dtype=np.float64),
            "mean": np.asarray([s[0] for s in stats], dtype=np.float64),
            "std": np.asarray([s[1] for s in stats], dtype=np.float64),
            "n_seeds": np.asarray([len(at_round[r][0]) for r in rounds]),
        }
    return curves


def plot_cost_curves(records, *, cost="selection_flops", metric="accuracy", ax=None):
    """Plot a metric against the cumulative selection cost: one line per method, ±1 std band.

    For every seed the per-round ``cost`` is summed up over rounds (round 0
    included); the x-value of a round is that cumulative cost averaged over
    the seeds that reached the round, the y-value the mean metric over them
    (see :func:`cumulative_cost_curves`). When the positive x-values span
    more than two decades the x-axis is logarithmic: ``"log"`` if every
    x-value is positive, else ``"symlog"`` with a linear part below the
    smallest positive cost, so zero-cost methods (``"random"``) stay visible
    at 0.

    Parameters
    ----------
    records, cost, metric
        As in :func:`cumulative_cost_curves`; ``cost`` may also be e.g.
        ``"selection_seconds"``.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; ``None`` makes a new figure.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes, with one line per method (methods whose metric is NaN
        everywhere are left out), axis labels and a legend.

    Raises
    ------
    ImportError, TypeError, ValueError
        As in :func:`plot_learning_curves`; ``ValueError`` also when a
        ``(method, seed)`` has two records for the same round.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from prunefuse_sk.plotting import plot_cost_curves
    >>> records = [{"method": "full", "seed": 0, "round": r, "accuracy": a, "selection_flops": f}
    ...            for r, a, f in [(0, 0.5, 0.0), (1, 0.7, 1e9), (2, 0.8, 1e9)]]
    >>> ax = plot_cost_curves(records)
    >>> ax.get_lines()[0].get_xdata().tolist()
    [0.0, 1000000000.0, 2000000000.0]
    """
    curves = cumulative_cost_curves(records, cost=cost, metric=metric)
    ax = _axes(ax)
    colors = _colors(curves)
    xs = []
    for method, curve in curves.items():
        if _draw(
            ax, curve["cost"], curve["mean"], curve["std"], label=method, color=colors[method]
        ):
            xs.append(curve["cost"][~np.isnan(curve["mean"])])
    xs = np.concatenate(xs) if xs else np.zeros(0)
    positive = xs[(xs > 0) & np.isfinite(xs)]
    if positive.size and positive.max() / positive.min() > 100.0:
        if np.all(xs[np.isfinite(xs)] > 0):
            ax.set_xscale("log")
        else:
            ax.set_xscale("symlog", linthresh=float(positive.min()))
    ax.set_xlabel(_LABELS.get(cost, f"cumulative {cost}"))
    ax.set_ylabel(_LABELS.get(metric, metric))
    if ax.get_lines():
        ax.legend()
    ax.grid(True, alpha=0.3)
    return ax


def plot_results(records, path=None, *, metric="accuracy"):
    """A 1x3 figure: learning curves, metric vs cumulative selection FLOPs, metric vs cumulative
    selection time.

    Parameters
    ----------
    records : list of dict
        Simulation records with the keys ``method``, ``seed``, ``round``,
        ``n_labels``, ``metric``, ``selection_flops`` and
        ``selection_seconds``.
    path : str or path-like, default=None
        Where to save the figure (format from the extension, e.g. ``.png`` or
        ``.pdf``); ``None`` does not save.
    metric : str, default="accuracy"
        The record key on the y-axes.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure (close it with ``matplotlib.pyplot.close(fig)`` when done).

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    TypeError
        If the records are malformed.
    ValueError
        If the records are empty or lack a key.

    See Also
    --------
    plot_learning_curves, plot_cost_curves : The three panels.
    """
    check_key(metric, "metric")
    records = check_records(
        records,
        ("method", "seed", "round", "n_labels", metric, "selection_flops", "selection_seconds"),
    )
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    try:
        plot_learning_curves(records, metric=metric, ax=axes[0], title="Learning curves")
        plot_cost_curves(records, cost="selection_flops", metric=metric, ax=axes[1])
        axes[1].set_title(
            "Accuracy vs selection FLOPs"
            if metric == "accuracy"
            else f"{metric} vs selection FLOPs"
        )
        plot_cost_curves(records, cost="selection_seconds", metric=metric, ax=axes[2])
        axes[2].set_title(
            "Accuracy vs selection time" if metric == "accuracy" else f"{metric} vs selection time"
        )
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=120)
    except BaseException:
        plt.close(fig)
        raise
    return fig
