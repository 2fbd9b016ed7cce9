"""The proxy's learning rate: scaled with its width where a narrower proxy learns too slowly.

One optimizer step moves a unit's pre-activation by about the learning rate times the number
of inputs it sums (with Adam each weight moves by about the learning rate whatever its
gradient's scale; with SGD each weight's step is proportional to its input). A proxy pruned
at ratio ``p`` keeps ``1 - p`` of every layer's inputs, so at the full network's learning
rate its function moves ``1 - p`` times as fast, and in the user's number of epochs it
learns less from the same labels than the full network would.

On text this is what made our proxy trail. On 20 Newsgroups (the side-by-side protocol of
``benchmarks/bench_text_peer.py``: TextCNN 300-d, 100 filters, Adam 1e-3, 10 epochs, seed
0), the p = 0.5 proxy reached 0.168 test accuracy on 500 random labels where the full
network reached 0.293; at twice the learning rate it reached 0.279 in the same number of
steps (twice the epochs: 0.294, at twice the cost). ``proxy_lr_scale="auto"`` multiplies the
proxy's learning rate by ``1 / (1 - pruning_ratio)`` for networks whose input layer is an
``nn.Embedding``/``nn.EmbeddingBag``, and keeps the user's rate for networks on features,
whose defaults were measured without it (``benchmarks/README.md``). The fused network
always trains at the user's rate.
"""

from numbers import Real

from .exceptions import InvalidParameterError

__all__ = ["proxy_lr_overrides", "resolve_proxy_lr_scale"]


def resolve_proxy_lr_scale(proxy_lr_scale, pruning_ratio, *, token_ids):
    """The factor the proxy's learning rate is multiplied by.

    Parameters
    ----------
    proxy_lr_scale : "auto" or float
        The learner's parameter: ``"auto"``, or a positive factor used as given.
    pruning_ratio : float
        Fraction of the channels pruning removes, in (0, 1).
    token_ids : bool
        Whether the network's input layer is an embedding of token ids.

    Returns
    -------
    scale : float
        ``1 / (1 - pruning_ratio)`` for ``"auto"`` on token ids, 1.0 for ``"auto"`` on
        features, else ``proxy_lr_scale``.

    Raises
    ------
    InvalidParameterError
        If ``proxy_lr_scale`` is neither ``"auto"`` nor a positive finite number.

    Examples
    --------
    >>> resolve_proxy_lr_scale("auto", 0.5, token_ids=True)
    2.0
    >>> resolve_proxy_lr_scale("auto", 0.5, token_ids=False)
    1.0
    >>> resolve_proxy_lr_scale(1.5, 0.7, token_ids=False)
    1.5
    """
    if isinstance(proxy_lr_scale, str) and proxy_lr_scale == "auto":
        return 1.0 / (1.0 - pruning_ratio) if token_ids else 1.0
    if (
        isinstance(proxy_lr_scale, bool)
        or not isinstance(proxy_lr_scale, Real)
        or not 0 < proxy_lr_scale < float("inf")
    ):
        raise InvalidParameterError(
            f"proxy_lr_scale must be 'auto' or a positive number (1.0 keeps the network's "
            f"learning rate for the proxy); got {proxy_lr_scale!r} instead."
        )
    return float(proxy_lr_scale)


def proxy_lr_overrides(estimator, proxy_params, scale):
    """The skorch overrides that give the proxy ``scale`` times the network's learning rate.

    Parameters
    ----------
    estimator : skorch.NeuralNetClassifier
        The user's (unfitted) full-size net: its ``lr`` is the rate that is scaled.
    proxy_params : dict or None
        The learner's ``proxy_params``. When it sets ``lr`` the user has chosen the proxy's
        rate, and nothing is overridden.
    scale : float
        From :func:`resolve_proxy_lr_scale`.

    Returns
    -------
    overrides : dict
        Empty, or ``{"lr": ...}``.

    Examples
    --------
    >>> from skorch import NeuralNetClassifier
    >>> from prunefuse_sk.networks import MLP
    >>> net = NeuralNetClassifier(MLP, lr=0.001)
    >>> proxy_lr_overrides(net, None, 2.0)
    {'lr': 0.002}
    >>> proxy_lr_overrides(net, {"lr": 0.01}, 2.0)
    {}
    """
    if scale == 1.0 or "lr" in (proxy_params or {}):
        return {}
    return {"lr": estimator.lr * scale}
