"""Pool scoring: run a fitted skorch net over a pool in batches, without gradients.

Inference, not selection: the strategies (and ``predict``) ask for probabilities,
embeddings or Monte Carlo dropout entropies, and this module computes them, batch by batch
(block by block on a dask cluster: :mod:`prunefuse_sk.dask_scoring`). What a pool is
(rows, batches, one batch as a tensor) is the pool's own business
(:mod:`prunefuse_sk.pools`); each batch is converted on its own, so a memmap is never
loaded whole.
"""

import contextlib
import functools
import warnings
from dataclasses import dataclass
from numbers import Real
from typing import Optional

import numpy as np
import torch
from tqdm.auto import tqdm

from .accelerate_support import net_device, trained_module
from .architecture import dropout_layers, token_input, unwrap_module
from .exceptions import InvalidParameterError, NonFiniteInputError, NonFiniteOutputError
from .parameter_checks import check_int
from .pools import as_pool
from .skorch_nets import predict_nonlinearity

__all__ = [
    "PoolScores",
    "EmbeddingRecorder",
    "DEFAULT_SCORING_MEMORY",
    "DEFAULT_SCORING_MEMORY_GPU",
    "default_scoring_memory",
    "scoring_row_bytes",
    "scoring_batch_size",
    "softmax_rows",
    "score_pool",
    "predict_proba_batched",
]

DEFAULT_SCORING_MEMORY = 32
"""MiB one scoring batch may take on the CPU when neither ``batch_size`` nor a budget is given.

What the rows of one batch are estimated to hold at once (:func:`scoring_row_bytes`:
the float32 input, three times the largest layer output, the kept outputs). Chosen by
measuring on two CPU cores (``benchmarks/bench_query.py``): the 64-feature digits MLP
proxy (1,104 estimated bytes a row) scores a 72,000-row pool in three 24,000-row batches,
where its bare forward is as fast as at any batch size; the 28x28 Fashion-MNIST
``SmallCNN`` proxies get about 110 (p=0.5) and 180 (p=0.7) rows, the full SmallCNN 55;
a 1,000,000-row memmap pool is queried within 300 MiB of anonymous memory above the
fitted model. Larger budgets are slower on the CPU: at 64 MiB the p=0.7 proxy and the
full network took 15-25 % longer, and a p=0.5 batch of 512 rows twice as long as one of
256, once an activation (or oneDNN's channel-padded copy of it) passes 32 MiB, glibc's
ceiling for reusing freed blocks, above which every batch maps and page-faults it anew.
"""

DEFAULT_SCORING_MEMORY_GPU = 1024
"""MiB one scoring batch may take by default on a GPU (any device but the CPU).

A GPU wants large batches and has its own memory: with 1 GiB the 28x28 ``SmallCNN``
proxy scores about 3,500 rows a batch, and a network whose largest activation takes
3 MiB a row (a ResNet-50 on 224x224 images) about 100. Not measured on this project's
machines (no GPU); set the learner's ``scoring_memory`` to what the card can spare.
"""

SMALL_SOFTMAX_WIDTH = 16
"""Outputs narrower than this are normalized by :func:`softmax_rows` instead of
``torch.softmax``."""

ACTIVATION_FACTOR = 3
"""Multiple of the largest layer output per row that :func:`scoring_row_bytes` counts."""

PROBE_ROWS = 8
"""Rows of the probe forward pass that measures a network's layer outputs per row."""


@dataclass
class PoolScores:
    """What one pass of the proxy over a pool produced.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_outputs), float32
        Class probabilities (averaged over the passes when ``n_passes > 1``). Fortran-ordered
        (each class contiguous) when :func:`softmax_rows` wrote them: fewer than 16
        outputs of skorch's default softmax, on the CPU.
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
        The network (parallel and ``torch.compile`` wrappers are looked through).
    layer_name : str
        Name of the layer (as in the bare network's ``named_modules()``) whose input
        to record, typically the output layer.
    """

    def __init__(self, module, layer_name):
        layers = dict(unwrap_module(module).named_modules())
        if layer_name not in layers:
            raise ValueError(
                f"The network has no layer named {layer_name!r} to take embeddings from."
            )
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
    """Eval mode everywhere except dropout layers (Monte Carlo dropout); the number of them that
    drop anything (rate above 0)."""
    module.eval()
    layers = dropout_layers(module)
    for layer in layers:
        layer.train()
    return sum(layer.p > 0 for layer in layers)


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


