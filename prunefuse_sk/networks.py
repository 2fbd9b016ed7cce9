"""Small reference networks: the default MLP, the demo's CNNs and three text classifiers.

Each returns logits (use ``criterion=torch.nn.CrossEntropyLoss``) and flattens with
``nn.Flatten``/``flatten(1)`` so that pruning may change widths freely.
"""

import torch
from skorch import NeuralNetClassifier
from torch import nn

__all__ = [
    "MLP",
    "SmallCNN",
    "SmallResNet",
    "FastText",
    "TextCNN",
    "CharCNN",
    "SmallTransformer",
    "kim_embedding_init",
    "default_estimator",
]


def _forward_doc(inputs):
    """Give a reference network's ``forward`` its numpydoc docstring, for inputs described by
    ``inputs``."""

    def document(forward):
        forward.__doc__ = f"""Logits for a batch of samples.

        Parameters
        ----------
        X : torch.Tensor of shape {inputs}
            The batch.

        Returns
        -------
        logits : torch.Tensor of shape (n_samples, n_classes)
            One row of class scores per sample (no softmax: train with ``CrossEntropyLoss``).
        """
        return forward

    return document


class MLP(nn.Module):
    """A multilayer perceptron returning logits.

    Parameters
    ----------
    n_features : int
        Input width.
    n_classes : int
        Number of output units.
    hidden : tuple of int, default=(128, 64)
        Widths of the hidden layers.
    dropout : float, default=0.0
        Dropout probability after each hidden activation; ``0.0`` adds no
        dropout layer.
    """

    def __init__(self, n_features, n_classes, hidden=(128, 64), dropout=0.0):
        super().__init__()
        layers, width = [], n_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        self.hidden = nn.Sequential(nn.Flatten(), *layers)
        self.output = nn.Linear(width, n_classes)

    @_forward_doc("(n_samples, ...), flattened first")
    def forward(self, X):
        return self.output(self.hidden(X))


class SmallCNN(nn.Module):
    """Two conv-BatchNorm-ReLU blocks and a flatten -> linear head, for 8x8 or 28x28 images.

    The convolutions keep the spatial size (3x3, padding 1); a 2x2 max-pool
    follows them, and a second one when ``image_size >= 16``.

    Parameters
    ----------
    n_classes : int, default=10
        Number of output units (logits).
    in_channels : int, default=1
        Channels of the input images.
    image_size : int, default=8
        Side of the square input image.
    width : int, default=32
        Channels of the first block; the second has twice as many.
    hidden : int, default=128
        Width of the dense layer before the output.
    dropout : float, default=0.0
        Dropout before the output layer (needed by ``"bald"``); none when 0.
    """

    def __init__(
        self, n_classes=10, in_channels=1, image_size=8, width=32, hidden=128, dropout=0.0
    ):
        super().__init__()
        pooled = image_size // 2 // 2 if image_size >= 16 else image_size // 2
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        if image_size >= 16:
            self.features.append(nn.MaxPool2d(2))
        head = [nn.Flatten(), nn.Linear(2 * width * pooled * pooled, hidden), nn.ReLU()]
        if dropout:
            head.append(nn.Dropout(dropout))
        self.head = nn.Sequential(*head, nn.Linear(hidden, n_classes))

    @_forward_doc("(n_samples, in_channels, image_size, image_size): images")
    def forward(self, X):
        return self.head(self.features(X))


class _ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + x)


class SmallResNet(nn.Module):
    """A stem, two residual blocks and global pooling; the residual adds couple channels.

    Global average pooling makes the network accept images of any size.

    Parameters
    ----------
    n_classes, in_channels : int, default=10, 1
        Output units and input channels, as in :class:`SmallCNN`.
    width : int, default=16
        Channels of the stem and of both residual blocks.
    stem_stride : int, default=1
        Stride of the stem convolution; 2 halves the resolution the blocks
        work at (28x28 -> 14x14), for about a quarter of the FLOPs.
    """

    def __init__(self, n_classes=10, in_channels=1, width=16, stem_stride=1):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, stride=stem_stride, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        )
        self.blocks = nn.Sequential(_ResidualBlock(width), _ResidualBlock(width))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, n_classes)

    @_forward_doc("(n_samples, in_channels, height, width): images")
    def forward(self, X):
        return self.fc(self.pool(self.blocks(self.stem(X))).flatten(1))


def kim_embedding_init(embedding, bound=0.25):
    """Draw an embedding table from uniform(-bound, bound), as Kim (2014) does; padding rows zero.

    torch's default, N(0, 1), gives each token vector a norm of about ``sqrt(embedding_dim)``:
    far larger than the convolution and linear weights after it expect, so a network learns
    less from a few hundred labels (see :doc:`/text`). The reference text networks draw their
    tables this way; a user's own network keeps its own initialisation.

    Parameters
    ----------
    embedding : torch.nn.Embedding or torch.nn.EmbeddingBag
        Drawn in place (with torch's global generator).
    bound : float, default=0.25

    Returns
    -------
    embedding : torch.nn.Module
        The same layer.

    Examples
    --------
    >>> layer = kim_embedding_init(nn.Embedding(10, 4, padding_idx=0))
    >>> bool(layer.weight.abs().max() <= 0.25), layer.weight[0].abs().sum().item()
    (True, 0.0)
    """
    with torch.no_grad():
        nn.init.uniform_(embedding.weight, -bound, bound)
        if embedding.padding_idx is not None:
            embedding.weight[embedding.padding_idx].zero_()
    return embedding


