"""What a network looks like: probes of its architecture that pruning, scoring and simulation share.

Nothing here changes a network. These functions find the layers that produce its outputs
(:func:`find_output_layers`), the number of class scores it returns (:func:`output_width`),
whether it takes token ids (:func:`token_input`), its dropout layers (:func:`dropout_layers`),
the layer whose input is its penultimate embedding (:func:`embedding_layer`), a small batch to
trace it with (:func:`example_batch`), its size (:func:`count_parameters`) and the bare network
inside parallel and compile wrappers (:func:`unwrap_module`).
"""

import numpy as np
import torch
from torch import nn

from .exceptions import FeatureShapeError, OutputWidthError

__all__ = [
    "EXAMPLE_ROWS",
    "count_parameters",
    "dropout_layers",
    "embedding_layer",
    "eval_forward",
    "example_batch",
    "find_output_layers",
    "input_layer",
    "is_convolutional",
    "output_tensors",
    "output_width",
    "token_input",
    "unwrap_module",
]

EXAMPLE_ROWS = 3  # odd, so a forward that hard-codes a width cannot silently fold rows


def unwrap_module(module):
    """The network inside its parallel and compile wrappers.

    ``DistributedDataParallel`` and ``DataParallel`` (what Hugging Face Accelerate's
    ``prepare`` wraps a module in for multi-GPU training) and ``torch.compile`` keep
    the network in an attribute; their state dict keys and module names carry a
    ``module.`` or ``_orig_mod.`` prefix. Pruning and fusion work on the bare network.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    module : torch.nn.Module
        The innermost wrapped module (shared, not a copy); ``module`` itself when unwrapped.

    Examples
    --------
    >>> layer = torch.nn.Linear(2, 3)
    >>> unwrap_module(torch.nn.DataParallel(layer)) is layer
    True
    """
    while True:
        if isinstance(module, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            module = module.module
        elif isinstance(getattr(module, "_orig_mod", None), nn.Module):  # torch.compile's wrapper
            module = module._orig_mod
        else:
            return module


def count_parameters(module):
    """Return the number of scalar parameters of ``module``.

    Parameters
    ----------
    module : torch.nn.Module
        The network; all its parameters, recursively, are counted (buffers
        are not).

    Returns
    -------
    n : int
        Sum of ``numel()`` over ``module.parameters()``.

    Examples
    --------
    >>> count_parameters(torch.nn.Linear(4, 3))
    15
    """
    return int(sum(p.numel() for p in module.parameters()))


def output_tensors(output):
    """The tensors in a module's output (or a batch), flattened in order.

    Parameters
    ----------
    output : torch.Tensor, dict, list or tuple
        A tensor, or containers of tensors, nested in any way; other values are skipped.

    Returns
    -------
    tensors : list of torch.Tensor

    Examples
    --------
    >>> [tuple(t.shape) for t in output_tensors({"a": torch.zeros(2), "b": (torch.zeros(3), 1)})]
    [(2,), (3,)]
    """
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (list, tuple)):
        tensors = []
        for item in output:
            tensors.extend(output_tensors(item))
        return tensors
    return []


def _forward(module, example_inputs):
    if isinstance(example_inputs, dict):
        return module(**example_inputs)
    if isinstance(example_inputs, (list, tuple)):
        return module(*example_inputs)
    return module(example_inputs)


def eval_forward(module, example_inputs):
    """The module's outputs on a batch in eval mode without gradients; its mode is restored.

    Parameters
    ----------
    module : torch.nn.Module
    example_inputs : torch.Tensor or tuple or dict
        A batch the module accepts: a tensor is passed as is, a tuple or list
        unpacked as positional arguments, a dict as keyword arguments.

    Returns
    -------
    outputs : object
        What the module's ``forward`` returns.

    Examples
    --------
    >>> eval_forward(torch.nn.Linear(4, 3), torch.zeros(2, 4)).shape
    torch.Size([2, 3])
    """
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            return _forward(module, example_inputs)
    finally:
        module.train(was_training)


