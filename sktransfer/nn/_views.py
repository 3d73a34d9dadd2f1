"""Test-time views: a network's outputs averaged over the image and augmented copies of it.

Each view is one fixed transform drawn once from the ``"light"`` preset
(view ``k`` from a generator seeded ``k``) and applied to every image alike.
So a fitted model's predictions are a function of X, row by row: the same on
every call, whatever ``random_state`` was, whichever batch or subset an image
comes in, and after pickling or export.
"""

from __future__ import annotations

from ._augment import PRESETS, BatchAugment
from ._encoder import encode_batches
from ._network import AugmentedView

__all__ = ["TTA_PRESET", "encode_views", "views_of"]

#: The augmentation of test-time views: mild, never flipping.
TTA_PRESET = "light"


def views_of(tta, trained, modality="image"):
    """How many views a fitted network predicts from: the image, and ``tta`` views if it trained.

    A probe-only model (``trained`` false: no optimizer step) never saw
    augmented images, so it stays the plain probe. Views are image
    transforms: a text model predicts from the text alone.

    Examples
    --------
    >>> from sktransfer.nn import views_of
    >>> views_of(4, trained=True), views_of(4, trained=False), views_of(4, trained=True, modality="text")
    (5, 1, 1)
    """
    return 1 + (int(tta) if trained and modality == "image" else 0)


def encode_views(module, images, *, n_views, batch_size, device, progress=None):
    """Outputs of ``images`` (float32 numpy), averaged with those of ``n_views - 1`` augmented views.

    View ``k`` is the fixed transform ``BatchAugment(**PRESETS[TTA_PRESET],
    seed=k)``: each image's outputs depend on that image alone.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sktransfer.backbones import get_backbone
    >>> from sktransfer.images import as_image_set
    >>> from sktransfer.nn import BackboneNetwork, ImageEncoder, encode_views, make_head
    >>> bb = get_backbone("timm/test_resnet", weights=None)
    >>> net = BackboneNetwork(ImageEncoder(bb, (32, 32)), make_head(bb.feature_dim, 2)).eval()
    >>> pixels = np.random.default_rng(0).random((4, 8, 8))
    >>> a = encode_views(net, as_image_set(pixels), n_views=3, batch_size=2, device=torch.device("cpu"))
    >>> b = encode_views(net, as_image_set(pixels[2:]), n_views=3, batch_size=4, device=torch.device("cpu"))
    >>> a.shape, bool(np.allclose(a[2:], b, atol=1e-6))
    ((4, 2), True)
    """
    total = encode_batches(module, images, batch_size=batch_size, device=device, progress=progress)
    if n_views == 1:
        return total
    for view in range(1, n_views):
        augmented = AugmentedView(module, BatchAugment(**PRESETS[TTA_PRESET], seed=view))
        total += encode_batches(augmented, images, batch_size=batch_size, device=device, progress=progress)
    return total / n_views
