"""Real data that ships inside installed packages (no downloads)."""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

__all__ = ["load_digits_images"]


def load_digits_images(*, test_size=0.25, random_state=0):
    """Load scikit-learn's handwritten digits as 1x8x8 float32 images, split for AL.

    The 1,797 images of :func:`sklearn.datasets.load_digits` ship with
    scikit-learn (no download). Pixel values 0..16 are scaled to [0, 1]; the
    split is stratified by label.

    Parameters
    ----------
    test_size : float, default=0.25
        Fraction of the samples held out as the test split (stratified).
    random_state : int, default=0
        Seed of the train/test shuffle, passed to
        :func:`sklearn.model_selection.train_test_split`.

    Returns
    -------
    X_pool : ndarray of shape (n_pool, 1, 8, 8), float32
        Images of the pool to label actively.
    X_test : ndarray of shape (n_test, 1, 8, 8), float32
        Held-out images.
    y_pool : ndarray of shape (n_pool,), int64
        Digit labels 0..9 of ``X_pool``.
    y_test : ndarray of shape (n_test,), int64
        Digit labels 0..9 of ``X_test``.
    """
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = y.astype(np.int64)
    return train_test_split(X, y, test_size=test_size, random_state=random_state, stratify=y)
