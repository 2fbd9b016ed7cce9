"""Summaries of active-learning runs: area under the budget curve, learning-curve and cost tables.

The table functions take the *records* a pool-based simulation produces: a
list of plain dicts, one per ``(method, seed, round)``, holding at least the
keys the function needs, e.g.::

    {"method": "prunefuse-p0.5", "seed": 0, "round": 2, "n_labels": 300,
     "accuracy": 0.91, "selection_flops": 2.1e9, "selection_seconds": 0.8, ...}

A pandas ``DataFrame`` with those columns is accepted too (it is read with
``DataFrame.to_dict("records")``; pandas is never imported here). Every
function returns plain Python lists of dicts, which :func:`format_table`
prints as an aligned text table.
"""

import math
import numbers
from collections import defaultdict
from collections.abc import Iterable, Mapping

import numpy as np

from .exceptions import InvalidParameterError, LengthMismatchError, NonFiniteInputError

__all__ = ["aubc", "learning_curve_table", "aubc_table", "cost_table", "format_table"]


# --------------------------------------------------------------------- AUBC
def _as_1d_real(values, name):
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as exc:  # ragged nested sequences
        raise TypeError(
            f"{name} must be a 1-D sequence of real numbers; got {type(values).__name__}."
        ) from exc
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(f"{name} must hold real numbers; got an array of dtype {array.dtype}.")
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got an array of shape {array.shape}.")
    return array.astype(np.float64)


def aubc(n_labels, accuracy, *, normalize=True):
    """Area under the budget curve (accuracy against number of labels), by the trapezoid rule.

    The points are sorted by ``n_labels`` first. With ``normalize=True`` the
    area is divided by the budget range ``max(n_labels) - min(n_labels)``, so
    the result is the mean accuracy over the budget range (in ``[0, 1]`` for
    accuracies in ``[0, 1]``) and runs with different budgets can be compared.

    Parameters
    ----------
    n_labels : array-like of shape (n_points,)
        Size of the labelled set at each point; distinct, finite, at least one
        point.
    accuracy : array-like of shape (n_points,)
        The metric at each point (any real-valued score, usually test
        accuracy); finite.
    normalize : bool, default=True
        Divide the area by the budget range.

    Returns
    -------
    area : float
        The (normalised) area. With a single point: that point's accuracy when
        ``normalize=True``, and ``0.0`` (an interval of zero width) when
        ``normalize=False``.

    Raises
    ------
    LengthMismatchError
        If ``n_labels`` and ``accuracy`` have different lengths.
    NonFiniteInputError
        If either holds NaN or infinity.
    ValueError
        If there are no points, the inputs are not 1-D, or ``n_labels`` has
        duplicates.
    TypeError
        If the inputs are not real numbers.
    InvalidParameterError
        If ``normalize`` is not a bool.

    Examples
    --------
    >>> from prunefuse_sk.metrics import aubc
    >>> aubc([100, 200, 400], [0.5, 0.7, 0.8])  # (60 + 150) / 300
    0.7
    >>> aubc([100, 200, 400], [0.5, 0.7, 0.8], normalize=False)
    210.0
    """
    if not isinstance(normalize, (bool, np.bool_)):
        raise InvalidParameterError(f"normalize must be True or False; got {normalize!r}.")
    x = _as_1d_real(n_labels, "n_labels")
    y = _as_1d_real(accuracy, "accuracy")
    if len(x) != len(y):
        raise LengthMismatchError(
            f"n_labels and accuracy must have the same length; got {len(x)} and {len(y)} points."
        )
    if len(x) == 0:
        raise ValueError("aubc needs at least one point; got empty n_labels and accuracy.")
    for name, values in (("n_labels", x), ("accuracy", y)):
        if not np.all(np.isfinite(values)):
            raise NonFiniteInputError(
                f"{name} contains NaN or infinity at position(s) "
                f"{np.flatnonzero(~np.isfinite(values)).tolist()}; drop those points (e.g. rounds "
                "without a selector) before computing the AUBC."
            )
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    duplicates = np.unique(x[1:][np.diff(x) == 0])
    if duplicates.size:
        raise ValueError(
            f"n_labels must be distinct; {duplicates.tolist()} occur more than once. Average the "
            "repeated points first (e.g. over seeds) or compute one AUBC per run."
        )
    if len(x) == 1:
        return float(y[0]) if normalize else 0.0
    area = float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))
    if normalize:
        area /= float(x[-1] - x[0])
    return area


