"""Core benchmark: how much smaller, cheaper and faster is the PruneFuse proxy?

For pruning ratios p in {0.5, 0.7} and two networks on scikit-learn's
``load_digits`` (1,797 real 8x8 images, 10 classes), this script measures

1. proxy parameters / full parameters (whole network, and interior layers only),
2. proxy forward FLOPs / full forward FLOPs (``torch.utils.flop_counter``),
3. proxy train+score wall time / full-network train+score wall time, where
   "train" is a skorch ``fit`` on the labelled set from the network's initial
   weights and "score" is :func:`prunefuse_sk.scoring.predict_proba_batched`
   over the unlabelled pool (what every active-learning round costs).

Every number in the printed table is measured on the current machine; nothing
is hard-coded. Run ``python benchmarks/bench_core.py --help`` for the options.
"""

import argparse
import copy
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
import sklearn
import skorch
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier

import prunefuse_sk
from prunefuse_sk import PruneFuseActiveLearner
from prunefuse_sk.architecture import count_parameters
from prunefuse_sk.flops import forward_flops
from prunefuse_sk.networks import MLP, SmallCNN
from prunefuse_sk.pruning import prune_at_init
from prunefuse_sk.scoring import predict_proba_batched
from prunefuse_sk.skorch_nets import net_like

RATIOS = (0.5, 0.7)
N_LABELLED = 500
N_QUERY = 100
FLOP_BATCH = 256
CONTENDED_CORES = 0.25  # other processes busy on average on more than this many cores


# --------------------------------------------------------------------------- setup
def available_cpus():
    """Number of CPU cores this process may run on.

    Returns
    -------
    n : int
    """
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def machine_info(device):
    """Describe the machine the benchmark runs on.

    Parameters
    ----------
    device : str
        ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    info : dict
    """
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "skorch": skorch.__version__,
        "scikit-learn": sklearn.__version__,
        "prunefuse_sk": prunefuse_sk.__version__,
        "cpu_cores": available_cpus(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
    }
    try:  # the distribution's version: torch_pruning.__version__ lags behind (1.6.1 says 1.6.0)
        info["torch_pruning"] = importlib.metadata.version("torch-pruning")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a hard dependency
        info["torch_pruning"] = "missing"
    if device == "cuda":
        info["device_name"] = torch.cuda.get_device_name(0)
    else:
        info["device_name"] = "CPU"
    return info


def load_data(seed):
    """The digits, split into a labelled set of ``N_LABELLED`` rows and a pool.

    Parameters
    ----------
    seed : int
        Seeds the stratified split.

    Returns
    -------
    data : dict
        ``"flat"`` and ``"image"`` views, each a tuple
        ``(X_lab, X_pool)`` of float32 arrays, plus ``"y_lab"`` (int64).
    """
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    y = y.astype(np.int64)
    X_lab, X_pool, y_lab, _ = train_test_split(
        X, y, train_size=N_LABELLED, stratify=y, random_state=seed
    )
    return {
        "flat": (X_lab, X_pool),
        "image": (X_lab.reshape(-1, 1, 8, 8), X_pool.reshape(-1, 1, 8, 8)),
        "y_lab": y_lab,
    }


def make_net(module_cls, module_kwargs, epochs, device):
    """The unfitted full-size skorch classifier used for both arms.

    Parameters
    ----------
    module_cls : type
        A ``torch.nn.Module`` subclass returning logits.
    module_kwargs : dict
        Passed as ``module__*`` parameters.
    epochs : int
    device : str

    Returns
    -------
    net : skorch.NeuralNetClassifier
    """
    return NeuralNetClassifier(
        module_cls,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=epochs,
        batch_size=64,
        train_split=None,
        verbose=0,
        device=device,
        **{f"module__{key}": value for key, value in module_kwargs.items()},
    )


def network_specs():
    """The two networks benchmarked.

    Returns
    -------
    specs : list of dict
        ``name``, ``module_cls``, ``module_kwargs`` and ``view`` (which data view).
    """
    return [
        {"name": "SmallCNN", "module_cls": SmallCNN, "module_kwargs": {}, "view": "image"},
        {
            "name": "MLP(64,10,(256,256))",
            "module_cls": MLP,
            "module_kwargs": {"n_features": 64, "n_classes": 10, "hidden": (256, 256)},
            "view": "flat",
        },
    ]


