"""Where a text session's accuracy goes: the labels the proxy chose, or the fused start (issue 27).

When the fused network ends below full-model active learning, two things can be at fault: the
proxy chose worse labels, or the fused start trains to a worse network than a fresh one would
on the same labels. This script separates them. Per seed it runs

* **full-model AL** with :func:`prunefuse_sk.simulation.simulate` (``methods=["full"]``,
  ``evaluate="last_round"``): its final accuracy, and the labels it chose;
* **a PruneFuse session** with the library's defaults (or ``--learner-params``, a JSON of
  learner parameters) from the same initial labels (the initial set ``simulate`` drew), the
  proxy choosing every round's batch by least confidence;

then builds several final networks on the session's labels and scores each on the test set:

* ``fused``: ``learner.fuse()``, the defaults (for a convolutional network on ids, every layer
  from the proxy but the output layer, which starts fresh: ``fusion_layers="auto"``);
* ``fused-all-layers``: ``fusion_layers="all"`` set explicitly, every layer from the proxy
  (PruneFuse's fusion; the default for ``FastText``; explicit so that the arm keeps its
  meaning);
* ``fused-shrink1``: the start exactly as fused (``fusion_shrink=1.0``);
* ``fused-shrink0.25``: the start shrunk to a quarter;
* ``fused-more-epochs``: ``fuse(max_epochs=1.5 x the network's)``;
* ``fused-keep``: ``fusion_init="keep"``: the entries the proxy does not cover (the pruned
  filters, the dropped embedding dimensions) hold the initial values the proxy was cut from
  instead of a fresh draw of the initializer;
* ``fused-outer``: ``fusion_layers="outer"``: only the input embedding and the output layer
  start from the proxy, the layers between are drawn fresh (then shrunk like the rest): does the
  head start live in the embedding or in the hidden layers?
* ``scratch``: a freshly initialized full-size network trained on the session's labels with
  the network's own recipe (``--scratch-draws`` draws, default 2, averaged);

and ``scratch`` on full-model AL's labels too. ``scratch`` on both label sets says whether the
proxy's labels are worse; ``fused`` against ``scratch`` on the same labels says what the fused
start costs or gains.

``--fuse-draws K`` also measures how far the fused network's accuracy moves from its training's
own randomness alone: every variant's fused classifier is trained K more times from the same
fused start on the same labels (``clone(fused).fit``, as ``GridSearchCV`` does, with
``random_state`` 201, 202, ...: other shuffles and dropout masks, the fused start's fresh draws
held).
``--scratch-draws`` sets the number of scratch trainings per label set (default 2), each with
its own torch seed (101, 102, ...). The summary prints each one's
draw-to-draw standard deviation pooled over seeds, and what that alone makes the standard error
of a mean over the seeds run: the resolution at which a threshold on that mean can be judged.
The ``paired:`` lines take the fused network (the mean of its trainings with ``--fuse-draws``)
minus full-model AL, and minus scratch on full-model AL's labels, seed by seed: the mean
difference and its standard error over seeds, in which the seeds' shared spread cancels.

Networks and data as in ``bench_text.py`` (``--dataset r8`` or
``20newsgroups``, ``--network FastText`` or ``TextCNN``); ``--dataset peer`` takes the
protocol of ``bench_text_peer.py`` (20 Newsgroups, 60 tokens, TextCNN 300-d/100 filters,
Adam 1e-3, batch 25) and skips full-model AL there (``--no-full`` elsewhere).

Nothing is hard-coded: every number is measured by the run.

Usage::

    python benchmarks/bench_fused_start.py --dataset r8 --network TextCNN
    python benchmarks/bench_fused_start.py --dataset peer
    python benchmarks/bench_fused_start.py --dataset r8 --variants fused \
        --fuse-draws 7 --scratch-draws 8
    python benchmarks/bench_fused_start.py --dataset peer --variants fused fused-all-layers \
        --fuse-draws 3 --scratch-draws 1
    python benchmarks/bench_fused_start.py --dataset r8 --variants fused --fuse-draws 2 \
        --seeds 0 1 2 3 4 5 6 7 --learner-params '{"warm_epochs": 5}'
"""

