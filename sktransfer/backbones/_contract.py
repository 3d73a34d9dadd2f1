"""The backbone contract: what an estimator needs to feed, read and freeze a trunk."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def top_blocks(blocks, n):
    """The top ``n`` of ``blocks`` (ordered from input to output); none for ``n=0``.

    Examples
    --------
    >>> from sktransfer.backbones._contract import top_blocks
    >>> top_blocks(["stem", "layer1", "layer2"], 2), top_blocks(["stem", "layer1"], 0)
    (['layer1', 'layer2'], [])
    """
    return list(blocks[len(blocks) - n :]) if n else []


def block_params(blocks):
    """Names of the trunk parameters that belong to ``blocks``."""
    return [name for block in blocks for name in block.params]


def mid_blocks(n_blocks):
    """The mid-level blocks of a backbone with ``n_blocks`` blocks (three around the middle).

    Examples
    --------
    >>> from sktransfer.backbones._contract import mid_blocks
    >>> mid_blocks(8)
    [3, 4, 5]
    >>> mid_blocks(3)
    [1]
    """
    n = int(n_blocks)
    return sorted({max(1, n // 2 - 1), n // 2, max(1, min(n - 2, n // 2 + 1))} & set(range(n)))


@dataclass(frozen=True)
class Block:
    """One freezable unit of a backbone.

    Parameters
    ----------
    name : str
        A readable name, e.g. ``"layer3"``; usable as ``layer=`` in
        :class:`~sktransfer.PretrainedFeatureExtractor`.
    params : tuple of str
        Names of the trunk parameters that belong to this block.
    output : str
        Name of the trunk sub-module whose output is this block's output.
    channels_last : bool, default=False
        True when that output is ``(N, h, w, D)`` rather than ``(N, D, h, w)``.

    Examples
    --------
    >>> from sktransfer.backbones import Block
    >>> Block("layer1", ("layer1.0.conv1.weight",), "layer1").name
    'layer1'
    """

    name: str
    params: tuple
    output: str
    channels_last: bool = False


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

    def block_index(self, layer):
        """Return the index of ``layer`` (an int, negative allowed, or a block name)."""
        n = len(self.blocks)
        if isinstance(layer, str):
            names = [b.name for b in self.blocks]
            if layer not in names:
                raise ValueError(f"layer={layer!r} is not a block of {self.name}; blocks are {names}.")
            return names.index(layer)
        if isinstance(layer, bool) or not isinstance(layer, int):
            raise TypeError(f"layer must be an int or a block name; got {layer!r}.")
        if not -n <= layer < n:
            raise ValueError(f"layer={layer} is out of range for {self.name}, which has {n} blocks (-{n}..{n - 1}).")
        return layer % n

    def trainable_parameters(self, n_top_blocks):
        """Names of the trunk parameters in the top ``n_top_blocks`` blocks."""
        return block_params(top_blocks(self.blocks, n_top_blocks))
