"""Kernel benchmark: does ``channels_last`` or ``torch.compile`` make the learner's networks faster?

Measured on the current machine, for the networks the documentation uses:

* ``SmallCNN(image_size=28, width=32, hidden=128)`` on Fashion-MNIST, at full width and pruned at
  ``p = 0.5`` and ``p = 0.7`` (:func:`prunefuse_sk.pruning.prune_at_init`, L2 importance);
* ``SmallResNet(width=16, stem_stride=2)`` on Fashion-MNIST, full and pruned likewise;
* ``SmallCNN(image_size=8)`` on scikit-learn's 8x8 digits (the size the tests use), full and pruned.

Part 1, memory format (in this process). For every network, contiguous (NCHW) weights against
``module.to(memory_format=torch.channels_last)`` (weights only: a convolution's output takes its
weight's format, which is checked and recorded):

* one training epoch, skorch-like: Adam (lr 1e-3), batch 64, cross-entropy, a shuffled pass over
  about 2,000 real images, from a fresh copy of the initial weights and a fresh optimizer;
* inference (eval mode, no gradients) over 10,000 rows at batch 256 and at batch 1024.

The two formats run interleaved batch by batch (which goes first alternates), each batch timed on
its own, so load from other processes that lasts longer than a batch falls on both alike; an
epoch's time is the sum of its batches. The table gives medians over the repetitions, the median
of the per-repetition ratios and the ratio of the fastest repetitions.

Part 2, ``torch.compile`` (each measurement in a fresh process with an empty inductor cache, so
compile times are those of a first session):

* steady state: epochs of a compiled module against eager epochs, after compiling, and the time
  the first compiled epoch took (compilation of the full and of the last, partial batch);
* a realistic session: 6 active-learning rounds training a fresh proxy (p = 0.5) for 8 epochs on
  500, 1000, ..., 3000 labels (the last batch has another size each round), each followed by
  scoring a 10,000-row pool at batch 1024, then training the full network 8 epochs on 3,000 labels
  (the fused network) -- with skorch ``compile=True`` against eager, and again with the inductor
  cache the first compiled session left behind.

Wrap runs in ``flock /tmp/bench.lock`` when others benchmark on the same machine; the load average
and the cores other processes kept busy are recorded. Run ``python benchmarks/bench_kernels.py
--help`` for the options.
"""

import argparse
import copy
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from sklearn.datasets import load_digits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_core import CONTENDED_CORES, machine_info, system_busy_seconds  # noqa: E402

from prunefuse_sk.architecture import count_parameters  # noqa: E402
from prunefuse_sk.datasets import load_fashion_mnist  # noqa: E402
from prunefuse_sk.networks import SmallCNN, SmallResNet  # noqa: E402
from prunefuse_sk.pruning import prune_at_init  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RATIOS = (None, 0.5, 0.7)
BATCH = 64
INFER_BATCHES = (256, 1024)
N_TRAIN = 2000
N_INFER = 10_000
SESSION_LABELS = (500, 1000, 1500, 2000, 2500, 3000)
SESSION_EPOCHS = 8
SESSION_RATIO = 0.5
FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


# --------------------------------------------------------------------------- networks and data
def network_specs():
    """The benchmarked architectures (each at full width and pruned at every ratio of ``RATIOS``).

    Returns
    -------
    specs : list of dict
        ``name``, ``factory`` (builds the full module), ``data`` (``"fmnist"`` or ``"digits"``) and
        optionally ``ratios`` (default ``RATIOS``; None is the full network).
    """
    return [
        {
            "name": "SmallCNN 28x28 w32",
            "factory": lambda: SmallCNN(10, 1, 28, 32, 128),
            "data": "fmnist",
        },
        # full width only: between the proxies' narrowest convolutions (9 and 16 channels)
        {
            "name": "SmallCNN 28x28 w12",
            "factory": lambda: SmallCNN(10, 1, 28, 12, 128),
            "data": "fmnist",
            "ratios": (None,),
        },
        {
            "name": "SmallResNet w16 s2",
            "factory": lambda: SmallResNet(10, 1, 16, 2),
            "data": "fmnist",
        },
        {
            "name": "SmallResNet w12 s2",
            "factory": lambda: SmallResNet(10, 1, 12, 2),
            "data": "fmnist",
            "ratios": (None,),
        },
        {
            "name": "SmallCNN 8x8 w32",
            "factory": lambda: SmallCNN(10, 1, 8, 32, 128),
            "data": "digits",
        },
    ]


