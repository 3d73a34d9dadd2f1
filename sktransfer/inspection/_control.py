"""A control task whose answer is known, for checking that explanations point where they should."""

from __future__ import annotations

import numpy as np

__all__ = ["patch_images"]


def patch_images(n_images, *, size=224, noise=0.25, random_state=0):
    """Gray noise with one bright patch in the left or right half; the class is the patch's colour.

    Only the patch decides the class (0: red, 1: green), so a faithful map
    puts its mass in the half that holds it. The patch is 5/16 of the side
    and stays at least a seventh of the side (one cell of a 7x7 feature map)
    away from the middle: a patch touching the middle would light the cells
    that straddle it, which no coarse map can place in one half. Used by
    ``tests/test_inspection.py`` and ``examples/explain_digits.py``.

    Parameters
    ----------
    n_images : int
        Number of images.
    size : int, default=224
        Side of the square images, in pixels.
    noise : float, default=0.25
        The gray noise is uniform in ``[0, noise]``.
    random_state : int, default=0
        Seed of the noise, the classes and the patches' places.

    Returns
    -------
    X : ndarray of shape (n_images, size, size, 3), float32 in [0, 1]
    y : ndarray of shape (n_images,), int
        The patch's colour: 0 red, 1 green.
    side : ndarray of shape (n_images,), int
        The half that holds the patch: 0 left, 1 right.

    Examples
    --------
    >>> from sktransfer.inspection import patch_images
    >>> X, y, side = patch_images(4, size=64, random_state=0)
    >>> X.shape, sorted(set(y.tolist()) | set(side.tolist())) <= [0, 1]
    ((4, 64, 64, 3), True)
    """
    rng = np.random.default_rng(random_state)
    p, margin = size * 5 // 16, size // 7
    X = rng.uniform(0, noise, (n_images, size, size, 1)).astype(np.float32) * np.ones(3, np.float32)
    y, side = rng.integers(0, 2, n_images), rng.integers(0, 2, n_images)
    for i in range(n_images):
        row = rng.integers(0, size - p)
        col = rng.integers(0, size // 2 - p - margin + 1) + side[i] * (size // 2 + margin)
        X[i, row : row + p, col : col + p] = [1.0, 0.2, 0.2] if y[i] == 0 else [0.2, 1.0, 0.2]
    return X, y, side