# --------------------------------------------------------------------------- size and FLOPs
def _sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def interior_parameters(module, output_layers):
    """Parameters outside the first channel-mixing layer and the output layers.

    The first layer's input width (the data) and the output layers' output
    width (the classes) are never pruned, so only these "interior" parameters
    can shrink on both sides, i.e. towards ``(1 - p) ** 2``.

    Parameters
    ----------
    module : torch.nn.Module
    output_layers : tuple of str
        Names of the protected output layers.

    Returns
    -------
    n : int
    """
    mixing = [
        name
        for name, sub in module.named_modules()
        if any(p.dim() >= 2 for p in sub.parameters(recurse=False))
    ]
    excluded = set(output_layers) | set(mixing[:1])
    total = 0
    for name, sub in module.named_modules():
        if name in excluded:
            continue
        total += sum(p.numel() for p in sub.parameters(recurse=False))
    return int(total)


def measure_size(spec, X_example, ratio, seed, device):
    """Parameter and FLOP counts of the full network and its proxy at ``ratio``.

    Parameters
    ----------
    spec : dict
        From :func:`network_specs`.
    X_example : torch.Tensor
        A batch of ``FLOP_BATCH`` pool rows on ``device``.
    ratio : float
    seed : int
    device : str

    Returns
    -------
    size : dict
    """
    torch.manual_seed(seed)
    full = spec["module_cls"](**spec["module_kwargs"]).to(device)
    pruned = prune_at_init(full, X_example[:3], pruning_ratio=ratio, random_state=seed)
    proxy = pruned.module
    return {
        "params_full": count_parameters(full),
        "params_proxy": count_parameters(proxy),
        "interior_params_full": interior_parameters(full, pruned.output_layers),
        "interior_params_proxy": interior_parameters(proxy, pruned.output_layers),
        "flops_full": forward_flops(full, X_example),
        "flops_proxy": forward_flops(proxy, X_example),
        "flop_batch": int(X_example.shape[0]),
        "output_layers": list(pruned.output_layers),
        "pruned_layers": list(pruned.pruned_layers),
    }


# --------------------------------------------------------------------------- timing
def system_busy_seconds():
    """CPU seconds all processes of the machine have been busy since boot (Linux only).

    Returns
    -------
    seconds : float or None
        ``None`` where ``/proc/stat`` is unavailable.
    """
    try:
        with open("/proc/stat") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def time_train_and_score(net, X_lab, y_lab, X_pool, seed, device):
    """Fit ``net`` on the labelled set and score the pool; wall-clock seconds of each.

    Parameters
    ----------
    net : skorch.NeuralNetClassifier
        Unfitted.
    X_lab, y_lab, X_pool : ndarray
    seed : int
        Seeds torch before the fit (initialization and shuffling).
    device : str

    Returns
    -------
    train_s, score_s : float
        Wall-clock seconds of the fit and of the pool scoring.
    cpu_s : float
        CPU seconds of this process over both (all threads).
    other_cores : float or None
        Average number of cores other processes kept busy meanwhile (Linux
        only): a measurement above ``CONTENDED_CORES`` competed for the CPU.
    """
    torch.manual_seed(seed)
    _sync(device)
    busy_start = system_busy_seconds()
    cpu_start = time.process_time()
    start = time.perf_counter()
    net.fit(X_lab, y_lab)
    _sync(device)
    middle = time.perf_counter()
    proba = predict_proba_batched(net, X_pool)
    _sync(device)
    end = time.perf_counter()
    cpu_s = time.process_time() - cpu_start
    busy_end = system_busy_seconds()
    other_cores = None
    if busy_start is not None and busy_end is not None:
        other_cores = max(busy_end - busy_start - cpu_s, 0.0) / max(end - start, 1e-9)
    if proba.shape != (len(X_pool), 10):
        raise RuntimeError(f"predict_proba_batched returned shape {proba.shape}.")
    return middle - start, end - middle, cpu_s, other_cores


def time_query(learner, X_pool, device):
    """Wall-clock seconds of ``learner.query(X_pool, n=N_QUERY)`` (proxy scoring + selection).

    Parameters
    ----------
    learner : PruneFuseActiveLearner
        Fitted.
    X_pool : ndarray
    device : str

    Returns
    -------
    seconds : float
    """
    _sync(device)
    start = time.perf_counter()
    indices, _ = learner.query(X_pool, n=N_QUERY)
    _sync(device)
    seconds = time.perf_counter() - start
    if len(np.unique(indices)) != N_QUERY:
        raise RuntimeError(
            f"learner.query returned {len(indices)} indices, not {N_QUERY} unique ones."
        )
    return seconds


