"""A fitted network as one traceable function, for ONNX export: images in [0, 1] -> outputs or features.

The eager path (:class:`~sktransfer.nn.ImageEncoder`) stops the trunk early
by raising from a forward hook once the blocks it reads have run, which a
tracer cannot follow. :class:`InferenceGraph` runs a copy of the trunk with
hooks that only keep the blocks' outputs; the exporter then drops the
blocks after the last one read (they feed no output), so the graph computes
what the eager path computes, and no more.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .._tensors import to_float_images
from ..nn import PRESETS, TTA_PRESET, BackboneNetwork, BatchAugment, pool_features

__all__ = ["InferenceGraph"]


class InferenceGraph(nn.Module):
    """Float images in [0, 1] -> a fitted network's outputs (or an encoder's features), traceable.

    Parameters
    ----------
    network : BackboneNetwork or ImageEncoder
        Copied: the fitted model is never touched.
    n_views : int, default=1
        Outputs averaged over the image and ``n_views - 1`` test-time views,
        the same fixed views as :func:`~sktransfer.nn.encode_views`.
    resize : bool, default=False
        Take images of any size and channel count 1 or 3, and resize
        (antialiased bilinear) and convert channels inside, as the eager path
        does; else take images already at the network's size and channels.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.backbones import get_backbone
    >>> from sktransfer.nn import BackboneNetwork, ImageEncoder, make_head
    >>> from sktransfer.runtimes import InferenceGraph
    >>> bb = get_backbone("timm/test_resnet", weights=None)
    >>> net = BackboneNetwork(ImageEncoder(bb, (32, 32), layers=[1, 2]), make_head(80, 2)).eval()
    >>> x = torch.rand(3, 3, 32, 32)
    >>> bool(torch.allclose(InferenceGraph(net)(x), net(x), atol=1e-5))
    True
    """

    def __init__(self, network, *, n_views=1, resize=False):
        super().__init__()
        network = copy.deepcopy(network).cpu().eval()
        if isinstance(network, BackboneNetwork):
            self.encoder, self.head = network.encoder, network.head
        else:
            self.encoder, self.head = network, None
        self.resize = bool(resize)
        self.views = nn.ModuleList(BatchAugment(**PRESETS[TTA_PRESET], seed=k) for k in range(1, int(n_views)))
        self._captured = {}
        modules = dict(self.encoder.trunk.named_modules())
        for name in self.encoder.outputs or ():
            modules[name].register_forward_hook(self._keeper(name))
        self.prime()

    def _keeper(self, name):
        def keep(module, args, output):
            self._captured[name] = output
        return keep

    def prime(self):
        """Run once on a blank batch: the views make their fixed draws now, so tracing sees constants."""
        with torch.no_grad():
            self(torch.zeros(1, self.encoder.in_chans, *self.encoder.image_size))

    def forward(self, x):
        if self.resize:  # channels and size as the eager path converts them
            x = to_float_images(x, self.encoder.image_size, channels=self.encoder.in_chans)
        out = self._one_view(x)
        for view in self.views:
            out = out + self._one_view(view(x.clone()))
        return out / (1 + len(self.views)) if len(self.views) else out

    def _one_view(self, x):
        encoder = self.encoder
        x = (x - encoder.mean) / encoder.std
        if encoder.outputs is None:
            pooled = [pool_features(encoder.trunk(x), encoder.pooling, encoder.channels_last_output)]
        else:
            self._captured.clear()
            encoder.trunk(x)
            pooled = [pool_features(self._captured[name], encoder.pooling, last)
                      for name, last in zip(encoder.outputs, encoder.outputs_channels_last)]
        features = pooled[0] if len(pooled) == 1 else torch.cat(pooled, dim=1)
        return features if self.head is None else self.head(features)
