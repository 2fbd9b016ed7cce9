"""Structured pruning at initialization, with a record of which channels were kept.

PruneFuse's first step: take the full-size network at its random initialization and
remove a fraction of the channels/neurons of every prunable layer, ranked by the norm
of their initial weights. The result is a physically smaller dense network of the
same topology. :func:`prune_at_init` does that with torch-pruning's dependency graph
(which keeps coupled channels -- residual adds, BatchNorm, conv -> flatten -> linear --
consistent) and records, for every parameter and buffer of the small network, the
exact positions of the full-size tensor it came from (:class:`KeptIndices`), so that
:mod:`prunefuse_sk.fusion` can write trained values back exactly; :func:`prune_again`
prunes once more and checks that it reproduces a saved record. What the network looks
like (its output layers, its input kind) is probed by :mod:`prunefuse_sk.architecture`.

How the positions are recorded: before each pruning group runs, every floating tensor
of the network is swapped for a float64 "tag" tensor holding its own flat positions;
torch-pruning's handlers slice the tags exactly as they would slice the weights, so the
surviving tags *are* the kept positions. The real values are then restored by the same
slicing. This works for any handler torch-pruning has (linear, conv, BatchNorm,
LayerNorm, embedding, LSTM, unwrapped parameters) without modelling each one.
"""

import copy
import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._random import as_random_state, draw_seed, torch_seed_scope
from .architecture import eval_forward, find_output_layers, output_tensors, unwrap_module
from .exceptions import (
    CheckpointMismatchError,
    HardCodedShapeError,
    InvalidParameterError,
    PruningError,
    UnprunedLayerWarning,
    UnsupportedArchitectureError,
)

__all__ = [
    "KeptIndices",
    "PrunedNetwork",
    "prune_at_init",
    "kept_indices_as_tensors",
    "kept_indices_mismatch",
    "prune_again",
    "IMPORTANCES",
]

IMPORTANCES = ("l2", "l1", "random")


@dataclass(frozen=True)
class KeptIndices:
    """Where one tensor of the proxy sits inside the full-size tensor.

    The kept block is the Cartesian product of the kept positions of every
    dimension, so :meth:`gather` and :meth:`scatter_` move values between the
    proxy-shaped and the full-size tensor exactly.

    Parameters
    ----------
    full_shape : tuple of int
        Shape of the tensor in the full-size network.
    indices : tuple
        One entry per dimension: a ``torch.LongTensor`` of the kept positions
        (sorted, in the proxy's order) or ``None`` where the dimension was not
        pruned. Empty for a 0-d tensor.

    Attributes
    ----------
    is_pruned : bool
        Whether any dimension was pruned.
    """

    full_shape: tuple
    indices: tuple

    @property
    def is_pruned(self):
        """bool: Whether any dimension was pruned."""
        return any(idx is not None for idx in self.indices)

    def index_grid(self, device=None):
        """Return broadcastable index tensors selecting the kept block of the full tensor.

        Parameters
        ----------
        device : str or torch.device, default=None
            Device the index tensors are moved to; ``None`` leaves them on
            their current device.

        Returns
        -------
        grid : tuple of torch.Tensor
            One ``LongTensor`` per dimension, shaped to broadcast along its
            own dimension only (``-1`` there, ``1`` elsewhere); an unpruned
            dimension gets ``arange(size)``. ``full_tensor[grid]`` is the
            proxy-shaped block.
        """
        grid = []
        ndim = len(self.full_shape)
        for dim, (size, idx) in enumerate(zip(self.full_shape, self.indices)):
            if idx is None:
                idx = torch.arange(size)
            shape = [1] * ndim
            shape[dim] = -1
            grid.append(idx.to(device).view(shape))
        return tuple(grid)

    def gather(self, full_tensor):
        """Return the kept block of ``full_tensor`` (proxy-shaped copy).

        Parameters
        ----------
        full_tensor : torch.Tensor of shape full_shape
            A tensor of the full-size network.

        Returns
        -------
        block : torch.Tensor
            A new tensor with the proxy's shape, on ``full_tensor``'s device,
            holding the kept entries; a clone of ``full_tensor`` when it is
            0-d.
        """
        if full_tensor.dim() == 0:
            return full_tensor.clone()
        return full_tensor[self.index_grid(full_tensor.device)].clone()

    def scatter_(self, full_tensor, values):
        """Write ``values`` (proxy-shaped) into the kept block of ``full_tensor`` in place.

        Parameters
        ----------
        full_tensor : torch.Tensor of shape full_shape
            The full-size tensor to update; entries outside the kept block are
            left untouched.
        values : torch.Tensor
            Values with the proxy's shape; cast to ``full_tensor``'s device and
            dtype.

        Returns
        -------
        full_tensor : torch.Tensor
            The same ``full_tensor``, modified in place.
        """
        if full_tensor.dim() == 0:
            full_tensor.copy_(values)
            return full_tensor
        full_tensor[self.index_grid(full_tensor.device)] = values.to(
            device=full_tensor.device, dtype=full_tensor.dtype
        )
        return full_tensor