def _mixes_channels(module):
    """A layer whose weights map input channels to output channels (Linear, Conv, ...)."""
    return any(p.dim() >= 2 for p in module.parameters(recurse=False))


def find_output_layers(module, example_inputs):
    """Return the names of the layers that produce the network's outputs.

    Walks autograd's graph back from the outputs to the first channel-mixing
    layer (Linear, Conv, Embedding, ...) on every path, collecting per-channel
    layers met on the way (e.g. a final BatchNorm). Pruning those would change
    the number of outputs, so they are protected.

    Parameters
    ----------
    module : torch.nn.Module
        The network to probe; run once in eval mode with gradients enabled,
        and restored to its training mode afterwards.
    example_inputs : torch.Tensor or tuple or dict
        A small batch the module accepts: a tensor is passed as is, a tuple
        or list unpacked as positional arguments, a dict as keyword
        arguments.

    Returns
    -------
    names : tuple of str
        Module names (as in ``named_modules()``) of the output layers, in
        the order found.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.BatchNorm1d(3))
    >>> find_output_layers(net, torch.zeros(3, 4))
    ('3', '2')
    """
    grad_fn_owner = {}
    handles = []

    def record(name):
        def hook(_module, _inputs, output):
            for tensor in output_tensors(output):
                if tensor.grad_fn is not None:
                    grad_fn_owner[tensor.grad_fn] = name

        return hook

    for name, sub in module.named_modules():
        if any(True for _ in sub.parameters(recurse=False)):
            handles.append(sub.register_forward_hook(record(name)))
    was_training = module.training
    module.eval()  # no running-statistics updates during the probe
    try:
        with torch.enable_grad():
            outputs = output_tensors(_forward(module, example_inputs))
    finally:
        for handle in handles:
            handle.remove()
        module.train(was_training)

    names = dict(module.named_modules())
    found, seen = [], set()
    stack = [t.grad_fn for t in outputs if t.grad_fn is not None]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        owner = grad_fn_owner.get(fn)
        if owner is not None:
            if owner not in found:
                found.append(owner)
            if _mixes_channels(names[owner]):
                continue
        stack.extend(next_fn for next_fn, _ in fn.next_functions)
    return tuple(found)


def example_batch(X, device):
    """A few rows of ``X`` as a tensor on ``device``, to trace and probe a network with.

    Parameters
    ----------
    X : ndarray of shape (n_samples, ...)
        Samples the network accepts (at least one row; rows repeat when fewer than 3).
    device : str or torch.device

    Returns
    -------
    batch : torch.Tensor of shape (3, ...)

    Examples
    --------
    >>> example_batch(np.zeros((1, 4), dtype=np.float32), "cpu").shape
    torch.Size([3, 4])
    """
    rows = np.resize(np.arange(len(X)), EXAMPLE_ROWS)
    return torch.as_tensor(X[rows], device=device)


def output_width(module, example_inputs):
    """The number of class scores the network returns per sample.

    Parameters
    ----------
    module : torch.nn.Module
        Run once in eval mode without gradients; its mode is restored.
    example_inputs : torch.Tensor
        A small batch, e.g. from :func:`example_batch`.

    Returns
    -------
    n_outputs : int

    Raises
    ------
    FeatureShapeError
        If the network fails on the batch (its input layer does not match the data).
    OutputWidthError
        If it does not return one row of scores per sample, shape (n_samples, n_classes).

    Examples
    --------
    >>> import torch
    >>> output_width(torch.nn.Linear(4, 3), torch.zeros(2, 4))
    3
    """
    try:
        outputs = eval_forward(module, example_inputs)
    except RuntimeError as exc:
        raise FeatureShapeError(
            f"The network fails on samples of shape {tuple(example_inputs.shape[1:])}: {exc}. "
            "Check that the network's input layer matches the data."
        ) from exc
    if not isinstance(outputs, torch.Tensor) or outputs.dim() != 2:
        raise OutputWidthError(
            "The network must return one row of class scores per sample, shape "
            f"(n_samples, n_classes); got {getattr(outputs, 'shape', type(outputs).__name__)}."
        )
    return int(outputs.shape[1])


