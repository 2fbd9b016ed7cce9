"""A Jupyter labelling widget driven by a :class:`~prunefuse_sk.PruneFuseActiveLearner`.

The learner proposes the most useful pool samples, a person answers with a button (or a
key) per class, *skip* or *undo*; after each batch the widget teaches the learner, which
retrains its proxy, and queries the next batch. A progress bar counts the labels given
against the budget and, with a test set, a learning curve grows after every batch. No
answer is ever lost: a failed retraining leaves the answers recorded (the learner stores
labels before it trains) and shows the error with a *retry* button.

Needs ``ipywidgets`` and ``matplotlib`` (``pip install prunefuse_sk[jupyter]``).
"""

import html
import io
import warnings

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .exceptions import InvalidParameterError, StaleProxyWarning
from .parameter_checks import check_int
from .pools import n_rows, take_rows

__all__ = ["LabellingWidget", "CLASS_KEYS", "SKIP_KEY", "UNDO_KEY"]

CLASS_KEYS = "1234567890abcdefghijklmnopqrtvwxyz"  # s and u are taken


class _Skip:
    def __repr__(self):
        return "SKIP"


_SKIP = _Skip()
SKIP_KEY = "s"
UNDO_KEY = "u"


def _class_keys(classes):
    """The shortcut of each class: the label itself when all are distinct single characters, else
    1-9, 0, a-z."""
    names = [str(label) for label in classes]
    if (
        all(len(n) == 1 for n in names)
        and len(set(names)) == len(names)
        and not {SKIP_KEY, UNDO_KEY} & set(names)
    ):
        return names
    return [CLASS_KEYS[i] if i < len(CLASS_KEYS) else None for i in range(len(classes))]


def _ipywidgets():
    try:
        import ipywidgets
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "LabellingWidget needs ipywidgets (and matplotlib): pip install prunefuse_sk[jupyter]"
        ) from exc
    return ipywidgets


