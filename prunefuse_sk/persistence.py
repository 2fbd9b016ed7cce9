"""Checkpoints of a learner that load without executing code, written atomically.

A checkpoint is one zip file (conventionally ``*.pfsk``) holding

* ``checkpoint.json``: the format name and version, library versions, the
  learner's JSON-able parameters and its scalar state (seeds, history, ...);
* ``arrays/<name>.npy``: the labelled set, its provenance, ``classes_`` and the
  random stream, read back with ``np.load(allow_pickle=False)``;
* ``tensors/<name>.pt``: state dicts (initial full weights, proxy weights and
  optimizer state, kept-index maps, fused weights), read back with
  ``torch.load(weights_only=True)``.

Nothing in the file is unpickled as arbitrary Python objects: a tampered file
is refused with :class:`~prunefuse_sk.exceptions.UnsafeCheckpointError` before
any of it runs. The network's *code* is not stored; as with skorch's
``load_params``, the caller passes the unfitted estimator again. The proxy's
architecture is rebuilt by pruning the restored initial network with the saved
seed, and checked against the saved kept-index maps.
"""

import copy
import io
import json
import os
import pickle
import tempfile
import warnings
import zipfile

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from . import __version__
from ._random import torch_seed_scope
from .exceptions import (
    CheckpointError,
    CheckpointMismatchError,
    CheckpointVersionError,
    InvalidParameterError,
    UnsafeCheckpointError,
)
from .labelled import LabelledSet, QueryRecord
from .pruning import count_parameters, prune_at_init

__all__ = ["FORMAT", "FORMAT_VERSION", "save_learner", "load_learner", "write_checkpoint", "read_checkpoint"]

FORMAT = "prunefuse_sk.checkpoint"
FORMAT_VERSION = 1
_META = "checkpoint.json"
_RANDOM_STATE_INSTANCE = "<numpy RandomState, restored from the saved stream>"


# ------------------------------------------------------------------ the file
def write_checkpoint(path, metadata, arrays, tensors):
    """Write a checkpoint file atomically (temporary file, fsync, rename).

    Parameters
    ----------
    path : str or os.PathLike
        Destination; replaced only once the new file is complete.
    metadata : dict
        JSON-serialisable metadata; ``format`` and ``format_version`` are added.
    arrays : dict of str to ndarray
        Saved with ``np.save(allow_pickle=False)``: object arrays are refused.
    tensors : dict of str to dict
        State dicts (tensors, numbers, lists, dicts), saved with ``torch.save``.

    Returns
    -------
    path : str
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION, **metadata}
    metadata["arrays"] = sorted(arrays)
    metadata["tensors"] = sorted(tensors)
    meta_bytes = json.dumps(metadata, indent=1, allow_nan=True).encode()
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
                archive.writestr(_META, meta_bytes)
                for name, array in arrays.items():
                    with archive.open(f"arrays/{name}.npy", "w", force_zip64=True) as member:
                        np.save(member, np.asarray(array), allow_pickle=False)
                for name, state in tensors.items():
                    buffer = io.BytesIO()
                    torch.save(state, buffer)
                    archive.writestr(f"tensors/{name}.pt", buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_directory(directory)
    return path


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not supported on this platform
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_checkpoint(path):
    """Read a checkpoint without executing anything in it.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    metadata : dict
    arrays : dict of str to ndarray
    tensors : dict of str to dict

    Raises
    ------
    CheckpointError
        Missing, truncated or corrupt file, or not a prunefuse_sk checkpoint.
    CheckpointVersionError
        Written in a format version this release does not read.
    UnsafeCheckpointError
        A member holds pickled Python objects where arrays or tensors belong.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"No checkpoint file at {path!r}. Check the path; save one with learner.save(path).")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if _META not in names:
                raise CheckpointError(
                    f"{path!r} is a zip file but not a prunefuse_sk checkpoint (no {_META}). "
                    "Pass a file written by PruneFuseActiveLearner.save()."
                )
            metadata = _read_metadata(path, archive.read(_META))
            arrays = {name: _read_array(path, archive, name, names) for name in metadata.get("arrays", [])}
            tensors = {name: _read_tensors(path, archive, name, names) for name in metadata.get("tensors", [])}
    except zipfile.BadZipFile as exc:
        raise CheckpointError(
            f"{path!r} is not a readable prunefuse_sk checkpoint ({exc}): the file is truncated, corrupt or of "
            "another kind. Load an earlier checkpoint, or save again."
        ) from exc
    return metadata, arrays, tensors