class FastText(nn.Module):
    """fastText-style text classifier: the mean of the token embeddings, one hidden layer, logits.

    Takes int64 token ids of shape (n_samples, n_tokens), padded with id 0 (ignored in
    the mean), e.g. from :class:`prunefuse_sk.text.TokenIds`. Pruning removes embedding
    dimensions and hidden units, never vocabulary entries. The embedding table is drawn from
    uniform(-0.25, 0.25) (:func:`kim_embedding_init`).

    Parameters
    ----------
    n_ids : int
        Vocabulary size including padding and unknown (``TokenIds.n_ids_``).
    n_classes : int
        Number of output units.
    embedding_dim : int, default=64
    hidden : int, default=64

    Examples
    --------
    >>> net = FastText(n_ids=100, n_classes=3)
    >>> net(torch.tensor([[5, 7, 0, 0], [9, 1, 2, 3]])).shape
    torch.Size([2, 3])
    """

    def __init__(self, n_ids, n_classes, embedding_dim=64, hidden=64):
        super().__init__()
        self.embedding = kim_embedding_init(
            nn.EmbeddingBag(n_ids, embedding_dim, mode="mean", padding_idx=0)
        )
        self.hidden = nn.Linear(embedding_dim, hidden)
        self.output = nn.Linear(hidden, n_classes)

    @_forward_doc("(n_samples, n_tokens), int64: token ids")
    def forward(self, X):
        return self.output(torch.relu(self.hidden(self.embedding(X))))


