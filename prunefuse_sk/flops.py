"""FLOP counts of a network on a probe batch, with
:class:`torch.utils.flop_counter.FlopCounterMode`.

One probe batch goes through the network and torch counts the FLOPs of its matrix
multiplications and convolutions (elementwise work is not counted). Selection cost in
the simulation is that per-sample count scaled by the number of samples and epochs: an
estimate from one probe batch, not a measurement of every sample.
"""

import copy

import torch
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["forward_flops", "training_flops", "per_sample_flops"]


def _count_flops(run):
    """FLOPs (matrix multiplications and convolutions) that torch counts while ``run()``
    executes."""
    counter = FlopCounterMode(display=False)
    with counter:
        run()
    return int(counter.get_total_flops())


def forward_flops(module, X):
    """Forward FLOPs of ``module`` on the batch ``X`` (eval mode, no grad).

    Parameters
    ----------
    module : torch.nn.Module
        The network; its train/eval mode is restored afterwards.
    X : torch.Tensor of shape (n, ...)
        The probe batch.

    Returns
    -------
    flops : int
        As counted by :class:`~torch.utils.flop_counter.FlopCounterMode`
        (matrix multiplications and convolutions) for the whole batch.

    Examples
    --------
    >>> import torch
    >>> from prunefuse_sk.flops import forward_flops
    >>> # 2 samples x 4 x 3 multiply-adds x 2
    >>> forward_flops(torch.nn.Linear(4, 3), torch.zeros(2, 4))
    48
    """
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            return _count_flops(lambda: module(X))
    finally:
        module.train(was_training)


def training_flops(module, X):
    """Forward + backward FLOPs of one training step of ``module`` on the batch ``X``.

    Runs on a copy in train mode with a sum of the outputs as the loss, so the
    module and its gradients are left untouched. The backward pass counts the
    gradients of the weights and of the activations (about twice the forward).

    Parameters
    ----------
    module, X
        As in :func:`forward_flops`.

    Returns
    -------
    flops : int
        For the whole batch.

    Examples
    --------
    >>> import torch
    >>> from prunefuse_sk.flops import training_flops
    >>> training_flops(torch.nn.Linear(4, 3), torch.zeros(2, 4))  # forward 48, weight gradient 48
    96
    """
    probe = copy.deepcopy(module).train()

    def step():
        outputs = probe(X)
        if isinstance(outputs, (tuple, list)):
            outputs = outputs[0]
        outputs.float().sum().backward()

    return _count_flops(step)


def per_sample_flops(module, X):
    """Forward and forward+backward FLOPs per sample, from a probe batch.

    Parameters
    ----------
    module : torch.nn.Module
        The network.
    X : torch.Tensor of shape (n, ...)
        The probe batch (a few real samples).

    Returns
    -------
    forward : float
        FLOPs of scoring one sample.
    train : float
        FLOPs of one training step per sample (forward + backward).

    Examples
    --------
    >>> import torch
    >>> from prunefuse_sk.flops import per_sample_flops
    >>> per_sample_flops(torch.nn.Linear(4, 3), torch.zeros(2, 4))
    (24.0, 48.0)
    """
    n = len(X)
    return forward_flops(module, X) / n, training_flops(module, X) / n
