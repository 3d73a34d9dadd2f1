"""Blocks: the freezable units of a backbone, and the one rule that turns ``layer=`` into block indices."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Block", "block_index", "block_indices", "block_params", "top_blocks"]


def top_blocks(blocks, n):
    """The top ``n`` of ``blocks`` (ordered from input to output); none for ``n=0``.

    Examples
    --------
    >>> from sktransfer.backbones import top_blocks
    >>> top_blocks(["stem", "layer1", "layer2"], 2), top_blocks(["stem", "layer1"], 0)
    (['layer1', 'layer2'], [])
    """
    return list(blocks[len(blocks) - n :]) if n else []


def block_params(blocks):
    """Names of the trunk parameters that belong to ``blocks``."""
    return [name for block in blocks for name in block.params]


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



def block_index(blocks, layer, owner):
    """The index of ``layer`` (an int, negative allowed, or a block name) among ``blocks``.

    ``owner`` names the blocks' network in messages (e.g. a backbone's name).
    This is the one rule for ``layer=`` of the extractor, the fine-tuned
    estimators and the explanations.

    Examples
    --------
    >>> from sktransfer.backbones import Block, block_index
    >>> blocks = [Block("stem", (), "stem"), Block("layer1", (), "layer1"), Block("layer2", (), "layer2")]
    >>> block_index(blocks, "layer1", "resnet"), block_index(blocks, -1, "resnet")
    (1, 2)
    """
    n = len(blocks)
    if isinstance(layer, str):
        names = [b.name for b in blocks]
        if layer not in names:
            raise ValueError(f"layer={layer!r} is not a block of {owner}; blocks are {names}.")
        return names.index(layer)
    if isinstance(layer, bool) or not isinstance(layer, int):
        raise TypeError(f"layer must be an int block index or a block name; got {layer!r}.")
    if not -n <= layer < n:
        raise ValueError(f"layer={layer} is out of range for {owner}, which has {n} blocks (-{n}..{n - 1}).")
    return layer % n


def block_indices(blocks, layer, owner):
    """``layer=`` (None, one block or a list of blocks) as None (the final features) or a list of indices.

    Examples
    --------
    >>> from sktransfer.backbones import Block, block_indices
    >>> blocks = [Block("stem", (), "stem"), Block("layer1", (), "layer1")]
    >>> block_indices(blocks, None, "net"), block_indices(blocks, ["layer1", 0], "net")
    (None, [1, 0])
    """
    if layer is None:
        return None
    layers = list(layer) if isinstance(layer, (list, tuple)) else [layer]
    if not layers:
        raise ValueError("layer is an empty list; pass None for the final features, 'auto', or a list of blocks.")
    return [block_index(blocks, one, owner) for one in layers]