# ------------------------------------------------------------------ records
def check_records(records, keys):
    """Validate records and return them as a list of mappings holding ``keys``.

    Parameters
    ----------
    records : iterable of dict or pandas.DataFrame
        One record per ``(method, seed, round)``; a DataFrame is read row by row.
    keys : sequence of str
        The keys every record must hold; ``"method"`` must be among them.

    Returns
    -------
    records : list of dict

    Raises
    ------
    TypeError
        If ``records`` is not a list of dicts, or a record's ``method`` is not a str.
    ValueError
        If ``records`` is empty or a record lacks one of ``keys``.

    Examples
    --------
    >>> check_records([{"method": "random", "seed": 0}], ("method", "seed"))
    [{'method': 'random', 'seed': 0}]
    """
    if hasattr(records, "to_dict") and hasattr(
        records, "columns"
    ):  # a pandas DataFrame, duck-typed
        records = records.to_dict("records")
    if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Iterable):
        raise TypeError(
            "records must be a list of dicts (one per method, seed and round); "
            f"got {type(records).__name__}."
        )
    records = list(records)
    if not records:
        raise ValueError("records is empty; run a simulation first, or pass at least one record.")
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise TypeError(f"records[{i}] must be a dict; got {type(record).__name__}.")
        missing = [key for key in keys if key not in record]
        if missing:
            raise ValueError(
                f"records[{i}] lacks the key(s) {missing}; each record needs {list(keys)}. "
                f"It has {sorted(map(str, record))}."
            )
        if not isinstance(record["method"], str):
            raise TypeError(f"records[{i}]['method'] must be a str; got {record['method']!r}.")
    return records


def _real(record, key, i, *, allow_nan=True):
    """``record[key]`` as a float; ``None`` counts as NaN."""
    value = record[key]
    if value is None:
        value = math.nan
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"records[{i}][{key!r}] must be a real number; got {value!r}.")
    value = float(value)
    if math.isinf(value) or (not allow_nan and math.isnan(value)):
        raise NonFiniteInputError(f"records[{i}][{key!r}] must be finite; got {value}.")
    return value


def check_key(value, name):
    """Check that a parameter naming a record key (``metric``, ``cost``) is a str.

    Parameters
    ----------
    value : object
        The parameter's value.
    name : str
        The parameter's name, in the error's words.

    Returns
    -------
    value : str

    Raises
    ------
    InvalidParameterError
        If ``value`` is not a str.
    """
    if not isinstance(value, str):
        raise InvalidParameterError(f"{name} must be a str naming a record key; got {value!r}.")
    return value


def _py(value):
    """numpy scalars to plain Python numbers (JSON-friendly output)."""
    return value.item() if isinstance(value, np.generic) else value


def mean_std(values):
    """Mean, population std (ddof=0) and count of the non-NaN values; NaN, NaN, 0 when none.

    Parameters
    ----------
    values : iterable of float

    Returns
    -------
    mean : float
    std : float
    count : int

    Examples
    --------
    >>> mean_std([1.0, 3.0, float("nan")])
    (2.0, 1.0, 2)
    """
    values = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    if values.size == 0:
        return math.nan, math.nan, 0
    return float(values.mean()), float(values.std(ddof=0)), int(values.size)


