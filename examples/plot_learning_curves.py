"""
Learning curves: PruneFuse against random, full-model AL and SVP
================================================================

:func:`~prunefuse_sk.simulation.simulate` runs active learning with an oracle
that reveals the known labels of scikit-learn's digits, for five selection
methods that start from the same random labels per seed. It records test
accuracy and the cost of selection (wall time measured; FLOPs counted by
torch on a probe batch and scaled by samples and epochs) round by round;
:mod:`prunefuse_sk.plotting` draws them.

Digits is small and easy, so the curves are close; the benchmark
``benchmarks/paper_table.py`` runs the same comparison on Fashion-MNIST.
"""

# %%
# Run the simulation
# ------------------
import time

import matplotlib.pyplot as plt
import torch
from skorch import NeuralNetClassifier

from prunefuse_sk.datasets import load_digits_images
from prunefuse_sk.networks import SmallCNN
from prunefuse_sk.plotting import plot_cost_curves, plot_learning_curves
from prunefuse_sk.simulation import simulate
from prunefuse_sk.stopping import LabelBudget

torch.set_num_threads(1)  # tiny networks train fastest on one CPU thread
start = time.perf_counter()
X, X_test, y, y_test = load_digits_images(random_state=0)  # 1x8x8 images


def cnn(width, hidden):
    return NeuralNetClassifier(
        SmallCNN,
        module__n_classes=10,
        module__width=width,
        module__hidden=hidden,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=2e-3,
        max_epochs=15,
        batch_size=32,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
    )


results = simulate(
    cnn(20, 80),
    X,
    y,
    X_test,
    y_test,
    methods=["random", "full", "proxy", "prunefuse", "prunefuse-p0.7"],
    proxy_estimator=cnn(6, 24),  # Selection via Proxy: a separately designed small network
    initial_size=40,
    batch_sizes=[40] * 4,
    seeds=[0, 1],
    progress=False,
)
print(results.report())

# %%
# Accuracy against labels, and against what selection cost
# --------------------------------------------------------
# On the right, each point is a round: how much accuracy the final model has
# for the FLOPs spent on selecting so far. PruneFuse's proxies reach the same
# labels for a fraction of the full network's selection FLOPs.
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
plot_learning_curves(results, ax=left, title="digits, mean +- std over 2 seeds")
plot_cost_curves(results, cost="selection_flops", ax=right)
fig.tight_layout()

# %%
# Stop early
# ----------
# Stopping criteria end a run before its schedule: here a label budget.
stopped = simulate(
    cnn(20, 80),
    X,
    y,
    X_test,
    y_test,
    methods=["prunefuse"],
    initial_size=40,
    batch_sizes=[40] * 4,
    stopping=LabelBudget(100),
    progress=False,
)
print([(r["n_labels"], r["stop_reason"]) for r in stopped])
print(f"example ran in {time.perf_counter() - start:.1f} s")
