"""The proxy's vocabulary: a text proxy embeds only the most frequent token ids.

A text network's input embedding holds one row per id of the vocabulary, and pruning narrows
its width, never its rows. With the learner's ``proxy_vocabulary`` set, the proxy keeps only the
rows of the most frequent ids of the labelled set and the pool (the unknown id and the
embedding's padding id always among them); inside the proxy every other id maps to the unknown
id, by a forward pre-hook on the embedding that translates ids through a lookup table
(:class:`ProxyVocabulary`). The proxy's embedding, its optimizer state and the rows a dense
update writes all shrink to the kept fraction; the caller's ids are unchanged.

Fusion puts every kept row back at its id. Every dropped id behaved as the unknown id inside
the proxy, so its row takes the proxy's unknown-id vector: with ``fusion_init="zero"`` the
fused network computes exactly what the proxy computes.
"""

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np
import torch
from torch import nn

from .exceptions import ProxyVocabularyError
from .pools import as_pool
from .pruning import KeptIndices

__all__ = [
    "PROXY_VOCABULARY_MAP",
    "ProxyVocabulary",
    "check_proxy_vocabulary",
    "count_token_ids",
    "vocabulary_fraction",
]

#: the buffer of a restricted embedding layer that maps the caller's ids to the proxy's rows
PROXY_VOCABULARY_MAP = "proxy_vocabulary_map"

_WHAT_TO_PASS = (
    "Pass a fraction of the vocabulary in (0, 1] (0.5 keeps the most frequent half of the "
    "ids), 'auto' (1 - pruning_ratio), or None to keep every id."
)


def check_proxy_vocabulary(value):
    """Check the learner's ``proxy_vocabulary`` parameter.

    Parameters
    ----------
    value : object
        None, ``"auto"`` or a float in (0, 1].

    Raises
    ------
    ProxyVocabularyError
        If ``value`` is anything else; the message says what to pass.

    Examples
    --------
    >>> check_proxy_vocabulary(0.5)
    >>> check_proxy_vocabulary(1.5)
    Traceback (most recent call last):
        ...
    prunefuse_sk.exceptions.ProxyVocabularyError: proxy_vocabulary must be a fraction in (0, 1], 'auto' or None; got 1.5. Pass a fraction of the vocabulary in (0, 1] (0.5 keeps the most frequent half of the ids), 'auto' (1 - pruning_ratio), or None to keep every id.
    """  # noqa: E501
    if value is None or (isinstance(value, str) and value == "auto"):
        return
    is_fraction = isinstance(value, Real) and not isinstance(value, bool)
    if not (is_fraction and 0 < float(value) <= 1):
        raise ProxyVocabularyError(
            f"proxy_vocabulary must be a fraction in (0, 1], 'auto' or None; got {value!r}. "
            f"{_WHAT_TO_PASS}"
        )


def vocabulary_fraction(value, pruning_ratio):
    """The fraction of the vocabulary the proxy keeps, or None for all of it.

    Parameters
    ----------
    value : None, "auto" or float
        The learner's ``proxy_vocabulary``.
    pruning_ratio : float
        The learner's ``pruning_ratio``: ``"auto"`` keeps ``1 - pruning_ratio``.

    Returns
    -------
    fraction : float or None

    Examples
    --------
    >>> vocabulary_fraction("auto", 0.7)
    0.3...
    >>> vocabulary_fraction(None, 0.5) is None
    True
    """
    check_proxy_vocabulary(value)
    if value is None:
        return None
    return 1.0 - float(pruning_ratio) if value == "auto" else float(value)


def count_token_ids(n_ids, *pools, layer="embedding", batch_size=4096):
    """How often every token id occurs in some token-id arrays or pools.

    Parameters
    ----------
    n_ids : int
        The input embedding's ``num_embeddings``.
    *pools : array-like, torch.Tensor, sparse matrix, DataFrame or dask collection, or None
        Token ids of shape (n_samples, ...), read a batch at a time; None is skipped.
    layer : str, default="embedding"
        The embedding layer's name, for error messages.
    batch_size : int, default=4096
        Rows read at a time.

    Returns
    -------
    counts : ndarray of shape (n_ids,), dtype int64

    Raises
    ------
    TokenIdError
        If an array holds anything but integer ids in ``0 .. n_ids - 1``.

    Examples
    --------
    >>> count_token_ids(5, np.array([[2, 3, 0], [2, 1, 0]]))
    array([2, 1, 2, 1, 0])
    """
    counts = np.zeros(n_ids, dtype=np.int64)
    for data in pools:
        if data is None:
            continue
        pool = as_pool(data, name="X_pool")
        for batch in pool.batches(batch_size):
            ids = pool.to_tensor(batch, "cpu", token_input=(layer, n_ids), check_finite=False)
            counts += np.bincount(ids.reshape(-1).numpy(), minlength=n_ids)
    return counts