def load_data(kind):
    """Training rows, their labels and inference rows as tensors.

    Parameters
    ----------
    kind : {"fmnist", "digits"}

    Returns
    -------
    X_train : torch.Tensor of shape (n_train, 1, side, side)
        ``N_TRAIN`` Fashion-MNIST training images, or the 1,797 digits.
    y_train : torch.Tensor of shape (n_train,)
    X_infer : torch.Tensor of shape (N_INFER, 1, side, side)
        The Fashion-MNIST test images, or the digits repeated to ``N_INFER`` rows.
    """
    if kind == "fmnist":
        X, X_test, y, _ = load_fashion_mnist()
        return (
            torch.as_tensor(X[:N_TRAIN]),
            torch.as_tensor(y[:N_TRAIN]),
            torch.as_tensor(X_test[:N_INFER]),
        )
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    return (
        torch.as_tensor(X),
        torch.as_tensor(y.astype(np.int64)),
        torch.as_tensor(np.resize(X, (N_INFER, 1, 8, 8))),
    )


def build_module(spec, ratio, X_example):
    """The full network at seed 0, or its pruned proxy (seed 0) at ``ratio``.

    Returns
    -------
    module : torch.nn.Module
        Contiguous weights.
    """
    torch.manual_seed(0)
    full = spec["factory"]()
    if ratio is None:
        return full
    return prune_at_init(
        full,
        X_example[:3],
        pruning_ratio=ratio,
        importance="l2",
        ignored_layers=None,
        random_state=0,
    ).module


def conv_widths(module):
    """Output channels of every ``Conv2d``, in order."""
    return [layer.out_channels for layer in module.modules() if isinstance(layer, torch.nn.Conv2d)]


def formatted(module, fmt):
    """A deep copy of ``module`` with its 4-D weights in memory format ``fmt``."""
    return copy.deepcopy(module).to(memory_format=FORMATS[fmt])


def output_format_check(module):
    """Whether converting only the weights makes the convolutions' outputs channels_last.

    Runs the first convolution of a channels_last copy on a contiguous input with 1 and with 3
    channels (the latter through a fresh 3-channel convolution of the same width).

    Returns
    -------
    check : dict
        ``{"1_channel_input": bool, "3_channel_input": bool, "1_channel_input_is_channels_last":
        bool}``;
        the last says whether a contiguous (n, 1, h, w) tensor already counts as channels_last.
    """
    conv = next(layer for layer in module.modules() if isinstance(layer, torch.nn.Conv2d))
    conv = copy.deepcopy(conv).to(memory_format=torch.channels_last)
    conv3 = torch.nn.Conv2d(3, conv.out_channels, 3, padding=1).to(
        memory_format=torch.channels_last
    )
    x1, x3 = torch.rand(4, 1, 16, 16), torch.rand(4, 3, 16, 16)
    with torch.no_grad():
        return {
            "1_channel_input": bool(conv(x1).is_contiguous(memory_format=torch.channels_last)),
            "3_channel_input": bool(conv3(x3).is_contiguous(memory_format=torch.channels_last)),
            "1_channel_input_is_channels_last": bool(
                x1.is_contiguous(memory_format=torch.channels_last)
            ),
        }


# --------------------------------------------------------------------------- timed work
def _step(module, optimizer, criterion, X, y):
    optimizer.zero_grad()
    criterion(module(X), y).backward()
    optimizer.step()