import argparse
import copy
import json
import os
import platform
import sys
import time

import numpy as np
import torch
from sklearn.base import clone

import prunefuse_sk
from prunefuse_sk import PruneFuseActiveLearner
from prunefuse_sk.datasets import load_text_dataset
from prunefuse_sk.simulation import simulate
from prunefuse_sk.text import TokenIds

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_text import NETWORKS, make_net  # noqa: E402
from bench_text_peer import our_net  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
SCRATCH_SEED = 101  # torch seed of the first scratch training per label set (then 102, ...)
FUSE_DRAW_SEED = 201  # random_state of --fuse-draws' first retraining of the fused classifier


def _fused(**params):
    def build(learner, net):
        learner = copy.deepcopy(learner)
        learner.set_params(**params)
        return learner.fuse()

    return build


def _more_epochs(learner, net):
    return copy.deepcopy(learner).fuse(max_epochs=int(1.5 * net.max_epochs))


VARIANTS = {
    "fused": _fused(),
    "fused-shrink1": _fused(fusion_shrink=1.0),
    "fused-shrink0.25": _fused(fusion_shrink=0.25),
    "fused-more-epochs": _more_epochs,
    "fused-all-layers": _fused(fusion_layers="all"),
    "fused-keep": _fused(fusion_init="keep"),
    "fused-outer": _fused(fusion_layers="outer"),
}


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["r8", "20newsgroups", "peer"], default="r8")
    parser.add_argument("--network", choices=["FastText", "TextCNN"], default="TextCNN")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--initial", type=int, default=500)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--no-full", action="store_true", help="skip full-model AL")
    parser.add_argument(
        "--learner-params",
        type=json.loads,
        default={},
        help="PruneFuseActiveLearner parameters for the session, as JSON",
    )
    parser.add_argument(
        "--fuse-draws",
        type=int,
        default=0,
        help="retrain every variant's fused classifier this many more times from its fused start",
    )
    parser.add_argument(
        "--scratch-draws", type=int, default=2, help="scratch trainings per label set"
    )
    parser.add_argument("--out", default=RESULTS)
    parser.add_argument("--tag", default=None)
    return parser


def load(args):
    """Token ids and the full-size network of the chosen protocol."""
    peer = args.dataset == "peer"
    texts, y, texts_test, y_test = load_text_dataset("20newsgroups" if peer else args.dataset)
    y, y_test = np.asarray(y), np.asarray(y_test)
    ids = TokenIds(max_length=60 if peer else 100, max_features=20000).fit(texts)
    X, X_test = ids.transform(texts), ids.transform(texts_test)
    if peer:
        return X, y, X_test, y_test, our_net(ids.n_ids_, 10), "TextCNN, bench_text_peer's protocol"
    module, epochs, lr, params = NETWORKS[args.network]
    net = make_net(module, ids.n_ids_, len(np.unique(y)), epochs, lr, params)
    return X, y, X_test, y_test, net, f"{args.network}, bench_text's recipe"


def session(net, X, y, initial, args, seed):
    """A PruneFuse session with the defaults (and ``--learner-params``): the fitted learner and
    its labels' indices."""
    learner = PruneFuseActiveLearner(
        net, random_state=seed, query_strategy="least_confidence", **args.learner_params
    )
    learner.fit(X[initial], y[initial])
    labelled = np.zeros(len(X), dtype=bool)
    labelled[initial] = True
    for _ in range(args.rounds):
        pool = np.flatnonzero(~labelled)
        idx, _ = learner.query(X[pool], n=args.batch)
        labelled[pool[idx]] = True
        learner.teach(X[pool[idx]], y[pool[idx]])
    return learner, np.flatnonzero(labelled)


def scratch(net, X, y, draws):
    """Fresh full-size networks trained on (X, y), one per draw."""
    for draw in range(draws):
        torch.manual_seed(SCRATCH_SEED + draw)
        yield clone(net).fit(X, y)


