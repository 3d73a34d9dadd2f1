"""The backbone contract and the registry of named backbones."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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
        chosen = self.blocks[len(self.blocks) - n_top_blocks :] if n_top_blocks else []
        return [p for block in chosen for p in block.params]


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


# --------------------------------------------------------------------------- registry

_BUILDERS = {}
_PREFIXES = {}


def register_backbone(name, builder=None, *, prefix=False):
    """Register ``builder(weights=..., name=...) -> Backbone`` under ``name``.

    Usable as a decorator. With ``prefix=True``, ``name`` is a source such as
    ``"timm"`` and the builder handles every ``"timm/<model>"``.

    Parameters
    ----------
    name : str
        Backbone name (or source prefix).
    builder : callable, default=None
        Called as ``builder(name=..., weights=...)``; returns a :class:`Backbone`.
    prefix : bool, default=False
        Whether ``name`` is a source prefix.

    Returns
    -------
    builder : callable
        The builder, unchanged (so this works as a decorator).

    Examples
    --------
    >>> from torch import nn
    >>> from sktransfer.backbones import Backbone, register_backbone, get_backbone
    >>> def tiny(name, weights):
    ...     trunk = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    ...     return Backbone.from_module(trunk, name=name, input_size=(32, 32))
    >>> _ = register_backbone("my_tiny", tiny)
    >>> get_backbone("my_tiny").feature_dim
    4
    """
    if builder is None:
        return lambda fn: register_backbone(name, fn, prefix=prefix)
    (_PREFIXES if prefix else _BUILDERS)[name] = builder
    return builder


def get_backbone(name, weights="default"):
    """Build the backbone ``name`` with its weights.

    Parameters
    ----------
    name : str, Backbone or torch.nn.Module
        A registered name (see :func:`list_backbones`), ``"timm/<model>"``,
        ``"torchvision/<model>"``, a ready :class:`Backbone`, or any
        ``nn.Module`` mapping images to features (wrapped with
        :meth:`Backbone.from_module`).
    weights : str or None, default="default"
        ``"default"`` for the pretrained weights, None for random
        initialisation; torchvision also takes a weights enum name such as
        ``"IMAGENET1K_V2"``.

    Returns
    -------
    backbone : Backbone
        A fresh object each call: nothing is shared between calls.

    Raises
    ------
    ValueError
        Unknown name.
    sktransfer.backbones.WeightsUnavailableError
        Hub weights are neither cached nor downloadable.

    Examples
    --------
    >>> from sktransfer.backbones import get_backbone
    >>> bb = get_backbone("efficientnet_lite0", weights=None)
    >>> bb.feature_dim, bb.input_size
    (1280, (224, 224))
    """
    if isinstance(name, Backbone):
        return name
    if isinstance(name, nn.Module):
        return Backbone.from_module(name)
    if not isinstance(name, str):
        raise TypeError(f"backbone must be a name, a Backbone or an nn.Module; got {type(name).__name__}.")
    if name in _BUILDERS:
        return _BUILDERS[name](name=name, weights=weights)
    source, _, model = name.partition("/")
    if model and source in _PREFIXES:
        return _PREFIXES[source](name=name, weights=weights)
    close = fnmatch.filter(list(_BUILDERS), f"*{name}*")[:5]
    hint = f" Close matches: {close}." if close else ""
    raise ValueError(
        f"Unknown backbone {name!r}.{hint} Use one of {sorted(_BUILDERS)}, "
        "'timm/<model>' or 'torchvision/<model>'; list_backbones() lists them."
    )


def list_backbones(pattern=None):
    """List backbone names, optionally filtered by a shell-style pattern.

    Without a pattern, the registered names (offline-ready ones first) and the
    source prefixes. With a pattern such as ``"timm/resnet*"`` or
    ``"torchvision/*"``, the matching models of that source too.

    Parameters
    ----------
    pattern : str, default=None
        ``fnmatch`` pattern.

    Returns
    -------
    names : list of str

    Examples
    --------
    >>> from sktransfer.backbones import list_backbones
    >>> "efficientnet_lite0" in list_backbones()
    True
    >>> "torchvision/resnet50" in list_backbones("torchvision/resnet*")
    True
    """
    named = [n for n, build in _BUILDERS.items() if getattr(build, "available", lambda: True)()]
    if pattern is None:
        return named + [f"{p}/<model>" for p in _PREFIXES]
    source = pattern.split("/", 1)[0] if "/" in pattern else None
    if source in _PREFIXES and hasattr(_PREFIXES[source], "list_models"):
        named += [f"{source}/{m}" for m in _PREFIXES[source].list_models()]
    return fnmatch.filter(named, pattern)


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
