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

import io
import json
import math
import os
import pickle
import tempfile
import warnings
import zipfile

import numpy as np
import torch

from ._version import __version__
from .exceptions import (
    CheckpointError,
    CheckpointMismatchError,
    CheckpointVersionError,
    InvalidParameterError,
    UnsafeCheckpointError,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "RANDOM_STATE_INSTANCE",
    "save_checkpoint",
    "load_checkpoint",
    "write_checkpoint",
    "read_checkpoint",
    "json_value",
]

FORMAT = "prunefuse_sk.checkpoint"
FORMAT_VERSION = 1
_META = "checkpoint.json"
RANDOM_STATE_INSTANCE = "<numpy RandomState, restored from the saved stream>"


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
            with zipfile.ZipFile(
                handle, "w", compression=zipfile.ZIP_STORED, allowZip64=True
            ) as archive:
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
        raise CheckpointError(
            f"No checkpoint file at {path!r}. Check the path; save one with learner.save(path)."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if _META not in names:
                raise CheckpointError(
                    f"{path!r} is a zip file but not a prunefuse_sk checkpoint (no {_META}). "
                    "Pass a file written by PruneFuseActiveLearner.save()."
                )
            metadata = _read_metadata(path, archive.read(_META))
            arrays = {
                name: _read_array(path, archive, name, names) for name in metadata.get("arrays", [])
            }
            tensors = {
                name: _read_tensors(path, archive, name, names)
                for name in metadata.get("tensors", [])
            }
    except zipfile.BadZipFile as exc:
        raise CheckpointError(
            f"{path!r} is not a readable prunefuse_sk checkpoint ({exc}): the file is truncated, "
            "corrupt or of another kind. Load an earlier checkpoint, or save again."
        ) from exc
    return metadata, arrays, tensors


def _read_metadata(path, raw):
    try:
        metadata = json.loads(raw.decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(
            f"The metadata of {path!r} is not valid JSON ({exc}); the file is corrupt."
        ) from exc
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise CheckpointError(
            f"{path!r} is not a prunefuse_sk checkpoint (format {metadata.get('format')!r})."
        )
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointVersionError(
            f"{path!r} was written in checkpoint format version {version!r} (by prunefuse_sk "
            f"{metadata.get('library_version', '?')}); prunefuse_sk {__version__} reads version "
            f"{FORMAT_VERSION}. Load it with the prunefuse_sk release that wrote it."
        )
    return metadata


def _member(path, archive, member, names):
    if member not in names:
        raise CheckpointError(
            f"{path!r} lacks {member!r}: the checkpoint is incomplete. Load an earlier one."
        )
    return archive.read(member)


def _read_array(path, archive, name, names):
    raw = _member(path, archive, f"arrays/{name}.npy", names)
    try:
        return np.load(io.BytesIO(raw), allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise UnsafeCheckpointError(
                f"Refused to load arrays/{name}.npy of {path!r}: it holds pickled Python objects, "
                "which could run code. A prunefuse_sk checkpoint holds plain arrays only; this "
                "file was altered or not written by save(). Nothing in it was executed."
            ) from exc
        raise CheckpointError(
            f"arrays/{name}.npy of {path!r} is not a valid array ({exc})."
        ) from exc


def _read_tensors(path, archive, name, names):
    raw = _member(path, archive, f"tensors/{name}.pt", names)
    try:
        with (
            warnings.catch_warnings()
        ):  # torch warns about foreign pickle protocols before refusing them
            warnings.simplefilter("ignore")
            return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"Refused to load tensors/{name}.pt of {path!r}: it holds Python objects other than "
            "tensors, which could run code (torch.load(weights_only=True) rejected it). This file "
            "was altered or not written by save(); nothing in it was executed."
        ) from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(
            f"tensors/{name}.pt of {path!r} is not a valid tensor file ({exc})."
        ) from exc


# ------------------------------------------------------------ learner state
def json_value(value, *, lenient=False):
    """``value`` as JSON data: dicts, lists, str, int, float, bool and None (numpy scalars become
    numbers).

    Parameters
    ----------
    value : object
    lenient : bool, default=False
        For exports: non-finite floats become None and objects JSON lacks their
        ``repr``. Otherwise such objects raise (what cannot round-trip is not stored).

    Returns
    -------
    value : dict, list, str, int, float, bool or None

    Raises
    ------
    TypeError
        If ``value`` holds an object JSON lacks and ``lenient`` is False.

    Examples
    --------
    >>> import numpy as np
    >>> json_value({"seed": np.int64(3), "shape": (8, 8)})
    {'seed': 3, 'shape': [8, 8]}
    >>> json_value([float("nan"), np.float32(0.5), object], lenient=True)
    [None, 0.5, "<class 'object'>"]
    """
    if isinstance(value, dict):
        return {str(key): json_value(item, lenient=lenient) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(item, lenient=lenient) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if lenient and isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if lenient:
        return repr(value)
    raise TypeError(f"{type(value).__name__} is not JSON data")


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


_ARRAY_NAMES = {"y": "labels", "classes": "classes", "proxy_classes_inferred": "proxy classes"}


def _savable_array(name, values):
    """Arrays go in without pickle: string objects become a string array, other objects are
    refused."""
    values = np.asarray(values)
    if values.dtype == object:
        if all(isinstance(v, str) for v in values.ravel()):
            return values.astype(str)
        raise CheckpointError(
            f"The {_ARRAY_NAMES.get(name, name)} have dtype object, which cannot be stored without "
            "pickle. Use integer or string labels (e.g. y.astype(str)) and fit again, or pickle "
            "the learner (trusted sources only)."
        )
    return values


def _holds_tensors(value):
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, dict):
        return any(_holds_tensors(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_tensors(item) for item in value)
    return False


def save_checkpoint(path, params, state):
    """Write an estimator's parameters and fitted state to ``path`` (see
    :meth:`PruneFuseActiveLearner.save`).

    Each state entry goes where its type belongs: arrays to ``arrays/``, anything
    holding tensors (state dicts) to ``tensors/``, the rest to the JSON metadata.

    Parameters
    ----------
    path : str or os.PathLike
    params : dict
        ``get_params(deep=False)``; ``estimator`` is described (its code is not
        stored), parameters that are not JSON are listed so that ``load`` asks for them.
    state : dict
        The estimator's ``_get_state()``: a flat dict of arrays, state dicts and JSON data.

    Returns
    -------
    path : str
    """
    saved, not_saved = {}, {}
    for name, value in params.items():
        if name == "estimator":
            continue
        if name == "random_state" and isinstance(value, np.random.RandomState):
            saved[name] = RANDOM_STATE_INSTANCE
            continue
        try:
            saved[name] = json_value(value)
        except (TypeError, ValueError):
            not_saved[name] = _describe(value) if callable(value) else repr(value)[:200]
    arrays = {
        name: _savable_array(name, v) for name, v in state.items() if isinstance(v, np.ndarray)
    }
    tensors = {name: v for name, v in state.items() if name not in arrays and _holds_tensors(v)}
    values = {name: v for name, v in state.items() if name not in arrays and name not in tensors}
    metadata = {
        "library_version": __version__,
        "torch_version": torch.__version__,
        "params": saved,
        "params_not_saved": not_saved,
        "estimator": _estimator_description(params.get("estimator")),
        "state": json_value(values),
    }
    return write_checkpoint(path, metadata, arrays, tensors)


def load_checkpoint(path, param_names, estimator=None, **params):
    """Read what :func:`save_checkpoint` wrote, checking that the caller passes what was not stored.

    Parameters
    ----------
    path : str or os.PathLike
    param_names : sequence of str
        The estimator's parameter names.
    estimator : object, default=None
        The unfitted network the caller passes again (its code is not in the file).
    **params
        Parameters that replace the saved ones.

    Returns
    -------
    params : dict
        The saved parameters updated with ``params`` (``random_state`` may be
        :data:`RANDOM_STATE_INSTANCE`: the stream itself is in the state).
    state : dict
        The saved state, one flat dict again, for the estimator's ``_set_state()``.

    Raises
    ------
    CheckpointError
        Missing, truncated or foreign file, or a non-JSON parameter not passed again.
    CheckpointVersionError, UnsafeCheckpointError
        See :func:`read_checkpoint`.
    CheckpointMismatchError
        If the file was saved with a custom estimator and none is passed.
    InvalidParameterError
        If ``params`` names an unknown parameter.
    """
    metadata, arrays, tensors = read_checkpoint(path)
    path = os.fspath(path)
    known = set(param_names) - {"estimator"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise InvalidParameterError(
            f"load got unknown parameters {unknown}; valid ones: {sorted(known)}."
        )
    missing = {
        name: desc
        for name, desc in metadata.get("params_not_saved", {}).items()
        if name not in params
    }
    if missing:
        hint = ", ".join(f"{name}=... (saved: {desc})" for name, desc in missing.items())
        raise CheckpointError(
            f"{path!r} was saved with parameters that are not JSON and were not stored: pass "
            f"{hint} to load()."
        )
    saved_estimator = metadata.get("estimator")
    if saved_estimator is not None and estimator is None:
        raise CheckpointMismatchError(
            f"{path!r} was saved with a custom estimator ({saved_estimator['class']} with module "
            f"{saved_estimator['module']}); pass the same unfitted net: load(path, estimator=net)."
        )
    return {**metadata.get("params", {}), **params}, {**metadata["state"], **arrays, **tensors}
