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

This module holds the entry point, its argument checks and the round loop of one
method on one seed; the records and methods as data live in
:mod:`prunefuse_sk.simulation_results` (re-exported here), and running cells as joblib
tasks in :mod:`prunefuse_sk.simulation_cells`.
"""

import copy
import math
import time
import zlib
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.base import clone
from sklearn.metrics import accuracy_score
from skorch import NeuralNetClassifier
from tqdm.auto import tqdm

from ._random import MAX_SEED, torch_seed_scope
from .architecture import embedding_layer, example_batch, find_output_layers, token_input
from .exceptions import CellFailedError, InvalidParameterError
from .flops import per_sample_flops
from .inputs import as_samples, check_inputs
from .labels import check_labels
from .learner import PruneFuseActiveLearner
from .persistence import json_value
from .scoring import score_pool
from .simulation_cells import check_n_jobs, run_cells_in_parallel
from .simulation_results import (
    METHOD_KINDS,
    RECORD_FIELDS,
    MethodSpec,
    SimulationResults,
    check_ratio,
)
from .skorch_nets import fit_seeded, initialized_module
from .strategies import SelectorView, call_strategy, get_strategy

__all__ = ["simulate", "SimulationResults", "MethodSpec", "METHOD_KINDS", "RECORD_FIELDS"]

EVALUATE = ("every_round", "last_round")


# ------------------------------------------------------------------ helpers
def _derive_seed(*parts):
    """A 31-bit seed from ints and strings, stable across runs and platforms."""
    words = [p if isinstance(p, int) else zlib.crc32(str(p).encode()) for p in parts]
    return int(np.random.SeedSequence(words).generate_state(1)[0] % MAX_SEED)


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

        A cell that raises does not stop the others; once they have run,
        :class:`~prunefuse_sk.exceptions.CellFailedError` names every failed
        cell with its seed and method and holds the finished cells' records
        (``error.results``). On a dask cluster the cells are submitted to its
        client directly, with the data held by tasks the scheduler can
        compute again: a cell whose worker dies is run again on another (the scheduler's
        ``allowed-failures``, 3 by default) and gives the records it would
        have given; a closed or unreachable scheduler raises
        :class:`~prunefuse_sk.exceptions.SchedulerUnavailableError` before
        anything runs (see the user guide's "When a cluster fails").

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
    specs = _method_specs(methods, proxy_estimator, learner_params)  # before any work
    X, y_enc, X_test, y_test_enc = _check_data(estimator, X, y, X_test, y_test)
    sizes = _batch_sizes(batch_sizes, n_rounds)
    initial_size = _check_initial_size(initial_size, sizes, len(X))
    seeds = [int(s) for s in (seeds if np.iterable(seeds) else [seeds])]
    criteria = _criteria(stopping)
    get_strategy(query_strategy)
    check_n_jobs(n_jobs)
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
    config = _config(context, specs, seeds, initial_size, probe_size, n_jobs)
    initial_sets = {
        seed: np.random.RandomState(_derive_seed(seed, "initial")).choice(
            len(X), initial_size, replace=False
        )
        for seed in seeds
    }
    cells = [(seed, spec, initial_sets[seed]) for seed in seeds for spec in specs]
    total = len(cells) * (len(sizes) + 1)
    bar = tqdm(total=total, desc="simulating", unit="round", disable=not progress)
    collected = _Collected(specs, len(sizes) + 1, callback, bar)
    try:
        if n_jobs is None or n_jobs == 1:
            _run_serially(context, cells, criteria, collected)
        else:  # the bar moves as whole cells end: say so, or it looks stuck at 0 for minutes
            bar.set_postfix_str(f"{len(cells)} cells in parallel; counted as each one ends")
            failures = run_cells_in_parallel(
                _Run, context, cells, criteria, n_jobs, collected.add_cell
            )
            if failures:
                results = SimulationResults(collected.records, config, collected.selections)
                raise _cells_failed(failures, len(cells), results)
    finally:
        bar.close()
    return SimulationResults(collected.records, config, collected.selections)


def _cells_failed(failures, n_cells, results):
    """The error that reports every failed cell with its seed and method; the rest is kept."""
    listed = "; ".join(
        f"seed {seed}, method {spec.name!r}: {type(error).__name__}: {error}"
        for seed, spec, error in failures
    )
    error = CellFailedError(
        f"{len(failures)} of {n_cells} simulation cells failed for good ({listed}). The records "
        f"of the {n_cells - len(failures)} cells that finished are kept in this error's "
        "`results` (and were passed to callback as each cell ended); run the failed cells "
        "again with seeds=[...] and methods=[...].",
        failures=[(seed, spec.name, error) for seed, spec, error in failures],
        results=results,
    )
    error.__cause__ = failures[0][2]
    return error


def _config(context, specs, seeds, initial_size, probe_size, n_jobs):
    """How the simulation was run, as JSON data: ``SimulationResults.config``."""
    strategy = context.query_strategy
    return {
        "initial_size": initial_size,
        "batch_sizes": context.sizes,
        "seeds": seeds,
        "methods": [
            {"name": s.name, "kind": s.kind, "params": json_value(s.params, lenient=True)}
            for s in specs
        ],
        "query_strategy": strategy if isinstance(strategy, str) else repr(strategy),
        "n_pool": len(context.X),
        "n_test": len(context.X_test),
        "max_candidates": context.max_candidates,
        "probe_size": int(probe_size),
        "torch": torch.__version__,
        "device": str(context.estimator.device),
        "n_jobs": None if n_jobs is None else int(n_jobs),
        "evaluate": context.evaluate,
    }


# ------------------------------------------------------------- argument checks
def _check_data(estimator, X, y, X_test, y_test):
    """The pool and test set validated, with labels encoded as indices into the pool's classes."""
    if not isinstance(estimator, NeuralNetClassifier):
        raise InvalidParameterError(
            "estimator must be an unfitted skorch NeuralNetClassifier; "
            f"got {type(estimator).__name__}."
        )
    # float32 features, or int64 token ids when the network's input layer is an embedding
    tokens = token_input(initialized_module(estimator, seed=0, on_cpu=True))
    X = check_inputs(as_samples(X), token_input=tokens)
    y = check_labels(y, len(X))
    X_test = check_inputs(
        as_samples(X_test, name="X_test"),
        token_input=tokens,
        name="X_test",
        n_features_shape=X.shape[1:],
    )
    y_test = check_labels(y_test, len(X_test), name="y_test")
    classes, y_enc = np.unique(y, return_inverse=True)
    unknown = np.setdiff1d(np.unique(y_test), classes)
    if len(unknown):
        raise InvalidParameterError(
            f"y_test has labels {unknown.tolist()[:10]} that never occur in y."
        )
    return X, y_enc, X_test, np.searchsorted(classes, y_test)


