"""Ablation of PruneFuse's settings on the stable recipe (issue 13): which defaults to ship.

One factor at a time, each setting is compared with the library's defaults
(``pruning_ratio=0.5``, ``importance="random"``, ``fusion_init="reinit"``,
``distillation_weight=0``, ``proxy_retrain="reinit"``, ``sync_every=0``; until this
ablation picked it, the default importance was ``"l2"``, and the saved results
``ablation_animal_mnist_cpu.*`` and ``ablation_fashion_mnist_cpu.*`` were made then:
their "defaults" row is L2 and their "importance=random" row today's default):

* ``fusion_init="keep"`` (the rows the proxy did not train keep their initial values);
* distillation from the trained proxy: ``distillation_weight`` 0.5 at ``temperature`` 4 and at 2;
* ``proxy_retrain="warm"`` with 5 epochs per round instead of 15 from a fresh init;
* T_sync: ``sync_every=2`` (every second round the full network is trained and pruned again),
  with the default random ranking and with ``importance="l2"`` (the trained network's magnitudes);
* pruning ratio 0.3 and 0.7;
* ``importance="l2"`` (the paper's L2-norm ranking) instead of the random one;
* candidate subsampling: each round scores a random quarter of the pool (``max_candidates``);

plus full-model active learning and random sampling as references. Every method
starts from the same random initial labels per seed and selects with least
confidence; ``simulate(evaluate="last_round")`` trains and scores one final network
per run, so a run's session time is a real session (all selection rounds plus the
final training). It prints the final test accuracy (mean +- std over seeds), its
difference to the defaults with the spread of the per-seed differences, and the
session and selection times (median over seeds, ratio to full-model AL of the same
seed), and writes the records and the table to ``benchmarks/results/``.

Data: Animal-MNIST by default (``pip install --no-deps animal-mnist``; 8,000/2,000
stratified split), or Fashion-MNIST. Nothing is hard-coded: every number is measured
by the run.

Usage::

    python benchmarks/ablation.py          # Animal-MNIST, 3 seeds, 500 + 3 x 500 labels
    python benchmarks/ablation.py --dataset fashion-mnist
    python benchmarks/ablation.py --quick  # 1 seed, 1 round, 2 epochs: a smoke run
"""

import argparse
import os
import platform
import sys
import time

import numpy as np
import torch

import prunefuse_sk
from prunefuse_sk.simulation import simulate

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recipe import DATASETS, EPOCHS, final_rows, load, recipe_net, session_seconds  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
DEFAULTS = "defaults (p0.5)"
VARIANTS = {
    DEFAULTS: {},
    "fusion_init=keep": {"fusion_init": "keep"},
    "distill 0.5, T=4": {"distillation_weight": 0.5, "temperature": 4.0},
    "distill 0.5, T=2": {"distillation_weight": 0.5, "temperature": 2.0},
    "warm retrain, 5 ep": {"proxy_retrain": "warm", "proxy_params": {"max_epochs": 5}},
    "sync_every=2": {"sync_every": 2},
    "sync_every=2, l2": {"sync_every": 2, "importance": "l2"},
    "p=0.3": {"pruning_ratio": 0.3},
    "p=0.7": {"pruning_ratio": 0.7},
    "importance=l2": {"importance": "l2"},
    "candidates 1/4 pool": {},  # max_candidates = len(pool) // 4, set in methods()
}
REFERENCES = ("full", "random")


def methods(n_pool):
    """The simulate() method list: the references, then one prunefuse dict per variant."""
    out = list(REFERENCES)
    for name, params in VARIANTS.items():
        if name == "candidates 1/4 pool":
            params = {"max_candidates": n_pool // 4}
        out.append({"method": "prunefuse", "name": name, "pruning_ratio": 0.5, **params})
    return out


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=DATASETS, default="animal-mnist")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--initial", type=int, default=500)
    parser.add_argument("--batch", type=int, default=500, help="labels per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--only", nargs="+", default=None, help="run only these variants (names as printed)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="1 seed, 1 round, 2 epochs (a smoke run, not a result)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=RESULTS)
    parser.add_argument("--tag", default=None)
    return parser