def _prepare_learners(spec, net, data, args):
    """Fit one learner per pruning ratio and measure the size of its proxy.

    Each learner is fitted and its query path warmed up once; a warning is
    printed if the learner's proxy size disagrees with ``prune_at_init``.

    Parameters
    ----------
    spec : dict
    net : skorch.NeuralNetClassifier
        The unfitted full network.
    data : dict
        From :func:`load_data`.
    args : argparse.Namespace

    Returns
    -------
    learners : dict
        Pruning ratio -> fitted :class:`PruneFuseActiveLearner`.
    sizes : dict
        Pruning ratio -> dict from :func:`measure_size`.
    """
    X_lab, X_pool = data[spec["view"]]
    y_lab = data["y_lab"]
    device = args.device
    X_example = torch.as_tensor(X_pool[:FLOP_BATCH], device=device)

    learners, sizes = {}, {}
    for ratio in RATIOS:
        sizes[ratio] = measure_size(spec, X_example, ratio, args.seed, device)
        learner = PruneFuseActiveLearner(net, pruning_ratio=ratio, random_state=args.seed)
        learner.fit(X_lab, y_lab)
        learner.query(X_pool, n=N_QUERY)  # warm-up of the query path
        if learner.n_params_proxy_ != sizes[ratio]["params_proxy"]:
            print(
                f"WARNING: {spec['name']} p={ratio}: learner's proxy has {learner.n_params_proxy_} "
                f"parameters but prune_at_init gave {sizes[ratio]['params_proxy']}.",
                file=sys.stderr,
            )
        learners[ratio] = learner
    return learners, sizes


def _time_arms(spec, net, learners, data, args):
    """Time the full network and every proxy over ``args.repeats`` repetitions.

    An untimed warm-up of both arms comes first; within each repetition the
    full network is trained and scored once and the order of the arms (full
    first or proxies first) alternates between repetitions.

    Parameters
    ----------
    spec : dict
    net : skorch.NeuralNetClassifier
        The unfitted full network.
    learners : dict
        From :func:`_prepare_learners`.
    data : dict
        From :func:`load_data`.
    args : argparse.Namespace

    Returns
    -------
    full_times : list of tuple
        One :func:`time_train_and_score` result per repetition.
    proxy_times : dict
        Pruning ratio -> list of :func:`time_train_and_score` results.
    query_times : dict
        Pruning ratio -> list of :func:`time_query` seconds.
    """
    X_lab, X_pool = data[spec["view"]]
    y_lab = data["y_lab"]
    device = args.device

    def full_net():
        return clone(net)

    def proxy_net(ratio):
        learner = learners[ratio]
        return net_like(learner.estimator_, copy.deepcopy(learner.proxy_init_module_))

    # untimed warm-up of both arms (lazy allocations, first-call dispatch)
    time_train_and_score(full_net(), X_lab, y_lab, X_pool, args.seed, device)
    for ratio in RATIOS:
        time_train_and_score(proxy_net(ratio), X_lab, y_lab, X_pool, args.seed, device)

    full_times = []
    proxy_times = {ratio: [] for ratio in RATIOS}
    query_times = {ratio: [] for ratio in RATIOS}
    for rep in range(args.repeats):
        seed = args.seed + 1 + rep
        arms = ["full"] + list(RATIOS)
        if rep % 2:
            arms.reverse()
        for arm in arms:
            if arm == "full":
                full_times.append(
                    time_train_and_score(full_net(), X_lab, y_lab, X_pool, seed, device)
                )
            else:
                proxy_times[arm].append(
                    time_train_and_score(proxy_net(arm), X_lab, y_lab, X_pool, seed, device)
                )
                query_times[arm].append(time_query(learners[arm], X_pool, device))
    return full_times, proxy_times, query_times