def _method_specs(methods, proxy_estimator, learner_params=None):
    """The methods parsed, with unique names, a pruning ratio in (0, 1) for every ``prunefuse``
    method and a selector net for every ``proxy`` method."""
    specs = [MethodSpec.parse(m) for m in methods]
    default_ratio = (learner_params or {}).get("pruning_ratio")
    for spec in specs:  # MethodSpec.parse checks names and dicts; this also given specs, defaults
        ratio = spec.params.get("pruning_ratio", default_ratio)
        if spec.kind == "prunefuse" and ratio is not None:
            check_ratio(spec.name, ratio)
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise InvalidParameterError(
            f"Method names must be unique; got {names}. Give dict methods a 'name'."
        )
    for spec in specs:
        if spec.kind == "proxy" and proxy_estimator is None and "estimator" not in spec.params:
            raise InvalidParameterError(
                "The 'proxy' method (Selection via Proxy) needs a small selector network: pass "
                "proxy_estimator=NeuralNetClassifier(...) or {'method': 'proxy', 'estimator': net}."
            )
    return specs


def _batch_sizes(batch_sizes, n_rounds):
    if np.iterable(batch_sizes):
        sizes = [int(b) for b in batch_sizes]
        if n_rounds is not None and n_rounds != len(sizes):
            raise InvalidParameterError(
                f"n_rounds={n_rounds} but {len(sizes)} batch sizes were given."
            )
    else:
        sizes = [int(batch_sizes)] * (5 if n_rounds is None else int(n_rounds))
    if not sizes or min(sizes) < 1:
        raise InvalidParameterError(f"batch sizes must be positive integers; got {sizes}.")
    return sizes


def _check_initial_size(initial_size, sizes, n_pool):
    """``initial_size`` as an int, if it and the batches fit in a pool of ``n_pool`` rows."""
    initial_size = int(initial_size)
    if initial_size < 1 or initial_size + sum(sizes) > n_pool:
        raise InvalidParameterError(
            f"initial_size ({initial_size}) + batch sizes ({sum(sizes)}) must be between 1 and the "
            f"pool size ({n_pool}); label fewer samples or pass a larger X."
        )
    return initial_size


def _criteria(stopping):
    """``stopping`` as a list of criteria (empty for None)."""
    if stopping is None:
        return []
    return list(stopping) if isinstance(stopping, (list, tuple)) else [stopping]


# ------------------------------------------------------------------ the runs
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


