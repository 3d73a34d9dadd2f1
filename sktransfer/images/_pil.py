"""Decoding one PIL image to uint8 pixels, keeping what its mode means.

16-bit modes are scaled by 1/257 and mode ``I`` and ``F`` images are read
by their value range, where ``convert("L")`` would clip them; RGBA and LA
lose alpha. Used for lists of PIL images and for image files alike.
"""

from __future__ import annotations

import numpy as np
import torch

from ._pixels import _require_finite, _to_uint8


def _check_open(img, origin):
    """Refuse a PIL image whose pixels can no longer be read: closed, or its file closed before it was loaded.

    ``with Image.open(path) as img: ...`` closes the file on leaving the block
    and Pillow reads pixels lazily, so an image never loaded inside the block
    has nothing left to read (Pillow then fails with a bare AssertionError);
    ``img.close()`` discards loaded pixels too.
    """
    core = img.__dict__.get("_im", img.__dict__.get("im"))  # Pillow's pixel store (named ``im`` before 10.1)
    closed = type(core).__name__ == "DeferredError"  # what img.close() leaves
    unread = core is None and bool(getattr(img, "tile", None)) and getattr(img, "fp", "no file") is None
    if closed or unread:
        raise ValueError(
            f"{origin} is a closed PIL image: closed by img.close(), or used after leaving `with "
            "Image.open(path) as img:` before its pixels were read, so Pillow has no pixels left to give. Pass "
            "the file path instead, or keep a loaded copy inside the `with` block: img.copy() (or img.load())."
        )


def _pil_to_uint8(img, origin):
    """Decode one PIL image to a uint8 array (H, W) or (H, W, 3), keeping what its mode means.

    ``convert("L")`` would clip 16-bit and float images to 0..255 (a [0, 1]
    float image comes out black), so those modes are scaled here instead; see
    :mod:`sktransfer.images` for the rules.
    """
    mode = img.mode
    if mode in ("L", "RGB"):
        return np.asarray(img, dtype=np.uint8)
    if mode == "1":
        return np.asarray(img.convert("L"))  # 0 or 255
    if mode in ("LA", "La"):
        return np.asarray(img)[..., 0]  # gray without alpha
    if mode.startswith("I;16"):
        return _to_uint8(np.asarray(img).astype(np.uint16))  # any byte order to native, then / 257
    if mode in ("I", "F"):
        values = np.asarray(img)
        if values.size == 0:
            return values.astype(np.uint8)
        return _int32_image(values, origin) if mode == "I" else _float32_image(values, origin)
    try:
        return np.asarray(img.convert("RGB"))
    except ValueError as exc:
        raise ValueError(
            f"{origin} has PIL mode {mode!r}, which Pillow cannot convert to RGB ({exc}). Convert it "
            "yourself first (e.g. to 'RGB' or 'L') and pass the result."
        ) from exc


def _mode_range_error(origin, mode, found, neither, target):
    """The message for a mode ``I`` or ``F`` image whose values fit none of the ranges that mode is read by."""
    return ValueError(
        f"{origin} is a PIL mode {mode} image with values in {found}: neither {neither} pixels. Rescale it "
        f"first, e.g. to {target}: a = np.asarray(img); (a - a.min()) / (a.max() - a.min())."
    )


def _int32_image(values, origin):
    """PIL mode ``I``: 8-bit when all values fit 0..255, else a 16-bit range (/ 257)."""
    lo, hi = int(values.min()), int(values.max())
    if lo < 0 or hi > 65535:
        raise _mode_range_error(origin, "'I' (32-bit integer)", f"[{lo}, {hi}]",
                                "8-bit (0..255) nor 16-bit (0..65535)", "floats in [0, 1]")
    if hi <= 255:
        return values.astype(np.uint8)
    return _to_uint8(values.astype(np.uint16))


def _float32_image(values, origin):
    """PIL mode ``F``: [0, 1] scaled by 255, [0, 255] taken as 8-bit pixels."""
    _require_finite(values, f"{origin} is a PIL mode 'F' (float) image holding NaN or infinity. Replace them "
                            "first, e.g. Image.fromarray(np.nan_to_num(np.asarray(img))).")
    lo, hi = float(values.min()), float(values.max())
    if lo < 0.0 or hi > 255.0:
        raise _mode_range_error(origin, "'F' (float)", f"[{lo:g}, {hi:g}]", "[0, 1] nor 0..255", "[0, 1]")
    return np.rint(values * 255.0 if hi <= 1.0 else values).astype(np.uint8)


def _pil_to_tensor(img, origin):
    """Decode one PIL image to a (C, H, W) uint8 tensor with C in 1, 3."""
    _check_open(img, origin)
    arr = _pil_to_uint8(img, origin)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.size == 0:
        raise ValueError(f"{origin} is an empty image (size {img.size}); drop it from X.")
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()
