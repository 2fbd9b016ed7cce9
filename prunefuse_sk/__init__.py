"""prunefuse_sk: cheap deep active learning by pruning at init and fusing back (PruneFuse).

The public names are re-exported here; see :class:`PruneFuseActiveLearner`.

The re-exports are lazy (PEP 562): ``import prunefuse_sk`` imports nothing but the
version string, and the first access of a name (``prunefuse_sk.PruneFuseActiveLearner``,
``from prunefuse_sk import FeatureShapeError``) imports the module that defines it. So
``prunefuse-sk --version`` and ``--help`` answer without importing torch or
scikit-learn.
"""

import importlib
import importlib.util

from ._version import __version__

# every named error and warning of prunefuse_sk.exceptions (its __all__; tests/test_cli.py checks
# that the two lists agree), re-exported from there
_ERRORS = (
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
)

# public name -> the module (relative to this package) that defines it
_EXPORTS = {
    "PruneFuseActiveLearner": "learner",
    "FusedNeuralNetClassifier": "fused_classifier",
    "DistillationTeacher": "distillation",
    "default_estimator": "networks",
    "pipeline_query": "pipeline",
    "pipeline_teach": "pipeline",
    "prune_at_init": "pruning",
    "find_output_layers": "architecture",
    "count_parameters": "architecture",
    "build_fused_module": "fusion",
    "distillation_loss": "distillation",
    "LazyAdam": "sparse_embeddings",
    "ProxyVocabulary": "proxy_vocabulary",
    "KeptIndices": "pruning",
    "PrunedNetwork": "pruning",
    **{name: "exceptions" for name in _ERRORS},
}

__all__ = [name for name in _EXPORTS if name not in _ERRORS] + ["__version__", *_ERRORS]


def __getattr__(name):
    """Import a re-exported name (or a submodule) on its first access (PEP 562).

    Parameters
    ----------
    name : str
        A name of ``__all__`` or a submodule of the package (e.g. ``"exceptions"``).

    Returns
    -------
    value : object
        The class, function or module.
    """
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif not name.startswith("__") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__():
    """The module's names, the lazy re-exports included.

    Returns
    -------
    names : list of str
    """
    return sorted(set(globals()) | set(__all__))
