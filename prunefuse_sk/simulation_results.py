"""The records of a simulation and the methods it compares, as data.

``RECORD_FIELDS`` names the keys of a record (one per method, seed and round);
:class:`MethodSpec` is one selection method (``"random"``, ``"full"``, ``"proxy"`` or
``"prunefuse"`` with its parameters), parsed from a name or a dict; and
:class:`SimulationResults` holds the records, the configuration and the labelled
selections of a run, with its report tables and its JSON and CSV files. Nothing here
trains a network: :func:`~prunefuse_sk.simulation.simulate` produces what this module holds.
"""

import csv
import json
import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from .exceptions import InvalidParameterError
from .persistence import json_value

__all__ = ["METHOD_KINDS", "RECORD_FIELDS", "MethodSpec", "SimulationResults", "check_ratio"]

METHOD_KINDS = ("random", "full", "proxy", "prunefuse")
RECORD_FIELDS = (
    "method",
    "kind",
    "seed",
    "round",
    "n_labels",
    "accuracy",
    "selector_accuracy",
    "selection_seconds",
    "selector_train_seconds",
    "scoring_seconds",
    "training_seconds",
    "selection_flops",
    "training_flops",
    "selector_epochs",
    "final_epochs",
    "stop_reason",
)


@dataclass(frozen=True)
class MethodSpec:
    """One selection method of a simulation.

    Parameters
    ----------
    name : str
        Label in the results (e.g. ``"prunefuse-p0.7"``).
    kind : {"random", "full", "proxy", "prunefuse"}
        What the method does.
    params : dict
        For ``"prunefuse"``: :class:`~prunefuse_sk.PruneFuseActiveLearner`
        parameters (``pruning_ratio``, ``fusion_init``, ``distillation_weight``,
        ``sync_every``, ``proxy_params``, ...); for ``"proxy"``: ``estimator``,
        the small selector net (overrides ``simulate(proxy_estimator=...)``).
        Any kind may also set ``query_strategy`` and ``max_candidates`` (they
        override :func:`simulate`'s).
    """

    name: str
    kind: str
    params: dict = field(default_factory=dict)

    @classmethod
    def parse(cls, method):
        """A spec from a name (``"full"``, ``"prunefuse"``, ``"prunefuse-p0.7"``) or a dict.

        Parameters
        ----------
        method : str, dict or MethodSpec
            A dict needs ``"method"`` (the kind) and may have ``"name"``; the
            rest are the method's parameters.

        Returns
        -------
        spec : MethodSpec
        """
        if isinstance(method, MethodSpec):
            return method
        if isinstance(method, str):
            if method.startswith("prunefuse-p"):
                try:
                    ratio = float(method[len("prunefuse-p") :])
                except ValueError:
                    ratio = None
                if ratio is not None:
                    return cls(method, "prunefuse", {"pruning_ratio": check_ratio(method, ratio)})
            if method not in METHOD_KINDS:
                raise InvalidParameterError(
                    f"Unknown method {method!r}: use one of {METHOD_KINDS}, 'prunefuse-p<ratio>' "
                    "(e.g. 'prunefuse-p0.7'), or a dict such as "
                    "{'method': 'prunefuse', 'pruning_ratio': 0.7}."
                )
            return cls(method, method, {})
        if isinstance(method, dict):
            params = dict(method)
            kind = params.pop("method", None)
            if kind not in METHOD_KINDS:
                raise InvalidParameterError(
                    f"A method dict needs 'method' in {METHOD_KINDS}; got {method!r}."
                )
            name = params.pop("name", None)
            if kind == "prunefuse" and "pruning_ratio" in params:
                check_ratio(name or method, params["pruning_ratio"])
            if name is None:
                has_ratio = kind == "prunefuse" and "pruning_ratio" in params
                name = f"prunefuse-p{params['pruning_ratio']}" if has_ratio else kind
            return cls(str(name), kind, params)
        raise InvalidParameterError(
            f"A method is a name, a dict or a MethodSpec; got {type(method).__name__}."
        )


def check_ratio(method, ratio):
    """Refuse a pruning ratio outside the open interval (0, 1), naming the method it belongs to.

    Parameters
    ----------
    method : str or dict
        The method the ratio belongs to, as the caller wrote it (for the message).
    ratio : object
        Its ``pruning_ratio``.

    Returns
    -------
    ratio : float
        ``ratio`` as a float.

    Raises
    ------
    InvalidParameterError
        If ``ratio`` is not a real number in (0, 1).
    """
    real = isinstance(ratio, numbers.Real) and not isinstance(ratio, bool)
    if not real or not 0.0 < float(ratio) < 1.0:  # NaN fails the comparison too
        raise InvalidParameterError(
            f"Method {method!r}: pruning_ratio must be in the open interval (0, 1) (the fraction "
            f"of channels pruned from the proxy, e.g. 'prunefuse-p0.7'); got {ratio!r}."
        )
    return float(ratio)


