"""A peer baseline: small-text's own pool-based active learning with its KimCNN, on token ids.

:func:`run_small_text` runs small-text 1.4.1 (Schröder et al., EACL 2023 demo; installed
with ``pip install --no-deps --target /tmp/smalltext small-text==1.4.1``, or at the path in
``PRUNEFUSE_SMALL_TEXT_PATH``) end to end on the same int64 token ids, the same initial
labelled rows and the same query budget as our side, so that its accuracy and its wall time
can be set beside ours:

* ``PoolBasedActiveLearner`` (``reuse_model=False``: a new classifier trained from scratch
  each round, small-text's default) with query strategy ``LeastConfidence``;
* ``KimCNNClassifier`` made by a ``KimCNNFactory``: embedding table of ``n_ids`` rows drawn
  from uniform(-0.25, 0.25) (Kim 2014) with the padding row zeroed and trained with the
  network, convolutions of heights 3, 4 and 5, Adam at ``lr`` instead of small-text's
  default Adadelta;
* initialised with ``initial_idx`` (labels from ``y_train``), then ``rounds`` queries of
  ``batch`` rows each, every query answered with the rows' labels from ``y_train``.

What is measured, all wall time on the calling process's threads (``device="cpu"``):

* ``train_seconds``: each retraining as the learner runs it (``initialize_data`` for the
  first, ``update`` for the others: small-text copies the labelled rows into a new dataset,
  splits off its validation rows and fits the new classifier, writing a model and optimizer
  checkpoint per epoch for its model selection);
* ``query_seconds``: each ``query`` (``LeastConfidence`` scores the whole pool, labelled rows
  included, with ``predict_proba``, then takes the ``batch`` lowest maxima);
* ``selection_seconds``: the trainings whose model chose a batch (all but the last) plus the
  queries, the cost of choosing the labels;
* ``end_to_end_seconds``: the whole loop, from the initial training to the end of the final
  one; building the datasets and scoring the test set are not counted.

Test accuracy after each training is the classifier's ``predict`` on the test ids against
``y_test``.
"""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.environ.get("PRUNEFUSE_SMALL_TEXT_PATH", "/tmp/smalltext"))
try:
    import torch
    from small_text import LeastConfidence, PoolBasedActiveLearner
    from small_text.base import LABEL_UNLABELED
    from small_text.integrations.pytorch.classifiers import KimCNNClassifier, KimCNNFactory
    from small_text.integrations.pytorch.datasets import PytorchTextClassificationDataset
except ImportError as exc:  # pragma: no cover - depends on the machine
    raise ImportError(
        "small-text 1.4.1 (and torch) are needed for this peer baseline: "
        "pip install --no-deps --target /tmp/smalltext small-text==1.4.1 "
        "(or set PRUNEFUSE_SMALL_TEXT_PATH to where it is installed). "
        f"Import failed with: {exc}"
    ) from exc

KERNEL_HEIGHTS = [3, 4, 5]


class _Vocab:
    """The vocabulary object small-text's datasets carry: KimCNN only takes its ``len()``.

    Parameters
    ----------
    n_ids : int
        Number of token ids, padding (0) and unknown (1) included.
    """

    def __init__(self, n_ids):
        self.n_ids = int(n_ids)

    def __len__(self):
        return self.n_ids


class _AdamKimCNNClassifier(KimCNNClassifier):
    """small-text's ``KimCNNClassifier`` with Adam as its default optimizer, seeded per fit.

    Parameters
    ----------
    num_classes : int
        Number of classes.
    seed : int, default=0
        ``torch`` and ``numpy`` are seeded with it at the start of every ``fit`` (model
        initialisation, validation split, mini-batch order and dropout).
    **kwargs
        Passed to ``KimCNNClassifier``.
    """

    def __init__(self, num_classes, seed=0, **kwargs):
        super().__init__(num_classes, **kwargs)
        self.seed = seed

    def fit(self, train_set, validation_set=None, weights=None, **kwargs):
        """Seed ``torch`` and ``numpy``, then ``KimCNNClassifier.fit``.

        Parameters
        ----------
        train_set : PytorchTextClassificationDataset
            The labelled rows.
        validation_set : PytorchTextClassificationDataset or None, default=None
            ``None``: small-text splits off ``validation_set_size`` of ``train_set``.
        weights : numpy.ndarray or None, default=None
            Sample weights.
        **kwargs
            Passed to ``KimCNNClassifier.fit``.

        Returns
        -------
        self : _AdamKimCNNClassifier
        """
        torch.manual_seed(self.seed)
        # small-text draws its validation split from numpy's global generator
        np.random.seed(self.seed)  # noqa: NPY002
        return super().fit(train_set, validation_set=validation_set, weights=weights, **kwargs)

    def _default_optimizer(self, base_lr):
        params = [param for param in self.model.parameters() if param.requires_grad]
        return params, torch.optim.Adam(params, lr=base_lr)