def train_epoch(module, X, y, seed, batch_size=BATCH):
    """One skorch-like training epoch with a fresh Adam optimizer; returns wall-clock seconds.

    Parameters
    ----------
    module : torch.nn.Module
        Trained in place.
    X, y : torch.Tensor
    seed : int
        Seeds the shuffle.
    batch_size : int, default=BATCH

    Returns
    -------
    seconds : float
    """
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    criterion = torch.nn.CrossEntropyLoss()
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
    module.train()
    start = time.perf_counter()
    for begin in range(0, len(X), batch_size):
        rows = order[begin : begin + batch_size]
        _step(module, optimizer, criterion, X[rows], y[rows])
    return time.perf_counter() - start


def train_epochs_interleaved(modules, X, y, seed, batch_size=BATCH):
    """One skorch-like training epoch of every module, interleaved batch by batch.

    Each module gets a fresh Adam optimizer (lr 1e-3) and the same shuffled batches; at each
    batch the modules take their step in turn (the first alternates), each step timed alone.

    Parameters
    ----------
    modules : dict of str to torch.nn.Module
        Trained in place.
    X, y : torch.Tensor
    seed : int
        Seeds the shuffle.
    batch_size : int, default=BATCH

    Returns
    -------
    seconds : dict of str to float
        Per module, the sum of its steps' wall-clock seconds.
    """
    names = list(modules)
    optimizers = {name: torch.optim.Adam(modules[name].parameters(), lr=1e-3) for name in names}
    criterion = torch.nn.CrossEntropyLoss()
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
    seconds = dict.fromkeys(names, 0.0)
    for module in modules.values():
        module.train()
    for index, begin in enumerate(range(0, len(X), batch_size)):
        rows = order[begin : begin + batch_size]
        Xb, yb = X[rows], y[rows]
        for name in names if index % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            _step(modules[name], optimizers[name], criterion, Xb, yb)
            seconds[name] += time.perf_counter() - start
    return seconds


def infer_interleaved(modules, X, batch_size):
    """Eval-mode forward passes of every module over ``X``, without gradients, interleaved batch by
    batch.

    Returns
    -------
    seconds : dict of str to float
        Per module, the sum of its batches' wall-clock seconds.
    """
    names = list(modules)
    seconds = dict.fromkeys(names, 0.0)
    for module in modules.values():
        module.eval()
    with torch.no_grad():
        for index, begin in enumerate(range(0, len(X), batch_size)):
            Xb = X[begin : begin + batch_size]
            for name in names if index % 2 == 0 else names[::-1]:
                start = time.perf_counter()
                modules[name](Xb)
                seconds[name] += time.perf_counter() - start
    return seconds


def timed(function, *args):
    """``function(*args)`` (a dict of seconds per arm) and the cores other processes kept busy
    meanwhile.

    Returns
    -------
    seconds : dict of str to float
    other_cores : float or None
        Average number of cores busy with other processes' work (None off Linux).
    """
    busy_start, cpu_start, start = system_busy_seconds(), time.process_time(), time.perf_counter()
    seconds = function(*args)
    wall, cpu_s, busy_end = (
        time.perf_counter() - start,
        time.process_time() - cpu_start,
        system_busy_seconds(),
    )
    other = None
    if busy_start is not None and busy_end is not None:
        other = max(busy_end - busy_start - cpu_s, 0.0) / max(wall, 1e-9)
    return seconds, other


def summarize(runs):
    """Medians, ratios and contention of repeated interleaved runs, a list of ``(seconds,
    other_cores)``."""
    contiguous = [seconds["contiguous"] for seconds, _ in runs]
    channels_last = [seconds["channels_last"] for seconds, _ in runs]
    others = [o for _, o in runs if o is not None]
    paired = [c / n for c, n in zip(channels_last, contiguous)]
    return {
        "contiguous_s": statistics.median(contiguous),
        "channels_last_s": statistics.median(channels_last),
        "ratio_median": statistics.median(paired),
        "ratio_min": min(paired),
        "ratio_max": max(paired),
        "ratio_fastest": min(channels_last) / min(contiguous),
        "contended": sum(o > CONTENDED_CORES for o in others),
        "runs": len(others),
        "other_cores": others,
        "raw": {"contiguous": contiguous, "channels_last": channels_last},
    }


