"""Test-time views: a network's outputs averaged over the image and randomly augmented copies of it."""

from __future__ import annotations

from .._device import seeded
from ._augment import PRESETS, BatchAugment
from ._encoder import encode_batches
from ._network import AugmentedView

__all__ = ["TTA_PRESET", "encode_views"]

#: The augmentation of test-time views: mild, never flipping.
TTA_PRESET = "light"


def encode_views(module, images, *, n_views, seed, batch_size, device, progress=None):
    """Outputs of ``images`` (float32 numpy), averaged with those of ``n_views - 1`` augmented views.

    View ``k`` is drawn with torch seeded ``seed + k``, so the outputs are a
    function of the images and ``seed`` (None: unseeded views).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sktransfer.backbones import get_backbone
    >>> from sktransfer.images import as_image_set
    >>> from sktransfer.nn import BackboneNetwork, ImageEncoder, encode_views, make_head
    >>> bb = get_backbone("timm/test_resnet", weights=None)
    >>> net = BackboneNetwork(ImageEncoder(bb, (32, 32)), make_head(bb.feature_dim, 2)).eval()
    >>> images = as_image_set(np.random.default_rng(0).random((4, 8, 8)))
    >>> a = encode_views(net, images, n_views=3, seed=7, batch_size=2, device=torch.device("cpu"))
    >>> b = encode_views(net, images, n_views=3, seed=7, batch_size=2, device=torch.device("cpu"))
    >>> a.shape, bool((a == b).all())
    ((4, 2), True)
    """
    total = encode_batches(module, images, batch_size=batch_size, device=device, progress=progress)
    if n_views == 1:
        return total
    augmented = AugmentedView(module, BatchAugment(**PRESETS[TTA_PRESET]))
    for view in range(1, n_views):
        with seeded(None if seed is None else seed + view, device):
            total += encode_batches(augmented, images, batch_size=batch_size, device=device, progress=progress)
    return total / n_views
