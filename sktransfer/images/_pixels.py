"""Pixel values of numpy images: checking their range once, and converting them to uint8.

Integers must lie in 0..255, floats in [0, 1]; bool is binary (True is
white); uint16 is a 16-bit image, scaled by 1/257. The check runs once, on
the whole array, before any batch is read; the conversion runs per batch.
"""

from __future__ import annotations

import warnings

import numpy as np

from ._messages import _float_range_error, _int_range_error


def _is_16bit(dtype):
    return dtype.kind == "u" and dtype.itemsize == 2


def _require_finite(values, message):
    if not np.isfinite(values).all():
        raise ValueError(message)


def _check_values(values, what):
    """Check the pixel range of a whole numeric array, once, up front."""
    if values.size == 0 or values.dtype.kind == "b":
        return  # every bool is a valid pixel
    if _is_16bit(values.dtype):  # every uint16 is a valid 16-bit pixel, but 8-bit pixels stored as uint16 are likely
        hi = int(values.max())
        if 0 < hi <= 255:
            warnings.warn(
                f"{what} is uint16 with values up to {hi} only: uint16 is read as 16-bit (0..65535, divided by "
                "257), so these images come out nearly black. If they hold 8-bit pixels, pass X.astype(np.uint8).",
                UserWarning,
                stacklevel=4,
            )
        return
    if values.dtype.kind == "f":
        _require_finite(values, f"{what} contains NaN or infinity; images must be finite. Replace them first, "
                                "e.g. np.nan_to_num(X, nan=0.0, posinf=1.0, neginf=0.0).")
        lo, hi = float(values.min()), float(values.max())
        if lo < 0.0 or hi > 1.0:
            raise _float_range_error(what, lo, hi, bool(np.all(np.mod(values, 1) == 0)))
    elif values.dtype.kind in "iu" and values.dtype != np.uint8:
        lo, hi = int(values.min()), int(values.max())
        if lo < 0 or hi > 255:
            raise _int_range_error(what, lo, hi)


def _to_uint8(values):
    """Convert a validated numeric array (any supported dtype) to uint8."""
    if values.dtype == np.uint8:
        return values
    if values.dtype.kind == "b":
        return values.astype(np.uint8) * np.uint8(255)  # binary images: True is white
    if values.dtype.kind == "f":
        return np.rint(values * 255.0).astype(np.uint8)
    if _is_16bit(values.dtype):
        # round(v / 257): 257 maps 0..255 onto 0..65535 exactly (255 * 257 = 65535).
        return ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return values.astype(np.uint8)
