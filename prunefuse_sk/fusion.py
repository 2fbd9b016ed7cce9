"""Fusion: the trained proxy's weights back into the full-size network.

PruneFuse's last step copies every trained tensor of the small network into exactly the
positions of the full-size tensor it was cut from (see :class:`~prunefuse_sk.pruning.KeptIndices`),
and fills the remaining entries (``"reinit"``: a fresh draw of the full network's initializer,
``"keep"``: the initial values, ``"zero"``): :func:`build_fused_module`, and
:func:`fused_start_module` with a template net's fresh initialization and memory format;
:func:`fusion_seeds` draws the seeds of one fusion; :func:`outer_layers` names the layers
``fusion_layers="outer"`` takes from the proxy; :func:`resolve_fusion_shrink` says how much the
fused start is shrunk before training (``fusion_shrink``). The fused network is then trained as a
:class:`~prunefuse_sk.fused_classifier.FusedNeuralNetClassifier`, optionally distilling
from the proxy (:mod:`prunefuse_sk.distillation`).
"""

import copy

import torch

from ._random import as_random_state, draw_seed
from .accelerate_support import net_device
from .architecture import input_layer, unwrap_module
from .memory_format import apply_memory_format, check_memory_format, resolve_memory_format
from .skorch_nets import initialized_module

__all__ = [
    "FUSION_INITS",
    "FUSION_LAYERS",
    "build_fused_module",
    "fusion_seeds",
    "fused_start_module",
    "outer_layers",
    "proxy_layers",
    "resolve_fusion_layers",
    "resolve_fusion_shrink",
]

FUSION_INITS = ("reinit", "keep", "zero")
#: which layers of the fused network start from the proxy's trained tensors: every layer, the
#: input and output layers only (:func:`outer_layers`), or every layer but the output layer(s)
FUSION_LAYERS = ("all", "outer", "all-but-output")


def build_fused_module(
    initial_module,
    proxy_module,
    kept_indices,
    *,
    fusion_init="reinit",
    fresh_module=None,
    vocabulary=None,
    layers=None,
):
    """Write a trained proxy's tensors into a full-size network.

    Parameters
    ----------
    initial_module : torch.nn.Module
        The full-size network at the initialization the proxy was pruned from.
        Not modified.
    proxy_module : torch.nn.Module
        The trained small network (a ``DistributedDataParallel`` or compile wrapper
        around it is looked through).
    kept_indices : dict of str to KeptIndices
        From :func:`~prunefuse_sk.pruning.prune_at_init`.
    fusion_init : {"reinit", "keep", "zero"}, default="reinit"
        What the entries the proxy does not cover hold: ``fresh_module``'s
        values, ``initial_module``'s values, or zeros.
    fresh_module : torch.nn.Module, default=None
        A freshly initialized full-size network; required for ``"reinit"``.
    vocabulary : ProxyVocabulary, default=None
        The proxy's vocabulary, when it embeds only some token ids: the dropped ids' rows
        take the proxy's unknown-id vector at the proxy's columns
        (:class:`~prunefuse_sk.proxy_vocabulary.ProxyVocabulary`).
    layers : collection of str, default=None
        Names of the modules (as in ``named_modules()``) whose tensors are taken from the
        proxy; every other module is filled entirely per ``fusion_init``, as if the proxy
        covered none of it. None: every module (PruneFuse's fusion).

    Returns
    -------
    fused : torch.nn.Module
        A new full-size module on ``initial_module``'s device.
    """
    if fusion_init not in FUSION_INITS:
        raise ValueError(f"fusion_init must be one of {FUSION_INITS}; got {fusion_init!r} instead.")
    fused = copy.deepcopy(unwrap_module(initial_module))
    proxy_module = unwrap_module(proxy_module)
    state = fused.state_dict()  # tensors share storage with `fused`
    with torch.no_grad():
        if fusion_init == "reinit":
            if fresh_module is None:
                raise ValueError("fusion_init='reinit' needs a freshly initialized `fresh_module`.")
            for name, value in unwrap_module(fresh_module).state_dict().items():
                state[name].copy_(value)
        elif fusion_init == "zero":
            for tensor in state.values():
                tensor.zero_()
        for name, value in proxy_module.state_dict().items():
            if name not in kept_indices or name not in state:
                raise KeyError(
                    f"The proxy's tensor '{name}' has no recorded position in the full network; "
                    "was the proxy pruned from a different architecture?"
                )
            if layers is None or name.rpartition(".")[0] in layers:
                kept_indices[name].scatter_(state[name], value.detach())
        if vocabulary is not None:
            vocabulary.fill_dropped_rows_(state, proxy_module.state_dict(), kept_indices)
    return fused