def _read_metadata(path, raw):
    try:
        metadata = json.loads(raw.decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"The metadata of {path!r} is not valid JSON ({exc}); the file is corrupt.") from exc
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path!r} is not a prunefuse_sk checkpoint (format {metadata.get('format')!r}).")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointVersionError(
            f"{path!r} was written in checkpoint format version {version!r} (by prunefuse_sk "
            f"{metadata.get('library_version', '?')}); prunefuse_sk {__version__} reads version {FORMAT_VERSION}. "
            "Load it with the prunefuse_sk release that wrote it."
        )
    return metadata


def _member(path, archive, member, names):
    if member not in names:
        raise CheckpointError(f"{path!r} lacks {member!r}: the checkpoint is incomplete. Load an earlier one.")
    return archive.read(member)


def _read_array(path, archive, name, names):
    raw = _member(path, archive, f"arrays/{name}.npy", names)
    try:
        return np.load(io.BytesIO(raw), allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise UnsafeCheckpointError(
                f"Refused to load arrays/{name}.npy of {path!r}: it holds pickled Python objects, which could run "
                "code. A prunefuse_sk checkpoint holds plain arrays only; this file was altered or not written by "
                "save(). Nothing in it was executed."
            ) from exc
        raise CheckpointError(f"arrays/{name}.npy of {path!r} is not a valid array ({exc}).") from exc


def _read_tensors(path, archive, name, names):
    raw = _member(path, archive, f"tensors/{name}.pt", names)
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickle protocols before refusing them
            warnings.simplefilter("ignore")
            return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"Refused to load tensors/{name}.pt of {path!r}: it holds Python objects other than tensors, which "
            "could run code (torch.load(weights_only=True) rejected it). This file was altered or not written by "
            "save(); nothing in it was executed."
        ) from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(f"tensors/{name}.pt of {path!r} is not a valid tensor file ({exc}).") from exc


# ------------------------------------------------------------ learner state
def _cpu_state(state_dict):
    return {key: value.detach().cpu() for key, value in state_dict.items()}


def _json_value(value):
    """``value`` if it survives a JSON round trip unchanged in meaning, else raise TypeError."""

    def default(obj):
        if isinstance(obj, np.generic):
            return obj.item()
        raise TypeError(type(obj).__name__)

    text = json.dumps(value, default=default, allow_nan=True)
    return json.loads(text)


def _describe(value):
    name = getattr(value, "__qualname__", None) or type(value).__qualname__
    module = getattr(value, "__module__", None) or type(value).__module__
    return f"{module}.{name}"


def _estimator_description(estimator):
    if estimator is None:
        return None
    module = estimator.get_params(deep=False).get("module")
    module_name = module.__name__ if isinstance(module, type) else type(module).__name__
    return {"class": type(estimator).__name__, "module": module_name}


def _savable_labels(values, what):
    values = np.asarray(values)
    if values.dtype == object:
        if all(isinstance(v, str) for v in values.ravel()):
            return values.astype(str)
        raise CheckpointError(
            f"The {what} have dtype object, which cannot be stored without pickle. Use integer or string labels "
            "(e.g. y.astype(str)) and fit again, or pickle the learner (trusted sources only)."
        )
    return values