def softmax_rows(logits, out=None):
    """Softmax over the columns of a 2-D float32 array, the same for a row wherever it stands.

    On the CPU, ``torch.softmax(x, dim=-1)`` takes a slow path, one row at a time, when a
    row is shorter than a vector register (16 float32 with AVX-512): for 10 classes it takes
    longer than a small MLP's whole forward pass (10.8 ms against 8.3 ms for 72,000 rows of
    a 64-64-32-10 MLP on one thread; this function takes 2.0 ms). :func:`score_pool` uses
    it for such outputs when the net's predict nonlinearity is skorch's default softmax.
    It works on the transposed array, one class at a time over all rows: exact maxima,
    differences, sums (in class order) and quotients, and numpy's ``exp``, whose vectorized
    loops treat the last elements like the others. So a row gets the same probabilities
    whatever its position in a batch (dask blocks and in-memory batches agree, ties
    included); they differ from ``torch.softmax``'s by a unit in the last place or two.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_outputs), float32
    out : ndarray of shape (n_samples, n_outputs), float32, default=None
        Where to write the probabilities, best a slice of a Fortran-ordered array (each
        class contiguous), as :func:`score_pool` passes.

    Returns
    -------
    proba : ndarray of shape (n_samples, n_outputs), float32
        ``out``, or a Fortran-ordered array (the transposed view of a C-contiguous
        ``(n_outputs, n_samples)`` one). A NaN or an infinite logit makes its row NaN, as
        with ``torch.softmax``.

    Examples
    --------
    >>> softmax_rows(np.array([[0.0, 0.0], [np.log(3), 0.0]], dtype=np.float32)).tolist()
    [[0.5, 0.5], [0.75, 0.25]]
    """
    logits = np.asarray(logits)
    if out is None:
        by_class = np.ascontiguousarray(logits.T)  # (n_outputs, n_samples): long contiguous rows
    else:
        by_class = out.T
        np.copyto(by_class, logits.T)
    row_max = by_class.max(axis=0)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: NaN, as torch gives
        np.subtract(by_class, row_max, out=by_class)
        np.exp(by_class, out=by_class)
        by_class /= by_class.sum(axis=0)
    return by_class.T


def _is_default_softmax(func):
    """Whether a predict nonlinearity is exactly skorch's default for logits,
    ``torch.softmax(x, dim=-1)``."""
    return (
        isinstance(func, functools.partial)
        and func.func in (torch.softmax, torch.nn.functional.softmax)
        and not func.args
        and func.keywords in ({"dim": -1}, {"dim": 1})
    )


def _narrow_logits(outputs):
    """CPU float32 outputs of shape (n, K) with K < SMALL_SOFTMAX_WIDTH: for
    :func:`softmax_rows`."""
    return (
        isinstance(outputs, torch.Tensor)
        and outputs.device.type == "cpu"
        and outputs.dtype == torch.float32
        and outputs.ndim == 2
        and 1 < outputs.shape[1] < SMALL_SOFTMAX_WIDTH
    )


def _scoring_nonlinearity(net):
    """The net's predict nonlinearity; skorch's default softmax goes through :func:`softmax_rows`
    for narrow outputs."""
    func = predict_nonlinearity(net)
    if not _is_default_softmax(func):
        return func

    def softmax(outputs):
        if _narrow_logits(outputs):
            return torch.from_numpy(softmax_rows(outputs.numpy()))
        return func(outputs)

    return softmax