def outer_layers(module, output_layers):
    """The modules ``fusion_layers="outer"`` takes from the proxy: the input and output layers.

    The input layer is :func:`~prunefuse_sk.architecture.input_layer` (a text network's
    ``nn.Embedding``); the output layers are those pruning protects
    (:func:`~prunefuse_sk.architecture.find_output_layers`).

    Parameters
    ----------
    module : torch.nn.Module
        The full-size network.
    output_layers : collection of str
        The names of its output layers.

    Returns
    -------
    names : frozenset of str

    Examples
    --------
    >>> from prunefuse_sk.networks import TextCNN
    >>> sorted(outer_layers(TextCNN(n_ids=50, n_classes=2), ["output"]))
    ['embedding', 'output']
    """
    first = input_layer(module)
    return frozenset(output_layers) | ({first[0]} if first is not None else set())


def proxy_layers(module, output_layers, fusion_layers):
    """The modules whose tensors the fused network takes from the proxy, per ``fusion_layers``.

    Parameters
    ----------
    module : torch.nn.Module
        The full-size network.
    output_layers : collection of str
        The names of its output layers (:func:`~prunefuse_sk.architecture.find_output_layers`).
    fusion_layers : {"all", "outer", "all-but-output"}
        ``"all"``: every module (PruneFuse's fusion); ``"outer"``: :func:`outer_layers`;
        ``"all-but-output"``: every module except the output layers, which then start as
        at a fresh start.

    Returns
    -------
    names : frozenset of str or None
        None stands for every module (``layers=None`` of :func:`build_fused_module`).

    Examples
    --------
    >>> from prunefuse_sk.networks import FastText
    >>> sorted(proxy_layers(FastText(n_ids=50, n_classes=2), ["output"], "all-but-output"))
    ['', 'embedding', 'hidden']
    >>> proxy_layers(FastText(n_ids=50, n_classes=2), ["output"], "all") is None
    True
    """
    if fusion_layers == "all":
        return None
    if fusion_layers == "outer":
        return outer_layers(module, output_layers)
    if fusion_layers == "all-but-output":
        return frozenset(name for name, _ in module.named_modules()) - set(output_layers)
    raise ValueError(
        f"fusion_layers must be one of {FUSION_LAYERS}; got {fusion_layers!r} instead."
    )


# ------------------------------------------------------------------ assembly
def resolve_fusion_layers(layers, *, n_ids, convolutional, fusion_init="reinit"):
    """The layers ``fusion_layers="auto"`` stands for; any other value is itself.

    ``"auto"`` is ``"all-but-output"`` for a convolutional network on ids (an input
    ``nn.Embedding``/``nn.EmbeddingBag`` and a convolution: ``TextCNN``, ``CharCNN``, Kim's
    CNN): the fused network takes every layer from the proxy except the output layer, which
    starts fresh (then shrunk with the rest, ``fusion_shrink``). It is ``"all"``, PruneFuse's
    fusion, for every other network (``FastText``-like bags of ids and networks on features,
    whose defaults were measured with it) and with ``fusion_init="zero"``, which exists to
    check that the fused network computes exactly what the proxy computes.

    Measured (``benchmarks/README.md``, 3 seeds, p = 0.5, 2,500 labels, the same sessions,
    the fused network trained several times from each start): a fresh output layer raised
    Kim's 300-d CNN on the side-by-side protocol from 0.7159 to 0.7213, ahead on every seed,
    and ``TextCNN`` was level on Reuters R8; ``FastText`` lost 1.2 points on 20 Newsgroups, on
    every seed. The proxy's output layer was fitted, to near-zero loss, on the same labels the
    fused network trains on; a fresh one makes the first epochs' gradients into the layers
    below those of a real training run instead of a small residual.

    Parameters
    ----------
    layers : {"auto", "all", "outer", "all-but-output"}
        The learner's ``fusion_layers``.
    n_ids : int or None
        The number of rows of the network's input embedding (None: it takes features).
    convolutional : bool
        Whether the network has a convolution.
    fusion_init : {"reinit", "keep", "zero"}, default="reinit"
        The learner's ``fusion_init``.

    Returns
    -------
    layers : {"all", "outer", "all-but-output"}

    Examples
    --------
    >>> resolve_fusion_layers("auto", n_ids=20002, convolutional=True)
    'all-but-output'
    >>> resolve_fusion_layers("auto", n_ids=20002, convolutional=False)
    'all'
    >>> resolve_fusion_layers("auto", n_ids=None, convolutional=True)
    'all'
    >>> resolve_fusion_layers("auto", n_ids=20002, convolutional=True, fusion_init="zero")
    'all'
    >>> resolve_fusion_layers("outer", n_ids=None, convolutional=False)
    'outer'
    """
    if layers != "auto":
        return layers
    fresh_output = n_ids is not None and convolutional and fusion_init != "zero"
    return "all-but-output" if fresh_output else "all"