def _map_to_proxy_ids(layer, args, kwargs):
    """Forward pre-hook of a restricted embedding: the caller's ids to the proxy's rows."""
    mapping = getattr(layer, PROXY_VOCABULARY_MAP)
    if args:
        return (mapping[args[0]], *args[1:]), kwargs
    return args, {**kwargs, "input": mapping[kwargs["input"]]}


@dataclass(frozen=True)
class ProxyVocabulary:
    """The token ids a proxy's input embedding keeps, and how the others reach its unknown id.

    Parameters
    ----------
    layer : str
        The input embedding's name (as in ``named_modules()``).
    kept_ids : ndarray of int64
        The kept ids, sorted; the unknown id and the padding id among them.
    n_ids : int
        The full vocabulary's size (the full network's ``num_embeddings``).
    unknown_id : int
        The id every dropped id becomes inside the proxy.

    Examples
    --------
    >>> import numpy as np
    >>> vocabulary = ProxyVocabulary.from_counts(
    ...     "0", np.array([9, 0, 5, 1, 7, 0]), 0.5, unknown_id=1, padding_id=0
    ... )
    >>> vocabulary.kept_ids.tolist(), vocabulary.id_map().tolist()
    ([0, 1, 4], [0, 1, 1, 1, 2, 1])
    """

    layer: str
    kept_ids: np.ndarray
    n_ids: int
    unknown_id: int

    @classmethod
    def from_counts(cls, layer, counts, fraction, *, unknown_id, padding_id=None):
        """Keep the ``fraction`` of the ids that occur most often (ties: the smaller id first).

        Parameters
        ----------
        layer : str
        counts : ndarray of shape (n_ids,)
            From :func:`count_token_ids`.
        fraction : float
            In (0, 1]: the proxy embeds ``floor(fraction * n_ids)`` ids, the unknown and the
            padding id included (1 keeps every id).
        unknown_id : int
        padding_id : int, default=None
            The embedding's ``padding_idx``, always kept.

        Returns
        -------
        vocabulary : ProxyVocabulary

        Raises
        ------
        ProxyVocabularyError
            If ``unknown_id`` is not an id of the vocabulary, or the fraction keeps no token
            besides the unknown and the padding id.
        """
        counts = np.asarray(counts, dtype=np.int64)
        n_ids = len(counts)
        if not 0 <= unknown_id < n_ids:
            raise ProxyVocabularyError(
                f"unknown_id={unknown_id} is not an id of the input embedding '{layer}' (ids "
                f"0..{n_ids - 1}). Pass the id your tokenizer gives unknown tokens (TokenIds "
                "uses 1)."
            )
        special = sorted({unknown_id} | ({padding_id} if padding_id is not None else set()))
        n_tokens = math.floor(fraction * n_ids) - len(special)
        ranked = np.argsort(-counts, kind="stable")
        ranked = ranked[~np.isin(ranked, special)]
        if n_tokens < 1 or counts[ranked[0]] == 0:
            seen = int(np.count_nonzero(counts)) if n_tokens >= 1 else None
            reason = (
                "the labelled set and the pool hold no token besides the unknown and the padding id"
                if seen is not None
                else f"{fraction:g} of {n_ids:,} ids leaves no row for a token besides the "
                f"unknown{' and the padding' if padding_id is not None else ''} id"
            )
            raise ProxyVocabularyError(
                f"proxy_vocabulary={fraction:g} keeps no token: {reason}. {_WHAT_TO_PASS}"
            )
        kept = np.sort(np.concatenate([special, ranked[:n_tokens]])).astype(np.int64)
        return cls(layer, kept, n_ids, int(unknown_id))

    @property
    def proxy_unknown_id(self):
        """int: the unknown id's row in the proxy's embedding."""
        return int(np.searchsorted(self.kept_ids, self.unknown_id))

    def id_map(self):
        """The proxy's row for every id of the full vocabulary.

        Returns
        -------
        mapping : torch.LongTensor of shape (n_ids,)
        """
        mapping = torch.full((self.n_ids,), self.proxy_unknown_id, dtype=torch.long)
        mapping[torch.from_numpy(self.kept_ids)] = torch.arange(len(self.kept_ids))
        return mapping

    def restrict(self, module, kept_indices):
        """Cut the proxy's input embedding to the kept rows (in place) and record where they sit.

        Parameters
        ----------
        module : torch.nn.Module
            The pruned proxy; its layer ``layer`` must embed ``n_ids`` ids.
        kept_indices : dict of str to KeptIndices
            The proxy's kept-index record; the embedding weight's entry is replaced.

        Returns
        -------
        kept_indices : dict of str to KeptIndices
            A new record, with the kept rows on the weight's first dimension.
        """
        layer = module.get_submodule(self.layer)
        if not isinstance(layer, (nn.Embedding, nn.EmbeddingBag)) or (
            layer.num_embeddings != self.n_ids
        ):
            raise ProxyVocabularyError(
                f"The proxy vocabulary was built for an embedding '{self.layer}' of {self.n_ids} "
                f"ids, and the network's layer is {layer!r}. Fit the learner again."
            )
        rows = torch.from_numpy(self.kept_ids).to(layer.weight.device)
        with torch.no_grad():
            weight = layer.weight[rows].clone()
        layer.weight = nn.Parameter(weight, requires_grad=layer.weight.requires_grad)
        layer.num_embeddings = len(rows)
        if layer.padding_idx is not None:
            layer.padding_idx = int(np.searchsorted(self.kept_ids, layer.padding_idx))
        # not in the state dict: fusion and checkpoints see the embedding's weight only
        layer.register_buffer(
            PROXY_VOCABULARY_MAP, self.id_map().to(layer.weight.device), persistent=False
        )
        layer.register_forward_pre_hook(_map_to_proxy_ids, with_kwargs=True)
        name = f"{self.layer}.weight" if self.layer else "weight"
        record = dict(kept_indices)
        old = record[name]
        record[name] = KeptIndices(old.full_shape, (rows.cpu(), *old.indices[1:]))
        return record

    def fill_dropped_rows_(self, full_state, proxy_state, kept_indices):
        """Give every dropped id's row the proxy's unknown-id vector, at the proxy's columns.

        Parameters
        ----------
        full_state : dict of str to torch.Tensor
            The fused network's state dict (its tensors are written in place).
        proxy_state : dict of str to torch.Tensor
            The trained proxy's state dict.
        kept_indices : dict of str to KeptIndices
        """
        name = f"{self.layer}.weight" if self.layer else "weight"
        full = full_state[name]
        dropped = torch.ones(self.n_ids, dtype=torch.bool)
        dropped[torch.from_numpy(self.kept_ids)] = False
        rows = dropped.nonzero().view(-1, 1).to(full.device)
        columns = kept_indices[name].indices[1]
        if columns is None:
            columns = torch.arange(full.shape[1])
        unknown = proxy_state[name][self.proxy_unknown_id].detach()
        full[rows, columns.to(full.device).view(1, -1)] = unknown.to(full.device, full.dtype)

    def as_state(self):
        """The vocabulary as plain data, for checkpoints and pickles.

        Returns
        -------
        state : dict
        """
        return {
            "vocabulary_layer": self.layer,
            "vocabulary_kept_ids": self.kept_ids,
            "vocabulary_n_ids": self.n_ids,
            "vocabulary_unknown_id": self.unknown_id,
        }

    @classmethod
    def from_state(cls, state):
        """Rebuild the vocabulary from :meth:`as_state`'s data; None when the state has none.

        Parameters
        ----------
        state : dict

        Returns
        -------
        vocabulary : ProxyVocabulary or None
        """
        if state.get("vocabulary_kept_ids") is None:
            return None
        return cls(
            str(state["vocabulary_layer"]),
            np.asarray(state["vocabulary_kept_ids"], dtype=np.int64),
            int(state["vocabulary_n_ids"]),
            int(state["vocabulary_unknown_id"]),
        )