def measure_formats(spec, ratio, data, repeats):
    """Part 1 for one network: training epoch and inference, contiguous vs channels_last."""
    X, y, X_infer = data
    module = build_module(spec, ratio, X)
    arms = list(FORMATS)

    def copies(rep):
        # the first arm of every interleaved batch alternates with the batch and with the repetition
        order = arms if rep % 2 == 0 else arms[::-1]
        return {fmt: formatted(module, fmt) for fmt in order}

    # untimed warm-up: one-time allocations, kernel selection
    train_epochs_interleaved(copies(0), X[:512], y[:512], seed=0)
    infer_interleaved(copies(0), X_infer[:2048], 1024)
    train, inference = [], {b: [] for b in INFER_BATCHES}
    for rep in range(repeats):
        train.append(timed(train_epochs_interleaved, copies(rep), X, y, rep + 1))
        for batch_size in INFER_BATCHES:
            inference[batch_size].append(timed(infer_interleaved, copies(rep), X_infer, batch_size))
    return {
        "network": spec["name"],
        "ratio": ratio,
        "params": count_parameters(module),
        "conv_widths": conv_widths(module),
        "n_train": len(X),
        "n_infer": len(X_infer),
        "train": summarize(train),
        "infer": {str(b): summarize(inference[b]) for b in INFER_BATCHES},
    }


# --------------------------------------------------------------------------- torch.compile workers
def _worker_compile_epoch(args):
    """Fresh process: eager vs compiled epochs of one network (printed as JSON)."""
    spec = {s["name"]: s for s in network_specs()}[args.network]
    X, y, _ = load_data(spec["data"])
    module = build_module(spec, args.ratio, X)
    fmt = args.memory_format
    train_epoch(formatted(module, fmt), X, y, seed=0)  # eager warm-up
    compiled_base = formatted(module, fmt)
    compiled = torch.compile(compiled_base)
    start = time.perf_counter()
    first = train_epoch(compiled, X, y, seed=0)
    fresh = torch.compile(
        formatted(module, fmt)
    )  # a new module instance, as every round's new proxy
    fresh_first = train_epoch(fresh, X, y, seed=0)
    eager, steady = [], []
    for rep in range(args.repeats):
        # interleaved batch by batch; the compiled module keeps training (its graphs stay compiled)
        pair = {"eager": formatted(module, fmt), "compiled": compiled}
        if rep % 2:
            pair = dict(reversed(list(pair.items())))
        seconds = train_epochs_interleaved(pair, X, y, rep + 1)
        eager.append(seconds["eager"])
        steady.append(seconds["compiled"])
    print(
        json.dumps(
            {
                "network": args.network,
                "ratio": args.ratio,
                "memory_format": fmt,
                "first_compiled_epoch_s": first,
                "fresh_instance_first_epoch_s": fresh_first,
                "eager_epoch_s": statistics.median(eager),
                "compiled_epoch_s": statistics.median(steady),
                "eager_raw": eager,
                "compiled_raw": steady,
                "worker_wall_s": time.perf_counter() - start,
            }
        )
    )


