"""Query benchmark: does pool scoring waste the proxy's cheapness? (issue 4, issue 13)

On Fashion-MNIST (real 28x28 images, installed by the Debian package
``dataset-fashion-mnist``) with ``prunefuse_sk.networks.SmallCNN(n_classes=10,
image_size=28)`` as the full-size network, and on scikit-learn's digits with the
default estimator (a small MLP), this script measures

(a) ``learner.query(X_pool, n=1000)`` (default ``least_confidence`` strategy, p=0.5)
    divided by a bare ``torch.inference_mode()`` forward of the proxy module over
    the same pool at its *fastest* batch size (a sweep of 256 to 16,384 rows and the
    query's own batch size), for two networks: the 64-feature MLP over the 1,797
    digits / 16 tiled to 72,000 rows, and the SmallCNN over the 60,000-row
    Fashion-MNIST training pool (target <= 1.10, with a verdict on the median of
    the per-repetition ratios and one on the ratio of the fastest runs);
(b) ``greedy_k_centers`` on 100,000 x 128 embeddings, 1,000 picks from 1,000
    initial centres: time and peak memory, next to scikit-activeml's
    ``k_greedy_center`` on the same data when it is importable;
(c) the peak resident memory above the fitted model while querying a
    1,000,000-row ``np.memmap`` pool (anonymous memory; target <= 300 MB);
(d) query time at pruning ratios 0.5 and 0.7 divided by the same query with the
    unpruned network (CNN; run in the same repetitions as (a)'s CNN case).

Every number in the printed table is measured on the current machine; nothing
is hard-coded. ``--sections a`` runs section (a) only, ``--sections c`` the
memmap pool only; ``--previous-json`` carries the sections not run over from an
earlier result file, marked as such. Run ``python benchmarks/bench_query.py --help``
for the options.
"""

import argparse
import copy
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from skorch import NeuralNetClassifier

from prunefuse_sk import PruneFuseActiveLearner
from prunefuse_sk.architecture import count_parameters
from prunefuse_sk.datasets import load_fashion_mnist
from prunefuse_sk.networks import SmallCNN
from prunefuse_sk.pools import take_rows
from prunefuse_sk.scoring import DEFAULT_SCORING_MEMORY, score_pool, scoring_row_bytes
from prunefuse_sk.scoring import scoring_batch_size as library_batch_size
from prunefuse_sk.strategies.measures import least_confidence
from prunefuse_sk.strategies.selectors import greedy_k_centers, top_n

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_core import CONTENDED_CORES, available_cpus, machine_info, system_busy_seconds  # noqa: E402

from prunefuse_sk.flops import forward_flops  # noqa: E402

RATIOS = (0.5, 0.7)
N_LABELLED = 1000
N_LABELLED_MLP = 500  # (a), MLP case: labelled digits rows
SWEEP_REPEATS = 3  # (a): timings of each candidate batch size of the bare forward
SWEEP_MEMORY_MB = 1024.0  # (a): largest estimated batch memory tried in the sweep
N_QUERY = 1000
QUERY_TARGET = 1.10  # (a): query time / bare forward time
MEMMAP_TARGET_MB = 300.0  # (c): peak anonymous memory above the model
FLOP_BATCH = 256
DISK_MARGIN = 2 * 1024**3  # keep this much disk free when writing the memmap pool
SAMPLE_INTERVAL_S = 0.002  # RSS sampling period
MB = 1024.0**2


# --------------------------------------------------------------------------- memory
def read_status():
    """Resident memory of this process from ``/proc/self/status`` (Linux only).

    Returns
    -------
    status : dict or None
        ``VmRSS`` (total resident), ``RssAnon`` (anonymous: what the process
        allocates itself), ``RssFile`` (file-backed pages, e.g. a memmap's page
        cache) and ``VmHWM`` (peak VmRSS), in bytes; ``None`` where the file
        cannot be read.
    """
    wanted = ("VmRSS", "RssAnon", "RssFile", "VmHWM")
    status = {}
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key in wanted:
                    status[key] = int(value.split()[0]) * 1024
    except (OSError, ValueError):
        return None
    return status if all(key in status for key in wanted) else None


def reset_peak_rss():
    """Reset ``VmHWM`` to the current RSS (``echo 5 > /proc/self/clear_refs``, Linux >= 4.0).

    Returns
    -------
    ok : bool
        Whether the kernel accepted the reset; when not, ``VmHWM`` is the
        lifetime peak and only the sampled peaks are meaningful.
    """
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


class PeakSampler:
    """Track the peak of ``VmRSS``, ``RssAnon`` and ``RssFile`` with a background thread.

    tracemalloc does not see torch's allocations, so the resident set is
    sampled from ``/proc/self/status`` every ``interval`` seconds (numpy and
    torch release the GIL in their kernels, so the sampler keeps running).
    A spike shorter than the interval can be missed; ``VmHWM`` (reset on
    entry) gives the exact peak of the total ``VmRSS`` as a cross-check.

    Parameters
    ----------
    interval : float
        Seconds between samples.
    """

    def __init__(self, interval=SAMPLE_INTERVAL_S):
        self.interval = interval
        self.peak = {}
        self.n_samples = 0
        self.hwm_reset = False
        self._stop = threading.Event()
        self._thread = None

    def _sample(self):
        status = read_status()
        if status is None:
            return
        self.n_samples += 1
        for key in ("VmRSS", "RssAnon", "RssFile"):
            self.peak[key] = max(self.peak.get(key, 0), status[key])

    def _run(self):
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        gc.collect()
        self.hwm_reset = reset_peak_rss()
        self.baseline = read_status()
        self.peak = {}
        self._stop.clear()
        self._sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()
        self._sample()
        final = read_status()
        self.hwm = final["VmHWM"] if final is not None else None
        return False

    def growth_mb(self):
        """Peak minus baseline, in MiB, for each sampled counter (and ``VmHWM`` when reset)."""
        if self.baseline is None or not self.peak:
            return None
        growth = {key: (self.peak[key] - self.baseline[key]) / MB for key in self.peak}
        if self.hwm_reset and self.hwm is not None:
            growth["VmHWM"] = (self.hwm - self.baseline["VmRSS"]) / MB
        return growth


# --------------------------------------------------------------------------- setup
def _sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def make_net(epochs, device):
    """The unfitted full-size skorch classifier: SmallCNN for 28x28 Fashion-MNIST.

    Parameters
    ----------
    epochs : int
    device : str

    Returns
    -------
    net : skorch.NeuralNetClassifier
    """
    return NeuralNetClassifier(
        SmallCNN,
        module__n_classes=10,
        module__image_size=28,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=epochs,
        batch_size=64,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
        device=device,
    )


def labelled_rows(y_test, seed):
    """Indices of ``N_LABELLED`` test-split rows, stratified by class.

    The labelled set comes from the 10,000-row test split so that the pool is
    exactly the 60,000 training rows.
    """
    rng = np.random.RandomState(seed)
    classes = np.unique(y_test)
    per_class = N_LABELLED // len(classes)
    rows = [rng.choice(np.flatnonzero(y_test == c), per_class, replace=False) for c in classes]
    return np.sort(np.concatenate(rows))


def fit_learner(net, X_lab, y_lab, ratio, seed):
    """A fitted ``PruneFuseActiveLearner(net, pruning_ratio=ratio, random_state=seed)``."""
    return PruneFuseActiveLearner(net, pruning_ratio=ratio, random_state=seed).fit(X_lab, y_lab)


