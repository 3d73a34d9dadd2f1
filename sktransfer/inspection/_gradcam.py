"""Grad-CAM and gradient saliency of a fitted network, natively in torch.

Both run one forward and one backward pass per batch, with gradients
switched on locally (also inside ``torch.inference_mode``) and taken with
respect to activations or pixels, never parameters: a frozen backbone is
explained like a trained one, and no parameter's ``requires_grad`` or
``.grad`` is left changed.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torchvision.transforms.v2.functional import gaussian_blur as _torchvision_blur

from .._auto import EXPLAIN_MIN_MAP_SIDE
from ..backbones import block_index

__all__ = ["Site", "gaussian_blur", "gradcam", "gradients_on", "head_sites", "locate_layer", "saliency",
           "spatial_shapes", "unit_range"]


@dataclass(frozen=True)
class Site:
    """A feature map Grad-CAM can read: a block's output, or the trunk's final output (``"final"``)."""

    name: str
    module: str  # name of the trunk sub-module producing it; "" is the trunk itself
    channels_last: bool = False


@contextlib.contextmanager
def gradients_on(module):
    """Gradients enabled for the block, parameters excluded (their ``requires_grad`` restored after)."""
    params = list(module.parameters())
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)  # gradients w.r.t. activations only: no graph over the weights
        with torch.inference_mode(False), torch.enable_grad():
            yield module.eval()
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


def _sites(estimator):
    """Every feature map the fitted network computes, from the top: the final output (if the head reads it),
    then each block that runs, highest first."""
    encoder = estimator.module_.encoder
    blocks = [Site(b.name, b.output, b.channels_last) for b in estimator.arch_spec_.blocks]
    top = [Site("final", "", encoder.channels_last_output)] if encoder.layers is None else []
    return top + blocks[::-1]


def head_sites(estimator):
    """The maps the head reads, in the order their pooled features are concatenated: the trunk's final
    output, or the blocks of ``layers_``."""
    spec = estimator.arch_spec_
    if spec.layers is None:
        return [Site("final", "", estimator.module_.encoder.channels_last_output)]
    return [Site(spec.blocks[i].name, spec.blocks[i].output, spec.blocks[i].channels_last) for i in spec.layers]


def spatial_shapes(module, sites, device):
    """``(h, w)`` of each site's output for a blank image (None when it is not a 4-D map)."""
    shapes = {}

    def record(site):
        def hook(mod, args, out):
            out = out[0] if isinstance(out, (tuple, list)) else out
            ok = isinstance(out, torch.Tensor) and out.ndim == 4
            shapes[site] = None if not ok else tuple(out.shape[1:3] if site.channels_last else out.shape[2:])
        return hook

    trunk = module.encoder.trunk
    handles = [trunk.get_submodule(s.module).register_forward_hook(record(s)) for s in sites]
    blank = torch.zeros(1, module.in_chans, *module.image_size, dtype=torch.uint8, device=device)
    try:
        with torch.inference_mode():
            module.eval()(blank)
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def locate_layer(estimator, module, layer, device):
    """The :class:`Site` Grad-CAM reads for ``layer`` ("auto", a block index or a block name).

    ``"auto"`` is the highest feature map the network computes up to what
    the head reads that is 4-D with at least ``EXPLAIN_MIN_MAP_SIDE`` positions a
    side, found by a forward pass as torchcam's ``locate_candidate_layer``
    does; when none is that large, the largest 4-D map. A 1x1 map gives a
    constant heat map and a 2x2 one little more: on MNIST at 32 pixels,
    Grad-CAM on the 2x2 map deleted no better than a random map (area 0.50
    vs 0.51), on the 4x4 map below it clearly better (0.46 vs 0.52).
    """
    sites = _sites(estimator)
    blocks = [s for s in sites if s.name != "final"][::-1]  # input to output, as layer= counts them
    if layer != "auto":
        sites = [blocks[block_index(blocks, layer, "this network (the blocks it runs)")]]
    shapes = spatial_shapes(module, sites, device)
    spatial = [s for s in sites if shapes[s] is not None]
    if not spatial:
        where = f"layer={layer!r}" if layer != "auto" else "no block of this network"
        maps = [s.name for s in _sites(estimator) if s not in sites]
        raise ValueError(f"{where} outputs a spatial feature map (N, C, h, w) (Grad-CAM needs one; "
                         f"transformer tokens are not); try method='saliency'"
                         + (f" or another layer among {maps}." if maps else "."))
    if layer == "auto":
        wide = [s for s in spatial if min(shapes[s]) >= EXPLAIN_MIN_MAP_SIDE]
        return wide[0] if wide else max(spatial, key=lambda s: math.prod(shapes[s]))
    return spatial[0]