@dataclass
class PrunedNetwork:
    """Result of :func:`prune_at_init`.

    Parameters
    ----------
    module : torch.nn.Module
        The small network (a pruned deep copy; the input module is untouched).
    kept_indices : dict of str to KeptIndices
        For every parameter and buffer name of ``module`` (as in ``state_dict``).
    output_layers : tuple of str
        Names of the layers whose output units were protected.
    pruned_layers : tuple of str
        Names of the layers that lost channels/neurons.
    """

    module: nn.Module
    kept_indices: dict
    output_layers: tuple
    pruned_layers: tuple


def _named_tensors(module):
    """Yield ``(name, tensor, owner, attr, is_param)`` for every parameter and buffer."""
    for owner_name, owner in module.named_modules():
        prefix = owner_name + "." if owner_name else ""
        for attr, param in owner._parameters.items():
            if param is not None:
                yield prefix + attr, param, owner, attr, True
        for attr, buf in owner._buffers.items():
            if buf is not None:
                yield prefix + attr, buf, owner, attr, False


def _set_tensor(owner, attr, is_param, value):
    if is_param:
        owner._parameters[attr].data = value
    else:
        owner._buffers[attr] = value


def _text_pruning_options(tp):
    """Let torch-pruning prune an embedding's dimension like channels (never its vocabulary).

    ``nn.Embedding`` becomes a root layer of a pruning group (torch-pruning knows how to
    prune it but does not start groups there by default); ``nn.EmbeddingBag``, which it
    does not know, gets a pruning function that removes columns of its weight.
    """

    class EmbeddingBagPruner(tp.pruner.function.BasePruningFunc):
        TARGET_MODULES = nn.EmbeddingBag

        def prune_out_channels(self, layer, idxs):
            keep = sorted(set(range(layer.embedding_dim)) - set(int(i) for i in idxs))
            layer.weight = self._prune_parameter_and_grad(layer.weight, keep, 1)
            layer.embedding_dim = len(keep)
            return layer

        prune_in_channels = prune_out_channels

        def get_out_channels(self, layer):
            return layer.embedding_dim

        def get_in_channels(self, layer):
            return layer.embedding_dim

    roots = [
        tp.ops.TORCH_CONV,
        tp.ops.TORCH_LINEAR,
        tp.ops.TORCH_LSTM,
        nn.Embedding,
        nn.EmbeddingBag,
    ]
    return {
        "root_module_types": roots,
        "customized_pruners": {nn.EmbeddingBag: EmbeddingBagPruner()},
    }


class _SeededRandomImportance:
    """Random channel scores from a CPU generator of its own: the same ranking on every device."""

    def __init__(self, seed):
        self.generator = torch.Generator(device="cpu")
        self.generator.manual_seed(int(seed) if seed is not None else torch.seed())

    @torch.no_grad()
    def __call__(self, group, **kwargs):
        _, idxs = group[0]
        return torch.rand(len(idxs), generator=self.generator)


# Layers pruning cannot shrink exactly, kept whole in the proxy: why, per type
_KEPT_WHOLE = (
    (
        nn.RNNBase,
        "torch-pruning cannot prune recurrent layers exactly; the embedding feeding one stays "
        "whole too",
    ),
    (nn.MultiheadAttention, "a narrower attention changes its 1/sqrt(head_dim) scaling"),
    (nn.LayerNorm, "a narrower LayerNorm normalizes over other values"),
)