def ablation_table(records, names, seeds):
    """The table and its rows: accuracy, difference to the defaults (per seed), times and ratios to
    full AL."""
    last = final_rows(records)
    times = session_seconds(records)
    base = [last[(DEFAULTS, s)]["accuracy"] for s in seeds] if DEFAULTS in names else None
    lines = [
        f"final test accuracy at {last[(names[0], seeds[0])]['n_labels']:,} labels, mean +- std "
        f"over seeds {seeds}; diff = variant - defaults, mean [min, max] of the per-seed "
        "differences;",
        "session = all selection rounds + the final network trained once; seconds median over "
        "seeds; ratio = median of per-seed ratios to full-model AL",
        f"{'setting':>20} {'accuracy':>17} {'diff (pt)':>22} {'session s':>10} {'ratio':>6} "
        f"{'selection s':>11} {'ratio':>6}",
    ]
    rows = {}
    for name in names:
        accs = np.array([last[(name, s)]["accuracy"] for s in seeds])
        sel = np.array([times[(name, s)][0] for s in seeds])
        sess = np.array([times[(name, s)][1] for s in seeds])
        full_sel = np.array([times[("full", s)][0] for s in seeds]) if "full" in names else None
        full_sess = np.array([times[("full", s)][1] for s in seeds]) if "full" in names else None
        diff = 100 * (accs - np.array(base)) if base is not None else None
        row = {
            "accuracy_mean": float(accs.mean()),
            "accuracy_std": float(accs.std(ddof=1)) if len(accs) > 1 else 0.0,
            "diff_pt_mean": float(diff.mean()) if diff is not None else None,
            "diff_pt_min": float(diff.min()) if diff is not None else None,
            "diff_pt_max": float(diff.max()) if diff is not None else None,
            "session_median": float(np.median(sess)),
            "selection_median": float(np.median(sel)),
            "session_ratio": float(np.median(sess / full_sess)) if full_sess is not None else None,
            "selection_ratio": float(np.median(sel / full_sel))
            if full_sel is not None and name != "random"
            else None,
        }
        rows[name] = row
        diff_text = (
            f"{row['diff_pt_mean']:+.2f} [{row['diff_pt_min']:+.2f}, {row['diff_pt_max']:+.2f}]"
            if diff is not None
            else "-"
        )
        ratio = f"{row['session_ratio']:.3f}" if row["session_ratio"] is not None else "-"
        sel_ratio = f"{row['selection_ratio']:.3f}" if row["selection_ratio"] is not None else "-"
        lines.append(
            f"{name:>20} {row['accuracy_mean']:>8.4f} +- {row['accuracy_std']:.4f} "
            f"{diff_text:>22} {row['session_median']:>10.1f} {ratio:>6} "
            f"{row['selection_median']:>11.1f} {sel_ratio:>6}"
        )
    return "\n".join(lines), rows


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.quick:
        args.seeds, args.rounds, args.epochs = args.seeds[:1], 1, 2
    X, X_test, y, y_test = load(args.dataset)
    method_list = methods(len(X))
    if args.only:
        unknown = set(args.only) - set(VARIANTS) - set(REFERENCES)
        if unknown:
            raise SystemExit(
                f"--only: unknown settings {sorted(unknown)}; use names from "
                f"{list(REFERENCES) + list(VARIANTS)}"
            )
        method_list = [
            m for m in method_list if (m if isinstance(m, str) else m["name"]) in args.only
        ]
    names = [m if isinstance(m, str) else m["name"] for m in method_list]
    tag = (
        args.tag
        or f"ablation_{args.dataset.replace('-', '_')}{'_quick' if args.quick else ''}_"
        f"{args.device.split(':')[0]}"
    )
    os.makedirs(args.out, exist_ok=True)
    header = (
        f"prunefuse_sk ablation (issue 13): {args.dataset}, pool {len(X):,}, test "
        f"{len(X_test):,}; {args.initial} initial labels + {args.rounds} rounds of {args.batch}; "
        f"least confidence; seeds {args.seeds}; recipe: SmallCNN 32/64 ch, 128 hidden, Adam 1e-3, "
        f"batch 64, {args.epochs} epochs; one final network per run "
        f"(evaluate='last_round')\nmachine: {platform.platform()}, {os.cpu_count()} CPU cores, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), prunefuse_sk "
        f"{prunefuse_sk.__version__}, device {args.device}; load average at start "
        f"{os.getloadavg()[0]:.2f}"
    )
    print(header, flush=True)
    start = time.perf_counter()
    results = simulate(
        recipe_net(args.epochs, args.device),
        X,
        y,
        X_test,
        y_test,
        methods=method_list,
        initial_size=args.initial,
        batch_sizes=args.batch,
        n_rounds=args.rounds,
        seeds=args.seeds,
        query_strategy="least_confidence",
        evaluate="last_round",
    )
    seconds = time.perf_counter() - start
    table, rows = ablation_table(results.records, names, args.seeds)
    text = "\n\n".join(
        [
            header,
            table,
            f"total wall time: {seconds / 60:.1f} min; load average at end "
            f"{os.getloadavg()[0]:.2f}",
        ]
    )
    print("\n" + text)
    with open(os.path.join(args.out, f"{tag}.txt"), "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    results.config.update(
        dataset=args.dataset,
        epochs=args.epochs,
        wall_seconds=seconds,
        rows=rows,
        command=" ".join(["python", "benchmarks/ablation.py", *(argv or sys.argv[1:])]),
    )
    results.to_json(os.path.join(args.out, f"{tag}.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
