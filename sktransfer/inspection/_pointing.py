"""The pointing check: does each map's strongest point fall on the evidence?"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_dilation

__all__ = ["pointing_score"]


def pointing_score(maps, masks, *, tolerance=0):
    """Share of maps whose maximum falls inside the evidence (the pointing game).

    Zhang et al. (2018, "Top-down neural attention by excitation backprop"):
    a map *hits* when its highest point lies on the object that decides the
    output. It asks less than the deletion score (only where the peak is, not
    how the rest is ranked) and needs to know where the evidence is, which a
    control task (:func:`patch_images` with ``return_mask=True``) or a user's
    own annotations give. A map whose maximum is reached at several pixels
    hits only when all of them are inside, so a constant map (no evidence
    found) misses unless the evidence covers the whole image.

    Parameters
    ----------
    maps : ndarray of shape (n_images, H, W), list of (H_i, W_i) arrays, or the Bunch ``explain`` returns
        One map per image; higher means more important.
    masks : ndarray of shape (n_images, H, W) or list of (H_i, W_i) arrays, bool
        True where the evidence is, one mask per map, of the map's shape.
    tolerance : int, default=0
        Pixels of slack: a maximum within ``tolerance`` pixels (8-neighbour
        steps) of the evidence counts as inside (the original game used 15
        pixels at 224).

    Returns
    -------
    score : float
        The share of maps that hit, in [0, 1]; higher is better. A map drawn
        at random hits with probability about the evidence's share of the image.

    See Also
    --------
    deletion_score : Whether deleting what the map ranks first makes the prediction fall.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.inspection import patch_images, pointing_score
    >>> X, y, side, mask = patch_images(4, size=32, return_mask=True, random_state=0)
    >>> pointing_score(X.sum(axis=3), mask)  # the brightness points at the patch
    1.0
    >>> pointing_score(np.zeros((4, 32, 32)), mask)  # a map without a peak points nowhere
    0.0
    """
    if hasattr(maps, "maps"):  # the Bunch explain() returns
        maps = maps.maps
    maps, masks = _as_list(maps, "maps"), _as_list(masks, "masks")
    if len(maps) != len(masks):
        raise ValueError(f"maps has {len(maps)} maps and masks {len(masks)} masks; pass one mask per map.")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, np.integer)) or tolerance < 0:
        raise ValueError(f"tolerance must be an int >= 0 (pixels); got {tolerance!r}.")
    hits = [_hit(m, k.astype(bool), tolerance, i) for i, (m, k) in enumerate(zip(maps, masks))]
    return float(np.mean(hits)) if hits else float("nan")


def _as_list(arrays, name):
    if isinstance(arrays, np.ndarray) and arrays.dtype != object:
        if arrays.ndim != 3:
            raise ValueError(f"{name} has shape {arrays.shape}; pass one (H, W) array per image, shape "
                             "(n_images, H, W).")
        return list(arrays)
    return [np.asarray(a) for a in arrays]


def _hit(m, mask, tolerance, i):
    """Whether every maximum of map ``m`` lies inside ``mask`` grown by ``tolerance`` pixels."""
    m = np.asarray(m, dtype=np.float64)
    if m.shape != mask.shape:
        raise ValueError(f"maps[{i}] has shape {m.shape} but masks[{i}] {mask.shape}; pass masks at the maps' "
                         "resolution (the images' own, as explain() returns them).")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"maps[{i}] holds NaN or infinite values; pass finite maps.")
    if tolerance:
        mask = binary_dilation(mask, np.ones((3, 3), bool), iterations=tolerance)
    return bool(mask[m == m.max()].all())
