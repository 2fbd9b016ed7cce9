"""Scale-out benchmark: a dask pool queried on 1 vs 2 local workers, and a simulate grid on a
cluster (issue 15).

(a) ``learner.query(pool, n=1000)`` (least confidence, PruneFuse proxy at p = 0.5 of an
    MLP 784-256-128-10) on a 2,000,000-row pool of Fashion-MNIST images (the 70,000 images
    of the Debian package ``dataset-fashion-mnist``, repeated; 784 float32 features, 6.3 GB
    as float32). The pool is a ``dask.array`` whose blocks are made *on the workers* from
    the installed files (each worker reads them once), so neither the client nor the graph
    ever holds it. Timed on a ``LocalCluster`` of 1 worker and of 2 workers (one thread
    each, processes), ``--repeats`` times after one warm-up query; the ratio
    t(1 worker) / t(2 workers) is judged on the medians and on the fastest runs (target >= 1.6).
(b) What reaches the client per query: the bytes of the results the client gathers (the
    merged top-n and the chosen rows), and its peak memory (tracemalloc: numpy and Python
    allocations, in a separate, untimed query; and the resident set sampled from
    ``/proc/self/status``) against the pool's size.
(c) ``simulate`` with methods ("full", "prunefuse") x 2 seeds on a 20,000-image Fashion-MNIST
    pool (MLP, 10 epochs, 500 initial labels + 4 rounds of 500, scored on the 10,000 test images),
    serially and with ``n_jobs=2`` under
    ``joblib.parallel_backend("dask")`` on 2 workers (imports done beforehand, as on a running
    cluster): wall time of the grid, and whether the records (every field but the timings) agree.

Every number printed is measured on the current machine in this run. Run
``python benchmarks/bench_scale.py --help`` for the options.
"""

import argparse
import json
import os
import pickle
import statistics
import sys
import time
import tracemalloc

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_core import machine_info  # noqa: E402
from bench_query import PeakSampler  # noqa: E402

from prunefuse_sk import PruneFuseActiveLearner  # noqa: E402
from prunefuse_sk.datasets import load_fashion_mnist  # noqa: E402
from prunefuse_sk.networks import MLP  # noqa: E402

TARGET_SPEEDUP = 1.6
MB = 1024.0**2


def fashion_block(block_id, rows):
    """Rows ``block_id * rows ...`` of the repeated Fashion-MNIST images, made on the worker that
    computes them."""
    from distributed import get_worker

    worker = get_worker()
    images = getattr(worker, "_fashion_mnist", None)
    if images is None:  # read once per worker process, kept as uint8 (55 MB)
        X_train, X_test, _, _ = load_fashion_mnist(image_shape=False)
        images = worker._fashion_mnist = (
            (np.concatenate([X_train, X_test]) * 255).round().astype(np.uint8)
        )
    positions = (block_id * rows + np.arange(rows)) % len(images)
    block = images[positions].astype(np.float32)
    block *= np.float32(
        1 / 255
    )  # in place: one float32 copy of the block, as a reader of stored rows makes
    return block


def lazy_pool(n_rows, block_rows):
    import dask.array as da

    n_blocks = n_rows // block_rows
    return da.map_blocks(
        lambda block_info=None: fashion_block(block_info[None]["chunk-location"][0], block_rows),
        chunks=((block_rows,) * n_blocks, (784,)),
        dtype=np.float32,
        meta=np.empty((0, 0), np.float32),
    )


def make_net(max_epochs):
    from skorch import NeuralNetClassifier

    return NeuralNetClassifier(
        MLP,
        module__n_features=784,
        module__n_classes=10,
        module__hidden=(256, 128),
        max_epochs=max_epochs,
        lr=2e-3,
        optimizer=torch.optim.Adam,
        batch_size=64,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
    )


def cluster(n_workers):
    from distributed import Client, LocalCluster

    local = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    return local, Client(local)


def fresh(learner):
    """A copy of the fitted learner in the same state (same random stream), so every query is the
    same query."""
    return pickle.loads(pickle.dumps(learner))


