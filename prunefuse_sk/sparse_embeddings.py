"""Embedding updates that touch only the rows a batch uses.

A text network's embedding table has one row per vocabulary id; with dense gradients every
training step builds a gradient the size of the whole table and Adam updates every row, so an
epoch costs about the same whatever the batch holds, and pruning shrinks that cost only by
``(1 - p)`` (the rows stay, only their width shrinks). With sparse gradients
(``nn.Embedding(..., sparse=True)``) a step builds and updates only the rows of the ids in the
batch.

:class:`LazyAdam` is Adam that takes both kinds of gradient: the dense parameters get
:class:`torch.optim.Adam`'s update, an embedding's sparse gradient updates the moments and the
weights of its batch's rows only (the "lazy" Adam of TensorFlow Addons and
:class:`torch.optim.SparseAdam`); :func:`use_sparse_embeddings` switches a skorch net's
embedding layers to sparse gradients and its optimizer to one that takes them.
"""

import math

import torch
from torch import nn

from .architecture import unwrap_module
from .exceptions import InvalidParameterError

__all__ = [
    "SPARSE_EMBEDDINGS",
    "LazyAdam",
    "embedding_layers",
    "use_sparse_embeddings",
]

#: the learner's ``sparse_embeddings`` values: which networks train with sparse embedding updates
SPARSE_EMBEDDINGS = ("proxy", "all", "none")

# optimizers whose step takes sparse gradients as they are
_TAKE_SPARSE = (torch.optim.SGD, torch.optim.Adagrad)


