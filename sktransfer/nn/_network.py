"""The trainable network: an image encoder and a head, frozen or trained block by block."""

from __future__ import annotations

import torch
from torch import nn

from .._device import autocast

__all__ = ["AugmentedView", "BackboneNetwork"]


class BackboneNetwork(nn.Module):
    """An :class:`ImageEncoder` and a head, trainable from the top.

    ``forward`` takes uint8 (or [0, 1] float) images ``(B, C, H, W)`` on the
    device and returns float32 outputs (logits, or standardised targets). A 2-D input is taken as features the
    encoder already computed (the frozen-backbone shortcut) and goes to the
    head only. In training mode, ``augment`` (if set) is applied to the
    resized [0, 1] images before normalisation; in eval mode never.

    Parameters
    ----------
    encoder : ImageEncoder
    head : torch.nn.Module

    Examples
    --------
    >>> import torch
    >>> from sktransfer.backbones import get_backbone
    >>> from sktransfer.nn._encoder import ImageEncoder
    >>> from sktransfer.nn._heads import make_head
    >>> from sktransfer.nn._network import BackboneNetwork
    >>> bb = get_backbone("timm/test_resnet", weights=None)
    >>> module = BackboneNetwork(ImageEncoder(bb, (32, 32)), make_head(bb.feature_dim, 3))
    >>> module.set_trainable(bb.trainable_parameters(1))
    >>> module.eval()(torch.zeros(2, 1, 8, 8, dtype=torch.uint8)).shape
    torch.Size([2, 3])
    """

    #: The sub-module whose outputs are the pooled features the head reads (skada's deep nets name their
    #: feature layer so, and its DeepEmbeddedValidation reads it).
    layer_name = "encoder"

    def __init__(self, encoder, head):
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.frozen_modules = []
        # Plain attribute, not a sub-module: it has no state to save.
        object.__setattr__(self, "augment", None)

    @property
    def image_size(self):
        return self.encoder.image_size

    @property
    def in_chans(self):
        return self.encoder.in_chans

    def set_trainable(self, names, all_trunk=False):
        """Train the trunk parameters in ``names`` (or all with ``all_trunk``) and the head.

        Every sub-module of the trunk whose parameters are all frozen is then
        kept in eval mode by :meth:`train`: BatchNorm running statistics and
        dropout of frozen blocks behave as at inference.
        """
        names = set(names)
        for name, param in self.encoder.trunk.named_parameters():
            param.requires_grad_(all_trunk or name in names)
        for param in self.head.parameters():
            param.requires_grad_(True)
        self.frozen_modules = _maximal_frozen_modules(self.encoder.trunk)
        if self.training:
            self.train()

    def train(self, mode=True):
        super().train(mode)
        if mode:
            for name in self.frozen_modules:
                self.encoder.trunk.get_submodule(name).eval()
        return self

    def forward(self, x):
        if x.ndim == 2:  # features the frozen encoder computed once: the head only
            features = x
        else:
            if self.training and self.augment is not None:
                x = self.augmented(x, self.augment)
            features = self.features(x)
        return self.outputs(features)

    def features(self, x):
        """The encoder's pooled features of images ``x`` (autocast on CUDA; no augmentation)."""
        with autocast(x.device):
            return self.encoder(x)

    def outputs(self, features):
        """The head's float32 outputs for ``features``, also under an outer autocast."""
        with torch.autocast(features.device.type, enabled=False):
            return self.head(features.float())

    def augmented(self, x, augment):
        """uint8 (or [0, 1] float) images -> ``augment`` of their float [0, 1] version, checked."""
        x = self.encoder.to_unit_range(x)
        out = augment(x)
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            raise ValueError(
                f"augment must return a tensor of the batch's shape {tuple(x.shape)}; got "
                f"{type(out).__name__} {tuple(getattr(out, 'shape', ()))}."
            )
        return out.float().clamp(0.0, 1.0)


def _maximal_frozen_modules(root):
    """Names of the largest sub-modules of ``root`` whose parameters are all frozen."""
    frozen = []

    def visit(name, module):
        params = list(module.parameters())
        if params and not any(p.requires_grad for p in params):
            frozen.append(name)
            return
        for child_name, child in module.named_children():
            visit(f"{name}.{child_name}" if name else child_name, child)

    visit("", root)
    return frozen


class AugmentedView(nn.Module):
    """A fitted network that sees a random augmentation of each image, at inference (test-time views).

    Parameters
    ----------
    network : BackboneNetwork
    augment : callable
        Float ``(B, C, H, W)`` batches in [0, 1] to the same shape.
    """

    def __init__(self, network, augment):
        super().__init__()
        self.network = network
        self.augment = augment

    @property
    def image_size(self):
        return self.network.image_size

    @property
    def in_chans(self):
        return self.network.in_chans

    def forward(self, x):
        return self.network(self.network.augmented(x, self.augment))
