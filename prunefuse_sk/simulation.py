"""Pool-based active-learning simulations: PruneFuse against its baselines, on real labels.

:func:`simulate` runs the query/label/teach loop with an oracle that reveals the known
labels, for several selection methods that start from the same labelled set per seed:

``"random"``
    The full network trained on random subsets (no selector).
``"full"``
    Classic active learning: the full network selects and is retrained every round;
    it is also the final model.
``"proxy"``
    Selection via Proxy (Coleman et al., 2020): a separately given small network
    selects and is thrown away; the full network is trained from scratch on the
    selected labels.
``"prunefuse"``
    :class:`~prunefuse_sk.PruneFuseActiveLearner`: the pruned proxy selects; the final
    model is the fused network.

Each round records the test accuracy of the final full-size model and of the
selector, wall time split into selector training, pool scoring and final training,
and FLOPs counted by torch's ``FlopCounterMode`` on a probe batch and scaled by
samples and epochs.

With ``n_jobs``, the (seed, method) cells of the grid run as independent joblib
tasks, on local processes or on any joblib backend (e.g. a dask cluster).
"""

import contextlib
import copy
import csv
import inspect
import json
import math
import numbers
import os
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field, replace

import joblib
import numpy as np
import torch
from sklearn.base import clone
from skorch import NeuralNetClassifier
from tqdm.auto import tqdm

from sklearn.metrics import accuracy_score

from ._random import _MAX_SEED, torch_seed_scope
from ._skorch import fit_seeded, initialized_module
from .exceptions import InvalidParameterError
from .flops import per_sample_flops
from .learner import PruneFuseActiveLearner
from .persistence import json_value
from .pruning import embedding_layer, example_batch, find_output_layers, token_input
from .strategies import SelectorView, call_strategy, get_strategy
from .strategies.scoring import score_pool
from .validation import as_samples, check_inputs, check_labels

__all__ = ["simulate", "SimulationResults", "MethodSpec", "METHOD_KINDS", "RECORD_FIELDS"]

