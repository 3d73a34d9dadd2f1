"""Checks and resolutions shared by the estimators: image sizes, head shapes, the unlabelled marker."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

__all__ = ["MAX_SIDE", "MIN_SIDE", "UNLABELED", "as_label_array", "check_hidden_units",
           "is_unlabeled", "resolve_image_size", "target_domain_mask", "unlabeled_mask"]

#: The label of an unlabelled image (scikit-learn's semi-supervised convention).
UNLABELED = -1

#: Image sides (pixels) the estimators accept for ``image_size``.
MIN_SIDE = 16
MAX_SIDE = 2048


def resolve_image_size(image_size, backbone):
    """``None`` -> the backbone's default; an int -> square; a pair -> itself.

    Examples
    --------
    >>> from sktransfer.backbones import get_backbone
    >>> from sktransfer._validation import resolve_image_size
    >>> bb = get_backbone("timm/test_resnet", weights=None)
    >>> resolve_image_size(None, bb), resolve_image_size(64, bb)
    ((160, 160), (64, 64))
    """
    if image_size is None:
        return tuple(backbone.input_size)
    size = (image_size, image_size) if isinstance(image_size, Integral) else tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, Integral) and not isinstance(s, bool) for s in size):
        raise ValueError(f"image_size must be a positive int or an (H, W) pair; got {image_size!r}.")
    if not all(MIN_SIDE <= s <= MAX_SIDE for s in size):
        raise ValueError(
            f"image_size={image_size!r} is outside {MIN_SIDE}..{MAX_SIDE} px: a backbone needs at least "
            f"{MIN_SIDE} px to keep any spatial detail through its strides (32 or more suits most), and more than "
            f"{MAX_SIDE} px would not fit a batch in memory. Use e.g. image_size=None for the backbone's "
            f"{tuple(backbone.input_size)}."
        )
    if backbone.extra.get("fixed_input_size") and size != tuple(backbone.input_size):
        raise ValueError(f"{backbone.name} only takes {backbone.input_size} images; got image_size={image_size!r}.")
    return size


def check_hidden_units(hidden_units):
    """``hidden_units`` as a tuple of positive ints, or a ValueError that shows the expected form.

    Examples
    --------
    >>> from sktransfer._validation import check_hidden_units
    >>> check_hidden_units([256, 64])
    (256, 64)
    """
    hidden = tuple(hidden_units)
    if not all(isinstance(u, Integral) and not isinstance(u, bool) and u >= 1 for u in hidden):
        raise ValueError(f"hidden_units must be a tuple of positive ints, e.g. (256,); got {hidden_units!r}.")
    return hidden


def is_unlabeled(value):
    """Whether one label is the unlabelled marker -1 (an int or float -1; never the string "-1")."""
    return isinstance(value, (Real, np.number)) and not isinstance(value, (bool, np.bool_)) and value == UNLABELED


def unlabeled_mask(y):
    """Boolean mask of the -1 entries of a 1-D label array (of any dtype)."""
    if y.dtype.kind in "iuf":
        return y == UNLABELED
    if y.dtype == object:
        return np.fromiter((is_unlabeled(v) for v in y), dtype=bool, count=len(y))
    return np.zeros(len(y), dtype=bool)


def as_label_array(y):
    """``y`` as an array; a list of strings with -1 markers stays an object array (numpy would make "-1")."""
    if hasattr(y, "shape"):
        return y
    if isinstance(y, (list, tuple)) and any(is_unlabeled(v) for v in y) and any(isinstance(v, str) for v in y):
        return np.asarray(y, dtype=object)
    return np.asarray(y)


def target_domain_mask(sample_domain, X):
    """Boolean mask of the target images of skada's ``sample_domain`` (negative), checked: 1-D numbers, one
    per image of ``X`` (when ``X`` has a length).

    Examples
    --------
    >>> from sktransfer._validation import target_domain_mask
    >>> target_domain_mask([1, -2, 1], X=[0, 0, 0]).tolist()
    [False, True, False]
    >>> target_domain_mask([1, -2], X=[0, 0, 0])
    Traceback (most recent call last):
    ...
    ValueError: sample_domain has shape (2,) but X has 3 images; pass one domain per image (positive: source, negative: target).
    """
    domain = np.asarray(sample_domain)
    n_images = len(X) if hasattr(X, "__len__") else None
    if domain.ndim != 1 or (n_images is not None and len(domain) != n_images):
        raise ValueError(f"sample_domain has shape {domain.shape} but X has {n_images} images; pass one domain "
                         "per image (positive: source, negative: target).")
    if domain.dtype.kind not in "iuf":
        raise ValueError(f"sample_domain must hold numbers (positive: source, negative: target); got dtype "
                         f"{domain.dtype}.")
    return domain < 0
