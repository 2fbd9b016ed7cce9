"""Seeding helpers: every random choice flows from the estimator's ``random_state``."""

import contextlib

import numpy as np
import torch

MAX_SEED = 2**31 - 1


def draw_seed(rng):
    """Draw an int seed from a :class:`numpy.random.RandomState`.

    Parameters
    ----------
    rng : numpy.random.RandomState
        The source of randomness.

    Returns
    -------
    seed : int
    """
    return int(rng.randint(0, MAX_SEED))


def _cuda_devices(device):
    if device is None or not torch.cuda.is_available():
        return []
    device = torch.device(device)
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


@contextlib.contextmanager
def torch_seed_scope(seed, device=None):
    """Run a block with torch's global generators seeded, then restore them.

    skorch and torch draw initial weights and data shuffles from torch's
    global generator; seeding it inside a forked scope makes a block
    reproducible without changing the caller's random stream.

    Parameters
    ----------
    seed : int or None
        ``None`` runs the block with the global generators untouched.
    device : str or torch.device, default=None
        When a CUDA device, its generator is forked and seeded too.
    """
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=_cuda_devices(device)):
        torch.manual_seed(seed)
        yield


def as_random_state(random_state):
    """Return a fresh :class:`numpy.random.RandomState` for ``random_state``.

    An int gives the same stream each call; ``None`` a nondeterministic one;
    a ``RandomState`` instance is used as is.
    """
    if isinstance(random_state, np.random.RandomState):
        return random_state
    return np.random.RandomState(random_state)


def random_state_as_data(rng):
    """A RandomState's stream position as JSON data and its key array (to store without pickle).

    Parameters
    ----------
    rng : numpy.random.RandomState

    Returns
    -------
    position : dict
        Algorithm name, position and cached Gaussian.
    keys : ndarray of shape (624,), uint32
    """
    name, keys, pos, has_gauss, gauss = rng.get_state()
    return {"name": name, "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)}, keys


def random_state_from_data(position, keys):
    """The RandomState that :func:`random_state_as_data` described, at the same point of its stream.

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> _ = rng.rand(3)
    >>> copy = random_state_from_data(*random_state_as_data(rng))
    >>> bool(copy.rand() == rng.rand())
    True
    """
    rng = np.random.RandomState()
    rng.set_state(
        (position["name"], keys, position["pos"], position["has_gauss"], position["gauss"])
    )
    return rng
