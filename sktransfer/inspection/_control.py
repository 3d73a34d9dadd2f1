"""A control task whose answer is known, for checking that explanations point where they should."""

from __future__ import annotations

import numpy as np

__all__ = ["patch_images"]

#: Patch colours: red, green, blue, then yellow, magenta, cyan (a class per colour with ``label="colour"``).
COLOURS = ((1.0, 0.2, 0.2), (0.2, 1.0, 0.2), (0.2, 0.2, 1.0), (1.0, 1.0, 0.2), (1.0, 0.2, 1.0), (0.2, 1.0, 1.0))
LABELS = ("colour", "half")
SPLITS = ("vertical", "horizontal")


def patch_images(n_images, *, size=224, noise=0.25, label="colour", split="vertical", n_classes=2,
                 patch_size=None, margin=None, return_mask=False, random_state=0):
    """Gray noise with one bright patch in one half of each image; only the patch decides the class.

    The class is the patch's colour (``label="colour"``) or the half that
    holds it (``label="half"``), so a faithful map puts its mass in the half
    that holds the patch, and its maximum inside the patch. By default the
    patch is 5/16 of the side and stays at least a seventh of the side (one
    cell of a 7x7 feature map) away from the middle: a patch touching the
    middle lights the cells that straddle it, which no coarse map can place
    in one half. ``margin=0`` lets patches touch the middle (the harder
    control). Used by ``tests/inspection``, ``tests/slow`` and
    ``examples/explain_digits.py``.

    Parameters
    ----------
    n_images : int
        Number of images.
    size : int, default=224
        Side of the square images, in pixels.
    noise : float, default=0.25
        The gray noise is uniform in ``[0, noise]``.
    label : {"colour", "half"}, default="colour"
        What the class is: the patch's colour (0 red, 1 green, 2 blue, ...),
        or its half (then ``y == side`` and the patch is white).
    split : {"vertical", "horizontal"}, default="vertical"
        The halves: left and right, or top and bottom.
    n_classes : int, default=2
        Number of colours with ``label="colour"`` (2 to 6); must be 2 with ``label="half"``.
    patch_size : int or None, default=None
        Side of the patch in pixels; None: ``size * 5 // 16``.
    margin : int or None, default=None
        Least distance, in pixels, between the patch and the middle; None: ``size // 7``.
    return_mask : bool, default=False
        Also return where the patch is (the evidence, e.g. for :func:`pointing_score`).
    random_state : int, default=0
        Seed of the noise, the classes and the patches' places.

    Returns
    -------
    X : ndarray of shape (n_images, size, size, 3), float32 in [0, 1]
    y : ndarray of shape (n_images,), int
        The class: the patch's colour, or its half.
    side : ndarray of shape (n_images,), int
        The half that holds the patch: 0 left (top), 1 right (bottom).
    mask : ndarray of shape (n_images, size, size), bool
        Only with ``return_mask``: True on the patch.

    Examples
    --------
    >>> from sktransfer.inspection import patch_images
    >>> X, y, side = patch_images(4, size=64, random_state=0)
    >>> X.shape, sorted(set(y.tolist()) | set(side.tolist())) <= [0, 1]
    ((4, 64, 64, 3), True)
    >>> X, y, side, mask = patch_images(4, size=64, label="half", split="horizontal", patch_size=12, margin=0,
    ...                                 return_mask=True)
    >>> bool((y == side).all()), mask.shape, int(mask[0].sum())
    (True, (4, 64, 64), 144)
    """
    p, margin = _check_control(size, label, split, n_classes, patch_size, margin)
    rng = np.random.default_rng(random_state)
    X = rng.uniform(0, noise, (n_images, size, size, 1)).astype(np.float32) * np.ones(3, np.float32)
    y, side = rng.integers(0, n_classes, n_images), rng.integers(0, 2, n_images)
    if label == "half":
        y = side.copy()
    mask = np.zeros((n_images, size, size), dtype=bool)
    for i in range(n_images):
        across = rng.integers(0, size - p)  # along the split line
        toward = rng.integers(0, size // 2 - p - margin + 1) + side[i] * (size - size // 2 + margin)
        row, col = (across, toward) if split == "vertical" else (toward, across)
        X[i, row : row + p, col : col + p] = (1.0, 1.0, 1.0) if label == "half" else COLOURS[y[i]]
        mask[i, row : row + p, col : col + p] = True
    return (X, y, side, mask) if return_mask else (X, y, side)


def _check_control(size, label, split, n_classes, patch_size, margin):
    """The patch's side and margin, or a ValueError naming the parameter to change."""
    if label not in LABELS:
        raise ValueError(f"label={label!r} is not one of {LABELS}.")
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not one of {SPLITS}.")
    if not 2 <= n_classes <= len(COLOURS) or (label == "half" and n_classes != 2):
        raise ValueError(f"n_classes={n_classes!r}: use 2 to {len(COLOURS)} colours with label='colour', "
                         "and 2 with label='half' (two halves).")
    p = size * 5 // 16 if patch_size is None else int(patch_size)
    margin = size // 7 if margin is None else int(margin)
    if p < 1 or margin < 0 or p + margin > size // 2:
        raise ValueError(f"a patch of {p} pixels {margin} pixels from the middle does not fit in half of a "
                         f"{size}-pixel image; use a smaller patch_size or margin.")
    return p, margin
