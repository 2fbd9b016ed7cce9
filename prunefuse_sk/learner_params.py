"""The learner's parameters: scikit-learn constraints, what each must be in an error's words, checks
across them.

:class:`~prunefuse_sk.PruneFuseActiveLearner` declares ``_parameter_constraints`` from
:data:`PARAMETERS` and calls :func:`check_learner_params` wherever a parameter may have
changed (``fit``, ``teach``, ``query``, ``fuse``, ``load``): scikit-learn validates each
constraint, the error names the parameter and says what it must be.
"""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from skorch import NeuralNetClassifier

from .accelerate_support import check_seed_for_processes
from .exceptions import InvalidParameterError
from .fused_stopping import FUSED_STOPPING
from .fusion import FUSION_INITS, FUSION_LAYERS
from .memory_format import MEMORY_FORMATS
from .parameter_checks import check_skorch_overrides, validate_params
from .proxy_learning_rate import resolve_proxy_lr_scale
from .proxy_vocabulary import check_proxy_vocabulary
from .pruning import IMPORTANCES
from .retraining import PROXY_RETRAIN
from .sparse_embeddings import SPARSE_EMBEDDINGS
from .strategies import get_strategy

__all__ = ["PARAMETERS", "CONSTRAINTS", "check_learner_params"]

#: every parameter: its scikit-learn constraints, and what it must be ("<name> must be ...")
PARAMETERS = {
    "estimator": (
        [NeuralNetClassifier, None],
        "an unfitted skorch.NeuralNetClassifier (or None for the default MLP)",
    ),
    "pruning_ratio": (
        [Interval(Real, 0, 1, closed="neither")],
        "a float in the open interval (0, 1) (0.5 removes "
        "half the channels of every layer, about 3/4 of the FLOPs; 0.7 about 9/10)",
    ),
    "importance": ([StrOptions(set(IMPORTANCES))], f"one of {IMPORTANCES}"),
    "ignored_layers": (["array-like", None], "a list of module names, or None"),
    "query_strategy": ("no_validation", ""),  # get_strategy raises UnknownStrategyError
    "proxy_params": ([dict, None], "a dict of skorch parameters, or None"),
    "proxy_retrain": ([StrOptions(set(PROXY_RETRAIN))], f"one of {PROXY_RETRAIN}"),
    "warm_epochs": (
        [Interval(Integral, 1, None, closed="left"), None],
        "a positive integer, or None (a third of the proxy's max_epochs)",
    ),
    # resolve_proxy_lr_scale raises InvalidParameterError
    "proxy_lr_scale": ("no_validation", ""),
    "proxy_dropout": (
        [Interval(Real, 0, 1, closed="left"), None],
        "None (the proxy keeps the network's dropout rates) or a float in [0, 1)",
    ),
    "fused_params": ([dict, None], "a dict of skorch parameters, or None"),
    "fusion_init": ([StrOptions(set(FUSION_INITS))], f"one of {FUSION_INITS}"),
    "fusion_layers": (
        [StrOptions({"auto", *FUSION_LAYERS})],
        f"one of {('auto', *FUSION_LAYERS)}",
    ),
    "fusion_shrink": (
        [Interval(Real, 0, 1, closed="right"), StrOptions({"auto"})],
        '"auto" or a float in (0, 1] (1.0 keeps the fused weights as fusion writes them)',
    ),
    "sparse_embeddings": ([StrOptions(set(SPARSE_EMBEDDINGS))], f"one of {SPARSE_EMBEDDINGS}"),
    # check_proxy_vocabulary raises ProxyVocabularyError
    "proxy_vocabulary": ("no_validation", ""),
    "unknown_id": (
        [Interval(Integral, 0, None, closed="left")],
        "a non-negative integer (the unknown token's id)",
    ),
    "fused_stopping": ([StrOptions(set(FUSED_STOPPING))], f"one of {FUSED_STOPPING}"),
    "distillation_weight": (
        [Interval(Real, 0, 1, closed="both")],
        "a float in [0, 1] (0 turns distillation off)",
    ),
    "temperature": ([Interval(Real, 0, np.inf, closed="neither")], "a positive float"),
    "sync_every": (
        [Interval(Integral, 0, None, closed="left")],
        "a non-negative integer (0 = never sync)",
    ),
    "scoring_memory": (
        [Interval(Real, 0, None, closed="neither"), None],
        "a positive number of MiB, or None",
    ),
    "memory_format": (
        [StrOptions(set(MEMORY_FORMATS))],
        f"one of {', '.join(map(repr, MEMORY_FORMATS))}",
    ),
    "random_state": (["random_state"], "None, an int in [0, 2**32 - 1] or a numpy RandomState"),
    "verbose": ([Interval(Integral, 0, None, closed="left")], "a non-negative integer"),
}
#: the learner's ``_parameter_constraints``
CONSTRAINTS = {name: constraints for name, (constraints, _) in PARAMETERS.items()}
_RULES = {name: rule for name, (_, rule) in PARAMETERS.items()}
# numeric parameters that refuse booleans (scikit-learn counts True as the integer 1)
_NO_BOOLS = (
    "scoring_memory",
    "pruning_ratio",
    "distillation_weight",
    "temperature",
    "sync_every",
    "verbose",
    "warm_epochs",
    "unknown_id",
    "fusion_shrink",
    "proxy_dropout",
)


