"""Python lists as images: of file paths, of PIL images, of ``(H, W[, C])`` arrays, or nested lists of numbers.

The list's items decide how it is read; mixed or missing items are refused
with a message naming the first one. Images in a list may differ in size:
a batch is then a list of ``(C, H, W)`` tensors. Nested lists (``X.tolist()``)
are read as the array they came from.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ._arrays import _channels_last_shape, _from_array
from ._files import _from_paths
from ._kinds import _item_kind
from ._messages import _masked_error, _missing_error
from ._pil import _check_open, _pil_to_tensor
from ._pixels import _check_values, _to_uint8
from ._set import ImageSet, _common_size, _stack_if_uniform


def _from_list(X: Sequence, input_shape):
    if len(X) == 0:
        raise ValueError("X is an empty list; at least one image is needed. Pass a non-empty list.")
    first = {}
    for i, item in enumerate(X):
        first.setdefault(_item_kind(item), i)
    if "missing" in first:
        raise _missing_error(f"X[{first['missing']}]", X[first["missing"]])
    if "masked" in first:
        raise _masked_error(f"X[{first['masked']}]")
    if len(first) > 1:
        detail = ", ".join(f"{k} (e.g. X[{i}])" for k, i in sorted(first.items()))
        raise TypeError(
            f"X mixes item types: {detail}. Pass one kind of image per X: all file paths, all PIL "
            "images or all arrays."
        )
    kind, bad = first.popitem()
    if kind == "path":
        return _from_paths(X)
    if kind == "pil":
        return _from_pil_list(X)
    if kind == "array":
        return _from_array_list(X)
    if kind == "nested":
        return _from_nested(X, input_shape)
    hint = ""
    if kind == "number":
        hint = (" A flat list of numbers is one flattened image: pass [X] with input_shape, "
                "or an array np.asarray(X).reshape(1, H, W).")
    elif kind == "Tensor":
        hint = " Stack tensors into one: torch.stack(X), (N, C, H, W)."
    elif kind == "bytes":
        hint = " Decode byte paths first: [p.decode() for p in X]."
    raise TypeError(
        f"X[{bad}] is a {type(X[bad]).__name__}; list items must be PIL images, "
        f"numpy arrays (H, W[, C]) or file paths.{hint}"
    )


def _from_nested(X, input_shape):
    """Nested Python lists of numbers (``X.tolist()``): read as the array they came from."""
    try:
        arr = np.asarray(X)
    except ValueError:  # ragged: images of different sizes, one array each
        arr = None
    if arr is not None and arr.dtype.kind in "biuf":
        return _from_array(arr, input_shape)
    if arr is not None and arr.dtype.kind != "O":
        raise TypeError(
            f"X is a nested list of {arr.dtype} values, not numbers. Images are numbers: pass pixels "
            "(uint8 0..255 or floats in [0, 1]), or a flat list of file paths."
        )
    items = []
    for i, item in enumerate(X):
        try:
            part = np.asarray(item)
        except ValueError:
            part = None
        if part is None or part.dtype.kind not in "biuf":
            raise TypeError(
                f"X[{i}] is a nested list that is not a rectangular grid of numbers (H, W) or (H, W, C). "
                "Pass each image as equal-length rows of numbers, or as a numpy array."
            )
        items.append(part)
    return _from_array_list(items)


def _from_pil_list(X):
    images = list(X)  # a shallow copy, so a caller appending later changes nothing
    for i, im in enumerate(images):
        _check_open(im, f"X[{i}]")  # up front: fit fails at once, not at the first batch

    def load(idx):
        return _stack_if_uniform([_pil_to_tensor(images[i], f"X[{i}]") for i in idx])

    return ImageSet(load, len(images), "list", None, _common_size(im.size[::-1] for im in images))


def _from_array_list(X):
    images = list(X)
    for i, arr in enumerate(images):
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"X[{i}] has dtype {arr.dtype}; images are numbers. Pass uint8 pixels 0..255 or floats in [0, 1]."
            )
        _channels_last_shape(arr.shape, f"X[{i}]")
        _check_values(arr, f"X[{i}]")

    def load(idx):
        out = []
        for i in idx:
            arr = _to_uint8(images[i])
            arr = arr[:, :, None] if arr.ndim == 2 else arr[:, :, :3]
            out.append(torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).contiguous())
        return _stack_if_uniform(out)

    channels = {1 if a.ndim == 2 else min(a.shape[2], 3) for a in images}
    channels = channels.pop() if len(channels) == 1 else None
    return ImageSet(load, len(images), "list", channels, _common_size(a.shape[:2] for a in images))
