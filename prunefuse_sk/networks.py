"""Small reference networks: the default MLP and the demo's CNNs.

Each returns logits (use ``criterion=torch.nn.CrossEntropyLoss``) and flattens with
``nn.Flatten``/``flatten(1)`` so that pruning may change widths freely.
"""

import torch
from skorch import NeuralNetClassifier
from torch import nn

__all__ = ["MLP", "SmallCNN", "SmallResNet", "default_estimator"]


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

    def forward(self, X):
        """Compute the logits of a batch.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, ...)
            Input batch; flattened to (n_samples, n_features) first.

        Returns
        -------
        logits : torch.Tensor of shape (n_samples, n_classes)
            Unnormalized class scores.
        """
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

    def __init__(self, n_classes=10, in_channels=1, image_size=8, width=32, hidden=128, dropout=0.0):
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

    def forward(self, X):
        """Compute the logits of a batch of images.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, in_channels, image_size, image_size)
            Input images.

        Returns
        -------
        logits : torch.Tensor of shape (n_samples, n_classes)
            Unnormalized class scores.
        """
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
    n_classes : int, default=10
        Number of output units (logits).
    in_channels : int, default=1
        Channels of the input images.
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

    def forward(self, X):
        """Compute the logits of a batch of images of shape (n_samples, in_channels, height, width).

        See :meth:`SmallCNN.forward`.
        """
        return self.fc(self.pool(self.blocks(self.stem(X))).flatten(1))


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