def _check_not_a_module(estimator):
    """Refuse a bare torch module (its class or an instance) where a skorch net belongs, with the
    wrapping that makes it one."""
    is_class = isinstance(estimator, type) and issubclass(estimator, torch.nn.Module)
    if not (is_class or isinstance(estimator, torch.nn.Module)):
        return
    cls = estimator if is_class else type(estimator)
    got = f"the class {cls.__name__}" if is_class else f"an instance of {cls.__name__}"
    raise InvalidParameterError(
        f"estimator must be an unfitted skorch NeuralNetClassifier; got {got} (a "
        f"torch.nn.Module). Wrap {'it' if is_class else 'its class'}: "
        f"NeuralNetClassifier({cls.__name__}, criterion=torch.nn.CrossEntropyLoss, ...) "
        "(module__<argument>=... sets the module's constructor arguments; CrossEntropyLoss "
        "when the module returns logits)."
    )


def check_learner_params(learner):
    """Validate a learner's parameters: each against its constraints, then the checks across them.

    Parameters
    ----------
    learner : PruneFuseActiveLearner

    Raises
    ------
    InvalidParameterError
        Naming the parameter and what it must be.
    UnknownStrategyError
        If ``query_strategy`` is neither a built-in name nor a callable.
    ProxyVocabularyError
        If ``proxy_vocabulary`` is not a fraction in (0, 1], ``"auto"`` or None.
    """
    _check_not_a_module(learner.estimator)
    validate_params(learner, _RULES, no_bools=_NO_BOOLS)
    check_seed_for_processes(
        learner.estimator, learner.random_state
    )  # accelerate launch: same choices everywhere
    names = learner.ignored_layers
    if names is not None and not all(isinstance(name, str) for name in names):
        raise InvalidParameterError(
            f"ignored_layers must be a list of module names; got {names!r}."
        )
    check_skorch_overrides(
        "proxy_params", learner.proxy_params, "the proxy's module is the pruned full network"
    )
    check_skorch_overrides(
        "fused_params", learner.fused_params, "the fused network's module is the full network"
    )
    get_strategy(learner.query_strategy)
    check_proxy_vocabulary(learner.proxy_vocabulary)
    if learner.fusion_layers == "outer" and learner.fusion_init == "zero":
        raise InvalidParameterError(
            "fusion_layers='outer' starts the layers between the input and output layers as at a "
            "fresh start, and fusion_init='zero' would leave them all zero (dead units); pass "
            "fusion_init='reinit' or 'keep', or fusion_layers='all'."
        )
    resolve_proxy_lr_scale(learner.proxy_lr_scale, 0.5, token_ids=True)
