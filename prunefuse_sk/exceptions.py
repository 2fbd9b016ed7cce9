"""Named exceptions raised by prunefuse_sk.

Each subclasses the built-in error a caller would otherwise catch, so
``except ValueError`` keeps working while ``except PruningError`` is precise.
"""

__all__ = [
    "PruningError",
    "UnsupportedArchitectureError",
    "HardCodedShapeError",
    "EmptyPoolError",
    "LabelMappingError",
]


class PruningError(ValueError):
    """Structured pruning could not produce a valid proxy network."""


class UnsupportedArchitectureError(PruningError):
    """Raised when torch-pruning could not trace or prune a layer of the network.

    The message names the layer; adding it to ``ignored_layers`` usually
    works around the problem.
    """


class HardCodedShapeError(PruningError):
    """The network's ``forward`` hard-codes a width that pruning changed.

    Typical cause: ``x.view(-1, 12 * 12 * 64)``; use ``x.flatten(1)`` or an
    ``nn.Flatten()`` layer instead.
    """


class EmptyPoolError(ValueError):
    """``query`` was called on a pool with no rows left to choose from."""


class LabelMappingError(ValueError):
    """Labels cannot be mapped onto the network's output units."""