def time_queries(learner, pool, n, n_workers, repeats):
    local, client = cluster(n_workers)
    try:
        fresh(learner).query(pool, n)  # warm-up: workers read the image files, import torch
        times = []
        for _ in range(repeats):
            copy = fresh(learner)
            start = time.perf_counter()
            indices, rows = copy.query(pool, n)
            times.append(time.perf_counter() - start)
        return times, indices
    finally:
        client.close()
        local.close()


def client_memory(learner, pool, n):
    """Bytes gathered and client memory while querying, on 2 workers (an untimed query)."""
    import dask

    gathered = []

    original = dask.compute

    def counting_compute(*args, **kwargs):
        result = original(*args, **kwargs)
        gathered.append(len(pickle.dumps(result, protocol=5)))
        return result

    local, client = cluster(2)
    try:
        fresh(learner).query(pool, n)
        learner = fresh(learner)
        dask.compute = counting_compute
        sampler = PeakSampler(0.005)
        tracemalloc.start()
        with sampler:
            _, rows = learner.query(pool, n)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        dask.compute = original
        client.close()
        local.close()
    return {
        "gathered_bytes": int(sum(gathered)),
        "rows_bytes": int(rows.nbytes),
        "traced_peak_bytes": int(traced_peak),
        "rss_peak_bytes": int(sampler.peak.get("VmRSS", 0)),
        "rss_start_bytes": int(sampler.baseline["VmRSS"]) if sampler.baseline else 0,
    }


def simulate_grid(seeds=(0, 1)):
    import joblib

    from prunefuse_sk.simulation import simulate

    X_train, X_test, y_train, y_test = load_fashion_mnist(image_shape=False)
    rng = np.random.RandomState(0)
    pool = rng.choice(len(X_train), 20_000, replace=False)
    kwargs = dict(
        methods=("full", "prunefuse"),
        initial_size=500,
        batch_sizes=500,
        n_rounds=4,
        seeds=seeds,
        progress=False,
    )
    args = (make_net(10), X_train[pool], y_train[pool], X_test, y_test)
    start = time.perf_counter()
    serial = simulate(*args, **kwargs)
    serial_s = time.perf_counter() - start
    local, client = cluster(2)
    try:
        client.run(
            lambda: __import__("prunefuse_sk.simulation")
        )  # a running cluster has its imports done
        start = time.perf_counter()
        with joblib.parallel_backend("dask"):
            parallel = simulate(*args, n_jobs=2, **kwargs)
        parallel_s = time.perf_counter() - start
    finally:
        client.close()
        local.close()
    untimed = [f for f in serial.records[0] if not f.endswith("_seconds")]
    same = all(
        all(
            a[f] == b[f] or (isinstance(a[f], float) and np.isnan(a[f]) and np.isnan(b[f]))
            for f in untimed
        )
        for a, b in zip(serial.records, parallel.records)
    ) and len(serial.records) == len(parallel.records)
    return {
        "serial_s": serial_s,
        "dask_2_workers_s": parallel_s,
        "same_records": bool(same),
        "n_cells": len(seeds) * 2,
    }


