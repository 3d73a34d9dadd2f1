"""The one inference path: uint8 images -> normalised tensors -> trunk -> pooled features.

:class:`ImageEncoder` is shared by :class:`~sktransfer.PretrainedFeatureExtractor`
and every network the fine-tuned estimators train, so they can never disagree
on resizing, normalisation or device handling.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._device import autocast
from .._tensors import batch_to_device, to_float_images

POOLINGS = ("avg", "max", "avgmax", "gem", "none")
GEM_P = 3.0


class _StopForward(Exception):
    """Raised by a hook once every requested layer is captured, to skip the rest."""


def pool_features(out, pooling, channels_last=False):
    """Pool a trunk output ``(N, D, h, w)``, tokens ``(N, T, D)`` or ``(N, D)`` to ``(N, F)``."""
    if isinstance(out, (tuple, list)):
        out = out[0]
    out = out.float()  # pool in fp32 even under autocast
    if out.ndim == 2:
        return out
    if out.ndim == 4 and channels_last:
        out = out.permute(0, 3, 1, 2)
    if pooling == "none":
        return out.flatten(1)
    dims = (2, 3) if out.ndim == 4 else (1,)
    if pooling == "avg":
        return out.mean(dims)
    if pooling == "max":
        return out.amax(dims)
    if pooling == "avgmax":
        return torch.cat([out.mean(dims), out.amax(dims)], dim=1)
    if pooling == "gem":  # generalised mean (Radenovic et al. 2018), p=3
        return out.clamp(min=1e-6).pow(GEM_P).mean(dims).pow(1.0 / GEM_P)
    raise ValueError(f"pooling={pooling!r} is not one of {POOLINGS}.")


class ImageEncoder(nn.Module):
    """Normalise, run a backbone trunk and pool, from uint8 or [0, 1] images.

    Parameters
    ----------
    backbone : Backbone
        Its trunk becomes this module's ``trunk`` (not copied).
    image_size : tuple of int
        ``(H, W)`` the images are resized to.
    layers : list of int or None, default=None
        Block indices whose pooled outputs are concatenated; None for the
        trunk's final output.
    pooling : str, default="avg"
        One of ``POOLINGS``.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.nn._encoder import ImageEncoder
    >>> from sktransfer.backbones import get_backbone
    >>> enc = ImageEncoder(get_backbone("timm/resnet18", weights=None), (32, 32)).eval()
    >>> enc(torch.zeros(2, 1, 8, 8, dtype=torch.uint8)).shape
    torch.Size([2, 512])
    """

    def __init__(self, backbone, image_size, layers=None, pooling="avg"):
        super().__init__()
        self.trunk = backbone.trunk
        self.image_size = tuple(int(s) for s in image_size)
        self.in_chans = backbone.in_chans
        self.layers = None if layers is None else list(layers)
        self.outputs = None if layers is None else [backbone.blocks[i].output for i in layers]
        self.outputs_channels_last = None if layers is None else [backbone.blocks[i].channels_last for i in layers]
        self.pooling = pooling
        self.channels_last_output = backbone.channels_last_output
        self.register_buffer("mean", torch.tensor(backbone.mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(backbone.std, dtype=torch.float32).view(1, -1, 1, 1))

    def to_unit_range(self, x):
        """uint8 (or float [0, 1]) images on the device -> float [0, 1] of the trunk's size and channels."""
        if x.dtype == torch.uint8 or tuple(x.shape[2:]) != self.image_size or x.shape[1] != self.in_chans:
            x = to_float_images(x, self.image_size, device=x.device, channels=self.in_chans)
        return x

    def preprocess(self, x):
        """uint8 (or float [0, 1]) images on the device -> normalised float of the right size."""
        return (self.to_unit_range(x) - self.mean) / self.std

    def trunk_output(self, x):
        """Run the trunk on normalised images: the final output, or captured block outputs."""
        if self.outputs is None:
            return [self.trunk(x)]
        captured = {}
        modules = dict(self.trunk.named_modules())
        wanted = set(self.outputs)

        def hook(name):
            def save(module, args, output):
                captured[name] = output
                if wanted.issubset(captured):
                    raise _StopForward
            return save

        handles = [modules[name].register_forward_hook(hook(name)) for name in wanted]
        try:
            self.trunk(x)
        except _StopForward:
            pass
        finally:
            for handle in handles:
                handle.remove()
        return [captured[name] for name in self.outputs]

    def forward(self, x):
        # channels-last suits oneDNN's and cuDNN's convolutions: measured 1.7x
        # faster than NCHW for efficientnet_lite0 on a 2-core CPU.
        x = self.preprocess(x).contiguous(memory_format=torch.channels_last)
        outs = self.trunk_output(x)
        formats = [self.channels_last_output] if self.outputs is None else self.outputs_channels_last
        pooled = [pool_features(o, self.pooling, last) for o, last in zip(outs, formats)]
        return pooled[0] if len(pooled) == 1 else torch.cat(pooled, dim=1)


