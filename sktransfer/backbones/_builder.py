"""Building a :class:`Backbone`: blocks from parameter groups, feature width, any ``nn.Module``."""

from __future__ import annotations

import torch

from ._contract import IMAGENET_MEAN, IMAGENET_STD, Backbone, Block


def blocks_from_groups(groups, trunk, prefix="", channels_last=False):
    """Build :class:`Block` objects from ordered ``(name, param names[, output])`` groups.

    Without an explicit output, a block's output module is the deepest module
    below ``prefix`` that holds all of its parameters (``layer1`` for
    ``layer1.0.conv1.weight`` and ``layer1.1.bn2.bias``), else the owner of its
    last parameter. A name of None becomes the output's name.
    """
    modules = dict(trunk.named_modules())
    blocks = []
    for group in groups:
        name, params = group[0], group[1]
        output = group[2] if len(group) > 2 else None
        if output is None:
            owners = [p.rsplit(".", 1)[0] if "." in p else "" for p in params]
            common = _common_prefix(owners)
            deep_enough = common and common in modules and len(common) > len(prefix.rstrip("."))
            output = common if deep_enough else owners[-1]
        blocks.append(Block(name or (output[len(prefix):] or "stem"), tuple(params), output, channels_last))
    return blocks


def _common_prefix(names):
    parts = [n.split(".") for n in names]
    common = []
    for level in zip(*parts):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    return ".".join(common)


def infer_feature_dim(trunk, in_chans, input_size, channels_last_output=False):
    """Run one zero image through ``trunk`` to learn its output channels."""
    was_training = trunk.training
    trunk.eval()
    try:
        with torch.no_grad():
            out = trunk(torch.zeros(1, in_chans, *input_size))
    finally:
        trunk.train(was_training)
    if out.ndim == 4 and not channels_last_output:
        return int(out.shape[1])
    return int(out.shape[-1])


def _from_module(cls, module, *, blocks=None, feature_dim=None, input_size=(224, 224), mean=IMAGENET_MEAN,
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
    named = dict(module.named_modules())
    if blocks is None:
        blocks = [n for n, child in module.named_children() if any(True for _ in child.parameters())]
    groups = []
    for block in blocks:
        if block not in named:
            raise ValueError(f"blocks names {block!r}, which is not a sub-module; sub-modules: {list(named)[1:12]}...")
        params = [f"{block}.{p}" for p, _ in named[block].named_parameters()]
        groups.append((block, params))
    if feature_dim is None:
        feature_dim = infer_feature_dim(module, in_chans, tuple(input_size), channels_last_output)
    return cls(
        name=name or type(module).__name__,
        trunk=module,
        blocks=[Block(n, tuple(p), n) for n, p in groups],
        feature_dim=int(feature_dim),
        input_size=tuple(input_size),
        mean=tuple(mean),
        std=tuple(std),
        in_chans=in_chans,
        weights="custom",
        channels_last_output=channels_last_output,
    )


Backbone.from_module = classmethod(_from_module)