def default_scoring_memory(device):
    """The scoring budget in MiB when none is given: :data:`DEFAULT_SCORING_MEMORY` on the CPU,
    :data:`DEFAULT_SCORING_MEMORY_GPU` on any other device.

    Parameters
    ----------
    device : str or torch.device

    Returns
    -------
    working_memory : float

    Examples
    --------
    >>> default_scoring_memory("cpu"), default_scoring_memory("cuda:0")
    (32.0, 1024.0)
    """
    return float(
        DEFAULT_SCORING_MEMORY if torch.device(device).type == "cpu" else DEFAULT_SCORING_MEMORY_GPU
    )


def _check_working_memory(working_memory, device):
    """``working_memory`` in MiB, validated; the device's default for None."""
    if working_memory is None:
        return default_scoring_memory(device)
    if (
        isinstance(working_memory, bool)
        or not isinstance(working_memory, Real)
        or not (np.isfinite(working_memory) and working_memory > 0)
    ):
        raise InvalidParameterError(
            "working_memory (the learner's scoring_memory) must be a positive number of MiB or "
            f"None for the default ({DEFAULT_SCORING_MEMORY} MiB on the CPU, "
            f"{DEFAULT_SCORING_MEMORY_GPU} MiB on a GPU); got {working_memory!r}."
        )
    return float(working_memory)


def _tensor_bytes(value):
    """Bytes of the tensors in a layer output (a tensor, or tuples, lists and dicts of them)."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, (tuple, list)):
        return sum(_tensor_bytes(item) for item in value)
    if isinstance(value, dict):
        return sum(_tensor_bytes(item) for item in value.values())
    return 0


def _input_row_bytes(pool, token_ids=False):
    """Bytes per row of the input batch (float32, or int64 token ids), plus a densified batch's."""
    shape = pool.shape
    values = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    return (8 if token_ids else 4) * values + pool.densified_row_bytes


