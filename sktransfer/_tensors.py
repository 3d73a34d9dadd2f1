"""The tensor layer: uint8 image batches -> float images in [0, 1] on the device.

The input layer (:mod:`sktransfer.images`) yields uint8 batches on the CPU;
these functions move them to the device (as uint8: 4x fewer bytes than
float32) and convert, fix channels and resize there, a whole batch at once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._device import pin

__all__ = ["batch_to_device", "to_float_images"]


def to_float_images(batch, size, *, device="cpu", channels=None, non_blocking=False):
    """Move a uint8 batch to ``device`` and return float images in [0, 1].

    The uint8 batch crosses to the device first (4x fewer bytes than float32);
    conversion, channel fixing and the antialiased bilinear resize happen
    there, on the whole batch at once.

    Parameters
    ----------
    batch : torch.Tensor or list of torch.Tensor
        ``uint8`` ``(B, C, H, W)``, or a list of ``(C, H, W)`` of any sizes
        (float tensors are taken as already in [0, 1]).
    size : tuple of int
        Output ``(H, W)``.
    device : str or torch.device, default="cpu"
        Where to compute.
    channels : int, default=None
        Output channels: 1 averages RGB to gray, 3 repeats gray; None keeps.
    non_blocking : bool, default=False
        Asynchronous copy; use with pinned batches on CUDA.

    Returns
    -------
    images : torch.Tensor
        ``float32`` ``(B, channels, H, W)`` in [0, 1], on ``device``.

    Examples
    --------
    >>> import torch
    >>> from sktransfer._tensors import to_float_images
    >>> batch = torch.zeros(2, 1, 8, 8, dtype=torch.uint8)
    >>> to_float_images(batch, (32, 32), channels=3).shape
    torch.Size([2, 3, 32, 32])
    """
    size = tuple(int(s) for s in size)
    if isinstance(batch, torch.Tensor):
        parts = [batch]
    else:
        parts = [t[None] for t in batch]
    out = []
    for part in parts:
        x = part.to(device, non_blocking=non_blocking)
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
        if channels == 3 and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif channels == 1 and x.shape[1] == 3:
            x = x.mean(dim=1, keepdim=True)
        if tuple(x.shape[2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
        out.append(x)
    if len(out) == 1:
        return out[0].contiguous()
    # A list mixes gray and colour images only when channels is None.
    widest = max(x.shape[1] for x in out)
    return torch.cat([x.expand(-1, widest, -1, -1) for x in out]).contiguous()


def batch_to_device(batch, device, image_size, channels):
    """Move a batch from :meth:`ImageSet.iter_batches` to ``device``, as uint8 when it can.

    A stacked uint8 batch crosses as is (pinned, asynchronous on CUDA) and is
    converted on the device by the encoder. A list of images of differing
    sizes is resized there one by one and stacked, as float in [0, 1].
    """
    non_blocking = device.type == "cuda"
    batch = pin(batch, device)
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    return to_float_images(batch, image_size, device=device, channels=channels, non_blocking=non_blocking)
