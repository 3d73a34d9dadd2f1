"""Batch augmentation on the device, for the training batches of the fine-tuned estimators.

torchvision's v2 transforms, called on a batch tensor, draw *one* set of
random parameters for the whole batch. :class:`BatchAugment` draws them per
image and applies them to the whole batch in one ``grid_sample`` call, so it
runs on the GPU at the cost of a single kernel, with no per-image Python loop.

The presets never flip and only rotate by a few degrees: a horizontally
flipped "2" or a rotated "6" is a different label. Use a callable of your own
when flips are safe for your data.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PRESETS", "BatchAugment", "resolve_augment"]

#: ITU-R BT.601 luma weights: the gray value saturation jitter scales colour around.
_LUMA = (0.299, 0.587, 0.114)

PRESETS = {
    # A small random-resized crop (zoom in by up to 15%, i.e. keep 75-100% of
    # the area), a shift of up to 8% and mild brightness/contrast jitter.
    "light": dict(scale=(1.0, 1.15), translate=0.08, brightness=0.15, contrast=0.15),
    # More of the same, plus small rotations and shears and random erasing.
    "strong": dict(scale=(0.9, 1.3), translate=0.12, rotate=12.0, shear=8.0,
                   brightness=0.3, contrast=0.3, erase_p=0.3, erase_area=(0.02, 0.15)),
    # Photographs (issue 20): a random-resized crop, shift, horizontal flips and colour jitter, and no
    # rotation, shear or erasing, which glyphs tolerate but which move a pretrained photo network's
    # inputs off the images it knows. See docs/finetuning.md for the sweep that chose it.
    "photo": dict(scale=(1.0, 1.3), translate=0.1, hflip=0.5, brightness=0.2, contrast=0.2, saturation=0.2),
}
# "strong" plus the colour changes a new domain brings (another camera, stain, render): colour channels
# in a random order, and half of the images inverted. DomainAdaptiveClassifier's default: on MNIST ->
# MNIST-M-like it raised CORAL from 0.55 to 0.69 (docs/few_labels_many_images.md).
PRESETS["domain"] = dict(PRESETS["strong"], channel_shuffle=True, invert_p=0.5)


class BatchAugment(nn.Module):
    """Random affine warp, brightness/contrast jitter, colour changes and erasing, per image, on a batch.

    Works on float images ``(B, C, H, W)`` in [0, 1] on any device and
    returns the same shape, clamped to [0, 1]. Random numbers come from
    torch's global generator of the batch's device, so ``torch.manual_seed``
    (which :class:`~sktransfer.FineTunedClassifier` sets from
    ``random_state``) makes it reproducible.

    Parameters
    ----------
    scale : tuple of float, default=(1.0, 1.0)
        Zoom factor range; above 1 zooms in (a random-resized crop).
    translate : float, default=0.0
        Largest shift, as a fraction of the image side.
    rotate : float, default=0.0
        Largest rotation, in degrees.
    shear : float, default=0.0
        Largest shear, in degrees.
    brightness : float, default=0.0
        Pixel values are multiplied by a factor in ``[1 - b, 1 + b]``.
    contrast : float, default=0.0
        Deviation from each image's mean is scaled by ``[1 - c, 1 + c]``.
    erase_p : float, default=0.0
        Probability that a random rectangle of each image is replaced by the
        image's mean colour.
    erase_area : tuple of float, default=(0.02, 0.15)
        Area of that rectangle, as a fraction of the image.
    hflip : float, default=0.0
        Probability that an image is mirrored left to right.
    saturation : float, default=0.0
        Colour is scaled away from or toward each pixel's gray value by a
        factor in ``[1 - s, 1 + s]`` (no effect on one-channel images).
    channel_shuffle : bool, default=False
        Put each image's colour channels in a random order (no effect on
        one-channel images).
    invert_p : float, default=0.0
        Probability that an image is inverted (``1 - x``).
    seed : int or None, default=None
        None: fresh random parameters per image, from torch's global
        generator (training). An int: *one* set of parameters, drawn from a
        generator seeded with ``seed`` at every call, applied to every image
        of every batch: a fixed transform, so an image's augmented copy
        depends on that image alone, not on the batch it came in or on the
        calls before (test-time views).

    Examples
    --------
    >>> import torch
    >>> from sktransfer.nn._augment import BatchAugment
    >>> aug = BatchAugment(scale=(1.0, 1.2), translate=0.1, brightness=0.2)
    >>> out = aug(torch.rand(4, 3, 32, 32))
    >>> out.shape, bool(out.min() >= 0), bool(out.max() <= 1)
    (torch.Size([4, 3, 32, 32]), True, True)
    >>> fixed = BatchAugment(scale=(1.0, 1.2), translate=0.1, seed=3)
    >>> x = torch.rand(4, 3, 32, 32)
    >>> bool((fixed(x)[2:] == fixed(x[2:])).all())  # the same transform, whatever the batch
    True
    """

    def __init__(self, scale=(1.0, 1.0), translate=0.0, rotate=0.0, shear=0.0, brightness=0.0,
                 contrast=0.0, erase_p=0.0, erase_area=(0.02, 0.15), channel_shuffle=False, invert_p=0.0,
                 hflip=0.0, saturation=0.0, seed=None):
        super().__init__()
        self.scale = tuple(float(s) for s in scale)
        self.translate = float(translate)
        self.rotate = float(rotate)
        self.shear = float(shear)
        self.brightness = float(brightness)
        self.contrast = float(contrast)
        self.erase_p = float(erase_p)
        self.erase_area = tuple(float(a) for a in erase_area)
        self.channel_shuffle = bool(channel_shuffle)
        self.invert_p = float(invert_p)
        self.hflip = float(hflip)
        self.saturation = float(saturation)
        self.seed = None if seed is None else int(seed)
        self._generator = None
        self._fixed_draws = {}  # fixed transform: channels -> its draws, in order

    def extra_repr(self):
        text = (f"scale={self.scale}, translate={self.translate}, rotate={self.rotate}, shear={self.shear}, "
                f"brightness={self.brightness}, contrast={self.contrast}, erase_p={self.erase_p}")
        if self.channel_shuffle or self.invert_p:
            text += f", channel_shuffle={self.channel_shuffle}, invert_p={self.invert_p}"
        if self.hflip or self.saturation:
            text += f", hflip={self.hflip}, saturation={self.saturation}"
        if self.seed is not None:
            text += f", seed={self.seed}"
        return text

    def forward(self, x):
        if not x.is_floating_point():
            raise TypeError("BatchAugment takes float images in [0, 1]; convert uint8 with x.float() / 255.")
        if self.seed is not None:
            # A fixed transform: every call replays the same draws (made once, from a generator seeded
            # with ``seed``), so every batch gets the same transform, and once a call has run, tracing
            # it (ONNX export) sees constants rather than random-number generation.
            self._fixed = self._fixed_draws.setdefault(int(x.shape[1]), [])
            self._cursor = 0
            if not self._fixed:
                self._generator = torch.Generator().manual_seed(self.seed)
        x = self._warp(x)
        x = self._jitter(x)
        x = self._recolour(x)
        if self.erase_p > 0:
            x = self._erase(x)
        return x.clamp_(0.0, 1.0)

    def _draw(self, shape, device, lo=0.0, hi=1.0):
        """Uniform draws in ``[lo, hi)`` of ``shape`` (the first dimension: images); one shared draw if fixed."""
        if self.seed is None:
            return torch.empty(shape, device=device).uniform_(lo, hi)
        if self._cursor == len(self._fixed):  # the first call: draw, in the order the transforms ask
            self._fixed.append(torch.empty((1, *shape[1:])).uniform_(lo, hi, generator=self._generator))
        self._cursor += 1
        return self._fixed[self._cursor - 1].to(device)  # shape 1 first: broadcast over the images

    def _uniform(self, shape, lo, hi, device):
        """Uniform draws in ``[lo, hi)`` of ``shape`` (an int: one per image), per image or shared."""
        return self._draw(tuple(shape) if isinstance(shape, (tuple, list)) else (shape,), device, lo, hi)

    def _rand(self, *shape, device):
        """Uniform [0, 1) draws of ``shape`` (the first dimension: images), per image or shared."""
        return self._draw(shape, device)

    def _warp(self, x):
        if self.hflip:
            flipped = (self._rand(x.shape[0], device=x.device) < self.hflip).view(-1, 1, 1, 1)
            x = torch.where(flipped, x.flip(-1), x)
        if self.scale == (1.0, 1.0) and not (self.translate or self.rotate or self.shear):
            return x
        n, device = x.shape[0], x.device
        zoom = self._uniform(n, *self.scale, device)
        angle = self._uniform(n, -self.rotate, self.rotate, device) * (math.pi / 180)
        shear = self._uniform(n, -self.shear, self.shear, device) * (math.pi / 180)
        # affine_grid maps output to input coordinates in [-1, 1]: a shift of
        # a fraction f of the side is 2f there; zooming in by s divides by s.
        shift = self._uniform((n, 2), -2 * self.translate, 2 * self.translate, device)
        cos, sin, tan = torch.cos(angle), torch.sin(angle), torch.tan(shear)
        theta = torch.stack([
            torch.stack([cos, -sin + cos * tan, shift[:, 0]], dim=1),
            torch.stack([sin, cos + sin * tan, shift[:, 1]], dim=1),
        ], dim=1)
        theta[:, :, :2] /= zoom.view(-1, 1, 1)
        grid = F.affine_grid(theta.to(x.dtype).expand(n, 2, 3), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def _jitter(self, x):
        n = x.shape[0]
        if self.brightness:
            x = x * self._uniform(n, 1 - self.brightness, 1 + self.brightness, x.device).view(-1, 1, 1, 1)
        if self.contrast:
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            factor = self._uniform(n, 1 - self.contrast, 1 + self.contrast, x.device).view(-1, 1, 1, 1)
            x = (x - mean) * factor + mean
        if self.saturation and x.shape[1] == 3:
            gray = (x * x.new_tensor(_LUMA).view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
            factor = self._uniform(n, 1 - self.saturation, 1 + self.saturation, x.device).view(-1, 1, 1, 1)
            x = (x - gray) * factor + gray
        return x

    def _recolour(self, x):
        n, channels = x.shape[:2]
        if self.channel_shuffle and channels > 1:
            order = torch.argsort(self._rand(n, channels, device=x.device), dim=1)
            x = torch.gather(x, 1, order.view(-1, channels, 1, 1).expand_as(x))
        if self.invert_p:
            inverted = (self._rand(n, device=x.device) < self.invert_p).view(-1, 1, 1, 1)
            x = torch.where(inverted, 1.0 - x.clamp(0.0, 1.0), x)
        return x

    def _erase(self, x):
        n, _, h, w = x.shape
        device = x.device
        area = self._uniform(n, *self.erase_area, device) * (h * w)
        aspect = torch.exp(self._uniform(n, math.log(0.3), math.log(3.3), device))
        eh = torch.sqrt(area * aspect).round().clamp(1, h)
        ew = torch.sqrt(area / aspect).round().clamp(1, w)
        top = (self._rand(n, device=device) * (h - eh + 1)).floor()
        left = (self._rand(n, device=device) * (w - ew + 1)).floor()
        rows = torch.arange(h, device=device).view(1, h)
        cols = torch.arange(w, device=device).view(1, w)
        in_rows = (rows >= top.view(-1, 1)) & (rows < (top + eh).view(-1, 1))
        in_cols = (cols >= left.view(-1, 1)) & (cols < (left + ew).view(-1, 1))
        chosen = (self._rand(n, device=device) < self.erase_p).view(-1, 1, 1)
        mask = (in_rows.view(-1, h, 1) & in_cols.view(-1, 1, w) & chosen).unsqueeze(1)
        fill = x.mean(dim=(2, 3), keepdim=True).expand_as(x)
        return torch.where(mask, fill, x)


def resolve_augment(augment):
    """Turn the ``augment`` parameter into a callable on float batches, or None.

    Parameters
    ----------
    augment : None, {"light", "strong", "domain"} or callable
        A preset name, or any callable mapping a float batch ``(B, C, H, W)``
        in [0, 1] to one of the same shape (e.g. a ``torchvision.transforms.v2``
        transform).

    Returns
    -------
    augment : callable or None

    Raises
    ------
    ValueError
        Unknown preset name.
    TypeError
        Neither None, a string nor a callable.

    Examples
    --------
    >>> from sktransfer.nn._augment import resolve_augment
    >>> resolve_augment("light")
    BatchAugment(scale=(1.0, 1.15), translate=0.08, rotate=0.0, shear=0.0, brightness=0.15, contrast=0.15, erase_p=0.0)
    >>> resolve_augment(None) is None
    True
    """
    if augment is None:
        return None
    if isinstance(augment, str):
        if augment not in PRESETS:
            raise ValueError(
                f"augment={augment!r} is not a preset; use None, "
                f"{', '.join(repr(p) for p in PRESETS)}, or a callable on float image batches "
                "such as a torchvision.transforms.v2 transform."
            )
        return BatchAugment(**PRESETS[augment])
    if callable(augment):
        return augment
    raise TypeError(f"augment must be None, a preset name or a callable; got {type(augment).__name__}.")