def resolve_fusion_shrink(shrink, *, n_ids, fusion_init="reinit"):
    """The factor ``fusion_shrink="auto"`` stands for; a number is itself.

    ``"auto"`` is 0.5 for a network on ids (an input ``nn.Embedding``/``nn.EmbeddingBag``:
    words or characters), and 1.0, the fused start exactly as fusion writes it, for a network
    on features and with ``fusion_init="zero"``, which exists to check that the fused network
    computes exactly what the proxy computes.

    Measured (``benchmarks/README.md``, 3 seeds, p = 0.5, 2,500 labels): halving the fused
    start raised the fused word networks' accuracy on 20 Newsgroups from 0.657 to 0.671
    (``FastText``) and from 0.661 to 0.707 (``TextCNN``), on Reuters R8 from 0.958 to 0.965
    and from 0.957 to 0.965, and on the side-by-side protocol from 0.675 to 0.718; the
    character CNN's from 0.499 to 0.513 (20 Newsgroups) and from 0.951 to 0.957 (R8), every
    seed above the start as fused; all at the same selection cost. A network warm-started
    from weights fitted to the same labels generalizes worse than one trained from scratch
    (Ash & Adams, 2020); shrinking the start narrows the gap. On Animal-MNIST the image
    network was as accurate halved (0.9620 against 0.9613, inside the seed spread) but its
    fused training ran twice the epochs, a session of 0.266 of full-model AL's instead of
    0.203, so networks on features keep their start.

    Parameters
    ----------
    shrink : "auto" or float in (0, 1]
        The learner's ``fusion_shrink``.
    n_ids : int or None
        The number of rows of the network's input embedding (None: it takes features).
    fusion_init : {"reinit", "keep", "zero"}, default="reinit"
        The learner's ``fusion_init``.

    Returns
    -------
    shrink : float

    Examples
    --------
    >>> resolve_fusion_shrink("auto", n_ids=20002)
    0.5
    >>> resolve_fusion_shrink("auto", n_ids=29)
    0.5
    >>> resolve_fusion_shrink("auto", n_ids=None)
    1.0
    >>> resolve_fusion_shrink("auto", n_ids=20002, fusion_init="zero")
    1.0
    >>> resolve_fusion_shrink(0.25, n_ids=None)
    0.25
    """
    if not (isinstance(shrink, str) and shrink == "auto"):
        return float(shrink)
    return 0.5 if n_ids is not None and fusion_init != "zero" else 1.0


def fusion_seeds(fuse_seed, seeded=True):
    """The seeds of a fusion: the fresh init, the training run and the fused net's ``random_state``.

    All three come from one fixed stream, so fusing twice gives the same network.

    Parameters
    ----------
    fuse_seed : int
        The learner's fusion seed, drawn once at ``fit``.
    seeded : bool, default=True
        ``False`` leaves the fused net's ``random_state`` at None (the learner had none).

    Returns
    -------
    fresh_seed, train_seed : int
    net_seed : int or None
    """
    rng = as_random_state(fuse_seed)
    fresh_seed = draw_seed(rng)
    train_seed = draw_seed(as_random_state(draw_seed(rng)))
    net_seed = draw_seed(rng) if seeded else None
    return fresh_seed, train_seed, net_seed


def fused_start_module(
    template,
    full_init_module,
    proxy_module,
    kept_indices,
    *,
    fusion_init="reinit",
    seed=None,
    memory_format="auto",
    vocabulary=None,
    layers=None,
):
    """The fused full-size module before training: the proxy's tensors in place, the rest filled.

    The entries the proxy does not cover are filled per ``fusion_init``.

    Parameters
    ----------
    template : skorch.NeuralNetClassifier
        The full-size net's settings; for ``"reinit"`` a fresh copy is initialized on the CPU
        with ``seed`` (never prepared by an accelerator).
    full_init_module, proxy_module, kept_indices, fusion_init, vocabulary, layers
        As in :func:`build_fused_module`.
    seed : int, default=None
        Seed of the fresh initialization.
    memory_format : {"auto", "channels_last", "contiguous"}, default="auto"
        How the fused module's 4-D weights are stored, by
        :func:`~prunefuse_sk.memory_format.resolve_memory_format` for ``template``'s device. The
        values are the same in any format.

    Returns
    -------
    module : torch.nn.Module

    Raises
    ------
    InvalidParameterError
        If ``memory_format`` is not one of the accepted values.
    """
    memory_format = check_memory_format(memory_format)
    fresh = None
    if fusion_init == "reinit":
        fresh = initialized_module(template, seed, on_cpu=True)
    fused = build_fused_module(
        full_init_module,
        proxy_module,
        kept_indices,
        fusion_init=fusion_init,
        fresh_module=fresh,
        vocabulary=vocabulary,
        layers=layers,
    )
    memory_format = resolve_memory_format(fused, net_device(template), memory_format)
    return apply_memory_format(fused, memory_format)