def save_learner(learner, path):
    """Write ``learner`` to ``path`` (see :meth:`PruneFuseActiveLearner.save`).

    Parameters
    ----------
    learner : PruneFuseActiveLearner
        A fitted learner.
    path : str or os.PathLike

    Returns
    -------
    path : str
    """
    check_is_fitted(learner, "classes_")
    params, not_saved = {}, {}
    for name, value in learner.get_params(deep=False).items():
        if name == "estimator":
            continue
        if name == "random_state" and isinstance(value, np.random.RandomState):
            params[name] = _RANDOM_STATE_INSTANCE
            continue
        try:
            params[name] = _json_value(value)
        except (TypeError, ValueError):
            not_saved[name] = _describe(value) if callable(value) else repr(value)[:200]

    labelled = learner._labelled
    rng_name, rng_keys, rng_pos, rng_has_gauss, rng_gauss = learner._rng.get_state()
    arrays = {
        "X": labelled.X,
        "y": _savable_labels(labelled.y, "labels"),
        "y_encoded": labelled.y_encoded,
        "rounds": labelled.rounds,
        "scores": labelled.scores,
        "classes": _savable_labels(learner.classes_, "classes"),
        "rng_keys": rng_keys,
    }
    last_query = learner.__dict__.get("_last_query")
    if last_query is not None:
        arrays["last_query_rows"] = last_query.rows
        arrays["last_query_scores"] = last_query.scores

    kept = {}
    for name, kept_indices in learner.kept_indices_.items():
        for dim, index in enumerate(kept_indices.indices):
            if index is not None:
                kept[f"{name}:{dim}"] = index.detach().cpu()
    tensors = {
        "full_init": _cpu_state(learner.full_init_module_.state_dict()),
        "proxy_init": _cpu_state(learner.proxy_init_module_.state_dict()),
        "kept_indices": kept,
    }
    proxy = learner.__dict__.get("proxy_")
    if proxy is not None:
        tensors["proxy"] = _cpu_state(proxy.module_.state_dict())
        optimizer = getattr(proxy, "optimizer_", None)
        if optimizer is not None:
            tensors["proxy_optimizer"] = optimizer.state_dict()
        if hasattr(proxy, "classes_inferred_"):
            arrays["proxy_classes_inferred"] = _savable_labels(proxy.classes_inferred_, "proxy classes")
    fused = learner.__dict__.get("fused_")
    if fused is not None:
        tensors["fused_init"] = _cpu_state(fused.module.state_dict())
        tensors["fused"] = _cpu_state(fused.module_.state_dict())

    metadata = {
        "library_version": __version__,
        "torch_version": torch.__version__,
        "params": params,
        "params_not_saved": not_saved,
        "estimator": _estimator_description(learner.estimator),
        "state": {
            "sample_shape": list(learner._sample_shape),
            "n_features_in": getattr(learner, "n_features_in_", None),
            "output_layers": list(learner.output_layers_),
            "embedding_layer": learner.embedding_layer_,
            "kept_shapes": {name: list(k.full_shape) for name, k in learner.kept_indices_.items()},
            "prune_seed": learner._prune_seed,
            "fuse_seed": learner._fuse_seed,
            "proxy_n_labels": learner._proxy_n_labels,
            "proxy_stale": bool(learner.proxy_stale_),
            "pending_retrain": learner._pending_retrain,
            "history": _json_value(learner.history_),
            "rng": {"name": rng_name, "pos": int(rng_pos), "has_gauss": int(rng_has_gauss), "gauss": float(rng_gauss)},
            "has_proxy": proxy is not None,
            "has_fused": fused is not None,
        },
    }
    return write_checkpoint(path, metadata, arrays, tensors)


