"""The backbone contract: what an estimator needs to feed, read and freeze a trunk."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from ._blocks import block_index, block_params, top_blocks
from ._builder import IMAGENET_MEAN, IMAGENET_STD, backbone_fields_from_module

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "Backbone"]


@dataclass(eq=False)
class Backbone:
    """A feature-extracting trunk with what it takes to feed and freeze it.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"efficientnet_lite0"`` or ``"timm/resnet18"``.
    trunk : torch.nn.Module
        Maps normalised float images ``(N, C, H, W)`` to a feature map
        ``(N, D, h, w)`` or tokens ``(N, T, D)``.
    blocks : list of Block
        Ordered from input to output; freezing counts blocks from the top.
    feature_dim : int
        ``D``, the number of channels of the trunk's output.
    input_size : tuple of int
        Default ``(H, W)``.
    mean, std : tuple of float
        Per-channel normalisation for images in [0, 1].
    in_chans : int, default=3
        Channels the trunk expects.
    weights : str or None, default=None
        Which weights were loaded; None for random initialisation.
    channels_last_output : bool, default=False
        True when the trunk returns ``(N, h, w, D)`` (e.g. Swin in timm).

    Examples
    --------
    >>> from sktransfer.backbones import get_backbone
    >>> bb = get_backbone("timm/resnet18", weights=None)
    >>> bb.feature_dim, [b.name for b in bb.blocks]
    (512, ['stem', 'layer1', 'layer2', 'layer3', 'layer4'])
    """

    name: str
    trunk: nn.Module
    blocks: list
    feature_dim: int
    input_size: tuple = (224, 224)
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    in_chans: int = 3
    weights: str | None = None
    channels_last_output: bool = False
    extra: dict = field(default_factory=dict)

    #: What the trunk takes: ``"image"`` (float images ``(N, C, H, W)``); the estimators ask the
    #: input layer (:func:`sktransfer._inputs.as_inputs`) for this modality.
    modality = "image"

    @classmethod
    def from_module(cls, module, *, blocks=None, feature_dim=None, input_size=(224, 224), mean=IMAGENET_MEAN,
                    std=IMAGENET_STD, in_chans=3, name=None, channels_last_output=False):
        """Wrap any ``nn.Module`` that maps images to features as a :class:`Backbone`.

        Parameters
        ----------
        module : torch.nn.Module
            Maps ``(N, in_chans, H, W)`` to ``(N, D, h, w)``, ``(N, T, D)`` or ``(N, D)``.
        blocks : list of str, default=None
            Names of sub-modules, from input to output, that make the blocks. By
            default the module's top-level children that hold parameters.
        feature_dim : int, default=None
            ``D``; found by one forward pass of a zero image when None.
        input_size : tuple of int, default=(224, 224)
        mean, std : tuple of float, default=ImageNet's
        in_chans : int, default=3
        name : str, default=None
            Defaults to the module's class name.
        channels_last_output : bool, default=False

        Returns
        -------
        backbone : Backbone

        Examples
        --------
        >>> from torch import nn
        >>> from sktransfer.backbones import Backbone
        >>> net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 16, 3))
        >>> bb = Backbone.from_module(net, input_size=(32, 32))
        >>> bb.feature_dim, [b.name for b in bb.blocks]
        (16, ['0', '2'])
        """
        return cls(**backbone_fields_from_module(
            module, blocks=blocks, feature_dim=feature_dim, input_size=input_size, mean=mean, std=std,
            in_chans=in_chans, name=name, channels_last_output=channels_last_output))

    def block_index(self, layer):
        """Return the index of ``layer`` (an int, negative allowed, or a block name)."""
        return block_index(self.blocks, layer, self.name)

    def trainable_parameters(self, n_top_blocks):
        """Names of the trunk parameters in the top ``n_top_blocks`` blocks."""
        return block_params(top_blocks(self.blocks, n_top_blocks))
