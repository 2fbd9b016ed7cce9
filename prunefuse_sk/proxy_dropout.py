"""The proxy's dropout: one rate for every dropout layer of the proxy, apart from the network's.

Pruning at ratio ``p`` keeps ``1 - p`` of every layer's units, and the proxy inherits the
full network's dropout layers at the full network's rates. The learner's ``proxy_dropout``
parameter sets every dropout layer of the proxy (``nn.Dropout`` and its kin, found by
:func:`~prunefuse_sk.architecture.dropout_layers`) to one rate, for the proxy only: the fused
network keeps the rates its module was built with, and fusion copies no dropout state (a
dropout layer has no parameters).

``None`` (the default) keeps the network's rates. What other rates did on the text protocols
is in :doc:`/text` ("Dropout in the proxy").
"""

from .architecture import dropout_layers
from .exceptions import InvalidParameterError

__all__ = ["proxy_dropout_layers", "set_proxy_dropout"]


def proxy_dropout_layers(module, proxy_dropout):
    """The dropout layers ``proxy_dropout`` sets in ``module`` (the proxy).

    Parameters
    ----------
    module : torch.nn.Module
        The proxy's module.
    proxy_dropout : float or None
        The learner's parameter: a rate in [0, 1), or ``None`` (nothing is set).

    Returns
    -------
    layers : list of torch.nn.Module
        Every dropout layer of ``module``; empty for ``None``.

    Raises
    ------
    InvalidParameterError
        If ``proxy_dropout`` is a rate and the module has no dropout layer to set.

    Examples
    --------
    >>> from torch import nn
    >>> proxy_dropout_layers(nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)), 0.1)
    [Dropout(p=0.5, inplace=False)]
    >>> proxy_dropout_layers(nn.Linear(4, 2), 0.25)
    Traceback (most recent call last):
    ...
    prunefuse_sk.exceptions.InvalidParameterError: proxy_dropout=0.25 sets the proxy's dropout ...
    """
    if proxy_dropout is None:
        return []
    layers = dropout_layers(module)
    if not layers:
        raise InvalidParameterError(
            f"proxy_dropout={proxy_dropout!r} sets the proxy's dropout layers, but the network "
            "has none (nn.Dropout and its kin; dropout called as a function in forward() "
            "cannot be set). Leave proxy_dropout=None, or add a dropout layer to the module."
        )
    return layers


def set_proxy_dropout(module, proxy_dropout):
    """Set every dropout layer of ``module`` (the proxy) to ``proxy_dropout``, in place.

    Parameters
    ----------
    module : torch.nn.Module
        The proxy's module.
    proxy_dropout : float or None
        The rate, in [0, 1); ``None`` leaves every layer as it is.

    Returns
    -------
    module : torch.nn.Module
        The same module.

    Raises
    ------
    InvalidParameterError
        As :func:`proxy_dropout_layers`.

    Examples
    --------
    >>> from torch import nn
    >>> proxy = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Linear(4, 2))
    >>> set_proxy_dropout(proxy, 0.25)[1].p
    0.25
    """
    for layer in proxy_dropout_layers(module, proxy_dropout):
        layer.p = float(proxy_dropout)
    return module