def unpruned_learner(template_learner, net, X_lab, y_lab, seed):
    """The same learner with its ``proxy_`` replaced by the full network trained on the same rows.

    ``query`` then runs exactly its usual code path (input check, ``score_pool``,
    least-confidence measure, ``top_n``, ``take_rows``) with the unpruned
    network doing the scoring.

    Returns
    -------
    learner : PruneFuseActiveLearner
        A shallow copy of ``template_learner``.
    full : skorch.NeuralNetClassifier
        ``clone(net)`` fitted on ``(X_lab, y_lab)``.
    """
    full = clone(net)
    torch.manual_seed(seed)
    full.fit(X_lab, y_lab)
    learner = copy.copy(template_learner)
    # the proxy in use lives in the learner's retraining state (proxy_ reads it): substitute it
    # there
    learner._retraining = copy.copy(template_learner._retraining)
    learner._retraining.net = full
    return learner, full


def scoring_batch_size(net, X):
    """The batch size ``score_pool`` uses by default on ``X``: the rows that fit
    ``DEFAULT_SCORING_MEMORY``."""
    return library_batch_size(net, X)


def bare_forward(module, X, batch_size, device):
    """A bare forward pass of ``module`` over ``X`` (eval mode, inference mode, outputs dropped)."""
    was_training = module.training
    module.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(X), batch_size):
                module(torch.as_tensor(X[start : start + batch_size]).to(device))
    finally:
        module.train(was_training)


def repeated(fn, times):
    """``fn`` called ``times`` times; the last result."""
    result = None
    for _ in range(times):
        result = fn()
    return result


def timed(fn, device):
    """Run ``fn()``; wall seconds, the result, and how many cores other processes kept busy.

    Returns
    -------
    seconds : float
    result : object
    other_cores : float or None
        Average number of cores busy outside this process meanwhile (Linux).
    """
    _sync(device)
    busy_start = system_busy_seconds()
    cpu_start = time.process_time()
    start = time.perf_counter()
    result = fn()
    _sync(device)
    seconds = time.perf_counter() - start
    cpu_s = time.process_time() - cpu_start
    busy_end = system_busy_seconds()
    other = None
    if busy_start is not None and busy_end is not None:
        other = max(busy_end - busy_start - cpu_s, 0.0) / max(seconds, 1e-9)
    return seconds, result, other


def _check_query(result, n):
    indices = result[0]
    if len(indices) != n or len(np.unique(indices)) != n:
        raise RuntimeError(
            f"learner.query returned {len(indices)} indices ({len(np.unique(indices))} unique), "
            f"not {n}."
        )


def _busy(*other_lists):
    """Repetitions in which any arm saw other processes above ``CONTENDED_CORES``."""
    if any(v is None for values in other_lists for v in values):
        return None
    return sum(1 for values in zip(*other_lists) if any(v > CONTENDED_CORES for v in values))


# --------------------------------------------------------------------------- (a) and (d)
def sweep_candidates(net, X_pool, scoring_rows):
    """Batch sizes the bare forward is tried at: powers of two from 256 to 16,384, and the query's
    own.

    Sizes whose estimated memory (:func:`~prunefuse_sk.scoring.scoring_row_bytes`)
    exceeds ``SWEEP_MEMORY_MB`` are left out (a 16,384-row batch of the 28x28 CNN would
    take gigabytes); sizes above the pool are capped to it.
    """
    row_bytes = scoring_row_bytes(net, X_pool)
    sizes = {min(2**k, len(X_pool)) for k in range(8, 15)} | {int(scoring_rows)}
    fitting = sorted(size for size in sizes if size * row_bytes <= SWEEP_MEMORY_MB * MB)
    return fitting or [min(sizes)]


def forward_sweep(module, X_sweep, candidates, inner, args):
    """Time the bare forward over ``X_sweep`` at every candidate batch size (interleaved); min
    seconds each."""
    times = {size: [] for size in candidates}
    for rep in range(SWEEP_REPEATS):
        order = candidates if rep % 2 == 0 else candidates[::-1]
        for size in order:
            seconds, _, _ = timed(
                lambda size=size: repeated(
                    lambda: bare_forward(module, X_sweep, size, args.device), inner
                ),
                args.device,
            )
            times[size].append(seconds / inner)
    return {size: min(values) for size, values in times.items()}


def calibrate(fn, device, min_seconds):
    """How many calls of ``fn`` make one timed sample of at least ``min_seconds`` (1 for slow
    calls)."""
    fn()  # warm-up
    seconds, _, _ = timed(fn, device)
    return max(1, int(np.ceil(min_seconds / max(seconds, 1e-6))))


def _fastest_forward_batch(name, module, X_sweep, candidates, args):
    """Warm up and sweep the bare forward over ``candidates``; the sweep and its fastest size.

    Returns
    -------
    sweep : dict
        Batch size -> min seconds of the bare forward over ``X_sweep``.
    best : int
        The fastest batch size.
    """
    device = args.device
    # untimed warm-up (first-call dispatch, oneDNN primitives) at every candidate size, then the
    # sweep
    for size in candidates:
        bare_forward(module, X_sweep[: min(len(X_sweep), 2 * size)], size, device)
    inner_sweep = calibrate(
        lambda: bare_forward(module, X_sweep, candidates[-1], device), device, args.min_sample_s
    )
    sweep = forward_sweep(module, X_sweep, candidates, inner_sweep, args)
    best = min(sweep, key=sweep.get)
    print(
        f"  ({name}) forward sweep: "
        + ", ".join(f"{size}: {sweep[size] * 1000:.2f} ms" for size in candidates)
        + f"; fastest {best}",
        file=sys.stderr,
        flush=True,
    )
    return sweep, best


def _time_query_arms(name, arms, n, repeats, args):
    """Time every arm once per repetition, in alternating order.

    Returns
    -------
    inner : dict
        Arm -> calls per timed sample.
    times : dict
        Arm -> seconds per call, one per repetition.
    others : dict
        Arm -> cores other processes kept busy, one per repetition.
    """
    device = args.device
    inner = {arm: calibrate(fn, device, args.min_sample_s) for arm, fn in arms.items()}
    # the same count for the ratio
    inner["forward"] = inner["query"] = max(inner["forward"], inner["query"])
    times = {arm: [] for arm in arms}
    others = {arm: [] for arm in arms}
    for rep in range(repeats):
        order = list(arms) if rep % 2 == 0 else list(arms)[::-1]
        for arm in order:
            seconds, result, other = timed(lambda arm=arm: repeated(arms[arm], inner[arm]), device)
            if arm != "forward":
                _check_query(result, n)
            times[arm].append(seconds / inner[arm])
            others[arm].append(other)
            print(
                f"  ({name}) rep {rep + 1}/{repeats} {arm:<11} "
                f"{seconds / inner[arm] * 1000:10.2f} ms (x{inner[arm]})",
                file=sys.stderr,
                flush=True,
            )
    return inner, times, others


def _selection_only_times(net, X_pool, n, repeats):
    """Seconds of the selection alone, one per repetition (at least 5)."""
    # selection alone (least-confidence measure + top_n + take_rows) on precomputed probabilities
    proba = score_pool(net, X_pool[: min(len(X_pool), 1024)]).proba
    proba = np.resize(proba, (len(X_pool), proba.shape[1]))
    select_times = []
    for rep in range(max(repeats, 5)):
        start = time.perf_counter()
        indices = top_n(least_confidence(proba), n, random_state=rep)
        take_rows(X_pool, indices)
        select_times.append(time.perf_counter() - start)
    return select_times


