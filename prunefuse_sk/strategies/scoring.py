"""Pool scoring: run a fitted skorch net over a pool in batches, without gradients.

Kept apart from the strategies so it can be swapped (block-wise on dask, on GPU with
autocast) without touching selection code. What a pool is (rows, batches, one batch as a
tensor) lives in :mod:`prunefuse_sk.pools`; each batch is converted on its own, so a
memmap is never loaded whole.
"""

import contextlib
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from tqdm.auto import tqdm

from .._skorch import net_device, predict_nonlinearity, trained_module
from ..pools import iter_row_batches, n_rows, take_rows, to_float_tensor

__all__ = [
    "n_rows",
    "take_rows",
    "iter_row_batches",
    "to_float_tensor",
    "PoolScores",
    "EmbeddingRecorder",
    "score_pool",
    "predict_proba_batched",
]

DEFAULT_SCORING_BATCH = 256  # bounds activation memory: ~60 MiB for a 28x28 CNN


@dataclass
class PoolScores:
    """What one pass of the proxy over a pool produced.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_outputs), float32
        Class probabilities (averaged over the passes when ``n_passes > 1``).
    embeddings : ndarray of shape (n_samples, n_dims) or None
        Input of the embedding layer (the penultimate representation), when asked for.
    expected_entropy : ndarray of shape (n_samples,) or None
        Mean over the passes of each pass's predictive entropy (MC dropout), when
        ``n_passes > 1``.
    """

    proba: np.ndarray
    embeddings: Optional[np.ndarray] = None
    expected_entropy: Optional[np.ndarray] = None


class EmbeddingRecorder:
    """Capture the input of one layer during forward passes (the penultimate embedding).

    A context manager around a forward hook: inside the ``with`` block every
    forward pass stores the layer's first input, flattened to
    ``(batch_size, n_dims)``, in ``embedding``.

    Parameters
    ----------
    module : torch.nn.Module
        The network.
    layer_name : str
        Name of the layer (as in ``named_modules()``) whose input to record,
        typically the output layer.
    """

    def __init__(self, module, layer_name):
        layers = dict(module.named_modules())
        if layer_name not in layers:
            raise ValueError(f"The network has no layer named {layer_name!r} to take embeddings from.")
        self.layer = layers[layer_name]
        self.embedding = None
        self._handle = None

    def _hook(self, _layer, inputs, _output):
        self.embedding = inputs[0].detach().flatten(1)

    def __enter__(self):
        self._handle = self.layer.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc_info):
        self._handle.remove()
        self._handle = None
        return False


def _set_dropout_train(module):
    """Eval mode everywhere except dropout layers (Monte Carlo dropout)."""
    module.eval()
    n_dropout = 0
    for layer in module.modules():
        if isinstance(layer, torch.nn.modules.dropout._DropoutNd):
            layer.train()
            n_dropout += 1
    return n_dropout


def _entropy_rows(proba):
    return -(proba * torch.log(proba.clamp_min(1e-12))).sum(dim=1)


@contextlib.contextmanager
def _progress_bar(total, min_rows=10_000):
    """A tqdm bar's ``update`` for pools of more than ``min_rows`` rows, else None."""
    if total <= min_rows:
        yield None
        return
    bar = tqdm(total=total, desc="scoring pool", unit="rows", leave=False)
    try:
        yield bar.update
    finally:
        bar.close()