def _ratio_row(spec, ratio, size, learner, full_times, ratio_times, query_times):
    """Summarise the measurements of one pruning ratio as a result row.

    Parameters
    ----------
    spec : dict
    ratio : float
    size : dict
        From :func:`measure_size`.
    learner : PruneFuseActiveLearner
        The fitted learner for ``ratio``.
    full_times : list of tuple
        The full network's :func:`time_train_and_score` results.
    ratio_times : list of tuple
        The proxy's :func:`time_train_and_score` results, paired with ``full_times``.
    query_times : list of float
        The learner's :func:`time_query` seconds.

    Returns
    -------
    row : dict
    """
    full_total = [t[0] + t[1] for t in full_times]
    proxy_total = [t[0] + t[1] for t in ratio_times]
    paired = [p / f for p, f in zip(proxy_total, full_total)]
    paired_cpu = [p[2] / f[2] for p, f in zip(ratio_times, full_times)]
    contended = sum(
        1
        for p, f in zip(ratio_times, full_times)
        if any(t[3] is not None and t[3] > CONTENDED_CORES for t in (p, f))
    )
    return {
        "network": spec["name"],
        "pruning_ratio": ratio,
        **size,
        "params_ratio": size["params_proxy"] / size["params_full"],
        "interior_params_ratio": size["interior_params_proxy"] / size["interior_params_full"],
        "flops_ratio": size["flops_proxy"] / size["flops_full"],
        "expected_ratio": (1 - ratio) ** 2,
        "full_train_s": [t[0] for t in full_times],
        "full_score_s": [t[1] for t in full_times],
        "full_cpu_s": [t[2] for t in full_times],
        "proxy_train_s": [t[0] for t in ratio_times],
        "proxy_score_s": [t[1] for t in ratio_times],
        "proxy_cpu_s": [t[2] for t in ratio_times],
        "full_other_cores": [t[3] for t in full_times],
        "proxy_other_cores": [t[3] for t in ratio_times],
        "contended_repeats": contended if full_times[0][3] is not None else None,
        "learner_query_s": query_times,
        "learner_fit_proxy_s": learner.history_[0]["fit_seconds"],
        "median_full_s": statistics.median(full_total),
        "median_proxy_s": statistics.median(proxy_total),
        "median_full_train_s": statistics.median(t[0] for t in full_times),
        "median_proxy_train_s": statistics.median(t[0] for t in ratio_times),
        "median_full_score_s": statistics.median(t[1] for t in full_times),
        "median_proxy_score_s": statistics.median(t[1] for t in ratio_times),
        "median_query_s": statistics.median(query_times),
        "time_ratio": statistics.median(paired),
        "time_ratio_min": min(paired),
        "time_ratio_max": max(paired),
        "cpu_time_ratio": statistics.median(paired_cpu),
    }


def benchmark_network(spec, data, args):
    """Measure one network at every pruning ratio.

    The full network does not depend on the ratio, so within each repetition it
    is trained and scored once and paired with every proxy of that repetition;
    the order (full first or proxies first) alternates between repetitions.

    Parameters
    ----------
    spec : dict
    data : dict
        From :func:`load_data`.
    args : argparse.Namespace

    Returns
    -------
    rows : list of dict
        One per pruning ratio.
    """
    net = make_net(spec["module_cls"], spec["module_kwargs"], args.epochs, args.device)
    learners, sizes = _prepare_learners(spec, net, data, args)
    full_times, proxy_times, query_times = _time_arms(spec, net, learners, data, args)
    return [
        _ratio_row(
            spec,
            ratio,
            sizes[ratio],
            learners[ratio],
            full_times,
            proxy_times[ratio],
            query_times[ratio],
        )
        for ratio in RATIOS
    ]