def _query_forward_verdict(times, others):
    """The query / forward ratios of section (a) and their verdicts against ``QUERY_TARGET``."""
    ratios = [q / f for q, f in zip(times["query"], times["forward"])]
    a = {
        "median": statistics.median(ratios),
        "min": min(ratios),
        "max": max(ratios),
        "values": ratios,
        "min_ratio": min(times["query"]) / min(times["forward"]),
        "target": QUERY_TARGET,
        "busy": _busy(others["query"], others["forward"]),
    }
    a["pass"] = a["median"] <= QUERY_TARGET  # verdict on the median ratio
    a["pass_fastest"] = a["min_ratio"] <= QUERY_TARGET  # verdict on the fastest runs
    return a


def bench_query_case(
    name, learner, X_pool, args, *, extra_arms=None, sweep_rows=None, repeats=None, description=""
):
    """Section (a) for one network: ``learner.query`` / the bare forward of its proxy at its fastest
    batch size.

    The bare forward's batch size is the fastest of :func:`sweep_candidates`, timed on the
    first ``sweep_rows`` rows of the pool; then every repetition runs each arm once
    (``inner`` calls per timed sample for fast arms, so a sample lasts at least
    ``--min-sample-s``), in alternating order. Ratios are taken per repetition, then the
    median; and the ratio of the fastest samples.

    Returns
    -------
    result : dict
    """
    device = args.device
    net = learner.proxy_
    module = net.module_
    n = min(N_QUERY, len(X_pool))
    repeats = repeats or args.repeats
    scoring_rows = scoring_batch_size(net, X_pool)
    candidates = sweep_candidates(net, X_pool, scoring_rows)
    X_sweep = X_pool if sweep_rows is None else X_pool[:sweep_rows]
    sweep, best = _fastest_forward_batch(name, module, X_sweep, candidates, args)

    arms = {
        "forward": lambda: bare_forward(module, X_pool, best, device),
        "query": lambda: learner.query(X_pool, n=n),
    }
    arms.update(extra_arms or {})
    inner, times, others = _time_query_arms(name, arms, n, repeats, args)
    select_times = _selection_only_times(net, X_pool, n, repeats)
    a = _query_forward_verdict(times, others)
    return {
        "name": name,
        "description": description,
        "n_pool": int(len(X_pool)),
        "sample_shape": list(X_pool.shape[1:]),
        "n_query": n,
        "params_proxy": count_parameters(module),
        "scoring_batch_size": int(scoring_rows),
        "scoring_row_bytes": int(scoring_row_bytes(net, X_pool)),
        "scoring_memory_mb": DEFAULT_SCORING_MEMORY,
        "forward_batch_size": int(best),
        "sweep_rows": int(len(X_sweep)),
        "sweep_s": {str(size): seconds for size, seconds in sweep.items()},
        "inner": inner,
        "times_s": times,
        "other_cores": others,
        "median_s": {arm: statistics.median(values) for arm, values in times.items()},
        "selection_only_s": select_times,
        "median_selection_only_s": statistics.median(select_times),
        "a": a,
    }