def gradcam(module, site, x, score_of):
    """Grad-CAM maps ``(B, H, W)`` of float images ``x`` (at their own size), and the network's outputs.

    ``score_of(outputs)`` returns one differentiable score per image. The map
    is ReLU(sum_k alpha_k A_k) with alpha_k the spatial mean of the score's
    gradient on channel k of the activation A (Selvaraju et al., 2017),
    upsampled bilinearly to the image and scaled to [0, 1].
    """
    captured = {}

    def hook(mod, args, out):
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"layer {site.name!r} outputs {type(out).__name__}, not a tensor; pass another layer.")
        leaf = out.detach().requires_grad_(True)  # the gradient is taken here, whatever is frozen below
        captured["activation"] = leaf
        return leaf.clone()  # a copy, so in-place operations after the block (ReLU) leave the leaf intact

    handle = module.encoder.trunk.get_submodule(site.module).register_forward_hook(hook)
    try:
        outputs = module(x)
    finally:
        handle.remove()
    activation = captured["activation"]
    (grad,) = torch.autograd.grad(score_of(outputs).sum(), activation)
    activation, grad = activation.detach().float(), grad.float()
    if site.channels_last:
        activation, grad = activation.permute(0, 3, 1, 2), grad.permute(0, 3, 1, 2)
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * activation).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False)
    return unit_range(cam[:, 0]), outputs.detach()


def saliency(module, x, score_of):
    """Gradient saliency maps ``(B, H, W)``: gradient x (input - the image's mean colour), lightly blurred.

    Each pixel's first-order contribution to the score relative to a flat
    image of the same mean colour (gradient x input, Shrikumar et al. 2016),
    summed over channels, its positive part kept. The plain gradient
    magnitude (Simonyan et al. 2014) measures sensitivity, not contribution:
    a network that pools its features evenly is about as sensitive to every
    pixel: on the patch images of docs/inspection.md it put about half of
    its mass in the half without the patch. The blur (a Gaussian of 2%
    of the image's larger side, at least half a pixel) turns single-pixel
    speckle into readable regions without moving them.
    """
    x = x.detach().requires_grad_(True)
    outputs = module(x)
    (grad,) = torch.autograd.grad(score_of(outputs).sum(), x)
    with torch.no_grad():
        flat = x.mean(dim=(2, 3), keepdim=True)
        contribution = F.relu((grad.float() * (x - flat)).sum(dim=1, keepdim=True))
        contribution = gaussian_blur(contribution, max(0.5, 0.02 * max(x.shape[-2:])))
    return unit_range(contribution[:, 0]), outputs.detach()


def gaussian_blur(x, sigma):
    """Gaussian blur of ``(B, C, H, W)`` over three standard deviations (torchvision's; edges reflected).

    Examples
    --------
    >>> import torch
    >>> from sktransfer.inspection._gradcam import gaussian_blur
    >>> point = torch.zeros(1, 1, 9, 9); point[0, 0, 4, 4] = 1.0
    >>> blurred = gaussian_blur(point, 1.0)
    >>> round(float(blurred.sum()), 4), bool(blurred[0, 0, 4, 4] < 1)
    (1.0, True)
    """
    radius = max(1, math.ceil(3 * sigma))
    return _torchvision_blur(x, kernel_size=[2 * radius + 1] * 2, sigma=[float(sigma)] * 2)


def unit_range(maps):
    """Each map scaled to [0, 1] by its own minimum and maximum (as Grad-CAM is usually shown).

    Subtracting the minimum removes the uniform floor that evidence spread
    over the whole image leaves, so the map shows where evidence is *higher*;
    a constant map (no evidence anywhere, or everywhere alike) becomes zeros.
    """
    flat = maps.flatten(1)
    low, high = flat.amin(dim=1), flat.amax(dim=1)
    span = (high - low).clamp_min(torch.finfo(maps.dtype).tiny)
    return ((maps - low[:, None, None]) / span[:, None, None]).clamp_(0.0, 1.0)