def _parse_args():
    """The command-line arguments."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=2_000_000, help="pool rows (default 2,000,000)")
    parser.add_argument(
        "--block-rows", type=int, default=20_000, help="rows per dask block (63 MB as float32)"
    )
    parser.add_argument("--n", type=int, default=1000, help="samples per query")
    parser.add_argument("--repeats", type=int, default=3, help="timed queries per cluster size")
    parser.add_argument("--skip-simulate", action="store_true", help="skip part (c)")
    parser.add_argument(
        "--out",
        default=os.path.join(HERE, "results", "bench_scale_cpu"),
        help="write <out>.txt and <out>.json",
    )
    return parser.parse_args()


def _format_report(args, pool_bytes, t1, t2, same_indices, memory, grid):
    """The printed report, as text."""
    median_ratio = statistics.median(t1) / statistics.median(t2)
    fastest_ratio = min(t1) / min(t2)
    lines = [
        f"bench_scale: dask pool of {args.rows:,} Fashion-MNIST rows (784 float32 features, "
        f"{pool_bytes / MB:,.0f} MB), blocks of {args.block_rows:,} rows, query n={args.n}, "
        f"least confidence, PruneFuse p=0.5 proxy of an MLP 784-256-128-10",
        f"machine: {json.dumps(machine_info('cpu'))}",
        "",
        f"{'workers':>8} {'median s':>10} {'fastest s':>10} {'runs':>30}",
        f"{1:>8} {statistics.median(t1):>10.2f} {min(t1):>10.2f} "
        f"{' '.join(f'{t:.2f}' for t in t1):>30}",
        f"{2:>8} {statistics.median(t2):>10.2f} {min(t2):>10.2f} "
        f"{' '.join(f'{t:.2f}' for t in t2):>30}",
        f"speed-up 1 -> 2 workers: median {median_ratio:.2f}x, fastest {fastest_ratio:.2f}x "
        f"(target >= {TARGET_SPEEDUP}x: "
        f"{'met' if min(median_ratio, fastest_ratio) >= TARGET_SPEEDUP else 'MISSED'})",
        f"same indices on 1 and 2 workers: {same_indices}",
        "",
        f"client per query: gathered results {memory['gathered_bytes'] / MB:.2f} MB (the top "
        f"{args.n} scores, positions and rows; the rows alone {memory['rows_bytes'] / MB:.2f} "
        f"MB); traced peak allocations {memory['traced_peak_bytes'] / MB:.1f} MB; resident set "
        f"{memory['rss_start_bytes'] / MB:.0f} -> peak {memory['rss_peak_bytes'] / MB:.0f} MB; "
        f"pool {pool_bytes / MB:,.0f} MB (peak traced / pool = "
        f"{memory['traced_peak_bytes'] / pool_bytes:.4f})",
    ]
    if grid is not None:
        lines += [
            "",
            "simulate grid ('full', 'prunefuse') x seeds (0, 1), 20,000-image pool, 500 + 4 "
            f"rounds of 500 labels: serial {grid['serial_s']:.1f} s, n_jobs=2 on 2 dask workers "
            f"{grid['dask_2_workers_s']:.1f} s (speed-up "
            f"{grid['serial_s'] / grid['dask_2_workers_s']:.2f}x); same records except timings: "
            f"{grid['same_records']}",
        ]
    return "\n".join(lines)


def _write_outputs(args, text, t1, t2, memory, grid):
    """Write <out>.txt (the report) and <out>.json (the measurements)."""
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + ".txt", "w") as handle:
        handle.write(text + "\n")
    with open(args.out + ".json", "w") as handle:
        json.dump(
            {
                "args": vars(args),
                "t_1_worker": t1,
                "t_2_workers": t2,
                "median_ratio": statistics.median(t1) / statistics.median(t2),
                "fastest_ratio": min(t1) / min(t2),
                "memory": memory,
                "simulate": grid,
                "machine": machine_info("cpu"),
            },
            handle,
            indent=2,
        )


def main():
    args = _parse_args()

    X_train, _, y_train, _ = load_fashion_mnist(image_shape=False)
    labelled = np.random.RandomState(0).choice(len(X_train), 2000, replace=False)
    learner = PruneFuseActiveLearner(make_net(8), pruning_ratio=0.5, random_state=0)
    learner.fit(X_train[labelled], y_train[labelled])
    pool = lazy_pool(args.rows, args.block_rows)
    pool_bytes = args.rows * 784 * 4

    t1, idx1 = time_queries(learner, pool, args.n, 1, args.repeats)
    t2, idx2 = time_queries(learner, pool, args.n, 2, args.repeats)
    memory = client_memory(learner, pool, args.n)
    grid = None if args.skip_simulate else simulate_grid()

    same_indices = bool(np.array_equal(idx1, idx2))
    text = _format_report(args, pool_bytes, t1, t2, same_indices, memory, grid)
    print(text)
    _write_outputs(args, text, t1, t2, memory, grid)


if __name__ == "__main__":
    main()