def scoring_row_bytes(net, X, *, embedding_layer=None, autocast=False):
    """Estimated bytes one pool row takes while it is scored, measured by a probe forward pass.

    The first ``min(n_samples, PROBE_ROWS)`` rows of ``X`` (8) go through the network once
    in eval mode under ``torch.inference_mode()`` (and autocast when asked), with a forward
    hook on every module; their outputs are dropped. The estimate per row is::

        input + ACTIVATION_FACTOR * largest layer output + 2 * (probabilities + embedding)

        input                 the batch as a float32 tensor (4 bytes a value), plus the
                              densified batch of a sparse pool
        largest layer output  the largest output of any module (tensors of a tuple or a
                              dict summed), per row, in the dtype it has (float16 under
                              autocast); ACTIVATION_FACTOR = 3 covers what a layer reads,
                              what it writes and one temporary (e.g. a residual sum):
                              inference mode frees each activation once it is used
        probabilities, embedding
                              the float32 output rows (and the recorded embedding rows)
                              of the batch, on the device and their host copy

    Parameters
    ----------
    net : skorch.NeuralNetClassifier
        Fitted (initialized) net; its training mode is restored afterwards, and the probe
        draws no random numbers (dropout is off during it).
    X : ndarray, memmap, torch.Tensor or scipy.sparse matrix of shape (n_samples, ...)
        The pool; only its first rows are read.
    embedding_layer : str, default=None
        Also count the input of this layer (see :class:`EmbeddingRecorder`).
    autocast : bool, default=False
        Probe under ``torch.autocast`` in float16 on CUDA, as scoring would.

    Returns
    -------
    row_bytes : int
        0 when ``X`` has no rows.

    Examples
    --------
    >>> import numpy as np
    >>> from prunefuse_sk.networks import default_estimator
    >>> X = np.random.RandomState(0).rand(40, 64).astype("float32")
    >>> net = default_estimator(64, 10).initialize()   # MLP 64-128-64-10
    >>> scoring_row_bytes(net, X)   # 64*4 + 3 * 128*4 + 2 * 10*4
    1872
    """
    pool = as_pool(X)
    total = len(pool)
    if total == 0:
        return 0
    probe = pool.head(min(total, PROBE_ROWS))
    device = net_device(net)
    module = net.module_
    network = unwrap_module(
        module
    )  # run eagerly: hooks on a torch.compile'd module would recompile it
    largest = 0

    def record(_layer, _inputs, output):
        nonlocal largest
        largest = max(largest, _tensor_bytes(output))

    recorder = (
        EmbeddingRecorder(trained_module(net), embedding_layer)
        if embedding_layer is not None
        else contextlib.nullcontext()
    )
    handles = [layer.register_forward_hook(record) for layer in network.modules()]
    was_training = module.training
    module.eval()  # activations are the same size; dropout draws nothing
    try:
        with (
            torch.inference_mode(),
            recorder,
            torch.autocast("cuda", enabled=bool(autocast) and device.type == "cuda"),
        ):
            inputs = probe.to_tensor(
                next(probe.batches(PROBE_ROWS)),
                device,
                check_finite=False,
                token_input=token_input(network),
            )
            outputs = network(inputs)
            kept = (
                4 * outputs[0].numel() if isinstance(outputs, torch.Tensor) and outputs.ndim else 4
            )
            if embedding_layer is not None and recorder.embedding is not None:
                kept += 4 * recorder.embedding[0].numel()
            rows = len(inputs)
    finally:
        for handle in handles:
            handle.remove()
        module.train(was_training)
    per_row = -(-largest // rows)  # ceil
    input_bytes = _input_row_bytes(pool, token_input(network) is not None)
    return int(input_bytes + ACTIVATION_FACTOR * per_row + 2 * kept)


def scoring_batch_size(net, X, *, working_memory=None, embedding_layer=None, autocast=False):
    """Rows per forward pass so that one batch stays within a memory budget.

    At most ``working_memory * 2**20 // scoring_row_bytes(...)`` rows (the rule of
    scikit-learn's ``get_chunk_n_rows``), at least 1; then evened out so that the pool
    splits into as few batches of (nearly) equal size (a 72,000-row pool with room for
    60,000 rows a batch gets two batches of 36,000, not 60,000 and 12,000).

    Parameters
    ----------
    net : skorch.NeuralNetClassifier
        Fitted (initialized) net.
    X : ndarray, memmap, torch.Tensor or scipy.sparse matrix of shape (n_samples, ...)
        The pool; only its first rows are read (:func:`scoring_row_bytes`).
    working_memory : float, default=None
        The budget of one batch, in MiB; when None, :data:`DEFAULT_SCORING_MEMORY` (32) on
        the CPU and :data:`DEFAULT_SCORING_MEMORY_GPU` (1024) on a GPU
        (:func:`default_scoring_memory`).
    embedding_layer : str, default=None
        Embeddings are recorded too.
    autocast : bool, default=False
        Scoring runs under float16 autocast on CUDA.

    Returns
    -------
    batch_size : int
        At least 1 (0 for an empty pool). A pool of at most ``PROBE_ROWS`` rows is one
        batch, unprobed.

    Raises
    ------
    InvalidParameterError
        If ``working_memory`` is not a positive number or None.

    Warns
    -----
    UserWarning
        If a single row needs more than ``working_memory``; rows are then scored one at a time.

    Examples
    --------
    >>> import numpy as np
    >>> from prunefuse_sk.networks import default_estimator
    >>> X = np.random.RandomState(0).rand(5000, 64).astype("float32")
    >>> net = default_estimator(64, 10).initialize()
    >>> # 1 MiB holds 560 rows: 5,000 rows make 9 batches
    >>> scoring_row_bytes(net, X), 2**20 // 1872
    (1872, 560)
    >>> scoring_batch_size(net, X, working_memory=1), scoring_batch_size(net, X, working_memory=2)
    (556, 1000)
    """
    budget = _check_working_memory(working_memory, net_device(net)) * 2**20
    pool = as_pool(X)
    total = len(pool)
    if total <= PROBE_ROWS:
        return total
    row_bytes = scoring_row_bytes(net, pool, embedding_layer=embedding_layer, autocast=autocast)
    rows = int(budget // row_bytes)
    if rows < 1:
        warnings.warn(
            f"Scoring one row takes an estimated {row_bytes / 2**20:.3g} MiB, more than the "
            f"scoring memory budget of {budget / 2**20:.3g} MiB; rows are scored one at a time. "
            "Raise the budget (working_memory, or the learner's scoring_memory) or pass "
            "batch_size.",
            UserWarning,
            stacklevel=3,
        )
        return 1
    n_batches = -(-total // rows)
    return -(-total // n_batches)  # as many batches as needed, of (nearly) equal size


def _raise_non_finite(inputs, start, name):
    """A batch scored to NaN or infinity: blame the input when it is not finite, else the
    network."""
    finite = torch.isfinite(inputs.reshape(len(inputs), -1)).all(dim=1).cpu().numpy()
    if not finite.all():
        rows = (start + np.flatnonzero(~finite)).tolist()
        shown = ", ".join(map(str, rows[:10])) + (", ..." if len(rows) > 10 else "")
        raise NonFiniteInputError(
            f"{name} contains NaN or infinity in row(s) {shown}; impute or drop those rows before "
            "scoring them."
        )
    raise NonFiniteOutputError(
        "The network produced NaN or infinity on finite input rows. Its weights may have diverged "
        "in training (lower the learning rate, clip gradients, check the labelled data), or "
        "float16 overflowed under autocast (score with autocast=False)."
    )


def _all_finite(block):
    """``np.isfinite(block).all()``, with a cheap sum first (a sum that overflows is checked
    exactly)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(block.sum())) or bool(np.isfinite(block).all())


def _set_scoring_mode(module, n_passes):
    """Eval mode for one pass; for Monte Carlo dropout, eval with the dropout layers training.

    Returns the module's training flag before, for the caller to restore.
    """
    was_training = module.training
    if n_passes == 1:
        module.eval()
    elif _set_dropout_train(module) == 0:
        module.train(was_training)
        raise ValueError(
            "Monte Carlo dropout (n_passes > 1) needs dropout layers with a rate above 0 in the "
            "network; this one has none (a learner's proxy_dropout=0.0 sets its proxy's to 0). "
            "Add nn.Dropout layers, leave proxy_dropout=None, or use another strategy."
        )
    return was_training


def _monte_carlo_passes(infer, nonlinearity, inputs, n_passes):
    """Mean probabilities and mean per-pass entropy of ``n_passes`` dropout forward passes of a
    batch."""
    mean_proba, mean_entropy = 0.0, 0.0
    for _ in range(n_passes):
        batch_proba = nonlinearity(infer(inputs)).float()
        mean_proba = mean_proba + batch_proba / n_passes
        mean_entropy = mean_entropy + _entropy_rows(batch_proba) / n_passes
    return mean_proba, mean_entropy


def score_pool(
    net,
    X,
    *,
    batch_size=None,
    embedding_layer=None,
    n_passes=1,
    autocast=False,
    progress=None,
    working_memory=None,
):
    """Score a pool with a fitted skorch classifier in one batched pass, without gradients.

    Runs under ``torch.inference_mode()``; a batch is converted to a float32
    tensor on the net's device only when it is scored, so memmaps and large
    arrays are never copied whole. Extra memory is the outputs (O(n_samples))
    plus one batch, which is sized to a memory budget unless ``batch_size`` is
    given: :func:`scoring_batch_size` measures the network's layer outputs on the
    first 8 rows and takes as many rows as fit ``working_memory`` MiB (by default
    :data:`DEFAULT_SCORING_MEMORY` = 32 on the CPU, :data:`DEFAULT_SCORING_MEMORY_GPU`
    = 1024 on a GPU), so a small network scores large batches and a large one small
    batches.

    Inputs are not scanned for NaN or infinity on their own: the outputs of every
    batch are, and a batch whose outputs are not finite has its input inspected,
    which raises :class:`~prunefuse_sk.exceptions.NonFiniteInputError` when the
    input holds NaN or infinity, :class:`~prunefuse_sk.exceptions.NonFiniteOutputError`
    when it does not. (A non-finite input value that the network ignores, say one a
    ReLU zeroes, is not reported here; ``PruneFuseActiveLearner.query`` checks the
    rows it selects.)

    Parameters
    ----------
    net : skorch.NeuralNetClassifier
        Fitted (initialized) net.
    X : ndarray, memmap, torch.Tensor or scipy.sparse matrix of shape (n_samples, ...)
        The pool.
    batch_size : int, default=None
        Rows per forward pass; when None, as many as fit ``working_memory``
        (:func:`scoring_batch_size`). Given, it wins over the budget.
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
    working_memory : float, default=None
        Memory budget of one batch in MiB, when ``batch_size`` is None; when None,
        :data:`DEFAULT_SCORING_MEMORY` (32) on the CPU, :data:`DEFAULT_SCORING_MEMORY_GPU`
        (1024) on a GPU. A learner passes its ``scoring_memory``.

    Returns
    -------
    scores : PoolScores
        Probabilities, and embeddings or expected entropies when asked for.

    Raises
    ------
    NonFiniteInputError
        If a batch contains NaN or infinity that makes the outputs NaN or infinite.
    NonFiniteOutputError
        If the network produced NaN or infinity on finite input.
    InvalidParameterError
        If ``batch_size`` or ``working_memory`` is not a positive number.
    ValueError
        If ``n_passes > 1`` for a network without dropout layers.

    Examples
    --------
    >>> import numpy as np
    >>> from prunefuse_sk.networks import default_estimator
    >>> X = np.random.RandomState(0).rand(5000, 64).astype("float32")
    >>> net = default_estimator(64, 10).initialize()
    >>> score_pool(net, X).proba.shape        # one 5,000-row batch: 32 MiB hold 17,924 rows
    (5000, 10)
    >>> bool(np.allclose(
    ...     score_pool(net, X, working_memory=1).proba, score_pool(net, X, batch_size=556).proba
    ... ))
    True
    """
    X = as_pool(X)
    if not X.scorable:
        X.to_tensor(None, "cpu")  # raises PoolTypeError, naming what to pass instead
    if progress is True:
        with _progress_bar(len(X)) as update:
            return score_pool(
                net,
                X,
                batch_size=batch_size,
                embedding_layer=embedding_layer,
                n_passes=n_passes,
                autocast=autocast,
                progress=update,
                working_memory=working_memory,
            )
    n_passes = check_int(n_passes, "n_passes", what="a positive integer")
    if batch_size is None:
        batch_size = scoring_batch_size(
            net,
            X,
            working_memory=working_memory,
            embedding_layer=embedding_layer,
            autocast=autocast,
        )
    else:
        what = "a positive integer (rows per forward pass), or None to size it to the memory budget"
        batch_size = check_int(batch_size, "batch_size", what=what)
    nonlinearity = _scoring_nonlinearity(net)
    softmax_in_place = n_passes == 1 and _is_default_softmax(predict_nonlinearity(net))
    module = net.module_
    was_training = _set_scoring_mode(module, n_passes)
    device = net_device(net)  # net.device is None with skorch's AccelerateMixin
    use_autocast = bool(autocast) and device.type == "cuda"
    infer, recorder = _forward_and_recorder(net, embedding_layer)
    tokens = token_input(module)  # an embedding input layer takes int64 ids, checked batch by batch
    scores = _ScoreArrays(len(X))
    start = 0
    try:
        with torch.inference_mode(), recorder, torch.autocast("cuda", enabled=use_autocast):
            for batch in X.batches(max(batch_size, 1)):
                # float input: the outputs are checked instead of every value
                inputs = X.to_tensor(batch, device, check_finite=False, token_input=tokens)
                stop = start + len(inputs)
                mean_entropy = _score_batch(
                    infer, nonlinearity, inputs, n_passes, softmax_in_place, scores, start
                )
                if not _all_finite(scores.proba[start:stop]):
                    _raise_non_finite(inputs, start, X.name)
                if embedding_layer is not None:
                    scores.store("embeddings", start, recorder.embedding.float().cpu().numpy())
                if n_passes > 1:
                    scores.store("expected_entropy", start, mean_entropy.cpu().numpy())
                start = stop
                if callable(progress):
                    progress(len(inputs))
    finally:
        module.train(was_training)
    return scores.result()


def _forward_and_recorder(net, embedding_layer):
    """The forward pass to score with, and the recorder of the embedding layer's input (or none)."""
    if embedding_layer is None:
        return net.infer, contextlib.nullcontext()
    # layer names without a DistributedDataParallel prefix
    recorder = EmbeddingRecorder(trained_module(net), embedding_layer)
    if unwrap_module(net.module_) is not trained_module(net):
        return unwrap_module(net.module_), recorder  # torch.compile'd: a graph skips the hook
    return net.infer, recorder


class _ScoreArrays:
    """A pool's scores, filled batch by batch; each array is allocated at the first batch, when
    its width is known."""

    def __init__(self, total):
        self.total = total
        self.proba = self.embeddings = self.expected_entropy = None

    def proba_rows(self, start, n, width, order="C"):
        """The rows ``start:start + n`` of the probabilities, to be written in place."""
        if self.proba is None:
            self.proba = np.empty((self.total, width), dtype=np.float32, order=order)
        return self.proba[start : start + n]

    def store(self, name, start, values):
        """Write one batch of ``embeddings`` or ``expected_entropy`` at row ``start``."""
        if getattr(self, name) is None:
            setattr(self, name, np.empty((self.total, *values.shape[1:]), dtype=np.float32))
        getattr(self, name)[start : start + len(values)] = values

    def result(self):
        """The :class:`PoolScores` (an empty ``(0, 0)`` probability array for an empty pool)."""
        proba = np.zeros((0, 0), dtype=np.float32) if self.proba is None else self.proba
        return PoolScores(
            proba=proba, embeddings=self.embeddings, expected_entropy=self.expected_entropy
        )


def _score_batch(infer, nonlinearity, inputs, n_passes, softmax_in_place, scores, start):
    """Write one batch's probabilities into ``scores``; return its mean entropy (MC dropout)."""
    if n_passes > 1:
        mean_proba, mean_entropy = _monte_carlo_passes(infer, nonlinearity, inputs, n_passes)
    else:
        outputs, mean_entropy = infer(inputs), None
        if softmax_in_place and _narrow_logits(outputs):  # straight into a Fortran-ordered proba
            rows = scores.proba_rows(start, len(outputs), outputs.shape[1], order="F")
            softmax_rows(outputs.numpy(), out=rows)
            return None
        mean_proba = nonlinearity(outputs).float()
    scores.proba_rows(start, len(inputs), mean_proba.shape[1])[:] = mean_proba.cpu().numpy()
    return mean_entropy


def predict_proba_batched(net, X, batch_size=None, progress=None, *, working_memory=None):
    """Class probabilities of a fitted skorch classifier over ``X``, batch by batch.

    Parameters
    ----------
    net : skorch.NeuralNetClassifier
        Fitted (initialized) net.
    X : ndarray, memmap, torch.Tensor or scipy.sparse matrix of shape (n_samples, ...)
        The pool to score; converted to float32 one batch at a time.
    batch_size : int, default=None
        Rows per forward pass; when None, as many as fit ``working_memory``
        (see :func:`score_pool`).
    progress : callable, default=None
        Called with the number of rows done after each batch (e.g. a tqdm update).
    working_memory : float, default=None
        Memory budget of one batch in MiB; the device's default when None (see
        :func:`score_pool`).

    Returns
    -------
    proba : ndarray of shape (n_samples, n_outputs), float32
        The net's predict nonlinearity (softmax by default) applied to its
        outputs; an empty ``(0, 0)`` array when ``X`` has no rows.
    """
    return score_pool(
        net, X, batch_size=batch_size, progress=progress, working_memory=working_memory
    ).proba
