"""FLOP counts of a network, measured with :class:`torch.utils.flop_counter.FlopCounterMode`.

Selection cost in the simulation is counted, not estimated: one probe batch goes
through the network and torch counts the FLOPs of its matrix multiplications and
convolutions; costs per sample then scale with the number of samples and epochs.
"""

import copy

import torch
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["forward_flops", "training_flops", "per_sample_flops"]


def forward_flops(module, X):
    """Forward FLOPs of ``module`` on the batch ``X`` (eval mode, no grad).

    Parameters
    ----------
    module : torch.nn.Module
    X : torch.Tensor of shape (n, ...)

    Returns
    -------
    flops : int
        As counted by :class:`~torch.utils.flop_counter.FlopCounterMode`
        (matrix multiplications and convolutions) for the whole batch.
    """
    was_training = module.training
    module.eval()
    try:
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            module(X)
    finally:
        module.train(was_training)
    return int(counter.get_total_flops())


def training_flops(module, X):
    """Forward + backward FLOPs of one training step of ``module`` on the batch ``X``.

    Runs on a copy in train mode with a sum of the outputs as the loss, so the
    module and its gradients are left untouched. The backward pass counts the
    gradients of the weights and of the activations (about twice the forward).

    Parameters
    ----------
    module : torch.nn.Module
    X : torch.Tensor of shape (n, ...)

    Returns
    -------
    flops : int
        For the whole batch.
    """
    probe = copy.deepcopy(module).train()
    counter = FlopCounterMode(display=False)
    with counter:
        outputs = probe(X)
        if isinstance(outputs, (tuple, list)):
            outputs = outputs[0]
        outputs.float().sum().backward()
    return int(counter.get_total_flops())


def per_sample_flops(module, X):
    """Forward and forward+backward FLOPs per sample, from a probe batch.

    Parameters
    ----------
    module : torch.nn.Module
    X : torch.Tensor of shape (n, ...)
        The probe batch (a few real samples).

    Returns
    -------
    forward : float
        FLOPs of scoring one sample.
    train : float
        FLOPs of one training step per sample (forward + backward).
    """
    n = len(X)
    return forward_flops(module, X) / n, training_flops(module, X) / n
