"""Knowledge distillation from the trained proxy into the fused network.

The fused network may learn from the proxy's outputs as well as from the labels: the
loss term :func:`distillation_loss` (the temperature-softened KL divergence), the
frozen teacher it is computed against (:class:`DistillationTeacher`) and the check of
the distillation weight and temperature (:func:`check_distillation_params`).
:class:`~prunefuse_sk.fused_classifier.FusedNeuralNetClassifier` mixes the term into
its loss.
"""

import copy
import numbers
from collections.abc import Mapping

import numpy as np
import torch
from sklearn.utils import check_scalar
from torch.nn import functional as F

from .architecture import unwrap_module

__all__ = [
    "DistillationTeacher",
    "check_distillation_params",
    "distillation_loss",
    "outputs_to_logits",
]


def outputs_to_logits(outputs, outputs_are_probabilities):
    """Logits (up to a per-row constant) from a module's outputs.

    Modules trained with skorch's default ``NLLLoss`` return probabilities;
    their log is a valid logit vector since softmax ignores a per-row shift.

    Parameters
    ----------
    outputs : torch.Tensor of shape (n_samples, n_classes)
        Logits or probabilities.
    outputs_are_probabilities : bool
        Whether ``outputs`` are probabilities.

    Returns
    -------
    logits : torch.Tensor of shape (n_samples, n_classes)
    """
    if outputs_are_probabilities:
        return torch.log(outputs + torch.finfo(outputs.dtype).eps)
    return outputs


def distillation_loss(
    student_outputs, teacher_outputs, temperature=4.0, *, outputs_are_probabilities=False
):
    r"""Knowledge-distillation term :math:`T^2 \, \mathrm{KL}(p^T_{teacher} \,\|\, p^T_{student})`.

    :math:`p^T = \mathrm{softmax}(z / T)`; the KL divergence is averaged over the batch.

    Parameters
    ----------
    student_outputs, teacher_outputs : torch.Tensor of shape (n_samples, n_classes)
        Logits, or probabilities when ``outputs_are_probabilities``.
    temperature : float, default=4.0
        T: softens both distributions; the T² factor keeps gradient scales comparable.
    outputs_are_probabilities : bool, default=False
        Whether the outputs are probabilities (modules trained with ``NLLLoss``) rather
        than logits.

    Returns
    -------
    loss : torch.Tensor (scalar)
    """
    student = outputs_to_logits(student_outputs, outputs_are_probabilities) / temperature
    teacher = outputs_to_logits(teacher_outputs, outputs_are_probabilities) / temperature
    kl = F.kl_div(
        F.log_softmax(student, dim=1),
        F.log_softmax(teacher, dim=1),
        reduction="batchmean",
        log_target=True,
    )
    return temperature**2 * kl


class DistillationTeacher:
    """A frozen network whose outputs a student is distilled towards.

    Keeps its module on the CPU (so it pickles anywhere) and a cached copy on
    the device it is asked for.

    Parameters
    ----------
    module : torch.nn.Module
        The teacher network (the trained proxy). Used in eval mode, without gradients.
    """

    def __init__(self, module):
        self.module = copy.deepcopy(unwrap_module(module)).cpu().eval()
        self._on_device = None

    def outputs(self, X, device):
        """Teacher outputs for a batch, without gradients.

        Parameters
        ----------
        X : torch.Tensor or dict of torch.Tensor
            The batch.
        device : str or torch.device
            Where to run the teacher.

        Returns
        -------
        outputs : torch.Tensor of shape (batch_size, n_classes)
        """
        device = torch.device(device)
        if self._on_device is None or self._on_device[0] != device:
            self._on_device = (device, copy.deepcopy(self.module).to(device).eval())
        module = self._on_device[1]
        with torch.no_grad():
            if isinstance(X, Mapping):
                return module(**{k: v.to(device) for k, v in X.items()})
            return module(X.to(device))

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_on_device"] = None
        return state

    def __deepcopy__(self, memo):
        new = DistillationTeacher.__new__(DistillationTeacher)
        new.module = copy.deepcopy(self.module, memo)
        new._on_device = None
        return new


def check_distillation_params(distillation_weight, temperature):
    """Check α in [0, 1] and a finite T > 0 (the learner's rules; run once per fit, not per batch).

    Parameters
    ----------
    distillation_weight : float
    temperature : float

    Raises
    ------
    ValueError, TypeError
        From :func:`sklearn.utils.check_scalar`, naming the parameter.

    Examples
    --------
    >>> check_distillation_params(0.5, 4.0)
    >>> check_distillation_params(0.5, float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: temperature == nan, must be > 0.0.
    """
    check_scalar(distillation_weight, "distillation_weight", numbers.Real, min_val=0.0, max_val=1.0)
    check_scalar(
        temperature, "temperature", numbers.Real, min_val=0.0, include_boundaries="neither"
    )
    if not np.isfinite(temperature):
        raise ValueError(f"temperature == {temperature}, must be > 0.0.")