class _Collected:
    """The runs' records and selections as they come, passed on to the callback and the bar."""

    def __init__(self, specs, rounds_per_run, callback, bar):
        self.records = []
        self.selections = {spec.name: {} for spec in specs}
        self.rounds_per_run = rounds_per_run
        self.callback = callback
        self.bar = bar

    def add_record(self, record):
        self.records.append(record)
        if self.callback is not None:
            self.callback(record)

    def add_cell(self, seed, spec, records, selections):
        """A cell run in a joblib task: its records, its progress and its selections at once."""
        for record in records:
            self.add_record(record)
        self.bar.set_postfix_str(f"seed={seed} {spec.name} done")
        self.bar.update(self.rounds_per_run)
        self.selections[spec.name][seed] = selections


def _run_serially(context, cells, criteria, collected):
    """Run the cells one after the other in this process, a record at a time."""
    for seed, spec, initial in cells:
        collected.bar.set_postfix_str(f"seed={seed} {spec.name}")
        run = _Run(context, spec, seed, initial, [copy.deepcopy(c) for c in criteria])
        try:
            for record in run:
                collected.add_record(record)
                collected.bar.update(1)
        except Exception as error:
            if hasattr(error, "add_note"):  # Python >= 3.11: say which cell it was
                error.add_note(f"(in simulate's cell seed={seed}, method={spec.name!r})")
            raise
        collected.bar.update(collected.rounds_per_run - run.rounds_done)  # stopped early
        collected.selections[spec.name][seed] = run.selections


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
        self.learner = None  # the prunefuse methods' learner, fitted in the first round
        self.pending = None  # the batch chosen last round, taught at the start of this one
        self.selector_flops = None  # the FLOP model of the net that scores the pool
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
        seed = self._seed(round_, "final")
        seconds, epochs = _fit_net(net, self.c.X[self.labelled], self.c.y[self.labelled], seed)
        flops = self._full_flop_model().training(len(self.labelled), epochs)
        return net, seconds, epochs, flops

    def _select_with(self, selector, flop_model, n):
        pool = self._pool()
        start = time.perf_counter()
        strategy = get_strategy(self.strategy)
        indices, _ = call_strategy(strategy, selector, self.c.X[pool], n, rng=self.rng)
        seconds = time.perf_counter() - start
        return pool[indices], seconds, flop_model.scoring(len(pool))

    # -------------------------------------------------------------- the loop
    def __iter__(self):
        for round_ in range(len(self.c.sizes) + 1):
            record = self._round(round_)
            self.rounds_done += 1
            yield record
            if record["stop_reason"] is not None:
                return

    def _round(self, round_):
        """Train the selector, build and score the final model, check for a stop, select a batch."""
        kind = self.spec.kind
        X_lab, y_lab = self.c.X[self.labelled], self.c.y[self.labelled]
        selector, final, sel_seconds, sel_epochs, sel_flops = self._train_selector(
            round_, X_lab, y_lab
        )
        accuracy = selector_acc = math.nan
        train_seconds = train_flops = 0.0
        final_epochs = 0
        # the round's final model: built and scored every round, or (evaluate="last_round") in the
        # round the run ends; random learners have no selector, so their stopping check needs it
        stop_reason = None if kind == "random" else self._stop_reason(selector)
        last = round_ == len(self.c.sizes) or stop_reason is not None
        if self.c.evaluate == "every_round" or last or (kind == "random" and self.criteria):
            final, train_seconds, final_epochs, train_flops = self._final_model(
                round_, final, len(X_lab)
            )
            accuracy, selector_acc = self._accuracies(final, selector)
        if kind == "random":
            stop_reason = None
            if self.criteria:
                stop_reason = self._stop_reason(SelectorView(final, X_lab, y_lab))

        scoring_seconds = scoring_flops = 0.0
        if round_ < len(self.c.sizes) and stop_reason is None:
            scoring_seconds, scoring_flops = self._select_next(self.c.sizes[round_], selector)

        record = {field_: None for field_ in RECORD_FIELDS}
        record.update(
            method=self.spec.name,
            kind=kind,
            seed=self.seed,
            round=round_,
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
        return record

    # ------------------------------------------------------ the round's steps
    def _train_selector(self, round_, X_lab, y_lab):
        """This round's selector: ``(selector, final model or None, seconds, epochs, FLOPs)``."""
        kind = self.spec.kind
        if kind == "full":
            return self._train_full(round_, X_lab, y_lab)
        if kind == "proxy":
            return self._train_proxy(round_, X_lab, y_lab)
        if kind == "prunefuse":
            return self._teach_learner(X_lab, y_lab)
        return None, None, 0.0, 0, 0.0  # random: no selector

    def _train_full(self, round_, X_lab, y_lab):
        """Classic active learning: the full net, trained anew, selects and is the final model."""
        final = clone(self.c.estimator)
        seconds, epochs = _fit_net(final, X_lab, y_lab, self._seed(round_, "selector"))
        flops = self._full_flop_model().training(len(X_lab), epochs)
        selector = self._view(final, X_lab, y_lab)
        self.selector_flops = self._full_flop_model()
        return selector, final, seconds, epochs, flops

    def _train_proxy(self, round_, X_lab, y_lab):
        """Selection via Proxy: a small net, trained anew, selects."""
        small = clone(self.params.get("estimator", self.c.proxy_estimator))
        seconds, epochs = _fit_net(small, X_lab, y_lab, self._seed(round_, "selector"))
        self.selector_flops = _FlopModel(small.module_, self.c.probe)
        flops = self.selector_flops.training(len(X_lab), epochs)
        return self._view(small, X_lab, y_lab), None, seconds, epochs, flops

    def _teach_learner(self, X_lab, y_lab):
        """PruneFuse: the learner fitted in the first round, then taught last round's batch."""
        if self.learner is None:
            params = {**self.c.learner_params, **self.params}
            self.learner = PruneFuseActiveLearner(
                self.c.estimator,
                query_strategy=self.strategy,
                random_state=self._seed("learner"),
                **params,
            )
            # a proxy vocabulary counts the ids of the labelled rows and the pool
            pool = {"X_pool": self.c.X} if params.get("proxy_vocabulary") is not None else {}
            self.learner.fit(X_lab, y_lab, **pool)
            self.selector_flops = _FlopModel(self.learner.proxy_init_module_, self.c.probe)
        else:
            self.learner.teach(self.c.X[self.pending], self.c.y[self.pending])
        entry = self.learner.history_[-1]
        seconds, epochs = entry["fit_seconds"], entry["epochs"]
        flops = self.selector_flops.training(entry["n_trained"], epochs)
        sync = entry.get("sync")
        if sync:  # T_sync: the learner fused, trained and re-pruned inside teach
            seconds += sync["seconds"]
            flops += self._full_flop_model().training(entry["n_labelled"], sync["epochs"])
            self.selector_flops = _FlopModel(self.learner.proxy_init_module_, self.c.probe)
        return self.learner, None, seconds, epochs, flops

    def _final_model(self, round_, final, n_labelled):
        """The round's final full-size model: ``(model, seconds, epochs, FLOPs)`` of building it."""
        kind = self.spec.kind
        if kind in ("random", "proxy"):
            return self._train_final(round_)
        if kind == "prunefuse":
            start = time.perf_counter()
            final = self.learner.fuse()
            seconds = time.perf_counter() - start
            epochs = len(final.history)
            return final, seconds, epochs, self._full_flop_model().training(n_labelled, epochs)
        return final, 0.0, 0, 0.0  # full: the selector, already trained, is the final model

    def _accuracies(self, final, selector):
        """Test accuracy of the final model and of the selector (NaN without one)."""
        accuracy = _accuracy(final, self.c.X_test, self.c.y_test)
        kind = self.spec.kind
        if kind == "full":
            return accuracy, accuracy
        if kind == "proxy":
            return accuracy, _accuracy(selector.estimator, self.c.X_test, self.c.y_test)
        if kind == "prunefuse":
            return accuracy, _accuracy(self.learner.proxy_, self.c.X_test, self.c.y_test)
        return accuracy, math.nan

    def _select_next(self, n, selector):
        """Pick the next ``n`` samples, label them; ``(scoring seconds, scoring FLOPs)``."""
        kind = self.spec.kind
        scoring_flops = 0.0
        if kind == "random":
            pool = self._pool()
            start = time.perf_counter()
            chosen = np.sort(self.rng.choice(pool, n, replace=False))
            scoring_seconds = time.perf_counter() - start
        elif kind == "prunefuse":
            pool = self._pool()
            start = time.perf_counter()
            idx, _ = self.learner.query(self.c.X[pool], n=n)
            scoring_seconds = time.perf_counter() - start
            chosen = pool[idx]
            scoring_flops = self.selector_flops.scoring(len(pool))
        else:
            chosen, scoring_seconds, scoring_flops = self._select_with(
                selector, self.selector_flops, n
            )
        self.pending = chosen
        self.labelled = np.concatenate([self.labelled, chosen])
        self.selections.append(np.asarray(chosen, dtype=np.int64))
        return scoring_seconds, scoring_flops

    def _view(self, net, X_lab, y_lab):
        """A baseline's fitted selector net as the learner a query strategy sees."""
        output_layers = find_output_layers(net.module_, example_batch(self.c.X, net.device))
        embedding = embedding_layer(net.module_, output_layers)
        return SelectorView(net, X_lab, y_lab, embedding_layer=embedding)

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