def _layers_kept_whole(model, ignored_names):
    """Names of the layers pruning cannot shrink exactly (and are not already ignored); warns naming
    them.

    Recurrent layers (torch-pruning 1.6 fails on ``nn.LSTM`` and treats the weights of
    ``nn.GRU`` as loose parameters), ``nn.MultiheadAttention`` (with its output
    projection) and ``nn.LayerNorm`` keep their full width, and so does every channel
    coupled to them (a transformer's residual stream and its embeddings); the layers
    around them, e.g. a transformer's feed-forward width, are still pruned and fusion
    stays exact.
    """
    kept, reasons = [], {}
    for name, layer in model.named_modules():
        for kind, reason in _KEPT_WHOLE:
            if isinstance(layer, kind) and name not in ignored_names:
                kept.append(name)
                reasons.setdefault(reason, []).append(f"'{name}' ({type(layer).__name__})")
                if isinstance(layer, nn.MultiheadAttention):
                    kept.append(f"{name}.out_proj" if name else "out_proj")
    if reasons:
        details = "; ".join(f"{', '.join(names)}: {reason}" for reason, names in reasons.items())
        warnings.warn(
            "Keeping layers whole in the proxy, because pruning them would not be exact "
            f"({details}). The layers around them are still pruned and fusion stays exact. Add "
            "them to `ignored_layers` to silence this warning.",
            UnprunedLayerWarning,
            stacklevel=3,
        )
    return kept


def _make_importance(importance, seed=None):
    import torch_pruning as tp

    if importance == "l2":
        # the channel's own weights in its layer, as in the paper
        return tp.importance.MagnitudeImportance(p=2, group_reduction="first", normalizer=None)
    if importance == "l1":
        return tp.importance.MagnitudeImportance(p=1, group_reduction="first", normalizer=None)
    if importance == "random":
        return _SeededRandomImportance(seed)
    raise InvalidParameterError(
        f"importance must be one of {IMPORTANCES}; got {importance!r} instead."
    )


def _layer_names_of_group(group, module_names):
    """The named layers of a torch-pruning group (its internal nodes only when it has none)."""
    layers, nodes = [], []
    for dep, _ in group:
        target = dep.target.module
        names = layers if target in module_names else nodes
        name = module_names.get(target, getattr(dep.target, "name", repr(target)))
        if name not in names:
            names.append(name)
    return layers or nodes


class _NamedImportance:
    """Wraps an importance and remembers the layers of the group it scores last, for error
    messages."""

    def __init__(self, importance, module_names):
        self.importance, self.module_names, self.layers = importance, module_names, []

    def __call__(self, group, **kwargs):
        self.layers = _layer_names_of_group(group, self.module_names)
        return self.importance(group, **kwargs)


def _prune_group_tracking(model, group, origins, module_names):
    """Prune one group and update ``origins`` (flat full-size positions per tensor)."""
    tensors = list(_named_tensors(model))
    real, shapes = {}, {}
    for name, tensor, owner, attr, is_param in tensors:
        shapes[name] = tuple(tensor.shape)
        if tensor.is_floating_point():
            real[name] = tensor.detach().clone()
            tag = torch.arange(tensor.numel(), dtype=torch.float64, device=tensor.device)
            _set_tensor(owner, attr, is_param, tag.view(tensor.shape))
    try:
        group.prune()
    except Exception as exc:  # torch-pruning raises many kinds; name the layers involved
        for name, _tensor, owner, attr, is_param in tensors:
            if name in real:
                _set_tensor(owner, attr, is_param, real[name])
        layers = ", ".join(_layer_names_of_group(group, module_names))
        raise UnsupportedArchitectureError(
            f"torch-pruning failed while pruning the group of layer(s) {layers}: {exc}. "
            "Add the layer to `ignored_layers` to leave it unpruned."
        ) from exc
    for name, tensor, owner, attr, is_param in _named_tensors(model):
        if name in real:
            positions = tensor.detach().to(torch.long).reshape(-1).cpu()
            origins[name] = origins[name].reshape(-1)[positions].view(tuple(tensor.shape))
            restored = real[name].reshape(-1)[positions.to(real[name].device)]
            _set_tensor(owner, attr, is_param, restored.view(tuple(tensor.shape)))
        elif tuple(tensor.shape) != shapes.get(name):
            raise UnsupportedArchitectureError(
                f"torch-pruning changed the shape of the non-floating tensor '{name}', "
                "whose kept positions cannot be tracked. Add its layer to `ignored_layers`."
            )