def encode_batches(encoder, images, *, batch_size, device, indices=None, progress=None):
    """Stream ``images`` through ``encoder`` under ``inference_mode``; return float32 numpy.

    Batches cross to the device as (pinned) uint8 and are converted there.
    ``progress`` is a tqdm-like object updated once per batch.
    """
    n = len(images) if indices is None else len(indices)
    out = None
    encoder.eval()
    with torch.inference_mode(), autocast(device):
        for positions, batch in _positioned_batches(images, batch_size, indices):
            x = batch_to_device(batch, device, encoder.image_size, encoder.in_chans)
            feats = encoder(x).float().cpu().numpy()
            if out is None:
                out = np.empty((n, feats.shape[1]), dtype=np.float32)
            out[positions] = feats
            if progress is not None:
                progress.update(len(feats))
    return out


def _positioned_batches(source, batch_size, indices):
    """``(rows of the output, batch)`` pairs: a text set's length-sorted batches, else batches in order."""
    if hasattr(source, "inference_batches"):  # texts: similar lengths pad little
        yield from source.inference_batches(batch_size, indices)
        return
    start = 0
    for batch in source.iter_batches(batch_size, indices=indices):
        yield slice(start, start + len(batch)), batch
        start += len(batch)


def recompute_batchnorm(encoder, images, *, batch_size, device, indices=None):
    """Re-estimate every BatchNorm layer's running mean and variance on ``images`` (AdaBN).

    Li et al. (2016, "Revisiting Batch Normalization for Practical Domain
    Adaptation"): a network normalises with the statistics of the domain it
    is used on. Only the BatchNorm layers run in training mode (dropout and
    the rest stay in eval mode), and each one's statistics become the average,
    over batches, of the batch mean and variance of its input
    (``momentum=None``, as ``torch.optim.swa_utils.update_bn`` does); weights
    are untouched and the encoder ends in eval mode. A batch of one image is
    avoided (its variance over a 1x1 map is undefined). ``encoder`` is on
    ``device``. Returns the number of layers updated.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.backbones import get_backbone
    >>> from sktransfer.images import as_image_set
    >>> from sktransfer.nn._encoder import ImageEncoder, recompute_batchnorm
    >>> encoder = ImageEncoder(get_backbone("timm/test_resnet", weights=None), (32, 32))
    >>> images = as_image_set(np.random.default_rng(0).random((8, 32, 32, 3)))
    >>> recompute_batchnorm(encoder, images, batch_size=4, device=torch.device("cpu")) > 0
    True
    """
    n = len(images) if indices is None else len(indices)
    if n < 2:
        raise ValueError(f"BatchNorm statistics need at least 2 images; got {n}.")
    while n % batch_size == 1:  # ends by batch_size == n at the latest
        batch_size += 1  # no batch of one image: BatchNorm cannot take a variance over a 1x1 map of one image
    norms = [m for m in encoder.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    momenta = [m.momentum for m in norms]
    encoder.eval()
    try:
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # the plain average over batches, not an exponential one
            m.train()
        with torch.no_grad(), autocast(device):
            for batch in images.iter_batches(batch_size, indices=indices):
                encoder(batch_to_device(batch, device, encoder.image_size, encoder.in_chans))
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        encoder.eval()
    return len(norms)


def feature_width(encoder):
    """Width of the encoder's pooled output: one forward pass of a blank image.

    Examples
    --------
    >>> from sktransfer.backbones import get_backbone
    >>> from sktransfer.nn._encoder import ImageEncoder, feature_width
    >>> feature_width(ImageEncoder(get_backbone("timm/test_resnet", weights=None), (32, 32), layers=[1, 2]))
    80
    """
    encoder.eval()
    if hasattr(encoder, "blank_input"):  # a text encoder: one short text
        with torch.inference_mode():
            return int(encoder(encoder.blank_input()).shape[1])
    blank = torch.zeros(1, encoder.in_chans, *encoder.image_size, dtype=torch.uint8)
    try:
        with torch.inference_mode():
            return int(encoder(blank).shape[1])
    except RuntimeError as exc:  # e.g. a kernel larger than the map, or a fixed-size ViT
        raise ValueError(
            f"the backbone cannot take {encoder.image_size[0]}x{encoder.image_size[1]} images ({exc}); "
            "use a larger image_size, or image_size=None for the backbone's own size."
        ) from exc
