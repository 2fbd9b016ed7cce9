"""Memory format of the networks the learner trains: ``channels_last`` where it was measured to
help.

A 2-D convolution on the CPU (oneDNN) runs faster when its weights are stored channels-last
(NHWC): ``benchmarks/bench_kernels.py`` measured it for the reference CNNs, and the
"Memory format and compilation" section of the user guide gives the numbers. Converting the
weights is enough: a convolution's output takes its weight's memory format, and the
BatchNorm, ReLU, pooling and residual additions after it keep it, so inputs are left as
they are.

The choice is a fixed rule of the network's layers and the device
(:func:`resolve_memory_format`), never a run-time timing, so results depend only on the
seeds. The memory format changes floating-point rounding (other kernels), not what is
computed: a network trained ``"channels_last"`` and one trained ``"contiguous"`` agree to
rounding, not bit for bit; two runs with the same setting agree exactly.
"""

import torch
from torch import nn

from .exceptions import InvalidParameterError

__all__ = [
    "MEMORY_FORMATS",
    "CHANNELS_LAST_MIN_WIDTH",
    "check_memory_format",
    "resolve_memory_format",
    "apply_memory_format",
    "module_memory_format",
]

MEMORY_FORMATS = ("auto", "channels_last", "contiguous")

# "auto" picks channels_last for a CPU network whose narrowest 2-D convolution has at least this
# many output channels (see resolve_memory_format and benchmarks/results/bench_kernels_cpu.txt)
CHANNELS_LAST_MIN_WIDTH = 16

_TORCH_FORMATS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}


def check_memory_format(memory_format):
    """Check a ``memory_format`` parameter and return it.

    Parameters
    ----------
    memory_format : {"auto", "channels_last", "contiguous"} or torch.memory_format
        ``torch.channels_last`` and ``torch.contiguous_format`` are accepted for their names.

    Returns
    -------
    memory_format : {"auto", "channels_last", "contiguous"}

    Raises
    ------
    InvalidParameterError
        If ``memory_format`` is anything else.

    Examples
    --------
    >>> check_memory_format(torch.channels_last)
    'channels_last'
    """
    for name, value in _TORCH_FORMATS.items():
        if memory_format is value:
            return name
    if isinstance(memory_format, str) and memory_format in MEMORY_FORMATS:
        return memory_format
    raise InvalidParameterError(
        f"memory_format must be one of {MEMORY_FORMATS}; got {memory_format!r} instead. Use 'auto' "
        "to let prunefuse_sk choose per network (channels_last for CPU networks with 2-D "
        f"convolutions of at least {CHANNELS_LAST_MIN_WIDTH} channels), or name the format to "
        "force it."
    )


def _device_of(module, device):
    if device is not None:
        return torch.device(device)
    for tensor in module.parameters():
        return tensor.device
    return torch.device("cpu")


def _conv2d_widths(module):
    """Output channels of every 2-D convolution (``nn.Conv2d`` and subclasses; not transposed)."""
    return [layer.out_channels for layer in module.modules() if isinstance(layer, nn.Conv2d)]


