"""Building a :class:`Backbone`: blocks from parameter groups, feature width, any ``nn.Module``."""

from __future__ import annotations

import torch

from ._blocks import Block

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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


def backbone_fields_from_module(module, *, blocks, feature_dim, input_size, mean, std, in_chans, name,
                                channels_last_output):
    """The fields of a :class:`Backbone` wrapping ``module`` (see :meth:`Backbone.from_module`)."""
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
    return dict(
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