class LazyAdam(torch.optim.Optimizer):
    """Adam for networks with sparse embedding gradients: dense parameters as
    :class:`torch.optim.Adam`, sparse ones row by row.

    A parameter whose gradient is dense gets exactly Adam's update (L2 ``weight_decay`` added to
    the gradient, bias-corrected moments). A sparse gradient (an embedding with
    ``sparse=True``) updates only the rows it holds: their first and second moments and their
    weights, as :class:`torch.optim.SparseAdam` does; the other rows and their moments stay as
    they are ("lazy" Adam). Both keep their moments under Adam's state names, so a
    state dict moves between the two.

    Parameters
    ----------
    params : iterable
        Parameters or parameter groups, as for any torch optimizer.
    lr : float, default=1e-3
    betas : tuple of float, default=(0.9, 0.999)
    eps : float, default=1e-8
    weight_decay : float, default=0.0
        L2 penalty, added to the gradient (to the batch's rows only, for a sparse gradient).

    Examples
    --------
    >>> from torch import nn
    >>> embedding = nn.Embedding(10, 3, sparse=True)
    >>> optimizer = LazyAdam(embedding.parameters(), lr=0.1)
    >>> before = embedding.weight.detach().clone()
    >>> embedding(torch.tensor([2, 5])).sum().backward()
    >>> optimizer.step()
    >>> changed = (embedding.weight != before).any(dim=1)
    >>> changed.nonzero().ravel().tolist()
    [2, 5]
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        if not lr >= 0.0:
            raise ValueError(f"LazyAdam's lr must be non-negative; got {lr}.")
        if not all(0.0 <= beta < 1.0 for beta in betas) or len(betas) != 2:
            raise ValueError(f"LazyAdam's betas must be two floats in [0, 1); got {betas}.")
        if not eps >= 0.0 or not weight_decay >= 0.0:
            raise ValueError(
                f"LazyAdam's eps and weight_decay must be non-negative; got {eps} and "
                f"{weight_decay}."
            )
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient.

        Parameters
        ----------
        closure : callable, default=None
            Re-evaluates the model and returns the loss.

        Returns
        -------
        loss : torch.Tensor or None
            The closure's loss.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    self._update(param, param.grad, group)
        return loss

    def _update(self, param, grad, group):
        state = self.state[param]
        if not state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        state["step"] += 1
        step = state["step"].item()
        beta1, beta2 = group["betas"]
        step_size = group["lr"] / (1 - beta1**step)
        root_correction = math.sqrt(1 - beta2**step)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        if grad.is_sparse:
            grad = grad.coalesce()
            rows, values = grad.indices()[0], grad.values()
            if group["weight_decay"]:
                values = values.add(param[rows], alpha=group["weight_decay"])
            first = exp_avg[rows].lerp_(values, 1 - beta1)
            second = exp_avg_sq[rows].mul_(beta2).addcmul_(values, values, value=1 - beta2)
            exp_avg[rows], exp_avg_sq[rows] = first, second
            denominator = (second.sqrt() / root_correction).add_(group["eps"])
            param.index_add_(0, rows, first.div_(denominator), alpha=-step_size)
            return
        if group["weight_decay"]:
            grad = grad.add(param, alpha=group["weight_decay"])
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denominator = (exp_avg_sq.sqrt() / root_correction).add_(group["eps"])
        param.addcdiv_(exp_avg, denominator, value=-step_size)


def embedding_layers(module):
    """The network's ``nn.Embedding`` and ``nn.EmbeddingBag`` layers, by name.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    layers : dict of str to torch.nn.Module

    Examples
    --------
    >>> from prunefuse_sk.networks import FastText
    >>> list(embedding_layers(FastText(n_ids=50, n_classes=2)))
    ['embedding']
    """
    return {
        name: layer
        for name, layer in unwrap_module(module).named_modules()
        if isinstance(layer, (nn.Embedding, nn.EmbeddingBag))
    }


def _sparse_optimizer(net, option):
    """The optimizer class ``net`` trains with once its embeddings give sparse gradients."""
    optimizer = net.optimizer
    if isinstance(optimizer, type) and issubclass(optimizer, LazyAdam):
        return optimizer
    decay = net.get_params_for("optimizer").get("weight_decay", 0)
    if isinstance(optimizer, type) and issubclass(optimizer, _TAKE_SPARSE) and not decay:
        return optimizer  # their weight decay adds a dense tensor to the sparse gradient
    if optimizer is torch.optim.Adam:
        # Adam refuses sparse gradients; LazyAdam takes the same lr, betas, eps, weight_decay
        extra = sorted(
            set(net.get_params_for("optimizer")) - {"lr", "betas", "eps", "weight_decay"}
        )
        if not extra:
            return LazyAdam
        reason = f"torch.optim.Adam with {', '.join(f'optimizer__{key}' for key in extra)}"
    elif decay:
        reason = f"{getattr(optimizer, '__name__', optimizer)} with optimizer__weight_decay"
    else:
        reason = getattr(optimizer, "__name__", repr(optimizer))
    raise InvalidParameterError(
        f"{option} gives the network's embedding layers sparse gradients, and its optimizer "
        f"({reason}) cannot take them. Pass sparse_embeddings='none' to train with dense "
        "gradients, or an optimizer that takes sparse ones: prunefuse_sk.LazyAdam (Adam's "
        "update; plain torch.optim.Adam is replaced by it automatically), torch.optim.SGD or "
        "torch.optim.Adagrad without weight decay."
    )


def use_sparse_embeddings(net, option="sparse_embeddings"):
    """Train ``net``'s embedding layers with sparse gradients; its optimizer must take them.

    Every ``nn.Embedding``/``nn.EmbeddingBag`` of the net's module instance gets
    ``sparse=True``. ``torch.optim.Adam`` (without other options than ``lr``, ``betas``,
    ``eps``, ``weight_decay``) becomes :class:`LazyAdam` with the same settings; LazyAdam, and
    SGD and Adagrad without weight decay (theirs fails on sparse gradients), are kept. A
    network without an embedding layer is returned unchanged.

    Parameters
    ----------
    net : skorch.NeuralNet
        Unfitted, with a module instance (as the learner's proxy and fused nets have);
        modified in place.
    option : str, default="sparse_embeddings"
        How the error names the setting that asked for sparse gradients.

    Returns
    -------
    net : skorch.NeuralNet
        The same net.

    Raises
    ------
    InvalidParameterError
        If the network has an embedding layer and its optimizer cannot take sparse gradients.
    """
    layers = embedding_layers(net.module) if isinstance(net.module, nn.Module) else {}
    if not layers:
        return net
    optimizer = _sparse_optimizer(net, option)
    for layer in layers.values():
        layer.sparse = True
    if optimizer is not net.optimizer:
        net.set_params(optimizer=optimizer)
    return net