def curves_by_seed(records, metric, *, x_key="n_labels"):
    """``{method: {seed: sorted [(x, value), ...]}}``, rejecting two records at the same x.

    Parameters
    ----------
    records : iterable of dict or pandas.DataFrame
        As for :func:`check_records`.
    metric : str
        The record key of the values (``None`` counts as NaN).
    x_key : str, default="n_labels"
        The record key of the x-values; finite.

    Returns
    -------
    curves : dict
        One curve per method and seed: ``(x, value)`` pairs sorted by ``x``.

    Raises
    ------
    ValueError
        If two records of one method and seed share an x-value.
    """
    records = check_records(records, ("method", "seed", x_key, metric))
    curves = defaultdict(lambda: defaultdict(dict))
    for i, record in enumerate(records):
        x = _real(record, x_key, i, allow_nan=False)
        if isinstance(record[x_key], numbers.Integral):
            x = int(record[x_key])
        seed_curve = curves[record["method"]][_py(record["seed"])]
        if x in seed_curve:
            raise ValueError(
                f"records[{i}] repeats method={record['method']!r}, seed={record['seed']!r}, "
                f"{x_key}={x}; each (method, seed) may have one record per {x_key}. Were two "
                "simulations concatenated with the same seeds?"
            )
        seed_curve[x] = _real(record, metric, i)
    return {
        method: {seed: sorted(points.items()) for seed, points in seeds.items()}
        for method, seeds in curves.items()
    }


def learning_curve_table(records, metric="accuracy"):
    """Mean and standard deviation over seeds of a metric, per method and number of labels.

    Parameters
    ----------
    records : list of dict
        Simulation records with the keys ``method``, ``seed``, ``n_labels``
        and ``metric``; a pandas DataFrame with those columns works too.
    metric : str, default="accuracy"
        The record key to summarise, e.g. ``"selector_accuracy"``.

    Returns
    -------
    rows : list of dict
        One row per ``(method, n_labels)``, sorted by method then
        ``n_labels``, with the keys ``method``, ``n_labels``, ``mean``,
        ``std`` (population standard deviation over seeds, ``ddof=0``, so
        ``0.0`` for a single seed) and ``n_seeds`` (the seeds that contributed).
        NaN (or ``None``) values are left out, as for ``selector_accuracy`` of
        methods without a selector; a point with no value left has ``mean``
        and ``std`` NaN and ``n_seeds`` 0. Seeds that stopped early simply
        contribute to fewer points.

    Raises
    ------
    ValueError
        If ``records`` is empty, a record lacks a key, or a ``(method, seed)``
        has two records with the same ``n_labels``.
    TypeError
        If ``records`` is not a list of dicts or a value has the wrong type.
    InvalidParameterError
        If ``metric`` is not a str.

    Examples
    --------
    >>> from prunefuse_sk.metrics import learning_curve_table
    >>> records = [
    ...     {"method": "random", "seed": 0, "n_labels": 100, "accuracy": 0.6},
    ...     {"method": "random", "seed": 1, "n_labels": 100, "accuracy": 0.8},
    ... ]
    >>> row = learning_curve_table(records)[0]
    >>> row["method"], row["n_labels"], round(row["mean"], 3), round(row["std"], 3), row["n_seeds"]
    ('random', 100, 0.7, 0.1, 2)
    """
    check_key(metric, "metric")
    curves = curves_by_seed(records, metric)
    by_point = defaultdict(list)
    for method, seeds in curves.items():
        for points in seeds.values():
            for x, value in points:
                by_point[method, x].append(value)
    rows = []
    for (method, x), values in sorted(by_point.items(), key=lambda item: item[0]):
        mean, std, count = mean_std(values)
        rows.append({"method": method, "n_labels": x, "mean": mean, "std": std, "n_seeds": count})
    return rows