def _png(draw, figsize):
    """PNG bytes of a matplotlib figure drawn by ``draw(ax)``, without pyplot's global state."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=80)
    ax = fig.add_subplot()
    draw(ax)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def _as_image(sample, image_shape):
    """The sample as an (H, W) or (H, W, 3) array, or None when it is not an image."""
    array = np.asarray(sample)
    if array.dtype.kind not in "biuf":
        return None
    if image_shape is not None:
        array = array.reshape(image_shape)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = np.moveaxis(array, 0, -1)  # (C, H, W) -> (H, W, C)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3):
        return array
    return None


class LabellingWidget:
    """Label the samples a learner proposes, one at a time, in a Jupyter notebook.

    Shows the queried samples one by one -- images as pictures (2-D or 3-D arrays,
    or 1-D ones with ``image_shape``), feature vectors as a small table, strings as
    text, token ids as the text they decode to (with ``tokenizer``), or anything
    through ``display_func`` -- with a button per class, *skip*,
    *undo* and keyboard shortcuts (type into the key box: a class's own
    character when every label is a single character, as digits are, otherwise
    ``1``..``9``, ``0``, then letters; ``s`` skips, ``u`` undoes). After each batch
    it calls ``learner.teach`` and queries the next batch. A progress bar counts
    labels given against ``budget``; with ``X_test`` and ``y_test`` a learning
    curve (test accuracy after every batch) is drawn; *fuse* builds the final
    network.

    Answers are never lost: if ``teach`` fails (a callback error, CUDA out of
    memory), the learner has stored the labels already (see
    :meth:`PruneFuseActiveLearner.teach`); the widget records them, shows the
    error and offers *retry*, which calls ``learner.refit()``. If ``teach``
    refused the answers themselves (a label the network has no unit for), they
    stay pending in the widget and *retry* sends them again.

    Parameters
    ----------
    learner : PruneFuseActiveLearner
        Fitted on a seed set.
    X_pool : array-like, memmap or torch.Tensor of shape (n_pool, ...)
        The unlabelled samples, as the learner takes them.
    classes : sequence, default=None
        The labels offered as buttons; default ``learner.classes_``.
    batch_size : int, default=10
        Samples per query; the learner is taught after each batch.
    display_func : callable, default=None
        ``display_func(sample)`` returns what to show for a sample (an
        ipywidget, bytes of a PNG, or a string shown as text); overrides the
        built-in display.
    X_test, y_test : array-like, default=None
        A labelled test set for the live learning curve.
    budget : int, default=None
        Labels to give in this session; default: the whole pool.
    display_data : sequence, default=None
        What to show instead of ``X_pool`` rows, aligned with them (the
        original texts or images when ``X_pool`` holds features).
    image_shape : tuple of int, default=None
        Reshape 1-D samples to this shape and show them as images.
    feature_names : sequence of str, default=None
        Column names for feature-vector samples.
    tokenizer : prunefuse_sk.text.TokenIds, default=None
        For a text network whose pool holds token ids: the fitted
        :class:`~prunefuse_sk.text.TokenIds` that made them; each sample is shown as
        the text it decodes to (its first ``max_length`` tokens, unknown ones as
        ``<unk>``). ``display_data=texts`` shows the original documents instead.

    Attributes
    ----------
    labelled_indices_ : list of int
        Rows of ``X_pool`` labelled and taught, in order.
    labels_ : list
        Their labels.
    skipped_indices_ : list of int
        Rows skipped; they are not proposed again.
    pending_ : list of (int, label)
        Answers of the current batch not yet taught.
    batch_ : list of int
        Rows of the current batch.
    n_teach_ : int
        Successful ``teach`` calls.
    curve_ : list of (int, float)
        ``(labels in the learner, test accuracy)`` after each batch.
    error_ : Exception or None
        The last error from ``teach``, ``refit`` or ``query``.
    fused_ : FusedNeuralNetClassifier
        After :meth:`fuse`.
    widget : ipywidgets.VBox
        The user interface; displaying the object displays it.

    Examples
    --------
    >>> from prunefuse_sk import PruneFuseActiveLearner, default_estimator
    >>> from prunefuse_sk.datasets import load_digits_images
    >>> X, _, y, _ = load_digits_images(random_state=0)
    >>> X = X.reshape(len(X), -1)
    >>> net = default_estimator(64, 10).set_params(max_epochs=2)
    >>> learner = PruneFuseActiveLearner(net, random_state=0).fit(X[:30], y[:30])
    >>> widget = LabellingWidget(learner, X[30:], batch_size=5, image_shape=(8, 8))
    >>> widget  # doctest: +SKIP
    >>> first = widget.batch_[0]  # the pool row on screen
    >>> widget.answer(y[30 + first])  # what its class button does
    >>> for _ in range(4):  # skip the rest of the batch: the learner is taught
    ...     widget.skip()
    >>> widget.n_teach_, widget.labelled_indices_ == [first], len(widget.batch_)
    (1, True, 5)
    """

    def __init__(
        self,
        learner,
        X_pool,
        *,
        classes=None,
        batch_size=10,
        display_func=None,
        X_test=None,
        y_test=None,
        budget=None,
        display_data=None,
        image_shape=None,
        feature_names=None,
        tokenizer=None,
    ):
        check_is_fitted(learner, "classes_")
        check_int(batch_size, "batch_size", what="a positive integer")
        if (X_test is None) != (y_test is None):
            raise ValueError("Pass both X_test and y_test for the learning curve, or neither.")
        self.learner = learner
        self.X_pool = X_pool
        self.classes = list(learner.classes_ if classes is None else classes)
        if len(self.classes) > len(CLASS_KEYS):
            warnings.warn(
                f"Only the first {len(CLASS_KEYS)} classes get a keyboard shortcut.", stacklevel=2
            )
        self.batch_size = int(batch_size)
        self.display_func = display_func
        self.X_test, self.y_test = X_test, y_test
        n_pool = n_rows(X_pool)
        self.budget = n_pool if budget is None else int(budget)
        if self.budget < 1:
            raise InvalidParameterError(f"budget must be a positive integer; got {budget!r}.")
        if display_data is not None and len(display_data) != n_pool:
            raise ValueError(
                f"display_data has {len(display_data)} items but X_pool has {n_pool} rows."
            )
        self.display_data = display_data
        self.image_shape = image_shape
        self.feature_names = feature_names
        if tokenizer is not None and not hasattr(tokenizer, "inverse_transform"):
            raise InvalidParameterError(
                "tokenizer must be a fitted prunefuse_sk.text.TokenIds (it decodes token ids to "
                f"text); got {type(tokenizer).__name__}."
            )
        self.tokenizer = tokenizer

        self._available = np.ones(n_pool, dtype=bool)
        self.labelled_indices_, self.labels_, self.skipped_indices_ = [], [], []
        self.pending_, self.batch_ = [], []
        self.n_teach_ = 0
        self.curve_ = []
        self.error_ = None
        self._failed = None  # what failed: "training", "answers" or "query"
        self.keys = _class_keys(self.classes)
        self._keys = {key: label for key, label in zip(self.keys, self.classes) if key is not None}
        self._build()
        if self.X_test is not None:
            self._record_score()
        self._next_batch()

    # ---------------------------------------------------------------- the UI
    def _build(self):
        w = _ipywidgets()
        self.title = w.HTML()
        self.sample_view = w.Output()
        self.sample_image = w.Image(format="png", layout=w.Layout(width="220px"))
        self.sample_html = w.HTML()
        self.class_buttons = []
        for key, label in zip(self.keys, self.classes):
            button = w.Button(
                description=f"{label}" + (f"  [{key}]" if key else ""),
                layout=w.Layout(width="auto"),
            )
            button.on_click(lambda _, label=label: self.answer(label))
            self.class_buttons.append(button)
        self.skip_button = w.Button(description=f"skip  [{SKIP_KEY}]", icon="forward")
        self.skip_button.on_click(lambda _: self.skip())
        self.undo_button = w.Button(description=f"undo  [{UNDO_KEY}]", icon="undo")
        self.undo_button.on_click(lambda _: self.undo())
        self.retry_button = w.Button(
            description="retry",
            icon="refresh",
            button_style="warning",
            layout=w.Layout(display="none"),
        )
        self.retry_button.on_click(lambda _: self.retry())
        self.fuse_button = w.Button(description="fuse", icon="compress", button_style="success")
        self.fuse_button.on_click(lambda _: self.fuse())
        self.key_box = w.Text(
            placeholder="type a [key] shown on a button; s skip, u undo",
            continuous_update=True,
            layout=w.Layout(width="260px"),
        )
        self.key_box.observe(self._on_key, names="value")
        self.progress = w.IntProgress(min=0, max=self.budget, description="labels")
        self.progress_text = w.HTML()
        self.status = w.HTML()
        self.curve_image = w.Image(format="png", layout=w.Layout(width="360px"))
        controls = w.VBox(
            [
                w.HBox(self.class_buttons, layout=w.Layout(flex_flow="row wrap")),
                w.HBox([self.skip_button, self.undo_button, self.key_box]),
                w.HBox([self.progress, self.progress_text]),
                w.HBox([self.fuse_button, self.retry_button]),
                self.status,
            ]
        )
        sample = w.VBox([self.title, self.sample_image, self.sample_html, self.sample_view])
        right = [self.curve_image] if self.X_test is not None else []
        self.widget = w.VBox([w.HBox([sample, *right]), controls])

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def _on_key(self, change):
        keys, self.key_box.value = change["new"], ""
        for key in keys:
            if key == SKIP_KEY:
                self.skip()
            elif key == UNDO_KEY:
                self.undo()
            elif key in self._keys:
                self.answer(self._keys[key])

    def _set_status(self, message, kind="info"):
        color = {"info": "#333", "error": "#b00020", "done": "#1b5e20"}[kind]
        self.status.value = f'<div style="color:{color}">{message}</div>'

    def _show_current(self):
        done = self.n_given >= self.budget or not self.batch_
        for button in (*self.class_buttons, self.skip_button):
            button.disabled = done or self.error_ is not None
        self.undo_button.disabled = not self.pending_
        self.progress.value = min(self.n_given, self.budget)
        self.progress_text.value = (
            f"{self.n_given} / {self.budget} labels given, "
            f"{len(self.learner.X_training)} in the learner"
        )
        if done:
            self.title.value = "<b>Done</b>" if self.error_ is None else "<b>Paused</b>"
            self.sample_image.value = b""
            self.sample_html.value = ""
            return
        position = len(self.pending_)
        index = self.batch_[position]
        self.title.value = f"<b>Sample {position + 1} of {len(self.batch_)}</b> (pool row {index})"
        self._render(index)

    def _render(self, index):
        sample = (
            self.display_data[index]
            if self.display_data is not None
            else take_rows(self.X_pool, [index])[0]
        )
        if hasattr(sample, "detach"):
            sample = sample.detach().cpu().numpy()
        self.sample_image.value, self.sample_html.value = b"", ""
        self.sample_view.outputs = ()
        if self.display_func is None and self.display_data is None and self.tokenizer is not None:
            sample = self.tokenizer.inverse_transform(np.asarray(sample).reshape(1, -1))[0]
        if self.display_func is not None:
            shown = self.display_func(sample)
            if isinstance(shown, str):
                self._show_text(shown)
            elif isinstance(shown, (bytes, bytearray)):
                self.sample_image.value = bytes(shown)
            elif shown is not None:
                with self.sample_view:
                    from IPython.display import display

                    display(shown)
            return
        if isinstance(sample, str):
            self._show_text(sample)
            return
        image = _as_image(sample, self.image_shape)
        if image is not None:
            self.sample_image.value = _png(
                lambda ax: (ax.imshow(image, cmap="gray"), ax.axis("off")), (2.5, 2.5)
            )
            return
        values = np.asarray(sample).ravel()
        names = self.feature_names or [f"x{i}" for i in range(len(values))]
        cells = "".join(
            f"<tr><td>{html.escape(str(n))}</td><td>{v:.4g}</td></tr>"
            for n, v in zip(names, values[:40])
        )
        more = (
            f"<tr><td colspan=2>... {len(values) - 40} more</td></tr>" if len(values) > 40 else ""
        )
        self.sample_html.value = f"<table>{cells}{more}</table>"

    def _show_text(self, text):
        self.sample_html.value = (
            f"<pre style='white-space:pre-wrap;max-width:40em'>{html.escape(text)}</pre>"
        )

    def _draw_curve(self):
        if not self.curve_:
            return
        n, acc = zip(*self.curve_)

        def draw(ax):
            ax.plot(n, acc, "o-")
            ax.set_xlabel("labels")
            ax.set_ylabel("test accuracy")
            ax.set_title("learning curve")
            ax.grid(alpha=0.3)

        self.curve_image.value = _png(draw, (4, 3))

    # ------------------------------------------------------------- the loop
    @property
    def n_given(self):
        """int: Labels given in this session (taught or pending)."""
        return len(self.labelled_indices_) + sum(
            1 for _, label in self.pending_ if label is not _SKIP
        )

    def answer(self, label):
        """Label the current sample (what a class button or key does).

        Parameters
        ----------
        label : object
            One of ``classes``.
        """
        if label not in self.classes:
            raise ValueError(f"{label!r} is not one of the classes {self.classes}.")
        self._advance(label)

    def skip(self):
        """Skip the current sample; it is not proposed again."""
        self._advance(_SKIP)

    def undo(self):
        """Take back the last answer of the current batch (taught batches cannot be undone)."""
        if not self.pending_:
            self._set_status("Nothing to undo in this batch: earlier batches are already taught.")
            return
        self.pending_.pop()
        self._set_status("Undone.")
        self._show_current()

    def _advance(self, label):
        if self.error_ is not None or not self.batch_ or len(self.pending_) >= len(self.batch_):
            return
        self.pending_.append((self.batch_[len(self.pending_)], label))
        if len(self.pending_) == len(self.batch_) or self.n_given >= self.budget:
            self._teach_pending()
        else:
            self._show_current()

    def _teach_pending(self):
        answered = [(i, label) for i, label in self.pending_ if label is not _SKIP]
        skipped = [i for i, label in self.pending_ if label is _SKIP]
        before = len(self.learner.X_training)
        try:
            if answered:
                rows = [i for i, _ in answered]
                self.learner.teach(
                    take_rows(self.X_pool, rows), np.asarray([label for _, label in answered])
                )
        except Exception as exc:  # noqa: BLE001 - shown to the user; labels are handled below
            self.error_ = exc
            stored = len(self.learner.X_training) > before
            self._failed = "training" if stored else "answers"
            if stored:  # the learner kept the labels; only its retraining failed
                self._commit(answered, skipped)
            self.retry_button.layout.display = None
            self._set_status(
                f"<b>{type(exc).__name__}</b>: {html.escape(str(exc))}<br>"
                + (
                    "Your answers are saved in the learner; press <i>retry</i> to retrain its "
                    "proxy."
                    if stored
                    else "Your answers are kept here; fix the cause and press <i>retry</i> to "
                    "send them again."
                ),
                "error",
            )
            self._show_current()
            return
        self._commit(answered, skipped)
        self._after_teach()

    def _commit(self, answered, skipped):
        for index, label in answered:
            self.labelled_indices_.append(index)
            self.labels_.append(label)
            self._available[index] = False
        for index in skipped:
            self.skipped_indices_.append(index)
            self._available[index] = False
        self.pending_ = []
        self.batch_ = [i for i in self.batch_ if self._available[i]]

    def _after_teach(self):
        self.n_teach_ += 1
        if self.X_test is not None:
            self._record_score()
        self._next_batch()

    def retry(self):
        """Retry after an error: retrain the proxy, or send pending answers again."""
        if self.error_ is None:
            return
        failed, self.error_, self._failed = self._failed, None, None
        self.retry_button.layout.display = "none"
        if failed == "answers":
            self._teach_pending()
            return
        if failed == "query":
            self._next_batch()
            return
        try:
            self.learner.refit()
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.error_, self._failed = exc, "training"
            self.retry_button.layout.display = None
            self._set_status(f"<b>{type(exc).__name__}</b>: {html.escape(str(exc))}", "error")
            return
        self._after_teach()

    def _record_score(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StaleProxyWarning)
            accuracy = float(self.learner.score(self.X_test, self.y_test))
        self.curve_.append((len(self.learner.X_training), accuracy))
        self._draw_curve()

    def _next_batch(self):
        remaining = np.flatnonzero(self._available)
        n = min(self.batch_size, len(remaining), self.budget - self.n_given)
        if n <= 0:
            self.batch_ = []
            done = "Budget reached" if self.n_given >= self.budget else "The pool is exhausted"
            self._set_status(
                f"{done}: {self.n_given} labels given. Press <i>fuse</i> for the final network.",
                "done",
            )
            self._show_current()
            return
        try:
            indices, _ = self.learner.query(take_rows(self.X_pool, remaining), n=int(n))
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.error_, self._failed = exc, "query"
            self.batch_ = []
            self.retry_button.layout.display = None
            self._set_status(
                f"<b>query failed</b>: {type(exc).__name__}: {html.escape(str(exc))}", "error"
            )
            self._show_current()
            return
        self.batch_ = [int(i) for i in remaining[np.asarray(indices)]]
        self._set_status(
            f"Batch {self.n_teach_ + 1}: {len(self.batch_)} samples chosen by the proxy."
        )
        self._show_current()

    def fuse(self, **fuse_params):
        """Fuse the proxy into the full network (``learner.fuse``) and show its test accuracy.

        Parameters
        ----------
        **fuse_params
            Passed to :meth:`PruneFuseActiveLearner.fuse`.

        Returns
        -------
        clf : FusedNeuralNetClassifier
        """
        self._set_status("Fusing and training the full-size network ...")
        try:
            self.fused_ = self.learner.fuse(**fuse_params)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.error_ = exc
            self._set_status(
                f"<b>fuse failed</b>: {type(exc).__name__}: {html.escape(str(exc))}", "error"
            )
            raise
        message = f"Fused network trained on {len(self.learner.X_training)} labels."
        if self.X_test is not None:
            message += f" Test accuracy: {float(self.fused_.score(self.X_test, self.y_test)):.3f}."
        self._set_status(message, "done")
        return self.fused_