def _check_widths_left(pruner, pruning_ratio, module_names):
    """torch-pruning silently skips a layer it would empty; say so instead."""
    groups = pruner.DG.get_all_groups(
        ignored_layers=pruner.ignored_layers, root_module_types=pruner.root_module_types
    )
    for group in groups:
        root = group[0].dep.target.module
        width = pruner.DG.get_out_channels(root)
        if width is not None and int(width * (1 - float(pruning_ratio))) < 1:
            name = module_names.get(root, root)
            if width <= 1:
                fix = (
                    f"No pruning_ratio keeps a channel of a layer this narrow: make '{name}' "
                    f"wider, or add '{name}' to `ignored_layers`."
                )
            else:
                # rounded down, so that the suggested ratio itself keeps one channel
                fix = (
                    "Use a pruning_ratio of at most "
                    f"{math.floor((1 - 1 / width) * 1000) / 1000:.3f}, a wider layer, or add "
                    f"'{name}' to `ignored_layers`."
                )
            raise PruningError(
                f"pruning_ratio={pruning_ratio} would leave layer '{name}' ({width} channels) with "
                f"0 channels. {fix}"
            )


def _kept_indices_from_origins(name, origin, full_shape):
    """Turn proxy-shaped flat positions into per-dimension kept indices."""
    if origin.dim() == 0:
        return KeptIndices(full_shape=tuple(full_shape), indices=())
    coords = np.unravel_index(origin.reshape(-1).numpy(), full_shape)
    indices = []
    for dim, size in enumerate(full_shape):
        along = coords[dim].reshape(tuple(origin.shape))
        take = [0] * origin.dim()
        take[dim] = slice(None)
        kept = torch.as_tensor(along[tuple(take)].copy(), dtype=torch.long)
        indices.append(
            None if len(kept) == size and bool((kept == torch.arange(size)).all()) else kept
        )
    record = KeptIndices(full_shape=tuple(full_shape), indices=tuple(indices))
    rebuilt = torch.arange(int(np.prod(full_shape))).view(full_shape)
    if not torch.equal(record.gather(rebuilt), origin):
        raise PruningError(
            f"The positions kept in '{name}' are not a structured (per-dimension) "
            "selection, so they cannot be fused back exactly."
        )
    return record


def _kept_indices_of(model, origins, full_shapes, pruning_ratio):
    """The kept indices of every tensor of the pruned ``model``, and the layers that lost channels.

    ``origins`` holds, per tensor, the flat full-size positions its entries came from
    (tracked by :func:`_prune_group_tracking`); ``full_shapes`` the full-size shapes.
    """
    kept, pruned_layers = {}, []
    for name, tensor, *_ in _named_tensors(model):
        if 0 in tensor.shape and 0 not in full_shapes[name]:
            raise PruningError(
                f"pruning_ratio={pruning_ratio} leaves '{name}' with no channels "
                f"(shape {tuple(tensor.shape)} from {full_shapes[name]}). Use a smaller "
                "pruning_ratio or add the layer to `ignored_layers`."
            )
        kept[name] = _kept_indices_from_origins(name, origins[name], full_shapes[name])
        layer = name.rsplit(".", 1)[0] if "." in name else ""
        if kept[name].is_pruned and layer not in pruned_layers:
            pruned_layers.append(layer)
    return kept, pruned_layers


def _resolve_ignored(model, ignored_layers):
    names = dict(model.named_modules())
    modules = []
    for name in ignored_layers:
        if name not in names:
            available = ", ".join(n for n in names if n) or "(none)"
            raise InvalidParameterError(
                f"ignored_layers names a layer '{name}' that the network does not have. "
                f"Its layers are: {available}."
            )
        modules.append(names[name])
    return modules