def aubc_table(records, metric="accuracy", *, normalize=True):
    """Area under the budget curve of every seed, and its mean and std over seeds, per method.

    Parameters
    ----------
    records : list of dict
        As in :func:`learning_curve_table`.
    metric : str, default="accuracy"
        The record key whose curve against ``n_labels`` is integrated.
    normalize : bool, default=True
        Passed to :func:`aubc`: divide each area by that seed's budget range.

    Returns
    -------
    rows : list of dict
        One row per method, sorted by method, with the keys ``method``,
        ``aubc_mean``, ``aubc_std`` (population std over seeds, ``ddof=0``),
        ``n_seeds`` (seeds with a finite AUBC) and ``per_seed`` (a dict
        ``{seed: aubc}`` sorted by seed). Points whose metric is NaN are
        dropped before integrating; a seed with none left gets a NaN AUBC.
        Each seed is integrated over its own budget range, so a seed stopped
        early by a stopping criterion averages over a shorter range.

    Raises
    ------
    ValueError, TypeError
        For malformed ``records``, as in :func:`learning_curve_table`.
    InvalidParameterError
        If ``metric`` is not a str or ``normalize`` not a bool.

    Examples
    --------
    >>> from prunefuse_sk.metrics import aubc_table
    >>> records = [
    ...     {"method": "full", "seed": 0, "n_labels": n, "accuracy": a}
    ...     for n, a in [(100, 0.5), (200, 0.7), (400, 0.8)]
    ... ]
    >>> aubc_table(records)[0]["aubc_mean"]
    0.7
    """
    check_key(metric, "metric")
    if not isinstance(normalize, (bool, np.bool_)):
        raise InvalidParameterError(f"normalize must be True or False; got {normalize!r}.")
    curves = curves_by_seed(records, metric)
    rows = []
    for method in sorted(curves):
        per_seed = {}
        for seed in _sorted_seeds(curves[method]):
            points = [(x, v) for x, v in curves[method][seed] if not math.isnan(v)]
            if points:
                xs, ys = zip(*points)
                per_seed[seed] = aubc(xs, ys, normalize=normalize)
            else:
                per_seed[seed] = math.nan
        mean, std, count = mean_std(per_seed.values())
        rows.append(
            {
                "method": method,
                "aubc_mean": mean,
                "aubc_std": std,
                "n_seeds": count,
                "per_seed": per_seed,
            }
        )
    return rows


def _sorted_seeds(seeds):
    try:
        return sorted(seeds)
    except TypeError:  # seeds of mixed types: keep their first-seen order
        return list(seeds)


def cost_table(records, baseline="full"):
    """Total selection cost per method (summed over rounds, mean over seeds) and its ratio to a
    baseline.

    Parameters
    ----------
    records : list of dict
        Simulation records with the keys ``method``, ``seed``, ``round``,
        ``selection_flops`` and ``selection_seconds``; a pandas DataFrame with
        those columns works too.
    baseline : str or None, default="full"
        The method the ratios are relative to (``"full"``: selecting with the
        full-size network). ``None``, or a method absent from ``records``,
        gives NaN ratios.

    Returns
    -------
    rows : list of dict
        One row per method, sorted by method, with the keys ``method``,
        ``n_seeds``, ``selection_flops`` and ``selection_seconds`` (each the
        sum over a seed's rounds, averaged over seeds), and
        ``selection_flops_ratio`` and ``selection_seconds_ratio`` (the
        method's total divided by the baseline's; ``inf`` or NaN when the
        baseline's total is 0). NaN costs propagate into the sums.

    Raises
    ------
    ValueError
        If ``records`` is empty, a record lacks a key, or a ``(method, seed)``
        has two records for the same round.
    TypeError
        If ``records`` is not a list of dicts or a value has the wrong type.
    InvalidParameterError
        If ``baseline`` is neither a str nor None.

    Examples
    --------
    >>> from prunefuse_sk.metrics import cost_table
    >>> records = [
    ...     {"method": m, "seed": 0, "round": 1, "selection_flops": f, "selection_seconds": s}
    ...     for m, f, s in [("full", 4e9, 2.0), ("prunefuse-p0.5", 1e9, 0.5)]
    ... ]
    >>> [row["selection_flops_ratio"] for row in cost_table(records)]
    [1.0, 0.25]
    """
    if baseline is not None and not isinstance(baseline, str):
        raise InvalidParameterError(
            f"baseline must be a method name (str) or None; got {baseline!r}."
        )
    records = check_records(
        records, ("method", "seed", "round", "selection_flops", "selection_seconds")
    )
    totals = {}
    for cost in ("selection_flops", "selection_seconds"):
        curves = curves_by_seed(records, cost, x_key="round")
        for method, seeds in curves.items():
            per_seed = [sum(value for _, value in points) for points in seeds.values()]
            totals.setdefault(method, {"n_seeds": len(per_seed)})[cost] = float(np.mean(per_seed))
    rows = []
    for method in sorted(totals):
        row = {"method": method, **totals[method]}
        for cost in ("selection_flops", "selection_seconds"):
            if baseline in totals:
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratio = float(np.float64(row[cost]) / np.float64(totals[baseline][cost]))
            else:
                ratio = math.nan
            row[f"{cost}_ratio"] = ratio
        rows.append(row)
    return rows