class _AdamKimCNNFactory(KimCNNFactory):
    """A ``KimCNNFactory`` whose classifiers are :class:`_AdamKimCNNClassifier`.

    Each classifier gets its own copy of the initial embedding table: KimCNN wraps the
    tensor it is given in its ``nn.Embedding`` without copying it, so a shared table would
    carry one round's trained embeddings into the next round's "new" model.

    Parameters
    ----------
    num_classes : int
        Number of classes.
    embedding_matrix : torch.Tensor
        Initial embedding table, shape (n_ids, embedding_dim), float32.
    seed : int
        Seed of every fit.
    kwargs : dict
        Other ``KimCNNClassifier`` keyword arguments.
    """

    def __init__(self, num_classes, embedding_matrix, seed, kwargs):
        super().__init__("kimcnn", num_classes, kwargs=kwargs)
        self.embedding_matrix = embedding_matrix
        self.seed = seed

    def new(self):
        """Create a classifier with a fresh copy of the initial embedding table.

        Returns
        -------
        classifier : _AdamKimCNNClassifier
        """
        return _AdamKimCNNClassifier(
            self.num_classes,
            seed=self.seed,
            embedding_matrix=self.embedding_matrix.clone(),
            **self.kwargs,
        )


def _dataset(ids, y, vocab, num_classes):
    """small-text's PyTorch text dataset from padded token ids.

    Each row's trailing padding is stripped: ``kimcnn_collate_fn`` truncates every row to
    ``max_seq_len`` and pads it back with ``padding_idx`` itself.

    Parameters
    ----------
    ids : numpy.ndarray of shape (n, L)
        Token ids, padded with 0 at the end of each row.
    y : numpy.ndarray of shape (n,) or None
        Labels, or ``None`` for an unlabelled pool (``LABEL_UNLABELED`` rows).
    vocab : _Vocab
        The vocabulary object.
    num_classes : int
        Number of classes (the dataset's ``target_labels`` are ``0 .. num_classes - 1``).

    Returns
    -------
    dataset : PytorchTextClassificationDataset
    """
    ids = np.asarray(ids, dtype=np.int64)
    nonzero = ids != 0
    lengths = np.where(nonzero.any(axis=1), ids.shape[1] - np.argmax(nonzero[:, ::-1], axis=1), 0)
    labels = np.full(len(ids), LABEL_UNLABELED, dtype=int) if y is None else np.asarray(y)
    data = [(torch.tensor(row[:n]), int(label)) for row, n, label in zip(ids, lengths, labels)]
    return PytorchTextClassificationDataset(data, vocab, target_labels=np.arange(num_classes))