def prune_at_init(
    module,
    example_inputs,
    *,
    pruning_ratio=0.5,
    importance="l2",
    ignored_layers=None,
    random_state=None,
    vocabulary=None,
):
    """Prune a network at initialization and record where every kept weight came from.

    Removes ``pruning_ratio`` of the output channels/neurons of every prunable
    layer (uniformly per layer), ranked by ``importance`` on the current (initial)
    weights. Layers producing the network's outputs are detected and never lose
    output units. The input ``module`` is not modified.

    Parameters
    ----------
    module : torch.nn.Module
        The full-size network, typically at its random initialization; a parallel or
        compile wrapper around it is looked through
        (:func:`~prunefuse_sk.architecture.unwrap_module`).
    example_inputs : torch.Tensor or tuple or dict
        A small batch the module accepts, on the module's device; used to trace
        the dependency graph.
    pruning_ratio : float, default=0.5
        Fraction of channels/neurons removed from each prunable layer, in (0, 1).
    importance : {"l2", "l1", "random"}, default="l2"
        Channel ranking: L2 or L1 norm of the channel's weights, or random.
    ignored_layers : list of str, default=None
        Module names (as in ``named_modules()``) never pruned, in addition to
        the automatically protected output layers.
    random_state : int, RandomState instance or None, default=None
        Seeds ``"random"`` importance (drawn on the CPU, so the ranking is the same on
        every device) and tie-breaking in torch-pruning.
    vocabulary : ProxyVocabulary, default=None
        Also cut the input embedding to these token ids' rows
        (:class:`~prunefuse_sk.proxy_vocabulary.ProxyVocabulary`).

    Returns
    -------
    pruned : PrunedNetwork
        The small network and the kept positions of each of its tensors.

    Raises
    ------
    UnsupportedArchitectureError
        torch-pruning cannot trace or prune a layer; the message names it.
    HardCodedShapeError
        The pruned network fails a forward pass, typically because ``forward``
        hard-codes a width (``x.view(-1, 12 * 12 * 64)``).
    PruningError
        A layer would be left with zero channels.
    InvalidParameterError
        ``pruning_ratio`` is not in (0, 1), ``importance`` is unknown, or
        ``ignored_layers`` names a layer the network does not have.
    """
    import torch_pruning as tp

    if not isinstance(pruning_ratio, (float, int)) or not 0 < float(pruning_ratio) < 1:
        raise InvalidParameterError(
            f"pruning_ratio must be a float in (0, 1); got {pruning_ratio!r} instead."
        )
    _make_importance(importance)  # check the name before any work
    model = copy.deepcopy(unwrap_module(module))
    was_training = model.training
    output_layers = find_output_layers(model, example_inputs)
    ignored_names = list(dict.fromkeys(list(output_layers) + list(ignored_layers or [])))
    kept_whole = _layers_kept_whole(model, ignored_names)
    ignored_modules = _resolve_ignored(model, ignored_names + kept_whole)
    module_names = {m: n for n, m in model.named_modules()}

    full_shapes = {name: tuple(t.shape) for name, t, *_ in _named_tensors(model)}
    origins = {name: torch.arange(int(np.prod(s))).view(s) for name, s in full_shapes.items()}
    device = next((p.device for p in model.parameters()), None)
    seed = draw_seed(as_random_state(random_state))
    importance_obj = _make_importance(importance, seed)
    with torch_seed_scope(seed, device), warnings.catch_warnings():
        # torch-pruning's notice about the recurrent layers' own parameters: they are kept
        # whole (warned above)
        warnings.filterwarnings("ignore", message="Unwrapped parameters detected")
        try:
            pruner = tp.pruner.MetaPruner(
                model,
                example_inputs,
                importance=importance_obj,
                pruning_ratio=float(pruning_ratio),
                ignored_layers=ignored_modules,
                global_pruning=False,
                # recurrent layers are kept whole, and so are the embeddings that feed them
                **(
                    {}
                    if any(isinstance(m, nn.RNNBase) for m in model.modules())
                    else _text_pruning_options(tp)
                ),
            )
        except Exception as exc:  # tracing errors come in many types; say what failed
            raise UnsupportedArchitectureError(
                f"torch-pruning could not trace the network ({type(exc).__name__}: {exc}). "
                "Make forward() a plain tensor computation, or add the offending layer "
                "to `ignored_layers`."
            ) from exc
        _check_widths_left(pruner, pruning_ratio, module_names)
        ranking = pruner.importance = _NamedImportance(importance_obj, module_names)
        with torch.no_grad():
            try:
                for group in pruner.step(interactive=True):
                    _prune_group_tracking(model, group, origins, module_names)
            except PruningError:
                raise
            except Exception as exc:  # raised while torch-pruning ranks a group's channels
                raise UnsupportedArchitectureError(
                    "torch-pruning failed while ranking the channels of layer(s) "
                    f"{', '.join(ranking.layers)}: {type(exc).__name__}: {exc}. Add the layer to "
                    "`ignored_layers` to leave it unpruned."
                ) from exc
    model.train(was_training)

    kept, pruned_layers = _kept_indices_of(model, origins, full_shapes, pruning_ratio)
    if not pruned_layers:
        _warn_nothing_pruned(output_layers)
    if vocabulary is not None:
        kept = vocabulary.restrict(model, kept)
    _check_forward(model, example_inputs)
    return PrunedNetwork(
        module=model,
        kept_indices=kept,
        output_layers=tuple(output_layers),
        pruned_layers=tuple(pruned_layers),
    )