# --------------------------------------------------------------------------- report
def format_report(info, config, rows):
    """The printed report: machine, configuration and two tables.

    Parameters
    ----------
    info : dict
        From :func:`machine_info`.
    config : dict
    rows : list of dict

    Returns
    -------
    text : str
    """
    lines = [
        "prunefuse_sk core benchmark: pruned proxy vs full network (load_digits)",
        f"machine : {info['platform']} ({info['processor']}), {info['cpu_cores']} CPU cores",
        f"software: python {info['python']}, torch {info['torch']}, skorch {info['skorch']}, "
        f"torch-pruning {info['torch_pruning']}, scikit-learn {info['scikit-learn']}, "
        f"prunefuse_sk {info['prunefuse_sk']}",
        f"device  : {info['device']} ({info['device_name']}), torch.get_num_threads() = "
        f"{info['torch_threads']}",
        f"setup   : {config['n_labelled']} labelled rows, pool {config['n_pool']} rows, "
        f"{config['epochs']} epochs, batch 64, Adam lr 1e-3, {config['repeats']} repetitions "
        f"(median), seed {config['seed']}",
        "",
        "Size (FLOPs: forward pass, FlopCounterMode, batch of "
        f"{rows[0]['flop_batch']}; interior = all layers but the first and the output layer)",
    ]
    header = (
        f"{'network':<22} {'p':>4} {'params full':>11} {'proxy':>8} {'ratio':>6} {'interior':>8} "
        f"{'MFLOPs full':>11} {'proxy':>8} {'ratio':>6} {'(1-p)^2':>7}"
    )
    lines += [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row['network']:<22} {row['pruning_ratio']:>4.1f} {row['params_full']:>11,} "
            f"{row['params_proxy']:>8,} {row['params_ratio']:>6.3f} "
            f"{row['interior_params_ratio']:>8.3f} {row['flops_full'] / 1e6:>11.2f} "
            f"{row['flops_proxy'] / 1e6:>8.2f} {row['flops_ratio']:>6.3f} "
            f"{row['expected_ratio']:>7.3f}"
        )
    lines += [
        "",
        "Time (seconds, medians; train = skorch fit from init on the labelled set, "
        "score = predict_proba_batched on the pool;",
        "      ratio = median of the per-repetition proxy/full wall-time ratios [min-max];",
        "      query = learner.query(pool, n=100), proxy scoring + selection;",
        f"      busy = repetitions during which other processes kept > {CONTENDED_CORES} cores "
        "busy (noisy))",
    ]
    header = (
        f"{'network':<22} {'p':>4} {'full train':>10} {'score':>6} {'total':>6} "
        f"{'proxy train':>11} {'score':>6} {'total':>6} {'time ratio':>10} {'[min-max]':>13} "
        f"{'query':>6} {'busy':>5}"
    )
    lines += [header, "-" * len(header)]
    for row in rows:
        spread = f"[{row['time_ratio_min']:.2f}-{row['time_ratio_max']:.2f}]"
        busy = (
            "n/a"
            if row["contended_repeats"] is None
            else f"{row['contended_repeats']}/{len(row['full_train_s'])}"
        )
        lines.append(
            f"{row['network']:<22} {row['pruning_ratio']:>4.1f} "
            f"{row['median_full_train_s']:>10.3f} {row['median_full_score_s']:>6.3f} "
            f"{row['median_full_s']:>6.3f} {row['median_proxy_train_s']:>11.3f} "
            f"{row['median_proxy_score_s']:>6.3f} {row['median_proxy_s']:>6.3f} "
            f"{row['time_ratio']:>10.3f} {spread:>13} {row['median_query_s']:>6.3f} {busy:>5}"
        )
    lines.append("")
    lines.append(f"total benchmark wall time: {config['wall_s']:.1f} s")
    if config.get("loadavg_start") is not None:
        lines.append(
            f"1-min load average: {config['loadavg_start']:.2f} at start, "
            f"{config['loadavg_end']:.2f} at end ({info['cpu_cores']} cores; a lagging hint of "
            "other work on the machine, see the busy column)"
        )
    return "\n".join(lines)


def parse_args(argv=None):
    """Command-line options.

    Parameters
    ----------
    argv : list of str, default=None
        ``None`` reads ``sys.argv``.

    Returns
    -------
    args : argparse.Namespace
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed repetitions (median reported); default 5"
    )
    parser.add_argument(
        "--epochs", type=int, default=10, help="training epochs of both networks; default 10"
    )
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu", help="torch device; default cpu"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 repetitions, 3 epochs")
    parser.add_argument(
        "--seed", type=int, default=0, help="seeds the split, initializations and shuffles"
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
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.epochs = 2, 3
    if args.repeats < 1 or args.epochs < 1:
        parser.error("--repeats and --epochs must be positive")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device")
    return args


def main(argv=None):
    """Run the benchmark, print the report and optionally write JSON.

    Parameters
    ----------
    argv : list of str, default=None
    """
    args = parse_args(argv)
    torch.set_num_threads(args.threads or available_cpus())
    loadavg_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    start = time.perf_counter()
    data = load_data(args.seed)
    rows = []
    for spec in network_specs():
        rows.extend(benchmark_network(spec, data, args))
    config = {
        "n_labelled": int(len(data["y_lab"])),
        "n_pool": int(len(data["flat"][1])),
        "epochs": args.epochs,
        "repeats": args.repeats,
        "seed": args.seed,
        "wall_s": time.perf_counter() - start,
        "loadavg_start": loadavg_start,
        "loadavg_end": os.getloadavg()[0] if loadavg_start is not None else None,
    }
    info = machine_info(args.device)
    print(format_report(info, config, rows), flush=True)
    if args.json:
        directory = os.path.dirname(os.path.abspath(args.json))
        os.makedirs(directory, exist_ok=True)
        with open(args.json, "w") as handle:
            json.dump({"machine": info, "config": config, "results": rows}, handle, indent=2)


if __name__ == "__main__":
    main()