def _worker_session(args):
    """Fresh process: one active-learning session with skorch nets, eager or ``compile=True``."""
    from skorch import NeuralNetClassifier

    spec = {s["name"]: s for s in network_specs()}[args.network]
    X_all, X_pool, y_all, _ = load_fashion_mnist()
    X_all, y_all = X_all[: max(SESSION_LABELS)], y_all[: max(SESSION_LABELS)]
    X_pool = X_pool[:N_INFER]
    torch.manual_seed(0)
    full = spec["factory"]()
    proxy = prune_at_init(
        full, torch.as_tensor(X_all[:3]), pruning_ratio=SESSION_RATIO, random_state=0
    ).module
    fmt = FORMATS[args.memory_format]

    def net(module):
        return NeuralNetClassifier(
            copy.deepcopy(module).to(memory_format=fmt),
            criterion=torch.nn.CrossEntropyLoss,
            optimizer=torch.optim.Adam,
            lr=1e-3,
            max_epochs=SESSION_EPOCHS,
            batch_size=BATCH,
            train_split=None,
            iterator_train__shuffle=True,
            iterator_valid__batch_size=1024,
            verbose=0,
            compile=args.compile,
        )

    rounds, start = [], time.perf_counter()
    for index, n in enumerate(SESSION_LABELS):
        torch.manual_seed(index)
        proxy_net = net(proxy)
        t0 = time.perf_counter()
        proxy_net.fit(X_all[:n], y_all[:n])
        t1 = time.perf_counter()
        proxy_net.predict_proba(X_pool)
        t2 = time.perf_counter()
        rounds.append(
            {
                "n_labels": n,
                "fit_s": t1 - t0,
                "score_s": t2 - t1,
                "epoch_s": [row["dur"] for row in proxy_net.history],
            }
        )
    torch.manual_seed(len(SESSION_LABELS))
    fused = net(full)
    t0 = time.perf_counter()
    fused.fit(X_all, y_all)
    fused_s = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "network": args.network,
                "memory_format": args.memory_format,
                "compile": args.compile,
                "rounds": rounds,
                "fused_fit_s": fused_s,
                "fused_epoch_s": [row["dur"] for row in fused.history],
                "total_s": time.perf_counter() - start,
            }
        )
    )


def run_worker(argv, cache_dir):
    """Run this script as a worker in a fresh process with ``cache_dir`` as inductor cache; its
    JSON."""
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache_dir)
    busy_start, start = system_busy_seconds(), time.perf_counter()
    children_start = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), *argv],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    children_end = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    busy_end = system_busy_seconds()
    # the worker's CPU seconds, including inductor's compile workers once they have exited
    worker_cpu = sum(
        getattr(children_end, f) - getattr(children_start, f) for f in ("ru_utime", "ru_stime")
    )
    if busy_start is not None and busy_end is not None:
        result["other_cores"] = max(busy_end - busy_start - worker_cpu, 0.0) / wall
    result["worker_cpu_s"], result["process_wall_s"] = worker_cpu, wall
    return result


def measure_compile(args):
    """Part 2: compiled epochs (fresh caches) and whole sessions; returns a dict of results."""
    results = {"epochs": [], "sessions": []}
    for network, ratio in (
        ("SmallCNN 28x28 w32", None),
        ("SmallCNN 28x28 w32", 0.5),
        ("SmallResNet w16 s2", None),
    ):
        cache = tempfile.mkdtemp(prefix="bench_kernels_inductor_")
        try:
            argv = [
                "--worker",
                "compile-epoch",
                "--network",
                network,
                "--memory-format",
                "channels_last",
                "--repeats",
                str(args.repeats),
            ]
            if ratio is not None:
                argv += ["--ratio", str(ratio)]
            results["epochs"].append(run_worker(argv, cache))
            print(f"  compile epoch {network} p={ratio}: done", flush=True)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    network = "SmallCNN 28x28 w32"
    cache = tempfile.mkdtemp(prefix="bench_kernels_inductor_")
    try:
        # eager arms twice in alternating order (ABBA); the compiled ones once: cold, then warm
        # cache
        arms = [
            ("eager", "contiguous", False),
            ("eager", "channels_last", False),
            ("eager", "channels_last", False),
            ("eager", "contiguous", False),
            ("compile, cold cache", "channels_last", True),
            ("compile, warm cache", "channels_last", True),
        ]
        for label, fmt, compile_ in arms:
            argv = ["--worker", "session", "--network", network, "--memory-format", fmt]
            if compile_:
                argv.append("--compile")
            result = run_worker(argv, cache)
            result["arm"] = label
            results["sessions"].append(result)
            print(f"  session {label} {fmt}: {result['total_s']:.1f} s", flush=True)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return results


