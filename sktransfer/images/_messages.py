"""Error messages shared by several input forms: masked arrays, single paths, scalars, holes, bad ranges.

Each builder returns the exception (it never raises), so the caller's
``raise`` shows where the problem was found; every message says what was
wrong and what to pass instead.
"""

from __future__ import annotations

import os

from ._kinds import _PATH_TYPES


def _masked_error(what):
    return TypeError(
        f"{what} is a numpy masked array (numpy.ma): images have no mask, and reading it would silently "
        f"use the hidden values under the mask. Fill the masked pixels first, e.g. {what}.filled(0) "
        f"(or {what}.filled(255) for white), then pass that plain array."
    )


def _single_path_error(path):
    path = str(os.fspath(path))  # str(): numpy's str_ would show as np.str_('...')
    if os.path.isdir(path):
        return TypeError(
            f"X is a single folder path {path!r}, not images. Pass a list of its image files, e.g. "
            f"sorted(glob.glob(os.path.join({path!r}, '*.png'))); a folder with one sub-folder per class "
            "is a dataset for `sktransfer benchmark` (or sktransfer.benchmark.load_dataset)."
        )
    return TypeError(f"X is a single path {path!r}; pass a list of paths, e.g. [{path!r}], even for one image.")


def _scalar_error(X):
    value = X.item()
    if isinstance(value, _PATH_TYPES):
        return _single_path_error(value)
    return ValueError(
        f"X must be images, got a scalar ({value!r}, dtype {X.dtype}). Pass an array of images "
        "(N, H, W) or (N, H, W, C), a torch tensor (N, C, H, W), a list of PIL images or a list of file paths."
    )


def _missing_error(where, item):
    return ValueError(
        f"{where} is missing ({item!r}) where an image or a file path was expected. Drop missing entries "
        "first, e.g. paths = [p for p in paths if isinstance(p, str)] or series.dropna() for pandas."
    )


def _float_range_error(what, lo, hi, integral):
    """The message for floats outside [0, 1]: what was found and what to divide by."""
    if lo < 0.0:
        return ValueError(
            f"Negative values in data passed to {what}: it holds floats in [{lo:g}, {hi:g}], but float images "
            f"must lie in [0, 1] (integer images in 0..255); min found = {lo:g}. Rescale to [0, 1] first, "
            "e.g. (X - X.min()) / (X.max() - X.min())."
        )
    hints = []
    if hi <= 1.001:
        hints.append("np.clip(X, 0, 1) if the excess is rounding error")
    if integral and hi <= 16.0:
        hints.append("X / 16.0 for scikit-learn's digits (0..16)")
    if hi <= 255.0:
        hints.append("X / 255.0 for pixels 0..255")
        if integral:
            hints.append("or X.astype(np.uint8)")
    hints.append("X / X.max() otherwise")
    return ValueError(
        f"{what} holds floats in [{lo:g}, {hi:g}], but float images must lie in [0, 1] (integer images "
        f"in 0..255); max found = {hi:g}. Divide by 255 or by the max: {', '.join(hints)}."
    )


def _int_range_error(what, lo, hi):
    lead = f"Negative values in data passed to {what}: it" if lo < 0 else what
    sixteen = (
        " If they are 16-bit pixels, X.astype(np.uint16) reads them as such (0..65535, divided by 257)."
        if lo >= 0 and hi <= 65535 else ""
    )
    return ValueError(
        f"{lead} holds integers in [{lo}, {hi}], but integer images must lie in 0..255 (floats in [0, 1]). "
        f"Rescale to floats in [0, 1] (e.g. (X - X.min()) / (X.max() - X.min())) or to uint8.{sixteen}"
    )
