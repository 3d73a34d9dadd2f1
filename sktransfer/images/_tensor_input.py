"""Torch tensors as images: ``(N, C, H, W)`` or ``(N, H, W)``, on any device, any pixel dtype.

Checks the shape and the values once; each batch is indexed on the
tensor's device, brought to the CPU and converted to uint8 there, the same
way numpy arrays of that dtype are.
"""

from __future__ import annotations

import torch

from ._messages import _float_range_error, _int_range_error
from ._set import ImageSet


def _from_tensor(X):
    _check_tensor_kind(X)
    if X.ndim == 0:
        raise ValueError(
            f"X must be images, got a scalar tensor ({X.item()!r}). Pass a tensor (N, C, H, W) of images."
        )
    if X.ndim == 3:
        X = X[:, None]
    if X.ndim != 4 or X.shape[0] == 0:
        raise ValueError(
            f"A tensor X must be (N, C, H, W) or (N, H, W) with N >= 1; got shape {tuple(X.shape)} "
            f"({X.ndim} dimensions). Reshape it to one image per row, e.g. X.reshape(-1, *X.shape[-3:])."
        )
    if X.shape[1] not in (1, 3, 4):
        raise ValueError(
            f"Tensor X has {X.shape[1]} channels (shape {tuple(X.shape)}); tensors are "
            "(N, C, H, W) with C in 1, 3, 4. Use X.permute(0, 3, 1, 2) for channels-last."
        )
    if X.shape[2] < 1 or X.shape[3] < 1:
        raise ValueError(
            f"Tensor X holds empty images (shape {tuple(X.shape)}): height and width must be at least 1. "
            "Drop the empty images or check how X was built."
        )
    if X.is_complex():
        raise TypeError(
            f"Tensor X has dtype {X.dtype}; expected uint8, integers, bool or floats in [0, 1]. "
            "Pass X.abs() or X.real, scaled to [0, 1]."
        )
    X = X.detach()
    _check_tensor_values(X)
    c = int(X.shape[1])

    def load(idx):
        batch = X[torch.from_numpy(idx).to(X.device)].cpu()
        if batch.dtype.is_floating_point:
            batch = batch.mul(255.0).round_().to(torch.uint8)
        elif batch.dtype == torch.bool:
            batch = batch.to(torch.uint8).mul_(255)  # binary images: True is white
        elif batch.dtype == torch.uint16:
            batch = batch.to(torch.int32).add_(128).div_(257, rounding_mode="floor").to(torch.uint8)
        else:
            batch = batch.to(torch.uint8)
        return batch[:, :3].contiguous() if c == 4 else batch.contiguous()

    return ImageSet(load, len(X), "tensor", min(c, 3), tuple(X.shape[2:]))


def _check_tensor_kind(X):
    """Refuse tensors whose values cannot be read as pixels here: sparse, meta, quantized, 8-bit floats."""
    if X.layout != torch.strided:
        raise TypeError(
            f"Tensor X is sparse ({X.layout}); images are dense. Pass X.to_dense()."
        )
    if X.is_meta:
        raise ValueError(
            "Tensor X is on the 'meta' device: it has a shape but no values to read. Pass a tensor holding "
            "the images' pixels (e.g. built on 'cpu')."
        )
    if X.is_quantized:
        raise TypeError(f"Tensor X is quantized ({X.dtype}); pass X.dequantize(), scaled to floats in [0, 1].")
    if X.dtype.is_floating_point and X.dtype.itemsize == 1:  # float8: most CPU operations are not implemented
        raise TypeError(
            f"Tensor X has dtype {X.dtype}, which torch cannot compute with on the CPU. Pass X.float() "
            "(floats in [0, 1]) or X.to(torch.uint8) for pixels 0..255."
        )


def _check_tensor_values(X):
    if X.dtype in (torch.bool, torch.uint8, torch.uint16):
        return  # every value is a valid pixel (uint16: a 16-bit image)
    if X.dtype.is_floating_point:
        if not torch.isfinite(X).all():
            raise ValueError(
                "X contains NaN or infinity; images must be finite. Replace them first, "
                "e.g. torch.nan_to_num(X, nan=0.0, posinf=1.0, neginf=0.0)."
            )
        lo, hi = float(X.min()), float(X.max())
        if lo < 0.0 or hi > 1.0:
            raise _float_range_error("X", lo, hi, bool((X == X.round()).all()))
    else:
        wide = X.to(torch.int64) if X.dtype in (torch.uint32, torch.uint64) else X  # min/max need signed
        lo, hi = int(wide.min()), int(wide.max())
        if lo < 0 or hi > 255:
            raise _int_range_error("X", lo, hi)