# --------------------------------------------------------------------------- report
def _format_header(info, settings):
    """The report's opening lines: machine, software and setup."""
    return [
        "prunefuse_sk kernel benchmark: memory format (channels_last) and torch.compile",
        f"machine : {info['platform']} ({info['processor']}), {info['cpu_cores']} CPU cores",
        f"software: python {info['python']}, torch {info['torch']}, skorch {info['skorch']}, "
        f"torch-pruning {info['torch_pruning']}, prunefuse_sk {info['prunefuse_sk']}",
        f"device  : {info['device']}, torch.get_num_threads() = {info['torch_threads']}",
        f"setup   : train = 1 epoch, Adam lr 1e-3, batch {BATCH}, cross-entropy, {N_TRAIN} "
        f"Fashion-MNIST images (1,797 for 8x8 digits); infer = eval forward over {N_INFER} rows; "
        f"{settings['repeats']} repetitions",
        f"          channels_last = module.to(memory_format=torch.channels_last), weights only "
        f"(conv outputs follow: {settings['output_format']})",
    ]


def _format_memory_format(rows):
    """The memory-format table (part 1), as lines."""
    lines = [
        "",
        "Memory format (seconds, medians; ratio = channels_last / contiguous: median of "
        "per-repetition ratios [min-max], and of the fastest runs; busy = runs with other "
        f"processes on > {CONTENDED_CORES} cores)",
        f"{'network':<20}{'p':>5}{'params':>9} "
        f"{'conv widths':<12}{'work':>11}{'contig':>8}{'ch_last':>8}{'ratio':>7}"
        f"{'[min-max]':>13}{'fastest':>8}{'busy':>7}",
        "-" * 108,
    ]
    for row in rows:
        work = [("train", row["train"])] + [
            (f"infer {b}", row["infer"][str(b)]) for b in INFER_BATCHES
        ]
        for index, (label, s) in enumerate(work):
            head = (
                (
                    f"{row['network']:<20}{'-' if row['ratio'] is None else row['ratio']:>5}"
                    f"{row['params']:>9,} "
                    f"{'/'.join(map(str, row['conv_widths'])):<12}"
                )
                if index == 0
                else " " * 47
            )
            lines.append(
                f"{head}{label:>11}{s['contiguous_s']:>8.3f}{s['channels_last_s']:>8.3f}"
                f"{s['ratio_median']:>7.2f}"
                f"  [{s['ratio_min']:.2f}-{s['ratio_max']:.2f}]{s['ratio_fastest']:>8.2f}"
                f"{s['contended']:>4}/{s['runs']}"
            )
    return lines


def _format_compile_epochs(compiled):
    """The torch.compile steady-state table (part 2, epochs), as lines."""
    lines = [
        "",
        "torch.compile, steady state (channels_last; fresh process, empty inductor cache; "
        "seconds per epoch as above; compile = first compiled epoch - steady epoch;",
        "              fresh instance = extra seconds of the first epoch of a second, new "
        "module instance of the same architecture)",
        f"{'network':<20}{'p':>5}{'eager':>8}{'compiled':>10}{'speed-up':>10}{'compile s':>11}"
        f"{'fresh instance s':>18}",
        "-" * 82,
    ]
    for r in compiled["epochs"]:
        lines.append(
            f"{r['network']:<20}{'-' if r['ratio'] is None else r['ratio']:>5}"
            f"{r['eager_epoch_s']:>8.3f}"
            f"{r['compiled_epoch_s']:>10.3f}{r['eager_epoch_s'] / r['compiled_epoch_s']:>10.2f}"
            f"{r['first_compiled_epoch_s'] - r['compiled_epoch_s']:>11.1f}"
            f"{r['fresh_instance_first_epoch_s'] - r['compiled_epoch_s']:>18.1f}"
        )
    return lines