def _warn_nothing_pruned(output_layers):
    warnings.warn(
        "Pruning removed nothing: torch-pruning found no prunable channel outside the "
        f"protected output layers {list(output_layers)} (recurrent layers and parameters used "
        "outside nn.Linear/nn.Conv are not pruned). The proxy is as large as the full network.",
        UserWarning,
        stacklevel=3,
    )


def _batch_size(example_inputs):
    tensors = output_tensors(example_inputs)
    return tensors[0].shape[0] if tensors and tensors[0].dim() > 0 else None


def _check_forward(pruned, example_inputs):
    """Fail early, with the fix, when the pruned network cannot run."""
    try:
        outputs = output_tensors(eval_forward(pruned, example_inputs))
    except RuntimeError as exc:
        raise HardCodedShapeError(
            f"The pruned network fails on a forward pass ({exc}). Its forward() probably "
            "hard-codes a layer width that pruning changed, e.g. x.view(-1, 12*12*64); "
            "use x.flatten(1) or an nn.Flatten() layer instead."
        ) from exc
    n = _batch_size(example_inputs)
    if n is not None and outputs and outputs[0].dim() > 0 and outputs[0].shape[0] != n:
        raise HardCodedShapeError(
            f"The pruned network returns {outputs[0].shape[0]} rows for a batch of {n}: its "
            "forward() hard-codes a layer width that pruning changed, e.g. "
            "x.view(-1, 12*12*64). Use x.flatten(1) or an nn.Flatten() layer instead."
        )


# ------------------------------------------------------------- kept-index records
def kept_indices_as_tensors(kept_indices):
    """The kept-index maps as plain data: ``{"tensor:dim": index}`` plus each tensor's full shape.

    Parameters
    ----------
    kept_indices : dict of str to KeptIndices

    Returns
    -------
    indices : dict of str to torch.Tensor
        The kept positions of every pruned dimension, on the CPU.
    shapes : dict of str to list of int
        The full-size shape of every tensor.
    """
    indices = {}
    for name, kept in kept_indices.items():
        for dim, index in enumerate(kept.indices):
            if index is not None:
                indices[f"{name}:{dim}"] = index.detach().cpu()
    return indices, {name: list(kept.full_shape) for name, kept in kept_indices.items()}


def kept_indices_mismatch(kept_indices, indices, shapes):
    """The tensors whose kept positions differ from a record of :func:`kept_indices_as_tensors`.

    Parameters
    ----------
    kept_indices : dict of str to KeptIndices
        From a new pruning run.
    indices, shapes : dict
        The record to compare with.

    Returns
    -------
    names : list of str
        Empty when pruning reproduced the record exactly.
    """
    mismatch = sorted(set(kept_indices) ^ set(shapes))
    for name, kept in kept_indices.items():
        if name in mismatch:
            continue
        if list(kept.full_shape) != list(shapes[name]):
            mismatch.append(name)
            continue
        for dim, index in enumerate(kept.indices):
            saved = indices.get(f"{name}:{dim}")
            if (index is None) != (saved is None) or (
                index is not None and not torch.equal(index.cpu(), saved)
            ):
                mismatch.append(name)
                break
    return mismatch


def prune_again(module, example_inputs, indices, shapes, **prune_kwargs):
    """Prune ``module`` as before (same parameters and seed) and check it reproduces a kept-index
    record.

    Parameters
    ----------
    module : torch.nn.Module
        The full network, with the weights it had when it was first pruned.
    example_inputs : torch.Tensor
    indices, shapes : dict
        The record, from :func:`kept_indices_as_tensors`.
    **prune_kwargs
        ``pruning_ratio``, ``importance``, ``ignored_layers``, ``random_state``, as first used.

    Returns
    -------
    pruned : PrunedNetwork

    Raises
    ------
    CheckpointMismatchError
        If the kept positions differ (another estimator or other pruning parameters).
    """
    with warnings.catch_warnings():  # warnings about the architecture were given the first time
        warnings.simplefilter("ignore")
        pruned = prune_at_init(module, example_inputs, **prune_kwargs)
    mismatch = kept_indices_mismatch(pruned.kept_indices, indices, shapes)
    if mismatch:
        raise CheckpointMismatchError(
            "Pruning the restored network does not reproduce the saved proxy (differs at "
            f"{mismatch[:5]}). Pass the estimator and the pruning parameters (pruning_ratio, "
            "importance, ignored_layers) that were saved."
        )
    return pruned