def fused_draws(fused, X, y, draws):
    """The fused classifier trained again from its fused start on (X, y), one per draw (its
    ``random_state`` seeds the training's shuffles and dropout)."""
    for draw in range(draws):
        yield clone(fused).set_params(random_state=FUSE_DRAW_SEED + draw).fit(X, y)


def draw_spread(draws, n_seeds):
    """Summary lines: the draw-to-draw standard deviation of each repeatedly trained network,
    pooled over seeds, and the standard error it alone gives a mean over ``n_seeds`` seeds of
    one draw each."""
    lines = []
    for name, per_seed in draws.items():
        if min(len(values) for values in per_seed) < 2:
            continue
        pooled = float(np.sqrt(np.mean([np.var(values, ddof=1) for values in per_seed])))
        spans = ", ".join(f"[{min(v):.4f}, {max(v):.4f}]" for v in per_seed)
        lines.append(
            f"training draws, {name}: {len(per_seed[0])} per seed, std {100 * pooled:.2f} points "
            f"pooled over seeds (per seed {spans}); standard error of a {n_seeds}-seed mean of "
            f"single trainings from this alone {100 * pooled / np.sqrt(n_seeds):.2f} points"
        )
    return lines


def paired_gap(ours, theirs, name, their_name):
    """Summary line: ``ours`` minus ``theirs`` seed by seed, with the mean difference and its
    standard error over seeds (the seeds' own spread cancels in a paired difference)."""
    diff = 100 * (np.asarray(ours) - np.asarray(theirs))
    per_seed = " / ".join(f"{d:+.2f}" for d in diff)
    line = f"paired: {name} minus {their_name} {diff.mean():+.2f} points"
    if len(diff) > 1:
        line += f" (standard error {diff.std(ddof=1) / np.sqrt(len(diff)):.2f})"
    return f"{line}; per seed {per_seed}"


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.fuse_draws < 0 or args.scratch_draws < 1:
        raise SystemExit("--fuse-draws must be >= 0 and --scratch-draws >= 1.")
    if not isinstance(args.learner_params, dict) or {"random_state", "query_strategy"} & set(
        args.learner_params
    ):
        raise SystemExit(
            "--learner-params must be a JSON object of learner parameters other than "
            "random_state (the seed) and query_strategy (least confidence), e.g. "
            "'{\"warm_epochs\": 5}'."
        )
    X, y, X_test, y_test, net, what = load(args)
    full = not (args.no_full or args.dataset == "peer")
    lines = [
        "where a text session's accuracy goes: the proxy's labels or the fused start (issue 27); "
        "differences in points",
        f"machine: {platform.platform()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
        f"prunefuse_sk {prunefuse_sk.__version__}; load average at start "
        f"{os.getloadavg()[0]:.2f}",
        f"data: {args.dataset}, {len(X):,} train / {len(X_test):,} test; {what}, "
        f"{net.max_epochs} epochs; {args.initial} initial labels + {args.rounds} x {args.batch} "
        f"by least confidence; seeds {args.seeds}; learner "
        f"{args.learner_params or 'defaults'}",
    ]
    print("\n".join(lines), flush=True)
    start = time.perf_counter()
    acc = {}  # name -> per-seed accuracy
    draws = {}  # name -> per seed, the accuracy of every training draw on that seed's labels
    draw_epochs = {}  # name -> per seed, the epochs every fused draw trained

    def record(name, value, seed, extra=""):
        acc.setdefault(name, []).append(value)
        line = f"  seed {seed} {name:28s} {value:.4f}{extra}"
        print(line, flush=True)
        lines.append(line)

    def record_draws(name, values, seed, epochs=None):
        """Several trainings of one network on one seed's labels: their mean is the seed's."""
        draws.setdefault(name, []).append([float(v) for v in values])
        extra = ""
        if len(values) > 1:  # one draw has no spread (np.std with ddof=1 would warn)
            std = 100 * np.std(values, ddof=1)
            extra = f"  (mean of {len(values)} draws, std {std:.2f} points)"
        record(name, float(np.mean(values)), seed, extra)
        if epochs is not None:
            draw_epochs.setdefault(name, []).append([int(e) for e in epochs])
            line = "      per draw: " + ", ".join(
                f"{v:.4f} ({e} ep)" for v, e in zip(values, epochs, strict=True)
            )
            print(line, flush=True)
            lines.append(line)

    for seed in args.seeds:
        if full:
            results = simulate(
                net,
                X,
                y,
                X_test,
                y_test,
                methods=["full"],
                initial_size=args.initial,
                batch_sizes=args.batch,
                n_rounds=args.rounds,
                seeds=[seed],
                evaluate="last_round",
                progress=False,
            )
            selections = results.selections["full"][seed]
            initial = selections[0]
            record("full AL", results.records[-1]["accuracy"], seed)
        else:
            initial = np.random.RandomState(seed).choice(len(X), args.initial, replace=False)
        learner, ours = session(net, X, y, initial, args, seed)
        record("proxy", learner.proxy_.score(X_test, y_test), seed)
        for name in args.variants:
            t = time.perf_counter()
            model = VARIANTS[name](learner, net)
            seconds = time.perf_counter() - t
            extra = f"  ({model.n_epochs_} epochs, {model.stop_reason_}, {seconds:.0f} s)"
            record(name, model.score(X_test, y_test), seed, extra)
            if args.fuse_draws:
                score, epochs = [acc[name][-1]], [model.n_epochs_]
                for retrained in fused_draws(model, X[ours], y[ours], args.fuse_draws):
                    score.append(retrained.score(X_test, y_test))
                    epochs.append(retrained.n_epochs_)
                record_draws(f"{name}, retrained", score, seed, epochs)
        trained = scratch(net, X[ours], y[ours], args.scratch_draws)
        score = [m.score(X_test, y_test) for m in trained]
        record_draws("scratch on ours' labels", score, seed)
        if full:
            labels = np.concatenate(selections)
            score = [
                m.score(X_test, y_test)
                for m in scratch(net, X[labels], y[labels], args.scratch_draws)
            ]
            record_draws("scratch on full AL's labels", score, seed)

    table = ["", "test accuracy at the last budget, mean [min, max] over seeds"]
    for name, values in acc.items():
        table.append(f"  {name:28s} {np.mean(values):.4f} [{min(values):.4f}, {max(values):.4f}]")
    if full:
        labels_gap = np.mean(acc["scratch on ours' labels"]) - np.mean(
            acc["scratch on full AL's labels"]
        )
        table.append(
            f"labels: scratch on ours' minus on full AL's labels {100 * labels_gap:+.2f} points"
        )
    # the fused network's figure: the mean over its trainings where it was retrained
    fused = "fused, retrained" if "fused, retrained" in acc else "fused"
    if fused in acc:
        start_gap = np.mean(acc[fused]) - np.mean(acc["scratch on ours' labels"])
        table.append(f"start: {fused} minus scratch on the same labels {100 * start_gap:+.2f}")
    if fused in acc and full:
        for theirs in ("full AL", "scratch on full AL's labels"):
            table.append(paired_gap(acc[fused], acc[theirs], fused, theirs))
    table += draw_spread(draws, len(args.seeds))
    minutes = (time.perf_counter() - start) / 60
    table.append(
        f"total wall time: {minutes:.1f} min; load average at end {os.getloadavg()[0]:.2f}"
    )
    print("\n".join(table))
    lines += table
    tag = args.tag or f"bench_fused_start_{args.dataset}_{args.network.lower()}_cpu"
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"{tag}.txt"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, f"{tag}.json"), "w", encoding="utf-8") as handle:
        json.dump(
            {
                "argv": argv or sys.argv[1:],
                "seeds": args.seeds,
                "accuracy": acc,
                "draws": draws,
                "draw_epochs": draw_epochs,
            },
            handle,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
