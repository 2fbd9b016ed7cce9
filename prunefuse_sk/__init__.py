"""prunefuse_sk: cheap deep active learning by pruning at init and fusing back (PruneFuse).

The public names are re-exported here; see :class:`PruneFuseActiveLearner`.
"""

__version__ = "0.1.0"

from .exceptions import (
    CheckpointError,
    CheckpointMismatchError,
    CheckpointVersionError,
    EmptyPoolError,
    FeatureShapeError,
    HardCodedShapeError,
    InvalidParameterError,
    InvalidQuerySizeError,
    LabelMappingError,
    LengthMismatchError,
    NonFiniteInputError,
    OutputWidthError,
    PruningError,
    StaleProxyWarning,
    StrategyResultError,
    UnknownStrategyError,
    UnsafeCheckpointError,
    UnsupportedArchitectureError,
)
from .fusion import DistillationTeacher, FusedNeuralNetClassifier, build_fused_module, distillation_loss
from .learner import PruneFuseActiveLearner, default_estimator
from .pipeline import pipeline_query, pipeline_teach
from .pruning import KeptIndices, PrunedNetwork, count_parameters, find_output_layers, prune_at_init

__all__ = [
    "PruneFuseActiveLearner",
    "FusedNeuralNetClassifier",
    "DistillationTeacher",
    "default_estimator",
    "pipeline_query",
    "pipeline_teach",
    "prune_at_init",
    "find_output_layers",
    "count_parameters",
    "build_fused_module",
    "distillation_loss",
    "KeptIndices",
    "PrunedNetwork",
    "InvalidParameterError",
    "UnknownStrategyError",
    "InvalidQuerySizeError",
    "FeatureShapeError",
    "NonFiniteInputError",
    "LengthMismatchError",
    "LabelMappingError",
    "OutputWidthError",
    "EmptyPoolError",
    "StrategyResultError",
    "PruningError",
    "UnsupportedArchitectureError",
    "HardCodedShapeError",
    "CheckpointError",
    "CheckpointVersionError",
    "CheckpointMismatchError",
    "UnsafeCheckpointError",
    "StaleProxyWarning",
    "__version__",
]
