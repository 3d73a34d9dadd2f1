"""The exact class-activation map of a network whose head is linear over average-pooled feature maps.

With ``pooling="avg"`` the head reads, for each block b it reads, the mean
over the block's ``h_b x w_b`` positions of its map ``A_b``. When the head
is affine (the probe's ``FeatureScaler -> Linear``, or a plain ``Linear``),
an output is therefore an exact sum over positions::

    z_k - bias_k = sum_b sum_p  sum_{c in b} W_kc (A_bc(p) - mean_c) / scale_c / (h_b w_b)

Each term is what position p of block b adds to the output: the class
activation map (CAM, Zhou et al. 2016), which for such heads is also
HiResCAM (Draelos and Carin 2020). Nothing is approximated, no gradient
through the backbone is needed, and every block the head reads is counted.
For a score that mixes outputs (a softmax classifier's log-odds), the map
explains the outputs weighted by the score's gradient with respect to the
outputs: for two classes exactly the log-odds, ``z_t - z_other``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._device import autocast
from ..nn import FeatureScaler

__all__ = ["AffineHead", "affine_head", "cam", "why_not_exact"]

#: Head layers that keep it affine at inference (dropout is the identity in eval mode).
_PASS_THROUGH = (nn.Dropout, nn.Identity)


class AffineHead:
    """``outputs = weight @ ((features - mean) / scale) + bias``: a head read as one affine map."""

    def __init__(self, weight, bias, mean, scale):
        self.weight, self.bias, self.mean, self.scale = weight, bias, mean, scale


def affine_head(head):
    """The head as an :class:`AffineHead`, or None when it is not affine (hidden layers, other modules)."""
    layers = [m for m in (head if isinstance(head, nn.Sequential) else [head]) if not isinstance(m, _PASS_THROUGH)]
    scaler = layers.pop(0) if layers and isinstance(layers[0], FeatureScaler) else None
    if len(layers) != 1 or not isinstance(layers[0], nn.Linear):
        return None
    linear = layers[0]
    width = linear.in_features
    zeros = torch.zeros(linear.out_features, device=linear.weight.device)
    mean = scaler.mean if scaler is not None else torch.zeros(width, device=linear.weight.device)
    scale = scaler.scale if scaler is not None else torch.ones(width, device=linear.weight.device)
    bias = linear.bias if linear.bias is not None else zeros
    return AffineHead(linear.weight.detach().float(), bias.detach().float(), mean.float(), scale.float())


def why_not_exact(estimator):
    """Why the CAM is not exact for this network (a phrase), or None when it is."""
    spec = estimator.arch_spec_
    if spec.pooling != "avg":
        return f"it pools its feature maps with pooling={spec.pooling!r}, not 'avg'"
    if affine_head(estimator.module_.head) is None:
        return "its head is not linear (hidden_units adds layers between the features and the outputs)"
    return None


def read_maps(module, x):
    """The feature maps the head reads ``[(B, C, h, w), ...]`` (float32), for float images ``x``.

    The same computation as the network's forward pass (the encoder's own
    preprocessing and block capture), so the CAM sums to the outputs the
    network gives. A map that is not 4-D (transformer tokens) is a ValueError.
    """
    encoder = module.encoder
    with autocast(x.device):
        maps = encoder.trunk_output(encoder.preprocess(x).contiguous(memory_format=torch.channels_last))
    formats = [encoder.channels_last_output] if encoder.outputs is None else encoder.outputs_channels_last
    out = []
    for a, last in zip(maps, formats):
        a = (a[0] if isinstance(a, (tuple, list)) else a).float()
        if a.ndim != 4:
            raise ValueError(f"the head reads a map of shape {tuple(a.shape)}, not (N, C, h, w) (transformer "
                             "tokens have no image grid); use method='saliency'.")
        out.append(a.permute(0, 3, 1, 2) if last else a)
    return out


def cam(module, head, x, score_of, blocks=None):
    """Exact class-activation maps and the network's outputs, for float images ``x`` ``(B, C, H, W)``.

    Returns ``(attribution, outputs)``: ``attribution`` ``(B, H, W)`` is the
    signed contribution of each pixel to the explained score minus the
    head's bias term (each block's per-position contributions spread over the
    pixels of its cell by bilinear upsampling, which keeps the sum exact when
    the image's side is a multiple of the map's). ``blocks`` (indices into the
    maps the head reads) restricts the sum to those blocks; None takes all.
    """
    maps = read_maps(module, x)
    features = torch.cat([a.mean(dim=(2, 3)) for a in maps], dim=1)
    outputs = module.outputs(features)
    direction = _score_direction(outputs, score_of)  # (B, K): how the score weighs each output
    v = direction @ head.weight / head.scale  # (B, F): the score's weight on each pooled feature
    total, start = 0.0, 0
    size = tuple(x.shape[-2:])
    for i, a in enumerate(maps):
        width = a.shape[1]
        if blocks is None or i in blocks:
            part = slice(start, start + width)
            centred = a - head.mean[part, None, None]
            per_position = torch.einsum("bc,bchw->bhw", v[:, part], centred) / (a.shape[2] * a.shape[3])
            up = F.interpolate(per_position[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
            total = total + up * (a.shape[2] * a.shape[3]) / (size[0] * size[1])  # the cell's share per pixel
        start += width
    return total, outputs.detach()


def _score_direction(outputs, score_of):
    """The gradient of each image's score with respect to its outputs (a one-hot row for a plain output)."""
    leaf = outputs.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(score_of(leaf).sum(), leaf)
    return grad.detach()
