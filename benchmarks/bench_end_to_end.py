"""PruneFuse's three claims, measured end to end on the stable recipe (issue 13).

1. *Cheaper selection*: wall time of all selection rounds (training the selector and
   scoring the pool), PruneFuse against full-model active learning, same run.
2. *Equal or better accuracy*: test accuracy at every budget (mean +- std over seeds) and of
   the final model.
3. *Faster final training*: a whole session as a user runs it (every selection round, then
   the final network trained once) and, on the same labels, the test accuracy per epoch of
   the fused network against the same network trained from scratch: how many epochs each
   needs to reach full-model AL's final accuracy.

Methods (all least confidence, all from the same random initial labels per seed):
``random``; ``full`` (full-model AL); ``prunefuse-p0.5`` and ``prunefuse-p0.7`` with the
library's defaults (warm proxy retraining, a third of the epochs per later round; the fused
network stopped once its training loss reaches the trained proxy's last one, or on a plateau:
``fused_stopping="auto"`` on features); ``prunefuse-paper`` (p = 0.5 with the paper's schedule:
the proxy retrained from its pruned initialization every round, the fused network trained for
all ``max_epochs``); ``prunefuse-proxy-loss`` (``fused_stopping="proxy-loss"`` set explicitly,
what ``"auto"`` chooses here); ``prunefuse-shrink0.5`` (the defaults with
``fusion_shrink=0.5``: every parameter of the fused start halved before training; ``"auto"``
is 1.0 on features). ``--methods`` runs a subset (full-model AL always runs).
A table of time per phase (proxy training, pool scoring, the
final network's training) shows where each session goes.

Data: Fashion-MNIST (Debian package ``dataset-fashion-mnist``, official split) or
Animal-MNIST (``pip install --no-deps animal-mnist``, 8,000/2,000 stratified split); the
network and training recipe of ``benchmarks/recipe.py``. Every seed is one run of the whole
comparison: session times are medians over seeds with [min-max], ratios are taken per seed
against full-model AL of the same seed (median of the ratios) and on the fastest runs (min of
ours / min of full). Nothing is hard-coded; every figure is measured by the run.

Usage::

    python benchmarks/bench_end_to_end.py          # Fashion-MNIST, 3 seeds (about 1 h on 2 cores)
    python benchmarks/bench_end_to_end.py --dataset animal-mnist
    python benchmarks/bench_end_to_end.py --quick  # 1 seed, 2 rounds, 3 epochs: a smoke run
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch
from sklearn.base import clone
from skorch.callbacks import Callback

import prunefuse_sk
from prunefuse_sk import PruneFuseActiveLearner
from prunefuse_sk.simulation import simulate

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recipe import (  # noqa: E402
    DATASETS,
    EPOCHS,
    final_rows,
    load,
    phase_table,
    recipe_net,
    session_seconds,
)

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
# the paper's schedule: the proxy retrained from its pruned initialization every round, the fused
# network trained for the full max_epochs (the defaults before issue 27)
PAPER = {
    "method": "prunefuse",
    "name": "prunefuse-paper",
    "pruning_ratio": 0.5,
    "proxy_retrain": "reinit",
    "fused_stopping": "none",
}
# the defaults with the fused network stopped once its training loss reaches the proxy's last one
PROXY_LOSS = {
    "method": "prunefuse",
    "name": "prunefuse-proxy-loss",
    "pruning_ratio": 0.5,
    "fused_stopping": "proxy-loss",
}
# the defaults with the fused start shrunk to half before training (fusion_shrink=0.5; "auto" is
# 1.0 for networks on features)
SHRINK = {
    "method": "prunefuse",
    "name": "prunefuse-shrink0.5",
    "pruning_ratio": 0.5,
    "fusion_shrink": 0.5,
}
METHODS = ["random", "full", "prunefuse-p0.5", "prunefuse-p0.7", PAPER, PROXY_LOSS, SHRINK]
METHOD_NAMES = [m if isinstance(m, str) else m["name"] for m in METHODS]
TARGETS = {
    "end_to_end_p05": 0.30,
    "accuracy_p05_pt": 0.2,
    "selection_p07": 0.15,
    "accuracy_p07_pt": 0.3,
    "epochs_ratio": 0.7,
}


class TestAccuracy(Callback):
    """Record the test accuracy after every epoch in the net's history (key ``test_acc``)."""

    def __init__(self, X_test, y_test):
        self.X_test = X_test
        self.y_test = y_test

    def on_epoch_end(self, net, **kwargs):
        net.history.record("test_acc", float(np.mean(net.predict(self.X_test) == self.y_test)))


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=DATASETS, default="fashion-mnist")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--initial", type=int, default=500)
    parser.add_argument("--batch", type=int, default=500, help="labels per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 seed, 2 rounds, 3 epochs (a smoke run, not a result)",
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (0: torch's default)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--skip-curve", action="store_true", help="skip the fused-vs-scratch epoch curve"
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=METHOD_NAMES,
        default=METHOD_NAMES,
        help="the arms to run (full-model AL is always run: every ratio is taken against it)",
    )
    parser.add_argument("--out", default=RESULTS)
    parser.add_argument("--tag", default=None)
    return parser


def _mean_std(values):
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def sessions(records):
    """Per method and seed: session seconds, selection seconds, final training seconds, final
    accuracy."""
    last = final_rows(records)
    out = {}
    for key, (selection, session) in session_seconds(records).items():
        out[key] = {
            "selection": selection,
            "session": session,
            "final_training": last[key]["training_seconds"],
            "accuracy": last[key]["accuracy"],
            "n_labels": last[key]["n_labels"],
        }
    return out


def accuracy_table(records, methods, seeds):
    budgets = sorted({r["n_labels"] for r in records})
    lines = [
        "test accuracy, mean +- std over seeds " + str(seeds),
        f"{'labels':>8} " + " ".join(f"{m:>20}" for m in methods),
    ]
    for n in budgets:
        cells = []
        for m in methods:
            accs = [
                r["accuracy"]
                for r in records
                if r["method"] == m and r["n_labels"] == n and r["accuracy"] == r["accuracy"]
            ]
            cells.append(
                f"{_mean_std(accs)[0]:.4f} +- {_mean_std(accs)[1]:.4f}" if accs else f"{'-':>20}"
            )
        lines.append(f"{n:>8} " + " ".join(f"{c:>20}" for c in cells))
    return "\n".join(lines)


def session_table(per, methods, seeds):
    """The end-to-end table and the data behind the verdicts."""
    lines = [
        "whole session (all selection rounds + the final network trained once), seconds: median "
        "[min-max] over seeds;",
        "ratio = ours / full-model AL of the same seed (median of per-seed ratios); fastest = "
        "min(ours) / min(full)",
        f"{'method':>20} {'session s':>22} {'ratio':>6} {'fastest':>7} {'selection s':>22} "
        f"{'ratio':>6} {'fastest':>7} {'final train s':>13} {'final acc':>17}",
    ]
    summary = {}
    for m in methods:
        sess = [per[(m, s)]["session"] for s in seeds]
        sel = [per[(m, s)]["selection"] for s in seeds]
        full_sess = [per[("full", s)]["session"] for s in seeds]
        full_sel = [per[("full", s)]["selection"] for s in seeds]
        accs = [per[(m, s)]["accuracy"] for s in seeds]
        row = {
            "session_median": float(np.median(sess)),
            "session_min": min(sess),
            "session_max": max(sess),
            "session_ratio": float(np.median(np.divide(sess, full_sess))),
            "session_ratio_fastest": min(sess) / min(full_sess),
            "selection_median": float(np.median(sel)),
            "selection_min": min(sel),
            "selection_max": max(sel),
            "selection_ratio": float(np.median(np.divide(sel, full_sel)))
            if m != "random"
            else float("nan"),
            "selection_ratio_fastest": min(sel) / min(full_sel) if m != "random" else float("nan"),
            "final_training_median": float(
                np.median([per[(m, s)]["final_training"] for s in seeds])
            ),
            "accuracy_mean": _mean_std(accs)[0],
            "accuracy_std": _mean_std(accs)[1],
        }
        summary[m] = row
        lines.append(
            f"{m:>20} {row['session_median']:>8.1f} "
            f"[{row['session_min']:>6.1f}-{row['session_max']:>6.1f}] "
            f"{row['session_ratio']:>6.3f} {row['session_ratio_fastest']:>7.3f} "
            f"{row['selection_median']:>8.1f} "
            f"[{row['selection_min']:>6.1f}-{row['selection_max']:>6.1f}] "
            f"{row['selection_ratio']:>6.3f} {row['selection_ratio_fastest']:>7.3f} "
            f"{row['final_training_median']:>13.1f} {row['accuracy_mean']:>8.4f} +- "
            f"{row['accuracy_std']:.4f}"
        )
    return "\n".join(lines), summary


def epoch_curves(results, X, y, X_test, y_test, args):
    """Per seed: test accuracy per epoch of the fused network and of scratch, on prunefuse-p0.5's
    final labels."""
    curves = []
    for seed in results.config["seeds"]:
        labels = np.concatenate(results.selections["prunefuse-p0.5"][seed])
        net = recipe_net(args.epochs, args.device)
        net.set_params(callbacks=[("test_acc", TestAccuracy(X_test, y_test))])
        learner = PruneFuseActiveLearner(net, pruning_ratio=0.5, random_state=1000 + seed).fit(
            X[labels], y[labels]
        )
        start = time.perf_counter()
        fused = learner.fuse(max_epochs=args.epochs)  # the whole curve, not the stopping rule's
        fused_seconds = time.perf_counter() - start
        scratch = (
            clone(net).set_params(random_state=None)
            if "random_state" in net.get_params()
            else clone(net)
        )
        torch.manual_seed(2000 + seed)
        start = time.perf_counter()
        scratch.fit(X[labels], y[labels])
        scratch_seconds = time.perf_counter() - start
        curves.append(
            {
                "seed": seed,
                "n_labels": int(len(labels)),
                "fused": [float(a) for a in fused.history[:, "test_acc"]],
                "scratch": [float(a) for a in scratch.history[:, "test_acc"]],
                "fused_seconds": fused_seconds,
                "scratch_seconds": scratch_seconds,
            }
        )
        print(
            f"  curve seed {seed}: fused {curves[-1]['fused'][-1]:.4f}, scratch "
            f"{curves[-1]['scratch'][-1]:.4f}",
            flush=True,
        )
    return curves


def epochs_to(curve, target):
    """First epoch (1-based) whose accuracy reaches ``target``, or None."""
    for epoch, acc in enumerate(curve, 1):
        if acc >= target - 1e-12:
            return epoch
    return None


def curve_table(curves, target):
    fused = np.mean([c["fused"] for c in curves], axis=0)
    scratch = np.mean([c["scratch"] for c in curves], axis=0)
    lines = [
        "test accuracy per epoch on prunefuse-p0.5's final labels (mean over seeds "
        f"{[c['seed'] for c in curves]}), fused network vs the same network from scratch; target "
        f"= full-model AL's final accuracy {target:.4f}",
        f"{'epoch':>5} {'fused':>7} {'scratch':>7}",
    ]
    for e, (a, b) in enumerate(zip(fused, scratch), 1):
        lines.append(f"{e:>5} {a:>7.4f} {b:>7.4f}")
    ef, es = epochs_to(fused, target), epochs_to(scratch, target)
    lines.append(
        f"epochs to reach the target (mean curve): fused {ef}, scratch {es}"
        + (f"; ratio {ef / es:.2f}" if ef and es else "")
    )
    per_seed = [
        (c["seed"], epochs_to(c["fused"], target), epochs_to(c["scratch"], target)) for c in curves
    ]
    lines.append("per seed (seed, fused, scratch): " + ", ".join(str(p) for p in per_seed))
    return "\n".join(lines), {
        "fused_mean": fused.tolist(),
        "scratch_mean": scratch.tolist(),
        "epochs_fused": ef,
        "epochs_scratch": es,
        "per_seed": per_seed,
    }


def verdicts(summary, curve_summary):
    lines = []
    full = summary["full"]
    pf7 = summary.get("prunefuse-p0.7")
    random = summary.get("random")
    session_arms = ("prunefuse-p0.5", "prunefuse-paper", "prunefuse-proxy-loss")
    for name, row in ((name, summary.get(name)) for name in session_arms):
        if row is None:
            continue
        ok = (
            row["session_ratio"] <= TARGETS["end_to_end_p05"]
            and row["session_ratio_fastest"] <= TARGETS["end_to_end_p05"]
        )
        tolerance = TARGETS["accuracy_p05_pt"] / 100
        acc_ok = row["accuracy_mean"] >= full["accuracy_mean"] - tolerance and (
            random is None or row["accuracy_mean"] >= random["accuracy_mean"]
        )
        lines.append(
            f"{name} (p=0.5) session <= {TARGETS['end_to_end_p05']} of full AL with accuracy "
            f">= full AL's - {TARGETS['accuracy_p05_pt']} pt and >= random's: "
            f"{'MET' if ok and acc_ok else 'MISSED'} (ratio "
            f"{row['session_ratio']:.3f} median, {row['session_ratio_fastest']:.3f} fastest; "
            f"accuracy {row['accuracy_mean']:.4f} vs {full['accuracy_mean']:.4f} full, "
            f"{random['accuracy_mean'] if random else float('nan'):.4f} random)"
        )
    if pf7 is not None:
        ok = (
            pf7["selection_ratio"] <= TARGETS["selection_p07"]
            and pf7["selection_ratio_fastest"] <= TARGETS["selection_p07"]
        )
        acc_ok = pf7["accuracy_mean"] >= full["accuracy_mean"] - TARGETS["accuracy_p07_pt"] / 100
        lines.append(
            f"prunefuse-p0.7 selection <= {TARGETS['selection_p07']} of full AL with accuracy >= "
            f"full AL - 0.3 pt: {'MET' if ok and acc_ok else 'MISSED'} (ratio "
            f"{pf7['selection_ratio']:.3f} median, {pf7['selection_ratio_fastest']:.3f} fastest; "
            f"accuracy {pf7['accuracy_mean']:.4f} vs {full['accuracy_mean']:.4f})"
        )
    if curve_summary is not None:
        ef, es = curve_summary["epochs_fused"], curve_summary["epochs_scratch"]
        if ef and es:
            lines.append(
                f"fused network reaches full AL's final accuracy in <= {TARGETS['epochs_ratio']} "
                "of scratch's epochs: "
                f"{'MET' if ef / es <= TARGETS['epochs_ratio'] else 'MISSED'} ({ef} vs {es} "
                f"epochs, {ef / es:.2f})"
            )
        else:
            lines.append(
                "fused network vs scratch epochs to full AL's final accuracy: not reached within "
                f"the epochs (fused {ef}, scratch {es})"
            )
    return "\n".join(lines)


def plot_curves(curve_summary, target, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    epochs = np.arange(1, len(curve_summary["fused_mean"]) + 1)
    ax.plot(epochs, curve_summary["fused_mean"], marker="o", label="fused (PruneFuse p=0.5)")
    ax.plot(epochs, curve_summary["scratch_mean"], marker="s", label="same network from scratch")
    ax.axhline(target, color="grey", linestyle="--", label="full-model AL, final")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _setup_run(args):
    """Apply ``--threads`` and ``--quick`` to the run; the output tag."""
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.seeds, args.rounds, args.epochs = args.seeds[:1], 2, 3
    return (
        args.tag
        or f"bench_end_to_end_{args.dataset.replace('-', '_')}{'_quick' if args.quick else ''}_"
        f"{args.device.split(':')[0]}"
    )


def _header(args, X, X_test):
    """The report's first lines: data, schedule, recipe and machine."""
    return (
        f"prunefuse_sk end-to-end benchmark (issues 13, 27): {args.dataset}, pool {len(X):,}, test "
        f"{len(X_test):,}; {args.initial} initial labels + {args.rounds} rounds of {args.batch}; "
        f"seeds {args.seeds}; recipe: SmallCNN 32/64 ch, 128 hidden, Adam 1e-3, batch 64, "
        f"{args.epochs} epochs\nmachine: {platform.platform()}, {os.cpu_count()} CPU cores, torch "
        f"{torch.__version__} ({torch.get_num_threads()} threads), prunefuse_sk "
        f"{prunefuse_sk.__version__}, device {args.device}; load average at start "
        f"{os.getloadavg()[0]:.2f}"
    )


def _run_curves(results, data, target, args, tag):
    """The fused-vs-scratch epoch curves, their table and plot (skipped with ``--skip-curve``).

    Returns
    -------
    curves : list of dict or None
    text_curve : str
    curve_summary : dict or None
    """
    if args.skip_curve:
        return None, "", None
    X, X_test, y, y_test = data
    curves = epoch_curves(results, X, y, X_test, y_test, args)
    text_curve, curve_summary = curve_table(curves, target)
    plot_curves(curve_summary, target, os.path.join(args.out, f"{tag}_epochs.png"))
    return curves, text_curve, curve_summary


def _write_outputs(results, text, summary, curves, curve_summary, seconds, args, argv, tag):
    """Write the report (.txt), the results (.json) and the summary (_summary.json)."""
    with open(os.path.join(args.out, f"{tag}.txt"), "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    results.config.update(
        dataset=args.dataset,
        epochs=args.epochs,
        wall_seconds=seconds,
        command=" ".join(["python", "benchmarks/bench_end_to_end.py", *(argv or sys.argv[1:])]),
    )
    results.to_json(os.path.join(args.out, f"{tag}.json"))
    with open(os.path.join(args.out, f"{tag}_summary.json"), "w", encoding="utf-8") as handle:
        json.dump(
            {
                "sessions": summary,
                "curves": curves,
                "curve_summary": curve_summary,
                "targets": TARGETS,
            },
            handle,
            indent=1,
            default=float,
        )


def main(argv=None):
    args = build_parser().parse_args(argv)
    tag = _setup_run(args)
    os.makedirs(args.out, exist_ok=True)
    X, X_test, y, y_test = load(args.dataset)
    chosen = set(args.methods) | {"full"}
    arms = [m for m in METHODS if (m if isinstance(m, str) else m["name"]) in chosen]
    methods = [m if isinstance(m, str) else m["name"] for m in arms]
    header = _header(args, X, X_test)
    print(header, flush=True)
    start = time.perf_counter()
    results = simulate(
        recipe_net(args.epochs, args.device),
        X,
        y,
        X_test,
        y_test,
        methods=arms,
        initial_size=args.initial,
        batch_sizes=args.batch,
        n_rounds=args.rounds,
        seeds=args.seeds,
        query_strategy="least_confidence",
    )
    per = sessions(results.records)
    text_sessions, summary = session_table(per, methods, args.seeds)
    text_phases, phases = phase_table(results.records, methods, args.seeds)
    for name, row in phases.items():
        summary[name]["phases"] = row
    curves, text_curve, curve_summary = _run_curves(
        results, (X, X_test, y, y_test), summary["full"]["accuracy_mean"], args, tag
    )
    seconds = time.perf_counter() - start
    text = "\n\n".join(
        [
            header,
            accuracy_table(results.records, methods, args.seeds),
            text_sessions,
            text_phases,
            text_curve,
            verdicts(summary, curve_summary),
            f"total benchmark wall time: {seconds / 60:.1f} min; load average at end "
            f"{os.getloadavg()[0]:.2f}",
        ]
    )
    print("\n" + text)
    _write_outputs(results, text, summary, curves, curve_summary, seconds, args, argv, tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