class TextCNN(nn.Module):
    """Kim-style convolutional text classifier: embeddings, 1-D convolutions of widths 3/4/5,
    max-pool.

    Each width has ``n_filters`` filters followed by ReLU (with ``batch_norm=True``,
    BatchNorm before it; off by default: on 20 Newsgroups every selection method learned
    better without it, see ``benchmarks/README.md``); the maximum over positions of every
    filter is concatenated and mapped to logits. Takes int64 token ids of shape
    (n_samples, n_tokens) with ``n_tokens`` at least the widest kernel, padded with id 0.
    Pruning removes embedding dimensions and filters. The embedding table is drawn from
    uniform(-0.25, 0.25), as in Kim (2014) (:func:`kim_embedding_init`).

    Parameters
    ----------
    n_ids, n_classes : int
        Vocabulary size and output units, as in :class:`FastText`.
    embedding_dim : int, default=64
    n_filters : int, default=64
        Filters per width.
    dropout : float, default=0.5
        Dropout before the output layer.
    batch_norm : bool, default=False
        ``nn.BatchNorm1d`` after each convolution.
    kernel_sizes : tuple of int, default=(3, 4, 5)
        The convolutions' widths in tokens, one convolution each.

    Examples
    --------
    >>> net = TextCNN(n_ids=100, n_classes=3)
    >>> net(torch.randint(0, 100, (2, 20))).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        n_ids,
        n_classes,
        embedding_dim=64,
        n_filters=64,
        dropout=0.5,
        batch_norm=False,
        kernel_sizes=(3, 4, 5),
    ):
        super().__init__()
        kernel_sizes = tuple(kernel_sizes)
        if not kernel_sizes or any(
            isinstance(size, bool) or not isinstance(size, int) or size < 1 for size in kernel_sizes
        ):
            raise ValueError(
                f"kernel_sizes must be a non-empty sequence of positive ints (convolution "
                f"widths), got {kernel_sizes!r}."
            )
        self.kernel_sizes = kernel_sizes
        self.embedding = kim_embedding_init(nn.Embedding(n_ids, embedding_dim, padding_idx=0))
        self.convs = nn.ModuleList(
            nn.Conv1d(embedding_dim, n_filters, width) for width in kernel_sizes
        )
        self.norms = nn.ModuleList(
            nn.BatchNorm1d(n_filters) if batch_norm else nn.Identity() for _ in kernel_sizes
        )
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(n_filters * len(kernel_sizes), n_classes)

    @_forward_doc("(n_samples, n_tokens), int64: token ids")
    def forward(self, X):
        embedded = self.embedding(X).transpose(1, 2)  # (n, embedding_dim, n_tokens)
        pooled = [
            torch.relu(norm(conv(embedded))).amax(dim=2)
            for conv, norm in zip(self.convs, self.norms)
        ]
        return self.output(self.dropout(torch.cat(pooled, dim=1)))


class CharCNN(TextCNN):
    """A character-level convolutional text classifier: Kim's one-layer CNN on characters.

    Character embeddings, one 1-D convolution per width of ``kernel_sizes`` (3, 5 and 7
    characters: the n-grams that spell word stems and affixes) with ReLU, the maximum over
    positions of every filter, dropout and logits: :class:`TextCNN`'s layers, with the
    defaults for an alphabet. Takes int64 character ids of shape (n_samples, n_characters),
    ``n_characters`` at least the widest kernel, padded with id 0, e.g. from
    :class:`prunefuse_sk.text.CharIds`. Its cost lives in the convolutions, which pruning
    narrows, not in a vocabulary (the alphabet has about a hundred ids). The embedding table
    is drawn from uniform(-0.25, 0.25) (:func:`kim_embedding_init`).

    One layer, not the deep stacks of Zhang et al. (2015) or VDCNN, because active learning
    gives a network hundreds to thousands of labels, not the 120,000 to 3.6 million documents
    those were trained on: on 2,500 labelled 20 Newsgroups documents (512 characters, 10
    epochs, one seed) a four-layer Zhang-style CNN stayed near chance (0.08 test accuracy)
    and this one reached 0.50; on Reuters R8, 0.76 against 0.93 (``docs/text.rst``).

    Parameters
    ----------
    n_ids, n_classes : int
        Alphabet size including padding and unknown (``CharIds.n_ids_``), and output units.
    embedding_dim : int, default=32
    n_filters : int, default=64
        Filters per width.
    dropout : float, default=0.5
        Dropout before the output layer.
    batch_norm : bool, default=False
        ``nn.BatchNorm1d`` after each convolution.
    kernel_sizes : tuple of int, default=(3, 5, 7)
        The convolutions' widths in characters, one convolution each.

    Examples
    --------
    >>> net = CharCNN(n_ids=70, n_classes=4)
    >>> net(torch.randint(0, 70, (2, 100))).shape
    torch.Size([2, 4])
    """

    def __init__(
        self,
        n_ids,
        n_classes,
        embedding_dim=32,
        n_filters=64,
        dropout=0.5,
        batch_norm=False,
        kernel_sizes=(3, 5, 7),
    ):
        super().__init__(
            n_ids,
            n_classes,
            embedding_dim=embedding_dim,
            n_filters=n_filters,
            dropout=dropout,
            batch_norm=batch_norm,
            kernel_sizes=kernel_sizes,
        )

    @_forward_doc("(n_samples, n_characters), int64: character ids")
    def forward(self, X):
        return super().forward(X)


class SmallTransformer(nn.Module):
    """A small transformer encoder for text: token and position embeddings, encoder layers, mean
    pool, logits.

    Takes int64 token ids of shape (n_samples, n_tokens) with ``n_tokens <= max_length``,
    padded with id 0 (padding is masked in attention and left out of the mean). Pruning
    shrinks the feed-forward width of every encoder layer; the model width, the attention
    and the LayerNorms stay whole (pruning them would not fuse back exactly), with an
    :class:`~prunefuse_sk.exceptions.UnprunedLayerWarning` naming them.

    Parameters
    ----------
    n_ids, n_classes : int
        Vocabulary size and output units, as in :class:`FastText`.
    max_length : int, default=256
        Longest sequence (positions embedded).
    d_model : int, default=64
    n_heads : int, default=4
    feedforward : int, default=128
        Hidden width of each layer's feed-forward block (what pruning shrinks).
    n_layers : int, default=2
    dropout : float, default=0.1

    Examples
    --------
    >>> net = SmallTransformer(n_ids=100, n_classes=3, max_length=16)
    >>> net(torch.tensor([[5, 7, 0, 0], [9, 1, 2, 3]])).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        n_ids,
        n_classes,
        max_length=256,
        d_model=64,
        n_heads=4,
        feedforward=128,
        n_layers=2,
        dropout=0.1,
    ):
        super().__init__()
        self.embedding = nn.Embedding(n_ids, d_model, padding_idx=0)
        self.position = nn.Embedding(max_length, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, feedforward, dropout=dropout, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.output = nn.Linear(d_model, n_classes)

    @_forward_doc("(n_samples, n_tokens), int64: token ids")
    def forward(self, X):
        padding = X == 0
        padding = padding & ~padding.all(
            dim=1, keepdim=True
        )  # an all-padding row attends to itself
        positions = torch.arange(X.shape[1], device=X.device)
        hidden = self.encoder(
            self.embedding(X) + self.position(positions), src_key_padding_mask=padding
        )
        keep = (~padding).unsqueeze(2).to(hidden.dtype)
        return self.output((hidden * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1.0))


def default_estimator(n_features, n_classes):
    """The network used when ``estimator=None``: a small MLP sized from the data.

    Parameters
    ----------
    n_features : int
        Number of input features (product of the sample shape).
    n_classes : int
        Number of output units.

    Returns
    -------
    net : skorch.NeuralNetClassifier
        Unfitted; Adam, lr 0.01, 40 epochs, batch 64, no validation split.

    Examples
    --------
    >>> net = default_estimator(64, 10)
    >>> net.max_epochs, net.get_params()["module__n_classes"]
    (40, 10)
    """
    return NeuralNetClassifier(
        MLP,
        module__n_features=n_features,
        module__n_classes=n_classes,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.01,
        max_epochs=40,
        batch_size=64,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
    )