class SimulationResults:
    """The records of a simulation: one dict per method, seed and round.

    Every record has the keys in ``RECORD_FIELDS``: ``method``, ``kind``,
    ``seed``, ``round``, ``n_labels``, ``accuracy`` (final full-size model on the
    test set), ``selector_accuracy`` (NaN without a selector),
    ``selection_seconds`` (= ``selector_train_seconds`` + ``scoring_seconds``),
    ``training_seconds`` (the final model), ``selection_flops``,
    ``training_flops``, ``selector_epochs``, ``final_epochs`` and
    ``stop_reason`` (the stopping criterion that ended the run at this round,
    else None).

    Parameters
    ----------
    records : list of dict
    config : dict, default=None
        How the simulation was run (sizes, seeds, methods, data set).
    selections : dict, default=None
        ``selections[method][seed]`` is the list of index arrays into ``X``
        labelled by that run: the initial set first, then one batch per round.

    Attributes
    ----------
    records, config, selections
    """

    def __init__(self, records, config=None, selections=None):
        self.records = list(records)
        self.config = dict(config or {})
        self.selections = selections or {}

    def __len__(self):
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, index):
        return self.records[index]

    def __repr__(self):
        methods = sorted({r["method"] for r in self.records})
        return f"SimulationResults({len(self.records)} records, methods={methods})"

    @property
    def methods(self):
        """list of str: the method names, in first-seen order."""
        return list(dict.fromkeys(r["method"] for r in self.records))

    def report(self, baseline="full"):
        """Plain-text tables: accuracy per budget (mean +- std over seeds), AUBC and selection cost.

        Parameters
        ----------
        baseline : str, default="full"
            The method the cost ratios are relative to (NaN if absent).

        Returns
        -------
        text : str
        """
        from .metrics import aubc_table, cost_table, format_table, learning_curve_table

        curve = learning_curve_table(self.records)
        budgets = sorted({entry["n_labels"] for entry in curve})
        rows = []
        for method in self.methods:
            row = {"method": method}
            for entry in curve:
                if entry["method"] == method:
                    row[str(entry["n_labels"])] = f"{entry['mean']:.4f} +- {entry['std']:.4f}"
            rows.append(row)
        lines = [
            (
                "Test accuracy of the final full-size model (mean +- std over seeds) "
                "by number of labels"
            ),
            format_table(rows, ["method"] + [str(n) for n in budgets]),
            "",
            (
                "Area under the budget curve, and selection cost summed over rounds "
                f"(mean over seeds) relative to {baseline!r}"
            ),
        ]
        aubc = {row["method"]: row for row in aubc_table(self.records)}
        cost = {row["method"]: row for row in cost_table(self.records, baseline=baseline)}
        rows = [
            {
                "method": method,
                "AUBC": f"{aubc[method]['aubc_mean']:.4f} +- {aubc[method]['aubc_std']:.4f}",
                "selection FLOPs": f"{cost[method]['selection_flops']:.3e}",
                "FLOPs ratio": f"{cost[method]['selection_flops_ratio']:.3f}",
                "selection s": f"{cost[method]['selection_seconds']:.1f}",
                "time ratio": f"{cost[method]['selection_seconds_ratio']:.3f}",
            }
            for method in self.methods
        ]
        columns = ["method", "AUBC", "selection FLOPs", "FLOPs ratio", "selection s", "time ratio"]
        lines.append(format_table(rows, columns))
        return "\n".join(lines)

    def to_frame(self):
        """The records as a pandas DataFrame (needs pandas).

        Returns
        -------
        frame : pandas.DataFrame
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "to_frame() needs pandas: pip install pandas (or use .records / to_csv)."
            ) from exc
        return pd.DataFrame.from_records(self.records, columns=list(RECORD_FIELDS))

    def to_json(self, path):
        """Write ``{"config": ..., "records": [...]}`` as JSON (NaN written as null).

        Parameters
        ----------
        path : str or os.PathLike
        """
        payload = {
            "config": json_value(self.config, lenient=True),
            "records": [json_value(r, lenient=True) for r in self.records],
            "selections": {
                method: {
                    str(seed): [np.asarray(b).tolist() for b in batches]
                    for seed, batches in runs.items()
                }
                for method, runs in self.selections.items()
            },
        }
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=1)

    @classmethod
    def from_json(cls, path):
        """Read results written by :meth:`to_json`.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        results : SimulationResults
        """
        with open(path, encoding="utf-8") as handle:
            payload = json.load(handle)
        records = [
            {k: (math.nan if v is None and k != "stop_reason" else v) for k, v in r.items()}
            for r in payload["records"]
        ]
        selections = {
            method: {
                int(seed): [np.asarray(b, dtype=np.int64) for b in batches]
                for seed, batches in runs.items()
            }
            for method, runs in payload.get("selections", {}).items()
        }
        return cls(records, payload.get("config"), selections)

    def to_csv(self, path):
        """Write the records as CSV, one row per record, columns ``RECORD_FIELDS``.

        Parameters
        ----------
        path : str or os.PathLike
        """
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(RECORD_FIELDS), extrasaction="ignore")
            writer.writeheader()
            for record in self.records:
                row = {k: ("" if record.get(k) is None else record.get(k)) for k in RECORD_FIELDS}
                writer.writerow(row)
