"""Named exceptions and warnings raised by prunefuse_sk.

Each error subclasses the built-in (or scikit-learn) error a caller would
otherwise catch, so ``except ValueError`` keeps working while
``except FeatureShapeError`` is precise. Every message says what was wrong and
what to do about it; ``docs/errors.rst`` lists them all.
"""

try:  # scikit-learn's own class (ValueError and TypeError), so sklearn-style handlers catch ours
    from sklearn.utils._param_validation import (
        InvalidParameterError as _SklearnInvalidParameterError,
    )
except ImportError:  # pragma: no cover - private module moved in a future scikit-learn

    class _SklearnInvalidParameterError(ValueError, TypeError):
        pass


from sklearn.exceptions import NotFittedError

__all__ = [
    "InvalidParameterError",
    "UnknownStrategyError",
    "ProxyVocabularyError",
    "InvalidQuerySizeError",
    "FeatureShapeError",
    "NonFiniteInputError",
    "TokenIdError",
    "NonFiniteOutputError",
    "LengthMismatchError",
    "LabelMappingError",
    "OutputWidthError",
    "EmptyPoolError",
    "PoolTypeError",
    "SchedulerUnavailableError",
    "CellFailedError",
    "StrategyResultError",
    "PruningError",
    "UnsupportedArchitectureError",
    "HardCodedShapeError",
    "CheckpointError",
    "CheckpointVersionError",
    "CheckpointMismatchError",
    "UnsafeCheckpointError",
    "NotFittedError",
    "StaleProxyWarning",
    "UnprunedLayerWarning",
]


# ---------------------------------------------------------------- parameters
class InvalidParameterError(_SklearnInvalidParameterError):
    """A constructor or method parameter has a wrong type or value.

    Subclasses both ``ValueError`` and ``TypeError`` (as scikit-learn's own
    ``InvalidParameterError`` does), so either ``except`` catches it.
    """


class ProxyVocabularyError(InvalidParameterError):
    """``proxy_vocabulary`` is not a fraction in (0, 1], ``"auto"`` or None, keeps no token, or
    is set for a network whose input layer is not an embedding."""


class UnknownStrategyError(InvalidParameterError):
    """``query_strategy`` names no built-in strategy and is not callable."""


class InvalidQuerySizeError(InvalidParameterError):
    """``n``/``n_instances`` is not a positive integer or exceeds the pool."""


# ---------------------------------------------------------------------- data
class FeatureShapeError(ValueError):
    """Samples have the wrong number of dimensions or another shape than at ``fit``."""


class NonFiniteInputError(ValueError):
    """Samples or labels contain NaN or infinity."""


class TokenIdError(ValueError):
    """Input for a network whose input layer is an embedding is not integer token ids in its
    vocabulary."""


class PoolTypeError(TypeError):
    """A pool of a kind this use cannot take (a dict of tensors for built-in scoring, a pandas
    Series)."""


class SchedulerUnavailableError(ConnectionError):
    """The dask client chosen to compute a pool is closed or its scheduler does not answer.

    Raised within a bounded time (10 s by default, dask config
    ``prunefuse.scheduler-timeout``) before any of the pool is computed, so the learner is
    unchanged. A dask pool is never computed on this machine instead unless a local
    scheduler is asked for: ``dask.config.set(scheduler="threads")``.
    """


class CellFailedError(RuntimeError):
    """Cells of ``simulate(n_jobs=...)`` failed for good; the other cells' records are kept.

    ``failures`` lists ``(seed, method, error)`` per failed cell; ``results`` is the
    :class:`~prunefuse_sk.simulation.SimulationResults` of the cells that finished (also
    passed to ``callback`` one record at a time, as they ended).

    Parameters
    ----------
    message : str
        What failed, cell by cell.
    failures : sequence of tuple, default=()
        ``(seed, method name, error)`` per failed cell.
    results : SimulationResults, default=None
        The records and selections of the cells that finished.
    """

    def __init__(self, message, failures=(), results=None):
        super().__init__(message)
        self.failures = list(failures)
        self.results = results

    def __reduce__(self):
        return type(self), (self.args[0], self.failures, self.results)


class NonFiniteOutputError(ValueError):
    """The network produced NaN or infinity on finite input (diverged weights, float16 overflow)."""


class LengthMismatchError(ValueError):
    """``X`` and ``y`` have different numbers of rows."""


class LabelMappingError(ValueError):
    """Labels cannot be mapped onto the network's output units."""


class OutputWidthError(LabelMappingError):
    """The network's output width differs from the number of classes it must predict."""


class EmptyPoolError(ValueError):
    """``query`` was called on a pool with no rows left to choose from."""


class StrategyResultError(ValueError):
    """A query strategy returned indices that are out of range, duplicated, non-integer or too
    few."""


# ------------------------------------------------------------------- pruning
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


# --------------------------------------------------------------- checkpoints
class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated or not a prunefuse_sk checkpoint."""


class CheckpointVersionError(CheckpointError):
    """The checkpoint was written in a format version this release cannot read."""


class CheckpointMismatchError(CheckpointError):
    """The estimator given to ``load`` does not match the network that was saved."""


class UnsafeCheckpointError(CheckpointError):
    """The checkpoint holds Python objects where only tensors, arrays or JSON belong.

    Raised *before* anything in it is executed: the file was tampered with or
    was not written by :meth:`PruneFuseActiveLearner.save`.
    """


# ------------------------------------------------------------------ warnings
class StaleProxyWarning(UserWarning):
    """The proxy was not retrained on the latest labels (an earlier retraining failed).

    Call ``learner.refit()`` (or ``learner.teach()`` with no data) to retry.
    """


class UnprunedLayerWarning(UserWarning):
    """A layer the pruning cannot handle exactly (e.g. ``nn.LSTM``/``nn.GRU``) is kept whole in the
    proxy.

    The warning names the layers. The proxy still works and fuses exactly; it is only
    larger than ``pruning_ratio`` suggests. Add the layers to ``ignored_layers`` to say
    that this is intended and silence the warning.
    """