def digits_pool(rows):
    """scikit-learn's digits (1,797 real 8x8 images) / 16 as float32, tiled to ``rows`` rows of 64
    features."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    reps = -(-rows // len(X))
    return np.ascontiguousarray(np.tile(X, (reps, 1))[:rows]), X, y


def bench_mlp_case(args):
    """Section (a), MLP case: the default estimator (an MLP 64-128-64-10, proxy 64-64-32-10 at
    p=0.5)."""
    X_pool, X, y = digits_pool(args.mlp_rows)
    rng = np.random.RandomState(args.seed)
    lab = np.sort(rng.choice(len(X), N_LABELLED_MLP, replace=False))
    print("(a) mlp: fitting the proxy ...", file=sys.stderr, flush=True)
    learner = PruneFuseActiveLearner(pruning_ratio=0.5, random_state=args.seed).fit(X[lab], y[lab])
    description = (
        f"default estimator (MLP 64-128-64-10, proxy {_widths(learner.proxy_.module_)}), fitted on "
        f"{N_LABELLED_MLP} digits rows; pool: the 1,797 digits / 16 tiled to {len(X_pool):,} rows"
    )
    return bench_query_case(
        "mlp", learner, X_pool, args, repeats=args.mlp_repeats, description=description
    )


def _widths(module):
    widths = [layer.in_features for layer in module.modules() if isinstance(layer, torch.nn.Linear)]
    last = [layer.out_features for layer in module.modules() if isinstance(layer, torch.nn.Linear)][
        -1:
    ]
    return "-".join(str(w) for w in widths + last)


def bench_cnn_case(X_pool, X_lab, y_lab, args, with_d):
    """Section (a), CNN case (Fashion-MNIST SmallCNN), and section (d) in the same repetitions when
    asked."""
    print(
        "(a) cnn: fitting the proxies" + (" and the unpruned net" if with_d else "") + " ...",
        file=sys.stderr,
        flush=True,
    )
    net = make_net(args.epochs, args.device)
    learners = {
        ratio: fit_learner(net, X_lab, y_lab, ratio, args.seed)
        for ratio in (RATIOS if with_d else (0.5,))
    }
    n = min(N_QUERY, len(X_pool))
    extra, full_net = {}, None
    if with_d:
        full_learner, full_net = unpruned_learner(learners[0.5], net, X_lab, y_lab, args.seed)
        extra = {
            f"query_{ratio}": (lambda lr: lambda: lr.query(X_pool, n=n))(learners[ratio])
            for ratio in RATIOS
            if ratio != 0.5
        }
        extra["query_full"] = lambda: full_learner.query(X_pool, n=n)
    description = (
        f"SmallCNN(n_classes=10, image_size=28), {args.epochs} epochs on {len(y_lab):,} labelled "
        f"rows; pool: the first {len(X_pool):,} Fashion-MNIST training images, float32 (n,1,28,28)"
    )
    case = bench_query_case(
        "cnn",
        learners[0.5],
        X_pool,
        args,
        extra_arms=extra,
        sweep_rows=min(len(X_pool), args.cnn_sweep_rows),
        description=description,
    )
    d = None
    if with_d:
        times = case["times_s"]
        example = torch.as_tensor(X_pool[:FLOP_BATCH], device=args.device)
        flops_full = forward_flops(full_net.module_, example)
        d = {
            "params_full": count_parameters(full_net.module_),
            "flops_full": flops_full,
            "flop_batch": FLOP_BATCH,
            "ratios": {},
        }
        for ratio in RATIOS:
            arm = "query" if ratio == 0.5 else f"query_{ratio}"
            values = [a / b for a, b in zip(times[arm], times["query_full"])]
            flops = forward_flops(learners[ratio].proxy_.module_, example)
            d["ratios"][str(ratio)] = {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
                "values": values,
                "min_ratio": min(times[arm]) / min(times["query_full"]),
                "query_s": statistics.median(times[arm]),
                "unpruned_s": statistics.median(times["query_full"]),
                "params_proxy": count_parameters(learners[ratio].proxy_.module_),
                "flops_proxy": flops,
                "flops_ratio": flops / flops_full,
                "expected_ratio": (1 - ratio) ** 2,
                "busy": _busy(case["other_cores"][arm], case["other_cores"]["query_full"]),
            }
    return case, d


# --------------------------------------------------------------------------- (b) k-centers
def kcenter_data(X_all, args, directory):
    """Embeddings for section (b), written to ``directory`` as ``pool.npy`` and ``centers.npy``.

    ``real``: Fashion-MNIST train+test (70,000 real images) and their
    horizontal mirror images (70,000 more), flattened to 784 values and mapped
    to ``--kcenter-dims`` dimensions by one fixed Gaussian random projection
    (seeded); a random permutation of these rows gives the pool and then the
    initial centres. ``random``: i.i.d. standard normal rows.

    Returns
    -------
    description : str
    """
    n_total = args.kcenter_rows + args.kcenter_centers
    rng = np.random.RandomState(args.seed)
    if args.kcenter_data == "real":
        flat = X_all.reshape(len(X_all), -1)
        mirrored = X_all[..., ::-1].reshape(len(X_all), -1)
        source = np.concatenate([flat, mirrored])
        if n_total > len(source):
            raise SystemExit(
                f"--kcenter-data real has {len(source):,} rows (Fashion-MNIST and mirror images); "
                f"{n_total:,} asked. Use fewer rows or --kcenter-data random."
            )
        projection = rng.standard_normal((source.shape[1], args.kcenter_dims)).astype(np.float32)
        projection /= np.sqrt(args.kcenter_dims)
        rows = rng.permutation(len(source))[:n_total]
        embeddings = source[rows] @ projection
        description = (
            "REAL data: Fashion-MNIST train+test (70,000 images) plus their horizontal mirror "
            f"images, flattened (784) and mapped to {args.kcenter_dims} dims by a fixed Gaussian "
            f"random projection (seed {args.seed}); {args.kcenter_rows:,} random rows = pool, "
            f"{args.kcenter_centers:,} others = initial centres"
        )
    else:
        embeddings = rng.standard_normal((n_total, args.kcenter_dims)).astype(np.float32)
        description = (
            f"SYNTHETIC data: i.i.d. standard normal float32 rows ({args.kcenter_dims} dims), a "
            "timing of the algorithm only"
        )
    embeddings = embeddings.astype(np.float32, copy=False)
    np.save(
        os.path.join(directory, "pool.npy"), np.ascontiguousarray(embeddings[: args.kcenter_rows])
    )
    np.save(
        os.path.join(directory, "centers.npy"),
        np.ascontiguousarray(embeddings[args.kcenter_rows :]),
    )
    return description


def child_kcenter(config):
    """Run one k-center implementation once; its time and peak RSS growth (a child process).

    Each run gets a fresh interpreter, so the peak of one run is not hidden by
    memory an earlier run left in the allocator.
    """
    directory = config["directory"]
    pool = np.load(os.path.join(directory, "pool.npy"))
    centers = np.load(os.path.join(directory, "centers.npy"))
    picks = config["picks"]
    impl = config["impl"]
    out = {"impl": impl, "available": True}
    if impl == "prunefuse_sk":

        def run():
            return greedy_k_centers(pool, picks, centers=centers)[0]
    else:
        try:
            import skactiveml
            from skactiveml.pool import k_greedy_center
        except ImportError as exc:
            return {"impl": impl, "available": False, "error": f"{type(exc).__name__}: {exc}"}
        out["version"] = skactiveml.__version__
        # its input convention: one X with labelled rows (the centres) and unlabelled rows (NaN
        # labels); the pool comes first, so its indices into X are indices into the pool
        X = np.concatenate([pool, centers])
        y = np.full(len(X), np.nan)
        y[len(pool) :] = 0.0
        del centers

        def run():
            return k_greedy_center(X, y, batch_size=picks, random_state=config["seed"])[0]

    with PeakSampler() as sampler:
        seconds, indices, other = timed(run, "cpu")
    if config.get("save_picks"):
        np.save(os.path.join(directory, f"picks_{impl}.npy"), np.asarray(indices, dtype=np.int64))
    out.update(
        {
            "seconds": seconds,
            "rss_growth_mb": sampler.growth_mb(),
            "other_cores": other,
            "baseline": sampler.baseline,
            "n_samples": sampler.n_samples,
        }
    )
    return out


def bench_kcenter(X_all, args):
    """Section (b): ``greedy_k_centers`` vs scikit-activeml's ``k_greedy_center``.

    Every run is a fresh child process (its own peak memory); within a
    repetition both implementations run back to back, in alternating order,
    so that their ratio is taken under the same machine load.
    """
    directory = tempfile.mkdtemp(prefix="bench_kcenter_", dir=args.tmpdir)
    try:
        description = kcenter_data(X_all, args, directory)
        impls = ["prunefuse_sk", "skactiveml"]
        results = {
            impl: {"available": True, "times_s": [], "rss_growth_mb": [], "other_cores": []}
            for impl in impls
        }
        started = time.perf_counter()
        for rep in range(args.repeats):
            order = impls if rep % 2 == 0 else impls[::-1]
            for impl in order:
                res = results[impl]
                if not res["available"] or "error" in res:
                    continue
                config = {
                    "impl": impl,
                    "directory": directory,
                    "picks": args.kcenter_picks,
                    "seed": args.seed,
                    "save_picks": rep == 0,
                }
                out = run_child("kcenter", config, args)
                if not out.get("available", False) or "error" in out:
                    res.update({key: out[key] for key in ("available", "error") if key in out})
                    continue
                res["version"] = out.get("version")
                res["times_s"].append(out["seconds"])
                res["rss_growth_mb"].append(out["rss_growth_mb"])
                res["other_cores"].append(out["other_cores"])
                print(
                    f"  (b) rep {rep + 1}/{args.repeats} {impl:<13} {out['seconds']:8.2f} s",
                    file=sys.stderr,
                    flush=True,
                )
            if time.perf_counter() - started > args.kcenter_budget_s and rep + 1 < args.repeats:
                for res in results.values():
                    res["stopped_early"] = (
                        f"after {rep + 1} repetitions: --kcenter-budget-s "
                        f"{args.kcenter_budget_s:.0f} spent"
                    )
                break
        ours, theirs = results["prunefuse_sk"], results["skactiveml"]
        paired = None
        if ours["times_s"] and theirs["times_s"] and "error" not in ours and "error" not in theirs:
            ratios = [a / b for a, b in zip(ours["times_s"], theirs["times_s"])]
            paired = {
                "median": statistics.median(ratios),
                "min": min(ratios),
                "max": max(ratios),
                "values": ratios,
                "busy": _busy(ours["other_cores"], theirs["other_cores"]),
            }
        agreement = None
        paths = [os.path.join(directory, f"picks_{impl}.npy") for impl in impls]
        if paired is not None and all(map(os.path.exists, paths)):
            mine, other = (np.load(p) for p in paths)
            same = mine == other
            agreement = {
                "same_order_fraction": float(same.mean()),
                "same_set_fraction": len(np.intersect1d(mine, other)) / len(mine),
                "first_difference": None if same.all() else int(np.argmin(same)),
            }
        return {
            "data": args.kcenter_data,
            "description": description,
            "rows": args.kcenter_rows,
            "dims": args.kcenter_dims,
            "picks": args.kcenter_picks,
            "centers": args.kcenter_centers,
            "results": results,
            "ratio": paired,
            "agreement": agreement,
        }
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# --------------------------------------------------------------------------- (c) memmap
def child_memmap(config):
    """Fit the p=0.5 learner, then query the memmap pool under the RSS sampler (a child process)."""
    torch.set_num_threads(config["threads"])
    lab = np.load(config["labelled"])
    net = make_net(config["epochs"], config["device"])
    learner = fit_learner(net, lab["X"], lab["y"], 0.5, config["seed"])
    pool = np.memmap(config["path"], dtype=np.float32, mode="r", shape=tuple(config["shape"]))
    n = min(N_QUERY, len(pool))
    with PeakSampler() as sampler:
        seconds, result, other = timed(lambda: learner.query(pool, n=n), config["device"])
    _check_query(result, n)
    rows_type = type(result[1]).__name__
    del result
    gc.collect()
    # reference, measured after the query so it cannot lower the query's baseline: the model's own
    # activations on one scoring batch (a bare inference-mode forward, no scores kept)
    batch_size = scoring_batch_size(learner.proxy_, pool)
    with PeakSampler() as reference:
        bare_forward(learner.proxy_.module_, pool[:batch_size], batch_size, config["device"])
    return {
        "seconds": seconds,
        "reference_batch_size": batch_size,
        "scoring_memory_mb": DEFAULT_SCORING_MEMORY,
        "reference_growth_mb": reference.growth_mb(),
        "other_cores": other,
        "baseline": sampler.baseline,
        "peak": sampler.peak,
        "hwm": sampler.hwm,
        "hwm_reset": sampler.hwm_reset,
        "growth_mb": sampler.growth_mb(),
        "n_samples": sampler.n_samples,
        "proxy_params": count_parameters(learner.proxy_.module_),
        "rows_returned_type": rows_type,
    }


def bench_memmap(X_all, X_lab, y_lab, args):
    """Section (c): peak memory while querying an ``np.memmap`` pool, in a child process."""
    row_bytes = int(np.prod(X_all.shape[1:])) * 4
    rows = args.memmap_rows
    free = shutil.disk_usage(args.tmpdir or tempfile.gettempdir()).free
    note = None
    if rows * row_bytes + DISK_MARGIN > free:
        fit = max(int((free - DISK_MARGIN) // row_bytes) // 1000 * 1000, 0)
        if fit < len(X_all):
            return {
                "skipped": f"only {free / 1024**3:.1f} GiB free on disk; not even {len(X_all):,} "
                "rows fit"
            }
        note = (
            f"only {free / 1024**3:.1f} GiB free on disk: the pool was shrunk from {rows:,} to "
            f"{fit:,} rows"
        )
        rows = fit
    directory = tempfile.mkdtemp(prefix="bench_memmap_", dir=args.tmpdir)
    path = os.path.join(directory, "pool.f32")
    try:
        start = time.perf_counter()
        pool = np.memmap(path, dtype=np.float32, mode="w+", shape=(rows,) + X_all.shape[1:])
        for first in range(0, rows, len(X_all)):  # tile the 70,000 real images
            stop = min(first + len(X_all), rows)
            pool[first:stop] = X_all[: stop - first]
        pool.flush()
        shape = pool.shape
        del pool
        write_s = time.perf_counter() - start
        labelled = os.path.join(directory, "labelled.npz")
        np.savez(labelled, X=X_lab, y=y_lab)
        config = {
            "path": path,
            "shape": list(shape),
            "labelled": labelled,
            "epochs": args.epochs,
            "device": args.device,
            "seed": args.seed,
            "threads": args.threads or available_cpus(),
        }
        print(f"  (c) querying a {rows:,}-row memmap ...", file=sys.stderr, flush=True)
        result = run_child("memmap", config, args)
        result.update(
            {
                "rows": rows,
                "file_gb": rows * row_bytes / 1e9,
                "write_s": write_s,
                "note": note,
                "target_mb": MEMMAP_TARGET_MB,
            }
        )
        growth = result.get("growth_mb")
        if growth is not None:
            result["pass"] = growth["RssAnon"] <= MEMMAP_TARGET_MB
        return result
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# --------------------------------------------------------------------------- children
def run_child(kind, config, args):
    """Run ``--child kind`` in a fresh interpreter (its own peak memory); return its JSON result."""
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp:
        config_path = os.path.join(tmp, "config.json")
        out_path = os.path.join(tmp, "result.json")
        with open(config_path, "w") as handle:
            json.dump({**config, "threads": args.threads or available_cpus()}, handle)
        env = dict(os.environ)
        if args.skactiveml_path:
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [args.skactiveml_path, env.get("PYTHONPATH")])
            )
        command = [
            sys.executable,
            os.path.abspath(__file__),
            "--child",
            kind,
            "--child-config",
            config_path,
            "--child-out",
            out_path,
        ]
        proc = subprocess.run(command, env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not os.path.exists(out_path):
            tail = (proc.stderr or "").strip().splitlines()[-5:]
            return {
                "available": True,
                "error": f"child exited with {proc.returncode}: {' | '.join(tail)}",
            }
        with open(out_path) as handle:
            return json.load(handle)


def child_main(kind, config_path, out_path):
    with open(config_path) as handle:
        config = json.load(handle)
    torch.set_num_threads(config["threads"])
    result = child_kcenter(config) if kind == "kcenter" else child_memmap(config)
    with open(out_path, "w") as handle:
        json.dump(result, handle)


# --------------------------------------------------------------------------- report
def _spread(d):
    return f"[{d['min']:.2f}-{d['max']:.2f}]"


def _busy_text(busy, total):
    return "n/a" if busy is None else f"{busy}/{total}"


def _format_a_rows(name, case):
    """The (median, fastest) pair of rows of section (a) for one network, and its verdict."""
    lines = []
    a, med = case["a"], case["median_s"]
    reps = len(case["times_s"]["forward"])
    fastest = {arm: min(values) for arm, values in case["times_s"].items()}
    target = "<=" + format(a["target"], ".2f")
    verdicts = {"median": a["median"] <= a["target"], "fastest": a["min_ratio"] <= a["target"]}
    for label, query_s, forward_s, ratio, spread, verdict in (
        (
            "median of per-rep. ratios",
            med["query"],
            med["forward"],
            a["median"],
            _spread(a),
            verdicts["median"],
        ),
        (
            "fastest samples (min / min)",
            fastest["query"],
            fastest["forward"],
            a["min_ratio"],
            "",
            verdicts["fastest"],
        ),
    ):
        lines.append(
            "    " + f"{name:<4} {label:<28} {query_s * 1000:>9.1f} {forward_s * 1000:>10.1f} "
            f"{ratio:>6.3f} {spread:>11} {target:>7} {'PASS' if verdict else 'FAIL':>6} "
            f"{_busy_text(a['busy'], reps):>5}"
        )
    word = {key: "PASS" if verdict else "FAIL" for key, verdict in verdicts.items()}
    summary = (
        f"{name}: {word['median']} on the median ratio, {word['fastest']} on the fastest samples"
    )
    if verdicts["median"] != verdicts["fastest"]:
        summary += " (the two disagree: this run does not settle it)"
    return lines, summary


def _format_a_details(name, case):
    """The batch-size and sampling notes of section (a) for one network."""
    sweep = ", ".join(
        f"{int(size):,}: {seconds * 1000:.1f}"
        for size, seconds in sorted(case["sweep_s"].items(), key=lambda item: int(item[0]))
    )
    inner = case["inner"]
    return [
        f"    {name} batches: query {case['scoring_batch_size']:,} rows (score_pool default: "
        f"{case['scoring_memory_mb']} MiB / {case['scoring_row_bytes']:,} estimated bytes per "
        f"row); forward {case['forward_batch_size']:,} rows, the fastest of the sweep over "
        f"the first {case['sweep_rows']:,} rows (batch: ms) {{{sweep}}}",
        f"    {name} samples: {len(case['times_s']['forward'])} repetitions; a sample = "
        f"{inner['query']} call(s) of each arm, alternating order; selection alone "
        f"(least_confidence + top_n + take_rows on {case['n_pool']:,} probability rows): "
        f"{case['median_selection_only_s'] * 1000:.2f} ms",
    ]


def _format_a(cases):
    """Section (a) of the report: one pair of rows (median, fastest) per network."""
    lines = [
        "",
        f"(a) learner.query(X_pool, n={N_QUERY}) / bare torch.inference_mode() forward of the "
        "proxy (p=0.5, eval) at its fastest batch size;",
        "    judged on the median of the per-repetition ratios and on the fastest samples (min / "
        "min)",
    ]
    for name, case in cases.items():
        lines.append(f"    {name}: {case['description']}")
    header = (
        f"{'case':<4} {'judged on':<28} {'query ms':>9} {'forward ms':>10} {'ratio':>6} "
        f"{'[min-max]':>11} {'target':>7} {'result':>6} {'busy':>5}"
    )
    lines += ["    " + header, "    " + "-" * len(header)]
    summaries = []
    for name, case in cases.items():
        rows, summary = _format_a_rows(name, case)
        lines += rows
        summaries.append(summary)
    lines.append(
        "    median: query ms and forward ms are medians of the samples; fastest: min(query) / "
        "min(forward), less sensitive to other processes"
    )
    for name, case in cases.items():
        lines += _format_a_details(name, case)
    lines.append("    verdict: " + "; ".join(summaries))
    if any(min(case["a"]["median"], case["a"]["min_ratio"]) < 1.0 for case in cases.values()):
        lines.append(
            "    note: a ratio below 1 means the query, which contains a forward pass, timed "
            "faster than the bare forward: there the timing noise exceeds the query's overhead"
        )
    return lines


def _format_b(kc, carried):
    """Section (b) of the report: greedy k-centers, prunefuse_sk against scikit-activeml."""
    lines = []
    ours = kc["results"].get("prunefuse_sk", {})
    theirs = kc["results"].get("skactiveml", {})
    lines += [
        "",
        f"(b) greedy k-centers: {kc['rows']:,} x {kc['dims']} float32 embeddings, b = "
        f"{kc['picks']:,} picks, {kc['centers']:,} initial centres"
        + (" [CARRIED OVER from the earlier run, not rerun]" if "b" in carried else ""),
        f"    data: {kc['description']}",
        "    each run in a fresh process; peak = largest growth of its resident memory during "
        "a run (sampled",
        "    /proc/self/status), MiB; the two implementations run back to back in each "
        "repetition, alternating order",
    ]
    header = (
        f"{'implementation':<40} {'median s':>8} {'[min-max]':>13} {'runs':>4} "
        f"{'peak VmRSS':>10} {'peak RssAnon':>12} {'busy':>5}"
    )
    lines += ["    " + header, "    " + "-" * len(header)]
    for label, res in (
        ("prunefuse_sk greedy_k_centers", ours),
        (
            " ".join(filter(None, ["skactiveml", theirs.get("version"), "k_greedy_center"])),
            theirs,
        ),
    ):
        if not res.get("available", False):
            lines.append(f"    {label:<40} not run: {res.get('error', 'unavailable')}")
            continue
        if "error" in res:
            lines.append(f"    {label:<40} FAILED: {res['error']}")
            continue
        times = res["times_s"]
        growth = [g for g in res["rss_growth_mb"] if g is not None]
        vm = max(g["VmRSS"] for g in growth) if growth else float("nan")
        anon = max(g["RssAnon"] for g in growth) if growth else float("nan")
        busy = _busy(res["other_cores"])
        lines.append(
            "    " + f"{label:<40} {statistics.median(times):>8.2f} "
            f"{'[' + format(min(times), '.2f') + '-' + format(max(times), '.2f') + ']':>13} "
            f"{len(times):>4} {vm:>10.1f} {anon:>12.1f} {_busy_text(busy, len(times)):>5}"
        )
    if ours.get("stopped_early"):
        lines.append(f"    (stopped early: {ours['stopped_early']})")
    if kc.get("ratio") is not None:
        r = kc["ratio"]
        ratio_min = min(ours["times_s"]) / min(theirs["times_s"])
        lines.append(
            f"    time ratio prunefuse_sk / skactiveml: {r['median']:.3f} {_spread(r)} "
            "(median of per-repetition ratios; busy "
            f"{_busy_text(r['busy'], len(r['values']))}); ratio of the fastest runs: "
            f"{ratio_min:.3f}"
        )
    if kc["agreement"] is not None:
        ag = kc["agreement"]
        first = "none" if ag["first_difference"] is None else f"at pick {ag['first_difference']}"
        lines.append(
            f"    same picks in the same order: {ag['same_order_fraction']:.1%}; same set: "
            f"{ag['same_set_fraction']:.1%}; first difference: {first}"
        )
    return lines


def _format_c(mm, carried):
    """Section (c) of the report: peak memory while querying an np.memmap pool."""
    lines = []
    lines += [
        "",
        "(c) peak memory above the fitted model while querying an np.memmap pool (p=0.5, one "
        "run)" + (" [CARRIED OVER from the earlier run, not rerun]" if "c" in carried else ""),
    ]
    if "skipped" in mm:
        lines.append(f"    skipped: {mm['skipped']}")
    elif "error" in mm:
        lines.append(f"    FAILED: {mm['error']}")
    else:
        g = mm["growth_mb"]
        base = mm["baseline"]
        lines += [
            f"    pool: {mm['rows']:,} rows of shape (1,28,28) float32 = {mm['file_gb']:.2f} "
            "GB on disk, tiled from the 70,000 real Fashion-MNIST images, opened mode 'r'",
            "    RssAnon = anonymous memory (what the process allocates: batches, "
            "activations, scores); judged on it.",
            "    VmRSS also counts RssFile, the memmap's file-backed pages mapped into the "
            "process (page cache,",
            "    reclaimable by the kernel): that part grows with the pool file and is not an "
            "allocation.",
        ]
        header = (
            f"{'rows':>9} {'query s':>8} {'before RSS':>10} {'peak dAnon':>10} "
            f"{'peak dFile':>10} {'peak dVmRSS':>11} {'dVmHWM':>7} {'target':>7} {'result':>6}"
        )
        lines += ["    " + header, "    " + "-" * len(header)]
        hwm = f"{g['VmHWM']:.1f}" if "VmHWM" in g else "n/a"
        lines.append(
            "    " + f"{mm['rows']:>9,} {mm['seconds']:>8.1f} {base['VmRSS'] / MB:>10.1f} "
            f"{g['RssAnon']:>10.1f} {g['RssFile']:>10.1f} {g['VmRSS']:>11.1f} {hwm:>7} "
            f"{'<=' + format(mm['target_mb'], '.0f'):>7} {'PASS' if mm['pass'] else 'FAIL':>6}"
        )
        busy = mm["other_cores"]
        lines.append(
            "    (MiB; d = peak during the query minus the value right before it; "
            f"{mm['n_samples']} samples; other processes busy on {busy:.2f} cores on average)"
            if busy is not None
            else "    (MiB; d = peak during the query minus the value right before it; "
            f"{mm['n_samples']} samples)"
        )
        ref = mm.get("reference_growth_mb")
        if ref is not None:
            budget = mm.get("scoring_memory_mb")
            lines.append(
                (
                    f"    the query scored {mm['reference_batch_size']:,}-row batches "
                    f"(score_pool's default budget, {budget} MiB); "
                    if budget is not None
                    else "    "
                )
                + f"reference: a bare forward of one {mm['reference_batch_size']:,}-row batch "
                f"(the model's own activations) peaks at dAnon {ref['RssAnon']:.1f} MiB"
            )
        if mm.get("note"):
            lines.append(f"    NOTE: {mm['note']}")
    return lines


def _format_d(d, qt, carried):
    """Section (d) of the report: the query at pruning ratio p / with the unpruned net."""
    lines = []
    reps = len(d["ratios"]["0.5"]["values"])
    lines += [
        "",
        f"(d) learner.query(X_pool, n={N_QUERY}) at pruning ratio p / the same query with the "
        f"unpruned net, {qt['cases']['cnn']['n_pool']:,}-row pool;",
        "    unpruned = the same PruneFuseActiveLearner.query code path (score_pool + "
        "least_confidence + top_n) with",
        "    proxy_ swapped for clone(net) (full SmallCNN) fitted on the same labelled rows; "
        "timed in the repetitions of (a)'s cnn case"
        + (" [CARRIED OVER from the earlier run, not rerun]" if "d" in carried else ""),
    ]
    header = (
        f"{'p':>4} {'query s':>8} {'unpruned s':>10} {'ratio':>6} {'[min-max]':>11} "
        f"{'fastest':>7} {'FLOPs ratio':>11} {'(1-p)^2':>7} {'params':>8} {'busy':>5}"
    )
    lines += ["    " + header, "    " + "-" * len(header)]
    for ratio in RATIOS:
        r = d["ratios"][str(ratio)]
        lines.append(
            "    " + f"{ratio:>4.1f} {r['query_s']:>8.2f} {r['unpruned_s']:>10.2f} "
            f"{r['median']:>6.3f} {_spread(r):>11} {r['min_ratio']:>7.3f} "
            f"{r['flops_ratio']:>11.3f} {r['expected_ratio']:>7.3f} {r['params_proxy']:>8,} "
            f"{_busy_text(r['busy'], reps):>5}"
        )
    lines.append(
        "    fastest = min(query s) / min(unpruned s); FLOPs: FlopCounterMode forward, "
        "convolutions and matmuls"
    )
    lines.append(
        f"    unpruned net: {d['params_full']:,} parameters, "
        f"{d['flops_full'] / d['flop_batch'] / 1e6:.1f} MFLOPs per image"
    )
    return lines


def format_report(info, config, qt, kc, mm):
    """The printed report: machine, configuration and one table per section."""
    lines = [
        "prunefuse_sk query benchmark (issues 4 and 13): Fashion-MNIST SmallCNN(n_classes=10, "
        "image_size=28); digits MLP in (a)",
        f"machine : {info['platform']} ({info['processor']}), {info['cpu_cores']} CPU cores",
        f"software: python {info['python']}, torch {info['torch']}, skorch {info['skorch']}, "
        f"torch-pruning {info['torch_pruning']}, scikit-learn {info['scikit-learn']}, "
        f"prunefuse_sk {info['prunefuse_sk']}",
        f"device  : {info['device']} ({info['device_name']}), torch.get_num_threads() = "
        f"{info['torch_threads']}",
        f"setup   : CNN: {config['n_labelled']:,} labelled rows (stratified, from the test split), "
        f"{config['epochs']} epochs, Adam lr 1e-3, batch 64; query n = {N_QUERY}, default strategy "
        f"least_confidence; {config['repeats']} repetitions (median), seed {config['seed']}",
        f"busy    = repetitions during which other processes kept > {CONTENDED_CORES} cores busy "
        "(noisy timings)",
    ]
    carried = config.get("carried") or {}
    if carried:
        lines.append(
            f"carried = sections {', '.join(sorted(carried))} were NOT run this time: copied, "
            f"numbers and all, from {config.get('previous_json')} (its run: "
            f"{next(iter(carried.values()))})"
        )
    if config.get("sections"):
        lines.append(f"run     : sections {config['sections']} this time")
    if qt is not None and qt.get("cases"):
        lines += _format_a(qt["cases"])
        if "a" in carried:
            lines[-len(_format_a(qt["cases"])) + 1] += (
                " [CARRIED OVER from the earlier run, not rerun]"
            )
    if kc is not None:
        lines += _format_b(kc, carried)
    if mm is not None:
        lines += _format_c(mm, carried)
    d = None if qt is None else qt.get("d")
    if d is not None:
        lines += _format_d(d, qt, carried)
    lines.append("")
    lines.append(f"total benchmark wall time: {config['wall_s']:.1f} s")
    if config.get("loadavg_start") is not None:
        lines.append(
            f"1-min load average: {config['loadavg_start']:.2f} at start, "
            f"{config['loadavg_end']:.2f} at end ({info['cpu_cores']} cores; a lagging hint of "
            "other work on the machine, see the busy columns)"
        )
    return "\n".join(lines)


def _add_kcenter_options(parser):
    """The options of section (b), greedy k-centers."""
    parser.add_argument("--skip-kcenter", action="store_true", help="skip section (b)")
    parser.add_argument(
        "--kcenter-rows", type=int, default=100_000, help="(b) pool rows; default 100,000"
    )
    parser.add_argument(
        "--kcenter-dims", type=int, default=128, help="(b) embedding dimensions; default 128"
    )
    parser.add_argument(
        "--kcenter-picks", type=int, default=1000, help="(b) points to pick; default 1,000"
    )
    parser.add_argument(
        "--kcenter-centers", type=int, default=1000, help="(b) initial centres; default 1,000"
    )
    parser.add_argument(
        "--kcenter-data",
        choices=("real", "random"),
        default="real",
        help=(
            "(b) real: random projection of Fashion-MNIST (+ mirror images); random: standard "
            "normal"
        ),
    )
    parser.add_argument(
        "--kcenter-budget-s",
        type=float,
        default=300.0,
        help=(
            "(b) stop the repetitions once this many seconds are spent (at least one); default 300"
        ),
    )
    parser.add_argument(
        "--skactiveml-path",
        default=None,
        help="(b) a folder prepended to PYTHONPATH of the child, e.g. from "
        "`pip install --target DIR --no-deps scikit-activeml makefun`",
    )


def _add_section_options(parser):
    """The options choosing the sections and the sizes of sections (a), (c) and (d)."""
    parser.add_argument(
        "--pool-rows",
        type=int,
        default=60000,
        help="(a)/(d) pool rows (first rows of the train split); default 60,000",
    )
    parser.add_argument(
        "--sections",
        default="abcd",
        help="which sections to run, e.g. 'a' (query time only), 'c' (memmap only), 'acd'; "
        "default abcd. (d) runs in the repetitions of (a)'s cnn case",
    )
    parser.add_argument(
        "--a-cases",
        default="mlp,cnn",
        help="(a) networks, comma-separated from mlp, cnn; default mlp,cnn",
    )
    parser.add_argument(
        "--mlp-rows",
        type=int,
        default=72000,
        help="(a) rows of the tiled digits pool of the mlp case; default 72,000",
    )
    parser.add_argument(
        "--mlp-repeats",
        type=int,
        default=15,
        help="(a) repetitions of the mlp case (its samples are short); default 15",
    )
    parser.add_argument(
        "--cnn-sweep-rows",
        type=int,
        default=12000,
        help="(a) pool rows the cnn case's forward sweep is timed on; default 12,000",
    )
    parser.add_argument(
        "--min-sample-s",
        type=float,
        default=0.5,
        help="(a) a timed sample repeats a fast call until it lasts this long; default 0.5",
    )
    parser.add_argument(
        "--previous-json",
        metavar="PATH",
        default=None,
        help="copy the sections not run this time from this earlier --json file (marked carried)",
    )
    parser.add_argument("--skip-query-time", action="store_true", help="skip sections (a) and (d)")
    parser.add_argument("--skip-memmap", action="store_true", help="skip section (c)")
    parser.add_argument(
        "--memmap-rows",
        type=int,
        default=1_000_000,
        help="(c) rows of the memmap pool; default 1,000,000",
    )


def _build_parser():
    """The command-line parser."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed repetitions (median reported); default 5"
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=2,
        help="training epochs of the proxies and the full net; default 2",
    )
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu", help="torch device; default cpu"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 2 repetitions, 6,000-row pool, 10,000 x 128 k-centers with 100 picks and "
        "100 centres, 50,000-row memmap",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seeds the labelled set, initializations and data"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch.set_num_threads; default: the CPU cores available to this process",
    )
    parser.add_argument(
        "--json", metavar="PATH", default=None, help="also write all results as JSON to PATH"
    )
    _add_section_options(parser)
    _add_kcenter_options(parser)
    parser.add_argument(
        "--tmpdir",
        default=None,
        help="where the memmap pool and temporary files go; default $TMPDIR",
    )
    parser.add_argument(
        "--child", choices=("kcenter", "memmap"), default=None, help=argparse.SUPPRESS
    )
    parser.add_argument("--child-config", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", default=None, help=argparse.SUPPRESS)
    return parser


def _check_args(parser, args):
    """``args`` checked and completed: sections, cases and --quick sizes."""
    sections = set(args.sections.lower())
    if not sections or sections - set("abcd"):
        parser.error("--sections: letters from a, b, c, d (e.g. 'a' or 'ac')")
    if args.skip_query_time:
        sections -= {"a", "d"}
    if args.skip_memmap:
        sections.discard("c")
    if args.skip_kcenter:
        sections.discard("b")
    args.sections = "".join(sorted(sections))
    args.a_cases = [case.strip() for case in args.a_cases.split(",") if case.strip()]
    if not args.a_cases or set(args.a_cases) - {"mlp", "cnn"}:
        parser.error("--a-cases: a comma-separated list from mlp, cnn")
    if args.quick:
        args.mlp_repeats = 3
        args.mlp_rows = min(args.mlp_rows, 7200)
        args.cnn_sweep_rows = min(args.cnn_sweep_rows, 2000)
        args.repeats = 2
        args.pool_rows = min(args.pool_rows, 6000)
        args.memmap_rows = min(args.memmap_rows, 50_000)
        args.kcenter_rows = min(args.kcenter_rows, 10_000)
        args.kcenter_picks = min(args.kcenter_picks, 100)
        args.kcenter_centers = min(args.kcenter_centers, 100)
    if (
        min(
            args.repeats,
            args.epochs,
            args.pool_rows,
            args.memmap_rows,
            args.kcenter_rows,
            args.kcenter_dims,
            args.kcenter_picks,
        )
        < 1
        or args.kcenter_centers < 0
    ):
        parser.error("sizes, --repeats and --epochs must be positive")
    if args.pool_rows > 60000:
        parser.error("--pool-rows: the Fashion-MNIST training split has 60,000 rows")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device")
    return args


def parse_args(argv=None):
    """Command-line options."""
    parser = _build_parser()
    return _check_args(parser, parser.parse_args(argv))


def main(argv=None):
    """Run the benchmark, print the report and optionally write JSON."""
    args = parse_args(argv)
    if args.child:
        child_main(args.child, args.child_config, args.child_out)
        return
    torch.set_num_threads(args.threads or available_cpus())
    loadavg_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    start = time.perf_counter()

    sections = set(args.sections)
    X_train, X_test, y_train, y_test = load_fashion_mnist()
    lab = labelled_rows(y_test, args.seed)
    X_lab, y_lab = X_test[lab], y_test[lab]
    X_pool = np.ascontiguousarray(X_train[: args.pool_rows])

    qt = None
    if sections & {"a", "d"}:
        qt = {"cases": {}, "d": None}
        if "a" in sections and "mlp" in args.a_cases:
            qt["cases"]["mlp"] = bench_mlp_case(args)
            gc.collect()
        if ("a" in sections and "cnn" in args.a_cases) or "d" in sections:
            qt["cases"]["cnn"], qt["d"] = bench_cnn_case(
                X_pool, X_lab, y_lab, args, with_d="d" in sections
            )
            gc.collect()

    X_all = np.concatenate([X_train, X_test])
    del X_train, X_pool
    kc = bench_kcenter(X_all, args) if "b" in sections else None
    mm = bench_memmap(X_all, X_lab, y_lab, args) if "c" in sections else None

    carried = {}
    if args.previous_json:
        with open(args.previous_json) as handle:
            previous = json.load(handle)
        run = (
            f"argv {' '.join(previous['config'].get('argv', []))!r}, torch "
            f"{previous['machine'].get('torch')}, "
            f"{previous['config'].get('wall_s', float('nan')):.0f} s"
        )
        if kc is None and previous.get("kcenter") is not None:
            kc, carried["b"] = previous["kcenter"], run
        if mm is None and previous.get("memmap") is not None:
            mm, carried["c"] = previous["memmap"], run
        if qt is None and (previous.get("query_time") or {}).get("cases"):
            qt, carried["a"] = previous["query_time"], run
            if qt.get("d") is not None:
                carried["d"] = run

    config = {
        "n_labelled": int(len(y_lab)),
        "epochs": args.epochs,
        "repeats": args.repeats,
        "seed": args.seed,
        "quick": args.quick,
        "sections": args.sections,
        "carried": carried,
        "previous_json": args.previous_json,
        "wall_s": time.perf_counter() - start,
        "loadavg_start": loadavg_start,
        "loadavg_end": os.getloadavg()[0] if loadavg_start is not None else None,
        "argv": sys.argv[1:] if argv is None else list(argv),
    }
    info = machine_info(args.device)
    print(format_report(info, config, qt, kc, mm), flush=True)
    if args.json:
        directory = os.path.dirname(os.path.abspath(args.json))
        os.makedirs(directory, exist_ok=True)
        with open(args.json, "w") as handle:
            json.dump(
                {"machine": info, "config": config, "query_time": qt, "kcenter": kc, "memmap": mm},
                handle,
                indent=2,
                default=float,
            )


if __name__ == "__main__":
    main()