def score_pool(net, X, *, batch_size=None, embedding_layer=None, n_passes=1, autocast=False, progress=None):
    """Score a pool with a fitted skorch classifier in one batched pass, without gradients.

    Runs under ``torch.inference_mode()``; a batch is converted to a float32
    tensor on the net's device only when it is scored, so memmaps and large
    arrays are never copied whole. Extra memory is the outputs (O(n_samples))
    plus one batch.

    Parameters
    ----------
    net : skorch.NeuralNetClassifier
        Fitted (initialized) net.
    X : ndarray, memmap or torch.Tensor of shape (n_samples, ...)
        The pool.
    batch_size : int, default=None
        Rows per forward pass; defaults to ``max(net.batch_size, 256)``.
    embedding_layer : str, default=None
        When given, also record the input of this layer (see
        :class:`EmbeddingRecorder`) during the same forward passes.
    n_passes : int, default=1
        With more than one, dropout layers stay active (Monte Carlo dropout),
        ``proba`` is the mean over the passes and ``expected_entropy`` is set.
    autocast : bool, default=False
        Run the forward passes under ``torch.autocast`` in float16 on CUDA
        (ignored on the CPU).
    progress : bool or callable, default=None
        A callable is called with the number of rows done after each batch
        (e.g. a tqdm update); ``True`` shows a tqdm bar for pools of more than
        10,000 rows.

    Returns
    -------
    scores : PoolScores
        Probabilities, and embeddings or expected entropies when asked for.

    Raises
    ------
    ValueError
        If a batch contains NaN or infinity, or ``n_passes > 1`` for a network
        without dropout layers.
    """
    if progress is True:
        with _progress_bar(n_rows(X)) as update:
            return score_pool(net, X, batch_size=batch_size, embedding_layer=embedding_layer, n_passes=n_passes,
                              autocast=autocast, progress=update)
    if batch_size is None:
        batch_size = max(int(net.batch_size) if net.batch_size and net.batch_size > 0 else 0,
                         DEFAULT_SCORING_BATCH)
    if isinstance(n_passes, bool) or not isinstance(n_passes, (int, np.integer)) or n_passes < 1:
        raise ValueError(f"n_passes must be a positive integer; got {n_passes!r}.")
    nonlinearity = predict_nonlinearity(net)
    module = net.module_
    was_training = module.training
    if n_passes > 1:
        if _set_dropout_train(module) == 0:
            module.train(was_training)
            raise ValueError(
                "Monte Carlo dropout (n_passes > 1) needs dropout layers in the network; this one has none. "
                "Add nn.Dropout layers or use another strategy."
            )
    else:
        module.eval()
    device = net_device(net)  # net.device is None with skorch's AccelerateMixin
    use_autocast = bool(autocast) and device.type == "cuda"
    recorder = (EmbeddingRecorder(trained_module(net), embedding_layer) if embedding_layer is not None
                else contextlib.nullcontext())  # layer names without a DistributedDataParallel prefix
    total = n_rows(X)
    proba = embeddings = expected_entropy = None
    start = 0
    try:
        with torch.inference_mode(), recorder, torch.autocast("cuda", enabled=use_autocast):
            for batch in iter_row_batches(X, batch_size):
                inputs = to_float_tensor(batch, device)
                mean_proba, mean_entropy = 0.0, 0.0
                for _ in range(n_passes):
                    batch_proba = nonlinearity(net.infer(inputs)).float()
                    mean_proba = mean_proba + batch_proba / n_passes
                    if n_passes > 1:
                        mean_entropy = mean_entropy + _entropy_rows(batch_proba) / n_passes
                stop = start + len(inputs)
                if proba is None:
                    proba = np.empty((total, mean_proba.shape[1]), dtype=np.float32)
                proba[start:stop] = mean_proba.cpu().numpy()
                if embedding_layer is not None:
                    if embeddings is None:
                        embeddings = np.empty((total, recorder.embedding.shape[1]), dtype=np.float32)
                    embeddings[start:stop] = recorder.embedding.float().cpu().numpy()
                if n_passes > 1:
                    if expected_entropy is None:
                        expected_entropy = np.empty(total, dtype=np.float32)
                    expected_entropy[start:stop] = mean_entropy.cpu().numpy()
                start = stop
                if callable(progress):
                    progress(len(inputs))
    finally:
        module.train(was_training)
    if proba is None:
        proba = np.zeros((0, 0), dtype=np.float32)
    return PoolScores(proba=proba, embeddings=embeddings, expected_entropy=expected_entropy)


def predict_proba_batched(net, X, batch_size=None, progress=None):
    """Class probabilities of a fitted skorch classifier over ``X``, batch by batch.

    Parameters
    ----------
    net : skorch.NeuralNetClassifier
        Fitted (initialized) net.
    X : ndarray, memmap or torch.Tensor of shape (n_samples, ...)
        The pool to score; converted to float32 one batch at a time.
    batch_size : int, default=None
        Rows per forward pass; defaults to ``max(net.batch_size, 256)``.
    progress : callable, default=None
        Called with the number of rows done after each batch (e.g. a tqdm update).

    Returns
    -------
    proba : ndarray of shape (n_samples, n_outputs), float32
        The net's predict nonlinearity (softmax by default) applied to its
        outputs; an empty ``(0, 0)`` array when ``X`` has no rows.
    """
    return score_pool(net, X, batch_size=batch_size, progress=progress).proba