METHOD_KINDS = ("random", "full", "proxy", "prunefuse")
EVALUATE = ("every_round", "last_round")
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
                    return cls(method, "prunefuse", {"pruning_ratio": ratio})
            if method not in METHOD_KINDS:
                raise InvalidParameterError(
                    f"Unknown method {method!r}: use one of {METHOD_KINDS}, 'prunefuse-p<ratio>' "
                    "(e.g. 'prunefuse-p0.7'), or a dict such as {'method': 'prunefuse', 'pruning_ratio': 0.7}."
                )
            return cls(method, method, {})
        if isinstance(method, dict):
            params = dict(method)
            kind = params.pop("method", None)
            if kind not in METHOD_KINDS:
                raise InvalidParameterError(f"A method dict needs 'method' in {METHOD_KINDS}; got {method!r}.")
            name = params.pop("name", None)
            if name is None:
                name = f"prunefuse-p{params['pruning_ratio']}" if kind == "prunefuse" and "pruning_ratio" in params else kind
            return cls(str(name), kind, params)
        raise InvalidParameterError(f"A method is a name, a dict or a MethodSpec; got {type(method).__name__}.")


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
            "Test accuracy of the final full-size model (mean +- std over seeds) by number of labels",
            format_table(rows, ["method"] + [str(n) for n in budgets]),
            "",
            f"Area under the budget curve, and selection cost summed over rounds (mean over seeds) relative to {baseline!r}",
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
        lines.append(format_table(rows, ["method", "AUBC", "selection FLOPs", "FLOPs ratio", "selection s", "time ratio"]))
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
            raise ImportError("to_frame() needs pandas: pip install pandas (or use .records / to_csv).") from exc
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
                method: {str(seed): [np.asarray(b).tolist() for b in batches] for seed, batches in runs.items()}
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
            {k: (math.nan if v is None and k != "stop_reason" else v) for k, v in r.items()} for r in payload["records"]
        ]
        selections = {
            method: {int(seed): [np.asarray(b, dtype=np.int64) for b in batches] for seed, batches in runs.items()}
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
                writer.writerow({k: ("" if record.get(k) is None else record.get(k)) for k in RECORD_FIELDS})


# ------------------------------------------------------------------ helpers
def _derive_seed(*parts):
    """A 31-bit seed from ints and strings, stable across runs and platforms."""
    words = [p if isinstance(p, int) else zlib.crc32(str(p).encode()) for p in parts]
    return int(np.random.SeedSequence(words).generate_state(1)[0] % _MAX_SEED)


def _fit_net(net, X, y, seed):
    return fit_seeded(net, X, y, seed=seed), len(net.history)


def _accuracy(net, X_test, y_test):
    return float(accuracy_score(y_test, score_pool(net, X_test).proba.argmax(axis=1)))


class _FlopModel:
    """Per-sample forward and forward+backward FLOPs of a module, probed once."""

    def __init__(self, module, probe):
        module = copy.deepcopy(module).cpu()
        self.forward, self.train = per_sample_flops(module, probe)

    def training(self, n_samples, epochs):
        return self.train * n_samples * epochs

    def scoring(self, n_samples):
        return self.forward * n_samples


# ---------------------------------------------------------------- the harness
def simulate(
    estimator,
    X,
    y,
    X_test,
    y_test,
    *,
    methods=("random", "full", "prunefuse"),
    initial_size=100,
    batch_sizes=100,
    n_rounds=None,
    seeds=(0,),
    query_strategy="least_confidence",
    proxy_estimator=None,
    learner_params=None,
    max_candidates=None,
    stopping=None,
    probe_size=16,
    progress=True,
    callback=None,
    n_jobs=None,
    evaluate="every_round",
):
    """Simulate pool-based active learning for several methods on the same initial labelled sets.

    For every seed, ``initial_size`` samples are drawn at random once and every
    method starts from them. Each round, every method trains its selector on
    the labelled set, trains (or fuses) its final full-size model, is scored on
    ``(X_test, y_test)``, then picks the next batch from the rest of ``X``, whose
    labels the oracle reveals from ``y``.

    Parameters
    ----------
    estimator : skorch.NeuralNetClassifier
        Unfitted full-size network (cloned, never modified).
    X, y : array-like of shape (n_samples, ...) and (n_samples,)
        The pool with its hidden labels.
    X_test, y_test : array-like
        Held-out evaluation data.
    methods : sequence of str, dict or MethodSpec, default=("random", "full", "prunefuse")
        ``"random"``, ``"full"``, ``"proxy"``, ``"prunefuse"``,
        ``"prunefuse-p0.7"``, or dicts such as ``{"method": "prunefuse",
        "pruning_ratio": 0.7, "sync_every": 2, "name": "pf-sync"}``.
    initial_size : int, default=100
        Labelled samples before the first round.
    batch_sizes : int or sequence of int, default=100
        Samples labelled per round; an int with ``n_rounds``, or one per round.
    n_rounds : int, default=None
        Number of rounds when ``batch_sizes`` is an int (default 5).
    seeds : sequence of int, default=(0,)
        One run per seed; each seed fixes the initial set and every training run.
    query_strategy : str or callable, default="least_confidence"
        Used by ``full``, ``proxy`` and ``prunefuse`` (unless a method's
        params set its own ``query_strategy``).
    proxy_estimator : skorch.NeuralNetClassifier, default=None
        The small selector of the ``proxy`` method (Selection via Proxy).
    learner_params : dict, default=None
        Default :class:`~prunefuse_sk.PruneFuseActiveLearner` parameters for
        the ``prunefuse`` methods (a method's own params win).
    max_candidates : int, default=None
        Score only a random subset of this many pool rows per round (all
        methods alike, unless a method's dict sets its own ``max_candidates``),
        to bound the cost of scoring large pools.
    stopping : criterion or list of criteria, default=None
        Objects with ``should_stop(model, X_pool, n_labels=...)`` (see
        :mod:`prunefuse_sk.stopping`); checked after each round on the
        selector (or the final model for ``random``); a copy per run.
    probe_size : int, default=16
        Rows of the probe batch for FLOP counting.
    progress : bool, default=True
        Show a progress bar (one step per method, seed and round; with
        ``n_jobs`` other than 1 it advances by a cell's rounds when the cell
        finishes).
    callback : callable, default=None
        Called with each record as soon as it exists (e.g. to save partial
        results of a long run). With ``n_jobs`` other than 1 the records of a
        cell exist only once the whole cell has finished: the callback is then
        called for each of its records, cell by cell, in the order of a serial
        run.
    n_jobs : int, default=None
        How many (seed, method) cells run at once, each cell (one method on
        one seed, all its rounds) as one ``joblib.Parallel`` task, on the
        active joblib backend (loky by default; ``with
        joblib.parallel_backend("dask"):`` runs them on a dask cluster).
        ``None`` or 1 runs them one after the other in this process, even
        inside a ``joblib.parallel_backend`` context; -1 uses all cores (with
        dask, all the cluster's worker threads); other ints follow joblib's
        convention. Cells are seeded independently, so the records and
        selections are those of a serial run, in the same order, except the
        timing fields (``*_seconds``): those are measured per cell inside the
        worker that ran it, while other cells compete for the same cores, so
        they are not comparable to a serial run's. In a worker process,
        torch's intra-op threads are limited to ``max(1, cpu_count //
        n_workers)`` for the duration of the cell (never raised), so that the
        workers do not oversubscribe the cores; since CPU results can depend
        on the number of threads in their last digits (enough to change a
        selection), records equal a serial run's when both train with the same
        number of threads per cell. Cells that share a process (joblib's
        threading backend, a dask worker with several threads) run one at a
        time, since torch's random generators are process-wide: use processes
        (loky; dask workers with one thread each). Needs joblib >= 1.3.

    evaluate : {"every_round", "last_round"}, default="every_round"
        When to train (or fuse) and score each method's final full-size model:
        after every round (a learning curve), or after the last round only (a
        session as a user runs it: select round after round, train the final
        model once). With ``"last_round"`` the other rounds' ``accuracy`` is NaN
        and their ``training_seconds`` 0, so summing a method's
        ``selection_seconds`` and ``training_seconds`` gives its end-to-end
        session time; a ``full`` method's final model is its selector, trained
        in the last round, and is scored there only. ``stopping`` ends a run
        early: the round it stops at counts as the last.

    Returns
    -------
    results : SimulationResults
        ``config["n_jobs"]`` records ``n_jobs``; ``config["evaluate"]`` records ``evaluate``.
    """
    if not isinstance(estimator, NeuralNetClassifier):
        raise InvalidParameterError(f"estimator must be an unfitted skorch NeuralNetClassifier; got {type(estimator).__name__}.")
    # float32 features, or int64 token ids when the network's input layer is an embedding
    tokens = token_input(initialized_module(estimator, seed=0, on_cpu=True))
    X = check_inputs(as_samples(X), token_input=tokens)
    y = check_labels(y, len(X))
    X_test = check_inputs(as_samples(X_test, name="X_test"), token_input=tokens, name="X_test",
                          n_features_shape=X.shape[1:])
    y_test = check_labels(y_test, len(X_test), name="y_test")
    classes, y_enc = np.unique(y, return_inverse=True)
    unknown = np.setdiff1d(np.unique(y_test), classes)
    if len(unknown):
        raise InvalidParameterError(f"y_test has labels {unknown.tolist()[:10]} that never occur in y.")
    y_test_enc = np.searchsorted(classes, y_test)

    specs = [MethodSpec.parse(m) for m in methods]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise InvalidParameterError(f"Method names must be unique; got {names}. Give dict methods a 'name'.")
    for spec in specs:
        if spec.kind == "proxy" and proxy_estimator is None and "estimator" not in spec.params:
            raise InvalidParameterError(
                "The 'proxy' method (Selection via Proxy) needs a small selector network: pass "
                "proxy_estimator=NeuralNetClassifier(...) or {'method': 'proxy', 'estimator': net}."
            )
    sizes = _batch_sizes(batch_sizes, n_rounds)
    initial_size = int(initial_size)
    if initial_size < 1 or initial_size + sum(sizes) > len(X):
        raise InvalidParameterError(
            f"initial_size ({initial_size}) + batch sizes ({sum(sizes)}) must be between 1 and the pool size "
            f"({len(X)}); label fewer samples or pass a larger X."
        )
    seeds = [int(s) for s in (seeds if np.iterable(seeds) else [seeds])]
    criteria = [] if stopping is None else (list(stopping) if isinstance(stopping, (list, tuple)) else [stopping])
    get_strategy(query_strategy)
    _check_n_jobs(n_jobs)
    if evaluate not in EVALUATE:
        raise InvalidParameterError(f"evaluate must be one of {EVALUATE}; got {evaluate!r}.")

    context = _Context(
        estimator=estimator,
        X=X,
        y=y_enc,
        X_test=X_test,
        y_test=y_test_enc,
        probe=torch.as_tensor(X[: max(1, int(probe_size))]),
        query_strategy=query_strategy,
        proxy_estimator=proxy_estimator,
        learner_params=dict(learner_params or {}),
        max_candidates=max_candidates,
        sizes=sizes,
        evaluate=evaluate,
    )
    config = {
        "initial_size": initial_size,
        "batch_sizes": sizes,
        "seeds": seeds,
        "methods": [{"name": s.name, "kind": s.kind, "params": json_value(s.params, lenient=True)} for s in specs],
        "query_strategy": query_strategy if isinstance(query_strategy, str) else repr(query_strategy),
        "n_pool": len(X),
        "n_test": len(X_test),
        "max_candidates": max_candidates,
        "probe_size": int(probe_size),
        "torch": torch.__version__,
        "device": str(estimator.device),
        "n_jobs": None if n_jobs is None else int(n_jobs),
        "evaluate": evaluate,
    }
    records = []
    selections = {spec.name: {} for spec in specs}
    initial_sets = {
        seed: np.random.RandomState(_derive_seed(seed, "initial")).choice(len(X), initial_size, replace=False)
        for seed in seeds
    }
    cells = [(seed, spec, initial_sets[seed]) for seed in seeds for spec in specs]
    total = len(cells) * (len(sizes) + 1)
    bar = tqdm(total=total, desc="simulating", unit="round", disable=not progress)
    try:
        if n_jobs is None or n_jobs == 1:
            for seed, spec, initial in cells:
                bar.set_postfix_str(f"seed={seed} {spec.name}")
                run = _Run(context, spec, seed, initial, [copy.deepcopy(c) for c in criteria])
                for record in run:
                    records.append(record)
                    if callback is not None:
                        callback(record)
                    bar.update(1)
                bar.update(len(sizes) + 1 - run.rounds_done)  # stopped early
                selections[spec.name][seed] = run.selections
        else:
            # the parent's identity and the number of cells running at once, for the torch thread limit
            workers = (_process_identity(), max(1, min(joblib.effective_n_jobs(n_jobs), len(cells))))
            # the data as arguments of their own: joblib memmaps them for loky workers and scatters them
            # once to a dask cluster (it does not look inside the context), instead of once per cell
            data = (context.X, context.y, context.X_test, context.y_test)
            settings = replace(context, X=None, y=None, X_test=None, y_test=None)
            # return_as="generator" (results in submission order, as they arrive) needs joblib >= 1.3
            outputs = joblib.Parallel(n_jobs=n_jobs, return_as="generator")(
                joblib.delayed(_run_cell)(settings, *data, spec, seed, initial, criteria, workers)
                for seed, spec, initial in cells
            )
            try:
                for (seed, spec, _), (cell_records, cell_selections, _) in zip(cells, outputs):
                    for record in cell_records:
                        records.append(record)
                        if callback is not None:
                            callback(record)
                    bar.set_postfix_str(f"seed={seed} {spec.name} done")
                    bar.update(len(sizes) + 1)
                    selections[spec.name][seed] = cell_selections
            finally:
                outputs.close()  # on an error, cancel the cells not started yet
    finally:
        bar.close()
    return SimulationResults(records, config, selections)


def _check_n_jobs(n_jobs):
    if n_jobs is None:
        return
    if isinstance(n_jobs, (bool, np.bool_)) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise InvalidParameterError(
            f"n_jobs must be None, a positive int (the number of cells run at once) or a negative int (-1: all "
            f"cores); got {n_jobs!r}. Pass n_jobs=None or 1 to run serially, n_jobs=-1 to use every core."
        )
    if n_jobs != 1 and "return_as" not in inspect.signature(joblib.Parallel).parameters:  # joblib < 1.3
        raise ImportError(
            f"simulate(n_jobs={n_jobs}) needs joblib >= 1.3 (Parallel(return_as=...)); joblib {joblib.__version__} "
            "is installed: pip install 'joblib>=1.3', or pass n_jobs=None."
        )


# A token per imported copy of this module: with the pid it tells a worker process (even a forked
# one, or one on another machine that happens to have the same pid) from the caller's.
_MODULE_TOKEN = uuid.uuid4().hex
# Cells that share a process (the threading backend, a dask worker with several threads) take turns:
# torch's random generators are process-wide, and every training run seeds them, so concurrent
# cells would draw each other's numbers and lose reproducibility.
_CELL_LOCK = threading.Lock()


def _process_identity():
    return os.getpid(), _MODULE_TOKEN


@contextlib.contextmanager
def _torch_threads_for_worker(parent, n_workers):
    """Limit torch's intra-op threads to ``max(1, cpu_count // n_workers)`` in a worker process.

    joblib's loky backend limits OpenMP/BLAS thread pools through environment
    variables and threadpoolctl, which torch honours only if it reads them
    before its first parallel operation; set it explicitly for the cell, never
    raise it, and restore it after. In the caller's process (serial, or the
    threading backend, whose threads share torch's process-wide setting) it
    is left alone.
    """
    if parent == _process_identity():
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(min(before, max(1, joblib.cpu_count() // n_workers)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run_cell(settings, X, y, X_test, y_test, spec, seed, initial, criteria, workers):
    """Run one method on one seed, all its rounds: the task of ``simulate(n_jobs=...)``.

    Parameters
    ----------
    settings : _Context
        The simulation's context without its data.
    X, y, X_test, y_test : ndarray
        The data (validated, labels encoded).
    spec : MethodSpec
    seed : int
    initial : ndarray
        The seed's initial labelled indices.
    criteria : list
        Stopping criteria; copied, so that each cell has its own.
    workers : tuple
        ``(caller's process identity, number of cells running at once)``.

    Returns
    -------
    records : list of dict
        One per round run.
    selections : list of ndarray
        The initial set, then each round's batch.
    rounds_done : int
    """
    context = replace(settings, X=X, y=y, X_test=X_test, y_test=y_test)
    with _CELL_LOCK, _torch_threads_for_worker(*workers):
        run = _Run(context, spec, seed, initial, [copy.deepcopy(c) for c in criteria])
        records = list(run)
    return records, run.selections, run.rounds_done


def _batch_sizes(batch_sizes, n_rounds):
    if np.iterable(batch_sizes):
        sizes = [int(b) for b in batch_sizes]
        if n_rounds is not None and n_rounds != len(sizes):
            raise InvalidParameterError(f"n_rounds={n_rounds} but {len(sizes)} batch sizes were given.")
    else:
        sizes = [int(batch_sizes)] * (5 if n_rounds is None else int(n_rounds))
    if not sizes or min(sizes) < 1:
        raise InvalidParameterError(f"batch sizes must be positive integers; got {sizes}.")
    return sizes


@dataclass
class _Context:
    estimator: object
    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    probe: torch.Tensor
    query_strategy: object
    proxy_estimator: object
    learner_params: dict
    max_candidates: object
    sizes: list
    evaluate: str = "every_round"


class _Run:
    """One method on one seed: yields a record per round."""

    def __init__(self, context, spec, seed, initial, criteria):
        self.c = context
        self.spec = spec
        self.seed = seed
        self.labelled = np.array(initial)
        self.selections = [np.array(initial)]
        self.criteria = criteria
        self.rounds_done = 0
        self._full_flops = None
        params = dict(spec.params)
        self.strategy = params.pop("query_strategy", context.query_strategy)
        self.max_candidates = params.pop("max_candidates", context.max_candidates)
        self.params = params
        self.rng = np.random.RandomState(_derive_seed(seed, spec.name, "select"))

    # ----------------------------------------------------------------- helpers
    def _seed(self, *parts):
        return _derive_seed(self.seed, self.spec.name, *parts)

    def _full_flop_model(self):
        if self._full_flops is None:
            net = clone(self.c.estimator)
            with torch_seed_scope(0, "cpu"):
                net.set_params(device="cpu").initialize()
            self._full_flops = _FlopModel(net.module_, self.c.probe)
        return self._full_flops

    def _pool(self):
        pool = np.setdiff1d(np.arange(len(self.c.X)), self.labelled)
        if self.max_candidates is not None and self.max_candidates < len(pool):
            pool = np.sort(self.rng.choice(pool, int(self.max_candidates), replace=False))
        return pool

    def _train_final(self, round_):
        net = clone(self.c.estimator)
        seconds, epochs = _fit_net(net, self.c.X[self.labelled], self.c.y[self.labelled], self._seed(round_, "final"))
        flops = self._full_flop_model().training(len(self.labelled), epochs)
        return net, seconds, epochs, flops

    def _select_with(self, selector, flop_model, n):
        pool = self._pool()
        start = time.perf_counter()
        indices, _ = call_strategy(get_strategy(self.strategy), selector, self.c.X[pool], n, rng=self.rng)
        seconds = time.perf_counter() - start
        return pool[indices], seconds, flop_model.scoring(len(pool))

    # -------------------------------------------------------------- the loop
    def __iter__(self):
        kind = self.spec.kind
        learner = None
        pending = None  # the batch chosen last round, taught at the start of this one
        for round_ in range(len(self.c.sizes) + 1):
            record = {field_: None for field_ in RECORD_FIELDS}
            record.update(method=self.spec.name, kind=kind, seed=self.seed, round=round_)
            sel_seconds = sel_flops = train_seconds = train_flops = 0.0
            selector_acc, sel_epochs, final_epochs = math.nan, 0, 0
            X_lab, y_lab = self.c.X[self.labelled], self.c.y[self.labelled]
            final = selector = None
            accuracy = math.nan
            if kind == "full":
                final = clone(self.c.estimator)
                sel_seconds, sel_epochs = _fit_net(final, X_lab, y_lab, self._seed(round_, "selector"))
                sel_flops = self._full_flop_model().training(len(X_lab), sel_epochs)
                selector = self._view(final, X_lab, y_lab)
                selector_flops = self._full_flop_model()
            elif kind == "proxy":
                small = clone(self.params.get("estimator", self.c.proxy_estimator))
                sel_seconds, sel_epochs = _fit_net(small, X_lab, y_lab, self._seed(round_, "selector"))
                selector_flops = _FlopModel(small.module_, self.c.probe)
                sel_flops = selector_flops.training(len(X_lab), sel_epochs)
                selector = self._view(small, X_lab, y_lab)
            elif kind == "prunefuse":
                if learner is None:
                    params = {**self.c.learner_params, **self.params}
                    learner = PruneFuseActiveLearner(
                        self.c.estimator, query_strategy=self.strategy, random_state=self._seed("learner"), **params
                    )
                    learner.fit(X_lab, y_lab)
                    selector_flops = _FlopModel(learner.proxy_init_module_, self.c.probe)
                else:
                    learner.teach(self.c.X[pending], self.c.y[pending])
                entry = learner.history_[-1]
                sel_seconds, sel_epochs = entry["fit_seconds"], entry["epochs"]
                trained_on = entry["n_trained"]
                sel_flops = selector_flops.training(trained_on, sel_epochs)
                sync = entry.get("sync")
                if sync:  # T_sync: the learner fused, trained and re-pruned inside teach
                    sel_seconds += sync["seconds"]
                    sel_flops += self._full_flop_model().training(entry["n_labelled"], sync["epochs"])
                    selector_flops = _FlopModel(learner.proxy_init_module_, self.c.probe)
                selector = learner

            # the round's final model: built and scored every round, or (evaluate="last_round") in the
            # round the run ends; random learners have no selector, so their stopping check needs it
            stop_reason = None if kind == "random" else self._stop_reason(selector)
            last = round_ == len(self.c.sizes) or stop_reason is not None
            if self.c.evaluate == "every_round" or last or (kind == "random" and self.criteria):
                if kind in ("random", "proxy"):
                    final, train_seconds, final_epochs, train_flops = self._train_final(round_)
                elif kind == "prunefuse":
                    start = time.perf_counter()
                    final = learner.fuse()
                    train_seconds = time.perf_counter() - start
                    final_epochs = len(final.history)
                    train_flops = self._full_flop_model().training(len(X_lab), final_epochs)
                accuracy = _accuracy(final, self.c.X_test, self.c.y_test)
                if kind == "full":
                    selector_acc = accuracy
                elif kind == "proxy":
                    selector_acc = _accuracy(selector.estimator, self.c.X_test, self.c.y_test)
                elif kind == "prunefuse":
                    selector_acc = _accuracy(learner.proxy_, self.c.X_test, self.c.y_test)
            if kind == "random":
                stop_reason = self._stop_reason(SelectorView(final, X_lab, y_lab)) if self.criteria else None

            scoring_seconds = scoring_flops = 0.0
            if round_ < len(self.c.sizes) and stop_reason is None:
                n = self.c.sizes[round_]
                if kind == "random":
                    pool = self._pool()
                    start = time.perf_counter()
                    chosen = np.sort(self.rng.choice(pool, n, replace=False))
                    scoring_seconds = time.perf_counter() - start
                elif kind == "prunefuse":
                    pool = self._pool()
                    start = time.perf_counter()
                    idx, _ = learner.query(self.c.X[pool], n=n)
                    scoring_seconds = time.perf_counter() - start
                    chosen = pool[idx]
                    scoring_flops = selector_flops.scoring(len(pool))
                else:
                    chosen, scoring_seconds, scoring_flops = self._select_with(selector, selector_flops, n)
                pending = chosen
                self.labelled = np.concatenate([self.labelled, chosen])
                self.selections.append(np.asarray(chosen, dtype=np.int64))

            record.update(
                n_labels=len(X_lab),
                accuracy=accuracy,
                selector_accuracy=selector_acc,
                selector_train_seconds=sel_seconds,
                scoring_seconds=scoring_seconds,
                selection_seconds=sel_seconds + scoring_seconds,
                training_seconds=train_seconds,
                selection_flops=float(sel_flops + scoring_flops),
                training_flops=float(train_flops),
                selector_epochs=int(sel_epochs),
                final_epochs=int(final_epochs),
                stop_reason=stop_reason,
            )
            self.rounds_done += 1
            yield record
            if stop_reason is not None:
                return

    def _view(self, net, X_lab, y_lab):
        """A baseline's fitted selector net as the learner a query strategy sees."""
        output_layers = find_output_layers(net.module_, example_batch(self.c.X, net.device))
        return SelectorView(net, X_lab, y_lab, embedding_layer=embedding_layer(net.module_, output_layers))

    def _stop_reason(self, model):
        if not self.criteria:
            return None
        # the whole remaining pool, not a max_candidates draw: checking a criterion must not
        # consume the random stream that picks the samples
        X_pool = self.c.X[np.setdiff1d(np.arange(len(self.c.X)), self.labelled)]
        for criterion in self.criteria:
            if criterion.should_stop(model, X_pool, n_labels=len(self.labelled)):
                return getattr(criterion, "reason", None) or type(criterion).__name__
        return None
