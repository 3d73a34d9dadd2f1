"""Numpy arrays as images: ``(N, H, W[, C])``, flattened ``(N, H*W*C)`` with ``input_shape``, object arrays.

Checks the shape (and ``input_shape``) with a message saying how to reshape,
the pixel values once, and wraps the array in an :class:`ImageSet` that
converts each batch to uint8 ``(B, C, H, W)`` tensors as it is read. Object
arrays (pandas columns) are read as file paths, or refused when they hold
numbers.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from ._kinds import _item_kind
from ._messages import _missing_error, _scalar_error
from ._pixels import _check_values, _to_uint8
from ._set import ImageSet


def _check_input_shape(input_shape):
    """Return ``input_shape`` as a tuple of 2 or 3 positive ints (C in 1, 3, 4), or raise."""
    example = "e.g. input_shape=(8, 8) for scikit-learn's digits or (32, 32, 3) for small RGB images"
    if not isinstance(input_shape, (tuple, list, np.ndarray)) or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, (bool, np.bool_)) for s in np.ravel(input_shape)
    ):
        raise TypeError(
            f"input_shape must be a tuple of ints (H, W) or (H, W, C); got {input_shape!r}. "
            f"Pass the shape of one image, {example}."
        )
    shape = tuple(int(s) for s in np.ravel(input_shape))
    if len(shape) not in (2, 3) or min(shape) < 1 or (len(shape) == 3 and shape[2] not in (1, 3, 4)):
        raise ValueError(
            f"input_shape={shape} is not an image shape: it must be (H, W) or (H, W, C) with positive "
            f"H and W and C in 1, 3, 4. Pass the shape of one image, {example}."
        )
    return shape


def _channels_last_shape(shape, what):
    """Check an (H, W) or (H, W, C) image shape and return (H, W, C)."""
    if len(shape) == 2:
        shape = (*shape, 1)
    if len(shape) != 3 or shape[2] not in (1, 3, 4):
        if len(shape) == 3 and shape[0] in (1, 3, 4):
            hint = " It looks channels-first (C, H, W): move the channels last, e.g. X.transpose(0, 2, 3, 1)."
        elif len(shape) == 3 and shape[2] == 2:
            hint = " Two channels are usually gray + alpha: keep the gray one, e.g. X[..., 0]."
        elif len(shape) == 3:
            hint = " Keep 1 or 3 of its channels, e.g. X[..., :3], or reshape X to one image per row."
        else:
            hint = " Reshape X to one image per row."
        raise ValueError(
            f"{what} has image shape {tuple(shape)}; expected (H, W) or (H, W, C) with C in 1, 3, 4.{hint}"
        )
    if shape[0] < 1 or shape[1] < 1:
        raise ValueError(
            f"{what} holds empty images: image shape {tuple(shape)} has no pixels. Images need a height "
            "and a width of at least 1 pixel; drop the empty images or check how X was built."
        )
    return tuple(int(s) for s in shape)


def _from_array(X, input_shape):
    if X.ndim == 0:
        raise _scalar_error(X)
    if X.shape[0] == 0:
        raise ValueError(f"X is empty (shape {X.shape}); at least one image is needed. Pass a non-empty X.")
    if X.ndim == 1:
        raise ValueError(
            f"X is 1-D (shape {X.shape}). Pass one image per row: X.reshape(1, -1) "
            "for a single flattened image, with input_shape."
        )
    if X.ndim > 4:
        # Checked before input_shape, which is not what is wrong with a 5-D X.
        ones = tuple(a for a in range(1, X.ndim) if X.shape[a] == 1)
        hint = f" Drop its axes of size 1 with np.squeeze(X, axis={ones})." if len(ones) >= X.ndim - 4 else (
            " For several images per sample (e.g. video frames), reshape to one image per row, "
            "X.reshape(-1, *X.shape[-3:])."
        )
        raise ValueError(
            f"X has {X.ndim} dimensions (shape {X.shape}); images are (N, H, W), (N, H, W, C) with C in "
            f"1, 3, 4, or flattened (N, H*W*C) with input_shape.{hint}"
        )
    if X.ndim == 2:
        X = _unflatten(X, input_shape)
    elif input_shape is not None and tuple(X.shape[1:3]) != tuple(input_shape[:2]):
        raise ValueError(
            f"input_shape={tuple(input_shape)} does not match X of shape {X.shape}; "
            "input_shape is only needed for flattened (N, H*W*C) arrays: drop it or fix it."
        )
    h, w, c = _channels_last_shape(X.shape[1:], "X")
    _check_values(X, "X")

    def load(idx):
        batch = _to_uint8(X[idx]).reshape(len(idx), h, w, c)
        if c == 4:
            batch = batch[..., :3]
        # permute is a view; contiguous() makes the one copy we need anyway.
        return torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).contiguous()

    return ImageSet(load, len(X), "array", min(c, 3), (h, w))


def _unflatten(X, input_shape):
    n_features = X.shape[1]
    if n_features == 0:
        raise ValueError(
            f"X has 0 feature(s) (shape={X.shape}) while a minimum of 1 is required: images have pixels. "
            "Pass images with at least one pixel."
        )
    side = math.isqrt(n_features)
    square = f"input_shape=({side}, {side})" if side * side == n_features else None
    if input_shape is None:
        hint = f" such as {square}" if square else ""
        raise ValueError(
            f"X is a 2-D array of shape {X.shape}: flattened images need "
            f"input_shape=(H, W) or (H, W, C){hint}."
        )
    shape = _channels_last_shape(tuple(input_shape), "input_shape")
    if math.prod(shape) != n_features:
        hint = f" Pass input_shape with H * W * C = {n_features}" + (f", e.g. {square}." if square else ".")
        raise ValueError(
            f"input_shape={tuple(input_shape)} holds {math.prod(shape)} values per image, "
            f"but X has {n_features} columns.{hint}"
        )
    return X.reshape(len(X), *shape)


def _from_object_array(X):
    """An object array: a column of paths (returned as a list), or a clear error.

    Object arrays come from pandas columns and ``np.array(..., dtype=object)``;
    they are read as file paths, so numbers in them are reported, never taken
    for paths.
    """
    first = {}
    flat = X.ravel()
    for i, item in enumerate(flat):
        first.setdefault(_item_kind(item), i)

    def where(i):
        return "X[" + ", ".join(str(int(j)) for j in np.unravel_index(i, X.shape)) + "]"

    if "missing" in first:
        raise _missing_error(where(first["missing"]), flat[first["missing"]])
    if "number" in first:
        i = first["number"]
        if len(first) == 1:
            raise TypeError(
                f"X is an object array (dtype=object, shape {X.shape}) holding numbers, e.g. "
                f"{where(i)} = {flat[i]!r}; object arrays are read as file paths. Pass a numeric dtype array "
                "instead: X.astype(np.uint8) for pixels 0..255 or X.astype(np.float32) for floats in [0, 1]."
            )
        other = next(k for k in first if k != "number")
        j = first[other]
        raise TypeError(
            f"X is an object array mixing numbers ({where(i)} = {flat[i]!r}) and {other}s ({where(j)} = "
            f"{flat[j]!r}): X holds either images (a numeric array) or file paths, not both. Pass only "
            "the file paths (e.g. the path column of a table, df['path']) or only the pixels as a "
            "numeric array (X.astype(np.float32))."
        )
    return _path_column(X)


def _path_column(X):
    """A 1-D array of paths, or one column of them (``df[["path"]]``, as ColumnTransformer passes it), as a list."""
    if X.ndim == 2 and X.shape[1] == 1:
        X = X[:, 0]
    if X.ndim != 1:
        raise ValueError(
            f"An array of file paths must be 1-D; got shape {X.shape}. Pass one column of paths "
            "(df['path'] for a table), or X.ravel() for a grid of them."
        )
    return list(X)