def run_small_text(
    X_train_ids,
    y_train,
    X_test_ids,
    y_test,
    n_ids,
    *,
    initial_idx,
    rounds=4,
    batch=500,
    embedding_dim=300,
    out_channels=100,
    dropout=0.5,
    lr=1e-3,
    mini_batch_size=25,
    num_epochs=10,
    max_seq_len=None,
    seed=0,
    log=print,
):
    """Run small-text's pool-based active learning with KimCNN and least confidence.

    small-text's defaults kept: ``PoolBasedActiveLearner(reuse_model=False)`` (a new model
    from scratch each round); ``validation_set_size=0.1`` (each fit splits 10 % of the
    labelled rows off as a validation set, stratified, at least one row per class when
    there is room); early stopping on validation loss with patience 5 (its
    ``early_stopping=5, early_stopping_acc=-1`` defaults: training stops after 6 epochs
    without a lower validation loss, so it can only act when ``num_epochs`` is 7 or more);
    model selection after training (of the epochs' checkpoints, the one at which early
    stopping fired excluded, the lowest validation loss, ties by validation accuracy, is
    reloaded); gradient norm clipped at 3 at every step; cross-entropy without class
    weights; ``filter_padding=0``; a constant learning rate. Changed: Adam at ``lr`` instead
    of Adadelta; the embedding table, drawn from uniform(-0.25, 0.25) with row 0 zeroed, is
    trained from the same initial values every round.

    Parameters
    ----------
    X_train_ids : numpy.ndarray of shape (n_train, L), int64
        The pool's token ids, padded with 0 (id 1 = unknown), as made by
        :class:`prunefuse_sk.text.TokenIds`.
    y_train : numpy.ndarray of shape (n_train,)
        Labels ``0 .. n_classes - 1`` of the pool, revealed for the rows queried.
    X_test_ids : numpy.ndarray of shape (n_test, L'), int64
        Test token ids.
    y_test : numpy.ndarray of shape (n_test,)
        Test labels.
    n_ids : int
        Vocabulary size, padding and unknown included (rows of the embedding table).
    initial_idx : array-like of int
        Indices into the pool of the initially labelled rows.
    rounds : int, default=4
        Number of queries.
    batch : int, default=500
        Rows per query.
    embedding_dim : int, default=300
        Embedding width.
    out_channels : int, default=100
        Feature maps per kernel height.
    dropout : float, default=0.5
        Dropout before the output layer.
    lr : float, default=1e-3
        Adam's learning rate.
    mini_batch_size : int, default=25
        Mini-batch size (training and prediction).
    num_epochs : int, default=10
        Maximum epochs per fit.
    max_seq_len : int or None, default=None
        Tokens per document seen by the network; ``None``: ``X_train_ids.shape[1]``.
    seed : int, default=0
        Seed of the embedding table and of ``torch`` and ``numpy`` before every fit.
    log : callable, default=print
        Called with one line per training.

    Returns
    -------
    result : dict
        ``accuracy`` (test accuracy after each training), ``n_labels`` (labelled rows at each
        training), ``train_seconds`` (each training), ``query_seconds`` (each query),
        ``selection_seconds`` (trainings used to query plus queries), ``end_to_end_seconds``
        (the whole loop) and ``labelled_idx`` (the final labelled pool indices, in labelling
        order).
    """
    X_train_ids = np.asarray(X_train_ids, dtype=np.int64)
    X_test_ids = np.asarray(X_test_ids, dtype=np.int64)
    y_train = np.asarray(y_train).astype(int)
    y_test = np.asarray(y_test).astype(int)
    initial_idx = np.asarray(initial_idx, dtype=int)
    max_seq_len = X_train_ids.shape[1] if max_seq_len is None else int(max_seq_len)
    if max_seq_len <= max(KERNEL_HEIGHTS):
        raise ValueError(f"max_seq_len must exceed {max(KERNEL_HEIGHTS)}, got {max_seq_len}")
    if len(initial_idx) + rounds * batch > len(X_train_ids):
        raise ValueError("initial_idx plus rounds * batch exceeds the pool")
    num_classes = int(max(y_train.max(), y_test.max())) + 1

    generator = torch.Generator().manual_seed(seed)
    embedding = torch.empty(n_ids, embedding_dim).uniform_(-0.25, 0.25, generator=generator)
    embedding[0] = 0.0

    vocab = _Vocab(n_ids)
    pool = _dataset(X_train_ids, None, vocab, num_classes)
    test = _dataset(X_test_ids, y_test, vocab, num_classes)

    factory = _AdamKimCNNFactory(
        num_classes,
        embedding,
        seed,
        kwargs={
            "device": "cpu",
            "num_epochs": num_epochs,
            "mini_batch_size": mini_batch_size,
            "lr": lr,
            "max_seq_len": max_seq_len,
            "out_channels": out_channels,
            "dropout": dropout,
            "kernel_heights": KERNEL_HEIGHTS,
            "padding_idx": 0,
        },
    )
    learner = PoolBasedActiveLearner(factory, LeastConfidence(), pool)

    result = {"accuracy": [], "n_labels": [], "train_seconds": [], "query_seconds": []}
    loop_seconds = 0.0

    def record(seconds):
        # test scoring is outside the timed loop
        accuracy = float(np.mean(learner.classifier.predict(test) == y_test))
        n_labels = len(learner.indices_labeled)
        result["accuracy"].append(accuracy)
        result["n_labels"].append(n_labels)
        result["train_seconds"].append(seconds)
        query = result["query_seconds"][-1] if result["query_seconds"] else None
        log(
            f"small-text round {len(result['accuracy']) - 1}: {n_labels} labels, "
            f"test acc {accuracy:.4f}, fit {seconds:.1f} s"
            + ("" if query is None else f", query {query:.1f} s")
        )

    start = time.perf_counter()
    learner.initialize_data(initial_idx, y_train[initial_idx])
    seconds = time.perf_counter() - start
    loop_seconds += seconds
    record(seconds)
    for _ in range(rounds):
        start = time.perf_counter()
        queried = learner.query(num_samples=batch)
        query_seconds = time.perf_counter() - start
        result["query_seconds"].append(query_seconds)
        start = time.perf_counter()
        learner.update(y_train[queried])
        seconds = time.perf_counter() - start
        loop_seconds += query_seconds + seconds
        record(seconds)

    result["selection_seconds"] = float(
        sum(result["train_seconds"][:rounds]) + sum(result["query_seconds"])
    )
    result["end_to_end_seconds"] = float(loop_seconds)
    result["labelled_idx"] = [int(i) for i in learner.indices_labeled]
    return result
