"""prunefuse_sk: cheap deep active learning by pruning at init and fusing back (PruneFuse).

The public names are re-exported here; see :class:`PruneFuseActiveLearner`.
"""

from . import exceptions
from ._version import __version__
from .architecture import count_parameters, find_output_layers
from .distillation import DistillationTeacher, distillation_loss
from .exceptions import *  # noqa: F401,F403 - every named error, listed in exceptions.__all__
from .fused_classifier import FusedNeuralNetClassifier
from .fusion import build_fused_module
from .learner import PruneFuseActiveLearner
from .networks import default_estimator
from .pipeline import pipeline_query, pipeline_teach
from .pruning import KeptIndices, PrunedNetwork, prune_at_init

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
    "__version__",
] + list(exceptions.__all__)