def input_layer(module):
    """The network's input layer: ``(name, layer)``, or ``None`` for a network without parameters.

    It is the first leaf module with parameters in the order the network registers them (its
    ``__init__`` order), which is how networks are written: the layer that reads the input
    first.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    input_layer : tuple (str, torch.nn.Module) or None

    Examples
    --------
    >>> input_layer(nn.Sequential(nn.ReLU(), nn.Linear(4, 2), nn.Linear(2, 2)))[0]
    '1'
    """
    for name, layer in unwrap_module(module).named_modules():
        is_leaf = next(layer.children(), None) is None
        if is_leaf and next(layer.parameters(recurse=False), None) is not None:
            return name, layer
    return None


def is_convolutional(module):
    """Whether ``module`` holds a convolution (``nn.Conv1d``, ``nn.Conv2d`` or ``nn.Conv3d``).

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    bool

    Examples
    --------
    >>> from prunefuse_sk.networks import FastText, TextCNN
    >>> is_convolutional(TextCNN(n_ids=50, n_classes=2)), is_convolutional(FastText(50, 2))
    (True, False)
    """
    convolutions = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
    return any(isinstance(layer, convolutions) for layer in unwrap_module(module).modules())


def token_input(module):
    """The network's input layer when it is an embedding: ``(name, number of ids)``, else ``None``.

    The number of ids is the layer's ``num_embeddings``, or the vocabulary's size for a proxy
    that embeds only some ids (:mod:`~prunefuse_sk.proxy_vocabulary`).

    The input layer is :func:`input_layer`, the first layer with parameters in the order the
    network registers them, which is how text networks are written: ``nn.Embedding`` or
    ``nn.EmbeddingBag`` first. A network with such an input layer
    takes int64 token ids; every other network takes float32 features.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    token_input : tuple (str, int) or None

    Examples
    --------
    >>> token_input(nn.Sequential(nn.EmbeddingBag(100, 8), nn.Linear(8, 2)))
    ('0', 100)
    >>> token_input(nn.Sequential(nn.Linear(4, 2))) is None
    True
    """
    first = input_layer(module)
    if first is None or not isinstance(first[1], (nn.Embedding, nn.EmbeddingBag)):
        return None
    name, layer = first
    # a proxy that embeds only some ids still takes every id of the vocabulary
    id_map = getattr(layer, "proxy_vocabulary_map", None)
    return name, int(layer.num_embeddings if id_map is None else len(id_map))


def dropout_layers(module):
    """The network's dropout layers (``nn.Dropout`` and its kin), in registration order.

    Dropout written as a call (``torch.nn.functional.dropout`` in ``forward``) is not a layer
    and is not found.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    layers : list of torch.nn.Module

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Linear(4, 2), nn.Dropout1d(0.1))
    >>> [layer.p for layer in dropout_layers(net)]
    [0.5, 0.1]
    """
    return [
        layer
        for layer in unwrap_module(module).modules()
        if isinstance(layer, nn.modules.dropout._DropoutNd)
    ]


def embedding_layer(module, output_layers):
    """The output layer whose input is the penultimate embedding (the channel-mixing one).

    Parameters
    ----------
    module : torch.nn.Module
    output_layers : sequence of str
        From :func:`find_output_layers`.

    Returns
    -------
    name : str or None
        The first channel-mixing output layer (e.g. the final ``Linear``), else the
        first output layer; ``None`` when there is none.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.BatchNorm1d(3))
    >>> embedding_layer(net, ("3", "2"))
    '2'
    """
    layers = dict(unwrap_module(module).named_modules())
    for name in output_layers:
        if _mixes_channels(layers[name]):
            return name
    return output_layers[0] if output_layers else None