def resolve_memory_format(module, device=None, memory_format="auto"):
    """The memory format a network's 4-D weights should have, by a fixed rule (no timing).

    ``"auto"`` gives ``torch.channels_last`` when all of these hold, else
    ``torch.contiguous_format``:

    * the network runs on the CPU and PyTorch has oneDNN (``torch.backends.mkldnn``);
    * it has 2-D convolutions (``nn.Conv2d``), and the narrowest has at least
      :data:`CHANNELS_LAST_MIN_WIDTH` output channels.

    Measured on a 2-core x86 CPU (``benchmarks/bench_kernels.py``), channels_last cut the
    training time of the reference CNNs at these widths and was slower or no better for
    narrower ones. It was not measured on CUDA, so ``"auto"`` keeps the default format there;
    pass ``"channels_last"`` to use it anyway (usually worthwhile with mixed precision).

    Parameters
    ----------
    module : torch.nn.Module
        The network (parallel and compile wrappers are looked through: their parameters
        are the network's).
    device : str or torch.device, default=None
        Where the network will run; the device of its first parameter when None (the CPU
        when it has none).
    memory_format : {"auto", "channels_last", "contiguous"} or torch.memory_format, default="auto"
        A named format is returned as is, whatever the network.

    Returns
    -------
    memory_format : torch.memory_format
        ``torch.channels_last`` or ``torch.contiguous_format``.

    Raises
    ------
    InvalidParameterError
        If ``memory_format`` is not one of the accepted values.

    Examples
    --------
    >>> from prunefuse_sk.networks import MLP, SmallCNN
    >>> resolve_memory_format(SmallCNN(width=32), "cpu") == (
    ...     torch.channels_last
    ...     if torch.backends.mkldnn.is_available()
    ...     else torch.contiguous_format)
    True
    >>> resolve_memory_format(MLP(4, 2), "cpu")
    torch.contiguous_format
    >>> resolve_memory_format(MLP(4, 2), "cpu", "channels_last")
    torch.channels_last
    """
    memory_format = check_memory_format(memory_format)
    if memory_format != "auto":
        return _TORCH_FORMATS[memory_format]
    if _device_of(module, device).type != "cpu" or not torch.backends.mkldnn.is_available():
        return torch.contiguous_format
    widths = _conv2d_widths(module)
    if widths and min(widths) >= CHANNELS_LAST_MIN_WIDTH:
        return torch.channels_last
    return torch.contiguous_format


def apply_memory_format(module, memory_format):
    """Store every 4-D parameter and buffer of ``module`` in ``memory_format``, in place.

    Other tensors (biases, linear weights, 5-D convolution weights) are left alone, so any
    network accepts any format. Parameters stay the same ``Parameter`` objects (their
    ``data`` is replaced), so do this before an optimizer holds state for them.

    Parameters
    ----------
    module : torch.nn.Module
    memory_format : {"auto", "channels_last", "contiguous"} or torch.memory_format
        ``"auto"`` is resolved by :func:`resolve_memory_format` for the device the module is on.

    Returns
    -------
    module : torch.nn.Module
        The same module.

    Raises
    ------
    InvalidParameterError
        As :func:`resolve_memory_format` does, for a format it does not know.

    Examples
    --------
    >>> conv = apply_memory_format(torch.nn.Conv2d(2, 4, 3), "channels_last")
    >>> conv.weight.is_contiguous(memory_format=torch.channels_last)
    True
    >>> module_memory_format(apply_memory_format(conv, "contiguous"))
    torch.contiguous_format
    """
    fmt = resolve_memory_format(module, None, memory_format)
    with torch.no_grad():
        for owner in module.modules():
            for param in owner._parameters.values():
                if (
                    param is not None
                    and param.dim() == 4
                    and not param.is_contiguous(memory_format=fmt)
                ):
                    param.data = param.data.contiguous(memory_format=fmt)
            for name, buffer in owner._buffers.items():
                if (
                    buffer is not None
                    and buffer.dim() == 4
                    and not buffer.is_contiguous(memory_format=fmt)
                ):
                    owner._buffers[name] = buffer.contiguous(memory_format=fmt)
    return module


def module_memory_format(module):
    """The memory format of a module's 4-D parameters.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    memory_format : torch.memory_format or None
        ``torch.channels_last`` when every 4-D parameter is stored channels-last and one at
        least is not also contiguous (a tensor with one input channel and a 1x1 kernel is
        both), ``torch.contiguous_format`` otherwise; ``None`` without 4-D parameters.

    Examples
    --------
    >>> module_memory_format(torch.nn.Conv2d(2, 4, 3))
    torch.contiguous_format
    >>> module_memory_format(torch.nn.Linear(2, 4)) is None
    True
    """
    weights = [p for p in module.parameters() if p.dim() == 4]
    if not weights:
        return None
    if all(p.is_contiguous(memory_format=torch.channels_last) for p in weights) and not all(
        p.is_contiguous() for p in weights
    ):
        return torch.channels_last
    return torch.contiguous_format
