"""Real data that ships inside installed packages (no downloads)."""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

__all__ = ["load_digits_images"]


def load_digits_images(*, test_size=0.25, random_state=0):
    """scikit-learn's handwritten digits as 1x8x8 float32 images in [0, 1], split for AL.

    Parameters
    ----------
    test_size : float, default=0.25
        Fraction held out (stratified).
    random_state : int, default=0

    Returns
    -------
    X_pool : ndarray of shape (n_pool, 1, 8, 8), float32
    X_test : ndarray of shape (n_test, 1, 8, 8), float32
    y_pool : ndarray of shape (n_pool,), int64
    y_test : ndarray of shape (n_test,), int64
    """
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = y.astype(np.int64)
    return train_test_split(X, y, test_size=test_size, random_state=random_state, stratify=y)
