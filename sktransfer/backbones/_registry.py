"""The registry of named backbones: register, get and list them."""

from __future__ import annotations

import copy
import fnmatch

from torch import nn

from ._contract import Backbone


_BUILDERS = {}
_PREFIXES = {}
_MODALITIES = {}


def register_backbone(name, builder=None, *, prefix=False, modality="image"):
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
    modality : str, default="image"
        What the backbones built take (:func:`backbone_modality`); the
        estimators ask the input layer for that modality.

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
        return lambda fn: register_backbone(name, fn, prefix=prefix, modality=modality)
    (_PREFIXES if prefix else _BUILDERS)[name] = builder
    _MODALITIES[name] = modality
    return builder


def get_backbone(name, weights="default"):
    """Build the backbone ``name`` with its weights.

    Parameters
    ----------
    name : str, Backbone, torch.nn.Module or fitted SelfSupervisedPretrainer
        A registered name (see :func:`list_backbones`), ``"timm/<model>"``,
        ``"torchvision/<model>"``, a ready :class:`Backbone`, any
        ``nn.Module`` mapping images to features (wrapped with
        :meth:`Backbone.from_module`), or an object with a ``to_backbone()``
        method, such as a fitted :class:`~sktransfer.SelfSupervisedPretrainer`
        (its weights are its own: ``weights`` does not apply).
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
    if callable(getattr(name, "to_backbone", None)) and not isinstance(name, type):
        return name.to_backbone()  # a fresh copy each call (a fitted SelfSupervisedPretrainer)
    if not isinstance(name, str):
        raise TypeError("backbone must be a name, a Backbone, an nn.Module or a fitted SelfSupervisedPretrainer; "
                        f"got {type(name).__name__}.")
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


def build_backbone(backbone, weights):
    """A fresh backbone for an estimator's fit; a user's module is deep-copied, so theirs is never changed.

    Examples
    --------
    >>> from torch import nn
    >>> from sktransfer.backbones import build_backbone
    >>> mine = nn.Sequential(nn.Conv2d(3, 4, 3))
    >>> build_backbone(mine, None).trunk is mine
    False
    """
    if isinstance(backbone, (Backbone, nn.Module)):
        backbone = copy.deepcopy(backbone)
    return get_backbone(backbone, weights)


def backbone_modality(backbone):
    """What ``backbone`` (a name, a :class:`Backbone` or a module) takes as input, without building it.

    Examples
    --------
    >>> from sktransfer.backbones import backbone_modality
    >>> backbone_modality("efficientnet_lite0"), backbone_modality("timm/resnet18")
    ('image', 'image')
    """
    if isinstance(backbone, Backbone):
        return backbone.modality
    if isinstance(backbone, str):
        source = backbone.split("/", 1)[0] if "/" in backbone else backbone
        return _MODALITIES.get(backbone, _MODALITIES.get(source, "image"))
    return "image"  # a plain module maps images to features (Backbone.from_module)


def text_tokenizer_source(name):
    """``(tokenizer folder or hub id, max_length or None)`` of the registered text backbone ``name``."""
    builder = _BUILDERS.get(name)
    if builder is None and isinstance(name, str) and "/" in name:
        builder = _PREFIXES.get(name.split("/", 1)[0])
    if builder is None or not hasattr(builder, "tokenizer_source"):
        raise ValueError(f"{name!r} is not a text backbone; text backbones: "
                         f"{sorted(n for n, m in _MODALITIES.items() if m == 'text')}.")
    return builder.tokenizer_source(name)