def load_learner(cls, path, estimator=None, **params):
    """Rebuild a learner from a checkpoint (see :meth:`PruneFuseActiveLearner.load`).

    Parameters
    ----------
    cls : type
        ``PruneFuseActiveLearner`` or a subclass.
    path : str or os.PathLike
    estimator : skorch.NeuralNetClassifier, default=None
    **params
        Constructor parameters replacing the saved ones.

    Returns
    -------
    learner : cls
    """
    metadata, arrays, tensors = read_checkpoint(path)
    path = os.fspath(path)
    state = metadata["state"]
    known = set(cls._get_param_names()) - {"estimator"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise InvalidParameterError(f"{cls.__name__}.load got unknown parameters {unknown}; valid ones: {sorted(known)}.")
    missing = {name: desc for name, desc in metadata.get("params_not_saved", {}).items() if name not in params}
    if missing:
        hint = ", ".join(f"{name}=... (saved: {desc})" for name, desc in missing.items())
        raise CheckpointError(
            f"{path!r} was saved with parameters that are not JSON and were not stored: pass {hint} to load()."
        )
    saved_estimator = metadata.get("estimator")
    if saved_estimator is not None and estimator is None:
        raise CheckpointMismatchError(
            f"{path!r} was saved with a custom estimator ({saved_estimator['class']} with module "
            f"{saved_estimator['module']}); pass the same unfitted net: {cls.__name__}.load(path, estimator=net)."
        )
    values = dict(metadata.get("params", {}))
    rng = np.random.RandomState()
    rng.set_state(
        (state["rng"]["name"], arrays["rng_keys"], state["rng"]["pos"], state["rng"]["has_gauss"], state["rng"]["gauss"])
    )
    if values.get("random_state") == _RANDOM_STATE_INSTANCE:
        values["random_state"] = rng
    values.update(params)
    learner = cls(estimator=estimator, **values)
    learner._check_params()
    _restore(learner, path, metadata, arrays, tensors, rng)
    return learner


def _load_state(module, state_dict, path, what):
    try:
        module.load_state_dict(state_dict)
    except RuntimeError as exc:
        raise CheckpointMismatchError(
            f"The {what} saved in {path!r} does not fit the network built from the given estimator: {exc}. "
            "Pass the same unfitted estimator (same module and module__ parameters) that the saved learner used."
        ) from exc


def _restore(learner, path, metadata, arrays, tensors, rng):
    from .learner import default_estimator  # the learner module imports this one lazily: no cycle

    state = metadata["state"]
    sample_shape = tuple(state["sample_shape"])
    labelled = LabelledSet(arrays["X"], arrays["y"], arrays["y_encoded"], arrays["rounds"], arrays["scores"])
    classes = arrays["classes"]
    if learner.estimator is None:
        template = default_estimator(int(np.prod(sample_shape)), len(classes))
    else:
        template = clone(learner.estimator)

    full = clone(template)
    full.initialize()
    full_module = full.module_
    _load_state(full_module, tensors["full_init"], path, "initial full-size network")

    learner.estimator_ = template
    learner._rng = rng
    learner._sample_shape = sample_shape
    if state.get("n_features_in") is not None:
        learner.n_features_in_ = state["n_features_in"]
    learner.classes_ = classes
    learner._labelled = labelled
    learner._prune_seed = state["prune_seed"]
    learner._fuse_seed = state["fuse_seed"]

    with warnings.catch_warnings():  # warnings about the architecture were given at fit
        warnings.simplefilter("ignore")
        pruned = prune_at_init(
            full_module,
            learner._example_inputs(labelled.X, template.device),
            pruning_ratio=learner.pruning_ratio,
            importance=learner.importance,
            ignored_layers=learner.ignored_layers,
            random_state=learner._prune_seed,
        )
    _check_kept_indices(pruned.kept_indices, state["kept_shapes"], tensors["kept_indices"], path)
    learner.full_init_module_ = copy.deepcopy(full_module).cpu()
    learner.proxy_init_module_ = copy.deepcopy(pruned.module).cpu()
    _load_state(learner.proxy_init_module_, tensors["proxy_init"], path, "initial proxy")
    learner.kept_indices_ = pruned.kept_indices
    learner.output_layers_ = pruned.output_layers
    learner.embedding_layer_ = state["embedding_layer"]
    learner.n_params_full_ = count_parameters(full_module)
    learner.n_params_proxy_ = count_parameters(pruned.module)
    learner.history_ = list(state["history"])
    learner._proxy_n_labels = state["proxy_n_labels"]
    learner.proxy_stale_ = state["proxy_stale"]
    learner._pending_retrain = state["pending_retrain"]
    learner._last_query = None
    if "last_query_rows" in arrays:
        learner._last_query = QueryRecord(arrays["last_query_rows"], arrays["last_query_scores"])

    if state["has_proxy"]:
        proxy = learner._new_proxy()
        proxy.initialize()
        _load_state(proxy.module_, tensors["proxy"], path, "trained proxy")
        if "proxy_optimizer" in tensors:
            proxy.optimizer_.load_state_dict(tensors["proxy_optimizer"])
        if "proxy_classes_inferred" in arrays:
            proxy.classes_inferred_ = arrays["proxy_classes_inferred"]
        proxy.module = copy.deepcopy(learner.proxy_init_module_)  # as after training: `module` is the init
        learner.proxy_ = proxy
    if state["has_fused"]:
        fused_init = copy.deepcopy(learner.full_init_module_)
        _load_state(fused_init, tensors["fused_init"], path, "fused network")
        with torch_seed_scope(0, template.device):  # initialize() draws weights that are overwritten next
            fused = learner._fused_net(fused_init, learner._fuse_seeds()[2]).initialize()
        _load_state(fused.module_, tensors["fused"], path, "trained fused network")
        learner.fused_ = fused


def _check_kept_indices(kept, saved_shapes, saved_indices, path):
    mismatch = sorted(set(kept) ^ set(saved_shapes))
    for name, kept_indices in kept.items():
        if name in mismatch:
            continue
        if list(kept_indices.full_shape) != list(saved_shapes[name]):
            mismatch.append(name)
            continue
        for dim, index in enumerate(kept_indices.indices):
            saved = saved_indices.get(f"{name}:{dim}")
            if (index is None) != (saved is None) or (index is not None and not torch.equal(index.cpu(), saved)):
                mismatch.append(name)
                break
    if mismatch:
        raise CheckpointMismatchError(
            f"Pruning the restored network does not reproduce the saved proxy (differs at {mismatch[:5]}). Pass "
            "the estimator and the pruning parameters (pruning_ratio, importance, ignored_layers) that were saved; "
            "importance='random' checkpoints must be loaded on the device type they were saved on."
        )

