"""A full-size network at initialization and the proxy pruned from it: the nets a learner trains
come from here.

:class:`PrunedPair` is a fitted learner's network state in one object: the unfitted full-size
skorch net (the template), both modules at initialization (on the CPU) and where every proxy
tensor sits inside the full-size one. It builds fresh proxies and fused networks, makes the
next pair after a T_sync step, and turns itself into plain data and back for checkpoints and
pickles, checking on the way back that pruning again reproduces the saved architecture.
"""

import copy
from dataclasses import dataclass

import torch
from torch import nn

from .architecture import count_parameters, embedding_layer, example_batch
from .fused_classifier import fused_net
from .fusion import fused_start_module, fusion_seeds, proxy_layers
from .net_snapshots import module_state
from .proxy_dropout import set_proxy_dropout
from .pruning import kept_indices_as_tensors, prune_again, prune_at_init
from .skorch_nets import initialized_module, proxy_net
from .sparse_embeddings import use_sparse_embeddings
from .sync import sync_full_network

__all__ = ["PrunedPair"]


@dataclass(frozen=True)
class PrunedPair:
    """The full-size network and its pruned proxy, both at initialization.

    Parameters
    ----------
    template : skorch.NeuralNetClassifier
        The unfitted full-size net whose settings every proxy and fused net copies.
    full_init : torch.nn.Module
        The full-size network at its initialization (or, after a T_sync step, trained), on the CPU.
    proxy_init : torch.nn.Module
        The proxy at its pruned initialization, on the CPU.
    kept_indices : dict of str to KeptIndices
        Where every proxy tensor sits inside the full-size tensor.
    output_layers : tuple of str
        The layers whose output units were protected from pruning.
    embedding_layer : str
        The output layer whose input is the penultimate embedding.
    vocabulary : ProxyVocabulary or None, default=None
        The token ids the proxy's input embedding keeps (None: all).

    Examples
    --------
    >>> import numpy as np
    >>> from prunefuse_sk.skorch_nets import initialized_module
    >>> from prunefuse_sk.networks import default_estimator
    >>> from prunefuse_sk.architecture import example_batch
    >>> template = default_estimator(64, 10)
    >>> full = initialized_module(template, seed=0)
    >>> X = np.zeros((4, 64), dtype=np.float32)
    >>> pair = PrunedPair.prune(
    ...     template, full, example_batch(X, "cpu"), pruning_ratio=0.5, random_state=0
    ... )
    >>> pair.n_params_proxy < pair.n_params_full, pair.embedding_layer
    (True, 'output')
    >>> pair.new_proxy({"max_epochs": 1}).max_epochs
    1
    """

    template: object
    full_init: nn.Module
    proxy_init: nn.Module
    kept_indices: dict
    output_layers: tuple
    embedding_layer: str
    vocabulary: object = None

    @classmethod
    def prune(cls, template, full_module, example_inputs, **pruning):
        """Prune ``full_module`` (untouched) into the pair's proxy.

        Parameters
        ----------
        template : skorch.NeuralNetClassifier
        full_module : torch.nn.Module
        example_inputs : torch.Tensor
            A small batch to trace the network with, on the module's device.
        **pruning
            ``pruning_ratio``, ``importance``, ``ignored_layers``, ``random_state``,
            ``vocabulary``, as in :func:`~prunefuse_sk.pruning.prune_at_init`.

        Returns
        -------
        pair : PrunedPair
        """
        return cls._of(
            template,
            full_module,
            prune_at_init(full_module, example_inputs, **pruning),
            pruning.get("vocabulary"),
        )

    @classmethod
    def _of(cls, template, full_module, pruned, vocabulary=None):
        return cls(
            template,
            copy.deepcopy(full_module).cpu(),
            copy.deepcopy(pruned.module).cpu(),
            pruned.kept_indices,
            tuple(pruned.output_layers),
            embedding_layer(full_module, pruned.output_layers),
            vocabulary,
        )

    @classmethod
    def from_state(cls, template, state, example_inputs, load, **pruning):
        """Rebuild the pair from :meth:`as_state`'s data: prune again and check the kept indices.

        Parameters
        ----------
        template : skorch.NeuralNetClassifier
        state : dict
            With the keys :meth:`as_state` writes.
        example_inputs : torch.Tensor
        load : callable
            ``load(module, weights, what)`` loads a state dict and says what did not match
            (:func:`~prunefuse_sk.net_snapshots.load_weights`).
        **pruning
            As in :meth:`prune`, with the saved seed.

        Returns
        -------
        pair : PrunedPair

        Raises
        ------
        CheckpointMismatchError
            If ``template`` or the pruning parameters build another network than the saved one.
        """
        full = load(
            initialized_module(template, seed=0), state["full_init"], "initial full-size network"
        )
        pruned = prune_again(
            full, example_inputs, state["kept_indices"], state["kept_shapes"], **pruning
        )
        load(pruned.module, state["proxy_init"], "initial proxy")
        return cls._of(template, full, pruned, pruning.get("vocabulary"))

    def as_state(self):
        """The pair as plain data: both initial state dicts, the kept-index maps, the output layers
        and the proxy's vocabulary.

        Returns
        -------
        state : dict
        """
        kept, kept_shapes = kept_indices_as_tensors(self.kept_indices)
        return {
            "full_init": module_state(self.full_init),
            "proxy_init": module_state(self.proxy_init),
            "kept_indices": kept,
            "kept_shapes": kept_shapes,
            "output_layers": list(self.output_layers),
            "embedding_layer": self.embedding_layer,
            **(self.vocabulary.as_state() if self.vocabulary is not None else {}),
        }

    @property
    def n_params_full(self):
        """int: parameters of the full-size network."""
        return count_parameters(self.full_init)

    @property
    def n_params_proxy(self):
        """int: parameters of the proxy."""
        return count_parameters(self.proxy_init)

    @property
    def vocabulary_ids(self):
        """ndarray of int64 or None: the token ids the proxy embeds, when not all of them."""
        return None if self.vocabulary is None else self.vocabulary.kept_ids

    def new_proxy(
        self, proxy_params=None, memory_format="auto", *, sparse_embeddings=False, dropout=None
    ):
        """An unfitted proxy net at its pruned initialization (a copy: the pair is never trained).

        Parameters
        ----------
        proxy_params : dict, default=None
            skorch parameter overrides.
        memory_format : {"auto", "channels_last", "contiguous"}, default="auto"
        sparse_embeddings : bool, default=False
            Train the embedding layers with sparse gradients
            (:func:`~prunefuse_sk.sparse_embeddings.use_sparse_embeddings`).
        dropout : float, default=None
            The rate of every dropout layer of the proxy
            (:func:`~prunefuse_sk.proxy_dropout.set_proxy_dropout`); None keeps the network's.

        Returns
        -------
        net : skorch.NeuralNetClassifier
        """
        module = set_proxy_dropout(copy.deepcopy(self.proxy_init), dropout)
        net = proxy_net(self.template, module, proxy_params, memory_format=memory_format)
        return use_sparse_embeddings(net) if sparse_embeddings else net

    def new_fused_net(
        self,
        proxy_module,
        *,
        classes,
        fuse_seed,
        seeded,
        fusion_init="reinit",
        fusion_layers="all",
        fusion_shrink=1.0,
        sparse_embeddings="none",
        fused_params=None,
        distillation_weight=0.0,
        temperature=4.0,
        memory_format="auto",
        start=None,
    ):
        """An unfitted fused net with the trained proxy's tensors in place, and the seed to train it
        with.

        Parameters
        ----------
        proxy_module : torch.nn.Module
            The trained proxy (also the distillation teacher).
        classes : ndarray
            The label of every output unit.
        fuse_seed : int
            The learner's fusion seed: the same seed gives the same net.
        seeded : bool
            ``False`` leaves the net's ``random_state`` at None (the learner had none).
        fusion_init, fusion_layers, fusion_shrink, sparse_embeddings, fused_params, \
distillation_weight, temperature, memory_format
            The learner's parameters of the same names, ``"auto"`` resolved (``fusion_layers``:
            :func:`~prunefuse_sk.fusion.proxy_layers`; ``fusion_shrink`` multiplies every
            parameter of the fused start; ``sparse_embeddings="all"`` trains the fused
            network's embedding layers with sparse gradients).
        start : torch.nn.Module, default=None
            A fused module to start from instead of writing ``proxy_module`` into the full network
            (a restored checkpoint's).

        Returns
        -------
        net : FusedNeuralNetClassifier
        train_seed : int
        """
        fresh_seed, train_seed, net_seed = fusion_seeds(fuse_seed, seeded=seeded)
        if start is None:
            start = fused_start_module(
                self.template,
                self.full_init,
                proxy_module,
                self.kept_indices,
                fusion_init=fusion_init,
                seed=fresh_seed,
                memory_format=memory_format,
                vocabulary=self.vocabulary,
                layers=proxy_layers(self.full_init, self.output_layers, fusion_layers),
            )
            if fusion_shrink != 1.0:
                with torch.no_grad():
                    for parameter in start.parameters():
                        parameter.mul_(fusion_shrink)
        net = fused_net(
            self.template,
            start,
            classes=classes,
            teacher_module=proxy_module,
            distillation_weight=distillation_weight,
            temperature=temperature,
            random_state=net_seed,
            memory_format=memory_format,
        )
        net = net.set_params(**fused_params) if fused_params else net
        if sparse_embeddings == "all":
            use_sparse_embeddings(net)
        return net, train_seed

    def synced(self, net, X, y, *, seed, **pruning):
        """T_sync: train the fused ``net`` on ``(X, y)`` and prune the trained network into the next
        pair.

        Parameters
        ----------
        net : FusedNeuralNetClassifier
            From :meth:`new_fused_net`; trained in place.
        X, y : ndarray
            The labelled set.
        seed : int
            Seed of the training run.
        **pruning
            As in :meth:`prune`.

        Returns
        -------
        pair : PrunedPair
            The trained full network and the proxy pruned from it.
        stats : dict
            ``seconds`` and ``epochs`` of the full network's training.
        """
        trained, pruned, stats = sync_full_network(
            net, X, y, seed=seed, example_inputs=example_batch(X, self.template.device), **pruning
        )
        return self._of(self.template, trained, pruned, pruning.get("vocabulary")), stats