# ------------------------------------------------------------------ printing
def _format_cell(value, fmt):
    value = _py(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return format(value, fmt)
    return str(value)


def format_table(rows, columns=None, floatfmt=".3f"):
    """Format rows of dicts as a plain-text table with aligned columns.

    Parameters
    ----------
    rows : list of dict
        The rows, e.g. from :func:`learning_curve_table`, :func:`aubc_table` or
        :func:`cost_table`.
    columns : list of str or of (str, str) pairs, default=None
        The keys to show, in order; a ``(key, header)`` pair shows ``key``
        under another header. ``None`` shows the keys of the first row. A
        row lacking a key shows an empty cell.
    floatfmt : str or dict, default=".3f"
        Format spec (as for :func:`format`) for float cells, or a dict
        ``{key: spec}`` per column (other float columns use ``".3f"``), e.g.
        ``{"selection_flops": ".3g"}``. Ints and strings are printed as they
        are, ``None`` as an empty cell.

    Returns
    -------
    table : str
        A header line, a line of dashes and one line per row, without a
        trailing newline. Numbers are right-aligned, everything else
        left-aligned.

    Raises
    ------
    TypeError
        If ``rows`` is not a list of dicts.
    InvalidParameterError
        If ``columns`` or ``floatfmt`` is malformed.

    Examples
    --------
    >>> from prunefuse_sk.metrics import format_table
    >>> print(format_table([{"method": "full", "aubc": 0.81234}], ["method", ("aubc", "AUBC")]))
    method   AUBC
    ------  -----
    full    0.812
    """
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Iterable):
        raise TypeError(f"rows must be a list of dicts; got {type(rows).__name__}.")
    rows = list(rows)
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"rows[{i}] must be a dict; got {type(row).__name__}.")
    if columns is None:
        columns = list(rows[0]) if rows else []
    if isinstance(columns, (str, bytes)) or not isinstance(columns, Iterable):
        raise InvalidParameterError(
            f"columns must be a list of keys or (key, header) pairs; got {columns!r}."
        )
    keys, headers = [], []
    for column in columns:
        if isinstance(column, tuple) and len(column) == 2:
            key, header = column
        else:
            key, header = column, column
        if isinstance(key, (list, dict, set)):
            raise InvalidParameterError(
                f"a column must be a key or a (key, header) pair; got {column!r}."
            )
        keys.append(key)
        headers.append(str(header))
    if isinstance(floatfmt, Mapping):
        formats = {key: floatfmt.get(key, ".3f") for key in keys}
    elif isinstance(floatfmt, str):
        formats = dict.fromkeys(keys, floatfmt)
    else:
        raise InvalidParameterError(
            f"floatfmt must be a format spec str or a dict of them; got {floatfmt!r}."
        )
    for key, fmt in formats.items():
        try:
            format(1.5, fmt)
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(
                f"floatfmt {fmt!r} for column {key!r} is not a float format spec: {exc}"
            ) from exc

    cells = [[_format_cell(row.get(key), formats[key]) for key in keys] for row in rows]
    numeric = [
        bool(rows)
        and all(
            row.get(key) is None
            or (isinstance(row.get(key), numbers.Number) and not isinstance(row.get(key), bool))
            for row in rows
        )
        and any(row.get(key) is not None for row in rows)
        for key in keys
    ]
    widths = [
        max([len(header)] + [len(line[j]) for line in cells]) for j, header in enumerate(headers)
    ]

    def line(values):
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return "  ".join(parts).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(values) for values in cells]
    return "\n".join(out)
