"""The paper's comparison on Fashion-MNIST: PruneFuse against random, full-model AL and SVP.

PruneFuse's claim (Kousar, Bhatti, Moon, TMLR 2026) is that selecting with a
network pruned at initialization and fusing it back matches or beats active
learning with the full network, at a fraction of the selection cost. This
script measures that claim on real data with :func:`prunefuse_sk.simulation.simulate`:

* data: Fashion-MNIST from the Debian package ``dataset-fashion-mnist``
  (official 60,000/10,000 split; ``apt-get install -y dataset-fashion-mnist``), or
  ``--dataset animal-mnist`` (``pip install --no-deps animal-mnist``, 8,000/2,000
  stratified split);
* network: the stable recipe of ``benchmarks/recipe.py`` (a two-conv BatchNorm CNN,
  :class:`~prunefuse_sk.networks.SmallCNN`, ``--width`` channels, Adam, batch 64);
* budget: 500 random initial labels, then 5 rounds of 500 up to 3,000;
* methods: ``random`` (the full network on random labels), ``full`` (classic
  active learning with the full network), ``proxy`` (Selection via Proxy: the same
  architecture at ``--svp-width`` channels selects, the full network is trained
  from scratch on its picks), ``prunefuse`` at p=0.5 and p=0.7, and p=0.7 with
  T_sync every 2 rounds (``sync_every=2``, ``fusion_init="keep"``: the full network is
  trained and pruned again into the next proxy; its training counts as selection cost);
  all with least confidence, all from the same initial labels per seed.

It prints test accuracy (mean +- std over seeds) per budget, the area under the
budget curve (AUBC), and the selection cost of each method relative to ``full``
(FLOPs counted by torch's ``FlopCounterMode`` on one probe batch and scaled by
the number of samples and epochs, not measured per sample; wall time measured
on this machine), and writes the records (JSON), the table (text) and the figures
(PNG) to ``benchmarks/results/``.

``results/paper_table_full_cpu.*`` and ``paper_table_wide64_cpu.*`` were made by an
earlier version of this script on a SmallResNet recipe whose seed-to-seed spread
(std up to 0.09) was too large to judge anything; ``benchmarks/bench_end_to_end.py``
reports the same comparison on the stable recipe together with session times.
``--device cuda`` runs it on a GPU; ``--quick`` runs one seed with fewer epochs.
Nothing in the output is hard-coded: every number is measured by the run.

Usage::

    python benchmarks/paper_table.py --quick            # one seed, 8 epochs
    python benchmarks/paper_table.py                    # the full table: 3 seeds, 15 epochs
    python benchmarks/paper_table.py --device cuda      # the full table on a GPU
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch

import prunefuse_sk
from prunefuse_sk.metrics import aubc_table, cost_table
from prunefuse_sk.plotting import plot_results
from prunefuse_sk.simulation import simulate

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recipe import DATASETS, EPOCHS, load, recipe_net  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
METHODS = [
    "random",
    "full",
    "proxy",
    {"method": "prunefuse", "pruning_ratio": 0.5, "name": "prunefuse-p0.5"},
    {"method": "prunefuse", "pruning_ratio": 0.7, "name": "prunefuse-p0.7"},
    # T_sync: every 2nd round fuse, train the full network and prune it again into the next proxy
    {
        "method": "prunefuse",
        "pruning_ratio": 0.7,
        "sync_every": 2,
        "fusion_init": "keep",
        "name": "prunefuse-p0.7-sync2",
    },
]


def build_parser():
    """Command-line options.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--dataset", choices=DATASETS, default="fashion-mnist")
    parser.add_argument("--quick", action="store_true", help="one seed and --quick-epochs epochs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--epochs", type=int, default=EPOCHS, help="training epochs of every network"
    )
    parser.add_argument("--quick-epochs", type=int, default=8)
    parser.add_argument("--initial", type=int, default=500)
    parser.add_argument("--budget", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--width", type=int, default=32, help="channels of the full network's first convolution"
    )
    parser.add_argument(
        "--svp-width", type=int, default=16, help="the same for the SVP proxy network"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (0: torch's default)"
    )
    parser.add_argument("--out", default=RESULTS)
    parser.add_argument(
        "--tag", default=None, help="file name stem (default paper_table_{quick,full}_{device})"
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        default=None,
        choices=[m if isinstance(m, str) else m["name"] for m in METHODS],
        help="run only these methods (default: all)",
    )
    return parser


def make_net(width, epochs, args):
    """The recipe's classifier (``benchmarks/recipe.py``) at ``width`` channels.

    Parameters
    ----------
    width : int
    epochs : int
    args : argparse.Namespace

    Returns
    -------
    net : skorch.NeuralNetClassifier
    """
    return recipe_net(epochs, args.device, width=width, lr=args.lr, batch_size=args.batch_size)


def goal_line(results):
    """Whether prunefuse at p=0.7 ties or beats ``full`` with <= 0.14 of its selection wall time.

    A tie is an AUBC no lower than ``full``'s minus one standard deviation over
    seeds (with one seed: no lower at all).

    Parameters
    ----------
    results : SimulationResults

    Returns
    -------
    line : str
    """
    aubc = {row["method"]: row for row in aubc_table(results.records)}
    cost = {row["method"]: row for row in cost_table(results.records, baseline="full")}
    if "prunefuse-p0.7" not in aubc or "full" not in aubc:
        return ""
    pf, full = aubc["prunefuse-p0.7"], aubc["full"]
    diff = pf["aubc_mean"] - full["aubc_mean"]
    ratio = cost["prunefuse-p0.7"]["selection_seconds_ratio"]
    verdict = "meets" if diff >= -full["aubc_std"] - 1e-12 and ratio <= 0.14 else "does NOT meet"
    return (
        "Goal (prunefuse p=0.7 ties or beats full, with <= 0.14 of its selection wall time): "
        f"{verdict} it here. AUBC difference {diff:+.4f} (full's std over seeds "
        f"{full['aubc_std']:.4f}); selection time ratio {ratio:.3f}; FLOPs ratio "
        f"{cost['prunefuse-p0.7']['selection_flops_ratio']:.3f}."
    )


def _schedule(args):
    """Seeds, epochs, per-round batch sizes, cumulative label budgets and the output tag."""
    seeds = args.seeds[:1] if args.quick else args.seeds
    epochs = args.quick_epochs if args.quick else args.epochs
    step = (args.budget - args.initial) // args.rounds
    batch_sizes = [step] * (args.rounds - 1) + [
        args.budget - args.initial - step * (args.rounds - 1)
    ]
    budget_sizes = [int(n) for n in np.cumsum([args.initial] + batch_sizes)]
    tag = args.tag or (
        f"paper_table_{args.dataset.replace('-', '_')}_{'quick' if args.quick else 'full'}_"
        f"{args.device.split(':')[0]}"
    )
    return seeds, epochs, batch_sizes, budget_sizes, tag


def _simulate_with_partial(args, data, methods, epochs, seeds, batch_sizes, partial_path):
    """Run :func:`simulate`, writing every record to ``partial_path`` as it arrives.

    Returns
    -------
    results : SimulationResults
    seconds : float
        Wall time of the simulation.
    """
    X, X_test, y, y_test = data
    partial = open(partial_path, "w", encoding="utf-8")

    def save_partial(record):
        partial.write(
            json.dumps(
                {k: (None if isinstance(v, float) and v != v else v) for k, v in record.items()}
            )
            + "\n"
        )
        partial.flush()

    start = time.perf_counter()
    try:
        results = simulate(
            make_net(args.width, epochs, args),
            X,
            y,
            X_test,
            y_test,
            methods=methods,
            proxy_estimator=make_net(args.svp_width, epochs, args),
            initial_size=args.initial,
            batch_sizes=batch_sizes,
            seeds=seeds,
            query_strategy="least_confidence",
            callback=save_partial,
        )
    finally:
        partial.close()
    return results, time.perf_counter() - start


def _record_config(results, args, argv, epochs, seconds):
    """Add the run's settings, machine and command line to ``results.config``."""
    results.config.update(
        dataset=args.dataset,
        epochs=epochs,
        width=args.width,
        svp_width=args.svp_width,
        batch_size=args.batch_size,
        lr=args.lr,
        quick=args.quick,
        wall_seconds=seconds,
        machine={
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "prunefuse_sk": prunefuse_sk.__version__,
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        command=" ".join(
            ["python", "benchmarks/paper_table.py", *(argv if argv is not None else sys.argv[1:])]
        ),
    )


def _write_outputs(results, args, tag, seconds, partial_path):
    """Print the report and write the .json, .txt and .png outputs; remove the partial file."""
    text = results.report(baseline="full") + "\n\n" + goal_line(results)
    text += f"\n\nWall time of the whole run: {seconds / 60:.1f} min."
    print("\n" + text)
    results.to_json(os.path.join(args.out, f"{tag}.json"))
    with open(os.path.join(args.out, f"{tag}.txt"), "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    plot_results(results.records, path=os.path.join(args.out, f"{tag}.png"))
    os.remove(partial_path)
    print(f"\nWrote {tag}.json, {tag}.txt and {tag}.png to {args.out}")


def main(argv=None):
    """Run the benchmark; returns 0.

    Parameters
    ----------
    argv : list of str, default=None
    """
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    seeds, epochs, batch_sizes, budget_sizes, tag = _schedule(args)
    os.makedirs(args.out, exist_ok=True)

    methods = [
        m
        for m in METHODS
        if args.methods is None or (m if isinstance(m, str) else m["name"]) in args.methods
    ]
    X, X_test, y, y_test = load(args.dataset)
    print(
        f"{args.dataset}: pool {len(X):,}, test {len(X_test):,}; labels {budget_sizes}; seeds "
        f"{seeds}; {epochs} epochs; SmallCNN width {args.width} (SVP proxy width "
        f"{args.svp_width}); device {args.device}; torch threads {torch.get_num_threads()}",
        flush=True,
    )
    partial_path = os.path.join(args.out, f"{tag}.partial.jsonl")
    results, seconds = _simulate_with_partial(
        args, (X, X_test, y, y_test), methods, epochs, seeds, batch_sizes, partial_path
    )
    _record_config(results, args, argv, epochs, seconds)
    _write_outputs(results, args, tag, seconds, partial_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