def _format_sessions(compiled):
    """The whole-session table (part 2, sessions), as lines."""
    lines = [
        "",
        f"Session (SmallCNN 28x28 w32; {len(SESSION_LABELS)} rounds: fresh proxy "
        f"p={SESSION_RATIO} trained {SESSION_EPOCHS} epochs on "
        f"{SESSION_LABELS[0]}..{SESSION_LABELS[-1]} labels + scoring {N_INFER} pool rows at "
        "batch 1024,",
        f"         then the full network {SESSION_EPOCHS} epochs on {SESSION_LABELS[-1]} "
        "labels; skorch nets, compile=True; wall-clock seconds; vs eager cl = total / median "
        "eager channels_last total;",
        "         other cores = cores other processes kept busy on average)",
        f"{'arm':<22}{'format':<15}{'proxy fits':>11}{'scoring':>9}{'round 1':>9}"
        f"{'full fit':>10}"
        f"{'total':>8}{'vs eager cl':>13}{'other cores':>13}",
        "-" * 109,
    ]
    base = statistics.median(
        s["total_s"]
        for s in compiled["sessions"]
        if s["memory_format"] == "channels_last" and not s["compile"]
    )
    for s in compiled["sessions"]:
        fits = sum(r["fit_s"] for r in s["rounds"])
        scores = sum(r["score_s"] for r in s["rounds"])
        lines.append(
            f"{s['arm']:<22}{s['memory_format']:<15}{fits:>11.1f}{scores:>9.1f}{s['rounds'][0]['fit_s']:>9.1f}"
            f"{s['fused_fit_s']:>10.1f}{s['total_s']:>8.1f}{s['total_s'] / base:>13.2f}"
            f"{s.get('other_cores', float('nan')):>13.2f}"
        )
    return lines


def format_report(info, rows, compiled, settings):
    """The printed table, as text."""
    lines = _format_header(info, settings) + _format_memory_format(rows)
    if compiled:
        lines += _format_compile_epochs(compiled)
        lines += _format_sessions(compiled)
    lines += [
        "",
        f"total benchmark wall time: {settings['wall_s']:.1f} s",
        f"1-min load average: {settings['load_start']:.2f} at start, {settings['load_end']:.2f} "
        f"at end ({info['cpu_cores']} cores)",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=5, help="repetitions per measurement (default 5)"
    )
    parser.add_argument("--skip-compile", action="store_true", help="only part 1 (memory format)")
    parser.add_argument("--only-compile", action="store_true", help="only part 2 (torch.compile)")
    parser.add_argument(
        "--networks",
        default=None,
        help="comma-separated subset of network names for part 1 (default: all)",
    )
    parser.add_argument(
        "--out",
        default=os.path.join(HERE, "results", "bench_kernels_cpu"),
        help="output path without extension (.txt and .json are written)",
    )
    parser.add_argument("--worker", choices=("compile-epoch", "session"), help=argparse.SUPPRESS)
    parser.add_argument("--network", help=argparse.SUPPRESS)
    parser.add_argument("--ratio", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--memory-format", default="channels_last", help=argparse.SUPPRESS)
    parser.add_argument("--compile", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "compile-epoch":
        return _worker_compile_epoch(args)
    if args.worker == "session":
        return _worker_session(args)

    start, load_start = time.perf_counter(), os.getloadavg()[0]
    info = machine_info("cpu")
    rows = []
    specs = network_specs()
    output_format = output_format_check(specs[0]["factory"]())
    if not args.only_compile:
        wanted = None if args.networks is None else set(args.networks.split(","))
        for spec in specs:
            if wanted is not None and spec["name"] not in wanted:
                continue
            data = load_data(spec["data"])
            for ratio in spec.get("ratios", RATIOS):
                rows.append(measure_formats(spec, ratio, data, args.repeats))
                t = rows[-1]["train"]
                print(
                    f"  {spec['name']} p={ratio}: train {t['contiguous_s']:.3f} -> "
                    f"{t['channels_last_s']:.3f} s",
                    flush=True,
                )
    compiled = None if args.skip_compile else measure_compile(args)
    settings = {
        "repeats": args.repeats,
        "wall_s": time.perf_counter() - start,
        "load_start": load_start,
        "load_end": os.getloadavg()[0],
        "output_format": output_format,
    }
    report = format_report(info, rows, compiled, settings)
    print(report)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + ".txt", "w") as handle:
        handle.write(report + "\n")
    with open(args.out + ".json", "w") as handle:
        json.dump(
            {"machine": info, "settings": settings, "memory_format": rows, "compile": compiled},
            handle,
            indent=1,
        )
    return None


if __name__ == "__main__":
    main()
